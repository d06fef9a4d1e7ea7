r"""One SGD step with every number written out: ``python -m compare.walkthrough``.

One example (or a batch of up to 4) goes forward through the network, through the loss, back layer
by layer and through the SGD update; every number is printed with its formula and the numbers put
into it, computed from those numbers with ``manual``'s expressions (its activations' ``forward`` and
``backward``, ``MSELoss``, ``x @ W.T + b``, ``dz.T @ x``, ...), beside autograd's value of the same
quantity from a torch model with identical weights. Then autograd's ``grad_fn`` graph, each node
beside the manual method that does its job. docs/tools.md shows the output.

From Python, e.g. in a notebook::

    from compare.options import Config
    from compare.walkthrough import walkthrough
    print(walkthrough(Config(dtype="float64"), [(0.5, -1.0)], [1]))
"""
import re
from dataclasses import dataclass, replace

import numpy as np
import torch

import manual
from manual.train import labels

from . import options
from .data import load_data
from .files import png_writer, save_outputs
from .pair import DTYPES, TOLERANCES, make_criteria, make_optimizers, start
from .pair import sizes as layer_sizes
from .trace import Row, graph_nodes, layer_pairs, step_start, trace, values_text

MAX_POINTS = 4    # every dL/dW is a sum over the batch: beyond a few samples the formulas stop being readable
MAX_PRINTED = 2000   # values; a larger network gets a count per section instead of pages of numbers

# Each activation's formulas, a = f(z) and dL/dz = dL/da f'(z), filled in with names and then numbers.
FORMULAS = {"tanh": ("tanh({z})", "{da} * (1 - {a}^2)"), "sigmoid": ("1 / (1 + exp(-({z})))", "{da} * {a} * (1 - {a})"),
            "relu": ("max({z}, 0)", "{da} * [{z} > 0]"), "linear": ("{z}", "{da}"),
            "elu": ("{z} if {z} > 0 else exp({z}) - 1", "{da} * (1 if {z} > 0 else exp({z}))"),
            "selu": ("1.0507 ({z} if {z} > 0 else 1.6733 (exp({z}) - 1))",
                     "{da} * 1.0507 (1 if {z} > 0 else 1.6733 exp({z}))"),
            "softplus": ("log(1 + exp({z}))", "{da} / (1 + exp(-({z})))"),
            "softsign": ("{z} / (1 + |{z}|)", "{da} / (1 + |{z}|)^2")}

def short(value, digits=4):
    return f"{float(value):.{digits}g}"


def array_text(array):
    r"""``[[0.1234, -0.5], [...]]`` with 4 significant digits, on one line."""
    return values_text(array, 4)


@dataclass
class Value:
    r"""One number of the step: its formula, the formula with the numbers put in, manual's value
    computed from those numbers, and autograd's value of the same quantity."""
    name: str              # "z2[0]", "dL/dW2[0,1]", "W2[0,1]"
    formula: str           # "x2 . W2[0] + b2[0]"; for a value passed on unchanged, the name of its source
    numbers: str           # the formula with the numbers: "(0.1)(0.5) + (-0.2)(0.25) + (0)"; "" when passed on
    manual: float
    autograd: float
    assign: str = "="      # "<-" for an update
    digits: int = 4        # significant digits printed

    def text(self):
        parts = [self.formula, self.numbers, short(self.manual, self.digits)]
        return f"{self.name} {self.assign} " + " = ".join(part for part in parts if part)

    def status(self, dtype):
        r"""``exact``, ``close`` or ``DIFFERENT``: ``compare.trace``'s rule, at full precision."""
        return Row(self.name, "", np.asarray(self.manual), np.asarray(self.autograd)).status(dtype)


def products(pairs, digits=4):
    return " + ".join(f"({short(a, digits)})({short(b, digits)})" for a, b in pairs)


def index(batch, n, j):
    r"""``[j]`` for a single example, ``[n,j]`` (sample n, element j) for a batch."""
    return f"[{j}]" if batch == 1 else f"[{n},{j}]"


def activation_values(activation, z, da):
    r"""``a = f(z)`` and ``dL/dz = dL/da f'(z)`` of one element, by ``manual``'s activation module."""
    module = manual.ACTIVATIONS[activation]()
    a = module(np.array([z]))
    return a[0], module.backward(np.array([da]))[0]


