"""Hayou (TMLR 2023) Prop. 1: the rate at which depth-L ResNets approach the SDE, measured."""

import numpy as np
import sympy as sp

from symkernel.sde import ks_edgeworth, strong_error_constant
from symkernel.validate.resnet import rate_check


def test_edgeworth_constant_by_an_independent_grid():
    """C = sup |phi(u) p(u)| from the exact cubic critical points, against a dense grid."""
    d = ks_edgeworth()
    u = np.linspace(-8, 8, 400001)
    p = d["p"]
    grid = np.abs(np.exp(-u**2 / 2) / np.sqrt(2 * np.pi)
                  * sp.lambdify(sp.Symbol("u", real=True), p)(u)).max()
    assert abs(float(d["C"]) - grid) < 1e-9
    assert strong_error_constant(2, 3) == 6 / sp.sqrt(sp.pi)


def test_rate_of_prop1_measured():
    """Strong error (same Brownian path): slope -1/2 and constant 1/sqrt(pi), as Prop. 1's bound.
    Law (KS distance): slope -1 and constant C/L (weak order 1); the slope -1/2 is rejected."""
    res = rate_check(depths=(16, 32, 64), n_paths=200000, coupled_paths=20000, seed=0)
    assert abs(res["strong_slope"] + 0.5) < 4 * res["strong_slope_se"]
    assert abs(res["strong_slope"] + 1.0) > 4 * res["strong_slope_se"]
    last = res["rows"][-1]
    assert abs(last["strong"] - last["strong_theory"]) < 4 * last["strong_se"]
    assert abs(res["ks_slope"] + 1.0) < 4 * res["ks_slope_se"]
    assert abs(res["ks_slope"] + 0.5) > 4 * res["ks_slope_se"]
    for r in res["rows"]:       # KS signal well above the Monte-Carlo floor 0.87/sqrt(N)
        assert r["ks"] > 4 * res["ks_floor"]
