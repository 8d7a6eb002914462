"""Finite-depth ResNet simulations against the infinite-depth laws of Hayou (TMLR 2023) (seeded)."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symkernel.errors import InvalidInputError
from symkernel.sde import Diffusion, euler_maruyama, norm_law, simulate_resnet
from symkernel.validate.resnet import collapse_check, growth_check, law_check, ou_check
from symkernel.core.symbols import t, x


def test_ks_depth_500_does_not_reject_and_depth_5_is_farther():
    res = law_check("relu", x0=1.0, depths=(5, 500), n_paths=20000, seed=0)
    shallow, deep = res
    assert deep["ks_pvalue"] > 0.01, deep["ks_pvalue"]
    assert shallow["ks_stat"] > deep["ks_stat"]
    assert shallow["ks_pvalue"] < 1e-6  # depth 5 is visibly not the limit law
    # mean and variance of log Y_L against N(-1/2, 1), within 5 standard errors
    se_mean = np.sqrt(deep["g_var_theory"] / deep["g_used"])
    assert abs(deep["g_mean"] - deep["g_mean_theory"]) < 5 * se_mean
    assert abs(deep["g_var"] - deep["g_var_theory"]) < 5 * np.sqrt(2 / deep["g_used"])


@settings(max_examples=8)
@given(
    width=st.integers(1, 8),
    start=st.lists(st.floats(-2, 2), min_size=8, max_size=8),
    layer_frac=st.sampled_from([0.25, 0.5, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_linear_second_moment_matches_symbolic_law(width, start, layer_frac, seed):
    x0 = np.array(start[:width])
    if np.linalg.norm(x0) < 1e-3:
        x0 = x0 + 0.5
    depth = 200
    ell = int(layer_frac * depth)
    r0 = float(np.linalg.norm(x0))
    moment = norm_law("identity", n=width, r0=sp.Float(r0)).moment(x**2)  # r0^2 e^t, derived
    expected = float(moment.subs(t, sp.Rational(ell, depth)))
    seen = {}

    def observe(layer, y):
        if layer == ell:
            seen["sq"] = np.einsum("ij,ij->i", y, y)

    simulate_resnet("identity", width, depth, 10000, x0=x0, seed=seed, observe=observe)
    sq = seen["sq"]
    se = sq.std(ddof=1) / np.sqrt(sq.size)
    assert abs(sq.mean() - expected) < 5 * se, (sq.mean(), expected, se)


def test_weights_and_law_methods_agree():
    from scipy import stats

    a = simulate_resnet("relu", 3, 20, 4000, x0=[0.5, -0.2, 1.0], seed=1, method="law").final
    b = simulate_resnet("relu", 3, 20, 4000, x0=[0.5, -0.2, 1.0], seed=2, method="weights").final
    for i in range(3):
        assert stats.ks_2samp(a[:, i], b[:, i]).pvalue > 1e-3
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    assert stats.ks_2samp(na, nb).pvalue > 1e-3


def test_seeded_and_reproducible():
    a = simulate_resnet("tanh", 2, 30, 50, seed=7).final
    b = simulate_resnet("tanh", 2, 30, 50, seed=7).final
    c = simulate_resnet("tanh", 2, 30, 50, seed=8).final
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    simulate_resnet("relu", 2, 5, 10, seed=0, progress=True)  # the progress bar runs


def test_torch_backend_matches_numpy_statistics():
    pytest.importorskip("torch")
    a = simulate_resnet("relu", 4, 100, 4000, x0=[1.0, 0.5, -0.3, 0.2], seed=0).final
    b = simulate_resnet(
        "relu", 4, 100, 4000, x0=[1.0, 0.5, -0.3, 0.2], seed=0, backend="torch", threads=1
    ).final
    la, lb = np.log(np.linalg.norm(a, axis=1)), np.log(np.linalg.norm(b, axis=1))
    se = np.sqrt(la.var() / la.size + lb.var() / lb.size)
    assert abs(la.mean() - lb.mean()) < 5 * se
    c = simulate_resnet("tanh", 2, 10, 100, seed=0, backend="torch", method="weights").final
    assert c.shape == (100, 2) and np.isfinite(c).all()


def test_ou_activation_resnet_against_ou_law():
    res = ou_check(theta=1, k=1, x0=0.5, depth=500, n_paths=20000, seed=0)
    assert res["ks_pvalue"] > 0.01
    se = np.sqrt(res["z_var_theory"] / res["n_used"])
    assert abs(res["z_mean"] - res["z_mean_theory"]) < 5 * se


def test_collapse_width1_exact_and_monotone():
    res = collapse_check(widths=(1, 3), depths=(2, 5, 10), n_paths=20000, seed=0)
    p1, se1 = res["prob"][0], res["se"][0]
    assert np.all(np.abs(p1 - res["exact_width1"]) < 5 * np.maximum(se1, 1e-4))
    assert np.all(np.diff(res["prob"][0]) < 0)  # falls with depth
    assert np.all(res["prob"][1] < res["prob"][0])  # and with width


def test_growth_factor_sign_and_ito_consistency():
    res = growth_check(widths=(1, 2, 6, 8), depth=100, n_paths=2000, seed=0)
    for row in res["rows"]:
        assert abs(row["simulated"] - row["ito"]) < 5 * row["diff_se"]
        assert abs(row["simulated"] - row["t0"]) < 5 * row["se"] + 0.01
    signs = [np.sign(r["simulated"]) for r in res["rows"]]
    assert signs == [-1, -1, 1, 1]


def test_euler_maruyama_limit_width_n_second_moment():
    from symkernel.sde import euler_maruyama_limit

    xs = euler_maruyama_limit(
        "identity", 3, steps=100, n_paths=20000, t1=2.0, x0=[1.0, 0.0, 0.0], seed=4
    )
    sq = np.einsum("ij,ij->i", xs, xs)
    expected = float(norm_law("identity", n=3, r0=1).moment(x**2).subs(t, 2))  # e^2
    assert abs(sq.mean() - expected) < 5 * sq.std(ddof=1) / np.sqrt(sq.size)


def test_euler_maruyama_gbm_mean():
    out = euler_maruyama(Diffusion(0, x), x0=1.0, steps=200, n_paths=20000, seed=0)
    assert abs(out.mean() - 1) < 5 * out.std() / np.sqrt(out.size)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(width=0), "width"),
        (dict(depth=0), "depth"),
        (dict(n_paths=-1), "n_paths"),
        (dict(method="exact"), "method"),
        (dict(backend="jax"), "backend"),
        (dict(x0=[1.0, 2.0, 3.0]), "x0"),
        (dict(depth=2.5), "depth"),
        (dict(horizon=0), "horizon"),
    ],
)
def test_bad_simulation_input(kwargs, match):
    args = dict(phi="relu", width=2, depth=3, n_paths=4)
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        simulate_resnet(**args)


def test_symbolic_parameters_rejected():
    with pytest.raises(InvalidInputError, match="numeric"):
        simulate_resnet(sp.Symbol("a", positive=True) * x, 1, 3, 4)
