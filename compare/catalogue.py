r"""``python -m compare.check --catalogue``: the checker measured on classic backprop mistakes.

Each mistake of ``MISTAKES`` is one switch in a small hand-written backprop (``Plant``: the loss's
gradient, an activation's derivative, ``dW``, ``db``, the gradient passed back, the forward pass, an
L2 term, gradients kept from call to call), planted into correct networks written in the styles
learners write: module style, a list of layer objects, cs231n's dict, a functional style with
parameters in a list, deeplearning.ai's columns, float32, and cs231n's with an L2 term. Each is then
checked as a learner's would be: detected (WRONG), at the right parameter, with the right mistake
named. The correct networks are checked too: none may be WRONG.
"""
from dataclasses import dataclass

import numpy as np

ARTICLE = ("tanh", "sigmoid", "tanh")      # the article's 2-3-3-1 network
SIZES = (2, 3, 3, 1)
REG = 0.1                                  # the L2 style's reg * sum(W^2)

F = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0)}
# f'(z, a), right and as learners miswrite it
DERIVATIVES = {"tanh": lambda z, a: 1 - a ** 2, "sigmoid": lambda z, a: a * (1 - a), "relu": lambda z, a: (z > 0) * 1.0,
               "1 - a": lambda z, a: 1 - a, "1 - z^2": lambda z, a: 1 - z ** 2,
               "1 - tanh(a)^2": lambda z, a: 1 - np.tanh(a) ** 2, "a (1 + a)": lambda z, a: a * (1 + a),
               "z (1 - z)": lambda z, a: z * (1 - z), "1 - a^2": lambda z, a: 1 - a ** 2,
               "left out": lambda z, a: np.ones_like(z), "[z >= 0]": lambda z, a: (z >= 0) * 1.0,
               "a (1 - a) twice": lambda z, a: (a * (1 - a)) ** 2}


@dataclass
class Mistake:
    r"""One classic mistake: its switch and layer, the network it needs, what the checker must name."""
    name: str
    switch: str                # the Plant switch it turns
    layer: int = 3             # where (1: the first layer)
    expected: str = "W3"       # what must be named first: "W<k>", "b<k>", "outputs" or "loss"
    hint: str = ""             # words the hint must hold
    change: str = ""           # the one-line change that plants it, in the plant's words
    taught: str = ""           # where the right form is taught, and the mistake made
    activations: tuple = ARTICLE
    styles: tuple = ("module", "layer list", "cs231n", "functional", "columns", "float32")


OWN_LOSS = ("module + loss", "cs231n", "columns")     # the styles whose loss and dL/dy_pred are their own
LOSS_GRADIENT = ("half", "sum", "double", "sign", "fixed 15")     # the switches of dL/dy_pred


