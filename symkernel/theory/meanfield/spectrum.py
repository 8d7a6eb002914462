r"""The singular-value spectrum of the input-output Jacobian by free probability (Pennington,
Schoenholz & Ganguli, NeurIPS 2017; Pabari & Zhou §3.2; docs/theory.md §11.2).

With every layer at the fixed point ``q*``, ``J = D^L W^L ... D^1 W^1``, ``D = diag(phi'(h))``,
``h ~ N(0, q*)``.  At infinite width the ``D^l`` and ``W^l`` are asymptotically free, so the
S-transforms multiply:

.. math::  S_{JJ^\top}(z) = S_{X}(z)^L\, S_{WW^\top}(z)^L, \qquad X = \phi'(\sqrt{q^*} Z)^2,

``S_{WW^T}(z) = 1/(sigma_w^2 (1 + z))`` for Gaussian weights (Marchenko–Pastur) and
``1/sigma_w^2`` for orthogonal ones.  An S-transform is built from moments: with
``psi(z) = sum_k m_k z^k`` and ``chi = psi^{-1}`` (series reversion), ``S(z) = chi(z)(1+z)/z``.
From ``S(z) = (1/m_1)(1 - (m_2/m_1^2 - 1) z + ...)`` the first two moments of ``JJ^T`` are

.. math::  m_1 = \chi_1^L, \qquad \frac{m_2}{m_1^2} = 1 + L\Big(\frac{\mu_2}{\mu_1^2} - 1 + v_W\Big),
           \quad \mu_k = E[X^k],

``v_W = 1`` (Gaussian) or ``0`` (orthogonal): orthogonal weights with ``mu_2 ~ mu_1^2`` (tanh near
``q* = 0``) keep the spectrum narrow at any depth (dynamical isometry); ReLU has
``mu_2/mu_1^2 = 2`` and cannot.  :func:`jacobian_spectrum_moments` gives ``m_1..m_K`` by these
series (exact when the ``mu_k`` are); :func:`jacobian_spectrum_density` the density of the
squared singular values by Stieltjes inversion.

>>> import sympy as sp
>>> jacobian_spectrum_moments(None, 2, 0, 3, order=3, mu=[sp.Rational(1, 2)] * 3)  # ReLU, sigma_w^2 = 2
[1, 7, 67]
>>> jacobian_spectrum_moments(None, 2, 0, 3, weights="orthogonal", order=2, mu=[sp.Rational(1, 2)] * 2)
[1, 4]
"""
import math

import numpy as np
import sympy as sp

from symkernel.core.activations import as_activation
from symkernel.errors import InvalidInputError, PrecisionError
from .maps import float_state
from .moments import moments

WEIGHTS = ("gaussian", "orthogonal")


# -- truncated power series (coefficient lists; any number type: int, Rational, mpf, float) ----
def _mul(a, b, K):
    """Coefficients ``0..K-1`` of the product of two series."""
    return [sum(a[i] * b[n - i] for i in range(n + 1) if i < len(a) and n - i < len(b))
            for n in range(K)]


def series_reversion(a, K):
    """``b_1..b_K`` of ``g = f^{-1}`` for ``f(z) = sum_{k>=1} a_k z^k`` given as ``a = [a_1, a_2, ...]``
    (``a_1 != 0``), by fixing one coefficient of ``f(g(w)) = w`` at a time.

    >>> series_reversion([1, 1], 4)   # z + z^2: the inverse is (sqrt(1+4w) - 1)/2
    [1, -1, 2, -5]
    """
    if not a or a[0] == 0:
        raise InvalidInputError(f"need a_1 != 0 to revert a series, got {a!r}")
    a = [sp.Integer(v) if isinstance(v, (int, np.integer)) else v for v in a] + [0] * (K - len(a))
    b = [0] * K                      # b[j] is the coefficient of w^(j+1)
    for n in range(K):
        # coefficient of w^(n+1) in sum_k a_k g^k with b_n still 0, then solve a_1 b_n + rest = [n == 0]
        g = [0] + b                  # g as a series from w^0
        power, rest = g[:], 0
        for k in range(2, n + 2):
            power = _mul(power, g, n + 2)
            rest += a[k - 1] * power[n + 1]
        b[n] = ((1 if n == 0 else 0) - rest) / a[0]
    return b


