"""The kernel ODE of Joudaki & Hofmann (AISTATS 2025): §6.2's worst-case solutions (closed forms
checked by substitution into their ODEs, the true kernel ODE integrated here by a classical RK4
loop that shares no code with symkernel.theory.kernel_ode) and Remark S.1 (the residual sequence
is Euler's method; its gap to the ODE is compared with the Euler error equation integrated by
mpmath.odefun)."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.theory import kernel_ode as ko
from symkernel.theory.dynamics import residual_kernel_map

RHO0S = np.array([-0.9, -0.5, -0.1, 0.1, 0.5, 0.9])
ACTS = {"tanh": ("tanh", {}), "sin": ("sin", {}), "erf": ("erf", {}), "x^3": (sk.x**3, {}),
        "he_3": ("he", {"n": 3}), "he_2": ("he", {"n": 2})}


def _rk4(f, y0, t_max, dt):
    """Classical fixed-step RK4 for y' = f(y) (vectorized over y0): (times, ys)."""
    n = int(round(t_max / dt))
    ys = np.empty((n + 1,) + np.shape(y0))
    ys[0] = y = np.asarray(y0, float)
    for i in range(n):
        k1 = f(y)
        k2 = f(y + dt / 2 * k1)
        k3 = f(y + dt / 2 * k2)
        k4 = f(y + dt * k3)
        ys[i + 1] = y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return dt * np.arange(n + 1), ys


@pytest.fixture(scope="module")
def worst():
    return {label: ko.worst_case_kernel_ode(act, **params) for label, (act, params) in ACTS.items()}


@pytest.fixture(scope="module")
def true_solutions(worst):
    """The kernel ODE of each activation by RK4 (dt = 0.05 to t = 40) from every rho0."""
    out = {}
    for label, w in worst.items():
        kappa = w.dyn.kmap.numpy
        out[label] = _rk4(lambda y: kappa(y) - y, RHO0S, 40.0, 0.05)
    return out


def test_worst_case_solutions_solve_their_odes():
    """Each closed form satisfies its worst-case ODE and the initial value, symbolically."""
    for sign in (1, -1):
        sol = ko.WORST_CASE_SOLUTION[sign]
        rhs = ko.WORST_CASE_RHS[sign].subs(sk.rho, sol)
        assert sp.simplify(sp.diff(sol, ko.t) - rhs) == 0
        assert sp.simplify(sol.subs(ko.t, 0) - ko.rho_0) == 0
    # the positive one also by SymPy's own ODE solver (the logistic equation)
    f = sp.Function("f")
    ode = sp.Eq(f(ko.t).diff(ko.t), ko.WORST_CASE_RHS[1].subs(sk.rho, f(ko.t)))
    got = sp.dsolve(ode, f(ko.t), ics={f(0): sp.Rational(1, 3)}).rhs
    assert sp.simplify(got - ko.WORST_CASE_SOLUTION[1].subs(ko.rho_0, sp.Rational(1, 3))) == 0


def test_worst_case_rhs_dominates_kappa(worst):
    """§6.2's inequalities on a grid: kappa - rho <= -a rho(1 - rho) on [0, 1), >= -a rho(1 - rho^2)
    on (-1, 0] (equality for kappa = rho^2, resp. rho^3)."""
    r = np.linspace(-0.999, 0.999, 401)
    for label, w in worst.items():
        a = float(w.a.value(17))
        gap = w.dyn.kmap.numpy(r) - r
        pos, neg = r >= 0, r <= 0
        assert np.all(gap[pos] <= -a * r[pos] * (1 - r[pos]) + 1e-15), label
        assert np.all(gap[neg] >= -a * r[neg] * (1 - r[neg] ** 2) - 1e-15), label


def test_a_is_the_weight_above_first_order():
    """a = 1 - kappa'(0) = 1 - c_1^2/E sigma^2, with c_1 = E[sigma(Z) Z] by 300-point Gauss-Hermite
    quadrature (numpy) -- independent of the kernel map.  (80 points leave 3e-10 for tanh, whose
    poles at +-i pi/2 slow the rule; mpmath.quad confirms symkernel's value to 16 digits.)"""
    z, wts = np.polynomial.hermite_e.hermegauss(300)
    wts = wts / wts.sum()
    for label, f in (("tanh", np.tanh), ("sin", np.sin), ("x^3", lambda v: v**3)):
        c1, m2 = np.dot(wts, f(z) * z), np.dot(wts, f(z) ** 2)
        a = float(ko.worst_case_kernel_ode(*ACTS[label][:1], **ACTS[label][1]).a.value(17))
        assert abs(a - (1 - c1**2 / m2)) < 1e-13, label
    erf = ko.worst_case_kernel_ode("erf")
    assert erf.a.exact and sp.simplify(erf.a.expr - (1 - 2 / (3 * sp.asin(sp.Rational(2, 3))))) == 0