MISTAKES = [
    Mistake("MSE's 2 forgotten", "half", hint="the 2 of (y_pred - y)^2 forgotten",
            change="dout = 2 * (out - y) / N  ->  (out - y) / N",
            taught="Nielsen ch. 2 (C = 1/2 ||y - a||^2 hides it); Playground's 1/2-MSE", styles=OWN_LOSS),
    Mistake("MSE's 1/N forgotten", "sum", hint="a sum where the loss takes the mean",
            change="dout = 2 * (out - y) / N  ->  2 * (out - y)",
            taught="cs231n; d2l 3.1", styles=OWN_LOSS),
    Mistake("MSE's 2 applied twice", "double", hint="twice autograd's",
            change="dout = 2 * (out - y) / N  ->  4 * (out - y) / N",
            taught="met when the checker was tried as learners would", styles=OWN_LOSS),
    Mistake("dL/dy_pred's sign flipped", "sign", hint="minus autograd's",
            change="dout = 2 * (out - y) / N  ->  2 * (y - out) / N",
            taught="nnfs ch. 9; the PyTorch forums", styles=OWN_LOSS),
    Mistake("1/N written as the batch size 15", "fixed 15", hint="not by the batch's 10 rows",
            change="dout = 2 * (out - y) / N  ->  2 * (out - y) / 15",
            taught="met when tried as learners would: right on batches of 15 only", styles=OWN_LOSS),
    Mistake("tanh' written 1 - a", "1 - a", layer=1, expected="W1", hint="tanh derivative written 1 - a",
            change="dz = da * (1 - a ** 2)  ->  da * (1 - a)",
            taught="makemore part 4 (backprop ninja)"),
    Mistake("tanh' taken at z", "1 - z^2", layer=1, expected="W1", hint="derivative taken at z",
            change="dz = da * (1 - a ** 2)  ->  da * (1 - z ** 2)",
            taught="Nielsen ch. 2 (sigma'(z) beside a = sigma(z))"),
    Mistake("tanh' taken at a = f(z)", "1 - tanh(a)^2", layer=1, expected="W1", hint="derivative taken at a = f(z)",
            change="dz = da * (1 - a ** 2)  ->  da * (1 - np.tanh(a) ** 2)",
            taught="makemore part 4 (backprop ninja)"),
    Mistake("tanh' left out", "left out", layer=1, expected="W1", hint="tanh derivative left out",
            change="dz = da * (1 - a ** 2)  ->  da",
            taught="cs231n (the local gradient forgotten)"),
    Mistake("sigmoid' written a (1 + a)", "a (1 + a)", layer=2, expected="W2",
            hint="sigmoid derivative written a (1 + a)", change="dz = da * a * (1 - a)  ->  da * a * (1 + a)",
            taught="met when the checker was tried as learners would"),
    Mistake("sigmoid' taken at z", "z (1 - z)", layer=2, expected="W2", hint="derivative taken at z",
            change="dz = da * a * (1 - a)  ->  da * z * (1 - z)",
            taught="Nielsen ch. 1-2; deeplearning.ai course 1"),
    Mistake("sigmoid' written as tanh's", "1 - a^2", layer=2, expected="W2", hint="sigmoid derivative written 1 - a^2",
            change="dz = da * a * (1 - a)  ->  da * (1 - a ** 2)",
            taught="deeplearning.ai course 1, week 3"),
    Mistake("sigmoid' applied twice", "a (1 - a) twice", layer=2, expected="W2",
            hint="sigmoid derivative applied twice",
            change="dz = da * a * (1 - a)  ->  da * a * (1 - a) * a * (1 - a)",
            taught="BCE's fused p - y, which already holds sigmoid', multiplied by it again"),
    Mistake("sigmoid' left out", "left out", layer=2, expected="W2", hint="sigmoid derivative left out",
            change="dz = da * a * (1 - a)  ->  da",
            taught="cs231n (the local gradient forgotten)"),
    Mistake("the output's tanh' left out", "left out", hint="tanh derivative left out",
            change="dz = da * (1 - a ** 2)  ->  da, in the output layer",
            taught="the article's network: tanh on the output"),
    Mistake("relu' as 1 everywhere", "left out", layer=1, expected="W1", hint="relu derivative left out",
            change="dz = da * (z > 0)  ->  da",
            taught="nnfs ch. 9 (Activation_ReLU.backward)", activations=("relu", "sigmoid", "tanh")),
    Mistake("relu' at 0 written [z >= 0]", "[z >= 0]", layer=1, expected="b1", hint="relu derivative written [z >= 0]",
            change="dz = da * (z > 0)  ->  da * (z >= 0)",
            taught="torch's relu'(0) = 0; the checker's batch at the origin", activations=("relu", "sigmoid", "tanh")),
    Mistake("dW transposed", "transposed", layer=2, expected="W2", hint="dW transposed",
            change="dW = dz.T @ x  ->  x.T @ dz",
            taught="cs231n assignment 2 (affine_backward)"),
    Mistake("dW from another layer's input", "input", hint="dW from the input of layer 2",
            change="dW = dz.T @ x  ->  dz.T @ x_of_layer_2",
            taught="cs231n assignment 2 (the cache of another layer)"),
    Mistake("db not summed over the batch", "not summed", layer=1, expected="b1", hint="not summed over the batch",
            change="db = dz.sum(axis=0)  ->  dz",
            taught="cs231n assignment 2; the home page's example"),
    Mistake("db = dz.sum(), every axis", "sum()", layer=1, expected="b1", hint="adds up every axis",
            change="db = dz.sum(axis=0)  ->  dz.sum()",
            taught="met when the checker was tried as learners would"),
    Mistake("db = dz.sum(0, keepdims=True)", "keepdims", layer=1, expected="b1", hint="keeps the batch axis",
            change="db = dz.sum(axis=0)  ->  dz.sum(axis=0, keepdims=True)",
            taught="makemore part 4 (keepdims for broadcasting)"),
    Mistake("db averaged over the batch", "mean", layer=1, expected="b1", hint="db averaged over the batch",
            change="db = dz.sum(axis=0)  ->  dz.mean(axis=0)",
            taught="met when the checker was tried as learners would"),
    Mistake("dL/dx passed back with W^T", "W^T", layer=2, expected="W1", hint="passed back through layer 2 with W^T",
            change="dx = dz @ W  ->  dz @ W.T",
            taught="cs231n assignment 2 (dx = dout W^T for (in, out) weights)"),
    Mistake("dL/dx passed back from da, not dz", "from da", layer=2, expected="W1",
            hint="passed back from dL/da of layer 2", change="dx = dz @ W  ->  da @ W",
            taught="Nielsen ch. 2 (BP2's Hadamard product)"),
    Mistake("gradients kept with += from call to call", "accumulate", hint="your gradients accumulate",
            change="grads = new  ->  kept += new; grads = kept.copy()",
            taught="huggingface/accelerate #1299; the PyTorch forums (zero_grad)"),
    Mistake("another activation in the forward pass", "forward activation", expected="outputs",
            hint="the forward pass differs", change="a = np.tanh(z)  ->  sigmoid(z)",
            taught="the PyTorch forums (nn.Sigmoid where nn.Tanh)"),
    Mistake("the bias left out of the forward pass", "forward bias", expected="outputs",
            hint="the forward pass differs", change="z = x @ W.T + b  ->  x @ W.T",
            taught="d2l 3.4"),
    Mistake("the loss summed, not averaged", "loss sum", expected="loss", hint="a sum where the loss takes the mean",
            change="loss = ((out - y) ** 2).mean()  ->  .sum()",
            taught="cs231n; d2l 3.1", styles=OWN_LOSS),
    Mistake("the loss halved", "loss half", expected="loss", hint="half of autograd's",
            change="loss = ((out - y) ** 2).mean()  ->  0.5 * ((out - y) ** 2).mean()",
            taught="Nielsen ch. 1 (C = 1/2n sum)", styles=OWN_LOSS),
    Mistake("the L2 term's gradient left out", "no l2", hint="the L2 term's gradient is missing",
            change="dW += 2 * reg * W  ->  (left out)",
            taught="cs231n assignment 1 (two_layer_net)", styles=("l2",)),
    Mistake("the L2 term's gradient on the biases too", "l2 biases", expected="b3", hint="added to the biases too",
            change="db = dz.sum(axis=0)  ->  + 2 * reg * b",
            taught="cs231n assignment 2 (regularise weights only)", styles=("l2",)),
    Mistake("the L2 gradient's factor: reg W for reg sum(W^2)", "l2 factor", hint="half what the term gives",
            change="dW += 2 * reg * W  ->  reg * W",
            taught="cs231n: reg sum(W^2) in assignment 1, 0.5 reg sum(W^2) in assignment 2", styles=("l2",)),
    Mistake("weight decay put into the backward pass", "decay", hint="weight decay put into the backward pass",
            change="dW = dz.T @ x  ->  dz.T @ x + 0.03 * W", taught="the PyTorch forums (weight_decay and an L2 "
            "term both, or decay written as a gradient)"),
    Mistake("dz.sum() written into every element of db", "sum() everywhere", layer=1, expected="b1",
            hint="every element of db holds dz.sum()", change="db = dz.sum(axis=0)  ->  db[...] = dz.sum()",
            taught="met when the checker was tried as learners would (db a fixed array written into)"),
    Mistake("backward written for the labels", "labels", hint="your backward takes the labels y",
            change="backward(dy_pred)  ->  backward(y), dout = 2 * (out - y) / N inside",
            taught="nnfs and Nielsen (the network's backward starts from y)",
            styles=("module", "functional", "float32")),
    Mistake("zero_grad() forgets the biases", "zero_grad", expected="b3", hint="your zero_grad(), called before each",
            change="for p in params: p.grad = 0  ->  for p in weights: p.grad = 0",
            taught="met when the checker was tried as learners would (torch-like accumulation into .grad)",
            styles=("module", "module + loss", "float32")),
    Mistake("the L2 term left out of the loss value", "value without l2", expected="loss",
            hint="leaves out the L2 term", change="loss = mse + reg * sum(W ** 2)  ->  mse",
            taught="cs231n assignment 1 (the gradient has the term, the value not)", styles=("l2",)),
]


