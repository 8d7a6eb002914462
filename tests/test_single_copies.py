"""One copy of each shared piece of logic, pinned: the Hermite recurrence (exact, float64, fixed
point), the piecewise NumPy vectorizer and its lambdify table, the activation acceptor
(``gain=``, registry parameters, unknown keywords), the layer kernel map of the Gram dynamics."""
import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import symkernel as sk
from symkernel.core.activations import as_activation
from symkernel.core.hermite import (
    FixedPoint, he_coefficients, he_polynomial, normalized_hermite,
)
from symkernel.core.numpy_eval import piecewise_numpy
from symkernel.core.pieces import split
from symkernel.errors import InvalidInputError

x = sk.x


# ---------------------------------------------------------------- the Hermite recurrence
@pytest.mark.parametrize("k", [0, 1, 2, 5, 9])
def test_he_polynomial_is_sympys_hermite_prob_over_sqrt_factorial(k):
    reference = sp.hermite_prob(k, x) / sp.sqrt(sp.factorial(k))
    assert sp.expand(he_polynomial(k) - reference) == 0
    assert sp.Poly(sum(a * x**i for i, a in enumerate(he_coefficients(k))), x) == \
        sp.Poly(sp.hermite_prob(k, x), x)
    assert sk.activation("he", n=k).expr == he_polynomial(k)


def test_float64_and_fixed_point_recurrences_match_the_polynomials():
    z = [sp.Rational(-7, 3), sp.Rational(1, 5), sp.Integer(2), sp.Rational(9, 2)]
    K = 12
    floats = list(normalized_hermite(np.array([float(t) for t in z]), K))
    arith = FixedPoint(300)
    with mpmath.workdps(120):
        zfix = arith.array([mpmath.mpf(t.p) / t.q for t in z])
    fixed = list(normalized_hermite(zfix, K, arithmetic=arith))
    assert len(floats) == len(fixed) == K
    for k in range(K):
        exact = [he_polynomial(k).subs(x, t) for t in z]
        for i, e in enumerate(exact):
            ref = float(e)
            assert floats[k][i] == pytest.approx(ref, rel=1e-13, abs=1e-13)
            with mpmath.workdps(80):
                got = mpmath.mpf(int(fixed[k][i])) / arith.one
                assert abs(got - sp.N(e, 80)) < mpmath.mpf(2) ** -280


def test_he_order_is_checked():
    with pytest.raises(InvalidInputError):
        he_coefficients(-1)
    with pytest.raises(InvalidInputError):
        he_polynomial(1.5)


# ---------------------------------------------------------------- the piecewise vectorizer
@pytest.mark.parametrize("expr, breaks", [
    (sp.Max(x, 0), [0]),
    (sp.Max(-1, sp.Min(1, 3 * x)), [-sp.Rational(1, 3), sp.Rational(1, 3)]),
    (sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True)), [0]),
    (sp.Heaviside(x - 1) + sp.erfi(x) * sp.exp(-x**2), [1]),
])
def test_vectorizer_matches_sympy_on_both_sides_of_each_breakpoint(expr, breaks):
    f = piecewise_numpy(split(expr))
    points = [b + d for b in breaks for d in (sp.Rational(-1, 1000), sp.Rational(1, 1000))]
    points += [sp.Integer(-3), sp.Rational(5, 2)]
    got = f(np.array([float(p) for p in points]))
    for p, g in zip(points, got):
        assert g == pytest.approx(float(sp.N(expr.subs(x, p), 30)), rel=1e-14, abs=1e-15)
    act = sk.activation(expr)
    assert np.array_equal(act.numpy()(np.array([float(p) for p in points])), got)


def test_one_lambdify_table_everywhere_erfi_in_the_meanfield_moments():
    """erfi was missing from the mean-field moments' table: its float64 V(q) now evaluates."""
    expr = sp.exp(-x**2) * sp.erfi(x)
    m = sk.meanfield.moments(expr)
    with mpmath.workdps(30):
        ref = mpmath.quad(lambda z: (mpmath.exp(-z * z) * mpmath.erfi(z)) ** 2 * mpmath.npdf(z),
                          [-mpmath.inf, 0, mpmath.inf])
    assert float(m.np("V", 1.0)[0]) == pytest.approx(float(ref), rel=1e-12)


