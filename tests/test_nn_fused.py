"""The fused float64 loops (symkernel.nn.fused) against paths that share none of their code: the
NumPy path (closed forms derived by SymPy, lambdified, with per-entry error bounds) and the dps=30
path (the same SymPy closed forms in mpmath).  The depth-100 ordered-phase check against dps=30 is
in tests/test_nn_angles.py (one dps reference serves both paths)."""
import math

import mpmath
import numpy as np
import pytest

import symkernel as sk
from symkernel.nn import fused

numba = pytest.importorskip("numba")
EPS = np.finfo(float).eps
RNG = np.random.default_rng(5)
X = RNG.standard_normal((14, 6))
X[1] = 1.7 * X[0] + 1e-6 * RNG.standard_normal(6)      # nearly parallel, different norms
X[2] = -0.8 * X[3] + 1e-5 * RNG.standard_normal(6)     # nearly anti-parallel
Y = RNG.standard_normal((9, 6))


def _stack(act, sw2, sb2, depth, last=True):
    block = sk.nn.serial(sk.nn.Dense(sw2, sb2), sk.nn.Activation(act))
    return sk.nn.serial(sk.nn.repeat(block, depth), *([sk.nn.Dense(sw2, sb2)] if last else []))


LEAKY = sk.activation("leaky_relu", slope=0.2)
NETS = {
    "relu ordered L=100": _stack("relu", 1.5, 0.05, 100),
    "leaky 0.2, L=40": _stack(LEAKY, 2.0, 0.1, 40),
    "relu gain 2, ends in phi": _stack(sk.activation("relu", gain=2), 0.5, 0.2, 12, last=False),
    "relu mixed Dense": sk.nn.serial(sk.nn.Dense(2.0, 0.0), sk.nn.Dense(0.7, 0.3), sk.nn.Activation("relu"),
                                     sk.nn.Dense(3.0, 0.01), sk.nn.Activation("relu"), sk.nn.Dense(1.0, 0.5)),
    "erf chaotic L=100": _stack("erf", 1.5, 0.05, 100),
    "erf ordered L=60": _stack("erf", 0.6, 0.05, 60),
    "sin L=30": _stack("sin", 0.8, 0.1, 30),
    "gelu L=3": _stack("gelu", 1.5, 0.05, 3),
    "cos (generic closed form) L=20": _stack("cos", 0.8, 0.1, 20),
}


@pytest.mark.parametrize("name", list(NETS))
def test_fused_agrees_with_the_numpy_path_within_its_error_bounds(name):
    """|fused - numpy| <= numpy's per-entry bound (which holds the true value) + the fused loops'
    own rounding budget 4 (number of layers) eps |value|, on x1 = x2 (triangle) and x1 != x2."""
    net = NETS[name]
    assert fused.plan(net) is not None
    budget = 4 * len(net.flat) * EPS
    for x1, x2 in ((X, None), (X, Y)):
        k = net.kernel(x1, x2)
        assert "fused" in k.method
        ref = net.kernel(x1, x2, errors=True, fused=False)
        for what in ("nngp", "ntk"):
            got, want, err = getattr(k, what), getattr(ref, what), getattr(ref, what + "_error")
            assert (np.abs(got - want) <= err + budget * np.abs(want)).all(), (what, np.max(np.abs(got - want) / err))
            assert np.max(np.abs(got - want) / np.abs(want)) <= 1e-12
        if x2 is None:
            assert (k.nngp == k.nngp.T).all() and (k.ntk == k.ntk.T).all()
            again = net.kernel(x1, x1)                   # x2 is x1: the same triangle
            assert np.array_equal(again.nngp, k.nngp) and np.array_equal(again.ntk, k.ntk)


def test_a_wrong_activation_step_is_rejected_by_the_same_comparison():
    """The comparison above can fail: the ReLU loop with D off by 1e-11 relative per layer."""
    net = NETS["relu ordered L=100"]
    kind, ops = fused.plan(net)
    wrong = [op if op[0] == "dense" else ("act", (op[1][0] * (1 + 1e-11), op[1][1])) for op in ops]
    bad = fused.fused_kernels((kind, wrong), X, X, True)
    ref = net.kernel(X, errors=True, fused=False)
    assert not (np.abs(bad[1] - ref.ntk) <= ref.ntk_error + 4 * len(ops) * EPS * np.abs(ref.ntk)).all()


