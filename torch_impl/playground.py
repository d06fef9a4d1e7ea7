r"""TensorFlow Playground's training rules in PyTorch: its loss and its update as an optimizer.

The loss is half the mean squared error. The update (``updateWeights`` in Playground's
``src/nn.ts``) is plain SGD followed by a penalty on the weights only, taken at the weight before
the step; with L1 a weight pushed across 0 is set to 0 for good. Biases go in a parameter group
with ``regularization="none"``. ``weight_decay`` cannot express this: it adds
``lambda theta`` to every parameter's gradient, biases included, before the step.
"""
import torch
import torch.nn as nn


class HalfMSELoss(nn.Module):
    r"""``L = 0.5 * mean((y_pred - y)**2)``: Playground's ``0.5 (output - target)^2`` per point."""

    def forward(self, y_pred, y):
        return 0.5 * ((y_pred - y) ** 2).mean()


class PlaygroundSGD(torch.optim.Optimizer):
    r"""SGD step, then ``theta -= lr * regularization_rate * R'(theta before the step)``.

    ``regularization`` is ``"none"``, ``"L1"`` (``R' = sign(theta)``: -1, +1, and 0 at 0) or ``"L2"``
    (``R' = theta``), per parameter group. With L1, ``state[p]["dead"]`` marks the weights that
    crossed 0; they stay 0.
    """

    def __init__(self, params, lr, regularization="none", regularization_rate=0.0):
        if regularization_rate < 0:
            raise ValueError(f"Invalid regularization_rate: {regularization_rate!r}")
        super().__init__(params, dict(lr=lr, regularization=regularization,
                                      regularization_rate=regularization_rate))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, rate = group["lr"], group["regularization_rate"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                before = p                              # read before the one write below
                stepped = before - lr * p.grad
                if group["regularization"] == "L2":
                    p.copy_(stepped - lr * rate * before)
                elif group["regularization"] == "L1":
                    updated = stepped - lr * rate * torch.sign(before)
                    dead = self.state[p].setdefault("dead", torch.zeros_like(p, dtype=torch.bool))
                    dead |= stepped * updated < 0
                    p.copy_(updated.masked_fill(dead, 0))
                else:
                    p.copy_(stepped)
