r"""Fused float64 kernels of ``Dense -> phi`` stacks: every layer of one entry in one compiled loop
(docs/theory.md §14).

For a network made only of ``Dense`` layers and activations of one of the families below,
``net.kernel(x1, x2)`` (float64, ``errors=False``) runs the whole depth per entry in a loop compiled
by numba (an optional accelerator, ``pip install symkernel[fast]``; without it, or for any other
network, the NumPy path of :mod:`symkernel.nn.network` runs).  Rows are split between threads
(``nogil``); with ``x2`` omitted only the triangle ``j >= i`` is computed.

* **Piecewise linear, positively homogeneous** ``phi(x) = u max(x, 0) + v min(x, 0)`` with
  ``u v >= 0`` (ReLU, leaky ReLU): with ``A = (u^2 + v^2)/2``, ``B = (u - v)^2/(2 pi)`` and the
  angle ``theta`` of the layer's input (Cho & Saul, NeurIPS 2009, generalized to two slopes)

  ``D = A - B theta``, ``F = sqrt(q_1 q_2) (B sin theta + D cos theta)``,
  ``1 - cos theta' = (1 - cos theta) - (B/A) (sin theta - theta cos theta)``.

  The state of an entry is ``(c, sin theta, 1 - cos theta)``; ``Dense(w, b)`` maps it by
  ``q_1' q_2' - c'^2 = w^2 P^2 sin^2 theta + w b ((sqrt p_1 - sqrt p_2)^2 + 2 P (1 - cos theta))``
  (``P = sqrt(p_1 p_2)``, every term nonnegative) and ``1 - cos theta' = y^2 / (R (R + c'))``
  (``y^2`` that difference, ``R = sqrt(q_1' q_2')``), so no step cancels.  The one transcendental
  per entry and layer is ``theta = atan2(sin theta, cos theta)`` (below); ``sin theta - theta cos theta``
  by its Taylor series (to ``theta^17``) below ``theta = 1/2``.
* **erf** ``phi(x) = g erf(s x)`` (Williams, NeurIPS 1997), in the covariance (smooth at ``rho = 1``):
  ``F = (2 g^2 / pi) asin(z)``, ``D = (4 g^2 s^2 / pi) e_1 e_2 / sqrt((1 - z)(1 + z))`` with
  ``e = (1 + 2 s^2 q)^{-1/2}``, ``z = 2 s^2 c e_1 e_2``; ``asin(z) = atan2(z, sqrt((1 - z)(1 + z)))``.
* **GELU** ``x Phi(x)``: :func:`gelu_kernels` (Tsuchida et al., AAAI 2021; ``D`` by Price's theorem).
* **sin** ``g sin(s x)``: ``F = g^2 e_1 e_2 sinh(s^2 c)``, ``D = g^2 s^2 e_1 e_2 cosh(s^2 c)``,
  ``e = exp(-s^2 q / 2)``; ``exp`` by Cody-Waite reduction and Cephes' rational ``expm1``.
* **other closed forms smooth at** ``rho = 1`` (``D`` with zero slope in ``theta`` there: cos, ...):
  the closed forms lambdified to the math module and compiled with the loop (once per
  activation and process), in ``rho`` as on the NumPy path;
* **ELU family** ``u x`` (x > 0), ``v (e^{kappa x} - 1)``, ``u = v kappa`` (ELU, CELU): the closed form through the
  bivariate normal CDF (docs/theory.md §25), vectorized across the entries of a block,
  :func:`symkernel.nn.bivariate.elu_block` (§28), where every ``kappa^2 q`` lies in :data:`ELU_RANGE`
  (else the NumPy path); with ``u != v kappa`` (SELU, ELU with alpha != 1) ``D`` has a
  ``sqrt(1 - rho)`` term, and :func:`_elu_split_rows` carries the angle as for ReLU, the output gap
  integrated where ``P' - F`` would cancel (docs/theory.md §33);
* **no closed form** (tanh, softplus, SiLU, ...): Mehler's series, :mod:`symkernel.nn.mehler_fused`
  (``plan`` marks them ``MEHLER``).

Speed (docs/theory.md §21): each entry's state is kept in blocks of :data:`BLOCK` entries of a row
that go through every layer together, in branch-free inner loops (selects) that LLVM vectorizes
(AVX2: four entries per instruction).  numba without Intel's SVML calls the scalar ``libm`` for
``atan2``, ``asin`` and ``expm1``, which stops vectorization, so the loops evaluate them by
polynomials written out: ``atan2(y, x)`` of ``y, x >= 0`` as ``atan(t)``, ``t = min/max <= 1``,
by Cephes' rational approximation on ``t <= 0.66`` and ``pi/4 + atan((t - 1)/(t + 1))`` above
(``num - den`` exact there), ``pi/2`` added in two parts; tested within 3 ulp of ``math.asin``
and mpmath on a dense grid (``tests/test_nn_fast_loops.py``).  For at most :data:`GRAM_IN_LOOP`
features the loops also compute the Gram matrix ``x_1 x_2^T / d`` themselves.

Accuracy: no step cancels, so each adds a few roundings relative to its result; how the errors
of earlier layers propagate is the conditioning of the recursion, the same on every path, which
the NumPy path's first-order per-entry bounds measure.  This path computes no bounds
(``errors=True`` takes the NumPy path): its accuracy is established by tests, not proven --
against the dps=30 path at depth 100 in the ordered phase (<= 1e-13 relative on every entry,
``tests/test_nn_angles.py``) and against the NumPy path within its bounds plus ``4 L eps``
(``tests/test_nn_fused.py``; SELU also against a 120-bit reference, ``tests/test_nn_selu_gap.py``).

>>> import symkernel as sk
>>> kind, ops = plan(sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("relu"), sk.nn.Dense(1.0, 0.0)))
>>> [op[0] for op in ops], ops[1][1] == (0.5, 1 / (2 * math.pi))       # ReLU: A = 1/2, B = 1/(2 pi)
(['dense', 'act', 'dense'], True)
"""
import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import sympy as sp

from symkernel.core.activations import Activation as CoreActivation
from symkernel.core.symbols import rho, x
from .bivariate import ELU_RANGE, NGROUPS, NWORK, elu_block, elu_kernels_many, scaled_tails
from .elu_gap import CS_NODES, QUAD_BELOW, cs_entry, cs_row
from .fastmath import _MB, _PIO2, _inline, atan2_fast, atan_ratio, exp_parts
from .layers import Activation, Dense
from .pair import a as pa, b as pb, pair_kernel

#: variances whose products stay in float64's normal range
VARIANCE_RANGE = (float(np.sqrt(np.finfo(float).tiny)), float(np.sqrt(np.finfo(float).max)))
#: threads of the fused loop (rows are dealt round-robin)
THREADS = max(1, min(4, os.cpu_count() or 1))
#: at most this many features: the loops compute the Gram matrix themselves (else BLAS, before them)
GRAM_IN_LOOP = 32
#: entries of a row processed together through every layer (their state stays in the L1 cache)
BLOCK = 256
#: below this theta, sin(theta) - theta cos(theta) by its Taylor series (a literal in the loop)
GAP_SERIES = 0.5

