r"""What ``loss.backward()`` does, behaviour by behaviour, on manual's engine (manual/autograd.py) beside torch.

``python -m compare.engine`` takes seed 1's first step of the article's network (float64), and on
both sides shows: the graph and the gradient along each of its edges, that two ``backward()`` calls
add up (and micro-batches make a batch), ``retain_graph``, the version counter, ``no_grad`` and
``detach``, hooks, a layer's VJP and Jacobian, the Hessian of the loss by ``create_graph=True``, and
manual's hand-written layers as ``torch.autograd.Function``s. Each section ends in ``same on both
sides`` or ``DIFFERENT``; docs/autograd.md prints and explains the output.
"""
import numpy as np
import torch

import manual
import manual.autograd as engine
import torch_impl

from . import cli, functions
from .core.config import Config
from .core.pair import Pair
from .core.source import Source
from .graph import edges, first_unequal, graph_lines, step_graphs


def article_step(seed=1):
    r"""``(pair, X, y)``: both networks of the article with seed ``seed``'s first weights, and its first batch."""
    config = Config(dtype="float64", manual="autograd", seed=seed)
    weights, _, X, y = Source(config).step(1)
    return Pair(config, weights), X, y


def losses(pair, X, y):
    r"""The loss of ``X, y`` on each side, its graph recorded: ``(engine's, torch's)``."""
    (model, t_model), (criterion, t_criterion) = pair.models, pair.criteria
    return criterion(model(X), y), t_criterion(t_model(torch.tensor(X)), torch.tensor(y))


def grads(pair):
    r"""Each side's gradients, flattened, in parameter order (zeros where ``.grad`` is None)."""
    return [np.concatenate([np.ravel(np.zeros(np.shape(p.data)) if p.grad is None else np.asarray(p.grad.data))
                            for p in params]) for params in pair.params]


def compared(label, value, other, tolerance=1e-12):
    r"""One line: the largest difference of two values (arrays or torch tensors), and whether it is within
    ``tolerance``."""
    value, other = (v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for v in (value, other))
    diff = float(np.max(np.abs(value - other), initial=0.0))
    return f"  {label:64} max |diff| {diff:.1e}", diff <= tolerance


def failure(run):
    r"""The ``RuntimeError`` that ``run()`` raises, or ``"no error"``."""
    try:
        run()
    except RuntimeError as exc:
        return str(exc)
    return "no error"


def graph_section(pair, X, y):
    weights = {n: p.data for n, p in pair.models[0].named_parameters()}
    torch_side, engine_side, recorded = step_graphs(pair.config, weights, X, y)
    paired = edges(torch_side, engine_side)
    lines = graph_lines(paired, torch_side[0], recorded.models[1], pair.config.dtype)
    return lines, first_unequal(paired, pair.config.dtype) is None


def zero_grads(pair):
    for optimizer in pair.optimizers:
        optimizer.zero_grad()


