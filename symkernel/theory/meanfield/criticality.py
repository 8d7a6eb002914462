r"""The edge of chaos ``chi_1 = 1`` and the critical curve in the ``(sigma_w^2, sigma_b^2)`` plane.

On the critical line ``sigma_w^2 = 1/D1(q*)``; putting that into the fixed-point equation
``q* = sigma_w^2 V(q*) + sigma_b^2`` leaves one equation in ``q`` alone:

.. math::  g(q) \equiv q - V(q)/D1(q) = \sigma_b^2, \qquad \sigma_w^2 = 1/D1(q)

(``V = E[phi(sqrt q Z)^2]``, ``D1 = E[phi'(sqrt q Z)^2]``).  We take the smallest root ``q >= 0``.
Special cases, exact: ``sigma_b^2 = 0`` with ``phi(0) = 0`` gives ``q* = 0,
sigma_w^2 = 1/D``, ``D = (phi'(0-)^2 + phi'(0+)^2)/2``, where ``q = 0`` attracts lengths there
(tanh: 1, erf: pi/4, SELU: ``2/(lambda^2 (1 + alpha^2))``, hardtanh: 1); where it repels them
(GELU, SiLU, Mish) there is no edge of chaos at ``q* = 0`` (:mod:`.zero_bias`, docs/theory.md
§30).  A positively homogeneous ``phi`` (ReLU) has ``g = 0`` identically: ``sigma_w^2 = 1/D1``
(ReLU: 2) at ``sigma_b^2 = 0`` with every ``q`` fixed (``q* = q0``, the input length), and no
critical point at ``sigma_b^2 > 0``.

>>> import symkernel as sk
>>> [v.expr for v in sk.edge_of_chaos("relu", sigma_b2=0)]
[2, 1]
>>> sk.edge_of_chaos("erf", sigma_b2=0)[0].expr
pi/4
>>> sk.edge_of_chaos("hardtanh", sigma_b2=0)[1].expr
0
>>> w, q = sk.edge_of_chaos("tanh", sigma_b2=0.05); round(float(w), 12), round(float(q), 12)
(1.760954639607, 0.570047881641)
"""
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp
from scipy import optimize

from symkernel.numerics import serialized
from symkernel.errors import InvalidInputError, PrecisionError
from symkernel.core.activations import as_activation
from symkernel.core.progress import progress as show_progress
from symkernel.numerics import GUARD, converge
from symkernel.core.quantity import Quantity
from .maps import NoFixedPointError, _Root, _as_variance, _mp_value, _reusing, _square
from .fixed_points import length_slope
from .moments import Q, moments
from .zero_bias import ORDER, zero_fixed_point

_SCAN = np.concatenate([[1e-10, 1e-8, 1e-6], np.geomspace(1e-4, 1e7, 400)])


def _g_float(m, q):
    return q - m.np_one("V", q) / m.np_one("D1", q)


def _g_mp(m, sb2):
    """``g(q) - sigma_b^2`` at working precision ``wp`` (moments by ``Moments.raw``)."""
    values = {}

    def g(q, wp):
        if wp not in values:
            values[wp] = _mp_value(sb2, wp)
        return q - m.raw("V", q, wp) / m.raw("D1", q, wp) - values[wp]
    return g


def _g_ball(m, sb2):
    """``(g(q) - sigma_b^2, radius)`` at working precision ``wp`` with ``V`` and ``D1`` proven
    Results (closed form or Arb): ``|V/D1 - v/d| <= (r_V + |v/d| r_D)/(|d| - r_D)``, plus the
    roundings (``sigma_b2`` at ``wp`` digits, three operations) below ``10^-(wp-1)`` of the terms'
    sizes; ``(value, inf)`` where either is estimated."""
    g = _g_mp(m, sb2)

    def ball(q, wp):
        v, d = m.ball("V", q, wp), m.ball("D1", q, wp)
        if v is None or d is None or not (v.certified and d.certified) or abs(d.value) <= d.error:
            return g(q, wp), mpmath.inf
        ratio = v.value / d.value
        b = _mp_value(sb2, wp)
        radius = (v.error + abs(ratio) * d.error) / (abs(d.value) - d.error) + \
            (abs(q) + abs(ratio) + abs(b)) * mpmath.mpf(10) ** (-(wp - 1))
        return q - ratio - b, radius
    return ball


