"""Theorem 1 case 4 (Joudaki & Hofmann (AISTATS 2025)): rho* of GELU from its float64 seed and
certified refinement, against a two-dimensional Gauss-Hermite quadrature written here."""
import math

import mpmath
import numpy as np

import symkernel as sk


def _gelu_kernel_map(r, n=120):
    """kappa(r) = E[g(X) g(rX + sqrt(1-r^2) W)] / E[g(X)^2], g = GELU, by Gauss-Hermite in (X, W)."""
    t, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / math.sqrt(2 * math.pi)
    erf = np.vectorize(math.erf)
    g = lambda u: u * (1 + erf(u / math.sqrt(2))) / 2      # noqa: E731
    X, W = np.meshgrid(t, t, indexing="ij")
    ww = np.outer(w, w)
    y = r * X + math.sqrt(1 - r * r) * W
    return float(np.sum(ww * g(X) * g(y)) / np.sum(w * g(t) ** 2))


def test_gelu_fixed_point_against_gauss_hermite():
    dyn = sk.kernel_dynamics("gelu")
    assert dyn.case == 4
    star = dyn.fixed_point.value(30)
    assert abs(dyn._float_root() - float(star)) < 1e-13      # the float64 seed, refined grids
    r = float(star)
    assert abs(_gelu_kernel_map(r) - r) < 1e-12               # kappa(rho*) = rho*
    for wrong in (r - 1e-7, r + 1e-7):                          # a wrong rho* is seen: slope 0.93
        assert abs(_gelu_kernel_map(wrong) - wrong) > 2e-9
    with mpmath.workdps(30):
        assert abs(dyn.kappa_star.value(30) - star) < mpmath.mpf(10) ** -28
