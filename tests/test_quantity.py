"""Quantity: exact and numeric values, LaTeX (golden strings), provenance, errors."""
import dataclasses

import mpmath
import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import InvalidInputError, SymbolicValueError


def test_exact_quantity_latex_golden_strings():
    q = sk.isometry_strength("step")
    assert q.latex() == r"2 - \frac{2}{\pi}"
    assert q.latex(equation=True) == r"\beta_{\sigma} = 2 - \frac{2}{\pi}"
    assert q._repr_latex_() == r"$\beta_{\sigma} = 2 - \frac{2}{\pi}$"
    assert sp.latex(q) == r"2 - \frac{2}{\pi}"
    assert sp.latex(sk.hermite_coefficient("relu", 1)) == r"\frac{1}{2}"


def test_numeric_quantity_latex_shows_only_correct_digits():
    q = sk.hermite_coefficient("tanh", 1)
    assert q.latex(digits=12) == "0.605705509602"
    assert q.latex(digits=30, equation=True) == "c_{1} = 0.605705509602158825583540227556"


def test_value_is_an_mpf_correct_to_the_requested_digits():
    q = sk.hermite_coefficient("relu", 0)
    with mpmath.workdps(60):
        exact = 1 / mpmath.sqrt(2 * mpmath.pi)
        assert abs(q.value(50) - exact) < mpmath.mpf(10) ** -50
    assert isinstance(q.value(20), mpmath.mpf)
    assert float(q) == pytest.approx(0.3989422804014327, rel=1e-15)


def test_symbolic_quantity_needs_values():
    q = sk.isometry_strength("sin", gain=sk.alpha)
    with pytest.raises(SymbolicValueError, match="alpha"):
        q.value()
    assert q.subs(sk.alpha, 1).value(30) == sk.isometry_strength("sin").value(30)


def test_quantity_is_frozen_and_has_provenance():
    q = sk.hermite_coefficient("gelu", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.expr = 0
    assert q.provenance.startswith("exact")
    assert sk.hermite_coefficient("softplus", 2).provenance.startswith("certified")
    assert sk.hermite_coefficient("softplus", 2).kind == "certified"
    assert q.kind == "exact"


@pytest.mark.parametrize("dps", [0, -3, 2.5, "10", True])
def test_bad_dps(dps):
    with pytest.raises(InvalidInputError):
        sk.hermite_coefficient("relu", 0).value(dps)


def test_repr_is_readable():
    assert repr(sk.hermite_coefficient("relu", 1)) == "Quantity(c_{1} = 1/2, exact)"
    assert repr(sk.hermite_coefficient("tanh", 1)).startswith("Quantity(c_{1} ≈ 0.605705509602159, certified: Arb")


def test_an_infinite_exact_quantity_is_a_value():
    """An infinite depth scale is an answer (ReLU at the edge of chaos; tanh at (1, 0)), not an
    error: float inf, value +inf with error 0, LaTeX \\infty."""
    import math

    import symkernel as sk

    xi_c = sk.mean_field("relu", 2, 0).xi_c
    assert xi_c.exact and xi_c.expr == sp.oo
    assert float(xi_c) == math.inf and xi_c.value(30) == mpmath.inf and xi_c.error(20) == 0
    assert xi_c.latex() == r"\infty"
    assert float(sk.mean_field("tanh", 1, 0).xi_c) == math.inf


def _selu_mean():
    from symkernel.core.activations import SELU_ALPHA, SELU_SCALE
    half = sp.Rational(1, 2)
    return SELU_SCALE * (SELU_ALPHA * sp.exp(half) * sp.erfc(sp.sqrt(2) / 2) - SELU_ALPHA
                         + sp.sqrt(2) / sp.sqrt(sp.pi)) / 2


def test_proved_zero_settles_selu_mean_without_simplify(monkeypatch):
    """E selu(Z) = 0 by the definition of alpha_01: the common-denominator test proves it (no
    sympy.simplify, which took seconds here) and does not prove a tiny nonzero number 0;
    quadrature written here confirms the 0 (and sees a wrong alpha)."""
    from symkernel.core import quantity
    from symkernel.core.activations import SELU_ALPHA, SELU_SCALE

    mean = _selu_mean()
    quantity.proved_zero.cache_clear()
    monkeypatch.setattr(sp, "simplify", lambda e, *a, **k: e)     # simplify proves nothing
    assert quantity.proved_zero(mean)
    assert quantity.zero_if_proved(mean) == 0
    assert not quantity.proved_zero(mean + sp.Rational(1, 10**40))   # tiny, not 0
    assert quantity.zero_if_proved(mean + sp.Rational(1, 10**40)) != 0
    monkeypatch.undo()
    quantity.proved_zero.cache_clear()
    with mpmath.workdps(40):      # the independent path: E selu(Z) by quadrature, split at 0
        lam, alp = mpmath.mpf(str(sp.N(SELU_SCALE, 45))), mpmath.mpf(str(sp.N(SELU_ALPHA, 45)))

        def mean_of(a):
            phi = lambda t: mpmath.exp(-t * t / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
            neg = mpmath.quad(lambda t: a * (mpmath.exp(t) - 1) * phi(t), [-mpmath.inf, 0])
            return lam * (neg + mpmath.quad(lambda t: t * phi(t), [0, mpmath.inf]))
        assert abs(mean_of(alp)) < mpmath.mpf(10) ** -35
        assert abs(mean_of(alp * (1 + mpmath.mpf(10) ** -10))) > mpmath.mpf(10) ** -12


def test_printed_digits_are_rounded_once():
    """str, latex and text round the value once from all its bits: xi_q of erf at (2.5, 0.05) is
    0.92514453449175450063..., whose 15 digits end in 755 (rounding first to a binary precision of
    15 digits, then printing, gave 754; so did xi_c of tanh at (1.77, 0.05), 524.2436738232085166
    shown as ...208); checked against the 20-digit value rounded to 15 digits here."""
    import mpmath
    import symkernel as sk

    xi = sk.mean_field("erf", 2.5, 0.05).xi_q
    assert str(xi) == "0.925144534491755" == xi.latex() == xi.text(15)
    assert mpmath.nstr(xi.value(15), 15) == "0.925144534491754"      # what printing value(15) gives
    for q in (xi, sk.mean_field("erf", 3, 0.1).q_star):
        want = mpmath.nstr(q.value(20), 15)
        assert str(q) == want == q.text(15), (q.symbol, str(q), want)
