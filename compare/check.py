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
loaded or checked.
"""
import errno
import importlib
import importlib.util
import math
import os
import re
import sys
import sysconfig
import traceback
from dataclasses import dataclass, field

import numpy as np
import torch

import manual
import torch_impl
from manual.train import LOSSES, labels, listed, typed

from . import cli
from .core.data import load_data
from .core.formulas import activation, loss_hints
from .core.lockstep import short_repr
from .core.pair import tolerance_ratio
from .files import json_writer, save_outputs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = tuple(os.path.join(ROOT, package) + os.sep for package in ("compare", "manual", "torch_impl"))
# each batch: its weights (the model's own, random, or four times larger: saturated) and its rows (None:
# --batch-size; "last": the last, smaller batch of an epoch of the article's data, 10 rows for batch 15)
BATCHES = (("the article's data", 0, None), ("random weights", 1, "last"), ("saturated units", 2, 1))


def load(spec):
    r"""``NAME()`` from ``FILE.py:NAME`` or ``MODULE:NAME``; ``ValueError`` (one line) if it cannot be had."""
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise ValueError(f"{spec}: give FILE.py:NAME or MODULE:NAME")
    module = imported(where, name)
    if not hasattr(module, name):
        raise ValueError(f"{where} defines no {name}() to build the model")
    if not callable(getattr(module, name)):
        raise ValueError(f"{where}: {name} is not callable ({type(getattr(module, name)).__name__}); {name}() must "
                         "build the model")
    try:
        return getattr(module, name)()
    except (Exception, SystemExit) as exc:
        raise ValueError(f"{spec}: {name}() raised {type(exc).__name__}: {exc}") from None


def imported(where, name):
    r"""The module ``where`` (a file, run as ``python FILE`` would find its imports, or a module name)."""
    if os.path.isdir(where):
        raise ValueError(f"{where}: {os.strerror(errno.EISDIR)}; give FILE.py:NAME")
    try:
        if not (where.endswith(".py") or os.sep in where):
            return importlib.import_module(where)
        module_spec = importlib.util.spec_from_file_location(f"checked_{os.path.basename(where)[:-3]}", where)
        module = importlib.util.module_from_spec(module_spec)
        sys.path.insert(0, os.path.dirname(os.path.abspath(where)))   # its own imports, as python FILE runs it
        try:
            module_spec.loader.exec_module(module)
        finally:
            sys.path.pop(0)
        return module
    except OSError as exc:
        raise ValueError(f"{where}: {exc.strerror}") from None
    except SystemExit as exc:                      # the file's own script code, run on import
        raise ValueError(f"{where} called sys.exit({exc.code}) while loading: the checker imports it to call "
                         f"{name}(); put its script code under if __name__ == \"__main__\":") from None
    except Exception as exc:                       # a syntax error, or whatever the file raises
        raise ValueError(f"{where}: {type(exc).__name__} while loading it: {exc}") from None


def held(parameter):
    r"""A module-style parameter's array: its ``.data`` (torch's name), or its ``.value``."""
    return parameter.data if hasattr(parameter, "data") else parameter.value


def scalar(loss):
    r"""A loss as a Python number, from any array holding one number (a cost of shape (1, 1) included)."""
    value = np.asarray(loss, dtype=np.float64)
    if value.size != 1:
        raise Uncheckable(f"the loss has shape {value.shape}: it must be one number")
    return float(value.reshape(-1)[0])


class Listed:
    r"""Parameter ``i`` of a model that lists its arrays, ``params()``, and their gradients, ``grads()``."""

    def __init__(self, model, i):
        self.model, self.i = model, i

    @property
    def data(self):
        return self.model.params()[self.i]

    @property
    def grad(self):
        return self.model.grads()[self.i]

    @grad.setter
    def grad(self, value):
        r"""``zero_grad``: zeros written into the model's own gradient array, where it keeps one."""
        try:
            write_into(self.model.grads()[self.i], value)
        except Exception:              # before a first backward, grads() may have nothing to give: nothing to zero
            pass


def write_into(array, value):
    r"""Write ``value`` into ``array`` in place, in its dtype; False where it is no float array of that shape."""
    if not (isinstance(array, np.ndarray) and array.dtype.kind == "f" and array.shape == value.shape):
        return False
    array[...] = value
    return True


def zero_grad(parameter, like):
    r"""``parameter.grad`` set to zeros as ``zero_grad`` would: a new array, or in place where it cannot be set
    (a read-only property over an array the model keeps; nothing, before its first backward)."""
    try:
        parameter.grad = np.zeros_like(like)
    except AttributeError:
        held_grad = getattr(parameter, "grad", None)
        if isinstance(held_grad, np.ndarray):
            held_grad[...] = 0


class Uncheckable(ValueError):
    r"""A model whose answer cannot be compared (a gradient missing): one error line, not a verdict."""


