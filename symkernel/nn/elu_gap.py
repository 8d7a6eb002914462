r"""SELU and ELU with ``alpha != 1`` in the angle: the kernel step of the ELU family whose derivative
jumps at 0, with ``theta = arccos rho`` carried without cancellation (docs/theory.md §33).

``phi(x) = psi(kappa x)``, ``psi(t) = p t`` (t > 0), ``v (e^t - 1)`` (t <= 0), ``p != v`` (SELU:
Klambauer et al., NeurIPS 2017; ELU with alpha != 1: Clevert, Unterthiner & Hochreiter, ICLR 2016).
With ``w = p - v``, ``psi = v elu + w relu`` (``elu`` of alpha = 1), and of the three parts of
``D_psi = E[psi'(aX) psi'(bY)]`` only the ReLU-ReLU one, ``w^2 (1/2 - theta/(2 pi))`` (Cho & Saul,
NeurIPS 2009), has an infinite slope in ``rho`` at ``rho = 1``; the rest,
``S(rho) = D_psi - w^2 (1/2 - theta/(2 pi))``, is C^1 there, with (Price's theorem; ``psi'' = v e^t
[t < 0] + w delta(t)``)

``S'(rho) = a b v^2 E[e^{aX + bY}; X, Y < 0] + v w (a G(b s) + b G(a s)) / sqrt(2 pi)``,
``G(x) = e^{x^2/2} Phi(-x) <= 1/2``, so ``|S'| <= a b v^2 sqrt(G(2a) G(2b)) + |v w| (a + b) /
(2 sqrt(2 pi))`` (Cauchy-Schwarz).

So from the carried angle ``theta``:

* ``D_psi = D(cos theta) + w^2 (theta_r - theta) / (2 pi)``: the closed form at the float
  ``cos theta`` (:func:`~symkernel.nn.bivariate.elu_kernels_many`), whose ReLU-ReLU part used
  ``theta_r = arccos(fl(cos theta))`` (off by ``eps / sin theta``), moved to the carried angle;
* the gap ``Gamma = sqrt(F_11 F_22) - F(a, b, cos theta) = CS + a b int_0^theta D_psi(cos t) sin t dt``
  (``CS = sqrt(F_11 F_22) - F(a, b, 1)``, zero for equal variances), where
  ``int_0^theta (1/2 - t/(2 pi)) sin t dt = (pi (1 - cos theta) - (sin theta - theta cos theta))/(2 pi)``
  (:func:`relu_gap`, no cancellation) and ``S`` by Gauss-Legendre in ``t``; the output angle from
  ``Gamma = sqrt(F_11 F_22) (1 - cos theta')`` (:func:`symkernel.nn.angles.gap_angles`).

The fused loop (:func:`symkernel.nn.fused._elu_split_rows`) computes the same per entry, ``CS`` by
:func:`cs_row` and :func:`cs_entry` (compiled by numba when it is installed).

>>> import numpy as np
>>> float(relu_gap(np.array([np.pi]))[0]) == 0.5          # int_0^pi (1/2 - t/(2 pi)) sin t dt = 1/2
True
>>> g = relu_gap(np.array([1e-6]))[0]                      # ~ theta^2 / 4 (no cancellation)
>>> bool(abs(g / 2.5e-13 - 1) < 1e-6)
True
"""
import math

import numpy as np

from .angles import gap_angles
from .bivariate import elu_kernels_many, scaled_tails
from .fastmath import exp_parts

try:                                    # optional accelerator: the fused loop's helpers (symkernel.nn.fused)
    import numba as _numba

    def _jit(f):
        return _numba.njit(cache=True, nogil=True, error_model="numpy")(f)
except ImportError:                     # pragma: no cover
    def _jit(f):
        return f

_EPS = np.finfo(float).eps
_TWOPI = 2 * math.pi
#: Gauss-Legendre nodes per panel, most panels of the integral of ``S`` (:func:`smooth_integral`)
GL_NODES, MAX_PANELS = 8, 64
#: the gap ``sqrt(F_11 F_22) - F`` is integrated where it is below this fraction of ``sqrt(F_11 F_22)``
QUAD_BELOW = 0.05


