r"""Closed-form Gaussian expectations ``E[f(Z)]``, ``Z ~ N(0, 1)``, without ``sympy.integrate``.

The class (issue 2): on each interval between breakpoints, ``f`` is a finite sum of terms

.. math::  x^n \, e^{c x^2 + p x} \, \prod_{j \le 2} \Phi(a_j x + b_j)

(``sin``/``cos``/``sinh``/``cosh`` become complex exponentials, ``erf(u) = 2\Phi(\sqrt2 u) - 1``).
Each term is reduced to a *base integral* ``\int_{lo}^{hi} w^m \prod \Phi(a_j w + b_j) \varphi(w) dw``:

1. rescale ``e^{c x^2}\varphi(x) = \varphi(s x)``, ``s = \sqrt{1 - 2c}`` (the integral diverges on an
   unbounded interval when ``1 - 2c <= 0``: that is how ``exp(x^2)`` is rejected);
2. complete the square ``e^{q y}\varphi(y) = e^{q^2/2}\varphi(y - q)`` and expand ``(w + q)^n``;
3. integrate by parts (Stein's identity ``w\varphi = -\varphi'``):
   ``B_m = [-w^{m-1}\prod\Phi\,\varphi] + (m-1) B_{m-2} + \sum_j a_j \int w^{m-1}\varphi(a_j w + b_j)\cdots``
   where each ``\varphi(a_j w + b_j)`` is a Gaussian factor that step 1 absorbs, lowering the number
   of ``\Phi`` factors by one;
4. the ``m = 0`` bases are ``\Phi(b/\sqrt{1+a^2})`` (one factor, whole line), orthant probabilities
   ``1/4 + \arcsin(r)/2\pi`` (two factors) and ``1/8 + \sum\arcsin(r_{ij})/4\pi`` (two factors on a
   half line), all centred (``b = 0``) where they need to be elementary; the others (Owen's T) raise
   :class:`~symkernel.errors.NoClosedFormError` so the caller falls back to the numeric engine.

>>> from symkernel.core.symbols import x
>>> import sympy as sp
>>> closed_form(sp.erf(x)**2)
2*asin(2/3)/pi
>>> closed_form(sp.sin(x)**2)
1/2 - exp(-2)/2
"""
from functools import lru_cache
from typing import NamedTuple

import sympy as sp

from symkernel.core.parsing import to_sympy

from symkernel.errors import NoClosedFormError, NotSquareIntegrableError
from symkernel.core.pieces import split
from symkernel.core.symbols import x

Phi_ = sp.Function("Phi_")  # placeholder for the standard normal CDF during the reduction
_SQRT2PI = sp.sqrt(2 * sp.pi)


def phi(u):
    """Standard normal density, 0 at ±oo."""
    if u in (sp.oo, -sp.oo):
        return sp.Integer(0)
    return sp.exp(-u**2 / 2) / _SQRT2PI


def Phi(u):
    """Standard normal CDF in terms of ``erf``."""
    if u == sp.oo:
        return sp.Integer(1)
    if u == -sp.oo:
        return sp.Integer(0)
    return (1 + sp.erf(u / sp.sqrt(2))) / 2


class Term(NamedTuple):
    """``coef * x**n * exp(c x**2 + p x) * prod(Phi(a x + b) for a, b in phis)``."""

    coef: sp.Expr
    n: int
    c: sp.Expr
    p: sp.Expr
    phis: tuple


# ---------------------------------------------------------------------------------------------
# decomposition of an expression into terms
# ---------------------------------------------------------------------------------------------
def _to_exponential_class(expr):
    expr = expr.rewrite([sp.sin, sp.cos, sp.sinh, sp.cosh], sp.exp)
    expr = expr.replace(lambda e: isinstance(e, sp.erfc) and e.has(x), lambda e: 1 - sp.erf(e.args[0]))
    expr = expr.replace(lambda e: isinstance(e, sp.erf) and e.has(x),
                        lambda e: 2 * Phi_(sp.sqrt(2) * e.args[0]) - 1)
    return sp.expand(expr)


def _linear(arg):
    try:
        poly = sp.Poly(arg, x)
    except sp.PolynomialError:
        raise NoClosedFormError(f"{arg} is not linear in x") from None
    if poly.degree() > 1:
        raise NoClosedFormError(f"Phi/erf of the nonlinear argument {arg}")
    return poly.coeff_monomial(x), poly.coeff_monomial(1)


