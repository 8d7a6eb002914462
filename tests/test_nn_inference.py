"""GP posterior with the NNGP and NTK gradient flow (symkernel.nn.inference) against paths that
share none of its code: the textbook formula with numpy.linalg.inv / solve, and numerical
integration of the gradient-flow ODE with scipy.integrate.solve_ivp."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from symkernel.errors import InvalidInputError
from symkernel.nn.inference import JITTER_LADDER, gp_posterior, gradient_flow


def joint_kernel(seed, n, m, rank=None, ridge=0.0):
    """A random PSD joint kernel on n train + m test points, split into its blocks."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n + m, rank or 2 * (n + m)))
    j = z @ z.T / z.shape[1] + ridge * np.eye(n + m)
    return j[:n, :n], j[n:, :n], j[n:, n:], rng


# ---------------------------------------------------------------------------- GP posterior

@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_gp_posterior_matches_textbook_inverse(noise):
    k, kc, kt, rng = joint_kernel(1, 7, 4, ridge=0.2)
    y = rng.standard_normal((7, 2))
    post = gp_posterior(k, kc, kt, y, noise=noise)
    a_inv = np.linalg.inv(k + noise * np.eye(7))
    mean = kc @ a_inv @ y
    cov = kt - kc @ a_inv @ kc.T
    assert post.jitter == 0.0
    assert post.mean.shape == (4, 2) and post.covariance.shape == (4, 4)
    np.testing.assert_allclose(post.mean, mean, rtol=0, atol=1e-12 * np.abs(mean).max())
    np.testing.assert_allclose(post.covariance, cov, rtol=0, atol=1e-12)
    np.testing.assert_allclose(post.variance, np.diag(cov), rtol=0, atol=1e-12)
    exact = np.linalg.cond(k + noise * np.eye(7), 1)     # dpocon estimates the 1-norm condition
    assert exact / 10 <= post.condition <= exact * (1 + 1e-8)


def test_gp_posterior_diagonal_test_kernel_and_1d_targets():
    k, kc, kt, rng = joint_kernel(2, 5, 3, ridge=0.1)
    y = rng.standard_normal(5)
    full = gp_posterior(k, kc, kt, y)
    diag = gp_posterior(k, kc, np.diag(kt), y)
    assert diag.covariance is None and diag.mean.shape == (3,)
    np.testing.assert_array_equal(diag.variance, full.variance)
    np.testing.assert_allclose(diag.mean, kc @ np.linalg.solve(k, y), rtol=1e-12)
    with pytest.raises(ValueError):                       # results are read-only
        diag.mean[0] = 1.0


def test_gp_posterior_reports_jitter_on_a_singular_kernel():
    k = 3.0 * np.ones((4, 4))                             # rank 1: the second pivot is exactly 0
    with pytest.raises(InvalidInputError, match="singular"):
        gp_posterior(k, np.ones((1, 4)), np.ones(1), np.ones(4), jitter=0)
    post = gp_posterior(k, 3.0 * np.ones((1, 4)), 3.0 * np.ones(1), np.ones(4))
    assert post.jitter == JITTER_LADDER[0] * 3.0
    assert post.condition > 1e11                          # reported ill-conditioning
    # the jittered posterior is the textbook one of K + jitter I
    a = k + post.jitter * np.eye(4)
    np.testing.assert_allclose(post.mean, 3.0 * np.ones((1, 4)) @ np.linalg.solve(a, np.ones(4)),
                               rtol=1e-9)
    fixed = gp_posterior(k, 3.0 * np.ones((1, 4)), 3.0 * np.ones(1), np.ones(4), jitter=1e-3)
    assert fixed.jitter == 1e-3


def test_gp_posterior_refuses_non_psd():
    k = np.array([[1.0, 2.0], [2.0, 1.0]])               # eigenvalues 3, -1
    with pytest.raises(InvalidInputError, match=r"not PSD.*-1\.000e\+00"):
        gp_posterior(k, np.ones((1, 2)), np.ones(1), np.ones(2))


def test_gp_posterior_refuses_an_inconsistent_joint_kernel():
    k = np.eye(2)
    with pytest.raises(InvalidInputError, match="joint train/test kernel is not PSD"):
        gp_posterior(k, np.array([[1.0, 1.0]]), np.array([0.5]), np.zeros(2))


