"""symkernel: symbolic-numeric mean-field theory of deep networks."""
from .activations import Activation, activation, known_activations
from .errors import (InvalidInputError, NoClosedFormError, NotSquareIntegrableError, PrecisionError,
                     SymbolicValueError, SymkernelError, UnknownActivationError)
from .symbols import alpha, k, rho, x

__version__ = "0.1.0"
from .expectations import expectation, second_moment
from .hermite import hermite_coefficient, hermite_coefficients
from .quantity import Quantity
from .strength import isometry_strength
from .gram import isometry, isometry_gap  # noqa: E402  (replaces the name of the isometry module)
from .simulate import simulate_mlp  # noqa: E402
from . import gram, validate  # noqa: E402
from . import sde  # noqa: E402  (seed 002: infinite-depth ResNet limits)
from .kernels import Kernel, derivative_kernel, dual_kernel, kernel_map, mean_reduced_dual
from .meanfield import MeanField, mean_field, depth_scales, edge_of_chaos, critical_curve
from .dynamics import KernelDynamics, kernel_dynamics, normalized_kernel_map, residual_kernel_map
from . import latex, tables  # noqa: E402  (LaTeX export, paper tables)
from . import plotting as plot  # noqa: E402  (sk.plot.cobweb, ...; matplotlib is imported lazily)
from .tables import Table, paper_tables  # noqa: E402
from .papers import seed000  # noqa: E402  (Table S.1 of seed 000)
