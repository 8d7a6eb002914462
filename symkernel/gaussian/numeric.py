"""Gaussian expectations to a requested number of digits with mpmath quadrature.

``E[f(Z)] = sum over pieces of int_lo^hi f(x) phi(x) dx``, each piece integrated by mpmath's
tanh-sinh rule on sub-intervals split at the breakpoints and at +-3, +-6, +-12 (where the Gaussian
weight changes scale).  The value is computed at successive working precisions until two agree
to ``dps + 2`` significant digits (:func:`symkernel.numerics.converge`); that agreement is an
*estimate*, not a proof (the certified path is :mod:`symkernel.numerics.arb`).  Otherwise
:class:`PrecisionError` says how many digits were established.

>>> import sympy as sp, mpmath
>>> from symkernel.core.symbols import x
>>> value, err = estimate_expectation(sp.tanh(x)**2, dps=30)
>>> mpmath.nstr(value, 30)
'0.394294490397841174416459772444'
"""
import mpmath
import sympy as sp

from symkernel.core.mp_eval import mp_lambdify
from symkernel.core.parsing import to_sympy

from symkernel.errors import InvalidInputError, SymbolicValueError
from symkernel.numerics import GUARD, Result, check_dps, converge
from symkernel.core.pieces import split
from symkernel.core.symbols import x

_SPLITS = (-12, -6, -3, 0, 3, 6, 12)
METHOD = "mpmath tanh-sinh quadrature split at breakpoints, successive precisions agree"
_WEIGHT = sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)


class _Integrand:
    """Piece integrands lambdified once for mpmath (every constant at the working precision:
    :func:`~symkernel.core.mp_eval.mp_lambdify`)."""

    def __init__(self, pieces):
        self.parts = []
        for lo, hi, expr in pieces:
            if expr == 0:
                continue
            free = (to_sympy(expr).free_symbols | to_sympy(lo).free_symbols
                    | to_sympy(hi).free_symbols) - {x}
            if free:
                raise SymbolicValueError(f"numeric evaluation needs numbers for {sorted(map(str, free))}")
            fn = mp_lambdify(x, to_sympy(expr) * _WEIGHT)
            self.parts.append((lo, hi, fn))

    def integrate(self, wp, maxdegree):
        total, err = mpmath.mpf(0), mpmath.mpf(0)
        with mpmath.workdps(wp):
            for lo, hi, fn in self.parts:
                a = mpmath.mpf(-mpmath.inf) if lo == -sp.oo else mpmath.mpf(sp.N(lo, wp + 5))
                b = mpmath.mpf(mpmath.inf) if hi == sp.oo else mpmath.mpf(sp.N(hi, wp + 5))
                pts = [a, *[mpmath.mpf(s) for s in _SPLITS if a < s < b], b]
                val, e = mpmath.quad(_safe(fn), pts, error=True, maxdegree=maxdegree)
                total += val
                err += e
        return total, err


def _safe(fn):
    def wrapped(t):
        val = fn(t)
        if isinstance(val, mpmath.mpc):
            if abs(val.imag) > abs(val.real) * mpmath.mpf(10) ** (-mpmath.mp.dps + 5) + mpmath.mpf(10) ** (-mpmath.mp.dps * 2):
                raise InvalidInputError(f"the integrand is not real at x = {mpmath.nstr(t, 8)}")
            return val.real
        if not mpmath.isfinite(val):
            raise InvalidInputError(f"the integrand is not finite at x = {mpmath.nstr(t, 8)}")
        return val
    return wrapped


def expectation_of_pieces(pieces, dps=15, absolute=None):
    """``(value, error_estimate)`` of ``E[f(Z)]``; the value is correct to ``dps`` digits.

    Successive working precisions (and tanh-sinh degrees) must agree to ``dps + 2`` significant
    digits (:func:`symkernel.numerics.converge`); tiny values are judged on their own scale.
    ``absolute`` (optional) also accepts two values both below it in size as 0 to that accuracy.
    """
    res = estimate(pieces, dps, absolute)
    return res.value, res.error


def estimate(pieces, dps=15, absolute=None):
    """``E[f(Z)]`` over pieces as an estimated :class:`~symkernel.numerics.Result`."""
    check_dps(dps)
    integrand = _Integrand(pieces)
    if not integrand.parts:
        return Result(mpmath.mpf(0), mpmath.mpf(0), True, "exact: zero integrand")
    degrees = {GUARD: 8, 2 * GUARD: 9, 4 * GUARD: 10}
    return converge(lambda wp: integrand.integrate(wp, degrees[wp - dps])[0], dps,
                    method=METHOD, zero=absolute)


def estimate_expectation(expr, dps=15, absolute=None):
    """``(value, error_estimate)`` of ``E[expr(Z)]`` for an expression in ``x``: the numeric
    engine behind the public :func:`symkernel.expectation`, which returns a Quantity."""
    return expectation_of_pieces(split(to_sympy(expr)), dps, absolute)
