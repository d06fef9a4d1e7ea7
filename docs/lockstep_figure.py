r"""The figure of docs/agreement.md: what ``python -m compare`` compares at each step of the lockstep.

``python docs/lockstep_figure.py docs/lockstep.png`` redraws it. It is a diagram, not a run: the checks
it names are the summary's (``compare/report.py``) and the page's table. Drawn 6.9 inches wide at 200
dpi, so that in the site's column (about 690 px) every text is at least 11 px high.
"""
import sys

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

WIDTH, HEIGHT = 6.9, 7.9                  # inches; the axes run 0..104 across (the loop right of 100), -5..110 up
MANUAL, TORCH, SHARED = "#0877bd", "#e07b00", "#555555"
LEFT, MIDDLE, RIGHT = 17, 50, 83          # the centres of the three columns
SIDE, CENTRE = 31, 30                     # the widths of a side's boxes and of the middle column's
FONT = 8.5                                # points: 11.8 px at 690 px wide (200 dpi, halved)

RULE = "|manual − torch| ≤ atol + rtol |torch|"
STEP_OUTPUTS = [                          # (what each side gives, how the two are compared)
    ("the loss", "the rule"),
    ("every gradient", "the rule, each element"),
    ("every weight after the update", "the rule + the step's share"),
    ("the optimizer's state", "the rule, each element"),
    ("correct predictions in the batch", "identical (float32: ties)"),
]
EPOCH_OUTPUTS = ("training loss · validation loss · validation correct count\n"
                 "the ±1 prediction of every point, each side through its own discretize")


def box(ax, x, y, text, colour, width=SIDE, height=5.2, fill=0.10, **style):
    r"""A rounded box centred at ``(x, y)``, its text inside."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0,rounding_size=1.2", facecolor=(*tint(colour), fill),
                                edgecolor=colour, linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=style.pop("fontsize", FONT), **style)


def tint(colour):
    return tuple(int(colour[k:k + 2], 16) / 255 for k in (1, 3, 5))


def arrow(ax, start, end, colour=SHARED, style="-|>", **options):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9, color=colour, linewidth=1,
                                 shrinkA=0, shrinkB=0, **options))


def sides(ax, y, manual_text, torch_text, height=5.2):
    box(ax, LEFT, y, manual_text, MANUAL, height=height)
    box(ax, RIGHT, y, torch_text, TORCH, height=height)


def lockstep_figure():
    r"""The lockstep: one step from identical weights, its five comparisons, the re-synchronisation, and what is
    compared after every epoch."""
    fig = Figure(figsize=(WIDTH, HEIGHT), dpi=200)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 104)
    ax.set_ylim(-5, 110)
    ax.set_axis_off()

    ax.text(LEFT, 106, "manual/\nNumPy, backprop by hand", ha="center", va="center", fontsize=FONT + 1,
            color=MANUAL, fontweight="bold")
    ax.text(RIGHT, 106, "torch_impl/\nPyTorch autograd", ha="center", va="center", fontsize=FONT + 1,
            color=TORCH, fontweight="bold")
    ax.text(MIDDLE, 106, "every step", ha="center", va="center", fontsize=FONT + 1, fontweight="bold")

    sides(ax, 97, "weights θ, optimizer state", "weights θ, optimizer state")
    ax.text(MIDDLE, 97, "= identical =", ha="center", va="center", fontsize=FONT, fontweight="bold")
    box(ax, MIDDLE, 88, "the step's batch:\nindices from one seeded\nGenerator", SHARED, width=CENTRE, height=8)
    sides(ax, 88, "its own DataLoader", "its own DataLoader")
    arrow(ax, (MIDDLE - CENTRE / 2, 88), (LEFT + SIDE / 2, 88))
    arrow(ax, (MIDDLE + CENTRE / 2, 88), (RIGHT - SIDE / 2, 88))
    sides(ax, 77, "train_step: forward, loss,\nmodel.backward(...) by hand,\noptimizer.step() by hand",
          "train_step: forward, loss,\nloss.backward(),\noptimizer.step()", height=9)
    for x in (LEFT, RIGHT):
        arrow(ax, (x, 94.4), (x, 90.6))
        arrow(ax, (x, 85.4), (x, 81.5))
        arrow(ax, (x, 72.5), (x, 65.6))

    ax.text(MIDDLE, 71.5, "compared", ha="center", va="center", fontsize=FONT, fontweight="bold")
    ax.text(MIDDLE, 68.6, RULE, ha="center", va="center", fontsize=FONT - 0.5)
    for k, (output, rule) in enumerate(STEP_OUTPUTS):
        y = 63 - 7 * k
        sides(ax, y, output, output)
        arrow(ax, (LEFT + SIDE / 2, y), (RIGHT - SIDE / 2, y), style="<|-|>")
        ax.text(MIDDLE, y, rule, ha="center", va="center", fontsize=FONT - 0.5,
                bbox=dict(facecolor="white", edgecolor="none", pad=1))

    y_sync = 63 - 7 * len(STEP_OUTPUTS) - 0.5
    sides(ax, y_sync, "manual's weights, state", "torch's weights, state")
    arrow(ax, (LEFT + SIDE / 2, y_sync), (RIGHT - SIDE / 2, y_sync), colour=MANUAL)
    ax.text(MIDDLE, y_sync + 0.8, "then copied into torch", ha="center", va="bottom", fontsize=FONT - 0.5,
            color=MANUAL)
    ax.text(MIDDLE, y_sync - 4.5, "so the next step starts from identical values", ha="center", va="center",
            fontsize=FONT, color=SHARED)
    loop = RIGHT + SIDE / 2 + 3                     # up the right-hand side, back to the weights
    ax.plot([RIGHT + SIDE / 2, loop, loop], [y_sync, y_sync, 97], color=SHARED, linewidth=1)
    arrow(ax, (loop, 97), (RIGHT + SIDE / 2, 97))
    ax.text(loop + 0.8, 62, "next step", ha="left", va="center", rotation=90, fontsize=FONT, color=SHARED)

    box(ax, MIDDLE, 13, "after every epoch, still from identical weights, compared the same way:\n"
        + EPOCH_OUTPUTS, SHARED, width=98, height=10.5, fill=0.06)
    box(ax, MIDDLE, 0.5, "a failed check (in float32: unless the step's replay shows rounding) stops the run:\n"
        "DISAGREE, the first quantity that differs named. NaN or infinity is never AGREE", "#c0392b", width=98,
        height=8, fill=0.05)
    return fig


if __name__ == "__main__":
    lockstep_figure().savefig(sys.argv[1] if len(sys.argv) > 1 else "lockstep.png")
