r"""Proven enclosures of many Hermite coefficients ``c_0..c_K`` at once (analytic sigma).

``c_k = int F_k``, ``F_k(x) = sigma(x) phi(x) he_k(x)`` (``he_k = He_k/sqrt(k!)``), by composite
Gauss-Legendre on panels covering ``[-R, R]``: one set of samples of ``sigma`` (Arb balls) serves
every ``k``; the normalized Hermite functions ``psi_k = he_k sqrt(phi)`` run by their three-term
recurrence in fixed-point integers, with the rounding errors propagated by a recurrence of upper
bounds.  Every part of the error is proven:

* panel quadrature (Trefethen, *Approximation Theory and Approximation Practice*, SIAM 2013,
  Thm 19.3): ``|I - I_n| <= (w/2) 64 M / (15 (r^2 - 1) r^(2n))`` for ``F_k`` analytic in the
  Bernstein ellipse ``E_r`` of the panel (half-width ``w/2``) with ``|F_k| <= M`` there; ``M`` from
  Arb enclosures of ``sigma phi`` on boxes covering the ellipse (``acb`` with the analyticity
  check of :func:`symkernel.numerics.arb.compile_expr`) times ``|he_k(x_0 + z)| <= kappa
  e^(x_0^2/4 + sqrt(k)|z|)`` (Taylor about the panel centre, ``he_k^(j) = sqrt(k!/(k-j)!)
  he_(k-j)``, with Cramer's inequality ``|He_k(x)| <= kappa sqrt(k!) e^(x^2/4)``, ``kappa <
  1.0865``; Szego, *Orthogonal Polynomials*, 1975, §10.18);
* the Gaussian tails beyond ``R``: ``|F_k| <= kappa |sigma| e^(-x^2/4)/sqrt(2 pi)`` with the
  envelope of :func:`symkernel.numerics.arb.envelope`;
* nodes, weights and samples as Arb balls, fixed-point rounding bounded step by step.

>>> import symkernel as sk
>>> mids, errs = _certified_coefficients(sk.activation("tanh"), 5, 20)
>>> [round(float(c), 12) for c in mids[:4]], max(errs) < 1e-28
([0.0, 0.605705509602, 0.0, -0.148437190787], True)
"""
import math

import mpmath
import numpy as np

from symkernel.errors import PrecisionError
from symkernel.numerics import working
from symkernel.numerics.arb import NotCertifiable, compile_expr, envelope, tail_bound
from symkernel.core.symbols import x

try:
    from flint import acb, arb
except ImportError:  # pragma: no cover - python-flint is a core dependency
    acb = arb = None

#: Cramer's constant (upper bound) in ``|He_k(x)| <= KAPPA sqrt(k!) e^(x^2/4)``
KAPPA = 1.0865
#: ``sup |psi_k| <= KAPPA (2 pi)^(-1/4)``
PSI_MAX = KAPPA * (2 * math.pi) ** -0.25 * (1 + 1e-12)
#: Bernstein parameter of every panel (``r - 1/r = e`` maximizes accuracy per node)
ELLIPSE = 3.0
#: half-width of the panels before they are split (where sigma is not analytic on the ellipse)
HALF_WIDTH = 1.0
METHOD = ("composite Gauss-Legendre panels with Bernstein-ellipse error bounds (Arb enclosures "
          "of sigma on the ellipses, Cramer's inequality for he_k), proven Gaussian tail bound")


