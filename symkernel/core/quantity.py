r"""``Quantity``: one derived number (or expression), exact and/or numeric, with its provenance.

>>> import symkernel as sk
>>> q = sk.hermite_coefficient("relu", 2)
>>> q.expr
1/(2*sqrt(pi))
>>> q.exact, q.latex()
(True, '\\frac{1}{2 \\sqrt{\\pi}}')
>>> import mpmath; mpmath.nstr(q.value(dps=30), 30)
'0.28209479177387814347403972578'
"""
import pickle
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional

import mpmath
import sympy as sp

from symkernel.numerics import serialized_class
from symkernel.errors import InvalidInputError, PrecisionError, SymbolicValueError
from symkernel.numerics import GUARD, Result, as_result, check_dps, names_asked_dps, working
from symkernel.numerics.combine import combine
from .parsing import to_sympy
from .serialize import (
    from_decimal, portable, read_srepr, require, to_decimal, write_srepr,
)

#: The three words a provenance starts with (README, "Exact, certified, estimated").
KINDS = ("exact", "certified", "estimated")


def _check_dps(dps):
    check_dps(dps)


def evaluate_exact(expr, dps):
    """``expr`` to ``dps`` correct digits as an ``mpmath.mpf`` (SymPy's adaptive evalf, strict)."""
    if expr.free_symbols:
        raise SymbolicValueError(f"{expr} has free symbols {sorted(map(str, expr.free_symbols))}; "
                                 "substitute values first (quantity.subs(...))")
    try:
        val = sp.N(expr, dps + 3, strict=True, maxn=max(4 * dps, 200))
    except sp.core.evalf.PrecisionExhausted:
        val = sp.N(expr, dps + 3, maxn=max(16 * dps, 1000))
        check = sp.N(expr, dps + 25, maxn=max(16 * dps, 1000))
        if abs(val - check) > abs(check) * sp.Float(10) ** (-(dps + 1)) and check != 0:
            raise PrecisionError(f"could not evaluate {expr} to {dps} digits") from None
    if val.has(sp.I):
        re, im = val.as_real_imag()
        if im != 0 and abs(im) > abs(re) * sp.Float(10) ** (-(dps + 2)):
            raise PrecisionError(f"{expr} evaluates to the complex number {val}")
        val = re
    if not val.is_number or val.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        raise PrecisionError(f"{expr} does not evaluate to a finite real number ({val})")
    with mpmath.workdps(dps + 3):
        return mpmath.mpf(sp.Float(val, dps + 3)._mpf_)


#: Operation count above which :func:`_cancels_to_zero` is not tried (``expand`` of a large
#: product can cost more than the ``simplify`` it would save).
_CHEAP_ZERO_OPS = 200


def _cancels_to_zero(expr):
    """True when ``expr = p/q`` over a common denominator (``sympy.together``) has a numerator
    ``p`` that expands to 0 and a denominator ``q`` that evaluates away from 0: a cheap exact
    proof (milliseconds) tried before ``sympy.simplify`` (seconds); False says nothing."""
    if sp.count_ops(expr) > _CHEAP_ZERO_OPS:
        return False
    numer, denom = sp.fraction(sp.together(expr))
    if sp.expand(numer) != 0:
        return False
    if denom.free_symbols:
        return False
    try:
        return abs(sp.N(denom, 15, maxn=100)) > sp.Float(10) ** -10
    except (TypeError, ValueError):
        return False


def _with_definitions(expr):
    """``expr`` with named constants (SELU's ``alpha_01``, ``lambda_01``) replaced by their
    closed-form definitions and ``erf`` written through ``erfc``, or None when nothing changes."""
    defs = {a: a.definition for a in expr.atoms(sp.NumberSymbol) if hasattr(a, "definition")}
    if not defs and not expr.has(sp.erf):
        return None
    return expr.subs(defs).rewrite(sp.erfc)


@lru_cache(maxsize=1024)
def proved_zero(expr):
    """True when exact reasoning shows ``expr == 0``: a common denominator whose numerator expands
    to 0, else ``sympy.simplify``; each first for ``expr`` as it is, then with named constants
    (SELU's ``alpha_01``, ``lambda_01``) replaced by their closed-form definitions and ``erf``
    written through ``erfc`` (the form the SELU constants are defined in).  Cached per
    expression (SymPy expressions are immutable).

    >>> from symkernel.core.activations import SELU_ALPHA, SELU_SCALE
    >>> half = sp.Rational(1, 2)     # SELU's mean, 0 by construction of its constants
    >>> mean = SELU_SCALE*(SELU_ALPHA*sp.exp(half)*sp.erfc(sp.sqrt(2)/2) - SELU_ALPHA
    ...                    + sp.sqrt(2)/sp.sqrt(sp.pi))/2
    >>> proved_zero(mean), proved_zero(sp.pi - 3)
    (True, False)
    """
    if expr == 0:
        return True
    defined = _with_definitions(expr)
    if _cancels_to_zero(expr) or (defined is not None and _cancels_to_zero(defined)):
        return True
    if sp.simplify(expr) == 0:
        return True
    return defined is not None and sp.simplify(defined) == 0


