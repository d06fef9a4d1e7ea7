r"""One SGD step with every number written out: ``python -m compare.walkthrough``.

One example (or a batch of up to 4) goes forward through the network, through the loss, back layer
by layer and through the SGD update. Every number is manual's value of that quantity in the step's
trace (``Pair.trace``, the same value every tool prints), shown with its formula and the numbers put
into it, beside autograd's value of the same quantity. Then autograd's ``grad_fn`` graph, each node
beside the manual method that does its job. docs/tools/walkthrough.md shows the output.

From Python, e.g. in a notebook::

    from compare.core import Config
    from compare.walkthrough import walkthrough
    print(walkthrough(Config(dtype="float64"), [(0.5, -1.0)], [1]))
"""
from dataclasses import dataclass, replace

import numpy as np

from . import cli
from .core.formulas import LOSSES, activation
from .core.pair import TOLERANCES, Row, sizes
from .core.source import Source, points_batch
from .files import figure_writer, save_outputs
from .trace import graph_nodes, recorded_loss, trace, values_text

MAX_POINTS = 4    # every dL/dW is a sum over the batch: beyond a few samples the formulas stop being readable
MAX_PRINTED = 2000   # values; a larger network gets a count per section instead of pages of numbers


def short(value, digits=4):
    return f"{float(value):.{digits}g}"


def array_text(array):
    r"""``[[0.1234, -0.5], [...]]`` with 4 significant digits, on one line."""
    return values_text(array, 4)


@dataclass
class Value:
    r"""One number of the step: its formula, the formula with the numbers put in, manual's value and
    autograd's value of the same quantity (both from the step's trace)."""
    name: str              # "z2[0]", "dL/dW2[0,1]", "W2[0,1]"
    formula: str           # "x2 . W2[0] + b2[0]"; for a value passed on unchanged, the name of its source
    numbers: str           # the formula with the numbers: "(0.1)(0.5) + (-0.2)(0.25) + (0)"; "" when passed on
    manual: float
    autograd: float
    assign: str = "="      # "<-" for an update
    digits: int = 4        # significant digits printed
    sample: int = None     # the batch row of a per-example quantity; None for a sum over the batch or a parameter

    def text(self):
        parts = [self.formula, self.numbers, short(self.manual, self.digits)]
        return f"{self.name} {self.assign} " + " = ".join(part for part in parts if part)

    def status(self, dtype):
        r"""``exact``, ``close`` or ``DIFFERENT``: ``compare.trace``'s rule, at full precision."""
        return Row(self.name, "", np.asarray(self.manual), np.asarray(self.autograd)).status(dtype)


def signed(value):
    r"""A number to put into a formula: in parentheses where negative, ``exp(-(-0.5))``."""
    return f"({short(value)})" if value < 0 else short(value)


def products(pairs, digits=4):
    return " + ".join(f"({short(a, digits)})({short(b, digits)})" for a, b in pairs)


def index(batch, n, j):
    r"""``[j]`` for a single example, ``[n,j]`` (sample n, element j) for a batch."""
    return f"[{j}]" if batch == 1 else f"[{n},{j}]"


class Step:
    r"""The step's trace by name, the weights it started from (``W1``, ``b1``, ...), and a ``Value`` for any
    element of a quantity of the trace."""

    def __init__(self, rows, batch, before):
        self.rows, self.batch, self.before = {row.name: row for row in rows}, batch, before

    def value(self, name, position, formula, numbers, sample=None):
        r"""Element ``position`` of quantity ``name``: ``[n,j]`` of a per-example one (its batch row ``sample``,
        just ``[j]`` for a single example), ``[j,i]`` or ``[j]`` of a parameter's."""
        row = self.rows[name]
        label = index(self.batch, *position) if sample is not None else f"[{','.join(map(str, position))}]"
        return Value(name + label, formula, numbers, row.manual[position], row.torch[position], sample=sample)


