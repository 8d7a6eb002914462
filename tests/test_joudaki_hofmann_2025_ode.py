"""Joudaki & Hofmann (AISTATS 2025) §6.2 and Remarks S.1, S.2 as data
(symkernel.papers.joudaki_hofmann_2025_ode): the data the notebook shows, checked against
independent paths (exact arithmetic, numpy eigenvalues)."""
import numpy as np
import pytest
import sympy as sp

from symkernel.errors import InvalidInputError
from symkernel.papers import joudaki_hofmann_2025_ode as jo


@pytest.fixture(scope="module")
def s62():
    return jo.section62_data((("tanh", {}), ("he", {"n": 2})), rho0s=(-0.9, 0.9), t_max=20.0,
                             num=41, depth=20)


def test_section62_within_and_discrete_against_both_rates(s62):
    for label, d in s62.items():
        for r0, run in d["runs"].items():
            assert run["within"], (label, r0)
            # Theorem 1 bounds the discrete sequence (all layers)
            assert np.all(run["discrete"] <= run["theorem1"] * (1 + 1e-12)), (label, r0)
    # the ODE rate does not: he_2 (kappa = rho^2) from 0.9, one layer: 0.81/0.19 > 9 e^{-1}
    run = s62["he_2"]["runs"][0.9]
    assert run["discrete"][1] == pytest.approx(0.81 / 0.19, rel=1e-14)
    assert run["discrete"][1] > run["ode_rate_bound"][1] == pytest.approx(9 * np.exp(-1), rel=1e-14)
    # for tanh both hold: its one-layer factor is at most kappa'(0) < e^{-a}
    assert np.all(s62["tanh"]["runs"][0.9]["discrete"] <= s62["tanh"]["runs"][0.9]["ode_rate_bound"])


def test_rates_table():
    rows = jo.rates_table((("sin", {}), ("he", {"n": 2})), grid=400)
    for label, k0p, th, ode, lin, sup in rows:
        assert th < ode < lin and sup <= np.exp(-th) * (1 + 1e-9), label
    sin, he2 = rows
    assert sin[5] == pytest.approx(sin[1], rel=1e-6)      # sin: the factor peaks at rho -> 0
    assert he2[5] > np.exp(-he2[3]) and he2[5] > 0.4999   # he_2: up to alpha = 1/2 as rho -> 1
    text = jo.format_rates_table(rows)
    assert "he_2" in text and "-log alpha" in text


def test_remark_s1_order():
    d = jo.remark_s1_data("tanh", steps=(sp.Rational(1, 20), sp.Rational(1, 40), sp.Rational(1, 80)),
                          rho0=-0.7, t_max=3.0)
    assert abs(d["order"] - 1) < 0.01, d["order"]
    assert np.all(np.diff(d["gap"]) < 0)


def test_remark_s1_in_a_residual_network():
    """Width 4096, 8 seeds, r^2 = 9/10, 30 layers: the simulated correlation follows the kernel
    ODE at t = (1 - r^2) l (within 4 standard errors plus the O(h) mean-field-to-ODE gap) and
    rejects the time change t = (1 - r) l."""
    d = jo.remark_s1_network("sin", sp.Rational(1, 10), 0.9, 3.0, width=4096, seeds=range(8))
    assert d["agree"], d["z_ode"]
    assert d["z_wrong"] > 8, d["z_wrong"]


@pytest.mark.parametrize("rho_star,n", [(sp.Rational(-1, 2), 4), (sp.Rational(-1, 3), 5),
                                         (sp.Rational(-2, 7), 5), (-0.9, 3), (-1, 3)])
def test_remark_s2_witness_against_numpy(rho_star, n):
    w = jo.remark_s2_witness(rho_star)
    assert w["n"] == n
    G = np.array(w["gram"].tolist(), dtype=float)
    lam = np.linalg.eigvalsh(G)
    exact = sorted(float(v) for v, m in w["eigenvalues"].items() for _ in range(m))
    assert np.allclose(lam, exact, atol=1e-14) and lam[0] < 0
    assert lam[0] == pytest.approx(float(w["top"]))
    smaller = (1 - float(rho_star)) * np.eye(n - 1) + float(rho_star)    # n - 1 inputs: still PSD
    assert np.linalg.eigvalsh(smaller)[0] >= -1e-14


def test_remark_s2_witness_refuses_nonnegative():
    with pytest.raises(InvalidInputError, match="rho"):
        jo.remark_s2_witness(sp.Rational(1, 2))


def test_remark_s2_demo_kernel_maps_stay_psd_a_negative_fixed_point_does_not():
    d = jo.remark_s2_demo(("tanh", "relu"), n=4, depth=10)
    for name in ("tanh", "relu"):
        assert np.all(d[name]["min_eigenvalue"] >= -1e-12), name
        assert np.all(d[name]["off_diagonal"][1:] >= -1 / 3 - 1e-15), name
    fake = d["g: rho* = -1/2"]
    assert fake["off_diagonal"][-1] == pytest.approx(-0.5, abs=1e-4)
    assert fake["min_eigenvalue"][-1] == pytest.approx(-0.5, abs=1e-3)   # 1 + 3 rho*


def test_drawings(s62, tmp_path):
    fig = jo.draw_section62(s62)
    fig.savefig(tmp_path / "s62.png", dpi=40)
    assert len(fig.axes) == 4
    d = jo.remark_s1_data("sin", steps=(sp.Rational(1, 10), sp.Rational(1, 20)), t_max=1.0)
    fig = jo.draw_remark_s1(d)
    fig.savefig(tmp_path / "s1.png", dpi=40)
    assert len(fig.axes) == 2
