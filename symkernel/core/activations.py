"""Activations: a SymPy expression in ``x`` with its gain, parameters and smooth pieces.

``activation(name_or_expr, gain=1, **params)`` builds one from a registry name, a SymPy
expression in :data:`symkernel.x`, or a string for the restricted parser.  The gain ``alpha``
gives ``sigma_alpha(x) = sigma(alpha x)`` (docs/theory.md §1).

>>> import symkernel as sk
>>> sk.activation("relu")
Activation('relu', Max(0, x))
>>> sk.activation("sin", gain=sk.alpha).expr
sin(alpha*x)
>>> sk.activation("exp", shift=-2).expr          # Joudaki, Daneshmand & Bach (NeurIPS 2023) Table 2
exp(x - 2)
>>> sk.activation("he", n=2).expr
sqrt(2)*x**2/2 - sqrt(2)/2
"""
import numbers
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import sympy as sp
from mpmath.libmp import mpf_pos, round_nearest

from symkernel.numerics import serialized, serialized_class
from symkernel.numerics.rationals import decimal_value
from .parsing import to_sympy

from symkernel.errors import InvalidInputError, UnknownActivationError
from .parsing import parse_activation
from .hermite import he_polynomial
from .numpy_eval import piecewise_numpy
from .pieces import Piece, split
from .serialize import read_srepr, register_constant, require, write_srepr
from .symbols import x

#: what SymPy raises when a simplification or a substitution fails on an expression it cannot
#: handle (the callers then answer "unknown" instead of deciding)
SIMPLIFY_FAILURES = (TypeError, ValueError, AttributeError, NotImplementedError, ArithmeticError,
                     RecursionError, sp.SympifyError, sp.PolynomialError)


def _selu_constants():
    """Exact SELU constants (Klambauer et al. 2017, eq. 14): the fixed point (mean 0, variance 1)."""
    e = sp.E
    erfc1 = sp.erfc(1 / sp.sqrt(2))
    alpha01 = -sp.sqrt(2 / sp.pi) / (erfc1 * sp.sqrt(e) - 1)
    lambda01 = (1 - erfc1 * sp.sqrt(e)) * sp.sqrt(2 * sp.pi) / sp.sqrt(
        2 * sp.erfc(sp.sqrt(2)) * e**2 + sp.pi * erfc1**2 * e - 2 * (2 + sp.pi) * erfc1 * sp.sqrt(e)
        + sp.pi + 2)
    return lambda01, alpha01


_CONSTANT_INSTANCES = {}


class NamedConstant(sp.NumberSymbol):
    """An exact real constant shown by name (like ``pi``), evaluated from its closed form."""

    is_real = True
    is_positive = True
    is_irrational = True
    __slots__ = ()
    _definitions = {}

    def __new__(cls):   # one instance per class (NumberSymbol compares by identity): pickles too
        if cls not in _CONSTANT_INSTANCES:
            _CONSTANT_INSTANCES[cls] = sp.Expr.__new__(cls)
        return _CONSTANT_INSTANCES[cls]

    def __reduce__(self):
        return (type(self), ())

    def _as_mpf_val(self, prec):
        return _constant_mpf(type(self), int(prec))

    def _latex(self, printer):
        return self.latex_name

    def __str__(self):
        return self.name

    __repr__ = __str__

    def _sympystr(self, printer):
        return self.name


