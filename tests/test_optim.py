"""manual.optim equals torch.optim: SGD (momentum, Nesterov), Adam and AdamW, parameters and state.

Run with CI=true (or HYPOTHESIS_PROFILE=ci) for the thorough profile: 200 examples per property.
"""
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import manual
import torch_impl
from compare.core import Config

from conftest import assert_close, make_pair

OPTIMIZERS = {"SGD": (manual.SGD, torch.optim.SGD), "Adam": (manual.Adam, torch.optim.Adam),
              "AdamW": (manual.AdamW, torch.optim.AdamW)}

unit = st.floats(0, 1, allow_subnormal=False)
beta = st.floats(0, 1, exclude_max=True, allow_subnormal=False)


@st.composite
def sgd_settings(draw):
    r"""Any hyper-parameters torch.optim.SGD accepts, in [0, 1]; Nesterov with momentum > 0 and no dampening."""
    nesterov = draw(st.booleans())
    momentum = draw(st.floats(0, 1, exclude_min=nesterov, allow_subnormal=False))
    dampening = 0.0 if nesterov else draw(unit)
    return dict(lr=draw(unit), momentum=momentum, dampening=dampening, weight_decay=draw(unit), nesterov=nesterov)


@st.composite
def adam_settings(draw):
    r"""Any hyper-parameters torch.optim.Adam(W) accepts, but eps > 0 (eps = 0 makes a zero gradient 0/0 = nan)."""
    return dict(lr=draw(unit), betas=(draw(beta), draw(beta)), eps=draw(st.floats(1e-12, 1e-2)),
                weight_decay=draw(unit), amsgrad=draw(st.booleans()))


@st.composite
def problems(draw):
    r"""1-3 parameters shaped like weights ``(out, in)`` or biases ``(out,)``, and gradients for 1-6 steps.

    A gradient may be None: that parameter sits the step out (torch skips it, state and all).
    """
    size = st.integers(1, 4)
    shapes = draw(st.lists(st.tuples(size, size) | st.tuples(size), min_size=1, max_size=3))
    elements = st.floats(-3, 3, allow_subnormal=False, width=32)
    values = [draw(hnp.arrays(np.float64, shape, elements=elements)) for shape in shapes]
    steps = draw(st.integers(1, 6))
    grads = [[draw(st.none() | hnp.arrays(np.float64, shape, elements=elements)) for shape in shapes]
             for _ in range(steps)]
    return values, grads


def assert_same(manual_optimizer, torch_optimizer, dtype, what):
    r"""Every parameter and every entry of its state, manual against torch."""
    for i, (p, q) in enumerate(zip(manual_optimizer.params, torch_optimizer.param_groups[0]["params"], strict=True)):
        assert p.data.dtype == dtype, f"{what}: parameter {i} became {p.data.dtype}"
        assert_close(p.data, q, dtype, f"{what}: parameter {i}")
        mine, theirs = manual_optimizer.state.get(p, {}), torch_optimizer.state.get(q, {})
        assert mine.keys() == theirs.keys(), f"{what}: state keys of parameter {i}"
        for key in theirs:
            assert_close(mine[key], theirs[key], dtype, f"{what}: state[{i}][{key!r}]")
            if key != "step":
                assert mine[key].dtype == dtype, f"{what}: state[{i}][{key!r}] is {mine[key].dtype}"


def run_steps(name, settings, values, grads, dtype=np.float64):
    r"""Step ``OPTIMIZERS[name]`` on both sides through ``grads``, comparing after every step."""
    manual_class, torch_class = OPTIMIZERS[name]
    manual_params = [manual.Parameter(value.astype(dtype)) for value in values]
    torch_params = [torch.nn.Parameter(torch.tensor(value.astype(dtype))) for value in values]
    manual_optimizer = manual_class(manual_params, **settings)
    torch_optimizer = torch_class(torch_params, **settings)
    for step, step_grads in enumerate(grads, start=1):
        for p, q, grad in zip(manual_params, torch_params, step_grads, strict=True):
            p.grad = None if grad is None else grad.astype(dtype)
            q.grad = None if grad is None else torch.tensor(grad.astype(dtype))
        manual_optimizer.step()
        torch_optimizer.step()
        assert_same(manual_optimizer, torch_optimizer, dtype, f"{name}({settings}) after step {step}")