class Learner:
    r"""Your model behind one interface: its parameters in order, set them, and one forward-backward pass."""

    def __init__(self, model, criterion=None):
        self.model, self.criterion = model, criterion
        if isinstance(model, type):
            raise ValueError(f"{model.__name__} is a class: pass the model it builds, {model.__name__}()")
        self.columns = False             # deeplearning.ai's layout: examples as columns, set by check
        self.store = next((store for store in (getattr(model, "params", None), getattr(model, "parameters", None))
                           if isinstance(store, dict)), None)         # cs231n's params, deeplearning.ai's parameters
        if self.store is not None and callable(getattr(model, "loss", None)):
            self.style, self.names = "cs231n", in_layer_order(self.store)
        elif all(callable(getattr(model, method, None)) for method in ("forward", "backward")) and (
                callable(getattr(model, "named_parameters", None)) or callable(getattr(model, "grads", None))):
            self.style, self.names = "module", [name for name, _ in self.parameters()]
        else:
            raise ValueError(f"{type(model).__name__} is neither module style (forward, backward, and named_parameters "
                             "or params() and grads()) nor cs231n style (a dict params, or parameters, and loss(X, y))")

    def parameters(self):
        r"""``[(name, parameter)]`` of a module-style model: ``named_parameters()``'s pairs or dict, or ``params()``
        and ``grads()`` lists (as ``Listed``)."""
        if not callable(getattr(self.model, "named_parameters", None)):
            return [(f"params()[{i}]", Listed(self.model, i)) for i in range(len(self.model.params()))]
        named = self.model.named_parameters()
        pairs = list(named.items() if isinstance(named, dict) else named)
        if any(isinstance(p, np.ndarray) for _, p in pairs):
            raise ValueError("named_parameters() gave numpy arrays: give objects holding each array as .data (or "
                             ".value) and its gradient as .grad, or give params() and grads(), two lists of arrays")
        return pairs

    def gradients_held(self):
        return [np.array(p.grad, np.float64) for _, p in self.parameters()]

    def arrays(self):
        if self.style == "cs231n":
            return [np.asarray(self.store[name]) for name in self.names]
        return [np.asarray(held(p)) for _, p in self.parameters()]

    def set(self, arrays):
        r"""Your arrays take these values, written into them (so that views and attributes sharing them see
        the values too), in their own dtype; an array of another shape or none is replaced."""
        if self.style == "cs231n":
            for name, value in zip(self.names, arrays, strict=True):
                if not write_into(self.store[name], value):
                    self.store[name] = value.copy()
            return
        for (_, p), value in zip(self.parameters(), arrays, strict=True):
            if not write_into(held(p), value):
                p.data = value.copy()
            zero_grad(p, value)

    def gradients(self, X, y, dy_pred):
        r"""Your ``(y_pred or None, loss or None, [gradient per parameter], dL/dy_pred or None)`` for the batch:
        the cs231n style computes its own loss; the module style is given autograd's ``dL/dy_pred``, or
        takes its own from ``criterion`` (called as ``criterion(y_pred, y)``, then ``criterion.backward()``).
        In deeplearning.ai's layout your model is given the examples as columns, and its outputs read back."""
        if not self.columns:
            return self.step(X, y, dy_pred)
        y_pred, loss, grads, dy = self.step(X.T, y.T, dy_pred.T)
        return None if y_pred is None else y_pred.T, loss, grads, None if dy is None else dy.T

    def step(self, X, y, dy_pred):
        if self.style == "cs231n":
            return self.cs231n_step(X, y)
        y_pred = np.asarray(self.model.forward(X))
        loss = None
        if self.criterion is not None:
            loss = scalar(self.criterion(y_pred, y))
            dy_pred = np.asarray(self.criterion.backward())
        elif y_pred.shape != dy_pred.shape and y_pred.size == dy_pred.size:
            dy_pred = dy_pred.reshape(y_pred.shape)                   # outputs of shape (B,): dL/dy_pred too
        self.model.backward(dy_pred)
        return y_pred, loss, [np.array(p.grad) for _, p in self.parameters()], dy_pred if loss is not None else None

    def cs231n_step(self, X, y):
        try:
            scores = self.model.loss(X)
        except Exception:                          # loss(X) alone is optional
            scores = None
        scores = None if scores is None else np.asarray(scores)
        returned = None
        if scores is not None and scores.ndim == 1 and y.shape == (len(scores), 1):
            try:
                returned = self.model.loss(X, y.reshape(-1))   # outputs of shape (B,): labels of that shape first
            except Exception:                                  # else the labels as they are
                returned = None
        returned = self.model.loss(X, y) if returned is None else returned
        if not (isinstance(returned, tuple) and len(returned) == 2 and isinstance(returned[1], dict)):
            raise Uncheckable(f"loss(X, y) returned {short_repr(returned)}: it must return (loss, grads), grads a "
                              f"dict keyed as params ({', '.join(self.names)})")
        loss, grads = returned
        keys = {name: name if name in grads else f"d{name}" for name in self.names}     # deeplearning.ai's dW1
        missing = [name for name, key in keys.items() if key not in grads]
        if missing:
            raise Uncheckable(f"loss(X, y) returned no gradient for {', '.join(missing)}")
        return scores, scalar(loss), [np.array(grads[key]) for key in keys.values()], None


