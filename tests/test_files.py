"""Files by their real threat: weights files from anywhere, outputs whole or not at all, standard output,
numbers the dtype cannot hold, the network size cap, and stop signals."""
import io
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import zipfile
from contextlib import contextmanager

import numpy as np
import pytest
import torch

import manual
from compare import cli
from compare.core import Config
from compare.files import MAX_WEIGHTS_BYTES, write_output

from conftest import refused, run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def state_dict():
    r"""A state dict of the default network, as torch tensors."""
    return {k: torch.from_numpy(v) for k, v in manual.NeuralNetwork(rng=np.random.default_rng(0)).state_dict().items()}


def bad_tensor(kind):
    r"""A 3x2 (layer1.weight-shaped) value of the refused ``kind``."""
    values = torch.arange(6.0).reshape(3, 2)
    return {"bfloat16": lambda: values.bfloat16(), "float8": lambda: values.to(torch.float8_e4m3fn),
            "quantized": lambda: torch.quantize_per_tensor(values, 0.1, 0, torch.qint8),
            "sparse": lambda: values.to_sparse(), "sparse_csr": lambda: values.to_sparse_csr(),
            "nested": lambda: torch.nested.nested_tensor(list(values)), "meta": lambda: values.to("meta"),
            "complex": lambda: values.to(torch.complex64), "int64": lambda: values.long(),
            "bool": lambda: values.bool(), "list": lambda: values.tolist(),
            "dict": lambda: {"weight": values}}[kind]()


TORCH_CASES = {      # kind: what the error line says
    "bfloat16": "layer1.weight holds bfloat16 values; weights must be one of float16, float32, float64",
    "float8": "layer1.weight holds float8_e4m3fn values; weights must be one of float16, float32, float64",
    "quantized": "layer1.weight holds qint8 values; weights must be one of float16, float32, float64",
    "sparse": "layer1.weight is not a dense tensor",
    "sparse_csr": "layer1.weight is not a dense tensor",
    "nested": "layer1.weight is not a dense tensor",
    "meta": "layer1.weight is not a dense tensor",
    "complex": "layer1.weight holds complex64 values; weights must be one of float16, float32, float64",
    "int64": "layer1.weight holds int64 values; weights must be one of float16, float32, float64",
    "bool": "layer1.weight holds bool values; weights must be one of float16, float32, float64",
    "list": "layer1.weight is not a dense tensor",
    "dict": "layer1.weight is not a dense tensor",
}


def save_bad_torch_file(kind, tmp_path):
    path = tmp_path / f"{kind}.pt"
    torch.save({**state_dict(), "layer1.weight": bad_tensor(kind)}, path)
    return path


