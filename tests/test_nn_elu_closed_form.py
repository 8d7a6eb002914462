"""ELU's NNGP/NTK through the bivariate normal CDF (symkernel/nn/bivariate.py, docs/theory.md §25),
each checked against mpmath quadrature written here (1-D Gauss-Legendre/tanh-sinh over X with the
conditional expectation over Y given X in closed form through the 1-D Phi: no Phi_2 anywhere)."""
import math

import mpmath as mp
import numpy as np
import pytest

import symkernel as sk
from _elu_refs import phi2
from symkernel.nn import fused
from symkernel.nn.bivariate import bvn, elu_kernels

pytest.importorskip("numba")
EPS = np.finfo(float).eps


def phi2_ref(h, k, r, dps=18):
    """P(X < h, Y < k), corr r, at ``dps`` digits (tests/_elu_refs.py)."""
    with mp.workdps(dps):
        return phi2(h, k, r)


def elu_ref(a, b, r, p=1, v=1, dps=20):
    """(E[psi(aX) psi(bY)], E[psi'(aX) psi'(bY)]), psi(t) = p t (t > 0), v (e^t - 1) (t <= 0)."""
    with mp.workdps(dps + 5):
        a, b, r, p, v = (mp.mpf(z) for z in (a, b, r, p, v))
        sig = b * mp.sqrt((1 - r) * (1 + r))

        def inner(x):           # E[psi(bY) | X = x], E[psi'(bY) | X = x], bY | x ~ N(b r x, sig^2)
            m = b * r * x
            if sig == 0:
                return (p * m if m > 0 else v * mp.expm1(m)), (p if m > 0 else v * mp.exp(m))
            z = m / sig
            eneg = mp.exp(m + sig ** 2 / 2) * mp.ncdf(-z - sig)
            return p * (m * mp.ncdf(z) + sig * mp.npdf(z)) + v * (eneg - mp.ncdf(-z)), p * mp.ncdf(z) + v * eneg

        def psi(t):
            return p * t if t > 0 else v * mp.expm1(t)

        def dpsi(t):
            return p if t > 0 else v * mp.exp(t)
        F = mp.quad(lambda t: mp.npdf(t) * psi(a * t) * inner(t)[0], [-mp.inf, 0, mp.inf])
        D = mp.quad(lambda t: mp.npdf(t) * dpsi(a * t) * inner(t)[1], [-mp.inf, 0, mp.inf])
        return F, D


R_GRID = (-1 + 1e-13, -0.9999, -0.6, 0.2, 0.8, 0.93, 0.999999, 1 - 1e-13)


def test_phi2_against_quadrature():
    worst = 0.0
    for h in (-5.0, 0.0, 0.7, 8.0):
        for k in (-4.0, 1.1, 6.0):
            for r in R_GRID:
                worst = max(worst, abs(bvn(h, k, r, 0.0) - float(phi2_ref(h, k, r))))
    assert worst <= 3e-16, worst


def test_phi2_scaled_tail():
    """e^{b^2/2} Phi_2(r b, -b; -r) where Phi_2 ~ Phi(-b) is small: relative accuracy kept."""
    for b, r in ((4.0, 0.3), (3.0, 0.99), (4.0, 1 - 1e-10)):
        got = bvn(r * b, -b, -r, b * b / 2)
        ref = mp.exp(mp.mpf(b) ** 2 / 2) * phi2_ref(r * b, -b, -r, dps=30)
        assert abs(got - ref) <= 1e-14 * abs(ref), (b, r, got, ref)


POINTS = [(1.0, 1.0, 0.3, 1, 1), (0.7, 1.9, -0.99, 1, 1), (1.2, 0.8, 0.999999, 1, 1), (2.0, 3.0, 0.7, 1, 1),
          (1.0, 1.0, 1 - 1e-13, 1, 1), (1.0, 1.0, -1 + 1e-12, 1, 1), (0.1, 0.1, 0.5, 1, 1),
          (0.9, 1.3, 0.8, 1.0507009873554805, 1.7580993408473766)]


