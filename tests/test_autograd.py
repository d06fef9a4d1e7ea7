r"""manual/autograd.py against torch: the graph node by node, each behaviour of ``loss.backward()``, the Hessian.

Float64 throughout; gradients to 1e-12, the Hessian to 1e-10. Each behaviour is asserted here on its
own, not through the text ``python -m compare.engine`` prints, which is checked last.
"""
import ast
import pathlib
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd.gradcheck import GradcheckError

import manual
import manual.autograd as engine
import torch_impl
from compare import engine as demo
from compare import functions
from compare.core.config import Config
from compare.core.pair import Pair
from compare.core.source import Source
from compare.graph import edges, first_unequal, step_graphs

from conftest import run_cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


def step(config):
    weights, _, X, y = Source(config).step(1)
    return weights, X, y


def assert_graphs_equal(config):
    weights, X, y = step(config)
    torch_side, engine_side, _ = step_graphs(config, weights, X, y)
    paired = edges(torch_side, engine_side)                 # raises where names or edges differ
    for edge in paired:
        assert (edge.torch is None) == (edge.engine is None), edge
        if edge.torch is not None:
            np.testing.assert_allclose(edge.engine, edge.torch, rtol=0, atol=1e-12, err_msg=f"{edge}")
    return paired


@pytest.mark.parametrize("loss", ["mse", "l1", "bce", "bce-logits", "cross-entropy"])
def test_the_article_s_graph_has_torch_s_nodes_edges_and_gradients(loss):
    paired = assert_graphs_equal(Config(dtype="float64", loss=loss))
    first = {"mse": "MseLossBackward0", "l1": "MeanBackward0", "bce": "BinaryCrossEntropyBackward0",
             "bce-logits": "BinaryCrossEntropyWithLogitsBackward0", "cross-entropy": "NllLossBackward0"}
    assert paired[0].torch_name == first[loss]


@settings(max_examples=25, deadline=None)
@given(hidden=st.lists(st.integers(1, 4), max_size=3), data=st.data(), seed=st.integers(0, 2**16))
def test_graphs_equal_over_architectures_and_activations(hidden, data, seed):
    activations = tuple(data.draw(st.sampled_from(["tanh", "sigmoid", "relu", "linear"])) for _ in hidden)
    loss = data.draw(st.sampled_from(["mse", "l1", "bce", "bce-logits", "cross-entropy"]))
    assert_graphs_equal(Config(dtype="float64", hidden=tuple(hidden), activations=activations, loss=loss, seed=seed))


def test_the_graph_table_names_each_leaf_by_the_parameter_it_fills(article):
    lines, same = demo.graph_section(*article)
    leaves = {row.split()[6] for row in lines[1:-1] if len(row.split()) == 9}       # 9 words: "-> 3 layer1.bias"
    assert same and leaves == {name for name, _ in article[0].models[1].named_parameters()}
    assert lines[-1].startswith("(16 nodes in all: 10 that send gradients (a row per edge) and 6 AccumulateGrad")


def test_a_planted_vjp_bug_is_named_at_its_node(monkeypatch):
    monkeypatch.setattr(engine.SigmoidBackward0, "vjp", lambda self, grad: (grad * self.saved_tensors()[0],))
    config = Config(dtype="float64")
    weights, X, y = step(config)
    first = first_unequal(edges(*step_graphs(config, weights, X, y)[:2]), config.dtype)
    assert (first.node, first.torch_name, first.engine_name) == (4, "SigmoidBackward0", "SigmoidBackward0")


@pytest.fixture
def article():
    return demo.article_step()


def test_two_backward_calls_add_up_and_zero_grad_clears(article):
    pair, X, y = article
    demo.zero_grads(pair)
    firsts = []
    for _ in (1, 2):
        for loss in demo.losses(pair, X, y):
            loss.backward()
        engine_grads, torch_grads = demo.grads(pair)
        np.testing.assert_allclose(engine_grads, torch_grads, rtol=0, atol=1e-12)
        firsts.append(engine_grads)
    np.testing.assert_array_equal(firsts[1], 2 * firsts[0])
    demo.zero_grads(pair)
    assert all(p.grad is None for params in pair.params for p in params)


def test_five_micro_batches_of_3_over_5_give_the_batch_of_15(article):
    pair, X, y = article
    demo.zero_grads(pair)
    for loss in demo.losses(pair, X, y):
        loss.backward()
    batch = demo.grads(pair)
    demo.zero_grads(pair)
    for start in range(0, 15, 3):
        for loss in demo.losses(pair, X[start:start + 3], y[start:start + 3]):
            (loss / 5).backward()
    for micro, whole in zip(demo.grads(pair), batch, strict=True):
        np.testing.assert_allclose(micro, whole, rtol=0, atol=1e-12)


