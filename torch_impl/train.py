r"""Training and validation steps and the epoch loop: the article's code without its globals.

``diff manual/train.py torch_impl/train.py`` shows what autograd and ``torch.optim`` replace.
Fixed against the article: the steps take the model, optimizer and loss as arguments,
``valid_step`` runs under ``torch.no_grad()``, and the epoch loss is a true mean.
"""
import math

import torch
import torch.nn as nn

from .nn import ACTIVATIONS, predict

EPOCHS = 100        # epochs
BATCH_SIZE = 15     # mini-batch size
LEARN_RATE = 0.03   # learning rate
REGULAR = 0.03      # L2 regularisation rate (SGD weight decay)

# What each setting of the article's script may be: python -m compare checks its options by the same rules
LIMITS = {
    "epochs": (lambda v: v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: 1 <= v < 2**31, "an integer in [1, 2**31)"),
    "lr": (lambda v: 0 < v < math.inf, "a finite number > 0"),
    "weight_decay": (lambda v: 0 <= v < math.inf, "a finite number >= 0"),
    "noise": (lambda v: 0 <= v <= 0.5, "a number in [0, 0.5]"),
    "train_ratio": (lambda v: 0 < v < 1, "a number strictly between 0 and 1"),
    "seed": (lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)"),
    "hidden": (lambda v: all(n >= 1 for n in v), "neuron counts >= 1"),
    "activations": (lambda v: set(v) <= set(ACTIVATIONS), f"names from {', '.join(ACTIVATIONS)}, or one you add "
                                                           "(docs/article.md: How to add an activation)"),
}


# Each loss by its option name, and the output layer it takes: (loss, output activation, outputs).
# docs/losses.md derives each gradient and says why the logit forms are the stable ones.
LOSSES = {"mse": (nn.MSELoss, "tanh", 1), "l1": (nn.L1Loss, "tanh", 1), "bce": (nn.BCELoss, "sigmoid", 1),
          "bce-logits": (nn.BCEWithLogitsLoss, "linear", 1), "cross-entropy": (nn.CrossEntropyLoss, "linear", 2)}


def labels(y, loss):
    r"""Playground's +1/-1 labels ``(N, 1)`` as ``loss`` takes them: as they are for mse and l1, 0/1 for
    bce and bce-logits, class indices ``(N,)`` (integers) for cross-entropy."""
    if loss == "cross-entropy":
        return (y[:, 0] > 0).long()
    return (y > 0).to(y.dtype) if loss in ("bce", "bce-logits") else y


def score(y_pred, loss):
    r"""The output as a number in [-1, 1] whose sign is the class, as Playground colours the plane:
    the tanh output itself for mse and l1, ``2p - 1`` for bce's probability, ``tanh(z / 2)``
    (= ``2 sigmoid(z) - 1``) for a logit, and for two logits the same of their difference.
    Shapes: ``(N, 1)``, or ``(N, 2)`` for cross-entropy -> ``(N, 1)``."""
    if loss == "cross-entropy":
        y_pred = y_pred[:, 1:] - y_pred[:, :1]
    if loss == "bce":
        return 2 * y_pred - 1
    return torch.tanh(y_pred / 2) if loss in ("bce-logits", "cross-entropy") else y_pred


MAX_PARAMETERS = 10_000_000     # the largest network a command trains (80 MB of float64 weights)
FLOAT32_ROUNDS_TO_0, FLOAT32_OVERFLOWS = 2.0**-150, 2.0**128 - 2.0**103   # where float32 rounding ends


def check_settings(settings, dtype, in_features=2):
    r"""Raise ``ValueError``, in the command line's words, for a setting outside ``LIMITS``, hidden layers
    and activations that do not pair up, a network of over ``MAX_PARAMETERS`` parameters or a rate that
    ``dtype`` cannot hold; ``settings`` maps names of ``LIMITS`` to values."""
    for name, value in settings.items():
        ok, requirement = LIMITS[name]
        if not ok(value):
            raise ValueError(f"--{name.replace('_', '-')} {typed(value)}: must be {requirement}")
    hidden, activations = settings["hidden"], settings["activations"]
    if len(activations) != len(hidden):
        raise ValueError(f"--hidden {typed(hidden)} gives {len(hidden)} hidden layer(s) but --activations "
                         f"{typed(activations)} names {len(activations)} activation(s): give one per layer, "
                         f"e.g. --activations {typed(('tanh',) * len(hidden))}")
    sizes = (in_features, *hidden, 1)
    parameters = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:], strict=False))
    if parameters > MAX_PARAMETERS:
        raise ValueError(f"--hidden {typed(hidden)} makes a network of {parameters:,} parameters; "
                         f"at most {MAX_PARAMETERS:,} are trained")
    for name in ("lr", "weight_decay"):
        check_representable(name, settings[name], dtype)


