"""Hermite coefficients: exact vs numeric, closed forms in k, published identities, bad input."""
import itertools
import math

import mpmath
import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import (
    InvalidInputError, NoClosedFormError, NotSquareIntegrableError, SymbolicValueError,
)
from symkernel.gaussian.expectation import pieces_times
from symkernel.gaussian import numeric
from symkernel.core.hermite import he_coefficients

EXACT_ACTIVATIONS = ["identity", "relu", "leaky_relu", "abs", "step", "sign", "hardtanh", "exp", "sin",
                     "cos", "erf", "gelu", "elu", "celu", "selu", "gaussian", ("he", {"n": 3}),
                     ("monomial", {"n": 4}), ("exp", {"shift": -2})]
NUMERIC_ONLY = ["tanh", "sigmoid", "softplus", "silu", "mish", "softsign", "arctan", "gelu_tanh"]


def _act(spec):
    return sk.activation(spec[0], **spec[1]) if isinstance(spec, tuple) else sk.activation(spec)


def _he(k):
    return sp.Poly(he_coefficients(k)[::-1], sk.x).as_expr() / sp.sqrt(sp.factorial(k))


def _gauss_legendre_moments(act, K, dps=36, half_width=20, degree=4):
    """``([E sigma(Z) he_k(Z) for k < K], E sigma(Z)^2)`` by a Gauss-Legendre rule written here
    (no package quadrature): 24 nodes on each unit panel of [-20, 20], split at the pieces'
    breakpoints, he_k by its three-term recurrence.  The neglected tails are below 1e-60 for the
    activations tested; the rule agrees with one of twice the nodes on [-30, 30] at 50 digits to
    about 1e-36 (measured), far inside the 1e-30 asked."""
    with mpmath.workdps(dps):
        rule = mpmath.calculus.quadrature.GaussLegendre(mpmath.mp)
        sums, square = [mpmath.mpf(0)] * K, mpmath.mpf(0)
        for lo, hi, expr in act.pieces:       # SymPy expressions already
            if expr == 0:
                continue
            constants = {c: sp.Float(c.evalf(dps + 20), dps + 20)        # SELU's, at full precision
                         for c in expr.atoms(sp.NumberSymbol) if c not in (sp.pi, sp.E)}
            f = sp.lambdify(sk.x, expr.xreplace(constants), modules="mpmath")
            a, b = max(-half_width, lo), min(half_width, hi)
            inner = (sp.Integer(n) for n in range(-half_width, half_width + 1) if a < n < b)
            cuts = sorted({sp.Rational(a), sp.Rational(b), *inner})
            for p, q in itertools.pairwise(cuts):
                for z, w in rule.get_nodes(mpmath.mpf(p), mpmath.mpf(q), degree, mpmath.mp.prec):
                    fz = f(z)
                    fw = w * fz * mpmath.npdf(z)
                    square += fw * fz
                    h_prev, h = mpmath.mpf(0), mpmath.mpf(1)
                    for k in range(K):
                        sums[k] += fw * h
                        h_prev, h = h, (z * h - mpmath.sqrt(k) * h_prev) / mpmath.sqrt(k + 1)
        return sums, square


@pytest.mark.parametrize("spec", EXACT_ACTIVATIONS, ids=str)
def test_exact_coefficients_agree_with_quadrature_to_30_digits(spec):
    act = _act(spec)
    coeffs = sk.hermite_coefficients(act, 13)
    assert all(c.exact for c in coeffs)
    refs, _ = _gauss_legendre_moments(act, 13)
    with mpmath.workdps(40):
        for k, (c, ref) in enumerate(zip(coeffs, refs)):
            assert abs(c.value(35) - ref) <= mpmath.mpf(10) ** -30 * max(1, abs(ref)), (k, c.expr)


def test_the_exact_coefficients_reference_agrees_with_the_package_quadrature():
    """The Gauss-Legendre reference above against the package's tanh-sinh engine (one case)."""
    act = _act("gelu")
    refs, square = _gauss_legendre_moments(act, 4)
    with mpmath.workdps(40):
        for k in (0, 3):
            ref, _ = numeric.expectation_of_pieces(pieces_times(act, _he(k)), dps=32, absolute=1e-40)
            assert abs(refs[k] - ref) <= mpmath.mpf(10) ** -30
        m2, _ = numeric.expectation_of_pieces(pieces_times(act, act.expr), dps=32)
        assert abs(square - m2) <= mpmath.mpf(10) ** -30


