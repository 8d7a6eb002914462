"""The worst-case bound that the compiled Mehler path (symkernel.nn.mehler_fused) carries, at its
start: the rounding of the input covariances ``c = x_1.x_2 / d``.  A dot product rounds by up to
``gamma_d sum_k |x_k y_k| <= gamma_d |x| |y|`` (Cauchy-Schwarz), which is ``d sqrt(q_1 q_2)``
times ``gamma_d``, whatever ``c`` is; the former bound ``(d + 2) eps max|c|`` shrinks with ``c``
where the inner products cancel.  Reference: the inner products of the float inputs exactly (as
rationals), none of the package's code."""
from fractions import Fraction

import numpy as np

from symkernel.nn.mehler_fused import input_rounding

EPS = np.finfo(float).eps


def _exact_covariances(X1, X2):
    """``x_1.x_2 / d`` of the float rows, exactly."""
    d = X1.shape[1]
    return [[sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x, y)) / d for y in X2]
            for x in X1]


def _cancelling_inputs(d=64, seed=5):
    """Rows of ``X2`` orthogonal to those of ``X1`` up to rounding: every ``c`` is at the level of
    its own rounding."""
    rng = np.random.default_rng(seed)
    X1 = rng.standard_normal((3, d))
    Q, _ = np.linalg.qr(X1.T)
    Z = rng.standard_normal((3, d))
    return X1, Z - (Z @ Q) @ Q.T


def test_the_input_bound_covers_the_rounding_where_inner_products_cancel():
    """On inputs whose inner products cancel, the float64 ``c`` (as the path computes it, BLAS
    ``X1 @ X2.T / d``) is off its exact value by far more than ``(d + 2) eps max|c|`` (the former
    bound fails), and within ``input_rounding`` (the Cauchy-Schwarz bound)."""
    X1, X2 = _cancelling_inputs()
    d = X1.shape[1]
    C = X1 @ X2.T / d
    exact = _exact_covariances(X1, X2)
    err = max(abs(Fraction(float(C[i, j])) - exact[i][j]) for i in range(3) for j in range(3))
    q1, q2 = (X1 * X1).sum(1) / d, (X2 * X2).sum(1) / d
    old = (d + 2) * EPS * float(np.max(np.abs(C)))
    assert err > 1e6 * old                      # the former bound understates by far
    assert err <= input_rounding(q1, q2, d)
    assert max(abs(v) for row in exact for v in row) < 1e-14 * np.sqrt(q1.max() * q2.max())


def test_the_input_bound_is_attained_within_its_order_by_a_bad_summation():
    """The bound is not loose by more than the summation order allows: a sum whose partial sums
    are large (terms 1, then eps/2 each, recursively summed, then -1) loses about ``d eps/2``
    relative to ``sqrt(q_1 q_2)``, against the bound's ``(d + 2) eps``."""
    d = 40
    x = np.ones(d)
    y = np.concatenate([[1.0], np.full(d - 2, EPS / 2), [-1.0]])
    got = 0.0
    for a, b in zip(x, y):                      # recursive summation, left to right
        got += a * b
    exact = sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x, y))
    q1, q2 = float(x @ x) / d, float(y @ y) / d
    err = abs(Fraction(got / d) - exact / d)
    bound = input_rounding(np.array([q1]), np.array([q2]), d)
    assert err <= bound
    assert err > bound / (8 * np.sqrt(d))        # within the order of the worst case
