"""manual against torch (float64 and float32) and against finite differences; API details."""
import random

import numpy as np
import pytest
import torch

import manual
import torch_impl
from compare.core import Config
from compare.core.data import load_data
from compare.files import check_weights
from compare.gradcheck import numeric_gradient

from conftest import assert_close, make_pair, to_torch

ARCHITECTURES = [
    ((3, 3), ("tanh", "sigmoid"), "tanh"),          # the article's
    ((), (), "tanh"),                               # output layer only
    ((4, 2), ("relu", "tanh"), "sigmoid"),
    ((5,), ("linear",), "linear"),
    ((2, 3, 4), ("sigmoid", "relu", "tanh"), "relu"),
]


def random_pair(architecture, dtype, rng):
    r"""Manual and torch models with the same random weights (biases non-zero too)."""
    config = Config(hidden=architecture[0], activations=architecture[1],
                    output_activation=architecture[2], dtype=np.dtype(dtype).name, init="torch-default")
    return make_pair(config, rng)


def batch(rng, n, dtype):
    X = rng.uniform(-6, 6, (n, 2)).astype(dtype)
    y = rng.choice([-1.0, 1.0], (n, 1)).astype(dtype)
    return X, y


def manual_and_torch_step(architecture, dtype, rng, lr=0.03, weight_decay=0.03, n=15):
    r"""One train_step on each side from the same weights and batch; returns everything to compare."""
    manual_model, torch_model = random_pair(architecture, dtype, rng)
    X, y = batch(rng, n, dtype)
    y_pred_manual = manual_model(X)
    y_pred_torch = torch_model(torch.from_numpy(X)).detach()
    manual_optimizer = manual.SGD(manual_model.parameters(), lr=lr, weight_decay=weight_decay)
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_manual, _ = manual.train_step(manual_model, manual_optimizer, manual.MSELoss(), X, y)
    loss_torch, _ = torch_impl.train_step(torch_model, torch_optimizer, torch.nn.MSELoss(),
                                          torch.from_numpy(X), torch.from_numpy(y))
    return (y_pred_manual, y_pred_torch, loss_manual, loss_torch,
            list(manual_model.named_parameters()), list(torch_model.named_parameters()))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("architecture", ARCHITECTURES, ids=lambda a: "-".join(map(str, a[0])) or "none")
def test_forward_loss_gradients_and_step_match_torch(architecture, dtype, rng):
    y_manual, y_torch, loss_manual, loss_torch, manual_params, torch_params = \
        manual_and_torch_step(architecture, dtype, rng)
    assert y_manual.dtype == dtype and y_manual.shape == (15, 1)
    assert_close(y_manual, y_torch, dtype, "forward output")
    assert_close(loss_manual, loss_torch, dtype, "loss")
    for (name, p), (torch_name, q) in zip(manual_params, torch_params, strict=True):
        assert name == torch_name
        assert p.grad.dtype == dtype and p.data.dtype == dtype
        assert_close(p.grad, q.grad, dtype, f"gradient of {name}")
        assert_close(p.data, q.data, dtype, f"{name} after one SGD step")


@pytest.mark.parametrize("architecture", [a for a in ARCHITECTURES if "relu" not in (*a[1], a[2])],
                         ids=lambda a: "-".join(map(str, a[0])) or "none")
def test_gradients_match_finite_differences(architecture, rng):
    model, _ = random_pair(architecture, np.float64, rng)
    X, y = batch(rng, 7, np.float64)
    criterion = manual.MSELoss()
    criterion(model(X), y)
    dX = model.backward(criterion.backward())
    loss = lambda: criterion(model(X), y)                          # noqa: E731
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, numeric_gradient(loss, p.data)[0], rtol=1e-6, atol=1e-9,
                                   err_msg=f"dL/d{name}")
    np.testing.assert_allclose(dX, numeric_gradient(loss, X)[0], rtol=1e-6, atol=1e-9, err_msg="dL/dX")


