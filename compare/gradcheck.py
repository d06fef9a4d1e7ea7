r"""``python -m compare.gradcheck``: every gradient three ways, in float64.

For one batch (the first ``--batch-size`` training points of the Playground circle data) and one
set of weights (drawn as ``python -m compare`` draws them for the same ``--seed`` and ``--init``),
each parameter's gradient dL/dtheta of the MSE loss is computed

- by ``manual``'s hand-written backprop (``model.backward``),
- by torch's autograd (``loss.backward()`` on a ``torch_impl`` model holding identical weights),
- by central finite differences on ``manual``'s forward pass, one element at a time:
  ``(L(theta_i + eps) - L(theta_i - eps)) / (2 eps)``.

Relative error of a parameter's gradient ``a`` against another, ``b`` (both arrays of the
parameter's shape): the largest difference, relative to the largest gradient element::

    rel(a, b) = max_i |a_i - b_i| / max(max_i |a_i|, max_i |b_i|, TINY)     TINY = 1e-300

It is scale-free: 1e-7 means "agrees to 7 significant digits of the parameter's gradient",
whatever the size of that gradient. cs231n's element-wise version, ``|a_i - b_i| / max(|a_i|,
|b_i|)`` maximised over i, judges each element against itself instead, and so fails correct
gradients: an element much smaller than the others (1e-5 next to a loss of 1, say) keeps only a
few exact digits in its finite difference, whose round-off is about ``1e-16 |L| / eps`` in absolute
terms. Over 100 correct networks (5 architectures, 2 initialisations, 10 seeds, eps 1e-5) the
element-wise version exceeded 1e-6 four times, up to 7e-4; this one stayed below 3.4e-8.

Verdict (exit status 0 when all hold, 1 otherwise, 2 for bad input):

- manual vs finite differences and autograd vs finite differences: relative error < 1e-6;
- manual vs autograd: ``python -m compare``'s float64 rule ``|m - a| <= atol + rtol |a|`` with
  atol 1e-12, rtol 1e-9 (autograd and manual add the same numbers in a different order, so they
  agree to rounding, far closer than finite differences can tell).

``--eps-sweep`` repeats the finite differences for eps = 1e-1, 1e-2, ..., 1e-12 and prints the
largest relative error (manual vs finite differences, over all parameters) for each. Going down,
the error first falls as the truncation error of the central difference, about
``eps**2 L''' / 6``, shrinks; then it rises again as round-off takes over: ``L`` is known only to
about 1e-16 of its size, and dividing the difference of two nearly equal losses by ``2 eps``
magnifies that to about ``1e-16 |L| / eps``. The best eps sits where the two meet, near
``(1e-16)**(1/3)``, about 5e-6: the default ``--eps 1e-5`` is the measured best for the default
network.
"""
import math
import sys

import numpy as np
import torch
from matplotlib.figure import Figure

import manual

from .cli import Parser, activation_names, hidden_sizes, number
from .data import load_data
from .files import check_outputs, save_figure, save_json
from .pair import INITS, TOLERANCES, Config, make_pair, tolerance_ratio

EPS = 1e-5                                     # step of the finite differences: see --eps-sweep
SWEEP = tuple(10.0 ** -k for k in range(1, 13))
TINY = 1e-300
FD_THRESHOLD = 1e-6                            # largest relative error allowed against finite differences
PAIRS = (("manual", "fd"), ("autograd", "fd"), ("manual", "autograd"))
LABELS = {"manual": "manual", "autograd": "autograd", "fd": "FD"}


def numeric_gradient(f, x, h=1e-6):
    r"""Central finite differences of the scalar ``f()`` with respect to every element of ``x``.

    ``x`` is changed in place, one element at a time, and each element is put back exactly.
    """
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        f_plus = f()
        x[i] = saved - h
        f_minus = f()
        x[i] = saved
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a, b):
    r"""``max |a - b| / max(max |a|, max |b|, TINY)``: the largest difference over the largest element."""
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), TINY))


