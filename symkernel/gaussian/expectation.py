"""Gaussian expectations of activations as Quantities: exact engine first, numeric on demand.

>>> import symkernel as sk
>>> sk.expectation(sk.x**4).expr
3
>>> q = sk.second_moment("tanh"); q.exact, round(float(q), 12)
(False, 0.394294490398)
"""
import flint
import mpmath
import sympy as sp

from symkernel.numerics import Result, binary_value, serialized, working
from symkernel.core.activations import as_activation
from symkernel.core.mp_eval import mp_lambdify
from symkernel.errors import InvalidInputError, NoClosedFormError, NotSquareIntegrableError
from . import exact, numeric
from symkernel.numerics import arb
from symkernel.numerics.cache import cached
from symkernel.core.pieces import Piece, non_real_point
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
    def parts():
        return ("Gaussian expectation",
                tuple((sp.srepr(p.lo), sp.srepr(p.hi), sp.srepr(p.expr)) for p in pieces))
    if plan is not None:
        return (lambda dps: cached(parts, plan.evaluate, dps)), CERTIFIED_PROVENANCE
    return (lambda dps: cached(parts, lambda d: numeric.estimate(pieces, d), dps)), NUMERIC_PROVENANCE


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
    # one Quantity per activation: its Arb plan is built once and each digit count computed once
    return act.memo(("second_moment",), lambda: _second_moment(act))


def _second_moment(act):
    """E sigma^2 exactly when the engine can; else numerically, for one piece of proven parity
    as ``2 int_0^oo sigma^2 phi`` (sigma^2 is even: half the Arb quadrature; docs/theory.md §23)."""
    symbol, params = r"\mathbb{E}[\sigma^2]", (("sigma", act.expr),)
    pieces = pieces_map(act, lambda e: e**2)
    val = try_exact(pieces)
    if val is not None:
        return Quantity(zero_if_proved(val), symbol, EXACT_PROVENANCE, params=params)
    if len(pieces) > 1 or act.free_parameters or not act.strict_parity:
        evaluate, provenance = numeric_evaluator(pieces)
        return Quantity(None, symbol, provenance, evaluate, params)
    half, provenance = numeric_evaluator((Piece(sp.Integer(0), sp.oo, pieces[0].expr),))

    def doubled(dps):
        res = half(dps)
        return Result(2 * res.value, 2 * res.error, res.certified, res.method + ", twice the half line")
    return Quantity(None, symbol, provenance, doubled, params)


def check_square_integrable(act, power=2):
    """Raise NotSquareIntegrableError unless ``E[|sigma|^power] < oo`` (singularities, growth)."""
    act.memo(("square_integrable", power), lambda: _check_square_integrable(act, power))


def _check_square_integrable(act, power):
    for piece in act.pieces:
        _check_singularities(piece, act, power)
        _check_real_valued(piece, act)
    ends = ([(act.pieces[0], -1)] if act.pieces[0].lo == -sp.oo else []) + \
           ([(act.pieces[-1], 1)] if act.pieces[-1].hi == sp.oo else [])
    for piece, side in ends:
        if piece.expr.is_polynomial(x) or polynomially_bounded(piece.expr):
            continue                      # polynomial growth: every Gaussian moment is finite
        _check_polynomial_exponents(piece.expr**power, side, act, power)
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
            _check_growth_numerically(piece, act, power, side)
    return True


#: functions bounded on the real line (their argument proven real): |f| <= 1, pi/2 or 2
_BOUNDED = (sp.tanh, sp.erf, sp.erfc, sp.sin, sp.cos, sp.atan, sp.sech)


