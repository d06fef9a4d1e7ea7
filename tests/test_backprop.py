"""Start here: the article's network, one forward and backward pass by hand, checked against autograd.

The same weights go into ``manual`` (NumPy, every derivative written out) and ``torch_impl``
(PyTorch); one batch goes through both. Each gradient and the SGD update must equal torch's, in
float64, to ``torch.testing.assert_close``'s default tolerance.
"""
import numpy as np
import torch
from torch.testing import assert_close

import manual
import torch_impl


def test_one_backward_pass_and_sgd_step_equal_autograds():
    rng = np.random.default_rng(0)
    model = manual.NeuralNetwork(dtype=np.float64, rng=rng)          # 2-3-3-1: tanh, sigmoid, tanh
    manual.init_parameters(model, rng)                               # the article's xavier init
    twin = torch_impl.NeuralNetwork(dtype=torch.float64)
    twin.load_state_dict({name: torch.tensor(value) for name, value in model.state_dict().items()})

    X = rng.uniform(-6, 6, (15, 2))                                  # a batch of the article's size
    y = np.where(np.hypot(X[:, :1], X[:, 1:]) < 2.5, 1.0, -1.0)      # the circle's labels, (15, 1)

    criterion = manual.MSELoss()                                     # by hand: forward, loss, backward
    loss = criterion(model(X), y)
    model.backward(criterion.backward())

    t_loss = torch.nn.MSELoss()(twin(torch.tensor(X)), torch.tensor(y))   # by autograd
    t_loss.backward()

    assert_close(torch.tensor(loss, dtype=torch.float64), t_loss.detach())
    gradients = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        assert_close(torch.tensor(p.grad), gradients[name].grad, msg=f"dL/d{name}")

    manual.SGD(model.parameters(), lr=0.03, weight_decay=0.03).step()            # the article's optimizer
    torch.optim.SGD(twin.parameters(), lr=0.03, weight_decay=0.03).step()
    for name, p in model.named_parameters():
        assert_close(torch.tensor(p.data), gradients[name].detach(), msg=f"{name} after the update")
