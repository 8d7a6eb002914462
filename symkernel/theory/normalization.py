r"""Isometry bounds of layer and batch normalization (Joudaki, Daneshmand & Bach (NeurIPS 2023),
Corollaries 2 and 3; docs/theory.md §8).

Both are Theorem 1 applied to a different set of vectors.  Here a batch is an ``n x d`` array
``X`` whose rows are the samples (as in :func:`symkernel.simulate_mlp`; the paper's ``d x n``
matrix is its transpose).

* Layer normalization (Table 1), :math:`\mathrm{LN}(x) = x/\sqrt{\tfrac1d\sum_k x_k^2}`, rescales
  every *sample*.  Corollary 2: with :math:`G = XX^\top`, :math:`\tilde G` the Gram of the
  normalized samples and :math:`a_i = \lVert x_i\rVert`,
  :math:`\mathcal I(\tilde G) \ge \mathcal I(G)\,(1 + \operatorname{var}(a)/\bar a^2)`.
* Batch normalization (Table 1 corrected), :math:`\mathrm{BN}(X)_{ik} = X_{ik}/\sqrt{\tfrac1n
  \sum_{j=1}^n X_{jk}^2}`, rescales every *feature* over the batch.  Corollary 3 (corrected):
  with the ``d x d`` feature covariances :math:`C = X^\top X`, :math:`\tilde C = \tilde X^\top
  \tilde X` (the paper prints :math:`\tilde C := XX^\top`) and the feature norms
  :math:`a_k = \lVert X_{\cdot k}\rVert`, :math:`\bar a = \tfrac1d\sum_{k=1}^d a_k` (the paper
  prints :math:`\tfrac1n`): :math:`\mathcal I(\tilde C) \ge \mathcal I(C)(1 +
  \operatorname{var}(a)/\bar a^2)`.  ``C`` has rank at most ``n``: for a batch smaller than the
  width both sides are 0 and the corollary says nothing.

The proof (eqs. 5-9) is an identity followed by the AM-GM inequality:
:math:`\mathcal I(\tilde G)/\mathcal I(G) = \overline{a^2}/(\prod_i a_i)^{2/n}` exactly, so the
bound is tight up to the factor :math:`(\bar a/(\prod_i a_i)^{1/n})^2` (``slack``).

>>> import numpy as np
>>> X = np.array([[3.0, 0.0], [1.0, 1.0]])
>>> b = layer_norm_bound(X)
>>> round(b.after, 6), round(b.bound, 6), round(b.slack, 6)    # slack = (2.2071/sqrt(3 sqrt 2))^2
(0.707107, 0.615849, 1.148181)
"""
import math
from collections import namedtuple

import numpy as np
import sympy as sp

from symkernel.core.activations import as_activation
from symkernel.core.symbols import x
from symkernel.errors import InvalidInputError
from symkernel.coefficients.hermite import hermite_coefficient
from symkernel.gaussian.expectation import expectation
from symkernel.kernels import mean_reduced_dual
from .gram import isometry_float

#: ``before``: I(G) (or I(C)); ``after``: the isometry after normalizing; ``factor``:
#: 1 + var(a)/mean(a)^2; ``bound = before * factor`` (<= ``after``); ``slack = after/bound``
#: (>= 1; nan when both are 0); ``norms``: the norms a_i that are equalized.
NormalizationBound = namedtuple("NormalizationBound", "before after factor bound slack norms")


