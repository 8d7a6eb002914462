"""Every closed-form kernel evaluates at rho = +-1 by substitution (no 0/0 left by terms in
1/sqrt(1 - rho^2)), to the value the definition gives there: sigma_hat(1) = E[sigma(Z)^2],
sigma_hat(-1) = E[sigma(Z) sigma(-Z)], and kappa(1) = 1."""
import mpmath
import pytest
import sympy as sp

import symkernel as sk

CLOSED = ["relu", "abs", "erf", "gelu", "sin", "exp", "step", "max(x,0)**2",
          "max(x,0)**3", "abs(x)**3", "x*abs(x)", "max(x,0)*x", "x*erf(x)",
          # shifted: simplify once left sqrt(-1/(rho^2 - 1)) sqrt(1 - rho^2) (nan at the ends;
          # kappa(1) of relu + 1/2 came out 0.65 and the float64 NNGP diagonal NaN)
          "max(x,0) + 1/2", "abs(x) - 1", "2*max(x,0) + 3", "erf(x) + 1/3", "x*(1 + erf(x/sqrt(2)))/2 - 1/5"]


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
    assert float(sk.kernel_map(act)(1, dps=20)) == 1.0
    import numpy as np
    ends = sk.dual_kernel(act).numpy(np.array([1.0, -1.0]))      # the float64 twin at the ends
    assert np.allclose(ends, [float(plus), float(minus)], rtol=1e-12, atol=1e-14), (act, ends)


def test_shifted_relu_network_kernels_are_finite_and_agree_with_the_mpmath_path():
    """The two-variance closed form of relu + 1/2 (sk.nn) had the same nan at rho = 1: a NaN
    NNGP diagonal in float64 and a ZeroDivisionError at dps=30."""
    import numpy as np
    net = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("max(x,0) + 1/2"), sk.nn.Dense(1.0, 0.0))
    x = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 2.0]])
    k = net.kernel(x)
    ref = net.kernel(x, dps=30)
    for got, want in ((k.nngp, ref.nngp), (k.ntk, ref.ntk)):
        assert np.all(np.isfinite(got))
        assert np.allclose(got, np.array(want, dtype=float), rtol=1e-12)
    # the diagonal by its definition: sigma_w2 E[(relu(sqrt(q) Z) + 1/2)^2] + sigma_b2, q = 2|x|^2/2 + 0.1
    q = 2.0 * (x * x).sum(1) / 2 + 0.1
    e2 = q / 2 + np.sqrt(q / (2 * np.pi)) + 0.25
    assert np.allclose(np.diag(k.nngp), 1.0 * e2, rtol=1e-12)


def test_numeric_fallback_takes_the_limit_from_inside_the_interval():
    """Where substitution gives nan, the numeric evaluation of a closed form takes the limit
    toward the inside of [-1, 1]: SymPy's default direction approached rho = 1 from outside,
    where sqrt(1 - rho^2) is imaginary, and turned sqrt(-1/(rho^2 - 1)) sqrt(1 - rho^2) into -1."""
    from symkernel.kernels.precision import closed_result
    rho = sk.rho
    clean = rho * sp.asin(rho) / (2 * sp.pi) + sp.sqrt(2) / (4 * sp.sqrt(sp.pi)) + sp.sqrt(1 - rho**2) / (2 * sp.pi)
    odd_form = clean - sp.sqrt(2) / (4 * sp.sqrt(sp.pi)) \
        + sp.sqrt(2) * sp.sqrt(-1 / (rho**2 - 1)) * sp.sqrt(1 - rho**2) / (4 * sp.sqrt(sp.pi))
    for end in (1, -1):
        got = closed_result(odd_form, lambda wp, e=end: mpmath.mpf(e), 25).value
        want = sp.N(clean.subs(rho, end), 40)
        with mpmath.workdps(40):
            assert abs(got - mpmath.mpf(want)) < mpmath.mpf(10) ** -24, (end, got, want)
