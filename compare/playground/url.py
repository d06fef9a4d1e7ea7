r"""Playground URLs: the settings of a Playground link as ``python -m compare`` options.

Playground keeps its whole state in the URL's hash, ``#key=value&key=value...``, and reads every key
from one table, ``State.PROPS`` in its ``src/state.ts``: ``KEYS`` below is that table, each key with
how its value is read and the setting it becomes. Two hosts: upstream's ``playground.tensorflow.org``
and Deep Insider's fork ``deepinsider.github.io/playground``, which the article links to; each has
its own keys, defaults and initialisation. A key that is missing takes its host's default.
"""
import math
from urllib.parse import quote, urlsplit

from compare.core.data import REGRESSION, load_data

CLASSIFICATION = ("circle", "xor", "gauss", "spiral")
# Playground's input keys -> compare.core.data.FEATURES, in the order its network lists its inputs
# What a browser's ``location.hash`` leaves as typed: printable ASCII but the URL standard's fragment
# percent-encode set (space " < > `); everything else, non-ASCII included, reaches the page as %XX
FRAGMENT_SAFE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in '"<>`')
C0_OR_SPACE = "".join(chr(code) for code in range(0x21))    # what a URL parser strips from both ends
INPUTS = {"x": "x", "y": "y", "xSquared": "x2", "ySquared": "y2", "xTimesY": "xy", "sinX": "sinx", "sinY": "siny"}


def one_of(*allowed):
    def read(key, text):
        if text not in allowed:
            raise ValueError(f"{key}={text}: choose from {', '.join(allowed)}")
        return text
    return read


def number(convert, check, requirement, scale=1):
    def read(key, text):
        try:
            value = convert(text)
        except ValueError:
            raise ValueError(f"{key}={text}: not a number; it must be {requirement}") from None
        if not check(value):
            raise ValueError(f"{key}={text}: out of range; it must be {requirement}")
        return value if scale == 1 else value / scale
    return read


def shape(key, text):
    r"""``"3,3"`` -> ``(3, 3)``; ``""`` -> ``()``: Playground's hidden layers."""
    try:
        sizes = tuple(int(part) for part in text.split(",")) if text else ()
    except ValueError:
        raise ValueError(f"{key}={text}: not a comma-separated list of integers") from None
    if any(n < 1 for n in sizes):
        raise ValueError(f"{key}={text}: every hidden layer needs at least 1 neuron")
    return sizes


def unsupported(key, text):
    if one_of("true", "false")(key, text) == "true":
        raise ValueError(f"{key}=true: the input feature {key} is not supported; remove it")
    return False


BOOLEAN = one_of("true", "false")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
# State.PROPS of upstream: key -> (the page's default, how its value is read)
UPSTREAM = {
    "activation": ("tanh", one_of(*ACTIVATIONS)),
    "batchSize": ("10", number(int, lambda v: v >= 1, "an integer >= 1")),
    "dataset": ("circle", one_of(*CLASSIFICATION)),
    "regDataset": ("reg-plane", one_of(*REGRESSION)),
    "learningRate": ("0.03", number(float, lambda v: 0 < v < math.inf, "a finite number > 0")),
    "regularization": ("none", one_of("none", "L1", "L2")),
    "regularizationRate": ("0", number(float, lambda v: 0 <= v < math.inf, "a finite number >= 0")),
    "noise": ("0", number(float, lambda v: 0 <= v <= 50, "a percentage in [0, 50]", scale=100)),
    "networkShape": ("4,2", shape),
    "percTrainData": ("50", number(float, lambda v: 0 < v < 100, "a percentage strictly between 0 and 100")),
    "initZero": ("false", BOOLEAN),
    "problem": ("classification", one_of("classification", "regression")),
    **{key: ("true" if key in ("x", "y") else "false", BOOLEAN) for key in INPUTS},
    "cosX": ("false", unsupported), "cosY": ("false", unsupported),
    "seed": (None, lambda key, text: text),
}
# The fork's: no initZero and no cosines; its loss, batchFull, initOrigin and four more activations
FORK = {**{key: value for key, value in UPSTREAM.items() if key not in ("initZero", "cosX", "cosY")},
        "activation": ("tanh", one_of(*ACTIVATIONS, "elu", "selu", "softplus", "softsign")),
        "loss": ("mse", one_of("mse", "mae")), "batchFull": ("false", BOOLEAN), "initOrigin": ("false", BOOLEAN)}
HOSTS = {   # host: (its keys, its display-only keys, its name for --exact)
    "playground.tensorflow.org": (UPSTREAM, ("showTestData", "discretize", "hideText", "collectStats", "tutorial"),
                                  "upstream"),
    "deepinsider.github.io": (FORK, ("showTestData", "showTrainData", "showValidationData", "discretize", "hideText",
                                     "tutorial", "activspacer"), "fork"),
}