def zero_if_proved(expr):
    """``expr``, or the exact 0 when it is numerically tiny and :func:`proved_zero` shows it is 0.

    A closed form can be 0 without looking like it (SELU's mean, by construction of its
    constants); evaluating such an expression to significant digits is impossible.  The
    screening evaluation works at most at 100 digits: enough to tell ``|expr| < 10^-25`` from
    larger, where an exact 0 would otherwise drive SymPy's adaptive evalf to hundreds of digits.
    """
    if expr.free_symbols or expr == 0:
        return expr
    try:
        tiny = abs(sp.N(expr, 30, maxn=100)) < sp.Float(10) ** -25
    except (TypeError, ValueError):
        tiny = True
    return sp.Integer(0) if tiny and proved_zero(expr) else expr


def exact_result(expr, dps):
    """``expr`` evaluated by SymPy's evalf as a certified :class:`~symkernel.numerics.Result`;
    ``oo`` (an infinite depth scale, a divergent kappa'(1)) is the exact value ``mpf('inf')``."""
    if expr in (sp.oo, -sp.oo):
        return Result(mpmath.inf if expr == sp.oo else -mpmath.inf, mpmath.mpf(0), True,
                      "exact: infinite")
    value = evaluate_exact(expr, dps)
    return Result(value, abs(value) * mpmath.mpf(10) ** (-(dps + 2)), True, "exact: SymPy evalf")


