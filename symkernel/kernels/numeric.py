"""Numeric evaluation of the dual kernel ``sigma_hat(rho) = E[sigma(X) sigma(Y)]`` of one sigma.

Paths, in order (docs/theory.md §2), each giving a :class:`~symkernel.numerics.Result`: the closed form;
exact reductions (``sigma = a + tau`` with ``tau`` strictly odd: ``sigma_hat = a^2 + tau_hat``;
``sigma = 10^k tau``: ``sigma_hat = 10^(2k) tau_hat``); the exact inner expectation
``E_W[sigma(rho X + sqrt(1-rho^2) W)]`` integrated over ``X`` by Arb (:mod:`.certified`,
*certified*) or else by mpmath; the Hermite series ``sum_k c_k^2 rho^k`` with trapezoidal c_k and
the Parseval tail bound ``(E sigma^2 - sum_{j<=K} c_j^2) |rho|^(K+1)``; for the softsign one
angle integral in Arb (:mod:`.polar_certified`, *certified*, docs/theory.md §19); nested Gauss-Legendre
panels split at the breakpoints (:mod:`.nested`, piecewise-smooth sigma of polynomial growth); a
nested 2D tanh-sinh quadrature.  Values without a proof are accepted by
:func:`symkernel.numerics.converge` (*estimated*).  Float64 arrays use Gauss-Legendre over ``X``
(and a Chebyshev interpolant in ``s`` near ``|rho| = 1``).

>>> import mpmath
>>> from symkernel.gaussian.expectation import as_activation
>>> dual = _Dual.of(as_activation("tanh"))
>>> mpmath.nstr(dual.value(lambda wp: mpmath.mpf(1) / 2, None, 15), 12)
'0.186324413203'
"""
import math
from functools import cached_property

import mpmath
import numpy as np
import sympy as sp

try:
    from flint import arb
except ImportError:  # pragma: no cover - python-flint is a core dependency
    arb = None

from symkernel.core.activations import SIMPLIFY_FAILURES, Activation
from symkernel.errors import InvalidInputError, PrecisionError, SymbolicValueError
from symkernel.gaussian.expectation import second_moment
from symkernel.coefficients.hermite import hermite_coefficient
from symkernel.numerics import Result, converge, settle, working
from symkernel.core.numpy_eval import numpy_lambdify
from symkernel.core.quantity import exact_result
from symkernel.core.symbols import rho, x
from .closed_forms import _S, _closed_form, _inner_form, weak_derivative
from .nested import Nested, _edges, end_result
from .hermite_squares import (
    FLOAT_M2_DPS, SERIES_K_MAX, _float_hermite_squares, _gl_pieces, _trapezoid_coefficients,
)
from .arguments import exact_rational
from .certified import InnerPlan
from .hermite_panels import _certified_coefficients
from .polar import METHOD as POLAR_METHOD, is_softsign, softsign_dual
from .polar_certified import softsign_form, softsign_result, softsign_series_result
from symkernel.numerics.arb import NotCertifiable
from symkernel.numerics.combine import arb_to_mpf, from_mpf
from symkernel.numerics.cache import cached, mpf_key
from symkernel.core.mp_eval import mp_lambdify
from .precision import _points, _refine, closed_result
from .provenance import (
    CLOSED_PROVENANCE, INNER_ESTIMATED_PROVENANCE, INNER_PROVENANCE, NESTED_PROVENANCE, POLAR_PROVENANCE,
    PANELS_PROVENANCE, SERIES_PROVENANCE,
)


