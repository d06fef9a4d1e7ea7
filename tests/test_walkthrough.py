"""python -m compare.walkthrough: every value equals autograd's, every value passed on is its source, exit codes,
the graph."""
import re

import numpy as np
import pytest
import torch

import manual
import torch_impl
from compare.core import Config
from compare.core.data import load_data
from compare.walkthrough import array_text, compute, grad_fn_chain, main, values, walkthrough

from conftest import assert_close, make_pair, run_main

CONFIGS = {
    "default": (Config(dtype="float64"), 1),
    "float32": (Config(dtype="float32"), 1),
    "relu,tanh batch 2": (Config(dtype="float64", hidden=(4, 2), activations=("relu", "tanh")), 2),
    "linear batch 3": (Config(dtype="float64", hidden=(2,), activations=("linear",), lr=0.5), 3),
    "no hidden layer, float32 batch 4": (Config(dtype="float32", hidden=(), activations=()), 4),
    **{f"{loss} batch 3": (Config(dtype="float64", loss=loss), 3)
       for loss in ("l1", "bce", "bce-logits", "cross-entropy")},
}
PRINTED = re.compile(r"^  (\S+) (=|<-) .* = (\S+) +autograd +(\S+)  (exact|close|DIFFERENT)$")


def run(args, capsys):
    r"""Run the command in-process on good input; return (exit status, stdout, stderr)."""
    status = main(args)
    return (status, *capsys.readouterr())


def exit_status(args):
    r"""The status with which ``--help`` or bad input makes the command exit."""
    with pytest.raises(SystemExit) as exited:
        main(args)
    return exited.value.code


def example(config, batch):
    X_train, y_train, _, _ = load_data(seed=config.seed)
    return X_train[:batch], y_train[:batch]


@pytest.fixture(scope="module", params=CONFIGS.values(), ids=CONFIGS.keys())
def walk(request):
    config, batch = request.param
    return config, values(compute(config, *example(config, batch)))


def test_every_value_equals_autograds(walk):
    config, walked = walk
    assert len(walked) > 10
    for value in walked:
        assert_close(value.manual, np.asarray(value.autograd), config.dtype, value.name)
        assert value.status(config.dtype) in ("exact", "close")


def test_every_value_passed_on_is_its_source(walk):
    _, walked = walk
    by_name = {value.name: value for value in walked}
    passed_on = [value for value in walked if not value.numbers and value.formula in by_name]
    assert passed_on                  # dL/da2[0] = dL/dx3[0], dL/db3[0] = dL/dz3[0], a1[0] = z1[0]
    for value in passed_on:
        assert by_name[value.formula].manual == value.manual, value.name


def test_every_update_is_sgd_with_weight_decay(walk):
    config, walked = walk
    by_name = {value.name: value for value in walked}
    updates = [value for value in walked if value.assign == "<-"]
    model = make_pair(config, np.random.default_rng(config.seed))[0]
    assert len(updates) == sum(p.data.size for p in model.parameters())
    state, before = model.state_dict(), {}
    for k, (layer, _) in enumerate(list(model.named_children())[0::2], 1):     # layer1, layer2, ..., layer_out
        before[f"W{k}"], before[f"b{k}"] = state[f"{layer}.weight"], state[f"{layer}.bias"]
    for value in updates:
        symbol, position = value.name.split("[")
        old = before[symbol][tuple(int(i) for i in position.rstrip("]").split(","))]
        gradient = by_name[f"dL/d{value.name}"].manual
        assert_close(value.manual, np.asarray(old - config.lr * (gradient + config.weight_decay * old)),
                     config.dtype, value.name)


