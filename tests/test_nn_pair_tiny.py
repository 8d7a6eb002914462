"""No silent loss of digits on the float64 NumPy path of the pair kernels at tiny variances.

The float forms merge products of exponentials (no overflow at large variances), which had
written sin's ``e^{-(q_1+q_2)/2} sinh(c)`` as ``e^A/2 - e^B/2`` with ``A - B = 2c``: at variances
~1e-12 the difference cancelled (2e-4 relative error, no warning).  ``exp_combined`` now writes
``c e^A - c e^B`` as ``c e^{max(A,B)} tanh((A-B)/2) (1 + e^{-|A-B|})``.  References: the formulas
written out in mpmath at 40 digits in this file (sin, cos), and the mpmath evaluation of each
registry closed form (the generated expression, not the float form).
"""
import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.core.activations import REGISTRY
from symkernel.nn.pair import pair_kernel

from _pair_helpers import assert_matches_closed_form, sin_cos_exact

EPS = np.finfo(float).eps
VARIANCES = (1e-14, 1e-8, 1e-3)
RHOS = np.array([-1.0, -0.7, -1e-6, 0.0, 0.3, 0.999, 1.0])


@pytest.mark.parametrize("name", ["sin", "cos"])
@pytest.mark.parametrize("q", VARIANCES)
def test_sin_and_cos_at_tiny_variances_against_the_formula_in_mpmath(name, q):
    """F and D within 8 eps of their own value (the rounding of rho = c/sqrt(q1 q2) moves them by
    about eps relative; rho = 0 gives sin's F = 0 exactly)."""
    pk = pair_kernel(name)
    q1 = np.array([q, 1.01 * q, 0.5 * q])[:, None]
    q2 = np.array([q, 0.999 * q, 1.3 * q])[None, :]
    for r in RHOS:
        c = r * np.sqrt(q1 * q2)
        F, D, _ = pk.float_step(q1, q2, c)
        for i in range(3):
            for j in range(3):
                want = sin_cos_exact(name, q1[i, 0], q2[0, j], c[i, j])
                for got, w in zip((F[i, j], D[i, j]), want):
                    assert abs(got - w) <= 8 * EPS * abs(w), (name, q, r, i, j, got, w)


def test_the_old_merged_difference_fails_this_tolerance():
    """The tolerance above rejects the former float form e^A/2 - e^B/2 (A - B = 2ab rho) of sin's F,
    evaluated in float64 the same way, at variance 1e-8: the test can fail."""
    a, b, r = sp.symbols("a b rho")
    old = sp.lambdify((a, b, r), sp.exp(-a**2 / 2 + a * b * r - b**2 / 2) / 2
                      - sp.exp(-a**2 / 2 - a * b * r - b**2 / 2) / 2, "numpy")
    q = 1e-8
    got = old(np.sqrt(q), np.sqrt(q), 0.3)
    want = sin_cos_exact("sin", q, q, 0.3 * q)[0]
    assert abs(got - want) > 1e3 * EPS * abs(want)


@pytest.mark.parametrize("act", ["sin", "cos"])
def test_the_issue_network_nngp_and_ntk_at_variances_1e_12(act):
    """serial(Dense(2, 0), act, Dense(1, 0)) on inputs of size 1e-6 (issue 14): the NumPy path
    (fused=False) gives NNGP = F and NTK = F + c D within 16 eps of the scale sqrt(F_ii F_jj)
    (resp. of the NTK) of the formula in mpmath, the input covariances taken at 40 digits from the
    float inputs; sin's diagonal also against the reviewer's (1 - e^{-2q})/2 within 8 eps."""
    x = np.random.default_rng(7).standard_normal((3, 3)) * 1e-6
    net = sk.nn.serial(sk.nn.Dense(2.0, 0.0), sk.nn.Activation(f"{act}(x)"), sk.nn.Dense(1.0, 0.0))
    k = net.kernel(x, fused=False)
    with mpmath.workdps(40):
        X = [[mpmath.mpf(float(v)) for v in row] for row in x]
        K = [[2 * mpmath.fsum(u * v for u, v in zip(X[i], X[j])) / 3 for j in range(3)] for i in range(3)]
        F = [[sin_cos_exact(act, K[i][i], K[j][j], K[i][j]) for j in range(3)] for i in range(3)]
        nngp = [[F[i][j][0] for j in range(3)] for i in range(3)]
        ntk = [[F[i][j][0] + K[i][j] * F[i][j][1] for j in range(3)] for i in range(3)]
        for i in range(3):
            for j in range(3):
                for got, want in ((k.nngp, nngp), (k.ntk, ntk)):
                    scale = mpmath.sqrt(abs(want[i][i] * want[j][j]))
                    assert abs(got[i, j] - want[i][j]) <= 16 * EPS * scale, (act, i, j, got[i, j], want[i][j])
        if act == "sin":
            for i in range(3):
                w = -mpmath.expm1(-2 * K[i][i]) / 2
                assert abs(k.nngp[i, i] - w) <= 8 * EPS * w


CLOSED = sorted(n for n in REGISTRY if pair_kernel(n).exact_nngp is not None)


@pytest.mark.parametrize("name", CLOSED)
def test_every_registry_closed_form_at_tiny_variances_is_right(name):
    """Property over the registry activations with closed forms: at variances 1e-14 .. 1e-3 every
    entry of F and D is finite and within 16 eps of the closed form evaluated in mpmath at 40
    digits, relative to the Cauchy-Schwarz scale sqrt(F(q1, q1, 1) F(q2, q2, 1)) (resp. D)."""
    pk = pair_kernel(name)
    ntk = pk.derivative is not None
    for q1, q2 in ((1e-14, 1e-14), (1e-8, 1e-8), (1e-3, 1e-3), (1e-8, 1e-14), (1e-3, 1e-8)):
        Q1, Q2 = np.array([[q1]]), np.array([[q2]])
        F, D, _ = pk.float_step(Q1, Q2, RHOS[None, :] * np.sqrt(q1 * q2), ntk=ntk)
        assert_matches_closed_form(pk, q1, q2, RHOS, F, D, 16 * EPS)
