"""Dual kernels and kernel maps: closed form vs exact Hermite series vs quadrature, properties, errors."""
import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.kernels import _Dual, rho_value

rho = sk.rho
CLOSED = ["relu", "leaky_relu", "abs", "step", "sign", "erf", "exp", "sin", "cos", "gaussian", "gelu"]


def _series_value(act, r, K, dps):
    """sum_{k<K} c_k^2 r^k from the core's exact coefficients, at dps digits."""
    coeffs = sk.hermite_coefficients(act, K)
    with mpmath.workdps(dps + 10):
        return mpmath.fsum(c.value(dps + 10) ** 2 * mpmath.mpf(r) ** k for k, c in enumerate(coeffs))


@pytest.mark.parametrize("name", CLOSED)
def test_closed_form_exists_and_matches_series_to_30_digits(name):
    act = sk.activation(name)
    kern = sk.dual_kernel(act)
    assert kern.expr is not None and kern.expr.free_symbols <= {rho}
    for r in ("0.25", "-0.2"):
        ours = kern(r, dps=30)
        series = _series_value(act, r, 70, 30)      # tail <= E sigma^2 * 0.25^70 < 1e-40
        assert abs(ours - series) <= abs(series) * mpmath.mpf(10) ** -29 + mpmath.mpf(10) ** -40


@pytest.mark.parametrize("name", ["relu", "erf", "exp", "gaussian", "gelu", "step"])
def test_symbolic_taylor_coefficients_equal_hermite_squares(name):
    act = sk.activation(name)
    expr = sk.dual_kernel(act).expr
    K = 20 if name in ("exp", "erf", "step", "gaussian") else 12
    taylor = sp.series(expr, rho, 0, K).removeO()
    coeffs = sk.hermite_coefficients(act, K)
    for k in range(K):
        diff = sp.nsimplify(0) + taylor.coeff(rho, k) - coeffs[k].expr ** 2
        assert abs(sp.N(diff, 40)) < 1e-35, (name, k)


@pytest.mark.parametrize("name", ["relu", "erf", "gelu", "abs"])
def test_closed_form_vs_one_dimensional_quadrature(name):
    """The closed form against a quadrature over X of the inner expectation (a second path)."""
    act = sk.activation(name)
    dual = _Dual.of(act)
    for r in ("0.6", "-0.85"):
        at, _ = rho_value(r)
        quad = dual._quad_inner(at(40), 40, 8)
        ours = sk.dual_kernel(act)(r, dps=30)
        assert abs(quad - ours) < mpmath.mpf(10) ** -28


def test_published_closed_forms_of_math_md():
    a = sk.alpha
    relu = (sp.sqrt(1 - rho**2) + (sp.pi - sp.acos(rho)) * rho) / (2 * sp.pi)
    checks = [
        ("relu", relu),
        ("step", (sp.pi - sp.acos(rho)) / (2 * sp.pi)),
        (sk.activation("erf", gain=a), 2 / sp.pi * sp.asin(2 * a**2 * rho / (1 + 2 * a**2))),
        (sk.activation("exp", gain=a), sp.exp(a**2 * (1 + rho))),
        (sk.activation("sin", gain=a), sp.exp(-a**2) * sp.sinh(a**2 * rho)),
        (sk.activation("cos", gain=a), sp.exp(-a**2) * sp.cosh(a**2 * rho)),
        (sk.activation("he", n=3), rho**3),
    ]
    for act, published in checks:
        ours = sk.dual_kernel(act).expr
        diff = sp.simplify((ours - published).rewrite(sp.exp))
        if diff != 0:   # acos/asin identities: exact agreement at 50 digits at several points
            for r in (sp.Rational(-9, 10), sp.Rational(1, 3), sp.Rational(7, 8)):
                val = (ours - published).subs({rho: r, a: sp.Rational(3, 2)})
                assert abs(sp.N(val, 50)) < 1e-45, (act, r)


