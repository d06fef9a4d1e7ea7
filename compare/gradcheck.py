r"""``python -m compare.gradcheck``: every gradient three ways, in float64.

For the weights and the batch of one step of ``python -m compare``'s run (``--step N``, default the
first, with the same options), each parameter's gradient dL/dtheta of the loss is computed

- by ``manual``'s hand-written backprop (``model.backward``),
- by torch's autograd (``loss.backward()`` on a ``torch_impl`` model holding identical weights),
- by central finite differences on ``manual``'s forward pass, one element at a time:
  ``(L(theta_i + eps) - L(theta_i - eps)) / (2 eps)``.

Relative error of a parameter's gradient ``a`` against another, ``b``: the largest difference
relative to the largest gradient element, ``max_i |a_i - b_i| / max(max_i |a_i|, max_i |b_i|, TINY)``.
PASS needs it below 1e-6 against finite differences, and manual and autograd within
``python -m compare``'s float64 rule. docs/tools/gradcheck.md explains why this error and the ``--eps-sweep``.

A finite difference whose two ends fall on two sides of a kink (ReLU's or SELU's z = 0, where ELU's
and softsign's second derivative jumps too, softplus's threshold z = 20, L1's y_pred = y) measures
the slope of neither side, nor does one inside BCE's clamp (p (1 - p) below 1e-12, where the
gradient is torch's clamped formula): those elements are counted and left out of the comparison
with finite differences, and nothing else is.
"""
import math

import numpy as np
import torch

from manual import ELU, SELU, BCELoss, L1Loss, ReLU, Softplus, Softsign
from manual.loss import EPSILON

from . import cli
from .core.config import SETTINGS
from .core.pair import TOLERANCES, Pair, by_hand, read_only, sizes, tolerance_ratio
from .files import figure_writer, json_writer, save_outputs

EPS = 1e-5                                     # step of the finite differences: see --eps-sweep
SWEEP = tuple(10.0 ** -k for k in range(1, 13))
TINY = 1e-300
FD_THRESHOLD = 1e-6                            # largest relative error allowed against finite differences
PAIRS = (("manual", "fd"), ("autograd", "fd"), ("manual", "autograd"))
LABELS = {"manual": "manual", "autograd": "autograd", "fd": "FD"}


def numeric_gradient(f, x, h=1e-6, pieces=tuple):
    r"""Central finite differences of the scalar ``f()`` with respect to every element of ``x``:
    ``(grad, crossed)``, where ``crossed[i]`` says that ``pieces()``, read after each call of ``f``,
    differed between ``x_i + h`` and ``x_i - h``: the step crossed a kink.

    ``x`` is changed in place, one element at a time, and each element is put back exactly.
    """
    grad, crossed = np.zeros_like(x), np.zeros(x.shape, dtype=bool)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        f_plus, pieces_plus = f(), pieces()
        x[i] = saved - h
        f_minus, pieces_minus = f(), pieces()
        x[i] = saved
        grad[i] = (f_plus - f_minus) / (2 * h)
        crossed[i] = not all(map(np.array_equal, pieces_plus, pieces_minus))
    return grad, crossed


# Where each activation changes formula: ReLU's and SELU's kink at 0; ELU's and softsign's second derivative
# jumps at 0 (a central difference there is off by O(eps), not O(eps^2)); softplus turns into z above 20
KINKS = {ReLU: 0.0, SELU: 0.0, ELU: 0.0, Softsign: 0.0, Softplus: Softplus.THRESHOLD}


def pieces(model, criterion):
    r"""Which piece of each piecewise function the last forward pass and loss fell on: the side of its
    kink (``KINKS``) for every activation's z, the sign of y_pred - y in L1; inside BCE's clamp, NaN, which
    equals nothing, so that a step there always counts (the clamped gradient is not the loss's slope)."""
    signs = [module.z > KINKS[type(module)] for module in model.children() if type(module) in KINKS]
    if isinstance(criterion, L1Loss):
        signs.append(np.sign(criterion.y_pred - criterion.y))
    if isinstance(criterion, BCELoss):
        p = criterion.y_pred
        signs.append(np.where(p * (1 - p) < EPSILON, np.nan, 0.0))
    return signs


def relative_error(a, b):
    r"""``max |a - b| / max(max |a|, max |b|, TINY)``: the largest difference over the largest element;
    None for no elements (every one left out)."""
    if a.size == 0:
        return None
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), TINY))


class Problem:
    r"""One step's weights and batch: manual's and autograd's gradients as each side's own ``train_step``
    computes them (the model's backward, or the engine's ``loss.backward()``; torch's ``loss.backward()``), and
    manual/nn.py's model to take finite differences on."""

    def __init__(self, config, weights, X, y):
        self.X, self.y = X, y
        stepped = Pair(config, weights)
        stepped.manual_step(read_only(X), read_only(y))
        stepped.torch_step(torch.tensor(X), torch.tensor(y))
        self.gradients = {side: {name: np.array(p.grad) if side == "manual" else p.grad.numpy()
                                 for name, p in zip(stepped.names, params, strict=True)}
                          for side, params in zip(("manual", "autograd"), stepped.params, strict=True)}
        pair = Pair(by_hand(config), weights)                     # the network by hand, also for --manual autograd
        self.manual_model, self.criterion = pair.models[0], pair.criteria[0]
        self.names = pair.names

    def loss(self):
        return self.criterion(self.manual_model(self.X), self.y)

    def numeric_gradients(self, eps):
        r"""``{name: (finite differences, where they crossed a kink)}`` for every parameter."""
        return {name: numeric_gradient(self.loss, p.data, eps, lambda: pieces(self.manual_model, self.criterion))
                for name, p in self.manual_model.named_parameters()}


