"""``sk.meanfield``: mean-field signal propagation (Pabari & Zhou; Poole et al. 2016; Schoenholz
et al. 2017) — the length and correlation maps, depth scales, edge of chaos, CNN modes and the
input–output Jacobian — gathered from :mod:`symkernel.theory.meanfield`, with the finite-width
Jacobian of :mod:`symkernel.simulate.jacobian`.

>>> import symkernel as sk
>>> sk.meanfield.mean_field("relu", 2, 0).chi_1.expr
1
"""
from symkernel.simulate.jacobian import simulate_jacobian
from symkernel.theory.meanfield import *  # noqa: F403  (its public names, listed in its __all__)
from symkernel.theory.meanfield import __all__ as _theory_names

__all__ = [*_theory_names, "simulate_jacobian"]