class Plant:
    r"""A hand-written backprop for a batch of rows, ``z = x W^T + b`` with W ``(out, in)``, and MSE: each step
    as learners write it, with one switch that plants ``mistake`` (None: every step right)."""

    def __init__(self, mistake=None, reg=0.0):
        self.mistake, self.reg = mistake, reg
        self.activations = mistake.activations if mistake else ARTICLE

    def on(self, switch, layer=None):
        r"""Whether the planted mistake is ``switch`` (at ``layer``, if given)."""
        return self.mistake is not None and self.mistake.switch == switch and layer in (None, self.mistake.layer)

    def switch_at(self, layer):
        return self.mistake.switch if self.mistake is not None and self.mistake.layer == layer else None

    def z(self, k, x, W, b):
        return x @ W.T + (0 if self.on("forward bias", k) else b)

    def a(self, k, name, z):
        return F["sigmoid" if self.on("forward activation", k) else name](z)

    def forward(self, Ws, bs, X):
        r"""``(inputs, zs, outputs)`` of every layer, and the network's output."""
        xs, zs, outs, a = [], [], [], X
        for k, (W, b, name) in enumerate(zip(Ws, bs, self.activations, strict=True), 1):
            xs.append(a)
            zs.append(self.z(k, a, W, b))
            a = self.a(k, name, zs[-1])
            outs.append(a)
        return (xs, zs, outs), a

    def loss(self, out, y, Ws):
        mean = np.sum((out - y) ** 2) / (1 if self.on("loss sum") else out.size)
        l2 = 0 if self.on("value without l2") else self.reg * sum((W * W).sum() for W in Ws)
        return mean * (0.5 if self.on("loss half") else 1) + l2

    def dout(self, out, y):
        r"""dL/dy_pred = 2 (y_pred - y) / N."""
        n = 15 if self.on("fixed 15") else 1 if self.on("sum") else out.size
        return {"half": 1, "double": 4, "sign": -2}.get(self.switch_at(3), 2) * (out - y) / n

    def dz(self, k, name, z, a, da):
        r"""dL/dz = dL/da f'(z)."""
        written = self.switch_at(k)
        return da * DERIVATIVES[written if written in DERIVATIVES else name](z, a)

    def linear(self, k, dz, inputs, W, b, da):
        r"""``(dW, db, dL/dx)`` of layer ``k``, from its dz (``inputs``: every layer's input; ``da``: its dL/da)."""
        written = self.switch_at(k)
        dW = dz.T @ inputs[k - 2 if written == "input" else k - 1]
        dW = dW.T if written == "transposed" else dW + (0.03 * W if written == "decay" else 0)
        db = {"not summed": dz, "sum()": dz.sum(), "keepdims": dz.sum(axis=0, keepdims=True),
              "mean": dz.mean(axis=0), "sum() everywhere": np.full(np.shape(b), dz.sum())}.get(written, dz.sum(axis=0))
        dx = (da if written == "from da" else dz) @ (W.T if written == "W^T" else W)
        if self.reg:                                   # d(reg sum W^2)/dW = 2 reg W, on the weights only
            dW = dW + {"no l2": 0, "l2 factor": 1}.get(written, 2) * self.reg * W
            db = db + (2 * self.reg * b if written == "l2 biases" else 0)
        return dW, db, dx

    def backward(self, cache, dout, Ws, bs):
        r"""``[dW1, db1, dW2, ...]``, from dL/dy_pred back."""
        xs, zs, outs = cache
        grads, da = [], 2 * (outs[-1] - dout) / dout.size if self.on("labels") else dout     # dout taken for y
        for k in range(len(Ws), 0, -1):
            dz = self.dz(k, self.activations[k - 1], zs[k - 1], outs[k - 1], da)
            dW, db, da = self.linear(k, dz, xs, Ws[k - 1], bs[k - 1], da)
            grads = [dW, db, *grads]
        return grads


