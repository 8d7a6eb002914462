r"""Dynamical isometry: the input-output Jacobian of a deep network (Pennington et al. 2017;
Pabari & Zhou §3.2).

For ``h^l = W^l x^{l-1} + b^l``, ``x^l = phi(h^l)``, the Jacobian ``J = dx^L/dx^0 =
D^L W^L ... D^1 W^1`` with ``D^l = diag(phi'(h^l))``.  Taking expectations layer by layer
(``W^l`` independent of ``D^l``'s past, ``E[W^T D^2 W] = sigma_w^2 E[phi'(h)^2] I``):

.. math::  \frac1N E\,\mathrm{tr}(J J^\top) = \prod_{l=1}^{L} \sigma_w^2 E[\phi'(\sqrt{q^l} Z)^2]
           = \chi_1^L \quad (q^l = q^*),

the mean squared singular value, for Gaussian *and* orthogonal weights alike (it involves only
the second moment of ``W``); the two ensembles differ in the spread of the spectrum, not its mean
(its higher moments and density by free probability: :mod:`.spectrum`, docs/theory.md §11.2).

>>> import symkernel as sk, sympy as sp
>>> mean_squared_singular_value("relu", sp.Symbol("s", positive=True), sp.Rational(1, 10), 5).expr
s**5/32
"""
import numpy as np
import sympy as sp

from symkernel.numerics import serialized
from symkernel.errors import InvalidInputError
from symkernel.core.activations import as_activation
from symkernel.core.quantity import Quantity
from .maps import MeanField
from .moments import moments


def _check_depth(depth):
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
        raise InvalidInputError(f"depth must be an integer >= 0, got {depth!r}")
    return int(depth)


@serialized
def mean_squared_singular_value(act, sigma_w2, sigma_b2, depth, q0=1, gain=None, **params):
    r"""``chi_1^depth``: the mean squared singular value of ``J`` with every layer at ``q*``
    (a Quantity; exact where ``chi_1`` is)."""
    depth = _check_depth(depth)
    chi = MeanField(act, sigma_w2, sigma_b2, q0, gain, **params).chi_1
    if chi.exact:
        return Quantity(sp.simplify(chi.expr ** depth), rf"\chi_1^{{{depth}}}",
                        "exact: chi_1^L", params=chi.params)
    # chi_1 to dps + 2 + (digits of L) digits: the L-th power loses at most log10(L) of them
    return Quantity(None, rf"\chi_1^{{{depth}}}", "estimated: chi_1^L, chi_1 estimated",
                    lambda dps: chi.value(dps + 2 + len(str(depth))) ** depth, params=chi.params)


@serialized
def mean_squared_singular_value_along(act, sigma_w2, sigma_b2, q1, depth, gain=None, **params):
    """``prod_l sigma_w^2 D1(q^l)`` along the length-map trajectory from ``q^1 = q1`` (float64)."""
    m = moments(as_activation(act, gain, **params))
    depth = _check_depth(depth)
    sw2, sb2 = float(sigma_w2), float(sigma_b2)
    q, out = float(q1), 1.0
    for _ in range(depth):
        out *= sw2 * m.np_one("D1", q)
        q = sw2 * m.np_one("V", q) + sb2
    return out


def spectrum_moments(J):
    """``(m1, m2/m1^2)`` of the squared singular values of ``J``: ``m1 = tr(J J^T)/N`` and
    ``m2 = tr((J J^T)^2)/N`` (the second ratio is 1 for a perfectly isometric ``J``)."""
    n = J.shape[0]
    m1 = float(np.sum(J * J)) / n
    JJ = J @ J.T
    m2 = float(np.sum(JJ * JJ)) / n
    return m1, m2 / (m1 * m1)