def test_a_second_backward_fails_without_retain_graph_and_doubles_with_it(article):
    pair, X, y = article
    for loss in demo.losses(pair, X, y):
        loss.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()
    demo.zero_grads(pair)
    once = [None, None]
    for side, loss in enumerate(demo.losses(pair, X, y)):
        loss.backward(retain_graph=True)
        once[side] = demo.grads(pair)[side]
        loss.backward()
    for side in (0, 1):
        np.testing.assert_allclose(demo.grads(pair)[side], 2 * once[side], rtol=0, atol=1e-12)
    np.testing.assert_allclose(*demo.grads(pair), rtol=0, atol=1e-12)


def test_a_saved_value_changed_in_place_fails_on_both_sides_and_misleads_manual_nn(article):
    pair, X, y = article
    lines, same = demo.version_section(pair, X, y)
    assert same and "inplace operation" in lines[0]
    message = "[torch.DoubleTensor [15, 3]], which is output 0 of Mul, is at version 1; expected version 0 instead."
    assert lines[1].split("...")[1] == lines[2].split("...")[1] == message
    wrong, right = demo.manual_by_hand(pair, X, y, change=True), demo.manual_by_hand(pair, X, y, change=False)
    assert np.abs(wrong - right).max() > 1e-3                 # no error, and a wrong gradient
    leaf = engine.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.mul_(2)


SIDES = {"engine": (lambda data, requires_grad=False: engine.Tensor(np.array(data, float), requires_grad),
                    engine.addmm),
         "torch": (lambda data, requires_grad=False: torch.tensor(data, dtype=torch.float64,
                                                                  requires_grad=requires_grad), torch.addmm)}


def values(t):
    return np.asarray(t.detach())


def grad_function(side):
    return engine.grad if side == "engine" else torch.autograd.grad


def no_grad_of(side):
    return engine.no_grad() if side == "engine" else torch.no_grad()


def article_steps(config):
    r"""``config``'s Pair from the run's weights, and per side ``(model, optimizer, criterion, X, y)`` with the
    run's first 15 points as that side's tensors."""
    source = Source(config)
    pair = Pair(config, source.weights)
    X, y = source.data[0][:15], source.data[1][:15]
    return pair, [(model, optimizer, criterion, make(X), make(y)) for model, optimizer, criterion, make
                  in zip(pair.models, pair.optimizers, pair.criteria, (engine.Tensor, torch.tensor), strict=True)]


def square_then_twice(tensor, addmm):
    a = tensor([1., 2.], True)
    b = a * a                   # saves a (twice): each factor's gradient needs the other
    c = b * 2                   # saves the 2 and not b: b's gradient needs only the 2
    b.mul_(2)
    c.sum().backward()
    return a.grad


def a_constant_factor_changed(tensor, addmm):
    a, w = tensor([1., 2.], True), tensor([3., 4.])
    c = w * (a * a)             # saves w: the gradient for a * a needs it
    w.mul_(2)
    c.sum().backward()
    return a.grad


def a_saved_result_changed(tensor, addmm):
    a = tensor([1., 2.], True)
    t = a.tanh()                # TanhBackward0 saves its result t; t * 3 saves only the 3
    u = t * 3
    t.add_(1)
    u.sum().backward()
    return a.grad


def a_saved_input_changed(tensor, addmm):
    a = tensor([1., 2.], True)
    t = a * 1
    u = t * t                   # saves t, an input: the message names t's grad_fn now, AddBackward0
    t.add_(1)
    u.sum().backward()
    return a.grad


def a_weight_of_constant_data_changed(tensor, addmm):
    p = tensor([[1., 2.], [3., 4.]], True)
    w = p * 1
    z = addmm(tensor([0.5, 0.5]), tensor([[1., -1.]]), w)     # the data needs no gradient: w is not saved
    y = tensor([[1., -1.]]).mm(w)
    w.mul_(3)
    (z.sum() + y.sum()).backward()
    return p.grad


def changed_under_no_grad(tensor, addmm):
    w = tensor([1., 2.], True)
    y = w * 2
    with (engine.no_grad() if tensor is SIDES["engine"][0] else torch.no_grad()):
        y.mul_(2)               # y keeps its grad_fn, MulBackward0 of w * 2
        w -= 0.5 * w            # SGD's idiom: w stays a leaf that requires grad
    y.sum().backward()
    return w.grad if w.requires_grad and w.is_leaf else "w no longer requires grad"


