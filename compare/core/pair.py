r"""The two sides of a comparison, ready for one step: a ``Pair``.

A ``Pair`` holds a manual and a torch model with identical weights, each side's loss and optimizer
(with the optimizer state a step starts from), and the tolerance by which their numbers are
compared. ``pair.trace(X, y)`` takes one step layer by layer on both sides and returns every
intermediate quantity of both, in computation order: what every tool prints and checks.
"""
from dataclasses import dataclass, replace

import numpy as np
import torch

import manual
import manual.autograd
import manual.autograd_nn
import manual.playground
import manual.train
import torch_impl
import torch_impl.playground
import torch_impl.train

DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
# |manual - torch| <= atol + rtol |torch|, element by element (docs/agreement.md)
TOLERANCES = {"float32": {"atol": 1e-6, "rtol": 1e-4}, "float64": {"atol": 1e-12, "rtol": 1e-9}}
INITS = ("xavier", "torch-default", "playground", "zero")   # the last two: Playground's, and its initZero
OPTIMIZERS = {"sgd": (manual.SGD, torch.optim.SGD), "adam": (manual.Adam, torch.optim.Adam),
              "adamw": (manual.AdamW, torch.optim.AdamW)}


def tolerance_ratio(manual_value, torch_value, dtype, extra=0.0):
    r"""``|manual - torch| / (atol + rtol |torch| + extra)`` element by element, with ``TOLERANCES[dtype]``:
    the two agree where it is <= 1 (a NaN is never <= 1)."""
    tol = TOLERANCES[dtype]
    return np.abs(manual_value - torch_value) / (tol["atol"] + tol["rtol"] * np.abs(torch_value) + extra)


def update_tolerance(config, before, after):
    r"""What an update adds to the tolerance of the weights after it. The step ``after - before`` is made
    from the gradient, so it carries the gradient's relative rounding, and ``lr`` multiplies the
    gradient's absolute tolerance: ``rtol |after - before| + lr atol`` (docs/agreement.md)."""
    tol = TOLERANCES[config.dtype]
    return tol["rtol"] * np.abs(after - before) + config.lr * tol["atol"]


def read_only(array):
    r"""A private read-only copy for the manual side: a step that writes into its input fails loudly."""
    array = np.array(array)
    array.setflags(write=False)
    return array


def flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays] or [np.zeros(0)])


def sizes(config):
    r"""Units per layer, the inputs first: ``(2, 3, 3, 1)`` for the article's network."""
    return (len(config.features), *config.hidden, manual.train.LOSSES[config.loss][2])


def by_hand(config):
    r"""``config`` with manual/nn.py's network as the manual side: the same weights, forward pass and loss as the
    engine's under ``--manual autograd``, computed on arrays (initial weights, finite differences, overflow checks)."""
    return replace(config, manual="layers")


def outputs(models, X):
    r"""Both models' outputs on the points ``X``, ``(manual, torch)`` as arrays, each side on its own copy, recorded
    by neither autograd (torch's, nor manual/autograd.py's for ``--manual autograd``)."""
    with torch.no_grad(), manual.autograd.no_grad():
        return np.asarray(models[0](read_only(X))), models[1](torch.tensor(X)).numpy()


def manual_model(config, rng=None):
    r"""``config``'s network on the manual side, its weights drawn from ``rng`` as ``nn.Linear`` draws them:
    ``manual.NeuralNetwork``, or with ``config.manual == "autograd"`` the same on ``manual/autograd.py``."""
    network = manual.autograd_nn.NeuralNetwork if config.manual == "autograd" else manual.NeuralNetwork
    return network(config.hidden, config.activations, config.output_activation,
                                dtype=DTYPES[config.dtype][0], rng=rng or np.random.default_rng(0),
                                in_features=len(config.features), out_features=sizes(config)[-1])


def criteria(config):
    r"""The loss ``config.loss`` on both sides, ``manual``'s and torch's (``manual.train.LOSSES``), but
    for ``mse`` under ``rules="playground"`` Playground's half of it."""
    if config.loss == "mse" and config.rules == "playground":
        return manual.playground.HalfMSELoss(), torch_impl.playground.HalfMSELoss()
    manual_loss = (manual.autograd_nn.LOSSES[config.loss] if config.manual == "autograd"
                   else manual.train.LOSSES[config.loss][0])
    return manual_loss(), torch_impl.train.LOSSES[config.loss][0]()


