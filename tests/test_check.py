r"""compare.check on networks written apart from this project (tests/learners.py), in both shapes:
correct ones pass, each classic mistake is named at the right parameter with its hint, and a model
that cannot be checked is one error line."""
import json
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import manual
from compare.check import check, main

from conftest import refused, run_main
from learners import (
    MISTAKES,
    AttributeNet,
    BiasShapeNet,
    ColumnsNet,
    FlatOutputModuleNet,
    FlatOutputNet,
    Float32Net,
    InOutModuleNet,
    KeptGradsModuleNet,
    KeptGradsNet,
    L2Net,
    ModuleNet,
    Net,
    RowBiasNet,
    StableBCENet,
    WeightsFirstNet,
    WrongSigmoidNet,
)

ARTICLE = ([2, 3, 3, 1], ("tanh", "sigmoid", "tanh"))
HINTS = {"transposed": "dW transposed", "half": "the 2 of (y_pred - y)^2 forgotten",
         "sum": "a sum where the loss takes the mean", "bias not summed": "not summed over the batch",
         "at z": "derivative taken at z", "at a": "derivative taken at a = f(z)",
         "accumulate": "accumulate across calls", "input": "dW from the input of layer"}
def named(mistake, at, layers):
    r"""The parameters that may be named first, from the output layer back: the weight of the layer of the
    mistake, or of the output layer for those of the loss gradient and the accumulation, which every
    parameter shows; or that layer's bias, where relu units below that are all off leave the weight's
    gradient 0, right or wrong."""
    layer = layers if mistake in ("half", "sum", "accumulate") else at
    return {"bias not summed": (f"b{at}",), "transposed": (f"W{at}",),
            "input": (f"W{at}",)}.get(mistake, (f"W{layer}", f"b{layer}"))


@pytest.mark.parametrize("loss, outputs", [("mse", 1), ("bce-logits", 1), ("cross-entropy", 2)])
@pytest.mark.parametrize("style", ["cs231n", "module"])
def test_a_correct_network_is_correct(style, loss, outputs):
    sizes, activations = [2, 4, 3, outputs], ("relu", "tanh", "tanh" if loss == "mse" else "linear")
    model = Net(sizes, activations, loss) if style == "cs231n" else ModuleNet(sizes, activations)
    verdict = check(model, activations=activations[:-1], loss=loss)
    assert verdict.correct, str(verdict)
    assert [row["gradients"] for row in verdict.rows] == ["ok"] * 4
    assert style in verdict.model and ("(in, out)" if style == "cs231n" else "(out, in)") in verdict.model


@pytest.mark.parametrize("mistake", MISTAKES)
def test_each_classic_mistake_is_named_in_the_article_s_network(mistake):
    at = 3 if mistake == "input" else 2          # layer 2's input is 2 wide, layer 1's 3: no other fits
    verdict = check(Net(*ARTICLE, mistake=mistake, at=at))
    assert not verdict.correct
    assert verdict.first_wrong["parameter"] == named(mistake, at, 3)[0], verdict.first_wrong
    assert HINTS[mistake] in verdict.first_wrong["hint"], verdict.first_wrong["hint"]


@st.composite
def planted(draw):
    r"""A random architecture (0 to 3 hidden layers), a classic mistake that shows in it, and its layer."""
    width = draw(st.integers(2, 4))
    hidden = draw(st.lists(st.sampled_from([width, width + 1]), max_size=3))
    activations = tuple(draw(st.lists(st.sampled_from(["tanh", "sigmoid", "relu"]), min_size=len(hidden),
                                      max_size=len(hidden)))) + ("tanh",)
    sizes = [2, *hidden, 1]
    mistake = draw(st.sampled_from(MISTAKES))
    at = draw(st.integers(1, len(sizes) - 1))
    if mistake in ("at z", "at a"):
        assume(activations[at - 1] != "relu")      # relu's derivative is the same at z and at a
    if mistake == "input":
        assume(at > 1 and sizes[at - 2] == sizes[at - 1])   # another layer's input of the same width
    return sizes, activations, mistake, at, draw(st.integers(0, 100))


@given(planted())
def test_a_mistake_planted_in_a_random_architecture_is_named(case):
    sizes, activations, mistake, at, seed = case
    verdict = check(Net(sizes, activations, mistake=mistake, at=at, seed=seed), activations=activations[:-1])
    assert not verdict.correct
    assert verdict.first_wrong["parameter"] in named(mistake, at, len(sizes) - 1), (case, verdict.first_wrong)
    assert HINTS[mistake] in verdict.first_wrong["hint"], (case, verdict.first_wrong["hint"])


@given(sizes=st.lists(st.integers(1, 4), max_size=3), seed=st.integers(0, 100),
       activation=st.sampled_from(["tanh", "sigmoid", "relu"]),
       loss=st.sampled_from(["mse", "bce-logits", "cross-entropy"]))
def test_any_correct_network_of_0_to_3_hidden_layers_is_correct(sizes, seed, activation, loss):
    activations = (activation,) * len(sizes)
    layers, output = [2, *sizes, 2 if loss == "cross-entropy" else 1], "tanh" if loss == "mse" else "linear"
    assert check(Net(layers, (*activations, output), loss, seed=seed),
                         activations=activations, loss=loss).correct
    assert check(ModuleNet(layers, (*activations, output), seed=seed),
                         activations=activations, loss=loss).correct


