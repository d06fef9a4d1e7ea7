r"""The two sides of a comparison: a manual and a torch model with identical weights, their optimizers
and losses, and the tolerance by which their numbers are compared."""
import numpy as np
import torch

import manual
import manual.playground
import manual.train
import torch_impl
import torch_impl.playground
import torch_impl.train

from . import exact
from .data import load_data

DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
# |manual - torch| <= atol + rtol |torch|, element by element (docs/agreement.md)
TOLERANCES = {"float32": {"atol": 1e-6, "rtol": 1e-4}, "float64": {"atol": 1e-12, "rtol": 1e-9}}

# The loss and its gradient, per --loss: what a first difference at "loss" or "dL/dy_pred" points to.
LOSS_HINTS = {
    "mse": ("MSE is sum((y_pred - y)**2) / N, no 1/2, labels of shape (N, 1)",
            "dL/dy_pred = 2 (y_pred - y) / N (a 1/2-MSE, Playground's, gives half of it)"),
    "l1": ("L1 is sum(|y_pred - y|) / N", "dL/dy_pred = sign(y_pred - y) / N, 0 where they are equal"),
    "bce": ("BCE is -sum(y log p + (1 - y) log(1 - p)) / N, each log clamped at -100, labels 0/1",
            "dL/dp = (p - y) / max(p (1 - p), 1e-12) / N"),
    "bce-logits": ("BCE with logits is sum(max(z, 0) - z y + log(1 + exp(-|z|))) / N, labels 0/1",
                   "dL/dz = (sigmoid(z) - y) / N, with a sigmoid that cannot overflow"),
    "cross-entropy": ("cross-entropy is -sum_n log softmax(z_n)[y_n] / B, log-softmax shifted by the largest logit",
                      "dL/dz = (softmax(z) - onehot(y)) / B, softmax shifted by the largest logit"),
}


def tolerance_ratio(manual_value, torch_value, dtype, extra=0.0):
    r"""``|manual - torch| / (atol + rtol |torch| + extra)`` element by element, with ``TOLERANCES[dtype]``:
    the two agree where it is <= 1 (a NaN is never <= 1)."""
    tol = TOLERANCES[dtype]
    return np.abs(manual_value - torch_value) / (tol["atol"] + tol["rtol"] * np.abs(torch_value) + extra)


def update_tolerance(config, before, after):
    r"""What an update adds to the tolerance of the weights after it. The step ``after - before`` is made
    from the gradient, so it carries the gradient's relative rounding, and ``lr`` multiplies the
    gradient's absolute tolerance: ``rtol |after - before| + lr atol`` (docs/agreement.md)."""
    tol = TOLERANCES[config.dtype]
    return tol["rtol"] * np.abs(after - before) + config.lr * tol["atol"]


INITS = ("xavier", "torch-default", "playground", "zero")   # the last two: Playground's, and its initZero


def read_only(array):
    r"""A private read-only copy for the manual side: a step that writes into its input fails loudly."""
    array = np.array(array)
    array.setflags(write=False)
    return array


def sizes(config):
    return (len(config.features), *config.hidden, out_features(config))


def out_features(config):
    return manual.train.LOSSES[config.loss][2]


def run_data(config):
    r"""``X_train, y_train, X_valid, y_valid`` of the run, in its dtype, the labels as ``config.loss``
    takes them (``manual.train.labels``): with ``config.exact``, Playground's own points for the URL's seed."""
    data = (exact.replay(config, sizes(config))[0] if config.exact else
            load_data(config.dataset, config.noise, config.train_ratio, config.seed, config.features))
    X_train, y_train, X_valid, y_valid = (a.astype(DTYPES[config.dtype][0]) for a in data)
    return X_train, manual.train.labels(y_train, config.loss), X_valid, manual.train.labels(y_valid, config.loss)


def start(config, weights=None):
    r"""The run's two models with its initial weights (with ``config.exact``, Playground's own), and the
    generator that goes on to draw each epoch's order (``epoch_batches``): the lockstep run and
    ``trace.step_start`` draw in this one order."""
    rng = np.random.default_rng(config.seed)
    if config.exact and weights is None:
        weights = exact.replay(config, sizes(config))[1]
    return make_pair(config, rng, weights), rng


def epoch_batches(config, rng, n, epoch):
    r"""Epoch ``epoch``'s batches: index arrays into the ``n`` training points, in a fresh order from
    ``rng``, or with ``config.exact`` in Playground's fixed order and its rule for a partial batch."""
    if config.exact:
        return exact.epoch_batches(config.exact[0], n, config.batch_size, epoch)
    order = rng.permutation(n)
    return [order[start:start + config.batch_size] for start in range(0, n, config.batch_size)]


def to_torch(state_dict):
    r"""Copy a NumPy state dict into new tensors (``torch.from_numpy`` would share memory)."""
    return {name: torch.tensor(value) for name, value in state_dict.items()}


