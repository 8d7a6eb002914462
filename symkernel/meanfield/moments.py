r"""Gaussian moments of ``phi(sqrt(q) Z)`` as functions of the pre-activation variance ``q``.

The mean-field maps (MATH.md §5) need, for ``Z ~ N(0, 1)``:

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

Three evaluation paths, each checkable against the others:

- **exact**: the core exact engine on the pieces of ``phi(sqrt(q) x)`` with ``q`` a positive
  symbol (ReLU: ``V = q/2``; erf: ``V = 2 asin(2q/(1+2q))/pi``), or ``None``;
- **mp**: the exact form evaluated with mpmath, or tanh-sinh quadrature split at breakpoints,
  ``0, ±3, ±6, ±12`` and the activation's own scale ``±2/sqrt q, ±8/sqrt q``, accepted when its
  error estimate meets the requested digits (else computed again at higher precision and compared);
- **float64**: composite Gauss–Legendre (10 nodes a panel, panels of width 1/2 in ``y = sqrt(q) z``
  for ``|y| < 24`` and in ``z`` for ``|z| < 14``, split at breakpoints): ~15 digits, vectorized.

>>> m = moments("erf")
>>> m.exact("V"), m.exact("D1")
(2*asin(2*q/(2*q + 1))/pi, 4/(pi*sqrt(4*q + 1)))
>>> import mpmath; mpmath.nstr(moments("tanh").mp("V", 1, 25), 25)
'0.3942944903978411744164598'
"""
import mpmath
import numpy as np
import sympy as sp

from ..errors import InvalidInputError, NoClosedFormError, PrecisionError
from ..expectations import as_activation, check_square_integrable
from ..gaussian import exact as exact_engine
from ..pieces import Piece
from ..symbols import x

Q = sp.Symbol("q", positive=True)
KINDS = ("V", "D1", "D2", "M", "dD1")
_Z_SPLITS = (-12, -6, -3, 0, 3, 6, 12)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(10)
_Z_MAX, _Y_MAX = 14.0, 24.0
_BASE_Z_EDGES = np.arange(-_Z_MAX, _Z_MAX + 0.25, 0.5)
_BASE_Y_EDGES = np.arange(-_Y_MAX, _Y_MAX + 0.25, 0.5)


