r"""The edge of chaos at ``sigma_b^2 = 0`` where ``q* = 0``: one-sided slopes and the small-``q``
expansion of the length map (docs/theory.md §30).

With ``sigma_b^2 = 0`` and ``phi(0) = 0``, ``q = 0`` is a fixed point of the length map
``q -> sigma_w^2 V(q)``, ``V(q) = E[phi(sqrt q Z)^2]``, and ``chi_1 -> sigma_w^2 D`` there, with
``D = lim_{q->0+} E[phi'(sqrt q Z)^2] = (phi'(0-)^2 + phi'(0+)^2)/2`` (the average of the squared
one-sided slopes: SELU's is ``lambda^2 (1 + alpha^2)/2``).  So ``chi_1 = 1`` at
``sigma_w^2 = 1/D``, where the length map's slope ``sigma_w^2 V'(0+) = sigma_w^2 D`` is 1 too:
whether ``q* = 0`` attracts is decided by the next term of

.. math::  V(q) - D q \sim \sum_{n \ge 3} q^{n/2}\, \tfrac{1}{2} E|Z|^n\,(P_n + (-1)^n L_n),
           \qquad E|Z|^n = 2^{n/2}\,\Gamma(\tfrac{n+1}{2})/\sqrt\pi,

``P_n, L_n`` the coefficients of ``x^n`` in the right and left Taylor series of ``phi(x)^2``
at 0 (each side's Gaussian half-moment).  A negative first term puts the map below the diagonal:
lengths fall to 0 and ``(1/D, 0)`` is the edge of chaos (tanh, erf, sin: ``-2 a_1 a_3``-type
terms; ELU, SELU, softsign: the ``q^{3/2}`` term of their kink).  A positive one (GELU, SiLU,
Mish: ``phi = x/2 + a_2 x^2 + ...`` gives ``3 a_2^2 q^2``) makes ``q = 0`` repel lengths: no edge
of chaos there.  Where ``phi`` is linear on both sides of 0 up to breakpoints (hardtanh), every
term vanishes and the sign is that of ``phi(y)^2 - phi'(0\pm)^2 y^2`` just beyond the nearest
breakpoint, weighted ``phi(b/sqrt q) q^{k+1/2}/|b|^{k+1}`` (``k`` its first nonzero derivative).

>>> zero_fixed_point("selu").sigma_w2
2/(lambda_01**2*(1 + alpha_01**2))
>>> [zero_fixed_point(a).stable for a in ("tanh", "elu", "hardtanh", "gelu")]
[True, True, True, False]
>>> zero_fixed_point("gelu").leading
3*q**2/(2*pi)
"""
from dataclasses import dataclass
from typing import Optional

import sympy as sp

from symkernel.core.activations import SIMPLIFY_FAILURES, as_activation
from symkernel.core.quantity import proved_zero
from symkernel.core.symbols import x
from .moments import Q, moments

#: Taylor orders of each side of ``phi`` at 0, tried in turn (``phi^2`` is then exact up to
#: ``x^(order+1)``); the last one bounds what is decided
ORDERS = (5, 11)
ORDER = ORDERS[-1]
#: derivatives of ``phi^2 - D_side y^2`` tried at a breakpoint (the linear-centre case)
BREAK_ORDER = 4


@dataclass(frozen=True)
class ZeroFixedPoint:
    """``q = 0`` at ``sigma_b^2 = 0``: ``D`` (the ``q -> 0+`` limit of ``E[phi'^2]``),
    ``sigma_w2 = 1/D`` (exact SymPy), ``stable`` (True: lengths fall to 0 at ``sigma_w2``;
    False: they leave it; None: undecided) and ``leading``, the first nonzero term of
    ``V(q) - D q`` (SymPy, in the symbol ``q`` of :mod:`.moments`; None when undecided)."""

    D: sp.Expr
    sigma_w2: sp.Expr
    stable: Optional[bool]
    leading: Optional[sp.Expr]


def _sign(expr):
    """+1 or -1 (a 30-digit evaluation clearly away from 0), 0 when ``expr`` is proved 0
    (:func:`~symkernel.core.quantity.proved_zero`), None when neither is established."""
    expr = sp.sympify(expr)
    if expr == 0:
        return 0
    try:
        v = sp.N(expr, 30, maxn=200)
        if v.is_number and not v.has(sp.I) and abs(v) > sp.Float(10) ** -25:
            return 1 if v > 0 else -1
        return 0 if proved_zero(expr) else None
    except SIMPLIFY_FAILURES:
        return None


def _taylor(expr, order):
    """Coefficients ``[c_0, ..., c_order]`` of ``expr`` at ``x = 0`` (None if not a power series)."""
    try:
        s = sp.series(expr, x, 0, order + 1).removeO()
        poly = sp.Poly(s, x)
    except SIMPLIFY_FAILURES:
        return None
    c = poly.all_coeffs()[::-1]
    return [sp.Rational(v) if v.is_Float else v for v in c] + [sp.Integer(0)] * (order + 1 - len(c))


