"""Piecewise-linear activations in closed form (symkernel.nn.pwl_kernels, docs/theory.md §34).

Independent paths, sharing no code with the module:
* a 1-D mpmath quadrature over X of f(aX) E[g(bY) | X], the conditional expectation written here
  in closed form from g's pieces (interval form: no ramps, no Phi_2, no orthant moments);
* the arc-cosine kernels of ReLU and leaky ReLU (Cho & Saul), written out here;
* a finite-width random-feature layer (NumPy, seeded), 4 standard errors from its own data.
"""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.nn.pwl_kernels import (PWLForm, pwl_d_bound, pwl_form, pwl_kernels, pwl_kernels_mp, pwl_mean,
                                      pwl_mean_mp)

x = sk.x
RELU6 = sp.Min(sp.Max(x, 0), 6)
HT_SHIFTED = sp.Max(-1, sp.Min(1, 2 * x + sp.Rational(3, 10)))          # hardtanh(2x + 0.3)
HARD_SIGMOID = sp.Min(sp.Max(x / 6 + sp.Rational(1, 2), 0), 1)
RHOS = (-0.99, -0.5, 0.0, 0.3, 0.9, 0.999, 1.0)


# -- the independent reference ---------------------------------------------------------------------
#: each activation as a plain function with its corners, written here (no package code)
def _clip(lo, hi, gain=1, shift=0):
    return lambda t: max(mpmath.mpf(lo), min(mpmath.mpf(hi), gain * t + shift))


REF = {"hardtanh": (_clip(-1, 1), (-1, 1)), "relu6": (_clip(0, 6), (0, 6)),
       "hardtanh(2x+0.3)": (_clip(-1, 1, 2, mpmath.mpf(3) / 10), (mpmath.mpf(-13) / 20, mpmath.mpf(7) / 20)),
       "hard_sigmoid": (_clip(0, 1, mpmath.mpf(1) / 6, mpmath.mpf(1) / 2), (-3, 3))}


def _pieces(name):
    """(lo, hi, slope, intercept) of each piece, read off the function at two points per piece."""
    f, corners = REF[name]
    edges = [-mpmath.inf] + [mpmath.mpf(p) for p in corners] + [mpmath.inf]
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        u = hi - 1 if lo == -mpmath.inf else (lo + 1 if hi == mpmath.inf else (lo + hi) / 2)
        slope = (f(u + mpmath.mpf(1) / 64) - f(u)) * 64
        out.append((lo, hi, slope, f(u) - slope * u))
    return out


def _at(pcs, y, deriv):
    for lo, hi, al, be in pcs:
        if y <= hi:
            return al if deriv else al * y + be


def _cond(pcs, m, sd, deriv):
    """E[g(m + sd Z)] (or E[g'(m + sd Z)]) from g's pieces."""
    if sd == 0:
        return _at(pcs, m, deriv)
    out, Pl, dl = 0, 0, 0
    for lo, hi, al, be in pcs:
        if hi == mpmath.inf:
            Ph, dh = 1, 0
        else:
            z = (hi - m) / sd
            Ph, dh = mpmath.ncdf(z), mpmath.npdf(z)
        P = Ph - Pl
        out += al * P if deriv else al * (m * P + sd * (dl - dh)) + be * P
        Pl, dl = Ph, dh
    return out


def reference(name, q1, q2, c, deriv=False, dps=17):
    """E[f(u) f(v)] (or E[f'(u) f'(v)]) at the float inputs, by quadrature over X."""
    with mpmath.workdps(dps):
        pcs = _pieces(name)
        q1, q2, c = (mpmath.mpf(v) for v in (q1, q2, c))
        a, b = mpmath.sqrt(q1), mpmath.sqrt(q2)
        r = max(min(c / mpmath.sqrt(q1 * q2), mpmath.mpf(1)), mpmath.mpf(-1))
        s = mpmath.sqrt((1 - r) * (1 + r))
        pts = {lo / a for lo, _, _, _ in pcs[1:]}
        if r != 0:                  # where E[g | X] switches: t = k / (b r), width s / |r|
            for lo, _, _, _ in pcs[1:]:
                t0 = lo / (b * r)
                pts.update({t0, t0 - 4 * s / abs(r), t0 + 4 * s / abs(r)})
        pts = sorted(p for p in pts if abs(p) < 12)
        return +mpmath.quad(lambda t: _at(pcs, a * t, deriv) * mpmath.npdf(t) * _cond(pcs, b * r * t, b * s, deriv),
                            [-mpmath.inf] + pts + [mpmath.inf])


