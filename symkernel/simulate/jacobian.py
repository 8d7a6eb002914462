r"""Finite-width check of dynamical isometry: the input-output Jacobian ``J = dx^L/dx^0`` of one
random network (Pennington et al. 2017; Pabari & Zhou §3.2), with Gaussian or orthogonal weights.

Its mean squared singular value ``|J|_F^2/N`` estimates ``chi_1^L``
(:func:`symkernel.theory.meanfield.jacobian.mean_squared_singular_value`).

>>> J = simulate_jacobian("tanh", 1.5, 0.1, width=8, depth=3, q1=1.0, seed=1)
>>> J.shape
(8, 8)
"""
import math

import numpy as np

from symkernel.core.activations import as_activation
from symkernel.errors import InvalidInputError
from symkernel.theory.meanfield.moments import moments
from .backends import check_memory, check_seed
from .mlp import _check_int


def _haar_orthogonal(rng, n):
    a = rng.standard_normal((n, n))
    qm, r = np.linalg.qr(a)
    return qm * np.sign(np.diag(r))[None, :]


def simulate_jacobian(act, sigma_w2, sigma_b2, *, width, depth, q1, weights="gaussian", seed=0,
                      gain=None, **params):
    r"""The Jacobian ``J = dx^L/dx^0`` (an N x N float64 array) of one random network.

    The input ``x^0`` has ``|x^0|^2/N = (q1 - sigma_b^2)/sigma_w^2`` so the first pre-activations
    have variance ``q1``.  ``weights``: ``'gaussian'`` (``N(0, sigma_w^2/N)`` entries) or
    ``'orthogonal'`` (``sqrt(sigma_w^2)`` times a Haar orthogonal matrix).  The mean squared
    singular value ``|J|_F^2/N`` estimates ``chi_1^L``;
    :func:`~symkernel.theory.meanfield.jacobian.spectrum_moments` gives it and the normalized
    second moment without an eigendecomposition.
    """
    act = as_activation(act, gain, **params)
    depth = _check_int("depth", depth, 0)
    if weights not in ("gaussian", "orthogonal"):
        raise InvalidInputError(f"weights must be 'gaussian' or 'orthogonal', got {weights!r}")
    sw2, sb2, q1 = float(sigma_w2), float(sigma_b2), float(q1)
    if not (sw2 > 0 and sb2 >= 0 and q1 > sb2) or not all(map(math.isfinite, (sw2, sb2, q1))):
        raise InvalidInputError("need finite sigma_w2 > 0, sigma_b2 >= 0 and q1 > sigma_b2, got "
                                f"{sigma_w2!r}, {sigma_b2!r}, {q1!r}")
    n = _check_int("width", width, 1)
    check_memory(3 * 8 * n * n, f"a {n} x {n} Jacobian")
    rng = np.random.default_rng([check_seed(seed), 3])
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


__all__ = ["simulate_jacobian"]