@serialized_class
@dataclass(frozen=True, eq=False)
class Quantity:
    """A derived number: ``expr`` (exact SymPy, or ``None``) and/or a numeric evaluator.

    ``numeric(dps)`` returns an mpf correct to ``dps`` digits, or a
    :class:`~symkernel.numerics.Result` (value with an error bound), or raises
    ``PrecisionError``; it always runs inside :func:`symkernel.numerics.working` at
    ``dps + GUARD`` digits, whatever the caller's mpmath precision.  ``symbol`` is the LaTeX name
    (``c_{3}``); ``provenance`` says how the value was obtained and starts with one of
    :data:`KINDS`: ``exact`` (a closed form), ``certified`` (a proven enclosure) or
    ``estimated`` (no enclosure; the method follows).
    """

    expr: Optional[sp.Expr]
    symbol: str = "q"
    provenance: str = ""
    numeric: Optional[Callable[[int], mpmath.mpf]] = field(default=None, repr=False)
    params: tuple = ()
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.expr is None and self.numeric is None:
            raise InvalidInputError("a Quantity needs an exact expression or a numeric evaluator")
        if self.expr is not None and not isinstance(self.expr, sp.Basic):
            object.__setattr__(self, "expr", to_sympy(self.expr))
        object.__setattr__(self, "provenance", _normalized_provenance(self))

    @property
    def kind(self):
        """``'exact'``, ``'certified'`` (a proven enclosure) or ``'estimated'``."""
        if self.expr is not None:
            return "exact"
        return "certified" if self.provenance.startswith("certified") else "estimated"

    @property
    def exact(self):
        """True when the quantity has an exact SymPy expression."""
        return self.expr is not None

    @property
    def plain_symbol(self):
        """The symbol without LaTeX markup, for terminals: ``c_3``, ``beta_sigma``."""
        return self.symbol.replace("\\", "").replace("{", "").replace("}", "").replace("mathbb", "")

    @property
    def free_symbols(self):
        return self.expr.free_symbols if self.expr is not None else set()

    @names_asked_dps
    def result(self, dps=15):
        """The value with its absolute error bound, as a :class:`~symkernel.numerics.Result`.
        A numeric quantity serves ``dps`` from a Result already computed at more digits (it
        meets fewer digits too): the same Arb enclosure answers a 5-digit and a 26-digit ask."""
        _check_dps(dps)
        if dps not in self._cache and self.expr is None:
            more = [d for d in self._cache if d > dps]
            if more:
                return self._cache[min(more)]
        if dps not in self._cache:
            with working(dps + GUARD):
                if self.expr is not None:
                    res = exact_result(self.expr, dps)
                else:
                    res = as_result(self.numeric(dps), dps, self.provenance,
                                    certified=self.kind == "certified")
            self._cache[dps] = res
        return self._cache[dps]

    def value(self, dps=15):
        """The value as an ``mpmath.mpf`` correct to ``dps`` significant digits."""
        return self.result(dps).rounded(dps)

    def error(self, dps=15):
        """An absolute error bound of :meth:`value` at ``dps`` (proven unless ``kind`` is
        ``'estimated'``, where it is the estimate of the method)."""
        res = self.result(dps)
        if mpmath.isinf(res.value):
            return mpmath.mpf(0)
        with working(dps + GUARD):
            return res.error + abs(res.value - res.rounded(dps))

    def digits_available(self, digits=15):
        """``(value, d)``: the value at the most significant digits ``d <= digits`` it can give
        (each correct, as :meth:`value` promises), found by bisection over ``d``; ``(None, err)``
        with the error in place of ``d`` when not even one digit is available (a value that may
        be 0, free parameters).  For printing: ``str``, ``repr`` and ``latex`` never raise and
        never show a digit the quantity does not have (docs/theory.md §31)."""
        try:
            return self.value(digits), digits
        except (PrecisionError, SymbolicValueError) as exc:
            first = exc
        if isinstance(first, SymbolicValueError):
            return None, first
        lo, hi, best = 1, digits - 1, None
        while lo <= hi:
            mid = (lo + hi) // 2
            try:
                best = (self.value(mid), mid)
                lo = mid + 1
            except PrecisionError:
                hi = mid - 1
        return best if best is not None else (None, first)

    def __float__(self):
        """The nearest double of the value to 17 digits, or of the 16 or 15 correct digits it has
        (a double carries 15.95); fewer: PrecisionError saying how many it has."""
        for dps in (17, 16, 15):
            try:
                return float(self.value(dps))
            except PrecisionError:
                pass
        value, d = self.digits_available(14)
        have = f"{d} correct digits (.value({d}) gives them)" if value is not None else \
            f"no correct digit ({d})"
        raise PrecisionError(f"float() of {self.symbol} needs at least 15 correct digits; "
                             f"this {self.kind} value has {have}")

    def subs(self, *args, **kwargs):
        """Substitute symbols in the exact expression (``q.subs(sk.alpha, 2)``)."""
        if self.expr is None:
            raise SymbolicValueError("a numeric quantity has no symbols to substitute")
        return Quantity(self.expr.subs(*args, **kwargs), self.symbol, self.provenance, None, self.params)

    def simplify(self):
        """The same quantity with ``sympy.simplify`` applied to its expression."""
        if self.expr is None:
            return self
        return Quantity(sp.simplify(self.expr), self.symbol, self.provenance, None, self.params)

    def _sympy_(self):
        if self.expr is None:
            raise SymbolicValueError("a numeric quantity has no exact expression; use .value(dps)")
        return self.expr

    def latex(self, digits=15, equation=False):
        """LaTeX of the exact expression, or of the numeric value to ``digits`` digits.

        ``equation=True`` prefixes the symbol: ``c_{2} = \\frac{...}{...}``.
        """
        if self.expr is not None:
            body = sp.latex(self.expr)
        else:
            value, d = self.digits_available(digits)  # fewer digits when fewer are correct
            if value is None:
                body = r"\text{(no closed form; a number once the parameters are numbers)}" \
                    if isinstance(d, SymbolicValueError) else r"\text{(no correct digit)}"
            else:
                body = self.text(d)
            if "e" in body and value is not None:
                mant, exp = body.split("e")
                body = rf"{mant} \times 10^{{{int(exp)}}}"
        return f"{self.symbol} = {body}" if equation else body

    def _latex(self, printer=None):
        return self.latex()

    def _repr_latex_(self):
        return f"${self.latex(equation=True)}$"

    def __repr__(self):
        if self.expr is not None:
            return f"Quantity({self.symbol} = {self.expr}, exact)"
        return f"Quantity({self.symbol} ≈ {self._shown()}, {self.provenance})"

    def _shown(self, digits=15):
        value, d = self.digits_available(digits)
        return self.text(d) if value is not None else f"<{d}>"

    def text(self, dps=15):
        """The value to ``dps`` significant digits as text, rounded once from all the bits computed
        (``value(dps)`` is rounded to a binary precision of ``dps`` digits: printing that to ``dps``
        digits again could round twice, 524.2436738232085166 shown as 524.243673823208).

        >>> import symkernel as sk
        >>> sk.mean_field("tanh", 1.77, 0.05).xi_c.text(15)
        '524.243673823209'
        """
        return mpmath.nstr(self.result(dps).value, dps)

    def __str__(self):
        """The exact expression, or the value to 15 digits (fewer when fewer are correct; never
        raises)."""
        return str(self.expr) if self.expr is not None else self._shown()

    # -- persistence (pickle, to_dict/from_dict) ------------------------------------------------
    def __reduce__(self):
        """Pickle the expression, the values computed so far and the evaluator: a closure of the
        package pickles by reference (:class:`~symkernel.core.serialize.PortableFunction`); one
        that cannot is replaced by the values computed so far (15 digits at least), and a later
        request for more digits raises a PrecisionError saying so."""
        return (_new_quantity, (), {"expr": self.expr, "symbol": self.symbol,
                                    "provenance": self.provenance, "params": portable(self.params),
                                    "numeric": _portable_numeric(self),
                                    "_cache": dict(self._cache)})

    def __setstate__(self, state):
        for key in ("expr", "symbol", "provenance", "numeric", "params", "_cache"):
            object.__setattr__(self, key, state[key])

    def to_dict(self, dps=None):
        """A JSON-ready dict: ``expr`` as a ``sympy.srepr`` string (or None), and the values
        computed so far (each at its digits) as decimal strings with their error bounds; a numeric
        quantity is first evaluated at ``dps`` digits (default 15, when nothing is computed yet).

        >>> import json, symkernel as sk
        >>> d = sk.hermite_coefficient("relu", 2).to_dict(); d["expr"]
        'Mul(Rational(1, 2), Pow(pi, Rational(-1, 2)))'
        >>> Quantity.from_dict(json.loads(json.dumps(d))).expr
        1/(2*sqrt(pi))
        """
        if self.expr is None and (dps is not None or not self._cache):
            self.result(15 if dps is None else dps)
        if dps is not None and self.expr is not None:
            self.result(dps)
        values = {}
        for d, res in sorted(self._cache.items()):
            digits = d + GUARD
            values[str(d)] = {"value": to_decimal(res.value, digits),
                              "error": to_decimal(res.error, 6), "certified": bool(res.certified),
                              "method": res.method}
        return {"type": "Quantity", "version": 1, "symbol": self.symbol,
                "provenance": self.provenance, "kind": self.kind,
                "expr": None if self.expr is None else write_srepr(self.expr),
                "params": [[str(k), encode_value(v)] for k, v in self.params], "values": values}

    @classmethod
    def from_dict(cls, d):
        """The Quantity of :meth:`to_dict` (expressions read by a restricted srepr reader, never
        eval); a numeric one serves the stored values (and fewer digits), and refuses more."""
        require(d, "Quantity", ("symbol", "provenance", "expr", "values"))
        if not isinstance(d["symbol"], str) or not isinstance(d["provenance"], str):
            raise InvalidInputError("from_dict: symbol and provenance must be strings")
        values = d["values"]
        if not isinstance(values, dict):
            raise InvalidInputError("from_dict: values must be a dict of dps -> value")
        cache = {}
        for key, v in values.items():
            if not (isinstance(key, str) and key.isdigit()) or not isinstance(v, dict) \
                    or not {"value", "error"} <= set(v):
                raise InvalidInputError(f"from_dict: malformed value entry {key!r}")
            dps = int(key)
            check_dps(dps)
            value = from_decimal(v["value"], dps + GUARD, "value")
            slack = 0 if mpmath.isinf(value) else abs(value) * mpmath.mpf(10) ** (-(dps + GUARD - 1))
            with working(dps + GUARD):
                error = from_decimal(v["error"], 6, "error") * (1 + mpmath.mpf(10) ** -5) + slack
            cache[dps] = Result(value, error, bool(v.get("certified", False)), str(v.get("method", "")))
        params = d.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, list) and len(p) == 2 for p in params):
            raise InvalidInputError("from_dict: params must be a list of [name, value] pairs")
        params = tuple((str(k), decode_value(v)) for k, v in params)
        if d["expr"] is not None:
            return cls(read_srepr(d["expr"]), d["symbol"], d["provenance"], None, params, cache)
        if not cache:
            raise InvalidInputError("from_dict: a numeric Quantity needs at least one value")
        return cls(None, d["symbol"], d["provenance"], StoredValues(cache, "read by from_dict"),
                   params, dict(cache))


