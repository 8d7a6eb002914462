r"""A proven enclosure of ``sigma_hat(rho)`` of the softsign ``u/(1+|u|)`` (Arb, docs/theory.md §19).

In polar coordinates (:mod:`.polar`), ``X = r cos t``, ``Y = r cos(t - t_rho)``; with
``theta = t_rho / 2`` and the sectors folded onto their symmetric halves, for ``0 < rho < 1``

.. math:: \hat\sigma(\rho) = \frac2\pi\Bigl[\int_0^{\pi/2-\theta} G(\sin w, \sin(w+2\theta))\,dw
          - \int_0^{\theta} G(\sin w, \sin(2\theta-w))\,dw\Bigr],

.. math:: G(a, b) = \int_0^\infty \frac{r^3 e^{-r^2/2}\,ab}{(1+ra)(1+rb)}\,dr = ab\,[\psi](a, b),
          \qquad \psi(x) = x\int_0^\infty \frac{r^3 e^{-r^2/2}}{1+rx}\,dr,

``[psi](a, b) = (psi(a) - psi(b))/(a - b)`` (the divided difference; ``a = |cos t|``,
``b = |cos(t - t_rho)|``).  With ``z = 1/x``, ``psi(x) = sqrt(pi/2)(1+z^2) - z - z^3 I(z)``,
``I(z) = e^{-z^2/2}(pi/2 erfi(z/sqrt 2) - Ei(z^2/2)/2)``; and ``sigma_hat(-rho) = -sigma_hat(rho)``
(softsign is odd); for ``b softsign(g x)`` (:func:`softsign_form`) the same with ``b^2 G(g a,
g b)``.  Each integral is done by ``acb.integral`` (rigorous), the integrand enclosed
for every complex ``a, b`` with ``Re a, Re b > 0`` (where ``|1 + r a| >= max(1, r|a|)``):

* at a quadrature node (a ball of tiny radius): ``[psi]`` from the closed form when ``a, b`` are
  apart; near the diagonal by the Taylor series of ``psi`` at the exact binary midpoint ``c``,
  ``[psi] = sum_(j>=1) psi_j(c) h_(j-1)(a - c, b - c)`` (Arb series arithmetic; tail after ``J``
  terms ``<= sqrt(pi/2)/c u^J (J+1)/(1-u)^2``, ``u = max|. - c|/c``, from ``|psi_j(c)| <=
  sqrt(pi/2) c^-j``); by the
  asymptotic series ``psi(x) = sum_(n<N) (-1)^n M_(n+3) x^(n+1)`` (``M_j = int_0^oo r^j
  e^{-r^2/2} dr``) for small ``|x|``, remainder ``<= M_(N+3)|x|^(N+1)``; and for both small by
  ``G = ab sum_(n<N) (-1)^n M_(n+3) h_n(a, b)`` (``h_n`` the complete homogeneous polynomial),
  remainder ``<= |ab| M_(N+3) (N+1) max(|a|,|b|)^N``;
* on a wide ball (Petras' error bound on an ellipse): ``|G| <= min(2|a||b|, sqrt(pi/2) min(|a|,
  |b|), 1)`` (from ``|1 + r a| >= 1`` and ``|a/(1 + r a)| <= 1/r``).

At ``w -> 0`` (``a`` or ``b -> 0``) ``psi`` is not analytic: on ``[0, w_1]`` (``sin w_1 <= a_0``)
the integrand with the small argument's series truncated at a fixed ``N`` is integrated instead
(a polynomial there: analytic), and the neglected part is bounded by ``w_1`` times its supremum,
taken by Arb over the interval.  The result is a ball that contains the true value: *certified*.

>>> import mpmath
>>> res = softsign_result(sp.Rational(3, 10), 30)
>>> mpmath.nstr(res.value, 30), res.certified, res.error < 1e-31 * res.value
('0.051352739305548449034585835209', True, True)
"""
import math

import mpmath
import sympy as sp

from symkernel.errors import PrecisionError
from symkernel.numerics import Result, meets, working
from symkernel.numerics.arb import compile_real, enclose
from symkernel.numerics.combine import from_ball, to_ball

try:
    from flint import acb, arb, acb_series, ctx as _ctx
except ImportError:  # pragma: no cover - python-flint is a core dependency
    acb = arb = acb_series = _ctx = None