def optimizer_options(config):
    r"""The keyword arguments of the optimizer ``config`` asks for: torch's signature, shared by both sides."""
    if config.rules == "playground":
        return {"lr": config.lr, "regularization": config.regularization,
                "regularization_rate": config.regularization_rate}
    if config.optimizer == "sgd":
        return {"lr": config.lr, "momentum": config.momentum, "weight_decay": config.weight_decay,
                "nesterov": config.nesterov}
    return {"lr": config.lr, "betas": config.betas, "eps": config.eps, "weight_decay": config.weight_decay,
            "amsgrad": config.amsgrad}


def weights_and_biases(model):
    r"""Playground's parameter groups: the weights regularised, the biases never."""
    parameters = list(model.named_parameters())
    return [{"params": [p for name, p in parameters if name.endswith(".weight")]},
            {"params": [p for name, p in parameters if name.endswith(".bias")], "regularization": "none"}]


def optimizers(config, manual_model, torch_model):
    r"""The same optimizer with the same hyper-parameters on both sides (``ValueError`` where torch refuses).

    Under ``config.rules == "playground"``: ``PlaygroundSGD`` on both sides, weights and biases in
    separate groups.
    """
    options = optimizer_options(config)
    if config.rules == "playground":
        return (manual.playground.PlaygroundSGD(weights_and_biases(manual_model), **options),
                torch_impl.playground.PlaygroundSGD(weights_and_biases(torch_model), **options))
    manual_class, torch_class = OPTIMIZERS[config.optimizer]
    return manual_class(manual_model.parameters(), **options), torch_class(torch_model.parameters(), **options)


def converted(entries, dtype, tensor):
    r"""A copy of one parameter's optimizer state with its arrays in ``dtype`` (masks stay boolean) and its
    step count as manual keeps it (an int) or as torch does (a 0-d tensor)."""
    copied = {}
    for key, value in entries.items():
        if key == "step":
            copied[key] = torch.tensor(float(value)) if tensor else int(value)
        else:
            value = value.astype(dtype) if value.dtype.kind == "f" else value.copy()
            copied[key] = torch.tensor(value) if tensor else value
    return copied


