r"""Rounding or a bug? A float32 check that fails is replayed, on its own, in float32 and in float64.

The step is replayed from the weights, optimizer state and batch it started from. If the float32
replay agrees, the failure came from outside the step (a loader, a leftover gradient): a bug. If it
fails again but the float64 replay agrees, the math is right; a bug in the math fails in float64 too.
Then every quantity of the float32 step is held to its a-priori rounding bound (``bounds``): within
them all, float32 rounded the two sides apart; beyond any, float32 code computed something else (a
float16 intermediate, say).
"""
from dataclasses import replace

import numpy as np
import torch

from .bounds import bounds
from .pair import Pair, tolerance_ratio, update_tolerance


def batch(data, idx):
    r"""The step's batch, or the validation set for an epoch's checks (``idx == "validation"``)."""
    X_train, y_train, X_valid, y_valid = data
    return (X_valid, y_valid) if isinstance(idx, str) else (X_train[idx], y_train[idx])


def agree(pairs, dtype):
    return all(np.all(tolerance_ratio(np.asarray(a), np.asarray(b), dtype, extra) <= 1) for a, b, extra in pairs)


def explained_rounding(config, data, replay, state):
    r"""The cause of a float32 failure of the step ``replay`` (its weights and batch) if it is float32 rounding,
    else None: the step replayed on its own in float32 fails too (so the cause is inside the step, not in a loader
    or a leftover gradient), replayed in float64 it agrees, and every float32 quantity of it stays within its
    rounding bound (``rounding_cause``)."""
    step = replayed(config, data, replay, state, "float32")
    if agree(step.values(), "float32") or not replay_agrees(config, data, replay, state, "float64"):
        return None
    return rounding_cause(config, data, replay, state, step)


def replay_agrees(config, data, replay, state, dtype):
    r"""Whether both sides, in ``dtype`` from the step's own weights ``replay[0]``, manual's optimizer state
    ``state`` (per parameter) and batch, agree on all that the step computes."""
    return agree(replayed(config, data, replay, state, dtype).values(), dtype)


def replayed(config, data, replay, state, dtype):
    r"""``{row name: (manual, torch, extra tolerance)}`` of what each side's own step code computes, in ``dtype``,
    from the step's weights, state and batch (its ``train_step``, or ``valid_step`` on the validation set):
    the loss, and after a training step every gradient and weight, named as ``Pair.trace`` names them."""
    weights, idx = replay
    pair = Pair(replace(config, dtype=dtype), weights, state)
    X, y = inputs(batch(data, idx), dtype)
    if isinstance(idx, str):
        return {"loss": (pair.manual_valid(X, y)[0], pair.torch_valid(torch.tensor(X), torch.tensor(y))[0], 0.0)}
    values = {"loss": (pair.manual_step(X, y)[0], pair.torch_step(torch.tensor(X), torch.tensor(y))[0], 0.0)}
    for i, (name, p, q) in enumerate(zip(pair.names, *pair.params, strict=True)):
        row = f"{'Wb'[i % 2]}{i // 2 + 1}"                                   # layer1.weight -> W1, layer1.bias -> b1
        after = q.detach().numpy()
        values[f"dL/d{row}"] = (p.grad, q.grad.numpy(), 0.0)
        values[f"new_{row}"] = (p.data, after, update_tolerance(pair.config, weights[name], after))
    return values


def inputs(batch, dtype):
    r"""A batch's points in ``dtype``, and its labels too unless they are class indices (integers)."""
    X, y = batch
    return np.asarray(X, dtype), y if np.asarray(y).dtype.kind in "iu" else np.asarray(y, dtype)


def rounding_cause(config, data, replay, state, step):
    r"""Whether every quantity of the step ``replay`` in float32 differs between the two sides by no more than
    float32 rounding can move it (``bounds``): each row of the step's trace, and what each side's own step code
    computes (``step``, its ``replayed`` values in float32). Then a few words on the closest one, else None
    (the difference is larger than rounding: a bug, such as a float16 intermediate, or in code between the
    layers). Where it is rounding: ``{"cause": text, "closest": {quantity, share_of_bound, ulps}}``."""
    weights, idx = replay
    X, y = inputs(batch(data, idx), config.dtype)
    rows = Pair(config, weights, state).trace(X, y)
    limits = bounds(config, weights, state, y, rows)
    compared = {f"{row.name} (trace)": (row.name, row.manual, row.torch) for row in rows}
    compared |= {f"{name} (step)": (name, manual, torch_value) for name, (manual, torch_value, _) in step.items()}
    ratios = {key: share(np.abs(np.asarray(manual, np.float64) - np.asarray(torch_value, np.float64)), limits[name])
              for key, (name, manual, torch_value) in compared.items() if name in limits}
    if not all(ratio <= 1 for ratio in ratios.values()):           # a NaN ratio is never within
        return None
    closest = max(ratios, key=ratios.get)
    name, manual, torch_value = compared[closest]
    difference = np.abs(np.asarray(manual, np.float64) - np.asarray(torch_value, np.float64))
    at = np.unravel_index(np.argmax(difference / np.broadcast_to(limits[name], difference.shape)), difference.shape)
    ulps = float(difference[at] / np.spacing(np.float32(abs(np.asarray(torch_value)[at]))))
    return {"cause": f"within float32's error bounds: every quantity of the step differs by less than rounding "
                     f"can move it; the closest, {name}, by {ratios[closest]:.0%} of its bound ({ulps:.0f} ulps)",
            "closest": {"quantity": name, "share_of_bound": ratios[closest], "ulps": ulps}}


def share(difference, bound):
    r"""The largest ``difference / bound``, element by element: 0 where the two sides are equal, inf where
    they differ with a bound of 0, NaN where a side is not a number."""
    bound = np.broadcast_to(bound, difference.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.max(np.where(difference == 0, 0.0, difference / bound), initial=0.0))
