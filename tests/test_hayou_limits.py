"""Hayou (TMLR 2023) Thms 2-3: the two sequential limits, against finite (n, L) ResNets."""

import numpy as np
import pytest
import sympy as sp

from symkernel.core.symbols import t
from symkernel.errors import InvalidInputError
from symkernel.sde import linear_kurtosis, meanfield_limit, width1_second_moment
from symkernel.simulate.resnet import simulate_resnet
from symkernel.validate.resnet import coordinate_moments


def test_relu_meanfield_variance_is_derived_and_both_orders_agree():
    lim = meanfield_limit("relu", q0=2)
    assert lim.rate == sp.Symbol("q", positive=True) / 2
    assert sp.simplify(lim.q - 2 * sp.exp(t / 2)) == 0
    # width first: the NNGP recursion q_L = q0 (1 + 1/(2L))^L exactly, then L -> oo
    L = 7
    assert lim.nngp(L)[-1] == 2 * sp.Rational(2 * L + 1, 2 * L) ** L
    assert sp.limit(2 * (1 + 1 / (2 * sp.Symbol("L"))) ** sp.Symbol("L"), sp.Symbol("L"),
                    sp.oo) == lim.q.subs(t, 1)
    assert lim.growth(1) == sp.Rational(1, 4)


def test_tanh_ode_against_the_nngp_recursion():
    """No closed form: RK45 on q' = V(q) against the Euler recursion (the width-then-depth
    variance) at L = 4000, whose O(1/L) gap is estimated by Richardson from L = 2000."""
    lim = meanfield_limit("tanh")
    assert lim.q is None
    ode = lim.variance(1.0)
    q1, q2 = lim.nngp(2000)[-1], lim.nngp(4000)[-1]
    assert abs((2 * q2 - q1) - ode) < 1e-8 * ode
    assert abs(q2 - ode) > 1e-6 * ode        # the recursion alone is visibly biased at L = 4000


def test_tanh_meanfield_variance_against_a_wide_resnet():
    """Depth then width: a wide, deep tanh ResNet's coordinate variance against the ODE (and the
    width-1 identity value e, which is far)."""
    lim = meanfield_limit("tanh")
    row = coordinate_moments("tanh", 64, 64, 300, seed=3)
    target = lim.nngp(64)[-1]
    assert abs(row["second_moment"] - target) < 4 * row["second_moment_se"]
    assert abs(row["second_moment"] - lim.variance(1.0)) < 4 * row["second_moment_se"] + 2e-3


def test_linear_kurtosis_exact_on_the_grid():
    """The exact kurtosis kappa(n, L) against simulated ResNets; the Gaussian 3 is rejected at
    finite width, and both iterated limits are 3."""
    for n, L, seed in ((8, 4, 1), (8, 32, 2), (32, 16, 3)):
        row = coordinate_moments("identity", n, L, 3000, seed=seed)
        exact = float(linear_kurtosis(n, L))
        assert abs(row["kurtosis"] - exact) < 4 * row["kurtosis_se"], (n, L, row)
        if n == 8:
            assert (row["kurtosis"] - 3) > 4 * row["kurtosis_se"]
        assert abs(row["second_moment"] - (1 + 1 / L) ** L) < 4 * row["second_moment_se"]
    n, L = sp.symbols("n L", positive=True)
    assert linear_kurtosis(5, None) == 3 * sp.exp(sp.Rational(4, 5))
    assert float(linear_kurtosis(5, 20000)) == pytest.approx(3 * np.exp(0.8), rel=1e-3)
    assert linear_kurtosis(sp.oo, 50) == 3 and linear_kurtosis(sp.oo, None) == 3


def test_relu_width1_second_moment_differs_from_meanfield():
    """Width 1 (Prop. 3's mixture): E X_1^2 = (1 + e)/2, not the mean-field e^{1/2}."""
    m2 = width1_second_moment("relu")
    assert sp.simplify(m2 - (1 + sp.exp(t)) / 2) == 0
    rng = np.random.default_rng(11)
    y0 = rng.standard_normal((400000, 1))
    y = simulate_resnet("relu", 1, 64, 400000, x0=y0, seed=12).final[:, 0]
    est, se = float((y**2).mean()), float((y**2).std(ddof=1) / np.sqrt(y.size))
    # + the O(1/L) Euler bias of E Y^2 on {Y_0 > 0}: (1 + 1/L)^L = e (1 - 1/(2L) + ...)
    assert abs(est - float(m2.subs(t, 1))) < 4 * se + float(sp.E) / (4 * 64)
    assert abs(est - float(sp.exp(sp.Rational(1, 2)))) > 4 * se


def test_bad_input():
    with pytest.raises(InvalidInputError, match="q0"):
        meanfield_limit("relu", q0=-1)
    with pytest.raises(InvalidInputError, match="depth"):
        meanfield_limit("relu").nngp(0)
    with pytest.raises(InvalidInputError, match="width"):
        linear_kurtosis(0, 3)


def test_relu_wide_deep_resnet_is_meanfield():
    """Depth then width for ReLU: a width-64, depth-64 ResNet's coordinate variance against
    q_L = (1 + 1/(2L))^L (e^{1/2} as L -> oo); the width-1 value (1 + e)/2 is rejected."""
    lim = meanfield_limit("relu")
    row = coordinate_moments("relu", 64, 64, 400, seed=5)
    target = float(lim.nngp(64)[-1])
    assert abs(row["second_moment"] - target) < 4 * row["second_moment_se"]
    assert abs(row["second_moment"] - (1 + np.e) / 2) > 4 * row["second_moment_se"]
