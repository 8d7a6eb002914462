"""The first kernel call of a fresh process (issue 11.5) and arctan's 30-digit kappa near 1
(issue 15.5), each against a path that shares none of the package's code.

* sigma by the NumPy expression tree of ``kernels.hermite_squares`` against SymPy's lambdify;
* the float64 Hermite coefficients, stopped where their squares become negligible, against
  ``mpmath.quad`` of ``sigma he_k phi`` (He_k by a recurrence written here), and the first float64
  kernel map against a tensor Gauss-Hermite rule (NumPy);
* the proven c_k of ``kernels.hermite_panels`` with the local moments cut at ``M < K`` (and the
  parity fold) against an mpmath trapezoidal rule on the Hermite functions, checked at two steps;
* arctan's certified kappa(0.999) against a 2-D trapezoidal rule in rotated variables.

Each enclosure must contain its reference and exclude a value wrong in a digit it claims.
"""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.kernels.hermite_panels import _certified_coefficients, _moment_cut
from symkernel.kernels.hermite_squares import (
    FLOAT_BLOCK, FLOAT_NEGLIGIBLE, K_MAX, _float_hermite_squares, _sigma_numpy,
)

ONE_PIECE = ["identity", "exp", "sin", "cos", "erf", "gelu", "gelu_tanh", "softplus", "sigmoid",
             "tanh", "silu", "mish", "arctan", "gaussian"]


@pytest.mark.parametrize("name", ONE_PIECE)
def test_numpy_tree_agrees_with_lambdify(name):
    act = sk.activation(name)
    z = np.linspace(-20, 20, 401)
    with np.errstate(all="ignore"):
        ours = np.broadcast_to(_sigma_numpy(act)(z), z.shape)
        ref = np.broadcast_to(act.numpy()(z), z.shape)
    assert np.array_equal(np.isfinite(ours), np.isfinite(ref))
    ok = np.isfinite(ref)
    assert np.all(np.abs(ours[ok] - ref[ok]) <= 1e-13 * np.abs(ref[ok]) + 1e-300)


def test_numpy_tree_falls_back_outside_its_functions():
    act = sk.activation(sp.erfi(sk.x / 3) + sp.besselj(0, sk.x))      # neither is in its table
    z = np.linspace(-5, 5, 11)
    assert np.allclose(_sigma_numpy(act)(z), act.numpy()(z), rtol=1e-15, atol=0)


def _trapezoid_coefficients(fn, ks, h, L=16):
    """c_k = h sum_j fn(x_j) psi_k(x_j) sqrt(phi(x_j)), x_j = j h (psi_k = he_k sqrt(phi), the
    Hermite functions by their three-term recurrence, written here), for an odd fn (the even c_k
    are 0): exponentially accurate for fn analytic in a strip (tanh: |Im x| < pi/2)."""
    kmax = max(ks)
    out = dict.fromkeys(ks, mpmath.mpf(0))
    roots = [mpmath.sqrt(k) for k in range(kmax + 2)]
    inverse = [1 / r for r in roots[1:]]
    norm = mpmath.power(2 * mpmath.pi, mpmath.mpf(-1) / 4)
    n = int(L / h)
    for j in range(0, n + 1):          # x -> -x: psi_k(-x) = (-1)^k psi_k(x), tanh odd
        t = h * j
        root = mpmath.exp(-t * t / 4) * norm
        weight = fn(t) * root * h * (1 if j == 0 else 2)
        prev, cur = mpmath.mpf(0), root
        for k in range(kmax + 1):
            if k in out and k % 2:
                out[k] += weight * cur
            prev, cur = cur, (t * cur - roots[k] * prev) * inverse[k]
    return out


KS = (1, 3, 21, 41, 155, 156, 157, 160)
_REFERENCE = {}


