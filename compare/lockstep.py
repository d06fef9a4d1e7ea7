r"""Train ``manual`` and ``torch_impl`` side by side and check, step by step, that they compute the same thing.

The run is one loop: both sides take a step, the step is checked, the first failure is diagnosed,
and torch is re-synchronised from manual, so that every step starts from identical weights. Each
side runs its own ``train_step`` on a batch from its own loader, both loaders driven by one order
of indices per epoch. Compared per step: the loss, every gradient, every parameter after the
update, the optimizer's state and the correct counts; per epoch: the epoch losses, the validation
counts and the +1/-1 predictions on every point, each side through its own ``valid_step`` and
``discretize``. A non-finite number is DIVERGED, never agreement. docs/agreement.md states the rule.

The first failed check is diagnosed by ``compare.trace``: it replays that step from its weights and
batch and names the first intermediate quantity that differs.
"""
import numbers
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import manual
import torch_impl
from manual.train import score

from .data import REGRESSION
from .pair import (
    DTYPES,
    TOLERANCES,
    epoch_batches,
    expected_settings,
    held_settings,
    make_criteria,
    make_optimizers,
    make_pair,
    read_only,
    run_data,
    start,
    tolerance_ratio,
    update_tolerance,
)
from .rounding import explained_rounding
from .trace import explain, first_difference, trace

TIE = 1e-4     # float32: outputs this close to the threshold 0 may discretize differently (a tie)
PROBE = [-1.0, -1e-30, -0.0, 0.0, 1e-30, 1.0]   # discretize's edge cases, fed to both sides
SIDES = ("manual", "torch")
CHECKS = ("loss", "gradients", "weights after the update", "optimizer state", "epoch losses")


@dataclass
class Result:
    r"""What a lockstep run found; ``to_json()`` gives the documented JSON."""
    config: object
    data: tuple                        # X_train, y_train, X_valid, y_valid in the run's dtype
    models: tuple                      # (manual model, torch model), trained
    history: dict = field(default_factory=lambda: {"manual": [], "torch": []})
    step_grad_diffs: list = field(default_factory=list)   # per step: max |g_manual - g_torch| per parameter
    drift: list = field(default_factory=list)             # --free-running: per epoch, how far apart
    rounding: list = field(default_factory=list)          # float32 failures that agree when replayed in float64
    checks: dict = None                # name -> summary
    first_failure: dict = None         # where the first check failed, and why
    diverged: dict = None              # where a number first became non-finite
    dead_links: dict = None            # --regularization L1 under Playground's rules: {"dead", "weights"}
    settings: dict = None              # per side: what its model and optimizer hold, read back from them
    seconds: dict = None               # wall time per phase: data, manual, torch, checks

    @property
    def parameter_names(self):
        return [name for name, _ in self.models[0].named_parameters()]

    @property
    def verdict(self):
        return "DIVERGED" if self.diverged else "DISAGREE" if self.first_failure else "AGREE"

    @property
    def agree(self):
        return self.verdict == "AGREE"

    def to_json(self):
        return {"config": self.config.to_json(), "verdict": self.verdict, "agree": self.agree,
                "first_failure": self.first_failure, "diverged": self.diverged, "checks": self.checks,
                "drift": self.drift if self.config.free_running else None,
                "dead_links": self.dead_links, "rounding": self.rounding, "settings": self.settings,
                "history": self.history}


# A diverging run overflows on the way to a non-finite loss; that is detected and reported, so
# NumPy's overflow and invalid-value warnings would only repeat it, noisily.
@np.errstate(over="ignore", invalid="ignore")
def run(config, weights=None, on_epoch=None):
    r"""Train both implementations in lockstep for ``config.epochs`` epochs; return a ``Result``.

    ``weights`` (a state dict) replaces the drawn initial weights. ``on_epoch(result)`` is called
    after every epoch. Stops at the first failed check and at the first non-finite number.
    """
    sides = Sides(config, weights)
    record = Record(config, sides)
    if check_settings(sides, record) and check_discretize(sides, record):
        for epoch in range(1, config.epochs + 1):
            totals = []                                    # per step: both losses, both counts, batch size
            for step, idx, before, outcomes in sides.epoch(epoch):
                with sides.clock("checks"):
                    check_step(sides, record, {"epoch": epoch, "step": step}, (before, idx), outcomes, totals)
                    if record.stop:
                        break
                    if not config.free_running:
                        sides.synchronise()
            if record.stop or not check_epoch(sides, record, epoch, totals):
                break
            if on_epoch:
                on_epoch(record.result)
    return record.finish()


