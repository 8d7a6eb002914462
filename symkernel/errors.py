"""Exception types of symkernel.  Every error the package raises on bad input is one of these."""


class SymkernelError(Exception):
    """Base class of all symkernel errors."""


class InvalidInputError(SymkernelError, ValueError):
    """An argument is malformed: bad k, bad gain, rho outside [-1, 1], a non-PSD matrix, ..."""


class UnknownActivationError(InvalidInputError, KeyError):
    """A string that names no registry entry and that the restricted parser rejects."""

    def __str__(self):  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotSquareIntegrableError(InvalidInputError):
    """E[sigma(Z)^2] is infinite (or sigma is singular on the real line)."""


class NoClosedFormError(SymkernelError):
    """The exact engine has no closed form for this quantity (the numeric engine may)."""


class PrecisionError(SymkernelError, ArithmeticError):
    """The requested number of correct digits could not be established."""


class SymbolicValueError(SymkernelError, TypeError):
    """A numeric value was requested for an expression that still has free symbols."""
