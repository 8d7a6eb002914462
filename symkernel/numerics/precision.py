r"""Working precision: the one place it is chosen, scoped, judged and rounded.

mpmath's ``mp`` context and python-flint's ``ctx`` are process-wide.  Every numeric evaluation in
symkernel runs inside :func:`working`, which holds one re-entrant lock (so that concurrent calls
from threads cannot change each other's precision), sets both contexts to the requested digits
plus :data:`GUARD` and restores exactly what it found.  A caller's ambient precision therefore
never changes a result and is never left changed.

:func:`converge` is the single acceptance rule for values without a proven enclosure: an
evaluator is run at increasing working precisions until two successive values agree to
``dps + 2`` significant digits (relative: a value of 1e-40 is judged on its own scale, never
flushed to zero).  The agreement is an *estimate* and is labelled so; a proven enclosure comes
from :mod:`symkernel.numerics.arb`.

>>> import mpmath
>>> mpmath.mp.dps = 15
>>> with working(40):
...     mpmath.mp.dps >= 40
True
>>> mpmath.mp.dps
15
>>> est = converge(lambda wp: mpmath.mpf(1) / 3, 25, method="division")
>>> mpmath.nstr(est.value, 25), est.certified
('0.3333333333333333333333333', False)
"""
import contextvars
import functools
import inspect
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import mpmath

from symkernel.errors import InvalidInputError, PrecisionError

#: Largest number of significant digits any symkernel function accepts.
MAX_DPS = 1000
#: Guard digits added to the requested ones for intermediate work.
GUARD = 10

_LOCK = threading.RLock()


#: the digits asked of the outermost public evaluation running (see :func:`names_asked_dps`)
_ASKED = contextvars.ContextVar("symkernel_asked_dps", default=None)


def check_dps(dps, name="dps"):
    """Validate a requested number of significant digits (a positive int, at most MAX_DPS).

    Inside a public evaluation (:func:`names_asked_dps`) a working precision beyond MAX_DPS is
    refused in terms of the digits the caller asked: ``dps=1000`` is more than this evaluation
    can give, at most ``1000 - guard``."""
    if isinstance(dps, bool) or not isinstance(dps, int):
        raise InvalidInputError(f"{name} must be a positive integer, got {dps!r}")
    if dps < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {dps}")
    if dps > MAX_DPS:
        asked = _ASKED.get()
        if asked is not None and asked < dps:
            extra = dps - asked
            raise InvalidInputError(
                f"dps={asked} is beyond what this evaluation supports: it works with {extra} "
                f"digits beyond those asked and symkernel with at most {MAX_DPS}, so ask for at "
                f"most {MAX_DPS - extra} digits")
        raise InvalidInputError(f"{name}={dps} is beyond what symkernel supports (at most {MAX_DPS} digits)")
    return dps


def names_asked_dps(method):
    """Decorate a public evaluator taking ``dps``: a refusal of too many working digits anywhere
    inside it names the ``dps`` the caller asked (the outermost such call), not the working
    precision that overflowed."""
    signature = inspect.signature(method)
    default = signature.parameters["dps"].default

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if _ASKED.get() is not None:
            return method(*args, **kwargs)
        try:
            dps = signature.bind(*args, **kwargs).arguments.get("dps", default)
        except TypeError:
            return method(*args, **kwargs)
        token = _ASKED.set(dps if isinstance(dps, int) and not isinstance(dps, bool) else None)
        try:
            return method(*args, **kwargs)
        finally:
            _ASKED.reset(token)
    return wrapper


@contextmanager
def working(dps):
    """Hold the numerics lock with mpmath (and Arb) at ``dps`` digits; restore both on exit."""
    with _LOCK:
        old_prec = mpmath.mp.prec
        flint_ctx = _flint_ctx()
        old_flint = flint_ctx.prec if flint_ctx is not None else None
        try:
            mpmath.mp.dps = dps
            if flint_ctx is not None:
                flint_ctx.prec = mpmath.mp.prec
            yield
        finally:
            mpmath.mp.prec = old_prec
            if flint_ctx is not None:
                flint_ctx.prec = old_flint


def locked():
    """The numerics lock alone (for code that sets its own precisions inside)."""
    return _LOCK