class Stopwatch:
    r"""Seconds spent per label: ``with clock("manual"): ...`` adds to ``clock.seconds["manual"]``."""

    def __init__(self):
        self.seconds = {}

    @contextmanager
    def __call__(self, label):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start


def flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays] or [np.zeros(0)])


class Sides:
    r"""Both implementations ready to train: identical weights, their own optimizers, losses, copies of
    the data and loaders; a step of each, their values side by side, and re-synchronisation."""

    def __init__(self, config, weights):
        self.config, self.clock = config, Stopwatch()
        with self.clock("data"):
            data = run_data(config)
        self.models, self.rng = start(config, weights)
        self.result = Result(config, data, self.models)
        # each side its own copies: nothing one side does can reach the other's data
        self.manual_data, self.torch_data = tuple(map(read_only, data)), tuple(map(torch.tensor, data))
        self.X_all = np.concatenate([data[0], data[2]])     # every point, for the predictions
        self.order = []                  # the epoch's batches as index arrays: the batch_sampler of both loaders
        self.loaders = (manual.DataLoader(*self.manual_data[:2], batch_sampler=self.order),
                        DataLoader(TensorDataset(*self.torch_data[:2]), batch_sampler=self.order))
        self.optimizers = make_optimizers(config, *self.models)
        # the hyper-parameters torch's optimizer itself lists that are settings of the run
        self.names = [name for name in self.optimizers[1].param_groups[0] if name in config.__dataclass_fields__]
        self.criteria = make_criteria(config)
        self.result.settings = {side: held_settings(model, optimizer, criterion, activations, self.names)
                                for side, model, optimizer, criterion,
                                activations in zip(SIDES, self.models, self.optimizers, self.criteria,
                                                   (manual.ACTIVATIONS, torch_impl.nn.ACTIVATIONS), strict=True)}
        self.params = tuple(list(model.parameters()) for model in self.models)
        self.shapes = [p.data.shape for p in self.params[0]]
        self.state_before = []           # manual's optimizer state at the start of the step, per parameter
        self.offsets = np.cumsum([0] + [p.data.size for p in self.params[0]])[:-1]

    def epoch(self, number):
        r"""Draw epoch ``number``'s order; yield each step's number, batch indices, starting weights and the
        two sides' ``(loss, correct)`` (or the exception a side raised)."""
        self.order[:] = epoch_batches(self.config, self.rng, len(self.manual_data[0]), number)
        manual_batches, torch_batches = (iter(loader) for loader in self.loaders)
        for step, idx in enumerate(self.order, 1):
            before = self.models[0].state_dict()
            self.state_before = [{key: np.copy(value) for key, value in self.optimizers[0].state.get(p, {}).items()}
                                 for p in self.params[0]]
            with self.clock("manual"):
                manual_out = attempt(manual_step, self, next(manual_batches, None))
            with self.clock("torch"):
                torch_out = attempt(torch_step, self, next(torch_batches, None))
            yield step, idx, before, (manual_out, torch_out)

    def validate(self, split=slice(2, 4)):
        r"""Both sides' ``valid_step`` on the validation set (or ``split=slice(0, 2)``, the training set):
        ``(loss, correct)`` each, or an exception."""
        with self.clock("manual"):
            manual_out = attempt(manual.valid_step, self.models[0], self.criteria[0], *self.manual_data[split])
        with self.clock("torch"):
            torch_out = attempt(torch_impl.valid_step, self.models[1], self.criteria[1], *self.torch_data[split])
        return manual_out, torch_out

    def values(self):
        r"""The step's gradients, updated weights and optimizer state, each flattened in parameter order."""
        manual_params, torch_params = self.params
        return {"gradients": (flat([p.grad for p in manual_params]),
                              torch.cat([q.grad.ravel() for q in torch_params]).numpy()),
                "weights after the update": self.weights(),
                "optimizer state": self.optimizer_states()}

    def weights(self):
        manual_params, torch_params = self.params
        return flat([p.data for p in manual_params]), torch.cat([q.detach().ravel() for q in torch_params]).numpy()

    def state_pairs(self):
        r"""``(manual array, torch tensor)`` of every optimizer state entry but ``step``, parameter by parameter."""
        manual_state, torch_state = (optimizer.state for optimizer in self.optimizers)
        return [(manual_state[p][key], torch_state[q][key]) for p, q in zip(*self.params, strict=True)
                for key in sorted(manual_state.get(p, {})) if key != "step"]

    def optimizer_states(self):
        r"""Momentum buffers, Adam's moments, ... as float64 (Playground's dead-link masks are boolean)."""
        pairs = self.state_pairs()
        return (flat([a for a, _ in pairs]).astype(np.float64),
                torch.cat([b.ravel().double() for _, b in pairs] or [torch.zeros(0)]).numpy())

    def malformed(self):
        r"""``(check, detail)`` for what a step left missing or misshapen (a parameter, a gradient, an optimizer
        state entry), or None."""
        for side, params in zip(SIDES, self.params, strict=True):
            for name, p, shape in zip(self.result.parameter_names, params, self.shapes, strict=True):
                for what, value in ((name, p.data if side == "manual" else p), (f"{name}.grad", p.grad)):
                    if value is None or tuple(np.shape(value)) != shape:
                        found = "None" if value is None else f"of shape {tuple(np.shape(value))}"
                        return "step outputs", f"{side}: {what} is {found} after the step, not of shape {shape}"
        for name, (manual_keys, torch_keys) in self.state_keys().items():
            if manual_keys != torch_keys:
                return "optimizer state", f"{name}: manual keeps {sorted(manual_keys)}, torch {sorted(torch_keys)}"
        for manual_value, torch_value in self.state_pairs():
            if np.shape(manual_value) != tuple(torch_value.shape):
                return "optimizer state", (f"manual holds an entry of shape {np.shape(manual_value)} where torch's "
                                           f"is {tuple(torch_value.shape)}")
        return None

    def state_keys(self):
        r"""Per parameter name: the optimizer state entries (``step`` aside) each side keeps."""
        manual_state, torch_state = (optimizer.state for optimizer in self.optimizers)
        return {name: (set(manual_state.get(p, {})) - {"step"},
                       {key for key, value in torch_state.get(q, {}).items() if value is not None} - {"step"})
                for name, p, q in zip(self.result.parameter_names, *self.params, strict=True)}

    def synchronise(self):
        r"""Copy manual's weights and optimizer state into torch's: the next step starts from identical values."""
        with torch.no_grad():
            for p, q in zip(*self.params, strict=True):
                q.copy_(torch.as_tensor(np.asarray(p.data)))
            for manual_value, torch_value in self.state_pairs():
                torch_value.copy_(torch.as_tensor(np.asarray(manual_value)))



