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
  per entry and layer is ``theta = asin(sin theta)``: an 8-term Taylor polynomial below
  ``sin theta = 1/8`` (truncation < 1e-17 relative), ``atan2`` above; ``sin theta - theta cos theta``
  by its Taylor series (to ``theta^17``) below ``theta = 1/2``.
* **erf** ``phi(x) = g erf(s x)`` (Williams, NeurIPS 1997), in ``rho`` (smooth at ``rho = 1``):
  ``F = (2 g^2 / pi) asin(z)``, ``D = (4 g^2 s^2 / pi) e_1 e_2 / sqrt((1 - z)(1 + z))`` with
  ``e = (1 + 2 s^2 q)^{-1/2}``, ``z = 2 s^2 c e_1 e_2``.

* **other closed forms smooth at** ``rho = 1`` (``D`` with zero slope in ``theta`` there: sin,
  cos, ...): the closed forms lambdified to the math module and compiled with the loop (once per
  activation and process), in ``rho`` as on the NumPy path;
* **no closed form** (tanh, softplus, SiLU, ELU, ...): Mehler's series, :mod:`symkernel.nn.mehler_fused`
  (``plan`` marks them ``MEHLER``).

Accuracy: no step cancels, so each adds a few roundings relative to its result; how the errors
of earlier layers propagate is the conditioning of the recursion, the same on every path, which
the NumPy path's first-order per-entry bounds measure.  This path computes no bounds
(``errors=True`` takes the NumPy path): its accuracy is established by tests, not proven --
against the dps=30 path at depth 100 in the ordered phase (<= 1e-13 relative on every entry,
``tests/test_nn_angles.py``) and against the NumPy path within its bounds plus ``4 L eps``
(``tests/test_nn_fused.py``).

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
from .angles import input_sin_versine
from .layers import Activation, Dense
from .pair import a as pa, b as pb, pair_kernel

#: variances whose products stay in float64's normal range
VARIANCE_RANGE = (float(np.sqrt(np.finfo(float).tiny)), float(np.sqrt(np.finfo(float).max)))
#: threads of the fused loop (rows are dealt round-robin)
THREADS = max(1, min(4, os.cpu_count() or 1))
#: below this sin(theta) the angle is an 8-term Taylor polynomial of asin, else atan2 (a literal in the loop)
ASIN_SERIES = 0.125
#: below this theta, sin(theta) - theta cos(theta) by its Taylor series (a literal in the loop)
GAP_SERIES = 0.5

_PWL, _ERF, _SMOOTH, MEHLER = 1, 2, 3, 4


