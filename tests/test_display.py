"""Jupyter and terminal display (issue 7): golden strings for exact cases, HTML cells, and
``sympy.latex(obj)`` through ``_latex``, for the dynamics, mean-field, validation, simulation and
SDE objects."""

import math

import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.sde import (
    Diffusion, Law, VectorDiffusion, norm_dynamics, ou_activation, simulate_resnet, width1_law,
)
from symkernel.simulate.result import SimulationResult
from symkernel.validate.networks import Validation


@pytest.fixture(scope="module")
def relu_dynamics():
    return sk.kernel_dynamics("relu")


# -- KernelDynamics ------------------------------------------------------------------------------
def test_kernel_dynamics_repr_relu(relu_dynamics):
    # 1/2 - 1/pi = 0.18169011381620932..., 1/pi = 0.31830988618379067...: 15 digits, rounded
    assert repr(relu_dynamics).splitlines()[1:] == [
        "  rho*      = 1",
        "  alpha     = 1/2 - 1/pi ≈ 0.181690113816209",
        "  kappa(0)  = 1/pi ≈ 0.318309886183791",
        "  kappa'(0) = 1/2",
        "  kappa'(1) = 1",
    ]
    assert repr(relu_dynamics).startswith("KernelDynamics(case=3, kernel=Kernel(kernel map of relu")


def test_kernel_dynamics_latex_relu(relu_dynamics):
    golden = (
        r"\text{Theorem 1, case 3:}\quad \rho^* = 1,\quad \alpha = \frac{1}{2} - \frac{1}{\pi},"
        r"\quad \kappa(0) = \frac{1}{\pi},\quad \kappa'(0) = \frac{1}{2},\quad \kappa'(1) = 1"
    )
    assert relu_dynamics.latex() == golden
    assert sp.latex(relu_dynamics) == golden
    assert relu_dynamics.latex(mode="inline") == f"${golden}$"


def test_kernel_dynamics_html_relu(relu_dynamics):
    html = relu_dynamics._repr_html_()
    assert html.startswith("<table>") and "kernel map of relu" in html
    assert "<td>case</td><td>3</td>" in html
    assert r"<td>$\rho^*$</td><td>$1$</td><td>$1$</td>" in html
    assert (
        r"<td>$\alpha$</td><td>$\frac{1}{2} - \frac{1}{\pi}$</td><td>$0.181690113816209$</td>"
        in html
    )
    assert r"<td>$\kappa(0)$</td><td>$\frac{1}{\pi}$</td><td>$0.318309886183791$</td>" in html
    # digits are honoured: 6 significant digits of 1/2 - 1/pi
    assert "<td>$0.18169$</td>" in relu_dynamics._repr_html_(digits=6)


def test_kernel_dynamics_numeric_shows_no_more_digits_than_asked():
    dyn = sk.kernel_dynamics("tanh")
    assert dyn.case == 1 and not dyn.rate.exact
    text = dyn.latex(digits=6)
    alpha = text.split(r"\alpha = ")[1].split(",")[0]
    # case 1: alpha = 1/(2 - kappa'(0)), computed here from kappa'(0) as a second path
    k0p = float(dyn.kappa_prime_0.value(20))
    assert len(alpha.replace("0.", "", 1).lstrip("0")) <= 6
    assert math.isclose(float(alpha), 1 / (2 - k0p), rel_tol=1e-5)
    assert "alpha     ≈ " in repr(dyn)


