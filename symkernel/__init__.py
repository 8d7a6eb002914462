"""symkernel: symbolic-numeric mean-field theory of deep networks."""
from .activations import Activation, activation, known_activations
from .errors import (InvalidInputError, NoClosedFormError, NotSquareIntegrableError, PrecisionError,
                     SymbolicValueError, SymkernelError, UnknownActivationError)
from .symbols import alpha, k, rho, x

__version__ = "0.1.0"
from .expectations import expectation, second_moment
from .hermite import hermite_coefficient, hermite_coefficients
from .quantity import Quantity
from .isometry import isometry_strength
