r"""``python -m compare --playground URL --export-torch PATH``: the URL's set-up as a standalone PyTorch script.

The script imports only torch, numpy and plygdata, and declares them (``REQUIREMENTS``, the project's own
ranges) in a PEP 723 block that ``uv run`` and ``pipx run`` read. It is written as a PyTorch user would write it,
``nn.Sequential``, ``DataLoader`` and a training loop, with a comment at each place where
Playground's rule differs from the torch idiom. ``python PATH`` trains it and prints the article's
epoch lines.
"""
import json

import torch_impl
from compare.core.data import REGRESSION

REQUIREMENTS = ("numpy>=1.24", "torch>=2.0", "playground-data>=1.1")     # pyproject.toml's (a test holds them equal)

DATASETS = {"circle": "ClassifyCircleData", "xor": "ClassifyXORData", "gauss": "ClassifyTwoGaussData",
            "spiral": "ClassifySpiralData", "reg-plane": "RegressPlane", "reg-gauss": "RegressGaussian"}
INITS = {   # each initialisation: the comment, and the two lines that set a layer's weight and bias
    "playground": ("Playground's: weights U(-0.5, 0.5), biases 0.1 (nn.Linear's own: U(+-1/sqrt(in)))",
                   "nn.init.uniform_(layer.weight, -0.5, 0.5)", "nn.init.constant_(layer.bias, 0.1)"),
    "zero": ("Playground's initZero: every weight and bias 0", "nn.init.zeros_(layer.weight)",
             "nn.init.zeros_(layer.bias)"),
    "xavier": ("Deep Insider's Playground: Glorot-uniform weights, biases 0 (nn.Linear's own: U(+-1/sqrt(in)))",
               "nn.init.xavier_uniform_(layer.weight)", "nn.init.zeros_(layer.bias)"),
    "torch-default": ("nn.Linear's own", "pass", "pass"),
}

LOSS_CODE = {
    "mse": "# Playground's square error is half of nn.MSELoss: 0.5 (output - target)^2, so its gradient has no 2\n"
           "    return 0.5 * nn.functional.mse_loss(y_pred, y)",
    "l1": "# Deep Insider's mae: |output - target|; torch's gradient is 0 where they are equal (Playground's 0/0)\n"
          "    return nn.functional.l1_loss(y_pred, y)",
}