def test_true_kernel_ode_stays_within_the_worst_case(worst, true_solutions):
    """(a): |rho(t)| <= |rho_w(t)| and the joint bound, for every activation and rho0 of both signs
    (RK4 error at dt = 0.05 is below 1e-7)."""
    for label, w in worst.items():
        times, ys = true_solutions[label]
        bound = w.worst_case(times[:, None], RHO0S[None, :])
        assert np.all(np.sign(ys) == np.sign(RHO0S)), label          # the sign is kept
        assert np.all(np.abs(ys) <= np.abs(bound) + 1e-7), label
        pot = np.abs(ys) / (1 - np.abs(ys))
        assert np.all(pot <= w.joint_bound(times[:, None], RHO0S[None, :]) * (1 + 1e-6) + 1e-7), label


def test_worst_case_is_attained(worst, true_solutions):
    """kappa = rho^2 is the positive worst case and kappa = rho^3 the negative one (and, being
    odd, its positive one too): the RK4 solution equals the closed form."""
    times, ys = true_solutions["he_2"]
    bound = worst["he_2"].worst_case(times[:, None], RHO0S[None, :])
    assert np.max(np.abs(ys - bound)[:, RHO0S > 0]) < 1e-7
    times, ys = true_solutions["he_3"]
    cubic = ko.WORST_CASE_SOLUTION[-1].subs(ko.a, 1)
    exact = sp.lambdify((ko.t, ko.rho_0), cubic, "numpy")(times[:, None], RHO0S[None, :])
    assert np.max(np.abs(ys - exact)) < 1e-7
    bound = worst["he_3"].worst_case(times[:, None], RHO0S[None, :])
    assert np.max(np.abs(ys - bound)[:, RHO0S < 0]) < 1e-7


def test_a_faster_rate_is_rejected(worst, true_solutions):
    """The bound is not vacuous: with the wrong rate 1 - kappa'(0)^2 (c_1 in place of c_1^2) the
    true solution leaves it for every activation with 0 < kappa'(0) < 1."""
    for label in ("tanh", "sin", "erf", "x^3"):
        w = worst[label]
        k0p = float(w.dyn.kappa_prime_0.value(17))
        times, ys = true_solutions[label]
        wrong = 0.5 * np.exp(-(1 - k0p**2) * times) / (0.5 + 0.5 * np.exp(-(1 - k0p**2) * times))
        assert np.any(ys[:, RHO0S == 0.5][:, 0] > wrong + 1e-6), label


def test_solve_kernel_ode_against_closed_forms_and_rk4(worst, true_solutions):
    times = np.linspace(0, 40, 81)
    got = ko.solve_kernel_ode(worst["he_2"].dyn.kmap, 0.5, times)
    assert np.max(np.abs(got - 0.5 * np.exp(-times) / (0.5 + 0.5 * np.exp(-times)))) < 1e-12
    got = ko.solve_kernel_ode(worst["he_3"].dyn.kmap, RHO0S, times)
    exact = RHO0S * np.exp(-times[:, None]) / np.sqrt(1 - RHO0S**2 + RHO0S**2 * np.exp(-2 * times[:, None]))
    assert got.shape == (81, 6) and np.max(np.abs(got - exact)) < 1e-12
    t_rk, ys = true_solutions["tanh"]
    got = ko.solve_kernel_ode(worst["tanh"].dyn.kmap, RHO0S, t_rk[::20])
    assert np.max(np.abs(got - ys[::20])) < 1e-8


def test_rates_order_and_discrete_factor(worst):
    """(b): -log alpha = log(2 - kappa'(0)) < a = 1 - kappa'(0) < -log kappa'(0): Theorem 1's
    discrete rate is slower than the worst-case ODE's (e^a > 1 + a), and the discrete sequence's
    one-layer factor on x = |rho|/(1 - |rho|) never exceeds alpha."""
    u = np.concatenate([np.logspace(-6, -1, 100), 1 - np.logspace(-6, -0.05, 100)])
    r = np.concatenate([-u, u])
    x = np.abs(r) / (1 - np.abs(r))
    for label, w in worst.items():
        rates = w.rates()
        assert rates["theorem1"] < rates["ode"] < rates["linearized"], label
        alpha = float(w.theorem1_rate.value(17))
        assert abs(rates["theorem1"] + math.log(alpha)) < 1e-14
        k = w.dyn.kmap.numpy(r)
        factor = np.abs(k) / (1 - np.abs(k)) / x
        assert np.all(factor <= alpha * (1 + 1e-9)), label


