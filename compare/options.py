r"""The one option surface: every setting, its flag, default, help and check, defined once.

``Config`` holds the settings of a run; each field's metadata is its command-line help and its
check, and ``Config`` validates itself, so a flag, a Playground URL and the Python API share one set
of limits and one message per mistake (``ValueError``). Every command builds its parser with
``parser(prog, description, names)`` from these definitions and turns its arguments into a
``Config`` with ``configure``: bad input is one line ``error: ...`` and exit status 2 in each.
"""
import argparse
import math
import os
import signal
import sys
from dataclasses import asdict, dataclass, field, fields

import manual
import manual.playground
from manual.train import LIMITS, LOSSES, check_representable, check_settings, listed, typed

from . import exact
from .data import DATASETS, FEATURES, REGRESSION, load_data
from .files import check_outputs, load_weights
from .pair import DTYPES, INITS, OPTIMIZERS, check_weights
from .playground import parse_url

RULES = ("torch", "playground")


def setting(default, help, check=None, requirement=None, choices=None):
    r"""A ``Config`` field: its default, its ``--help`` text, and ``check(value)``, true when the value is
    allowed (else the error says it must be ``requirement``), or ``choices``. The article's own
    settings are checked by ``manual.train.LIMITS``, which ``python -m manual`` uses too."""
    return field(default=default, metadata={"help": help, "check": check, "requirement": requirement,
                                            "choices": choices})


def finite_at_least(low):
    return lambda v: low <= v < math.inf


@dataclass(frozen=True)
class Config:
    r"""Everything that determines a run; the defaults are the article's. Raises ``ValueError``
    (one line, naming the flag) for a value outside its limits or settings that contradict."""
    epochs: int = setting(manual.EPOCHS, "training epochs")
    batch_size: int = setting(manual.BATCH_SIZE, "mini-batch size")
    lr: float = setting(manual.LEARN_RATE, "learning rate")
    weight_decay: float = setting(None, "weight decay (L2 rate) of the optimizer, biases included (default: "
                                  f"{manual.REGULAR})")
    dataset: str = setting("circle", f"Playground data set; {' and '.join(REGRESSION)} are regression "
                           "(linear output)", choices=tuple(DATASETS))
    features: tuple = setting(("x", "y"), f"the network's inputs, from {', '.join(FEATURES)}",
                              lambda v: len(v) > 0 and set(v) <= set(FEATURES) and len(set(v)) == len(v),
                              f"distinct names from {', '.join(FEATURES)}")
    noise: float = setting(0.0, "Playground noise level")
    train_ratio: float = setting(0.5, "share of the points used for training")
    hidden: tuple = setting((3, 3), 'neurons per hidden layer; "" for none')
    activations: tuple = setting(("tanh", "sigmoid"), f"one activation per hidden layer, from "
                                 f"{', '.join(manual.ACTIVATIONS)}")
    output_activation: str = None      # not a flag: the loss's (manual.train.LOSSES), linear for regression
    exact: tuple = None                # not a flag: (host, seed, percTrainData) of --playground URL --exact
    dtype: str = setting("float32", "floating-point type of both sides", choices=tuple(DTYPES))
    seed: int = setting(1, "seed of the data, the initial weights and the batch order")
    init: str = setting("xavier", "initial weights: the article's xavier-uniform, nn.Linear's default, "
                        "Playground's U(-0.5, 0.5) with biases 0.1, or all zero (Playground's initZero)",
                        choices=INITS)
    optimizer: str = setting("sgd", "torch.optim.SGD, Adam or AdamW, and their manual twins", choices=tuple(OPTIMIZERS))
    momentum: float = setting(0.0, "SGD momentum", finite_at_least(0), "a finite number >= 0")
    nesterov: bool = setting(False, "SGD: Nesterov momentum (needs --momentum)")
    betas: tuple = setting((0.9, 0.999), "Adam(W): beta1,beta2", lambda v: len(v) == 2 and all(0 <= b < 1 for b in v),
                           "two numbers in [0, 1), e.g. 0.9,0.999")
    eps: float = setting(1e-8, "Adam(W): term added to the denominator", finite_at_least(0), "a finite number >= 0")
    amsgrad: bool = setting(False, "Adam(W): the AMSGrad variant")
    loss: str = setting("mse", "the loss; the output layer and labels follow it: mse, the article's (half of it "
                        "under Playground's rules, as Playground's), or l1, the mean absolute error (Playground's "
                        "mae), a tanh output and +1/-1 labels; bce, a sigmoid output and 0/1 labels; bce-logits, a "
                        "linear output (a logit) and 0/1 labels; cross-entropy, two linear outputs (logits) and "
                        "class indices 0/1", choices=tuple(LOSSES))
    rules: str = setting("torch", "torch: MSELoss and torch.optim; playground: Playground's 1/2-MSE and update, "
                         "no weight decay, --regularization on the weights only", choices=RULES)
    regularization: str = setting("none", "--rules playground: penalty on the weights",
                                  choices=tuple(manual.playground.REGULARIZATIONS))
    regularization_rate: float = setting(0.0, "--rules playground: the penalty's rate", finite_at_least(0),
                                         "a finite number >= 0")
    free_running: bool = setting(False, "never re-synchronise the two models: watch rounding drift instead of "
                                 "checking each step on its own")

    def __post_init__(self):
        defaults = {f.name: f.default for f in fields(self)}
        defaults.update(weight_decay=manual.REGULAR if self.rules == "torch" else 0.0,
                        output_activation="linear" if self.dataset in REGRESSION else LOSSES[self.loss][1])
        for name in ("weight_decay", "output_activation"):          # the defaults that depend on another field
            if getattr(self, name) is None:
                object.__setattr__(self, name, defaults[name])
        check_settings({name: getattr(self, name) for name in LIMITS}, self.dtype, len(self.features))
        for f in fields(self):
            value, check, choices = getattr(self, f.name), f.metadata.get("check"), f.metadata.get("choices")
            if check and not check(value):
                raise ValueError(f"{flag(f.name)} {typed(value)}: must be {f.metadata['requirement']}")
            if choices and value not in choices:
                raise ValueError(f"{flag(f.name)} {typed(value)}: must be one of {', '.join(choices)}")
        for name in ("momentum", "eps", "regularization_rate"):       # lr and weight_decay: check_settings
            check_representable(name, getattr(self, name), self.dtype)
        self.check_optimizer(defaults)
        if self.loss not in ("mse", "l1") and (self.dataset in REGRESSION or self.rules == "playground"):
            where = f"--dataset {self.dataset} (regression)" if self.dataset in REGRESSION else "--rules playground"
            raise ValueError(f"--loss {self.loss} classifies: it does not apply to {where}; mse and l1 do")
        if self.exact:
            exact.check(self)

    def check_optimizer(self, defaults):
        r"""An option that does not apply to the chosen optimizer or rules is an error, not ignored."""
        foreign = {"sgd": ("betas", "eps", "amsgrad"), "adam": ("momentum", "nesterov"),
                   "adamw": ("momentum", "nesterov")}[self.optimizer]
        if self.rules == "playground":
            foreign = ("weight_decay", "momentum", "nesterov")
            if self.optimizer != "sgd":
                raise ValueError("--optimizer does not apply to --rules playground (its update is plain SGD)")
        elif self.regularization != "none" or self.regularization_rate:
            raise ValueError("--regularization and --regularization-rate need --rules playground "
                             "(with --rules torch, --weight-decay is L2 on every parameter, biases too)")
        for name in foreign:
            if getattr(self, name) != defaults[name]:
                where = "--rules playground" if self.rules == "playground" else f"--optimizer {self.optimizer}"
                raise ValueError(f"{flag(name)} does not apply to {where}")
        if self.nesterov and not self.momentum:
            raise ValueError("--nesterov needs a --momentum above 0")

    def to_json(self):
        return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()}


