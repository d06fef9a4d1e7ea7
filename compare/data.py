r"""Playground data sets from ``plygdata``, made reproducible.

``plygdata`` draws from the global ``random`` and ``numpy.random`` state and takes no seed, so
``load_data`` seeds both, and puts the caller's state back afterwards.
"""
import random

import numpy as np
import plygdata as pg

DATASETS = {
    "circle": pg.DatasetType.ClassifyCircleData,
    "xor": pg.DatasetType.ClassifyXORData,
    "gauss": pg.DatasetType.ClassifyTwoGaussData,
    "spiral": pg.DatasetType.ClassifySpiralData,
}


def load_data(dataset="circle", noise=0.0, train_ratio=0.5, seed=0):
    r"""Generate 500 labelled points and split them into training and validation sets.

    Parameters
    ----------
    dataset : {"circle", "xor", "gauss", "spiral"}
    noise : float in [0, 0.5]
        Playground's noise level (the article: 0.0).
    train_ratio : float in (0, 1)
        Share of the points used for training (the article: 0.5).
    seed : int >= 0

    Returns
    -------
    X_train, y_train, X_valid, y_valid : float64 ndarrays
        Shapes ``(N, 2)`` and ``(N, 1)``; labels are +1 (blue) or -1 (orange).
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if not 0.0 <= noise <= 0.5:
        raise ValueError(f"noise must be in [0, 0.5], got {noise}")
    if not 0.0 < train_ratio < 1.0:
        raise ValueError(f"train ratio must be strictly between 0 and 1, got {train_ratio}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        random.seed(seed)
        np.random.seed(seed)
        points = pg.generate_data(DATASETS[dataset], noise)
        X_train, y_train, X_valid, y_valid = pg.split_data(points, training_size=train_ratio)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    if len(X_train) == 0 or len(X_valid) == 0:
        raise ValueError(f"train ratio {train_ratio} leaves {len(X_train)} training and "
                         f"{len(X_valid)} validation points out of {len(points)}")
    return (np.asarray(X_train, np.float64), np.asarray(y_train, np.float64),
            np.asarray(X_valid, np.float64), np.asarray(y_valid, np.float64))
