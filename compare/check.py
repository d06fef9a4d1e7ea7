r"""Check a backprop you wrote yourself: ``python -m compare.check FILE.py:NAME`` (or ``MODULE:NAME``).

``NAME()`` builds your model, in either of two common shapes:

- module style, as ``manual/``: ``forward(X) -> y_pred``, ``backward(dy_pred)`` that fills the
  gradients, and ``named_parameters()`` giving objects with ``.data`` and ``.grad``;
- cs231n style: a dict ``params`` (``W1, b1, W2, b2, ...``) and ``loss(X, y) -> (loss, grads)`` with
  ``grads`` keyed as ``params`` (and, as cs231n has it, ``loss(X)`` giving the outputs).

The layer sizes come from the parameters' shapes, in order, as weight and bias pairs; weights may be
``(out, in)`` (torch's, ``x @ W.T + b``) or ``(in, out)`` (``x @ W + b``). The activations and the
loss are this project's options. A torch model gets identical weights, and on several batches (the
article's data, random weights, saturated units) your outputs, loss and every gradient are compared
with autograd's in float64. From the output layer back, the first wrong parameter gradient is
named, with finite differences as a third opinion and the mistake it looks like.

From Python: ``from compare.check import check``; ``check(model, activations=..., loss=...)`` returns
the verdict; print it.
Exit status: 0 when every gradient is right, 1 when one is wrong, 2 for a model that cannot be
loaded or checked. ``compare.learner`` reads your model, ``compare.diagnosis`` names the mistake.
"""
import copy
import math
import os
import re
import sysconfig
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

import manual
import torch_impl
from manual.train import LOSSES, labels, listed, typed

from . import cli
from .core.data import load_data
from .core.formulas import loss_hints
from .core.pair import TOLERANCES, tolerance_ratio
from .diagnosis import L2_FORMS, accumulated_hint, agree, diagnose, factor_hint, fits, l2_scale, l2_term
from .files import json_writer, save_outputs
from .learner import Learner, Uncheckable, layers_of, load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = tuple(os.path.join(ROOT, package) + os.sep for package in ("compare", "manual", "torch_impl"))
# each batch: its weights (the model's own, random, or four times larger: saturated) and its rows (None:
# --batch-size; "other": another number of several rows, other_rows)
BATCHES = (("the article's data", 0, None), ("random weights", 1, "other"), ("saturated units", 2, 1))


@dataclass
class Verdict:
    r"""What ``check`` found; ``print(verdict)`` shows the report, ``verdict.correct`` the answer."""
    model: str
    rows: list = field(default_factory=list)         # per batch: which of outputs, loss, gradients agree
    first_wrong: dict = None                          # the first wrong quantity, from the output back

    @property
    def correct(self):
        return self.first_wrong is None

    def to_json(self):
        return {"model": self.model, "correct": self.correct, "batches": self.rows, "first_wrong": self.first_wrong}

    def __str__(self):
        columns = [("outputs", 9), ("loss", 7), ("gradients", 11), ("update", 8)]
        columns = [(key, width) for key, width in columns if any(key in row for row in self.rows)]
        lines = [f"Checked {self.model}", "", f"  {'batch':32}" + "".join(f"{key:>{w}}" for key, w in columns)]
        lines += [f"  {row['batch']:32}" + "".join(f"{row.get(key, '-'):>{w}}" for key, w in columns)
                  for row in self.rows]
        if self.correct:
            checked = [key for key, _ in columns if any(row.get(key, "-") != "-" for row in self.rows)]
            listed = " and ".join([", ".join(checked[:-1]), checked[-1]] if len(checked) > 1 else checked)
            return "\n".join(lines + ["", f"CORRECT: {listed} equal autograd's on all {len(self.rows)} batches."])
        f = self.first_wrong
        lines += ["", f"WRONG: {f['what']} on {f['batch']}"]
        if "shape" in f:
            lines.append(f"  yours has shape {tuple(f['shape'])}, autograd's {tuple(f['expected_shape'])}")
        elif f.get("yours") is not None:
            fd = f", finite differences {f['fd']:.9g}" if "fd" in f else ""
            lines.append(f"  element {f['element']}: yours {f['yours']:.9g}, autograd {f['autograd']:.9g}{fd}")
        lines.append(f"  likely mistake: {f['hint']}")
        return "\n".join(lines)