class Pair:
    r"""Both sides, ready for a step: the two models with ``weights`` (a state dict), their losses and their
    optimizers, each starting from the optimizer ``state`` (manual's, per parameter; none: a fresh one).
    ``ValueError`` for weights that do not fit, or settings torch's optimizer refuses."""

    def __init__(self, config, weights, state=None):
        self.config = config
        architecture = (config.hidden, config.activations, config.output_activation)
        torch_model = torch_impl.NeuralNetwork(*architecture, dtype=DTYPES[config.dtype][1],
                                               in_features=len(config.features), out_features=sizes(config)[-1])
        self.models = (manual_model(config), torch_model)
        self.models[0].load_state_dict(weights)
        with torch.no_grad():   # from the given weights themselves: a manual load_state_dict that loads nothing shows
            for name, q in torch_model.named_parameters():
                q.copy_(torch.as_tensor(np.asarray(weights[name])))
        self.criteria = criteria(config)
        # the manual side's train_step, valid_step and ACTIVATIONS
        self.manual_code = manual.autograd_nn if config.manual == "autograd" else manual
        self.optimizers = optimizers(config, *self.models)
        self.params = tuple(list(model.parameters()) for model in self.models)
        self.names = [name for name, _ in self.models[0].named_parameters()]
        for p, q, entries in zip(*self.params, state or [{}] * len(self.names), strict=True):
            if entries:
                self.optimizers[0].state[p] = converted(entries, DTYPES[config.dtype][0], tensor=False)
                self.optimizers[1].state[q] = converted(entries, DTYPES[config.dtype][0], tensor=True)

    def manual_step(self, X, y):
        r"""manual's ``train_step`` on the batch: ``(loss, correct)``."""
        return self.manual_code.train_step(self.models[0], self.optimizers[0], self.criteria[0], X, y)

    def torch_step(self, X, y):
        return torch_impl.train_step(self.models[1], self.optimizers[1], self.criteria[1], X, y)

    def manual_valid(self, X, y):
        r"""manual's ``valid_step`` on the batch, no training: ``(loss, correct)``."""
        return self.manual_code.valid_step(self.models[0], self.criteria[0], X, y)

    def torch_valid(self, X, y):
        return torch_impl.valid_step(self.models[1], self.criteria[1], X, y)

    def outputs(self, X):
        r"""Both models' outputs on the points ``X`` (``outputs``)."""
        return outputs(self.models, X)

    def manual_state(self):
        r"""A copy of manual's optimizer state, per parameter: what ``Pair(config, weights, state)`` starts from."""
        return [{key: np.copy(value) for key, value in self.optimizers[0].state.get(p, {}).items()}
                for p in self.params[0]]

    def weights(self):
        r"""Both sides' parameters, each flattened in parameter order."""
        manual_params, torch_params = self.params
        return flat([p.data for p in manual_params]), torch.cat([q.detach().ravel() for q in torch_params]).numpy()

    def gradients(self):
        manual_params, torch_params = self.params
        return flat([p.grad for p in manual_params]), torch.cat([q.grad.ravel() for q in torch_params]).numpy()

    def state_pairs(self):
        r"""``(manual array, torch tensor)`` of every optimizer state entry but ``step``, parameter by parameter."""
        manual_state, torch_state = (optimizer.state for optimizer in self.optimizers)
        return [(manual_state[p][key], torch_state[q][key]) for p, q in zip(*self.params, strict=True)
                for key in sorted(manual_state.get(p, {})) if key != "step"]

    def optimizer_states(self):
        r"""Momentum buffers, Adam's moments, ... as float64 (Playground's dead-link masks are boolean)."""
        pairs = self.state_pairs()
        return (flat([a for a, _ in pairs]).astype(np.float64),
                torch.cat([b.ravel().double() for _, b in pairs] or [torch.zeros(0)]).numpy())

    def synchronise(self):
        r"""Copy manual's weights and optimizer state into torch's: the next step starts from identical values."""
        with torch.no_grad():
            for p, q in zip(*self.params, strict=True):
                q.copy_(torch.as_tensor(np.asarray(p.data)))
            for manual_value, torch_value in self.state_pairs():
                torch_value.copy_(torch.as_tensor(np.asarray(manual_value)))

    def trace(self, X, y):
        r"""One step on both sides, layer by layer, from the pair's weights and state: the ``Row`` of every
        quantity in computation order (``x_k``, ``z_k``, ``a_k``; the loss and ``dL/dy_pred``; from the output
        back ``dL/da_k``, ``dL/dz_k``, ``dL/dW_k``, ``dL/db_k``, ``dL/dx_k``; after the optimizer's step
        ``new_W_k``, ``new_b_k``). An autograd side's intermediates come from ``retain_grad``. ``X`` and ``y``
        are arrays of ``config.dtype``; neither side can change them."""
        X, y = read_only(X), read_only(y)
        for optimizer in self.optimizers:
            optimizer.zero_grad()
        by_hand = self.config.manual == "layers"
        sides = (manual_by_hand(*self.models[:1], self.criteria[0], X, y) if by_hand
                 else recorded(self.models[0], self.criteria[0], X, y, manual.autograd.Tensor),
                 recorded(self.models[1], self.criteria[1], X, y, torch.tensor))
        for optimizer in self.optimizers:
            optimizer.step()
        layers = [name for (name, _), _ in layer_pairs(self.models[0])]
        loss = type(self.criteria[0]).__name__
        names = [(f"{q}{k}", name) for k, name in enumerate(layers, 1) for q in ("x", "z", "a")]
        names += [("loss", loss), ("dL/dy_pred", loss)]
        names += [(f"dL/d{q}{k}", f"{name}.weight" if q == "W" else f"{name}.bias" if q == "b" else name)
                  for k, name in reversed(list(enumerate(layers, 1))) for q in ("a", "z", "W", "b", "x")]
        rows = [Row(quantity, where, sides[0][quantity], sides[1][quantity]) for quantity, where in names]
        layer_pairs_of_both = zip(*map(layer_pairs, self.models), strict=True)
        for k, (((name, layer), _), ((_, t_layer), _)) in enumerate(layer_pairs_of_both, 1):
            rows += [Row(f"new_W{k}", f"{name}.weight", np.array(layer.weight.data), t_layer.weight),
                     Row(f"new_b{k}", f"{name}.bias", np.array(layer.bias.data), t_layer.bias)]
        return rows