def forward_section(step, layers, X):
    r"""Each layer's ``z`` and ``a``, with their formulas and the numbers put in."""
    lines, batch = [], len(X)
    for k, name, kind in layers:
        x, W, b = step.rows[f"x{k}"].manual, step.before[f"W{k}"], step.before[f"b{k}"]
        source = ("the example" if batch == 1 else "the examples") if k == 1 else f"a{k - 1}"
        lines.append(f"layer {k} ({name}, {kind}): x{k} = {source} = {array_text(x[0] if batch == 1 else x)}")
        for n, j in np.ndindex(step.rows[f"z{k}"].manual.shape):
            numbers = products(zip(x[n], W[j], strict=True)) + f" + ({short(b[j])})"
            lines.append(step.value(f"z{k}", (n, j), f"x{k}{'' if batch == 1 else f'[{n}]'} . W{k}[{j}] + b{k}[{j}]",
                                    numbers, sample=n))
        for n, j in np.ndindex(step.rows[f"a{k}"].manual.shape):
            z = step.rows[f"z{k}"].manual[n, j]
            f, numbers = activation(kind, z=f"z{k}{index(batch, n, j)}")[0], activation(kind, z=signed(z))[0]
            lines.append(step.value(f"a{k}", (n, j), f, numbers if kind != "linear" else "", sample=n))
    return "Forward", lines


LOSS_NOTES = {"bce": "y_pred is a probability p, the sigmoid output; ",
              "bce-logits": "y_pred is a logit z (a linear output): the loss applies the sigmoid itself; ",
              "cross-entropy": "y_pred holds two logits per example, y a class index; "}


def loss_section(config, step, layers, y):
    r"""The loss and ``dL/dy_pred``, with their formulas and the numbers put in."""
    last, name, batch = layers[-1][0], layers[-1][1], len(y)
    y_pred = step.rows[f"a{last}"].manual
    labels = array_text(y.reshape(-1)[0] if batch == 1 else y.reshape(-1))
    lines = [f"y_pred = a{last} (the output of layer {last}, {name}), y = {labels} the label; "
             f"{LOSS_NOTES.get(config.loss, '')}N = {y.size} {'examples' if y.ndim == 1 else 'elements'}"]
    _, term, gradient, _ = LOSSES[config.loss]
    if config.loss == "cross-entropy":        # an element of softmax(z) - onehot(y), and softmax's numbers
        shifted = np.exp(y_pred - y_pred.max(axis=1, keepdims=True))
        softmax = shifted / shifted.sum(axis=1, keepdims=True)
        gradient = "(softmax({p})[{j}] - [{j} == {y}]) / N"
        rows = [("" if batch == 1 else f"[{n}]", y_pred[n], y[n]) for n in range(batch)]
    else:
        rows = [(index(batch, n, 0), y_pred[n, 0], y[n, 0]) for n in range(batch)]
    numbers = " + ".join(term.format(p=f"({numbers_of(p)})", y=f"({short(t)})") for _, p, t in rows)
    value = step.rows["loss"]
    lines.append(Value("L", f"({' + '.join(term.format(p=f'y_pred{i}', y=f'y{i}') for i, _, _ in rows)}) / N",
                       f"({numbers}) / {y.size}", value.manual, value.torch))
    for n, j in np.ndindex(step.rows["dL/dy_pred"].manual.shape):
        i, p, t = rows[n]
        numbers = (f"(({short(softmax[n, j])}) - {int(j == t)}) / N" if config.loss == "cross-entropy" else
                   gradient.format(p=f"({short(p)})", y=f"({short(t)})"))
        lines.append(step.value("dL/dy_pred", (n, j), gradient.format(p=f"y_pred{i}", y=f"y{i}", j=j),
                                numbers.replace("/ N", f"/ {y.size}"), sample=n))
    return "Loss", lines


def numbers_of(p):
    return short(p) if np.ndim(p) == 0 else ", ".join(map(short, p))


