"""The edge of chaos at sigma_b2 = 0 (docs/theory.md §30): q* = 0 at sigma_w2 = 1/D where q = 0
attracts lengths, a refusal where it repels them, and SELU's exact q* = 1 and c* = 0 at (1, 0).

Independent paths, written here: the activations as mpmath functions, their Gaussian moments by
mpmath quadrature split at 0 and the breakpoints, the length map iterated with them, and the
small-q expansions derived by hand (comments give the derivation)."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.core.activations import SELU_ALPHA, SELU_SCALE
from symkernel.errors import PrecisionError
from symkernel.theory.meanfield import NoFixedPointError
from symkernel.theory.meanfield.moments import Q
from symkernel.theory.meanfield.zero_bias import zero_fixed_point

# Klambauer et al. (NeurIPS 2017): published SELU constants (the expected side only)
with mpmath.workdps(40):
    LAM = mpmath.mpf("1.0507009873554804934193349852946")
    ALPHA = mpmath.mpf("1.6732632423543772848170429916717")

PHI = {
    "tanh": mpmath.tanh,
    "erf": mpmath.erf,
    "elu": lambda y: y if y > 0 else mpmath.expm1(y),
    "selu": lambda y: LAM * y if y > 0 else LAM * ALPHA * mpmath.expm1(y),
    "softsign": lambda y: y / (1 + abs(y)),
    "hardtanh": lambda y: max(-1, min(1, y)),
    "gelu": lambda y: y * (1 + mpmath.erf(y / mpmath.sqrt(2))) / 2,
    "silu": lambda y: y / (1 + mpmath.exp(-y)),
    "mish": lambda y: y * mpmath.tanh(mpmath.log1p(mpmath.exp(y))),
}
#: squared one-sided slopes (phi'(0-)^2, phi'(0+)^2)
SLOPES2 = {"tanh": (1, 1), "erf": (4 / mpmath.pi, 4 / mpmath.pi), "elu": (1, 1),
           "selu": ((LAM * ALPHA) ** 2, LAM**2), "softsign": (1, 1), "hardtanh": (1, 1),
           "gelu": (0.25, 0.25), "silu": (0.25, 0.25), "mish": (0.36, 0.36)}
BREAKS = {"hardtanh": (-1, 1)}
pi, r2pi = sp.pi, sp.sqrt(2 / sp.pi)
#: first nonzero term of V(q) - D q, by hand: phi^2 = a1^2 y^2 + 2 a1 a2 y^3 + (a2^2 + 2 a1 a3) y^4
#: on each side, E[Z^4] = 3, E[Z^3; Z > 0] = sqrt(2/pi)/... = -E[Z^3; Z < 0] = sqrt(2/pi)
HAND = {
    "tanh": -2 * Q**2,                                   # tanh = y - y^3/3: 3 * (-2/3)
    "erf": -8 * Q**2 / pi,                               # (2/sqrt(pi))(y - y^3/3)
    "elu": -r2pi * Q**sp.Rational(3, 2),                 # (e^y - 1)^2 = y^2 + y^3 + ... (y < 0)
    "selu": -r2pi * SELU_SCALE**2 * SELU_ALPHA**2 * Q**sp.Rational(3, 2),
    "softsign": -4 * r2pi * Q**sp.Rational(3, 2),        # y^2 -+ 2|y|^3: -2 r - 2 r
    "hardtanh": -4 * Q**sp.Rational(3, 2) * sp.exp(-1 / (2 * Q)) / sp.sqrt(2 * pi),
    "gelu": 3 * Q**2 / (2 * pi),                         # y/2 + y^2/sqrt(2 pi) + 0 y^3
    "silu": 3 * Q**2 / 16,                               # y/2 + y^2/4 + 0 y^3
    "mish": 3 * sp.Rational(52, 625) * Q**2,             # a = 3/5, 8/25, -2/125: 64/625 - 12/625
}
STABLE = ("tanh", "erf", "elu", "selu", "softsign", "hardtanh")
UNSTABLE = ("gelu", "silu", "mish")


def _excess(name, q):
    """``E[phi(sqrt q Z)^2] - D q`` as one integral of ``phi^2 - phi'(0+-)^2 y^2`` (no
    cancellation between two large numbers), split at 0 and the breakpoints."""
    with mpmath.workdps(40):
        q = mpmath.mpf(q)
        s = mpmath.sqrt(q)
        left, right = SLOPES2[name]

        def f(z):
            y = s * z
            return (PHI[name](y) ** 2 - (right if z > 0 else left) * y * y) * mpmath.npdf(z)
        cuts = sorted({mpmath.mpf(0), *[b / s for b in BREAKS.get(name, ())]})
        return mpmath.quad(f, [-mpmath.inf, *cuts, mpmath.inf])


def _V(name, q):
    s = mpmath.sqrt(q)
    cuts = sorted({mpmath.mpf(0), *[b / s for b in BREAKS.get(name, ())]})
    return mpmath.quad(lambda z: PHI[name](s * z) ** 2 * mpmath.npdf(z),
                       [-mpmath.inf, *cuts, mpmath.inf])


@pytest.mark.parametrize("name", STABLE + UNSTABLE)
def test_leading_term_of_the_length_map_at_zero(name):
    """The package's first term of V(q) - D q equals the hand derivation exactly, and both match
    the quadrature written here at small q (next term relative q or sqrt(q)); its sign is the
    stability verdict."""
    zero = zero_fixed_point(name)
    assert sp.simplify(zero.leading - HAND[name]) == 0
    assert zero.stable == (name in STABLE)
    q = {"hardtanh": 2e-3}.get(name, 1e-6 if "3/2" in str(HAND[name]) else 1e-4)
    excess = _excess(name, q)
    ratio = excess / mpmath.mpf(sp.N(HAND[name].subs(Q, sp.Float(q, 30)), 30))
    assert abs(ratio - 1) < 1e-2, (name, ratio)     # measured: 8e-5 (SiLU) to 4.4e-3 (hardtanh)
    assert (excess < 0) == zero.stable              # below the diagonal: lengths fall to 0


@pytest.mark.parametrize("name, expected", [
    ("tanh", sp.Integer(1)), ("erf", sp.pi / 4), ("elu", sp.Integer(1)), ("celu", sp.Integer(1)),
    ("softsign", sp.Integer(1)), ("hardtanh", sp.Integer(1)), ("sin", sp.Integer(1)),
    ("selu", 2 / (SELU_SCALE**2 * (1 + SELU_ALPHA**2))),
])
def test_edge_of_chaos_at_zero_bias_is_exact(name, expected):
    w, q = sk.edge_of_chaos(name, sigma_b2=0)
    assert w.exact and sp.simplify(w.expr - expected) == 0
    assert q.exact and q.expr == 0 and isinstance(q.expr, sp.Integer) and float(q) == 0.0


def test_selu_critical_weight_variance_against_published_constants():
    """2/(lambda^2 (1 + alpha^2)) from Klambauer et al.'s printed constants (the audit's value),
    and chi_1 = sigma_w2 E[selu'(sqrt(q) Z)^2] -> 1 as q -> 0 by quadrature here; the right-slope
    guess 1/lambda^2 is rejected by the same check."""
    w, _ = sk.edge_of_chaos("selu", sigma_b2=0)
    with mpmath.workdps(40):
        ref = 2 / (LAM**2 * (1 + ALPHA**2))
        assert abs(w.value(30) - ref) < 1e-29 * ref      # the printed constants: 32 digits
        assert abs(ref - mpmath.mpf("0.47677101788275289808")) < 1e-19
        d1 = lambda y: LAM if y > 0 else LAM * ALPHA * mpmath.exp(y)  # noqa: E731
        s = mpmath.sqrt(mpmath.mpf("1e-12"))
        D1 = mpmath.quad(lambda z: d1(s * z) ** 2 * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
        assert abs(ref * D1 - 1) < 1e-5
        assert abs(D1 / LAM**2 - 1) > 0.5


@pytest.mark.parametrize("name", STABLE)
def test_lengths_fall_to_zero_at_the_critical_weight_variance(name):
    """The length map q -> sigma_w2 V(q), iterated with the quadrature here: strictly decreasing."""
    w = float(sk.edge_of_chaos(name, sigma_b2=0)[0])
    q = mpmath.mpf("0.3")
    for _ in range(6):
        nxt = w * _V(name, q)
        assert nxt < q
        q = nxt


@pytest.mark.parametrize("name", UNSTABLE)
def test_unstable_zero_is_refused_and_lengths_grow(name):
    zero = zero_fixed_point(name)
    with pytest.raises(NoFixedPointError, match="repels lengths"):
        sk.edge_of_chaos(name, sigma_b2=0)
    w, q = float(zero.sigma_w2), mpmath.mpf("1e-3")
    assert abs(w * float(SLOPES2[name][0]) - 1) < 1e-15      # chi_1 -> 1 there: 1/phi'(0)^2
    for _ in range(6):                                       # the map written here: q grows
        nxt = w * _V(name, q)
        assert nxt > q
        q = nxt


def test_critical_curve_at_zero_bias():
    """At 0: the exact values rounded (elu 1, selu 0.476771017882752898...), NaN where q* = 0
    repels lengths (GELU), hardtanh's q* the number 0; tanh unchanged."""
    w, q = sk.critical_curve("elu", [0.0, 0.01])
    assert w[0] == 1.0 and q[0] == 0.0 and 1 < w[1] < 2
    w, _ = sk.critical_curve("selu", [0.0])
    assert abs(w[0] - 0.47677101788275289808) < 2e-16
    w, q = sk.critical_curve("gelu", [0.0])
    assert np.isnan(w[0]) and np.isnan(q[0])
    w, q = sk.critical_curve("hardtanh", [0.0])
    assert (w[0], q[0]) == (1.0, 0.0)


def test_homogeneous_q_star_is_the_input_length():
    """ReLU at sigma_w2 = 2, sigma_b2 = 0 fixes every length (2 * q/2 = q): q* = q0 as a number."""
    w, q = sk.edge_of_chaos("relu", 0)
    assert (w.expr, q.expr, float(q)) == (2, 1, 1.0)
    _, q3 = sk.edge_of_chaos("relu", 0, q0=3)
    assert q3.expr == 3 == sk.mean_field("relu", 2, 0, q0=3).q_star.expr


def test_undecided_stability_is_a_package_error():
    """phi = x + x^13: V(q) - q = 2 E[Z^14] q^7 + ..., beyond the orders examined."""
    with pytest.raises(PrecisionError, match="could not decide"):
        sk.edge_of_chaos(sk.x + sk.x**13, sigma_b2=0)


def test_selu_fixed_point_exact_and_c_star_zero():
    """SELU at (1, 0): q* = 1 and c* = 0 exactly (printable); by quadrature here with the
    published constants E[selu(Z)^2] = 1 and E[selu(Z)] = 0 to 28 digits, and xi_c against the
    hand form chi_c = (E[selu'(Z)])^2 = (lambda (1/2 + alpha e^(1/2) Phi(-1)))^2 (Stein)."""
    mf = sk.mean_field("selu", 1, 0)
    assert mf.q_star.exact and mf.q_star.expr == 1
    assert mf.c_star.exact and mf.c_star.expr == 0 and float(mf.c_star) == 0.0
    assert "c*     = 0" in str(mf)
    with mpmath.workdps(32):
        sel = PHI["selu"]
        second = mpmath.quad(lambda z: sel(z) ** 2 * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
        first = mpmath.quad(lambda z: sel(z) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
        assert abs(second - 1) < 1e-28 and abs(first) < 1e-28
        chi_c = (LAM * (mpmath.mpf(1) / 2 + ALPHA * mpmath.exp(mpmath.mpf(1) / 2) *
                        mpmath.ncdf(-1))) ** 2
        assert abs(mf.xi_c.value(15) + 1 / mpmath.log(chi_c)) < 1e-13 * mf.xi_c.value(15)
    assert math.isclose(float(mf.xi_c), 33.6043420215761, rel_tol=1e-13)
    # the float64 path (Mehler series root) lands on c* = 0 too; at sigma_w2 = 1.2 it does not
    assert abs(mf.float_c_star()) < 1e-8
    other = sk.mean_field("selu", 1.2, 0)
    assert not other.q_star.exact and other.float_c_star() > 0.01