def in_layer_order(store):
    r"""The names of a dict of parameters, weight then bias layer by layer: by the number ending each name where
    every name has one (``W1, W2, b1, b2`` -> ``W1, b1, W2, b2``; a bias's name starts with b), else as given."""
    numbers = {name: re.search(r"(\d+)$", name) for name in store}
    if not all(numbers.values()):
        return list(store)
    return sorted(store, key=lambda name: (int(numbers[name].group(1)), name.lower().startswith("b")))


def bias_size(b):
    r"""Units of a bias of shape ``(n,)``, ``(1, n)`` (a row) or ``(n, 1)`` (a column); None for another shape."""
    shape = np.shape(b)
    return shape[0] if len(shape) == 1 else max(shape) if len(shape) == 2 and 1 in shape else None


def layers_of(learner, in_features):
    r"""``{transposed: sizes}`` of each reading of the weights under which the parameters chain as layers
    (``transposed``: ``(in, out)`` weights); both for square weights; ``ValueError`` saying why none."""
    arrays = learner.arrays()
    if len(arrays) % 2 or any(np.ndim(w) != 2 or bias_size(b) is None
                              for w, b in zip(arrays[0::2], arrays[1::2], strict=True)):
        shapes = ", ".join(f"{name} {np.shape(a)}" for name, a in zip(learner.names, arrays, strict=True))
        raise ValueError(f"the parameters do not form a chain of layers: expected (weight, bias) pairs, 2-D then "
                         f"(n,), (1, n) or (n, 1), in order, got {shapes}")
    pairs = list(zip(arrays[0::2], arrays[1::2], strict=True))
    fits = {}
    for transposed in (False, True):
        sizes = [in_features]
        for W, b in pairs:
            n_out, n_in = W.shape[::-1] if transposed else W.shape
            if n_in != sizes[-1] or n_out != bias_size(b) or (np.shape(b)[-1] == 1 < n_out and transposed):
                break
            sizes.append(n_out)
        else:
            fits[transposed] = sizes
    if not fits:
        raise ValueError(f"the parameters do not form a chain of layers from {in_features} inputs: "
                         + ", ".join(f"{name} {np.shape(a)}" for name, a in zip(learner.names, arrays, strict=True)))
    return fits


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
    l2: float = 0.0            # your loss's L2 term on the weights: l2 * sum(W^2) (or cs231n's other, half of it)
    half: bool = False         # which of the two your loss matched: 0.5 l2 sum(W^2)

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
    if l2 is not None and not 0 <= l2 < math.inf:
        raise ValueError(f"l2 {l2}: must be a finite number >= 0")
    learner = Learner(model, criterion)
    if (optimizer is not None or criterion is not None) and learner.style == "cs231n":
        raise ValueError("an optimizer or a criterion is checked on a module-style model: a cs231n-style loss(X, y) "
                         "computes its own loss and updates nothing")
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
    dtype = "float32" if all(a.dtype == np.float32 for a in learner.arrays()) else "float64"
    shapes = [np.shape(a) for a in learner.arrays()]
    learner.columns = any(len(shape) == 2 and shape[1] == 1 < shape[0] for shape in shapes[1::2])   # b (n, 1)
    l2 = float(getattr(model, "reg", 0.0)) if l2 is None else l2            # cs231n's models keep theirs as reg
    nets = [Network(sizes, transposed, (*activations, output_activation or LOSSES[loss][1]), loss, dtype, shapes, l2)
            for transposed, sizes in sorted(fits.items(), key=lambda fit: fit[0] != (learner.style == "cs231n"))]
    twin = torch_impl.NeuralNetwork(hidden, activations, nets[0].activations[-1], torch.float64,
                                    out_features=sizes[-1])
    X_all, y_all, _, _ = load_data(seed=seed)
    if not 1 <= batch_size <= len(X_all):
        raise ValueError(f"--batch-size {batch_size}: must be an integer in [1, {len(X_all)}], the article's "
                         "training points the checker's batches are drawn from")
    net = matching(learner, nets, twin, X_all[:batch_size], labels(y_all[:batch_size], loss))
    read = ("; square weights read so because your outputs match that reading" if len(nets) == 2 else "")
    columns = ", examples as columns (deeplearning.ai's layout)" if learner.columns else ""
    pair = None if optimizer is None else (optimizer, torch_optimizer(optimizer, twin.parameters()))
    verdict = Verdict(f"{learner.style}-style {type(model).__name__}: {'-'.join(map(str, sizes))}, "
                      f"{', '.join(net.activations[:-1]) or 'no hidden layer'}, {net.activations[-1]} output, "
                      f"{LOSSES[loss][0].__name__}, weights "
                      f"{'(in, out)' if net.transposed else '(out, in)'}{read}{columns}, {dtype}"
                      + (f", L2 term {l2:g} * sum(W^2) or half of it" if l2 else "")
                      + (" (held to float32's tolerance: atol 1e-06, rtol 0.0001)" if dtype == "float32" else ""))
    given = [np.array(a, np.float64) for a in learner.arrays()]
    for name, offset, rows in BATCHES:
        rng = np.random.default_rng(seed + offset)
        weights = given if offset == 0 else [rng.uniform(-1, 1, a.shape) * (4 if offset == 2 else 1) for a in given]
        rows = {None: batch_size, "last": len(X_all) % batch_size or batch_size}.get(rows, rows)
        idx = rng.choice(len(X_all), rows, replace=False)
        batch = f"{name} ({rows} row{'s' * (rows > 1)})"
        row, first = compare_batch(learner, twin, net, weights, X_all[idx], labels(y_all[idx], loss), batch, pair)
        verdict.rows.append(row)
        verdict.first_wrong = verdict.first_wrong or first
    learner.set(given)
    return verdict


