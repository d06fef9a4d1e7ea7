r"""The article's network in PyTorch: ``NeuralNetwork``, ``discretize``, ``init_parameters``.

Compare with ``manual/nn.py``: the same names line for line. Fixed against the article: the layer
sizes and activations are constructor arguments instead of globals, and ``discretize`` keeps the
input's dtype (the article's ``.float()`` turned float64 into float32).
"""
import torch
import torch.nn as nn

INPUT_FEATURES = 2        # input layer: the point's (x1, x2)
LAYER1_NEURONS = 3        # hidden layer 1
LAYER2_NEURONS = 3        # hidden layer 2
OUTPUT_RESULTS = 1        # output layer: one value in [-1, 1]

ACTIVATIONS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "linear": nn.Identity, "elu": nn.ELU,
               "selu": nn.SELU, "softplus": nn.Softplus, "softsign": nn.Softsign}


def discretize(proba):
    r"""Map a real output to the class label: ``+1`` where ``proba >= 0``, else ``-1``.

    Shapes: any; the result has ``proba``'s shape and dtype.
    """
    discretized = (proba >= 0.0).to(proba.dtype)       # 1 at or above the threshold, else 0
    return discretized * 2 - 1                          # {0, 1} -> {-1, +1}


def predict(y_pred, criterion):
    r"""The class each output stands for, in the encoding of the labels ``criterion`` trains on: 0/1
    where a probability is > 0.5 (``BCELoss``) or a logit > 0 (``BCEWithLogitsLoss``), the index of
    the largest logit (``CrossEntropyLoss``), else the article's +1/-1 by ``discretize``.

    Shapes: y_pred ``(B, 1)`` -> ``(B, 1)``; for cross-entropy ``(B, C)`` -> ``(B,)``.
    """
    if isinstance(criterion, nn.CrossEntropyLoss):
        return y_pred.argmax(dim=1)
    if isinstance(criterion, (nn.BCELoss, nn.BCEWithLogitsLoss)):
        threshold = 0.5 if isinstance(criterion, nn.BCELoss) else 0.0
        return (y_pred > threshold).to(y_pred.dtype)
    return discretize(y_pred)


class Discretize(nn.Module):
    r"""``discretize`` as a module, as in the article."""

    def forward(self, proba):
        return discretize(proba)


class NeuralNetwork(nn.Module):
    r"""Fully connected network ``in_features -> *hidden -> out_features``.

    Parameters
    ----------
    hidden : sequence of int
        Neurons per hidden layer; ``()`` leaves only the output layer.
    activations : sequence of str
        One of ``tanh``, ``sigmoid``, ``relu``, ``linear`` per hidden layer.
    output_activation : str
        Activation of ``layer_out``.
    dtype : torch dtype
        ``torch.float32`` (the article's ``.float()``) or ``torch.float64``.

    in_features : int
        Inputs per point: 2, the point's (x1, x2), or more with Playground's features.
    out_features : int
        Outputs per point: 1, or one logit per class for ``CrossEntropyLoss``.

    Notes
    -----
    Shapes: X ``(B, in_features)`` -> y_pred ``(B, out_features)``.

    The children are ``layer1, activation1, layer2, activation2, ..., layer_out, acti_out``, as in
    the article.
    """

    def __init__(self, hidden=(LAYER1_NEURONS, LAYER2_NEURONS), activations=("tanh", "sigmoid"),
                 output_activation="tanh", dtype=torch.float32, in_features=INPUT_FEATURES,
                 out_features=OUTPUT_RESULTS):
        super().__init__()
        sizes = (in_features, *hidden, out_features)
        activations = (*activations, output_activation)
        for i, (n_in, n_out, activation) in enumerate(zip(sizes[:-1], sizes[1:], activations, strict=True), 1):
            last = i == len(activations)
            self.add_module("layer_out" if last else f"layer{i}", nn.Linear(n_in, n_out, dtype=dtype))
            self.add_module("acti_out" if last else f"activation{i}", ACTIVATIONS[activation]())

    def forward(self, X):
        r"""Forward pass; autograd records what the backward pass needs."""
        a = X
        for module in self.children():                 # layer1, activation1, ..., acti_out
            a = module(a)                              # z = a W^T + b, then a = f(z)
        return a


def init_parameters(layer):
    r"""The article's initialisation, for ``model.apply``: xavier-uniform weights, zero biases.

    ``W ~ U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``; ``b = 0``. Draws from torch's
    global generator (``torch.manual_seed``).
    """
    if isinstance(layer, nn.Linear):
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
