r"""Dual kernels, the kernel map and derivative kernels (MATH.md §2).

For ``(X, Y)`` standard bivariate normal with correlation ``rho``:

* dual kernel (Daniely et al. 2016) ``sigma_hat(rho) = E[sigma(X) sigma(Y)] = sum_k c_k^2 rho^k``;
* mean-reduced dual (seed 001, Def. 5) ``sigma_bar(rho) = sigma_hat(rho) - c_0^2``;
* kernel map (seed 000, Def. 1) ``kappa(rho) = sigma_hat(rho) / sigma_hat(1)``;
* derivative kernel ``E[sigma'(X) sigma'(Y)] = sigma_hat'(rho)`` (Price's theorem).

Closed forms are *derived*: with ``Y = rho X + s W``, ``s = sqrt(1 - rho^2)``, the inner
expectation over ``W`` of every smooth piece of ``sigma`` (limits ``(b - rho x)/s`` at the
breakpoints ``b``) is done by the exact Gaussian engine with symbolic ``rho, s``; the outer one over
``X`` again by the engine.  ``atan(rho/s)`` becomes ``asin(rho)``.  When the outer step leaves the
engine's class (ELU, hardtanh: Owen's T) the inner closed form still reduces ``sigma_hat(rho)`` to a
one-dimensional mpmath quadrature; with no inner closed form (tanh, sigmoid) a nested
two-dimensional mpmath quadrature is used.  Every numeric value is computed at two working
precisions and returned only when they agree to the requested digits.

>>> import symkernel as sk
>>> sk.dual_kernel("relu").expr
(2*rho*asin(rho) + pi*rho + 2*sqrt(1 - rho**2))/(4*pi)
>>> sk.kernel_map("exp").expr
exp(rho - 1)
>>> sk.dual_kernel("erf").expr
2*asin(2*rho/3)/pi
>>> import mpmath; mpmath.nstr(sk.kernel_map("relu")(0.5, dps=30), 25)
'0.6089977810442293580889966'
>>> sk.derivative_kernel("relu").expr
(2*asin(rho) + pi)/(4*pi)
"""
from functools import cached_property, lru_cache

import mpmath
import numpy as np
import sympy as sp

from .activations import Activation
from .errors import (InvalidInputError, NoClosedFormError, NotSquareIntegrableError,
                     PrecisionError, SymbolicValueError)
from .expectations import as_activation, check_square_integrable, second_moment
from .gaussian import exact
from .hermite import hermite_coefficient
from .pieces import split
from .quantity import Quantity, evaluate_exact
from .symbols import rho, x

_S = sp.Symbol("s_", positive=True)      # sqrt(1 - rho^2) during the derivation
_Y = sp.Symbol("y_", real=True)          # the outer variable while integrating the inner one
_GAIN = sp.Symbol("g_", positive=True)   # a generic gain: one derivation serves every number

CLOSED_PROVENANCE = "exact: iterated Gaussian integrals (inner over W, outer over X) by the exact engine"
INNER_PROVENANCE = ("numeric: 1D mpmath quadrature over X of the exact inner expectation "
                    "E_W[sigma(rho X + sqrt(1-rho^2) W)], two precisions")
NESTED_PROVENANCE = "numeric: nested 2D mpmath quadrature over (X, W), two precisions"


# ---------------------------------------------------------------------------------------------
# derivation of closed forms
# ---------------------------------------------------------------------------------------------
def _inner(pieces):
    """E_W[sigma(rho x + s W)] as an expression in x, rho, s (exact engine), or NoClosedFormError."""
    total = sp.Integer(0)
    for p in pieces:
        if p.expr == 0:
            continue
        e = p.expr.subs(x, rho * _Y + _S * x)
        lo = -sp.oo if p.lo == -sp.oo else (p.lo - rho * _Y) / _S
        hi = sp.oo if p.hi == sp.oo else (p.hi - rho * _Y) / _S
        for term in exact.decompose(e):
            total += exact.integrate_term(term, lo, hi)
    return exact.tidy(total).subs(_Y, x)


def _asin_argument(u):
    """``u/sqrt(1+u^2)`` with ``s^2 = 1 - rho^2`` (so ``atan(u) = asin(result)``), simplified."""
    target = u / sp.sqrt(1 + u**2)
    w = sp.simplify(sp.together((u**2 / (1 + u**2)).subs(_S, sp.sqrt(1 - rho**2))))
    ratio = sp.factor(sp.simplify(w / rho**2))
    root = sp.sqrt(ratio)
    candidate = sp.simplify(rho * sp.powdenest(sp.sqrt(sp.factor(ratio)), force=False))
    for c in (candidate, rho * root):
        ok = True
        for r in (sp.Rational(3, 10), sp.Rational(-4, 5), sp.Rational(9, 10)):
            point = {rho: r, _S: sp.sqrt(1 - r**2)}
            for g in c.free_symbols - {rho}:
                point[g] = sp.Rational(7, 5)
            if abs(sp.N(c.subs(point) - target.subs(point), 30)) > 1e-25:
                ok = False
                break
        if ok:
            return c
    return sp.simplify(target.subs(_S, sp.sqrt(1 - rho**2)))