#: Gauss-Legendre rules of the smooth part's integral in :func:`_elu_split_rows`: ``(nodes, x_max)``, the first
#: row with ``theta max(1, a, b) <= x_max``; beyond the last, panels of its width (each rule at its ``x_max``
#: within 1.5e-15 of the gap against 16 nodes on 4 panels, ``a, b`` in [0.1, 4]; docs/theory.md §33)
SPLIT_RULE = np.array([[4.0, 0.04], [5.0, 0.12], [6.0, 0.3], [7.0, 0.5], [8.0, 1.0]])
#: most nodes of one entry's integral (``theta max(1, a, b) <= 4 pi``: 13 panels of 8)
SPLIT_NODES_MAX = 128

_PWL, _ERF, _SMOOTH, MEHLER, _GELU, _SIN, _ELU, _ELUS = 1, 2, 3, 4, 5, 6, 7, 8
_TWOPI = 2.0 * math.pi


# -- the loops (plain Python, compiled by numba on first use; see _compiled) -------------------------
# -- the angle state shared by the loops that carry it (_pwl_rows, _elu_split_rows) ------------------
@_inline
def _block_state(i, jb, m, same, K0, X1, X2T, N1, U, V, rn1, RN2, c, T, vs, sn):
    """The input state of entries ``jb .. jb + m - 1`` of row ``i``: ``c = x_1.x_2/d`` (``K0``, or from
    ``X1`` and ``X2T = X2^T`` when ``K0`` is empty), ``T = 0``, ``1 - cos theta = 1 - rho`` and
    ``sin theta`` where ``|rho| <= 0.9``, else from the unit rows ``U, V``: ``|u - v|^2/2`` and
    ``|u - v| |u + v| / 2`` (no cancellation); an input with itself exactly ``theta = 0``."""
    d = U.shape[1]
    if K0.shape[0] == 0:         # few features: the Gram matrix x1 x2^T / d here
        for k in range(m):
            c[k] = 0.0
        for f in range(X1.shape[1]):
            xf = X1[i, f]
            for k in range(m):
                c[k] += xf * X2T[f, jb + k]
        for k in range(m):
            c[k] /= X1.shape[1]
    else:
        for k in range(m):
            c[k] = K0[i, jb + k]
    if same and jb == i:         # an input with itself: its squared norm / d, bit for bit
        c[0] = N1[i]
    for k in range(m):
        r = min(max(c[k] * (rn1 * RN2[jb + k]), -1.0), 1.0)
        v = 1.0 - r
        T[k] = 0.0
        vs[k] = v
        sn[k] = math.sqrt(v * (1.0 + r))
    for k in range(m):           # nearly (anti-)parallel rows: from the unit rows, no cancellation
        if vs[k] < 0.1 or vs[k] > 1.9:
            j = jb + k
            du = 0.0
            su = 0.0
            for f in range(d):
                e = U[i, f] - V[j, f]
                g = U[i, f] + V[j, f]
                du += e * e
                su += g * g
            vs[k] = du / 2
            sn[k] = math.sqrt(du * su) / 2
    if same and jb == i:
        vs[0] = 0.0
        sn[0] = 0.0


@_inline
def _dense_angle(m, wl, bl, wb, ir1, p1, s1, P2, SP2, IR2, c, T, vs, sn):
    """``Dense(wl, bl)`` on the state ``(c, T, sin theta, 1 - cos theta)`` of ``m`` entries (``P2``,
    ``SP2``, ``IR2`` from the block's first column on): ``q_1' q_2' - c'^2 = w^2 P^2 sin^2 theta +
    w b ((sqrt p_1 - sqrt p_2)^2 + 2 P (1 - cos theta))``, every term nonnegative, and
    ``1 - cos theta' = y^2 / (R (R + c'))`` (docs/theory.md §13, §14)."""
    for k in range(m):
        p2, s2 = P2[k], SP2[k]
        P = s1 * s2
        cn = wl * c[k] + bl
        T[k] = cn + wl * T[k]
        dd = (p1 - p2) / (s1 + s2)
        u = wl * P * sn[k]
        y = math.sqrt(max(u * u + wb * (dd * dd + 2.0 * P * vs[k]), 0.0))
        iR = ir1 * IR2[k]
        c[k] = cn
        sn[k] = min(y * iR, 1.0)
        pos = cn > 0.0
        top = y * y * iR if pos else 1.0 - cn * iR          # R (1 - cos), R = 1/iR
        bot = 1.0 + cn * iR if pos else 1.0
        vs[k] = top * iR / bot if pos else top


def _pwl_rows(start, step, same, K0, X1, X2T, N1, U, V, RN1, RN2, kind, w, b, P1, P2, SP1, SP2, IR1, IR2, IS2,
              A, B, NN, NT):
    """Rows ``start, start + step, ...`` of the stack (``kind[l]``: 0 Dense(w[l], b[l]), 1 the
    piecewise-linear activation with ``A[l], B[l]``; ``P1[l], P2[l]``: variances entering op l,
    ``SP`` their square roots, ``IR1[l], IR2[l]`` the reciprocal square roots of the variances
    leaving it; ``IS2 = 1/SP2``).  The input state: ``c = x_1.x_2/d`` (``K0``, or computed here from
    ``X1`` and ``X2T = X2^T`` when ``K0`` is empty), ``1 - cos theta = 1 - rho`` and ``sin theta``
    where ``|rho| <= 0.9``, else from the unit rows ``U, V``: ``|u - v|^2/2`` and
    ``|u - v| |u + v| / 2`` (no cancellation).  The inner loops are branch-free (selects), so that
    they vectorize."""
    n1, n2 = NN.shape
    d = U.shape[1]
    last = 0
    for l in range(kind.size):
        if kind[l] != 0:
            last = l
    c = np.empty(BLOCK)
    T = np.empty(BLOCK)
    sn = np.empty(BLOCK)
    vs = np.empty(BLOCK)
    for i in range(start, n1, step):
        j0 = max(i, 0) if same else 0
        rn1 = RN1[i]
        for jb in range(j0, n2, BLOCK):
            jb = max(jb, 0)              # provably >= 0: no index wraparound, so the loops vectorize
            m = min(BLOCK, n2 - jb)
            _block_state(i, jb, m, same, K0, X1, X2T, N1, U, V, rn1, RN2, c, T, vs, sn)
            for l in range(kind.size):
                p1, s1 = P1[l, i], SP1[l, i]
                if kind[l] == 0 and l > last:    # no activation follows: no angle needed
                    wl, bl = w[l], b[l]
                    for k in range(m):
                        cn = wl * c[k] + bl
                        T[k] = cn + wl * T[k]
                        c[k] = cn
                elif kind[l] == 0:
                    wl, bl, ir1 = w[l], b[l], IR1[l, i]
                    wb = wl * bl
                    _dense_angle(m, wl, bl, wb, ir1, p1, s1, P2[l, jb:], SP2[l, jb:], IR2[l, jb:], c, T, vs, sn)
                else:
                    Al, Bl = A[l], B[l]
                    kap = Bl / Al
                    is1 = 1.0 / s1
                    for k in range(m):
                        j = jb + k
                        s = sn[k]
                        ck = c[k]
                        xc = min(max(ck * (is1 * IS2[l, j]), -1.0), 1.0)
                        xc = xc if s != 0.0 else (1.0 if ck >= 0.0 else -1.0)
                        th = atan2_fast(s, xc)                  # theta in [0, pi], within 3 ulp
                        zt = th * th
                        gs = th * zt * (1.0 / 3 - zt * (1.0 / 30 - zt * (1.0 / 840 - zt * (1.0 / 45360 - zt * (
                            1.0 / 3991680 - zt * (1.0 / 518918400 - zt * (1.0 / 93405312000 - zt * (
                                1.0 / 22230464256000))))))))
                        gap = gs if th < 0.5 else s - th * xc
                        D = Al - Bl * th
                        T[k] *= D
                        c[k] = s1 * SP2[l, j] * (Bl * s + xc * D)
                        v = min(max(vs[k] - kap * gap, 0.0), 2.0)
                        vs[k] = v
                        sn[k] = math.sqrt(v * (2.0 - v))
            for k in range(m):
                NN[i, jb + k] = c[k]
                NT[i, jb + k] = T[k]


