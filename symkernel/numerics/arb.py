r"""Proven enclosures of Gaussian expectations with Arb ball arithmetic (python-flint).

``E[f(Z)] = sum over pieces of int_lo^hi f(x) phi(x) dx``.  Each analytic piece is compiled from
SymPy into Arb functions (:func:`compile_expr`; functions with branch cuts check analyticity as
``acb.integral`` requires), integrated on ``[lo, hi]`` cut at ``+-R`` by ``acb.integral``
(rigorous: Petras' algorithm with error bounds from complex enclosures), and the Gaussian tails
beyond ``+-R`` are bounded by an explicit envelope ``|f(x)| <= C (1 + |x|)^m e^{a |x|}``
(:func:`envelope`, derived from the expression tree) and the concavity bound

.. math:: \int_R^\infty (1+u)^m e^{a u} \varphi(u)\, du
          \le \frac{(1+R)^m e^{a R - R^2/2}}{\sqrt{2\pi}\,(R - a - m/(1+R))}
          \qquad (R > a + m/(1+R)).

The result is a ball ``mid +- rad`` that contains the true value; it is *certified*.  An
expression outside the compiled class raises :class:`NotCertifiable` (callers then fall back
to an estimate, labelled as such).

>>> import sympy as sp, mpmath
>>> from symkernel.core.symbols import x
>>> r = gaussian_expectation([(-sp.oo, sp.oo, sp.tanh(x)**2)], 30)
>>> mpmath.nstr(r.value, 30), r.certified, r.error < 1e-30
('0.394294490397841174416459772444', True, True)
"""
import math
from functools import lru_cache

import mpmath
import sympy as sp

from symkernel.errors import PrecisionError
from .combine import from_ball, from_mpf
from .precision import check_dps, meets, working

try:
    from flint import acb, arb, ctx as _ctx
except ImportError:  # pragma: no cover - python-flint is a core dependency
    acb = arb = _ctx = None


class NotCertifiable(Exception):
    """The expression is outside the class with a proven enclosure (internal signal)."""


_X = sp.Symbol("x", real=True)


# ---------------------------------------------------------------------------------------------
# SymPy -> Arb
# ---------------------------------------------------------------------------------------------
def _nan():
    return acb("nan")


def _atan(z, analytic):
    # branch cuts on the imaginary axis beyond +-i: a ball off that axis or within |Im| < 1 is safe
    if analytic and not (abs(z.imag).upper() < 1 or 0 not in z.real):
        return _nan()
    return z.atan()


def _asin(z, analytic):
    # asin and acos: branch cuts on the real axis beyond +-1
    if analytic and not (abs(z.real).upper() < 1 or 0 not in z.imag):
        return _nan()
    return z.asin()


def _acos(z, analytic):
    if analytic and not (abs(z.real).upper() < 1 or 0 not in z.imag):
        return _nan()
    return z.acos()


def _log(z, analytic):
    return acb.log(z, analytic=analytic)


def _sqrt(z, analytic):
    return acb.sqrt(z, analytic=analytic)


_UNARY = {
    sp.exp: lambda z, a: z.exp(), sp.sin: lambda z, a: z.sin(), sp.cos: lambda z, a: z.cos(),
    sp.tan: lambda z, a: z.tan(), sp.sinh: lambda z, a: z.sinh(), sp.cosh: lambda z, a: z.cosh(),
    sp.tanh: lambda z, a: z.tanh(), sp.erf: lambda z, a: z.erf(), sp.erfc: lambda z, a: z.erfc(),
    sp.erfi: lambda z, a: z.erfi(), sp.atan: _atan, sp.log: _log, sp.asin: _asin, sp.acos: _acos,
}


def _constant(value):
    """An exact SymPy number as an Arb ball at the current precision (NotCertifiable if not)."""
    return _constant_at(value, _ctx.prec)


@lru_cache(maxsize=1024)
def _constant_at(value, prec):
    if value.is_Integer:
        return arb(int(value))
    if value.is_Rational:
        return arb(int(value.p)) / int(value.q)
    if value is sp.pi:
        return arb.pi()
    if value is sp.E:
        return arb(1).exp()
    if value is sp.EulerGamma:
        return arb.const_euler()
    if value.is_Float:
        return from_mpf(mpmath.mpf(value._mpf_))  # a binary Float is an exact dyadic number
    definition = getattr(value, "definition", None)
    if definition is not None:  # a named constant defined in closed form (SELU's)
        c = compile_expr(definition, check_x=False)(acb(0), False)
        return c.real
    raise NotCertifiable(f"no enclosure for the constant {value}")


