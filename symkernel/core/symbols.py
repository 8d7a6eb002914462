"""The canonical SymPy symbols of symkernel.

``x`` is the activation's argument, ``rho`` a correlation in [-1, 1], ``alpha`` a (positive) gain
and ``k`` a Hermite index (a nonnegative integer).

>>> import symkernel as sk
>>> sk.alpha.is_positive, sk.k.is_integer, sk.k.is_nonnegative
(True, True, True)
"""
import sympy as sp

x = sp.Symbol("x", real=True)
rho = sp.Symbol("rho", real=True)
alpha = sp.Symbol("alpha", positive=True)
k = sp.Symbol("k", integer=True, nonnegative=True)
t = sp.Symbol("t", nonnegative=True)
n = sp.Symbol("n", integer=True, positive=True)
ell = sp.Symbol("ell", integer=True, nonnegative=True)
