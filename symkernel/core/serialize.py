r"""Persistence helpers: a restricted reader of SymPy's ``srepr``, decimal strings, portable closures.

``to_dict`` of every result object writes exact expressions as ``sympy.srepr`` strings and values
as decimal strings with their digits; :func:`read_srepr` reads such a string back *without*
``eval`` or ``sympify``: it parses the text into a Python syntax tree (``ast.parse``, which runs
nothing) and builds the expression from a fixed vocabulary, the SymPy classes (subclasses of
``sympy.Basic``) and the package's named constants, with numbers, strings and booleans as their
only leaves.

>>> import sympy as sp
>>> from symkernel.core.symbols import x, alpha
>>> e = sp.Piecewise((alpha * x, x > 0), (sp.exp(x) - 1, True))
>>> read_srepr(sp.srepr(e)) == e
True
>>> read_srepr("__import__('os').system('true')")
Traceback (most recent call last):
...
symkernel.errors.InvalidInputError: srepr: only calls of SymPy class names are read

A numeric Quantity's evaluator is a closure defined inside the package (``kernel_map``'s
reciprocal, a mean-field pipeline); :class:`PortableFunction` pickles such a closure by reference:
the place of its code in the installed package (the top-level function or class that defines it,
its qualified name and first line) and the values it captured, each pickled in turn.  Nothing but
the package's own code is ever run on loading.
"""
import ast
import re
import sys
import types

import mpmath
import sympy as sp

from symkernel.errors import InvalidInputError

#: extra names (besides SymPy's Basic subclasses) that read_srepr knows, filled by the modules
#: that define them (the activations' named constants)
EXTRA_CLASSES = {}
#: the bare names srepr writes for those constants (``lambda_01``)
EXTRA_NAMES = {}

_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_STRING_ARGS = {"Symbol", "Dummy", "Float", "Function", "Wild", "UndefinedFunction"}
MAX_SREPR = 1_000_000
#: the constants srepr writes as bare names
_SINGLETONS = {"pi", "E", "oo", "zoo", "nan", "I", "EulerGamma", "Catalan", "GoldenRatio",
               "TribonacciConstant", "true", "false"}


def register_constant(cls):
    """Let :func:`read_srepr` build ``cls()`` (a named constant shown by its class name)."""
    EXTRA_CLASSES[cls.__name__] = cls
    if isinstance(getattr(cls, "name", None), str):
        EXTRA_NAMES[cls.name] = cls
    return cls


def _vocabulary(name):
    if name in EXTRA_CLASSES:
        return EXTRA_CLASSES[name]
    obj = getattr(sp, name, None)
    for home in (sp.core.numbers, sp.functions.elementary.piecewise, sp.core.relational):
        if obj is None:
            obj = getattr(home, name, None)   # Half, NegativeOne, ExprCondPair, StrictGreaterThan
    if isinstance(obj, type) and issubclass(obj, sp.Basic):
        return obj
    if obj is not None and type(obj).__name__ == "UndefinedFunction":
        return obj
    raise InvalidInputError(f"srepr: unknown name {name!r} (only SymPy classes are read)")