def test_the_command_checks_a_file_and_writes_json(tmp_path, capsys):
    learner = tmp_path / "mine.py"
    learner.write_text(textwrap.dedent("""
        from learners import Net                  # tests/learners.py, on the path as pytest runs the tests

        def correct():
            return Net([2, 3, 3, 1], ("tanh", "sigmoid", "tanh"))

        def forgot_the_2():
            return Net([2, 3, 3, 1], ("tanh", "sigmoid", "tanh"), mistake="half")
    """))
    status, out, _ = run_main(main, [f"{learner}:correct"], capsys)
    assert status == 0 and out.rstrip().endswith(
        "CORRECT: outputs, loss and gradients equal autograd's on all 4 batches.")
    status, out, _ = run_main(main, [f"{learner}:forgot_the_2", "--json", str(tmp_path / "v.json")], capsys)
    first = json.loads((tmp_path / "v.json").read_text())["first_wrong"]
    assert status == 1 and "WRONG: the gradient of W3" in out and first["parameter"] == "W3"
    assert first["fd"] == pytest.approx(first["autograd"], rel=1e-6)
    assert first["yours"] == pytest.approx(first["autograd"] / 2)


BAD = '''
import numpy as np
class Raises:
    def __init__(self):
        raise RuntimeError("no weights yet")
class Unchained:
    def __init__(self):
        self.params = {"W1": np.zeros((2, 3)), "b1": np.zeros(3), "W2": np.zeros((4, 1)), "b2": np.zeros(1)}
    def loss(self, X, y=None):
        return 0.0, {}
class Shape:
    def __init__(self):
        self.params = {"W1": np.zeros((2, 1)), "b1": np.zeros(1)}
    def loss(self, X, y=None):
        return np.tanh(X @ self.params["W1"]) if y is None else (0.0, {"W1": np.zeros((5, 5)), "b1": np.zeros(1)})
class Neither:
    pass
class OnlyGrads(Unchained):
    def __init__(self):
        self.params = {"W1": np.zeros((2, 1)), "b1": np.zeros(1)}
    def loss(self, X, y=None):
        return np.tanh(X @ self.params["W1"]) if y is None else {"W1": np.zeros((2, 1)), "b1": np.zeros(1)}
class GradsAsList(OnlyGrads):
    def loss(self, X, y=None):
        return np.tanh(X @ self.params["W1"]) if y is None else (0.0, [np.zeros((2, 1)), np.zeros(1)])
'''


@pytest.mark.parametrize("spec, args, message", [
    ("missing.py:Net", [], "missing.py: No such file or directory"),
    ("bad.py:Missing", [], "bad.py defines no Missing() to build the model"),
    ("bad.py:Raises", [], "bad.py:Raises: Raises() raised RuntimeError: no weights yet"),
    ("bad.py:Unchained", [],
     "the parameters do not form a chain of layers from 2 inputs: W1 (2, 3), b1 (3,), W2 (4, 1)"),
    ("bad.py:Shape", ["--activations", ""], "the gradient of W1 has shape (5, 5), not (2, 1) like W1"),
    ("bad.py:Shape", [], "the model has 0 hidden layer(s) (2-1) but --activations tanh,sigmoid names 2"),
    ("bad.py:Neither", [], "Neither is neither module style"),
    ("bad.py", [], "bad.py: give FILE.py:NAME or MODULE:NAME"),
    ("bad.py:OnlyGrads", ["--activations", ""], "loss(X, y) returned dict: it must return (loss, grads), grads a dict "
                                                "keyed as params (W1, b1)"),
    ("bad.py:GradsAsList", ["--activations", ""], "loss(X, y) returned (float, list): it must return (loss, grads)"),
    (".:Net", [], ".: Is a directory; give FILE.py:NAME"),
    ("bad.py:Shape", ["--activations", "leaky_relu"], "--activations leaky_relu: must be names from tanh, sigmoid, "
     "relu, linear, elu, selu, softplus, softsign, or one you add (docs/article.md: How to add an activation)"),
    ("exits.py:build", [], 'exits.py called sys.exit(0) while loading: the checker imports it to call build(); put '
                           'its script code under if __name__ == "__main__":'),
])
def test_a_model_that_cannot_be_checked_is_one_error_line(spec, args, message, tmp_path, capsys, monkeypatch):
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "exits.py").write_text("import sys\nfrom learners import ModuleNet\n\n\ndef build():\n"
                                       "    return ModuleNet([2, 3, 1], ('tanh', 'tanh'))\n\n\nsys.exit(0)\n")
    monkeypatch.chdir(tmp_path)
    assert refused([spec, *args], capsys, tmp_path, main).startswith(message)


class Exits(ModuleNet):
    def backward(self, dy_pred):
        raise SystemExit(3)


class DictOfValues(ModuleNet):
    r"""named_parameters() as a dict of objects holding .value and a read-only .grad."""

    def named_parameters(self):
        return {name: types.SimpleNamespace(value=p.data, grad=p.grad) for name, p in super().named_parameters()}


