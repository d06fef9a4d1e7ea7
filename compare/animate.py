r"""``python -m compare --animate run.gif``: the lockstep run as Playground shows training, one frame per epoch.

Each frame: the loss curves so far, both models' outputs over the plane with the data, and where
the two outputs differ. The frames are drawn on one ``matplotlib.figure.Figure`` (Agg canvas, no
display) and written as a GIF with Pillow, matplotlib's own image library, one frame at a time: the
planes wait in a temporary file, so memory stays flat however many epochs the run has.
"""
import tempfile

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from PIL import GifImagePlugin, Image

from .plot import gap_image, loss_curves, outputs_on_the_plane, plane_panel
from .report import SIDES, side_names

FRAME_MS = 100              # 10 frames a second: 100 epochs in 10 s


class Recorder:
    r"""``on_epoch`` for ``lockstep.run``: both models' planes after every epoch, written to a temporary
    file; ``recorder[i]`` reads epoch ``i + 1``'s pair back. ``with Recorder() as recorder:`` closes the file."""

    def __init__(self):
        self.file, self.count = tempfile.TemporaryFile(), 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.file.close()

    def __call__(self, result):
        planes = np.stack(outputs_on_the_plane(result))
        self.shape, self.dtype = planes.shape, planes.dtype
        self.file.write(planes.tobytes())
        self.count += 1

    def __getitem__(self, i):
        size = np.prod(self.shape) * self.dtype.itemsize
        self.file.seek(i * size)
        return np.frombuffer(self.file.read(size), self.dtype).reshape(self.shape)


def frames(result, planes, fig=None, epochs=None):
    r"""One RGB image per epoch of ``epochs`` (by default every one), as arrays, drawn on ``fig`` (by
    default a new figure, 936 x 259 pixels)."""
    fig = fig or Figure(figsize=(13, 3.6), dpi=72, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax_loss, *ax_planes, ax_diff = fig.subplots(1, 4)
    history = result.history
    epochs_run = [h["epoch"] for h in history["manual"]]       # one plane of each side per epoch
    losses = [h[key] for side in SIDES for h in history[side] for key in ("loss", "val_loss")]
    ax_loss.set(xlim=(0, max(epochs_run[-1], 1)), ylim=(0, max(losses) * 1.05), xlabel="epoch", ylabel="loss")
    curves = loss_curves(ax_loss, result, label="{} ({})")       # each frame shows the epochs up to its own
    ax_loss.legend(loc="upper right", fontsize=7)
    images = [plane_panel(ax, planes[0][0], result, side_names(result.config)[side], validation=False)
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
    for epoch in epochs or range(1, len(epochs_run) + 1):
        manual_plane, torch_plane = planes[epoch - 1]
        for (side, key), curve in curves.items():
            curve.set_data(epochs_run[:epoch], [h[key] for h in history[side][:epoch]])
        for image, plane in zip(images, (manual_plane, torch_plane), strict=True):
            image.set_data(plane)
        gap = np.abs(manual_plane.astype(np.float64) - torch_plane)
        difference.set_data(np.where(gap > 0, gap, np.nan))
        epoch_text.set_text(f"epoch {epoch} of {len(epochs_run)}")
        share_text.set_text(f"{100 * (gap == 0).mean():.0f}% bit-identical")
        canvas.restore_region(background)
        for artist in moving:
            fig.draw_artist(artist)
        yield np.array(canvas.buffer_rgba())[..., :3]


def gif_writer(result, planes):
    r"""``write(binary_file)``: the GIF, looping, every frame on one 256-colour palette drawn from the first,
    middle and last frames and a band of the difference's colour map (so that its every shade is kept).
    Frames are written as they are drawn, each as the box where it differs from the one before."""
    def write(file):
        palette = gif_palette(result, planes)
        previous = None
        for frame in frames(result, planes):
            image = Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE)
            if previous is None:
                header, _ = GifImagePlugin.getheader(image, info={"loop": 0})
                file.write(b"".join(header))
            box = changed_box(previous, image)
            file.writelines(GifImagePlugin.getdata(image.crop(box), offset=box[:2], duration=FRAME_MS))
            previous = image
        file.write(b";")                           # the GIF's trailer
    return write


def gif_palette(result, planes):
    r"""A P-mode image whose palette is the 256 colours of the first, middle and last frames and of a band of
    the difference's colour map."""
    last = len(result.history["manual"])
    drawn = list(frames(result, planes, epochs=sorted({1, last // 2 + 1, last})))
    shades = colormaps["viridis"](np.linspace(0, 1, drawn[0].shape[1]))[None, :, :3]
    band = np.repeat((shades * 255).astype(np.uint8), drawn[0].shape[0], axis=0)
    return Image.fromarray(np.concatenate([*drawn, band])).quantize(colors=256)


def changed_box(previous, image):
    r"""``(left, top, right, bottom)`` of the pixels of ``image`` that differ from ``previous`` (all of it for
    the first frame; one pixel where nothing changed, since a GIF frame cannot be empty)."""
    if previous is None:
        return (0, 0, *image.size)
    rows, columns = np.nonzero(np.asarray(previous) != np.asarray(image))
    if rows.size == 0:
        return (0, 0, 1, 1)
    return (int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1)
