r"""Finite-width random MLPs, vectorized over a batch of ``n`` inputs (rows), NumPy or PyTorch.

One layer (Joudaki, Daneshmand & Bach (NeurIPS 2023) eq. (1) with its §6 variants; Pabari & Zhou's weight and bias variances; Joudaki & Hofmann (AISTATS 2025)'s
residual branch):

.. math:: z = \sqrt{\sigma_w^2/d_{in}}\, W y + \sigma_b b, \quad W_{ij}, b_i \sim N(0, 1),\qquad
          y^+ = \sqrt{1-r^2}\; \mathrm{N}(\mathrm{C}(\sigma(z))) + r\, y

(``order='norm_act'`` gives :math:`\sigma(\mathrm{N}(\mathrm{C}(z)))` instead).  Centering ``C``:
``'layer'`` (subtract the mean over features, Joudaki, Daneshmand & Bach (NeurIPS 2023)), ``'mean_field'`` (subtract
:math:`c_0 = E\sigma(Z)`), ``'batch'`` (the mean over the batch) or ``None``.  Normalization ``N``:
``'layer'`` = ``'rms'`` (divide by :math:`\sqrt{\mathrm{mean}_k y_k^2}`, Joudaki, Daneshmand & Bach (NeurIPS 2023) Table 1; with layer
centering this is LayerNorm without affine parameters), ``'mean_field'`` (divide by
:math:`\sqrt{\bar\sigma(1)}`, or :math:`\sqrt{E\sigma^2}` without centering), ``'batch'`` (each
feature divided by its RMS over the batch; with ``'batch'`` centering this is the batch-normalized
MLP, each row of the paper's ``d x n`` matrix centered and scaled over the ``n`` samples) or
``None``; an all-zero vector stays zero.  :func:`normalization_steps` returns the matrices right
before and after every normalization (Corollaries 2 and 3 of Joudaki, Daneshmand & Bach (NeurIPS 2023)).  With ``y`` of mean square 1 the seed's
:math:`x = y/\sqrt d` has unit norm, and the recorded Gram :math:`\langle y_i, y_j\rangle/d` is the seed's.

``weights='explicit'`` (alias ``'gaussian'``) draws every ``W`` (d x d normals per layer: the
literal network); ``weights='gram'`` samples ``z`` from its exact conditional law given ``y``: the
columns of ``z`` are i.i.d. :math:`N(0, \sigma_w^2 y y^\top/d_{in})`, so ``z = S g`` with ``S S^T``
that covariance and ``g`` an ``n x d`` normal matrix (n·d normals instead of d², same distribution
of every record).  Non-Gaussian weights, each entry of mean 0 and variance 1 (Joudaki & Hofmann
(AISTATS 2025), Proposition 1: the same kernel map in the mean-field limit): ``'rademacher'``
(:math:`\pm 1`), ``'uniform'`` (on :math:`[-\sqrt 3, \sqrt 3]`) and ``'orthogonal'``
(:math:`\sqrt{\max(d, d_{in})}` times a Haar matrix with orthonormal rows or columns; entries are
not independent).  Biases stay Gaussian.

>>> import symkernel as sk
>>> res = sk.simulate_mlp("relu", n=4, width=64, depth=3, seed=0)
>>> res.gram.shape, bool(abs(res.gram[-1].diagonal() - 1).max() < 1e-5)
((4, 4, 4), True)
"""
import math

import numpy as np

from symkernel.core.activations import as_activation
from symkernel.core.progress import progress_bar
from symkernel.errors import InvalidInputError
from symkernel.coefficients.hermite import hermite_coefficient
from symkernel.gaussian.expectation import check_square_integrable, second_moment
from symkernel.kernels import mean_reduced_dual
from symkernel.theory.gram import checked_gram
from .backends import backend as make_backend, check_memory, check_seed, dtype_name
from .result import SimulationResult