@pytest.mark.parametrize("a, b, r, p, v", POINTS)
def test_elu_kernels_against_quadrature(a, b, r, p, v):
    F, D = elu_kernels(a, b, r, p, v)
    Fr, Dr = elu_ref(a, b, r, p, v)
    tol = 8 * EPS * (1 + 1 / (a * b))          # the quadrants cancel to ~a b at small variances
    assert abs(F - Fr) <= tol * abs(Fr) and abs(D - Dr) <= tol * abs(Dr), (float(F - Fr), float(D - Dr))
    Fw, Dw = elu_kernels(a, b, r, p, v * (1 + 1e-9))      # alpha off by 1e-9: rejected
    assert abs(Fw - Fr) > tol * abs(Fr) and abs(Dw - Dr) > tol * abs(Dr)


@pytest.mark.parametrize("name, kw, family", [("elu", {}, (1.0, 1.0, 1.0)), ("celu", {"alpha": 2}, (2.0, 2.0, 0.5)),
                                              ("selu", {}, None), ("elu", {"alpha": 0.5}, None)])
def test_family_read_off(name, kw, family):
    """ELU and CELU fuse as the closed form; SELU and ELU(alpha != 1) (phi' jumps at 0) fuse in the
    loop that carries their angle (docs/theory.md §33; tests/test_nn_selu_fused.py)."""
    net = sk.nn.serial(sk.nn.Dense(1.0, 0.0), sk.nn.Activation(name, **kw))
    if family is None:
        assert fused.plan(net)[0] == fused._ELUS
    else:
        kind, ops = fused.plan(net)
        assert kind == fused._ELU and np.allclose(ops[1][1], family, rtol=1e-15, atol=0)


def _deep_ref(X, layers, w, bias, kappa=1.0, u=1.0, v=1.0):
    """NNGP and NTK of (Dense(w, bias) -> phi) x layers -> Dense(w, bias), phi(x) = u x (x > 0),
    v (e^{kappa x} - 1), entry by entry, in mpmath."""
    X = [[mp.mpf(float(z)) for z in row] for row in X]
    d = len(X[0])
    n = len(X)
    K = [[mp.fsum(X[i][f] * X[j][f] for f in range(d)) / d for j in range(n)] for i in range(n)]
    T = [[mp.mpf(0)] * n for _ in range(n)]
    for _ in range(layers):
        K = [[w * K[i][j] + bias for j in range(n)] for i in range(n)]
        T = [[K[i][j] + w * T[i][j] for j in range(n)] for i in range(n)]
        q = [K[i][i] for i in range(n)]
        new = [[None] * n for _ in range(n)]
        for i in range(n):
            for j in range(i, n):
                r = K[i][j] / mp.sqrt(q[i] * q[j]) if i != j else mp.mpf(1)
                F, D = elu_ref(kappa * mp.sqrt(q[i]), kappa * mp.sqrt(q[j]), r, u / kappa, v, dps=20)
                new[i][j] = new[j][i] = (F, kappa ** 2 * D * T[i][j])
        K = [[new[i][j][0] for j in range(n)] for i in range(n)]
        T = [[new[i][j][1] for j in range(n)] for i in range(n)]
    K = [[w * K[i][j] + bias for j in range(n)] for i in range(n)]
    T = [[K[i][j] + w * T[i][j] for j in range(n)] for i in range(n)]
    return np.array(K, dtype=float), np.array(T, dtype=float)


def test_deep_elu_float64_against_mpmath():
    """Depth 3, two nearly parallel inputs (1 - rho = 1e-13 at the input): <= 1e-12."""
    rng = np.random.default_rng(14)
    X = rng.standard_normal((2, 4))
    e = rng.standard_normal(4)
    e -= (e @ X[0]) / (X[0] @ X[0]) * X[0]
    X[1] = X[0] + math.sqrt(2e-13) * np.linalg.norm(X[0]) / np.linalg.norm(e) * e
    net = sk.nn.serial(*([sk.nn.Dense(1.6, 0.1), sk.nn.Activation("elu")] * 3), sk.nn.Dense(1.6, 0.1))
    k = net.kernel(X, X.copy())
    assert k.method.startswith("float64 (fused loops")
    N, T = _deep_ref(X, 3, 1.6, 0.1)
    assert np.max(np.abs(k.nngp - N) / np.abs(N)) <= 1e-12
    assert np.max(np.abs(k.ntk - T) / np.abs(T)) <= 1e-12
