"""CNN mean field (Xiao et al. 2018; Pabari & Zhou §3.3): the covariance map against closed forms,
its linearization against the Dirichlet-kernel eigenvalues, finite-width CNNs against the map,
and dynamical isometry of delta-orthogonal vs Gaussian filters."""
import math

import numpy as np
import pytest

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.papers import pabari_zhou_cnn as pz
from symkernel.simulate.cnn import cnn_filter, simulate_cnn
from symkernel.theory.meanfield import pair_expectation
from symkernel.theory.meanfield.cnn_map import (check_covariance, cnn_fixed_point, cnn_map,
                                                cnn_trajectory, pair_expectations)
from symkernel.validate.cnn import covariance_check, isometry_check, linearization_check


def _random_covariance(n, seed, near_one=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n + 2)) * rng.uniform(0.3, 1.5, size=(n, 1))
    if near_one:                         # positions 0 and 1 almost collinear (rho ~ 0.999)
        X[1] = X[0] * 1.3 + 0.05 * rng.standard_normal(n + 2)
    return X @ X.T / (n + 2)


def _erf_closed_form(S):
    """Williams (NeurIPS 1997): E[erf(u) erf(v)] = (2/pi) asin(2 S12/sqrt((1+2 S11)(1+2 S22)))."""
    d = np.diagonal(S)
    return 2 / np.pi * np.arcsin(2 * S / np.sqrt(np.outer(1 + 2 * d, 1 + 2 * d)))


def _relu_closed_form(S):
    """Cho & Saul (NeurIPS 2009): sqrt(q1 q2)/(2 pi) (sin t + (pi - t) cos t), cos t = rho."""
    d = np.diagonal(S)
    g = np.sqrt(np.outer(d, d))
    t = np.arccos(np.clip(S / g, -1, 1))
    return g / (2 * np.pi) * (np.sin(t) + (np.pi - t) * np.cos(t))


@pytest.mark.parametrize("name, closed", [("erf", _erf_closed_form), ("relu", _relu_closed_form)])
def test_pair_expectations_match_closed_forms(name, closed):
    for seed, near in ((0, False), (1, True)):
        S = _random_covariance(5, seed, near)
        err = np.abs(pair_expectations(name, S) - closed(S))
        if near and name == "relu":
            # rho ~ 0.999 with a kink: the Parseval bound sends the entry to the tensor
            # Gauss-Legendre rule, documented at about 6 digits across kinks
            assert err[0, 1] < 1e-6 * closed(S)[0, 1]
            err[0, 1] = err[1, 0] = 0
        assert err.max() < 1e-12


def test_cnn_map_is_window_average_of_the_covariance_map():
    # A * C written out as loops over the ring, with the closed form of erf
    S, sw2, sb2, k = _random_covariance(6, 2), 1.7, 0.2, 1
    C = sw2 * _erf_closed_form(S) + sb2
    n = S.shape[0]
    expected = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            window = [C[(a + t) % n, (b + t) % n] for t in range(-k, k + 1)]
            expected[a, b] = sum(window) / (2 * k + 1)
    assert np.abs(cnn_map("erf", S, sw2, sb2, k=k) - expected).max() < 1e-12
    assert np.abs(cnn_map("erf", S, sw2, sb2, k=0) - C).max() < 1e-12


@pytest.mark.parametrize("sw2, sb2", [(2.5, 0.1), (1.5, 0.05)])     # chaotic, ordered
def test_fixed_point_is_fixed_by_tensor_quadrature_and_the_map(sw2, sb2):
    S = cnn_fixed_point("tanh", sw2, sb2, n=6)
    q, c = S[0, 0], S[0, 1] / S[0, 0]
    # the 2-D tensor Gauss-Legendre rule (no Hermite coefficients)
    assert abs(sw2 * pair_expectation("tanh", q, q, c) + sb2 - q * c) < 1e-11
    assert np.abs(cnn_map("tanh", S, sw2, sb2, k=1) - S).max() < 1e-11
    T = cnn_trajectory("tanh", S, sw2, sb2, k=2, depth=3)
    assert np.abs(T - S).max() < 1e-11


