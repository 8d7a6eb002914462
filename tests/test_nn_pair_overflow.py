"""No silent overflow on the float64 NumPy path of the pair kernels (symkernel.nn.pair).

sin's closed form was generated as ``(e^{2ab rho} - 1) e^{-(a^2+b^2)/2 - ab rho}/2``: ``e^{2ab rho}``
overflows for variances above ~700 while ``E[sin u sin v] = e^{-(q_1+q_2)/2} sinh c`` is tiny, and
the product was inf * 0 = NaN.  The float forms now merge the exponentials
(:func:`symkernel.kernels.closed_forms.exp_combined`, every exponent <= 0 here), and a value that
float64 cannot hold raises an error naming the variance.  References: the formulas written out
in mpmath at 40 digits (sin, cos), and the mpmath evaluation of each registry closed form.
"""
import mpmath
import numpy as np
import pytest

import symkernel as sk
from symkernel.core.activations import REGISTRY
from symkernel.errors import InvalidInputError
from symkernel.nn.pair import pair_kernel

from _pair_helpers import assert_matches_closed_form, sin_cos_exact

EPS = np.finfo(float).eps


@pytest.mark.parametrize("name", ["sin", "cos"])
@pytest.mark.parametrize("q", [1e3, 1e5])
def test_sin_and_cos_at_large_variances_against_the_formula_in_mpmath(name, q):
    """Finite, and each entry within 8 eps (1 + |exponent|) of its value relative to itself (the
    condition number of e^x is |x|); entries below float64's smallest normal may underflow."""
    pk = pair_kernel(name)
    q1 = np.array([q, q, q, 1.01 * q, 0.5 * q])[:, None]
    q2 = np.array([q, 0.999 * q, 1.3 * q])[None, :]
    rho = np.array([-1.0, -0.3, 0.0, 0.5, 0.9999, 1.0])
    for r in rho:
        c = r * np.sqrt(q1 * q2)
        F, D, _ = pk.float_step(q1, q2, c)
        assert np.isfinite(F).all() and np.isfinite(D).all()
        for i in range(q1.shape[0]):
            for j in range(q2.shape[1]):
                want = sin_cos_exact(name, q1[i, 0], q2[0, j], c[i, j])
                exponent = (q1[i, 0] + q2[0, j]) / 2 + abs(c[i, j])
                for got, w in zip((F[i, j], D[i, j]), want):
                    if abs(w) < np.finfo(float).tiny:
                        assert abs(got) <= 2 * np.finfo(float).tiny
                    else:
                        assert abs(got - w) <= 8 * EPS * (1 + exponent) * abs(w), (r, i, j, got, w)


def test_a_deep_sin_network_at_large_variances_is_finite():
    """Dense(1e4, 0) -> sin -> Dense: variances ~1e4 after the first layer.  The NumPy path and the
    default (fused loops hand s^2 q > 700 to the NumPy path) give finite kernels that agree with the
    closed form of one layer written out."""
    x = np.random.default_rng(3).standard_normal((4, 5))
    net = sk.nn.serial(sk.nn.Dense(1e4, 0.0), sk.nn.Activation("sin"), sk.nn.Dense(1.0, 0.0))
    d = x.shape[1]
    for k in (net.kernel(x, fused=False), net.kernel(x)):
        assert np.isfinite(k.nngp).all() and np.isfinite(k.ntk).all()
        for i in range(4):
            for j in range(4):
                q1, q2, c = (1e4 * float(x[i] @ x[i]) / d, 1e4 * float(x[j] @ x[j]) / d, 1e4 * float(x[i] @ x[j]) / d)
                F, D = sin_cos_exact("sin", q1, q2, c)
                # the input covariance is rounded (relative eps) before e^c amplifies it by |c|
                tol = 16 * EPS * (1 + (q1 + q2) / 2 + abs(c))
                assert abs(k.nngp[i, j] - F) <= tol * abs(F) + 1e-300
                assert abs(k.ntk[i, j] - (F + c * D)) <= tol * abs(F + c * D) + 1e-300


def test_a_kernel_float64_cannot_hold_raises_an_error_naming_the_variance():
    """exp's kernel e^{(q1+q2)/2 + c} is genuinely above float64's range at q = 800: an error, not inf."""
    pk = pair_kernel("exp")
    q = np.array([[800.0]])
    with pytest.raises(InvalidInputError, match="q1 = 800"):
        pk.float_step(q, q, q)
    net = sk.nn.serial(sk.nn.Dense(800.0, 0.0), sk.nn.Activation("exp"))
    with pytest.raises(InvalidInputError, match="variances"):
        net.kernel(np.ones((2, 3)), fused=False)