def _cov_rows(start, step, same, fam, K0, X1, X2T, N1, kind, w, b, G, S2, R1a, R1b, R2a, R2b, P1, P2, QA1, NN, NT):
    """Rows of a ``Dense -> phi`` stack in the covariance ``c`` (``fam``: the activation's family;
    ``G[l], S2[l]`` its ``g^2, s^2``; ``R1a, R1b`` (rows) and ``R2a, R2b`` (columns) per-input
    factors of op l: erf ``(1 + 2 s^2 q)^{-1/2}``; GELU ``q`` and ``1/(1 + q)``; sin
    ``exp(-s^2 q/2)``; ``P1[l], P2[l]`` the variances entering op l and ``QA1[l]`` those leaving it,
    which an entry with ``c = q_1 = q_2`` (two equal inputs: rho = 1) takes, as do the entries of an input with
    itself take, so that rho = 1 is kept exactly where it is unstable, in the chaotic phase)."""
    n1, n2 = NN.shape
    c = np.empty(BLOCK)
    T = np.empty(BLOCK)
    Z = np.empty(BLOCK)
    Rt = np.empty(BLOCK)
    TH = np.empty(BLOCK)
    Y2 = np.empty(BLOCK)
    C0 = np.empty(BLOCK)
    for i in range(start, n1, step):
        j0 = max(i, 0) if same else 0
        for jb in range(j0, n2, BLOCK):
            jb = max(jb, 0)              # provably >= 0: no index wraparound, so the loops vectorize
            m = min(BLOCK, n2 - jb)
            if K0.shape[0] == 0:         # few features: the Gram matrix x1 x2^T / d here
                for k in range(m):
                    c[k] = 0.0
                for f in range(X1.shape[1]):
                    xf = X1[i, f]
                    for k in range(m):
                        c[k] += xf * X2T[f, jb + k]
                for k in range(m):
                    c[k] /= X1.shape[1]
            else:
                for k in range(m):
                    c[k] = K0[i, jb + k]
            if same and jb == i:         # an input with itself: its squared norm / d, bit for bit
                c[0] = N1[i]
            for k in range(m):
                T[k] = 0.0
            for l in range(kind.size):
                if kind[l] == 0:
                    wl, bl = w[l], b[l]
                    for k in range(m):
                        cn = wl * c[k] + bl
                        T[k] = cn + wl * T[k]
                        c[k] = cn
                    continue
                p1 = P1[l, i]
                for k in range(m):
                    C0[k] = c[k]
                if fam == _SIN:          # g sin(s x): F = g^2 e_1 e_2 sinh(s^2 c), D = g^2 s^2 e_1 e_2 cosh(s^2 c)
                    fF = G[l] * R1a[l, i]
                    fD = fF * S2[l]
                    for k in range(m):
                        # E = exp(x) = 2^n (1 + er) and em = expm1(x), |x| <= 700 (fastmath.exp_parts:
                        # Cody-Waite reduction, Cephes' expm1, 2^n from the bits)
                        p2, er = exp_parts(S2[l] * c[k])
                        E = p2 + p2 * er
                        em = p2 * er + (p2 - 1.0)
                        e2 = R2a[l, jb + k]
                        T[k] *= fD * e2 * (0.5 * (E + 1.0 / E))
                        c[k] = fF * e2 * (0.5 * (em + em / E))
                else:                    # erf and GELU: an angle atan2(|z|, r) per entry
                    r1a, r1b = R1a[l, i], R1b[l, i]
                    if fam == _ERF:          # z = 2 s^2 c e_1 e_2, r = sqrt(1 - z^2)
                        s2 = S2[l]
                        kz = 2.0 * s2 * r1a
                        p1 = P1[l, i]
                        for k in range(m):
                            cc = c[k]
                            e2 = R2a[l, jb + k]
                            z = min(max(kz * cc * e2, -1.0), 1.0)
                            Z[k] = z
                            # an input with itself (c = q_1 = q_2): 1 - z = e^2 would cancel (found in
                            # review: the NTK diagonal lost 6e-11 at variance 1e3, 93 % at 1e9); there
                            # 1 - z^2 = e^4 (1 + 4 s^2 q) exactly
                            same_in = cc == p1 and P2[l, jb + k] == p1
                            Rt[k] = (r1a * e2 * math.sqrt(1.0 + 4.0 * s2 * p1) if same_in
                                     else math.sqrt((1.0 - z) * (1.0 + z)))
                    else:                    # GELU: asin(c / sqrt(s_1 s_2)) = atan2(c, N), N^2 = s_1 s_2 - c^2
                        for k in range(m):
                            cc = c[k]
                            q2 = R2a[l, jb + k]
                            y2 = max(r1a * q2 - cc * cc, 0.0)
                            Y2[k] = y2
                            Z[k] = cc
                            Rt[k] = math.sqrt((1.0 + r1a + q2) + y2)
                    for k in range(m):
                        z, r = Z[k], Rt[k]                      # atan2(|z|, r), r >= 0
                        az = abs(z)
                        big = az > r
                        a = atan_ratio(r if big else az, az if big else r)
                        th = _PIO2 + (_MB - a) if big else a
                        TH[k] = th if z >= 0.0 else -th
                    if fam == _ERF:          # F = (2 g^2/pi) asin(z), D = (4 g^2 s^2/pi) e_1 e_2 / sqrt(1 - z^2)
                        fF = 2.0 / math.pi * G[l]
                        fD = 2.0 * S2[l] * fF * r1a
                        for k in range(m):
                            T[k] *= fD * R2a[l, jb + k] / Rt[k]
                            c[k] = fF * TH[k]
                    else:                    # GELU (gelu_kernels)
                        for k in range(m):
                            cc, th, r, y2 = c[k], TH[k], Rt[k], Y2[k]
                            h = r1b + R2b[l, jb + k]
                            N2 = (1.0 + r1a + R2a[l, jb + k]) + y2
                            ir = 1.0 / r
                            T[k] *= 0.25 + (th + cc * (1.0 + h * N2) * (ir * ir * ir)) / (2.0 * math.pi)
                            c[k] = 0.25 * cc + (cc * th + (y2 + cc * cc * h) * ir) / (2.0 * math.pi)
                for k in range(m):       # two equal inputs (rho = 1): the variance, bit for bit (rho = 1 stays 1)
                    if C0[k] == p1 and P2[l, jb + k] == p1:
                        c[k] = QA1[l, i]
            for k in range(m):
                NN[i, jb + k] = c[k]
                NT[i, jb + k] = T[k]


