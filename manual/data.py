r"""Mini-batches: what ``torch.utils.data.DataLoader(TensorDataset(X, y), ...)`` does for ``torch_impl``."""
import numpy as np


class DataLoader:
    r"""Iterate over ``(X[idx], y[idx])`` batches of ``batch_size`` rows; the last may be shorter.

    With ``shuffle=True`` each pass draws a new order from ``rng`` (a ``numpy.random.Generator``),
    like ``DataLoader(..., shuffle=True)``; otherwise the rows come in order.
    """

    def __init__(self, X, y, batch_size, shuffle=False, rng=None):
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng() if rng is None else rng

    def __iter__(self):
        n = len(self.X)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.X[idx], self.y[idx]

    def __len__(self):
        return -(-len(self.X) // self.batch_size)