def backward_sections(step, layers):
    r"""From the output layer down: ``dL/da``, ``dL/dz``, ``dL/dW``, ``dL/db``, ``dL/dx``, with their formulas."""
    sections, source, batch = [], "dL/dy_pred", step.batch
    for k, name, kind in reversed(layers):
        x, dz, a, z = (step.rows[key].manual for key in (f"x{k}", f"dL/dz{k}", f"a{k}", f"z{k}"))
        W = step.before[f"W{k}"]
        lines = [step.value(f"dL/da{k}", (n, j), f"{source}{index(batch, n, j)}", "", sample=n)
                 for n, j in np.ndindex(dz.shape)]
        for n, j in np.ndindex(dz.shape):
            i, da = index(batch, n, j), step.rows[f"dL/da{k}"].manual[n, j]
            formula = activation(kind, z=f"z{k}{i}", a=f"a{k}{i}", da=f"dL/da{k}{i}")[1]
            numbers = activation(kind, z=f"({short(z[n, j])})", a=f"({short(a[n, j])})", da=f"({short(da)})")[1]
            lines.append(step.value(f"dL/dz{k}", (n, j), formula, numbers, sample=n))
        if batch > 1:
            lines.append(f"dL/dW{k} and dL/db{k} add up the {batch} samples' contributions")
        lines += [step.value(f"dL/dW{k}", (j, i), f"dL/dz{k}[{j}] * x{k}[{i}]" if batch == 1 else
                             f"sum_n dL/dz{k}[n,{j}] * x{k}[n,{i}]", products(zip(dz[:, j], x[:, i], strict=True)))
                  for j, i in np.ndindex(W.shape)]
        lines += [step.value(f"dL/db{k}", (j,), *((f"dL/dz{k}[{j}]", "") if batch == 1 else
                                                  (f"sum_n dL/dz{k}[n,{j}]", " + ".join(f"({short(v)})" for v in
                                                                                        dz[:, j]))))
                  for j in range(W.shape[0])]
        lines.append(f"dL/dx{k} is passed back to layer {k - 1} as dL/da{k - 1}" if k > 1 else
                     "dL/dx1 is dL/dX, the gradient with respect to the example (autograd: X.grad); nothing uses it")
        lines += [step.value(f"dL/dx{k}", (n, i), f"dL/dz{k}{'' if batch == 1 else f'[{n}]'} . W{k}[:,{i}]",
                             products(zip(dz[n], W[:, i], strict=True)), sample=n)
                  for n, i in np.ndindex(x.shape)]
        sections.append((f"Backward: layer {k} ({name}, {kind})", lines))
        source = f"dL/dx{k}"
    return sections


def sgd_section(config, step, layers):
    lr, wd = config.lr, config.weight_decay
    lines = ["W <- W - lr (dL/dW + wd W), biases alike, with 6 significant digits so that the change shows;",
             "autograd: torch.optim.SGD(model.parameters(), lr, weight_decay=wd).step()"]
    for k, _, _ in layers:
        for symbol in ("W", "b"):
            old, grad = step.before[f"{symbol}{k}"], step.rows[f"dL/d{symbol}{k}"].manual
            for position in np.ndindex(old.shape):
                label = f"{symbol}{k}[{','.join(map(str, position))}]"
                p, g = old[position], grad[position]
                new = step.rows[f"new_{symbol}{k}"]
                lines.append(Value(label, f"{label} - lr (dL/d{label} + wd {label})",
                                   f"({short(p, 6)}) - {lr} (({short(g, 6)}) + {wd} ({short(p, 6)}))",
                                   new.manual[position], new.torch[position], assign="<-", digits=6))
    return f"SGD update (lr {lr}, weight decay {wd})", lines


def grad_fn_chain(loss, model=None):
    r"""Autograd's recorded graph behind ``loss`` (``graph_nodes``), one line per node beside its manual
    counterpart, the path towards the input at one indentation, ``<- Node``; the first line is that
    main path in one line."""
    nodes = graph_nodes(loss.grad_fn, model)
    table = [(f"{'     ' * depth}{'<- ' if k else ''}{label}", method, job)
             for k, (depth, label, method, job, _, _) in enumerate(nodes)]
    path = [label for depth, label, *_ in nodes if depth == 0]
    width = max(len(node) for node, _, _ in table)
    method_width = max(len(method) for _, method, _ in table)
    return [" <- ".join(path), ""] + [f"{node:{width}}  {method:{method_width}}  {job}".rstrip()
                                      for node, method, job in table]


def compute(config, X, y, weights=None):
    r"""One SGD step on both sides from identical weights; return the ``(heading, lines)`` sections.

    ``X`` holds the points ``(B, 2)`` and ``y`` their +1/-1 labels (one point and one label will do),
    encoded for ``config.loss`` as the run encodes them. The weights are ``weights`` (a state dict)
    if given, else drawn as ``python -m compare`` draws them.
    """
    X, y = points_batch(config, X, y)
    weights = Source(config).weights if weights is None else weights
    return sections(config, weights, trace(config, weights, X, y), X, y)


