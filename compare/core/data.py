r"""Playground data sets from ``plygdata``, made reproducible, and Playground's input features.

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
    "reg-plane": pg.DatasetType.RegressPlane,
    "reg-gauss": pg.DatasetType.RegressGaussian,
}
REGRESSION = ("reg-plane", "reg-gauss")     # real-valued labels; the others are +1/-1

# Playground's input features of a point (x, y), in the order its network lists them
FEATURES = {
    "x": lambda x, y: x,
    "y": lambda x, y: y,
    "x2": lambda x, y: x * x,
    "y2": lambda x, y: y * y,
    "xy": lambda x, y: x * y,
    "sinx": lambda x, y: np.sin(x),
    "siny": lambda x, y: np.sin(y),
}


def check_features(features):
    r"""Raise ``ValueError`` unless ``features`` names at least one known feature, each once."""
    unknown = [name for name in features if name not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature {unknown[0]!r}; choose from {', '.join(FEATURES)}")
    if not features or len(set(features)) != len(features):
        raise ValueError(f"features {','.join(features)!r}: name at least one, each at most once")


def expand(X, features):
    r"""The network's inputs: one column per feature of each point ``(x, y)``, in the order given.

    Shapes: X ``(N, 2)`` -> ``(N, len(features))``.
    """
    return np.column_stack([FEATURES[name](X[:, 0], X[:, 1]) for name in features])


def load_data(dataset="circle", noise=0.0, train_ratio=0.5, seed=0, features=("x", "y")):
    r"""Generate labelled points and split them into training and validation sets.

    Parameters
    ----------
    dataset : {"circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss"}
        500 points labelled +1/-1, or (``reg-``) 1200 points with a real label in [-1, 1].
    noise : float in [0, 0.5]
        Playground's noise level (the article: 0.0).
    train_ratio : float in (0, 1)
        Share of the points used for training (the article: 0.5).
    seed : int >= 0
    features : sequence of str
        The input columns, from ``FEATURES``: ``x, y, x2, y2, xy, sinx, siny``.

    Returns
    -------
    X_train, y_train, X_valid, y_valid : float64 ndarrays
        Shapes ``(N, len(features))`` and ``(N, 1)``; classification labels are +1 (blue) or
        -1 (orange).
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if not 0.0 <= noise <= 0.5:
        raise ValueError(f"noise must be in [0, 0.5], got {noise}")
    if not 0.0 < train_ratio < 1.0:
        raise ValueError(f"train ratio must be strictly between 0 and 1, got {train_ratio}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    check_features(features)
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
    return (expand(np.asarray(X_train, np.float64), features), np.asarray(y_train, np.float64),
            expand(np.asarray(X_valid, np.float64), features), np.asarray(y_valid, np.float64))
