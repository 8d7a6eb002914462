"""Joudaki & Hofmann (AISTATS 2025) against finite-width networks and the exact kernel map:
Figures S.1/S.2 (Theorem 1's bound), Theorem 1 case 3 for ReLU (1 - rho_l ~ C/l^2),
Proposition 1 with non-Gaussian weights, Corollary 2 in float32/float64.  CI-sized."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.papers import joudaki_hofmann_2025 as table
from symkernel.papers import joudaki_hofmann_2025_case3 as case3
from symkernel.papers import joudaki_hofmann_2025_figures as figs
from symkernel.simulate.backends import backend
from symkernel.simulate.mlp import weight_matrix
from symkernel.validate import networks as validate

CASES = {"tanh": 1, "sigmoid": 2, "relu": 3, "exp": 3, "gelu": 4}


# ------------------------------------------------------------------ Figures S.1 / S.2
@pytest.fixture(scope="module")
def figure_data():
    # weights="gram": each layer's pre-activations drawn from their exact law given the layer's
    # input (n * width normals instead of width^2), so a wide network costs little
    return figs.figures_s1_s2_data(tuple(CASES), width=2048, depth=10, seeds=range(12),
                                   weights="gram")


def test_simulated_sequences_stay_within_the_theorem1_bound(figure_data):
    for name, d in figure_data.items():
        assert d["case"] == CASES[name]
        assert d["within_bound"].all(), (name, d["mean"], d["lower"], d["upper"], d["stderr"])
        assert d["agree"].all(), (name, d["mean"] - d["mean_field"], d["stderr"])


def test_the_bound_check_has_power(figure_data):
    """With the rate squared (a bound that is too fast) the same simulations leave the band:
    the check above can fail."""
    for name in ("tanh", "sigmoid"):
        d = figure_data[name]
        dyn = sk.kernel_dynamics(name)
        b = d["bound"] * d["rate"] ** d["layers"]
        half = b / (1 + b) if d["case"] == 1 else b
        assert not (np.abs(d["mean"] - d["rho_star"]) <= half + 4 * d["stderr"]).all(), name
        assert dyn.case == d["case"]


def test_figure_draws(figure_data):
    fig = figs.draw_figures_s1_s2({k: figure_data[k] for k in ("tanh", "relu")})
    assert len(fig.axes) == 8


# ------------------------------------------------------------------ Theorem 1 case 3 (ReLU)
def _cho_saul(r):
    """Normalized ReLU kernel map (Cho & Saul 2009, arc-cosine kernel of order 1), typed in."""
    return (mpmath.sqrt(1 - r * r) + (mpmath.pi - mpmath.acos(r)) * r) / mpmath.pi


def test_relu_case3_derived_constant():
    asym = case3.case3_asymptotics("relu")
    assert asym.exponent == 2 and asym.gamma == sp.Rational(1, 2)
    assert sp.simplify(asym.a - 2 * sp.sqrt(2) / (3 * sp.pi)) == 0
    assert sp.simplify(asym.C - 9 * sp.pi**2 / 2) == 0
    assert sp.simplify(asym.B - 1 / (sp.sqrt(2) * sp.pi)) == 0
    # kappa(rho) = rho + a (1 - rho)^{3/2} + O((1 - rho)^{5/2}), checked on the typed-in formula
    with mpmath.workdps(40):
        for e in (mpmath.mpf("1e-4"), mpmath.mpf("1e-6")):
            lead = float(asym.a) * e ** 1.5
            assert abs((_cho_saul(1 - e) - (1 - e)) / lead - 1) < 2 * float(e)


def test_relu_case3_measured_constant_against_the_derived_one():
    """Iterate the typed-in arc-cosine map with mpmath (no symkernel code) and fit
    (1 - rho_l)^(-1/2) = A l + B ln l + ...: C = 1/A^2 against 9 pi^2/2."""
    with mpmath.workdps(30):
        r, eps = mpmath.mpf(0), []
        for _ in range(1501):
            eps.append(1 - r)
            r = _cho_saul(r)
        ls = np.arange(150, 1501, dtype=float)
        u = np.array([float(1 / mpmath.sqrt(eps[int(l)])) for l in ls])
    X = np.stack([ls, np.log(ls), np.ones_like(ls), np.log(ls) / ls, 1 / ls], axis=1)
    A, B = np.linalg.lstsq(X, u, rcond=None)[0][:2]
    C = 9 * math.pi**2 / 2
    assert abs(A**-2 / C - 1) < 1e-5
    assert abs(B * math.sqrt(2) * math.pi - 1) < 1e-2
    measured = case3.measure_case3_constant("relu", depth=1500)
    assert abs(measured["C"] / C - 1) < 1e-5 and measured["relative_error"] < 1e-5
    assert abs(measured["slope"] + 2) < 0.05          # polynomial, not exponential
    # Theorem 1's case-3 bound holds but decays only as 1/l
    dyn = sk.kernel_dynamics("relu")
    ells = np.array([10, 100, 1000])
    assert (np.array([float(eps[l]) for l in ells]) <= dyn.bound(ells, 0.0)).all()


def test_exp_case3_constant():
    asym = case3.case3_asymptotics("exp")
    assert (asym.exponent, asym.C, asym.B) == (1, 2, sp.Rational(1, 6))
    m = case3.measure_case3_constant("exp", depth=600)
    assert abs(m["C"] - 2) < 1e-5


def test_case3_refuses_other_cases():
    with pytest.raises(sk.errors.InvalidInputError, match="case 1"):
        case3.case3_asymptotics("tanh")


def test_table_s1_notes_say_relu_decay_is_polynomial():
    rows = table.table_s1_rows(dps=15, names=["relu"])
    reason = rows[0]["reason"]
    assert "exponential decay" in reason and "fails" in reason and "9*pi**2/2" in reason
    assert rows[0]["case3"].C == case3.case3_asymptotics("relu").C
    assert "ReLU is case 3" in table.case3_note(rows)


# ------------------------------------------------------------------ Proposition 1: weight laws
@pytest.mark.parametrize("name", ["numpy", "torch"])
def test_weight_laws_have_mean_zero_variance_one(name):
    if name == "torch":
        pytest.importorskip("torch")
    bk = backend(name, "float64", 0)
    for law in ("explicit", "rademacher", "uniform", "orthogonal"):
        for rows, cols in ((200, 150), (150, 200)):
            W = np.asarray(bk.to_numpy(weight_matrix(bk, law, rows, cols)), dtype=float)
            assert W.shape == (rows, cols)
            assert abs(W.mean()) < 5 / math.sqrt(W.size) and abs(W.var() - 1) < 0.03, law
            if law == "rademacher":
                assert set(np.unique(W)) == {-1.0, 1.0}
            if law == "uniform":
                assert np.abs(W).max() <= math.sqrt(3) and abs((W**4).mean() - 1.8) < 0.05
            if law == "orthogonal":
                small = min(rows, cols)
                gram = W.T @ W if rows >= cols else W @ W.T
                assert np.allclose(gram / max(rows, cols), np.eye(small), atol=1e-12)


def test_gaussian_is_the_explicit_network():
    a = sk.simulate_mlp("tanh", n=3, width=32, depth=3, seed=4, weights="gaussian")
    b = sk.simulate_mlp("tanh", n=3, width=32, depth=3, seed=4, weights="explicit")
    assert np.array_equal(a.gram, b.gram) and a.params["weights"] == "explicit"


def test_proposition1_same_kernel_map_for_every_weight_law():
    data = figs.proposition1_data(("tanh", "sigmoid"), width=256, depth=6, seeds=range(10))
    for name, runs in data.items():
        for law, v in runs.items():
            assert v.all_agree, (name, law, v.mean - v.theory, v.stderr)
    assert len(figs.draw_proposition1(data).axes) == 2


def test_proposition1_check_detects_an_unmatched_variance():
    """Weights of variance 1/3 (e.g. uniform on [-1, 1] unscaled) change the sigmoid's kernel
    sequence by many standard errors at the same width and seeds."""
    v = validate.kernel_sequence("sigmoid", 0.5, width=256, depth=6, seeds=range(10), centering=None,
                                 normalization="rms", weights="explicit", sigma_w2=1 / 3)
    assert not v.all_agree


# ------------------------------------------------------------------ Corollary 2 in floating point
def test_one_minus_rho_sequence_matches_the_kernel_map():
    dyn = sk.kernel_dynamics("sigmoid")
    seq = figs.one_minus_rho_sequence(dyn, 0.5, 6)
    direct = 1 - dyn.sequence(0.5, 6)
    assert np.allclose(seq, direct, rtol=1e-8, atol=0)
    assert abs(seq[1] - float(1 - dyn.kmap(mpmath.mpf("0.5"), dps=20))) < 1e-15


def test_corollary2_against_float32_and_float64_networks():
    data = figs.corollary2_data("sigmoid", width=128, depth=45, seeds=range(2))
    for dtype, d in data["dtypes"].items():
        eps = np.finfo(dtype).eps
        k1 = data["kappa_prime_1"]
        assert d["L_eps"] == pytest.approx(math.log(1 / eps) / math.log(1 / k1), rel=1e-12)
        # Theorem 1 (case 2) bounds 1 - rho_L by (1 - rho_0) eps at Corollary 2's depth
        assert d["mean_field_corr"] <= math.ceil(d["L_eps"])
        for run in d["runs"]:
            assert abs(run["L_corr"] - d["mean_field_corr"]) <= 1, (dtype, run["L_corr"])
            # the representations reach the rounding floor at about twice Corollary 2's depth
            assert abs(run["L_floor"] - d["mean_field_floor"]) <= 2, (dtype, run["L_floor"])
            assert 0.1 < run["floor"] < 10
        assert abs(d["mean_field_floor"] - 2 * d["L_eps"]) <= 2
        assert d["L_tiny"] > 2 * d["L_eps"] + 5    # the smallest normal marks nothing simulated
    assert len(figs.draw_corollary2(data).axes) == 2