def matching(learner, nets, twin, X, y):
    r"""Of the readings ``nets`` of your weights (two where they are square), the one under which the twin, from
    your own weights, computes your outputs (or your loss, if you give no outputs); the first if none does."""
    weights = [np.array(a, np.float64) for a in learner.arrays()]
    return next((net for net in nets if len(nets) > 1 and computes_yours(learner, twin, net, weights, X, y)), nets[0])


def computes_yours(learner, twin, net, weights, X, y):
    y_pred, value, dy_pred, _ = autograd(twin, net, weights, X, y)
    learner.set(weights)
    try:
        mine_pred, mine_loss, _, _ = learner.gradients(X.astype(net.dtype), y, dy_pred.astype(net.dtype))
    except (Exception, SystemExit):                # your model's own failure shows on the batches
        return False
    return same_outputs(mine_pred, y_pred, net) if mine_pred is not None else agree(mine_loss, value, net.dtype)


def autograd(twin, net, weights, X, y, fused=False, half=False):
    r"""The twin's outputs, loss, dL/dy_pred and parameter gradients (in your layout) from ``weights``. With
    ``fused``, BCE's loss and gradients come from the output layer's logit (``BCEWithLogitsLoss``): the exact
    function, where ``BCELoss`` on a saturated sigmoid clamps. ``net.l2`` adds ``l2 sum(W^2)`` over the
    weights (``half``: ``0.5 l2 sum(W^2)``, as cs231n's later assignments write it)."""
    with torch.no_grad():
        for q, w in zip(twin.parameters(), net.to_torch(weights), strict=True):
            q.copy_(w)
    twin.zero_grad()
    *layers, output = twin.children()
    z = torch.nn.Sequential(*layers)(torch.tensor(X))
    y_pred = output(z)
    y_pred.retain_grad()
    if fused:
        value = torch.nn.BCEWithLogitsLoss()(z, torch.tensor(y))
        dy_pred = torch.nn.BCELoss()(y_pred, torch.tensor(y))          # dL/dy_pred as BCELoss's backward has it
        dy_pred.backward(retain_graph=True)
        twin.zero_grad()
    else:
        value = torch_impl.train.LOSSES[net.loss][0]()(y_pred, torch.tensor(y))
    if net.l2:
        value = value + (0.5 if half else 1.0) * net.l2 * sum((q ** 2).sum() for q in list(twin.parameters())[0::2])
    value.backward()
    return y_pred.detach().numpy(), value.item(), y_pred.grad.numpy(), net.from_torch(q.grad for q in twin.parameters())


def references(twin, net, weights, X, y):
    r"""The twin's answers for the batch, for each way of writing the loss you may have meant: for BCE,
    ``BCELoss``'s and the exact function's from the logit; with an L2 term, ``l2 sum(W^2)`` and half of it."""
    return [autograd(twin, net, weights, X, y, fused, half) for fused in (False, True)[:1 + (net.loss == "bce")]
            for half in (False, True)[:1 + bool(net.l2)]]


def chosen_reference(alternatives, yours, net):
    r"""The index of the twin's answer your first call matches; else of the one whose loss yours equals; else 0."""
    mine_loss = yours[1]
    matched = [i for i, answer in enumerate(alternatives) if matches(answer, yours, net)]
    by_loss = [i for i, answer in enumerate(alternatives) if mine_loss is not None and agree(mine_loss, answer[1],
                                                                                                net.dtype)]
    return (matched or by_loss or [0])[0]


