r"""Nested Gauss-Legendre panels for ``sigma_hat(rho)`` of a piecewise-smooth sigma (docs/theory.md §2).

For sigma with no exact inner expectation and a slowly converging Hermite series (kinks, e.g.
softsign ``x/(1+|x|)``):  ``sigma_hat(rho) = E_X[sigma(X) g_rho(X)]``,
``g_rho(x) = E_W[sigma(rho x + s W)]``, ``s = sqrt(1 - rho^2)``.  Both integrals are done by
Gauss-Legendre panels on ``[-L, L]`` split at the known breakpoints (``t`` of sigma for X,
``(t - rho x)/s`` for W) and graded geometrically towards them (towards ``t/rho``, at the scale
``s/|rho|`` of the smoothed kink of ``g_rho``, for X).  The truncation is bounded explicitly: with
``|sigma(u)| <= M (1+|u|)^p`` and ``T_q(L) = int_L^oo phi (1+x)^q <= phi(L)(1+L)^q/(L - q/(1+L))``,
the neglected mass is at most ``2 M^2 (m_p T_2p(L) + m_2p T_p(L))``, ``m_q = E(1+|W|)^q``.
The panel degree follows the local size of the Gaussian weight.  mpmath values are accepted when
two precisions / degrees agree (:func:`symkernel.numerics.converge`: estimated); float64
evaluation uses the Hermite series (Parseval tail bound) for ``|rho| <= 0.9`` and, nearer ``|rho| = 1``, a Chebyshev interpolant in ``s`` (``sigma_hat`` is
analytic in ``s`` there) of float64 panel values, checked at the interleaved nodes.

>>> import mpmath
>>> from symkernel.gaussian.expectation import as_activation
>>> nest = Nested.of(as_activation("softsign"))
>>> round(float(nest.np_value(0.3)), 12), mpmath.nstr(nest.mp_value(mpmath.mpf("0.3"), 12, 0.6), 10)
(0.051352739306, '0.05135273931')
"""
import math
from functools import cached_property, lru_cache

import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import PrecisionError
from symkernel.core.pieces import split
from symkernel.core.symbols import x
from symkernel.gaussian.expectation import quantity_of_pieces, second_moment
from symkernel.numerics import converge
from .hermite_squares import _float_hermite_squares
from symkernel.core.mp_eval import mp_lambdify

MAX_GROWTH = 6          # polynomial growth degrees handled (|sigma| <= M (1+|x|)^p, p <= 6)
SERIES_RHO = 0.9        # float64: Hermite series for |rho| <= 0.9, Chebyshev in s beyond
CHEB_NODES = 40


def end_result(act, side, dps):
    """``sigma_hat(rho)`` at ``rho = side = +-1`` as a Result: ``E sigma(Z)^2`` at 1,
    ``E[sigma(Z) sigma(-Z)]`` at -1 (one Gaussian expectation, no panels)."""
    if side == 1:
        return second_moment(act).result(dps)
    return quantity_of_pieces(split(act.expr * act.expr.subs(x, -x)), r"\mathbb{E}").result(dps)


def growth(act):
    """``(p, M)`` with ``|sigma(u)| <= M (1+|u|)^p`` (p from SymPy limits at +-oo, M from the limits
    and a dense sample, doubled), or None when sigma grows faster than ``|u|^6`` or has parameters."""
    cache = act.memo("kernels", dict)
    if "growth" in cache:
        return cache["growth"]
    result = None
    if not act.free_parameters:
        for p in range(MAX_GROWTH + 1):
            lims = []
            for piece, end in ((act.pieces[-1], sp.oo), (act.pieces[0], -sp.oo)):
                try:
                    lims.append(sp.limit(piece.expr / (1 + sp.Abs(x)) ** p, x, end))
                except (NotImplementedError, ValueError, TypeError):
                    lims.append(sp.oo)
            if all(v.is_finite for v in lims):
                u = np.linspace(-60, 60, 24001)
                with np.errstate(all="ignore"):
                    vals = np.abs(act.numpy()(u)) / (1 + np.abs(u)) ** p
                if np.isfinite(vals).all():
                    M = 2 * max(float(vals.max()), *(abs(float(v)) for v in lims), 1e-300)
                    result = (p, M)
                break
    cache["growth"] = result
    return result


