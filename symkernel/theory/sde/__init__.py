"""Infinite-depth limits of finite-width ResNets (Hayou, TMLR 2023): the theory.

``ito`` (diffusions, generator, Itô's lemma, the ResNet limit SDE), ``laws`` (closed-form laws of
width-1 networks and the inverse activation problem), ``width`` (dynamics of ``log‖φ(X)‖`` in
general width, growth factor), ``special`` (erfi⁻¹), ``meanfield_limit`` (the two sequential
limits, Thms 2–3), ``rate`` (Prop. 1's rate), ``collapse`` (Lemma 2, Prop. 10), ``correlation``
(two inputs, Prop. 5 and Eq. 5).  The finite-depth ResNets that check it are in
:mod:`symkernel.simulate.resnet`, the checks in :mod:`symkernel.validate.resnet`; ``sk.sde`` gathers
all three.

>>> import symkernel as sk
>>> sk.sde.norm_dynamics("relu").drift
(k - 2)/(2*n)
"""

from .ito import Diffusion, Ito, VectorDiffusion, invert, resnet_sde, state_symbols
from .laws import (
    InverseSolution, Law, check_locally_lipschitz, gaussian_moments, ou_activation, relu_mixture,
    solve_activation, solve_law, width1_law,
)
from .collapse import feller_collapse_probability, lemma2_conditions, piecewise_linear_growth
from .correlation import CorrelationDynamics, correlation_dynamics
from .meanfield_limit import (
    MeanFieldLimit, linear_coordinate_cdf, linear_kurtosis, linear_log_norm_moments,
    meanfield_limit, variance_rate, width1_second_moment,
)
from .rate import ks_edgeworth, strong_error_constant
from .special import erfiinv
from .width import NormDynamics, growth_factor, norm_dynamics, norm_law, sign_change

__all__ = [
    "Diffusion",
    "Ito",
    "VectorDiffusion",
    "invert",
    "resnet_sde",
    "state_symbols",
    "InverseSolution",
    "Law",
    "check_locally_lipschitz",
    "gaussian_moments",
    "ou_activation",
    "relu_mixture",
    "solve_activation",
    "solve_law",
    "width1_law",
    "erfiinv",
    "NormDynamics",
    "growth_factor",
    "norm_dynamics",
    "norm_law",
    "sign_change",
    "feller_collapse_probability",
    "lemma2_conditions",
    "piecewise_linear_growth",
    "CorrelationDynamics",
    "correlation_dynamics",
    "MeanFieldLimit",
    "linear_coordinate_cdf",
    "linear_kurtosis",
    "linear_log_norm_moments",
    "meanfield_limit",
    "variance_rate",
    "width1_second_moment",
    "ks_edgeworth",
    "strong_error_constant",
]
