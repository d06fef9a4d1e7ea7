r"""How far float32 rounding alone can move each quantity of a step: a-priori error bounds.

Both sides compute one step from the same float32 weights and batch, with the same formulas, but
NumPy and torch add in other orders and call other ``tanh``. Each float32 operation rounds its exact
result by at most ``u = 2**-24`` of it (the unit roundoff), so a side's error in

- a sum or dot product of ``n`` terms is at most ``gamma(n) sum |terms|``, ``gamma(n) = n u / (1 - n u)``,
  whatever the order of the additions (Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1);
- an elementwise function or product is at most ``OP_ULPS`` ulps of its result, or float32's smallest
  normal number where the result underflows (subnormal, or flushed to 0);
- a quantity computed from others also carries their errors, times how much it depends on them:
  ``z = x W^T + b`` carries ``E[x] |W|^T``, ``a = f(z)`` carries ``|f'(z)| E[z]``, and so on.

``bounds`` carries these through the forward pass, the loss, the backward pass and the update, row
by row as ``Pair.trace`` records them, from the exact inputs of the step (``E = 0``). The two sides
may differ by the sum of their errors: twice a side's bound. A difference beyond it is not rounding.
"""
from dataclasses import replace

import numpy as np

import manual

from .pair import Pair, criteria

U = 2.0 ** -24            # float32's unit roundoff
OP_ULPS = 4               # an elementwise function or product: within 4 ulps of its exact value on either side
TINY = 2.0 ** -126        # float32's smallest normal number: below it a result may be subnormal, or flushed to 0
TRIES = (-1.0, -0.5, 0.5, 1.0)   # where the update is re-taken, in units of the gradient's error
# activations whose backward takes f' from a, not z: how much an error in a moves f'
FROM_A = {"tanh": lambda a: 2 * np.abs(a), "sigmoid": lambda a: np.abs(1 - 2 * a)}


def gamma(n):
    r"""``n u / (1 - n u)``: the relative error bound of a sum of ``n`` terms in float32."""
    return n * U / (1 - n * U) if n * U < 1 else np.inf


def rounded(value):
    r"""A side's error bound of one elementwise operation giving ``value``: ``OP_ULPS`` ulps, or underflow."""
    return OP_ULPS * U * np.abs(value) + TINY


def summed(n, sizes):
    r"""A side's error bound of a sum of ``n`` terms whose sizes add up to ``sizes``, underflow included."""
    return gamma(n) * sizes + n * TINY


def slope(name, z):
    r"""``(a, f'(z))`` of activation ``name`` in float64, as manual's backward computes ``f'``."""
    activation = manual.ACTIVATIONS[name]()
    a = activation(z)
    return a, activation.backward(np.ones_like(z))


def activation_errors(name, z, ez):
    r"""``(f'(z), E[a], E[f'])``: the slope, and a side's error bound of ``a = f(z)`` and of ``f'`` as its
    backward computes it, from ``E[z]``: how far f and f' move anywhere in ``z +- E[z]`` (a kink in reach
    flips f'), plus their own rounding."""
    (a, fp), *ends = (slope(name, z + t * ez) for t in (0, 1, -1))
    spread_a, spread_fp = (np.maximum(*(np.abs(end[i] - centre) for end in ends)) for i, centre in ((0, a), (1, fp)))
    ea = spread_a + rounded(a)
    efp = spread_fp + rounded(fp) + FROM_A.get(name, lambda a: 0)(a) * ea
    return fp, ea, efp


def loss_errors(config, p, ep, y, loss):
    r"""A side's error bound of the loss and of ``dL/dy_pred`` from ``E[y_pred]``: the gradient anywhere in
    ``y_pred +- E`` (``dL/dy_pred``'s own spread), and a mean of non-negative terms rounded as a sum."""
    criterion = criteria(replace(config, dtype="float64"))[0]

    def gradient(at):
        criterion(np.clip(at, 0, 1) if config.loss == "bce" else at, y)
        return criterion.backward()
    g = gradient(p)
    spread = np.maximum(*(np.abs(gradient(p + sign * ep) - g) for sign in (1, -1)))
    eloss = float(np.sum((np.abs(g) + spread / 2) * ep)) + summed(p.size, abs(loss)) + rounded(loss)
    return eloss, spread + rounded(g)