def manual_step(sides, batch):
    r"""Manual's ``train_step`` on the batch its loader gave, which it may not write into."""
    if batch is None:
        raise RuntimeError(f"manual's loader gave fewer batches than the {len(sides.order)} of the epoch")
    for array in batch:
        array.setflags(write=False)
    return manual.train_step(sides.models[0], sides.optimizers[0], sides.criteria[0], *batch)


def torch_step(sides, batch):
    if batch is None:
        raise RuntimeError(f"torch's loader gave fewer batches than the {len(sides.order)} of the epoch")
    return torch_impl.train_step(sides.models[1], sides.optimizers[1], sides.criteria[1], *batch)


def outputs(models, X):
    r"""Both models' outputs on the points ``X``, each side on its own copy."""
    with torch.no_grad():
        return models[0](read_only(X)), models[1](torch.tensor(X)).numpy()


def short_repr(value):
    r"""What a side returned, for a message: a value's type, and its shape if it has one."""
    shape = getattr(value, "shape", None)
    if isinstance(value, tuple):
        return "(" + ", ".join(map(short_repr, value)) + ")"
    return type(value).__name__ + ("" if shape is None else f" of shape {tuple(shape)}")


def attempt(function, *args):
    r"""``function(*args)``, or the exception it raised: a bug in a side is a failure, not a crash."""
    try:
        return function(*args)
    except Exception as exc:                   # whatever a planted bug raises
        return exc


