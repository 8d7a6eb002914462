"""Mean-field maps, depth scales and edge of chaos (issue 5, Pabari & Zhou)."""
import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.meanfield import (
    NoFixedPointError, cnn_eigenvalues, cnn_mode_depth_scales, critical_minimum, float_state,
    moments, window_operator,
)
from symkernel.theory.meanfield.moments import Q


@pytest.mark.parametrize("name", ["relu", "erf", "hardtanh"])
@pytest.mark.parametrize("kind", ["V", "D1", "D2"])
def test_exact_moments_equal_quadrature_to_30_digits(name, kind):
    m = moments(name)
    assert m.exact(kind) is not None
    for q in (mpmath.mpf("0.37"), mpmath.mpf(3)):
        ex = m.mp(kind, q, 30, method="exact")
        nu = m.mp(kind, q, 30, method="numeric")
        with mpmath.workdps(30):
            assert abs(ex - nu) <= mpmath.mpf(10) ** -28 * max(abs(ex), 1)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softsign", "arctan", "erf"])
def test_float_moments_agree_with_mpmath(name):
    m = moments(name)
    for kind in ("V", "D1", "D2"):
        for q in (0.05, 1.3, 40.0):
            assert m.np(kind, [q])[0] == pytest.approx(float(m.mp(kind, q, 20, "numeric")), rel=1e-13, abs=1e-15)


def test_relu_symbolic_maps():
    sw2, sb2 = sp.symbols("sigma_w2 sigma_b2", positive=True)
    mf = sk.mean_field("relu", sw2, sb2)
    assert sp.simplify(mf.q_star.expr - 2 * sb2 / (2 - sw2)) == 0
    assert mf.chi_1.expr == sw2 / 2 and mf.chi_q.expr == sw2 / 2
    assert sp.simplify(mf.xi_c.expr + 1 / sp.log(sw2 / 2)) == 0


def test_erf_exact_chi1_matches_numeric_to_30_digits():
    mf = sk.mean_field("erf", 2, sp.Rational(1, 10))
    q = mf.q_star.value(40)
    with mpmath.workdps(40):
        d1 = 4 / (mpmath.pi * mpmath.sqrt(1 + 4 * q))  # closed form, checked against the engine
    assert moments("erf").exact("D1") == 4 / (sp.pi * sp.sqrt(4 * Q + 1))
    with mpmath.workdps(30):
        assert abs(mf.chi_1.value(30) - 2 * d1) < mpmath.mpf(10) ** -28
        assert abs(moments("erf").mp("D1", q, 30, "numeric") - d1) < mpmath.mpf(10) ** -28


@settings(max_examples=8)
@given(st.floats(0.3, 4.0), st.floats(0.0, 0.5))
def test_q_star_is_a_fixed_point(sw2, sb2):
    mf = sk.mean_field("tanh", sw2, sb2)
    q = mf.q_star.value(30)
    with mpmath.workdps(30):
        assert abs(mf.length_map_value(q, 30) - q) <= mpmath.mpf(10) ** -25 * max(q, 1)


@settings(max_examples=6)
@given(st.floats(0.3, 4.0), st.floats(0.01, 0.5))
def test_order_iff_chi1_below_one_and_xi_c_grows_near_criticality(sw2, sb2):
    st1 = float_state("tanh", sw2, sb2)
    assert (st1["c_star"] == 1.0) == (st1["chi_1"] <= 1)
    if st1["chi_1"] < 1:  # the c-map has c = 1 stable: iterating from c = 0.5 converges to 1
        mf = sk.mean_field("tanh", sw2, sb2)
        c = np.array([0.5])
        for _ in range(400):
            c = mf.correlation_map_numpy(c)
        assert c[0] > 0.99
    w, _ = sk.critical_curve("tanh", [sb2])
    xis = [float_state("tanh", w[0] * (1 - d), sb2)["xi_c"] for d in (0.1, 0.01, 0.001)]
    assert xis[0] < xis[1] < xis[2]


