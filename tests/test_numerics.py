"""The numerics core: scoped precision, threads, certified enclosures vs independent paths."""
import re
import threading

import flint
import mpmath
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import symkernel as sk
from symkernel.errors import InvalidInputError, PrecisionError
from symkernel.numerics import MAX_DPS, Result, check_dps, converge, working
from symkernel.numerics import arb as arbmod
from symkernel.numerics.combine import combine

NO_CLOSED_FORM = ["tanh", "sigmoid", "softplus", "silu", "mish", "softsign", "arctan", "gelu_tanh"]


def _direct(f, dps):
    """E[f(Z)] by plain mpmath.quad on a fixed split, written here (shares no package code)."""
    with mpmath.workdps(dps):
        g = lambda t: f(t) * mpmath.exp(-t * t / 2)  # noqa: E731
        pts = [-mpmath.inf, -20, -10, -5, -2, 0, 2, 5, 10, 20, mpmath.inf]
        return mpmath.quad(g, pts) / mpmath.sqrt(2 * mpmath.pi)


_MP = {"tanh": mpmath.tanh, "sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)),
       "softplus": lambda t: mpmath.log1p(mpmath.exp(t)), "silu": lambda t: t / (1 + mpmath.exp(-t)),
       "mish": lambda t: t * mpmath.tanh(mpmath.log1p(mpmath.exp(t))),
       "softsign": lambda t: t / (1 + abs(t)), "arctan": mpmath.atan,
       "gelu_tanh": lambda t: t * (1 + mpmath.tanh(mpmath.sqrt(2 / mpmath.pi)
                                                    * (t + mpmath.mpf(44715) / 10**6 * t**3))) / 2}


def test_working_scopes_mpmath_and_flint_and_restores_on_error():
    mpmath.mp.dps = 15
    before = flint.ctx.prec
    with pytest.raises(ZeroDivisionError):
        with working(80):
            assert mpmath.mp.dps == 80 and flint.ctx.prec == mpmath.mp.prec
            1 / 0
    assert mpmath.mp.dps == 15 and flint.ctx.prec == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "30", True, MAX_DPS + 1])
def test_one_dps_check(bad):
    with pytest.raises(InvalidInputError):
        check_dps(bad)
    with pytest.raises(InvalidInputError):
        sk.hermite_coefficient("tanh", 1).value(bad)


def test_converge_is_relative_and_says_how_far_it_got():
    tiny = converge(lambda wp: mpmath.mpf(10) ** -50 / 3, 20)
    assert not tiny.certified and abs(tiny.value * 3 * mpmath.mpf(10) ** 50 - 1) < 1e-19
    with pytest.raises(PrecisionError, match="agree to about"):
        converge(lambda wp: 1 + mpmath.mpf(wp) / 10**6, 30)  # drifts with the precision


def test_combine_keeps_signs_and_is_exact_on_exact_inputs():
    minus_two = lambda wp: Result(mpmath.mpf(-2), mpmath.mpf(0), True, "t")  # noqa: E731
    r = combine(lambda a: a + 1, [minus_two], 20)
    assert r.value == -1 and r.error == 0
    third = lambda wp: Result(-mpmath.mpf(1) / 3, mpmath.mpf(0), True, "t")  # noqa: E731
    with mpmath.workdps(40):
        assert abs(combine(lambda a: 3 * a, [third], 30).value + 1) < mpmath.mpf(10) ** -32


def test_arb_constants_are_exact_and_signed():
    c = arbmod._constant(sp.Float(-0.3))
    assert c.rad() == 0 and c < 0
    from symkernel.numerics.combine import arb_to_mpf
    assert arb_to_mpf(flint.arb(-3) / 4) == mpmath.mpf(-0.75)