def test_discrete_sequence_can_be_slower_than_the_ode_rate():
    """The 'slight discrepancy' is real: kappa = rho^2 from rho0 = 9/10 gives
    x_1/x_0 = rho0/(1 + rho0) = 9/19 > e^{-a} = e^{-1} (exact arithmetic), below Theorem 1's
    alpha = 1/2, which it approaches as rho0 -> 1."""
    w = ko.worst_case_kernel_ode("he", n=2)
    r0 = sp.Rational(9, 10)
    r1 = w.dyn.sequence(r0, 1, exact=True)[1]
    ratio = (r1 / (1 - r1)) / (r0 / (1 - r0))
    assert ratio == sp.Rational(9, 19)
    assert ratio > w.ode_factor.expr and ratio < w.theorem1_rate.expr == sp.Rational(1, 2)


def test_refuses_other_cases_and_bad_input():
    with pytest.raises(InvalidInputError, match="case 3"):
        ko.worst_case_kernel_ode("relu")
    w = ko.worst_case_kernel_ode("he", n=2)
    with pytest.raises(InvalidInputError, match="rho0"):
        w.worst_case(1.0, 1.0)
    with pytest.raises(InvalidInputError, match="time"):
        w.joint_bound(-1.0, 0.5)
    with pytest.raises(InvalidInputError, match="sign"):
        w.rhs(0)
    with pytest.raises(InvalidInputError, match="h = 1 - r"):
        ko.residual_ode_gap(w.dyn.kmap, 2, 0.5, 1.0)


# ----------------------------------------------------------------------- Remark S.1
def _euler_error_coefficient(t_end, rho0):
    """e(T) of Euler's global error rho_l - rho(t_l) = h e(t_l) + O(h^2) for the sine kernel
    kappa = sinh(rho)/sinh(1): e' = f'(rho) (e - f(rho)/2), f = kappa - id, e(0) = 0, integrated
    with mpmath.odefun (Taylor series) at 20 digits."""
    with mpmath.workdps(20):
        s1 = mpmath.sinh(1)

        def rhs(_, y):
            r, e = y
            f = mpmath.sinh(r) / s1 - r
            fp = mpmath.cosh(r) / s1 - 1
            return [f, fp * (e - f / 2)]
        sol = mpmath.odefun(rhs, 0, [mpmath.mpf(rho0), mpmath.mpf(0)])
        return float(sol(t_end)[1])


def test_remark_s1_gap_is_first_order_with_the_euler_constant():
    """Remark S.1: l layers of kappa_res at r^2 = 1 - h are ODE time h l; the gap at t = 4 is
    h e(4) + O(h^2) with e from the Euler error equation (independent path), so gap/h -> e(4)
    and the error of that limit halves with h."""
    kmap = sk.kernel_map("sin")
    e_end = _euler_error_coefficient(4, 0.9)
    diffs = []
    for n in (20, 40, 80):
        g = ko.residual_ode_gap(kmap, sp.Rational(1, n), 0.9, 4.0)
        signed = (g["sequence"][-1] - g["ode"][-1]) / g["h"]
        diffs.append(abs(signed - e_end))
        assert g["times"][-1] == pytest.approx(4.0) and g["layers"][-1] == 4 * n
    assert diffs[-1] < 2e-3 * abs(e_end)
    assert 1.8 < diffs[0] / diffs[1] < 2.2 and 1.8 < diffs[1] / diffs[2] < 2.2


def test_remark_s1_one_step_is_proposition2_and_wrong_time_is_rejected():
    kmap = sk.kernel_map("sin")
    h = sp.Rational(1, 10)
    g = ko.residual_ode_gap(kmap, h, 0.9, 1.0)
    kres = residual_kernel_map(kmap, sp.sqrt(1 - h))
    assert abs(g["sequence"][1] - float(kres.expr.subs(sk.rho, sp.Rational(9, 10)))) < 1e-15
    # the time change t = (1 - r) l (instead of 1 - r^2) leaves a gap that does not shrink with h
    h = sp.Rational(1, 40)
    g = ko.residual_ode_gap(kmap, h, 0.9, 4.0)
    wrong_t = float(1 - sp.sqrt(1 - h)) * g["layers"]
    wrong = ko.solve_kernel_ode(kmap, 0.9, wrong_t)
    assert np.max(np.abs(g["sequence"] - wrong)) > 50 * g["gap"]