def _g_slope(m, q):
    """``{"slope": g'(q), "slope_error": e}`` in float64, ``g' = 1 - ((D1 + D2) D1 - V dD1)/D1^2``
    (``dV/dq = D1 + D2`` by Stein; ``e = 1e-13 (2 + |g'|)/|g'|``, at least ``1e-10``), or
    ``{"slope": None}``."""
    if not q > 0:
        return {"slope": None}
    v, d1, d2, dd1 = (m.np_one(k, q) for k in ("V", "D1", "D2", "dD1"))
    slope = 1 - ((d1 + d2) * d1 - v * dd1) / (d1 * d1)
    if not (np.isfinite(slope) and abs(slope) > 1e-8):
        return {"slope": None}
    return {"slope": slope, "slope_error": max(1e-10, 1e-13 * (2 + abs(slope)) / abs(slope))}


def _homogeneous(m):
    v, d1 = m.exact("V"), m.exact("D1")
    if v is None or d1 is None:
        return None
    return d1 if sp.simplify(Q - v / d1) == 0 else None


def _zero_edge(act, m):
    """At ``sigma_b^2 = 0``: ``(zero, why)`` with ``zero`` the :class:`.zero_bias.ZeroFixedPoint`
    when ``q* = 0`` is the edge of chaos (it attracts lengths at ``sigma_w^2 = 1/D``), else None,
    and ``why`` a sentence for an error message when ``q = 0`` repels lengths there (else "")."""
    zero = zero_fixed_point(act)
    if zero is None:
        return None, ""
    if zero.stable is None:
        raise PrecisionError(
            f"{act.name}: could not decide whether q* = 0 attracts lengths at sigma_b2 = 0, "
            f"sigma_w2 = {zero.sigma_w2}: the expansion of E[phi(sqrt(q)Z)^2] - {zero.D} q at "
            f"q -> 0 has no term decided nonzero up to order q^{(ORDER + 1) // 2} (and phi is not "
            "linear on both sides of 0)")
    if zero.stable:
        return zero, ""
    return None, (f"q* = 0 has chi_1 = 1 at sigma_w2 = {zero.sigma_w2} but repels lengths there "
                  f"(E[phi(sqrt(q)Z)^2] = {zero.D} q + {zero.leading} + ... lies above q/sigma_w2)")


def _float_root(m, sb2, q_from=0.0):
    """Smallest q > q_from with g(q) = sb2 (float64), by scanning then brentq."""
    prev_q, prev = None, None
    grid = _SCAN[_SCAN > q_from] if q_from > 0 else _SCAN
    if q_from > 0:
        grid = np.concatenate([[q_from], grid])
    for q in grid:
        val = _g_float(m, q) - sb2
        if not np.isfinite(val):
            break
        if val == 0:
            return q
        if prev is not None and (prev < 0) != (val < 0):
            return optimize.brentq(lambda t: _g_float(m, t) - sb2, prev_q, q, xtol=1e-300, rtol=1e-15)
        prev_q, prev = q, val
    raise NoFixedPointError(f"{m.act.name}: no point of the critical line chi_1 = 1 with "
                            f"sigma_b2 = {sb2} and q* <= {_SCAN[-1]:g}")


def _stable_root(m, sb2):
    """The smallest q on the critical line at ``sb2`` that is a stable fixed point of the length
    map (slope ``|V'(q*)| < 1`` at ``sigma_w2 = 1/D1(q*)``); a NoFixedPointError naming the
    unstable ones otherwise (squared ReLU, exp: their chi_1 = 1 points repel lengths)."""
    unstable, q_from = [], 0.0
    while True:
        try:
            q = _float_root(m, sb2, q_from)
        except NoFixedPointError:
            if not unstable:
                raise
            shown = "; ".join(f"q* = {q:.6g} at sigma_w2 = {w:.6g} (length-map slope {s:.4g})"
                              for q, w, s in unstable)
            raise NoFixedPointError(
                f"{m.act.name}: no stable edge of chaos at sigma_b2 = {sb2}: every point with "
                f"chi_1 = 1 is an unstable fixed point of the length map ({shown}), which "
                "lengths leave, so no network settles there") from None
        w = 1 / m.np_one("D1", q)
        slope = length_slope(m, w, q)
        if abs(slope) < 1:
            return q
        unstable.append((q, w, slope))
        q_from = q * (1 + 1e-9) + 1e-300


