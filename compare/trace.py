r"""One training step taken apart: every intermediate of manual beside autograd's, in computation order.

From identical weights and one batch, both sides run layer by layer. For each layer ``k`` the trace
records, on the way forward, its input ``x_k``, pre-activation ``z_k = x_k W_k^T + b_k`` and
activation ``a_k = f(z_k)``; then the loss and ``dL/dy_pred``; then, on the way back from the output,
``dL/da_k``, ``dL/dz_k``, ``dL/dW_k``, ``dL/db_k`` and ``dL/dx_k`` (torch's through ``retain_grad``);
then each parameter after the optimizer's step, ``new_W_k`` and ``new_b_k``.
Each row says whether the two are bit for bit the same (``exact``), within the tolerance
(``close``) or not (``DIFFERENT``). The first ``DIFFERENT`` row is where a bug shows first: the
backprop ninja's ``cmp`` table, for a whole network.

``python -m compare.trace`` prints it for any configuration ``python -m compare`` accepts;
``--step N`` traces the N-th step of that run, from its weights and its shuffled batch. Below the
table, both sides' values: batch row ``--row R`` of each per-example quantity, the whole of the rest,
with ``--digits D`` significant digits (17 gives every bit of a float64); ``--json`` holds them all.
"""
import itertools
from dataclasses import dataclass

import numpy as np
import torch

import manual

from . import options
from .files import json_writer, png_writer, save_outputs
from .options import SETTINGS
from .pair import (
    LOSS_HINTS,
    epoch_batches,
    make_criteria,
    make_optimizers,
    make_pair,
    read_only,
    run_data,
    sizes,
    start,
    tolerance_ratio,
)

DIVERGED_HINT = "both sides overflowed to NaN or infinity: training diverged here, try a smaller --lr"
# What a first difference at each kind of quantity most likely means.
HINTS = {
    "x": "the input of a layer differs although the previous activation agrees: check the forward loop",
    "z": "the linear layer's forward pass: z = x W^T + b",
    "a": "the activation's forward pass: a = f(z)",
    "dL/da": "the gradient passed back from the next layer: dL/da = dz_next W_next",
    "dL/dz": "the activation's derivative: dL/dz = dL/da f'(z), e.g. tanh' = 1 - a**2, sigmoid' = a (1 - a)",
    "dL/dW": "the weight gradient: dL/dW = dz^T x",
    "dL/db": "the bias gradient: dL/db = dz summed over the batch",
    "dL/dx": "the input gradient: dL/dx = dz W",
    "new_W": "the optimizer's step on a weight: SGD is W - lr (dL/dW + weight_decay W); Adam as docs/optimizers.md",
    "new_b": "the optimizer's step on a bias, weight decay included (torch's optimizers decay every parameter)",
}


# What each node of autograd's graph does, and the manual method doing the same job.
GRAD_FNS = {
    "MseLossBackward0": ("manual.MSELoss.backward", "dL/dy_pred = 2 (y_pred - y) / N"),
    "MeanBackward0": ("manual.L1Loss.backward", "the mean's 1 / N"),
    "AbsBackward0": ("manual.L1Loss.backward", "the derivative of |d|: sign(d), 0 at 0"),
    "SubBackward0": ("manual.L1Loss.backward", "d = y_pred - y: passed on to y_pred unchanged"),
    "BinaryCrossEntropyBackward0": ("manual.BCELoss.backward", "dL/dp = (p - y) / max(p (1 - p), 1e-12) / N"),
    "BinaryCrossEntropyWithLogitsBackward0": ("manual.BCEWithLogitsLoss.backward", "dL/dz = (sigmoid(z) - y) / N"),
    "NllLossBackward0": ("manual.CrossEntropyLoss.backward", "-log_softmax[y] / N: -1 / N at the target's class"),
    "LogSoftmaxBackward0": ("manual.CrossEntropyLoss.backward", "with the above: dL/dz = (softmax(z) - onehot(y)) / N"),
    "TanhBackward0": ("manual.layers.Tanh.backward", "dL/dz = dL/da * (1 - a^2)"),
    "SigmoidBackward0": ("manual.layers.Sigmoid.backward", "dL/dz = dL/da * a * (1 - a)"),
    "ReluBackward0": ("manual.layers.ReLU.backward", "dL/dz = dL/da * [z > 0]"),
    "EluBackward0": ("manual.layers.ELU.backward (SELU's too)", "dL/dz = dL/da * (1, or exp(z) for z <= 0), scaled"),
    "SoftplusBackward0": ("manual.layers.Softplus.backward", "dL/dz = dL/da * sigmoid(z)"),
    "AddmmBackward0": ("manual.layers.Linear.backward", "z = b + x W^T: dx = dz W, dW = dz^T x, db = sum dz"),
    "TBackward0": ("manual.layers.Linear.backward", "the W^T of z = x W^T + b: transposes dW back to W's shape"),
    "AccumulateGrad": ("manual.Parameter.accumulate_grad", "p.grad += the gradient"),
}