@pytest.mark.parametrize("spec", EXACT_ACTIVATIONS, ids=str)
def test_exact_beta_agrees_with_a_numeric_beta_to_30_digits(spec):
    act = _act(spec)
    beta = sk.isometry_strength(act)
    assert beta.exact
    (c0, c1), m2 = _gauss_legendre_moments(act, 2, dps=45)
    with mpmath.workdps(45):
        ref = 2 - c1**2 / (m2 - c0**2)
        assert abs(beta.value(35) - ref) < mpmath.mpf(10) ** -30


@pytest.mark.parametrize("name", NUMERIC_ONLY)
def test_numeric_only_activations_give_numeric_quantities(name):
    k = 1 if sk.activation(name).linear_odd_part is None else 2  # else c_1 is exact by parity
    c1 = sk.hermite_coefficient(name, k)
    assert not c1.exact and c1.expr is None
    assert c1.kind == "certified" and c1.provenance.startswith("certified: Arb")
    assert abs(float(c1)) > 0
    assert c1.error(30) < abs(c1.value(30)) * mpmath.mpf(10) ** -30


def test_relu_and_step_known_values():
    relu = [c.expr for c in sk.hermite_coefficients("relu", 5)]
    expected = [1 / sp.sqrt(2 * sp.pi), sp.Rational(1, 2), 1 / (2 * sp.sqrt(sp.pi)), 0,
                -1 / (4 * sp.sqrt(3 * sp.pi))]
    assert all(sp.simplify(a - b) == 0 for a, b in zip(relu, expected))
    assert sp.simplify(sk.hermite_coefficient("step", 1).expr - 1 / sp.sqrt(2 * sp.pi)) == 0


@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
def test_he_n_coefficients_are_kronecker_deltas(n):
    coeffs = [c.expr for c in sk.hermite_coefficients(sk.activation("he", n=n), 12)]
    assert coeffs == [1 if k == n else 0 for k in range(12)]
    assert sk.hermite_coefficient(sk.activation("he", n=n), sk.k).expr == sp.KroneckerDelta(sk.k, n)


CLOSED_FORM_FAMILIES = ["exp", "sin", "cos", "relu", "step", "erf", "abs", "sign", "leaky_relu",
                        "gaussian", ("monomial", {"n": 5}), ("exp", {"shift": -2}), "hardtanh"]


@pytest.mark.parametrize("spec", CLOSED_FORM_FAMILIES, ids=str)
def test_closed_form_in_k_agrees_with_each_k_up_to_30(spec):
    act = _act(spec)
    general = sk.hermite_coefficient(act, sk.k)
    with pytest.raises(SymbolicValueError):
        general.value()
    for k, c in enumerate(sk.hermite_coefficients(act, 31)):
        at_k = general.expr.subs(sk.k, k)
        difference = sp.N(at_k - c.expr, 40)
        assert abs(difference) < sp.Float(10) ** -35, (k, at_k, c.expr)


def test_closed_form_with_symbolic_gain():
    general = sk.hermite_coefficient(sk.activation("sin", gain=sk.alpha), sk.k).expr
    expected = sk.alpha**sk.k * sp.exp(-sk.alpha**2 / 2) * sp.sin(sp.pi * sk.k / 2) / sp.sqrt(sp.factorial(sk.k))
    for k in range(8):
        assert sp.simplify((general - expected).subs(sk.k, k)) == 0


def test_no_closed_form_in_k_is_said():
    with pytest.raises(NoClosedFormError):
        sk.hermite_coefficient("tanh", sk.k)


def test_large_k_is_fast_and_exact():
    c100 = sk.hermite_coefficient("relu", 100)
    general = sk.hermite_coefficient("relu", sk.k).expr.subs(sk.k, 100)
    assert abs(sp.N(c100.expr - general, 50)) < sp.Float(10) ** -60
    c = sk.hermite_coefficient("sin", 99)
    assert sp.simplify(c.expr - sp.exp(-sp.Rational(1, 2)) * (-1) ** 49 / sp.sqrt(sp.factorial(99))) == 0