def matches(reference, yours, net):
    r"""Whether your loss (if you give one) and every gradient of your first call equal ``reference``'s."""
    _, value, _, expected = reference
    _, mine_loss, mine, _ = yours
    return ((mine_loss is None or agree(mine_loss, value, net.dtype))
            and all(agree(g, e, net.dtype) for g, e in zip(mine, expected, strict=True)))


def same_outputs(mine, theirs, net):
    r"""Your outputs equal the twin's, read in its shape where yours hold as many numbers (``(B,)`` for ``(B, 1)``)."""
    mine = np.asarray(mine)
    return agree(mine.reshape(theirs.shape) if mine.size == theirs.size else mine, theirs, net.dtype)


def agree(mine, theirs, dtype="float64"):
    return np.shape(mine) == np.shape(theirs) and bool(np.all(tolerance_ratio(mine, theirs, dtype) <= 1))


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
        what = (f"called sys.exit({exc.code})" if isinstance(exc, SystemExit) else f"raised {type(exc).__name__}")
        said = "" if isinstance(exc, SystemExit) else f": {exc}"
        return ({"batch": batch, "outputs": "-", "loss": "-", "gradients": "raised"},
                {"batch": batch, "what": f"your model {what} at {raised_at(exc)}{said}", "hint": raised_hint(exc)})
    (mine_pred, mine_loss, mine, mine_dy), (_, _, again, _) = calls
    check_shapes(learner, net, mine, expected, len(X))
    chosen = chosen_reference(alternatives, calls[0], net)
    net.half = bool(net.l2) and chosen % 2 == 1           # the L2 term your loss matched, for the diagnosis
    y_pred, value, dy_pred, expected = alternatives[chosen]
    row = {"batch": batch, "outputs": "-" if mine_pred is None else ok(same_outputs(mine_pred, y_pred, net)),
           "loss": "-" if mine_loss is None else ok(agree(mine_loss, value, net.dtype))}
    # the first call's wrong gradients, then the second's
    order = from_the_output(len(mine))
    wrong = [(k, gradients) for gradients in (mine, again) for k in order
             if not agree(gradients[k], expected[k], net.dtype)]
    row["gradients"] = ok(not wrong and (mine_dy is None or agree(mine_dy, dy_pred, net.dtype)))
    first = first_wrong(learner, twin, net, (weights, X, y, batch), row, calls[0], wrong,
                        (value, dy_pred, expected))
    if first or optimizers is None:
        return row, first
    return row, check_step(learner, twin, net, optimizers, row, batch)


def check_shapes(learner, net, mine, expected, batch):
    r"""Refuse a gradient of a shape no classic mistake gives (transposed, another layer's input, a bias
    gradient not summed over the batch): it cannot be compared."""
    for k, (name, g, e) in enumerate(zip(learner.names, mine, expected, strict=True)):
        mistaken = ([(w, e.shape[1 - net.transposed]) if net.transposed else (e.shape[0], w) for w in net.sizes[:-1]]
                    if k % 2 == 0 else [(batch, *e.shape), (*e.shape[:-1], batch), (), (1, *e.shape),
                                        (e.shape[0],), (1, batch)])
        # a bias gradient not summed (rows or columns as examples), summed over every axis, or with keepdims
        if np.shape(g) not in (e.shape, e.shape[::-1], *mistaken):
            raise ValueError(f"the gradient of {name} has shape {np.shape(g)}, not {e.shape} like {name}")


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
        hint = ("yours is not finite where autograd's is: a log of 0 or an exp that overflowed; compute it as "
                "docs/losses.md does (log-softmax shifted by the largest logit, BCE fused with its sigmoid)"
                if not np.isfinite(mine_loss) else factor_hint(mine_loss, value, len(X), net.dtype) or
                f"{loss_hints(net.loss)[0]}, or the forward pass before it: --activations and "
                "--output-activation must be your model's")
        return {"batch": batch, "what": f"the loss value (yours {mine_loss:.9g}, autograd {value:.9g})", "hint": hint}
    if mine_dy is not None and not agree(mine_dy, dy_pred, net.dtype):
        return {"batch": batch, "what": "dL/dy_pred, your loss's backward()", **worst(mine_dy, dy_pred),
                "hint": factor_hint(mine_dy, dy_pred, len(X), net.dtype) or loss_hints(net.loss)[1]}
    if wrong:
        k, gradients = wrong[0]
        g = gradients[k]
        found = worst(g, expected[k])
        return {"batch": batch, "parameter": learner.names[k],
                "what": f"the gradient of {learner.names[k]} (layer {k // 2 + 1} of {len(mine) // 2})", **found,
                **({"fd": finite_difference(twin, net, weights, X, y, k, tuple(found["element"]))}
                   if "element" in found else {}),
                "hint": diagnose(net, weights, X, y, k, g, mine is not gradients)}
    return None