def _constant_mpf(cls, prec):
    """The constant to ``prec`` bits: evaluated once per 256-bit step of precision (with 32
    guard bits) and rounded, so a sweep over working precisions evaluates the closed form a few
    times, not once per precision."""
    step = -(-(int(prec) + 32) // 256) * 256
    return mpf_pos(_constant_mpf_at(cls, step), int(prec), round_nearest)


@lru_cache(maxsize=64)
def _constant_mpf_at(cls, prec):
    return cls.definition.evalf(prec_to_dps(prec) + 10)._as_mpf_val(prec)


def prec_to_dps(prec):
    return max(1, int(round(int(prec) / 3.3219280948873626) - 1))


@register_constant
class SeluScale(NamedConstant):
    """SELU's lambda_01 = 1.0507009873554804934193349852946..., defined in closed form."""

    name, latex_name = "lambda_01", r"\lambda_{01}"
    definition = _selu_constants()[0]


@register_constant
class SeluAlpha(NamedConstant):
    """SELU's alpha_01 = 1.6732632423543772848170429916717..., defined in closed form."""

    name, latex_name = "alpha_01", r"\alpha_{01}"
    definition = _selu_constants()[1]


SELU_SCALE, SELU_ALPHA = SeluScale(), SeluAlpha()
_GELU_TANH_C = sp.Rational(44715, 10**6)


def _normalized_hermite(n):
    if not (isinstance(n, (int, sp.Integer)) and int(n) >= 0):
        raise InvalidInputError(f"he_n needs a nonnegative integer n, got {n!r}")
    return he_polynomial(int(n))


def _monomial(n):
    if not (isinstance(n, (int, sp.Integer)) and int(n) >= 0):
        raise InvalidInputError(f"monomial needs a nonnegative integer n, got {n!r}")
    return x ** int(n)


def _elu(alpha):
    return sp.Piecewise((x, x > 0), (alpha * (sp.exp(x) - 1), True))


# name -> (builder(**params), default params, one-line description)
REGISTRY = {
    "identity": (lambda: x, {}, "x"),
    "relu": (lambda: sp.Max(x, 0), {}, "max(x, 0)"),
    "leaky_relu": (lambda slope: sp.Piecewise((x, x > 0), (slope * x, True)),
                   {"slope": sp.Rational(1, 100)}, "x for x > 0, slope*x otherwise"),
    "abs": (lambda: sp.Abs(x), {}, "|x|"),
    "step": (lambda: sp.Heaviside(x), {}, "1[x > 0]"),
    "sign": (lambda: sp.sign(x), {}, "sign(x)"),
    "hardtanh": (lambda: sp.Max(-1, sp.Min(1, x)), {}, "clip(x, -1, 1)"),
    "relu6": (lambda: sp.Min(sp.Max(x, 0), 6), {}, "min(max(x, 0), 6)"),
    "hard_sigmoid": (lambda: sp.Min(sp.Max(x / 6 + sp.Rational(1, 2), 0), 1), {},
                     "min(max(x/6 + 1/2, 0), 1) (PyTorch's Hardsigmoid)"),
    "exp": (lambda shift: sp.exp(x + shift), {"shift": 0}, "exp(x + shift)"),
    "sin": (lambda: sp.sin(x), {}, "sin(x)"),
    "cos": (lambda: sp.cos(x), {}, "cos(x)"),
    "erf": (lambda: sp.erf(x), {}, "erf(x)"),
    "gelu": (lambda: x * (1 + sp.erf(x / sp.sqrt(2))) / 2, {}, "x Phi(x) (exact GELU)"),
    "gelu_tanh": (lambda: x * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (x + _GELU_TANH_C * x**3))) / 2,
                  {}, "tanh approximation of GELU"),
    "elu": (_elu, {"alpha": 1}, "x for x > 0, alpha (e^x - 1) otherwise"),
    "celu": (lambda alpha: sp.Piecewise((x, x > 0), (alpha * (sp.exp(x / alpha) - 1), True)),
             {"alpha": 1}, "x for x > 0, alpha (e^(x/alpha) - 1) otherwise"),
    "selu": (lambda: SELU_SCALE * _elu(SELU_ALPHA), {},
             "lambda01 * elu(alpha01) with the exact constants of Klambauer et al. (2017)"),
    "softplus": (lambda: sp.log(1 + sp.exp(x)), {}, "log(1 + e^x)"),
    "sigmoid": (lambda: 1 / (1 + sp.exp(-x)), {}, "1/(1 + e^-x)"),
    "tanh": (lambda: sp.tanh(x), {}, "tanh(x)"),
    "silu": (lambda: x / (1 + sp.exp(-x)), {}, "x sigmoid(x)"),
    "mish": (lambda: x * sp.tanh(sp.log(1 + sp.exp(x))), {}, "x tanh(softplus(x))"),
    "softsign": (lambda: x / (1 + sp.Abs(x)), {}, "x/(1 + |x|)"),
    "arctan": (lambda: sp.atan(x), {}, "arctan(x)"),
    "gaussian": (lambda: sp.exp(-x**2 / 2), {}, "exp(-x^2/2)"),
    "he": (_normalized_hermite, {"n": 1}, "normalized Hermite polynomial He_n(x)/sqrt(n!)"),
    "monomial": (_monomial, {"n": 1}, "x^n"),
}
ALIASES = {"linear": "identity", "swish": "silu", "atan": "arctan", "heaviside": "step",
           "gelu_exact": "gelu", "erf_act": "erf"}


