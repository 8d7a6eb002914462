"""Gaussian expectations of activations as Quantities: exact engine first, numeric on demand.

>>> import symkernel as sk
>>> sk.expectation(sk.x**4).expr
3
>>> q = sk.second_moment("tanh"); q.exact, round(float(q), 12)
(False, 0.394294490398)
"""
import mpmath
import sympy as sp

from symkernel.numerics import serialized
from symkernel.core.activations import as_activation
from symkernel.errors import InvalidInputError, NoClosedFormError, NotSquareIntegrableError
from . import exact, numeric
from symkernel.numerics import arb
from symkernel.core.pieces import Piece
from symkernel.core.quantity import Quantity, zero_if_proved
from symkernel.core.symbols import x

EXACT_PROVENANCE = "exact: Gaussian integral engine (completing the square, Stein recurrences)"
CERTIFIED_PROVENANCE = ("certified: Arb ball quadrature (acb.integral) of each analytic piece, "
                        "explicit Gaussian tail bound")
NUMERIC_PROVENANCE = "estimated: " + numeric.METHOD


def try_exact(pieces):
    """Exact E over pieces, or None when the expression is outside the exact class."""
    try:
        return exact.expectation_of_pieces(pieces)
    except NoClosedFormError:
        return None


def numeric_evaluator(pieces):
    """``(evaluate, provenance)``: ``evaluate(dps)`` -> Result for E over ``pieces``.

    A proven Arb enclosure where the pieces compile to Arb with a tail envelope
    (:mod:`symkernel.numerics.arb`), labelled ``certified``; mpmath quadrature otherwise,
    labelled ``estimated``.  Raises PrecisionError when the digits cannot be reached.
    """
    plan = arb.plan([(p.lo, p.hi, p.expr) for p in pieces])
    if plan is not None:
        return plan.evaluate, CERTIFIED_PROVENANCE
    return (lambda dps: numeric.estimate(pieces, dps)), NUMERIC_PROVENANCE


def pieces_times(act, g):
    """Pieces of ``sigma * g`` (``g`` an expression in x without kinks)."""
    return tuple(Piece(p.lo, p.hi, p.expr * g) for p in act.pieces)


def pieces_map(act, fn):
    return tuple(Piece(p.lo, p.hi, fn(p.expr)) for p in act.pieces)


def quantity_of_pieces(pieces, symbol, params=()):
    """A Quantity for E over ``pieces``: exact when the engine can, numeric otherwise."""
    val = try_exact(pieces)
    if val is not None:
        return Quantity(zero_if_proved(val), symbol, EXACT_PROVENANCE, params=params)
    evaluate, provenance = numeric_evaluator(pieces)
    return Quantity(None, symbol, provenance, evaluate, params)


@serialized
def expectation(f, gain=None, **params):
    r"""``E[f(Z)]``, ``Z ~ N(0,1)``, for an expression, string or activation, as a Quantity
    (``gain``, ``params``: as :func:`~symkernel.core.activations.as_activation`)."""
    act = as_activation(f, gain, **params)
    check_square_integrable(act, power=1)
    if act.strict_parity == "odd":
        return Quantity(sp.Integer(0), r"\mathbb{E}[f(Z)]", "exact: parity (f is odd)",
                        params=(("f", act.expr),))
    return quantity_of_pieces(act.pieces, r"\mathbb{E}[f(Z)]", (("f", act.expr),))


@serialized
def second_moment(act, gain=None, **params):
    r"""``E[sigma(Z)^2]`` as a Quantity (finite, or NotSquareIntegrableError)."""
    act = as_activation(act, gain, **params)
    check_square_integrable(act)
    return quantity_of_pieces(pieces_map(act, lambda e: e**2), r"\mathbb{E}[\sigma^2]",
                              (("sigma", act.expr),))


def check_square_integrable(act, power=2):
    """Raise NotSquareIntegrableError unless ``E[|sigma|^power] < oo`` (singularities, growth)."""
    act.memo(("square_integrable", power), lambda: _check_square_integrable(act, power))


def _check_square_integrable(act, power):
    for piece in act.pieces:
        _check_singularities(piece, act, power)
        _check_real_valued(piece, act)
    for piece in (act.pieces[0], act.pieces[-1]):
        try:
            terms = exact.decompose(piece.expr**power)
        except NoClosedFormError:
            terms = None
        if terms is not None:
            for term in terms:
                if sp.simplify(1 - 2 * term.c).is_nonpositive:
                    raise NotSquareIntegrableError(
                        f"E[sigma(Z)^{power}] is infinite for sigma = {act.expr}: it grows like "
                        f"exp({term.c}*x**2) against the Gaussian weight exp(-x**2/2)")
        elif not act.free_parameters:
            _check_growth_numerically(piece, act, power)
    return True


