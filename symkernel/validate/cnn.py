r"""The CNN mean field against finite-width CNNs and against its own Fourier-mode theory
(Xiao et al., ICML 2018; Pabari & Zhou §3.3; docs/theory.md §9).

* :func:`covariance_check`: the empirical covariance ``Sigma^l`` of random 1-D CNNs
  (:func:`~symkernel.simulate.cnn.simulate_cnn`), averaged over seeds, against the map
  ``Sigma^{l+1} = A * C(Sigma^l)`` (:func:`~symkernel.theory.meanfield.cnn_map.cnn_trajectory`),
  entry by entry in standard errors; ``rejects`` says whether another theory (the map without
  the window average, say) would fail.  Delta-orthogonal filters follow the ``k = 0`` map.
* :func:`linearization_check`: central finite differences of the map at ``Sigma*`` along the
  Fourier modes ``cos(2 pi m alpha/n)`` of the diagonal and of one off-diagonal band, against
  ``chi_q* lambda_m`` and ``chi_c* lambda_m`` (``lambda_m`` from the Dirichlet-kernel formula of
  :func:`~symkernel.theory.meanfield.cnn.cnn_eigenvalues`, ``chi`` from
  :func:`~symkernel.theory.meanfield.maps.float_state`: code shared with the map is only the
  Gaussian moments); with ``full=True`` the eigenvalues of the whole finite-difference Jacobian.
* :func:`isometry_check`: the input-output Jacobian of Gaussian and delta-orthogonal CNNs at a
  critical point: mean squared singular value against ``chi_1^L`` and the normalized
  second moment ``m_2/m_1^2`` against free probability (Pennington, Schoenholz & Ganguli,
  NeurIPS 2017: :func:`~symkernel.theory.meanfield.spectrum.normalized_second_moment`, orthogonal
  weights for delta-orthogonal filters; for Gaussian filters the Gaussian-weight value, a
  heuristic for convolutions, docs/theory.md §9).

>>> lin = linearization_check("tanh", 2.5, 0.1, k=1, n=4)
>>> bool(np.max(np.abs(lin["off_diagonal"] - lin["off_diagonal_theory"])) < 1e-7)
True
"""
import math
from dataclasses import dataclass, field

import numpy as np

from symkernel.core.activations import as_activation
from symkernel.errors import InvalidInputError
from symkernel.simulate.cnn import WEIGHTS, simulate_cnn
from symkernel.theory.meanfield.cnn_map import (check_covariance, cnn_fixed_point, cnn_map,
                                                cnn_mode_rates, cnn_trajectory)
from symkernel.theory.meanfield.criticality import edge_of_chaos
from symkernel.theory.meanfield.jacobian import spectrum_moments
from symkernel.theory.meanfield.maps import float_state
from symkernel.theory.meanfield.moments import moments
from symkernel.theory.meanfield.spectrum import normalized_second_moment


def _check_int(name, value, least):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise InvalidInputError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def ring_input_covariance(n, rho=0.6, q_min=0.5, q_max=2.0):
    """A deterministic test input: variances rising linearly from ``q_min`` to ``q_max`` around
    the ring and correlations ``rho^{ring distance}`` (not translation invariant, so the window
    average visibly mixes positions).

    >>> ring_input_covariance(3).round(3)
    array([[0.5  , 0.474, 0.6  ],
           [0.474, 1.25 , 0.949],
           [0.6  , 0.949, 2.   ]])
    """
    n = _check_int("n", n, 1)
    q = np.linspace(q_min, q_max, n)
    a = np.arange(n)
    d = np.abs(a[:, None] - a[None, :])
    dist = np.minimum(d, n - d)
    return np.sqrt(np.outer(q, q)) * float(rho) ** dist


@dataclass(frozen=True, eq=False)
class CNNCovarianceCheck:
    """``theory[l]`` and ``samples[s, l]`` (n x n) for layers ``0..depth``; z-scores of the seed
    mean of every entry on and above the diagonal, layers ``1..depth``."""

    theory: np.ndarray
    samples: np.ndarray
    n_sigma: float
    params: dict = field(default_factory=dict)

    @property
    def mean(self):
        return self.samples.mean(axis=0)

    @property
    def stderr(self):
        return self.samples.std(axis=0, ddof=1) / math.sqrt(self.samples.shape[0])

    def z_scores(self, theory=None):
        """``(mean - theory)/stderr``, shape ``(depth, n(n+1)/2)`` (upper triangle per layer)."""
        theory = self.theory if theory is None else np.asarray(theory, dtype=float)
        iu = np.triu_indices(self.theory.shape[1])
        mean, se = self.mean[1:], self.stderr[1:]
        z = (mean - theory[1:]) / np.maximum(se, 1e-15 * np.abs(theory[1:]) + 1e-300)
        return z[:, iu[0], iu[1]]

    @property
    def max_abs_z(self):
        return float(np.abs(self.z_scores()).max())

    @property
    def all_agree(self):
        return self.max_abs_z <= self.n_sigma

    def rejects(self, theory):
        """Whether another theory (a ``(depth+1, n, n)`` array) would fail this check."""
        return bool(np.abs(self.z_scores(theory)).max() > self.n_sigma)

    @property
    def resolution(self):
        """Largest standard error relative to the theory's variance scale (mean diagonal)."""
        scale = np.mean(np.diagonal(self.theory[1:], axis1=1, axis2=2), axis=1)
        return float((self.stderr[1:].max(axis=(1, 2)) / scale).max())