def test_gradients_accumulate_like_torch_until_zero_grad(rng):
    manual_model, torch_model = random_pair(ARCHITECTURES[0], np.float64, rng)
    X, y = batch(rng, 15, np.float64)
    criterion = manual.MSELoss()
    for _ in range(2):                                             # no zero_grad in between
        criterion(manual_model(X), y)
        manual_model.backward(criterion.backward())
        torch.nn.MSELoss()(torch_model(torch.from_numpy(X)), torch.from_numpy(y)).backward()
    for (name, p), (_, q) in zip(manual_model.named_parameters(), torch_model.named_parameters(), strict=True):
        assert_close(p.grad, q.grad, np.float64, f"accumulated gradient of {name}")
    manual.SGD(manual_model.parameters(), lr=0.1).zero_grad()
    assert all(p.grad is None for p in manual_model.parameters())


def test_default_network_is_the_article_s():
    model = manual.NeuralNetwork()
    assert [(n, p.data.shape, p.data.dtype) for n, p in model.named_parameters()] == [
        ("layer1.weight", (3, 2), np.float32), ("layer1.bias", (3,), np.float32),
        ("layer2.weight", (3, 3), np.float32), ("layer2.bias", (3,), np.float32),
        ("layer_out.weight", (1, 3), np.float32), ("layer_out.bias", (1,), np.float32)]
    children = ["layer1", "activation1", "layer2", "activation2", "layer_out", "acti_out"]
    types = ["Linear", "Tanh", "Linear", "Sigmoid", "Linear", "Tanh"]
    for side in (model, torch_impl.NeuralNetwork()):
        assert ([(name, type(m).__name__) for name, m in side.named_children()]
                == list(zip(children, types, strict=True)))
    assert list(torch_impl.NeuralNetwork().state_dict()) == list(model.state_dict())
    assert list(manual.NeuralNetwork(hidden=(2, 2, 2), activations=("relu",) * 3).state_dict())[4:6] == [
        "layer3.weight", "layer3.bias"]


@pytest.mark.parametrize("kwargs, error", [(dict(hidden=(3,), activations=("tanh", "tanh")), ValueError),
                                           (dict(hidden=(3, 3), activations=("tanh",)), ValueError),
                                           (dict(hidden=(3,), activations=("softmax",)), KeyError),
                                           (dict(output_activation="gelu"), KeyError)])
def test_a_bad_architecture_raises_on_both_sides(kwargs, error):
    with pytest.raises(error):
        manual.NeuralNetwork(**kwargs)
    with pytest.raises(error):
        torch_impl.NeuralNetwork(**kwargs)


def test_a_float32_model_refuses_float64_input_like_torch():
    with pytest.raises(TypeError, match="astype"):
        manual.NeuralNetwork()(np.zeros((2, 2)))
    with pytest.raises(RuntimeError):
        torch_impl.NeuralNetwork()(torch.zeros((2, 2), dtype=torch.float64))


def test_init_parameters_is_xavier_uniform_with_zero_bias():
    model = manual.NeuralNetwork(hidden=(40, 30), activations=("tanh", "tanh"), dtype=np.float64)
    manual.init_parameters(model, np.random.default_rng(0))
    w = model.layer2.weight.data
    bound = np.sqrt(6 / (40 + 30))
    assert np.all(np.abs(w) <= bound) and np.abs(w).max() > 0.95 * bound
    assert np.std(w) == pytest.approx(bound / np.sqrt(3), rel=0.05)   # U(-a, a) has std a/sqrt(3)
    assert all(not layer.bias.data.any() for layer in model.children() if isinstance(layer, manual.Linear))
    torch_model = torch_impl.NeuralNetwork(hidden=(40, 30), activations=("tanh", "tanh"))
    torch_model.apply(torch_impl.init_parameters)
    assert torch_model.layer2.weight.abs().max() <= bound and not torch_model.layer2.bias.any()


