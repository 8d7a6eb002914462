"""Finite-width gradient descent (symkernel.simulate.training) and the toy data set
(symkernel.nn.data): parameter gradients against central finite differences of the loss, and
trained networks against the infinite-width NTK gradient flow (symkernel.nn.gradient_flow)."""
import numpy as np
import pytest

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.nn.data import angle, target, toy_regression
from symkernel.simulate.backends import backend
from symkernel.simulate.networks import empirical_kernels
from symkernel.simulate.training import dense_parameters, parameter_gradients, train_mse


def deep(act, depth=3):
    sw2 = 2.0 if act == "relu" else 1.5
    return sk.nn.serial(sk.nn.repeat(sk.nn.serial(sk.nn.Dense(sw2, 0.05), sk.nn.Activation(act)), depth),
                        sk.nn.Dense(1.0, 0.05))


# ---------------------------------------------------------------------------- data

def test_toy_regression_is_seeded_and_on_the_circle():
    a = toy_regression(n=2000, n_test=30, noise=0.1, seed=3)
    b = toy_regression(n=2000, n_test=30, noise=0.1, seed=3)
    c = toy_regression(n=2000, n_test=30, noise=0.1, seed=4)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    x_train, y_train, x_test, y_test = a
    assert x_train.dtype == y_train.dtype == np.float64
    np.testing.assert_allclose((x_train ** 2).sum(1) / 2, 1.0, rtol=1e-15)
    np.testing.assert_allclose(y_test, target(angle(x_test)), atol=1e-14)
    resid = y_train - target(angle(x_train))
    assert abs(resid.std() / 0.1 - 1) < 0.1          # 2000 draws: the std's relative se is 1.6%
    assert abs(resid.mean()) < 4 * 0.1 / np.sqrt(2000)


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(n_test=1.5), dict(noise=-1.0), dict(seed=-2),
                                    dict(noise="x")])
def test_toy_regression_refuses_bad_input(kwargs):
    with pytest.raises(InvalidInputError):
        toy_regression(**kwargs)


# ---------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_parameter_gradients_match_finite_differences(act):
    net = sk.nn.serial(sk.nn.Dense(1.5, 0.1), sk.nn.Activation(act),
                       sk.nn.Residual(sk.nn.Dense(1.0, 0.1), sk.nn.Activation("tanh"),
                                      sk.nn.Dense(1.0, 0.2), weight=0.5),
                       sk.nn.Dense(1.5, 0.1))
    be = backend("numpy", "float64", 3)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    params, _ = net.init_params(be, 3, 7, d_out=2)

    def loss():
        return 0.5 * ((net.forward_params(params, x, be)[0] - y) ** 2).sum()

    f, _ = net.forward_params(params, x, be)
    grads = parameter_gradients(net, params, x, f - y, be)
    dense = dense_parameters(net, params)
    assert len(grads) == len(dense) == 4
    h, worst = 1e-6, 0.0
    for p, (dw, db) in zip(dense, grads):
        for key, g in (("W", dw), ("b", db)):
            a = p[key]
            assert g.shape == a.shape
            for i in range(a.size):
                idx = np.unravel_index(i, a.shape)
                old = a[idx]
                a[idx] = old + h
                lp = loss()
                a[idx] = old - h
                lm = loss()
                a[idx] = old
                worst = max(worst, abs((lp - lm) / (2 * h) - g[idx]))
    assert worst < 1e-7          # central differences: O(h^2) truncation + O(eps/h) round-off


# ---------------------------------------------------------------------------- against the NTK

@pytest.fixture(scope="module")
def data():
    x_train, y_train, x_test, _ = toy_regression(n=12, n_test=8, seed=1)
    return x_train, y_train, x_test


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_gradient_descent_follows_the_linearized_flow(act, data):
    """At small step and width 128, the trained outputs follow the linear ODE with the network's
    own NTK at initialisation (Lee et al., NeurIPS 2019): the gap is a small fraction of the
    distance the outputs moved."""
    x_train, y_train, x_test = data
    net = deep(act)
    n, X = len(x_train), np.vstack([x_train, x_test])
    lam = np.linalg.eigvalsh(net.kernel(x_train).ntk)[-1]
    lr, steps = 0.05 / lam, 40
    for seed in (0, 1):
        run = train_mse(net, x_train, y_train, 128, steps, lr, seed, x_test=x_test)
        emp = empirical_kernels(net, X, width=128, seeds=[seed]).ntk   # same init, channel 0
        flow = sk.nn.gradient_flow(emp[:n, :n], emp[n:, :n], y_train, run.steps, learning_rate=lr,
                                   f0_train=run.train[0], f0_test=run.test[0])
        moved = np.abs(run.test[-1] - run.test[0]).max()
        gap = max(np.abs(flow.test[-1] - run.test[-1]).max(), np.abs(flow.train[-1] - run.train[-1]).max())
        assert moved > 0.2
        assert gap < 0.1 * moved
        assert run.loss[-1] < run.loss[0]


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_mean_over_seeds_tracks_ntk_gradient_flow(act, data):
    """The mean over initialisations of the trained network is the infinite-width gradient-flow
    mean (f_0 = 0) at t = learning_rate * steps, to the seeds' spread; at step 0 it is ~0."""
    x_train, y_train, x_test = data
    net = deep(act)
    n = len(x_train)
    k = net.kernel(np.vstack([x_train, x_test]))
    lam = np.linalg.eigvalsh(k.ntk[:n, :n])[-1]
    lr, steps = 0.05 / lam, 40
    runs = [train_mse(net, x_train, y_train, 128, steps, lr, s, x_test=x_test) for s in range(6)]
    out = np.array([r.test for r in runs])                   # (seeds, 2 times, n_test)
    mean, se = out.mean(0), out.std(0, ddof=1) / np.sqrt(len(runs))
    flow = sk.nn.gradient_flow(k.ntk[:n, :n], k.ntk[n:, :n], y_train, runs[0].steps, learning_rate=lr)
    np.testing.assert_array_equal(runs[0].time, [0.0, lr * steps])
    assert np.all(np.abs(mean - flow.test) < 4 * se)
    assert np.abs(flow.test[-1]).max() > 0.2                 # the flow moved: the check has teeth


def test_train_mse_refuses_bad_input_and_divergence(data):
    x_train, y_train, _ = data
    net = deep("tanh", 1)
    with pytest.raises(InvalidInputError):
        train_mse(net, x_train, y_train[:3], 8, 1, 0.1, 0)
    with pytest.raises(InvalidInputError):
        train_mse(net, x_train, y_train, 8, 1, -0.1, 0)
    with pytest.raises(InvalidInputError):
        train_mse(net, x_train, y_train, 8, 5, 0.1, 0, record=[7])
    with pytest.raises(InvalidInputError, match="diverged"):
        train_mse(net, x_train, y_train, 8, 2000, 50.0, 0)