def _atan_to_asin(expr):
    return expr.replace(lambda e: isinstance(e, sp.atan), lambda e: sp.asin(_asin_argument(e.args[0])))


def _clean(expr):
    """Readable closed form in rho: atan(rho/s) -> asin(rho), s -> sqrt(1-rho^2), simplify."""
    expr = _atan_to_asin(expr)
    expr = expr.subs(_S, sp.sqrt(1 - rho**2))
    expr = expr.replace(lambda e: isinstance(e, sp.asin) and e.args[0].has(rho),
                        lambda e: sp.asin(_asin_argument(sp.tan(sp.asin(e.args[0])))))
    if sp.count_ops(expr) > 400:
        return expr
    candidates = [expr, sp.simplify(expr)]
    if expr.has(sp.exp):
        candidates.append(sp.exptrigsimp(sp.expand(expr)))
    try:
        candidates.append(sp.simplify(sp.factor_terms(sp.together(candidates[1]))))
    except (TypeError, ValueError, NotImplementedError):
        pass
    return min(candidates, key=sp.count_ops)


def _derive(expr):
    """Closed form of E[f(X) f(Y)] for the activation expression ``expr`` in x, or None."""
    pieces = split(expr)
    try:
        g = _inner(pieces)
        outer = [(p.lo, p.hi, p.expr * g) for p in pieces if p.expr != 0]
        value = exact.expectation_of_pieces(outer)
    except (NoClosedFormError, NotSquareIntegrableError):
        return None
    return _clean(value)


@lru_cache(maxsize=256)
def _derive_with_gain(base):
    """Closed form for base(g x) with a generic positive gain g (shared by all numeric gains)."""
    return _derive(base.subs(x, _GAIN * x))


def _closed_form(act):
    """The exact sigma_hat(rho) of an activation, or None (cached on the activation)."""
    cache = act._cache.setdefault("kernels", {})
    if "closed" not in cache:
        value = None
        base, gain = getattr(act, "base", None), getattr(act, "gain", 1)
        if base is not None and gain != 1 and gain.is_number and not base.free_symbols - {x}:
            generic = _derive_with_gain(base)
            if generic is not None:
                value = _clean_number(generic.subs(_GAIN, gain))
        if value is None:
            value = _derive(act.expr)
        cache["closed"] = value
    return cache["closed"]


def _clean_number(expr):
    return expr if sp.count_ops(expr) > 200 else min([expr, sp.simplify(expr)], key=sp.count_ops)


def _inner_form(act):
    """The inner expectation (expression in x, rho, s_) or None."""
    cache = act._cache.setdefault("kernels", {})
    if "inner" not in cache:
        try:
            cache["inner"] = _inner(act.pieces)
        except (NoClosedFormError, NotSquareIntegrableError):
            cache["inner"] = None
    return cache["inner"]


def _nicer(expr):
    """A derivative in a numerically stable form (1 - tanh(x)**2 -> cosh(x)**-2)."""
    if sp.count_ops(expr) > 40:
        return expr
    candidates = [expr, sp.simplify(expr), sp.simplify(expr.rewrite(sp.exp))]
    candidates = [c for c in candidates if not c.has(sp.I)]
    return min(candidates, key=lambda e: (sp.count_ops(e), len(str(e))))


def weak_derivative(act):
    """``(sigma', None)`` as an Activation, or ``(None, reason)`` when sigma jumps (sigma' has a delta).

    >>> d, why = weak_derivative(as_activation("relu")); d.expr
    Piecewise((0, x < 0), (1, True))
    >>> print(weak_derivative(as_activation("step"))[1])
    sigma = Heaviside(x) jumps by 1 at x = 0, so sigma' contains a Dirac delta
    """
    pieces = act.pieces
    for left, right in zip(pieces[:-1], pieces[1:]):
        jump = sp.simplify(right.expr.subs(x, right.lo) - left.expr.subs(x, right.lo))
        if jump != 0:
            return None, f"sigma = {act.expr} jumps by {jump} at x = {right.lo}, so sigma' contains a Dirac delta"
    ders = [_nicer(sp.diff(p.expr, x)) for p in pieces]
    if len(pieces) == 1:
        expr = ders[0]
    else:
        expr = sp.Piecewise(*[(d, x < p.hi) for d, p in zip(ders[:-1], pieces[:-1])], (ders[-1], True))
    return Activation(f"{act.name}'", expr), None