def _abs_moment(q):
    """``m_q = E(1+|W|)^q = sum_j C(q,j) E|W|^j``, ``E|W|^j = 2^(j/2) Gamma((j+1)/2)/sqrt(pi)``."""
    return sum(math.comb(q, j) * 2 ** (j / 2) * math.gamma((j + 1) / 2) / math.sqrt(math.pi)
               for j in range(q + 1))


def _tail(q, L):
    """``int_L^oo phi(x)(1+x)^q dx <= phi(L)(1+L)^q / (L - q/(1+L))`` (log-concavity), log10."""
    return (-L * L / 2 / math.log(10) - math.log10(math.sqrt(2 * math.pi)) + q * math.log10(1 + L)
            - math.log10(L - q / (1 + L)))


def truncation(p, M, digits):
    """Smallest L (step 1/4) whose truncation bound ``2 M^2 (m_p T_2p + m_2p T_p)`` is ``< 10^-digits``."""
    L = 2.0 + 2 * p
    c = math.log10(2 * M * M)
    while True:
        bound = max(math.log10(_abs_moment(p)) + _tail(2 * p, L), math.log10(_abs_moment(2 * p)) + _tail(p, L))
        if c + bound + math.log10(2) < -digits:
            return L
        L += 0.25


@lru_cache(maxsize=64)
def _mp_legendre(n, wp):
    """Gauss-Legendre nodes/weights on [-1, 1] with n points at wp digits (Newton on P_n)."""
    nodes, weights = [], []
    with mpmath.workdps(wp + 10):
        eps = mpmath.mpf(10) ** (-(wp + 5))
        for i in range((n + 1) // 2):
            z = mpmath.cos(mpmath.pi * (i + mpmath.mpf(3) / 4) / (n + mpmath.mpf(1) / 2))
            for _ in range(100):
                p0, p1 = mpmath.mpf(1), z
                for k in range(2, n + 1):
                    p0, p1 = p1, ((2 * k - 1) * z * p1 - (k - 1) * p0) / k
                dp = n * (z * p1 - p0) / (z * z - 1)
                step = p1 / dp
                z -= step
                if abs(step) < eps:
                    break
            p0, p1 = mpmath.mpf(1), z
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * z * p1 - (k - 1) * p0) / k
            dp = n * (z * p1 - p0) / (z * z - 1)
            w = 2 / ((1 - z * z) * dp * dp)
            nodes += [z, -z]
            weights += [w, w]
        if n % 2:
            nodes.pop()
            weights.pop()
    return tuple(nodes), tuple(weights)


@lru_cache(maxsize=64)
def _np_legendre(n):
    return np.polynomial.legendre.leggauss(n)


def _edges(lo, hi, centers, hmax):
    """Panel edges of [lo, hi]: each (c, h) adds c and c +- h 2^j (j >= 0, h 2^j < hmax); gaps > hmax
    are split evenly."""
    pts = {lo, hi}
    for c, h in centers:
        if not lo <= c <= hi:
            continue
        pts.add(c)
        step = h
        while step < hmax:
            for v in (c - step, c + step):
                if lo < v < hi:
                    pts.add(v)
            step *= 2
    pts = sorted(pts)
    out = [pts[0]]
    for a, b in zip(pts[:-1], pts[1:]):
        k = max(1, int(math.ceil(float(b - a) / hmax)))
        out += [a + (b - a) * j / k for j in range(1, k)] + [b]
    return out


def _degree(digits, factor):
    return max(4, int(math.ceil(factor * max(digits, 1))) + 3)


