r"""Proven enclosures of many Hermite coefficients ``c_0..c_K`` at once (analytic sigma).

``c_k = int F_k``, ``F_k(x) = sigma(x) phi(x) he_k(x)`` (``he_k = He_k/sqrt(k!)``), by composite
Gauss-Legendre on panels covering ``[-R, R]`` (docs/theory.md §2): one set of samples ``b_j`` of
``sigma phi`` (Arb balls) serves every ``k``.  The sums ``sum_j b_j He_k(x_j)`` for all ``k <= K``
come from the exponential generating function ``sum_k He_k(x) t^k / k! = e^(x t - t^2/2)``:

.. math:: \sum_j b_j \mathrm{He}_k(x_j) = k!\,[t^k]\; e^{-t^2/2} \sum_p e^{c_p t}
          \sum_m \frac{(h_p t)^m}{m!} \sum_i b_{p,i} \tau_i^m

(panel ``p`` of centre ``c_p``, half-width ``h_p``, nodes ``x = c_p + h_p tau_i``), one
``arb_mat`` product for the local moments (cut at ``m = M << K``) and a few ``arb_series``
products, all in C and in ball arithmetic.  Each ``e^(c_p t - t^2/2)`` is formed alone at
``|c_p| sqrt(K) / ln 2`` extra bits (the cancellation of its monomial series); for sigma of proven
parity only the panels on ``x > 0`` are summed (docs/theory.md §18).  Every part of the error is
proven:

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
* the moments ``m > M``: at most ``kappa B e^(c^2/4) sum_{m>M} (h sqrt k)^m / m!`` per panel
  (``B = sum_i |b_i|``; :meth:`PanelPlan._egf_sums`);
* nodes, weights, samples and every sum as Arb balls.

>>> import symkernel as sk
>>> mids, errs = _certified_coefficients(sk.activation("tanh"), 5, 20)
>>> [round(float(c), 12) + 0.0 for c in mids[:4]], max(errs) < 1e-28
([0.0, 0.605705509602, 0.0, -0.148437190787], True)
"""
import math

