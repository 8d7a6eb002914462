r"""The CNN mean-field covariance map on a ring (Xiao et al., ICML 2018; Pabari & Zhou eqs. 14-18),
in float64; docs/theory.md §9.

For a 1-D convolution of width ``2k+1`` over ``n`` positions with periodic boundary,
weights ``N(0, sigma_w^2/(c(2k+1)))`` and biases ``N(0, sigma_b^2)``, the covariance of the
pre-activations across positions evolves as

.. math::  \Sigma^{l+1} = A \star \mathcal C(\Sigma^l), \quad
           [\mathcal C(\Sigma)]_{\alpha\alpha'} = \sigma_w^2 E[\phi(u_\alpha)\phi(u_{\alpha'})]
           + \sigma_b^2, \quad
           [A \star B]_{\alpha\alpha'} = \frac{1}{2k+1}
           \sum_{|\beta| \le k} B_{\alpha+\beta,\alpha'+\beta}

with ``(u_alpha, u_alpha')`` centred Gaussian of covariance the 2x2 block of ``Sigma``.  Its fixed
point is ``Sigma* = q*(delta + (1 - delta) c*)`` (eq. 18).  Near it the Jacobian of the map is
block-triangular (off-diagonal entries do not feed the diagonal): the diagonal block is
``chi_q* A`` (eigenvalues ``chi_q* lambda_m``) and each off-diagonal band is ``chi_c* A``
(eigenvalues ``chi_c* lambda_m``), ``lambda_m`` the Dirichlet-kernel eigenvalues of
:func:`.cnn.cnn_eigenvalues`.  The delta-orthogonal filter (all variance at the centre tap)
gives the ``k = 0`` map: no spatial mixing, every ``lambda_m = 1``.

``E[phi(u) phi(u')]`` for all pairs at once: Mehler's series ``sum_j a_j(q) a_j(q') rho^j``
with the coefficients ``a_j(q)`` of :meth:`.Moments.hermite` (one table per distinct variance),
summed by Horner over the whole matrix; its truncation is bounded by Parseval,
``|rho|^K sqrt(R_K(q) R_K(q'))`` with ``R_K = E phi^2 - sum_{j<K} a_j^2``.  Entries whose bound
exceeds ``tol`` (a kink near ``rho = 1``) are computed by the tensor Gauss-Legendre rule of
:func:`.trajectory.pair_expectation`; the diagonal is ``E[phi(sqrt q Z)^2]`` directly.

>>> import numpy as np
>>> S = cnn_fixed_point("tanh", 2.5, 0.1, n=4)
>>> bool(np.allclose(cnn_map("tanh", S, 2.5, 0.1, k=1), S, atol=1e-12))
True
"""
import math

import numpy as np

from symkernel.errors import InvalidInputError
from symkernel.core.activations import as_activation
from .cnn import cnn_eigenvalues
from .maps import HERMITE_TERMS, float_state
from .moments import moments
from .trajectory import pair_expectation

#: the relative Parseval bound above which an entry leaves the Mehler series for quadrature
MEHLER_TOL = 1e-12
_EPS = np.finfo(float).eps


def _check_int(name, value, least):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise InvalidInputError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def _check_variances(sigma_w2, sigma_b2):
    sw2, sb2 = float(sigma_w2), float(sigma_b2)
    if not (math.isfinite(sw2) and sw2 > 0 and math.isfinite(sb2) and sb2 >= 0):
        raise InvalidInputError(f"need finite sigma_w2 > 0 and sigma_b2 >= 0, got "
                                f"{sigma_w2!r}, {sigma_b2!r}")
    return sw2, sb2


def check_covariance(Sigma):
    """``Sigma`` as a float64 n x n array: finite, symmetric, nonnegative diagonal and
    ``|rho| <= 1`` (each 2x2 block a covariance)."""
    S = np.asarray(Sigma, dtype=float)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] < 1 or not np.all(np.isfinite(S)):
        raise InvalidInputError(f"Sigma must be a finite square matrix, got shape {S.shape}")
    scale = max(float(np.abs(S).max()), 1e-300)
    if np.abs(S - S.T).max() > 1e-12 * scale:
        raise InvalidInputError(f"Sigma must be symmetric (largest asymmetry "
                                f"{np.abs(S - S.T).max():.3g})")
    d = np.diagonal(S)
    if d.min() < 0:
        raise InvalidInputError(f"Sigma has a negative variance {d.min()!r} on its diagonal")
    bound = np.sqrt(np.outer(d, d))
    if np.any(np.abs(S) > bound * (1 + 1e-10) + 1e-300):
        raise InvalidInputError("Sigma has an entry beyond the geometric mean of its variances "
                                "(|rho| > 1): it is not a covariance matrix")
    return (S + S.T) / 2


def window_average(B, k=1):
    r"""``[A * B]_{a,a'} = (2k+1)^{-1} sum_{|beta|<=k} B_{a+beta, a'+beta}`` on a ring (eq. 17).

    >>> window_average(np.diag([3.0, 0.0, 0.0]), k=1).diagonal()
    array([1., 1., 1.])
    """
    k = _check_int("k", k, 0)
    B = np.asarray(B, dtype=float)
    out = np.zeros_like(B)
    for beta in range(-k, k + 1):
        out += np.roll(B, -beta, axis=(0, 1))
    return out / (2 * k + 1)


def _hermite_table(m, q, terms):
    """``(a_0..a_{K-1}(q), E phi(sqrt q Z)^2)``, remembered on the activation (bounded)."""
    table = m.act.memo("cnn_map_hermite", dict)
    key = (float(q), int(terms))
    if key not in table:
        if len(table) > 512:
            table.clear()
        table[key] = (m.hermite(q, terms), m.np_one("V", q))
    return table[key]