@pytest.mark.filterwarnings("ignore::UserWarning")      # creating quantized, sparse_csr and nested tensors
@pytest.mark.parametrize("kind", TORCH_CASES)
def test_a_torch_file_of_anything_but_dense_float_tensors_is_refused(kind, tmp_path, capsys):
    path = save_bad_torch_file(kind, tmp_path)
    assert refused(["--weights", str(path)], capsys, tmp_path) == f"--weights {path}: {TORCH_CASES[kind]}"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_torch_warnings_on_loading_do_not_reach_the_command_line(tmp_path):
    # torch warns about these once per process: only a fresh one shows whether they are silenced
    paths = [str(save_bad_torch_file(kind, tmp_path)) for kind in ("quantized", "sparse_csr")]
    code = f"""from compare.__main__ import main
for path in {paths!r}:
    try:
        main(["--weights", path])
    except SystemExit as exit_:
        print(exit_.code)
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout == "2\n2\n"
    assert result.stderr == "".join(f"error: --weights {path}: {TORCH_CASES[kind]}\n"
                                    for path, kind in zip(paths, ("quantized", "sparse_csr"), strict=True))


def test_a_torch_file_with_a_key_that_is_not_a_string_is_refused(tmp_path, capsys):
    path = tmp_path / "int_key.pt"
    torch.save({**state_dict(), 0: torch.zeros(3)}, path)
    assert refused(["--weights", str(path)], capsys, tmp_path).startswith(f"--weights {path}: ")


@pytest.mark.parametrize("fmt", ["npz", "pt"])
def test_float16_weights_are_read_in_either_format(fmt, tmp_path, capsys):
    weights = {k: v.half() for k, v in state_dict().items()}
    path = tmp_path / f"half.{fmt}"
    if fmt == "npz":
        np.savez(path, **{k: v.numpy() for k, v in weights.items()})
    else:
        torch.save(weights, path)
    status, _, err = run_cli(["--epochs", "1", "--quiet", "--weights", str(path)], capsys)
    assert status == 0 and err == ""


NPZ_CASES = {"int64": "int64", "bool": "bool", "complex128": "complex128", "U3": "str96", "f8,f8": "void128"}


@pytest.mark.parametrize("dtype", NPZ_CASES)
def test_an_npz_of_anything_but_float_arrays_is_refused(dtype, tmp_path, capsys):
    path = tmp_path / "bad.npz"
    weights = {k: v.numpy() for k, v in state_dict().items()}
    np.savez(path, **{**weights, "layer1.weight": np.zeros((3, 2), dtype=dtype)})
    assert refused(["--weights", str(path)], capsys, tmp_path) == (
        f"--weights {path}: layer1.weight holds {NPZ_CASES[dtype]} values; "
        "weights must be one of float16, float32, float64")


def npy_bytes(shape, data):
    r"""A ``.npy`` file whose header declares float64 ``shape`` and whose data is ``data``."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return f.getvalue() + data


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_an_npz_header_declaring_a_huge_array_is_refused_before_reading(compression, tmp_path, capsys):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("layer1.weight.npy", npy_bytes((10**6, 10**6), b"\0" * 48))
    assert refused(["--weights", str(path)], capsys, tmp_path) == (
        f"--weights {path}: layer1.weight: the header declares shape (1000000, 1000000), more than the member holds")


def test_a_weights_file_over_the_size_cap_is_not_read(tmp_path, capsys):
    path = tmp_path / "big.pt"
    with open(path, "wb") as f:
        f.truncate(MAX_WEIGHTS_BYTES + 1)           # sparse: no disk written
    assert refused(["--weights", str(path)], capsys, tmp_path) == (
        f"--weights {path}: holds 100,000,001 bytes, over the 100,000,000 a weights file may hold")


def test_an_npz_unpacking_beyond_the_size_cap_is_not_read(tmp_path, capsys):
    path = tmp_path / "bomb.npz"
    count = MAX_WEIGHTS_BYTES // 8
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("layer1.weight.npy", npy_bytes((count,), bytes(count * 8)))
    assert os.path.getsize(path) < 10**6
    line = refused(["--weights", str(path)], capsys, tmp_path)
    assert line.startswith(f"--weights {path}: holds 100,000,128 bytes, over the 100,000,000")


NUMBERS = {
    "--lr 1e39": "--lr 1e+39: overflows float32",
    "--lr 1e-50": "--lr 1e-50: rounds to 0 in float32",
    "--weight-decay 1e39": "--weight-decay 1e+39: overflows float32",
    "--weight-decay 1e-50": "--weight-decay 1e-50: rounds to 0 in float32",
    "--dtype float64 --lr 1e-400": "--lr 0.0: must be a finite number > 0",
}


@pytest.mark.parametrize("args", NUMBERS)
def test_a_rate_the_dtype_cannot_hold_is_refused(args, tmp_path, capsys):
    assert refused(args.split(), capsys, tmp_path) == NUMBERS[args]


@pytest.mark.parametrize("args", ["--lr 1e-45", "--weight-decay 1e-45", "--weight-decay 0",
                                  "--dtype float64 --lr 1e-50"])
def test_tiny_rates_the_dtype_holds_are_accepted(args, capsys):
    status, _, err = run_cli(["--epochs", "1", "--quiet", *args.split()], capsys)
    assert status == 0 and err == ""


def test_a_network_over_ten_million_parameters_is_refused(tmp_path, capsys):
    assert refused(["--hidden", "5000,5000", "--activations", "tanh,tanh"], capsys, tmp_path) == (
        "--hidden 5000,5000 makes a network of 25,025,001 parameters; at most 10,000,000 are trained")