import mpmath
import numpy as np
import sympy as sp

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
        # sigma(-x) = +-sigma(x) exactly, when already proven for this activation (proving it
        # can cost a SymPy simplification): then only the panels on x > 0 are summed
        self.parity = act.strict_parity if "parity" in vars(act) else None
        if self.parity:         # |sigma(-x)| = |sigma(x)|: the envelope of x > 0 serves x < 0
            env = envelope(act.expr, x, 1)
            self.envs = [env, env]
        else:
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
        """[(center, half, degree, bound per unit M-factor)] covering [-R, R]; for a sigma of
        proven parity the panels on [0, R] and their mirror images (``|sigma phi|`` takes the same
        values on the mirrored ellipse)."""
        R = self._cutoff(tol)
        a_of = (ELLIPSE + 1 / ELLIPSE) / 2
        sqk = math.sqrt(self.K)
        panels = []
        if self.parity:         # edges 0, 2, 4, ..., R: exact binary numbers, no gap between panels
            R = 2 * HALF_WIDTH * math.ceil(R / (2 * HALF_WIDTH))
            edges = np.arange(0.0, R + HALF_WIDTH, 2 * HALF_WIDTH)
        else:                   # R is a whole number: edges -R, -R + 2, ..., R
            n0 = max(1, int(math.ceil(R / HALF_WIDTH)))
            edges = np.linspace(-R, R, n0 + 1)
        stack = [(float(lo), float(hi)) for lo, hi in zip(edges[:-1], edges[1:])][::-1]
        while stack:
            lo, hi = stack.pop()
            center, half = (lo + hi) / 2, (hi - lo) / 2
            S = self._sup(center, half, 3)          # coarse boxes first (a looser bound
            if not math.isfinite(S):                # costs a node or two), fine ones next
                S = self._sup(center, half, 6)
            if not math.isfinite(S):
                if half < 1e-3:
                    raise NotCertifiable("sigma is not analytic near the real axis")
                stack += [(center, hi), (lo, center)]
                continue
            # log of (w/2) 64/15 M / (r^2 - 1), M = S kappa e^(x0^2/4 + sqrt(K) a)
            log_pref = (math.log(half * 64 / 15 / (ELLIPSE ** 2 - 1) * KAPPA * max(S, 1e-300))
                        + center * center / 4 + sqk * half * a_of)
            panels.append([center, half, log_pref])
        if self.parity:
            panels += [[-center, half, log_pref] for center, half, log_pref in panels]
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
        R = self._cutoff_guess(tol)
        while True:
            bd = self._tail(R)
            if bd is not None and bd < tol / 4:
                return R
            R += 1.0
            if R > 200:
                raise PrecisionError("the Gaussian tail bound needs an unreasonable cutoff")

    def _cutoff_guess(self, tol):
        """A whole number R >= 8 where the float64 logarithm of :meth:`_tail` is below
        ``tol/8`` (the proven bound is then checked at R, and R raised while it fails)."""
        logs = [(float(mpmath.log(C)) if C > 0 else -math.inf, m, a) for C, m, a in self.envs]
        target = math.log(tol / 8) - math.log(2 * KAPPA)
        for R in range(8, 200):
            u = R / math.sqrt(2)
            worst = -math.inf
            for logc, m, a in logs:
                b = a * math.sqrt(2)
                slope = u - b - m / (1 + u)
                if slope <= 0:
                    worst = math.inf
                    break
                worst = max(worst, logc + (m + 1) / 2 * math.log(2) + m * math.log(1 + u) + b * u
                            - u * u / 2 - 0.5 * math.log(2 * math.pi) - math.log(slope))
            if worst <= target:
                return float(R)
        return 8.0

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
        in C (``arb_series``).  No fixed-point recurrence: every rounding is inside the balls, and
        the radii are checked against the target (the precision raised if they miss it)."""
        dps, K = self.dps, self.K
        tol = float(scale) * 10.0 ** (-(dps + 8))
        if tol == 0 or not math.isfinite(tol):
            raise NotCertifiable("no scale for the coefficients")
        R, panels = self._panels(tol)
        tail = float(self._tail(R))
        # one degree for all panels (the largest): each further Gauss-Legendre rule costs more
        # Arb roots than the samples it saves
        n = max(p[2] for p in panels)
        panels = [(c, h, n, lp) for c, h, _, lp in panels]
        a_of = (ELLIPSE + 1 / ELLIPSE) / 2
        sqk = math.sqrt(K)
        ks = np.sqrt(np.arange(K + 1))
        quad_bound = np.zeros(K + 1)
        for center, half, n, log_pref in panels:
            quad_bound += np.exp(log_pref - sqk * half * a_of + ks * half * a_of - 2 * n * math.log(ELLIPSE))
        # the sums cancel by about h sqrt(K) / ln 2 bits (the moments' Taylor factors k^(m/2)
        # h^m / m! peak at m ~ h sqrt k), plus the cancellation of sigma's own coefficients
        hmax = max(p[1] for p in panels)
        prec = int(-math.log2(tol) + 1.45 * hmax * sqk + 64)
        with locked():
            old_prec, old_cap = _flint_ctx.prec, _flint_ctx.cap
            try:
                for _ in range(4):
                    _flint_ctx.prec, _flint_ctx.cap = prec, K + 1
                    balls, trunc = self._egf_sums(panels, K, prec, tol)
                    worst = max(float(b.rad()) for b in balls)
                    if worst <= tol / 4:
                        break
                    prec = int(prec * 1.4) + 32
                else:
                    raise PrecisionError("the Arb Hermite sums did not reach the precision asked")
            finally:
                _flint_ctx.prec, _flint_ctx.cap = old_prec, old_cap
        mids, errs = [], []
        # sigma of proven parity: c_k = 0 exactly for k of the other parity (no error at all)
        vanish = {"odd": 0, "even": 1}.get(self.parity)
        with mpmath.workprec(prec + 64):
            for k, b in enumerate(balls):
                if vanish is not None and k % 2 == vanish:
                    mids.append(mpmath.mpf(0))
                    errs.append(mpmath.mpf(0))
                    continue
                man, exp = b.mid().man_exp()
                mids.append(mpmath.mpf((int(man), int(exp))))
                rad = _mpf(float(b.rad()))                  # rounded up by the factor below
                bound = _mpf(float(quad_bound[k] + tail + trunc[k]))
                errs.append((rad + bound) * (1 + mpmath.mpf(10) ** -10))
        return mids, errs

    def _egf_sums(self, panels, K, prec, tol):
        r"""``(balls, trunc)``: Arb balls of ``sum_j b_j He_k(x_j)/sqrt(k!)`` (k <= K, flint
        precision set by the caller) with the local moments cut at ``m = M``, and a float64 array
        bounding, per k, what the cut leaves out.

        On panel ``p`` (centre ``c``, half-width ``h``) ``sum_i b_i e^(x_i t - t^2/2) =
        G_c(t) sum_m nu_m (h t)^m / m!`` with ``G_c(t) = e^(c t - t^2/2) = sum_j He_j(c) t^j / j!``.
        ``G_c`` is formed at ``1.45 |c| sqrt(K)`` extra bits (its series loses that much to
        cancellation, as ``He_j(c)`` summed from monomials does), the product with the moments at
        the working precision.  Moments ``m > M`` are dropped: with ``|nu_m| <= B = sum_i |b_i|``
        (``|tau_i| <= 1``), Cramer's ``|He_j(c)| <= kappa sqrt(j!) e^(c^2/4)`` and
        ``sqrt(k!/(k-m)!) <= k^(m/2)`` they add at most
        ``kappa B e^(c^2/4) sum_{m>M} (h sqrt k)^m / m!`` to the k-th sum."""
        inv_sqrt2pi = (2 * arb.pi()).rsqrt()
        total = arb_series([0], prec=K + 1)
        trunc = np.zeros(K + 1)
        root_k = np.sqrt(np.arange(K + 1))
        if self.parity:     # the mirror of x > 0 adds (-1)^k (+-1) times the same sum
            panels = [p for p in panels if p[0] > 0]
        groups = sorted({p[1:3] for p in panels})
        sigma = _real_sigma(self.act.expr)
        for half, n in groups:
            members = [p for p in panels if p[1:3] == (half, n)]
            rules = _legendre_rule(n, prec)
            # phi(c + u) = phi(c) (e^(-u))^c e^(-u^2/2) for an integer centre c (u = h tau_i):
            # the exponentials per node of the rule, shared by every panel of the group
            us = [arb(half) * t for t, _ in rules]
            node_w = [arb(half) * w * (-(u * u) / 2).exp() * inv_sqrt2pi for u, (_, w) in zip(us, rules)]
            node_e = [(-u).exp() for u in us]
            rows, weight = [], 0.0
            for center, _, _, _ in members:
                row = []
                c = arb(center)
                whole = float(center).is_integer() and abs(center) < 2**20
                if whole:
                    g, m = (-(c * c) / 2).exp(), int(center)
                for u, nw, ne, (t, w) in zip(us, node_w, node_e, rules):
                    xb = c + u
                    sig = sigma(xb) if sigma is not None else None
                    if sig is None or not sig.is_finite():
                        sig = self.f(acb(xb), False).real
                    if whole:
                        row.append(nw * sig * g * (ne ** m if m >= 0 else 1 / ne ** (-m)))
                    else:
                        row.append(arb(half) * w * sig * (-(xb * xb) / 2).exp() * inv_sqrt2pi)
                rows.append(row)
                weight += sum(float(abs(b).upper()) for b in row) * math.exp(center * center / 4)
            weight *= KAPPA * (1 + 1e-9)
            share = tol / (8 * len(groups) * (2 if self.parity else 1))
            M = _moment_cut(half * math.sqrt(K), weight, share, K)
            # row p: the Taylor coefficients nu_m h^m / m!, m <= M, of sum_i b_i e^(h tau_i t)
            local = (arb_mat(rows) * _moment_matrix(n, M, prec, half)).tolist()
            for (center, _, _, _), coef in zip(members, local):
                total += arb_series(coef, prec=K + 1) * _hermite_egf(center, K, prec)
            if M < K:
                trunc += weight * _exp_tail(half * root_k, M)
        c = total.coeffs()
        keep = {"odd": 1, "even": 0}.get(self.parity)
        factor = arb(1) if keep is None else arb(2)
        out, fac = [], arb(1)
        for k in range(K + 1):
            if k:
                fac *= k
            if k >= len(c) or (keep is not None and k % 2 != keep):
                out.append(arb(0))          # exactly 0: the mirrored panels cancel it
            else:
                out.append(c[k] * fac.sqrt() * factor)
        return out, trunc * (1 if keep is None else 2)


#: real Arb functions for :func:`_real_sigma` (each an enclosure on a real ball)
_REAL = {sp.tanh: arb.tanh, sp.exp: arb.exp, sp.erf: arb.erf, sp.erfc: arb.erfc, sp.sin: arb.sin,
         sp.cos: arb.cos, sp.atan: arb.atan, sp.sinh: arb.sinh, sp.cosh: arb.cosh} if arb else {}


def _real_sigma(expr):
    """sigma as a function ``arb -> arb`` on real balls (a closure per node of its SymPy tree:
    numbers, x, sums, products, integer powers and the functions of :data:`_REAL`), or None
    outside that class.  Real Arb functions cost about a third of the complex ones that
    :func:`symkernel.numerics.arb.compile_expr` evaluates; both enclose sigma on the ball, and a
    non-finite real ball falls back to the complex path (docs/theory.md §23).

    >>> from flint import arb
    >>> f = _real_sigma(sp.tanh(x + sp.Rational(3, 10)) * x**2 + sp.sqrt(2) * sp.pi)
    >>> abs(float(f(arb(1)).mid()) - (math.tanh(1.3) + math.sqrt(2) * math.pi)) < 1e-15
    True
    >>> _real_sigma(sp.besselj(0, x)) is None
    True
    """
    try:
        return _real_tree(expr)
    except _NotReal:
        return None


class _NotReal(Exception):
    """Outside :func:`_real_sigma`'s class (internal signal)."""