# -- detection ---------------------------------------------------------------------------------------
def test_forms_are_read_off_the_expressions():
    assert pwl_form("hardtanh") == PWLForm((-1, 1), (0, 1, 0), (-1, 0, 1))
    assert pwl_form(RELU6) == PWLForm((0, 6), (0, 1, 0), (0, 0, 6))
    assert pwl_form(HT_SHIFTED) == PWLForm((sp.Rational(-13, 20), sp.Rational(7, 20)), (0, 2, 0),
                                           (-1, sp.Rational(3, 10), 1))
    assert pwl_form(HARD_SIGMOID).breaks == (-3, 3)
    assert pwl_form(sk.activation("leaky_relu", slope=0.2)).slopes == (sp.Rational(1, 5), 1)
    assert pwl_form("step").jumps == (1,) and not pwl_form("step").continuous
    assert pwl_form(sp.Max(-1, sp.Min(1, 2 * x + 0.3))).continuous      # Float corners: no false jump
    for other in ("tanh", "elu", "softsign", x**2, sp.Max(x, x**2)):
        assert pwl_form(other) is None, other
    assert pwl_form(sp.Max(x, sp.Symbol("t", positive=True))) is None


def test_bad_input_names_the_value():
    with pytest.raises(InvalidInputError, match="-1.0"):
        pwl_kernels("hardtanh", -1.0, 1.0, 0.0)
    with pytest.raises(InvalidInputError, match="rho"):
        pwl_kernels("hardtanh", 1.0, 1.0, 1.5)
    with pytest.raises(InvalidInputError, match="tanh is not piecewise linear"):
        pwl_kernels("tanh", 1.0, 1.0, 0.0)
    with pytest.raises(NoClosedFormError, match="Dirac"):
        pwl_kernels("sign", 1.0, 1.0, 0.0)
    with pytest.raises(InvalidInputError, match="dps"):
        pwl_kernels_mp("relu", 1, 1, 0, dps=-3)


# -- float64 against quadrature ----------------------------------------------------------------------
CASES = [("hardtanh", "hardtanh", 1.0, 30.0, RHOS), ("hardtanh", "hardtanh", 0.01, 0.01, (-0.99, 0.3, 0.999, 1.0)),
         ("hardtanh", "hardtanh", 30.0, 30.0, (-0.99, 0.999, 1.0)),
         ("relu6", RELU6, 30.0, 30.0, (-0.5, 0.9, 0.999, 1.0)), ("relu6", RELU6, 1.0, 0.01, (-0.99, 0.999)),
         ("hardtanh(2x+0.3)", HT_SHIFTED, 1.0, 1.0, (-0.99, 0.0, 0.999, 1.0)),
         ("hard_sigmoid", HARD_SIGMOID, 30.0, 1.0, (-0.5, 0.999))]


@pytest.mark.parametrize("name,expr,q1,q2,rhos", CASES, ids=[f"{c[0]}-{c[2]}-{c[3]}" for c in CASES])
def test_float64_against_quadrature(name, expr, q1, q2, rhos):
    act = sk.activation(expr)
    r = np.array(rhos)
    c = r * math.sqrt(q1 * q2)
    F, D, eF, eD = pwl_kernels(act, q1, q2, c)
    for i, ci in enumerate(c):
        Fr, Dr = reference(name, q1, q2, ci), reference(name, q1, q2, ci, deriv=True)
        assert abs(F[i] - Fr) <= eF[i], (name, rhos[i], F[i], Fr, eF[i])
        assert abs(D[i] - Dr) <= eD[i], (name, rhos[i], D[i], Dr, eD[i])
    # the estimates are not vacuous: ulps of the terms (more for D near rho = 1, where D's slope in rho
    # is ~1/sqrt(1 - rho^2): a few ulps of rho move it by ~1e-8 at rho = 1 unless rho = 1 exactly)
    assert (eF <= 1e-12 * np.maximum(1, np.abs(F))).all()
    assert (eD[r < 1] <= 1e-12).all()
    if q1 == q2:                # rho = 1 exactly (c = q): no rounding of rho to carry
        assert (eD[r == 1] <= 1e-13).all()


