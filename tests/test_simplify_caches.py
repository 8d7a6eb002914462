"""SymPy work kept per expression (simplify of beta, the weak derivative's stable form, the kernel
path's provenance): the same exact answers, checked against quadrature written here."""
import mpmath
import sympy as sp

import symkernel as sk
from symkernel.core.activations import as_activation
from symkernel.kernels.closed_forms import weak_derivative


def test_beta_of_max_2_x_against_quadrature():
    """beta = 2 - c_1^2/(E sigma^2 - c_0^2) for sigma = max(2, x): the closed form, asked twice
    (the second time from the cache: the same expression), against mpmath.quad split at x = 2."""
    q = sk.isometry_strength("max(2, x)")
    again = sk.isometry_strength("max(2, x)")
    assert q.exact and again.expr == q.expr
    with mpmath.workdps(40):
        phi = lambda t: mpmath.exp(-t * t / 2) / mpmath.sqrt(2 * mpmath.pi)    # noqa: E731
        sigma = lambda t: mpmath.mpf(2) if t < 2 else t                         # noqa: E731

        def moment(f):
            return mpmath.quad(lambda t: f(t) * phi(t), [-mpmath.inf, 2, mpmath.inf])
        c0, c1, m2 = moment(sigma), moment(lambda t: sigma(t) * t), moment(lambda t: sigma(t) ** 2)
        beta = 2 - c1**2 / (m2 - c0**2)
        assert abs(q.value(30) - beta) < mpmath.mpf(10) ** -29 * beta
        assert abs(q.value(30) - (2 - c1**2 / (m2 - c0**2 * (1 + mpmath.mpf(10) ** -8)))) > 1e-12


def test_weak_derivative_of_a_new_activation_is_the_same_and_right():
    first, _ = weak_derivative(as_activation("tanh"))
    second, _ = weak_derivative(as_activation("tanh"))       # a new Activation: served per expression
    assert first.expr == second.expr
    f = sp.lambdify(sk.x, first.expr, "mpmath")
    with mpmath.workdps(30):
        for t in (-2.5, -0.3, 0.7, 3):
            assert abs(f(mpmath.mpf(t)) - mpmath.diff(mpmath.tanh, mpmath.mpf(t))) < mpmath.mpf(10) ** -25


def test_kernel_provenance_is_the_same_for_a_new_kernel():
    a = sk.kernel_map("tanh").derivative()
    b = sk.kernel_map("tanh").derivative()
    assert a.provenance == b.provenance and a.provenance.split(":")[0] in ("exact", "certified", "estimated")
    assert sk.kernel_map("relu").provenance.startswith("exact")
