"""The float64 Mehler series at large variances (issue 14): ``F = E[phi(aX) phi(bY)]`` and
``D = E[phi'(aX) phi'(bY)]`` of ``PairKernel.float_step`` for tanh, SiLU and softplus at
``q in {1e3, 1e7}`` against an independent reference written here (none of symkernel's code):

``phi = base + d`` with ``base`` in {0, sign, H, relu} (closed-form Gaussian expectations) and ``d``
decaying exponentially, so in ``u = a x``, ``v = b y``

    E[phi(aX) phi(bY)] = E[base base] + int d(v) m_a(v / b) N(v; b^2) dv
                         + int d(u) m_b(u / a) N(u; a^2) du + int int d(u) d(v) p(u, v) du dv,

``m_a(y) = E[base(aX) | Y = y]`` (``X | Y = y ~ N(rho y, 1 - rho^2)``), ``p`` the density of
``(aX, bY)``; the integrals by Gauss-Legendre in ``u`` (and ``v``) on ``|u| <= 48``, panels
``[0, 1/2, 1, 2, 4, ..., 32, 48]`` mirrored (``d`` is analytic on each side of 0, its poles at
distance >= pi/2 from the real axis; beyond 48 it is below 1e-19)."""
import numpy as np
import pytest
from scipy.special import erf, erfc, expit

from symkernel.errors import InvalidInputError
from symkernel.nn.pair import _gl_nodes, pair_kernel

EPS = np.finfo(float).eps

_HALF = np.array([0.0, 0.5, 1, 2, 4, 8, 16, 32, 48])
_U, _W = _gl_nodes(np.concatenate([-_HALF[:0:-1], _HALF]), per_panel=32)


def _phi(z):
    return np.exp(-z * z / 2) / np.sqrt(2 * np.pi)


def _Phi(z):
    return 0.5 * erfc(-z / np.sqrt(2))


# d = phi - base, for phi and phi' of each activation (numpy, written from the definitions)
def _d_tanh(u):
    return -np.sign(u) * 2 / (np.exp(2 * np.abs(u)) + 1)


def _d_sech2(u):
    e = np.exp(-2 * np.abs(u))
    return 4 * e / (1 + e) ** 2


def _d_silu(u):
    return -np.abs(u) * expit(-np.abs(u))


def _d_dsilu(u):                                      # silu' - H
    return np.where(u > 0, -expit(-u) * (1 - u * expit(u)), expit(u) * (1 + u * expit(-u)))


def _d_softplus(u):
    return np.log1p(np.exp(-np.abs(u)))


def _d_dsoftplus(u):                                  # sigmoid - H
    return -np.sign(u) * expit(-np.abs(u))


#: (base, d) of phi and of phi'
CASES = {"tanh": (("sign", _d_tanh), ("zero", _d_sech2)),
         "silu": (("relu", _d_silu), ("step", _d_dsilu)),
         "softplus": (("relu", _d_softplus), ("step", _d_dsoftplus))}


def _base_pair(base, a, b, r):
    s = np.sqrt(1 - r * r)
    return {"zero": 0.0, "sign": 2 / np.pi * np.arcsin(r), "step": 0.25 + np.arcsin(r) / (2 * np.pi),
            "relu": a * b * (s + r * (np.pi - np.arccos(r))) / (2 * np.pi)}[base]


def _base_given(base, a, r, y):
    """``E[base(a X) | Y = y]``."""
    s = np.sqrt(1 - r * r)
    m = r * y
    return {"zero": 0 * y, "sign": erf(m / (s * np.sqrt(2))), "step": _Phi(m / s),
            "relu": a * (m * _Phi(m / s) + s * _phi(m / s))}[base]