# ---------------------------------------------------------------------------------------------
# correlation arguments
# ---------------------------------------------------------------------------------------------
def _rho_value(value):
    """A function wp -> mpf for a correlation in [-1, 1]; InvalidInputError otherwise (also NaN)."""
    if isinstance(value, bool):
        raise InvalidInputError(f"rho must be a number in [-1, 1], got {value!r}")
    if isinstance(value, sp.Basic):
        if not value.is_number:
            raise SymbolicValueError(f"rho = {value} is symbolic; use kernel.expr.subs(sk.rho, ...)")
        if value.has(sp.nan) or value.is_real is False:
            raise InvalidInputError(f"rho must be a real number in [-1, 1], got {value}")
        if sp.Abs(value) > 1:
            raise InvalidInputError(f"rho = {value} is outside [-1, 1]")

        def at(wp):
            return mpmath.mpf(sp.N(value, wp + 5)._mpf_) if value != 0 else mpmath.mpf(0)
        return at, value
    if isinstance(value, str):
        try:
            with mpmath.workdps(50):
                test = mpmath.mpf(value)
        except (ValueError, TypeError):
            raise InvalidInputError(f"rho must be a number in [-1, 1], got {value!r}") from None
        fixed = None

        def at(wp):
            with mpmath.workdps(wp):
                return mpmath.mpf(value)
    elif isinstance(value, (int, float, np.floating, np.integer, mpmath.mpf)):
        if isinstance(value, mpmath.mpf):
            test = value                      # keep every bit (no rounding to the context precision)
        elif isinstance(value, (np.floating, np.integer)):
            test = mpmath.mpf(float(value))
        else:
            test = mpmath.mpf(value)
        fixed = test

        def at(wp):
            return fixed
    else:
        raise InvalidInputError(f"rho must be a number in [-1, 1], got {type(value).__name__}")
    if mpmath.isnan(test):
        raise InvalidInputError("rho is NaN; it must be a number in [-1, 1]")
    if abs(test) > 1:
        raise InvalidInputError(f"rho = {value} is outside [-1, 1]")
    exact_value = None
    if test in (-1, 0, 1):
        exact_value = sp.Integer(int(test))
    return at, exact_value


def _check_dps(dps):
    if isinstance(dps, bool) or not isinstance(dps, int) or dps < 1 or dps > 2000:
        raise InvalidInputError(f"dps must be an integer in [1, 2000], got {dps!r}")


def _agree(a, b, dps):
    scale = max(abs(a), abs(b))
    return abs(a - b) <= scale * mpmath.mpf(10) ** (-(dps + 2))


def _tiny(a, b, wp):
    return abs(a) < mpmath.mpf(10) ** (-wp) and abs(b) < mpmath.mpf(10) ** (-wp)