def test_torch_default_init_range():
    model = manual.NeuralNetwork(hidden=(50,), activations=("tanh",), rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(50)
    assert np.abs(model.layer_out.weight.data).max() <= bound
    assert np.abs(model.layer_out.bias.data).max() <= bound


@pytest.mark.parametrize("side", [manual, torch_impl])
def test_discretize(side):
    array = np.array([-0.5, -0.0, 0.0, 1e-30, -1e-30, 0.5])
    for dtype in (np.float32, np.float64):
        proba = array.astype(dtype) if side is manual else torch.tensor(array.astype(dtype))
        out = side.discretize(proba)
        assert out.dtype == proba.dtype
        assert np.asarray(out).tolist() == [-1, 1, 1, 1, -1, 1]
        assert np.asarray(side.Discretize()(proba)).tolist() == np.asarray(out).tolist()


def test_mse_refuses_flat_labels():
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        manual.MSELoss()(np.zeros((4, 1)), np.zeros(4))


def test_state_dict_round_trip_copies(rng):
    model, torch_model = random_pair(ARCHITECTURES[0], np.float32, rng)
    state = model.state_dict()
    state["layer1.weight"][0, 0] = 42.0                             # a copy: the model is untouched
    assert model.layer1.weight.data[0, 0] != 42.0
    other = manual.NeuralNetwork()
    other.load_state_dict(model.state_dict())
    for a, b in zip(other.state_dict().values(), model.state_dict().values(), strict=True):
        assert a.dtype == np.float32 and np.array_equal(a, b)
    other.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
    back = torch_impl.NeuralNetwork()
    back.load_state_dict(to_torch(other.state_dict()))
    for a, b in zip(back.state_dict().values(), model.state_dict().values(), strict=True):
        assert np.array_equal(a.numpy(), b)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("layer2.bias"), r"missing keys \['layer2.bias'\]"),
    (lambda d: d.update(extra=np.zeros(1)), r"unexpected keys \['extra'\]"),
    (lambda d: d.update({"layer1.weight": np.zeros((2, 3))}), "layer1.weight: shape"),
])
def test_load_state_dict_errors_name_the_key_and_change_nothing(change, message, rng):
    model = manual.NeuralNetwork(rng=rng)
    before = model.state_dict()
    state = model.state_dict()
    state["layer1.bias"] = state["layer1.bias"] + 1                 # would change, if it were loaded
    change(state)
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(state)
    for a, b in zip(model.state_dict().values(), before.values(), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("value, message", [
    (np.array([0, np.nan, 0]), "layer2.bias holds a non-finite"),
    (np.array([0, np.inf, 0]), "layer2.bias holds a non-finite"),
    (np.array([0, 1e300, 0]), r"layer2.bias holds a non-finite value \(nan, inf, or too large for float32\)"),
    (np.array(["a", "b", "c"]), "layer2.bias has dtype <U1"),
])
def test_compare_refuses_weights_that_are_not_finite_real_numbers(value, message, rng):
    state = manual.NeuralNetwork(rng=rng).state_dict()
    state["layer2.bias"] = value
    with pytest.raises(ValueError, match=f"^w.npz: {message}"):
        check_weights(Config(), state, "w.npz")


def test_data_is_deterministic_and_leaves_global_rng_alone():
    random.seed(7)
    np.random.seed(7)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    first = load_data("circle", 0.0, 0.5, seed=3)
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(after, numpy_state, strict=True))
    second = load_data("circle", 0.0, 0.5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0], load_data("circle", 0.0, 0.5, seed=4)[0])
    X_train, y_train, X_valid, y_valid = first
    assert X_train.shape == (250, 2) and y_train.shape == (250, 1)
    assert X_valid.shape == (250, 2) and y_valid.shape == (250, 1)
    assert set(np.unique(np.concatenate([y_train, y_valid]))) == {-1.0, 1.0}
    assert np.abs(X_train).max() <= 6


@pytest.mark.parametrize("dataset", ["circle", "xor", "gauss", "spiral"])
def test_every_dataset_loads(dataset):
    X_train, y_train, X_valid, _ = load_data(dataset, noise=0.2, train_ratio=0.8, seed=1)
    assert len(X_train) == 400 and len(X_valid) == 100 and y_train.shape == (400, 1)