def compile_expr(expr, var=None, check_x=True):
    """A function ``(z, analytic) -> acb`` for a SymPy expression in ``var`` (default ``x``).

    Constants are evaluated at call time (so at the working precision of the caller).
    """
    var = var if var is not None else _find_x(expr)
    return _compile(expr, var)


def _find_x(expr):
    xs = [s for s in expr.free_symbols if s.name == "x"]
    others = [s for s in expr.free_symbols if s.name != "x"]
    if others:
        raise NotCertifiable(f"free parameters {sorted(map(str, others))}")
    return xs[0] if xs else _X


def _compile(e, var):
    if e == var:
        return lambda z, a: z
    if e.is_number:
        if e.has(sp.I):
            raise NotCertifiable("complex constant")
        atoms = [e] if (e.is_Atom or getattr(e, "definition", None) is not None) else None
        if atoms:
            _constant(e)  # NotCertifiable now, not later inside an Arb integration callback
            return lambda z, a, e=e: acb(_constant(e))
        inner = _compile_tree(e, var)
        return inner
    return _compile_tree(e, var)


def _polynomial(e, var):
    """Horner evaluation of a polynomial in ``var`` with exact coefficients (or None): one
    multiply-add per degree instead of a tree of powers (Hermite integrands sigma he_k)."""
    try:
        poly = sp.Poly(e, var)
    except sp.PolynomialError:
        return None
    coeffs = poly.all_coeffs()
    if poly.degree() < 2 or not all(c.is_number and not c.has(sp.I) for c in coeffs):
        return None
    # each coefficient is an exact constant expression (sqrt(2)/2 of a Hermite polynomial):
    # compiled now, so that one Arb cannot enclose is refused before any integration starts
    constants = [_compile(c, var) for c in coeffs]
    zero = acb(0)
    cache = {}

    def horner(z, a):
        prec = _ctx.prec
        if prec not in cache:
            cache[prec] = [f(zero, False) for f in constants]
        cs = cache[prec]
        total = cs[0]
        for c in cs[1:]:
            total = total * z + c
        return total
    return horner


def _compile_tree(e, var):
    if e.is_Add:
        horner = _polynomial(e, var)
        if horner is not None:
            return horner
        parts = [_compile(t, var) for t in e.args]

        def add(z, a):
            total = parts[0](z, a)
            for p in parts[1:]:
                total = total + p(z, a)
            return total
        return add
    if e.is_Mul:
        parts = [_compile(t, var) for t in e.args]

        def mul(z, a):
            total = parts[0](z, a)
            for p in parts[1:]:
                total = total * p(z, a)
            return total
        return mul
    if e.is_Pow:
        base, ex = e.args
        b = _compile(base, var)
        if ex.is_Integer:
            n = int(ex)
            return lambda z, a: b(z, a) ** n
        if ex == sp.S.Half:
            return lambda z, a: _sqrt(b(z, a), a)
        if ex == -sp.S.Half:
            return lambda z, a: acb.rsqrt(b(z, a), analytic=a)
        if ex.is_number and not ex.has(sp.I):
            c = _compile(ex, var)
            return lambda z, a: acb.pow(b(z, a), c(z, a), analytic=a)
        if base.is_number:
            g = _compile(ex, var)
            return lambda z, a: (g(z, a) * _log(b(z, a), False)).exp()
        g = _compile(ex, var)
        return lambda z, a: (g(z, a) * _log(b(z, a), a)).exp()
    fn = _UNARY.get(type(e))
    if fn is not None and len(e.args) == 1:
        inner = _compile(e.args[0], var)
        return lambda z, a: fn(inner(z, a), a)
    if e.is_number:
        _constant(e)
        return lambda z, a, e=e: acb(_constant(e))
    raise NotCertifiable(f"no Arb translation of {type(e).__name__}")