def test_linearization_modes_are_chi_times_dirichlet_eigenvalues():
    lin = linearization_check("tanh", 2.5, 0.1, k=1, n=8, full=True)
    # the eigenvalues of the window average by numpy on the circulant matrix (not the formula)
    lam = np.sort(np.linalg.eigvalsh(sk.meanfield.window_operator(1, 8)))
    assert np.allclose(np.sort(lin["off_diagonal_theory"] / lin["chi_c"]), lam, atol=1e-13)
    for kind in ("off_diagonal", "diagonal"):
        assert np.abs(lin[kind] - lin[kind + "_theory"]).max() < 1e-8
    assert lin["off_residual"].max() < 1e-8                  # the cos modes are eigenvectors
    assert np.abs(lin["eigenvalues"] - lin["eigenvalues_theory"]).max() < 1e-8
    # a wrong theory: every mode decaying like the fully connected chi_c* alone
    assert np.abs(lin["off_diagonal"] - lin["chi_c"]).max() > 0.5
    # the Jacobian is block-triangular, not block-diagonal: diagonal modes drive the off-diagonal
    assert lin["leak"][0] > 0.1
    lin = linearization_check("erf", 3.0, 0.2, k=2, n=7, band=2)
    assert np.abs(lin["off_diagonal"] - lin["off_diagonal_theory"]).max() < 1e-8


@pytest.mark.parametrize("weights", ["gaussian", "delta_orthogonal"])
def test_finite_width_covariance_follows_the_map(weights):
    sw2, sb2 = 2.5, 0.1
    res = covariance_check("tanh", sw2, sb2, n=8, k=1, weights=weights, channels=64, depth=6,
                           seeds=60, seed=0)
    assert res.all_agree, res.max_abs_z
    assert res.resolution < 0.05
    # the map of the other filter (with/without the window average) is rejected
    other = cnn_trajectory("tanh", res.theory[0], sw2, sb2, 0 if weights == "gaussian" else 1, 6)
    assert res.rejects(other)


def test_delta_orthogonal_filter_and_jacobian():
    rng = np.random.default_rng(0)
    w = cnn_filter(rng, 16, 2, 1.7, "delta_orthogonal")
    assert not np.delete(w, 2, axis=0).any()
    assert np.abs(w[2].T @ w[2] - 1.7 * np.eye(16)).max() < 1e-12
    g = cnn_filter(rng, 64, 1, 1.7, "gaussian")          # variance sigma_w^2/(c (2k+1))
    v, target = g.var(), 1.7 / (64 * 3)
    assert abs(v - target) < 4 * target * math.sqrt(2 / g.size)
    # J = dh^L/dh^0 against central differences of the forward pass (same weights: same seed)
    h0 = np.random.default_rng(1).standard_normal((6, 5))
    kw = dict(channels=6, depth=3, k=1, sigma_w2=1.5, sigma_b2=0.1, seed=4)
    for weights in ("gaussian", "delta_orthogonal"):
        J = simulate_cnn("tanh", inputs=h0, weights=weights, jacobian=True, **kw).jacobian
        eps = 1e-6
        for j in (0, 7, 29):
            e = np.zeros(30)
            e[j] = eps
            up = simulate_cnn("tanh", inputs=h0 + e.reshape(6, 5), weights=weights, **kw).output
            dn = simulate_cnn("tanh", inputs=h0 - e.reshape(6, 5), weights=weights, **kw).output
            assert np.abs((up - dn).ravel() / (2 * eps) - J[:, j]).max() < 1e-8