def relu_gap(theta):
    """``int_0^theta (1/2 - t/(2 pi)) sin t dt = (pi (1 - cos theta) - (sin theta - theta cos theta)) /
    (2 pi)`` for ``0 <= theta <= pi``: ``1 - cos theta = 2 sin^2(theta/2)``, ``sin theta - theta
    cos theta`` by its Taylor series (``sum_n (-1)^{n+1} 2n theta^{2n+1} / (2n+1)!``, to
    ``theta^17``) below 1/2; every term a few ulp of its size, and the difference at most halves."""
    th = np.asarray(theta, float)
    z = th * th
    series = th * z * (1 / 3 - z * (1 / 30 - z * (1 / 840 - z * (1 / 45360 - z * (
        1 / 3991680 - z * (1 / 518918400 - z * (1 / 93405312000 - z / 22230464256000)))))))
    g = np.where(th < 0.5, series, np.sin(th) - th * np.cos(th))
    h = np.sin(th / 2)
    return (2 * math.pi * h * h - g) / _TWOPI


def slope_bound(s1, s2, p, v):
    """``|S'(rho)| <= a b v^2 sqrt(G(2a) G(2b)) + |v w| (a + b) / (2 sqrt(2 pi))`` on the outer grid of
    the gains ``s1`` (rows), ``s2`` (columns): Cauchy-Schwarz on ``E[e^{aX + bY}; X, Y < 0]``
    (``E[e^{2aX}; X < 0] = G(2a)``) and ``G <= 1/2`` (module docstring)."""
    s1, s2 = np.asarray(s1, float), np.asarray(s2, float)
    g1, g2 = scaled_tails(2 * s1), scaled_tails(2 * s2)
    return (v * v) * np.sqrt(np.multiply.outer(s1 * s1 * g1, s2 * s2 * g2)) \
        + abs(v * (p - v)) * np.add.outer(s1, s2) / (2 * math.sqrt(_TWOPI))


def smooth_part(A, B, r, p, v):
    """``S(r) = D_psi(r) - w^2 (1/2 - arccos(r)/(2 pi))`` on 1-D arrays (C^1 at ``r = 1``): the closed
    form's ``D`` less its ReLU-ReLU part at the same float ``r`` (so the ``eps / sin theta`` of
    ``arccos`` of a rounded ``r`` cancels; the two ``arccos`` differ by a few ulp of ``theta``)."""
    _, D = elu_kernels_many(A, B, r, float(p), float(v))
    th_r = np.arctan2(np.sqrt((1 - r) * (1 + r)), r)
    return D - (p - v) ** 2 * (0.5 - th_r / _TWOPI)


def smooth_integral(A, B, th, p, v):
    """``(int_0^theta S(cos t) sin t dt, error estimate)`` per entry of the 1-D arrays: Gauss-Legendre
    with 4 and with ``GL_NODES`` nodes on ``[0, theta]``; where they differ by more than 4 ulps,
    ``GL_NODES`` nodes on 2, 4, ... panels until two successive rules agree (at most MAX_PANELS).
    The estimate is the difference of the last two rules."""
    def rule(nodes, panels, idx):
        x, w = np.polynomial.legendre.leggauss(nodes)
        u = ((np.arange(panels)[:, None] + (x[None, :] + 1) / 2) / panels).ravel()
        wu = np.tile(w / (2 * panels), panels)
        t = (th[idx][None, :] * u[:, None])
        k = t.shape[0]
        S = smooth_part(np.tile(A[idx], k), np.tile(B[idx], k), np.cos(t).ravel(), p, v).reshape(t.shape)
        return th[idx] * (wu @ (S * np.sin(t)))

    every = np.arange(th.size)
    old = rule(4, 1, every)
    new = rule(GL_NODES, 1, every)
    err = np.abs(new - old)
    todo = np.nonzero(err > 4 * _EPS * np.abs(new))[0]
    panels = 1
    while todo.size and panels < MAX_PANELS:
        panels *= 2
        finer = rule(GL_NODES, panels, todo)
        err[todo] = np.abs(finer - new[todo])
        new[todo] = finer
        todo = todo[err[todo] > 4 * _EPS * np.abs(finer)]
    return new, err


