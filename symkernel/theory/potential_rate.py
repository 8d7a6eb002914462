r"""A rate that makes Theorem 1's case-4 bound true: the largest one-layer factor of its potential
(Joudaki & Hofmann (AISTATS 2025), Theorem 1 case 4; docs/theory.md §36).

Case 4 (``kappa(0) > 0``, ``kappa'(1) > 1``, fixed point ``rho*`` in (0, 1)) states
``|rho_l - rho*| <= V(rho_0) alpha^l`` with the potential ``V(rho) = |rho - rho*|/(1 - |rho|)``.
The bound follows by induction (and ``|rho_l - rho*| <= V(rho_l)``) for every

    alpha_valid >= sup_{-1 < rho < 1} R(rho),   R(rho) = V(kappa(rho))/V(rho),

whose limits are ``kappa'(rho*)`` at ``rho*`` and ``1/kappa'(1)`` at 1; the published
``max{1 - kappa(0), kappa'(rho*), (1 - rho*)/(2 - kappa'(rho*))}`` lacks the second.
:func:`potential_ratio_sup` encloses the sup in ``[lower, upper]`` from kernel values at finitely
many points, by monotonicity (``kappa = sum a_k rho^k``, ``a_k >= 0``, ``kappa(1) = 1``):

* ``0 <= rho < 1``: ``R(rho) = D(rho, rho*)/D(rho, 1)`` with ``D(a, b)`` the secant slope of
  ``kappa`` (convex on [0, 1]), increasing in both ends; on a piece ``[u, v]``
  ``R <= D(v, rho*)/D(u, 1)`` (also for a piece that contains ``rho*``: ``D(rho, rho*) <=
  kappa'(rho*) <= D(rho*, v)``), and ``D(1, rho*) = 1``;
* ``rho = -s``, ``s`` in ``[u, v]``: ``kappa(-s) = E(s) - O(s)`` (even and odd parts, both
  nondecreasing) lies in ``[E(u) - O(v), E(v) - O(u)]``; ``rho* - rho >= rho* + u``; and
  ``(1 - s)/(1 - |kappa(-s)|)`` is at most ``(1 - u)/(1 - max |kappa(-s)|)`` and at most
  ``1/D(u, 1)`` (``|kappa(-s)| <= kappa(s)``).

Every step is Arb ball arithmetic on the kernel values' enclosures (and on ``rho*``'s), so the
enclosure is certified when they are.  The piece with the largest bound is bisected until the
upper bound is within ``rtol`` of the lower one (the largest ``R`` at a point, or a limit).

>>> import mpmath
>>> from symkernel.numerics import Result
>>> kappa = lambda r, d: Result((1 + 2 * r * r) / 3, mpmath.mpf(10) ** -d, True, "x**2")
>>> with mpmath.workdps(30):
...     star = Result(mpmath.mpf(1) / 2, mpmath.mpf(0), True, "exact")
...     enc = potential_ratio_sup(kappa, star, rtol=1e-4)
>>> round(float(enc.lower), 3), round(float(enc.upper), 3)     # 1/kappa'(1) = 3/4
(0.75, 0.75)
"""
import heapq
from dataclasses import dataclass

import mpmath

from symkernel.errors import PrecisionError
from symkernel.numerics import working
from symkernel.numerics.combine import arb_to_mpf, from_mpf, to_ball

try:
    from flint import arb
except ImportError:  # pragma: no cover - python-flint is a core dependency
    arb = None

#: the initial grid on [0, 1] (both sides of 0): 1/16 steps
_INITIAL = 16
#: a piece narrower than this is not bisected further (its bound is what it is)
_NARROWEST = mpmath.mpf(2) ** -60


@dataclass
class RatioEnclosure:
    """``lower <= sup R <= upper``; ``at``: where the lower bound comes from; ``evaluations``:
    kernel values used; ``converged``: ``upper <= lower (1 + rtol)`` was reached within the
    budget; ``certified``: every input was a proven enclosure."""
    lower: mpmath.mpf
    upper: mpmath.mpf
    at: str
    evaluations: int
    converged: bool
    certified: bool


def _up(x):
    return arb_to_mpf(x.upper())


def _low(x):
    return arb_to_mpf(x.lower())


