r"""One SGD step with every number written out: ``python -m compare.walkthrough``.

One example (or a batch of up to 4) goes through the network, and every number of the training step
is printed with its formula and the values substituted into it:

- **Forward**: each layer's pre-activations ``z_k[j] = x_k . W_k[j] + b_k[j]`` and activations
  ``a_k[j] = f(z_k[j])``;
- **Loss**: the mean squared error and ``dL/dy_pred``;
- **Backward**, from the output layer down to the input: ``dL/da``, ``dL/dz = dL/da * f'(z)``,
  ``dL/dW`` and ``dL/db`` (summed over the batch) and ``dL/dx``, for every layer;
- **SGD update**: ``W <- W - lr (dL/dW + wd W)`` for every weight and bias;
- **Autograd's graph**: the ``grad_fn`` nodes torch recorded, each beside the manual method that
  does its job.

Every value is computed by ``manual`` (NumPy). Beside it stands autograd's value of the same
quantity, from a torch model with identical weights (``compare.pair.make_pair``), its intermediates
kept with ``retain_grad``, updated by ``torch.optim.SGD``; the mark says whether the two are bit
for bit the same (``exact``), within ``compare.pair.TOLERANCES`` (``close``) or not
(``DIFFERENT``). Formulas show 4 significant digits (the update 6, so that the change shows); the
comparison uses full precision.

Notation: layer k is the k-th Linear layer, as in ``compare.trace`` (the last is ``layer_out``);
``x_k`` is its input (``x_1`` the example, ``x_k = a_{k-1}``) and ``W_k[j, i]`` the weight from
input i to neuron j. Indices count from 0, as in NumPy; with a batch, ``[n, j]`` is sample n, neuron j.

From Python, e.g. in a notebook::

    from compare.pair import Config
    from compare.walkthrough import walkthrough
    print(walkthrough(Config(dtype="float64"), [(0.5, -1.0)], [1]))

``compute`` returns the sections with every ``Value`` (formula, operands, manual's and autograd's
number); ``grad_fn_chain(loss, model)`` describes the graph behind any torch loss.
"""
import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np
import torch

import manual

from .cli import Parser, activation_names, check_layer_count, hidden_sizes, number
from .data import load_data
from .pair import DTYPES, INITS, TOLERANCES, Config, make_criteria, make_optimizers, make_pair
from .trace import Row, layer_pairs, trace

MAX_BATCH = 4     # every dL/dW is a sum over the batch: beyond a few samples the formulas stop being readable


@dataclass(frozen=True)
class Rule:
    r"""An activation's formulas: ``a = f(z)`` and ``dL/dz = dL/da * f'(z)``.

    ``forward`` and ``backward`` name the quantities (``{z}``, ``{a}``, ``{da}``); the ``*_values``
    templates take the numbers, ``"{}"`` each: ``z`` forward, ``operands(da, a, z, dz)`` backward.
    An empty template means the formula is the value itself (``a = z``).
    """
    forward: str
    forward_values: str
    backward: str
    backward_values: str
    operands: object


RULES = {
    "tanh": Rule("tanh({z})", "tanh({})", "{da} * (1 - {a}^2)", "({})(1 - ({})^2)",
                 lambda da, a, z, dz: (da, a)),
    "sigmoid": Rule("1 / (1 + exp(-{z}))", "1 / (1 + exp(-({})))", "{da} * {a} * (1 - {a})", "({})({})({})",
                    lambda da, a, z, dz: (da, a, 1 - a)),
    "relu": Rule("max({z}, 0)", "max({}, 0)", "{da} * [{z} > 0]", "({})({})",
                 lambda da, a, z, dz: (da, float(z > 0))),
    "linear": Rule("{z}", "", "{da}", "", lambda da, a, z, dz: ()),
}


def rule_for(activation):
    r"""The activation's formulas; one without a written rule (added to ``manual.ACTIVATIONS``
    later) shows its derivative as the number its ``backward`` used, ``f'(z) = dL/dz / dL/da``."""
    if activation in RULES:
        return RULES[activation]
    return Rule(f"{activation}({{z}})", "", f"{{da}} * {activation}'({{z}})", "({})({})",
                lambda da, a, z, dz: (da, dz / da if da else 0.0))

