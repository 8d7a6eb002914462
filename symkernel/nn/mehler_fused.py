r"""Compiled Mehler-series steps for activations without closed forms (tanh, softplus, SiLU, ...):
the float64 path of :mod:`symkernel.nn.pair` (``F = sum_k a_k(q_1) a_k(q_2) rho^k``, ``D`` the
same series of ``phi'``) with two changes that make a deep network on many inputs fast
(docs/theory.md §14):

* **coefficients interpolated in** ``s = sqrt(q)``: per layer, the Hermite coefficients of every
  input come from a Chebyshev interpolant on ``[s_min, s_max]`` (Lobatto nodes, 5, 9, ..., 65 of
  them, nested) of the quadrature of :class:`symkernel.nn.pair._Mehler` at the nodes, instead of one
  quadrature per input; the interpolation error is estimated by the coarser interpolant's error
  at the finer nodes (accepted at <= 4e-15 of ``sqrt(max E phi^2)``, the level of the quadrature's own rounding; else
  the NumPy path runs);
* **the Horner sums compiled** (numba, ``nogil``): column blocks whose coefficient tables stay in
  cache, rows dealt to threads; with ``x2`` omitted only the triangle.

The number of terms per layer and the Parseval tail bound follow :class:`~symkernel.nn.pair._Mehler`
(the fewest terms whose residual ``R_K = E phi^2 - sum a_k^2`` is at its float64 floor, at most
``MAX_TERMS``).  No per-entry estimate is returned (``errors=True`` takes the NumPy path), but a
worst-case scalar bound, carried through the layers like the per-entry ones (tail, interpolation,
``|D|`` times the carried error), decides: above ``tol`` the NumPy path runs and says so.
"""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .fused import THREADS, _positive as positive, compile_loop
from .pair import MAX_TERMS

#: numbers of Chebyshev-Lobatto nodes tried (nested), and the accepted interpolation error
NODES, INTERP_TOL = (5, 9, 17, 33, 65), 4e-15
#: with at most this many distinct variances in a layer, one quadrature each (no interpolation)
EXACT_BELOW = 64
#: columns per block of the compiled Horner sums (two coefficient tables of a block fit in cache)
BLOCK = 128
_EPS = np.finfo(float).eps


def _mehler_rows(start, step, same, C, T, w, b, Q1, Q2, AF1, AF2T, AD1, AD2T, M1, MD1, block):
    """``Dense(w, b)`` then the Mehler step, in place on ``C`` (NNGP) and ``T`` (NTK), rows
    ``start, start + step, ...``; ``AF1[i, k]``, ``AF2T[k, j]``: the coefficients of phi at the
    rows' and columns' variances (``AD``: of phi'); ``M1``, ``MD1``: ``E phi^2``, ``E phi'^2`` of
    the rows (the entry of an input with itself, rho = 1 and equal variances)."""
    n1, n2 = C.shape
    KF = AF2T.shape[0] - 1
    KD = AD2T.shape[0] - 1
    r = np.empty(block)
    sf = np.empty(block)
    sd = np.empty(block)
    for jb in range(0, n2, block):
        je = min(jb + block, n2)
        for i in range(start, n1, step):
            lo = max(jb, i) if same else jb
            if lo >= je:
                continue
            m = je - lo
            q1 = Q1[i]
            for jj in range(m):
                j = lo + jj
                cn = w * C[i, j] + b
                T[i, j] = cn + w * T[i, j]
                C[i, j] = cn
                r[jj] = min(max(cn / math.sqrt(q1 * Q2[j]), -1.0), 1.0)     # sqrt(q q) == q: rho = 1
                sf[jj] = AF1[i, KF] * AF2T[KF, j]
                sd[jj] = AD1[i, KD] * AD2T[KD, j]
            for k in range(KF - 1, -1, -1):
                ak = AF1[i, k]
                for jj in range(m):
                    sf[jj] = sf[jj] * r[jj] + ak * AF2T[k, lo + jj]
            for k in range(KD - 1, -1, -1):
                ak = AD1[i, k]
                for jj in range(m):
                    sd[jj] = sd[jj] * r[jj] + ak * AD2T[k, lo + jj]
            for jj in range(m):
                j = lo + jj
                if r[jj] == 1.0 and q1 == Q2[j]:
                    C[i, j] = M1[i]
                    T[i, j] *= MD1[i]
                else:
                    C[i, j] = sf[jj]
                    T[i, j] *= sd[jj]


