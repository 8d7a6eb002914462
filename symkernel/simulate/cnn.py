r"""Finite-width 1-D CNNs on a ring, in NumPy (Xiao et al., ICML 2018; Pabari & Zhou eq. 13;
docs/theory.md §9).

``c`` channels, ``n`` positions with periodic boundary, filters of width ``2k+1``:

.. math::  h^{l+1}_j(\alpha) = \sum_{i}\sum_{|\beta|\le k} \omega^{l+1}_{ji}(\beta)\,
           \phi(h^l_i(\alpha+\beta)) + b^{l+1}_j, \qquad b_j \sim N(0, \sigma_b^2).

Weights: ``'gaussian'``, i.i.d. ``N(0, sigma_w^2/(c(2k+1)))``; ``'delta_orthogonal'`` (Xiao et al.
2018, Algorithm 2), zero except at the centre tap ``beta = 0``, where the filter is ``sigma_w``
times a Haar-orthogonal ``c x c`` matrix (sign-corrected QR of a normal matrix, Mezzadri 2007).

The input ``h^0`` (``c x n``: channel, position) is given, or drawn with i.i.d. channels
``N(0, Sigma0)``.  Recorded per layer: the empirical covariance across positions
``Sigma^l = h^l{}^T h^l / c`` (to compare with :func:`~symkernel.theory.meanfield.cnn_map.cnn_map`)
and, on request, the Jacobian ``J = dh^L/dh^0`` (a ``cn x cn`` array, index
``(channel, position)``),
whose mean squared singular value ``|J|_F^2/(cn)`` estimates ``chi_1^L`` when ``h^0`` is at
``Sigma*``.

>>> import numpy as np
>>> res = simulate_cnn("tanh", np.eye(4), channels=16, depth=3, sigma_w2=1.5, seed=0)
>>> res.covariance.shape, res.params["weights"]
((4, 4, 4), 'gaussian')
"""
import math
from dataclasses import dataclass, field

import numpy as np

from symkernel.core.activations import as_activation
from symkernel.errors import InvalidInputError
from symkernel.theory.meanfield.cnn_map import check_covariance
from symkernel.theory.meanfield.moments import moments
from .backends import check_memory, check_seed
from .mlp import _check_int

WEIGHTS = ("gaussian", "delta_orthogonal")


@dataclass(frozen=True, eq=False)
class CNNSimulation:
    """``covariance[l]`` (``(depth+1, n, n)``), ``jacobian`` (``cn x cn`` or None), ``output``
    (``h^depth``, ``c x n``) and the run's ``params``."""

    covariance: np.ndarray
    output: np.ndarray
    params: dict = field(default_factory=dict)
    jacobian: np.ndarray = None


def haar_orthogonal(rng, c):
    """A Haar-distributed ``c x c`` orthogonal matrix (QR of a normal matrix, signs corrected)."""
    qm, r = np.linalg.qr(rng.standard_normal((c, c)))
    return qm * np.where(np.diagonal(r) < 0, -1.0, 1.0)[None, :]


def cnn_filter(rng, channels, k, sigma_w2, weights="gaussian"):
    """A ``(2k+1, c, c)`` filter ``omega[beta + k, j, i]`` of the ensemble ``weights``."""
    if weights not in WEIGHTS:
        raise InvalidInputError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    c, w = channels, 2 * k + 1
    if weights == "gaussian":
        return rng.standard_normal((w, c, c)) * math.sqrt(sigma_w2 / (c * w))
    out = np.zeros((w, c, c))
    out[k] = math.sqrt(sigma_w2) * haar_orthogonal(rng, c)
    return out


def convolve(omega, x):
    """``sum_beta omega[beta + k] @ x[:, alpha + beta, ...]`` on the ring (axis 1 of ``x``);
    taps that are all zero are skipped."""
    k = (omega.shape[0] - 1) // 2
    c = x.shape[0]
    out = np.zeros((omega.shape[1],) + x.shape[1:])
    for beta in range(-k, k + 1):
        tap = omega[beta + k]
        if not tap.any():
            continue
        shifted = np.roll(x, -beta, axis=1)
        out += (tap @ shifted.reshape(c, -1)).reshape(out.shape)
    return out