def drawn(dtype=np.float64, seed=0):
    r"""``(Ws, bs)`` of the 2-3-3-1 network: weights ``(out, in)``, biases 0.1."""
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)).astype(dtype)
          for n_in, n_out in zip(SIZES, SIZES[1:], strict=False)]
    return Ws, [np.full(n_out, 0.1, dtype) for n_out in SIZES[1:]]


def kept(net, grads):
    r"""The gradients a network hands out: these, or, for the accumulating mistake, added with ``+=`` into arrays
    it keeps from call to call."""
    if not net.plant.on("accumulate"):
        return grads
    net.kept = getattr(net, "kept", None) or [np.zeros_like(g) for g in grads]
    for array, g in zip(net.kept, grads, strict=True):
        array += g
    return [array.copy() for array in net.kept]           # handed out as copies: zeroing them leaves the sums


class Parameter:
    def __init__(self, data):
        self.data, self.grad = data, np.zeros_like(data)


class ModuleStyle:
    r"""Module style, as ``manual/``: parameters with ``.data`` and ``.grad``, ``forward`` and ``backward``."""

    def __init__(self, plant, dtype=np.float64):
        self.plant, self.dtype = plant, dtype
        Ws, bs = drawn(dtype)
        self.params = [(f"fc{k}.{kind}", Parameter(value)) for k, (W, b) in enumerate(zip(Ws, bs, strict=True), 1)
                       for kind, value in (("weight", W), ("bias", b))]

    def named_parameters(self):
        return self.params

    def forward(self, X):
        arrays = [p.data for _, p in self.params]
        self.cache, out = self.plant.forward(arrays[0::2], arrays[1::2], X.astype(self.dtype))
        return out

    def backward(self, dy_pred):
        r"""Adds each gradient into ``p.grad``, as torch does; ``zero_grad()`` zeroes them."""
        arrays = [p.data for _, p in self.params]
        grads = self.plant.backward(self.cache, dy_pred, arrays[0::2], arrays[1::2])
        for (_, p), g in zip(self.params, kept(self, grads), strict=True):
            p.grad = p.grad + g

    def zero_grad(self):
        for name, p in self.params:
            if not (self.plant.on("zero_grad") and name.endswith("bias")):
                p.grad = np.zeros_like(p.data)


