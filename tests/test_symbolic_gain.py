"""A symbolic gain written as ``gain=sk.alpha`` or inside the expression (``"tanh(alpha*x)"``):
the same closed forms, and every result object displays without raising while alpha is free."""
import pytest
import sympy as sp

import symkernel as sk


@pytest.mark.parametrize("name", ["exp", "sin", "relu"])
def test_alpha_in_the_string_is_the_gain(name):
    written = {"exp": "exp(alpha*x)", "sin": "sin(alpha*x)", "relu": "max(alpha*x, 0)"}[name]
    a = sk.isometry_strength(written).expr
    b = sk.isometry_strength(name, gain=sk.alpha).expr
    assert sp.simplify(a - b) == 0
    assert sk.activation(written).free_parameters == {sk.alpha}


@pytest.mark.parametrize("spec", [("tanh", sk.alpha), ("softplus", sk.alpha), ("tanh(alpha*x)", 1)])
def test_results_with_a_free_gain_display(spec):
    act = sk.activation(spec[0], gain=spec[1])
    objects = [sk.kernel_map(act), sk.dual_kernel(act), sk.derivative_kernel(act),
               sk.isometry_strength(act), sk.hermite_coefficient(act, 1)]
    if spec[0] == "softplus":   # kappa(0) has no closed form: the case depends on alpha
        with pytest.raises(sk.SymbolicValueError, match="kappa\\(0\\).*alpha"):
            sk.kernel_dynamics(act)
    else:                       # odd: kappa(0) = 0 exactly, case 1 for every alpha
        objects.append(sk.kernel_dynamics(act))
        assert objects[-1].case == 1
    for obj in objects:
        assert isinstance(repr(obj), str)          # it once raised: numerics of a free gain
        if hasattr(obj, "_repr_latex_"):
            assert isinstance(obj._repr_latex_(), (str, type(None)))


def test_unknown_name_in_a_string_names_the_allowed_ones():
    with pytest.raises(sk.UnknownActivationError, match="unknown name 'beta'.*'alpha'"):
        sk.activation("tanh(beta*x)")


def test_leaky_relu_with_a_symbolic_slope_is_case_3_except_at_slope_one():
    a = sp.Symbol("a", positive=True)
    dyn = sk.kernel_dynamics(sk.activation("leaky_relu", slope=a))
    assert dyn.case == 3 and dyn.fixed_point.expr == 1
    assert any("vanishes at a = 1" in note for note in dyn.notes)
    for slope in (sp.Rational(1, 5), sp.Rational(1, 2), 3):
        numeric = sk.kernel_dynamics(sk.activation("leaky_relu", slope=slope))
        assert numeric.case == 3
        assert sp.simplify(dyn.rate.expr.subs(a, slope) - numeric.rate.expr) == 0