def simulate_cnn(act, Sigma0=None, inputs=None, *, channels, depth, k=1, sigma_w2, sigma_b2=0.0,
                 weights="gaussian", seed=0, jacobian=False, gain=None, **params):
    """Propagate one input through a random 1-D CNN (see the module docstring).

    ``Sigma0`` (n x n covariance; the input's channels are drawn i.i.d. from ``N(0, Sigma0)``) or
    ``inputs`` (a ``channels x n`` array ``h^0``).  ``seed``: the input from ``[seed, 5]``, the
    weights and biases from ``[seed, 6]``.  Returns a :class:`CNNSimulation`.
    """
    act = as_activation(act, gain, **params)
    c = _check_int("channels", channels, 1)
    depth = _check_int("depth", depth, 0)
    k = _check_int("k", k, 0)
    sw2, sb2 = float(sigma_w2), float(sigma_b2)
    if not (math.isfinite(sw2) and sw2 > 0 and math.isfinite(sb2) and sb2 >= 0):
        raise InvalidInputError(f"need finite sigma_w2 > 0 and sigma_b2 >= 0, got "
                                f"{sigma_w2!r}, {sigma_b2!r}")
    if weights not in WEIGHTS:
        raise InvalidInputError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    seed = check_seed(seed)
    if (Sigma0 is None) == (inputs is None):
        raise InvalidInputError("give exactly one of Sigma0 (a covariance) and inputs (c x n)")
    if inputs is None:
        S0 = check_covariance(Sigma0)
        n = S0.shape[0]
    else:
        h = np.asarray(inputs, dtype=float)
        if h.ndim != 2 or h.shape[0] != c or not np.all(np.isfinite(h)):
            raise InvalidInputError(f"inputs must be a finite channels x n array with "
                                    f"channels = {c}, got shape {h.shape}")
        n = h.shape[1]
    N = c * n
    check_memory(8 * ((depth + 1) * n * n + 4 * N + (2 * k + 1) * c * c
                      + (5 * N * N if jacobian else 0)),     # J, D J, a shift, out, a tap's product
                 f"a CNN of {c} channels on {n} positions"
                 + (" with its Jacobian" if jacobian else ""))
    if inputs is None:
        lam, U = np.linalg.eigh(S0)
        if lam.min() < -1e-10 * max(lam.max(), 1e-300):
            raise InvalidInputError(f"Sigma0 is not positive semidefinite (eigenvalue "
                                    f"{lam.min():.3g}): no Gaussian input has this covariance")
        root = U * np.sqrt(np.clip(lam, 0.0, None))
        h = np.random.default_rng([seed, 5]).standard_normal((c, n)) @ root.T
    rng = np.random.default_rng([seed, 6])
    f = act.numpy()
    m = moments(act)
    if jacobian:
        m.require_continuous("the Jacobian")     # phi' with a Dirac delta has no matrix
    J = np.eye(N).reshape(c, n, N) if jacobian else None
    covs = [h.T @ h / c]
    sb = math.sqrt(sb2)
    for _ in range(depth):
        omega = cnn_filter(rng, c, k, sw2, weights)
        bias = sb * rng.standard_normal(c)
        if J is not None:
            J = convolve(omega, m.values(1.0, h)[1][:, :, None] * J)
        h = convolve(omega, f(h)) + bias[:, None]
        covs.append(h.T @ h / c)
    run = dict(activation=str(act.expr), channels=c, positions=n, depth=depth, k=k,
               sigma_w2=sw2, sigma_b2=sb2, weights=weights, seed=seed)
    return CNNSimulation(np.stack(covs), h, run, None if J is None else J.reshape(N, N))


__all__ = ["WEIGHTS", "CNNSimulation", "cnn_filter", "convolve", "haar_orthogonal", "simulate_cnn"]