def manual_by_hand(model, criterion, X, y):
    r"""manual's every intermediate of one step, by its layers' own ``forward`` and ``backward``."""
    values, x, forward = {}, X, []
    for k, ((_, layer), (_, activation)) in enumerate(layer_pairs(model), 1):
        z = layer(x)
        a = activation(z)
        values.update({f"x{k}": x, f"z{k}": z, f"a{k}": a})
        forward.append((k, layer, activation))
        x = a
    values["loss"] = np.asarray(criterion(x, y))
    da = values["dL/dy_pred"] = criterion.backward()
    for k, layer, activation in reversed(forward):
        dz = activation.backward(da)
        dx = layer.backward(dz)
        values.update({f"dL/da{k}": da, f"dL/dz{k}": dz, f"dL/dW{k}": layer.weight.grad,
                       f"dL/db{k}": layer.bias.grad, f"dL/dx{k}": dx})
        da = dx
    return values


def recorded(model, criterion, X, y, make):
    r"""An autograd side's every intermediate of one step (torch's, or ``manual/autograd.py``'s: the same
    calls): the forward pass layer by layer, each ``z`` and ``a`` kept by ``retain_grad``, then
    ``loss.backward()``. ``make(array, requires_grad=...)`` makes that side's tensors."""
    x, forward = make(X, requires_grad=True), []
    for k, ((_, layer), (_, activation)) in enumerate(layer_pairs(model), 1):
        z = layer(x)
        a = activation(z)
        for t in (z, a):
            t.retain_grad()
        forward.append((k, layer, x, z, a))
        x = a
    loss = criterion(x, make(y, requires_grad=False))
    loss.backward()
    values = {"loss": loss, "dL/dy_pred": x.grad}
    for k, layer, x, z, a in forward:
        values.update({f"x{k}": x, f"z{k}": z, f"a{k}": a, f"dL/da{k}": a.grad, f"dL/dz{k}": z.grad,
                       f"dL/dW{k}": layer.weight.grad, f"dL/db{k}": layer.bias.grad, f"dL/dx{k}": x.grad})
    return {name: np.array(value.detach().numpy()) for name, value in values.items()}


def layer_pairs(model):
    r"""``[((name, layer), (name, activation)), ...]``: each linear layer with the activation after it."""
    children = list(model.named_children())
    return list(zip(children[0::2], children[1::2], strict=True))


@dataclass
class Row:
    r"""One quantity of a step, on both sides (a torch tensor is copied to an array)."""
    name: str              # e.g. "z2", "dL/dW1"
    where: str             # e.g. "layer2", "layer1.weight", "MSELoss"
    manual: np.ndarray
    torch: np.ndarray

    def __post_init__(self):
        if isinstance(self.torch, torch.Tensor):
            self.torch = self.torch.detach().numpy().copy()

    @property
    def kind(self):
        return self.name.rstrip("0123456789")

    @property
    def max_abs_diff(self):
        return float(np.abs(self.manual - self.torch).max(initial=0.0))

    @property
    def max_rel_diff(self):
        scale = np.maximum(np.abs(self.manual), np.abs(self.torch))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(scale > 0, np.abs(self.manual - self.torch) / scale, 0.0)
        return float(rel.max(initial=0.0))

    def status(self, dtype):
        r"""``exact``, ``close``, ``DIFFERENT``, or ``non-finite`` where both sides hold a NaN or an infinity."""
        if self.manual.shape != self.torch.shape:
            return "DIFFERENT"
        if np.array_equal(self.manual, self.torch):
            return "exact"
        if not (np.isfinite(self.manual).all() or np.isfinite(self.torch).all()):
            return "non-finite"                      # both overflowed: the step diverges, it is not a bug
        return "close" if np.all(tolerance_ratio(self.manual, self.torch, dtype) <= 1) else "DIFFERENT"


def first_difference(rows, dtype):
    r"""The first ``DIFFERENT`` or ``non-finite`` row, or None."""
    return next((row for row in rows if row.status(dtype) in ("DIFFERENT", "non-finite")), None)
