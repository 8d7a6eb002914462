"""Deep kernels in the angle: the float64 path keeps the digits of 1 - rho in the ordered phase.

Independent path: the package's dps= path (mpmath closed forms at 30 digits, computing in rho with
1 - rho kept to ~17 digits), which shares none of the float64 angle code; and a plain-Python
arc-cosine recursion in rho, the computation that loses the digits, which the test must reject."""
import math

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import symkernel as sk

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 10))


def _network(act, sw2, sb2, depth):
    block = sk.nn.serial(sk.nn.Dense(sw2, sb2), sk.nn.Activation(act))
    return sk.nn.serial(sk.nn.repeat(block, depth), sk.nn.Dense(sw2, sb2))


def _relative(values, reference):
    return np.array([[float(abs(mpmath.mpf(float(values[i, j])) - reference[i, j]) / abs(reference[i, j]))
                      for j in range(values.shape[1])] for i in range(values.shape[0])])


def _one_minus_rho(k):
    """1 - rho of the off-diagonal entries of an mpf kernel matrix."""
    n = k.shape[0]
    return [1 - k[i, j] / mpmath.sqrt(k[i, i] * k[j, j]) for i in range(n) for j in range(n) if i != j]


def _naive_relu_ntk(X, sw2, sb2, depth):
    """The NTK of (Dense -> ReLU) x depth -> Dense computed in rho (Cho & Saul's arc-cosine
    kernels written out, plain Python floats): the computation that loses 1 - rho."""
    n, d = X.shape
    K = [[float(X[i] @ X[j]) / d for j in range(n)] for i in range(n)]
    T = [[0.0] * n for _ in range(n)]
    for _ in range(depth):
        K = [[sw2 * K[i][j] + sb2 for j in range(n)] for i in range(n)]
        T = [[K[i][j] + sw2 * T[i][j] for j in range(n)] for i in range(n)]
        new = [[None] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                r = max(-1.0, min(1.0, K[i][j] / math.sqrt(K[i][i] * K[j][j])))
                th = math.acos(r)
                F = math.sqrt(K[i][i] * K[j][j]) * (math.sin(th) + (math.pi - th) * r) / (2 * math.pi)
                new[i][j] = (F, (math.pi - th) / (2 * math.pi))
        T = [[T[i][j] * new[i][j][1] for j in range(n)] for i in range(n)]
        K = [[new[i][j][0] for j in range(n)] for i in range(n)]
    K = [[sw2 * K[i][j] + sb2 for j in range(n)] for i in range(n)]
    return np.array([[K[i][j] + sw2 * T[i][j] for j in range(n)] for i in range(n)])


@pytest.mark.parametrize("act, sw2, sb2", [("relu", 1.5, 0.05), ("erf", 0.6, 0.05)])
def test_ordered_phase_at_depth_100_keeps_every_digit(act, sw2, sb2):
    net = _network(act, sw2, sb2, 100)
    ref = net.kernel(X, dps=30)
    assert max(_one_minus_rho(ref.nngp)) < 1e-9        # the regime of the finding: rho -> 1
    k = net.kernel(X, errors=True)
    for name in ("nngp", "ntk"):
        rel = _relative(getattr(k, name), getattr(ref, name))
        assert rel.max() <= 1e-13, (name, rel.max())
        # the per-entry estimate bounds the actual error
        est = getattr(k, name + "_error")
        actual = rel * np.abs(getattr(k, name))
        assert (actual <= est).all()
    # the default path (fused loops when numba is installed: symkernel.nn.fused), on the triangle
    # (x2 omitted) and on the full matrix (x2 given), against the same dps=30 reference
    for fast in (net.kernel(X), net.kernel(X, X.copy())):
        for name in ("nngp", "ntk"):
            rel = _relative(getattr(fast, name), getattr(ref, name))
            assert rel.max() <= 1e-13, (fast.method, name, rel.max())


def test_computing_in_rho_loses_the_digits_that_the_angle_keeps():
    """The check above can fail: the same NTK computed in rho is off by far more than 1e-13."""
    ref = _network("relu", 1.5, 0.05, 100).kernel(X, dps=30).ntk
    naive = _naive_relu_ntk(X, 1.5, 0.05, 100)
    assert _relative(naive, ref).max() > 1e-12


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(act=st.sampled_from(["relu", "erf", "abs"]), kind=st.sampled_from(["mlp", "residual", "layernorm"]),
       depth=st.integers(1, 10), sw2=st.floats(0.3, 3.0), sb2=st.floats(0.0, 0.5),
       seed=st.integers(0, 2**16), collinear=st.booleans())
def test_float64_error_estimate_bounds_the_actual_error(act, kind, depth, sw2, sb2, seed, collinear):
    rng = np.random.default_rng(seed)
    layers = [sk.nn.Dense(sw2, sb2), sk.nn.Activation(act)]
    if kind == "residual":
        block = sk.nn.Residual(*layers, sk.nn.Dense(sw2, sb2), weight=0.7)
    else:
        block = sk.nn.serial(*layers, *([sk.nn.LayerNorm()] if kind == "layernorm" else []))
    net = sk.nn.serial(sk.nn.repeat(block, depth), sk.nn.Dense(sw2, sb2))
    x = rng.standard_normal((3, 3))
    if collinear:                                     # a nearly parallel pair of different norms
        x[1] = 1.3 * x[0] + 1e-7 * rng.standard_normal(3)
    k = net.kernel(x, errors=True, tol=1.0)
    ref = net.kernel(x, dps=30)
    for name in ("nngp", "ntk"):
        actual = _relative(getattr(k, name), getattr(ref, name)) * np.abs(getattr(k, name))
        assert (actual <= getattr(k, name + "_error")).all(), name


@pytest.mark.parametrize("mode", ["quad", "direct"])
def test_the_other_output_angle_rules_on_relu(mode, monkeypatch):
    """ReLU's angle map is tabulated; the per-entry gap integral ("quad", used by kinked activations
    that are not positively homogeneous) must keep the same digits, and "direct" P' - F (used by
    smooth ones) must at least say, in its estimate, that the NTK lost digits."""
    from symkernel.nn.pair import pair_kernel

    monkeypatch.setitem(pair_kernel("relu")._float_theta, "mode", mode)
    net = _network("relu", 1.5, 0.05, 100)
    ref = net.kernel(X, dps=30).ntk
    k = net.kernel(X, errors=True, tol=1.0)
    rel = _relative(k.ntk, ref)
    assert (rel * np.abs(k.ntk) <= k.ntk_error).all()
    if mode == "quad":
        assert rel.max() <= 1e-13
    else:
        assert np.max(k.ntk_error / np.abs(k.ntk)) > 1e-10