def test_combine_propagates_certification_both_ways():
    one_third = lambda cert: (lambda wp: Result(mpmath.mpf(1) / 3, mpmath.mpf(10) ** -(wp + 2),  # noqa: E731
                                                cert, "t"))
    assert combine(lambda a: a * a, [one_third(True)], 20).certified
    assert not combine(lambda a, b: a * b, [one_third(True), one_third(False)], 20).certified


@pytest.mark.parametrize("name", NO_CLOSED_FORM)
def test_certified_expectations_contain_an_independent_quadrature(name):
    """Arb enclosures of E sigma^2 and c_1 against plain mpmath.quad written in this test."""
    act = sk.activation(name)
    f = _MP[name]
    m2 = sk.second_moment(act)
    k = 1 if act.linear_odd_part is None else 2   # else c_1 = 1/2 exactly
    c1 = sk.hermite_coefficient(act, k)
    assert m2.kind == c1.kind == "certified"
    he = (lambda t: t) if k == 1 else (lambda t: (t * t - 1) / mpmath.sqrt(2))
    for q, g in ((m2, lambda t: f(t) ** 2), (c1, lambda t: f(t) * he(t))):
        ref = _direct(g, 45)
        res = q.result(35)
        with mpmath.workdps(50):
            assert abs(res.value - ref) <= res.error + mpmath.mpf(10) ** -42, (name, q.symbol)
            assert res.error <= abs(ref) * mpmath.mpf(10) ** -35


def test_small_values_keep_their_significant_digits():
    small = sk.expectation(sk.x**2 / 10**30)
    assert small.exact and abs(small.value(15) * 10**30 - 1) < 1e-14
    c = sk.hermite_coefficient(sk.activation("exp", shift=-30), 40)
    with mpmath.workdps(40):
        true = mpmath.exp(mpmath.mpf(-30) + mpmath.mpf(1) / 2) / mpmath.sqrt(mpmath.factorial(40))
        assert abs(c.value(20) / true - 1) < mpmath.mpf(10) ** -19
    tiny_gain = sk.hermite_coefficient(sk.activation("tanh", gain=sp.Rational(1, 20)), 41)
    assert tiny_gain.kind == "certified"
    assert 1.2e-37 < tiny_gain.value(15) < 1.3e-37
    scaled = sk.hermite_coefficient("1e-200*tanh(x)", 1).value(20)
    plain = sk.hermite_coefficient("tanh", 1).value(25)
    with mpmath.workdps(40):
        assert abs(scaled * mpmath.mpf(10) ** 200 / plain - 1) < mpmath.mpf(10) ** -19


def test_beta_at_tiny_gain_is_one_to_the_digits_asked():
    beta = sk.isometry_strength("tanh", gain=1e-300)
    with mpmath.workdps(30):
        assert abs(beta.value(15) - 1) < mpmath.mpf(10) ** -15


def test_a_numeric_zero_is_an_error_that_says_so_not_a_value():
    odd = sk.activation(sp.tanh(sk.x) * sp.exp(-sk.x**2))
    assert sk.expectation(odd).expr == 0 and sk.expectation(odd).kind == "exact"  # parity
    # Stein: E[Z tanh Z] = E[sech^2 Z], so this even integrand has mean exactly 0, which no exact
    # rule here proves: the package must refuse rather than invent significant digits
    stein = sk.activation(sk.x * sp.tanh(sk.x) - (1 - sp.tanh(sk.x) ** 2))
    with pytest.raises(PrecisionError, match="may be zero"):
        sk.expectation(stein).value(15)


@given(st.sampled_from(NO_CLOSED_FORM), st.floats(1.0, 60.0), st.sampled_from([-1, 1]))
def test_tail_envelopes_bound_the_activation(name, t, side):
    act = sk.activation(name)
    piece = act.pieces[0] if side < 0 else act.pieces[-1]
    C, m, a = arbmod.envelope(piece.expr, sk.x, side)
    with mpmath.workdps(40):
        value = abs(_MP[name](side * mpmath.mpf(t)))
        assert value <= C * (1 + mpmath.mpf(t)) ** m * mpmath.exp(a * t)


