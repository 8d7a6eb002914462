r"""Gaussian moments of ``phi(sqrt(q) Z)`` as functions of the pre-activation variance ``q``.

The mean-field maps (docs/theory.md §5) need, for ``Z ~ N(0, 1)``:

- ``V(q)  = E[phi(sqrt(q) Z)^2]``                    (length map ``q -> sigma_w^2 V(q) + sigma_b^2``)
- ``D1(q) = E[phi'(sqrt(q) Z)^2]``                   (``chi_1 = sigma_w^2 D1(q*)``)
- ``D2(q) = E[phi''(sqrt(q) Z) phi(sqrt(q) Z)]``     (``chi_q* = sigma_w^2 (D1 + D2)(q*)``)
- ``M(q)  = E[phi(sqrt(q) Z)]``
- ``dD1(q) = d D1/dq = E[(Z^2 - 1) phi'(sqrt(q) Z)^2]/(2q)`` (Gaussian score; for the minimum
  of ``sigma_w^2 = 1/D1`` along the critical line)
- Hermite coefficients ``a_j(q) = E[phi(sqrt(q) Z) he_j(Z)]``: by Mehler,
  ``E[phi(u_1) phi(u_2)] = sum_j a_j^2 c^j`` and ``q E[phi'(u_1) phi'(u_2)] = sum_j j a_j^2 c^(j-1)``.

Derivatives are distributional: a kink of ``phi`` at ``b`` (jump ``J`` of ``phi'``) adds
``J phi(b) varphi(b/sqrt q)/sqrt q`` to ``D2``; a jump of ``phi`` itself makes ``D1`` infinite.

Evaluation paths, each checkable against the others (every one through :mod:`symkernel.numerics`:
``q`` is taken exactly, a float or mpf as its binary value, and the caller's mpmath precision
neither matters nor changes):

- **exact**: the core exact engine on the pieces of ``phi(sqrt(q) x)`` with ``q`` a positive
  symbol (ReLU: ``V = q/2``; erf: ``V = 2 asin(2q/(1+2q))/pi``), evaluated by SymPy's adaptive
  evalf at the exact ``q`` (so ``(1 - e^{-2q})/2`` keeps its digits at ``q = 1e-40``);
- **certified**: an Arb enclosure (:class:`symkernel.numerics.arb.Plan`) of the pieces with
  ``sqrt(q)`` substituted exactly, where they compile and every breakpoint ``b/sqrt(q)`` is rational;
- **estimated**: mpmath quadrature (Gauss–Legendre panels split at breakpoints, ``0, ±zcut/2`` and
  the activation's own scale ``±2/sqrt q, ±8/sqrt q``; tanh-sinh on the Gaussian tails), every
  constant evaluated at the working precision, accepted by :func:`symkernel.numerics.converge`;
- **float64**: composite Gauss–Legendre (10 nodes a panel, panels of width 1/2 in ``y = sqrt(q) z``
  for ``|y| < 24`` and in ``z`` for ``|z| < 14``, split at breakpoints): ~15 digits, vectorized
  (seeds for root finding only).

:meth:`Moments.result` gives a :class:`~symkernel.numerics.Result`, :meth:`Moments.quantity` a
labelled Quantity, :meth:`Moments.raw` one working-precision evaluation for pipelines that are
judged as a whole by ``converge`` (roots, chi's).

>>> m = moments("erf")
>>> m.exact("V"), m.exact("D1")
(2*asin(2*q/(2*q + 1))/pi, 4/(pi*sqrt(4*q + 1)))
>>> import mpmath; mpmath.nstr(moments("tanh").mp("V", 1, 25), 25)
'0.3942944903978411744164598'
>>> moments("tanh").quantity("V", 1).provenance
'certified: Arb ball quadrature + Gaussian tail bound'
"""
import mpmath
import numpy as np
import sympy as sp

