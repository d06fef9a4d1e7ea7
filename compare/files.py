r"""Reading weights files and writing output files without ever leaving half a file behind."""
import os
import tempfile
import zipfile

import numpy as np
import torch


def load_weights(path):
    r"""Read a state dict of arrays from ``.npz`` or from a ``torch.save``-d state dict.

    Never unpickles: ``.npz`` is read with ``allow_pickle=False`` (object arrays are refused) and a
    torch file with ``torch.load(..., weights_only=True)``. Raises ``ValueError`` with a one-line
    reason for anything else. Whether the keys and shapes fit a model is the model's
    ``load_state_dict``'s business.
    """
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    if is_npz(path):
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}
        except ValueError as exc:                   # numpy: "Object arrays cannot be loaded ..."
            raise ValueError(f"{path}: holds object arrays, which are not read (only numbers)") from exc
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{path}: not a readable .npz archive ({exc})") from exc
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:                        # torch raises many types for a foreign file
        raise ValueError(f"{path}: neither a .npz archive nor a torch state dict") from exc
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f"{path}: a torch file, but not a state dict of tensors")
    return {name: tensor.detach().cpu().numpy() for name, tensor in state_dict.items()}


def is_npz(path):
    r"""Whether ``path`` is a zip archive of ``.npy`` members (``torch.save`` also writes zips)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return all(name.endswith(".npy") for name in archive.namelist())


def check_writable(path):
    r"""Raise ``ValueError`` unless ``path`` can be created: its directory must exist."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"{path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory")


def write_atomic(path, write):
    r"""Call ``write(file)`` on a temporary file next to ``path``, then rename it into place.

    A crash or an error leaves ``path`` as it was: never a half-written file.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)                        # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_weights(path, state_dict):
    r"""Write a state dict of arrays as ``.npz`` (at ``path`` exactly: no suffix is added)."""
    write_atomic(path, lambda f: np.savez(f, **state_dict))


def save_text(path, text):
    write_atomic(path, lambda f: f.write(text.encode()))


def save_figure(path, figure):
    write_atomic(path, lambda f: figure.savefig(f, format="png"))
