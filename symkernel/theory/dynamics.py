r"""Global kernel dynamics ``rho_{l+1} = kappa(rho_l)`` (Joudaki & Hofmann (AISTATS 2025), Theorem 1; docs/theory.md §4).

For the normalized kernel map (``kappa(1) = 1``) the four cases of Theorem 1 are decided by the
signs of ``kappa(0)`` and ``kappa'(1) - 1``: zero only when exact reasoning proves it
(``sympy.simplify``, named constants replaced by their definitions), otherwise the sign of a
strict SymPy evaluation or of an error bound that excludes 0 (a sign resting on an *estimated*
value is said in ``.notes``); an undecidable sign raises ``PrecisionError``.  Numeric values are
exact, Arb-ball combinations of their inputs' enclosures (certified when the inputs are), or,
for ``rho*`` in case 4, an estimate accepted by :func:`symkernel.numerics.converge`:

1. ``kappa(0) = 0``: ``rho* = 0``, ``|rho_l|/(1-|rho_l|) <= |rho_0|/(1-|rho_0|) alpha^l``,
   ``alpha = 1/(2 - kappa'(0))``;
2. ``kappa(0) > 0, kappa'(1) < 1``: ``rho* = 1``, ``|rho_l - 1| <= |rho_0 - 1| alpha^l``, ``alpha = kappa'(1)``;
3. ``kappa(0) > 0, kappa'(1) = 1``: ``rho* = 1``,
   ``|rho_l - 1| <= |rho_0 - 1|/(l alpha |rho_0 - 1| + 1)``, ``alpha = 1 - kappa(0) - kappa'(0)``;
4. ``kappa(0) > 0, kappa'(1) > 1``: ``rho*`` in (0, 1) with ``kappa(rho*) = rho*``,
   ``|rho_l - rho*| <= |rho_0 - rho*|/(1 - |rho_0|) alpha^l``,
   ``alpha = max{1 - kappa(0), kappa'(rho*), (1 - rho*)/(2 - kappa'(rho*))}`` as published, which
   does not make this bound true in general: :attr:`KernelDynamics.valid_rate` does
   (``sup_rho`` of the potential's one-layer factor, enclosed in Arb; docs/theory.md §36).

Also: Proposition 2 (residual), Proposition 3 (normalization), Corollary 2 (depth of numerical
indistinguishability), the kernel ODE ``d rho/dt = kappa(rho) - rho`` and the Hermite-order
corollary ``|rho_l| <= |rho_0|^(m^l)``.

>>> import symkernel as sk
>>> dyn = sk.kernel_dynamics("relu")
>>> dyn.case, dyn.fixed_point.expr, dyn.kappa_prime_1.expr, dyn.rate.expr
(3, 1, 1, 1/2 - 1/pi)
>>> sk.kernel_dynamics("tanh").case
1
"""
import math
import weakref
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from symkernel.numerics import serialized, serialized_class
from symkernel.core import display
from symkernel.core.parsing import to_sympy

from symkernel.errors import (InvalidInputError, NoClosedFormError, PrecisionError, SymbolicValueError,
                              SymkernelError)
from symkernel.core.activations import Activation, as_activation
from symkernel.gaussian.expectation import second_moment
from symkernel.kernels import Kernel, kernel_map, rho_value, weak_derivative
from symkernel.numerics import GUARD, Result, check_dps, converge, decimal_value, meets, round_to, working
from symkernel.numerics.arb import NotCertifiable, compile_real, enclose
from symkernel.numerics.combine import combine, from_mpf, to_ball
from symkernel.core.quantity import Quantity, as_quantity, combined, evaluate_exact, proved_zero
from symkernel.core.symbols import rho, x
from symkernel.core.serialize import require
from symkernel.theory.potential_rate import potential_ratio_sup

#: Working digits tried, in turn, to decide the sign of a numeric quantity.
_SIGN_DIGITS = (30, 60, 120)
#: An exact expression whose strict 30-digit value exceeds this in size has that value's sign
#: without the (costly) attempt to prove it 0: a strict evaluation has every digit right.
_CLEARLY_NONZERO = mpmath.mpf(10) ** -20
#: ``sympy.simplify``, cached per expression (kernel_dynamics of the same sigma asked again)
_simplified = lru_cache(maxsize=1024)(sp.simplify)
#: Newton steps allowed at one working precision in the rho* refinement.
_NEWTON_CAP = 60
#: Digits of kappa' used for the Newton slope.
_SLOPE_DIGITS = 20
#: Extra digits rho* is solved for at its first request (served to later, deeper requests).
_ROOT_MARGIN = 8
#: How a case-4 rho* is estimated on the float64-seeded path.
_BRACKET_METHOD = ("estimated: the root of kappa(rho) - rho in (0, 1) (Theorem 1 case 4): secant "
                   "steps at {wp} digits from the float64 root, then a sign change of kappa(rho) - rho "
                   "across [rho* - e, rho* + e] with the kernel values' error estimates below the "
                   "differences (kappa - id is convex on [0, 1]: nonnegative Taylor coefficients, "
                   "so this is its only root)")


def _as_kernel_map(obj):
    if isinstance(obj, Kernel):
        return obj
    return kernel_map(as_activation(obj))


# ---------------------------------------------------------------------------------------------
# numeric combinations of Quantities (Arb balls), exact zeros, signs
# ---------------------------------------------------------------------------------------------
def _combine_quantities(exact_fn, ball_fn, qs, symbol, what):
    """Exact ``exact_fn(*exprs)`` when every input is exact, else ``ball_fn`` on Arb balls."""
    if all(q.exact for q in qs):
        return Quantity(_nice(to_sympy(exact_fn(*[q.expr for q in qs]))), symbol, f"exact: {what}")
    if any(q.exact and q.expr.free_symbols for q in qs):
        raise SymbolicValueError(f"{what}: give the symbols numeric values first")
    return combined(ball_fn, qs, symbol, what)





def _symbolic_sign(expr, label):
    """The sign of an expression in free (positive) parameters, from SymPy's assumptions: a sign
    that holds except at isolated parameter values (leaky ReLU's kappa(0) = (a-1)^2/(pi(a^2+1))
    vanishes only at a = 1) is returned with a note naming those values."""
    if expr.is_positive:
        return 1, None
    if expr.is_negative:
        return -1, None
    free = sorted(expr.free_symbols, key=str)
    if (expr.is_nonnegative or expr.is_nonpositive) and len(free) == 1:
        try:
            zeros = sp.solve(sp.numer(sp.together(expr)), free[0])
        except NotImplementedError:
            zeros = None
        if zeros:
            where = ", ".join(f"{free[0]} = {z}" for z in zeros)
            return (1 if expr.is_nonnegative else -1), (
                f"{label} = {expr} vanishes at {where}: this answer holds for every other value")
    raise SymbolicValueError(f"the sign of {label} = {expr} depends on "
                             f"{[str(f) for f in free]}: give them numeric values")


def _clearly_nonzero(expr):
    """A screen (at most 100 working digits, no accuracy claimed): True when ``expr`` looks larger
    than :data:`_CLEARLY_NONZERO`; then a strict evaluation decides its sign, and an exact 0 never
    drives SymPy's adaptive evaluation to hundreds of digits."""
    try:
        return abs(sp.N(expr, 20, maxn=100)) > _CLEARLY_NONZERO
    except (TypeError, ValueError):
        return False


