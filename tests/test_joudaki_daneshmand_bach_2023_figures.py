"""Joudaki, Daneshmand & Bach (NeurIPS 2023) figures: data functions (small sizes) and drawing functions."""
import matplotlib
import numpy as np
import pytest
import sympy as sp

from symkernel.papers import joudaki_daneshmand_bach_2023, joudaki_daneshmand_bach_2023_figures as figs
from symkernel.core.symbols import alpha


def beta_by_gauss_hermite(f, gain, nodes=200):
    """beta = 2 - c_1^2/(E s^2 - c_0^2) in float64 by Gauss-Hermite quadrature (independent path)."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    s = f(gain * z)
    c0, c1, m2 = w @ s, w @ (s * z), w @ (s * s)
    return 2 - c1**2 / (m2 - c0**2)


SMOOTH = {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "exp": np.exp, "sin": np.sin}


def test_figure_b1_exact_and_numeric_against_quadrature_and_table_b1():
    gains = [0.5, 1.5]
    data = figs.figure_b1_data(("tanh", "sigmoid", "exp", "sin", "relu"), gains=gains)
    assert data["tanh"]["method"] == "numeric" and data["sin"]["method"] == "exact"
    for name, f in SMOOTH.items():
        for g, b in zip(gains, data[name]["beta"]):
            assert b == pytest.approx(beta_by_gauss_hermite(f, g), abs=1e-10)
    published = {label.split("(")[0]: expr for label, _, expr in joudaki_daneshmand_bach_2023.TABLE_B1}
    for name in ("exp", "sin"):
        for g, b in zip(gains, data[name]["beta"]):
            assert b == pytest.approx(float(published[name].subs(alpha, sp.Float(g, 30))), rel=1e-14)
    assert data["relu"]["beta"][0] == data["relu"]["beta"][1]  # relu: beta independent of the gain
    assert figs.draw_figure_b1(data).axes


def test_figure3_and_a1_data_and_drawings():
    matplotlib.use("Agg")
    d3 = figs.figure3_data(("relu",), n=6, width=300, depth=6, seeds=range(2), weights="gram")["relu"]
    assert d3["mean"].shape == d3["mean_field"].shape == d3["rate"].shape == (7,)
    assert np.all(np.diff(d3["mean_field"]) < 0)  # the mean-field gap decays
    assert np.all(d3["mean_field"] <= d3["rate"] * (1 + 1e-9))  # and at least at the rate beta^-l
    assert "Theorem 4 bound" in d3["bounds"]
    assert figs.draw_figure3({"relu": d3}).axes
    da1 = figs.figure_a1_data(("tanh",), n=5, width=300, depth=4, seeds=range(2), weights="gram")
    assert np.all(da1["tanh"]["mean_field"] <= da1["tanh"]["bounds"]["Corollary A.3 bound"] * (1 + 1e-9))
    assert figs.draw_figure_a1(da1).axes


def test_figures4to6_data_and_drawing():
    matplotlib.use("Agg")
    data = figs.figures4to6_data(("relu", "exp"), n=4, width=200, depth=4, seeds=range(2), weights="gram")
    relu = data["relu"]
    assert set(relu) == {(f, label) for f, label, _, _ in figs.VARIANTS}
    for d in relu.values():
        assert d["mean"].shape == (5,) and np.all((d["mean"] >= 0) & (d["mean"] <= 1))
    layer_norm = relu[("Figure 5", "layer normalization")]["mean"]
    assert layer_norm[-1] > 0.5  # layer norm keeps relu representations isometric-ish
    assert figs.draw_figures4to6(data).axes
