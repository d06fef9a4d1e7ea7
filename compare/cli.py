r"""The command line of every command: each option defined once, and bad input as one line.

Every command builds its parser with ``parser(prog, description, names)`` from ``Config``'s fields
and ``EXTRAS``, and turns its arguments into a ``Config`` and a ``Source`` with ``configure``
(``--playground URL`` and ``--exact`` included): bad input is one line ``error: ...`` and exit
status 2 in each, the same line for the same mistake; ``--version`` prints the installed project's version.
``run(main)`` runs a command as a program.
"""
import argparse
import math
import os
import signal
import sys
from dataclasses import fields
from importlib import metadata

from manual.train import listed, typed

from .core.config import Config, flag
from .core.data import REGRESSION
from .core.source import Source, points_batch
from .files import check_first_forward, check_outputs, check_weights, load_weights
from .playground import PlaygroundRun, parse_url

# The options that are not settings of a run: what a command reads or writes, and how it reports.
EXTRAS = {
    "weights": dict(metavar="PATH", help="initial weights: .npz or a torch state dict, keyed like "
                    "state_dict() (replaces --init)"),
    "playground": dict(metavar="URL", help="take every setting from a Playground URL; options given "
                       "with it override it"),
    "json": dict(metavar="PATH", help="write the result as JSON; - for standard output (the report then "
                 "goes to standard error)"),
    "plot": dict(metavar="PATH", help="write the figure, in the format its extension names (.png, .pdf, .svg, ...; "
                 "PNG without one)"),
    "graph": dict(metavar="PATH", help="draw autograd's graph of the step beside manual/autograd.py's, edge by edge "
                  "(as --plot: the extension's format), and print both as a table"),
    "animate": dict(metavar="PATH", help="write the run as an animated GIF, a frame per epoch: the loss curves, "
                    "both models over the plane and where they differ"),
    "save_weights": dict(metavar="PATH", help="write the trained weights: .npz, or a torch state dict for .pt and "
                         ".pth"),
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
    "point": dict(type=listed(float), metavar="X,Y", help="a point of your own, in or out of the data (with "
                  "--label), instead of the step's batch; the step's weights all the same"),
    "label": dict(type=float, metavar="L", help="--point's label: +1 (blue) or -1 (orange); for regression, any "
                  "number"),
    "digits": dict(type=int, default=4, choices=range(1, 18), metavar="D", help="significant digits of the values "
                   "printed, 1 to 17 (17: every digit of a float64; default: 4)"),
}


try:
    VERSION = metadata.version("backprop-side-by-side")
except metadata.PackageNotFoundError:           # run from a source tree that pip has not installed
    VERSION = "(not installed)"


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
    result.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
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
    given, then ``fixed``) and the ``Source`` of the run: the project's own, or with ``--exact`` the
    page's, either from ``--weights`` if given. Checks that every output can be written. Any bad input
    is ``parser.error``: one line, exit 2, before any work."""
    given = {name: value for name, value in vars(args).items() if name in Config.__dataclass_fields__}
    try:
        from_url, notes, exact = playground_settings(args, given)
        config = Config(**{**from_url, **given, **fixed})
        weights = read_weights(config, args.weights) if getattr(args, "weights", None) else None
        # the points are drawn here: a train ratio may leave a set empty
        source = PlaygroundRun(config, *exact, weights) if exact else Source(config, weights)
        if weights is not None:
            check_first_forward(config, weights, *source.data[:2], f"--weights {args.weights}")
        check_outputs({flag(name): getattr(args, name, None) for name in OUTPUTS})
    except ValueError as exc:
        parser.error(str(exc))
    if from_url and not getattr(args, "quiet", False):
        out = report_stream(args)
        print("Playground URL resolved to:", *(f"  {flag(name)} {typed(getattr(config, name))}" for name in from_url),
              *(f"  ({note})" for note in notes), "", sep="\n", file=out)
    return config, source


def playground_settings(args, given):
    r"""``(settings, notes, exact)`` of ``--playground URL``: ``exact`` is ``(host, seed, percTrainData)``
    with ``--exact``, else None; ``ValueError`` for ``--exact`` without a URL and its seed, or with ``--seed``."""
    url, exact = getattr(args, "playground", None), getattr(args, "exact", False)
    if exact and url is None:
        raise ValueError("--exact replays a Playground URL's own run: it needs --playground URL")
    settings, notes = parse_url(url) if url is not None else ({}, [])
    seed = settings.pop("exact", None)
    if not exact:
        return settings, notes, None
    if seed is None:
        raise ValueError("--exact replays a Playground URL's own run from its seed=...: this URL has none")
    if not seed[1]:
        raise ValueError("--exact: the URL's seed= is empty, and Playground then draws a random seed; copy the "
                         "address again once the page shows it with its seed")
    if "seed" in given:
        raise ValueError("--seed does not apply to --exact: the URL's seed draws the points and weights")
    return settings, [note for note in notes if not note.startswith("seed:")], seed


def step_and_batch(parser, args, source):
    r"""``(weights, optimizer state, X, y)`` of ``--step N`` of the run: its starting weights and state, and its
    batch, or with ``--point X,Y --label L`` that one point. Bad input is ``parser.error``."""
    try:
        weights, state, X, y = source.step(args.step)
        if getattr(args, "point", None) is not None or getattr(args, "label", None) is not None:
            X, y = point(source.config, args.point, args.label)
    except ValueError as exc:
        parser.error(str(exc))
    return weights, state, X, y


def point(config, xy, label):
    r"""The batch of one point ``(x, y)`` with its label, as the run's data holds its points."""
    if xy is not None and (len(xy) != 2 or not all(map(math.isfinite, xy))):
        raise ValueError(f"--point {typed(xy)}: must be two finite numbers x,y, e.g. --point 1,-2")
    if xy is None or label is None or not math.isfinite(label):
        raise ValueError("--point X,Y and --label L go together: a point and its finite label, e.g. --point 1,-2 "
                         "--label 1")
    if config.dataset not in REGRESSION and label not in (1, -1):
        raise ValueError(f"--label {label:g}: must be 1 (blue) or -1 (orange)")
    return points_batch(config, [xy], [label])


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