CLOSED = [n for n in REGISTRY if n not in ("hardtanh", "relu6", "hard_sigmoid", "gelu_tanh", "elu", "celu", "selu",
                                           "softplus", "sigmoid", "tanh", "silu", "mish", "softsign", "arctan")]


@pytest.mark.parametrize("name", CLOSED)
def test_every_registry_closed_form_at_large_variances_is_right_or_an_error(name):
    """Property over the registry activations with closed forms (the list is checked to be all of
    them): at variances 1e3 .. 2e7, either every entry is finite and within 16 eps (1 + sqrt(q_max))
    of the closed form evaluated in mpmath at 40 digits, relative to the Cauchy-Schwarz scale
    sqrt(F(q1, q1, q1) F(q2, q2, q2)) (the rounding of rho moves F by |dF/drho| eps, and
    |dF/drho| <= sqrt(q1 q2) sqrt(D11 D22)) -- or, only where a true value exceeds float64's range
    (exp), an InvalidInputError naming a variance; never NaN."""
    pk = pair_kernel(name)
    assert pk.exact_nngp is not None
    ntk = pk.derivative is not None
    fF, fD, _ = pk._mp_exact
    for q1, q2 in ((1e3, 1e3), (1e5, 1e5), (1e5, 1e3), (1e7, 2e7)):
        Q1, Q2 = np.array([[q1]]), np.array([[q2]])
        rhos = np.array([[-1.0, -0.7, 0.0, 0.3, 0.999, 1.0]])
        try:
            F, D, _ = pk.float_step(Q1, Q2, rhos * np.sqrt(q1 * q2), ntk=ntk)
        except InvalidInputError as err:     # allowed only where a true value is beyond float64
            assert "variances" in str(err) and f"{q1:.6g}" in str(err)
            with mpmath.workdps(40):
                sa, sb = mpmath.sqrt(q1), mpmath.sqrt(q2)
                values = [f(sa, sb, mpmath.mpf(r)) for f in (fF, fD if ntk else fF) for r in rhos[0]]
            assert max(abs(v) for v in values) > np.finfo(float).max, (q1, q2)
            continue
        assert_matches_closed_form(pk, q1, q2, rhos[0], F, D, 16 * EPS * (1 + np.sqrt(max(q1, q2))))


def test_the_closed_form_list_is_the_registry_s():
    """CLOSED above is every registry activation with a closed-form NNGP (no activation missed)."""
    assert sorted(n for n in REGISTRY if pair_kernel(n).exact_nngp is not None) == sorted(CLOSED)


@pytest.mark.parametrize("name", ["erf", "gelu"])
def test_asin_near_one_loses_no_digits_at_large_variances(name):
    """At rho = +-1 exactly (c = +-q, equal variances: no rounding of rho) and variances 1e5, 1e7,
    F and D within 8 eps of the scale sqrt(F11 F22) (resp. sqrt(D11 D22)) of the closed form in
    mpmath.  The generated asin(u), u -> 1 - 1/(2q), lost eps/sqrt(1 - u^2) ~ sqrt(q) eps in the
    rounding of u (3.4e-13 for erf at 1e7); float_form's atan2(u sqrt(d), sqrt(n)) does not."""
    pk = pair_kernel(name)
    fF, fD, _ = pk._mp_exact
    for q in (1e5, 1e7):
        Q = np.array([[q]])
        for sign in (1.0, -1.0):
            F, D, _ = pk.float_step(Q, Q, sign * Q)
            with mpmath.workdps(40):
                s = mpmath.sqrt(q)
                for got, f in ((F[0, 0], fF), (D[0, 0], fD)):
                    assert abs(got - f(s, s, mpmath.mpf(sign))) <= 8 * EPS * abs(f(s, s, 1)), (q, sign)


def test_float_form_keeps_polynomials_that_would_cancel():
    """rho^6 written in u = 1 - rho^2 would be (1 - u)^3, which cancels at small rho: He_6's kernel
    (a polynomial in rho with terms of both signs in u) is left as it is; GELU's root argument
    a^2 b^2 (1 - rho^2) + a^2 + b^2 + 1 (one sign) is rewritten."""
    from symkernel.kernels.closed_forms import float_form
    pk = pair_kernel(sk.activation("he", n=6))
    assert float_form(pk.exact_nngp) == pk.exact_nngp
    assert "(1 - rho)*(rho + 1)" in str(float_form(pair_kernel("gelu").exact_nngp))
