r"""Losses with their gradients, as ``torch.nn`` has them: ``MSELoss`` (the article's), ``L1Loss``,
``BCELoss``, ``BCEWithLogitsLoss`` and ``CrossEntropyLoss``. docs/losses.md derives each gradient.

Each is called as torch's is, ``loss = criterion(y_pred, y)``, and keeps what its gradient needs;
``criterion.backward()`` then returns ``dL/dy_pred``, where the backward pass starts (autograd
computes it for ``torch_impl``). ``reduction="mean"``, the default, divides the summed loss by N,
the number of elements (of targets, for cross-entropy), and so divides its gradient; ``"sum"`` does not.
"""
import numpy as np

EPSILON = float(np.float32(1e-12))   # BCELoss's gradient divides by p (1 - p), never by less: torch's
                                     # constant, a C float, so 9.99999996e-13 even in float64


class Loss:
    r"""What every loss here shares: ``reduction`` and the N it divides by."""

    def __init__(self, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{reduction} is not a valid value for reduction")    # torch's words
        self.reduction = reduction

    def reduce(self, losses):
        r"""``L`` from the per-element losses: their sum, over N for ``"mean"``; keeps the divisor as ``self.n``."""
        self.n = losses.size if self.reduction == "mean" else 1
        return float(losses.sum()) / self.n


def same_shape(y_pred, y):
    r"""Refuse labels of another shape: ``(B, 1) - (B,)`` would broadcast to ``(B, B)`` and silently
    compute another loss (torch only warns, for MSELoss and L1Loss)."""
    if y_pred.shape != y.shape:
        raise ValueError(f"y_pred {y_pred.shape} and labels {y.shape} must have the same "
                         "shape; reshape the labels with y.reshape(-1, 1)")


def sigmoid(z):
    r"""``1 / (1 + exp(-z))`` without overflow: ``exp(-|z|)`` is at most 1, whatever ``z``."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


class MSELoss(Loss):
    r"""``L = sum((y_pred - y)**2) / N``, the mean over all N elements (no 1/2, as torch).

    ``backward()`` returns ``dL/dy_pred = 2 (y_pred - y) / N``.

    Shapes: y_pred and y ``(B, 1)``; labels of shape ``(B,)`` are refused (``same_shape``).
    """

    def __call__(self, y_pred, y):
        same_shape(y_pred, y)
        self.y_pred, self.y = y_pred, y             # backward needs both
        return self.reduce((y_pred - y)**2)         # L = sum((y_pred - y)^2) / N

    def backward(self):
        r"""Return ``dL/dy_pred = 2 (y_pred - y) / N`` : (B, 1)."""
        return 2 * (self.y_pred - self.y) / self.n   # dL/dy_pred = 2 (y_pred - y) / N


class L1Loss(Loss):
    r"""``L = sum(|y_pred - y|) / N``, the mean absolute error (Playground's "mae").

    ``backward()`` returns ``dL/dy_pred = sign(y_pred - y) / N``: 0 where the two are equal, as torch's
    gradient (Playground's ``(o - t) / |o - t|`` is 0/0 there). Shapes as ``MSELoss``.
    """

    def __call__(self, y_pred, y):
        same_shape(y_pred, y)
        self.y_pred, self.y = y_pred, y
        return self.reduce(np.abs(y_pred - y))      # L = sum(|y_pred - y|) / N

    def backward(self):
        r"""Return ``dL/dy_pred = sign(y_pred - y) / N`` : (B, 1)."""
        return np.sign(self.y_pred - self.y) / self.n   # dL/dy_pred = sign(y_pred - y) / N


class BCELoss(Loss):
    r"""Binary cross-entropy on probabilities: ``L = -sum(y log p + (1 - y) log(1 - p)) / N``.

    ``p = y_pred`` in [0, 1] (a sigmoid output), labels ``y`` in [0, 1] (0 or 1 for two classes).
    Each log is clamped at -100, as torch's: a p of exactly 0 or 1 on the wrong side costs 100, not
    infinity.

    ``backward()`` returns ``dL/dp = (p - y) / (p (1 - p)) / N``: the derivative of
    ``-(y log p + (1 - y) log(1 - p))`` is ``-y / p + (1 - y) / (1 - p)``, which is that fraction.
    Like torch, the denominator is never below ``EPSILON``, so a saturated p gives a large finite
    gradient. Through the sigmoid below it (``dp/dz = p (1 - p)``) the two cancel to ``(p - y) / N``,
    but only in exact arithmetic: once p rounds to 0 or 1 the cancellation is lost, which is why
    ``BCEWithLogitsLoss`` takes the logit instead.

    Shapes: y_pred and y ``(B, 1)``.
    """

    def __call__(self, y_pred, y):
        same_shape(y_pred, y)
        for name, value in (("input", y_pred), ("target", y)):
            if not np.all((value >= 0) & (value <= 1)):
                raise ValueError(f"all elements of {name} should be between 0 and 1")   # torch's words
        self.y_pred, self.y = y_pred, y
        with np.errstate(divide="ignore"):          # log(0) = -inf, clamped just below
            log_p, log_1_p = np.maximum(np.log(y_pred), -100), np.maximum(np.log1p(-y_pred), -100)
        return self.reduce(-(y * log_p + (1 - y) * log_1_p))   # L = -sum(y log p + (1 - y) log(1 - p)) / N

    def backward(self):
        r"""Return ``dL/dp = (p - y) / max(p (1 - p), EPSILON) / N`` : (B, 1)."""
        p, y = self.y_pred, self.y
        return (p - y) / np.maximum(p * (1 - p), EPSILON) / self.n


class BCEWithLogitsLoss(Loss):
    r"""Binary cross-entropy on a logit z (a linear output): ``BCELoss`` of ``sigmoid(z)``, fused.

    With ``log sigmoid(z) = -log(1 + exp(-z))`` and ``log(1 - sigmoid(z)) = -z - log(1 + exp(-z))``,
    each element's loss is ``z (1 - y) + log(1 + exp(-z))``, and for ``z < 0`` the same is
    ``-z y + log(1 + exp(z))``; both are ``max(z, 0) - z y + log(1 + exp(-|z|))``, where exp never
    sees a positive number: finite for any finite logit, as torch's. ``L`` is their sum over N.

    ``backward()`` returns ``dL/dz = (sigmoid(z) - y) / N``: the sigmoid's ``p (1 - p)`` has cancelled
    on paper, so nothing is divided.

    Shapes: y_pred and y ``(B, 1)``, labels in [0, 1].
    """

    def __call__(self, y_pred, y):
        same_shape(y_pred, y)
        self.y_pred, self.y = y_pred, y
        z = y_pred
        return self.reduce(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))

    def backward(self):
        r"""Return ``dL/dz = (sigmoid(z) - y) / N`` : (B, 1)."""
        return (sigmoid(self.y_pred) - self.y) / self.n   # dL/dz = (sigmoid(z) - y) / N


class CrossEntropyLoss(Loss):
    r"""Cross-entropy of C logits per example and an integer class each: ``L = -sum_n log softmax(z_n)[y_n] / B``.

    ``log softmax(z)_j = z_j - m - log(sum_k exp(z_k - m))`` with ``m = max_k z_k`` (log-sum-exp):
    every exp is of a number <= 0, and the largest is exp(0) = 1, so neither overflows nor takes
    the log of 0. With ``reduction="mean"`` N is B, the number of targets.

    ``backward()`` returns ``dL/dz = (softmax(z) - onehot(y)) / B``: ``d/dz_j`` of
    ``-(z_y - log sum_k exp(z_k))`` is ``softmax(z)_j - [j == y]``.

    Shapes: y_pred ``(B, C)``, y ``(B,)`` of integers in [0, C).
    """

    def __call__(self, y_pred, y):
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"targets must be class indices, integers of shape (B,), not {y.dtype} of shape {y.shape}")
        if y_pred.ndim != 2 or len(y_pred) != len(y):
            raise ValueError(f"logits of shape {y_pred.shape} do not pair with {len(y)} targets: expected (B, C)")
        outside = y[(y < 0) | (y >= y_pred.shape[1])]
        if outside.size:
            raise ValueError(f"Target {outside[0]} is out of bounds.")                # torch's words
        self.y_pred, self.y = y_pred, y
        shifted = y_pred - y_pred.max(axis=1, keepdims=True)                 # z - m: every exp(z - m) <= 1
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return self.reduce(-log_softmax[np.arange(len(y)), y])              # L = -sum_n log softmax(z_n)[y_n] / B

    def backward(self):
        r"""Return ``dL/dz = (softmax(z) - onehot(y)) / B`` : (B, C)."""
        shifted = self.y_pred - self.y_pred.max(axis=1, keepdims=True)       # softmax is the same of z - m
        softmax = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        onehot = np.zeros_like(softmax)
        onehot[np.arange(len(self.y)), self.y] = 1
        return (softmax - onehot) / self.n                                  # dL/dz = (softmax(z) - onehot(y)) / B