def s_transform(m):
    """Coefficients ``s_0..s_{K-1}`` of ``S(z)`` from the moments ``m = [m_1..m_K]``.

    >>> s_transform([1, 2, 5])          # Marchenko-Pastur (Catalan moments): S = 1/(1+z)
    [1, -1, 1]
    """
    K = len(m)
    b = series_reversion(list(m), K)     # chi(w) = sum b_k w^k
    inner = b[:]                         # chi(w)/w = sum_{k>=0} b_{k+1} w^k
    return _mul([1, 1], inner, K)        # (1 + w) chi(w)/w


def moments_from_s_transform(s):
    """Moments ``m_1..m_K`` from ``s_0..s_{K-1}`` (the inverse of :func:`s_transform`)."""
    K = len(s)
    inv1 = [(-1) ** n for n in range(K)]                 # 1/(1+w)
    chi = _mul(s, inv1, K)               # chi(w) = w S(w)/(1+w): coefficients of w^1..w^K
    return series_reversion(chi, K)


def _power(a, L, K):
    out = [1] + [0] * (K - 1)
    for _ in range(L):
        out = _mul(out, a, K)
    return out


def _check(sigma_w2, depth, weights, order):
    if weights not in WEIGHTS:
        raise InvalidInputError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise InvalidInputError(f"depth must be an integer >= 1, got {depth!r}")
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 12:
        raise InvalidInputError(f"order must be an integer in 1..12, got {order!r}")
    try:
        ok = float(sigma_w2) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidInputError(f"sigma_w2 must be a positive number, got {sigma_w2!r}")


def derivative_square_moments(act, q, order, gain=None, **params):
    """``mu_k = E[phi'(sqrt(q) Z)^(2k)]`` for ``k = 1..order`` (float64 composite Gauss–Legendre,
    about 14 digits for analytic ``phi``)."""
    m = moments(as_activation(act, gain, **params))
    m.require_continuous("the Jacobian spectrum")
    q = float(q)
    if not (math.isfinite(q) and q > 0):
        raise InvalidInputError(f"q must be a finite number > 0, got {q!r}")
    z, w = m.nodes(q)
    x = m.values(q, z)[1] ** 2
    return [float(np.dot(w, x ** k)) for k in range(1, order + 1)]


def jacobian_spectrum_moments(act, sigma_w2, sigma_b2, depth, weights="gaussian", order=2,
                              q=None, mu=None, gain=None, **params):
    r"""Moments ``m_1..m_order`` of the squared singular values of ``J`` (``m_k = tr (JJ^T)^k / N``)
    at infinite width, every layer at ``q*`` (the module docstring's product of S-transforms).

    ``mu``: the moments ``E[X^k]`` of ``X = phi'(h)^2`` if known (exact numbers give exact
    moments); otherwise they are computed by quadrature at ``q`` (default ``q*``).
    """
    _check(sigma_w2, depth, weights, order)
    if mu is None:
        if q is None:
            q = float_state(as_activation(act, gain, **params), float(sigma_w2), float(sigma_b2))["q_star"]
        mu = derivative_square_moments(act, q, order, gain, **params)
        sw2 = float(sigma_w2)
    else:
        mu = list(mu)[:order]
        if len(mu) < order:
            raise InvalidInputError(f"mu needs {order} moments, got {len(mu)}")
        sw2 = sp.Integer(sigma_w2) if isinstance(sigma_w2, (int, np.integer)) else sigma_w2
    sx = s_transform(mu)
    sw = [(-1) ** n for n in range(order)] if weights == "gaussian" else [1] + [0] * (order - 1)
    s = _mul(_power(sx, int(depth), order), _power(sw, int(depth), order), order)
    s = [c / sw2 ** depth for c in s]
    return moments_from_s_transform(s)


def normalized_second_moment(act, sigma_w2, sigma_b2, depth, weights="gaussian", q=None,
                             gain=None, **params):
    r"""``m_2/m_1^2 = 1 + L(mu_2/mu_1^2 - 1 + v_W)`` of ``JJ^T`` (1 is perfect isometry)."""
    m1, m2 = jacobian_spectrum_moments(act, sigma_w2, sigma_b2, depth, weights, 2, q,
                                       gain=gain, **params)
    return m2 / (m1 * m1)