class PanelPlan:
    """Panels, nodes and samples of one activation at one precision (see the module docstring)."""

    def __init__(self, act, K, dps):
        if acb is None:
            raise NotCertifiable("python-flint is not installed")
        if len(act.pieces) != 1 or act.free_parameters:
            raise NotCertifiable("a single analytic piece without parameters is required")
        self.act, self.K, self.dps = act, int(K), int(dps)
        self.f = compile_expr(act.expr, x)
        self.envs = [envelope(act.expr, x, side) for side in (-1, 1)]

    # -- geometry -----------------------------------------------------------------------------
    def _sup(self, center, half, tiles=6):
        """Upper bound of |sigma(z) phi(z)| on the Bernstein ellipse of [center -+ half] (float),
        inf when sigma is not proven analytic there."""
        a = half * (ELLIPSE + 1 / ELLIPSE) / 2
        b = half * (ELLIPSE - 1 / ELLIPSE) / 2
        best = 0.0
        dx, dy = 2 * a / tiles, 2 * b / tiles
        for i in range(tiles):
            for j in range(tiles):
                x0, y0 = -a + dx * i, -b + dy * j
                # skip tiles wholly outside the ellipse
                nx, ny = min(abs(x0), abs(x0 + dx)), min(abs(y0), abs(y0 + dy))
                if (x0 <= 0 <= x0 + dx):
                    nx = 0.0
                if (y0 <= 0 <= y0 + dy):
                    ny = 0.0
                if (nx / a) ** 2 + (ny / b) ** 2 > 1:
                    continue
                z = acb(arb(center + x0 + dx / 2, dx / 2 * (1 + 1e-9)), arb(y0 + dy / 2, dy / 2 * (1 + 1e-9)))
                v = self.f(z, True) * (-(z * z) / 2).exp()
                if not v.is_finite():
                    return math.inf
                up = float(abs(v).upper())
                best = max(best, up)
        return best / math.sqrt(2 * math.pi) * (1 + 1e-9)

    def _panels(self, tol):
        """[(center, half, degree, bound per unit M-factor)] covering [-R, R]."""
        R = self._cutoff(tol)
        a_of = (ELLIPSE + 1 / ELLIPSE) / 2
        sqk = math.sqrt(self.K)
        panels = []
        n0 = max(1, int(math.ceil(R / HALF_WIDTH)))
        edges = np.linspace(-R, R, n0 + 1)
        stack = [(float(lo), float(hi)) for lo, hi in zip(edges[:-1], edges[1:])][::-1]
        while stack:
            lo, hi = stack.pop()
            center, half = (lo + hi) / 2, (hi - lo) / 2
            S = self._sup(center, half)
            if not math.isfinite(S):
                if half < 1e-3:
                    raise NotCertifiable("sigma is not analytic near the real axis")
                stack += [(center, hi), (lo, center)]
                continue
            # log of (w/2) 64/15 M / (r^2 - 1), M = S kappa e^(x0^2/4 + sqrt(K) a)
            log_pref = (math.log(half * 64 / 15 / (ELLIPSE ** 2 - 1) * KAPPA * max(S, 1e-300))
                        + center * center / 4 + sqk * half * a_of)
            panels.append([center, half, log_pref])
        target = math.log(tol / (4 * len(panels)))
        out = []
        for center, half, log_pref in panels:
            n = max(2, int(math.ceil((log_pref - target) / (2 * math.log(ELLIPSE)))))
            out.append((center, half, n, log_pref))
        return R, out

    def _tail(self, R):
        """Bound of int_{|x| > R} |sigma| e^(-x^2/4) / sqrt(2 pi) dx (both sides), or None."""
        total = mpmath.mpf(0)
        for C, m, a in self.envs:
            bd = tail_bound(C * 2 ** ((m + 1) / 2), m, a * math.sqrt(2), R / math.sqrt(2))
            if bd is None:
                return None
            total += bd
        return total * KAPPA

    def _cutoff(self, tol):
        R = 8.0
        while True:
            bd = self._tail(R)
            if bd is not None and bd < tol / 4:
                return R
            R += 1.0
            if R > 200:
                raise PrecisionError("the Gaussian tail bound needs an unreasonable cutoff")

    # -- the coefficients ---------------------------------------------------------------------
    def coefficients(self, scale):
        """``(mids, errs)``: mpf lists with ``|c_k - mid_k| <= err_k`` for k <= K; the target error
        per coefficient is ``scale 10^-(dps + 8)``."""
        dps, K = self.dps, self.K
        tol = float(scale) * 10.0 ** (-(dps + 8))
        if tol == 0 or not math.isfinite(tol):
            raise NotCertifiable("no scale for the coefficients")
        R, panels = self._panels(tol)
        tail = float(self._tail(R))
        quad_bound = np.zeros(K + 1)
        ks = np.sqrt(np.arange(K + 1))
        a_of = (ELLIPSE + 1 / ELLIPSE) / 2
        sqk = math.sqrt(K)
        approx_x, approx_a = [], []
        for center, half, n, log_pref in panels:
            # this panel's quadrature error bound for each k (sqrt(k) in place of sqrt(K))
            quad_bound += np.exp(log_pref - sqk * half * a_of + ks * half * a_of
                                 - 2 * n * math.log(ELLIPSE))
            t, w = np.polynomial.legendre.leggauss(n)
            t, w = t[::-1], w[::-1]                   # the order of arb.legendre_p_root
            approx_x.append(center + half * t)
            approx_a.append(half * w)
        approx_x = np.concatenate(approx_x)
        xabs = np.abs(approx_x) * (1 + 1e-10) + 1e-10     # upper bounds of |x_j|
        # |a_j| = (w/2) omega_j |sigma(x_j)| e^(-x_j^2/4) (2 pi)^(-1/4), bounded from above with
        # the panel sup of |sigma phi| (inflated) -- only used to size the working precision
        growth = _error_growth(xabs, K)
        a_guess = np.concatenate(approx_a) * np.exp(-approx_x ** 2 / 4)
        need = float(np.max(np.log2(a_guess[None, :] + 1e-300) + growth)) + math.log2(xabs.size)
        bits = int(max(need - math.log2(tol) + 40, float(growth.max()) + 40, -math.log2(tol) + 40))
        scale_bits = arb(2) ** bits          # 2^bits as a ball (a float overflows beyond 1023 bits)
        xs_fixed, a_fixed, a_abs, a_err, dx, psi0 = [], [], [], [], [], []
        with working(int(bits / 3.32) + 15):
            quarter = (2 * arb.pi()) ** arb(-0.25)
            for center, half, n, log_pref in panels:
                for t, w in _legendre(n, int(bits / 3.32) + 15):
                    xb = arb(center) + arb(half) * t
                    xf = _fix_mid(xb, bits)
                    xe = arb((xf, -bits))                 # the node used, exactly
                    rp = (-(xe * xe) / 4).exp() * quarter
                    sig = self.f(acb(xb), False).real
                    ab = arb(half) * w * sig * (-(xb * xb) / 4).exp() * quarter
                    xs_fixed.append(xf)
                    psi0.append(_fix_mid(rp, bits))
                    a_fixed.append(_fix_mid(ab, bits))
                    a_abs.append(float(abs(ab).upper()) * (1 + 1e-12))
                    # |a~ - a| in units of 2^-bits
                    a_err.append(float(arb(ab.rad()) * scale_bits) + 1.0)
                    if float(arb(rp.rad()) * scale_bits) > 1:
                        raise PrecisionError("the Hermite function samples are not precise enough")
                    d = xb - xe
                    if abs(float(xb.mid()) - approx_x[len(dx)]) > 1e-11:
                        raise PrecisionError("Gauss-Legendre nodes out of order")
                    dx.append(float(d.rad() + abs(d.mid())) * (1 + 1e-12))
        a_abs, a_err, dx = np.array(a_abs), np.array(a_err), np.array(dx)
        # the rounding error bounds e_kj (units 2^-bits) of psi~_k(x_j), from _error_growth
        log_e = growth  # (K+1, N) log2 of the bounds
        if float(log_e.max()) - bits > -20:
            raise PrecisionError("the Hermite recurrence needs more working bits")
        rnd_k = 2.0 + float(np.dot(a_err, np.full_like(a_err, PSI_MAX + 2.0 ** -20)))
        # sum_j |a_j| 2^(log_e[k, j]) as rnd_rel[k] * 2^top[k] (2^log_e overflows beyond 1023 bits)
        top = np.ceil(log_e.max(axis=1))
        rnd_rel = np.sum(a_abs[None, :] * np.exp2(log_e - top[:, None]), axis=1)
        xs = np.array(xs_fixed, dtype=object)
        wts = np.array(a_fixed, dtype=object)
        cur = np.array(psi0, dtype=object)
        prev = 0 * cur
        sq, inv = _constants(K + 1, bits)
        unit = mpmath.mpf(2) ** (-bits)
        mids, errs = [], []
        for k in range(K + 1):
            dot = int(np.dot(wts, cur))
            mids.append(dot >> bits if dot >= 0 else -((-dot) >> bits))
            node = float(np.dot(a_abs, PSI_MAX * (math.sqrt(k) + xabs / 2 + 1) * dx))
            rnd = rnd_k * unit + mpmath.mpf(float(rnd_rel[k])) * mpmath.mpf(2) ** (int(top[k]) - bits)
            errs.append((rnd + mpmath.mpf(node + quad_bound[k] + tail))
                        * (1 + mpmath.mpf(10) ** -10))
            if k == K:
                break
            # psi_{k+1} = (x psi_k - sqrt(k) psi_{k-1}) / sqrt(k+1), three roundings
            num = ((xs * cur) >> bits) - ((sq[k] * prev) >> bits)
            prev, cur = cur, (num * inv[k]) >> bits
        with mpmath.workprec(bits + 64):     # exact: every bit of the fixed-point integers
            mids = [mpmath.mpf((m, -bits)) for m in mids]
        return mids, errs