def test_a_sys_exit_in_the_model_is_the_learner_s_and_other_parameter_holders_are_read():
    verdict = check(Exits([2, 3, 1], ("tanh", "tanh")), activations=("tanh",))
    assert not verdict.correct and verdict.first_wrong["what"].startswith("your model called sys.exit(3) at ")
    assert "ends the program" in verdict.first_wrong["hint"]
    assert check(DictOfValues([2, 3, 1], ("tanh", "tanh")), activations=("tanh",)).correct


def test_the_readme_s_example_prints_what_the_readme_shows(tmp_path):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Check your own backprop")[1]
    (tmp_path / "mine.py").write_text(re.search(r"```python\n(.*?)```", section, re.S).group(1))
    command, *shown = re.search(r"```\n\$ (.*?)```", section, re.S).group(1).strip().split("\n")
    done = subprocess.run([sys.executable, *command.split("#")[0].split()[1:]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)                         # the command itself, python -m included
    assert done.returncode == 1 and "exit status 1" in command and done.stderr == ""
    assert done.stdout.rstrip().split("\n")[-len(shown) + 1:] == shown[1:]       # after the "..."


class SummedLoss(Net):
    r"""cs231n style, the loss summed where it should be a mean (its gradients right)."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result if y is None else (result[0] * y.size, result[1])


class Broken(ModuleNet):
    def backward(self, dy_pred):
        raise NotImplementedError("write backward")


def test_what_the_review_of_a_learner_found_is_said_plainly():
    verdict = check(SummedLoss(*ARTICLE))
    assert verdict.first_wrong["what"].startswith("the loss value")
    assert "the 1/N forgotten" in verdict.first_wrong["hint"]
    verdict = check(Broken(*ARTICLE))
    assert verdict.first_wrong["what"].startswith("your model raised NotImplementedError at ")
    assert "test_check.py:" in verdict.first_wrong["what"]
    assert ', in backward: raise NotImplementedError("write backward")' in verdict.first_wrong["what"]
    assert "still raises NotImplementedError" in verdict.first_wrong["hint"]
    assert check(Net([2, 3, 1], ("relu", "tanh")), activations="relu").correct   # as the command line writes it
    with pytest.raises(ValueError, match=r"ModuleNet is a class: pass the model it builds, ModuleNet\(\)"):
        check(ModuleNet)
    with pytest.raises(ValueError, match=r"--loss mse takes 1 \(--loss cross-entropy takes 2\)"):
        check(Net([2, 3, 2], ("tanh", "linear")), activations=["tanh"])



class DividedBy15(Net):
    r"""cs231n style, the loss gradient's 1/N written as the article's batch size, 15."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result if y is None else (result[0], {k: g * len(y) / 15 for k, g in result[1].items()})


def test_a_gradient_divided_by_a_hard_coded_batch_size_is_wrong_on_the_last_batch_of_10():
    verdict = check(DividedBy15(*ARTICLE))
    assert not verdict.correct and verdict.first_wrong["batch"] == "random weights (10 rows)"
    assert [row["gradients"] for row in verdict.rows] == ["ok", "WRONG", "WRONG", "WRONG"]


def test_a_batch_larger_than_the_data_is_one_error_line(capsys, tmp_path):
    (tmp_path / "mine.py").write_text("from learners import Net\n\n\ndef build():\n"
                                      "    return Net([2, 3, 1], ('tanh', 'tanh'))\n")
    line = refused([f"{tmp_path / 'mine.py'}:build", "--activations", "tanh", "--batch-size", "1000"], capsys,
                   tmp_path, main)
    assert line == ("--batch-size 1000: must be an integer in [1, 250], the article's training points the checker's "
                    "batches are drawn from")


@pytest.mark.parametrize("learner", [Float32Net, AttributeNet, FlatOutputNet, FlatOutputModuleNet],
                         ids=["float32", "weights read from attributes", "outputs (B,)", "module outputs (B,)"])
def test_a_correct_network_written_another_way_is_correct(learner):
    verdict = check(learner(*ARTICLE))
    assert verdict.correct and all(row["outputs"] in ("ok", "-") for row in verdict.rows), str(verdict)
    assert ("float32 (held to float32's tolerance" in verdict.model) == (learner is Float32Net)


@pytest.mark.parametrize("learner, layout", [(InOutModuleNet, "(in, out)"), (Net, "(in, out)"),
                                             (ModuleNet, "(out, in)")])
def test_square_weights_are_read_the_way_the_outputs_match(learner, layout):
    sizes, activations = [2, 2, 2], ("tanh", "linear")     # every weight 2 x 2: both readings chain
    verdict = check(learner(sizes, activations, "cross-entropy") if learner is Net else learner(sizes, activations),
                    activations=("tanh",), loss="cross-entropy")
    assert verdict.correct, str(verdict)
    assert f"weights {layout}; square weights read so because your outputs match that reading" in verdict.model


def test_a_stable_bce_from_the_logit_is_correct_where_bceloss_clamps():
    model = StableBCENet([2, 8, 1], ("tanh", "sigmoid"))
    model.params = {name: 20 * value for name, value in model.params.items()}    # its own outputs saturate
    verdict = check(model, activations=("tanh",), loss="bce")
    assert verdict.correct, str(verdict)


@pytest.mark.parametrize("model, parameter, hint", [
    (lambda: WrongSigmoidNet(*ARTICLE), "W2", "layer 2's sigmoid derivative written a (1 + a)"),
    (lambda: KeptGradsNet(*ARTICLE), "W3", "your gradients accumulate across calls"),
    (lambda: KeptGradsModuleNet(*ARTICLE), "fc3.weight", "your gradients accumulate across calls"),
    (lambda: BiasShapeNet(*ARTICLE, "sum()"), "b1", "db = dz.sum() adds up every axis"),
    (lambda: BiasShapeNet(*ARTICLE, "keepdims"), "b1", "db keeps the batch axis (keepdims=True)"),
    (lambda: BiasShapeNet(*ARTICLE, "mean"), "b1", "db averaged over the batch"),
], ids=["sigmoid' a (1 + a)", "+= into kept grads", "+= into kept grads, module", "db sum()", "db keepdims",
        "db mean"])
def test_each_mistake_learners_make_is_named_at_its_parameter(model, parameter, hint):
    verdict = check(model())
    assert not verdict.correct and verdict.first_wrong["parameter"] == parameter, verdict.first_wrong
    assert verdict.first_wrong["hint"].startswith(hint), verdict.first_wrong["hint"]


@pytest.mark.parametrize("learner, layout", [(WeightsFirstNet, "(in, out)"), (RowBiasNet, "(in, out)"),
                                             (ColumnsNet, "(out, in)")],
                         ids=["weights first", "biases (1, H)", "deeplearning.ai's columns"])
def test_a_correct_network_in_another_layout_is_correct(learner, layout):
    verdict = check(learner(*ARTICLE))
    assert verdict.correct, str(verdict)
    assert f"weights {layout}" in verdict.model


@pytest.mark.parametrize("half", [False, True], ids=["reg sum(W^2)", "0.5 reg sum(W^2)"])
def test_a_loss_with_cs231n_s_l2_term_is_checked_with_it(half, capsys, tmp_path):
    assert check(L2Net(*ARTICLE, half=half)).correct                       # the model's own reg
    assert check(L2Net(*ARTICLE, reg=0.0, half=half), l2=0.0).correct
    verdict = check(L2Net(*ARTICLE, half=half, forget=True))
    assert not verdict.correct and verdict.first_wrong["parameter"] == "W3"
    assert "L2 term 0.1 * sum(W^2)" in verdict.model


@pytest.mark.parametrize("make", [
    lambda ps: manual.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.03),
    lambda ps: manual.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: manual.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: manual.AdamW(ps, lr=0.01, weight_decay=0.1),
], ids=["momentum", "Nesterov", "Adam (amsgrad)", "AdamW"])
def test_the_project_s_optimizers_are_checked_as_torch_s_step_after_step(make):
    model = ModuleNet(*ARTICLE)
    verdict = check(model, optimizer=make([p for _, p in model.named_parameters()]))
    assert verdict.correct and [row["update"] for row in verdict.rows] == ["ok"] * 4, str(verdict)