def _square(c):
    """Coefficients of the square of a series known to ``x^ORDER`` (exact up to ``x^(ORDER+1)``
    when ``c_0 = 0``)."""
    n = len(c)
    return [sp.expand(sum(c[i] * c[k - i] for i in range(max(0, k - n + 1), min(k, n - 1) + 1)))
            for k in range(n + 1)]


def _abs_moment(n):
    """``E|Z|^n`` exactly."""
    return sp.simplify(2 ** sp.Rational(n, 2) * sp.gamma(sp.Rational(n + 1, 2)) / sp.sqrt(sp.pi))


def _central(m):
    """``(left piece, right piece)`` of ``phi`` at 0 (the same piece when 0 is interior), with
    their indices."""
    pieces = m.pieces
    for i, p in enumerate(pieces):
        if p.lo < 0 < p.hi:
            return (i, p), (i, p)
    i = next(j for j, p in enumerate(pieces) if p.lo == 0)
    return (i - 1, pieces[i - 1]), (i, pieces[i])


def _beyond(m, i, side, slope2):
    """``(|b|, k, d)`` for the breakpoint ``b`` ending the linear central piece ``i`` on ``side``
    (+1 right, -1 left): ``d = side^k f^{(k)}(b)``, ``f = phi^2 - slope2 y^2`` on the piece
    beyond ``b``, ``k`` its first derivative decided nonzero; None when there is no breakpoint
    or none up to ``BREAK_ORDER`` is decided nonzero."""
    j = i + side
    if not 0 <= j < len(m.pieces):
        return None
    nxt = m.pieces[j]
    b = nxt.lo if side > 0 else nxt.hi
    f = nxt.expr**2 - slope2 * x**2
    for k in range(1, BREAK_ORDER + 1):
        d = sp.simplify(sp.diff(f, x, k).subs(x, b))
        s = _sign(d)
        if s is None:
            return None
        if s != 0:
            return abs(b), k, side**k * d
    return None


def _flat_case(m, left, right, l1, r1):
    """``V(q) - D q`` as ``q -> 0+`` when ``phi`` is linear on both central pieces: each nearest
    breakpoint ``b`` adds ``d phi(b/sqrt q) q^(k+1/2)/|b|^(k+1)`` (lowest ``k`` only), since
    ``E[(Z - beta)^k; Z > beta] ~ k! phi(beta)/beta^(k+1)``.  Returns ``(stable, leading)``."""
    found = [e for e in (_beyond(m, left[0], -1, l1**2), _beyond(m, right[0], 1, r1**2)) if e]
    if not found:
        return None, None
    b, k = min(((e[0], e[1]) for e in found), key=lambda e: (sp.N(e[0], 30), e[1]))
    total = sp.simplify(sum(e[2] for e in found if _sign(e[0] - b) == 0 and e[1] == k))
    s = _sign(total)
    if not s:
        return None, None
    term = total * sp.exp(-b**2 / (2 * Q)) / sp.sqrt(2 * sp.pi) * Q**(k + sp.Rational(1, 2)) / b**(k + 1)
    return s < 0, sp.simplify(term)


def _compute(act):
    m = moments(act)
    if not m.continuous or m.exact_limit("V") != 0:
        return None
    (li, left), (ri, right) = _central(m)
    done = 2
    for order in ORDERS:
        lc, rc = _taylor(left.expr, order), _taylor(right.expr, order)
        if lc is None or rc is None:
            return None
        l1, r1 = lc[1], rc[1]
        D = sp.simplify((l1**2 + r1**2) / 2)
        if _sign(D) != 1:
            return None                  # phi'(0+-) = 0: no finite sigma_w2 at q = 0
        w = sp.simplify(1 / D)
        P, L = _square(rc), _square(lc)
        for n in range(done + 1, order + 2):
            T = sp.simplify(_abs_moment(n) * (P[n] + (-1)**n * L[n]) / 2)
            s = _sign(T)
            if s is None:
                return ZeroFixedPoint(D, w, None, None)
            if s != 0:
                return ZeroFixedPoint(D, w, s < 0, sp.simplify(T * Q**sp.Rational(n, 2)))
        done = order + 1
        if all(_sign(sp.simplify(p.expr - c * x)) == 0 for p, c in ((left, l1), (right, r1))):
            stable, leading = _flat_case(m, (li, left), (ri, right), l1, r1)
            return ZeroFixedPoint(D, w, stable, leading)
    return ZeroFixedPoint(D, w, None, None)


def zero_fixed_point(act, gain=None, **params):
    """The :class:`ZeroFixedPoint` of ``phi`` (cached per expression), or None where ``q = 0``
    is no fixed point at ``sigma_b^2 = 0`` (``phi(0) != 0``), ``phi`` jumps, or
    ``phi'(0+-) = 0`` (``sigma_w^2 = 1/D`` infinite)."""
    act = as_activation(act, gain, **params)
    key = act.expr
    if key not in _DONE:
        if len(_DONE) > 256:
            _DONE.clear()
        _DONE[key] = _compute(act)
    return _DONE[key]


#: results per activation expression (an activation object is rebuilt on every call by name)
_DONE = {}