def test_dynamical_isometry_delta_orthogonal_vs_gaussian():
    res = isometry_check("tanh", 1e-4, channels=64, n=4, k=1, depths=(8, 32), seeds=6)
    assert abs(res["chi_1"] - 1) < 1e-10                     # sk.edge_of_chaos
    for key in [(w, L) for w in ("gaussian", "delta_orthogonal") for L in (8, 32)]:
        r = res[key]
        assert abs(r["z_m1"]) < 4, (key, r["z_m1"])           # m_1 = chi_1^L
        assert abs(r["z_ratio"]) < 4, (key, r["z_ratio"])     # free probability, m_2/m_1^2
    g8, g32 = res[("gaussian", 8)]["ratio"], res[("gaussian", 32)]["ratio"]
    d32 = res[("delta_orthogonal", 32)]
    assert g32.mean() > 2 * g8.mean() and g32.min() > 10        # Gaussian: spread grows with L
    assert d32["ratio"].max() < 1.5                             # delta-orthogonal: near 1
    se = d32["ratio"].std(ddof=1) / math.sqrt(d32["ratio"].size)
    assert abs(d32["ratio"].mean() - res[("gaussian", 32)]["ratio_theory"]) > 4 * se
    assert abs(d32["ratio"].mean() - 1) > 4 * se                # not perfect isometry either


def test_papers_cnn_panels():
    s = pz.figure3_setting()
    assert s["phase"] == "chaotic" != pz.PUBLISHED["figure3_phase"]
    assert s["critical_sigma_w2"] < pz.PUBLISHED["figure3_sigma_w2"]
    assert s["depth"] < pz.PUBLISHED["depth_multiple"] * s["xi_c"]
    d = pz.mode_depth_scale_data(sigma_w2=[1.2, 2.5, 3.5])
    assert np.allclose(d["xi_modes"][0], d["xi_c"], rtol=1e-12)
    lam = np.linalg.eigvalsh(sk.meanfield.window_operator(1, 8))
    for m in d["modes"]:
        lam_m = (1 + 2 * np.cos(2 * np.pi * m / 8)) / 3
        assert np.min(np.abs(lam - lam_m)) < 1e-13
        r = d["chi_c"] * abs(lam_m)
        ok = r > 0
        assert np.allclose(d["xi_modes"][m][ok], -1 / np.log(r[ok]), rtol=1e-12)
    from matplotlib.figure import Figure
    assert isinstance(pz.draw_mode_depth_scales(d), Figure)


def test_bad_input():
    with pytest.raises(InvalidInputError, match="symmetric"):
        check_covariance([[1.0, 0.2], [0.3, 1.0]])
    with pytest.raises(InvalidInputError, match="rho"):
        check_covariance([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(InvalidInputError, match="negative variance"):
        check_covariance([[-1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InvalidInputError, match="k must be"):
        cnn_map("tanh", np.eye(3), 1.5, 0.1, k=-1)
    with pytest.raises(InvalidInputError, match="sigma_w2"):
        cnn_map("tanh", np.eye(3), 0.0, 0.1)
    with pytest.raises(InvalidInputError, match="weights"):
        simulate_cnn("tanh", np.eye(3), channels=4, depth=1, sigma_w2=1.0, weights="orthogonal")
    with pytest.raises(InvalidInputError, match="exactly one"):
        simulate_cnn("tanh", channels=4, depth=1, sigma_w2=1.0)
    with pytest.raises(InvalidInputError, match="channels = 4"):
        simulate_cnn("tanh", inputs=np.ones((3, 5)), channels=4, depth=1, sigma_w2=1.0)
    with pytest.raises(InvalidInputError, match="GiB"):
        simulate_cnn("tanh", np.eye(64), channels=4096, depth=1, sigma_w2=1.0, jacobian=True)
    with pytest.raises(InvalidInputError, match="semidefinite"):
        simulate_cnn("tanh", [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]], channels=4, depth=1,
                     sigma_w2=1.0)
    with pytest.raises(InvalidInputError, match="jumps"):
        simulate_cnn("step", np.eye(3), channels=4, depth=1, sigma_w2=1.0, jacobian=True)
    with pytest.raises(InvalidInputError, match="chaotic phase"):
        linearization_check("tanh", 1.5, 0.05, n=4)


def test_simulation_is_deterministic():
    a = simulate_cnn("tanh", np.eye(4), channels=8, depth=2, sigma_w2=1.5, seed=3)
    b = simulate_cnn("tanh", np.eye(4), channels=8, depth=2, sigma_w2=1.5, seed=3)
    c = simulate_cnn("tanh", np.eye(4), channels=8, depth=2, sigma_w2=1.5, seed=4)
    assert np.array_equal(a.covariance, b.covariance)
    assert not np.array_equal(a.covariance, c.covariance)