METHOD = ("Arb acb.integral of the angle integral over the sign sectors of the radial integral "
          "G(a, b) = ab [psi](a, b) (closed form with erfi and Ei, Taylor series at the diagonal, "
          "asymptotic series with proven remainders near the sector ends)")

Q_TAYLOR = 1 / 16          # Taylor series of psi at the midpoint c where |d| <= Q |c|
SQRT_HALF_PI = 1.2533141373155004   # an upper bound of M_2 = sqrt(pi/2) = 1.25331413731550025...


def _log_moment(n):
    """``ln M_n``, ``M_n = 2^((n-1)/2) Gamma((n+1)/2)``."""
    return math.lgamma((n + 1) / 2) + (n - 1) / 2 * math.log(2)


def _moments(count):
    """``M_0 .. M_(count-1)`` as exact-ish Arb balls at the current precision."""
    out = [(arb.pi() / 2).sqrt(), arb(1)]
    while len(out) < count:
        out.append((len(out) - 1) * out[-2])
    return out


def _terms(x_up, log_tol, extra=0.0):
    """Smallest ``N`` with ``ln((N+2) M_(N+3) x^(N+1+extra)) <= log_tol`` for ``x = x_up`` (natural
    logs), or None when the asymptotic series never gets there."""
    if x_up <= 0:
        return 1
    lx = math.log(x_up)
    for n in range(1, 8 * int(max(-log_tol, 0.0)) + 64):
        if lx + 0.5 * math.log(n + 3) > 0:
            return None                             # M_(n+4)/M_(n+3) ~ sqrt(n+3): terms grow from here
        if _log_moment(n + 3) + (n + 1 + extra) * lx + math.log(n + 2) <= log_tol:
            return n
    return None


def _up(ball):
    """A float upper bound of ``|ball|`` (acb or arb)."""
    return float(abs(ball).upper()) * (1 + 1e-12) if ball.is_finite() else math.inf


def _low(ball):
    """A float lower bound of ``|ball|``."""
    return max(0.0, float(abs(ball).lower()) * (1 - 1e-12))


def _nan():
    return acb("nan")


def _disc(log_radius):
    """A complex ball containing the disc ``|z| <= e^log_radius`` (the radius taken in logs: at a
    thousand digits it is far below the smallest double; the float log is padded for its rounding)."""
    r = arb(log_radius + 1e-9 * (1 + abs(log_radius))).exp()
    r = arb(0, r.upper())
    return acb(r, r)


def _ball(log_radius):
    """The real ball ``0 +- e^log_radius`` (padded like :func:`_disc`)."""
    return arb(0, arb(log_radius + 1e-9 * (1 + abs(log_radius))).exp().upper())