def test_a_momentum_step_without_its_weight_decay_is_wrong_with_where_it_is_written(monkeypatch):
    monkeypatch.setattr(manual.Optimizer, "apply_weight_decay", lambda self, p: p.grad)     # the decay forgotten
    model = ModuleNet(*ARTICLE)
    verdict = check(model, optimizer=manual.SGD([p for _, p in model.named_parameters()], lr=0.1, momentum=0.9,
                                                weight_decay=0.03))
    assert not verdict.correct and verdict.first_wrong["parameter"] == "fc3.weight"
    assert verdict.first_wrong["what"] == ("the step p_new - p of fc3.weight by your optimizer (torch.optim.SGD: "
                                           "lr 0.1, momentum 0.9, dampening 0.0, weight_decay 0.03, nesterov False)")
    assert verdict.first_wrong["hint"].startswith("docs/optimizers.md writes this optimizer's update")


def test_an_optimizer_the_checker_does_not_know_is_one_line():
    class RMSprop:
        lr = 0.01
    with pytest.raises(ValueError, match="the optimizer RMSprop: the checker compares SGD"):
        check(ModuleNet(*ARTICLE), optimizer=RMSprop())


def test_the_catalogue_of_classic_mistakes_is_detected_named_and_no_correct_network_is_wrong():
    from compare import catalogue
    from compare.learner import Learner
    rows, correct = catalogue.measure(check, lambda model: Learner(model).names)
    found = [result for _, styles in rows for result in styles.values()]
    assert len(rows) >= 30 and len({style for _, styles in rows for style in styles}) >= 6
    assert all(detected and parameter for detected, parameter, _ in found), [
        (mistake.name, style) for mistake, styles in rows for style, result in styles.items() if not all(result[:2])]
    assert sum(named for _, _, named in found) >= 0.9 * len(found)
    assert all(correct.values()), correct


def test_python_dash_m_compare_check_catalogue_prints_the_table_its_page_shows(capsys):
    status, out, _ = run_main(main, ["--catalogue"], capsys)
    assert status == 0 and "\nmistake " in out and "correct networks: 8 of 8 CORRECT" in out
    page = (Path(__file__).resolve().parents[1] / "docs" / "tools" / "catalogue.md").read_text()
    assert f"```\n{out}```" in page, "docs/tools/catalogue.md does not show what --catalogue prints"