# -- the loops (plain Python, compiled by numba on first use; see _compiled) -------------------------
def _pwl_rows(start, step, same, K0, SN0, VS0, kind, w, b, P1, P2, SP1, SP2, IR1, IR2, A, B, NN, NT):
    """Rows ``start, start + step, ...`` of the stack (``kind[l]``: 0 Dense(w[l], b[l]), 1 the
    piecewise-linear activation with ``A[l], B[l]``; ``P1[l], P2[l]``: variances entering op l,
    ``SP`` their square roots, ``IR1[l], IR2[l]`` the reciprocal square roots of the variances
    leaving it).  The inner loops are branch-free (selects), so that they vectorize; the angles
    beyond the Taylor polynomial are redone by atan2 in a separate pass."""
    n1, n2 = K0.shape
    c = np.empty(n2)
    T = np.empty(n2)
    sn = np.empty(n2)
    vs = np.empty(n2)
    xs = np.empty(n2)
    th = np.empty(n2)
    for i in range(start, n1, step):
        j0 = i if same else 0
        for j in range(j0, n2):
            c[j] = K0[i, j]
            T[j] = 0.0
            sn[j] = SN0[i, j]
            vs[j] = VS0[i, j]
        for l in range(kind.size):
            p1, s1, ir1 = P1[l, i], SP1[l, i], IR1[l, i]
            if kind[l] == 0:
                wl, bl = w[l], b[l]
                wb = wl * bl
                for j in range(j0, n2):
                    p2, s2 = P2[l, j], SP2[l, j]
                    P = s1 * s2
                    cn = wl * c[j] + bl
                    T[j] = cn + wl * T[j]
                    d = (p1 - p2) / (s1 + s2)
                    u = wl * P * sn[j]
                    y = math.sqrt(max(u * u + wb * (d * d + 2.0 * P * vs[j]), 0.0))
                    iR = ir1 * IR2[l, j]
                    c[j] = cn
                    sn[j] = min(y * iR, 1.0)
                    pos = cn > 0.0
                    top = y * y * iR if pos else 1.0 - cn * iR          # R (1 - cos), R = 1/iR
                    bot = 1.0 + cn * iR if pos else 1.0
                    vs[j] = top * iR / bot if pos else top
            else:
                Al, Bl = A[l], B[l]
                kap = Bl / Al
                ir = 1.0 / s1
                for j in range(j0, n2):
                    s = sn[j]
                    xc = min(max(c[j] * (ir / SP2[l, j]), -1.0), 1.0)
                    xc = xc if s != 0.0 else (1.0 if c[j] >= 0.0 else -1.0)
                    xs[j] = xc
                    z = s * s
                    th[j] = s * (1.0 + z * (1.0 / 6 + z * (3.0 / 40 + z * (5.0 / 112 + z * (35.0 / 1152 + z * (
                        63.0 / 2816 + z * (231.0 / 13312 + z * (143.0 / 10240))))))))
                for j in range(j0, n2):
                    if not (xs[j] > 0.0 and sn[j] < 0.125):
                        th[j] = math.atan2(sn[j], xs[j])
                for j in range(j0, n2):
                    s, xc, t = sn[j], xs[j], th[j]
                    z = t * t
                    gs = t * z * (1.0 / 3 - z * (1.0 / 30 - z * (1.0 / 840 - z * (1.0 / 45360 - z * (
                        1.0 / 3991680 - z * (1.0 / 518918400 - z * (1.0 / 93405312000 - z * (
                            1.0 / 22230464256000))))))))
                    g = gs if t < 0.5 else s - t * xc
                    D = Al - Bl * t
                    T[j] *= D
                    c[j] = s1 * SP2[l, j] * (Bl * s + xc * D)
                    v = min(max(vs[j] - kap * g, 0.0), 2.0)
                    vs[j] = v
                    sn[j] = math.sqrt(v * (2.0 - v))
        for j in range(j0, n2):
            NN[i, j] = c[j]
            NT[i, j] = T[j]


def _erf_rows(start, step, same, K0, kind, w, b, E1, E2, G, S2, QA1, NN, NT):
    """Rows of a ``Dense -> g erf(s x)`` stack in rho (``E1[l], E2[l] = (1 + 2 s^2 q)^{-1/2}`` of
    the variances entering op l; ``G[l] = g^2``, ``S2[l] = s^2``; ``QA1[l]`` the variances leaving
    op l, which the entries of an input with itself take, so that rho = 1 is kept exactly where
    it is unstable, in the chaotic phase)."""
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
                e1 = E1[l, i]
                fF = 2.0 * G[l] / math.pi
                fD = 2.0 * S2[l] * fF * e1
                k = 2.0 * S2[l] * e1
                for j in range(j0, n2):
                    z = k * c[j] * E2[l, j]
                    z = min(max(z, -1.0), 1.0)
                    T[j] *= fD * E2[l, j] / math.sqrt((1.0 - z) * (1.0 + z))
                    c[j] = fF * math.asin(z)
                if same:             # an input with itself: its variance, bit for bit (rho = 1 stays 1)
                    c[i] = QA1[l, i]
        for j in range(j0, n2):
            NN[i, j] = c[j]
            NT[i, j] = T[j]