# ---------------------------------------------------------------- one activation acceptor
def test_gain_keyword_equals_the_gain_written_into_the_expression():
    for name, expr in (("sin", sp.sin(2 * x)), ("tanh", sp.tanh(2 * x)), ("relu", sp.Max(0, 2 * x))):
        for spec in (name, sk.activation(name)):
            assert sk.hermite_coefficient(spec, 3, gain=2).expr == sk.hermite_coefficient(expr, 3).expr
            assert sk.isometry_strength(spec, gain=2).expr == sk.isometry_strength(expr).expr
    a = sk.activation("leaky_relu", slope=sp.Rational(1, 5))
    assert sk.hermite_coefficient("leaky_relu", 1, slope=sp.Rational(1, 5)).expr == \
        sk.hermite_coefficient(a, 1).expr
    assert sk.dual_kernel("erf", gain=3).expr == sk.dual_kernel(sp.erf(3 * x)).expr


def test_gain_on_an_activation_composes():
    assert as_activation(sk.activation("relu", gain=2), gain=3).expr == sp.Max(0, 6 * x)
    assert sk.isometry_strength(sk.activation("exp", gain=2), gain=sp.Rational(1, 2)).expr == \
        sk.isometry_strength("exp").expr


@pytest.mark.parametrize("call", [
    lambda: sk.hermite_coefficient("relu", 2, slop=1),
    lambda: sk.hermite_coefficients("relu", 2, slop=1),
    lambda: sk.isometry_strength("relu", slop=1),
    lambda: sk.isometry_strength(sk.activation("relu"), slop=1),
    lambda: sk.expectation(x**2, slop=1),
    lambda: sk.second_moment("tanh", slop=1),
    lambda: sk.kernel_map("relu", slop=1),
    lambda: sk.dual_kernel(x**3, slop=1),
    lambda: sk.kernel_dynamics("relu", slop=1),
    lambda: sk.mean_field("relu", 2, 0, slop=1),
    lambda: sk.depth_scales("relu", 1, 0.1, slop=1),
    lambda: sk.edge_of_chaos("tanh", 0.05, slop=1),
    lambda: sk.simulate_mlp("relu", n=2, width=8, depth=1, slop=1),
    lambda: sk.validate.kernel_sequence("relu", 0.5, width=8, depth=1, seeds=range(2), slop=1),
    lambda: sk.sde.resnet_sde("relu", slop=1),
])
def test_an_unknown_keyword_is_an_error_naming_it(call):
    with pytest.raises(InvalidInputError, match="slop"):
        call()


def test_registry_parameters_reach_the_simulator_and_its_validation():
    a = sk.simulate_mlp("leaky_relu", n=2, width=8, depth=1, slope=0.5, seed=1)
    b = sk.simulate_mlp(sk.activation("leaky_relu", slope=0.5), n=2, width=8, depth=1, seed=1)
    assert np.array_equal(a.gram, b.gram) and a.params["activation"] == "Piecewise((x, x > 0), (x/2, True))"
    v = sk.validate.kernel_sequence("leaky_relu", 0.5, width=16, depth=1, seeds=range(2), slope=0.5)
    assert v.params["activation"] == a.params["activation"] and "slope" not in v.params


# ---------------------------------------------------------------- one layer of the recursion
def test_gram_map_is_the_layer_kernel_map_entrywise():
    from symkernel.theory.dynamics import layer_kernel_map

    r0 = 0.3
    G = np.array([[1.0, r0], [r0, 1.0]])
    for centering in (True, False):
        for r in (0.0, 0.5):
            g = sk.gram.gram_map(G, "tanh", centering=centering, residual=r)[0, 1]
            kern = layer_kernel_map("tanh", centering=centering, residual=r)
            assert g == pytest.approx(float(kern(r0)), rel=1e-12)
    kmap = sk.kernel_map("tanh")
    assert float(layer_kernel_map(kmap, centering=False)(r0)) == pytest.approx(float(kmap(r0)), rel=1e-15)
    assert float(layer_kernel_map("tanh")(r0)) == pytest.approx(
        float(sk.normalized_kernel_map(kmap)(r0)), rel=1e-15)


def test_critical_minimum_returns_quantities():
    res = sk.meanfield.critical_minimum("sigmoid")
    assert res.at_boundary and res["sigma_b2"] is res.sigma_b2
    assert isinstance(res.sigma_b2, sk.Quantity) and res.sigma_b2.expr == 0
    with pytest.raises(KeyError):
        res["sigma"]


