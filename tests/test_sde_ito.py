"""Itô calculus of symkernel.sde: known cases exactly, vector form, general width, inverses."""

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symkernel as sk
from symkernel.errors import InvalidInputError, NoClosedFormError, UnknownActivationError
from symkernel.sde import Diffusion, VectorDiffusion, invert, norm_dynamics, resnet_sde
from symkernel.theory.sde.special import erfiinv, numpy_erfiinv
from symkernel.core.symbols import n, t, x

mu, s, theta = sp.symbols("mu sigma theta", positive=True)
z = sp.Symbol("z", real=True)


def test_gbm_log():
    drift, vol = Diffusion(mu * x, s * x).ito(sp.log(x))
    assert sp.simplify(drift - (mu - s**2 / 2)) == 0 and sp.simplify(vol - s) == 0


def test_ou_integrating_factor_and_generator():
    ou = Diffusion(-theta * z, s, var=z)
    drift, vol = ou.ito(sp.exp(theta * t) * z)  # d(e^{θt} Z) = σ e^{θt} dB
    assert drift == 0 and sp.simplify(vol - s * sp.exp(theta * t)) == 0
    assert (
        ou.generator(z**2) == sp.expand(-2 * theta * z**2 + s**2)
        or sp.simplify(ou.generator(z**2) - (-2 * theta * z**2 + s**2)) == 0
    )
    assert ou.is_linear_gaussian()


def test_square_of_brownian_motion():
    assert tuple(Diffusion(0, 1).ito(x**2)) == (1, 2 * x)


@pytest.mark.parametrize("width", [1, 2, 3, 5])
def test_vector_identity_log_norm_matches_general_width(width):
    X = resnet_sde("identity", width) if width > 1 else None
    general = norm_dynamics("identity")
    if X is None:
        drift, vol = Diffusion(0, x).ito(sp.log(x))
        expected_drift = general.drift.subs(n, 1)
    else:
        xs = X.variables
        drift, vol = X.ito(sp.log(sum(v**2 for v in xs)) / 2)
        expected_drift = general.drift.subs(n, width)
    assert sp.simplify(drift - expected_drift) == 0
    assert sp.simplify(drift - (sp.Rational(1, 2) - sp.Rational(1, width))) == 0
    assert sp.simplify(vol - 1 / sp.sqrt(width)) == 0


def _region_diffusion(phis, xs):
    """dX = n^{-1/2}‖φ(X)‖ dB on a region where coordinate i has the smooth branch phis[i]."""
    m = len(xs)
    norm = sp.sqrt(sum(p**2 for p in phis))
    return VectorDiffusion(sp.zeros(m, 1), norm / sp.sqrt(m) * sp.eye(m), xs), norm


@pytest.mark.parametrize("width,active", [(2, 1), (3, 2), (4, 4), (5, 3)])
def test_relu_log_norm_drift_by_active_count(width, active):
    # the region {y_i > 0 for i < active, y_i < 0 otherwise}: ReLU is smooth there
    xs = tuple(
        sp.Symbol(f"y_{i}", positive=True) if i < active else sp.Symbol(f"y_{i}", negative=True)
        for i in range(width)
    )
    phis = [xs[i] if i < active else sp.Integer(0) for i in range(width)]
    X, norm = _region_diffusion(phis, xs)
    drift, vol = X.ito(sp.log(norm))
    general = norm_dynamics("relu")
    expected = general.drift.subs({n: width, sk.sde.width.k_active: active})
    assert sp.simplify(drift - expected) == 0
    assert sp.simplify(drift - sp.Rational(active - 2, 2 * width)) == 0
    assert sp.simplify(vol - general.vol.subs(n, width)) == 0


def test_leaky_relu_general_width_against_vector_ito():
    a = sp.Rational(1, 3)
    act = sk.activation("leaky_relu", slope=a)
    y1, y2, y3 = sp.symbols("y_1:4", real=True)
    X, norm = _region_diffusion([a * y1, y2, y3], (y1, y2, y3))
    drift, vol = X.ito(sp.log(norm))
    dyn = norm_dynamics(act)
    k1, k2 = dyn.counts
    S1, S2 = dyn.norms
    sub = {n: 3, k1: 1, k2: 2, S1: a**2 * y1**2, S2: y2**2 + y3**2}
    assert sp.simplify(drift - dyn.drift.subs(sub)) == 0
    assert sp.simplify(vol**2 - dyn.vol.subs(sub) ** 2) == 0


def test_norm_dynamics_rejects_local_time_cases():
    with pytest.raises(NoClosedFormError, match="C\\^1"):
        norm_dynamics("step")
    with pytest.raises(NoClosedFormError):
        norm_dynamics("tanh")  # drift depends on positions, not counts


def test_invert_known_functions():
    assert invert(3 * sp.erfi(2 * x) + 1, x, z) == erfiinv(z / 3 - sp.Rational(1, 3)) / 2
    assert sp.simplify(invert(sp.exp(2 * x) - 1, x, z) - sp.log(z + 1) / 2) == 0
    assert invert(x**3, x, z) == sp.real_root(z, 3)
    with pytest.raises(NoClosedFormError):
        invert(x + sp.sin(x), x, z)


@settings(max_examples=20)
@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_erfiinv_numpy_against_mpmath(y):
    with mpmath.workdps(40):
        ref = sk.sde.special._mp_erfiinv(mpmath.mpf(y))
        assert abs(mpmath.erfi(ref) - y) <= mpmath.mpf(10) ** -30 * max(1, abs(y))
        got = float(numpy_erfiinv(np.array([y]))[0])
        assert abs(got - float(ref)) <= 1e-13 * max(1.0, abs(float(ref)))


def test_erfiinv_symbolic():
    y = sp.Symbol("y", real=True)
    assert erfiinv(y).diff(y) == sp.sqrt(sp.pi) / 2 * sp.exp(-(erfiinv(y) ** 2))
    assert erfiinv(-y) == -erfiinv(y) and erfiinv(0) == 0
    assert sp.latex(erfiinv(y)) == r"\operatorname{erfi}^{-1}\left(y\right)"
    assert abs(sp.N(sp.erfi(erfiinv(sp.Integer(5))), 40) - 5) < sp.Float(10) ** -35


@pytest.mark.parametrize("width", [0, -1, 1.5, True, "3"])
def test_bad_width(width):
    with pytest.raises(InvalidInputError, match="width"):
        resnet_sde("relu", width)


def test_bad_inputs():
    with pytest.raises(UnknownActivationError):
        resnet_sde("softmax")
    with pytest.raises(InvalidInputError):
        Diffusion("x + 1", 1)
    with pytest.raises(InvalidInputError):
        Diffusion(sp.I * x, 1)
    with pytest.raises(InvalidInputError):
        VectorDiffusion(sp.zeros(2, 1), sp.eye(3), sp.symbols("a b"))