def _build(node, allow_string=False):
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or isinstance(v, int):
            return v
        if isinstance(v, str):
            if not allow_string:
                raise InvalidInputError("srepr: a string is only read as a symbol name or a Float")
            return v
        raise InvalidInputError(f"srepr: unexpected constant {v!r}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
        return -node.operand.value
    if isinstance(node, ast.Tuple):
        return tuple(_build(e) for e in node.elts)
    if isinstance(node, ast.Name):
        if node.id in EXTRA_NAMES:
            return EXTRA_NAMES[node.id]()
        if node.id not in _SINGLETONS:
            raise InvalidInputError(f"srepr: unknown name {node.id!r} (only SymPy classes are read)")
        return getattr(sp, node.id)
    if isinstance(node, ast.Call):
        if node.keywords and not all(isinstance(k.value, ast.Constant) and k.arg for k in node.keywords):
            raise InvalidInputError("srepr: keyword arguments must be constants")
        if isinstance(node.func, ast.Name):
            cls = _vocabulary(node.func.id)
            strings = node.func.id in _STRING_ARGS
        elif isinstance(node.func, ast.Call):          # Function('f')(x)
            cls = _build(node.func)
            strings = False
        else:
            raise InvalidInputError("srepr: only calls of SymPy class names are read")
        args = [_build(a, allow_string=strings) for a in node.args]
        if strings and args and isinstance(args[0], str) and node.func.id == "Float" \
                and not _DECIMAL.match(args[0].strip()):
            raise InvalidInputError(f"srepr: {args[0]!r} is not a decimal number")
        kwargs = {}
        for k in node.keywords:
            v = k.value.value
            if not isinstance(v, (bool, int)) or (isinstance(v, str)):
                raise InvalidInputError(f"srepr: keyword {k.arg}={v!r} must be a boolean or an integer")
            kwargs[k.arg] = v
        try:
            return cls(*args, **kwargs)
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidInputError(f"srepr: cannot build {ast.unparse(node)[:80]}: {exc}") from None
    raise InvalidInputError(f"srepr: unexpected syntax {type(node).__name__}")


def read_srepr(text):
    """The SymPy expression written by ``sympy.srepr`` (read by a restricted builder, never eval)."""
    if not isinstance(text, str):
        raise InvalidInputError(f"srepr: expected a string, got {type(text).__name__}")
    if len(text) > MAX_SREPR:
        raise InvalidInputError(f"srepr: the text is longer than {MAX_SREPR} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise InvalidInputError(f"srepr: not a SymPy srepr string ({type(exc).__name__})") from None
    try:
        out = _build(tree.body)
    except RecursionError:
        raise InvalidInputError("srepr: the expression is nested too deeply") from None
    if not isinstance(out, sp.Basic):
        raise InvalidInputError(f"srepr: {text[:60]!r} is not a SymPy expression")
    return out


def write_srepr(expr):
    """``sympy.srepr(expr)``, the form :func:`read_srepr` reads."""
    return sp.srepr(expr)


def to_decimal(value, digits):
    """``value`` (an mpf) as a decimal string with ``digits`` significant digits."""
    if mpmath.isinf(value):
        return "inf" if value > 0 else "-inf"
    if mpmath.isnan(value):
        raise InvalidInputError("NaN has no decimal form")
    return mpmath.nstr(value, int(digits), strip_zeros=False)


def from_decimal(text, digits, what="value"):
    """The mpf of a decimal string (``inf``/``-inf`` allowed), read at ``digits`` + 5 digits."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{what}: expected a decimal string, got {type(text).__name__}")
    s = text.strip()
    if s in ("inf", "+inf", "-inf"):
        return mpmath.inf if s != "-inf" else -mpmath.inf
    if not _DECIMAL.match(s):
        raise InvalidInputError(f"{what}: {text[:40]!r} is not a decimal number")
    with mpmath.workdps(int(digits) + 5):
        return mpmath.mpf(s)


def require(d, kind, keys):
    """``d`` checked to be a dict of ``type`` ``kind`` that has ``keys`` (InvalidInputError if not)."""
    if not isinstance(d, dict):
        raise InvalidInputError(f"from_dict: expected a dict, got {type(d).__name__}")
    if d.get("type") != kind:
        raise InvalidInputError(f"from_dict: expected type {kind!r}, got {d.get('type')!r}")
    missing = [k for k in keys if k not in d]
    if missing:
        raise InvalidInputError(f"from_dict: a {kind} dict needs the keys {missing}")
    return d


# --------------------------------------------------------------------------- portable closures
def _is_local_package_function(fn):
    return (isinstance(fn, types.FunctionType) and "<locals>" in fn.__qualname__
            and (fn.__module__ or "").startswith("symkernel"))


def portable(value):
    """``value`` with every closure of the package in it (also inside lists, tuples and dicts)
    wrapped as a :class:`PortableFunction`, so that it pickles."""
    if isinstance(value, PortableFunction):
        return value
    if _is_local_package_function(value):
        return PortableFunction(value)
    if type(value) in (list, tuple):
        return type(value)(portable(v) for v in value)
    if type(value) is dict:
        return {k: portable(v) for k, v in value.items()}
    return value


def _unwrap(obj):
    for attr in ("func", "fget", "__func__"):
        if not isinstance(obj, types.FunctionType) and hasattr(obj, attr):
            obj = getattr(obj, attr)
    while hasattr(obj, "__wrapped__"):
        obj = obj.__wrapped__
    return obj


def _codes(owner):
    """Every code object defined in ``owner`` (a function, or a class's functions), recursively."""
    roots = [owner] if not isinstance(owner, type) else list(vars(owner).values())
    stack = [f.__code__ for f in map(_unwrap, roots) if isinstance(f, types.FunctionType)]
    while stack:
        code = stack.pop()
        yield code
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


def _rebuild_function(owner, qualname, lineno, defaults, kwdefaults, cells):
    """The closure ``qualname`` of ``owner`` (found in its code) with the captured ``cells``."""
    for code in _codes(owner):
        if code.co_qualname == qualname and code.co_firstlineno == lineno:
            break
    else:
        raise InvalidInputError(f"cannot unpickle {qualname}: the installed symkernel has no such "
                                "function (pickled by another version)")
    if len(cells) != len(code.co_freevars):
        raise InvalidInputError(f"cannot unpickle {qualname}: it captures other values in this version")
    module = sys.modules[owner.__module__].__dict__
    fn = types.FunctionType(code, module, code.co_name, defaults,
                            tuple(types.CellType(c) for c in cells))
    fn.__kwdefaults__ = kwdefaults
    fn.__qualname__ = qualname
    return fn


class PortableFunction:
    """A closure of the package that pickles by reference to its code plus its captured values."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __reduce__(self):
        fn = self.fn
        module = sys.modules[fn.__module__]
        owner = getattr(module, fn.__qualname__.split(".")[0])
        cells = tuple(portable(c.cell_contents) for c in (fn.__closure__ or ()))
        defaults = portable(fn.__defaults__)
        return (_rebuild_portable, (owner, fn.__code__.co_qualname, fn.__code__.co_firstlineno,
                                    defaults, fn.__kwdefaults__, cells))


def _rebuild_portable(*args):
    return PortableFunction(_rebuild_function(*args))


__all__ = ["read_srepr", "write_srepr", "to_decimal", "from_decimal", "portable",
           "PortableFunction", "register_constant", "require"]
