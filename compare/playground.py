r"""Playground URLs: the settings of a ``playground.tensorflow.org`` link as ``python -m compare`` options.

Playground keeps its whole state in the URL's hash, ``#key=value&key=value...`` (``src/state.ts``).
``parse_url`` turns it into argparse destinations; a key that is missing takes Playground's default.
"""
import math
from urllib.parse import urlsplit

from .data import REGRESSION

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
CLASSIFICATION = ("circle", "xor", "gauss", "spiral")
# Playground's input keys -> compare.data.FEATURES, in the order its network lists its inputs
INPUTS = {"x": "x", "y": "y", "xSquared": "x2", "ySquared": "y2", "xTimesY": "xy", "sinX": "sinx", "sinY": "siny"}
UNSUPPORTED = ("cosX", "cosY")            # Playground inputs this project does not have
DISPLAY = ("showTestData", "discretize", "hideText", "collectStats", "tutorial")   # change nothing trained
DEFAULTS = {"activation": "tanh", "batchSize": "10", "dataset": "circle", "regDataset": "reg-plane",
            "learningRate": "0.03", "regularization": "none", "regularizationRate": "0", "noise": "0",
            "networkShape": "4,2", "percTrainData": "50", "initZero": "false", "problem": "classification",
            "x": "true", "y": "true", "xSquared": "false", "ySquared": "false", "xTimesY": "false",
            "sinX": "false", "sinY": "false", "cosX": "false", "cosY": "false"}
SEED_NOTE = ("seed: ignored; Playground's seed drives JavaScript's random generator, which cannot "
             "reproduce its points here: use --seed")


def parse_url(url):
    r"""Return ``(settings, notes)``: argparse destinations and values, and lines about ignored keys.

    Raises ``ValueError`` with one line naming the key for an unknown key, a malformed value or a
    setting this project does not support.
    """
    parts = urlsplit(url)
    fragment = parts.fragment
    if "=" not in fragment and parts.hostname != "playground.tensorflow.org":   # its bare address: defaults
        raise ValueError(f"{url!r} holds no settings: copy the whole address from Playground, "
                         "with the part after '#' (activation=...&batchSize=...)")
    pairs = [part.partition("=") for part in fragment.split("&") if part]
    state = dict(DEFAULTS)
    notes = []
    for key, _, value in pairs:
        if key == "seed":
            notes.append(SEED_NOTE)
        elif not (key in DEFAULTS or key in DISPLAY or key.endswith("_hide")):
            raise ValueError(f"unknown key {key!r} in the URL")
        state[key] = value
    for key in UNSUPPORTED:
        if flag(state, key):
            raise ValueError(f"{key}=true: the input feature {key} is not supported; remove it")
    hidden = network_shape(state["networkShape"])
    problem = choice(state, "problem", ("classification", "regression"))
    features = tuple(feature for key, feature in INPUTS.items() if flag(state, key))
    if not features:
        raise ValueError("x, y, xSquared, ...: the URL selects no input feature")
    settings = {
        "rules": "playground",
        "dataset": (choice(state, "dataset", CLASSIFICATION) if problem == "classification"
                    else choice(state, "regDataset", REGRESSION)),
        "features": features,
        "hidden": hidden,
        "activations": (choice(state, "activation", ACTIVATIONS),) * len(hidden),
        "batch_size": number(state, "batchSize", int, lambda v: v >= 1, "an integer >= 1"),
        "lr": number(state, "learningRate", float, lambda v: 0 < v < math.inf, "a finite number > 0"),
        "regularization": choice(state, "regularization", ("none", "L1", "L2")),
        "regularization_rate": number(state, "regularizationRate", float, lambda v: 0 <= v < math.inf,
                                      "a finite number >= 0"),
        "noise": number(state, "noise", float, lambda v: 0 <= v <= 50, "a percentage in [0, 50]") / 100,
        "train_ratio": number(state, "percTrainData", float, lambda v: 0 < v < 100,
                              "a percentage strictly between 0 and 100") / 100,
        "init": "zero" if flag(state, "initZero") else "playground",
    }
    return settings, notes


def choice(state, key, allowed):
    if state[key] not in allowed:
        raise ValueError(f"{key}={state[key]}: choose from {', '.join(allowed)}")
    return state[key]


def flag(state, key):
    return choice(state, key, ("true", "false")) == "true"


def number(state, key, convert, check, requirement):
    try:
        value = convert(state[key])
    except ValueError:
        raise ValueError(f"{key}={state[key]}: not a number; it must be {requirement}") from None
    if not check(value):
        raise ValueError(f"{key}={state[key]}: out of range; it must be {requirement}")
    return value


def network_shape(text):
    r"""``"3,3"`` -> ``(3, 3)``; ``""`` -> ``()``: Playground's hidden layers."""
    try:
        sizes = tuple(int(part) for part in text.split(",")) if text else ()
    except ValueError:
        raise ValueError(f"networkShape={text}: not a comma-separated list of integers") from None
    if any(n < 1 for n in sizes):
        raise ValueError(f"networkShape={text}: every hidden layer needs at least 1 neuron")
    return sizes
