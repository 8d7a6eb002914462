"""The numerics core: scoped working precision, the one acceptance rule, Arb enclosures.

Every numeric value in symkernel is obtained through this package: :mod:`.precision` chooses and
scopes the working precision (thread-safe, never leaving mpmath or python-flint changed) and
judges convergence; :mod:`.arb` computes proven enclosures with Arb ball arithmetic.
"""
from .precision import (
    GUARD, MAX_DPS, Result, agree, as_result, check_dps, converge, locked, meets, mpf_to_rational,
    round_to, serialized, serialized_class, settle, working,
)

__all__ = ["GUARD", "MAX_DPS", "Result", "agree", "as_result", "check_dps", "converge", "locked",
           "meets", "mpf_to_rational", "round_to", "serialized", "serialized_class", "settle", "working"]
