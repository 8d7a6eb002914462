r"""Normalized Hermite coefficients ``c_k = E[sigma(Z) he_k(Z)]``, ``he_k = He_k/sqrt(k!)``.

Integer ``k``: exact moments ``mu_j = E[sigma(Z) Z^j]`` from the Gaussian engine (one recurrence
pass for all j), combined with the integer coefficients of ``He_k``; parity gives exact zeros
(``sigma`` odd up to a constant kills every even ``k >= 2``, even kills every odd ``k``).  Outside
the exact class the numeric engine integrates ``sigma he_k`` to the requested digits.

Symbolic ``k`` (``sk.k``): Stein's identity ``c_k = E[sigma^{(k)}(Z)]/sqrt(k!)`` with weak
derivatives, in four families (docs/theory.md §1):

* exponential sums ``sum A e^{p x}`` (exp, sin, cos, sinh, cosh): ``E[(e^{px})^{(k)}] = p^k e^{p^2/2}``;
* Gaussians ``e^{-s x^2}`` and their antiderivatives (erf): ``E[g He_m] = m! [t^m] e^{-s t^2/(1+2s)}/sqrt(1+2s)``;
* piecewise polynomials (relu, step, abs, sign, leaky relu, hardtanh): a jump ``J_j(t)`` of
  ``sigma^{(j)}`` at ``t`` contributes ``J_j(t) He_{k-1-j}(t) phi(t)`` to ``E[sigma^{(k)}]``;
* polynomials: finitely many nonzero ``c_k``.

>>> import symkernel as sk
>>> sk.hermite_coefficient("exp", sk.k).expr
exp(1/2)/sqrt(factorial(k))
>>> [c.expr for c in sk.hermite_coefficients("he", 4, n=2)]
[0, 0, 1, 0]
"""
import numbers
from functools import lru_cache

import mpmath
import sympy as sp

from symkernel.numerics import serialized
from symkernel.core.activations import as_activation
from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.gaussian.expectation import (
    EXACT_PROVENANCE, check_square_integrable, numeric_evaluator, pieces_times,
    second_moment,
)
from symkernel.gaussian import exact
from symkernel.core.hermite import he_coefficients, he_polynomial
from symkernel.core.quantity import Quantity, zero_if_proved
from symkernel.core.symbols import k as k_symbol, x


#: above this k, c_k comes from the closed form in k when there is one
LARGE_K = 200
#: the largest k for a numeric c_k, and the most coefficients one call computes
MAX_NUMERIC_K = 1000
MAX_COEFFICIENTS = 2000
#: the largest k evaluated at all (exactly, from the closed form in k)
MAX_K = 5000


def _check_k(k):
    if isinstance(k, sp.Basic) and not k.is_number:
        if not (k.is_integer and k.is_nonnegative):
            raise InvalidInputError(f"a symbolic index must be a nonnegative integer symbol like sk.k, got {k}")
        return k
    if isinstance(k, bool) or not isinstance(k, (numbers.Integral, sp.Integer)):  # np.int64 too
        if isinstance(k, float) and k.is_integer():
            raise InvalidInputError(f"k must be an integer, got the float {k!r}")
        raise InvalidInputError(f"k must be a nonnegative integer, got {k!r}")
    if int(k) < 0:
        raise InvalidInputError(f"k must be a nonnegative integer, got {k}")
    return int(k)


def _exact_moments(act, count):
    """[E sigma Z^j for j < count], or None outside the exact class (cached per activation)."""
    cache = act.memo("moments", lambda: {"terms": None, "mu": []})
    if cache["terms"] is None:
        try:
            cache["terms"] = [(p.lo, p.hi, exact.decompose(p.expr)) for p in act.pieces if p.expr != 0]
        except NoClosedFormError:
            cache["terms"] = False
    if cache["terms"] is False:
        return None
    mu = cache["mu"]
    try:
        while len(mu) < count:
            j = len(mu)
            total = sp.Integer(0)
            for lo, hi, terms in cache["terms"]:
                for t in terms:
                    total += exact.integrate_term(exact.Term(t.coef, t.n + j, t.c, t.p, t.phis), lo, hi)
            mu.append(exact.tidy(total, combine_powers=False))
    except NoClosedFormError:
        cache["terms"] = False
        return None
    return mu[:count]