SETTINGS = tuple(f.name for f in fields(Config) if f.metadata)     # the settings that are options


def flag(name):
    return "--" + name.replace("_", "-")


# The options that are not settings of a run: what a command reads or writes, and how it reports.
EXTRAS = {
    "weights": dict(metavar="PATH", help="initial weights: .npz or a torch state dict, keyed like "
                    "state_dict() (replaces --init)"),
    "playground": dict(metavar="URL", help="take every setting from a Playground URL; options given "
                       "with it override it"),
    "json": dict(metavar="PATH", help="write the result as JSON; - for standard output (the report then "
                 "goes to standard error)"),
    "plot": dict(metavar="PATH", help="write the figure as PNG"),
    "graph": dict(metavar="PATH", help="draw autograd's graph of the step as PNG, each node beside the manual code "
                  "that does its job"),
    "animate": dict(metavar="PATH", help="write the run as an animated GIF, a frame per epoch: the loss curves, "
                    "both models over the plane and where they differ"),
    "save_weights": dict(metavar="PATH", help="write the trained weights as .npz"),
    "export_torch": dict(metavar="PATH", help="with --playground: write the URL's set-up as a standalone PyTorch "
                         "script (python PATH trains it) instead of running"),
    "seeds": dict(type=int, metavar="N", help="run seeds --seed .. --seed+N-1 and print one line each"),
    "quiet": dict(action="store_true", help="print only the summary"),
    "exact": dict(action="store_true", help="with --playground: the browser's own run, its points, initial "
                  "weights and batches drawn from the URL's seed as Playground draws them, its epoch losses"),
    "step": dict(type=int, default=1, metavar="N", help="the N-th training step of the run, from 1 "
                 "(its weights and its batch)"),
    "row": dict(type=int, default=0, metavar="R", help="the row of the step's batch whose values are printed, "
                "from 0 (default: 0)"),
    "digits": dict(type=int, default=4, choices=range(1, 18), metavar="D", help="significant digits of the values "
                   "printed, 1 to 17 (17: every digit of a float64; default: 4)"),
}