@serialized
def edge_of_chaos(act, sigma_b2=0.05, gain=None, q0=1, **params):
    r"""``(sigma_w2, q_star)`` on the critical line ``chi_1 = 1`` at bias variance ``sigma_b2``.

    Both are Quantities: exact when the moments are (ReLU, erf at ``sigma_b2 = 0``, ...),
    otherwise roots of ``g(q) = sigma_b^2`` refined with mpmath to any requested digits.  Only a
    stable fixed point of the length map counts (``|V'(q*)| < 1``, :mod:`.fixed_points`); where
    every ``chi_1 = 1`` point is unstable a NoFixedPointError says so.  At ``sigma_b2 = 0`` with
    ``phi(0) = 0``: ``(1/D, 0)`` exactly when ``q = 0`` attracts lengths there, a
    NoFixedPointError when it repels them and no ``q > 0`` is a stable critical point
    (:mod:`.zero_bias`).  ``q0``: the input length, which is ``q*`` where every length is fixed
    (positively homogeneous ``phi`` at ``sigma_b2 = 0``; default 1, as :func:`.maps.mean_field`).
    ``gain`` and registry ``params``: as :func:`~symkernel.core.activations.as_activation`.
    """
    act = as_activation(act, gain, **params)
    m = moments(act)
    m.require_continuous("chi_1")
    sb2 = _as_variance("sigma_b2", sigma_b2)
    q0 = _as_variance("q0", q0, allow_zero=False)
    params = (("activation", act.expr), ("sigma_b2", sb2))
    hom = _homogeneous(m)
    if hom is not None:
        if sb2 != 0:
            raise NoFixedPointError(
                f"{act.name} is positively homogeneous: chi_1 = sigma_w2*{hom} and the length map "
                f"has a finite fixed point only when chi_1 < 1, so there is no edge of chaos at "
                f"sigma_b2 = {sb2} > 0 (only at sigma_b2 = 0, sigma_w2 = {1 / hom})")
        return (Quantity(sp.simplify(1 / hom), r"\sigma_w^{2}", "exact: 1/E[phi'^2]", params=params),
                Quantity(q0, "q^{*}", "exact: every q is a fixed point at criticality; q* = q0, "
                         "the input length", params=(*params, ("q0", q0))))
    if sb2.free_symbols:
        raise InvalidInputError("edge_of_chaos needs a numeric sigma_b2 for this activation")
    why = ""
    if sb2 == 0:
        zero, why = _zero_edge(act, m)
        if zero is not None:
            prov = (f"exact: 1/D, D = {zero.D} = (phi'(0-)^2 + phi'(0+)^2)/2 = lim_(q->0) "
                    f"E[phi'(sqrt(q)Z)^2]; q* = 0 attracts lengths (E[phi(sqrt(q)Z)^2] - D q = "
                    f"{zero.leading} + ... < 0)")
            return (Quantity(zero.sigma_w2, r"\sigma_w^{2}", prov, params=params),
                    Quantity(sp.Integer(0), "q^{*}", "exact: q* = 0, a fixed point of the length "
                             "map at sigma_b2 = 0 (phi(0) = 0) that attracts lengths", params=params))
    try:
        qf = _stable_root(m, float(sb2))
    except NoFixedPointError as exc:
        if not why:
            raise
        raise NoFixedPointError(f"{act.name}: no stable edge of chaos at sigma_b2 = 0: {why}, so "
                                f"no network settles there; nor is any q > 0 ({exc})") from None
    certain = not isinstance(sb2, Quantity)
    root = _Root(_g_mp(m, sb2), qf, lo=0,
                 method="q* on the critical line (root of q - V/D1 = sigma_b2)",
                 ball=_g_ball(m, sb2) if certain else None, snap=_square, **_g_slope(m, qf))

    def w_value(dps):
        return converge(lambda wp: 1 / m.raw("D1", root.raw(wp), wp, GUARD), dps,
                        method="sigma_w2 = 1/D1(q*) on the critical line")
    prov = ("estimated: root of q - V(q)/D1(q) = sigma_b2 (float64 scan + brentq, then secant steps "
            "and a sign change of Arb-enclosed or closed-form values bracketing it, else Illinois "
            "on mpmath quadrature), accepted when two working precisions agree")
    return (Quantity(None, r"\sigma_w^{2}", prov, _reusing(w_value), params=params),
            Quantity(None, "q^{*}", prov, _reusing(root.result), params=params))


