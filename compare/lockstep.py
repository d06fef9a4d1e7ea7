r"""Train ``manual`` and ``torch_impl`` side by side and check, step by step, that they compute the same thing.

Every step starts from identical weights: each side runs its own ``train_step`` on the same batch
(each from its own loader, both driven by one order of indices per epoch), then the loss, every
parameter's gradient and every parameter after the update are compared, and torch's weights are
re-synchronised from manual's. After every epoch, still from identical weights, the epoch losses,
the correct counts and the +1/-1 predictions on every point are compared, each side using its own
``valid_step`` and ``discretize``. A non-finite number anywhere is a failure (DIVERGED), never
agreement. docs/agreement.md states the rule and what it guarantees.

The first failed check is diagnosed: ``compare.trace`` replays that step from its weights and batch
and names the first intermediate quantity that differs.
"""
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import manual
import torch_impl

from .data import REGRESSION, load_data
from .pair import (DTYPES, TOLERANCES, Config, make_criteria, make_optimizers, make_pair, read_only,
                   tolerance_ratio)
from .trace import HINTS, first_difference, trace

TIE = 1e-4     # float32: outputs this close to the threshold 0 may discretize differently (a tie)
PROBE = [-1.0, -1e-30, -0.0, 0.0, 1e-30, 1.0]   # discretize's edge cases, fed to both sides


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