class Problem:
    r"""One batch and the manual and torch models with identical float64 weights."""

    def __init__(self, config, batch_size):
        X_train, y_train, _, _ = load_data(config.dataset, config.noise, config.train_ratio, config.seed)
        self.X, self.y = X_train[:batch_size], y_train[:batch_size]
        self.manual_model, self.torch_model = make_pair(config, np.random.default_rng(config.seed))
        self.criterion = manual.MSELoss()

    def loss(self):
        return self.criterion(self.manual_model(self.X), self.y)

    def manual_gradients(self):
        for p in self.manual_model.parameters():
            p.grad = None                               # backward adds to .grad, as torch's does
        self.loss()
        self.manual_model.backward(self.criterion.backward())
        return {name: p.grad for name, p in self.manual_model.named_parameters()}

    def autograd_gradients(self):
        self.torch_model.zero_grad()
        y_pred = self.torch_model(torch.tensor(self.X))    # a copy: the two sides share no memory
        torch.nn.functional.mse_loss(y_pred, torch.tensor(self.y)).backward()
        return {name: p.grad.numpy() for name, p in self.torch_model.named_parameters()}

    def numeric_gradients(self, eps):
        return {name: numeric_gradient(self.loss, p.data, eps) for name, p in self.manual_model.named_parameters()}


def check(problem, eps):
    r"""Compare every parameter's three gradients pairwise; return the errors and what fails."""
    grads = {"manual": problem.manual_gradients(), "autograd": problem.autograd_gradients(),
             "fd": problem.numeric_gradients(eps)}
    parameters, failures = {}, []
    for name in grads["manual"]:
        g = {side: grads[side][name] for side in grads}
        errors = parameters[name] = {f"{a}-{b}": {"max_abs": float(np.abs(g[a] - g[b]).max()),
                                                  "max_rel": relative_error(g[a], g[b])}
                                     for a, b in PAIRS}
        for side in ("manual", "autograd"):
            if not errors[f"{side}-fd"]["max_rel"] < FD_THRESHOLD:
                failures.append(f"{name}: {side} vs FD relative error {errors[f'{side}-fd']['max_rel']:.1e}")
        if not np.all(tolerance_ratio(g["manual"], g["autograd"], "float64") <= 1):
            failures.append(f"{name}: manual vs autograd differ by {errors['manual-autograd']['max_abs']:.1e}")
    return {"eps": eps, "parameters": parameters, "failures": failures, "ok": not failures}


def sweep(problem):
    r"""For each eps in ``SWEEP``: the largest relative error of manual vs finite differences."""
    manual_grads = problem.manual_gradients()
    errors = []
    for eps in SWEEP:
        numeric = problem.numeric_gradients(eps)
        errors.append(max(relative_error(manual_grads[n], numeric[n]) for n in manual_grads))
    return {"eps": list(SWEEP), "max_rel": errors, "best_eps": SWEEP[int(np.argmin(errors))]}


def format_check(result):
    pairs = [f"{LABELS[a]}-{LABELS[b]}" for a, b in PAIRS]
    lines = [f"{'':18}{'largest |a - b|':^51}{'largest relative error':^51}",
             f"{'parameter':18}" + "".join(f"{p:>17}" for p in pairs * 2)]
    for name, errors in result["parameters"].items():
        values = [errors[f"{a}-{b}"][kind] for kind in ("max_abs", "max_rel") for a, b in PAIRS]
        lines.append(f"{name:18}" + "".join(f"{v:17.2e}" for v in values))
    return "\n".join(lines)


def format_sweep(result):
    lines = [f"{'eps':>8}  largest relative error, manual vs FD"]
    for eps, error in zip(result["eps"], result["max_rel"]):
        lines.append(f"{eps:8.0e}  {error:.2e}" + ("   <- best" if eps == result["best_eps"] else ""))
    return "\n".join(lines)


def verdict(result):
    tol = TOLERANCES["float64"]
    rules = (f"relative error vs FD < {FD_THRESHOLD:g}; "
             f"|manual - autograd| <= {tol['atol']:g} + {tol['rtol']:g} |autograd|")
    if result["failures"]:
        return f"FAIL ({rules}):\n  " + "\n  ".join(result["failures"])
    worst = {pair: max(p[pair]["max_rel"] for p in result["parameters"].values()) for pair in ("manual-fd", "autograd-fd")}
    return (f"PASS ({rules}): largest relative error vs FD {worst['manual-fd']:.1e} (manual), "
            f"{worst['autograd-fd']:.1e} (autograd).")