@lru_cache(maxsize=1)
def _registry_functions():
    """Registry names (aliases included) as one-argument functions for the string parser:
    ``"sigmoid(x - 2)"`` is the registry's sigmoid (default parameters) with ``x -> x - 2``."""
    def composer(name):
        builder, defaults, _ = REGISTRY[name]
        base = builder(**{k: _as_sympy_param(k, v) for k, v in defaults.items()})
        return lambda arg: base.subs(x, arg)
    return {alias: composer(ALIASES.get(alias, alias)) for alias in known_activations()}


def known_activations():
    """Sorted registry names (aliases included)."""
    return sorted([*REGISTRY, *ALIASES])


def _as_sympy_param(name, value):
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy, mpmath too
        raise InvalidInputError(f"parameter {name}={value!r} must be a number or a SymPy expression")
    return decimal_value(value, f"parameter {name}")


def _check_gain(gain):
    gain = _as_sympy_param("gain", gain)
    if gain.has(x):
        raise InvalidInputError("the gain must not depend on x")
    if gain.is_positive is False or gain.is_zero:
        raise InvalidInputError(f"the gain must be positive, got {gain}")
    if gain.is_positive is None:
        raise InvalidInputError(f"the gain {gain} is not known to be positive; use a number or a "
                                "Symbol declared positive=True, like sk.alpha")
    return gain


