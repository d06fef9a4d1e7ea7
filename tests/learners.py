r"""Hand-written networks of the two shapes compare.check takes, written apart from manual/, each with
a switch for every classic mistake the checker names. Not a test file: test_check.py builds them."""
import numpy as np

ACTIVATIONS = {                     # f(z), and f'(z) written as learners write it: in a where they can
    "tanh": (np.tanh, lambda z, a: 1 - a ** 2),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
}
MISTAKES = ("transposed", "half", "sum", "bias not summed", "at z", "at a", "accumulate", "input")


def loss_and_gradient(loss, out, y, mistake):
    r"""The loss of the outputs and dL/dout; ``half`` forgets MSE's 2, ``sum`` the mean's 1/N."""
    n = 1 if mistake == "sum" else y.size if loss in ("mse", "bce-logits") else len(y)
    if loss == "mse":
        return np.mean((out - y) ** 2), (1 if mistake == "half" else 2) * (out - y) / n
    if loss == "bce-logits":
        p = 1 / (1 + np.exp(-out))
        return np.mean(np.maximum(out, 0) - out * y + np.log1p(np.exp(-np.abs(out)))), (p - y) / n
    shifted = out - out.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -np.mean(log_softmax[np.arange(len(y)), y]), (np.exp(log_softmax) - np.eye(out.shape[1])[y]) / n


class Net:
    r"""cs231n style: ``params`` W1, b1, ... of shapes (in, out), ``loss(X, y) -> (loss, grads)``; the
    mistake ``mistake`` planted at layer ``at`` (from 1)."""

    def __init__(self, sizes, activations, loss="mse", mistake=None, at=1, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {}
        for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False), 1):
            self.params[f"W{k}"] = rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_out))
            self.params[f"b{k}"] = np.zeros(n_out)
        self.activations, self.loss_name, self.mistake, self.at = activations, loss, mistake, at
        self.kept = None

    def loss(self, X, y=None):
        xs, zs, a = [], [], X
        for k, name in enumerate(self.activations, 1):
            xs.append(a)
            zs.append(a @ self.params[f"W{k}"] + self.params[f"b{k}"])
            a = ACTIVATIONS[name][0](zs[-1])
        if y is None:
            return a
        value, da = loss_and_gradient(self.loss_name, a, y, self.mistake)
        grads = {}
        for k in reversed(range(1, len(self.activations) + 1)):
            f, f_prime = ACTIVATIONS[self.activations[k - 1]]
            z, out = zs[k - 1], f(zs[k - 1])
            here = k == self.at
            if here and self.mistake == "at z":
                dz = da * f_prime(z, z)
            elif here and self.mistake == "at a":
                dz = da * f_prime(out, f(out))
            else:
                dz = da * f_prime(z, out)
            x = xs[k - 2] if here and self.mistake == "input" else xs[k - 1]
            grads[f"W{k}"] = dz.T @ x if here and self.mistake == "transposed" else x.T @ dz
            grads[f"b{k}"] = dz if here and self.mistake == "bias not summed" else dz.sum(axis=0)
            da = dz @ self.params[f"W{k}"].T
        if self.mistake == "accumulate":
            self.kept = grads if self.kept is None else {key: self.kept[key] + g for key, g in grads.items()}
            grads = self.kept
        return value, grads


class Parameter:
    def __init__(self, data):
        self.data, self.grad = data, np.zeros_like(data)


class Layer:
    r"""Module style: ``z = x W^T + b`` with W of shape (out, in), then the activation."""

    def __init__(self, n_in, n_out, activation, rng):
        self.weight = Parameter(rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)))
        self.bias = Parameter(np.zeros(n_out))
        self.f, self.f_prime = ACTIVATIONS[activation]

    def forward(self, x):
        self.x = x
        self.z = x @ self.weight.data.T + self.bias.data
        self.a = self.f(self.z)
        return self.a

    def backward(self, da):
        dz = da * self.f_prime(self.z, self.a)
        self.weight.grad = dz.T @ self.x
        self.bias.grad = dz.sum(axis=0)
        return dz @ self.weight.data


