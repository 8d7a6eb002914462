"""Fixed points of the length map, their stability and basins, against closed forms and against
iterating the closed-form map directly (a path that shares no code with the analysis)."""
import math

import pytest

from symkernel.theory.meanfield.fixed_points import length_map


def _relu2_roots(sw2, sb2):
    """V(q) = (3/2) sw2 q^2 + sb2 for phi = relu^2 (E relu(Z)^4 = 3/2): roots and slopes 3 sw2 q."""
    disc = 1 - 6 * sw2 * sb2
    roots = sorted(((1 - math.sqrt(disc)) / (3 * sw2), (1 + math.sqrt(disc)) / (3 * sw2)))
    return [(q, 3 * sw2 * q) for q in roots]


def _iterate(V, q, layers=10_000):
    for _ in range(layers):
        q = V(q)
        if q > 1e12:
            return math.inf
    return q


@pytest.mark.parametrize("sw2, sb2", [(2.5, 0.05), (1.0, 0.1), (4.0, 0.01)])
def test_squared_relu_two_fixed_points_one_stable(sw2, sb2):
    lm = length_map("max(x,0)**2", sw2, sb2)
    expected = _relu2_roots(sw2, sb2)
    assert len(lm.fixed_points) == 2
    for p, (q, slope) in zip(lm.fixed_points, expected):
        assert p.q == pytest.approx(q, rel=1e-10) and p.slope == pytest.approx(slope, rel=1e-6)
    assert [p.stable for p in lm.fixed_points] == [True, False]
    V = lambda q: 1.5 * sw2 * q * q + sb2
    low, high = expected[0][0], expected[1][0]
    for q0 in (0.5 * low, 0.5 * (low + high), 2 * high):
        reached = _iterate(V, q0)
        out = lm.outcome(q0)
        if math.isinf(reached):
            assert out.kind == "diverges"
        else:
            assert out.kind == "fixed point" and out.fixed_point.q == pytest.approx(reached, rel=1e-9)


def test_the_issue_example_phases():
    """sigma_w2 = 2.5, sigma_b2 = 0.05: q diverges from q0 = 1, is ordered with chi_1 = 1/3 from
    q0 = 0.1 (chi_1 = sw2 E[(2 relu)^2] = 2 sw2 q* at q* = 1/15)."""
    lm = length_map("max(x,0)**2", 2.5, 0.05)
    assert lm.phase(1.0) == "q diverges" and lm.phase(0.1) == "ordered"
    assert lm.chi_1(lm.outcome(0.1).fixed_point) == pytest.approx(1 / 3, rel=1e-10)


@pytest.mark.parametrize("sw2, sb2", [(1.5, 0.1), (1.0, 0.3), (2.5, 0.0), (1.5, 0.0)])
def test_relu_linear_length_map(sw2, sb2):
    lm = length_map("relu", sw2, sb2)       # V(q) = sw2 q/2 + sb2
    if sw2 < 2:
        q = sb2 / (1 - sw2 / 2)
        assert lm.outcome(1.0).fixed_point.q == pytest.approx(q, abs=1e-12)
        assert lm.outcome(1.0).fixed_point.slope == pytest.approx(sw2 / 2, rel=1e-6)
    else:
        assert lm.outcome(1.0).kind == "diverges"


def test_relu_at_criticality_every_length_is_fixed():
    lm = length_map("relu", 2, 0)
    assert lm.every_length_fixed and lm.outcome(3.7).fixed_point.q == 3.7
    assert lm.phase(3.7) == "critical"


def test_tanh_zero_becomes_unstable_above_sigma_w2_one():
    assert [p.kind for p in length_map("tanh", 0.8, 0).fixed_points] == ["stable"]
    pts = length_map("tanh", 1.5, 0).fixed_points
    assert [p.kind for p in pts] == ["unstable", "stable"] and pts[0].q == 0