class SoftsignPolar:
    """The integrand of one ``rho`` (``0 < rho < 1``) at one working precision."""

    def __init__(self, r_ball, s_ball, log_tol, gain=None):
        self.prec = _ctx.prec
        self.gain = arb(1) if gain is None else gain      # sigma = softsign(gain x): G(g a, g b)
        self.log_tol = log_tol                   # natural log of the absolute tolerance per G value
        self.sq = (arb.pi() / 2).sqrt()
        self.pi2 = arb.pi() / 2
        self.rt2 = arb(2).sqrt()
        # theta = t_rho / 2, tan(theta) = s / (1 + rho) (no cancellation as rho -> 1)
        self.theta = (s_ball / (1 + r_ball)).atan()
        L = max(-log_tol, 1.0)
        # below a0 the asymptotic series of psi (about L / ln(1/a0) terms); above, the closed form
        self.a0 = min(0.25, 0.45 / math.sqrt(L), 5.5 / L)
        self.moments = _moments(8 * int(L) + 72)
        self.point = arb(2) ** (-(self.prec // 3))   # a quadrature node: a ball narrower than this

    # -- psi -----------------------------------------------------------------------------------
    def psi_closed(self, x):
        z = 1 / x
        w = z * z / 2
        if not (w.real > 0 or 0 not in w.imag):       # Ei's cut (-oo, 0]
            return _nan()
        i = (-w).exp() * (self.pi2 * (z / self.rt2).erfi() - w.ei() / 2)
        return self.sq * (1 + z * z) - z - z * z * z * i

    def psi_poly(self, x, n):
        """``sum_(k<n) (-1)^k M_(k+3) x^(k+1)`` (Horner)."""
        m = self.moments
        total = acb(0)
        for k in range(n - 1, -1, -1):
            total = total * x + (m[k + 3] if k % 2 == 0 else -m[k + 3])
        return total * x

    def psi_point(self, x):
        """psi at a small ball: closed form, or the asymptotic series plus its proven remainder."""
        xu = _up(x)
        if xu >= self.a0 / 2:
            return self.psi_closed(x)
        n = _terms(xu, self.log_tol - 4)
        if n is None:
            return self.psi_closed(x)
        return self.psi_poly(x, n) + _disc(_log_moment(n + 3) + (n + 1) * math.log(xu))

    def taylor_dd(self, a, b, q):
        """``[psi](a, b) = sum_(j>=1) psi_j(c) h_(j-1)(a - c, b - c)`` about the exact midpoint ``c``
        of ``(a + b)/2`` (``h`` the complete homogeneous polynomial: no division by ``a - b``), plus
        the tail ``sqrt(pi/2)/c sum_(j>J) j u^(j-1) = sqrt(pi/2)/c u^J (J+1-Ju)/(1-u)^2``,
        ``u = max(|a-c|, |b-c|)/c``, from ``|psi_j(c)| <= sqrt(pi/2) c^-j``."""
        c = ((a + b) / 2).real.mid()              # exact: an uncertain centre would blow up below
        cf = float(c)
        x, y = a - c, b - c
        u = max(_up(x), _up(y)) / cf
        if not u < 0.5:
            return _nan()
        lu = math.log(max(u, 1e-300))
        base = math.log(SQRT_HALF_PI / cf) - 2 * math.log(1 - u)
        J = 1
        while base + J * lu + math.log(J + 1) > self.log_tol - 4:
            J += 1
        log_tail = base + J * lu + math.log(J + 1)
        # the series of e^{-z^2/2} and erfi(z/sqrt 2) in x = c + t grow like (c^-3)^k / k! and
        # cancel down to c^-k: work with that many more bits
        lc = math.log2(1 / cf)
        extra = max(0.0, max(k * 2 * lc - math.lgamma(k + 1) / math.log(2) for k in range(J + 2)))
        old, old_prec = _ctx.cap, _ctx.prec
        try:
            _ctx.cap = J + 1
            _ctx.prec = old_prec + int(extra) + 10
            pi2 = arb.pi() / 2                     # the constants at this precision too
            zs = 1 / acb_series([acb(c), 1])
            w = zs * zs / 2
            i = (-w).exp() * (pi2 * (zs / arb(2).sqrt()).erfi() - w.ei() / 2)
            ser = pi2.sqrt() * (1 + zs * zs) - zs - zs * zs * zs * i
            coeffs = ser.coeffs()
        finally:
            _ctx.cap, _ctx.prec = old, old_prec
        h, yp = acb(1), acb(1)
        total = coeffs[1] + 0 * x
        for j in range(2, J + 1):
            yp = yp * y
            h = x * h + yp
            total += coeffs[j] * h
        return total + _disc(log_tail)

    # -- G -------------------------------------------------------------------------------------
    def small_G(self, a, b, n):
        """``ab sum_(n) (-1)^k M_(k+3) h_k(a, b)`` (both small; the remainder is the caller's)."""
        m = self.moments
        h, bp = acb(1), acb(1)
        total = m[3] + 0 * a
        for k in range(1, n):
            bp = bp * b
            h = a * h + bp
            total += (m[k + 3] if k % 2 == 0 else -m[k + 3]) * h
        return a * b * total

    def G_point(self, a, b):
        au, bu = _up(a), _up(b)
        mx = max(au, bu)
        if mx <= self.a0:
            log_ab = math.log(au) + math.log(bu)
            n = _terms(mx, self.log_tol - 4 - log_ab, extra=-1)
            if n is not None:
                log_rem = _log_moment(n + 3) + math.log(n + 1) + n * math.log(mx) + log_ab
                return self.small_G(a, b, n) + _disc(log_rem)
        q = _up(a - b) / max(_low(a + b), 1e-300)
        if q <= Q_TAYLOR:
            return a * b * self.taylor_dd(a, b, q)
        return a * b * (self.psi_point(a) - self.psi_point(b)) / (a - b)

    def G_crude(self, a, b):
        if not (a.real > 0 and b.real > 0):
            return _nan()
        au, bu = _up(a), _up(b)
        bound = min(2 * au * bu, SQRT_HALF_PI * min(au, bu), 1.0)
        return _disc(math.log(bound)) if bound > 0 else _nan()

    def G(self, a, b, w):
        if not (a.real > 0 and b.real > 0):
            return _nan()
        if w.rad() < self.point:
            return self.G_point(a, b)
        return self.G_crude(a, b)

    # -- the two sector integrals ---------------------------------------------------------------
    def args(self, w, positive):
        """``(a, b, b - a)`` on the positive (``b = g sin(w + 2 theta)``) or negative sector
        (``a = g sin w``, ``g`` the gain; the gap in product form)."""
        th, g = self.theta, self.gain
        if positive:
            return g * w.sin(), g * (w + 2 * th).sin(), 2 * g * (w + th).cos() * th.sin()
        return g * w.sin(), g * (2 * th - w).sin(), 2 * g * th.cos() * (th - w).sin()

    def sector(self, positive, abs_tol):
        """``int_0^W G dw`` (W = pi/2 - theta or theta) as an arb ball."""
        th = self.theta
        W = self.pi2 - th if positive else th
        thf = float(th.mid())
        Wf = float(W.mid())
        a0 = self.a0
        gu = _up(self.gain)
        # the end piece [0, w1]: the series of the small argument truncated at a fixed N; where
        # g sin w <= a0 (w <= ws); small_mode: both arguments <= a0 on the piece
        ws = math.asin(a0 / gu) if gu > a0 else math.pi / 2
        if positive:
            small_mode = 2 * thf <= ws / 2 and gu * math.sin(min(ws, math.pi / 2)) <= a0
            if gu <= a0:
                small_mode, w1 = True, Wf
            elif small_mode:
                w1 = ws - 2 * thf
            else:
                w1 = min(ws, Wf / 2)      # the gap 2 g cos(w + theta) sin(theta) stays away from 0
        else:
            small_mode = gu * math.sin(2 * thf) <= a0
            w1 = Wf if small_mode else min(ws, Wf / 2)
        w1 = min(w1 * (1 - 1e-12), Wf) if w1 < Wf else Wf
        wu = _up(W) if w1 >= Wf else w1             # the whole sector: up to W itself
        end_ball = arb(wu / 2, wu / 2 * (1 + 1e-12))
        a_e, b_e, gap_e = self.args(acb(end_ball), positive)
        log_ab = math.log(_up(a_e)) + math.log(_up(b_e))     # sup of ln(ab) on the piece
        if small_mode:
            mx = max(_up(a_e), _up(b_e))
            n = _terms(mx, self.log_tol - 4 - log_ab - math.log(wu), extra=-1)
            if n is None:
                raise PrecisionError("softsign: the asymptotic series cannot reach the digits asked")
            log_rem = _log_moment(n + 3) + math.log(n + 1) + n * math.log(mx) + log_ab + math.log(wu)

            def end(z, analytic):
                a, b, _ = self.args(z, positive)
                return self.small_G(a, b, n)
        else:
            su = _up(a_e)
            gap = _low(gap_e.real) if gap_e.real > 0 else 0.0
            if gap <= 0:
                raise PrecisionError("softsign: the sector end piece is too wide")
            n = _terms(su, self.log_tol - 4 - log_ab - math.log(w1) + math.log(gap))
            if n is None:
                raise PrecisionError("softsign: the asymptotic series cannot reach the digits asked")
            log_rem = _log_moment(n + 3) + (n + 1) * math.log(su) + log_ab + math.log(w1 / gap)

            def end(z, analytic):
                a, b, gp = self.args(z, positive)
                if not (b.real > 0):
                    return _nan()
                if z.rad() < self.point:
                    pb = self.psi_point(b)
                else:
                    pb = _disc(math.log(min(2 * _up(b), SQRT_HALF_PI)))
                return a * b * (pb - self.psi_poly(a, n)) / gp
        tol = abs_tol
        total = acb.integral(end, 0, w1 if w1 < Wf else W, abs_tol=tol, rel_tol=tol, eval_limit=10**6).real
        total += _ball(log_rem)
        if w1 < Wf:
            def main(z, analytic):
                a, b, _ = self.args(z, positive)
                return self.G(a, b, z)
            total += acb.integral(main, arb(w1), W, abs_tol=tol, rel_tol=tol, eval_limit=10**6).real
        return total


def softsign_ball(r_ball, s_ball, log_scale, gain=None):
    """``sigma_hat(rho)`` of ``softsign(gain x)`` for ``0 < rho < 1`` (balls ``rho``,
    ``s = sqrt(1 - rho^2)`` and ``gain > 0``) as an arb ball at the current Arb precision;
    ``log_scale`` is the natural log of a rough size of the value (the absolute tolerances follow it)."""
    log_tol = log_scale - _ctx.prec * math.log(2)
    plan = SoftsignPolar(r_ball, s_ball, log_tol - 3, gain)
    abs_tol = arb(log_scale).exp() * arb(2) ** (-_ctx.prec) / 8
    pos = plan.sector(True, abs_tol)
    neg = plan.sector(False, abs_tol)
    return 2 * (pos - neg) / arb.pi()


def softsign_form(act):
    """``(b, g)`` with ``sigma(x) = b softsign(g x) = b g x/(1 + g|x|)`` exactly (``g > 0``, ``b != 0``
    exact SymPy numbers), or None: ``b = sigma(+oo)``, ``b g = sigma'(0+)``, then checked by
    simplifying the difference to 0."""
    if len(act.pieces) != 2 or act.free_parameters or act.pieces[1].lo != 0:
        return None
    right = act.pieces[1].expr
    x = sp.Symbol("x", real=True)
    x = next(iter(right.free_symbols), x)
    try:
        b = sp.limit(right, x, sp.oo)
        g = sp.simplify(sp.diff(right, x).subs(x, 0) / b)
    except (NotImplementedError, ValueError, TypeError, ZeroDivisionError):
        return None
    if not (b.is_number and g.is_number and b.is_real and g.is_real and b != 0 and g.is_positive):
        return None
    if b.is_infinite or g.is_infinite:
        return None
    if sp.simplify(act.expr - b * g * x / (1 + g * sp.Abs(x))) != 0:
        return None
    return b, g


def _exact(value):
    """An int or an exact SymPy number as a SymPy number (never a string: nothing is parsed)."""
    if isinstance(value, (int, sp.Basic)) and not isinstance(value, bool):
        return sp.Integer(value) if isinstance(value, int) else value
    raise PrecisionError(f"an exact number (int or SymPy) is needed, got {value!r}")


def _real_ball(value):
    """An exact real SymPy number as an arb ball at the current precision."""
    value = _exact(value)
    if value.is_Rational:
        return arb(int(value.p)) / int(value.q)
    return compile_real(value, sp.Symbol("_unused"))(arb(0))


def softsign_result(r, dps, amplitude=1, gain=1):
    """``sigma_hat(r)`` of ``sigma = amplitude * softsign(gain x)`` (``r``, ``amplitude``, ``gain``
    exact SymPy numbers, ``0 < |r| < 1``, ``gain > 0``) as a certified Result meeting ``dps`` digits:
    ``amplitude^2`` times the angle integral with ``G(g a, g b)``."""
    if not isinstance(r, sp.Basic) or not r.is_real or r.free_symbols:
        raise PrecisionError(f"softsign_result needs an exact real rho, got {r!r}")
    amplitude, gain = _exact(amplitude), _exact(gain)
    if not (gain.is_positive and amplitude.is_real and amplitude != 0):
        raise PrecisionError(f"softsign_result needs gain > 0 and amplitude != 0, got {gain}, {amplitude}")
    sign = -1 if r < 0 else 1
    ra = abs(r)
    if not (0 < ra < 1):
        raise PrecisionError(f"softsign_result needs 0 < |rho| < 1, got {r}")
    log_r = float(mpmath.log(sp.N(ra, 20)))
    # sigma_hat(rho) >= c_1^2 rho, c_1 = b E[g/(1 + g|X|)^2] >= 0.4 b min(1, g): a size for tolerances
    log_size = log_r + 2 * float(mpmath.log(sp.N(abs(amplitude), 20))) \
        + 2 * min(0.0, float(mpmath.log(sp.N(gain, 20)))) - math.log(10)

    def ball_at(wp, bound):
        # bits lost: psi's closed form at 1/x up to 2/a0 (about 3 log2(2/a0)), P - N (log2(1/rho))
        L = (wp + 3) * math.log(10)
        a0 = min(0.25, 0.45 / math.sqrt(L), 5.5 / L)
        extra = 24 + int(3 * math.log2(2 / a0)) + int(max(0.0, -log_r / math.log(2)))
        old = _ctx.prec
        try:
            _ctx.prec = old + extra
            if ra.is_Rational:
                p, q = int(ra.p), int(ra.q)
                rb = arb(p) / q
                sb = arb(q * q - p * p).sqrt() / q
            else:
                rb = _real_ball(ra)
                sb = (1 - rb * rb).sqrt()
            amp = _real_ball(amplitude)
            log_scale = log_size
            if bound is not None and bound > 0:
                log_scale = max(float(mpmath.log(bound)) - math.log(2), log_scale - 7)
            amp2 = amp * amp
            val = amp2 * softsign_ball(rb, sb, log_scale - float(mpmath.log(sp.N(amplitude**2, 20))),
                                       _real_ball(gain))
        finally:
            _ctx.prec = old
        return sign * val
    res = enclose(ball_at, dps, what="the softsign kernel value")
    return Result(res.value, res.error, True, METHOD)


SERIES_METHOD = ("Hermite series sum_(k odd <= K) c_k^2 rho^k with certified c_k and the tail bound "
                 "|rho|^(K+1) E sigma^2 <= |rho|^(K+1)")


def softsign_series_result(coefficient, r, dps, amplitude=1, max_order=9):
    r"""``sigma_hat(r)`` of ``sigma = b softsign(g x)`` for small ``|r|`` from its Hermite series:
    ``c_k = 0`` for even ``k`` (odd sigma) and ``|sum_(k>K) c_k^2 r^k| <= |r|^(K+1) sum_(k>K) c_k^2
    <= |r|^(K+1) E sigma^2 <= |r|^(K+1) b^2`` (``|sigma| < |b|``; Parseval), so a few proven
    ``c_k`` (``coefficient(k, dps) -> Result``) give a certified Result; None when more than the odd
    orders up to ``max_order`` would be needed (the angle integral is then cheaper: it cancels only
    ``log2(1/|r|)`` bits).

    >>> import symkernel as sk, mpmath
    >>> act = sk.activation("softsign")
    >>> res = softsign_series_result(lambda k, d: sk.hermite_coefficient(act, k).result(d),
    ...                              sp.Rational(1, 10**12), 30)
    >>> mpmath.nstr(res.value, 20), res.certified
    ('1.7036677285600920184e-13', True)
    """
    r = sp.Rational(r)
    if r == 0:
        return None
    log_r = math.log(abs(r.p)) - math.log(r.q)
    c1 = coefficient(1, dps + 10)
    if c1.value == 0 or c1.error >= abs(c1.value) / 2:
        return None
    log_b2 = 2 * float(mpmath.log(sp.N(abs(_exact(amplitude)), 20)))
    log_c1 = float(mpmath.log(abs(c1.value) - c1.error))
    # |r|^(K+1) b^2 <= |value| 10^-(dps+4), |value| >= c_1^2 |r|
    K = 1
    while K * log_r + log_b2 > 2 * log_c1 - (dps + 4) * math.log(10):
        K += 2
        if K > max_order:
            return None
    coeffs = [c1] + [coefficient(k, dps + 10) for k in range(3, K + 1, 2)]
    with working(dps + 10):
        rb = arb(int(r.p)) / int(r.q)
        total = arb(0)
        for k, c in zip(range(1, K + 1, 2), coeffs):
            total += to_ball(c) ** 2 * rb ** k
        total += arb(0, (abs(rb) ** (K + 1) * _real_ball(amplitude) ** 2).upper())
        res = from_ball(total, all(c.certified for c in coeffs), SERIES_METHOD)
    return res if meets(res, dps) else None


__all__ = ["softsign_form", "softsign_result", "softsign_ball", "softsign_series_result", "SoftsignPolar",
           "METHOD", "SERIES_METHOD"]
