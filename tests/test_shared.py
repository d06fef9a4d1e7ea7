r"""What both sides share, checked against a reference neither side wrote.

``compare`` copies manual's initial weights into torch and feeds both sides the same data, so a bug
in how the weights are drawn, in an input feature, in how an option reaches the optimizers, in
``load_state_dict`` or in the loader would be shared and agree with itself. Each test here holds
one of them against torch's own ``nn.init`` / ``nn.Linear``, Playground's source, or plain
counting.
"""
import dataclasses
import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

import compare.core.pair
import compare.report
import manual
from compare.core import Config, Source, run
from compare.core.data import expand
from compare.core.pair import optimizers

ALPHA = 1e-6      # a correct initialisation fails a Kolmogorov-Smirnov test this rarely (and the draws are seeded)


def ks_distance(a, b):
    r"""The two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs of ``a`` and ``b``."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    grid = np.concatenate([a, b])
    return np.abs(np.searchsorted(a, grid, side="right") / a.size
                  - np.searchsorted(b, grid, side="right") / b.size).max()


def same_distribution(a, b):
    r"""Whether the samples ``a`` and ``b`` pass the two-sample KS test at level ``ALPHA``."""
    n, m = np.size(a), np.size(b)
    return ks_distance(a, b) <= math.sqrt(-math.log(ALPHA / 2) / 2) * math.sqrt((n + m) / (n * m))


def layer2(config, seed):
    r"""The hidden-to-hidden layer (``fan_in = hidden[0]``) of the run's network, drawn as the run draws it."""
    weights = Source(dataclasses.replace(config, seed=seed)).weights
    return weights["layer2.weight"], weights["layer2.bias"]


SIZES = st.tuples(st.integers(30, 80), st.integers(30, 80))


@given(SIZES, st.integers(0, 2**32 - 1))
def test_torch_default_init_is_nn_linear_s(sizes, seed):
    config = Config(dtype="float64", hidden=sizes, activations=("tanh", "tanh"), init="torch-default")
    weight, bias = layer2(config, seed)
    torch.manual_seed(seed)
    references = [torch.nn.Linear(*sizes, dtype=torch.float64) for _ in range(20)]   # torch's own draws
    assert same_distribution(weight, references[0].weight.detach().numpy())
    assert same_distribution(bias, np.concatenate([layer.bias.detach().numpy() for layer in references]))
    assert np.abs(weight).max() <= 1 / math.sqrt(sizes[0]) and np.abs(bias).max() <= 1 / math.sqrt(sizes[0])


@given(SIZES, st.integers(0, 2**32 - 1))
def test_xavier_init_is_torch_s_xavier_uniform_with_zero_biases(sizes, seed):
    weight, bias = layer2(Config(dtype="float64", hidden=sizes, activations=("tanh", "tanh")), seed)
    torch.manual_seed(seed)
    reference = torch.nn.init.xavier_uniform_(torch.empty(sizes[1], sizes[0], dtype=torch.float64))
    assert same_distribution(weight, reference.numpy())
    assert np.abs(weight).max() <= math.sqrt(6 / sum(sizes)) and not bias.any()


@given(SIZES, st.integers(0, 2**32 - 1))
def test_playground_init_is_math_random_minus_half_with_biases_0_1(sizes, seed):
    # Playground's nn.ts: new Link(...) has weight = Math.random() - 0.5; new Node(...) has bias = 0.1
    weight, bias = layer2(Config(dtype="float64", hidden=sizes, activations=("tanh", "tanh"), init="playground"), seed)
    reference = np.random.default_rng(seed + 1).random(weight.size) - 0.5
    assert same_distribution(weight, reference) and np.abs(weight).max() <= 0.5
    assert (bias == 0.1).all()
    zero = layer2(Config(dtype="float64", hidden=sizes, activations=("tanh", "tanh"), init="zero"), seed)
    assert not zero[0].any() and not zero[1].any()                       # initZero: weights and biases 0