def _sign(q, label, offset=0):
    """``(s, note)``: the sign -1, 0, 1 of ``q - offset`` and a note when it rests on an estimate.

    Zero only by exact reasoning (:func:`proved_zero`); otherwise a strict SymPy evaluation
    (exact q) or an error bound (numeric q, ``q.result``) that excludes 0.  Raises
    :class:`PrecisionError` when neither decides (no numeric 'tiny means zero' rule).  An exact
    q clearly away from 0 (:func:`_clearly_nonzero`, then a strict 30-digit value above
    :data:`_CLEARLY_NONZERO`) takes that value's sign first: no simplify for a sign that is
    plain to see.
    """
    if q.exact:
        expr = q.expr - offset
        if expr in (sp.oo, -sp.oo):
            return (1 if expr == sp.oo else -1), None
        if not expr.free_symbols and _clearly_nonzero(expr):
            try:        # a value clearly away from 0 needs no proof that it is not 0
                v = evaluate_exact(expr, _SIGN_DIGITS[0])
            except PrecisionError:
                v = None
            if v is not None and abs(v) > _CLEARLY_NONZERO:
                return (1 if v > 0 else -1), None
        if proved_zero(expr):
            return 0, None
        if expr.free_symbols:
            return _symbolic_sign(expr, label)
        for dps in _SIGN_DIGITS:
            try:
                v = evaluate_exact(expr, dps)
            except PrecisionError:
                continue
            if v != 0:
                return (1 if v > 0 else -1), None
        raise PrecisionError(f"cannot decide the sign of {label} = {expr}: SymPy does not simplify "
                             f"it to 0 and it evaluates to 0 at {_SIGN_DIGITS[-1]} digits")
    for dps in _SIGN_DIGITS:
        try:
            res = q.result(dps)
        except SymbolicValueError as exc:
            raise SymbolicValueError(f"cannot decide the sign of {label}: it has no closed form and "
                                     f"its value is not a number ({exc}); give the parameters "
                                     "numeric values") from None
        with working(dps + GUARD):
            d = res.value - offset
            if abs(d) > res.error:
                note = None if res.certified else (f"the sign of {label} rests on an estimated value "
                                                   f"({q.provenance})")
                return (1 if d > 0 else -1), note
    raise PrecisionError(f"cannot decide the sign of {label}: it is 0 to {_SIGN_DIGITS[-1]} digits "
                         "and there is no exact proof that it vanishes")


# Coefficients known exactly by construction (Proposition 3: kappa_LN(0) = 0), per kernel map.
_KNOWN = weakref.WeakKeyDictionary()


def _coefficient(kmap, k):
    r"""Taylor coefficient ``a_k`` of a kernel map: exactly known by construction (Proposition 3),
    else :meth:`Kernel.coefficient` (exact, or with propagated error bounds)."""
    known = _KNOWN.get(kmap, {})
    return known[k] if k in known else kmap.coefficient(k)


def _affine(kmap, a, b0, b1, symbol, name):
    """:meth:`Kernel.affine` ``a kappa + b0 + b1 rho``, with the exactly known coefficients of
    ``kmap`` carried over (``a a_k + b_k``)."""
    a, b0, b1 = as_quantity(a), as_quantity(b0), as_quantity(b1)
    out = kmap.affine(a, b0, b1, symbol=symbol, name=name)
    known = {}
    for k, q in _KNOWN.get(kmap, {}).items():
        if q.exact and a.exact and (k > 1 or (b0, b1)[k].exact):
            value = a.expr * q.expr + (b0.expr if k == 0 else b1.expr if k == 1 else 0)
            known[k] = Quantity(_simplified(value), f"a_{{{k}}}", q.provenance)
    if known:
        _KNOWN[out] = known
    return out


@serialized
def residual_kernel_map(kmap, r):
    r"""Proposition 2: ``kappa_res(rho) = (1 - r^2) kappa(rho) + r^2 rho`` for residual strength r.

    >>> kres = residual_kernel_map("exp", sp.Rational(1, 2))
    >>> kres.expr
    rho/4 + 3*exp(rho - 1)/4
    """
    kmap = _as_kernel_map(kmap)
    r = to_sympy(r)
    if r.is_number and not (0 <= r <= 1):
        raise InvalidInputError(f"the residual strength r must lie in [0, 1], got {r}")
    return _affine(kmap, 1 - r**2, 0, r**2, r"\kappa_{\mathrm{res}}", f"residual kernel map (r={r})")


@serialized
def normalized_kernel_map(kmap, layers="LN*phi"):
    r"""Proposition 3: the kernel map with a normalization layer.

    ``layers="LN*phi"`` (layer norm after the activation) gives ``(kappa - kappa(0))/(1 - kappa(0))``
    (its ``kappa(0) = 0`` exactly, by construction); ``"phi*LN"``, ``"phi*RMS"``, ``"RMS*phi"``
    leave ``kappa`` unchanged.  Numeric coefficients are Arb balls on ``kappa(0)``'s enclosure.
    """
    kmap = _as_kernel_map(kmap)
    key = layers.replace(" ", "").replace("∘", "*").lower()
    if key in ("phi*ln", "phi*rms", "rms*phi"):
        return kmap
    if key != "ln*phi":
        raise InvalidInputError(f"unknown layer order {layers!r}; use 'LN*phi', 'phi*LN', 'phi*RMS' or 'RMS*phi'")
    k0 = _coefficient(kmap, 0)
    if k0.exact and proved_zero(1 - k0.expr):
        raise InvalidInputError("kappa(0) = 1: the activation is constant after centering")
    inv = _combine_quantities(lambda k: _simplified(1 / (1 - k)), lambda k: 1 / (1 - k), [k0],
                              r"1/(1-\kappa(0))", "1/(1 - kappa(0)), Proposition 3")
    minus_k0 = _combine_quantities(lambda k: _simplified(-k / (1 - k)), lambda k: -k / (1 - k), [k0],
                                   r"-\kappa(0)/(1-\kappa(0))", "-kappa(0)/(1 - kappa(0)), Proposition 3")
    out = _affine(kmap, inv, minus_k0, 0, r"\kappa_{\mathrm{LN}}", "kernel map with LN after the activation")
    _KNOWN[out] = {**_KNOWN.get(out, {}),
                   0: Quantity(sp.Integer(0), r"\kappa(0)", "exact: Proposition 3 (LN after the "
                               "activation centers it: kappa_LN(0) = 0 by construction)")}
    return out


@serialized
def layer_kernel_map(act, centering=True, residual=0):
    r"""The normalized kernel map of one layer ``x -> sqrt(1-r^2) N(C(sigma(W x))) + r x``
    (layer normalization ``N``; centering ``C``), the one recursion the Gram dynamics, the
    correlation sequences and the simulators' predicted curves iterate:
    ``kappa`` without centering, :func:`normalized_kernel_map` ``(kappa - kappa(0))/(1 - kappa(0))
    = sigma_bar/sigma_bar(1)`` with it (Joudaki, Daneshmand & Bach (NeurIPS 2023) eq. (10),
    Theorem A.2; Joudaki & Hofmann (AISTATS 2025) Prop. 3), then :func:`residual_kernel_map`
    for ``r > 0`` (Prop. 2).  ``act``: an activation or a kernel map.

    >>> import symkernel as sk
    >>> layer_kernel_map(sk.x**2 + sk.x).expr      # sigma_bar(rho)/sigma_bar(1) = (rho + 2 rho^2)/3
    rho*(2*rho + 1)/3
    """
    kmap = _as_kernel_map(act)
    if centering:
        kmap = normalized_kernel_map(kmap)
    return kmap if residual == 0 else residual_kernel_map(kmap, residual)


#: functions whose derivative needs the weak-derivative machinery (kinks, jumps)
_NONSMOOTH = (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min, sp.Piecewise, sp.floor, sp.ceiling)


def _derivative_activation(act):
    """``(sigma', None)`` as an Activation, or ``(None, why)`` when sigma jumps: ``sp.diff`` of a
    one-piece smooth activation (its second moment needs no simplified form, and simplifying
    one costs seconds), else :func:`~symkernel.kernels.weak_derivative`."""
    if len(act.pieces) == 1 and not act.expr.has(*_NONSMOOTH):
        return Activation(f"{act.name}'", sp.diff(act.expr, x)), None
    return weak_derivative(act)


def _kappa_prime_one(kmap):
    """kappa'(1) = scale E[(sigma^(m+1))^2] + sum i poly_i as a Quantity (exact when possible)."""
    act = kmap.act
    for _ in range(kmap.order + 1):
        act, why = _derivative_activation(act)
        if act is None:
            return Quantity(sp.oo, r"\kappa'(1)", f"exact: infinite ({why})")
    m2 = second_moment(act)
    weights = [i for i in range(1, len(kmap.poly))]
    qs = [kmap.scale, m2, *kmap.poly[1:]]
    return _combine_quantities(
        lambda s, m, *p: _simplified(s * m + sum(w * c for w, c in zip(weights, p))),
        lambda s, m, *p: sum((w * c for w, c in zip(weights, p)), s * m),
        qs, r"\kappa'(1)", "kappa'(1) = scale E[sigma'^2] + sum_i i poly_i")


@lru_cache(maxsize=1024)
def _nice(expr):
    """The shortest of ``expr``, its simplification and (a rational) its nsimplify; cached per
    expression."""
    if sp.count_ops(expr) > 150:
        return expr
    return min([expr, sp.simplify(expr), sp.nsimplify(expr) if expr.is_Rational else expr], key=sp.count_ops)