@dataclass
class Network:
    r"""What the checker inferred and was told about your model."""
    sizes: list                # units per layer, the inputs first
    transposed: bool           # True for (in, out) weights
    activations: tuple         # per layer, the output's last
    loss: str
    dtype: str = "float64"     # your arrays': float32 ones are held to float32's tolerance
    shapes: list = None        # your arrays' shapes: a bias may be (n,), (1, n) or (n, 1)
    l2: float = 0.0            # your loss's L2 term on the weights, in one of the forms of L2_FORMS
    form: str = "reg"          # the form your loss matched
    columns: bool = False      # deeplearning.ai's layout: the examples as columns
    slack: dict = field(default_factory=dict)   # per quantity of the batch, float32 rounding's (float32_slack)

    def agree(self, mine, theirs, which):
        r"""``mine`` equals ``theirs`` to your dtype's tolerance and the rounding slack of quantity ``which``
        (``"outputs"``, ``"loss"``, ``"dy"`` or a parameter's index)."""
        return agree(mine, theirs, self.dtype, self.slack.get(which, 0.0))

    def to_torch(self, arrays):
        r"""Your weights and biases as torch's: weights ``(out, in)``, biases ``(n,)``."""
        return [torch.tensor(a.T if self.transposed else a) if k % 2 == 0 else torch.tensor(a.reshape(-1))
                for k, a in enumerate(arrays)]

    def from_torch(self, tensors):
        r"""Torch's weights and biases (or their gradients) in your layout and shapes."""
        return [(t.numpy().T if self.transposed else t.numpy()) if k % 2 == 0 else t.numpy().reshape(shape)
                for k, (t, shape) in enumerate(zip(tensors, self.shapes, strict=True))]


def check(model, activations=("tanh", "sigmoid"), loss="mse", output_activation=None, seed=1, batch_size=15,
          criterion=None, optimizer=None, l2=None):
    r"""Check ``model``'s backprop against autograd (see the module's docstring); return a ``Verdict``.

    A module-style model may bring its own loss, ``criterion`` (``criterion(y_pred, y)``, then
    ``criterion.backward()`` gives ``dL/dy_pred``), and its own optimizer, built on its parameters:
    after the gradients, ``optimizer.step()`` is checked against torch's optimizer of its kind (SGD, with
    momentum, dampening, Nesterov and weight decay; Adam; AdamW) and hyper-parameters, read from it.

    Raises ``ValueError`` (one line) for a model that cannot be checked: parameters that do not chain,
    activations that do not pair with the hidden layers, gradients of another shape.
    """
    activations = listed(str)(activations) if isinstance(activations, str) else tuple(activations)   # "tanh,relu"
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r}: one of {', '.join(LOSSES)}")
    unknown = [name for name in (*activations, output_activation or "tanh") if name not in manual.ACTIVATIONS]
    if unknown:
        raise ValueError(f"activation {unknown[0]!r}: one of {', '.join(manual.ACTIVATIONS)}")
    if l2 is not None and not 0 <= l2 < math.inf:
        raise ValueError(f"l2 {l2}: must be a finite number >= 0")
    X_all, y_all, _, _ = load_data(seed=seed)
    if not 1 <= batch_size <= len(X_all):
        raise ValueError(f"--batch-size {batch_size}: must be an integer in [1, {len(X_all)}], the article's "
                         "training points the checker's batches are drawn from")
    with yours():
        learner = Learner(model, criterion)
        if (optimizer is not None or criterion is not None) and learner.style == "cs231n":
            raise ValueError("an optimizer or a criterion is checked on a module-style model: a cs231n-style "
                             "loss(X, y) computes its own loss and updates nothing")
        given = [np.array(a, np.float64) for a in learner.arrays()]        # your own weights
        if not all(np.isfinite(a).all() for a in given):
            raise ValueError("your model's own weights hold NaN or inf: "
                             + ", ".join(name for name, a in zip(learner.names, given, strict=True)
                                         if not np.isfinite(a).all()))
        net, twin, described = network(learner, activations, loss, output_activation, l2,
                                       (X_all[:batch_size], labels(y_all[:batch_size], loss), seed))
        pair = None if optimizer is None else (optimizer, torch_optimizer(optimizer, twin.parameters()))
        verdict = Verdict(described)
        for weights, X, y, batch in batches(given, (X_all, y_all), loss, batch_size, seed):
            checked(verdict, *compare_batch(learner, twin, net, weights, X, y, batch, pair))
        learner.set(given)
    return verdict


@contextmanager
def yours():
    r"""Your model's code raising (or calling ``sys.exit``) outside a batch's calls, as one line saying where: the
    model cannot be checked (``Uncheckable``). Inside a batch's calls, the batch's row says it instead."""
    try:
        yield
    except (Exception, SystemExit) as exc:
        if isinstance(exc, Uncheckable) or raised_at(exc) == NO_FRAME:
            raise
        raise Uncheckable(f"your model {raised(exc)}") from None


