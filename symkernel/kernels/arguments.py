"""Validation of the arguments of a kernel evaluation: a correlation ``rho`` in [-1, 1] and ``dps``.

``rho_value(r)`` -> ``(at, exact)``: ``at(wp)`` gives ``rho`` as an mpf good to ``wp`` digits
(every bit of a float/mpf kept), ``exact`` is the SymPy value when ``rho`` is one of -1, 0, 1 or
was given as an exact SymPy number (closed forms are then evaluated by substitution);
``at.rational`` is the exact rational value of a float, mpf or decimal string (None otherwise),
for the certified paths.

>>> at, exact = rho_value(0.5); at(20), exact
(mpf('0.5'), None)
>>> rho_value(1)[1]
1
"""
import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError, SymbolicValueError
from symkernel.numerics import binary_value, check_dps, decimal_value


def rho_value(value):
    """A function wp -> mpf for a correlation in [-1, 1]; InvalidInputError otherwise (also NaN)."""
    if isinstance(value, bool):
        raise InvalidInputError(f"rho must be a number in [-1, 1], got {value!r}")
    if isinstance(value, sp.Basic):
        if not value.is_number:
            raise SymbolicValueError(f"rho = {value} is symbolic; use kernel.expr.subs(sk.rho, ...)")
        if value.has(sp.nan) or value.is_real is False:
            raise InvalidInputError(f"rho must be a real number in [-1, 1], got {value}")
        if sp.Abs(value) > 1:
            raise InvalidInputError(f"rho = {value} is outside [-1, 1]")

        def at(wp):
            return mpmath.mpf(sp.N(value, wp + 5)._mpf_) if value != 0 else mpmath.mpf(0)
        at.rational = value if value.is_Rational else None
        return at, value
    if isinstance(value, str):
        try:
            with mpmath.workdps(50):
                test = mpmath.mpf(value)
        except (ValueError, TypeError):
            raise InvalidInputError(f"rho must be a number in [-1, 1], got {value!r}") from None
        fixed = None

        def at(wp):
            with mpmath.workdps(wp):
                return mpmath.mpf(value)
        try:   # as typed (sp.Rational("1e-999999999") once hung building a billion-digit integer)
            at.rational = decimal_value(value, "rho")
        except InvalidInputError:
            at.rational = None
    elif isinstance(value, (int, float, np.floating, np.integer, mpmath.mpf)):
        if isinstance(value, mpmath.mpf):
            test = value                      # keep every bit (no rounding to the context precision)
        else:                                 # a double is exact at 53 bits, whatever mp.dps is
            with mpmath.workprec(64):
                test = mpmath.mpf(float(value))
        fixed = test

        def at(wp):
            return fixed
        at.rational = exact_rational(fixed) if mpmath.isfinite(fixed) else None
    else:
        raise InvalidInputError(f"rho must be a number in [-1, 1], got {type(value).__name__}")
    if mpmath.isnan(test):
        raise InvalidInputError("rho is NaN; it must be a number in [-1, 1]")
    if test > 1 or test < -1:   # exact comparisons: abs() would round to the context precision
        with mpmath.workdps(60):
            shown = mpmath.nstr(test, 40) if isinstance(test, mpmath.mpf) else value
        raise InvalidInputError(f"rho = {shown} is outside [-1, 1]")
    exact_value = None
    if test in (-1, 0, 1):
        exact_value = sp.Integer(int(test))
    return at, exact_value


exact_rational = binary_value  # the exact rational value of a finite mpf or float


def _check_dps(dps):
    """The package-wide dps validation (:func:`symkernel.numerics.check_dps`)."""
    return check_dps(dps)
