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
``--step N`` traces the N-th step of that run, from its weights, optimizer state and shuffled batch
(``--point X,Y --label L``: that one point instead of the batch). Below the
table, both sides' values: batch row ``--row R`` of each per-example quantity, the whole of the rest,
with ``--digits D`` significant digits (17 gives every bit of a float64); ``--json`` holds them all.
"""
import numpy as np
import torch

from . import cli
from .core.config import SETTINGS
from .core.formulas import GRAD_FNS, explain
from .core.pair import Pair, first_difference, sizes
from .files import figure_writer, json_writer, save_outputs
from .graph import edges, graph_lines, name, parameter_of, step_graphs


def trace(config, weights, X, y, state=None):
    r"""Both sides' every quantity of one step from ``weights`` (and optimizer ``state``) on ``X, y``:
    ``Pair(config, weights, state).trace(X, y)``, the list of ``Row``."""
    return Pair(config, weights, state).trace(X, y)


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


def children(node):
    return [child for child, _ in node.next_functions if child is not None]


def size(node):
    r"""How many nodes the backward pass reaches from ``node``, ``node`` included."""
    return 1 + sum(size(child) for child in children(node))


def graph_nodes(root, model):
    r"""Autograd's recorded graph from the node ``root`` (``loss.grad_fn``) as
    ``(depth, label, method, job, parent, node)`` per node.

    Walks ``loss.grad_fn`` through ``next_functions``: at every node the path reaching the most
    nodes (towards the input) goes on at the same depth; every other input (a parameter's
    ``AccumulateGrad``, the ``TBackward0`` of a weight) one deeper. ``parent`` is the index of the
    node whose input it is (None for the loss's). Each ``AccumulateGrad`` is named after the parameter
    of ``model`` it fills; ``method`` and ``job`` are the manual counterpart's.
    """
    found = []

    def walk(node, depth, parent):
        while node is not None:
            label = type(node).__name__
            if label == "AccumulateGrad":
                label += f" ({parameter_of(node, model) or 'leaf'})"
            method, job = GRAD_FNS.get(type(node).__name__, ("(no manual counterpart listed)", ""))
            found.append((depth, label, method, job, parent, node))
            parent = len(found) - 1
            inputs = children(node)
            node = max(inputs, key=size, default=None)
            for other in inputs:
                if other is not node:
                    walk(other, depth + 1, parent)

    walk(root, 0, None)
    return found


def recorded_loss(config, weights, X, y):
    r"""torch's loss of the batch ``X, y`` from ``weights``, its graph recorded and not yet walked, and the model."""
    pair = Pair(config, weights)
    return pair.criteria[1](pair.models[1](torch.tensor(X)), torch.tensor(y)), pair.models[1]


def recorded_graph(config, weights, X, y):
    r"""The torch side's ``grad_fn`` graph of one step (``graph_nodes``); per node, what it passed on in
    ``loss.backward()`` (the shapes of the gradients it sent to its inputs); per node, the node at the same place
    in ``manual/autograd.py``'s graph and whether the edge into it carried the same gradient on both sides
    (``compare.graph``), or None where the engine lacks a setting; and the lines of ``graph_lines`` (or the
    engine's ``ValueError`` saying which setting)."""
    try:
        torch_side, engine_side, pair = step_graphs(config, weights, X, y)
    except ValueError as exc:
        loss, model = recorded_loss(config, weights, X, y)
        loss.backward()
        return graph_nodes(loss.grad_fn, model), [""] * size(loss.grad_fn), None, [f"(manual/autograd.py: {exc})"]
    paired = edges(torch_side, engine_side)
    index = {node: k for k, (node, _) in enumerate(torch_side[0])}
    nodes = graph_nodes(torch_side[0][0][0], pair.models[1])
    passed, engine = [], []
    for *_, parent, node in nodes:
        sent = [edge for edge in paired if edge.node == index[node]]
        shapes = ", ".join(str(tuple(edge.torch.shape)) for edge in sent if edge.torch is not None)
        passed.append("passes on a gradient of shape " + shapes if shapes else "fills .grad")
        into = [edge for edge in paired if parent is not None and edge.to == index[node]
                and edge.node == index[nodes[parent][-1]]]
        twin = engine_side[0][index[node]][0]
        leaf = parameter_of(twin, pair.models[0])
        engine.append((name(twin) + (f" ({leaf})" if leaf else ""), all(edge.equal(config.dtype) for edge in into)))
    return nodes, passed, engine, graph_lines(paired, torch_side[0], pair.models[1], config.dtype)


@np.errstate(over="ignore", invalid="ignore")     # a diverging step is reported as DIVERGED, not warned about
def main(argv=None):
    names = [name for name in SETTINGS if name not in ("free_running",)]
    parser = cli.parser("python -m compare.trace", __doc__.split("\n\n")[0],
                        [*names, "weights", "playground", "exact", "step", "point", "label", "row", "digits", "json",
                         "graph"])
    args = parser.parse_args(argv)
    config, source = cli.configure(parser, args)
    weights, state, X, y = cli.step_and_batch(parser, args, source)
    if not 0 <= args.row < len(X):
        parser.error(f"--row {args.row}: must be an integer in [0, {len(X) - 1}] (step {args.step}'s batch "
                     f"of {len(X)})")
    rows = trace(config, weights, X, y, state)
    first = first_difference(rows, config.dtype)
    out = cli.report_stream(args)
    batch = f"the point ({args.point[0]:g}, {args.point[1]:g})" if args.point else f"batch of {len(X)}"
    print(f"Step {args.step} ({batch}) of the {'-'.join(map(str, sizes(config)))} network "
          f"({'/'.join((*config.activations, config.output_activation))}), {loss_name(rows)}, {config.dtype}, "
          "from identical weights:\n", file=out)
    print(format_rows(rows, config.dtype), "", format_values(rows, args.row, args.digits), "", sep="\n", file=out)
    if first and first.status(config.dtype) == "non-finite":
        print(f"DIVERGED at {first.name} ({first.where}): {explain(first, config)}.", file=out)
    else:
        print(f"First difference: {first.name} ({first.where}); likely cause: {explain(first, config)}" if first
              else "Every quantity agrees.", file=out)
    outputs = [(args.json, json_writer({"step": args.step, "rows": to_json(rows, config.dtype)}))]
    if args.graph:
        from .drawing import graph_figure  # matplotlib: imported only when a figure is asked for
        nodes, passed, engine, lines = recorded_graph(config, weights, X, y)
        print("torch's graph and manual/autograd.py's, node by node (--graph):", *lines, "", sep="\n", file=out)
        figure = graph_figure(nodes, passed, f"Autograd's graph of step {args.step} ({batch}), torch's and "
                                             "manual/autograd.py's", engine)
        outputs.append((args.graph, figure_writer(figure, "--graph", args.graph)))
    save_outputs(parser, outputs)
    return 1 if first else 0


def loss_name(rows):
    return next(row.where for row in rows if row.name == "loss")


if __name__ == "__main__":
    cli.run(main)