@pytest.mark.parametrize("m,a,R", [(0, 0, 8), (2, 0, 9), (1, 1.5, 10), (3, 2, 12)])
def test_tail_bound_dominates_the_tail_integral(m, a, R):
    bound = arbmod.tail_bound(1.0, m, a, R)
    with mpmath.workdps(30):
        tail = mpmath.quad(lambda u: (1 + u) ** m * mpmath.exp(a * u - u * u / 2), [R, mpmath.inf])
        tail /= mpmath.sqrt(2 * mpmath.pi)
        assert tail <= bound <= 3 * tail


def _values(name, dps):
    """Fresh objects built and evaluated in the calling thread (construction runs SymPy too)."""
    act = sk.activation(name)
    return (sk.isometry_strength(act).value(dps), sk.kernel_map(act)(mpmath.mpf(3) / 10, dps=dps),
            sk.kernel_dynamics(act).kappa_prime_1.value(dps),
            sk.mean_field(act, 1.5, 0.05).chi_1.value(dps))


def _work(name, dps, out, i):
    try:
        out[i] = _values(name, dps)
    except Exception as exc:  # noqa: BLE001 - the test reports what any thread raised
        out[i] = exc


def test_four_threads_with_different_precisions_agree_with_serial_calls():
    jobs = [("tanh", 20), ("softplus", 30), ("elu", 25), ("arctan", 35)]
    out = [None] * len(jobs)
    threads = [threading.Thread(target=_work, args=(n, d, out, i)) for i, (n, d) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mpmath.mp.dps == 15
    for (name, dps), got in zip(jobs, out):
        assert not isinstance(got, Exception), got
        assert got == _values(name, dps), (name, dps)


@pytest.mark.parametrize("name", ["tanh", "softplus", "elu"])
def test_ambient_precision_changes_nothing(name):
    fresh = lambda: sk.isometry_strength(sk.activation(name))  # noqa: E731
    reference = fresh().value(30)
    mpmath.mp.dps = 60
    try:
        assert fresh().value(30) == reference
        assert mpmath.mp.dps == 60
    finally:
        mpmath.mp.dps = 15


@pytest.mark.parametrize("name", ["tanh", "softsign", "selu", "gelu_tanh"])
def test_value_at_dps_agrees_with_dps_plus_20(name):
    for q in (sk.second_moment(name), sk.hermite_coefficient(name, 3), sk.isometry_strength(name)):
        if q.exact and q.expr == 0:
            continue
        lo, hi = q.value(25), q.value(45)
        with mpmath.workdps(50):
            assert abs(lo - hi) <= abs(hi) * mpmath.mpf(10) ** -25


@given(st.floats(-1e300, 1e300, allow_nan=False).filter(lambda v: v != 0))
def test_mpf_conversions_keep_sign_and_value(v):
    """Every mpf -> exact conversion (SymPy Rational, Arb) keeps the sign and every bit."""
    from symkernel.theory.meanfield.moments import exact_number
    from symkernel.numerics import binary_value
    from symkernel.numerics.combine import from_mpf

    m = mpmath.mpf(v)
    assert binary_value(m) == sp.Rational(v) == exact_number(m)
    assert from_mpf(m) == flint.arb(v) and from_mpf(m).rad() == 0


@pytest.mark.parametrize("expr", [sp.exp(-(sk.x - 3) ** 2 / sp.Rational(1, 50)),
                                  sp.exp(-sk.x**2 / 2 + 40 * sk.x) / 10**300,
                                  sp.exp(-sk.x**4 + 3 * sk.x**3)])
def test_envelopes_of_downward_exponents_are_finite_and_bound(expr):
    for side in (-1, 1):
        C, m, a = arbmod.envelope(expr, sk.x, side)
        fn = sp.lambdify(sk.x, expr, "mpmath")
        with mpmath.workdps(40):
            for t in (1, 2, 5, 10, 40):
                assert abs(fn(side * mpmath.mpf(t))) <= C * (1 + mpmath.mpf(t)) ** m * mpmath.exp(a * t)


def test_arb_polynomial_with_irrational_coefficients_is_certified_and_right():
    """Hermite integrands have coefficients such as sqrt(2)/2: the Horner path compiles each as a
    constant expression (it once raised inside the Arb integration callback, a SystemError)."""
    import sympy as sp

    from symkernel.core.symbols import x
    from symkernel.numerics import arb

    he3 = sp.hermite_prob(3, x) / sp.sqrt(6)
    plan = arb.plan([(-sp.oo, sp.oo, sp.expand(sp.tanh(x) * he3))])
    assert plan is not None
    value = plan.evaluate(25).value
    with mpmath.workdps(40):
        f = lambda z: mpmath.tanh(z) * (z**3 - 3 * z) / mpmath.sqrt(6) * mpmath.npdf(z)
        ref = mpmath.quad(f, [-mpmath.inf, 0, mpmath.inf])
        assert abs(value - ref) < mpmath.mpf(10) ** -24 * abs(ref)


def test_arb_refuses_a_constant_it_cannot_enclose_before_integrating():
    import sympy as sp

    from symkernel.core.symbols import x
    from symkernel.numerics import arb

    assert arb.plan([(-sp.oo, sp.oo, sp.Catalan * x**2 + sp.tanh(x))]) is None
    assert arb.plan([(-sp.oo, sp.oo, (sp.Catalan * x**2 - 1) * sp.tanh(x))]) is None


# ---------------------------------------------------------------- numbers to exact rationals
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_typed_floats_are_read_as_decimals_and_computed_ones_bit_for_bit(v):
    """The one policy (numerics.rationals): decimal_value is Python's Fraction of the float's repr
    (the decimal typed), binary_value its Fraction of the float itself (the double); both are
    the float when rounded back."""
    from fractions import Fraction

    from symkernel.numerics import binary_value, decimal_value

    typed, stored = decimal_value(v), binary_value(v)
    assert (typed.p, typed.q) == Fraction(repr(v)).as_integer_ratio()
    assert (stored.p, stored.q) == Fraction(v).as_integer_ratio()
    assert float(typed) == float(stored) == v
    with mpmath.workprec(64):
        m = mpmath.mpf(v)
    with mpmath.workprec(20):                    # an mpf keeps every bit whatever the context
        assert binary_value(m) == stored


def test_rational_readings_refuse_bad_values_naming_them():
    from symkernel.numerics import binary_value, decimal_value

    assert decimal_value(0.1) == sp.Rational(1, 10) != binary_value(0.1)
    assert decimal_value("-2.5e-3") == sp.Rational(-1, 400) and decimal_value(" 5/6 ") == sp.Rational(5, 6)
    with mpmath.workdps(60):
        long = mpmath.mpf(1) / 3
    assert abs(binary_value(long) - sp.Rational(1, 3)) < sp.Rational(1, 10**59)   # 60 digits kept
    assert binary_value(sp.Float("0.1", 40)) == sp.Rational(sp.Float("0.1", 40))       # SymPy's own reading
    for bad, what in [(float("nan"), "nan"), (float("inf"), "inf"), ("1e-999999999", "exponent of 1e-999999999"),
                      ("1/0", "1/0 divides by zero"), ("0x10", "'0x10'"), (True, "True"), (None, "None")]:
        with pytest.raises(InvalidInputError, match=re.escape(what)):
            decimal_value(bad, "rho")
    for bad, what in [(float("nan"), "nan"), (mpmath.inf, "+inf"), ("0.1", "str '0.1'"), (None, "None")]:
        with pytest.raises(InvalidInputError, match=re.escape(what)):
            binary_value(bad)
