"""The NTK factor by Price's theorem where the exact engine has F but not D (symkernel.nn.pair).

``D(a, b, rho) = E[phi'(aX) phi'(bY)] = (1/(a b)) dF/drho`` (Price 1958) for GELU and the Gaussian
bump, the registry activations whose ``phi'`` the exact engine cannot integrate while it can
integrate ``phi``.  Independent paths: a tensor Gauss-Hermite quadrature of ``E[phi'(aX) phi'(bY)]``
written here (scipy's ``ndtr`` for Phi), the fused float64 GELU loop with its hand-derived
formulas (docs/theory.md §21), and the closed form evaluated in mpmath at 40 digits.
"""
import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy.special import ndtr

import symkernel as sk
from symkernel.core.activations import REGISTRY
from symkernel.core.symbols import rho, x
from symkernel.kernels.closed_forms import cross_closed_form
from symkernel.nn.pair import a, b, pair_kernel

EPS = np.finfo(float).eps
DERIVATIVES = {   # phi', written out here
    "gelu": lambda t: ndtr(t) + t * np.exp(-t * t / 2) / np.sqrt(2 * np.pi),
    "gaussian": lambda t: -t * np.exp(-t * t / 2),
}


def _hermite(f, A, B, r, n):
    """E[f(A X) f(B Y)], corr(X, Y) = r, by n x n Gauss-Hermite (1-D at r = +-1)."""
    t, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / np.sqrt(2 * np.pi)
    if abs(r) == 1:
        return float(w @ (f(A * t) * f(r * B * t)))
    s = np.sqrt((1 - r) * (1 + r))
    return float(w @ (f(A * t[:, None]) * f(B * (r * t[:, None] + s * t[None, :]))) @ w)


def test_which_registry_activations_take_price():
    """Exactly GELU and the Gaussian bump: F closed, phi' without a delta, no direct closed form of D."""
    changed = []
    for name in REGISTRY:
        pk = pair_kernel(name)
        if pk.exact_nngp is None or pk.derivative is None:
            continue
        e = pk.derivative.expr
        if cross_closed_form(e.subs(x, a * x), e.subs(x, b * x)) is None:
            changed.append(name)
        assert pk.exact_ntk_factor is not None, name
    assert sorted(changed) == ["gaussian", "gelu"]


POINTS = [(1.3, 0.7, 0.4), (0.5, 2.0, -0.95), (1.1, 1.1, 0.9999), (2.0, 1.7, -0.9999), (1.5, 0.8, 1.0),
          (1.2, 0.6, -1.0)]


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_price_form_against_gauss_hermite(name):
    """The closed D (mpmath, 40 digits; and the float64 path) against Gauss-Hermite with 200 nodes,
    within the quadrature's own error estimate (200 vs 120 nodes) plus 4 eps; rho = +-1 included.
    A D missing the 1/(a b) of Price's theorem is rejected by the same comparison."""
    pk = pair_kernel(name)
    fD = sp.lambdify((a, b, rho), pk.exact_ntk_factor, modules="mpmath")
    f = DERIVATIVES[name]
    for A, B, r in POINTS:
        fine, coarse = _hermite(f, A, B, r, 200), _hermite(f, A, B, r, 120)
        tol = abs(fine - coarse) + 4 * EPS * (1 + abs(fine))
        with mpmath.workdps(40):
            exact = fD(mpmath.mpf(A), mpmath.mpf(B), mpmath.mpf(r))
        assert abs(exact - fine) <= tol, (A, B, r, float(exact), fine)
        got = pk.float_step(np.array([A * A]), np.array([B * B]), np.array([r * A * B]))[1][0]
        assert abs(got - fine) <= tol + 4 * EPS * abs(fine), (A, B, r, got, fine)
    A, B, r = POINTS[0]
    with mpmath.workdps(40):
        wrong = A * B * fD(mpmath.mpf(A), mpmath.mpf(B), mpmath.mpf(r))
    assert abs(wrong - _hermite(f, A, B, r, 200)) > 1e-3


