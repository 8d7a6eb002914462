"""Joudaki, Daneshmand & Bach (NeurIPS 2023) Figures 8, 9 and B.2 at CI size: simulated networks
against the mean-field theory, with tolerances of 4 standard errors over seeds, and a wrong theory
rejected where that is cheap."""
import math

import numpy as np
import pytest
from scipy import integrate

from symkernel.papers import joudaki_daneshmand_bach_2023_figures_8_9_b2 as figs
from symkernel.theory.normalization import norm_chain

Z = 4.0


def within(mean, stderr, theory, z=Z):
    return np.all(np.abs(np.asarray(mean) - np.asarray(theory)) <= z * np.asarray(stderr) + 1e-12)


def gauss(f):
    """E f(Z) by adaptive quadrature on (-inf, 0] and [0, inf) (scipy: independent of symkernel)."""
    g = lambda z: f(z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return integrate.quad(g, -np.inf, 0, epsabs=1e-13)[0] + integrate.quad(g, 0, np.inf, epsabs=1e-13)[0]


@pytest.mark.parametrize("name, f", [("relu", lambda z: max(z, 0.0)), ("tanh", math.tanh)])
def test_norm_chain_against_quadrature(name, f):
    c0 = gauss(f)
    sbar = gauss(lambda z: f(z) ** 2) - c0**2
    chain = norm_chain(name)
    assert chain.slope == pytest.approx(gauss(lambda z: (f(z) - c0) ** 2 * (z * z - 1)) / (2 * sbar), rel=1e-9)
    assert chain.variance == pytest.approx(gauss(lambda z: (f(z) - c0) ** 4) / sbar**2 - 1, rel=1e-9)
    if name == "relu":   # by hand: E(relu - c0)^4 = 3/2 - 5/(2 pi) - 3/(4 pi^2), slope exactly 1
        s1 = 0.5 - 1 / (2 * math.pi)
        assert chain.slope == pytest.approx(1.0, abs=1e-14)
        assert chain.variance == pytest.approx((1.5 - 2.5 / math.pi - 0.75 / math.pi**2) / s1**2 - 1, rel=1e-12)


@pytest.fixture(scope="module")
def fig8a():
    return figs.figure8a_data(("tanh", "relu"), n=8, width=300, depth=8, seeds=range(8))


def test_figure8a_correlations_follow_the_mean_field_map_with_or_without_layer_norm(fig8a):
    for name in ("tanh", "relu"):
        d = fig8a[name]
        for key in ("offset_scale", "layer_norm"):
            assert within(d[key]["corr_mean"], d[key]["corr_stderr"], d["theory_corr"]), (name, key)
        assert np.all(d["layer_norm"]["norm_dev_mean"] < 1e-20)      # layer norm: norms exactly 1
    # offset & scale only: tanh's norms settle (stable fixed point, m'(1) < 1), ReLU's keep growing
    tanh, relu = fig8a["tanh"], fig8a["relu"]
    assert tanh["chain"].slope < 0.5 and relu["chain"].slope == pytest.approx(1.0)
    t, r = tanh["offset_scale"], relu["offset_scale"]
    assert within(t["norm_dev_mean"][-1], t["norm_dev_stderr"][-1], tanh["theory_norm_dev"][-1])
    assert r["norm_dev_mean"][-1] > 5 * t["norm_dev_mean"][-1]
    # so ReLU without layer norm loses isometry against layer norm; tanh does not
    gap = lambda d: (d["layer_norm"]["isometry_mean"][-1] - d["offset_scale"]["isometry_mean"][-1],
                     math.hypot(d["layer_norm"]["isometry_stderr"][-1], d["offset_scale"]["isometry_stderr"][-1]))
    (dt, st), (dr, sr) = gap(tanh), gap(relu)
    assert abs(dt) < Z * st and dr > 0


def test_figure8b_order_of_activation_and_normalization():
    data = figs.figure8b_data(("relu", "tanh"), n=6, width=300, depth=8, seeds=range(8))
    for name, d in data.items():
        for key in ("act_norm", "norm_act"):
            assert within(d[key]["corr_mean"], d[key]["corr_stderr"], d[key]["theory_corr"]), (name, key)
    relu = data["relu"]
    # norm -> act follows kappa = sigma_hat/sigma_hat(1), whose fixed point for ReLU is rho = 1:
    # correlations grow and the isometry falls; the centered map (a wrong theory here) is rejected
    assert np.all(np.diff(relu["norm_act"]["theory_corr"]) > 0)
    assert relu["norm_act"]["isometry_mean"][-1] < 0.5 * relu["norm_act"]["isometry_mean"][0]
    assert not within(relu["norm_act"]["corr_mean"], relu["norm_act"]["corr_stderr"],
                      relu["act_norm"]["theory_corr"])
    # tanh is odd (c_0 = 0): both orders have the same mean field
    t = data["tanh"]
    assert np.allclose(t["act_norm"]["theory_corr"], t["norm_act"]["theory_corr"], atol=1e-12)


def test_figure9_norm_error_accumulates_linearly_without_layer_norm():
    d = figs.figure9_data("relu", n=10, width=1000, depth=10, seeds=range(16))
    mf, ln = d["mean_field"], d["layer_norm"]
    # theory: E(q_l - 1)^2 = l v/d to first order (ReLU: m'(1) = 1); v/d = 4.41e-3
    assert d["theory_norm_slope"] == pytest.approx(d["chain"].variance / 1000, rel=1e-12)
    assert within(mf["norm_slope_mean"], mf["norm_slope_stderr"], d["theory_norm_slope"])
    assert within(mf["norm_dev_mean"][1:], mf["norm_dev_stderr"][1:], d["theory_norm_dev"][1:])
    # a wrong theory, an error that does not accumulate (v/d at every layer), is rejected
    ells = np.arange(11)
    flat = d["chain"].variance / 1000 * np.where(ells > 0, 1.0, 0.0)
    assert not within(mf["norm_slope_mean"], mf["norm_slope_stderr"], ells @ flat / (ells @ ells), z=3)
    assert np.all(ln["norm_dev_mean"] < 1e-20)
    # the correlations' error does not depend on the normalization: it is the norms that drift
    assert within(mf["error_mean"] - ln["error_mean"], np.hypot(mf["error_stderr"], ln["error_stderr"]), 0)


def test_figure_b2_rate_against_log_beta():
    data = figs.figure_b2_data((("relu", (1.0,)), ("tanh", (0.5, 1.0, 2.0))), n=8, width=1000,
                               depth=10, seeds=range(16))
    for r in data["rows"]:
        assert r["layers"] >= 3
        # the simulated rate agrees with the mean-field rate over the same layers
        assert abs(r["rate_mean"] - r["rate_mf"]) <= Z * r["rate_stderr"], r
        # Corollary A.3 (exact for the mean field): the log-odds decays at least at rate log beta
        assert r["rate_mf"] >= r["log_beta"] - 1e-12
    rates = [r["rate_mf"] for r in data["rows"] if r["activation"] == "tanh"]
    assert rates == sorted(rates)          # a larger gain, a larger beta, a faster rate
    # log beta is a bound, not the rate: as an equality it is rejected for ReLU and tanh(2x)
    for r in data["rows"]:
        if r["log_beta"] > 0.1:
            assert r["rate_mean"] - r["log_beta"] > Z * r["rate_stderr"], r


def test_drawings_return_figures(fig8a):
    b2 = figs.figure_b2_data((("tanh", (1.0,)),), n=3, width=200, depth=3, seeds=range(2))
    d9 = figs.figure9_data("tanh", n=3, width=100, depth=2, seeds=range(2))
    d8b = figs.figure8b_data(("tanh",), n=3, width=100, depth=2, seeds=range(2))
    for fig in (figs.draw_figure8a(fig8a), figs.draw_figure8b(d8b), figs.draw_figure9(d9),
                figs.draw_figure_b2(b2)):
        assert fig.axes and all(ax.get_xlabel() for ax in fig.axes)
