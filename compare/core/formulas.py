r"""Every formula and hint the tools print, written once.

Each activation's ``a = f(z)`` and ``dL/dz``, each loss's ``L`` and ``dL/dy_pred``, what a first
difference at each quantity of a step most likely means, and what each node of autograd's graph
does, beside the manual method that does the same job. The formulas are templates: ``{z}``, ``{a}``,
``{da}``, ``{p}`` (y_pred) and ``{y}`` take names (``z2[0]``) or numbers (``(0.25)``).
"""

# a = f(z), and dL/dz = dL/da f'(z) as manual's backward computes it (f' in a where a is at hand)
ACTIVATIONS = {
    "tanh": ("tanh({z})", "{da} * (1 - {a}^2)"),
    "sigmoid": ("1 / (1 + exp(-{z}))", "{da} * {a} * (1 - {a})"),
    "relu": ("max({z}, 0)", "{da} * [{z} > 0]"),
    "linear": ("{z}", "{da}"),
    "elu": ("{z} if {z} > 0 else exp({z}) - 1", "{da} * (1 if {z} > 0 else exp({z}))"),
    "selu": ("1.0507 ({z} if {z} > 0 else 1.6733 (exp({z}) - 1))", "{da} * 1.0507 (1 if {z} > 0 else 1.6733 exp({z}))"),
    "softplus": ("log(1 + exp({z}))", "{da} / (1 + exp(-{z}))"),
    "softsign": ("{z} / (1 + |{z}|)", "{da} / (1 + |{z}|)^2"),
}

# Per loss: L; one example's term of the sum; an element of dL/dy_pred; what to watch for
LOSSES = {
    "mse": ("sum((y_pred - y)^2) / N", "({p} - {y})^2", "2 ({p} - {y}) / N",
            "no 1/2 (Playground's 1/2-MSE gives half the gradient), labels of shape (N, 1)"),
    "l1": ("sum(|y_pred - y|) / N", "|{p} - {y}|", "sign({p} - {y}) / N", "sign is 0 where they are equal"),
    "bce": ("-sum(y log p + (1 - y) log(1 - p)) / N", "-({y} log {p} + (1 - {y}) log(1 - {p}))",
            "({p} - {y}) / ({p} (1 - {p})) / N",
            "p is the sigmoid output and y 0/1; each log clamped at -100, p (1 - p) at 1e-12"),
    "bce-logits": ("sum(max(z, 0) - z y + log(1 + exp(-|z|))) / N", "max({p}, 0) - {p} {y} + log(1 + exp(-|{p}|))",
                   "(sigmoid({p}) - {y}) / N", "z is a logit and y 0/1; a sigmoid that cannot overflow"),
    "cross-entropy": ("-sum_n log softmax(z_n)[y_n] / N", "-log softmax({p})[{y}]",
                      "(softmax({p}) - onehot({y})) / N", "logits (N, 2), class indices; softmax shifted by the "
                      "largest logit"),
}


def activation(name, z="z", a="a", da="dL/da"):
    r"""``(a = f(z), dL/dz)`` of activation ``name``, with these names or numbers put in."""
    forward, backward = ACTIVATIONS.get(name, (f"{name}({{z}})", f"{{da}} * {name}'({{z}})"))   # one you added
    return forward.format(z=z), backward.format(z=z, a=a, da=da)


def loss_gradient(name, p="y_pred", y="y"):
    return LOSSES[name][2].format(p=p, y=y)


def loss_hints(name):
    r"""What a first difference at ``loss`` and at ``dL/dy_pred`` points to, for loss ``name``."""
    value, _, _, watch = LOSSES[name]
    return f"the loss: L = {value} ({watch})", f"the loss gradient: dL/dy_pred = {loss_gradient(name)} ({watch})"



def diverged(config, update):
    r"""Why both sides reached a NaN or an infinity from finite weights (in the optimizer's ``update`` or
    before it), named by the option that controls it."""
    if update and config.optimizer in ("adam", "adamw") and config.eps == 0:
        return ("Adam divides by sqrt(v) + eps, and with --eps 0 a gradient that has been exactly 0 gives 0 / 0: "
                "give --eps > 0 (torch's default is 1e-8)")
    if config.optimizer == "sgd" and config.momentum >= 1:
        return (f"both sides overflowed: with --momentum {config.momentum:g}, 1 or more, each step adds up every "
                "earlier one undiminished; take a --momentum below 1")
    # a decay w -= lr rate w alone overshoots, flipping and growing w, once lr rate > 2
    rates = ["--lr"] + [f"--{name.replace('_', '-')}" for name in ("weight_decay", "regularization_rate")
                        if config.lr * getattr(config, name) > 2]
    return f"both sides overflowed to NaN or infinity: training diverged here, try a smaller {' or '.join(rates)}"


PLAYGROUND_UPDATE = ("Playground's update: W - lr dL/dW, then minus lr * --regularization-rate * R'(W) at the weight "
                     "before the step (R' = sign(W) for L1, W for L2), weights only, never biases; with L1 a weight "
                     "the penalty pushes across 0 is set to 0 for good (docs/playground.md)")