def _negative_nodes():
    """Composite Gauss-Legendre nodes on ``[-12, 0]`` (panels graded toward 0, 16 nodes each) and
    weights times the normal density: ``E[g(X); X < 0] ~ sum_k W_k g(x_k)`` (``Phi(-12) < 2e-33``)."""
    edges = np.array([-12.0, -9.0, -6.0, -4.0, -3.0, -2.0, -1.0, -0.5, 0.0])
    x, w = np.polynomial.legendre.leggauss(16)
    lo, hi = edges[:-1, None], edges[1:, None]
    t = ((lo + hi) / 2 + (hi - lo) / 2 * x).ravel()
    return t, ((hi - lo) / 2 * w).ravel() * np.exp(-t * t / 2) / math.sqrt(_TWOPI)


_XN, _WN = _negative_nodes()
#: nodes of :func:`cs_gap`'s rule (the workspace size of :func:`cs_row`, :func:`cs_entry`)
CS_NODES = _XN.size
#: entries per block of :func:`cs_gap`
_CHUNK = 4096


def cs_gap(s1, s2, i, j, M, P, p, v):
    """``(CS, error estimate)`` at the entries ``(i, j)`` of the outer grid of the gains ``s1`` (rows),
    ``s2`` (columns): ``CS = sqrt(F(a, a, 1) F(b, b, 1)) - F(a, b, 1)`` (the Cauchy-Schwarz gap of
    ``f_a = psi(aX)``, ``f_b``; ``a = s1[i]``, ``b = s2[j]``) without cancellation for ``a`` near
    ``b``; ``M = F(a, b, 1)``, ``P ~ sqrt(F(a, a, 1) F(b, b, 1))`` (1-D arrays).  With
    ``f_a = a e + Q_a``, ``e = p X^+``, ``Q_a = v (e^{aX} - 1) [X < 0]`` (disjoint supports,
    ``|e|^2 = p^2/2``) and ``h = b - a``:

    ``F_aa F_bb - M^2 = (p^2/2) |a Q_b - b Q_a|^2 + |Q_a|^2 |dQ - c Q_a|^2``,
    ``dQ = Q_b - Q_a = v e^{aX} expm1(hX)``, ``c = <Q_a, dQ>/|Q_a|^2``,
    ``a Q_b - b Q_a = a dQ - h Q_a`` (every function computed to a few ulp pointwise: ``expm1``),
    and ``CS = (F_aa F_bb - M^2) / (P + M)``; the expectations over ``X < 0`` by Gauss-Legendre
    (:func:`_negative_nodes`).  Estimate: ``32 eps CS (1 + 1/sin)``, ``sin`` that of the angle between
    ``Q_a`` and ``dQ`` (the residual ``dQ - c Q_a`` keeps that relative accuracy)."""
    x = _XN[:, None]
    E1 = v * np.exp(s1[None, :] * x)                 # per row: v e^{aX} and Q_a at the nodes
    Q1 = v * np.expm1(s1[None, :] * x)
    W1 = _WN @ (Q1 * Q1)
    cs, amp = np.empty(i.size), np.empty(i.size)
    for lo in range(0, i.size, _CHUNK):           # blocks of entries bound the (nodes x entries) arrays
        ii, jj = i[lo:lo + _CHUNK], j[lo:lo + _CHUNK]
        a, h = s1[ii], s2[jj] - s1[ii]
        qa = Q1[:, ii]
        dq = E1[:, ii] * np.expm1(h * x)
        Waa = W1[ii]
        Wad = _WN @ (qa * dq)
        Wdd = _WN @ (dq * dq)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(Waa > 0, Wad / Waa, 0.0)
            res = dq - c * qa
            t1 = a * dq - h * qa
            gram = (p * p / 2) * (_WN @ (t1 * t1)) + Waa * (_WN @ (res * res))
            cs[lo:lo + _CHUNK] = np.maximum(gram / (P[lo:lo + _CHUNK] + M[lo:lo + _CHUNK]), 0.0)
            sin2 = np.where(Waa * Wdd > 0, 1 - Wad * Wad / (Waa * Wdd), 1.0)
            amp[lo:lo + _CHUNK] = 1 + 1 / np.sqrt(np.maximum(sin2, _EPS))
    return cs, 32 * _EPS * cs * amp


