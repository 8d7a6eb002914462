"""Sums and products of Quantities: exact if both are exact, else numeric with a cancellation check.

A numeric ``a op b`` is returned to ``dps`` digits only when the digits lost to cancellation,
``log10(max(|a|, |b|, |a b|) / |result|)``, stay below the guard digits used.

>>> import sympy as sp
>>> _qadd(_q(sp.Rational(1, 3)), _qmul(_q(2), _q(sp.pi))).expr
1/3 + 2*pi
"""
import mpmath
import sympy as sp

from ..parsing import to_sympy

from ..errors import PrecisionError
from ..quantity import Quantity


def _q(value, symbol="q", provenance="exact"):
    return value if isinstance(value, Quantity) else Quantity(to_sympy(value), symbol, provenance)


def _qmul(a, b):
    if a.exact and b.exact:
        return Quantity(sp.simplify(a.expr * b.expr), a.symbol, a.provenance)
    for u, v in ((a, b), (b, a)):
        if u.exact and u.expr == 0:
            return Quantity(sp.Integer(0), v.symbol, u.provenance)

    def product(dps):
        x_, y_ = a.value(dps + 5), b.value(dps + 5)
        with mpmath.workdps(dps):
            return x_ * y_
    return Quantity(None, a.symbol, "numeric: product", product)


def _qadd(a, b):
    for u, v in ((a, b), (b, a)):
        if u.exact and u.expr == 0:
            return v
    if a.exact and b.exact:
        return Quantity(sp.simplify(a.expr + b.expr), a.symbol, a.provenance)
    return Quantity(None, a.symbol, "numeric: sum", lambda dps: _num_op(lambda u, v: u + v, a, b, dps))


def _num_op(op, a, b, dps):
    for extra in (10, 30, 60):
        wp = dps + extra
        u, v = a.value(wp), b.value(wp)
        with mpmath.workdps(wp):
            r = op(u, v)
            size = max(abs(u), abs(v), abs(u * v))
            if r == 0 and size == 0:
                return mpmath.mpf(0)
            if r != 0 and mpmath.log10(max(size, abs(r)) / abs(r)) < extra - 5:
                with mpmath.workdps(dps):
                    return +r
    raise PrecisionError("cancellation: could not establish the requested digits")
