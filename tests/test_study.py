"""The study tools: python -m compare.gradcheck, python -m manual, python -m torch_impl."""
import importlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import manual.layers
from compare import gradcheck
from compare.__main__ import main as compare_main
from compare.core import Config, Source

from conftest import run_main

PNG = b"\x89PNG\r\n\x1a\n"
EPOCH_LINE = re.compile(r"\[Epoch +\d+/ *\d+\] loss: \d\.\d{5}, acc: \d\.\d{5} val_loss: \d\.\d{5}, val_acc: \d\.\d{5}")


# --- numeric_gradient and the relative error --------------------------------------------------

def test_numeric_gradient_is_central_and_puts_every_element_back():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    before = x.copy()
    grad, crossed = gradcheck.numeric_gradient(lambda: float((x ** 3).sum()), x, h=1e-4)
    np.testing.assert_allclose(grad, 3 * before ** 2 + 1e-8, rtol=1e-9)    # central: exact up to h^2 f'''/6
    assert np.array_equal(x, before) and not crossed.any()


def test_a_step_across_a_kink_is_marked_and_no_other():
    x = np.array([0.0, 5e-7, 2e-6, -1.0])
    _, crossed = gradcheck.numeric_gradient(lambda: float(np.abs(x).sum()), x, h=1e-6, pieces=lambda: [x > 0])
    assert crossed.tolist() == [True, True, False, False]


@pytest.mark.parametrize("criterion, y_pred, y, crossing", [
    (manual.L1Loss(), [[0.5], [0.2]], [[0.5], [-1.0]], [True, False]),      # y_pred = y: L1's kink
    (manual.L1Loss(), [[0.6], [0.2]], [[0.5], [-1.0]], [False, False]),
    (manual.BCELoss(), [[5e-13], [0.3]], [[1.0], [0.0]], [True, True]),     # a p inside the clamp of p (1 - p):
    (manual.BCELoss(), [[0.9], [0.3]], [[1.0], [0.0]], [False, False]),     # every difference counts
], ids=["L1 at y_pred = y", "L1 elsewhere", "BCE in its clamp", "BCE elsewhere"])
def test_the_loss_s_kinks_are_pieces_a_step_can_cross(criterion, y_pred, y, crossing):
    model = manual.NeuralNetwork(hidden=(), activations=(), output_activation="linear", dtype=np.float64)
    y_pred, y = np.array(y_pred), np.array(y)
    shift = np.zeros_like(y_pred)                           # the step moves y_pred itself
    _, crossed = gradcheck.numeric_gradient(lambda: criterion(y_pred + shift, y), shift, h=1e-14,
                                            pieces=lambda: gradcheck.pieces(model, criterion))
    assert crossed[:, 0].tolist() == crossing


def test_relative_error_is_the_largest_difference_over_the_largest_element():
    a, b = np.array([2.0, -4.0, 1e-9]), np.array([2.0, -4.0 + 4e-6, 2e-9])
    assert gradcheck.relative_error(a, b) == pytest.approx(1e-6)
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0


# --- python -m compare.gradcheck --------------------------------------------------------------

def test_default_network_gradients_agree_three_ways_in_float64():
    config = Config(dtype="float64")
    weights, _, X, y = Source(config).step(1)
    result = gradcheck.check(gradcheck.Problem(config, weights, X, y), gradcheck.EPS)
    assert result["ok"] and result["failures"] == []
    assert list(result["parameters"]) == ["layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias",
                                          "layer_out.weight", "layer_out.bias"]
    for errors in result["parameters"].values():
        assert errors["manual-fd"]["max_rel"] < 1e-6
        assert errors["autograd-fd"]["max_rel"] < 1e-6
        assert errors["manual-autograd"]["max_abs"] < 1e-15


