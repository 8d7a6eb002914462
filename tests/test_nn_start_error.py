"""The starting error bound of the float64 NumPy path (issue 14): the rounding of ``c = x1.x2/d`` is
up to ``(d + 2) eps sum_k |x1k x2k| / d <= (d + 2) eps sqrt(q1 q2)`` (Cauchy-Schwarz), not
``(d + 2) eps |c|``, which is ~0 where the inner product cancels.

Reference written here: the exact inner products of the float inputs (fractions.Fraction), then
the network's recursion in mpmath at 40 digits with Williams' erf kernel (Williams, NeurIPS 1997):
``E erf(u) erf(v) = (2/pi) asin(2c / sqrt((1 + 2q1)(1 + 2q2)))``,
``E erf'(u) erf'(v) = (4/pi) / sqrt((1 + 2q1)(1 + 2q2) - 4c^2)``."""
from fractions import Fraction

import mpmath as mp
import numpy as np

import symkernel as sk

EPS = np.finfo(float).eps


def _inputs():
    """Rows whose inner products cancel: integer vectors orthogonal in exact arithmetic, scaled by
    1/3 (the float inputs' exact products are ~1e-17, their float64 sums another ~1e-17), and
    ``(1/3, 1) . (3, -1)``, whose float64 value is 0 while the exact product of the floats is
    ``-2^-54``."""
    A = np.array([[1, 2, 3, -4], [2, -1, 0, 0], [0, 0, 4, 3], [3, 1, 1, 2]], dtype=float)
    B = np.array([[2, -1, 0, 0], [1, 2, 3, -4], [3, 1, 1, 2], [0, 0, 4, 3]], dtype=float)
    X1 = np.vstack([A / 3, A / 7, [[1 / 3, 1, 0, 0], [1 / 7, 1, 1 / 3, 0]]])
    X2 = np.vstack([B / 3, B / 7, [[3, -1, 0, 0], [7, -1, 0, 0]]])
    return X1, X2


def _exact_gram(X1, X2):
    d = X1.shape[1]
    F1 = [[Fraction(float(v)) for v in row] for row in X1]
    F2 = [[Fraction(float(v)) for v in row] for row in X2]
    C = [[sum(a * b for a, b in zip(r1, r2)) / d for r2 in F2] for r1 in F1]
    n1 = [sum(a * a for a in r) / d for r in F1]
    n2 = [sum(a * a for a in r) / d for r in F2]
    return C, n1, n2


def _mp(f):
    return mp.mpf(f.numerator) / f.denominator


def _reference(X1, X2, w, b):
    """``Dense(w, 0) -> erf -> Dense(1, b)``: (NNGP, NTK) in mpmath from the exact Gram matrix."""
    C, n1, n2 = _exact_gram(X1, X2)
    N = np.empty((len(C), len(C[0])))
    T = np.empty_like(N)
    with mp.workdps(40):
        for i, row in enumerate(C):
            for j, c in enumerate(row):
                c1, q1, q2 = w * _mp(c), w * _mp(n1[i]), w * _mp(n2[j])
                den = (1 + 2 * q1) * (1 + 2 * q2)
                F = 2 / mp.pi * mp.asin(2 * c1 / mp.sqrt(den))
                D = 4 / mp.pi / mp.sqrt(den - 4 * c1 * c1)
                N[i, j] = F + b
                T[i, j] = F + b + c1 * D          # Theta = K' + 1 * (Theta_1 D), Theta_1 = c1
    return N, T, C


def test_start_bound_covers_the_rounding_of_cancelling_inner_products():
    X1, X2 = _inputs()
    d = X1.shape[1]
    # the input kernel alone (a Dense(1, 0) readout: K = c exactly as computed)
    k = sk.nn.serial(sk.nn.Dense(1.0, 0.0)).kernel(X1, X2, errors=True, fused=False)
    C = _exact_gram(X1, X2)[0]
    exact = np.array([[float(_mp(c)) for c in row] for row in C])
    with mp.workdps(40):
        actual = np.array([[float(abs(mp.mpf(float(k.nngp[i, j])) - _mp(c))) for j, c in enumerate(row)]
                           for i, row in enumerate(C)])
    assert np.all(actual <= k.nngp_error)
    assert np.max(np.abs(exact)) > 0.5                       # some inner products do not cancel
    old = (d + 2) * EPS * np.abs(k.nngp) + 2 * EPS * np.abs(k.nngp)     # the bound before the fix
    assert np.any(actual > old)                              # ... did not cover the cancellation
    assert np.max(k.nngp_error) < 1e-14                      # and the new one stays tight


def test_bound_carried_through_an_erf_layer_covers_the_actual_error():
    """Through ``Dense(2, 0) -> erf -> Dense(1, 0)`` (Williams' closed form: no series error; an
    odd activation, so the cancelled inputs stay ~0): every entry of the NNGP and NTK within its
    reported estimate of the 40-digit reference (with the old start bound the NNGP entries at
    ~1e-17 had estimates ~1e-32 and errors ~1e-17)."""
    X1, X2 = _inputs()
    net = sk.nn.serial(sk.nn.Dense(2.0, 0.0), sk.nn.Activation("erf"), sk.nn.Dense(1.0, 0.0))
    k = net.kernel(X1, X2, errors=True, fused=False)
    N, T, _ = _reference(X1, X2, 2.0, 0.0)
    assert np.all(np.abs(k.nngp - N) <= k.nngp_error)
    assert np.all(np.abs(k.ntk - T) <= k.ntk_error)
    Nw, _, _ = _reference(X1, X2, 2.0 * (1 + 1e-13), 0.0)    # sigma_w2 off by 1e-13: outside
    assert np.any(np.abs(k.nngp - Nw) > k.nngp_error)
