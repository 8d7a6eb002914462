"""Split an expression with kinks and jumps into smooth pieces on intervals of the real line.

``Max``, ``Min``, ``Abs``, ``sign``, ``Heaviside`` and ``Piecewise`` switch at the real zeros of
their arguments (the *breakpoints*).  Between two consecutive breakpoints each of them is one of
its branches; :func:`split` returns those branches as ``Piece(lo, hi, expr)``.  Breakpoints may
depend on positive parameters (``hardtanh(alpha x)`` breaks at ``±1/alpha``); they are ordered by
substituting a generic test value for every parameter, which is sound for the registry's
activations (breakpoints scale with the gain) and checked for consistency at a second value.

>>> from symkernel.core.symbols import x
>>> import sympy as sp
>>> split(sp.Max(x, 0))
(Piece(lo=-oo, hi=0, expr=0), Piece(lo=0, hi=oo, expr=x))
"""
from typing import NamedTuple

import sympy as sp

from .parsing import to_sympy

from symkernel.errors import InvalidInputError
from .symbols import x

_SWITCHES = (sp.Max, sp.Min, sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise)
_TEST_VALUES = (sp.Rational(137, 100), sp.Rational(59, 50))


class Piece(NamedTuple):
    """The smooth expression ``expr`` of an activation on the open interval ``(lo, hi)``."""

    lo: sp.Expr
    hi: sp.Expr
    expr: sp.Expr


def _switch_atoms(expr):
    return [a for a in sp.preorder_traversal(expr) if isinstance(a, _SWITCHES) and a.has(x)]


def _zeros(g):
    """Real zeros in x of a switching argument g (linear or polynomial in x)."""
    if _switch_atoms(g):  # nested switches: zeros of each smooth piece inside its interval
        out = []
        for piece in split(g):
            for z in _zeros(piece.expr):
                if _num(piece.lo) < _num(z) < _num(piece.hi):
                    out.append(z)
        return out
    g = sp.together(g)
    num, _ = sp.fraction(g)
    if not num.has(x):
        return []
    try:
        poly = sp.Poly(num, x)
    except sp.PolynomialError:
        raise InvalidInputError(f"cannot locate the switching points of {g} (not polynomial in x)") from None
    if poly.degree() == 1:
        return [sp.simplify(sp.solve(num, x)[0])]
    roots = sp.solve(num, x)
    return [r for r in roots if r.is_real is not False and not r.has(sp.I)]


def breakpoints_of(expr):
    """Sorted, distinct breakpoints of ``expr`` (SymPy expressions, possibly in positive symbols)."""
    pts = []
    for atom in _switch_atoms(expr):
        if isinstance(atom, (sp.Max, sp.Min)):
            args = atom.args
            gs = [a - b for i, a in enumerate(args) for b in args[i + 1:]]
        elif isinstance(atom, sp.Piecewise):
            gs = []
            for _, cond in atom.args:
                for rel in cond.atoms(sp.core.relational.Relational):
                    gs.append(rel.lhs - rel.rhs)
        else:
            gs = [atom.args[0]]
        for g in gs:
            pts.extend(_zeros(g))
    return _sorted_unique(pts)


def _test_subs(expr, which=0):
    return {s: _TEST_VALUES[which] for s in expr.free_symbols if s != x}


def _num(expr, which=0):
    val = to_sympy(expr).subs(_test_subs(to_sympy(expr), which))
    return float(sp.N(val, 30))


def _sorted_unique(pts):
    out = []
    for p in sorted(pts, key=_num):
        if not out or abs(_num(p) - _num(out[-1])) > 1e-12:
            out.append(p)
    order2 = sorted(out, key=lambda p: _num(p, 1))
    if order2 != out:
        raise InvalidInputError("the order of the breakpoints depends on the parameter values; "
                                "substitute numbers for the parameters")
    return out


def _representative(lo, hi):
    if lo == -sp.oo and hi == sp.oo:
        return sp.Integer(0)
    if lo == -sp.oo:
        return hi - 1
    if hi == sp.oo:
        return lo + 1
    return (lo + hi) / 2


def _sign_at(g, point):
    val = g.subs(x, point)
    val = val.subs(_test_subs(val))
    v = sp.N(val, 30)
    if v.is_real is False or not v.is_number:
        raise InvalidInputError(f"cannot decide the sign of {g} between breakpoints")
    return 1 if v > 0 else (-1 if v < 0 else 0)


