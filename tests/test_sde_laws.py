"""Closed-form laws of Hayou (TMLR 2023) derived by symkernel.sde, against textbook forms."""

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.sde import (
    Diffusion, check_locally_lipschitz, growth_factor, norm_law, ou_activation, relu_mixture,
    sign_change, solve_activation, solve_law, width1_law,
)
from symkernel.theory.sde.laws import B, z
from symkernel.core.symbols import n, t, x

mu, s, theta, k = sp.symbols("mu sigma theta k", positive=True)
x0 = sp.Symbol("x0", positive=True)
z0 = sp.Symbol("z0", real=True)
y = sp.Symbol("y", positive=True)


def _lognormal_pdf(v, m, var):
    """Textbook log-normal density: log V ~ N(m, var)."""
    return sp.exp(-((sp.log(v) - m) ** 2) / (2 * var)) / (v * sp.sqrt(2 * sp.pi * var))


def test_gbm_law_is_textbook_lognormal():
    law = solve_law(Diffusion(mu * x, s * x), x0)
    assert law.kind == "lognormal"
    textbook_mean, textbook_var = sp.log(x0) + (mu - s**2 / 2) * t, s**2 * t
    assert (
        sp.simplify(law.z_mean - textbook_mean) == 0 and sp.simplify(law.z_var - textbook_var) == 0
    )
    assert sp.simplify(law.pdf(y) - _lognormal_pdf(y, textbook_mean, textbook_var)) == 0
    assert sp.simplify(law.solution - x0 * sp.exp((mu - s**2 / 2) * t + s * B)) == 0
    assert law.support == sp.Interval.open(0, sp.oo)


def test_width1_linear_resnet_is_gbm():
    law = width1_law("identity", x0)  # dX = X dB: X_t = x0 exp(B_t - t/2)
    assert sp.simplify(law.solution - x0 * sp.exp(B - t / 2)) == 0
    assert sp.simplify(law.moment(x**2) - x0**2 * sp.exp(t)) == 0


def test_ou_law_is_textbook_gaussian():
    law = solve_law(Diffusion(-theta * z, s, var=z), z0)
    assert law.kind == "gaussian"
    assert sp.simplify(law.z_mean - z0 * sp.exp(-theta * t)) == 0
    assert sp.simplify(law.z_var - s**2 * (1 - sp.exp(-2 * theta * t)) / (2 * theta)) == 0
    m, v = z0 * sp.exp(-theta * t), s**2 * (1 - sp.exp(-2 * theta * t)) / (2 * theta)
    u = sp.Symbol("u", real=True)
    textbook = sp.exp(-((u - m) ** 2) / (2 * v)) / sp.sqrt(2 * sp.pi * v)
    assert sp.simplify(law.pdf(u) - textbook) == 0


def test_relu_mixture():
    pos, neg = relu_mixture()
    assert pos.kind == "lognormal" and sp.simplify(pos.solution - pos.x0 * sp.exp(B - t / 2)) == 0
    assert neg.kind == "constant" and neg.solution == neg.x0
    assert width1_law("relu", -1).kind == "constant"
    assert width1_law("relu", 0).kind == "constant"
    assert width1_law("relu", 2).kind == "lognormal"


def test_leaky_relu_negative_side_is_negative_gbm():
    a = sp.Rational(1, 5)
    law = width1_law(sk.activation("leaky_relu", slope=a), -1)
    assert sp.simplify(law.solution + sp.exp(a * B - a**2 * t / 2)) == 0
    assert law.support == sp.Interval.open(-sp.oo, 0)