def check_representable(name, value, dtype):
    r"""Refuse a nonzero rate that rounds to 0 or overflows in float32 (a Python float is a float64)."""
    if dtype == "float32" and value != 0 and not FLOAT32_ROUNDS_TO_0 < abs(value) < FLOAT32_OVERFLOWS:
        what = "rounds to 0 in" if abs(value) <= FLOAT32_ROUNDS_TO_0 else "overflows"
        raise ValueError(f"--{name.replace('_', '-')} {value:g}: {what} float32")


def typed(value):
    r"""A setting as it is typed: ``(3, 3)`` -> ``3,3``; ``()`` -> ``""``."""
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or '""'
    return str(value)


def listed(convert):
    r"""The argparse type of a comma-separated setting, ``typed``'s inverse: ``"3,3"`` -> ``(3, 3)``;
    ``""`` -> ``()``."""
    def parse(text):
        return tuple(convert(part.strip()) for part in text.split(",")) if text.strip() else ()
    parse.__name__ = f"comma-separated {convert.__name__}"       # argparse: "invalid ... value: '3,x'"
    return parse


def train_step(model, optimizer, criterion, X, y):
    r"""One SGD step on a batch; return ``(loss, correct)`` as Python numbers.

    Shapes: X ``(B, 2)``, y ``(B, 1)`` with labels +1/-1 (or as ``labels`` encodes them for the loss).
    """
    model.train()
    y_pred = model(X)                                   # forward pass
    optimizer.zero_grad()                               # gradients accumulate: clear them
    loss = criterion(y_pred, y)
    loss.backward()                                     # backward pass: fills every p.grad
    optimizer.step()                                    # update the parameters
    with torch.no_grad():
        correct = (predict(y_pred, criterion) == y).sum()   # predictions made before the update
    return loss.item(), int(correct)


def valid_step(model, criterion, X, y):
    r"""Evaluate a batch without training; return ``(loss, correct)`` as Python numbers."""
    model.eval()
    with torch.no_grad():                               # no graph: nothing will be backpropagated
        y_pred = model(X)
        loss = criterion(y_pred, y)
        correct = (predict(y_pred, criterion) == y).sum()
    return loss.item(), int(correct)


def fit(model, optimizer, criterion, loader_train, loader_valid, epochs=EPOCHS, log=print):
    r"""Train for ``epochs`` epochs, printing the article's line after each; return the history.

    The epoch loss is the sample-weighted mean of the batch losses, ``sum(loss_b n_b) / N``
    (the article divides the summed batch losses by the epoch number instead, which is why its
    curve starts near 18). Returns a list of ``{"epoch", "loss", "acc", "val_loss", "val_acc"}``.
    """
    history = []
    for epoch in range(1, epochs + 1):
        loss, acc = run_epoch(lambda X, y: train_step(model, optimizer, criterion, X, y), loader_train)
        val_loss, val_acc = run_epoch(lambda X, y: valid_step(model, criterion, X, y), loader_valid)
        history.append({"epoch": epoch, "loss": loss, "acc": acc, "val_loss": val_loss, "val_acc": val_acc})
        if log:
            log(epoch_line(history[-1], epochs))
    return history


def epoch_line(record, epochs):
    r"""The article's progress line: ``[Epoch   1/100] loss: ..., acc: ... val_loss: ..., val_acc: ...``."""
    return (f"[Epoch {record['epoch']:3d}/{epochs:3d}] loss: {record['loss']:.5f}, acc: {record['acc']:.5f}"
            f" val_loss: {record['val_loss']:.5f}, val_acc: {record['val_acc']:.5f}")


def run_epoch(step, loader):
    r"""Apply ``step(X, y) -> (loss, correct)`` to every batch; return the mean loss and accuracy."""
    total_loss = total_correct = total = 0
    for X, y in loader:
        loss, correct = step(X, y)
        total_loss += loss * len(y)
        total_correct += correct
        total += len(y)
    return total_loss / total, total_correct / total
