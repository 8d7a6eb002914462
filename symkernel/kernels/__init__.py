r"""Dual kernels, the kernel map and derivative kernels (docs/theory.md §2).

For ``(X, Y)`` standard bivariate normal with correlation ``rho``:

* dual kernel (Daniely et al. 2016) ``sigma_hat(rho) = E[sigma(X) sigma(Y)] = sum_k c_k^2 rho^k``;
* mean-reduced dual (Joudaki, Daneshmand & Bach (NeurIPS 2023), Def. 5) ``sigma_bar(rho) = sigma_hat(rho) - c_0^2``;
* kernel map (Joudaki & Hofmann (AISTATS 2025), Def. 1) ``kappa(rho) = sigma_hat(rho) / sigma_hat(1)``;
* derivative kernel ``E[sigma'(X) sigma'(Y)] = sigma_hat'(rho)`` (Price's theorem).

Modules: ``closed_forms`` (exact derivation by iterated Gaussian integrals), ``numeric``
(quadrature / Hermite-series paths, two precisions), ``hermite_squares`` (many c_k at once),
``certified`` (Arb enclosures on the inner-form path), ``precision`` (values through the
numerics core), ``arguments``, ``arithmetic`` (Quantity sums/products), ``kernel`` (:class:`Kernel`).

>>> import symkernel as sk
>>> sk.dual_kernel("relu").expr
(2*rho*asin(rho) + pi*rho + 2*sqrt(1 - rho**2))/(4*pi)
>>> sk.kernel_map("exp").expr
exp(rho - 1)
>>> sk.dual_kernel("erf").expr
2*asin(2*rho/3)/pi
>>> import mpmath; mpmath.nstr(sk.kernel_map("relu")(0.5, dps=30), 25)
'0.6089977810442293580889966'
>>> sk.derivative_kernel("relu").expr
(2*asin(rho) + pi)/(4*pi)
"""
import mpmath

from symkernel.numerics import serialized
from symkernel.errors import InvalidInputError, PrecisionError
from symkernel.gaussian.expectation import check_square_integrable, second_moment
from symkernel.coefficients.hermite import hermite_coefficient
from symkernel.numerics import GUARD, Result
from symkernel.core.activations import as_activation
from symkernel.core.quantity import Quantity
from .arithmetic import _q, _qmul
from .closed_forms import _clean_number, weak_derivative
from .kernel import MINUS_C0_SQUARED, Kernel

# re-exported: rho_value for symkernel.theory.dynamics, _Dual for tests/test_kernels*.py
from .arguments import rho_value  # noqa: F401,E402
from .kernel import CLOSED_PROVENANCE, INNER_PROVENANCE, NESTED_PROVENANCE  # noqa: F401,E402
from .numeric import _Dual  # noqa: F401,E402


def _prepare(act, gain, params):
    """The activation (:func:`~symkernel.core.activations.as_activation`), square integrable."""
    act = as_activation(act, gain, **params)
    check_square_integrable(act)
    return act


@serialized
def dual_kernel(act, gain=None, **params):
    r"""The dual kernel ``sigma_hat(rho) = E[sigma(X) sigma(Y)]`` (Daniely et al. 2016) as a :class:`Kernel`.

    >>> dual_kernel("sin").expr
    -exp(-rho - 1)/2 + exp(rho - 1)/2
    >>> import symkernel as sk
    >>> dual_kernel(sk.activation("relu", gain=2)).expr
    (2*rho*asin(rho) + pi*rho + 2*sqrt(1 - rho**2))/pi
    """
    return Kernel(_prepare(act, gain, params))


@serialized
def mean_reduced_dual(act, gain=None, **params):
    r"""``sigma_bar(rho) = sigma_hat(rho) - c_0^2`` (Joudaki, Daneshmand & Bach (NeurIPS 2023), Definition 5).

    >>> mean_reduced_dual("step").expr
    asin(rho)/(2*pi)
    """
    act = _prepare(act, gain, params)
    c0 = hermite_coefficient(act, 0)
    if c0.exact:
        minus = Quantity(-c0.expr**2, "c_0^2", c0.provenance)
    else:   # marked: sigma_bar(0) = c_0^2 - c_0^2 is then an exact 0 (Kernel.result)
        prod = _qmul(_q(-1), _qmul(c0, c0))
        minus = Quantity(None, "c_0^2", prod.provenance, prod.numeric, params=((MINUS_C0_SQUARED, True),))
    return Kernel(act, poly=(minus,), symbol=r"\bar{\sigma}", name="mean-reduced dual kernel")


@serialized
def kernel_map(act, gain=None, **params):
    r"""``kappa(rho) = sigma_hat(rho)/sigma_hat(1)`` (Joudaki & Hofmann (AISTATS 2025), Definition 1), so ``kappa(1) = 1``.

    >>> kernel_map("cos").expr
    (exp(2*rho) + 1)*exp(1 - rho)/(1 + exp(2))
    """
    act = _prepare(act, gain, params)
    m2 = second_moment(act)
    if m2.exact:
        if m2.expr == 0:
            raise InvalidInputError("the kernel map of the zero activation is undefined")
        scale = Quantity(_clean_number(1 / m2.expr), r"1/\mathbb{E}[\sigma^2]", m2.provenance)
    else:
        def inv(dps):   # 1/v with |1/v - 1/(v +- e)| <= e / (|v| (|v| - e)), at dps + GUARD digits
            res = m2.result(dps + 5)
            v, e = res.value, res.error
            if e >= abs(v):
                raise PrecisionError("E[sigma^2] is not separated from 0")
            value = 1 / v
            err = e / (abs(v) * (abs(v) - e)) + abs(value) * mpmath.mpf(10) ** (-(dps + GUARD))
            return Result(value, err, res.certified, "reciprocal")
        scale = Quantity(None, r"1/\mathbb{E}[\sigma^2]", m2.provenance, inv)
    return Kernel(act, scale=scale, symbol=r"\kappa", name="kernel map")


@serialized
def derivative_kernel(act, gain=None, **params):
    r"""``E[sigma'(X) sigma'(Y)] = sigma_hat'(rho)`` (NTK factor; Price's theorem).

    Raises InvalidInputError when sigma jumps (sigma' has a Dirac delta: step, sign).

    >>> derivative_kernel("exp").expr
    exp(rho + 1)
    """
    act = _prepare(act, gain, params)
    deriv, why = weak_derivative(act)
    if deriv is None:
        raise InvalidInputError(f"the derivative kernel E[sigma'(X) sigma'(Y)] does not exist: {why}")
    kern = Kernel(act, order=1, symbol=r"\dot{\sigma}", name="derivative kernel")
    return kern


__all__ = ["Kernel", "dual_kernel", "mean_reduced_dual", "kernel_map", "derivative_kernel",
           "weak_derivative"]