def outcome(script, side):
    r"""What ``script`` ends in on ``side``: the leaf's gradient, or the error's message (torch's without its hint
    on anomaly detection)."""
    try:
        return np.array(script(*SIDES[side]).detach().numpy())
    except RuntimeError as exc:
        return str(exc).split(" Hint:")[0]


@pytest.mark.parametrize("script, expected", [
    (square_then_twice, [4., 8.]),
    (a_constant_factor_changed, "[torch.DoubleTensor [2]] is at version 1;"),
    (a_saved_result_changed, "[torch.DoubleTensor [2]], which is output 0 of Tanh, is at version 1;"),
    (a_saved_input_changed, "[torch.DoubleTensor [2]], which is output 0 of Add, is at version 1;"),
    (a_weight_of_constant_data_changed, [[2., 2.], [-2., -2.]]),
    (changed_under_no_grad, [2., 2.]),
])
def test_in_place_changes_end_as_torch_s_saved_tensors_and_messages_say(script, expected):
    engine_outcome, torch_outcome = outcome(script, "engine"), outcome(script, "torch")
    if isinstance(expected, str):
        assert expected in torch_outcome and engine_outcome == torch_outcome
    else:
        np.testing.assert_allclose(torch_outcome, expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(engine_outcome, torch_outcome, rtol=0, atol=1e-12)


def test_only_floating_point_tensors_may_require_grad():
    with pytest.raises(RuntimeError) as refused:
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError) as engine_refused:
        engine.Tensor([1, 2], requires_grad=True)
    assert str(engine_refused.value) == str(refused.value)
    assert engine.Tensor(np.array([1, 2], np.float32), requires_grad=True).requires_grad
    assert not engine.Tensor([1, 2]).requires_grad


OPERATIONS = {"x.sum()": lambda x: x.sum(), "x.sum(None, True)": lambda x: x.sum(None, True),
              "x.sum(0)": lambda x: x.sum(0), "x.sum(1, True)": lambda x: x.sum(1, True),
              "x.sum((0, 1))": lambda x: x.sum((0, 1)), "x.sum(())": lambda x: x.sum(()),
              "-x": lambda x: -x, "x / 5": lambda x: x / 5,
              "1 - x": lambda x: 1 - x, "x - 1": lambda x: x - 1, "2 * x": lambda x: 2 * x,
              "(x * 1).zero_()": lambda x: (x * 1).zero_(), "np.float64(2) * x": lambda x: np.float64(2) * x}


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS)
def test_operations_are_named_and_differentiated_as_torch_s(operation):
    grads, names = [], []
    for tensor, _ in SIDES.values():
        x = tensor(np.arange(6.).reshape(2, 3), True)
        out = operation(x)
        names.append(type(out.grad_fn).__name__)
        (out * tensor(np.arange(1., np.prod(out.shape) + 1).reshape(tuple(out.shape)))).sum().backward()
        grads.append(np.array(x.grad.detach().numpy()))
    assert names[0] == names[1]
    np.testing.assert_allclose(*grads, rtol=0, atol=1e-12)


def test_an_in_place_change_of_an_unsaved_value_is_differentiated_as_torch_does():
    rng = np.random.default_rng(0)
    W, X = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    grads = []
    for make in (engine.Tensor, torch.tensor):
        w = make(W, requires_grad=True)
        z = make(X).mm(w.t())
        z.mul_(3)                                 # MmBackward0 saved X and w.t(), not z
        z.tanh().sum().backward()
        grads.append(np.asarray(w.grad.detach().numpy()))
    np.testing.assert_allclose(*grads, rtol=0, atol=1e-12)


def test_no_grad_records_nothing_and_detach_stops_the_gradient(article):
    pair, X, y = article
    lines, same = demo.no_grad_section(pair, X, y)
    assert same
    assert lines[1].endswith("layer1.weight.grad is None, layer2.weight.grad is set")
    assert lines[2].endswith("layer1.weight.grad is None, layer2.weight.grad is set")