def parse_url(url):
    r"""Return ``(settings, notes)``: argparse destinations and values, and lines about ignored keys.

    The host decides the keys and their meaning: upstream's ``playground.tensorflow.org`` (also a bare
    ``#key=value...``) or Deep Insider's fork, ``deepinsider.github.io/playground``, the article's.
    ``settings["exact"]`` is ``(host, seed, percTrainData)`` when the URL has a seed, for ``--exact``.
    Raises ``ValueError`` with one line naming the key for an unknown key, a malformed value or a
    setting this project does not support.
    """
    parts = urlsplit(url.strip(C0_OR_SPACE))
    host = parts.hostname or "playground.tensorflow.org"
    if host not in HOSTS:
        raise ValueError(f"{url!r}: unknown host {host!r}; a Playground URL is on {' or '.join(HOSTS)}")
    if "=" not in parts.fragment and not parts.hostname:
        raise ValueError(f"{url!r} holds no settings: copy the whole address from Playground, "
                         "with the part after '#' (activation=...&batchSize=...)")
    keys, display, name = HOSTS[host]
    given, ignored = {}, []
    for key, _, text in (part.partition("=") for part in page_hash(parts.fragment).split("&") if part):
        text = text.split("=")[0]                  # the page's `let [name, value] = keyvalue.split("=")`
        if key in display or key.endswith("_hide"):
            ignored.append((key, text))
        elif key not in keys:
            other = [there for there, (known, shown, _) in HOSTS.items() if there != host and key in {*known, *shown}]
            raise ValueError(f"unknown key {key!r} in the URL"
                             + (f": it is {other[0]}'s, not {host}'s" if other else ""))
        else:
            given[key] = text
    state = {key: read(key, given.get(key, default)) for key, (default, read) in keys.items() if key in given
             or default is not None}
    hidden = [key for key, text in ignored if key.removesuffix("_hide") in INPUTS and text == "true"]
    settings = settings_of(state, [key.removesuffix("_hide") for key in hidden])
    if "seed" in state:                                       # what --exact needs to replay the page's run
        settings["exact"] = (name, state["seed"], state["percTrainData"])
    return settings, notes(state, ignored, hidden)


def page_hash(fragment):
    r"""The text after ``#`` as Playground's ``window.location.hash`` gives it: ``a b`` and ``ä`` arrive
    percent-encoded (``a%20b``, ``%C3%A4``), ``%20`` as it is: nothing is decoded."""
    return quote(fragment, safe=FRAGMENT_SAFE)


def settings_of(state, hidden_inputs):
    r"""The ``Config`` settings of a read state: Playground's rules, and each key's setting."""
    problem = state["problem"]
    features = tuple(feature for key, feature in INPUTS.items() if state[key] == "true" and key not in hidden_inputs)
    if not features:
        raise ValueError("x, y, xSquared, ...: the URL selects no input feature")
    settings = {
        "rules": "playground",
        "dataset": state["dataset"] if problem == "classification" else state["regDataset"],
        "features": features, "hidden": state["networkShape"],
        "activations": (state["activation"],) * len(state["networkShape"]),
        "batch_size": state["batchSize"], "lr": state["learningRate"], "regularization": state["regularization"],
        "regularization_rate": state["regularizationRate"], "noise": state["noise"],
        "train_ratio": state["percTrainData"] / 100,
        "loss": "l1" if state.get("loss") == "mae" else "mse",        # the fork's Errors.ABSOLUTE: L1Loss
        # upstream: U(-0.5, 0.5) and biases 0.1, or initZero; the fork: Glorot-uniform and biases 0 (the
        # article's xavier), or with initOrigin upstream's
        "init": (("zero" if state["initZero"] == "true" else "playground") if "initZero" in state
                 else "playground" if state["initOrigin"] == "true" else "xavier"),
    }
    if state.get("batchFull") == "true":     # the fork: one batch of every training point
        settings["batch_size"] = len(load_data(settings["dataset"], settings["noise"], settings["train_ratio"])[0])
    return settings


def notes(state, ignored, hidden):
    r"""What the URL held that changes nothing trained, one line each."""
    lines = ["seed: ignored; Playground's seed drives JavaScript's random generator, which cannot "
             "reproduce its points here: use --seed"] if "seed" in state else []
    shown = [key for key, _ in ignored if key.removesuffix("_hide") not in INPUTS]
    if shown:
        lines.append(f"{', '.join(shown)}: the page's display, ignored")
    if hidden:
        lines.append(f"{', '.join(hidden)}: inputs the page hides, left out as it does")
    return lines