def forward_section(layers, autograd, walked, before, X):
    r"""Each layer's ``z`` and ``a``, computed from the printed numbers; returns the section and ``y_pred``."""
    lines, x, batch = [], X, len(X)
    for k, name, activation in layers:
        z_torch, a_torch = autograd[f"z{k}"], autograd[f"a{k}"]
        W, b = before[f"{name}.weight"], before[f"{name}.bias"]
        source = ("the example" if batch == 1 else "the examples") if k == 1 else f"a{k - 1}"
        lines.append(f"layer {k} ({name}, {activation}): x{k} = {source} = {array_text(x[0] if batch == 1 else x)}")
        z, a = np.zeros_like(z_torch), np.zeros_like(a_torch)
        for n, j in np.ndindex(z.shape):
            z[n, j] = x[n] @ W[j] + b[j]                                   # a row of z = x W^T + b
            numbers = products(zip(x[n], W[j], strict=True)) + f" + ({short(b[j])})"
            lines.append(Value(f"z{k}{index(batch, n, j)}",
                               f"x{k}{'' if batch == 1 else f'[{n}]'} . W{k}[{j}] + b{k}[{j}]",
                               numbers, z[n, j], z_torch[n, j]))
        f, _ = FORMULAS.get(activation, (f"{activation}({{z}})", ""))
        for n, j in np.ndindex(a.shape):
            a[n, j], _ = activation_values(activation, z[n, j], 0.0)
            lines.append(Value(f"a{k}{index(batch, n, j)}", f.format(z=f"z{k}{index(batch, n, j)}"),
                               f.format(z=short(z[n, j])) if f != "{z}" else "", a[n, j], a_torch[n, j]))
        walked[f"x{k}"], walked[f"z{k}"], walked[f"a{k}"] = x, z, a       # what the backward pass reads
        x = a
    return ("Forward", lines), x


# Per loss: one example's term of the summed loss, and an element of dL/dy_pred, in {p} (y_pred) and {y}.
LOSS_TERMS = {
    "mse": ("({p} - {y})^2", "2 ({p} - {y}) / N"),
    "l1": ("|{p} - {y}|", "sign({p} - {y}) / N"),
    "bce": ("-({y} log {p} + (1 - {y}) log(1 - {p}))", "({p} - {y}) / ({p} (1 - {p})) / N"),
    "bce-logits": ("max({p}, 0) - {p} {y} + log(1 + exp(-|{p}|))", "(sigmoid({p}) - {y}) / N"),
}
LOSS_NOTES = {"bce": "y_pred is a probability p, the sigmoid output; ",
              "bce-logits": "y_pred is a logit z (a linear output): the loss applies the sigmoid itself; ",
              "cross-entropy": "y_pred holds two logits per example, y a class index; "}


def loss_section(config, layers, autograd, y_pred, y):
    r"""The loss and ``dL/dy_pred`` by ``manual``'s criterion; returns the section and ``dL/dy_pred``."""
    last, name, batch = layers[-1][0], layers[-1][1], len(y)
    criterion = make_criteria(config)[0]
    value = criterion(y_pred, y)
    gradient = criterion.backward()
    labels = array_text(y.reshape(-1)[0] if batch == 1 else y.reshape(-1))
    lines = [f"y_pred = a{last} (the output of layer {last}, {name}), y = {labels} the label; "
             f"{LOSS_NOTES.get(config.loss, '')}"
             f"N = {y.size} {'examples' if y.ndim == 1 else 'elements'}"]
    if config.loss == "cross-entropy":
        shifted = y_pred - y_pred.max(axis=1, keepdims=True)
        softmax = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)   # as manual's backward has it
        rows = ["" if batch == 1 else f"[{n}]" for n in range(batch)]
        terms = " + ".join(f"log softmax(y_pred{r})[y{r}]" for r in rows)
        numbers = " + ".join(f"log({short(softmax[n, y[n]])})" for n in range(batch))
        lines.append(Value("L", f"-({terms}) / N", f"-({numbers}) / {y.size}", value, autograd["loss"]))
        for n, j in np.ndindex(gradient.shape):
            i = f"[{n},{j}]"
            lines.append(Value(f"dL/dy_pred{i}", f"(softmax(y_pred[{n}])[{j}] - [{j} == y[{n}]]) / N",
                               f"(({short(softmax[n, j])}) - {int(j == y[n])}) / {y.size}",
                               gradient[n, j], autograd["dL/dy_pred"][n, j]))
        return ("Loss", lines), gradient
    term, derivative = LOSS_TERMS[config.loss]
    rows = [(index(batch, n, 0), y_pred[n, 0], y[n, 0]) for n in range(batch)]
    numbers = " + ".join(term.format(p=f"({short(p)})", y=f"({short(t)})") for _, p, t in rows)
    lines.append(Value("L", f"({' + '.join(term.format(p=f'y_pred{i}', y=f'y{i}') for i, _, _ in rows)}) / N",
                       f"({numbers}) / {y.size}", value, autograd["loss"]))
    for n, (i, p, t) in enumerate(rows):
        lines.append(Value(f"dL/dy_pred{i}", derivative.format(p=f"y_pred{i}", y=f"y{i}"),
                           derivative.format(p=f"({short(p)})", y=f"({short(t)})").replace("/ N", f"/ {y.size}"),
                           gradient[n, 0], autograd["dL/dy_pred"][n, 0]))
    return ("Loss", lines), gradient


