r"""The learner's code the lockstep does not run, checked before it against torch's definitions.

The lockstep loads one set of initial weights into both sides and drives both loaders through one
batch order, so neither side's initialiser nor its loader's shuffle and last batch shape the run.
Both are the learner's code all the same, so each side's is run here on its own: its initialiser
draws a 300 x 200 layer, which must follow ``torch.nn.init``'s distribution (every value within the
bound, and a Kolmogorov-Smirnov test at level ``ALPHA`` against it); its loader, built as the side's
script builds it (``batch_size``, ``shuffle=True``), must do what ``torch.utils.data.DataLoader``
defines, two epochs over the training set.
"""
import itertools
import math

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import manual
import torch_impl

from .pair import DTYPES
from .source import initialise

ALPHA = 1e-6                      # a correct initialiser fails the test once in a million runs
FAN_IN, FAN_OUT = 300, 200        # the probe layer: 60,000 weights, 200 biases


def definition(init, fan_in, fan_out):
    r"""The distribution of a layer's weight and bias under ``init``: ``("uniform", b)``, U(-b, b), or
    ``("constant", c)``; as ``torch.nn.init.xavier_uniform_`` and ``zeros_``, ``nn.Linear``'s
    ``reset_parameters`` (kaiming-uniform with a = sqrt(5), bound 1 / sqrt(fan_in)), Playground's ``nn.ts``."""
    return {"xavier": (("uniform", math.sqrt(6 / (fan_in + fan_out))), ("constant", 0.0)),
            "torch-default": (("uniform", 1 / math.sqrt(fan_in)),) * 2,
            "playground": (("uniform", 0.5), ("constant", 0.1)),
            "zero": (("constant", 0.0),) * 2}[init]


def departure(values, kind, size):
    r"""How ``values`` depart from the distribution ``(kind, size)``, in a few words; None if they do not."""
    values = np.ravel(values)
    if kind == "constant":
        if np.all(values == np.asarray(size, values.dtype)):
            return None
        return f"should all be {size:g}, are {values.min():g} to {values.max():g}"
    largest = float(np.abs(values).max())
    if largest > size:
        return f"should lie within +-{size:.4g} (U(-b, b)), reach {largest:.4g}"
    cdf = (np.sort(values.astype(np.float64)) + size) / (2 * size)             # U(-b, b)'s F at the sorted draws
    n = values.size
    distance = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    if distance > math.sqrt(-math.log(ALPHA / 2) / 2 / n):
        return f"are not U(-{size:.4g}, {size:.4g}): Kolmogorov-Smirnov distance {distance:.3g} over {n} draws"
    return None


def drawn(config):
    r"""``{side: (weight, bias)}`` of a ``FAN_IN x FAN_OUT`` layer as each side's own code initialises it under
    ``config.init``; torch's side has no Playground initialiser of its own (the run loads manual's)."""
    rng = np.random.default_rng(config.seed)
    model = manual.NeuralNetwork((FAN_OUT,), ("tanh",), dtype=DTYPES[config.dtype][0], rng=rng, in_features=FAN_IN)
    sides = {"manual": initialise(model, config.init, rng).layer1}
    if config.init in ("xavier", "torch-default"):
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            model = torch_impl.NeuralNetwork((FAN_OUT,), ("tanh",), dtype=DTYPES[config.dtype][1], in_features=FAN_IN)
            if config.init == "xavier":
                model.apply(torch_impl.init_parameters)
        sides["torch"] = model.layer1
    return {side: (np.asarray(layer.weight.data), np.asarray(layer.bias.data)) for side, layer in sides.items()}


def initialiser_problems(config):
    r"""What each side's initialiser draws otherwise than ``definition`` says, one phrase each."""
    expected = definition(config.init, FAN_IN, FAN_OUT)
    return [f"{side}'s {config.init} {name} {problem}" for side, values in drawn(config).items()
            for name, value, distribution in zip(("weights", "biases"), values, expected, strict=True)
            if (problem := departure(value, *distribution))]


def loader_problems(config, n):
    r"""What each side's training loader does with ``n`` points otherwise than ``DataLoader`` defines, one
    phrase each: every point once an epoch, with its own label; batches of ``batch_size`` and a last one of
    the rest; a new order each epoch. Each point's label names it, so that a mix-up shows."""
    X = np.arange(n, dtype=DTYPES[config.dtype][0]).reshape(-1, 1)
    y, size = X * 10, config.batch_size
    loaders = {"manual": manual.DataLoader(X, y, batch_size=size, shuffle=True, rng=np.random.default_rng(config.seed)),
               "torch": DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=size,
                                   shuffle=True, generator=torch.Generator().manual_seed(config.seed))}
    sizes = [min(size, n - start) for start in range(0, n, size)]
    problems = []
    for side, loader in loaders.items():
        epochs = [[(np.asarray(X_batch)[:, 0], np.asarray(y_batch)[:, 0]) for X_batch, y_batch in loader]
                  for _ in range(2)]
        problem = epoch_problem(epochs, sizes, n)
        if problem:
            problems.append(f"{side}'s loader {problem}")
    return problems


def epoch_problem(epochs, sizes, n):
    r"""What two epochs of ``(point ids, labels)`` batches do wrong, or None."""
    for batches in epochs:
        if [len(ids) for ids, _ in batches] != sizes:
            return f"gave {batch_sizes([len(ids) for ids, _ in batches])}, where {n} points give {batch_sizes(sizes)}"
        if sorted(np.concatenate([ids for ids, _ in batches]).tolist()) != list(range(n)):
            return "did not give every point once in an epoch"
        if any((labels != ids * 10).any() for ids, labels in batches):
            return "gave points with other points' labels"
    orders = [np.concatenate([ids for ids, _ in batches]).tolist() for batches in epochs]
    if n >= 8 and orders[0] == orders[1]:
        return "gave the same order in two epochs: shuffle=True draws a new order every epoch"
    return None


def batch_sizes(sizes):
    r"""``[15, 15, 10]`` -> ``"batches of 2 x 15, 1 x 10"``."""
    return "batches of " + ", ".join(f"{len(list(run))} x {size}" for size, run in itertools.groupby(sizes))