def test_gain_two_relu_and_numeric_gain():
    k2 = sk.dual_kernel(sk.activation("relu", gain=2))
    assert sp.simplify(k2.expr - 4 * sk.dual_kernel("relu").expr) == 0
    q = 0.7
    kq = sk.dual_kernel(sk.activation("erf", gain=sp.sqrt(sp.Rational(str(q)))))
    with mpmath.workdps(30):
        qq = mpmath.mpf("0.7")
        ref = 2 / mpmath.pi * mpmath.asin(2 * qq * mpmath.mpf("0.3") / (1 + 2 * qq))
        assert abs(kq("0.3", dps=25) - ref) < mpmath.mpf(10) ** -24


def test_derivative_kernel_is_price_derivative():
    for name in ["relu", "gelu", "erf", "sin"]:
        d = sk.derivative_kernel(name)
        k = sk.dual_kernel(name).derivative()
        assert sp.simplify(d.expr - k.expr) == 0
    tanh = sk.dual_kernel("tanh")
    with mpmath.workdps(30):
        h = mpmath.mpf(10) ** -8
        numeric = (tanh(mpmath.mpf("0.4") + h, dps=28) - tanh(mpmath.mpf("0.4") - h, dps=28)) / (2 * h)
        assert abs(sk.derivative_kernel("tanh")("0.4", dps=20) - numeric) < 1e-14


def test_step_has_no_derivative_kernel():
    with pytest.raises(InvalidInputError, match="delta"):
        sk.derivative_kernel("step")


def test_kernel_map_special_values():
    kmap = sk.kernel_map("gelu")
    assert kmap(1, dps=30) == 1
    m2 = sk.second_moment("gelu").value(30)
    c0 = sk.hermite_coefficient("gelu", 0).value(30)
    with mpmath.workdps(30):
        assert abs(kmap(0, dps=30) - c0**2 / m2) < mpmath.mpf(10) ** -29
    assert sp.simplify(sk.mean_reduced_dual("relu").expr.subs(rho, 0)) == 0


@pytest.mark.parametrize("bad", [1.5, -1.0001, float("nan"), "2", np.nan])
def test_bad_rho(bad):
    with pytest.raises(InvalidInputError):
        sk.kernel_map("relu")(bad)
    with pytest.raises(InvalidInputError):
        sk.kernel_map("relu").numpy(np.array([0.1, bad], dtype=float))


@pytest.mark.parametrize("name", ["relu", "gelu", "erf", "exp", "tanh", "sigmoid", "elu", "gaussian"])
def test_numpy_matches_mpmath(name):
    kmap = sk.kernel_map(name)
    pts = np.array([-1.0, -0.73, -0.2, 0.0, 0.41, 0.95, 1.0])
    got = kmap.numpy(pts)
    ref = np.array([float(kmap(float(p), dps=20)) for p in pts])
    tol = 1e-13 if name != "elu" else 1e-10
    assert np.max(np.abs(got - ref)) < tol


def test_tanh_numeric_value_two_methods():
    """Hermite series with Parseval tail (kernel) vs 1D quadrature of E[tanh(X) g(X)] with g by series."""
    kmap = sk.dual_kernel("tanh")
    v = kmap("0.5", dps=25)
    # an independent path: kappa(rho) = E[tanh(X) E_W tanh(rho X + s W)] with float Gauss-Hermite
    x, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / np.sqrt(2 * np.pi)
    s = np.sqrt(0.75)
    inner = np.tanh(0.5 * x[:, None] + s * x[None, :]) @ w
    assert abs(float(v) - float(np.tanh(x) * inner @ w)) < 1e-12


def test_series_and_latex():
    kmap = sk.kernel_map("exp")
    assert sp.expand(kmap.series(3) - (sp.exp(-1) + sp.exp(-1) * rho + sp.exp(-1) * rho**2 / 2)) == 0
    assert sp.latex(sk.dual_kernel("step")) == r"\frac{\operatorname{asin}{\left(\rho \right)}}{2 \pi} + \frac{1}{4}"
    assert sk.kernel_map("tanh").latex().endswith(r"+ \dots")
    assert sk.kernel_map("relu")._repr_latex_().startswith(r"$\kappa(\rho) =")


