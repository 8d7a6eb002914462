r"""Every fixed point of the length map on ``[0, ∞)``, its stability, and where a given ``q^0``
goes (Poole et al. 2016; Pabari & Zhou §3.1).

The length map is ``V(q) = σ_w² E[φ(√q Z)²] + σ_b²``.  A fixed point ``q* = V(q*)`` attracts
nearby lengths when ``|V'(q*)| < 1`` and repels them when ``|V'(q*)| > 1``; the correlation map's
slope ``χ₁ = σ_w² E[φ'(√q* Z)²]`` at the fixed point the network actually reaches decides the
phase (ordered ``χ₁ < 1``, chaotic ``χ₁ > 1``).  A length map may have several fixed points
(squared ReLU at ``σ_w² = 2.5, σ_b² = 0.05``: a stable ``q* = 1/15`` and an unstable ``q* = 1/5``;
from ``q^0 = 1`` the length diverges), so "the" fixed point is the one ``q^0`` flows to.

Estimated (float64): ``V`` by Gauss–Hermite quadrature (:mod:`.moments`); fixed points are the
sign changes of ``V(q) - q`` on a logarithmic grid of ``q`` in ``[1e-10, 1e12]`` refined by Brent's
method (a fixed point where ``V - q`` touches zero without crossing — a critical tangency — can be
missed; it is reported as such only when a grid point lands on it); ``V'`` by central differences.

>>> lm = length_map("max(x,0)**2", 2.5, 0.05)
>>> [(round(p.q, 12), round(p.slope, 9), p.stable) for p in lm.fixed_points]
[(0.066666666667, 0.5, True), (0.2, 1.5, False)]
>>> lm.outcome(1.0).kind, lm.outcome(0.1).fixed_point.q == lm.fixed_points[0].q
('diverges', True)
>>> lm.phase(0.1), round(lm.chi_1(lm.fixed_points[0]), 12)
('ordered', 0.333333333333)
"""
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import optimize

from symkernel.core.activations import as_activation
from symkernel.errors import InvalidInputError
from .moments import moments

#: the range of lengths examined; a length beyond Q_MAX counts as diverging
Q_MIN, Q_MAX = 1e-10, 1e12
#: grid points per decade of q
PER_DECADE = 12
#: layers iterated where V is not monotone between q0 and the fixed point it heads for
MAX_LAYERS = 100_000


@dataclass(frozen=True)
class FixedPoint:
    """``q* = V(q*)`` with the slope ``V'(q*)``; ``stable`` when ``|V'(q*)| < 1``."""

    q: float
    slope: float

    @property
    def stable(self):
        return abs(self.slope) < 1

    @property
    def kind(self):
        if abs(abs(self.slope) - 1) < 1e-9:
            return "marginal"
        return "stable" if self.stable else "unstable"


@dataclass(frozen=True)
class Outcome:
    """Where ``q^0`` goes: ``kind`` is ``'fixed point'`` (``fixed_point`` says which),
    ``'diverges'`` (``q^ℓ`` passes ``Q_MAX``) or ``'no convergence'`` (a cycle or a crawl that
    ``MAX_LAYERS`` layers do not settle)."""

    kind: str
    fixed_point: Optional[FixedPoint] = None


def length_slope(m, sigma_w2, q):
    """``V'(q) = σ_w² d/dq E[φ(√q Z)²]`` for the :class:`~.moments.Moments` ``m``, by a central
    difference in float64 (one-sided at ``q = 0``)."""
    q = float(q)
    if q == 0:
        return sigma_w2 * (m.np_one("V", Q_MIN) - m.np_one("V", 0.0)) / Q_MIN
    h = 1e-5 * q
    return sigma_w2 * (m.np_one("V", q + h) - m.np_one("V", q - h)) / (2 * h)