@serialized_class
@dataclass(frozen=True, eq=False)
class Activation:
    """An activation sigma(x) = base(gain * x); see :func:`activation`."""

    name: str
    base: sp.Expr
    gain: sp.Expr = sp.Integer(1)
    params: tuple = ()
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def expr(self):
        """The activation as a SymPy expression in ``x`` (gain applied)."""
        return self.base if self.gain == 1 else self.base.subs(x, self.gain * x)

    @cached_property
    def pieces(self):
        """Smooth pieces ``Piece(lo, hi, expr)`` between breakpoints (see :mod:`symkernel.core.pieces`)."""
        return split(self.expr)

    @property
    def breakpoints(self):
        """Points where sigma or one of its derivatives jumps."""
        return [p.lo for p in self.pieces[1:]]

    @property
    def free_parameters(self):
        """Free symbols other than x (a symbolic gain, symbolic parameters)."""
        return self.expr.free_symbols - {x}

    def __repr__(self):
        return f"Activation({self.name!r}, {self.expr})"

    def __eq__(self, other):
        return isinstance(other, Activation) and self.expr == other.expr

    def __hash__(self):
        return hash(self.expr)

    def _latex(self, printer=None):
        return sp.latex(self.expr)

    def latex(self):
        r"""LaTeX of sigma(x), e.g. ``\max\left(0, x\right)``."""
        return self._latex()

    def _repr_latex_(self):
        return rf"$\sigma(x) = {self.latex()}$"

    def with_expr(self, expr, name=None):
        """A new activation with expression ``expr`` (gain 1)."""
        return Activation(name or self.name, to_sympy(expr))

    def scaled(self, a=1, b=0):
        """The activation ``a sigma + b``."""
        return Activation(f"{a}*{self.name}+{b}", to_sympy(a) * self.expr + to_sympy(b))

    def reflected(self):
        """The activation ``sigma(-x)``."""
        return Activation(f"{self.name}(-x)", self.expr.subs(x, -x))

    def subs(self, *args, **kwargs):
        """Substitute parameter values: ``act.subs(sk.alpha, 2)`` or ``act.subs({sk.alpha: 2})``."""
        return Activation(self.name, self.expr.subs(*args, **kwargs))

    @cached_property
    def parity(self):
        """``'even'``, ``'odd'`` (odd up to an additive constant, see :attr:`odd_offset`) or ``None``.

        Odd up to a constant (sigmoid, step) still gives c_k = 0 for every even k >= 2.  A cheap
        numeric test at three points rules parity out; a symbolic simplification confirms it.
        """
        reflected = self.expr.subs(x, -x)
        # SymPy's canonical form often shows it at once (tanh(-x) = -tanh(x)): an exact identity
        if reflected == self.expr:
            return "even"
        if reflected + self.expr == 0:
            self._cache["odd_offset"] = sp.Integer(0)
            return "odd"
        try:
            if _numerically_constant(reflected - self.expr, zero=True) and _is_zero(reflected - self.expr):
                return "even"
            total = reflected + self.expr
            if not _numerically_constant(total):
                return None
            total = _piecewise_simplify(total)
        except SIMPLIFY_FAILURES:  # a failed simplification just means "unknown parity"
            return None
        if not total.has(x):
            self._cache["odd_offset"] = total
            return "odd"
        return None

    @property
    def odd_offset(self):
        """For an activation that is odd up to a constant, the constant sigma(x) + sigma(-x)."""
        return self._cache.get("odd_offset") if self.parity == "odd" else None

    @cached_property
    def linear_odd_part(self):
        """``b`` when ``sigma(x) - b x`` is even (``sigma(x) - sigma(-x) = 2 b x`` exactly), else None.

        SiLU, GELU and its tanh form are even up to ``x/2``: then ``c_1 = b`` and ``c_k = 0`` for
        every odd ``k >= 3``.  Screened at three points, confirmed by simplification.
        """
        if self.parity == "even":
            return sp.Integer(0)
        diff = self.expr - self.expr.subs(x, -x)
        try:
            if not _numerically_constant(diff / x):
                return None
            b = _piecewise_simplify(diff / (2 * x))
        except SIMPLIFY_FAILURES:  # a failed simplification just means "unknown"
            return None
        if b.has(x) or b.has(sp.nan, sp.zoo):
            return None
        return b

    @property
    def strict_parity(self):
        """``'even'``, ``'odd'`` (sigma(-x) = -sigma(x) exactly, offset 0) or ``None``.

        Use this, not :attr:`parity`, for any shortcut that needs sigma(-x) = +-sigma(x) itself
        (half-line integration, sigma_hat(-rho) = +-sigma_hat(rho)); :attr:`parity` also calls
        sigmoid "odd" (odd up to the constant 1/2), which is right only for Hermite zeros.
        """
        if self.parity == "even":
            return "even"
        if self.parity == "odd" and self.odd_offset == 0:
            return "odd"
        return None

    def memo(self, key, compute):
        """The value stored on this activation under ``key``, computed by ``compute()`` the first
        time (objects derived from sigma alone: kernels, moments, integrability checks).  A
        ``compute`` that raises stores nothing.

        >>> act = activation(x**3)
        >>> act.memo("demo", lambda: 42), act.memo("demo", lambda: 0)
        (42, 42)
        """
        try:
            return self._cache[key]
        except KeyError:
            return self._cache.setdefault(key, compute())

    def numpy(self):
        """A vectorized float64 NumPy function of sigma (parameters must be numbers)."""
        if self.free_parameters:
            raise InvalidInputError(f"give the parameters {sorted(map(str, self.free_parameters))} "
                                    "numeric values (act.subs(...)) before evaluating numerically")
        return self.memo(("numpy",), lambda: piecewise_numpy(self.pieces))

    # -- persistence: the cache (lambdified closures, kernels) is rebuilt lazily, never pickled --
    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_cache", None)
        state.pop("parity", None)       # its odd_offset lives in the cache: recomputed with it
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        object.__setattr__(self, "_cache", {})

    def to_dict(self):
        """A JSON-ready dict (expressions as ``sympy.srepr`` strings).

        >>> act = activation("leaky_relu", slope=0.2)
        >>> Activation.from_dict(act.to_dict()).expr == act.expr
        True
        """
        return {"type": "Activation", "version": 1, "name": self.name, "base": write_srepr(self.base),
                "gain": write_srepr(self.gain),
                "params": [[str(k), write_srepr(to_sympy(v))] for k, v in self.params]}

    @classmethod
    def from_dict(cls, d):
        """The Activation of :meth:`to_dict` (srepr read by a restricted reader, never eval)."""
        require(d, "Activation", ("name", "base", "gain"))
        if not isinstance(d["name"], str):
            raise InvalidInputError("from_dict: the activation's name must be a string")
        params = d.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, list) and len(p) == 2
                                                   and isinstance(p[0], str) for p in params):
            raise InvalidInputError("from_dict: params must be a list of [name, srepr] pairs")
        base, gain = read_srepr(d["base"]), _check_gain(read_srepr(d["gain"]))
        return cls(d["name"], base, gain, tuple((k, read_srepr(v)) for k, v in params))