def network(learner, activations, loss, output_activation, l2, probe):
    r"""The ``Network`` your parameters chain into, with ``activations`` and ``loss`` (the reading of square
    weights under which ``probe = (X, y, seed)`` gives your outputs), the torch twin, and the verdict's title."""
    fits = layers_of(learner, in_features=2)
    sizes = next(iter(fits.values()))
    hidden = sizes[1:-1]
    if len(activations) != len(hidden):
        raise ValueError(f"the model has {len(hidden)} hidden layer(s) ({'-'.join(map(str, sizes))}) but --activations "
                         f"{typed(activations)} names {len(activations)}: give one per hidden layer, e.g. "
                         f"--activations {typed(('tanh',) * len(hidden))}")
    if sizes[-1] != LOSSES[loss][2]:
        takes = [name for name, (_, _, outputs) in LOSSES.items() if outputs == sizes[-1]]
        raise ValueError(f"the model has {sizes[-1]} output(s); --loss {loss} takes {LOSSES[loss][2]} "
                         f"(--loss {' or '.join(takes) or 'none of them'} takes {sizes[-1]})")
    held = learner.arrays()
    dtype = "float32" if all(a.dtype == np.float32 for a in held) else "float64"
    shapes = [np.shape(a) for a in held]
    learner.columns = any(len(shape) == 2 and shape[1] == 1 < shape[0] for shape in shapes[1::2])   # b (n, 1)
    l2 = declared_l2(learner) if l2 is None else l2
    nets = [Network(sizes, transposed, (*activations, output_activation or LOSSES[loss][1]), loss, dtype, shapes, l2,
                    columns=learner.columns)
            for transposed, sizes in sorted(fits.items(), key=lambda fit: fit[0] != (learner.style == "cs231n"))]
    twin = torch_impl.NeuralNetwork(hidden, activations, nets[0].activations[-1], torch.float64,
                                    out_features=sizes[-1])
    X, y, seed = probe
    unlike = [np.random.default_rng(seed).uniform(-1, 1, shape) for shape in shapes]   # yours may be symmetric
    net = matching(learner, nets, twin, unlike, X, y)
    return net, twin, title(learner, net, len(nets) == 2)


def declared_l2(learner):
    r"""The L2 strength of a cs231n-style loss: the model's ``reg`` (cs231n's) or ``lambd`` (deeplearning.ai's), else
    0. A module-style model's loss is not its own (it is given dL/dy_pred): ``--l2`` declares an L2 term there."""
    value = (getattr(learner.model, "reg", None) or getattr(learner.model, "lambd", None)
             if learner.style == "cs231n" else None) or 0.0
    if not isinstance(value, (int, float, np.number)) or not 0 <= value < math.inf:
        raise ValueError(f"your model's reg (or lambd) is {value!r}: the L2 term's strength must be a finite number "
                         ">= 0")
    return float(value)


def title(learner, net, square):
    r"""The verdict's first line: what the checker read of your model, and how it holds it."""
    sizes = net.sizes
    read = "; square weights read so because your outputs match that reading" if square else ""
    columns = ", examples as columns (deeplearning.ai's layout)" if learner.columns else ""
    return (f"{learner.style}-style {type(learner.model).__name__}: {'-'.join(map(str, sizes))}, "
            f"{', '.join(net.activations[:-1]) or 'no hidden layer'}, {net.activations[-1]} output, "
            f"{LOSSES[net.loss][0].__name__}, weights {'(in, out)' if net.transposed else '(out, in)'}{read}{columns}, "
            f"{net.dtype}" + (f", L2 term {net.l2:g} * sum(W^2), half of it, or over 2m" if net.l2 else "")
            + (" (held to float32's tolerance, atol 1e-06 and rtol 0.0001, plus 4 times how far torch's own float32 "
               "computation lands from its float64 one)" if net.dtype == "float32" else ""))


def batches(given, data, loss, batch_size, seed):
    r"""``(weights, X, y, name)`` of each batch checked: ``BATCHES`` from the article's ``data``, then the origin
    with biases 0, where every z is exactly 0 and relu-like derivatives take their value at the kink."""
    X_all, y_all = data
    for name, offset, rows in BATCHES:
        rng = np.random.default_rng(seed + offset)
        weights = given if offset == 0 else [rng.uniform(-1, 1, a.shape) * (4 if offset == 2 else 1) for a in given]
        rows = {None: batch_size, "other": other_rows(batch_size, len(X_all))}.get(rows, rows)
        idx = rng.choice(len(X_all), rows, replace=False)
        yield weights, X_all[idx], labels(y_all[idx], loss), f"{name} ({rows} row{'s' * (rows > 1)})"
    at_kinks = [np.zeros_like(a) if k % 2 else a for k, a in enumerate(given)]
    yield at_kinks, np.zeros((1, 2)), labels(np.ones((1, 1)), loss), "the origin, biases 0 (1 row)"


def other_rows(batch_size, points):
    r"""The rows of a batch of another size than ``batch_size``, and of several rows: the last, smaller batch of an
    epoch of ``points`` (10 of the article's 250 for batches of 15), else 10 or 15. A gradient right on batches of
    ``batch_size`` rows only (a batch size written into the code; with 1 row, a sum over the batch forgotten) is
    wrong there."""
    return next(rows for rows in (points % batch_size, 10, 15) if rows > 1 and rows != batch_size)


def checked(verdict, row, first):
    r"""Adds a batch's row to the verdict; its first wrong quantity, if it is the first found."""
    verdict.rows.append(row)
    verdict.first_wrong = verdict.first_wrong or first


