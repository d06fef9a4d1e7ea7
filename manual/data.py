r"""Mini-batches: what ``torch.utils.data.DataLoader(TensorDataset(X, y), ...)`` does for ``torch_impl``."""
import numpy as np


class DataLoader:
    r"""Iterate over ``(X[idx], y[idx])`` batches of ``batch_size`` rows; the last may be shorter.

    With ``shuffle=True`` each pass draws a new order from ``rng`` (a ``numpy.random.Generator``),
    like ``DataLoader(..., shuffle=True)``; otherwise the rows come in order. ``batch_sampler``, an
    iterable of index arrays, replaces both (as in torch).
    """

    def __init__(self, X, y, batch_size=1, shuffle=False, rng=None, batch_sampler=None):
        if batch_sampler is None and not batch_size >= 1:   # torch raises ValueError too
            raise ValueError(f"batch_size should be a positive integer, got {batch_size}")
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng() if rng is None else rng
        self.batch_sampler = batch_sampler

    def batches(self):
        r"""The index arrays of one pass."""
        if self.batch_sampler is not None:
            return self.batch_sampler
        n = len(self.X)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        return [order[start:start + self.batch_size] for start in range(0, n, self.batch_size)]

    def __iter__(self):
        for idx in self.batches():
            yield self.X[idx], self.y[idx]

    def __len__(self):
        return len(self.batches())