@serialized
def critical_curve(act, sigma_b2_values, gain=None, progress=None, **params):
    r"""The critical curve ``sigma_w^2(sigma_b^2)`` in float64 (about 13 digits) for an array of
    ``sigma_b^2`` (sorted internally): continuation, each root bracketed from the previous ``q*``;
    at ``sigma_b^2 = 0`` with an attracting ``q* = 0`` the exact ``1/D`` of :mod:`.zero_bias`
    rounded (and ``q* = 0``; NaN for a positively homogeneous ``phi``, where every ``q`` is fixed).
    ``progress``: a bar over the grid (:func:`symkernel.core.progress.progress`).

    Returns ``(sigma_w2, q_star)`` arrays in the order of ``sigma_b2_values``; NaN where the
    critical line has no stable fixed point of the length map at that ``sigma_b^2``.

    >>> w, q = critical_curve("tanh", [0.0, 0.05, 0.1])
    >>> [round(float(v), 10) for v in w]
    [1.0, 1.7609546396, 1.9860726411]
    """
    act = as_activation(act, gain, **params)
    m = moments(act)
    m.require_continuous("chi_1")
    sb = np.asarray(sigma_b2_values, dtype=float)
    if sb.ndim != 1 or np.any(sb < 0) or not np.all(np.isfinite(sb)):
        raise InvalidInputError("sigma_b2_values must be a 1-d array of nonnegative numbers")
    hom = _homogeneous(m)
    if hom is not None and np.any(sb > 0):
        raise NoFixedPointError(f"{act.name} has an edge of chaos only at sigma_b2 = 0")
    order = np.argsort(sb)
    w, q = np.empty_like(sb), np.empty_like(sb)
    q_prev = 0.0
    zero = None
    if hom is None and np.any(sb == 0):
        zero = _zero_edge(act, m)[0]     # q* = 0 attracting at sigma_w2 = 1/D: exact there
    for i in show_progress(order, desc=f"critical curve of {act.name}", enabled=progress):
        if sb[i] == 0 and (zero is not None or hom is not None):
            q[i] = 0.0 if hom is None else np.nan
            w[i] = float(sp.N(zero.sigma_w2 if hom is None else 1 / hom, 20))
            continue
        try:
            q[i] = _bracket_from(m, sb[i], q_prev)
            w[i] = 1 / m.np_one("D1", q[i])
            if abs(length_slope(m, w[i], q[i])) >= 1:      # an unstable fixed point: look on
                q[i] = _stable_root(m, float(sb[i]))
                w[i] = 1 / m.np_one("D1", q[i])
        except NoFixedPointError:
            q[i] = w[i] = np.nan                          # no stable point at this sigma_b2
            continue
        q_prev = q[i]
    return w, q


def _bracket_from(m, sb2, q_prev):
    """Root of g(q) = sb2 at or above q_prev (continuation: g is increasing along the curve)."""
    lo = q_prev if q_prev > 0 else 1e-12      # g(0) need not be 0 (exp: g(q) = q - 1)
    f_lo = _g_float(m, lo) - sb2
    step = max(lo, 1e-6) * 0.5
    for _ in range(200):
        hi = lo + step
        f_hi = _g_float(m, hi) - sb2
        if not (np.isfinite(f_hi) and np.isfinite(f_lo)):
            break                       # overflow before a sign change: scan afresh below
        if (f_lo < 0) != (f_hi < 0) or f_hi == 0:
            return optimize.brentq(lambda t: _g_float(m, t) - sb2, lo, hi, xtol=1e-300, rtol=1e-15)
        lo, f_lo, step = hi, f_hi, step * 2
    return _float_root(m, sb2)


@dataclass(frozen=True)
class CriticalMinimum:
    """The minimum of ``sigma_w^2`` along the critical line (:func:`critical_minimum`): the
    numbers as Quantities; ``res["sigma_w2"]`` reads a field too (the dict this used to be)."""

    sigma_w2: Quantity
    sigma_w: Quantity
    q_star: Quantity
    sigma_b2: Quantity
    at_boundary: bool
    D1_decreasing: bool

    def __getitem__(self, name):
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)


