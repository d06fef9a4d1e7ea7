r"""Parameters, the linear layer and the activations, each with its derivative next to it.

This file is what ``torch.nn.Parameter``, ``nn.Linear``, ``nn.Tanh``, ... and autograd give
``torch_impl`` for free. Every ``forward`` caches exactly what its ``backward`` needs and nothing else,
and ``backward`` lets go of it, as autograd frees its saved tensors after ``loss.backward()``.

Notation (batch of B samples):
    ``x`` is a layer's input, ``z = x @ W.T + b`` its pre-activation, ``a = f(z)`` its activation.
    ``dz`` means dL/dz and has z's shape; likewise ``da``, ``dx``.
"""
import numpy as np


def release(owner, name):
    r"""Return a value that ``forward`` cached for ``backward``, and forget it.

    Like autograd, which frees its saved tensors after ``loss.backward()``: a second backward pass
    needs a new forward pass.
    """
    value = getattr(owner, name, None)
    if value is None:
        raise RuntimeError(f"{type(owner).__name__}.backward needs a forward pass first (the values "
                           "cached by the last forward pass were used by a backward pass already)")
    setattr(owner, name, None)
    return value


class Parameter:
    r"""A trainable array and its gradient, like ``torch.nn.Parameter``.

    Attributes
    ----------
    data : ndarray
        The value. Updated in place by the optimizer.
    grad : ndarray or None
        dL/d(data), same shape as ``data``. ``None`` until a backward pass fills it; like torch,
        a second backward pass adds to it (hence ``optimizer.zero_grad()``).
    """

    def __init__(self, data):
        self.data = data
        self.grad = None

    def accumulate(self, grad):
        self.grad = grad if self.grad is None else self.grad + grad


class Linear:
    r"""Fully connected layer ``z = x @ W.T + b``, as ``torch.nn.Linear``.

    Shapes:
        weight ``(out, in)``, bias ``(out,)``, x ``(B, in)``, z ``(B, out)``.

    Initialised as torch's ``nn.Linear``: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)).

    Speed: ``z`` and ``dx`` are stored column by column (``order="F"``: each neuron's values for
    the whole batch lie next to each other in memory). Adding ``b`` to every row and summing
    ``dz`` over the batch then run along contiguous memory, which at a million rows is several
    times faster than NumPy's default row order. The values are the same either way.
    """

    def __init__(self, in_features, out_features, dtype, rng):
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, out_features).astype(dtype))

    def __call__(self, x):
        self.x = x                                  # backward needs x for dL/dW
        z = np.matmul(x, self.weight.data.T, order="F")   # z = x W^T ...
        z += self.bias.data                                 # ... + b, in place: no second (B, out) array
        return z

    def backward(self, dz):
        r"""Fill ``weight.grad`` and ``bias.grad``; return dL/dx.

        .. math:: \partial L/\partial W = dz^T x, \quad \partial L/\partial b = \sum_B dz,
                  \quad \partial L/\partial x = dz\, W
        """
        x = release(self, "x")
        self.weight.accumulate(dz.T @ x)            # dL/dW = dz^T x : (out, in) = (B, out)^T (B, in)
        self.bias.accumulate(dz.sum(axis=0))        # dL/db = sum_B dz : (out,) = sum over B of (B, out)
        dx = np.matmul(dz, self.weight.data, order="F")   # dL/dx = dz W : (B, in) = (B, out) (out, in)
        return dx


class Tanh:
    r"""``a = tanh(z)``; ``da/dz = 1 - a^2``."""

    def __call__(self, z):
        self.a = np.tanh(z)
        return self.a

    def backward(self, da):
        a = release(self, "a")
        dz = a * a                                  # a^2
        np.subtract(1, dz, out=dz)                  # 1 - a^2, in place (one (B, n) array, not three)
        dz *= da                                    # dL/dz = dL/da (1 - a^2) : (B, n)
        return dz


class Sigmoid:
    r"""``a = 1 / (1 + exp(-z))``; ``da/dz = a (1 - a)``."""

    def __call__(self, z):
        # exp(-z) overflows to inf for very negative z (z < -88 in float32); 1 / (1 + inf) = 0 is
        # then the exact limit, so the overflow is expected and silenced rather than warned about.
        with np.errstate(over="ignore"):
            self.a = 1 / (1 + np.exp(-z))
        return self.a

    def backward(self, da):
        a = release(self, "a")
        dz = 1 - a                                  # 1 - a
        dz *= a                                     # a (1 - a), in place (one (B, n) array, not three)
        dz *= da                                    # dL/dz = dL/da a (1 - a) : (B, n)
        return dz


class ReLU:
    r"""``a = max(z, 0)``; ``da/dz = 1`` where ``z > 0``, else 0 (0 at z == 0, as torch)."""

    def __call__(self, z):
        self.a = np.maximum(z, 0)
        return self.a

    def backward(self, da):
        a = release(self, "a")
        return da * (a > 0)                         # dL/dz = dL/da [z > 0] : (B, n); a > 0 iff z > 0


class Identity:
    r"""``a = z`` (Playground's "linear"); ``da/dz = 1``."""

    def __call__(self, z):
        return z

    def backward(self, da):
        return da                                   # dL/dz = dL/da : (B, n)


ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid, "relu": ReLU, "linear": Identity}
