r"""Reading weights files and writing output files without ever leaving half a file behind.

A weights file holds dense arrays of real floating-point numbers, float16, float32 or float64, in
either format: integers, booleans, complex numbers, strings, objects, bfloat16, float8 and quantized
values are refused, as are sparse, nested and meta tensors. No network of this project saves
anything else, so such a file is the wrong file, and refusing it is clearer than a silent conversion.
"""
import json
import math
import os
import stat
import tempfile
import warnings
import zipfile
import zlib

import numpy as np
import torch

MAX_PARAMETERS = 10_000_000                 # the largest network the command trains
MAX_WEIGHTS_MB = 100                        # MAX_PARAMETERS float64 values take 80 MB; the rest is headroom
FLOAT_DTYPES = ("float16", "float32", "float64")
NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}
UNREADABLE = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)
NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


def load_weights(path):
    r"""Read a state dict of arrays from ``.npz`` or from a ``torch.save``-d state dict.

    Never unpickles: ``.npz`` is read with ``allow_pickle=False`` after its ``.npy`` headers are
    checked, and a torch file with ``torch.load(..., weights_only=True)``. A file (or a zip archive
    unpacked) over ``MAX_WEIGHTS_MB`` is not read at all. Raises ``ValueError`` with a one-line
    reason for anything else. Whether the keys and shapes fit a model is the model's
    ``load_state_dict``'s business.
    """
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    members = zip_members(path)
    check_size(path, members)
    if members is not None and all(info.filename.endswith(".npy") for info in members):
        return load_npz(path)                       # torch.save also writes zips, of other members
    return load_torch(path)


def zip_members(path):
    r"""The members (``ZipInfo``) of the zip archive ``path``, or ``None`` if it is not one."""
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.infolist()
    except UNREADABLE as exc:
        raise ValueError(f"{path}: a damaged zip archive ({exc})") from None


def check_size(path, members):
    r"""Refuse a file whose size, or the unpacked size of its zip ``members``, is over the cap."""
    size = max(os.path.getsize(path), sum(info.file_size for info in members or ()))
    if size > MAX_WEIGHTS_MB * 10**6:
        raise ValueError(f"{path}: holds {size:,} bytes, over the {MAX_WEIGHTS_MB} MB a weights file may "
                         f"hold (a network has at most {MAX_PARAMETERS:,} parameters)")


def check_dtype(path, name, dtype_name):
    r"""Refuse an array whose dtype (``"float32"``, ``"int64"``, ``"bfloat16"``, ...) is not a real float."""
    if dtype_name not in FLOAT_DTYPES:
        raise ValueError(f"{path}: {name} holds {dtype_name} values; weights must be one of {', '.join(FLOAT_DTYPES)}")


