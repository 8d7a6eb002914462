r"""``sigma_hat(rho)`` of the softsign ``sigma(u) = u/(1+|u|)`` by one integral over an angle.

With ``X = r cos t``, ``Y = rho X + s W = r cos(t - t_rho)`` (``W = r sin t``, ``cos t_rho = rho``,
``s = sin t_rho``) both breakpoint lines pass through the origin, so on each angular sector the
signs are fixed and the radial integral is in closed form (partial fractions in ``r``):

.. math:: \hat\sigma(\rho) = \frac1\pi \int_{-\pi/2}^{\pi/2} \operatorname{sgn}(\cos(t-t_\rho))
          \Bigl[1 - \frac{f(\alpha) - f(\beta)}{\alpha - \beta}\Bigr] dt,\quad
          \alpha = \frac1{|\cos t|},\ \beta = \frac1{|\cos(t-t_\rho)|},

``f(z) = z^2 J(z)``, ``J(z) = int_0^oo r e^{-r^2/2}/(r+z) dr = sqrt(pi/2) - z I(z)``,
``I(z) = int_0^oo e^{-r^2/2}/(r+z) dr = e^{-z^2/2} (pi/2 erfi(z/sqrt 2) - Ei(z^2/2)/2)`` (from
``(e^{z^2/2} I)' = e^{z^2/2}(sqrt(pi/2) - 1/z)``), and for large ``z`` the asymptotic series
``J(z) ~ sum_n (-1)^n M_(n+1) z^-(n+1)``, ``M_j = int_0^oo r^j e^{-r^2/2} dr``.  The angle integral (a log-type endpoint
behaviour at the sector ends) is done by tanh-sinh quadrature (mpmath) on the two sectors, the
working precision raised inside the integrand where ``f`` cancels; values are accepted by
:func:`symkernel.numerics.converge` (*estimated*).  The package's values come from the same
angle integral done in Arb (:mod:`.polar_certified`, *certified*); this mpmath version is the
fallback when Arb cannot reach the digits asked, and an independent implementation to check it.

>>> import mpmath
>>> mpmath.nstr(softsign_dual(mpmath.mpf("0.3"), 20), 15)
'0.0513527393055484'
"""
import mpmath
import sympy as sp

from symkernel.core.symbols import x

SOFTSIGN = x / (1 + sp.Abs(x))
METHOD = ("angle integral of the closed-form radial integral (erfi, Ei) over the sign sectors, "
          "tanh-sinh quadrature, two working precisions agree")


def is_softsign(act):
    """True when sigma is exactly the softsign ``x/(1+|x|)``."""
    return len(act.pieces) == 2 and not act.free_parameters and sp.simplify(act.expr - SOFTSIGN) == 0


def _f(z):
    """``z^2 J(z)`` by the closed form (the caller supplies ``z^2/(2 ln 10)`` extra digits:
    erfi and Ei cancel)."""
    i = mpmath.exp(-z * z / 2) * (mpmath.pi / 2 * mpmath.erfi(z / mpmath.sqrt(2)) - mpmath.ei(z * z / 2) / 2)
    return z * z * (mpmath.sqrt(mpmath.pi / 2) - z * i)


def _moments(count):
    """``M_j = int_0^oo r^j e^{-r^2/2} dr`` for j < count (``M_0 = sqrt(pi/2)``, ``M_1 = 1``,
    ``M_(j+2) = (j+1) M_j``)."""
    out = [mpmath.sqrt(mpmath.pi / 2), mpmath.mpf(1)]
    while len(out) < count:
        out.append((len(out) - 1) * out[-2])
    return out


def _f_asymptotic(z, wp):
    """``f(z) = sum_n (-1)^n M_(n+1) z^(1-n)`` truncated at its smallest term (error about
    ``e^{-z^2/2}``; used for ``z^2/2 > (wp + 10) ln 10``)."""
    total, last, power = mpmath.mpf(0), mpmath.inf, z
    moments = _moments(int(min(z * z, 4 * wp + 80)) + 12)
    for n in range(0, len(moments) - 1):
        term = (-1) ** n * moments[n + 1] * power
        if abs(term) > last or (n > 2 and abs(term) < mpmath.mpf(10) ** (-(wp + 10))):
            break
        total += term
        last = abs(term)
        power /= z
    return total


def _dd_asymptotic(al, be, wp):
    """``(f(al) - f(be))/(al - be)`` from the asymptotic series, term by term (no cancellation):
    the divided difference of ``z^-m`` is ``-S_m``, ``S_m = sum_{i<m} al^(-i-1) be^(i-m)``
    (``S_(m+1) = (S_m + al^-(m+1))/be``)."""
    moments = _moments(int(min(min(al, be) ** 2, 4 * wp + 80)) + 12)
    total, last = moments[1], mpmath.inf
    S, alpow = 1 / (al * be), 1 / al
    for n in range(2, len(moments) - 1):
        term = -(-1) ** n * moments[n + 1] * S       # m = n - 1
        if abs(term) > last or abs(term) < mpmath.mpf(10) ** (-(wp + 10)):
            break
        total += term
        last = abs(term)
        alpow /= al
        S = (S + alpow) / be
    return total


def _radial(c1, c2, wp):
    """``1 - (f(alpha) - f(beta))/(alpha - beta)`` for ``alpha = 1/|c1|``, ``beta = 1/|c2|``."""
    a, b = abs(c1), abs(c2)
    if min(a, b) < mpmath.mpf(10) ** (-(wp + 10)):
        return mpmath.mpf(0)               # O(min(a, b)): below the working precision
    Z2 = 2 * (wp + 10) * mpmath.log(10)    # asymptotic series beyond z^2 = Z2
    with mpmath.workdps(wp + 20):
        al, be = 1 / mpmath.mpf(a), 1 / mpmath.mpf(b)
        lo, hi = min(al, be), max(al, be)
        if lo * lo > Z2:
            return +(1 - _dd_asymptotic(al, be, wp + 20))
        if hi * hi > Z2 and hi - lo > 1:
            fa = _f_asymptotic(hi, wp + 20)
            with mpmath.workdps(wp + 20 + int(lo * lo / 4.6)):
                fb = _f(lo)
            return +(1 - (fa - fb) / (hi - lo))
    gap = abs(al - be) / hi
    extra = int(hi * hi / 4.6 + max(0, -mpmath.log10(gap + mpmath.mpf(10) ** (-(wp + 5))))) + 20
    with mpmath.workdps(wp + extra):
        al, be = 1 / mpmath.mpf(a), 1 / mpmath.mpf(b)
        if abs(al - be) < mpmath.mpf(10) ** (-(wp // 2)) * al:
            d = mpmath.diff(_f, (al + be) / 2)
        else:
            d = (_f(al) - _f(be)) / (al - be)
        return +(1 - d)


def softsign_dual(r, wp):
    """``sigma_hat(r)`` of the softsign at ``wp`` digits (``|r| < 1``; see the module docstring)."""
    with mpmath.workdps(wp + 10):
        r = mpmath.mpf(r)
        tr = mpmath.acos(r)
        half = mpmath.pi / 2

        def g(t):
            return _radial(mpmath.cos(t), mpmath.cos(t - tr), wp + 10)
        neg = mpmath.quad(g, [-half, tr - half])
        pos = mpmath.quad(g, [tr - half, half])
        return (pos - neg) / mpmath.pi


__all__ = ["is_softsign", "softsign_dual", "METHOD"]
