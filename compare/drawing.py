r"""The network at one step, drawn as Playground draws it, with the numbers on it.

Neurons in columns, the inputs first; a link's colour is its weight's sign (blue positive, orange
negative, as Playground) and its width the weight's size. On each neuron, for one row of the batch:
the forward pass (``z``, ``a``) above it in black, the backward pass (``dL/dz``) below it in red;
beside it, while there are few enough to read, its incoming links: each weight, the weight after
the update and, in red, ``dL/dW``. Every value is marked ✓ where manual's equals autograd's (the
comparison's rule) and ✗ where not. ``python -m compare.walkthrough --plot step.png`` draws it.
"""
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from .core.pair import sizes, tolerance_ratio

BLUE, ORANGE, RED = "#0877bd", "#f59322", "#c0392b"
MAX_FAN_IN = 4               # a neuron with more inputs shows its links by colour and width only


def mark(row, index, dtype):
    r"""``✓`` where manual's value at ``index`` equals autograd's within the tolerance, else ``✗``."""
    return "✓" if tolerance_ratio(row.manual[index], row.torch[index], dtype) <= 1 else "✗"


def value(row, index, dtype):
    return f"{row.manual[index]:.3g} {mark(row, index, dtype)}"


def network_figure(config, weights, rows, title, row=0):
    r"""The figure of the trace ``rows`` of one step from ``weights``: batch row ``row`` on the neurons."""
    by = {r.name: r for r in rows}
    layers = sizes(config)
    gap = 1.4                                        # between neurons: room for the values above and below
    # 4 units between columns, about 0.9 inch a unit, the plot's aspect equal
    fig = Figure(figsize=(3.6 * len(layers) + 0.6, 0.9 * (gap * max(layers) + 1.7) + 1.4), dpi=100,
                 layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    where = [[(4.0 * k, gap * ((n - 1) / 2 - j)) for j in range(n)] for k, n in enumerate(layers)]
    names = [name.removesuffix(".weight") for name in weights if name.endswith(".weight")]
    for k, name in enumerate(names, 1):
        W, new_W, dW = weights[f"{name}.weight"], by[f"new_W{k}"], by[f"dL/dW{k}"]
        largest = max(np.abs(W).max(), 1e-12)
        for j, i in np.ndindex(W.shape):
            (x0, y0), (x1, y1) = where[k - 1][i], where[k][j]
            ax.plot([x0, x1], [y0, y1], color=BLUE if W[j, i] >= 0 else ORANGE, alpha=0.8, zorder=1,
                    linewidth=0.5 + 4 * abs(W[j, i]) / largest)
        if W.shape[1] > MAX_FAN_IN:
            continue
        for j, (x, y) in enumerate(where[k]):         # beside each neuron, its incoming links, one per input
            weights_text = "\n".join(f"w{i + 1} {W[j, i]:.3g} → {value(new_W, (j, i), config.dtype)}\n"
                                     for i in range(W.shape[1]))
            gradients_text = "\n".join(f"\ndL/dw{i + 1} {value(dW, (j, i), config.dtype)}" for i in range(W.shape[1]))
            ax.text(x - 0.5, y, weights_text, ha="right", va="center", fontsize=6.5, zorder=3, linespacing=1.15,
                    bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1))
            ax.text(x - 0.5, y, gradients_text, ha="right", va="center", fontsize=6.5, color=RED, zorder=4,
                    linespacing=1.15)
    for j, (x, y) in enumerate(where[0]):
        ax.add_patch(Circle((x, y), 0.35, facecolor="#eeeeee", edgecolor="black", zorder=2))
        ax.text(x - 0.45, y, f"{config.features[j]} = {by['x1'].manual[row, j]:.3g}", ha="right", va="center",
                fontsize=8)
    for k, column in enumerate(where[1:], 1):
        z, a, dz = by[f"z{k}"], by[f"a{k}"], by[f"dL/dz{k}"]
        for j, (x, y) in enumerate(column):
            ax.add_patch(Circle((x, y), 0.35, facecolor="white", edgecolor="black", zorder=2))
            ax.text(x, y + 0.42, f"z {value(z, (row, j), config.dtype)}\na {value(a, (row, j), config.dtype)}",
                    ha="center", va="bottom", fontsize=7.5, zorder=4)
            ax.text(x, y - 0.42, f"dL/dz {value(dz, (row, j), config.dtype)}", ha="center", va="top",
                    fontsize=7.5, color=RED, zorder=4)
    ax.text(0.0, -0.02, "black: forward pass (z, a); red: backward pass (dL/dz, dL/dw); beside a neuron: the weight of "
            "each of its inputs (w1 from the top one) → after the update; ✓ equals autograd's, ✗ does not. "
            "Blue links are positive weights, orange negative; the wider, the larger.",
            transform=ax.transAxes, fontsize=8, va="top", wrap=True)
    ax.set_xlim(-2.2, 4.0 * (len(layers) - 1) + 1.2)
    ax.set_ylim(-gap * max(layers) / 2 - 0.8, gap * max(layers) / 2 + 0.9)
    ax.set_aspect("equal")
    return fig


