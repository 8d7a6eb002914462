"""Residual networks of kinked activations: the float64 error estimate through a residual sum.

An input with itself has rho = 1 (theta = 0) exactly through ``K + w^2 K_b``; the bound of the
sum's angle once added ``4 eps w^2 sqrt(q Q)`` to ``P'^2 - C'^2``, whose square root put
``dtheta ~ 1e-8`` on the diagonal and an NTK estimate ~1e-9 (a PrecisionError at the default tol on
any data, the values right to 4e-16).  Independent path: the arc-cosine recursion (Cho & Saul,
NeurIPS 2009) written out below in mpmath at 40 digits, for ``phi = relu(x) - s relu(-x)``:

    F = (1 + s^2) J(theta) - 2 s J(pi - theta),  J(t) = sqrt(q1 q2) (sin t + (pi - t) cos t) / (2 pi)
    D = ((1 + s^2) (pi - theta) + 2 s theta) / (2 pi)

(s = 0: ReLU, s = 1/100: the registry's leaky ReLU, s = -1: abs); it shares no code with the
package's float64 angles."""
import mpmath
import numpy as np
import pytest

import symkernel as sk

SLOPES = {"relu": 0, "leaky_relu": mpmath.mpf(1) / 100, "abs": -1}
W, SW2, SB2 = 0.7, 2.0, 0.1


def _net(act, blocks):
    block = lambda: sk.nn.Residual(sk.nn.Activation(act), sk.nn.Dense(SW2, SB2), weight=W)   # noqa: E731
    return sk.nn.serial(sk.nn.Dense(1.0, 0.0), *[block() for _ in range(blocks)], sk.nn.Dense(1.0, 0.0))


def _reference(act, blocks, X1, X2, weight=W):
    """(NNGP, NTK) of :func:`_net` by the arc-cosine recursion in mpmath (40 digits)."""
    s = SLOPES[act]
    with mpmath.workdps(40):
        d = X1.shape[1]
        rows = [[mpmath.mpf(float(v)) for v in r] for r in np.vstack([X1, X2])]
        n = len(rows)
        K = [[mpmath.fsum(u * v for u, v in zip(rows[i], rows[j])) / d for j in range(n)] for i in range(n)]
        T = [row[:] for row in K]                          # Dense(1, 0): Theta = K + 1 * 0
        w2, pi = mpmath.mpf(weight) ** 2, mpmath.pi
        for _ in range(blocks):
            Kb, Tb = [[None] * n for _ in range(n)], [[None] * n for _ in range(n)]
            for i in range(n):
                for j in range(n):
                    P = mpmath.sqrt(K[i][i] * K[j][j])
                    th = mpmath.mpf(0) if i == j else mpmath.acos(max(-1, min(1, K[i][j] / P)))

                    def J(t):
                        return P * (mpmath.sin(t) + (pi - t) * mpmath.cos(t)) / (2 * pi)
                    F = (1 + s * s) * J(th) - 2 * s * J(pi - th)
                    D = ((1 + s * s) * (pi - th) + 2 * s * th) / (2 * pi)
                    Kb[i][j] = SW2 * F + SB2
                    Tb[i][j] = Kb[i][j] + SW2 * T[i][j] * D
            K = [[K[i][j] + w2 * Kb[i][j] for j in range(n)] for i in range(n)]
            T = [[T[i][j] + w2 * Tb[i][j] for j in range(n)] for i in range(n)]
        n1 = X1.shape[0]
        K_out = [[K[i][j] for j in range(n)] for i in range(n)]                 # Dense(1, 0)
        T_out = [[K[i][j] + T[i][j] for j in range(n)] for i in range(n)]
        return (np.array([[K_out[i][j] for j in range(n1, n)] for i in range(n1)], dtype=object),
                np.array([[T_out[i][j] for j in range(n1, n)] for i in range(n1)], dtype=object))


def _actual(values, ref):
    return np.array([[float(abs(mpmath.mpf(float(values[i, j])) - ref[i, j])) for j in range(values.shape[1])]
                     for i in range(values.shape[0])])