class ListedNet(ModuleNet):
    r"""A Keras-like network: ``params()`` and ``grads()``, two lists of arrays, beside forward and backward."""

    def params(self):
        return [p.data for _, p in ModuleNet.named_parameters(self)]

    def grads(self):
        return [p.grad for _, p in ModuleNet.named_parameters(self)]

    named_parameters = None


class ArrayParameters(ModuleNet):
    def named_parameters(self):
        return [(name, p.data) for name, p in super().named_parameters()]


def test_params_and_grads_lists_are_read_and_bare_arrays_are_one_line():
    assert check(ListedNet(*ARTICLE)).correct
    with pytest.raises(ValueError, match=r"^named_parameters\(\) gave numpy arrays: give objects holding each array"):
        check(ArrayParameters(*ARTICLE))


class NoScores(Net):
    r"""cs231n's skeleton: ``loss(X)`` still returns None (scores not written yet)."""

    def loss(self, X, y=None):
        return None if y is None else super().loss(X, y)


class CostArray(Net):
    r"""deeplearning.ai's cost without np.squeeze: an array of shape (1, 1)."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result if y is None else (np.array([[result[0]]]), result[1])


class FlatLabels(Net):
    r"""Outputs of shape (B,), and labels used as given: it needs them of shape (B,)."""

    def loss(self, X, y=None):
        if y is None:
            return super().loss(X).ravel()
        assert y.ndim == 1, "labels of shape (B,)"
        return super().loss(X, y.reshape(-1, 1))


class ReadOnlyGrad(ModuleNet):
    r"""Parameters whose ``.grad`` is a read-only property over the array the layer keeps."""

    def named_parameters(self):
        class Held:
            def __init__(self, p):
                self.p = p
            data = property(lambda self: self.p.data)
            grad = property(lambda self: self.p.grad)
        return [(name, Held(p)) for name, p in super().named_parameters()]


@pytest.mark.parametrize("learner", [NoScores, CostArray, FlatLabels, ReadOnlyGrad],
                         ids=["loss(X) None", "cost (1, 1)", "labels (B,)", "read-only grad"])
def test_more_correct_networks_as_learners_write_them_are_correct(learner):
    assert check(learner(*ARTICLE)).correct


@pytest.mark.parametrize("written, hint", [
    ("no keepdims", "db lost its axis of 1: the bias has shape (3, 1) and b -= lr * db cannot write db's (3,)"),
    ("axis 0", "db summed over the units, not the examples"),
])
def test_deeplearning_ai_s_bias_mistakes_are_named_for_its_columns(written, hint):
    class Mistaken(ColumnsNet):
        def loss(self, X, Y=None):
            result = super().loss(X, Y)
            if Y is None:
                return result
            grads = dict(result[1])
            db1 = grads["db1"]
            grads["db1"] = db1[:, 0] if written == "no keepdims" else np.full((1, X.shape[1]), db1.sum() / X.shape[1])
            return result[0], grads
    verdict = check(Mistaken(*ARTICLE))
    assert verdict.first_wrong["parameter"] == "b1" and verdict.first_wrong["hint"].startswith(hint)


def test_optimizers_of_other_kinds_and_names_are_read_or_refused():
    class Adamax:
        lr = 0.01
    with pytest.raises(ValueError, match="the optimizer Adamax: the checker compares SGD"):
        check(ModuleNet(*ARTICLE), optimizer=Adamax())
    model = ModuleNet(*ARTICLE)
    adam = manual.Adam([p for _, p in model.named_parameters()], lr=0.01, betas=(0.8, 0.999))
    adam.beta1, adam.beta2 = adam.betas                      # cs231n's names beside torch's
    del adam.betas
    adam.betas = (0.8, 0.999)
    assert check(model, optimizer=adam).correct


def test_a_model_called_in_a_way_it_does_not_take_is_one_line():
    class NoBackward(manual.MSELoss):
        backward = None
    with pytest.raises(ValueError, match="calling your model raised TypeError before any line of yours ran"):
        check(ModuleNet(*ARTICLE), criterion=NoBackward())


class PerElement(Net):
    r"""Cross-entropy whose dL/dlogits is divided by d.size, N x classes, where the mean is over N."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result if y is None else (result[0], {name: g / 2 for name, g in result[1].items()})


class LostGradient(ModuleNet):
    r"""A backward that leaves the first layer's weight gradient in an array .grad does not show."""

    def backward(self, dy_pred):
        super().backward(dy_pred)
        self.layers[0].weight.grad = np.zeros_like(self.layers[0].weight.data)


def test_a_gradient_over_every_element_and_one_that_is_lost_are_named():
    verdict = check(PerElement([2, 3, 2], ("tanh", "linear"), "cross-entropy"), activations=("tanh",),
                    loss="cross-entropy")
    assert verdict.first_wrong["hint"].startswith("autograd's over the 2 outputs per example")
    verdict = check(LostGradient(*ARTICLE))
    assert verdict.first_wrong["parameter"] == "fc1.weight"
    assert verdict.first_wrong["hint"].startswith("yours is all zeros")


