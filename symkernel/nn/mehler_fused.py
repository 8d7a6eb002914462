r"""Compiled Mehler-series steps for activations without closed forms (tanh, softplus, SiLU, ...):
the float64 path of :mod:`symkernel.nn.pair` (``F = sum_k a_k(q_1) a_k(q_2) rho^k``, ``D`` the
same series of ``phi'``), made fast for deep networks on many inputs (docs/theory.md §14, §20,
§29):

* **coefficients once per distinct variance and layer**: up to DIRECT_BELOW distinct values, the
  quadrature of :class:`symkernel.nn.pair._Mehler` at each (one call); more, a Chebyshev
  interpolant (Lobatto nodes, 3, 5, ..., 65, nested; the first call at half the last layer's
  count) in ``s = sqrt(q)``, or in ``log s`` where ``s >= 1`` (the coefficients' singularities lie
  on the imaginary axis of ``s``: half the nodes at large variances), of the quadrature at the
  nodes (only the first ``K + 49`` coefficients, ``K`` the last layer's count, on the nodes where
  they are not negligible); the interpolation error is estimated by the coarser interpolant's
  error at the finer nodes (accepted at <= 4e-15 of ``sqrt(max E phi^2)`` for the coefficients
  and of ``max(E phi^2, sqrt(E phi^2))`` for ``E phi^2``: the quadrature's own rounding level);
  an interpolant that would take more quadratures than there are values in its range gives way
  to one quadrature per value;
* **the number of terms** ``K``: the fewest after which, at every node, the coefficients left
  (summed from the end, no cancellation) are below ``eps E phi^2`` and the residual beyond the
  computed ones is at its noise floor;
* **per entry a K-term Horner sum with two coefficient vectors** (the row's and the column's;
  compiled, ``nogil``, rows dealt to threads, column blocks of inputs sorted by variance), stopped
  per row and block at the fewest terms whose tail bound ``rmax^{k+1} sqrt(R_k R_k)`` is below
  ``eps max E phi^2`` (``rmax`` over the block's entries other than an input with itself); where a
  layer's variances take at most EXACT_BELOW values (the ordered phase drives them all to ``q*``),
  **one polynomial in rho per pair of values**, Horner with scalar coefficients over runs of
  columns (about 4 times fewer memory reads);
* with ``x2`` omitted only the triangle; below PARALLEL_ENTRIES entries no threads, and the small
  per-layer products without BLAS (a threaded BLAS call leaves threads spinning beside the loop).

No per-entry estimate is returned (``errors=True`` takes the NumPy path), but a worst-case scalar
bound carried through the layers decides: above ``tol`` the NumPy path runs and says so.  It
starts from the rounding of the input covariances, ``(d + 2) eps sqrt(max q_1 max q_2)``
(:func:`input_rounding`).  Per layer it adds the Parseval tail (``|rho|^{K+1} sqrt(R_K R_K)``
with the largest ``|rho|`` of each row, ``R_K`` floored at ``NOISE eps E phi^2``: a tested floor,
the measured noise of ``E phi^2 - sum a_k^2``), ``2 sqrt(K + 1)`` times the interpolation
estimate, the interpolation estimate of ``E phi^2`` (the diagonal), the rounding of the Dense step
(``2 eps`` of the largest variance) and of the Horner sums (proven for the given coefficients:
each term ``a_k b_k rho^k`` takes at most ``2k + 2`` roundings, so at most
``eps sum_k (2k + 2) a_k^2`` by Cauchy-Schwarz), ``|D|`` times the carried error, and for ``D``
the slope bound of docs/theory.md §13 with ``|T|`` bounded by Cauchy-Schwarz on the NTK's
diagonal.  The coefficients are quadratures, so the bound is an estimate, not a proof; tested
against the dps=30 path (proven coefficients), the NumPy path (``tests/test_nn_mehler_fast.py``)
and at large variances a reference written in the test (``tests/test_nn_mehler_large_q.py``).
ELU (a jump in ``phi''``: ``a_k^2 ~ k^{-7/2}``) leaves a residual of 1e-8 (``phi``) and 1e-5
(``phi'``) relative after MAX_TERMS terms, so near ``|rho| = 1`` its bound stays far above
``tol``; it needs a closed form (docs/theory.md §20).
"""
import math
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .fused import THREADS, _positive as positive, compile_loop
from .pair import MAX_TERMS

try:                                    # optional accelerator (pip install symkernel[fast])
    import numba as _numba

    def _inline(f):
        """``f`` compiled to be inlined into the compiled loops (numba's ``inline='always'``)."""
        return _numba.njit(inline="always", cache=True, nogil=True, error_model="numpy")(f)