@pytest.mark.parametrize("k", [-1, 1.5, 2.0, "3", None, True])
def test_bad_k(k):
    with pytest.raises(InvalidInputError):
        sk.hermite_coefficient("relu", k)


def test_bad_symbolic_k():
    with pytest.raises(InvalidInputError):
        sk.hermite_coefficient("relu", sp.Symbol("j"))


@pytest.mark.parametrize("expr", [sp.exp(sk.x**2), 1 / sk.x, sp.exp(sk.x**2 / 4) * sp.tanh(sk.x)])
def test_not_square_integrable(expr):
    with pytest.raises(NotSquareIntegrableError):
        sk.hermite_coefficient(expr, 1)


@pytest.mark.parametrize("expr", [sp.log(sk.x), sp.sqrt(sk.x)])
def test_not_real_valued(expr):
    with pytest.raises(InvalidInputError, match="not real"):
        sk.hermite_coefficient(expr, 1)


def test_stein_identity_for_a_smooth_numeric_activation():
    # c_k = E[sigma^(k)(Z)]/sqrt(k!): compare tanh's c_3 with E[tanh'''(Z)]/sqrt(6)
    third = sp.diff(sp.tanh(sk.x), sk.x, 3)
    ref, _ = numeric.estimate_expectation(third, dps=30)
    with mpmath.workdps(30):
        assert abs(sk.hermite_coefficient("tanh", 3).value(30) - ref / mpmath.sqrt(6)) < mpmath.mpf(10) ** -28


def test_he_coefficients_match_sympy():
    for k in range(12):
        assert sp.expand(sp.Poly(he_coefficients(k)[::-1], sk.x).as_expr() - sp.hermite_prob(k, sk.x)) == 0
    assert math.isclose(float(sk.hermite_coefficient("gaussian", 0)), 1 / math.sqrt(2))


@pytest.mark.parametrize("name", ["silu", "gelu_tanh", "softplus", "relu", "gelu"])
def test_linear_plus_even_activations_have_exact_odd_zeros(name):
    """sigma(x) - sigma(-x) = x exactly: c_1 = 1/2 and c_k = 0 for odd k >= 3, checked against an
    Gauss-Legendre quadrature of sigma * he_k (independent of the parity shortcut)."""
    act = sk.activation(name)
    assert act.linear_odd_part == sp.Rational(1, 2)
    coeffs = sk.hermite_coefficients(act, 8)
    assert coeffs[1].expr == sp.Rational(1, 2)
    refs, _ = _gauss_legendre_moments(act, 8, dps=45)
    for k in (3, 5, 7):
        assert coeffs[k].expr == 0 and coeffs[k].exact
        assert abs(refs[k]) < 1e-35
    assert abs(refs[1] - mpmath.mpf(1) / 2) < 1e-29


def test_large_k_from_the_closed_form_in_k():
    """c_5000 of ReLU (issue "Bad input": it hung) against He_n(0) = (-1)^(n/2) (n-1)!! written out
    here: c_k = He_{k-2}(0) phi(0) / sqrt(k!) for k >= 2."""
    c = sk.hermite_coefficient("relu", 5000)
    assert c.exact and "closed form in k" in c.provenance
    k = 5000
    with mpmath.workdps(30):
        # (k-3)!! = (k-2)! / (2^((k-2)/2) ((k-2)/2)!)
        log_dfact = mpmath.loggamma(k - 1) - (k - 2) / 2 * mpmath.log(2) - mpmath.loggamma(k / 2)
        ref = (-1) ** ((k - 2) // 2) * mpmath.exp(log_dfact - mpmath.loggamma(k + 1) / 2) \
            / mpmath.sqrt(2 * mpmath.pi)
        assert abs(c.value(20) / ref - 1) < 1e-18


@pytest.mark.parametrize("call, match", [
    (lambda: sk.hermite_coefficient("relu", 10**6), "beyond the 5000"),
    (lambda: sk.hermite_coefficient("tanh", 3001), "numeric engine supports k <= 1000"),
    (lambda: sk.hermite_coefficients("tanh", 10**5), "beyond 2000"),
])
def test_huge_k_is_refused_at_once(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()
