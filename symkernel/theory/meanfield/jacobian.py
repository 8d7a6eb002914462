r"""Dynamical isometry: the input-output Jacobian of a deep network (Pennington et al. 2017;
Pabari & Zhou §3.2).

For ``h^l = W^l x^{l-1} + b^l``, ``x^l = phi(h^l)``, the Jacobian ``J = dx^L/dx^0 =
D^L W^L ... D^1 W^1`` with ``D^l = diag(phi'(h^l))``.  Taking expectations layer by layer
(``W^l`` independent of ``D^l``'s past, ``E[W^T D^2 W] = sigma_w^2 E[phi'(h)^2] I``):

.. math::  \frac1N E\,\mathrm{tr}(J J^\top) = \prod_{l=1}^{L} \sigma_w^2 E[\phi'(\sqrt{q^l} Z)^2]
           = \chi_1^L \quad (q^l = q^*),

the mean squared singular value, for Gaussian *and* orthogonal weights alike (it involves only
the second moment of ``W``); the two ensembles differ in the spread of the spectrum, not its mean.

>>> import symkernel as sk, sympy as sp
>>> mean_squared_singular_value("relu", sp.Symbol("s", positive=True), sp.Rational(1, 10), 5).expr
s**5/32
"""
import math

import numpy as np
import sympy as sp

from symkernel.numerics import serialized
from symkernel.errors import InvalidInputError
from symkernel.gaussian.expectation import as_activation
from symkernel.core.quantity import Quantity
from .maps import MeanField
from .moments import moments


def _check_depth(depth):
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
        raise InvalidInputError(f"depth must be an integer >= 0, got {depth!r}")
    return int(depth)


@serialized
def mean_squared_singular_value(act, sigma_w2, sigma_b2, depth, q0=1):
    r"""``chi_1^depth``: the mean squared singular value of ``J`` with every layer at ``q*``
    (a Quantity; exact where ``chi_1`` is)."""
    depth = _check_depth(depth)
    chi = MeanField(act, sigma_w2, sigma_b2, q0).chi_1
    if chi.exact:
        return Quantity(sp.simplify(chi.expr ** depth), rf"\chi_1^{{{depth}}}",
                        "exact: chi_1^L", params=chi.params)
    # chi_1 to dps + 2 + (digits of L) digits: the L-th power loses at most log10(L) of them
    return Quantity(None, rf"\chi_1^{{{depth}}}", "estimated: chi_1^L, chi_1 estimated",
                    lambda dps: chi.value(dps + 2 + len(str(depth))) ** depth, params=chi.params)


@serialized
def mean_squared_singular_value_along(act, sigma_w2, sigma_b2, q1, depth):
    """``prod_l sigma_w^2 D1(q^l)`` along the length-map trajectory from ``q^1 = q1`` (float64)."""
    m = moments(as_activation(act))
    depth = _check_depth(depth)
    sw2, sb2 = float(sigma_w2), float(sigma_b2)
    q, out = float(q1), 1.0
    for _ in range(depth):
        out *= sw2 * m._np_one("D1", q)
        q = sw2 * m._np_one("V", q) + sb2
    return out


def _haar_orthogonal(rng, n):
    a = rng.standard_normal((n, n))
    qm, r = np.linalg.qr(a)
    return qm * np.sign(np.diag(r))[None, :]


def simulate_jacobian(act, sigma_w2, sigma_b2, *, width, depth, q1, weights="gaussian", seed=0):
    r"""The Jacobian ``J = dx^L/dx^0`` (an N x N float64 array) of one random network.

    The input ``x^0`` has ``|x^0|^2/N = (q1 - sigma_b^2)/sigma_w^2`` so the first pre-activations
    have variance ``q1``.  ``weights``: ``'gaussian'`` (``N(0, sigma_w^2/N)`` entries) or
    ``'orthogonal'`` (``sqrt(sigma_w^2)`` times a Haar orthogonal matrix).  The mean squared
    singular value ``|J|_F^2/N`` estimates ``chi_1^L``; :func:`spectrum_moments` gives it and the
    normalized second moment without an eigendecomposition.
    """
    act = as_activation(act)
    depth = _check_depth(depth)
    if weights not in ("gaussian", "orthogonal"):
        raise InvalidInputError(f"weights must be 'gaussian' or 'orthogonal', got {weights!r}")
    sw2, sb2, q1 = float(sigma_w2), float(sigma_b2), float(q1)
    if not (sw2 > 0 and sb2 >= 0 and q1 > sb2):
        raise InvalidInputError("need sigma_w2 > 0, sigma_b2 >= 0 and q1 > sigma_b2")
    n = int(width)
    rng = np.random.default_rng([int(seed), 3])
    m = moments(act)
    f = act.numpy()
    x = rng.standard_normal(n)
    x *= math.sqrt(n * (q1 - sb2) / sw2) / np.linalg.norm(x)
    J = np.eye(n)
    for _ in range(depth):
        if weights == "gaussian":
            W = rng.standard_normal((n, n)) * math.sqrt(sw2 / n)
        else:
            W = _haar_orthogonal(rng, n) * math.sqrt(sw2)
        h = W @ x + math.sqrt(sb2) * rng.standard_normal(n)
        dphi = m.values(1.0, h)[1]          # phi'(h) (piecewise, exact derivative)
        J = dphi[:, None] * (W @ J)
        x = f(h)
    return J


def spectrum_moments(J):
    """``(m1, m2/m1^2)`` of the squared singular values of ``J``: ``m1 = tr(J J^T)/N`` and
    ``m2 = tr((J J^T)^2)/N`` (the second ratio is 1 for a perfectly isometric ``J``)."""
    n = J.shape[0]
    m1 = float(np.sum(J * J)) / n
    JJ = J @ J.T
    m2 = float(np.sum(JJ * JJ)) / n
    return m1, m2 / (m1 * m1)