except ImportError:                     # no compiled loops run without numba
    def _inline(f):
        return f


#: numbers of Chebyshev-Lobatto nodes tried (nested), and the accepted interpolation error
NODES, INTERP_TOL = (2, 3, 5, 9, 17, 33, 65), 4e-15
#: with at most this many distinct variances in a layer, one polynomial in rho per pair of them
#: (the grouped loop)
EXACT_BELOW = 9
#: with at most this many distinct variances in a layer, their coefficients by one quadrature each,
#: in one call (an interpolant takes up to 65 nodes in several calls; a call costs about a dozen
#: nodes, and far more where phi overflows and takes mpmath: softplus, SiLU at large variances)
DIRECT_BELOW = 65
#: the noise of ``E phi^2 - sum_k a_k^2`` in units of ``eps E phi^2`` once the series has converged
#: (quadrature and rounding; measured at most 16 for tanh, softplus, SiLU, sigmoid, GELU and their
#: derivatives, 400 variances in [0.01, 4]): the floor of the residuals ``R_k``
NOISE = 32
#: coefficients computed beyond the last layer's number of terms (all again when not enough)
ROWS_MARGIN = 48
#: a layer whose largest s exceeds the last one's by this factor computes all MAX_TERMS + 1
#: coefficients at once (not ROWS_MARGIN beyond the last K, then all again: the terms grow with s)
GROWTH = 1.25
#: from this many entries on, the loop and the coefficients of phi and phi' run in threads
PARALLEL_ENTRIES = 1 << 14
#: columns per block of the compiled Horner sums (two coefficient tables of a block fit in cache)
BLOCK = 128
_EPS = np.finfo(float).eps


@_inline
def _dense_row(C, T, w, b, i, lo, hi, off, q1, Q2, r):
    """``Dense(w, b)`` on row ``i``, columns ``lo..hi-1``, in place (``C <- w C + b``,
    ``T <- C + w T``), and ``r[j - off] = rho``; returns the largest ``|rho|`` over the entries other
    than an input with itself (rho = 1 and equal variances: ``sqrt(q q) == q``)."""
    rmax = 0.0
    for j in range(lo, hi):
        cn = w * C[i, j] + b
        T[i, j] = cn + w * T[i, j]
        C[i, j] = cn
        rv = min(max(cn / math.sqrt(q1 * Q2[j]), -1.0), 1.0)
        r[j - off] = rv
        rmax = max(rmax, 0.0 if rv == 1.0 and q1 == Q2[j] else abs(rv))
    return rmax


@_inline
def _store_row(C, T, i, lo, hi, off, q1, Q2, r, sf, sd, m1, md1):
    """The step's result on row ``i``, columns ``lo..hi-1``: ``C <- F`` (``sf[j - off]``),
    ``T <- T D`` (``sd``), and for an input with itself ``E phi^2`` (``m1``), ``E phi'^2``."""
    for j in range(lo, hi):
        if r[j - off] == 1.0 and q1 == Q2[j]:
            C[i, j] = m1
            T[i, j] *= md1
        else:
            C[i, j] = sf[j - off]
            T[i, j] *= sd[j - off]