# ------------------------------------------------------------------------------- properties
hermite_weights = st.lists(st.floats(0, 2), min_size=2, max_size=6).filter(lambda w: sum(w[1:]) > 0.05)


def _hermite_activation(weights):
    expr = sum(sp.Rational(str(round(wt, 3))) * sp.expand(sp.hermite_prob(k, sk.x) / sp.sqrt(sp.factorial(k)))
               for k, wt in enumerate(weights))
    return sk.activation(expr)


@given(hermite_weights)
def test_kernel_map_of_hermite_combinations(weights):
    act = _hermite_activation(weights)
    kmap = sk.kernel_map(act)
    poly = sp.Poly(sp.expand(kmap.expr), rho)
    assert all(c >= 0 for c in poly.all_coeffs())
    assert sp.simplify(kmap.expr.subs(rho, 1) - 1) == 0
    r = np.linspace(-1, 1, 41)
    vals = kmap.numpy(r)
    assert np.all(np.abs(vals) <= kmap.numpy(np.abs(r)) + 1e-12)
    assert np.all(kmap.numpy(np.abs(r)) <= 1 + 1e-12)


@given(hermite_weights, st.floats(-0.99, 0.99))
def test_lemma_a7_contraction(weights, r):
    """Joudaki, Daneshmand & Bach (NeurIPS 2023) Lemma A.7: f = sigma_bar/sigma_bar(1) satisfies |f|/(1-|f|) <= (|r|/(1-|r|))/beta."""
    act = _hermite_activation(weights)
    sbar = sk.mean_reduced_dual(act)
    beta = float(sk.isometry_strength(act))
    f = float(sbar.numpy(np.array([r]))[0] / sbar.numpy(np.array([1.0]))[0])
    assert abs(f) / (1 - abs(f)) <= abs(r) / (1 - abs(r)) / beta * (1 + 1e-9) + 1e-12


_KMAPS = {}


@given(st.integers(0, 10**6), st.sampled_from(["relu", "tanh", "gelu", "sigmoid", "erf", "sin"]))
def test_kernel_of_correlation_matrix_is_psd(seed, name):
    rng = np.random.default_rng(seed)
    n = 6
    a = rng.standard_normal((n, 3))
    g = a @ a.T + 1e-9 * np.eye(n)
    d = np.sqrt(np.diag(g))
    corr = np.clip(g / np.outer(d, d), -1, 1)
    k = _KMAPS.setdefault(name, sk.kernel_map(name)).numpy(corr)
    assert np.linalg.eigvalsh((k + k.T) / 2).min() > -1e-10


def test_exact_sympy_rho_gives_the_same_value_as_a_float_on_numeric_paths():
    # regression: a SymPy rho other than -1, 0, 1 used to be truncated to int(rho) on numeric paths
    for name in ("tanh", "sigmoid", "elu"):
        kmap = sk.kernel_map(name)
        assert abs(kmap(sp.Rational(1, 2), dps=20) - kmap(0.5, dps=20)) < 1e-18
        assert abs(kmap(sp.Rational(1, 2), dps=20) - kmap(0, dps=20)) > 1e-3


# ------------------------------------------- softsign: nested Gauss-Legendre panels (no inner form)
def _softsign_gauss_hermite(r, deg=240):
    """Independent float64 check: 2D Gauss-Hermite sum of E[sigma(X) sigma(rho X + s W)] (~1e-6: kink)."""
    z, w = np.polynomial.hermite_e.hermegauss(deg)
    w = w / np.sqrt(2 * np.pi)
    f = sk.activation("softsign").numpy()
    s = np.sqrt(1 - r * r)
    return float((f(z) * w) @ (f(r * z[:, None] + s * z[None, :]) @ w))