def load_npz(path):
    r"""Check every member's ``.npy`` header (``check_npy_header``), then read the arrays."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            check_npy_header(path, archive, info)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except UNREADABLE as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from None


def check_npy_header(path, archive, info):
    r"""Refuse a member whose header declares a non-float dtype or more data than the member holds.

    Reads the header only (``read_magic``, ``read_array_header_*``): numpy would allocate the
    declared array before reading its data, so a lying header could ask for any amount of memory.
    """
    name = info.filename.removesuffix(".npy")
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in NPY_HEADER_READERS:
                raise ValueError(f".npy format version {version[0]}.{version[1]} is not read")
            shape, _, dtype = NPY_HEADER_READERS[version](member)
            data_bytes = info.file_size - member.tell()
    except UNREADABLE as exc:
        raise ValueError(f"{path}: {name}: not a readable .npy header ({exc})") from None
    check_dtype(path, name, dtype.name)
    declared = math.prod(shape) * dtype.itemsize
    if declared > data_bytes:
        raise ValueError(f"{path}: {name}: the header declares shape {shape} ({declared:,} bytes) "
                         f"but the member holds {data_bytes:,} bytes")


def load_torch(path):
    r"""Read a ``torch.save``-d dict of parameter name -> dense float tensor (``check_tensor``)."""
    try:
        with warnings.catch_warnings():             # torch's notes on what it rebuilds: check_tensor decides
            warnings.simplefilter("ignore")
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:                               # torch raises many types for a foreign file
        raise ValueError(f"{path}: neither a .npz archive nor a torch state dict") from None
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path}: a torch file holding a {type(state_dict).__name__}, not a state dict")
    for name, value in state_dict.items():
        check_tensor(path, name, value)
    return {name: tensor.detach().numpy() for name, tensor in state_dict.items()}


def check_tensor(path, name, value):
    r"""Refuse a state-dict entry unless its key is a string and its value a dense float CPU tensor."""
    if not isinstance(name, str):
        raise ValueError(f"{path}: key {name!r} is not a string (a parameter name)")
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{path}: {name} is a {type(value).__name__}, not a tensor")
    if value.is_nested or value.layout != torch.strided:
        layout = "nested" if value.is_nested else str(value.layout).removeprefix("torch.")
        raise ValueError(f"{path}: {name} is a {layout} tensor; weights must be dense tensors")
    if value.is_meta:
        raise ValueError(f"{path}: {name} is a meta tensor, which holds no values")
    check_dtype(path, name, str(value.dtype).removeprefix("torch."))


def check_outputs(outputs):
    r"""Raise ``ValueError`` unless every output can be written, each to a file of its own.

    ``outputs`` maps a flag to its path, ``None`` when the flag is not given; ``--plot`` must name a
    ``.png`` file. Two outputs naming one
    file (after ``os.path.realpath``) are refused. An output may name the ``--weights`` file: that
    is read completely before training and replaced only at the end.
    """
    seen = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        if flag == "--plot" and not path.lower().endswith(".png"):
            raise ValueError(f"--plot {path}: the figure is a PNG; give the file name the suffix .png")
        try:
            check_writable(path)
        except ValueError as exc:
            raise ValueError(f"{flag} {exc}") from None
        real = os.path.realpath(path)
        if real in seen:
            raise ValueError(f"{seen[real]} and {flag} name the same file, {path}; give each output its own")
        seen[real] = flag


def check_writable(path):
    r"""Raise ``ValueError`` unless ``write_atomic(path, ...)`` will succeed as far as can be told now.

    ``path`` must be a valid name that is absent or a regular file (``os.replace`` would replace a
    directory entry, a FIFO or a device node itself, not write into it), in an existing directory
    where a temporary file can be created: that is tried, as permission bits do not stop root
    while a read-only file system or ``/proc`` stops everyone.
    """
    if not path:
        raise ValueError(f"{path!r}: the path is empty")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:                          # e.g. "File name too long", "Not a directory"
        raise ValueError(f"{path}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = next((name for test, name in NOT_REGULAR if test(mode)), "not a regular file")
        raise ValueError(f"{path}: is {kind}; an output must be a regular file")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"{path}: directory {directory} does not exist")
    try:
        fd, tmp = temporary_file(path)
    except OSError as exc:
        raise ValueError(f"{path}: cannot create a file in {directory} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(tmp)


def temporary_file(path):
    r"""Create an empty private temporary file in ``path``'s directory; return ``(fd, name)``."""
    return tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")


def file_mode():
    r"""The mode ``open()`` gives a new file: 0o666 less the umask (which only setting it reveals)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path, write):
    r"""Call ``write(file)`` on a temporary file next to ``path``, then rename it into place.

    A crash, an error or an interrupt leaves ``path`` as it was: never a half-written file. The
    file gets the mode the user's umask gives new files.
    """
    fd, tmp = temporary_file(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, file_mode())                  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_weights(path, state_dict):
    r"""Write a state dict of arrays as ``.npz`` (at ``path`` exactly: no suffix is added)."""
    write_atomic(path, lambda f: np.savez(f, **state_dict))


def save_text(path, text):
    write_atomic(path, lambda f: f.write(text.encode()))


def save_json(path, value):
    r"""Write ``value`` as strict JSON: a non-finite float is written as ``null``, never ``NaN`` or
    ``Infinity``, which strict parsers reject."""
    def finite(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {key: finite(x) for key, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [finite(x) for x in v]
        return v
    save_text(path, json.dumps(finite(value), indent=2, allow_nan=False) + "\n")


def save_figure(path, figure):
    write_atomic(path, lambda f: figure.savefig(f, format="png"))