class Linear:
    r"""A layer object of a list: weights ``(in, out)``, ``x @ W + b``; ``backward(dout)`` returns dL/dx."""

    def __init__(self, net, k, W, b):
        self.net, self.k, self.W, self.b = net, k, W.T.copy(), b.copy()

    def forward(self, x):
        self.x = x
        return self.net.plant.z(self.k, x, self.W.T, self.b)

    def backward(self, dout):
        dW, self.db, dx = self.net.plant.linear(self.k, dout, self.net.inputs(), self.W.T, self.b,
                                                self.net.activation(self.k).da)
        self.dW = dW.T
        return dx


class Activation:
    def __init__(self, net, k, name):
        self.net, self.k, self.name = net, k, name

    def forward(self, z):
        self.z, self.a = z, self.net.plant.a(self.k, self.name, z)
        return self.a

    def backward(self, dout):
        self.da = dout
        return self.net.plant.dz(self.k, self.name, self.z, self.a, dout)


class LayerListStyle:
    r"""A list of layer objects, each with ``forward`` and ``backward(dout)``, as nnfs and cs231n's layers."""

    def __init__(self, plant):
        self.plant = plant
        Ws, bs = drawn()
        self.layers = [layer for k, (W, b, name) in enumerate(zip(Ws, bs, plant.activations, strict=True), 1)
                       for layer in (Linear(self, k, W, b), Activation(self, k, name))]

    def inputs(self):
        return [layer.x for layer in self.layers[0::2]]

    def activation(self, k):
        return self.layers[2 * k - 1]

    def named_parameters(self):
        return [(f"layers.{2 * i}.{name}", Holder(layer, name)) for i, layer in enumerate(self.layers[0::2])
                for name in ("W", "b")]

    def forward(self, X):
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def backward(self, dy_pred):
        for layer in reversed(self.layers):
            dy_pred = layer.backward(dy_pred)
        grads = kept(self, [g for layer in self.layers[0::2] for g in (layer.dW, layer.db)])
        for layer, dW, db in zip(self.layers[0::2], grads[0::2], grads[1::2], strict=True):
            layer.dW, layer.db = dW, db