def compile_real(expr, var):
    """A function ``arb -> arb`` enclosing a real SymPy expression in ``var`` on a real ball.

    The principal-branch value is enclosed in complex ball arithmetic (``asin``, ``sqrt`` of a
    ball that touches 0 included: Arb's non-analytic mode encloses every value over the ball) and
    its real part is returned: an enclosure of the value wherever the expression is real (a
    kernel's closed form on [-1, 1], Daniely, Frostig & Singer, NeurIPS 2016).  A ball whose
    imaginary part excludes 0 means the expression is not real there: NotCertifiable.
    Constants are evaluated at the caller's working precision.

    >>> import sympy as sp
    >>> r = sp.Symbol("r")
    >>> f = compile_real(sp.asin(r) / sp.pi + sp.Rational(1, 2), r)
    >>> f(arb(1) / 2)       # 1/2 + asin(1/2)/pi = 2/3
    [0.666666666666667 +/- ...]
    """
    f = compile_expr(expr, var, check_x=False)

    def real(ball):
        z = f(acb(ball), False)
        if 0 not in z.imag:
            raise NotCertifiable(f"{expr} is not real at {ball}")
        return z.real
    return real


# ---------------------------------------------------------------------------------------------
# tail envelopes |f(x)| <= C (1 + |x|)^m e^{a |x|} for |x| >= 1 on one side
# ---------------------------------------------------------------------------------------------
def _up(value):
    """An mpf upper bound of |value| for an exact real SymPy number (any magnitude)."""
    with mpmath.workdps(30):
        v = mpmath.mpmathify(sp.N(sp.Abs(value), 30))
        return v * (1 + mpmath.mpf(10) ** -12)


def envelope(expr, var, side):
    """``(C, m, a)`` with ``|expr(x)| <= C (1+|x|)^m e^{a|x|}`` for ``side * x >= 1``.

    Rules: sums and products of bounds, positive integer powers, ``|tanh|, |sin|, |cos|, |erf|,
    |atan| <= const``, ``exp(g)`` with ``g`` at most linear (or a polynomial bounded above),
    ``log(g)`` and ``1/g`` with ``g >= c > 0`` (a positive constant plus nonnegative terms).
    Raises NotCertifiable otherwise.
    """
    t = sp.Symbol("t", positive=True)
    return _env(sp.expand_power_base(expr.subs(var, side * t)), t)


_BOUNDED = {sp.tanh: 1.0, sp.sin: 1.0, sp.cos: 1.0, sp.erf: 1.0, sp.erfc: 2.0,
            sp.atan: math.pi / 2 * (1 + 1e-12)}


def _env(e, t):
    if not e.has(t):
        return (_up(e), 0, 0.0)
    if e == t:
        return (1.0, 1, 0.0)
    if e.is_Add:
        bounds = [_env(a, t) for a in e.args]
        return (sum(b[0] for b in bounds), max(b[1] for b in bounds), max(b[2] for b in bounds))
    if e.is_Mul:
        C, m, a = 1.0, 0, 0.0
        for f in e.args:
            c1, m1, a1 = _env(f, t)
            C, m, a = C * c1, m + m1, a + a1
        return (C, m, a)
    if e.is_Pow:
        base, ex = e.args
        if ex.is_Integer and ex > 0:
            c1, m1, a1 = _env(base, t)
            n = int(ex)
            return (c1 ** n, m1 * n, a1 * n)
        if ex.is_number and ex.is_positive and not ex.has(t):  # g^p, g >= 0 required for realness
            c1, m1, a1 = _env(base, t)
            p = float(ex)
            return (c1 ** p, math.ceil(m1 * p), a1 * p)
        if ex.is_number and ex.is_negative:
            low = _lower(base, t)
            return (low ** float(ex), 0, 0.0)
        if ex.has(t) and base.is_number and base.is_positive:  # c**g = exp(g log c)
            return _env(sp.exp(ex * sp.log(base)), t)
        raise NotCertifiable(f"no envelope for {e}")
    fn = type(e)
    if fn in _BOUNDED:
        return (_BOUNDED[fn], 0, 0.0)
    if fn in (sp.exp, sp.cosh, sp.sinh):
        g = e.args[0]
        if fn is sp.exp:
            upper = _upper_linear(g, t)
            if upper is not None:
                return (_exp(upper[0]), 0, upper[1])
        c1, m1, a1 = _env(g, t)
        if m1 <= 1 and a1 == 0:
            return (_exp(c1), 0, c1)
        raise NotCertifiable(f"{e} grows faster than exponentially")
    if fn is sp.log:
        g = e.args[0]
        low = _lower(g, t)
        c1, m1, a1 = _env(g, t)
        with mpmath.workdps(30):
            k = max(0, mpmath.log(c1)) + m1 + a1 if c1 > 0 else m1 + a1
            return (max(k, abs(mpmath.log(low))), 1, 0.0)
    if fn is sp.Abs:
        return _env(e.args[0], t)
    raise NotCertifiable(f"no envelope for {type(e).__name__}")