def matching(learner, nets, twin, weights, X, y):
    r"""Of the readings ``nets`` of your ``weights`` (two where they are square), the one under which the twin, from
    them, computes your outputs (or your loss, if you give no outputs); the first if none does."""
    return next((net for net in nets if len(nets) > 1 and computes_yours(learner, twin, net, weights, X, y)), nets[0])


def computes_yours(learner, twin, net, weights, X, y):
    y_pred, value, dy_pred, _ = autograd(twin, net, weights, X, y)
    learner.set(weights)
    try:
        mine_pred, mine_loss, _, _ = learner.gradients(X.astype(net.dtype), y, dy_pred.astype(net.dtype))
    except (Exception, SystemExit):                # your model's own failure shows on the batches
        return False
    return same_outputs(mine_pred, y_pred, net) if mine_pred is not None else net.agree(mine_loss, value, "loss")


def autograd(twin, net, weights, X, y, fused=False, form="reg"):
    r"""The twin's outputs, loss, dL/dy_pred and parameter gradients (in your layout) from ``weights``. With
    ``fused``, BCE's loss and gradients come from the output layer's logit (``BCEWithLogitsLoss``): the exact
    function, where ``BCELoss`` on a saturated sigmoid clamps. ``net.l2`` adds ``l2 sum(W^2)`` over the
    weights, scaled as ``form`` says (``L2_FORMS``)."""
    with torch.no_grad():
        for q, w in zip(twin.parameters(), net.to_torch(weights), strict=True):
            q.copy_(w)
    twin.zero_grad()
    dtype = next(twin.parameters()).dtype                   # float64, or float32 for a float32 model
    X, y = torch.tensor(X, dtype=dtype), torch.tensor(y)
    y = y.to(dtype) if y.is_floating_point() else y        # class indices stay integers
    *layers, output = twin.children()
    z = torch.nn.Sequential(*layers)(X)
    y_pred = output(z)
    y_pred.retain_grad()
    if fused:
        value = torch.nn.BCEWithLogitsLoss()(z, y)
        dy_pred = torch.nn.BCELoss()(y_pred, y)                         # dL/dy_pred as BCELoss's backward has it
        dy_pred.backward(retain_graph=True)
        twin.zero_grad()
    else:
        value = torch_impl.train.LOSSES[net.loss][0]()(y_pred, y)
    if net.l2:
        value = value + l2_scale(form, len(X)) * net.l2 * sum((q ** 2).sum() for q in list(twin.parameters())[0::2])
    value.backward()
    return y_pred.detach().numpy(), value.item(), y_pred.grad.numpy(), net.from_torch(q.grad for q in twin.parameters())


def references(twin, net, weights, X, y):
    r"""The twin's answers for the batch, for each way of writing the loss you may have meant: for BCE,
    ``BCELoss``'s and the exact function's from the logit; with an L2 term, each of ``L2_FORMS``."""
    return [autograd(twin, net, weights, X, y, fused, form) for fused in (False, True)[:1 + (net.loss == "bce")]
            for form in (L2_FORMS if net.l2 else ("reg",))]


def float32_slack(twin, net, weights, X, y, reference):
    r"""For a float32 model, how far float32 rounding alone may move each quantity of ``reference`` (the twin's
    answer in float64): 4 times how far torch's own float32 computation lands from it. It is large where the
    computation loses digits in any float32 code (a saturated tanh's ``1 - a^2``); empty for float64."""
    if net.dtype != "float32":
        return {}
    in32 = autograd(copy.deepcopy(twin).float(), net, weights, X, y)
    apart = [4 * np.abs(np.asarray(a, np.float64) - b) for a, b in zip(in32[:3], reference[:3], strict=True)]
    apart += [4 * np.abs(a.astype(np.float64) - b) for a, b in zip(in32[3], reference[3], strict=True)]
    return dict(zip(("outputs", "loss", "dy", *range(len(weights))), apart, strict=True))


def chosen_reference(alternatives, yours, net):
    r"""The index of the twin's answer your first call matches; else of the one whose loss yours equals; else 0."""
    mine_loss = yours[1]
    matched = [i for i, answer in enumerate(alternatives) if matches(answer, yours, net)]
    by_loss = [i for i, answer in enumerate(alternatives) if mine_loss is not None and net.agree(mine_loss, answer[1],
                                                                                                    "loss")]
    return (matched or by_loss or [0])[0]


def matches(reference, yours, net):
    r"""Whether your loss (if you give one) and every gradient of your first call equal ``reference``'s."""
    _, value, _, expected = reference
    _, mine_loss, mine, _ = yours
    return ((mine_loss is None or net.agree(mine_loss, value, "loss"))
            and all(net.agree(g, e, k) for k, (g, e) in enumerate(zip(mine, expected, strict=True))))


