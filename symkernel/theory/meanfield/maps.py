r"""Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017; Pabari & Zhou §3.1).

Network ``z^l = W^l y^l + b^l``, ``y^{l+1} = phi(z^l)``, ``W_ij ~ N(0, sigma_w^2/N)``,
``b_i ~ N(0, sigma_b^2)``.  With ``V, D1, D2, M`` the moments of :mod:`.moments`:

- length map ``q -> sigma_w^2 V(q) + sigma_b^2``; ``q*`` is its limit from ``q^0`` (default 1):
  the first fixed point above ``q^0`` if the map rises there, the last one below otherwise;
- correlation map at ``q*`` (Mehler): ``c -> (sigma_w^2 sum_j a_j(q*)^2 c^j + sigma_b^2)/q*``;
  ``c* = 1`` when ``chi_1 <= 1``, otherwise its fixed point in ``[0, 1)``;
- ``chi_1 = sigma_w^2 D1(q*)``; ``chi_q* = sigma_w^2 (D1 + D2)(q*)`` (the slope of the length map:
  ``d/dq E[phi(sqrt q Z)^2] = E[phi'^2 + phi phi'']`` by Stein; Pabari & Zhou eq. (9) is this);
  ``chi_c* = sigma_w^2 E[phi'(u_1*) phi'(u_2*)]`` (the slope of the correlation map at ``c*``;
  Pabari & Zhou eq. (10) prints ``phi'' phi`` there, which is wrong: at ``c* = 1`` it must equal ``chi_1``);
- depth scales ``xi_q = -1/log chi_q*``, ``xi_c = -1/log chi_c*`` (``oo`` on the critical line).

Numeric values go through :mod:`symkernel.numerics`: a root (``q*``, ``c*``) is refined from a
float64 seed by secant steps and accepted on a proven sign change of enclosed values (``q*``:
Arb or closed-form moments; ``c*``: the Mehler series with Arb Hermite coefficients and Parseval's
tail bound, docs/theory.md §15.1), else bracketed and refined by Illinois iteration at one working
precision (moments by :meth:`.Moments.raw`: closed form, Arb enclosure or mpmath quadrature); each
value is accepted by
:func:`~symkernel.numerics.converge` when its whole pipeline at two working precisions agrees to
``dps + 2`` relative digits (a ``q*`` of 1e-40 keeps its digits), and is labelled *estimated*.

>>> import symkernel as sk, sympy as sp
>>> sw2, sb2 = sp.symbols("sigma_w2 sigma_b2", positive=True)
>>> mf = sk.mean_field("relu", sw2, sb2)
>>> mf.q_star.expr, mf.chi_1.expr
(-2*sigma_b2/(sigma_w2 - 2), sigma_w2/2)
>>> xi_q, xi_c = sk.depth_scales("tanh", 1.5, 0.05)
>>> round(float(xi_q), 10), round(float(xi_c), 10)
(1.6828283887, 15.7909940341)
"""
from fractions import Fraction
from functools import cached_property

import mpmath
import numpy as np
import sympy as sp

from symkernel.numerics import serialized, serialized_class
from symkernel.core import display
from symkernel.core.activations import activation
from symkernel.core.parsing import decimal_value, to_sympy
from scipy import optimize

from symkernel.errors import InvalidInputError, PrecisionError, SymbolicValueError
from symkernel.core.activations import as_activation
from symkernel.kernels import dual_kernel
from symkernel.numerics import GUARD, converge
from symkernel.core.quantity import Quantity, evaluate_exact, zero_if_proved
from symkernel.core.quantity import decode_value, encode_value
from symkernel.core.activations import Activation
from symkernel.core.serialize import require
from symkernel.core.hermite import FixedPoint, normalized_hermite
from symkernel.kernels.hermite_panels import certified_coefficients
from symkernel.numerics.arb import NotCertifiable
from .fixed_points import LengthMap
from .moments import Q, _const, exact_number, moments
from .parametric import parametric_moments

C = sp.Symbol("c", real=True)
Q0 = sp.Symbol("q_0", positive=True)
_Q_MAX = 1e12
HERMITE_TERMS = 160
_HERMITE_MAX = 4000
#: most Hermite terms of the proven Mehler path (c* close to 1 needs more: estimated path)
_CERTIFIED_MAX = 1500
FLOAT_DIGITS = 12


class NoFixedPointError(InvalidInputError):
    """The length map has no finite fixed point for these variances (q^l grows without bound)."""


def _as_variance(name, value, allow_zero=True):
    if isinstance(value, Quantity):
        value = value.expr if value.exact else value
        if isinstance(value, Quantity):
            return value
    if isinstance(value, bool) or not isinstance(value, (int, float, sp.Basic, mpmath.mpf)):
        raise InvalidInputError(f"{name} must be a number, a SymPy expression or a Quantity, "
                                f"got {value!r}")
    if isinstance(value, float):
        value = decimal_value(value, name)
    elif isinstance(value, mpmath.mpf):
        value = exact_number(value)       # its exact binary value, whatever mp.dps is
    value = to_sympy(value)
    if value.is_negative or (value.is_number and value.is_real is False):
        raise InvalidInputError(f"{name} is a variance and must be nonnegative, got {value}")
    if value.is_zero and not allow_zero:
        raise InvalidInputError(f"{name} = 0: the weights vanish, every layer outputs its bias and "
                                "no signal propagates; give sigma_w2 > 0")
    if value.is_number and value.has(sp.oo, sp.zoo, sp.nan):
        raise InvalidInputError(f"{name} must be finite, got {value}")
    return value


def _mp_value(v, wp):
    """An mpf of a variance (SymPy number or numeric Quantity) at working precision ``wp``."""
    if isinstance(v, Quantity):
        return v.value(wp)
    if v.free_symbols:
        raise SymbolicValueError(f"{v} is symbolic; give numbers for a numeric value")
    return _const(v, wp)


#: Iteration caps of the root finder (bracket growth; Illinois/bisection steps per digit).
_GROW_STEPS = 80
_STEPS_PER_DIGIT = 4


def _illinois(f, a, b, fa, fb, wp):
    """Bracketed root of ``f`` (mpf) to ``wp - 3`` relative digits by the Illinois variant of
    regula falsi, with a bisection step whenever the bracket fails to halve in two steps
    (function noise at the last digits); at most ``_STEPS_PER_DIGIT * wp + 60`` steps."""
    if fa == 0:
        return a
    if fb == 0:
        return b
    if (fa > 0) == (fb > 0):
        raise PrecisionError("lost the bracket of a root while refining it")
    tol = mpmath.mpf(10) ** (-(wp - 3))
    side, widths = 0, [abs(b - a)]
    for _ in range(_STEPS_PER_DIGIT * wp + 60):
        if len(widths) >= 3 and widths[-1] > widths[-3] / 2:
            m, widths = (a + b) / 2, widths[-1:]
        else:
            m = (a * fb - b * fa) / (fb - fa)
        if not (min(a, b) <= m <= max(a, b)):
            m = (a + b) / 2
        fm = f(m)
        if fm == 0:
            return m
        if (fm > 0) == (fb > 0):
            b, fb = m, fm
            if side == -1:
                fa /= 2
            side = -1
        else:
            a, fa = m, fm
            if side == 1:
                fb /= 2
            side = 1
        widths.append(abs(b - a))
        if abs(b - a) <= tol * max(abs(a), abs(b)):
            return (a + b) / 2
    raise PrecisionError(f"root refinement did not reach {wp - 3} digits in "
                         f"{_STEPS_PER_DIGIT * wp + 60} steps")