class Check:
    r"""One comparison, ``|manual - torch| <= atol + rtol |torch|`` (``tolerance_ratio`` <= 1), with its
    running maxima."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.max_abs_diff = self.max_ratio = 0.0
        self.count = 0
        self.ok = True

    def update(self, a, b, extra=0.0):
        r"""Fold in one comparison of finite arrays; return ``|a - b|`` and the tolerance ratio."""
        abs_diff, ratio = np.abs(a - b), tolerance_ratio(a, b, self.dtype, extra)
        self.max_abs_diff = max(self.max_abs_diff, float(abs_diff.max(initial=0.0)))
        self.max_ratio = max(self.max_ratio, float(ratio.max(initial=0.0)))
        self.count += bool(a.size)                  # plain SGD keeps no state: nothing was compared
        return abs_diff, ratio

    def summary(self):
        return {"compared": self.count, "max_abs_diff": self.max_abs_diff, "max_diff_over_tolerance": self.max_ratio,
                **TOLERANCES[self.dtype], "ok": self.ok}


class Record:
    r"""The running summaries of the checks, and the failures: the first is diagnosed with a trace."""

    def __init__(self, config, sides):
        self.config, self.sides, self.result = config, sides, sides.result
        self.checks = {name: Check(config.dtype) for name in CHECKS}
        self.counts = {"correct counts": {"compared": 0, "ties": 0, "ok": True},
                       "predictions": {"compared": 0, "mismatched": 0, "ties": 0, "tie_band": TIE, "ok": True},
                       "discretize": {"compared": 0, "ok": True}}

    @property
    def stop(self):
        return self.result.diverged is not None or self.result.first_failure is not None

    def compare(self, where, name, a, b, replay, extra=0.0):
        r"""Apply the rule to one compared pair; fail at its worst element, unless in float32 the same step
        replayed in float64 agrees (then it is rounding, recorded as such); return ``|a - b|``."""
        a, b = np.ravel(a), np.ravel(b)
        abs_diff, ratio = self.checks[name].update(a, b, extra)
        worst = int(np.argmax(ratio)) if a.size else 0
        if a.size and ratio[worst] > 1:
            parameter = (self.result.parameter_names[np.searchsorted(self.sides.offsets, worst, side="right") - 1]
                         if name in ("gradients", "weights after the update") else None)
            detail = f"manual {a[worst]:.9g}, torch {b[worst]:.9g}"
            cause = self.config.dtype == "float32" and attempt(explained_rounding, self.config, self.result.data,
                                                               replay, self.sides.state_before)
            if isinstance(cause, str):
                self.result.rounding.append({**where, "check": name, "parameter": parameter, "detail": detail,
                                             "cause": cause})
            else:
                self.fail(where, name, detail, replay, parameter)
        return abs_diff

    def finite(self, where, compared, replay):
        r"""At the first non-finite number: DIVERGED where both sides have one, else DISAGREE, traced from
        ``replay`` (a NaN or an infinity on one side only is a bug there); return whether all are finite."""
        for name, pair in compared.items():
            sides = [side for side, values in zip(SIDES, pair, strict=True) if not np.isfinite(values).all()]
            if len(sides) == 2:
                hint = "training diverged: try a smaller --lr"
                self.result.diverged = {**where, "quantity": name, "side": "both", "hint": hint}
                self.fail(where, "non-finite", f"{name} on both", quantity=name, hint=hint)
            elif sides:
                self.fail(where, "non-finite", f"{name} on {sides[0]} only", replay, quantity=name,
                          hint=f"only {sides[0]} produced a non-finite value: a bug on that side, not a divergence")
            if sides:
                return False
        return True

    def broken(self, where, outcomes, sides=None):
        r"""Fail if a side raised, returned something other than ``(loss, correct)`` as Python numbers,
        or (given ``sides``, after a training step) left a parameter, a gradient or an optimizer state
        entry that is missing or of the wrong shape; return whether it did."""
        for side, outcome in zip(SIDES, outcomes, strict=True):
            if isinstance(outcome, Exception):
                self.fail(where, "exception", f"{side} raised {type(outcome).__name__}: {outcome}")
                return True
            if not (isinstance(outcome, tuple) and len(outcome) == 2 and isinstance(outcome[0], numbers.Real)
                    and isinstance(outcome[1], numbers.Integral)):
                self.fail(where, "step outputs", f"{side} returned {short_repr(outcome)}, not (loss, correct) "
                          "as two Python numbers")
                return True
        problem = sides and sides.malformed()
        if problem:
            self.fail(where, *problem)
        return bool(problem)

    def fail(self, where, check, detail, replay=None, parameter=None, quantity=None, hint=None):
        r"""Record a failed check; the first is diagnosed from ``replay``, the step's ``(weights, batch)``."""
        summary = self.checks.get(check)
        if summary is not None:
            summary.ok = False
        elif check in self.counts:
            self.counts[check]["ok"] = False
        if self.result.first_failure is None:
            failure = {**where, "check": check, "parameter": parameter, "detail": detail, "quantity": quantity,
                       "hint": hint or NO_TRACE_HINTS[check]}
            self.result.first_failure = self.diagnose(failure, replay) if replay else failure

    def diagnose(self, failure, replay):
        r"""Trace the failing step (``replay``: its weights and the batch's indices, or ``"validation"``)."""
        weights, idx = replay
        X, y = self.result.data[2:] if isinstance(idx, str) else (self.result.data[0][idx], self.result.data[1][idx])
        try:
            first = first_difference(trace(self.config, weights, X, y), self.config.dtype)
        except Exception as exc:                    # the planted bug may break the trace too
            return {**failure, "hint": f"tracing the step raised {type(exc).__name__}: {exc}"}
        if first:
            return {**failure, "quantity": first.name, "hint": explain(first, self.config)}
        if self.config.free_running:
            return {**failure, "hint": "free-running: the models had drifted apart before this step (rounding "
                    "amplified by training); without --free-running each step starts from identical weights"}
        return failure

    def finish(self):
        r"""Fill in the result's summaries and return it."""
        result = self.result
        per_parameter = np.max(result.step_grad_diffs, axis=0) if result.step_grad_diffs else []
        result.checks = {name: check.summary() for name, check in self.checks.items()}
        result.checks["gradients"]["per_parameter_max_abs_diff"] = dict(
            zip(result.parameter_names, map(float, per_parameter), strict=False))   # no step taken: {}
        result.checks.update(self.counts)
        dead = [state["dead"] for state in self.sides.optimizers[0].state.values() if "dead" in state]
        if dead:                                   # Playground's L1: links held at 0 for good
            result.dead_links = {"dead": int(sum(mask.sum() for mask in dead)),
                                 "weights": int(sum(mask.size for mask in dead))}
        result.seconds = self.sides.clock.seconds
        return result


