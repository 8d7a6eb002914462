"""Numbers certified by two working precisions (MATH.md §2, evaluation).

A value is returned to ``dps`` digits only when evaluations at two precisions (and quadrature
degrees) agree: ``|a - b| <= max(|a|, |b|) 10^-(dps+2)``; otherwise PrecisionError.

>>> import mpmath
>>> from symkernel.symbols import rho
>>> mpmath.nstr(_eval_expr(rho**2 / 3, lambda wp: mpmath.mpf(1) / 2, 20), 20)
'0.083333333333333333333'
"""
from functools import lru_cache

import mpmath
import sympy as sp

from ..errors import InvalidInputError, PrecisionError
from ..quantity import evaluate_exact
from ..symbols import rho


def _agree(a, b, dps):
    scale = max(abs(a), abs(b))
    return abs(a - b) <= scale * mpmath.mpf(10) ** (-(dps + 2))


def _tiny(a, b, wp):
    return abs(a) < mpmath.mpf(10) ** (-wp) and abs(b) < mpmath.mpf(10) ** (-wp)


def _numpy_modules():
    from scipy import special
    return [{"erf": special.erf, "erfc": special.erfc, "erfi": special.erfi}, "numpy"]


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


def _two_precisions(run, dps):
    """Evaluate ``run(wp, degree)`` at two precisions; return when they agree to dps digits."""
    previous = None
    for extra, degree in ((10, 8), (20, 10), (40, 12)):
        val = run(dps + extra, degree)
        if previous is not None and (_agree(val, previous, dps) or _tiny(val, previous, dps + 10)):
            with mpmath.workdps(dps):
                return +val
        previous = val
    raise PrecisionError(f"quadrature did not reach {dps} digits (two precisions disagree)")


def _eval_expr(expr, at, dps):
    """An exact expression in rho at a numeric rho, to dps digits (two precisions, or SymPy N)."""
    try:
        fn = _mp_lambdify(expr)
    except (TypeError, NameError, AttributeError):
        fn = None
    if fn is not None:
        values = []
        for extra in (15, 35):
            with mpmath.workdps(dps + extra):
                try:
                    v = fn(at(dps + extra))
                except (ZeroDivisionError, ValueError, TypeError, NameError):
                    values = None
                    break
                if isinstance(v, mpmath.mpc):
                    v = v.real if abs(v.imag) <= abs(v) * mpmath.mpf(10) ** (-(dps + 5)) else mpmath.nan
                if not mpmath.isfinite(v):
                    values = None
                    break
                values.append(v)
        if values and (_agree(values[0], values[1], dps) or _tiny(*values, dps + 20)):
            with mpmath.workdps(dps):
                return +values[1]
    r = at(dps + 30)
    with mpmath.workdps(dps + 30):
        value = expr.subs(rho, sp.Float(r, dps + 30))
    if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        value = sp.limit(expr, rho, sp.Float(r, dps + 30))
        if value.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
            raise InvalidInputError(f"the kernel is infinite at rho = {mpmath.nstr(r, 15)}")
    return evaluate_exact(value, dps)


@lru_cache(maxsize=512)
def _mp_lambdify(expr):
    return sp.lambdify(rho, expr, modules="mpmath")
