"""Numeric evaluation of the dual kernel ``sigma_hat(rho) = E[sigma(X) sigma(Y)]`` of one sigma.

Paths, in order (MATH.md §2): the closed form; a 1D mpmath quadrature over ``X`` of the exact
inner expectation ``E_W[sigma(rho X + sqrt(1-rho^2) W)]``; the Hermite series
``sum_k c_k^2 rho^k`` with the Parseval tail bound ``(E sigma^2 - sum_{j<=K} c_j^2) |rho|^(K+1)``;
nested Gauss-Legendre panels split at the breakpoints (:mod:`.nested`, piecewise-smooth sigma of
polynomial growth); a nested 2D tanh-sinh quadrature.  Each numeric value agrees at two precisions.  Float64 arrays use
Gauss-Legendre over ``X``.

>>> import mpmath
>>> from symkernel.expectations import as_activation
>>> dual = _Dual.of(as_activation("tanh"))
>>> mpmath.nstr(dual.value(lambda wp: mpmath.mpf(1) / 2, None, 15), 12)
'0.186324413203'
"""
from functools import cached_property

import mpmath
import numpy as np
import sympy as sp

from ..errors import PrecisionError, SymbolicValueError
from ..expectations import second_moment
from ..hermite import hermite_coefficient
from ..pieces import split
from ..quantity import evaluate_exact
from ..symbols import rho, x
from .closed_forms import _S, _closed_form, _inner_form, weak_derivative
from .nested import Nested
from .hermite_squares import (SERIES_K_MAX, _float_hermite_squares, _gl_pieces,
                              _trapezoid_coefficients)
from .precision import _eval_expr, _numpy_modules, _points, _refine, _two_precisions


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
        if exact_rho is not None and exact_rho in (-1, 0, 1):  # a SymPy rho may be any exact number
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
        if Nested.applicable(self.act):
            return Nested.of(self.act).value(at(dps + 12), dps)
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


def _expectation_quantity(expr):
    from ..expectations import quantity_of_pieces
    return quantity_of_pieces(split(expr), r"\mathbb{E}")