def covariance_check(act, sigma_w2, sigma_b2=0.0, Sigma0=None, *, n=8, k=1, weights="gaussian",
                     channels=64, depth=6, seeds=60, n_sigma=4.0, seed=0, gain=None, **params):
    """Empirical ``Sigma^l`` of ``seeds`` random CNNs (input channels i.i.d. ``N(0, Sigma0)``,
    default :func:`ring_input_covariance`) against the CNN map; see the module docstring."""
    act = as_activation(act, gain, **params)
    if weights not in WEIGHTS:
        raise InvalidInputError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    seeds = _check_int("seeds", seeds, 2)
    S0 = ring_input_covariance(n) if Sigma0 is None else check_covariance(Sigma0)
    k_map = k if weights == "gaussian" else 0       # a delta filter does not mix positions
    theory = cnn_trajectory(act, S0, sigma_w2, sigma_b2, k_map, depth)
    samples = np.stack([simulate_cnn(act, S0, channels=channels, depth=depth, k=k,
                                     sigma_w2=sigma_w2, sigma_b2=sigma_b2, weights=weights,
                                     seed=seed + s).covariance for s in range(seeds)])
    run = dict(activation=str(act.expr), sigma_w2=float(sigma_w2), sigma_b2=float(sigma_b2),
               k=k, weights=weights, channels=channels, depth=depth, seeds=seeds, seed=seed)
    return CNNCovarianceCheck(theory, samples, float(n_sigma), run)


def _band(n, d, pattern):
    """The symmetric matrix with ``pattern[a]`` at ``(a, a+d)`` and ``(a+d, a)`` (d != 0)."""
    P = np.zeros((n, n))
    a = np.arange(n)
    P[a, (a + d) % n] += pattern
    P[(a + d) % n, a] += pattern
    return P


