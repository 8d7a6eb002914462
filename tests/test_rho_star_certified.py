"""The certified case-4 fixed point rho* of Theorem 1 (Joudaki & Hofmann, AISTATS 2025).

Each enclosure is checked against a root found by ``mpmath.findroot`` on a kernel map written
here, independently of the package: Sheppard's formula for the step function, the GELU dual
kernel (itself checked by a tensor Gauss-Hermite rule), the ELU kernel by 1-D quadrature of
elu(x) times the Gaussian expectation E_W[elu(rho x + s W)] in closed form.
"""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from flint import arb

import symkernel as sk
from symkernel.numerics import working
from symkernel.numerics.arb import NotCertifiable, compile_real

REF = 50


def _root(kappa, lo, hi, dps=REF):
    with mpmath.workdps(dps):
        return mpmath.findroot(lambda r: kappa(r) - r, (mpmath.mpf(lo), mpmath.mpf(hi)),
                               solver="anderson")


def _encloses(q, dps, ref):
    """The Result of q at dps contains ref, with a radius that supports dps digits."""
    res = q.result(dps)
    with mpmath.workdps(REF):
        assert abs(res.value - ref) <= res.error, (q.symbol, res.value, ref, res.error)
        assert res.error <= abs(ref) * mpmath.mpf(10) ** -(dps + 1)
    assert res.certified and q.kind == "certified"


def _step(r):
    return mpmath.mpf(1) / 2 + mpmath.asin(r) / mpmath.pi


def _gelu_hat(r):
    """E[X Phi(X) Y Phi(Y)] for unit normals with correlation r (unnormalized)."""
    return (r / 4 + r * mpmath.asin(r / 2) / (2 * mpmath.pi)
            + 1 / (2 * mpmath.pi * mpmath.sqrt(4 - r * r)))


def test_compile_real_asin_acos_sqrt_against_mpmath():
    r = sp.Symbol("r")
    expr = sp.asin(r / 2) * sp.sqrt(1 - r**2) + sp.acos(r) / sp.sqrt(4 - r**2)
    f = compile_real(expr, r)
    with working(40):
        ball = f(arb(3) / 10)
        with mpmath.workdps(60):
            x = mpmath.mpf(3) / 10
            ref = mpmath.asin(x / 2) * mpmath.sqrt(1 - x**2) + mpmath.acos(x) / mpmath.sqrt(4 - x**2)
            mid, rad = mpmath.mpf(ball.mid().str(60, radius=False)), mpmath.mpf(ball.rad().str(5, radius=False))
            assert abs(mid - ref) <= rad + mpmath.mpf(10) ** -58 and rad < mpmath.mpf(10) ** -35
        with pytest.raises(NotCertifiable):        # asin(2) is not real
            f(arb(2) * 2)


def test_step_rho_star_kappa_prime_and_rate_certified():
    """kappa_step = 1/2 + asin(rho)/pi (Sheppard): rho*, kappa'(rho*), the case-4 rate."""
    dyn = sk.kernel_dynamics("step")
    assert dyn.case == 4 and dyn.fixed_point.kind == "certified"
    star = _root(_step, "0.7", "0.9")
    with mpmath.workdps(REF):
        kps = 1 / (mpmath.pi * mpmath.sqrt(1 - star**2))
        rate = max(mpmath.mpf(1) / 2, kps, (1 - star) / (2 - kps))
    for dps in (15, 40):
        _encloses(dyn.fixed_point, dps, star)
    _encloses(dyn.kappa_prime_star, 25, kps)
    _encloses(dyn.rate, 25, rate)
    _encloses(dyn.kappa_star, 25, star)


def test_gelu_rho_star_certified_against_the_literature_kernel():
    # the formula above, checked first by a 2-D Gauss-Hermite rule (GELU is entire: fast)
    t, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    erf = np.vectorize(math.erf)
    phi = 0.5 * (1 + erf(t / math.sqrt(2)))
    gelu = t * phi
    for r in (0.3, 0.76):
        y = r * t[:, None] + np.sqrt(1 - r * r) * t[None, :]
        gy = y * 0.5 * (1 + erf(y / math.sqrt(2)))
        num = np.einsum("i,j,i,ij->", w, w, gelu, gy)
        assert abs(num - float(_gelu_hat(mpmath.mpf(r)))) < 1e-12
    dyn = sk.kernel_dynamics("gelu")
    assert dyn.case == 4 and dyn.fixed_point.kind == "certified"
    star = _root(lambda r: _gelu_hat(r) / _gelu_hat(mpmath.mpf(1)), "0.7", "0.8")
    _encloses(dyn.fixed_point, 20, star)
    assert dyn.rate.kind == "certified"


def _elu_kernel(dps):
    """kappa_elu(r) = E[elu(X) elu(Y)] / E[elu(X)^2] by 1-D quadrature (alpha = 1)."""
    def inner(a, s):   # E[elu(a + s W)]
        z = a / s
        cdf = lambda v: mpmath.ncdf(v)
        return (a * cdf(z) + s * mpmath.npdf(z) + mpmath.exp(a + s * s / 2) * cdf(-z - s) - cdf(-z))

    def elu(v):
        return v if v > 0 else mpmath.expm1(v)

    def hat(r):
        s = mpmath.sqrt(1 - r * r)
        return mpmath.quad(lambda x: elu(x) * inner(r * x, s) * mpmath.npdf(x), [-mpmath.inf, 0, mpmath.inf])
    with mpmath.workdps(dps):
        norm = mpmath.quad(lambda x: elu(x) ** 2 * mpmath.npdf(x), [-mpmath.inf, 0, mpmath.inf])
    return lambda r: hat(r) / norm


def test_elu_rho_star_certified_from_the_inner_form():
    """ELU has no closed form: the ends are certified by the kernel's Arb inner-form path."""
    dyn = sk.kernel_dynamics("elu")
    assert dyn.case == 4 and dyn.fixed_point.kind == "certified"
    kappa = _elu_kernel(15)
    star = _root(kappa, "0.59", "0.61", dps=15)
    _encloses(dyn.fixed_point, 8, star)
    with mpmath.workdps(15):   # a sign change of the independent g at the ends of the enclosure
        res = dyn.fixed_point.result(8)
        assert kappa(res.value - res.error) > res.value - res.error
        assert kappa(res.value + res.error) < res.value + res.error