# -- MeanField -----------------------------------------------------------------------------------
def test_mean_field_relu_critical():
    mf = sk.mean_field("relu", 2, 0)  # length map = identity: q* = q0 = 1, chi_1 = 1, critical
    assert repr(mf).splitlines() == [
        "MeanField(relu, sigma_w2=2, sigma_b2=0)",
        "  q*     = 1",
        "  chi_1  = 1",
        "  c*     = 1",
        "  xi_q   = oo",
        "  xi_c   = oo",
        "  phase  = critical",
    ]
    golden = (
        r"\sigma_w^2 = 2,\ \sigma_b^2 = 0:\quad q^{*} = 1,\quad \chi_{1} = 1,\quad c^{*} = 1,"
        r"\quad \xi_{q} = \infty,\quad \xi_{c} = \infty,\quad \text{critical}"
    )
    assert mf.latex() == golden and sp.latex(mf) == golden
    html = mf._repr_html_()
    assert r"<td>$\xi_{c}$</td><td>$\infty$</td><td>$\infty$</td>" in html
    assert "<td>phase</td><td>critical</td>" in html


def test_mean_field_relu_ordered_html():
    mf = sk.mean_field("relu", 1, sp.Rational(1, 10))  # q* = (1/10)/(1 - 1/2) = 1/5
    html = mf._repr_html_()
    assert r"<td>$q^{*}$</td><td>$\frac{1}{5}$</td><td>$0.2$</td>" in html
    assert r"<td>$\chi_{1}$</td><td>$\frac{1}{2}$</td><td>$0.5$</td>" in html
    # 1/log 2 = 1.4426950408889634...
    assert (
        r"<td>$\xi_{q}$</td><td>$\frac{1}{\log{\left(2 \right)}}$</td><td>$1.44269504088896$</td>"
        in html
    )
    assert "  xi_q   = 1/log(2) ≈ 1.44269504088896" in repr(mf).splitlines()


def test_mean_field_unavailable_entries_are_shown_not_raised():
    sw2, sb2 = sp.symbols("sigma_w2 sigma_b2", positive=True)
    mf = sk.mean_field("relu", sw2, sb2)
    assert "  chi_1  = sigma_w2/2" in repr(mf).splitlines()
    assert "  phase  unavailable (see below)" in repr(mf).splitlines()
    assert "<td>phase</td><td></td><td>unavailable</td>" in mf._repr_html_()
    assert r"\text{" not in mf.latex()  # the phase is left out, the rest is exact
    bad = sk.mean_field("relu", 3, sp.Rational(1, 10))  # slope 3/2: no finite fixed point
    assert "no finite fixed point" in repr(bad) and "no finite fixed point" in bad._repr_html_()


# -- Validation and SimulationResult -------------------------------------------------------------
def test_validation_html():
    theory = np.array([0.5, 0.4, 0.3])
    samples = np.array([[0.5, 0.41, 0.2], [0.5, 0.43, 0.21], [0.5, 0.39, 0.19]])
    v = Validation("correlation", theory, samples, 4.0, 1e-10, dict(activation="relu", width=8))
    html = v._repr_html_()
    # layer 1: mean 0.41, s.e. 0.02/sqrt(3) = 0.0115...: the mean stops at the error's first digit
    assert "<tr><td>$1$</td><td>$0.4$</td><td>$0.41$</td><td>$0.012$</td><td>yes</td></tr>" in html
    # layer 2: mean 0.2 vs theory 0.3 with s.e. 0.0058: disagrees, shaded
    assert '<tr style="background:#fdd"><td>$2$</td><td>$0.3$</td><td>$0.200$</td>' in html
    assert "<th>standard error</th>" in html and "NO</td>" in html
    assert "disagree at layers [2]" in repr(v)


def test_simulation_result_repr_and_html():
    gram = np.array([np.eye(2), [[1.0, 0.5], [0.5, 1.0]]])
    params = dict(activation="relu", width=8, dtype="float64", backend="numpy", seed=0)
    res = SimulationResult(gram=gram, params=params)
    assert repr(res) == (
        "SimulationResult(relu, n=2, width=8, depth=1, backend=numpy, dtype=float64, seed=0)"
    )
    html = res._repr_html_()
    iso = math.sqrt(0.75)  # det^(1/n) / (tr/n) of the 2 x 2 Gram with correlation 1/2
    assert f"<td>$1$</td><td>${iso:.7f}$</td><td>${-math.log(iso):.8f}$</td>" in html
    assert r"<th>potential $\gamma$</th>" in html and "n = 2, width = 8, depth = 1" in html
    f32 = SimulationResult(gram=gram, params=dict(params, dtype="float32"))
    assert f"<td>${iso:.5f}$</td>" in f32._repr_html_()  # float32: at most 5 digits