def polynomially_bounded(expr):
    """True when ``|expr| <= C (1 + |x|)^d`` on the real line is proven by the form of ``expr``
    alone (then every Gaussian moment of ``expr`` is finite): x and real numbers; sums,
    products, ``Abs``; powers ``b^e`` of a bounded ``b`` with a positive number ``e``; a
    function of :data:`_BOUNDED` of a real argument; ``1/(c + sum a_i exp(P_i))^n`` and
    ``log(c + sum a_i exp(P_i))`` with ``c > 0``, ``a_i > 0``, ``P_i`` real and polynomially
    bounded (the base is at least ``c``; the log lies between ``log c`` and
    ``log(c + sum a_i) + max |P_i|``).  False means no proof (the numeric heuristic judges);
    docs/theory.md §23.

    >>> polynomially_bounded(sp.tanh(x) * x**3), polynomially_bounded(sp.log(1 + sp.exp(x)))
    (True, True)
    >>> polynomially_bounded(sp.exp(x**2 / 4)), polynomially_bounded(sp.cos(sp.I * x**2))
    (False, False)
    """
    if expr == x:
        return True
    if expr.is_number:
        return expr.is_real is True and expr.is_finite is True
    if expr.free_symbols - {x}:
        return False
    if expr.is_Add or expr.is_Mul:
        return all(polynomially_bounded(a) for a in expr.args)
    if isinstance(expr, sp.Abs):
        return polynomially_bounded(expr.args[0])
    if isinstance(expr, _BOUNDED):
        return expr.args[0].is_extended_real is True
    if expr.is_Pow and expr.exp.is_number:
        if expr.exp.is_positive and polynomially_bounded(expr.base):
            return True
        return expr.exp.is_negative is True and _exp_sum_floor(expr.base)
    if isinstance(expr, sp.log):
        return _exp_sum_floor(expr.args[0])
    return False


def _exp_sum_floor(expr):
    """True for ``c + sum a_i exp(P_i)`` with a number ``c > 0``, numbers ``a_i > 0`` and
    ``P_i`` real and polynomially bounded (so ``expr >= c > 0``)."""
    terms = sp.Add.make_args(expr)
    consts = [t for t in terms if t.is_number]
    if len(consts) != 1 or consts[0].is_positive is not True:
        return False
    for t in terms:
        if t.is_number:
            continue
        coeff, rest = t.as_coeff_Mul()
        if not (coeff.is_positive and isinstance(rest, sp.exp)
                and rest.args[0].is_extended_real is True and polynomially_bounded(rest.args[0])):
            return False
    return True


def _check_polynomial_exponents(expr, side, act, power):
    r"""Exact growth rule for ``sum_i q_i(x) exp(P_i(x))`` (``q_i``, ``P_i`` polynomials, real
    coefficients): group the terms by ``P_i`` without its constant (distinct groups differ by a
    non-constant polynomial, so none cancels another); a non-zero group with
    ``P(side t) - t^2/2 -> +oo`` as ``t -> oo`` (degree > 2 with ``lc side^deg > 0``, or
    degree 2 with ``lc >= 1/2``) makes ``E[|sigma|^power] = oo``.  Other expressions: no verdict."""
    if expr.free_symbols - {x} or not expr.has(sp.exp) or expr.is_polynomial(x):
        return
    groups = {}
    for term in sp.Add.make_args(sp.expand(expr, deep=False, power_base=False, log=False)):
        poly_part, exponent = sp.Integer(1), sp.Integer(0)
        for factor in sp.Mul.make_args(term):
            if isinstance(factor, sp.exp):
                exponent += factor.args[0]
            elif factor.is_polynomial(x):
                poly_part *= factor
            else:
                return
        try:
            P = sp.Poly(sp.expand(exponent), x)
        except sp.PolynomialError:
            return
        if not all(c.is_real for c in P.all_coeffs()):
            return
        key = P - P.coeff_monomial(1)
        groups[key] = groups.get(key, sp.Integer(0)) + poly_part * sp.exp(P.coeff_monomial(1))
    for P, q in groups.items():
        deg = P.degree()
        if deg < 2 or sp.expand(q) == 0:
            continue
        lc = P.LC()
        grows = (deg > 2 and (lc * side**deg).is_positive) or (deg == 2 and (lc - sp.Rational(1, 2)).is_nonnegative)
        if grows:
            end = "+oo" if side > 0 else "-oo"
            raise NotSquareIntegrableError(
                f"E[sigma(Z)^{power}] is infinite for sigma = {act.expr}: at x -> {end} "
                f"|sigma|^{power} grows like exp({P.as_expr()}), faster than the Gaussian weight "
                f"exp(-x**2/2) decays")


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


#: functions with real poles, written as quotients so that their poles are zeros of a denominator
_QUOTIENTS = {sp.tan: lambda a: sp.sin(a) / sp.cos(a), sp.cot: lambda a: sp.cos(a) / sp.sin(a),
              sp.sec: lambda a: 1 / sp.cos(a), sp.csc: lambda a: 1 / sp.sin(a),
              sp.coth: lambda a: sp.cosh(a) / sp.sinh(a), sp.csch: lambda a: 1 / sp.sinh(a)}


def _as_quotient(expr):
    for fn, quotient in _QUOTIENTS.items():
        if expr.has(fn):
            expr = expr.replace(fn, quotient)
    return expr