def reference(base, d, a, b, r):
    """``E[f(aX) f(bY)]``, ``f = base + d``, corr(X, Y) = r (see the module docstring)."""
    s = np.sqrt(1 - r * r)
    du = d(_U)
    cross_b = np.sum(_W * du * _base_given(base, a, r, _U / b) * _phi(_U / b) / b)
    cross_a = np.sum(_W * du * _base_given(base, b, r, _U / a) * _phi(_U / a) / a)
    x, y = _U[:, None] / a, _U[None, :] / b
    p = np.exp(-(x * x - 2 * r * x * y + y * y) / (2 * s * s)) / (2 * np.pi * s * a * b)
    dd = (_W * du) @ p @ (_W * du)
    return _base_pair(base, a, b, r) + cross_a + cross_b + dd


#: phi and phi' written from their definitions (the right sides of the reference's splits)
FUNCS = {"tanh": (np.tanh, _d_sech2),
         "silu": (lambda u: u * expit(u), lambda u: expit(u) * (1 + u * expit(-u))),
         "softplus": (lambda u: np.logaddexp(0, u), expit)}


@pytest.mark.parametrize("name", list(CASES))
def test_reference_itself(name):
    """The reference against symkernel's series at moderate variances (its quadrature is not in
    doubt there: tested against the dps=30 path elsewhere), and at rho = 0 at a large gain against
    scipy's adaptive quad of ``E f(aX)`` (the product of two means)."""
    from scipy.integrate import quad

    pk = pair_kernel(name)
    for q1, q2, r in ((0.8, 1.0, 0.3), (4.0, 9.0, -0.7)):
        F, D, _ = pk.float_step(np.array([[q1]]), np.array([[q2]]), np.array([[r * np.sqrt(q1 * q2)]]))
        for got, (base, d) in zip((F[0, 0], D[0, 0]), CASES[name]):
            assert abs(reference(base, d, np.sqrt(q1), np.sqrt(q2), r) - got) < 1e-14 * max(1, abs(got))
    a = 300.0
    for f, (base, d) in zip(FUNCS[name], CASES[name]):
        mean = sum(quad(lambda u: f(u) * _phi(u / a) / a, lo, hi, limit=200, epsabs=1e-18, epsrel=1e-12)[0]
                   for lo, hi in ((-12 * a, -40), (-40, 0), (0, 40), (40, 12 * a)))
        ref = reference(base, d, a, a, 0.0)
        assert abs(ref - mean * mean) < 1e-12 * abs(ref) + 1e-20     # tanh: both 0


QS = np.array([1e3, 1e7])
RHOS = (0.5, -0.3, 0.9)


@pytest.mark.parametrize("name", list(CASES))
def test_float_step_large_variances_against_reference(name):
    """F and D within the path's own error estimate (plus the reference's rounding, 8 eps)."""
    pk = pair_kernel(name)
    (bF, dF), (bD, dD) = CASES[name]
    worst = 0.0
    for r in RHOS:
        c = r * np.sqrt(np.multiply.outer(QS, QS))
        F, D, (eF, eD) = pk.float_step(QS[:, None], QS[None, :], c)
        for i, j in np.ndindex(2, 2):
            a, b = np.sqrt(QS[i]), np.sqrt(QS[j])
            for got, est, base, d in ((F, eF, bF, dF), (D, eD, bD, dD)):
                ref = reference(base, d, a, b, r)
                err = abs(got[i, j] - ref)
                assert err <= est[i, j] + 8 * np.finfo(float).eps * abs(ref), (name, QS[i], QS[j], r, err, est[i, j])
                worst = max(worst, err / abs(ref))
    assert worst < 1e-12


def test_ungraded_panels_are_rejected_by_the_reference():
    """The panels before the fix (no grading) give tanh's D at q = 1e7 wrong by orders of
    magnitude (the issue: 9.4e-12 for 6.4e-8): the reference sees it."""
    m = pair_kernel("tanh")._mehler_derivative
    t, _, H, wg = m.shared_nodes(0)
    q1, q2, r = 1e7, 1.3e7, 0.5
    A = H @ m.f(np.sqrt(np.array([q1, q2]))[:, None] * t[None, :]).T
    wrong = np.polynomial.polynomial.polyval(r, A[:, 0] * A[:, 1])
    ref = reference("zero", _d_sech2, np.sqrt(q1), np.sqrt(q2), r)
    assert abs(wrong - ref) > 0.5 * ref
    F, D, (eF, eD) = pair_kernel("tanh").float_step(np.array([[q1]]), np.array([[q2]]),
                                                    np.array([[r * np.sqrt(q1 * q2)]]))
    assert abs(D[0, 0] - ref) <= eD[0, 0] + 8 * np.finfo(float).eps * ref


