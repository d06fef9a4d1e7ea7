r"""The article's 2-3-3-1 network in idiomatic PyTorch: ``nn.Module``, ``DataLoader``, ``optim.SGD``.

Mirrors ``manual`` name for name; never imports it.
"""
from .nn import ACTIVATIONS, Discretize, NeuralNetwork, discretize, init_parameters, predict
from .train import BATCH_SIZE, EPOCHS, LEARN_RATE, REGULAR, fit, train_step, valid_step

__all__ = ["ACTIVATIONS", "BATCH_SIZE", "Discretize", "EPOCHS", "LEARN_RATE", "NeuralNetwork",
           "REGULAR", "discretize", "fit", "init_parameters", "predict", "train_step", "valid_step"]