def test_the_ks_test_tells_a_wrong_bound_apart():
    # the bug this file was written for: nn.Linear's bound drawn as 1/in instead of 1/sqrt(in)
    rng = np.random.default_rng(0)
    right, wrong = rng.uniform(-1 / math.sqrt(40), 1 / math.sqrt(40), 1600), rng.uniform(-1 / 40, 1 / 40, 1600)
    reference = torch.nn.Linear(40, 40).weight.detach().numpy()
    assert same_distribution(right, reference) and not same_distribution(wrong, reference)


# Playground's src/playground.ts, INPUTS: each feature's f(x, y)
PLAYGROUND_INPUTS = {"x": lambda x, y: x, "y": lambda x, y: y, "x2": lambda x, y: x * x, "y2": lambda x, y: y * y,
                     "xy": lambda x, y: x * y, "sinx": lambda x, y: math.sin(x), "siny": lambda x, y: math.sin(y)}


@given(st.lists(st.tuples(st.floats(-6, 6), st.floats(-6, 6)), min_size=1, max_size=20))
def test_each_input_feature_is_playground_s_formula(points):
    X = np.array(points)
    columns = expand(X, list(PLAYGROUND_INPUTS))
    for j, f in enumerate(PLAYGROUND_INPUTS.values()):
        np.testing.assert_allclose(columns[:, j], [f(x, y) for x, y in points], rtol=1e-15, atol=0)


def test_load_state_dict_copies_the_values_in():
    model = manual.NeuralNetwork(rng=np.random.default_rng(0))
    source = manual.NeuralNetwork(rng=np.random.default_rng(1)).state_dict()
    model.load_state_dict(source)
    before = model.state_dict()
    for array in source.values():
        array += 1                                   # the caller reuses its arrays: the model must not see it
    assert all(np.array_equal(model.state_dict()[name], before[name]) for name in before)
    saved = model.state_dict()
    for array in saved.values():
        array += 1                                   # and state_dict() hands out copies
    assert all(np.array_equal(model.state_dict()[name], before[name]) for name in before)


@given(st.integers(1, 40), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_a_shuffling_loader_keeps_points_with_labels_and_visits_each_once(n, batch_size, seed):
    X = np.arange(2 * n, dtype=np.float64).reshape(n, 2)
    y = X[:, :1] * 10                                # each label names its point
    loader = manual.DataLoader(X, y, batch_size=batch_size, shuffle=True, rng=np.random.default_rng(seed))
    for _ in range(2):
        batches = list(loader)
        seen = np.concatenate([X_batch for X_batch, _ in batches])
        assert sorted(seen[:, 0]) == sorted(X[:, 0])                    # every point once per epoch
        assert all((y_batch == X_batch[:, :1] * 10).all() for X_batch, y_batch in batches)
        assert [len(X_batch) for X_batch, _ in batches] == [min(batch_size, n - k) for k in range(0, n, batch_size)]


def test_an_option_that_does_not_reach_the_optimizers_is_a_disagree(monkeypatch):
    def without_amsgrad(config, manual_model, torch_model):         # the option lost on its way
        return optimizers(dataclasses.replace(config, amsgrad=False), manual_model, torch_model)
    monkeypatch.setattr(compare.core.pair, "optimizers", without_amsgrad)
    result = run(Config(epochs=1, optimizer="adam", lr=0.01, amsgrad=True))
    assert result.verdict == "DISAGREE" and result.first_failure["check"] == "settings"
    assert result.first_failure["detail"] == "amsgrad: asked for True, manual holds False, torch False"
    assert result.settings["torch"]["amsgrad"] is False             # the JSON says what the optimizer holds


def test_the_summary_reads_the_settings_from_the_objects():
    result = run(Config(epochs=1, optimizer="adam", lr=0.01, amsgrad=True, hidden=(4,), activations=("relu",)))
    assert result.agree
    for side in ("manual", "torch"):
        held = result.settings[side]
        assert held["layers"] == [[2, 4, "relu"], [4, 1, "tanh"]] and held["optimizer"] == "Adam"
        assert held["amsgrad"] is True and held["betas"] == (0.9, 0.999)
    assert compare.report.describe(result).endswith(
        "Adam lr 0.01, betas (0.9, 0.999), eps 1e-08, weight decay 0.03, amsgrad")