def make_pair(config, rng, weights=None):
    r"""Build the manual and the torch model with identical initial weights.

    The weights come from ``weights`` (a state dict of arrays) if given, else from ``rng`` with
    ``config.init``: ``"xavier"`` (the article's ``init_parameters``), ``"torch-default"``
    (what ``nn.Linear`` draws), ``"playground"`` or ``"zero"`` (Playground's, and its
    ``initZero``). A bad ``weights`` dict raises ``ValueError`` naming the key.
    """
    np_dtype, torch_dtype = DTYPES[config.dtype]
    architecture = (config.hidden, config.activations, config.output_activation)
    shape = dict(in_features=len(config.features), out_features=out_features(config))
    manual_model = manual.NeuralNetwork(*architecture, dtype=np_dtype, rng=rng, **shape)
    if config.init == "xavier":
        manual.init_parameters(manual_model, rng)
    elif config.init in ("playground", "zero"):
        manual.playground.init_parameters(manual_model, rng, zero=config.init == "zero")
    if weights is not None:
        manual_model.load_state_dict(weights)
    torch_model = torch_impl.NeuralNetwork(*architecture, dtype=torch_dtype, **shape)
    # from the given weights themselves, so that a manual load_state_dict that loads nothing shows
    source = manual_model.state_dict() if weights is None else weights
    with torch.no_grad():
        for name, q in torch_model.named_parameters():
            q.copy_(torch.as_tensor(np.asarray(source[name])))
    return manual_model, torch_model


def check_weights(config, weights, source):
    r"""Raise ``ValueError`` naming ``source`` and the key unless ``weights`` fit ``config``'s network.

    Besides the model's own key and shape checks: every value must be a real number that stays
    finite in ``config.dtype``.
    """
    np_dtype = DTYPES[config.dtype][0]
    model = manual.NeuralNetwork(config.hidden, config.activations, config.output_activation, dtype=np_dtype,
                                 in_features=len(config.features), out_features=out_features(config))
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


OPTIMIZERS = {"sgd": (manual.SGD, torch.optim.SGD), "adam": (manual.Adam, torch.optim.Adam),
              "adamw": (manual.AdamW, torch.optim.AdamW)}


def optimizer_options(config):
    r"""The keyword arguments of the optimizer ``config`` asks for: torch's signature, shared by both sides."""
    if config.rules == "playground":
        return {"lr": config.lr, "regularization": config.regularization,
                "regularization_rate": config.regularization_rate}
    if config.optimizer == "sgd":
        return {"lr": config.lr, "momentum": config.momentum, "weight_decay": config.weight_decay,
                "nesterov": config.nesterov}
    return {"lr": config.lr, "betas": config.betas, "eps": config.eps, "weight_decay": config.weight_decay,
            "amsgrad": config.amsgrad}


def weights_and_biases(model):
    r"""Playground's parameter groups: the weights regularised, the biases never."""
    parameters = list(model.named_parameters())
    return [{"params": [p for name, p in parameters if name.endswith(".weight")]},
            {"params": [p for name, p in parameters if name.endswith(".bias")], "regularization": "none"}]


def make_optimizers(config, manual_model, torch_model):
    r"""The same optimizer with the same hyper-parameters on both sides (``ValueError`` where torch refuses).

    Under ``config.rules == "playground"``: ``PlaygroundSGD`` on both sides, weights and biases in
    separate groups.
    """
    options = optimizer_options(config)
    if config.rules == "playground":
        return (manual.playground.PlaygroundSGD(weights_and_biases(manual_model), **options),
                torch_impl.playground.PlaygroundSGD(weights_and_biases(torch_model), **options))
    manual_class, torch_class = OPTIMIZERS[config.optimizer]
    return manual_class(manual_model.parameters(), **options), torch_class(torch_model.parameters(), **options)


def expected_settings(config, names):
    r"""What ``config`` asks each side's model and optimizer to hold (see ``held_settings``), for the
    hyper-parameters ``names``: those of torch's optimizer that are settings of the run."""
    layers = sizes(config)
    return {"layers": [[n_in, n_out, activation] for n_in, n_out, activation
                       in zip(layers, layers[1:], (*config.activations, config.output_activation), strict=False)],
            "dtype": config.dtype, "loss": type(make_criteria(config)[0]).__name__,
            **{name: getattr(config, name) for name in names}}


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


def make_criteria(config):
    r"""The loss ``config.loss`` on both sides, ``manual``'s and torch's (``manual.train.LOSSES``), but
    for ``mse`` under ``rules="playground"`` Playground's half of it."""
    if config.loss == "mse" and config.rules == "playground":
        return manual.playground.HalfMSELoss(), torch_impl.playground.HalfMSELoss()
    return manual.train.LOSSES[config.loss][0](), torch_impl.train.LOSSES[config.loss][0]()
