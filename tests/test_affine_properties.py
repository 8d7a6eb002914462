"""Affine transforms sigma -> a + b sigma(c x + d) of registry activations, against paths that share
no package code: mpmath quadratures written here, and exact identities of the transform.

A shortcut taken for the wrong sigma (a parity or half-line symmetry of a function that is odd
only up to a constant, an "even" function that is even only up to a shift) shows up here.
"""
import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import symkernel as sk
from symkernel.errors import PrecisionError

# mpmath versions of the base activations and their breakpoints, written independently here
BASE = {
    "relu": (lambda t: max(t, 0), [0]),
    "abs": (abs, [0]),
    "step": (lambda t: mpmath.mpf(1) if t > 0 else mpmath.mpf(0), [0]),
    "hardtanh": (lambda t: max(-1, min(1, t)), [-1, 1]),
    "elu": (lambda t: t if t > 0 else mpmath.exp(t) - 1, [0]),
    "softsign": (lambda t: t / (1 + abs(t)), [0]),
    "tanh": (mpmath.tanh, []),
    "sigmoid": (lambda t: 1 / (1 + mpmath.exp(-t)), []),
    "softplus": (lambda t: mpmath.log1p(mpmath.exp(t)), []),
    "gelu": (lambda t: t * mpmath.ncdf(t), []),
    "silu": (lambda t: t / (1 + mpmath.exp(-t)), []),
    "erf": (mpmath.erf, []),
    "sin": (mpmath.sin, []),
    "gaussian": (lambda t: mpmath.exp(-t * t / 2), []),
}

small = st.integers(-3, 3).filter(lambda v: v != 0)
transforms = st.tuples(st.sampled_from(sorted(BASE)), st.integers(-2, 2), small,
                       st.sampled_from([sp.Rational(1, 2), 1, sp.Rational(3, 2)]),
                       st.sampled_from([0, sp.Rational(-1, 2), sp.Rational(1, 3)]))


def _transformed(name, a, b, c, d):
    base = sk.activation(name).expr
    return sk.activation(a + b * base.subs(sk.x, c * sk.x + d))


def _mp_transformed(name, a, b, c, d):
    f, breaks = BASE[name]
    a, b, c, d = (sp.Rational(v) for v in (a, b, c, d))

    def mp(v):  # at the precision in force when called (the quadrature's), not at import
        return mpmath.mpf(int(v.p)) / int(v.q)
    return (lambda t: mp(a) + mp(b) * f(mp(c) * t + mp(d))), sorted((p - d) / c for p in breaks)


def _direct(g, breaks, dps=30):
    """E[g(Z)] by mpmath.quad split at the breakpoints and at fixed scale points."""
    with mpmath.workdps(dps):
        cuts = {mpmath.mpf(int(p.p)) / int(p.q) for p in map(sp.Rational, breaks)}
        pts = sorted({mpmath.mpf(p) for p in (-12, -6, -3, 0, 3, 6, 12)} | cuts)
        pts = [-mpmath.inf, *pts, mpmath.inf]
        return mpmath.quad(lambda t: g(t) * mpmath.exp(-t * t / 2), pts) / mpmath.sqrt(2 * mpmath.pi)


def _he(k, t):
    return mpmath.hermite(k, t / mpmath.sqrt(2)) / mpmath.sqrt(2**k * mpmath.factorial(k))


def _close(got, ref, digits):
    with mpmath.workdps(40):
        return abs(got - ref) <= mpmath.mpf(10) ** (-digits) * max(1, abs(ref))


@settings(max_examples=20)
@given(transforms)
def test_hermite_coefficients_of_affine_transforms_match_direct_quadrature(spec):
    name, a, b, c, d = spec
    act = _transformed(name, a, b, c, d)
    g, breaks = _mp_transformed(name, a, b, c, d)
    for k in range(4):
        q = sk.hermite_coefficient(act, k)
        ref = _direct(lambda t: g(t) * _he(k, t), breaks)
        try:
            got = q.value(20)
        except PrecisionError:
            # only a value that is zero to the quadrature's accuracy may be refused
            assert abs(ref) < 1e-20, (spec, k, ref)
            continue
        assert _close(got, ref, 18), (spec, k, q.provenance, got, ref)


@settings(max_examples=15)
@given(transforms)
def test_isometry_strength_of_affine_transforms_match_direct_quadrature(spec):
    name, a, b, c, d = spec
    act = _transformed(name, a, b, c, d)
    g, breaks = _mp_transformed(name, a, b, c, d)
    with mpmath.workdps(30):
        c0 = _direct(g, breaks)
        c1 = _direct(lambda t: g(t) * t, breaks)
        m2 = _direct(lambda t: g(t) ** 2, breaks)
        ref = 2 - c1**2 / (m2 - c0**2)
    assert _close(sk.isometry_strength(act).value(20), ref, 17), spec


@settings(max_examples=15)
@given(st.sampled_from(sorted(BASE)), st.integers(-3, 3), small)
def test_output_affine_identities(name, a, b):
    """c_0(a + b sigma) = a + b c_0, c_k = b c_k (k >= 1), beta unchanged (exact identities)."""
    act = sk.activation(name)
    moved = sk.activation(a + b * act.expr)
    for k in range(4):
        lhs = sk.hermite_coefficient(moved, k)
        base = sk.hermite_coefficient(act, k)
        with mpmath.workdps(40):
            want = (a if k == 0 else 0) + b * base.value(30)
            got = lhs.value(30)
            assert abs(got - want) <= mpmath.mpf(10) ** -27 * max(1, abs(want)), (name, a, b, k)
    beta, beta_moved = sk.isometry_strength(act), sk.isometry_strength(moved)
    with mpmath.workdps(40):
        assert abs(beta.value(30) - beta_moved.value(30)) < mpmath.mpf(10) ** -27


@pytest.mark.parametrize("name", ["tanh", "softsign", "erf", "sin", "arctan"])
def test_odd_up_to_a_constant_is_not_odd(name):
    act = sk.activation(1 + sk.activation(name).expr)
    assert act.parity == "odd" and act.strict_parity is None and act.odd_offset == 2
    assert sk.expectation(act).value(20) == 1 or _close(sk.expectation(act).value(20), 1, 19)
