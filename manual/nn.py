r"""The article's network in NumPy: ``NeuralNetwork``, ``discretize``, ``init_parameters``.

Compare with ``torch_impl/nn.py``: the same names line for line. What ``nn.Module`` provides there
(parameter registration, ``state_dict``) and what autograd provides (``backward``) is written out here.
"""
from numbers import Integral

import numpy as np

from .layers import ACTIVATIONS, Linear

INPUT_FEATURES = 2        # input layer: the point's (x1, x2)
LAYER1_NEURONS = 3        # hidden layer 1
LAYER2_NEURONS = 3        # hidden layer 2
OUTPUT_RESULTS = 1        # output layer: one value in [-1, 1]


def discretize(proba):
    r"""Map a real output to the class label: ``+1`` where ``proba >= 0``, else ``-1``.

    Shapes: any; the result has ``proba``'s shape and dtype.
    """
    discretized = (proba >= 0.0).astype(proba.dtype)   # 1 at or above the threshold, else 0
    return discretized * 2 - 1                          # {0, 1} -> {-1, +1}


class Discretize:
    r"""``discretize`` as a callable object, like the article's ``nn.Module`` wrapper."""

    def __call__(self, proba):
        return discretize(proba)


def check_architecture(hidden, activations, output_activation):
    r"""Raise ``ValueError`` unless the constructor arguments describe a valid network."""
    if any(isinstance(n, bool) or not isinstance(n, Integral) or n < 1 for n in hidden):
        raise ValueError(f"hidden layer sizes must be integers >= 1, got {tuple(hidden)}")
    if len(activations) != len(hidden):
        raise ValueError(f"{len(hidden)} hidden layers need {len(hidden)} activations, "
                         f"got {len(activations)}: {tuple(activations)}")
    for name in (*activations, output_activation):
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")


def layer_names(n_hidden):
    r"""The article's names: ``(layer1, activation1)``, ..., then ``(layer_out, acti_out)``."""
    return [(f"layer{i}", f"activation{i}") for i in range(1, n_hidden + 1)] + [("layer_out", "acti_out")]


class NeuralNetwork:
    r"""Fully connected network ``INPUT_FEATURES -> *hidden -> OUTPUT_RESULTS``.

    Parameters
    ----------
    hidden : sequence of int
        Neurons per hidden layer; ``()`` leaves only the output layer.
    activations : sequence of str
        One of ``tanh``, ``sigmoid``, ``relu``, ``linear`` per hidden layer.
    output_activation : str
        Activation of ``layer_out``.
    dtype : numpy dtype
        ``np.float32`` (the article's ``.float()``) or ``np.float64``.
    rng : numpy.random.Generator, optional
        Draws torch's default initialisation; ``init_parameters`` replaces it with the article's.

    Shapes:
        X ``(B, 2)`` -> y_pred ``(B, 1)``.
    """

    def __init__(self, hidden=(LAYER1_NEURONS, LAYER2_NEURONS), activations=("tanh", "sigmoid"),
                 output_activation="tanh", dtype=np.float32, rng=None):
        check_architecture(hidden, activations, output_activation)
        rng = np.random.default_rng() if rng is None else rng
        sizes = (INPUT_FEATURES, *hidden, OUTPUT_RESULTS)
        self.stack = []                                 # (layer, activation) pairs, input to output
        for (name, activation_name), n_in, n_out, activation in zip(
                layer_names(len(hidden)), sizes[:-1], sizes[1:], (*activations, output_activation)):
            layer = Linear(n_in, n_out, dtype, rng)
            setattr(self, name, layer)                  # named_parameters finds it by its name
            setattr(self, activation_name, ACTIVATIONS[activation]())
            self.stack.append((layer, getattr(self, activation_name)))

    def __call__(self, X):
        r"""Forward pass; each layer keeps what its backward pass needs."""
        a = X
        for layer, activation in self.stack:
            z = layer(a)                                # z = a W^T + b
            a = activation(z)                           # a = f(z)
        return a

    def backward(self, grad):
        r"""Backpropagate ``grad`` = dL/dy_pred through every layer, filling each parameter's ``grad``.

        The chain rule, layer by layer from the output: ``dz = da * f'(z)`` then
        ``da_previous = dz W`` (and ``dW = dz^T x``, ``db = sum_B dz`` on the way).

        ``grad`` is the gradient flowing backwards: dL/da on its way into an activation, dL/dz on
        its way into a layer. Rebinding the one name drops each gradient as soon as the next one
        exists, as autograd frees a gradient once its node has used it. With a name per
        gradient (``dz``, ``da``), dL/dy_pred and the last ``dz`` would outlive their use, and at
        a million float32 points the peak memory of a step would exceed torch's by 8 MiB.

        Shapes: grad ``(B, 1)``; returns dL/dX ``(B, 2)``.
        """
        for layer, activation in reversed(self.stack):
            grad = activation.backward(grad)            # dL/dz = dL/da f'(z) : (B, out)
            grad = layer.backward(grad)                 # dL/dx = dL/dz W : (B, in)
        return grad                                     # dL/dX : (B, 2)

    def named_parameters(self):
        r"""Yield ``("layer1.weight", p), ("layer1.bias", p), ...`` in torch's order."""
        for name, layer in vars(self).items():
            if isinstance(layer, Linear):
                yield f"{name}.weight", layer.weight
                yield f"{name}.bias", layer.bias

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def state_dict(self):
        r"""A copy of every parameter, keyed like torch's ``state_dict()``."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict):
        r"""Copy values in, converting to the model's dtype.

        Raises ``ValueError`` naming the key on a missing or unexpected key, a wrong shape or a
        non-finite value; the model is unchanged then.
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        if missing or unexpected:
            problems = [f"{what} key{'s' * (len(keys) > 1)} {', '.join(keys)}"
                        for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
            raise ValueError(f"state dict does not fit the model: {'; '.join(problems)}")
        values = {}
        for name, p in params.items():
            value = np.asarray(state_dict[name])
            if value.shape != p.data.shape:
                raise ValueError(f"{name}: shape {value.shape} does not match the model's {p.data.shape}")
            if value.dtype.kind not in "fiu":
                raise ValueError(f"{name}: dtype {value.dtype} is not a real number type")
            with np.errstate(over="ignore"):            # too large for the dtype: caught just below
                value = value.astype(p.data.dtype)
            if not np.isfinite(value).all():
                raise ValueError(f"{name}: holds a non-finite value (nan, inf, or too large for {p.data.dtype})")
            values[name] = value
        for name, p in params.items():
            p.data[...] = values[name]


def init_parameters(model, rng):
    r"""The article's initialisation: xavier-uniform weights, zero biases.

    ``W ~ U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` (``torch.nn.init.xavier_uniform_``
    with gain 1); ``b = 0``. ``rng`` is a ``numpy.random.Generator``.
    """
    for layer, _ in model.stack:
        fan_out, fan_in = layer.weight.data.shape
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        layer.weight.data[...] = rng.uniform(-bound, bound, (fan_out, fan_in))
        layer.bias.data[...] = 0