def _real_tree(e):
    if e == x:
        return lambda v: v
    if e.is_number:
        return _real_constant(e)
    if e.is_Add or e.is_Mul:
        return _fold([_real_tree(a) for a in e.args], e.is_Add)
    if e.is_Pow and e.exp.is_Integer:
        base, n = _real_tree(e.base), int(e.exp)
        return (lambda v: base(v) ** n) if n >= 0 else (lambda v: 1 / base(v) ** (-n))
    fn = _REAL.get(type(e))
    if fn is not None and len(e.args) == 1:
        inner = _real_tree(e.args[0])
        return lambda v: fn(inner(v))
    raise _NotReal(type(e).__name__)


def _real_constant(e):
    """An exact number as a function giving its Arb ball at the current precision: integers,
    rationals, pi, E and square roots of rationals; _NotReal otherwise."""
    if e.is_Rational:
        p, q = int(e.p), int(e.q)
        return lambda v: arb(p) / q
    if e is sp.pi:
        return lambda v: arb.pi()
    if e is sp.E:
        return lambda v: arb(1).exp()
    if e.is_Pow and e.base.is_Rational and e.base > 0 and e.exp == sp.S.Half:
        p, q = int(e.base.p), int(e.base.q)
        return lambda v: (arb(p) / q).sqrt()
    if e.is_Mul or e.is_Add:
        return _fold([_real_constant(a) for a in e.args], e.is_Add)
    raise _NotReal(str(e))


