"""Hayou (TMLR 2023) Prop. 2 (affine phi), Lemma 2 (no collapse) and Prop. 10 (piecewise-linear
growth factor), each against an independent path."""

import mpmath
import numpy as np
import pytest
import sympy as sp

from symkernel.core.symbols import t, x
from symkernel.errors import InvalidInputError
from symkernel.sde import (
    feller_collapse_probability, lemma2_conditions, piecewise_linear_growth, simulate_resnet,
    width1_law,
)
from symkernel.theory.sde.laws import B
from symkernel.validate.resnet import feller_check, piecewise_growth_check


def test_affine_law_is_a_shifted_gbm():
    """dX = (aX + b) dB: Z = aX + b is the GBM dZ = aZ dB (Prop. 2)."""
    a, b, x0 = sp.Integer(2), sp.Integer(1), sp.Integer(1)
    law = width1_law(a * x + b, x0)
    assert sp.simplify(law.solution - ((a * x0 + b) * sp.exp(a * B - a**2 * t / 2) - b) / a) == 0
    assert law.moment(x) == x0                                   # a martingale
    assert sp.simplify(law.moment((a * x + b) ** 2) - (a * x0 + b) ** 2 * sp.exp(a**2 * t)) == 0
    neg = width1_law(a * x + b, -3)                               # a x0 + b < 0: stays negative
    assert neg.support == sp.Interval.open(-sp.oo, -sp.Rational(1, 2))
    assert width1_law(a * x + b, -sp.Rational(1, 2)).kind == "constant"


def test_affine_law_against_resnet():
    from scipy import stats

    law = width1_law(2 * x + 1, sp.Rational(1, 4)).at(sp.Rational(1, 4) * 4)
    y = simulate_resnet(2 * x + 1, 1, 400, 5000, x0=[0.25], seed=5).final[:, 0]
    assert stats.kstest(y, law.cdf()).pvalue > 1e-3
    wrong = width1_law(x, sp.Rational(1, 4)).at(1)               # the pure GBM of phi = x
    assert stats.kstest(y, wrong.cdf()).pvalue < 1e-6


def test_lemma2_conditions():
    """The paper's examples (tanh, GELU) satisfy them; ReLU is not C^2 (Lemma 3 treats it);
    sqrt(max(x, 0)) has an unbounded phi' at 0."""
    for name in ("tanh", "gelu"):
        assert lemma2_conditions(name)["holds"], name
    relu = lemma2_conditions("relu")
    assert not relu["c2"] and not relu["holds"]
    sqrt = lemma2_conditions(sp.sqrt(sp.Max(0, x)))
    assert sqrt["phi_prime_bounded"] is False and not sqrt["holds"]


def test_feller_collapse_against_resnet():
    """sqrt(max(x, 0)) violates Lemma 2 and collapses with probability e^{-2 x0} (derived from
    the Riccati equation), checked by simulation; 'no collapse' and e^{-x0} are rejected."""
    assert feller_collapse_probability(sp.Symbol("x0", positive=True), 1) == \
        sp.exp(-2 * sp.Symbol("x0", positive=True))
    res = feller_check(x0=0.5, depth=200, n_paths=20000, seed=0)
    assert abs(res["z"]) < 4
    assert res["collapsed"] > 4 * res["se"]
    assert abs(res["collapsed"] - np.exp(-0.5)) > 4 * res["se"]


def test_piecewise_growth_closed_forms_and_quadrature():
    n = sp.Symbol("n", positive=True, integer=True)
    for m in (2, 3, 5):
        relu = piecewise_linear_growth(1, 0, m).expr
        assert relu == sp.Rational(1, 4) - (1 - sp.Rational(1, 2**m)) / m
        assert piecewise_linear_growth(3, -3, m).expr == 9 * (sp.Rational(1, 2) - sp.Rational(1, m))
    # the Laplace-transform integral, written here independently, on the exact cases
    def integral(a, b, m):
        A, B_ = a * a, b * b
        f = lambda s: (A * A * (1 + 2 * A * s) ** -1.5 + B_ * B_ * (1 + 2 * B_ * s) ** -1.5) * (
            ((1 + 2 * A * s) ** -0.5 + (1 + 2 * B_ * s) ** -0.5) / 2) ** (m - 1)
        return (A + B_) / 4 - mpmath.quad(f, [0, 1, mpmath.inf]) / 2
    assert abs(integral(1, 1, 4) - 0.25) < 1e-12
    assert abs(integral(1, mpmath.mpf("1e-12"), 4) - float(piecewise_linear_growth(1, 0, 4))) < 1e-9
    # homogeneity mu(a, b) = a^2 mu(1, b/a) and symmetry mu(a, b) = mu(b, a)
    q = piecewise_linear_growth(1, sp.Rational(1, 2), 4)
    assert abs(float(piecewise_linear_growth(2, 1, 4)) - 4 * float(q)) < 1e-12
    assert abs(float(piecewise_linear_growth(sp.Rational(1, 2), 1, 4)) - float(q)) < 1e-12
    assert q.kind == "estimated" and mpmath.almosteq(q.value(25), q.value(20), rel_eps=1e-19)


def test_piecewise_growth_against_simulation():
    """The mean drift against Monte Carlo over X_0 ~ N(0, I); the drift against simulated
    log-norm increments along ResNet paths (residual mean 0)."""
    res = piecewise_growth_check(a=1.0, b=0.5, width=4, n_samples=200000, depth=100,
                                 n_paths=3000, seed=0)
    assert abs(res["theory"] - res["mc"]) < 4 * res["mc_se"]
    assert abs(res["ito_residual"]) < 4 * res["ito_residual_se"]
    relu_value = float(piecewise_linear_growth(1, 0, 4))
    assert abs(relu_value - res["mc"]) > 4 * res["mc_se"]        # a different phi is rejected


def test_bad_input():
    with pytest.raises(InvalidInputError, match="a=0, b=0"):
        piecewise_linear_growth(0, 0, 3)
    with pytest.raises(InvalidInputError, match="width"):
        piecewise_linear_growth(1, 2, 0)
