r"""Closed forms of the dual kernel by iterated exact Gaussian integrals (docs/theory.md §2).

With ``Y = rho X + s W``, ``s = sqrt(1 - rho^2)``:
``sigma_hat(rho) = E[sigma(X) sigma(Y)] = E_X[sigma(X) E_W[sigma(rho X + s W)]]``.  The inner
integral over each smooth piece (limits ``(b - rho x)/s`` at the breakpoints ``b``) and the outer
one are done by the exact engine (:mod:`symkernel.gaussian.exact`); then
``atan(rho/s) -> asin(rho)``.  Also the weak derivative ``sigma'`` for Price's theorem
``d/drho E[f(X)f(Y)] = E[f'(X)f'(Y)]``.

>>> from symkernel.gaussian.expectation import as_activation
>>> _closed_form(as_activation("erf"))
2*asin(2*rho/3)/pi
"""
from functools import lru_cache

import sympy as sp

from symkernel.core.activations import Activation
from symkernel.errors import NoClosedFormError, NotSquareIntegrableError
from symkernel.gaussian import exact
from symkernel.core.pieces import split
from symkernel.core.symbols import rho, x


_S = sp.Symbol("s_", positive=True)      # sqrt(1 - rho^2) during the derivation
_Y = sp.Symbol("y_", real=True)          # the outer variable while integrating the inner one
_GAIN = sp.Symbol("g_", positive=True)   # a generic gain: one derivation serves every number


def _inner(pieces):
    """E_W[sigma(rho x + s W)] as an expression in x, rho, s (exact engine), or NoClosedFormError."""
    total = sp.Integer(0)
    for p in pieces:
        if p.expr == 0:
            continue
        e = p.expr.subs(x, rho * _Y + _S * x)
        lo = -sp.oo if p.lo == -sp.oo else (p.lo - rho * _Y) / _S
        hi = sp.oo if p.hi == sp.oo else (p.hi - rho * _Y) / _S
        for term in exact.decompose(e):
            total += exact.integrate_term(term, lo, hi)
    return exact.tidy(total).subs(_Y, x)


def _asin_argument(u):
    """``u/sqrt(1+u^2)`` with ``s^2 = 1 - rho^2`` (so ``atan(u) = asin(result)``), simplified."""
    target = u / sp.sqrt(1 + u**2)
    w = sp.simplify(sp.together((u**2 / (1 + u**2)).subs(_S, sp.sqrt(1 - rho**2))))
    ratio = sp.factor(sp.simplify(w / rho**2))
    root = sp.sqrt(ratio)
    candidate = sp.simplify(rho * sp.powdenest(sp.sqrt(sp.factor(ratio)), force=False))
    for c in (candidate, rho * root):
        ok = True
        for r in (sp.Rational(3, 10), sp.Rational(-4, 5), sp.Rational(9, 10)):
            point = {rho: r, _S: sp.sqrt(1 - r**2)}
            for g in c.free_symbols - {rho}:
                point[g] = sp.Rational(7, 5)
            if abs(sp.N(c.subs(point) - target.subs(point), 30)) > 1e-25:
                ok = False
                break
        if ok:
            return c
    return sp.simplify(target.subs(_S, sp.sqrt(1 - rho**2)))


def _atan_to_asin(expr):
    return expr.replace(lambda e: isinstance(e, sp.atan), lambda e: sp.asin(_asin_argument(e.args[0])))


