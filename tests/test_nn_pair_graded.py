"""Transitions away from ``u = 0`` at large variances (issue 14): the float64 Mehler series of
``tanh(x - 100)`` and ``sigmoid(3x + 50)`` grades its panels toward ``u0 / sqrt(q)`` (``u0`` the
transition, from the expression: :func:`symkernel.nn.pair.transition_points`).  Before, the panels
were graded toward 0 only: tanh(x - 100)'s ``D`` came out 36 % (q = 1e4) to 300 % (q = 1e6) off
with an error estimate of 1e-16 relative.

References written here (no symkernel code):

* ``D = E[phi'(aX) phi'(bY)]``: ``phi'`` decays away from ``u0``, so a 2-D Gauss-Legendre product
  over ``u, v in u0 +- 36/s`` (panels ``1/s`` wide) against the density of ``(aX, bY)``;
* ``F = E[phi(aX) phi(bY)]`` for tanh: ``tanh(w) = sign(w) + d(w)``, ``d`` decaying, so
  ``F = E[sign sign] + two cross terms + E[d d]`` with ``E[sign sign] = 1 - 2 Phi(h) - 2 Phi(k)
  + 4 Phi_2(h, k; r)`` (``h = u0/a``, ``k = u0/b``; ``Phi_2`` by 1-D Gauss-Legendre of
  ``phi(t) Phi((k - r t)/sqrt(1 - r^2))`` on ``[-12, h]``) and the
  cross terms 1-D integrals of ``d`` against ``E[sign(bY - u0) | aX = u]``;
* ``E phi`` and ``E phi^2``: the jump at ``u0`` in closed form, the rest by Gauss-Legendre."""
import math

import numpy as np
import pytest
import sympy as sp
from scipy.special import erfc, expit

import symkernel as sk
from symkernel.nn.pair import _gl_nodes, _Mehler, transition_points

x = sk.x
EPS = np.finfo(float).eps
TANH = sp.tanh(x - 100)
SIGMOID = 1 / (1 + sp.exp(-3 * x - 50))
#: (expression, transition u0, steepness s, phi, phi') written from the definitions
CASES = {"tanh": (TANH, 100.0, 1.0, lambda w: np.tanh(w - 100), lambda w: 1 / np.cosh(w - 100) ** 2),
         "sigmoid": (SIGMOID, -50 / 3, 3.0, lambda w: expit(3 * w + 50),
                     lambda w: 3 * expit(3 * w + 50) * expit(-3 * w - 50))}
QS = np.array([1e6, 1e7, 1e8])
RHOS = (0.5, -0.3, 0.9)


def _Phi(z):
    return 0.5 * erfc(-z / math.sqrt(2))


def _nodes(u0, s):
    """Panels ``1/s`` wide on ``u0 +- 36/s``, 12 nodes each (the integrands are analytic within
    ``pi/(2s)`` of the real axis: Bernstein ellipses of parameter ~6, error ~6^-24 a panel)."""
    edges = u0 + np.arange(-36, 37) / s
    return _gl_nodes(edges, per_panel=12)


def _density(u, v, a, b, r):
    s = math.sqrt(1 - r * r)
    X, Y = u[:, None] / a, v[None, :] / b
    return np.exp(-(X * X - 2 * r * X * Y + Y * Y) / (2 * s * s)) / (2 * math.pi * s * a * b)


def ref_D(name, a, b, r):
    _, u0, s, _, dphi = CASES[name]
    U, W = _nodes(u0, s)
    g = W * dphi(U)
    return g @ _density(U, U, a, b, r) @ g


def ref_F_tanh(a, b, r):
    u0 = 100.0
    s = math.sqrt(1 - r * r)
    h, k = u0 / a, u0 / b
    T, W = _gl_nodes(np.linspace(-12.0, h, 2 * int(12 + h) + 2), per_panel=20)
    phi2 = np.sum(W * np.exp(-T * T / 2) / math.sqrt(2 * math.pi) * _Phi((k - r * T) / s))
    signs = 1 - 2 * _Phi(h) - 2 * _Phi(k) + 4 * phi2
    U, W = _nodes(u0, 1.0)
    d = W * (np.tanh(U - u0) - np.sign(U - u0))
    cross = 0.0
    for p, q in ((a, b), (b, a)):        # E[d(pX - u0) sign(qY - u0)]
        given = 1 - 2 * _Phi((u0 / q - r * U / p) / s)
        cross += np.sum(d * given * np.exp(-(U / p) ** 2 / 2) / (math.sqrt(2 * math.pi) * p))
    return signs + cross + d @ _density(U, U, a, b, r) @ d