@pytest.mark.parametrize("act, q, w, slope", [
    ("max(x,0)**2", 0.2, 2.5, 1.5),         # chi_1 = 2 w q = 1 and V = 1.5 w q^2 + 0.05 = q
    ("exp", 1.05, math.exp(-2.1), 2.0),     # chi_1 = w e^{2q} = 1 and V = w e^{2q} + 0.05 = q
])
def test_edge_of_chaos_refuses_an_unstable_fixed_point(act, q, w, slope):
    import symkernel as sk

    with pytest.raises(sk.meanfield.NoFixedPointError, match="no stable edge of chaos") as exc:
        sk.edge_of_chaos(act, 0.05)
    text = str(exc.value)
    assert f"q* = {q:.6g}" in text and f"sigma_w2 = {w:.6g}" in text and f"slope {slope:.4g}" in text
    w_curve, q_curve = sk.critical_curve(act, [0.05])
    assert math.isnan(w_curve[0]) and math.isnan(q_curve[0])


def test_edge_of_chaos_points_are_stable_fixed_points():
    import symkernel as sk

    for act in ("tanh", "erf", "sin", "softsign"):
        w, q = sk.edge_of_chaos(act, 0.05)
        lm = length_map(act, float(w), 0.05)
        reached = lm.outcome(1.0).fixed_point
        assert reached.stable and reached.q == pytest.approx(float(q), rel=1e-8)
        assert lm.chi_1(reached) == pytest.approx(1, rel=1e-8)


def test_sigmoid_phase_diagram_at_zero_bias_variance():
    """Pabari & Zhou Figure 5's data: critical_curve once raised scipy's ValueError here."""
    from symkernel.papers import pabari_zhou

    d = pabari_zhou.phase_diagram_data("sigmoid", sigma_b2=0, points=5, depths=[5])
    assert isinstance(d, dict)


def test_mean_field_says_q_diverges_and_where_the_stable_point_is():
    import symkernel as sk

    with pytest.raises(sk.meanfield.NoFixedPointError, match=r"from q0 = 1 the length q\^l diverges"
                       r".*q\* = 0.0666667 \(stable.*q\* = 0.2 \(unstable.*start below q0 = 0.2"):
        sk.mean_field("max(x,0)**2", 2.5, 0.05).q_star
    assert float(sk.mean_field("max(x,0)**2", 2.5, 0.05, q0=0.1).chi_1) == pytest.approx(1 / 3)


def test_edge_of_chaos_plot_draws_what_exists_and_names_what_is_missing():
    import symkernel as sk

    # a coarse grid: each sigma_b^2 where nothing exists costs a full root scan (the default grid
    # of 41 points is drawn by the README's example)
    fig = sk.plot.edge_of_chaos(("max(x,0)**2", "tanh", "erf"),
                                sigma_b2=[0.0, 0.02, 0.08, 0.18, 0.3])
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2                      # tanh and erf drawn
    assert "no stable edge of chaos here: max(x,0)**2" in ax.get_title()


@pytest.mark.parametrize("act, sw2, sb2", [("tanh", 1.5, 0.05), ("erf", 3, 0.1),
                                           ("max(x,0)**2", 2.5, 0.05), ("softplus", 1.2, 0.1)])
def test_length_map_slope_is_chi_q(act, sw2, sb2):
    """Two paths to V'(q*): the central difference of V used by the fixed-point analysis, and
    MeanField.chi_q = sigma_w2 E[phi'^2 + phi'' phi] (Gaussian integration by parts, mpmath)."""
    import symkernel as sk

    lm = length_map(act, sw2, sb2)
    stable = [p for p in lm.fixed_points if p.stable and p.q > 0][0]
    mf = sk.mean_field(act, sw2, sb2, q0=stable.q)
    assert float(mf.q_star) == pytest.approx(stable.q, rel=1e-10)
    assert float(mf.chi_q) == pytest.approx(stable.slope, rel=1e-9)   # measured 1e-11 (h = 1e-5 q)