TEMPLATE = '''# /// script
# requires-python = ">=3.10"
# dependencies = {requirements}
# ///
"""TensorFlow Playground's set-up as a PyTorch script: {summary}.

Exported by python -m compare --export-torch from the Playground page in URL below.
It needs {install} (the block above says the same to uv run and pipx run).
Run it with python and this file's name; it trains the network and prints one line per epoch.
"""
import random

import numpy as np
import plygdata as pg                                   # the package playground-data
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

URL = {url!r}
DATASET = pg.DatasetType.{dataset}
NOISE = {noise!r}                                       # Playground's noise, / 100
TRAINING_DATA_RATIO = {train_ratio!r}
# Playground's inputs, in its order: x, y, x2 (x squared), y2, xy, sinx, siny
FEATURES = {features!r}
HIDDEN = {hidden!r}
ACTIVATIONS = [{activations}]                            # one per hidden layer
BATCH_SIZE = {batch_size!r}
LEARNING_RATE = {lr!r}
REGULARIZATION = {regularization!r}                     # "none", "L1" or "L2": on the weights only
REGULARIZATION_RATE = {regularization_rate!r}
EPOCHS = {epochs!r}
SEED = {seed!r}
DTYPE = torch.{dtype}                                   # float32 is the article's .float()
INPUTS = {{"x": lambda x, y: x, "y": lambda x, y: y, "x2": lambda x, y: x * x, "y2": lambda x, y: y * y,
          "xy": lambda x, y: x * y, "sinx": lambda x, y: np.sin(x), "siny": lambda x, y: np.sin(y)}}


def features(X):
    return np.column_stack([INPUTS[name](X[:, 0], X[:, 1]) for name in FEATURES])


def build_model():
    sizes = [len(FEATURES), *HIDDEN]
    layers = []
    for n_in, n_out, activation in zip(sizes, sizes[1:], ACTIVATIONS):
        layers += [nn.Linear(n_in, n_out), activation()]
    layers += [nn.Linear(sizes[-1], 1), {output_activation}()]   # Playground: tanh output, linear for regression
    model = nn.Sequential(*layers).to(DTYPE)
    for layer in model:
        if isinstance(layer, nn.Linear):   # {init[0]}
            {init[1]}
            {init[2]}
    return model


def loss_fn(y_pred, y):
    {loss_code}


@torch.no_grad()
def update(model, dead):
    # Playground's update, not torch.optim.SGD(weight_decay=...): a plain gradient step, then the penalty
    # on the weights only (never the biases), taken at the weight before the step; with L1, a weight that
    # the penalty pushes across 0 is set to 0 for good ("dead"). weight_decay would add it to every
    # parameter's gradient, biases included, before the step.
    for name, p in model.named_parameters():
        before = p.clone()
        p -= LEARNING_RATE * p.grad
        if not name.endswith("weight") or REGULARIZATION == "none":
            continue
        penalty = torch.sign(before) if REGULARIZATION == "L1" else before      # R'(w): sign(w), or w for L2
        updated = p - LEARNING_RATE * REGULARIZATION_RATE * penalty
        if REGULARIZATION == "L1":
            dead[name] = dead.get(name, torch.zeros_like(p, dtype=torch.bool)) | (p * updated < 0)
            updated = updated.masked_fill(dead[name], 0)
        p.copy_(updated)


def main():
    random.seed(SEED)                        # plygdata draws from Python's and NumPy's generators
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    X_train, y_train, X_valid, y_valid = pg.split_data(pg.generate_data(DATASET, NOISE),
                                                       training_size=TRAINING_DATA_RATIO)
    train = TensorDataset(*(torch.from_numpy(a).to(DTYPE) for a in (features(X_train), y_train.astype(np.float64))))
    valid = tuple(torch.from_numpy(a).to(DTYPE) for a in (features(X_valid), y_valid.astype(np.float64)))
    # The torch idiom, not Playground's: a new order every epoch and a last, partial batch of its own.
    # Playground keeps one order and (upstream) carries a partial batch into the next epoch. SEED seeds
    # plygdata's points and torch's generator, not the URL's seed, so the numbers are this script's own
    # (python -m compare --playground URL --exact replays the page's).
    loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True)
    model, dead = build_model(), {{}}
    for epoch in range(1, EPOCHS + 1):
        model.train()
        for X, y in loader:
            model.zero_grad()
            loss_fn(model(X), y).backward()
            update(model, dead)
        model.eval()
        with torch.no_grad():
            (train_loss, train_acc), (valid_loss, valid_acc) = (
                (loss_fn(model(X), y).item(), accuracy(model(X), y)) for X, y in (train.tensors, valid))
        print(f"[Epoch {{epoch:3d}}/{{EPOCHS:3d}}] loss: {{train_loss:.5f}}, acc: {{train_acc:.5f}} "
              f"val_loss: {{valid_loss:.5f}}, val_acc: {{valid_acc:.5f}}")


def accuracy(y_pred, y):
    # Playground's classes are +1 and -1: y_pred >= 0 is +1 (for regression this counts nothing useful)
    return (torch.where(y_pred >= 0, 1.0, -1.0) == y).double().mean().item()


if __name__ == "__main__":
    main()
'''


def script(config, url):
    r"""The text of the standalone script for ``config``, read from the Playground ``url`` (kept as a string
    literal: nothing of the URL can become code)."""
    sizes = "-".join(map(str, (len(config.features), *config.hidden, 1)))
    summary = (f"a {sizes} network of {'/'.join(config.activations) or 'no hidden layer'} on the "
               f"{config.dataset} data, batch {config.batch_size}, learning rate {config.lr}")
    return TEMPLATE.format(
        requirements=json.dumps(list(REQUIREMENTS)), install="pip install " + " ".join(f"'{r}'" for r in REQUIREMENTS),
        dtype=config.dtype, summary=summary, url=url, dataset=DATASETS[config.dataset], noise=config.noise,
        train_ratio=config.train_ratio, features=list(config.features), hidden=list(config.hidden),
        batch_size=config.batch_size, lr=config.lr, regularization=config.regularization,
        regularization_rate=config.regularization_rate, epochs=config.epochs, seed=config.seed,
        activations=", ".join(f"nn.{torch_impl.ACTIVATIONS[name].__name__}" for name in config.activations),
        output_activation="nn.Identity" if config.dataset in REGRESSION else "nn.Tanh",
        init=INITS[config.init], loss_code=LOSS_CODE[config.loss])