def _mirror(M):
    """``M[j, i] = M[i, j]`` for ``j > i`` (the triangle to the square), in tiles that stay in cache."""
    n = M.shape[0]
    for ib in range(0, n, 64):
        for jb in range(ib, n, 64):
            for i in range(ib, min(ib + 64, n)):
                for j in range(max(jb, i + 1), min(jb + 64, n)):
                    M[j, i] = M[i, j]


@lru_cache(maxsize=1)
def _compiled():
    """The loops compiled by numba (``nogil``, cached on disk), or None without numba."""
    try:
        import numba
    except ImportError:
        return None
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    # ReLU's loop with fused multiply-adds (one rounding fewer, 20% faster; no reassociation); not the
    # covariance loop, whose Dense steps must equal the NumPy diagonals bit for bit (rho = 1 stays 1)
    pwl = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})(_pwl_rows)
    cov = jit(_cov_rows)
    return {_PWL: pwl, _ERF: cov, _GELU: cov, _SIN: cov, _ELU: jit(_elu_rows), _ELUS: jit(_elu_split_rows),
            "mirror": jit(_mirror)}


def _elu_rows(start, step, same, K0, kind, w, b, SQ1, SQ2, GA1, GA2, Pp, Vv, K2, P1, P2, QA1, NN, NT):
    """Rows of a ``Dense -> phi`` stack, ``phi`` of the ELU family (``Pp[l], Vv[l]``: the slopes
    ``p = u/kappa``, ``v`` of ``psi``; ``K2[l] = kappa^2``; ``SQ1[l], SQ2[l]`` the square roots
    of the variances entering op l, times kappa, ``GA1[l], GA2[l]`` their ``e^{a^2/2} Phi(-a)``):
    ``F, D`` by :func:`symkernel.nn.bivariate.elu_block` on blocks of :data:`BLOCK` entries of a
    row (vectorized across the entries, docs/theory.md §28), ``rho = 1`` kept where ``c = q_1 = q_2``."""
    n1, n2 = K0.shape
    c = np.empty(BLOCK)
    T = np.empty(BLOCK)
    A = np.empty(BLOCK)
    Bv = np.empty(BLOCK)
    GAv = np.empty(BLOCK)
    GBv = np.empty(BLOCK)
    R = np.empty(BLOCK)
    F = np.empty(BLOCK)
    D = np.empty(BLOCK)
    W = np.empty((NWORK, BLOCK))
    IW = np.empty((NGROUPS + 1, BLOCK), dtype=np.int64)
    for i in range(start, n1, step):
        j0 = max(i, 0) if same else 0
        for jb in range(j0, n2, BLOCK):
            jb = max(jb, 0)              # provably >= 0: no index wraparound, so the loops vectorize
            m = min(BLOCK, n2 - jb)
            for k in range(m):
                c[k] = K0[i, jb + k]
                T[k] = 0.0
            for l in range(kind.size):
                if kind[l] == 0:
                    wl, bl = w[l], b[l]
                    for k in range(m):
                        cn = wl * c[k] + bl
                        T[k] = cn + wl * T[k]
                        c[k] = cn
                    continue
                s1, p1, k2, ga = SQ1[l, i], P1[l, i], K2[l], GA1[l, i]
                for k in range(m):
                    s2 = SQ2[l, jb + k]
                    A[k] = s1
                    Bv[k] = s2
                    GAv[k] = ga
                    GBv[k] = GA2[l, jb + k]
                    R[k] = min(max(k2 * c[k] / (s1 * s2), -1.0), 1.0)
                elu_block(m, A, Bv, GAv, GBv, R, Pp[l], Vv[l], F, D, W, IW)
                qa = QA1[l, i]
                for k in range(m):
                    T[k] *= k2 * D[k]
                    c[k] = qa if (c[k] == p1 and P2[l, jb + k] == p1) else F[k]
            for k in range(m):
                NN[i, jb + k] = c[k]
                NT[i, jb + k] = T[k]


