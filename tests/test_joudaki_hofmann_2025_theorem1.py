"""Theorem 1 of Joudaki & Hofmann (AISTATS 2025), the claim beside the rates: rho* is the only
fixed point in (-1, 1), and the only other possible fixed points, -1 and 1, repel.  Checked on a
grid of kappa(rho) - rho (float64 twin of the kernel map) against the certified / exact rho* of
symkernel.kernel_dynamics, one activation per case."""
import numpy as np
import pytest

import symkernel as sk


@pytest.mark.parametrize("name,case", [("tanh", 1), ("sigmoid", 2), ("exp", 3), ("gelu", 4)])
def test_other_fixed_points_are_only_plus_minus_one_and_repel(name, case):
    dyn = sk.kernel_dynamics(name)
    assert dyn.case == case
    star = float(dyn.fixed_point.value(17))
    r = np.linspace(-1, 1, 4000)[1:-1]                 # an even count: 0 is not a node
    f = dyn.kmap.numpy(r) - r
    changes = r[np.flatnonzero(np.sign(f[1:]) != np.sign(f[:-1]))]
    if star < 1:                                       # one sign change, at rho*
        assert changes.size == 1 and abs(changes[0] - star) < 2 / 3999
    else:                                              # kappa > id on (-1, 1): rho* = 1 only
        assert changes.size == 0 and np.all(f > 0)
    ends = np.array([-1.0, 1.0])
    fixed = np.abs(dyn.kmap.numpy(ends) - ends) < 1e-12
    slope = dyn.kmap.derivative().numpy(ends)
    for end, is_fixed, s in zip(ends, fixed, slope):
        if is_fixed and end != star:
            assert s > 1, (name, end, s)               # kappa'(+-1) > 1: it repels
