"""The chaotic-phase default call (issue 11.5): c* from a proven bracket of the correlation map.

``float(mean_field("tanh", 2, 0.05).xi_c)`` takes ``c*`` from secant steps on Arb-enclosed Mehler
values (certified Hermite coefficients, Parseval tail bound) and one proven sign change; ``chi_c*``
from the same coefficients.  Checked against paths that share none of that code, written here:

* q* by mpmath.quad of tanh^2 and mpmath.findroot;
* E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)] by a 2-D trapezoidal rule in the rotated variables
  ``X = aU + bV``, ``Y = aU - bV`` (exponentially accurate for an integrand analytic in a strip),
  itself checked at two step sizes; c* by one Newton step from the float64 root;
* the float64 twin (``MeanField.floats``) to 1e-12.
"""
import mpmath
import pytest

import symkernel as sk


def _pair(fn, q, r, hu, hv, L=12):
    """E[fn(sqrt q X) fn(sqrt q Y)], corr(X, Y) = r, by the rotated 2-D trapezoidal rule with
    steps hu, hv (the strip of analyticity in V is wider: (1 - r) is small)."""
    a, b, s = mpmath.sqrt((1 + r) / 2), mpmath.sqrt((1 - r) / 2), mpmath.sqrt(q)
    us = [hu * i for i in range(-int(L / hu), int(L / hu) + 1)]
    wu = [mpmath.exp(-u * u / 2) for u in us]
    total = 0
    for j in range(0, int(L / hv) + 1):   # V -> -V swaps X and Y: the integrand is even in V
        v = hv * j
        wv = mpmath.exp(-v * v / 2) * (1 if j == 0 else 2)
        total += wv * mpmath.fsum(w * fn(s * (a * u + b * v)) * fn(s * (a * u - b * v))
                                  for u, w in zip(us, wu))
    return total * hu * hv / (2 * mpmath.pi)


def _dtanh(t):
    return 1 / mpmath.cosh(t) ** 2


def test_chaotic_tanh_c_star_and_chi_c_proven_path_against_2d_quadrature():
    mf = sk.mean_field("tanh", 2, 0.05)
    xi = float(mf.xi_c)                                   # the default call
    assert mf._c_root.proven_bracket is not None           # the fast, proven path ran
    assert mf._c_root.ball is not None                     # ... and never fell back to Illinois
    with mpmath.workdps(37):
        # the digits behind the default call: c* proven to 10^-34 (the bracket), chi_c* from the
        # same certified coefficients (its proven error below 10^-29 relative)
        c, chi = mf._c_root.raw(27), mf._runs["chi_c"](27)
        a, b = mf._c_root.proven_bracket
        assert a < c < b and b - a < mpmath.mpf(10) ** -30
        assert abs(mf.c_star.value(17) - c) < mpmath.mpf(10) ** -17     # the Quantity: same root
    with mpmath.workdps(32):
        sw2, sb2 = 2, mpmath.mpf(1) / 20                  # 1/20 at 32 digits, not at 15
        def length(q):
            e = mpmath.quad(lambda z: mpmath.tanh(mpmath.sqrt(q) * z) ** 2 * mpmath.exp(-z * z / 2),
                            [-mpmath.inf, -4, 0, 4, mpmath.inf]) / mpmath.sqrt(2 * mpmath.pi)
            return sw2 * e + sb2 - q
        q = mpmath.findroot(length, mf.floats()["q_star"])
        cf = mpmath.mpf(mf.floats()["c_star"])
        h = (mpmath.mpf("0.14"), mpmath.mpf("0.3"))
        e0 = _pair(mpmath.tanh, q, cf, *h)
        coarse = _pair(mpmath.tanh, q, cf, mpmath.mpf("0.17"), mpmath.mpf("0.35"))
        assert abs(e0 - coarse) < mpmath.mpf(10) ** -27      # the reference's own accuracy
        d0 = _pair(_dtanh, q, cf, *h)
        f0 = (sw2 * e0 + sb2) / q - cf
        c_ref = cf - f0 / (sw2 * d0 - 1)               # Newton: |cf - c*| ~ 1e-16, error ~ 1e-31
        chi_ref = sw2 * _pair(_dtanh, q, c_ref, *h)
        assert abs(c - c_ref) < mpmath.mpf(10) ** -25 * c_ref
        assert abs(chi - chi_ref) < mpmath.mpf(10) ** -25 * chi_ref
        # a c* or chi_c* wrong in the 20th digit is rejected by this reference
        assert abs(c * (1 + mpmath.mpf(10) ** -20) - c_ref) > mpmath.mpf(10) ** -25 * c_ref
        assert abs(chi * (1 + mpmath.mpf(10) ** -20) - chi_ref) > mpmath.mpf(10) ** -25 * chi_ref
        assert abs(xi - float(-1 / mpmath.log(chi_ref))) < 1e-13 * xi
    fl = mf.floats()
    assert abs(fl["c_star"] - float(c_ref)) < 1e-12
    assert abs(fl["chi_c"] - float(chi_ref)) < 1e-12
    assert abs(fl["xi_c"] - xi) < 1e-12 * xi


@pytest.mark.parametrize("act, proven", [("hardtanh", False), ("erf", True), ("sin", True)])
def test_proven_path_where_available_else_the_estimated_one(act, proven):
    """A kinked activation (hard tanh) is outside the certified Hermite class: c* falls back to
    Illinois on Gauss-Legendre coefficients (no proven bracket); analytic ones take the proven
    path.  Either way c* and chi_c* agree with the float64 twin."""
    mf = sk.mean_field(act, 2, 0.05)
    assert mf.phase == "chaotic"
    c, chi = float(mf.c_star), float(mf.chi_c)
    assert (mf._c_root.proven_bracket is not None) == proven
    fl = mf.floats()
    assert abs(c - fl["c_star"]) < 1e-12
    assert abs(chi - fl["chi_c"]) < 1e-12


def test_chaotic_mean_field_pickles_with_its_root():
    """The c* root finder holds methods, not closures: a chaotic MeanField pickles after c* and
    the copy finishes xi_c on the proven path (it used to fail: a local function)."""
    import pickle
    mf = sk.mean_field("tanh", 2, 0.05)
    mf.c_star
    copy = pickle.loads(pickle.dumps(mf))
    assert abs(float(copy.xi_c) - mf.floats()["xi_c"]) < 1e-11 * mf.floats()["xi_c"]
    assert copy._c_root.proven_bracket is not None