class ModuleNet:
    r"""Module style: ``forward``, ``backward(dy_pred)`` and ``named_parameters()``."""

    def __init__(self, sizes, activations, seed=0):
        rng = np.random.default_rng(seed)
        self.layers = [Layer(n_in, n_out, f, rng)
                       for n_in, n_out, f in zip(sizes, sizes[1:], activations, strict=False)]

    def forward(self, X):
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def backward(self, dy_pred):
        for layer in reversed(self.layers):
            dy_pred = layer.backward(dy_pred)

    def named_parameters(self):
        for k, layer in enumerate(self.layers, 1):
            yield f"fc{k}.weight", layer.weight
            yield f"fc{k}.bias", layer.bias


class Float32Net(Net):
    r"""cs231n style in float32: its parameters float32, its input cast to float32."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = {name: value.astype(np.float32) for name, value in self.params.items()}

    def loss(self, X, y=None):
        return super().loss(X.astype(np.float32), y if y is None or y.dtype.kind == "i" else y.astype(np.float32))


class AttributeNet(Net):
    r"""cs231n style whose loss reads ``self.W1``, ``self.b1``, ...: attributes sharing ``params``'s arrays."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.__dict__.update(self.params)

    def loss(self, X, y=None):
        saved, self.params = self.params, {name: getattr(self, name) for name in self.params}
        try:
            return super().loss(X, y)
        finally:
            self.params = saved


class InOutLayer(Layer):
    r"""Module style with weights of shape (in, out): ``z = x W + b``."""

    def __init__(self, n_in, n_out, activation, rng):
        super().__init__(n_in, n_out, activation, rng)
        self.weight.data = self.weight.data.T.copy()

    def forward(self, x):
        self.x = x
        self.z = x @ self.weight.data + self.bias.data
        self.a = self.f(self.z)
        return self.a

    def backward(self, da):
        dz = da * self.f_prime(self.z, self.a)
        self.weight.grad = self.x.T @ dz
        self.bias.grad = dz.sum(axis=0)
        return dz @ self.weight.data.T


class InOutModuleNet(ModuleNet):
    def __init__(self, sizes, activations, seed=0):
        rng = np.random.default_rng(seed)
        self.layers = [InOutLayer(n_in, n_out, f, rng)
                       for n_in, n_out, f in zip(sizes, sizes[1:], activations, strict=False)]


class FlatOutputNet(Net):
    r"""cs231n style whose ``loss(X)`` gives outputs of shape (B,), as ``X @ w`` does for one output."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        return result.ravel() if y is None else result


class FlatOutputModuleNet(ModuleNet):
    r"""Module style whose ``forward`` gives (B,) and whose ``backward`` takes dL/dy_pred of that shape."""

    def forward(self, X):
        return super().forward(X).ravel()

    def backward(self, dy_pred):
        assert dy_pred.ndim == 1, "dL/dy_pred should have the outputs' shape"
        super().backward(dy_pred.reshape(-1, 1))


class StableBCENet(Net):
    r"""cs231n style, sigmoid output, its BCE computed from the logit as docs/losses.md recommends:
    ``max(z, 0) - z y + log1p(exp(-|z|))``, and ``dL/dz = (sigmoid(z) - y) / N``."""

    def __init__(self, sizes, activations, seed=0):
        super().__init__(sizes, (*activations[:-1], "linear"), "bce-logits", seed=seed)

    def loss(self, X, y=None):
        z = super().loss(X)                        # the logit: the last layer linear
        return 1 / (1 + np.exp(-z)) if y is None else super().loss(X, y)


class WrongSigmoidNet(Net):
    r"""cs231n style with the sigmoid's derivative written ``a * (1 + a)``."""

    def loss(self, X, y=None):
        saved = ACTIVATIONS["sigmoid"]
        ACTIVATIONS["sigmoid"] = (saved[0], lambda z, a: a * (1 + a))
        try:
            return super().loss(X, y)
        finally:
            ACTIVATIONS["sigmoid"] = saved