@_jit
def cs_row(a, v, E1, Q1):
    """The row's part of :func:`cs_entry`: ``E1 = v e^{a X}``, ``Q1 = v expm1(a X)`` at the nodes of
    :func:`cs_gap` (filled in), and ``|Q_a|^2`` (returned)."""
    W1 = 0.0
    for t in range(_XN.size):
        E1[t] = v * math.exp(a * _XN[t])
        Q1[t] = v * math.expm1(a * _XN[t])
        W1 += _WN[t] * (Q1[t] * Q1[t])
    return W1


@_jit
def cs_entry(a, h, p, P, E1, Q1, W1, DQ):
    """``CS = sqrt(F_aa F_bb) - F(a, b, 1)`` at ``b = a + h`` by :func:`cs_gap`'s Gram determinant (one
    entry, the fused loop's form): ``E1, Q1, W1`` from :func:`cs_row`, ``P = sqrt(F_aa F_bb)``, ``DQ`` a
    workspace of the nodes' size; ``CS = gram / (P + sqrt(P^2 - gram))`` (``F_ab = sqrt(P^2 - gram)``),
    ``expm1(h X)`` by :func:`symkernel.nn.fastmath.exp_parts` (the loop over the nodes vectorizes).

    >>> E1, Q1, DQ = np.empty(CS_NODES), np.empty(CS_NODES), np.empty(CS_NODES)
    >>> W1 = cs_row(1.0, 1.0, E1, Q1)
    >>> float(cs_entry(1.0, 0.0, 1.0, 1.0, E1, Q1, W1, DQ))       # equal variances: 0
    0.0
    """
    for t in range(_XN.size):
        p2, er = exp_parts(h * _XN[t])
        DQ[t] = E1[t] * (p2 * er + (p2 - 1.0))     # v e^{a X} expm1(h X)
    w0 = w1 = w2 = w3 = 0.0          # four partial sums, independent chains (CS_NODES = 128, a multiple of 4)
    for t in range(0, _XN.size, 4):
        w0 += _WN[t] * (Q1[t] * DQ[t])
        w1 += _WN[t + 1] * (Q1[t + 1] * DQ[t + 1])
        w2 += _WN[t + 2] * (Q1[t + 2] * DQ[t + 2])
        w3 += _WN[t + 3] * (Q1[t + 3] * DQ[t + 3])
    wad = (w0 + w1) + (w2 + w3)
    cc = wad / W1 if W1 > 0.0 else 0.0
    s1 = s2 = u1 = u2 = 0.0
    for t in range(0, _XN.size, 2):
        res = DQ[t] - cc * Q1[t]
        t1 = a * DQ[t] - h * Q1[t]
        s1 += _WN[t] * (t1 * t1)
        s2 += _WN[t] * (res * res)
        res = DQ[t + 1] - cc * Q1[t + 1]
        t1 = a * DQ[t + 1] - h * Q1[t + 1]
        u1 += _WN[t + 1] * (t1 * t1)
        u2 += _WN[t + 1] * (res * res)
    gram = (p * p / 2) * (s1 + u1) + W1 * (s2 + u2)
    return max(gram / (P + math.sqrt(max(P * P - gram, 0.0))), 0.0)