def _new_quantity():
    return object.__new__(Quantity)


_TESTING = set()


def _portable_numeric(q):
    """``q.numeric`` in a form that pickles, or the values computed so far (StoredValues)."""
    if q.numeric is None or isinstance(q.numeric, StoredValues):
        return q.numeric
    fn = portable(q.numeric)
    if id(q) in _TESTING:   # pickled again from inside its own evaluator's captured values
        return fn
    _TESTING.add(id(q))
    try:
        pickle.dumps(fn)
        return fn
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        why = f"its evaluator cannot be pickled ({type(exc).__name__}: {exc})"
    finally:
        _TESTING.discard(id(q))
    if not q._cache:
        try:
            q.result(15)
        except (PrecisionError, SymbolicValueError, InvalidInputError):
            pass
    return StoredValues(dict(q._cache), why)


class StoredValues:
    """The evaluator of a Quantity restored from a pickle or a dict: the values stored with it,
    at their digits (fewer digits are served from more); more digits raise a PrecisionError."""

    def __init__(self, results, why):
        self.results = dict(results)
        self.why = why

    def __call__(self, dps):
        enough = [d for d in self.results if d >= dps]
        if enough:
            return self.results[min(enough)]
        best = max(self.results, default=None)
        raise PrecisionError(f"this Quantity was restored with values to {best} digits only "
                             f"({self.why}); recompute it to ask for {dps}")


