r"""Differentiable NNGP and NTK: the network's kernels as torch tensors with autograd.

``net.kernel(x1, x2)`` takes this path when an input is a torch tensor or a ``Dense`` layer was
given a tensor variance (``sk.nn.Dense(torch.tensor(1.5, requires_grad=True), 0.1)``): the same layer
transforms (:mod:`symkernel.nn.layers`) on float64 tensors, the activation steps by the closed forms
lambdified to torch (:func:`symkernel.core.numpy_eval.torch_lambdify`) or by the float64 Mehler
series with its Hermite coefficients computed in torch (so ``a_k(q)`` carries the gradient through
``q``; where the activation's float64 form overflows, its values and first derivative come from
mpmath, and a second derivative raises: docs/theory.md §27), so gradients with respect to the
inputs and the variances come from torch autograd.  It computes in ``rho`` (no error estimates,
and, like neural-tangents, the digits of ``1 - rho`` are lost deep in the ordered phase: the float64
path, :mod:`symkernel.nn.angles`, keeps them); the entries of one input with itself are evaluated
at ``rho = 1`` exactly, so that the infinite slope
of ``asin`` there never reaches a gradient.  torch is optional (imported here, lazily);
docs/theory.md §13.
"""
import numpy as np

from symkernel.errors import InvalidInputError
from .angles import NoAngles
from .layers import State, is_tensor


class TorchEvaluator(NoAngles):
    """The arithmetic of the torch path (see the module docstring); ``same`` marks the entries of
    one input with itself (the diagonal when ``x2`` is omitted)."""

    errors = False
    torch = True

    def __init__(self, same):
        self.same = same

    @staticmethod
    def number(v):
        if not v.is_number:
            raise InvalidInputError(f"{v} is symbolic: give numbers (or tensors) for the torch kernel")
        return float(v)

    @staticmethod
    def tensor(t):
        import torch
        return t.to(torch.float64)

    def step(self, pk, st, ntk, d1, d2):
        F, D = pk.torch_step(st.q1, st.q2, st.nngp, self.same, ntk)
        return F, D, (None, None), (None, None)

    @staticmethod
    def diag(pk, q, ntk):
        return pk.torch_diag(q, ntk)

    @staticmethod
    def sqrt(v):
        import torch
        return torch.sqrt(v)

    @staticmethod
    def outer(u, v):
        return u[:, None] * v[None, :]

    @staticmethod
    def check_positive(v1, v2, name):
        if bool((v1 <= 0).any()) or bool((v2 <= 0).any()):
            raise InvalidInputError(f"{name} of features with zero variance (an input maps to a constant)")



def wants_torch(net, x1, x2):
    """Whether the kernel takes the torch path: a tensor input or a tensor variance."""
    if is_tensor(x1) or is_tensor(x2):
        return True
    return any(getattr(layer, "tensors", None) for layer in layers_of(net))


def layers_of(net):
    """Every layer of ``net``, residual blocks' layers included."""
    for layer in net.flat:
        block = getattr(layer, "block", None)
        if block is not None and hasattr(block, "flat"):
            yield from layers_of(block)
        yield layer


def _tensor(x, name):
    import torch

    t = x if is_tensor(x) else torch.as_tensor(np.asarray(x, dtype=float))
    t = t.to(torch.float64)
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise InvalidInputError(f"{name} must be a nonempty 2-D array (n x d), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise InvalidInputError(f"{name} contains NaN or infinity")
    return t


def torch_kernel(net, x1, x2, ntk):
    """``(nngp, ntk)`` as float64 torch tensors (autograd) of ``net`` on the rows of x1 and x2."""
    import torch

    X1 = _tensor(x1, "x1")
    X2 = X1 if x2 is None else _tensor(x2, "x2")
    if X1.shape[1] != X2.shape[1]:
        raise InvalidInputError(f"x1 has {X1.shape[1]} features and x2 has {X2.shape[1]}")
    d = X1.shape[1]
    K0 = X1 @ X2.T / d
    n1, n2 = (X1 * X1).sum(1) / d, (X2 * X2).sum(1) / d
    same = torch.eye(X1.shape[0], dtype=torch.bool) if x2 is None else \
        torch.zeros(K0.shape, dtype=torch.bool)
    if x2 is None:
        K0 = torch.where(same, n1[:, None].expand_as(K0), K0)
    zeros = torch.zeros_like(K0)
    st = State(K0, zeros if ntk else None, n1, n2, torch.zeros_like(n1) if ntk else None,
               torch.zeros_like(n2) if ntk else None)
    out = net.propagate(st, TorchEvaluator(same))
    return out.nngp, out.ntk


__all__ = ["TorchEvaluator", "layers_of", "torch_kernel", "wants_torch"]
