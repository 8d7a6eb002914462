"""Theorem 1's bounds with a valid rate (docs/theory.md §36; Joudaki & Hofmann (AISTATS 2025)).

Every kernel map here is typed in from its Hermite coefficients (``sigma = sum c_k he_k`` gives
``kappa = sum c_k^2 rho^k / sum c_k^2``) or its textbook closed form, and every sequence is
iterated in the test with mpmath: no symkernel code on the checking side.
"""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import symkernel as sk
from symkernel.errors import InvalidInputError, NoClosedFormError


def _poly(den, *nums):
    """kappa(rho) = sum nums[k] rho^k / den (the numerators sum to den), at the working precision."""
    return lambda r: sum(c * r**k for k, c in enumerate(nums)) / mpmath.mpf(den)


# name -> (activation, typed-in kappa, rho* (exact, typed in))
KERNELS = {
    # x^2 = he_0 + sqrt(2) he_2: kappa = (1 + 2 rho^2)/3, rho* = 1/2
    "x**2": (sk.x**2, _poly(3, 1, 0, 2), lambda: mpmath.mpf(1) / 2),
    # x^2 + x: kappa = (1 + rho + 2 rho^2)/4, rho* = 1/2
    "x**2+x": (sk.x**2 + sk.x, _poly(4, 1, 1, 2),
               lambda: mpmath.mpf(1) / 2),
    # x^3 + 1 = he_0 + 3 he_1 + sqrt(6) he_3: kappa = (1 + 9 rho + 6 rho^3)/16;
    # kappa - rho = (rho - 1)(6 rho^2 + 6 rho - 1)/16, rho* = (sqrt(15) - 3)/6
    "x**3+1": (sk.x**3 + 1, _poly(16, 1, 9, 0, 6),
               lambda: (mpmath.sqrt(15) - 3) / 6),
    # step 1[x > 0]: kappa = 1/2 + asin(rho)/pi (arc-cosine kernel of order 0); rho* by findroot
    "step": ("step", lambda r: mpmath.mpf(1) / 2 + mpmath.asin(r) / mpmath.pi,
             lambda: mpmath.findroot(lambda r: mpmath.mpf(1) / 2 + mpmath.asin(r) / mpmath.pi - r, (0.7, 0.85),
                                         solver="anderson")),
}
_DYN = {}


def _dyn(name):
    if name not in _DYN:
        _DYN[name] = sk.kernel_dynamics(KERNELS[name][0])
    return _DYN[name]


def _distances(name, rho0, depth, dps=40):
    """``|rho_l - rho*|`` for l = 0..depth, iterated with mpmath at ``dps`` digits (as floats)."""
    _, kappa, star = KERNELS[name]
    with mpmath.workdps(dps):
        s, r = star(), mpmath.mpf(rho0)
        out = []
        for _ in range(depth + 1):
            out.append(float(abs(r - s)))
            r = kappa(r)
    return np.array(out)


def _ratio_grid(name, n=4001):
    """``V(kappa(rho))/V(rho)`` at rho on a grid of (-1, 1) dense near -1, 0, rho* and 1."""
    _, kappa, star = KERNELS[name]
    with mpmath.workdps(40):
        s = star()
        u = [mpmath.mpf(k) / n for k in range(1, n)]
        near = [mpmath.mpf(10) ** -e for e in range(2, 13)]
        grid = [mpmath.mpf(0)] + u + [-x for x in u] + [1 - e for e in near] + [-1 + e for e in near] \
            + [s + e for e in near] + [s - e for e in near]
        V = lambda r: abs(r - s) / (1 - abs(r))       # noqa: E731
        return max((V(kappa(r)) / V(r), r) for r in grid if r != s)


# --------------------------------------------------------------- the audit's counterexamples
AUDIT = [("x**2", 0.95, 12, "0.0746658285988"), ("x**2", 0.999, 60, "9.27e-8"),
         ("x**2+x", 0.999, 60, "4.98e-5")]