NO_FRAME = "(no frame of your code)"


def raised_at(exc):
    r"""``file:line, in function: the line`` of the innermost frame of the exception that is not this project's
    or a library's (in a notebook the file is the kernel's name for the cell: the function and line say where)."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith((*OURS, sysconfig.get_paths()["purelib"]))]
    if not frames:
        return NO_FRAME
    return f"{frames[-1].filename}:{frames[-1].lineno}, in {frames[-1].name}: {frames[-1].line}"


def raised_hint(exc):
    if isinstance(exc, SystemExit):
        return "the line named above ends the program: a model's methods return their results"
    if isinstance(exc, NotImplementedError):
        return "a method still raises NotImplementedError: write it"
    if "shape" in str(exc) or "broadcast" in str(exc) or "align" in str(exc):
        return ("two arrays of shapes that do not fit: often a missing transpose, or a bias gradient not summed "
                "over the batch (db = dz.sum(axis=0))")
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
    found = {key: getattr(optimizer, key) for key in settings if hasattr(optimizer, key)}
    if "betas" in settings and hasattr(optimizer, "beta1"):           # cs231n's and deeplearning.ai's names
        found["betas"] = (optimizer.beta1, getattr(optimizer, "beta2", 0.999))
    if "lr" not in found:
        raise ValueError(f"the optimizer {name} has no lr to compare torch.optim.{torch_name} with")
    try:
        return getattr(torch.optim, torch_name)(params, **found)
    except ValueError as exc:
        raise ValueError(f"the optimizer {name}: torch.optim.{torch_name} refuses its settings: {exc}") from None


def check_step(learner, twin, net, optimizers, row, batch):
    r"""Your optimizer's ``step()`` from the gradients just checked, against torch's twin optimizer (which keeps
    its own state from step to step, as yours does); the first parameter it updates wrongly, or None."""
    optimizer, twin_optimizer = optimizers
    before, grads = [a.copy() for a in learner.arrays()], learner.gradients_held()
    try:
        optimizer.step()
    except Exception as exc:
        row["update"] = "raised"
        return {"batch": batch, "what": f"your optimizer's step() raised {type(exc).__name__} at {raised_at(exc)}: "
                f"{exc}", "hint": raised_hint(exc)}
    twin_optimizer.step()
    expected, mine = net.from_torch(q.detach() for q in twin.parameters()), learner.arrays()
    wrong = [k for k in from_the_output(len(mine)) if not agree(mine[k], expected[k], net.dtype)]
    row["update"] = ok(not wrong)
    if not wrong:
        return None
    k, settings = wrong[0], {key: value for key, value in twin_optimizer.defaults.items()
                             if key in KINDS[type(twin_optimizer).__name__.lower()][1]}
    described = ", ".join(f"{key} {value}" for key, value in settings.items())
    return {"batch": batch, "parameter": learner.names[k], "what": f"the update of {learner.names[k]} by your "
            f"optimizer (torch.optim.{type(twin_optimizer).__name__}: {described})", **worst(mine[k], expected[k]),
            "hint": update_hint(settings, before[k], grads[k], mine[k], net.dtype)}


def update_hint(settings, p, g, mine, dtype):
    r"""What a wrong update of ``p`` (gradient ``g``) most likely forgot: plain SGD's classic three, else where the
    algorithm is written out."""
    lr, weight_decay = settings["lr"], settings["weight_decay"]
    if settings.get("momentum", 1) or "betas" in settings:
        return "docs/optimizers.md writes this optimizer's update equation by equation, with torch's defaults"
    candidates = ((p - lr * g, "the weight decay is missing: SGD adds weight_decay * p to the gradient"),
                  (p + lr * (g + weight_decay * p), "the step goes up the gradient: p.data -= lr * (...), not +="),
                  (p - (g + weight_decay * p),
                   "the learning rate is missing: p.data -= lr * (p.grad + weight_decay * p.data)"))
    return next((hint for update, hint in candidates if agree(mine, update, dtype)),
                "SGD with weight decay is p.data -= lr * (p.grad + weight_decay * p.data), for every parameter")


def finite_difference(twin, net, weights, X, y, k, element, h=1e-6):
    r"""``dL/dtheta`` at one element of parameter ``k`` by central differences of the twin's loss."""
    def loss(shift):
        moved = [w.copy() for w in weights]
        moved[k][element] += shift
        return autograd(twin, net, moved, X, y, half=net.half)[1]
    return (loss(h) - loss(-h)) / (2 * h)