def test_grading_levels_and_refusal():
    m = pair_kernel("tanh")._mehler
    assert [m.levels(q) for q in (0.5, 1.0, 1.5, 4.0, 1e7)] == [0, 0, 2, 2, 13]
    assert 2.0 ** -m.levels(1e7) <= 1 / (2 * np.sqrt(1e7)) < 2.0 ** (1 - m.levels(1e7))
    with pytest.raises(InvalidInputError, match="1.000e\\+70"):
        m.coefficients(np.array([1.0, 1e70]))


# computed by the code before the grading (git HEAD before issue 14's fix, pair.py's _Mehler):
# a_1(0.5), a_2(1), a_7(1), E f(X)^2 of phi (0) and phi' (1) for each activation
OLD = {("tanh", 0): ("0x1.06f50f4fe1930p-1", "-0x1.414a5d1fffff9p-53", "-0x1.0199d2ee63048p-5", "0x1.93c1ef5501c12p-2"),
       ("tanh", 1): ("0x1.07f6b453b6d00p-53", "-0x1.07456bae379a0p-2", "0x1.281d61bb00000p-61", "0x1.db8c6f38bb2d9p-2"),
       ("silu", 0): ("0x1.6a09e667f3bcdp-2", "0x1.fc1416ee9fba2p-3", "-0x1.00329fffa5237p-53", "0x1.6c506af954eb2p-2"),
       ("silu", 1): ("0x1.270a5941d68dap-2", "0x1.e3b39700001b9p-59", "-0x1.2133492a71172p-7", "0x1.84970586b04e6p-2"),
       ("softplus", 0): ("0x1.6a09e667f3bcap-2", "0x1.2b38181b3c6c8p-3", "-0x1.15113ffe948d5p-55", "0x1.d7ad8b343fbd4p-1"),
       ("softplus", 1): ("0x1.454a15073951ap-3", "0x1.86bc1e3000007p-53", "-0x1.c4a1f1256a388p-10", "0x1.2c6b8dd15ebe0p-2")}


@pytest.mark.parametrize("name", list(CASES))
def test_unit_variances_keep_the_old_nodes(name):
    """sqrt(q) <= 1: no grading, the very node set of before (rebuilt here bit for bit) and the
    coefficients of the old code (stored above; to 2 ulp, or 1e-15 for the zero ones: BLAS may
    sum in another order on another machine)."""
    pk = pair_kernel(name)
    L = np.sqrt(4 * 400 + 2) + 12
    g, w = np.polynomial.legendre.leggauss(24)
    e = np.linspace(-L, L, int(4 * L) + 1)
    half = (e[1:, None] - e[:-1, None]) / 2
    t_old, w_old = ((e[:-1, None] + e[1:, None]) / 2 + half * g).ravel(), (half * w).ravel()
    for n, m in enumerate((pk._mehler, pk._mehler_derivative)):
        assert m.levels(1.0) == 0 and m.shared_nodes(0) is m._shared
        assert np.array_equal(m._shared[0], t_old) and np.array_equal(m._shared[1], w_old)
        A, m2 = m.coefficients(np.array([0.5, 1.0]))
        for v, h in zip((A[0, 1], A[1, 2], A[1, 7], m2[1]), OLD[(name, n)]):
            old = float.fromhex(h)
            assert abs(v - old) <= (2 * np.spacing(abs(old)) if abs(old) > 1e-10 else 1e-15)


def test_fused_quadrature_takes_the_graded_nodes():
    """mehler_fused's trimmed quadrature (the fused path's coefficients) equals the NumPy path's
    at large variances (both graded; a_k, k < 100, and E f^2)."""
    from symkernel.nn.mehler_fused import _quadrature

    for m in (pair_kernel("tanh")._mehler_derivative, pair_kernel("silu")._mehler_derivative):
        q = np.array([2.0, 1e3, 1e7])
        A, m2 = m.coefficients(q)
        At, m2t = _quadrature(m, q, 100)
        assert np.max(np.abs(At - A[:, :100])) <= 1e-15 * np.sqrt(np.max(m2))
        assert np.allclose(m2t, m2, rtol=1e-14, atol=0)