def _error_growth(xabs, K):
    """log2 of upper bounds ``e_kj`` (units of the last bit) of the fixed-point errors of
    ``psi~_k(x_j)``, k <= K, shape (K+1, N): the recurrence of absolute errors
    ``e_{k+1} = (|x| e_k + sqrt(k) e_(k-1) + 3 + P)/sqrt(k+1) + 2 |num| + 1`` with the local
    roundings (three, and the constants sqrt(k), 1/sqrt(k+1) within 2 units), ``|psi~| <= P =
    PSI_MAX + 2^-20`` (checked by the caller) and ``|num| <= (|x| + sqrt(k)) P + 2``; ``e_0 <= 2``
    (the sample of sqrt(phi)).  Scaled by powers of 2 to stay in range."""
    P = PSI_MAX + 2.0 ** -20
    out = np.empty((K + 1, xabs.size))
    e_prev = np.zeros_like(xabs)
    e_cur = np.full_like(xabs, 2.0)
    shift = 0.0                                   # the bounds are e * 2^shift
    grow = 1 + 1e-12
    for k in range(K + 1):
        out[k] = np.log2(e_cur) + shift
        if k == K:
            break
        local = (3 + P) / math.sqrt(k + 1) + 2 * ((xabs + math.sqrt(k)) * P + 2) + 1
        e_next = ((xabs * e_cur + math.sqrt(k) * e_prev) / math.sqrt(k + 1) + local * 2.0 ** -shift) * grow
        e_prev, e_cur = e_cur, e_next
        top = float(e_cur.max())
        if top > 2.0 ** 600:
            e_cur, e_prev = e_cur * 2.0 ** -600, e_prev * 2.0 ** -600
            shift += 600
    return out


