"""The fast kernel paths of issue 15, each against a path that shares none of its code.

* Proven Hermite coefficients from Gauss-Legendre panels (``kernels.hermite_panels``) against
  direct ``mpmath.quad`` of ``sigma he_k phi``: the difference lies inside the proven radius.
* The certified Hermite-series kernel value against a float64 tensor Gauss-Hermite rule (NumPy).
* The softsign angle integral (``kernels.polar``) against nested float64 Gauss-Legendre panels
  split at the kink.
"""
import mpmath
import numpy as np
import pytest

import symkernel as sk
from symkernel.kernels.hermite_panels import _certified_coefficients
from symkernel.kernels.polar import softsign_dual


def test_panel_coefficients_inside_their_radius():
    act = sk.activation("softplus")
    mids, errs = _certified_coefficients(act, 12, 25)
    assert max(errs) < mpmath.mpf(10) ** -30
    with mpmath.workdps(40):
        for k in (0, 1, 5, 12):
            he = mpmath.mpf(1) / mpmath.sqrt(mpmath.factorial(k))
            ref = mpmath.quad(lambda t: mpmath.log(1 + mpmath.exp(t)) * mpmath.hermite(k, t / mpmath.sqrt(2))
                              * 2 ** (-mpmath.mpf(k) / 2) * he * mpmath.exp(-t * t / 2), [-mpmath.inf, 0, mpmath.inf])
            ref /= mpmath.sqrt(2 * mpmath.pi)
            assert abs(mids[k] - ref) <= errs[k] + mpmath.mpf(10) ** -38, k


def _gauss_hermite(f, r, n=120):
    """E[f(X) f(rho X + s W)] by a float64 tensor Gauss-Hermite rule (NumPy only)."""
    t, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / np.sqrt(2 * np.pi)
    s = np.sqrt(1 - r * r)
    return float(w @ (f(t)[:, None] * f(r * t[:, None] + s * t[None, :])) @ w)


@pytest.mark.parametrize("name, r", [("sigmoid", -0.6), ("tanh", 0.9)])
def test_certified_series_against_gauss_hermite(name, r):
    res = sk.dual_kernel(name).result(r, dps=30)
    assert res.certified and res.error <= abs(res.value) * mpmath.mpf(10) ** -32
    f = {"sigmoid": lambda t: 1 / (1 + np.exp(-t)), "tanh": np.tanh}[name]
    ref = _gauss_hermite(f, r)
    assert abs(float(res.value) - ref) <= abs(ref) * 1e-12


def _panels(edges, n=40):
    t, w = np.polynomial.legendre.leggauss(n)
    nodes = [(b - a) / 2 * t + (a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    weights = [(b - a) / 2 * w for a, b in zip(edges[:-1], edges[1:])]
    return np.concatenate(nodes), np.concatenate(weights)


def _softsign_nested(r):
    """E[sigma(X) sigma(rho X + s W)] for the softsign by nested float64 Gauss-Legendre panels,
    the inner split at the kink w = -rho x / s, the outer graded towards 0 (scale s/|rho|)."""
    s = np.sqrt(1 - r * r)
    grade = [s / abs(r) * 2.0 ** j for j in range(-2, 12) if s / abs(r) * 2.0 ** j < 10]
    xs, xw = _panels(sorted({-10.0, 10.0, 0.0, *grade, *[-g for g in grade]}))
    sig = lambda u: u / (1 + np.abs(u))
    total = 0.0
    for x0, wx in zip(xs, xw):
        kink = -r * x0 / s
        edges = sorted({-10.0, 10.0, *([kink] if abs(kink) < 10 else []),
                        *[kink + d for d in (-1, 1) if abs(kink + d) < 10]})
        ws, ww = _panels(edges)
        total += wx * sig(x0) * np.exp(-x0 * x0 / 2) * (ww * np.exp(-ws * ws / 2)) @ sig(r * x0 + s * ws)
    return total / (2 * np.pi)


@pytest.mark.parametrize("r", ["0.3", "-0.95", "0.999"])
def test_softsign_angle_integral_against_nested_quadrature(r):
    value = softsign_dual(mpmath.mpf(r), 15)
    ref = _softsign_nested(float(r))
    assert abs(float(value) - ref) <= abs(ref) * 1e-11
    if r == "0.3":      # the package path: the same angle integral in Arb, certified
        res = sk.kernel_map("softsign").result(r, dps=20)
        assert res.certified and "angle integral" in res.method