@pytest.mark.parametrize("kwargs", [dict(dataset="moon"), dict(noise=0.6), dict(train_ratio=1.0),
                                    dict(train_ratio=0.0001), dict(seed=-1)])
def test_data_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        load_data(**kwargs)


def test_fit_loops_agree_and_print_the_article_line(rng, capsys):
    manual_model, torch_model = random_pair(ARCHITECTURES[0], np.float64, rng)
    X_train, y_train, X_valid, y_valid = load_data(seed=0)
    batches = [idx for idx in np.array_split(rng.permutation(250), 17)]   # fixed order for both
    manual_history = manual.fit(
        manual_model, manual.SGD(manual_model.parameters(), lr=0.03, weight_decay=0.03), manual.MSELoss(),
        [(X_train[i], y_train[i]) for i in batches], manual.DataLoader(X_valid, y_valid, 15), epochs=3)
    t = [torch.from_numpy(a) for a in (X_train, y_train, X_valid, y_valid)]
    torch_history = torch_impl.fit(
        torch_model, torch.optim.SGD(torch_model.parameters(), lr=0.03, weight_decay=0.03), torch.nn.MSELoss(),
        torch.utils.data.DataLoader(torch.utils.data.TensorDataset(t[0], t[1]), batch_sampler=batches),
        torch.utils.data.DataLoader(torch.utils.data.TensorDataset(t[2], t[3]), batch_size=15), epochs=3)
    for m, q in zip(manual_history, torch_history, strict=True):
        assert m["epoch"] == q["epoch"] and m["acc"] == q["acc"] and m["val_acc"] == q["val_acc"]
        assert_close([m["loss"], m["val_loss"]], np.array([q["loss"], q["val_loss"]]), np.float64, "epoch losses")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines[0].startswith("[Epoch   1/  3] loss: ") and " val_acc: " in lines[0]


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_the_article_s_own_code_trains_like_manual(dtype, tolerance, rng):
    import article
    X_train, y_train, _, _ = (a.astype(dtype) for a in load_data(seed=0))
    manual_model = manual.NeuralNetwork(dtype=dtype, rng=rng)
    manual.init_parameters(manual_model, rng)
    article.model = article.NeuralNetwork().to(torch.float64 if dtype == np.float64 else torch.float32)
    article.model.load_state_dict(to_torch(manual_model.state_dict()))
    article.criterion = torch.nn.MSELoss()
    article.optimizer = torch.optim.SGD(article.model.parameters(), lr=0.03, weight_decay=0.03)
    manual_optimizer = manual.SGD(manual_model.parameters(), lr=0.03, weight_decay=0.03)
    loss_diffs = []
    for _ in range(5):                                              # epochs
        batches = [list(map(int, b)) for b in np.array_split(rng.permutation(250), range(15, 250, 15))]
        loader_train = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train)),
            batch_sampler=batches)
        for idx, (train_X, train_y) in zip(batches, loader_train, strict=True):
            loss, acc = article.train_step(train_X, train_y)
            manual_loss, manual_correct = manual.train_step(manual_model, manual_optimizer, manual.MSELoss(),
                                                            X_train[idx], y_train[idx])
            assert manual_correct == acc
            loss_diffs.append(abs(manual_loss - loss))
    assert len(loss_diffs) == 5 * 17 and max(loss_diffs) <= tolerance
    for name, value in article.model.state_dict().items():
        np.testing.assert_allclose(manual_model.state_dict()[name], value.numpy(), rtol=0, atol=tolerance,
                                   err_msg=f"final {name}")


def test_backward_uses_the_last_forward_pass(rng):
    r"""Caches live on the layers: a second forward pass replaces the first one's values."""
    model, torch_model = random_pair(ARCHITECTURES[0], np.float64, rng)
    (X1, _), (X2, y2) = batch(rng, 5, np.float64), batch(rng, 4, np.float64)
    criterion = manual.MSELoss()
    model(X1)
    criterion(model(X2), y2)
    model.backward(criterion.backward())
    torch.nn.MSELoss()(torch_model(torch.from_numpy(X2)), torch.from_numpy(y2)).backward()
    for (name, p), (_, q) in zip(model.named_parameters(), torch_model.named_parameters(), strict=True):
        assert_close(p.grad, q.grad, np.float64, f"gradient of {name} for the second batch")