def test_wrong_breakpoint_is_rejected():
    """Corners at +-1.001 (clip(x, -1.001, 1.001)): the quadrature of hardtanh tells them apart."""
    wrong = PWLForm((sp.Rational(-1001, 1000), sp.Rational(1001, 1000)), (0, 1, 0),
                    (sp.Rational(-1001, 1000), 0, sp.Rational(1001, 1000)))
    q1, q2, c = 1.0, 30.0, 0.9 * math.sqrt(30.0)
    F, D, eF, eD = pwl_kernels(wrong, q1, q2, c)
    assert abs(F - reference("hardtanh", q1, q2, c)) > 1e3 * eF
    assert abs(D - reference("hardtanh", q1, q2, c, deriv=True)) > 1e3 * eD


def _arccos_kernels(slope, q1, q2, c):
    """Leaky ReLU (slope on x < 0) = slope x + (1 - slope) relu(x): Cho & Saul's arc-cosine kernels."""
    r = np.clip(c / np.sqrt(q1 * q2), -1, 1)
    th = np.arccos(r)
    k1 = np.sqrt(q1 * q2) * (np.sin(th) + (np.pi - th) * r) / (2 * np.pi)
    k0 = (np.pi - th) / (2 * np.pi)
    w = 1 - slope
    F = slope**2 * c + slope * w * c + w * w * k1              # E[u relu(v)] = c/2
    D = slope**2 + slope * w + w * w * k0
    return F, D


@pytest.mark.parametrize("slope", [0, 0.2])
def test_relu_and_leaky_relu_match_the_arc_cosine_kernels(slope):
    act = sk.activation("relu") if slope == 0 else sk.activation("leaky_relu", slope=sp.Rational(1, 5))
    q1, q2 = np.meshgrid([0.01, 1.0, 30.0], [0.01, 1.0, 30.0])
    q1, q2 = q1.ravel()[:, None], q2.ravel()[:, None]
    c = np.array(RHOS + (-1.0,))[None, :] * np.sqrt(q1 * q2)
    F, D, eF, eD = pwl_kernels(act, q1, q2, c)
    Fr, Dr = _arccos_kernels(slope, q1, q2, c)
    assert (np.abs(F - Fr) <= eF + 4e-16 * np.abs(Fr)).all()       # + the closed form's own rounding
    assert (np.abs(D - Dr) <= eD + 4e-16).all()
    m, q = pwl_mean(act, q1[:, 0]), q1[:, 0]
    assert (np.abs(m - (1 - slope) * np.sqrt(q / (2 * np.pi))) <= 4e-16 * np.sqrt(q)).all()


def test_jumps_step_and_sign_match_the_order_0_arc_cosine_kernel():
    """Jumps (the S and L terms with J): step = 1[x > 0] and sign, F only (phi' holds a delta)."""
    q1, q2 = np.array([[0.01], [1.0], [30.0]]), np.array([[1.0], [30.0], [0.01]])
    c = np.array(RHOS + (-1.0,))[None, :] * np.sqrt(q1 * q2)
    th = np.arccos(np.clip(c / np.sqrt(q1 * q2), -1, 1))
    for name, ref in (("step", (np.pi - th) / (2 * np.pi)), ("sign", 1 - 2 * th / np.pi)):
        F, D, eF, _ = pwl_kernels(name, q1, q2, c, ntk=False)
        assert D is None and (np.abs(F - ref) <= eF + 4e-16).all(), name
    F, _ = pwl_kernels_mp("step", 1, 4, sp.Rational(-1, 3), ntk=False, dps=30)
    with mpmath.workdps(40):
        assert abs(F - (mpmath.pi - mpmath.acos(-mpmath.mpf(1) / 6)) / (2 * mpmath.pi)) < mpmath.mpf(10) ** -30


