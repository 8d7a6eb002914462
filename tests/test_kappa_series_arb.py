"""Certified kernel values of analytic activations from the Arb Hermite series, near |rho| = 1.

The Hermite coefficients come from ``kernels.hermite_panels`` (Arb balls through the exponential
generating function of He_k); each check here is against a path that shares none of that code:

* c_k against ``mpmath.quad`` of ``sigma He_k phi`` with He_k by its recurrence in this file;
* sigma_hat(rho) near |rho| = 1 against a 2-D trapezoidal rule in the rotated variables
  ``X = aU + bV``, ``Y = aU - bV`` (``a = sqrt((1+rho)/2)``, ``b = sqrt((1-rho)/2)``), written here
  in mpmath; the trapezoidal reference is itself checked at two step sizes.

Each enclosure must contain the reference and must exclude a value wrong in the 20th digit (the
28th for c_k): a wrong kernel is rejected.  The float64 kernel of a steep tanh (nested panels
sized by the analyticity strip, ``kernels.nested``) is checked against a float64 2-D trapezoidal
rule written here.
"""
import mpmath
import numpy as np
import pytest

import symkernel as sk
from symkernel.kernels.hermite_panels import _certified_coefficients


def _he(k, t):
    """He_k(t) / sqrt(k!) by the three-term recurrence (written here, not the package's)."""
    prev, cur = mpmath.mpf(0), mpmath.mpf(1)
    for j in range(k):
        prev, cur = cur, (t * cur - mpmath.sqrt(j) * prev) / mpmath.sqrt(j + 1)
    return cur


def _sigmoid(t):
    return 1 / (1 + mpmath.exp(-t))


@pytest.mark.parametrize("name, fn, ks", [("tanh", mpmath.tanh, (1, 2, 29)), ("sigmoid", _sigmoid, (0, 9)),
                                          ("arctan", mpmath.atan, (1, 13))])   # panels off its cuts
def test_arb_hermite_coefficients_contain_mpmath_quadrature(name, fn, ks):
    mids, errs = _certified_coefficients(sk.activation(name), 30, 30)
    with mpmath.workdps(38):
        pts = [-mpmath.inf, *range(-12, 13, 2), mpmath.inf]
        for k in ks:
            ref = mpmath.quad(lambda t: fn(t) * _he(k, t) * mpmath.exp(-t * t / 2), pts)
            ref /= mpmath.sqrt(2 * mpmath.pi)
            if abs(ref) < mpmath.mpf(10) ** -35:                 # tanh's even c_k are 0
                assert abs(mids[k]) <= errs[k] + mpmath.mpf(10) ** -35
                continue
            assert abs(mids[k] - ref) <= errs[k] + abs(ref) * mpmath.mpf(10) ** -37, (name, k)
            assert errs[k] <= abs(ref) * mpmath.mpf(10) ** -30, (name, k)
            wrong = ref * (1 + mpmath.mpf(10) ** -28)
            assert abs(mids[k] - wrong) > errs[k], (name, k)


def _rotated_trapezoid(fn, r, hu, hv, L=12):
    """E[fn(X) fn(Y)], corr(X, Y) = r, by the 2-D trapezoidal rule in U, V (X = aU + bV,
    Y = aU - bV): exponentially accurate for an integrand analytic in a strip."""
    a, b = mpmath.sqrt((1 + r) / 2), mpmath.sqrt((1 - r) / 2)
    us = [hu * i for i in range(-int(L / hu), int(L / hu) + 1)]
    vs = [hv * j for j in range(0, int(L / hv) + 1)]            # V -> -V swaps X and Y
    wu = [mpmath.exp(-u * u / 2) for u in us]
    total = mpmath.mpf(0)
    for j, v in enumerate(vs):
        inner = mpmath.fsum(w * fn(a * u + b * v) * fn(a * u - b * v) for u, w in zip(us, wu))
        total += inner * mpmath.exp(-v * v / 2) * (1 if j == 0 else 2)
    return total * hu * hv / (2 * mpmath.pi)


