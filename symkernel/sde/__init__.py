"""Infinite-depth limits of finite-width ResNets (seed 002; MATH.md §6).

``ito`` (diffusions, generator, Itô's lemma, the ResNet limit SDE), ``laws`` (closed-form laws of
width-1 networks and the inverse activation problem), ``width`` (dynamics of ``log‖φ(X)‖`` in
general width, growth factor), ``simulate`` (finite-depth ResNets, Euler–Maruyama) and ``checks``
(theory against simulation, with figures).

>>> import symkernel as sk
>>> sk.sde.norm_dynamics("relu").drift
(k - 2)/(2*n)
"""

from .ito import Diffusion, Ito, VectorDiffusion, invert, resnet_sde, state_symbols
from .laws import (
    InverseSolution,
    Law,
    check_locally_lipschitz,
    gaussian_moments,
    ou_activation,
    relu_mixture,
    solve_activation,
    solve_law,
    width1_law,
)
from .simulate import ResNetRun, euler_maruyama, euler_maruyama_limit, simulate_resnet
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
    "ResNetRun",
    "euler_maruyama",
    "euler_maruyama_limit",
    "simulate_resnet",
    "erfiinv",
    "NormDynamics",
    "growth_factor",
    "norm_dynamics",
    "norm_law",
    "sign_change",
]
