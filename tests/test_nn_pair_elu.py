"""ELU and CELU on the NumPy path (``net.kernel(..., fused=False)``, issue 14): the closed form of
``symkernel.nn.bivariate`` instead of the Mehler series, which refused at the default tol near
``|rho| = 1``.

Independent reference written here: ``F = E[psi(aX) psi(bY)]`` and ``D = E[psi'(aX) psi'(bY)]``
by composite Gauss-Legendre over ``X = t`` (panels graded toward the kinks at ``t = 0``) with the
conditional expectations over ``Y | X = t ~ N(r t, 1 - r^2)`` in closed form through the 1-D
normal CDF (scipy.special) -- no bivariate CDF, no symkernel code; the deep recursion is written
out entry by entry."""
import math

import numpy as np
import pytest
from scipy.special import log_ndtr, ndtr

import symkernel as sk
from symkernel.errors import PrecisionError
from symkernel.nn.pair import pair_kernel

_G, _GW = np.polynomial.legendre.leggauss(20)
_GRADE = 2.0 ** -np.arange(1, 46)
_EDGES = np.unique(np.concatenate([np.linspace(-12, 12, 49), _GRADE, -_GRADE, [0.0]]))
_LO, _HI = _EDGES[:-1, None], _EDGES[1:, None]
_T = ((_LO + _HI) / 2 + (_HI - _LO) / 2 * _G).ravel()
_W = ((_HI - _LO) / 2 * _GW).ravel() * np.exp(-_T * _T / 2) / math.sqrt(2 * math.pi)


def _psi(t, p, v):
    return np.where(t > 0, p * t, v * np.expm1(np.minimum(t, 0.0)))


def _dpsi(t, p, v):
    return np.where(t > 0, p, v * np.exp(np.minimum(t, 0.0)))


def _ref_step(a, b, r, p, v):
    """``(E psi(aX) psi(bY), E psi'(aX) psi'(bY))`` for standard normals with correlation ``r``."""
    m = b * r * _T
    sig = b * math.sqrt(max((1 - r) * (1 + r), 0.0))
    if sig == 0:
        given, given_d = _psi(m, p, v), _dpsi(m, p, v)
    else:
        z = m / sig
        tilt = np.exp(m + sig * sig / 2 + log_ndtr(-z - sig))     # E[e^{bY}; bY < 0 | X = t]
        given = p * (m * ndtr(z) + sig * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)) + v * (tilt - ndtr(-z))
        given_d = p * ndtr(z) + v * tilt
    return float(_W @ (_psi(a * _T, p, v) * given)), float(_W @ (_dpsi(a * _T, p, v) * given_d))


def _ref_network(X, depth, w, bias, kappa=1.0, u=1.0, v=1.0):
    """NNGP and NTK of ``(Dense(w, bias) -> phi) x depth -> Dense(w, bias)``, ``phi(x) = u x``
    (x > 0), ``v (e^{kappa x} - 1)``, entry by entry (rho = 1 for an input with itself)."""
    n, d = X.shape
    K = X @ X.T / d
    np.fill_diagonal(K, (X * X).sum(1) / d)
    T = np.zeros_like(K)
    for _ in range(depth):
        K = w * K + bias
        T = K + w * T
        q = np.diag(K).copy()
        newK, newT = np.empty_like(K), np.empty_like(T)
        for i in range(n):
            for j in range(i, n):
                r = 1.0 if i == j else K[i, j] / math.sqrt(q[i] * q[j])
                F, D = _ref_step(kappa * math.sqrt(q[i]), kappa * math.sqrt(q[j]), r, u / kappa, v)
                newK[i, j] = newK[j, i] = F
                newT[i, j] = newT[j, i] = kappa * kappa * D * T[i, j]
        K, T = newK, newT
    K = w * K + bias
    return K, K + w * T


