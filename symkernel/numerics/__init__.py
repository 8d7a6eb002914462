"""The numerics core: scoped working precision, the one acceptance rule, Arb enclosures.

Every numeric value in symkernel is obtained through this package: :mod:`.precision` chooses and
scopes the working precision (thread-safe, never leaving mpmath or python-flint changed) and
judges convergence; :mod:`.arb` computes proven enclosures with Arb ball arithmetic;
:mod:`.rationals` turns numbers into exact rationals (typed: as the decimal; computed: bit for bit).
"""
from .precision import (
    GUARD, MAX_DPS, Result, agree, as_result, check_dps, converge, locked, meets,
    names_asked_dps, round_to, serialized, serialized_class, settle, working,
)
from .rationals import binary_value, decimal_value

__all__ = ["GUARD", "MAX_DPS", "Result", "agree", "as_result", "binary_value", "check_dps", "converge",
           "decimal_value", "locked", "meets", "names_asked_dps", "round_to", "serialized", "serialized_class", "settle", "working"]
