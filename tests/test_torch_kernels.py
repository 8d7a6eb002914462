"""Differentiable kernels: torch tensors through Kernel.numpy and net.kernel, gradients by autograd
checked against central finite differences of the float64 path (an independent evaluation: NumPy,
and for closed forms the angle recursion of symkernel.nn.angles)."""
import numpy as np
import pytest

import symkernel as sk
from symkernel.errors import InvalidInputError

torch = pytest.importorskip("torch")

X = np.random.default_rng(3).standard_normal((3, 4))


def _net(act, sw2, sb2):
    return sk.nn.serial(sk.nn.Dense(sw2, sb2), sk.nn.Activation(act), sk.nn.Dense(sw2, sb2),
                        sk.nn.Activation(act), sk.nn.Dense(1.0, 0.0))


def _central(f, v, h):
    return (f(v + h) - f(v - h)) / (2 * h)


@pytest.mark.parametrize("act", ["relu", "erf", "tanh"])
def test_gradients_in_the_variances_equal_finite_differences_of_the_float64_path(act):
    sw2 = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    sb2 = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    k = _net(act, sw2, sb2).kernel(X)
    assert isinstance(k.nngp, torch.Tensor) and isinstance(k.ntk, torch.Tensor)
    plain = _net(act, 1.5, 0.1).kernel(X)              # float64 path: the same values
    np.testing.assert_allclose(k.nngp.detach().numpy(), plain.nngp, rtol=1e-12)
    np.testing.assert_allclose(k.ntk.detach().numpy(), plain.ntk, rtol=1e-12)
    weights = np.random.default_rng(1).standard_normal((2,) + plain.nngp.shape)
    loss = (k.nngp * torch.as_tensor(weights[0])).sum() + (k.ntk * torch.as_tensor(weights[1])).sum()
    g_w, g_b = torch.autograd.grad(loss, (sw2, sb2))

    def value(w, b):
        kk = _net(act, w, b).kernel(X)
        return float((kk.nngp * weights[0]).sum() + (kk.ntk * weights[1]).sum())
    fd_w = _central(lambda v: value(v, 0.1), 1.5, 1e-5)
    fd_b = _central(lambda v: value(1.5, v), 0.1, 1e-5)
    # central differences: truncation ~h^2 and rounding ~eps/h, both < 1e-9 relative here
    assert float(g_w) == pytest.approx(fd_w, rel=1e-7)
    assert float(g_b) == pytest.approx(fd_b, rel=1e-7)
    assert abs(float(g_w) - fd_w) < 0.01 * abs(fd_w) < abs(0.9 * float(g_w) - fd_w)   # can fail


def test_gradient_in_the_inputs_equals_finite_differences():
    x = torch.tensor(X, requires_grad=True)
    net = _net("relu", 2.0, 0.05)
    k = net.kernel(x, torch.tensor(X[:2]))
    (g,) = torch.autograd.grad(k.ntk.sum(), x)
    for i, j in [(0, 1), (2, 3)]:
        def value(v):
            y = X.copy()
            y[i, j] = v
            return float(net.kernel(y, X[:2]).ntk.sum())
        assert float(g[i, j]) == pytest.approx(_central(value, X[i, j], 1e-6), rel=1e-6)


@pytest.mark.parametrize("act", ["relu", "erf", "tanh"])
def test_kernel_map_accepts_a_tensor_and_differentiates(act):
    kmap = sk.kernel_map(act)
    r = np.array([-0.7, 0.1, 0.5, 0.95])
    t = torch.tensor(r, requires_grad=True)
    y = kmap.numpy(t)
    np.testing.assert_allclose(y.detach().numpy(), kmap.numpy(r), rtol=1e-13)
    (g,) = torch.autograd.grad(y.sum(), t)
    np.testing.assert_allclose(g.numpy(), _central(kmap.numpy, r, 1e-6), rtol=1e-7)
    # kmap(tensor) is the same differentiable twin (the example), and agrees with the
    # mpmath value of kmap(number)
    s = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    v = kmap(s)
    assert isinstance(v, torch.Tensor) and v.requires_grad
    assert float(v.detach()) == pytest.approx(float(kmap(0.5, dps=20)), rel=1e-13)
    with pytest.raises(InvalidInputError, match="float64"):
        kmap(s, dps=30)


def test_fit_sigma_w2_by_gradient_descent_recovers_the_target():
    """The docs' example: the NNGP of sigma_w2 = 2 as target, start at 1, fit by L-BFGS."""
    target = _net("relu", 2.0, 0.1).kernel(X).nngp
    sw2 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([sw2], lr=0.5, max_iter=25, tolerance_grad=1e-14, tolerance_change=1e-16)

    def closure():
        opt.zero_grad()
        loss = ((_net("relu", sw2, 0.1).kernel(X).nngp - torch.as_tensor(target)) ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    assert float(sw2.detach()) == pytest.approx(2.0, abs=1e-6)


def test_torch_path_refuses_what_it_cannot_do():
    sw2 = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    with pytest.raises(InvalidInputError, match="torch path"):
        _net("relu", sw2, 0.1).kernel(X, dps=20)
    with pytest.raises(InvalidInputError, match="scalar tensor"):
        sk.nn.Dense(torch.ones(2), 0.1)
    with pytest.raises(InvalidInputError, match="rho must lie"):
        sk.kernel_map("relu").numpy(torch.tensor([1.5]))
