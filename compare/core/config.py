r"""The settings of a run: ``Config``, each field with its default, its help and its check, defined once.

Each field's metadata is its command-line help and its check, and ``Config`` validates itself, so a
flag, a Playground URL and the Python API share one set of limits and one message per mistake
(``ValueError``). The defaults are the article's.
"""
import math
from dataclasses import asdict, dataclass, field, fields

import manual
import manual.autograd_nn as autograd_nn
import manual.playground
from manual.train import LIMITS, LOSSES, check_representable, check_settings, typed

from .data import DATASETS, FEATURES, REGRESSION
from .pair import DTYPES, INITS, OPTIMIZERS

RULES = ("torch", "playground")


def setting(default, help, check=None, requirement=None, choices=None):
    r"""A ``Config`` field: its default, its ``--help`` text, and ``check(value)``, true when the value is
    allowed (else the error says it must be ``requirement``), or ``choices``. The article's own
    settings are checked by ``manual.train.LIMITS``, which ``python -m manual`` uses too."""
    return field(default=default, metadata={"help": help, "check": check, "requirement": requirement,
                                            "choices": choices})


def finite_at_least(low):
    return lambda v: low <= v < math.inf


@dataclass(frozen=True)
class Config:
    r"""Everything that determines a run; the defaults are the article's. Raises ``ValueError``
    (one line, naming the flag) for a value outside its limits or settings that contradict."""
    epochs: int = setting(manual.EPOCHS, "training epochs")
    batch_size: int = setting(manual.BATCH_SIZE, "mini-batch size")
    lr: float = setting(manual.LEARN_RATE, "learning rate")
    weight_decay: float = setting(None, "weight decay (L2 rate) of the optimizer, biases included (default: "
                                  f"{manual.REGULAR})")
    dataset: str = setting("circle", f"Playground data set; {' and '.join(REGRESSION)} are regression "
                           "(linear output)", choices=tuple(DATASETS))
    features: tuple = setting(("x", "y"), f"the network's inputs, from {', '.join(FEATURES)}",
                              lambda v: len(v) > 0 and set(v) <= set(FEATURES) and len(set(v)) == len(v),
                              f"distinct names from {', '.join(FEATURES)}")
    noise: float = setting(0.0, "Playground noise level")
    train_ratio: float = setting(0.5, "share of the points used for training")
    hidden: tuple = setting((3, 3), 'neurons per hidden layer; "" for none')
    activations: tuple = setting(("tanh", "sigmoid"), f"one activation per hidden layer, from "
                                 f"{', '.join(manual.ACTIVATIONS)}")
    output_activation: str = None      # not a flag: the loss's (manual.train.LOSSES), linear for regression
    dtype: str = setting("float32", "floating-point type of both sides", choices=tuple(DTYPES))
    seed: int = setting(1, "seed of the data, the initial weights and the batch order")
    init: str = setting("xavier", "initial weights: the article's xavier-uniform, nn.Linear's default, "
                        "Playground's U(-0.5, 0.5) with biases 0.1, or all zero (Playground's initZero)",
                        choices=INITS)
    optimizer: str = setting("sgd", "torch.optim.SGD, Adam or AdamW, and their manual twins", choices=tuple(OPTIMIZERS))
    momentum: float = setting(0.0, "SGD momentum", finite_at_least(0), "a finite number >= 0")
    nesterov: bool = setting(False, "SGD: Nesterov momentum (needs --momentum)")
    betas: tuple = setting((0.9, 0.999), "Adam(W): beta1,beta2", lambda v: len(v) == 2 and all(0 <= b < 1 for b in v),
                           "two numbers in [0, 1), e.g. 0.9,0.999")
    eps: float = setting(1e-8, "Adam(W): term added to the denominator", finite_at_least(0), "a finite number >= 0")
    amsgrad: bool = setting(False, "Adam(W): the AMSGrad variant")
    loss: str = setting("mse", "the loss; the output layer and labels follow it: mse, the article's (half of it "
                        "under Playground's rules, as Playground's), or l1, the mean absolute error (Playground's "
                        "mae), a tanh output and +1/-1 labels; bce, a sigmoid output and 0/1 labels; bce-logits, a "
                        "linear output (a logit) and 0/1 labels; cross-entropy, two linear outputs (logits) and "
                        "class indices 0/1", choices=tuple(LOSSES))
    rules: str = setting("torch", "torch: MSELoss and torch.optim; playground: Playground's 1/2-MSE and update, "
                         "no weight decay, --regularization on the weights only", choices=RULES)
    regularization: str = setting("none", "--rules playground: penalty on the weights",
                                  choices=tuple(manual.playground.REGULARIZATIONS))
    regularization_rate: float = setting(0.0, "--rules playground: the penalty's rate", finite_at_least(0),
                                         "a finite number >= 0")
    manual: str = setting("layers", "the manual side: layers, backprop written layer by layer (manual/nn.py), or "
                          "autograd, the same network on manual's own autograd engine (manual/autograd.py)",
                          choices=("layers", "autograd"))
    free_running: bool = setting(False, "never re-synchronise the two models: watch rounding drift instead of "
                                 "checking each step on its own")

    def __post_init__(self):
        defaults = {f.name: f.default for f in fields(self)}
        defaults.update(weight_decay=manual.REGULAR if self.rules == "torch" else 0.0,
                        output_activation="linear" if self.dataset in REGRESSION else LOSSES[self.loss][1])
        for name in ("weight_decay", "output_activation"):          # the defaults that depend on another field
            if getattr(self, name) is None:
                object.__setattr__(self, name, defaults[name])
        check_settings({name: getattr(self, name) for name in LIMITS}, self.dtype, len(self.features))
        for f in fields(self):
            check_field(f, getattr(self, f.name))
        for name in ("momentum", "eps", "regularization_rate"):       # lr and weight_decay: check_settings
            check_representable(name, getattr(self, name), self.dtype)
        self.check_optimizer(defaults)
        self.check_engine()
        if self.loss not in ("mse", "l1") and (self.dataset in REGRESSION or self.rules == "playground"):
            where = f"--dataset {self.dataset} (regression)" if self.dataset in REGRESSION else "--rules playground"
            raise ValueError(f"--loss {self.loss} classifies: it does not apply to {where}; mse and l1 do")

    def check_optimizer(self, defaults):
        r"""An option that does not apply to the chosen optimizer or rules is an error, not ignored."""
        foreign = {"sgd": ("betas", "eps", "amsgrad"), "adam": ("momentum", "nesterov"),
                   "adamw": ("momentum", "nesterov")}[self.optimizer]
        if self.rules == "playground":
            foreign = ("weight_decay", "momentum", "nesterov")
            if self.optimizer != "sgd":
                raise ValueError("--optimizer does not apply to --rules playground (its update is plain SGD)")
        elif self.regularization != "none" or self.regularization_rate:
            raise ValueError("--regularization and --regularization-rate need --rules playground "
                             "(with --rules torch, --weight-decay is L2 on every parameter, biases too)")
        for name in foreign:
            if getattr(self, name) != defaults[name]:
                where = "--rules playground" if self.rules == "playground" else f"--optimizer {self.optimizer}"
                raise ValueError(f"{flag(name)} does not apply to {where}")
        if self.nesterov and not self.momentum:
            raise ValueError("--nesterov needs a --momentum above 0")

    def check_engine(self):
        r"""``--manual autograd`` takes the activations ``manual/autograd_nn.py`` has, and torch's rules."""
        if self.manual != "autograd":
            return
        missing = [a for a in (*self.activations, self.output_activation) if a not in autograd_nn.ACTIVATIONS]
        if missing:
            raise ValueError(f"--manual autograd: the engine has the activations {', '.join(autograd_nn.ACTIVATIONS)}, "
                             f"not {', '.join(missing)}")
        if self.rules != "torch":
            raise ValueError("--manual autograd takes --rules torch (the engine has no Playground loss or update)")

    def to_json(self):
        return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()}


def check_field(f, value):
    r"""Raise ``ValueError`` unless ``value`` passes field ``f``'s own check and is one of its choices."""
    check, choices = f.metadata.get("check"), f.metadata.get("choices")
    if check and not check(value):
        raise ValueError(f"{flag(f.name)} {typed(value)}: must be {f.metadata['requirement']}")
    if choices and value not in choices:
        raise ValueError(f"{flag(f.name)} {typed(value)}: must be one of {', '.join(choices)}")


SETTINGS = tuple(f.name for f in fields(Config) if f.metadata)     # the settings that are options


def flag(name):
    return "--" + name.replace("_", "-")