def test_critical_curve_monotone_and_matches_edge_of_chaos():
    sb = np.linspace(0, 0.5, 25)
    w, q = sk.critical_curve("tanh", sb)
    assert np.all(np.diff(w) > 0) and np.all(np.diff(q) > 0)
    ww, qq = sk.edge_of_chaos("tanh", sigma_b2=0.25)
    i = 12
    assert sb[i] == 0.25
    assert w[i] == pytest.approx(float(ww), rel=1e-12)
    chi = sk.mean_field("tanh", ww, 0.25).chi_1.value(25)
    assert abs(chi - 1) < mpmath.mpf(10) ** -20


def test_exact_edges_of_chaos():
    assert sk.edge_of_chaos("relu", 0)[0].expr == 2
    assert sk.edge_of_chaos("tanh", 0)[0].expr == 1
    assert sk.edge_of_chaos("erf", 0)[0].expr == sp.pi / 4
    assert sk.mean_field("relu", 2, 0).phase == "critical"
    assert sk.depth_scales("relu", 2, 0)[1].expr == sp.oo


def test_sigmoid_theorem1_minimum():
    from symkernel.papers import pabari_zhou
    res = pabari_zhou.theorem1(30)
    assert res["at_boundary"] and res["D1_decreasing"] and res["sigma_b2"] == 0
    w, pub = res["sigma_w2"], res["published"]
    # Pabari & Zhou prints sigma_w ~ 103.05 and sigma_w^2 >~ 100: the computed minimum is sigma_w^2,
    # 103.0076 (4e-4 below the printed 103.05), and sigma_w is about 10.149
    assert pub["theorem1_bound_sigma_w2"] < w < pub["theorem1_sigma_w"]
    assert abs(w - pub["theorem1_sigma_w"]) / w < 1e-3 and abs(w - pub["theorem1_sigma_w"]) > 0.03
    assert 10.1 < res["sigma_w"] < 10.2
    with mpmath.workdps(30):
        assert abs(res["sigma_w"] ** 2 - w) < mpmath.mpf(10) ** -28
    # eq. (27)'s q* = 0 bound is sigma_w^2 = 1/phi'(0)^2 = 16 (the paper prints sigma_w = 16)
    assert res["q0_bound_sigma_w2"] == 16 == pub["eq27_sigma_w"]
    # both equations of the proof hold at (q*, sigma_w^2), moments by quadrature at 30 digits
    m, q = moments("sigmoid"), res["q_star"]
    with mpmath.workdps(30):
        assert abs(w * m.mp("D1", q, 30, "numeric") - 1) < mpmath.mpf(10) ** -27
        assert abs(w * m.mp("V", q, 30, "numeric") - q) < mpmath.mpf(10) ** -27 * q


def test_pabari_zhou_phase_diagram_data_and_figure():
    import matplotlib
    matplotlib.use("Agg")
    from symkernel.papers import pabari_zhou
    d = pabari_zhou.phase_diagram_data("tanh", points=9, depths=np.arange(1, 31))
    crit = d["critical_sigma_w2"]
    assert crit == pytest.approx(float(sk.edge_of_chaos("tanh", 0.05)[0]), rel=1e-12)
    for w, ph, chi in zip(d["sigma_w2"], d["phase"], d["chi_1"]):
        assert (ph == "ordered") == (w < crit) == (chi < 1)
    assert np.allclose(d["lines"][4.5], 4.5 * np.array(d["xi_c"]))
    assert d["heat"].shape == (30, 9) and np.all((d["heat"] >= 0) & (d["heat"] <= 1))
    r = pabari_zhou.phase_diagram_data("relu", sigma_w2=[1.5, 2.5], depths=[5])
    assert r["phase"] == ["ordered", "no fixed point"] and np.isnan(r["xi_c"][1])
    assert r["critical_sigma_w2"] == 2.0
    fig = pabari_zhou.draw_phase_diagram(d)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == r"$\sigma_w^2$"