def _regular_at_ends(expr):
    """Combine the terms with negative powers of ``s = sqrt(1 - rho^2)`` over ``s^2 = 1 - rho^2``
    so that the ``1/s`` parts cancel where they do: squared ReLU's ``(rho - rho^3)/(pi s)`` is
    ``rho s/pi``, finite at ``rho = +-1`` (substituting rho = 1 into the sum gave nan)."""
    expr = expr.subs(sp.sqrt(1 - rho**2), _S)
    if not any(t.as_coeff_exponent(_S)[1] < 0 for t in sp.Add.make_args(sp.expand(expr))):
        return expr
    regular, singular = [], {0: sp.Integer(0), 1: sp.Integer(0)}
    for t in sp.Add.make_args(sp.expand(expr)):
        coeff, power = t.as_coeff_exponent(_S)
        if power >= 0 or coeff.has(_S) or not power.is_integer:
            regular.append(t)
            continue
        m = -(power // 2)                     # s^power = s^(power + 2m)/(1 - rho^2)^m
        singular[int(power + 2 * m)] += coeff / (1 - rho**2) ** m
    out = sp.Add(*regular)
    for power, coeff in singular.items():
        if coeff == 0:
            continue
        reduced = sp.cancel(sp.together(coeff))
        if sp.denom(reduced).has(rho):     # a genuine singularity at the ends: leave it
            return expr
        out += reduced * _S**power
    return out


def _in_s(expr):
    """Powers ``B^p`` of ``B = c/(1 - rho^2)`` or ``B = c (1 - rho^2)`` (``c > 0`` free of rho)
    written as ``c^p s^(-2p)`` resp. ``c^p s^(2p)``, ``s = sqrt(1 - rho^2)`` (valid for |rho| < 1):
    simplify may leave ``sqrt(-1/(rho^2 - 1)) sqrt(1 - rho^2)``, which is 1 inside (-1, 1) but
    nan at the ends (the kernel of ``relu + 1/2`` gave kappa(1) = 0.65 and a float64 NaN)."""
    def fix(e):
        for c, sign in ((sp.cancel(e.base * (1 - rho**2)), -1), (sp.cancel(e.base / (1 - rho**2)), 1)):
            if not c.has(rho) and c.is_positive:
                return c**e.exp * _S**(sign * 2 * e.exp)
        return e
    return expr.replace(lambda e: e.is_Pow and e.exp in (sp.S.Half, -sp.S.Half) and e.base.has(rho),
                        fix).subs(_S, sp.sqrt(1 - rho**2))


@lru_cache(maxsize=512)
def _clean(expr):
    """Readable closed form in rho: atan(rho/s) -> asin(rho), s -> sqrt(1-rho^2), simplify;
    terms in 1/s combined so the closed form is finite at rho = +-1 where the kernel is."""
    expr = _atan_to_asin(expr)
    expr = expr.subs(_S, sp.sqrt(1 - rho**2))
    expr = expr.replace(lambda e: isinstance(e, sp.asin) and e.args[0].has(rho),
                        lambda e: sp.asin(_asin_argument(sp.tan(sp.asin(e.args[0])))))
    if sp.count_ops(expr) > 400:
        return expr
    candidates = [expr, sp.simplify(expr)]
    if expr.has(sp.exp):
        candidates.append(sp.exptrigsimp(sp.expand(expr)))
    try:
        candidates.append(sp.simplify(sp.factor_terms(sp.together(candidates[1]))))
    except (TypeError, ValueError, NotImplementedError):
        pass
    candidates += [_regular_at_ends(c).subs(_S, sp.sqrt(1 - rho**2)) for c in candidates[:2]]
    candidates += [_in_s(c) for c in candidates]
    finite = [c for c in candidates if _finite_at_ends(c)]
    return min(finite or candidates, key=sp.count_ops)


def _finite_at_ends(expr):
    """Whether substituting rho = 1 and rho = -1 gives finite numbers (no 0/0 left)."""
    for end in (1, -1):
        value = expr.subs(rho, end)
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or value.is_finite is False:
            return False
    return True


@lru_cache(maxsize=256)
def _derive(expr):
    """Closed form of E[f(X) f(Y)] for the activation expression ``expr`` in x, or None (cached
    per expression: a new Activation of the same sigma reuses it)."""
    pieces = split(expr)
    try:
        g = _inner(pieces)
        outer = [(p.lo, p.hi, p.expr * g) for p in pieces if p.expr != 0]
        value = exact.expectation_of_pieces(outer)
    except (NoClosedFormError, NotSquareIntegrableError):
        return None
    return _clean(value)


@lru_cache(maxsize=256)
def _derive_with_gain(base):
    """Closed form for base(g x) with a generic positive gain g (shared by all numeric gains)."""
    return _derive(base.subs(x, _GAIN * x))


def _closed_form(act):
    """The exact sigma_hat(rho) of an activation, or None (cached on the activation)."""
    cache = act.memo("kernels", dict)
    if "closed" not in cache:
        value = None
        base, gain = getattr(act, "base", None), getattr(act, "gain", 1)
        if base is not None and gain != 1 and gain.is_number and not base.free_symbols - {x}:
            generic = _derive_with_gain(base)
            if generic is not None:
                value = _clean_number(generic.subs(_GAIN, gain))
        if value is None:
            value = _derive(act.expr)
        cache["closed"] = value
    return cache["closed"]


@lru_cache(maxsize=512)
def _clean_number(expr):
    return expr if sp.count_ops(expr) > 200 else min([expr, sp.simplify(expr)], key=sp.count_ops)


def _inner_form(act):
    """The inner expectation (expression in x, rho, s_) or None."""
    cache = act.memo("kernels", dict)
    if "inner" not in cache:
        try:
            cache["inner"] = _inner(act.pieces)
        except (NoClosedFormError, NotSquareIntegrableError):
            cache["inner"] = None
    return cache["inner"]


@lru_cache(maxsize=512)
def _nicer(expr):
    """A derivative in a numerically stable form (1 - tanh(x)**2 -> cosh(x)**-2); cached per
    expression (two simplifications: a new Activation of the same sigma reuses them)."""
    if sp.count_ops(expr) > 40:
        return expr
    candidates = [expr, sp.simplify(expr), sp.simplify(expr.rewrite(sp.exp))]
    candidates = [c for c in candidates if not c.has(sp.I)]
    return min(candidates, key=lambda e: (sp.count_ops(e), len(str(e))))


def weak_derivative(act):
    """``(sigma', None)`` as an Activation, or ``(None, reason)`` when sigma jumps (sigma' has a delta).

    >>> from symkernel.gaussian.expectation import as_activation
    >>> d, why = weak_derivative(as_activation("relu")); d.expr
    Piecewise((0, x < 0), (1, True))
    >>> print(weak_derivative(as_activation("step"))[1])
    sigma = Heaviside(x) jumps by 1 at x = 0, so sigma' contains a Dirac delta
    """
    pieces = act.pieces
    for left, right in zip(pieces[:-1], pieces[1:]):
        jump = sp.simplify(right.expr.subs(x, right.lo) - left.expr.subs(x, right.lo))
        if jump != 0:
            return None, f"sigma = {act.expr} jumps by {jump} at x = {right.lo}, so sigma' contains a Dirac delta"
    ders = [_nicer(sp.diff(p.expr, x)) for p in pieces]
    if len(pieces) == 1:
        expr = ders[0]
    else:
        expr = sp.Piecewise(*[(d, x < p.hi) for d, p in zip(ders[:-1], pieces[:-1])], (ders[-1], True))
    return Activation(f"{act.name}'", expr), None


def cross_closed_form(f, g):
    r"""Closed form of the cross kernel ``E[f(X) g(Y)]`` for ``(X, Y)`` standard bivariate normal
    with correlation ``rho`` (the same iterated exact integrals as :func:`_derive`), or None.

    With ``f = sigma(a x)``, ``g = sigma(b x)`` this is the kernel of two inputs of different
    variances ``a^2, b^2`` (Cho & Saul 2009 for ReLU; Williams 1997 for erf):

    >>> import sympy as sp
    >>> from symkernel.core.symbols import x
    >>> a, b = sp.symbols("a b", positive=True)
    >>> cross_closed_form(sp.erf(a * x), sp.erf(b * x))
    2*asin(2*a*b*rho/(sqrt(2*a**2 + 1)*sqrt(2*b**2 + 1)))/pi
    """
    try:
        inner = _inner(split(g))
        outer = [(p.lo, p.hi, p.expr * inner) for p in split(f) if p.expr != 0]
        value = exact.expectation_of_pieces(outer)
    except (NoClosedFormError, NotSquareIntegrableError):
        return None
    return _clean(value)