@dataclass
class Row:
    r"""One quantity of the trace, on both sides."""
    name: str              # e.g. "z2", "dL/dW1"
    where: str             # e.g. "layer2", "layer1.weight", "MSELoss"
    manual: np.ndarray
    torch: np.ndarray

    @property
    def kind(self):
        return self.name.rstrip("0123456789")

    @property
    def max_abs_diff(self):
        return float(np.abs(self.manual - self.torch).max(initial=0.0))

    @property
    def max_rel_diff(self):
        scale = np.maximum(np.abs(self.manual), np.abs(self.torch))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(scale > 0, np.abs(self.manual - self.torch) / scale, 0.0)
        return float(rel.max(initial=0.0))

    def status(self, dtype):
        r"""``exact``, ``close``, ``DIFFERENT``, or ``non-finite`` where both sides hold a NaN or an infinity."""
        if self.manual.shape != self.torch.shape:
            return "DIFFERENT"
        if np.array_equal(self.manual, self.torch):
            return "exact"
        if not (np.isfinite(self.manual).all() or np.isfinite(self.torch).all()):
            return "non-finite"                      # both overflowed: the step diverges, it is not a bug
        return "close" if np.all(tolerance_ratio(self.manual, self.torch, dtype) <= 1) else "DIFFERENT"


def layer_pairs(model):
    r"""``[(layer1, activation1), ..., (layer_out, acti_out)]`` with their names, for either side."""
    children = list(model.named_children())
    return list(zip(children[0::2], children[1::2], strict=True))


def trace(config, weights, X, y):
    r"""Run one forward and backward pass on both sides from ``weights``; return the ``Row`` list.

    ``X`` and ``y`` are NumPy arrays of ``config.dtype``; neither side can change them.
    """
    manual_model, torch_model = make_pair(config, np.random.default_rng(0), weights)
    X, y = read_only(X), read_only(y)
    t_x = torch.tensor(X, requires_grad=True)
    rows, forward = [], []
    x = X
    for k, (((name, layer), (_, activation)), ((_, t_layer), (_, t_activation))) in enumerate(
            zip(layer_pairs(manual_model), layer_pairs(torch_model), strict=True), 1):
        z, t_z = layer(x), t_layer(t_x)
        a, t_a = activation(z), t_activation(t_z)
        for t in (t_z, t_a):
            t.retain_grad()
        rows += [Row(f"x{k}", name, x, t_x.detach().numpy()), Row(f"z{k}", name, z, t_z.detach().numpy()),
                 Row(f"a{k}", name, a, t_a.detach().numpy())]
        forward.append((k, name, layer, activation, t_layer, t_x, t_z, t_a))
        x, t_x = a, t_a
    criterion, t_criterion = make_criteria(config)
    loss = criterion(x, y)
    t_loss = t_criterion(t_x, torch.tensor(y))
    t_loss.backward()
    da = criterion.backward()
    loss_name = type(criterion).__name__
    rows += [Row("loss", loss_name, np.asarray(loss), t_loss.detach().numpy()),
             Row("dL/dy_pred", loss_name, da, t_x.grad.numpy())]
    for k, name, layer, activation, t_layer, t_x, t_z, t_a in reversed(forward):
        dz = activation.backward(da)
        dx = layer.backward(dz)
        rows += [Row(f"dL/da{k}", name, da, t_a.grad.numpy()), Row(f"dL/dz{k}", name, dz, t_z.grad.numpy()),
                 Row(f"dL/dW{k}", f"{name}.weight", layer.weight.grad, t_layer.weight.grad.numpy()),
                 Row(f"dL/db{k}", f"{name}.bias", layer.bias.grad, t_layer.bias.grad.numpy()),
                 Row(f"dL/dx{k}", name, dx, t_x.grad.numpy())]
        da = dx
    for optimizer in make_optimizers(config, manual_model, torch_model):     # the step's update, from a fresh state
        optimizer.step()
    for k, name, layer, _, t_layer, *_ in forward:
        rows += [Row(f"new_W{k}", f"{name}.weight", layer.weight.data, t_layer.weight.detach().numpy()),
                 Row(f"new_b{k}", f"{name}.bias", layer.bias.data, t_layer.bias.detach().numpy())]
    return rows