def _numerically_constant(expr, zero=False):
    """False when ``expr`` visibly varies in x (or is visibly nonzero, with ``zero``) at test points."""
    free = {s: _TEST_GAIN for s in expr.free_symbols if s != x}
    values = []
    for point in (sp.Rational(-7, 5), sp.Rational(3, 10), sp.Rational(23, 10)):
        value = sp.N(expr.subs(free).subs(x, point), 20)
        if not value.is_number or value.has(sp.nan, sp.zoo):
            return True  # cannot tell numerically: let the symbolic test decide
        values.append(complex(value))
    if zero:
        return all(abs(v) < 1e-12 for v in values)
    return all(abs(v - values[0]) < 1e-12 * max(1.0, abs(values[0])) for v in values)


_TEST_GAIN = sp.Rational(137, 100)


def _is_zero(expr):
    if expr == 0:
        return True
    return _piecewise_simplify(expr) == 0


def _piecewise_simplify(expr):
    """Simplify piece by piece (SymPy's simplify is weak on Max/Heaviside combinations)."""
    pieces = split(expr)
    simplified = [sp.simplify(p.expr) for p in pieces]
    if all(s == simplified[0] for s in simplified):
        return simplified[0]
    return sp.Piecewise(*[(s, x < p.hi) for s, p in zip(simplified, pieces)])


