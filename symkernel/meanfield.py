"""``sk.meanfield``: mean-field signal propagation (Pabari & Zhou; Poole et al. 2016; Schoenholz
et al. 2017) — the length and correlation maps, depth scales, edge of chaos, CNN modes and the
input–output Jacobian — gathered from :mod:`symkernel.theory.meanfield`, with the finite-width
Jacobian of :mod:`symkernel.simulate.jacobian`.

>>> import symkernel as sk
>>> sk.meanfield.mean_field("relu", 2, 0).chi_1.expr
1
>>> sk.meanfield.zero_fixed_point("gelu").stable      # q = 0 repels lengths at sigma_w2 = 4
False
"""
from symkernel.simulate.cnn import simulate_cnn
from symkernel.simulate.jacobian import simulate_jacobian
from symkernel.theory.meanfield import *  # noqa: F403  (its public names, listed in its __all__)
from symkernel.theory.meanfield import __all__ as _theory_names
from symkernel.theory.meanfield.cnn_map import (cnn_fixed_point, cnn_map, cnn_mode_rates,
                                                cnn_trajectory)
from symkernel.theory.meanfield.spectrum import (
    derivative_square_moments, jacobian_spectrum_density, jacobian_spectrum_moments,
    normalized_second_moment,
)
from symkernel.theory.meanfield.zero_bias import ZeroFixedPoint, zero_fixed_point

__all__ = [*_theory_names, "simulate_jacobian", "derivative_square_moments",
           "jacobian_spectrum_density", "jacobian_spectrum_moments", "normalized_second_moment"]
__all__ += ["simulate_cnn", "cnn_map", "cnn_trajectory", "cnn_fixed_point", "cnn_mode_rates"]
__all__ += ["zero_fixed_point", "ZeroFixedPoint"]
