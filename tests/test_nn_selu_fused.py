"""SELU and ELU with alpha != 1 on the fused path (issue 14; symkernel.nn.fused._elu_split_rows,
docs/theory.md §33).  The comparisons with the 120-bit reference recursion are in
tests/test_nn_selu_gap.py (``_check_fused``); here: the routing, the fused loop against the NumPy path
(which carries the angle by separate code: NumPy, adaptive quadrature, per-entry bounds) within that
path's bounds, the triangle and the threads, and the Gauss-Legendre rules of the gap integral against
a 64-node composite rule written here."""
import numpy as np
import pytest

import symkernel as sk
from symkernel.nn import fused
from symkernel.nn.elu_gap import relu_gap, smooth_part

needs_numba = pytest.mark.skipif(not fused.available(), reason="the fused loops need numba")
EPS = np.finfo(float).eps
SELU_PV = (1.0507009873554805, 1.0507009873554805 * 1.6732632423543772)


def _net(act, depth, w=1.5, b=0.05):
    return sk.nn.serial(sk.nn.repeat(sk.nn.serial(sk.nn.Dense(w, b), sk.nn.Activation(act)), depth),
                        sk.nn.Dense(w, b))


def _inputs(seed=5, n=9, d=6):
    """Random rows, an exact duplicate of row 0, and rows at ``1 - rho ~ 1e-3, 1e-8`` from row 1 with
    another norm (so ``a != b``: the Cauchy-Schwarz gap enters)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    u = rng.standard_normal(d)
    u -= (u @ X[1]) / (X[1] @ X[1]) * X[1]
    u /= np.linalg.norm(u)
    near = [1.01 * (X[1] + np.sqrt(2 * g) * np.linalg.norm(X[1]) * u) for g in (1e-3, 1e-8)]
    return np.vstack([X, X[:1], near])


@needs_numba
def test_plan_routes_the_elu_family():
    """SELU, ELU(alpha = 2) and ELU(alpha = 0.5) (``p != v``) take the angle-carrying loop with their
    ``(p, v, kappa)``; ELU and CELU (``p = v``) keep the loop in rho; a stack mixing the two is
    refused (one loop per stack); ``errors=True`` and ``fused=False`` take the NumPy path."""
    for act, pv in (("selu", SELU_PV), (sk.activation("elu", alpha=2), (1.0, 2.0)),
                    (sk.activation("elu", alpha=0.5), (1.0, 0.5))):
        kind, ops = fused.plan(_net(act, 2))
        assert kind == fused._ELUS and np.allclose(ops[1][1], (*pv, 1.0), rtol=1e-15, atol=0)
    for act in ("elu", sk.activation("celu", alpha=2)):
        assert fused.plan(_net(act, 2))[0] == fused._ELU
    mixed = sk.nn.serial(sk.nn.Dense(1.5, 0.05), sk.nn.Activation("selu"), sk.nn.Dense(1.5, 0.05),
                         sk.nn.Activation("elu"))
    assert fused.plan(mixed) is None
    X = _inputs()[:4]
    net = _net("selu", 3)
    assert net.kernel(X).method == "float64 (fused loops, numba)"
    assert net.kernel(X, fused=False).method == "float64"
    assert net.kernel(X, errors=True).method == "float64"


@needs_numba
@pytest.mark.parametrize("act, depth", [("selu", 20), ("elu2", 12), ("elu05", 12)])
def test_fused_within_the_numpy_paths_bounds(act, depth):
    """Random rows, a duplicate, a pair at ``1 - rho = 1e-3`` and one at ``1e-8`` (other norms), x1 != x2
    and the triangle: every fused entry within the NumPy path's per-entry bound plus ``4 L eps`` of it
    (measured: at most 1.7e-15 relative; the bounds are 1e-15 .. 1e-11)."""
    a = {"selu": "selu", "elu2": sk.activation("elu", alpha=2), "elu05": sk.activation("elu", alpha=0.5)}[act]
    net = _net(a, depth)
    X = _inputs()
    X2 = X[::-1].copy()
    for x2 in (X2, None):
        ref = net.kernel(X, x2, errors=True)
        got = net.kernel(X, x2)
        assert got.method == "float64 (fused loops, numba)"
        for g, r, e in ((got.nngp, ref.nngp, ref.nngp_error), (got.ntk, ref.ntk, ref.ntk_error)):
            assert np.all(np.abs(g - r) <= e + 4 * depth * EPS * np.abs(r)), np.max(np.abs(g / r - 1))


@needs_numba
def test_triangle_and_threads():
    """x2 omitted (the triangle, mirrored) against x2 given as a copy: symmetric, and within the NumPy
    path's per-entry bound plus ``4 L eps`` of each other (the blocks of a row start elsewhere, which can
    move the last bits of the closed form, and the chaotic phase grows them as it grows any rounding:
    measured 3.8e-14 relative on an NTK entry whose bound is 4.9e-11); one thread and three give the
    same bits (each entry's arithmetic does not depend on the rows' split)."""
    net = _net("selu", 10)
    X = _inputs()
    tri = net.kernel(X)
    full = net.kernel(X, X.copy())
    ref = net.kernel(X, errors=True)
    for t, f, e in ((tri.nngp, full.nngp, ref.nngp_error), (tri.ntk, full.ntk, ref.ntk_error)):
        assert np.array_equal(t, t.T)
        assert np.all(np.abs(t - f) <= e + 40 * EPS * np.abs(f)), np.max(np.abs(t / f - 1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fused, "THREADS", 1)
        one = net.kernel(X, X[::-1].copy())
        mp.setattr(fused, "THREADS", 3)
        three = net.kernel(X, X[::-1].copy())
    assert np.array_equal(one.nngp, three.nngp) and np.array_equal(one.ntk, three.ntk)


@needs_numba
def test_large_angle_at_large_variance_takes_panels():
    """A gathered entry with ``theta max(a, b) > 1`` (``kappa^2 q ~ 15.6``, ``1 - rho = 0.035``: the
    gap integral on 2 panels of 8 nodes): the NTK two activations on, which depends on that angle
    through ``D``, within the NumPy path's bound plus a few eps of it.  (At this ``x`` one panel of 8
    would do as well, and a gathered entry gets little further -- its output gap is below 1/20, so
    ``theta <~ 0.35`` -- but the panels' nodes are checked: the second panel's moved by 1e-3 of
    themselves is rejected.)"""
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal(8)
    u = rng.standard_normal(8)
    u -= (u @ x0) / (x0 @ x0) * x0
    x1 = x0 + np.sqrt(2 * 0.035) * np.linalg.norm(x0) * u / np.linalg.norm(u)
    x1 *= 0.999 * np.linalg.norm(x0) / np.linalg.norm(x1)          # kappa^2 q stays below 16; a != b
    X = np.vstack([x0, x1])
    q0 = float(x0 @ x0 / 8)
    w1 = 15.6 / q0
    F = float(sk.nn.serial(sk.nn.Dense(w1, 0.0), sk.nn.Activation("selu")).kernel(X[:1]).nngp[0, 0])
    net = sk.nn.serial(sk.nn.Dense(w1, 0.0), sk.nn.Activation("selu"), sk.nn.Dense(15.6 / F, 0.0),
                       sk.nn.Activation("selu"), sk.nn.Dense(1.0, 0.0))
    ref = net.kernel(X, errors=True)
    got = net.kernel(X)
    assert got.method == "float64 (fused loops, numba)"
    one_minus = 1 - ref.nngp[0, 1] / np.sqrt(ref.nngp[0, 0] * ref.nngp[1, 1])
    assert 0.01 < one_minus < 0.05                       # the angle was gathered, and is large
    for g, r, e in ((got.nngp, ref.nngp, ref.nngp_error), (got.ntk, ref.ntk, ref.ntk_error)):
        assert np.all(np.abs(g - r) <= e + 16 * EPS * np.abs(r))


def _composite(A, B, th, nodes, p, v, panels=1):
    """``int_0^theta S(cos t) sin t dt`` by Gauss-Legendre, ``nodes`` on each of ``panels`` panels."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    u = ((np.arange(panels)[:, None] + (x[None, :] + 1) / 2) / panels).ravel()
    wu = np.tile(w / (2 * panels), panels)
    t = th[None, :] * u[:, None]
    S = smooth_part(np.tile(A, t.shape[0]), np.tile(B, t.shape[0]), np.cos(t).ravel(), p, v).reshape(t.shape)
    return th * (wu @ (S * np.sin(t)))