from symkernel.numerics import serialized_class
from symkernel.errors import InvalidInputError, NoClosedFormError, PrecisionError
from symkernel.core.activations import as_activation
from symkernel.gaussian.expectation import check_square_integrable
from symkernel.gaussian import exact as exact_engine
from symkernel.core.parsing import to_sympy
from symkernel.numerics import GUARD, Result, binary_value, check_dps, converge, working
from symkernel.numerics import arb as arb_numerics
from symkernel.core.hermite import normalized_hermite
from symkernel.core.mp_eval import mp_lambdify
from symkernel.core.numpy_eval import piecewise_numpy
from symkernel.core.pieces import Piece
from symkernel.core.quantity import Quantity, evaluate_exact, exact_result
from symkernel.core.symbols import x

Q = sp.Symbol("q", positive=True)
KINDS = ("V", "D1", "D2", "M", "dD1")
_Z_SPLITS = (-12, -6, -3, 0, 3, 6, 12)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(10)
_Z_MAX, _Y_MAX = 14.0, 24.0
_BASE_Z_EDGES = np.arange(-_Z_MAX, _Z_MAX + 0.25, 0.5)
_BASE_Y_EDGES = np.arange(-_Y_MAX, _Y_MAX + 0.25, 0.5)


def _num(v):
    return float(v) if v not in (sp.oo, -sp.oo) else (np.inf if v == sp.oo else -np.inf)


def exact_number(q):
    """``q`` as an exact real SymPy number: a float or an mpf is its exact binary value, a
    string is read as a decimal, a SymPy number is kept (so no ambient precision enters)."""
    if isinstance(q, bool):
        raise InvalidInputError(f"expected a number, got {q!r}")
    if isinstance(q, (int, np.integer, float, np.floating, mpmath.mpf)):
        return binary_value(q)
    if isinstance(q, str):   # the restricted parser, never sympify: a decimal or a fraction
        value = to_sympy(q)
        if not value.is_Rational:
            raise InvalidInputError(f"cannot read {q!r} as a number")
        return value
    if isinstance(q, sp.Basic) and q.is_number and q.is_real is not False:
        if q.has(sp.Float):      # a Float is its binary value: keep it exact (no rounded sqrt)
            q = q.xreplace({f: binary_value(f) for f in q.atoms(sp.Float)})
        return q
    raise InvalidInputError(f"expected a real number, got {q!r}")


def _q_mpf(q, qe):
    """``q`` as an mpf at the current working precision (an mpf argument is kept exactly)."""
    if isinstance(q, mpmath.mpf):
        return q
    return _const(qe, mpmath.mp.dps)


def _const(c, wp):
    """An exact SymPy constant as an mpf at ``wp`` digits (``+-oo`` as ``+-inf``)."""
    if c == sp.oo:
        return mpmath.inf
    if c == -sp.oo:
        return -mpmath.inf
    with mpmath.workdps(wp):
        if c.is_Integer:
            return mpmath.mpf(int(c))
        if c.is_Rational:
            return mpmath.mpf(int(c.p)) / int(c.q)
        if c.is_Float:
            return mpmath.mpf(c._mpf_)
        return evaluate_exact(c, wp) if c != 0 else mpmath.mpf(0)


def _ulp(dps):
    return mpmath.mpf(10) ** (-dps)