def test_printed_lines_show_manuals_value_and_autograds_in_full(capsys):
    status, out, err = run(["--hidden", "4,2", "--activations", "relu,tanh", "--points", "2"], capsys)
    assert status == 0 and err == ""
    config = Config(hidden=(4, 2), activations=("relu", "tanh"), batch_size=2)
    walked = values(compute(config, *example(config, 2)))
    printed = [PRINTED.match(line) for line in out.splitlines() if " autograd " in line]
    assert all(printed) and [m[1] for m in printed] == [value.name for value in walked]
    for match, value in zip(printed, walked, strict=True):
        result, autograd = float(match[3]), float(match[4])
        assert autograd == value.autograd                                   # full precision, round trip
        assert abs(result - value.manual) <= 0.5 * 10 ** (1 - value.digits) * abs(value.manual), match[0]
    assert "dL/dW2[0,1] = sum_n dL/dz2[n,0] * x2[n,1] = " in out
    assert out.splitlines()[-1].startswith(f"All {len(walked)} values agree with autograd: ")


def test_default_run_prints_every_section_and_exits_0(capsys):
    status, out, err = run([], capsys)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[1] == "Example: the first training point of the circle data (seed 1)."
    after_blank_lines = [line for before, line in zip(lines, lines[1:], strict=False) if before == ""]
    assert after_blank_lines[:-1] == [
        "Weights (seed 1, xavier init; W_k[j, i] is input i's weight in neuron j)", "Forward", "Loss",
        "Backward: layer 3 (layer_out, tanh)", "Backward: layer 2 (layer2, sigmoid)",
        "Backward: layer 1 (layer1, tanh)", "SGD update (lr 0.03, weight decay 0.03)", "Autograd's graph"]
    assert after_blank_lines[-1].startswith("All 88 values agree with autograd: ")
    assert "  dL/dz2[0] = dL/da2[0] * a2[0] * (1 - a2[0]) = (" in out
    assert "  W2[0,1] <- W2[0,1] - lr (dL/dW2[0,1] + wd W2[0,1]) = (" in out


def test_a_wrong_derivative_exits_1_and_is_named_first(monkeypatch, capsys):
    backward = manual.layers.Sigmoid.backward
    monkeypatch.setattr(manual.layers.Sigmoid, "backward", lambda self, da: backward(self, da) * 1.001)
    status, out, _ = run(["--dtype", "float64"], capsys)
    assert status == 1
    different = [line.split()[0] for line in out.splitlines() if line.endswith("DIFFERENT")]
    assert different[0] == "dL/dz2[0]" and "b1[0]" in different
    assert out.splitlines()[-1].endswith("the first: dL/dz2[0]")


@pytest.mark.parametrize("args", [["--points", "0"], ["--points", "5"], ["--points", "x"], ["--hidden", "3"],
                                  ["--activations", "softmax"], ["--dtype", "float16"]])