# What each node of autograd's graph does, and the manual method doing the same job.
GRAD_FNS = {
    "MseLossBackward0": ("manual.MSELoss.backward", "dL/dy_pred = 2 (y_pred - y) / N"),
    "TanhBackward0": ("manual.layers.Tanh.backward", "dL/dz = dL/da * (1 - a^2)"),
    "SigmoidBackward0": ("manual.layers.Sigmoid.backward", "dL/dz = dL/da * a * (1 - a)"),
    "ReluBackward0": ("manual.layers.ReLU.backward", "dL/dz = dL/da * [z > 0]"),
    "AddmmBackward0": ("manual.layers.Linear.backward", "z = b + x W^T: dx = dz W, dW = dz^T x, db = sum dz"),
    "TBackward0": ("manual.layers.Linear.backward", "the W^T of z = x W^T + b: transposes dW back to W's shape"),
    "AccumulateGrad": ("manual.Parameter.accumulate_grad", "p.grad += the gradient"),
}


def short(value, digits=4):
    return f"{float(value):.{digits}g}"


def array_text(array):
    r"""``[[0.1234, -0.5], [...]]`` with 4 significant digits, on one line."""
    if np.ndim(array) == 0:
        return short(array)
    return "[" + ", ".join(array_text(part) for part in array) + "]"


@dataclass
class Value:
    r"""One number of the step: its formula, the numbers substituted, manual's result and autograd's."""
    name: str              # "z2[0]", "dL/dW2[0,1]", "W2[0,1]"
    formula: str           # "x2 . W2[0] + b2[0]"
    template: str          # the formula with "{}" for each operand, e.g. "({})({}) + ({})"; "" for none
    operands: tuple        # the numbers that go into the template
    manual: float          # manual's value
    autograd: float        # autograd's value of the same quantity
    assign: str = "="      # "<-" for an update
    digits: int = 4        # significant digits printed

    def substituted(self, digits=None):
        r"""The template filled in, with ``digits`` significant digits (17: exactly, in float64)."""
        return self.template.format(*(short(v, digits or self.digits) for v in self.operands))

    def text(self):
        r"""``name = formula = substituted = result``, leaving out the parts that are empty."""
        parts = [self.formula, self.substituted(), short(self.manual, self.digits)]
        return f"{self.name} {self.assign} " + " = ".join(part for part in parts if part)

    def status(self, dtype):
        r"""``exact``, ``close`` or ``DIFFERENT``: ``compare.trace``'s rule, at full precision."""
        return Row(self.name, "", np.asarray(self.manual), np.asarray(self.autograd)).status(dtype)


@dataclass
class Section:
    r"""A heading and its lines: notes (``str``) and ``Value``s."""
    heading: str
    lines: list


def index(batch, n, j):
    r"""``[j]`` for a single example, ``[n,j]`` (sample n, element j) for a batch."""
    return f"[{j}]" if batch == 1 else f"[{n},{j}]"


def sample(batch, n):
    r"""``""`` for a single example (``x2`` is the whole vector), ``[n]`` for a batch."""
    return "" if batch == 1 else f"[{n}]"


def as_batch(X, y, dtype):
    r"""Points and labels as arrays ``(B, 2)`` and ``(B, 1)`` of ``dtype``; one point and label will do."""
    np_dtype = DTYPES[dtype][0]
    return np.asarray(X, np_dtype).reshape(-1, 2), np.asarray(y, np_dtype).reshape(-1, 1)


def take_sgd_steps(config, manual_model, torch_model, X, y):
    r"""One SGD step on each side with its own code; return torch's loss, whose graph stays walkable."""
    manual_optimizer, torch_optimizer = make_optimizers(config, manual_model, torch_model)
    manual_criterion, torch_criterion = make_criteria(config)
    manual.train_step(manual_model, manual_optimizer, manual_criterion, X, y)
    loss = torch_criterion(torch_model(torch.tensor(X)), torch.tensor(y))
    loss.backward()
    torch_optimizer.step()
    return loss