#: the deepest sequence computed, by kind: nested closed forms grow with every layer; a numeric
#: layer costs one evaluation of kappa (microseconds in float64, milliseconds with dps)
MAX_SEQUENCE_DEPTH = {"exact": 12, "dps": 10_000, "float64": 1_000_000}
#: the highest degree of the numerator or denominator of kappa(rho) - rho for which
#: :meth:`KernelDynamics.ode_closed_form` builds partial fractions
ODE_MAX_DEGREE = 6


@serialized_class
class KernelDynamics:
    """Theorem 1 of Joudaki & Hofmann (AISTATS 2025) for a normalized kernel map; see the module docstring."""

    def __init__(self, kmap):
        self.kmap = kmap
        self.notes = []
        self.kappa_0 = _rename(_coefficient(kmap, 0), r"\kappa(0)")
        self.kappa_prime_0 = _rename(_coefficient(kmap, 1), r"\kappa'(0)")
        self.kappa_prime_1 = _rename(_kappa_prime_one(kmap), r"\kappa'(1)")
        s0, note = _sign(self.kappa_0, "kappa(0)")
        self.notes += [note] if note else []
        if s0 < 0:
            raise InvalidInputError("kappa(0) < 0 is impossible for a kernel map")
        if s0 == 0:
            self.case = 1
            if not (self.kappa_0.exact and self.kappa_0.expr == 0):   # proved zero by proved_zero
                self.kappa_0 = Quantity(sp.Integer(0), r"\kappa(0)", "exact: the closed form of "
                                        "kappa(0) simplifies to 0 (named constants replaced by their "
                                        "closed-form definitions)")
        else:
            s1, note = _sign(self.kappa_prime_1, "kappa'(1) - 1", offset=1)
            self.notes += [note] if note else []
            self.case = {-1: 2, 0: 3, 1: 4}[s1]
            if self.case == 4:
                self.notes.append("alpha is Theorem 1's case-4 rate as published; it does not make "
                                  "the bound true in general: bound() uses valid_rate "
                                  "(docs/theory.md §36)")

    # -- fixed point and rate -------------------------------------------------------------------
    @property
    def fixed_point(self):
        """The globally attracting fixed point rho* (exact 0 or 1; an estimated root in case 4)."""
        if "fp" not in self.__dict__:
            if self.case == 1:
                fp = Quantity(sp.Integer(0), r"\rho^*", "exact: Theorem 1, case 1")
            elif self.case in (2, 3):
                fp = Quantity(sp.Integer(1), r"\rho^*", f"exact: Theorem 1, case {self.case}")
            elif self._exact_root() is not None:
                fp = Quantity(self._exact_root(), r"\rho^*", "exact: the root in (0, 1) of the "
                              "numerator of kappa(rho) - rho, a polynomial with rational "
                              "coefficients (Theorem 1, case 4; SymPy's real_roots)")
            else:
                proof, why = self._proof_path()
                if proof:
                    fp = Quantity(None, r"\rho^*", f"certified: {_ROOT_PROOF} (kappa values: "
                                  f"{why})", self._root)
                else:
                    fp = Quantity(None, r"\rho^*", "estimated: the root of kappa(rho) - rho in (0, 1) "
                                  "(Theorem 1 case 4): secant steps at one working precision from "
                                  "the float64 root, then a sign change of kappa(rho) - rho across "
                                  "rho* -+ 10^-(dps+3) rho* larger than the kernel values' error "
                                  "estimates (kappa - id is convex on [0, 1]: nonnegative Taylor "
                                  "coefficients, so this is its only root); without a float64 "
                                  "kernel, safeguarded Newton steps accepted when two working "
                                  "precisions agree (numerics.converge) and the same sign-change "
                                  f"check; not certified: {why}", self._root)
            self.__dict__["fp"] = fp
        return self.__dict__["fp"]

    def _exact_root(self):
        """Case 4's rho* exactly when kappa is a rational function of rho with rational
        coefficients (numerator of kappa - rho of degree at most :data:`ODE_MAX_DEGREE`): its
        one real root in (0, 1) (SymPy's real root isolation, exact); else None."""
        if "_exact_fp" not in self.__dict__:
            root = None
            expr = self.kmap.expr
            if expr is not None and expr.is_rational_function(rho) and not (expr.free_symbols - {rho}):
                num = sp.fraction(sp.cancel(expr - rho))[0]
                poly = sp.Poly(num, rho)
                if 0 < poly.degree() <= ODE_MAX_DEGREE and all(c.is_Rational for c in poly.all_coeffs()):
                    inside = [r for r in poly.real_roots() if 0 < r < 1]
                    if len(set(inside)) == 1:
                        root = _nice(sp.radsimp(inside[0])) if not inside[0].has(sp.CRootOf) else inside[0]
            self.__dict__["_exact_fp"] = root
        return self.__dict__["_exact_fp"]

    def _proof_path(self):
        """``(True, how kappa is enclosed)`` when rho* can be certified, else ``(False, why not)``:
        kappa needs proven values (:func:`_enclosure`) and ``kappa - id`` proven convex on [0, 1]
        (:func:`_convex_on_unit`)."""
        if "_proof" not in self.__dict__:     # the enclosure first: the cheaper test to fail
            fn, why = _enclosure(self.kmap)
            ok = fn is not None
            if ok:
                ok, why = _convex_on_unit(self.kmap)
                self.__dict__["_kappa_enclosure"] = fn
            self.__dict__["_proof"] = (ok, why)
        return self.__dict__["_proof"]

    def _root_interval(self, dps):
        """``(lo, hi)``: exact binary numbers with ``kappa(lo) > lo`` and ``kappa(hi) < hi`` proven
        by Arb enclosures, ``hi - lo <= 2 |rho*| 10^-(dps+3)`` (the proof: :data:`_ROOT_PROOF`)."""
        cache = self.__dict__.setdefault("_intervals", {})
        for d, iv in cache.items():
            if d >= dps:
                return iv
        fn = self.__dict__["_kappa_enclosure"]
        wp = dps + 15
        with working(wp):
            r = self._refine(wp)
            eps = abs(r) * mpmath.mpf(10) ** (-(dps + 3))
            lo, hi = round_to(r - eps, dps + 6), round_to(r + eps, dps + 6)
        for d in (dps + 5, dps + 12, dps + 30):
            left, right = fn(lo, d), fn(hi, d)
            with working(d + GUARD):
                g_lo, g_hi = to_ball(left) - from_mpf(lo), to_ball(right) - from_mpf(hi)
                if g_lo > 0 and g_hi < 0:
                    cache[dps] = (lo, hi)
                    return lo, hi
        raise PrecisionError(f"rho* to {dps} digits: no proven sign change of kappa(rho) - rho "
                             f"on [{mpmath.nstr(lo, dps + 3)}, {mpmath.nstr(hi, dps + 3)}]")

    def _root(self, dps):
        """rho* to ``dps`` digits (case 4) as a Result (one accepted at more digits serves a later
        request for fewer).  Solved once for :data:`_ROOT_MARGIN` more digits than asked: the
        rate (:func:`_combined_shallow`) and kappa'(rho*) then ask for rho* at ``dps + 3`` and
        ``dps + 8``, served from it, where each new working precision would cost the kernel a
        new table of coefficients."""
        done = self.__dict__.get("_root_done")
        if done is not None and done[0] >= dps:
            return _as_asked(done[1], dps)
        target = dps + _ROOT_MARGIN
        if self._proof_path()[0]:
            lo, hi = self._root_interval(target)
            with working(target + GUARD + 10):
                mid = (lo + hi) / 2
                res = Result(mid, max(mid - lo, hi - mid) * (1 + mpmath.mpf(10) ** -(target + 5)),
                             True, _ROOT_PROOF)
            self.__dict__["_root_done"] = (target, res)
            return _as_asked(res, dps)
        res = self._bracketed_root(target)
        if res is not None:
            self.__dict__["_root_done"] = (target, res)
            return _as_asked(res, dps)
        return self._root_by_agreement(dps)

    def _bracketed_root(self, dps):
        """rho* to ``dps`` digits, estimated, at one working precision: secant steps from the
        float64 seed (:meth:`_refine`), then the sign change ``kappa(lo) - lo > 0 > kappa(hi) - hi``
        at ``lo, hi = r -+ |r| 10^-(dps+3)`` with each kernel value's own error bound smaller than
        the difference (kappa - id is convex on [0, 1] in case 4, so that root is rho*).  The
        bracket is as good as the kernel's error estimates (estimated when they are); None when
        no float64 seed exists or the sign change is not shown (the caller falls back to
        :meth:`_root_by_agreement`).  docs/theory.md §12."""
        if self._float_root() is None:
            return None
        for extra in (5, 15):
            wp = dps + extra
            try:
                with working(wp + GUARD):
                    r = self._refine(wp)
                    eps = abs(r) * mpmath.mpf(10) ** (-(dps + 3))
                    lo, hi = r - eps, r + eps
                    left, right = self.kmap.result(lo, wp), self.kmap.result(hi, wp)
                    g_lo, g_hi = left.value - lo, right.value - hi
                    if g_lo > left.error and -g_hi > right.error:
                        self.__dict__["_root_wp"] = wp
                        return Result(r, eps, False, _BRACKET_METHOD.format(wp=wp))
            except PrecisionError:
                continue
        return None

    def _root_by_agreement(self, dps):
        """rho* to ``dps`` digits by :func:`~symkernel.numerics.converge` on Newton at two working
        precisions, then a sign-change check (the path without a float64 seed)."""
        res = converge(self._newton, dps, method="rho* (Theorem 1 case 4)")
        wp = dps + GUARD
        with working(wp):
            eps = abs(res.value) * mpmath.mpf(10) ** (-(dps + 1))
            lo, hi = res.value - eps, res.value + eps
            left = self.kmap(lo, dps=wp) - lo
            right = self.kmap(hi, dps=wp) - hi
        if not (left > 0 > right):
            raise PrecisionError(f"rho* to {dps} digits: kappa(rho) - rho does not change sign around "
                                 f"{mpmath.nstr(res.value, dps)}")
        res = Result(res.value, max(res.error, eps), False, res.method)
        self.__dict__["_root_done"] = (dps, res)
        return res

    def _float_root(self):
        """rho* in float64 from the kernel's float64 twin (a grid sign change of kappa - id, then
        finer grids about it), or None without a twin: a seed only, every digit is checked at
        working precision.  ``kappa - id`` is positive before rho* and negative after it (convex,
        Theorem 1 case 4), so a coarse grid (257 points; 4097 when rho* lies within 1/256 of 1)
        finds the sign change, and grids of 33 points narrow it 32x each down to float64
        resolution (a few hundred kernel values instead of thousands: the float64 twin of a
        kernel without a closed form is a quadrature)."""
        if "_float_seed" not in self.__dict__:
            seed = None
            try:
                bracket = None
                for n in (257, 4097):
                    grid = np.linspace(0.0, 1.0, n)[:-1]
                    bracket = self._float_sign_change(grid)
                    if bracket is not None:
                        break
                if bracket is not None:
                    a, b = bracket
                    while b - a > 4 * np.spacing(b):   # each finer grid narrows the sign change 32x
                        fine = self._float_sign_change(np.linspace(a, b, 33))
                        if fine is None or fine == (a, b):
                            break
                        a, b = fine
                    seed = 0.5 * (a + b)
            except SymkernelError:
                seed = None
            self.__dict__["_float_seed"] = seed
        return self.__dict__["_float_seed"]

    def _float_sign_change(self, grid):
        """``(grid[i-1], grid[i])`` at the first grid point where the float64 ``kappa - id`` is
        negative (i > 0, every value finite), else None."""
        with np.errstate(all="ignore"):
            f = self.kmap.numpy(grid) - grid
        if not np.all(np.isfinite(f)):
            return None
        neg = np.nonzero(f < 0)[0]
        if not (neg.size and neg[0] > 0):
            return None
        return float(grid[neg[0] - 1]), float(grid[neg[0]])

    def _refine(self, wp):
        """kappa(rho) = rho solved at ``wp`` digits (inside ``working``): secant steps from the
        float64 seed (superlinear: 14 digits become 30 in about three kernel values, all at this
        one precision), else :meth:`_newton`.  Stops when a step is below ``10^-(wp-5)`` relative."""
        seed = self._float_root()
        if seed is None:
            return self._newton(wp)
        tol = mpmath.mpf(10) ** (-(wp - 5))
        r0 = mpmath.mpf(seed)
        r1 = r0 * (1 + mpmath.mpf(2) ** -30)
        f0, f1 = self._f(r0, wp), self._f(r1, wp)
        for _ in range(_NEWTON_CAP):
            if f1 == 0 or f1 == f0:
                return r1
            r2 = r1 - f1 * (r1 - r0) / (f1 - f0)
            if not 0 < r2 < 1:
                return self._newton(wp)
            r0, f0, r1 = r1, f1, r2
            if abs(r1 - r0) <= abs(r1) * tol:
                return r1
            f1 = self._f(r1, wp)
        return self._newton(wp)

    def _f(self, r, wp):
        """kappa(r) - r at ``wp`` digits (inside a working block)."""
        return self.kmap(r, dps=wp) - r

    def _bracket(self):
        """``(a, b)`` in [0, 1) with ``kappa(a) > a`` and ``kappa(b) < b`` (exact binary numbers).

        In case 4, ``f = kappa - id`` is convex on [0, 1] (nonnegative Taylor coefficients) with
        ``f(0) = kappa(0) > 0``, ``f(1) = 0`` and ``f'(1) = kappa'(1) - 1 > 0``: ``f`` has one root
        in (0, 1), positive before it and negative after it.  Located on a float64 grid (or a
        15-digit one when there is no float64 path), the bracket is then checked at 30 digits.
        """
        if "_bracket_cache" in self.__dict__:
            return self.__dict__["_bracket_cache"]
        try:
            grid = np.linspace(0.0, 1.0, 4097)[:-1]
            with np.errstate(all="ignore"):
                f = self.kmap.numpy(grid) - grid
            if not np.all(np.isfinite(f)):
                raise InvalidInputError("non-finite float64 kernel values")
        except SymkernelError:
            grid = np.linspace(0.0, 1.0, 65)[:-1]
            with working(15 + GUARD):
                f = np.array([float(self._f(mpmath.mpf(g), 15)) for g in grid])
        neg = np.nonzero(f < 0)[0]
        a = b = None
        if neg.size and neg[0] > 0:
            a, b = float(grid[neg[0] - 1]), float(grid[neg[0]])
        with working(30 + GUARD):
            if a is None:       # the root is above the last grid point: walk towards 1
                a = float(grid[-1])
                for k in range(13, 200):
                    if self._f(1 - mpmath.mpf(2) ** -k, 30) < 0:
                        b = 1 - mpmath.mpf(2) ** -k
                        break
                else:
                    raise PrecisionError("rho*: no sign change of kappa(rho) - rho found below 1")
            a, b = mpmath.mpf(a), mpmath.mpf(b)
            if not (self._f(a, 30) > 0 > self._f(b, 30)):
                raise PrecisionError("rho*: the float64 bracket of kappa(rho) - rho does not hold at 30 digits")
        self.__dict__["_bracket_cache"] = (a, b)
        return a, b

    def _newton(self, wp):
        """Safeguarded Newton on kappa(rho) - rho at ``wp`` digits (inside ``working(wp)``), with
        ``kappa'`` to ``_SLOPE_DIGITS`` digits (a relative slope error ``d`` multiplies the error
        by ``d`` per step; high-precision derivative kernels are costly): a step leaving the
        current bracket is replaced by bisection; at most ``_NEWTON_CAP`` steps; stops when a step
        is below ``10^-(wp-5)`` relative (the noise level of the kernel values)."""
        a, b = self._bracket()
        best = self.__dict__.get("_root_best")
        r = best[1] if best is not None else (a + b) / 2
        try:
            deriv = self.kmap.derivative()
        except SymkernelError:
            deriv = None
        tol = mpmath.mpf(10) ** (-(wp - 5))
        prev = None
        for _ in range(_NEWTON_CAP):
            f = self._f(r, wp)
            if f == 0:
                break
            if f > 0:
                a = max(a, r)
            else:
                b = min(b, r)
            if deriv is not None:     # kappa' to 20 digits: each step gains about 19 digits
                slope = deriv(r, dps=min(wp, _SLOPE_DIGITS)) - 1
            elif prev is not None and prev[0] != r:
                slope = (f - prev[1]) / (r - prev[0])       # secant
            else:
                slope = None
            prev = (r, f)
            new = r - f / slope if slope else None
            if new is None or not a < new < b:
                new = (a + b) / 2
            step, r = abs(new - r), new
            if step <= abs(r) * tol:
                break
        else:
            raise PrecisionError(f"rho*: Newton did not settle at {wp} digits in {_NEWTON_CAP} steps")
        if best is None or best[0] < wp:
            self.__dict__["_root_best"] = (wp, r)
        return r

    @property
    def kappa_prime_star(self):
        """kappa'(rho*) as a Quantity."""
        if self.case == 1:
            return _rename(self.kappa_prime_0, r"\kappa'(\rho^*)")
        if self.case in (2, 3):
            return _rename(self.kappa_prime_1, r"\kappa'(\rho^*)")
        if "kps" not in self.__dict__ and self.fixed_point.exact:
            deriv = self.kmap.derivative().expr
            if deriv is not None:
                self.__dict__["kps"] = Quantity(_nice(sp.radsimp(deriv.subs(rho, self.fixed_point.expr))),
                                                r"\kappa'(\rho^*)", "exact: kappa' at the exact rho*")
        if "kps" not in self.__dict__:
            fp = self.fixed_point       # the derivative kernel is built only where it is used
            fn, why = (_enclosure(self.kmap.derivative()) if fp.kind == "certified"
                       else (None, "rho* is estimated"))
            if fn is not None:
                q = Quantity(None, r"\kappa'(\rho^*)", "certified: kappa' is nondecreasing on "
                             "[0, 1] (nonnegative Taylor coefficients), so kappa'(rho*) lies between "
                             f"kappa'(lo) and kappa'(hi) at the ends of the certified interval of rho* "
                             f"(kappa' values: {why})", lambda dps: self._slope_at_root(fn, dps))
            else:
                q = Quantity(None, r"\kappa'(\rho^*)", "estimated: kappa' at the estimated rho* (to "
                             "dps + 5 digits): Richardson-extrapolated central differences of "
                             "kappa at the root's working precision (two successive extrapolations "
                             "agree to dps + 2 digits), or the derivative kernel where they do "
                             f"not; not certified: {why}", self._slope_estimate)
            self.__dict__["kps"] = q
        return self.__dict__["kps"]

    def _slope_estimate(self, dps):
        """kappa'(rho*) estimated: :meth:`_slope_by_differences`, else the derivative kernel."""
        r = self.fixed_point.value(dps + 5)
        if self._float_root() is not None:
            try:
                return self._slope_by_differences(r, dps)
            except PrecisionError:
                pass
        return self.kmap.derivative()(r, dps=dps + 5)

    def _slope_by_differences(self, r, dps):
        r"""kappa'(r) from kappa values alone, at the working precision the root was solved at (no
        new coefficient table, which for some kernels costs seconds per precision): central
        differences ``D(h) = (kappa(r+h) - kappa(r-h))/(2h)``, ``h = min(r, 1-r)/32 \cdot 2^-k``,
        Richardson-extrapolated in ``h^2``; accepted when two successive extrapolations agree to
        ``dps + 2`` digits (an estimate; kappa is analytic on (-1, 1)); docs/theory.md §12."""
        wp = self.__dict__.get("_root_wp", 0)
        if wp < dps + 10:      # up to 6 digits cancel in the differences (h >= 1e-6), 2 judged
            wp = dps + 20
        with working(wp + GUARD):
            r = mpmath.mpf(r)
            h = min(r, 1 - r) / 32     # near r: the kernel's series terms for rho* serve r + h
            rows, prev = [], None
            tol = mpmath.mpf(10) ** (-(dps + 2))
            for k in range(14):
                d = (self.kmap(r + h, dps=wp) - self.kmap(r - h, dps=wp)) / (2 * h)
                row = [d]
                for j in range(1, k + 1):
                    row.append(row[j - 1] + (row[j - 1] - rows[k - 1][j - 1]) / (4 ** j - 1))
                rows.append(row)
                best = row[-1]
                if prev is not None and abs(best - prev) <= abs(best) * tol:
                    return Result(best, abs(best - prev) + abs(best) * tol / 10, False,
                                  "Richardson-extrapolated central differences of kappa")
                prev = best
                h /= 2
        raise PrecisionError(f"kappa'(rho*): the extrapolated differences did not settle to {dps} digits")

    def _slope_at_root(self, fn, dps):
        """kappa'(rho*) enclosed by ``[kappa'(lo), kappa'(hi)]`` (kappa' is nondecreasing on [0, 1])."""
        for extra in (3, 8, 20):
            lo, hi = self._root_interval(dps + extra)
            a, b = fn(lo, dps + extra), fn(hi, dps + extra)
            with working(dps + extra + 2 * GUARD):
                low, high = a.value - a.error, b.value + b.error
                mid = (low + high) / 2
                res = Result(mid, (high - low) / 2 + abs(mid) * mpmath.mpf(10) ** -(dps + extra + GUARD),
                             True, "kappa' at the ends of the certified interval of rho*")
            if meets(res, dps):
                return res
        raise PrecisionError(f"kappa'(rho*) could not be enclosed to {dps} digits")

    @property
    def kappa_star(self):
        """kappa(rho*) (= rho*)."""
        fp = self.fixed_point
        if fp.exact or fp.kind == "certified":     # kappa(rho*) = rho*: the same enclosure
            return _rename(fp, r"\kappa(\rho^*)")
        if "ks" not in self.__dict__:
            self.__dict__["ks"] = Quantity(
                None, r"\kappa(\rho^*)", "estimated: kappa at the estimated rho* (to dps + 5 digits)",
                lambda dps: self.kmap(fp.value(dps + 5), dps=dps + 5))
        return self.__dict__["ks"]

    @property
    def rate(self):
        """The rate alpha of Theorem 1 as published (a Quantity; Table S.1's column).

        In case 4 it does not make the bound true in general (docs/theory.md §36): :meth:`bound`
        uses :attr:`valid_rate`; :attr:`published_rate` is this same Quantity."""
        if "rate_q" in self.__dict__:
            return self.__dict__["rate_q"]
        k0, k0p, k1p = self.kappa_0, self.kappa_prime_0, self.kappa_prime_1
        if self.case == 1:
            rate = _combine_quantities(lambda a: 1 / (2 - a), lambda a: 1 / (2 - a), [k0p], r"\alpha",
                                       "Theorem 1 case 1: 1/(2 - kappa'(0))")
        elif self.case == 2:
            rate = _rename(k1p, r"\alpha")
        elif self.case == 3:
            rate = _combine_quantities(lambda a, b: 1 - a - b, lambda a, b: 1 - a - b, [k0, k0p], r"\alpha",
                                       "Theorem 1 case 3: 1 - kappa(0) - kappa'(0)")
        elif all(q.exact for q in (k0, self.fixed_point, self.kappa_prime_star)):
            rate = _combine_quantities(lambda a, r, d: sp.Max(1 - a, d, (1 - r) / (2 - d)), None,
                                       [k0, self.fixed_point, self.kappa_prime_star], r"\alpha",
                                       "Theorem 1 case 4: max{1 - kappa(0), kappa'(rho*), "
                                       "(1 - rho*)/(2 - kappa'(rho*))}")
        else:
            rate = _combined_shallow(lambda a, r, d: (1 - a).max(d).max((1 - r) / (2 - d)),
                                     [k0, self.fixed_point, self.kappa_prime_star], r"\alpha",
                                     "Theorem 1 case 4: max{1 - kappa(0), kappa'(rho*), "
                                     "(1 - rho*)/(2 - kappa'(rho*))}")
        self.__dict__["rate_q"] = rate
        return rate

    @property
    def published_rate(self):
        """Theorem 1's rate alpha as printed by Joudaki & Hofmann (AISTATS 2025): :attr:`rate`."""
        return self.rate

    @property
    def valid_rate(self):
        """A rate for which Theorem 1's bound is proved (docs/theory.md §36), a Quantity.

        Cases 1-3: the published rate (its potential shrinks by at most alpha per layer for every
        rho in (-1, 1), proved in docs/theory.md §36).  Case 4: an upper bound ``U`` on ``sup_rho
        V(kappa(rho))/V(rho)``, ``V(rho) = |rho - rho*|/(1 - |rho|)``, by interval subdivision
        in Arb ball arithmetic (:func:`~symkernel.theory.potential_rate.potential_ratio_sup`;
        certified when the kernel values and rho* are, else estimated); its value is ``U``
        itself, and :attr:`valid_rate_enclosure` gives ``lower <= sup <= U``.

        >>> import symkernel as sk
        >>> dyn = sk.kernel_dynamics(sk.x**2)            # kappa = (1 + 2 rho^2)/3, rho* = 1/2
        >>> float(dyn.published_rate), float(dyn.valid_rate)       # 1/kappa'(1) = 3/4 is the sup
        (0.6666666666666666, 0.75)
        """
        if "valid_q" not in self.__dict__:
            if self.case != 4:
                q = self.rate
                self.__dict__["valid_q"] = Quantity(
                    q.expr, r"\alpha_{\mathrm{valid}}", q.provenance + f"; proved valid for case "
                    f"{self.case}'s potential on (-1, 1) (docs/theory.md §36)", q.numeric, q.params)
            else:
                enc = self.valid_rate_enclosure
                kind = "certified" if enc.certified else "estimated"
                how = (f"{kind}: an upper bound U on sup_rho V(kappa(rho))/V(rho), V(rho) = "
                       f"|rho - rho*|/(1 - |rho|) (Theorem 1 case 4's potential), by interval "
                       f"subdivision with monotone bounds in Arb ball arithmetic from "
                       f"{enc.evaluations} kernel values; the sup lies in "
                       f"[{mpmath.nstr(enc.lower, 10)}, {mpmath.nstr(enc.upper, 10)}] (largest "
                       f"lower bound: {enc.at}); the value is U itself (docs/theory.md §36)"
                       + ("" if enc.certified else f"; not certified: {self._valid_rate_premise()[1]}"))
                res = Result(enc.upper, mpmath.mpf(0), enc.certified, how)
                self.__dict__["valid_q"] = Quantity(None, r"\alpha_{\mathrm{valid}}", how,
                                                    lambda dps: res)
        return self.__dict__["valid_q"]

    def _valid_rate_premise(self):
        """``(True, how kappa is enclosed)`` when the case-4 ratio bounds rest on proofs: kappa
        values enclosed, kappa convex on [0, 1], kappa'(0) >= 0 proven (the odd part of kappa
        nondecreasing), rho* certified; else ``(False, why not)``."""
        ok, why = self._proof_path()
        if ok:
            try:
                s, note = _sign(self.kappa_prime_0, "kappa'(0)")
            except SymkernelError as exc:
                s, note = -1, str(exc)
            if s < 0 or note is not None:
                ok, why = False, "kappa'(0) >= 0 is not proven"
        return ok, why

    @property
    def valid_rate_enclosure(self):
        """Case 4: the :class:`~symkernel.theory.potential_rate.RatioEnclosure` behind
        :attr:`valid_rate` (relative tolerance 1e-4, at most 300 kernel values, 20 digits)."""
        if self.case != 4:
            raise InvalidInputError(f"the potential-ratio enclosure is for case 4; this is case {self.case}")
        if "valid_enc" not in self.__dict__:
            premise, _ = self._valid_rate_premise()
            if premise:
                fn = self.__dict__["_kappa_enclosure"]
            else:
                def fn(r, d):
                    return self.kmap.result(r, d)
            floors = [(self.kappa_prime_star.result(10), "the limit kappa'(rho*) at rho*")]
            k1 = self.kappa_prime_1
            if not (k1.exact and k1.expr == sp.oo):
                r1 = k1.result(10)
                with working(30):
                    low = mpmath.fdiv(1, mpmath.fadd(r1.value, r1.error, rounding="u"), rounding="d")
                    floors.append((Result(low, mpmath.mpf(0), r1.certified,
                                          "1/kappa'(1)"), "the limit 1/kappa'(1) at rho -> 1"))
            enc = potential_ratio_sup(fn, self.fixed_point.result(25), floors, rtol=1e-4,
                                      budget=300, digits=20)
            if not enc.upper < mpmath.inf:
                raise PrecisionError("Theorem 1 case 4: no finite bound on the potential's "
                                     "one-layer ratio from the kernel values")
            enc.certified = enc.certified and premise
            self.__dict__["valid_enc"] = enc
        return self.__dict__["valid_enc"]

    # -- bound, sequence, cobweb, ODE -----------------------------------------------------------
    def bound(self, ell, rho0, rate="valid"):
        """Theorem 1's bound on ``|rho_l - rho*|`` (case 1: on ``|rho_l|/(1-|rho_l|)``), float64.

        ``rate="valid"`` (default): with :attr:`valid_rate` (case 4: its upper bound rounded up
        to float64), a proved bound; ``rate="published"``: with the published :attr:`rate`,
        false in general in case 4 (docs/theory.md §36), for comparison.
        ``ell`` and ``rho0`` may be arrays (broadcast).
        """
        if rate not in ("valid", "published"):
            raise InvalidInputError(f"rate must be 'valid' or 'published', got {rate!r}")
        ell = np.asarray(ell, dtype=float)
        r0 = np.asarray(rho0, dtype=float)
        if (np.abs(r0) >= 1).any() or np.isnan(r0).any():
            raise InvalidInputError("rho_0 must lie in (-1, 1)")
        if self.case == 4 and rate == "valid":
            up = self.valid_rate_enclosure.upper
            a = float(up)
            if a < up:
                a = float(np.nextafter(a, np.inf))
        else:
            a = float(self.rate.value(17))
        star = float(self.fixed_point.value(17))
        if self.case == 1:
            return np.abs(r0) / (1 - np.abs(r0)) * a**ell
        if self.case == 2:
            return np.abs(r0 - 1) * a**ell
        if self.case == 3:
            d = np.abs(r0 - 1)
            return d / (ell * a * d + 1)
        return np.abs(r0 - star) / (1 - np.abs(r0)) * a**ell

    def distance(self, rho_l):
        """The quantity Theorem 1 bounds: ``|rho|/(1-|rho|)`` in case 1, ``|rho - rho*|`` otherwise."""
        rho_l = np.asarray(rho_l, dtype=float)
        if self.case == 1:
            with np.errstate(divide="ignore"):
                return np.abs(rho_l) / (1 - np.abs(rho_l))
        return np.abs(rho_l - float(self.fixed_point.value(17)))

    def sequence(self, rho0, depth, dps=None, exact=False):
        """``[rho_0, ..., rho_depth]``: float64 (default), mpmath (``dps``) or SymPy (``exact=True``).

        With ``dps`` every iterate is computed with ``dps + GUARD`` digits and rounded to ``dps``
        (an error in ``rho_l`` grows by at most the product of ``kappa'`` along the orbit).

        In float64, ``rho0`` may be an array: the result then has shape ``(depth + 1,) + shape``.
        """
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise InvalidInputError(f"depth must be a nonnegative integer, got {depth!r}")
        mode = "exact" if exact else ("dps" if dps is not None else "float64")
        if depth > MAX_SEQUENCE_DEPTH[mode]:
            raise InvalidInputError(
                f"depth {depth} is beyond {MAX_SEQUENCE_DEPTH[mode]} for a {mode} sequence (each "
                "layer is one evaluation of kappa; an exact iterate grows with every layer)")
        if exact:
            if self.kmap.expr is None:
                raise InvalidInputError("no closed form: use dps=... for a numeric sequence")
            out = [to_sympy(rho0)]
            for _ in range(depth):
                out.append(self.kmap.expr.subs(rho, out[-1]))
            return out
        if dps is not None:
            check_dps(dps)
            wp = dps + GUARD
            with working(wp):
                out = [rho_value(rho0)[0](wp)]
                for _ in range(depth):
                    nxt = self.kmap(out[-1], dps=wp)
                    out.append(max(min(nxt, mpmath.mpf(1)), mpmath.mpf(-1)))
            return [round_to(v, dps) for v in out]
        r0 = np.asarray(rho0, dtype=float)
        if np.isnan(r0).any() or (np.abs(r0) > 1).any():
            raise InvalidInputError("rho_0 must lie in [-1, 1]")
        out = np.empty((depth + 1,) + r0.shape)
        out[0] = r0
        for i in range(depth):
            out[i + 1] = np.clip(self.kmap.numpy(out[i]), -1.0, 1.0)
        return out

    def cobweb(self, rho0, depth):
        """Cobweb polyline ``(xs, ys)``: (rho_0, rho_0) -> (rho_0, rho_1) -> (rho_1, rho_1) -> ..."""
        seq = self.sequence(rho0, depth)
        xs = np.repeat(seq, 2)[:-1]
        ys = np.concatenate([[seq[0]], np.repeat(seq[1:], 2)])[: xs.size]
        return xs, ys

    def ode(self, rho0, t_max, num=200):
        """Kernel ODE ``d rho/dt = kappa(rho) - rho`` solved numerically: ``(t, rho(t))``."""
        from scipy.integrate import solve_ivp
        if not -1 <= float(rho0) <= 1:
            raise InvalidInputError("rho_0 must lie in [-1, 1]")
        t_eval = np.linspace(0, float(t_max), num)
        sol = solve_ivp(lambda t, y: np.clip(self.kmap.numpy(np.clip(y, -1, 1)), -1, 1) - y,
                        (0, float(t_max)), [float(rho0)], t_eval=t_eval, rtol=1e-10, atol=1e-12)
        return sol.t, sol.y[0]

    def ode_closed_form(self, implicit=False):
        r"""The kernel ODE ``d rho/dt = g(rho) = kappa(rho) - rho`` in closed form, by separation of
        variables (autonomous: ``t = int_{rho_0}^{rho} dr/g(r)``), never by an open-ended solver
        (docs/theory.md §36).

        ``implicit=False``: ``Eq(rho(t), ...)`` in the symbols ``t`` and ``rho_0`` (``rho(0) =
        rho_0``) when ``g`` is a polynomial of degree at most 2 with numeric coefficients:
        ``g = a (rho - r)`` gives ``r + (rho_0 - r) e^{a t}``; ``g = a (rho - r)^2`` gives
        ``r + (rho_0 - r)/(1 - a t (rho_0 - r))``; ``g = a (rho - r_1)(rho - r_2)`` (real roots;
        ``r_1 = 1`` always, as ``kappa(1) = 1``) gives
        ``(r_1 - r_2 K)/(1 - K)``, ``K = (rho_0 - r_1)/(rho_0 - r_2) e^{a (r_1 - r_2) t}``.
        ``implicit=True``: ``Eq(t, F(rho) - F(rho_0))``, ``F`` an antiderivative of ``1/g`` from
        its partial fractions over the rationals (``g`` a rational function of degree at most
        :data:`ODE_MAX_DEGREE`; ``log|.|`` for each linear factor).  Anything else raises
        :class:`~symkernel.errors.NoClosedFormError` saying why.

        >>> import symkernel as sk
        >>> sk.kernel_dynamics(sk.x**2).ode_closed_form()          # g = 2 (rho - 1)(rho - 1/2)/3
        Eq(rho(t), (rho_0*exp(t/3) - 2*rho_0 - exp(t/3) + 1)/(2*rho_0*exp(t/3) - 2*rho_0 - 2*exp(t/3) + 1))
        """
        expr = self.kmap.expr
        if expr is None:
            raise NoClosedFormError(f"the kernel ODE of the {self.kmap.name} has no closed form: kappa "
                                    "itself has none (use ode() for a numerical solution)")
        g = sp.cancel(sp.together(expr - rho))
        num, den = sp.fraction(g)
        if not (num.is_polynomial(rho) and den.is_polynomial(rho)) or (g.free_symbols - {rho}):
            raise NoClosedFormError(f"the kernel ODE is solved in closed form only when kappa is a "
                                    f"rational function of rho with numeric coefficients; kappa - rho "
                                    f"= {g} is not (use ode() for a numerical solution)")
        pn, pd = sp.Poly(num, rho), sp.Poly(den, rho)
        if max(pn.degree(), pd.degree()) > ODE_MAX_DEGREE:
            raise NoClosedFormError(f"kappa - rho = {g} has degree above {ODE_MAX_DEGREE}: its "
                                    "antiderivative is not attempted (use ode())")
        t_sym = sp.Symbol("t", nonnegative=True)
        r0 = sp.Symbol("rho_0", real=True)
        if implicit:
            if g == 0:
                raise NoClosedFormError("kappa(rho) = rho: the kernel ODE is d rho/dt = 0, rho(t) = rho_0")
            parts = sp.apart(den / num, rho)          # over the rationals: bounded for low degrees
            F = sp.integrate(parts, rho).replace(sp.log, lambda u: sp.log(sp.Abs(u)))
            return sp.Eq(t_sym, F - F.subs(rho, r0))
        if pd.degree() != 0 or pn.degree() > 2:
            raise NoClosedFormError(f"rho(t) is given explicitly only for kappa - rho a polynomial of "
                                    f"degree <= 2; here kappa - rho = {g} (implicit=True gives t as a "
                                    "function of rho)")
        coeffs = [c / pd.LC() for c in pn.all_coeffs()]
        if pn.degree() <= 0:
            sol = r0 + coeffs[0] * t_sym if coeffs and coeffs[0] != 0 else r0
        elif pn.degree() == 1:
            a, b = coeffs
            root = -b / a
            sol = root + (r0 - root) * sp.exp(a * t_sym)
        else:
            a = coeffs[0]
            roots = sp.roots(sp.Poly(coeffs, rho), multiple=True)
            if len(roots) != 2 or not all(r.is_real for r in roots):
                raise NoClosedFormError(f"kappa - rho = {g} has no two real roots")
            r1, r2 = sorted(roots, key=lambda r: -float(r))      # r1 = 1, the larger one
            if sp.simplify(r1 - r2) == 0:
                sol = r1 + (r0 - r1) / (1 - a * t_sym * (r0 - r1))
            else:
                K = (r0 - r1) / (r0 - r2) * sp.exp(a * (r1 - r2) * t_sym)
                sol = (r1 - r2 * K) / (1 - K)
        if sp.count_ops(sol) < 80:      # a short expression: simplify is quick
            sol = sp.factor(sp.cancel(sol))
        return sp.Eq(sp.Function("rho")(t_sym), sol)

    def indistinguishable_depth(self, eps):
        """Corollary 2: ``L = ln(1/eps)/ln(1/kappa'(1))`` layers (case 2 only), a Quantity."""
        if self.case != 2:
            raise InvalidInputError(f"Corollary 2 needs kappa(0) > 0 and kappa'(1) < 1 (case 2); this is case {self.case}")
        eps = decimal_value(eps, "eps") if isinstance(eps, float) else to_sympy(eps)
        if not (eps.is_positive and eps < 1):
            raise InvalidInputError(f"eps must lie in (0, 1), got {eps}")
        k1 = self.kappa_prime_1
        if k1.exact:
            return Quantity(sp.log(1 / eps) / sp.log(1 / k1.expr), "L", "exact: Corollary 2")
        return combined(lambda a, k: a / (1 / k).log(), [Quantity(sp.log(1 / eps), "log(1/eps)"), k1],
                              "L", "Corollary 2: ln(1/eps)/ln(1/kappa'(1))")

    def indistinguishable_depths(self):
        """Corollary 2 for float16/32/64 machine epsilon and smallest normal: {name: float}."""
        out = {}
        for name, dtype in (("float16", np.float16), ("float32", np.float32), ("float64", np.float64)):
            info = np.finfo(dtype)
            out[f"{name} eps"] = float(self.indistinguishable_depth(sp.Rational(2) ** int(np.log2(info.eps))).value(15))
            out[f"{name} tiny"] = float(self.indistinguishable_depth(sp.Rational(2) ** int(np.log2(info.tiny))).value(15))
        return out

    def hermite_order(self, kmax=50):
        """m = the first k with c_k != 0 (needs kappa(0) = 0); Corollary S.1 uses it."""
        for k in range(kmax):
            if _sign(_coefficient(self.kmap, k), f"a_{k}")[0] != 0:
                return k
        raise InvalidInputError(f"all of the first {kmax} coefficients vanish")

    def hermite_order_bound(self, ell, rho0):
        """``|rho_l| <= |rho_0|^(m^l)`` when ``c_k = 0`` for every ``k < m``."""
        m = self.hermite_order()
        if m < 1:
            raise InvalidInputError("c_0 != 0: the Hermite-order corollary needs m >= 1")
        return np.abs(np.asarray(rho0, float)) ** (float(m) ** np.asarray(ell, float))

    def summary(self):
        """A dict of the Theorem-1 quantities (floats) for display."""
        return {"case": self.case, "rho*": float(self.fixed_point.value(15)),
                "alpha": float(self.rate.value(15)), "kappa(0)": float(self.kappa_0.value(15)),
                "kappa'(0)": float(self.kappa_prime_0.value(15)),
                "kappa'(1)": float(self.kappa_prime_1.value(15)) if self.kappa_prime_1.expr != sp.oo else math.inf}

    # -- display (terminal, LaTeX, Jupyter): drawn by symkernel.present.display -----------------
    def __repr__(self):
        """``KernelDynamics(case=..., kernel=...)`` then one line per Theorem-1 quantity."""
        return display.to_text(self)

    def latex(self, digits=15, mode="math"):
        r"""``\text{case } 3:\ \rho^* = 1,\ \alpha = ...``: exact LaTeX where exact, else ``digits``
        correct digits; ``mode`` as in :func:`symkernel.present.latex.latex`.

        >>> print(kernel_dynamics("relu").latex().split(r",\quad ")[1])
        \alpha = \frac{1}{2} - \frac{1}{\pi}
        """
        return display.to_latex(self, digits=digits, mode=mode)

    def _latex(self, printer=None):
        return self.latex()

    def _repr_html_(self, digits=15):
        """A table (case, rho*, alpha, kappa(0), kappa'(0), kappa'(1)) with LaTeX cells."""
        return display.to_html(self, digits=digits)

    # -- persistence (pickle uses the default state: kernel map and Quantities pickle) ---------
    def to_dict(self, dps=None):
        """A JSON-ready dict: the kernel map, the case, the notes and the Theorem-1 quantities
        (:meth:`symkernel.core.quantity.Quantity.to_dict`; numeric ones at ``dps``, default 15).

        >>> d = kernel_dynamics("relu").to_dict()
        >>> KernelDynamics.from_dict(d).rate.expr
        1/2 - 1/pi
        """
        return {"type": "KernelDynamics", "version": 1, "kernel": self.kmap.to_dict(dps),
                "case": self.case, "notes": [str(n) for n in self.notes],
                "quantities": {n: getattr(self, n).to_dict(dps) for n in DYNAMICS_QUANTITIES}}

    @classmethod
    def from_dict(cls, d):
        """The KernelDynamics of :meth:`to_dict` (restricted srepr reader, never eval); numeric
        quantities serve the stored digits."""
        require(d, "KernelDynamics", ("kernel", "case", "quantities"))
        qs = d["quantities"]
        if d["case"] not in (1, 2, 3, 4) or isinstance(d["case"], bool):
            raise InvalidInputError(f"from_dict: case must be 1, 2, 3 or 4, got {d['case']!r}")
        if not isinstance(qs, dict) or set(qs) != set(DYNAMICS_QUANTITIES):
            raise InvalidInputError(f"from_dict: quantities must be a dict of {DYNAMICS_QUANTITIES}")
        obj = cls.__new__(cls)
        obj.kmap = Kernel.from_dict(d["kernel"])
        obj.notes = [str(n) for n in d.get("notes", [])]
        obj.case = d["case"]
        for name in ("kappa_0", "kappa_prime_0", "kappa_prime_1"):
            setattr(obj, name, Quantity.from_dict(qs[name]))
        obj.__dict__["fp"] = Quantity.from_dict(qs["fixed_point"])
        obj.__dict__["rate_q"] = Quantity.from_dict(qs["rate"])
        return obj


