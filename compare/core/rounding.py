r"""Rounding or a bug? A float32 check that fails is replayed, on its own, in float32 and in float64.

The step is replayed from the weights, optimizer state and batch it started from. If the float32
replay agrees, the failure came from outside the step (a loader, a leftover gradient): a bug. If it
fails again but the float64 replay agrees, the math is right and float32 rounded it apart; a bug in
the math fails in float64 too. What the float32 values show then names the kind of rounding: a
saturated unit (``1 - a**2`` of a tanh within an ulp of +-1), a sum whose terms nearly cancel.
"""
from dataclasses import replace

import numpy as np
import torch

from .pair import TOLERANCES, Pair, first_difference, tolerance_ratio, update_tolerance

ULPS = 8              # a unit this close to its limit, in float32 ulps, is saturated
CANCELLING = 1e-2     # a sum this small next to the sum of its terms' sizes cancels


def batch(data, idx):
    r"""The step's batch, or the validation set for an epoch's checks (``idx == "validation"``)."""
    X_train, y_train, X_valid, y_valid = data
    return (X_valid, y_valid) if isinstance(idx, str) else (X_train[idx], y_train[idx])


def agree(pairs, dtype):
    return all(np.all(tolerance_ratio(np.asarray(a), np.asarray(b), dtype, extra) <= 1) for a, b, extra in pairs)


def explained_rounding(config, data, replay, state):
    r"""The cause of a float32 failure of the step ``replay`` if it is rounding the values explain, else None."""
    return rounding_cause(config, data, replay) if is_rounding(config, data, replay, state) else None


def is_rounding(config, data, replay, state):
    r"""Whether a float32 failure of the step ``replay`` (its weights and batch) is float32 rounding: the
    step replayed on its own in float32 fails too (so the cause is inside the step, not in a loader or a
    leftover gradient), and replayed in float64 it agrees."""
    return (not replay_agrees(config, data, replay, state, "float32")
            and replay_agrees(config, data, replay, state, "float64"))


def replay_agrees(config, data, replay, state, dtype):
    r"""Whether both sides, in ``dtype`` from the step's own weights ``replay[0]``, manual's optimizer state
    ``state`` (per parameter) and batch, agree on all that the step computes."""
    weights, idx = replay
    pair = Pair(replace(config, dtype=dtype), weights, state)
    X, y = (np.asarray(a, dtype) for a in batch(data, idx))
    if isinstance(idx, str):
        return agree([(pair.manual_valid(X, y)[0], pair.torch_valid(torch.tensor(X), torch.tensor(y))[0], 0.0)], dtype)
    losses = pair.manual_step(X, y)[0], pair.torch_step(torch.tensor(X), torch.tensor(y))[0]
    before = [weights[name] for name in pair.names]
    return agree([(*losses, 0.0)] + [(p.grad, q.grad.numpy(), 0.0) for p, q in zip(*pair.params, strict=True)]
                 + [(p.data, q.detach().numpy(), update_tolerance(pair.config, w, q.detach().numpy()))
                    for p, q, w in zip(*pair.params, before, strict=True)], dtype)


def distance(activation, a):
    r"""How far the unit's output ``a`` lies from its limit: +-1 for tanh, 0 or 1 for sigmoid."""
    return 1 - np.abs(a) if activation == "tanh" else np.minimum(a, 1 - a)


def rounding_cause(config, data, replay):
    r"""What the float32 values of the step show, in a few words: a saturated unit whose derivative
    rounded differently on the two sides, or a sum whose terms nearly cancel; None when they show
    neither (then a difference that float64 does not have is a bug in float32 code, such as a
    float16 intermediate)."""
    weights, idx = replay
    if isinstance(idx, str):
        return None
    rows = {row.name: row for row in Pair(config, weights).trace(*batch(data, idx))}
    first = first_difference(rows.values(), config.dtype)
    where = f"; the difference shows at {first.name}" if first else ""
    activations = (*config.activations, config.output_activation)
    for k in range(len(activations), 0, -1):                       # the order of the backward pass
        if activations[k - 1] in ("tanh", "sigmoid"):
            dz = rows[f"dL/dz{k}"]
            rtol, gap = TOLERANCES["float32"]["rtol"], distance(activations[k - 1], rows[f"a{k}"].manual)
            differ = np.abs(dz.manual - dz.torch) > rtol * np.abs(dz.torch)
            # within eps/rtol of its limit, f'(z) = 1 - a**2 (or a (1 - a)) can round by more than rtol;
            # a difference anywhere else is not this rounding
            near = gap < np.finfo(np.float32).eps / rtol
            rounded = (gap < ULPS * np.finfo(np.float32).eps) & differ
            if rounded.any() and not (differ & ~near).any():
                return (f"saturation: {int(rounded.sum())} of a{k}'s values lie within {ULPS} float32 ulps of "
                        f"their limit, where the {activations[k - 1]}'s derivative keeps few digits and rounds "
                        f"differently on the two sides{where}")
    if first is not None and first.kind in ("dL/dW", "dL/db"):
        j, i = np.unravel_index(int(np.argmax(tolerance_ratio(first.manual, first.torch, config.dtype))),
                                first.manual.shape + (1,) * (first.kind == "dL/db"))
        k = first.name[len(first.kind):]                                 # "dL/dW3" -> "3"
        terms = rows[f"dL/dz{k}"].manual[:, j] * (rows[f"x{k}"].manual[:, i] if first.kind == "dL/dW" else 1)
        if abs(terms.sum()) < CANCELLING * np.abs(terms).sum():
            return (f"cancellation: {first.name} sums over the batch terms that nearly cancel (the sum is "
                    f"{abs(terms.sum()) / np.abs(terms).sum():.0e} of their sizes), and rounding follows the terms")
    return None                                  # nothing in the values explains it as rounding