def test_chaotic_phase_c_star_two_paths():
    mf = sk.mean_field("tanh", 2.5, 0.05)
    f = mf.floats()
    assert float(mf.c_star) == pytest.approx(f["c_star"], rel=1e-13)
    assert float(mf.xi_c) == pytest.approx(f["xi_c"], rel=1e-12)
    assert sk.mean_field("tanh", 3, 0).c_star.expr == 0


def test_cnn_eigenvalues_match_matrix():
    for k, n in ((1, 8), (2, 7), (3, 5)):
        lam = sorted(float(v) for v in cnn_eigenvalues(k, n))
        assert np.allclose(lam, sorted(np.linalg.eigvals(window_operator(k, n)).real), atol=1e-12)
    rows = cnn_mode_depth_scales(1.0, 1, 8)
    assert [r[0] for r in rows if r[3]] == [0]


@pytest.mark.parametrize("args", [("tanh", -1, 0), ("tanh", 0, 0.1), ("tanh", 1, -0.2)])
def test_bad_variances(args):
    with pytest.raises(InvalidInputError):
        sk.mean_field(*args).q_star


def test_no_finite_fixed_point():
    with pytest.raises(NoFixedPointError):
        sk.mean_field("exp", 5, 0.1).q_star
    with pytest.raises(NoFixedPointError):
        sk.mean_field("relu", 3, 0.1).q_star
    with pytest.raises(NoFixedPointError):
        sk.edge_of_chaos("relu", 0.05)
    with pytest.raises(InvalidInputError):
        sk.mean_field("step", 1, 0.1).chi_1



def _mehler_corr(mf, c, dps, derivative=False):
    """The numeric path: Mehler series with mpmath Hermite coefficients of phi(sqrt(q*) x)."""
    wp = dps + 8
    q = mf.q_star.value(wp)
    with mpmath.workdps(wp):
        e = mf._mp_pair(q, mpmath.mpf(c), wp, derivative, min(1.0, abs(float(c)) + 0.05))
        if derivative:
            return mpmath.mpf(mf.sigma_w2) * e
        return (mpmath.mpf(mf.sigma_w2) * e + mpmath.mpf(mf.sigma_b2)) / q


def test_relu_exact_correlation_map_equals_mehler_to_30_digits():
    sw2, sb2 = sp.symbols("sigma_w2 sigma_b2", positive=True)
    sym = sk.mean_field("relu", sw2, sb2).correlation_map_expr
    # derived, compared with the arc-cosine kernel (docs/theory.md §2) as the expected side
    arccos = (sp.sqrt(1 - sk.rho**2) + (sp.pi - sp.acos(sk.rho)) * sk.rho) / (2 * sp.pi)
    assert sp.simplify((sym - (sw2 * arccos + (2 - sw2) / 2)).rewrite(sp.asin)) == 0
    mf = sk.mean_field("relu", sp.Rational(3, 2), sp.Rational(1, 10))
    assert mf.q_star.expr == sp.Rational(2, 5)
    cmap = mf.correlation_map()
    assert sp.simplify(cmap.expr - sym.subs({sw2: sp.Rational(3, 2), sb2: sp.Rational(1, 10)})) == 0
    for c in ("0.3", "-0.4"):
        with mpmath.workdps(30):
            assert abs(cmap(mpmath.mpf(c), dps=30) - _mehler_corr(mf, mpmath.mpf(c), 30)) < mpmath.mpf(10) ** -29
    # its slope at c* = 1 is chi_c* = chi_1 = sigma_w^2/2
    assert cmap.derivative()(1, dps=30) == mpmath.mpf(3) / 4 and mf.chi_1.expr == sp.Rational(3, 4)


