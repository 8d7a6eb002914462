r"""Arithmetic on numeric results with error propagation in Arb ball arithmetic.

``combine(fn, sources, dps)`` evaluates every source (a function ``wp -> Result``) at a working
precision, turns each into a ball ``value +- error``, applies ``fn`` to the balls and accepts the
result when its radius is below ``10^-(dps+2)`` of its size; cancellation (a radius too large)
raises the working precision and tries again.  The result is certified exactly when every input
was: error propagation through ball arithmetic is rigorous, so it never turns an estimate into a
proof nor a proof into an estimate.

>>> import mpmath
>>> third = lambda wp: Result(mpmath.mpf(1) / 3, mpmath.mpf(10) ** -(wp + 1), True, "division")
>>> r = combine(lambda a: 1 - 3 * a, [third], 10)     # total cancellation: no digits to give
Traceback (most recent call last):
...
symkernel.errors.PrecisionError: ...
>>> r = combine(lambda a: 2 - a * a, [third], 20)
>>> mpmath.nstr(r.value, 20), r.certified
('1.8888888888888888889', True)
"""
import mpmath

from symkernel.errors import PrecisionError
from .precision import GUARD, Result, settle, working

try:
    from flint import arb, ctx as _ctx
except ImportError:  # pragma: no cover - python-flint is a core dependency
    arb = _ctx = None


def to_ball(result):
    """A Result as an Arb ball ``value +- error`` (at the current flint precision)."""
    mid = from_mpf(result.value)
    if result.error == 0:
        return mid
    return mid + arb(0, from_mpf(abs(result.error)) * (1 + arb(2) ** -40))


def from_mpf(value):
    """An mpf as an exact Arb number (binary to binary, no rounding; the sign kept)."""
    if not isinstance(value, mpmath.mpf):
        with mpmath.workprec(max(mpmath.mp.prec, 53) + 64):
            value = mpmath.mpf(value)
    sign, man, exp, _ = value._mpf_
    if not man:
        return arb(0)
    return arb((-int(man) if sign else int(man), int(exp)))


def from_ball(ball, certified, method):
    """An Arb ball as a Result (the midpoint and radius as exact mpf numbers)."""
    return Result(arb_to_mpf(ball.mid()), arb_to_mpf(ball.rad()), certified, method)


def arb_to_mpf(a):
    """An exact Arb number (a midpoint or a radius) as the mpf of the same value, every bit kept."""
    man, exp = a.man_exp()
    if man == 0:
        return mpmath.mpf(0)
    with mpmath.workprec(max(int(man).bit_length(), 53) + 8):  # mpf() rounds to the ambient precision
        return mpmath.mpf((int(man), int(exp)))


def combine(fn, sources, dps, method="ball arithmetic", steps=(GUARD, 3 * GUARD, 8 * GUARD)):
    """``fn(*balls)`` of the sources' results at ``dps`` digits (see the module docstring).

    ``sources`` are functions ``wp -> Result`` (e.g. ``quantity.result``).  An exact zero (a
    ball of radius 0 at 0) is returned as it is.
    """
    def run(wp):
        results = [src(wp) for src in sources]
        with working(wp + GUARD):
            ball = fn(*[to_ball(r) for r in results])
            if not isinstance(ball, arb):
                ball = arb(ball)
            if not ball.is_finite():
                raise PrecisionError(f"{method}: the enclosure is not finite")
            return from_ball(ball, all(r.certified for r in results), method)
    return settle(run, dps, method, steps)


__all__ = ["combine", "to_ball", "from_ball", "from_mpf", "arb_to_mpf"]