CENTERINGS = ("layer", "mean_field", "batch", None)
#: weight ensembles; 'explicit' and 'gaussian' are the same (i.i.d. N(0, 1) entries)
WEIGHTS = ("explicit", "gaussian", "gram", "rademacher", "uniform", "orthogonal")
NORMALIZATIONS = ("layer", "rms", "mean_field", "batch", None)
RECORDS = ("gram", "pre_gram", "activations")


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_nonneg(name, value):
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def inputs_with_gram(G0, width, seed=0):
    r"""``n x width`` inputs whose Gram :math:`YY^\top/d` equals ``G0`` (up to rounding), each row
    with zero mean over its features, so that layer centering and layer normalization leave a
    unit-diagonal ``G0`` unchanged.  Needs ``n + 1 <= width``.

    >>> import numpy as np
    >>> Y = inputs_with_gram(np.array([[1.0, 0.3], [0.3, 1.0]]), 50)
    >>> np.round(Y @ Y.T / 50, 12)
    array([[1. , 0.3],
           [0.3, 1. ]])
    """
    G0, _ = checked_gram(G0)
    lam, U = np.linalg.eigh(G0)
    n = G0.shape[0]
    width = _check_int("width", width, n + 1)
    rng = np.random.default_rng([int(seed), 2])
    A = rng.standard_normal((width, n))
    A -= A.mean(axis=0, keepdims=True)
    Q, _ = np.linalg.qr(A)
    L = U * np.sqrt(np.clip(lam, 0.0, None))
    return (L @ Q.T) * math.sqrt(width)


def weight_matrix(bk, law, rows, cols):
    """A ``rows x cols`` weight matrix of the back end ``bk``, entries of mean 0 and variance 1:
    ``law`` in ``'explicit'`` (normal), ``'rademacher'``, ``'uniform'``, ``'orthogonal'`` (module
    docstring; Haar via the sign-corrected QR of a normal matrix, Mezzadri 2007)."""
    big, small = max(rows, cols), min(rows, cols)
    if law == "explicit":
        return bk.randn(rows, cols)
    if bk.name == "torch":
        t, kw = bk.torch, dict(generator=bk.generator, device=bk.device)
        if law == "rademacher":
            return t.randint(0, 2, (rows, cols), **kw).to(bk.dtype) * 2 - 1
        if law == "uniform":
            return (t.rand(rows, cols, dtype=bk.dtype, **kw) * 2 - 1) * math.sqrt(3.0)
        q, r = t.linalg.qr(t.randn(big, small, dtype=bk.dtype, **kw))
        q = q * t.where(t.diagonal(r) < 0, -1.0, 1.0).to(bk.dtype)
    else:
        rng = bk.rng
        if law == "rademacher":
            return bk.asarray(2 * rng.integers(0, 2, size=(rows, cols), dtype=np.int8) - 1)
        if law == "uniform":
            return bk.asarray(rng.uniform(-math.sqrt(3.0), math.sqrt(3.0), size=(rows, cols)))
        q, r = np.linalg.qr(rng.standard_normal((big, small)))
        q = bk.asarray(q * np.where(np.diagonal(r) < 0, -1.0, 1.0))
    q = q * math.sqrt(big)
    return q if rows >= cols else q.T


def _mean_field_constants(act, centering, normalization):
    """(c_0, scale) used by mean-field centering / normalization, as floats: ``scale =
    1/sqrt(sigma_bar(1))`` after centering, ``sigma_bar(1) = E sigma^2 - c_0^2`` the value the
    theory's layer kernel map divides by (:func:`~symkernel.kernels.mean_reduced_dual` at
    rho = 1, evaluated without the cancellation of ``E sigma^2 - c_0^2`` in floats), and
    ``1/sqrt(E sigma^2)`` without centering.  Stored on ``act`` (one computation per activation
    object, however many seeds are simulated)."""
    return act.memo(("mlp_mean_field_constants", centering, normalization),
                    lambda: _compute_mean_field_constants(act, centering, normalization))


def _compute_mean_field_constants(act, centering, normalization):
    c0 = float(hermite_coefficient(act, 0)) if centering == "mean_field" else None
    scale = None
    if normalization == "mean_field":
        var = (mean_reduced_dual(act).result(1, 17).value if centering is not None
               else second_moment(act).value(17))
        if var <= 0:
            raise InvalidInputError("mean-field normalization is undefined for a constant activation")
        scale = 1.0 / math.sqrt(float(var))
    return c0, scale


def _center(bk, a, centering, c0):
    if centering == "layer":
        return a - bk.mean(a, 1)
    if centering == "mean_field":
        return a - c0
    if centering == "batch":
        return a - bk.mean(a, 0)
    return a