def weights_section(config, layers, before):
    lines = [f"W{k} = {array_text(before[f'{name}.weight'])}   b{k} = {array_text(before[f'{name}.bias'])}"
             f"   ({name}.weight, {name}.bias)" for k, name, _ in layers]
    return Section(f"Weights (seed {config.seed}, {config.init} init; W_k[j, i] is input i's weight in neuron j)", lines)


def forward_section(layers, rows, before, batch):
    lines = []
    for k, name, activation in layers:
        x, z, a = (rows[f"{q}{k}"] for q in "xza")
        W, b = before[f"{name}.weight"], before[f"{name}.bias"]
        source = ("the example" if batch == 1 else "the examples") if k == 1 else f"a{k - 1}"
        inputs = x.manual[0] if batch == 1 else x.manual
        lines.append(f"layer {k} ({name}, {activation}): x{k} = {source} = {array_text(inputs)}")
        n_in = W.shape[1]
        for n, j in np.ndindex(z.manual.shape):
            operands = [v for i in range(n_in) for v in (x.manual[n, i], W[j, i])] + [b[j]]
            lines.append(Value(f"z{k}{index(batch, n, j)}", f"x{k}{sample(batch, n)} . W{k}[{j}] + b{k}[{j}]",
                               " + ".join(["({})({})"] * n_in + ["({})"]), operands,
                               z.manual[n, j], z.torch[n, j]))
        rule = rule_for(activation)
        for n, j in np.ndindex(a.manual.shape):
            lines.append(Value(f"a{k}{index(batch, n, j)}", rule.forward.format(z=f"z{k}{index(batch, n, j)}"),
                               rule.forward_values, (z.manual[n, j],), a.manual[n, j], a.torch[n, j]))
    return Section("Forward", lines)


def loss_section(layers, rows, y, batch):
    last = layers[-1][0]
    y_pred, loss, dy_pred = rows[f"a{last}"], rows["loss"], rows["dL/dy_pred"]
    N = y.size
    terms = [f"(y_pred{index(batch, n, 0)} - y{index(batch, n, 0)})^2" for n in range(batch)]
    total = " + ".join(terms) if batch == 1 else f"({' + '.join(terms)})"
    template = " + ".join(["(({}) - ({}))^2"] * batch)
    template = template if batch == 1 else f"({template})"
    operands = [v for n in range(batch) for v in (y_pred.manual[n, 0], y[n, 0])]
    labels = array_text(y[0, 0] if batch == 1 else y[:, 0])
    lines = [f"y_pred = a{last} (the output of layer {last}, {layers[-1][1]}), y = {labels} the label, N = {N} elements",
             Value("L", f"{total} / N", f"{template} / {N}", operands, loss.manual, loss.torch)]
    for n in range(batch):
        i = index(batch, n, 0)
        lines.append(Value(f"dL/dy_pred{i}", f"2 (y_pred{i} - y{i}) / N", f"2 (({{}}) - ({{}})) / {N}",
                           (y_pred.manual[n, 0], y[n, 0]), dy_pred.manual[n, 0], dy_pred.torch[n, 0]))
    return Section("Loss", lines)