def backward_sections(layers, autograd, walked, before, dy_pred):
    r"""From the output layer down: ``dL/da``, ``dL/dz``, ``dL/dW``, ``dL/db``, ``dL/dx``, each from the printed
    numbers."""
    sections, da, batch, source = [], dy_pred, len(dy_pred), "dL/dy_pred"
    for k, name, activation in reversed(layers):
        x, z, a = walked[f"x{k}"], walked[f"z{k}"], walked[f"a{k}"]
        W = before[f"{name}.weight"]
        _, f_prime = FORMULAS.get(activation, ("", f"{{da}} * {activation}'({{z}})"))
        lines, dz, dW, db, dx = [], np.zeros_like(da), np.zeros_like(W), np.zeros_like(W[:, 0]), np.zeros_like(x)
        for n, j in np.ndindex(da.shape):
            i = index(batch, n, j)
            lines.append(Value(f"dL/da{k}{i}", f"{source}{i}", "", da[n, j], autograd[f"dL/da{k}"][n, j]))
        for n, j in np.ndindex(dz.shape):
            i = index(batch, n, j)
            dz[n, j] = activation_values(activation, z[n, j], da[n, j])[1]
            numbers = {"da": f"({short(da[n, j])})", "a": f"({short(a[n, j])})", "z": f"({short(z[n, j])})"}
            lines.append(Value(f"dL/dz{k}{i}", f_prime.format(da=f"dL/da{k}{i}", a=f"a{k}{i}", z=f"z{k}{i}"),
                               f_prime.format(**numbers), dz[n, j], autograd[f"dL/dz{k}"][n, j]))
        if batch > 1:
            lines.append(f"dL/dW{k} and dL/db{k} add up the {batch} samples' contributions")
        for j, i in np.ndindex(W.shape):
            formula = f"dL/dz{k}[{j}] * x{k}[{i}]" if batch == 1 else f"sum_n dL/dz{k}[n,{j}] * x{k}[n,{i}]"
            dW[j, i] = dz[:, j] @ x[:, i]                                  # an element of dW = dz^T x
            lines.append(Value(f"dL/dW{k}[{j},{i}]", formula, products(zip(dz[:, j], x[:, i], strict=True)),
                               dW[j, i], autograd[f"dL/dW{k}"][j, i]))
        for j in range(W.shape[0]):
            formula, numbers = ((f"dL/dz{k}[{j}]", "") if batch == 1 else
                                (f"sum_n dL/dz{k}[n,{j}]", " + ".join(f"({short(v)})" for v in dz[:, j])))
            db[j] = dz[:, j].sum()
            lines.append(Value(f"dL/db{k}[{j}]", formula, numbers, db[j], autograd[f"dL/db{k}"][j]))
        lines.append(f"dL/dx{k} is passed back to layer {k - 1} as dL/da{k - 1}" if k > 1 else
                     "dL/dx1 is dL/dX, the gradient with respect to the example (autograd: X.grad); nothing uses it")
        for n, i in np.ndindex(dx.shape):
            dx[n, i] = dz[n] @ W[:, i]                                   # a row of dx = dz W
            lines.append(Value(f"dL/dx{k}{index(batch, n, i)}",
                               f"dL/dz{k}{'' if batch == 1 else f'[{n}]'} . W{k}[:,{i}]",
                               products(zip(dz[n], W[:, i], strict=True)), dx[n, i], autograd[f"dL/dx{k}"][n, i]))
        walked[f"dL/dW{k}"], walked[f"dL/db{k}"] = dW, db                 # what the update reads
        sections.append((f"Backward: layer {k} ({name}, {activation})", lines))
        da, source = dx, f"dL/dx{k}"
    return sections