class _Dual:
    """sigma_hat of one activation (no scale, no derivative): every evaluation path in one place."""

    def __init__(self, act):
        self.act = act

    @classmethod
    def of(cls, act):
        cache = act.memo("kernels", dict)
        if "dual" not in cache:
            cache["dual"] = cls(act)
        return cache["dual"]

    @property
    def closed(self):
        return _closed_form(self.act)

    @cached_property
    def derivative_activation(self):
        return weak_derivative(self.act)

    # -- mpmath values ------------------------------------------------------------------------
    def value(self, at, exact_rho, dps):
        """sigma_hat at rho (``at(wp)`` -> mpf) as an mpf correct to ``dps`` digits."""
        return self.result(at, exact_rho, dps).rounded(dps)

    def result(self, at, exact_rho, dps):
        """sigma_hat at rho as a :class:`~symkernel.numerics.Result` meeting ``dps`` digits:
        certified (Arb) on the inner-form path, estimated (:func:`~symkernel.numerics.converge`)
        on the others; PrecisionError when the digits cannot be reached.  Served from the opt-in
        disk cache (:mod:`symkernel.numerics.cache`) when one is on."""
        if self.act.free_parameters:
            return self._result(at, exact_rho, dps)     # raises, saying which parameters
        return cached(lambda: self._cache_parts(at, exact_rho), lambda d: self._result(at, exact_rho, d), dps)

    @cached_property
    def _act_key(self):
        return sp.srepr(self.act.expr)

    def _cache_parts(self, at, exact_rho):
        """What a value of this kernel is the value of: the activation and rho, both exact
        (None when rho has no exact form to key on)."""
        if exact_rho is not None:
            where = sp.srepr(exact_rho)
        elif getattr(at, "rational", None) is not None:
            where = sp.srepr(at.rational)
        else:
            first = at(64)
            if first != at(640):       # not one fixed binary number (e.g. typed with more digits)
                return None
            where = mpf_key(first)
        return ("dual kernel", self._act_key, where)

    def _result(self, at, exact_rho, dps):
        if self.act.free_parameters:
            raise SymbolicValueError(f"give the parameters {sorted(map(str, self.act.free_parameters))} "
                                     "numeric values before evaluating")
        if exact_rho is not None and exact_rho in (-1, 0, 1):  # a SymPy rho may be any exact number
            return self._special(int(exact_rho), dps)
        if self.closed is not None:
            return closed_result(self.closed, at, dps)
        if _inner_form(self.act) is not None and InnerPlan.of(self.act) is not None:
            try:
                return InnerPlan.of(self.act).result(_exact_rho(at, exact_rho, dps), dps)
            except PrecisionError:
                pass         # e.g. at a zero of the kernel: the estimate below says what it reaches
        split = self.odd_split
        if split is not None:       # sigma = a + tau, tau odd: sigma_hat = a^2 + tau_hat
            a2, tau = split
            return settle(lambda wp: _shift(tau.result(at, exact_rho, wp), a2), dps,
                          "odd part plus constant")
        scaled = self.scale_split
        if scaled is not None:      # sigma = c tau, c = 10^k: sigma_hat = c^2 tau_hat
            c2, tau = scaled
            res = tau.result(at, exact_rho, dps)
            factor = mpmath.mpf(c2.p) / c2.q
            return Result(res.value * factor,
                          res.error * factor * (1 + mpmath.mpf(2) ** (5 - mpmath.mp.prec)),
                          res.certified, res.method + f", times {c2}")
        if _inner_form(self.act) is not None:
            return converge(lambda wp: self._quad_inner(at(wp), wp, _degree(wp - dps)), dps,
                            method="1D mpmath quadrature of the exact inner expectation")
        if len(self.act.pieces) == 1:
            certified = self._series_certified(at, exact_rho, dps)
            if certified is not None:
                return certified
            if self._series_reaches(at, exact_rho, dps):
                try:
                    return self._series_value(at, dps)
                except PrecisionError:
                    pass
        if self.softsign:
            return self._softsign(at, exact_rho, dps)
        if Nested.applicable(self.act):
            return Nested.of(self.act).value(at(dps + 30), dps)
        return converge(lambda wp: self._quad_nested(at(wp), wp, _degree(wp - dps)), dps,
                        method="nested 2D mpmath quadrature")

    @property
    def provenance(self):
        """The label of the path :meth:`result` takes for rho other than -1, 0, 1."""
        if self.closed is not None:
            return CLOSED_PROVENANCE
        if _inner_form(self.act) is not None and InnerPlan.of(self.act) is not None:
            return INNER_PROVENANCE
        if self.odd_split is not None:
            return self.odd_split[1].provenance + ", plus the constant a^2 (sigma = a + odd)"
        if self.scale_split is not None:
            return self.scale_split[1].provenance + ", times the exact power of 10 squared"
        if _inner_form(self.act) is not None:
            return INNER_ESTIMATED_PROVENANCE
        if self.softsign:
            return POLAR_PROVENANCE
        if len(self.act.pieces) == 1:
            if Nested.applicable(self.act):
                return SERIES_PROVENANCE + " (nested Gauss-Legendre panels where it converges too slowly)"
            return SERIES_PROVENANCE
        if Nested.applicable(self.act):
            return PANELS_PROVENANCE
        return NESTED_PROVENANCE

    @cached_property
    def softsign(self):
        """``(b, g)`` when sigma is exactly ``b softsign(g x) = b g x/(1 + g|x|)`` (:mod:`.polar`,
        :mod:`.polar_certified`: one angle integral), else None."""
        return softsign_form(self.act)

    def _softsign(self, at, exact_rho, dps):
        """The softsign's angle integral in Arb at the exact rho (:mod:`.polar_certified`:
        certified); the mpmath tanh-sinh estimate (:mod:`.polar`, the plain softsign) only if
        Arb cannot reach dps."""
        amplitude, gain = self.softsign
        rq = _exact_rho(at, exact_rho, dps)
        if rq == 0 or abs(rq) == 1:
            return self._special(int(rq), dps)
        try:
            if rq.is_Rational:      # tiny |rho|: a few certified c_k (the angle integral cancels)
                res = softsign_series_result(lambda k, d: self._coefficient(k).result(d), rq, dps,
                                             amplitude)
                if res is not None:
                    return res
            return softsign_result(rq, dps, amplitude, gain)
        except PrecisionError:
            if is_softsign(self.act):
                return converge(lambda wp: softsign_dual(at(wp), wp), dps, method=POLAR_METHOD)
            return Nested.of(self.act).value(at(dps + 30), dps)

    @cached_property
    def odd_split(self):
        """``(a^2, dual of tau)`` when sigma = a + tau with tau strictly odd and a != 0 (sigmoid,
        ``1 + softsign``): then ``sigma_hat(rho) = a^2 + 2 a E[tau] + tau_hat(rho) = a^2 + tau_hat``."""
        act = self.act
        if act.parity != "odd" or act.strict_parity == "odd":
            return None
        offset = act.odd_offset
        if offset is None or offset == 0:
            return None
        a = offset / 2
        try:
            tau = Activation(f"{act.name} - ({a})", act.expr - a)
            if tau.strict_parity != "odd":
                return None
        except (InvalidInputError, *SIMPLIFY_FAILURES):  # unsplittable: no reduction
            return None
        return a * a, _Dual.of(tau)

    @cached_property
    def scale_split(self):
        """``(c^2, dual of sigma/c)`` with ``c = 10^k`` when ``E sigma^2`` is outside
        ``[10^-6, 10^6]``: the quadratures below work to absolute digits, so they see a sigma of
        unit size and ``sigma_hat = c^2 (sigma/c)^hat`` keeps every significant digit."""
        if _inner_form(self.act) is not None and InnerPlan.of(self.act) is not None:
            return None          # Arb judges relatively itself
        if self.act.free_parameters:
            return None          # no size to judge until the parameters are numbers
        # the size only; a single piece asks the digits its series path asks next (the float64
        # c_k and the kernel map's scale: one Arb enclosure, fewer digits served from it)
        m2 = second_moment(self.act).value(FLOAT_M2_DPS if len(self.act.pieces) == 1 else 5)
        if m2 == 0:
            return None
        k = int(mpmath.nint(mpmath.log10(m2) / 2))
        if abs(k) < 3:
            return None
        c = sp.Integer(10) ** k
        tau = Activation(f"{self.act.name}/{c}", sp.expand_mul(self.act.expr / c))
        return c * c, _Dual.of(tau)

    # -- Hermite series with a Parseval tail bound (analytic activations) -----------------------
    def _series_value(self, at, dps):
        """sum_k c_k^2 rho^k with the tail bound (E sigma^2 - sum_{k<=K} c_k^2) |rho|^(K+1)
        (rigorous given the c_k; the trapezoidal c_k are estimates), by converge."""
        return converge(lambda wp: self._series_at(at(wp), wp), dps,
                        method="Hermite series (trapezoidal c_k) with the Parseval tail bound")

    def _series_certified(self, at, exact_rho, dps):
        r"""The Hermite series with proven c_k (:func:`.hermite_panels._certified_coefficients`:
        all at once from one set of Arb samples) and the Parseval tail
        ``(E sigma^2 - sum_{k<=K} c_k^2) |rho|^(K+1)``, all with proven bounds, as a certified
        Result; None where it would need more than :data:`CERT_TERMS` terms (predicted from the
        float64 c_k) or a part is not proven."""
        rq = _exact_rho(at, exact_rho, dps)
        if not rq.is_Rational or rq == 0 or abs(rq) > 1:
            return None
        try:
            squares, m2f = self.float_coefficients
        except (PrecisionError, SymbolicValueError, ValueError):
            return None
        rf = float(rq)
        guess = abs(float(np.polynomial.polynomial.polyval(rf, squares)))
        if not (guess > 0 and m2f > 0):
            return None
        # margin 8 (was 16): the least K that certifies was 17 or more below the prediction
        # plus 16 (tanh, silu, gelu, softplus, sigmoid, arctan, mish, erf at rho from -0.7 to
        # 0.9, 15 and 30 digits); a short K costs one retry with 1.3 K + 8 terms
        K = _predict_terms(squares, m2f, rf, guess * 10.0 ** (-(dps + 4)), margin=8)
        if K is None:
            return None
        m2q = second_moment(self.act)
        if m2q.kind == "estimated":
            return None
        for _ in range(3):
            try:
                mids, errs = _certified_coefficients(self.act, K, dps + 4, scale=guess)
            except (NotCertifiable, PrecisionError):
                return None
            res = self._sum_series(mids, errs, m2q.result(dps + 8), rq, dps)
            if res is not None:
                return res
            K = int(K * 1.3) + 8          # the prediction was short: a few more terms
            if K > 1.3 * CERT_TERMS:
                return None
        return None

    def _series_reaches(self, at, exact_rho, dps):
        """False when the float64 Parseval residuals predict more than SERIES_K_MAX terms at this
        rho (arctan at 0.999: the trapezoidal series would spend its time and fail); True when
        there is no prediction.  Chooses a path only: every path judges its own digits."""
        try:
            squares, m2f = self.float_coefficients
        except (PrecisionError, SymbolicValueError, ValueError):
            return True
        rf = float(_exact_rho(at, exact_rho, dps))
        guess = abs(float(np.polynomial.polynomial.polyval(rf, squares)))
        if not (guess > 0 and m2f > 0 and abs(rf) < 1):
            return True
        # converge runs it at dps + 10 and dps + 20 working digits, each summed to its own digits
        return _predict_terms(squares, m2f, rf, guess * 10.0 ** (-(dps + 21)), SERIES_K_MAX) is not None

    def _sum_series(self, mids, errs, m2, rq, dps):
        """``sum_k c_k^2 rho^k`` in Arb ball arithmetic from the balls ``mid_k +- err_k`` and the
        exact rational rho (every rounding inside the radius), plus the Parseval tail
        ``(E sigma^2 - sum_k low_k) |rho|^(K+1)`` with ``low_k`` the lower end of the ball of
        ``c_k^2`` (docs/theory.md §23); a certified Result, or None if short of dps digits."""
        with working(dps + 15):
            r = arb(int(rq.p)) / int(rq.q)
            total, low_sum, power = arb(0), arb(0), arb(1)
            for c, e in zip(mids, errs):
                if c or e:                  # c_k = 0 exactly (parity) adds nothing
                    square = arb(from_mpf(c), from_mpf(e)) ** 2
                    total += square * power
                    low = square.lower()
                    if low > 0:
                        low_sum += low
                power *= r
            up = from_mpf(m2.value) + from_mpf(m2.error) - low_sum
            up = up.upper()
            tail = (up if up > 0 else arb(0)) * abs(r).upper() ** len(mids)
            bound = (total.rad() + tail).upper()
            value, error = arb_to_mpf(total.mid()), arb_to_mpf(bound)
            if value != 0 and error <= abs(value) * mpmath.mpf(10) ** (-(dps + 2)):
                return Result(value, error, True, SERIES_CERTIFIED_METHOD)
        return None

    def _coefficient(self, k):
        """The core's c_k Quantity (cached here: each builds an Arb plan of sigma he_k)."""
        cache = self.__dict__.setdefault("_coefficients", {})
        if k not in cache:
            cache[k] = hermite_coefficient(self.act, k)
        return cache[k]

    def _series_at(self, r, wp):
        K = 100
        while True:
            squares, resid = self.mp_squares(K, wp)
            partial = mpmath.mpf(0)
            power = mpmath.mpf(1)
            for k, c2 in enumerate(squares):
                partial += c2 * power
                power *= r
                tail = max(resid[k], mpmath.mpf(0)) * abs(power)
                if k > 2 and partial != 0 and tail < abs(partial) * mpmath.mpf(10) ** (-(wp + 1)):
                    return partial
            if K >= SERIES_K_MAX:
                raise PrecisionError("the Hermite series converges too slowly at this rho")
            K = min(4 * K, SERIES_K_MAX)

    def mp_squares(self, K, wp):
        """([c_k^2 for k <= K], [E sigma^2 - sum_{j<=k} c_j^2 for k <= K]) at wp digits (cached)."""
        cache = self.__dict__.setdefault("_mp_cache", {})
        for (k2, w2), val in cache.items():
            if k2 >= K and w2 >= wp:
                return val[0][:K + 1], val[1][:K + 1]
        coeffs = _trapezoid_coefficients(self.act, K, wp)
        m2 = second_moment(self.act).value(wp + 5)
        with mpmath.workdps(wp + 10):
            squares = [c * c for c in coeffs]
            resid, total = [], mpmath.mpf(0)
            for c2 in squares:
                total += c2
                resid.append(m2 - total)
        cache[(K, wp)] = (squares, resid)
        return squares, resid

    def _special(self, r, dps):
        """rho = 1: E sigma^2; rho = 0: c_0^2; rho = -1: E[sigma(Z) sigma(-Z)] (Results)."""
        if r == 0:
            c0 = hermite_coefficient(self.act, 0)
            if c0.exact:
                return exact_result(c0.expr**2, dps)
            res = c0.result(dps + 10)
            value = res.value ** 2
            return Result(value, res.error * (2 * abs(res.value) + res.error), res.certified, res.method)
        return end_result(self.act, r, dps)

    def _parts(self, wp_module="mpmath"):
        parts = []
        for p in self.act.pieces:
            if p.expr == 0:
                continue
            parts.append((p.lo, p.hi, mp_lambdify(x, p.expr) if wp_module == "mpmath"
                          else sp.lambdify(x, p.expr, modules=wp_module)))
        return parts

    @cached_property
    def _mp_parts(self):
        return self._parts()

    @cached_property
    def _mp_inner(self):
        return mp_lambdify((x, rho, _S), stable_inner(self.act))

    def _breaks(self):
        return [float(sp.N(p.lo)) for p in self.act.pieces[1:]]

    def _quad_inner(self, r, wp, degree):
        g = self._mp_inner
        with mpmath.workdps(wp):
            s = mpmath.sqrt(1 - r * r)
            extra = [mpmath.mpf(b) / r for b in self._breaks() if r != 0]
            total = mpmath.mpf(0)
            for lo, hi, f in self._mp_parts:
                pts = _points(lo, hi, extra, wp)
                total += mpmath.quad(lambda t: f(t) * g(t, r, s) * mpmath.exp(-t * t / 2), pts,
                                     maxdegree=degree)
            return total / mpmath.sqrt(2 * mpmath.pi)

    def _quad_nested(self, r, wp, degree):
        fx = mp_lambdify(x, self.act.expr) if len(self.act.pieces) == 1 else None
        parts = self._mp_parts
        breaks = self._breaks()
        with mpmath.workdps(wp):
            s = mpmath.sqrt(1 - r * r)

            def f(v):
                if fx is not None:
                    return fx(v)
                for lo, hi, fn in parts:
                    if (lo == -sp.oo or v >= lo) and (hi == sp.oo or v < hi):
                        return fn(v)
                return mpmath.mpf(0)

            def inner(t):
                pts = [mpmath.mpf(-mpmath.inf), *sorted((mpmath.mpf(b) - r * t) / s for b in breaks),
                       mpmath.mpf(mpmath.inf)]
                pts = _refine(pts)
                return mpmath.quad(lambda w: f(r * t + s * w) * mpmath.exp(-w * w / 2), pts,
                                   maxdegree=degree - 2)

            extra = [mpmath.mpf(b) / r for b in breaks if r != 0]
            total = mpmath.mpf(0)
            for lo, hi, fn in parts:
                pts = _points(lo, hi, extra, wp)
                total += mpmath.quad(lambda t: fn(t) * inner(t) * mpmath.exp(-t * t / 2), pts,
                                     maxdegree=degree - 2)
            return total / (2 * mpmath.pi)

    # -- float64 ------------------------------------------------------------------------------
    @cached_property
    def float_coefficients(self):
        """(c_k^2 for k <= K_max in float64, E sigma^2 as float) by composite Gauss-Legendre."""
        return _float_hermite_squares(self.act)

    @cached_property
    def numpy_base(self):
        """A float64 evaluator of sigma_hat on arrays without a closed form or a short series (or
        None): the inner-form quadrature, or nested panels (``a^2 + tau_hat`` for sigma = a + odd)."""
        split = self.odd_split
        if split is not None and _inner_form(self.act) is None:
            tau_base = split[1].numpy_base
            if tau_base is None:
                return None
            a2 = float(split[0])
            return lambda arr: a2 + tau_base(arr)
        if _inner_form(self.act) is not None:
            return self.numpy_quadrature
        if Nested.applicable(self.act):
            return Nested.of(self.act).numpy
        return None

    @cached_property
    def _np_inner(self):
        return numpy_lambdify((x, rho, _S), stable_inner(self.act))

    def numpy_quadrature(self, r):
        """sigma_hat on an array: Gauss-Legendre over X of the exact inner expectation for
        ``|rho| <= 0.99``; nearer ``|rho| = 1`` (where ``g_rho`` turns on the scale ``s/|rho|``) a
        Chebyshev interpolant in ``s`` of panel values graded towards ``b/rho``."""
        nodes, weights = _gl_pieces(self.act, 400, half_width=11.0, panel=1.0)
        out = np.empty_like(r)
        g = self._np_inner
        fx = self.act.numpy()(nodes) * weights * np.exp(-nodes**2 / 2) / np.sqrt(2 * np.pi)
        small = np.abs(r) <= NEAR_ONE
        rs = r[small]
        vals_small = np.empty_like(rs)
        for start in range(0, rs.size, 2048):
            rr = rs[start:start + 2048, None]
            ss = np.sqrt(np.clip(1 - rr * rr, 0, None))
            with np.errstate(all="ignore"):
                vals = np.broadcast_to(g(nodes[None, :], rr, ss), (rr.shape[0], nodes.size))
            vals_small[start:start + 2048] = np.nan_to_num(vals) @ fx
        out[small] = vals_small
        for side in (1, -1):
            mask = ~small & (np.sign(r) == side)
            if mask.any():
                t = 2 * np.sqrt(np.clip(1 - r[mask] ** 2, 0, None)) / S_NEAR - 1
                out[mask] = np.polynomial.chebyshev.chebval(t, self._near_one[side])
        return out

    def _graded_value(self, r):
        """float64 sigma_hat(r) at one |r| < 1: Gauss-Legendre panels graded towards the
        breakpoints b and b/r (scale s/|r|), Gaussian weight folded in."""
        s = math.sqrt(1 - r * r)
        breaks = [float(b) for b in self._breaks()]
        centers = [(b, 0.5) for b in breaks] + [(b / r, s / abs(r) / 2) for b in breaks]
        xs, xw = Nested._np_nodes(_edges(-12.0, 12.0, centers, 1.0), 1.0, 19)
        with np.errstate(all="ignore"):
            vals = np.broadcast_to(self._np_inner(xs, r, s), xs.shape)
        return float((xw * self.act.numpy()(xs)) @ np.nan_to_num(vals)) / math.sqrt(2 * math.pi)

    @cached_property
    def _near_one(self):
        """{side: Chebyshev coefficients in t = 2 s / s_max - 1} for |rho| > 0.99, checked at
        the interleaved nodes against the graded panels (PrecisionError beyond 1e-14 E sigma^2)."""
        lobatto = np.cos(np.pi * np.arange(CHEB_NODES) / (CHEB_NODES - 1))
        check = np.cos(np.pi * (np.arange(0, CHEB_NODES - 1, 3) + 0.5) / (CHEB_NODES - 1))
        m2 = float(second_moment(self.act).value(17))
        out = {}
        for side in (1, -1):
            end = float(self.value(lambda wp: mpmath.mpf(side), sp.Integer(side), 17))

            def at(t):
                sv = S_NEAR * (t + 1) / 2
                return end if sv == 0 else self._graded_value(side * math.sqrt(1 - sv * sv))
            vals = np.array([at(t) for t in lobatto])
            c = np.polynomial.chebyshev.chebfit(lobatto, vals, CHEB_NODES - 1)
            err = np.max(np.abs(np.polynomial.chebyshev.chebval(check, c) - np.array([at(t) for t in check])))
            if err > 1e-14 * m2:
                raise PrecisionError(f"float64 Chebyshev interpolant in s disagrees by {err:.1e} near rho = {side}")
            out[side] = c
        return out


