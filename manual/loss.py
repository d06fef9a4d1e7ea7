r"""Mean squared error with its gradient: what ``torch.nn.MSELoss`` and autograd do for ``torch_impl``."""
from .layers import release


class MSELoss:
    r"""``L = sum((y_pred - y)**2) / N``, the mean over all N elements (no 1/2, as torch).

    Call it, then ``backward()`` returns ``dL/dy_pred = 2 (y_pred - y) / N``.

    Shapes:
        y_pred and y ``(B, 1)``. Labels of shape ``(B,)`` are refused: ``(B, 1) - (B,)``
        would broadcast to ``(B, B)`` and silently compute a different loss.
    """

    def __call__(self, y_pred, y):
        if y_pred.shape != y.shape:
            raise ValueError(f"y_pred {y_pred.shape} and labels {y.shape} must have the same "
                             "shape; reshape labels to (N, 1)")
        self.diff = y_pred - y                      # backward needs y_pred - y
        return float((self.diff * self.diff).sum()) / self.diff.size   # L = sum((y_pred - y)^2) / N

    def backward(self):
        r"""Return ``dL/dy_pred = 2 (y_pred - y) / N`` : (B, 1)."""
        diff = release(self, "diff")
        return diff * (2 / diff.size)               # dL/dy_pred = 2 (y_pred - y) / N : (B, 1)
