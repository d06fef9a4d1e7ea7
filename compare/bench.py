r"""``python -m compare.bench``: how fast is hand-written NumPy backprop next to torch?

Measures, in one process, with the two sides interleaved so that machine noise hits both:

- one ``train_step`` of ``manual`` and of ``torch_impl`` (same weights, same batch) per batch size
  and dtype: microseconds per step (medians) and the ratio torch / manual, taken round by round;
- the lockstep run of ``python -m compare --epochs 100`` split into data, manual training, torch
  training and checks.

It reports; it sets no target. Timings vary with the machine and from run to run.
"""
import os
import platform
import sys
import time

import numpy as np
import torch

from . import cli
from .core.config import Config
from .core.lockstep import run
from .core.pair import DTYPES, Pair
from .core.source import Source
from .files import json_writer, save_outputs

BATCH_SIZES = (1, 15, 256, 4096, 65536, 1_048_576)
QUICK_BATCH_SIZES = (15, 4096)
BLOCK_SECONDS = 0.02           # each timed block repeats a step for about this long


def step_functions(dtype, batch):
    r"""Two zero-argument functions, one ``train_step`` each, from identical weights on one batch."""
    config = Config(dtype=dtype, lr=1e-9)    # a tiny step keeps the weights, and so the work per step, the same
    pair = Pair(config, Source(config).weights)
    rng = np.random.default_rng(0)
    X = rng.uniform(-6, 6, (batch, 2)).astype(DTYPES[dtype][0])
    y = rng.choice([-1.0, 1.0], (batch, 1)).astype(DTYPES[dtype][0])
    t_X, t_y = torch.tensor(X), torch.tensor(y)   # copies: the two sides share no memory
    return lambda: pair.manual_step(X, y), lambda: pair.torch_step(t_X, t_y)


def seconds_per_call(step, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def time_steps(dtype, batch, rounds):
    r"""Median microseconds per step of each side, and the median of the per-round ratios."""
    manual_step, torch_step = step_functions(dtype, batch)
    repeats = [max(1, int(BLOCK_SECONDS / seconds_per_call(step, 1))) for step in (manual_step, torch_step)]
    manual_times, torch_times = [], []
    for round_ in range(rounds):
        sides = [(manual_step, repeats[0], manual_times), (torch_step, repeats[1], torch_times)]
        for step, n, times in sides[::1 if round_ % 2 else -1]:   # alternate who goes first
            times.append(seconds_per_call(step, n))
    ratios = np.array(torch_times) / np.array(manual_times)
    return {"dtype": dtype, "batch": batch, "manual_us": 1e6 * float(np.median(manual_times)),
            "torch_us": 1e6 * float(np.median(torch_times)), "torch_over_manual": float(np.median(ratios))}


def lockstep_phases(epochs):
    r"""The seconds of ``python -m compare --epochs N``'s lockstep run: data, the two trainings, checks."""
    seconds = run(Config(epochs=epochs)).seconds
    return {"epochs": epochs, **seconds,
            "checks_over_training": seconds["checks"] / (seconds["manual"] + seconds["torch"])}


def machine():
    model = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def format_report(report):
    lines = ["Machine: {cpu}, {cores} cores; Python {python}, NumPy {numpy}, torch {torch} "
             "({torch_threads} threads)".format(**report["machine"]), "",
             f"train_step, microseconds per step (median of {report['rounds']} interleaved rounds; "
             "same weights, same batch)",
             f"{'dtype':9}{'batch':>10}{'manual':>12}{'torch':>12}{'torch/manual':>14}"]
    lines += [f"{s['dtype']:9}{s['batch']:>10,}{s['manual_us']:>12,.1f}{s['torch_us']:>12,.1f}"
              f"{s['torch_over_manual']:>14.2f}"
              for s in report["steps"]]
    c = report["command"]
    lines += ["", f"python -m compare --epochs {c['epochs']}, the lockstep run (imports aside):",
              f"  data {c['data']:.3f} s, manual training {c['manual']:.3f} s, "
              f"torch training {c['torch']:.3f} s, checks {c['checks']:.3f} s "
              f"({100 * c['checks_over_training']:.0f}% of the two trainings)"]
    return "\n".join(lines)


def main(argv=None):
    parser = cli.parser("python -m compare.bench", "How fast is hand-written NumPy backprop next to torch? "
                            "Times one train_step of each side per batch size and dtype, and the phases of the "
                            "lockstep run; it reports and sets no target.", ["json"])
    parser.add_argument("--quick", action="store_true",
                        help=f"only batch sizes {QUICK_BATCH_SIZES} in float32, 3 rounds")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per measurement (default: 7)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: must be an integer >= 1")
    cli.configure(parser, args)                  # checks that --json can be written
    out = cli.report_stream(args)
    rounds = 3 if args.quick else args.rounds
    cases = ([("float32", b) for b in QUICK_BATCH_SIZES] if args.quick
             else [(dtype, b) for dtype in DTYPES for b in BATCH_SIZES])
    report = {"machine": machine(), "rounds": rounds, "steps": []}
    for dtype, batch in cases:
        report["steps"].append(time_steps(dtype, batch, rounds))
        print(f"  timed {dtype} batch {batch:,}", file=sys.stderr, flush=True)
    report["command"] = lockstep_phases(100)
    print(format_report(report), file=out)
    save_outputs(parser, [(args.json, json_writer(report))])
    return 0


if __name__ == "__main__":
    cli.run(main)
