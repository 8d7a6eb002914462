r"""Proven enclosures of many Hermite coefficients ``c_0..c_K`` at once (analytic sigma).

``c_k = int F_k``, ``F_k(x) = sigma(x) phi(x) he_k(x)`` (``he_k = He_k/sqrt(k!)``), by composite
Gauss-Legendre on panels covering ``[-R, R]`` (docs/theory.md §2): one set of samples ``b_j`` of
``sigma phi`` (Arb balls) serves every ``k``.  The sums ``sum_j b_j He_k(x_j)`` for all ``k <= K``
come from the exponential generating function ``sum_k He_k(x) t^k / k! = e^(x t - t^2/2)``:

.. math:: \sum_j b_j \mathrm{He}_k(x_j) = k!\,[t^k]\; e^{-t^2/2} \sum_p e^{c_p t}
          \sum_m \frac{(h_p t)^m}{m!} \sum_i b_{p,i} \tau_i^m

(panel ``p`` of centre ``c_p``, half-width ``h_p``, nodes ``x = c_p + h_p tau_i``), one
``arb_mat`` product for the local moments and a few ``arb_series`` products, all in C and in ball
arithmetic (the cancellation, about ``k/2`` bits, is covered by the working precision and shown by
the radii).  Every part of the error is proven:

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
* nodes, weights, samples and every sum as Arb balls.

>>> import symkernel as sk
>>> mids, errs = _certified_coefficients(sk.activation("tanh"), 5, 20)
>>> [round(float(c), 12) for c in mids[:4]], max(errs) < 1e-28
([0.0, 0.605705509602, 0.0, -0.148437190787], True)
"""
import math

import mpmath
import numpy as np

from symkernel.errors import PrecisionError
from symkernel.numerics import locked
from symkernel.numerics.arb import NotCertifiable, compile_expr, envelope, tail_bound
from symkernel.core.symbols import x

try:
    from flint import acb, arb, arb_mat, arb_series, ctx as _flint_ctx
except ImportError:  # pragma: no cover - python-flint is a core dependency
    acb = arb = arb_mat = arb_series = _flint_ctx = None

#: Cramer's constant (upper bound) in ``|He_k(x)| <= KAPPA sqrt(k!) e^(x^2/4)``
KAPPA = 1.0865
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
        r"""``(mids, errs)``: mpf lists with ``|c_k - mid_k| <= err_k`` for k <= K; the target error
        per coefficient is ``scale 10^-(dps + 8)``.  The quadrature sums are Arb balls, by the
        exponential generating function of the Hermite polynomials:
        ``sum_j b_j He_k(x_j) = k! [t^k] e^(-t^2/2) sum_j b_j e^(x_j t)``, ``b_j`` the weighted
        samples of ``sigma phi``.  With ``x_j = c_p + h_p tau_i`` on panel ``p`` (one Gauss-Legendre
        degree for all panels), ``sum_i b_i e^(x_i t) = e^(c_p t) sum_m nu_m (h_p t)^m / m!`` with
        the moments ``nu_m = sum_i b_i tau_i^m`` from one ``arb_mat`` product (the matrix
        ``(h tau_i)^m / m!`` does not depend on sigma and is cached), and the series products run
        in C (``arb_series``).  No fixed-point recurrence: every rounding is inside the balls; the
        sums lose about ``k/2`` bits to cancellation (the saddle of ``e^(xt - t^2/2)`` at
        ``x ~ sqrt k``), which the working precision covers and the radii prove."""
        dps, K = self.dps, self.K
        tol = float(scale) * 10.0 ** (-(dps + 8))
        if tol == 0 or not math.isfinite(tol):
            raise NotCertifiable("no scale for the coefficients")
        R, panels = self._panels(tol)
        tail = float(self._tail(R))
        n = max(p[2] for p in panels)
        a_of = (ELLIPSE + 1 / ELLIPSE) / 2
        sqk = math.sqrt(K)
        ks = np.sqrt(np.arange(K + 1))
        quad_bound = np.zeros(K + 1)
        for center, half, _, log_pref in panels:      # degree n >= each panel's own
            quad_bound += np.exp(log_pref - sqk * half * a_of + ks * half * a_of - 2 * n * math.log(ELLIPSE))
        prec = int(0.5 * K - math.log2(tol) + 64)
        with locked():
            old_prec, old_cap = _flint_ctx.prec, _flint_ctx.cap
            try:
                for _ in range(4):
                    _flint_ctx.prec, _flint_ctx.cap = prec, K + 1
                    balls = self._egf_sums(panels, n, K, prec)
                    worst = max(float(b.rad()) for b in balls)
                    if worst <= tol / 4:
                        break
                    prec = int(prec * 1.4) + 32
                else:
                    raise PrecisionError("the Arb Hermite sums did not reach the precision asked")
            finally:
                _flint_ctx.prec, _flint_ctx.cap = old_prec, old_cap
        mids, errs = [], []
        with mpmath.workprec(prec + 64):
            for k, b in enumerate(balls):
                man, exp = b.mid().man_exp()
                mids.append(mpmath.mpf((int(man), int(exp))))
                rad = mpmath.mpf(float(b.rad()))            # rounded up by the factor below
                errs.append((rad + mpmath.mpf(quad_bound[k] + tail)) * (1 + mpmath.mpf(10) ** -10))
        return mids, errs

    def _egf_sums(self, panels, n, K, prec):
        """Arb balls of ``sum_j b_j He_k(x_j)/sqrt(k!)``, k <= K (flint precision set by the caller)."""
        inv_sqrt2pi = (2 * arb.pi()).rsqrt()
        total = arb_series([0], prec=K + 1)
        for half in sorted({p[1] for p in panels}):
            members = [p for p in panels if p[1] == half]
            rules, powers = _moment_matrix(n, K, prec, half)
            rows = []
            for center, _, _, _ in members:
                row = []
                for t, w in rules:
                    xb = arb(center) + arb(half) * t
                    sig = self.f(acb(xb), False).real
                    row.append(arb(half) * w * sig * (-(xb * xb) / 2).exp() * inv_sqrt2pi)
                rows.append(row)
            # row p: the Taylor coefficients nu_m h^m / m! of sum_i b_i e^(h tau_i t)
            local = (arb_mat(rows) * powers).tolist()
            for (center, _, _, _), coef in zip(members, local):
                total += arb_series(coef, prec=K + 1) * arb_series([0, arb(center)], prec=K + 1).exp()
        total = total * arb_series([0, 0, arb(-0.5)], prec=K + 1).exp()
        c = total.coeffs()
        out, fac = [], arb(1)
        for k in range(K + 1):
            if k:
                fac *= k
            out.append(c[k] * fac.sqrt() if k < len(c) else arb(0))
        return out


_MOMENTS = {}


def _moment_matrix(n, K, prec, half):
    """Gauss-Legendre balls of degree n and the n x (K+1) matrix ``(h tau_i)^m / m!`` (arb_mat)
    at prec bits (the last two kept: they do not depend on sigma)."""
    key = (n, K, prec, float(half))
    if key not in _MOMENTS:
        rules = [arb.legendre_p_root(n, j, weight=True) for j in range(n)]
        rows = []
        for t, _ in rules:
            c = arb_series([0, arb(half) * t], prec=K + 1).exp().coeffs()
            rows.append(c + [arb(0)] * (K + 1 - len(c)))
        while len(_MOMENTS) >= 2:
            _MOMENTS.pop(next(iter(_MOMENTS)))
        _MOMENTS[key] = (rules, arb_mat(rows))
    return _MOMENTS[key]


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
