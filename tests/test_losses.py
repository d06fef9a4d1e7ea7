r"""Every loss of manual/loss.py against torch's in float64 and against finite differences.

For any batch, any targets and inputs up to +-1e4 (where a naive ``log(sigmoid(z))`` or ``exp(z)``
overflows), both reductions: the value and ``backward()`` equal torch's to 1e-12. Each planted bug
in a backward (a missing 1/N, ``sigmoid(z) + y``, a softmax without the max shift, ...) fails that
check, and makes a lockstep run name the loss's gradient as the first differing quantity.
"""
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import manual
import manual.__main__
import torch_impl.__main__
from compare.core import Config, Source, run
from manual.loss import sigmoid

from conftest import make_pair, refused

LOSSES = {"mse": "MSELoss", "l1": "L1Loss", "bce": "BCELoss", "bce-logits": "BCEWithLogitsLoss",
          "cross-entropy": "CrossEntropyLoss"}
LARGE = 1e4


def with_torch(name, y_pred, y, reduction="mean"):
    r"""``(value, dL/dy_pred)`` of torch's loss ``name`` (a class name of torch.nn) in float64."""
    t_pred = torch.tensor(y_pred, requires_grad=True)
    value = getattr(torch.nn, name)(reduction=reduction)(t_pred, torch.tensor(y))
    value.backward()
    return value.item(), t_pred.grad.numpy()


def assert_equals_torch(name, y_pred, y, reduction="mean"):
    criterion = getattr(manual, name)(reduction=reduction)
    value = criterion(y_pred, y)
    gradient = criterion.backward()
    expected_value, expected_gradient = with_torch(name, y_pred, y, reduction)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12, atol=1e-12, err_msg=f"{name} value")
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-12, atol=1e-12, err_msg=f"{name} gradient")
    assert gradient.shape == y_pred.shape and gradient.dtype == y_pred.dtype


def batch(draw, low, high, columns=1):
    n = draw(st.integers(1, 20))
    return draw(arrays(np.float64, (n, columns), elements=st.floats(low, high, allow_nan=False))), n


binary = st.integers(0, 1).map(float)
reductions = st.sampled_from(["mean", "sum"])


@st.composite
def real_batches(draw):
    y_pred, n = batch(draw, -LARGE, LARGE)
    return y_pred, draw(arrays(np.float64, (n, 1), elements=st.floats(-LARGE, LARGE)))


@st.composite
def logit_batches(draw):
    z, n = batch(draw, -LARGE, LARGE)
    return z, draw(arrays(np.float64, (n, 1), elements=binary))


@st.composite
def probability_batches(draw):
    p, n = batch(draw, 0.0, 1.0)
    return p, draw(arrays(np.float64, (n, 1), elements=st.floats(0.0, 1.0)))


@st.composite
def class_batches(draw):
    classes = draw(st.integers(2, 5))
    z, n = batch(draw, -LARGE, LARGE, classes)
    return z, draw(arrays(np.int64, (n,), elements=st.integers(0, classes - 1)))


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
@given(data=real_batches(), reduction=reductions)
def test_regression_losses_equal_torch(name, data, reduction):
    assert_equals_torch(name, *data, reduction)


@given(data=logit_batches(), reduction=reductions)
def test_bce_with_logits_equals_torch_for_logits_up_to_1e4(data, reduction):
    assert_equals_torch("BCEWithLogitsLoss", *data, reduction)


@given(data=probability_batches(), reduction=reductions)
def test_bce_equals_torch_on_any_probability_clamps_and_all(data, reduction):
    assert_equals_torch("BCELoss", *data, reduction)


@given(data=class_batches(), reduction=reductions)
def test_cross_entropy_equals_torch_for_logits_up_to_1e4(data, reduction):
    assert_equals_torch("CrossEntropyLoss", *data, reduction)


def test_the_fused_forms_stay_finite_where_the_naive_ones_overflow():
    z = np.array([[-LARGE], [LARGE], [-800.0], [800.0]])
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    with np.errstate(over="ignore", divide="ignore"):
        naive = -(y * np.log(1 / (1 + np.exp(-z))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-z))))
    assert not np.isfinite(naive).all()                     # log(0): the naive formula's infinity
    criterion = manual.BCEWithLogitsLoss(reduction="sum")
    assert criterion(z, y) == pytest.approx(2 * LARGE + 2 * 800)    # each term is |z| here
    np.testing.assert_array_equal(criterion.backward(), [[-1.0], [1.0], [-1.0], [1.0]])
    logits = np.array([[LARGE, 0.0], [0.0, -LARGE]])
    ce = manual.CrossEntropyLoss(reduction="sum")
    assert ce(logits, np.array([1, 1])) == pytest.approx(2 * LARGE)
    np.testing.assert_array_equal(ce.backward(), [[1.0, -1.0], [1.0, -1.0]])