def potential_ratio_sup(kappa, star, floors=(), *, rtol=1e-6, budget=400, digits=30,
                        kappa_minus_one=None):
    r"""Enclose ``sup_{-1<rho<1} V(kappa(rho))/V(rho)``, ``V(rho) = |rho - rho*|/(1 - |rho|)``
    (module docstring).

    ``kappa(r, d)``: a Result of the kernel map at the exact binary ``r`` to ``d`` digits;
    ``star``: a Result enclosing ``rho*``; ``floors``: ``[(Result, label)]`` known limits of the
    ratio (``kappa'(rho*)``, ``1/kappa'(1)``), lower bounds of the sup; ``kappa_minus_one``: a
    Result for ``kappa(-1)`` (else it is evaluated, or bounded by ``[2 kappa(0) - 1, 1]``).
    Runs at ``digits`` working digits (inside the numerics lock); stops after ``budget`` kernel
    values.  Returns a :class:`RatioEnclosure`.
    """
    wp = digits
    with working(wp):
        cache, certified = {}, [star.certified]

        def val(r):
            key = mpmath.mpf(r)
            if key not in cache:
                if key == 1:
                    cache[key] = arb(1)
                elif key == -1:
                    cache[key] = _kappa_minus_one(kappa, kappa_minus_one, val(0), wp, certified)
                else:
                    res = kappa(key, wp)
                    certified[0] = certified[0] and res.certified
                    cache[key] = to_ball(res)
            return cache[key]

        S = to_ball(star)
        lower, at = mpmath.mpf(0), "no point"
        for res, label in floors:
            certified[0] = certified[0] and res.certified
            low = mpmath.fsub(res.value, res.error, rounding="d")
            if low > lower:
                lower, at = low, label

        def point_ratio(t):
            """The lower end of R at the grid point t (0 where rho* blurs it)."""
            k = val(t)
            num = abs(k - S) * (1 - abs(from_mpf(t)))
            den = abs(from_mpf(t) - S) * (1 - abs(k))
            if not (den > 0):
                return mpmath.mpf(0)
            return _low(num / den)

        def slope_to_one(u):
            """D(u, 1) = (1 - kappa(u))/(1 - u) as a ball (u < 1)."""
            return (1 - val(u)) / (1 - from_mpf(u))

        def chord_slope(u):
            """N(u) = D(u, rho*) as a ball (u != rho*, u < 1); N(1) = 1."""
            if u == 1:
                return arb(1)
            d = from_mpf(u) - S
            return None if d.contains(0) else (val(u) - S) / d

        def right_bound(u, v, w):
            """Upper bound of R on rho in [u, v] (0 <= u < v <= 1; ``w < u`` a grid point, or None):
            N = D(., rho*) and Dn = D(., 1) are power series with nonnegative coefficients, so
            N lies below its chord on [u, v] and Dn above the line through Dn(u) with the slope
            of its secant on [w, u]: R <= max(N(u)/Dn(u), N(v)/(Dn(u) + sigma (v - u)))."""
            nu, nv = chord_slope(u), chord_slope(v)
            if nu is None or nv is None:
                return mpmath.inf
            du = slope_to_one(u)
            if not (du > 0):
                return mpmath.inf
            sigma = arb(0)
            if w is not None:
                sec = (du - slope_to_one(w)) / (from_mpf(u) - from_mpf(w))
                if sec > 0:
                    sigma = from_mpf(_low(sec))
            return max(_up(nu / du), _up(nv / (du + sigma * (from_mpf(v) - from_mpf(u)))))

        def left_bound(u, v):
            """Upper bound of R on rho = -s, s in [u, v] (0 <= u < v <= 1)."""
            ku, kv, kmu, kmv = val(u), val(v), val(-u), val(-v)
            even_u, even_v = (ku + kmu) / 2, (kv + kmv) / 2
            odd_u, odd_v = (ku - kmu) / 2, (kv - kmv) / 2
            k_lo = _low(even_u - odd_v)
            k_hi = _up(even_v - odd_u)
            m = max(_up(from_mpf(k_hi) - S), _up(S - from_mpf(k_lo)))
            dist = S + from_mpf(u)
            if not (dist > 0):
                return mpmath.inf
            best = mpmath.inf
            big = max(abs(k_lo), abs(k_hi))
            if big < 1:
                best = _up(from_mpf(m) * (1 - from_mpf(u)) / (dist * (1 - from_mpf(big))))
            if u < 1:
                den = slope_to_one(u)
                if den > 0:
                    best = min(best, _up(from_mpf(m) / (dist * den)))
            return best

        heap = []

        def push(side, u, v, w):
            b = right_bound(u, v, w) if side > 0 else left_bound(u, v)
            heapq.heappush(heap, (-b, side, u, v, w))

        grid = [mpmath.mpf(k) / _INITIAL for k in range(_INITIAL + 1)]
        grid = [t + _INITIAL ** -2 * (1 - t) if S.contains(from_mpf(t)) else t for t in grid]
        for t in grid[:-1]:
            for side in (1, -1):
                r = ((val(t), point_ratio(t)) if side > 0 else (val(-t), point_ratio(-t)))[1]
                if r > lower:
                    lower, at = r, f"rho = {mpmath.nstr(side * t, 8)}"
        for i, (u, v) in enumerate(zip(grid[:-1], grid[1:])):
            push(1, u, v, grid[i - 1] if i else None)
            push(-1, u, v, None)
        converged = False
        while True:
            top = -heap[0][0]
            if top <= lower * (1 + mpmath.mpf(rtol)):
                converged = True
                break
            if len(cache) >= budget:
                break
            _, side, u, v, w = heapq.heappop(heap)
            if v - u < _NARROWEST:
                heapq.heappush(heap, (-top, side, u, v, w))
                break
            m = (u + v) / 2
            if S.contains(from_mpf(m)):      # keep grid points off rho*'s ball
                m = (m + v) / 2
            r = point_ratio(side * m)
            if r > lower:
                lower, at = r, f"rho = {mpmath.nstr(side * m, 12)}"
            push(side, u, m, w)
            push(side, m, v, u if side > 0 else None)
        upper = max(-heap[0][0], lower)
        return RatioEnclosure(lower, upper, at, len(cache), converged, certified[0])


def _kappa_minus_one(kappa, given, kappa0, wp, certified):
    """kappa(-1) as a ball: ``given``, else an evaluation, else ``[2 kappa(0) - 1, 1]`` (``kappa(-1)
    = sum (-1)^k a_k >= a_0 - (1 - a_0)``) where the evaluation cannot give relative digits (an
    exact 0, as for the step activation)."""
    res = given
    if res is None:
        try:
            res = kappa(mpmath.mpf(-1), wp)
        except PrecisionError:
            res = None
    if res is not None:
        certified[0] = certified[0] and res.certified
        return to_ball(res)
    low = 2 * kappa0 - 1
    return (low + 1) / 2 + arb(0, 1) * (1 - low) / 2


__all__ = ["RatioEnclosure", "potential_ratio_sup"]