#: how a case-4 rho* is certified (the provenance of the enclosure)
_ROOT_PROOF = ("Theorem 1 case 4 root of g = kappa - id in (0, 1), enclosed in [lo, hi] by a proven "
               "sign change g(lo) > 0 > g(hi) (Arb enclosures of kappa at the two exact binary ends); "
               "g is convex on [0, 1] (nonnegative Taylor coefficients, Mehler) with g(0) = kappa(0) > 0, "
               "g(1) = 0 and g'(1) > 0, so this is its only root in (0, 1): the globally attracting "
               "fixed point of Theorem 1 (Joudaki & Hofmann, AISTATS 2025)")


def _enclosure(kernel):
    """``(fn, how)``: ``fn(r, d)`` a certified Result of the kernel at the exact binary ``r``
    meeting ``d`` digits (Arb on the closed form, or the kernel's own certified path); or
    ``(None, why not)``."""
    if kernel.expr is not None:
        try:
            f = compile_real(kernel.expr, rho)
        except NotCertifiable as exc:
            return None, f"no Arb translation of the closed form ({exc})"

        def closed(r, d):
            res = enclose(lambda wp, bound: f(from_mpf(r)), d, what="the closed-form kernel")
            return Result(res.value, res.error, True, "Arb ball evaluation of the closed form")
        return closed, "Arb ball evaluation of the closed form"
    provenance = kernel.provenance       # computed afresh by each access (a SymPy limit)
    if not provenance.startswith("certified"):
        return None, f"the kernel values are {provenance}"

    def own(r, d):
        res = kernel.result(r, d)
        if not res.certified:
            raise PrecisionError(f"the {kernel.name} at {mpmath.nstr(r, 10)} came back without a "
                                 f"proven enclosure ({res.method})")
        return res
    return own, provenance