class LeakyReLU(manual.Module):
    r"""docs/article.md's example of a new activation: ``a = z`` where ``z > 0``, else ``0.01 z``."""

    def forward(self, z):
        self.z = z
        return np.where(z > 0, z, 0.01 * z)

    def backward(self, da):
        return da * np.where(self.z > 0, 1, 0.01)


def test_an_activation_added_as_the_readme_says_works_in_every_tool(monkeypatch, capsys):
    from compare.__main__ import main as compare_main
    from compare.gradcheck import main as gradcheck_main
    from compare.trace import main as trace_main
    from compare.walkthrough import main as walkthrough_main
    monkeypatch.setitem(manual.ACTIVATIONS, "leaky_relu", LeakyReLU)
    monkeypatch.setitem(torch_impl.ACTIVATIONS, "leaky_relu", torch.nn.LeakyReLU)
    args = ["--activations", "leaky_relu,tanh", "--dtype", "float64"]
    assert compare_main([*args, "--epochs", "2", "--quiet"]) == 0
    assert trace_main(args) == 0
    assert walkthrough_main(args) == 0
    assert "dL/da1[0] * leaky_relu'(z1[0])" in capsys.readouterr().out
    assert gradcheck_main(["--activations", "leaky_relu,tanh"]) == 0


def test_the_python_example_of_docs_tools_runs(capsys):
    import pathlib
    import re
    tools = (pathlib.Path(__file__).parent.parent / "docs" / "tools" / "index.md").read_text()
    code = re.search(r"## Use it from Python\n\n```python\n(.*?)```", tools, re.S).group(1)
    exec(compile(code, "docs/tools/index.md", "exec"), {})
    out = capsys.readouterr().out
    assert "AGREE None" in out and out.rstrip().endswith("None") and "dL/dW1" in out


@pytest.mark.parametrize("name", ["elu", "selu", "softplus", "softsign"])
def test_deep_insider_s_activations_equal_torch_s_at_their_edges(name):
    # 0 and -0.0 (SELU's derivative takes its z <= 0 branch there, as torch), softplus's threshold 20,
    # and magnitudes where exp overflows
    z = np.array([[-800.0, -30.0, -1.0, -0.0, 0.0, 1e-300, 1.0, 19.99, 20.0, 20.01, 30.0, 800.0]])
    module, t_module = manual.ACTIVATIONS[name](), torch_impl.ACTIVATIONS[name]()
    t_z = torch.tensor(z, requires_grad=True)
    t_a = t_module(t_z)
    t_a.backward(torch.ones_like(t_a))
    assert_close(module(z), t_a, np.float64, f"{name}(z)")
    assert_close(module.backward(np.ones_like(z)), t_z.grad, np.float64, f"{name}'(z)")


def test_l1_loss_and_its_gradient_equal_torch_s_with_ties(rng):
    y = rng.choice([-1.0, 1.0], (12, 1))
    y_pred = np.where(rng.random((12, 1)) < 0.25, y, rng.normal(size=(12, 1)))   # some exactly equal
    criterion, t_pred = manual.L1Loss(), torch.tensor(y_pred, requires_grad=True)
    t_loss = torch.nn.L1Loss()(t_pred, torch.tensor(y))
    t_loss.backward()
    assert_close(criterion(y_pred, y), t_loss, np.float64, "L1 loss")
    gradient = criterion.backward()
    assert_close(gradient, t_pred.grad, np.float64, "dL/dy_pred")
    assert (gradient[y_pred == y] == 0).all()            # where Playground's (o - t) / |o - t| is 0/0
    with pytest.raises(ValueError):
        criterion(y_pred, y[:, 0])