def first_difference(rows, dtype):
    r"""The first ``DIFFERENT`` or ``non-finite`` row, or None."""
    return next((row for row in rows if row.status(dtype) in ("DIFFERENT", "non-finite")), None)


def explain(row, config):
    r"""What the first difference ``row`` of a trace under ``config`` most likely means."""
    if row.status(config.dtype) == "non-finite":
        return DIVERGED_HINT
    if row.kind in ("loss", "dL/dy_pred"):
        loss, gradient = LOSS_HINTS[config.loss]
        return f"the loss: {loss}" if row.kind == "loss" else f"the loss gradient: {gradient}"
    return HINTS[row.kind]


def format_rows(rows, dtype):
    r"""The comparison table, one row per quantity."""
    lines = [f"{'quantity':12}{'where':18}{'shape':>9}  {'max |diff|':>10}  {'max rel':>9}  verdict"]
    for row in rows:
        shape = "x".join(map(str, row.manual.shape)) or "()"
        lines.append(f"{row.name:12}{row.where:18}{shape:>9}  {row.max_abs_diff:10.2e}  "
                     f"{row.max_rel_diff:9.2e}  {row.status(dtype)}")
    return "\n".join(lines)


def values_text(value, digits):
    r"""An array on one line, each number with ``digits`` significant digits: ``[[0.1234, -0.5], ...]``."""
    if np.ndim(value) == 0:
        return f"{float(value):.{digits}g}"
    return "[" + ", ".join(values_text(part, digits) for part in value) + "]"


def format_values(rows, row, digits):
    r"""Each quantity's values on both sides: batch row ``row`` of a per-example quantity (x, z, a, dL/d...),
    the whole of a parameter's gradient or update and of the loss."""
    lines = [f"Values ({digits} significant digits, --digits; per-example quantities at batch row {row}, --row):"]
    for r in rows:
        per_example = r.manual.ndim == 2 and "." not in r.where          # not a parameter's
        pick = (lambda a: a[row]) if per_example else (lambda a: a)
        label = f"{r.name}[{row}]" if per_example else r.name
        lines += [f"  {label:14}manual    {values_text(pick(r.manual), digits)}",
                  f"  {'':14}autograd  {values_text(pick(r.torch), digits)}"]
    return "\n".join(lines)


def to_json(rows, dtype):
    r"""Every row with its verdict and both sides' values, in full."""
    return [{"quantity": row.name, "where": row.where, "shape": list(row.manual.shape),
             "max_abs_diff": row.max_abs_diff, "max_rel_diff": row.max_rel_diff, "status": row.status(dtype),
             "manual": np.asarray(row.manual, np.float64).tolist(),
             "autograd": np.asarray(row.torch, np.float64).tolist()}
            for row in rows]


def step_start(config, weights, step):
    r"""The weights and the batch ``(X, y)`` that step ``step`` (from 1) of the lockstep run starts from.

    Every step of the run starts from manual's weights (torch is re-synchronised from them), so
    manual alone, trained on the run's batches in the run's order, reaches them.
    """
    X_train, y_train, _, _ = run_data(config)
    per_epoch = len(epoch_batches(config, np.random.default_rng(0), len(X_train), 1))   # the same every epoch
    if not 1 <= step <= per_epoch * config.epochs:
        raise ValueError(f"--step {step}: must be an integer in [1, {per_epoch * config.epochs}] "
                         f"({config.epochs} epoch{'s' * (config.epochs > 1)} of {per_epoch} steps)")
    models, rng = start(config, weights)
    optimizer, criterion = make_optimizers(config, *models)[0], make_criteria(config)[0]
    for epoch in itertools.count(1):
        for idx in epoch_batches(config, rng, len(X_train), epoch):
            step -= 1
            if step == 0:
                return models[0].state_dict(), X_train[idx], y_train[idx]
            manual.train_step(models[0], optimizer, criterion, read_only(X_train[idx]), read_only(y_train[idx]))


def children(node):
    return [child for child, _ in node.next_functions if child is not None]


def size(node):
    r"""How many nodes the backward pass reaches from ``node``, ``node`` included."""
    return 1 + sum(size(child) for child in children(node))