def encode_value(v):
    """A parameter value in JSON form: SymPy as ``{"srepr": ...}``, a Quantity as its dict."""
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, sp.Basic):
        return {"srepr": write_srepr(v)}
    if isinstance(v, Quantity):
        return v.to_dict()
    raise InvalidInputError(f"to_dict: cannot write a {type(v).__name__} parameter")


def decode_value(v):
    """The inverse of :func:`encode_value` (srepr read by the restricted reader)."""
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, dict) and set(v) == {"srepr"}:
        return read_srepr(v["srepr"])
    if isinstance(v, dict) and set(v) == {"float"}:
        if not isinstance(v["float"], str):
            raise InvalidInputError("from_dict: a float must be written as a string")
        return float(from_decimal(v["float"], 17, "float"))
    if isinstance(v, dict) and v.get("type") == "Quantity":
        return Quantity.from_dict(v)
    raise InvalidInputError(f"from_dict: cannot read the value {str(v)[:60]!r}")


def _normalized_provenance(q):
    """Provenance that starts with its kind: a numeric value without a claim is 'estimated'."""
    text = q.provenance or ""
    if q.expr is not None:
        return text if text.startswith("exact") else f"exact: {text}".rstrip(": ")
    for word in ("certified", "estimated"):
        if text.startswith(word):
            return text
    if text.startswith("numeric:"):
        text = text[len("numeric:"):].strip()
    elif text in ("numeric", "exact"):
        text = ""
    return f"estimated: {text}".rstrip(": ") if text else "estimated"


def as_quantity(value, symbol="q", provenance="exact"):
    """``value`` itself when it is a Quantity, else the exact Quantity of a number or SymPy expression.

    >>> as_quantity(2).expr, as_quantity(as_quantity(2, "a")).symbol
    (2, 'a')
    """
    return value if isinstance(value, Quantity) else Quantity(to_sympy(value), symbol, provenance)


def combined(fn, quantities, symbol, what, params=()):
    """The Quantity ``fn(*quantities)`` evaluated in Arb ball arithmetic on the inputs' enclosures.

    ``fn`` takes and returns Arb balls (``a + b``, ``a.sqrt()``, ``a.log()``, ``a.max(b)``);
    cancellation raises the working precision (:func:`symkernel.numerics.combine.combine`).
    It is ``certified`` when every input is exact or certified, ``estimated`` otherwise.

    >>> import symkernel as sk, mpmath
    >>> m2 = sk.second_moment("tanh")
    >>> c = combined(lambda m: m.sqrt(), [m2], "C", "C = sqrt(E sigma^2)")
    >>> c.kind, mpmath.nstr(c.value(30), 30)
    ('certified', '0.627928730349106716533406803122')
    """
    kind = "certified" if all(q.kind in ("exact", "certified") for q in quantities) else "estimated"
    provenance = f"{kind}: {what} (Arb ball arithmetic on the inputs' enclosures)"
    sources = [q.result for q in quantities]
    return Quantity(None, symbol, provenance, lambda dps: combine(fn, sources, dps, provenance),
                    params)