def sweep_figure(result, title):
    r"""The sweep on log-log axes, with the best eps marked."""
    fig = Figure(figsize=(7, 5), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.loglog(result["eps"], result["max_rel"], "o-", label="largest relative error, manual vs FD")
    best = result["best_eps"]
    ax.loglog([best], [result["max_rel"][result["eps"].index(best)]], "r*", markersize=15, label=f"best eps = {best:g}")
    ax.set(xlabel="eps (finite-difference step)", ylabel="largest relative error",
           title="Finite differences: round-off error (~1/eps) left, truncation error (~eps$^2$) right")
    fig.suptitle(title, fontsize=9)
    ax.legend(loc="best")
    ax.grid(which="major")
    return fig


def build_parser():
    defaults = Config()
    parser = Parser(prog="python -m compare.gradcheck", description=(
        "Check every gradient of the network three ways in float64: manual backprop, torch "
        "autograd and central finite differences."))
    parser.add_argument("--hidden", type=hidden_sizes, default=",".join(map(str, defaults.hidden)),
                        help='neurons per hidden layer, comma-separated; "" for none')
    parser.add_argument("--activations", type=activation_names, default=",".join(defaults.activations),
                        help="one activation per hidden layer")
    parser.add_argument("--seed", type=number(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)"),
                        default=defaults.seed, help="seed of the data and the weights, as python -m compare's")
    parser.add_argument("--init", choices=INITS, default=defaults.init, help="initial weights")
    parser.add_argument("--batch-size", type=number(int, lambda v: v >= 1, "an integer >= 1"),
                        default=defaults.batch_size, help="the first this many training points form the batch")
    parser.add_argument("--eps", type=number(float, lambda v: 0 < v < math.inf, "a finite number > 0"),
                        default=EPS, help="step of the central finite differences")
    parser.add_argument("--eps-sweep", action="store_true", help="also print the error for eps = 1e-1 ... 1e-12")
    parser.add_argument("--plot", metavar="PATH", help="with --eps-sweep: draw the sweep as PNG")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.plot and not args.eps_sweep:
        parser.error("--plot draws the eps sweep: add --eps-sweep")
    config = Config(hidden=args.hidden, activations=args.activations, dtype="float64", seed=args.seed,
                    init=args.init)
    try:
        check_outputs({"--json": args.json, "--plot": args.plot})
        problem = Problem(config, args.batch_size)      # checks that the activations fit the layers
    except ValueError as exc:
        parser.error(str(exc))
    if len(problem.X) < args.batch_size:
        parser.error(f"--batch-size {args.batch_size}: there are only {len(problem.X)} training points")

    sizes = "-".join(map(str, (2, *args.hidden, 1)))
    activations = "/".join((*args.activations, config.output_activation))
    title = (f"{sizes} network ({activations}), float64, {args.init} weights (seed {args.seed}), "
             f"the first {args.batch_size} {config.dataset} training points")
    result = check(problem, args.eps)
    print(f"Gradient check: {title}, eps {args.eps:g}\n")
    print(format_check(result))
    if args.eps_sweep:
        result["sweep"] = sweep(problem)
        print()
        print(format_sweep(result["sweep"]))
    print()
    print(verdict(result))
    if args.json:
        report = {"config": {"hidden": args.hidden, "activations": args.activations, "seed": args.seed,
                             "init": args.init, "batch_size": args.batch_size, "dtype": "float64"},
                  "relative_error": f"max |a - b| / max(max |a|, max |b|, {TINY:g}), per parameter",
                  "fd_threshold": FD_THRESHOLD, "manual_autograd_tolerance": TOLERANCES["float64"], **result}
        save_json(args.json, report)
    if args.plot:
        save_figure(args.plot, sweep_figure(result["sweep"], title))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
