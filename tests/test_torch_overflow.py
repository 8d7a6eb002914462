"""The torch path at variances where the activation's float64 form overflows (issue 14): softplus
``log(1 + e^u)`` is inf beyond ``u ~ 709`` while its value is ``u``.  The torch Mehler series
used to set those nodes to 0, silently (the NumPy path's ``F`` at q = 1e7 once came out 1153 for
3.04e6 that way); they now take the NumPy path's mpmath values, and the gradient ``f'(u)``.

Reference written here: ``softplus = relu + d``, ``d(u) = log(1 + e^{-|u|})`` decaying, so
``E sp(aX) = a/sqrt(2 pi) + int d N(u; a^2)``, ``E sp(aX)^2 = a^2/2 + int (2 relu d + d^2) N``,
``E sigmoid(aX)^2 = 1/2 + int (sigmoid^2 - H) N`` (Gauss-Legendre on ``|u| <= 40``, split at 0)."""
import math

import numpy as np
import pytest

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.nn.pair import _gl_nodes, pair_kernel

torch = pytest.importorskip("torch")
from scipy.special import expit  # noqa: E402

Q = 1e7
_U, _W = _gl_nodes(np.arange(-40.0, 40.5, 0.5), per_panel=20)


def _ref(a):
    """``(E sp(aX), E sp(aX)^2, E sigmoid(aX)^2)``."""
    N = _W * np.exp(-(_U / a) ** 2 / 2) / (a * math.sqrt(2 * math.pi))
    d = np.log1p(np.exp(-np.abs(_U)))
    relu = np.maximum(_U, 0.0)
    s = expit(_U)
    return (a / math.sqrt(2 * math.pi) + N @ d, a * a / 2 + N @ (2 * relu * d + d * d),
            0.5 + N @ (s * s - (_U > 0)))


def _inputs():
    """Three inputs with |x|^2/d = 1 (so q = sigma_w2): two orthogonal, one at 60 degrees."""
    return np.array([[1.0, 1.0], [1.0, -1.0], [math.sqrt(2) * math.cos(0.3), math.sqrt(2) * math.sin(0.3)]])


def _net(sw2):
    return sk.nn.serial(sk.nn.Dense(sw2, 0.0), sk.nn.Activation("softplus"), sk.nn.Dense(1.0, 0.0))


@pytest.fixture(scope="module")
def torch_kernel():
    """``(sigma_w2 tensor, Kernels)`` of the softplus network on :func:`_inputs` at q = 1e7."""
    sw2 = torch.tensor(Q, dtype=torch.float64, requires_grad=True)
    return sw2, _net(sw2).kernel(torch.tensor(_inputs()))


def test_torch_kernel_at_q_1e7_against_numpy_path_and_reference(torch_kernel):
    X = _inputs()
    _, k = torch_kernel
    K, T = k.nngp.detach().numpy(), k.ntk.detach().numpy()
    plain = _net(Q).kernel(X, fused=False)
    assert np.max(np.abs(K - plain.nngp) / plain.nngp) <= 1e-13
    assert np.max(np.abs(T - plain.ntk) / plain.ntk) <= 1e-13
    mean, m2, ds2 = _ref(math.sqrt(Q))
    for i in range(3):               # an input with itself: E sp^2, and q E sigmoid^2 + E sp^2
        assert abs(K[i, i] - m2) <= 1e-13 * m2 and abs(T[i, i] - (m2 + Q * ds2)) <= 1e-13 * T[i, i]
    assert abs(K[0, 1] - mean * mean) <= 1e-13 * m2         # orthogonal inputs: rho = 0
    # the old zeroing of overflowing nodes, on the same nodes: rejected by the reference
    m = pair_kernel("softplus")._mehler
    t, _, _, wg = m.shared_nodes(m.levels(Q))
    with np.errstate(over="ignore"):
        vals = np.log1p(np.exp(math.sqrt(Q) * t))
    vals[~np.isfinite(vals)] = 0.0
    assert abs(vals * vals @ wg - m2) > 0.5 * m2


def test_gradient_at_q_1e7_equals_finite_differences_and_no_second_derivative(torch_kernel):
    """The gradient in sigma_w2 against central differences of the NumPy path; a second
    derivative (create_graph=True) would miss f'' at the overflowing nodes: a package error."""
    X = _inputs()
    sw2, k = torch_kernel
    weights = np.random.default_rng(2).standard_normal((2, 3, 3))
    loss = (k.nngp * torch.as_tensor(weights[0])).sum() + (k.ntk * torch.as_tensor(weights[1])).sum()
    (g,) = torch.autograd.grad(loss, sw2, retain_graph=True)

    def value(v):
        kk = _net(v).kernel(X, fused=False)
        return float((kk.nngp * weights[0]).sum() + (kk.ntk * weights[1]).sum())
    h = Q * 1e-4
    fd = (value(Q + h) - value(Q - h)) / (2 * h)
    # truncation ~ (h/Q)^2 times the scale of the third derivative, rounding ~ eps |value| / h
    # ~ 1e-12 relative here (measured 8e-13)
    assert abs(float(g) - fd) <= 1e-9 * abs(fd)
    assert abs((1 + 1e-6) * float(g) - fd) > 1e-9 * abs(fd)
    with pytest.raises(InvalidInputError, match="second derivatives"):
        torch.autograd.grad(k.nngp.sum(), sw2, create_graph=True)


def test_far_transition_on_the_torch_path():
    """tanh(x - 100) at q = 1e6, 1e7 (a transition graded toward at u0 / sqrt(q), nodes per
    variance, docs/theory.md §27): the torch coefficients equal the NumPy path's, and their
    gradient in q equals central differences of the NumPy path."""
    import sympy as sp
    from symkernel.nn.pair import _Mehler

    m = _Mehler(sk.activation(sp.tanh(sk.x - 100)))
    q = np.array([1e6, 1e7])
    qt = torch.tensor(q, dtype=torch.float64, requires_grad=True)
    A, m2 = m.torch_coefficients(qt)
    An, m2n = m.coefficients(q)
    assert np.max(np.abs(A.detach().numpy() - An)) <= 1e-14 and np.allclose(m2.detach().numpy(), m2n, 1e-14, 0)
    w = np.random.default_rng(6).standard_normal(An.shape[1]) / np.arange(1, An.shape[1] + 1)
    (g,) = torch.autograd.grad((A @ torch.as_tensor(w)).sum() + m2.sum(), qt)
    for i, qi in enumerate(q):
        h = qi * 1e-4
        up, down = (m.coefficients(np.array([qi + s * h])) for s in (1, -1))
        fd = ((up[0] - down[0]) @ w + up[1] - down[1])[0] / (2 * h)
        assert abs(float(g[i]) - fd) <= 1e-7 * abs(fd) < abs(1.001 * float(g[i]) - fd)