class PerExampleL2(L2Net):
    r"""deeplearning.ai's L2: ``lambd / (2 m) * sum(W^2)``, its gradient ``(lambd / m) W`` (``double``: twice it)."""

    def __init__(self, *args, double=False, **kwargs):
        super().__init__(*args, reg=0.0, **kwargs)
        self.lambd, self.double = 0.7, double

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        m, weights = len(y), {name: W for name, W in self.params.items() if name.startswith("W")}
        value = result[0] + self.lambd / (2 * m) * sum((W * W).sum() for W in weights.values())
        grads = {name: g + (2 if self.double else 1) * self.lambd / m * weights.get(name, 0)
                 for name, g in result[1].items()}
        return value, grads


def test_deeplearning_ai_s_l2_over_2m_is_read_and_a_doubled_gradient_named():
    assert check(PerExampleL2(*ARTICLE)).correct                   # the model's own lambd
    verdict = check(PerExampleL2(*ARTICLE, double=True))
    assert verdict.first_wrong["hint"] == "the L2 term's gradient is twice what the term gives: dW += (lambd / m) W"


class L2OnBiases(L2Net):
    r"""An L2 term over the biases as well, in the loss and its gradient."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = {name: value + 0.3 if name.startswith("b") else value for name, value in self.params.items()}

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        biases = {name: b for name, b in self.params.items() if name.startswith("b")}
        return (result[0] + self.reg * sum((b * b).sum() for b in biases.values()),
                {name: g + (2 * self.reg * biases[name] if name in biases else 0) for name, g in result[1].items()})


def test_an_l2_term_over_the_biases_too_is_named_at_the_loss():
    verdict = check(L2OnBiases(*ARTICLE))
    assert verdict.first_wrong["what"].startswith("the loss value")
    assert verdict.first_wrong["hint"].startswith("your L2 term adds the biases' squares too")


class RebindingSGD(manual.SGD):
    r"""SGD whose step binds p.data to a new array, where the model's layers compute with their own."""

    def step(self):
        for p in self.parameters_with_grad():
            p.data = p.data - self.lr * p.grad


class OwnArrays(ModuleNet):
    r"""Layers that compute with arrays of their own, handed out through parameters sharing them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for layer in self.layers:
            layer.W, layer.b = layer.weight.data, layer.bias.data

    def forward(self, X):
        for layer in self.layers:
            layer.weight.data, layer.bias.data = layer.W, layer.b          # what the layer itself computes with
        return super().forward(X)


def test_an_update_that_never_reaches_the_forward_pass_is_wrong():
    model = OwnArrays(*ARTICLE)
    verdict = check(model, optimizer=RebindingSGD([p for _, p in ModuleNet.named_parameters(model)], lr=0.1))
    assert not verdict.correct and verdict.first_wrong["hint"].startswith("the step rebinds p.data to a new array")
    model = OwnArrays(*ARTICLE)
    assert check(model, optimizer=manual.SGD([p for _, p in ModuleNet.named_parameters(model)], lr=0.1)).correct


class Accumulating(ModuleNet):
    r"""torch's way: backward adds each gradient into ``p.grad``; ``zero_grad()`` zeroes all but ``forgets``."""
    forgets = ()

    def backward(self, dy_pred):
        held = [p.grad.copy() for _, p in ModuleNet.named_parameters(self)]
        super().backward(dy_pred)
        for (_, p), before in zip(ModuleNet.named_parameters(self), held, strict=True):
            p.grad = before + p.grad

    def zero_grad(self):
        for name, p in ModuleNet.named_parameters(self):
            p.grad[...] = p.grad if name.endswith(self.forgets) else 0


class AccumulatingListed(Accumulating, ListedNet):
    r"""``params()`` and ``grads()``, its backward adding into the arrays ``grads()`` hands out."""


def test_gradients_added_into_what_nothing_zeroes_are_named_and_torch_s_accumulation_is_correct():
    assert check(Accumulating(*ARTICLE)).correct                           # its own zero_grad() zeroes all
    model = Accumulating(*ARTICLE)
    model.forgets = "bias"
    found = check(model).first_wrong
    assert found["parameter"] == "fc3.bias" and "your zero_grad(), called before each call" in found["hint"]
    model = AccumulatingListed(*ARTICLE)
    model.zero_grad = None                                                  # nothing zeroes grads()'s arrays
    found = check(model).first_wrong
    assert "arrays the model keeps and hands out, and nothing zeroes them" in found["hint"], found
    del model.zero_grad
    assert check(model).correct


@pytest.mark.parametrize("mistake", ["bias not summed", "sum"])
def test_with_batches_of_1_row_a_batch_of_several_rows_is_still_checked(mistake):
    verdict = check(Net(*ARTICLE, mistake=mistake, at=3), batch_size=1)
    assert not verdict.correct and verdict.rows[1] == {**verdict.rows[1], "batch": "random weights (10 rows)",
                                                       "gradients": "WRONG"}