def test_hooks_see_the_gradient_the_engine_passes_on_and_can_replace_it(article):
    pair, X, y = article
    seen = {}
    for side, make in enumerate((engine.Tensor, torch.tensor)):
        model = pair.models[side]
        for p in model.parameters():
            p.grad = None
        a1 = model.activation1(model.layer1(make(X)))
        a1.register_hook(lambda grad, side=side: seen.__setitem__(side, np.array(grad.detach().numpy())))
        a1.register_hook(lambda grad: grad * 2)           # a hook's result replaces the gradient passed on
        out = model.acti_out(model.layer_out(model.activation2(model.layer2(a1))))
        pair.criteria[side](out, make(y)).backward()
    np.testing.assert_allclose(seen[0], seen[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(*demo.grads(pair), rtol=0, atol=1e-12)


def test_a_layer_s_backward_is_a_vjp_and_one_hot_vjps_make_the_jacobian(article):
    lines, same = demo.vjp_section(*article)
    assert same, lines


def test_the_hessian_by_create_graph_equals_torch_func_hessian(article):
    pair, X, y = article
    H = demo.engine_hessian(pair, X, y)
    loss, theta = demo.torch_loss_of(pair.models[1], pair.criteria[1], X, y)
    assert H.shape == (25, 25)
    np.testing.assert_allclose(H, torch.func.hessian(loss)(theta).numpy(), rtol=0, atol=1e-10)
    v = np.random.default_rng(1).standard_normal(25)
    gradient = torch.autograd.grad(loss(theta.requires_grad_()), theta, create_graph=True)[0]
    np.testing.assert_allclose(H @ v, torch.autograd.grad(gradient @ torch.tensor(v), theta)[0].numpy(),
                               rtol=0, atol=1e-10)


def test_a_once_differentiable_node_refuses_create_graph():
    p = engine.Tensor(np.array([[0.3], [0.6]]), requires_grad=True)
    loss = engine.BinaryCrossEntropyBackward0.apply(p.sigmoid(), engine.Tensor(np.array([[0.0], [1.0]])))
    with pytest.raises(RuntimeError, match="once_differentiable"):
        engine.grad(loss, [p], create_graph=True)


def linear_inputs():
    rng = np.random.default_rng(0)
    return tuple(torch.tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((5, 2), (3, 2), (3,)))


@pytest.mark.parametrize("name", manual.layers.ACTIVATIONS)
def test_manual_s_layers_as_torch_functions_pass_gradcheck(name):
    assert torch.autograd.gradcheck(functions.Linear.apply, linear_inputs())
    assert torch.autograd.gradcheck(lambda z: functions.Activation.apply(z, name), linear_inputs()[:1])


def test_manual_s_layers_as_torch_functions_fail_gradgradcheck():
    with pytest.raises(GradcheckError, match="Numerical gradient for function expected to be zero"):
        torch.autograd.gradgradcheck(functions.Linear.apply, linear_inputs())


def test_once_differentiable_refuses_the_double_backward_that_is_otherwise_wrong(article):
    pair, X, y = article
    model, marked = (functions.NeuralNetwork(dtype=torch.float64, once=once) for once in (False, True))
    for m in (model, marked):
        m.load_state_dict(pair.models[1].state_dict())
    loss, theta = demo.torch_loss_of(model, pair.criteria[1], X, y)
    assert not torch.autograd.functional.hessian(loss, theta).any()                 # zeros, without a word
    with pytest.raises(RuntimeError, match="does not require grad"):
        functions.double_backward(model, pair.criteria[1], torch.tensor(X), torch.tensor(y))
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was marked with "
                                           "@once_differentiable"):
        functions.double_backward(marked, pair.criteria[1], torch.tensor(X), torch.tensor(y))


def test_the_article_s_network_trains_in_torch_on_manual_s_layers_as_on_torch_impl_s(monkeypatch):
    losses, model = functions.article_run(functions.NeuralNetwork(dtype=torch.float64), epochs=3)
    torch_losses, torch_model = functions.article_run(torch_impl.NeuralNetwork(dtype=torch.float64), epochs=3)
    assert type(model(torch.zeros(1, 2, dtype=torch.float64)).grad_fn).__name__ == "ActivationBackward"
    np.testing.assert_allclose(losses, torch_losses, rtol=0, atol=1e-12)
    for p, q in zip(model.parameters(), torch_model.parameters(), strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=0, atol=1e-12)
    backward = manual.layers.Tanh.backward
    monkeypatch.setattr(manual.layers.Tanh, "backward", lambda self, da: backward(self, da) * 1.001)
    assert np.abs(np.subtract(functions.article_run(functions.NeuralNetwork(dtype=torch.float64), epochs=3)[0],
                              torch_losses)).max() > 1e-12                 # torch ran manual's backward


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("settings_", [{"loss": "mse"}, {"loss": "bce"}, {"loss": "cross-entropy"},
                                       {"optimizer": "adam"}, {"momentum": 0.9, "nesterov": True}])
def test_the_engine_s_network_agrees_with_torch_in_lockstep(dtype, settings_):
    from compare.core.lockstep import run
    from compare.report import verdict_line
    result = run(Config(dtype=dtype, manual="autograd", epochs=3, **settings_))
    assert result.agree, result.first_failure
    assert "AGREE: from identical weights at every step, manual's autograd engine and torch" in verdict_line(result)


def test_the_engine_imports_no_torch():
    for name in ("autograd.py", "autograd_nn.py"):
        tree = ast.parse((ROOT / "manual" / name).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not any(module.startswith("torch") for module in imported), name


def test_python_m_compare_engine_says_every_behaviour_is_the_same(capsys):
    assert demo.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("-> same on both sides") == len(demo.SECTIONS)
    assert "Every behaviour is the same on both sides." in out


def test_the_engine_trains_the_article_s_network_like_manual_nn():
    config = Config(dtype="float64", manual="autograd")
    weights, X, y = step(config)
    pair, by_hand = Pair(config, weights), Pair(Config(dtype="float64"), weights)
    for _ in range(3):
        assert pair.manual_step(X, y)[1] == by_hand.manual_step(X, y)[1]
    np.testing.assert_allclose(pair.weights()[0], by_hand.weights()[0], rtol=0, atol=1e-12)
    assert isinstance(by_hand.models[0], manual.NeuralNetwork)


@pytest.mark.parametrize("init", ["xavier", "torch-default", "playground", "zero"])
def test_the_engine_s_run_starts_from_the_by_hand_run_s_weights_and_batches(init):
    by_hand, on_engine = (Source(Config(init=init, manual=side)) for side in ("layers", "autograd"))
    assert by_hand.weights.keys() == on_engine.weights.keys()
    assert all(np.array_equal(by_hand.weights[name], on_engine.weights[name]) for name in by_hand.weights)
    assert all(np.array_equal(a, b) for a, b in zip(next(by_hand.epochs()), next(on_engine.epochs()), strict=True))


def refusals(side):
    r"""What a side of ``SIDES`` says to misuses: a gradient of another shape, a hook that changes the gradient's
    size, a gradient asked of an input the output does not use, a NumPy array or function taken of a tensor that
    requires grad (the graph would be cut), an intermediate told to stop requiring grad, a leaf zeroed in place,
    a view of a leaf changed in place, batched matrix products, a gradient asked of a tensor that does not require
    grad, and its gradient kept, a number of 8 elements, a second backward through a division, a view of a view of
    a leaf changed in place, float64 and float32 matrices multiplied, a hook that changes the gradient's dtype."""
    tensor, addmm = SIDES[side]
    grad = engine.grad if side == "engine" else torch.autograd.grad
    x, unused, cube = tensor([1.0, 2.0], True), tensor([3.0], True), tensor(np.ones((2, 2, 2)))
    square = tensor([[1.0, 2.0], [3.0, 4.0]], True)
    single = tensor(np.ones((2, 2))).float() if side == "torch" else engine.Tensor(np.ones((2, 2), np.float32))

    def divided_twice():
        s = (x / 2).sum()
        s.backward()
        s.backward()

    def retyped_by_a_hook():
        h = x * 1
        h.register_hook(lambda g: engine.Tensor(np.zeros(2, np.float32)) if side == "engine" else torch.zeros(2))
        h.sum().backward()

    def resized_by_a_hook():
        h = x * 1
        h.register_hook(lambda g: tensor([0.0, 0.0, 0.0]))
        h.sum().backward()
    said = []
    for misuse in (lambda: (x * 2).backward(tensor([1.0, 1.0, 1.0])), resized_by_a_hook,
                   lambda: grad((x * 2).sum(), [unused]), x.numpy, lambda: np.tanh(x),
                   lambda: (x * 2).requires_grad_(False), lambda: x.zero_(), lambda: x.t().mul_(2),
                   lambda: cube.mm(cube), cube.t, lambda: grad((x * 2).sum(), [tensor([1.0])]),
                   tensor([1.0]).retain_grad, cube.item, divided_twice, lambda: square.t().t().add_(1),
                   lambda: square.mm(single), lambda: addmm(tensor([0.0, 0.0]), square, single), retyped_by_a_hook):
        with pytest.raises(RuntimeError) as raised:
            misuse()
        said.append(str(raised.value).replace("torch.Size([", "(").replace("])", ",)"))
    return said


def test_misuses_are_refused_with_torch_s_words():
    mine, torch_s = refusals("engine"), refusals("torch")
    assert mine[0] == torch_s[0] and mine[2:] == torch_s[2:]
    assert mine[1] == "hook '<lambda>' has changed the size of value" and mine[1] in torch_s[1]


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_retain_grad_follows_an_in_place_change_as_torch_s(side):
    tensor, _ = SIDES[side]
    x = tensor([1.0, 2.0], True)
    h = x * 1
    h.retain_grad()
    h.mul_(3)
    (h * h).sum().backward()
    assert np.array_equal(values(h.grad), [6.0, 12.0])


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_a_hand_written_loop_s_requires_grad_and_zero_work_as_torch_s(side):
    tensor, _ = SIDES[side]
    w = tensor([1.0, 2.0]).requires_grad_()
    (w * w).sum().backward()
    w.grad.zero_()                        # else the next gradient adds to this one
    (w * 3).sum().backward()
    assert w.is_leaf and w.requires_grad and np.array_equal(np.asarray(w.grad), [3.0, 3.0])


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_grad_fills_no_grad_and_its_hessian_vector_product_is_exact(side):
    tensor, _ = SIDES[side]
    x, w, v = tensor([1.0, 2.0, 3.0], True), tensor([0.5, -1.0, 2.0], True), tensor([1.0, -2.0, 0.5])
    g, = grad_function(side)((x * w * w * w).sum(), [w], create_graph=True)       # 3 x w^2
    assert x.grad is None and w.grad is None
    (g * v).sum().backward()
    np.testing.assert_allclose(values(x.grad), 3 * values(w) ** 2 * values(v), rtol=0, atol=1e-12)
    np.testing.assert_allclose(values(w.grad), 6 * values(x) * values(w) * values(v), rtol=0, atol=1e-12)


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_grad_takes_one_tensor_and_the_output_s_gradient_and_gives_a_tuple(side):
    tensor, _ = SIDES[side]
    x = tensor([1.0, 2.0], True)
    found = grad_function(side)(x * 3, x, grad_outputs=tensor([1.0, 2.0]))
    assert isinstance(found, tuple) and np.array_equal(values(found[0]), [3.0, 6.0])


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_each_grad_is_its_own_and_the_next_gradient_adds_into_the_one_you_hold(side):
    tensor, _ = SIDES[side]
    x, w, g = tensor([1.0, 2.0], True), tensor([3.0, 4.0], True), tensor([1.0, 1.0])
    (x + w).backward(g)
    held = x.grad
    x.grad.zero_()                  # neither w's gradient nor g
    (x + w).backward(g)
    assert x.grad is held and np.array_equal(values(held), [1.0, 1.0])
    assert np.array_equal(values(w.grad), [2.0, 2.0]) and np.array_equal(values(g), [1.0, 1.0])


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_retain_grad_adds_up_and_keeps_what_the_other_hooks_made(side):
    tensor, _ = SIDES[side]
    x = tensor([1.0, 2.0], True)
    y = x * 1
    y.retain_grad()
    handle = y.register_hook(lambda g: g * 10)      # registered after retain_grad, run before it
    s = y.sum()
    s.backward(retain_graph=True)
    s.backward()
    assert np.array_equal(values(y.grad), [20.0, 20.0]) and np.array_equal(values(x.grad), [20.0, 20.0])
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert np.array_equal(values(x.grad), [1.0, 1.0])


def transposed_weight_changed(side):
    r"""``W.t()`` saved by a product, then ``W`` changed in place: the view shares ``W``'s version counter."""
    tensor, _ = SIDES[side]
    W = tensor([[1.0, 2.0], [3.0, 4.0]], True)
    y = tensor([[1.0, -1.0]], True).mm(W.t())
    with no_grad_of(side):
        W.mul_(5)
    with pytest.raises(RuntimeError) as raised:
        y.sum().backward()
    return re.sub(r", which is output 0 of \w+,", "", str(raised.value).split(" Hint:")[0])


def test_a_view_shares_the_version_counter_of_what_it_shows():
    r"""torch names the view's node ``AsStrided`` here; the engine ``T``: the rest is word for word."""
    assert transposed_weight_changed("engine") == transposed_weight_changed("torch")
    assert "[torch.DoubleTensor [2, 2]] is at version 1; expected version 0" in transposed_weight_changed("engine")


def test_a_step_taken_before_backward_is_refused_as_torch_refuses_it():
    raised = []
    for model, optimizer, criterion, X, y in article_steps(Config(dtype="float64", manual="autograd"))[1]:
        loss = criterion(model(X), y)
        loss.backward(retain_graph=True)
        optimizer.step()                                    # changes the weights loss's graph saved
        with pytest.raises(RuntimeError) as error:
            loss.backward()
        raised.append(str(error.value))
    assert all("modified by an inplace operation" in message for message in raised)


def test_integers_with_python_floats_promote_as_torch_s_and_a_tensor_holds_its_own_copy():
    data = np.array([1, 2, 3])
    for side, make in (("engine", engine.Tensor), ("torch", torch.tensor)):
        i = make(data)
        for result, expected in ((i * 0.5, [0.5, 1.0, 1.5]), (i + 0.5, [1.5, 2.5, 3.5]), (1.5 - i, [0.5, -0.5, -1.5])):
            assert np.asarray(result).tolist() == expected
        assert np.asarray(i * 2).dtype.kind == "i"
        t = make(data.astype(float), requires_grad=True)
        with no_grad_of(side):
            t -= 1
        assert data.tolist() == [1, 2, 3]


def test_a_float32_leaf_s_gradient_stays_float32_beside_float64_constants():
    for make in (engine.Tensor, torch.tensor):
        x = make(np.array([1.0, 2.0], np.float32), requires_grad=True)
        (x * make(np.array([3.0, 4.0]))).sum().backward()
        (x * 2.0).sum().backward(make(np.array(1.0)))                # a float64 gradient for a float32 output
        assert np.asarray(x.grad).dtype == np.float32 and np.asarray(x.grad).tolist() == [5.0, 6.0]
        assert np.asarray((x * np.float64(2)).detach()).dtype == np.float32         # a NumPy scalar is a number


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_a_transpose_is_a_view_of_the_same_numbers(side):
    tensor, _ = SIDES[side]
    w = tensor([[1.0, 2.0], [3.0, 4.0]], True)
    wt = w.t()
    with no_grad_of(side):
        w.t().mul_(2)
    assert values(w).tolist() == [[2.0, 4.0], [6.0, 8.0]]
    assert values(tensor([[1.0, 1.0]]).mm(wt)).tolist() == [[6.0, 14.0]]


def test_the_engine_refuses_a_recorded_in_place_change_of_a_view_or_of_a_tensor_that_has_one():
    r"""torch rebuilds the other's graph there (CopySlices); the engine refuses, where it gave wrong gradients."""
    w = engine.Tensor([[1.0, 2.0]], requires_grad=True)
    for change in (lambda h, v: v.mul_(3), lambda h, v: h.mul_(3),
                   lambda h, v: engine.Tensor(np.zeros((2, 1))).t().add_(w)):
        h = w * 1.0
        with pytest.raises(RuntimeError, match="cannot rebuild the other's graph"):
            change(h, h.t())


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")     # torch's, on the cycle it makes
@pytest.mark.parametrize("side", ["engine", "torch"])
def test_gradients_kept_under_create_graph_are_their_own_and_a_change_in_place_stales_them(side):
    tensor, _ = SIDES[side]
    a, b = tensor([1.0, 2.0], True), tensor([3.0, 4.0], True)
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    (a * 1.0).sum().backward()
    assert values(a.grad).tolist() == [2.0, 2.0] and values(b.grad).tolist() == [1.0, 1.0]
    w = tensor([1.0, 2.0], True)
    (w * w).sum().backward(create_graph=True)
    penalty = (w.grad * w.grad).sum()                       # saves w.grad
    (w * 1.0).sum().backward()                              # adds into w.grad, in place
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        penalty.backward()


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_retain_grad_twice_keeps_the_gradient_once(side):
    tensor, _ = SIDES[side]
    h = tensor([1.0, 2.0], True) * 1.0
    h.retain_grad()
    h.retain_grad()
    (h * 3.0).sum().backward()
    assert values(h.grad).tolist() == [3.0, 3.0]


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_grad_runs_only_the_graph_between_the_output_and_its_inputs(side):
    tensor, _ = SIDES[side]
    w = tensor([1.0, 2.0], True)
    s = w.sigmoid()
    g, = grad_function(side)((s * 3.0).sum(), s)
    (s * s).sum().backward()                                # the sigmoid's node did not run: not freed
    expected = 2 * values(s) * values(s) * (1 - values(s))
    assert values(g).tolist() == [3.0, 3.0] and np.allclose(values(w.grad), expected, rtol=0, atol=1e-15)


def test_an_integer_tensor_refuses_a_float_written_into_it():
    for make in (engine.Tensor, torch.tensor):
        i = make(np.array([1, 2, 3]))
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
            i -= 0.5


@pytest.mark.parametrize("loss", ["mse", "l1", "bce", "bce-logits", "cross-entropy"])
def test_the_engine_s_losses_refuse_a_reduction_other_than_the_mean(loss):
    with pytest.raises(ValueError, match="the engine's losses take the mean only"):
        manual.autograd_nn.LOSSES[loss](reduction="sum")


def test_the_summary_and_the_figures_name_the_engine_as_the_manual_side(capsys, tmp_path):
    status, out, _ = run_cli(["--epochs", "1", "--manual", "autograd", "--plot", str(tmp_path / "run.png"),
                              "--animate", str(tmp_path / "run.gif")], capsys)
    rows = [line.split()[:2] for line in out.splitlines() if line.startswith("  manual (")]
    assert status == 0 and rows == [["manual", "(autograd.py)"]]
    assert (tmp_path / "run.png").read_bytes().startswith(b"\x89PNG") and (tmp_path / "run.gif").exists()


def test_the_engine_s_run_starts_from_saved_weights(capsys, tmp_path):
    assert run_cli(["--epochs", "1", "--quiet", "--save-weights", str(tmp_path / "w.npz")], capsys)[0] == 0
    status, out, err = run_cli(["--epochs", "1", "--manual", "autograd", "--weights", str(tmp_path / "w.npz")], capsys)
    assert status == 0 and "AGREE" in out and err == ""


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_an_intermediate_s_kept_gradient_is_a_new_tensor_at_each_backward(side):
    tensor, _ = SIDES[side]
    y = tensor([1.0, 2.0], True) * 2.0
    y.retain_grad()
    s = y.sum()
    s.backward(retain_graph=True)
    first = y.grad
    s.backward()
    assert first is not y.grad and values(first).tolist() == [1.0, 1.0] and values(y.grad).tolist() == [2.0, 2.0]


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("side", ["engine", "torch"])
def test_gradients_come_back_in_each_tensor_s_dtype_and_a_cast_is_differentiated(side):
    tensor, _ = SIDES[side]
    make32 = (lambda d: tensor(d, True).detach().float().requires_grad_()) if side == "torch" else (
        lambda d: engine.Tensor(np.array(d, np.float32), True))
    w, seen = make32([1.0, 2.0]), []
    y = w * 1.0
    y.register_hook(lambda g: seen.append(np.asarray(g.detach()).dtype))
    (y * tensor([3.0, 4.0])).sum().backward(create_graph=True)    # a float64 constant: the product is float64
    assert seen == [np.float32] and np.asarray(w.grad.detach()).dtype == np.float32
    x, v = tensor([1.0, 2.0], True), make32([1.0, 1.0])
    g, = grad_function(side)(x * x, x, v, create_graph=True)        # grad_outputs in float32, cast to float64
    g.sum().backward()
    assert values(v.grad).tolist() == [2.0, 4.0]


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_manual_s_optimizers_step_after_a_backward_that_kept_its_graph():
    pair, steps = article_steps(Config(dtype="float64", manual="autograd", optimizer="adam"))
    for model, optimizer, criterion, X, y in steps:
        criterion(model(X), y).backward(create_graph=True)
        optimizer.step()
    manual_weights, torch_weights = pair.weights()
    np.testing.assert_allclose(manual_weights, torch_weights, rtol=0, atol=1e-12)


@pytest.mark.parametrize("side", ["engine", "torch"])
def test_a_handle_removes_its_own_registration_of_a_hook(side):
    tensor, _ = SIDES[side]
    x = tensor([1.0, 1.0], True)

    def double(g):
        return g * 2
    x.register_hook(double)
    x.register_hook(lambda g: g + 1)
    x.register_hook(double).remove()                        # the third registration, not the first
    (x * 1).sum().backward()
    assert values(x.grad).tolist() == [3.0, 3.0]


def test_a_tensor_prints_as_torch_s_does():
    for make in (engine.Tensor, lambda data, requires_grad=False: torch.tensor(data, requires_grad=requires_grad)):
        assert repr(make([4.0, 8.0])) == "tensor([4., 8.])"
        assert repr(make([[1.0, 1.0], [1.0, 1.0]], requires_grad=True)) == (
            "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)")
        assert repr(make([1.0, 2.0], requires_grad=True) * 2.0) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
