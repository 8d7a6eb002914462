"""Activations: registry, gain, restricted parser, pieces, NumPy evaluation, bad input."""
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.core.activations import REGISTRY, SELU_ALPHA, SELU_SCALE
from symkernel.errors import InvalidInputError, UnknownActivationError

REQUIRED = ["identity", "relu", "leaky_relu", "abs", "step", "sign", "hardtanh", "exp", "sin", "cos",
            "erf", "gelu", "gelu_tanh", "elu", "celu", "selu", "softplus", "sigmoid", "tanh", "silu",
            "swish", "mish", "softsign", "arctan", "gaussian", "he", "monomial"]


@pytest.mark.parametrize("name", REQUIRED)
def test_registry_entry_builds_and_evaluates_like_its_expression(name):
    act = sk.activation(name)
    pts = np.array([-2.5, -0.7, 0.3, 1.9])
    expected = [float(sp.N(act.expr.subs(sk.x, sp.Float(p)), 20)) for p in pts]
    np.testing.assert_allclose(act.numpy()(pts), expected, rtol=1e-12, atol=1e-14)


def test_selu_constants_match_the_standard_31_digit_values():
    # Klambauer et al. (2017); the values used by TensorFlow/PyTorch.
    assert abs(sp.N(SELU_SCALE, 40) - sp.Float("1.0507009873554804934193349852946", 40)) < 1e-30
    assert abs(sp.N(SELU_ALPHA, 40) - sp.Float("1.6732632423543772848170429916717", 40)) < 1e-30


def test_gain_scales_the_argument_and_may_be_symbolic():
    assert sk.activation("sin", gain=sk.alpha).expr == sp.sin(sk.alpha * sk.x)
    assert sk.activation("relu", gain=2).expr == sp.Max(0, 2 * sk.x)
    assert sk.activation(sk.activation("tanh"), gain=3).expr == sp.tanh(3 * sk.x)


def test_joudaki_daneshmand_bach_2023_shifted_exponential_is_expressible_two_ways():
    assert sk.activation("exp", shift=-2).expr == sp.exp(sk.x - 2)
    assert sk.activation(sp.exp(sk.x - 2)).expr == sp.exp(sk.x - 2)


def test_pieces_and_breakpoints_with_symbolic_gain():
    act = sk.activation("hardtanh", gain=sk.alpha)
    assert act.breakpoints == [-1 / sk.alpha, 1 / sk.alpha]
    assert [p.expr for p in act.pieces] == [-1, sk.alpha * sk.x, 1]


def test_parity():
    assert sk.activation("tanh").parity == "odd"
    assert sk.activation("sigmoid").parity == "odd" and sk.activation("sigmoid").odd_offset == 1
    assert sk.activation("abs").parity == "even"
    assert sk.activation("relu").parity is None


@pytest.mark.parametrize("text, expected", [
    ("x**2 - 1", sk.x**2 - 1), ("x^3", sk.x**3), ("max(x, 0)", sp.Max(sk.x, 0)),
    ("tanh(2*x) + 0.5", sp.tanh(2 * sk.x) + sp.Rational(1, 2)), ("erf(x/sqrt(2))", sp.erf(sk.x / sp.sqrt(2))),
])
def test_restricted_parser_builds_expressions(text, expected):
    assert sk.activation(text).expr == expected


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "x.__class__", "lambda: 1",
                                  "[x for x in ()]", "open('f')", "y + 1", "'a'", "x if 1 else 2"])
def test_restricted_parser_rejects_everything_else(text):
    with pytest.raises(UnknownActivationError):
        sk.activation(text)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownActivationError, match="relu"):
        sk.activation("softmax")


@pytest.mark.parametrize("gain", [0, -1, sp.Symbol("g"), "2"])
def test_bad_gain(gain):
    with pytest.raises(InvalidInputError):
        sk.activation("relu", gain=gain)


def test_bad_parameters():
    with pytest.raises(InvalidInputError, match="slope"):
        sk.activation("leaky_relu", slop=0.1)
    with pytest.raises(InvalidInputError):
        sk.activation("he", n=-1)
    with pytest.raises(InvalidInputError):
        sk.activation("monomial", n=1.5)
    with pytest.raises(InvalidInputError):
        sk.activation([1, 2])


def test_registry_has_descriptions():
    assert all(len(entry) == 3 and entry[2] for entry in REGISTRY.values())


@pytest.mark.parametrize("text, why", [
    ("exp()", "takes 1 argument, got 0"), ("exp(x, x)", "takes 1 argument, got 2"),
    ("Heaviside(x, x, x)", "takes 1 argument, got 3"), ("sqrt(x, x, x)", "takes 1 argument"),
    ("max()", "takes 2 to 16 arguments, got 0"), ("log(x, 0)", "takes 1 argument, got 2"),
    ("1e309*x", "overflows to infinity"), ("x+\udcff", "lone surrogate"),
    ("9**9**9*x", "exponent 387420489 is beyond"), ("10**-10**10*x", "beyond 1000"),
    ("x**10**10", "beyond 1000"), ("sin(" * 30 + "x" + ")" * 30, "nested more than"),
    ("x" + "**x" * 60, "nested more than"), ("x/0", "division by zero"),
])
def test_bad_strings_get_a_package_error_naming_the_fault_at_once(text, why):
    """Issue "Bad input": each of these was a stray TypeError/UnicodeEncodeError or a hang."""
    with pytest.raises(UnknownActivationError, match=why):
        sk.activation(text)


@pytest.mark.parametrize("gain", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_gain_is_refused(gain):
    with pytest.raises(InvalidInputError, match="finite"):
        sk.isometry_strength("tanh", gain=gain)
