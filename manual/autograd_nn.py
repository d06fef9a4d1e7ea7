r"""The article's network, losses and training step on manual's own autograd engine (``autograd.py``).

The third version of the same network: ``manual/nn.py`` writes every backward pass by hand,
``torch_impl/nn.py`` lets torch's autograd derive them, and this file, like torch's, writes only
forward passes: ``loss.backward()`` runs the graph ``autograd.py`` recorded. Its parameters are
manual's too, so ``manual.SGD``, ``Adam`` and ``AdamW`` update them. ``diff manual/autograd_nn.py
torch_impl/nn.py`` shows how little differs.
"""
import numpy as np

from . import autograd, loss, module
from .autograd import Tensor, no_grad
from .layers import linear_default
from .nn import INPUT_FEATURES, LAYER1_NEURONS, LAYER2_NEURONS, OUTPUT_RESULTS, add_layers, predict


class Parameter(Tensor, module.Parameter):
    r"""``nn.Parameter``: a leaf tensor that requires grad, which ``Module`` registers as manual's parameters."""

    def __init__(self, data):
        super().__init__(data, requires_grad=True)


class Linear(module.Module):
    r"""``z = x W^T + b`` as ``nn.Linear`` computes it, ``addmm(b, x, W.t())``; weights drawn as ``manual.Linear``'s."""

    def __init__(self, in_features, out_features, dtype, rng):
        super().__init__()
        weight, bias = linear_default(in_features, out_features, dtype, rng)
        self.weight, self.bias = Parameter(weight), Parameter(bias)

    def forward(self, x):
        return autograd.addmm(self.bias, x, self.weight.t())


class Tanh(module.Module):
    def forward(self, z):
        return z.tanh()


class Sigmoid(module.Module):
    def forward(self, z):
        return z.sigmoid()


class ReLU(module.Module):
    def forward(self, z):
        return z.relu()


class Identity(module.Module):
    def forward(self, z):
        return z


ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid, "relu": ReLU, "linear": Identity}


class NeuralNetwork(module.Module):
    r"""``manual.NeuralNetwork``'s layers on the engine: the same names, the same draws from ``rng``, and
    no ``backward``. Activations: ``ACTIVATIONS``."""

    def __init__(self, hidden=(LAYER1_NEURONS, LAYER2_NEURONS), activations=("tanh", "sigmoid"),
                 output_activation="tanh", dtype=np.float32, rng=None, in_features=INPUT_FEATURES,
                 out_features=OUTPUT_RESULTS):
        super().__init__()
        add_layers(self, Linear, ACTIVATIONS, (in_features, *hidden, out_features), (*activations, output_activation),
                   dtype, np.random.default_rng() if rng is None else rng)

    def forward(self, X):
        r"""Forward pass; the engine records what the backward pass needs."""
        a = autograd.tensor(X)
        for module_ in self.children():                # layer1, activation1, ..., acti_out
            a = module_(a)                             # z = a W^T + b, then a = f(z)
        return a


# The losses: manual's classes (so ``predict`` knows them), called as torch's, returning a Tensor.
class Mean:
    r"""The engine's nodes take the mean over the batch: ``reduction="mean"`` only, where manual's losses sum too."""

    def __init__(self, reduction="mean"):
        if reduction != "mean":
            raise ValueError(f"reduction={reduction!r}: the engine's losses take the mean only (reduction='mean')")
        super().__init__(reduction)


class MSELoss(Mean, loss.MSELoss):
    def __call__(self, y_pred, y):
        loss.same_shape(y_pred.data, y)
        return autograd.MseLossBackward0.apply(y_pred, autograd.tensor(y))


class L1Loss(Mean, loss.L1Loss):
    def __call__(self, y_pred, y):
        loss.same_shape(y_pred.data, y)
        return (y_pred - y).abs().mean()


class BCELoss(Mean, loss.BCELoss):
    def __call__(self, y_pred, y):
        super().__call__(y_pred.data, y)               # torch's refusals: shapes, values outside [0, 1]
        return autograd.BinaryCrossEntropyBackward0.apply(y_pred, autograd.tensor(y))


class BCEWithLogitsLoss(Mean, loss.BCEWithLogitsLoss):
    def __call__(self, y_pred, y):
        loss.same_shape(y_pred.data, y)
        return autograd.BinaryCrossEntropyWithLogitsBackward0.apply(y_pred, autograd.tensor(y))


class CrossEntropyLoss(Mean, loss.CrossEntropyLoss):
    r"""``nll_loss(log_softmax(z), y)``, the two nodes torch records."""

    def __call__(self, y_pred, y):
        super().__call__(y_pred.data, y)               # torch's refusals: targets, shapes, classes
        return autograd.NllLossBackward0.apply(autograd.LogSoftmaxBackward0.apply(y_pred), target=y)


LOSSES = {"mse": MSELoss, "l1": L1Loss, "bce": BCELoss, "bce-logits": BCEWithLogitsLoss,
          "cross-entropy": CrossEntropyLoss}


def train_step(model, optimizer, criterion, X, y):
    r"""One optimizer step on a batch, as ``torch_impl.train_step``: ``(loss, correct)`` as Python numbers."""
    y_pred = model(X)                                   # forward pass: the engine records the graph
    optimizer.zero_grad()
    loss_ = criterion(y_pred, y)
    loss_.backward()                                    # backward pass: fills every parameter's .grad
    optimizer.step()
    correct = (predict(y_pred.data, criterion) == y).sum()
    return loss_.item(), int(correct)


def valid_step(model, criterion, X, y):
    r"""Evaluate a batch without recording a graph: ``(loss, correct)`` as Python numbers."""
    with no_grad():
        y_pred = model(X)
        loss_ = criterion(y_pred, y)
    correct = (predict(y_pred.data, criterion) == y).sum()
    return loss_.item(), int(correct)