def _tanh_reference():
    """tanh's c_k for k in KS at two step sizes (30 digits), computed once."""
    if not _REFERENCE:
        with mpmath.workdps(30):
            _REFERENCE["ref"] = _trapezoid_coefficients(mpmath.tanh, KS, mpmath.mpf(1) / 10)
            _REFERENCE["finer"] = _trapezoid_coefficients(mpmath.tanh, KS, mpmath.mpf(1) / 12)
    return _REFERENCE["ref"], _REFERENCE["finer"]


def test_float_coefficients_stop_early_and_match_quadrature():
    act = sk.activation("tanh")
    squares, m2 = _float_hermite_squares(act)
    assert 64 < squares.size < K_MAX + 1                       # stopped on the observed decay
    assert squares[-FLOAT_BLOCK:].sum() < FLOAT_NEGLIGIBLE * m2
    with mpmath.workdps(20):
        pts = [-mpmath.inf, *range(-12, 13, 3), mpmath.inf]
        ref_m2 = mpmath.quad(lambda t: mpmath.tanh(t) ** 2 * mpmath.exp(-t * t / 2), pts)
        ref_m2 /= mpmath.sqrt(2 * mpmath.pi)
    assert abs(m2 - ref_m2) < 1e-16 * ref_m2
    # what the truncation leaves out is below float64 resolution (Parseval)
    assert abs(float(ref_m2) - squares.sum()) < 1e-15 * float(ref_m2)
    ref, _ = _tanh_reference()
    for k in (1, 3, 21, 41, 155, 157):
        assert abs(math.sqrt(squares[k]) - abs(float(ref[k]))) < 1e-15, k


def _rotated_numpy(f, r, h=0.1, L=12.0):
    """E[f(X) f(Y)] by the float64 2-D trapezoidal rule in U, V (X = aU + bV, Y = aU - bV)."""
    a, b = math.sqrt((1 + r) / 2), math.sqrt((1 - r) / 2)
    u = np.arange(-L, L + h / 2, h)
    w = np.exp(-u * u / 2)
    X, Y = a * u[:, None] + b * u[None, :], a * u[:, None] - b * u[None, :]
    return float(w @ (f(X) * f(Y)) @ w) * h * h / (2 * math.pi)


def test_first_float_kernel_map_against_a_2d_trapezoid():
    km = sk.kernel_map(sk.activation("tanh", gain=sp.Rational(13, 10)))   # a fresh activation
    rs = np.array([-0.95, -0.3, 0.0, 0.3, 0.7, 0.99])
    ours = km.numpy(rs)
    f = lambda u: np.tanh(1.3 * u)                      # poles at +-i pi/2.6: strips of width 1.2
    u = np.arange(-12, 12.05, 0.1)
    m2 = float(np.exp(-u * u / 2) @ f(u) ** 2) * 0.1 / math.sqrt(2 * math.pi)
    for r, v in zip(rs, ours):
        ref = _rotated_numpy(f, r) / m2
        assert abs(v - ref) < 1e-13, r
        if abs(ref) > 0.1:                                  # a kernel wrong at 1e-11 is rejected
            assert abs(v - ref * (1 + 1e-11)) > 1e-13


@pytest.mark.parametrize("parity_known", [True, False])
def test_cut_moments_at_high_k_contain_the_trapezoid(parity_known):
    """K = 160 at 20 digits: the local moments are cut far below K (their proven remainder is in
    the radius); the odd c_k near K against the trapezoidal reference, the even ones exactly 0 by
    the parity fold (when tanh's parity is known) or inside their radius (when it is not)."""
    K, dps = 160, 20
    assert _moment_cut(math.sqrt(K), 1.0, 1e-30, K) < K      # the cut is active at this K
    act = sk.activation("tanh")
    if parity_known:
        assert act.strict_parity == "odd"
    mids, errs = _certified_coefficients(act, K, dps)
    ref, finer = _tanh_reference()
    for k in KS:
        assert abs(ref[k] - finer[k]) < mpmath.mpf(10) ** -27, k        # the reference converged
        if k % 2 == 0:
            assert abs(ref[k]) < mpmath.mpf(10) ** -27
            assert abs(mids[k]) <= errs[k] and (mids[k] == 0) == parity_known
            continue
        assert abs(mids[k] - ref[k]) <= errs[k] + mpmath.mpf(10) ** -27, k
        assert errs[k] < abs(ref[k]) * mpmath.mpf(10) ** -13, k
        wrong = ref[k] * (1 + mpmath.mpf(10) ** -12)
        assert abs(mids[k] - wrong) > errs[k], k


