r"""Stochastic gradient descent with weight decay: what ``torch.optim.SGD`` does for ``torch_impl``."""


class SGD:
    r"""``torch.optim.SGD`` without momentum.

    For every parameter theta, biases included (the article passes ``model.parameters()``):

    .. math:: g = \partial L/\partial\theta + \lambda\,\theta, \qquad \theta \leftarrow \theta - \eta\, g

    with learning rate eta = ``lr`` and weight decay lambda = ``weight_decay`` (L2 regularisation
    of ``lambda/2 * theta**2`` folded into the gradient).
    """

    def __init__(self, params, lr, weight_decay=0.0):
        self.params = list(params)
        self.lr = lr
        self.weight_decay = weight_decay

    def zero_grad(self):
        r"""Forget the gradients (torch's default ``set_to_none=True``)."""
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay != 0:
                g = g + self.weight_decay * p.data  # g = dL/dtheta + lambda theta
            p.data -= self.lr * g                   # theta <- theta - eta g, in place