def test_softsign_kernel_map_mpmath_float64_and_gauss_hermite():
    kmap = sk.kernel_map("softsign")
    dual = sk.dual_kernel("softsign")
    assert "angle integral" in kmap.provenance
    assert kmap(1, dps=30) == 1
    pts = np.array([-1.0, -0.999, -0.93, -0.6, 0.0, 0.3, 0.85, 0.999, 1.0])
    got = kmap.numpy(pts)
    assert abs(got[-1] - 1) < 4e-15 and abs(got[4]) < 1e-15     # float64 rounding of 1/E sigma^2
    for r, g in zip(pts, got):
        if abs(r) <= 0.85:     # Gauss-Hermite degrades (kink, narrow inner Gaussian) as |rho| -> 1
            assert abs(dual.numpy(np.array([r]))[0] - _softsign_gauss_hermite(r)) < 5e-6   # GH error ~ deg^-3 (kink)
    for r in (0.3, -0.999):       # mpmath angle integral at 16 digits (two precisions) vs float64 panels
        ref = kmap(r, dps=16)
        assert abs(kmap.numpy(np.array([r]))[0] - float(ref)) < 1e-14
    big = kmap.numpy(np.linspace(-1, 1, 10001))
    assert np.all(np.abs(big) <= 1 + 1e-15) and np.all(np.diff(big) > 0)    # odd Hermite sum: increasing


def test_softsign_mpmath_panels_agree_with_the_hermite_series_at_small_rho():
    """c_k from the core's 1D expectations; at rho = 0.05 the tail after k = 12 is below 1e-18."""
    act = sk.activation("softsign")
    coeffs = [c.value(20) for c in sk.hermite_coefficients(act, 13)]
    r = mpmath.mpf("0.05")
    with mpmath.workdps(20):
        series = mpmath.fsum(c * c * r**k for k, c in enumerate(coeffs))
    ours = sk.dual_kernel(act)(r, dps=17)
    assert abs(ours - series) < mpmath.mpf(10) ** -17


def test_softsign_psd_and_derivative_kernel():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((8, 3))
    g = a @ a.T
    d = np.sqrt(np.diag(g))
    corr = np.clip(g / np.outer(d, d), -1, 1)
    k = sk.kernel_map("softsign").numpy(corr)
    assert np.linalg.eigvalsh((k + k.T) / 2).min() > -1e-12
    # Price: E[sigma'(X) sigma'(Y)] = d/drho sigma_hat, against a finite difference of the float path
    dual, dk = sk.dual_kernel("softsign"), sk.derivative_kernel("softsign")
    r, h = np.array([-0.97, -0.4, 0.2, 0.95]), 1e-5
    fd = (dual.numpy(r + h) - dual.numpy(r - h)) / (2 * h)
    assert np.max(np.abs(dk.numpy(r) - fd)) < 1e-8
    assert dk.numpy(np.array([1.0]))[0] == pytest.approx(float(sk.expectation(
        sk.activation("softsign").expr.diff(sk.x) ** 2).value(20)), rel=1e-13)


def test_softsign_kernel_dynamics():
    dyn = sk.kernel_dynamics("softsign")
    assert dyn.case == 1 and dyn.fixed_point.value(20) == 0        # odd: kappa(0) = c_0^2 = 0
    kmap = dyn.kmap
    h = 1e-6
    slope = (kmap.numpy(np.array([h]))[0] - kmap.numpy(np.array([-h]))[0]) / (2 * h)
    assert abs(slope - float(dyn.kappa_prime_0.value(17))) < 1e-8
    assert float(dyn.rate.value(17)) == pytest.approx(1 / (2 - slope), rel=1e-8)
    seq = dyn.sequence(0.9, 60)
    assert np.all(dyn.distance(seq) <= dyn.bound(np.arange(61), 0.9) * (1 + 1e-9) + 1e-15)
