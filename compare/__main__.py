r"""``python -m compare``: train both implementations in lockstep and report whether they agree.

Exit status: 0 when they agree, 1 when they do not (DISAGREE) or training diverged (DIVERGED),
2 for bad input.
"""
import os
from dataclasses import replace

from . import options
from .export import LOSS_CODE, script
from .files import json_writer, npz_writer, png_writer, save_outputs
from .lockstep import run
from .options import SETTINGS
from .report import epoch_report, summary

DESCRIPTION = ("Train the article's network twice, with hand-written NumPy backprop (manual) and with "
               "PyTorch autograd (torch_impl), on the same batches, and check at every step, from "
               "identical weights, that losses, gradients, updates and predictions agree.")


def seed_sweep(config, weights, n, out):
    r"""One line per seed: the verdict and manual's final accuracies; exit 0 when every seed agrees."""
    print(f"{'seed':>6}  {'verdict':9}{'acc':>8}{'val_acc':>9}{'val_loss':>10}   "
          "(manual's; torch's agree within the tolerance)", file=out)
    verdicts = []
    for seed in range(config.seed, config.seed + n):
        result = run(replace(config, seed=seed), weights)
        last = result.history["manual"][-1] if result.history["manual"] else {}
        print(f"{seed:>6}  {result.verdict:9}" + "".join(f"{last.get(k, float('nan')):{w}.3f}"
              for k, w in (("acc", 8), ("val_acc", 9), ("val_loss", 10))), file=out, flush=True)
        verdicts.append(result.verdict)
    print(f"\n{verdicts.count('AGREE')} of {n} seeds agree", file=out)
    return 0 if verdicts.count("AGREE") == n else 1


def main(argv=None):
    parser = options.parser("python -m compare", DESCRIPTION,
                            [*SETTINGS, "weights", "playground", "exact", "seeds", "quiet", "json", "plot", "animate",
                             "save_weights",
                             "export_torch"])
    args = parser.parse_args(argv)
    config, weights = options.configure(parser, args)
    out = options.report_stream(args)
    if args.export_torch:
        if args.playground is None:
            parser.error("--export-torch writes a Playground URL's set-up: it needs --playground URL")
        if config.loss not in LOSS_CODE:
            parser.error("--export-torch writes a Playground URL's set-up, whose losses are mse and l1: "
                         f"not --loss {config.loss}")
        text = script(config, args.playground, os.path.basename(args.export_torch))
        save_outputs(parser, [(args.export_torch, lambda file: file.write(text.encode()))])
        print(f"wrote {args.export_torch}: python {args.export_torch} trains it", file=out)
        return 0
    if args.seeds is not None:
        if not 1 <= args.seeds <= 1000 or config.seed + args.seeds > 2**32:
            parser.error(f"--seeds {args.seeds}: must be an integer in [1, 1000], with --seed + --seeds <= 2**32")
        if args.save_weights or args.json or args.plot or args.animate:
            parser.error("--seeds prints a table only; drop --save-weights, --json, --plot and --animate")
        return seed_sweep(config, weights, args.seeds, out)
    for name in ("plot", "animate"):
        if getattr(args, name) and config.features != ("x", "y"):
            parser.error(f"--{name} draws the model over the (x, y) plane and needs --features x,y")
    recorder = None
    if args.animate:
        from .animate import Recorder, gif_writer  # matplotlib and Pillow: imported only when asked for
        recorder = Recorder()

    def on_epoch(result):
        if recorder:
            recorder(result)
        if not args.quiet:
            print(epoch_report(result), file=out, flush=True)

    result = run(config, weights, on_epoch=on_epoch)
    if not args.quiet:
        print(file=out)
    print(summary(result), file=out)
    outputs = [(args.save_weights, npz_writer(result.models[0].state_dict())),
               (args.json, json_writer(result.to_json()))]
    if args.plot:
        from .plot import make_figure  # matplotlib: imported only when a figure is asked for
        outputs.append((args.plot, png_writer(make_figure(result))))
    if recorder and recorder.planes:
        outputs.append((args.animate, gif_writer(result, recorder.planes)))
    save_outputs(parser, outputs)
    return 0 if result.agree else 1


if __name__ == "__main__":
    options.run(main)
