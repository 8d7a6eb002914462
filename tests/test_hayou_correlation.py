"""Hayou (TMLR 2023) Prop. 5, Eq. 5 and Figs 7-8: two inputs and back-propagated gradients."""

import numpy as np
import sympy as sp

from symkernel.sde import correlation_dynamics, simulate_resnet_inputs
from symkernel.theory.sde.correlation import c
from symkernel.validate.resnet import correlation_check, correlation_paths, gradient_check


def test_prop5_weights_and_law_agree():
    """Shared weights drawn explicitly against the increments drawn from N(0, K (x) I)."""
    x0 = np.array([[1.0, 0, 0], [0.3, 0.9, 0.2]])
    fin = {}
    for method in ("weights", "law"):
        y = simulate_resnet_inputs("relu", x0, 30, 4000, seed=3, method=method).final
        fin[method] = np.einsum("pi,pi->p", y[:, 0], y[:, 1])
    a, b = fin["weights"], fin["law"]
    se = np.hypot(a.std(ddof=1), b.std(ddof=1)) / np.sqrt(a.size)
    assert abs(a.mean() - b.mean()) < 4 * se
    # linear phi: E<Y^a_L, Y^b_L> = <x^a, x^b> (1 + 1/L)^L exactly (independent layers)
    y = simulate_resnet_inputs("identity", x0, 30, 4000, seed=4).final
    ip = np.einsum("pi,pi->p", y[:, 0], y[:, 1])
    exact = float(x0[0] @ x0[1]) * (1 + 1 / 30) ** 30
    assert abs(ip.mean() - exact) < 4 * ip.std(ddof=1) / np.sqrt(ip.size)


def test_eq5_closed_form_for_linear_phi():
    dyn = correlation_dynamics("identity")
    n = sp.Symbol("n", positive=True, integer=True)
    assert dyn.closed
    assert sp.simplify(dyn.drift + c * (1 - c**2) / n) == 0
    assert sp.simplify(dyn.vol**2 - 2 * (1 - c**2) ** 2 / n) == 0
    assert not correlation_dynamics("relu").closed


def test_eq5_against_the_network():
    res = correlation_check(width=4, c0=0.6, depth=100, n_paths=3000, sde_paths=20000, seed=0)
    assert abs(res["z_mean"]) < 4
    assert res["ks_pvalue"] > 1e-3
    assert abs(res["z_constant"]) > 4          # the infinite-width answer c_t = c0 is rejected


def test_figure7_paths_stay_inside():
    data = correlation_paths("relu", width=6, depth=40, n_paths=50, seed=1)
    p = data["paths"]
    assert p.shape == (41, 50) and np.all(np.abs(p) <= 1 + 1e-12)
    assert np.allclose(p[0], 0.5)


def test_figure8_linear_gradients_follow_the_norm_law():
    """Exact finite-depth mean and variance of log(|g_0|/|g_L|) (Gauss quadrature) against
    back-propagation through simulated linear ResNets; the infinite-width answer (mean 1/2,
    variance 0) is rejected."""
    res = gradient_check(widths=(3, 12), depth=40, n_paths=1500, seed=0)
    for r in res["rows"]:
        if r["phi"] == "identity":
            assert abs(r["mean"] - r["mean_theory"]) < 4 * r["mean_se"]
            assert abs(r["var"] - r["var_theory"]) < 4 * r["var_se"]
            assert abs(r["mean"] - 0.5) > 4 * r["mean_se"] and r["var"] > 4 * r["var_se"]


def test_bad_input():
    import pytest

    from symkernel.errors import InvalidInputError
    from symkernel.sde import backprop_norms

    with pytest.raises(InvalidInputError, match="shape"):
        backprop_norms("relu", 3, 5, 4, g=[1.0, 2.0])
    with pytest.raises(InvalidInputError, match="x0"):
        simulate_resnet_inputs("relu", np.ones(3), 5, 4)
    with pytest.raises(InvalidInputError, match="c0"):
        correlation_check(c0=1.0)