def _parity_zero(act, k):
    if act.parity == "even" and k % 2 == 1:
        return True
    if act.parity == "odd" and k % 2 == 0 and k >= 2:
        return True
    return k % 2 == 1 and k >= 3 and act.parity is None and act.linear_odd_part is not None


@lru_cache(maxsize=1024)
def _nice(expr):
    """A readable form for small results (simplify is skipped for large expressions); cached per
    expression."""
    if expr.is_Rational or not expr.is_Add:
        return expr  # a single product is already as simple as simplify would make it
    if sp.count_ops(expr) > 20:
        return sp.factor_terms(expr)
    simpler = sp.simplify(expr)
    return simpler if sp.count_ops(simpler) <= sp.count_ops(expr) else expr


@serialized
def hermite_coefficient(act, k, gain=None, **params):
    r"""The normalized Hermite coefficient ``c_k`` of ``act`` as a :class:`Quantity`.

    ``k`` is a nonnegative integer, or ``sk.k`` for the closed form in k (families in the module
    docstring; NoClosedFormError otherwise).  ``act``, ``gain`` and registry ``params``: as
    :func:`~symkernel.core.activations.as_activation` (an unknown keyword is an error).

    >>> import symkernel as sk, sympy as sp
    >>> sk.hermite_coefficient("relu", 1).expr
    1/2
    >>> general = sk.hermite_coefficient("relu", sk.k).expr   # Piecewise: c_0, c_1, then k >= 2
    >>> sp.simplify(general.subs(sk.k, 4))
    -sqrt(3)/(12*sqrt(pi))
    """
    act = as_activation(act, gain, **params)
    k = _check_k(k)
    check_square_integrable(act)
    symbol = f"c_{{{sp.latex(k)}}}"
    if not isinstance(k, int):
        return Quantity(closed_form_in_k(act, k), symbol, "exact: Stein's identity, closed form in k",
                        params=(("sigma", act.expr),))
    if _parity_zero(act, k):
        how = act.parity or "linear plus even"
        return Quantity(sp.Integer(0), symbol, f"exact: parity ({how} activation)",
                        params=(("sigma", act.expr), ("k", k)))
    if k > LARGE_K:
        large = _large_k(act, k, symbol)
        if large is not None:
            return large
    if k == 1 and act.parity is None and act.linear_odd_part is not None:
        return Quantity(act.linear_odd_part, symbol, "exact: parity (sigma - c_1 x is even)",
                        params=(("sigma", act.expr), ("k", k)))
    if k == 0 and act.parity == "odd":
        return Quantity(act.odd_offset / 2, symbol, "exact: parity (sigma - c_0 is odd)",
                        params=(("sigma", act.expr), ("k", k)))
    mu = _exact_moments(act, k + 1)
    if mu is not None:
        coeffs = he_coefficients(k)
        value = sum(a * mu[j] for j, a in enumerate(coeffs) if a) / sp.sqrt(sp.factorial(k))
        return Quantity(zero_if_proved(_nice(exact.tidy(value))), symbol, EXACT_PROVENANCE,
                        params=(("sigma", act.expr), ("k", k)))
    he_k = he_polynomial(k)
    evaluate, provenance = numeric_evaluator(pieces_times(act, he_k))
    return Quantity(None, symbol, f"{provenance} (of sigma*he_k)", evaluate,
                    params=(("sigma", act.expr), ("k", k)))