def elu_theta_step(p, v, kappa, q1, q2, th, dth):
    """``(F, D, eF, eD, theta', dtheta')`` of ``phi(x) = psi(kappa x)`` on the outer grid ``q1`` (n1,) x
    ``q2`` (n2,) at the input angles ``th`` (error bounds ``dth``), as
    :meth:`symkernel.nn.pair.PairKernel.float_theta_step` (module docstring).  Bounds: the closed
    form's rounding (``8 eps S_F``, ``32 eps kappa^2 (p + v)^2``, docs/theory.md §27), the slopes
    ``|dF/dtheta| = a b |D_psi| sin theta`` and ``|dD_psi/dtheta| <= w^2/(2 pi) + |S'| sin theta``
    times ``dth`` (and the second order of F), the rounding of ``cos theta``, and for the gap the
    quadrature's estimate, the rounding of ``S`` at the nodes and of ``CS``."""
    p, v, kappa = float(p), float(v), float(kappa)
    w2 = (p - v) ** 2
    k2 = kappa * kappa
    s1, s2 = kappa * np.sqrt(np.asarray(q1, float)), kappa * np.sqrt(np.asarray(q2, float))
    shape = th.shape
    A = np.broadcast_to(s1[:, None], shape).ravel()
    B = np.broadcast_to(s2[None, :], shape).ravel()
    t = np.ascontiguousarray(th, float).ravel()
    dt = np.ascontiguousarray(dth, float).ravel()
    r = np.cos(t)
    F, Dr = elu_kernels_many(A, B, r, p, v)
    th_r = np.arctan2(np.sqrt((1 - r) * (1 + r)), r)
    Dpsi = Dr + w2 * (th_r - t) / _TWOPI
    sin_t = np.sin(t)
    AB = A * B
    Sb = slope_bound(s1, s2, p, v).ravel()
    absD = np.abs(Dpsi)
    slope = AB * absD * sin_t                                   # |dF/dtheta| (Price)
    own = 8 * _EPS * (p * p * AB + p * v * (A + B) + v * v) + 2 * _EPS * AB * (absD + Sb)
    # |F(t + d) - F(t)| <= a b max|D_psi| |cos t - cos(t + d)| <= a b (|D_psi| + |D_psi'| d) (d sin t + d^2/2)
    second = AB * (absD + (w2 / _TWOPI + Sb) * dt) * dt * dt / 2 + (w2 / _TWOPI + Sb) * AB * sin_t * dt * dt
    eF = own + slope * dt + second + 8 * _EPS * np.abs(F)
    eDpsi = 32 * _EPS * (p + v) ** 2 + (w2 / _TWOPI + Sb * sin_t) * dt + 2 * _EPS * Sb \
        + 8 * _EPS * w2 * t
    D = k2 * Dpsi
    eD = k2 * eDpsi + 8 * _EPS * np.abs(D)
    # the output angle: Gamma = P' (1 - cos theta')
    f1 = elu_kernels_many(s1, s1, np.ones_like(s1), p, v)[0]     # E phi^2, as the diagonal's step
    f2 = elu_kernels_many(s2, s2, np.ones_like(s2), p, v)[0]
    P = np.sqrt(np.multiply.outer(f1, f2)).ravel()
    gap = P - F
    dgap = eF + 4 * _EPS * P
    idx = np.nonzero(gap < QUAD_BELOW * P)[0]
    if idx.size:
        ai, bi, ti = A[idx], B[idx], t[idx]
        cs, cs_err = np.zeros(idx.size), np.zeros(idx.size)
        k = np.nonzero(ai != bi)[0]                               # equal variances: CS = 0
        if k.size:
            M = elu_kernels_many(ai[k], bi[k], np.ones(k.size), p, v)[0]
            rows, cols = np.divmod(idx[k], shape[1])
            cs[k], cs_err[k] = cs_gap(s1, s2, rows, cols, M, P[idx][k], p, v)
        rg = w2 * relu_gap(ti)
        si, serr = smooth_integral(ai, bi, ti, p, v)
        one_minus_cos = 2 * np.sin(ti / 2) ** 2
        gap[idx] = cs + AB[idx] * (rg + si)
        dgap[idx] = slope[idx] * dt[idx] + second[idx] \
            + AB[idx] * (serr + 16 * _EPS * (np.abs(si) + rg)
                         + (32 * _EPS * (p + v) ** 2 + 4 * _EPS * Sb[idx]) * one_minus_cos) \
            + cs_err
    th2, dth2 = gap_angles(gap.reshape(shape), dgap.reshape(shape), P.reshape(shape))
    return (F.reshape(shape), D.reshape(shape), eF.reshape(shape), eD.reshape(shape), th2, dth2)


__all__ = ["CS_NODES", "GL_NODES", "MAX_PANELS", "QUAD_BELOW", "cs_entry", "cs_gap", "cs_row", "elu_theta_step",
           "relu_gap", "slope_bound", "smooth_integral", "smooth_part"]
