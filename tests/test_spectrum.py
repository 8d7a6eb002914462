"""The Jacobian's singular-value spectrum by free probability (Pennington, Schoenholz & Ganguli
2017; Pabari & Zhou §3.2) against closed forms written here and against finite-width Jacobians."""
import math

import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.meanfield import float_state, simulate_jacobian
from symkernel.theory.meanfield.spectrum import (
    jacobian_spectrum_density, jacobian_spectrum_moments, s_transform, series_reversion,
)


def fuss_catalan(L, k):
    """Moments of (W_L...W_1)(W_L...W_1)^T for square Ginibre W (variance 1/N): binom((L+1)k, k)/(Lk+1)."""
    return sp.Rational(math.comb((L + 1) * k, k), L * k + 1)


def test_linear_networks_give_fuss_catalan_and_orthogonal_powers():
    for L in range(1, 5):
        got = jacobian_spectrum_moments(None, 1, 0, L, "gaussian", order=5, mu=[1] * 5)
        assert got == [fuss_catalan(L, k) for k in range(1, 6)], (L, got)
        # scaled orthogonal weights: J J^T = sigma_w^(2L) I, so m_k = sigma_w^(2Lk)
        got = jacobian_spectrum_moments(None, 3, 0, L, "orthogonal", order=4, mu=[1] * 4)
        assert got == [sp.Integer(3) ** (L * k) for k in range(1, 5)]


def test_relu_at_criticality_exact():
    """ReLU: phi'^2 is Bernoulli(1/2), mu_k = 1/2, so mu_2/mu_1^2 = 2; at sigma_w^2 = 2 the
    normalized second moment is 1 + 2L (Gaussian) and 1 + L (orthogonal): no isometry."""
    half = [sp.Rational(1, 2)] * 2
    for L in (1, 5, 40):
        g = jacobian_spectrum_moments(None, 2, 0, L, "gaussian", order=2, mu=half)
        o = jacobian_spectrum_moments(None, 2, 0, L, "orthogonal", order=2, mu=half)
        assert g == [1, 1 + 2 * L] and o == [1, 1 + L]
        # the float path (mu_k by quadrature across the kink) gives the same numbers
        for weights, r in (("gaussian", 1 + 2 * L), ("orthogonal", 1 + L)):
            assert sk.meanfield.normalized_second_moment("relu", 2.0, 0.0, L, weights, q=1.0) == \
                pytest.approx(r, rel=1e-12)


def test_series_helpers():
    assert series_reversion([2, 0, 0], 3) == [sp.Rational(1, 2), 0, 0]
    # Marchenko-Pastur with variance s: moments s^k Catalan(k), S = 1/(s (1 + z))
    s = sp.Rational(3, 2)
    assert s_transform([s, 2 * s**2, 5 * s**3, 14 * s**4]) == [1 / s, -1 / s, 1 / s, -1 / s]
    with pytest.raises(InvalidInputError, match="a_1"):
        series_reversion([0, 1], 3)


@pytest.mark.parametrize("bad, match", [(dict(weights="unitary"), "weights"), (dict(depth=0), "depth"),
                                        (dict(order=0), "order"), (dict(sigma_w2=-1.0), "sigma_w2")])
def test_bad_input(bad, match):
    args = dict(act="tanh", sigma_w2=1.5, sigma_b2=0.05, depth=3)
    args.update(bad)
    with pytest.raises(InvalidInputError, match=match):
        jacobian_spectrum_moments(**args)
    with pytest.raises(InvalidInputError, match="ascending"):
        jacobian_spectrum_density("tanh", 1.5, 0.05, 2, [2.0, 1.0])
    with pytest.raises(InvalidInputError, match="eps"):
        jacobian_spectrum_density("tanh", 1.5, 0.05, 2, [1.0, 2.0], eps=0)


def test_density_is_marchenko_pastur_for_one_linear_layer_and_carries_the_series_moments():
    lam = np.linspace(0.05, 3.9, 40)
    rho = jacobian_spectrum_density("x", 1.0, 0.0, 1, lam, "gaussian", q=1.0, eps=1e-6)
    assert np.max(np.abs(rho - np.sqrt(4 / lam - 1) / (2 * np.pi))) < 1e-4
    # tanh at the edge of chaos, depth 3: the density's moments (a grid integral) against the
    # moments of the S-transform series (no density involved)
    sw2 = float(sk.edge_of_chaos("tanh", 0.05)[0])
    for weights in ("gaussian", "orthogonal"):
        grid = np.geomspace(1e-5, 40, 800)
        rho = jacobian_spectrum_density("tanh", sw2, 0.05, 3, grid, weights, eps=1e-5)
        m = jacobian_spectrum_moments("tanh", sw2, 0.05, 3, weights, order=2)
        for k in (1, 2):
            assert np.trapezoid(rho * grid**k, grid) == pytest.approx(m[k - 1], rel=3e-3), (weights, k)


