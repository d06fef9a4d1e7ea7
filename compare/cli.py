r"""``python -m compare``: train both implementations in lockstep and report whether they agree.

Exit status: 0 when they agree, 1 when they do not or training diverged, 2 for bad input.
"""
import argparse
import decimal
import math
from dataclasses import replace

import numpy as np

import manual

from .data import DATASETS, REGRESSION, check_features, load_data
from .files import MAX_PARAMETERS, check_outputs, load_weights, save_figure, save_json, save_weights
from .lockstep import run
from .pair import DTYPES, INITS, OPTIMIZERS, REGULARIZATIONS, RULES, Config, check_weights
from .playground import parse_url
from .plot import make_figure
from .report import epoch_report, summary

ACTIVATION_NAMES = tuple(manual.ACTIVATIONS)


class Parser(argparse.ArgumentParser):
    r"""argparse, but a usage error is one line, ``error: ...``, and exit status 2; ``--help`` shows
    every default."""

    def __init__(self, **kwargs):
        super().__init__(formatter_class=DefaultsHelpFormatter, **kwargs)

    def error(self, message):
        self.exit(2, f"error: {message}\n")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    r"""Appends ``(default: ...)`` to each option's help, except where the help states it itself
    (an option whose default depends on another, such as ``--momentum``, is None until resolved)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def number(convert, check, requirement):
    r"""An argparse ``type`` that converts with ``convert`` and accepts values that pass ``check``."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; it must be {requirement}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range; it must be {requirement}")
        return value
    return parse


def real(text):
    r"""``float(text)``, refusing a nonzero number such as ``1e-400`` that rounds to 0.0."""
    value = float(text)
    if value == 0 and decimal.Decimal(text) != 0:
        raise argparse.ArgumentTypeError(f"{text} is not 0 but rounds to 0 in float64")
    return value


def check_representable(flag, value, dtype):
    r"""Raise ``ValueError`` if ``value`` overflows ``dtype`` or, being nonzero, rounds to 0 in it."""
    with np.errstate(over="ignore"):
        rounded = DTYPES[dtype][0](value)
    if math.isinf(rounded):
        raise ValueError(f"{flag} {value:g} overflows {dtype} (largest: {np.finfo(dtype).max:g})")
    if rounded == 0 != value:
        raise ValueError(f"{flag} {value:g} rounds to 0 in {dtype} (smallest: {np.finfo(dtype).smallest_subnormal:g})")


def listed(text):
    r"""``"tanh, sigmoid"`` -> ``("tanh", "sigmoid")``; ``""`` -> ``()``."""
    return tuple(part.strip() for part in text.split(",")) if text.strip() else ()