# ---------------------------------------------------------------- one mpmath lambdify
def _selu_constants_by_mpmath():
    """SELU's lambda_01, alpha_01 (Klambauer et al., NeurIPS 2017, eq. 14) written here in mpmath
    at the current precision: no SymPy, no symkernel."""
    e, r2 = mpmath.e, mpmath.sqrt(2)
    c1, c2 = mpmath.erfc(1 / r2), mpmath.erfc(r2)
    alpha = -mpmath.sqrt(2 / mpmath.pi) / (c1 * mpmath.sqrt(e) - 1)
    lam = (1 - mpmath.sqrt(e) * c1) * mpmath.sqrt(2 * mpmath.pi) / mpmath.sqrt(
        2 * c2 * e**2 + mpmath.pi * c1**2 * e - 2 * (2 + mpmath.pi) * c1 * mpmath.sqrt(e) + mpmath.pi + 2)
    return lam, alpha


@settings(max_examples=15, deadline=None)
@given(st.fractions(-3, 3, max_denominator=50), st.integers(20, 200))
def test_mp_lambdify_evaluates_every_constant_at_the_working_precision(t, dps):
    """SELU's constants, pi, E, sqrt(2), erfi in one expression, at any working precision, against
    mpmath's own constants and SELU's written in mpmath (above): relative 10^-(dps-3).  SymPy's
    plain lambdify prints lambda_01, alpha_01 as 60-bit literals and fails at 50 digits (shown)."""
    from symkernel.core.activations import SELU_ALPHA, SELU_SCALE
    from symkernel.core.mp_eval import mp_lambdify

    expr = SELU_SCALE * x + SELU_ALPHA * sp.exp(x) + sp.pi * x**2 + sp.E + sp.sqrt(2) * sp.erfi(x)
    f = mp_lambdify(x, expr)
    with mpmath.workdps(dps):
        u = mpmath.mpf(t.numerator) / t.denominator
        got = f(u)
    with mpmath.workdps(dps + 20):
        u = mpmath.mpf(t.numerator) / t.denominator
        lam, alpha = _selu_constants_by_mpmath()
        ref = lam * u + alpha * mpmath.exp(u) + mpmath.pi * u**2 + mpmath.e + mpmath.sqrt(2) * mpmath.erfi(u)
        assert abs(got - ref) <= abs(ref) * mpmath.mpf(10) ** (3 - dps)
    if dps >= 50:
        plain = sp.lambdify(x, expr, modules="mpmath")
        with mpmath.workdps(dps):
            wrong = plain(mpmath.mpf(t.numerator) / t.denominator)
        with mpmath.workdps(dps + 20):
            assert abs(wrong - ref) > abs(ref) * mpmath.mpf(10) ** -40


def test_numeric_engine_keeps_selus_constants_to_50_digits():
    """The numeric Gaussian engine goes through mp_lambdify (once through 400-digit Float
    literals of its own): E[Z selu(Z)] at 50 digits against mpmath quadrature written here
    (not E[selu(Z)] = 0 nor E[selu(Z)^2] = 1, which SELU's constants are chosen to make)."""
    from symkernel.gaussian.numeric import estimate_expectation
    from symkernel.core.activations import SELU_ALPHA, SELU_SCALE

    expr = sk.activation("selu").expr
    value, _ = estimate_expectation(x * expr, dps=50)
    with mpmath.workdps(70):
        lam, alpha = _selu_constants_by_mpmath()
        ref = lam * (mpmath.quad(lambda z: z * z * mpmath.npdf(z), [0, mpmath.inf])
                     + alpha * mpmath.quad(lambda z: z * (mpmath.exp(z) - 1) * mpmath.npdf(z), [-mpmath.inf, 0]))
        assert abs(value - ref) <= abs(ref) * mpmath.mpf(10) ** -49
    assert SELU_SCALE in expr.atoms(sp.NumberSymbol) or SELU_ALPHA in expr.atoms(sp.NumberSymbol)


def test_every_mpmath_lambdify_goes_through_mp_lambdify():
    """sympy.lambdify for mpmath appears once, in core/mp_eval.py."""
    import pathlib
    import re

    root = pathlib.Path(sk.__file__).parent
    found = {str(p.relative_to(root)) for p in root.rglob("*.py")
             if re.search(r"lambdify\([^)]*[\"']mpmath[\"']", p.read_text())}
    assert found == {"core/mp_eval.py"}
