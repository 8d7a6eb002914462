"""A restricted parser for activation strings such as ``"x**2 - 1"`` or ``"tanh(2*x)"``.

The string is parsed by Python's :mod:`ast` into a syntax tree that is *walked*, never executed:
only numbers, the symbol ``x``, the operators ``+ - * / ** ^`` and calls of the functions in
:data:`FUNCTIONS` are allowed.  Nothing reaches ``eval``, ``sympify`` or ``parse_expr``.

>>> parse_activation("x^2 - 1")        # ^ is a power, with the precedence of **
x**2 - 1
>>> parse_activation("max(x, 0)")
Max(0, x)
>>> parse_activation("__import__('os')")
Traceback (most recent call last):
...
symkernel.errors.UnknownActivationError: cannot parse ...: unknown function '__import__'; allowed: ...
"""
import ast
import math

import sympy as sp

from symkernel.errors import InvalidInputError, UnknownActivationError
from symkernel.numerics.rationals import decimal_value  # noqa: F401 - the typed-number reading, re-exported
from .symbols import alpha, x

FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "atan": sp.atan, "arctan": sp.atan,
    "erf": sp.erf, "erfc": sp.erfc, "abs": sp.Abs, "Abs": sp.Abs, "sign": sp.sign,
    "Heaviside": sp.Heaviside, "heaviside": sp.Heaviside, "max": sp.Max, "Max": sp.Max,
    "min": sp.Min, "Min": sp.Min,
}
#: names a string may use: the variable x, the symbolic gain alpha (> 0, ``sk.alpha``), pi and e
CONSTANTS = {"x": x, "alpha": alpha, "pi": sp.pi, "E": sp.E, "e": sp.E}
#: how many arguments each function takes (min, max); max/min take two or more
ARITY = {name: (1, 1) for name in FUNCTIONS}
ARITY.update({"max": (2, 16), "Max": (2, 16), "min": (2, 16), "Min": (2, 16)})
#: deepest nesting of operations and calls, and the largest exponent, the parser accepts
MAX_DEPTH = 24
MAX_EXPONENT = 1000
_BINOPS = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b,
}
MAX_LENGTH = 500


def parse_activation(text, functions=None):
    """Parse ``text`` into a SymPy expression in :data:`symkernel.x` (see the module docstring).

    ``functions``: more one-argument functions the string may call, ``name -> f(arg)`` returning
    a SymPy expression (:func:`symkernel.activation` passes the registry's activations, so that
    ``"sigmoid(x - 2)"`` is the registry's sigmoid composed with ``x - 2``); the names of
    :data:`FUNCTIONS` keep their meaning.

    >>> parse_activation("f(2*x) + 1", {"f": lambda u: u**2})
    4*x**2 + 1
    """
    if len(text) > MAX_LENGTH:
        raise UnknownActivationError(f"activation string longer than {MAX_LENGTH} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnknownActivationError(f"cannot parse {text!r}: it contains an invalid character "
                                     "(a lone surrogate)") from None
    try:
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")  # ^ means power, as in papers
    except SyntaxError as exc:
        raise UnknownActivationError(f"cannot parse {text!r}: {exc.msg}") from None
    try:
        return _build(tree.body, 0, {**(functions or {}), **FUNCTIONS})
    except _Reject as exc:
        raise UnknownActivationError(f"cannot parse {text!r}: {exc}") from None


class _Reject(Exception):
    pass


def _build(node, depth, funcs):
    if depth > MAX_DEPTH:
        raise _Reject(f"the expression is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _Reject(f"constant {node.value!r} is not a number")
        if isinstance(node.value, float) and not math.isfinite(node.value):
            raise _Reject("a number overflows to infinity (the largest is about 1.8e308)")
        return decimal_value(node.value) if isinstance(node.value, float) else sp.Integer(node.value)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise _Reject(f"unknown name {node.id!r}; the variable is 'x', the gain 'alpha' "
                      "(constants: pi, E)")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _build(node.left, depth + 1, funcs), _build(node.right, depth + 1, funcs)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        if isinstance(node.op, ast.Div) and right == 0:
            raise _Reject("division by zero")
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        val = _build(node.operand, depth + 1, funcs)
        return -val if isinstance(node.op, ast.USub) else val
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)[:40]
        if name not in funcs:
            raise _Reject(f"unknown function {name!r}; allowed: {', '.join(sorted(funcs))}")
        if node.keywords:
            raise _Reject("keyword arguments are not allowed")
        lo, hi = ARITY.get(name, (1, 1))
        if not lo <= len(node.args) <= hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise _Reject(f"{name}() takes {want} argument{'s' if hi > 1 else ''}, "
                          f"got {len(node.args)}")
        return funcs[name](*[_build(a, depth + 1, funcs) for a in node.args])
    raise _Reject(f"{type(node).__name__} is not allowed (only numbers, x, + - * / ** and functions)")


def _check_power(base, exponent):
    """Refuse powers whose size alone would hang SymPy (9**9**9, x**10**10)."""
    if exponent.is_number and exponent.is_real and abs(exponent) > MAX_EXPONENT:
        if base.has(x) or (base.is_number and abs(base) not in (0, 1)):
            raise _Reject(f"the exponent {exponent} is beyond {MAX_EXPONENT} in size")


def to_sympy(value):
    """A SymPy object from a SymPy object, a number, a sequence of those, or a string.

    The replacement for ``sympify`` everywhere in the package: strings go through the restricted
    parser above (never ``eval``); numbers and mpmath/NumPy scalars convert exactly as SymPy's
    strict conversion does; anything else is an :class:`InvalidInputError`.

    >>> to_sympy("2/3"), to_sympy(0.5), to_sympy(sp.pi)
    (2/3, 0.500000000000000, pi)
    >>> to_sympy("os.system('ls')")
    Traceback (most recent call last):
    ...
    symkernel.errors.InvalidInputError: cannot parse ...
    """
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, str):
        try:
            return parse_activation(value)
        except UnknownActivationError as exc:
            raise InvalidInputError(str(exc)) from None
    if isinstance(value, (list, tuple)):
        return type(value)(to_sympy(v) for v in value)
    try:
        return sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise InvalidInputError(f"expected a number or a SymPy expression, got {type(value).__name__}") from None
