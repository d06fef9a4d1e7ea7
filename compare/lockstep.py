r"""Train ``manual`` and ``torch_impl`` in lockstep and check, at every step, that they agree.

One set of initial weights is drawn once (NumPy ``Generator``) and copied into both models; one
permutation of the training data per epoch feeds both. Neither side is ever re-synchronised, so any
drift shows. What "agree" means (``DESIGN.md`` section 3):

- gradients, every parameter, every step, before the update: ``|g_manual - g_torch| <= atol + rtol |g_torch|``;
- the per-epoch train and validation losses: the same rule;
- discretized predictions on every point after every epoch: identical in float64; in float32 they
  may differ only where ``|y_pred| < TIE`` on both sides (a tie at the threshold), counted apart.
"""
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

import manual
import torch_impl

from .data import load_data

DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
TOLERANCES = {"float32": {"atol": 1e-6, "rtol": 1e-4}, "float64": {"atol": 1e-12, "rtol": 1e-9}}
TIE = 1e-4     # float32: predictions this close to the 0 threshold may discretize differently
INITS = ("xavier", "torch-default")


@dataclass(frozen=True)
class Config:
    r"""Everything that determines a run; the defaults are the article's."""
    epochs: int = manual.EPOCHS
    batch_size: int = manual.BATCH_SIZE
    lr: float = manual.LEARN_RATE
    weight_decay: float = manual.REGULAR
    dataset: str = "circle"
    noise: float = 0.0
    train_ratio: float = 0.5
    hidden: tuple = (3, 3)
    activations: tuple = ("tanh", "sigmoid")
    output_activation: str = "tanh"
    dtype: str = "float32"
    seed: int = 0
    init: str = "xavier"


def to_torch(state_dict):
    r"""Copy a NumPy state dict into new tensors (``torch.from_numpy`` would share memory)."""
    return {name: torch.tensor(value) for name, value in state_dict.items()}


def make_pair(config, rng, weights=None):
    r"""Build the manual and the torch model with identical initial weights.

    The weights come from ``weights`` (a state dict of arrays) if given, else from ``rng`` with
    ``config.init``: ``"xavier"`` (the article's ``init_parameters``) or ``"torch-default"``
    (what ``nn.Linear`` draws). A bad ``weights`` dict raises ``ValueError`` naming the key.
    """
    np_dtype, torch_dtype = DTYPES[config.dtype]
    architecture = (config.hidden, config.activations, config.output_activation)
    manual_model = manual.NeuralNetwork(*architecture, dtype=np_dtype, rng=rng)
    if config.init == "xavier":
        manual.init_parameters(manual_model, rng)
    if weights is not None:
        manual_model.load_state_dict(weights)
    torch_model = torch_impl.NeuralNetwork(*architecture, dtype=torch_dtype)
    torch_model.load_state_dict(to_torch(manual_model.state_dict()))
    return manual_model, torch_model


def check_weights(config, weights, source):
    r"""Raise ``ValueError`` naming ``source`` and the key unless ``weights`` fit ``config``'s network.

    Besides the model's own key and shape checks: every value must be a real number that stays
    finite in ``config.dtype``.
    """
    np_dtype = DTYPES[config.dtype][0]
    model = manual.NeuralNetwork(config.hidden, config.activations, config.output_activation, dtype=np_dtype)
    for name, value in weights.items():
        if np.asarray(value).dtype.kind not in "fiu":
            raise ValueError(f"{source}: {name} has dtype {np.asarray(value).dtype}, not a real number type")
        with np.errstate(over="ignore"):            # too large for the dtype: caught just below
            converted = np.asarray(value).astype(np_dtype)
        if not np.isfinite(converted).all():
            raise ValueError(f"{source}: {name} holds a non-finite value (nan, inf, or too large for {config.dtype})")
    try:
        model.load_state_dict(weights)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


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
    r"""Running maximum of ``|a - b| / (atol + rtol |b|)``: the rule holds while it stays <= 1."""

    def __init__(self, atol, rtol):
        self.atol, self.rtol = atol, rtol
        self.max_abs_diff = 0.0
        self.max_ratio = 0.0

    def update(self, a, b):
        r"""Fold in one comparison of arrays ``a`` (manual) and ``b`` (torch); return ``|a - b|``."""
        abs_diff = np.abs(a - b)
        ratio = abs_diff / (self.atol + self.rtol * np.abs(b))
        self.max_abs_diff = max(self.max_abs_diff, float(abs_diff.max(initial=0.0)))
        self.max_ratio = max(self.max_ratio, float(ratio.max(initial=0.0)))
        return abs_diff

    def summary(self):
        return {"max_abs_diff": self.max_abs_diff, "max_diff_over_tolerance": self.max_ratio,
                "atol": self.atol, "rtol": self.rtol, "ok": self.max_ratio <= 1.0}