def check_settings(sides, record):
    r"""Every setting reached both sides: what their models and optimizers hold is what the run asked for."""
    for key, expected in expected_settings(record.config, sides.names).items():
        held = {side: settings[key] for side, settings in record.result.settings.items()}
        if any(value != expected for value in held.values()):
            record.fail({"epoch": 0, "step": 0}, "settings", f"{key}: asked for {expected}, manual holds "
                        f"{held['manual']}, torch {held['torch']}")
            break
    return not record.stop


def check_discretize(sides, record):
    r"""Both sides' ``discretize`` on the threshold's edge cases (0, -0.0, +-1e-30)."""
    probe = np.array(PROBE, dtype=DTYPES[record.config.dtype][0])
    manual_labels = manual.discretize(probe)
    torch_labels = torch_impl.discretize(torch.tensor(probe)).numpy()
    record.counts["discretize"]["compared"] += 1
    if not np.array_equal(manual_labels, torch_labels):
        record.fail({"epoch": 0, "step": 0}, "discretize",
                    f"on {PROBE}: manual {manual_labels.tolist()}, torch {torch_labels.tolist()}")
    return not record.stop


def check_step(sides, record, where, replay, outcomes, totals):
    r"""One step: neither side raised; loss, gradients, updated weights and optimizer state agree; so do the counts."""
    if record.broken(where, outcomes, sides):
        return
    (manual_loss, manual_correct), (torch_loss, torch_correct) = outcomes
    totals.append((manual_loss, torch_loss, manual_correct, torch_correct, len(replay[1])))
    compared = {"loss": (np.array(manual_loss), np.array(torch_loss)), **sides.values()}
    if not record.finite(where, compared, replay):
        return
    extra = {"weights after the update": update_tolerance(record.config, flat(replay[0].values()),
                                                          compared["weights after the update"][1])}
    diffs = {name: record.compare(where, name, a, b, replay, extra.get(name, 0.0)) for name, (a, b) in compared.items()}
    record.result.step_grad_diffs.append(np.maximum.reduceat(diffs["gradients"], sides.offsets).tolist())
    if record.config.dataset not in REGRESSION and manual_correct != torch_correct:
        ties = 0
        if record.config.dtype == "float32":       # the outputs the counts were made with, before the update
            counted = attempt(lambda: int(tied(record.config,
                                               *outputs(make_pair(record.config, np.random.default_rng(0), replay[0]),
                                                        sides.result.data[0][replay[1]])).sum()))
            ties = counted if isinstance(counted, int) else 0
        record.counts["correct counts"]["ties"] += ties
        if abs(manual_correct - torch_correct) > ties:
            record.fail(where, "correct counts", f"manual {manual_correct}, torch {torch_correct} correct "
                        "in the batch", replay)


