"""The first certified kernel-map value of a fresh process (issue 11.5): what was cut from
``sk.kernel_map('tanh')(0.3)`` keeps every guarantee.

* the square-integrability check skips its numeric growth heuristic only where the form of sigma
  proves polynomial growth, and still rejects what grows too fast;
* a Quantity serves fewer digits from a Result computed at more (one Arb enclosure of
  ``E sigma^2`` for the scale split, the float64 c_k and the kernel map's scale);
* the proven c_k that vanish by parity are exact zeros, and the certified kappa(0.3) of tanh
  contains a 2-D trapezoidal rule written here (and excludes a value wrong in its last digit).
"""
import math

import mpmath
import pytest
import sympy as sp

import symkernel as sk
from symkernel.core.quantity import Quantity
from symkernel.errors import NotSquareIntegrableError
from symkernel.gaussian import expectation
from symkernel.gaussian.expectation import polynomially_bounded, second_moment
from symkernel.kernels.hermite_panels import _certified_coefficients

x = sk.x

BOUNDED = [x, sp.tanh(x) * x**3, sp.log(1 + sp.exp(x)), x / (1 + sp.exp(-x)),
           x * (1 + sp.erf(x / sp.sqrt(2))) / 2, sp.sin(x**2) + sp.atan(3 * x), sp.Abs(x) ** sp.Rational(3, 2),
           sp.tanh(x + sp.Rational(3, 10)) + sp.Rational(1, 10), 1 / (2 + 3 * sp.exp(x**3)),
           sp.log(1 + sp.exp(x**2))]
NOT_PROVEN = [sp.exp(x), sp.exp(x**2 / 4), sp.tanh(x) * sp.exp(x**2), 1 / (sp.exp(x) - 2),
              1 / (1 - sp.exp(x)), sp.log(x**2), 1 / x, sp.tanh(sp.I * x), sp.cosh(x**2),
              sp.sin(x) / x, sp.besselj(0, x), sp.exp(-x**2 / 8) * sp.tanh(x)]


@pytest.mark.parametrize("expr", BOUNDED, ids=str)
def test_polynomial_growth_is_proven_by_the_form(expr):
    assert polynomially_bounded(expr)
    # the bound it claims, |expr| <= C (1 + |x|)^d, holds at sample points far out
    f = sp.lambdify(x, expr, modules="mpmath")
    with mpmath.workdps(30):
        for t in (10, -10, 40, -40):
            assert abs(f(mpmath.mpf(t))) <= 10 * (1 + t * t) ** 2


@pytest.mark.parametrize("expr", NOT_PROVEN, ids=str)
def test_no_proof_for_other_forms(expr):
    assert not polynomially_bounded(expr)


def test_growth_heuristic_runs_only_without_a_proof(monkeypatch):
    calls = []
    original = expectation._check_growth_numerically
    monkeypatch.setattr(expectation, "_check_growth_numerically",
                        lambda *a: calls.append(a[3]) or original(*a))
    expectation.check_square_integrable(sk.activation(sp.tanh(x) * x**2 + sp.log(1 + sp.exp(x))))
    assert calls == []
    expectation.check_square_integrable(sk.activation(sp.exp(-x**2 / 8) * sp.tanh(x)))
    assert sorted(calls) == [-1, 1]                  # no proof: the heuristic judges both ends


@pytest.mark.parametrize("expr", [sp.tanh(x) * sp.exp(x**2), sp.cosh(x**2 / 2) * sp.tanh(x),
                                  sp.exp(x**2 / 3) / (1 + sp.exp(-x))])
def test_too_fast_growth_is_still_rejected(expr):
    with pytest.raises(NotSquareIntegrableError):
        sk.kernel_map(expr)


def test_quantity_serves_fewer_digits_from_more():
    calls = []

    def numeric(dps):
        calls.append(dps)
        with mpmath.workdps(dps + 5):
            return mpmath.pi / 7

    q = Quantity(None, "q", "estimated: test", numeric)
    high = q.result(26)
    low = q.result(5)
    assert calls == [26] and low is high
    q.result(30)                                                     # more digits: computed
    assert calls == [26, 30]
    fresh = Quantity(None, "q", "estimated: test", numeric)
    assert fresh.value(5) == q.value(5)                  # the same 5 digits as asked directly
    assert abs(q.value(5) - mpmath.pi / 7) < 1e-5 * mpmath.pi / 7
    fresh.result(26)
    assert calls == [26, 30, 5, 26]