@dataclass
class Result:
    r"""What a lockstep run found; ``to_json()`` gives the documented JSON."""
    config: Config
    data: tuple                        # X_train, y_train, X_valid, y_valid in the run's dtype
    models: tuple                      # (manual model, torch model), trained
    history: dict = field(default_factory=lambda: {"manual": [], "torch": []})
    step_grad_diffs: list = field(default_factory=list)   # per step: max |g_manual - g_torch| per parameter
    gradients: dict = None
    loss_curves: dict = None
    accuracy: dict = None
    diverged: dict = None              # {"epoch", "step", "losses"} when a loss went non-finite
    seconds: dict = None               # wall time per phase: data, manual, torch, checks

    @property
    def parameter_names(self):
        return [name for name, _ in self.models[0].named_parameters()]

    @property
    def agree(self):
        checks = (self.gradients, self.loss_curves, self.accuracy)
        return self.diverged is None and all(check["ok"] for check in checks)

    def to_json(self):
        config = asdict(self.config)
        config.update(hidden=list(self.config.hidden), activations=list(self.config.activations))
        return {"config": config, "agree": self.agree, "diverged": self.diverged,
                "checks": {"gradients": self.gradients, "loss_curves": self.loss_curves,
                           "accuracy": self.accuracy},
                "history": self.history}