def decompose(expr):
    """Terms of ``expr`` (one smooth piece) or :class:`NoClosedFormError` if outside the class."""
    terms = []
    for add in sp.Add.make_args(_to_exponential_class(to_sympy(expr))):
        coef, n, c, p, phis = sp.Integer(1), 0, sp.Integer(0), sp.Integer(0), []
        for factor in sp.Mul.make_args(add):
            if not factor.has(x):
                coef *= factor
                continue
            base, power = factor.as_base_exp()
            if base == x and power.is_Integer and power >= 0:
                n += int(power)
            elif isinstance(factor, sp.exp):
                try:
                    poly = sp.Poly(factor.args[0], x)
                except sp.PolynomialError:
                    raise NoClosedFormError(f"exp of the non-polynomial {factor.args[0]}") from None
                if poly.degree() > 2:
                    raise NoClosedFormError(f"exp of a degree-{poly.degree()} polynomial")
                c += poly.coeff_monomial(x**2)
                p += poly.coeff_monomial(x)
                coef *= sp.exp(poly.coeff_monomial(1))
            elif isinstance(base, Phi_) and power.is_Integer and power > 0:
                phis.extend([_linear(base.args[0])] * int(power))
            else:
                raise NoClosedFormError(f"the factor {factor} is outside the exact class")
        if len(phis) > 2:
            raise NoClosedFormError("more than two Phi/erf factors in one term")
        terms.append(Term(coef, n, c, p, tuple(phis)))
    return terms


# ---------------------------------------------------------------------------------------------
# integrals
# ---------------------------------------------------------------------------------------------
def _is_inf(v):
    return v in (sp.oo, -sp.oo)


def _boundary(f, lo, hi):
    """[f(w)]_lo^hi for f carrying a factor phi(w) (so 0 at infinite ends)."""
    upper = sp.Integer(0) if _is_inf(hi) else f(hi)
    lower = sp.Integer(0) if _is_inf(lo) else f(lo)
    return upper - lower


@lru_cache(maxsize=4096)
def _moments(m, lo, hi):
    """Truncated moments [M_0 .. M_m], M_j = int_lo^hi w^j phi(w) dw."""
    out = [Phi(hi) - Phi(lo), phi(lo) - phi(hi)]
    for j in range(2, m + 1):
        out.append((j - 1) * out[j - 2] - _boundary(lambda w: w**(j - 1) * phi(w), lo, hi))
    return out[: m + 1]


def _orthant_one(a, b, lo, hi):
    """int_lo^hi Phi(a w + b) phi(w) dw."""
    if lo == -sp.oo and hi == sp.oo:
        return Phi(b / sp.sqrt(1 + a**2))
    if b == 0 and (lo, hi) == (0, sp.oo):
        return sp.Rational(1, 4) + sp.atan(a) / (2 * sp.pi)
    if b == 0 and (lo, hi) == (-sp.oo, 0):
        return sp.Rational(1, 4) - sp.atan(a) / (2 * sp.pi)
    raise NoClosedFormError("a Phi factor over a partial interval with an offset (Owen's T function)")


def _orthant_two(phis, lo, hi):
    """int_lo^hi Phi(a1 w + b1) Phi(a2 w + b2) phi(w) dw."""
    (a1, b1), (a2, b2) = phis
    if b1 != 0 or b2 != 0:
        raise NoClosedFormError("two Phi factors with offsets (bivariate normal CDF, Owen's T)")
    r12 = a1 * a2 / sp.sqrt((1 + a1**2) * (1 + a2**2))
    if lo == -sp.oo and hi == sp.oo:
        return sp.Rational(1, 4) + sp.asin(r12) / (2 * sp.pi)
    if (lo, hi) in ((0, sp.oo), (-sp.oo, 0)):
        sign = 1 if lo == 0 else -1
        r13 = sign * a1 / sp.sqrt(1 + a1**2)
        r23 = sign * a2 / sp.sqrt(1 + a2**2)
        return sp.Rational(1, 8) + (sp.asin(r12) + sp.asin(r13) + sp.asin(r23)) / (4 * sp.pi)
    raise NoClosedFormError("two Phi factors over a finite interval (trivariate normal CDF)")


@lru_cache(maxsize=65536)
def _base(m, lo, hi, phis):
    """int_lo^hi w^m prod Phi(a w + b) phi(w) dw, by Stein's identity (module docstring, step 3)."""
    if not phis:
        if lo == -sp.oo and hi == sp.oo:   # E[Z^m] = (m-1)!! for even m, 0 for odd m
            return sp.factorial2(m - 1) if m % 2 == 0 else sp.Integer(0)
        return _moments(m, lo, hi)[m]
    if m == 0:
        return _orthant_one(*phis[0], lo, hi) if len(phis) == 1 else _orthant_two(phis, lo, hi)

    def boundary_term(w):
        val = w**(m - 1) * phi(w)
        for a, b in phis:
            val *= Phi(a * w + b)
        return val

    total = -_boundary(boundary_term, lo, hi)
    if m >= 2:
        total += (m - 1) * _base(m - 2, lo, hi, phis)
    for j, (a, b) in enumerate(phis):
        rest = phis[:j] + phis[j + 1:]
        gauss = Term(sp.exp(-b**2 / 2) / _SQRT2PI, m - 1, -a**2 / 2, -a * b, rest)
        total += a * integrate_term(gauss, lo, hi)
    return total