def difference(a, b):
    return {"max_abs": float(np.abs(a - b).max()) if a.size else None, "max_rel": relative_error(a, b)}


def failed(error):
    return error is not None and not error < FD_THRESHOLD


def check(problem, eps):
    r"""Compare every parameter's three gradients pairwise, finite differences where they crossed no
    kink; return the errors, the differences left out per parameter (``kinks``) and what fails."""
    numeric = problem.numeric_gradients(eps)
    parameters, failures = {}, []
    for name in problem.names:
        manual, autograd = (problem.gradients[side][name] for side in ("manual", "autograd"))
        fd, crossed = numeric[name]
        kept = ~crossed
        errors = parameters[name] = {"manual-fd": difference(manual[kept], fd[kept]),
                                     "autograd-fd": difference(autograd[kept], fd[kept]),
                                     "manual-autograd": difference(manual, autograd),
                                     "kinks": int(crossed.sum()), "elements": int(crossed.size)}
        for side in ("manual", "autograd"):
            if failed(errors[f"{side}-fd"]["max_rel"]):
                failures.append(f"{name}: {side} vs FD relative error {errors[f'{side}-fd']['max_rel']:.1e}")
        if not np.all(tolerance_ratio(manual, autograd, "float64") <= 1):
            failures.append(f"{name}: manual vs autograd differ by {errors['manual-autograd']['max_abs']:.1e}")
    return {"eps": eps, "parameters": parameters, "failures": failures, "ok": not failures}


def sweep(problem, names):
    r"""For each eps in ``SWEEP`` and each parameter of ``names``: the relative error of manual vs finite
    differences (those across a kink left out, as in ``check``); each parameter's best eps, and over all
    of them the largest error per eps."""
    manual_grads = problem.gradients["manual"]
    errors = {name: [] for name in names}
    for eps in SWEEP:
        numeric = problem.numeric_gradients(eps)
        for name in names:
            fd, crossed = numeric[name]
            errors[name].append(relative_error(manual_grads[name][~crossed], fd[~crossed]))
    largest = [max((e for e in at_eps if e is not None), default=None) for at_eps in zip(*errors.values(), strict=True)]
    return {"eps": list(SWEEP), "max_rel": largest, "best_eps": best_eps(largest),
            "parameters": {name: {"rel": rel, "best_eps": best_eps(rel)} for name, rel in errors.items()}}


def best_eps(errors):
    r"""The eps of the smallest error; None if every difference was left out at every eps."""
    compared = [(error, eps) for error, eps in zip(errors, SWEEP, strict=True) if error is not None]
    return min(compared)[1] if compared else None


def cell(value, width):
    return f"{value:{width}.2e}" if value is not None else f"{'-':>{width}}"


def format_check(result):
    pairs = [f"{LABELS[a]}-{LABELS[b]}" for a, b in PAIRS]
    lines = [f"{'':18}{'largest |a - b|':^51}{'largest relative error':^51}",
             f"{'parameter':18}" + "".join(f"{p:>17}" for p in pairs * 2)]
    for name, errors in result["parameters"].items():
        values = [errors[f"{a}-{b}"][kind] for kind in ("max_abs", "max_rel") for a, b in PAIRS]
        lines.append(f"{name:18}" + "".join(cell(v, 17) for v in values))
    return "\n".join(lines)


def format_sweep(result):
    r"""One column per parameter: its relative error, manual vs FD, at each eps; ``*`` marks its best eps."""
    names = list(result["parameters"])
    lines = ["relative error, manual vs FD, per parameter (* its best eps)",
             f"{'eps':>8}" + "".join(f"{name:>18}" for name in names)]
    for i, eps in enumerate(result["eps"]):
        cells = [f"{cell(sweep['rel'][i], 8)}{'*' if sweep['best_eps'] == eps else ' '}"
                 for sweep in result["parameters"].values()]
        lines.append(f"{eps:8.0e}" + "".join(f"{cell:>18}" for cell in cells))
    return "\n".join(lines)


