r"""The article's 2-3-3-1 network, MSE loss, backprop and its optimizers written out in pure NumPy.

Mirrors ``torch_impl`` name for name; never imports torch.
"""
from .data import DataLoader
from .layers import ACTIVATIONS, ELU, SELU, Identity, Linear, ReLU, Sigmoid, Softplus, Softsign, Tanh
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss
from .module import Module, Parameter
from .nn import Discretize, NeuralNetwork, discretize, init_parameters, predict
from .optim import SGD, Adam, AdamW, Optimizer
from .train import BATCH_SIZE, EPOCHS, LEARN_RATE, REGULAR, fit, train_step, valid_step

__all__ = ["ACTIVATIONS", "Adam", "AdamW", "BATCH_SIZE", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
           "DataLoader", "Discretize", "ELU", "EPOCHS", "Identity", "L1Loss", "LEARN_RATE", "Linear", "MSELoss",
           "Module", "NeuralNetwork", "Optimizer", "Parameter", "REGULAR", "ReLU", "SELU", "SGD", "Sigmoid", "Softplus",
           "Softsign", "Tanh", "discretize", "fit", "init_parameters", "predict", "train_step", "valid_step"]
