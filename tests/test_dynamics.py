"""Kernel dynamics (Joudaki & Hofmann (AISTATS 2025) Theorem 1 and its extensions) and a finite-width check."""
import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import symkernel as sk
from symkernel.errors import InvalidInputError

# registry activations that are nonlinear (Theorem 1 needs it); softsign has no fast float64 path
# (celu with its default alpha = 1 is elu itself, so it is covered by elu)
REGISTRY = ["relu", "leaky_relu", "abs", "step", "sign", "hardtanh", "exp", "sin", "cos", "erf", "gelu",
            "elu", "selu", "softplus", "sigmoid", "tanh", "silu", "gaussian", "arctan"]
_CACHE = {}


def _dyn(name):
    if name not in _CACHE:
        _CACHE[name] = sk.kernel_dynamics(name)
    return _CACHE[name]


def test_cases_decided_exactly():
    assert sk.kernel_dynamics("relu").case == 3            # kappa'(1) = 1 exactly
    assert sk.kernel_dynamics("exp").case == 3
    assert sk.kernel_dynamics("sigmoid").case == 2
    assert sk.kernel_dynamics("tanh").case == 1
    assert sk.kernel_dynamics("gelu").case == 4
    assert sk.kernel_dynamics("step").kappa_prime_1.expr == sp.oo
    assert sk.kernel_dynamics(sk.activation("leaky_relu", slope=0.2)).case == 3