class LengthMap:
    """The length map of ``φ`` at ``(σ_w², σ_b²)``: fixed points, stability, basins, phases."""

    def __init__(self, act, sigma_w2, sigma_b2=0.0, gain=None, **params):
        self.act = as_activation(act, gain, **params)
        self.sigma_w2, self.sigma_b2 = float(sigma_w2), float(sigma_b2)
        if not (math.isfinite(self.sigma_w2) and self.sigma_w2 > 0 and math.isfinite(self.sigma_b2)
                and self.sigma_b2 >= 0):
            raise InvalidInputError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2}, "
                                    f"{sigma_b2}")
        self._m = moments(self.act)
        self.fixed_points = self._find()

    # -- the map --------------------------------------------------------------------------------
    def __call__(self, q):
        """``V(q)`` in float64."""
        return self.sigma_w2 * self._m.np_one("V", float(q)) + self.sigma_b2

    def slope(self, q):
        """``V'(q)`` by a central difference (one-sided at ``q = 0``)."""
        return length_slope(self._m, self.sigma_w2, q)

    def chi_1(self, point):
        """``χ₁ = σ_w² E[φ'(√q* Z)²]`` at a fixed point (at ``q* = 0``: its limit ``q -> 0+``,
        taken at ``Q_MIN``, since a kink at 0 has no ``φ'(0)``)."""
        return self.sigma_w2 * self._m.np_one("D1", max(float(point.q), Q_MIN))

    # -- fixed points ---------------------------------------------------------------------------
    def _find(self):
        grid = np.logspace(math.log10(Q_MIN), math.log10(Q_MAX),
                           int(PER_DECADE * math.log10(Q_MAX / Q_MIN)) + 1)
        with np.errstate(all="ignore"):
            g = np.array([self(q) - q for q in grid])
        finite = np.isfinite(g)
        if not finite.all():                     # overflow: beyond here q diverges anyway
            grid, g = grid[:np.argmin(finite)], g[:np.argmin(finite)]
        # |V(q) - q| within rounding of q counts as zero: ReLU at sigma_w2 = 2, sigma_b2 = 0 has
        # V(q) = q for every q (a line of fixed points, each marginal)
        sign = np.where(np.abs(g) <= 1e-12 * grid, 0, np.sign(g)).astype(int)
        self.every_length_fixed = bool(len(sign) and np.all(sign == 0))
        if self.every_length_fixed:
            return []
        points = [0.0] if self(0.0) == 0 else []   # sigma_b2 = 0 and phi(0) = 0
        nonzero = np.flatnonzero(sign)
        for i, j in zip(nonzero[:-1], nonzero[1:]):
            if sign[i] == sign[j]:
                continue
            if j == i + 1:
                points.append(optimize.brentq(lambda q: self(q) - q, grid[i], grid[j],
                                              xtol=1e-300, rtol=1e-15, maxiter=200))
            else:                                # a run of grid points on the root
                points.append(float(grid[(i + j) // 2]))
        return [FixedPoint(q, self.slope(q)) for q in points]

    # -- where q0 goes --------------------------------------------------------------------------
    def outcome(self, q0):
        """The :class:`Outcome` of iterating ``V`` from ``q0 > 0``."""
        q0 = float(q0)
        if not (math.isfinite(q0) and q0 > 0):
            raise InvalidInputError(f"q0 must be a positive length, got {q0}")
        if self.every_length_fixed:
            return Outcome("fixed point", FixedPoint(q0, 1.0))
        for p in self.fixed_points:
            if abs(p.q - q0) <= 1e-12 * q0:
                return Outcome("fixed point", p)
        up = self(q0) > q0
        above = [p for p in self.fixed_points if p.q > q0]
        below = [p for p in self.fixed_points if p.q < q0]
        target = (above[0] if above else None) if up else (below[-1] if below else None)
        if self._monotone(q0, target.q if target is not None else (Q_MAX if up else Q_MIN)):
            # V increasing between q0 and the next fixed point: the orbit moves monotonically
            # toward it (or past every one, upward, to infinity)
            return Outcome("fixed point", target) if target is not None else Outcome("diverges")
        return self._iterate(q0)

    def _monotone(self, a, b):
        lo, hi = sorted((max(a, Q_MIN), max(b, Q_MIN)))
        qs = np.logspace(math.log10(lo), math.log10(hi), 64)
        vs = np.array([self(q) for q in qs])
        return bool(np.all(np.isfinite(vs)) and np.all(np.diff(vs) >= 0))

    def _iterate(self, q):
        for _ in range(MAX_LAYERS):
            nxt = self(q)
            if not math.isfinite(nxt) or nxt > Q_MAX:
                return Outcome("diverges")
            if abs(nxt - q) <= 1e-13 * max(q, 1e-300):
                near = min(self.fixed_points, key=lambda p: abs(p.q - nxt), default=None)
                if near is not None and abs(near.q - nxt) <= 1e-8 * max(nxt, 1e-300):
                    return Outcome("fixed point", near)
                return Outcome("fixed point", FixedPoint(nxt, self.slope(nxt)))
            q = nxt
        return Outcome("no convergence")

    def phase(self, q0=1.0):
        """``'ordered'`` / ``'chaotic'`` / ``'critical'`` (``χ₁`` at the fixed point ``q0`` flows
        to), ``'q diverges'``, or ``'undecided'`` (no convergence)."""
        out = self.outcome(q0)
        if out.kind == "diverges":
            return "q diverges"
        if out.kind != "fixed point":
            return "undecided"
        chi = self.chi_1(out.fixed_point)
        if abs(chi - 1) < 1e-9:
            return "critical"
        return "ordered" if chi < 1 else "chaotic"


def length_map(act, sigma_w2, sigma_b2=0.0, gain=None, **params):
    """The :class:`LengthMap` of an activation at ``(sigma_w2, sigma_b2)``."""
    return LengthMap(act, sigma_w2, sigma_b2, gain, **params)