def _fold(parts, add):
    """The sum (``add``) or the product of the functions ``parts`` of one ball, left to right."""
    def fold(v):
        total = parts[0](v)
        for p in parts[1:]:
            total = total + p(v) if add else total * p(v)
        return total
    return fold


def _mpf(v):
    """The float ``v`` as an mpf, exactly (``(m 2^53) 2^(e - 53)`` from ``frexp``: a tenth of the
    time ``mpmath.mpf(float)`` takes with mpmath's pure-Python backend).

    >>> _mpf(0.1) == mpmath.mpf(0.1), _mpf(0.0), _mpf(-3e-300) == mpmath.mpf(-3e-300)
    (True, mpf('0.0'), True)
    """
    if not math.isfinite(v):
        return mpmath.mpf(v)
    m, e = math.frexp(v)
    return mpmath.mpf((int(m * 9007199254740992), e - 53))


def _exp_tail(y, M):
    """Upper bounds of ``sum_{m>M} y^m / m!`` for an array ``y`` of values ``<= (M + 2) / 2``:
    ``y^(M+1) / (M+1)! / (1 - y/(M+2))`` (a geometric majorant), by logarithms in float64 (a
    relative error far below the 1e-10 that :meth:`PanelPlan.coefficients` adds)."""
    out = np.zeros_like(y)
    pos = y > 0
    with np.errstate(divide="ignore"):
        v = y[pos]
        out[pos] = np.exp((M + 1) * np.log(v) - math.lgamma(M + 2) - np.log1p(-v / (M + 2)))
    return out * (1 + 1e-12)