@pytest.mark.parametrize("width, allowed", [(2_499_999, True), (2_500_000, False)])
def test_the_parameter_limit_is_exact(width, allowed):
    # one hidden layer of width w: 2w + w weights and biases in, w + 1 out: 4w + 1 parameters
    try:
        Config(hidden=(width,), activations=("tanh",))
    except ValueError:
        assert not allowed
    else:
        assert allowed


@contextmanager
def without_root():
    r"""Run the block as user ``nobody`` if running as root, for whom permission bits do not bind."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


def test_an_output_in_a_read_only_directory_is_refused(capsys):
    with tempfile.TemporaryDirectory() as outer:     # in /tmp: reachable by nobody, unlike tmp_path
        os.chmod(outer, 0o755)
        directory = os.path.join(outer, "read-only")
        os.mkdir(directory, 0o555)
        with without_root():
            line = refused(["--json", os.path.join(directory, "out.json")], capsys, directory)
        os.chmod(directory, 0o755)
    assert line == f"--json {directory}/out.json: Permission denied"


OUTPUTS = {      # each the operating system's own reason
    "--json /proc/out.json": "--json /proc/out.json: No such file or directory",
    "--save-weights {tmp}/" + "w" * 256: "--save-weights {tmp}/" + "w" * 256 + ": File name too long",
    "--json {tmp}": "--json {tmp}: Is a directory",
    "--json {tmp}/notes.txt/out.json": "--json {tmp}/notes.txt/out.json: Not a directory",
    "--json {tmp}/no/out.json": "--json {tmp}/no/out.json: No such file or directory",
    "--json - --save-weights -": "--json and --save-weights name the same file, -; give each output its own",
    "--json {tmp}/out.png --plot {tmp}/./out.png":
        "--json and --plot name the same file, {tmp}/./out.png; give each output its own",
    "--save-weights {tmp}/out --json {tmp}/link":
        "--json and --save-weights name the same file, {tmp}/out; give each output its own",
    "--save-weights {tmp}/w.txt": "--save-weights {tmp}/w.txt: end the name in .npz, .pt or .pth, what it writes",
    "--animate {tmp}/run.mp4": "--animate {tmp}/run.mp4: end the name in .gif, what it writes",
}


@pytest.mark.parametrize("args", OUTPUTS)
def test_an_output_that_cannot_be_written_is_refused_before_training(args, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file, not a directory")
    os.symlink(tmp_path / "out", tmp_path / "link")
    line = refused([arg.format(tmp=tmp_path) for arg in args.split()], capsys, tmp_path)
    assert line == OUTPUTS[args].format(tmp=tmp_path)


def run_compare(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "compare", "--epochs", "2", *args], cwd=ROOT, text=True, **kwargs)


def test_json_to_standard_output_is_the_whole_of_it(capsys):
    status, out, err = run_cli(["--epochs", "2", "--json", "-"], capsys)
    assert status == 0 and json.loads(out)["verdict"] == "AGREE"
    assert "AGREE: " in err                           # the report went to standard error


def test_json_to_dev_stdout_follows_the_summary_in_the_same_file(tmp_path):
    with open(tmp_path / "out.txt", "w") as out:
        assert run_compare("--quiet", "--json", "/dev/stdout", stdout=out).returncode == 0
    text = (tmp_path / "out.txt").read_text()
    summary, _, document = text.partition("\n{")
    assert summary.startswith("Summary: ") and json.loads("{" + document)["verdict"] == "AGREE"


def test_an_output_to_a_device_is_written_to_it(capsys):
    status, _, err = run_cli(["--epochs", "1", "--quiet", "--json", "/dev/null"], capsys)
    assert status == 0 and err == "" and os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_an_output_may_replace_the_weights_it_started_from(tmp_path, capsys):
    path = tmp_path / "w.npz"
    np.savez(path, **manual.NeuralNetwork(rng=np.random.default_rng(0)).state_dict())
    before = dict(np.load(path))
    status, _, err = run_cli(["--epochs", "1", "--quiet", "--weights", str(path), "--save-weights", str(path)], capsys)
    after = dict(np.load(path))
    assert status == 0 and err == "" and list(after) == list(before)
    assert not np.array_equal(after["layer1.weight"], before["layer1.weight"])
    assert os.listdir(tmp_path) == ["w.npz"]


@pytest.mark.parametrize("umask, mode", [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)], ids=oct)
def test_outputs_get_the_mode_the_umask_gives(umask, mode, tmp_path):
    saved = os.umask(umask)
    try:
        write_output(str(tmp_path / "out.txt"), lambda f: f.write(b"text"))
    finally:
        os.umask(saved)
    assert stat.S_IMODE(os.stat(tmp_path / "out.txt").st_mode) == mode


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def write(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_output(str(path), write)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]


def test_a_stop_signal_is_one_line_exit_128_plus_signal_and_no_file(tmp_path):
    command = [sys.executable, "-m", "compare", "--epochs", "100000", "--json", str(tmp_path / "out.json")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = process.stdout.readline()          # after the first epoch: it is training
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()                                  # does nothing unless something above failed
    assert first_line.startswith("[Epoch   1/100000]")
    assert process.returncode == 128 + signal.SIGTERM
    assert err == "interrupted by SIGTERM\n"
    assert os.listdir(tmp_path) == []


def test_ctrl_c_is_one_line_exit_130(capsys):
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.run(lambda: os.kill(os.getpid(), signal.SIGINT))   # options.run installs its handler first
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert exit_.value.code == 130 and capsys.readouterr().err == "interrupted by SIGINT\n"


def test_weights_from_a_device_are_refused_unread(capsys, tmp_path):
    assert refused(["--weights", "/dev/zero"], capsys, tmp_path) == "--weights /dev/zero: not a regular file"


def test_a_closed_standard_output_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(SystemExit) as exit_:
        cli.run(lambda: 0)
    assert exit_.value.code == 2 and capsys.readouterr().err == "error: standard output is closed\n"


def test_a_figure_format_matplotlib_does_not_write_is_refused_before_training(tmp_path, capsys):
    line = refused(["--plot", str(tmp_path / "run.foo")], capsys, tmp_path)
    assert line.startswith(f"--plot {tmp_path / 'run.foo'}: no figure is written as .foo here; end the name in ")
    assert refused(["--plot", str(tmp_path / "run.pgf")], capsys, tmp_path).startswith(
        f"--plot {tmp_path / 'run.pgf'}: no figure is written as .pgf here")           # it would need LaTeX
    assert ".pdf, " in line and ".png, " in line and ".svg, " in line       # as many as this matplotlib writes


@pytest.mark.parametrize("name, magic", [("run.jpg", b"\xff\xd8\xff"), ("run.pdf", b"%PDF"), ("run.svg", b"<?xml"),
                                         ("run", b"\x89PNG")])
def test_a_figure_is_written_in_its_extension_s_format(name, magic, tmp_path, capsys):
    status, _, err = run_cli(["--epochs", "1", "--quiet", "--plot", str(tmp_path / name)], capsys)
    assert status == 0 and err == "" and (tmp_path / name).read_bytes().startswith(magic)


def test_weights_saved_as_pt_are_a_torch_state_dict_that_loads_back(tmp_path, capsys):
    for name in ("w.pt", "w.npz"):
        assert run_cli(["--epochs", "1", "--quiet", "--save-weights", str(tmp_path / name)], capsys)[0] == 0
    saved = torch.load(tmp_path / "w.pt", weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in saved.values())
    with np.load(tmp_path / "w.npz") as npz:
        assert {name: value.numpy().tolist() for name, value in saved.items()} == {
            name: npz[name].tolist() for name in npz.files}
    assert run_cli(["--epochs", "1", "--quiet", "--weights", str(tmp_path / "w.pt")], capsys)[0] == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_an_output_to_a_named_pipe_keeps_its_reader(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE) as reader:
        run_compare("--quiet", "--json", str(fifo), timeout=120, check=True, capture_output=True)
        out, _ = reader.communicate(timeout=60)
    assert json.loads(out)["verdict"] == "AGREE"                    # the reader got the whole of it
