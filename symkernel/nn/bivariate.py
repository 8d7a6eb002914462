r"""The bivariate normal CDF in float64, scaled by an exponential, and ELU's kernels through it
(docs/theory.md §25).

``bvn(h, k, r, s) = e^s Phi_2(h, k; r)``, ``Phi_2(h, k; r) = P(X < h, Y < k)`` for standard normals
with correlation ``r``: Genz's BVN algorithm (Genz, Statistics and Computing 2004, "Numerical
computation of rectangular bivariate and trivariate normal and t probabilities"; Drezner &
Wesolowsky, J. Stat. Comput. Simul. 1990): Gauss-Legendre with 6/12/20 nodes in ``asin r``
for ``|r| < 0.925``, else the expansion about ``|r| = 1`` plus 20 nodes.  The factor ``e^s`` is
added to the exponent of every term (``log Phi`` by ``erfc``, or its asymptotic series beyond
``erfc``'s range), so ``e^{b^2/2} Phi_2(.., -b; ..)`` stays finite where either factor alone
would overflow or underflow.

:func:`elu_kernels` gives ``F = E[psi(aX) psi(bY)]`` and ``D = E[psi'(aX) psi'(bY)]`` of
``psi(t) = p t (t > 0), v (e^t - 1) (t <= 0)``, five scaled ``Phi_2`` per call.

The functions are plain Python, compiled by numba when it is installed (the fused loops call
them); without numba they run as Python.

>>> round(float(bvn(0.0, 0.0, 0.5, 0.0)), 15) == round(1 / 4 + math.asin(0.5) / (2 * math.pi), 15)
True
"""
import math

import numpy as np

try:                                    # optional accelerator (pip install symkernel[fast])
    import numba as _numba

    def _jit(f):
        return _numba.njit(cache=True, nogil=True, error_model="numpy")(f)
except ImportError:                     # pragma: no cover
    def _jit(f):
        return f

#: the ELU family's closed form runs where every kappa^2 q lies here (else the series path): below,
#: its quadrants cancel (relative error ~ eps / (kappa^2 q)); above, Genz's Phi_2, accurate to
#: ~1e-16 absolute, is scaled by e^{kappa^2 q/2} (at 16: within 4.3e-15 relative of mpmath)
ELU_RANGE = (1e-2, 16.0)
_X6, _W6 = np.polynomial.legendre.leggauss(6)
_X12, _W12 = np.polynomial.legendre.leggauss(12)
_X20, _W20 = np.polynomial.legendre.leggauss(20)
_TWOPI = 2.0 * math.pi
_SQRT2PI = math.sqrt(2.0 * math.pi)
_LOGSQRT2PI = 0.5 * math.log(2.0 * math.pi)


@_jit
def log_ncdf_neg(h):
    """``log Phi(-h)``: ``log(erfc(h / sqrt 2) / 2)`` while erfc is normal, then the asymptotic
    series ``-h^2/2 - log(h sqrt(2 pi)) + log(1 - 1/h^2 + 3/h^4 - ... )`` (``h > 36.7``: the
    eighth term is below ``2e-17``)."""
    if h < 36.7:
        return math.log(0.5 * math.erfc(h / math.sqrt(2.0)))
    z = 1.0 / (h * h)
    ser = 1.0 - z * (1.0 - 3.0 * z * (1.0 - 5.0 * z * (1.0 - 7.0 * z * (1.0 - 9.0 * z * (
        1.0 - 11.0 * z * (1.0 - 13.0 * z))))))
    return -0.5 * h * h - math.log(h) - _LOGSQRT2PI + math.log(ser)