def _lobatto(m):
    x = np.cos(np.pi * np.arange(m) / (m - 1))
    wts = (-1.0) ** np.arange(m)
    wts[0] *= 0.5
    wts[-1] *= 0.5
    return x, wts


def _barycentric(x, wts, u):
    """The matrix mapping values at the nodes ``x`` to the interpolant at ``u``."""
    diff = u[:, None] - x[None, :]
    hit = diff == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        W = wts[None, :] / diff
    rows = hit.any(axis=1)
    W[rows] = hit[rows].astype(float)
    return W / W.sum(axis=1, keepdims=True)


def interpolated_coefficients(mehler, s, splits=4):
    """``(A, m2, err)``: the Hermite coefficients ``A[i, k] = a_k(s_i^2)`` (all ``MAX_TERMS + 1``),
    ``m2[i] = E phi(s_i X)^2`` and the estimated max error of an entry of ``A`` or ``m2``, from
    one quadrature per value where there are at most EXACT_BELOW of them, else Chebyshev
    interpolants in ``s`` (the range halved, up to ``splits`` times, where 65 nodes do
    not reach INTERP_TOL); None when that is not enough."""
    u = np.unique(s)
    if u.size <= EXACT_BELOW:                      # few inputs: one quadrature each, as the NumPy path
        A, m2 = mehler.coefficients(u * u)
        i = np.searchsorted(u, s)
        return A[i], m2[i], 0.0
    got = _interpolated(mehler, s)
    if got is not None or splits == 0 or s.size < 2:
        return got
    cut = (float(s.min()) + float(s.max())) / 2
    left = s <= cut
    parts = [interpolated_coefficients(mehler, s[m], splits - 1) for m in (left, ~left)]
    if any(p is None for p in parts):
        return None
    A = np.empty((s.size, parts[0][0].shape[1]))
    m2 = np.empty(s.size)
    for m, (a_, m2_, _) in zip((left, ~left), parts):
        A[m], m2[m] = a_, m2_
    return A, m2, max(parts[0][2], parts[1][2])


def _interpolated(mehler, s):
    """One Chebyshev interpolant on ``[min s, max s]`` (see :func:`interpolated_coefficients`)."""
    lo, hi = float(s.min()), float(s.max())
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    u = np.clip((s - mid) / half, -1.0, 1.0) if half > 0 else np.zeros_like(s)
    values, prev = None, None
    for m in NODES:
        x, wts = _lobatto(m)
        if values is None:
            A, m2 = mehler.coefficients((mid + half * x) ** 2)
            values = np.hstack([A, m2[:, None]])
        else:                          # the nodes of m are those of the previous m, interleaved
            new = mid + half * x[1::2]
            A, m2 = mehler.coefficients(new * new)
            fresh = np.hstack([A, m2[:, None]])
            full = np.empty((m, values.shape[1]))
            full[0::2], full[1::2] = values, fresh
            scale = np.sqrt(max(float(np.max(values[:, -1])), 1e-300))
            err = float(np.max(np.abs(_barycentric(*prev, x[1::2]) @ values - fresh))) / scale
            values = full
            if err <= INTERP_TOL or half == 0:
                out = _barycentric(x, wts, u) @ values
                return out[:, :-1], out[:, -1], err * scale
        prev = (x, wts)
    return None


def _terms(A, m2):
    """Fewest terms after which every residual is at its float64 floor (+8), at most MAX_TERMS;
    and the residuals ``R_K`` (as :class:`symkernel.nn.pair._Mehler`)."""
    cum = np.cumsum(A * A, axis=1)
    ok = (m2[:, None] - cum) <= 8 * _EPS * m2[:, None] + 1e-300
    done = ok.all(axis=0)
    K = int(np.argmax(done)) + 8 if done.any() and np.argmax(done) + 8 <= MAX_TERMS else MAX_TERMS
    R = np.maximum(m2 - cum[:, K], 4 * (K + 1) * _EPS * m2)
    return K, R


def _dense(C, T, w, b, errC, errT):
    """A ``Dense(w, b)`` step not followed by an activation, in place: ``C <- w C + b``,
    ``T <- w T + C``; returns the carried error bounds ``(errC, errT)`` after it."""
    C *= w
    C += b
    T *= w
    T += C
    return errC * w, (errT + errC) * w