def test_deep_tanh_network_with_a_huge_weight_variance():
    """A deep tanh network with Dense(1e7, 0) in the middle: the fused Mehler path (numba) within
    the NumPy path's per-entry error estimates, at tol=1e-10 (its bound counted the rounding of
    the Dense step as 2 eps P w, P the variance after it, w = 1e7 times too much, and refused
    below tol ~ 1e3)."""
    from symkernel.nn import Activation, Dense, serial
    from symkernel.nn.fused import available

    net = serial(Dense(1.5, 0.1), Activation("tanh"), Dense(1e7, 0.0), Activation("tanh"),
                 Dense(1.5, 0.05), Activation("tanh"), Dense(1.0, 0.0))
    X = np.random.default_rng(0).standard_normal((8, 3))
    ref = net.kernel(X, fused=False, errors=True, tol=1.0)
    assert np.all(np.isfinite(ref.nngp_error)) and np.all(np.isfinite(ref.ntk_error))
    if not available():
        pytest.skip("numba is not installed: no fused path")
    got = net.kernel(X, tol=1e-10)
    assert "fused" in got.method
    assert np.all(np.abs(got.nngp - ref.nngp) <= ref.nngp_error)
    assert np.all(np.abs(got.ntk - ref.ntk) <= ref.ntk_error)


# -- the fused path at large variances (issue 14: its interpolation in sqrt q took ~100 quadratures)
BASE_SQUARED = {"zero": lambda a: 0.0, "sign": lambda a: 1.0, "step": lambda a: 0.5,
                "relu": lambda a: a * a / 2}
BASE = {"zero": lambda u: 0 * u, "sign": np.sign, "step": lambda u: (u > 0) * 1.0,
        "relu": lambda u: np.maximum(u, 0)}


def reference_diagonal(base, d, a):
    """``E f(aX)^2``, ``f = base + d``: ``E base^2`` in closed form, ``E[2 base d + d^2]`` by the
    Gauss-Legendre nodes in ``u`` of :func:`reference`."""
    du = d(_U)
    w = _W * _phi(_U / a) / a
    return BASE_SQUARED[base](a) + np.sum(w * (2 * BASE[base](_U) * du + du * du))


@pytest.mark.parametrize("name", ["tanh", "softplus"])
def test_fused_coefficients_at_large_variances(name):
    """70 distinct variances with sqrt q in [300, 1700]: the compiled path's coefficients come
    from one interpolant in log s of at most 33 nodes (in s it takes 65), within its error
    estimates of one quadrature per value (the NumPy path's); softplus's E phi^2 ~ q/2 is
    interpolated to its relative rounding, which in the former units (sqrt(max E phi^2)) is far
    above INTERP_TOL: there the interpolation was refused, split and redone about 100 times."""
    from symkernel.nn.mehler_fused import INTERP_TOL, coefficients_and_terms

    s = np.sort(np.random.default_rng(8).uniform(300.0, 1700.0, 70))
    for m in (pair_kernel(name)._mehler, pair_kernel(name)._mehler_derivative):
        got = coefficients_and_terms(m, s)
        assert 0 < got.nodes <= 33
        A, m2 = m.coefficients(s * s)
        top = float(np.max(m2))
        assert np.max(np.abs(got.A - A[:, :got.K + 1])) <= 4 * got.err + 8 * EPS * np.sqrt(top)
        assert np.max(np.abs(got.m2 - m2)) <= 4 * got.err_m2 + 8 * EPS * top
        if name == "softplus" and m is pair_kernel(name)._mehler:
            assert np.max(np.abs(got.m2 - m2)) > INTERP_TOL * np.sqrt(top)