@serialized
def activation(spec, gain=1, **params):
    """Build an :class:`Activation`.

    ``spec`` is a registry name (see :func:`known_activations`), a SymPy expression in
    :data:`symkernel.x`, an existing Activation (to apply a gain), or a string such as
    ``"x**2 - 1"`` read by the restricted parser :func:`symkernel.core.parsing.parse_activation`.
    ``gain`` (a positive number or positive symbol) gives sigma(gain * x).

    >>> activation("leaky_relu", slope=0.2).expr
    Piecewise((x, x > 0), (x/5, True))
    >>> activation("softmax")
    Traceback (most recent call last):
    ...
    symkernel.errors.UnknownActivationError: cannot parse 'softmax': unknown name 'softmax'; ...
    """
    gain = _check_gain(gain)
    if isinstance(spec, Activation):
        if params:
            raise InvalidInputError(f"{_unknown_keywords(params)}: parameters apply to registry names "
                                    f"only, and {spec.name!r} is already an Activation")
        return Activation(spec.name, spec.expr, gain) if gain != 1 else spec
    if isinstance(spec, str):
        name = ALIASES.get(spec.strip().lower(), spec.strip().lower())
        if name in REGISTRY:
            builder, defaults, _ = REGISTRY[name]
            unknown = set(params) - set(defaults)
            if unknown:
                raise InvalidInputError(f"{_unknown_keywords(unknown)} for {name!r}: it takes "
                                        f"parameters {sorted(defaults) or 'none'}")
            values = {k: _as_sympy_param(k, params.get(k, v)) for k, v in defaults.items()}
            if name in ("he", "monomial"):
                base = builder(**{k: v for k, v in values.items()})
            else:
                base = builder(**values)
            shown = tuple(sorted((k, v) for k, v in values.items() if k in params))
            label = name if not shown else name + "(" + ", ".join(f"{k}={v}" for k, v in shown) + ")"
            return Activation(label, base, gain, shown)
        try:
            expr = parse_activation(spec, _registry_functions())
        except UnknownActivationError as exc:
            raise UnknownActivationError(f"{exc}. Known activation names (each also a function "
                                         "of one argument, default parameters): "
                                         f"{', '.join(known_activations())}") from None
        if params:
            raise InvalidInputError(f"{_unknown_keywords(params)}: parameters apply to registry "
                                    f"names only, and {spec!r} is an expression")
        return _from_expr(expr, spec, gain)
    if isinstance(spec, (int, float)) or isinstance(spec, sp.Basic):
        if params:
            raise InvalidInputError(f"{_unknown_keywords(params)}: parameters apply to registry "
                                    "names only; substitute them in the expression")
        return _from_expr(to_sympy(spec), str(spec), gain)
    raise InvalidInputError(f"cannot make an activation from {type(spec).__name__}; give a registry "
                            "name, a SymPy expression in sk.x, or a string")


def as_activation(spec, gain=None, **params):
    """The one way a public entry point accepts "an activation": an :class:`Activation` (returned
    as it is when there is nothing to apply), a registry name, a string for the restricted parser
    or a SymPy expression in :data:`symkernel.x`, as :func:`activation` reads them.

    ``gain`` (``None``: none) gives ``sigma(gain x)``, on top of an Activation's own gain;
    ``params`` are registry parameters.  An unknown keyword is an InvalidInputError naming it.

    >>> as_activation("leaky_relu", gain=2, slope=0.5).expr
    Piecewise((2*x, x > 0), (x, True))
    >>> relu = as_activation("relu"); as_activation(relu) is relu
    True
    >>> as_activation(relu, gain=3).expr
    Max(0, 3*x)
    >>> as_activation("relu", slop=1)
    Traceback (most recent call last):
    ...
    symkernel.errors.InvalidInputError: unknown keyword 'slop' for 'relu': it takes parameters none
    """
    if isinstance(spec, Activation) and gain is None and not params:
        return spec
    return activation(spec, gain=1 if gain is None else gain, **params)


def _unknown_keywords(names):
    names = sorted(names)
    return f"unknown keyword{'s' if len(names) > 1 else ''} " + ", ".join(repr(n) for n in names)


def _from_expr(expr, label, gain):
    other = [s for s in expr.free_symbols if s != x and not s.is_positive]
    bad = [s for s in other if s.name == "x"]
    if bad:
        raise InvalidInputError("the expression uses a symbol named 'x' that is not sk.x; use sk.x")
    unknown = sorted(str(s) for s in other if s.is_real is not True)
    if unknown:   # a symbol without assumptions may be complex: every formula here needs real ones
        raise InvalidInputError(
            f"{expr} has the symbol(s) {unknown} besides x, which SymPy does not know to be real; "
            "declare them (sympy.Symbol('y', real=True) or positive=True) and they are treated as "
            "named parameters (act.free_parameters), or substitute numbers")
    if expr.has(sp.I) or expr.has(sp.zoo, sp.nan, sp.oo):
        raise InvalidInputError(f"{expr} is not a real activation")
    return Activation(label, expr, gain)


__all__ = ["Activation", "NamedConstant", "Piece", "activation", "as_activation", "known_activations", "REGISTRY", "SELU_SCALE",
           "SELU_ALPHA"]
