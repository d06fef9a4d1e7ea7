"""The article's PyTorch code, transcribed with its globals (comments translated, logic unchanged).

Kept only as a reference for tests: the article's own training code, fed the same initial weights
and the same batches, must give the same per-step losses and final weights as ``manual``.
Set ``model``, ``criterion`` and ``optimizer`` at module level before calling ``train_step``.
"""
import torch
import torch.nn as nn

INPUT_FEATURES = 2        # input layer neurons
LAYER1_NEURONS = 3        # hidden layer 1 neurons
LAYER2_NEURONS = 3        # hidden layer 2 neurons
OUTPUT_RESULTS = 1        # output layer neurons

activation1 = torch.nn.Tanh()     # hidden layer activation: tanh (changeable)
activation2 = torch.nn.Sigmoid()  # hidden layer activation: sigmoid (changeable)
acti_out = torch.nn.Tanh()        # output activation: tanh (fixed)

model = criterion = optimizer = None


def discretize(proba):
    threshold = torch.Tensor([0.0])
    discretized = (proba >= threshold).float()
    return discretized * 2 - 1.0


class NeuralNetwork(nn.Module):
    def __init__(self):
        super(NeuralNetwork, self).__init__()  # noqa: UP008  (the article writes it so)
        self.layer1 = nn.Linear(INPUT_FEATURES, LAYER1_NEURONS)
        self.layer2 = nn.Linear(LAYER1_NEURONS, LAYER2_NEURONS)
        self.layer_out = nn.Linear(LAYER2_NEURONS, OUTPUT_RESULTS)

    def forward(self, x):
        x = activation1(self.layer1(x))
        x = activation2(self.layer2(x))
        x = acti_out(self.layer_out(x))
        return x


def train_step(train_X, train_y):
    model.train()
    pred_y = model(train_X)
    optimizer.zero_grad()
    loss = criterion(pred_y, train_y)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        disc_y = discretize(pred_y)
        acc = (disc_y == train_y).sum()
    return (loss.item(), acc.item())
