r"""Process collapse and post-activation growth in general width (Hayou (TMLR 2023) Lemma 2,
Prop. 10; docs/theory.md §10.3).

* :func:`lemma2_conditions` — Itô's lemma for ``log‖φ(X)‖²`` under ``dX = n^{−1/2}‖φ(X)‖ dB``
  (``S = Σ φ(X_i)²``): drift ``(1/n) Σ(φ'² + φφ'')(X_i) − (2/n) Σ φ²φ'²/S`` and volatility
  ``(2/√n)(Σ φ²φ'²/S)^{1/2}``.  When φ is C² with ``φ'`` and ``φφ''`` bounded both are bounded,
  ``log S`` cannot reach ``−∞`` in finite time, and the process never collapses (Lemma 2); the
  function checks these conditions symbolically (limits at ``±∞`` and at the breakpoints).
* :func:`feller_collapse_probability` — why the conditions matter: ``φ(x) = √(max(x, 0))`` (not
  Lipschitz at 0) gives the Feller diffusion ``dX = √X dB``, whose Laplace exponent ``u`` solves
  ``u' = −u²/2``, ``u(0) = λ``; ``P(X_t = 0) = lim_{λ→∞} e^{−x0 u(t)} = e^{−2x0/t} > 0``.
* :func:`piecewise_linear_growth` — Prop. 10's mean logarithmic growth factor at ``t = 0`` for
  ``φ(x) = a x`` (``x > 0``), ``b x`` (``x < 0``), ``X_0 ~ N(0, I_n)``: the drift of
  ``log‖φ(X)‖`` is ``(a² k + b²(n − k))/(2n) − (a⁴U + b⁴V)/(n(a²U + b²V))`` (``k`` positive
  coordinates, ``U``/``V`` the sums of their squares); with ``1/y = ∫_0^∞ e^{−sy} ds`` and the
  multinomial sum over signs its mean is

  .. math::  μ = \frac{a² + b²}{4} − \frac12\int_0^∞ \Big[\frac{a⁴}{(1+2a²s)^{3/2}}
             + \frac{b⁴}{(1+2b²s)^{3/2}}\Big] m(s)^{n−1} ds,\quad
             m = \tfrac12\big[(1+2a²s)^{−1/2} + (1+2b²s)^{−1/2}\big]

  (unconditioned; the collapse event of ``b = 0`` contributes 0).  ``|a| = |b|``: ``a²(1/2 − 1/n)``;
  ``b = 0``: ``a²(1/4 − (1 − 2^{−n})/n)`` (exact); otherwise mpmath quadrature (estimated).

>>> feller_collapse_probability(sp.Rational(1, 2), time=1)
exp(-1)
>>> piecewise_linear_growth(1, 0, 4).expr, piecewise_linear_growth(1, -1, 4).expr
(1/64, 1/4)
>>> round(float(piecewise_linear_growth(1, sp.Rational(1, 2), 4)), 12)
0.125352948785
>>> [lemma2_conditions(f)["holds"] for f in ("identity", "relu")]
[True, False]
"""

import mpmath
import sympy as sp

from symkernel.core.parsing import to_sympy
from symkernel.core.quantity import Quantity
from symkernel.core.symbols import t, x
from symkernel.errors import InvalidInputError, PrecisionError
from .ito import check_width, sde_activation, tidy


def _entire_like(expr):
    """True when ``expr`` is visibly continuous on R: no logarithm, and every power with a
    negative or fractional exponent has a provably positive base."""
    xr = sp.Symbol("x_r", real=True)
    e = expr.subs(x, xr)
    if e.has(sp.log):
        return False
    for pw in e.atoms(sp.Pow):
        if not (pw.exp.is_integer and pw.exp.is_nonnegative) and not pw.base.is_positive:
            return False
    return True


def _bounded(expr, lo, hi):
    """True when ``expr`` has finite limits at both ends of ``(lo, hi)`` and no singularity
    inside (SymPy's ``continuous_domain``); None when SymPy cannot decide."""
    from sympy.calculus.util import continuous_domain

    interval = sp.Interval.open(lo, hi)
    try:
        try:
            if continuous_domain(expr, x, interval) != interval:
                return False
        except NotImplementedError:
            if not _entire_like(expr):
                return None
        for end, side in ((lo, "+"), (hi, "-")):
            lim = sp.limit(expr, x, end, side)
            if lim.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or isinstance(lim, sp.AccumBounds) \
                    and not lim.is_finite:
                return False
            if not lim.is_finite and not isinstance(lim, sp.AccumBounds):
                return None
    except (NotImplementedError, ValueError, TypeError):
        return None
    return True


