"""Trustworthy kernel digits: certified inner-form kernels, honest labels, no parity or tiny-value
shortcuts, named constants at full precision, float64 paths near |rho| = 1.

Every value is checked against a path that shares none of its code: the Hermite series
``sum_k c_k^2 rho^k`` with the core's c_k (exact engine or Arb 1-D expectations) and the rigorous
Parseval tail ``(E sigma^2 - sum_{k<K} c_k^2) |rho|^K``, or mpmath quadrature written here.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.numerics import working


def _series(act, r, K, dps, c0=None):
    """(sum_{k<K} c_k^2 r^k, Parseval tail bound) at dps digits from the core's c_k."""
    coeffs = sk.hermite_coefficients(act, K)
    vals = [c.value(dps + 5) for c in coeffs[1:]]
    first = coeffs[0].value(dps + 5) if c0 is None else c0
    m2 = sk.second_moment(act).value(dps + 5)
    with working(dps + 5):
        r = mpmath.mpf(r)
        squares = [first**2] + [c * c for c in vals]
        total = mpmath.fsum(c2 * r**k for k, c2 in enumerate(squares))
        tail = (m2 - mpmath.fsum(squares)) * abs(r) ** K
    return total, abs(tail) + mpmath.mpf(10) ** -(dps + 3)


def _close(a, b, digits):
    return abs(a - b) <= abs(b) * mpmath.mpf(10) ** (-digits)


# ---------------------------------------------------------------- odd up to a constant (regression)
def test_odd_up_to_a_constant_is_not_treated_as_odd():
    """sigma = 1 + softsign is odd only up to 1: sigma_hat(0.3) = 1 + softsign_hat(0.3) = 1.0513...
    (the half-line shortcut used to give 1.536)."""
    act = sk.activation(1 + sk.x / (1 + sp.Abs(sk.x)))
    assert act.parity == "odd" and act.strict_parity is None
    kern = sk.dual_kernel(act)
    ours = kern(0.3, dps=15)
    series, tail = _series(act, 0.3, 32, 16)              # 0.3^32 E sigma^2 < 1e-16
    assert tail < 1e-16
    assert abs(ours - series) < 1e-15 and abs(ours - mpmath.mpf("1.05135273930555")) < 1e-13
    assert kern.provenance.startswith("certified") and kern.result(0.3, dps=15).certified  # Arb softsign + a^2
    # float64: a^2 + tau_hat, both signs of rho (sigma_hat(-rho) != -sigma_hat(rho) here)
    got = kern.numpy(np.array([0.3, -0.3, -0.95, 0.95]))
    soft = sk.dual_kernel("softsign").numpy(np.array([0.3, -0.3, -0.95, 0.95]))
    assert np.max(np.abs(got - (1 + soft))) < 1e-15
    assert abs(got[0] - float(ours)) < 1e-14 and abs(got[1] - (2 - float(ours))) < 1e-14


def test_sigmoid_dual_kernel_at_negative_rho_against_the_series():
    act = sk.activation("sigmoid")
    assert act.strict_parity is None
    ours = sk.dual_kernel(act)(-0.6, dps=20)
    series, tail = _series(act, -0.6, 40, 20)           # analytic: c_k^2 decays geometrically
    assert abs(ours - series) <= tail + mpmath.mpf(10) ** -20


# ---------------------------------------------------------------- tiny values keep their digits
def test_tiny_kernel_values_keep_their_significant_digits():
    shifted = sk.dual_kernel(sk.activation(sp.exp(sk.x - 50)))
    r = mpmath.mpf(0.3)                    # the double 0.3, taken exactly
    with working(40):
        want = mpmath.exp(r - 99)
    got = shifted(r, dps=20)
    assert got != 0 and _close(got, want, 19)
    # no closed form: Hermite series (tanh) and certified Arb (elu) of sigma * e^-60
    tiny_tanh = sk.dual_kernel(sk.activation(sp.tanh(sk.x) * sp.exp(-60)))(0.3, dps=18)
    elu = sk.activation("elu")
    tiny_elu = sk.dual_kernel(sk.activation(elu.expr * sp.exp(-60))).result(0.3, dps=18)
    tanh_03, elu_03 = sk.dual_kernel("tanh")(0.3, dps=20), sk.dual_kernel(elu)(0.3, dps=20)
    with working(30):
        e120 = mpmath.exp(-120)
        assert _close(tiny_tanh, tanh_03 * e120, 17)
        assert tiny_elu.certified and _close(tiny_elu.value, elu_03 * e120, 17)


# ---------------------------------------------------------------- certified inner-form kernels
@pytest.mark.parametrize("name", ["elu", "celu", "selu", "hardtanh"])
def test_inner_form_kernel_maps_are_certified(name):
    kmap = sk.kernel_map(name)
    assert kmap.provenance.startswith("certified")     # builds the plan (inner form, E sigma^2)
    for r in (0.3, -0.7, 1 - 2.0**-40, -0.999999):
        res = kmap.result(r, dps=30)                   # speed: benchmarks/numerics.py
        assert res.certified and res.error <= abs(res.value) * mpmath.mpf(10) ** -32


@pytest.mark.parametrize("name, r", [("hardtanh", "0.3"), ("elu", "-0.2"), ("hardtanh", "-0.25")])
def test_certified_dual_kernel_against_the_exact_hermite_series(name, r):
    act = sk.activation(name)
    res = sk.dual_kernel(act).result(r, dps=30)
    K = 66 if abs(float(r)) > 0.25 else 56
    series, tail = _series(act, r, K, 32)
    assert tail < mpmath.mpf(10) ** -31 * abs(series)
    assert abs(res.value - series) <= res.error + tail + abs(series) * mpmath.mpf(10) ** -31