@serialized_class
class Moments:
    """The moments ``V, D1, D2, M`` of one activation as functions of ``q`` (see module doc)."""

    def __init__(self, act):
        act = as_activation(act)
        if act.free_parameters:
            raise InvalidInputError(f"mean-field maps need numeric activation parameters; "
                                    f"substitute {sorted(map(str, act.free_parameters))} first")
        check_square_integrable(act)
        self.act = act
        self.pieces = act.pieces
        self.d1 = tuple(sp.diff(p.expr, x) for p in self.pieces)
        self.d2 = tuple(sp.diff(p.expr, x, 2) for p in self.pieces)
        self.breaks = []  # (b, jump of phi', phi(b))
        for left, right, dl, dr in zip(self.pieces[:-1], self.pieces[1:], self.d1[:-1], self.d1[1:]):
            b = right.lo
            jump0 = sp.simplify(right.expr.subs(x, b) - left.expr.subs(x, b))
            if jump0 != 0:
                self.jump_at = b
            else:
                self.breaks.append((b, sp.simplify(dr.subs(x, b) - dl.subs(x, b)),
                                    sp.simplify(right.expr.subs(x, b))))
        self.continuous = not hasattr(self, "jump_at")
        self._exact = {}
        self._mp_fns = {}
        self._mp_callables = []
        self._np_fns = None
        self._np_exact = {}
        self._plans = {}
        self._enclosures = {}

    # ------------------------------------------------------------------ checks
    def require_continuous(self, what):
        if not self.continuous:
            raise InvalidInputError(
                f"{self.act.name} jumps at x = {self.jump_at}: phi' has a delta there, so "
                f"{what} is infinite (E[phi'^2] diverges)")

    # ------------------------------------------------------------------ exact
    def _scaled_pieces(self, exprs):
        s = sp.sqrt(Q)
        return tuple(Piece(p.lo / s, p.hi / s, e.subs(x, s * x)) for p, e in zip(self.pieces, exprs))

    def exact(self, kind):
        """Closed form of ``kind`` in the symbol ``q`` (``moments.Q``), or ``None``."""
        if kind not in self._exact:
            self._exact[kind] = self._compute_exact(kind)
        return self._exact[kind]

    def _compute_exact(self, kind):
        if kind in ("D1", "D2", "dD1") and not self.continuous:
            return None
        if kind == "dD1":
            d1 = self.exact("D1")
            return None if d1 is None else sp.simplify(sp.diff(d1, Q))
        exprs = {"V": [p.expr**2 for p in self.pieces], "M": [p.expr for p in self.pieces],
                 "D1": [d**2 for d in self.d1],
                 "D2": [d2 * p.expr for d2, p in zip(self.d2, self.pieces)]}[kind]
        try:
            val = exact_engine.expectation_of_pieces(self._scaled_pieces(exprs))
        except (NoClosedFormError, NotImplementedError, TypeError):
            return None
        if kind == "D2":
            for b, jump, phib in self.breaks:
                val += jump * phib * exact_engine.phi(b / sp.sqrt(Q)) / sp.sqrt(Q)
        return sp.simplify(val)

    # ------------------------------------------------------------------ mpmath / Arb
    def _check(self, kind, q):
        if kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind in ("D1", "D2", "dD1"):
            self.require_continuous("the susceptibility")
        if q < 0:
            raise InvalidInputError(f"the variance q must be nonnegative, got {q}")
        if kind == "dD1" and q == 0:
            raise InvalidInputError("dD1 needs q > 0")

    def _integrands(self, kind):
        """Per piece, ``F(y)`` whose expectation at ``y = sqrt(q) Z`` is ``kind`` (SymPy in x)."""
        if kind == "dD1":   # Gaussian score: (z^2 - 1)/(2q) with z = y/sqrt(q), applied later
            return [d**2 for d in self.d1]
        return {"V": [p.expr**2 for p in self.pieces], "M": [p.expr for p in self.pieces],
                "D1": [d**2 for d in self.d1],
                "D2": [d2 * p.expr for d2, p in zip(self.d2, self.pieces)]}[kind]

    def _delta(self, kind, qe):
        """The exact kink term of ``D2`` at exact ``q`` (SymPy), 0 for the other kinds."""
        if kind != "D2":
            return sp.Integer(0)
        return sp.Add(*[j * v * exact_engine.phi(b / sp.sqrt(qe)) / sp.sqrt(qe)
                        for b, j, v in self.breaks if j * v != 0])

    def plan(self, kind, q):
        """An Arb :class:`~symkernel.numerics.arb.Plan` of ``kind`` at the exact number ``q > 0``
        (``sqrt(q)`` substituted exactly), or ``None`` outside the certifiable class (a
        breakpoint ``b/sqrt(q)`` that is not rational, a function without an enclosure)."""
        qe = exact_number(q)
        key = (kind, qe)
        if key not in self._plans:
            if len(self._plans) > 512:     # root finding visits many q: keep the cache bounded
                self._plans.clear()
            self._plans[key] = self._make_plan(kind, qe)
        return self._plans[key]

    def _make_plan(self, kind, qe):
        s = sp.sqrt(qe)
        pieces = []
        for p, F in zip(self.pieces, self._integrands(kind)):
            lo, hi = p.lo / s, p.hi / s
            if any(e.is_finite and not e.is_Rational for e in (lo, hi)):
                return None
            f = F.subs(x, s * x)
            if kind == "dD1":
                f = f * (x**2 - 1) / (2 * qe)
            pieces.append((lo, hi, f))
        try:
            return arb_numerics.Plan(pieces)
        except (arb_numerics.NotCertifiable, OverflowError, ValueError, TypeError):
            return None

    def _certified(self, kind, qe, dps):
        """Arb-certified Result of ``kind`` at exact ``q``, or None when no enclosure is found.
        A proven enclosure to ``d >= dps`` digits serves ``dps`` (kept per ``(kind, q)``)."""
        done = self._enclosures.get((kind, qe))
        if done is not None and done[0] >= dps:
            return done[1]
        res = self._enclose(kind, qe, dps)
        if res is not None:
            if len(self._enclosures) > 512:
                self._enclosures.clear()
            self._enclosures[(kind, qe)] = (dps, res)
        return res

    def ball(self, kind, q, dps):
        """``kind`` at ``q`` (taken exactly) as a proven Result to ``dps`` digits (the closed form
        by SymPy evalf, or an Arb enclosure), or ``None`` where only an estimate exists.

        >>> r = moments("tanh").ball("V", 1, 20)
        >>> r.certified, r.error < 1e-21 * r.value
        (True, True)
        """
        qe = exact_number(q)
        self._check(kind, qe)
        with working(dps + GUARD):
            if qe == 0:
                zero = self.exact_limit(kind)
                return exact_result(zero, dps) if zero != 0 else Result(mpmath.mpf(0), mpmath.mpf(0),
                                                                         True, "exact: 0")
            expr = self.exact(kind)
            if expr is not None:
                return exact_result(expr.subs(Q, qe), dps)
            return self._certified(kind, qe, dps)

    def _enclose(self, kind, qe, dps):
        plan = self.plan(kind, qe)
        if plan is None:
            return None
        delta = self._delta(kind, qe)
        for extra in (0, 20):     # the kink term may cancel digits: one retry with more
            try:
                res = plan.evaluate(dps + extra)
            except (arb_numerics.NotCertifiable, OverflowError, PrecisionError):
                self._plans[(kind, qe)] = None
                return None
            if delta == 0:
                return res
            d = exact_result(delta, dps + extra + 5)
            with mpmath.workdps(dps + extra + 10):
                value = res.value + d.value
                error = res.error + d.error + abs(d.value) * _ulp(dps + extra + 5)
                if value != 0 and error <= abs(value) * _ulp(dps + 2):
                    return Result(value, error, True, res.method + " + exact kink terms")
        return None

    def result(self, kind, q, dps=15, method="auto"):
        """``kind`` at ``q`` as a :class:`~symkernel.numerics.Result` good to ``dps`` digits.

        ``method``: ``"exact"`` (the closed form in ``q``, SymPy evalf), ``"arb"`` (certified Arb
        enclosure), ``"quadrature"`` (mpmath, accepted by :func:`~symkernel.numerics.converge`),
        ``"numeric"`` (Arb where it applies, else quadrature) or ``"auto"`` (exact, then numeric).
        ``q`` is taken exactly (a float or mpf is its binary value); the caller's mpmath
        precision neither matters nor changes.
        """
        check_dps(dps)
        if method not in ("auto", "exact", "numeric", "arb", "quadrature"):
            raise InvalidInputError(f"method must be auto, exact, numeric, arb or quadrature, "
                                    f"got {method!r}")
        qe = exact_number(q)
        self._check(kind, qe)
        with working(dps + GUARD):
            if qe == 0:
                zero = self.exact_limit(kind)
                return exact_result(zero, dps) if zero != 0 else Result(mpmath.mpf(0), mpmath.mpf(0),
                                                                         True, "exact: 0")
            if method in ("auto", "exact"):
                expr = self.exact(kind)
                if expr is not None:
                    return exact_result(expr.subs(Q, qe), dps)
                if method == "exact":
                    raise NoClosedFormError(f"no closed form for {kind} of {self.act.name}")
            if method in ("auto", "numeric", "arb"):
                res = self._certified(kind, qe, dps)
                if res is not None:
                    return res
                if method == "arb":
                    raise PrecisionError(f"no Arb enclosure of {kind}({q}) for {self.act.name}")
            return converge(lambda wp: self._quad(kind, qe, wp), dps,
                            method="mpmath quadrature at two working precisions")

    def quantity(self, kind, q):
        """``kind`` at ``q`` (taken exactly) as a :class:`~symkernel.core.quantity.Quantity`: *exact*
        (the closed form in ``q``), *certified* (an Arb enclosure) or *estimated* (mpmath
        quadrature accepted by two working precisions), and labelled so."""
        qe = exact_number(q)
        self._check(kind, qe)
        symbol = {"V": r"\mathbb{E}[\phi^2]", "D1": r"\mathbb{E}[\phi'^2]",
                  "D2": r"\mathbb{E}[\phi'' \phi]", "M": r"\mathbb{E}[\phi]",
                  "dD1": r"\partial_q \mathbb{E}[\phi'^2]"}[kind]
        params = (("activation", self.act.expr), ("kind", kind), ("q", qe))
        expr = self.exact_limit(kind) if qe == 0 else self.exact(kind)
        if expr is not None:
            return Quantity(expr if qe == 0 else expr.subs(Q, qe), symbol,
                            "exact: closed form of the Gaussian moment", params=params)
        if self._certified(kind, qe, 15) is not None:
            def certified(dps):
                res = self._certified(kind, qe, dps)
                if res is None:
                    raise PrecisionError(f"Arb could not enclose {kind}({q}) of {self.act.name} "
                                         f"to {dps} digits")
                return res
            return Quantity(None, symbol, "certified: Arb ball quadrature + Gaussian tail bound",
                            certified, params=params)
        return Quantity(None, symbol, "estimated: mpmath quadrature, two working precisions agree",
                        lambda dps: self.result(kind, qe, dps, "quadrature"), params=params)

    def mp(self, kind, q, dps=15, method="auto"):
        """``kind`` at ``q`` as an mpf correct to ``dps`` digits (see :meth:`result`)."""
        return self.result(kind, q, dps, method).value

    def raw(self, kind, q, wp, headroom=0):
        """``kind`` at ``q`` computed once at working precision ``wp`` (call inside
        :func:`~symkernel.numerics.working`): the closed form by SymPy evalf, else an Arb enclosure,
        else mpmath quadrature.  No acceptance test here: callers (root finding, chi's) are
        judged as a whole by :func:`~symkernel.numerics.converge`.  ``headroom``: an Arb
        enclosure is made to ``wp + headroom`` digits, so that the next working precision of a
        ``converge`` at the same ``q`` is served by it (a proven enclosure needs no second
        computation; an estimate is always recomputed at each precision)."""
        qe = exact_number(q)
        self._check(kind, qe)
        if qe == 0:
            zero = self.exact_limit(kind)
            return evaluate_exact(zero, wp) if zero != 0 else mpmath.mpf(0)
        expr = self.exact(kind)
        if expr is not None:   # SymPy's adaptive evalf: no digits lost to cancellation
            return evaluate_exact(expr.subs(Q, qe), wp)   # (1 - e^{-2q})/2 at q = 1e-40
        done = self._enclosures.get((kind, qe))
        res = self._certified(kind, qe, wp if done is not None and done[0] >= wp else wp + headroom)
        if res is not None:
            return res.value
        return self._quad(kind, qe, wp)

    def _mp_pieces(self, wp):
        """``[(lo, hi, phi, phi', phi'')]`` as mpmath callables with every constant (breakpoints,
        SELU's lambda and alpha, ...) evaluated at ``wp`` digits, and the kinks ``(b, J, phi(b))``."""
        if wp not in self._mp_fns:
            if not self._mp_callables:   # constants evaluate at the precision of each call
                self._mp_callables = [tuple(mp_lambdify(x, e) for e in (p.expr, d1, d2))
                                      for p, d1, d2 in zip(self.pieces, self.d1, self.d2)]
            pieces = [(_const(p.lo, wp), _const(p.hi, wp), *fns)
                      for p, fns in zip(self.pieces, self._mp_callables)]
            breaks = [(_const(b, wp), _const(j, wp), _const(v, wp)) for b, j, v in self.breaks]
            if len(self._mp_fns) > 8:
                self._mp_fns.clear()
            self._mp_fns[wp] = (pieces, breaks)
        return self._mp_fns[wp]

    def _quad(self, kind, qe, wp):
        """mpmath quadrature of ``kind`` at exact ``q > 0`` at ``wp`` digits: Gauss-Legendre on
        panels split at breakpoints, ``0, +-zcut/2`` and the activation's scale ``+-2/sqrt q,
        +-8/sqrt q``, tanh-sinh on the Gaussian tails beyond ``zcut``."""
        pieces, breaks = self._mp_pieces(wp)
        with mpmath.workdps(wp):
            q = _q_mpf(None, qe)
            s = mpmath.sqrt(q)
            norm = 1 / mpmath.sqrt(2 * mpmath.pi)
            zcut = mpmath.sqrt(2 * (wp + 5) * mpmath.log(10))
            inner = {-zcut, -zcut / 2, mpmath.mpf(0), zcut / 2, zcut,
                     *[k / s for k in (-8, -2, 2, 8) if abs(k / s) < zcut]}
            maxdegree = 8 + wp // 60
            total, err, scale = mpmath.mpf(0), mpmath.mpf(0), mpmath.mpf(0)
            for lo, hi, f0, f1, f2 in pieces:
                F = {"V": lambda y: f0(y)**2, "M": f0, "D1": lambda y: f1(y)**2,
                     "D2": lambda y: f2(y) * f0(y),
                     "dD1": lambda y: f1(y)**2 * ((y / s)**2 - 1) / (2 * q)}[kind]
                a = lo / s if mpmath.isfinite(lo) else -mpmath.inf
                b = hi / s if mpmath.isfinite(hi) else mpmath.inf
                g = lambda z: F(s * z) * mpmath.exp(-z * z / 2)  # noqa: E731
                mid = sorted(t for t in inner if a <= t <= b)
                if a not in mid and a > -zcut:
                    mid = [a, *mid]
                if b not in mid and b < zcut:
                    mid = [*mid, b]
                parts = []
                if len(mid) >= 2:  # Gauss-Legendre on the finite panels (analytic integrand)
                    parts.append(mpmath.quad(g, mid, method="gauss-legendre", error=True,
                                             maxdegree=maxdegree))
                for ta, tb in ((a, min(b, -zcut)), (max(a, zcut), b)):  # Gaussian tails
                    if ta < tb:
                        parts.append(mpmath.quad(g, [ta, tb], error=True, maxdegree=maxdegree))
                for val, e in parts:
                    total, err, scale = total + val, err + e, scale + abs(val)
            total, err, scale = total * norm, err * norm, scale * norm
            if kind == "D2":
                for bk, jump, phib in breaks:
                    total += jump * phib * norm * mpmath.exp(-(bk / s)**2 / 2) / s
            if err > scale * mpmath.mpf(10) ** (-(wp - 15)):
                raise PrecisionError(f"quadrature of {kind}({mpmath.nstr(q, 8)}) for "
                                     f"{self.act.name} has an error estimate "
                                     f"{mpmath.nstr(err, 3)}: fewer than {wp - 15} digits")
            return +total

    def _at_zero(self, kind, dps):
        """Values at q = 0 (Z-independent): phi(0)^2, phi'(0)^2, phi''(0)phi(0), phi(0)."""
        zero = self.exact_limit(kind)
        return evaluate_exact(zero, dps) if zero != 0 else mpmath.mpf(0)

    def exact_limit(self, kind):
        """The exact ``q -> 0`` limit of ``kind``: ``phi(0)^2``, ``phi(0)``, ``phi'(0)^2`` or ``phi''(0)phi(0)``."""
        i = next(j for j, p in enumerate(self.pieces) if _num(p.lo) <= 0 <= _num(p.hi))
        p = self.pieces[i]
        if any(b == 0 for b, _, _ in self.breaks) and kind in ("D1", "D2"):
            raise InvalidInputError(f"{self.act.name} has a kink at 0: the q -> 0 limit of {kind} "
                                    "is not phi'(0)^2; use q > 0")
        return {"V": p.expr**2, "M": p.expr, "D1": self.d1[i]**2,
                "D2": self.d2[i] * p.expr}[kind].subs(x, 0)

    # ------------------------------------------------------------------ float64
    def _np_functions(self):
        """``phi, phi', phi''`` as vectorized float64 functions (one piecewise vectorizer)."""
        if self._np_fns is None:
            self._np_fns = [piecewise_numpy([Piece(p.lo, p.hi, e) for p, e in zip(self.pieces, exprs)])
                            for exprs in ([p.expr for p in self.pieces], self.d1, self.d2)]
        return self._np_fns

    def nodes(self, q):
        """Composite Gauss–Legendre nodes ``z`` and weights (Gaussian density included) for ``q``."""
        s = np.sqrt(q)
        edges = _BASE_Z_EDGES
        if s > 0:
            yz = _BASE_Y_EDGES / s
            edges = np.union1d(edges, yz[np.abs(yz) < _Z_MAX])
            bks = np.array([float(b) / s for b, _, _ in self.breaks] +
                           ([float(self.jump_at) / s] if not self.continuous else []))
            edges = np.union1d(edges, bks[np.abs(bks) < _Z_MAX])
        mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
        z = (mid[:, None] + half[:, None] * _GL_X[None, :]).ravel()
        w = (half[:, None] * _GL_W[None, :]).ravel() * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
        return z, w

    def values(self, q, z):
        """``phi, phi', phi''`` at ``y = sqrt(q) z`` (arrays)."""
        y = np.sqrt(q) * z
        return [f(y) for f in self._np_functions()]

    def np(self, kind, q):
        """``kind`` at each ``q`` of an array (float64, about 15 digits)."""
        q = np.atleast_1d(np.asarray(q, dtype=float))
        if kind in ("D1", "D2", "dD1"):
            self.require_continuous("the susceptibility")
        out = np.empty_like(q)
        for i, qi in enumerate(q):
            out[i] = self.np_one(kind, qi)
        return out

    def np_one(self, kind, q):
        """``kind`` at one ``q`` (float64, about 15 digits; the exact limit at ``q = 0``)."""
        if q == 0:
            return float(self.exact_limit(kind))
        z, w = self.nodes(q)
        f0, f1, f2 = self.values(q, z)
        with np.errstate(over="ignore", invalid="ignore"):   # exp-type growth: V = inf is the answer
            integrand = {"V": f0 * f0, "M": f0, "D1": f1 * f1, "D2": f2 * f0,
                         "dD1": f1 * f1 * (z * z - 1) / (2 * q) if kind == "dD1" else None}[kind]
            val = float(np.dot(w, integrand))
        if kind == "D2":
            s = np.sqrt(q)
            for b, jump, phib in self.breaks:
                val += float(jump * phib) * np.exp(-(float(b) / s)**2 / 2) / np.sqrt(2 * np.pi) / s
        return val

    def hermite(self, q, K, derivative=False):
        """``a_j(q) = E[phi(sqrt q Z) he_j(Z)]`` for ``j < K`` (float64), by the same quadrature.

        With ``derivative=True`` the coefficients of ``phi'(sqrt q Z)`` instead.
        """
        z, w = self.nodes(q)
        f0, f1, _ = self.values(q, z)
        f = f1 if derivative else f0
        return np.array([np.dot(w, f * h) for h in normalized_hermite(z, K)]).reshape(K)


def moments(act):
    """The :class:`Moments` of an activation, cached on it."""
    act = as_activation(act)
    return act.memo("meanfield_moments", lambda: Moments(act))