X = np.array([[1.0, 0.0, 0.5], [0.6, 0.8, -0.2], [-0.9, 0.3, 0.4]])


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "abs"])
@pytest.mark.parametrize("blocks", [2, 6])
def test_residual_kinked_networks_return_their_digits_with_a_tight_estimate(act, blocks):
    """The audit's network (and a deeper one) at the default tol: no PrecisionError, within 1e-14
    of the recursion, the estimate bounds the actual error and stays below 1e-13 (relative to the
    largest entry; it was 2e-9 for ReLU and 1.2e-8 for abs on the NTK diagonal)."""
    net = _net(act, blocks)
    k = net.kernel(X, fused=False)                      # default tol=1e-10 must hold
    ke = net.kernel(X, errors=True)
    ref_k, ref_t = _reference(act, blocks, X, X)
    for value, est, ref in ((k.nngp, ke.nngp_error, ref_k), (k.ntk, ke.ntk_error, ref_t)):
        scale = float(np.max(np.abs(value)))
        actual = _actual(value, ref)
        assert actual.max() <= 1e-14 * scale
        assert (actual <= est).all()
        assert est.max() < 1e-13 * scale
    # the diagonal: theta = 0 exactly through every sum, so its estimate is rounding only
    assert ke.ntk_error.diagonal().max() < 1e-14 * float(np.max(np.abs(k.ntk)))


def test_a_duplicated_row_given_as_x2_and_a_nearly_parallel_pair_are_bounded():
    """x2 repeats a row of x1 (input angle 0 with a rounding bound (d + 8) eps, carried to
    second order through Dense and the sum) and holds a pair at angle ~1e-7 of different norms:
    the estimates bound the actual errors and stay small."""
    x2 = np.vstack([X[1], 1.3 * X[0] + 1e-7 * np.array([0.3, -0.5, 0.2])])
    net = _net("abs", 3)
    k = net.kernel(X, x2, errors=True)
    ref_k, ref_t = _reference("abs", 3, X, x2)
    for value, est, ref in ((k.nngp, k.nngp_error, ref_k), (k.ntk, k.ntk_error, ref_t)):
        actual = _actual(value, ref)
        assert (actual <= est).all()
        assert est.max() < 1e-11 * float(np.max(np.abs(value)))


def test_a_wrong_recursion_is_rejected():
    """The reference must be able to fail: the branch weight 0.7 read as 0.71 in the recursion is
    off by far more than the tolerance."""
    k = _net("relu", 2).kernel(X, fused=False)
    assert _actual(k.ntk, _reference("relu", 2, X, X, weight=0.71)[1]).max() > 1e-6


def test_the_error_message_names_its_source():
    """Where no series is involved the PrecisionError says so (it said "a Mehler series converges
    slowly" whatever the cause); where one is, it names the activation and a tol that accepts."""
    x = np.array([[1.0, 0.0, 0.0], [0.999, 0.0447, 0.0]])
    # variances 20: beyond SELU's closed form (kappa^2 q <= 16, docs/theory.md §33), the series runs
    net = sk.nn.serial(sk.nn.Dense(60.0, 0.0), sk.nn.Activation("selu"), sk.nn.Dense(1.0, 0.0))
    with pytest.raises(sk.PrecisionError, match=r"Mehler series of selu .*pass tol=1e-0\d"):
        net.kernel(x, fused=False)
    with pytest.raises(sk.PrecisionError, match="no series is involved"):
        _net("relu", 2).kernel(X, tol=1e-17)


# -- a series that converges slowly (SELU at rho = 0.99): the advice of the error holds -----------------
_LAM = mpmath.mpf("1.0507009873554804934193349852946")
_ALPHA = mpmath.mpf("1.6732632423543772848170429916717")


def _selu(t, deriv, alpha):
    if t > 0:
        return _LAM if deriv else _LAM * t
    return _LAM * alpha * (mpmath.exp(t) if deriv else mpmath.expm1(t))


def _selu_pair(q1, q2, c, deriv, alpha=_ALPHA):
    """E[f(u) f(v)] (f = selu or selu') by one quadrature in x: given x, v = b (r x + s' Y) and
    E[f(m + s Y)] is closed, m Phi(m/s) + s phi(m/s) and e^{m + s^2/2} Phi(-(m + s^2)/s) terms."""
    a, b = mpmath.sqrt(q1), mpmath.sqrt(q2)
    r = c / (a * b)
    s = b * mpmath.sqrt(1 - r * r)

    def given(m):
        z, tail = m / s, mpmath.exp(m + s * s / 2) * mpmath.ncdf(-(m + s * s) / s)
        if deriv:
            return _LAM * mpmath.ncdf(z) + _LAM * alpha * tail
        return _LAM * (m * mpmath.ncdf(z) + s * mpmath.npdf(z)) + _LAM * alpha * (tail - mpmath.ncdf(-z))
    return mpmath.quad(lambda t: mpmath.npdf(t) * _selu(a * t, deriv, alpha) * given(b * r * t), [-mpmath.inf, 0, mpmath.inf])