def _exp(v):
    """e^v as an mpf (no overflow: envelope constants may be huge or tiny)."""
    with mpmath.workdps(30):
        return mpmath.exp(v) * (1 + mpmath.mpf(10) ** -25)


def _upper_linear(g, t):
    """``(c0, c1)`` with ``g(t) <= c0 + c1 t`` for t >= 1 when g is a polynomial bounded so."""
    try:
        poly = sp.Poly(g, t)
    except sp.PolynomialError:
        return None
    if any(c.has(t) or not c.is_number for c in poly.coeffs()):
        return None
    terms = poly.terms()
    degree = poly.degree()
    lead = poly.LC()
    c0 = c1 = 0.0
    if degree >= 2:
        if not lead.is_negative:
            return None
        if degree == 2:  # a t^2 + b t + c <= c + b^2 / (4 |a|) (the vertex)
            with mpmath.workdps(30):
                a, b, c = (mpmath.mpmathify(sp.N(v, 30)) for v in poly.all_coeffs())
                top = c + b * b / (4 * abs(a))
                return (top + mpmath.mpf(10) ** -12 * (abs(c) + b * b / (4 * abs(a))), 0.0)
        # a polynomial with negative leading term is bounded above on t >= 1 by its maximum;
        # bound that maximum crudely: sum of |coefficients| times the root bound to the degree
        bound_t = 1 + max(_up(c / lead) for c in poly.all_coeffs()[1:])
        total = sum(_up(c) * bound_t ** j[0] for j, c in terms)
        return (total, 0.0)
    for (j,), c in terms:
        if j == 0:
            c0 += float(sp.N(c, 30))
        else:
            c1 += float(sp.N(c, 30))
    return (c0 + 1e-12 * abs(c0), max(c1, 0.0) * (1 + 1e-12))


def _lower(g, t):
    """A positive lower bound of g(t) for t >= 1: a positive constant plus nonnegative terms."""
    const, rest = g.as_independent(t, as_Add=True)
    if not (const.is_number and const.is_positive):
        raise NotCertifiable(f"no positive lower bound for {g}")
    terms = sp.Add.make_args(rest)
    for term in terms:
        if term != 0 and not term.is_nonnegative:
            raise NotCertifiable(f"cannot show {term} >= 0")
    with mpmath.workdps(30):
        return mpmath.mpmathify(sp.N(const, 30)) * (1 - mpmath.mpf(10) ** -12)


def tail_bound(C, m, a, R):
    """Upper bound of int_R^oo C (1+u)^m e^{a u} phi(u) du (R >= 1), or None if R is too small."""
    slope = R - a - m / (1 + R)
    if slope <= 0:
        return None
    with mpmath.workdps(30):
        val = (mpmath.mpf(C) * (1 + mpmath.mpf(R)) ** m * mpmath.exp(a * R - mpmath.mpf(R) ** 2 / 2)
               / (mpmath.sqrt(2 * mpmath.pi) * slope))
    return val * (1 + mpmath.mpf(10) ** -20)


