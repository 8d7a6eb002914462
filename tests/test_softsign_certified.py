"""The certified softsign kernel (``kernels.polar_certified``: Arb angle integral) against a nested
2-D Gauss-Legendre quadrature written here, which shares none of its code or formulas.

The reference integrates ``E[sigma(X) sigma(Y)]`` in rotated Cartesian coordinates
``X = (c p + d m)/sqrt 2``, ``Y = (c p - d m)/sqrt 2`` (``c = sqrt(1 + rho)``, ``d = sqrt(1 - rho)``,
``p, m`` independent standard normals), so that the Gaussian weight has unit scale in both
variables at every rho (0.999 included).  The integrand is even in ``p`` and in ``m``; on
``p, m > 0`` ``X > 0``, and the ``p`` integral is split at ``Y = 0`` (``p = m d/c``).  30-point
Gauss-Legendre panels of width <= 1 on ``[0, 13.5]^2`` (the neglected Gaussian mass is below
1e-40; the nearest pole of a softsign piece is at distance >= 1 from a panel, so each panel
converges like 5.8^-60).  At 38 working digits it agrees with nested ``mpmath.quad`` (tanh-sinh,
38 digits, 40-100 s each; not run here) to every digit at rho = 0.3, 0.9, 0.999.
"""
import mpmath
import pytest
import sympy as sp
from flint import arb

import symkernel as sk
from symkernel.kernels.polar_certified import softsign_result, softsign_series_result
from symkernel.numerics import working


def _gauss_legendre(n, digits):
    with mpmath.workdps(digits + 10):
        X, W = mpmath.gauss_quadrature(n, "legendre")
        return [arb(mpmath.nstr(v, digits + 8)) for v in X], [arb(mpmath.nstr(v, digits + 8)) for v in W]


def _nodes(edges, t, w):
    for a, b in zip(edges[:-1], edges[1:]):
        h, mid = (b - a) / 2, (b + a) / 2
        for ti, wi in zip(t, w):
            yield mid + h * ti, h * wi


def _grid(lo, hi):
    """Edges of panels of width <= 1 covering [lo, hi] (floats)."""
    k = max(1, int(hi - lo) + 1)
    return [lo + (hi - lo) * j / k for j in range(k + 1)]


def _nested(r, digits=38, n=30, L=13.5, amplitude=1, gain=1):
    """sigma_hat(r) of ``amplitude * softsign(gain x)`` (gain <= 1: the poles of the pieces stay
    >= 1 away from the kink) by the rotated nested quadrature (module docstring); a midpoint (the
    ball radius is the arithmetic only, not the quadrature error)."""
    with working(digits + 5):
        t, w = _gauss_legendre(n, digits)
        r, g = arb(r), arb(gain)
        c, d = (1 + r).sqrt(), (1 - r).sqrt()
        k = d / c
        rt2 = arb(2).sqrt()
        total = arb(0)
        for m, wm in _nodes([arb(e) for e in _grid(0.0, L)], t, w):
            kink = k * m
            kf = float(kink.mid())
            if 0 < kf < L:          # split at Y = 0
                edges = [arb(e) for e in _grid(0.0, kf)[:-1]] + [kink] + [arb(e) for e in _grid(kf, L)[1:]]
            else:
                edges = [arb(e) for e in _grid(0.0, L)]
            inner = arb(0)
            for p, wp in _nodes(edges, t, w):
                x = (c * p + d * m) / rt2
                y = (c * p - d * m) / rt2
                inner += wp * x / (1 + g * x) * y / (1 + g * abs(y)) * (-p * p / 2).exp()
            total += wm * inner * (-m * m / 2).exp()
        total = 4 * total * (arb(amplitude) * g) ** 2 / (2 * arb.pi())
        return mpmath.mpf(total.mid().str(digits + 5, radius=False))


@pytest.mark.parametrize("r", ["0.3", "0.9", "0.999"])
def test_certified_softsign_ball_contains_the_nested_quadrature(r):
    res = sk.dual_kernel("softsign").result(r, dps=30)
    assert res.certified and res.error <= abs(res.value) * mpmath.mpf(10) ** -32
    with working(45):
        ref = _nested(r)
        slack = abs(ref) * mpmath.mpf(10) ** -36          # the reference's own accuracy (>= 37 digits)
        assert abs(ref - res.value) <= res.error + slack
        # the reference resolves the claimed digits: a ball moved by 1e-31 relative misses it
        moved = res.value * (1 + mpmath.mpf(10) ** -31)
        assert abs(ref - moved) > res.error + slack
    if r == "0.3":
        # a deliberately wrong rho (0.3 + 1e-28) gives a certified ball that excludes the reference
        wrong = softsign_result(sp.Rational(3, 10) + sp.Rational(1, 10**28), 30)
        assert abs(ref - wrong.value) > wrong.error + slack


def test_certified_softsign_kernel_map_labels_signs_and_ends():
    kmap = sk.kernel_map("softsign")
    assert kmap.provenance.startswith("certified") and "angle integral" in kmap.provenance
    up, down = kmap.result("0.999", dps=30), kmap.result("-0.999", dps=30)
    assert up.certified and down.certified
    assert abs(up.value + down.value) <= up.error + down.error   # odd: sigma_hat(-rho) = -sigma_hat(rho)
    assert kmap(1, dps=30) == 1 and kmap(-1, dps=30) == -1 and kmap(0, dps=30) == 0
    # near the ends the kernel map tends to +-1: 1 - kappa(1 - 1e-20) is small but positive
    near = kmap.result(1 - sp.Rational(1, 10**20), dps=25)
    assert near.certified and 0 < 1 - near.value < mpmath.mpf(10) ** -8


def test_small_rho_series_and_angle_integral_agree():
    """At rho = 10^-4 both certified paths apply: the Hermite series with proven c_k (Arb 1-D
    expectations) and the angle integral; their balls must overlap (they share no code)."""
    act = sk.activation("softsign")
    r = sp.Rational(1, 10**4)
    series = softsign_series_result(lambda k, d: sk.hermite_coefficient(act, k).result(d), r, 25)
    polar = softsign_result(r, 25)
    assert series.certified and polar.certified
    assert abs(series.value - polar.value) <= series.error + polar.error
    assert sk.dual_kernel(act).result(sp.Rational(1, 10**300), dps=30).certified   # series: no cancellation


def test_affine_softsign_is_certified_and_contains_the_nested_quadrature():
    """sigma = 1 + 3 softsign(x/2) = 1 + 3x/(2 + |x|): the constant splits off exactly
    (sigma_hat = 1 + tau_hat, tau odd), tau = 3 softsign(x/2) is recognised (b = 3, g = 1/2) and
    its angle integral uses G(a/2, b/2); the ball contains the nested quadrature of tau."""
    act = sk.activation(1 + 3 * sk.x / (2 + sp.Abs(sk.x)))
    kern = sk.dual_kernel(act)
    assert kern.provenance.startswith("certified")
    res = kern.result("0.6", dps=30)
    assert res.certified and res.error <= abs(res.value) * mpmath.mpf(10) ** -32
    with working(45):
        ref = 1 + _nested("0.6", amplitude=3, gain="0.5")
        slack = abs(ref) * mpmath.mpf(10) ** -36
        assert abs(ref - res.value) <= res.error + slack
        assert abs(ref - res.value * (1 + mpmath.mpf(10) ** -31)) > res.error + slack