def _convex_on_unit(kmap):
    """``(True, '')`` when ``kappa - id`` is proven convex on [0, 1]: the Taylor coefficients of
    ``scale * sigma_hat^(m)`` are ``scale (k+m)!/k! c_{k+m}^2``, nonnegative when the scale is
    positive, so it suffices that the scale is proven positive and the polynomial part's
    ``rho^k`` coefficients (k >= 2) proven nonnegative; else ``(False, why not)``."""
    checks = [(kmap.scale, "the kernel's scale")] + [(c, f"its rho^{k} coefficient")
                                                       for k, c in enumerate(kmap.poly) if k >= 2]
    for q, label in checks:
        if q.exact and q.expr == 0:
            continue
        try:
            s, note = _sign(q, label)
        except SymkernelError as exc:
            return False, f"the sign of {label} is not decided ({exc})"
        if s < 0 or note is not None:
            return False, f"the sign of {label} is not proven positive, so convexity is not shown"
    return True, ""


#: the Quantities KernelDynamics.to_dict writes
DYNAMICS_QUANTITIES = ("kappa_0", "kappa_prime_0", "kappa_prime_1", "fixed_point", "rate")


def _as_asked(res, dps):
    """A root Result solved for more digits, its error bound widened to ``|value| 10^-(dps+3)``
    (still an enclosure: the interval asked for, as if solved for ``dps`` digits)."""
    with working(dps + GUARD):
        floor = abs(res.value) * mpmath.mpf(10) ** (-(dps + 3))
    return res if res.error >= floor else Result(res.value, floor, res.certified, res.method)