@given(problem=problems(), settings=sgd_settings())
def test_sgd_steps_match_torch(problem, settings):
    run_steps("SGD", settings, *problem)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@given(problem=problems(), settings=adam_settings())
def test_adam_steps_match_torch(name, problem, settings):
    run_steps(name, settings, *problem)


EXAMPLES = [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.05, nesterov=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("name, settings", EXAMPLES)
def test_float32_steps_match_torch_and_stay_float32(name, settings, rng):
    values = [rng.uniform(-1, 1, (3, 2)), rng.uniform(-1, 1, 3)]
    grads = [[rng.normal(size=value.shape) for value in values] for _ in range(6)]
    run_steps(name, settings, values, grads, dtype=np.float32)


@pytest.mark.parametrize("name, settings", EXAMPLES)
def test_training_the_network_matches_torch(name, settings, rng):
    manual_model, torch_model = make_pair(Config(dtype="float64"), rng)
    manual_class, torch_class = OPTIMIZERS[name]
    manual_optimizer = manual_class(manual_model.parameters(), **settings)
    torch_optimizer = torch_class(torch_model.parameters(), **settings)
    for step in range(1, 6):
        X = rng.uniform(-6, 6, (15, 2))
        y = rng.choice([-1.0, 1.0], (15, 1))
        loss_manual, _ = manual.train_step(manual_model, manual_optimizer, manual.MSELoss(), X, y)
        loss_torch, _ = torch_impl.train_step(torch_model, torch_optimizer, torch.nn.MSELoss(),
                                              torch.from_numpy(X), torch.from_numpy(y))
        assert_close(loss_manual, loss_torch, np.float64, f"{name} loss at step {step}")
        assert_same(manual_optimizer, torch_optimizer, np.float64, f"{name}({settings}) after step {step}")


REFUSED = [
    ("SGD", dict(lr=-0.1), "lr"),
    ("SGD", dict(lr=0.1, momentum=-0.9), "momentum"),
    ("SGD", dict(lr=0.1, weight_decay=-0.01), "weight_decay"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
] + [(name, settings, match) for name in ("Adam", "AdamW") for settings, match in [
    (dict(lr=-1e-3), "lr"),
    (dict(eps=-1e-8), "eps"),
    (dict(betas=(-0.1, 0.999)), r"betas\[0\]"),
    (dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    (dict(betas=(0.9, -0.5)), r"betas\[1\]"),
    (dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    (dict(weight_decay=-0.1), "weight_decay"),
]]


@pytest.mark.parametrize("name, settings, match", REFUSED)
def test_refuses_what_torch_refuses(name, settings, match):
    manual_class, torch_class = OPTIMIZERS[name]
    with pytest.raises(ValueError):
        torch_class([torch.nn.Parameter(torch.zeros(2))], **settings)
    with pytest.raises(ValueError, match=match) as refusal:
        manual_class([manual.Parameter(np.zeros(2))], **settings)
    assert "pass" in str(refusal.value)     # the message says what to do


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_refuses_an_empty_parameter_list_like_torch(name):
    manual_class, torch_class = OPTIMIZERS[name]
    with pytest.raises(ValueError):
        torch_class([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        manual_class([], lr=0.1)


def test_adamw_s_decay_rounds_as_torch_s_in_float32():
    r"""With zero gradients only the decay moves the weights: 100 steps of it, bit for bit torch's
    (``p *= 1 - lr wd``; ``p -= lr wd p`` drifts about an ulp a step)."""
    start = np.random.default_rng(0).standard_normal(50).astype(np.float32)
    p, q = manual.module.Parameter(start.copy()), torch.tensor(start, requires_grad=True)
    optimizers = manual.AdamW([p], lr=1e-3, weight_decay=1e-2), torch.optim.AdamW([q], lr=1e-3, weight_decay=1e-2)
    for _ in range(100):
        p.grad, q.grad = np.zeros_like(start), torch.zeros_like(q)
        for optimizer in optimizers:
            optimizer.step()
    assert np.array_equal(p.data, q.detach().numpy())