CERT_TERMS = 1600                     # at most this many proven c_k for a certified series value
SERIES_CERTIFIED_METHOD = ("Hermite series with proven c_k (composite Gauss-Legendre panels, "
                           "Bernstein-ellipse bounds) and the Parseval tail bound")


def _predict_terms(squares, m2, r, target, limit=CERT_TERMS, margin=16):
    """Terms K with ``resid_K |r|^(K+1) <= target`` (float64 Parseval residuals, extrapolated
    below their 1e-14 noise as ``log resid ~ a - b sqrt(k)``) plus ``margin``, or None beyond
    ``limit``."""
    resid = m2 - np.cumsum(squares)
    good = resid > 1e-13 * m2
    if not good.any():
        return 16
    last = int(np.nonzero(good)[0].max())
    first = max(1, last // 2)
    if last - first >= 4 and resid[first] > resid[last]:
        slope = (math.log(resid[first]) - math.log(resid[last])) / (math.sqrt(last) - math.sqrt(first))
    else:
        slope = 1.0
    a = abs(r)
    for K in range(8, limit + 1, 8):
        if K <= last:
            est = max(resid[K], 1e-14 * m2)
            est = est if resid[K] > 1e-13 * m2 else resid[last] * math.exp(-slope * (math.sqrt(K) - math.sqrt(last)))
        else:
            est = resid[last] * math.exp(-slope * (math.sqrt(K) - math.sqrt(last)))
        if est * a ** (K + 1) <= target:
            return K + margin
    return None
NEAR_ONE = 0.99                       # float64: vectorized quadrature for |rho| <= 0.99
S_NEAR = math.sqrt(1 - NEAR_ONE**2)   # Chebyshev in s on [0, S_NEAR] beyond
CHEB_NODES = 32


def stable_inner(act):
    """The inner expectation with each ``exp`` of a quadratic in factored form
    (``exp(-(rho x - b)^2/(2 s^2))``: the expanded quadratic loses every digit when s is small)."""
    inner = _inner_form(act)
    if inner is None:
        return None
    return inner.replace(lambda e: isinstance(e, sp.exp), lambda e: sp.exp(sp.factor(e.args[0])))


def _degree(step):
    """mpmath.quad maxdegree for the working-precision step (10, 20, 40 -> 8, 10, 12)."""
    return {10: 8, 20: 10, 40: 12}.get(step, 12)


def _shift(res, a2):
    """``a^2 + res`` for an exact SymPy number ``a^2`` (rounded to the working precision)."""
    c = mpmath.mpf(sp.N(a2, mpmath.mp.dps + 5)._mpf_)
    value = res.value + c
    rounding = (abs(c) + abs(value)) * mpmath.mpf(10) ** (-mpmath.mp.dps)
    return Result(value, res.error + rounding, res.certified, res.method + ", plus the constant a^2")


def _exact_rho(at, exact_rho, dps):
    """rho as an exact SymPy number: the SymPy value given, or every bit of the float / mpf, or
    the decimal string (``at.rational``); else the mpf at dps + 30 digits (rounded)."""
    if exact_rho is not None:
        return exact_rho
    rational = getattr(at, "rational", None)
    if rational is not None:
        return rational
    return exact_rational(at(dps + 30))