# ---------------------------------------------------------------------------------------------
# the dual kernel of one activation: exact / numeric / float64 evaluation
# ---------------------------------------------------------------------------------------------
class _Dual:
    """sigma_hat of one activation (no scale, no derivative): every evaluation path in one place."""

    def __init__(self, act):
        self.act = act

    @classmethod
    def of(cls, act):
        cache = act._cache.setdefault("kernels", {})
        if "dual" not in cache:
            cache["dual"] = cls(act)
        return cache["dual"]

    @property
    def closed(self):
        return _closed_form(self.act)

    @cached_property
    def derivative_activation(self):
        return weak_derivative(self.act)

    # -- mpmath values ------------------------------------------------------------------------
    def value(self, at, exact_rho, dps):
        if self.act.free_parameters:
            raise SymbolicValueError(f"give the parameters {sorted(map(str, self.act.free_parameters))} "
                                     "numeric values before evaluating")
        if exact_rho is not None:
            return self._special(int(exact_rho), dps)
        if self.closed is not None:
            return _eval_expr(self.closed, at, dps)
        if _inner_form(self.act) is not None:
            return _two_precisions(lambda wp, deg: self._quad_inner(at(wp), wp, deg), dps)
        if len(self.act.pieces) == 1:
            try:
                return self._series_value(at, dps)
            except PrecisionError:
                pass
        return _two_precisions(lambda wp, deg: self._quad_nested(at(wp), wp, deg), dps)

    # -- Hermite series with a Parseval tail bound (analytic activations) -----------------------
    def _series_value(self, at, dps):
        """sum_k c_k^2 rho^k with the rigorous tail  <= (E sigma^2 - sum_{k<=K} c_k^2) |rho|^(K+1)."""
        wp = dps + 15
        r = at(wp)
        K = 100
        while True:
            squares, resid = self.mp_squares(K, wp)
            with mpmath.workdps(wp):
                partial = mpmath.mpf(0)
                power = mpmath.mpf(1)
                best = None
                for k, c2 in enumerate(squares):
                    partial += c2 * power
                    power *= r
                    tail = max(resid[k], mpmath.mpf(0)) * abs(power)
                    if k > 2 and partial != 0 and tail < abs(partial) * mpmath.mpf(10) ** (-(dps + 3)):
                        best = partial
                        break
                if best is not None:
                    with mpmath.workdps(dps):
                        return +best
            if K >= SERIES_K_MAX:
                raise PrecisionError("the Hermite series converges too slowly at this rho")
            K = min(4 * K, SERIES_K_MAX)

    def mp_squares(self, K, wp):
        """([c_k^2 for k <= K], [E sigma^2 - sum_{j<=k} c_j^2 for k <= K]) at wp digits (cached)."""
        cache = self.__dict__.setdefault("_mp_cache", {})
        for (k2, w2), val in cache.items():
            if k2 >= K and w2 >= wp:
                return val[0][:K + 1], val[1][:K + 1]
        coeffs = _trapezoid_coefficients(self.act, K, wp)
        m2 = second_moment(self.act).value(wp + 5)
        with mpmath.workdps(wp + 10):
            squares = [c * c for c in coeffs]
            resid, total = [], mpmath.mpf(0)
            for c2 in squares:
                total += c2
                resid.append(m2 - total)
        cache[(K, wp)] = (squares, resid)
        return squares, resid

    def _special(self, r, dps):
        if r == 1:
            return second_moment(self.act).value(dps)
        if r == 0:
            c0 = hermite_coefficient(self.act, 0)
            if c0.exact:
                return evaluate_exact(c0.expr**2, dps)
            with mpmath.workdps(dps + 10):
                v = c0.value(dps + 10) ** 2
            with mpmath.workdps(dps):
                return +v
        q = _expectation_quantity(self.act.expr * self.act.expr.subs(x, -x))
        return q.value(dps)

    def _parts(self, wp_module="mpmath"):
        parts = []
        for p in self.act.pieces:
            if p.expr == 0:
                continue
            parts.append((p.lo, p.hi, sp.lambdify(x, p.expr, modules=wp_module)))
        return parts

    @cached_property
    def _mp_parts(self):
        return self._parts()

    @cached_property
    def _mp_inner(self):
        return sp.lambdify((x, rho, _S), _inner_form(self.act), modules="mpmath")

    def _breaks(self):
        return [float(sp.N(p.lo)) for p in self.act.pieces[1:]]

    def _quad_inner(self, r, wp, degree):
        g = self._mp_inner
        with mpmath.workdps(wp):
            s = mpmath.sqrt(1 - r * r)
            extra = [mpmath.mpf(b) / r for b in self._breaks() if r != 0]
            total = mpmath.mpf(0)
            for lo, hi, f in self._mp_parts:
                pts = _points(lo, hi, extra, wp)
                total += mpmath.quad(lambda t: f(t) * g(t, r, s) * mpmath.exp(-t * t / 2), pts,
                                     maxdegree=degree)
            return total / mpmath.sqrt(2 * mpmath.pi)

    def _quad_nested(self, r, wp, degree):
        fx = sp.lambdify(x, self.act.expr, modules="mpmath") if len(self.act.pieces) == 1 else None
        parts = self._mp_parts
        breaks = self._breaks()
        with mpmath.workdps(wp):
            s = mpmath.sqrt(1 - r * r)

            def f(v):
                if fx is not None:
                    return fx(v)
                for lo, hi, fn in parts:
                    if (lo == -sp.oo or v >= lo) and (hi == sp.oo or v < hi):
                        return fn(v)
                return mpmath.mpf(0)

            def inner(t):
                pts = [mpmath.mpf(-mpmath.inf), *sorted((mpmath.mpf(b) - r * t) / s for b in breaks),
                       mpmath.mpf(mpmath.inf)]
                pts = _refine(pts)
                return mpmath.quad(lambda w: f(r * t + s * w) * mpmath.exp(-w * w / 2), pts,
                                   maxdegree=degree - 2)

            extra = [mpmath.mpf(b) / r for b in breaks if r != 0]
            total = mpmath.mpf(0)
            for lo, hi, fn in parts:
                pts = _points(lo, hi, extra, wp)
                total += mpmath.quad(lambda t: fn(t) * inner(t) * mpmath.exp(-t * t / 2), pts,
                                     maxdegree=degree - 2)
            return total / (2 * mpmath.pi)

    # -- float64 ------------------------------------------------------------------------------
    @cached_property
    def float_coefficients(self):
        """(c_k^2 for k <= K_max in float64, E sigma^2 as float) by composite Gauss-Legendre."""
        return _float_hermite_squares(self.act)

    @cached_property
    def _np_inner(self):
        return sp.lambdify((x, rho, _S), _inner_form(self.act), modules=_numpy_modules())

    def numpy_quadrature(self, r):
        """sigma_hat on an array by Gauss-Legendre over X of the exact inner expectation."""
        nodes, weights = _gl_pieces(self.act, 400, half_width=11.0, panel=1.0)
        out = np.empty_like(r)
        g = self._np_inner
        fx = self.act.numpy()(nodes) * weights * np.exp(-nodes**2 / 2) / np.sqrt(2 * np.pi)
        for start in range(0, r.size, 2048):
            rr = r[start:start + 2048, None]
            ss = np.sqrt(np.clip(1 - rr * rr, 0, None))
            with np.errstate(all="ignore"):
                vals = np.broadcast_to(g(nodes[None, :], rr, ss), (rr.shape[0], nodes.size))
            out[start:start + 2048] = np.nan_to_num(vals) @ fx
        for end in (-1, 1):
            if (r == end).any():
                out[r == end] = float(self.value(lambda wp: mpmath.mpf(end), sp.Integer(end), 17))
        return out


SERIES_K_MAX = 1600


