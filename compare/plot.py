r"""One PNG that shows a lockstep run: loss curves, gradient differences, decision boundaries.

Drawn on a bare ``matplotlib.figure.Figure`` (Agg canvas): no display is needed or opened.
"""
import numpy as np
import plygdata as pg
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .report import SIDES, describe


class Predictor:
    r"""The Keras-style ``predict(x, batch_size, verbose)`` that ``plygdata``'s drawing helpers call."""

    def __init__(self, forward):
        self.forward = forward

    def predict(self, x, batch_size=None, verbose=0):
        return self.forward(x)


def predictors(result):
    dtype = result.data[0].dtype
    manual_model, torch_model = result.models

    def torch_forward(x):
        with torch.no_grad():
            return torch_model(torch.from_numpy(x.astype(dtype))).numpy()

    return Predictor(lambda x: manual_model(x.astype(dtype))), Predictor(torch_forward)


def make_figure(result):
    r"""Return the figure: loss curves | per-step gradient differences / both decision boundaries."""
    fig = Figure(figsize=(12, 11), dpi=100, layout="constrained")
    fig.suptitle(describe(result.config), fontsize=10)
    ax_loss, ax_grad, ax_manual, ax_torch = fig.subplots(2, 2).ravel()

    for side, style in (("manual", "-"), ("torch", "--")):
        history = result.history[side]
        epochs = [h["epoch"] for h in history]
        for key, label, color in (("loss", "training", "tab:blue"), ("val_loss", "validation", "tab:orange")):
            ax_loss.plot(epochs, [h[key] for h in history], style, color=color, label=f"{label} loss ({side})")
    ax_loss.set(xlabel="epoch", ylabel="MSE loss", title="Loss curves (the lines overlap when the two agree)")
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.legend(loc="best")
    ax_loss.grid()

    diffs = np.asarray(result.step_grad_diffs).reshape(-1, len(result.parameter_names))
    steps = np.arange(1, len(diffs) + 1)
    layers = [name.split(".")[0] for name in result.parameter_names]   # layer1.weight -> layer1
    for layer in dict.fromkeys(layers):
        layer_diff = diffs[:, [i for i, name in enumerate(layers) if name == layer]].max(axis=1)
        # a log axis has no 0: steps where the two gradients are bit-identical leave a gap
        ax_grad.plot(steps, np.where(layer_diff > 0, layer_diff, np.nan), lw=0.7, label=f"{layer} (weight, bias)")
    atol, rtol = result.checks["gradients"]["atol"], result.checks["gradients"]["rtol"]
    ax_grad.axhline(atol, color="black", ls=":", label=f"atol {atol:g} (plus rtol {rtol:g} |g|)")
    ax_grad.set_yscale("log")
    ax_grad.set(xlabel="training step", ylabel="max |g_manual - g_torch|",
                title="Largest gradient difference per layer, every step")
    ax_grad.legend(loc="best", fontsize=8)
    ax_grad.grid(which="major")

    X_train, y_train, X_valid, y_valid = result.data
    for ax, side, predictor in zip((ax_manual, ax_torch), SIDES, predictors(result)):
        ax.set_facecolor("#e8eaeb")
        ax.set(xlim=(-6, 6), ylim=(-6, 6), aspect="equal", title=f"Decision boundary: {SIDES[side]}")
        pg.draw_decision_boundary(fig, ax, trained_model=predictor)
        pg.plot_points(ax, X_train, y_train, X_valid, y_valid)
    return fig
