r"""Finite-width networks built from an :mod:`symkernel.nn` description: empirical NNGP and NTK.

At width ``n`` the network of ``sk.nn.serial(...)`` has random parameters (NTK parameterization);
over seeds and output channels,

* the empirical NNGP is the output covariance ``mean_{seeds, channels} f(x_1) f(x_2)``;
* the empirical NTK is ``sum_theta df(x_1)/dtheta df(x_2)/dtheta`` (one output channel), by
  backpropagation in NumPy (each Dense layer contributes ``(g_1 g_2^T) * (P_1 P_2^T)``) or by
  torch autograd (``backend="torch"``);

both converge to :meth:`symkernel.nn.Network.kernel` as ``O(1/sqrt(n))`` (Neal 1996; Lee et al.,
ICLR 2018; Jacot et al., NeurIPS 2018).

>>> import numpy as np, symkernel as sk
>>> from symkernel.simulate.networks import empirical_kernels
>>> net = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("relu"), sk.nn.Dense(2.0, 0.1))
>>> x = np.array([[1.0, 0.0], [0.6, 0.8]])
>>> emp = empirical_kernels(net, x, width=512, seeds=range(4))
>>> bool(np.abs(emp.nngp - net.kernel(x).nngp).max() < 0.2)
True
"""
from dataclasses import dataclass

import numpy as np

from symkernel.errors import InvalidInputError
from symkernel.nn.network import Network
from .backends import NumpyBackend, TorchBackend, check_memory, check_seed

#: widest simulated network
MAX_WIDTH = 1 << 16


@dataclass(frozen=True)
class EmpiricalKernels:
    """Empirical NNGP and NTK (means over seeds) with their standard errors over seeds."""

    nngp: np.ndarray
    ntk: np.ndarray
    nngp_se: np.ndarray
    ntk_se: np.ndarray
    width: int
    seeds: tuple


def _backend(name, seed, dtype):
    if name == "numpy":
        return NumpyBackend(dtype, seed)
    if name == "torch":
        return TorchBackend(dtype, seed)
    raise InvalidInputError(f"backend must be 'numpy' or 'torch', got {name!r}")


def _outputs_and_ntk(net, params, X1, X2, backend, ntk):
    """Outputs f (n, channels) on X1, X2 and the NTK of channel 0 by backpropagation."""
    f1, c1 = net.forward_params(params, backend.asarray(X1), backend)
    f2, c2 = net.forward_params(params, backend.asarray(X2), backend)
    theta = None
    if ntk:
        g1 = f1[:, :1] * 0 + 1
        g2 = f2[:, :1] * 0 + 1
        _, parts1 = net.backward_params(params, c1, _channel0(f1, g1), backend)
        _, parts2 = net.backward_params(params, c2, _channel0(f2, g2), backend)
        theta = sum(backend.gram_pair(p1, p2) * backend.gram_pair(d1, d2)
                    for (p1, d1), (p2, d2) in zip(parts1, parts2))
    return backend.to_numpy(f1), backend.to_numpy(f2), theta


def _channel0(f, ones):
    g = f * 0
    g[:, :1] = ones
    return g


def _torch_ntk(net, params, X1, X2, backend):
    """The NTK of output channel 0 by torch autograd: per-sample gradients, then inner products."""
    torch = backend.torch
    leaves = list(_leaves(params))
    for t in leaves:
        t.requires_grad_(True)

    def grads(X):
        rows = []
        f, _ = net.forward_params(params, backend.asarray(X), backend)
        for i in range(X.shape[0]):
            g = torch.autograd.grad(f[i, 0], leaves, retain_graph=True, allow_unused=True)
            rows.append(torch.cat([(gi if gi is not None else torch.zeros_like(t)).reshape(-1)
                                   for gi, t in zip(g, leaves)]))
        return torch.stack(rows)
    J1, J2 = grads(X1), grads(X2)
    return (J1 @ J2.T).detach().double().cpu().numpy()


def empirical_kernels(net, x1, x2=None, width=256, seeds=range(8), backend="numpy", ntk=True,
                      dtype="float64"):
    """Empirical NNGP and NTK of the finite-width network ``net`` at ``width`` over ``seeds``.

    The last Dense layer has ``width`` output channels (each a sample of the NNGP given the
    features below it), the NTK is that of channel 0.  ``backend="torch"`` takes the NTK by
    autograd instead of the NumPy backpropagation."""
    if not isinstance(net, Network):
        raise InvalidInputError("empirical_kernels needs a network built by sk.nn.serial(...)")
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or not 1 <= width <= MAX_WIDTH:
        raise InvalidInputError(f"width must be an integer in [1, {MAX_WIDTH}], got {width!r}")
    seeds = tuple(check_seed(s) for s in seeds)
    if not seeds:
        raise InvalidInputError("give at least one seed")
    X1 = np.asarray(x1, dtype=float)
    X2 = X1 if x2 is None else np.asarray(x2, dtype=float)
    if X1.ndim != 2 or X2.ndim != 2 or X1.shape[1] != X2.shape[1]:
        raise InvalidInputError("x1 and x2 must be 2-D arrays with the same number of columns")
    check_memory(8 * width * (width + 4 * (X1.shape[0] + X2.shape[0])) * max(len(net), 1),
                 "the simulated network")
    nngps, ntks = [], []
    for s in seeds:
        be = _backend(backend, s, dtype)
        be.gram_pair = _gram_pair(be)
        params, _ = net.init_params(be, X1.shape[1], width)
        if backend == "torch":
            f1, f2, _ = _outputs_and_ntk(net, params, X1, X2, be, False)
            theta = _torch_ntk(net, params, X1, X2, be) if ntk else None
        else:
            f1, f2, theta = _outputs_and_ntk(net, params, X1, X2, be, ntk)
        nngps.append(f1.astype(float) @ f2.astype(float).T / f1.shape[1])
        if ntk:
            ntks.append(np.asarray(theta, dtype=float))
    nn_ = np.array(nngps)
    nt = np.array(ntks) if ntk else None

    def se(a):
        return a.std(axis=0, ddof=1) / np.sqrt(a.shape[0]) if a.shape[0] > 1 else np.full(a.shape[1:], np.inf)
    return EmpiricalKernels(nn_.mean(0), None if nt is None else nt.mean(0), se(nn_),
                            None if nt is None else se(nt), int(width), seeds)


def _leaves(params):
    """The parameter tensors of a (nested: residual blocks) parameter list, in order."""
    for p in params:
        if isinstance(p, dict):
            yield from p.values()
        else:
            yield from _leaves(p)


def _gram_pair(backend):
    def gram_pair(a, b):
        return np.asarray(backend.to_numpy(a @ b.T), dtype=float)
    return gram_pair


__all__ = ["EmpiricalKernels", "MAX_WIDTH", "empirical_kernels"]
