r"""Training and validation steps and the epoch loop, as the article writes them in PyTorch.

``diff manual/train.py torch_impl/train.py`` shows what autograd and ``torch.optim`` replace:
``model.backward(criterion.backward())`` instead of ``loss.backward()``.
"""
from .nn import discretize

EPOCHS = 100        # epochs
BATCH_SIZE = 15     # mini-batch size
LEARN_RATE = 0.03   # learning rate
REGULAR = 0.03      # L2 regularisation rate (SGD weight decay)


def train_step(model, optimizer, criterion, X, y):
    r"""One SGD step on a batch; return ``(loss, correct)`` as Python numbers.

    Shapes: X ``(B, 2)``, y ``(B, 1)`` with labels +1/-1.
    """
    y_pred = model(X)                                   # forward pass
    optimizer.zero_grad()                               # gradients accumulate: clear them
    loss = criterion(y_pred, y)
    model.backward(criterion.backward())                # backward pass: fills every p.grad
    optimizer.step()                                    # update the parameters
    correct = (discretize(y_pred) == y).sum()           # predictions made before the update
    return loss, int(correct)


def valid_step(model, criterion, X, y):
    r"""Evaluate a batch without training; return ``(loss, correct)`` as Python numbers."""
    y_pred = model(X)
    loss = criterion(y_pred, y)
    correct = (discretize(y_pred) == y).sum()
    return loss, int(correct)


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