def update_errors(config, weights, state, grads, egrads):
    r"""A side's error bound of every parameter after the optimizer's step, from its gradient's: manual's
    optimizer, in float64, re-takes the step from the same weights and state with every gradient moved by
    ``t E`` for each ``t`` of ``TRIES``; the largest move of each weight, plus the rounding of the step."""
    def stepped(t):
        pair = Pair(replace(config, dtype="float64"), weights, state)
        for name, p in zip(pair.names, pair.params[0], strict=True):
            p.grad = grads[name] + t * egrads[name]
        pair.optimizers[0].step()
        return {name: p.data for name, p in zip(pair.names, pair.params[0], strict=True)}
    taken, moved = stepped(0.0), [stepped(t) for t in TRIES]
    return {name: np.max([np.abs(m[name] - new) for m in moved], axis=0)
            + rounded(np.abs(np.asarray(weights[name], np.float64)) + np.abs(new))
            for name, new in taken.items()}


def bounds(config, weights, state, y, rows):
    r"""``{row name: bound}``: how far the two sides' float32 values of each row of the step's trace ``rows``
    (``Pair.trace`` from ``weights``, optimizer ``state`` and the batch with labels ``y``) can differ by
    rounding alone, element by element."""
    value = {row.name: row.manual.astype(np.float64) for row in rows}
    layers = [row.where for row in rows if row.kind == "z"]
    params = {name: np.abs(np.asarray(w, np.float64)) for name, w in weights.items()}
    E, slopes = forward_errors(config, layers, params, value)
    E["loss"], E["dL/dy_pred"] = loss_errors(config, value[f"a{len(layers)}"], E[f"a{len(layers)}"], y,
                                             float(value["loss"]))
    backward_errors(layers, params, value, E, slopes)
    rows_of = {f"{layer}.{kind}": f"{letter}{k}" for k, layer in enumerate(layers, 1)
               for kind, letter in (("weight", "W"), ("bias", "b"))}     # "layer1.weight": "W1"
    grads, egrads = ({name: source[f"dL/d{row}"] for name, row in rows_of.items()} for source in (value, E))
    for name, error in update_errors(config, weights, state, grads, egrads).items():
        E[f"new_{rows_of[name]}"] = error
    return {name: 2 * error for name, error in E.items()}


def forward_errors(config, layers, params, value):
    r"""A side's error bounds of ``x_k``, ``z_k`` and ``a_k`` (the inputs exact), and each layer's
    ``(f'(z), E[f'])`` for the backward pass."""
    E, slopes, ex = {}, {}, np.zeros_like(value["x1"])
    for k, (layer, name) in enumerate(zip(layers, (*config.activations, config.output_activation), strict=True), 1):
        W, b, x = params[f"{layer}.weight"], params[f"{layer}.bias"], np.abs(value[f"x{k}"])
        E[f"x{k}"] = ex
        E[f"z{k}"] = ex @ W.T + summed(W.shape[1] + 1, x @ W.T + b)          # x W^T + b: n_in + 1 terms
        fp, E[f"a{k}"], efp = activation_errors(name, value[f"z{k}"], E[f"z{k}"])
        slopes[k], ex = (fp, efp), E[f"a{k}"]
    return E, slopes


def backward_errors(layers, params, value, E, slopes):
    r"""Adds to ``E`` a side's error bounds of ``dL/da_k``, ``dL/dz_k``, ``dL/dW_k``, ``dL/db_k`` and
    ``dL/dx_k``, from the output layer back, starting from ``E["dL/dy_pred"]``."""
    eda = E["dL/dy_pred"]
    for k in range(len(layers), 0, -1):
        (fp, efp), W = slopes[k], params[f"{layers[k - 1]}.weight"]
        x, ex = np.abs(value[f"x{k}"]), E[f"x{k}"]
        da, dz = np.abs(value[f"dL/da{k}"]), np.abs(value[f"dL/dz{k}"])
        E[f"dL/da{k}"] = eda
        E[f"dL/dz{k}"] = edz = np.abs(fp) * eda + da * efp + rounded(dz)               # dL/da f'(z)
        E[f"dL/dW{k}"] = edz.T @ x + dz.T @ ex + summed(len(dz), dz.T @ x)         # sum over the batch
        E[f"dL/db{k}"] = edz.sum(axis=0) + summed(len(dz), dz.sum(axis=0))
        E[f"dL/dx{k}"] = eda = edz @ W + summed(W.shape[0], dz @ W)                # n_out terms