@pytest.mark.parametrize("pv", [SELU_PV, (1.0, 2.0), (1.0, 0.5)])
def test_split_rule_nodes(pv):
    """Each rule of :data:`fused.SPLIT_RULE` at its largest ``x = theta max(1, a, b)``, ``a, b`` over the
    closed form's range: within 1.5e-15 of the gap ``w^2 relu_gap + int S`` (measured <= 9.9e-16; the
    rounding floor ~5e-16) against 16 nodes on 4 panels, and one node fewer is rejected (> 3e-15)."""
    p, v = pv
    a = np.array([0.1, 0.3, 0.7, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    A, B = np.concatenate([a, a]), np.concatenate([a, np.clip(1.1 * a, 0.1, 4.0)])
    for K, xm in fused.SPLIT_RULE:
        th = xm / np.maximum(1.0, np.maximum(A, B))
        ref = _composite(A, B, th, 16, p, v, 4)
        gap = (p - v) ** 2 * relu_gap(th) + ref
        assert np.max(np.abs(_composite(A, B, th, int(K), p, v) - ref) / gap) <= 1.5e-15
        assert np.max(np.abs(_composite(A, B, th, int(K) - 1, p, v) - ref) / gap) > 3e-15


@pytest.mark.parametrize("pv", [SELU_PV, (1.0, 2.0), (1.0, 0.5)])
def test_cauchy_schwarz_entry_against_mpmath(pv):
    """The fused loop's ``CS = sqrt(F_aa F_bb) - F_ab`` (:func:`cs_entry`, its ``expm1`` written out)
    against mpmath at 40 digits (``F(a, b, 1)`` in closed form, tests/test_nn_selu_gap.py) for ``b - a``
    from 0.3 to 1e-9: within 8e-15 relative (measured <= 3.8e-15, at ``a = 0.2``, where ``Q_a`` and
    ``dQ`` are nearly parallel; ``cs_gap``: 3.4e-15); ``h`` one ulp of ``b`` off is rejected at
    ``h = 1e-9`` (the loop passes ``h = b - a``, exact)."""
    import mpmath as mp
    from symkernel.nn.bivariate import elu_kernels_many
    from symkernel.nn.elu_gap import CS_NODES, cs_entry, cs_row
    from test_nn_selu_gap import _mp_F1

    p, v = pv
    one = np.array([1.0])
    E1, Q1, DQ = np.empty(CS_NODES), np.empty(CS_NODES), np.empty(CS_NODES)
    with mp.workdps(40):
        for a in (0.2, 1.0, 3.0, 3.9):
            W1 = cs_row(a, v, E1, Q1)
            for h in (0.3, 1e-2, 1e-4, 1e-6, 1e-9, -1e-7):
                b = a + h
                f1, f2 = (elu_kernels_many(np.array([z]), np.array([z]), one, p, v)[0][0] for z in (a, b))
                P = float(np.sqrt(f1 * f2))
                ref = mp.sqrt(_mp_F1(a, a, p, v) * _mp_F1(b, b, p, v)) - _mp_F1(a, b, p, v)
                got = cs_entry(a, b - a, p, P, E1, Q1, W1, DQ)
                assert abs(got - ref) <= 8e-15 * ref, (a, h, got, ref)
                if h == 1e-9:
                    off = cs_entry(a, float(np.nextafter(b, 9.0)) - a, p, P, E1, Q1, W1, DQ)
                    assert abs(off - ref) > 1e-8 * ref
