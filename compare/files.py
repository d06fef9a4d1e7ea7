r"""Weights in, outputs out.

A weights file may come from anywhere: it is never unpickled (``.npz`` with ``allow_pickle=False``,
a torch file with ``weights_only=True``), its size and every array's declared size are bounded
before anything is allocated, and only dense arrays of real floating-point numbers are accepted;
``check_weights`` then holds them against the run's network.

An output is written whole or not at all: a regular file through a temporary file in its own
directory and ``os.replace``; ``-`` (or the file standard output already writes to, such as
``/dev/stdout``) through standard output; a device such as ``/dev/null`` directly. An operating
system error is one ``ValueError`` line with the path and the system's reason.
"""
import errno
import json
import math
import os
import stat
import sys
import tempfile
import warnings
import zipfile

import numpy as np
import torch

from .core.pair import DTYPES, by_hand, criteria, layer_pairs, manual_model

MAX_WEIGHTS_BYTES = 100 * 10**6      # 10 million float64 parameters, the largest network trained, take 80 MB
FLOAT_DTYPES = ("float16", "float32", "float64")
FIGURES = ("--plot", "--graph")                 # in any format matplotlib writes
FORMATS = {"--save-weights": ("npz", "pt", "pth"), "--animate": ("gif",)}      # the first without an extension
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def load_weights(path):
    r"""A state dict of arrays from ``.npz`` or a ``torch.save``-d state dict; ``ValueError`` (one line)
    for a file that is unreadable, too large, or holds anything but named dense float arrays."""
    try:
        if os.path.exists(path) and not os.path.isfile(path):
            raise ValueError(f"{path}: not a regular file")   # /dev/zero, a FIFO: never read from
        members = zip_members(path)
        size = max(os.path.getsize(path), sum(info.file_size for info in members))
        if size > MAX_WEIGHTS_BYTES:
            raise ValueError(f"{path}: holds {size:,} bytes, over the {MAX_WEIGHTS_BYTES:,} a weights file may hold")
        if members and all(info.filename.endswith(".npy") for info in members):
            return load_npz(path, members)      # torch.save writes zip archives too, of other members
        return load_torch(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None


def zip_members(path):
    if not zipfile.is_zipfile(path):
        return []
    with zipfile.ZipFile(path) as archive:
        return archive.infolist()


def check_dtype(path, name, dtype):
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"{path}: {name} holds {dtype} values; weights must be one of {', '.join(FLOAT_DTYPES)}")


def load_npz(path, members):
    r"""Read each member's ``.npy`` header first: numpy allocates the declared array before reading its
    data, so a header that declares more than the member holds is refused before it can ask for memory."""
    with zipfile.ZipFile(path) as archive:
        for info in members:
            name = info.filename.removesuffix(".npy")
            with archive.open(info) as member:
                try:
                    shape, _, dtype = HEADER_READERS[np.lib.format.read_magic(member)](member)
                except (KeyError, ValueError) as exc:
                    raise ValueError(f"{path}: {name}: not a readable .npy header ({exc})") from None
                data_bytes = info.file_size - member.tell()
            check_dtype(path, name, dtype.name)
            if math.prod(shape) * dtype.itemsize > data_bytes:
                raise ValueError(f"{path}: {name}: the header declares shape {shape}, more than the member holds")
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def load_torch(path):
    try:
        with warnings.catch_warnings():              # torch's notes on what it rebuilds: checked below
            warnings.simplefilter("ignore")
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:                                # torch raises many types for a foreign file
        raise ValueError(f"{path}: neither a .npz archive nor a torch state dict") from None
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path}: a torch file holding a {type(state_dict).__name__}, not a state dict")
    for name, value in state_dict.items():
        if not (isinstance(value, torch.Tensor) and value.layout == torch.strided
                and not value.is_nested and not value.is_meta):
            raise ValueError(f"{path}: {name!s} is not a dense tensor")
        check_dtype(path, name, str(value.dtype).removeprefix("torch."))
    return {str(name): tensor.detach().numpy() for name, tensor in state_dict.items()}


def writes_to_stdout(path):
    r"""Whether ``path`` is ``-`` or the file that standard output already writes to (``/dev/stdout``)."""
    if path == "-":
        return True
    try:
        here, there = os.stat(path), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError):                    # no such file yet; or stdout is not a real file
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def check_outputs(outputs):
    r"""Raise ``ValueError`` unless every output (``{flag: path or None}``) can be written, each to a
    file of its own; changes no file and leaves none behind."""
    given = {flag: path for flag, path in outputs.items() if path is not None}
    seen = {}
    for flag, path in given.items():
        real = "standard output" if writes_to_stdout(path) else os.path.realpath(path)
        if real in seen:
            raise ValueError(f"{seen[real]} and {flag} name the same file, {path}; give each output its own")
        seen[real] = flag
    for flag, path in given.items():
        check_writable(flag, path)
        output_format(flag, path)


def check_writable(flag, path):
    r"""Raise ``ValueError`` with the system's reason unless ``path`` can be written; changes nothing."""
    try:
        if writes_to_stdout(path):
            return
        if not os.path.exists(path):
            open(path, "xb").close()                 # the system's own answer for this very name
            os.remove(path)
        elif not stat.S_ISFIFO(os.stat(path).st_mode):
            open(path, "ab").close()                 # append mode: checks without truncating
        elif not os.access(path, os.W_OK):           # opening a pipe would end its reader's input
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        raise ValueError(f"{flag} {path}: {exc.strerror}") from None