def _gelu_net(depth, w, bb):
    block = sk.nn.serial(sk.nn.Dense(w, bb), sk.nn.Activation("gelu"))
    return sk.nn.serial(sk.nn.repeat(block, depth), sk.nn.Dense(w, bb))


def test_gelu_dps30_against_the_fused_loop_at_depth_3():
    """(Dense(1.5, 0.05) -> GELU) x 3 -> Dense: the dps=30 path (now the closed forms in mpmath:
    0.3 s, was > 7 min through nested quadrature) against the fused float64 loop, which has its own
    GELU formulas; every entry within 1e-13 relative (a nearly parallel pair included)."""
    xs = np.random.default_rng(7).standard_normal((3, 5))
    xs[1] = xs[0] + 1e-5 * xs[1]
    net = _gelu_net(3, 1.5, 0.05)
    fast = net.kernel(xs)
    assert "fused" in fast.method
    ref = net.kernel(xs, dps=30)
    for what in ("nngp", "ntk"):
        got, want = getattr(fast, what), getattr(ref, what)
        rel = max(float(abs(mpmath.mpf(float(got[i, j])) / want[i, j] - 1)) for i in range(3) for j in range(3))
        assert rel <= 1e-13, (what, rel)


def test_gelu_numpy_path_keeps_the_ntk_digits_at_variance_1e7():
    """Dense(1e7, 0) -> GELU -> (Dense(2, 0) -> GELU) x 2 -> Dense: variances ~1e7 at every GELU.
    The NumPy path (closed forms in float64, errors=True) against dps=30: every entry within its
    own estimate and within 1e-12 of the Cauchy-Schwarz scale sqrt(K_ii K_jj) (measured 2.7e-13 for
    the NTK, 5e-16 for the NNGP).  Before, this NTK came from the Mehler series, whose float64
    quadrature of phi'(sqrt(q) x) did not resolve a transition of width 1/sqrt(q): it missed D by
    2.2e-8 relative with an estimate of 1.8e-13; its panels are now graded toward 0 (docs/theory.md
    §24) and it is within its estimate (one entry, checked below)."""
    xs = np.random.default_rng(1).standard_normal((4, 6))
    xs[1] = xs[0] + 1e-6 * xs[1]
    net = sk.nn.serial(sk.nn.Dense(1e7, 0.0), sk.nn.Activation("gelu"), sk.nn.Dense(2.0, 0.0),
                       sk.nn.Activation("gelu"), sk.nn.Dense(2.0, 0.0), sk.nn.Activation("gelu"),
                       sk.nn.Dense(1.0, 0.0))
    k = net.kernel(xs, fused=False, errors=True)
    ref = net.kernel(xs, dps=30)
    for what in ("nngp", "ntk"):
        got, want, est = getattr(k, what), getattr(ref, what), getattr(k, what + "_error")
        diag = [want[i, i] for i in range(4)]
        err = np.array([[float(abs(mpmath.mpf(float(got[i, j])) - want[i, j])) for j in range(4)] for i in range(4)])
        scale = np.array([[float(mpmath.sqrt(diag[i] * diag[j])) for j in range(4)] for i in range(4)])
        assert (err <= est).all(), what
        assert (err <= 1e-12 * scale).all(), (what, np.max(err / scale))
    pk = pair_kernel("gelu")
    q1, q2, r = 1e7, 1.3e7, 0.5
    closed = pk.float_step(np.array([[q1]]), np.array([[q2]]), np.array([[r * np.sqrt(q1 * q2)]]))[1][0, 0]
    with mpmath.workdps(40):
        want = sp.lambdify((a, b, rho), pk.exact_ntk_factor, modules="mpmath")(
            mpmath.sqrt(q1), mpmath.sqrt(q2), mpmath.mpf(r))
    mehler, est = (v[0, 0] for v in pk._mehler_derivative.kernel(np.array([[q1]]), np.array([[q2]]), np.array([[r]])))
    assert abs(closed - want) <= 4 * EPS * abs(want)
    assert abs(mehler - want) <= est + 4 * EPS * abs(want)     # graded panels (docs/theory.md §24)