def _normalize(bk, a, normalization, scale):
    if normalization in ("layer", "rms"):
        a = a * bk.rsqrt(bk.mean(a * a, 1))
    elif normalization == "mean_field":
        a = a * scale
    elif normalization == "batch":
        a = a * bk.rsqrt(bk.mean(a * a, 0))
    return a


def _post(bk, a, centering, normalization, c0, scale):
    return _normalize(bk, _center(bk, a, centering, c0), normalization, scale)


def _progress_bar(total, enabled):
    return progress_bar(total, desc="layers", enabled=enabled)


def simulate_mlp(act, inputs=None, *, n=None, width, depth, centering="layer",
                 normalization="layer", order="act_norm", residual=0.0, sigma_w2=1.0,
                 sigma_b2=0.0, gain=None, backend="numpy", dtype="float32", device=None, seed=0,
                 weights="explicit", record=("gram",), normalize_inputs=True, progress=None,
                 observe=None, **params):
    """Propagate a batch through a random MLP of the given width and depth; see the module
    docstring for the layer.  Returns a :class:`SimulationResult` with per-layer records.

    ``act``: an Activation, registry name or expression, with ``gain`` (sigma(gain x)) and
    registry ``params`` as :func:`~symkernel.core.activations.as_activation` (any other keyword
    is an InvalidInputError naming it).
    ``inputs``: an ``n x d0`` array (rows are samples), or ``None`` with ``n`` for standard normal
    inputs of width ``width`` (drawn with NumPy from ``[seed, 0]``, the same for both back ends).
    ``normalize_inputs``: apply Joudaki, Daneshmand & Bach (NeurIPS 2023)'s ``x^0 = LN(x - mean(x))`` to the inputs first.
    ``record``: any of ``'gram'`` (always kept, n x n per layer), ``'pre_gram'`` (Gram of the
    pre-activations, for the q/c maps of Pabari & Zhou) and ``'activations'`` (every layer, n x d each:
    memory grows with depth, off by default).  Only the current layer is held otherwise.
    ``progress``: a tqdm bar over layers (``None``: on for runs above ~1e11 multiply-adds).
    ``observe``: ``None`` or a callable ``observe(layer, before, after)``, called at every layer
    ``1..depth`` with float64 NumPy copies of the ``n x d`` matrix right before the normalization
    ``N`` (after the centering) and right after it (for the checks of Theorem 1 and Corollaries
    2-3, :func:`normalization_steps`).
    """
    act = as_activation(act, gain, **params)
    check_square_integrable(act)   # the mean field this network checks needs E[sigma(Z)^2] < oo
    width = _check_int("width", width, 1)
    depth = _check_int("depth", depth, 0)
    if centering not in CENTERINGS:
        raise InvalidInputError(f"centering must be one of {CENTERINGS}, got {centering!r}")
    if normalization not in NORMALIZATIONS:
        raise InvalidInputError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if order not in ("act_norm", "norm_act"):
        raise InvalidInputError(f"order must be 'act_norm' or 'norm_act', got {order!r}")
    if order == "norm_act" and "mean_field" in (centering, normalization):
        raise InvalidInputError("mean-field centering/normalization refer to sigma(Z): use order='act_norm'")
    if weights not in WEIGHTS:
        raise InvalidInputError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    weights = "explicit" if weights == "gaussian" else weights
    record = (record,) if isinstance(record, str) else tuple(record)
    if any(r not in RECORDS for r in record):
        raise InvalidInputError(f"record entries must be among {RECORDS}, got {record!r}")
    if observe is not None and not callable(observe):
        raise InvalidInputError(f"observe must be None or a callable (layer, before, after), got {observe!r}")
    residual = _check_nonneg("residual", residual)
    if residual >= 1:
        raise InvalidInputError(f"the residual strength r must lie in [0, 1), got {residual}")
    sigma_w2 = _check_nonneg("sigma_w2", sigma_w2)
    sigma_b2 = _check_nonneg("sigma_b2", sigma_b2)
    dtype = dtype_name(dtype)
    seed = check_seed(seed)

    if inputs is None:
        n = _check_int("n", n, 1)
        check_memory(8 * n * width * (3 + (depth if "activations" in record else 0))
                     + 8 * width * width * (weights != "gram"),
                     f"an MLP of width {width} on {n} inputs")
        inputs = np.random.default_rng([int(seed), 0]).standard_normal((n, width))
    else:
        if type(inputs).__module__.startswith("torch"):
            inputs = inputs.detach().cpu().numpy()
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.ndim != 2 or not np.all(np.isfinite(inputs)):
            raise InvalidInputError("inputs must be a finite 2-d array (rows are samples)")
        if n is not None and n != inputs.shape[0]:
            raise InvalidInputError(f"n={n} but inputs has {inputs.shape[0]} rows")
    n, d0 = inputs.shape
    check_memory(8 * n * width * (3 + (depth if "activations" in record else 0))
                 + 8 * width * max(width, d0) * (weights != "gram"),
                 f"an MLP of width {width} on {n} inputs")
    if residual and d0 != width:
        raise InvalidInputError("a residual branch needs inputs of the same width as the network")

    bk = make_backend(backend, dtype, seed, device)
    sigma = bk.activation(act)
    c0, scale = _mean_field_constants(act, centering, normalization)
    y = bk.asarray(inputs)
    if normalize_inputs:
        y = _post(bk, y, "layer", "layer", None, None)

    grams = [bk.gram(y) / y.shape[1]]
    pre = [] if "pre_gram" in record else None
    acts = [bk.to_numpy(y).astype(np.float64)] if "activations" in record else None
    r_skip, r_main = residual, math.sqrt(1.0 - residual * residual)
    sw, sb = math.sqrt(sigma_w2), math.sqrt(sigma_b2)
    work = n * width * (n if weights == "gram" else width) * depth
    bar = _progress_bar(depth, (None if work > 1e11 else False) if progress is None else bool(progress))
    try:
        for _ in range(depth):
            d_in = y.shape[1]
            if weights == "gram":
                K = bk.gram(y) * (sigma_w2 / d_in)
                z = bk.psd_sqrt(K) @ bk.randn(n, width)
            else:
                z = (y @ weight_matrix(bk, weights, width, d_in).T) * (sw / math.sqrt(d_in))
            if sb:
                z = z + sb * bk.randn(1, width)
            if pre is not None:
                pre.append(bk.gram(z) / width)
            before = _center(bk, sigma(z) if order == "act_norm" else z, centering, c0)
            h = _normalize(bk, before, normalization, scale)
            if observe is not None:
                observe(len(grams), bk.to_numpy(before).astype(np.float64),
                        bk.to_numpy(h).astype(np.float64))
            if order == "norm_act":
                h = sigma(h)
            y = r_main * h + r_skip * y if residual else h
            grams.append(bk.gram(y) / width)
            if acts is not None:
                acts.append(bk.to_numpy(y).astype(np.float64))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    params = dict(activation=str(act.expr), width=width, depth=depth, n=n, input_dim=d0,
                  centering=centering, normalization=normalization, order=order,
                  residual=residual, sigma_w2=sigma_w2, sigma_b2=sigma_b2, backend=bk.name,
                  dtype=dtype, device=str(device or "cpu"), seed=int(seed), weights=weights,
                  normalize_inputs=bool(normalize_inputs))
    return SimulationResult(gram=np.stack(grams), params=params,
                            pre_gram=np.stack(pre) if pre else None,
                            activations=np.stack(acts) if acts is not None else None,
                            output=bk.to_numpy(y))


def normalization_steps(act, inputs=None, **kwargs):
    """``(result, steps)``: :func:`simulate_mlp` with the same arguments, and for every layer
    ``(before, after)``, the ``n x d`` float64 matrices right before and after its normalization.

    With ``centering='batch', normalization='batch'`` this is the batch-normalized MLP (each
    feature centered and scaled over the batch); the default is eq. (1)'s layer normalization.

    >>> res, steps = normalization_steps("relu", n=3, width=8, depth=2, seed=0)
    >>> len(steps), steps[0][0].shape
    (2, (3, 8))
    """
    steps = []
    result = simulate_mlp(act, inputs, observe=lambda layer, b, a: steps.append((b, a)), **kwargs)
    return result, steps
