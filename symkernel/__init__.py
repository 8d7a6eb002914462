"""symkernel: symbolic-numeric mean-field theory of deep networks.

The pipeline: activation -> Gaussian expectations (exact engine, numeric engine) -> Hermite
coefficients and kernels -> dynamics (kernel maps, isometry, mean field, SDE limits) ->
presentation (LaTeX, tables, plots, CLI); finite-width simulations check every prediction.

>>> import symkernel as sk
>>> sk.isometry_strength("relu").expr
(-4 + 3*pi)/(2*(-1 + pi))
"""
import warnings

from symkernel import meanfield, sde, validate
from symkernel.coefficients.hermite import hermite_coefficient, hermite_coefficients
from symkernel.coefficients.strength import isometry_strength
from symkernel.core.activations import Activation, activation, known_activations
from symkernel.core.quantity import Quantity
from symkernel.core.symbols import alpha, k, rho, x
from symkernel.errors import (
    InvalidInputError, NoClosedFormError, NotSquareIntegrableError, PrecisionError,
    SymbolicValueError, SymkernelError, UnknownActivationError,
)
from symkernel.gaussian.expectation import expectation, second_moment
from symkernel.kernels import Kernel, derivative_kernel, dual_kernel, kernel_map, mean_reduced_dual
from symkernel.papers import joudaki_hofmann_2025, paper_tables
from symkernel.present import latex, tables  # importing present registers the displays
from symkernel.present import plotting as plot
from symkernel.present.tables import Table
from symkernel.simulate import simulate_mlp
from symkernel.theory import gram
from symkernel.theory.dynamics import (
    KernelDynamics, kernel_dynamics, normalized_kernel_map, residual_kernel_map,
)
from symkernel.theory.gram import isometry, isometry_gap
from symkernel.theory.meanfield import MeanField, critical_curve, depth_scales, edge_of_chaos, mean_field

__version__ = "0.1.0"

__all__ = [
    # symbols
    "x", "rho", "alpha", "k",
    # activations, expectations, Hermite coefficients, isometry strength
    "Activation", "activation", "known_activations", "expectation", "second_moment",
    "hermite_coefficient", "hermite_coefficients", "isometry_strength", "Quantity",
    # kernels and dynamics (Joudaki & Hofmann, AISTATS 2025)
    "Kernel", "dual_kernel", "mean_reduced_dual", "kernel_map", "derivative_kernel",
    "KernelDynamics", "kernel_dynamics", "residual_kernel_map", "normalized_kernel_map",
    # isometry of Gram matrices, simulation, validation (Joudaki, Daneshmand & Bach, NeurIPS 2023)
    "isometry", "isometry_gap", "gram", "simulate_mlp", "validate",
    # mean field (Pabari & Zhou), SDE limits (Hayou, TMLR 2023)
    "MeanField", "mean_field", "depth_scales", "edge_of_chaos", "critical_curve", "meanfield", "sde",
    # presentation
    "latex", "tables", "Table", "paper_tables", "plot", "joudaki_hofmann_2025",
    # errors
    "SymkernelError", "InvalidInputError", "UnknownActivationError", "NotSquareIntegrableError",
    "NoClosedFormError", "PrecisionError", "SymbolicValueError",
]


#: old public names kept for one release (the papers were once numbered)
_RENAMED = {"seed000": "joudaki_hofmann_2025"}


def __getattr__(name):
    """An old name (``sk.seed000``, now ``sk.joudaki_hofmann_2025``) still works, with a warning."""
    if name in _RENAMED:
        warnings.warn(f"symkernel.{name} is renamed symkernel.{_RENAMED[name]}; the old name "
                      "goes away in the next release", DeprecationWarning, stacklevel=2)
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module 'symkernel' has no attribute {name!r}")