def hidden_sizes(text):
    r"""``"3,3"`` -> ``(3, 3)``; ``""`` -> ``()`` (no hidden layer)."""
    try:
        sizes = tuple(int(part) for part in listed(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: every hidden layer needs at least 1 neuron")
    layers = (manual.nn.INPUT_FEATURES, *sizes, manual.nn.OUTPUT_RESULTS)
    parameters = sum(n_in * n_out + n_out for n_in, n_out in zip(layers, layers[1:]))
    if parameters > MAX_PARAMETERS:
        raise argparse.ArgumentTypeError(f"{text!r} makes a network of {parameters:,} parameters; "
                                         f"at most {MAX_PARAMETERS:,} are trained")
    return sizes


def activation_names(text):
    names = listed(text)
    unknown = [name for name in names if name not in ACTIVATION_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown activation {unknown[0]!r}; choose from {', '.join(ACTIVATION_NAMES)}")
    return names


def feature_names(text):
    r"""``"x,y,sinx"`` -> ``("x", "y", "sinx")``, each a known feature, at most once."""
    names = listed(text)
    try:
        check_features(names)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names


DESCRIPTION = ("Train the article's network twice, with hand-written NumPy backprop (manual) and with "
               "PyTorch autograd (torch_impl), on the same batches, and check at every step, from "
               "identical weights, that losses, gradients, updates and predictions agree.")


def betas(text):
    r"""``"0.9,0.999"`` -> ``(0.9, 0.999)``, each in [0, 1)."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not two comma-separated numbers") from None
    if len(values) != 2 or not all(0 <= v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give two numbers in [0, 1), e.g. 0.9,0.999")
    return values


def optimizer_settings(parser, args):
    r"""The optimizer's fields of ``Config``; an option that does not apply to it is an error."""
    sgd_only = {"--momentum": args.momentum is not None, "--nesterov": args.nesterov}
    adam_only = {"--betas": args.betas is not None, "--eps": args.eps is not None, "--amsgrad": args.amsgrad}
    foreign = [flag for flag, given in (adam_only if args.optimizer == "sgd" else sgd_only).items() if given]
    if foreign:
        parser.error(f"{foreign[0]} does not apply to --optimizer {args.optimizer}")
    if args.nesterov and not args.momentum:
        parser.error("--nesterov needs a --momentum above 0")
    defaults = Config()
    if args.rules == "playground":
        return {"rules": "playground", **playground_settings(parser, args)}
    return {"weight_decay": defaults.weight_decay if args.weight_decay is None else args.weight_decay,
            "optimizer": args.optimizer, "momentum": args.momentum or defaults.momentum, "nesterov": args.nesterov,
            "betas": args.betas or defaults.betas, "eps": defaults.eps if args.eps is None else args.eps,
            "amsgrad": args.amsgrad}


def playground_settings(parser, args):
    r"""``--rules playground``: Playground's update replaces torch.optim; its options do not apply."""
    foreign = {"--weight-decay": args.weight_decay is not None, "--optimizer": args.optimizer != "sgd",
               "--momentum": args.momentum is not None, "--nesterov": args.nesterov}
    given = [flag for flag, present in foreign.items() if present]
    if given:
        parser.error(f"{given[0]} does not apply to --rules playground (its update is plain SGD "
                     "with --regularization on the weights)")
    return {"regularization": args.regularization or "none", "regularization_rate": args.regularization_rate or 0.0}


def torch_rules_check(parser, args):
    r"""``--rules torch`` has no Playground regularisation: its L2 is ``--weight-decay``."""
    if args.regularization not in (None, "none") or args.regularization_rate not in (None, 0.0):
        parser.error("--regularization and --regularization-rate need --rules playground "
                     "(with --rules torch, --weight-decay is L2 on every parameter, biases too)")


def build_parser(prog="python -m compare", description=DESCRIPTION, whole_run=True):
    r"""The options of a run. ``python -m compare.trace`` (``whole_run=False``) takes the same options
    but those about the whole run's outputs and course, and adds its own."""
    defaults = Config()
    parser = Parser(prog=prog, description=description)
    positive_int = number(int, lambda v: v >= 1, "an integer >= 1")
    parser.add_argument("--epochs", type=positive_int, default=defaults.epochs, help="training epochs")
    parser.add_argument("--batch-size", type=positive_int, default=defaults.batch_size, help="mini-batch size")
    parser.add_argument("--lr", type=number(real, lambda v: 0 < v < math.inf, "a finite number > 0"),
                        default=defaults.lr, help="learning rate of the optimizer")
    parser.add_argument("--weight-decay", type=number(real, lambda v: 0 <= v < math.inf, "a finite number >= 0"),
                        help=f"weight decay of the optimizer (L2 rate), applied to biases too (default: "
                        f"{defaults.weight_decay}; not with --rules playground, see --regularization)")
    parser.add_argument("--dataset", choices=DATASETS, default=defaults.dataset,
                        help=f"Playground data set; {' and '.join(REGRESSION)} are regression (linear output)")
    parser.add_argument("--features", type=feature_names, default=",".join(defaults.features),
                        help="the network's inputs, comma-separated, from x, y, x2, y2, xy, sinx, siny")
    parser.add_argument("--noise", type=number(float, lambda v: 0 <= v <= 0.5, "in [0, 0.5]"),
                        default=defaults.noise, help="Playground noise level")
    parser.add_argument("--train-ratio", type=number(float, lambda v: 0 < v < 1, "strictly between 0 and 1"),
                        default=defaults.train_ratio, help="share of the points used for training")
    parser.add_argument("--hidden", type=hidden_sizes, default=",".join(map(str, defaults.hidden)),
                        help='neurons per hidden layer, comma-separated; "" for none')
    parser.add_argument("--activations", type=activation_names, default=",".join(defaults.activations),
                        help=f"one activation per hidden layer, from {', '.join(ACTIVATION_NAMES)}")
    parser.add_argument("--dtype", choices=DTYPES, default=defaults.dtype, help="floating-point type of both sides")
    parser.add_argument("--seed", type=number(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)"),
                        default=defaults.seed, help="seed of the data, the initial weights and the batch order")
    parser.add_argument("--init", choices=INITS, default=defaults.init,
                        help="initial weights: the article's xavier-uniform, nn.Linear's default, "
                        "Playground's U(-0.5, 0.5) with biases 0.1, or all zero (Playground's initZero)")
    parser.add_argument("--weights", metavar="PATH", help="initial weights: .npz or a torch state dict, "
                        "keyed like state_dict() (replaces --init)")
    parser.add_argument("--json", metavar="PATH", help="write the full result as JSON")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer,
                        help="torch.optim.SGD, Adam or AdamW on the torch side, their manual twins on the other")
    parser.add_argument("--momentum", type=number(float, lambda v: 0 <= v < math.inf, "a finite number >= 0"),
                        help=f"SGD momentum (default: {defaults.momentum})")
    parser.add_argument("--nesterov", action="store_true", help="SGD: Nesterov momentum (needs --momentum)")
    parser.add_argument("--betas", type=betas, help=f"Adam(W): beta1,beta2 (default: {','.join(map(str, defaults.betas))})")
    parser.add_argument("--eps", type=number(float, lambda v: 0 <= v < math.inf, "a finite number >= 0"),
                        help=f"Adam(W): term added to the denominator (default: {defaults.eps:g})")
    parser.add_argument("--amsgrad", action="store_true", help="Adam(W): the AMSGrad variant")
    parser.add_argument("--rules", choices=RULES, default=defaults.rules,
                        help="torch: MSELoss and torch.optim; playground: Playground's 1/2-MSE and its "
                        "update, regularisation on the weights only")
    parser.add_argument("--regularization", choices=REGULARIZATIONS,
                        help=f"--rules playground: penalty on the weights (default: {defaults.regularization})")
    parser.add_argument("--regularization-rate", type=number(float, lambda v: 0 <= v < math.inf,
                        "a finite number >= 0"), help="--rules playground: the penalty's rate "
                        f"(default: {defaults.regularization_rate})")
    parser.add_argument("--playground", metavar="URL", help="take every setting from a Playground URL; "
                        "options given after it override it")
    if whole_run:
        parser.add_argument("--save-weights", metavar="PATH", help="write the trained weights as .npz")
        parser.add_argument("--plot", metavar="PATH", help="write loss curves, gradient differences and "
                            "decision boundaries as PNG")
        parser.add_argument("--seeds", type=number(int, lambda v: 1 <= v <= 1000, "an integer in [1, 1000]"),
                            metavar="N", help="run seeds --seed .. --seed+N-1 and print one line each: verdict and "
                            "final accuracy (no other output file)")
        parser.add_argument("--free-running", action="store_true", help="never re-synchronise the two "
                            "models: watch rounding drift instead of checking each step on its own")
        parser.add_argument("--keep-going", action="store_true", help="run on after the first failed check")
        parser.add_argument("--quiet", action="store_true", help="print only the summary")
    else:                                      # not options here, but check_arguments reads them
        parser.set_defaults(save_weights=None, plot=None, seeds=None, free_running=False, keep_going=False,
                            quiet=False)
    return parser


def check_layer_count(parser, hidden, activations):
    r"""One activation per hidden layer, or a one-line error that shows how to write it."""
    if len(activations) != len(hidden):
        written = lambda names: ",".join(map(str, names)) or '""'         # noqa: E731
        parser.error(f"--hidden {written(hidden)} has {len(hidden)} hidden layers but --activations "
                     f"{written(activations)} names {len(activations)} activations: give one per layer, "
                     f"e.g. --activations {written(['tanh'] * len(hidden))}")


def check_arguments(parser, args):
    r"""Turn parsed arguments into ``(config, weights)``; any bad input is ``parser.error`` (exit 2)."""
    check_layer_count(parser, args.hidden, args.activations)
    if args.rules == "torch":
        torch_rules_check(parser, args)
    if args.plot and args.features != ("x", "y"):
        parser.error("--plot draws the model over the (x, y) plane and needs --features x,y")
    config = Config(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, dataset=args.dataset,
                    features=args.features, noise=args.noise, train_ratio=args.train_ratio, hidden=args.hidden,
                    activations=args.activations,
                    output_activation="linear" if args.dataset in REGRESSION else "tanh",
                    dtype=args.dtype, seed=args.seed, init=args.init, free_running=args.free_running,
                    keep_going=args.keep_going, **optimizer_settings(parser, args))
    weights = None
    try:
        for flag, value in (("--lr", config.lr), ("--weight-decay", config.weight_decay)):
            check_representable(flag, value, args.dtype)
        check_outputs({"--save-weights": args.save_weights, "--json": args.json, "--plot": args.plot})
        load_data(config.dataset, config.noise, config.train_ratio, config.seed)   # may leave a set empty
        if args.weights:
            weights = load_weights(args.weights)
            check_weights(config, weights, args.weights)
    except ValueError as exc:
        parser.error(str(exc))
    return config, weights


def seed_sweep(config, weights, n):
    r"""One line per seed: the verdict and both sides' final accuracies; exit 0 when every seed agrees."""
    print(f"{'seed':>6}  {'verdict':9}{'acc':>8}{'val_acc':>9}{'val_loss':>10}   (manual's; torch's agree within the tolerance)")
    verdicts = []
    for seed in range(config.seed, config.seed + n):
        result = run(replace(config, seed=seed), weights)
        last = result.history["manual"][-1] if result.history["manual"] else {}
        print(f"{seed:>6}  {result.verdict:9}" + "".join(f"{last.get(k, float('nan')):{w}.3f}"
              for k, w in (("acc", 8), ("val_acc", 9), ("val_loss", 10))), flush=True)
        verdicts.append(result.verdict)
    print(f"\n{verdicts.count('AGREE')} of {n} seeds agree")
    return 0 if verdicts.count("AGREE") == n else 1


EMPTY = '""'       # how an empty option value (no hidden layer) is typed


def parse_arguments(parser, argv=None):
    r"""Parse ``argv``; a ``--playground URL`` supplies defaults that the other options override.

    Returns ``args``; prints the settings the URL resolved to, one a line, as options.
    """
    first, _ = parser.parse_known_args(argv)
    if not first.playground:
        return parser.parse_args(argv)
    try:
        from_url, notes = parse_url(first.playground)
    except ValueError as exc:
        parser.error(f"--playground: {exc}")
    parser.set_defaults(**from_url)
    args = parser.parse_args(argv)
    if args.quiet:
        return args
    print("Playground URL resolved to:")
    for dest in from_url:
        value = getattr(args, dest)
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        print(f"  --{dest.replace('_', '-')} {shown or EMPTY}")
    for note in notes:
        print(f"  ({note})")
    print()
    return args


def main(argv=None):
    parser = build_parser()
    args = parse_arguments(parser, argv)
    config, weights = check_arguments(parser, args)
    if args.seeds:
        if args.save_weights or args.json or args.plot:
            parser.error("--seeds prints a table only; drop --save-weights, --json and --plot")
        return seed_sweep(config, weights, args.seeds)
    result = run(config, weights, on_epoch=None if args.quiet else lambda r: print(epoch_report(r), flush=True))
    if not args.quiet:
        print()
    print(summary(result))
    if args.save_weights:
        save_weights(args.save_weights, result.models[0].state_dict())
    if args.json:
        save_json(args.json, result.to_json())
    if args.plot:
        save_figure(args.plot, make_figure(result))
    return 0 if result.agree else 1
