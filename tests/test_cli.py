"""python -m compare: exit codes, output, JSON schema, plot, weights files, bad input, determinism."""
import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import manual
from compare.animate import Recorder, frames, gif_palette, gif_writer

from conftest import run_cli, run_main

SHORT = ["--epochs", "2"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_agreeing_run_exits_0_with_epoch_lines_and_summary(dtype, capsys):
    status, out, err = run_cli([*SHORT, "--dtype", dtype], capsys)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("[Epoch   1/  2] loss: ") and lines[0].endswith("manual")
    assert lines[1].startswith("[Epoch   1/  2] loss: ") and "max |grad diff|" in lines[1]
    assert "largest |g_manual - g_torch| per parameter over 34 steps" in out
    assert lines[-1].startswith("AGREE")


def test_quiet_prints_only_the_summary(capsys):
    status, out, _ = run_cli([*SHORT, "--quiet"], capsys)
    assert status == 0 and "[Epoch" not in out and out.startswith("Summary: 2-3-3-1 network")


def test_json_has_the_documented_schema(tmp_path, capsys):
    path = tmp_path / "result.json"
    status, _, _ = run_cli([*SHORT, "--quiet", "--json", str(path), "--hidden", "4",
                            "--activations", "relu", "--dtype", "float64"], capsys)
    result = json.loads(path.read_text())
    assert status == 0 and result["agree"] is True and result["diverged"] is None
    assert result["config"]["hidden"] == [4] and result["config"]["dtype"] == "float64"
    checks = result["checks"]
    assert result["verdict"] == "AGREE" and result["first_failure"] is None and result["drift"] is None
    assert set(checks) == {"loss", "gradients", "weights after the update", "optimizer state", "epoch losses",
                           "correct counts", "predictions", "discretize", "initialisers", "loaders"}
    assert all(check["ok"] for check in checks.values())
    assert checks["gradients"]["compared"] == 34 and checks["epoch losses"]["compared"] == 2
    assert 0 <= checks["gradients"]["max_abs_diff"] < 1e-12
    assert set(checks["gradients"]["per_parameter_max_abs_diff"]) == {
        "layer1.weight", "layer1.bias", "layer_out.weight", "layer_out.bias"}
    assert checks["predictions"] == {**checks["predictions"], "compared": 1000, "mismatched": 0}
    for side in ("manual", "torch"):
        history = result["history"][side]
        assert [h["epoch"] for h in history] == [1, 2]
        assert set(history[0]) == {"epoch", "loss", "acc", "val_loss", "val_acc"}


def test_plot_writes_a_png(tmp_path, capsys):
    path = tmp_path / "run.png"
    status, _, _ = run_cli([*SHORT, "--quiet", "--plot", str(path)], capsys)
    assert status == 0 and path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert [p.name for p in tmp_path.iterdir()] == ["run.png"]


def test_same_arguments_same_history_bit_for_bit(tmp_path, capsys):
    for name in ("a.json", "b.json"):
        run_cli([*SHORT, "--quiet", "--seed", "3", "--json", str(tmp_path / name)], capsys)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_saved_weights_read_back_as_npz_and_as_torch_state_dict(tmp_path, capsys):
    saved = tmp_path / "trained.npz"
    run_cli([*SHORT, "--quiet", "--save-weights", str(saved)], capsys)
    weights = dict(np.load(saved))
    assert list(weights) == list(manual.NeuralNetwork().state_dict())
    torch_file = tmp_path / "trained.pt"
    torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, torch_file)
    histories = []
    for path in (saved, torch_file, None):
        out = tmp_path / "again.json"
        status, _, _ = run_cli(["--epochs", "1", "--quiet", "--json", str(out)]
                               + (["--weights", str(path)] if path else []), capsys)
        assert status == 0
        histories.append(json.loads(out.read_text())["history"])
    assert histories[0] == histories[1] != histories[2]     # both files start from the same weights


def test_a_wrong_derivative_is_caught_and_exits_1(monkeypatch, capsys):
    backward = manual.layers.Sigmoid.backward
    monkeypatch.setattr(manual.layers.Sigmoid, "backward", lambda self, da: backward(self, da) * 1.001)
    status, out, _ = run_cli([*SHORT, "--quiet", "--dtype", "float64"], capsys)
    assert status == 1 and "DISAGREE: gradients" in out


