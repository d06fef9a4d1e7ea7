r"""SGD (with momentum and Nesterov), Adam and AdamW: what ``torch.optim`` provides to ``torch_impl``.

Each ``step`` is torch's documented algorithm, one equation a line, with torch's defaults, its
refusals (``ValueError``) and its per-parameter state in ``optimizer.state[p]``. Notation as in
torch's documentation: theta a parameter, g_t its gradient at step t, gamma the learning rate
``lr``, lambda the ``weight_decay``, mu the ``momentum``, tau the ``dampening``, beta1 and beta2
the ``betas``, epsilon the ``eps``. Every update is in place on ``p.data`` and keeps its dtype.
"""
from collections import defaultdict

import numpy as np


def check_range(name, value, below=None):
    r"""Refuse, as torch does, a ``value`` outside ``[0, below)`` (``[0, inf)`` by default): ``ValueError``."""
    if value < 0 or (below is not None and value >= below):
        allowed = f"0 <= {name} < {below}" if below is not None else f"{name} >= 0"
        raise ValueError(f"Invalid {name}: {value!r}; pass {allowed}")


class Optimizer:
    r"""What every optimizer shares, like ``torch.optim.Optimizer``.

    Attributes
    ----------
    params : list of Parameter
        The parameters to update, in the order given.
    state : defaultdict
        ``state[p]`` is a dict per parameter (momentum buffer, moments, step count), created when
        a step first needs it, as in torch.
    """

    def __init__(self, params, lr, weight_decay):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list; pass model.parameters()")
        check_range("lr", lr)
        check_range("weight_decay", weight_decay)
        self.lr = float(lr)                     # Python floats: a float32 p.data stays float32
        self.weight_decay = float(weight_decay)
        self.state = defaultdict(dict)

    def zero_grad(self):
        r"""Forget the gradients (torch's default ``set_to_none=True``)."""
        for p in self.params:
            p.grad = None

    def parameters_with_grad(self):
        r"""The parameters a step updates: as in torch, one whose ``grad`` is None is skipped."""
        return [p for p in self.params if p.grad is not None]

    def apply_weight_decay(self, p):
        r"""Weight decay as an L2 penalty (SGD, Adam): return ``g_t = dL/dtheta + lambda theta``.

        The penalty ``lambda/2 * theta**2`` enters through the gradient, so with Adam it is also
        averaged into the moments and divided by ``sqrt(v)``. ``AdamW`` overrides this.
        """
        grad = array_of(p.grad)
        if self.weight_decay != 0:
            return grad + self.weight_decay * p.data        # g_t = g_t + lambda theta_{t-1}
        return grad


class SGD(Optimizer):
    r"""``torch.optim.SGD``: stochastic gradient descent, optionally with (Nesterov) momentum.

    For every parameter theta with a gradient, biases included (the article passes
    ``model.parameters()``):

    $$
    \begin{aligned}
    g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda \theta_{t-1} \\
    b_t &= g_t \text{ if } t = 1 \text{ else } \mu b_{t-1} + (1 - \tau) g_t \quad (\mu \ne 0) \\
    g_t &= g_t + \mu b_t \text{ (nesterov) or } b_t \quad (\mu \ne 0) \\
    \theta_t &= \theta_{t-1} - \gamma g_t
    \end{aligned}
    $$

    The momentum buffer ``b`` is ``state[p]["momentum_buffer"]``; with ``momentum=0`` there is no
    state. Unlike torch, ``lr`` has no default here: the article always sets it.
    """

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, lr, weight_decay)
        check_range("momentum", momentum)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening; "
                             "pass momentum > 0 and dampening=0, or nesterov=False")
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.nesterov = nesterov

    def step(self):
        r"""One SGD step for every parameter that has a gradient."""
        mu, tau = self.momentum, self.dampening
        for p in self.parameters_with_grad():
            g = self.apply_weight_decay(p)                      # g_t = g_t + lambda theta_{t-1}
            if mu != 0:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    b = g.copy()                                # b_1 = g_1 (a copy, as torch clones)
                else:
                    b = mu * state["momentum_buffer"] + (1 - tau) * g   # b_t = mu b_{t-1} + (1 - tau) g_t
                state["momentum_buffer"] = b
                if self.nesterov:
                    g = g + mu * b                              # g_t = g_t + mu b_t
                else:
                    g = b                                       # g_t = b_t
            p.data -= self.lr * g                               # theta_t = theta_{t-1} - gamma g_t, in place


