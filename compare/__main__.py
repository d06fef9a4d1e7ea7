r"""``python -m compare``: train both implementations in lockstep and report whether they agree.

Exit status: 0 when they agree, 1 when they do not (DISAGREE) or training diverged (DIVERGED),
2 for bad input.
"""
import contextlib
from dataclasses import replace

from . import cli
from .core.config import SETTINGS, flag
from .core.lockstep import run
from .core.source import Source
from .files import figure_writer, json_writer, save_outputs, weights_writer
from .playground.export import LOSS_CODE, script
from .report import epoch_report, summary

DESCRIPTION = ("Train the article's network twice, with hand-written NumPy backprop (manual) and with "
               "PyTorch autograd (torch_impl), on the same batches, and check at every step, from "
               "identical weights, that losses, gradients, updates and predictions agree.")
OPTIONS = (*SETTINGS, "weights", "playground", "exact", "seeds", "quiet", "json", "plot", "animate", "save_weights",
           "export_torch")


def seed_sweep(config, weights, n, out):
    r"""One line per seed: the verdict and manual's final accuracies; exit 0 when every seed agrees."""
    print(f"{'seed':>6}  {'verdict':9}{'acc':>8}{'val_acc':>9}{'val_loss':>10}   "
          "(manual's; torch's agree within the tolerance)", file=out)
    verdicts = []
    for seed in range(config.seed, config.seed + n):
        result = run(replace(config, seed=seed), Source(replace(config, seed=seed), weights))
        last = result.history["manual"][-1] if result.history["manual"] else {}
        print(f"{seed:>6}  {result.verdict:9}" + "".join(f"{last.get(k, float('nan')):{w}.3f}"
              for k, w in (("acc", 8), ("val_acc", 9), ("val_loss", 10))), file=out, flush=True)
        verdicts.append(result.verdict)
    print(f"\n{verdicts.count('AGREE')} of {n} seeds agree", file=out)
    return 0 if verdicts.count("AGREE") == n else 1


def export(parser, args, config, out):
    r"""``--export-torch PATH``: the Playground URL's set-up as a standalone script, instead of a run."""
    if args.playground is None:
        parser.error("--export-torch writes a Playground URL's set-up: it needs --playground URL")
    for name in ("weights", "exact"):
        if getattr(args, name):
            parser.error(f"--export-torch writes a script that draws its own points and initial weights from its "
                         f"SEED: it cannot take --{name}")
    if config.loss not in LOSS_CODE or config.rules != "playground":
        parser.error(f"--export-torch writes a Playground URL's set-up, its rules and its losses (mse and l1): not "
                     f"--rules {config.rules}, --loss {config.loss}")
    for name in ("json", "plot", "animate", "save_weights", "seeds", "free_running"):
        if getattr(args, name, None) not in (None, False):
            parser.error(f"--export-torch writes a script and runs nothing here: drop {flag(name)}")
    text = script(config, args.playground)
    save_outputs(parser, [(args.export_torch, lambda file: file.write(text.encode()))])
    print(f"wrote {args.export_torch}: python {args.export_torch} trains it", file=out)
    return 0


def sweep(parser, args, config, source, out):
    r"""``--seeds N``: a line per seed instead of one run's report."""
    if not 1 <= args.seeds <= 1000 or config.seed + args.seeds > 2**32:
        parser.error(f"--seeds {args.seeds}: must be an integer in [1, 1000], with --seed + --seeds <= 2**32")
    if args.save_weights or args.json or args.plot or args.animate or args.exact:
        parser.error("--seeds prints a table only; drop --save-weights, --json, --plot, --animate and --exact")
    return seed_sweep(config, source.weights if args.weights else None, args.seeds, out)


def main(argv=None):
    parser = cli.parser("python -m compare", DESCRIPTION, OPTIONS)
    args = parser.parse_args(argv)
    config, source = cli.configure(parser, args)
    out = cli.report_stream(args)
    if args.export_torch:
        return export(parser, args, config, out)
    if args.seeds is not None:
        return sweep(parser, args, config, source, out)
    with animation(parser, args, config) as recorder:
        def on_epoch(result):
            if recorder is not None:
                recorder(result)
            if not args.quiet:
                print(epoch_report(result), file=out, flush=True)

        result = run(config, source, on_epoch)
        print(("" if args.quiet else "\n") + summary(result), file=out)
        save_outputs(parser, outputs(args, result, recorder))
    return 0 if result.agree else 1


def animation(parser, args, config):
    r"""The ``on_epoch`` recorder of ``--animate``, to use in a ``with`` (giving None without it); a figure needs the
    plane's features."""
    for name in ("plot", "animate"):
        if getattr(args, name) and config.features != ("x", "y"):
            parser.error(f"--{name} draws the model over the (x, y) plane and needs --features x,y")
    if not args.animate:
        return contextlib.nullcontext()
    from .animate import Recorder  # matplotlib and Pillow: imported only when asked for
    return Recorder()


def outputs(args, result, recorder):
    r"""The files asked for, as ``(path, write)``; matplotlib is imported only when a figure is."""
    files = [(args.save_weights, weights_writer(result.models[0].state_dict(), args.save_weights)),
             (args.json, json_writer(result.to_json()))]
    if args.plot:
        from .plot import make_figure
        files.append((args.plot, figure_writer(make_figure(result), "--plot", args.plot)))
    if recorder is not None and recorder.count:    # at least one epoch recorded
        from .animate import gif_writer
        files.append((args.animate, gif_writer(result, recorder)))
    return files


if __name__ == "__main__":
    cli.run(main)