def sections(config, weights, rows, X, y):
    r"""The sections of the step from ``weights`` on the batch ``X, y`` (as the run's data holds it), whose
    trace is ``rows``."""
    layer_of = {row.name: row.where for row in rows}                     # z2 -> layer2
    layers = [(k, layer_of[f"z{k}"], kind) for k, kind in enumerate((*config.activations, config.output_activation), 1)]
    before = {f"{symbol}{k}": np.asarray(weights[f"{name}.{kind}"]).astype(X.dtype)
              for k, name, _ in layers for symbol, kind in (("W", "weight"), ("b", "bias"))}
    step = Step(rows, len(X), before)
    weight_lines = [f"W{k} = {array_text(before[f'W{k}'])}   b{k} = {array_text(before[f'b{k}'])}"
                    f"   ({name}.weight, {name}.bias)" for k, name, _ in layers]
    return [(f"Weights (seed {config.seed}, {config.init} init; W_k[j, i] is input i's weight in neuron j)",
             weight_lines),
            forward_section(step, layers, X),
            loss_section(config, step, layers, y),
            *backward_sections(step, layers),
            sgd_section(config, step, layers),
            ("Autograd's graph", [
                "loss.grad_fn, then next_functions: the nodes loss.backward() ran, from the loss towards the input;",
                "the same indentation continues the path, a node's other inputs are indented under it, and beside",
                "each node is the manual method doing its job. Identity ('linear') records no node; the example X",
                "needs no gradient, so the path ends at the first layer's weight.",
                "",
                *grad_fn_chain(*recorded_loss(config, weights, X, y))])]


def values(sections):
    return [line for _, lines in sections for line in lines if isinstance(line, Value)]


def render(sections, config, example=None, digits=4):
    r"""The walkthrough's text: a header, then each section with every value beside autograd's, manual's
    to ``digits`` significant digits (the SGD update's to at least 6)."""
    tol = TOLERANCES[config.dtype]
    activations = ", ".join((*config.activations, config.output_activation))
    network = f"{'-'.join(map(str, sizes(config)))} network ({activations})"
    lines = [f"One SGD step of the {network} "
             f"in {config.dtype}, every number written out."]
    if example:
        lines.append(f"Example: {example}.")
    sections = [(heading, [replace(line, digits=max(digits, line.digits if line.assign == "<-" else 0))
                           if isinstance(line, Value) else line for line in section]) for heading, section in sections]
    lines += [f"Each line: manual's value with its formula and the numbers put in ({digits} significant digits), then",
              "autograd's value of the same quantity and whether the two are the same (exact), within",
              f"|manual - autograd| <= {tol['atol']:g} + {tol['rtol']:g} |autograd| (close), or not (DIFFERENT)."]
    every = values(sections)
    summed = len(every) > MAX_PRINTED
    if summed:
        lines += ["", f"{len(every)} values: too many to read, so each section is summed up (a network "
                      "of up to about 8 neurons a layer is printed in full)."]
    for heading, section in sections:
        lines += ["", heading]
        statuses = [line.status(config.dtype) for line in section if isinstance(line, Value)]
        if summed and (statuses or sum(map(len, section)) > 100 * MAX_POINTS):
            lines.append("  " + (", ".join(f"{statuses.count(s)} {s}" for s in ("exact", "close", "DIFFERENT"))
                                 if statuses else f"({len(section)} long lines left out)"))
            continue
        width = max((len(line.text()) for line in section if isinstance(line, Value)), default=0)
        lines += [f"  {line.text():{width}}   autograd {line.autograd!s:>23}  {line.status(config.dtype)}"
                  if isinstance(line, Value) else f"  {line}" for line in section]
    statuses = [value.status(config.dtype) for value in every]
    different = [value.name for value, status in zip(every, statuses, strict=True) if status == "DIFFERENT"]
    lines += ["", f"{len(different)} of {len(statuses)} values differ from autograd; the first: {different[0]}"
              if different else f"All {len(statuses)} values agree with autograd: {statuses.count('exact')} exact, "
              f"{statuses.count('close')} within the tolerance."]
    return "\n".join(lines)