def backward_sections(layers, rows, before, batch):
    sections = []
    last = layers[-1][0]
    for k, name, activation in reversed(layers):
        da, dz, dW, db, dx = (rows[f"dL/d{q}{k}"] for q in ("a", "z", "W", "b", "x"))
        x, z, a = (rows[f"{q}{k}"].manual for q in "xza")
        W = before[f"{name}.weight"]
        n_out, n_in = W.shape
        rule = rule_for(activation)
        lines = []
        for n, j in np.ndindex(da.manual.shape):
            i = index(batch, n, j)
            source = f"dL/dy_pred{i}" if k == last else f"dL/dx{k + 1}{i}"
            lines.append(Value(f"dL/da{k}{i}", source, "", (), da.manual[n, j], da.torch[n, j]))
        for n, j in np.ndindex(dz.manual.shape):
            i = index(batch, n, j)
            formula = rule.backward.format(da=f"dL/da{k}{i}", a=f"a{k}{i}", z=f"z{k}{i}")
            lines.append(Value(f"dL/dz{k}{i}", formula, rule.backward_values,
                               rule.operands(da.manual[n, j], a[n, j], z[n, j], dz.manual[n, j]),
                               dz.manual[n, j], dz.torch[n, j]))
        if batch > 1:
            lines.append(f"dL/dW{k} and dL/db{k} add up the {batch} samples' contributions")
        for j, i in np.ndindex(W.shape):
            formula = f"dL/dz{k}[{j}] * x{k}[{i}]" if batch == 1 else f"sum_n dL/dz{k}[n,{j}] * x{k}[n,{i}]"
            operands = [v for n in range(batch) for v in (dz.manual[n, j], x[n, i])]
            lines.append(Value(f"dL/dW{k}[{j},{i}]", formula, " + ".join(["({})({})"] * batch), operands,
                               dW.manual[j, i], dW.torch[j, i]))
        for j in range(n_out):
            formula = f"dL/dz{k}[{j}]" if batch == 1 else f"sum_n dL/dz{k}[n,{j}]"
            template = "" if batch == 1 else " + ".join(["({})"] * batch)
            lines.append(Value(f"dL/db{k}[{j}]", formula, template, dz.manual[:, j], db.manual[j], db.torch[j]))
        lines.append(f"dL/dx{k} is passed back to layer {k - 1} as dL/da{k - 1}" if k > 1 else
                     "dL/dx1 is dL/dX, the gradient with respect to the example (autograd: X.grad); nothing uses it")
        for n, i in np.ndindex(dx.manual.shape):
            operands = [v for o in range(n_out) for v in (dz.manual[n, o], W[o, i])]
            lines.append(Value(f"dL/dx{k}{index(batch, n, i)}", f"dL/dz{k}{sample(batch, n)} . W{k}[:,{i}]",
                               " + ".join(["({})({})"] * n_out), operands, dx.manual[n, i], dx.torch[n, i]))
        sections.append(Section(f"Backward: layer {k} ({name}, {activation})", lines))
    return sections


def sgd_section(config, layers, rows, before, after_manual, after_torch):
    lines = ["W <- W - lr (dL/dW + wd W), biases alike, with 6 significant digits so that the change shows;",
             "autograd: torch.optim.SGD(model.parameters(), lr, weight_decay=wd).step()"]
    for k, name, _ in layers:
        for parameter, symbol in (("weight", "W"), ("bias", "b")):
            key = f"{name}.{parameter}"
            old, grad = before[key], rows[f"dL/d{symbol}{k}"].manual
            for position in np.ndindex(old.shape):
                label = f"{symbol}{k}[{','.join(map(str, position))}]"
                gradient = f"dL/d{symbol}{k}[{','.join(map(str, position))}]"
                lines.append(Value(label, f"{label} - lr ({gradient} + wd {label})",
                                   f"({{}}) - {config.lr} (({{}}) + {config.weight_decay} ({{}}))",
                                   (old[position], grad[position], old[position]),
                                   after_manual[key][position], after_torch[key][position], assign="<-", digits=6))
    return Section(f"SGD update (lr {config.lr}, weight decay {config.weight_decay})", lines)


def children(node):
    return [child for child, _ in node.next_functions if child is not None]


def size(node):
    r"""How many nodes the backward pass reaches from ``node``, ``node`` included."""
    return 1 + sum(size(child) for child in children(node))


def grad_fn_chain(loss, model=None):
    r"""Autograd's recorded graph behind ``loss``, one line per node, each beside its manual counterpart.

    Walks ``loss.grad_fn`` through ``next_functions``: at every node the path reaching the most
    nodes (towards the input) goes on at the same indentation, ``<- Node``; every other input (a
    parameter's ``AccumulateGrad``, the ``TBackward0`` of a weight) is indented under its node.
    With ``model``, each ``AccumulateGrad`` is named after the parameter it fills. The first line
    is that main path in one line. Works after ``loss.backward()`` too: the nodes stay.
    """
    names = {id(p): name for name, p in model.named_parameters()} if model is not None else {}
    table, path = [], []

    def walk(node, depth):
        while node is not None:
            label = type(node).__name__
            if label == "AccumulateGrad":
                label += f" ({names.get(id(node.variable), 'leaf')})"
            if depth == 0:
                path.append(label)
            method, job = GRAD_FNS.get(type(node).__name__, ("(no manual counterpart listed)", ""))
            table.append((f"{'     ' * depth}{'<- ' if table else ''}{label}", method, job))
            inputs = children(node)
            node = max(inputs, key=size, default=None)
            for other in inputs:
                if other is not node:
                    walk(other, depth + 1)

    walk(loss.grad_fn, 0)
    width = max(len(node) for node, _, _ in table)
    method_width = max(len(method) for _, method, _ in table)
    return [" <- ".join(path), ""] + [f"{node:{width}}  {method:{method_width}}  {job}".rstrip()
                                      for node, method, job in table]