def pair_expectations(act, Sigma, terms=HERMITE_TERMS, tol=MEHLER_TOL, gain=None, **params):
    r"""``E[phi(u_a) phi(u_a')]`` for every pair of positions (an n x n float64 array), with
    ``(u_a, u_a')`` Gaussian of covariance ``Sigma``'s 2x2 block (see the module docstring).

    >>> import numpy as np
    >>> E = pair_expectations("erf", np.array([[1.0, 0.5], [0.5, 2.0]]))
    >>> bool(abs(E[0, 1] - 2 / np.pi * np.arcsin(1 / np.sqrt(15))) < 1e-14)   # Williams 1997
    True
    """
    act = as_activation(act, gain, **params)
    S = check_covariance(Sigma)
    m = moments(act)
    terms = _check_int("terms", terms, 2)
    q = np.diagonal(S).copy()
    uq, inv = np.unique(q, return_inverse=True)
    tables = [_hermite_table(m, qi, terms) for qi in uq]
    A = np.array([t[0] for t in tables])[inv]          # (n, K)
    V = np.array([t[1] for t in tables])[inv]          # (n,)
    den = np.sqrt(np.outer(q, q))
    rho = np.divide(S, den, out=np.zeros_like(S), where=den > 0)
    rho = np.clip(rho, -1.0, 1.0)
    E = np.multiply.outer(A[:, -1], A[:, -1])
    for j in range(terms - 2, -1, -1):
        E *= rho
        E += np.multiply.outer(A[:, j], A[:, j])
    R = np.maximum(V - (A * A).sum(axis=1), 4 * terms * _EPS * np.abs(V))
    with np.errstate(under="ignore"):
        bound = np.abs(rho) ** terms * np.sqrt(np.outer(R, R))
    scale = np.sqrt(np.outer(np.abs(V), np.abs(V)))
    np.fill_diagonal(E, V)
    bad = bound > tol * np.maximum(scale, 1e-300)
    np.fill_diagonal(bad, False)
    done = {}
    for a, b in zip(*np.nonzero(np.triu(bad))):
        key = (q[a], q[b], rho[a, b])
        if key not in done:
            done[key] = pair_expectation(act, q[a], q[b], rho[a, b])
        E[a, b] = E[b, a] = done[key]
    return E


def cnn_map(act, Sigma, sigma_w2, sigma_b2=0.0, k=1, gain=None, **params):
    r"""One layer of the CNN covariance map, ``A * C(Sigma)`` (eqs. 14-17), float64 n x n.

    ``k`` is the half width of the filter (``k = 0``: no spatial mixing, the map of a 1x1 or a
    delta-orthogonal filter).
    """
    sw2, sb2 = _check_variances(sigma_w2, sigma_b2)
    k = _check_int("k", k, 0)
    E = pair_expectations(act, Sigma, gain=gain, **params)
    return window_average(sw2 * E + sb2, k)


def cnn_trajectory(act, Sigma0, sigma_w2, sigma_b2=0.0, k=1, depth=10, gain=None, **params):
    """``[Sigma^0, ..., Sigma^depth]`` of the CNN map as a ``(depth+1, n, n)`` float64 array."""
    act = as_activation(act, gain, **params)
    depth = _check_int("depth", depth, 0)
    out = [check_covariance(Sigma0)]
    for _ in range(depth):
        out.append(cnn_map(act, out[-1], sigma_w2, sigma_b2, k))
    return np.stack(out)


def cnn_fixed_point(act, sigma_w2, sigma_b2=0.0, n=8, q0=1.0, gain=None, **params):
    """``Sigma* = q*(delta + (1 - delta) c*)`` (eq. 18) on ``n`` positions, with ``q*``, ``c*``
    of the fully connected maps (:func:`.maps.float_state`)."""
    act = as_activation(act, gain, **params)
    sw2, sb2 = _check_variances(sigma_w2, sigma_b2)
    n = _check_int("n", n, 1)
    st = float_state(act, sw2, sb2, float(q0))
    S = np.full((n, n), st["q_star"] * st["c_star"])
    np.fill_diagonal(S, st["q_star"])
    return S


def cnn_mode_rates(act, sigma_w2, sigma_b2=0.0, k=1, n=8, q0=1.0, gain=None, **params):
    """Per Fourier mode ``m = 0..n-1`` the factor by which a small perturbation of ``Sigma*``
    is multiplied per layer: ``{"off_diagonal": chi_c* lambda_m, "diagonal": chi_q* lambda_m,
    "lambda": lambda_m, "chi_c": chi_c*, "chi_q": chi_q*}`` (float64 arrays; eq. 21)."""
    act = as_activation(act, gain, **params)
    sw2, sb2 = _check_variances(sigma_w2, sigma_b2)
    st = float_state(act, sw2, sb2, float(q0))
    k, n = _check_int("k", k, 0), _check_int("n", n, 1)
    lam = np.array([float(v) for v in cnn_eigenvalues(k, n)])
    return {"lambda": lam, "chi_c": float(st["chi_c"]), "chi_q": float(st["chi_q"]),
            "off_diagonal": st["chi_c"] * lam, "diagonal": st["chi_q"] * lam}


__all__ = ["MEHLER_TOL", "check_covariance", "window_average", "pair_expectations", "cnn_map",
           "cnn_trajectory", "cnn_fixed_point", "cnn_mode_rates"]