@serialized
def critical_minimum(act, sigma_b2_min=0, gain=None, **params):
    r"""The smallest ``sigma_w^2`` on the critical line over ``sigma_b^2 >= sigma_b2_min``.

    Along the line, parametrized by ``q``: ``sigma_w^2 = 1/D1(q)``, ``sigma_b^2 = g(q)``.  A
    float64 scan of ``q`` finds where the minimum over ``{g >= sigma_b2_min}`` lies:

    - at the boundary ``g = sigma_b2_min`` (Pabari & Zhou Theorem 1 for the sigmoid: at
      ``sigma_b^2 = 0``): the value is :func:`edge_of_chaos` there, to any number of digits;
    - in the interior (GELU, SiLU, Mish): ``D1`` is maximal there, so ``q`` is the root of
      ``dD1/dq = E[(Z^2-1) phi'(sqrt q Z)^2]/(2q)`` (bracketed by the scan, refined with mpmath at
      two precisions), and ``sigma_b^2 = g(q)`` is returned as a Quantity too.

    Returns a :class:`CriticalMinimum`: ``sigma_w2``, ``sigma_w``, ``q_star``, ``sigma_b2``
    (Quantities), ``at_boundary`` and ``D1_decreasing`` (``1/D1`` increasing on the scanned
    feasible set).

    >>> res = critical_minimum("gelu")
    >>> res.at_boundary, round(float(res.sigma_w2), 10), round(float(res.sigma_b2), 10)
    (False, 1.9558088557, 0.3273772572)
    """
    act = as_activation(act, gain, **params)
    m = moments(act)
    m.require_continuous("chi_1")
    g = np.array([_g_float(m, q) for q in _SCAN])
    d1 = np.array([m.np_one("D1", q) for q in _SCAN])
    feasible = g >= float(sigma_b2_min)
    if not feasible.any():
        raise NoFixedPointError("no feasible point of the critical line on the scanned range")
    first = int(np.argmax(feasible))
    best = first + int(np.argmin(np.where(feasible, 1 / d1, np.inf)[first:]))
    at_boundary = best == first
    tail = 1 / d1[first:][feasible[first:]]
    if at_boundary:
        w, q = edge_of_chaos(act, sigma_b2_min)
        sb2 = Quantity(_as_variance("sigma_b2", sigma_b2_min), r"\sigma_b^{2}",
                       "exact: the minimum lies on the boundary sigma_b2 = sigma_b2_min",
                       params=w.params)
    else:
        if best == len(_SCAN) - 1 or not feasible[best + 1]:
            raise NoFixedPointError(
                f"{act.name}: sigma_w^2 keeps decreasing along the critical line up to q = "
                f"{_SCAN[best]:g}; the infimum is not attained on the scanned range")
        q, w, sb2 = _interior_minimum(m, _SCAN[best - 1], _SCAN[best + 1], act)
    sw = Quantity(None, r"\sigma_w", "estimated: sqrt of the estimated sigma_w2",
                  lambda dps: mpmath.sqrt(w.value(dps + 2)), params=w.params) if not w.exact else \
        Quantity(sp.sqrt(w.expr), r"\sigma_w", "exact", params=w.params)
    return CriticalMinimum(w, sw, q, sb2, at_boundary, bool(np.all(np.diff(tail) > 0)))


def _interior_minimum(m, lo, hi, act):
    """(q, sigma_w2, sigma_b2) Quantities at the root of dD1/dq in [lo, hi]."""
    f = lambda t: m.np_one("dD1", t)  # noqa: E731
    if (f(lo) > 0) == (f(hi) > 0):
        raise NoFixedPointError(f"{act.name}: no sign change of dD1/dq around the scanned minimum")
    qf = optimize.brentq(f, lo, hi, xtol=1e-300, rtol=1e-15)

    root = _Root(lambda t, wp: m.raw("dD1", t, wp), qf, lo=0,
                 method="interior minimum of 1/D1 (root of dD1/dq)")

    def w_value(dps):
        return converge(lambda wp: 1 / m.raw("D1", root.raw(wp), wp), dps,
                        method="sigma_w2 = 1/D1 at the minimum")

    def b_run(wp):
        qq = root.raw(wp)
        return qq - m.raw("V", qq, wp) / m.raw("D1", qq, wp)

    def b_value(dps):                    # q - V/D1 may cancel digits: judged relatively
        return converge(b_run, dps, method="sigma_b2 = q - V/D1 at the minimum")
    params = (("activation", act.expr),)
    prov = ("estimated: interior minimum of 1/D1 on the critical line (root of dD1/dq by "
            "Illinois on Arb/mpmath moments), accepted when two working precisions agree")
    return (Quantity(None, "q^{*}", prov, _reusing(root.result), params=params),
            Quantity(None, r"\sigma_w^{2}", prov, _reusing(w_value), params=params),
            Quantity(None, r"\sigma_b^{2}", prov, _reusing(b_value), params=params))
