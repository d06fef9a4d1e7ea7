r"""Losses with their gradients: what ``torch.nn.MSELoss``, ``torch.nn.L1Loss`` and autograd do for ``torch_impl``."""
import numpy as np


class MSELoss:
    r"""``L = sum((y_pred - y)**2) / N``, the mean over all N elements (no 1/2, as torch).

    Call it, then ``backward()`` returns ``dL/dy_pred = 2 (y_pred - y) / N``.

    Shapes:
        y_pred and y ``(B, 1)``. Labels of shape ``(B,)`` are refused: ``(B, 1) - (B,)`` would
        broadcast to ``(B, B)`` and silently compute another loss (torch only warns).
    """

    def __call__(self, y_pred, y):
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred {y_pred.shape} and labels {y.shape} must have the same "
                             "shape; reshape the labels with y.reshape(-1, 1)")
        self.y_pred, self.y = y_pred, y             # backward needs both
        return float(((y_pred - y)**2).sum()) / y.size   # L = sum((y_pred - y)^2) / N

    def backward(self):
        r"""Return ``dL/dy_pred = 2 (y_pred - y) / N`` : (B, 1)."""
        return 2 * (self.y_pred - self.y) / self.y.size   # dL/dy_pred = 2 (y_pred - y) / N


class L1Loss(MSELoss):
    r"""``L = sum(|y_pred - y|) / N``, the mean absolute error (Playground's "mae").

    ``backward()`` returns ``dL/dy_pred = sign(y_pred - y) / N``: 0 where the two are equal, as torch's
    gradient (Playground's ``(o - t) / |o - t|`` is 0/0 there). Shapes as ``MSELoss``.
    """

    def __call__(self, y_pred, y):
        super().__call__(y_pred, y)                 # the shape check, and keeps y_pred and y
        return float(np.abs(y_pred - y).sum()) / y.size   # L = sum(|y_pred - y|) / N

    def backward(self):
        r"""Return ``dL/dy_pred = sign(y_pred - y) / N`` : (B, 1)."""
        return np.sign(self.y_pred - self.y) / self.y.size   # dL/dy_pred = sign(y_pred - y) / N