@pytest.mark.parametrize("act, sw2, sb2", [(LEAKY, 1.8, 0.1), ("erf", 2.5, 0.0)])
def test_fused_against_the_dps30_path(act, sw2, sb2):
    """Leaky ReLU and erf at depth 12 against the mpmath closed forms at 30 digits, every entry:
    within the NumPy path's first-order bound (its conditioning: erf in the chaotic phase on the
    nearly parallel pair X[0], X[1] has a bound of 4.6e-13 relative) and within 1e-13 relative."""
    net = _stack(act, sw2, sb2, 12)
    x = X[:3]
    ref = net.kernel(x, dps=30)
    bound = net.kernel(x, errors=True, fused=False)
    for k in (net.kernel(x), net.kernel(x, x.copy())):
        assert "fused" in k.method
        for what in ("nngp", "ntk"):
            got, want = getattr(k, what), getattr(ref, what)
            err = np.array([[float(abs(mpmath.mpf(float(got[i, j])) - want[i, j])) for j in range(3)]
                            for i in range(3)])
            assert (err <= getattr(bound, what + "_error") + 4 * len(net.flat) * EPS * np.abs(got)).all()
            assert np.max(err / np.abs(got)) <= 1e-13, (what, np.max(err / np.abs(got)))


def test_relu_against_the_arc_cosine_recursion_written_out():
    """Two layers in rho, by Cho & Saul's formulas in plain Python (no cancellation at this depth)."""
    def step(q1, q2, c):
        th = math.acos(max(-1.0, min(1.0, c / math.sqrt(q1 * q2))))
        return (math.sqrt(q1 * q2) * (math.sin(th) + (math.pi - th) * math.cos(th)) / (2 * math.pi),
                (math.pi - th) / (2 * math.pi))
    net = _stack("relu", 2.0, 0.1, 2)
    k = net.kernel(X[5:9], Y[:3])
    d = X.shape[1]
    for i in range(4):
        for j in range(3):
            u, v = X[5 + i], Y[j]
            q1, q2, c, t = u @ u / d, v @ v / d, u @ v / d, 0.0
            for _ in range(2):
                q1, q2, c = 2 * q1 + 0.1, 2 * q2 + 0.1, 2 * c + 0.1
                t = c + 2 * t
                (c, D), (q1, _), (q2, _) = step(q1, q2, c), step(q1, q1, q1), step(q2, q2, q2)
                t *= D
            c, t = 2 * c + 0.1, 2 * c + 0.1 + 2 * t
            assert k.nngp[i, j] == pytest.approx(c, rel=1e-14)
            assert k.ntk[i, j] == pytest.approx(t, rel=1e-14)


def test_which_networks_fuse():
    assert fused.plan(_stack("relu", 1.5, 0.1, 3)) is not None
    assert fused.plan(_stack("abs", 1.5, 0.1, 3)) is None          # u v < 0: 1 - cos theta' cancels
    assert fused.plan(_stack("tanh", 1.5, 0.1, 3))[0] == fused.MEHLER    # no closed form: the series
    assert fused.plan(_stack("gelu", 1.5, 0.1, 3))[0] == fused._GELU      # its closed form, written out
    assert fused.plan(_stack("sin", 1.5, 0.1, 3))[0] == fused._SIN
    assert fused.plan(_stack("cos", 1.5, 0.1, 3))[0] == fused._SMOOTH     # lambdified closed forms
    assert fused.plan(sk.nn.serial(sk.nn.Dense(1.5, 0.1), sk.nn.Activation("relu"), sk.nn.LayerNorm(),
                                   sk.nn.Dense(1.0, 0.0))) is None
    assert fused.plan(sk.nn.serial(sk.nn.Dense(1.5, 0.1), sk.nn.Activation("relu"), sk.nn.Dense(1.0, 0.0),
                                   sk.nn.Activation("erf"))) is None      # two families
    assert fused.plan(sk.nn.serial(sk.nn.Dense(1.5, 0.1), sk.nn.Activation("sin"), sk.nn.Dense(1.0, 0.0),
                                   sk.nn.Activation("cos"))) is None      # one compiled loop per activation
    # a zero input row: the NumPy path (the loops need positive variances)
    x = np.vstack([X[:2], np.zeros(6)])
    assert _stack("relu", 1.5, 0.0, 2).kernel(x).method == "float64"


def test_without_numba_the_numpy_path_gives_the_same_kernels(monkeypatch):
    net = NETS["relu mixed Dense"]
    k = net.kernel(X, Y)
    monkeypatch.setattr(fused, "_compiled", lambda: None)
    slow = net.kernel(X, Y)
    assert slow.method == "float64"
    np.testing.assert_allclose(slow.nngp, k.nngp, rtol=1e-14)
    np.testing.assert_allclose(slow.ntk, k.ntk, rtol=1e-14)