def _check_endpoint(expr, r, direction, power, act):
    """A singularity at the breakpoint ``r`` (1/sqrt|x| at 0): ``|sigma|^power`` is integrable
    near ``r`` only if ``|sigma|^power |x - r| -> 0`` there; anything else is refused."""
    try:
        lim = sp.limit(sp.Abs(expr) ** power * sp.Abs(x - r), x, r, direction)
    except (NotImplementedError, ValueError, TypeError):
        lim = None
    if lim is None or lim != 0:
        raise NotSquareIntegrableError(
            f"E[sigma(Z)^{power}] is infinite for sigma = {act.expr}: it is singular at x = {r} "
            f"(|sigma|^{power} |x - {r}| does not vanish there)")


def _check_singularities(piece, act, power=2):
    expr = piece.expr
    num, den = sp.fraction(sp.together(expr))
    if den.has(x):
        try:
            roots = [r for r in sp.solve(den, x) if r.is_real]
        except NotImplementedError:
            roots = []
        for r in roots:
            inside = (piece.lo == -sp.oo or sp.N(r - piece.lo) > 0) and (piece.hi == sp.oo or sp.N(piece.hi - r) > 0)
            if inside:
                raise NotSquareIntegrableError(f"sigma = {act.expr} is singular at x = {r}")
            if r in (piece.lo, piece.hi):   # at a breakpoint: |sigma|^power must be integrable there
                _check_endpoint(expr, r, "+" if r == piece.lo else "-", power, act)
    for log_arg in [a.args[0] for a in expr.atoms(sp.log)]:
        if log_arg.is_positive is False:
            raise NotSquareIntegrableError(f"sigma = {act.expr} takes the log of a non-positive value")


def _check_real_valued(piece, act):
    """sigma must be real on its whole interval: sample a few points of the piece."""
    lo = -4 if piece.lo == -sp.oo else piece.lo
    hi = 4 if piece.hi == sp.oo else piece.hi
    if act.free_parameters:
        return
    for frac in (sp.Rational(1, 7), sp.Rational(1, 2), sp.Rational(6, 7)):
        point = lo + (hi - lo) * frac
        value = sp.N(piece.expr.subs(x, point), 15)
        if value.has(sp.I) and abs(sp.im(value)) > 1e-12 or value.has(sp.nan, sp.zoo):
            raise InvalidInputError(f"sigma = {act.expr} is not real at x = {sp.N(point, 6)} ({value})")


def _check_growth_numerically(piece, act, power):
    """Heuristic for expressions outside the exact class: |sigma|^power phi must decay at ±oo.

    log(|sigma|^power phi) is sampled at |x| = 8 * 2^(j/4), j = 0..8 (8 to 32; points that are
    not multiples of each other, so a periodic factor such as sin(pi x/8)^2 cannot hide the growth)
    with 80 digits (so that cancellations like 1 - tanh(x)^2 are resolved): it must fall from 8 to
    16 to 32 (by more than e^5 overall), and no sample may rise above the first by more than e^5.
    """
    fn = sp.lambdify(x, piece.expr, modules="mpmath")
    side = 1 if piece.hi == sp.oo else -1
    with mpmath.workdps(80):
        logs = []
        radii = [8 * mpmath.mpf(2) ** (mpmath.mpf(j) / 4) for j in range(9)]
        for r in radii:
            try:
                val = abs(mpmath.mpf(fn(side * r)))
            except (ZeroDivisionError, OverflowError, ValueError, TypeError):
                raise NotSquareIntegrableError(f"sigma = {act.expr} cannot be evaluated at "
                                               f"x = {mpmath.nstr(side * r, 6)}") from None
            logs.append(power * mpmath.log(val) - r**2 / 2 if val != 0 else -mpmath.inf)
        first, middle, last = logs[0], logs[4], logs[8]
        decays = last < middle < first and first - last > 5 and max(logs[1:]) < first + 5
        if not (decays or (last == -mpmath.inf and max(logs[1:]) < first + 5)):
            raise NotSquareIntegrableError(f"E[sigma(Z)^{power}] appears infinite for sigma = {act.expr}: "
                                           "sigma grows at least like exp(x**2/4)")


__all__ = ["expectation", "second_moment", "check_square_integrable", "as_activation",
           "quantity_of_pieces", "pieces_times", "pieces_map"]
