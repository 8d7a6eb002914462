"""The vectorized fused loops (symkernel.nn.fused) against paths that share none of their code.

The loops evaluate atan2/asin and expm1 by polynomials written out (numba without SVML calls the
scalar libm, which stops vectorization).  Here: those approximations inside the compiled loops on
dense grids plus edge values against math.asin / math.sinh / math.cosh and mpmath; one layer of
ReLU, GELU and sin against closed forms evaluated in mpmath at 30 digits (ReLU: Cho & Saul's
arc-cosine kernel written out; GELU: the exact engine's SymPy NNGP, its NTK factor by Price's
theorem as a 30-digit numerical derivative of it; sin: exp and sinh written out); GELU at depth 10
against an mpmath recursion on the same closed forms; and the path with more features than
GRAM_IN_LOOP (Gram matrix by BLAS) against the NumPy path."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.nn import fused

pytest.importorskip("numba")
EPS = np.finfo(float).eps


def _cov_loop(fam, z, kind, G=1.0, S2=0.5):
    """The covariance loop on one row of entries ``c = z`` (no Gram matrix: K0 given), every
    per-input factor 1 and Dense(1, 0): erf gives ``(2 G / pi) asin(2 S2 c)``, sin ``G sinh(S2 c)``
    (and, after a Dense, an NTK ``c G S2 cosh(S2 c)``)."""
    n, L = z.size, len(kind)
    NN, NT = np.empty((1, n)), np.empty((1, n))
    fused._compiled()[fused._ERF](
        0, 1, False, fam, z[None, :].copy(), np.zeros((1, 1)), np.zeros((1, n)), np.ones(1),
        np.array(kind, dtype=np.int64), np.ones(L), np.zeros(L), np.full(L, G), np.full(L, S2),
        np.ones((L, 1)), np.ones((L, 1)), np.ones((L, n)), np.ones((L, n)),
        np.full((L, 1), -1.0), np.full((L, n), -2.0), np.ones((L, 1)), NN, NT)   # no c equals the variances
    return NN[0], NT[0]


def test_asin_of_the_loops_within_3_ulp_on_a_dense_grid():
    rng = np.random.default_rng(0)
    z = np.concatenate([np.linspace(-1, 1, 200001), rng.uniform(-1, 1, 50000), 1 - np.logspace(-16, 0, 500),
                        np.logspace(-320, 0, 500), -np.logspace(-320, 0, 500),
                        [0.0, 1.0, -1.0, np.nextafter(1.0, 0.0), 5e-324]])
    F, _ = _cov_loop(fused._ERF, z, [1])
    ref = (2.0 / math.pi) * np.array([math.asin(v) for v in z])
    rel = np.abs(F - ref) / np.maximum(np.abs(ref), 5e-324)
    assert rel.max() <= 3 * EPS, (rel.max(), z[rel.argmax()])
    # edges against mpmath at 40 digits: near 1, tiny, and the reduction's breakpoints
    edges = np.concatenate([1 - np.logspace(-16, -0.01, 60), np.logspace(-300, -0.01, 60),
                            [math.tan(math.pi / 8), 0.66 / math.hypot(1, 0.66), 1 / math.sqrt(2)]])
    F, _ = _cov_loop(fused._ERF, edges, [1])
    with mpmath.workdps(40):
        worst = max(float(abs(mpmath.mpf(float(f)) / (2 / mpmath.pi * mpmath.asin(mpmath.mpf(float(e)))) - 1))
                    for f, e in zip(F, edges))
    assert worst <= 3 * EPS, worst


def test_sinh_and_cosh_of_the_sin_loop_within_4_ulp():
    x = np.concatenate([np.linspace(-700, 700, 100001), np.linspace(-3, 3, 100001), np.logspace(-300, 2.8, 2000),
                        -np.logspace(-300, 2.8, 2000), (np.arange(-1000, 1000) + 0.5) * math.log(2), [0.0]])
    x = x[np.abs(x) <= 700]
    F, T = _cov_loop(fused._SIN, x, [0, 1], S2=1.0)
    sinh = np.array([math.sinh(v) for v in x])
    xcosh = x * np.array([math.cosh(v) for v in x])
    nz = sinh != 0
    assert np.max(np.abs(F[nz] / sinh[nz] - 1)) <= 4 * EPS
    assert (F[~nz] == 0).all()
    nz = xcosh != 0
    assert np.max(np.abs(T[nz] / xcosh[nz] - 1)) <= 4 * EPS


def _pairs():
    """Integer-valued rows (so that the float64 Gram matrix is exact: the comparisons below see the
    loops' own rounding only), with a nearly parallel and a nearly anti-parallel pair of
    different norms (angles ~1e-4 from 0 and from pi)."""
    rng = np.random.default_rng(3)
    X = rng.integers(-9, 10, size=(12, 5)).astype(float)
    X[0] = 1000 * np.array([7.0, -3.0, 5.0, 2.0, -8.0])
    X[1] = 2 * X[0] + np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    X[2] = -X[0] + np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    return X, rng.integers(-9, 10, size=(7, 5)).astype(float)


def _close(got, want, want11, want22, k=4):
    """|got - want| <= k eps sqrt(want11 want22): relative to the entry's Cauchy-Schwarz scale
    (entries that are small by cancellation, e.g. the NNGP of a nearly anti-parallel pair, keep
    the absolute digits of that scale)."""
    return abs(mpmath.mpf(float(got)) - want) <= k * EPS * mpmath.sqrt(abs(want11 * want22))


def _mp_rows(X):
    return [[mpmath.mpf(float(v)) for v in row] for row in X]


def test_one_relu_layer_against_the_arc_cosine_kernel_in_mpmath():
    """NNGP sqrt(q1 q2)(sin t + (pi - t) cos t)/(2 pi), NTK c (pi - t)/(2 pi), t = acos(rho) of the
    inputs, in mpmath at 30 digits: every entry within 4 eps of its scale (the rows with
    themselves, nearly parallel and anti-parallel pairs included)."""
    X, Y = _pairs()
    net = sk.nn.serial(sk.nn.Dense(1.0, 0.0), sk.nn.Activation("relu"))
    d = X.shape[1]

    def exact(u, v):
        q1, q2, c = mpmath.fdot(u, u) / d, mpmath.fdot(v, v) / d, mpmath.fdot(u, v) / d
        t = mpmath.acos(max(-1, min(1, c / mpmath.sqrt(q1 * q2))))
        return (mpmath.sqrt(q1 * q2) * (mpmath.sin(t) + (mpmath.pi - t) * mpmath.cos(t)) / (2 * mpmath.pi),
                c * (mpmath.pi - t) / (2 * mpmath.pi))
    for x1, x2 in ((X, None), (X, Y)):
        k = net.kernel(x1, x2)
        assert "fused" in k.method
        with mpmath.workdps(30):
            U, V = _mp_rows(x1), _mp_rows(x1 if x2 is None else x2)
            dU, dV = [exact(u, u) for u in U], [exact(v, v) for v in V]
            for i, u in enumerate(U):
                for j, v in enumerate(V):
                    F, T = exact(u, v)
                    assert _close(k.nngp[i, j], F, dU[i][0], dV[j][0]), (i, j)
                    assert _close(k.ntk[i, j], T, dU[i][1], dV[j][1]), (i, j)


def _gelu_exact():
    """The exact engine's GELU NNGP F(a, b, rho) in mpmath, and D = dF/dc by a 30-digit central
    difference (Price's theorem: dE[phi(u) phi(v)]/dc = E[phi'(u) phi'(v)])."""
    import sympy as sp
    from symkernel.core.symbols import rho
    from symkernel.nn.pair import a, b, pair_kernel

    F = sp.lambdify((a, b, rho), pair_kernel("gelu").exact_nngp, modules="mpmath")

    def FD(q1, q2, c):
        s1, s2 = mpmath.sqrt(q1), mpmath.sqrt(q2)
        f = F(s1, s2, c / (s1 * s2))
        return f, mpmath.diff(lambda cc: F(s1, s2, cc / (s1 * s2)), c)
    return FD


def test_one_gelu_layer_against_the_exact_engine_and_price():
    X, Y = _pairs()
    net = sk.nn.serial(sk.nn.Dense(1.7, 0.0), sk.nn.Activation("gelu"))
    FD = _gelu_exact()
    d = X.shape[1]
    k = net.kernel(X, Y)
    assert "fused" in k.method
    with mpmath.workdps(30):
        def exact(u, v):
            q1, q2, c = (1.7 * mpmath.fdot(u, u) / d, 1.7 * mpmath.fdot(v, v) / d, 1.7 * mpmath.fdot(u, v) / d)
            F, D = FD(q1, q2, c)
            return F, c * D
        for i, u in enumerate(_mp_rows(X[:6])):
            for j, v in enumerate(_mp_rows(Y[:4])):
                (F, T), d11, d22 = exact(u, v), exact(u, u), exact(v, v)
                assert _close(k.nngp[i, j], F, d11[0], d22[0]), (i, j)
                assert _close(k.ntk[i, j], T, d11[1], d22[1]), (i, j)


def test_gelu_at_depth_10_against_an_mpmath_recursion():
    """(Dense(1.5, 0.05) -> GELU) x 10 -> Dense, every entry of 3 inputs (a nearly parallel pair
    included) within 1e-13 of the recursion on the exact engine's closed form at 30 digits; the
    same comparison rejects a GELU NTK factor off by 1e-12 relative per layer."""
    X, _ = _pairs()
    x = X[:3] / 4000                      # variances ~1, a nearly parallel pair
    L, w, bb = 10, 1.5, 0.05
    net = sk.nn.serial(sk.nn.repeat(sk.nn.serial(sk.nn.Dense(w, bb), sk.nn.Activation("gelu")), L),
                       sk.nn.Dense(w, bb))
    FD = _gelu_exact()
    d = x.shape[1]
    with mpmath.workdps(30):
        M = _mp_rows(x)
        K = [[mpmath.fdot(u, v) / d for v in M] for u in M]
        T = [[mpmath.mpf(0)] * 3 for _ in range(3)]
        for _ in range(L):
            K = [[w * K[i][j] + bb for j in range(3)] for i in range(3)]
            T = [[K[i][j] + w * T[i][j] for j in range(3)] for i in range(3)]
            new = [[FD(K[i][i], K[j][j], K[i][j]) for j in range(3)] for i in range(3)]
            T = [[T[i][j] * new[i][j][1] for j in range(3)] for i in range(3)]
            K = [[new[i][j][0] for j in range(3)] for i in range(3)]
        K = [[w * K[i][j] + bb for j in range(3)] for i in range(3)]
        T = [[K[i][j] + w * T[i][j] for j in range(3)] for i in range(3)]
    for k in (net.kernel(x), net.kernel(x, x.copy())):
        assert "fused" in k.method
        for got, want in ((k.nngp, K), (k.ntk, T)):
            rel = max(float(abs(mpmath.mpf(float(got[i, j])) / want[i][j] - 1)) for i in range(3) for j in range(3))
            assert rel <= 1e-13, rel
    # the comparison can fail: GELU's variance map (the diagonal the loop starts from) off by 1e-12
    original = fused.gelu_kernels
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fused, "gelu_kernels", lambda q1, q2, c, t: (original(q1, q2, c, t)[0] * (1 + 1e-12),
                                                                original(q1, q2, c, t)[1]))
        bad = fused.fused_kernels(fused.plan(net), x, x, True)[0]
    assert max(float(abs(mpmath.mpf(float(bad[i, j])) / K[i][j] - 1)) for i in range(3) for j in range(3)) > 1e-12


def test_one_sin_layer_against_the_closed_form_in_mpmath():
    """sin: NNGP exp(-(q1 + q2)/2) sinh(c), NTK c exp(-(q1 + q2)/2) cosh(c), and 2 sin(3x)."""
    X, Y = _pairs()
    X, d = X[3:] / 4, X.shape[1]             # unit-size variances (sin forgets large ones: exp(-q))
    for g, s in ((1, 1), (2, 3)):
        act = sk.nn.Activation("sin") if (g, s) == (1, 1) else sk.nn.Activation(2 * sp.sin(3 * sk.x))
        net = sk.nn.serial(sk.nn.Dense(0.5, 0.0), act)
        assert fused.plan(net)[0] == fused._SIN
        k = net.kernel(X, Y / 4)
        assert "fused" in k.method
        with mpmath.workdps(30):
            def exact(u, v):
                q1, q2, c = (0.5 * mpmath.fdot(u, u) / d, 0.5 * mpmath.fdot(v, v) / d, 0.5 * mpmath.fdot(u, v) / d)
                e = g * g * mpmath.exp(-s * s * (q1 + q2) / 2)
                return e * mpmath.sinh(s * s * c), c * s * s * e * mpmath.cosh(s * s * c)
            for i, u in enumerate(_mp_rows(X)):
                for j, v in enumerate(_mp_rows(Y / 4)):
                    (F, T), d11, d22 = exact(u, v), exact(u, u), exact(v, v)
                    assert _close(k.nngp[i, j], F, d11[0], d22[0]), (g, s, i, j)
                    assert _close(k.ntk[i, j], T, d11[1], d22[1]), (g, s, i, j)


@pytest.mark.parametrize("act", ["relu", "erf", "gelu", "sin"])
def test_more_features_than_the_loops_gram_against_the_numpy_path(act):
    """d = 40 > GRAM_IN_LOOP: the Gram matrix comes from BLAS; triangle and full matrix."""
    assert fused.GRAM_IN_LOOP < 40
    rng = np.random.default_rng(8)
    X, Y = rng.standard_normal((9, 40)), rng.standard_normal((6, 40))
    X[1] = 2 * X[0] + 1e-8 * rng.standard_normal(40)
    net = sk.nn.serial(sk.nn.repeat(sk.nn.serial(sk.nn.Dense(1.4, 0.1), sk.nn.Activation(act)), 8),
                       sk.nn.Dense(1.4, 0.1))
    for x2 in (None, Y):
        k = net.kernel(X, x2)
        assert "fused" in k.method
        ref = net.kernel(X, x2, errors=True, fused=False)
        for what in ("nngp", "ntk"):
            got, want, err = getattr(k, what), getattr(ref, what), getattr(ref, what + "_error")
            assert (np.abs(got - want) <= err + 4 * len(net.flat) * EPS * np.abs(want)).all(), what


@pytest.mark.parametrize("act", ["relu", "erf", "gelu", "sin"])
def test_equal_inputs_in_x1_and_x2_give_the_triangles_kernels_bit_for_bit(act):
    """x2 = x1.copy(): the loops sum the Gram matrix in the order of the norms, and an entry with
    c = q_1 = q_2 takes the variance itself, so rho = 1 stays exactly 1 (in erf's chaotic phase,
    depth 100, a rounding there grew to 2e-13 of the NTK before)."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6, 10))
    net = sk.nn.serial(sk.nn.repeat(sk.nn.serial(sk.nn.Dense(1.5, 0.05), sk.nn.Activation(act)), 100),
                       sk.nn.Dense(1.5, 0.05))
    tri, full = net.kernel(X), net.kernel(X, X.copy())
    assert "fused" in tri.method and "fused" in full.method
    up = np.triu_indices(6)             # the entries the triangle computes (j >= i), the same way
    assert np.array_equal(tri.nngp[up], full.nngp[up]) and np.array_equal(tri.ntk[up], full.ntk[up])


@pytest.mark.parametrize("scale", [1.0, 1e4, 1e8])
def test_one_erf_layer_at_large_variances_against_williams_in_mpmath(scale):
    """erf(2x) after Dense(2, 0), every entry against Williams' arcsine kernel written out in
    mpmath at 40 digits: NNGP = (2/pi) asin(z), NTK = NNGP + c (16/pi) e_i e_j / sqrt(1 - z^2),
    z = 8 c e_i e_j, e = (1 + 8 q)^(-1/2).  Found in review: the loop formed sqrt((1 - z)(1 + z)),
    which cancels on the diagonal (1 - z = e^2), and the NTK diagonal was off by 6e-11 at
    scale 1e3 and 93 % at 1e9 without an error; now 1 - z^2 is a sum of nonnegative terms."""
    X = np.random.default_rng(7).standard_normal((4, 3)) * scale
    net = sk.nn.serial(sk.nn.Dense(2.0, 0.0), sk.nn.Activation(sp.erf(2 * sk.x)), sk.nn.Dense(1.0, 0.0))
    assert fused.plan(net) is not None
    nngp, ntk = np.empty((4, 4)), np.empty((4, 4))
    with mpmath.workdps(40):
        rows = [[mpmath.mpf(float(v)) for v in r] for r in X]
        cov = [[2 * mpmath.fsum(a * b for a, b in zip(r, s)) / 3 for s in rows] for r in rows]
        e = [1 / mpmath.sqrt(1 + 8 * cov[i][i]) for i in range(4)]
        for i in range(4):
            for j in range(4):
                z = 8 * cov[i][j] * e[i] * e[j]
                # 1 - z^2 = e_i^2 e_j^2 (1 + 8 (q_i + q_j) + 64 (q_i q_j - c^2)): exact at i = j
                gap = e[i] * e[j] * mpmath.sqrt(1 + 8 * (cov[i][i] + cov[j][j])
                                                + 64 * (cov[i][i] * cov[j][j] - cov[i][j] ** 2))
                nngp[i, j] = 2 / mpmath.pi * mpmath.atan2(z, gap)
                ntk[i, j] = nngp[i, j] + cov[i][j] * 16 / mpmath.pi * e[i] * e[j] / gap
    for k in (net.kernel(X), net.kernel(X, X.copy())):
        for got, ref in ((k.nngp, nngp), (k.ntk, ntk)):
            scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))     # entries that cancel: their scale
            assert np.all(np.abs(got - ref) <= 8 * EPS * scale)
            assert np.all(np.abs(np.diag(got) / np.diag(ref) - 1) <= 4 * EPS)