@pytest.mark.parametrize("kwargs, match", [
    ({"k_train": np.array([[1.0, 0.5], [0.4, 1.0]])}, "not symmetric"),
    ({"k_cross": np.ones((1, 3))}, "2 columns"),
    ({"y_train": np.ones(3)}, "shape"),
    ({"noise": -1.0}, "noise"),
    ({"jitter": "lots"}, "jitter"),
    ({"k_test_diag_or_matrix": np.ones(2)}, r"\(1,\)"),
    ({"k_train": np.array([[np.nan, 0.0], [0.0, 1.0]])}, "non-finite"),
])
def test_gp_posterior_bad_input(kwargs, match):
    args = {"k_train": np.eye(2), "k_cross": np.ones((1, 2)), "k_test_diag_or_matrix": np.ones(1),
            "y_train": np.ones(2)}
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        gp_posterior(**args)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 8), m=st.integers(1, 4),
       rank=st.integers(1, 12), ridge=st.sampled_from([0.0, 1e-9, 0.1]),
       noise=st.sampled_from([0.0, 1e-4, 0.5]), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_gp_posterior_variance_between_zero_and_prior(seed, n, m, rank, ridge, noise, scale):
    k, kc, kt, rng = joint_kernel(seed, n, m, rank=rank, ridge=ridge)
    k, kc, kt = scale * k, scale * kc, scale * kt
    y = rng.standard_normal(n)
    post = gp_posterior(k, kc, kt, y, noise=noise * scale)    # a valid PSD kernel is accepted
    assert post.jitter == 0.0 or post.jitter / np.mean(np.diag(k)) in JITTER_LADDER
    assert np.all(post.variance >= 0.0) and np.all(post.variance <= np.diag(kt))
    assert np.all(np.isfinite(post.mean))
    if ridge == 0.1:                                      # well conditioned: the textbook value
        a_inv = np.linalg.inv(k + noise * scale * np.eye(n))
        np.testing.assert_allclose(post.variance, np.diag(kt - kc @ a_inv @ kc.T),
                                   rtol=0, atol=1e-10 * scale)


# ---------------------------------------------------------------------------- gradient flow

def integrate_flow(theta, theta_cross, y, f0x, f0t, times, rate):
    """f(X), f(x*) at `times` from df(X)/dt = -rate Theta (f(X) - y), df(x*)/dt = -rate
    Theta(x*, X) (f(X) - y), by an adaptive Runge-Kutta integrator."""
    n, k = y.shape
    m = theta_cross.shape[0]
    op = np.vstack([theta, theta_cross])

    def rhs(_, state):
        fx = state.reshape(n + m, k)[:n]
        return (-rate * op @ (fx - y)).ravel()

    sol = solve_ivp(rhs, (0.0, max(times)), np.vstack([f0x, f0t]).ravel(), t_eval=times,
                    method="DOP853", rtol=1e-12, atol=1e-13)
    states = sol.y.T.reshape(len(times), n + m, k)
    return states[:, :n], states[:, n:]