def _fix_mid(ball, bits):
    """The integer nearest to ``mid(ball) 2^bits``."""
    man, exp = ball.mid().man_exp()
    man, exp = int(man), int(exp) + bits
    if exp >= 0:
        return man << exp
    return (man + (1 << (-exp - 1))) >> (-exp)


_LEGENDRE = {}


def _legendre(n, dps):
    """Gauss-Legendre nodes and weights on (-1, 1) as Arb balls (cached by degree and digits)."""
    key = (n, dps)
    if key not in _LEGENDRE:
        _LEGENDRE[key] = [arb.legendre_p_root(n, j, weight=True) for j in range(n)]
    return _LEGENDRE[key]


_CONSTANTS = {}


def _constants(count, bits):
    """Fixed-point ``sqrt(j)`` and ``1/sqrt(j+1)``, j < count, each within one unit."""
    key = bits
    sq, inv = _CONSTANTS.get(key, ([], []))
    for j in range(len(sq), count):
        sq.append(math.isqrt(j << (2 * bits)))
        inv.append(math.isqrt((1 << (4 * bits)) // (j + 1)) >> bits)
    _CONSTANTS[key] = (sq, inv)
    return sq, inv


def _certified_coefficients(act, K, dps, scale=None):
    """``(mids, errs)`` of ``c_0..c_K`` (mpf lists, ``|c_k - mid_k| <= err_k`` proven), cached on
    the activation; NotCertifiable outside the class (one analytic piece, Arb-compilable)."""
    cache = act.memo("kernels", dict).setdefault("hermite_panels", {})
    for (k2, d2), val in cache.items():
        if k2 >= K and d2 >= dps:
            return val[0][:K + 1], val[1][:K + 1]
    if scale is None:
        from_m2 = act.memo("kernels", dict).get("m2_float")
        scale = from_m2 if from_m2 is not None else 1.0
    val = PanelPlan(act, K, dps).coefficients(math.sqrt(scale))
    cache[(K, dps)] = val
    return val


def certified_coefficients(act, K, dps):
    """``(mids, errs)``: proven enclosures ``|c_k - mid_k| <= err_k`` of ``c_0..c_K`` of ``act``
    at ``dps`` digits (NotCertifiable outside one analytic, Arb-compilable piece)."""
    return _certified_coefficients(act, K, dps)


__all__ = ["METHOD", "PanelPlan", "certified_coefficients"]