def test_ou_inverse_problem_derives_erfiinv_activation():
    sol = solve_activation(-theta * z, sp.sqrt(theta), scale=2 / (k * sp.sqrt(sp.pi)))
    assert sol.g == sk.sde.erfiinv(k * x)
    expected_phi = 2 * sp.sqrt(theta) / (k * sp.sqrt(sp.pi)) * sp.exp(sk.sde.erfiinv(k * x) ** 2)
    assert sp.simplify(sol.phi - expected_phi) == 0
    # round trip: Itô's lemma on Z = g(X), dX = phi(X) dB, gives back the OU target
    back = Diffusion(0, sol.phi).change_variable(sol.g, z, inverse=sol.G)
    assert sp.simplify(back.drift + theta * z) == 0 and sp.simplify(back.vol**2 - theta) == 0


def test_ou_law_of_x1_density_two_paths():
    sol = ou_activation(theta=1, k=1)
    law = sol.law(sol.g.subs(x, sp.Rational(1, 2))).at(1)
    pdf = sp.lambdify(x, law.pdf(), modules=["mpmath"])
    cdf = law.cdf()
    with mpmath.workdps(20):
        total = mpmath.quad(pdf, [-mpmath.inf, -1, 0, 1, mpmath.inf])
        partial = mpmath.quad(pdf, [-mpmath.inf, -1, 0, 0.7])
    assert abs(total - 1) < 1e-12
    assert abs(float(partial) - float(cdf(np.array([0.7]))[0])) < 1e-10


@pytest.mark.parametrize("a,b", [(0, 1), (sp.Rational(1, 3), 1)])
def test_gbm_targets_round_trip(a, b):
    sol = solve_activation(a * z, b * z, at=1)
    back = Diffusion(0, sol.phi).change_variable(sol.g, z, inverse=sol.G)
    zp = sp.Symbol("zp", positive=True)
    assert sp.simplify((back.drift - a * z).subs(z, zp)) == 0
    assert sp.simplify((back.vol**2 - b**2 * z**2).subs(z, zp)) == 0


def test_unreachable_targets():
    with pytest.raises(InvalidInputError, match="identically 0"):
        solve_activation(-z, 0)
    with pytest.raises(InvalidInputError, match="anchor"):
        solve_activation(z, z)  # vanishes at the default anchor 0
    with pytest.raises(NoClosedFormError):
        solve_activation(sp.sin(z), 1)  # G' = exp(2 cos z): G is an integral
    with pytest.raises(InvalidInputError):
        solve_activation(-theta * z * t, 1)  # time-dependent


@pytest.mark.parametrize(
    "phi", ["step", "sign", sp.sqrt(sp.Abs(x)), sp.Abs(x) ** sp.Rational(1, 3)]
)
def test_not_locally_lipschitz(phi):
    with pytest.raises(InvalidInputError, match="Lipschitz"):
        width1_law(phi, 1)
    with pytest.raises(InvalidInputError, match="Lipschitz"):
        check_locally_lipschitz(phi)


def test_general_width_linear_norm_law():
    law = norm_law()
    assert sp.simplify(law.z_mean - (sp.log(law.x0) + (sp.Rational(1, 2) - 1 / n) * t)) == 0
    assert sp.simplify(law.z_var - t / n) == 0
    assert sp.simplify(law.moment(x**2) - law.x0**2 * sp.exp(t)) == 0


def test_growth_factor_regime_change():
    q = growth_factor("relu")
    assert sp.simplify(q.expr - (1 / (4 * (1 - 2**-n)) - 1 / n)) == 0
    assert [q.expr.subs(n, m) for m in (1, 2, 3, 4)] == [
        sp.Rational(-1, 2),
        sp.Rational(-1, 6),
        sp.Rational(-1, 21),
        sp.Rational(1, 60),
    ]
    assert sign_change("relu") == 4  # Hayou (TMLR 2023): change between widths 3 and 4
    # E[drift 1_A] = P(A) E[drift | A] (the collapse event counts 0): the same sign, the same width
    assert sign_change("relu", condition=False) == 4  # 1/4 - 1/n + 2^-n/n: 1/64 at n = 4
    assert sign_change("identity") == 3  # 1/2 - 1/n
    assert growth_factor("relu", 4).expr == sp.Rational(1, 60)