def walkthrough(config, X, y, weights=None):
    r"""The walkthrough of one SGD step on the points ``X`` with labels ``y``, as text (see ``compute``)."""
    return render(compute(config, X, y, weights), config)


def one_row(sections, row):
    r"""The sections with batch row ``row``'s values only, where a quantity has one per example; a sum over
    the batch (the loss, dL/dW, dL/db) keeps its formula and value, its numbers counted, not listed."""
    kept = []
    for heading, lines in sections:
        shown = []
        for line in lines:
            if isinstance(line, Value) and line.sample is not None and line.sample != row:
                continue
            if isinstance(line, Value) and line.name == "L":
                line = replace(line, formula="sum_n (example n's term) / N", numbers="")
            elif isinstance(line, Value) and line.formula.startswith("sum_n"):
                line = replace(line, numbers=f"(a sum of {line.numbers.count(' + ') + 1} terms)")
            shown.append(line)
        kept.append((heading, shown))
    return kept


OPTIONS = ("hidden", "activations", "loss", "dtype", "seed", "init", "lr", "weight_decay", "batch_size", "step",
           "point", "label", "row", "digits", "plot")


def main(argv=None):
    parser = cli.parser("python -m compare.walkthrough", (
        "Take one SGD step on one example, a small batch, a point of your own or the batch of a step of the run, and "
        "print every number of it, forward and back, with its formula and the numbers put in, beside the value "
        "autograd computed. Exit status 0 when every value agrees with autograd, 1 otherwise, 2 for bad input."),
        OPTIONS)
    parser.add_argument("--points", type=int, help=f"take the first N training points of the data, at most "
                        f"{MAX_POINTS} (default: 1; --step walks a step's batch instead)")
    parser.set_defaults(step=None, row=None)
    args = parser.parse_args(argv)
    if args.points is not None and (args.step is not None or args.point is not None):
        parser.error("--points takes the first training points, --step a step's batch, --point one point: give one")
    if args.points is not None and not 1 <= args.points <= MAX_POINTS:
        parser.error(f"--points {args.points}: a walkthrough takes 1 to {MAX_POINTS} examples")
    config, source = cli.configure(parser, args)
    taken = "a point" if args.point is not None else "a step's batch" if args.step is not None else "the first points"
    args.step = 1 if args.step is None else args.step          # a point or the first points: the initial weights
    weights, _, X, y = cli.step_and_batch(parser, args, source)
    if taken == "the first points":
        X, y = source.data[0][:args.points or 1], source.data[1][:args.points or 1]
    if args.row is not None and not 0 <= args.row < len(X):
        parser.error(f"--row {args.row}: must be an integer in [0, {len(X) - 1}] (a batch of {len(X)})")
    if args.row is None and len(X) > MAX_POINTS:
        args.row = 0                               # a whole batch of 15 is too long to read
    rows = trace(config, weights, X, y)
    shown = sections(config, weights, rows, X, y)
    described = describe(taken, args, config, len(X))
    print(render(shown if args.row is None else one_row(shown, args.row), config, described, args.digits))
    if args.plot:
        from .drawing import network_figure  # matplotlib: imported only when a figure is asked for
        figure = network_figure(config, weights, rows, f"{described}: row {args.row or 0}", args.row or 0)
        save_outputs(parser, [(args.plot, figure_writer(figure, "--plot", args.plot))])
    return 0 if all(v.status(config.dtype) in ("exact", "close") for v in values(shown)) else 1


def describe(taken, args, config, batch):
    r"""Where the walkthrough's example comes from (``taken``: a point, a step's batch or the first points)."""
    if taken == "a point":
        weights = "initial weights" if args.step == 1 else f"weights at step {args.step}"
        text = (f"the point ({args.point[0]:g}, {args.point[1]:g}) with label {args.label:g}, from seed "
                f"{config.seed}'s {weights}")
    elif taken == "a step's batch":
        text = f"step {args.step}'s batch of {batch} (seed {config.seed}), from the weights the run reached"
    else:
        text = f"the first {'training point' if batch == 1 else f'{batch} training points'} of the {config.dataset} " \
               f"data (seed {config.seed})"
    return text + ("" if args.row is None else f"; its row {args.row} (--row)")


if __name__ == "__main__":
    cli.run(main)
