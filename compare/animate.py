r"""``python -m compare --animate run.gif``: the lockstep run as Playground shows training, one frame per epoch.

Each frame: the loss curves so far, both models' outputs over the plane with the data, and where
the two outputs differ. The frames are drawn on one ``matplotlib.figure.Figure`` (Agg canvas, no
display) and written as a GIF with Pillow, matplotlib's own image library.
"""
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from PIL import Image

from .plot import gap_image, loss_curves, outputs_on_the_plane, plane_panel
from .report import SIDES

FRAME_MS = 100              # 10 frames a second: 100 epochs in 10 s


class Recorder:
    r"""``on_epoch`` for ``lockstep.run``: keeps both models' planes after every epoch."""

    def __init__(self):
        self.planes = []

    def __call__(self, result):
        self.planes.append(outputs_on_the_plane(result))


def frames(result, planes, fig=None):
    r"""One RGB image per epoch, as arrays, drawn on ``fig`` (by default a new figure, 936 x 259 pixels)."""
    fig = fig or Figure(figsize=(13, 3.6), dpi=72, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax_loss, *ax_planes, ax_diff = fig.subplots(1, 4)
    history = result.history
    epochs = [h["epoch"] for h in history["manual"]]
    losses = [h[key] for side in SIDES for h in history[side] for key in ("loss", "val_loss")]
    ax_loss.set(xlim=(0, max(epochs[-1], 1)), ylim=(0, max(losses) * 1.05), xlabel="epoch", ylabel="loss")
    curves = loss_curves(ax_loss, result, label="{} ({})")       # each frame shows the epochs up to its own
    ax_loss.legend(loc="upper right", fontsize=7)
    images = [plane_panel(ax, planes[0][0], result, SIDES[side], validation=False)
              for ax, side in zip(ax_planes, SIDES, strict=True)]
    difference = gap_image(ax_diff, np.zeros_like(planes[0][0], dtype=np.float64), LogNorm(1e-9, 1e-5))
    fig.colorbar(difference, ax=ax_diff, shrink=0.8, label="|manual - torch|")
    ax_diff.set(aspect="equal", title="where they differ (blank: bit-identical)")
    ax_loss.set_title("loss")
    box = dict(facecolor="white", alpha=0.85, edgecolor="none")
    epoch_text = ax_loss.text(0.03, 0.05, "", transform=ax_loss.transAxes, bbox=box)
    share_text = ax_diff.text(0.03, 0.05, "", transform=ax_diff.transAxes, bbox=box)
    # Blitting: the axes, ticks and labels are drawn once; each frame redraws only what changes, and the
    # points over the planes (drawn after them, so that they stay on top).
    points = [collection for ax in ax_planes for collection in ax.collections]
    moving = [*curves.values(), *images, *points, difference, epoch_text, share_text]
    for artist in moving:
        artist.set_animated(True)
    canvas.draw()
    fig.set_layout_engine("none")
    background = canvas.copy_from_bbox(fig.bbox)
    for epoch, (manual_plane, torch_plane) in enumerate(planes, 1):
        for (side, key), curve in curves.items():
            curve.set_data(epochs[:epoch], [h[key] for h in history[side][:epoch]])
        for image, plane in zip(images, (manual_plane, torch_plane), strict=True):
            image.set_data(plane)
        gap = np.abs(manual_plane.astype(np.float64) - torch_plane)
        difference.set_data(np.where(gap > 0, gap, np.nan))
        epoch_text.set_text(f"epoch {epoch} of {len(planes)}")
        share_text.set_text(f"{100 * (gap == 0).mean():.0f}% bit-identical")
        canvas.restore_region(background)
        for artist in moving:
            fig.draw_artist(artist)
        yield np.array(canvas.buffer_rgba())[..., :3]


def gif_writer(result, planes):
    r"""``write(binary_file)``: the GIF, looping, every frame on one 256-colour palette drawn from the first,
    middle and last frames and a band of the difference's colour map (so that its every shade is kept)."""
    def write(file):
        drawn = list(frames(result, planes))
        shades = colormaps["viridis"](np.linspace(0, 1, drawn[0].shape[1]))[None, :, :3]
        band = np.repeat((shades * 255).astype(np.uint8), drawn[0].shape[0], axis=0)
        kept = np.concatenate([drawn[0], drawn[len(drawn) // 2], drawn[-1], band])
        palette = Image.fromarray(kept).quantize(colors=256)
        images = [Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE) for frame in drawn]
        images[0].save(file, format="GIF", save_all=True, append_images=images[1:], duration=FRAME_MS, loop=0)
    return write