def _combined_shallow(fn, quantities, symbol, what):
    """:func:`~symkernel.core.quantity.combined` asking its inputs for 3 guard digits first
    (then ``GUARD``, ``3 GUARD``): for a formula without cancellation (a max of differences of
    numbers of size 1), whose inputs' first request at a new precision is costly (kappa'(rho*)
    builds a new coefficient table); the result's error bound is still checked to meet ``dps``."""
    kind = "certified" if all(q.kind in ("exact", "certified") for q in quantities) else "estimated"
    provenance = f"{kind}: {what} (Arb ball arithmetic on the inputs' enclosures)"
    sources = [q.result for q in quantities]
    return Quantity(None, symbol, provenance,
                    lambda dps: combine(fn, sources, dps, provenance, steps=(3, GUARD, 3 * GUARD)))


def _rename(q, symbol):
    return Quantity(q.expr, symbol, q.provenance, q.numeric, q.params)


@serialized
def kernel_dynamics(act, gain=None, **params):
    """Theorem 1 of Joudaki & Hofmann (AISTATS 2025) for an activation (normalized to E sigma^2 = 1) or a kernel map.

    Accepts an activation (with ``gain`` and registry ``params`` as
    :func:`~symkernel.core.activations.as_activation`), or a :class:`~symkernel.kernels.Kernel`
    with kappa(1) = 1 (e.g. :func:`residual_kernel_map` or :func:`normalized_kernel_map` of a
    kernel map).
    """
    if isinstance(act, Kernel):
        given = sorted(params) + (["gain"] if gain is not None else [])
        if given:
            raise InvalidInputError(f"keywords {given} apply to an activation, not to a kernel map")
        return KernelDynamics(act)
    return KernelDynamics(kernel_map(act, gain, **params))


__all__ = ["KernelDynamics", "kernel_dynamics", "residual_kernel_map", "normalized_kernel_map",
           "layer_kernel_map"]