@pytest.mark.parametrize("act, sw2, sb2, depth", [("tanh", 1.5, 0.05, 6), ("softplus", 1.2, 0.1, 4)])
def test_compiled_mehler_series_against_the_numpy_path(act, sw2, sb2, depth, monkeypatch):
    """Activations without closed forms (symkernel.nn.mehler_fused: coefficients interpolated in
    sqrt(q) -- forced here for these few inputs --, Horner sums compiled) against the NumPy Mehler
    path, one quadrature per input, within its per-entry estimate; triangle and full matrix."""
    from symkernel.nn import mehler_fused
    from symkernel.nn.mehler_fused import interpolated_coefficients
    from symkernel.nn.pair import pair_kernel

    monkeypatch.setattr(mehler_fused, "EXACT_BELOW", 0)
    net = _stack(act, sw2, sb2, depth)
    for x1, x2 in ((X, None), (X, Y)):
        k = net.kernel(x1, x2)
        assert "fused" in k.method
        ref = net.kernel(x1, x2, errors=True, fused=False)
        for what in ("nngp", "ntk"):
            got, want, err = getattr(k, what), getattr(ref, what), getattr(ref, what + "_error")
            assert (np.abs(got - want) <= err).all(), (what, np.max(np.abs(got - want) / err))
            assert np.max(np.abs(got - want) / np.abs(want)) <= 1e-13
    # the interpolated coefficients against one quadrature per variance, and their estimate
    mehler = pair_kernel(act)._mehler
    s = np.linspace(0.2, 2.5, 9) + RNG.random(9) * 0.01
    A, m2, est = interpolated_coefficients(mehler, s)
    A0, m0 = mehler.coefficients(s * s)
    assert np.max(np.abs(A - A0)) <= max(4 * est, 8 * EPS) and np.max(np.abs(m2 - m0)) <= max(4 * est, 8 * EPS)


@pytest.mark.parametrize("act", ["relu", "cos", "tanh"])
def test_a_zero_variance_inside_the_stack_takes_the_numpy_path(act):
    """Dense(0, 0) makes every later variance 0; the loops divide by the variances' square roots,
    so the fused paths (closed form and Mehler) must hand over to the NumPy path, which gives the
    kernel of a constant layer: (found in review: all NaN before, the NumPy path 0 or cos(0))."""
    x = np.random.default_rng(2).normal(size=(3, 3))
    net = sk.nn.serial(sk.nn.Dense(1.0, 0.0), sk.nn.Activation(act), sk.nn.Dense(0.0, 0.0),
                       sk.nn.Activation(act), sk.nn.Dense(1.0, 0.0))
    got, ref = net.kernel(x), net.kernel(x, fused=False)
    assert np.isfinite(got.nngp).all() and np.isfinite(got.ntk).all()
    # the output of a layer fed a constant 0 is phi(0) for every input: its second moment
    phi0 = {"relu": 0.0, "cos": 1.0, "tanh": 0.0}[act]
    np.testing.assert_allclose(got.nngp, np.full((3, 3), phi0 ** 2), atol=1e-15)
    np.testing.assert_array_equal(got.nngp, ref.nngp)
    np.testing.assert_array_equal(got.ntk, ref.ntk)


def test_variances_out_of_float64_product_range_raise_instead_of_a_wrong_kernel():
    """ReLU without bias is positively homogeneous: Dense(0.5, 0) and Dense(2, 0) stacks have the
    same correlations at every depth (checked at depth 200, where both are in range).  At depth
    300 the variances (~1e-181) make q1 q2 underflow: the fused loop once returned correlations
    off by 5e-4 (NNGP) and 0.09 (NTK), the NumPy path rho = 0 or a misleading 'not PSD'; now
    both refuse with an error that names float64's range."""
    x = np.random.default_rng(2).normal(size=(3, 3))

    def corr(K):
        d = np.sqrt(np.diag(K))
        return K / np.outer(d, d)

    def net(w, depth):
        return sk.nn.serial(*[sk.nn.Dense(w, 0.0), sk.nn.Activation("relu")] * depth,
                            sk.nn.Dense(1.0, 0.0))
    small, big = net(0.5, 200).kernel(x), net(2.0, 200).kernel(x)
    np.testing.assert_allclose(corr(small.nngp), corr(big.nngp), rtol=0, atol=1e-14)
    np.testing.assert_allclose(corr(small.ntk), corr(big.ntk), rtol=0, atol=1e-14)
    for fused_path in (True, False):
        with pytest.raises(sk.InvalidInputError, match="range where float64 holds"):
            net(0.5, 300).kernel(x, fused=fused_path)
    with pytest.raises(sk.InvalidInputError, match="entries up to 1e[+]70 are accepted"):
        net(1.0, 1).kernel(x * 1e75)       # products of squared norms would overflow