def verdict(result):
    tol = TOLERANCES["float64"]
    rules = (f"relative error vs FD < {FD_THRESHOLD:g}; "
             f"|manual - autograd| <= {tol['atol']:g} + {tol['rtol']:g} |autograd|")
    crossed = [f"{name} {p['kinks']} of {p['elements']}" for name, p in result["parameters"].items() if p["kinks"]]
    kinks = ("\nLeft out of the comparison with FD, their step crossing a kink (an activation's at z = 0, softplus's "
             f"at z = 20, L1's at y_pred = y) or inside BCE's clamp: {', '.join(crossed)}." if crossed else "")
    if result["failures"]:
        return f"FAIL ({rules}):\n  " + "\n  ".join(result["failures"]) + kinks
    worst = {pair: max((p[pair]["max_rel"] for p in result["parameters"].values() if p[pair]["max_rel"] is not None),
                       default=0) for pair in ("manual-fd", "autograd-fd")}
    return (f"PASS ({rules}): largest relative error vs FD {worst['manual-fd']:.1e} (manual), "
            f"{worst['autograd-fd']:.1e} (autograd).") + kinks


def sweep_figure(result, title):
    r"""The sweep on log-log axes, one line per parameter, each one's best eps marked."""
    from matplotlib.figure import Figure  # imported only when a figure is asked for

    fig = Figure(figsize=(8, 5.5), dpi=100, layout="constrained")
    ax = fig.subplots()
    for name, sweep in result["parameters"].items():
        if sweep["best_eps"] is None:                      # every difference crossed a kink: nothing to draw
            continue
        line, = ax.loglog(result["eps"], np.array(sweep["rel"], dtype=float), "o-", markersize=4,
                          label=f"{name} (best eps {sweep['best_eps']:g})")
        best = result["eps"].index(sweep["best_eps"])
        ax.loglog([sweep["best_eps"]], [sweep["rel"][best]], "*", color=line.get_color(), markersize=16,
                  markeredgecolor="black")
    ax.set(xlabel="eps (finite-difference step)", ylabel="relative error, manual vs FD",
           title="Finite differences: round-off error (~1/eps) left, truncation error (~eps$^2$) right")
    fig.suptitle(title, fontsize=9)
    ax.legend(loc="best", fontsize=8)
    ax.grid(which="major")
    return fig


# every setting of the run that reaches step N, as compare.trace takes them; the dtype is float64
OPTIONS = (*(name for name in SETTINGS if name not in ("dtype", "free_running")), "weights", "playground", "exact",
           "step", "point", "label", "json", "plot")


def main(argv=None):
    parser = cli.parser("python -m compare.gradcheck", (
        "Check every gradient of one training step three ways: manual backprop, torch autograd and central "
        "finite differences. Always in float64: a finite difference divides a difference of two losses by "
        "2 eps, which in float32 would keep only a few digits."), OPTIONS)
    parser.add_argument("--fd-eps", type=float, default=EPS, help=f"step of the central finite differences "
                        f"(default: {EPS:g})")
    parser.add_argument("--eps-sweep", action="store_true", help="also each parameter's error for eps = 1e-1 ... "
                        "1e-12 (and --plot draws it)")
    parser.add_argument("--parameter", metavar="NAME", help="the sweep of this parameter only, e.g. layer1.weight")
    args = parser.parse_args(argv)
    if not 0 < args.fd_eps < math.inf:
        parser.error(f"--fd-eps {args.fd_eps}: must be a finite number > 0")
    if args.plot and not args.eps_sweep:
        parser.error("--plot draws the eps sweep: add --eps-sweep")
    config, source = cli.configure(parser, args, dtype="float64")
    weights, _, X, y = cli.step_and_batch(parser, args, source)
    problem = Problem(config, weights, X, y)
    names = problem.names
    if args.parameter is not None and args.parameter not in names:
        parser.error(f"--parameter {args.parameter}: the network's parameters are {', '.join(names)}")
    if args.parameter is not None and not args.eps_sweep:
        parser.error("--parameter picks the parameter of the eps sweep: add --eps-sweep")
    names = names if args.parameter is None else [args.parameter]
    out = cli.report_stream(args)
    activations = "/".join((*config.activations, config.output_activation))
    batch = (f"the point ({args.point[0]:g}, {args.point[1]:g})" if args.point else
             f"its batch of {len(X)} {config.dataset} points")
    start = f"weights from {args.weights}" if args.weights else f"{config.init} weights (seed {config.seed})"
    engine = ", manual's gradients by its autograd engine (manual/autograd.py)" if config.manual == "autograd" else ""
    title = (f"{'-'.join(map(str, sizes(config)))} network ({activations}), float64, {start}, step {args.step}'s "
             f"weights, {batch}{engine}")
    result = check(problem, args.fd_eps)
    print(f"Gradient check: {title}, eps {args.fd_eps:g}\n", file=out)
    print(format_check(result), file=out)
    if args.eps_sweep:
        result["sweep"] = sweep(problem, names)
        print(file=out)
        print(format_sweep(result["sweep"]), file=out)
    print(file=out)
    print(verdict(result), file=out)
    report = {"config": config.to_json(), "step": args.step,
              "relative_error": f"max |a - b| / max(max |a|, max |b|, {TINY:g}), per parameter",
              "fd_threshold": FD_THRESHOLD, "manual_autograd_tolerance": TOLERANCES["float64"], **result}
    figure = args.plot and sweep_figure(result["sweep"], title)
    save_outputs(parser, [(args.json, json_writer(report)), (args.plot, figure_writer(figure, "--plot", args.plot))])
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    cli.run(main)
