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


__all__ = ["numpy_modules", "numpy_lambdify", "piecewise_numpy"]
