"""Every closed-form kernel evaluates at rho = +-1 by substitution (no 0/0 left by terms in
1/sqrt(1 - rho^2)), to the value the definition gives there: sigma_hat(1) = E[sigma(Z)^2],
sigma_hat(-1) = E[sigma(Z) sigma(-Z)], and kappa(1) = 1."""
import mpmath
import pytest
import sympy as sp

import symkernel as sk

CLOSED = ["relu", "abs", "erf", "gelu", "sin", "exp", "step", "max(x,0)**2",
          "max(x,0)**3", "abs(x)**3", "x*abs(x)", "max(x,0)*x", "x*erf(x)"]


def _ends(act):
    """E[sigma(Z)^2] and E[sigma(Z) sigma(-Z)] by mpmath quadrature (a path of its own)."""
    f = sp.lambdify(sk.x, sk.activation(act).expr, "mpmath")
    with mpmath.workdps(30):
        w = lambda z: mpmath.npdf(z)
        plus = mpmath.quad(lambda z: f(z) ** 2 * w(z), [-mpmath.inf, 0, mpmath.inf])
        minus = mpmath.quad(lambda z: f(z) * f(-z) * w(z), [-mpmath.inf, 0, mpmath.inf])
    return plus, minus


@pytest.mark.parametrize("act", CLOSED)
def test_closed_forms_are_finite_and_right_at_the_ends(act):
    dual = sk.dual_kernel(act)
    assert dual.expr is not None, act
    plus, minus = _ends(act)
    for end, expected in ((1, plus), (-1, minus)):
        value = dual.expr.subs(sk.rho, end)
        assert value.is_finite, (act, end, value)
        with mpmath.workdps(30):
            got = mpmath.mpf(sp.N(value, 30))
            assert abs(got - expected) <= mpmath.mpf(10) ** -20 * max(1, abs(expected)), (act, end)
    kappa = sk.kernel_map(act).expr
    assert sp.simplify(kappa.subs(sk.rho, 1) - 1) == 0
