r"""manual/layers.py inside torch: each hand-written layer as a ``torch.autograd.Function``.

A ``torch.autograd.Function`` is how torch takes in an operation it cannot see into: ``forward`` gets
the inputs and computes the output (here with manual's NumPy ``forward``), ``backward`` gets dL/d(output)
and returns dL/d(each input) (here manual's ``backward``). torch records one node per call, named after
the class (``LinearBackward``, ``ActivationBackward``), so ``loss.backward()`` runs manual's hand-written
backward passes and ``torch.optim`` updates the parameters. ``NeuralNetwork`` is torch_impl's network
computed so; ``article_run`` trains it as the article does.

``torch.autograd.gradcheck`` passes: each backward is the derivative of its forward, against finite
differences. ``torch.autograd.gradgradcheck`` fails: a backward written in NumPy is not recorded, so under
``create_graph=True`` its results are constants to torch and their derivative is taken to be 0 ("Numerical
gradient for function expected to be zero"); ``torch.autograd.functional.hessian`` of a loss through
these layers is all zeros, without a word. ``@once_differentiable`` on a backward says so to torch: it
runs the backward as it is and, when the gradient handed to it is itself being differentiated (it
requires grad), marks the results so that a ``backward()`` through them raises "trying to differentiate
twice a function that was marked with @once_differentiable": ``OnceLinear``, ``OnceActivation``. It
cannot catch every case: ``torch.autograd.grad`` and ``functional.hessian`` walk only the paths to their
inputs, which do not pass the mark, and still give zeros.
"""
import itertools

import numpy as np
import torch
from torch.autograd.function import once_differentiable

import manual
import torch_impl

from .core.config import Config
from .core.source import Source

NAMES = {module: name for name, module in torch_impl.nn.ACTIVATIONS.items()}     # nn.Tanh -> "tanh"


def array(t):
    r"""A NumPy copy of tensor ``t`` for manual (``t.numpy()`` would share its memory)."""
    return t.detach().numpy().copy()


class Linear(torch.autograd.Function):
    r"""``z = x W^T + b`` by ``manual.Linear``: its ``forward``, and its ``backward`` for dL/dx, dL/dW, dL/db."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        out_features, in_features = weight.shape
        ctx.layer = manual.Linear(in_features, out_features, array(weight).dtype, np.random.default_rng())
        ctx.layer.load_state_dict({"weight": array(weight), "bias": array(bias)})   # torch's values, not the draw
        return torch.tensor(ctx.layer(array(x)))

    @staticmethod
    def backward(ctx, dz):
        layer = ctx.layer
        layer.weight.grad = layer.bias.grad = None    # manual adds to .grad; a Function returns it (and torch may
        dx = layer.backward(array(dz))                # call backward twice: gradcheck does)
        return torch.tensor(dx), torch.tensor(layer.weight.grad), torch.tensor(layer.bias.grad)


class Activation(torch.autograd.Function):
    r"""``a = f(z)`` by manual's activation ``name`` (``manual.layers.ACTIVATIONS``): dL/dz by its ``backward``."""

    @staticmethod
    def forward(ctx, z, name):
        ctx.layer = manual.layers.ACTIVATIONS[name]()
        return torch.tensor(ctx.layer(array(z)))

    @staticmethod
    def backward(ctx, da):
        return torch.tensor(ctx.layer.backward(array(da))), None     # no gradient for the name


class OnceLinear(Linear):
    r"""``Linear``, its backward marked ``@once_differentiable``."""

    @staticmethod
    @once_differentiable
    def backward(ctx, dz):
        return Linear.backward(ctx, dz)


class OnceActivation(Activation):
    r"""``Activation``, its backward marked ``@once_differentiable``."""

    @staticmethod
    @once_differentiable
    def backward(ctx, da):
        return Activation.backward(ctx, da)


class NeuralNetwork(torch_impl.NeuralNetwork):
    r"""torch_impl's network, the same children and parameters, each child computed by manual/layers.py through
    ``Linear`` and ``Activation`` (``once=True``: ``OnceLinear`` and ``OnceActivation``)."""

    def __init__(self, *args, once=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.functions = (OnceLinear, OnceActivation) if once else (Linear, Activation)

    def forward(self, X):
        linear, activation = self.functions
        a = X
        for module in self.children():                 # layer1, activation1, ..., layer_out, acti_out
            if isinstance(module, torch.nn.Linear):
                a = linear.apply(a, module.weight, module.bias)
            else:
                a = activation.apply(a, NAMES[type(module)])
        return a


def article_run(model, epochs, seed=1):
    r"""Train ``model`` (torch_impl's network or ``NeuralNetwork``, float64) as the article does for ``epochs``
    epochs, from seed ``seed``'s initial weights and batches (``compare.core.Source``), with ``torch.optim.SGD``
    and ``torch_impl.train_step``: every step's loss, and ``model``."""
    config = Config(dtype="float64", seed=seed, epochs=epochs)
    source = Source(config)
    model.load_state_dict({name: torch.tensor(w) for name, w in source.weights.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    criterion = torch.nn.MSELoss()
    X, y = (torch.tensor(a) for a in source.data[:2])
    losses = [torch_impl.train_step(model, optimizer, criterion, X[idx], y[idx])[0]
              for batches in itertools.islice(source.epochs(), epochs) for idx in batches]
    return losses, model


def double_backward(model, criterion, X, y):
    r"""The gradient ``g`` of the loss recorded (``create_graph=True``) and differentiated again by ``backward()``,
    as for a Hessian-vector product ``H v`` (here v = 1): what ``@once_differentiable`` refuses."""
    g = torch.autograd.grad(criterion(model(X), y), list(model.parameters()), create_graph=True)
    sum(gradient.sum() for gradient in g).backward()