def _trapezoid_coefficients(act, K, wp):
    """c_0..c_K to ~wp digits for a smooth (analytic) activation, by the trapezoidal rule.

    The trapezoidal rule is exponentially accurate for analytic integrands decaying like a
    Gaussian; the normalized Hermite functions ``he_k sqrt(phi)`` are run by their three-term
    recurrence in fixed-point integer arithmetic.  Two step sizes must agree (else PrecisionError).
    """
    fn = sp.lambdify(x, act.expr, modules="mpmath")
    runs = []
    for h_scale in (1, 0.8):
        bits = int((wp + 10) * 3.33) + 20
        one = 1 << bits
        h = mpmath.mpf(2 * mpmath.pi) / (mpmath.sqrt(K) * 2 + 2.3 * (wp + 10)) * h_scale
        with mpmath.workdps(wp + 15):
            L = 2 * mpmath.sqrt(2.31 * (wp + 12)) + 2
            n = int(L / h) + 1
            xs = [h * i for i in range(-n, n + 1)]
            norm = (2 * mpmath.pi) ** mpmath.mpf(-0.25)
            root_phi = [norm * mpmath.exp(-t * t / 4) for t in xs]
            weights = []
            for t, rp in zip(xs, root_phi):
                v = fn(t)
                if isinstance(v, mpmath.mpc):
                    v = v.real
                weights.append(int(mpmath.nint(v * rp * h * one)))
            xfix = np.array([int(mpmath.nint(t * one)) for t in xs], dtype=object)
            cur = np.array([int(mpmath.nint(rp * one)) for rp in root_phi], dtype=object)
            inv_sqrt = [int(mpmath.nint(one / mpmath.sqrt(j + 1))) for j in range(K + 1)]
            sqrt_j = [int(mpmath.nint(mpmath.sqrt(j) * one)) for j in range(K + 1)]
        wts = np.array(weights, dtype=object)
        prev = np.zeros_like(cur)
        coeffs = [int(np.dot(wts, cur)) >> bits]
        for j in range(K):
            nxt = ((xfix * cur) >> bits) - ((sqrt_j[j] * prev) >> bits)
            nxt = (nxt * inv_sqrt[j]) >> bits
            prev, cur = cur, nxt
            coeffs.append(int(np.dot(wts, cur)) >> bits)
        with mpmath.workdps(wp + 10):
            runs.append([mpmath.mpf(c) / one for c in coeffs])
    with mpmath.workdps(wp + 10):
        size = mpmath.sqrt(sum(c * c for c in runs[0])) + mpmath.mpf(10) ** (-wp)
        worst = max(abs(a - b) for a, b in zip(*runs))
        if worst > size * mpmath.mpf(10) ** (-(wp - 2)):
            raise PrecisionError(f"trapezoidal Hermite coefficients agree only to {mpmath.nstr(worst, 3)}")
    return runs[1]


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


def _expectation_quantity(expr):
    from .expectations import quantity_of_pieces
    return quantity_of_pieces(split(expr), r"\mathbb{E}")


def _gl_pieces(act, per_piece, half_width=45.0, panel=0.5):
    """Composite Gauss-Legendre nodes/weights on the pieces of act, truncated to [-L, L]."""
    key = ("gl", per_piece, half_width)
    cache = act._cache.setdefault("kernels", {})
    if key in cache:
        return cache[key]
    edges = [-half_width] + [float(sp.N(p.lo)) for p in act.pieces[1:]] + [half_width]
    t, w = np.polynomial.legendre.leggauss(20)
    nodes, weights = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        panels = max(1, int(np.ceil((b - a) / panel)))
        cuts = np.linspace(a, b, panels + 1)
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            nodes.append((hi - lo) / 2 * t + (hi + lo) / 2)
            weights.append((hi - lo) / 2 * w)
    out = (np.concatenate(nodes), np.concatenate(weights))
    cache[key] = out
    return out


K_MAX = 700


def _float_hermite_squares(act):
    """c_k^2 (k <= K_MAX) in float64 via normalized Hermite functions on Gauss-Legendre nodes."""
    nodes, weights = _gl_pieces(act, 20)
    root_phi = np.exp(-nodes**2 / 4) / (2 * np.pi) ** 0.25
    with np.errstate(over="ignore", invalid="ignore"):
        f = act.numpy()(nodes)
    f = np.nan_to_num(f * root_phi * weights, posinf=0.0, neginf=0.0)
    coeffs = np.empty(K_MAX + 1)
    prev, cur = np.zeros_like(nodes), root_phi.copy()
    coeffs[0] = f @ cur
    for j in range(K_MAX):
        nxt = (nodes * cur - np.sqrt(j) * prev) / np.sqrt(j + 1)
        prev, cur = cur, nxt
        coeffs[j + 1] = f @ cur
    m2 = float(second_moment(act).value(20))
    return coeffs**2, m2


# ---------------------------------------------------------------------------------------------
# the public kernel object
# ---------------------------------------------------------------------------------------------
def _q(value, symbol="q", provenance="exact"):
    return value if isinstance(value, Quantity) else Quantity(sp.sympify(value), symbol, provenance)


def _qmul(a, b):
    if a.exact and b.exact:
        return Quantity(sp.simplify(a.expr * b.expr), a.symbol, a.provenance)
    for u, v in ((a, b), (b, a)):
        if u.exact and u.expr == 0:
            return Quantity(sp.Integer(0), v.symbol, u.provenance)

    def product(dps):
        x_, y_ = a.value(dps + 5), b.value(dps + 5)
        with mpmath.workdps(dps):
            return x_ * y_
    return Quantity(None, a.symbol, "numeric: product", product)


