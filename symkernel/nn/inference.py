r"""Inference on infinite-width kernels: NNGP posterior and NTK gradient flow (float64 NumPy).

* :func:`gp_posterior` -- exact Bayesian inference with the NNGP ``K`` as prior covariance
  (Lee et al., ICLR 2018, "Deep neural networks as Gaussian processes"):
  ``mean = K(x,X) (K + s^2 I)^{-1} y``, ``cov = K(x,x') - K(x,X) (K + s^2 I)^{-1} K(X,x')``.
* :func:`gradient_flow` -- the infinite-width network trained by gradient flow on the MSE loss
  (Jacot, Gabriel & Hongler, NeurIPS 2018; Lee et al., NeurIPS 2019, "Wide neural networks of
  any depth evolve as linear models under gradient descent", Sec. 2):
  ``f_t(x) = f_0(x) + Theta(x,X) Theta^{-1} (I - exp(-eta' Theta t)) (y - f_0(X))`` and, for the
  ensemble over initialisations, the NTK-GP covariance of the same paper.

Both work on kernel matrices (any source: ``symkernel.nn`` kernels, neural-tangents, empirical)
and take the layout of ``neural_tangents.predict``: ``k_train`` is ``n x n``, a cross kernel is
``n_test x n`` (test rows, train columns), ``y_train`` is ``(n,)`` or ``(n, k)`` and the outputs
keep its trailing shape. Every number here is an *estimate* in float64: the result reports what
was done to the matrix (jitter added) and how well conditioned it was, so it can be judged.

>>> import numpy as np
>>> K = np.array([[2.0, 1.0], [1.0, 2.0]])
>>> post = gp_posterior(K, np.array([[1.0, 1.0]]), np.array([2.0]), np.array([1.0, 0.0]))
>>> post.mean.round(12).tolist(), post.variance.round(12).tolist(), post.jitter
([0.333333333333], [1.333333333333], 0.0)
"""
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

from symkernel.errors import InvalidInputError

__all__ = [
    "JITTER_LADDER",
    "GPPosterior",
    "GradientFlowPrediction",
    "gp_posterior",
    "gradient_flow",
]

#: Relative jitters tried in turn by ``jitter="auto"`` (times the mean of diag(K)).
JITTER_LADDER = (1e-12, 1e-10, 1e-8, 1e-6)

_EPS = np.finfo(np.float64).eps
_SYMMETRY_RTOL = 1e-10


# ---------------------------------------------------------------------------- results

@dataclass(frozen=True)
class GPPosterior:
    """Posterior of a GP at the test points (arrays are read-only).

    Attributes: ``mean`` (``(n_test,) + y_train.shape[1:]``); ``variance`` (``(n_test,)``, the
    latent ``f`` variance, observation noise not added); ``covariance`` (``n_test x n_test``,
    or None when only the diagonal of the test kernel was given); ``jitter`` (the absolute amount
    added to the diagonal on top of ``noise``, 0.0 if none); ``condition`` (LAPACK ``dpocon``
    1-norm estimate of the condition number of the matrix factorised, ``K + (noise + jitter) I``).
    """
    mean: np.ndarray
    variance: np.ndarray
    covariance: np.ndarray | None
    jitter: float
    condition: float


@dataclass(frozen=True)
class GradientFlowPrediction:
    """Infinite-width gradient-flow prediction at the times ``t`` (arrays are read-only).

    Attributes: ``t`` (the times, as given); ``train`` (``t.shape + y_train.shape``, outputs on
    the training inputs); ``test`` (``t.shape + (n_test,) + y_train.shape[1:]``, or None without
    ``ntk_cross``); ``covariance`` / ``variance`` (NTK-GP covariance over initialisations at the
    test points, ``t.shape + (n_test, n_test)`` / ``t.shape + (n_test,)``, or None without the
    NNGP blocks); ``min_eigenvalue`` (smallest eigenvalue of ``ntk_train``); ``condition``
    (``lambda_max / lambda_min`` of ``ntk_train``, inf when singular); ``time_scale`` (the factor
    ``eta'`` that multiplies ``t`` in the exponent, ``learning_rate`` or
    ``learning_rate / y_train.size``).
    """
    t: np.ndarray
    train: np.ndarray
    test: np.ndarray | None
    covariance: np.ndarray | None
    variance: np.ndarray | None
    min_eigenvalue: float
    condition: float
    time_scale: float


def _frozen(a):
    if a is None:
        return None
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


# ---------------------------------------------------------------------------- validation