SLOW = {"silu", "elu", "softplus"}   # case-4 fixed points by high-precision series / quadrature


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in REGISTRY])
def test_theorem1_bound_along_sequences(name):
    dyn = _dyn(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    rho0 = np.concatenate([rng.uniform(-0.98, 0.98, size=4), [0.0, 0.5, -0.9]])
    seq = dyn.sequence(rho0, 200)
    ell = np.arange(201)[:, None]
    lhs, rhs = dyn.distance(seq), dyn.bound(ell, rho0[None, :])
    assert np.all(lhs <= rhs * (1 + 1e-9) + 1e-12), name


@given(st.floats(-0.95, 0.95), st.sampled_from(["relu", "tanh", "gelu", "sigmoid", "exp", "erf"]))
def test_bound_property(rho0, name):
    dyn = _dyn(name)
    seq = dyn.sequence(rho0, 100)
    assert np.all(dyn.distance(seq) <= dyn.bound(np.arange(101), rho0) * (1 + 1e-9) + 1e-12)


@pytest.mark.parametrize("name,dps", [("gelu", 30), ("step", 30)])
def test_fixed_point_residual(name, dps):
    dyn = sk.kernel_dynamics(name)
    assert dyn.case == 4
    star = dyn.fixed_point.value(dps)
    with mpmath.workdps(dps + 5):
        assert abs(dyn.kmap(star, dps=dps + 5) - star) < mpmath.mpf(10) ** (-dps + 2)
    assert 0 < star < 1 and dyn.kappa_prime_star.value(15) < 1


def test_step_fixed_point_exact_check():
    """kappa_step(rho) = 1/2 + asin(rho)/pi; its fixed point solves 2 asin(r) = pi (2 r - 1)."""
    r = sk.kernel_dynamics("step").fixed_point.value(30)
    with mpmath.workdps(40):
        assert abs(2 * mpmath.asin(r) - mpmath.pi * (2 * r - 1)) < mpmath.mpf(10) ** -28


def test_residual_and_normalization_maps():
    kmap = sk.kernel_map("relu")
    res = sk.residual_kernel_map(kmap, sp.Rational(1, 2))
    assert sp.simplify(res.expr - (sp.Rational(3, 4) * kmap.expr + rho_quarter())) == 0
    ln = sk.normalized_kernel_map(kmap, "LN*phi")
    assert sp.simplify(ln.expr.subs(sk.rho, 0)) == 0 and sp.simplify(ln.expr.subs(sk.rho, 1) - 1) == 0
    assert sk.kernel_dynamics(ln).case == 1
    assert sk.normalized_kernel_map(kmap, "phi*RMS") is kmap
    both = sk.residual_kernel_map(ln, sp.Rational(1, 3))   # residual after a layer-normalized act
    dyn = sk.kernel_dynamics(both)
    assert dyn.case == 1 and float(dyn.rate) > float(sk.kernel_dynamics(ln).rate)   # slower
    with pytest.raises(InvalidInputError):
        sk.normalized_kernel_map(kmap, "BN")
    with pytest.raises(InvalidInputError):
        sk.residual_kernel_map(kmap, 2)


def rho_quarter():
    return sk.rho / 4


def test_corollary2_depths():
    dyn = sk.kernel_dynamics("sigmoid")
    L = dyn.indistinguishable_depth(sp.Rational(1, 2**128))
    k1 = dyn.kappa_prime_1.value(30)
    with mpmath.workdps(30):
        assert abs(L.value(20) - 128 * mpmath.log(2) / mpmath.log(1 / k1)) < 1e-15
    depths = dyn.indistinguishable_depths()
    assert depths["float16 eps"] < depths["float32 eps"] < depths["float64 eps"] < depths["float64 tiny"]
    with pytest.raises(InvalidInputError):
        sk.kernel_dynamics("relu").indistinguishable_depth(1e-7)


def test_hermite_order_corollary():
    act = sk.activation("he", n=3)
    dyn = sk.kernel_dynamics(act)
    assert dyn.hermite_order() == 3
    seq = dyn.sequence(0.9, 4)
    assert np.all(np.abs(seq) <= dyn.hermite_order_bound(np.arange(5), 0.9) + 1e-15)
    mixed = sk.activation(sk.x**2 - 1 + (sk.x**3 - 3 * sk.x) / 2)
    dyn2 = sk.kernel_dynamics(mixed)
    assert dyn2.hermite_order() == 2
    seq = dyn2.sequence(-0.8, 6)
    assert np.all(np.abs(seq) <= dyn2.hermite_order_bound(np.arange(7), -0.8) + 1e-15)


def test_sequence_exact_and_cobweb_and_ode():
    dyn = sk.kernel_dynamics("exp")
    seq = dyn.sequence(sp.Rational(1, 2), 2, exact=True)
    assert seq[1] == sp.exp(sp.Rational(-1, 2))
    num = dyn.sequence(0.5, 2)
    assert abs(num[2] - float(seq[2])) < 1e-15
    mp = dyn.sequence("0.5", 2, dps=30)
    with mpmath.workdps(40):
        assert abs(mp[2] - mpmath.mpf(sp.N(seq[2], 40)._mpf_)) < mpmath.mpf(10) ** -29
    t, r = dyn.ode(0.2, 20.0)
    assert r[0] == 0.2 and abs(r[-1] - 1) < 0.2 and np.all(np.diff(r) > -1e-12)
    closed = sk.kernel_dynamics(sk.activation("he", n=2)).ode_closed_form()
    assert closed is not None


def test_cobweb_shape():
    dyn = sk.kernel_dynamics("tanh")
    seq = dyn.sequence(0.7, 3)
    xs, ys = dyn.cobweb(0.7, 3)
    assert (xs[0], ys[0]) == (seq[0], seq[0]) and (xs[1], ys[1]) == (seq[0], seq[1])
    assert (xs[2], ys[2]) == (seq[1], seq[1])


# ------------------------------------------------------------------------- finite width
def _mlp_correlations(act, rho0, width, depth, seeds):
    """Empirical correlations of two inputs through seeded random MLPs x <- sigma(RMS(W x))/C,
    W with i.i.d. N(0,1) entries, fresh per layer, C = sqrt(E sigma^2).  The RMS normalization of
    the pre-activations (``phi o RMS``, which leaves kappa unchanged: Joudaki & Hofmann (AISTATS 2025) Proposition 3) keeps
    their variance at 1; without it the variance random-walks at finite width for activations
    whose length map is not neutral at q = 1 (GELU: E gelu(sqrt(q) Z)^2 grows faster than q), and
    the correlation then drifts away from kappa^l (observed: about 3 standard errors by l = 20).

    Only W x_1 and W x_2 are needed: given the layer input, they are exactly d i.i.d. bivariate
    normal pairs with covariance X X^T/d, so they are sampled in that form (same law, O(d) work).
    Returns an array (seeds, depth + 1).
    """
    f = act.numpy()
    c = float(sk.second_moment(act).value(17)) ** 0.5
    out = np.empty((len(seeds), depth + 1))
    for s_i, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((2, width))
        x[1] = rho0 * x[0] + np.sqrt(1 - rho0**2) * x[1]
        out[s_i, 0] = x[0] @ x[1] / np.linalg.norm(x[0]) / np.linalg.norm(x[1])
        for layer in range(depth):
            gram = x @ x.T / width
            h = np.linalg.cholesky(gram) @ rng.standard_normal((2, width))
            h *= np.sqrt(width) / np.linalg.norm(h, axis=1, keepdims=True)
            x = f(h) / c
            out[s_i, layer + 1] = x[0] @ x[1] / np.linalg.norm(x[0]) / np.linalg.norm(x[1])
    return out


@pytest.mark.parametrize("name,rho0", [("relu", 0.2), ("tanh", 0.8), ("gelu", 0.1)])
def test_finite_width_follows_kernel_sequence(name, rho0):
    """Width 4096, depth 20, 24 seeds: the mean empirical correlation at each layer follows
    kappa^l(rho_0 empirical) within 4 standard errors (+ an O(1/d) finite-width bias allowance)."""
    width, depth, seeds = 4096, 20, range(24)
    act = sk.activation(name)
    dyn = sk.kernel_dynamics(act)
    emp = _mlp_correlations(act, rho0, width, depth, seeds)
    theory = dyn.sequence(emp[:, 0], depth).T            # from each seed's actual input correlation
    err = emp - theory
    se = err.std(axis=0, ddof=1) / np.sqrt(len(seeds))
    assert np.all(np.abs(err.mean(axis=0)) <= 4 * se + 2.0 / width), (np.abs(err.mean(axis=0)) / (se + 1e-300)).max()
    one_step = np.abs(emp[:, 1:] - dyn.kmap.numpy(emp[:, :-1]))
    assert one_step.max() < 5 / np.sqrt(width), one_step.max()