@pytest.mark.parametrize("name, fn, r, hu, hv", [
    ("tanh", mpmath.tanh, "0.999", 0.12, 0.5),      # strips |Im U| < pi/(2a), |Im V| < pi/(2b)
    ("sigmoid", _sigmoid, "-0.95", 0.5, 0.22),      # |Im U| < pi/a, |Im V| < pi/b
])
def test_certified_kernel_near_one_contains_the_2d_trapezoid(name, fn, r, hu, hv):
    rho = mpmath.mpf(float(r))          # a binary double: the package takes it bit for bit
    res = sk.dual_kernel(name).result(rho, dps=30)
    assert res.certified and "proven c_k" in res.method
    assert res.error <= abs(res.value) * mpmath.mpf(10) ** -32
    with mpmath.workdps(34):
        ref = _rotated_trapezoid(fn, rho, mpmath.mpf(hu), mpmath.mpf(hv))
        finer = _rotated_trapezoid(fn, rho, mpmath.mpf(hu) * 0.8, mpmath.mpf(hv) * 0.8)
        ref_err = abs(ref - finer)
        assert ref_err <= abs(ref) * mpmath.mpf(10) ** -26          # the reference converged
        assert abs(res.value - finer) <= res.error + 10 * ref_err + abs(ref) * mpmath.mpf(10) ** -31
        wrong = finer * (1 + mpmath.mpf(10) ** -20)                     # a kernel off in digit 20
        assert abs(res.value - wrong) > res.error + 10 * ref_err


def test_tanh_gain_two_at_20_digits_is_returned_and_right():
    """Was a PrecisionError (issue 15): a value asked at 20 digits must come back."""
    kmap = sk.kernel_map("tanh", gain=2)
    res = kmap.result(0.95, dps=20)
    assert res.error <= abs(res.value) * mpmath.mpf(10) ** -22

    def fn(t):
        return mpmath.tanh(2 * t)
    with mpmath.workdps(34):
        rho = mpmath.mpf(0.95)          # the binary double 0.95 asked for, exactly
        refs = []
        for hu in ("0.08", "0.064"):    # strip |Im U| < pi/(4a): trapezoidal error ~ e^(-2 pi 0.79/h)
            num = _rotated_trapezoid(fn, rho, mpmath.mpf(hu), mpmath.mpf("0.4"))
            m2 = _rotated_trapezoid(fn, mpmath.mpf(1), mpmath.mpf(hu), mpmath.mpf("0.4"))
            refs.append(num / m2)
        ref = refs[1]
        assert abs(refs[0] - ref) <= abs(ref) * mpmath.mpf(10) ** -23     # the reference converged
        assert abs(res.value - ref) <= res.error + abs(ref) * mpmath.mpf(10) ** -24
        assert abs(kmap(0.95, dps=20) - ref) <= abs(ref) * mpmath.mpf(10) ** -19
        assert abs(res.value - ref * (1 + mpmath.mpf(10) ** -19)) > res.error


def _float_rotated_trapezoid(fn, r, h=0.04, L=12.0):
    """float64 E[fn(X) fn(Y)] by the 2-D trapezoidal rule in U, V (NumPy, written here)."""
    a, b = np.sqrt((1 + r) / 2), np.sqrt((1 - r) / 2)
    u = np.arange(-L, L + h / 2, h)
    w = np.exp(-u * u / 2)
    vals = fn(a * u[:, None] + b * u[None, :]) * fn(a * u[:, None] - b * u[None, :])
    return float(w @ vals @ w) * h * h / (2 * np.pi)


@pytest.mark.parametrize("gain", [2.5, 4])
def test_float64_kernel_of_steep_tanh_against_a_2d_trapezoid(gain):
    """tanh(alpha x), alpha >= 2.5, raised 'float64 panels / Chebyshev in s disagree' (its poles
    at i pi/(2 alpha) are closer than the panels were wide); now within 1e-13 on [-1, 1]."""
    act = sk.activation("tanh", gain=gain)
    rs = np.array([-0.999, -0.95, -0.5, 0.3, 0.9, 0.95, 0.995])
    got = sk.dual_kernel(act).numpy(rs)

    def fn(t):
        return np.tanh(gain * t)
    want = np.array([_float_rotated_trapezoid(fn, r) for r in rs])
    m2 = _float_rotated_trapezoid(fn, 1.0)
    assert np.max(np.abs(got - want)) <= 1e-13 * m2
    assert np.max(np.abs(got - want * (1 + 1e-10))) > 1e-13 * m2        # a wrong kernel is seen