class Nested:
    """``sigma_hat`` of one piecewise-smooth sigma of polynomial growth by nested GL panels."""

    def __init__(self, act):
        self.act = act
        self.p, self.M = growth(act)
        self.breaks = [p.lo for p in act.pieces[1:]]
        self.fbreaks = [float(sp.N(b)) for b in self.breaks]
        # sigma(-x) = +-sigma(x) exactly: sigma(x) g_rho(x) is even in x, so integrate over x >= 0
        # and double (odd up to a constant is not enough: the dual kernel reduces that case first)
        self.half = act.strict_parity in ("odd", "even")

    @classmethod
    def of(cls, act):
        cache = act.memo("kernels", dict)
        if "nested" not in cache:
            cache["nested"] = cls(act)
        return cache["nested"]

    @staticmethod
    def applicable(act):
        return growth(act) is not None

    # -- mpmath -------------------------------------------------------------------------------
    @cached_property
    def _mp_pieces(self):
        return [mp_lambdify(x, p.expr) for p in self.act.pieces]

    def _piece(self, v, values):
        """The smooth branch holding v (panels never straddle a breakpoint)."""
        for i, b in enumerate(values):
            if v < b:
                return self._mp_pieces[i]
        return self._mp_pieces[-1]

    def mp_value(self, r, wp, factor):
        """One panel evaluation at wp digits, degrees ``factor * (needed digits)`` (``|r| < 1``)."""
        with mpmath.workdps(wp + 5):
            r = mpmath.mpf(r)
            s = mpmath.sqrt(1 - r * r)
            L = mpmath.mpf(truncation(self.p, self.M, wp + 3))
            breaks = [mpmath.mpf(sp.N(b, wp + 10)) for b in self.breaks]
            centers = [(b, mpmath.mpf(1) / 2) for b in breaks]
            if r != 0:
                centers += [(b / r, s / abs(r) / 2) for b in breaks]
            xedges = _edges(0 if self.half else -L, L, centers, self._hmax)
            inv_ln10 = 1 / math.log(10)
            lp = math.log10(self.M) + self.p * math.log10(1 + float(L))
            total = mpmath.mpf(0)
            for a, b in zip(xedges[:-1], xedges[1:]):
                d = 0.0 if a < 0 < b else min(abs(float(a)), abs(float(b)))
                digits_x = wp + 2 * lp - d * d / 2 * inv_ln10
                if digits_x < -2:
                    continue
                nodes, weights = _mp_legendre(_degree(digits_x, factor), wp + 5)
                half, mid = (b - a) / 2, (b + a) / 2
                f = self._piece(mid, breaks)
                for z, w in zip(nodes, weights):
                    t = mid + half * z
                    total += w * half * f(t) * self._mp_inner(r * t, s, L, breaks, digits_x, factor) \
                        * mpmath.exp(-t * t / 2)
            total /= mpmath.pi if self.half else 2 * mpmath.pi
        return total

    def _mp_inner(self, rx, s, L, breaks, digits, factor):
        """``sqrt(2 pi) g_rho(x)`` with ``rx = rho x``: panels in W split at ``(t - rho x)/s``."""
        centers = [((b - rx) / s, mpmath.mpf(1) / (2 * s)) for b in breaks]
        wedges = _edges(-L, L, centers, min(2.0, self._hmax / float(s)))
        out = mpmath.mpf(0)
        for a, b in zip(wedges[:-1], wedges[1:]):
            d = 0.0 if a < 0 < b else min(abs(float(a)), abs(float(b)))
            dig = digits - d * d / 2 / math.log(10)
            if dig < -2:
                continue
            nodes, weights = _mp_legendre(_degree(dig, factor), mpmath.mp.dps)
            half, mid = (b - a) / 2, (b + a) / 2
            f = self._piece(rx + s * mid, breaks)
            acc = mpmath.mpf(0)
            for z, w in zip(nodes, weights):
                u = mid + half * z
                acc += w * f(rx + s * u) * mpmath.exp(-u * u / 2)
            out += acc * half
        return out

    def value(self, r, dps):
        """``sigma_hat(r)`` for ``|r| < 1`` as an estimated Result: :func:`~symkernel.numerics.converge`
        over working precisions ``dps + 8, 14, 24`` with panel degrees ``0.6, 0.75, 0.9`` x digits."""
        factors = {8: 0.6, 14: 0.75, 24: 0.9}
        return converge(lambda wp: self.mp_value(r, wp, factors[wp - dps]), dps,
                        method="nested Gauss-Legendre panels", steps=tuple(factors))

    # -- float64 ------------------------------------------------------------------------------
    @cached_property
    def _np_sigma(self):
        return self.act.numpy()

    def np_value(self, r, factor=0.6, hmax=2.0):
        """float64 panel evaluation at one ``|r| < 1`` (vectorized over the nodes); panels at most
        ``hmax`` wide in x (and ``hmax / s`` in w, where sigma(rho x + s w) varies on the scale 1/s)."""
        s = math.sqrt(1 - r * r)
        L = truncation(self.p, self.M, 18)
        centers = [(b, 0.5) for b in self.fbreaks]
        if r != 0:
            centers += [(b / r, s / abs(r) / 2) for b in self.fbreaks]
        xs, xw = self._np_nodes(_edges(0.0 if self.half else -L, L, centers, hmax), factor, 19)
        sig = self._np_sigma
        if not self.fbreaks:      # one smooth piece: the same w-nodes for every x, one matrix
            ws, ww = self._np_nodes(_edges(-L, L, [], min(2.0, hmax / s)), factor, 19)
            total = 0.0
            for i in range(0, xs.size, 256):
                xchunk = xs[i:i + 256]
                inner = sig(r * xchunk[:, None] + s * ws[None, :]) @ ww
                total += xw[i:i + 256] @ (sig(xchunk) * inner)
            return total / (math.pi if self.half else 2 * math.pi)
        total = 0.0
        for xchunk, wchunk in ((xs[i:i + 64], xw[i:i + 64]) for i in range(0, xs.size, 64)):
            inner = np.zeros(xchunk.size)
            for j, xv in enumerate(xchunk):
                centers_w = [((b - r * xv) / s, 0.5 / s) for b in self.fbreaks]
                ws, ww = self._np_nodes(_edges(-L, L, centers_w, 2.0), factor, 19)
                inner[j] = ww @ sig(r * xv + s * ws)
            total += wchunk @ (sig(xchunk) * inner)
        return total / (math.pi if self.half else 2 * math.pi)

    @cached_property
    def _hmax(self):
        """Panel width: 2, or the estimated analyticity strip of a one-piece sigma if narrower."""
        if len(self.act.pieces) != 1:
            return 2.0
        try:
            return self._strip_width(*_float_hermite_squares(self.act))
        except (PrecisionError, ValueError, ArithmeticError):
            return 2.0

    @staticmethod
    def _strip_width(squares, m2):
        """The half-width ``d`` of the strip where sigma is analytic, estimated from the decay
        ``c_k^2 ~ e^(-2 d sqrt k)`` of the float64 Hermite coefficients (only sizes the float64
        panels, whose values are then checked against the series; 2 when they decay faster)."""
        resid = m2 - np.cumsum(squares)
        good = np.nonzero(resid > 1e-13 * m2)[0]
        if good.size < 8:
            return 2.0
        last = int(good.max())
        first = max(1, last // 2)
        if resid[first] <= resid[last] or last - first < 4:
            return 2.0
        slope = (math.log(resid[first]) - math.log(resid[last])) / (math.sqrt(last) - math.sqrt(first))
        return min(2.0, max(0.25, slope / 2))

    @staticmethod
    def _np_nodes(edges, factor, digits):
        """Composite GL nodes and weights (Gaussian weight folded in) on the given panel edges."""
        nodes, weights = [], []
        for a, b in zip(edges[:-1], edges[1:]):
            d = 0.0 if a < 0 < b else min(abs(a), abs(b))
            dig = digits - d * d / 2 / math.log(10)
            if dig < -2:
                continue
            t, w = _np_legendre(_degree(dig, factor))
            half, mid = (b - a) / 2, (b + a) / 2
            u = mid + half * t
            nodes.append(u)
            weights.append(half * w * np.exp(-u * u / 2))
        return np.concatenate(nodes), np.concatenate(weights)

    @cached_property
    def _float_parts(self):
        """(Horner coefficients for ``|rho| <= 0.9``, {side: Chebyshev coefficients in s}, s_max)."""
        squares, m2 = _float_hermite_squares(self.act)
        resid = m2 - np.cumsum(squares)
        k = np.arange(squares.size)
        ok = np.nonzero(np.abs(resid) * SERIES_RHO ** (k + 1) <= 1e-17 * m2)[0]
        if ok.size == 0:
            raise PrecisionError("the Hermite series does not reach double precision at |rho| = 0.9")
        coeffs = squares[:ok[0] + 1]
        # panels no wider than the analyticity strip (tanh(2.5 x): poles at 0.63 i; panels of
        # width 2 left it wrong by 1e-11); a kinked sigma keeps width 2 (its kinks are breakpoints)
        hmax = self._hmax
        s_max = math.sqrt(1 - SERIES_RHO**2)
        lobatto = np.cos(np.pi * np.arange(CHEB_NODES) / (CHEB_NODES - 1))       # t in [-1, 1]
        check = np.cos(np.pi * (np.arange(0, CHEB_NODES - 1, 4) + 0.5) / (CHEB_NODES - 1))
        cheb = {}
        for side in ((1,) if self.half else (1, -1)):
            def at(t):
                sv = s_max * (t + 1) / 2
                if sv == 0:
                    return float(end_result(self.act, side, 17).rounded(17))
                return self.np_value(side * math.sqrt(1 - sv * sv), hmax=hmax)
            vals = np.array([at(t) for t in lobatto])
            c = np.polynomial.chebyshev.chebfit(lobatto, vals, CHEB_NODES - 1)
            got = np.polynomial.chebyshev.chebval(check, c)
            want = np.array([at(t) for t in check])
            series_end = np.polynomial.polynomial.polyval(side * SERIES_RHO, coeffs)
            err = max(np.max(np.abs(got - want)), abs(vals[0] - series_end))
            if err > 1e-13 * m2:
                raise PrecisionError(f"float64 panels / Chebyshev in s disagree by {err:.2e} near rho = {side}")
            cheb[side] = c
        return coeffs, cheb, s_max

    def numpy(self, r):
        """sigma_hat on a float64 array in [-1, 1] (series for ``|rho| <= 0.9``, Chebyshev in s beyond)."""
        coeffs, cheb, s_max = self._float_parts
        r = np.asarray(r, dtype=float)
        out = np.empty_like(r)
        small = np.abs(r) <= SERIES_RHO
        acc = np.full(int(small.sum()), coeffs[-1])
        rs = r[small]
        for c in coeffs[-2::-1]:
            acc *= rs
            acc += c
        out[small] = acc
        for side in (1, -1):
            mask = ~small & (np.sign(r) == side)
            if not mask.any():
                continue
            t = 2 * np.sqrt(np.clip(1 - r[mask] ** 2, 0, None)) / s_max - 1
            if side in cheb:
                out[mask] = np.polynomial.chebyshev.chebval(t, cheb[side])
            else:   # odd sigma: sigma_hat(-rho) = -sigma_hat(rho); even: sigma_hat(-rho) = sigma_hat(rho)
                sign = -1.0 if self.act.strict_parity == "odd" else 1.0
                out[mask] = sign * np.polynomial.chebyshev.chebval(t, cheb[1])
        return out