def test_selu_kernel_map_to_40_digits_named_constants_at_full_precision():
    """SELU's lambda_01, alpha_01 used to enter as 60-bit literals (18 digits)."""
    r = mpmath.mpf("0.240958")            # the binary double nearest 0.240958, taken exactly
    ours = sk.kernel_map("selu")(r, dps=40)
    act = sk.activation("selu")
    # c_0 = E selu(Z) by mpmath quadrature here (SymPy cannot show it is ~0 to 42 digits)
    with working(60):
        consts = {c: mpmath.mpf(sp.N(c.definition, 70)._mpf_) for c in act.expr.atoms(sp.NumberSymbol)}
        f = sp.lambdify(sk.x, act.expr.xreplace({c: sp.Float(v, 70) for c, v in consts.items()}), "mpmath")
        c0 = mpmath.quad(lambda t: f(t) * mpmath.npdf(t), [-mpmath.inf, 0, mpmath.inf])
    series, tail = _series(act, r, 70, 42, c0=c0)
    m2 = sk.second_moment(act).value(45)
    with working(45):
        want = series / m2
        bound = tail / m2 + abs(want) * mpmath.mpf(10) ** -41
    assert abs(ours - want) <= bound


def test_softsign_kernel_map_to_20_digits_against_the_series():
    ours = sk.kernel_map("softsign")(0.11303, dps=20)
    act = sk.activation("softsign")
    series, tail = _series(act, 0.11303, 26, 22)
    m2 = sk.second_moment(act).value(25)
    with working(25):
        assert abs(ours - series / m2) <= (tail / m2) + abs(ours) * mpmath.mpf(10) ** -20


def test_certified_hermite_series_of_tanh_against_the_trapezoidal_series():
    """Few terms: Arb-certified c_k and Parseval tail (certified) vs the trapezoidal c_k (estimate)."""
    from symkernel.kernels import _Dual
    dual = _Dual.of(sk.activation("tanh"))
    res = sk.dual_kernel("tanh").result("-0.35", dps=25)
    assert res.certified and res.error <= abs(res.value) * mpmath.mpf(10) ** -27
    trap = dual._series_value(lambda wp: mpmath.mpf("-0.35"), 25)
    assert not trap.certified and abs(trap.value - res.value) <= res.error + trap.error


# ---------------------------------------------------------------- labels
def test_provenance_is_honest_for_each_path():
    assert sk.dual_kernel("relu").provenance.startswith("exact")
    tanh = sk.dual_kernel("tanh")
    assert tanh.provenance.startswith("estimated") and "Hermite series" in tanh.provenance
    assert tanh.result(0.7, dps=15).certified            # proven c_k from the Gauss-Legendre panels
    soft = sk.kernel_map("softsign")
    assert soft.provenance.startswith("certified") and "angle integral" in soft.provenance
    elu = sk.dual_kernel("elu")
    assert elu.provenance.startswith("certified") and elu.result(0.5, dps=20).certified
    # derivative kernels: the label follows the path of sigma' (Price), value by value
    for name in ("elu", "tanh"):
        deriv = sk.derivative_kernel(name)
        assert deriv.provenance.startswith("certified") == deriv.result(0.5, dps=15).certified


# ---------------------------------------------------------------- float64 near |rho| = 1
@pytest.mark.parametrize("name", ["hardtanh", "elu"])
def test_float64_inner_form_kernels_to_1e13_up_to_rho_one(name):
    dual = sk.dual_kernel(name)
    near = [s * (1 - 10.0**-k) for k in range(1, 13, 2) for s in (1, -1)]
    pts = np.array(sorted(near + [-0.995, -0.6, -0.1, 0.2, 0.7, 0.985, 0.9905]))
    got = dual.numpy(pts)
    ref = np.array([float(dual(float(p), dps=30)) for p in pts])
    assert np.max(np.abs(got - ref)) <= 1e-13
    dense = np.linspace(-1, 1, 2001)
    vals = dual.numpy(dense)
    assert np.all(np.isfinite(vals)) and np.max(np.abs(np.diff(vals))) < 2e-3   # no jumps at 0.99


def test_mean_reduced_dual_is_an_exact_zero_at_rho_zero_without_tiny_rules():
    """sigma_bar(0) = c_0^2 - c_0^2 = 0 by construction (c_0 numeric for swish), not by flushing."""
    sbar = sk.mean_reduced_dual("swish")
    assert sbar(0.0, dps=20) == 0 and sbar.result(0, dps=20).error == 0
    with working(25):
        c0 = sk.hermite_coefficient("swish", 0).value(22)
        want = sk.dual_kernel("swish")(0.2, dps=22) - c0**2
    assert _close(sbar(0.2, dps=20), want, 19)


def test_a_float_rho_is_its_binary_double_whatever_the_callers_precision():
    """kernel_map(...)(0.11303) is kappa at the double 0.113030000000000005466...; the decimal
    11303/100000 differs by kappa'(rho) * 5.47e-18 (~5e-17 relative: the reported 'error')."""
    kmap = sk.kernel_map("elu")
    at_float = kmap(0.11303, dps=30)
    old = mpmath.mp.prec
    try:
        mpmath.mp.dps = 5                  # a caller's low precision must not round rho
        low = kmap(0.11303, dps=30)
    finally:
        mpmath.mp.prec = old
    assert low == at_float
    at_decimal = kmap("0.11303", dps=30)
    slope = sk.derivative_kernel("elu")("0.11303", dps=20) / sk.second_moment("elu").value(20)
    with working(40):
        shift = mpmath.mpf(0.11303) - mpmath.mpf(11303) / 100000
        assert abs((at_float - at_decimal) - slope * shift) < mpmath.mpf(10) ** -30