def accumulation_section(pair, X, y):
    zero_grads(pair)
    after = []
    for _ in (1, 2):
        for loss in losses(pair, X, y):
            loss.backward()
        after.append(grads(pair))
    checks = [compared(f"after backward() no. {k}: every .grad", *both) for k, both in enumerate(after, 1)]
    checks += [compared(f"the second doubled it: .grad - 2 x the first's ({side})", after[1][i], 2 * after[0][i])
               for i, side in enumerate(("engine", "torch"))]
    zero_grads(pair)
    lines = [f"  after zero_grad(): .grad is {pair.params[0][0].grad} (engine), {pair.params[1][0].grad} (torch)"]
    for start in range(0, len(X), 3):               # five micro-batches of 3, each loss divided by 5
        for loss in losses(pair, X[start:start + 3], y[start:start + 3]):
            (loss / (len(X) // 3)).backward()
    checks += [compared(f"5 micro-batches of 3, loss / 5, vs the batch of 15 ({side})", grads(pair)[i], after[0][i])
               for i, side in enumerate(("engine", "torch"))]
    return [line for line, _ in checks[:4]] + lines + [line for line, _ in checks[4:]], all(ok for _, ok in checks)


def retain_graph_section(pair, X, y):
    lines = []
    for side, loss in zip(("engine", "torch"), losses(pair, X, y), strict=True):
        loss.backward()
        lines.append(f"  {side:6} second backward(): {failure(loss.backward)[:64]}...")
    zero_grads(pair)
    for loss in losses(pair, X, y):
        loss.backward(retain_graph=True)
        loss.backward()
    line, same = compared("retain_graph=True, then backward() again: .grad", *grads(pair))
    return lines + [line], same and all("a second time" in text for text in lines)


def version_section(pair, X, y):
    r"""a1 = tanh(z1) is saved by layer 2's ``AddmmBackward0`` (for dL/dW2) and by ``TanhBackward0``; changed in
    place, both sides refuse to use it, with the same message (torch adds a hint on anomaly detection)."""
    messages = []
    for side, make in (("engine", engine.Tensor), ("torch", torch.tensor)):
        model = pair.models[side == "torch"]
        a1 = model.activation1(model.layer1(make(X)))
        loss = pair.criteria[side == "torch"](model.acti_out(model.layer_out(model.activation2(model.layer2(a1)))),
                                              make(y))
        a1.mul_(2)
        messages.append(failure(loss.backward).split(" Hint:")[0])
    start = "one of the variables needed for gradient computation has been modified by an inplace operation: "
    lines = [f"  a1.mul_(2), then backward(): {start}...",
             *(f"  {side:6} ...{message.removeprefix(start)}" for side, message in zip(("engine", "torch"), messages,
                                                                                         strict=True))]
    right, wrong = manual_by_hand(pair, X, y, change=False), manual_by_hand(pair, X, y, change=True)
    lines.append(f"  manual/nn.py, activation1.a *= 2 before backward: no error, and dL/dW1 is off by "
                 f"{np.abs(wrong - right).max():.2e}")
    return lines, messages[0] == messages[1] and messages[0].startswith(start)


def manual_by_hand(pair, X, y, change):
    r"""layer1's dL/dW by ``manual/nn.py`` from the pair's weights, ``activation1.a`` doubled in place if ``change``."""
    model = manual.NeuralNetwork(dtype=np.float64)
    model.load_state_dict({n: p.data for n, p in pair.models[0].named_parameters()})
    criterion = manual.MSELoss()
    criterion(model(X), y)
    if change:
        model.activation1.a *= 2              # nothing records that the saved value changed
    model.backward(criterion.backward())
    return model.layer1.weight.grad


def no_grad_section(pair, X, y):
    with engine.no_grad(), torch.no_grad():
        outputs = pair.models[0](X), pair.models[1](torch.tensor(X))
    lines = [f"  under no_grad(): grad_fn {outputs[0].grad_fn} (engine), {outputs[1].grad_fn} (torch)"]
    for side, make in (("engine", engine.Tensor), ("torch", torch.tensor)):
        model = pair.models[side == "torch"]
        for p in model.parameters():
            p.grad = None
        hidden = model.activation1(model.layer1(make(X))).detach()     # cut: no gradient reaches layer1
        pair.criteria[side == "torch"](model.acti_out(model.layer_out(model.activation2(model.layer2(hidden)))),
                                       make(y)).backward()
        lines.append(f"  {side:6} after a1.detach(): layer1.weight.grad is {model.layer1.weight.grad}, "
                     f"layer2.weight.grad is {'set' if model.layer2.weight.grad is not None else None}")
    return lines, outputs[0].grad_fn is None and outputs[1].grad_fn is None


def hooks_section(pair, X, y):
    seen = {}
    for side, make in (("engine", engine.Tensor), ("torch", torch.tensor)):
        model = pair.models[side == "torch"]
        a1 = model.activation1(model.layer1(make(X)))
        a1.register_hook(lambda grad, side=side: seen.__setitem__(side, np.asarray(grad.detach().numpy())))
        pair.criteria[side == "torch"](model.acti_out(model.layer_out(model.activation2(model.layer2(a1)))),
                                       make(y)).backward()
    line, same = compared("a1.register_hook: dL/da1 as each hook saw it", seen["engine"], seen["torch"])
    return [line], same


def layer_function(module, make):
    r"""layer1 then its tanh, as a function of the batch: ``x -> tanh(x W^T + b)`` on one side."""
    return lambda x: module.activation1(module.layer1(make(x)))


def vjp_section(pair, X, y):
    rng = np.random.default_rng(0)
    v = rng.standard_normal((len(X), 3))
    x = engine.Tensor(X, requires_grad=True)
    out = layer_function(pair.models[0], engine.tensor)(x)
    out.backward(v)
    t_out, t_vjp = torch.func.vjp(layer_function(pair.models[1], lambda t: t), torch.tensor(X))
    line, same = compared("layer 1's VJP v^T J at a random v, vs torch.func.vjp", x.grad.data,
                          t_vjp(torch.tensor(v))[0])
    jacobian = np.stack([one_hot_vjp(pair.models[0], X, i) for i in range(out.data.size)])
    t_jacobian = torch.func.jacrev(layer_function(pair.models[1], lambda t: t))(torch.tensor(X))
    line2, same2 = compared(f"the {jacobian.shape[0]} x {X.size} Jacobian from one-hot VJPs, vs torch.func.jacrev",
                            jacobian, t_jacobian.reshape(jacobian.shape))
    return [line, line2], same and same2


def one_hot_vjp(model, X, i):
    r"""Row ``i`` of layer 1's Jacobian: the VJP of the ``i``-th one-hot vector, one backward each."""
    x = engine.Tensor(X, requires_grad=True)
    out = layer_function(model, engine.tensor)(x)
    out.backward(np.eye(out.data.size)[i].reshape(out.shape))
    return x.grad.data.ravel()


def engine_hessian(pair, X, y):
    r"""The Hessian of the loss in every parameter by the engine: the gradient recorded (``create_graph``),
    then one backward of ``sum(gradient * e_i)`` per parameter element i."""
    params = pair.params[0]
    loss = losses(pair, X, y)[0]
    gradient = engine.grad(loss, params, create_graph=True)
    rows = []
    for k, p in enumerate(params):
        for index in np.ndindex(p.shape):
            e = np.zeros(p.shape)
            e[index] = 1
            row = engine.grad((gradient[k] * e).sum(), params, retain_graph=True)
            rows.append(np.concatenate([g.data.ravel() for g in row]))
    return np.array(rows)


def torch_loss_of(model, criterion, X, y):
    r"""The loss of torch's ``model`` as a function of all its parameters flattened into one vector, for
    ``torch.func``, and that vector now."""
    names = [(name, p.shape) for name, p in model.named_parameters()]

    def loss(theta):
        chunks, start = {}, 0
        for name, shape in names:
            chunks[name] = theta[start:start + shape.numel()].reshape(shape)
            start += shape.numel()
        return criterion(torch.func.functional_call(model, chunks, (torch.tensor(X),)), torch.tensor(y))
    return loss, torch.cat([p.detach().ravel() for p in model.parameters()])


def hessian_section(pair, X, y):
    H = engine_hessian(pair, X, y)
    loss, theta = torch_loss_of(pair.models[1], pair.criteria[1], X, y)
    line, same = compared(f"the {H.shape[0]} x {H.shape[1]} Hessian (create_graph=True), vs torch.func.hessian", H,
                          torch.func.hessian(loss)(theta), tolerance=1e-10)
    v = np.random.default_rng(0).standard_normal(len(theta))
    gradient = torch.autograd.grad(loss(theta.requires_grad_()), theta, create_graph=True)[0]
    t_hvp = torch.autograd.grad(gradient @ torch.tensor(v), theta)[0]
    line2, same2 = compared("a Hessian-vector product H v, vs torch's double backward", H @ v, t_hvp, tolerance=1e-10)
    return [line, line2, f"  H is symmetric: max |H - H^T| {np.abs(H - H.T).max():.1e}"], same and same2


def functions_section(pair, X, y):
    r"""manual/layers.py's layers as ``torch.autograd.Function``s (compare/functions.py): torch runs manual's
    backward passes, which pass gradcheck and fail gradgradcheck; ``@once_differentiable`` turns the wrong
    second derivative into an error."""
    runs = [functions.article_run(network(dtype=torch.float64), epochs=1)
            for network in (functions.NeuralNetwork, torch_impl.NeuralNetwork)]
    trained = [np.concatenate([losses, *(p.detach().numpy().ravel() for p in model.parameters())])
               for losses, model in runs]
    line, same = compared(f"one epoch ({len(runs[0][0])} steps) in torch on manual's layers vs torch_impl's: "
                          "losses, weights", *trained)
    checks, passed = gradchecks(pair.models[1].layer1, X)
    twice, refused = second_derivatives(pair, X, y)
    return [line, *checks, *twice], same and passed and refused


def gradchecks(layer, X):
    r"""gradcheck of ``functions.Linear`` (with ``layer``'s weights, on the batch ``X``) and of the activations:
    passed; gradgradcheck of ``Linear``: failed, its second derivative taken to be 0."""
    x, weight, bias = (torch.tensor(np.asarray(v), requires_grad=True) for v in (X, layer.weight.data, layer.bias.data))
    passed = torch.autograd.gradcheck(functions.Linear.apply, (x, weight, bias), raise_exception=False) and all(
        torch.autograd.gradcheck(lambda z, name=name: functions.Activation.apply(z, name), (x,), raise_exception=False)
        for name in ("tanh", "sigmoid"))
    gradgrad = failure(lambda: torch.autograd.gradgradcheck(functions.Linear.apply, (x, weight, bias)))
    return [f"  torch.autograd.gradcheck (Linear, tanh, sigmoid; finite differences): {'passed' if passed else 'no'}",
            f"  torch.autograd.gradgradcheck (Linear): {gradgrad.splitlines()[0]}"], passed and "to be zero" in gradgrad


def second_derivatives(pair, X, y):
    r"""The loss's Hessian through manual's layers (zeros, without a word), and a double backward through them
    without and with ``@once_differentiable``: ``(lines, whether the marked one refused)``."""
    models = [functions.NeuralNetwork(dtype=torch.float64, once=once) for once in (False, True)]
    for model in models:
        model.load_state_dict(pair.models[1].state_dict())
    criterion = pair.criteria[1]
    hessians = [torch.autograd.functional.hessian(*torch_loss_of(model, criterion, X, y))
                for model in (models[0], pair.models[1])]
    twice = [failure(lambda model=model: functions.double_backward(model, criterion, torch.tensor(X), torch.tensor(y)))
             for model in models]
    return [f"  torch.autograd.functional.hessian of the loss: max |H| {hessians[0].abs().max():.1e} "
            f"(torch_impl's network: {hessians[1].abs().max():.1e})",
            f"  double backward: {twice[0]}",
            f"  the same, @once_differentiable: {twice[1]}"], "@once_differentiable" in twice[1]


SECTIONS = [
    ("The graph of one step, node by node (python -m compare.trace --graph FILE draws it)", graph_section),
    ("Two backward() calls add up; zero_grad() clears; micro-batches make the batch", accumulation_section),
    ("retain_graph: the saved values are freed after a backward", retain_graph_section),
    ("The version counter: a saved value changed in place", version_section),
    ("no_grad() records nothing; detach() stops the gradient", no_grad_section),
    ("Hooks see the gradient the engine passes on", hooks_section),
    ("backward() computes a vector-Jacobian product, not a Jacobian", vjp_section),
    ("create_graph=True: the gradient differentiated again, the Hessian", hessian_section),
    ("manual/layers.py as torch.autograd.Functions: torch runs manual's backward (compare/functions.py)",
     functions_section),
]


def shown(section, pair, X, y):
    r"""What ``section`` prints for the step ``pair, X, y``, its verdict last, and whether both sides were the same."""
    lines, same = section(pair, X, y)
    return "\n".join([*lines, f"  -> {'same on both sides' if same else 'DIFFERENT'}"]), same


def main(argv=None):
    cli.parser("python -m compare.engine", __doc__.split("\n\n")[0], []).parse_args(argv)
    pair, X, y = article_step()
    print("Seed 1's first step of the article's network (float64): manual/autograd.py beside torch.\n")
    results = []
    for title, section in SECTIONS:
        text, same = shown(section, pair, X, y)
        results.append(same)
        print(title, text, "", sep="\n")
    print("Every behaviour is the same on both sides." if all(results) else "Some behaviour DIFFERS.")
    return 0 if all(results) else 1


if __name__ == "__main__":
    cli.run(main)