def same_outputs(mine, theirs, net):
    r"""Your outputs equal the twin's, read in its shape where yours hold as many numbers (``(B,)`` for ``(B, 1)``)."""
    mine = np.asarray(mine)
    return net.agree(mine.reshape(theirs.shape) if mine.size == theirs.size else mine, theirs, "outputs")


def from_the_output(n):
    r"""Parameter indices from the output layer back, each layer's weight before its bias."""
    return sorted(range(n), key=lambda k: (-(k // 2), k % 2))


def ok(flag):
    return "ok" if flag else "WRONG"


def compare_batch(learner, twin, net, weights, X, y, batch, optimizers=None):
    r"""One batch, your model twice from the same weights and the twin once (then, given ``optimizers``, yours
    and torch's, one step of each): the row of the table, and the first wrong quantity (None if all agree)."""
    learner.set(weights)
    weights = [np.array(a, np.float64) for a in learner.arrays()]       # as your arrays hold them: float32 rounds
    alternatives = references(twin, net, weights, X, y)
    net.slack = float32_slack(twin, net, weights, X, y, alternatives[0])
    y_pred, value, dy_pred, expected = alternatives[0]
    try:
        calls = []
        for _ in range(2):                         # a second call shows gradients that accumulate
            learner.set(weights)
            calls.append(learner.gradients(X.astype(net.dtype), y, dy_pred.astype(net.dtype)))
    except Uncheckable:
        raise
    except (Exception, SystemExit) as exc:        # a bug in your code: where it was raised, and what it says
        if raised_at(exc) == NO_FRAME:            # raised before any line of yours ran: how the model is called
            raise Uncheckable(f"calling your model raised {type(exc).__name__} before any line of yours ran ({exc}): "
                              "it must take the calls docs/tools/check.md lists") from None
        return ({"batch": batch, "outputs": "-", "loss": "-", "gradients": "raised"},
                {"batch": batch, "what": f"your model {raised(exc)}", "hint": raised_hint(exc)})
    check_shapes(learner, net, calls[0][2], expected, X, y)
    calls = [(pred, value, fitted(gradients, expected), dy) for pred, value, gradients, dy in calls]
    (mine_pred, mine_loss, mine, mine_dy), (_, _, again, _) = calls
    chosen = chosen_reference(alternatives, calls[0], net)
    net.form = L2_FORMS[chosen % len(L2_FORMS)] if net.l2 else "reg"     # the L2 form your loss matched
    y_pred, value, dy_pred, expected = alternatives[chosen]
    row = {"batch": batch, "outputs": "-" if mine_pred is None else ok(same_outputs(mine_pred, y_pred, net)),
           "loss": "-" if mine_loss is None else ok(net.agree(mine_loss, value, "loss"))}
    # the first call's wrong gradients, then the second's
    order = from_the_output(len(mine))
    wrong = [(k, gradients) for gradients in (mine, again) for k in order
             if not net.agree(gradients[k], expected[k], k)]
    row["gradients"] = ok(not wrong and (mine_dy is None or net.agree(mine_dy, dy_pred, "dy")))
    first = first_wrong(learner, twin, net, (weights, X, y, batch), row, calls[0], wrong,
                        (value, dy_pred, expected))
    if first or optimizers is None:
        return row, first
    return row, check_step(learner, twin, net, optimizers, row, (batch, X))


def check_shapes(learner, net, mine, expected, X, y):
    r"""Refuse a gradient of a shape no classic mistake gives (a weight's: transposed, another layer's input; a
    bias's: not summed over the batch, summed over every axis or the units): it cannot be compared."""
    batch = len(X)
    for k, (name, g, e) in enumerate(zip(learner.names, mine, expected, strict=True)):
        if k % 2:
            known = np.size(g) in (e.size, batch * e.size, 1, batch)
        else:
            inputs = [(w, e.shape[1 - net.transposed]) if net.transposed else (e.shape[0], w) for w in net.sizes[:-1]]
            known = np.shape(g) in (e.shape, e.shape[::-1], *inputs)
        if not known:
            given = (X.T, y.T) if learner.columns else (X, y)
            raise ValueError(f"the gradient of {name} has shape {np.shape(g)}, not {e.shape} like {name} (your model "
                             f"is given X of shape {given[0].shape} and labels y of shape {given[1].shape})")


def fitted(gradients, expected):
    r"""Your gradients, each bias gradient that writes into its bias as it is (``diagnosis.fits``) in the bias's
    shape: ``(n,)`` for a ``(1, n)`` bias, ``dz.sum()`` for a bias of one unit."""
    return [np.reshape(g, e.shape) if k % 2 and fits(g, e.shape) else g
            for k, (g, e) in enumerate(zip(gradients, expected, strict=True))]


def first_wrong(learner, twin, net, case, row, yours, wrong, autograd_values):
    r"""The first wrong quantity of the ``case`` (weights, X, y and the batch's name), from the output back:
    outputs, loss, dL/dy_pred, then the gradients ``wrong`` (``(k, gradients)``, the first call's first)."""
    weights, X, y, batch = case
    _, mine_loss, mine, mine_dy = yours
    value, dy_pred, expected = autograd_values
    if row["outputs"] == "WRONG":
        return {"batch": batch, "what": "the outputs (the forward pass)",
                "hint": "the forward pass differs before any gradient: check each layer's x W + b and activation "
                        "(--activations names the hidden layers', --output-activation or --loss the output's)"}
    if row["loss"] == "WRONG":
        return {"batch": batch, "what": f"the loss value (yours {mine_loss:.9g}, autograd {value:.9g})",
                "hint": loss_value_hint(net, weights, len(X), mine_loss, value)}
    if mine_dy is not None and not net.agree(mine_dy, dy_pred, "dy"):
        return {"batch": batch, "what": "dL/dy_pred, your loss's backward()", **worst(mine_dy, dy_pred),
                "hint": factor_hint(mine_dy, dy_pred, len(X), net) or loss_hints(net.loss)[1]}
    if wrong:
        k, gradients = wrong[0]
        g = gradients[k]
        found = worst(g, expected[k])
        given = dy_pred if learner.style == "module" else None       # what your backward(dy_pred) was given
        return {"batch": batch, "parameter": learner.names[k],
                "what": f"the gradient of {learner.names[k]} (layer {k // 2 + 1} of {len(mine) // 2})", **found,
                **({"fd": finite_difference(twin, net, weights, X, y, k, tuple(found["element"]))}
                   if "element" in found else {}),
                "hint": (accumulated_hint(learner.zeroing, learner.names[k]) if mine is not gradients
                         else diagnose(net, weights, X, y, k, g, given))}
    return None


NO_FRAME = "(no frame of your code)"


def loss_value_hint(net, weights, batch, mine, value):
    r"""What a wrong loss value most likely means: not finite, a factor, an L2 term over the biases too, or the
    loss's formula (or the forward pass before it)."""
    if not np.isfinite(mine):
        return ("yours is not finite where autograd's is: a log of 0 or an exp that overflowed; compute it as "
                "docs/losses.md does (log-softmax shifted by the largest logit, BCE fused with its sigmoid)")
    if net.l2 and agree(mine, value + l2_term(net, weights[1::2], batch), net.dtype):
        return "your L2 term adds the biases' squares too: the term is on the weights only, reg * sum(W^2)"
    if net.l2 and agree(mine, value - l2_term(net, weights[0::2], batch), net.dtype):
        return "your loss value leaves out the L2 term: add reg * sum(W^2) to the value too, not to the gradients only"
    return factor_hint(mine, value, batch, net) or (
        f"{loss_hints(net.loss)[0]}, or the forward pass before it: --activations and --output-activation must be "
        "your model's")


def raised_at(exc):
    r"""``file:line, in function: the line`` of the innermost frame of the exception that is not this project's
    or a library's (in a notebook the file is the kernel's name for the cell: the function and line say where)."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith((*OURS, sysconfig.get_paths()["purelib"]))]
    if not frames:
        return NO_FRAME
    return f"{frames[-1].filename}:{frames[-1].lineno}, in {frames[-1].name}: {frames[-1].line}"


def raised(exc):
    r"""``raised ValueError at FILE:LINE, in f: the line: what it says`` (or ``called sys.exit(N) at ...``)."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code}) at {raised_at(exc)}"
    return f"raised {type(exc).__name__} at {raised_at(exc)}: {exc}"


def raised_hint(exc):
    if isinstance(exc, SystemExit):
        return "the line named above ends the program: a model's methods return their results"
    if isinstance(exc, NotImplementedError):
        return "a method still raises NotImplementedError: write it"
    if "shape" in str(exc) or "broadcast" in str(exc) or "align" in str(exc):
        return ("two arrays of shapes that do not fit: often a missing transpose, a bias gradient not summed "
                "over the batch (db = dz.sum(axis=0)), or outputs of shape (B,) beside labels of shape (B, 1), which "
                "broadcast to (B, B)")
    return "the line named above raised it"


def worst(mine, expected):
    r"""The element where ``mine`` is furthest from ``expected``: its index and both values."""
    if np.shape(mine) != expected.shape:
        return {"shape": list(np.shape(mine)), "expected_shape": list(expected.shape)}
    element = np.unravel_index(np.argmax(tolerance_ratio(mine, expected, "float64")), expected.shape)
    return {"element": list(map(int, element)), "yours": float(mine[element]), "autograd": float(expected[element])}


# torch's optimizers the checker compares yours with, by a word of your class's name, and what each reads
KINDS = {"adamw": ("AdamW", ("lr", "betas", "eps", "weight_decay", "amsgrad")),
         "adam": ("Adam", ("lr", "betas", "eps", "weight_decay", "amsgrad")),
         "sgd": ("SGD", ("lr", "momentum", "dampening", "weight_decay", "nesterov"))}


# other names learners give torch's hyper-parameters (cs231n's learning_rate, a short wd; an AdamW built on an Adam
# may keep Adam's weight_decay at 0 beside its own wd)
ALIASES = {"lr": ("learning_rate",), "weight_decay": ("wd",)}


def torch_optimizer(optimizer, params):
    r"""torch's optimizer of your optimizer's kind (its class's name says which), on ``params``, with the
    hyper-parameters your optimizer holds as attributes (torch's defaults for those it does not);
    ``ValueError`` in one line for another kind or hyper-parameters torch refuses."""
    name = type(optimizer).__name__
    key = re.sub(r"[^a-z]", "", name.lower())                       # MySGD -> mysgd
    kind = next((kind for word, kind in KINDS.items() if key.endswith(word) and not key.endswith(("nadam", "radam"))),
                None)
    if kind is None:
        raise ValueError(f"the optimizer {name}: the checker compares SGD (momentum, dampening, Nesterov, weight "
                         "decay), Adam and AdamW, known by their class's name; check the gradients without it")
    torch_name, settings = kind
    found = {}
    for key in settings:                    # torch's name, or an alias where that is missing or 0
        values = [getattr(optimizer, name) for name in (key, *ALIASES.get(key, ())) if hasattr(optimizer, name)]
        found.update({key: next((value for value in values if value), values[0])} if values else {})
    if "betas" in settings and hasattr(optimizer, "beta1"):           # cs231n's and deeplearning.ai's names
        found["betas"] = (optimizer.beta1, getattr(optimizer, "beta2", 0.999))
    if "lr" not in found:
        raise ValueError(f"the optimizer {name} has no lr (nor learning_rate) to compare torch.optim.{torch_name} "
                         "with: the checker reads torch's names of the hyper-parameters from its attributes")
    try:
        return getattr(torch.optim, torch_name)(params, **found)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the optimizer {name}: torch.optim.{torch_name} refuses its settings "
                         f"({', '.join(f'{key} {value!r}' for key, value in found.items())}): {exc}") from None


def check_step(learner, twin, net, optimizers, row, case):
    r"""Your optimizer's ``step()`` from the gradients just checked, against torch's twin optimizer (which keeps
    its own state from step to step, as yours does): the first parameter it updates wrongly, or an update that
    does not reach your forward pass on the batch ``case = (name, X)``; else None."""
    batch, (optimizer, twin_optimizer) = case[0], optimizers
    before, grads = [a.copy() for a in learner.arrays()], learner.gradients_held()
    try:
        optimizer.step()
    except (Exception, SystemExit) as exc:
        row["update"] = "raised"
        return {"batch": batch, "what": f"your optimizer's step() {raised(exc)}", "hint": raised_hint(exc)}
    for q, g in zip(twin.parameters(), net.to_torch(grads), strict=True):
        q.grad = g                           # torch steps from your gradients, just checked: the step alone differs
    twin_optimizer.step()
    expected, mine = net.from_torch(q.detach() for q in twin.parameters()), learner.arrays()
    wrong = [k for k in from_the_output(len(mine)) if not same_step(mine[k], expected[k], before[k], net.dtype)]
    row["update"] = ok(not wrong)
    if not wrong:
        return unmoved(learner, twin, net, row, case)
    k, settings = wrong[0], {key: value for key, value in twin_optimizer.defaults.items()
                             if key in KINDS[type(twin_optimizer).__name__.lower()][1]}
    described = ", ".join(f"{key} {value}" for key, value in settings.items())
    return {"batch": batch, "parameter": learner.names[k], "what": f"the step p_new - p of {learner.names[k]} by your "
            f"optimizer (torch.optim.{type(twin_optimizer).__name__}: {described})",
            **worst(mine[k] - before[k], expected[k] - before[k]),
            "hint": update_hint(settings, before[k], grads[k], mine[k], net.dtype)}


def unmoved(learner, twin, net, row, case):
    r"""Whether your forward pass, after your optimizer's step, gives the twin's outputs after its step: a step that
    rebinds ``p.data`` to a new array leaves a layer that keeps its own computing with the old one."""
    batch, X = case
    with torch.no_grad():
        expected = twin(torch.tensor(X)).numpy()
    inputs = X.T if learner.columns else X
    mine = np.asarray(learner.model.forward(inputs.astype(net.dtype)))
    if same_outputs(mine.T if learner.columns else mine, expected, net):
        return None
    row["update"] = "WRONG"
    return {"batch": batch, "what": "your forward pass after your optimizer's step: the parameters moved, your outputs "
            "did not follow", "hint": "the step rebinds p.data to a new array (p.data = p.data - ...) while the layer "
            "computes with the array it keeps; update in place: p.data -= lr * p.grad"}


def same_step(mine, expected, p, dtype):
    r"""Whether your parameter after the step, ``mine``, equals torch's ``expected`` from the same ``p``, compared as
    steps (``mine - p``): to the relative tolerance of ``dtype`` of the step, plus 4 units in the last place of ``p``
    where your step is rounded into it. A term as small as weight decay's shows, which the values' tolerance hides."""
    p = np.asarray(p, np.float64)
    step, due = np.asarray(mine, np.float64) - p, expected - p
    bound = TOLERANCES[dtype]["rtol"] * np.abs(due) + 4 * np.finfo(dtype).eps * np.abs(p) + np.finfo(dtype).tiny
    return np.shape(mine) == np.shape(expected) and bool(np.all(np.abs(step - due) <= bound))


def update_hint(settings, p, g, mine, dtype):
    r"""What a wrong update of ``p`` (gradient ``g``) most likely forgot: plain SGD's classic three, else where the
    algorithm is written out."""
    lr, weight_decay = settings["lr"], settings["weight_decay"]
    if np.array_equal(mine, p):
        return ("your step left the parameter as it was: it does not update this one (was it given every "
                "parameter?), or it wrote a new array that your model does not read (p.data = p.data - ...; update "
                "in place: p.data -= lr * p.grad)")
    if settings.get("momentum", 1) or "betas" in settings:
        return "docs/optimizers.md writes this optimizer's update equation by equation, with torch's defaults"
    candidates = ((p - lr * g, "the weight decay is missing: SGD adds weight_decay * p to the gradient"),
                  (p + lr * (g + weight_decay * p), "the step goes up the gradient: p.data -= lr * (...), not +="),
                  (p - lr * (g - weight_decay * p), "the weight decay's sign is flipped: SGD adds + weight_decay * p "
                                                    "to the gradient"),
                  (p - (g + weight_decay * p),
                   "the learning rate is missing: p.data -= lr * (p.grad + weight_decay * p.data)"))
    return next((hint for update, hint in candidates if same_step(mine, update, p, dtype)),
                "SGD with weight decay is p.data -= lr * (p.grad + weight_decay * p.data), for every parameter")


def finite_difference(twin, net, weights, X, y, k, element, h=1e-6):
    r"""``dL/dtheta`` at one element of parameter ``k`` by central differences of the twin's loss."""
    def loss(shift):
        moved = [w.copy() for w in weights]
        moved[k][element] += shift
        return autograd(twin, net, moved, X, y, form=net.form)[1]
    return (loss(h) - loss(-h)) / (2 * h)


def main(argv=None):
    parser = cli.parser("python -m compare.check", __doc__.split("\n\n")[0].replace("``", ""),
                        ("activations", "loss", "seed", "batch_size", "json"))
    parser.add_argument("model", metavar="FILE.py:NAME", nargs="?", help="NAME() builds your model (or MODULE:NAME)")
    parser.add_argument("--catalogue", action="store_true", help="instead, plant each classic mistake of "
                        "compare/catalogue.py into networks of several styles and print how the checker does")
    parser.add_argument("--output-activation", choices=tuple(manual.ACTIVATIONS),
                        help="the output layer's activation (default: the loss's, tanh for mse and l1)")
    parser.add_argument("--l2", type=float, metavar="REG", help="your loss adds REG * sum(W^2) over the weights "
                        "(or half of it, as cs231n writes it both ways, or REG / 2m, deeplearning.ai's; default: your "
                        "model's reg or lambd, else 0)")
    args = parser.parse_args(argv)
    if args.catalogue:
        return catalogue(parser, args)
    if args.model is None:
        parser.error("give FILE.py:NAME (or MODULE:NAME), the model to check, or --catalogue")
    # the hidden layers come from the model: as many as --activations names, for Config's checks
    config, _ = cli.configure(parser, args, hidden=(1,) * len(vars(args).get("activations", ("tanh", "sigmoid"))))
    try:
        if args.l2 is not None and not 0 <= args.l2 < math.inf:
            raise ValueError(f"--l2 {args.l2}: must be a finite number >= 0")
        verdict = check(load(args.model), config.activations, config.loss, args.output_activation, config.seed,
                        config.batch_size, l2=args.l2)
    except ValueError as exc:
        parser.error(str(exc))
    out = cli.report_stream(args)
    print(verdict, file=out)
    save_outputs(parser, [(args.json, json_writer(verdict.to_json()))])
    return 0 if verdict.correct else 1


def catalogue(parser, args):
    r"""``--catalogue``: the table of ``compare.catalogue``; exit 0 when every mistake is detected at its parameter
    and every correct network is CORRECT."""
    if args.model is not None:
        parser.error("--catalogue checks its own networks: drop FILE.py:NAME")
    from . import catalogue as planted  # the catalogue's networks: built only when asked for
    rows, correct = planted.measure(check, lambda model: Learner(model).names)
    print(planted.table(rows, correct), file=cli.report_stream(args))
    detected = all(found[0] and found[1] for _, styles in rows for found in styles.values())
    return 0 if detected and all(correct.values()) else 1


if __name__ == "__main__":
    cli.run(main)