class Parser(argparse.ArgumentParser):
    r"""argparse, but a usage error is one line, ``error: ...``, and exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {message}\n")


def parser(prog, description, names):
    r"""A command's parser with the options ``names``: ``Config`` fields and ``EXTRAS``, each as defined here.

    A ``Config`` option that is not given is left out of the parsed arguments (``Config`` has the
    default), so that ``configure`` can tell a given option from a default one.
    """
    result = Parser(prog=prog, description=description, allow_abbrev=False)   # --eps is never --eps-sweep
    settings = {f.name: f for f in fields(Config)}
    for name in names:
        if name in EXTRAS:
            result.add_argument(flag(name), **EXTRAS[name])
            continue
        f = settings[name]
        help = f.metadata["help"] + ("" if f.default is None else f" (default: {typed(f.default)})")
        if f.type is bool:
            kind = dict(action="store_true")
        elif f.type is tuple:                        # a comma-separated list of what the default holds
            kind = dict(type=listed(type(f.default[0])))
        else:
            kind = dict(type=f.type, choices=f.metadata["choices"])
        result.add_argument(flag(name), default=argparse.SUPPRESS, help=help, **kind)
    return result


OUTPUTS = ("json", "plot", "animate", "graph", "save_weights", "export_torch")


def report_stream(args):
    r"""Where a command prints its report: standard error when an output is ``-`` (standard output);
    an output to ``/dev/stdout`` follows the report in the same stream."""
    return sys.stderr if "-" in (getattr(args, name, None) for name in OUTPUTS) else sys.stdout


def read_weights(config, path):
    r"""The state dict in ``path``, checked against ``config``'s network; ``ValueError`` ``--weights PATH: ...``."""
    try:
        weights = load_weights(path)
        check_weights(config, weights, path)
    except ValueError as exc:
        raise ValueError(f"--weights {exc}") from None
    return weights


def configure(parser, args, **fixed):
    r"""The ``Config`` of parsed ``args`` (a ``--playground`` URL's settings, overridden by the options
    given, then ``fixed``) and the ``--weights`` to start from. Checks that every output can be
    written. Any bad input is ``parser.error``: one line, exit 2, before any work."""
    given = {name: value for name, value in vars(args).items() if name in Config.__dataclass_fields__}
    try:
        from_url, notes = parse_url(args.playground) if getattr(args, "playground", None) is not None else ({}, [])
        exact = from_url.pop("exact", None)
        if getattr(args, "exact", False):
            if getattr(args, "playground", None) is None:
                raise ValueError("--exact replays a Playground URL's own run: it needs --playground URL")
            if exact is None:
                raise ValueError("--exact replays a Playground URL's own run from its seed=...: this URL has none")
            if "seed" in given:
                raise ValueError("--seed does not apply to --exact: the URL's seed draws the points and weights")
            fixed = {**fixed, "exact": exact}
            notes = [note for note in notes if not note.startswith("seed:")]
        config = Config(**{**from_url, **given, **fixed})
        load_data(config.dataset, config.noise, config.train_ratio, config.seed)   # may leave a set empty
        weights = read_weights(config, args.weights) if getattr(args, "weights", None) else None
        check_outputs({flag(name): getattr(args, name, None) for name in OUTPUTS})
    except ValueError as exc:
        parser.error(str(exc))
    out = report_stream(args)
    if from_url and not getattr(args, "quiet", False):
        print("Playground URL resolved to:", file=out)
        for name in from_url:
            print(f"  {flag(name)} {typed(getattr(config, name))}", file=out)
        for note in notes:
            print(f"  ({note})", file=out)
        print(file=out)
    return config, weights


def stop(signum, frame):
    raise KeyboardInterrupt(signum)


def run(main):
    r"""Run a command's ``main()`` as a program and exit with its status. Ctrl-C or SIGTERM ends it with
    ``interrupted by SIGINT`` (or ``SIGTERM``) and status 128 + the signal's number, a reader that goes
    away (``| head``) quietly with 141 (128 + SIGPIPE, as the shell reports a program the pipe ended),
    a full or closed stdout with one line and 2; no traceback, no temporary file."""
    if sys.stdout is None:                      # started with standard output closed (>&-)
        print("error: standard output is closed", file=sys.stderr)
        sys.exit(2)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    try:
        status = main()
        sys.stdout.flush()
    except KeyboardInterrupt as exc:
        signum = exc.args[0] if exc.args else signal.SIGINT
        print(f"interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        status = 128 + signum
    except BrokenPipeError:
        # the Python docs' advice: point stdout at devnull so that the final flush cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 128 + signal.SIGPIPE
    except OSError as exc:          # stdout closed or full
        print(f"error: standard output: {exc.strerror}", file=sys.stderr)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 2
    sys.exit(status)