class KeptGradsNet(Net):
    r"""cs231n style adding each call's gradients with += into arrays it keeps (and returns)."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        if self.kept is None:
            self.kept = {name: np.zeros_like(value) for name, value in self.params.items()}
        for name, g in result[1].items():
            self.kept[name] += g
        return result[0], self.kept


class KeptGradsModuleNet(ModuleNet):
    r"""Module style adding each backward's gradients with += into arrays its layers keep, handing out copies."""

    def backward(self, dy_pred):
        super().backward(dy_pred)
        for layer in self.layers:
            for p in (layer.weight, layer.bias):
                p.kept = getattr(p, "kept", np.zeros_like(p.grad))
                p.kept += p.grad
                p.grad = p.kept.copy()


class BiasShapeNet(Net):
    r"""cs231n style with each bias gradient written another way: ``dz.sum()``, ``keepdims`` or a mean."""

    def __init__(self, sizes, activations, written, seed=0):
        super().__init__(sizes, activations, seed=seed)
        self.written = written

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        grads = dict(result[1])
        dz = grads["b1"]                 # right: summed; the wrong forms from the per-row dz are below
        per_row = np.broadcast_to(dz / len(X), (len(X), dz.size))      # a dz whose rows sum to db
        grads["b1"] = {"sum()": per_row.sum(), "keepdims": per_row.sum(axis=0, keepdims=True),
                       "mean": per_row.mean(axis=0)}[self.written]
        return result[0], grads


class WeightsFirstNet(Net):
    r"""cs231n style whose ``params`` lists the weights first: W1, W2, ..., b1, b2, ..."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = {name: self.params[name] for name in sorted(self.params, key=lambda n: (n[0] == "b", n))}


class RowBiasNet(Net):
    r"""cs231n style with biases of shape (1, H), as ``np.zeros((1, H))`` makes them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = {name: value.reshape(1, -1) if name.startswith("b") else value
                       for name, value in self.params.items()}

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        return result[0], {name: g.reshape(self.params[name].shape) for name, g in result[1].items()}


class ColumnsNet:
    r"""deeplearning.ai's layout: ``parameters`` W1 (n_h, n_x), b1 (n_h, 1), ...; examples as columns, X (n_x, m)
    and Y (1, m); ``loss(X, Y)`` returns the cost and grads dW1, db1, ...; ``loss(X)`` the outputs (1, m)."""

    def __init__(self, sizes, activations, seed=0):
        rng = np.random.default_rng(seed)
        self.parameters = {}
        for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False), 1):
            self.parameters[f"W{k}"] = rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in))
            self.parameters[f"b{k}"] = np.zeros((n_out, 1))
        self.activations = activations

    def loss(self, X, Y=None):
        cache, A = [], X
        for k, name in enumerate(self.activations, 1):
            Z = self.parameters[f"W{k}"] @ A + self.parameters[f"b{k}"]
            cache.append((A, Z))
            A = ACTIVATIONS[name][0](Z)
        if Y is None:
            return A
        m = Y.shape[1]
        cost, dA = np.mean((A - Y) ** 2), 2 * (A - Y) / m
        grads = {}
        for k in reversed(range(1, len(self.activations) + 1)):
            A_prev, Z = cache[k - 1]
            dZ = dA * ACTIVATIONS[self.activations[k - 1]][1](Z, ACTIVATIONS[self.activations[k - 1]][0](Z))
            grads[f"dW{k}"] = dZ @ A_prev.T
            grads[f"db{k}"] = dZ.sum(axis=1, keepdims=True)
            dA = self.parameters[f"W{k}"].T @ dZ
        return cost, grads


class L2Net(Net):
    r"""cs231n style with its L2 term, ``reg * sum(W*W)`` over the weights (``half``: ``0.5 reg sum(W*W)``);
    ``forget`` leaves its gradient out."""

    def __init__(self, sizes, activations, reg=0.1, half=False, forget=False, seed=0):
        super().__init__(sizes, activations, seed=seed)
        self.reg, self.factor, self.forget = reg, 0.5 if half else 1.0, forget

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        weights = {name: W for name, W in self.params.items() if name.startswith("W")}
        value = result[0] + self.factor * self.reg * sum((W * W).sum() for W in weights.values())
        grads = {name: g + (0 if self.forget or name not in weights else 2 * self.factor * self.reg * weights[name])
                 for name, g in result[1].items()}
        return value, grads
