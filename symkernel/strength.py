r"""Isometry strength ``beta_sigma`` (seed 001, Definition 3).

.. math:: \beta_\sigma = 2 - \frac{c_1^2}{\sum_{k \ge 1} c_k^2} = 2 - \frac{c_1^2}{E[\sigma^2] - c_0^2}
          \in [1, 2],

equal to 1 exactly for affine sigma.  Exact whenever ``c_0``, ``c_1`` and ``E sigma^2`` are (also
with a symbolic gain); numeric to the requested digits otherwise.

>>> import symkernel as sk
>>> sk.isometry_strength("relu").expr
(-4 + 3*pi)/(2*(-1 + pi))
>>> sk.isometry_strength("exp", gain=sk.alpha).expr
-(alpha**2 - 2*exp(alpha**2) + 2)/(exp(alpha**2) - 1)
"""
import mpmath
import sympy as sp

from .activations import Activation, activation
from .errors import InvalidInputError
from .expectations import EXACT_PROVENANCE, check_square_integrable, pieces_map, quantity_of_pieces
from .hermite import hermite_coefficient
from .quantity import Quantity


def _beta_form(expr):
    """A compact form of beta: simplify, then prefer the form with fewer operations."""
    if sp.count_ops(expr) >= 200:
        return expr
    candidates = [sp.simplify(expr), sp.factor(sp.together(expr))]
    return min(candidates, key=sp.count_ops)


def isometry_strength(act, gain=1, **params):
    r"""``beta_sigma`` of an activation as a :class:`~symkernel.Quantity` (see module docstring)."""
    act = act if isinstance(act, Activation) else activation(act, gain=gain, **params)
    if isinstance(act, Activation) and gain != 1 and act.gain == 1:
        act = activation(act, gain=gain)
    check_square_integrable(act)
    c0 = hermite_coefficient(act, 0)
    c1 = hermite_coefficient(act, 1)
    m2 = quantity_of_pieces(pieces_map(act, lambda e: e**2), r"\mathbb{E}[\sigma^2]")
    params = (("sigma", act.expr),)
    if c0.exact and c1.exact and m2.exact:
        variance = sp.expand(m2.expr - c0.expr**2)
        if variance == 0 or (variance.is_number and sp.N(variance, 50) == 0):
            raise InvalidInputError(f"beta is undefined for the constant activation {act.expr}")
        beta = _beta_form(2 - c1.expr**2 / variance)
        return Quantity(beta, r"\beta_{\sigma}", EXACT_PROVENANCE, params=params)

    def numeric(dps):
        work = dps + 10
        for _ in range(4):
            v0, v1, v2 = c0.value(work), c1.value(work), m2.value(work)
            with mpmath.workdps(work + 5):
                variance = v2 - v0**2
                if variance <= 0:
                    raise InvalidInputError(f"beta is undefined for the constant activation {act.expr}")
                loss = mpmath.log10(v2 / variance)  # digits lost to cancellation in E s^2 - c0^2
                if work - loss >= dps + 5:
                    with mpmath.workdps(dps):
                        return +(2 - v1**2 / variance)
            work += int(loss) + 10
        raise InvalidInputError("E[sigma^2] - c_0^2 cancels too badly to evaluate beta")

    return Quantity(None, r"\beta_{\sigma}", "numeric: c_0, c_1, E sigma^2 by mpmath quadrature",
                    numeric, params)