# Derivatives learners write instead of the activation's: what each is, and its f'(z, a)
WRONG_DERIVATIVES = {
    "sigmoid": (("written a (1 + a)", lambda z, a: a * (1 + a)), ("written 1 - a^2, tanh's", lambda z, a: 1 - a ** 2),
                ("written a", lambda z, a: a)),
    "tanh": (("written 1 - a", lambda z, a: 1 - a), ("written 1 + a^2", lambda z, a: 1 + a ** 2),
             ("written a (1 - a), sigmoid's", lambda z, a: a * (1 - a))),
    "relu": (("written [z >= 0]", lambda z, a: (z >= 0) * 1.0),),
}
LEFT_OUT = ("left out (dL/dz = dL/da)", lambda z, a: np.ones_like(z))      # any activation's


def reference(net, weights, X, y, mistake=None, layer=None):
    r"""Every parameter gradient (in your layout) by manual's formulas, or as one classic ``mistake`` at
    ``layer`` computes them: ``"at z"``, ``"at a"`` (an activation's derivative evaluated at the wrong
    one of the two), ``"input"`` (dW from another layer's input, ``layer`` being ``(k, j)``), or a
    function ``f'(z, a)`` written for the activation's derivative."""
    Ws = [w.T if net.transposed else w for w in weights[0::2]]       # (out, in), as z = x W^T + b
    xs, zs, activations = [], [], []
    a = X
    for W, b, name in zip(Ws, weights[1::2], net.activations, strict=True):
        activation = manual.ACTIVATIONS[name]()
        xs.append(a)
        zs.append(a @ W.T + b.reshape(-1))
        a = activation(zs[-1])
        activations.append(activation)
    criterion = LOSSES[net.loss][0]()
    criterion(a, y)
    da, grads = criterion.backward(), [None] * len(weights)
    for k in reversed(range(len(Ws))):
        activation = activations[k]
        if layer == k and mistake in ("at z", "at a"):
            wrong = type(activation)()
            if mistake == "at a":
                wrong(activation.a if hasattr(activation, "a") else activation(zs[k]))   # f' at a = f(z)
            else:
                wrong(zs[k])
                wrong.a = zs[k]                               # a formula in a, given z
            activation = wrong
        dz = (da * mistake(zs[k], activation(zs[k])) if callable(mistake) and layer == k
              else activation.backward(da))
        passed = da if (mistake, layer) == ("from da", k) else dz             # what goes back to the layer below
        x = xs[layer[1]] if mistake == "input" and layer[0] == k else xs[k]
        dW = (dz.T @ x).T if net.transposed else dz.T @ x
        factor = {"no l2": 0, "l2 factor": 2 if net.half else 1}.get(mistake, 1 if net.half else 2)
        penalty = factor * net.l2 * weights[2 * k]                                   # d(l2 sum W^2)/dW
        grads[2 * k] = dW + penalty if dW.shape == penalty.shape else dW
        grads[2 * k + 1] = (dz.sum(axis=0).reshape(net.shapes[2 * k + 1])
                            + (2 * net.l2 * weights[2 * k + 1] if mistake == "l2 biases" else 0))
        square = (mistake, layer) == ("W^T", k) and Ws[k].shape[0] == Ws[k].shape[1]
        da = passed @ (Ws[k].T if square else Ws[k])
    return grads


def factor_hint(g, e, batch, dtype="float64"):
    r"""The hint for a gradient ``g`` that is autograd's ``e`` times 2, 1/2, -1, the batch size or its inverse,
    or the batch's rows over another number (a batch size written into the code)."""
    for factor, hint in ((2, "twice autograd's: a factor 2 too many (the 2 of MSE applied twice?)"),
                         (0.5, "half of autograd's: the 2 of (y_pred - y)^2 forgotten, as for a 1/2-MSE"),
                         (-1, "minus autograd's: the sign flipped, (y - y_pred) where (y_pred - y) is due"),
                         (batch, "the batch size times autograd's: a sum where the loss takes the mean "
                                 "(the 1/N forgotten)"),
                         (1 / batch, "autograd's over the batch size: a mean where a sum is due "
                                     "(dW and db add up the batch)")):
        if agree(g, factor * e, dtype):
            return hint
    scale = float(np.vdot(g, e) / np.vdot(e, e)) if np.shape(g) == np.shape(e) and np.vdot(e, e) else 0
    divisor = round(batch / scale) if scale > 0 else 0
    if divisor > 1 and divisor != batch and agree(g, batch / divisor * e, dtype):
        return (f"divided by {divisor}, not by the batch's {batch} rows: a batch size written into the code; "
                "divide by the batch's own size, len(X)")
    return None