def test_divergence_is_reported_cleanly_without_warnings(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")             # NumPy's overflow warnings would repeat the verdict
        status, out, err = run_cli(["--lr", "1000", "--epochs", "5", "--quiet"], capsys)
    assert status == 1 and err == "" and [str(w.message) for w in caught] == []
    assert "DIVERGED: " in out and "became non-finite on both at epoch 2, step 9" in out


def test_help_shows_every_default(capsys):
    status, out, _ = run_cli(["--help"], capsys)
    assert status == 0
    out = " ".join(out.split())                        # argparse wraps its lines at the terminal's width
    for default in ("(default: 100)", "(default: 15)", "(default: 0.03)", "(default: circle)",
                    "(default: 3,3)", "(default: tanh,sigmoid)", "(default: float32)", "(default: xavier)"):
        assert default in out


@pytest.mark.parametrize("command", ["compare.__main__", "compare.trace", "compare.gradcheck", "compare.walkthrough",
                                     "compare.check", "compare.engine", "compare.bench"])
def test_every_command_prints_the_installed_version(command, capsys):
    status, out, err = run_main(importlib.import_module(command).main, ["--version"], capsys)
    name = command.removesuffix(".__main__")
    assert (status, out, err) == (0, f"python -m {name} {importlib.metadata.version('backprop-side-by-side')}\n", "")


def write_weights(tmp_path, name, **changes):
    weights = {**manual.NeuralNetwork(rng=np.random.default_rng(0)).state_dict(), **changes}
    path = tmp_path / name
    np.savez(path, **weights)
    return str(path)


BAD_INPUTS = [
    ["--epochs", "0"], ["--epochs", "ten"], ["--batch-size", "0"], ["--lr", "0"], ["--lr", "-1"],
    ["--lr", "inf"], ["--lr", "nan"], ["--weight-decay", "-0.1"], ["--weight-decay", "inf"],
    ["--noise", "0.6"], ["--noise", "-0.1"], ["--train-ratio", "0"], ["--train-ratio", "1"],
    ["--train-ratio", "0.0001"], ["--hidden", "3,0"], ["--hidden", "3,x"], ["--hidden", "3"],
    ["--activations", "tanh,softmax"], ["--dataset", "moons"], ["--dtype", "float16"], ["--seed", "-1"],
    ["--init", "he"], ["--weights", "{tmp}/missing.npz"], ["--weights", "{tmp}/notes.txt"],
    ["--weights", "{tmp}/objects.npz"], ["--weights", "{tmp}/wrong_key.npz"],
    ["--weights", "{tmp}/wrong_shape.npz"], ["--weights", "{tmp}/nan.npz"], ["--weights", "{tmp}/list.pt"],
    ["--json", "{tmp}/no/such/dir/out.json"], ["--plot", "{tmp}/no_dir/out.png"],
    ["--save-weights", "{tmp}"],
    ["--optimizer", "rmsprop"], ["--optimizer", "adam", "--momentum", "0.9"], ["--nesterov"],
    ["--momentum", "0.9", "--nesterov", "--optimizer", "adamw"], ["--betas", "0.9,0.99"], ["--amsgrad"],
    ["--optimizer", "adam", "--betas", "1,0.9"], ["--optimizer", "adam", "--betas", "0.9"],
    ["--optimizer", "adam", "--eps", "-1"], ["--momentum", "-0.5"],
    # values that round to 0 or overflow in float32, and an empty URL
    ["--optimizer", "adam", "--eps", "1e-60"], ["--momentum", "1e-50"], ["--lr", "1e39"],
    ["--rules", "playground", "--regularization", "L2", "--regularization-rate", "1e300"], ["--playground", ""],
    ["--seed", "4294967295", "--seeds", "2"], ["--playground", "#networkShape=100000,100000"],
    ["--features", "x,y,x2,y2,xy,sinx,siny", "--hidden", "2000000", "--activations", "tanh"],   # 18M with 7 inputs
]


@pytest.mark.parametrize("args", BAD_INPUTS, ids=" ".join)
def test_bad_input_is_one_error_line_exit_2_and_writes_nothing(args, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not weights")
    np.savez(tmp_path / "objects.npz", **{"layer1.weight": np.array([None, 1], dtype=object)})
    write_weights(tmp_path, "wrong_key.npz", extra=np.zeros(2))
    write_weights(tmp_path, "wrong_shape.npz", **{"layer2.weight": np.zeros((3, 2))})
    write_weights(tmp_path, "nan.npz", **{"layer1.bias": np.array([0.0, np.nan, 0.0])})
    torch.save([1, 2, 3], tmp_path / "list.pt")
    before = sorted(os.listdir(tmp_path))
    args = [a.format(tmp=tmp_path) for a in args]
    status, out, err = run_cli(["--epochs", "1", *args] if "--json" in args
                               else ["--epochs", "1", "--json", str(tmp_path / "out.json"), *args], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert sorted(os.listdir(tmp_path)) == before


def test_a_closed_pipe_is_not_a_traceback():
    # epochs enough that the run is still writing when its reader goes, however busy the machine
    with subprocess.Popen([sys.executable, "-m", "compare", "--epochs", "100000"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:   # closes the pipes after
        process.stdout.readline()
        process.stdout.close()                      # like `| head -1`
        assert process.wait() == 141                # 128 + SIGPIPE, as for `yes | head -1`
        assert b"Traceback" not in process.stderr.read()


def test_no_command_is_imported_with_its_package():
    r"""``python -m compare.trace`` runs compare/trace.py as ``__main__`` after importing ``compare``; had
    ``compare/__init__`` imported it already, runpy warns "found in sys.modules" on every run."""
    commands = ["compare.__main__", "compare.trace", "compare.walkthrough", "compare.gradcheck", "compare.check",
                "compare.bench"]
    code = f"import sys, compare; print([m for m in {commands} if m in sys.modules])"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"


def test_the_figure_shows_both_models_and_their_difference_over_the_plane():
    from compare.core import Config, run
    from compare.plot import make_figure, outputs_on_the_plane
    result = run(Config(epochs=1, dtype="float64"))
    manual_plane, torch_plane = outputs_on_the_plane(result)
    assert manual_plane.shape == torch_plane.shape == (121, 121)
    np.testing.assert_allclose(manual_plane, torch_plane, rtol=1e-9, atol=1e-12)
    titles = [ax.get_title() for ax in make_figure(result).axes]
    assert titles[2:5] == ["Decision boundary: manual (NumPy)", "Decision boundary: torch_impl (autograd)",
                           titles[4]] and titles[4].startswith("|y_manual - y_torch| over the plane")


@pytest.mark.parametrize("args", [["--optimizer", "adam", "--lr", "0.01"], ["--optimizer", "adamw", "--lr", "0.01"],
                                  ["--optimizer", "sgd", "--momentum", "0.9", "--nesterov"]], ids=lambda a: a[1])
def test_each_optimizer_agrees_step_by_step_with_its_state_compared(args, tmp_path, capsys):
    path = tmp_path / "result.json"
    status, out, _ = run_cli([*args, "--epochs", "5", "--dtype", "float64", "--quiet", "--json", str(path)], capsys)
    checks = json.loads(path.read_text())["checks"]
    assert status == 0 and checks["optimizer state"]["compared"] == 85 and checks["optimizer state"]["max_abs_diff"] > 0
    assert checks["weights after the update"]["max_abs_diff"] < 1e-14


# Every command answers the same mistake with the same line (compare.options, manual.train.LIMITS).
MISTAKES = [["--hidden", "3"], ["--activations", "tanh,cosh"], ["--dtype", "float16"], ["--seed", "-1"],
            ["--epochs", "0"], ["--lr", "nan"], ["--batch-size", "0"], ["--loss", "hinge"]]
COMMANDS = ["compare.__main__", "compare.trace", "compare.gradcheck", "compare.walkthrough", "manual.__main__",
            "torch_impl.__main__"]


@pytest.mark.parametrize("mistake", MISTAKES, ids=" ".join)
def test_the_same_mistake_gets_the_same_line_in_every_command_that_takes_the_option(mistake, capsys):
    answers = {}
    for command in COMMANDS:
        main = importlib.import_module(command).main
        if mistake[0] not in run_main(main, ["--help"], capsys)[1]:
            continue                                  # the command does not take this option
        status, out, err = run_main(main, mistake, capsys)
        assert status == 2 and out == "", command
        answers[command] = err
    assert len(answers) >= 3 and len(set(answers.values())) == 1, answers
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_diverged_run_still_draws_its_figure(tmp_path, capsys):
    path = tmp_path / "diverged.png"
    status, out, err = run_cli(["--lr", "1e38", "--epochs", "1", "--batch-size", "125", "--init", "torch-default",
                                "--quiet", "--plot", str(path)], capsys)
    assert status == 1 and err == "" and "DIVERGED: " in out
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_animate_writes_a_frame_per_epoch(tmp_path, capsys):
    from PIL import Image
    path = tmp_path / "run.gif"
    status, out, err = run_cli(["--epochs", "3", "--quiet", "--animate", str(path)], capsys)
    assert status == 0 and err == ""
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3 and gif.info["loop"] == 0
        frames = []
        for k in range(gif.n_frames):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("RGB")))
    assert not np.array_equal(frames[0], frames[-1])            # training moved the planes and the curves


@pytest.fixture
def recorder():
    r"""A ``Recorder``, its temporary file closed after the test."""
    with Recorder() as recorder:
        yield recorder


def test_the_animation_s_frames_show_each_epoch(recorder):
    from matplotlib.figure import Figure

    from compare.core import Config, run
    from compare.plot import outputs_on_the_plane
    result = run(Config(epochs=2), on_epoch=recorder)
    assert recorder.count == 2 and recorder[0].shape == (2, 121, 121)      # both sides' planes per epoch
    np.testing.assert_array_equal(recorder[1], np.stack(outputs_on_the_plane(result)))   # read back as written
    fig = Figure(figsize=(13, 3.6), dpi=72, layout="constrained")
    drawing = frames(result, recorder, fig)
    first = next(drawing)
    ax_loss, ax_manual, ax_torch, ax_diff = fig.axes[:4]
    assert first.shape == (259, 936, 3) and first.dtype == np.uint8
    assert [ax.get_title() for ax in (ax_manual, ax_torch)] == ["manual (NumPy)", "torch_impl (autograd)"]
    assert [text.get_text() for text in ax_loss.texts] == ["epoch 1 of 2"]
    assert [len(line.get_xdata()) for line in ax_loss.get_lines()] == [1] * 4      # both sides' two curves
    np.testing.assert_array_equal(ax_manual.get_images()[0].get_array(), recorder[0][0])
    assert len(ax_manual.collections[0].get_offsets()) == len(result.data[0])      # every training point
    next(drawing)
    assert [text.get_text() for text in ax_loss.texts] == ["epoch 2 of 2"]
    assert ax_diff.texts[0].get_text().endswith("% bit-identical")


def test_the_gif_is_written_frame_by_frame_and_keeps_none(monkeypatch, recorder):
    import io
    import weakref

    from PIL import Image

    import compare.animate
    from compare.core import Config, run
    result = run(Config(epochs=6), on_epoch=recorder)
    palette = gif_palette(result, recorder)
    drawn, alive = [], []

    def watched(*args, **kwargs):                                # every frame drawn, and how many still live
        for frame in frames(*args, **kwargs):
            drawn.append(frame.copy())
            yield frame
            alive.append(sum(ref() is not None for ref in refs))
            refs.append(weakref.ref(frame))
    refs = []
    monkeypatch.setattr(compare.animate, "frames", watched)
    file = io.BytesIO()
    gif_writer(result, recorder)(file)
    assert max(alive[3:]) <= 1, alive                             # past the palette's 3, none is kept
    with Image.open(file) as gif:
        assert gif.n_frames == 6
        for k, frame in enumerate(drawn[3:]):                     # every frame as drawn, on the GIF's palette
            gif.seek(k)
            expected = Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE).convert("RGB")
            np.testing.assert_array_equal(np.asarray(gif.convert("RGB")), np.asarray(expected))
