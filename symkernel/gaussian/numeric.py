"""Gaussian expectations to a requested number of digits with mpmath quadrature.

``E[f(Z)] = sum over pieces of int_lo^hi f(x) phi(x) dx``, each piece integrated by mpmath's
tanh-sinh rule on sub-intervals split at the breakpoints and at +-3, +-6, +-12 (where the Gaussian
weight changes scale).  The value is computed at two working precisions (``dps + 10`` and
``dps + 20``, more if needed); it is accepted only when the two agree to ``dps + 2`` digits and
the quadrature's own error estimate is below that too.  A value below ``10^-(dps+10)`` in
absolute value at both precisions is returned as 0 (zero to that absolute accuracy).  Otherwise :class:`PrecisionError` says
how many digits were established.

>>> import sympy as sp, mpmath
>>> from symkernel.symbols import x
>>> value, err = expectation(sp.tanh(x)**2, dps=30)
>>> mpmath.nstr(value, 30)
'0.394294490397841174416459772444'
"""
import mpmath
import sympy as sp

from ..parsing import to_sympy

from ..errors import InvalidInputError, PrecisionError
from ..pieces import split
from ..symbols import x

_SPLITS = (-12, -6, -3, 0, 3, 6, 12)
_WEIGHT = sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)


class _Integrand:
    """Piece integrands lambdified once for mpmath."""

    def __init__(self, pieces):
        self.parts = []
        for lo, hi, expr in pieces:
            if expr == 0:
                continue
            free = (to_sympy(expr).free_symbols | to_sympy(lo).free_symbols
                    | to_sympy(hi).free_symbols) - {x}
            if free:
                raise InvalidInputError(f"numeric evaluation needs numbers for {sorted(map(str, free))}")
            fn = sp.lambdify(x, _high_precision_constants(expr) * _WEIGHT, modules="mpmath")
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


def _high_precision_constants(expr, digits=400):
    """Replace named constants defined in closed form (SELU's) by 400-digit Floats.

    lambdify would print them as double-precision literals; nested closed forms would be
    re-evaluated at every node.  400 digits exceed any precision the engine works at
    (requests above 350 digits fall back to the closed-form definitions themselves).
    """
    from ..activations import _NamedConstant
    constants = [a for a in to_sympy(expr).atoms(sp.NumberSymbol) if isinstance(a, _NamedConstant)]
    return to_sympy(expr).xreplace({c: sp.Float(c.definition.evalf(digits + 10), digits) for c in constants})


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


def expectation_of_pieces(pieces, dps=15):
    """``(value, error_estimate)`` of ``E[f(Z)]``; the value is correct to ``dps`` digits."""
    if not isinstance(dps, int) or dps < 1:
        raise InvalidInputError(f"dps must be a positive integer, got {dps!r}")
    if dps > 350:
        raise InvalidInputError(f"the numeric engine supports up to 350 digits, not {dps}")
    integrand = _Integrand(pieces)
    target = mpmath.mpf(10) ** (-(dps + 2))
    tiny = mpmath.mpf(10) ** (-(2 * dps + 20))
    zero = mpmath.mpf(10) ** (-(dps + 10))
    previous = None
    best = None
    for extra, maxdegree in ((10, 8), (20, 9), (35, 10)):
        val, err = integrand.integrate(dps + extra, maxdegree)
        if previous is not None:
            scale = max(abs(val), tiny)
            diff = abs(val - previous)
            bound = max(diff, err)
            if bound <= target * scale:
                with mpmath.workdps(dps + 5):
                    return +val, bound
            if abs(val) < zero and abs(previous) < zero and err < zero:
                return mpmath.mpf(0), zero  # zero to within 10^-(dps+10), absolutely
            best = (val, bound / scale)
        previous = val
    achieved = int(-mpmath.log10(best[1])) if best[1] > 0 else dps
    raise PrecisionError(f"mpmath quadrature established only about {max(achieved, 0)} digits "
                         f"(requested {dps}); the integrand may be singular or badly conditioned")


def expectation(expr, dps=15):
    """``(value, error_estimate)`` of ``E[expr(Z)]`` for an expression in ``x``."""
    return expectation_of_pieces(split(to_sympy(expr)), dps)