def sgd_section(config, layers, walked, before, after_torch):
    lr, wd = config.lr, config.weight_decay
    lines = ["W <- W - lr (dL/dW + wd W), biases alike, with 6 significant digits so that the change shows;",
             "autograd: torch.optim.SGD(model.parameters(), lr, weight_decay=wd).step()"]
    for k, name, _ in layers:
        for parameter, symbol in (("weight", "W"), ("bias", "b")):
            key = f"{name}.{parameter}"
            old, grad = before[key], walked[f"dL/d{symbol}{k}"]
            for position in np.ndindex(old.shape):
                label = f"{symbol}{k}[{','.join(map(str, position))}]"
                p, g = old[position], grad[position]
                lines.append(Value(label, f"{label} - lr (dL/d{label} + wd {label})",
                                   f"({short(p, 6)}) - {lr} (({short(g, 6)}) + {wd} ({short(p, 6)}))",
                                   p - lr * (g + wd * p), after_torch[key][position], assign="<-", digits=6))
    return f"SGD update (lr {lr}, weight decay {wd})", lines


def grad_fn_chain(loss, model=None):
    r"""Autograd's recorded graph behind ``loss`` (``graph_nodes``), one line per node beside its manual
    counterpart, the path towards the input at one indentation, ``<- Node``; the first line is that
    main path in one line."""
    nodes = graph_nodes(loss, model)
    table = [(f"{'     ' * depth}{'<- ' if k else ''}{label}", method, job)
             for k, (depth, label, method, job, _, _) in enumerate(nodes)]
    path = [label for depth, label, *_ in nodes if depth == 0]
    width = max(len(node) for node, _, _ in table)
    method_width = max(len(method) for _, method, _ in table)
    return [" <- ".join(path), ""] + [f"{node:{width}}  {method:{method_width}}  {job}".rstrip()
                                      for node, method, job in table]


def prepared(config, X, y, weights=None):
    r"""The step's ``X``, its labels as ``config.loss`` takes them and both models with its weights."""
    np_dtype = DTYPES[config.dtype][0]
    X, y = np.asarray(X, np_dtype).reshape(-1, 2), labels(np.asarray(y, np_dtype).reshape(-1, 1), config.loss)
    return X, y, start(config, weights)[0]


def compute(config, X, y, weights=None):
    r"""One SGD step on both sides from identical weights; return the ``(heading, lines)`` sections.

    ``X`` holds the points ``(B, 2)`` and ``y`` their +1/-1 labels ``(B, 1)`` (one point and one
    label will do), encoded for ``config.loss`` by ``manual.train.labels``. The weights are
    ``weights`` (a state dict) if given, else drawn as ``python -m compare`` draws them.
    """
    X, y, (manual_model, torch_model) = prepared(config, X, y, weights)
    before = manual_model.state_dict()
    autograd = {row.name: row.torch for row in trace(config, before, X, y)}
    walked = {}                                  # the arrays this walkthrough computed, by name
    torch_optimizer = make_optimizers(config, manual_model, torch_model)[1]
    loss = make_criteria(config)[1](torch_model(torch.tensor(X)), torch.tensor(y))
    loss.backward()
    torch_optimizer.step()
    after_torch = {name: p.detach().numpy() for name, p in torch_model.named_parameters()}
    activations = (*config.activations, config.output_activation)
    layers = [(k, name, activation) for k, (((name, _), _), activation)
              in enumerate(zip(layer_pairs(manual_model), activations, strict=True), 1)]
    weight_lines = [f"W{k} = {array_text(before[f'{name}.weight'])}   b{k} = {array_text(before[f'{name}.bias'])}"
                    f"   ({name}.weight, {name}.bias)" for k, name, _ in layers]
    forward, y_pred = forward_section(layers, autograd, walked, before, X)
    loss_lines, dy_pred = loss_section(config, layers, autograd, y_pred, y)
    return [(f"Weights (seed {config.seed}, {config.init} init; W_k[j, i] is input i's weight in neuron j)",
             weight_lines),
            forward,
            loss_lines,
            *backward_sections(layers, autograd, walked, before, dy_pred),
            sgd_section(config, layers, walked, before, after_torch),
            ("Autograd's graph", [
                "loss.grad_fn, then next_functions: the nodes loss.backward() ran, from the loss towards the input;",
                "the same indentation continues the path, a node's other inputs are indented under it, and beside",
                "each node is the manual method doing its job. Identity ('linear') records no node; the example X",
                "needs no gradient, so the path ends at the first layer's weight.",
                "",
                *grad_fn_chain(loss, torch_model)])]