# ---------------------------------------------------------------------------------------------
# the certified expectation
# ---------------------------------------------------------------------------------------------
class Plan:
    """A compiled, certifiable Gaussian expectation over pieces (built once, evaluated per dps)."""

    def __init__(self, pieces):
        if acb is None:
            raise NotCertifiable("python-flint is not installed")
        self.parts = []
        for lo, hi, expr in pieces:
            if not isinstance(expr, sp.Basic):   # pieces come from the package, never strings
                raise NotCertifiable(f"a piece must be a SymPy expression, not {type(expr).__name__}")
            if expr == 0:
                continue
            var = _find_x(expr)
            for end in (lo, hi):
                if end.free_symbols:
                    raise NotCertifiable("symbolic breakpoint")
            f = compile_expr(expr, var)
            envs = {}
            if lo == -sp.oo:
                envs[-1] = envelope(expr, var, -1)
            if hi == sp.oo:
                envs[1] = envelope(expr, var, 1)
            self.parts.append((lo, hi, f, envs))

    def evaluate(self, dps, absolute=None):
        """Result with a proven radius below 10^-(dps+2) relative (or below ``absolute``, when
        given, for callers that need absolute accuracy); PrecisionError otherwise."""
        return enclose(self._ball, dps, absolute=absolute, what="the expectation")

    def _ball(self, wp, bound):
        prec = _ctx.prec
        scale = mpmath.mpf(1) if bound is None else mpmath.mpf(bound)
        tol = scale * mpmath.mpf(2) ** (-prec + 5)
        abs_tol = arb(mpmath.nstr(tol, 20))
        rel_tol = arb(2) ** (-prec + 5)
        total = arb(0)
        inv = (2 * arb.pi()).rsqrt()
        for lo, hi, f, envs in self.parts:
            a = _end(lo)
            b = _end(hi)

            def g(z, analytic, f=f):
                return f(z, analytic) * (-(z * z) / 2).exp()
            radius_tail = mpmath.mpf(0)
            if envs:
                R = self._cutoff(envs, tol, a, b)
                if lo == -sp.oo:
                    radius_tail += tail_bound(*envs[-1], R)
                    a = -R
                if hi == sp.oo:
                    radius_tail += tail_bound(*envs[1], R)
                    b = R
            if b <= a:
                val = arb(0)
            else:
                val = acb.integral(g, _arb(a), _arb(b), abs_tol=abs_tol, rel_tol=rel_tol,
                                   eval_limit=10**7).real
            if not val.is_finite():
                raise PrecisionError("Arb integration did not converge on a piece")
            total += val * inv + radius_ball(radius_tail) if radius_tail else val * inv
        return total

    @staticmethod
    def _cutoff(envs, tol, a, b):
        finite = [abs(float(v)) for v in (a, b) if v is not None]
        R = max([8.0, *[v + 1 for v in finite]])
        while True:
            bounds = [tail_bound(*env, R) for env in envs.values()]
            if all(bd is not None and bd < tol / 4 for bd in bounds):
                return R
            R = R * 1.25 + 1
            if R > 1e4:
                raise PrecisionError("the Gaussian tail bound needs an unreasonable cutoff")


def _end(v):
    if v in (sp.oo, -sp.oo):
        return None
    return v


def _arb(v):
    if isinstance(v, (int, float)):
        return arb(v)
    if isinstance(v, sp.Basic):
        return _constant(v)
    return arb(v)


def radius_ball(r):
    """The ball ``0 +- r`` for an mpf bound ``r``, rounded up (a radius may never shrink)."""
    return arb(0, from_mpf(mpmath.mpf(r)) * (1 + arb(2) ** -30))


#: working digits added in turn by :func:`enclose`
ENCLOSE_STEPS = (10, 25, 25, 25, 25, 60, 150)


def enclose(ball_at, dps, absolute=None, what="the value"):
    """A certified Result from ``ball_at(wp, bound) -> arb`` (called inside ``working(wp)``).

    Accepted once the radius is below ``|mid| 10^-(dps+2)`` (or below ``absolute``).  ``bound`` is
    ``None`` at first, then an upper bound of ``|value|`` from the previous ball, so that the
    quadrature tolerance can follow a small value down instead of flushing it to zero.
    """
    check_dps(dps)
    bound = None
    for extra in ENCLOSE_STEPS:
        with working(dps + extra):
            ball = ball_at(dps + extra, bound)
        res = from_ball(ball, True, "Arb ball quadrature with explicit tail bounds")
        mid, rad = res.value, res.error
        if meets(res, dps) or (absolute is not None and rad <= absolute):
            return res
        bound = abs(mid) + rad if bound is None else min(bound, abs(mid) + rad)
    raise PrecisionError(f"Arb could not enclose {what} to {dps} digits "
                         f"(|value| <= {mpmath.nstr(abs(mid) + rad, 3)}; radius "
                         f"{mpmath.nstr(rad, 3)}): it may be zero or lose digits to cancellation")


def plan(pieces):
    """A :class:`Plan` for the pieces, or None when they are not certifiable."""
    try:
        return Plan(pieces)
    except NotCertifiable:
        return None


def gaussian_expectation(pieces, dps):
    """Certified ``E[f(Z)]`` over ``pieces`` as a Result (NotCertifiable outside the class)."""
    return Plan(pieces).evaluate(dps)


__all__ = ["NotCertifiable", "compile_expr", "compile_real", "envelope", "tail_bound", "radius_ball", "enclose",
           "Plan", "plan", "gaussian_expectation"]