def _large_k(act, k, symbol):
    """c_k for a large integer k: the closed form in k evaluated at k (exact), else a refusal above
    MAX_NUMERIC_K (the numeric integrand sigma he_k cancels catastrophically)."""
    try:
        general = closed_form_in_k(act)
    except NoClosedFormError:
        general = None
    params = (("sigma", act.expr), ("k", k))
    if k > MAX_K:
        hint = ("; its closed form in k is hermite_coefficient(act, sk.k)" if general is not None
                else "")
        raise InvalidInputError(f"k = {k} is beyond the {MAX_K} symkernel evaluates{hint}")
    if general is not None:
        value = general.subs(k_symbol, k)
        if isinstance(value, sp.Piecewise):
            value = value.args[-1][0] if value.args[-1][1] == True else sp.piecewise_fold(value)  # noqa: E712
        return Quantity(value, symbol, "exact: Stein's identity, closed form in k at this k",
                        params=params)
    if _parity_zero(act, k):
        return Quantity(sp.Integer(0), symbol, "exact: parity", params=params)
    if k > MAX_NUMERIC_K:
        raise InvalidInputError(f"c_{k} of {act.expr}: no closed form in k is known, and the numeric "
                                f"engine supports k <= {MAX_NUMERIC_K}")
    return None


@serialized
def hermite_coefficients(act, K, gain=None, **params):
    """``[c_0, ..., c_{K-1}]`` as Quantities (one shared moment computation)."""
    act = as_activation(act, gain, **params)
    K = _check_k(K)
    if not isinstance(K, int):
        raise InvalidInputError("the number of coefficients K must be an integer")
    if K > MAX_COEFFICIENTS:
        raise InvalidInputError(f"K = {K} coefficients is beyond {MAX_COEFFICIENTS}; ask for single "
                                "coefficients c_k (hermite_coefficient) for larger k")
    _exact_moments(act, K)
    return [hermite_coefficient(act, j) for j in range(K)]


# ---------------------------------------------------------------------------------------------
# closed forms in symbolic k
# ---------------------------------------------------------------------------------------------
def _he_at(m, t):
    """He_m(t) for symbolic m: closed form at t = 0, SymPy's hermite_prob otherwise."""
    if t == 0:
        return sp.cos(sp.pi * m / 2) * sp.factorial(m) / (2 ** (m / 2) * sp.gamma(m / 2 + 1))
    return sp.hermite_prob(m, t)


def _gaussian_moment(c, m):
    """E[e^{c Z^2} He_m(Z)] for symbolic m (generating function e^{xt - t^2/2})."""
    s = -c
    ratio = s / (1 + 2 * s)
    return (sp.factorial(m) / sp.gamma(m / 2 + 1) * ratio ** (m / 2) * sp.cos(sp.pi * m / 2)
            / sp.sqrt(1 + 2 * s))


def _stein_family(terms, m):
    """E[f^{(m)}(Z)] for f a sum of exponentials or of centred Gaussians, or None."""
    total = sp.Integer(0)
    for t in terms:
        if t.phis or t.n:
            return None
        if t.c == 0:
            total += t.coef * t.p**m * sp.exp(t.p**2 / 2)
        elif t.p == 0:
            total += t.coef * _gaussian_moment(t.c, m)
        else:
            return None
    return total


def _real_form(expr, k):
    """``expr`` (a sum of exponential terms in the symbolic ``k``) in real form: each power
    ``b^e`` with ``k`` in ``e`` of a complex ``b`` or a number not known nonnegative becomes
    ``|b|^e exp(i arg(b) e)`` (SymPy's principal power), each ``exp(a + i b)`` becomes
    ``exp(a) (cos b + i sin b)``; the imaginary part of a real ``c_k`` then cancels term by term
    (docs/theory.md §35).  An imaginary part that does not cancel is kept (the result is then
    whatever ``simplify`` makes of it)."""
    def polar(e):
        size, angle = sp.Abs(e.base), sp.arg(e.base)
        if size.has(sp.Abs, sp.arg) or angle.has(sp.Abs, sp.arg):   # not decided (a free sign)
            return e
        return size ** e.exp * sp.exp(sp.I * angle * e.exp)
    expr = sp.expand(expr)
    def signed(b):
        return b.has(sp.I) or b.is_number and b.is_nonnegative is not True
    expr = expr.replace(lambda e: e.is_Pow and e.exp.has(k) and e.base != 0 and signed(e.base),
                        polar)
    expr = sp.expand(_reduce_turns(sp.expand(exact.exp_as_trig(expr)), k))
    real, imag = expr.as_independent(sp.I, as_Add=True)
    if imag != 0 and sp.simplify(imag) != 0:
        return sp.simplify(expr)
    return sp.simplify(real)


