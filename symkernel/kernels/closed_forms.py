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
        expr = _rational_parts(expr)
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


def _rational_parts(expr):
    """Each exponent and each base of a fractional power that is rational in rho over a common
    denominator, cancelled and factored (an exact rewrite): the Gaussian-times-cosine kernel of
    ``cos(2x) exp(-x^2/4)`` shrinks from about 900 operations to about 40."""
    def tidy_exp(e):
        return sp.exp(sp.factor(sp.cancel(sp.together(e.args[0]))))

    def tidy_root(e):
        return sp.factor(sp.cancel(sp.together(e.base))) ** e.exp
    expr = expr.replace(lambda e: isinstance(e, sp.exp) and e.args[0].has(rho), tidy_exp)
    return expr.replace(lambda e: e.is_Pow and not e.exp.is_Integer and e.base.has(rho), tidy_root)


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


# -- the NTK factor from the NNGP closed form (Price's theorem) --------------------------------------
_ROOT = sp.Dummy("r_", positive=True)     # the one square root with rho inside, while rationalizing
_GAP = sp.Dummy("u_", nonnegative=True)   # 1 - rho^2 while regrouping polynomials


def _split_root(p):
    """``(n/d)^e -> n^e / d^e`` for a positive ``d``; bases expanded (rho inside the root)."""
    n, d = sp.fraction(sp.together(p.base))
    if d != 1 and d.is_positive:
        return sp.expand(n) ** p.exp / d ** p.exp
    return sp.expand(p.base) ** p.exp