@pytest.mark.parametrize("args", [[], ["--hidden", "4,5", "--activations", "relu,linear", "--seed", "3"],
                                  ["--hidden", "", "--activations", "", "--init", "torch-default"],
                                  ["--batch-size", "250"], ["--step", "17"], ["--manual", "autograd"],
                                  ["--manual", "autograd", "--loss", "bce"]], ids=" ".join)
def test_correct_gradients_exit_0_with_a_table_and_a_pass_line(args, capsys):
    status, out, err = run_main(gradcheck.main, args, capsys)
    assert status == 0 and err == ""
    assert out.startswith("Gradient check: ") and "largest relative error" in out
    assert ("manual's gradients by its autograd engine" in out.splitlines()[0]) == ("autograd" in args)
    assert out.splitlines()[-1].startswith("PASS")


def test_a_wrong_sigmoid_derivative_exits_1_naming_the_parameters_below_it(monkeypatch, capsys):
    correct = manual.layers.Sigmoid.backward
    monkeypatch.setattr(manual.layers.Sigmoid, "backward", lambda self, da: correct(self, da) * 1.001)
    status, out, _ = run_main(gradcheck.main, [], capsys)
    assert status == 1
    failures = out[out.index("FAIL"):]
    for name in ("layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"):     # sigmoid is activation2
        assert f"{name}: manual vs FD relative error 1.0e-03" in failures
        assert f"{name}: manual vs autograd differ by" in failures
    assert "layer_out" not in failures and "autograd vs FD" not in failures


@pytest.mark.parametrize("args", [["--activations", "relu,relu", "--seed", str(seed)] for seed in (1, 2, 3)]
                         + [["--activations", "relu,relu", "--dataset", "xor"]], ids=" ".join)
def test_relu_s_kink_is_left_out_with_a_count_and_the_check_passes(args, capsys):
    status, out, _ = run_main(gradcheck.main, args, capsys)
    assert status == 0 and out.splitlines()[-2].startswith("PASS")
    assert re.fullmatch(r"Left out of the comparison with FD, .*: (layer\S+ \d+ of \d+(, )?)+\.", out.splitlines()[-1])


@pytest.mark.parametrize("derivative", [lambda self, da: da * (self.z >= 0),         # wrong only at the kink
                                        lambda self, da: da * (self.z > 0) * 1.001],
                         ids=["[z >= 0]", "1.001 [z > 0]"])
def test_a_wrong_relu_derivative_still_fails_beside_the_kinks(derivative, monkeypatch, capsys):
    monkeypatch.setattr(manual.layers.ReLU, "backward", derivative)
    status, out, _ = run_main(gradcheck.main, ["--activations", "relu,relu"], capsys)
    assert status == 1 and "FAIL" in out and ": manual vs autograd differ by" in out


@pytest.mark.parametrize("args", [["--fd-eps", "0"], ["--fd-eps", "nan"], ["--step", "0"], ["--step", "1701"],
                                  ["--dtype", "float32"], ["--hidden", "3"],
                                  ["--activations", "tanh,softmax"], ["--seed", "-1"], ["--init", "he"],
                                  ["--plot", "{tmp}/sweep.png"], ["--eps-sweep", "--plot", "{tmp}/no/dir.png"],
                                  ["--json", "{tmp}"]], ids=" ".join)