class Check:
    r"""One comparison, ``|manual - torch| <= atol + rtol |torch|`` (``tolerance_ratio`` <= 1), with its
    running maxima."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.max_abs_diff = self.max_ratio = 0.0
        self.count = 0

    def update(self, a, b):
        r"""Fold in one comparison of finite arrays; return ``|a - b|`` and the tolerance ratio."""
        abs_diff, ratio = np.abs(a - b), tolerance_ratio(a, b, self.dtype)
        self.max_abs_diff = max(self.max_abs_diff, float(abs_diff.max(initial=0.0)))
        self.max_ratio = max(self.max_ratio, float(ratio.max(initial=0.0)))
        self.count += 1
        return abs_diff, ratio

    def summary(self):
        return {"compared": self.count, "max_abs_diff": self.max_abs_diff, "max_diff_over_tolerance": self.max_ratio,
                **TOLERANCES[self.dtype]}


class SharedOrder:
    r"""The batches of the current epoch as index arrays: the ``batch_sampler`` of both loaders."""

    def __init__(self):
        self.batches = []

    def shuffle(self, rng, n, batch_size):
        order = rng.permutation(n)
        self.batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays])


@dataclass
class Result:
    r"""What a lockstep run found; ``to_json()`` gives the documented JSON."""
    config: Config
    data: tuple                        # X_train, y_train, X_valid, y_valid in the run's dtype
    models: tuple                      # (manual model, torch model), trained
    history: dict = field(default_factory=lambda: {"manual": [], "torch": []})
    step_grad_diffs: list = field(default_factory=list)   # per step: max |g_manual - g_torch| per parameter
    drift: list = field(default_factory=list)             # --free-running: per epoch, how far apart
    checks: dict = None                # name -> summary
    first_failure: dict = None         # where the first check failed, and why
    diverged: dict = None              # where a number first became non-finite
    failures: int = 0                  # failed checks (more than one only with keep_going)
    dead_links: dict = None            # --regularization L1 under Playground's rules: {"dead", "weights"}
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
                "first_failure": self.first_failure, "diverged": self.diverged, "failures": self.failures,
                "checks": self.checks, "drift": self.drift if self.config.free_running else None,
                "dead_links": self.dead_links,
                "history": self.history}


class Lockstep:
    r"""Both implementations side by side: same weights, same batches, compared as they go."""

    def __init__(self, config, weights=None):
        self.config = config
        self.clock = Stopwatch()
        np_dtype = DTYPES[config.dtype][0]
        with self.clock("data"):
            data = tuple(a.astype(np_dtype) for a in load_data(config.dataset, config.noise, config.train_ratio,
                                                                config.seed, config.features))
        self.classification = config.dataset not in REGRESSION   # regression: no labels to count or predict
        self.rng = np.random.default_rng(config.seed)     # initial weights, then one order per epoch
        self.result = Result(config, data, make_pair(config, self.rng, weights))
        manual_model, torch_model = self.result.models
        X_train, y_train, X_valid, y_valid = data
        # each side its own copies: nothing one side does can reach the other's data
        self.manual_data = tuple(map(read_only, data))
        self.torch_data = tuple(map(torch.tensor, data))
        X_all = np.concatenate([X_train, X_valid])       # every point, for the predictions
        self.manual_X_all, self.torch_X_all = read_only(X_all), torch.tensor(X_all)
        self.order = SharedOrder()
        self.manual_loader = manual.DataLoader(*self.manual_data[:2], batch_sampler=self.order)
        self.torch_loader = DataLoader(TensorDataset(*self.torch_data[:2]), batch_sampler=self.order)
        self.steps_per_epoch = -(-len(X_train) // config.batch_size)

        self.manual_optimizer, self.torch_optimizer = make_optimizers(config, manual_model, torch_model)
        self.manual_criterion, self.torch_criterion = make_criteria(config)
        self.manual_params, self.torch_params = list(manual_model.parameters()), list(torch_model.parameters())
        self.offsets = np.cumsum([0] + [p.data.size for p in self.manual_params])[:-1]
        self.checks = {name: Check(config.dtype) for name in (
            "loss", "gradients", "weights after the update", "optimizer state", "epoch losses")}
        self.counts = {"correct counts": {"compared": 0, "ties": 0},
                       "predictions": {"compared": 0, "mismatched": 0, "ties": 0, "tie_band": TIE},
                       "discretize": {"compared": 0}}
        self.failed_checks = set()

    # -- the run ------------------------------------------------------------------------------

    def run(self, on_epoch=None):
        r"""Train for ``config.epochs`` epochs or until a failure stops the run; return the Result."""
        if self.check_discretize():
            for epoch in range(1, self.config.epochs + 1):
                if not (self.train_epoch(epoch) and self.check_epoch(epoch)):
                    break
                if on_epoch:
                    on_epoch(self.result)
        return self.finish()

    def should_stop(self):
        return self.result.diverged is not None or (self.result.first_failure is not None
                                                    and not self.config.keep_going)

    def weights_and_batch_of_step(self, n):
        r"""Run (checked, synchronised) up to step ``n``; return its starting weights and batch."""
        for epoch in range(1, self.config.epochs + 1):
            self.start_epoch()
            manual_batches, torch_batches = iter(self.manual_loader), iter(self.torch_loader)
            for step, idx in enumerate(self.order.batches, 1):
                if (epoch - 1) * self.steps_per_epoch + step == n:
                    return self.result.models[0].state_dict(), self.result.data[0][idx], self.result.data[1][idx]
                self.check_step(epoch, step, idx, *self.take_step(manual_batches, torch_batches))
        raise ValueError(f"the run has no step {n}")

    def start_epoch(self):
        r"""Draw the epoch's order of the training points; reset its losses and correct counts."""
        self.order.shuffle(self.rng, len(self.manual_data[0]), self.config.batch_size)
        self.losses, self.correct = [], np.zeros(2, dtype=np.int64)

    def train_epoch(self, epoch):
        r"""One epoch of steps on both sides; return False when the run must stop."""
        self.start_epoch()
        manual_batches, torch_batches = iter(self.manual_loader), iter(self.torch_loader)
        for step, idx in enumerate(self.order.batches, 1):
            self.check_step(epoch, step, idx, *self.take_step(manual_batches, torch_batches))
            if self.should_stop():
                return False
        return True

    def take_step(self, manual_batches, torch_batches):
        r"""Each side's ``train_step`` on its loader's next batch; return the weights both started
        from and both sides' ``(loss, correct)`` (None for a side that raised)."""
        (manual_model, torch_model), self.exception = self.result.models, None
        with self.clock("checks"):
            before = manual_model.state_dict()
        with self.clock("manual"):
            X, y = next(manual_batches)
            for array in (X, y):                        # the loader's copies are read-only too
                array.setflags(write=False)
            manual_out = self.call("manual", manual.train_step, manual_model, self.manual_optimizer,
                                   self.manual_criterion, X, y)
        with self.clock("torch"):
            torch_out = self.call("torch", torch_impl.train_step, torch_model, self.torch_optimizer,
                                  self.torch_criterion, *next(torch_batches))
        return before, manual_out, torch_out

    def failed_with_exception(self, where):
        r"""Record the exception the last ``call`` caught, if any, as a failure; return whether there was one."""
        if self.exception:
            side, exc = self.exception
            self.fail(where, "exception", f"{side} raised {type(exc).__name__}: {exc}")
        return self.exception is not None

    def call(self, side, function, *args):
        r"""``function(*args)``; an exception is a failure of that side, not a crash of the comparison."""
        try:
            return function(*args)
        except Exception as exc:                   # whatever a planted bug raises
            self.exception = (side, exc)
            return None

    def check_step(self, epoch, step, idx, before, manual_out, torch_out):
        r"""Compare one step; then give torch manual's weights for the next."""
        with self.clock("checks"):
            where = {"epoch": epoch, "step": step}
            if not self.failed_with_exception(where):
                self.check_outcome(where, idx, before, manual_out, torch_out)
            if not self.config.free_running:
                self.synchronise()

    def optimizer_states(self):
        r"""Every array of the optimizers' per-parameter state (momentum buffers, Adam's moments),
        flattened in parameter order, as float64 (Playground's dead-link masks are boolean); empty for
        plain SGD."""
        manual_state, torch_state = self.manual_optimizer.state, self.torch_optimizer.state
        pairs = [(manual_state[p][key], torch_state[q][key])
                 for p, q in zip(self.manual_params, self.torch_params)
                 for key in sorted(manual_state.get(p, {})) if key != "step"]
        return (flat([a for a, _ in pairs] or [np.zeros(0)]).astype(np.float64),
                torch.cat([b.ravel().double() for _, b in pairs] or [torch.zeros(0)]).numpy())

    def check_state_keys(self, where, before, idx):
        r"""Both optimizers keep the same state entries for every parameter (``step`` aside)."""
        manual_state, torch_state = self.manual_optimizer.state, self.torch_optimizer.state
        for name, p, q in zip(self.result.parameter_names, self.manual_params, self.torch_params):
            manual_keys = set(manual_state.get(p, {})) - {"step"}
            torch_keys = {key for key, value in torch_state.get(q, {}).items() if value is not None} - {"step"}
            if manual_keys != torch_keys:
                self.fail(where, "optimizer state", f"manual keeps {sorted(manual_keys)}, torch {sorted(torch_keys)}",
                          before, idx, name)
                return

    def synchronise(self):
        r"""Copy manual's weights and optimizer state into torch's: the next step starts from identical values."""
        manual_state, torch_state = self.manual_optimizer.state, self.torch_optimizer.state
        with torch.no_grad():
            for p, q in zip(self.manual_params, self.torch_params):
                q.copy_(torch.from_numpy(p.data))
                for key, value in manual_state.get(p, {}).items():
                    if key != "step":
                        torch_state[q][key].copy_(torch.from_numpy(value))

    def check_outcome(self, where, idx, before, manual_out, torch_out):
        r"""Compare the loss, the gradients, the updated weights and the correct counts of one step."""
        (manual_loss, manual_correct), (torch_loss, torch_correct) = manual_out, torch_out
        self.losses.append((manual_loss, torch_loss, len(idx)))
        self.correct += manual_correct, torch_correct
        compared = {"loss": (np.array(manual_loss), np.array(torch_loss)),
                    "gradients": (flat([p.grad for p in self.manual_params]),
                                  torch.cat([q.grad.ravel() for q in self.torch_params]).numpy()),
                    "weights after the update": (flat([p.data for p in self.manual_params]),
                                                 torch.cat([q.detach().ravel() for q in self.torch_params]).numpy())}
        compared["optimizer state"] = self.optimizer_states()
        self.check_state_keys(where, before, idx)
        if self.check_finite(where, compared):
            abs_diff = self.compare(where, compared, before, idx)
            self.result.step_grad_diffs.append(np.maximum.reduceat(abs_diff["gradients"], self.offsets).tolist())
            if (self.classification and manual_correct != torch_correct
                    and not self.explained_by_ties(before, idx, manual_correct - torch_correct)):
                self.fail(where, "correct counts", f"manual {manual_correct}, torch {torch_correct} correct "
                          "in the batch", before, idx)

    def compare(self, where, compared, before, idx):
        r"""Apply the rule to each compared pair; return each pair's ``|diff|``."""
        abs_diffs = {}
        for name, (a, b) in compared.items():
            a, b = np.ravel(a), np.ravel(b)
            abs_diffs[name], ratio = self.checks[name].update(a, b)
            worst = int(np.argmax(ratio)) if a.size else 0
            if a.size and ratio[worst] > 1:
                parameter = (self.result.parameter_names[np.searchsorted(self.offsets, worst, side="right") - 1]
                             if name in ("gradients", "weights after the update") else None)
                self.fail(where, name, f"manual {a[worst]:.9g}, torch {b[worst]:.9g}", before, idx, parameter)
        return abs_diffs

    def explained_by_ties(self, before, idx, difference):
        r"""float32: whether the two correct counts differ only through outputs within ``TIE`` of 0."""
        if self.config.dtype != "float32":
            return False
        X = read_only(self.result.data[0][idx])
        manual_model, torch_model = make_pair(self.config, np.random.default_rng(0), before)
        with torch.no_grad():
            outputs = manual_model(X), torch_model(torch.tensor(X)).numpy()
        ties = int(self.tied(*outputs).sum())
        self.counts["correct counts"]["ties"] += ties
        return abs(difference) <= ties

    @staticmethod
    def tied(manual_pred, torch_pred):
        return (np.abs(manual_pred) < TIE) & (np.abs(torch_pred) < TIE)

    def check_discretize(self):
        r"""Both sides' ``discretize`` on the threshold's edge cases (0, -0.0, +-1e-30)."""
        probe = np.array(PROBE, dtype=DTYPES[self.config.dtype][0])
        manual_labels = manual.discretize(probe)
        torch_labels = torch_impl.discretize(torch.tensor(probe)).numpy()
        self.counts["discretize"]["compared"] += 1
        if not np.array_equal(manual_labels, torch_labels):
            self.fail({"epoch": 0, "step": 0}, "discretize",
                      f"on {PROBE}: manual {manual_labels.tolist()}, torch {torch_labels.tolist()}")
        return not self.should_stop()

    def check_epoch(self, epoch):
        r"""From identical weights: epoch losses, validation, predictions on every point."""
        (manual_model, torch_model), result = self.result.models, self.result
        X_valid, y_valid = self.manual_data[2:]
        self.exception = None
        with self.clock("manual"):
            manual_valid = self.call("manual", manual.valid_step, manual_model, self.manual_criterion, X_valid, y_valid)
        with self.clock("torch"):
            torch_valid = self.call("torch", torch_impl.valid_step, torch_model, self.torch_criterion, *self.torch_data[2:])
        with self.clock("checks"):
            where = {"epoch": epoch, "step": None}
            if self.failed_with_exception(where):
                return False
            weights = manual_model.state_dict()
            losses = np.array(self.losses)
            train_loss = np.average(losses[:, :2], axis=0, weights=losses[:, 2])
            n_train = len(self.manual_data[0])
            for side, loss, correct, (val_loss, val_correct) in zip(
                    ("manual", "torch"), train_loss, self.correct, (manual_valid, torch_valid)):
                result.history[side].append({"epoch": epoch, "loss": float(loss), "acc": float(correct / n_train),
                                             "val_loss": val_loss, "val_acc": val_correct / len(X_valid)})
            epoch_losses = {"epoch losses": (np.array([train_loss[0], manual_valid[0]]),
                                             np.array([train_loss[1], torch_valid[0]]))}
            if not self.check_finite(where, epoch_losses):
                return False
            self.compare(where, epoch_losses, weights, "validation")

            if self.classification:
                self.check_predictions(where, weights, manual_valid[1], torch_valid[1])
            if self.config.free_running:
                result.drift.append({"epoch": epoch, "max_weight_diff": float(np.abs(
                    flat(manual_model.state_dict().values()) - flat(torch_model.state_dict().values())).max()),
                    "train_loss_diff": float(abs(train_loss[0] - train_loss[1])),
                    "val_loss_diff": float(abs(manual_valid[0] - torch_valid[0]))})
        return not self.should_stop()

    def check_predictions(self, where, weights, manual_correct, torch_correct):
        r"""Classification: the +1/-1 predictions on every point and the validation correct counts."""
        manual_model, torch_model = self.result.models
        with torch.no_grad():
            outputs = manual_model(self.manual_X_all), torch_model(self.torch_X_all).numpy()
        differ = manual.discretize(outputs[0]) != torch_impl.discretize(torch.from_numpy(outputs[1])).numpy()
        ties = differ & self.tied(*outputs) if self.config.dtype == "float32" else np.zeros_like(differ)
        counts = self.counts["predictions"]
        counts["compared"] += differ.size
        counts["ties"] += int(ties.sum())
        counts["mismatched"] += int((differ & ~ties).sum())
        if (differ & ~ties).any():
            self.fail(where, "predictions", f"{int((differ & ~ties).sum())} of {differ.size} points "
                      "discretize differently", weights, "validation")
        valid_ties = int(ties[len(self.manual_data[0]):].sum())
        self.counts["correct counts"]["compared"] += 1
        if abs(manual_correct - torch_correct) > valid_ties:
            self.fail(where, "correct counts", f"validation: manual {manual_correct}, torch {torch_correct} "
                      "correct", weights, "validation")

    # -- failures -------------------------------------------------------------------------------

    def check_finite(self, where, compared):
        r"""Record DIVERGED at the first non-finite number on either side; return whether all are finite."""
        for name, pair in compared.items():
            sides = [side for side, values in zip(("manual", "torch"), pair) if not np.isfinite(values).all()]
            if sides:
                both = len(sides) == 2
                side = "both" if both else sides[0]
                hint = ("training diverged: try a smaller --lr" if both else
                        f"only {side} produced a non-finite value: a bug on that side, not a divergence")
                self.result.diverged = {**where, "quantity": name, "side": side, "hint": hint}
                self.result.failures += 1
                self.failed_checks.add(name)
                if self.result.first_failure is None:
                    self.result.first_failure = {**where, "check": "non-finite", "parameter": None,
                                                 "detail": f"{name} on {side}", "quantity": name, "hint": hint}
                return False
        return True

    def fail(self, where, check, detail, weights=None, batch=None, parameter=None):
        r"""Record a failed check; the first one is diagnosed with a trace of its step."""
        self.result.failures += 1
        self.failed_checks.add(check)
        if self.result.first_failure is not None:
            return
        failure = {**where, "check": check, "parameter": parameter, "detail": detail, "quantity": None,
                   "hint": NO_TRACE_HINTS[check]}
        if weights is not None:
            X, y = ((self.result.data[2], self.result.data[3]) if isinstance(batch, str)
                    else (self.result.data[0][batch], self.result.data[1][batch]))
            try:
                first = first_difference(trace(self.config, weights, X, y), self.config.dtype)
            except Exception as exc:                # the planted bug may break the trace too
                failure["hint"] = f"tracing the step raised {type(exc).__name__}: {exc}"
            else:
                if first:
                    failure.update(quantity=first.name, hint=HINTS[first.kind])
                elif self.config.free_running:
                    failure["hint"] = ("free-running: the models had drifted apart before this step (rounding "
                                       "amplified by training); without --free-running each step starts from "
                                       "identical weights")
        self.result.first_failure = failure

    def finish(self):
        r"""Fill in the result's summaries and return it."""
        result = self.result
        per_parameter = np.max(result.step_grad_diffs, axis=0) if result.step_grad_diffs else []
        result.checks = {name: check.summary() for name, check in self.checks.items()}
        result.checks["gradients"]["per_parameter_max_abs_diff"] = dict(
            zip(result.parameter_names, map(float, per_parameter)))
        result.checks.update(self.counts)
        for name, check in result.checks.items():
            check["ok"] = name not in self.failed_checks
        dead = [state["dead"] for state in self.manual_optimizer.state.values() if "dead" in state]
        if dead:                                   # Playground's L1: links held at 0 for good
            result.dead_links = {"dead": int(sum(mask.sum() for mask in dead)),
                                 "weights": int(sum(mask.size for mask in dead))}
        result.seconds = self.clock.seconds
        return result


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
}


# A diverging run overflows on the way to a non-finite loss; that is detected and reported, so
# NumPy's overflow and invalid-value warnings would only repeat it, noisily.
@np.errstate(over="ignore", invalid="ignore")
def run(config, weights=None, on_epoch=None):
    r"""Train both implementations in lockstep for ``config.epochs`` epochs; return a ``Result``.

    ``weights`` (a state dict) replaces the drawn initial weights. ``on_epoch(result)`` is called
    after every epoch. Stops at the first failed check (unless ``config.keep_going``) and at the
    first non-finite number.
    """
    return Lockstep(config, weights).run(on_epoch)