def test_erf_exact_covariance_map_equals_mehler_to_30_digits():
    mf = sk.mean_field("erf", 3, sp.Rational(1, 10))
    assert mf.phase == "chaotic"
    cov = mf.covariance_map()
    assert sp.simplify(cov.expr - (3 * 2 / sp.pi * sp.asin(2 * Q * sk.rho / (1 + 2 * Q))
                                   + sp.Rational(1, 10))) == 0
    q = mf.q_star.value(45)
    with mpmath.workdps(45):
        exact = sp.lambdify((Q, sk.rho), cov.expr / Q, "mpmath")
        for c in (mpmath.mpf("0.5"), mpmath.mpf("-0.25")):
            assert abs(exact(q, c) - _mehler_corr(mf, c, 30)) < mpmath.mpf(10) ** -29
        # c* (numeric: Mehler root) is a fixed point of the exact map to 1e-28; slope = chi_c*
        cs = mf.c_star.value(36)   # chi_c.value(30) below reuses it
        assert abs(exact(q, cs) - cs) < mpmath.mpf(10) ** -28
        slope = mpmath.diff(lambda t: exact(q, t), cs)
        assert abs(slope - mf.chi_c.value(30)) < mpmath.mpf(10) ** -27


def test_interior_minimum_of_the_critical_line_gelu():
    res = critical_minimum("gelu")
    assert not res["at_boundary"]
    q, w, b = res["q_star"], res["sigma_w2"], res["sigma_b2"]
    m = moments("gelu")
    qv = q.value(30)
    with mpmath.workdps(30):
        # q is a stationary point of D1: the exact dD1 (refined) and the quadrature one both vanish
        assert abs(m.mp("dD1", qv, 30, "numeric")) < mpmath.mpf(10) ** -27
        assert abs(m.mp("dD1", qv, 30, "exact")) < mpmath.mpf(10) ** -27
        for dq in (mpmath.mpf("-0.01"), mpmath.mpf("0.01")):   # and a minimum of sigma_w^2
            assert 1 / m.mp("D1", qv + dq, 30) > w.value(30)
    mf = sk.mean_field("gelu", w, b, q0=float(q))
    with mpmath.workdps(25):
        assert abs(mf.chi_1.value(25) - 1) < mpmath.mpf(10) ** -22
        assert abs(mf.q_star.value(25) - q.value(25)) < mpmath.mpf(10) ** -22
    with pytest.raises(NoFixedPointError):
        critical_minimum("sigmoid", sigma_b2_min=1e9)


def test_bad_input_of_the_new_entry_points():
    from symkernel.errors import SymbolicValueError
    from symkernel.meanfield import simulate_jacobian, trajectory, pair_expectation
    with pytest.raises(InvalidInputError):
        trajectory("tanh", 0, 0.1, 1.0, 0.5, 3)
    with pytest.raises(InvalidInputError):
        trajectory("tanh", 1, 0.1, 1.0, 0.5, -1)
    with pytest.raises(InvalidInputError):
        pair_expectation("tanh", 1.0, 1.0, 1.5)
    with pytest.raises(InvalidInputError):
        simulate_jacobian("tanh", 1.5, 0.3, width=10, depth=2, q1=1.0, weights="uniform")
    with pytest.raises(InvalidInputError):
        simulate_jacobian("tanh", 1.5, 0.3, width=10, depth=2, q1=0.1)   # q1 <= sigma_b2
    with pytest.raises(SymbolicValueError):
        sk.mean_field("relu", sp.Symbol("w", positive=True), 0.1).correlation_map()
    with pytest.raises(InvalidInputError):
        sk.mean_field("tanh", 1, 0.1).covariance_map(-1)
    with pytest.raises(InvalidInputError):
        moments("tanh").mp("bogus", 1.0)


# -- a symbolic activation parameter (issue 11): leaky ReLU with a free slope a -----------------
A = sp.Symbol("a", positive=True)