def _rotated_trapezoid(fn, r, hu, hv, L=12):
    """E[fn(X) fn(Y)], corr(X, Y) = r, by the 2-D trapezoidal rule in U, V (X = aU + bV,
    Y = aU - bV, a = sqrt((1+r)/2), b = sqrt((1-r)/2))."""
    a, b = mpmath.sqrt((1 + r) / 2), mpmath.sqrt((1 - r) / 2)
    us = [hu * i for i in range(-int(L / hu), int(L / hu) + 1)]
    vs = [hv * j for j in range(0, int(L / hv) + 1)]            # V -> -V swaps X and Y
    wu = [mpmath.exp(-u * u / 2) for u in us]
    total = mpmath.mpf(0)
    for j, v in enumerate(vs):
        inner = mpmath.fsum(w * fn(a * u + b * v) * fn(a * u - b * v) for u, w in zip(us, wu))
        total += inner * mpmath.exp(-v * v / 2) * (1 if j == 0 else 2)
    return total * hu * hv / (2 * mpmath.pi)


def test_arctan_kappa_near_one_contains_the_2d_trapezoid():
    """kappa(0.999) of arctan (branch points at +-i: strips |Im U| < 1/a, |Im V| < 1/b), 20
    certified digits from about a thousand proven c_k."""
    rho = mpmath.mpf(0.999)
    res = sk.dual_kernel("arctan").result(rho, dps=20)
    assert res.certified and "proven c_k" in res.method
    assert res.error <= abs(res.value) * mpmath.mpf(10) ** -22
    with mpmath.workdps(26):
        ref = _rotated_trapezoid(mpmath.atan, rho, mpmath.mpf("0.1"), mpmath.mpf("0.5"))
        finer = _rotated_trapezoid(mpmath.atan, rho, mpmath.mpf("0.08"), mpmath.mpf("0.4"))
        assert abs(ref - finer) < abs(ref) * mpmath.mpf(10) ** -23    # the reference converged
        assert abs(res.value - ref) <= res.error + abs(ref) * mpmath.mpf(10) ** -23
        wrong = ref * (1 + mpmath.mpf(10) ** -19)
        assert abs(res.value - wrong) > res.error


@pytest.mark.parametrize("name", ["tanh", "arctan", "sin", "erf", "sign", "identity", "softsign",
                                  "cos", "abs", "gaussian", "sigmoid", "relu", "softplus"])
def test_parity_shortcut_agrees_with_the_values(name):
    """Parity read off SymPy's canonical form (tanh(-x) = -tanh(x)) or proven by simplification:
    checked here by mpmath at points, sigma(-x) -+ sigma(x) against 0 or the odd offset."""
    act = sk.activation(name)
    parity, offset = act.parity, act.odd_offset
    f = sp.lambdify(sk.x, act.expr, modules="mpmath")
    with mpmath.workdps(30):
        for t in (mpmath.mpf("0.37"), mpmath.mpf("1.9"), mpmath.mpf("4.3")):
            if parity == "even":
                assert abs(f(-t) - f(t)) < 1e-25
            elif parity == "odd":
                assert abs(f(-t) + f(t) - mpmath.mpf(sp.N(offset, 35))) < 1e-25
    known = {"tanh": "odd", "cos": "even", "sigmoid": "odd", "relu": None}
    assert known.get(name, parity) == parity
    if name == "sigmoid":
        assert offset == 1 and act.strict_parity is None