def test_gradcheck_bad_input_is_one_error_line_exit_2_and_writes_nothing(args, tmp_path, capsys):
    status, out, err = run_main(gradcheck.main, [a.format(tmp=tmp_path) for a in args], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_eps_sweep_falls_then_rises_with_the_best_eps_marked(tmp_path, capsys):
    status, out, _ = run_main(gradcheck.main, ["--eps-sweep", "--json", str(tmp_path / "gc.json"),
                                          "--plot", str(tmp_path / "sweep.png")], capsys)
    assert status == 0
    sweep = json.loads((tmp_path / "gc.json").read_text())["sweep"]
    assert sweep["eps"] == [10.0 ** -k for k in range(1, 13)]
    errors, best = sweep["max_rel"], sweep["eps"].index(sweep["best_eps"])
    assert 1e-7 <= sweep["best_eps"] <= 1e-4
    assert errors[best] < 1e-8
    assert errors[:best + 1] == sorted(errors[:best + 1], reverse=True)         # truncation error falls ...
    assert errors[best:] == sorted(errors[best:])                               # ... round-off rises
    assert len([line for line in out.splitlines() if re.match(r" +1e-\d\d ", line)]) == 12
    assert (tmp_path / "sweep.png").read_bytes().startswith(PNG)


# --- python -m manual and python -m torch_impl ------------------------------------------------

SCRIPTS = ["manual", "torch_impl"]


def script_main(package):
    return importlib.import_module(f"{package}.__main__").main


@pytest.mark.parametrize("package", SCRIPTS)
def test_script_prints_the_article_s_line_each_epoch_and_plots(package, tmp_path, capsys):
    status, out, err = run_main(script_main(package), ["--epochs", "2", "--plot", str(tmp_path / "run.png")], capsys)
    lines = out.splitlines()
    assert status == 0 and err == "" and len(lines) == 2
    assert all(EPOCH_LINE.fullmatch(line) for line in lines)
    assert lines[0].startswith("[Epoch   1/  2]") and lines[1].startswith("[Epoch   2/  2]")
    assert (tmp_path / "run.png").read_bytes().startswith(PNG)


@pytest.mark.parametrize("package", SCRIPTS)
def test_script_is_deterministic_for_a_seed(package, capsys):
    runs = [run_main(script_main(package), ["--epochs", "2", "--seed", str(seed), "--dtype", "float64"], capsys)[1]
            for seed in (4, 4, 5)]
    assert runs[0] == runs[1] != runs[2]


def test_manual_script_in_float64_prints_compare_s_manual_lines(capsys):
    args = ["--epochs", "3", "--seed", "1", "--dtype", "float64"]
    _, manual_out, _ = run_main(script_main("manual"), args, capsys)
    status, compare_out, _ = run_main(compare_main, args, capsys)
    assert status == 0
    compare_lines = [line.removesuffix("  manual") for line in compare_out.splitlines() if line.endswith("  manual")]
    assert manual_out.splitlines() == compare_lines


@pytest.mark.parametrize("package", SCRIPTS)
@pytest.mark.parametrize("args", [["--epochs", "0"], ["--epochs", "ten"], ["--batch-size", "0"], ["--lr", "0"],
                                  ["--lr", "nan"], ["--weight-decay", "-1"], ["--noise", "0.6"],
                                  ["--train-ratio", "1"], ["--train-ratio", "0.0001"], ["--hidden", "3,x"],
                                  ["--hidden", "3,0"], ["--hidden", "3"], ["--activations", "tanh,softmax"],
                                  ["--dataset", "moons"], ["--dtype", "float16"], ["--seed", "-1"],
                                  ["--plot", "{tmp}/no/dir.png"], ["--plot", "{tmp}"], ["--bogus"],
                                  ["--hidden", "100000,100000"], ["--lr", "1e300"], ["--weight-decay", "1e-60"],
                                  ["--batch-size", "1000000000000000000000"]], ids=" ".join)
def test_script_bad_input_is_one_error_line_exit_2_and_writes_nothing(package, args, tmp_path, capsys):
    status, out, err = run_main(script_main(package), [a.format(tmp=tmp_path) for a in args], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("package, foreign", [("manual", ("torch", "compare")),
                                              ("torch_impl", ("manual", "compare"))])
def test_script_runs_as_a_module_and_never_imports_the_other_side(package, foreign):
    code = f"""import runpy, sys
sys.argv = ["python -m {package}", "--epochs", "1", "--batch-size", "250"]
try:
    runpy.run_module("{package}", run_name="__main__")    # what python -m {package} runs
except SystemExit as exit_:
    print(exit_.code, [m for m in sys.modules if m.split(".")[0] in {foreign!r}])
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("[Epoch   1/  1]") and result.stdout.splitlines()[-1] == "0 []"


@pytest.mark.parametrize("package", SCRIPTS)
def test_script_help_shows_defaults(package, capsys):
    status, out, _ = run_main(script_main(package), ["--help"], capsys)
    assert status == 0 and out.startswith(f"usage: python -m {package}")
    out = " ".join(out.split())                        # argparse wraps its lines at the terminal's width
    for default in ("(default: 100)", "(default: 15)", "(default: 0.03)", "(default: circle)",
                    "(default: 3,3)", "(default: tanh,sigmoid)", "(default: float32)", "(default: 1)"):
        assert default in out


@pytest.mark.parametrize("package", SCRIPTS)
def test_script_writes_its_figure_whole_or_not_at_all(package, tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure
    path = tmp_path / "run.png"
    path.write_bytes(b"the previous figure")

    def disk_full(self, file, format):
        file.write(b"half a PNG")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(Figure, "savefig", disk_full)
    status, _, err = run_main(script_main(package), ["--epochs", "1", "--plot", str(path)], capsys)
    assert status == 2 and err == f"error: --plot {path}: No space left on device\n"
    assert path.read_bytes() == b"the previous figure" and os.listdir(tmp_path) == ["run.png"]


def test_the_eps_sweep_is_per_parameter_with_each_best_eps_marked(tmp_path, capsys):
    from compare.gradcheck import main as gradcheck_main
    from compare.gradcheck import sweep_figure
    status, out, _ = run_main(gradcheck_main, ["--eps-sweep", "--json", str(tmp_path / "g.json")], capsys)
    result = json.loads((tmp_path / "g.json").read_text())["sweep"]
    names = ["layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias", "layer_out.weight", "layer_out.bias"]
    assert status == 0 and list(result["parameters"]) == names
    header = next(line for line in out.splitlines() if line.lstrip().startswith("eps "))
    assert header.split() == ["eps", *names]
    for k, name in enumerate(names):                 # one * per column, at that parameter's smallest error
        rel = result["parameters"][name]["rel"]
        assert result["parameters"][name]["best_eps"] == result["eps"][rel.index(min(rel))]
        starred = [line for line in out.splitlines() if line.startswith(" ") and line.split()[k + 1:k + 2] and
                   line.split()[k + 1].endswith("*")]
        assert len(starred) == 1 and float(starred[0].split()[0]) == result["parameters"][name]["best_eps"]
    ax = sweep_figure(result, "title").axes[0]
    assert [text.get_text().split(" (")[0] for text in ax.get_legend().get_texts()] == names
    assert len(ax.get_lines()) == 2 * len(names)     # a line and a best-eps star per parameter
    status, out, _ = run_main(gradcheck_main, ["--eps-sweep", "--parameter", "layer1.weight"], capsys)
    assert status == 0 and "layer1.bias" not in out.split("per parameter")[1]


def test_gradcheck_checks_the_model_s_own_backward(monkeypatch, capsys):
    backward = manual.NeuralNetwork.backward             # a bug between the layers, which every layer's trace misses
    monkeypatch.setattr(manual.NeuralNetwork, "backward", lambda self, dy: backward(self, 2 * dy))
    status, out, _ = run_main(gradcheck.main, [], capsys)
    assert status == 1 and "layer_out.bias: manual vs FD relative error 5.0e-01" in out


@pytest.mark.parametrize("activations", ["elu,elu", "softsign,softsign"])
def test_a_difference_across_a_jump_of_the_second_derivative_is_left_out(activations, capsys):
    status, out, _ = run_main(gradcheck.main, ["--activations", activations, "--point", "0,0", "--label", "1"], capsys)
    assert status == 0 and out.splitlines()[-1].startswith("Left out of the comparison with FD")
