r"""One PNG that shows a lockstep run: loss curves, gradient differences, both models over the plane.

Drawn on a bare ``matplotlib.figure.Figure`` (Agg canvas): no display is needed or opened.
"""
import numpy as np
import plygdata as pg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

from manual.train import score

from .core.data import REGRESSION
from .core.pair import outputs
from .report import SIDES, describe, side_names

GRID = np.linspace(-6, 6, 121)          # the plane the Playground draws, 0.1 apart


@np.errstate(over="ignore", invalid="ignore")      # a diverged model's outputs are NaN, drawn blank
def outputs_on_the_plane(result):
    r"""Both models' outputs on the grid of the plane, as ``manual.train.score`` maps them to [-1, 1]: two
    arrays of shape (len(GRID), len(GRID)), row 0 at the top (y = 6) as an image is drawn."""
    xx, yy = np.meshgrid(GRID, GRID[::-1])
    points = np.column_stack([xx.ravel(), yy.ravel()]).astype(result.data[0].dtype)
    manual_out, torch_out = outputs(result.models, points)
    loss = result.config.loss
    return score(manual_out, loss).reshape(xx.shape), score(torch_out, loss).reshape(xx.shape)


def draw_points(ax, X, y, loss, edgecolor):
    r"""The points in Playground's colours: blue for +1 (or class 1), orange for -1 (or class 0)."""
    signs = np.ravel(y) if loss in ("mse", "l1") else np.where(np.ravel(y) > 0, 1.0, -1.0)
    ax.scatter(X[:, 0], X[:, 1], s=16, c=[pg.DataColor.get_rgb(float(label)) for label in signs],
               edgecolors=edgecolor, linewidths=0.7, alpha=0.9)


STYLES = {"manual": "-", "torch": "--"}
CURVES = {"loss": ("training", "tab:blue"), "val_loss": ("validation", "tab:orange")}


def loss_curves(ax, result, label="{} loss ({})"):
    r"""Both sides' training and validation loss per epoch on ``ax``: the four lines, by (side, key)."""
    curves = {}
    for side, style in STYLES.items():
        history = result.history[side]
        for key, (name, color) in CURVES.items():
            curves[side, key], = ax.plot([h["epoch"] for h in history], [h[key] for h in history], style,
                                         color=color, label=label.format(name, side))
    ax.grid()
    return curves


def plane_panel(ax, plane, result, title, validation=True):
    r"""One model's output over the plane in Playground's colours, the training points (and the validation
    points, grey-edged) on it; returns the image."""
    cmap, norm = pg.DataColor.get_colormap()
    image = ax.imshow(plane, extent=(-6, 6, -6, 6), cmap=cmap, norm=norm, alpha=160 / 255, interpolation="bicubic")
    X_train, y_train, X_valid, y_valid = result.data
    draw_points(ax, X_train, y_train, result.config.loss, "white")
    if validation:
        draw_points(ax, X_valid, y_valid, result.config.loss, "#555555")
    ax.set(xlim=(-6, 6), ylim=(-6, 6), aspect="equal", title=title)
    return image


def gap_image(ax, gap, norm):
    r"""``|y_manual - y_torch|`` over the plane on a log colour scale, blank where it is 0 (bit-identical)."""
    return ax.imshow(np.where(gap > 0, gap, np.nan), extent=(-6, 6, -6, 6), cmap="viridis", norm=norm,
                     interpolation="nearest")


def make_figure(result):
    r"""Return the figure: loss curves and per-step gradient differences on top; below, each
    model's output over the plane with the data, and where the two outputs differ."""
    fig = Figure(figsize=(15, 10), dpi=100, layout="constrained")
    fig.suptitle(describe(result), fontsize=10)
    grid = fig.add_gridspec(2, 6)
    ax_loss, ax_grad = fig.add_subplot(grid[0, :3]), fig.add_subplot(grid[0, 3:])
    ax_manual, ax_torch, ax_diff = (fig.add_subplot(grid[1, 2 * i:2 * i + 2]) for i in range(3))

    loss_curves(ax_loss, result)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss curves (the lines overlap when the two agree)")
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.legend(loc="best")

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

    planes = outputs_on_the_plane(result)
    what = "Output" if result.config.dataset in REGRESSION else "Decision boundary"
    for ax, side, plane in zip((ax_manual, ax_torch), SIDES, planes, strict=True):
        image = plane_panel(ax, plane, result, f"{what}: {side_names(result.config)[side]}")
        fig.colorbar(image, ax=ax, orientation="horizontal", shrink=0.8, ticks=[-1, -0.5, 0, 0.5, 1],
                     label="y_pred" if result.config.loss in ("mse", "l1") else "2 P(blue) - 1, from y_pred")

    difference = np.abs(planes[0].astype(np.float64) - planes[1])
    exact = difference == 0
    blank = exact | ~np.isfinite(difference)          # LogNorm has no 0; a diverged run's planes hold NaN
    positive = difference[~blank]
    largest = positive.max() if positive.size else 1e-16
    norm = LogNorm(vmin=min(positive.min(), largest / 10) if positive.size else largest / 10, vmax=largest)
    image = gap_image(ax_diff, np.where(blank, np.nan, difference), norm)
    ax_diff.set(xlim=(-6, 6), ylim=(-6, 6), aspect="equal",
                title=f"|y_manual - y_torch| over the plane\n(blank: bit-identical, {100 * exact.mean():.0f}% of it"
                      + (f"; non-finite, {100 * (blank & ~exact).mean():.0f}%)" if (blank & ~exact).any() else ")"))
    colorbar = fig.colorbar(image, ax=ax_diff, orientation="horizontal", shrink=0.8,
                            label="absolute difference (log scale)")
    colorbar.ax.xaxis.set_minor_formatter(NullFormatter())   # labels at the powers of ten only
    return fig
