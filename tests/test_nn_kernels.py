"""sk.nn: NNGP and NTK of composed networks, each path against one that shares none of its code."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st
from scipy import integrate

import symkernel as sk
from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.nn.pair import pair_kernel
from symkernel.simulate.networks import empirical_kernels

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 3)) * np.array([1.0, 1.3, 0.7])


def _relu_layer(q1, q2, c):
    """Cho & Saul (NeurIPS 2009) arc-cosine kernels of degree 1 and 0, written here."""
    r = max(-1.0, min(1.0, c / math.sqrt(q1 * q2)))
    th = math.acos(r)
    F = math.sqrt(q1 * q2) * (math.sin(th) + (math.pi - th) * math.cos(th)) / (2 * math.pi)
    return F, (math.pi - th) / (2 * math.pi)


def _reference_mlp(X, layers, step):
    """The Dense/Activation recursion on every pair, entry by entry (plain Python)."""
    n, d = X.shape
    K = [[float(X[i] @ X[j]) / d for j in range(n)] for i in range(n)]
    T = [[0.0] * n for _ in range(n)]
    for kind, p in layers:
        if kind == "dense":
            w, b = p
            K = [[w * K[i][j] + b for j in range(n)] for i in range(n)]
            T = [[K[i][j] + w * T[i][j] for j in range(n)] for i in range(n)]
        else:
            new = [[step(K[i][i], K[j][j], K[i][j]) for j in range(n)] for i in range(n)]
            K = [[new[i][j][0] for j in range(n)] for i in range(n)]
            T = [[T[i][j] * new[i][j][1] for j in range(n)] for i in range(n)]
    return np.array(K), np.array(T)


def test_relu_network_equals_the_arc_cosine_recursion_written_out():
    net = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("relu"), sk.nn.Dense(1.5, 0.2),
                       sk.nn.Activation("relu"), sk.nn.Dense(2.0, 0.0))
    K, T = _reference_mlp(X, [("dense", (2.0, 0.1)), ("act", None), ("dense", (1.5, 0.2)),
                              ("act", None), ("dense", (2.0, 0.0))], _relu_layer)
    k = net.kernel(X)
    np.testing.assert_allclose(k.nngp, K, rtol=1e-14)
    np.testing.assert_allclose(k.ntk, T, rtol=1e-14)


def _dblquad_step(f, df):
    """E[f(u) f(v)] and E[f'(u) f'(v)] by scipy dblquad over (u, v) ~ N(0, [[q1, c], [c, q2]])."""
    def step(q1, q2, c):
        r = c / math.sqrt(q1 * q2)
        s = math.sqrt(1 - r * r)
        dens = lambda w, t: math.exp(-(t * t + w * w) / 2) / (2 * math.pi)  # noqa: E731
        out = []
        for g in (f, df):
            val, _ = integrate.dblquad(
                lambda w, t: g(math.sqrt(q1) * t) * g(math.sqrt(q2) * (r * t + s * w)) * dens(w, t),
                -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-12)
            out.append(val)
        return tuple(out)
    return step


def test_tanh_mehler_series_against_two_dimensional_quadrature():
    """The float64 Mehler path (no closed form for tanh) against scipy dblquad, layer by layer."""
    Xs = X[:2]
    net = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("tanh"), sk.nn.Dense(1.0, 0.05))
    step = _dblquad_step(math.tanh, lambda u: 1 / math.cosh(u) ** 2)
    K, T = _reference_mlp(Xs, [("dense", (2.0, 0.1)), ("act", None), ("dense", (1.0, 0.05))], step)
    k = net.kernel(Xs, errors=True)
    np.testing.assert_allclose(k.nngp, K, rtol=0, atol=1e-11)
    np.testing.assert_allclose(k.ntk, T, rtol=0, atol=1e-11)
    assert k.nngp_error.max() < 1e-11 and k.ntk_error.max() < 1e-11


@pytest.mark.parametrize("name", ["erf", "gelu", "sin"])
def test_mehler_series_reproduces_the_closed_forms(name):
    """The series path, forced on activations that have closed forms, against those forms."""
    pk = pair_kernel(name)
    q1 = np.array([[0.4], [1.3], [2.5]])
    q2 = np.array([[0.7, 1.9]])
    c = np.array([[0.3, -0.5], [0.9, 1.2], [-1.1, 2.1]])
    F, D, _ = pk.float_step(q1, q2, c)
    r = c / np.sqrt(q1 * q2)
    Fs, eF = pk._mehler.kernel(q1, q2, r)
    Ds, eD = pk._mehler_derivative.kernel(q1, q2, r)
    np.testing.assert_allclose(Fs, F, rtol=0, atol=1e-12)
    np.testing.assert_allclose(Ds, D, rtol=0, atol=1e-12)
    assert (np.abs(Fs - F) <= eF + 1e-15).all()      # the estimate covers the actual error


def test_dps_path_matches_the_arc_cosine_formula_at_30_digits():
    net = sk.nn.serial(sk.nn.Dense(2, sp.Rational(1, 10)), sk.nn.Activation("relu"), sk.nn.Dense(2, 0))
    x = np.array([[1.0, 0.5], [0.25, -1.0]])
    k = net.kernel(x, dps=30)
    with mpmath.workdps(40):
        def q(i, j):
            return 2 * mpmath.mpf(float(x[i] @ x[j])) / 2 + mpmath.mpf(1) / 10
        q11, q22, q12 = q(0, 0), q(1, 1), q(0, 1)
        th = mpmath.acos(q12 / mpmath.sqrt(q11 * q22))
        F = mpmath.sqrt(q11 * q22) * (mpmath.sin(th) + (mpmath.pi - th) * mpmath.cos(th)) / (2 * mpmath.pi)
        D = (mpmath.pi - th) / (2 * mpmath.pi)
        nngp = 2 * F
        ntk = nngp + 2 * q12 * D
    assert abs(k.nngp[0, 1] - nngp) < mpmath.mpf(10) ** -29 * abs(nngp)
    assert abs(k.ntk[0, 1] - ntk) < mpmath.mpf(10) ** -29 * abs(ntk)
    assert mpmath.mp.dps == 15


def test_dps_path_refuses_what_it_cannot_prove():
    # ELU: no two-gain closed form and two pieces (no proven series coefficients)
    net = sk.nn.serial(sk.nn.Dense(1.0, 0.0), sk.nn.Activation("elu"), sk.nn.Dense(1.0, 0.0))
    with pytest.raises(NoClosedFormError, match="analytic piece"):
        net.kernel(X[:2], dps=20)


def test_symbolic_kernel_evaluates_to_the_float64_kernel():
    sw2, sb2 = sp.symbols("sigma_w2 sigma_b2", positive=True)
    net = sk.nn.serial(sk.nn.Dense(sw2, sb2), sk.nn.Activation("erf"), sk.nn.Dense(sw2, sb2),
                       sk.nn.Activation("relu"), sk.nn.Dense(1, 0))
    sym = net.symbolic()
    assert {str(s) for s in sym.nngp.free_symbols} == {"sigma_w2", "sigma_b2", "q_1", "q_2", "c"}
    num = sk.nn.serial(sk.nn.Dense(1.7, 0.3), sk.nn.Activation("erf"), sk.nn.Dense(1.7, 0.3),
                       sk.nn.Activation("relu"), sk.nn.Dense(1, 0)).kernel(X[:2])
    d = X.shape[1]
    point = {sw2: sp.Rational(17, 10), sb2: sp.Rational(3, 10), sk.nn.q1: X[0] @ X[0] / d,
             sk.nn.q2: X[1] @ X[1] / d, sk.nn.c: X[0] @ X[1] / d}
    assert float(sym.nngp.subs(point)) == pytest.approx(num.nngp[0, 1], rel=1e-13)
    assert float(sym.ntk.subs(point)) == pytest.approx(num.ntk[0, 1], rel=1e-13)
    assert r"\Theta" in sym.latex()


def test_consecutive_activations_fuse_into_one_function_of_a_gaussian():
    fused = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("relu"), sk.nn.Activation("tanh"),
                         sk.nn.Dense(1.0, 0.0))
    direct = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation(sk.activation("tanh(max(x, 0))")),
                          sk.nn.Dense(1.0, 0.0))
    assert len(fused) == 3
    a, b = fused.kernel(X), direct.kernel(X)
    np.testing.assert_allclose(a.nngp, b.nngp, rtol=1e-13)
    np.testing.assert_allclose(a.ntk, b.ntk, rtol=1e-13)


NET = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("tanh"), sk.nn.Dense(1.5, 0.1),
                   sk.nn.Activation("relu"), sk.nn.LayerNorm(),
                   sk.nn.Residual(sk.nn.Dense(1.0, 0.0), sk.nn.Activation("erf"), sk.nn.Dense(1.0, 0.1),
                                  weight=0.5),
                   sk.nn.RMSNorm(), sk.nn.Dense(2.0, 0.1))


def test_numpy_backpropagation_ntk_equals_torch_autograd():
    torch = pytest.importorskip("torch")  # noqa: F841
    from symkernel.simulate import networks
    from symkernel.simulate.backends import TorchBackend
    be = TorchBackend("float64", 3)
    be.gram_pair = networks._gram_pair(be)
    params, _ = NET.init_params(be, X.shape[1], 24)
    _, _, manual = networks._outputs_and_ntk(NET, params, X, X, be, True)
    auto = networks._torch_ntk(NET, params, X, X, be)
    np.testing.assert_allclose(manual, auto, rtol=1e-12, atol=1e-12)


def test_finite_width_kernels_converge_to_the_theory_at_rate_one_over_sqrt_width():
    """Empirical NNGP and NTK over seeds: within 4.5 standard errors of the theory at each width,
    and the standard error shrinks like 1/sqrt(width) (width x4 -> se /2)."""
    theory = NET.kernel(X)
    ses = []
    for width in (96, 384):
        emp = empirical_kernels(NET, X, width=width, seeds=range(12))
        assert (np.abs(emp.nngp - theory.nngp) <= 4.5 * emp.nngp_se + 1e-3).all()
        assert (np.abs(emp.ntk - theory.ntk) <= 4.5 * emp.ntk_se + 1e-3).all()
        ses.append((np.sqrt((emp.nngp_se ** 2).mean()), np.sqrt((emp.ntk_se ** 2).mean())))
    for small, large in zip(*ses):      # 2 expected; 12 seeds give the ratio to about +-30%
        assert 1.3 < small / large < 3.2


def test_finite_width_check_rejects_a_wrong_theory():
    wrong = sk.nn.serial(sk.nn.Dense(3.0, 0.1), sk.nn.Activation("tanh"), sk.nn.Dense(1.5, 0.1))
    right = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("tanh"), sk.nn.Dense(1.5, 0.1))
    emp = empirical_kernels(right, X, width=1024, seeds=range(8), ntk=False)
    z_right = np.abs(emp.nngp - right.kernel(X, ntk=False).nngp) / emp.nngp_se
    z_wrong = np.abs(emp.nngp - wrong.kernel(X, ntk=False).nngp) / emp.nngp_se
    assert z_right.max() < 4.5 and z_wrong.max() > 8


def test_mean_field_diagnostics_of_the_same_description():
    block = sk.nn.serial(sk.nn.Dense(1.5, 0.05), sk.nn.Activation("tanh"))
    net = sk.nn.repeat(block, 60)
    mf = net.mean_field()
    # the network's own diagonal recursion reaches the length-map fixed point
    x = np.array([[1.0, 0.0, 0.0]]) * math.sqrt(3)
    last = net.kernel(x, ntk=False).nngp[0, 0]          # E phi(sqrt(q*) X)^2 after the last layer
    assert 1.5 * last + 0.05 == pytest.approx(float(mf.q_star), rel=1e-9)
    with pytest.raises(InvalidInputError, match="Dense -> Activation"):
        sk.nn.serial(sk.nn.Dense(1.0, 0.0), sk.nn.LayerNorm()).mean_field()


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(["relu", "erf", "tanh", "gelu"]), st.floats(0.5, 3.0), st.floats(0.0, 0.5),
       st.integers(0, 10**6))
def test_kernel_matrices_are_positive_semidefinite(name, sw2, sb2, seed):
    x = np.random.default_rng(seed).standard_normal((6, 4))
    net = sk.nn.serial(sk.nn.Dense(sw2, sb2), sk.nn.Activation(name), sk.nn.Dense(sw2, sb2),
                       sk.nn.Activation(name), sk.nn.Dense(1.0, sb2))
    k = net.kernel(x)
    for m in (k.nngp, k.ntk):
        np.testing.assert_allclose(m, m.T, rtol=1e-13, atol=1e-15)
        assert np.linalg.eigvalsh(m).min() >= -1e-12 * np.abs(m).max()


def test_batched_rows_equal_the_whole_matrix():
    net = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("tanh"), sk.nn.Dense(1.0, 0.0))
    x = RNG.standard_normal((7, 3))
    whole, parts = net.kernel(x), net.kernel(x, batch_size=3)
    np.testing.assert_allclose(parts.nngp, whole.nngp, rtol=1e-14)
    np.testing.assert_allclose(parts.ntk, whole.ntk, rtol=1e-14)


@pytest.mark.parametrize("build, match", [
    (lambda: sk.nn.Residual(sk.nn.Dense(1.0, 0.0), sk.nn.Activation("relu")), "end in a Dense"),
    (lambda: sk.nn.Dense(-1.0, 0.0), "nonnegative"),
    (lambda: sk.nn.Dense("2", 0.0), "number"),
    (lambda: sk.nn.serial(sk.nn.Dense(1.0, 0.0), "relu"), "layers"),
    (lambda: sk.nn.repeat(sk.nn.Dense(1.0, 0.0), 0), "positive integer"),
    (lambda: sk.nn.serial(sk.nn.Dense(1.0, 0.0), sk.nn.Activation("relu"), sk.nn.LayerNorm(),
                          sk.nn.Activation("tanh")).kernel(X), "Gaussian input"),
    (lambda: sk.nn.serial(sk.nn.Dense(1.0, 0.0)).kernel(np.ones((2, 3)), np.ones((2, 4))), "features"),
    (lambda: sk.nn.serial(sk.nn.Dense(1.0, 0.0)).kernel([[1.0, np.nan]]), "NaN"),
    (lambda: sk.nn.serial(sk.nn.Dense(sp.Symbol("s", positive=True), 0)).kernel(X), "symbolic"),
    (lambda: sk.nn.serial(sk.nn.Dense(1.0, 0.0)).kernel(np.ones((30, 2)), dps=20), "at most"),
])
def test_bad_input_is_refused_with_a_package_error(build, match):
    with pytest.raises(InvalidInputError, match=match):
        build()


def test_the_ntk_through_a_jump_is_refused():
    net = sk.nn.serial(sk.nn.Dense(1.0, 0.0), sk.nn.Activation("step"), sk.nn.Dense(1.0, 0.0))
    nngp = net.kernel(X, ntk=False).nngp                  # the NNGP exists
    assert np.isfinite(nngp).all()
    with pytest.raises(NoClosedFormError, match="Dirac delta"):
        net.kernel(X)


def test_symbolic_depth_of_an_affine_block_equals_the_unrolled_network():
    L = sp.Symbol("L", integer=True, positive=True)
    sw2, sb2 = sp.symbols("sigma_w2 sigma_b2", positive=True)
    block = sk.nn.serial(sk.nn.Dense(sw2, sb2), sk.nn.Residual(sk.nn.Dense(1, 0), weight=sp.Rational(1, 2)))
    sym = sk.nn.repeat(block, L).symbolic()
    assert L in sym.ntk.free_symbols
    x = X[:2]
    d = x.shape[1]
    point = {sw2: sp.Rational(3, 2), sb2: sp.Rational(1, 10), sk.nn.q1: x[0] @ x[0] / d,
             sk.nn.q2: x[1] @ x[1] / d, sk.nn.c: x[0] @ x[1] / d}
    for depth in (1, 4):
        unrolled = sk.nn.repeat(sk.nn.serial(sk.nn.Dense(1.5, 0.1), sk.nn.Residual(sk.nn.Dense(1, 0), weight=0.5)),
                                depth).kernel(x)
        assert float(sym.nngp.subs(point).subs(L, depth)) == pytest.approx(unrolled.nngp[0, 1], rel=1e-13)
        assert float(sym.ntk.subs(point).subs(L, depth)) == pytest.approx(unrolled.ntk[0, 1], rel=1e-13)
    with pytest.raises(NoClosedFormError, match="not affine"):
        sk.nn.repeat(sk.nn.serial(sk.nn.Dense(sw2, 0), sk.nn.Activation("relu"), sk.nn.Dense(1, 0)), L).symbolic()
    with pytest.raises(InvalidInputError, match="symbolic"):
        sk.nn.repeat(block, L).kernel(x)


def test_dps_series_path_reproduces_the_erf_closed_form_at_30_digits():
    """Mehler's series with proven coefficients (forced on erf) against the closed form
    (2/pi) asin(2 c / sqrt((1 + 2 q1)(1 + 2 q2))) of Williams (NeurIPS 1996), written here."""
    from symkernel.nn.series_mp import SeriesStep
    step = SeriesStep(sk.activation("erf"))
    with mpmath.workdps(40):
        q1, q2, r = mpmath.mpf(7) / 10, mpmath.mpf(19) / 10, mpmath.mpf(3) / 5
        got = step.value(q1, q2, r, 30)
        c = r * mpmath.sqrt(q1 * q2)
        want = 2 / mpmath.pi * mpmath.asin(2 * c / mpmath.sqrt((1 + 2 * q1) * (1 + 2 * q2)))
        assert abs(got - want) < mpmath.mpf(10) ** -30 * abs(want)


def test_dps_path_of_tanh_agrees_with_the_float64_series():
    net = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("tanh"), sk.nn.Dense(1.5, 0.05))
    x = np.array([[1.0, 0.0], [0.6, 0.8]])
    exact, fast = net.kernel(x, dps=25), net.kernel(x)
    np.testing.assert_allclose(exact.nngp.astype(float), fast.nngp, rtol=1e-14)
    np.testing.assert_allclose(exact.ntk.astype(float), fast.ntk, rtol=1e-14)
    assert mpmath.mp.dps == 15


@pytest.mark.parametrize("q, r", [(1.3, 0.5), (1.3, 0.95), (0.49, -0.7)])
def test_elu_series_step_against_the_certified_inner_form_kernel(q, r):
    """ELU (a kink in phi'', slowly decaying c_k) at equal variances: the float64 Mehler step
    against sk.dual_kernel / derivative_kernel of elu(sqrt(q) x) (the exact inner expectation and
    an Arb-certified outer integral)."""
    pk = pair_kernel("elu")
    F, D, (eF, eD) = pk.float_step(np.array([[q]]), np.array([[q]]), np.array([[r * q]]))
    act = sk.activation("elu", gain=sp.sqrt(sp.Rational(str(q))))
    ref = float(sk.dual_kernel(act)(sp.Rational(str(r)), dps=20))
    ref_d = float(sk.derivative_kernel(act)(sp.Rational(str(r)), dps=20)) / q
    assert abs(F[0, 0] - ref) <= eF[0, 0] + 1e-15 and eF[0, 0] < 1e-12
    assert abs(D[0, 0] - ref_d) <= eD[0, 0] + 1e-15 and eD[0, 0] < 1e-12


def test_grid_interpolation_of_one_variance_equals_the_direct_series():
    """Inputs of equal norms (one variance per layer): the theta-grid interpolation (used from
    4096 entries on) against the direct Horner sum of the same series (blocks of 30 rows)."""
    x = RNG.standard_normal((70, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    net = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("tanh"), sk.nn.Dense(1.5, 0.1),
                       sk.nn.Activation("softplus"), sk.nn.Dense(1.0, 0.0))
    grid, direct = net.kernel(x, errors=True), net.kernel(x, batch_size=30)
    np.testing.assert_allclose(grid.nngp, direct.nngp, rtol=0, atol=1e-13)
    np.testing.assert_allclose(grid.ntk, direct.ntk, rtol=0, atol=1e-13)
    assert grid.nngp_error.max() < 1e-11


def test_a_slowly_converging_series_is_not_returned_silently():
    """SELU's Hermite series converges slowly near |rho| = 1: the estimate exceeds the default
    tolerance and the NumPy path says so (ELU and CELU take their closed form, docs/theory.md §25,
    §27; SELU too where kappa^2 q <= 16, §33: here the variances are 20); a looser tol accepts it
    and reports the estimates."""
    x = np.array([[1.0, 0.0, 0.0], [0.999, 0.0447, 0.0]])
    net = sk.nn.serial(sk.nn.Dense(60.0, 0.0), sk.nn.Activation("selu"), sk.nn.Dense(1.0, 0.0))
    with pytest.raises(sk.PrecisionError, match="estimated relative error"):
        net.kernel(x, fused=False)
    k = net.kernel(x, tol=1e-2, errors=True)
    assert k.nngp_error.max() > 1e-10