def _check_singularities(piece, act, power=2):
    expr = _as_quotient(piece.expr)
    num, den = sp.fraction(sp.together(expr))
    if den.has(x):
        try:
            roots = [r for r in sp.solve(den, x) if r.is_real]
        except NotImplementedError:
            roots = _sign_changes(den, piece) if not act.free_parameters else []
        for r in roots:
            inside = (piece.lo == -sp.oo or sp.N(r - piece.lo) > 0) and (piece.hi == sp.oo or sp.N(piece.hi - r) > 0)
            if inside and num.subs(x, r) == 0:   # a zero of the numerator too (x/sin(x) at 0)
                _check_endpoint(expr, r, "+", power, act)
                _check_endpoint(expr, r, "-", power, act)
            elif inside:
                raise NotSquareIntegrableError(
                    f"sigma = {act.expr} is singular at x = {_show(r)} (a zero of the denominator {den}): "
                    f"E[sigma(Z)^{power}] is not defined")
            if r in (piece.lo, piece.hi):   # at a breakpoint: |sigma|^power must be integrable there
                _check_endpoint(expr, r, "+" if r == piece.lo else "-", power, act)
    for log_arg in [a.args[0] for a in expr.atoms(sp.log)]:
        if log_arg.is_positive is False:
            raise NotSquareIntegrableError(f"sigma = {act.expr} takes the log of a non-positive value")


def _show(r):
    return str(r) if sp.count_ops(r) < 8 and not (r.is_Rational and r.q > 1000) else f"{float(r):.6g}"


def _sign_changes(den, piece, radius=16, points=3201):
    """Zeros of ``den`` on the piece within ``|x| <= radius``, located by a sign change on a grid
    (intermediate value theorem: ``den`` is continuous there), as rationals within 2^-40; a
    bounded fallback where SymPy cannot solve ``den = 0``."""
    try:
        fn = arb.compile_expr(den, x)
    except arb.NotCertifiable:
        return []
    lo = max(-radius, piece.lo) if piece.lo != -sp.oo else -radius
    hi = min(radius, piece.hi) if piece.hi != sp.oo else radius
    if not lo < hi:
        return []
    lo, hi = (v if v.is_Rational else binary_value(float(v)) for v in (sp.S(lo), sp.S(hi)))

    def sign(t):
        v = fn(flint.acb(flint.arb(int(t.p)) / int(t.q)), False).real
        return 1 if v > 0 else -1 if v < 0 else 0

    roots = []
    with working(30):
        grid = [lo + (hi - lo) * sp.Rational(j, points - 1) for j in range(points)]
        signs = [sign(t) for t in grid]
        for a, b, sa, sb in zip(grid, grid[1:], signs, signs[1:]):
            if sa * sb < 0:
                for _ in range(40):
                    mid = (a + b) / 2
                    sm = sign(mid)
                    if sm == 0:
                        break
                    a, b, sa = (mid, b, sm) if sm == sa else (a, mid, sa)
                roots.append((a + b) / 2)
            if len(roots) >= 3:
                break
    return roots


def _ball_at(expr, point, prec=None):
    """``expr`` at the rational ``point`` as an Arb ball (acb), at ``prec`` bits (default: the
    current Arb precision); ``None`` when the expression has no Arb translation.  Arb keeps huge
    and tiny magnitudes in O(1) time (an overflow is a non-finite ball), where SymPy's ``N``
    or mpmath would compute every digit of ``exp(exp(exp(exp(3))))``."""
    try:
        fn = arb.compile_expr(expr, x)
    except arb.NotCertifiable:
        return None
    point = sp.Rational(point)
    with working(30):
        if prec is not None:
            flint.ctx.prec = prec
        try:
            return fn(flint.acb(flint.arb(int(point.p)) / int(point.q)), False)
        except (ValueError, ZeroDivisionError, TypeError, arb.NotCertifiable):
            return None


def _finite(ball):
    return ball.real.is_finite() and ball.imag.is_finite()