@pytest.mark.parametrize("name,rho0,ell,published_distance", AUDIT)
def test_published_case4_rate_is_violated_and_valid_rate_holds(name, rho0, ell, published_distance):
    dyn = _dyn(name)
    assert dyn.case == 4 and dyn.published_rate is dyn.rate
    dist = _distances(name, rho0, ell)
    # the audit's distance, from an independent iteration
    assert float(published_distance) == pytest.approx(dist[ell], rel=5e-3 if "e" in published_distance else 1e-10)
    # the finding: the published rate's bound is false here
    assert dist[ell] > dyn.bound(ell, rho0, rate="published") * 1.05
    # the valid rate's bound holds along the whole sequence
    assert np.all(dist <= dyn.bound(np.arange(ell + 1), rho0) * (1 + 1e-12))


def test_published_rates_of_the_audit_kernels():
    """The published formula max{1 - kappa(0), kappa'(rho*), (1 - rho*)/(2 - kappa'(rho*))}
    evaluated by hand: x**2: max{2/3, 2/3, 1/3} = 2/3; x**2+x: max{3/4, 3/4, 2/5} = 3/4."""
    assert float(_dyn("x**2").rate) == pytest.approx(2 / 3, rel=1e-14)
    assert float(_dyn("x**2+x").rate) == pytest.approx(3 / 4, rel=1e-14)


@pytest.mark.parametrize("name,sup", [("x**2", (3, 4)), ("x**2+x", (4, 5))])
def test_valid_rate_is_the_derived_limit(name, sup):
    """By hand, for rho > 1/2: x**2: (kappa - 1/2)/(rho - 1/2) = 2 (rho + 1/2)/3 and
    (1 - rho)/(1 - kappa) = 3/(2 (1 + rho)), so R = (rho + 1/2)/(rho + 1); x**2+x: (rho + 1)/2 and
    4/(3 + 2 rho), so R = 2 (rho + 1)/(2 rho + 3).  Both increase to 1/kappa'(1) = 3/4, 4/5 at
    rho -> 1: the sup (the grid below also finds it there)."""
    with mpmath.workdps(40):
        sup = mpmath.mpf(sup[0]) / sup[1]
    dyn = _dyn(name)
    q = dyn.valid_rate
    enc = dyn.valid_rate_enclosure
    assert q.kind == "certified" and enc.certified and enc.converged
    assert enc.lower <= sup <= enc.upper and enc.upper - sup < 1e-4 * sup
    assert float(q) == float(enc.upper)
    grid_max, where = _ratio_grid(name)
    assert grid_max <= enc.upper and grid_max > sup - 1e-9 and where > 0.999


@pytest.mark.parametrize("name", ["x**3+1", "step"])
def test_valid_rate_encloses_a_dense_grid_maximum(name):
    """The certified [lower, upper] against the largest ratio on a dense mpmath grid of the
    typed-in kernel: no grid value above ``upper``, and ``lower`` no more than the grid's
    resolution above the grid's maximum."""
    dyn = _dyn(name)
    enc = dyn.valid_rate_enclosure
    grid_max, where = _ratio_grid(name)
    assert enc.certified and grid_max <= enc.upper
    assert enc.upper - grid_max < 1e-4 * enc.upper and enc.lower <= grid_max + 1e-6
    if name == "step":       # the sup is at rho = 0: (rho* - 1/2)/(rho* (1 - 1/2)); far above alpha
        with mpmath.workdps(30):
            s = KERNELS["step"][2]()
            assert abs(where) < 1e-12 and enc.lower == pytest.approx(float((s - 0.5) / (s / 2)), rel=1e-12)
        assert float(dyn.valid_rate) > 1.4 * float(dyn.published_rate)
    else:                    # x**3 + 1: the published max is 1 - kappa(0) = 15/16, far above the sup
        assert float(dyn.published_rate) == 15 / 16 and float(dyn.valid_rate) < 0.61


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(KERNELS)), st.floats(-0.999, 0.999), st.integers(1, 150))
def test_valid_bound_along_sequences(name, rho0, ell):
    dyn = _dyn(name)
    dist = _distances(name, rho0, ell, dps=30)
    assert np.all(dist <= dyn.bound(np.arange(ell + 1), rho0) * (1 + 1e-12) + 1e-300)


