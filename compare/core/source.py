r"""Where a run comes from: a ``Source`` gives its points, its initial weights and its batch order.

This project's own run draws all three from ``config.seed``: the points from ``load_data``, then
from one NumPy generator the initial weights (manual's initialiser, ``config.init``) and, epoch
after epoch, a fresh order of the training points, cut into batches of ``config.batch_size`` (the
last one smaller). Playground's exact run is another ``Source``
(``compare.playground.exact.PlaygroundRun``): whatever takes a Source replays either.
"""
import copy
import itertools

import numpy as np

import manual
import manual.playground
from manual.train import labels

from .data import expand, load_data
from .pair import DTYPES, Pair, by_hand, manual_model, read_only


def initial_weights(config, rng):
    r"""A state dict drawn from ``rng`` by manual's initialiser ``config.init``: the article's xavier,
    ``nn.Linear``'s default (``"torch-default"``), Playground's or its ``initZero``. Drawn on the by-hand
    network whichever manual side runs, so that ``--manual autograd`` runs from the same weights."""
    return initialise(manual_model(by_hand(config), rng), config.init, rng).state_dict()


def initialise(model, init, rng):
    r"""``model`` (a manual network, built from ``rng``: ``nn.Linear``'s default draw, ``"torch-default"``)
    initialised by manual's initialiser ``init``, drawing from ``rng``."""
    if init == "xavier":
        manual.init_parameters(model, rng)
    elif init in ("playground", "zero"):
        manual.playground.init_parameters(model, rng, zero=init == "zero")
    return model


def encoded(config, points):
    r"""``X_train, y_train, X_valid, y_valid`` in the run's dtype, the labels as ``config.loss`` takes them
    (``manual.train.labels``): a ``Source``'s ``data``."""
    X_train, y_train, X_valid, y_valid = (a.astype(DTYPES[config.dtype][0]) for a in points)
    return X_train, labels(y_train, config.loss), X_valid, labels(y_valid, config.loss)


class Source:
    r"""The project's own run for ``config``; ``weights`` (a state dict) replaces the drawn initial weights
    (which are drawn all the same, so that the batch order stays the run's). ``data`` holds the points
    (``encoded``), ``weights`` the initial weights; ``epochs()`` gives the batches."""

    training_loss = "mean of the batches"      # an epoch's training loss; Playground's: "after the epoch"

    def __init__(self, config, weights=None):
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        drawn = initial_weights(config, self.rng)
        self.weights = drawn if weights is None else weights
        self.data = encoded(config, self.points())

    def points(self):
        r"""``X_train, y_train, X_valid, y_valid`` as float64 arrays, the labels +1/-1 (or real-valued)."""
        config = self.config
        return load_data(config.dataset, config.noise, config.train_ratio, config.seed, config.features)

    def batches(self, rng, epoch):
        r"""Epoch ``epoch``'s batches: index arrays into the training points, in a fresh order from ``rng``."""
        order = rng.permutation(len(self.data[0]))
        return [order[start:start + self.config.batch_size] for start in range(0, len(order), self.config.batch_size)]

    def epochs(self):
        r"""Every epoch's batches, epoch after epoch: the same sequence at every call."""
        rng = copy.deepcopy(self.rng)
        for epoch in itertools.count(1):
            yield self.batches(rng, epoch)

    def step(self, n):
        r"""``(weights, optimizer state, X, y)`` that step ``n`` (from 1) of the lockstep run starts from.

        Every step of the run starts from manual's weights and optimizer state (torch is re-synchronised
        from them), so manual alone, trained on the run's batches in the run's order, reaches them.
        """
        X_train, y_train = self.data[:2]
        per_epoch = len(next(self.epochs()))
        if not 1 <= n <= per_epoch * self.config.epochs:
            epochs = self.config.epochs
            raise ValueError(f"--step {n}: must be an integer in [1, {per_epoch * epochs}] "
                             f"({epochs} epoch{'s' * (epochs > 1)} of {per_epoch} steps)")
        pair = Pair(self.config, self.weights)
        for idx in itertools.chain.from_iterable(self.epochs()):
            n -= 1
            if n == 0:
                return pair.models[0].state_dict(), pair.manual_state(), X_train[idx], y_train[idx]
            pair.manual_step(read_only(X_train[idx]), read_only(y_train[idx]))


def points_batch(config, points, y):
    r"""Points ``(x, y)`` of the plane and their +1/-1 labels as a batch of the run: its features, its dtype and
    its labels as ``config.loss`` takes them. Shapes: ``(B, 2)``, ``(B,)`` -> ``(B, features)``, ``(B, 1)``."""
    dtype = DTYPES[config.dtype][0]
    X = expand(np.asarray(points, np.float64).reshape(-1, 2), config.features).astype(dtype)
    return X, labels(np.asarray(y, dtype).reshape(-1, 1), config.loss)
