r"""The article's network in PyTorch: ``NeuralNetwork``, ``discretize``, ``init_parameters``.

Compare with ``manual/nn.py``: the same names line for line. Fixed against the article: the layer
sizes and activations are constructor arguments instead of globals, and ``discretize`` keeps the
input's dtype (the article's ``.float()`` turned float64 into float32).
"""
from numbers import Integral

import torch
import torch.nn as nn

INPUT_FEATURES = 2        # input layer: the point's (x1, x2)
LAYER1_NEURONS = 3        # hidden layer 1
LAYER2_NEURONS = 3        # hidden layer 2
OUTPUT_RESULTS = 1        # output layer: one value in [-1, 1]

ACTIVATIONS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "linear": nn.Identity}


def discretize(proba):
    r"""Map a real output to the class label: ``+1`` where ``proba >= 0``, else ``-1``.

    Shapes: any; the result has ``proba``'s shape and dtype.
    """
    discretized = (proba >= 0.0).to(proba.dtype)       # 1 at or above the threshold, else 0
    return discretized * 2 - 1                          # {0, 1} -> {-1, +1}


class Discretize(nn.Module):
    r"""``discretize`` as a module, as in the article."""

    def forward(self, proba):
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


class NeuralNetwork(nn.Module):
    r"""Fully connected network ``INPUT_FEATURES -> *hidden -> OUTPUT_RESULTS``.

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

    Shapes:
        X ``(B, 2)`` -> y_pred ``(B, 1)``.
    """

    def __init__(self, hidden=(LAYER1_NEURONS, LAYER2_NEURONS), activations=("tanh", "sigmoid"),
                 output_activation="tanh", dtype=torch.float32):
        super().__init__()
        check_architecture(hidden, activations, output_activation)
        sizes = (INPUT_FEATURES, *hidden, OUTPUT_RESULTS)
        self.stack = []                                 # (layer, activation) pairs, input to output
        for (name, activation_name), n_in, n_out, activation in zip(
                layer_names(len(hidden)), sizes[:-1], sizes[1:], (*activations, output_activation)):
            layer = nn.Linear(n_in, n_out, dtype=dtype)
            setattr(self, name, layer)                  # registers layer1.weight, layer1.bias, ...
            setattr(self, activation_name, ACTIVATIONS[activation]())
            self.stack.append((layer, getattr(self, activation_name)))

    def forward(self, X):
        r"""Forward pass; autograd records what the backward pass needs."""
        a = X
        for layer, activation in self.stack:
            z = layer(a)                                # z = a W^T + b
            a = activation(z)                           # a = f(z)
        return a


def init_parameters(layer):
    r"""The article's initialisation, for ``model.apply``: xavier-uniform weights, zero biases.

    ``W ~ U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``; ``b = 0``. Draws from torch's
    global generator (``torch.manual_seed``).
    """
    if isinstance(layer, nn.Linear):
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
