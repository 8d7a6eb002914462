"""Fixes of an audit, each against an independent value: the isometry of stored floats near
singular (hand-derived exact determinants), printing a Quantity with fewer digits than asked
(mpmath's own digits, numpy slogdet), NumPy and mpmath numbers as inputs, registry activations
as functions in strings (Stein's identity), and exact zeros in the engine check."""
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.cli import main
from symkernel.core.quantity import Quantity
from symkernel.errors import InvalidInputError, PrecisionError, UnknownActivationError
from symkernel.numerics import Result
from symkernel.present.latex import latex
from symkernel.validate.engines import zero_check


# ---------------------------------------------------------------- item 1: isometry of stored floats
def test_isometry_of_a_nonsingular_float_matrix_near_singular():
    q, g = sk.isometry(np.diag([1e-20, 1.0])), sk.isometry_gap(np.diag([1e-20, 1.0]))
    d = Fraction(1e-20)                      # the stored double, exactly
    with mpmath.workdps(40):
        ref = mpmath.sqrt(mpmath.mpf(d.numerator) / d.denominator) / ((1 + mpmath.mpf(d.numerator) / d.denominator) / 2)
        assert q.kind == g.kind == "certified"
        assert abs(q.value(25) - ref) < mpmath.mpf(10) ** -25 * ref          # 2.0e-10
        assert abs(g.value(25) + mpmath.log(ref)) < mpmath.mpf(10) ** -25 * 23  # 22.33
    assert abs(float(g) - 22.332703749380) < 1e-11
    # not diagonal: [[1, 1 - 2^-48], [1 - 2^-48, 1]] has det 2^-47 - 2^-96 (by hand), far below
    # the float64 eigenvalue resolution of 100 n eps x 2
    G = np.array([[1.0, 1 - 2.0**-48], [1 - 2.0**-48, 1.0]])
    q = sk.isometry(G)
    with mpmath.workdps(60):
        ref = mpmath.sqrt(mpmath.mpf(2) ** -47 - mpmath.mpf(2) ** -96)
        assert q.kind == "certified" and abs(q.value(30) - ref) < mpmath.mpf(10) ** -30 * ref
    sign, logdet = np.linalg.slogdet(G)                 # float64 LU: only ~1 digit here, but > 0
    assert sign == 1 and abs(math.exp(logdet / 2) / float(ref) - 1) < 0.1


def test_isometry_zero_only_for_singular_or_indefinite_stored_entries():
    q = sk.isometry(np.ones((3, 3)))
    assert q.expr == 0 and "singular" in q.provenance and sk.isometry_gap(np.ones((3, 3))).expr == sp.oo
    # det = 1 - (1 + 2^-52)^2 < 0: an eigenvalue -2^-52, within the PSD tolerance
    G = np.array([[1.0, 1 + 2.0**-52], [1 + 2.0**-52, 1.0]])
    q = sk.isometry(G)
    assert q.expr == 0 and "1 negative eigenvalue" in q.provenance


def test_isometry_beyond_the_exact_budget_near_singular_is_estimated_with_no_digit():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((201, 200))
    q = sk.isometry(X @ X.T)
    assert q.kind == "estimated" and "at most about" in q.provenance
    with pytest.raises(PrecisionError, match="no digit"):
        q.value(3)
    assert str(q).startswith("<") and "no digit" in str(q)       # str never raises


# ---------------------------------------------------------------- item 9: printing with fewer digits
def _eleven_digit_pi():
    def numeric(dps):
        if dps + 2 > 11:
            raise PrecisionError(f"only 11 digits, short of {dps}")
        return Result(+mpmath.pi, mpmath.pi * mpmath.mpf(10) ** -11, False, "test")
    return Quantity(None, "p", "estimated: a test value with 11 correct digits", numeric)


def test_quantity_with_few_digits_prints_them_and_float_says_how_many():
    q = _eleven_digit_pi()
    assert str(q) == mpmath.nstr(mpmath.pi, 9) == "3.14159265"
    assert q.latex() == "3.14159265" and latex(q, digits=5, lhs=False) == "3.1416"
    assert "3.14159265" in repr(q)
    with pytest.raises(PrecisionError, match="9 correct digits"):
        float(q)
    empty = Quantity(None, "z", "estimated: none", lambda d: (_ for _ in ()).throw(PrecisionError("zero?")))
    assert "zero?" in str(empty) and "no correct digit" in empty.latex()
    with pytest.raises(PrecisionError, match="no correct digit"):
        float(empty)


