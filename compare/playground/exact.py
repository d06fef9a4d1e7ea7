r"""The browser's own run, replayed: ``python -m compare --playground URL --exact``.

Playground draws everything from one random stream, ``Math.seedrandom(seed)`` keyed by the URL's
seed string, in a fixed order: the data generator's points, one draw per point for the shuffle,
then the initial weights, layer by layer, per destination node, per source node (``buildNetwork``);
nothing during training. ``Stream`` is that stream (seedrandom's ARC4, written from its
algorithm); ``plygdata``'s generators and shuffle call ``random.random()`` where Playground's
``dataset.ts`` calls ``Math.random()``, so driven by it they give Playground's points. Training then
follows ``oneStep``: the points in their fixed order, an update every ``batchSize`` points, and at the
end of an epoch upstream carries a partial batch into the next epoch while the fork updates on it.
"""
import math
import types

import numpy as np
import plygdata.dataset as pg_dataset

from compare.core.data import FEATURES, REGRESSION
from compare.core.pair import sizes
from compare.core.source import Source, encoded

WIDTH, CHUNKS = 256, 6                                          # seedrandom's constants
START, SIGNIFICANCE, OVERFLOW = float(WIDTH**CHUNKS), float(2**52), float(2**53)
GENERATORS = {"circle": "classify_circle", "xor": "classify_xor", "gauss": "classify_two_gauss",
              "spiral": "classify_spiral", "reg-plane": "regress_plane", "reg-gauss": "regress_gaussian"}


class Stream:
    r"""``Math.random()`` after ``Math.seedrandom(seed)``: RC4 keyed with the seed's characters (mixed as
    seedrandom's ``mixkey`` does), its first 256 bytes dropped, each double built from 7 or more bytes."""

    def __init__(self, seed):
        units = seed.encode("utf-16-le")                            # JavaScript's charCodeAt: UTF-16 units
        key, smear = [], 0
        for j in range(len(units) // 2):
            code = int.from_bytes(units[2 * j:2 * j + 2], "little")
            old = key[j & 255] if (j & 255) < len(key) else 0      # JS: undefined * 19 is NaN, and NaN ^ s is s
            smear ^= old * 19
            if (j & 255) < len(key):
                key[j & 255] = (smear + code) & 255
            else:
                key.append((smear + code) & 255)
        key = key or [0]
        self.S, self.i, self.j = list(range(WIDTH)), 0, 0
        j = 0
        for i in range(WIDTH):                                      # RC4's key schedule
            t = self.S[i]
            j = (j + key[i % len(key)] + t) & 255
            self.S[i], self.S[j] = self.S[j], t
        self.bytes(WIDTH)                                           # RC4-drop[256]

    def bytes(self, count):
        r"""The next ``count`` bytes of the RC4 stream as one number, big-endian (seedrandom's ``g``)."""
        r, S = 0.0, self.S
        for _ in range(count):
            self.i = (self.i + 1) & 255
            t = S[self.i]
            self.j = (self.j + t) & 255
            S[self.i], S[self.j] = S[self.j], t
            r = r * WIDTH + S[(S[self.i] + t) & 255]
        return r

    def random(self):
        r"""A double in [0, 1) with 52 random bits, as seedrandom builds it."""
        n, d, x = self.bytes(CHUNKS), START, 0
        while n < SIGNIFICANCE:
            n = (n + x) * WIDTH
            d *= WIDTH
            x = int(self.bytes(1))
        while n >= OVERFLOW:
            n /= 2
            d /= 2
            x >>= 1
        return (n + x) / d


class PlaygroundRun(Source):
    r"""The page's own run of a Playground URL as a ``Source``: its points, initial weights and batches drawn
    from the URL's ``seed`` string as the page draws them, on ``host`` (``"upstream"`` or ``"fork"``) with
    ``percTrainData`` per cent of the points for training; ``weights`` replaces the page's initial weights.
    Its epoch loss is Playground's ``getLoss``: the training points after the epoch."""

    training_loss = "after the epoch"

    def __init__(self, config, host, seed, percent, weights=None):
        self.config, self.host, self.seed, self.rng = config, host, seed, None
        total = pg_dataset.NUM_SAMPLES_REGRESS if config.dataset in REGRESSION else pg_dataset.NUM_SAMPLES_CLASSIFY
        self.split = math.floor(total * percent / 100)      # Math.floor(numSamples * percTrainData / 100)
        if host == "upstream" and config.batch_size > self.split:
            raise ValueError(f"--exact: batchSize={config.batch_size} is more than the {self.split} training points, "
                             "and upstream Playground then never updates the weights")
        stream = Stream(seed)
        saved = pg_dataset.random
        pg_dataset.random = types.SimpleNamespace(random=stream.random)    # plygdata's Math.random
        try:
            points = getattr(pg_dataset.DataGenerator, GENERATORS[config.dataset])(total, config.noise)
            pg_dataset.shuffle(points)
        finally:
            pg_dataset.random = saved
        self.drawn = np.array(points, dtype=np.float64)
        self.weights = initial_weights(config, sizes(config), stream) if weights is None else weights
        self.data = encoded(config, self.points())

    def points(self):
        X = np.column_stack([FEATURES[name](self.drawn[:, 0], self.drawn[:, 1]) for name in self.config.features])
        y = self.drawn[:, 2:3]
        return X[:self.split], y[:self.split], X[self.split:], y[self.split:]

    def batches(self, rng, epoch):
        r"""The updates of epoch ``epoch`` (from 1) as index arrays into the fixed order of the training points.

        An update every ``batch_size`` points. A partial batch left at the end: the fork updates on it at
        once; upstream carries its derivatives into the next epoch's first update.
        """
        n, batch_size = self.split, self.config.batch_size
        full, rest = divmod(n, batch_size)
        batches = [np.arange(k * batch_size, (k + 1) * batch_size) for k in range(full)]
        if rest and self.host == "fork":
            batches.append(np.arange(full * batch_size, n))
        elif rest and epoch > 1 and batches:
            batches[0] = np.concatenate([np.arange(full * batch_size, n), batches[0]])
        return batches


def initial_weights(config, sizes, stream):
    r"""``buildNetwork``'s weights from ``stream``: per layer, per destination node, per source node."""
    names = [f"layer{k}" for k in range(1, len(sizes) - 1)] + ["layer_out"]
    state = {}
    for name, n_in, n_out in zip(names, sizes, sizes[1:], strict=False):
        if config.init == "zero":                                   # initZero: no draw at all
            weight = np.zeros((n_out, n_in))
        elif config.init == "xavier":                               # the fork's glorotUniform(fan_in, fan_out)
            limit = math.sqrt(6.0 / (n_in + n_out))
            weight = np.array([[stream.random() * (limit * 2) - limit for _ in range(n_in)] for _ in range(n_out)])
        else:                                                       # Math.random() - 0.5
            weight = np.array([[stream.random() - 0.5 for _ in range(n_in)] for _ in range(n_out)])
        state[f"{name}.weight"] = weight
        state[f"{name}.bias"] = np.full(n_out, 0.1 if config.init == "playground" else 0.0)
    return state
