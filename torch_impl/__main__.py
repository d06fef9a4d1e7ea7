r"""``python -m torch_impl``: the article's script, run with the PyTorch implementation alone.

Generates the Playground data with ``plygdata``, builds the network, initialises it as the article
does (xavier-uniform weights, zero biases), and trains it with SGD, printing the article's line
after every epoch. ``python -m manual`` is the same script in NumPy:
``diff manual/__main__.py torch_impl/__main__.py`` shows only what the framework changes.

The two draw their initial weights and batch orders from different generators (NumPy's in
``python -m manual``, torch's in ``python -m torch_impl``), so even with the same ``--seed`` their
numbers differ. ``python -m compare`` starts both from ``python -m manual``'s weights and batches:
in float64 its epoch lines are exactly ``python -m manual``'s for the same seed (in float32 the
last digit of the validation loss can differ: compare validates all points at once, not in batches).

Exit status: 0, or 2 for bad input (one line ``error: ...``).
"""
import argparse
import os
import random
import sys
import tempfile

import numpy as np
import plygdata as pg
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch.utils.data import DataLoader, TensorDataset

from . import ACTIVATIONS, BATCH_SIZE, EPOCHS, LEARN_RATE, REGULAR, NeuralNetwork, fit, init_parameters
from .train import LIMITS, LOSSES, check_settings, labels, listed, score

DATASETS = {"circle": pg.DatasetType.ClassifyCircleData, "xor": pg.DatasetType.ClassifyXORData,
            "gauss": pg.DatasetType.ClassifyTwoGaussData, "spiral": pg.DatasetType.ClassifySpiralData}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class Parser(argparse.ArgumentParser):
    r"""argparse, but a usage error is one line, ``error: ...``, and exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {message}\n")


def parse_args(argv):
    parser = Parser(prog=f"python -m {__package__}", description=__doc__.split("\n\n")[0].replace("``", ""),
                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="training epochs")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="mini-batch size")
    parser.add_argument("--lr", type=float, default=LEARN_RATE, help="learning rate")
    parser.add_argument("--weight-decay", type=float, default=REGULAR, help="weight decay (L2 rate), biases included")
    parser.add_argument("--dataset", choices=DATASETS, default="circle", help="Playground data set")
    parser.add_argument("--noise", type=float, default=0.0, help="Playground noise level")
    parser.add_argument("--train-ratio", type=float, default=0.5, help="share of the points used for training")
    parser.add_argument("--hidden", type=listed(int), default="3,3", help='neurons per hidden layer; "" for none')
    parser.add_argument("--activations", type=listed(str), default="tanh,sigmoid",
                        help=f"one activation per hidden layer, from {', '.join(ACTIVATIONS)}")
    parser.add_argument("--loss", choices=LOSSES, default="mse", help="the loss; the output layer and labels "
                        "follow it: mse or l1, a tanh output and +1/-1 labels; bce, a sigmoid output and 0/1 labels; "
                        "bce-logits, a linear output (a logit) and 0/1 labels; cross-entropy, two linear outputs "
                        "(logits) and class indices 0/1 (docs/losses.md)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="floating-point type of the network")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data, the initial weights and the batch order")
    parser.add_argument("--plot", metavar="PATH", help="write the loss curves and the decision boundary as PNG")
    args = parser.parse_args(argv)
    try:
        check_settings({name: getattr(args, name) for name in LIMITS}, args.dtype)
        if args.plot:                        # before training: can the figure be written there?
            if os.path.exists(args.plot):
                open(args.plot, "ab").close()
            else:
                tempfile.TemporaryFile(dir=os.path.dirname(os.path.abspath(args.plot))).close()
    except ValueError as exc:
        parser.error(str(exc))
    except OSError as exc:
        parser.error(f"--plot {args.plot}: {exc.strerror}")
    return parser, args


class Predictor:
    r"""The Keras-style ``predict`` that ``plygdata``'s ``draw_decision_boundary`` calls."""

    def __init__(self, model, dtype, loss):
        self.model, self.dtype, self.loss = model, dtype, loss

    def predict(self, x, batch_size=None, verbose=0):
        with torch.no_grad():
            return score(self.model(torch.as_tensor(x, dtype=self.dtype)), self.loss).numpy()


