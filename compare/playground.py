r"""Playground URLs: the settings of a Playground link as ``python -m compare`` options.

Playground keeps its whole state in the URL's hash, ``#key=value&key=value...`` (``src/state.ts``).
Two hosts: upstream's ``playground.tensorflow.org`` and Deep Insider's fork
``deepinsider.github.io/playground``, which the article links to; each has its own keys, defaults and
initialisation. ``parse_url`` turns a URL into argparse destinations; a key that is missing takes its
host's default.
"""
import math
from urllib.parse import unquote, urlsplit

from .data import REGRESSION, load_data

CLASSIFICATION = ("circle", "xor", "gauss", "spiral")
# Playground's input keys -> compare.data.FEATURES, in the order its network lists its inputs
INPUTS = {"x": "x", "y": "y", "xSquared": "x2", "ySquared": "y2", "xTimesY": "xy", "sinX": "sinx", "sinY": "siny"}
# Each host's State.PROPS (src/state.ts) with the page's defaults, and the keys that change nothing trained
UPSTREAM = {"activation": "tanh", "batchSize": "10", "dataset": "circle", "regDataset": "reg-plane",
            "learningRate": "0.03", "regularization": "none", "regularizationRate": "0", "noise": "0",
            "networkShape": "4,2", "percTrainData": "50", "initZero": "false", "problem": "classification",
            "x": "true", "y": "true", "xSquared": "false", "ySquared": "false", "xTimesY": "false",
            "sinX": "false", "sinY": "false", "cosX": "false", "cosY": "false"}
FORK = {**{key: value for key, value in UPSTREAM.items() if key not in ("initZero", "cosX", "cosY")},
        "loss": "mse", "batchFull": "false", "initOrigin": "false"}
HOSTS = {   # host: (its keys and defaults, its display-only keys, its activations)
    "playground.tensorflow.org": (UPSTREAM, ("showTestData", "discretize", "hideText", "collectStats", "tutorial"),
                                  ("relu", "tanh", "sigmoid", "linear")),
    "deepinsider.github.io": (FORK, ("showTestData", "showTrainData", "showValidationData", "discretize", "hideText",
                                     "tutorial", "activspacer"),
                              ("relu", "tanh", "sigmoid", "linear", "elu", "selu", "softplus", "softsign")),
}
SEED_NOTE = ("seed: ignored; Playground's seed drives JavaScript's random generator, which cannot "
             "reproduce its points here: use --seed")


def parse_url(url):
    r"""Return ``(settings, notes)``: argparse destinations and values, and lines about ignored keys.

    The host decides the keys and their meaning: upstream's ``playground.tensorflow.org`` (also a bare
    ``#key=value...``) or Deep Insider's fork, ``deepinsider.github.io/playground``, the article's.
    Raises ``ValueError`` with one line naming the key for an unknown key, a malformed value or a
    setting this project does not support.
    """
    parts = urlsplit(url)
    host = parts.hostname or "playground.tensorflow.org"
    if host not in HOSTS:
        raise ValueError(f"{url!r}: unknown host {host!r}; a Playground URL is on "
                         f"{' or '.join(HOSTS)}")
    defaults, display, activations = HOSTS[host]
    if "=" not in parts.fragment and not parts.hostname:
        raise ValueError(f"{url!r} holds no settings: copy the whole address from Playground, "
                         "with the part after '#' (activation=...&batchSize=...)")
    state, notes, ignored = dict(defaults), [], []
    for key, _, value in (part.partition("=") for part in parts.fragment.split("&") if part):
        if key == "seed":
            notes.append(SEED_NOTE)
        elif key in display or key.endswith("_hide"):
            ignored.append(key)
        elif key not in defaults:
            other = [name for name, (keys, shown, _) in HOSTS.items() if name != host and (key in keys or key in shown)]
            raise ValueError(f"unknown key {key!r} in the URL"
                             + (f": it is {other[0]}'s, not {host}'s" if other else ""))
        state[key] = value
    hidden_inputs = [key for key in ignored if key.removesuffix("_hide") in INPUTS]
    shown = [key for key in ignored if key not in hidden_inputs]
    if shown:
        notes.append(f"{', '.join(shown)}: the page's display, ignored")
    if hidden_inputs:
        notes.append(f"{', '.join(hidden_inputs)}: inputs the page hides, left out as it does")
    for key in ("cosX", "cosY"):
        if key in state and flag(state, key):
            raise ValueError(f"{key}=true: the input feature {key} is not supported; remove it")
    if "loss" in state:
        choice(state, "loss", ("mse", "mae"))
    hidden = network_shape(state["networkShape"])
    problem = choice(state, "problem", ("classification", "regression"))
    features = tuple(feature for key, feature in INPUTS.items()
                     if flag(state, key) and state.get(f"{key}_hide") != "true")   # the page drops a hidden input
    if not features:
        raise ValueError("x, y, xSquared, ...: the URL selects no input feature")
    settings = {
        "rules": "playground",
        "dataset": (choice(state, "dataset", CLASSIFICATION) if problem == "classification"
                    else choice(state, "regDataset", REGRESSION)),
        "features": features,
        "hidden": hidden,
        "activations": (choice(state, "activation", activations),) * len(hidden),
        "batch_size": number(state, "batchSize", int, lambda v: v >= 1, "an integer >= 1"),
        "lr": number(state, "learningRate", float, lambda v: 0 < v < math.inf, "a finite number > 0"),
        "regularization": choice(state, "regularization", ("none", "L1", "L2")),
        "regularization_rate": number(state, "regularizationRate", float, lambda v: 0 <= v < math.inf,
                                      "a finite number >= 0"),
        "noise": number(state, "noise", float, lambda v: 0 <= v <= 50, "a percentage in [0, 50]") / 100,
        "train_ratio": number(state, "percTrainData", float, lambda v: 0 < v < 100,
                              "a percentage strictly between 0 and 100") / 100,
        # upstream: U(-0.5, 0.5) and biases 0.1, or initZero; the fork: Glorot-uniform and biases 0 (the
        # article's xavier), or with initOrigin upstream's
        "loss": "l1" if state.get("loss") == "mae" else "mse",        # the fork's Errors.ABSOLUTE: L1Loss
        "init": (("zero" if flag(state, "initZero") else "playground") if "initZero" in state
                 else "playground" if flag(state, "initOrigin") else "xavier"),
    }
    if "batchFull" in state and flag(state, "batchFull"):     # the fork: one batch of every training point
        settings["batch_size"] = len(load_data(settings["dataset"], settings["noise"], settings["train_ratio"])[0])
    if "seed" in state:                                       # what --exact needs to replay the page's run
        settings["exact"] = ("fork" if host == "deepinsider.github.io" else "upstream", unquote(state["seed"]),
                             number(state, "percTrainData", float, lambda v: True, ""))
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
