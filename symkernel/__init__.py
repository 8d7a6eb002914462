"""symkernel: symbolic-numeric mean-field theory of deep networks.

The pipeline: activation -> Gaussian expectations (exact engine, numeric engine) -> Hermite
coefficients and kernels -> dynamics (kernel maps, isometry, mean field, SDE limits) ->
presentation (LaTeX, tables, plots, CLI); finite-width simulations check every prediction.

>>> import symkernel as sk
>>> sk.isometry_strength("relu").expr
(-4 + 3*pi)/(2*(-1 + pi))
"""
from . import gram, latex, sde, tables, validate
from . import plotting as plot
from .activations import Activation, activation, known_activations
from .dynamics import KernelDynamics, kernel_dynamics, normalized_kernel_map, residual_kernel_map
from .errors import (InvalidInputError, NoClosedFormError, NotSquareIntegrableError, PrecisionError,
                     SymbolicValueError, SymkernelError, UnknownActivationError)
from .expectations import expectation, second_moment
from .gram import isometry, isometry_gap
from .hermite import hermite_coefficient, hermite_coefficients
from .kernels import Kernel, derivative_kernel, dual_kernel, kernel_map, mean_reduced_dual
from .meanfield import MeanField, critical_curve, depth_scales, edge_of_chaos, mean_field
from .papers import seed000
from .quantity import Quantity
from .simulate import simulate_mlp
from .strength import isometry_strength
from .symbols import alpha, k, rho, x
from .tables import Table, paper_tables

__version__ = "0.1.0"

__all__ = [
    # symbols
    "x", "rho", "alpha", "k",
    # activations, expectations, Hermite coefficients, isometry strength
    "Activation", "activation", "known_activations", "expectation", "second_moment",
    "hermite_coefficient", "hermite_coefficients", "isometry_strength", "Quantity",
    # kernels and dynamics (seed 000)
    "Kernel", "dual_kernel", "mean_reduced_dual", "kernel_map", "derivative_kernel",
    "KernelDynamics", "kernel_dynamics", "residual_kernel_map", "normalized_kernel_map",
    # isometry of Gram matrices, simulation, validation (seed 001)
    "isometry", "isometry_gap", "gram", "simulate_mlp", "validate",
    # mean field (seed 003), SDE limits (seed 002)
    "MeanField", "mean_field", "depth_scales", "edge_of_chaos", "critical_curve", "sde",
    # presentation
    "latex", "tables", "Table", "paper_tables", "plot", "seed000",
    # errors
    "SymkernelError", "InvalidInputError", "UnknownActivationError", "NotSquareIntegrableError",
    "NoClosedFormError", "PrecisionError", "SymbolicValueError",
]
