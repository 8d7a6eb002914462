r"""The :class:`Kernel`: ``scale * d^m/drho^m sigma_hat(rho) + sum_i poly_i rho^i`` (docs/theory.md §2).

Taylor coefficients ``a_k = scale (k+m)!/k! c_{k+m}^2 + poly_k`` (``sigma_hat = sum_k c_k^2 rho^k``,
Hermite coefficients ``c_k``).  ``kernel.result(rho, dps)`` is a
:class:`~symkernel.numerics.Result` whose error bound propagates those of ``sigma_hat``, the scale
and the polynomial part; it is certified only when every part is (``Kernel.provenance`` names
the path).  Float64 evaluation by the lambdified closed form, a truncated Taylor series (Horner)
when it reaches double precision on [-1, 1], or Gauss-Legendre quadrature.

>>> from symkernel.gaussian.expectation import as_activation
>>> Kernel(as_activation("identity"), scale=2, poly=(1,)).expr
2*rho + 1
"""
from functools import cached_property, lru_cache

import mpmath
import numpy as np
import sympy as sp

from symkernel.numerics import serialized_class
from symkernel.errors import (
    InvalidInputError, NoClosedFormError, PrecisionError, SymbolicValueError,
)
from symkernel.coefficients.hermite import hermite_coefficient
from symkernel.numerics import Result, names_asked_dps, settle
from symkernel.core.numpy_eval import numpy_lambdify, torch_lambdify
from symkernel.core.activations import Activation
from symkernel.core.quantity import Quantity, exact_result
from symkernel.core.serialize import read_srepr, require, write_srepr
from symkernel.core.symbols import rho
from .arguments import _check_dps, exact_rational, rho_value
from .arithmetic import _q, _qadd, _qmul
from .closed_forms import _clean
from .numeric import _Dual
from .precision import closed_result
from .provenance import (  # noqa: F401  (re-exported: the labels of the evaluation paths)
    CLOSED_NUMERIC_PROVENANCE, CLOSED_PROVENANCE, INNER_ESTIMATED_PROVENANCE, INNER_PROVENANCE,
    NESTED_PROVENANCE, PANELS_PROVENANCE, SERIES_PROVENANCE,
)


#: ``sympy.simplify``, cached per expression (a new kernel of the same sigma reuses it)
_simplified = lru_cache(maxsize=1024)(sp.simplify)

#: the label of sigma_hat's evaluation path per activation expression (deciding the path costs
#: SymPy limits and a quadrature; a new Activation of the same sigma reuses the label)
_PATHS = {}
_MAX_PATHS = 1024


def _path_provenance(act):
    """``_Dual.of(act).provenance``, kept per activation expression (:data:`_PATHS`)."""
    key = (act.expr, getattr(act, "base", None), getattr(act, "gain", 1))   # the closed form uses the gain
    if key not in _PATHS:
        if len(_PATHS) >= _MAX_PATHS:
            _PATHS.clear()
        _PATHS[key] = _Dual.of(act).provenance
    return _PATHS[key]


#: marks the Quantity -c_0^2 of a mean-reduced dual kernel (so that sigma_bar(0) is an exact 0)
MINUS_C0_SQUARED = "minus_c0_squared"


