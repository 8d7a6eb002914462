"""Shared test configuration: Hypothesis profiles and an mpmath precision guard."""
import os

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