def _reduce_turns(expr, k):
    """``sin``/``cos`` of ``c pi k + b`` with a rational ``c`` and an integer ``k``: ``c`` reduced
    to ``(-1, 1]`` (whole turns ``2 pi k`` dropped), so that ``cos(3 pi k/2) = cos(pi k/2)`` and
    ``sin(3 pi k/2) = -sin(pi k/2)`` are seen by term-by-term cancellation."""
    def reduce(e):
        arg = sp.expand(e.args[0])
        c = arg.coeff(sp.pi * k)
        if not (c.is_Rational and (c <= -1 or c > 1)):
            return e
        turns = sp.ceiling((c - 1) / 2)
        return e.func(sp.expand(arg - 2 * turns * sp.pi * k))
    return expr.replace(lambda e: isinstance(e, (sp.sin, sp.cos)) and e.args[0].has(k), reduce)


def closed_form_in_k(act, k=k_symbol):
    """``c_k`` as an expression in the symbolic ``k`` (see the module docstring)."""
    pieces = act.pieces
    if len(pieces) == 1:
        expr = pieces[0].expr
        if expr.is_polynomial(x):
            return _polynomial_in_k(act, k)
        for order in (0, 1):
            try:
                terms = exact.decompose(sp.diff(expr, x, order))
            except NoClosedFormError:
                continue
            general = _stein_family(terms, k - order)
            if general is not None:
                general = _real_form(general / sp.sqrt(sp.factorial(k)), k)
                if order == 0:
                    return general
                c0 = hermite_coefficient(act, 0).expr
                return sp.Piecewise((c0, sp.Eq(k, 0)), (general, True))
    elif all(p.expr.is_polynomial(x) for p in pieces):
        return _piecewise_polynomial_in_k(act, k)
    raise NoClosedFormError(f"no closed form in k is known for {act.expr}; use integer k")


def _polynomial_in_k(act, k):
    degree = sp.Poly(act.pieces[0].expr, x).degree()
    values = [hermite_coefficient(act, j).expr for j in range(degree + 1)]
    nonzero = [(j, v) for j, v in enumerate(values) if v != 0]
    if len(nonzero) == 1:
        j, v = nonzero[0]
        return v * sp.KroneckerDelta(k, j)
    return sp.Piecewise(*[(v, sp.Eq(k, j)) for j, v in nonzero], (0, True))


def _piecewise_polynomial_in_k(act, k):
    pieces = act.pieces
    degree = max(sp.Poly(p.expr, x).degree() if p.expr.has(x) else 0 for p in pieces)
    general = sp.Integer(0)
    for left, right in zip(pieces[:-1], pieces[1:]):
        t = right.lo
        for j in range(degree + 1):
            jump = sp.simplify((sp.diff(right.expr, x, j) - sp.diff(left.expr, x, j)).subs(x, t))
            if jump != 0:
                general += jump * _he_at(k - 1 - j, t) * exact.phi(t)
    general = general / sp.sqrt(sp.factorial(k))
    head = [(hermite_coefficient(act, j).expr, sp.Eq(k, j)) for j in range(degree + 1)]
    return sp.Piecewise(*head, (general, True))


def parseval_partial_sums(act, K, dps=30):
    """``[sum_{j<=i} c_j^2 for i < K]`` and ``E sigma^2`` (mpf values at ``dps`` digits)."""
    coeffs = hermite_coefficients(act, K)
    with mpmath.workdps(dps + 5):
        partial, total = [], mpmath.mpf(0)
        for c in coeffs:
            total += c.value(dps + 5) ** 2
            partial.append(+total)
    return partial, second_moment(act).value(dps)