def tied(config, manual_pred, torch_pred):
    r"""Per point: both outputs within ``TIE`` of the threshold between the classes, by ``manual.train.score``."""
    return ((np.abs(score(manual_pred, config.loss)) < TIE) & (np.abs(score(torch_pred, config.loss)) < TIE))[:, 0]


def check_epoch(sides, record, epoch, totals):
    r"""From identical weights: epoch losses, validation, predictions on every point. False: stop."""
    outcomes = sides.validate()
    with sides.clock("checks"):
        where = {"epoch": epoch, "step": None}
        if record.broken(where, outcomes):
            return False
        (manual_valid, torch_valid), result = outcomes, record.result
        totals = np.array(totals, dtype=np.float64)
        if record.config.exact:               # Playground's getLoss: the training points after the epoch
            after = sides.validate(slice(0, 2))
            if record.broken(where, after):
                return False
            train_loss = np.array([after[0][0], after[1][0]])
        else:
            train_loss = np.average(totals[:, :2], axis=0, weights=totals[:, 4])
        n_train, n_valid = len(result.data[0]), len(result.data[2])
        for side, loss, correct, (val_loss, val_correct) in zip(
                SIDES, train_loss, totals[:, 2:4].sum(axis=0), outcomes, strict=True):
            result.history[side].append({"epoch": epoch, "loss": float(loss), "acc": float(correct / n_train),
                                         "val_loss": val_loss, "val_acc": val_correct / n_valid})
        replay = (sides.models[0].state_dict(), "validation")
        epoch_losses = {"epoch losses": (np.array([train_loss[0], manual_valid[0]]),
                                         np.array([train_loss[1], torch_valid[0]]))}
        if not record.finite(where, epoch_losses, replay):
            return False
        record.compare(where, "epoch losses", *epoch_losses["epoch losses"], replay)
        if record.config.dataset not in REGRESSION:
            check_predictions(sides, record, where, replay, manual_valid[1], torch_valid[1])
        if record.config.free_running:
            manual_weights, torch_weights = sides.weights()
            result.drift.append({"epoch": epoch, "max_weight_diff": float(np.abs(manual_weights - torch_weights).max()),
                                 "train_loss_diff": float(abs(train_loss[0] - train_loss[1])),
                                 "val_loss_diff": float(abs(manual_valid[0] - torch_valid[0]))})
    return not record.stop