def _moment_cut(y, weight, target, K):
    """The least ``M >= 2 y`` with ``weight sum_{m>M} y^m/m! <= target`` (``K`` when none is
    smaller: then nothing is cut)."""
    if weight == 0:
        return min(K, max(2, int(2 * y) + 2))
    M = max(2, int(math.ceil(2 * y)))
    while M < K:
        if weight * float(_exp_tail(np.array([y]), M)[0]) <= target:
            return M
        M += 4
    return K


_RULES = {}


def _legendre_rule(n, prec):
    """Gauss-Legendre nodes and weights of degree n as Arb balls at prec bits (the last 16 kept)."""
    key = (n, prec)
    if key not in _RULES:
        while len(_RULES) >= 16:
            _RULES.pop(next(iter(_RULES)))
        half = [arb.legendre_p_root(n, j, weight=True) for j in range((n + 1) // 2)]
        # the roots are symmetric (x_(n-1-j) = -x_j, same weight): the second half by negation
        _RULES[key] = half + [(-t, w) for t, w in reversed(half[:n // 2])]
    return _RULES[key]


def _hermite_egf(center, K, prec):
    """``e^(c t - t^2/2) = sum_j He_j(c) t^j / j!`` to ``t^K`` as an arb_series, formed at
    ``prec + 1.45 |c| sqrt(K) + 32`` bits (the series of the exponential loses about
    ``|c| sqrt(j) / ln 2`` bits at ``t^j``) and used at ``prec``."""
    old = _flint_ctx.prec
    _flint_ctx.prec = prec + int(1.45 * abs(center) * math.sqrt(K)) + 32
    try:
        return arb_series([0, arb(center), arb(-0.5)], prec=K + 1).exp()
    finally:
        _flint_ctx.prec = old


_MOMENTS = {}


def _moment_matrix(n, M, prec, half):
    """The n x (M+1) matrix ``(h tau_i)^m / m!`` (arb_mat) of the Gauss-Legendre nodes ``tau_i``
    of degree n at prec bits (the last 16 kept: it does not depend on sigma)."""
    key = (n, M, prec, float(half))
    if key not in _MOMENTS:
        rules, first = _legendre_rule(n, prec), (n + 1) // 2
        rows = []
        for t, _ in rules[:first]:
            c = arb_series([0, arb(half) * t], prec=M + 1).exp().coeffs()
            rows.append(c + [arb(0)] * (M + 1 - len(c)))
        # node j >= first is -tau_(n-1-j) (:func:`_legendre_rule`): (-h tau)^m/m! = (-1)^m (h tau)^m/m!
        for j in range(first, n):
            rows.append([v if m % 2 == 0 else -v for m, v in enumerate(rows[n - 1 - j])])
        while len(_MOMENTS) >= 16:
            _MOMENTS.pop(next(iter(_MOMENTS)))
        _MOMENTS[key] = arb_mat(rows)
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