def test_one_enclosure_of_the_second_moment():
    act = sk.activation("tanh", gain=sp.Rational(11, 10))          # a fresh activation
    sk.kernel_map(act)(0.3)
    assert min(second_moment(act)._cache) >= 26                      # no separate 5-digit ask


def test_parity_zeros_are_exact():
    act = sk.activation("tanh")
    assert act.strict_parity == "odd"
    mids, errs = _certified_coefficients(act, 24, 20)
    assert all(mids[k] == 0 and errs[k] == 0 for k in range(0, 25, 2))
    assert all(0 < errs[k] < abs(mids[k]) * 1e-15 for k in range(1, 25, 2))


def _rotated_trapezoid(r, h, L=12):
    """E[tanh(X) tanh(Y)], corr(X, Y) = r, by the 2-D trapezoidal rule in U, V (X = aU + bV,
    Y = aU - bV): exponentially accurate (tanh's poles at +-i pi/2 leave strips of width
    (pi/2)/a and (pi/2)/b)."""
    a, b = mpmath.sqrt((1 + r) / 2), mpmath.sqrt((1 - r) / 2)
    us = [h * i for i in range(-int(L / h), int(L / h) + 1)]
    wu = [mpmath.exp(-u * u / 2) for u in us]
    total = mpmath.mpf(0)
    for j in range(int(L / h) + 1):                                   # V -> -V swaps X and Y
        v = h * j
        inner = mpmath.fsum(w * mpmath.tanh(a * u + b * v) * mpmath.tanh(a * u - b * v)
                            for u, w in zip(us, wu))
        total += inner * mpmath.exp(-v * v / 2) * (1 if j == 0 else 2)
    return total * h * h / (2 * mpmath.pi)


def test_certified_kappa_contains_the_2d_trapezoid():
    act = sk.activation("tanh", gain=1)
    res = sk.kernel_map(act).result(0.3)
    assert res.certified and res.error <= abs(res.value) * 1e-15
    with mpmath.workdps(24):
        r = mpmath.mpf(0.3)                                          # the float the user typed
        num = _rotated_trapezoid(r, mpmath.mpf("0.2"))
        finer = _rotated_trapezoid(r, mpmath.mpf("0.18"))
        assert abs(num - finer) < mpmath.mpf(10) ** -21               # the reference converged
        h = mpmath.mpf("0.1")                                         # E tanh^2: 1-D trapezoid
        m2 = mpmath.fsum(mpmath.tanh(h * i) ** 2 * mpmath.exp(-(h * i) ** 2 / 2)
                         for i in range(-160, 161)) * h / mpmath.sqrt(2 * mpmath.pi)
        ref = num / m2
        assert abs(res.value - ref) <= res.error + mpmath.mpf(10) ** -19
        wrong = ref * (1 + mpmath.mpf(10) ** -15)
        assert abs(res.value - wrong) > res.error + mpmath.mpf(10) ** -19
    assert math.isclose(float(sk.kernel_map("tanh")(0.3)), float(ref), rel_tol=1e-15)


@pytest.mark.parametrize("expr, half, certified", [
    (sp.tanh(x), True, True), (x * sp.tanh(x), True, True), (1 / (1 + sp.exp(-x)), False, True),
    (sp.log(sp.cosh(x)), True, False)])                    # no Arb translation: mpmath estimate
def test_second_moment_on_the_half_line_contains_mpmath_quad(expr, half, certified):
    """sigma of proven parity: E sigma^2 = 2 int_0^oo sigma^2 phi; against mpmath.quad of
    sigma^2 phi over the whole line at 40 digits (no Arb; for the estimate, other nodes)."""
    res = second_moment(sk.activation(expr)).result(26)
    assert res.certified == certified and ("twice the half line" in res.method) == half
    f = sp.lambdify(x, expr**2, modules="mpmath")
    with mpmath.workdps(40):
        pts = [-mpmath.inf, *range(-12, 13, 2), mpmath.inf]
        ref = mpmath.quad(lambda t: f(t) * mpmath.exp(-t * t / 2), pts) / mpmath.sqrt(2 * mpmath.pi)
        assert abs(res.value - ref) <= res.error + mpmath.mpf(10) ** -34
        assert res.error < abs(ref) * mpmath.mpf(10) ** -27
        wrong = ref * (1 + mpmath.mpf(10) ** -25)
        assert abs(res.value - wrong) > res.error + mpmath.mpf(10) ** -34