def test_few_distinct_variances_take_one_quadrature_each():
    """Up to DIRECT_BELOW distinct variances (here 40, at large q): no interpolant, the NumPy
    path's quadrature at each value, bit for bit."""
    from symkernel.nn.mehler_fused import DIRECT_BELOW, coefficients_and_terms

    s = np.repeat(np.linspace(300.0, 1700.0, 40), 2)
    assert np.unique(s).size <= DIRECT_BELOW
    m = pair_kernel("tanh")._mehler
    got = coefficients_and_terms(m, s)
    A, m2 = m.coefficients(np.unique(s) ** 2)
    assert got.nodes == 0 and got.err == 0 and got.err_m2 == 0
    assert np.array_equal(got.A, np.repeat(A[:, :got.K + 1], 2, axis=0))
    assert np.array_equal(got.m2, np.repeat(m2, 2))


@pytest.mark.parametrize("name, tol", [("tanh", 1e-10), ("softplus", 1e-11)])
def test_fused_network_at_large_variances_against_the_reference(name, tol):
    """``Dense(1e6, 0) -> phi -> Dense(1.5, 0.05) -> phi -> Dense`` on 70 inputs of different
    norms (sqrt q ~ 500 to 2000 after the first Dense: interpolated in log s; softplus's second
    layer at sqrt q ~ 1000 again): the fused path runs at ``tol`` (NNGP and NTK) and a 4 x 4
    subsample agrees with the reference composed layer by layer (F, D and the diagonals from
    :func:`reference`, :func:`reference_diagonal`; T = (c_2 + w_2 c_1 D_1) D_2 + F_2) within
    ``tol`` of the largest entry, as its bound claims, and within 1e-14 (measured: 7.5e-16); the
    network with sigma_w^2 off by 1e-6 relative is off by more than 1e-10."""
    from symkernel.nn import Activation, Dense, serial

    (bF, dF), (bD, dD) = CASES[name]
    rng = np.random.default_rng(11)
    dim, w1, w2, b2 = 50, 1e6, 1.5, 0.05
    X = rng.standard_normal((70, dim)) * rng.uniform(0.5, 2.0, 70)[:, None]

    def net(w):
        return serial(Dense(w, 0.0), Activation(name), Dense(w2, b2), Activation(name),
                      Dense(1.0, 0.0))
    K0 = X @ X.T / dim
    idx = range(4)
    q1 = [w1 * K0[i, i] for i in idx]
    q2 = [w2 * reference_diagonal(bF, dF, np.sqrt(q)) + b2 for q in q1]
    ref = {}
    for i in idx:
        for j in idx:
            if i == j:
                c1, c2 = q1[i], q2[i]
                D1 = reference_diagonal(bD, dD, np.sqrt(q1[i]))
                F2 = reference_diagonal(bF, dF, np.sqrt(q2[i]))
                D2 = reference_diagonal(bD, dD, np.sqrt(q2[i]))
            else:
                c1 = w1 * K0[i, j]
                a, b = np.sqrt(q1[i]), np.sqrt(q1[j])
                c2 = w2 * reference(bF, dF, a, b, c1 / (a * b)) + b2
                D1 = reference(bD, dD, a, b, c1 / (a * b))
                a, b = np.sqrt(q2[i]), np.sqrt(q2[j])
                r = c2 / (a * b)
                F2, D2 = reference(bF, dF, a, b, r), reference(bD, dD, a, b, r)
            ref[i, j] = (F2, F2 + (c2 + w2 * c1 * D1) * D2)
    k = net(w1).kernel(X, tol=tol)
    assert "fused" in k.method
    wrong = net(w1 * (1 + 1e-6)).kernel(X, tol=tol)
    for n, what in enumerate(("nngp", "ntk")):
        scale = np.max(np.abs(getattr(k, what)))
        worst = max(abs(getattr(k, what)[i, j] - ref[i, j][n]) for i in idx for j in idx) / scale
        assert worst <= min(tol, 1e-14), (what, worst)
        off = max(abs(getattr(wrong, what)[i, j] - ref[i, j][n]) for i in idx for j in idx) / scale
        assert off > 1e-10, (what, off)