def _num(v):
    return float(v) if v not in (sp.oo, -sp.oo) else (np.inf if v == sp.oo else -np.inf)


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
        self._mp_fns = None
        self._np_fns = None
        self._mp_exact = {}
        self._np_exact = {}

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

    # ------------------------------------------------------------------ mpmath
    def _mp_functions(self):
        if self._mp_fns is None:
            lam = lambda e: sp.lambdify(x, e, modules="mpmath")  # noqa: E731
            self._mp_fns = ([(_num(p.lo), _num(p.hi), lam(p.expr), lam(d1), lam(d2))
                             for p, d1, d2 in zip(self.pieces, self.d1, self.d2)],
                            [(float(b), float(j), float(v)) for b, j, v in self.breaks])
        return self._mp_fns

    def _mp_quad(self, kind, q, wp, maxdegree):
        pieces, breaks = self._mp_functions()
        with mpmath.workdps(wp):
            q = mpmath.mpf(q)
            s = mpmath.sqrt(q)
            norm = 1 / mpmath.sqrt(2 * mpmath.pi)
            zcut = mpmath.sqrt(2 * (wp + 5) * mpmath.log(10))
            inner = {-zcut, -zcut / 2, mpmath.mpf(0), zcut / 2, zcut,
                     *[k / s for k in (-8, -2, 2, 8) if abs(k / s) < zcut]}
            total, err = mpmath.mpf(0), mpmath.mpf(0)
            for lo, hi, f0, f1, f2 in pieces:
                F = {"V": lambda y: f0(y)**2, "M": f0, "D1": lambda y: f1(y)**2,
                     "D2": lambda y: f2(y) * f0(y),
                     "dD1": lambda y: f1(y)**2 * ((y / s)**2 - 1) / (2 * q)}[kind]
                a = -mpmath.inf if lo == -np.inf else mpmath.mpf(lo) / s
                b = mpmath.inf if hi == np.inf else mpmath.mpf(hi) / s
                g = lambda z: F(s * z) * mpmath.exp(-z * z / 2)  # noqa: E731
                mid = sorted(t for t in inner if a <= t <= b)
                if a not in mid and a > -zcut:
                    mid = [a, *mid]
                if b not in mid and b < zcut:
                    mid = [*mid, b]
                if len(mid) >= 2:  # Gauss-Legendre on the finite panels (analytic integrand)
                    val, e = mpmath.quad(g, mid, method="gauss-legendre", error=True,
                                         maxdegree=maxdegree)
                    total, err = total + val, err + e
                for ta, tb in ((a, min(b, -zcut)), (max(a, zcut), b)):  # Gaussian tails
                    if ta < tb:
                        val, e = mpmath.quad(g, [ta, tb], error=True, maxdegree=maxdegree)
                        total, err = total + val, err + e
            total, err = total * norm, err * norm
            if kind == "D2":
                for bk, jump, phib in breaks:
                    total += jump * phib * norm * mpmath.exp(-(bk / s)**2 / 2) / s
            return total, err

    def mp(self, kind, q, dps=15, method="auto"):
        """``kind`` at ``q`` as an mpf correct to ``dps`` digits (``method``: auto/exact/numeric)."""
        if kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind == "dD1" and mpmath.mpf(q) <= 0:
            raise InvalidInputError("dD1 needs q > 0")
        if kind in ("D1", "D2", "dD1"):
            self.require_continuous("the susceptibility")
        if mpmath.mpf(q) < 0:
            raise InvalidInputError(f"the variance q must be nonnegative, got {q}")
        if method in ("auto", "exact"):
            expr = self.exact(kind)
            if expr is not None:
                return self._mp_from_exact(kind, expr, q, dps)
            if method == "exact":
                raise NoClosedFormError(f"no closed form for {kind} of {self.act.name}")
        if mpmath.mpf(q) == 0:
            return self._at_zero(kind, dps)
        val, err = self._mp_quad(kind, q, dps + 10, 8)
        if err <= abs(val) * mpmath.mpf(10)**(-(dps + 3)) or err < mpmath.mpf(10)**(-(dps + 12)):
            return val
        val2, err2 = self._mp_quad(kind, q, dps + 25, 12)
        with mpmath.workdps(dps + 10):
            if abs(val2 - val) <= abs(val2) * mpmath.mpf(10)**(-(dps + 2)):
                return val2
        raise PrecisionError(f"quadrature for {kind}({q}) of {self.act.name} did not reach {dps} digits")

    def _at_zero(self, kind, dps):
        """Values at q = 0 (Z-independent): phi(0)^2, phi'(0)^2, phi''(0)phi(0), phi(0)."""
        zero = self._exact_limit(kind)
        from ..quantity import evaluate_exact
        return evaluate_exact(zero, dps) if zero != 0 else mpmath.mpf(0)

    def _exact_limit(self, kind):
        i = next(j for j, p in enumerate(self.pieces) if _num(p.lo) <= 0 <= _num(p.hi))
        p = self.pieces[i]
        if any(b == 0 for b, _, _ in self.breaks) and kind in ("D1", "D2"):
            raise InvalidInputError(f"{self.act.name} has a kink at 0: the q -> 0 limit of {kind} "
                                    "is not phi'(0)^2; use q > 0")
        return {"V": p.expr**2, "M": p.expr, "D1": self.d1[i]**2,
                "D2": self.d2[i] * p.expr}[kind].subs(x, 0)

    def _mp_from_exact(self, kind, expr, q, dps):
        if kind not in self._mp_exact:
            self._mp_exact[kind] = sp.lambdify(Q, expr, modules="mpmath")
        if mpmath.mpf(q) == 0:
            return self._at_zero(kind, dps)
        with mpmath.workdps(dps + 15):
            val = self._mp_exact[kind](mpmath.mpf(q))
            if isinstance(val, mpmath.mpc):
                val = val.real
            return +val

    # ------------------------------------------------------------------ float64
    def _np_functions(self):
        if self._np_fns is None:
            from scipy import special
            mods = [{"erf": special.erf, "erfc": special.erfc}, "numpy"]
            lam = lambda e: sp.lambdify(x, e, modules=mods)  # noqa: E731
            self._np_fns = [(_num(p.lo), _num(p.hi), lam(p.expr), lam(d1), lam(d2))
                            for p, d1, d2 in zip(self.pieces, self.d1, self.d2)]
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
        out = [np.zeros_like(y) for _ in range(3)]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for lo, hi, f0, f1, f2 in self._np_functions():
                mask = (y >= lo) & (y < hi) if hi != np.inf else (y >= lo)
                if mask.any():
                    for o, f in zip(out, (f0, f1, f2)):
                        o[mask] = np.broadcast_to(f(y[mask]), y[mask].shape)
        return out

    def np(self, kind, q):
        """``kind`` at each ``q`` of an array (float64, about 15 digits)."""
        q = np.atleast_1d(np.asarray(q, dtype=float))
        if kind in ("D1", "D2", "dD1"):
            self.require_continuous("the susceptibility")
        out = np.empty_like(q)
        for i, qi in enumerate(q):
            out[i] = self._np_one(kind, qi)
        return out

    def _np_one(self, kind, q):
        if q == 0:
            return float(self._exact_limit(kind))
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
        out = np.empty(K)
        h_prev, h = np.zeros_like(z), np.ones_like(z)
        for j in range(K):
            out[j] = np.dot(w, f * h)
            h_prev, h = h, (z * h - np.sqrt(j) * h_prev) / np.sqrt(j + 1)
        return out


def moments(act):
    """The :class:`Moments` of an activation, cached on it."""
    act = as_activation(act)
    if "meanfield_moments" not in act._cache:
        act._cache["meanfield_moments"] = Moments(act)
    return act._cache["meanfield_moments"]