def compute(config, X, y, weights=None):
    r"""One SGD step on both sides from identical weights; return the list of ``Section``s.

    ``X`` holds the points ``(B, 2)`` and ``y`` their +1/-1 labels ``(B, 1)`` (one point and one
    label will do). The weights are ``weights`` (a state dict) if given, else drawn as
    ``python -m compare`` draws them: ``make_pair(config, np.random.default_rng(config.seed))``.
    """
    X, y = as_batch(X, y, config.dtype)
    batch = len(X)
    manual_model, torch_model = make_pair(config, np.random.default_rng(config.seed), weights)
    before = manual_model.state_dict()
    rows = {row.name: row for row in trace(config, before, X, y)}
    loss = take_sgd_steps(config, manual_model, torch_model, X, y)
    after_torch = {name: p.detach().numpy() for name, p in torch_model.named_parameters()}
    activations = (*config.activations, config.output_activation)
    layers = [(k, name, activation) for k, (((name, _), _), activation)
              in enumerate(zip(layer_pairs(manual_model), activations, strict=True), 1)]
    return [weights_section(config, layers, before),
            forward_section(layers, rows, before, batch),
            loss_section(layers, rows, y, batch),
            *backward_sections(layers, rows, before, batch),
            sgd_section(config, layers, rows, before, manual_model.state_dict(), after_torch),
            Section("Autograd's graph", [
                "loss.grad_fn, then next_functions: the nodes loss.backward() ran, from the loss towards the input;",
                "the same indentation continues the path, a node's other inputs are indented under it, and beside",
                "each node is the manual method doing its job. Identity ('linear') records no node; the example X",
                "needs no gradient, so the path ends at the first layer's weight.",
                "",
                *grad_fn_chain(loss, torch_model)])]


def values(sections):
    return [line for section in sections for line in section.lines if isinstance(line, Value)]


def render(sections, config, example=None):
    r"""The walkthrough's text: a header, then each section with every value beside autograd's."""
    tol = TOLERANCES[config.dtype]
    sizes = "-".join(map(str, (2, *config.hidden, 1)))
    activations = ", ".join((*config.activations, config.output_activation))
    lines = [f"One SGD step of the {sizes} network ({activations}) in {config.dtype}, every number written out."]
    if example:
        lines.append(f"Example: {example}.")
    lines += ["Each line: manual's value with its formula and the numbers substituted (4 significant digits),",
              "then autograd's value of the same quantity and whether the two are the same (exact), within",
              f"|manual - autograd| <= {tol['atol']:g} + {tol['rtol']:g} |autograd| (close), or not (DIFFERENT)."]
    for section in sections:
        lines += ["", section.heading]
        width = max((len(line.text()) for line in section.lines if isinstance(line, Value)), default=0)
        for line in section.lines:
            lines.append(f"  {line.text():{width}}   autograd {line.autograd!s:>23}  {line.status(config.dtype)}"
                         if isinstance(line, Value) else f"  {line}")
    statuses = [value.status(config.dtype) for value in values(sections)]
    different = [value for value in values(sections) if value.status(config.dtype) == "DIFFERENT"]
    lines.append("")
    lines.append(f"{len(different)} of {len(statuses)} values differ from autograd; the first: {different[0].name}"
                 if different else
                 f"All {len(statuses)} values agree with autograd: {statuses.count('exact')} exact, "
                 f"{statuses.count('close')} within the tolerance.")
    return "\n".join(lines)


def walkthrough(config, X, y, weights=None):
    r"""The walkthrough of one SGD step on the points ``X`` with labels ``y``, as text (see ``compute``)."""
    return render(compute(config, X, y, weights), config)