# -- SDE objects ---------------------------------------------------------------------------------
def test_diffusion_latex():
    mu, s = sp.symbols("mu sigma", positive=True)
    gbm = Diffusion(mu * sk.x, s * sk.x)
    golden = r"dX_{t} = \mu X_{t} \, dt + \sigma X_{t} \, dB_{t}"
    assert gbm.latex() == golden and sp.latex(gbm) == golden
    assert gbm._repr_latex_() == f"${golden}$"
    assert Diffusion(1 - sk.x, -2).latex() == r"dX_{t} = \left(1 - X_{t}\right) \, dt - 2 \, dB_{t}"
    assert Diffusion(0, 0).latex() == "dX_{t} = 0"
    assert sp.latex(sk.sde.resnet_sde("relu")) == r"dX_{t} = \max\left(0, X_{t}\right) \, dB_{t}"


def test_vector_diffusion_latex():
    v = VectorDiffusion(0, sp.eye(2), sp.symbols("x_1 x_2"))
    golden = (
        r"d\left[\begin{matrix}x_{1}\\x_{2}\end{matrix}\right] = "
        r"\left[\begin{matrix}1 & 0\\0 & 1\end{matrix}\right] \, d\mathbf{B}_{t}"
    )
    assert v.latex() == golden and sp.latex(v) == golden and v._repr_latex_() == f"${golden}$"


def test_law_inverse_solution_norm_dynamics_display():
    law = width1_law("identity", x0=2)
    assert (
        repr(law)
        == "Law(lognormal: log(X_t) ~ N(-t/2 + log(2), t), X_0 = 2, X_t = 2*exp(B_t - t/2))"
    )
    assert law.latex() == (
        r"\log{\left(X_{t} \right)} \sim \mathcal{N}\left(- \frac{t}{2} + \log{\left(2 \right)}, "
        r"t\right),\quad X_{t} = 2 e^{B_{t} - \frac{t}{2}}"
    )
    assert sp.latex(law) == law.latex() and law._repr_latex_() == f"${law.latex()}$"
    assert repr(Law("constant", sp.Integer(-1))) == "Law(constant: X_t = -1)"
    ou = ou_activation()
    assert repr(ou).startswith("InverseSolution(phi(x) = 2*exp(erfiinv(x)**2)/sqrt(pi), ")
    assert ou.latex().startswith(r"dZ_{t} = - Z_{t} \, dt + dB_{t},\quad g(x) = ")
    assert sp.latex(ou) == ou.latex()
    nd = norm_dynamics("relu")
    assert (
        nd.latex()
        == r"d \log\|\phi(X_{t})\| = \frac{k - 2}{2 n} \, dt + \frac{1}{\sqrt{n}} \, dW_{t}"
    )
    assert sp.latex(nd) == nd.latex() and nd._repr_latex_() == f"${nd.latex()}$"
    assert repr(nd).startswith("NormDynamics(relu: d log‖φ(X_t)‖ = ((k - 2)/(2*n)) dt")


def test_resnet_run_display():
    run = simulate_resnet("relu", width=2, depth=4, n_paths=8, seed=1)
    assert repr(run) == (
        "ResNetRun(width=2, depth=4, n_paths=8, horizon=1.0, method=law, backend=numpy, "
        "dtype=float64, seed=1, observed layers=0)"
    )
    html = run._repr_html_()
    assert "<td>n_paths</td><td>8</td>" in html and "array of shape (8, 2)" in html
