"""The one-precision paths of Theorem 1, case 4 (issue 11.5, "speed a person feels").

``KernelDynamics`` solves rho* (no closed-form kernel) by secant steps from the float64 root at one
working precision plus a sign-change bracket, and kappa'(rho*) by Richardson-extrapolated central
differences of kappa at that precision.  Each is checked against a path sharing none of its
code: rho* against the package's two-precision agreement path (``_root_by_agreement``) and
against a root of the normalized kernel map written here (2-D Gauss-Hermite quadrature, numpy +
a bisection); kappa'(rho*) against the derivative kernel (a different dual kernel, through the
weak derivative of the activation) and against a float64 quadrature of E[sigma'(X) sigma'(Y)].
"""
import mpmath
import numpy as np
import pytest

import symkernel as sk

_DYN = {}


def _dyn(name):
    if name not in _DYN:
        _DYN[name] = sk.kernel_dynamics(name)
    return _DYN[name]


def _gauss_hermite_kernel(sigma, n=160):
    """kappa(rho) = E[sigma(X) sigma(Y)]/E[sigma(X)^2] and kappa'(rho) = E[sigma'(X) sigma'(Y)]/E[sigma^2]
    by an n x n Gauss-Hermite rule (written here; float64)."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / np.sqrt(2 * np.pi)
    Z1, Z2 = np.meshgrid(z, z, indexing="ij")
    W = np.outer(w, w)
    norm = np.sum(w * sigma(z) ** 2)

    def kappa(r):
        return np.sum(W * sigma(Z1) * sigma(r * Z1 + np.sqrt(1 - r * r) * Z2)) / norm

    def kappa_prime(r, h=1e-4):     # Mehler: kappa'(r) = E[sigma'(X) sigma'(Y)]/E sigma^2
        d = lambda u: (sigma(u + h) - sigma(u - h)) / (2 * h)
        return np.sum(W * d(Z1) * d(r * Z1 + np.sqrt(1 - r * r) * Z2)) / norm
    return kappa, kappa_prime


def _bisect_root(f, a, b, steps=80):
    fa = f(a)
    for _ in range(steps):
        m = 0.5 * (a + b)
        if (f(m) > 0) == (fa > 0):
            a, fa = m, f(m)
        else:
            b = m
    return 0.5 * (a + b)


SIGMAS = {"tanh(x+0.3)": lambda u: np.tanh(u + 0.3),
          "swish": lambda u: u / (1 + np.exp(-u))}


@pytest.mark.parametrize("name", sorted(SIGMAS))
def test_rho_star_and_slope_against_quadrature_written_here(name):
    dyn = _dyn(name)
    assert dyn.case == 4 and dyn.fixed_point.kind == "estimated"
    kappa, kappa_prime = _gauss_hermite_kernel(SIGMAS[name])
    ref = _bisect_root(lambda r: kappa(r) - r, 0.05, 0.95)
    fp = dyn.fixed_point.result(15)
    assert "secant steps" in fp.method           # the one-precision path was taken
    assert abs(float(fp.value) - ref) <= 1e-12 * ref
    slope = float(dyn.kappa_prime_star.value(15))
    assert slope == pytest.approx(kappa_prime(ref), rel=1e-7)   # h = 1e-4 differences of sigma
    a = max(1 - float(dyn.kappa_0.value(15)), slope, (1 - ref) / (2 - slope))
    assert float(dyn.rate.value(15)) == pytest.approx(a, rel=1e-7)
    # a deliberately wrong root (kappa(rho) = rho solved for the unnormalized dual) is rejected
    assert abs(float(fp.value) - ref) < 1e-3 * abs(ref - _bisect_root(
        lambda r: kappa(r) * 0.9 - r, 0.0, 0.95))


def test_one_precision_root_against_two_precision_agreement_and_derivative_kernel():
    """tanh(x+0.3) at 25 digits: the secant-bracket root equals the converge() root, and the
    Richardson kappa'(rho*) equals the derivative kernel at rho*, to 22 digits."""
    dyn = _dyn("tanh(x+0.3)")
    fast = dyn.fixed_point.result(25)
    slow = dyn._root_by_agreement(25)
    with mpmath.workdps(40):
        assert abs(fast.value - slow.value) <= abs(slow.value) * mpmath.mpf(10) ** -22
        assert fast.error <= abs(fast.value) * mpmath.mpf(10) ** -26
    r = dyn.fixed_point.value(30)
    diff = dyn._slope_by_differences(r, 25)
    ref = dyn.kmap.derivative()(r, dps=25)
    with mpmath.workdps(40):
        assert abs(diff.value - ref) <= abs(ref) * mpmath.mpf(10) ** -22
        assert diff.error <= abs(ref) * mpmath.mpf(10) ** -26


def test_asked_digits_widen_a_deeper_root():
    """rho* is solved once for 8 more digits (served to the rate and kappa'(rho*), which ask
    rho* at dps + 3 and dps + 8); a request for fewer digits gets the interval asked for."""
    dyn = _dyn("tanh(x+0.3)")
    r15, r20 = dyn.fixed_point.result(15), dyn.fixed_point.result(20)
    r40 = dyn.fixed_point.result(40)
    with mpmath.workdps(60):
        assert r15.value == r20.value                       # one solve serves both
        assert r15.error >= abs(r15.value) * mpmath.mpf(10) ** -18
        assert r20.error < r15.error
        assert abs(r40.value - r15.value) <= r15.error      # the deeper root lies in the interval
        assert abs(r40.value - r20.value) <= r20.error