def linearization_check(act, sigma_w2, sigma_b2=0.0, k=1, n=8, band=1, step=1e-5, full=False,
                        gain=None, **params):
    r"""Per-layer factors of the Fourier modes of a perturbation of ``Sigma*``, measured by
    central differences of :func:`~symkernel.theory.meanfield.cnn_map.cnn_map`, and predicted.

    For each ``m = 0..n-1``: ``off_diagonal[m]`` = the component along ``P`` of the map's
    derivative in the direction ``P`` = ``cos(2 pi m alpha/n)`` on the off-diagonal band
    ``band`` (``0 < band < n/2``), ``off_residual[m]`` the relative norm of the rest (0 for an
    eigenvector); ``diagonal[m]`` the same for ``P = diag(cos(2 pi m alpha/n))`` read on the
    diagonal, ``leak[m]`` the relative size of the off-diagonal response to it (the Jacobian is
    block-triangular, not block-diagonal).  ``*_theory``: :func:`cnn_mode_rates`.  With
    ``full=True`` also ``eigenvalues`` of the full Jacobian on symmetric matrices (sorted) and
    ``eigenvalues_theory`` (the ``n`` values ``chi_q* lambda_m`` and, per unordered pair band, the
    modes of that band times ``chi_c*``).
    """
    act = as_activation(act, gain, **params)
    n = _check_int("n", n, 3)
    band = _check_int("band", band, 1)
    if not band < n / 2:
        raise InvalidInputError(f"band must satisfy 0 < band < n/2 = {n / 2}, got {band}")
    step = float(step)
    if not (math.isfinite(step) and 0 < step < 1e-2):
        raise InvalidInputError(f"step must lie in (0, 1e-2), got {step!r}")
    S = cnn_fixed_point(act, sigma_w2, sigma_b2, n)
    h = step * S[0, 0]
    if S[0, 1] + 2 * h > S[0, 0]:
        raise InvalidInputError(f"c* = {S[0, 1] / S[0, 0]!r} is at 1 (ordered phase or edge of "
                                "chaos): an off-diagonal perturbation would leave the covariance "
                                "matrices; choose (sigma_w2, sigma_b2) in the chaotic phase")

    def derivative(P):
        return (cnn_map(act, S + h * P, sigma_w2, sigma_b2, k)
                - cnn_map(act, S - h * P, sigma_w2, sigma_b2, k)) / (2 * h)

    theory = cnn_mode_rates(act, sigma_w2, sigma_b2, k, n)
    alpha = np.arange(n)
    out = {key: np.empty(n) for key in ("off_diagonal", "off_residual", "diagonal", "leak")}
    for m in range(n):
        pattern = np.cos(2 * np.pi * m * alpha / n)
        P = _band(n, band, pattern)
        D = derivative(P)
        rate = np.sum(D * P) / np.sum(P * P)
        out["off_diagonal"][m] = rate
        out["off_residual"][m] = np.linalg.norm(D - rate * P) / np.linalg.norm(P)
        D = derivative(np.diag(pattern))
        rate = np.dot(np.diagonal(D), pattern) / np.dot(pattern, pattern)
        out["diagonal"][m] = rate
        out["leak"][m] = np.linalg.norm(D - np.diag(np.diagonal(D))) / np.linalg.norm(pattern)
    out["off_diagonal_theory"] = theory["off_diagonal"]
    out["diagonal_theory"] = theory["diagonal"]
    out["chi_c"], out["chi_q"] = theory["chi_c"], theory["chi_q"]
    if full:
        iu = np.triu_indices(n)
        cols = []
        for a, b in zip(*iu):
            E = np.zeros((n, n))
            E[a, b] = E[b, a] = 1.0
            cols.append(derivative(E)[iu])
        ev = np.linalg.eigvals(np.array(cols).T)
        out["eigenvalues"] = np.sort_complex(ev)
        lam = theory["lambda"]
        pred = list(theory["chi_q"] * lam)
        for d in range(1, n // 2 + 1):
            modes = range(0, n, 2) if 2 * d == n else range(n)
            pred += [theory["chi_c"] * lam[mm] for mm in modes]
        out["eigenvalues_theory"] = np.sort_complex(np.array(pred, dtype=complex))
    return out


def isometry_check(act="tanh", sigma_b2=1e-4, *, channels=32, n=8, k=1, depths=(8, 32), seeds=4,
                   sigma_w2=None, spectra=False, seed=0, gain=None, **params):
    r"""Input-output Jacobians ``J = dh^L/dh^0`` of Gaussian and delta-orthogonal CNNs.

    ``sigma_w2`` defaults to the edge of chaos at ``sigma_b2`` (``chi_1 = 1``); the input has
    independent positions at ``q*`` (``Sigma0 = q* I``: the diagonal stays at ``q*``).  Returns a
    dict keyed by ``(weights, depth)`` with the per-seed ``m1`` (``|J|_F^2/(cn)``) and
    ``ratio`` (``m_2/m_1^2``, :func:`~symkernel.theory.meanfield.jacobian.spectrum_moments`),
    their theories ``m1_theory = chi_1^L`` and ``ratio_theory`` (free probability, infinite
    width), their z-scores (``(mean - theory)/stderr`` over seeds) and, with ``spectra=True``,
    ``squared_singular_values`` of the first seed; plus ``"sigma_w2"``, ``"q_star"``, ``"chi_1"``.
    """
    act = as_activation(act, gain, **params)
    seeds = _check_int("seeds", seeds, 2)
    if sigma_w2 is None:       # the critical point and its q* (chi_1 = sw2 D1(q*) = 1)
        sw2, q = (float(v) for v in edge_of_chaos(act, sigma_b2=sigma_b2))
    else:
        sw2 = float(sigma_w2)
        q = float(float_state(act, sw2, float(sigma_b2))["q_star"])
    sb2 = float(sigma_b2)
    chi1 = sw2 * moments(act).np_one("D1", q)
    out = {"sigma_w2": sw2, "sigma_b2": sb2, "q_star": q, "chi_1": chi1}
    for weights, law in (("gaussian", "gaussian"), ("delta_orthogonal", "orthogonal")):
        for L in depths:
            L = _check_int("depth", L, 1)
            m1, ratio, svals = [], [], None
            for s in range(seeds):
                J = simulate_cnn(act, q * np.eye(n), channels=channels, depth=L, k=k,
                                 sigma_w2=sw2, sigma_b2=sb2, weights=weights, seed=seed + s,
                                 jacobian=True).jacobian
                a, b = spectrum_moments(J)
                m1.append(a)
                ratio.append(b)
                if spectra and svals is None:
                    svals = np.linalg.svd(J, compute_uv=False) ** 2
            m1, ratio = np.array(m1), np.array(ratio)
            m1_th = chi1 ** L
            r_th = float(normalized_second_moment(act, sw2, sb2, L, weights=law, q=q))
            se1 = m1.std(ddof=1) / math.sqrt(seeds)
            se2 = ratio.std(ddof=1) / math.sqrt(seeds)
            out[(weights, L)] = dict(m1=m1, ratio=ratio, m1_theory=m1_th, ratio_theory=r_th,
                                     z_m1=float((m1.mean() - m1_th) / se1),
                                     z_ratio=float((ratio.mean() - r_th) / se2),
                                     squared_singular_values=svals)
    return out


__all__ = ["CNNCovarianceCheck", "covariance_check", "isometry_check", "linearization_check",
           "ring_input_covariance"]