def _with_root(coef, P):
    """``coef`` (rational in the gains, rho and ``sqrt(P)``) as ``A0/Q + (A1/Q) sqrt(P)``, each part
    cancelled and factored; None when another root with rho remains."""
    e = coef.replace(lambda p: p.is_Pow and p.exp.is_Rational and p.exp.q == 2 and sp.expand(p.base) == P,
                     lambda p: _ROOT ** (2 * p.exp))
    num, den = sp.fraction(sp.cancel(sp.together(e)))
    if any(p.is_Pow and not p.exp.is_Integer and p.base.has(rho) for p in (num * den).atoms(sp.Pow)):
        return None
    dp = sp.Poly(den, _ROOT)
    if dp.degree() > 0:                   # times the conjugate: the denominator free of the root
        d0 = sum(c * _ROOT**m for (m,), c in dp.terms() if m % 2 == 0)
        d1 = sum(c * _ROOT**m for (m,), c in dp.terms() if m % 2 == 1)
        num, den = num * (d0 - d1), d0**2 - d1**2

    def reduce(e):
        e = sp.Poly(sp.expand(e), _ROOT)
        return sp.expand(sum(c * P ** (m // 2) * _ROOT ** (m % 2) for (m,), c in e.terms()))
    num, den = reduce(num), reduce(den)
    n1 = num.coeff(_ROOT, 1)
    return sp.factor(sp.cancel((num - n1 * _ROOT) / den)) + sp.factor(sp.cancel(n1 / den)) * sp.sqrt(P)


def _structured(expr):
    """``expr`` as a sum over its transcendental functions of rho, each coefficient an algebraic
    part ``A0/Q + (A1/Q) sqrt(P)`` (at most one root ``sqrt(P)`` with rho), or None."""
    e = sp.expand(expr.replace(lambda p: p.is_Pow and not p.exp.is_Integer and p.base.has(rho), _split_root))
    atoms = sorted((f for f in e.atoms(sp.Function) if f.has(rho)), key=sp.default_sort_key)
    parts = sp.collect(e, atoms, evaluate=False)
    out = sp.Integer(0)
    for key, coef in parts.items():
        roots = {sp.expand(p.base) for p in coef.atoms(sp.Pow)
                 if p.exp.is_Rational and p.exp.q == 2 and p.base.has(rho)}
        if len(roots) > 1 or coef.has(*atoms):
            return None
        part = _with_root(coef, roots.pop()) if roots else sp.factor(sp.cancel(coef))
        if part is None:
            return None
        out += part * key
    return out


def _in_gap(expr):
    """Polynomials in ``rho^2`` rewritten in ``1 - rho^2 = (1 - rho)(1 + rho)`` where that makes
    every term one sign: near ``|rho| = 1`` ``a^2 b^2 rho^2 - a^2 b^2`` cancels in float64,
    ``-a^2 b^2 (1 - rho)(1 + rho)`` does not."""
    def even(p):
        return p.is_Add and p.has(rho) and p.is_polynomial(rho) and \
            all(m[0] % 2 == 0 for m in sp.Poly(p, rho).monoms())

    def regroup(p):
        q = sp.expand(p.subs(rho, sp.sqrt(1 - _GAP)))
        coeffs = sp.Poly(q, _GAP).coeffs()
        # only a sum whose terms in u = 1 - rho^2 >= 0 have one sign cannot cancel: rho^6 as
        # (1 - u)^3 would cancel at small rho, so it stays
        if not (all(c.is_positive for c in coeffs) or all(c.is_negative for c in coeffs)):
            return p
        return q.subs(_GAP, sp.Mul(1 - rho, 1 + rho, evaluate=False))
    return expr.replace(even, regroup)


def _same(e1, e2, gains, digits=40):
    """Whether ``e1`` and ``e2`` agree at three rational points to ``digits`` digits."""
    ga, gb = gains
    for av, bv, r in ((sp.Rational(13, 10), sp.Rational(7, 10), sp.Rational(2, 5)),
                      (sp.Rational(1, 3), 3, sp.Rational(-9, 10)), (2, 2, sp.Rational(99, 100))):
        pt = {ga: av, gb: bv, rho: r}
        u, v = sp.N(e1.subs(pt), digits + 10), sp.N(e2.subs(pt), digits + 10)
        if not (u.is_real and v.is_real) or abs(u - v) > 10 ** -digits * (1 + abs(u)):
            return False
    return True


@lru_cache(maxsize=64)
def price_derivative(F, ga, gb):
    r"""``E[phi'(aX) phi'(bY)] = (1/(a b)) dF/drho`` from the closed form ``F(a, b, rho) =
    E[phi(aX) phi(bY)]`` (Price's theorem, Price 1958; valid when ``phi`` is continuous with a weak
    derivative of polynomial growth, i.e. ``weak_derivative`` finds no Dirac delta), in a form
    finite at ``rho = +-1`` (:func:`_clean`) and grouped for float64 (one root rationalized,
    polynomials in ``1 - rho^2``; the regrouped form is checked against the plain derivative at
    three points to 40 digits).  None when no form finite at ``rho = +-1`` is found
    (docs/theory.md §22).

    >>> a, b = sp.symbols("a b", positive=True)
    >>> price_derivative(1 / sp.sqrt(1 + a**2 + b**2 + a**2 * b**2 * (1 - rho**2)), a, b)
    a*b*rho*sqrt(a**2*b**2*(1 - rho)*(rho + 1) + a**2 + b**2 + 1)/(-a**2*b**2*(1 - rho)*(rho + 1) - a**2 - b**2 - 1)**2
    """
    raw = sp.diff(F, rho) / (ga * gb)
    candidates = []
    try:
        grouped = _structured(raw)
    except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
        grouped = None
    if grouped is not None:
        grouped = _in_gap(grouped)
        if _finite_at_ends(grouped) and _same(grouped, raw, (ga, gb)):
            candidates.append(grouped)
    if not candidates:
        cleaned = _clean(raw)
        if _finite_at_ends(cleaned):
            candidates.append(cleaned)
    return candidates[0] if candidates else None


@lru_cache(maxsize=256)
def exp_combined(expr):
    r"""``expr`` with every product of exponentials merged into one exponential of the summed
    exponent (expanded first), so that float64 does not overflow in a factor whose product is
    small: sin's ``(e^{2ab\rho} - 1) e^{-(a^2+b^2)/2 - ab\rho}/2`` becomes
    ``(e^{-(a^2+b^2)/2 + ab\rho} - e^{-(a^2+b^2)/2 - ab\rho})/2``, every exponent ``<= 0``; then
    each such difference is written without cancellation (:func:`_exp_differences`).  The
    result is checked against ``expr`` at three points to 40 digits; ``expr`` itself is returned
    when it has no ``exp`` or the check fails.

    >>> a, b = sp.symbols("a b", positive=True)
    >>> exp_combined((sp.exp(2*a*b*rho) - 1) * sp.exp(-a**2/2 - a*b*rho - b**2/2) / 2)
    (1 + exp(-2*a*b*Abs(rho)))*exp(-a**2/2 + a*b*Abs(rho) - b**2/2)*tanh(a*b*rho)/2
    """
    if not expr.has(sp.exp):
        return expr
    out = sp.powsimp(sp.expand(expr, deep=False, power_exp=False), combine="exp")
    out = sp.Add(*[sp.powsimp(t, combine="exp") for t in sp.Add.make_args(sp.expand(out))])
    out = _exp_differences(out)
    gains = sorted(expr.free_symbols - {rho}, key=str)
    if len(gains) > 2:
        return expr
    gains += [sp.Dummy()] * (2 - len(gains))
    return out if _same(out, expr, tuple(gains)) else expr


def _exp_parts(term):
    """``(c, E)`` with ``term = c e^E`` and ``c`` free of exp, or None."""
    factors = sp.Mul.make_args(term)
    exps = [f for f in factors if isinstance(f, sp.exp)]
    if len(exps) != 1:
        return None
    c = sp.Mul(*[f for f in factors if f is not exps[0]])
    return None if c.has(sp.exp) else (c, exps[0].args[0])


def _exp_differences(expr):
    r"""Each pair ``c e^A - c e^B`` of an Add written as
    ``c e^{M} 	anh((A-B)/2) (1 + e^{-|A-B|})``, ``M = (A+B)/2 + |A-B|/2 = max(A, B)``
    (``e^A - e^B = e^M \operatorname{sign}(A-B)(1 - e^{-|A-B|})`` and
    ``\operatorname{sign}(d)(1 - e^{-|d|}) = 	anh(d/2)(1 + e^{-|d|})``): no cancellation when
    ``A - B`` is tiny (sin's ``e^{-(a^2+b^2)/2} \sinh(ab
ho)`` at variances ~1e-6 lost 4 digits as
    a difference) and no overflow (``M <= 0`` where both exponents are); only ``Abs`` and
    ``tanh``, which NumPy, torch, math and mpmath print (docs/theory.md §22).

    >>> a, b = sp.symbols("a b", positive=True)
    >>> _exp_differences(sp.exp(-a**2/2 + a*b*rho)/2 - sp.exp(-a**2/2 - a*b*rho)/2)
    (1 + exp(-2*a*b*Abs(rho)))*exp(-a**2/2 + a*b*Abs(rho))*tanh(a*b*rho)/2
    """
    terms = list(sp.Add.make_args(expr))
    parts = [_exp_parts(t) for t in terms]
    used, out = set(), []
    for i, pi in enumerate(parts):
        if pi is None or i in used:
            continue
        for j in range(i + 1, len(terms)):
            pj = parts[j]
            if pj is None or j in used or sp.expand(pi[0] + pj[0]) != 0:
                continue
            d = sp.expand(pi[1] - pj[1])
            m = sp.expand((pi[1] + pj[1]) / 2) + sp.Abs(d) / 2
            out.append(pi[0] * sp.exp(m) * sp.tanh(d / 2) * (1 + sp.exp(-sp.Abs(d))))
            used |= {i, j}
            break
    return sp.Add(*out, *[t for k, t in enumerate(terms) if k not in used])


def _atan2_of(e):
    """``asin(u) = atan2(u sqrt(d), sqrt(n))`` with ``1 - u^2 = n/d``, ``d > 0``, ``n`` in
    ``1 - rho^2`` (:func:`_in_gap`); ``e`` itself when ``d`` is not known positive."""
    u = e.args[0]
    n, d = sp.fraction(sp.together(1 - u**2))
    if not d.is_positive:
        return e
    return sp.atan2(sp.factor(u * sp.sqrt(d)), sp.sqrt(_in_gap(sp.expand(n))))


@lru_cache(maxsize=256)
def float_form(expr):
    r"""``expr`` rewritten for float64, checked against it at three points to 40 digits (else
    ``expr``): exponentials merged (:func:`exp_combined`), polynomials in ``rho^2`` written in
    ``1 - rho^2 = (1 - rho)(1 + rho)`` and ``asin(u)`` with ``u -> 1`` as
    ``atan2(u sqrt(d), sqrt(n))``, ``1 - u^2 = n/d``: erf's ``asin(2ab\rho/\sqrt{(1+2a^2)(1+2b^2)})``
    near 1 lost ``eps/sqrt(1 - u^2)``, about ``sqrt(q) eps`` at variance ``q``, in the rounding of ``u``.
    ``asin(rho)`` itself is kept (the angle forms of docs/theory.md §13 read it); docs/theory.md §22.

    >>> a, b = sp.symbols("a b", positive=True)
    >>> float_form(2 * sp.asin(2*a*b*rho / (sp.sqrt(2*a**2 + 1) * sp.sqrt(2*b**2 + 1))) / sp.pi)
    2*atan2(2*a*b*rho, sqrt(4*a**2*b**2*(1 - rho)*(rho + 1) + 2*a**2 + 2*b**2 + 1))/pi
    """
    out = exp_combined(expr)
    out = out.replace(lambda e: isinstance(e, sp.asin) and e.args[0].has(rho) and e.args[0] not in (rho, -rho),
                      _atan2_of)
    out = _in_gap(out)
    if out == expr:
        return expr
    gains = sorted(expr.free_symbols - {rho}, key=str)
    if len(gains) > 2:
        return expr
    gains += [sp.Dummy()] * (2 - len(gains))
    return out if _same(out, expr, tuple(gains)) else expr