class Adam(Optimizer):
    r"""``torch.optim.Adam``, weight decay as an L2 penalty in the gradient.

    For every parameter theta with a gradient, t counting that parameter's steps:

    $$
    \begin{aligned}
    g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda \theta_{t-1} \\
    m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
    v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
    \hat m_t &= m_t / (1 - \beta_1^t) \\
    v_t^{max} &= \max(v_{t-1}^{max}, v_t) \text{ (amsgrad only)} \\
    \hat v_t &= v_t / (1 - \beta_2^t) \text{ (} v_t^{max} \text{ in place of } v_t \text{ with amsgrad)} \\
    \theta_t &= \theta_{t-1} - \gamma \hat m_t / (\sqrt{\hat v_t} + \epsilon)
    \end{aligned}
    $$

    starting from ``m_0 = v_0 = v_0^max = 0``. State: ``state[p]["step"]`` (t; torch keeps it as a
    0-d float tensor, here a Python int), ``"exp_avg"`` (m), ``"exp_avg_sq"`` (v) and, with
    ``amsgrad``, ``"max_exp_avg_sq"`` (v^max).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        super().__init__(params, lr, weight_decay)
        check_range("eps", eps)
        check_range("betas[0]", betas[0], below=1.0)
        check_range("betas[1]", betas[1], below=1.0)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.amsgrad = amsgrad

    def step(self):
        r"""One Adam step for every parameter that has a gradient."""
        beta1, beta2 = self.betas
        for p in self.parameters_with_grad():
            state = self.state[p]
            if not state:                                       # m_0 = v_0 = v_0^max = 0
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
                if self.amsgrad:
                    state["max_exp_avg_sq"] = np.zeros_like(p.data)
            state["step"] += 1
            t = state["step"]                                   # t: this parameter's step count
            g = self.apply_weight_decay(p)                      # g_t: Adam adds lambda theta, AdamW shrinks theta
            m = beta1 * state["exp_avg"] + (1 - beta1) * g      # m_t = beta1 m_{t-1} + (1 - beta1) g_t
            v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g**2   # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
            state["exp_avg"], state["exp_avg_sq"] = m, v
            m_hat = m / (1 - beta1**t)                          # m^_t = m_t / (1 - beta1^t)
            if self.amsgrad:
                v = np.maximum(state["max_exp_avg_sq"], v)      # v_t^max = max(v_{t-1}^max, v_t), used as v_t below
                state["max_exp_avg_sq"] = v
            v_hat = v / (1 - beta2**t)                          # v^_t = v_t / (1 - beta2^t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)   # theta_t = theta_{t-1}
                                                                      #           - gamma m^_t / (sqrt(v^_t) + eps)


class AdamW(Adam):
    r"""``torch.optim.AdamW``: Adam with decoupled weight decay (default ``weight_decay=1e-2``).

    The one difference from ``Adam``: the parameter itself shrinks before the Adam update,

    $$ \theta_t = \theta_{t-1} - \gamma \lambda \theta_{t-1} $$

    and the gradient is left alone, so lambda never enters m, v or the division by sqrt(v):
    every weight decays by the same factor ``1 - lr * weight_decay`` per step.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    def apply_weight_decay(self, p):
        r"""Decoupled weight decay: shrink theta in place; return the gradient unchanged."""
        if self.weight_decay != 0:
            p.data *= 1 - self.lr * self.weight_decay           # theta_t = theta_{t-1} (1 - gamma lambda), as torch
        return array_of(p.grad)                                 # g_t = dL/dtheta: no lambda in m_t, v_t


def array_of(grad):
    r"""A gradient as an array: manual's is one; autograd.py's ``Tensor`` is read without its graph (it has one after
    ``backward(create_graph=True)``), as torch's optimizers read ``p.grad`` under no_grad."""
    return np.asarray(grad.detach() if hasattr(grad, "detach") else grad)