def test_selu_near_rho_one_raises_with_a_tol_that_then_returns_bounded_values():
    """Dense -> SELU -> Dense on two inputs at rho = 0.99 and variances 20, 28.8 (beyond SELU's closed
    form, kappa^2 q <= 16, docs/theory.md §33): SELU's phi' jumps at 0, its Mehler series
    converges like a power of k, and no dps= path exists (no closed form, two pieces).  The error
    says so and names a tol; at that tol the values come back with estimates that bound the actual
    error against the quadrature above, and the quadrature with alpha off by 1e-3 is rejected."""
    th = np.arccos(0.99)
    x = np.array([[1.0, 0.0], [1.2 * np.cos(th), 1.2 * np.sin(th)]])
    net = sk.nn.serial(sk.nn.Dense(40.0, 0.0), sk.nn.Activation("selu"), sk.nn.Dense(1.0, 0.0))
    with pytest.raises(sk.PrecisionError, match="no proven path for selu") as info:
        net.kernel(x)
    tol = float(str(info.value).split("pass tol=")[1].split()[0])
    k = net.kernel(x, tol=tol, errors=True, fused=False)
    with mpmath.workdps(20):
        q1, q2, c = (40 * mpmath.mpf(float(v)) for v in ((x[0] @ x[0]) / 2, (x[1] @ x[1]) / 2, (x[0] @ x[1]) / 2))
        F, D = _selu_pair(q1, q2, c, False), _selu_pair(q1, q2, c, True)
        wrong = _selu_pair(q1, q2, c, False, alpha=_ALPHA * (1 + mpmath.mpf("1e-3")))
    for value, est, ref in ((k.nngp[0, 1], k.nngp_error[0, 1], F), (k.ntk[0, 1], k.ntk_error[0, 1], F + c * D)):
        assert float(abs(mpmath.mpf(float(value)) - ref)) <= est
    assert float(abs(mpmath.mpf(float(k.nngp[0, 1])) - wrong)) > 100 * k.nngp_error[0, 1]


def test_residual_weight_read_as_typed_like_dense():
    """A float branch weight is read as typed (0.3 is 3/10), as Dense reads its variances: at dps=30 a
    depth-4 residual ReLU network with weight=0.3 equals the one with Rational(3, 10) to every digit
    (the binary reading, 0.29999999999999998890, differs by ~1e-16 relative), checked against a 40-digit
    recursion written here (arc-cosine kernel, Cho & Saul, NeurIPS 2009)."""
    import mpmath as mp
    import sympy as sp

    x = np.array([[1.0, 0.5, -0.25], [0.2, -1.0, 0.75]])

    def net(w):
        block = sk.nn.serial(sk.nn.Activation("relu"), sk.nn.Dense(2.0, 0.0))
        return sk.nn.serial(sk.nn.Dense(1.0, 0.0), *[sk.nn.Residual(block, weight=w) for _ in range(4)])

    got = net(0.3).kernel(x, dps=30).nngp
    same = net(sp.Rational(3, 10)).kernel(x, dps=30).nngp
    with mp.workdps(40):
        X = [[mp.mpf(float(v)) for v in row] for row in x]          # data: the stored binary floats
        q = [mp.fsum(v * v for v in row) / 3 for row in X]
        c = mp.fsum(u * v for u, v in zip(*X)) / 3
        w2 = (mp.mpf(3) / 10) ** 2
        for _ in range(4):
            r = c / mp.sqrt(q[0] * q[1])
            th = mp.acos(r)
            f = mp.sqrt(q[0] * q[1]) * (mp.sin(th) + (mp.pi - th) * mp.cos(th)) / (2 * mp.pi)
            c, q = c + w2 * 2 * f, [v + w2 * 2 * v / 2 for v in q]
        for i, j in ((0, 1), (0, 0), (1, 1)):
            want = c if i != j else q[i]
            assert abs(got[i, j] - want) <= mp.mpf(10) ** -29 * abs(want)
            assert got[i, j] == same[i, j]
