"""Sums and products of Quantities: exact if both are exact, else numeric with propagated errors.

A numeric ``a op b`` combines the parts' :class:`~symkernel.numerics.Result` at increasing
working precisions (:func:`symkernel.numerics.settle`) until the propagated error bound meets the digits
asked (digits lost to cancellation are recovered by more working digits); it is ``certified``
when both parts are exact or certified, ``estimated`` otherwise.

>>> import sympy as sp
>>> _qadd(_q(sp.Rational(1, 3)), _qmul(_q(2), _q(sp.pi))).expr
1/3 + 2*pi
"""
import mpmath
import sympy as sp

from symkernel.numerics import Result, settle
from symkernel.core.quantity import Quantity, as_quantity

_q = as_quantity  # the short name kernels/ uses


def _kind_of(a, b, what):
    proven = all(q.kind in ("exact", "certified") for q in (a, b))
    return f"certified: {what} of certified values" if proven else f"estimated: {what}"


def _qmul(a, b):
    if a.exact and b.exact:
        return Quantity(sp.simplify(a.expr * b.expr), a.symbol, a.provenance)
    for u, v in ((a, b), (b, a)):
        if u.exact and u.expr == 0:
            return Quantity(sp.Integer(0), v.symbol, u.provenance)
    return Quantity(None, a.symbol, _kind_of(a, b, "product"),
                    lambda dps: _num_op(lambda u, v: u * v, a, b, dps, "product"))


def _qadd(a, b):
    for u, v in ((a, b), (b, a)):
        if u.exact and u.expr == 0:
            return v
    if a.exact and b.exact:
        return Quantity(sp.simplify(a.expr + b.expr), a.symbol, a.provenance)
    return Quantity(None, a.symbol, _kind_of(a, b, "sum"),
                    lambda dps: _num_op(lambda u, v: u + v, a, b, dps, "sum"))


def _num_op(op, a, b, dps, what="sum"):
    """``op(a, b)`` (a sum or a product) as a Result meeting ``dps`` digits (propagated errors)."""
    def run(wp):
        u, v = a.result(wp), b.result(wp)
        value = op(u.value, v.value)
        if what == "sum":
            err = u.error + v.error
        else:
            err = abs(u.value) * v.error + abs(v.value) * u.error + u.error * v.error
        err += abs(value) * mpmath.mpf(10) ** (-wp)
        return Result(value, err, u.certified and v.certified, what)
    return settle(run, dps, what)