def _canonical_phis(phis):
    return tuple(sorted(phis, key=sp.default_sort_key))


def integrate_term(term, lo=-sp.oo, hi=sp.oo):
    """int_lo^hi term(x) phi(x) dx for a :class:`Term` (module docstring, steps 1-2)."""
    coef, n, c, p, phis = term
    kept = []
    for a, b in phis:
        if a == 0:
            coef *= Phi(b)
        else:
            kept.append((a, b))
    phis = kept
    if c != 0:
        s2 = sp.simplify(1 - 2 * c)
        unbounded = _is_inf(lo) or _is_inf(hi)
        if s2.is_positive is not True:
            if unbounded and (s2.is_nonpositive or s2.is_zero):
                raise NotSquareIntegrableError(
                    f"the Gaussian expectation diverges: the integrand grows like exp({to_sympy(c)*2 - 1}*x**2/2)")
            raise NoClosedFormError(f"cannot decide whether 1 - 2*({c}) > 0")
        s = sp.sqrt(s2)
        coef = coef / s**(n + 1)
        p = p / s
        phis = [(a / s, b) for a, b in phis]
        lo = lo if _is_inf(lo) else s * lo
        hi = hi if _is_inf(hi) else s * hi
    if p != 0:
        coef *= sp.exp(p**2 / 2)
        lo = lo if _is_inf(lo) else lo - p
        hi = hi if _is_inf(hi) else hi - p
        phis = [(a, sp.expand(b + a * p)) for a, b in phis]
    key = _canonical_phis(phis)
    if p == 0:   # only the m = n base survives (no O(n^2) binomial loop for x**n)
        return coef * _base(n, lo, hi, key)
    total = sp.Integer(0)
    for m in range(n + 1):
        weight = sp.binomial(n, m) * (p ** (n - m) if p != 0 else (1 if m == n else 0))
        if weight != 0:
            total += weight * _base(m, lo, hi, key)
    return coef * total


def expectation_of_pieces(pieces):
    """Sum of the piece integrals; each piece is ``(lo, hi, expr)``."""
    total = sp.Integer(0)
    for lo, hi, expr in pieces:
        if expr == 0:
            continue
        for term in decompose(expr):
            total += integrate_term(term, lo, hi)
    return tidy(total)


def closed_form(expr):
    """Exact ``E[expr(Z)]`` for an expression in ``x`` (split at its breakpoints), as a bare SymPy
    expression (NoClosedFormError outside the exact class): the exact engine behind the public
    :func:`symkernel.expectation`, which returns a Quantity."""
    return expectation_of_pieces(split(to_sympy(expr)))


def tidy(expr, combine_powers=True):
    """Light, fast normalisation of an engine result (real form, collected terms): a number by
    ``expand_complex``; with symbols, the exponentials of each term are merged and each
    ``exp(a + i b)`` (``a``, ``b`` free of ``i``) becomes ``exp(a) (cos b + i sin b)``, an identity
    for all complex ``a``, ``b``, after which the imaginary terms of a real result cancel term by
    term (docs/theory.md §35)."""
    expr = sp.expand(expr)
    if expr.has(sp.I):
        if not expr.free_symbols:
            expr = sp.expand(sp.expand_complex(expr))
        else:   # one exponential per term first, so each term gets one cos/sin of its whole phase
            expr = sp.expand(exp_as_trig(sp.powsimp(expr, combine="exp")), power_exp=False)
    return sp.powsimp(expr) if combine_powers else expr


def exp_as_trig(expr):
    """``exp(a + i b) -> exp(a) (cos b + i sin b)`` wherever the argument splits into ``a + i b``
    with ``a``, ``b`` free of ``i`` (exact; other exponentials are left alone).

    >>> from symkernel.core.symbols import rho
    >>> exp_as_trig(sp.exp(-rho + 2 * sp.I * rho + sp.I))
    (I*sin(2*rho + 1) + cos(2*rho + 1))*exp(-rho)
    """
    def split_exp(e):
        arg = sp.expand(e.args[0])
        b = arg.coeff(sp.I)
        a = sp.expand(arg - sp.I * b)
        if a.has(sp.I) or b.has(sp.I) or b == 0:
            return e
        return sp.exp(a) * (sp.cos(b) + sp.I * sp.sin(b))
    return expr.replace(lambda e: isinstance(e, sp.exp) and e.args[0].has(sp.I), split_exp)
