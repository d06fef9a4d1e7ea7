r"""The linear layer and the activations, each with its derivative next to it.

This file is what ``nn.Linear``, ``nn.Tanh``, ... and autograd give ``torch_impl``. Each ``forward``
keeps on the layer the value its ``backward`` needs (autograd keeps it in the graph instead).

Notation (batch of B samples): ``x`` is a layer's input, ``z = x @ W.T + b`` its pre-activation,
``a = f(z)`` its activation. ``dX`` means dL/dX and has X's shape: ``dz``, ``da``, ``dW``, ``db``, ``dx``.
"""
import numpy as np

from .module import Module, Parameter


class Linear(Module):
    r"""Fully connected layer ``z = x @ W.T + b``, as ``torch.nn.Linear``.

    Shapes:
        weight ``(out, in)``, bias ``(out,)``, x ``(B, in)``, z ``(B, out)``.

    Initialised as torch's ``nn.Linear``: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features, out_features, dtype, rng):
        super().__init__()
        weight, bias = linear_default(in_features, out_features, dtype, rng)
        self.weight, self.bias = Parameter(weight), Parameter(bias)

    def forward(self, x):
        if x.dtype != self.weight.data.dtype:       # torch refuses to mix dtypes too
            raise TypeError(f"input has dtype {x.dtype} but the layer's weights {self.weight.data.dtype}; "
                            f"convert the input with .astype(np.{self.weight.data.dtype})")
        self.x = x                                  # backward needs x for dL/dW
        return x @ self.weight.data.T + self.bias.data   # z = x W^T + b : (B, out)

    def backward(self, dz):
        r"""Add dL/dW and dL/db to the parameters' ``grad``; return dL/dx.

        $$ dW = dz^T x, \quad db = \sum_B dz, \quad dx = dz\, W $$
        """
        dW = dz.T @ self.x                          # dL/dW = dz^T x : (out, in) = (B, out)^T (B, in)
        db = dz.sum(axis=0)                         # dL/db = sum over the batch of dz : (out,)
        dx = dz @ self.weight.data                  # dL/dx = dz W : (B, in) = (B, out) (out, in)
        self.weight.accumulate_grad(dW)
        self.bias.accumulate_grad(db)
        return dx


def linear_default(in_features, out_features, dtype, rng):
    r"""``nn.Linear``'s initial weight ``(out, in)`` and bias ``(out,)``, both ~ U(-1/sqrt(in), 1/sqrt(in))."""
    bound = 1 / np.sqrt(in_features)
    return (rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype),
            rng.uniform(-bound, bound, out_features).astype(dtype))


class Tanh(Module):
    r"""``a = tanh(z)``; ``da/dz = 1 - a^2``."""

    def forward(self, z):
        self.a = np.tanh(z)                         # backward needs a
        return self.a

    def backward(self, da):
        return da * (1 - self.a**2)                 # dL/dz = dL/da (1 - a^2) : (B, n)


class Sigmoid(Module):
    r"""``a = 1 / (1 + exp(-z))``; ``da/dz = a (1 - a)``."""

    def forward(self, z):
        # exp(-z) overflows to inf for z < -88 in float32; 1 / (1 + inf) = 0 is then the exact
        # limit, so the overflow is expected and silenced rather than warned about.
        with np.errstate(over="ignore"):
            self.a = 1 / (1 + np.exp(-z))           # backward needs a
        return self.a

    def backward(self, da):
        return da * self.a * (1 - self.a)           # dL/dz = dL/da a (1 - a) : (B, n)


class ReLU(Module):
    r"""``a = max(z, 0)``; ``da/dz = 1`` where ``z > 0``, else 0 (0 at z == 0, as torch)."""

    def forward(self, z):
        self.z = z                                  # backward needs z
        return np.maximum(z, 0)

    def backward(self, da):
        return da * (self.z > 0)                    # dL/dz = dL/da [z > 0] : (B, n)


class Identity(Module):
    r"""``a = z`` (Playground's "linear"); ``da/dz = 1``."""

    def forward(self, z):
        return z

    def backward(self, da):
        return da                                   # dL/dz = dL/da : (B, n)


class ELU(Module):
    r"""``a = z`` where ``z > 0``, else ``exp(z) - 1``; ``da/dz = 1``, else ``exp(z)``.

    ``exp(z)`` equals ``a + 1``, but not in floating point: where ``a`` is near -1, ``a + 1`` cancels
    to a few digits (float32 loses them all by ``z = -17``), so the derivative is computed from ``z``,
    as torch does."""

    def forward(self, z):
        self.z = z                                  # backward needs z
        with np.errstate(over="ignore"):            # exp of a large z is inf, and not the branch taken
            return np.where(z > 0, z, np.expm1(z))

    def backward(self, da):
        with np.errstate(over="ignore"):            # exp of a large z is inf, and not the branch taken
            return da * np.where(self.z > 0, 1, np.exp(self.z))   # dL/dz = dL/da (1, or exp(z)) : (B, n)


class SELU(Module):
    r"""``a = scale z`` where ``z > 0``, else ``scale alpha (exp(z) - 1)``, torch's constants (Playground's
    too); ``da/dz = scale``, else ``scale alpha exp(z)``: at ``z == 0`` torch takes the second branch."""
    ALPHA, SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

    def forward(self, z):
        self.z = z
        with np.errstate(over="ignore"):
            return self.SCALE * np.where(z > 0, z, self.ALPHA * np.expm1(z))

    def backward(self, da):
        with np.errstate(over="ignore"):            # dL/dz = dL/da scale (1, or alpha exp(z))
            return da * self.SCALE * np.where(self.z > 0, 1, self.ALPHA * np.exp(self.z))


class Softplus(Module):
    r"""``a = log(1 + exp(z))``, and ``a = z`` above torch's threshold 20, where the two agree to 2e-9;
    ``da/dz = exp(z) / (exp(z) + 1)`` (the sigmoid), and 1 above 20."""
    THRESHOLD = 20

    def forward(self, z):
        self.z = z
        with np.errstate(over="ignore"):
            return np.where(z > self.THRESHOLD, z, np.log1p(np.exp(z)))

    def backward(self, da):
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(self.z)                      # dL/dz = dL/da e^z / (e^z + 1), or dL/da above 20
            return da * np.where(self.z > self.THRESHOLD, 1, e / (e + 1))


class Softsign(Module):
    r"""``a = z / (1 + |z|)``; ``da/dz = 1 / (1 + |z|)^2``."""

    def forward(self, z):
        self.z = z
        return z / (1 + np.abs(z))

    def backward(self, da):
        return da / (1 + np.abs(self.z))**2         # dL/dz = dL/da / (1 + |z|)^2 : (B, n)


ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid, "relu": ReLU, "linear": Identity, "elu": ELU, "selu": SELU,
               "softplus": Softplus, "softsign": Softsign}
