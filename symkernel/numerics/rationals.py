r"""Numbers to exact SymPy rationals: the one policy, in two functions.

* :func:`decimal_value` — a number the user **typed** (a parameter: a variance, a gain, a slope,
  an ``eps``; ``rho`` as a string; a number on the command line or inside an activation string)
  is read as the decimal it was typed as: ``0.1 -> 1/10``.  NumPy scalars are read as the Python
  numbers they equal; an mpmath ``mpf`` has no typed decimal and keeps its binary value.  For a float that decimal is
  ``repr(value)``, the shortest decimal that rounds to it, so ``decimal_value(0.1)`` is what the
  user wrote, not the double nearest to it.  Strings are decimals or fractions (``"0.3"``,
  ``"-2"``, ``"1e-5"``, ``"5/6"``), exponents at most :data:`MAX_EXPONENT` in size.
* :func:`binary_value` — a number **computed** (a ``q`` from an iteration, an mpmath root, a
  stored float64 Gram entry, a SymPy ``Float`` inside an expression) keeps its binary value bit
  for bit: ``0.1 -> 3602879701896397/36028797018963968``; no ambient precision enters.

Both refuse NaN, infinities and non-numbers with an :class:`~symkernel.errors.InvalidInputError`
naming the value.

>>> decimal_value(0.1), decimal_value("1e-3"), decimal_value("5/6")
(1/10, 1/1000, 5/6)
>>> binary_value(0.1)
3602879701896397/36028797018963968
>>> binary_value(0.5) == decimal_value(0.5) == sp.Rational(1, 2)     # exact in binary and decimal
True
"""
import math
import numbers
import re
from fractions import Fraction

import mpmath
import sympy as sp

from symkernel.errors import InvalidInputError

#: largest decimal exponent a typed number may carry (``1e-999999999`` would take minutes)
MAX_EXPONENT = 1000
_DECIMAL = re.compile(r"\s*([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?(?:\s*/\s*(\d+))?\s*")


def decimal_value(value, name="value"):
    """A typed number as the exact rational it was typed as (see the module docstring): an int,
    a float or NumPy float (its ``repr``), a ``Fraction``, a SymPy rational, or a decimal/fraction
    string.  ``name`` (the parameter) starts the message of a refusal."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    if isinstance(value, (sp.Rational, sp.Integer)):
        return value
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, mpmath.mpf):  # an mpf has no typed decimal: its binary value, every bit
        return binary_value(value)
    if isinstance(value, numbers.Real) and not isinstance(value, sp.Basic):
        if not math.isfinite(value):
            raise InvalidInputError(f"{name} must be a finite number, got {value}")
        return _decimal_text(repr(float(value)), name)
    if isinstance(value, str):
        return _decimal_text(value, name)
    raise InvalidInputError(f"{name} must be a number, got {type(value).__name__} {value!r}")


def _decimal_text(text, name):
    who = f"{name}: " if name else ""
    m = _DECIMAL.fullmatch(text)
    if m is None:
        raise InvalidInputError(f"{who}expected a number such as 0.3, 1e-5 or 5/6, got {text!r}")
    sign, digits, exponent, denominator = m.groups()
    if exponent is not None and abs(int(exponent)) > MAX_EXPONENT:
        raise InvalidInputError(f"{who}the exponent of {text.strip()} is beyond {MAX_EXPONENT} in size")
    if denominator is not None and int(denominator) == 0:
        raise InvalidInputError(f"{who}{text.strip()} divides by zero")
    value = Fraction(digits) * Fraction(10) ** int(exponent or 0)
    if denominator is not None:
        value /= int(denominator)
    value = -value if sign == "-" else value
    return sp.Rational(value.numerator, value.denominator)


def binary_value(value):
    """A computed number as the exact rational of its binary value (see the module docstring):
    an int, a float or NumPy float, an mpmath ``mpf`` (every bit, whatever the context precision)
    or a SymPy ``Float``/rational."""
    if isinstance(value, bool):
        raise InvalidInputError(f"expected a number, got {value!r}")
    if isinstance(value, sp.Rational):
        return value
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, (mpmath.mpf, sp.Float)):
        if not (mpmath.isfinite(value) if isinstance(value, mpmath.mpf) else value.is_finite):
            raise InvalidInputError(f"expected a finite number, got {value}")
        sign, man, exp, _ = value._mpf_      # every bit (mpf(x) would round to the context)
        man = -int(man) if sign else int(man)
        return sp.Integer(man) * sp.Integer(2) ** exp if exp >= 0 else sp.Rational(man, 2 ** (-exp))
    if not isinstance(value, numbers.Real) or isinstance(value, sp.Basic):
        raise InvalidInputError(f"expected a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidInputError(f"expected a finite number, got {value}")
    return sp.Rational(*value.as_integer_ratio())


__all__ = ["MAX_EXPONENT", "binary_value", "decimal_value"]
