import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

from compare.__main__ import main as compare_main
from compare.core import Pair, Source
from compare.core.pair import TOLERANCES
from compare.core.source import initial_weights

# Both everyday profiles are derandomized: the same examples on every run, so the Quick start and CI
# never fail by luck. "dev" (default) is quick; CI=true selects "ci", 200 examples per property.
# HYPOTHESIS_PROFILE=explore draws fresh random examples, 1000 per property, to hunt for new cases.
settings.register_profile("dev", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev")
settings.load_profile(PROFILE)


def pytest_configure(config):
    r"""Under ``-n``, one thread per worker: two workers on two cores, not four threads fighting for them (the
    commands and kernels a test starts inherit ``OMP_NUM_THREADS``)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
        os.environ["OMP_NUM_THREADS"] = "1"


def pytest_collection_modifyitems(config, items):
    r"""The quick dev profile leaves out the tests that run a notebook in a fresh kernel; the ci profile
    (``CI=true``) and ``-m notebook`` run them."""
    if PROFILE != "dev" or "notebook" in config.getoption("markexpr"):
        return
    skip = pytest.mark.skip(reason="runs a notebook in a kernel: CI=true python -m pytest (or -m notebook) runs it")
    for item in items:
        if "notebook" in item.keywords:
            item.add_marker(skip)


def to_torch(state_dict):
    r"""Copy a NumPy state dict into new tensors (``torch.from_numpy`` would share memory)."""
    return {name: torch.tensor(value) for name, value in state_dict.items()}


def make_pair(config, rng=None, weights=None):
    r"""Both models with identical weights: ``weights``, or drawn from ``rng`` with ``config.init``, or by default
    the run's own initial weights."""
    if weights is None:
        weights = Source(config).weights if rng is None else initial_weights(config, rng)
    return Pair(config, weights).models


def assert_close(actual, expected, dtype, what):
    r"""``|actual - expected| <= atol + rtol |expected|`` with the project's tolerance (docs/agreement.md) for
    ``dtype``."""
    tol = TOLERANCES[np.dtype(dtype).name]
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    np.testing.assert_allclose(actual, expected, atol=tol["atol"], rtol=tol["rtol"], err_msg=what)


def run_main(main, args, capsys):
    r"""Run a command's ``main(argv)`` in-process; return (exit status, stdout, stderr)."""
    try:
        status = main(args)
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def run_cli(args, capsys):
    r"""Run ``python -m compare`` in-process; return (exit status, stdout, stderr)."""
    return run_main(compare_main, args, capsys)


def refused(args, capsys, directory, main=compare_main):
    r"""Run a command on bad input: exit 2, one ``error:`` line, no warning, no training, nothing
    written in ``directory``; return the line without ``error: ``."""
    before = sorted(os.listdir(directory))
    with warnings.catch_warnings(record=True) as caught:    # a warning would be a second line
        warnings.simplefilter("always")
        status, out, err = run_main(main, ["--epochs", "1", *args] if main is compare_main else args, capsys)
    assert [str(w.message) for w in caught] == []
    assert status == 2 and out == "", (status, out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert sorted(os.listdir(directory)) == before
    return err.removeprefix("error: ").removesuffix("\n")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