def _qadd(a, b):
    for u, v in ((a, b), (b, a)):
        if u.exact and u.expr == 0:
            return v
    if a.exact and b.exact:
        return Quantity(sp.simplify(a.expr + b.expr), a.symbol, a.provenance)
    return Quantity(None, a.symbol, "numeric: sum", lambda dps: _num_op(lambda u, v: u + v, a, b, dps))


def _num_op(op, a, b, dps):
    for extra in (10, 30, 60):
        wp = dps + extra
        u, v = a.value(wp), b.value(wp)
        with mpmath.workdps(wp):
            r = op(u, v)
            size = max(abs(u), abs(v), abs(u * v))
            if r == 0 and size == 0:
                return mpmath.mpf(0)
            if r != 0 and mpmath.log10(max(size, abs(r)) / abs(r)) < extra - 5:
                with mpmath.workdps(dps):
                    return +r
    raise PrecisionError("cancellation: could not establish the requested digits")


class Kernel:
    r"""``scale * d^order/drho^order sigma_hat(rho) + sum_i poly[i] rho^i`` for one activation.

    ``kernel(rho, dps=15)`` -> mpmath.mpf; ``kernel.numpy(array)`` -> float64 array;
    ``kernel.expr`` -> SymPy in ``sk.rho`` or None; ``.derivative()``, ``.series(K)``,
    ``.coefficient(k)`` (Quantity), ``.latex()``; ``.affine(a, b0, b1)`` -> ``a K + b0 + b1 rho``.
    """

    def __init__(self, act, order=0, scale=1, poly=(), symbol=r"\hat{\sigma}", name="dual kernel"):
        self.act = act
        self.order = int(order)
        self.scale = _q(scale)
        self.poly = tuple(_q(c) for c in poly)
        self.symbol = symbol
        self.name = name
        self._dual = _Dual.of(act)

    # -- structure ----------------------------------------------------------------------------
    def _replace(self, **kw):
        args = dict(order=self.order, scale=self.scale, poly=self.poly, symbol=self.symbol,
                    name=self.name)
        args.update(kw)
        return Kernel(self.act, **args)

    def derivative(self):
        """The derivative in rho, the same kind of object (``d/drho E[f(X)f(Y)] = E[f'(X)f'(Y)]``)."""
        if self._base_expr(self.order + 1) is None and self._numeric_activation(self.order + 1)[0] is None:
            raise InvalidInputError(f"the derivative of the {self.name} of {self.act.expr} has no closed "
                                    f"form and {self._numeric_activation(self.order + 1)[1]}")
        new_poly = []
        for i, c in enumerate(self.poly[1:], start=1):
            new_poly.append(Quantity(i * c.expr, c.symbol, c.provenance) if c.exact else
                            _qmul(_q(i), c))
        sym = self.symbol + "'"
        return self._replace(order=self.order + 1, poly=tuple(new_poly), symbol=sym,
                             name=f"derivative of the {self.name}")

    def affine(self, a=1, b0=0, b1=0, symbol=None, name=None):
        """The kernel ``a K(rho) + b0 + b1 rho`` (a, b0, b1 numbers, SymPy or Quantities)."""
        a, b0, b1 = _q(a), _q(b0), _q(b1)
        poly = [_qmul(a, c) for c in self.poly]
        while len(poly) < 2:
            poly.append(_q(0))
        poly[0] = _qadd(poly[0], b0)
        poly[1] = _qadd(poly[1], b1)
        while poly and poly[-1].exact and poly[-1].expr == 0:
            poly.pop()
        return self._replace(scale=_qmul(a, self.scale), poly=tuple(poly),
                             symbol=symbol or self.symbol, name=name or self.name)

    @property
    def activation(self):
        return self.act

    # -- exact --------------------------------------------------------------------------------
    def _base_expr(self, order):
        closed = self._dual.closed
        if closed is None:
            return None
        return sp.diff(closed, rho, order) if order else closed

    @cached_property
    def expr(self):
        """Exact SymPy expression in ``sk.rho``, or None when there is no closed form."""
        base = self._base_expr(self.order)
        if base is None or not self.scale.exact or not all(c.exact for c in self.poly):
            return None
        value = self.scale.expr * base + sum(c.expr * rho**i for i, c in enumerate(self.poly))
        if sp.count_ops(value) < 300 and (self.order or self.scale.expr != 1 or self.poly):
            value = _clean(value)
        return value

    @property
    def exact(self):
        return self.expr is not None

    @property
    def provenance(self):
        if self.expr is not None:
            return CLOSED_PROVENANCE
        return INNER_PROVENANCE if _inner_form(self.act) is not None else NESTED_PROVENANCE

    def coefficient(self, k):
        """The Taylor coefficient of rho^k: ``scale (k+m)!/k! c_{k+m}^2 + poly_k`` (a Quantity)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise InvalidInputError(f"k must be a nonnegative integer, got {k!r}")
        m = self.order
        c = hermite_coefficient(self.act, k + m)
        factor = sp.factorial(k + m) / sp.factorial(k)
        if c.exact:
            term = Quantity(sp.simplify(factor * c.expr**2), f"a_{{{k}}}", c.provenance)
        else:
            term = Quantity(None, f"a_{{{k}}}", c.provenance,
                            lambda dps: _square_times(c, factor, dps))
        term = _qmul(self.scale, term)
        if k < len(self.poly):
            term = _qadd(term, self.poly[k])
        return term

    def series(self, K):
        """``sum_{k<K} a_k rho^k`` (SymPy; Float coefficients to 20 digits where not exact)."""
        if isinstance(K, bool) or not isinstance(K, int) or K < 0:
            raise InvalidInputError(f"K must be a nonnegative integer, got {K!r}")
        total = sp.Integer(0)
        for k in range(K):
            a = self.coefficient(k)
            coef = a.expr if a.exact else sp.Float(a.value(20), 20)
            total += coef * rho**k
        return total

    # -- numeric ------------------------------------------------------------------------------
    def _numeric_activation(self, order):
        act, why = self.act, None
        for _ in range(order):
            act, why = _Dual.of(act).derivative_activation
            if act is None:
                return None, why
        return act, None

    def __call__(self, r, dps=15):
        """The kernel at ``r`` in [-1, 1] as an mpmath.mpf correct to ``dps`` digits."""
        _check_dps(dps)
        at, exact_rho = _rho_value(r)
        if self.expr is not None:
            if exact_rho is not None:
                value = self.expr.subs(rho, exact_rho)
                if not value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
                    return evaluate_exact(value, dps)
            return _eval_expr(self.expr, at, dps)
        return self._numeric(at, exact_rho, dps)

    def _numeric(self, at, exact_rho, dps):
        base = self._base_expr(self.order)
        if base is None:
            act, why = self._numeric_activation(self.order)
            if act is None:
                raise InvalidInputError(f"the {self.name} cannot be evaluated numerically: {why}")
            dual = _Dual.of(act)
        for extra in (10, 30, 60):
            wp = dps + extra
            if base is not None:
                b = _eval_expr(base, at, wp)
            else:
                b = dual.value(at, exact_rho, wp)
            s = self.scale.value(wp)
            with mpmath.workdps(wp):
                r = at(wp)
                terms = [s * b] + [c.value(wp) * r**i for i, c in enumerate(self.poly)]
                total = mpmath.fsum(terms)
                size = max(abs(t) for t in terms)
            if size == 0 or total == 0 and size < mpmath.mpf(10) ** (-(dps + extra - 5)):
                return mpmath.mpf(0)
            if total != 0 and mpmath.log10(size / abs(total)) < extra - 5:
                with mpmath.workdps(dps):
                    return +total
        raise PrecisionError(f"cancellation in the {self.name} at this rho: could not reach {dps} digits")

    def numpy(self, r):
        """Vectorized float64 evaluation on an array of correlations in [-1, 1]."""
        arr = np.asarray(r, dtype=float)
        if np.isnan(arr).any():
            raise InvalidInputError("rho contains NaN")
        if (np.abs(arr) > 1).any():
            raise InvalidInputError("rho must lie in [-1, 1]")
        if self.act.free_parameters:
            raise SymbolicValueError("give the activation's parameters numeric values first")
        return self._numpy_fn(arr.ravel()).reshape(arr.shape)

    @cached_property
    def _numpy_fn(self):
        if self.expr is not None:
            return _closed_numpy(self)
        coeffs = _series_coefficients(self)
        if coeffs is not None:
            return _horner(coeffs)
        act, why = self._numeric_activation(self.order)
        if act is None:
            raise InvalidInputError(f"no float64 evaluator for the {self.name}: {why}")
        dual = _Dual.of(act)
        s = float(self.scale.value(20))
        poly = [float(c.value(20)) for c in self.poly]
        if _inner_form(act) is not None:
            def fn(arr):
                out = s * dual.numpy_quadrature(arr)
                for i, c in enumerate(poly):
                    out = out + c * arr**i
                return out
            return fn
        raise NoClosedFormError(f"no fast float64 path for the {self.name} of {self.act.expr}: "
                                "its Hermite series converges slowly and it has no inner closed form")

    # -- display ------------------------------------------------------------------------------
    def latex(self):
        """LaTeX of the closed form, or of the first terms of the Hermite series."""
        if self.expr is not None:
            return sp.latex(self.expr)
        return sp.latex(self.series(6).evalf(8)) + r" + \dots"

    def _latex(self, printer=None):
        return self.latex()

    def _repr_latex_(self):
        return f"${self.symbol}(\\rho) = {self.latex()}$"

    def __repr__(self):
        shown = self.expr if self.expr is not None else f"<{self.provenance}>"
        return f"Kernel({self.name} of {self.act.name}: {shown})"


def _square_times(c, factor, dps):
    v = c.value(dps + 10)
    with mpmath.workdps(dps + 10):
        r = v * v * mpmath.mpf(int(factor))
    with mpmath.workdps(dps):
        return +r


def _closed_numpy(kernel):
    expr = kernel.expr
    fn = sp.lambdify(rho, expr, modules=_numpy_modules())
    ends = {}
    for e in (-1, 1):
        try:
            ends[e] = float(kernel(e, dps=17))
        except (InvalidInputError, PrecisionError):
            ends[e] = np.inf

    def f(arr):
        with np.errstate(all="ignore"):
            out = np.asarray(fn(arr), dtype=float)
        out = np.broadcast_to(out, arr.shape).copy()
        out[arr == 1] = ends[1]
        out[arr == -1] = ends[-1]
        return out
    return f


def _series_coefficients(kernel):
    """Float64 Taylor coefficients when the series reaches double precision on [-1, 1], else None."""
    dual = kernel._dual
    try:
        squares, m2 = dual.float_coefficients
    except (InvalidInputError, NoClosedFormError, PrecisionError, SymbolicValueError):
        return None
    if abs(m2 - squares.sum()) > 1e-15 * m2 + 1e-300:
        return None
    m = kernel.order
    k = np.arange(squares.size - m, dtype=float)
    factor = np.ones_like(k)
    for j in range(1, m + 1):
        factor *= k + j
    a = float(kernel.scale.value(20)) * factor * squares[m:]
    total = np.abs(a).sum()
    tail = np.cumsum(np.abs(a)[::-1])[::-1]
    keep = int(np.argmax(tail <= 1e-17 * total)) if (tail <= 1e-17 * total).any() else None
    if keep is None or keep > a.size - 20:
        return None
    a = a[:max(keep, 1)].copy()
    for i, c in enumerate(kernel.poly):
        if i >= a.size:
            a = np.concatenate([a, np.zeros(i + 1 - a.size)])
        a[i] += float(c.value(20))
    return a


def _horner(coeffs):
    rev = coeffs[::-1]

    def f(arr):
        out = np.full(arr.shape, rev[0])
        for c in rev[1:]:
            out *= arr
            out += c
        return out
    return f


# ---------------------------------------------------------------------------------------------
# public constructors
# ---------------------------------------------------------------------------------------------
def _prepare(act, params):
    act = as_activation(act) if not params else __import__("symkernel").activation(act, **params)
    check_square_integrable(act)
    return act


def dual_kernel(act, **params):
    r"""The dual kernel ``sigma_hat(rho) = E[sigma(X) sigma(Y)]`` (Daniely et al. 2016) as a :class:`Kernel`.

    >>> dual_kernel("sin").expr
    -exp(-rho - 1)/2 + exp(rho - 1)/2
    >>> import symkernel as sk
    >>> dual_kernel(sk.activation("relu", gain=2)).expr
    (2*rho*asin(rho) + pi*rho + 2*sqrt(1 - rho**2))/pi
    """
    return Kernel(_prepare(act, params))


def mean_reduced_dual(act, **params):
    r"""``sigma_bar(rho) = sigma_hat(rho) - c_0^2`` (seed 001, Definition 5).

    >>> mean_reduced_dual("step").expr
    asin(rho)/(2*pi)
    """
    act = _prepare(act, params)
    c0 = hermite_coefficient(act, 0)
    minus = Quantity(-c0.expr**2, "c_0^2", c0.provenance) if c0.exact else _qmul(_q(-1), _qmul(c0, c0))
    return Kernel(act, poly=(minus,), symbol=r"\bar{\sigma}", name="mean-reduced dual kernel")


def kernel_map(act, **params):
    r"""``kappa(rho) = sigma_hat(rho)/sigma_hat(1)`` (seed 000, Definition 1), so ``kappa(1) = 1``.

    >>> kernel_map("cos").expr
    (exp(2*rho) + 1)*exp(1 - rho)/(1 + exp(2))
    """
    act = _prepare(act, params)
    m2 = second_moment(act)
    if m2.exact:
        if m2.expr == 0:
            raise InvalidInputError("the kernel map of the zero activation is undefined")
        scale = Quantity(_clean_number(1 / m2.expr), r"1/\mathbb{E}[\sigma^2]", m2.provenance)
    else:
        def inv(dps):
            v = m2.value(dps + 5)
            with mpmath.workdps(dps):
                return 1 / v
        scale = Quantity(None, r"1/\mathbb{E}[\sigma^2]", m2.provenance, inv)
    return Kernel(act, scale=scale, symbol=r"\kappa", name="kernel map")


def derivative_kernel(act, **params):
    r"""``E[sigma'(X) sigma'(Y)] = sigma_hat'(rho)`` (NTK factor; Price's theorem).

    Raises InvalidInputError when sigma jumps (sigma' has a Dirac delta: step, sign).

    >>> derivative_kernel("exp").expr
    exp(rho + 1)
    """
    act = _prepare(act, params)
    deriv, why = weak_derivative(act)
    if deriv is None:
        raise InvalidInputError(f"the derivative kernel E[sigma'(X) sigma'(Y)] does not exist: {why}")
    kern = Kernel(act, order=1, symbol=r"\dot{\sigma}", name="derivative kernel")
    return kern


__all__ = ["Kernel", "dual_kernel", "mean_reduced_dual", "kernel_map", "derivative_kernel",
           "weak_derivative"]