def graph_figure(nodes, passed, title, engine=None):
    r"""Autograd's graph of one step (``trace.graph_nodes``), a box per node beside the manual method
    that does its job; ``passed[k]`` is what node ``k`` passed on in the backward pass (the shapes of
    the gradients it sent to its inputs, or the parameter it filled). ``engine``, if given: per node, the
    name of ``manual/autograd.py``'s node at the same place and whether the gradient along the edge into
    it was the same as torch's; its graph is drawn beside torch's, each edge green where equal, red where not."""
    deepest = max(depth for depth, *_ in nodes)
    width = 3.4 * deepest + 6.0                      # one tree, its widest box included
    trees = [(0.0, [label for _, label, *_ in nodes], [True] * len(nodes))]
    if engine is not None:
        trees.append((width + 0.4, [label + ("" if ok else " ✗") for label, ok in engine], [ok for _, ok in engine]))
    column = trees[-1][0] + width + 1.2               # the manual side, in one column right of the trees
    fig = Figure(figsize=(5.2 + 3.6 * len(trees), 0.62 * len(nodes) + 1.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    for (x0, labels, oks), heading in zip(trees, ("torch: loss.grad_fn", "manual/autograd.py"), strict=False):
        ax.text(x0, 1.0, heading, fontsize=9, fontstyle="italic", va="center", ha="left")
        draw_tree(ax, nodes, labels, oks, x0)
    for k in range(len(nodes)):
        _, _, method, job, *_ = nodes[k]
        ax.plot([trees[-1][0] + 3.4 * nodes[k][0] + 5.4, column - 0.1], [-k, -k], color="#dddddd", linewidth=0.6,
                linestyle=":", zorder=0)
        ax.text(column, -k, f"{method}: {job}\n{passed[k]}", fontsize=7, va="center", ha="left", color="#333333")
    beside = (" Beside torch's graph, manual/autograd.py's, recorded by the same forward pass: each of its edges green "
              "where it carried the same gradient as torch's, red and ✗ where not." if engine is not None else "")
    ax.text(0, -len(nodes), "loss.backward() runs the nodes from the top: the main path (blue) back to the first "
            f"layer's weight; each box's inputs hang below it.{beside} Right: the manual code that does each node's "
            "job, and what it passed on.", fontsize=8, va="top", wrap=True)
    ax.set_xlim(-0.3, column + 8.5)
    ax.set_ylim(-len(nodes) - 0.8, 1.5)
    return fig


def draw_tree(ax, nodes, labels, oks, x0):
    r"""One side's graph at ``x0``: a box per node (``labels``), a line from the node that passes it its gradient,
    green where ``oks`` says that edge's gradient was equal on both sides, red where not (grey for torch's own)."""
    where = [(x0 + 3.4 * depth, -k) for k, (depth, *_rest) in enumerate(nodes)]
    for k, (depth, *_, parent, _) in enumerate(nodes):
        x, y = where[k]
        if parent is not None:
            px, py = where[parent]
            color = "#888888" if x0 == 0 else "#2e8b57" if oks[k] else "#cc2222"
            ax.plot([px, px, x], [py, y, y], color=color, linewidth=1.2, zorder=1)
        ax.text(x, y, labels[k], fontsize=8.5, fontweight="bold", va="center", ha="left", zorder=2,
                bbox=dict(facecolor="#b9d3ee" if depth == 0 else "#f4f4f4", edgecolor="#555555", boxstyle="round"))