@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_gradient_flow_matches_ode_integration(loss):
    theta, tc, _, rng = joint_kernel(3, 6, 3, ridge=0.1)
    y = rng.standard_normal((6, 2))
    f0x, f0t = rng.standard_normal((6, 2)), rng.standard_normal((3, 2))
    times = np.array([0.0, 0.3, 2.0, 7.5])
    rate = 0.7 if loss == "sum" else 0.7 / y.size          # neural-tangents' averaged MSE
    out = gradient_flow(theta, tc, y, times, learning_rate=0.7, f0_train=f0x, f0_test=f0t,
                        loss=loss)
    train, test = integrate_flow(theta, tc, y, f0x, f0t, times, rate)
    assert out.train.shape == (4, 6, 2) and out.test.shape == (4, 3, 2)
    assert out.time_scale == rate
    np.testing.assert_allclose(out.train, train, rtol=0, atol=1e-9)
    np.testing.assert_allclose(out.test, test, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(out.train[0], f0x)


def test_gradient_flow_infinite_time_is_kernel_regression():
    theta, tc, _, rng = joint_kernel(4, 8, 5, ridge=0.05)
    y = rng.standard_normal(8)
    out = gradient_flow(theta, tc, y, np.inf)
    assert out.test.shape == (5,) and out.t.shape == ()
    np.testing.assert_array_equal(out.train, y)
    np.testing.assert_allclose(out.test, tc @ np.linalg.solve(theta, y), rtol=0, atol=1e-12)
    lam = np.linalg.eigvalsh(theta)
    assert out.min_eigenvalue == pytest.approx(lam[0], rel=1e-10)
    assert out.condition == pytest.approx(lam[-1] / lam[0], rel=1e-8)
    late = gradient_flow(theta, tc, y, 1e4)                 # the finite-t path converges to it
    np.testing.assert_allclose(late.test, out.test, rtol=0, atol=1e-10)


def test_gradient_flow_singular_ntk():
    theta, tc, _, rng = joint_kernel(5, 5, 2, rank=3)       # rank 3 < 5 on the train block
    y = rng.standard_normal((5, 1))
    times = np.array([0.5, 3.0])
    out = gradient_flow(theta, tc, y, times)                # finite t: well defined
    train, test = integrate_flow(theta, tc, y, np.zeros((5, 1)), np.zeros((2, 1)), times, 1.0)
    np.testing.assert_allclose(out.train, train, rtol=0, atol=1e-9)
    np.testing.assert_allclose(out.test, test, rtol=0, atol=1e-9)
    assert out.condition == np.inf
    with pytest.raises(InvalidInputError, match="singular.*smallest eigenvalue"):
        gradient_flow(theta, tc, y, [1.0, np.inf])


def test_gradient_flow_refuses_non_psd_ntk():
    with pytest.raises(InvalidInputError, match=r"not PSD: smallest eigenvalue -1\.000e\+00"):
        gradient_flow(np.array([[1.0, 2.0], [2.0, 1.0]]), None, np.ones(2), 1.0)


def flow_map(theta, tc, time, rate):
    """The linear map f_0 -> f_t on (train, test) outputs for y = 0, by integrating the ODE
    column by column (f_t is affine in f_0; its covariance is P J P^T)."""
    n, m = theta.shape[0], tc.shape[0]
    op = np.vstack([theta, tc])

    def rhs(_, state):
        p = state.reshape(n + m, n + m)
        return (-rate * op @ p[:n]).ravel()

    sol = solve_ivp(rhs, (0.0, time), np.eye(n + m).ravel(), method="DOP853", rtol=1e-12,
                    atol=1e-13)
    return sol.y[:, -1].reshape(n + m, n + m)


@pytest.mark.parametrize("diagonal", [False, True])
def test_ntk_gp_covariance_matches_ode_flow_of_the_prior(diagonal):
    n, m = 5, 3
    theta, tc, _, rng = joint_kernel(6, n, m, ridge=0.3)
    k, kc, kt, _ = joint_kernel(7, n, m, ridge=0.1)
    joint = np.block([[k, kc.T], [kc, kt]])
    y = rng.standard_normal(n)
    out = gradient_flow(theta, tc, y, [0.4, 40.0, np.inf], learning_rate=1.5, nngp_train=k,
                        nngp_cross=kc, nngp_test=np.diag(kt) if diagonal else kt)
    # the ensemble mean does not depend on the NNGP blocks
    np.testing.assert_array_equal(out.test, gradient_flow(theta, tc, y, [0.4, 40.0, np.inf],
                                                          learning_rate=1.5).test)
    for i, time in enumerate([0.4, 40.0]):                  # 40 * 1.5 * lambda_min >> 1
        p = flow_map(theta, tc, time, 1.5)
        cov = (p @ joint @ p.T)[n:, n:]
        np.testing.assert_allclose(out.variance[i], np.diag(cov), rtol=0, atol=1e-9)
        if not diagonal:
            np.testing.assert_allclose(out.covariance[i], cov, rtol=0, atol=1e-9)
    np.testing.assert_allclose(out.variance[2], out.variance[1], rtol=0, atol=1e-9)
    assert (out.covariance is None) == diagonal


@pytest.mark.parametrize("kwargs, match", [
    ({"t": -1.0}, "t must be"),
    ({"t": np.nan}, "t must be"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"loss": "l2"}, "loss"),
    ({"f0_train": np.ones(3)}, "together"),
    ({"nngp_train": np.eye(3)}, "all of"),
    ({"nngp_train": np.eye(3), "nngp_cross": np.ones((2, 3)), "nngp_test": np.ones(2),
          "f0_train": 0.0, "f0_test": 0.0}, "not both"),
    ({"ntk_cross": np.ones((2, 4))}, "3 columns"),
])
def test_gradient_flow_bad_input(kwargs, match):
    args = {"ntk_train": np.eye(3), "ntk_cross": np.ones((2, 3)), "y_train": np.ones(3), "t": 1.0}
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        gradient_flow(**args)
