import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

from compare.pair import TOLERANCES

# Both everyday profiles are derandomized: the same examples on every run, so the Quick start and CI
# never fail by luck. "dev" (default) is quick; CI=true selects "ci", 200 examples per property.
# HYPOTHESIS_PROFILE=explore draws fresh random examples, 1000 per property, to hunt for new cases.
settings.register_profile("dev", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))


def assert_close(actual, expected, dtype, what):
    r"""``|actual - expected| <= atol + rtol |expected|`` with the project's tolerance (docs/agreement.md) for ``dtype``."""
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


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
