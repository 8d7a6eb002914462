r"""Kernel values through the numerics core (docs/theory.md §2, evaluation).

Every numeric kernel value is a :class:`~symkernel.numerics.Result`: a proven enclosure
(``certified``) is accepted once its radius is below ``|value| 10^-(dps+2)``; a value without a
proof is accepted by :func:`symkernel.numerics.converge` (two working precisions agree to
``dps + 2`` significant digits, judged relatively: tiny values are never flushed to zero) and
labelled ``estimated``.  Sums and products of such parts propagate the errors (:func:`settle`).

>>> import mpmath
>>> from symkernel.core.symbols import rho
>>> mpmath.nstr(_eval_expr(rho**2 / 3, lambda wp: mpmath.mpf(1) / 2, 20), 20)
'0.083333333333333333333'
"""
from functools import lru_cache

import mpmath
import sympy as sp

from symkernel.errors import InvalidInputError, PrecisionError
from symkernel.numerics import Result, converge, working
from symkernel.core.mp_eval import mp_lambdify
from symkernel.core.quantity import evaluate_exact
from symkernel.core.symbols import rho

def _points(lo, hi, extra, wp):
    a = mpmath.mpf(-mpmath.inf) if lo == -sp.oo else mpmath.mpf(sp.N(lo, wp + 5))
    b = mpmath.mpf(mpmath.inf) if hi == sp.oo else mpmath.mpf(sp.N(hi, wp + 5))
    inner = sorted({mpmath.mpf(v) for v in (-12, -6, -3, 0, 3, 6, 12, *extra) if a < v < b})
    return [a, *inner, b]


def _refine(pts):
    """Add the usual scale points to an infinite split list."""
    finite = [p for p in pts if mpmath.isfinite(p)]
    extra = [mpmath.mpf(v) for v in (-12, -6, -3, 0, 3, 6, 12)]
    return [pts[0], *sorted(set(finite) | set(extra)), pts[-1]]


class _Unusable(Exception):
    """The lambdified expression cannot be evaluated at this point (internal signal)."""


def _eval_expr(expr, at, dps):
    """An exact expression in rho at a numeric rho, to dps digits (mpmath at two precisions by
    :func:`~symkernel.numerics.converge`, else SymPy's evalf)."""
    try:
        fn = _mp_lambdify(expr)
    except (TypeError, NameError, AttributeError):
        fn = None
    if fn is not None:
        def run(wp):
            try:
                v = fn(at(wp))
            except (ZeroDivisionError, ValueError, TypeError, NameError) as exc:
                raise _Unusable from exc
            if isinstance(v, mpmath.mpc):
                if abs(v.imag) > abs(v) * mpmath.mpf(10) ** (-(dps + 5)):
                    raise _Unusable
                v = v.real
            if not mpmath.isfinite(v):
                raise _Unusable
            return v
        try:
            return converge(run, dps, method="closed form (mpmath)", steps=(15, 35, 70)).rounded(dps)
        except (_Unusable, PrecisionError):
            pass
    with working(dps + 30):
        r = at(dps + 30)
        value = expr.subs(rho, sp.Float(r, dps + 30))
    if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        # the limit from inside [-1, 1]: SymPy's default direction "+" approaches rho = 1 from
        # outside, where sqrt(1 - rho^2) is imaginary (relu + 1/2 gave kappa(1) = 0.65)
        side = "-" if r >= 1 else ("+" if r <= -1 else "+-")
        value = sp.limit(expr, rho, sp.Float(r, dps + 30), side)
        if value.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
            raise InvalidInputError(f"the kernel is infinite at rho = {mpmath.nstr(r, 15)}")
    return evaluate_exact(value, dps)


def closed_result(expr, at, dps):
    """An exact expression in rho at a numeric rho as an estimated Result meeting ``dps`` digits
    (evaluated to ``dps + 3`` digits by :func:`_eval_expr`, so rounding stays below 10^-(dps+2))."""
    v = _eval_expr(expr, at, dps + 3)
    return Result(v, abs(v) * mpmath.mpf(10) ** (-(dps + 2)), False,
                  "exact closed form evaluated by mpmath at two working precisions")


@lru_cache(maxsize=512)
def _mp_lambdify(expr):
    return mp_lambdify(rho, expr)