def jacobian_spectrum_density(act, sigma_w2, sigma_b2, depth, lam, weights="gaussian", q=None,
                              eps=1e-3, gain=None, **params):
    r"""Density ``rho(lambda)`` of the squared singular values of ``J`` at the points ``lam``
    (ascending, > 0), by Stieltjes inversion at height ``eps * lambda``: ``rho = -Im G/pi``.

    With ``t = chi_X(w)``, ``w = psi_X(t) = E[tX/(1 - tX)]`` (quadrature over ``h ~ N(0, q*)``),
    ``w = psi_J(1/z)`` solves ``z^{-1} = w/(1+w) (t(1+w)/w)^L S_W(w)^L`` and
    ``G(z) = (1 + w)/z``.  Solved by Newton's method in ``t``, continued from large ``z`` (where
    ``w ~ m_1/z``) down the grid.  Returns a float64 array (estimated: smoothed at width
    ``eps * lambda``).  Far in the lower tail (a product of ``L`` small ``phi'^2``, ``L`` small,
    orthogonal weights) ``t X ~ 1`` falls between the quadrature nodes and Newton's method cannot
    settle: those points are NaN; a failure in the upper half of the grid raises
    :class:`~symkernel.errors.PrecisionError`.
    """
    _check(sigma_w2, depth, weights, 1)
    act = as_activation(act, gain, **params)
    m = moments(act)
    m.require_continuous("the Jacobian spectrum")
    sw2, L = float(sigma_w2), int(depth)
    if q is None:
        q = float_state(act, sw2, float(sigma_b2))["q_star"]
    if not (math.isfinite(float(q)) and float(q) > 0 and 0 < float(eps) < 1):
        raise InvalidInputError(f"need q > 0 and 0 < eps < 1, got q = {q!r}, eps = {eps!r}")
    lam = np.asarray(lam, dtype=float)
    if lam.ndim != 1 or np.any(lam <= 0) or np.any(np.diff(lam) <= 0):
        raise InvalidInputError("lam must be a 1-d ascending array of positive numbers")
    zn, wn = m.nodes(float(q))
    X = m.values(float(q), zn)[1] ** 2
    mu1 = float(np.dot(wn, X))
    m1 = (sw2 * mu1) ** L

    def psi(t):
        return np.dot(wn, t * X / (1 - t * X))

    def residual(t, z):
        w = psi(t)
        if weights == "gaussian":
            chi = w / (1 + w) * (t / (sw2 * w)) ** L
        else:
            chi = w / (1 + w) * (t * (1 + w) / (sw2 * w)) ** L
        return z * chi - 1, w

    def newton(t, z):
        """Damped Newton from ``t``; None when it does not settle."""
        for _ in range(60):
            f = residual(t, z)[0]
            h = 1e-7 * abs(t)
            df = (residual(t + h, z)[0] - residual(t - h, z)[0]) / (2 * h)
            step = f / df
            if not np.isfinite(step):
                return None
            if abs(step) > 0.3 * abs(t):         # stay near the continued branch
                step *= 0.3 * abs(t) / abs(step)
            t -= step
            if abs(step) < 1e-13 * abs(t):
                return t
        return None

    def walk(t, x0, x1, level=0):
        """Continue the solution from ``x0`` (with ``t``) to ``x1``, halving failed steps."""
        got = newton(t, x1 * (1 + 1j * eps))
        if got is not None:
            return got
        if level > 12:
            raise PrecisionError(f"the Stieltjes solve did not converge at lambda = {x1:.6g}")
        mid = math.sqrt(x0 * x1)
        return walk(walk(t, x0, mid, level + 1), mid, x1, level + 1)

    # continuation path: from far above the spectrum down to each lambda, at relative height eps
    top = max(float(lam[-1]), m1) * 50
    path = np.concatenate([np.geomspace(top, lam[-1], 60)[:-1], lam[::-1]])
    t = newton(complex(m1 / top / mu1), top * (1 + 1j * eps))    # w ~ m1/z, t ~ w/mu1
    if t is None:
        raise PrecisionError(f"the Stieltjes solve did not start at lambda = {top:.6g}")
    out, prev = {}, path[0]
    for x in path:
        try:
            t = walk(t, prev, x)
        except PrecisionError:
            out[x] = math.nan           # keep the last good t; the next point starts from it
            continue
        prev = x
        w = residual(t, x * (1 + 1j * eps))[1]
        out[x] = -((1 + w) / (x * (1 + 1j * eps))).imag / math.pi
    if any(math.isnan(out[x]) for x in lam[-max(1, len(lam) // 2):]):
        raise PrecisionError("the Stieltjes solve failed in the upper half of the lambda grid")
    return np.array([out[x] for x in lam])


__all__ = ["series_reversion", "s_transform", "moments_from_s_transform",
           "derivative_square_moments", "jacobian_spectrum_moments", "normalized_second_moment",
           "jacobian_spectrum_density"]