@_jit
def bvn(dh, dk, r, s):
    """``e^s Phi_2(dh, dk; r)`` (Genz 2004's BVN algorithm, every term scaled by ``e^s`` in its
    exponent); ``|r| <= 1``."""
    h = -dh
    k = -dk
    hk = h * k
    ar = abs(r)
    if ar < 0.925:
        if ar < 0.3:
            X, W = _X6, _W6
        elif ar < 0.75:
            X, W = _X12, _W12
        else:
            X, W = _X20, _W20
        hs = 0.5 * (h * h + k * k)
        asr = math.asin(r)
        tot = 0.0
        for i in range(X.size):
            sn = math.sin(0.5 * asr * (1.0 + X[i]))
            tot += W[i] * math.exp(s + (sn * hk - hs) / ((1.0 - sn) * (1.0 + sn)))
        out = tot * asr / (2.0 * _TWOPI) + math.exp(s + log_ncdf_neg(h) + log_ncdf_neg(k))
        return max(out, 0.0)
    if r < 0.0:
        k = -k
        hk = -hk
    res = 0.0
    if ar < 1.0:
        as_ = (1.0 - r) * (1.0 + r)
        a = math.sqrt(as_)
        bs = (h - k) * (h - k)
        c = (4.0 - hk) / 8.0
        d = (12.0 - hk) / 16.0
        asr = -0.5 * (bs / as_ + hk)
        res = a * math.exp(s + asr) * (1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0 + c * d * as_ * as_ / 5.0)
        b = math.sqrt(bs)
        if b > 0.0:
            res -= (math.exp(s - 0.5 * hk + log_ncdf_neg(b / a)) * _SQRT2PI * b
                    * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0))
        a2 = 0.5 * a
        for i in range(_X20.size):
            xs = (a2 + a2 * _X20[i]) ** 2
            rs = math.sqrt(1.0 - xs)
            ex = -0.5 * (bs / xs + hk)
            sp_ = 1.0 + c * xs * (1.0 + d * xs)
            res += a2 * _W20[i] * (math.exp(s + ex - hk * (1.0 - rs) / (2.0 * (1.0 + rs))) / rs
                                   - math.exp(s + ex) * sp_)
        res = -res / _TWOPI
    if r > 0.0:
        res += math.exp(s + log_ncdf_neg(max(h, k)))
    elif h >= k:
        res = -res
    else:                               # e^s P(h < X < k), without cancellation
        if h < 0.0:
            lk, lh = log_ncdf_neg(-k), log_ncdf_neg(-h)
            L = -math.exp(s + lk) * math.expm1(lh - lk)
        else:
            lh, lk = log_ncdf_neg(h), log_ncdf_neg(k)
            L = -math.exp(s + lh) * math.expm1(lk - lh)
        res = L - res
    return max(res, 0.0)


@_jit
def elu_kernels(a, b, r, p, v):
    r"""``(F, D)`` for ``psi(t) = p t`` (``t > 0``), ``v (e^t - 1)`` (``t <= 0``) of ``(aX, bY)``,
    ``X, Y`` standard normals with correlation ``r`` (docs/theory.md §25):

    ``D = p^2 P + p v (T_a + T_b) + v^2 T_ab``,
    ``F = p^2 a b (s + (pi - theta) r)/(2 pi) + p v (a (r b T_b + M_b) + b (r a T_a + M_a))
    + v^2 (T_ab - E_a - E_b + P)``

    with ``P = 1/2 - theta/(2 pi)``, ``s = sqrt(1 - r^2)``, ``theta = acos r``,
    ``T_b = e^{b^2/2} Phi_2(r b, -b; -r)``, ``E_b = e^{b^2/2} Phi_2(-r b, -b; r)``,
    ``M_b = (e^{b^2 s^2/2} Phi(-b s) - 1/2)/sqrt(2 pi)`` (and ``a`` for ``b``),
    ``T_ab = e^{(a^2 + b^2 + 2 r a b)/2} Phi_2(-(a + r b), -(b + r a); r)``.
    """
    s2 = (1.0 - r) * (1.0 + r)
    sq = math.sqrt(s2)
    th = math.atan2(sq, r)
    P = 0.5 - th / _TWOPI
    Ta = bvn(r * a, -a, -r, 0.5 * a * a)
    Tb = bvn(r * b, -b, -r, 0.5 * b * b)
    Tab = bvn(-(a + r * b), -(b + r * a), r, 0.5 * (a * a + b * b) + r * a * b)
    Ea = bvn(-a, -r * a, r, 0.5 * a * a)
    Eb = bvn(-r * b, -b, r, 0.5 * b * b)
    Ma = (math.exp(0.5 * a * a * s2 + log_ncdf_neg(a * sq)) - 0.5) / _SQRT2PI
    Mb = (math.exp(0.5 * b * b * s2 + log_ncdf_neg(b * sq)) - 0.5) / _SQRT2PI
    D = p * p * P + p * v * (Ta + Tb) + v * v * Tab
    F = (p * p * a * b * (sq + (math.pi - th) * r) / _TWOPI + p * v * (a * (r * b * Tb + Mb) + b * (r * a * Ta + Ma))
         + v * v * ((Tab - Ea - Eb) + P))
    return F, D


@_jit
def elu_kernels_many(a, b, r, p, v):
    """:func:`elu_kernels` over 1-D arrays ``a, b, r`` (same length): arrays ``(F, D)``.

    >>> F, D = elu_kernels_many(np.array([1.0]), np.array([1.0]), np.array([1.0]), 1.0, 1.0)
    >>> bool(abs(F[0] - elu_kernels(1.0, 1.0, 1.0, 1.0, 1.0)[0]) < 1e-15)
    True
    """
    F = np.empty(a.size)
    D = np.empty(a.size)
    for i in range(a.size):
        F[i], D[i] = elu_kernels(a[i], b[i], r[i], p, v)
    return F, D


__all__ = ["ELU_RANGE", "bvn", "elu_kernels", "elu_kernels_many", "log_ncdf_neg"]
