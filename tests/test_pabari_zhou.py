"""Pabari & Zhou: the printed slips against independent evaluations (Monte Carlo, finite
differences, simulated networks), and the theory data of Figures 3-4."""
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.papers import pabari_zhou, pabari_zhou_figures


@pytest.fixture(scope="module")
def slips():
    return {r["where"]: r for r in pabari_zhou.slips()}


def test_eq3_needs_the_square(slips):
    """q^1 from q^0 = 1 for tanh (1.5, 0.05) by Monte Carlo over N(0, 1) pre-activations: the
    derived length map agrees; the printed (square-less) one is far outside."""
    row = slips["eq. (3)"]
    h = np.random.default_rng(0).standard_normal(400_000)
    sample = 1.5 * np.tanh(h) ** 2 + 0.05
    mean, se = sample.mean(), sample.std(ddof=1) / np.sqrt(sample.size)
    assert abs(mean - float(row["derived_value"])) < 4 * se
    assert abs(mean - float(row["printed_value"])) > 100 * se
    assert float(row["printed_value"]) == pytest.approx(0.05, abs=1e-12)


def test_eq10_is_chi_c_and_the_printed_integrand_is_negative(slips):
    """At c* = 1 the logged quantity must be chi_1 = sigma_w^2 E[phi'^2] (Monte Carlo here); the
    printed sigma_w^2 E[phi'' phi] is negative for tanh (Monte Carlo too): no logarithm."""
    row = slips["eq. (10)"]
    q = float(sk.mean_field("tanh", 1.5, 0.05).q_star)
    u = np.sqrt(q) * np.random.default_rng(1).standard_normal(400_000)
    d1 = 1.5 / np.cosh(u) ** 4                               # sigma_w^2 phi'(u)^2
    d2 = 1.5 * (-2 * np.tanh(u) / np.cosh(u) ** 2) * np.tanh(u)   # sigma_w^2 phi''(u) phi(u)
    for sample, value in ((d1, row["derived_value"]), (d2, row["printed_value"])):
        se = sample.std(ddof=1) / np.sqrt(sample.size)
        assert abs(sample.mean() - float(value)) < 4 * se
    assert float(row["printed_value"]) < 0 < float(row["derived_value"]) < 1


def test_theorem1_slips_by_finite_differences(slips):
    """sigmoid: phi'(0) = 1/4 and Phi = phi'^2 has Phi''(0) = -1/16 (central differences here),
    so the q* = 0 bound is sigma_w^2 = 16, sigma_w = 4; the printed -1 and 16 are d^2Phi/dphi^2
    and sigma_w^2."""
    def dsig(x):
        s = 1 / (1 + np.exp(-x))
        return s * (1 - s)
    h = 1e-3
    phi2 = (dsig(h) ** 2 - 2 * dsig(0.0) ** 2 + dsig(-h) ** 2) / h**2
    assert phi2 == pytest.approx(float(slips["appendix, proof of Theorem 1"]["derived_value"]), abs=1e-6)
    assert slips["appendix, proof of Theorem 1"]["derived_value"] == sp.Rational(-1, 16)
    s = sp.Symbol("s")    # the printed -1 is the second derivative in phi = s, not in x
    assert sp.diff(s**2 - 2 * s**3 + s**4, s, 2).subs(s, sp.Rational(1, 2)) == -1
    assert slips["eq. (27)"]["derived_value"] == 4 == 1 / dsig(0.0)      # sigma_w = 1/phi'(0)
    row = slips["Theorem 1 (appendix)"]
    assert abs(row["derived_value"] - 103.0076) < 1e-3 and abs(row["printed_value"] - row["derived_value"]) > 0.04


def test_figure3_setting_is_chaotic_in_simulated_networks(slips):
    """Section 4.4 calls tanh (2, 0.05) ordered.  Two inputs at correlation 0.9 through seeded
    networks decorrelate (chaos: c* = 0.744 < 1), as the correlation map says; in the ordered
    phase c would rise towards 1."""
    chi = float(slips["Section 4.4 (Figure 3)"]["derived_value"])
    assert chi > 1
    st = sk.mean_field("tanh", 2, 0.05).floats()
    v = sk.validate.mean_field("tanh", 2.0, 0.05, q0=float(st["q_star"]), c0=0.9, depth=25,
                               resolution=0.01)
    assert v.all_agree, v.z_scores()
    last, se = v.c_mean[-1], v.c_samples[:, -1].std(ddof=1) / np.sqrt(v.c_samples.shape[0])
    assert float(st["c_star"]) < last < 0.9 - 6 * se
    assert v.rejects(v.q_theory, np.full_like(v.c_theory, 0.9))   # c staying put is rejected


def test_slips_table_lists_every_slip_as_a_disagreement(slips):
    t = pabari_zhou.slips_table(rows=list(slips.values()))
    assert len(t.disagreements) == len(pabari_zhou.SLIPS) == len(t.rows)
    assert "eq. (3)" in t.to_text(6)


def test_figure3_and_figure4_theory_data_and_drawings():
    d = pabari_zhou_figures.figure3_data(depth=6, points=300)
    chi = d["chi_1"]
    assert d["phase"] == "chaotic" and d["m1"][-1] == pytest.approx(chi**6, rel=1e-12)
    # r_Gauss - r_orth = L (the Marchenko-Pastur variance per layer) at every depth
    assert np.allclose(d["ratio"]["gaussian"] - d["ratio"]["orthogonal"], d["depths"], rtol=1e-12)
    for w in ("gaussian", "orthogonal"):     # the density's mean is chi_1^L (grid integral)
        rho = np.nan_to_num(d["density"][w])
        assert np.trapezoid(rho * d["lam"], d["lam"]) == pytest.approx(d["m1"][-1], rel=0.03)
    fig = pabari_zhou_figures.draw_figure3(d)
    assert len(fig.axes) == 2 and "chaotic" in fig.axes[0].get_title()
    d4 = pabari_zhou_figures.figure4_data(sigma_w2=[1.2, 1.5, 2.5], depths=np.arange(1, 21))
    lam1 = abs(float(sk.meanfield.cnn_eigenvalues(1, 8)[1]))     # (1 + 2 cos(pi/4))/3
    assert lam1 == pytest.approx((1 + np.sqrt(2)) / 3, rel=1e-14)
    xi_m = d4["modes"][round(lam1, 12)]
    assert np.allclose(xi_m, -1 / np.log(d4["chi_c"] * lam1), rtol=1e-12)
    assert np.all(xi_m < np.array(d4["xi_c"]))      # non-uniform modes die faster
    fig = pabari_zhou_figures.draw_figure4(d4)
    assert fig.axes[0].get_xlabel() == r"$\sigma_w^2$"