def _check_real_valued(piece, act):
    """sigma must be real on its whole interval: sample a few points of the piece (Arb balls;
    SymPy's ``N`` only for expressions without an Arb translation).  A sample whose magnitude
    overflows ball arithmetic gives no verdict here (the growth checks judge it)."""
    lo = -4 if piece.lo == -sp.oo else piece.lo
    hi = 4 if piece.hi == sp.oo else piece.hi
    if act.free_parameters:
        return
    point = non_real_point(piece.expr, piece.lo, piece.hi)   # exact: sqrt(100 - x) at x = 101
    if point is not None:
        raise InvalidInputError(f"sigma = {act.expr} is not real at x = {point} (a fractional power "
                                "or a logarithm of a negative number there)")
    for frac in (sp.Rational(1, 7), sp.Rational(1, 2), sp.Rational(6, 7)):
        point = lo + (hi - lo) * frac
        if point.is_Rational:
            ball = _ball_at(piece.expr, point)
            if ball is not None:
                if _finite(ball):
                    im = abs(ball.imag)
                    if im > 1e-12 and not ball.imag.contains(0):
                        raise InvalidInputError(f"sigma = {act.expr} is not real at x = {sp.N(point, 6)} "
                                                f"(imaginary part {im.mid().str(5)})")
                continue
        value = sp.N(piece.expr.subs(x, point), 15)
        if value.has(sp.I) and abs(sp.im(value)) > 1e-12 or value.has(sp.nan, sp.zoo):
            raise InvalidInputError(f"sigma = {act.expr} is not real at x = {sp.N(point, 6)} ({value})")


_RADII = [8 * 2 ** (j / 4) for j in range(9)]


def _check_growth_numerically(piece, act, power, side):
    """Heuristic for expressions outside the exact class: |sigma|^power phi must decay at
    ``side * oo``.

    log(|sigma|^power phi) is sampled at |x| = 8 * 2^(j/4), j = 0..8 (8 to 32; points that are
    not multiples of each other, so a periodic factor such as sin(pi x/8)^2 cannot hide the growth)
    with 80 digits (so that cancellations like 1 - tanh(x)^2 are resolved): it must fall from 8 to
    16 to 32 (by more than e^5 overall), and no sample may rise above the first by more than e^5.
    Samples are Arb balls where the expression has an Arb translation: a magnitude beyond
    what ball arithmetic represents (``exp(exp(exp(exp(x))))`` at x = 8) is refused at once.
    """
    logs = None
    try:
        arb.compile_expr(piece.expr, x)
    except arb.NotCertifiable:
        pass
    else:
        logs = _arb_logs(piece.expr, side, power, act)
    if logs is None:
        logs = _mpmath_logs(piece.expr, side, power, act)
    first, middle, last = logs[0], logs[4], logs[8]
    decays = last < middle < first and first - last > 5 and max(logs[1:]) < first + 5
    if not (decays or (last == -mpmath.inf and max(logs[1:]) < first + 5)):
        raise NotSquareIntegrableError(f"E[sigma(Z)^{power}] appears infinite for sigma = {act.expr}: "
                                       "sigma grows at least like exp(x**2/4)")


def _arb_logs(expr, side, power, act):
    logs = []
    for r in _RADII:
        point = binary_value(side * r).limit_denominator(10**6)   # a sample point near side*r
        ball = _ball_at(expr, point, prec=270)
        if ball is None:
            return None
        if not _finite(ball):
            raise NotSquareIntegrableError(
                f"E[sigma(Z)^{power}] is infinite for sigma = {act.expr}: at x = {float(point):.4g} "
                f"|sigma| is beyond what ball arithmetic represents (about 2^(2^60)), it grows faster "
                f"than any Gaussian decays")
        mag = abs(ball).mid()
        with working(80):
            val = mpmath.mpf(mag.str(30, radius=False)) if mag != 0 else mpmath.mpf(0)
            pt = mpmath.mpf(point.p) / point.q
            logs.append(power * mpmath.log(val) - pt**2 / 2 if val != 0 else -mpmath.inf)
    return logs


def _mpmath_logs(expr, side, power, act):
    fn = mp_lambdify(x, expr)
    logs = []
    with working(80):
        for r in _RADII:
            r = mpmath.mpf(r)
            try:
                val = abs(mpmath.mpf(fn(side * r)))
            except (ZeroDivisionError, OverflowError, ValueError, TypeError):
                raise NotSquareIntegrableError(f"sigma = {act.expr} cannot be evaluated at "
                                               f"x = {mpmath.nstr(side * r, 6)}") from None
            logs.append(power * mpmath.log(val) - r**2 / 2 if val != 0 else -mpmath.inf)
    return logs


__all__ = ["expectation", "second_moment", "check_square_integrable", "as_activation",
           "quantity_of_pieces", "pieces_times", "pieces_map"]