def _mehler_rows(start, step, same, C, T, w, b, Q1, Q2, AF1, AF2T, AD1, AD2T, M1, MD1, block,
                 RF1, RFB, RD1, RDB, tauF, tauD, RT):
    """``Dense(w, b)`` then the Mehler step, in place on ``C`` (NNGP) and ``T`` (NTK), rows
    ``start, start + step, ...``; ``AF1[i, k]``, ``AF2T[k, j]``: the coefficients of phi at the
    rows' and columns' variances (``AD``: of phi'); ``M1``, ``MD1``: ``E phi^2``, ``E phi'^2`` of
    the rows (the entry of an input with itself, rho = 1 and equal variances).  Per row and
    column block the series stops at the fewest terms ``k`` whose tail bound
    ``rmax^{k+1} sqrt(R_k(q_i) max_block R_k(q_j))`` is at most the layer's ``tau``
    (``RF1[i, k]``, ``RFB[block, k]``: the residuals ``R_k`` of the row, the block's largest).
    ``RT[i]`` (in: 0) becomes the largest ``|rho|`` of row ``i`` over the entries other than an
    input with itself (which take ``E phi^2``), for the layer's tail bound."""
    n1, n2 = C.shape
    r = np.empty(block)
    sf = np.empty(block)
    sd = np.empty(block)
    tF, tD = tauF * tauF, tauD * tauD
    for jb in range(0, n2, block):
        je = min(jb + block, n2)
        nb = jb // block
        for i in range(start, n1, step):
            lo = max(jb, i) if same else jb
            if lo >= je:
                continue
            m = je - lo
            q1 = Q1[i]
            rmax = _dense_row(C, T, w, b, i, lo, je, lo, q1, Q2, r)
            RT[i] = max(RT[i], rmax)
            r2 = rmax * rmax
            for which in range(2):          # the series of phi (into sf), then of phi' (into sd)
                if which == 0:
                    A1, A2T, R1, RB, t2, out = AF1, AF2T, RF1, RFB, tF, sf
                else:
                    A1, A2T, R1, RB, t2, out = AD1, AD2T, RD1, RDB, tD, sd
                K = A2T.shape[0] - 1
                kk = K                      # the fewest terms whose tail bound is at most tau
                p = r2
                for k in range(K):
                    if p * R1[i, k] * RB[nb, k] <= t2:
                        kk = k
                        break
                    p *= r2
                ak = A1[i, kk]
                for jj in range(m):
                    out[jj] = ak * A2T[kk, lo + jj]
                k = kk - 1
                while k >= 1:               # Horner, two terms a step
                    a0 = A1[i, k]
                    a1 = A1[i, k - 1]
                    b0 = A2T[k, lo:je]
                    b1 = A2T[k - 1, lo:je]
                    for jj in range(m):
                        x = r[jj]
                        out[jj] = (out[jj] * x + a0 * b0[jj]) * x + a1 * b1[jj]
                    k -= 2
                if k == 0:
                    a0 = A1[i, 0]
                    b0 = A2T[0, lo:je]
                    for jj in range(m):
                        out[jj] = out[jj] * r[jj] + a0 * b0[jj]
            _store_row(C, T, i, lo, je, lo, q1, Q2, r, sf, sd, M1[i], MD1[i])


def _grouped_rows(start, step, same, C, T, w, b, Q1, Q2, G1, RS, RG, CF, CD, M1, MD1, RT):
    """The step of :func:`_mehler_rows` when the layer's variances take a few values (groups):
    an entry's series is a polynomial in rho whose coefficients ``CF[g1, g2, k] = a_k a_k`` (``CD``:
    of phi') depend only on the groups of its row (``G1[i]``) and column, so Horner runs with
    scalar coefficients over each run of columns of one group (``RS``: run starts, then ``n2``;
    ``RG``: the run's group; ``RT`` as in :func:`_mehler_rows`)."""
    n1, n2 = C.shape
    r = np.empty(n2)
    sf = np.empty(n2)
    sd = np.empty(n2)
    for i in range(start, n1, step):
        j0 = i if same else 0
        q1 = Q1[i]
        RT[i] = _dense_row(C, T, w, b, i, j0, n2, 0, q1, Q2, r)
        g1 = G1[i]
        for run in range(RG.size):
            lo = max(RS[run], j0)
            hi = RS[run + 1]
            if lo >= hi:
                continue
            x = r[lo:hi]
            m = hi - lo
            for which in range(2):          # the series of phi (into sf), then of phi' (into sd)
                if which == 0:
                    c, u = CF[g1, RG[run]], sf[lo:hi]
                else:
                    c, u = CD[g1, RG[run]], sd[lo:hi]
                k = c.size - 1
                for jj in range(m):
                    u[jj] = c[k]
                k -= 1
                while k >= 3:               # Horner, four terms a step
                    c0, c1, c2, c3 = c[k], c[k - 1], c[k - 2], c[k - 3]
                    for jj in range(m):
                        y = x[jj]
                        u[jj] = (((u[jj] * y + c0) * y + c1) * y + c2) * y + c3
                    k -= 4
                while k >= 0:
                    c0 = c[k]
                    for jj in range(m):
                        u[jj] = u[jj] * x[jj] + c0
                    k -= 1
        _store_row(C, T, i, j0, n2, 0, q1, Q2, r, sf, sd, M1[i], MD1[i])


def _mm(A, B):
    """``A @ B`` without BLAS (einsum's own loop): the per-layer products are small, and a threaded
    BLAS call leaves its threads spinning beside the compiled loop on a machine with few cores."""
    return np.einsum("ij,jk->ik", A, B, optimize=False)


