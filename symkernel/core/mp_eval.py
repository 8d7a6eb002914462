"""Arbitrary-precision mpmath evaluation of SymPy expressions: the one mpmath ``lambdify``.

``sympy.lambdify(..., modules="mpmath")`` prints a named constant that mpmath does not know
(SELU's ``lambda_01, alpha_01``, SymPy's ``TribonacciConstant``) as a 60-bit ``mpf`` literal, so
a value would silently carry 18 digits whatever the working precision.  :func:`mp_lambdify`
binds each such constant to an mpmath *constant*, which (like ``mpmath.pi``) is evaluated from
its closed form at the working precision of each call (cached per precision).  Everything else
is SymPy's mpmath printer: ``pi, E, EulerGamma, Catalan, GoldenRatio`` are mpmath's own lazy
constants, ``sqrt(2)``, ``1/3``, ``erfi`` are computed at the working precision.

>>> import mpmath
>>> from symkernel.core.activations import SELU_SCALE
>>> from symkernel.core.symbols import x
>>> f = mp_lambdify(x, SELU_SCALE * x)
>>> with mpmath.workdps(40):
...     print(f(1))
1.050700987355480493419334985294606351959
"""
from functools import lru_cache

import mpmath
import sympy as sp
from sympy.printing.pycode import MpmathPrinter

#: NumberSymbols that SymPy's mpmath printer prints as mpmath's own lazy constants
_MPMATH_KNOWN = (sp.pi, sp.E, sp.EulerGamma, sp.Catalan, sp.GoldenRatio)


@lru_cache(maxsize=512)
def _constant_value(constant, prec):
    return constant._as_mpf_val(prec)


@lru_cache(maxsize=64)
def _lazy(constant):
    """``constant`` as an mpmath constant evaluated at the working precision when used."""
    return mpmath.mp.constant(lambda prec, rounding: _constant_value(constant, prec), str(constant))


class _Printer(MpmathPrinter):
    """SymPy's mpmath printer, printing each constant it would write as a 60-bit literal by the
    name :func:`mp_lambdify` binds to a lazy mpmath constant."""

    def __init__(self, names):
        super().__init__({"fully_qualified_modules": False, "inline": True,
                          "allow_unknown_functions": True, "user_functions": {}})
        self._names = names

    def _print_NumberSymbol(self, expr):
        return self._names[expr]


def mp_lambdify(args, expr):
    """``sympy.lambdify(args, expr, modules="mpmath")`` whose every constant is evaluated at the
    working precision of the call (see the module docstring); ``expr`` is a SymPy expression or a
    tuple/list of them."""
    exprs = tuple(expr) if isinstance(expr, (tuple, list)) else (expr,)
    constants = set()
    for e in exprs:
        constants |= {c for c in e.atoms(sp.NumberSymbol) if c not in _MPMATH_KNOWN}
    if not constants:
        return sp.lambdify(args, expr, modules="mpmath")
    taken = {str(s) for e in exprs for s in e.free_symbols}
    names, i = {}, 0
    for c in sorted(constants, key=str):
        while f"_mp_const{i}" in taken:
            i += 1
        names[c] = f"_mp_const{i}"
        i += 1
    namespace = {name: _lazy(c) for c, name in names.items()}
    return sp.lambdify(args, expr, modules=[namespace, "mpmath"], printer=_Printer(names))


__all__ = ["mp_lambdify"]
