r"""A real training step's values, printed at full precision: compare.trace and compare.walkthrough
--step N --row R answer "what are dL/dz2 of the batch's first row in step 1", and compare.trace
with --optimizer adam "what is layer_out.bias after one Adam step", each side's own value."""
import json
import re

import numpy as np
import torch

import manual
from compare import trace as trace_module
from compare.core import Config, Source
from compare.core.pair import criteria, optimizers
from compare.walkthrough import main as walkthrough_main

from conftest import make_pair, refused, run_main


def printed_values(out, label):
    r"""The manual and autograd arrays that ``compare.trace`` printed for ``label`` in its Values section."""
    lines = out[out.index("Values ("):].splitlines()
    i = next(k for k, line in enumerate(lines) if line.split()[:1] == [label])
    return [np.array(json.loads(line.split(maxsplit=1 if side else 2)[-1])) for side, line in
            ((0, lines[i]), (1, lines[i + 1]))]


def test_trace_prints_step_1_s_dl_dz2_of_row_0_at_full_precision(capsys, tmp_path):
    status, out, _ = run_main(trace_module.main, ["--dtype", "float64", "--step", "1", "--row", "0", "--digits", "17",
                                                  "--json", str(tmp_path / "t.json")], capsys)
    mine, autograd = printed_values(out, "dL/dz2[0]")
    config = Config(dtype="float64")
    weights, _, X, y = Source(config).step(1)
    rows = {row.name: row for row in trace_module.trace(config, weights, X, y)}
    np.testing.assert_array_equal(mine, rows["dL/dz2"].manual[0])       # 17 digits: every bit of a float64
    np.testing.assert_array_equal(autograd, rows["dL/dz2"].torch[0])
    saved = {row["quantity"]: row for row in json.loads((tmp_path / "t.json").read_text())["rows"]}
    assert saved["dL/dz2"]["manual"][0] == mine.tolist() and saved["dL/dz2"]["autograd"][0] == autograd.tolist()


def test_the_walkthrough_of_step_1_row_0_prints_the_same_dl_dz2(capsys):
    status, out, _ = run_main(walkthrough_main, ["--dtype", "float64", "--step", "1", "--row", "0", "--digits", "17"],
                              capsys)
    shown = dict(re.findall(r"^  dL/dz2\[0,(\d)\] = .* = (\S+) +autograd", out, re.M))
    config = Config(dtype="float64")
    weights, _, X, y = Source(config).step(1)
    expected = {row.name: row for row in trace_module.trace(config, weights, X, y)}["dL/dz2"].manual[0]
    assert status == 0 and [float(shown[str(j)]) for j in range(3)] == expected.tolist()
    assert "dL/dz2[1," not in out                   # the other rows of the batch are left out


def test_trace_gives_layer_out_bias_after_one_adam_step_on_each_side(capsys):
    status, out, _ = run_main(trace_module.main, ["--optimizer", "adam", "--lr", "0.01", "--digits", "17"], capsys)
    mine, autograd = printed_values(out, "new_b3")
    config = Config(optimizer="adam", lr=0.01)
    manual_model, torch_model = make_pair(config)               # the run's initial weights
    weights, _, X, y = Source(config).step(1)
    both, losses = optimizers(config, manual_model, torch_model), criteria(config)
    manual.train_step(manual_model, both[0], losses[0], X, y)
    loss = losses[1](torch_model(torch.tensor(X)), torch.tensor(y))
    loss.backward()
    both[1].step()
    assert status == 0 and mine.tolist() == manual_model.layer_out.bias.data.tolist()
    assert autograd.tolist() == torch_model.layer_out.bias.detach().numpy().tolist()


def test_a_row_outside_the_batch_is_one_error_line(capsys, tmp_path):
    assert refused(["--row", "15"], capsys, tmp_path, trace_module.main).startswith(
        "--row 15: must be an integer in [0, 14]")
    assert refused(["--step", "2", "--row", "-1"], capsys, tmp_path, walkthrough_main).startswith("--row -1")