def _node_sums(vals, H, chunks=16):
    """``vals @ H.T`` over the quadrature nodes without BLAS (see :func:`_mm`), summed in ``chunks``
    partial sums and then added: as accurate as BLAS (3e-16 against math.fsum for tanh)."""
    n = vals.shape[1]
    width = -(-n // chunks)
    pad = chunks * width - n
    V = np.pad(vals, ((0, 0), (0, pad))).reshape(vals.shape[0], chunks, width)
    G = np.pad(H, ((0, 0), (0, pad))).reshape(H.shape[0], chunks, width)
    return np.einsum("qcl,kcl->qkc", V, G, optimize=False).sum(axis=2)


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
    Chebyshev interpolants in ``s`` (or ``log s``, :func:`_interpolated`; the range halved, up to
    ``splits`` times, where 65 nodes do not reach INTERP_TOL; one quadrature per value where that
    is not enough), however few the values (the compiled path itself takes one quadrature per
    value up to DIRECT_BELOW of them, :func:`coefficients_and_terms`)."""
    pieces = _pieces(mehler, s, splits, force=True)
    A, m2 = _assemble(pieces, s.size, MAX_TERMS + 1)
    return A, m2, max(max(p[3], p[4]) for p in pieces)


def _pieces(mehler, s, splits, rows=MAX_TERMS + 1, start=NODES[0], force=False):
    """How the coefficients of the values ``s`` are found: a list of ``(idx, op, values, errA,
    errM)``, ``values`` the coefficients and ``E phi^2`` (last column) at the nodes (or at the
    unique values of ``s``), ``op`` the barycentric matrix (``("mat", W)``) or the index (``("take",
    i)``) mapping them to the entries ``idx`` of ``s`` (None: all), ``errA`` and ``errM`` the
    estimated errors of the coefficients and of ``E phi^2``.  Never more quadratures than twice
    the number of distinct values (plus those of the splits): an interpolant that needs more
    nodes than there are values gives way to one quadrature per value.  ``start``: the node count
    of the first quadrature of an interpolant (:func:`_interpolated`); ``force``: interpolants
    whatever the number of values and nodes (:func:`interpolated_coefficients`)."""
    u = np.unique(s)
    if force or u.size > max(DIRECT_BELOW, EXACT_BELOW):
        got = _interpolated(mehler, s, rows, budget=None if force else u.size, start=start)
        if got is not None:
            return [(None, ("mat", got[0]), got[1], got[2], got[3])]
        wide = u.size >= 2 if force else u.size > 2 * NODES[-1]   # halves may interpolate
        if splits > 0 and wide:
            cut = (float(s.min()) + float(s.max())) / 2
            out = []
            for part in (np.nonzero(s <= cut)[0], np.nonzero(s > cut)[0]):
                out += [(part if idx is None else part[idx], op, values, eA, eM)
                        for idx, op, values, eA, eM
                        in _pieces(mehler, s[part], splits - 1, rows, start, force)]
            return out
    A, m2 = _quadrature(mehler, u * u, rows)      # one quadrature per value, as the NumPy path
    return [(None, ("take", np.searchsorted(u, s)), np.hstack([A, m2[:, None]]), 0.0, 0.0)]


def _assemble(pieces, n, cols):
    """``(A[:, :cols], m2)`` of the ``n`` values from :func:`_pieces`."""
    A = np.empty((n, cols))
    m2 = np.empty(n)
    for idx, (kind, how), values, _, _ in pieces:
        V = np.hstack([values[:, :cols], values[:, -1:]])
        rows = V[how] if kind == "take" else _mm(how, V)
        where = slice(None) if idx is None else idx
        A[where], m2[where] = rows[:, :-1], rows[:, -1]
    return A, m2


def _interpolated(mehler, s, rows=MAX_TERMS + 1, budget=None, start=NODES[0]):
    """One Chebyshev interpolant on ``[min s, max s]`` (see :func:`interpolated_coefficients`):
    ``(W, values, errA, errM)``: the barycentric matrix, the values at the nodes, the estimated
    errors of the coefficients and of ``E phi^2``; None when 65 nodes, or ``budget`` quadratures,
    do not reach INTERP_TOL.  ``start``: the node count of the first quadrature (one call for all
    its nodes: a call costs about as much as a dozen nodes), then 2m - 1, ... (nested).  The
    error of ``m`` nodes is estimated by the interpolant on the ``(m + 1)/2`` nodes among them at
    the others; the coefficients' error in units of ``sqrt(max E phi^2)`` (their scale), that of
    ``E phi^2`` in units of ``max(max E phi^2, sqrt(max E phi^2))`` (relative once
    ``E phi^2 > 1``, as for softplus at large variances, whose ``E phi^2 ~ q/2``).
    Where ``s >= 1`` the interpolant is in ``log s``: the coefficients are analytic in ``s`` off
    the imaginary axis (``phi(s x)`` with ``s = i t`` has poles on the real line), a strip of half
    width ``pi/2`` in ``log s`` but a pole at distance ``mid`` from a range ``mid +- half`` in ``s``
    (measured: 33 Lobatto nodes for ``s`` in [344, 1660] where ``s`` takes 65, and 65 for
    [3, 30] where 65 in ``s`` do not reach INTERP_TOL; docs/theory.md §29)."""
    log = float(s.min()) >= 1.0          # in log s from s = 1 on (see the docstring)
    z = np.log(s) if log else s
    lo, hi = float(z.min()), float(z.max())
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    u = np.clip((z - mid) / half, -1.0, 1.0) if half > 0 else np.zeros_like(s)

    def variance(x):
        v = mid + half * x
        return np.exp(2 * v) if log else v * v
    levels = mehler.levels(float(variance(np.ones(1))[0]))     # of the largest node, for all
    values = None
    for m in NODES[NODES.index(start):]:
        if budget is not None and m > budget:
            return None
        x, wts = _lobatto(m)
        if values is None:             # the first call: every node
            A, m2 = _quadrature(mehler, variance(x), rows, levels)
            values = np.hstack([A, m2[:, None]])
        else:                          # the nodes of m are those of the previous m, interleaved
            A, m2 = _quadrature(mehler, variance(x[1::2]), rows, levels)
            full = np.empty((m, values.shape[1]))
            full[0::2], full[1::2] = values, np.hstack([A, m2[:, None]])
            values = full
        if m == 2:
            continue
        top = max(float(np.max(values[0::2, -1])), 1e-300)
        scale, scale_m = np.sqrt(top), max(top, np.sqrt(top))
        diff = np.abs(_mm(_barycentric(*_lobatto((m + 1) // 2), x[1::2]), values[0::2])
                      - values[1::2])
        errA, errM = float(np.max(diff[:, :-1])), float(np.max(diff[:, -1]))
        if (errA <= INTERP_TOL * scale and errM <= INTERP_TOL * scale_m) or half == 0:
            return _barycentric(x, wts, u), values, errA, errM
    return None


def _quadrature(mehler, q, rows, levels=None):
    """``(A[:, :rows], m2)``: :meth:`symkernel.nn.pair._Mehler.coefficients` (the same
    Gauss-Legendre quadrature of the orthonormal Hermite functions, nodes shared by every ``q``)
    for the first ``rows`` coefficients only; ``levels``: the grading of the nodes
    (``_Mehler.levels``; default: that of the largest ``q``; an interpolant takes that of its
    largest node for all its nodes, one table of Hermite functions)."""
    if levels is None:
        levels = mehler.levels(np.max(q)) if np.size(q) else 0
    if rows > MAX_TERMS:           # as _Mehler.coefficients, at the given grading
        t, _, H, wg = mehler.shared_nodes(levels)
        vals = mehler.values(np.sqrt(q)[:, None] * t[None, :])
        return (H @ vals.T).T, (vals * vals) @ wg
    t, H, wg = _trimmed(mehler, rows, levels)
    vals = mehler.values(np.sqrt(q)[:, None] * t[None, :])       # (overflow: in mpmath)
    return _node_sums(vals, H), (vals * vals * wg).sum(axis=1)


@lru_cache(maxsize=16)
def _trimmed(mehler, rows, levels=0):
    """The quadrature of ``mehler`` (nodes, Hermite functions, weights of ``E f^2``) for the first
    ``rows`` coefficients: only the nodes where a Hermite function ``g_k``, ``k < rows``, is not
    negligible (within its turning point and 12 more, as ``_Mehler``'s range for MAX_TERMS; beyond,
    the weighted ``g_k`` are below ``e^{-t^2/2} < 1e-60``); ``levels``: the grading toward 0 for
    the call's largest variance (``_Mehler.levels``; 0 where ``sqrt(q) <= 1``)."""
    t, _, H, wg = mehler.shared_nodes(levels)
    keep = np.abs(t) <= np.sqrt(4 * rows + 2) + 12
    return t[keep], np.ascontiguousarray(H[:rows, keep]), wg[keep]


class Layer(NamedTuple):
    """The coefficients of one layer (:func:`coefficients_and_terms`)."""
    A: np.ndarray        #: ``A[i, k] = a_k(s_i^2)``, ``k <= K``
    m2: np.ndarray       #: ``E phi(s_i X)^2``
    err: float           #: the estimated error of an entry of ``A``
    K: int               #: the number of terms
    R: np.ndarray        #: the residuals ``R[i, k] = E phi^2 - sum_{j<=k} a_j^2`` (floored)
    err_m2: float        #: the estimated error of an entry of ``m2``
    nodes: int           #: the most interpolation nodes of a piece (0: one quadrature per value)


def coefficients_and_terms(mehler, s, rows=MAX_TERMS + 1, start=NODES[4]):
    """A :class:`Layer`: the coefficients ``A[i, k]``, ``k <= K``, of the values ``s``
    (:func:`interpolated_coefficients`), the number of terms ``K`` chosen on the nodes'
    coefficients (:func:`_terms`: the interpolants are within ``err`` of them), the residuals
    ``R[i, k]`` of every value, the estimated errors.  ``rows``: the quadrature computes that many
    coefficients (the last layer's ``K`` and a margin, to save work), all ``MAX_TERMS + 1`` again
    when ``K`` is not found within them; ``start``: the node count of an interpolant's first
    quadrature (the layer before's, halved: a quadrature call costs about a dozen nodes)."""
    while True:
        pieces = _pieces(mehler, s, 4, rows, start)
        nodes = np.vstack([p[2] for p in pieces])
        K = _terms(nodes[:, :-1], nodes[:, -1])[0]
        if K < rows - 1 or rows > MAX_TERMS:
            break
        rows = MAX_TERMS + 1
    A, m2 = _assemble(pieces, s.size, K + 1)
    cum = np.cumsum(A * A, axis=1)
    R = np.maximum(m2[:, None] - cum, NOISE * _EPS * m2[:, None])
    used = max((op[1].shape[1] for _, op, _, _, _ in pieces if op[0] == "mat"), default=0)
    return Layer(A, m2, max(p[3] for p in pieces), K, R, max(p[4] for p in pieces), used)


def _terms(A, m2):
    """``(K, R)``: the fewest terms ``K`` (at most ``A.shape[1] - 1``) after which, for every
    input, the coefficients left (``sum_{K < k} a_k^2``, summed from the end: no cancellation) are
    below ``eps E phi^2`` and the rest beyond the last column (``E phi^2 - sum a_k^2``) below the
    noise floor ``NOISE eps E phi^2``; and the residuals ``R[i, k] = R_k``, ``k <= K``
    (``E phi^2 - sum_{j<=k} a_j^2``, floored there)."""
    sq = A * A
    cum = np.cumsum(sq, axis=1)
    after = np.cumsum(sq[:, :0:-1], axis=1)[:, ::-1]          # after[:, k] = sum_{j > k} a_j^2
    floor = NOISE * _EPS * m2
    rest = ((m2 - cum[:, -1]) <= floor)[:, None]
    ok = ((after <= _EPS * m2[:, None] + 1e-300) & rest).all(axis=0)
    K = int(np.argmax(ok)) if ok.any() else A.shape[1] - 1
    R = np.maximum(m2[:, None] - cum[:, :K + 1], floor[:, None])
    return K, R


def _tail(R, K, RT, tau):
    """The Parseval tail of a layer's entries: ``|rho|^{K+1} sqrt(R_K(q_i) R_K(q_j))`` at most
    ``RT_i^{K+1} sqrt(R_K(q_i) max_j R_K(q_j))`` (``RT``: the rows' largest ``|rho|``, an input
    with itself aside; rows first in ``R``, then columns), and ``tau`` where the per-block stop
    of :func:`_mehler_rows` ended the sum earlier."""
    h = RT.size
    with np.errstate(under="ignore"):
        worst = RT ** (K + 1) * np.sqrt(R[:h, K] * float(np.max(R[h:, K])))
    return max(tau, float(np.max(worst)))


def _block_max(R, block):
    """``out[b, k]``: the largest ``R[j, k]`` over the columns ``j`` of block ``b``."""
    n = R.shape[0]
    pad = -n % block
    if pad:
        R = np.vstack([R, np.zeros((pad, R.shape[1]))])
    return np.ascontiguousarray(R.reshape(-1, block, R.shape[1]).max(axis=1))


def _dense(C, T, w, b, errC, errT):
    """A ``Dense(w, b)`` step not followed by an activation, in place: ``C <- w C + b``,
    ``T <- w T + C``; returns the carried error bounds ``(errC, errT)`` after it."""
    C *= w
    C += b
    T *= w
    T += C
    return errC * w, (errT + errC) * w


def input_rounding(q1, q2, d):
    """A bound on the rounding of every ``c = x_1.x_2 / d`` computed in float64, in any order of
    summation: ``|fl(x.y) - x.y| <= gamma_d sum_k |x_k y_k| <= gamma_d |x| |y|`` (Higham, Accuracy
    and Stability of Numerical Algorithms, 2002, §3.1; Cauchy-Schwarz), ``gamma_d ~ d eps/2``, and
    ``|x| |y| / d = sqrt(q_1 q_2)``; with the division, at most
    ``(d + 2) eps sqrt(max q_1 max q_2)``.
    Not ``max |c|``: where the inner products cancel, ``c`` is far below the rounding it carries.

    >>> float(input_rounding(np.array([4.0]), np.array([1.0]), 6)) == 16 * 2.0 ** -52
    True
    """
    return (d + 2) * _EPS * float(np.sqrt(np.max(q1) * np.max(q2)))


def mehler_kernels(pk, ops, X1, X2, same, tol):
    """``(nngp, ntk)`` of a stack of ``Dense`` layers and one activation without closed forms
    (``ops`` as :func:`symkernel.nn.fused.plan`, each activation after a Dense), or None: numba
    missing, a variance 0 inside the stack, or the worst-case error bound above ``tol``."""
    loop, grouped = compile_loop(_mehler_rows), compile_loop(_grouped_rows)
    if loop is None or pk._mehler._shared is None:
        return None
    threads = min(THREADS, X1.shape[0])
    if threads == 1 or X1.shape[0] * X2.shape[0] < PARALLEL_ENTRIES:      # threads would not pay
        return _mehler_kernels(pk, ops, X1, X2, same, tol, loop, grouped, None, 1)
    with ThreadPoolExecutor(threads) as pool:
        return _mehler_kernels(pk, ops, X1, X2, same, tol, loop, grouped, pool, threads)


def _mehler_kernels(pk, ops, X1, X2, same, tol, loop, grouped, pool, threads):
    MF, MD = pk._mehler, pk._mehler_derivative
    d = X1.shape[1]
    q1, q2 = (X1 * X1).sum(1) / d, (X2 * X2).sum(1) / d
    if not (positive(q1) and positive(q2)):
        return None
    # inputs sorted by variance: a column block then holds similar variances (and residuals R_k)
    o1 = np.argsort(q1, kind="stable")
    o2 = o1 if same else np.argsort(q2, kind="stable")
    X1, q1 = X1[o1], q1[o1]
    X2, q2 = (X1, q1) if same else (X2[o2], q2[o2])
    C = X1 @ X2.T / d
    if same:
        np.fill_diagonal(C, q1)
    T = np.zeros_like(C)
    n1 = q1.size
    errC = input_rounding(q1, q2, d)                    # worst-case carried errors (scalars)
    errT = 0.0
    pending = None
    rows = [MAX_TERMS + 1, MAX_TERMS + 1]     # coefficients the quadrature computes (F, D)
    top = np.inf                              # the largest s of the last activation layer
    start = [NODES[4], NODES[4]]              # nodes of an interpolant's first quadrature (F, D)
    t1, t2 = np.zeros_like(q1), np.zeros_like(q2)     # the NTK of each input with itself
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
        if float(np.max(s)) > GROWTH * top:     # K grows with s: the last layer's says nothing
            rows = [MAX_TERMS + 1, MAX_TERMS + 1]
        top = float(np.max(s))
        if pool is None:
            tabs = [coefficients_and_terms(M, s, rows[n], start[n]) for n, M in enumerate((MF, MD))]
        else:              # phi and phi' side by side (NumPy releases the GIL in its loops)
            tabs = [f.result() for f in [
                pool.submit(coefficients_and_terms, M, s, rows[n], start[n])
                for n, M in enumerate((MF, MD))]]
        rows = [min(got.K + 1 + ROWS_MARGIN, MAX_TERMS + 1) for got in tabs]
        # the next layer's interpolants start at half this one's nodes (variances converge)
        start = [NODES[max(NODES.index(got.nodes) - 1, 1)] if got.nodes else NODES[4]
                 for got in tabs]
        (AF, mF, iF, KF, RF, eF, _), (AD, mD, iD, KD, RD, eD, _) = tabs
        # the adaptive stop per row and column block (_mehler_rows): tail bound <= eps max E phi^2,
        # below the bound of the layer (the residuals, floored at NOISE eps E phi^2)
        tauF, tauD = _EPS * float(np.max(mF)), _EPS * float(np.max(mD))
        h = q1.size
        RT = np.zeros(h)              # the largest |rho| of each row (an input with itself aside)
        u, group = np.unique(s, return_inverse=True)
        if u.size <= EXACT_BELOW:          # a few variances: one polynomial in rho per pair of them
            first = np.unique(group, return_index=True)[1]      # an input of each group
            G2 = group[h:]
            starts = np.concatenate([[0], np.nonzero(np.diff(G2))[0] + 1, [G2.size]])
            AFu, ADu = AF[first], AD[first]
            args = (same, C, T, w, b, q1, q2, np.ascontiguousarray(group[:h]), starts,
                    G2[starts[:-1]].copy(), AFu[:, None, :] * AFu[None, :, :],
                    ADu[:, None, :] * ADu[None, :, :], mF[:h].copy(),
                    mD[:h].copy(), RT)
            fn = grouped
        else:
            AF1, AF2T = np.ascontiguousarray(AF[:h]), np.ascontiguousarray(AF[h:].T)
            AD1, AD2T = np.ascontiguousarray(AD[:h]), np.ascontiguousarray(AD[h:].T)
            args = (same, C, T, w, b, q1, q2, AF1, AF2T, AD1, AD2T, mF[:h].copy(), mD[:h].copy(),
                    BLOCK, np.ascontiguousarray(RF[:h]), _block_max(RF[h:], BLOCK),
                    np.ascontiguousarray(RD[:h]), _block_max(RD[h:], BLOCK), tauF, tauD, RT)
            fn = loop
        if pool is None:
            fn(0, 1, *args)
        else:
            list(pool.map(lambda k: fn(k, threads, *args), range(threads)))
        # worst-case bounds of this step: tail, interpolation (Cauchy-Schwarz over the terms; and
        # of E phi^2, the diagonal), rounding of the Horner sums, and the carried error through
        # |D| (F) and the slope (D)
        P = float(np.max(s)) ** 2
        tailF = _tail(RF, KF, RT, tauF) + eF \
            + 2 * np.sqrt(KF + 1) * iF * np.sqrt(float(np.max(mF))) \
            + _EPS * float(np.max((AF * AF * (2 * np.arange(KF + 1) + 2)).sum(axis=1)))
        tailD = _tail(RD, KD, RT, tauD) + eD \
            + 2 * np.sqrt(KD + 1) * iD * np.sqrt(float(np.max(mD))) \
            + _EPS * float(np.max((AD * AD * (2 * np.arange(KD + 1) + 2)).sum(axis=1)))
        slope = float(np.max((AD * AD * np.arange(KD + 1)).sum(axis=1)))
        minP = float(np.min(s)) ** 2
        Dmax = float(np.max(mD))
        # |T| after the Dense, by Cauchy-Schwarz on the NTK (a PSD kernel): sqrt(t_i t_j), t the
        # NTK of each input with itself (q + w t), carried alongside
        t1, t2 = q1 + w * t1, q2 + w * t2
        Tmax = float(np.sqrt(np.max(t1) * np.max(t2)))
        # the Dense step: c' = w c + b rounds twice, by at most eps |w c| + eps |c'| <= 2 eps P
        # (P the largest variance after it: |w c| + b <= w sqrt(q q) + b); T' = c' + w T likewise
        errC_in = errC * w + 2 * _EPS * P
        errT_in = errT * w + errC_in + 2 * _EPS * Tmax
        errC = tailF + Dmax * errC_in
        errT = Dmax * errT_in + Tmax * (tailD + slope * errC_in / minP)
        q1, q2 = mF[:h], mF[h:]
        t1, t2 = t1 * mD[:h], t2 * mD[h:]
        if not (positive(q1) and positive(q2)):
            return None
    if pending is not None:
        errC, errT = _dense(C, T, *pending, errC, errT)
    if same:
        i, j = np.tril_indices(n1, -1)
        C[i, j], T[i, j] = C[j, i], T[j, i]
    if errC > tol * float(np.max(np.abs(C))) or errT > tol * float(np.max(np.abs(T))):
        return None
    i1, i2 = np.argsort(o1), np.argsort(o2)          # back to the order of the inputs
    return C[i1][:, i2], T[i1][:, i2]


__all__ = ["BLOCK", "DIRECT_BELOW", "EXACT_BELOW", "GROWTH", "INTERP_TOL", "Layer", "NODES",
           "NOISE", "PARALLEL_ENTRIES", "ROWS_MARGIN", "coefficients_and_terms", "input_rounding",
           "interpolated_coefficients", "mehler_kernels"]