def _leaky_length_map_by_quadrature(a, q):
    """E[phi(sqrt(q) Z)^2] for phi(x) = max(x, a x), by scipy quadrature (shares no code)."""
    from scipy import integrate
    f = lambda z: (np.sqrt(q) * z if z > 0 else a * np.sqrt(q) * z) ** 2 * np.exp(-z * z / 2)
    left = integrate.quad(f, -np.inf, 0, epsabs=0, epsrel=1e-13)[0]
    right = integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-13)[0]
    return (left + right) / np.sqrt(2 * np.pi)


def test_leaky_relu_symbolic_slope_closed_forms():
    """q*, chi_1, xi_q, xi_c in closed form in the slope and the variances, equal to the linear
    length map q -> sigma_w2 q (1+a^2)/2 + sigma_b2 written here."""
    sw2, sb2 = sp.symbols("sigma_w2 sigma_b2", positive=True)
    mf = sk.mean_field(sk.activation("leaky_relu", slope=A), sw2, sb2)
    slope = sw2 * (1 + A**2) / 2
    assert all(getattr(mf, n).exact for n in ("q_star", "chi_1", "xi_q", "xi_c"))
    assert sp.simplify(mf.q_star.expr - sb2 / (1 - slope)) == 0
    assert sp.simplify(mf.chi_1.expr - slope) == 0
    assert sp.simplify(mf.chi_q.expr - slope) == 0
    assert sp.simplify(mf.xi_q.expr + 1 / sp.log(slope)) == 0
    assert sp.simplify(mf.xi_c.expr + 1 / sp.log(slope)) == 0
    assert sp.simplify(mf.length_map() - (slope * Q + sb2)) == 0
    # against the numeric-slope pipeline and against quadrature of the length map
    for a in (sp.Rational(1, 5), sp.Rational(1, 2), sp.Rational(3, 2)):
        num = sk.mean_field(sk.activation("leaky_relu", slope=a), sp.Rational(6, 5), sp.Rational(1, 10))
        sub = {A: a, sw2: sp.Rational(6, 5), sb2: sp.Rational(1, 10)}
        if (slope.subs(sub) >= 1):
            continue
        for n in ("q_star", "chi_1", "xi_c"):
            assert sp.simplify(getattr(mf, n).expr.subs(sub) - getattr(num, n).expr) == 0
        q = 0.7
        assert float(mf.length_map(q).subs(sub)) == pytest.approx(
            1.2 * _leaky_length_map_by_quadrature(float(a), q) + 0.1, rel=1e-12)


def test_leaky_relu_symbolic_slope_errors():
    act = sk.activation("leaky_relu", slope=A)
    with pytest.raises(NoFixedPointError, match="no finite fixed point"):
        sk.mean_field(act, 2, sp.Rational(1, 10)).q_star      # slope 1 + a^2 >= 1 for every a
    mf = sk.mean_field(act, 1, sp.Rational(1, 10))
    with pytest.raises(sk.errors.SymbolicValueError):
        float(mf.q_star)
    with pytest.raises(sk.errors.SymbolicValueError, match="substitute"):
        mf.phase


def test_leaky_relu_symbolic_q_star_against_finite_width_simulation():
    """q^L of a width-N network (one input; the layer's pre-activations are exactly
    N(0, sigma_w2 |phi(z)|^2/N + sigma_b2) given the previous layer) against q* with a = 1/2
    substituted, within 4 standard errors over seeds; ReLU's q* (a = 0) is rejected."""
    sw2, sb2, a, width, depth, seeds = 1.2, 0.1, 0.5, 20000, 30, 24
    q_star = sk.mean_field(sk.activation("leaky_relu", slope=A), sp.Rational(6, 5),
                           sp.Rational(1, 10)).q_star.expr
    rng = np.random.default_rng(7)
    finals = []
    for _ in range(seeds):
        z = rng.standard_normal(width)
        for _ in range(depth):
            y = np.where(z > 0, z, a * z)
            z = np.sqrt(sw2 * np.mean(y * y)) * rng.standard_normal(width) \
                + np.sqrt(sb2) * rng.standard_normal(width)
        finals.append(np.mean(z * z))
    mean, se = np.mean(finals), np.std(finals, ddof=1) / np.sqrt(seeds)
    assert abs(mean - float(q_star.subs(A, sp.Rational(1, 2)))) < 4 * se
    assert abs(mean - float(q_star.subs(A, 0))) > 10 * se          # ReLU's q* is rejected