class _Root:
    """A root of ``f(x, wp)`` (mpf at working precision ``wp``) near a float64 seed.

    Two ways, tried in this order:

    - **proven bracket** (when ``ball(x, wp)`` gives ``(value, radius)`` with a proven radius,
      and ``slope``, the float64 slope of ``f`` at the seed, is given): secant steps from the
      seed (the first with ``slope``) at ``w = wp + GUARD`` digits until the step's own estimate
      of the error is below the tolerance ``10^-(w-3)``, then a sign change of two enclosures at
      ``x (1 -+ 10^-(w-3)/3)`` proves a root within ``10^-(w-3)`` relative (points moved by
      ``snap``, e.g. to a cheaper nearby number, by far less).  One such root serves every working
      precision up to ``w`` (its digits are proven, not compared), so a pipeline evaluated at two
      precisions solves once (docs/theory.md §15.1).  No proven sign change: the next way.
    - **Illinois** (:meth:`_solve`): brackets the root (growing a relative ``2^-30`` interval
      about the seed, or a ``10^-(p-6)`` one about the root already solved at the nearest other
      precision ``p``, by 8x at most ``_GROW_STEPS`` times, clipped to ``[lo, hi]``; the sign
      change is checked at this precision, so a wrong earlier root is not confirmed) and
      refines it by :func:`_illinois` at one working precision (cached).

    :meth:`result` accepts it by :func:`~symkernel.numerics.converge` (two working precisions
    agreeing to ``dps + 2`` relative digits: a root of 1e-40 keeps its digits).
    """

    def __init__(self, f, seed, lo=None, hi=None, scale=None, method="root", ball=None, slope=None,
                 slope_error=1e-6, snap=None):
        self.f, self.seed, self.lo, self.hi = f, float(seed), lo, hi
        self.scale, self.method = scale, method
        self.ball = ball if slope is not None and np.isfinite(slope) and slope != 0 else None
        self.slope, self.slope_error = slope, slope_error
        self.snap = snap if snap is not None else _unmoved
        self._raw = {}
        self._proven = {}       # wp -> root proven to 10^-(wp-3) relative
        self.proven_bracket = None   # (a, b) of the last proven root (for tests and reports)

    def raw(self, wp):
        if self.ball is not None:
            served = [w for w in self._proven if w >= wp]
            if served:
                return self._proven[min(served)]
            wps = wp + GUARD     # headroom: converge's next working precision is served too
            with mpmath.workdps(wps):
                root = self._secant(wps)
            if root is not None:
                self._proven[wps] = root
                return root
            self.ball = None     # no proven sign change here: Illinois from now on
        if wp not in self._raw:
            with mpmath.workdps(wp):
                self._raw[wp] = self._solve(wp)
        return self._raw[wp]

    def _secant(self, wp):
        """A root proven to ``10^-(wp-3)`` relative by a sign change of enclosures, or None."""
        tol = mpmath.mpf(10) ** (-(wp - 3))
        best = max(self._proven, default=None)
        snap = self.snap
        x = snap(self._proven[best] if best is not None else mpmath.mpf(self.seed), wp)
        if x == 0:
            return None
        fx, radius = self.ball(x, wp)
        if not mpmath.isfinite(radius):     # no proven value here: no proven bracket either
            return None
        slope = mpmath.mpf(self.slope)
        guess = mpmath.mpf(self.slope_error)     # relative error of the float64 slope
        prev = None
        for _ in range(12):
            step = fx / slope
            xn = snap(x - step, wp)
            if (self.lo is not None and xn <= self.lo) or (self.hi is not None and xn >= self.hi):
                return None
            # error of xn: about |step| times the slope's relative error (first step), then the
            # contraction seen from one secant step to the next
            est = abs(step) * (guess if prev is None else min(1, 10 * abs(step / prev)))
            if est <= tol * abs(xn) / 10:
                break
            fn, _ = self.ball(xn, wp)
            if fn == fx:
                return None
            slope, x, fx, prev = (fn - fx) / (xn - x), xn, fn, step
        else:
            return None
        a, b = snap(xn * (1 - tol / 3), wp), snap(xn * (1 + tol / 3), wp)
        if not a < xn < b or b - a > tol * abs(xn):
            return None
        with mpmath.workdps(wp + 5):    # 5 more digits: the signs are proven with a margin
            (fa, ra), (fb, rb) = self.ball(a, wp + 5), self.ball(b, wp + 5)
        if abs(fa) > ra and abs(fb) > rb and (fa > 0) != (fb > 0):
            self.proven_bracket = (a, b)
            return xn
        return None

    def _solve(self, wp):
        f = self.f
        x0 = mpmath.mpf(self.seed)
        lo = None if self.lo is None else mpmath.mpf(self.lo)
        hi = None if self.hi is None else mpmath.mpf(self.hi)
        width = max(abs(x0), mpmath.mpf(self.scale or 0)) * mpmath.mpf(2) ** -30
        if self._raw:       # a root solved at another precision: its digits bracket this one
            near = min(self._raw, key=lambda w: abs(w - wp))
            digits = min(near, wp) - 6
            if digits > 12:
                x0 = +self._raw[near]
                width = max(abs(x0), mpmath.mpf(self.scale or 0)) * mpmath.mpf(10) ** -digits
        if width == 0:
            width = mpmath.mpf(2) ** -1000
        for _ in range(_GROW_STEPS):
            a, b = x0 - width, x0 + width
            a = a if lo is None else max(a, lo)
            b = b if hi is None else min(b, hi)
            fa, fb = f(a, wp), f(b, wp)
            if fa == 0 or fb == 0 or (fa > 0) != (fb > 0):
                return _illinois(lambda t: f(t, wp), a, b, fa, fb, wp)
            if a == lo and b == hi:
                break
            width *= 8
        raise PrecisionError(f"{self.method}: no sign change of the equation near the float64 "
                             f"root {self.seed!r}")

    def result(self, dps):
        return converge(self.raw, dps, method=self.method)


def _unmoved(t, wp):
    return t


def _square(q, wp):
    """A number within ``10^-(wp+8)`` relative of ``q > 0`` whose square root is a binary
    number: ``sqrt(q)`` is then an exact rational, and an Arb plan of ``phi(sqrt(q) x)`` needs
    no irrational constant (cheaper to build and to evaluate)."""
    if q <= 0:
        return q
    with mpmath.workdps(wp + 8):
        root = mpmath.sqrt(q)
    return mpmath.fmul(root, root, exact=True)


def refine_root(f_mp, x_float, dps, lo=0.0, hi=None, scale=None, method="root"):
    """A float64 root ``x_float`` of ``f_mp(x, wp)`` refined to ``dps`` digits (a Result)."""
    return _Root(f_mp, x_float, lo, hi, scale, method).result(dps)


def _reusing(solve):
    """``solve(dps)`` (a Result) cached; a Result obtained for more digits serves fewer."""
    cache = {}

    def value(dps):
        better = [d for d in cache if d >= dps]
        if not better:
            cache[dps] = solve(dps)
            better = [dps]
        return cache[min(better)]
    return value


#: the Quantities MeanField.to_dict writes
MEANFIELD_QUANTITIES = ("q_star", "chi_1", "chi_q", "c_star", "chi_c", "xi_q", "xi_c")


def _moments_of(act):
    """The moments of ``act``: :func:`.moments.moments`, or closed forms only
    (:func:`.parametric.parametric_moments`) when it has free parameters (leaky ReLU's slope)."""
    return parametric_moments(act) if act.free_parameters else moments(act)