def central_differences(criterion, y_pred, y, h=1e-6):
    grad = np.zeros_like(y_pred)
    for i in np.ndindex(y_pred.shape):
        plus, minus = y_pred.copy(), y_pred.copy()
        plus[i] += h
        minus[i] -= h
        grad[i] = (criterion(plus, y) - criterion(minus, y)) / (2 * h)
    return grad


@pytest.mark.parametrize("loss", LOSSES)
def test_each_gradient_equals_finite_differences(loss, rng):
    y_pred = rng.uniform(0.1, 0.9, (6, 2 if loss == "cross-entropy" else 1))     # no kink, no clamp
    y = (rng.integers(0, 2, 6) if loss == "cross-entropy" else
         np.where(rng.random((6, 1)) < 0.5, 0.0, 1.0) if loss.startswith("bce") else rng.uniform(-1, 1, (6, 1)))
    criterion = getattr(manual, LOSSES[loss])()
    criterion(y_pred, y)
    np.testing.assert_allclose(criterion.backward(), central_differences(criterion, y_pred, y), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("call, message", [
    (lambda: manual.MSELoss(reduction="avg"), "avg is not a valid value for reduction"),
    (lambda: manual.L1Loss()(np.zeros((2, 1)), np.zeros(2)), r"must have the same shape"),
    (lambda: manual.BCELoss()(np.array([[1.5]]), np.array([[1.0]])), "all elements of input should be between 0 and 1"),
    (lambda: manual.BCELoss()(np.array([[0.5]]), np.array([[-1.0]])),
     "all elements of target should be between 0 and 1"),
    (lambda: manual.BCEWithLogitsLoss()(np.zeros((2, 1)), np.zeros(2)), "must have the same shape"),
    (lambda: manual.CrossEntropyLoss()(np.zeros((2, 2)), np.array([0, 2])), "Target 2 is out of bounds"),
    (lambda: manual.CrossEntropyLoss()(np.zeros((2, 2)), np.array([0.0, 1.0])), "class indices, integers"),
    (lambda: manual.CrossEntropyLoss()(np.zeros((2, 2)), np.array([[0], [1]])), "class indices, integers"),
    (lambda: manual.CrossEntropyLoss()(np.zeros((3, 2)), np.array([0, 1])), "do not pair with 2 targets"),
])
def test_what_torch_refuses_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# Per loss: a planted bug in its backward, and the examples it shows on (inputs, targets).
PLANTED = {
    "mse: the 2 forgotten": ("mse", "MSELoss", lambda self: (self.y_pred - self.y) / self.n),
    "l1: no 1/N": ("l1", "L1Loss", lambda self: np.sign(self.y_pred - self.y)),
    "bce: dL/dp without its 1 / (p (1 - p))": ("bce", "BCELoss", lambda self: (self.y_pred - self.y) / self.n),
    "bce-logits: no 1/N": ("bce-logits", "BCEWithLogitsLoss", lambda self: sigmoid(self.y_pred) - self.y),
    "bce-logits: sigmoid(z) + y": ("bce-logits", "BCEWithLogitsLoss",
                                   lambda self: (sigmoid(self.y_pred) + self.y) / self.n),
    "cross-entropy: softmax without the max shift": (
        "cross-entropy", "CrossEntropyLoss",
        lambda self: (np.exp(self.y_pred) / np.exp(self.y_pred).sum(axis=1, keepdims=True)
                      - np.eye(self.y_pred.shape[1])[self.y]) / self.n),
}


@pytest.mark.parametrize("bug", PLANTED)
def test_a_planted_backward_bug_fails_the_comparison_with_torch(bug):
    loss, name, backward = PLANTED[bug]
    y_pred = np.array([[3e3, -2e3], [0.5, 0.25], [-700.0, 800.0]])[:, :2 if loss == "cross-entropy" else 1]
    y = np.array([0, 1, 1]) if loss == "cross-entropy" else np.array([[1.0], [0.0], [1.0]])
    if loss == "bce":
        y_pred = np.array([[0.0], [0.3], [1.0]])            # probabilities, saturated ones among them
    with mock.patch.object(getattr(manual, name), "backward", backward), np.errstate(all="ignore"):
        with pytest.raises(AssertionError):
            assert_equals_torch(name, y_pred, y)


@pytest.mark.parametrize("bug", PLANTED)
def test_a_planted_backward_bug_is_found_at_the_loss_gradient_by_the_lockstep(bug):
    loss, name, backward = PLANTED[bug]
    weights = None
    if "shift" in bug:        # softmax(z + 100) = softmax(z), but exp(z + 100) overflows float32
        model, _ = make_pair(Config(loss=loss))
        weights = {**model.state_dict(), "layer_out.bias": model.state_dict()["layer_out.bias"] + 100}
    with mock.patch.object(getattr(manual, name), "backward", backward), np.errstate(all="ignore"):
        result = run(Config(epochs=1, loss=loss), Source(Config(epochs=1, loss=loss), weights))
    assert result.verdict == "DISAGREE" and result.first_failure["quantity"] == "dL/dy_pred", result.first_failure
    assert "loss gradient" in result.first_failure["hint"]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_loss_trains_in_lockstep(loss, dtype):
    result = run(Config(epochs=2, loss=loss, dtype=dtype))
    assert result.verdict == "AGREE", result.first_failure
    assert result.settings["torch"]["loss"] == LOSSES[loss]
    outputs = 2 if loss == "cross-entropy" else 1
    assert result.settings["manual"]["layers"][-1][1:] == [outputs, manual.train.LOSSES[loss][1]]


def test_labels_and_predictions_follow_the_loss():
    y = np.array([[1.0], [-1.0]])
    assert manual.train.labels(y, "bce").tolist() == [[1.0], [0.0]]
    assert manual.train.labels(y, "cross-entropy").tolist() == [1, 0]
    assert manual.predict(np.array([[0.5], [0.51]]), manual.BCELoss()).tolist() == [[0.0], [1.0]]
    assert manual.predict(np.array([[0.0], [0.01]]), manual.BCEWithLogitsLoss()).tolist() == [[0.0], [1.0]]
    assert manual.predict(np.array([[1.0, 1.0], [0.0, 2.0]]), manual.CrossEntropyLoss()).tolist() == [0, 1]
    assert manual.predict(np.array([[0.0], [-0.01]]), manual.MSELoss()).tolist() == [[1.0], [-1.0]]


@pytest.mark.parametrize("args, message", [
    (["--loss", "bce", "--dataset", "reg-plane"], "--loss bce classifies: it does not apply to --dataset reg-plane"),
    (["--loss", "cross-entropy", "--rules", "playground"], "--loss cross-entropy classifies: it does not apply to "
                                                          "--rules playground"),
    (["--loss", "bce-logits", "--playground", "#dataset=circle", "--rules", "torch", "--export-torch", "out.py"],
     "--export-torch writes a Playground URL's set-up, its rules and its losses (mse and l1)"),
])
def test_a_loss_that_does_not_apply_is_one_error_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert refused(["--quiet", *args], capsys, tmp_path).startswith(message)


@pytest.mark.parametrize("script", [manual.__main__, torch_impl.__main__], ids=["manual", "torch_impl"])
def test_the_scripts_train_with_each_loss(script, capsys):
    for loss in LOSSES:
        assert script.main(["--loss", loss, "--epochs", "1"]) == 0
        assert capsys.readouterr().out.startswith("[Epoch   1/  1] loss: ")


@pytest.mark.parametrize("loss", ["mse", "l1", "bce", "bce-logits", "cross-entropy"])
def test_score_is_the_class_s_sign_on_both_sides(loss, rng):
    outputs = 2 if loss == "cross-entropy" else 1
    low, high = {"bce": (0.01, 0.99), "mse": (-1, 1), "l1": (-1, 1)}.get(loss, (-5, 5))    # the output's own range
    y_pred = rng.uniform(low, high, (40, outputs))
    criterion = manual.train.LOSSES[loss][0]()
    score = manual.train.score(y_pred, loss)
    torch_score = torch_impl.train.score(torch.from_numpy(y_pred), loss).numpy()
    np.testing.assert_allclose(score, torch_score, rtol=1e-15, atol=0)
    assert score.shape == (40, 1) and (np.abs(score) <= 1).all()
    classes = manual.predict(y_pred, criterion).reshape(-1, 1)              # +1/-1, 0/1 or class indices
    assert ((score >= 0) == (classes > 0)).all()                           # the sign is the class