def _near_parallel(seed, n=2, d=4, gap=2e-13):
    """``n`` inputs, the later ones at ``1 - rho ~ gap`` from the first."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    for k in range(1, n):
        e = rng.standard_normal(d)
        e -= (e @ X[0]) / (X[0] @ X[0]) * X[0]
        X[k] = X[0] + math.sqrt(k * gap) * np.linalg.norm(X[0]) / np.linalg.norm(e) * e
    return X


def test_reference_against_the_one_dimensional_mean_and_mpmath():
    """The reference itself: at rho = 0 ``F`` is the product of the means (a 1-D integral here
    written through ELU's mean E psi(aX) = p a/sqrt(2 pi) + v (e^{a^2/2} Phi(-a) - 1/2)), and
    D at rho = 0 is the product of E psi'(aX) = p/2 + v e^{a^2/2} Phi(-a)."""
    for a, b, p, v in ((0.7, 1.9, 1.0, 1.0), (2.0, 0.3, 0.5, 2.0)):
        F, D = _ref_step(a, b, 0.0, p, v)
        mean = [p * s / math.sqrt(2 * math.pi) + v * (math.exp(s * s / 2) * ndtr(-s) - 0.5) for s in (a, b)]
        dmean = [p / 2 + v * math.exp(s * s / 2) * ndtr(-s) for s in (a, b)]
        assert abs(F - mean[0] * mean[1]) <= 1e-15 * max(1.0, abs(F))
        assert abs(D - dmean[0] * dmean[1]) <= 1e-15 * D


@pytest.mark.parametrize("kw, family", [({}, (1.0, 1.0, 1.0)), ({"alpha": 2}, (2.0, 2.0, 0.5))])
def test_elu_form_read_off(kw, family):
    """ELU and CELU are recognised (``(p, v, kappa)``); SELU and ELU(alpha = 0.5) are not (phi' jumps)."""
    name = "celu" if kw else "elu"
    assert np.allclose(pair_kernel(sk.activation(name, **kw)).elu_form, family, rtol=1e-15, atol=0)
    assert pair_kernel("selu").elu_form is None
    assert pair_kernel(sk.activation("elu", alpha=0.5)).elu_form is None
    assert pair_kernel("tanh").elu_form is None


def _net(act, depth, w=1.6, b=0.1):
    return sk.nn.serial(*([sk.nn.Dense(w, b), sk.nn.Activation(act)] * depth), sk.nn.Dense(w, b))


def test_numpy_path_against_fused_and_reference_depth_3_near_parallel():
    """Depth 3, ``1 - rho = 1e-13`` at the input: the NumPy path runs at the default tol (the Mehler
    series it replaces estimated 2e-7 / 6e-5 relative error here and refused), agrees with the
    fused loops to 1e-14 and with the reference to 1e-12; its error estimate covers the latter."""
    X = _near_parallel(14)
    net = _net("elu", 3)
    k = net.kernel(X, X.copy(), fused=False, errors=True)
    assert k.method == "float64"
    N, T = _ref_network(X, 3, 1.6, 0.1)
    for got, est, ref in ((k.nngp, k.nngp_error, N), (k.ntk, k.ntk_error, T)):
        assert np.max(np.abs(got - ref) / np.abs(ref)) <= 1e-12
        assert np.max(est / np.abs(got)) <= 1e-11
    with pytest.raises(AssertionError):          # the reference sees a 1e-9 change of alpha
        Nw, _ = _ref_network(X, 3, 1.6, 0.1, v=1 + 1e-9)
        assert np.max(np.abs(k.nngp - Nw) / np.abs(Nw)) <= 1e-12
    pytest.importorskip("numba")
    f = net.kernel(X, X.copy())
    assert "fused" in f.method
    assert np.max(np.abs(k.nngp - f.nngp) / np.abs(f.nngp)) <= 1e-14
    assert np.max(np.abs(k.ntk - f.ntk) / np.abs(f.ntk)) <= 1e-14


@pytest.mark.parametrize("act, kappa, u, v, w", [("elu", 1.0, 1.0, 1.0, 1.3),
                                                  (sk.activation("celu", alpha=2), 0.5, 1.0, 2.0, 1.3),
                                                  (sk.activation("elu", gain=1.5), 1.5, 1.5, 1.0, 0.8)])
def test_numpy_path_depth_20_against_reference(act, kappa, u, v, w):
    """Depth 20, three inputs (two nearly parallel, one random), ELU, CELU(2) and ELU(1.5 x): the
    default tol holds (no PrecisionError), within 1e-12 of the reference (the diagonal: an input
    with itself at rho = 1 in both)."""
    X = _near_parallel(3, n=2, d=3)
    X = np.vstack([X, np.random.default_rng(4).standard_normal((1, 3))])
    net = _net(act, 20, w, 0.05)
    k = net.kernel(X, fused=False, errors=True)
    N, T = _ref_network(X, 20, w, 0.05, kappa=kappa, u=u, v=v)
    for got, est, ref in ((k.nngp, k.nngp_error, N), (k.ntk, k.ntk_error, T)):
        assert np.max(np.abs(got - ref) / np.abs(ref)) <= 1e-13      # measured: <= 5.2e-15
        assert np.all(np.abs(got - ref) <= est + 16 * np.finfo(float).eps * np.abs(ref))


@pytest.mark.parametrize("act", ["elu", "selu", sk.activation("celu", alpha=2)])
def test_mean_against_mpmath(act):
    """``E phi(sqrt(q) X)`` (the feature mean, used by LayerNorm) of the ELU family, SELU too, at
    q = 1e-6 .. 1e6 against mpmath quadrature of phi written here: within 4e-16 relative (or
    1e-16 absolute where the mean crosses 0).  The generated closed form
    ``e^{a^2/2} (1 - erf(a / sqrt 2)) / 2`` it replaces was 104 % off at q = 900 and NaN at 1e6."""
    import mpmath as mp

    pk = pair_kernel(act)
    p, v, kappa = pk._elu_params
    q = np.array([1e-6, 0.3, 4.0, 900.0, 1e6])
    got = pk.float_mean(q)
    with mp.workdps(30):
        for qi, g in zip(q, got):
            a = kappa * mp.sqrt(qi)
            ref = mp.quad(lambda t: mp.npdf(t) * (p * a * t if t > 0 else v * mp.expm1(a * t)), [-mp.inf, 0, mp.inf])
            assert abs(g - ref) <= 4e-16 * abs(ref) + 1e-16 * (abs(p) + abs(v)) * float(a) ** 2, (qi, g, ref)
    if act == "elu":
        with np.errstate(all="ignore"):
            old = pk._float_exact[2](np.sqrt(q[3:]))
        assert abs(old[0] - got[3]) > 0.5 * got[3] and np.isnan(old[1])


def test_outside_the_closed_form_range_the_series_runs():
    """``kappa^2 q`` above ELU_RANGE (Dense(40, 0): q = 40 > 16): the Mehler series as before (its
    error estimate is large near rho = 1, so a near-parallel pair raises at the default tol)."""
    X = _near_parallel(14)
    net = sk.nn.serial(sk.nn.Dense(40.0, 0.0), sk.nn.Activation("elu"), sk.nn.Dense(1.0, 0.0))
    pk = pair_kernel("elu")
    assert pk._elu_applies(np.array([40.0])) is None and pk._elu_applies(np.array([1.0])) is not None
    with pytest.raises(PrecisionError):
        net.kernel(X, fused=False)