@serialized_class
class MeanField:
    """Mean-field quantities of one activation at weight/bias variances ``(sigma_w2, sigma_b2)``.

    Variances may be numbers, SymPy symbols (exact results where the length map is linear in
    ``q``: ReLU, identity, leaky ReLU, abs) or numeric Quantities; activation parameters may be
    symbols too (leaky ReLU's slope: closed forms only, :mod:`.parametric`).  ``q0`` is the input length
    ``|y^0|^2/N``, which selects ``q*`` when there are several fixed points.
    """

    def __init__(self, act, sigma_w2, sigma_b2=0, q0=1, gain=None, **params):
        self.act = as_activation(act, gain, **params)
        self.sigma_w2 = _as_variance("sigma_w2", sigma_w2, allow_zero=False)
        self.sigma_b2 = _as_variance("sigma_b2", sigma_b2)
        self.q0 = _as_variance("q0", q0, allow_zero=False)
        self.m = _moments_of(self.act)
        self.params = (("activation", self.act.expr), ("sigma_w2", self.sigma_w2),
                       ("sigma_b2", self.sigma_b2))

    # ------------------------------------------------------------------ display
    # drawn by symkernel.present.display (an unavailable entry is shown with its reason)
    def __repr__(self):
        """``MeanField(act, sigma_w2=..., sigma_b2=...)`` then q*, chi_1, c*, xi_q, xi_c, phase."""
        return display.to_text(self)

    def latex(self, digits=15, mode="math"):
        r"""``\sigma_w^2 = 2,\ \sigma_b^2 = 0:\quad q^{*} = 1,\quad ...,\quad \text{critical}``;
        exact LaTeX where exact, else ``digits`` correct digits.

        >>> print(mean_field("relu", 1, sp.Rational(1, 10)).latex().split(r",\quad ")[0])
        \sigma_w^2 = 1,\ \sigma_b^2 = \frac{1}{10}:\quad q^{*} = \frac{1}{5}
        """
        return display.to_latex(self, digits=digits, mode=mode)

    def _latex(self, printer=None):
        return self.latex()

    def _repr_html_(self, digits=15):
        """A table of q*, chi_1, c*, xi_q, xi_c and the phase, with LaTeX in the cells."""
        return display.to_html(self, digits=digits)

    @property
    def symbolic(self):
        """True when a variance, ``q0`` or an activation parameter is a free symbol."""
        return bool(self.act.free_parameters) or any(
            isinstance(v, sp.Basic) and v.free_symbols for v in (self.sigma_w2, self.sigma_b2, self.q0))

    # ------------------------------------------------------------------ maps
    def length_map(self, q=Q):
        """``sigma_w^2 V(q) + sigma_b^2`` as a SymPy expression (``q`` symbolic or a number)."""
        v = self.m.exact("V")
        if v is None:
            raise SymbolicValueError(f"no closed form of E[phi(sqrt(q)Z)^2] for {self.act.name}; "
                                     "use length_map_value(q, dps)")
        return self._sw2_expr * v.subs(Q, q) + self._sb2_expr

    def length_map_value(self, q, dps=15):
        """The length map at a number ``q`` (taken exactly) as an mpf correct to ``dps`` digits."""
        qe = exact_number(q)
        return converge(lambda wp: self._h(_const(qe, wp), wp) + _const(qe, wp), dps,
                        method="length map").value

    def correlation_map_numpy(self, c):
        """The correlation map at ``q*`` on an array of ``c`` (float64 Mehler series; ``q*`` and
        the coefficients are computed once per MeanField)."""
        if "_float_mehler" not in self.__dict__:
            q = self.float_q_star()
            self.__dict__["_float_mehler"] = (q, self.m.hermite(q, HERMITE_TERMS) ** 2)
        q, a2 = self.__dict__["_float_mehler"]
        sw2, sb2 = float(self._sw2_expr), float(self._sb2_expr)
        return (sw2 * np.polyval(a2[::-1], np.asarray(c, dtype=float)) + sb2) / q

    def covariance_map(self, q=Q):
        r"""``rho -> sigma_w^2 E[phi(sqrt(q) X) phi(sqrt(q) Y)] + sigma_b^2`` as a :class:`Kernel`
        (the dual kernel of ``phi(sqrt(q) x)``, affinely mapped): exact in ``q`` and ``sk.rho``
        where the dual kernel is (ReLU, erf), numeric otherwise.  ``q``: a positive number or the
        symbol ``moments.Q``.

        >>> import symkernel as sk
        >>> sk.mean_field("erf", 2, 0.5).covariance_map().expr
        4*asin(2*q*rho/(2*q + 1))/pi + 1/2
        """
        q = to_sympy(q)
        if not (q.is_positive or (q.is_number and q > 0)):
            raise InvalidInputError(f"q must be a positive number or a positive symbol, got {q}")
        return dual_kernel(activation(self.act, gain=sp.sqrt(q))).affine(
            a=self._sw2_expr, b0=self._sb2_expr, symbol=r"\mathcal{C}", name="covariance map")

    @property
    def correlation_map_expr(self):
        """The correlation map at ``q*`` as a SymPy expression in ``sk.rho`` (exact ``q*`` and
        closed-form dual kernel; symbolic variances allowed), else ``None``."""
        if not self.q_star.exact or isinstance(self.sigma_w2, Quantity) or self.q_star.expr == 0:
            return None
        cov = self.covariance_map(Q).expr
        if cov is None:
            return None
        qs = self.q_star.expr
        return sp.simplify(cov.subs(Q, qs) / qs)

    def correlation_map(self):
        r"""``c -> (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2)/q*`` at ``q*`` as a :class:`Kernel`
        (numeric variances): its derivative at ``c*`` is ``chi_c*``.  With a numeric ``q*`` the
        gain ``sqrt(q*)`` enters as a 60-digit Float (values good to about 55 digits).

        >>> import symkernel as sk, sympy as sp
        >>> sk.mean_field("relu", 1, sp.Rational(1, 10)).correlation_map().expr
        (2*rho*asin(rho) + pi*rho + 2*sqrt(1 - rho**2))/(4*pi) + 1/2
        """
        if self.symbolic:
            raise SymbolicValueError("correlation_map needs numeric variances; see "
                                     "correlation_map_expr for the symbolic form")
        qs = self.q_star
        if qs.exact and qs.expr == 0:
            raise InvalidInputError("q* = 0: every pre-activation vanishes and the correlation "
                                    "is undefined")
        q = qs.expr if qs.exact else sp.Float(qs.value(60), 60)
        cov = self.covariance_map(q)
        return cov.affine(a=1 / q, symbol="c", name="correlation map")

    @property
    def _sw2_expr(self):
        return self.sigma_w2 if not isinstance(self.sigma_w2, Quantity) else self.sigma_w2.value(30)

    @property
    def _sb2_expr(self):
        return self.sigma_b2 if not isinstance(self.sigma_b2, Quantity) else self.sigma_b2.value(30)

    def _h(self, q, wp):
        """length map minus identity, at mpf ``q`` (working precision ``wp``)."""
        sw2, sb2 = self._param("sigma_w2", wp), self._param("sigma_b2", wp)
        return sw2 * self.m.raw("V", q, wp) + sb2 - q

    def _param(self, name, wp):
        """``sigma_w2``/``sigma_b2`` as an mpf at ``wp`` digits (cached per precision)."""
        cache = self.__dict__.setdefault("_params", {})
        if (name, wp) not in cache:
            cache[(name, wp)] = _mp_value(getattr(self, name), wp)
        return cache[(name, wp)]

    def _q_at(self, wp):
        """``q*`` at working precision ``wp``: the exact value, or the root solved at ``wp``."""
        qs = self.q_star
        if qs.exact:
            return _const(qs.expr, wp)
        return self._q_root.raw(wp)

    def _c_at(self, wp):
        cs = self.c_star
        if cs.exact:
            return _const(cs.expr, wp)
        return self._c_root.raw(wp)

    # ------------------------------------------------------------------ q*
    def _linear_v(self):
        v = self.m.exact("V")
        if v is None:
            return None
        try:
            poly = sp.Poly(sp.expand(v), Q)
        except sp.PolynomialError:
            return None
        if poly.degree() > 1:
            return None
        return poly.coeff_monomial(Q), poly.coeff_monomial(1)

    @cached_property
    def q_star(self):
        """Fixed point ``q*`` of the length map (Quantity; exact when the map is linear in q)."""
        lin = self._linear_v()
        if lin is not None and not any(isinstance(v, Quantity) for v in (self.sigma_w2, self.sigma_b2)):
            return self._q_star_linear(*lin)
        if self.symbolic:
            raise SymbolicValueError(f"q* of {self.act.name} has no closed form: give numeric variances")
        qf = self.float_q_star()
        if qf == 0.0 and self._h_at_zero_is_zero():
            return Quantity(sp.Integer(0), "q^{*}", "exact: q = 0 is the fixed point reached "
                            "(sigma_b2 = 0, phi(0) = 0, and the map lies below the diagonal)",
                            params=self.params)
        certain = not any(isinstance(v, Quantity) for v in (self.sigma_w2, self.sigma_b2))
        rational = self._rational_root(qf) if certain else None
        if rational is not None:
            return Quantity(rational, "q^{*}", "exact: a rational number near the float64 root "
                            "at which the closed-form length map minus q is proved to be 0",
                            params=self.params)
        self._q_root = _Root(self._h, qf, lo=0, method="q* (root of the length map)",
                             ball=self._h_ball if certain else None, snap=_square,
                             **self._float_slope(qf))
        return Quantity(None, "q^{*}", "estimated: root of the length map near its float64 root "
                        "(secant steps, then a sign change of Arb-enclosed or closed-form values "
                        "bracketing it; else Illinois on mpmath quadrature), accepted when two "
                        "working precisions agree", _reusing(self._q_root.result),
                        params=self.params)

    def _rational_root(self, qf):
        """The rational ``p/r`` (``r <= 1000``) within ``1e-12`` relative of the float64 root
        ``qf`` when ``sigma_w2 V(p/r) + sigma_b2 - p/r`` is proved 0 (closed-form ``V``;
        :func:`~symkernel.core.quantity.proved_zero`: SELU's constants make ``V(1) = 1``) and the
        root is simple (float64 slope of the map minus identity above ``1e-6``): it is then the
        root found (docs/theory.md §30).  Else None.

        >>> mean_field("selu", 1, 0).q_star.expr
        1
        """
        v = self.m.exact("V")
        if v is None or not qf > 0 or self.symbolic:
            return None
        cand = sp.Rational(Fraction(qf).limit_denominator(1000))
        if abs(float(cand) - qf) > 1e-12 * qf or not cand > 0:
            return None
        slope = self._float_slope(qf)["slope"]
        if slope is None or abs(slope) < 1e-6:
            return None
        h = self.sigma_w2 * v.subs(Q, cand) + self.sigma_b2 - cand
        return cand if zero_if_proved(h) == 0 else None

    def _float_slope(self, qf):
        """``{"slope": s, "slope_error": e}``: the slope ``chi_q* - 1`` of the length map minus
        identity at ``qf`` in float64 (``sigma_w2 (D1 + D2) - 1``, relative error taken as
        ``1e-13 (chi_q* + 1)/|s|``, at least ``1e-10``; a central difference, ``1e-6``, where
        ``phi`` jumps), ``s = None`` if none."""
        if not qf > 0:
            return {"slope": None}
        sw2, sb2 = float(self._sw2_expr), float(self._sb2_expr)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.m.continuous:
                chi = sw2 * (self.m.np_one("D1", qf) + self.m.np_one("D2", qf))
                slope = chi - 1
                error = max(1e-10, 1e-13 * (abs(chi) + 1) / abs(slope)) if slope else 1.0
            else:
                d = qf * 1e-6
                hp, hm = (sw2 * self.m.np_one("V", qf + t) + sb2 - qf - t for t in (d, -d))
                slope, error = (hp - hm) / (2 * d), 1e-6
        if not (np.isfinite(slope) and abs(slope) > 1e-8):
            return {"slope": None}
        return {"slope": slope, "slope_error": error}

    def _h_ball(self, q, wp):
        """``(h(q), radius)`` at working precision ``wp``: ``h = sigma_w2 V(q) + sigma_b2 - q``
        with ``V`` a proven Result (closed form or Arb) and the rounding of this arithmetic
        bounded by ``10^-(wp-1)`` of the terms' sizes; ``h`` is then proven to lie within
        ``radius``.  Without a proven ``V`` it is ``(h(q), inf)`` (no sign is proven)."""
        res = self.m.ball("V", q, wp)
        if res is None or not res.certified:
            return self._h(q, wp), mpmath.inf
        sw2, sb2 = self._param("sigma_w2", wp), self._param("sigma_b2", wp)
        value = sw2 * res.value + sb2 - q
        # five roundings (sigma's two at wp digits, three operations below 2^-prec < 10^-(wp+1))
        radius = abs(sw2) * res.error + (abs(sw2 * res.value) + abs(sb2) + abs(q)) * \
            mpmath.mpf(10) ** (-(wp - 1))
        return value, radius

    def _q_star_linear(self, a, b):
        sw2, sb2 = self.sigma_w2, self.sigma_b2
        slope, drift = sp.simplify(sw2 * a), sp.simplify(sw2 * b + sb2)
        prov = "exact: the length map is linear in q"
        if not slope.is_number and (slope - 1).is_nonnegative and drift.is_positive:
            raise NoFixedPointError(   # e.g. leaky ReLU at sigma_w2 = 2: slope 1 + a^2 >= 1 for all a
                f"{self.act.name}: the length map q -> {slope} q + {drift} has no finite fixed "
                f"point for any value of the symbols ({slope} >= 1); q^l grows without bound")
        if slope.is_number and slope >= 1:
            if slope == 1 and drift == 0:
                return Quantity(self.q0, "q^{*}", prov + " and equals the identity: every q is "
                                "fixed, q* = q0 (the input length)", params=self.params)
            raise NoFixedPointError(
                f"{self.act.name}: the length map q -> {slope} q + {drift} has no finite fixed "
                f"point (slope sigma_w2*{a} = {slope} >= 1); q^l grows without bound")
        return Quantity(sp.simplify(drift / (1 - slope)), "q^{*}",
                        prov + ("" if slope.is_number else f" (valid while {slope} < 1)"),
                        params=self.params)

    def _h_at_zero_is_zero(self):
        return sp.simplify(self.sigma_w2 * self.m.exact_limit("V") + self.sigma_b2) == 0

    def float_q_star(self):
        """``q*`` in float64 (bracket + brentq on the Gauss–Legendre moments)."""
        sw2, sb2 = float(self._sw2_expr), float(self._sb2_expr)
        return _float_q_star(self.m, sw2, sb2, float(self.q0), self.act.name)

    # ------------------------------------------------------------------ chi's
    def _derived(self, symbol, exact_fn, numeric_fn, provenance):
        q = self.q_star
        if q.exact and not isinstance(self.sigma_w2, Quantity):
            try:
                expr = exact_fn(q.expr)
            except SymbolicValueError:
                expr = None
            if expr is not None:
                return Quantity(sp.simplify(expr), symbol, "exact: closed-form moments at exact q*",
                                params=self.params)
        if self.symbolic:
            raise SymbolicValueError(f"{symbol} of {self.act.name} has no closed form: give numbers")
        return Quantity(None, symbol, provenance, numeric_fn, params=self.params)

    def _exact_moment(self, kind, qexpr):
        kink_at_zero = any(b == 0 for b, _, _ in self.m.breaks)
        if qexpr == 0 and not kink_at_zero:
            return self.m.exact_limit(kind)  # E[f(0 Z)] = f(0): exact without a closed form in q
        e = self.m.exact(kind)
        if e is None:
            return None
        if qexpr == 0:                                     # a kink at 0 (ReLU): the limit
            return sp.limit(e, Q, 0, "+")                  # q -> 0+ of the closed form
        return e.subs(Q, qexpr)

    @cached_property
    def chi_1(self):
        """``chi_1 = sigma_w^2 E[phi'(sqrt(q*) Z)^2]`` (Quantity)."""
        self.m.require_continuous("chi_1")

        def exact_fn(qe):
            d1 = self._exact_moment("D1", qe)
            return None if d1 is None else self.sigma_w2 * d1

        def run(wp):
            return self._param("sigma_w2", wp) * self.m.raw("D1", self._q_at(wp), wp, GUARD)
        self._runs["chi_1"] = run

        def numeric(dps):
            return converge(run, dps, method="sigma_w2 E[phi'^2] at q*")
        return self._derived(r"\chi_{1}", exact_fn, numeric,
                             "estimated: sigma_w2 E[phi'^2] at the estimated q*")

    @cached_property
    def chi_q(self):
        """``chi_q* = sigma_w^2 E[phi'^2 + phi'' phi]`` at ``q*``: the slope of the length map."""
        self.m.require_continuous("chi_q*")

        def exact_fn(qe):
            d1, d2 = self._exact_moment("D1", qe), self._exact_moment("D2", qe)
            return None if d1 is None or d2 is None else self.sigma_w2 * (d1 + d2)

        def run(wp):
            q = self._q_at(wp)
            return self._param("sigma_w2", wp) * (self.m.raw("D1", q, wp, GUARD) +
                                                  self.m.raw("D2", q, wp, GUARD))
        self._runs["chi_q"] = run

        def numeric(dps):
            return converge(run, dps, method="sigma_w2 E[phi'^2 + phi'' phi] at q*")
        return self._derived(r"\chi_{q^{*}}", exact_fn, numeric,
                             "estimated: sigma_w2 E[phi'^2 + phi'' phi] at the estimated q*")

    @cached_property
    def phase(self):
        """``'ordered'`` (chi_1 < 1), ``'critical'`` (chi_1 = 1) or ``'chaotic'`` (chi_1 > 1)."""
        chi = self.chi_1
        if chi.exact and (chi.expr - 1).is_number:
            diff = sp.nsimplify(chi.expr - 1) if chi.expr.is_Rational else chi.expr - 1
            if diff == 0 or sp.simplify(diff) == 0:
                return "critical"
            return "ordered" if sp.N(diff, 30) < 0 else "chaotic"
        if self.symbolic:
            raise SymbolicValueError("the phase depends on the symbols; substitute numbers")
        v = chi.value(20)
        return "critical" if v == 1 else ("ordered" if v < 1 else "chaotic")

    @cached_property
    def c_star(self):
        """Stable fixed point of the correlation map: 1 in the ordered phase, else in [0, 1)."""
        if self.symbolic or self.phase in ("ordered", "critical"):
            return Quantity(sp.Integer(1), "c^{*}", "exact: c = 1 is stable when chi_1 <= 1",
                            params=self.params)
        st = self.floats()
        cf = st["c_star"]
        # the Hermite series is truncated for |c| <= cmax (checked by _mp_pair at every c)
        self._cmax = min(1.0, abs(cf) + 1e-3)
        odd = self.m.exact("M") == 0 or self.act.strict_parity == "odd"
        if cf == 0.0 and self.sigma_b2 == 0 and odd:
            return Quantity(sp.Integer(0), "c^{*}", "exact: odd phi, sigma_b2 = 0", params=self.params)
        if self.sigma_b2 == 0 and self._mean_is_zero():
            return Quantity(sp.Integer(0), "c^{*}", "exact: sigma_b2 = 0 and E[phi(sqrt(q*)Z)] = 0 "
                            "(proved): the correlation map sigma_w2 sum_j a_j^2 c^j/q* has a_0 = 0, "
                            "so it fixes c = 0, and it is convex with value 1 and slope chi_1 > 1 "
                            "at c = 1, so it lies below the diagonal on (0, 1): c* = 0",
                            params=self.params)

        slope = st["chi_c"] - 1            # d/dc of (correlation map - c) at the float64 c*
        slope_error = max(1e-10, 1e-13 * (abs(st["chi_c"]) + 1) / abs(slope)) if slope else 1.0
        self._c_root = _Root(self._c_f, cf, lo=-1, hi=1, scale=1,
                             method="c* (root of the correlation map)", ball=self._c_ball, slope=float(slope), slope_error=slope_error)
        return Quantity(None, "c^{*}", "estimated: root of the correlation map at the estimated q* "
                        "near its float64 root (secant steps, then a sign change of Arb-enclosed "
                        "Mehler-series values, with certified Hermite coefficients and Parseval's "
                        "tail bound, bracketing it; else Illinois on Gauss-Legendre Hermite "
                        "coefficients), accepted when two working precisions agree",
                        _reusing(self._c_root.result), params=self.params)

    def _mean_is_zero(self):
        """True when ``M(q*) = E[phi(sqrt(q*) Z)]`` is proved 0 at an exact ``q*`` (SELU at
        ``(1, 0)``: ``E[selu(Z)] = 0`` by its constants; then ``c* = 0``, docs/theory.md §30)."""
        qs = self.q_star
        if not qs.exact or qs.expr == 0 or isinstance(self.sigma_w2, Quantity):
            return False
        mean = self._exact_moment("M", qs.expr)
        return mean is not None and zero_if_proved(sp.sympify(mean)) == 0

    def _c_f(self, c, wp):
        """The correlation map minus ``c`` at ``wp`` (Mehler series, Gauss-Legendre coefficients);
        a method, not a closure, so that a MeanField pickles."""
        q = self._q_at(wp)
        e = self._mp_pair(q, c, wp, False, self._cmax)
        return (self._param("sigma_w2", wp) * e + self._param("sigma_b2", wp)) / q - c

    def _mehler_data(self, wp):
        r"""Proven Mehler-series data for ``c*`` and ``chi_c*`` at ``wp`` digits, or None.

        ``q`` is fixed once, at the first call, as the proven root ``q*`` to ``wp`` digits
        (its square root a binary number, so ``phi(sqrt(q) x)`` is an exact activation); its
        Hermite coefficients ``a_k`` (``k <= K``) are Arb enclosures
        (:func:`~symkernel.kernels.hermite_panels.certified_coefficients`) and ``V(q) = E[phi^2]``
        an Arb enclosure (each ``a_k`` within ``10^-(wp+10)``), ``K`` terms (at most
        ``_CERTIFIED_MAX``; :meth:`_certified_mehler`): the proven radius of the correlation map
        is then far below its size ``|chi_c* - 1| 10^-(wp-3)`` at the ends of the bracket.
        Returns ``(q, a2, d2, mass, K)``: midpoints ``a2_k`` of ``a_k^2`` with proven ``|a_k^2 - a2_k| <= d2_k``, and ``mass >= V - sum_k a_k^2``
        (Parseval's tail).  None when ``q*`` has no proven root or ``phi`` is outside the Arb
        class (one analytic piece).  A later call with ``wp`` above the precision ``q`` was fixed
        at fixes it again (and drops the roots ``c*`` proven for the former ``q``)."""
        fixed = self.__dict__.get("_mehler_fixed")
        if fixed is None or (fixed[1] is not None and wp > fixed[0]):
            root = self.__dict__.get("_q_root")
            if root is None or self.q_star.exact or (root.ball is None and not root._proven) or \
                    len(self.act.pieces) != 1:
                return None
            if fixed is not None and "_c_root" in self.__dict__:
                # more digits asked than q was fixed at: q is fixed again, and the roots c*
                # proven for the former q are dropped (c* and chi_c* always share one q)
                self._c_root._proven.clear()
            q = self._q_at(wp)        # proven to wp digits: c* is resolved to wp - 3
            with mpmath.workprec(int(q.man).bit_length() + 64):
                s = mpmath.sqrt(q)
            if not (q > 0 and mpmath.fmul(s, s, exact=True) == q and root._proven):
                self.__dict__["_mehler_fixed"] = fixed = (-1, None, None)
            else:
                gain = exact_number(s)
                cmax = min(mpmath.mpf(self._cmax), mpmath.mpf("0.999"))
                need = (wp + 6) * mpmath.log(10) / -mpmath.log(cmax)
                data = self._certified_mehler(as_activation(self.act, gain), q, wp, cmax,
                                              int(mpmath.ceil(need)))
                self.__dict__["_mehler_fixed"] = fixed = (wp + 5, data, None)
        top, data, _ = fixed
        return data if wp <= top else None

    def _certified_mehler(self, act, q, wp, cmax, K):
        """``(q, a2, d2, mass, K)`` of :meth:`_mehler_data` for ``act = phi(sqrt(q) x)``; first
        with ``2K/3`` terms (the coefficients of an analytic ``phi`` decay, so Parseval's
        remainder ``mass`` is small by then), with ``K`` when ``(k + 1) cmax^k mass`` at
        ``k = 2K/3`` is not below ``10^-(wp+6) V``; None outside the Arb class or past
        ``_CERTIFIED_MAX`` terms."""
        if K > _CERTIFIED_MAX:
            return None
        try:
            v = self.m.ball("V", q, wp + 8)
        except (NotCertifiable, PrecisionError, OverflowError):
            return None
        if v is None or not v.certified:
            return None
        data = None
        for terms in sorted({max(20, 2 * K // 3), K}):
            try:
                mids, errs = certified_coefficients(act, terms, wp + 2)
            except (NotCertifiable, PrecisionError, OverflowError):
                return None
            with mpmath.workdps(wp + 20):
                a2 = [m * m for m in mids]
                d2 = [e * (2 * abs(m) + e) for m, e in zip(mids, errs)]
                low = mpmath.fsum(max(0, a - d) for a, d in zip(a2, d2))
                mass = (v.value + v.error - low) * (1 + mpmath.mpf(10) ** -(wp + 15))
                if mass < 0:          # Parseval fails: not a proof of anything
                    return None
                data = (q, a2, d2, mass, len(a2) - 1)
                if len(a2) * cmax ** (len(a2) - 1) * mass <= v.value * mpmath.mpf(10) ** -(wp + 6):
                    break
        return data

    def _c_ball(self, c, wp):
        """``(f(c), radius)``, ``f(c) = (sigma_w2 sum_k a_k^2 c^k + sigma_b2)/q - c`` at the
        fixed ``q`` of :meth:`_mehler_data`, proven: coefficient radii, the Parseval tail
        ``|c|^(K+1) (V - sum a_k^2)`` and the roundings (at ``wp + 10`` digits, below ``(K + 4)
        10^-(wp+9)`` of the sum of magnitudes; ``sigma``'s below ``10^-(wp-1)``); ``(0, inf)``
        (nothing proven) without the data."""
        data = self._mehler_data(wp)
        if data is None:
            return mpmath.mpf(0), mpmath.inf
        q, a2, d2, mass, K = data
        with mpmath.workdps(wp + 10):
            c = mpmath.mpf(c)
            ac = abs(c)
            powers = [mpmath.mpf(1)]
            for _ in range(K):
                powers.append(powers[-1] * c)
            s = mpmath.fsum(a * p for a, p in zip(a2, powers))
            size = mpmath.fsum(a * abs(p) for a, p in zip(a2, powers))
            spread = mpmath.fsum(d * abs(p) for d, p in zip(d2, powers))
            err = spread + ac ** (K + 1) * mass + size * (K + 4) * mpmath.mpf(10) ** -(wp + 9)
            sw2, sb2 = self._param("sigma_w2", wp + 10), self._param("sigma_b2", wp + 10)
            value = (sw2 * s + sb2) / q - c
            radius = abs(sw2) * err / q + ((abs(sw2 * s) + abs(sb2)) / q + ac) * \
                mpmath.mpf(10) ** -(wp - 1)
        return value, radius

    def _chi_c_proven(self, wp):
        """``sigma_w2 sum_k k a_k^2 c^(k-1) / q`` at the proven ``c*`` from the certified Mehler
        data (one computation serves every ``wp`` it covers), when its proven error (coefficient
        radii, tail ``(K+1) |c|^K (V - sum a_k^2)``, roundings) is below ``10^-(wp+2)`` of it;
        else None."""
        root = self.__dict__.get("_c_root")
        if root is None or not any(w >= wp for w in root._proven):
            return None
        data = self._mehler_data(wp)
        if data is None:
            return None
        q, a2, d2, mass, K = data
        c = root.raw(wp)
        with mpmath.workdps(wp + 10):
            ac = abs(c)
            if (K + 1) * (1 - ac) < ac:        # k |c|^(k-1) must decrease beyond K
                return None
            terms = [k * a2[k] * c ** (k - 1) for k in range(1, K + 1)]
            total = mpmath.fsum(terms)
            err = mpmath.fsum(k * d2[k] * ac ** (k - 1) for k in range(1, K + 1)) + \
                (K + 1) * ac ** K * mass + \
                mpmath.fsum(abs(t) for t in terms) * (K + 4) * mpmath.mpf(10) ** -(wp + 9)
            if not err < abs(total) * mpmath.mpf(10) ** -(wp + 2):
                return None
            return self._param("sigma_w2", wp) * total / q

    @cached_property
    def chi_c(self):
        """``chi_c* = sigma_w^2 E[phi'(u_1*) phi'(u_2*)]``; equals ``chi_1`` when ``c* = 1``."""
        if self.c_star.exact and self.c_star.expr == 1:
            if "chi_1" in self._runs:
                self._runs["chi_c"] = self._runs["chi_1"]
            return Quantity(self.chi_1.expr, r"\chi_{c^{*}}", "equals chi_1 at c* = 1",
                            self.chi_1.numeric, params=self.params) if not self.chi_1.exact else \
                Quantity(self.chi_1.expr, r"\chi_{c^{*}}", "exact: equals chi_1 at c* = 1",
                         params=self.params)

        def run(wp):
            c = self._c_at(wp)
            proven = self._chi_c_proven(wp)
            if proven is not None:
                return proven
            q = self._q_at(wp)
            return self._param("sigma_w2", wp) * self._mp_pair(q, c, wp, True, self._cmax)
        self._runs["chi_c"] = run

        def numeric(dps):
            return converge(run, dps, method="Mehler series of E[phi'(u1)phi'(u2)] at (q*, c*)")
        return Quantity(None, r"\chi_{c^{*}}", "estimated: Mehler series of E[phi'(u1)phi'(u2)] "
                        "at the estimated (q*, c*) (certified Hermite coefficients with Parseval's "
                        "tail bound where c* has a proven bracket, else Gauss-Legendre ones)",
                        numeric, params=self.params)

    def _mp_pair(self, q, c, wp, derivative, cmax):
        """``E[phi(u_1) phi(u_2)]`` (or ``E[phi'(u_1) phi'(u_2)]``) at ``q``, correlation ``c``.

        Mehler: ``sum_j a_j^2 c^j`` (or ``sum_j j a_j^2 c^(j-1) / q``); the tail after K terms is
        at most ``K |c|^(K-1) (V(q) - sum_{j<K} a_j^2)`` (Parseval), kept below ``10^-wp V(q)``.
        """
        self.m.require_continuous("chi_c*")
        a2, mass, total = self._mp_hermite(q, wp, cmax)
        with mpmath.workdps(wp):
            c = mpmath.mpf(c)
            K = len(a2)
            if c != 0 and K * abs(c) ** (K - 1) * mass > total * mpmath.mpf(10) ** (-(wp - 3)):
                raise PrecisionError(f"the Mehler series at c = {mpmath.nstr(c, 8)} needs more "
                                     f"than {K} Hermite terms")
            if derivative:
                return mpmath.fsum(j * a2[j] * c ** (j - 1) for j in range(1, K)) / mpmath.mpf(q)
            return mpmath.fsum(a2[j] * c ** j for j in range(K))

    def _mp_hermite(self, q, wp, cmax, K=None):
        """Squared Hermite coefficients ``a_j(q)^2`` of ``phi(sqrt(q) x)`` at precision ``wp``,
        with the Parseval remainder ``V(q) - sum a_j^2`` and ``V(q)``.

        Composite Gauss–Legendre (24 nodes a panel) on panels of width 1 in ``z`` and ``2`` in
        ``sqrt(q) z``, split at the breakpoints, each cut into ``ceil((wp - 20)/10)`` equal parts
        (so two working precisions use different rules and their agreement means something) or
        ``ceil(sqrt(K)/8)`` for the oscillations of ``he_K`` (``K`` terms at most: enough for
        ``cmax^K < 10^-(wp+5)``, plus 100, 4000 at most: the loop below stops by then);
        truncated at ``|z| = sqrt(4 (wp + 8) ln 10)`` (Cramer's bound
        ``|he_j(z)| <= 1.09 e^{z^2/4}`` makes the tails below ``10^-(wp+8)`` for every ``j``).
        Stops when the remainder times ``(j+1) cmax^j`` is below ``10^-(wp+2) V``; a negative
        remainder beyond that fails Parseval (PrecisionError)."""
        key = (exact_number(q), wp)
        cache = self.__dict__.setdefault("_hcache", {})
        if key in cache and cache[key][3] >= cmax:   # truncated for |c| <= the cached cmax
            return cache[key][:3]
        pieces = self.m._mp_pieces(wp + 8)[0]
        with mpmath.workdps(wp + 8):
            qq = mpmath.mpf(q)
            s = mpmath.sqrt(qq)
            # |he_j(z)| e^{-z^2/4} <= 1.09 (Cramer): the tails beyond zcut weigh < 10^-(wp+8)
            zcut = mpmath.sqrt(4 * (wp + 8) * mpmath.log(10))
            nz = int(mpmath.ceil(zcut))
            edges = {mpmath.mpf(k) for k in range(-nz, nz + 1)}
            edges |= {mpmath.mpf(k) / s for k in range(-24, 25, 2)}
            edges |= {p[0] / s for p in pieces[1:]} | {-zcut, zcut}
            edges = sorted(e for e in edges if abs(e) <= zcut)
            if K is None:   # enough terms for cmax^K < 10^-(wp+5), at most _HERMITE_MAX
                need = (wp + 5) * mpmath.log(10) / -mpmath.log(min(mpmath.mpf(cmax), 1 - 1e-9))
                K = int(min(_HERMITE_MAX, mpmath.ceil(need) + 100))
            # each panel cut in parts: differently for each wp, and finely enough for he_K
            # (local wavelength about 2 pi / sqrt(K))
            split = max(1, -(-(wp - 20) // 10), int(mpmath.ceil(mpmath.sqrt(K) / 8)))
            base = mpmath.calculus.quadrature.GaussLegendre(mpmath.mp).calc_nodes(4, mpmath.mp.prec)
            zs, weighted = [], []
            norm = 1 / mpmath.sqrt(2 * mpmath.pi)
            for lo0, hi0 in zip(edges[:-1], edges[1:]):
                fn = next(p[2] for p in pieces if (lo0 + hi0) / 2 * s < p[1] or p is pieces[-1])
                step = (hi0 - lo0) / split
                for i in range(split):
                    lo, hi = lo0 + i * step, lo0 + (i + 1) * step
                    mid, half = (lo + hi) / 2, (hi - lo) / 2
                    for t, w in base:
                        z = mid + half * t
                        zs.append(z)
                        weighted.append(half * w * mpmath.exp(-z * z / 2) * norm * fn(s * z))
            total = self.m.raw("V", qq, wp + 6)
            mass, coef = total, []
            tol = abs(total) * mpmath.mpf(10) ** (-(wp + 2))
            # the three-term recurrence in fixed point (Python integers scaled by 2^P, numpy
            # object arrays): P has 200 guard bits over the working precision for the growth
            # of he_j(z) (|z| <= zcut) and the rounding of K steps
            arith = FixedPoint(mpmath.mp.prec + 200)
            P = arith.bits
            Z, W = arith.array(zs), arith.array(weighted)
            scale = mpmath.mpf(2) ** (-2 * P)
            for j, h in enumerate(normalized_hermite(Z, K, arithmetic=arith)):
                a = mpmath.mpf(int(np.dot(W, h))) * scale
                coef.append(a * a)
                mass -= a * a
                if j > 2 and (abs(mass) < tol or (j + 1) * mpmath.mpf(cmax) ** j * abs(mass) < tol):
                    break
            if mass < -tol * 100:
                raise PrecisionError("Parseval check failed for the Hermite coefficients "
                                     f"(sum a_j^2 exceeds E[phi^2] by {mpmath.nstr(-mass, 3)})")
            cache[key] = (coef, abs(mass), total, cmax)
        return cache[key][:3]

    def float_c_star(self):
        """``c*`` in float64 (Mehler series with Gauss–Legendre Hermite coefficients)."""
        st = float_state(self.act, float(self._sw2_expr), float(self._sb2_expr), float(self.q0))
        return st["c_star"]

    # ------------------------------------------------------------------ depth scales
    @property
    def _runs(self):
        """The working-precision pipelines of the numeric chi's (for the depth scales)."""
        return self.__dict__.setdefault("_run_cache", {})

    @staticmethod
    def _xi(chi, symbol, name, raw=None):
        if chi.exact:
            if sp.simplify(chi.expr - 1) == 0:
                return Quantity(sp.oo, symbol, f"exact: {name} = 1 (critical)", params=chi.params)
            # chi < 0: the deviation alternates in sign and decays like |chi|^l (docs/theory.md §35)
            size = -chi.expr if chi.expr.is_negative else chi.expr
            return Quantity(-1 / sp.log(size), symbol, f"exact: -1/log({name})", params=chi.params)

        def run(wp):
            v = raw(wp) if raw is not None else chi.value(wp)
            if abs(abs(v) - 1) <= mpmath.mpf(10) ** (-(wp - 5)):
                raise PrecisionError(f"{name} equals 1 to {wp - 5} digits (the critical line, or "
                                     f"too close to it): the depth scale exceeds 10^{wp - 5}")
            return -1 / mpmath.log(abs(v))

        def numeric(dps):
            return converge(run, dps, method=f"-1/log({name})")
        return Quantity(None, symbol, f"estimated: -1/log({name}), {name} estimated", numeric,
                        params=chi.params)

    @cached_property
    def xi_q(self):
        """Depth scale of the length ``xi_q = -1/log chi_q*``."""
        chi = self.chi_q
        return self._xi(chi, r"\xi_{q}", "chi_q*", self._runs.get("chi_q"))

    @cached_property
    def xi_c(self):
        """Depth scale of the correlation ``xi_c = -1/log chi_c*`` (oo on the critical line)."""
        chi = self.chi_c
        return self._xi(chi, r"\xi_{c}", "chi_c*", self._runs.get("chi_c"))

    def trainable_depth(self, multiple=6):
        """``multiple * xi_c``: Schoenholz et al. use 6, Pabari & Zhou uses 4.5."""
        mult = decimal_value(multiple, "multiple") if isinstance(multiple, float) else to_sympy(multiple)
        xi = self.xi_c
        if xi.exact:
            return Quantity(mult * xi.expr, f"{mult}" + r"\xi_{c}", "exact", params=xi.params)
        return Quantity(None, f"{mult}" + r"\xi_{c}", xi.provenance,
                        lambda dps: xi.value(dps + 2) * evaluate_exact(mult, dps + 2), params=xi.params)

    def floats(self):
        """All quantities in float64 at once (fast path): a dict."""
        return float_state(self.act, float(self._sw2_expr), float(self._sb2_expr), float(self.q0))

    # -- persistence ---------------------------------------------------------------------------
    def __getstate__(self):
        """The inputs and the quantities computed so far; working pipelines (closures) and the
        moments are rebuilt on loading."""
        state = dict(self.__dict__)
        for key in ("m", "_run_cache"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.m = _moments_of(self.act)

    def to_dict(self, dps=None, quantities=MEANFIELD_QUANTITIES):
        """A JSON-ready dict: activation, variances and the mean-field quantities (each a
        :meth:`~symkernel.core.quantity.Quantity.to_dict`, or ``{"error": why}`` when it does not
        exist here), numeric ones at ``dps`` digits (default 15).

        >>> d = mean_field("relu", 2, 0).to_dict()
        >>> MeanField.from_dict(d).chi_1.expr, d["quantities"]["xi_c"]["expr"]
        (1, 'oo')
        """
        out = {}
        for name in quantities:
            if name not in MEANFIELD_QUANTITIES:
                raise InvalidInputError(f"unknown mean-field quantity {name!r}; known: "
                                        f"{MEANFIELD_QUANTITIES}")
            try:
                out[name] = getattr(self, name).to_dict(dps)
            except (InvalidInputError, PrecisionError, SymbolicValueError) as exc:
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return {"type": "MeanField", "version": 1, "activation": self.act.to_dict(),
                "sigma_w2": encode_value(self.sigma_w2), "sigma_b2": encode_value(self.sigma_b2),
                "q0": encode_value(self.q0), "quantities": out}

    @classmethod
    def from_dict(cls, d):
        """The MeanField of :meth:`to_dict`; the stored quantities serve their digits, the others
        are computed afresh."""
        require(d, "MeanField", ("activation", "sigma_w2", "sigma_b2", "q0", "quantities"))
        qs = d["quantities"]
        if not isinstance(qs, dict) or not set(qs) <= set(MEANFIELD_QUANTITIES):
            raise InvalidInputError(f"from_dict: quantities must be a dict with keys among "
                                    f"{MEANFIELD_QUANTITIES}")
        obj = cls(Activation.from_dict(d["activation"]), decode_value(d["sigma_w2"]),
                  decode_value(d["sigma_b2"]), decode_value(d["q0"]))
        for name, q in qs.items():
            if isinstance(q, dict) and set(q) == {"error"}:
                continue
            obj.__dict__[name] = Quantity.from_dict(q)
        return obj


# ---------------------------------------------------------------------- float64 path
def _other_fixed_points(m, sw2, sb2):
    """``"; the length map's fixed points: ..."`` (their stability, and how to reach a stable one),
    for a message about a q0 whose orbit diverges."""
    points = LengthMap(m.act, sw2, sb2).fixed_points
    if not points:
        return "; the length map has no fixed point in [0, 1e12]"
    shown = ", ".join(f"q* = {p.q:.6g} ({p.kind}, slope {p.slope:.4g})" for p in points)
    unstable = [p.q for p in points if not p.stable]
    hint = (f": start below q0 = {max(unstable):.6g} to reach a stable one"
            if unstable and any(p.stable for p in points) else "")
    return f"; the length map's fixed points are {shown}{hint}"


def _float_q_star(m, sw2, sb2, q0, name="phi"):
    def h(q):
        return sw2 * m.np_one("V", q) + sb2 - q
    h0 = h(q0)
    if h0 == 0:
        return q0
    if h0 > 0:
        lo, hi = q0, q0
        for _ in range(200):            # doubling passes _Q_MAX long before the cap
            lo, hi = hi, hi * 2
            hv = h(hi)
            if not np.isfinite(hv) or hi > _Q_MAX:
                break
            if hv <= 0:
                break
        else:
            hv = np.inf
        if not (np.isfinite(hv) and hv <= 0 and hi <= _Q_MAX):
            raise NoFixedPointError(
                f"{name}: from q0 = {q0:g} the length q^l diverges for sigma_w2={sw2}, "
                f"sigma_b2={sb2} (it grows past {_Q_MAX:g}){_other_fixed_points(m, sw2, sb2)}")
    else:
        hi, lo = q0, q0
        for _ in range(200):            # lo / 4 falls below 1e-14 long before the cap
            hi, lo = lo, lo / 4
            if lo < 1e-14:
                if h(0.0) <= 0:  # h(0) = sw2 phi(0)^2 + sb2 >= 0, so it is 0: q* = 0
                    return 0.0
                lo = 0.0
                break
            if h(lo) >= 0:
                break
    return optimize.brentq(h, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=400)


def float_state(act, sw2, sb2, q0=1.0, terms=HERMITE_TERMS):
    """Float64 ``q*, chi_1, chi_q*, c*, chi_c*, xi_q, xi_c`` for one (sigma_w2, sigma_b2)."""
    m = moments(act)
    if sw2 <= 0 or sb2 < 0:
        raise InvalidInputError("need sigma_w2 > 0 and sigma_b2 >= 0")
    q = _float_q_star(m, sw2, sb2, q0, m.act.name)
    d1, d2 = m.np_one("D1", q), m.np_one("D2", q)
    chi1, chiq = sw2 * d1, sw2 * (d1 + d2)
    if chi1 <= 1 or q == 0:
        c, chic = 1.0, chi1
    else:
        a2 = m.hermite(q, terms) ** 2
        j = np.arange(terms)

        def f(c):
            return (sw2 * np.polyval(a2[::-1], c) + sb2) / q - c
        top = 1 - 1e-9
        if f(0.0) <= 0:
            c = 0.0
        elif f(top) >= 0:      # no root below 1 - 1e-9: chi_1 is 1 up to rounding (the critical
            c = 1.0            # line itself), and c* = 1 with slope chi_1
        else:
            c = optimize.brentq(f, 0.0, top, xtol=1e-16, rtol=1e-15)
        if c == 1.0:           # the slope there is chi_1, 1 to within rounding (xi_c: inf, not
            chic = min(chi1, 1.0)   # a negative 1e15 from chi_1 = 1 + 4e-16)
        else:
            chic = sw2 * np.polyval((j * a2)[:0:-1], c) / q if c != 0 else sw2 * a2[1] / q
    with np.errstate(divide="ignore"):
        xi_q = -1 / np.log(abs(chiq)) if chiq != 1 else np.inf
        xi_c = -1 / np.log(abs(chic)) if chic != 1 else np.inf
    return {"q_star": q, "chi_1": chi1, "chi_q": chiq, "c_star": c, "chi_c": chic,
            "xi_q": xi_q, "xi_c": xi_c}


@serialized
def mean_field(act, sigma_w2, sigma_b2=0, q0=1, gain=None, **params):
    """The :class:`MeanField` of an activation at ``(sigma_w2, sigma_b2)`` (``gain``, registry
    ``params``: as :func:`~symkernel.core.activations.as_activation`)."""
    return MeanField(act, sigma_w2, sigma_b2, q0, gain, **params)


@serialized
def depth_scales(act, sigma_w2, sigma_b2=0, q0=1, gain=None, **params):
    r"""``(xi_q, xi_c)`` as Quantities (Schoenholz et al. 2017, eqs. 9–10; Pabari & Zhou §3.1)
    (``gain``, registry ``params``: as :func:`~symkernel.core.activations.as_activation`).

    >>> xi_q, xi_c = depth_scales("relu", 1, 0.1)
    >>> xi_q.expr, xi_c.expr
    (1/log(2), 1/log(2))
    """
    mf = MeanField(act, sigma_w2, sigma_b2, q0, gain, **params)
    return mf.xi_q, mf.xi_c