def test_d_bound_covers_the_change_of_d():
    """pwl_d_bound against D recomputed at c +- dc by the quadrature reference (within 4x of it)."""
    q1, q2, c, dc = 1.0, 1.0, 0.99, 1e-3
    bound = pwl_d_bound("hardtanh", q1, q2, c, dc)
    D0 = reference("hardtanh", q1, q2, c, deriv=True)
    worst = max(abs(reference("hardtanh", q1, q2, c + t * dc, deriv=True) - D0) for t in (-1, 1))
    assert worst <= bound <= 4 * worst


# -- mpmath path -----------------------------------------------------------------------------------
def test_mp_path_against_quadrature_at_20_digits():
    for name, expr, q1, q2, r in [("hardtanh", "hardtanh", 1.0, 30.0, 0.999), ("relu6", RELU6, 30.0, 30.0, -0.5)]:
        c = r * math.sqrt(q1 * q2)
        F, D = pwl_kernels_mp(expr, q1, q2, c, dps=20)
        assert mpmath.mp.dps == 15
        Fr, Dr = reference(name, q1, q2, c, dps=24), reference(name, q1, q2, c, deriv=True, dps=24)
        with mpmath.workdps(30):
            assert abs(F - Fr) <= 1e-20 * abs(Fr) and abs(D - Dr) <= 1e-20 * abs(Dr), (expr, F - Fr, D - Dr)


def test_mp_path_relu_and_means_against_closed_forms_at_40_digits():
    with mpmath.workdps(50):
        r = mpmath.mpf(-3) / 10
        ref = 3 * (mpmath.sqrt(1 - r * r) + (mpmath.pi - mpmath.acos(r)) * r) / (2 * mpmath.pi)
    F, D = pwl_kernels_mp("relu", 1, 9, sp.Rational(-9, 10), dps=40)
    m = pwl_mean_mp(HT_SHIFTED, 1, dps=40)
    with mpmath.workdps(50):
        assert abs(F - ref) < mpmath.mpf(10) ** -40
        assert abs(D - (mpmath.pi - mpmath.acos(r)) / (2 * mpmath.pi)) < mpmath.mpf(10) ** -40
        # E hardtanh(2X + 0.3) by quadrature over X, split at its corners
        mref = mpmath.quad(lambda t: max(-1, min(1, 2 * t + mpmath.mpf(3) / 10)) * mpmath.npdf(t),
                           [-mpmath.inf, mpmath.mpf(-13) / 20, mpmath.mpf(7) / 20, mpmath.inf])
        assert abs(m - mref) < mpmath.mpf(10) ** -40


def test_mp_path_agrees_with_float64_where_both_run():
    q1, q2, c = 4.0, 4.0001, (1 - 1e-8) * math.sqrt(4.0 * 4.0001)
    F, D, eF, eD = pwl_kernels(HT_SHIFTED, q1, q2, c)
    Fm, Dm = pwl_kernels_mp(HT_SHIFTED, q1, q2, c, dps=25)
    assert abs(F - Fm) <= eF and abs(D - Dm) <= eD


