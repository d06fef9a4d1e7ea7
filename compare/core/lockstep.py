r"""Train ``manual`` and ``torch_impl`` side by side and check, step by step, that they compute the same thing.

The run is one loop: both sides take a step, the step is checked, the first failure is diagnosed,
and torch is re-synchronised from manual, so that every step starts from identical weights. Each
side runs its own ``train_step`` on a batch from its own loader, both loaders driven by the
``Source``'s order of indices. Compared per step: the loss, every gradient, every parameter after the
update, the optimizer's state and the correct counts; per epoch: the epoch losses, the validation
counts and the +1/-1 predictions on every point, each side through its own ``valid_step`` and
``discretize``. A non-finite number is DIVERGED, never agreement. docs/agreement.md states the rule.

The first failed check is diagnosed by ``Pair.trace``: it replays that step from its weights and
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
from .formulas import check_hint, diverged, explain
from .pair import DTYPES, TOLERANCES, Pair, first_difference, flat, read_only, sizes, tolerance_ratio, update_tolerance
from .paths import initialiser_problems, loader_problems
from .rounding import batch, explained_rounding
from .source import Source

TIE = 1e-4     # float32: outputs this close to the threshold 0 may discretize differently (a tie)
PROBE = [-1.0, -1e-30, -0.0, 0.0, 1e-30, 1.0]   # discretize's edge cases, fed to both sides
SIDES = ("manual", "torch")
COMPARED = ("loss", "gradients", "weights after the update", "optimizer state", "epoch losses")


@dataclass
class Result:
    r"""What a lockstep run found; ``to_json()`` gives the documented JSON."""
    config: object
    data: tuple                        # X_train, y_train, X_valid, y_valid in the run's dtype
    models: tuple                      # (manual model, torch model), trained
    history: dict = field(default_factory=lambda: {"manual": [], "torch": []})
    steps: list = field(default_factory=list)             # per step: both losses, max |g_m - g_t| per parameter
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
    def step_grad_diffs(self):
        r"""Per step, the largest ``|g_manual - g_torch|`` of each parameter, in parameter order."""
        return [list(step["max_abs_grad_diff"].values()) for step in self.steps]

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
                "history": self.history, "steps": self.steps}


# A diverging run overflows on the way to a non-finite loss; that is detected and reported, so
# NumPy's overflow and invalid-value warnings would only repeat it, noisily.
@np.errstate(over="ignore", invalid="ignore")
def run(config, source=None, on_epoch=None):
    r"""Train both implementations in lockstep for ``config.epochs`` epochs; return a ``Result``.

    ``source`` gives the points, the initial weights and the batches (default: ``Source(config)``, the
    project's own run). ``on_epoch(result)`` is called after every epoch. Stops at the first failed
    check and at the first non-finite number.
    """
    sides = Sides(config, source or Source(config))
    record = Record(config, sides)
    if check_settings(sides, record) and check_discretize(sides, record) and check_own_code(sides, record):
        for epoch, batches in zip(range(1, config.epochs + 1), sides.source.epochs(), strict=False):
            totals = []                                    # per step: both losses, both counts, batch size
            for step, idx, before, outcomes in sides.epoch(batches):
                with sides.clock("checks"):
                    check_step(sides, record, {"epoch": epoch, "step": step}, (before, idx), outcomes, totals)
                    if record.stop:
                        break
                    if not config.free_running:
                        sides.pair.synchronise()
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


class Sides:
    r"""The ``Pair`` ready to train on the ``Source``'s run: each side its own copies of the data and its own
    loader, both loaders driven by one order; a step of each with its starting weights and state."""

    def __init__(self, config, source):
        self.config, self.source, self.clock = config, source, Stopwatch()
        with self.clock("data"):
            data = source.data
        self.pair = Pair(config, source.weights)
        self.result = Result(config, data, self.pair.models)
        # each side its own copies: nothing one side does can reach the other's data
        self.manual_data, self.torch_data = tuple(map(read_only, data)), tuple(map(torch.tensor, data))
        self.X_all = np.concatenate([data[0], data[2]])     # every point, for the predictions
        self.order = []                  # the epoch's batches as index arrays: the batch_sampler of both loaders
        self.loaders = (manual.DataLoader(*self.manual_data[:2], batch_sampler=self.order),
                        DataLoader(TensorDataset(*self.torch_data[:2]), batch_sampler=self.order))
        # the hyper-parameters torch's optimizer itself lists that are settings of the run
        self.names = [name for name in self.pair.optimizers[1].param_groups[0] if name in config.__dataclass_fields__]
        self.result.settings = {side: held_settings(model, optimizer, criterion, activations, self.names)
                                for side, model, optimizer, criterion, activations
                                in zip(SIDES, self.pair.models, self.pair.optimizers, self.pair.criteria,
                                       (self.pair.manual_code.ACTIVATIONS, torch_impl.nn.ACTIVATIONS), strict=True)}
        self.shapes = [p.data.shape for p in self.pair.params[0]]
        self.state_before = []           # manual's optimizer state at the start of the step, per parameter
        self.offsets = np.cumsum([0] + [p.data.size for p in self.pair.params[0]])[:-1]

    def epoch(self, batches):
        r"""Yield each step's number, batch indices, starting weights and the two sides' ``(loss, correct)``
        (or the exception a side raised)."""
        self.order[:] = batches
        manual_batches, torch_batches = (iter(loader) for loader in self.loaders)
        for step, idx in enumerate(self.order, 1):
            before = self.pair.models[0].state_dict()
            self.state_before = self.pair.manual_state()
            with self.clock("manual"):
                manual_out = attempt(side_step, self, "manual", self.pair.manual_step, next(manual_batches, None))
            with self.clock("torch"):
                torch_out = attempt(side_step, self, "torch", self.pair.torch_step, next(torch_batches, None))
            yield step, idx, before, (manual_out, torch_out)

    def validate(self, split=slice(2, 4)):
        r"""Both sides' ``valid_step`` on the validation set (or ``split=slice(0, 2)``, the training set):
        ``(loss, correct)`` each, or an exception."""
        with self.clock("manual"):
            manual_out = attempt(self.pair.manual_valid, *self.manual_data[split])
        with self.clock("torch"):
            torch_out = attempt(self.pair.torch_valid, *self.torch_data[split])
        return manual_out, torch_out

    def values(self):
        r"""The step's gradients, updated weights and optimizer state, each flattened in parameter order."""
        return {"gradients": self.pair.gradients(), "weights after the update": self.pair.weights(),
                "optimizer state": self.pair.optimizer_states()}

    def malformed(self):
        r"""``(check, detail)`` for what a step left missing or misshapen (a parameter, a gradient, an optimizer
        state entry), or None."""
        for side, params in zip(SIDES, self.pair.params, strict=True):
            for name, p, shape in zip(self.pair.names, params, self.shapes, strict=True):
                for what, value in ((name, p.data if side == "manual" else p), (f"{name}.grad", p.grad)):
                    if value is None or tuple(np.shape(value)) != shape:
                        found = "None" if value is None else f"of shape {tuple(np.shape(value))}"
                        return "step outputs", f"{side}: {what} is {found} after the step, not of shape {shape}"
        return self.malformed_state()

    def malformed_state(self):
        manual_state, torch_state = (optimizer.state for optimizer in self.pair.optimizers)
        for name, p, q in zip(self.pair.names, *self.pair.params, strict=True):
            manual_keys = set(manual_state.get(p, {})) - {"step"}
            torch_keys = {key for key, value in torch_state.get(q, {}).items() if value is not None} - {"step"}
            if manual_keys != torch_keys:
                return "optimizer state", f"{name}: manual keeps {sorted(manual_keys)}, torch {sorted(torch_keys)}"
        for manual_value, torch_value in self.pair.state_pairs():
            if np.shape(manual_value) != tuple(torch_value.shape):
                return "optimizer state", (f"manual holds an entry of shape {np.shape(manual_value)} where torch's "
                                           f"is {tuple(torch_value.shape)}")
        return None


def side_step(sides, side, step, batch):
    r"""A side's ``train_step`` on the batch its own loader gave; manual may not write into it."""
    if batch is None:
        raise RuntimeError(f"{side}'s loader gave fewer batches than the {len(sides.order)} of the epoch")
    if side == "manual":
        for array in batch:
            array.setflags(write=False)
    return step(*batch)


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
    running maxima; ``reached`` once the run got as far as making it."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.max_abs_diff = self.max_ratio = 0.0
        self.count = 0
        self.ok, self.reached = True, False

    def update(self, a, b, extra=0.0):
        r"""Fold in one comparison of finite arrays; return ``|a - b|`` and the tolerance ratio."""
        abs_diff, ratio = np.abs(a - b), tolerance_ratio(a, b, self.dtype, extra)
        self.max_abs_diff = max(self.max_abs_diff, float(abs_diff.max(initial=0.0)))
        self.max_ratio = max(self.max_ratio, float(ratio.max(initial=0.0)))
        self.count += bool(a.size)                  # plain SGD keeps no state: nothing was compared
        self.reached = True
        return abs_diff, ratio

    def summary(self):
        return {"compared": self.count, "reached": self.reached, "max_abs_diff": self.max_abs_diff,
                "max_diff_over_tolerance": self.max_ratio, **TOLERANCES[self.dtype], "ok": self.ok}


class Record:
    r"""The running summaries of the checks, and the failures: the first is diagnosed with a trace."""

    def __init__(self, config, sides):
        self.config, self.sides, self.result = config, sides, sides.result
        self.checks = {name: Check(config.dtype) for name in COMPARED}
        self.counts = {"correct counts": {"compared": 0, "ties": 0, "ok": True},
                       "predictions": {"compared": 0, "mismatched": 0, "ties": 0, "tie_band": TIE, "ok": True},
                       "discretize": {"compared": 0, "ok": True}, "initialisers": {"compared": 0, "ok": True},
                       "loaders": {"compared": 0, "ok": True}}

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
            if isinstance(cause, dict):
                self.result.rounding.append({**where, "check": name, "parameter": parameter, "detail": detail,
                                             **cause})
            else:
                self.fail(where, name, detail, replay, parameter)
        return abs_diff

    def finite(self, where, compared, replay):
        r"""At the first non-finite number: DIVERGED where both sides have one, else DISAGREE, traced from
        ``replay`` (a NaN or an infinity on one side only is a bug there); return whether all are finite."""
        for name, pair in compared.items():
            sides = [side for side, values in zip(SIDES, pair, strict=True) if not np.isfinite(values).all()]
            if len(sides) == 2:
                hint = diverged(self.config, name == "weights after the update")
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
        summary = self.checks.get(check) or self.counts.get(check)
        if isinstance(summary, Check):
            summary.ok, summary.reached = False, True
        elif summary is not None:
            summary["ok"] = False
        if self.result.first_failure is None:
            failure = {**where, "check": check, "parameter": parameter, "detail": detail, "quantity": quantity,
                       "hint": hint or check_hint(check, self.config)}
            self.result.first_failure = self.diagnose(failure, replay) if replay else failure

    def diagnose(self, failure, replay):
        r"""Trace the failing step (``replay``: its weights and the batch's indices, or ``"validation"``)."""
        weights, idx = replay
        X, y = batch(self.result.data, idx)
        try:
            first = first_difference(Pair(self.config, weights, self.sides.state_before).trace(X, y),
                                     self.config.dtype)
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
        result.checks = {name: check.summary() for name, check in self.checks.items()}
        per_parameter = np.max(result.step_grad_diffs, axis=0) if result.steps else []
        result.checks["gradients"]["per_parameter_max_abs_diff"] = dict(
            zip(result.parameter_names, map(float, per_parameter), strict=False))   # no step taken: {}
        result.checks.update(self.counts)
        dead = [state["dead"] for state in self.sides.pair.optimizers[0].state.values() if "dead" in state]
        if dead:                                   # Playground's L1: links held at 0 for good
            result.dead_links = {"dead": int(sum(mask.sum() for mask in dead)),
                                 "weights": int(sum(mask.size for mask in dead))}
        result.seconds = self.sides.clock.seconds
        return result


def held_settings(model, optimizer, criterion, activations, names):
    r"""What a model and its optimizer hold, read back from the objects themselves, never from the
    configuration: each layer as ``[in, out, activation]``, the weights' dtype, the loss's and the optimizer's class
    and its hyper-parameters ``names`` (torch's ``param_groups[0]``, else the optimizer's attributes)."""
    children = [module for _, module in model.named_children()]
    kind = {cls: name for name, cls in activations.items()}
    layers = [[*reversed(tuple(layer.weight.data.shape)), kind.get(type(activation), type(activation).__name__)]
              for layer, activation in zip(children[0::2], children[1::2], strict=True)]
    group = getattr(optimizer, "param_groups", [{}])[0]
    return {"layers": layers, "dtype": str(children[0].weight.data.dtype).removeprefix("torch."),
            "loss": type(criterion).__name__, "optimizer": type(optimizer).__name__,
            **{name: group[name] if name in group else getattr(optimizer, name) for name in names}}


def check_settings(sides, record):
    r"""Every setting reached both sides: what their models and optimizers hold is what the run asked for:
    each layer as ``[in, out, activation]``, the dtype, the loss and the optimizer's hyper-parameters."""
    config, layers = record.config, sizes(record.config)
    expected = {"layers": [[n_in, n_out, activation] for n_in, n_out, activation
                           in zip(layers, layers[1:], (*config.activations, config.output_activation), strict=False)],
                "dtype": config.dtype, "loss": type(sides.pair.criteria[0]).__name__,
                **{name: getattr(config, name) for name in sides.names}}
    for key, value in expected.items():
        held = {side: settings[key] for side, settings in record.result.settings.items()}
        if any(found != value for found in held.values()):
            record.fail({"epoch": 0, "step": 0}, "settings", f"{key}: asked for {value}, manual holds "
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


def check_own_code(sides, record):
    r"""Each side's initialiser and training loader, which the run does not use, against torch's definitions
    (``paths``); a side that raises fails the check."""
    config = record.config
    for check, problems in (("initialisers", lambda: initialiser_problems(config)),
                            ("loaders", lambda: loader_problems(config, len(record.result.data[0])))):
        record.counts[check]["compared"] += 1
        found = attempt(problems)
        if isinstance(found, Exception):
            found = [f"raised {type(found).__name__}: {found}"]
        if found:
            record.fail({"epoch": 0, "step": 0}, check, "; ".join(found))
            return False
    return True


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
    record.result.steps.append({**where, "loss": {"manual": manual_loss, "torch": torch_loss},
                                "max_abs_grad_diff": dict(zip(sides.pair.names, np.maximum.reduceat(
                                    diffs["gradients"], sides.offsets).tolist(), strict=True))})
    if record.config.dataset not in REGRESSION and manual_correct != torch_correct:
        check_counts(sides, record, where, replay, manual_correct, torch_correct)


def check_counts(sides, record, where, replay, manual_correct, torch_correct):
    r"""The step's correct counts differ: a bug, unless float32 ties (outputs at the threshold) explain it."""
    ties = 0
    if record.config.dtype == "float32":       # the outputs the counts were made with, before the update
        counted = attempt(lambda: int(tied(record.config, *Pair(record.config, replay[0]).outputs(
            sides.result.data[0][replay[1]])).sum()))
        ties = counted if isinstance(counted, int) else 0
    record.counts["correct counts"]["ties"] += ties
    if abs(manual_correct - torch_correct) > ties:
        record.fail(where, "correct counts", f"manual {manual_correct}, torch {torch_correct} correct in the batch",
                    replay)


def tied(config, manual_pred, torch_pred):
    r"""Per point: both outputs within ``TIE`` of the threshold between the classes, by ``manual.train.score``."""
    return ((np.abs(score(manual_pred, config.loss)) < TIE) & (np.abs(score(torch_pred, config.loss)) < TIE))[:, 0]


def training_loss(sides, record, where, means):
    r"""Both sides' training loss of the epoch, as the ``Source`` measures it (None: a side failed): the mean
    of the batches (``means``, each side's own), or Playground's loss after the epoch."""
    if sides.source.training_loss == "after the epoch":      # Playground's getLoss on the training points
        after = sides.validate(slice(0, 2))
        return None if record.broken(where, after) else np.array([after[0][0], after[1][0]])
    return np.array([loss for loss, _ in means])


def own_epoch_means(sides, totals):
    r"""Each side's ``(training loss, accuracy)`` of the epoch from its own ``run_epoch``, fed over its own
    loader the ``(loss, correct)`` each of its steps returned: the epoch code the side's ``fit`` runs."""
    means = []
    for k, (run_epoch, loader) in enumerate(zip((manual.train.run_epoch, torch_impl.train.run_epoch), sides.loaders,
                                                strict=True)):
        returned = iter([(step[k], step[2 + k]) for step in totals])
        means.append(run_epoch(lambda X, y, returned=returned: next(returned), loader))
    return means


def check_epoch(sides, record, epoch, totals):
    r"""From identical weights: epoch losses, validation, predictions on every point. False: stop."""
    outcomes = sides.validate()
    with sides.clock("checks"):
        where = {"epoch": epoch, "step": None}
        if record.broken(where, outcomes):
            return False
        (manual_valid, torch_valid), result = outcomes, record.result
        means = attempt(own_epoch_means, sides, totals)
        if isinstance(means, Exception):
            record.fail(where, "exception", f"a side's run_epoch raised {type(means).__name__}: {means}")
            return False
        train_loss = training_loss(sides, record, where, means)
        if train_loss is None:
            return False
        n_valid = len(result.data[2])
        for side, loss, (_, acc), (val_loss, val_correct) in zip(SIDES, train_loss, means, outcomes, strict=True):
            result.history[side].append({"epoch": epoch, "loss": float(loss), "acc": float(acc),
                                         "val_loss": val_loss, "val_acc": val_correct / n_valid})
        replay = (sides.pair.models[0].state_dict(), "validation")
        epoch_losses = {"epoch losses": (np.array([train_loss[0], manual_valid[0]]),
                                         np.array([train_loss[1], torch_valid[0]]))}
        if not record.finite(where, epoch_losses, replay):
            return False
        record.compare(where, "epoch losses", *epoch_losses["epoch losses"], replay)
        if record.config.dataset not in REGRESSION:
            check_predictions(sides, record, where, replay, manual_valid[1], torch_valid[1])
        if record.config.free_running:
            record_drift(sides, result, epoch, train_loss, manual_valid[0] - torch_valid[0])
    return not record.stop


def record_drift(sides, result, epoch, train_loss, val_loss_diff):
    manual_weights, torch_weights = sides.pair.weights()
    result.drift.append({"epoch": epoch, "max_weight_diff": float(np.abs(manual_weights - torch_weights).max()),
                         "train_loss_diff": float(abs(train_loss[0] - train_loss[1])),
                         "val_loss_diff": float(abs(val_loss_diff))})


def check_predictions(sides, record, where, replay, manual_correct, torch_correct):
    r"""Classification: each side's predicted class of every point (``predict``) and the validation correct counts."""
    predicted = sides.pair.outputs(sides.X_all)
    differ = (manual.predict(predicted[0], sides.pair.criteria[0]) !=
              torch_impl.predict(torch.from_numpy(predicted[1]), sides.pair.criteria[1]).numpy()).reshape(-1)
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