def _matrix(name, a, rows=None, cols=None):
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a real numeric array: {exc}") from None
    if a.ndim != 2:
        raise InvalidInputError(f"{name} must be 2-D, got shape {a.shape}")
    if rows is not None and a.shape[0] != rows:
        raise InvalidInputError(f"{name} must have {rows} rows, got shape {a.shape}")
    if cols is not None and a.shape[1] != cols:
        raise InvalidInputError(f"{name} must have {cols} columns, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InvalidInputError(f"{name} has non-finite entries")
    return a


def _symmetric(name, a):
    """A finite square symmetric (to round-off) matrix, returned exactly symmetrised."""
    a = _matrix(name, a)
    n = a.shape[0]
    if a.shape != (n, n) or n == 0:
        raise InvalidInputError(f"{name} must be a non-empty square matrix, got shape {a.shape}")
    scale = np.max(np.abs(a)) if a.size else 0.0
    asym = np.max(np.abs(a - a.T)) if n else 0.0
    if asym > _SYMMETRY_RTOL * scale:
        raise InvalidInputError(f"{name} is not symmetric: max |K - K^T| = {asym:.3e} "
                                f"(max |K| = {scale:.3e})")
    return 0.5 * (a + a.T)


def _targets(name, y, n):
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a real numeric array: {exc}") from None
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise InvalidInputError(f"{name} must have shape ({n},) or ({n}, k), got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise InvalidInputError(f"{name} has non-finite entries")
    return y


def _nonneg_float(name, x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a real number, got {x!r}") from None
    if not np.isfinite(x) or x < 0:
        raise InvalidInputError(f"{name} must be finite and >= 0, got {x!r}")
    return x


def _test_kernel(name, k, m):
    """The test-test kernel: a length-m diagonal (-> None, diag) or an m x m matrix (-> K, diag)."""
    arr = np.asarray(k, dtype=np.float64) if k is not None else None
    if arr is None or arr.ndim not in (1, 2):
        raise InvalidInputError(f"{name} must be the ({m},) diagonal or the ({m}, {m}) "
                                f"test-test kernel, got {None if arr is None else arr.shape}")
    if arr.ndim == 1:
        if arr.shape != (m,) or not np.all(np.isfinite(arr)):
            raise InvalidInputError(f"{name} must be a finite ({m},) diagonal, got {arr.shape}")
        return None, arr
    if arr.shape != (m, m):
        raise InvalidInputError(f"{name} must be ({m}, {m}), got {arr.shape}")
    full = _symmetric(name, arr)
    return full, np.diag(full).copy()


def _clip_variance(var, magnitude, cond, n, what):
    """Clip round-off negatives of a variance; refuse a negative beyond the round-off bound.

    The float64 error of a quadratic form through a solve with an ``n x n`` matrix of condition
    ``cond`` is at most about ``n * eps * cond`` times the magnitude of the terms summed.
    """
    tol = 100.0 * n * _EPS * max(cond, 1.0) * magnitude
    bad = np.nonzero(var < -tol)[0] if var.ndim == 1 else np.nonzero((var < -tol).any(axis=0))[0]
    if bad.size:
        i = int(bad[0])
        worst = float(np.min(var[..., i]))
        raise InvalidInputError(
            f"{what} is {worst:.3e} < 0 at test point {i}, beyond round-off "
            f"({float(np.max(tol[..., i])):.1e}): the joint train/test kernel is not PSD")
    return np.maximum(var, 0.0)


# ---------------------------------------------------------------------------- GP posterior

def _cholesky(a, jitter, mean_diag):
    """Lower Cholesky factor of ``a`` (+ jitter I), the absolute jitter used."""
    if jitter == "auto":
        ladder = (0.0,) + tuple(e * mean_diag for e in JITTER_LADDER)
    else:
        ladder = (_nonneg_float("jitter", jitter),)
    eye = np.eye(a.shape[0])
    for j in ladder:
        try:
            c, _ = scipy.linalg.cho_factor(a + j * eye if j else a, lower=True,
                                           check_finite=False)
        except np.linalg.LinAlgError:
            continue
        return c, j
    lam = scipy.linalg.eigvalsh(a)
    tol = a.shape[0] * _EPS * max(abs(lam[0]), abs(lam[-1]))
    what = "not PSD" if lam[0] < -tol else "singular (PSD to round-off, not positive definite)"
    raise InvalidInputError(
        f"kernel matrix (plus noise) is {what}: smallest eigenvalue {lam[0]:.3e}, largest "
        f"{lam[-1]:.3e}; Cholesky fails even with jitter {ladder[-1]:.3e}"
        + ("; allow jitter='auto' or add noise" if lam[0] >= -tol else ""))


def gp_posterior(k_train, k_cross, k_test_diag_or_matrix, y_train, noise=0.0, jitter="auto"):
    r"""GP regression with the NNGP ``K`` as prior covariance (Lee et al., ICLR 2018).

    With ``A = K(X,X) + (noise + j) I`` (``j`` the jitter) and its Cholesky factor
    ``A = L L^T`` (Rasmussen & Williams, "Gaussian Processes for Machine Learning", MIT Press
    2006, Alg. 2.1):

    ``mean = K(x,X) A^{-1} y``,  ``cov(x, x') = K(x,x') - V(x)^T V(x')`` with ``V = L^{-1} K(X,x)``.

    The variance is that of the latent ``f`` (``noise`` not added back). ``noise`` is an
    absolute variance; neural-tangents' ``gp_inference(..., diag_reg=r)`` with the default
    relative scale corresponds to ``noise = r * mean(diag(K))``, and its ``'nngp'`` output to
    ``.mean`` / ``.covariance`` here.

    ``jitter="auto"`` first tries ``j = 0``; if the factorisation fails it retries with
    ``j = eps * mean(diag K)`` for ``eps`` in :data:`JITTER_LADDER` (1e-12 ... 1e-6) and reports
    the ``j`` used in ``.jitter``. A number fixes ``j`` (absolute, no retry; 0 disables). A
    matrix that fails even so raises :class:`~symkernel.errors.InvalidInputError` with its
    smallest eigenvalue. A negative posterior variance beyond the round-off bound
    (``~ n eps cond``) means the joint train/test kernel is not PSD and is refused too; smaller
    negatives are clipped to 0.

    Args: ``k_train`` (n x n), ``k_cross`` (n_test x n), ``k_test_diag_or_matrix`` ((n_test,) diag
    -> variance only, or n_test x n_test -> also covariance), ``y_train`` ((n,) or (n, k)).

    >>> import numpy as np
    >>> K = np.ones((3, 3))                   # rank 1: Cholesky fails without jitter
    >>> post = gp_posterior(K, np.ones((1, 3)), np.ones(1), np.ones(3))
    >>> post.jitter                           # reported, never hidden
    1e-12
    >>> post.mean.round(6).tolist(), post.variance.round(6).tolist()
    ([1.0], [0.0])
    """
    k_train = _symmetric("k_train", k_train)
    n = k_train.shape[0]
    k_cross = _matrix("k_cross", k_cross, cols=n)
    m = k_cross.shape[0]
    k_test, prior_var = _test_kernel("k_test_diag_or_matrix", k_test_diag_or_matrix, m)
    y = _targets("y_train", y_train, n)
    noise = _nonneg_float("noise", noise)
    if not (isinstance(jitter, str) and jitter == "auto"):
        _nonneg_float("jitter", jitter)
    diag = np.diag(k_train)
    if np.any(diag < 0):
        raise InvalidInputError(f"k_train has a negative diagonal entry ({diag.min():.3e}): "
                                "not a covariance")

    a = k_train + noise * np.eye(n) if noise else k_train
    c, used = _cholesky(a, jitter, float(np.mean(diag)))
    anorm = float(np.max(np.sum(np.abs(a), axis=0))) + used
    rcond, info = lapack.dpocon(c, anorm, uplo="L")
    condition = float(np.inf if info != 0 or rcond <= 0 else 1.0 / rcond)

    alpha = scipy.linalg.cho_solve((c, True), y, check_finite=False)
    mean = k_cross @ alpha
    v = scipy.linalg.solve_triangular(c, k_cross.T, lower=True, check_finite=False)
    explained = np.sum(v * v, axis=0)
    var = _clip_variance(prior_var - explained, np.abs(prior_var) + explained, condition, n,
                         "posterior variance")
    cov = None
    if k_test is not None:
        cov = k_test - v.T @ v
        cov = 0.5 * (cov + cov.T)
    return GPPosterior(mean=_frozen(mean), variance=_frozen(var), covariance=_frozen(cov),
                       jitter=float(used), condition=condition)


# ---------------------------------------------------------------------------- gradient flow

def _times(t):
    try:
        t = np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"t must be a number or an array of numbers, got {t!r}") from None
    if np.any(np.isnan(t)) or np.any(t < 0):
        raise InvalidInputError("t must be >= 0 (numpy.inf allowed), without NaN")
    return t


def _broadcast(name, a, shape):
    if a is None:
        return np.zeros(shape)
    try:
        a = np.broadcast_to(np.asarray(a, dtype=np.float64), shape)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must broadcast to shape {shape}") from None
    if not np.all(np.isfinite(a)):
        raise InvalidInputError(f"{name} has non-finite entries")
    return a


def check_learning_rate(learning_rate):
    """The learning rate as a finite float > 0, or an InvalidInputError saying what it was."""
    try:
        eta = float(learning_rate)
    except (TypeError, ValueError):
        raise InvalidInputError(f"learning_rate must be a number, got {learning_rate!r}") from None
    if not np.isfinite(eta) or eta <= 0:
        raise InvalidInputError(f"learning_rate must be finite and > 0, got {learning_rate!r}")
    return eta


def gradient_flow(ntk_train, ntk_cross, y_train, t, learning_rate=1.0, f0_train=None,
                  f0_test=None, nngp_train=None, nngp_cross=None, nngp_test=None, loss="sum"):
    r"""Infinite-width gradient flow on the MSE loss at time(s) ``t`` (NTK ``Theta`` fixed).

    The network function obeys ``df/dt = -eta' Theta(x, X) (f(X) - y)`` (Jacot, Gabriel &
    Hongler, NeurIPS 2018), solved in closed form (Lee et al., NeurIPS 2019, Sec. 2):

    ``f_t(X) = y + exp(-eta' Theta t) (f_0(X) - y)``,
    ``f_t(x) = f_0(x) + Theta(x,X) Theta^{-1} (I - exp(-eta' Theta t)) (y - f_0(X))``

    through the eigendecomposition ``Theta = U diag(lambda) U^T`` (``scipy.linalg.eigh``), with
    ``(1 - exp(-lambda s)) / lambda`` evaluated by ``expm1`` (``= s`` at ``lambda = 0``, so a
    singular ``Theta`` is fine at finite ``t``; at ``t = inf`` it is refused, as is an
    eigenvalue below ``-n eps lambda_max``, with the smallest eigenvalue in the message).
    ``f_0 = 0`` by default: the mean over random initialisations. At ``t = inf`` the training
    outputs are ``y`` exactly and the test outputs are NTK kernel regression.

    **Time convention.** ``loss="sum"`` (default): ``L = 1/2 ||f(X) - y||^2`` and ``eta' = eta``
    (``learning_rate``). ``loss="mean"``: ``L = ||f(X) - y||^2 / (2 n k)``, averaged over the
    ``n k = y_train.size`` entries, ``eta' = eta / y_train.size`` -- the convention of
    ``neural_tangents.predict.gradient_descent_mse`` and ``gradient_descent_mse_ensemble``
    (whose kernels with ``trace_axes=(-1,)`` are ``n x n`` as here), so ``loss="mean"``
    reproduces their ``predict_fn(t, ...)`` one to one. Only ``eta t`` matters in either.

    **Covariance** (all three of ``nngp_train`` (n x n), ``nngp_cross`` (n_test x n),
    ``nngp_test`` ((n_test,) diag or n_test x n_test) given, ``f0`` left None): with ``f_0 ~
    GP(0, K)`` (``K`` the NNGP) and ``B_t = Theta^{-1}(I - exp(-eta' Theta t)) Theta(X, x)``,
    ``Sigma_t = K(x,x') + B_t^T K B_t - (K(x,X) B_t + B_t^T K(X,x'))`` (Lee et al., NeurIPS 2019,
    the NTK-GP covariance; neural-tangents' ``'ntk'`` covariance).

    >>> import numpy as np
    >>> out = gradient_flow(np.array([[2.0]]), np.array([[1.0]]), np.array([1.0]), [0.5, np.inf])
    >>> out.train.round(12).ravel().tolist(), out.test.round(12).ravel().tolist()
    ([0.632120558829, 1.0], [0.316060279414, 0.5])
    """
    theta = _symmetric("ntk_train", ntk_train)
    n = theta.shape[0]
    y = _targets("y_train", y_train, n)
    if ntk_cross is not None:
        ntk_cross = _matrix("ntk_cross", ntk_cross, cols=n)
    tt = _times(t)
    eta = check_learning_rate(learning_rate)
    if loss not in ("sum", "mean"):
        raise InvalidInputError(f"loss must be 'sum' or 'mean', got {loss!r}")
    scale = eta if loss == "sum" else eta / y.size

    blocks = (nngp_train, nngp_cross, nngp_test)
    want_cov = any(b is not None for b in blocks)
    if want_cov and not all(b is not None for b in blocks):
        raise InvalidInputError("the covariance needs all of nngp_train, nngp_cross, nngp_test")
    if want_cov and ntk_cross is None:
        raise InvalidInputError("the covariance needs ntk_cross")
    if want_cov and (f0_train is not None or f0_test is not None):
        raise InvalidInputError("the NTK-GP covariance is over random initialisations f_0 ~ "
                                "GP(0, NNGP); pass f0_train/f0_test or the NNGP blocks, not both")
    if ntk_cross is None and f0_test is not None:
        raise InvalidInputError("f0_test needs ntk_cross")
    if ntk_cross is not None and (f0_train is None) != (f0_test is None):
        raise InvalidInputError("pass f0_train and f0_test together (outputs of one network)")
    m = None if ntk_cross is None else ntk_cross.shape[0]
    f0x = _broadcast("f0_train", f0_train, y.shape)
    f0t = None if m is None else _broadcast("f0_test", f0_test, (m,) + y.shape[1:])
    if want_cov:
        k_train = _symmetric("nngp_train", nngp_train)
        if k_train.shape != (n, n):
            raise InvalidInputError(f"nngp_train must be ({n}, {n}), got {k_train.shape}")
        k_cross = _matrix("nngp_cross", nngp_cross, rows=m, cols=n)
        k_test, k_test_diag = _test_kernel("nngp_test", nngp_test, m)

    lam, u = scipy.linalg.eigh(theta)
    lam_max = float(max(abs(lam[0]), abs(lam[-1])))
    tol = n * _EPS * lam_max
    lam_min = float(lam[0])
    if lam_min < -tol:
        raise InvalidInputError(f"ntk_train is not PSD: smallest eigenvalue {lam_min:.3e} "
                                f"(largest {lam[-1]:.3e}, round-off bound {tol:.1e})")
    singular = lam_min <= tol
    condition = float(np.inf) if singular else float(lam[-1] / lam_min)
    if singular and np.any(np.isinf(tt)):
        raise InvalidInputError(
            f"ntk_train is singular (smallest eigenvalue {lam_min:.3e} <= {tol:.1e}): the "
            "t = inf prediction Theta^{-1} y is not defined; use a finite t")
    lam = np.where(lam <= tol, 0.0, lam)

    s = tt.reshape(-1, 1) * scale                       # (T, 1) exponents' time
    with np.errstate(invalid="ignore", over="ignore"):
        em1 = np.where(np.isinf(s), -1.0, np.expm1(-lam * np.where(np.isinf(s), 0.0, s)))
        pos = lam > 0
        gain = np.where(pos, -em1 / np.where(pos, lam, 1.0), np.broadcast_to(s, em1.shape))

    r = (y - f0x).reshape(n, -1)                        # (n, k)
    ur = u.T @ r                                        # eigen-coordinates of the residual
    train = f0x.reshape(n, -1)[None] - np.einsum("ij,tj,jk->tik", u, em1, ur)
    train = np.where(np.isinf(tt.reshape(-1, 1, 1)), y.reshape(n, -1)[None], train)
    train = train.reshape(tt.shape + y.shape)

    test = cov = var = None
    if m is not None:
        kcu = ntk_cross @ u                             # (m, n)
        test = f0t.reshape(m, -1)[None] + np.einsum("mj,tj,jk->tmk", kcu, gain, ur)
        test = test.reshape(tt.shape + (m,) + y.shape[1:])
    if want_cov:
        b = np.einsum("ij,tj,mj->tim", u, gain, kcu)    # (T, n, m): B_t
        kb = np.einsum("ij,tjm->tim", k_train, b)
        cross = np.einsum("mi,tim->tm", k_cross, b) if k_test is None else \
            np.einsum("mi,tip->tmp", k_cross, b)
        if k_test is None:
            quad = np.einsum("tim,tim->tm", b, kb)
            raw = k_test_diag[None] + quad - 2.0 * cross
            mag = np.abs(k_test_diag)[None] + np.abs(quad) + 2.0 * np.abs(cross)
        else:
            full = k_test[None] + np.einsum("tim,tip->tmp", b, kb) - cross - \
                np.swapaxes(cross, 1, 2)
            cov = 0.5 * (full + np.swapaxes(full, 1, 2))
            raw = np.diagonal(cov, axis1=1, axis2=2)
            mag = np.abs(k_test_diag)[None] + np.abs(np.einsum("tim,tim->tm", b, kb)) + \
                2.0 * np.abs(np.diagonal(cross, axis1=1, axis2=2))
            cov = cov.reshape(tt.shape + (m, m))
        var = _clip_variance(raw, mag, condition if np.isfinite(condition) else 1.0 / _EPS,
                             n, "NTK-GP variance").reshape(tt.shape + (m,))
    return GradientFlowPrediction(t=_frozen(tt), train=_frozen(train), test=_frozen(test),
                                  covariance=_frozen(cov), variance=_frozen(var),
                                  min_eigenvalue=lam_min, condition=condition,
                                  time_scale=float(scale))