@lru_cache(maxsize=1)
def _compiled():
    """The loops compiled by numba (``nogil``, cached on disk), or None without numba."""
    try:
        import numba
    except ImportError:
        return None
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    return {_PWL: jit(_pwl_rows), _ERF: jit(_erf_rows)}


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
    if pk.exact_nngp is None or pk.exact_ntk_factor is None:     # Mehler series (mehler_fused)
        return (MEHLER, (expr, name)) if pk._mehler._shared is not None else None
    pwl = _piecewise_linear(pk)
    if pwl is not None:
        return _PWL, pwl
    erf = _erf_form(pk, expr)
    if erf is not None:
        return _ERF, erf
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
        else:
            G, S2 = op[1]
            e = 1 / np.sqrt(1 + 2 * S2 * q)
            z = 2 * S2 * q * e * e
            t = t * (4 * G * S2 / np.pi) * e * e / np.sqrt((1 - z) * (1 + z))
            q = 2 * G / np.pi * np.arcsin(z)
    return P, q


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
    n1, n2 = (X1 * X1).sum(1) / d, (X2 * X2).sum(1) / d
    if not (_positive(n1) and _positive(n2)):
        return None
    K0 = X1 @ X2.T / d
    if same:
        np.fill_diagonal(K0, n1)
    codes = np.array([0 if op[0] == "dense" else 1 for op in ops], dtype=np.int64)
    w = np.array([op[1] if op[0] == "dense" else 0.0 for op in ops])
    b = np.array([op[2] if op[0] == "dense" else 0.0 for op in ops])
    P1, last1 = _diagonals(kind, ops, n1)
    P2, last2 = _diagonals(kind, ops, n2)
    if not all(_positive(v) for v in (P1, P2, last1, last2)):
        return None       # a variance 0 (or underflowed, or infinite) inside: the NumPy path
    QA1 = np.vstack([P1[1:], last1[None]])           # variances leaving each op
    NN, NT = np.empty(K0.shape), np.empty(K0.shape)
    if kind == _PWL:
        SN0, VS0 = input_sin_versine(X1, X2, same)
        A = np.array([op[1][0] if op[0] == "act" else 1.0 for op in ops])
        B = np.array([op[1][1] if op[0] == "act" else 0.0 for op in ops])
        SP1, SP2 = np.sqrt(P1), np.sqrt(P2)
        # square roots of the variances leaving each op: those entering the next one
        IR1 = 1 / np.vstack([SP1[1:], np.sqrt(_diagonals(kind, ops, n1)[1])[None]])
        IR2 = 1 / np.vstack([SP2[1:], np.sqrt(_diagonals(kind, ops, n2)[1])[None]])
        args = (same, K0, SN0, VS0, codes, w, b, P1, P2, SP1, SP2, IR1, IR2, A, B, NN, NT)
    elif kind == _SMOOTH:
        args = (same, K0, codes, w, b, np.sqrt(P1), np.sqrt(P2), QA1, NN, NT)
    else:
        G = np.array([op[1][0] if op[0] == "act" else 0.0 for op in ops])
        S2 = np.array([op[1][1] if op[0] == "act" else 0.0 for op in ops])
        E1 = 1 / np.sqrt(1 + 2 * S2[:, None] * P1)
        E2 = 1 / np.sqrt(1 + 2 * S2[:, None] * P2)
        args = (same, K0, codes, w, b, E1, E2, G, S2, QA1, NN, NT)
    fn = loops[kind] if kind != _SMOOTH else _smooth_compiled(*next(op[1] for op in ops if op[0] == "act"))
    threads = min(THREADS, K0.shape[0])
    if threads == 1:
        fn(0, 1, *args)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda k: fn(k, threads, *args), range(threads)))
    if same:
        i, j = np.tril_indices(K0.shape[0], -1)
        NN[i, j], NT[i, j] = NN[j, i], NT[j, i]
    return NN, NT


__all__ = ["ASIN_SERIES", "GAP_SERIES", "MEHLER", "THREADS", "available", "compile_loop", "fused_kernels", "plan"]