def plot(path, history, predictor, X_train, y_train, X_valid, y_valid):
    r"""The article's two pictures side by side: loss curves, and the decision boundary with the points."""
    fig = Figure(figsize=(12, 5.5), dpi=100, layout="constrained")
    ax_loss, ax_boundary = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    ax_loss.plot(epochs, [h["loss"] for h in history], label="training loss")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], label="validation loss")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss curves")
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.legend()
    ax_loss.grid()
    ax_boundary.set(xlim=(-6, 6), ylim=(-6, 6), aspect="equal", title="Decision boundary")
    pg.draw_decision_boundary(fig, ax_boundary, trained_model=predictor)
    for X, y, edge in ((X_train, y_train, "white"), (X_valid, y_valid, "#555555")):   # pg.plot_points' look,
        colors = [pg.DataColor.get_rgb(float(label)) for label in y[:, 0]]            # in one scatter per set
        ax_boundary.scatter(X[:, 0], X[:, 1], s=20, c=colors, alpha=0.9, linewidths=0.7, edgecolors=edge)
    save(fig, path)


def save(fig, path):
    r"""Write the figure whole or not at all: a regular file through a temporary file beside it, renamed
    onto it at the end; a device such as /dev/null directly."""
    if os.path.exists(path) and not os.path.isfile(path):
        fig.savefig(path, format="png")
        return
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".png")
    try:
        with os.fdopen(descriptor, "wb") as file:
            fig.savefig(file, format="png")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)          # as open() would have made it
        os.replace(temporary, path)
    except BaseException:                            # an error or Ctrl-C: no half-written figure left
        os.unlink(temporary)
        raise


def main(argv=None):
    parser, args = parse_args(argv)
    random.seed(args.seed)                              # plygdata draws from Python's random ...
    np.random.seed(args.seed)                           # ... and from NumPy's global generator
    data_list = pg.generate_data(DATASETS[args.dataset], args.noise)
    X_train, y_train, X_valid, y_valid = pg.split_data(data_list, training_size=args.train_ratio)
    if len(X_train) == 0 or len(X_valid) == 0:
        parser.error(f"argument --train-ratio: {args.train_ratio} leaves no training or no validation point")
    dtype = DTYPES[args.dtype]
    t_X_train, t_y_train = torch.from_numpy(X_train).to(dtype), labels(torch.from_numpy(y_train).to(dtype), args.loss)
    t_X_valid, t_y_valid = torch.from_numpy(X_valid).to(dtype), labels(torch.from_numpy(y_valid).to(dtype), args.loss)

    torch.manual_seed(args.seed)                        # the initial weights, then the batch order
    Loss, output_activation, outputs = LOSSES[args.loss]     # the output layer follows the loss
    model = NeuralNetwork(args.hidden, args.activations, output_activation, dtype, out_features=outputs)
    model.apply(init_parameters)
    loader_train = DataLoader(TensorDataset(t_X_train, t_y_train), batch_size=args.batch_size, shuffle=True)
    loader_valid = DataLoader(TensorDataset(t_X_valid, t_y_valid), batch_size=args.batch_size)
    criterion = Loss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    history = fit(model, optimizer, criterion, loader_train, loader_valid, args.epochs)
    if args.plot:
        try:
            plot(args.plot, history, Predictor(model, dtype, args.loss), X_train, y_train, X_valid, y_valid)
        except OSError as exc:
            parser.error(f"--plot {args.plot}: {exc.strerror}")
    return 0


if __name__ == "__main__":
    try:
        status = main()
        sys.stdout.flush()
    except OSError as exc:                   # standard output full or closed: one line, not a traceback
        print(f"error: standard output: {exc.strerror}", file=sys.stderr)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # so that the exit's flush cannot fail
        status = 2
    raise SystemExit(status)