def test_float_of_a_fifteen_digit_quantity_is_the_nearest_double():
    def numeric(dps):
        if dps + 2 > 17:
            raise PrecisionError("short")
        return Result(+mpmath.e, mpmath.e * mpmath.mpf(10) ** -17, False, "test")
    assert abs(float(Quantity(None, "e", "estimated: 17 digits", numeric)) - math.e) <= 2 * math.ulp(math.e)


def test_isometry_of_a_large_gram_prints_against_slogdet():
    X = np.random.default_rng(3).normal(size=(200, 205))
    G = X @ X.T
    q = sk.isometry(G)
    sign, logdet = np.linalg.slogdet(G)
    ref = math.exp(logdet / 200) / (np.trace(G) / 200)
    assert sign == 1 and q.kind == "estimated"
    shown = str(q)
    assert abs(float(shown) / ref - 1) < 10 ** -(len(shown.split(".")[1]) - 1)
    assert latex(q, digits=5, lhs=False) == mpmath.nstr(mpmath.mpf(ref), 5)
    with pytest.raises(PrecisionError, match="correct digits"):
        float(q)


# ---------------------------------------------------------------- item 10: NumPy and mpmath numbers
def test_numpy_integers_and_mpmath_numbers_are_accepted_exactly():
    assert sk.hermite_coefficient("relu", np.int64(2)).expr == 1 / (2 * sp.sqrt(sp.pi))
    assert [c.expr for c in sk.hermite_coefficients("relu", np.int32(2))] == [1 / sp.sqrt(2 * sp.pi), sp.Rational(1, 2)]
    assert sk.activation("tanh", gain=mpmath.mpf("0.5")).expr == sp.tanh(sk.x / 2)
    third = sk.activation("tanh", gain=mpmath.mpf(1) / 3).gain      # an mpf is its binary value
    assert third == sp.Rational(*Fraction(1 / 3).as_integer_ratio())
    assert sk.activation("tanh", gain=np.float64(0.1)).gain == sp.Rational(1, 10)   # typed decimal
    for bad in (np.float64(2.0), np.bool_(True), mpmath.mpf(3)):
        with pytest.raises(InvalidInputError, match="k must be"):
            sk.hermite_coefficient("relu", bad)
    with pytest.raises(InvalidInputError, match="gain"):
        sk.activation("tanh", gain=np.bool_(True))


# ---------------------------------------------------------------- item 14: registry names as functions
def test_registry_names_as_functions_in_strings():
    x = sk.x
    assert sp.simplify(sk.activation("sigmoid(x-2)").expr - 1 / (1 + sp.exp(-(x - 2)))) == 0
    # Stein: c_1 = E[relu(Z + a) Z] = P(Z > -a) = Phi(a)
    c1 = sk.hermite_coefficient("relu(x+0.3)", 1)
    with mpmath.workdps(40):
        assert abs(c1.value(30) - mpmath.ncdf(mpmath.mpf(3) / 10)) < mpmath.mpf(10) ** -29
    with pytest.raises(UnknownActivationError, match="relu.. takes 1 argument"):
        sk.activation("relu(x, 2)")
    with pytest.raises(UnknownActivationError, match="unknown function 'foo'.*sigmoid"):
        sk.activation("foo(x)")


# ---------------------------------------------------------------- item 5: exact zeros in the engine check
def test_engine_check_compares_an_exact_zero_absolutely(capsys):
    checks = {c.name: c for c in sk.validate.engines("relu", K=4)}
    assert all(c.ok for c in checks.values())
    # c_3 of relu = (x + |x|)/2 against he_3 (odd): 0 by orthogonality
    assert checks["c_3"].exact == 0 and checks["c_3"].digits is None and checks["c_3"].bound < 1e-15
    assert all(c.ok is not False for c in sk.validate.engines("tanh", K=2))   # c_0 = 0
    assert not zero_check("c", Result(mpmath.mpf("1e-10"), mpmath.mpf("1e-30"), True), 15).ok
    assert main(["check", "relu"]) == 0
    assert "absolute enclosure" in capsys.readouterr().out