class Holder:
    r"""A layer's ``W`` or ``b`` as a parameter: ``.data``, and ``.grad`` read from the layer's ``dW`` or ``db``."""

    def __init__(self, layer, name):
        self.layer, self.name = layer, name

    @property
    def data(self):
        return getattr(self.layer, self.name)

    @property
    def grad(self):
        return getattr(self.layer, f"d{self.name}", None)

    @grad.setter
    def grad(self, value):
        setattr(self.layer, f"d{self.name}", value)


class Cs231nStyle:
    r"""cs231n's shape: a dict ``params`` of (in, out) weights, ``loss(X, y) -> (loss, grads)``; with ``reg``,
    its L2 term ``reg * sum(W^2)``."""

    def __init__(self, plant):
        self.plant, self.reg = plant, plant.reg
        Ws, bs = drawn()
        self.params = {f"{kind}{k}": value for k, (W, b) in enumerate(zip(Ws, bs, strict=True), 1)
                       for kind, value in (("W", W.T.copy()), ("b", b))}

    def loss(self, X, y=None):
        Ws, bs = [self.params[f"W{k}"].T for k in range(1, 4)], [self.params[f"b{k}"] for k in range(1, 4)]
        cache, out = self.plant.forward(Ws, bs, X)
        if y is None:
            return out
        grads = self.plant.backward(cache, self.plant.dout(out, y), Ws, bs)
        grads = kept(self, [g.T if k % 2 == 0 else g for k, g in enumerate(grads)])
        return self.plant.loss(out, y, Ws), dict(zip(self.params, grads, strict=True))


class Value:
    r"""A parameter as some libraries hold it: ``.value`` and ``.grad``."""

    def __init__(self, value):
        self.value, self.grad = value, np.zeros_like(value)


def functional_forward(plant, params, X):
    r"""The forward pass as a function of a list of parameters ``[W1, b1, W2, ...]``: ``(cache, output)``."""
    return plant.forward(params[0::2], params[1::2], X)


def functional_backward(plant, params, cache, dout):
    r"""The backward pass as a function: ``[dW1, db1, dW2, ...]``."""
    return plant.backward(cache, dout, params[0::2], params[1::2])


class FunctionalStyle:
    r"""A functional style: parameters in a list, ``functional_forward`` and ``functional_backward``; the model
    object hands the list out as a dict of ``.value`` holders."""

    def __init__(self, plant):
        self.plant = plant
        Ws, bs = drawn()
        self.values = [value for pair in zip(Ws, bs, strict=True) for value in pair]
        self.holders = [Value(value) for value in self.values]

    def named_parameters(self):
        return {f"params[{i}]": holder for i, holder in enumerate(self.holders)}

    def forward(self, X):
        self.cache, out = functional_forward(self.plant, self.values, X)
        return out

    def backward(self, dy_pred):
        grads = kept(self, functional_backward(self.plant, self.values, self.cache, dy_pred))
        for holder, g in zip(self.holders, grads, strict=True):
            holder.grad = g


class ColumnsStyle:
    r"""deeplearning.ai's layout: ``parameters`` W (out, in) and b (n, 1), examples as columns."""

    def __init__(self, plant):
        self.plant = plant
        Ws, bs = drawn()
        self.parameters = {f"{kind}{k}": value for k, (W, b) in enumerate(zip(Ws, bs, strict=True), 1)
                           for kind, value in (("W", W), ("b", b.reshape(-1, 1)))}

    def loss(self, X, Y=None):
        Ws, bs = [self.parameters[f"W{k}"] for k in range(1, 4)], [self.parameters[f"b{k}"].T for k in range(1, 4)]
        cache, out = self.plant.forward(Ws, bs, X.T)          # the rows of the plant are your columns
        if Y is None:
            return out.T
        grads = self.plant.backward(cache, self.plant.dout(out, Y.T), Ws, bs)
        grads = kept(self, [g if k % 2 == 0 else column(g) for k, g in enumerate(grads)])
        return self.plant.loss(out, Y.T, Ws), {f"d{name}": g for name, g in zip(self.parameters, grads, strict=True)}


class Criterion:
    r"""A loss object of one's own, as ``manual``'s: ``criterion(y_pred, y)``, then ``criterion.backward()``."""

    def __init__(self, plant):
        self.plant = plant

    def __call__(self, y_pred, y):
        self.y_pred, self.y = y_pred, y
        return self.plant.loss(y_pred, y, [])

    def backward(self):
        return self.plant.dout(self.y_pred, self.y)