def diagnose(net, weights, X, y, k, g, second_call):
    r"""The classic mistake that gives the wrong gradient ``g`` of parameter ``k``, as a hint."""
    e = reference(net, weights, X, y)[k]
    layer, weight = k // 2, k % 2 == 0
    if second_call:
        return ("your gradients accumulate across calls: the first call is right, the second adds to it; "
                "zero every gradient before a backward pass (a forgotten zero_grad, or += into a kept array)")
    if weight and g.shape == e.T.shape and agree(g, e.T, net.dtype):
        return "dW transposed: for (out, in) weights dL/dW = dz^T x, for (in, out) weights x^T dz"
    if not weight:
        hint = bias_hint(g, e, len(X), net.dtype)
        if hint:
            return hint
    factor = factor_hint(g, e, len(X), net.dtype)
    if factor:
        return factor
    for mistake, where, hint in candidates(net, layer, weight):
        if agree(g, reference(net, weights, X, y, mistake, where)[k], net.dtype):
            return hint
    passed = ("dL/dy_pred from the loss" if layer + 1 == len(net.activations)
              else "the gradient passed back to it, da = dz_next W_next")
    return (f"none of the classic mistakes: check layer {layer + 1}'s dz = da * f'(z), dW = dz^T x and db = sum dz, "
            f"and {passed}")


def bias_hint(g, e, batch, dtype):
    r"""The hint for a bias gradient ``g`` of another shape than autograd's ``e``, or averaged; else None. A bias
    of shape ``(n, 1)`` is deeplearning.ai's: the examples are columns, summed over axis 1."""
    summed = "db = dz.sum(axis=1, keepdims=True)" if e.shape[1:] == (1,) else "db = dz.sum(axis=0)"
    if g.shape != e.shape:
        return {(batch, *e.shape): f"the bias gradient is not summed over the batch: {summed}",
                (*e.shape[:-1], batch): f"the bias gradient is not summed over the batch: {summed}",
                (): f"db = dz.sum() adds up every axis, the units too: {summed}",
                (1, *e.shape): f"db keeps the batch axis (keepdims=True): the bias has shape {e.shape}, {summed}",
                (e.shape[0],): f"db lost its axis of 1: the bias has shape {e.shape}, {summed}",
                (1, batch): f"db summed over the units, not the examples: {summed}"}.get(g.shape)
    if agree(g, e / batch, dtype):
        return f"db averaged over the batch, a mean where a sum is due: the bias gradient is {summed}"
    return None


def candidates(net, layer, weight):
    r"""``(mistake, where, hint)`` of every mistake ``reference`` can make at ``layer``, tried in this order."""
    in_a = f"{activation('tanh')[1]} for tanh, {activation('sigmoid')[1]} for sigmoid"
    found = [("at z", layer, f"the activation's derivative taken at z, where its formula is in a: {in_a}"),
             ("at a", layer, f"the activation's derivative taken at a = f(z), where its formula in a is "
                             f"due: {in_a}, with a = f(z) from the forward pass")]
    found += [("input", (layer, j), f"dW from the input of layer {j + 1}, not of its own layer {layer + 1}: "
                                     "dL/dW = dz^T x with this layer's x")
              for j in range(len(net.sizes) - 1) if j != layer]
    if net.l2 and weight:
        found.append(("no l2", layer, f"the L2 term's gradient is missing: dW += {1 if net.half else 2} * reg * W"))
    if net.l2 and not weight:
        found.append(("l2 biases", layer, "the L2 term's gradient is added to the biases too: reg sum(W^2) is on the "
                                          "weights only"))
    if net.l2 and weight:
        found.append(("l2 factor", layer, "the L2 term's gradient has the other factor: d(reg sum W^2)/dW = 2 reg W, "
                                          "d(0.5 reg sum W^2)/dW = reg W"))
    if layer + 1 < len(net.activations):              # what the layer above passed back to this one
        found += [("W^T", layer + 1, f"the gradient passed back through layer {layer + 2} with W^T: dL/dx = dz W for "
                                     "(out, in) weights, dz W^T for (in, out)"),
                  ("from da", layer + 1, f"the gradient passed back from dL/da of layer {layer + 2}, before its "
                                         "activation's derivative: dL/dx = dz W with dz = dL/da f'(z)")]
    name = net.activations[layer]
    return found + [(derivative, layer, f"layer {layer + 1}'s {name} derivative {what}: dL/dz = {activation(name)[1]}")
                    for what, derivative in (*WRONG_DERIVATIVES.get(name, ()), LEFT_OUT)]


def main(argv=None):
    parser = cli.parser("python -m compare.check", __doc__.split("\n\n")[0].replace("``", ""),
                        ("activations", "loss", "seed", "batch_size", "json"))
    parser.add_argument("model", metavar="FILE.py:NAME", nargs="?", help="NAME() builds your model (or MODULE:NAME)")
    parser.add_argument("--catalogue", action="store_true", help="instead, plant each classic mistake of "
                        "compare/catalogue.py into networks of several styles and print how the checker does")
    parser.add_argument("--output-activation", choices=tuple(manual.ACTIVATIONS),
                        help="the output layer's activation (default: the loss's, tanh for mse and l1)")
    parser.add_argument("--l2", type=float, metavar="REG", help="your loss adds REG * sum(W^2) over the weights "
                        "(or half of it, as cs231n writes it both ways; default: your model's reg, else 0)")
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
