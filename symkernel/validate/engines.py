r"""The exact engine against the numeric engine, for one activation: ``c_0 .. c_{K-1}``,
``E[σ²]`` and ``β_σ``.

The numeric side shares no code with the exact side: ``c_k = E[σ(Z) he_k(Z)]`` is integrated with
SymPy's own probabilists' Hermite polynomial (``hermite_prob(k, x)/√k!``) by the numeric engine
(an Arb enclosure where the pieces allow one, mpmath quadrature otherwise), and ``β`` is combined
from those numeric values in ball arithmetic.  Where no closed form exists there is nothing to
compare; the entry says so (``exact is None``).  An exact 0 (``c_3`` of ReLU, every ``c_{2j}`` of
an odd activation) has no relative digits to agree on: the numeric engine is then asked for an
*absolute* enclosure, and the entry is ``ok`` when it lies within ``10^-dps`` of 0 (``bound``:
``|numeric| + radius``, proven where Arb encloses it, estimated by quadrature otherwise;
docs/theory.md §31).

>>> import symkernel as sk
>>> [(c.name, c.ok) for c in sk.validate.engines("relu", K=2, dps=20)]
[('c_0', True), ('c_1', True), ('E[sigma^2]', True), ('beta', True)]
>>> c3 = sk.validate.engines("relu", K=4)[3]; c3.exact, c3.digits, c3.ok, c3.bound < 1e-15
(mpf('0.0'), None, True, True)
"""
from dataclasses import dataclass

import mpmath
import sympy as sp

from symkernel.coefficients.hermite import hermite_coefficients
from symkernel.coefficients.strength import beta_from_moments, isometry_strength
from symkernel.core.activations import Activation, activation
from symkernel.core.symbols import x
from symkernel.errors import InvalidInputError
from symkernel.gaussian.expectation import (
    numeric_evaluator, pieces_map, pieces_times, second_moment,
)
from symkernel.gaussian.numeric import estimate
from symkernel.numerics import GUARD, as_result, check_dps, serialized, working
from symkernel.numerics.arb import plan
from symkernel.numerics.combine import combine


@dataclass(frozen=True)
class EngineCheck:
    """One quantity two ways: ``exact`` and ``numeric`` as mpf at ``dps`` digits (``exact`` is
    None without a closed form), the number of ``digits`` they share and whether that is all of
    them but the last (``ok``; None when there is nothing to compare).  For an exact 0,
    ``digits`` is None and ``bound`` is the numeric side's absolute bound ``|value| + radius``
    (``ok`` when it is at most ``10^-dps``)."""

    name: str
    exact: object
    numeric: object
    digits: object
    ok: object
    bound: object = None


def agreement_digits(a, b, dps):
    """Significant decimal digits on which two numbers agree, capped at ``dps``."""
    with mpmath.workdps(dps + 10):
        if a == b:
            return dps
        scale = max(abs(a), abs(b))
        return max(0, min(dps, int(mpmath.floor(-mpmath.log10(abs(a - b) / scale)))))


def zero_check(name, res, digits):
    """The :class:`EngineCheck` of an exact 0 against a numeric Result ``res`` (absolute): ok when
    ``|value| + error <= 10^-digits``."""
    with mpmath.workdps(digits + GUARD):
        bound = abs(res.value) + res.error
        return EngineCheck(name, mpmath.mpf(0), res.value, None,
                           bool(bound <= mpmath.mpf(10) ** -digits), bound)


def _absolute(pieces, dps):
    """E over ``pieces`` with an absolute error below ``10^-(dps+2)`` (proven by Arb where the
    pieces allow, else estimated by quadrature), for an exact value 0."""
    tiny = mpmath.mpf(10) ** -(dps + 2)
    arb_plan = plan([(p.lo, p.hi, p.expr) for p in pieces])
    with working(dps + GUARD):
        if arb_plan is not None:
            return arb_plan.evaluate(dps, absolute=tiny)
        return estimate(pieces, dps, absolute=tiny)


def _numeric(pieces):
    """``dps -> Result`` of E over ``pieces`` from the numeric engine alone."""
    evaluate = numeric_evaluator(pieces)[0]

    def result(dps):
        with working(dps + GUARD):
            return as_result(evaluate(dps), dps)
    return result


@serialized
def engines(act, K=4, dps=15, *, gain=None, **params):
    """Compare the exact and numeric engines on ``c_0..c_{K-1}``, ``E[σ²]`` and (``K ≥ 2``) ``β``.

    Returns a list of :class:`EngineCheck`.  The activation must be numeric (no free gain or
    parameter): a symbolic value has no digits to compare.
    """
    check_dps(dps)
    if isinstance(act, Activation):
        if gain is not None or params:
            act = activation(act.expr, gain=1 if gain is None else gain, **params)
    else:
        act = activation(act, gain=1 if gain is None else gain, **params)
    if act.free_parameters:
        raise InvalidInputError(
            f"the engine check needs a numeric activation; {act.expr} has free symbols "
            f"{sorted(map(str, act.free_parameters))}")
    if not isinstance(K, int) or isinstance(K, bool) or not 1 <= K <= 200:
        raise InvalidInputError(f"K must be an integer in 1..200, got {K!r}")
    checks = []

    def compare(name, q, numeric, pieces=None):
        if q.exact and q.expr == 0 and pieces is not None:
            checks.append(zero_check(name, _absolute(pieces, dps), dps))
            return
        value = numeric(dps).rounded(dps)
        if not q.exact:
            checks.append(EngineCheck(name, None, value, None, None))
            return
        exact = q.value(dps)
        digits = agreement_digits(exact, value, dps)
        checks.append(EngineCheck(name, exact, value, digits, digits >= dps - 1))

    numeric_c = []
    for k, c in enumerate(hermite_coefficients(act, K)):
        he_k = sp.hermite_prob(k, x) / sp.sqrt(sp.factorial(k))
        pieces = pieces_times(act, sp.expand(he_k))
        zero = c.exact and c.expr == 0   # beta combines the absolute enclosure (a ball about 0)
        numeric_c.append((lambda d, p=pieces: _absolute(p, d)) if zero else _numeric(pieces))
        compare(f"c_{k}", c, numeric_c[-1], pieces)
    m2 = _numeric(pieces_map(act, lambda e: e**2))
    compare("E[sigma^2]", second_moment(act), m2)
    if K >= 2:
        compare("beta", isometry_strength(act),
                lambda d: combine(beta_from_moments, [numeric_c[0], numeric_c[1], m2], d, "beta"))
    return checks