def specialize(expr, point):
    """Replace every switching atom of ``expr`` by its branch at x = ``point``."""
    if not expr.has(*_SWITCHES):
        return expr
    if isinstance(expr, sp.Heaviside):
        return sp.Integer(1 if _sign_at(expr.args[0], point) > 0 else 0)
    if isinstance(expr, sp.sign):
        return sp.Integer(_sign_at(expr.args[0], point))
    if isinstance(expr, sp.Abs):
        arg = specialize(expr.args[0], point)
        return arg if _sign_at(arg, point) >= 0 else -arg
    if isinstance(expr, (sp.Max, sp.Min)):
        args = [specialize(a, point) for a in expr.args]
        best = args[0]
        for a in args[1:]:
            s = _sign_at(a - best, point)
            if (s > 0 and isinstance(expr, sp.Max)) or (s < 0 and isinstance(expr, sp.Min)):
                best = a
        return best
    if isinstance(expr, sp.Piecewise):
        for branch, cond in expr.args:
            if cond == sp.true or _holds(cond, point):
                return specialize(branch, point)
        raise InvalidInputError(f"Piecewise {expr} is undefined near x = {point}")
    if not expr.args:
        return expr
    return expr.func(*[specialize(a, point) for a in expr.args])


def _holds(cond, point):
    val = cond.subs(x, point)
    val = val.subs(_test_subs(val)) if hasattr(val, "free_symbols") else val
    if val in (sp.true, sp.false):
        return bool(val)
    return bool(sp.N(val.lhs - val.rhs, 30) > 0) if isinstance(val, (sp.StrictGreaterThan, sp.GreaterThan)) \
        else bool(sp.N(val.rhs - val.lhs, 30) > 0)


def split(expr):
    """Split ``expr`` into its smooth :class:`Piece` s (see the module docstring)."""
    expr = to_sympy(expr)
    pts = breakpoints_of(expr)
    edges = [-sp.oo, *pts, sp.oo]
    pieces = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        branch = specialize(expr, _representative(lo, hi))
        if pieces and sp.simplify(branch - pieces[-1].expr) == 0:
            pieces[-1] = Piece(pieces[-1].lo, hi, pieces[-1].expr)  # no real switch there
        else:
            pieces.append(Piece(lo, hi, branch))
    return tuple(pieces)


#: largest degree of a polynomial under a root or a logarithm whose negative set is located exactly
MAX_ROOT_DEGREE = 8


def non_real_point(expr, lo=-sp.oo, hi=sp.oo):
    """A rational point of ``(lo, hi)`` where ``expr`` is not real because the polynomial under a
    fractional power or a logarithm is negative there (``sqrt(3 - x)`` at ``x = 4``), or ``None``.

    Exact: the polynomial's real roots are isolated by SymPy (``Poly.intervals``) and its sign is
    taken at one rational point of every interval between them, so a region of any width or
    distance is found (sampling a few points misses ``sqrt(100 - x)``).  Polynomials of degree
    above :data:`MAX_ROOT_DEGREE` and pieces with irrational ends are not examined.

    >>> non_real_point(sp.sqrt(3 - x)), non_real_point(sp.log(x**2 + 1)), non_real_point(sp.sqrt(x), 0)
    (4, None, None)
    """
    lo, hi = to_sympy(lo), to_sympy(hi)
    ends = [e for e in (lo, hi) if e.is_finite]
    if not all(e.is_Rational for e in ends):
        return None
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.log):
            base = node.args[0]
        elif node.is_Pow and node.exp.is_number and not node.exp.is_integer:
            base = node.base
        else:
            continue
        if not base.has(x) or not base.is_polynomial(x):
            continue
        poly = sp.Poly(base, x)
        if not poly.is_univariate or poly.degree() > MAX_ROOT_DEGREE or not all(c.is_Rational for c in poly.coeffs()):
            continue
        cuts = sorted({*ends, *(e for iv in poly.intervals() for e in iv[0])})
        probes = [cuts[0] - 1, cuts[-1] + 1, *((a + b) / 2 for a, b in zip(cuts, cuts[1:]))] if cuts else [0]
        for t in sorted(probes, key=abs):
            if lo < t < hi and poly.eval(t) < 0:
                return t
    return None
