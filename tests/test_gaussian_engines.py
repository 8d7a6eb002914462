"""The exact Gaussian engine against the numeric one (30 digits) and known closed forms."""
import mpmath
import pytest
import sympy as sp

from symkernel.errors import NoClosedFormError, NotSquareIntegrableError, PrecisionError
from symkernel.gaussian import exact, numeric
from symkernel.core.symbols import alpha, x

a = sp.Rational(13, 10)
GELU = x * (1 + sp.erf(x / sp.sqrt(2))) / 2
CASES = [
    sp.erf(x)**2, sp.sin(x)**2, sp.cos(3 * x) * x**2, sp.exp(x - 2)**2, GELU**2, sp.diff(GELU, x)**2,
    sp.Max(x, 0)**3, sp.Heaviside(x) * sp.exp(x), sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True))**2,
    sp.Max(-1, sp.Min(1, a * x))**2, sp.exp(-x**2 / 2) * x**4, sp.erf(a * x + 1) * sp.exp(x),
    sp.erf(x) * sp.erf(2 * x) * x**2, sp.Abs(x) * sp.erf(x) * x, sp.sin(x) * sp.Max(x, 0),
    sp.erf(x) * sp.exp(-x**2) * x, (sp.erf(x) * sp.Heaviside(x))**2,
]


@pytest.mark.parametrize("expr", CASES, ids=[str(c)[:40] for c in CASES])
def test_exact_equals_numeric_to_30_digits(expr):
    value = exact.closed_form(expr)
    assert not value.has(exact.Phi_)
    reference, err = numeric.estimate_expectation(expr, dps=35)
    with mpmath.workdps(40):
        got = mpmath.mpf(sp.N(value, 40))
        assert abs(got - reference) <= mpmath.mpf(10) ** -30 * max(1, abs(reference))


def test_known_closed_forms():
    assert sp.simplify(exact.closed_form(sp.erf(x)**2) - 2 / sp.pi * sp.asin(sp.Rational(2, 3))) == 0
    assert exact.closed_form(x**6) == 15
    assert sp.simplify(exact.closed_form(sp.exp(alpha * x)) - sp.exp(alpha**2 / 2)) == 0
    assert sp.simplify(exact.closed_form(sp.sin(alpha * x)**2) - (1 - sp.exp(-2 * alpha**2)) / 2) == 0
    assert exact.closed_form(sp.Max(x, 0)) == 1 / sp.sqrt(2 * sp.pi)


def test_symbolic_breakpoints():
    value = exact.closed_form(sp.Max(-1, sp.Min(1, alpha * x))**2)
    for a_val in (sp.Rational(1, 2), 2):
        ref, _ = numeric.estimate_expectation(sp.Max(-1, sp.Min(1, a_val * x))**2, dps=25)
        with mpmath.workdps(30):
            assert abs(mpmath.mpf(sp.N(value.subs(alpha, a_val), 30)) - ref) < mpmath.mpf(10) ** -24


def test_outside_the_class_raises_no_closed_form():
    for expr in (sp.tanh(x), sp.erf(x**2), sp.erf(x) * sp.erf(x) * sp.erf(x), sp.log(1 + sp.exp(x))):
        with pytest.raises(NoClosedFormError):
            exact.closed_form(expr)


def test_divergent_gaussian_growth_is_an_error():
    with pytest.raises(NotSquareIntegrableError):
        exact.closed_form(sp.exp(x**2))
    with pytest.raises(NotSquareIntegrableError):
        exact.closed_form(sp.exp(x**2 / 2) * x)


def test_numeric_engine_refuses_what_it_cannot_establish():
    with pytest.raises(PrecisionError):
        numeric.estimate_expectation(1 / sp.Abs(x)**sp.Rational(9, 10), dps=30)


def test_numeric_engine_meets_requested_digits_at_high_precision():
    value, err = numeric.estimate_expectation(sp.tanh(x)**2, dps=60)
    second, _ = numeric.estimate_expectation(1 - sp.tanh(x)**2, dps=60)  # E tanh^2 + E sech^2 = 1
    with mpmath.workdps(70):
        assert abs(value + second - 1) < mpmath.mpf(10) ** -58