def test_root_solved_from_another_precision_checks_its_bracket():
    """A root reused from another working precision only seeds the bracket: a wrong one (here
    off in the 15th digit) is not confirmed, the bracket grows until the sign change holds."""
    from symkernel.theory.meanfield.maps import _Root
    root = _Root(lambda t, wp: t * t - 2, 1.4142135623730951, lo=0)
    root._raw[40] = mpmath.mpf("1.41421356237309")
    v = root.raw(50)
    with mpmath.workdps(60):
        assert abs(v - mpmath.sqrt(2)) < mpmath.mpf(10) ** -46
    good = root.raw(30)                      # seeded from the 50-digit root
    with mpmath.workdps(60):
        assert abs(good - mpmath.sqrt(2)) < mpmath.mpf(10) ** -26


def test_float_state_on_the_critical_line_itself():
    """At the edge-of-chaos point itself chi_1 rounds to just above 1 and c* has no bracket
    below 1 - 1e-9 (brentq raised ValueError): c* = 1 and xi_c = inf, not an error and not a
    negative depth scale."""
    from symkernel.theory.meanfield.maps import float_state
    sw2, _ = sk.edge_of_chaos("tanh", 0.05)
    for s in (float(sw2), 1.76095463960674):
        st = float_state("tanh", s, 0.05)
        assert abs(st["chi_1"] - 1) < 1e-12 and st["c_star"] == 1.0
        assert st["xi_c"] == float("inf") or st["xi_c"] > 1e8
    assert float_state("tanh", 1.7, 0.05)["c_star"] == 1.0          # ordered: c* = 1 as before
    assert float_state("tanh", 1.9, 0.05)["c_star"] < 1               # chaotic: a root below 1


def test_pair_expectation_mehler_path_against_closed_forms_and_the_tensor_rule():
    """E[phi(u1) phi(u2)] at q1 = q2 takes Mehler's series where Parseval bounds its tail: against
    erf's arcsine and ReLU's arc-cosine closed forms (docs/theory.md §2), and against the tensor
    Gauss-Legendre rule it replaces (tanh); where the tail bound fails (ReLU at c = -0.9, slowly
    decaying coefficients) the tensor rule answers."""
    import importlib
    tm = importlib.import_module("symkernel.theory.meanfield.trajectory")
    from symkernel.meanfield import moments as moments_of
    closed = {"erf": lambda q, c: 2 / np.pi * np.arcsin(2 * q * c / (1 + 2 * q)),
              "relu": lambda q, c: q / (2 * np.pi) * (np.sqrt(1 - c * c) + (np.pi - np.arccos(c)) * c)}
    for q in (0.3, 1.0, 3.0):
        for c in (-0.9, -0.3, 0.5, 0.8, 0.94):
            ref = closed["erf"](q, c)
            assert tm._mehler(moments_of("erf"), q, c) is not None
            assert abs(tm.pair_expectation("erf", q, q, c) - ref) <= 2e-15 * abs(ref)
            if q < 3:     # (the tensor rule takes 0.1 s at q = 3)
                tanh = tm.pair_expectation("tanh", q, q, c)
                tensor = tm._tensor(moments_of("tanh"), q, q, c)
                assert abs(tanh - tensor) <= 2e-15 * abs(tensor)
        for c in (-0.3, 0.5, 0.8):
            ref = closed["relu"](q, c)
            assert tm._mehler(moments_of("relu"), q, c) is not None
            assert abs(tm.pair_expectation("relu", q, q, c) - ref) <= 2e-15 * abs(ref)
        assert tm._mehler(moments_of("relu"), q, -0.9) is None