class Float32ModuleNet(ModuleNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for _, p in self.named_parameters():
            p.data, p.grad = p.data.astype(np.float32), p.grad.astype(np.float32)

    def forward(self, X):
        return super().forward(X.astype(np.float32))


class MySGD:
    r"""SGD as learners write it, its decay named ``wd``; ``forgets`` leaves the decay out of the step."""

    def __init__(self, params, lr, wd, forgets=False):
        self.params, self.lr, self.wd, self.forgets = params, lr, wd, forgets

    def step(self):
        for p in self.params:
            p.data -= self.lr * (p.grad + (0 if self.forgets else self.wd) * p.data)


@pytest.mark.parametrize("net", [ModuleNet, Float32ModuleNet])
def test_a_weight_decay_of_1e_4_left_out_of_the_step_is_wrong_in_float32_too(net):
    model = net(*ARTICLE)
    params = [p for _, p in model.named_parameters()]
    assert check(model, optimizer=MySGD(params, lr=0.03, wd=1e-4)).correct
    found = check(model, optimizer=MySGD(params, lr=0.03, wd=1e-4, forgets=True)).first_wrong
    assert found["what"].startswith("the step p_new - p of fc3.weight by your optimizer (torch.optim.SGD: lr 0.03")
    assert found["hint"].startswith("the weight decay is missing"), found


class SymmetricInOut(InOutModuleNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for layer in self.layers:
            layer.weight.data = layer.weight.data + layer.weight.data.T


class CachedParameter:
    r"""A parameter whose ``data`` setter keeps the copy its layer computes with."""

    def __init__(self, data):
        self.data, self.grad = data, np.zeros_like(data)

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        self._data, self.used = value, np.array(value)


class CachingNet(ModuleNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for layer in self.layers:
            layer.weight, layer.bias = CachedParameter(layer.weight.data), CachedParameter(layer.bias.data)

    def forward(self, X):
        for layer in self.layers:
            layer.x, layer.z = X, X @ layer.weight.used.T + layer.bias.used
            X = layer.a = layer.f(layer.z)
        return X


class OptimizerReg(ModuleNet):
    reg = 0.5                                    # its optimizer's business: the loss has no L2 term


class ScalarOutputBias(Net):
    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result if y is None else (result[0], {**result[1], "b3": result[1]["b3"].sum()})   # () for 1 unit


class FlatRowBiasGrads(RowBiasNet):
    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result if y is None else (result[0], {name: g.ravel() if name.startswith("b") else g
                                                     for name, g in result[1].items()})


@pytest.mark.parametrize("learner", [SymmetricInOut, CachingNet, OptimizerReg, ScalarOutputBias, FlatRowBiasGrads],
                         ids=["square symmetric (in, out) weights", "a data setter's cache", "reg of its optimizer",
                              "db = dz.sum() of 1 unit", "(n,) gradients of (1, n) biases"])
def test_correct_networks_the_review_found_called_wrong_are_correct(learner):
    if learner is SymmetricInOut:                           # every weight 2 x 2: both readings chain
        verdict = check(learner([2, 2, 2], ("tanh", "linear")), activations=("tanh",), loss="cross-entropy")
    else:
        verdict = check(learner(*ARTICLE))
    assert verdict.correct, str(verdict)


class RowBiasNotSummed(RowBiasNet):
    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result if y is None else (result[0], {**result[1], "b2": np.ones((len(X), 1)) * result[1]["b2"]})


class SumIntoEvery(Net):
    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result if y is None else (result[0], {**result[1], "b1": np.full(3, result[1]["b1"].sum())})


class DecayInBackward(ModuleNet):
    def backward(self, dy_pred):
        super().backward(dy_pred)
        for layer in self.layers:
            layer.weight.grad = layer.weight.grad + 0.03 * layer.weight.data


class L2OutOfTheValue(L2Net):
    def loss(self, X, y=None):
        result = super().loss(X, y)
        weights = [W for name, W in self.params.items() if name.startswith("W")]
        return result if y is None else (result[0] - self.reg * sum((W * W).sum() for W in weights), result[1])


@pytest.mark.parametrize("learner, parameter, hint", [
    (RowBiasNotSummed, "b2", "the bias gradient is not summed over the batch"),
    (SumIntoEvery, "b1", "every element of db holds dz.sum()"),
    (DecayInBackward, "fc3.weight", "yours is autograd's + 0.03 W: weight decay put into the backward pass"),
    (L2OutOfTheValue, None, "your loss value leaves out the L2 term"),
], ids=["(1, n) bias not summed", "dz.sum() into every element", "decay in backward", "L2 out of the value"])
def test_mistakes_the_review_found_misnamed_are_named(learner, parameter, hint):
    found = check(learner(*ARTICLE)).first_wrong
    assert found.get("parameter") == parameter and found["hint"].startswith(hint), found


class NoReturn(ModuleNet):
    def forward(self, X):
        super().forward(X)


class RaisingParameters(ModuleNet):
    def named_parameters(self):
        raise ValueError("not ready")


class TextReg(Net):
    reg = "0.1"


class NoneMomentumSGD:
    lr, momentum = 0.1, None

    def step(self):
        pass


@pytest.mark.parametrize("model, optimizer, message", [
    (NoReturn, None, r"^forward\(X\) returned None: it must be an array of numbers$"),
    (RaisingParameters, None, r"^your model raised ValueError at .*test_check.py:\d+, in named_parameters: "
                              r"raise ValueError\(\"not ready\"\): not ready$"),
    (TextReg, None, r"^your model's reg \(or lambd\) is '0.1': the L2 term's strength must be a finite number"),
    (ModuleNet, NoneMomentumSGD(), r"^the optimizer NoneMomentumSGD: torch.optim.SGD refuses its settings "
                                   r"\(lr 0.1, momentum None\)"),
], ids=["forward returns None", "named_parameters raises", "reg a string", "momentum None"])
def test_what_made_tracebacks_is_one_line_naming_the_learner_s_code(model, optimizer, message):
    with pytest.raises(ValueError, match=message):
        check(model(*ARTICLE), optimizer=optimizer)


class LabelsBackward(ModuleNet):
    r"""``backward(y)``: its own MSE gradient from the labels, where it is given dL/dy_pred."""

    def backward(self, y):
        super().backward(2 * (self.layers[-1].a - y) / y.size)


def test_a_backward_written_for_the_labels_is_named():
    found = check(LabelsBackward(*ARTICLE)).first_wrong
    assert found["parameter"] == "fc3.weight" and found["hint"].startswith("your backward takes the labels y"), found


class RebindingMySGD(MySGD):
    r"""A step that binds ``p.data`` to a new array where the model reads the old one through a property."""

    def step(self):
        for p in self.params:
            p.moved = p.data - self.lr * p.grad


def test_a_step_that_leaves_the_parameters_as_they_were_is_named():
    model = ModuleNet(*ARTICLE)
    found = check(model, optimizer=RebindingMySGD([p for _, p in model.named_parameters()], lr=0.1, wd=0)).first_wrong
    assert found["yours"] == 0 and found["hint"].startswith("your step left the parameter as it was"), found


def test_float32_rounding_of_a_saturated_tanh_is_not_a_mistake():
    verdict = check(Float32ModuleNet(*ARTICLE), seed=5)            # 1 - a^2 of a saturated a loses digits in float32
    assert verdict.correct and "plus 4 times how far torch's own float32 computation lands" in verdict.model, verdict


class SumWithL2(L2Net):
    def __init__(self, *args, mistake=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.mistake = mistake


class InnerSignFlipped(ModuleNet):
    def backward(self, dy_pred):
        super().backward(dy_pred)
        self.layers[0].weight.grad = -self.layers[0].weight.grad


class LambdNotOverM(PerExampleL2):
    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result if y is None else (result[0], {name: g + (len(X) - 1) * self.lambd / len(X) * self.params[name]
                                                     if name.startswith("W") else g for name, g in result[1].items()})


@pytest.mark.parametrize("make, parameter, hint", [
    (lambda: SumWithL2(*ARTICLE, mistake="sum"), "W3", "the batch size times autograd's"),
    (lambda: SumWithL2(*ARTICLE, mistake="half"), "W3", "half of autograd's"),
    (lambda: InnerSignFlipped(*ARTICLE), "fc1.weight", "yours is -1 times autograd's, where the layers above"),
    (lambda: LambdNotOverM(*ARTICLE), "W3", "the L2 term's gradient is not divided by m"),
    (lambda: RowBiasNotSummed(*ARTICLE), "b2", "the bias gradient is not summed over the batch: db = dz.sum(axis=0, "
                                                "keepdims=True)"),
], ids=["1/N with L2", "half with L2", "one layer's sign", "lambd not over m", "(1, n) bias: keepdims"])
def test_mistakes_the_second_review_found_misnamed_are_named(make, parameter, hint):
    found = check(make()).first_wrong
    assert found.get("parameter") == parameter and found["hint"].startswith(hint), found


class GradNone(ModuleNet):
    def backward(self, dy_pred):
        super().backward(dy_pred)
        self.layers[0].bias.grad = None


class ForwardWithCache(ModuleNet):
    def forward(self, X):
        return super().forward(X), {"X": X}


class NaNWeights(ModuleNet):
    def __init__(self, *args):
        super().__init__(*args)
        self.layers[1].weight.data[0, 0] = np.nan


@pytest.mark.parametrize("model, message", [
    (GradNone, r"^after backward, fc1.bias's .grad is None: it must be an array of numbers$"),
    (ForwardWithCache, r"^forward\(X\) returned a tuple of 2: it must be an array of numbers$"),
    (NaNWeights, r"^your model's own weights hold NaN or inf: fc2.weight$"),
], ids=["grad None", "forward (A, cache)", "NaN weights"])
def test_what_the_second_review_found_misread_is_one_line(model, message):
    with pytest.raises(ValueError, match=message):
        check(model(*ARTICLE))
    with pytest.raises(ValueError, match=r"^activation 'nope': one of "):
        check(ModuleNet(*ARTICLE), activations=("tanh", "nope"))


class MyAdamW(manual.Adam):
    r"""An AdamW built on an Adam: Adam's own weight_decay 0, its decoupled decay kept as ``wd``."""

    def __init__(self, params, lr, wd):
        super().__init__(params, lr=lr)
        self.wd = wd

    def step(self):
        for p in self.params:
            p.data -= self.lr * self.wd * p.data
        super().step()


class FlippedDecaySGD(MySGD):
    def step(self):
        for p in self.params:
            p.data -= self.lr * (p.grad - self.wd * p.data)


def test_an_adamw_on_an_adam_is_read_and_a_decay_of_the_wrong_sign_named():
    model = ModuleNet(*ARTICLE)
    params = [p for _, p in model.named_parameters()]
    assert check(model, optimizer=MyAdamW(params, lr=0.01, wd=0.01)).correct
    found = check(model, optimizer=FlippedDecaySGD(params, lr=0.03, wd=1e-2)).first_wrong
    assert found["hint"].startswith("the weight decay's sign is flipped"), found