def lemma2_conditions(phi, gain=None, **params):
    """Lemma 2's sufficient conditions for ``P(collapse) = 0`` and the Itô dynamics of
    ``log‖φ(X)‖²`` they bound (module docstring).

    Returns a dict: ``c2`` (φ is C² across its breakpoints), ``phi_prime_bounded``,
    ``phi_phi2_bounded`` (``φφ''``), ``holds`` (all three), and the per-coordinate terms
    ``drift_terms = (φ'² + φφ'', φ²φ'²)`` and ``phi2 = φ²``.
    """
    act = sde_activation(phi, gain, **params)
    pieces = act.pieces
    c2 = True
    for left, right in zip(pieces, pieces[1:]):
        for order in (0, 1, 2):
            a = sp.limit(sp.diff(left.expr, x, order), x, right.lo, "-")
            b = sp.limit(sp.diff(right.expr, x, order), x, right.lo, "+")
            if tidy(a - b) != 0:
                c2 = False
    d1 = [sp.diff(p.expr, x) for p in pieces]
    d2 = [p.expr * sp.diff(p.expr, x, 2) for p in pieces]
    b1 = [_bounded(e, p.lo, p.hi) for e, p in zip(d1, pieces)]
    b2 = [_bounded(e, p.lo, p.hi) for e, p in zip(d2, pieces)]
    fold = lambda flags: False if False in flags else (None if None in flags else True)
    out = dict(c2=c2, phi_prime_bounded=fold(b1), phi_phi2_bounded=fold(b2))
    out["holds"] = bool(c2 and out["phi_prime_bounded"] and out["phi_phi2_bounded"])
    e = act.expr
    out["drift_terms"] = (tidy(sp.diff(e, x) ** 2 + e * sp.diff(e, x, 2)),
                          tidy(e**2 * sp.diff(e, x) ** 2))
    out["phi2"] = tidy(e**2)
    out["activation"] = act
    return out


def feller_collapse_probability(x0, time=t):
    """``P(X_t = 0)`` for ``dX = √(max(X, 0)) dB``, ``X_0 = x0 > 0``: ``e^{−2x0/t}``, derived from
    the Riccati equation of the Laplace exponent (``sympy.dsolve``) and ``λ → ∞``."""
    x0 = to_sympy(x0)
    if not (x0.is_positive or x0.is_symbol):
        raise InvalidInputError(f"x0 must be positive, got {x0}")
    lam = sp.Symbol("lambda", positive=True)
    U = sp.Function("U")
    # E exp(-lam X_t) = exp(-x0 U(t)), U' = -U^2/2 (the generator (x/2) d^2/dx^2 on e^{-lam x})
    u = sp.dsolve(sp.Eq(U(t).diff(t), -U(t) ** 2 / 2), U(t), ics={U(0): lam}).rhs
    limit = sp.limit(u, lam, sp.oo)
    return tidy(sp.exp(-x0 * limit).subs(t, to_sympy(time)))


def _growth_integral(a, b, n):
    """The quadrature of :func:`piecewise_linear_growth` at the working mpmath precision."""
    A, B = a * a, b * b

    def f(s):
        pa, pb = 1 + 2 * A * s, 1 + 2 * B * s
        m = (pa ** mpmath.mpf(-0.5) + pb ** mpmath.mpf(-0.5)) / 2
        return (A * A * pa ** mpmath.mpf(-1.5) + B * B * pb ** mpmath.mpf(-1.5)) * m ** (n - 1)

    return (A + B) / 4 - mpmath.quad(f, [0, 1, 10, 100, mpmath.inf]) / 2


def piecewise_linear_growth(a, b, n):
    """Mean drift of ``log‖φ(X)‖`` at ``X_0 ~ N(0, I_n)`` for ``φ = a x 1[x>0] + b x 1[x<0]``
    (Hayou (TMLR 2023) Prop. 10), a :class:`~symkernel.core.quantity.Quantity`; see the module
    docstring for the formula and which cases are exact."""
    a, b = to_sympy(a), to_sympy(b)
    n = check_width(n)
    if not (a.is_real and b.is_real and a.is_number and b.is_number) or (a == 0 and b == 0):
        raise InvalidInputError(f"a and b must be real numbers, not both 0; got a={a}, b={b}")
    params = (("a", a), ("b", b), ("n", n))
    symbol = r"\bar\mu_{\log\|\phi\|}"
    if a**2 == b**2:
        return Quantity(a**2 * (sp.Rational(1, 2) - sp.Rational(1, n)), symbol,
                        "exact: |a| = |b|, the drift is the constant a^2 (1/2 - 1/n)", params)
    if a == 0 or b == 0:
        c2 = (a + b) ** 2
        return Quantity(c2 * (sp.Rational(1, 4) - (1 - sp.Rational(1, 2**n)) / n), symbol,
                        "exact: ReLU-type, (k - 2)/(2n) averaged over the sign counts", params)

    def evaluate(dps):
        with mpmath.workdps(dps + 10):
            v1 = _growth_integral(mpmath.mpf(sp.N(a, dps + 15)), mpmath.mpf(sp.N(b, dps + 15)), n)
        with mpmath.workdps(dps + 20):
            v2 = _growth_integral(mpmath.mpf(sp.N(a, dps + 25)), mpmath.mpf(sp.N(b, dps + 25)), n)
        if abs(v1 - v2) > abs(v2) * mpmath.mpf(10) ** (-dps - 1):
            raise PrecisionError(f"piecewise_linear_growth: quadratures disagree ({v1}, {v2})")
        return v2

    return Quantity(None, symbol, "estimated: mpmath tanh-sinh quadrature of the Laplace-transform "
                    "integral, two precisions agree", evaluate, params)


__all__ = ["lemma2_conditions", "feller_collapse_probability", "piecewise_linear_growth"]