def serialized(fn):
    """Run ``fn`` holding the numerics lock.

    mpmath's precision is process-wide, and SymPy's own evaluation and simplification change it
    while they run; two threads doing either at once would corrupt each other's digits.  Every
    public entry point that may touch mpmath (directly or through SymPy) is serialized with this
    decorator (re-entrant: nested calls cost nothing).
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _LOCK:
            return fn(*args, **kwargs)
    wrapper.__wrapped__ = fn
    return wrapper


def serialized_class(cls):
    """Serialize every public method, property and cached property of ``cls`` (and ``__call__``,
    ``__init__``, ``__repr__``, ``__str__``, ``__float__``); see :func:`serialized`."""
    dunders = ("__call__", "__init__", "__repr__", "__str__", "__float__", "__post_init__")
    for name, attr in list(vars(cls).items()):
        if name.startswith("_") and name not in dunders:
            continue
        if isinstance(attr, functools.cached_property):
            new = functools.cached_property(serialized(attr.func))
            new.__set_name__(cls, name)
            setattr(cls, name, new)
        elif isinstance(attr, property):
            setattr(cls, name, property(serialized(attr.fget) if attr.fget else None, attr.fset,
                                        attr.fdel, attr.__doc__))
        elif isinstance(attr, staticmethod):
            setattr(cls, name, staticmethod(serialized(attr.__func__)))
        elif isinstance(attr, classmethod):
            setattr(cls, name, classmethod(serialized(attr.__func__)))
        elif callable(attr) and not isinstance(attr, type):
            setattr(cls, name, serialized(attr))
    return cls


def _flint_ctx():
    try:
        from flint import ctx
    except ImportError:  # pragma: no cover - python-flint is a core dependency
        return None
    return ctx


def round_to(value, dps):
    """``value`` rounded to ``dps`` significant digits (an mpf of that precision)."""
    with mpmath.workdps(dps):
        return +mpmath.mpf(value)


@dataclass(frozen=True)
class Result:
    """A numeric value with an absolute error bound.

    ``certified`` is True when ``error`` is proven (an Arb enclosure, or rounding of an exact
    value); False when it is an estimate (agreement of successive precisions, quadrature error
    estimates).  ``method`` says how it was obtained.
    """

    value: mpmath.mpf
    error: mpmath.mpf
    certified: bool
    method: str = ""

    def rounded(self, dps):
        return round_to(self.value, dps)

    def digits(self):
        """Significant digits the error bound supports (``inf`` for an exact zero)."""
        if self.error == 0:
            return mpmath.inf
        if self.value == 0:
            return 0
        return max(0, int(mpmath.floor(-mpmath.log10(self.error / abs(self.value)))))


def as_result(obj, dps, method="", certified=False):
    """Wrap an evaluator's return value as a Result: a Result as it is, an mpf said to be correct
    to ``dps`` digits with the error bound ``|value| 10^-dps`` that claim implies."""
    if isinstance(obj, Result):
        return obj
    value = mpmath.mpf(obj)
    return Result(value, abs(value) * mpmath.mpf(10) ** (-dps), certified, method)


def agree(a, b, dps):
    """True when ``a`` and ``b`` agree to ``dps + 2`` significant digits (relative; 0 == 0)."""
    if a == b:
        return True
    scale = max(abs(a), abs(b))
    return abs(a - b) <= scale * mpmath.mpf(10) ** (-(dps + 2))


def meets(res, dps):
    """True when a Result's error bound supports ``dps + 2`` significant digits (or it is 0 exactly)."""
    if res.error == 0:
        return True
    return res.value != 0 and res.error <= abs(res.value) * mpmath.mpf(10) ** (-(dps + 2))


#: extra working digits tried in turn by :func:`settle` (then PrecisionError)
SETTLE_STEPS = (3, GUARD, 3 * GUARD, 8 * GUARD)


def settle(run, dps, method="", steps=SETTLE_STEPS):
    """The first ``run(wp) -> Result`` at ``wp = dps + step`` whose error bound :func:`meets` ``dps``.

    ``run`` combines parts that carry error bounds (proven or estimated) and propagates them; a
    higher working precision recovers digits lost to cancellation.  PrecisionError says how many
    digits were reached.
    """
    check_dps(dps)
    for step in steps:
        with working(dps + step):
            res = run(dps + step)
        if not (mpmath.isfinite(res.value) and mpmath.isfinite(res.error)):
            raise PrecisionError(f"{method or 'the evaluation'}: the result is not finite")
        if meets(res, dps):
            return res
    raise PrecisionError(f"{method or 'the evaluation'} could not reach {dps} digits (cancellation, "
                         f"or the value is 0: |value| <= {mpmath.nstr(abs(res.value) + res.error, 3)}, "
                         f"error {mpmath.nstr(res.error, 3)}, about {res.digits()} digits)")


def converge(run, dps, method="", steps=(GUARD, 2 * GUARD, 4 * GUARD), zero=None):
    """Evaluate ``run(wp)`` at increasing working precisions ``dps + step`` until two agree.

    Returns an estimated :class:`Result`.  ``zero`` (an absolute threshold, optional) accepts two
    values both below it as an *absolute* answer 0 with that error, for callers that need
    absolute accuracy (a value that is zero in exact arithmetic but has no exact form); without
    it tiny values are judged relatively like any other.  Raises :class:`PrecisionError` with
    the digits reached when the precisions never agree.
    """
    check_dps(dps)
    previous = None
    best = 0
    for step in steps:
        with working(dps + step):
            value = mpmath.mpf(run(dps + step))
        if not mpmath.isfinite(value):
            raise PrecisionError(f"{method or 'the evaluation'} gave a non-finite value ({value})")
        if previous is not None:
            if agree(value, previous, dps):
                err = abs(value - previous) + abs(value) * mpmath.mpf(10) ** (-(dps + 2))
                return Result(value, err, False, method)
            if zero is not None and abs(value) < zero and abs(previous) < zero:
                return Result(mpmath.mpf(0), mpmath.mpf(zero), False, method)
            scale = max(abs(value), abs(previous))
            if scale:
                rel = abs(value - previous) / scale
                best = max(best, int(-mpmath.log10(rel)) if rel else dps)
        previous = value
    raise PrecisionError(f"{method or 'the evaluation'} did not reach {dps} digits: successive "
                         f"working precisions agree to about {best} digits only, and {dps} digits "
                         f"are accepted on an agreement to {dps + 2}")


__all__ = ["MAX_DPS", "GUARD", "check_dps", "working", "locked", "serialized", "serialized_class",
           "round_to",
           "meets", "settle", "Result",
           "as_result", "agree", "converge", "names_asked_dps"]