class Lockstep:
    r"""Both implementations side by side: same weights, same batches, compared as they go."""

    def __init__(self, config, weights=None):
        self.clock = Stopwatch()
        np_dtype = DTYPES[config.dtype][0]
        with self.clock("data"):
            data = tuple(a.astype(np_dtype) for a in load_data(config.dataset, config.noise,
                                                                config.train_ratio, config.seed))
        self.rng = np.random.default_rng(config.seed)     # initial weights, then one permutation per epoch
        self.result = Result(config, data, make_pair(config, self.rng, weights))
        manual_model, torch_model = self.result.models
        self.X_train, self.y_train, self.X_valid, self.y_valid = data
        self.X_all = np.concatenate([self.X_train, self.X_valid])
        # torch views of the same (read-only) arrays
        self.t_X_train, self.t_y_train, self.t_X_valid, self.t_y_valid, self.t_X_all = (
            torch.from_numpy(a) for a in (*data, self.X_all))
        self.manual_optimizer = manual.SGD(manual_model.parameters(), lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=config.lr,
                                               weight_decay=config.weight_decay)
        self.manual_criterion, self.torch_criterion = manual.MSELoss(), torch.nn.MSELoss()
        self.manual_params, self.torch_params = list(manual_model.parameters()), list(torch_model.parameters())
        # gradients are compared as one flat vector; parameter i starts at offsets[i]
        self.offsets = np.cumsum([0] + [p.data.size for p in self.manual_params])[:-1]
        self.gradients, self.losses = Check(**TOLERANCES[config.dtype]), Check(**TOLERANCES[config.dtype])
        self.mismatched = self.ties = 0

    def train_epoch(self, epoch):
        r"""One epoch of training steps on both sides; return False if a loss became non-finite."""
        (manual_model, torch_model), config = self.result.models, self.result.config
        order = self.rng.permutation(len(self.X_train))
        batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        step_losses = np.empty((len(batches), 2))
        correct = np.zeros(2, dtype=np.int64)
        for step, idx in enumerate(batches, start=1):
            with self.clock("manual"):
                manual_loss, manual_correct = manual.train_step(
                    manual_model, self.manual_optimizer, self.manual_criterion, self.X_train[idx], self.y_train[idx])
            with self.clock("torch"):
                t_idx = torch.from_numpy(idx)
                torch_loss, torch_correct = torch_impl.train_step(
                    torch_model, self.torch_optimizer, self.torch_criterion, self.t_X_train[t_idx], self.t_y_train[t_idx])
            with self.clock("checks"):
                if not (np.isfinite(manual_loss) and np.isfinite(torch_loss)):
                    self.result.diverged = {"epoch": epoch, "step": step,
                                            "losses": {"manual": manual_loss, "torch": torch_loss}}
                    return False
                self.compare_gradients()
                step_losses[step - 1] = manual_loss, torch_loss
                correct += manual_correct, torch_correct
        with self.clock("checks"):
            self.train_loss = np.average(step_losses, axis=0, weights=[len(idx) for idx in batches])
            self.train_acc = correct / len(self.X_train)
        return True

    def compare_gradients(self):
        r"""Compare every parameter's gradient. ``p.grad`` still holds the gradient that the update
        just used, so this is the comparison "before the update"."""
        abs_diff = self.gradients.update(np.concatenate([p.grad.ravel() for p in self.manual_params]),
                                         torch.cat([q.grad.ravel() for q in self.torch_params]).numpy())
        self.result.step_grad_diffs.append(np.maximum.reduceat(abs_diff, self.offsets).tolist())

    def check_epoch(self, epoch):
        r"""Validate both sides, record the epoch, compare losses and discretized predictions."""
        (manual_model, torch_model), result = self.result.models, self.result
        with self.clock("manual"):
            manual_valid = manual.valid_step(manual_model, self.manual_criterion, self.X_valid, self.y_valid)
        with self.clock("torch"):
            torch_valid = torch_impl.valid_step(torch_model, self.torch_criterion, self.t_X_valid, self.t_y_valid)
        with self.clock("checks"):
            for side, loss, acc, (val_loss, val_correct) in zip(
                    ("manual", "torch"), self.train_loss, self.train_acc, (manual_valid, torch_valid)):
                result.history[side].append({"epoch": epoch, "loss": float(loss), "acc": float(acc),
                                             "val_loss": val_loss, "val_acc": val_correct / len(self.X_valid)})
            self.losses.update(self.train_loss[0], self.train_loss[1])
            self.losses.update(manual_valid[0], torch_valid[0])

            manual_pred = manual_model(self.X_all)
            with torch.no_grad():
                torch_pred = torch_model(self.t_X_all).numpy()
            differ = manual.discretize(manual_pred) != manual.discretize(torch_pred)
            if result.config.dtype == "float32":
                tie = differ & (np.abs(manual_pred) < TIE) & (np.abs(torch_pred) < TIE)
                self.ties += int(tie.sum())
                differ &= ~tie
            self.mismatched += int(differ.sum())

    def finish(self):
        r"""Fill in the result's summaries and return it."""
        result = self.result
        per_parameter = np.max(result.step_grad_diffs, axis=0) if result.step_grad_diffs else []
        result.gradients = {**self.gradients.summary(), "steps": len(result.step_grad_diffs),
                            "per_parameter_max_abs_diff": dict(zip(result.parameter_names, map(float, per_parameter)))}
        result.loss_curves = {**self.losses.summary(), "epochs": len(result.history["manual"])}
        result.accuracy = {"mismatched_predictions": self.mismatched, "ties_at_threshold": self.ties,
                           "tie_band": TIE, "points_per_epoch": len(self.X_all), "ok": self.mismatched == 0}
        result.seconds = self.clock.seconds
        return result


# A diverging run overflows on the way to a non-finite loss; that loss is detected and reported,
# so NumPy's overflow and invalid-value warnings would only repeat it, noisily.
@np.errstate(over="ignore", invalid="ignore")
def run(config, weights=None, on_epoch=None):
    r"""Train both implementations in lockstep for ``config.epochs`` epochs; return a ``Result``.

    ``weights`` (a state dict) replaces the drawn initial weights. ``on_epoch(result)`` is called
    after every epoch. Stops early, with ``result.diverged`` set, when a loss becomes non-finite.
    """
    lockstep = Lockstep(config, weights)
    for epoch in range(1, config.epochs + 1):
        if not lockstep.train_epoch(epoch):
            break
        lockstep.check_epoch(epoch)
        if on_epoch:
            on_epoch(lockstep.result)
    return lockstep.finish()
