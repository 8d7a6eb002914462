"""``sk.sde``: infinite-depth limits of finite-width ResNets (Hayou, TMLR 2023), in one namespace.

The theory (:mod:`symkernel.theory.sde`: Itô diffusions, laws of width-1 networks, norm dynamics
in general width), the finite-depth ResNets that check it (:mod:`symkernel.simulate.resnet`) and
the checks of one against the other (:mod:`symkernel.validate.resnet`, also ``sk.sde.checks``).

>>> import symkernel as sk
>>> sk.sde.norm_dynamics("relu").drift
(k - 2)/(2*n)
"""
from symkernel.simulate import resnet as simulate
from symkernel.simulate.resnet import (
    ResNetRun, backprop_norms, euler_maruyama, euler_maruyama_limit, simulate_resnet,
    simulate_resnet_inputs,
)
from symkernel.theory.sde import *  # noqa: F403  (the theory's public names, listed in its __all__)
from symkernel.theory.sde import __all__ as _theory_names
from symkernel.theory.sde import (
    collapse, correlation, ito, laws, rate, special, width,
)
from symkernel.validate import resnet as checks

__all__ = [*_theory_names, "ResNetRun", "euler_maruyama", "euler_maruyama_limit",
           "simulate_resnet", "simulate_resnet_inputs", "backprop_norms", "checks", "ito", "laws",
           "special", "width", "simulate", "collapse", "correlation", "rate"]