def _elu_split_rows(start, step, same, K0, X1, X2T, N1, U, V, RN1, RN2, kind, w, b, P1, P2, SP1, SP2, IR1, IR2,
                    SQ1, SQ2, GA1, GA2, SQA1, SQA2, QA1, Pp, Vv, K2, GU, GW, NN, NT):
    """Rows of a ``Dense -> phi`` stack, ``phi(x) = psi(kappa x)`` of the ELU family with ``p != v`` (SELU,
    ELU with alpha != 1; docs/theory.md §33), the angle carried per entry as in :func:`_pwl_rows`: the
    state ``(c, sin theta, 1 - cos theta)``, the Dense step of :func:`_pwl_rows`, and per activation

    * ``F, D`` by :func:`symkernel.nn.bivariate.elu_block` at ``rho = fl(cos theta)`` (a block of a row),
      ``D_psi = D + w^2 (theta_r - theta)/(2 pi)`` (``theta_r`` the angle of the rounded ``rho``);
    * the output gap ``Gamma = sqrt(F_11 F_22) (1 - cos theta')``: ``P' - F`` where that is at least
      ``P'/20`` (:data:`symkernel.nn.elu_gap.QUAD_BELOW`), else (the entries gathered)
      ``CS + a b (w^2 relu_gap(theta) + int_0^theta S(cos t) sin t dt)``, the integral by Gauss-Legendre
      (:data:`SPLIT_RULE`: 4 to 8 nodes by ``theta max(1, a, b)``, panels beyond), its nodes' ``D`` by
      ``elu_block`` over all gathered entries' nodes together, and ``CS`` (``a != b``) from the Gram
      determinant of :func:`symkernel.nn.elu_gap.cs_gap` (:func:`~symkernel.nn.elu_gap.cs_entry`), the
      row's ``v e^{a X}``, ``v expm1(a X)`` once per row and layer (:func:`~symkernel.nn.elu_gap.cs_row`).

    Arrays per op l as :func:`_pwl_rows` (``P``, ``SP``, ``IR``), and for the activations
    ``SQ1[l], SQ2[l]`` (``kappa sqrt q``), ``GA1[l], GA2[l]`` (their ``e^{a^2/2} Phi(-a)``), ``SQA1[l],
    SQA2[l]`` (square roots of the variances leaving op l, ``QA1[l]`` those of the rows), ``Pp, Vv, K2``
    (``p, v, kappa^2``); ``GU[K, :K], GW[K, :K]`` the K-node Gauss-Legendre rule on [0, 1]."""
    n1, n2 = NN.shape
    d = U.shape[1]
    last = 0
    for l in range(kind.size):
        if kind[l] != 0:
            last = l
    c = np.empty(BLOCK)
    T = np.empty(BLOCK)
    sn = np.empty(BLOCK)
    vs = np.empty(BLOCK)
    TH = np.empty(BLOCK)
    A = np.empty(BLOCK)
    Bv = np.empty(BLOCK)
    GAv = np.empty(BLOCK)
    GBv = np.empty(BLOCK)
    R = np.empty(BLOCK)
    F = np.empty(BLOCK)
    D = np.empty(BLOCK)
    GAP = np.empty(BLOCK)
    PQ = np.empty(BLOCK)
    ACC = np.empty(BLOCK)
    GI = np.empty(BLOCK, dtype=np.int64)
    cap = BLOCK * SPLIT_NODES_MAX
    FA = np.empty(cap)
    FB = np.empty(cap)
    FGA = np.empty(cap)
    FGB = np.empty(cap)
    FR = np.empty(cap)
    FW = np.empty(cap)
    FO = np.empty(cap, dtype=np.int64)
    E1 = np.empty(CS_NODES)
    Q1 = np.empty(CS_NODES)
    DQ = np.empty(CS_NODES)
    W = np.empty((NWORK, BLOCK))
    IW = np.empty((NGROUPS + 1, BLOCK), dtype=np.int64)
    for i in range(start, n1, step):
        j0 = max(i, 0) if same else 0
        rn1 = RN1[i]
        for jb in range(j0, n2, BLOCK):
            jb = max(jb, 0)              # provably >= 0: no index wraparound, so the loops vectorize
            m = min(BLOCK, n2 - jb)
            _block_state(i, jb, m, same, K0, X1, X2T, N1, U, V, rn1, RN2, c, T, vs, sn)
            for l in range(kind.size):
                p1, s1 = P1[l, i], SP1[l, i]
                if kind[l] == 0 and l > last:    # no activation follows: no angle needed
                    wl, bl = w[l], b[l]
                    for k in range(m):
                        cn = wl * c[k] + bl
                        T[k] = cn + wl * T[k]
                        c[k] = cn
                    continue
                if kind[l] == 0:                 # Dense: the step of _pwl_rows, every term >= 0
                    wl, bl, ir1 = w[l], b[l], IR1[l, i]
                    wb = wl * bl
                    _dense_angle(m, wl, bl, wb, ir1, p1, s1, P2[l, jb:], SP2[l, jb:], IR2[l, jb:], c, T, vs, sn)
                    continue
                pl, vl, k2 = Pp[l], Vv[l], K2[l]
                w2 = (pl - vl) * (pl - vl)
                a, ga, sqa, qa = SQ1[l, i], GA1[l, i], SQA1[l, i], QA1[l, i]
                for k in range(m):           # the angle alone gives rho (not c: its rounding would grow
                    j = jb + k               # by chi_1 a layer in the chaotic phase)
                    R[k] = 1.0 - vs[k]
                    A[k] = a
                    Bv[k] = SQ2[l, j]
                    GAv[k] = ga
                    GBv[k] = GA2[l, j]
                elu_block(m, A, Bv, GAv, GBv, R, pl, vl, F, D, W, IW)
                for k in range(m):               # branch-free: vectorized
                    j = jb + k
                    pq = sqa * SQA2[l, j]
                    PQ[k] = pq
                    dup = vs[k] == 0.0 and P2[l, j] == p1       # equal inputs: theta' = 0, c' their variance
                    c[k] = qa if dup else F[k]
                    GAP[k] = 0.0 if dup else pq - F[k]
                ng = 0
                for k in range(m):
                    # the angle where D's ReLU part moves to it (sin theta < 1/2: elsewhere the move,
                    # w^2 |theta_r - theta|/(2 pi) <= w^2 eps/(4 pi), 4e-17 for SELU, is below D's
                    # rounding) or where the gap is integrated
                    gather = GAP[k] < QUAD_BELOW * PQ[k] and not (vs[k] == 0.0 and P2[l, jb + k] == p1)
                    if sn[k] < 0.5 or gather:
                        r = R[k]
                        TH[k] = atan2_fast(sn[k], r)                # theta in [0, pi], within 3 ulp
                        thr = atan2_fast(math.sqrt((1.0 - r) * (1.0 + r)), r)    # the angle elu_block used
                        D[k] += w2 * (thr - TH[k]) / _TWOPI
                    if gather:
                        GI[ng] = k
                        ng += 1
                for k in range(m):
                    T[k] *= k2 * D[k]
                if ng > 0:                       # the gathered entries: Gamma = CS + a b (relu part + int S)
                    npair = 0
                    for e in range(ng):
                        k = GI[e]
                        ACC[e] = 0.0
                        th = TH[k]
                        if th == 0.0:
                            continue
                        x = th * max(1.0, max(A[k], Bv[k]))
                        nk, panels = 8, 1
                        for t in range(SPLIT_RULE.shape[0]):
                            if x <= SPLIT_RULE[t, 1]:
                                nk = int(SPLIT_RULE[t, 0])
                                break
                        if x > SPLIT_RULE[SPLIT_RULE.shape[0] - 1, 1]:
                            panels = min(int(math.ceil(x / SPLIT_RULE[SPLIT_RULE.shape[0] - 1, 1])),
                                         SPLIT_NODES_MAX // 8)
                        h = th / panels
                        for pn in range(panels):
                            for t in range(nk):
                                tt = h * (pn + GU[nk, t])
                                FA[npair] = A[k]
                                FB[npair] = Bv[k]
                                FGA[npair] = GAv[k]
                                FGB[npair] = GBv[k]
                                FR[npair] = math.cos(tt)
                                FW[npair] = h * GW[nk, t] * math.sin(tt)
                                FO[npair] = e
                                npair += 1
                    for s0 in range(0, npair, BLOCK):
                        mm = min(BLOCK, npair - s0)
                        elu_block(mm, FA[s0:], FB[s0:], FGA[s0:], FGB[s0:], FR[s0:], pl, vl, F, D, W, IW)
                        for t in range(mm):
                            r = FR[s0 + t]
                            thr = atan2_fast(math.sqrt((1.0 - r) * (1.0 + r)), r)
                            ACC[FO[s0 + t]] += FW[s0 + t] * (D[t] - w2 * (0.5 - thr / _TWOPI))
                    row = False
                    W1 = 0.0
                    for e in range(ng):
                        k = GI[e]
                        th, s, v1 = TH[k], sn[k], vs[k]
                        zt = th * th                 # sin t - t cos t (series below 1/2, as _pwl_rows)
                        gs = th * zt * (1.0 / 3 - zt * (1.0 / 30 - zt * (1.0 / 840 - zt * (1.0 / 45360 - zt * (
                            1.0 / 3991680 - zt * (1.0 / 518918400 - zt * (1.0 / 93405312000 - zt * (
                                1.0 / 22230464256000))))))))
                        g = gs if th < 0.5 else s - th * (1.0 - v1)
                        relu = (math.pi * v1 - g) / _TWOPI
                        bk = Bv[k]
                        cs = 0.0
                        if bk != a:                  # the Cauchy-Schwarz gap from the Gram determinant
                            if not row:
                                W1 = cs_row(a, vl, E1, Q1)
                                row = True
                            cs = cs_entry(a, bk - a, pl, PQ[k], E1, Q1, W1, DQ)
                        GAP[k] = cs + a * bk * (w2 * relu + ACC[e])
                for k in range(m):
                    v1 = min(max(GAP[k] / PQ[k], 0.0), 2.0)
                    vs[k] = v1
                    sn[k] = math.sqrt(v1 * (2.0 - v1))
            for k in range(m):
                NN[i, jb + k] = c[k]
                NT[i, jb + k] = T[k]


def _smooth_rows(start, step, same, K0, kind, w, b, SQ1, SQ2, QA1, NN, NT, fn):
    """Rows of a ``Dense -> phi`` stack in rho, ``phi`` any activation whose ``F`` and ``D`` have
    closed forms smooth at ``rho = 1`` (``fn(a, b, rho) -> (F, D)``, the closed forms lambdified
    to the math module; ``SQ1[l], SQ2[l]``: square roots of the variances entering op l)."""
    n1, n2 = K0.shape
    c = np.empty(n2)
    T = np.empty(n2)
    for i in range(start, n1, step):
        j0 = i if same else 0
        for j in range(j0, n2):
            c[j] = K0[i, j]
            T[j] = 0.0
        for l in range(kind.size):
            if kind[l] == 0:
                wl, bl = w[l], b[l]
                for j in range(j0, n2):
                    cn = wl * c[j] + bl
                    T[j] = cn + wl * T[j]
                    c[j] = cn
            else:
                s1 = SQ1[l, i]
                for j in range(j0, n2):
                    s2 = SQ2[l, j]
                    r = min(max(c[j] / (s1 * s2), -1.0), 1.0)
                    F, D = fn(s1, s2, r)
                    T[j] *= D
                    c[j] = F
                if same:             # an input with itself: its variance (as in _erf_rows)
                    c[i] = QA1[l, i]
        for j in range(j0, n2):
            NN[i, j] = c[j]
            NT[i, j] = T[j]


@lru_cache(maxsize=16)
def _smooth_compiled(expr, name):
    """The loop of :func:`_smooth_rows` specialized to one activation's closed forms (compiled
    once per process: a generated function is not cached on disk), or None without numba."""
    if _compiled() is None:
        return None
    import numba

    pk = pair_kernel(CoreActivation(name, expr))
    step = numba.njit(sp.lambdify((pa, pb, rho), (pk.exact_nngp, pk.exact_ntk_factor), modules="math", cse=True))
    rows = numba.njit(nogil=True, error_model="numpy")(_smooth_rows)

    def run(start, stride, *args):
        return rows(start, stride, *args, step)
    return run


@lru_cache(maxsize=8)
def compile_loop(fn):
    """``fn`` (a loop of plain Python over arrays) compiled by numba (``nogil``, cached on disk),
    or None without numba."""
    if _compiled() is None:
        return None
    import numba

    return numba.njit(cache=True, nogil=True, error_model="numpy")(fn)


def available():
    """Whether the fused loops can run (numba installed)."""
    return _compiled() is not None


# -- which networks fuse -------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _family(expr, name):
    """``(kind, params)`` of an activation the loops cover, checked against its exact kernel, or None."""
    pk = pair_kernel(CoreActivation(name, expr))
    if pk.derivative is None:
        return None
    if _is_gelu(pk, expr):
        return _GELU, ()
    elu = pk.elu_form
    if elu is not None:
        return _ELU, elu
    if pk.elu_split is not None:     # SELU, ELU(alpha != 1): the angle carried (§33)
        return _ELUS, pk.elu_split
    if pk.pwl_form is not None:      # hardtanh, ReLU6, ...: the NumPy path's closed form (pwl_kernels)
        return None
    if pk.exact_nngp is None or pk.exact_ntk_factor is None:     # Mehler series (mehler_fused)
        return (MEHLER, (expr, name)) if pk._mehler._shared is not None else None
    if pk.exact_nngp.has(sp.I) or pk.exact_ntk_factor.has(sp.I):    # complex intermediate forms:
        return None                                                   # numba compiles real ones only
    pwl = _piecewise_linear(pk)
    if pwl is not None:
        return _PWL, pwl
    erf = _erf_form(pk, expr)
    if erf is not None:
        return _ERF, erf
    sin = _sin_form(pk, expr)
    if sin is not None:
        return _SIN, sin
    if pk.theta_mode in (None, "direct"):     # smooth at rho = 1: in rho, as the NumPy path
        return _SMOOTH, (expr, name)
    return None


def _piecewise_linear(pk):
    """``(A, B)`` when phi = u max(x, 0) + v min(x, 0) with u v >= 0, its closed-form kernel in the
    angle agreeing with ``F = ab (B sin t + D cos t)``, ``D = A - B t`` at test points."""
    forms = pk._float_theta
    if forms is None:
        return None
    f = pk.act.numpy()
    u, v = float(f(np.array([1.0]))[0]), -float(f(np.array([-1.0]))[0])
    if not (np.isfinite(u) and np.isfinite(v)) or u * v < 0 or u * u + v * v == 0:
        return None
    t = np.array([1e-3, 0.37, 2.5, 41.0, 1e5])
    for sgn, slope in ((1.0, u), (-1.0, v)):
        got = np.asarray(f(sgn * t), dtype=float)
        if not np.allclose(got, slope * sgn * t, rtol=1e-15, atol=0):
            return None
    A, B = (u * u + v * v) / 2, (u - v) ** 2 / (2 * np.pi)
    for av, bv, th in ((1.3, 0.7, 0.4), (0.4, 2.0, 2.9), (1.0, 1.0, 1e-3)):
        F, D, _ = (float(z) for z in forms["lam"](av, bv, th))
        D_ = A - B * th
        F_ = av * bv * (B * np.sin(th) + np.cos(th) * D_)
        if abs(D - D_) > 1e-13 * abs(D) or abs(F - F_) > 1e-13 * abs(F):
            return None
    return A, B


_G, _S = sp.Wild("g", exclude=[x]), sp.Wild("s", exclude=[x])


def _erf_form(pk, expr):
    """``(g^2, s^2)`` when phi = g erf(s x) (g, s nonzero numbers), checked against the closed forms."""
    m = expr.match(_G * sp.erf(_S * x))
    if not m or not m[_G].is_number or not m[_S].is_number:
        return None
    g, s = float(m[_G]), float(m[_S])
    if not (np.isfinite(g) and np.isfinite(s)) or g == 0 or s == 0:
        return None
    G, S2 = g * g, s * s
    fF, fD, _ = pk._float_exact
    for av, bv, r in ((1.3, 0.7, 0.4), (0.4, 2.0, -0.9), (1.1, 1.1, 0.999)):
        e1, e2 = 1 / np.sqrt(1 + 2 * S2 * av * av), 1 / np.sqrt(1 + 2 * S2 * bv * bv)
        z = 2 * S2 * r * av * bv * e1 * e2
        F_ = 2 * G / np.pi * np.arcsin(z)
        D_ = 4 * G * S2 / np.pi * e1 * e2 / np.sqrt(1 - z * z)
        F, D = float(fF(av, bv, r)), float(fD(av, bv, r))
        if abs(F - F_) > 1e-13 * abs(F) or abs(D - D_) > 1e-13 * abs(D):
            return None
    return G, S2


def _is_gelu(pk, expr):
    """Whether phi is GELU, ``x Phi(x)``, its closed form (:func:`gelu_kernels`) checked against the
    exact engine's NNGP and against a central difference of it for the NTK factor (Price)."""
    if sp.expand(expr - x * (1 + sp.erf(x / sp.sqrt(2))) / 2) != 0 or pk.exact_nngp is None:
        return False
    fF = pk._float_exact[0]
    for av, bv, r in ((1.3, 0.7, 0.4), (0.4, 2.0, -0.9), (1.1, 1.1, 0.999)):
        c = np.array([r * av * bv])
        F, D = (float(v[0]) for v in gelu_kernels(av * av, bv * bv, c, 1.0))
        h = 1e-5
        dF = (float(fF(av, bv, r + h)) - float(fF(av, bv, r - h))) / (2 * h * av * bv)
        if abs(F - float(fF(av, bv, r))) > 1e-13 * abs(F) or abs(D - dF) > 1e-7 * abs(D):
            return False
    return True


def gelu_kernels(q1, q2, c, t):
    r"""NNGP and NTK of ``x Phi(x)`` (GELU) after a step from ``(q1, q2, c)`` with NTK ``t``:
    ``(F, t D)`` with (:math:`s_k = 1 + q_k`, :math:`N^2 = s_1 s_2 - c^2`, docs/theory.md §21)

    ``F = c/4 + c asin(c/sqrt(s_1 s_2))/(2 pi) + (q_1 q_2 - c^2 + c^2 (1/s_1 + 1/s_2)) / (2 pi N)``,
    ``D = dF/dc = 1/4 + asin(c/sqrt(s_1 s_2))/(2 pi) + c (1 + (1/s_1 + 1/s_2) N^2) / (2 pi N^3)``

    (Tsuchida, Pearce, van der Heide, Roosta & Gallagher, AAAI 2021, for F; D by Price's theorem),
    in NumPy (the diagonals of the fused loop, which evaluates the same formulas per entry).

    Independent inputs: ``F = E[u Phi(u)]^2 = (q / sqrt(2 pi (1 + q)))^2`` and ``D = E[phi'(u)]^2 = 1/4``:

    >>> F, T = gelu_kernels(1.0, 1.0, 0.0, 1.0)
    >>> bool(abs(F - 1 / (4 * np.pi)) < 1e-17), float(T)
    (True, 0.25)
    """
    y2 = np.maximum(q1 * q2 - c * c, 0.0)
    N2 = (1 + q1 + q2) + y2
    N = np.sqrt(N2)
    th = np.arctan2(c, N)
    h = 1 / (1 + q1) + 1 / (1 + q2)
    F = c / 4 + (c * th + (y2 + c * c * h) / N) / (2 * np.pi)
    D = 0.25 + th / (2 * np.pi) + c * (1 + h * N2) / (N * N2) / (2 * np.pi)
    return F, t * D


def _sin_form(pk, expr):
    """``(g^2, s^2)`` when phi = g sin(s x) (g, s nonzero numbers), checked against the closed forms."""
    m = expr.match(_G * sp.sin(_S * x))
    if not m or not m[_G].is_number or not m[_S].is_number:
        return None
    g, s = float(m[_G]), float(m[_S])
    if not (np.isfinite(g) and np.isfinite(s)) or g == 0 or s == 0:
        return None
    G, S2 = g * g, s * s
    fF, fD, _ = pk._float_exact
    for av, bv, r in ((1.3, 0.7, 0.4), (0.4, 2.0, -0.9), (1.1, 1.1, 0.999)):
        e = np.exp(-S2 * (av * av + bv * bv) / 2)
        F_, D_ = G * e * np.sinh(S2 * r * av * bv), G * S2 * e * np.cosh(S2 * r * av * bv)
        F, D = float(fF(av, bv, r)), float(fD(av, bv, r))
        if abs(F - F_) > 1e-13 * abs(F) or abs(D - D_) > 1e-13 * abs(D):
            return None
    return G, S2


def plan(net):
    """``(kind, ops)`` when every layer of ``net`` is a ``Dense`` or an activation of one family
    the loops cover, each activation after a Dense (Gaussian input), else None.  ``ops``: one
    ``("dense", w, b)`` or ``("act", params)`` per layer."""
    ops, kind, gaussian = [], None, True
    for layer in net.flat:
        if isinstance(layer, Dense):
            w, b = layer.sigma_w2, layer.sigma_b2
            if layer.tensors or not (w.is_number and b.is_number):
                return None
            ops.append(("dense", float(w), float(b)))
            gaussian = True
        elif isinstance(layer, Activation):
            fam = _family(layer.act.expr, layer.act.name)
            if fam is None or not gaussian or (kind is not None and fam[0] != kind):
                return None
            if kind in (_SMOOTH, MEHLER) and fam[1] != next(op[1] for op in ops if op[0] == "act"):
                return None                       # one compiled loop per activation
            kind = fam[0]
            ops.append(("act", fam[1]))
            gaussian = False
        else:
            return None
    if kind is None:
        return None
    return kind, ops


@lru_cache(maxsize=1)
def _split_rules():
    """Gauss-Legendre nodes and weights on [0, 1], row K the K-node rule (K <= 8)."""
    GU, GW = np.zeros((9, 8)), np.zeros((9, 8))
    for K in range(1, 9):
        x, wt = np.polynomial.legendre.leggauss(K)
        GU[K, :K], GW[K, :K] = (x + 1) / 2, wt / 2
    return GU, GW


def _diagonals(kind, ops, n):
    """Variances entering each op (rows: ``len(ops)`` x len(n)) and the NTK diagonal at the end."""
    q = np.array(n, dtype=float)
    t = np.zeros_like(q)
    P = np.empty((len(ops), q.size))
    for l, op in enumerate(ops):
        P[l] = q
        if op[0] == "dense":
            q = op[1] * q + op[2]
            t = q + op[1] * t
        elif kind == _PWL:
            A = op[1][0]
            q, t = A * q, A * t
        elif kind == _SMOOTH:
            fF, fD, _ = pair_kernel(CoreActivation(op[1][1], op[1][0]))._float_exact
            s = np.sqrt(q)
            q, t = np.broadcast_to(fF(s, s, 1.0), q.shape) + 0.0, t * fD(s, s, 1.0)
        elif kind == _GELU:
            q, t = gelu_kernels(q, q, q, t)
        elif kind in (_ELU, _ELUS):
            pp, vv, kap = op[1]
            sq = kap * np.sqrt(q)        # the loop's own code (elu_block) at rho = 1
            F, D = elu_kernels_many(sq, sq, np.ones_like(sq), pp, vv)
            q, t = F, t * (kap * kap) * D
        elif kind == _SIN:
            G, S2 = op[1]                 # e^{-x} sinh x = -expm1(-2x)/2, e^{-x} cosh x = (1 + e^{-2x})/2
            q, t = -0.5 * G * np.expm1(-2 * S2 * q), t * (0.5 * G * S2) * (1 + np.exp(-2 * S2 * q))
        else:
            G, S2 = op[1]
            r = np.sqrt(1 + 4 * S2 * q)   # sqrt(1 - z^2) / e^2 at z = 2 s^2 q e^2: 1 - z = e^2 cancels
            t = t * (4 * G * S2 / np.pi) / r
            q = 2 * G / np.pi * np.arctan2(2 * S2 * q, r)
    return P, q


def _sequential_norms(X):
    """``|x|^2 / d`` per row, summed left to right as the loops sum ``x_1 . x_2``."""
    n = X[:, 0] * X[:, 0]
    for f in range(1, X.shape[1]):
        n = n + X[:, f] * X[:, f]
    return n / X.shape[1]


def _positive(v):
    """Every variance within ``[sqrt(tiny), sqrt(max)]`` of float64, about ``[1.5e-154, 1.3e154]``:
    the loops divide by square roots of variances and multiply two of them, so a product must
    stay normal (otherwise the NumPy path runs, and says the kernel left float64's range)."""
    v = np.asarray(v)
    return bool(((v >= VARIANCE_RANGE[0]) & (v <= VARIANCE_RANGE[1])).all())


def fused_kernels(planned, X1, X2, same):
    """``(nngp, ntk)`` of a planned stack (:func:`plan`) on the rows of ``X1``, ``X2`` (``same``:
    ``X2`` is ``X1``; the triangle ``j >= i`` is computed and mirrored), or None when the loops
    are not available or a variance (of an input or inside the stack) is zero or not finite."""
    loops = _compiled()
    if loops is None:
        return None
    kind, ops = planned
    d = X1.shape[1]
    if d <= GRAM_IN_LOOP:      # summed in the loops' order: an input's entry with itself is its norm, bit for bit
        n1, n2 = _sequential_norms(X1), _sequential_norms(X2)
    else:
        n1, n2 = (X1 * X1).sum(1) / d, (X2 * X2).sum(1) / d
    if not (_positive(n1) and _positive(n2)):
        return None
    if d <= GRAM_IN_LOOP and kind not in (_SMOOTH, _ELU):
        K0 = np.empty((0, 0))           # the loops compute x1 x2^T / d
    else:
        K0 = X1 @ X2.T / d
        if same:
            np.fill_diagonal(K0, n1)
    gram = (K0, X1, np.ascontiguousarray(X2.T), n1)
    codes = np.array([0 if op[0] == "dense" else 1 for op in ops], dtype=np.int64)
    w = np.array([op[1] if op[0] == "dense" else 0.0 for op in ops])
    b = np.array([op[2] if op[0] == "dense" else 0.0 for op in ops])
    P1, last1 = _diagonals(kind, ops, n1)
    P2, last2 = _diagonals(kind, ops, n2)
    if not all(_positive(v) for v in (P1, P2, last1, last2)):
        return None       # a variance 0 (or underflowed, or infinite) inside: the NumPy path
    QA1 = np.vstack([P1[1:], last1[None]])           # variances leaving each op
    NN, NT = np.empty((X1.shape[0], X2.shape[0])), np.empty((X1.shape[0], X2.shape[0]))
    if kind == _PWL:
        r1, r2 = np.sqrt((X1 * X1).sum(1)), np.sqrt((X2 * X2).sum(1))
        U, V = X1 / r1[:, None], X2 / r2[:, None]
        A = np.array([op[1][0] if op[0] == "act" else 1.0 for op in ops])
        B = np.array([op[1][1] if op[0] == "act" else 0.0 for op in ops])
        SP1, SP2 = np.sqrt(P1), np.sqrt(P2)
        # square roots of the variances leaving each op: those entering the next one
        IR1 = 1 / np.vstack([SP1[1:], np.sqrt(_diagonals(kind, ops, n1)[1])[None]])
        IR2 = 1 / np.vstack([SP2[1:], np.sqrt(_diagonals(kind, ops, n2)[1])[None]])
        args = (same, *gram, U, V, 1 / np.sqrt(n1), 1 / np.sqrt(n2), codes, w, b, P1, P2, SP1, SP2, IR1, IR2,
                1 / SP2, A, B, NN, NT)
    elif kind == _SMOOTH:
        args = (same, K0, codes, w, b, np.sqrt(P1), np.sqrt(P2), QA1, NN, NT)
    elif kind in (_ELU, _ELUS):
        Pp = np.array([op[1][0] if op[0] == "act" else 1.0 for op in ops])
        Vv = np.array([op[1][1] if op[0] == "act" else 1.0 for op in ops])
        K2 = np.array([op[1][2] ** 2 if op[0] == "act" else 1.0 for op in ops])
        acts = codes == 1
        for P in (P1, P2):
            z = K2[acts, None] * P[acts]
            if z.size and not (ELU_RANGE[0] <= z.min() and z.max() <= ELU_RANGE[1]):
                return None       # outside the closed form's tested range: the NumPy path
        SQ1, SQ2 = np.sqrt(K2[:, None] * P1), np.sqrt(K2[:, None] * P2)
        GA1, GA2 = (scaled_tails(S.ravel()).reshape(S.shape) for S in (SQ1, SQ2))
        if kind == _ELU:
            args = (same, K0, codes, w, b, SQ1, SQ2, GA1, GA2, Pp, Vv, K2, P1, P2, QA1, NN, NT)
        else:
            r1, r2 = np.sqrt((X1 * X1).sum(1)), np.sqrt((X2 * X2).sum(1))
            U, V = X1 / r1[:, None], X2 / r2[:, None]
            SP1, SP2 = np.sqrt(P1), np.sqrt(P2)
            QA2 = np.vstack([P2[1:], last2[None]])
            SQA1, SQA2 = np.sqrt(QA1), np.sqrt(QA2)
            args = (same, *gram, U, V, 1 / np.sqrt(n1), 1 / np.sqrt(n2), codes, w, b, P1, P2, SP1, SP2, 1 / SQA1,
                    1 / SQA2, SQ1, SQ2, GA1, GA2, SQA1, SQA2, QA1, Pp, Vv, K2, *_split_rules(), NN, NT)
    else:
        G = np.array([op[1][0] if op[0] == "act" and op[1] else 1.0 for op in ops])
        S2 = np.array([op[1][1] if op[0] == "act" and op[1] else 1.0 for op in ops])
        if kind == _ERF:
            R1a, R2a = 1 / np.sqrt(1 + 2 * S2[:, None] * P1), 1 / np.sqrt(1 + 2 * S2[:, None] * P2)
            R1b, R2b = R1a, R2a
        elif kind == _GELU:
            R1a, R2a, R1b, R2b = P1, P2, 1 / (1 + P1), 1 / (1 + P2)
        else:
            if max(np.max(S2[:, None] * P1), np.max(S2[:, None] * P2)) > 700:
                return None       # exp(s^2 c) would overflow: the NumPy path
            R1a, R2a = np.exp(-S2[:, None] * P1 / 2), np.exp(-S2[:, None] * P2 / 2)
            R1b, R2b = R1a, R2a
        args = (same, kind, *gram, codes, w, b, G, S2, R1a, R1b, R2a, R2b, P1, P2, QA1, NN, NT)
    fn = loops[kind] if kind != _SMOOTH else _smooth_compiled(*next(op[1] for op in ops if op[0] == "act"))
    threads = min(THREADS, NN.shape[0])
    if threads == 1:
        fn(0, 1, *args)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda k: fn(k, threads, *args), range(threads)))
    if same:
        loops["mirror"](NN)
        loops["mirror"](NT)
    return NN, NT


__all__ = ["BLOCK", "ELU_RANGE", "GAP_SERIES", "GRAM_IN_LOOP", "MEHLER", "SPLIT_NODES_MAX", "SPLIT_RULE", "THREADS",
           "available", "compile_loop", "fused_kernels", "gelu_kernels", "plan"]