def mehler_kernels(pk, ops, X1, X2, same, tol):
    """``(nngp, ntk)`` of a stack of ``Dense`` layers and one activation without closed forms
    (``ops`` as :func:`symkernel.nn.fused.plan`, each activation after a Dense), or None: numba
    missing, coefficients not interpolable, or the worst-case error bound above ``tol``."""
    loop = compile_loop(_mehler_rows)
    if loop is None or pk._mehler._shared is None:
        return None
    MF, MD = pk._mehler, pk._mehler_derivative
    d = X1.shape[1]
    q1, q2 = (X1 * X1).sum(1) / d, (X2 * X2).sum(1) / d
    if not (positive(q1) and positive(q2)):
        return None
    C = X1 @ X2.T / d
    if same:
        np.fill_diagonal(C, q1)
    T = np.zeros_like(C)
    n1 = q1.size
    errC = (d + 2) * _EPS * float(np.max(np.abs(C)))      # worst-case carried errors (scalars)
    errT = 0.0
    pending = None
    for op in ops:
        if op[0] == "dense":
            if pending is not None:                       # two Dense layers in a row
                errC, errT = _dense(C, T, *pending, errC, errT)
            pending = (op[1], op[2])
            q1, q2 = op[1] * q1 + op[2], op[1] * q2 + op[2]
            if not (positive(q1) and positive(q2)):
                return None      # a variance 0 (or not finite) inside the stack: the NumPy path
            continue
        w, b = pending
        pending = None
        s = np.sqrt(np.concatenate([q1, q2]))
        tabs = []
        for M in (MF, MD):
            got = interpolated_coefficients(M, s)
            if got is None:
                return None
            A, m2, ierr = got
            K, R = _terms(A, m2)
            tabs.append((A[:, :K + 1], m2, ierr, K, R))
        (AF, mF, iF, KF, RF), (AD, mD, iD, KD, RD) = tabs
        # worst-case bounds of this step: tail, interpolation (Cauchy-Schwarz over the terms),
        # rounding of the Horner sums, and the carried error through |D| (F) and the slope (D)
        P = float(np.max(s)) ** 2
        tailF = float(np.max(RF)) + (2 * np.sqrt(KF + 1) * iF + 4 * (KF + 1) * _EPS) * np.sqrt(float(np.max(mF)))
        tailD = float(np.max(RD)) + (2 * np.sqrt(KD + 1) * iD + 4 * (KD + 1) * _EPS) * np.sqrt(float(np.max(mD)))
        slope = float(np.max(np.sqrt((AD * AD) @ np.arange(KD + 1))) ** 2)
        minP = float(np.min(s)) ** 2
        errC_in, errT_in = errC * w + 2 * _EPS * P * w, (errT + errC) * w
        Dmax = float(np.max(mD))
        Tmax = float(np.max(np.abs(T))) * w + P
        errC = tailF + Dmax * errC_in
        errT = Dmax * errT_in + Tmax * (tailD + slope * errC_in / minP)
        h = q1.size
        AF1, AF2T = np.ascontiguousarray(AF[:h]), np.ascontiguousarray(AF[h:].T)
        AD1, AD2T = np.ascontiguousarray(AD[:h]), np.ascontiguousarray(AD[h:].T)
        args = (same, C, T, w, b, q1, q2, AF1, AF2T, AD1, AD2T, mF[:h].copy(), mD[:h].copy(), BLOCK)
        threads = min(THREADS, n1)
        if threads == 1:
            loop(0, 1, *args)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda k: loop(k, threads, *args), range(threads)))
        q1, q2 = mF[:h], mF[h:]
        if not (positive(q1) and positive(q2)):
            return None
    if pending is not None:
        errC, errT = _dense(C, T, *pending, errC, errT)
    if same:
        i, j = np.tril_indices(n1, -1)
        C[i, j], T[i, j] = C[j, i], T[j, i]
    if errC > tol * float(np.max(np.abs(C))) or errT > tol * float(np.max(np.abs(T))):
        return None
    return C, T


__all__ = ["BLOCK", "EXACT_BELOW", "INTERP_TOL", "NODES", "interpolated_coefficients", "mehler_kernels"]