def check_predictions(sides, record, where, replay, manual_correct, torch_correct):
    r"""Classification: each side's predicted class of every point (``predict``) and the validation correct counts."""
    predicted = outputs(sides.models, sides.X_all)
    differ = (manual.predict(predicted[0], sides.criteria[0]) !=
              torch_impl.predict(torch.from_numpy(predicted[1]), sides.criteria[1]).numpy()).reshape(-1)
    ties = differ & tied(record.config, *predicted) if record.config.dtype == "float32" else np.zeros_like(differ)
    counts = record.counts["predictions"]
    counts["compared"] += differ.size
    counts["ties"] += int(ties.sum())
    counts["mismatched"] += int((differ & ~ties).sum())
    if (differ & ~ties).any():
        record.fail(where, "predictions", f"{int((differ & ~ties).sum())} of {differ.size} points "
                    "discretize differently", replay)
    valid_ties = int(ties[len(record.result.data[0]):].sum())
    record.counts["correct counts"]["compared"] += 1
    if abs(manual_correct - torch_correct) > valid_ties:
        record.fail(where, "correct counts", f"validation: manual {manual_correct}, torch {torch_correct} "
                    "correct", replay)


# When the trace of a failed step finds every quantity equal, the cause lies outside one
# forward-backward pass from the step's weights.
NO_TRACE_HINTS = {
    "gradients": "from the same weights and batch every gradient agrees: the step saw something else, "
                 "a gradient left over from an earlier step (a missing zero_grad) or a different batch "
                 "(check the data loaders)",
    "loss": "from the same weights and batch the loss agrees: the two sides were fed different batches "
            "(check the data loaders: points paired with their own labels, in the shared order)",
    "weights after the update": "the gradients agree within the tolerance but the update differs: check the "
                                "optimizer (learning rate, weight decay applied to every parameter, biases "
                                "included), or a gradient off by just under the tolerance, which the update "
                                "made visible (python -m compare.trace --step N --dtype float64 shows each "
                                "quantity's relative difference)",
    "optimizer state": "the gradients agree but the optimizer's state differs: check the momentum buffer "
                       "(on the first step a copy of the gradient) or Adam's moments and their bias correction",
    "correct counts": "the predictions agree but the counts differ: count predictions made before the "
                      "update, with discretize(y_pred) == y",
    "epoch losses": "the validation pass agrees from these weights: check valid_step and the epoch mean",
    "predictions": "the outputs agree but their labels differ: discretize is +1 where y_pred >= 0, else -1",
    "discretize": "discretize must give +1 where y_pred >= 0 (0 and -0.0 included), else -1",
    "exception": "the side named raised an exception; the message says where",
    "settings": "an option did not reach a side's model or optimizer as asked: check where both are built "
                "(compare/pair.py: make_pair, make_optimizers)",
    "step outputs": "a step returns (loss, correct) as Python numbers (loss.item(), int(correct)) and leaves every "
                    "parameter, gradient and optimizer state entry with its parameter's shape; the detail says "
                    "what was missing or misshapen",
}