def ref_moments(name, q):
    """``(E phi(sqrt q X), E phi(sqrt q X)^2)``: ``phi = base + (phi - base)`` with ``base`` the
    jump at ``u0`` (sign for tanh, the step for sigmoid; Gaussian closed forms) and the decaying
    rest integrated on :func:`_nodes` (split at ``u0``)."""
    _, u0, s, phi, _ = CASES[name]
    a = math.sqrt(q)
    U, W = _nodes(u0, s)
    N = W * np.exp(-(U / a) ** 2 / 2) / (a * math.sqrt(2 * math.pi))
    if name == "tanh":
        base, base2, mean_base, mean_base2 = np.sign(U - u0), 1.0, 1 - 2 * _Phi(u0 / a), 1.0
    else:
        base = base2 = (U > u0).astype(float)
        mean_base = mean_base2 = _Phi(-u0 / a)
    f = phi(U)
    return mean_base + N @ (f - base), mean_base2 + N @ (f * f - base2)


def test_transition_points_from_the_expression():
    assert transition_points(TANH) == [(100.0, 1.0)]
    assert transition_points(SIGMOID) == [(-50 / 3, 3.0)]
    assert transition_points(sp.log(1 + sp.exp(x - 30))) == [(30.0, 1.0)]
    assert transition_points(sp.exp(-(x - 3) ** 2)) == [(3.0, 1.0)]
    assert transition_points(sp.erf(10 * x)) == [(0.0, 10.0)]
    m = _Mehler(sk.activation(TANH))
    assert m.transitions == [(100.0, 1.0)] and m._shared is None
    m = _Mehler(sk.activation(sp.tanh(x + sp.Rational(3, 10))))    # near 0: the shared nodes serve
    assert m.transitions == [] and m._shared is not None


def _series(expr):
    """The float64 Mehler series of ``expr`` (symkernel.nn.pair._Mehler: the path under test)."""
    return _Mehler(sk.activation(expr))


@pytest.mark.parametrize("name", list(CASES))
def test_D_at_large_variances_against_reference(name):
    """``D`` within the path's own estimate (plus 8 eps of the reference's rounding) and within
    1e-13 relative; the old panels (graded toward 0 only) are rejected by the reference (tanh:
    off by 300 % at q = 1e6; sigmoid(3x + 50): 1.6e-4)."""
    m = _series(sp.diff(CASES[name][0], x))
    q1, q2 = QS, 1.3 * QS
    worst = 0.0
    for r in RHOS:
        D, eD = m.kernel(q1[:, None], q2[None, :], np.full((3, 3), r))
        for i, j in np.ndindex(3, 3):
            ref = ref_D(name, math.sqrt(q1[i]), math.sqrt(q2[j]), r)
            err = abs(D[i, j] - ref)
            assert err <= eD[i, j] + 8 * EPS * ref, (q1[i], q2[j], r, err, eD[i, j])
            worst = max(worst, err / ref)
    assert worst < 1e-13
    old = _series(sp.diff(CASES[name][0], x))
    old.transitions = []                                    # the panels before the fix
    A, _ = old.coefficients(np.array([1e6, 1.3e6]))
    wrong = np.polynomial.polynomial.polyval(0.5, A[0] * A[1])
    ref = ref_D(name, 1e3, math.sqrt(1.3e6), 0.5)
    assert abs(wrong - ref) > 1e-5 * ref


def test_tanh_F_and_moments_at_large_variances_against_reference():
    """tanh(x - 100): ``F`` at three correlations, the mean and ``E phi^2`` within the estimate
    and 1e-13 of the scale; sigmoid(3x + 50): its mean and ``E phi^2``."""
    m = _series(TANH)
    q1, q2 = QS, 1.3 * QS
    for r in RHOS:
        F, eF = m.kernel(q1[:, None], q2[None, :], np.full((3, 3), r))
        for i, j in np.ndindex(3, 3):
            ref = ref_F_tanh(math.sqrt(q1[i]), math.sqrt(q2[j]), r)
            assert abs(F[i, j] - ref) <= eF[i, j] + 1e-14, (q1[i], q2[j], r, F[i, j], ref)
    for name in CASES:
        A, m2 = _series(CASES[name][0]).coefficients(QS)
        for q, g1, g2 in zip(QS, A[:, 0], m2):
            r1, r2 = ref_moments(name, q)
            assert abs(g1 - r1) <= 1e-13 * max(abs(r1), 1) and abs(g2 - r2) <= 1e-13 * r2, (name, q)
