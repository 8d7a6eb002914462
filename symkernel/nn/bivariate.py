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
``psi(t) = p t (t > 0), v (e^t - 1) (t <= 0)``: one entry of :func:`elu_block` (one implementation).

:func:`elu_block` computes the same ``F, D`` for a block of entries, vectorized across them
(docs/theory.md §28): ``T_a = e^{a^2/2} Phi(-a) - E_a`` leaves three ``Phi_2`` of one correlation,
whose Gauss-Legendre nodes they share; the rule (number of nodes, Genz's sum, the expansion
about ``|r| = 1``, or for ``r >= 0`` Owen's T function with one exponential per node for all three)
is chosen per cell of ``(|r|, max(a, b))`` (:data:`RULES_POS`, :data:`RULES`), every loop
branch-free with ``exp``, ``erfc``, ``atan2`` and ``sin`` written out (:mod:`symkernel.nn.fastmath`).
:func:`elu_kernels_many` (arrays), :func:`elu_kernels` (scalar) and the fused loops use it; :func:`bvn` is
the general scaled ``Phi_2`` (Genz's fixed rule).

The functions are plain Python, compiled by numba when it is installed (the fused loops call
them); without numba they run as Python.

>>> round(float(bvn(0.0, 0.0, 0.5, 0.0)), 15) == round(1 / 4 + math.asin(0.5) / (2 * math.pi), 15)
True
"""
import math

import numpy as np

from .fastmath import atan2_fast, erfc_pair, erfc_pair_le4, erfc_pair_mid, erfc_pair_small, exp_fast, sin_small

try:                                    # optional accelerator (pip install symkernel[fast])
    import numba as _numba

    def _jit(f):
        return _numba.njit(cache=True, nogil=True, error_model="numpy")(f)

    def _jit_fma(f):                    # fused multiply-adds (no reassociation): one rounding fewer
        return _numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})(f)

    def _inline(f):
        return _numba.njit(inline="always", cache=True, nogil=True, error_model="numpy")(f)
except ImportError:                     # pragma: no cover
    def _jit(f):
        return f
    _jit_fma = _inline = _jit

#: the ELU family's closed form runs where every kappa^2 q lies here (else the series path): below,
#: its quadrants cancel (relative error ~ eps / (kappa^2 q)); above, Genz's Phi_2, accurate to
#: ~1e-16 absolute, is scaled by e^{kappa^2 q/2} (at 16: within 4.3e-15 relative of mpmath)
ELU_RANGE = (1e-2, 16.0)
_X6, _W6 = np.polynomial.legendre.leggauss(6)
_X12, _W12 = np.polynomial.legendre.leggauss(12)
_X20, _W20 = np.polynomial.legendre.leggauss(20)
_TWOPI = 2.0 * math.pi
_PIO2, _PIO2LO = 1.5707963267948966, 6.123233995736766e-17      # pi/2 in two parts
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
    exponent); ``|r| <= 1``.

    Accuracy: Genz's fixed rule (6/12/20 nodes) bounds the error of ``Phi_2`` itself, so the result
    is within about ``1e-16 e^s`` of ``e^s Phi_2`` (measured at ``s = 0``: 1.1e-16 on ``h`` in
    [-5, 8], ``k`` in [-4, 6], tests/test_nn_elu_closed_form.py), and relative accuracy is kept in
    the far tails that its product terms carry (``e^{b^2/2} Phi_2(r b, -b; -r)``: 1e-14); where ``e^s``
    multiplies node terms of order one it is not (``e^{(a^2 + b^2 + 2 r a b)/2}`` at ``a, b = 4, 3.5``,
    ``r = 0.2``: 9.9e-15 absolute, 1e-12 at ``a = b = 4``, ``r = 0.29``), which :func:`elu_block`'s
    per-cell rules avoid (docs/theory.md §28)."""
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


@_jit_fma
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

    One entry of :func:`elu_block` (the code of :func:`elu_kernels_many` and the fused loops: per-cell
    rules, docs/theory.md §28; a block-wide choice, the form of ``E_a + E_b``'s node sum, can change
    the last bits), ``a, b > 0``, ``|r| <= 1``.

    >>> F, D = elu_kernels(1.0, 1.0, 0.0, 1.0, 1.0)      # independent: F = E[elu(X)]^2, D = E[elu'(X)]^2
    >>> m1 = (1 / math.sqrt(2 * math.pi) + math.exp(0.5) * 0.5 * math.erfc(1 / math.sqrt(2))) - 0.5
    >>> d1 = 0.5 + math.exp(0.5) * 0.5 * math.erfc(1 / math.sqrt(2))
    >>> bool(abs(F - m1 * m1) < 1e-16), bool(abs(D - d1 * d1) < 3e-16)
    (True, True)
    """
    A = np.full(1, float(a))
    B = np.full(1, float(b))
    R = np.full(1, float(r))
    GA = np.full(1, _scaled_tail(A[0]))
    GB = np.full(1, _scaled_tail(B[0]))
    F = np.empty(1)
    D = np.empty(1)
    W = np.empty((NWORK, 1))
    IW = np.empty((NGROUPS + 1, NGROUPS), dtype=np.int64)
    elu_block(1, A, B, GA, GB, R, float(p), float(v), F, D, W, IW)
    return F[0], D[0]


#: entries per call of :func:`elu_block` in :func:`elu_kernels_many`
CHUNK = 256
#: rows of the float workspace of :func:`elu_block`
NWORK = 196
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
#: Gauss-Legendre rules for ``r < 0`` per cell of ``(abs(r), max(a, b))`` (docs/theory.md §28): ``l n`` Genz's sum in
#: ``asin r`` with n nodes, ``h n`` the expansion about ``|r| = 1`` plus n nodes; the fewest nodes
#: with which all three scaled Phi_2 of :func:`elu_block` stayed within 2.5e-16 (of ``max(1, abs(value))``)
#: of a 96-node sum on 6000 points per cell and its corners, Genz's sum or the expansion, whichever
#: needs fewer exponentials (at ``max(a, b) > 3`` and ``0.2 < |r| < 0.9`` no rule gets below ~1e-15:
#: rounding of node terms up to e^{a b}; there the fewest nodes within twice that floor).
#: ``python benchmarks/elu_rules.py`` rederives such a table with a stricter criterion written out
#: there (truncation error under 1.25e-16, extrapolated below the rounding floor); on finer cells of
#: ``|r|`` below 0.97 it gave 0.8 fewer nodes per deep-network entry, but no faster code (more,
#: smaller cells), so this table stays
R_EDGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999,
           0.9999)
A_EDGES = (1.0, 1.5, 2.0, 3.0)
RULES = (("l4", "l5", "l5", "l5", "l6"),
         ("l5", "l6", "l6", "l6", "l7"),
         ("l6", "l7", "l7", "l7", "l10"),
         ("l7", "l7", "l8", "l16", "l10"),
         ("l8", "l8", "l10", "l10", "l10"),
         ("l10", "l10", "l10", "l10", "l12"),
         ("l10", "l12", "l12", "l12", "l12"),
         ("l12", "l12", "l12", "h32", "l12"),
         ("l12", "l12", "l12", "h32", "l14"),
         ("l14", "l14", "l14", "h28", "l14"),
         ("l14", "l16", "h24", "h28", "l16"),
         ("l16", "l16", "l20", "h24", "h32"),
         ("l20", "l20", "l20", "h20", "h28"),
         ("l20", "l20", "h20", "h20", "h24"),
         ("l28", "h16", "h16", "h16", "h20"),
         ("h10", "h12", "h14", "h14", "h16"),
         ("h5", "h7", "h8", "h10", "h12"),
         ("h5", "h5", "h5", "h6", "h7"),
         ("h4", "h4", "h4", "h4", "h4"),
         ("h4", "h4", "h4", "h4", "h4"))

#: the rules for ``r >= 0`` (:data:`RULES` is for ``r < 0``): as :data:`RULES`, and Owen's T (``o n``,
#: :func:`_owen_regime`), each rule's error measured against Owen's form in 128-bit Arb arithmetic and its
#: cost timed (``python benchmarks/elu_rules.py --table pos``, 6000 points per cell; docs/theory.md §28)
RULES_POS = (("l5", "l5", "l5", "l5", "l6"),
             ("l6", "l6", "l6", "l7", "l7"),
             ("l6", "l7", "l7", "l8", "l8"),
             ("l7", "l8", "l8", "l9", "l10"),
             ("l8", "l9", "l9", "l10", "l10"),
             ("o18", "l10", "l9", "l10", "l11"),
             ("o17", "l11", "l11", "l11", "l12"),
             ("o11", "o18", "l12", "l12", "l13"),
             ("o10", "o10", "o18", "l12", "l13"),
             ("o9", "o9", "o10", "o10", "l15"),
             ("o8", "o8", "o8", "o9", "o10"),
             ("o7", "o7", "o7", "o8", "o8"),
             ("o6", "o7", "o7", "o7", "o8"),
             ("o6", "o6", "o6", "o6", "o7"),
             ("o5", "o5", "o5", "o6", "o6"),
             ("o5", "o5", "o5", "o5", "o6"),
             ("o4", "o4", "o4", "o5", "o5"),
             ("o4", "o4", "o4", "o4", "o4"),
             ("o3", "o3", "o3", "o3", "o4"),
             ("o3", "o3", "o3", "o3", "o3"))


def _rule_nodes(c):
    """Nodes and weights of rule ``c``: ``l n``, ``h n`` Gauss-Legendre with n nodes; ``o n`` the n
    nonnegative nodes of the (2n - 1)-node rule, ``t = 0`` first at half weight (an even integrand on
    ``[0, 1]``)."""
    n = int(c[1:])
    if c[0] != "o":
        return np.polynomial.legendre.leggauss(n)
    x, w = np.polynomial.legendre.leggauss(2 * n - 1)
    x, w = np.abs(x[n - 1:]), w[n - 1:].copy()
    x[0] = 0.0
    w[0] *= 0.5
    return x, w


def _rule_tables():
    """The distinct rules of :data:`RULES_POS` and :data:`RULES` as padded arrays, their kinds
    (0 Genz's sum, 1 the expansion, 2 Owen's T) and the group of each cell (``r >= 0`` first)."""
    cells = [c for row in RULES_POS + RULES for c in row]
    names = sorted(set(cells), key=lambda c: (c[0], int(c[1:])))
    nmax = max(int(c[1:]) for c in names)
    X = np.zeros((len(names), nmax))
    W = np.zeros((len(names), nmax))
    N = np.zeros(len(names), dtype=np.int64)
    kind = np.zeros(len(names), dtype=np.int64)
    for g, c in enumerate(names):
        n = int(c[1:])
        X[g, :n], W[g, :n] = _rule_nodes(c)
        N[g], kind[g] = n, "lho".index(c[0])
    group = np.array([names.index(c) for c in cells], dtype=np.int64)
    return X, W, N, kind, group


_RX, _RW, _RN, _RKIND, _GROUPFLAT = _rule_tables()
_REDGE = np.array(R_EDGES)
_AEDGE = np.array(A_EDGES)
#: cells per table (:data:`RULES_POS` for ``r >= 0``, then :data:`RULES`)
_NCELL = (len(R_EDGES) + 1) * (len(A_EDGES) + 1)
#: the distinct rules of :data:`RULES` (the index workspace of :func:`elu_block` has ``NGROUPS + 1``
#: rows: an index list per rule, then the counts)
NGROUPS = _RN.size


@_inline
def _scaled_tail(x):
    """``e^{x^2/2} Phi(-x) = erfcx(x / sqrt 2) / 2`` for ``x >= 0``."""
    return 0.5 * erfc_pair(x * _INV_SQRT2)[0]


@_jit_fma
def scaled_tails(x):
    """``e^{x^2/2} Phi(-x)`` of a 1-D array ``x >= 0`` (the per-row and per-column factor of
    :func:`elu_block`).

    >>> bool(abs(scaled_tails(np.array([0.0]))[0] - 0.5) < 1e-17)
    True
    """
    out = np.empty(x.size)
    for k in range(x.size):
        out[k] = _scaled_tail(x[k])
    return out


@_inline
def _row_range(row, n):
    """``(min, max)`` of ``row[:n]`` (the erfc rows evaluate only the pieces of Cody's approximation
    this range needs)."""
    lo, hi = np.inf, 0.0
    for j in range(n):
        lo = min(lo, row[j])
        hi = max(hi, row[j])
    return lo, hi


@_jit_fma
def _erfc_rows(W, src, dst, rows, n):
    """``W[dst + t] = erfcx(W[src + t])`` and ``W[dst + rows + t] = erfc(W[src + t])`` on the first
    ``n`` columns, ``t < rows``: per row, only the pieces of Cody's approximation that its range needs
    (the same bits)."""
    for t in range(rows):
        lo, hi = _row_range(W[src + t], n)
        if hi <= 0.46875:
            for j in range(n):
                ex, ec = erfc_pair_small(W[src + t, j])
                W[dst + t, j] = ex
                W[dst + rows + t, j] = ec
        elif lo > 0.46875 and hi <= 4.0:
            for j in range(n):
                ex, ec = erfc_pair_mid(W[src + t, j])
                W[dst + t, j] = ex
                W[dst + rows + t, j] = ec
        elif hi <= 4.0:
            for j in range(n):
                ex, ec = erfc_pair_le4(W[src + t, j])
                W[dst + t, j] = ex
                W[dst + rows + t, j] = ec
        else:
            for j in range(n):
                ex, ec = erfc_pair(W[src + t, j])
                W[dst + t, j] = ex
                W[dst + rows + t, j] = ec


@_jit_fma
def _erfcx_rows(W, src, dst, rows, n):
    """``W[dst + t] = erfcx(W[src + t])`` on the first ``n`` columns, ``t < rows`` (:func:`_erfc_rows`
    without ``erfc``: no exponential where every argument of a row is above 0.46875)."""
    for t in range(rows):
        lo, hi = _row_range(W[src + t], n)
        if hi <= 0.46875:
            for j in range(n):
                W[dst + t, j] = erfc_pair_small(W[src + t, j])[0]
        elif lo > 0.46875 and hi <= 4.0:
            for j in range(n):
                W[dst + t, j] = erfc_pair_mid(W[src + t, j])[0]
        else:
            for j in range(n):
                W[dst + t, j] = erfc_pair(W[src + t, j])[0]


@_jit_fma
def _gather(n, idx, A, B, GA, GB, R, SQ, W):
    """Rows 7-13 of ``W``: ``arccos r`` (from row 0), ``a, b, r, sqrt(1 - r^2), GA, GB`` of the entries
    ``idx[:n]``."""
    for j in range(n):
        k = idx[j]
        W[7, j] = W[0, k]
        W[8, j] = A[k]
        W[9, j] = B[k]
        W[10, j] = R[k]
        W[11, j] = SQ[k]
        W[12, j] = GA[k]
        W[13, j] = GB[k]


@_jit_fma
def _scatter(n, idx, W, E, TAB):
    """``E_a + E_b`` and ``T_ab`` from rows 14 and 16 of ``W`` to the entries ``idx[:n]``."""
    for j in range(n):
        k = idx[j]
        E[k] = W[14, j]
        TAB[k] = W[16, j]


@_jit_fma
def _low_regime(n, X, WT, W):
    """``E_a + E_b`` and ``T_ab`` (see :func:`elu_block`) into rows 14 and 16 of ``W`` for the ``n`` entries
    gathered into its rows 8-13 (:func:`_gather`): Genz's Gauss-Legendre sum in ``asin r`` over
    the nodes ``X`` (weights ``WT``), ``sin`` and ``1/(1 - sin^2)`` once per node and entry
    (rows 100-195), then the node loop outside, the entries inside, with few arrays per loop (more
    would need more run-time alias checks than LLVM's vectorizer makes)."""
    cth, ca, cb, cr, cga, cgb = W[7], W[8], W[9], W[10], W[12], W[13]
    sa, sb, st, kt, ht = W[17], W[18], W[19], W[20], W[21]
    acca, acct, hh = W[26], W[28], W[29]
    N = X.size                                       # rows 100 + 3 N of W (NWORK: N <= 32)
    GN, SN, INV = W[100:100 + N], W[100 + N:100 + 2 * N], W[100 + 2 * N:100 + 3 * N]
    dmax = 0.0
    for j in range(n):
        a, b, r = ca[j], cb[j], cr[j]
        hh[j] = 0.5 * ((_PIO2 - cth[j]) + _PIO2LO)    # asin(r)/2 = (pi/2 - arccos r)/2
        aa, bb = a * a, b * b
        ra, rb = r * a, r * b
        # node exponents s + (sn h k - (h^2 + k^2)/2)/(1 - sn^2): a^2 G (E_a: h = a, k = r a) and b^2 G
        # (E_b: h = r b, k = b), G = 1/2 + (sn r - (1 + r^2)/2)/(1 - sn^2); T_ab (h = a + r b,
        # k = b + r a) as written, h and k formed first (expanded, h k = a b (1 + r^2) + r (a^2 + b^2)
        # cancels for r < 0: 50 times the rounding)
        sa[j] = 0.5 * (aa + bb)
        sb[j] = 0.5 * (bb - aa)
        dmax = max(dmax, abs(bb - aa))
        h, kk = a + rb, b + ra
        st[j] = 0.5 * (aa + bb) + ra * b
        kt[j] = h * kk
        ht[j] = 0.5 * (h * h + kk * kk)
        acca[j] = 0.0
        acct[j] = 0.0
    for i in range(X.size):
        x1 = 1.0 + X[i]
        gi, sni, invi = GN[i], SN[i], INV[i]
        for j in range(n):
            r = cr[j]
            sn = sin_small(hh[j] * x1)
            inv = 1.0 / ((1.0 - sn) * (1.0 + sn))
            sni[j] = sn
            invi[j] = inv
            gi[j] = 0.5 + (sn * r - 0.5 * (1.0 + r * r)) * inv
    # E_a + E_b (all that F and D need): e^{a^2 g} + e^{b^2 g} = e^{m g} 2 cosh(d g), m = (a^2 + b^2)/2,
    # d = (b^2 - a^2)/2; |g| <= r^2/2 <= 1/2, so with |b^2 - a^2| <= 2 (every deep layer past the first
    # few) |d g| <= 1/2 and 2 cosh by its Taylor series to x^16 (remainder below 1.2e-21): one exp per node;
    # deep layers, where the variances have converged (|b^2 - a^2| <= 1e-2): to x^6
    if dmax <= 1e-2:                                 # |d g| <= 1/400: 2 cosh to x^6 (remainder below 1e-25)
        for i in range(X.size):
            wi = WT[i]
            gi = GN[i]
            for j in range(n):
                g = gi[j]
                z = (sb[j] * g) * (sb[j] * g)
                ch = 2.0 + z * (1.0 + z * (1.0 / 12 + z * (1.0 / 360)))
                acca[j] += wi * (exp_fast(sa[j] * g) * ch)
    elif dmax <= 2.0:
        for i in range(X.size):
            wi = WT[i]
            gi = GN[i]
            for j in range(n):
                g = gi[j]
                z = (sb[j] * g) * (sb[j] * g)
                ch = 2.0 + z * (1.0 + z * (1.0 / 12 + z * (1.0 / 360 + z * (1.0 / 20160 + z * (
                    1.0 / 1814400 + z * (1.0 / 239500800 + z * (1.0 / 43589145600 + z * (1.0 / 10461394944000))))))))
                acca[j] += wi * (exp_fast(sa[j] * g) * ch)
    else:
        for i in range(X.size):
            wi = WT[i]
            gi = GN[i]
            for j in range(n):
                g = gi[j]
                acca[j] += wi * (exp_fast((sa[j] - sb[j]) * g) + exp_fast((sa[j] + sb[j]) * g))
    for i in range(X.size):                          # T_ab
        wi = WT[i]
        sni, invi = SN[i], INV[i]
        for j in range(n):
            acct[j] += wi * exp_fast(st[j] + (sni[j] * kt[j] - ht[j]) * invi[j])
    for j in range(n):                               # erfc arguments: |h|, |k| of T_ab, |r a|, |r b|
        a, b, r = ca[j], cb[j], cr[j]
        W[32, j] = abs(a + r * b) * _INV_SQRT2
        W[33, j] = abs(b + r * a) * _INV_SQRT2
        W[34, j] = abs(r * a) * _INV_SQRT2
        W[35, j] = abs(r * b) * _INV_SQRT2
    _erfc_rows(W, 32, 36, 4, n)
    oa, ob, ot = W[14], W[15], W[16]
    for j in range(n):
        a, b, r = ca[j], cb[j], cr[j]
        f = hh[j] / _TWOPI
        # e^s Phi(-h) Phi(-k): E_a = (e^{a^2/2} Phi(-a)) Phi(-r a), E_b likewise; T_ab with the
        # exponent s - h^2/2 - k^2/2 (h, k >= 0), s - k^2/2 = a^2 (1 - r^2)/2 (h < 0), ... written out
        hp, kp = a + r * b >= 0.0, b + r * a >= 0.0
        fh = 0.5 * W[36, j] if hp else 1.0 - 0.5 * W[40, j]
        fk = 0.5 * W[37, j] if kp else 1.0 - 0.5 * W[41, j]
        pa = 0.5 * W[42, j] if r >= 0.0 else 1.0 - 0.5 * W[42, j]      # Phi(-r a)
        pb = 0.5 * W[43, j] if r >= 0.0 else 1.0 - 0.5 * W[43, j]
        s2 = (1.0 - r) * (1.0 + r)
        ex = -0.5 * r * (r * (a * a + b * b) + 2.0 * a * b) if (hp and kp) else 0.5 * s2 * (a * a if kp else b * b)
        oa[j] = max(acca[j] * f + (cga[j] * pa + cgb[j] * pb), 0.0)
        ob[j] = 0.0
        ot[j] = max(acct[j] * f + exp_fast(ex) * fh * fk, 0.0)


@_jit_fma
def _high_regime(n, X, WT, W):
    """``E_a + E_b`` and ``T_ab`` into rows 14 and 16 of ``W`` for the ``n`` entries gathered into its rows 8-13,
    Genz's expansion about ``|r| = 1`` (Drezner & Wesolowsky) plus the Gauss-Legendre nodes
    ``X`` (weights ``WT``), one pass per ``Phi_2``, the node loop outside."""
    ca, cb, cr, cga, cgb = W[8], W[9], W[10], W[12], W[13]
    s2v, av = W[17], W[18]
    S, HK, BS, C, Dd, RES = W[32:35], W[35:38], W[38:41], W[41:44], W[44:47], W[47:50]
    for j in range(n):
        a, b, r = ca[j], cb[j], cr[j]
        s2 = (1.0 - r) * (1.0 + r)
        s2v[j] = s2
        av[j] = math.sqrt(s2)
    for t in range(3):
        sv, kv, bv, cv, dv, res = S[t], HK[t], BS[t], C[t], Dd[t], RES[t]
        for j in range(n):
            a, b, r = ca[j], cb[j], cr[j]
            sg = 1.0 if r >= 0.0 else -1.0           # r < 0: k -> -k
            if t == 0:
                h, kk, s = a, sg * r * a, 0.5 * a * a
            elif t == 1:
                h, kk, s = r * b, sg * b, 0.5 * b * b
            else:
                h, kk, s = a + r * b, sg * (b + r * a), 0.5 * (a * a + b * b) + r * a * b
            hk = h * kk
            bs = (h - kk) * (h - kk)
            c = (4.0 - hk) / 8.0
            d = (12.0 - hk) / 16.0
            sv[j], kv[j], bv[j], cv[j], dv[j] = s, hk, bs, c, d
            s2 = s2v[j]
            aa = av[j]
            x0 = exp_fast(s - 0.5 * (bs / max(s2, 1e-300) + hk))
            B_ = math.sqrt(bs)
            tail = 0.5 * erfc_pair(B_ / max(aa, 1e-300) * _INV_SQRT2)[0]          # e^{y^2/2} Phi(-y), y = B/A
            res[j] = (aa * x0 * (1.0 - c * (bs - s2) * (1.0 - d * bs / 5.0) / 3.0 + c * d * s2 * s2 / 5.0)
                      - x0 * tail * _SQRT2PI * B_ * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0))
        for i in range(X.size):
            x1 = 0.5 * (1.0 + X[i])
            wi = 0.5 * WT[i]
            for j in range(n):
                aj = av[j]
                xs = (aj * x1) * (aj * x1)
                rs = math.sqrt(1.0 - xs)
                rp = (1.0 + rs) * (1.0 + rs)
                q = 1.0 / max(xs * rs * rp, 1e-300)  # one division: 1/xs, 1/rs and (1 - rs)/(2 (1 + rs)) from it
                hk, c, d = kv[j], cv[j], dv[j]
                ex = sv[j] - 0.5 * (bv[j] * (q * rs * rp) + hk)
                u = 0.5 * (q * rs) * (xs * xs)
                res[j] += wi * aj * (exp_fast(ex - hk * u) * (q * xs * rp)
                                     - exp_fast(ex) * (1.0 + c * xs * (1.0 + d * xs)))
    oa, ob, ot = W[14], W[15], W[16]
    for j in range(n):
        a, b, r = ca[j], cb[j], cr[j]
        lo, hi = min(a, b), max(a, b)                # T_ab: max(h, k) = hi + r lo, s - max^2/2 = lo^2 (1 - r^2)/2
        ptab = exp_fast(0.5 * lo * lo * s2v[j]) * _scaled_tail(hi + r * lo)
        one = s2v[j] == 0.0                          # |r| = 1: the expansion vanishes
        pos = r > 0.0
        ra = 0.0 if one else -RES[0, j] / _TWOPI
        rb = 0.0 if one else -RES[1, j] / _TWOPI
        rt = 0.0 if one else -RES[2, j] / _TWOPI
        oa[j] = max(ra + cga[j] if pos else -ra, 0.0) + max(rb + cgb[j] if pos else -rb, 0.0)
        ob[j] = 0.0
        ot[j] = max(rt + ptab if pos else -rt, 0.0)


@_jit_fma
def _owen_regime(n, X, WT, W):
    r"""``E_a + E_b`` and ``T_ab`` into rows 14 and 16 of ``W`` for the ``n`` entries gathered into its
    rows 8-13, ``0 < r``, by Owen's T function (Owen, Ann. Math. Stat. 1956; docs/theory.md §28):
    ``Phi_2(h, k; r) = (Phi(h) + Phi(k))/2 - T(h, a_h) - T(k, a_k)`` (``h, k < 0``),
    ``T(h, al) = (1/2 pi) int_0^al e^{-h^2 (1 + x^2)/2}/(1 + x^2) dx``.  With ``s = sqrt(1 - r^2)``,
    ``u = s^2 (1 - t^2)/2``, ``e_a = e^{a^2 u}``, ``e_b = e^{b^2 u}``:

    ``E_a + E_b = (GA + GB)/2 + (e^{a^2 s^2/2} e^{r^2 a^2/2} Phi(-r a) + (b)) / 2
    - (c/2 pi) int_0^1 (e_a + e_b)/(1 + c^2 t^2) dt``, ``c = s/r`` (``a_h = 0``, ``a_k = s/r``);

    ``T_ab = (e^{b^2 s^2/2} e^{h_1^2/2} Phi(-h_1) + e^{a^2 s^2/2} e^{h_2^2/2} Phi(-h_2))/2
    - (1/2 pi) int_0^1 (al_1 e_b/(1 + al_1^2 t^2) + al_2 e_a/(1 + al_2^2 t^2)) dt``,
    ``h_1 = a + r b``, ``al_1 = b s/h_1`` (and ``a, b`` swapped).  Both integrands are even in ``t``
    with poles at ``t = +-i/c``, ``+-i/al`` only (and ``e_a, e_b`` entire), so Gauss-Legendre on
    ``[-1, 1]`` with an odd number of nodes, of which ``X`` (weights ``WT``, the first node ``t = 0`` at
    half weight) are the nonnegative ones, converges fast at large ``r``; one exponential per node (the
    pair ``e_a, e_b`` from ``e^{m u}`` and ``cosh, sinh`` of ``d u``, ``m, d = (a^2 + b^2)/2,
    (b^2 - a^2)/2``, where the variances have converged), shared by the three ``Phi_2``."""
    ca, cb, cr, cga, cgb = W[8], W[9], W[10], W[12], W[13]
    ME, DE, CC, A1, A2 = W[17], W[18], W[19], W[20], W[21]
    EA, EB, EA0, EB0, acce, acct = W[22], W[23], W[24], W[25], W[26], W[28]
    dmax = 0.0
    for j in range(n):
        a, b, r, sq = ca[j], cb[j], cr[j], W[11, j]
        hs = 0.5 * sq * sq
        ME[j] = 0.5 * (a * a + b * b) * hs
        DE[j] = 0.5 * (b * b - a * a) * hs
        dmax = max(dmax, abs(b * b - a * a))
        CC[j] = sq / r
        A1[j] = b * sq / (a + r * b)
        A2[j] = a * sq / (b + r * a)
        acce[j] = 0.0
        acct[j] = 0.0
    for i in range(X.size):
        tt = X[i] * X[i]
        om = 1.0 - tt
        wi = WT[i]
        # e_a, e_b at this node: |d u| <= |b^2 - a^2|/4 <= 1/400 (converged variances): cosh and sinh to
        # y^7 (remainder below 1e-22); |b^2 - a^2| <= 2: cosh to y^14, sinh to y^15 (|y| <= 1/2, remainders
        # below 1e-18)
        if dmax <= 1e-2:
            for j in range(n):
                y = DE[j] * om
                z = y * y
                e = exp_fast(ME[j] * om)
                ch = 1.0 + z * (0.5 + z * (1.0 / 24 + z * (1.0 / 720)))
                sh = y * (1.0 + z * (1.0 / 6 + z * (1.0 / 120 + z * (1.0 / 5040))))
                EB[j] = e * (ch + sh)
                EA[j] = e * (ch - sh)
        elif dmax <= 2.0:
            for j in range(n):
                y = DE[j] * om
                z = y * y
                e = exp_fast(ME[j] * om)
                ch = 1.0 + z * (0.5 + z * (1.0 / 24 + z * (1.0 / 720 + z * (1.0 / 40320 + z * (
                    1.0 / 3628800 + z * (1.0 / 479001600 + z * (1.0 / 87178291200)))))))
                sh = y * (1.0 + z * (1.0 / 6 + z * (1.0 / 120 + z * (1.0 / 5040 + z * (1.0 / 362880 + z * (
                    1.0 / 39916800 + z * (1.0 / 6227020800 + z * (1.0 / 1307674368000))))))))
                EB[j] = e * (ch + sh)
                EA[j] = e * (ch - sh)
        else:
            for j in range(n):
                EB[j] = exp_fast((ME[j] + DE[j]) * om)
                EA[j] = exp_fast((ME[j] - DE[j]) * om)
        if i == 0:                                   # t = 0: e^{a^2 s^2/2}, e^{b^2 s^2/2}
            for j in range(n):
                EA0[j] = EA[j]
                EB0[j] = EB[j]
        for j in range(n):
            c = CC[j]
            acce[j] += wi * (EA[j] + EB[j]) / (1.0 + (c * c) * tt)
        for j in range(n):
            a1, a2 = A1[j], A2[j]
            d1 = 1.0 + (a1 * a1) * tt
            d2 = 1.0 + (a2 * a2) * tt
            acct[j] += wi * (a1 * EB[j] * d2 + a2 * EA[j] * d1) / (d1 * d2)
    for j in range(n):                               # erfc arguments (all >= 0): h_1, h_2, r a, r b
        a, b, r = ca[j], cb[j], cr[j]
        W[32, j] = (a + r * b) * _INV_SQRT2
        W[33, j] = (b + r * a) * _INV_SQRT2
        W[34, j] = (r * a) * _INV_SQRT2
        W[35, j] = (r * b) * _INV_SQRT2
    _erfcx_rows(W, 32, 36, 4, n)
    oa, ob, ot = W[14], W[15], W[16]
    for j in range(n):
        ea0, eb0 = EA0[j], EB0[j]
        oa[j] = max(0.5 * (cga[j] + cgb[j]) + 0.25 * (ea0 * W[38, j] + eb0 * W[39, j])
                    - CC[j] * acce[j] / _TWOPI, 0.0)
        ob[j] = 0.0
        ot[j] = max(0.25 * (eb0 * W[36, j] + ea0 * W[37, j]) - acct[j] / _TWOPI, 0.0)


@_jit_fma
def elu_block(m, A, B, GA, GB, R, p, v, F, D, W, IW):
    r"""``F[k], D[k]`` (:func:`elu_kernels`) for ``k < m``, vectorized across entries (docs/theory.md §28):
    ``GA[k] = e^{a^2/2} Phi(-a)`` and ``GB[k]`` (:func:`scaled_tails`, per row and column) give
    ``T_a = GA - E_a`` and ``T_b = GB - E_b`` (``Phi_2(x, y; -r) = Phi(y) - Phi_2(-x, y; r)``), so
    three ``Phi_2`` of correlation ``r`` remain, ``E_a, E_b, T_ab``; they share Genz's nodes.  The
    entries are split by the rule of their cell (:data:`RULES`) into index lists (rows of ``IW``,
    ``NGROUPS + 1`` rows of at least ``max(m, NGROUPS)`` ints); ``W`` is a workspace of ``NWORK`` rows of at
    least ``m`` floats (on return its rows 4 and 6 hold ``E_a + E_b`` and ``T_ab``).

    ``D = p^2 P + p v (GA + GB - E_a - E_b) + v^2 T_ab``: only ``E_a + E_b`` and ``T_ab`` enter
    (and ``F`` likewise), each with its own scale ``<= 1``, so ``T_a`` cancels only to an error of
    the size of ``GA``'s rounding (near ``r = 1``, where ``T_a -> 0``)."""
    TH, SQ, MA, MB, EA, TAB = W[0], W[1], W[2], W[3], W[4], W[6]
    for k in range(m):
        r = R[k]
        s2 = (1.0 - r) * (1.0 + r)
        sq = math.sqrt(s2)
        SQ[k] = sq
        TH[k] = atan2_fast(sq, r)
        MA[k] = A[k] * sq * _INV_SQRT2
        MB[k] = B[k] * sq * _INV_SQRT2
    _erfcx_rows(W, 2, 96, 2, m)                      # M_a = (e^{a^2 s^2/2} Phi(-a s) - 1/2)/sqrt(2 pi)
    for k in range(m):
        MA[k] = (0.5 * W[96, k] - 0.5) / _SQRT2PI
        MB[k] = (0.5 * W[97, k] - 0.5) / _SQRT2PI
    CNT = IW[NGROUPS]
    for g in range(NGROUPS):
        CNT[g] = 0
    CELL = W[5]
    for k in range(m):                               # the cell of each entry, (|r|, max(a, b)) (vectorized)
        ar = abs(R[k])
        am = max(A[k], B[k])
        ri = 0.0
        for e in range(_REDGE.size):
            ri += 1.0 if ar >= _REDGE[e] else 0.0
        ai = 0.0
        for e in range(_AEDGE.size):
            ai += 1.0 if am > _AEDGE[e] else 0.0
        CELL[k] = ri * (_AEDGE.size + 1) + ai + (_NCELL if R[k] < 0.0 else 0.0)
    for k in range(m):                               # its rule
        g = _GROUPFLAT[int(CELL[k])]
        IW[g, CNT[g]] = k
        CNT[g] += 1
    for g in range(NGROUPS):
        n = CNT[g]
        if n == 0:
            continue
        _gather(n, IW[g], A, B, GA, GB, R, SQ, W)
        nn = _RN[g]
        if _RKIND[g] == 2:
            _owen_regime(n, _RX[g, :nn], _RW[g, :nn], W)
        elif _RKIND[g] == 1:
            _high_regime(n, _RX[g, :nn], _RW[g, :nn], W)
        else:
            _low_regime(n, _RX[g, :nn], _RW[g, :nn], W)
        _scatter(n, IW[g], W, EA, TAB)
    for k in range(m):
        a, b, r = A[k], B[k], R[k]
        th, sq = TH[k], SQ[k]
        P = 0.5 - th / _TWOPI
        E, Tab = EA[k], TAB[k]                      # E = E_a + E_b
        Tt = max((GA[k] + GB[k]) - E, 0.0)           # T_a + T_b
        D[k] = p * p * P + p * v * Tt + v * v * Tab
        F[k] = (p * p * a * b * (sq + (math.pi - th) * r) / _TWOPI
                + p * v * (r * a * b * Tt + (a * MB[k] + b * MA[k]))
                + v * v * ((Tab - E) + P))


@_jit_fma
def elu_phi2_many(a, b, r):
    """The scaled ``Phi_2`` of :func:`elu_block` over 1-D arrays: rows ``E_a + E_b`` and ``T_ab``,
    ``E_a = e^{a^2/2} Phi_2(-a, -r a; r)``, ``E_b = e^{b^2/2} Phi_2(-r b, -b; r)``,
    ``T_ab = e^{(a^2 + b^2 + 2 r a b)/2} Phi_2(-(a + r b), -(b + r a); r)``.

    >>> E = elu_phi2_many(np.array([1.0]), np.array([1.0]), np.array([0.0]))
    >>> bool(abs(E[0, 0] - scaled_tails(np.array([1.0]))[0]) < 2e-16)      # r = 0: 2 e^{1/2} Phi(-1) / 2
    True
    """
    n = a.size
    out = np.empty((2, n))
    GA = scaled_tails(a)
    GB = scaled_tails(b)
    F = np.empty(CHUNK)
    D = np.empty(CHUNK)
    W = np.empty((NWORK, CHUNK))
    IW = np.empty((NGROUPS + 1, CHUNK), dtype=np.int64)
    for s in range(0, n, CHUNK):
        m = min(CHUNK, n - s)
        elu_block(m, a[s:], b[s:], GA[s:], GB[s:], r[s:], 1.0, 1.0, F, D, W, IW)
        for k in range(m):
            out[0, s + k] = W[4, k]
            out[1, s + k] = W[6, k]
    return out


@_jit_fma
def elu_kernels_many(a, b, r, p, v):
    """:func:`elu_kernels` over 1-D arrays ``a, b, r`` (same length): arrays ``(F, D)``, by
    :func:`elu_block` in chunks of :data:`CHUNK`.

    >>> F, D = elu_kernels_many(np.array([1.0]), np.array([1.0]), np.array([1.0]), 1.0, 1.0)
    >>> bool(abs(F[0] - elu_kernels(1.0, 1.0, 1.0, 1.0, 1.0)[0]) < 1e-15)
    True
    """
    n = a.size
    F = np.empty(n)
    D = np.empty(n)
    GA = scaled_tails(a)
    GB = scaled_tails(b)
    W = np.empty((NWORK, CHUNK))
    IW = np.empty((NGROUPS + 1, CHUNK), dtype=np.int64)
    for s in range(0, n, CHUNK):
        m = min(CHUNK, n - s)
        elu_block(m, a[s:], b[s:], GA[s:], GB[s:], r[s:], p, v, F[s:], D[s:], W, IW)
    return F, D


__all__ = ["A_EDGES", "CHUNK", "ELU_RANGE", "NGROUPS", "NWORK", "RULES", "RULES_POS", "R_EDGES", "bvn", "elu_block",
           "elu_kernels", "elu_kernels_many", "elu_phi2_many", "log_ncdf_neg", "scaled_tails"]