# -- a finite-width network ------------------------------------------------------------------------
def test_random_feature_layer_matches_and_rejects_a_wrong_breakpoint():
    """One Dense layer of width n on two inputs, then hardtanh: the features' averages of
    phi(u) phi(v) and phi'(u) phi'(v) against F and D, within 4 standard errors (from the data);
    the same data reject corners at +-1.1."""
    rng = np.random.default_rng(14)
    n, d = 400_000, 3
    x1, x2 = np.array([1.0, 0.5, -0.2]), np.array([0.7, 1.1, 0.4])
    W = rng.standard_normal((n, d)) * math.sqrt(2.0 / d)
    u, v = W @ x1, W @ x2
    q1, q2, c = 2.0 / d * x1 @ x1, 2.0 / d * x2 @ x2, 2.0 / d * x1 @ x2
    fu, fv = np.clip(u, -1, 1), np.clip(v, -1, 1)
    du, dv = (np.abs(u) < 1).astype(float), (np.abs(v) < 1).astype(float)
    t = sp.Rational(11, 10)
    wrong = PWLForm((-t, t), (0, 1, 0), (-t, 0, t))
    F, D, _, _ = pwl_kernels("hardtanh", q1, q2, c)
    Fw, Dw, _, _ = pwl_kernels(wrong, q1, q2, c)
    for samples, theory, bad in ((fu * fv, F, Fw), (du * dv, D, Dw)):
        se = samples.std(ddof=1) / math.sqrt(n)
        assert abs(samples.mean() - theory) <= 4 * se
        assert abs(samples.mean() - bad) > 4 * se


def test_deep_hardtanh_network_against_a_recursion_of_the_quadrature():
    """``sk.nn`` routes hardtanh to the closed form (the series refused such inputs at the default tol):
    (Dense(2, 0.05) -> hardtanh) x 3 -> Dense on three inputs, two at cosine 0.996, float64 with
    per-entry estimates, against the same recursion with every F and D by the quadrature above at
    20 digits: each entry within its estimate and 1e-12 relative."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 4))
    X[1] = X[0] + 0.14 * rng.standard_normal(4)
    net = sk.nn.serial(sk.nn.repeat(sk.nn.serial(sk.nn.Dense(2.0, 0.05), sk.nn.Activation("hardtanh")), 3),
                       sk.nn.Dense(2.0, 0.05))
    got = net.kernel(X, errors=True)
    with mpmath.workdps(20):
        n, d = X.shape
        b2 = mpmath.mpf(1) / 20
        K = [[2 * mpmath.fsum(mpmath.mpf(X[i, k]) * mpmath.mpf(X[j, k]) for k in range(d)) / d + b2
              for j in range(n)] for i in range(n)]
        T = [row[:] for row in K]
        for _ in range(3):
            F = [[None] * n for _ in range(n)]
            D = [[None] * n for _ in range(n)]
            for i in range(n):
                for j in range(i, n):
                    F[i][j] = F[j][i] = reference("hardtanh", K[i][i], K[j][j], K[i][j], dps=20)
                    D[i][j] = D[j][i] = reference("hardtanh", K[i][i], K[j][j], K[i][j], deriv=True, dps=20)
            K = [[2 * F[i][j] + b2 for j in range(n)] for i in range(n)]      # the activation, then the
            T = [[2 * D[i][j] * T[i][j] + K[i][j] for j in range(n)] for i in range(n)]   # next Dense
    for i in range(n):
        for j in range(n):
            for val, err, want in ((got.nngp, got.nngp_error, K[i][j]), (got.ntk, got.ntk_error, T[i][j])):
                e = abs(float(val[i, j]) - want)
                assert e <= float(err[i, j]) + 1e-15 * abs(want) and e <= 1e-12 * abs(want), (i, j, float(e))


@pytest.mark.parametrize("name", ["relu6", "hard_sigmoid"])
def test_registry_names_take_the_closed_form(name):
    """``relu6`` and ``hard_sigmoid`` are registry names (PyTorch's ReLU6 and Hardsigmoid): the pair
    kernel reads their breakpoints and a one-layer network matches the quadrature reference above."""
    from symkernel.nn.pair import pair_kernel

    pk = pair_kernel(name)
    assert pk.pwl_form is not None and pk.exact_nngp is None
    q1, q2, c = 4.0, 9.0, 0.7 * 6.0
    F, D, _ = pk.float_step(np.array([q1]), np.array([q2]), np.array([[c]]))
    assert abs(F[0, 0] - float(reference(name, q1, q2, c))) <= 1e-14
    assert abs(D[0, 0] - float(reference(name, q1, q2, c, deriv=True))) <= 1e-14
