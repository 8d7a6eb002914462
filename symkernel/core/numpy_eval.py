"""Float64 NumPy evaluation of SymPy expressions: the one ``lambdify`` module table and the one
vectorizer of a piecewise activation.

Every float64 path of the package (``Activation.numpy``, the float kernels, the mean-field
moments, the simulators, the SDE laws) lambdifies through :func:`numpy_lambdify`, so a function
known to one of them (``erf``, ``erfc``, ``erfi``, SciPy's special functions) is known to all.

>>> import numpy as np, sympy as sp
>>> from symkernel.core.symbols import x
>>> from symkernel.core.pieces import split
>>> f = piecewise_numpy(split(sp.Max(x, 0) + sp.erfi(x)))
>>> np.round(f(np.array([-1.0, 0.0, 1.0])), 6)
array([-1.650426,  0.      ,  2.650426])
"""
import numpy as np
import sympy as sp

from .symbols import x

def numpy_modules():
    """The ``modules`` table of :func:`sympy.lambdify` for float64: SciPy's ``erf, erfc, erfi``
    (NumPy has none of them), SciPy's special-function printer, then NumPy."""
    from scipy import special

    return [{"erf": special.erf, "erfc": special.erfc, "erfi": special.erfi}, "scipy", "numpy"]


def numpy_lambdify(args, expr):
    """``sympy.lambdify(args, expr)`` with :func:`numpy_modules` (vectorized float64)."""
    return sp.lambdify(args, expr, modules=numpy_modules())


def torch_modules():
    """The ``modules`` table of :func:`sympy.lambdify` for torch tensors (autograd through every
    operation): the names that the SciPy/NumPy printer writes, bound to torch functions (torch is
    optional: imported here).  A name it lacks (``erfi``, ...) stays NumPy's, which refuses a
    tensor that requires grad."""
    import functools

    import torch

    def select(conds, values, default=float("nan")):
        out = None
        for cond, val in reversed(list(zip(conds, values))):
            if isinstance(cond, (bool, np.bool_)):
                out = torch.as_tensor(val, dtype=torch.float64) if cond else out
                continue
            v = torch.as_tensor(val, dtype=torch.float64)
            out = torch.where(cond, v, torch.as_tensor(default, dtype=torch.float64) if out is None else out)
        return out

    def as_t(fn):
        return lambda *v: fn(*(torch.as_tensor(u, dtype=torch.float64) for u in v))

    table = {name: as_t(getattr(torch, tname)) for name, tname in [
        ("sin", "sin"), ("cos", "cos"), ("tan", "tan"), ("arcsin", "asin"), ("arccos", "acos"),
        ("arctan", "atan"), ("arctan2", "atan2"), ("sinh", "sinh"), ("cosh", "cosh"), ("tanh", "tanh"),
        ("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh"), ("exp", "exp"), ("log", "log"),
        ("log1p", "log1p"), ("expm1", "expm1"), ("sqrt", "sqrt"), ("abs", "abs"), ("sign", "sign"),
        ("erf", "erf"), ("erfc", "erfc"), ("maximum", "maximum"), ("minimum", "minimum"),
        ("less", "lt"), ("less_equal", "le"), ("greater", "gt"), ("greater_equal", "ge"),
        ("equal", "eq"), ("not_equal", "ne"), ("logical_and", "logical_and"),
        ("logical_or", "logical_or"), ("logical_not", "logical_not"), ("sinc", "sinc")]}
    table.update(select=select, reduce=functools.reduce, pi=float(np.pi), e=float(np.e),
                 nan=float("nan"), inf=float("inf"))
    return [table, "scipy", "numpy"]


def torch_lambdify(args, expr, cse=False):
    """``sympy.lambdify(args, expr)`` evaluating in torch (float64 tensors, autograd): the same
    printed code as :func:`numpy_lambdify`, with :func:`torch_modules`."""
    return sp.lambdify(args, expr, modules=torch_modules(), cse=cse)


def piecewise_numpy(pieces, var=None):
    """A vectorized float64 function of the piecewise expression given by ``pieces``
    (:class:`~symkernel.core.pieces.Piece` s with numeric breakpoints, in order): each smooth
    piece lambdified once, the piece of every point found by ``searchsorted`` (a point on a
    breakpoint takes the piece to its right).  Overflow and invalid operations give ``inf``/``nan``
    silently (an activation may overflow where the Gaussian weight makes it irrelevant)."""
    var = x if var is None else var
    funcs = [numpy_lambdify(var, p.expr) for p in pieces]
    edges = [float(p.lo) for p in pieces[1:]]

    def f(values):
        arr = np.asarray(values, dtype=float)
        out = np.empty_like(arr)
        index = np.searchsorted(edges, arr, side="right") if edges else np.zeros(arr.shape, int)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for i, fn in enumerate(funcs):
                mask = index == i
                if mask.any():
                    out[mask] = np.broadcast_to(fn(arr[mask]), arr[mask].shape)
        return out

    return f


__all__ = ["numpy_modules", "numpy_lambdify", "piecewise_numpy", "torch_lambdify", "torch_modules"]