def _simulated(sw2, sb2, q, depth, width, weights, seeds):
    """Per network: m1 = tr(JJ^T)/N and r = m2/m1^2."""
    out = []
    for s in range(seeds):
        J = simulate_jacobian("tanh", sw2, sb2, width=width, depth=depth, q1=q, weights=weights, seed=s)
        m1 = np.sum(J * J) / width
        JJ = J @ J.T
        out.append((m1, np.sum(JJ * JJ) / width / m1**2))
    return np.array(out)


def test_tanh_spectrum_at_criticality_against_finite_width_jacobians():
    """m1 = chi_1^L = 1 and r = m2/m1^2 = 1 + L(mu_2/mu_1^2 - 1 + v_W), v_W = 1 (Gaussian) or 0
    (orthogonal), against Jacobians of width 64 and 128.  Finite width biases both by O(L/N)
    (measured: r is 3% high at N = 100, L = 5): the two widths are extrapolated to 1/N = 0,
    2 x(128) - x(64), with its standard error, before the comparison.  60 networks per width
    (CI size): measured |z| <= 1.3 for the theory, while the wrong theories stay >= 13 standard
    errors away (the other ensemble's r >= 38, phi'^2 constant >= 13; 51 and 17 with 150)."""
    sb2, depth, seeds = 0.05, 4, 60
    sw2 = float(sk.edge_of_chaos("tanh", sb2)[0])
    q = float_state("tanh", sw2, sb2)["q_star"]
    r_theory = {}
    for weights in ("gaussian", "orthogonal"):
        m1, m2 = jacobian_spectrum_moments("tanh", sw2, sb2, depth, weights, order=2, q=q)
        assert m1 == pytest.approx(1, abs=1e-12)            # chi_1 = 1 on the edge of chaos
        r_theory[weights] = m2 / m1**2
    mu = np.array(sk.meanfield.derivative_square_moments("tanh", q, 2))
    assert r_theory["gaussian"] - r_theory["orthogonal"] == pytest.approx(depth, rel=1e-12)
    r_const_d = {"gaussian": 1 + depth, "orthogonal": 1.0}  # a wrong theory: phi'^2 constant
    for weights in ("gaussian", "orthogonal"):
        lo, hi = (_simulated(sw2, sb2, q, depth, n, weights, seeds) for n in (64, 128))
        est = 2 * hi.mean(0) - lo.mean(0)
        se = np.sqrt(4 * hi.var(0, ddof=1) + lo.var(0, ddof=1)) / np.sqrt(seeds)
        z = (est - np.array([1.0, r_theory[weights]])) / se
        assert np.all(np.abs(z) < 4), (weights, est, se, z)
        other = "orthogonal" if weights == "gaussian" else "gaussian"
        for wrong in (r_theory[other], r_const_d[weights]):
            assert abs(est[1] - wrong) / se[1] > 4, (weights, wrong, est[1], se[1])
    # dynamical isometry: the orthogonal spectrum is much narrower (variance of the squared
    # singular values mu_2/mu_1^2 - 1 = 0.34 per layer instead of 1.34)
    assert mu[1] / mu[0] ** 2 - 1 < 0.4
    assert r_theory["orthogonal"] - 1 < 0.3 * (r_theory["gaussian"] - 1)


def test_density_against_the_singular_values_of_finite_width_jacobians():
    """P(lambda < x) from the free-probability density against the fraction of squared singular
    values below x in seeded Jacobians (tanh on the edge of chaos, depth 8), widths 96 and 192
    extrapolated to 1/N = 0 (measured |z| <= 1.4; at width 96 alone the Gaussian case is ~2.5
    standard errors off).  The other ensemble's density is rejected."""
    sb2, depth, nets = 0.05, 8, 10
    sw2 = float(sk.edge_of_chaos("tanh", sb2)[0])
    q = float_state("tanh", sw2, sb2)["q_star"]
    thr = np.array([1e-3, 1e-1, 1.0, 3.0])
    grid = np.geomspace(1e-3, 400, 1500)
    cdf = {}
    for weights in ("gaussian", "orthogonal"):
        rho = jacobian_spectrum_density("tanh", sw2, sb2, depth, grid, weights, q=q, eps=1e-5)
        above = np.concatenate([np.cumsum((((rho[1:] + rho[:-1]) / 2) * np.diff(grid))[::-1])[::-1], [0]])
        cdf[weights] = 1 - np.interp(thr, grid, above)
    for weights in ("gaussian", "orthogonal"):
        stats = []
        for width in (96, 192):
            fr = np.array([[np.mean(ev < x) for x in thr] for ev in (
                np.linalg.svd(simulate_jacobian("tanh", sw2, sb2, width=width, depth=depth, q1=q,
                                                weights=weights, seed=s), compute_uv=False) ** 2
                for s in range(nets))])
            stats.append((fr.mean(0), fr.var(0, ddof=1) / nets))
        (lo, vlo), (hi, vhi) = stats
        est, se = 2 * hi - lo, np.sqrt(4 * vhi + vlo)
        assert np.all(np.abs(est - cdf[weights]) < 4 * se), (weights, est, cdf[weights], se)
        other = cdf["orthogonal" if weights == "gaussian" else "gaussian"]
        assert np.max(np.abs(est - other) / se) > 8