def _batch(X):
    if type(X).__module__.startswith("torch"):
        X = X.detach().cpu().double().numpy()
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"a batch must be a 2-D array of real numbers ({exc})") from None
    if X.ndim != 2 or min(X.shape) < 1:
        raise InvalidInputError(f"a batch must be a non-empty 2-D array (n samples x d features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise InvalidInputError("the batch has NaN or infinite entries")
    return X


def _rms(X, axis, what):
    rms = np.sqrt(np.mean(X * X, axis=axis, keepdims=True))
    zero = np.flatnonzero(rms.ravel() == 0)
    if zero.size:
        raise InvalidInputError(f"{what} {int(zero[0])} is all zero: normalization divides by its norm, 0")
    return rms


def layer_norm(X):
    r"""Layer normalization of Joudaki, Daneshmand & Bach (NeurIPS 2023) Table 1 (no centering, no
    affine parameters): every row (sample) divided by its root mean square over the features.

    >>> layer_norm([[3.0, 4.0]]).round(6).tolist()
    [[0.848528, 1.131371]]
    """
    X = _batch(X)
    return X / _rms(X, 1, "sample (row)")


def batch_norm(X):
    r"""Batch normalization of Joudaki, Daneshmand & Bach (NeurIPS 2023) Table 1, corrected (the sum
    runs over the ``n`` samples, not to ``d``): every column (feature) divided by its root mean
    square over the batch.

    >>> batch_norm([[3.0, 1.0], [4.0, 1.0]]).round(6).tolist()
    [[0.848528, 1.0], [1.131371, 1.0]]
    """
    X = _batch(X)
    return X / _rms(X, 0, "feature (column)")


def _bound(vectors, normalized, tol):
    """Theorem 1 for the rows of ``vectors`` and their rescaled versions ``normalized``."""
    a = np.linalg.norm(vectors, axis=1)
    before = isometry_float(vectors @ vectors.T, tol=tol)
    after = isometry_float(normalized @ normalized.T, tol=tol)
    factor = 1.0 + float(np.var(a) / np.mean(a) ** 2)
    bound = before * factor
    slack = after / bound if bound > 0 else (math.inf if after > 0 else math.nan)
    return NormalizationBound(before, after, factor, bound, slack, a)


def layer_norm_bound(X, *, tol=None):
    r"""Corollary 2 of Joudaki, Daneshmand & Bach (NeurIPS 2023) for the ``n x d`` batch ``X``
    (rows are samples): :math:`\mathcal I(\tilde G) \ge \mathcal I(G)(1 + \operatorname{var}(a)/\bar
    a^2)` with :math:`G = XX^\top`, :math:`\tilde G` the Gram of ``layer_norm(X)`` and
    :math:`a_i = \lVert x_i\rVert`.  Returns a :data:`NormalizationBound` (isometries in float64,
    :func:`~symkernel.theory.gram.isometry_float` with tolerance ``tol``).

    >>> b = layer_norm_bound([[1.0, 0.0], [0.0, 2.0]])
    >>> b.after, round(b.bound, 6), b.before
    (1.0, 0.888889, 0.8)
    """
    X = _batch(X)
    if X.shape[0] < 2:
        raise InvalidInputError(f"Corollary 2 compares the Gram of n >= 2 samples, got n = {X.shape[0]}")
    return _bound(X, layer_norm(X), tol)


def batch_norm_bound(X, *, tol=None):
    r"""Corollary 3 of Joudaki, Daneshmand & Bach (NeurIPS 2023), corrected, for the ``n x d``
    batch ``X`` (rows are samples): :math:`\mathcal I(\tilde C) \ge \mathcal I(C)(1 +
    \operatorname{var}(a)/\bar a^2)` with the ``d x d`` covariances :math:`C = X^\top X`,
    :math:`\tilde C` that of ``batch_norm(X)``, the feature norms :math:`a_k = \lVert X_{\cdot
    k}\rVert` and :math:`\bar a = \frac1d\sum_k a_k`.  Both isometries are 0 when ``d > n``
    (``C`` has rank at most ``n``).  Returns a :data:`NormalizationBound`.

    >>> b = batch_norm_bound([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    >>> b.after, round(b.bound, 6), b.before
    (1.0, 0.888889, 0.8)
    """
    X = _batch(X)
    if X.shape[1] < 2:
        raise InvalidInputError(f"Corollary 3 compares the covariance of d >= 2 features, got d = {X.shape[1]}")
    return _bound(X.T, batch_norm(X).T, tol)


# ---------------------------------------------------------------- mean-field normalization: norms
NormChain = namedtuple("NormChain", "slope variance c0 sigma_bar_1")


def norm_chain(act, gain=None, **params):
    r"""``(slope, variance, c0, sigma_bar_1)`` of the squared norm :math:`q = \lVert x\rVert^2` of
    one sample through a layer with mean-field centering and normalization,
    :math:`x^+ = (\sigma(Wx) - c_0)/\sqrt{\bar\sigma(1)}` (Joudaki, Daneshmand & Bach (NeurIPS 2023)
    §6; docs/theory.md §8).  Given ``q``, the ``d`` pre-activations are i.i.d. :math:`N(0, q)`, so
    :math:`q^+` is the mean of ``d`` i.i.d. copies of :math:`F(\sqrt q Z) = (\sigma(\sqrt q Z) -
    c_0)^2/\bar\sigma(1)`; ``q = 1`` is a fixed point of its mean :math:`m(q)`, with slope (heat
    equation, :math:`\partial_q E g(\sqrt q Z) = E[g(Z)(Z^2-1)]/(2q)`) and one-layer variance

    .. math:: m'(1) = \frac{E[(\sigma(Z)-c_0)^2 (Z^2-1)]}{2\bar\sigma(1)}, \qquad
              v = \operatorname{Var} F(Z) = \frac{E[(\sigma(Z)-c_0)^4]}{\bar\sigma(1)^2} - 1 .

    Floats (Gaussian expectations, exact where symkernel finds a closed form).  ReLU: slope
    :math:`(1 - 1/\pi)/(2\bar\sigma(1)) = 1` exactly (the norm is neutrally stable),
    ``v = 4.4076...``; tanh: a stable fixed point.

    >>> [round(v, 6) for v in norm_chain("tanh")[:2]]
    [0.461071, 0.627291]
    """
    act = as_activation(act, gain, **params)
    c0 = hermite_coefficient(act, 0)
    c0 = c0.expr if c0.exact else sp.Float(c0.value(20), 20)
    sbar1 = float(mean_reduced_dual(act).result(1, 17).value)
    if not sbar1 > 0:
        raise InvalidInputError(f"mean-field normalization needs sigma_bar(1) > 0, got {sbar1} (a constant activation?)")
    centered = act.expr - c0
    slope = float(expectation(centered**2 * (x**2 - 1))) / (2 * sbar1)
    variance = float(expectation(centered**4)) / sbar1**2 - 1
    return NormChain(slope, variance, float(c0), sbar1)


def norm_deviation(act, width, depth, gain=None, **params):
    r""":math:`E[(q_\ell - 1)^2]` for ``ell = 0..depth``, to first order in ``1/width``, for the
    squared norm of a sample under mean-field centering and normalization (:func:`norm_chain`;
    ``q_0 = 1``):

    .. math:: E[(q_\ell-1)^2] \approx \frac{v}{d}\sum_{j<\ell} m'(1)^{2j}
              = \frac{v}{d}\,\frac{1-m'(1)^{2\ell}}{1-m'(1)^2}

    (:math:`\ell v/d` when :math:`m'(1) = 1`).  It grows linearly with depth for ReLU and
    saturates at :math:`v/(d(1-m'(1)^2))` for tanh; with layer normalization ``q = 1`` exactly.
    Valid while the value is small.

    >>> (norm_deviation("tanh", 1000, 2) * 1e6).round(1).tolist()
    [0.0, 627.3, 760.6]
    """
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise InvalidInputError(f"width must be an integer >= 1, got {width!r}")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
        raise InvalidInputError(f"depth must be an integer >= 0, got {depth!r}")
    chain = norm_chain(act, gain, **params)
    powers = chain.slope ** (2 * np.arange(depth))
    return np.concatenate([[0.0], np.cumsum(powers)]) * chain.variance / width


__all__ = ["NormalizationBound", "NormChain", "layer_norm", "batch_norm", "layer_norm_bound",
           "batch_norm_bound", "norm_chain", "norm_deviation"]