# --------------------------------------------------------------- cases 1-3: the published rates hold
@pytest.mark.parametrize("name", ["tanh", "erf", "sin", "sigmoid", "cos", "gaussian", "relu", "exp", "abs"])
def test_cases_1_to_3_potential_ratio_below_alpha(name):
    """Case 1: |kappa|/(1-|kappa|) <= alpha |rho|/(1-|rho|); case 2: 1 - kappa(rho) <= alpha (1 - rho);
    case 3: 1 - kappa(rho) <= d - alpha d^2 (d = 1 - rho), at every rho of a grid of (-1, 1), with
    the kernel's float64 twin (what docs/theory.md §36 proves for every rho)."""
    dyn = sk.kernel_dynamics(name)
    a = float(dyn.valid_rate)
    assert a == float(dyn.rate)
    u = np.concatenate([np.linspace(0, 1, 2001)[1:-1], 1 - np.logspace(-6, -2, 50)])
    r = np.concatenate([-u, [0.0], u])
    k = dyn.kmap.numpy(r)
    if dyn.case == 1:
        ok = np.abs(k) / (1 - np.abs(k)) <= a * np.abs(r) / (1 - np.abs(r)) * (1 + 1e-9) + 1e-15
    elif dyn.case == 2:
        ok = 1 - k <= a * (1 - r) * (1 + 1e-9) + 1e-15
    else:
        d = 1 - r
        ok = 1 - k <= (d - a * d * d) * (1 + 1e-9) + 1e-15
    assert ok.all(), (name, r[~ok][:5])


def test_bound_rejects_an_unknown_rate():
    with pytest.raises(InvalidInputError, match="'fast'"):
        _dyn("x**2").bound(1, 0.5, rate="fast")
    assert any("valid_rate" in n for n in _dyn("x**2").notes)


# --------------------------------------------------------------- the kernel ODE in closed form
T, R0 = sp.Symbol("t", nonnegative=True), sp.Symbol("rho_0", real=True)


@pytest.mark.parametrize("name", ["x**2", "x**2+x"])
def test_ode_closed_form_solves_the_ode(name):
    dyn = _dyn(name)
    sol = dyn.ode_closed_form().rhs
    kappa = dyn.kmap.expr.subs(sk.rho, sol)
    assert sp.simplify(sp.diff(sol, T) - (kappa - sol)) == 0
    assert sp.simplify(sol.subs(T, 0) - R0) == 0
    # against a Runge-Kutta solution written here (no symkernel code)
    _, typed, _ = KERNELS[name]
    f = lambda r: float(typed(mpmath.mpf(r))) - r        # noqa: E731
    r, h = 0.9, 1e-3
    for _ in range(5000):                                 # t = 5
        k1 = f(r); k2 = f(r + h * k1 / 2); k3 = f(r + h * k2 / 2); k4 = f(r + h * k3)  # noqa: E702
        r += h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    assert float(sol.subs({T: 5, R0: sp.Rational(9, 10)})) == pytest.approx(r, rel=1e-12)


def test_ode_implicit_for_a_cubic():
    """x**3 + 1: kappa - rho is a cubic; t = F(rho) - F(rho_0) checked along a RK4 solution."""
    rel = _dyn("x**3+1").ode_closed_form(implicit=True)
    assert rel.lhs == T
    _, typed, _ = KERNELS["x**3+1"]
    f = lambda r: float(typed(mpmath.mpf(r))) - r        # noqa: E731
    rhs = sp.lambdify((sk.rho, R0), rel.rhs, "mpmath")
    r, h = -0.7, 1e-3
    for step in range(1, 3001):
        k1 = f(r); k2 = f(r + h * k1 / 2); k3 = f(r + h * k2 / 2); k4 = f(r + h * k3)  # noqa: E702
        r += h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
        if step % 1000 == 0:
            assert float(mpmath.re(rhs(r, -0.7))) == pytest.approx(step * h, rel=1e-9)
    with pytest.raises(NoClosedFormError, match="degree <= 2"):
        _dyn("x**3+1").ode_closed_form()


@pytest.mark.parametrize("name,match", [("tanh", "no closed form"), ("relu", "rational function")])
def test_ode_closed_form_refuses_quickly(name, match):
    with pytest.raises(NoClosedFormError, match=match):
        sk.kernel_dynamics(name).ode_closed_form()