def graph_nodes(loss, model=None):
    r"""Autograd's recorded graph behind ``loss`` as ``(depth, label, method, job, parent, node)`` per node.

    Walks ``loss.grad_fn`` through ``next_functions``: at every node the path reaching the most
    nodes (towards the input) goes on at the same depth; every other input (a parameter's
    ``AccumulateGrad``, the ``TBackward0`` of a weight) one deeper. ``parent`` is the index of the
    node whose input it is (None for the loss's). With ``model``, each ``AccumulateGrad`` is named
    after the parameter it fills; ``method`` and ``job`` are the manual counterpart's.
    """
    names = {id(p): name for name, p in model.named_parameters()} if model is not None else {}
    found = []

    def walk(node, depth, parent):
        while node is not None:
            label = type(node).__name__
            if label == "AccumulateGrad":
                label += f" ({names.get(id(node.variable), 'leaf')})"
            method, job = GRAD_FNS.get(type(node).__name__, ("(no manual counterpart listed)", ""))
            found.append((depth, label, method, job, parent, node))
            parent = len(found) - 1
            inputs = children(node)
            node = max(inputs, key=size, default=None)
            for other in inputs:
                if other is not node:
                    walk(other, depth + 1, parent)

    walk(loss.grad_fn, 0, None)
    return found


def recorded_graph(config, weights, X, y):
    r"""The torch side's ``grad_fn`` graph of one step (``graph_nodes``), and per node what it
    passed on in ``loss.backward()``: the shapes of the gradients it sent to its inputs."""
    model = make_pair(config, np.random.default_rng(0), weights)[1]
    loss = make_criteria(config)[1](model(torch.tensor(X)), torch.tensor(y))
    nodes = graph_nodes(loss, model)
    passed = {}
    for k, (*_, node) in enumerate(nodes):
        def hook(grad_inputs, grad_outputs, k=k):
            shapes = [tuple(g.shape) for g in grad_inputs if g is not None]
            passed[k] = "passes on a gradient of shape " + ", ".join(map(str, shapes)) if shapes else "fills .grad"
        node.register_hook(hook)
    loss.backward()
    return nodes, [passed.get(k, "") for k in range(len(nodes))]


@np.errstate(over="ignore", invalid="ignore")     # a diverging step is reported as DIVERGED, not warned about
def main(argv=None):
    names = [name for name in SETTINGS if name not in ("free_running",)]
    parser = options.parser("python -m compare.trace", __doc__.split("\n\n")[0],
                            [*names, "weights", "playground", "exact", "step", "row", "digits", "json", "graph"])
    args = parser.parse_args(argv)
    config, weights = options.configure(parser, args)
    try:
        state, X, y = step_start(config, weights, args.step)
        if not 0 <= args.row < len(X):
            raise ValueError(f"--row {args.row}: must be an integer in [0, {len(X) - 1}] (step {args.step}'s batch "
                             f"of {len(X)})")
    except ValueError as exc:
        parser.error(str(exc))
    rows = trace(config, state, X, y)
    first = first_difference(rows, config.dtype)
    out = options.report_stream(args)
    network = "-".join(map(str, sizes(config)))
    activations = "/".join((*config.activations, config.output_activation))
    print(f"Step {args.step} (batch of {len(X)}) of the {network} network ({activations}), "
          f"{type(make_criteria(config)[0]).__name__}, {config.dtype}, from identical weights:\n", file=out)
    print(format_rows(rows, config.dtype), file=out)
    print(file=out)
    if args.step > 1 and (config.optimizer != "sgd" or config.momentum):
        print(f"(new_W, new_b: one step from a fresh {config.optimizer} state; the run's state at step {args.step} "
              "is not replayed)\n", file=out)
    print(format_values(rows, args.row, args.digits), file=out)
    print(file=out)
    if first and first.status(config.dtype) == "non-finite":
        print(f"DIVERGED at {first.name} ({first.where}): {DIVERGED_HINT}.", file=out)
    else:
        print(f"First difference: {first.name} ({first.where}); likely cause: {explain(first, config)}" if first
              else "Every quantity agrees.", file=out)
    outputs = [(args.json, json_writer({"step": args.step, "rows": to_json(rows, config.dtype)}))]
    if args.graph:
        from .drawing import graph_figure  # matplotlib: imported only when a figure is asked for
        nodes, passed = recorded_graph(config, state, X, y)
        outputs.append((args.graph, png_writer(graph_figure(nodes, passed, f"Autograd's graph of step {args.step} "
                                                                           f"(batch of {len(X)})"))))
    save_outputs(parser, outputs)
    return 1 if first else 0


if __name__ == "__main__":
    options.run(main)