def values(sections):
    return [line for _, lines in sections for line in lines if isinstance(line, Value)]


def render(sections, config, example=None, digits=4):
    r"""The walkthrough's text: a header, then each section with every value beside autograd's, manual's
    to ``digits`` significant digits (the SGD update's to at least 6)."""
    tol = TOLERANCES[config.dtype]
    sizes = "-".join(map(str, layer_sizes(config)))
    lines = [f"One SGD step of the {sizes} network ({', '.join((*config.activations, config.output_activation))}) "
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
            if isinstance(line, Value):
                sample = re.search(r"\[(\d+),\d+\]$", line.name)              # z2[n,j]: one per example
                if sample and int(sample.group(1)) != row:
                    continue
                if line.name == "L":
                    line = replace(line, formula="sum_n (example n's term) / N", numbers="")
                elif line.formula.startswith("sum_n"):
                    line = replace(line, numbers=f"(a sum of {line.numbers.count(' + ') + 1} terms)")
            shown.append(line)
        kept.append((heading, shown))
    return kept


def main(argv=None):
    parser = options.parser("python -m compare.walkthrough", (
        "Take one SGD step on one example, a small batch or the batch of a step of the run, and print every "
        "number of it, forward and back, with its formula and the numbers put in, beside the value autograd "
        "computed. Exit status 0 when every value agrees with autograd, 1 otherwise, 2 for bad input."),
        ("hidden", "activations", "loss", "dtype", "seed", "init", "lr", "weight_decay", "batch_size", "step",
         "row", "digits", "plot"))
    parser.add_argument("--points", type=int, help=f"take the first N training points of the data, at most "
                        f"{MAX_POINTS} (default: 1; --step walks a step's batch instead)")
    parser.set_defaults(step=None, row=None)
    args = parser.parse_args(argv)
    if args.points is not None and args.step is not None:
        parser.error("--points takes the first training points, --step a step's batch: give one of them")
    args.points = 1 if args.points is None else args.points
    if not 1 <= args.points <= MAX_POINTS:
        parser.error(f"--points {args.points}: a walkthrough takes 1 to {MAX_POINTS} examples")
    config, _ = options.configure(parser, args)
    if args.step is None:
        config = replace(config, batch_size=args.points)
        X_train, y_train, _, _ = load_data(seed=config.seed)
        (X, y), weights = (X_train[:args.points], y_train[:args.points]), None
        points = "training point" if args.points == 1 else f"{args.points} training points"
        source = f"the first {points} of the circle data (seed {config.seed})"
    else:
        try:
            weights, X, y = step_start(config, None, args.step)
        except ValueError as exc:
            parser.error(str(exc))
        source = f"step {args.step}'s batch of {len(X)} (seed {config.seed}), from the weights the run reached"
    if args.row is not None and not 0 <= args.row < len(X):
        parser.error(f"--row {args.row}: must be an integer in [0, {len(X) - 1}] (a batch of {len(X)})")
    if args.row is None and len(X) > MAX_POINTS:
        args.row = 0                               # a whole batch of 15 is too long to read
    sections = compute(config, X, y, weights)
    shown = sections if args.row is None else one_row(sections, args.row)
    print(render(shown, config, source + ("" if args.row is None else f"; its row {args.row} (--row)"), args.digits))
    if args.plot:
        from .drawing import network_figure  # matplotlib: imported only when a figure is asked for
        X, y, models = prepared(config, X, y, weights)
        before = models[0].state_dict()
        figure = network_figure(config, before, trace(config, before, X, y), f"{source}: row {args.row or 0}",
                                args.row or 0)
        save_outputs(parser, [(args.plot, png_writer(figure))])
    return 0 if all(v.status(config.dtype) in ("exact", "close") for v in values(sections)) else 1


if __name__ == "__main__":
    options.run(main)
