r"""TensorFlow Playground's training rules in NumPy: its loss, its initialisation, its update.

Playground (``src/nn.ts``) differs from the article's torch idioms in three places:

- the loss is half the squared error, ``L = sum((y_pred - y)**2) / (2N)``, so ``dL/dy_pred`` has
  no factor 2;
- regularisation applies to the weights only, never to the biases, and *after* the gradient step:
  ``theta' = theta - gamma g``, then ``theta_new = theta' - gamma lambda R'(theta)`` with
  ``R'`` taken at the weight before the step (``updateWeights``);
- with L1, a weight that the penalty pushes across 0 is set to 0 and its link is dead: it stays 0.

Its initialisation: weights ~ U(-0.5, 0.5) (``Math.random() - 0.5``), biases 0.1; with
``initZero`` both are 0.
"""
import numpy as np

from .layers import Linear
from .loss import MSELoss
from .optim import Optimizer, check_range

# R'(theta), the derivative of each penalty, taken at the weight before the step (nn.ts)
REGULARIZATIONS = {
    "none": lambda theta: np.zeros_like(theta),                        # R = 0
    "L1": np.sign,                               # R = |theta|: -1 below 0, +1 above, 0 at 0
                                                 # (nn.ts: w < 0 ? -1 : (w > 0 ? 1 : 0))
    "L2": lambda theta: theta,                                         # R = theta^2 / 2
}


class HalfMSELoss(MSELoss):
    r"""Playground's square error, ``L = sum((y_pred - y)**2) / (2N)``: half of ``MSELoss``.

    Playground sums ``0.5 (output - target)^2`` per example and divides the accumulated gradient by
    the batch size, which is the gradient of this mean. ``backward()`` returns
    ``dL/dy_pred = (y_pred - y) / N``: the 1/2 cancels the 2 of the square.

    Shapes: y_pred and y ``(B, 1)``.
    """

    def __call__(self, y_pred, y):
        mse = super().__call__(y_pred, y)           # sum((y_pred - y)^2) / N
        return 0.5 * mse                            # L = sum((y_pred - y)^2) / (2N)

    def backward(self):
        r"""Return ``dL/dy_pred = (y_pred - y) / N`` : (B, 1)."""
        return (self.y_pred - self.y) / self.n       # dL/dy_pred = (y_pred - y) / N


class PlaygroundSGD(Optimizer):
    r"""Playground's ``updateWeights``: a gradient step, then the penalty, for the weights only.

    ``param_groups`` is a list of ``{"params": [...], "regularization": ...}`` dicts, as torch's
    parameter groups; a group without ``"regularization"`` takes the constructor's. For every
    parameter theta with gradient g, lambda the ``regularization_rate``:

    $$
    \begin{aligned}
    \theta' &= \theta_{t-1} - \gamma g_t \\
    \theta_t &= \theta' - \gamma \lambda R'(\theta_{t-1}) \\
    \theta_t &= 0 \text{ and the link dead, if L1 and } \theta' \theta_t < 0
    \end{aligned}
    $$

    A dead link stays 0. With L1, ``state[p]["dead"]`` is a boolean array of ``p``'s shape.
    """

    def __init__(self, param_groups, lr, regularization="none", regularization_rate=0.0):
        self.param_groups = [{"regularization": regularization, **group} for group in param_groups]
        super().__init__([p for group in self.param_groups for p in group["params"]], lr, weight_decay=0)
        check_range("regularization_rate", regularization_rate)
        self.regularization_rate = float(regularization_rate)

    def step(self):
        r"""One Playground update for every parameter that has a gradient."""
        for group in self.param_groups:
            penalty_derivative = REGULARIZATIONS[group["regularization"]]
            for p in group["params"]:
                if p.grad is None:
                    continue
                theta = p.data                                         # theta_{t-1}
                stepped = theta - self.lr * p.grad                     # theta' = theta_{t-1} - gamma g_t
                penalty = self.lr * self.regularization_rate * penalty_derivative(theta)  # gamma lambda R'(theta_{t-1})
                updated = stepped - penalty                            # theta_t = theta' - gamma lambda R'(theta_{t-1})
                if group["regularization"] == "L1":
                    dead = self.state[p].setdefault("dead", np.zeros(theta.shape, dtype=bool))
                    dead |= stepped * updated < 0                      # the penalty pushed theta across 0
                    updated[dead] = 0                                  # theta_t = 0 on a dead link, for good
                p.data[...] = updated


def init_parameters(model, rng, zero=False):
    r"""Playground's initialisation: ``W ~ U(-0.5, 0.5)``, ``b = 0.1``; ``zero=True`` (``initZero``): all 0."""
    for layer in model.children():
        if isinstance(layer, Linear):
            shape = layer.weight.data.shape
            layer.weight.data[...] = 0 if zero else rng.uniform(-0.5, 0.5, shape)   # W = Math.random() - 0.5
            layer.bias.data[...] = 0 if zero else 0.1                               # b = 0.1
