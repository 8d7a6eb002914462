"""Array back ends of the simulator: NumPy (always) and PyTorch (optional, imported lazily).

Both expose the same few operations on 2-d arrays (rows are samples), so the network code in
:mod:`symkernel.simulate.mlp` is written once.  The random streams differ between back ends:
compare them through seed-independent statistics, never sample by sample.
"""
import os

import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError
from symkernel.core.symbols import x

_DTYPES = {"float32": "float32", "float64": "float64", np.float32: "float32", np.float64: "float64"}
#: seeds are integers in [0, 2**63): both NumPy's SeedSequence and torch's manual_seed take them
MAX_SEED = 2**63 - 1


def check_seed(seed, sequence=False):
    """The seed as an int (or, with ``sequence=True``, also a list of such ints: NumPy's
    SeedSequence entropy), or an InvalidInputError that says which seeds are allowed."""
    if sequence and isinstance(seed, (list, tuple)) and seed:
        return [check_seed(s) for s in seed]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        allowed = " (or a list of them)" if sequence else ""
        raise InvalidInputError(f"seed must be an integer in 0..2**63 - 1{allowed}, got {seed!r}")
    return int(seed)


def physical_memory():
    """Bytes of physical memory of this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(nbytes, what):
    """Refuse, before allocating, a simulation whose arrays would need more than half of this
    machine's physical memory (or 64 GiB where that is unknown); ``what`` names the sizes."""
    total = physical_memory()
    limit = total // 2 if total else 64 * 2**30
    if nbytes > limit:
        raise InvalidInputError(f"{what} needs about {nbytes / 2**30:.3g} GiB of memory, more than "
                                f"the {limit / 2**30:.3g} GiB this check allows (half of this "
                                "machine's memory): choose a smaller size")
    return nbytes


def dtype_name(dtype):
    """``'float32'`` or ``'float64'`` from a string, a NumPy dtype or a torch dtype."""
    name = _DTYPES.get(dtype) or _DTYPES.get(str(dtype).replace("torch.", ""))
    if name is None:
        raise InvalidInputError(f"dtype must be float32 or float64, got {dtype!r}")
    return name


class NumpyBackend:
    """NumPy arrays, a ``numpy.random.Generator`` seeded with ``[seed, 1]``."""

    name = "numpy"

    def __init__(self, dtype, seed, device=None):
        if device not in (None, "cpu"):
            raise InvalidInputError("the numpy backend runs on the CPU only (device=None)")
        self.dtype = np.dtype(dtype_name(dtype))
        self.rng = np.random.default_rng([int(seed), 1])

    def asarray(self, a):
        return np.ascontiguousarray(np.asarray(a, dtype=self.dtype))

    def randn(self, *shape):
        return self.rng.standard_normal(shape, dtype=self.dtype)

    def activation(self, act):
        f = act.numpy()
        dtype = self.dtype
        return lambda a: f(a).astype(dtype, copy=False)

    def gram(self, a):
        """``a a^T`` as a float64 NumPy array."""
        return (a @ a.T).astype(np.float64)

    def psd_sqrt(self, K):
        """A square root ``S`` (``S S^T = K``) of a float64 PSD matrix, in the working dtype."""
        lam, U = np.linalg.eigh(K)
        return self.asarray(U * np.sqrt(np.clip(lam, 0.0, None)))

    @staticmethod
    def rsqrt(a):
        """1/sqrt(a), and 0 where a == 0 (an all-zero vector stays zero)."""
        with np.errstate(divide="ignore"):
            return np.where(a > 0, 1.0 / np.sqrt(np.where(a > 0, a, 1.0)), 0.0).astype(a.dtype)

    @staticmethod
    def mean(a, axis):
        return a.mean(axis=axis, keepdims=True)

    @staticmethod
    def to_numpy(a):
        return np.asarray(a)


class TorchBackend:
    """torch tensors on ``device`` (CPU by default), a ``torch.Generator`` seeded with ``seed``."""

    name = "torch"

    def __init__(self, dtype, seed, device=None):
        try:
            import torch
        except ImportError:
            raise InvalidInputError("backend='torch' needs PyTorch (pip install torch==2.13.0)") from None
        self.torch = torch
        self.device = torch.device(device or "cpu")
        self.dtype = getattr(torch, dtype_name(dtype))
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))

    def asarray(self, a):
        return self.torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device).contiguous()

    def randn(self, *shape):
        return self.torch.randn(*shape, generator=self.generator, dtype=self.dtype, device=self.device)

    def activation(self, act):
        return torch_activation(act, self.torch)

    def gram(self, a):
        return (a @ a.T).double().cpu().numpy()

    def psd_sqrt(self, K):
        lam, U = np.linalg.eigh(K)
        return self.asarray(U * np.sqrt(np.clip(lam, 0.0, None)))

    def rsqrt(self, a):
        return self.torch.where(a > 0, self.torch.rsqrt(a.clamp_min(self.torch.finfo(a.dtype).tiny)),
                                self.torch.zeros_like(a))

    @staticmethod
    def mean(a, axis):
        return a.mean(dim=axis, keepdim=True)

    @staticmethod
    def to_numpy(a):
        return a.detach().cpu().numpy()


def torch_activation(act, torch):
    """sigma as a torch function: each smooth piece lambdified with SymPy's torch printer (numeric
    constants evaluated first), pieces joined at the breakpoints with ``torch.bucketize``."""
    if act.free_parameters:
        raise InvalidInputError(f"give the parameters {sorted(map(str, act.free_parameters))} "
                                "numeric values before simulating")
    def constant_safe(fn):
        def g(*args):
            return fn(*[a if isinstance(a, torch.Tensor) else torch.tensor(float(a), dtype=torch.float64)
                        for a in args])
        return g

    names = ("sqrt", "exp", "log", "erf", "erfc", "sin", "cos", "tanh", "atan", "sinh", "cosh")
    overrides = {name: constant_safe(getattr(torch, name)) for name in names}
    overrides["atan"] = constant_safe(torch.atan)
    funcs = [sp.lambdify(x, sp.N(piece.expr, 20), [overrides, "torch"]) for piece in act.pieces]
    edges = [float(p.lo) for p in act.pieces[1:]]

    def f(a):
        outs = [fn(a) for fn in funcs]
        outs = [o if isinstance(o, torch.Tensor) else torch.full_like(a, float(o)) for o in outs]
        if not edges:
            return outs[0]
        index = torch.bucketize(a, torch.tensor(edges, dtype=a.dtype, device=a.device), right=True)
        out = outs[-1]
        for i in range(len(outs) - 2, -1, -1):
            out = torch.where(index == i, outs[i], out)
        return out

    return f


def backend(name, dtype, seed, device=None):
    """The back end object for ``name`` in {'numpy', 'torch'}."""
    seed = check_seed(seed)
    if name == "numpy":
        return NumpyBackend(dtype, seed, device)
    if name == "torch":
        return TorchBackend(dtype, seed, device)
    raise InvalidInputError(f"backend must be 'numpy' or 'torch', got {name!r}")