@serialized_class
class Kernel:
    r"""``scale * d^order/drho^order sigma_hat(rho) + sum_i poly[i] rho^i`` for one activation.

    ``kernel(rho, dps=15)`` -> mpmath.mpf; ``kernel.numpy(array)`` -> float64 array;
    ``kernel.expr`` -> SymPy in ``sk.rho`` or None; ``.derivative()``, ``.series(K)``,
    ``.coefficient(k)`` (Quantity), ``.latex()``; ``.affine(a, b0, b1)`` -> ``a K + b0 + b1 rho``.
    """

    def __init__(self, act, order=0, scale=1, poly=(), symbol=r"\hat{\sigma}", name="dual kernel"):
        self.act = act
        self.order = int(order)
        self.scale = _q(scale)
        self.poly = tuple(_q(c) for c in poly)
        self.symbol = symbol
        self.name = name
        self._dual = _Dual.of(act)

    # -- structure ----------------------------------------------------------------------------
    def _replace(self, **kw):
        args = dict(order=self.order, scale=self.scale, poly=self.poly, symbol=self.symbol,
                    name=self.name)
        args.update(kw)
        return Kernel(self.act, **args)

    def derivative(self):
        """The derivative in rho, the same kind of object (``d/drho E[f(X)f(Y)] = E[f'(X)f'(Y)]``)."""
        if self._base_expr(self.order + 1) is None and self._numeric_activation(self.order + 1)[0] is None:
            raise InvalidInputError(f"the derivative of the {self.name} of {self.act.expr} has no closed "
                                    f"form and {self._numeric_activation(self.order + 1)[1]}")
        new_poly = []
        for i, c in enumerate(self.poly[1:], start=1):
            new_poly.append(Quantity(i * c.expr, c.symbol, c.provenance) if c.exact else
                            _qmul(_q(i), c))
        sym = self.symbol + "'"
        return self._replace(order=self.order + 1, poly=tuple(new_poly), symbol=sym,
                             name=f"derivative of the {self.name}")

    def affine(self, a=1, b0=0, b1=0, symbol=None, name=None):
        """The kernel ``a K(rho) + b0 + b1 rho`` (a, b0, b1 numbers, SymPy or Quantities)."""
        a, b0, b1 = _q(a), _q(b0), _q(b1)
        poly = [_qmul(a, c) for c in self.poly]
        while len(poly) < 2:
            poly.append(_q(0))
        poly[0] = _qadd(poly[0], b0)
        poly[1] = _qadd(poly[1], b1)
        while poly and poly[-1].exact and poly[-1].expr == 0:
            poly.pop()
        return self._replace(scale=_qmul(a, self.scale), poly=tuple(poly),
                             symbol=symbol or self.symbol, name=name or self.name)

    @property
    def activation(self):
        return self.act

    # -- exact --------------------------------------------------------------------------------
    def _base_expr(self, order):
        closed = self._dual.closed
        if closed is None:
            return None
        return sp.diff(closed, rho, order) if order else closed

    @cached_property
    def expr(self):
        """Exact SymPy expression in ``sk.rho``, or None when there is no closed form."""
        base = self._base_expr(self.order)
        if base is None or not self.scale.exact or not all(c.exact for c in self.poly):
            return None
        value = self.scale.expr * base + sum(c.expr * rho**i for i, c in enumerate(self.poly))
        if sp.count_ops(value) < 300 and (self.order or self.scale.expr != 1 or self.poly):
            value = _clean(value)
        return value

    @property
    def exact(self):
        return self.expr is not None

    @property
    def provenance(self):
        """How a numeric value is obtained: exact (closed form), certified (every part a proven
        enclosure) or estimated; :meth:`result` says it for each value."""
        if self.expr is not None:
            return CLOSED_PROVENANCE
        if self._base_expr(self.order) is not None:
            text = CLOSED_NUMERIC_PROVENANCE
        else:
            act = self._numeric_activation(self.order)[0]
            text = _path_provenance(act) if act is not None else NESTED_PROVENANCE
        if text.startswith("certified") and any(q.kind == "estimated" for q in (self.scale, *self.poly)):
            text = "estimated" + text[len("certified"):] + " (with estimated coefficients)"
        return text

    def coefficient(self, k):
        """The Taylor coefficient of rho^k: ``scale (k+m)!/k! c_{k+m}^2 + poly_k`` (a Quantity)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise InvalidInputError(f"k must be a nonnegative integer, got {k!r}")
        m = self.order
        c = hermite_coefficient(self.act, k + m)
        factor = sp.factorial(k + m) / sp.factorial(k)
        if c.exact:
            term = Quantity(_simplified(factor * c.expr**2), f"a_{{{k}}}", c.provenance)
        else:
            term = Quantity(None, f"a_{{{k}}}", c.provenance,
                            lambda dps: _square_times(c, factor, dps))
        term = _qmul(self.scale, term)
        if k < len(self.poly):
            term = _qadd(term, self.poly[k])
        return term

    def series(self, K):
        """``sum_{k<K} a_k rho^k`` (SymPy; Float coefficients to 20 digits where not exact)."""
        if isinstance(K, bool) or not isinstance(K, int) or K < 0:
            raise InvalidInputError(f"K must be a nonnegative integer, got {K!r}")
        total = sp.Integer(0)
        for k in range(K):
            a = self.coefficient(k)
            coef = a.expr if a.exact else sp.Float(a.value(20), 20)
            total += coef * rho**k
        return total

    # -- numeric ------------------------------------------------------------------------------
    def _numeric_activation(self, order):
        act, why = self.act, None
        for _ in range(order):
            act, why = _Dual.of(act).derivative_activation
            if act is None:
                return None, why
        return act, None

    def __call__(self, r, dps=15):
        """The kernel at ``r`` in [-1, 1] as an mpmath.mpf correct to ``dps`` digits.  A torch
        tensor ``r`` is evaluated by the differentiable float64 twin (:meth:`numpy`) and gives a
        tensor; it cannot ask for more digits than float64 holds."""
        if type(r).__module__.startswith("torch"):
            if dps != 15:
                raise InvalidInputError(f"a torch tensor is evaluated in float64 (the differentiable "
                                        f"twin); dps={dps} needs a number, not a tensor")
            return self._torch(r)
        return self.result(r, dps).rounded(dps)

    @names_asked_dps
    def result(self, r, dps=15):
        """The kernel at ``r`` as a :class:`~symkernel.numerics.Result` (value, error bound,
        ``certified`` only for a proven enclosure) meeting ``dps`` significant digits."""
        _check_dps(dps)
        at, exact_rho = rho_value(r)
        if self.expr is not None:
            if exact_rho is not None:
                value = self.expr.subs(rho, exact_rho)
                if not value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
                    return exact_result(value, dps)
            return closed_result(self.expr, at, dps)
        if exact_rho is not None and exact_rho == 0:   # K(0) = a_0, exact when its parts are
            if self._reduced_at_zero():
                return Result(mpmath.mpf(0), mpmath.mpf(0), True, "exact: sigma_bar(0) = c_0^2 - c_0^2")
            a0 = self.coefficient(0)
            return exact_result(a0.expr, dps) if a0.exact else a0.result(dps)
        return self._numeric(at, exact_rho, dps)

    def _reduced_at_zero(self):
        """True for ``sigma_hat - c_0^2`` (mean-reduced dual, order 0, scale 1): 0 at rho = 0."""
        return (self.order == 0 and self.scale.exact and self.scale.expr == 1 and len(self.poly) >= 1
                and dict(self.poly[0].params).get(MINUS_C0_SQUARED, False))

    def _numeric(self, at, exact_rho, dps):
        base = self._base_expr(self.order)
        if base is None:
            act, why = self._numeric_activation(self.order)
            if act is None:
                raise InvalidInputError(f"the {self.name} cannot be evaluated numerically: {why}")
            dual = _Dual.of(act)

        def run(wp):
            # scale * b + sum_i c_i r^i with first-order-exact error propagation of every part
            if base is not None:
                b = closed_result(base, at, wp)
            else:
                b = dual.result(at, exact_rho, wp)
            # the scale 3 digits beyond wp: the kernel map's 1/E sigma^2 then asks E sigma^2 at
            # wp + 8 digits, as the certified Hermite series does (one Arb enclosure for both)
            s = self.scale.result(wp + 3)
            cs = [c.result(wp) for c in self.poly]
            r = at(wp)
            exact_r = getattr(at, "rational", None) is not None and exact_rational(r) == at.rational
            er = mpmath.mpf(0) if exact_r else abs(r) * mpmath.mpf(10) ** (-wp)   # rounding of rho
            value = s.value * b.value
            err = abs(s.value) * b.error + abs(b.value) * s.error + s.error * b.error
            for i, c in enumerate(cs):
                power = r**i
                value += c.value * power
                err += c.error * (abs(power) + 1) + abs(c.value) * (i * (abs(r) + er) ** max(i - 1, 0) * er)
            err += (abs(value) + abs(s.value * b.value)) * mpmath.mpf(10) ** (-wp)
            certified = b.certified and s.certified and all(c.certified for c in cs)
            return Result(value, err, certified, b.method)
        return settle(run, dps, f"the {self.name}")

    def numpy(self, r):
        """Vectorized float64 evaluation on an array of correlations in [-1, 1]; a torch tensor
        gives a float64 tensor with autograd (the closed form lambdified to torch, or the Taylor
        series by Horner; torch is optional)."""
        if type(r).__module__.startswith("torch"):
            return self._torch(r)
        arr = np.asarray(r, dtype=float)
        if np.isnan(arr).any():
            raise InvalidInputError("rho contains NaN")
        if (np.abs(arr) > 1).any():
            raise InvalidInputError("rho must lie in [-1, 1]")
        if self.act.free_parameters:
            raise SymbolicValueError("give the activation's parameters numeric values first")
        return self._numpy_fn(arr.ravel()).reshape(arr.shape)

    def _torch(self, r):
        import torch

        t = r.to(torch.float64)
        if bool(torch.isnan(t).any()):
            raise InvalidInputError("rho contains NaN")
        if bool((t.abs() > 1).any()):
            raise InvalidInputError("rho must lie in [-1, 1]")
        if self.act.free_parameters:
            raise SymbolicValueError("give the activation's parameters numeric values first")
        return self._torch_fn(t)

    @cached_property
    def _torch_fn(self):
        """The torch twin of :attr:`_numpy_fn`: closed form (at rho = +-1 the float64 value and
        the derivative kernel's slope, where the closed form would give 0/0 or an infinite slope
        of asin; an infinite slope there gives the gradient 0), else Horner."""
        import torch

        if self.expr is not None:
            fn = torch_lambdify(rho, self.expr)
            ends = {e: float(self._numpy_fn(np.array([float(e)]))[0]) for e in (-1, 1)}
            slopes = {}
            for e in (-1, 1):       # the one-sided slope at the end (0 where it is not finite)
                try:
                    v = float(self.derivative().numpy(np.array([float(e)]))[0])
                except (InvalidInputError, NoClosedFormError, PrecisionError, SymbolicValueError):
                    v = np.nan
                slopes[e] = v if np.isfinite(v) else 0.0

            def f(t):
                end = (t == 1) | (t == -1)
                inner = torch.where(end, torch.zeros_like(t), t)
                out = torch.broadcast_to(torch.as_tensor(fn(inner), dtype=torch.float64), t.shape)
                for e in (1, -1):
                    out = torch.where(t == e, ends[e] + (t - e) * slopes[e], out)
                return out
            return f
        coeffs = _series_coefficients(self)
        if coeffs is None:
            raise InvalidInputError(f"no torch evaluator for the {self.name} of {self.act.expr}: no "
                                    "closed form and no Taylor series that reaches float64 precision")

        def horner(t):
            out = torch.full_like(t, float(coeffs[-1]))
            for c in coeffs[-2::-1]:
                out = out * t + float(c)
            return out
        return horner

    @cached_property
    def _numpy_fn(self):
        if self.expr is not None:
            return _closed_numpy(self)
        coeffs = _series_coefficients(self)
        if coeffs is not None:
            return _horner(coeffs)
        act, why = self._numeric_activation(self.order)
        if act is None:
            raise InvalidInputError(f"no float64 evaluator for the {self.name}: {why}")
        dual = _Dual.of(act)
        s = _float(self.scale)
        poly = [_float(c) for c in self.poly]
        base = dual.numpy_base
        if base is not None:
            def fn(arr):  # scale * base + polynomial part of the kernel
                out = s * base(arr)
                for i, c in enumerate(poly):
                    out = out + c * arr**i
                return out
            return fn
        raise NoClosedFormError(f"no fast float64 path for the {self.name} of {self.act.expr}: "
                                "its Hermite series converges slowly and it has no inner closed form")

    # -- display ------------------------------------------------------------------------------
    def latex(self):
        """LaTeX of the closed form, or of the first terms of the Hermite series."""
        if self.expr is not None:
            return sp.latex(self.expr)
        if self.act.free_parameters:  # no closed form and no numbers for the coefficients yet
            return r"\sum_{k \ge 0} a_{k} \rho^{k}"
        return sp.latex(self.series(6).evalf(8)) + r" + \dots"

    def _latex(self, printer=None):
        return self.latex()

    def _repr_latex_(self):
        return f"${self.symbol}(\\rho) = {self.latex()}$"

    def __repr__(self):
        shown = self.expr if self.expr is not None else f"<{self.provenance}>"
        return f"Kernel({self.name} of {self.act.name}: {shown})"

    # -- persistence: the recipe (activation, order, scale, poly), never the float closures -----
    def __getstate__(self):
        state = {k: self.__dict__[k] for k in ("act", "order", "scale", "poly", "symbol", "name")}
        if "expr" in self.__dict__:
            state["expr"] = self.__dict__["expr"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._dual = _Dual.of(self.act)

    def to_dict(self, dps=None):
        """A JSON-ready dict: the activation, order, scale and polynomial part (Quantities, see
        :meth:`symkernel.core.quantity.Quantity.to_dict`) and the closed form as ``srepr``.

        >>> from symkernel.gaussian.expectation import as_activation
        >>> k = Kernel(as_activation("relu"), scale=2)
        >>> Kernel.from_dict(k.to_dict()).expr == k.expr
        True
        """
        return {"type": "Kernel", "version": 1, "activation": self.act.to_dict(), "order": self.order,
                "scale": self.scale.to_dict(dps), "poly": [c.to_dict(dps) for c in self.poly],
                "symbol": self.symbol, "name": self.name,
                "expr": None if self.expr is None else write_srepr(self.expr)}

    @classmethod
    def from_dict(cls, d):
        """The Kernel of :meth:`to_dict` (expressions read by a restricted srepr reader)."""
        require(d, "Kernel", ("activation", "order", "scale", "poly", "symbol", "name"))
        if isinstance(d["order"], bool) or not isinstance(d["order"], int) or d["order"] < 0:
            raise InvalidInputError("from_dict: a kernel's order must be a nonnegative integer")
        if not isinstance(d["poly"], list) or not all(isinstance(v, str) for v in (d["symbol"], d["name"])):
            raise InvalidInputError("from_dict: malformed Kernel dict (poly, symbol, name)")
        act = Activation.from_dict(d["activation"])
        kern = cls(act, d["order"], Quantity.from_dict(d["scale"]),
                   tuple(Quantity.from_dict(c) for c in d["poly"]), d["symbol"], d["name"])
        if d.get("expr") is not None:
            kern.__dict__["expr"] = read_srepr(d["expr"])
        return kern


def _square_times(c, factor, dps):
    v = c.value(dps + 10)
    with mpmath.workdps(dps + 10):
        r = v * v * mpmath.mpf(int(factor))
    with mpmath.workdps(dps):
        return +r


def _closed_numpy(kernel):
    expr = kernel.expr
    fn = numpy_lambdify(rho, expr)
    ends = {}
    for e in (-1, 1):
        try:
            ends[e] = float(kernel(e, dps=17))
        except (InvalidInputError, PrecisionError):
            ends[e] = np.inf

    def f(arr):
        with np.errstate(all="ignore"):
            out = _real_array(fn(arr), expr)
        out = np.broadcast_to(out, arr.shape).copy()
        out[arr == 1] = ends[1]
        out[arr == -1] = ends[-1]
        return out
    return f


def _real_array(values, expr):
    """Float64 values of a real closed form: a complex result (an expression SymPy could not
    write in real form) keeps its real part only where every imaginary part is below
    ``1e-12 (1 + |re|)`` (an estimate of float64 rounding of complex intermediates, about
    ``10^4`` ulps of the result); a larger one raises (docs/theory.md §35)."""
    out = np.asarray(values)
    if np.iscomplexobj(out):
        bad = np.abs(out.imag) > 1e-12 * (1 + np.abs(out.real))
        if bad.any():
            raise PrecisionError(f"the closed form {expr} is not real in float64: imaginary part "
                                 f"{float(np.abs(out.imag).max()):.3g}")
        out = out.real
    return np.asarray(out, dtype=float)


def _series_coefficients(kernel):
    """Float64 Taylor coefficients when the series reaches double precision on [-1, 1], else None."""
    dual = kernel._dual
    try:
        squares, m2 = dual.float_coefficients
    except (InvalidInputError, NoClosedFormError, PrecisionError, SymbolicValueError):
        return None
    if abs(m2 - squares.sum()) > 1e-15 * m2 + 1e-300:
        return None
    m = kernel.order
    k = np.arange(squares.size - m, dtype=float)
    factor = np.ones_like(k)
    for j in range(1, m + 1):
        factor *= k + j
    a = _float(kernel.scale) * factor * squares[m:]
    total = np.abs(a).sum()
    tail = np.cumsum(np.abs(a)[::-1])[::-1]
    keep = int(np.argmax(tail <= 1e-17 * total)) if (tail <= 1e-17 * total).any() else None
    if keep is None or keep > a.size - 20:
        return None
    a = a[:max(keep, 1)].copy()
    for i, c in enumerate(kernel.poly):
        if i >= a.size:
            a = np.concatenate([a, np.zeros(i + 1 - a.size)])
        a[i] += _float(c)
    return a


#: digits of the parts of a float64 kernel (a Result meeting them is within 1e-23 of the value:
#: every float64 bit); the kernel map's scale 1/E sigma^2 at 21 digits asks E sigma^2 at
#: :data:`.hermite_squares.FLOAT_M2_DPS`, as the float64 Hermite coefficients do: one Arb enclosure
FLOAT_PART_DPS = 21


def _float(q):
    """A Quantity as a float64 (from its Result at :data:`FLOAT_PART_DPS` digits)."""
    return float(q.result(FLOAT_PART_DPS).value)


def _horner(coeffs):
    rev = coeffs[::-1]

    def f(arr):
        out = np.full(arr.shape, rev[0])
        for c in rev[1:]:
            out *= arr
            out += c
        return out
    return f