def with_loss(plant):
    r"""Module style with its own loss object (``check(model, criterion=model.criterion)``)."""
    model = ModuleStyle(plant)
    model.criterion = Criterion(plant)
    return model


def column(db):
    r"""A bias gradient of the plant's rows as deeplearning.ai's columns hold it: ``(n,)`` -> ``(n, 1)``."""
    return np.reshape(db, (-1, 1)) if np.ndim(db) == 1 else np.transpose(db)


STYLES = {"module": ModuleStyle, "module + loss": with_loss, "layer list": LayerListStyle, "cs231n": Cs231nStyle,
          "functional": FunctionalStyle, "columns": ColumnsStyle,
          "float32": lambda plant: ModuleStyle(plant, np.float32),
          "l2": lambda plant: Cs231nStyle(Plant(plant.mistake, REG))}


def expected_name(mistake, names, criterion):
    r"""The name the checker must give first, in the style's own names: ``W<k>`` is layer k's weight; for a
    mistake in the loss's gradient, where the network brings its loss object (``criterion``), its backward."""
    if criterion and mistake.switch in LOSS_GRADIENT:
        return "dL/dy_pred"
    if mistake.expected in ("outputs", "loss"):
        return mistake.expected
    layer = int(mistake.expected[1:])
    return names[2 * (layer - 1) + (mistake.expected[0] == "b")]


def named(verdict):
    r"""What the verdict names first: a parameter, or the outputs or the loss."""
    first = verdict.first_wrong or {}
    if "parameter" in first:
        return first["parameter"]
    starts = {"the outputs": "outputs", "the loss value": "loss", "dL/dy_pred": "dL/dy_pred"}
    return next((name for start, name in starts.items() if first.get("what", "").startswith(start)), None)


def measure(check, learner_names):
    r"""``(rows, correct)``: per mistake, each style's ``(detected, right parameter, right mistake)``; and per
    style whether its correct network is CORRECT. ``check`` is ``compare.check.check``, ``learner_names`` the
    parameter names it reads off a model."""
    correct = {name: check(model, activations=ARTICLE[:-1], criterion=getattr(model, "criterion", None)).correct
               for name, model in ((name, style(Plant())) for name, style in STYLES.items())}
    rows = []
    for mistake in MISTAKES:
        styles = [name for name in mistake.styles if not (name == "columns" and mistake.switch == "keepdims")]
        found = {}
        for name in styles:
            model = STYLES[name](Plant(mistake))
            verdict = check(model, activations=mistake.activations[:-1],
                            criterion=getattr(model, "criterion", None))
            expected = expected_name(mistake, learner_names(model), hasattr(model, "criterion"))
            found[name] = (not verdict.correct, named(verdict) == expected,
                           mistake.hint in (verdict.first_wrong or {}).get("hint", ""))
        rows.append((mistake, found))
    return rows, correct


def table(rows, correct):
    r"""The catalogue's table and its totals, as ``--catalogue`` prints it."""
    def share(k):
        done = [found[k] for _, styles in rows for found in styles.values()]
        return f"{sum(done)}/{len(done)} ({100 * sum(done) / len(done):.0f}%)"
    lines = ["Each mistake planted into the article's network in each style that can hold it; of those plantings,",
             "how many the checker detected (WRONG), placed at the right parameter, and named (its hint holds it).",
             "Under each mistake, the one-line change that plants it.",
             "", f"{'mistake':48}{'styles':>7}{'detected':>10}{'parameter':>11}{'named':>7}  "
                 "where it is taught, and made"]
    for mistake, found in rows:
        counts = [sum(f[k] for f in found.values()) for k in range(3)]
        cells = "".join(f"{count:>{width}}" for count, width in zip(counts, (10, 11, 7), strict=True))
        lines += [f"{mistake.name:48}{len(found):>7}{cells}  {mistake.taught}", f"    {mistake.change}"]
    styles = sorted({name for _, found in rows for name in found})
    lines += ["", f"{len(rows)} mistakes over {len(styles)} styles ({', '.join(styles)}), {share(0).split()[0]} "
                  f"plantings: detected {share(0)}, the right parameter {share(1)}, the right mistake named {share(2)}",
              f"correct networks: {sum(correct.values())} of {len(correct)} CORRECT ({', '.join(correct)})"]
    return "\n".join(lines)