# What a first difference at each kind of quantity of one step most likely means.
QUANTITIES = {
    "x": "the input of a layer differs although the previous activation agrees: check the forward loop",
    "z": "the linear layer's forward pass: z = x W^T + b",
    "a": "the activation's forward pass: a = f(z)",
    "dL/da": "the gradient passed back from the next layer: dL/da = dL/dz_next W_next",
    "dL/dz": (f"the activation's derivative: dL/dz = dL/da f'(z), e.g. {activation('tanh')[1]} for tanh, "
              f"{activation('sigmoid')[1]} for sigmoid"),
    "dL/dW": "the weight gradient: dL/dW = dL/dz^T x",
    "dL/db": "the bias gradient: dL/db = dL/dz summed over the batch",
    "dL/dx": "the input gradient: dL/dx = dL/dz W",
    "new_W": "the optimizer's step on a weight: SGD is W - lr (dL/dW + weight_decay W); Adam as docs/optimizers.md",
    "new_b": "the optimizer's step on a bias, weight decay included (torch's optimizers decay every parameter)",
}

def explain(row, config):
    r"""What the first difference ``row`` of a step's trace under ``config`` most likely means."""
    if row.status(config.dtype) == "non-finite":
        return diverged(config, row.kind in ("new_W", "new_b"))
    if row.kind in ("loss", "dL/dy_pred"):
        return loss_hints(config.loss)[row.kind == "dL/dy_pred"]
    if row.kind in ("new_W", "new_b") and config.rules == "playground":
        return PLAYGROUND_UPDATE
    return QUANTITIES[row.kind]


def check_hint(check, config):
    r"""What a failed ``check`` points to when one forward-backward pass from the step's weights agrees."""
    if check == "weights after the update" and config.rules == "playground":
        return PLAYGROUND_UPDATE
    return CHECKS[check]


# When the trace of a failed step finds every quantity equal, the cause lies outside one
# forward-backward pass from the step's weights: what each check then points to.
CHECKS = {
    "gradients": "from the same weights and batch every layer's own backward agrees: look at what joins them, "
                 "the model's backward (NeuralNetwork.backward) and train_step (a gradient left over from an "
                 "earlier step: a missing zero_grad), or at a different batch (the data loaders)",
    "loss": "from the same weights and batch every layer's own forward and the loss agree: look at what joins "
            "them, the model's forward (NeuralNetwork.forward) and train_step, or at different batches (the data "
            "loaders: points paired with their own labels, in the shared order)",
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
    "initialisers": "a side's initialiser draws otherwise than torch.nn.init defines (xavier: U(+-sqrt(6 / (fan_in + "
                    "fan_out))), biases 0; nn.Linear's default: U(+-1 / sqrt(fan_in)) for both; Playground: "
                    "U(-0.5, 0.5), biases 0.1); the run itself loads one set of weights into both sides",
    "loaders": "a side's training loader, built with batch_size and shuffle=True, must give every point once an "
               "epoch with its own label, batches of batch_size and a last one of the rest, and a new order every "
               "epoch (torch.utils.data.DataLoader); the run itself drives both with one batch order",
    "exception": "the side named raised an exception; the message says where",
    "settings": "an option did not reach a side's model or optimizer as asked: check where both are built "
                "(compare/core/pair.py: Pair)",
    "step outputs": "a step returns (loss, correct) as Python numbers (loss.item(), int(correct)) and leaves every "
                    "parameter, gradient and optimizer state entry with its parameter's shape; the detail says "
                    "what was missing or misshapen",
}

# Each node of autograd's graph: the manual method doing its job, and the job.
GRAD_FNS = {
    "MseLossBackward0": ("manual.MSELoss.backward", f"dL/dy_pred = {loss_gradient('mse')}"),
    "MeanBackward0": ("manual.L1Loss.backward", "the mean's 1 / N"),
    "AbsBackward0": ("manual.L1Loss.backward", "the derivative of |d|: sign(d), 0 at 0"),
    "SubBackward0": ("manual.L1Loss.backward", "d = y_pred - y: passed on to y_pred unchanged"),
    "BinaryCrossEntropyBackward0": ("manual.BCELoss.backward", f"dL/dp = {loss_gradient('bce', p='p')}"),
    "BinaryCrossEntropyWithLogitsBackward0": ("manual.BCEWithLogitsLoss.backward",
                                              f"dL/dz = {loss_gradient('bce-logits', p='z')}"),
    "NllLossBackward0": ("manual.CrossEntropyLoss.backward", "-log_softmax[y] / N: -1 / N at the target's class"),
    "LogSoftmaxBackward0": ("manual.CrossEntropyLoss.backward",
                            f"with the above: dL/dz = {loss_gradient('cross-entropy', p='z')}"),
    **{f"{node}Backward0": (f"manual.layers.{layer}.backward", f"dL/dz = {activation(name)[1]}")
       for node, layer, name in (("Tanh", "Tanh", "tanh"), ("Sigmoid", "Sigmoid", "sigmoid"), ("Relu", "ReLU", "relu"),
                                 ("Softplus", "Softplus", "softplus"))},
    "EluBackward0": ("manual.layers.ELU.backward (SELU's too)", f"dL/dz = {activation('elu')[1]}, scaled for SELU"),
    "AddmmBackward0": ("manual.layers.Linear.backward", "z = b + x W^T: dx = dz W, dW = dz^T x, db = sum dz"),
    "TBackward0": ("manual.layers.Linear.backward", "the W^T of z = x W^T + b: transposes dW back to W's shape"),
    "AccumulateGrad": ("manual.Parameter.accumulate_grad", "p.grad += the gradient"),
}