def test_bad_input_exits_2_with_one_error_line(args, capsys):
    assert exit_status(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_batch_of_points_from_the_command_line(capsys):
    status, out, _ = run(["--points", "2", "--hidden", "2", "--activations", "linear"], capsys)
    X, y, _, _ = load_data(seed=1)
    assert status == 0
    assert "Example: the first 2 training points of the circle data (seed 1)." in out
    assert f"x1 = the examples = {array_text(X[:2].astype(np.float32))}" in out
    assert f"y = {array_text(y[:2, 0])} the label" in out


def test_help_shows_every_option_and_its_default(capsys):
    assert exit_status(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())     # argparse wraps lines at the terminal's width
    for option in ("--hidden", "--activations", "--dtype", "--seed", "--init", "--points",
                   "--lr", "--weight-decay"):
        assert option in out
    assert "(default: float32)" in out and "(default: 0.03)" in out


def test_walkthrough_from_python_takes_one_point_and_label():
    text = walkthrough(Config(dtype="float64"), (0.5, -1.0), 1)
    assert text.startswith("One SGD step of the 2-3-3-1 network (tanh, sigmoid, tanh) in float64")
    assert "x1 = the example = [0.5, -1]" in text and text.endswith("within the tolerance.")


def test_weights_can_be_given():
    config = Config(dtype="float64", hidden=(), activations=())
    weights = {"layer_out.weight": np.array([[0.5, -0.25]]), "layer_out.bias": np.array([0.125])}
    z = {value.name: value for value in values(compute(config, [(1.0, 2.0)], [1.0], weights))}["z1[0]"]
    assert z.numbers == "(1)(0.5) + (2)(-0.25) + (0.125)" and z.manual == 0.125


def graph(config):
    _, model = make_pair(config, np.random.default_rng(0))
    X = torch.zeros(1, 2, dtype=torch.float64)
    loss = torch.nn.MSELoss()(model(X), torch.ones(1, 1, dtype=torch.float64))
    return grad_fn_chain(loss, model)


def test_grad_fn_chain_of_the_default_network():
    lines = graph(Config(dtype="float64"))
    assert lines[0] == ("MseLossBackward0 <- TanhBackward0 <- AddmmBackward0 <- SigmoidBackward0 <- AddmmBackward0 "
                        "<- TanhBackward0 <- AddmmBackward0 <- TBackward0 <- AccumulateGrad (layer1.weight)")
    table = {re.split(r"\s{2,}", line.strip())[0]: line for line in lines[2:]}
    assert "manual.MSELoss.backward" in table["MseLossBackward0"]
    assert "manual.layers.Tanh.backward" in table["<- TanhBackward0"]
    assert "manual.layers.Sigmoid.backward" in table["<- SigmoidBackward0"]
    assert "manual.layers.Linear.backward" in table["<- AddmmBackward0"]
    for name in ("layer1.bias", "layer2.weight", "layer2.bias", "layer_out.weight", "layer_out.bias"):
        assert "manual.Parameter.accumulate_grad" in table[f"<- AccumulateGrad ({name})"]
    assert sum("AccumulateGrad" in line for line in lines[2:]) == 6
    assert sum("TBackward0" in line for line in lines[2:]) == 3


def test_grad_fn_chain_shows_relu_and_no_node_for_identity():
    lines = graph(Config(dtype="float64", hidden=(3, 2), activations=("relu", "linear")))
    assert lines[0].startswith("MseLossBackward0 <- TanhBackward0 <- AddmmBackward0 <- AddmmBackward0 "
                               "<- ReluBackward0 <- AddmmBackward0")
    assert any("ReluBackward0" in line and "manual.layers.ReLU.backward" in line for line in lines)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_autograd_column_is_torchs_own_training_step(dtype):
    config = Config(dtype=dtype)
    X, y = (a.astype(dtype) for a in example(config, 2))
    _, model = make_pair(config, np.random.default_rng(config.seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss, _ = torch_impl.train_step(model, optimizer, torch.nn.MSELoss(), torch.tensor(X), torch.tensor(y))
    walked = {value.name: value for value in values(compute(config, X, y))}
    assert float(walked["L"].autograd) == loss
    for k, name in enumerate(("layer1", "layer2", "layer_out"), 1):
        layer = getattr(model, name)
        for (j, i), gradient in np.ndenumerate(layer.weight.grad.numpy()):
            assert walked[f"dL/dW{k}[{j},{i}]"].autograd == gradient
        for (j, i), weight in np.ndenumerate(layer.weight.detach().numpy()):
            assert walked[f"W{k}[{j},{i}]"].autograd == weight
        for j, bias in enumerate(layer.bias.detach().numpy()):
            assert walked[f"b{k}[{j}]"].autograd == bias


def test_a_network_too_large_to_read_gets_a_summary_per_section(capsys):
    status, out, _ = run(["--hidden", "50,50", "--activations", "tanh,tanh"], capsys)
    assert status == 0 and len(out) < 5000
    assert "values: too many to read, so each section is summed up" in out
    assert "\nBackward: layer 2 (layer2, tanh)\n  " in out and out.rstrip().endswith("within the tolerance.")


@pytest.mark.parametrize("loss, formula", [("bce-logits", "(sigmoid(y_pred[1,0]) - y[1,0]) / N"),
                                           ("cross-entropy", "(softmax(y_pred[1])[0] - [0 == y[1]]) / N")])
def test_the_loss_gradient_is_printed_with_its_numbers(loss, formula, capsys):
    status, out, _ = run(["--loss", loss, "--points", "2"], capsys)
    line = next(line for line in out.splitlines() if line.startswith("  dL/dy_pred[1,"))
    assert status == 0 and formula in line and PRINTED.match(line), line


@pytest.mark.parametrize("hidden, activations", [((3, 3), ("tanh", "sigmoid")), ((8, 8), ("relu", "tanh"))])
def test_the_network_drawn_at_one_step_has_every_neuron_link_and_value(hidden, activations):
    from matplotlib.patches import Circle

    from compare.core import Source
    from compare.drawing import MAX_FAN_IN, network_figure
    from compare.trace import trace
    config = Config(dtype="float64", hidden=hidden, activations=activations)
    weights, _, X, y = Source(config).step(1)
    rows = trace(config, weights, X, y)
    ax = network_figure(config, weights, rows, "step 1", row=2).axes[0]
    sizes = [2, *hidden, 1]
    assert len([p for p in ax.patches if isinstance(p, Circle)]) == sum(sizes)
    assert len(ax.get_lines()) == sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))          # one per weight
    texts = "\n".join(text.get_text() for text in ax.texts[:-1])        # the last: the legend
    by = {row.name: row for row in rows}
    assert f"dL/dz {by['dL/dz2'].manual[2, 0]:.3g} ✓" in texts and f"z {by['z1'].manual[2, 0]:.3g} ✓" in texts
    assert "✗" not in texts
    first_layer_labelled = f"w1 {weights['layer1.weight'][0, 0]:.3g} → {by['new_W1'].manual[0, 0]:.3g} ✓" in texts
    assert first_layer_labelled                          # fan-in 2: every neuron lists its links
    second = f"dL/dw1 {by['dL/dW2'].manual[0, 0]:.3g} ✓" in texts
    assert second == (hidden[0] <= MAX_FAN_IN)


def test_a_wrong_value_is_marked_on_the_drawing(monkeypatch):
    from compare.core import Source
    from compare.drawing import network_figure
    from compare.trace import trace
    monkeypatch.setattr(manual.Sigmoid, "backward", lambda self, da: da * self.a * (1 + self.a))
    config = Config(dtype="float64")
    weights, _, X, y = Source(config).step(1)
    ax = network_figure(config, weights, trace(config, weights, X, y), "t").axes[0]
    texts = [text.get_text() for text in ax.texts]
    assert any(text.startswith("dL/dz") and text.endswith("✗") for text in texts)


def test_autograd_s_graph_is_drawn_node_by_node_beside_the_manual_code(tmp_path, capsys, monkeypatch):
    import manual.autograd as engine
    from compare.core import Source
    from compare.drawing import graph_figure
    from compare.trace import main as trace_main
    from compare.trace import recorded_graph
    config = Config()
    weights, _, X, y = Source(config).step(1)
    nodes, passed, beside, _ = recorded_graph(config, weights, X, y)
    texts = [text.get_text() for text in graph_figure(nodes, passed, "step 1", beside).axes[0].texts]
    labels = [label for _, label, *_ in nodes]
    assert labels[:3] == ["MseLossBackward0", "TanhBackward0", "AddmmBackward0"]
    assert sorted(label for label in labels if label.startswith("AccumulateGrad")) == sorted(
        f"AccumulateGrad ({name})" for name in ["layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias",
                                                "layer_out.weight", "layer_out.bias"])
    assert texts.count("MseLossBackward0") == 2 and [label for label, _ in beside] == labels   # both graphs
    assert all(ok for _, ok in beside) and all(label in texts for label in labels)
    assert ("manual.layers.Sigmoid.backward: dL/dz = dL/da * a * (1 - a)\npasses on a gradient of shape (15, 3)"
            in texts)
    assert passed[labels.index("AccumulateGrad (layer_out.bias)")] == "fills .grad"
    monkeypatch.setattr(engine.SigmoidBackward0, "vjp", lambda self, grad: (grad * self.saved_tensors()[0],))
    _, _, beside, _ = recorded_graph(config, weights, X, y)          # a planted VJP bug: the edges it sends are red
    first = next(k for k, (_, ok) in enumerate(beside) if not ok)       # and every edge below them
    assert first == labels.index("SigmoidBackward0") + 1 and labels[first] == "AddmmBackward0"
    path = tmp_path / "graph.png"
    assert run_main(trace_main, ["--graph", str(path)], capsys)[0] == 0 and path.read_bytes()[:4] == b"\x89PNG"