def circle_label(point):
    r"""The circle data's label of any point: +1 within radius 2.5 of the origin, else -1 (as ``plygdata``)."""
    return 1.0 if math.hypot(*point) < 2.5 else -1.0


def point(text):
    r"""``"x1,x2"`` -> ``(x1, x2)``, two finite numbers."""
    try:
        coordinates = tuple(float(part) for part in text.split(","))
    except ValueError:
        coordinates = ()
    if len(coordinates) != 2 or not all(map(math.isfinite, coordinates)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a point: pass two finite numbers x1,x2 "
                                         "(--point=-1,2 when x1 is negative)")
    return coordinates


DESCRIPTION = ("Take one SGD step on one example (or a small batch) and print every number of it, forward and "
               "back, with its formula and the values substituted, beside the value autograd computed. Exit "
               "status 0 when every value agrees with autograd, 1 otherwise, 2 for bad input.")


def build_parser():
    defaults = Config()
    parser = Parser(prog="python -m compare.walkthrough", description=DESCRIPTION)
    parser.add_argument("--hidden", type=hidden_sizes, default=",".join(map(str, defaults.hidden)),
                        help='neurons per hidden layer, comma-separated; "" for none')
    parser.add_argument("--activations", type=activation_names, default=",".join(defaults.activations),
                        help=f"one activation per hidden layer, from {', '.join(manual.ACTIVATIONS)}")
    parser.add_argument("--dtype", choices=DTYPES, default="float64",
                        help="floating-point type of both sides; in float64 nearly every value is exact, "
                        "float32 shows rounding")
    parser.add_argument("--seed", type=number(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)"),
                        default=defaults.seed, help="seed of the initial weights and of the data")
    parser.add_argument("--init", choices=INITS, default=defaults.init,
                        help="initial weights: the article's xavier-uniform, or nn.Linear's default")
    parser.add_argument("--lr", type=number(float, lambda v: 0 < v < math.inf, "a finite number > 0"),
                        default=defaults.lr, help="SGD learning rate")
    parser.add_argument("--weight-decay", type=number(float, lambda v: 0 <= v < math.inf, "a finite number >= 0"),
                        default=defaults.weight_decay, help="SGD weight decay (L2 rate), applied to biases too")
    example = parser.add_mutually_exclusive_group()
    example.add_argument("--batch", type=number(int, lambda v: 1 <= v <= MAX_BATCH, f"an integer in [1, {MAX_BATCH}]"),
                         default=1, help="take the first N training points of the circle data")
    example.add_argument("--point", type=point, action="append", metavar="X1,X2",
                         help="an example in place of the data's; repeat it for a batch; write --point=-1,2 "
                         "when x1 is negative")
    parser.add_argument("--label", type=number(float, lambda v: v in (1, -1), "+1 or -1"), action="append",
                        help="the label of each example; None: the data's, or for a --point the circle's "
                        "rule (+1 within radius 2.5 of the origin)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    check_layer_count(parser, args.hidden, args.activations)
    if args.point:
        if len(args.point) > MAX_BATCH:
            parser.error(f"--point given {len(args.point)} times; at most {MAX_BATCH} examples")
        X, y = args.point, [circle_label(p) for p in args.point]
        source = f"{', '.join(f'({x1:g}, {x2:g})' for x1, x2 in X)}, given by --point"
    else:
        X_train, y_train, _, _ = load_data(seed=args.seed)
        X, y = X_train[:args.batch], y_train[:args.batch]
        first = "training point" if args.batch == 1 else f"{args.batch} training points"
        source = f"the first {first} of the circle data (seed {args.seed})"
    if args.label:
        if len(args.label) != len(X):
            parser.error(f"one --label per example: got {len(args.label)} for a batch of {len(X)}")
        y = args.label
    config = Config(batch_size=len(X), lr=args.lr, weight_decay=args.weight_decay, hidden=args.hidden,
                    activations=args.activations, dtype=args.dtype, seed=args.seed, init=args.init)
    sections = compute(config, X, y)
    print(render(sections, config, source))
    return 0 if all(v.status(config.dtype) != "DIFFERENT" for v in values(sections)) else 1


if __name__ == "__main__":
    sys.exit(main())
