r"""The article's network in NumPy: ``NeuralNetwork``, ``discretize``, ``init_parameters``.

Compare with ``torch_impl/nn.py``: the same names line for line. What ``nn.Module`` provides there
is in ``module.py``; what autograd provides is ``NeuralNetwork.backward`` and the layers'
``backward`` methods in ``layers.py``.
"""
import numpy as np

from .layers import ACTIVATIONS, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss
from .module import Module

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


def predict(y_pred, criterion):
    r"""The class each output stands for, in the encoding of the labels ``criterion`` trains on: 0/1
    where a probability is > 0.5 (``BCELoss``) or a logit > 0 (``BCEWithLogitsLoss``), the index of
    the largest logit (``CrossEntropyLoss``), else the article's +1/-1 by ``discretize``.

    Shapes: y_pred ``(B, 1)`` -> ``(B, 1)``; for cross-entropy ``(B, C)`` -> ``(B,)``.
    """
    if isinstance(criterion, CrossEntropyLoss):
        return y_pred.argmax(axis=1)
    if isinstance(criterion, (BCELoss, BCEWithLogitsLoss)):
        threshold = 0.5 if isinstance(criterion, BCELoss) else 0.0
        return (y_pred > threshold).astype(y_pred.dtype)
    return discretize(y_pred)


class Discretize(Module):
    r"""``discretize`` as a module, as in the article."""

    def forward(self, proba):
        return discretize(proba)


class NeuralNetwork(Module):
    r"""Fully connected network ``in_features -> *hidden -> out_features``.

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

    in_features : int
        Inputs per point: 2, the point's (x1, x2), or more with Playground's features.
    out_features : int
        Outputs per point: 1, or one logit per class for ``CrossEntropyLoss``.

    Notes
    -----
    Shapes: X ``(B, in_features)`` -> y_pred ``(B, out_features)``.

    The children are ``layer1, activation1, layer2, activation2, ..., layer_out, acti_out``, as in
    the article. Unlike autograd, which records a new graph on every call, each layer keeps the
    values of the *last* forward pass for its backward pass: run ``backward`` right after the
    forward pass whose gradients you want.
    """

    def __init__(self, hidden=(LAYER1_NEURONS, LAYER2_NEURONS), activations=("tanh", "sigmoid"),
                 output_activation="tanh", dtype=np.float32, rng=None, in_features=INPUT_FEATURES,
                 out_features=OUTPUT_RESULTS):
        super().__init__()
        add_layers(self, Linear, ACTIVATIONS, (in_features, *hidden, out_features), (*activations, output_activation),
                   dtype, np.random.default_rng() if rng is None else rng)

    def forward(self, X):
        r"""Forward pass; each layer keeps what its backward pass needs."""
        a = X
        for module in self.children():                 # layer1, activation1, ..., acti_out
            a = module(a)                              # z = a W^T + b, then a = f(z)
        return a

    def backward(self, dy_pred):
        r"""Backpropagate dL/dy_pred through every layer, filling each parameter's ``grad``.

        The chain rule, layer by layer from the output: ``dz = da * f'(z)``, then
        ``dW = dz^T x``, ``db = sum_B dz`` and ``dx = dz W``, which is the previous layer's ``da``.

        Shapes: dy_pred ``(B, out_features)``; returns dL/dX ``(B, in_features)``.
        """
        modules = list(self.children())
        layers, activations = modules[0::2], modules[1::2]
        da = dy_pred                                   # the output layer's a is y_pred
        for layer, activation in reversed(list(zip(layers, activations, strict=True))):
            dz = activation.backward(da)               # dL/dz = dL/da f'(z) : (B, out)
            da = layer.backward(dz)                    # dL/dx = dz W : (B, in), the previous layer's dL/da
        return da                                      # dL/dX : (B, 2)


def add_layers(model, linear, activations, sizes, names, dtype, rng):
    r"""Give ``model`` the children ``layer1, activation1, ..., layer_out, acti_out``: a ``linear(n_in, n_out,
    dtype, rng)`` per pair of ``sizes`` and after it ``activations[name]()``, one name per layer."""
    for i, (n_in, n_out, name) in enumerate(zip(sizes[:-1], sizes[1:], names, strict=True), 1):
        last = i == len(names)
        model.add_module("layer_out" if last else f"layer{i}", linear(n_in, n_out, dtype, rng))
        model.add_module("acti_out" if last else f"activation{i}", activations[name]())


def init_parameters(model, rng):
    r"""The article's initialisation: xavier-uniform weights, zero biases.

    ``W ~ U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))`` (``torch.nn.init.xavier_uniform_``
    with gain 1); ``b = 0``. ``rng`` is a ``numpy.random.Generator``.
    """
    for layer in model.children():
        if isinstance(layer, Linear):
            fan_out, fan_in = layer.weight.data.shape
            bound = np.sqrt(6 / (fan_in + fan_out))
            layer.weight.data[...] = rng.uniform(-bound, bound, (fan_out, fan_in))
            layer.bias.data[...] = 0