def output_format(flag, path):
    r"""The format ``flag`` writes ``path`` in, from its extension: a figure in any format matplotlib
    writes, weights as ``.npz`` or a torch state dict (``.pt``, ``.pth``), the animation as ``.gif``; without
    an extension (``-`` included) PNG, npz and GIF. ``ValueError`` for another extension."""
    suffix = os.path.splitext(path)[1][1:].lower()
    if flag in FIGURES:
        from matplotlib.backend_bases import FigureCanvasBase  # matplotlib: imported only for a figure
        known = set(FigureCanvasBase.get_supported_filetypes()) - {"pgf"}      # pgf needs a LaTeX installation
        if suffix and suffix not in known:
            raise ValueError(f"{flag} {path}: no figure is written as .{suffix} here; end the name in "
                             f"{extensions(known)}")
        return suffix or "png"
    if flag not in FORMATS:
        return suffix
    if suffix and suffix not in FORMATS[flag]:
        raise ValueError(f"{flag} {path}: end the name in {extensions(FORMATS[flag])}, what it writes")
    return suffix or FORMATS[flag][0]


def extensions(names):
    r"""``[npz, pt, pth]`` -> ``".npz, .pt or .pth"``."""
    *others, last = ["." + name for name in sorted(names)]
    return f"{', '.join(others)} or {last}" if others else last


def write_output(path, write):
    r"""Call ``write(binary_file)`` for ``path``, whole or not at all; ``ValueError`` for an OS error."""
    try:
        if writes_to_stdout(path):
            sys.stdout.flush()                       # what was printed comes first
            write(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        elif os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):   # /dev/null, a pipe
            with open(path, "wb") as file:
                write(file)
        else:
            replace_atomically(os.path.realpath(path), write)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None


def replace_atomically(path, write):
    mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else 0o666 & ~current_umask()
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:                            # an error, Ctrl-C or SIGTERM: no half file left
        os.unlink(temporary)
        raise


def current_umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


def json_text(value):
    r"""Strict JSON: a non-finite float is ``null``, never ``NaN`` or ``Infinity``, which strict parsers reject."""
    def finite(v):
        if isinstance(v, np.generic):                # a side may hand back NumPy scalars
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {key: finite(x) for key, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [finite(x) for x in v]
        return v
    return json.dumps(finite(value), indent=2, allow_nan=False) + "\n"


def save_outputs(parser, outputs):
    r"""Write each ``(path, write)`` whose path is given; an OS error is ``parser.error`` (one line, exit 2)."""
    try:
        for path, write in outputs:
            if path is not None:
                write_output(path, write)
    except ValueError as exc:
        parser.error(str(exc))


def json_writer(value):
    return lambda file: file.write(json_text(value).encode())


def figure_writer(figure, flag, path):
    return lambda file: figure.savefig(file, format=output_format(flag, path))


def weights_writer(state_dict, path):
    r"""``.npz`` of arrays, or for ``.pt`` and ``.pth`` a torch state dict (``torch.load`` reads it)."""
    def write(file):
        if output_format("--save-weights", path) == "npz":
            np.savez(file, **state_dict)
        else:
            torch.save({name: torch.from_numpy(value) for name, value in state_dict.items()}, file)
    return write


def check_weights(config, weights, source):
    r"""Raise ``ValueError`` naming ``source`` and the key unless ``weights`` fit ``config``'s network.

    Besides the model's own key and shape checks: every value must be a real number that stays
    finite in ``config.dtype``.
    """
    np_dtype = DTYPES[config.dtype][0]
    for name, value in weights.items():
        if np.asarray(value).dtype.kind not in "fiu":
            raise ValueError(f"{source}: {name} has dtype {np.asarray(value).dtype}, not a real number type")
        with np.errstate(over="ignore"):            # too large for the dtype: caught just below
            converted = np.asarray(value).astype(np_dtype)
        if not np.isfinite(converted).all():
            raise ValueError(f"{source}: {name} holds a non-finite value (nan, inf, or too large for {config.dtype})")
    try:
        manual_model(config).load_state_dict(weights)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


def check_first_forward(config, weights, X, y, source):
    r"""Raise ``ValueError`` naming ``source`` if the forward pass of ``weights`` over the points ``X``, or its
    loss against the labels ``y``, overflows in ``config.dtype``: a run from them could only report the
    overflow, on whichever side met it first. The by-hand network computes it, also for --manual autograd."""
    config = by_hand(config)
    model = manual_model(config)
    model.load_state_dict(weights)
    with np.errstate(over="ignore", invalid="ignore"):
        for (name, layer), (_, activation) in layer_pairs(model):
            z = layer(X)
            if not np.isfinite(z).all():
                raise ValueError(f"{source}: {name}'s z = x W^T + b is not finite in {config.dtype} on the training "
                                 "points: weights this large overflow before the first step")
            X = activation(z)
        if not np.isfinite(criteria(config)[0](X, y)):
            raise ValueError(f"{source}: the loss of the first forward pass is not finite in {config.dtype} on the "
                             "training points: weights this large overflow before the first step")
