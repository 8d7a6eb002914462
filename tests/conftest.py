"""Shared test configuration: one BLAS thread per xdist worker, Hypothesis profiles and an mpmath
precision guard."""
import os
import sys

if os.environ.get("PYTEST_XDIST_WORKER") and "numpy" not in sys.modules:
    # pytest -n N already runs one process per core; OpenBLAS's own (spinning) threads on top of
    # them oversubscribe the cores: a 256 x 256 QR measured 0.12 s with 2 threads per worker
    # against 4 ms with 1 (benchmarks/simulate.py says the same).  Set before numpy loads
    # OpenBLAS; subprocesses (notebook kernels, the docs build) inherit it.  An explicit
    # setting in the environment wins.
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import mpmath
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _restore_mpmath_precision():
    """Every test starts at mpmath's default precision and may not leave it changed."""
    mpmath.mp.dps = 15
    yield
    changed = mpmath.mp.dps
    mpmath.mp.dps = 15
    assert changed == 15, f"a test left mpmath.mp.dps at {changed}"
