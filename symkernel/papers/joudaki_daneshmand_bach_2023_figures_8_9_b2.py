r"""Joudaki, Daneshmand & Bach (NeurIPS 2023), Figures 8, 9 and B.2: data functions, each beside the
mean-field theory it is compared with, and matplotlib drawings.

(docs/theory.md §8.)

* Figure 8(a) (:func:`figure8a_data`): isometry without layer normalization, with only the offset
  and scale of the activation's Hermite expansion, :math:`x^+ = (\sigma(Wx) - c_0)/\sqrt{\bar\sigma
  (1)}`, against layer normalization.  Theory: the correlations follow the mean-field Gram map
  :math:`\bar\sigma(\rho)/\bar\sigma(1)` either way; the squared norms follow
  :func:`~symkernel.theory.normalization.norm_chain`: a stable fixed point for SELU and tanh
  (self-normalizing), a neutral one for ReLU, whose norms drift like a random walk.
* Figure 8(b) (:func:`figure8b_data`): activation then normalization (eq. (1)) against
  normalization then activation, :math:`x^+ = \sigma(\mathrm{LN}(Wx - \overline{Wx}))`, whose
  correlations follow the *uncentered* kernel map :math:`\kappa = \hat\sigma/\hat\sigma(1)`: for
  ReLU :math:`\kappa` has its fixed point at 1 and the representations collapse.
* Figure 9 (:func:`figure9_data`): the error of the mean-field prediction through depth, ReLU,
  mean-field normalization vs layer normalization.  Theory for the norms:
  :func:`~symkernel.theory.normalization.norm_deviation`, :math:`E(q_\ell-1)^2 \approx \ell v/d`
  (growing linearly with depth) against exactly 0 with layer normalization.
* Figure B.2 (:func:`figure_b2_data`): the rate towards isometry against the gain: the decay per
  layer of the log-odds :math:`\log(\rho_\ell/(1-\rho_\ell))` of the mean correlation (the potential
  :math:`\gamma` of an equicorrelated Gram) over ``depth`` layers, simulated and mean-field, beside
  :math:`\log\beta_\sigma(\alpha)` (Corollary A.3's rate, a lower bound) and
  :math:`-\log(2-\beta_\sigma) = -\log(c_1^2/\bar\sigma(1))`, the mean-field rate near isometry.

Sizes: small defaults for CI; ``full_size=True`` gives the paper's (n = 10, d = 1000, 10 seeds).
The paper's inputs are CIFAR-10 images; here they are seeded with an equicorrelated Gram matrix
(``rho0``).  Figures 7, 2, B.3-B.6 need training or pretrained language models: not reproduced.

>>> d = figure8b_data(("tanh",), n=3, width=64, depth=2, seeds=range(2))
>>> sorted(d["tanh"]), d["tanh"]["norm_act"]["corr_mean"].shape
(['act_norm', 'beta', 'norm_act'], (3,))
"""
import math

import numpy as np

from symkernel.core.activations import as_activation
from symkernel.coefficients.strength import isometry_strength
from symkernel.errors import InvalidInputError
from symkernel.simulate import inputs_with_gram, simulate_mlp
from symkernel.theory.gram import gram_sequence, isometry_float
from symkernel.theory.normalization import norm_chain, norm_deviation
from symkernel.validate.networks import equicorrelated


def _seeds(seeds):
    seeds = list(seeds)
    if len(seeds) < 2:
        raise InvalidInputError(f"a standard error needs at least two seeds, got {seeds!r}")
    return seeds


def _grams(act, X, width, depth, seeds, weights, **kw):
    """``(seeds, depth+1, n, n)`` Gram matrices of the simulated network."""
    return np.stack([simulate_mlp(act, X, width=width, depth=depth, seed=s, weights=weights,
                                  dtype="float64", **kw).gram for s in seeds])


def _stats(samples):
    """mean and standard error over the first axis (seeds)."""
    return samples.mean(axis=0), samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])


def _correlations(grams):
    """Normalized Gram matrices of a stack of Gram matrices (float64, vectorized)."""
    d = np.sqrt(np.diagonal(grams, axis1=-2, axis2=-1))
    return grams / (d[..., :, None] * d[..., None, :])


def _isometries(grams):
    """Isometry of each Gram matrix of a stack, from float64 eigenvalues (0 when one is <= 0)."""
    lam = np.linalg.eigvalsh(grams)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(np.log(np.clip(lam, 0, None)).mean(axis=-1)) / lam.mean(axis=-1)
    return np.where(lam[..., 0] > 0, out, 0.0)


def _summary(grams, theory):
    """Per layer: isometry, mean off-diagonal correlation, mean squared deviation of the squared
    norms from 1, and the normalized-Gram error against ``theory`` (mean and s.e. over seeds)."""
    n = grams.shape[-1]
    off = ~np.eye(n, dtype=bool)
    C = _correlations(grams)
    samples = dict(isometry=_isometries(grams), corr=C[..., off].mean(axis=-1),
                   norm_dev=((np.diagonal(grams, axis1=2, axis2=3) - 1.0) ** 2).mean(axis=2),
                   error=np.linalg.norm(C - np.asarray(theory)[None], axis=(2, 3)) / n)
    out = {}
    for name, values in samples.items():
        out[f"{name}_mean"], out[f"{name}_stderr"] = _stats(values)
    return out


def _setup(act, n, width, rho0):
    act = as_activation(act)
    G0 = equicorrelated(n, float(rho0))
    return act, G0, inputs_with_gram(G0, width, seed=0)


# ---------------------------------------------------------------- Figure 8
def figure8a_data(activations=("selu", "tanh", "relu"), *, n=10, width=300, depth=15,
                  seeds=range(4), rho0=0.5, weights="gram", full_size=False):
    """Figure 8(a): per activation, ``'offset_scale'`` (mean-field centering and normalization, no
    layer norm) and ``'layer_norm'`` (eq. (1)) runs, summarized per layer (``isometry_mean``,
    ``corr_mean``, ``norm_dev_mean`` with ``_stderr``), the mean-field isometry and correlation
    (``theory_isometry``, ``theory_corr``), the norm theory ``theory_norm_dev``
    (:func:`~symkernel.theory.normalization.norm_deviation`) and ``chain`` (its slope, variance,
    ``c_0`` and :math:`\\bar\\sigma(1)`)."""
    if full_size:
        width, seeds = 1000, range(10)
    seeds = _seeds(seeds)
    out = {}
    for name in activations:
        act, G0, X = _setup(name, n, width, rho0)
        seq = gram_sequence(G0, act, depth)
        d = dict(theory_isometry=np.array([isometry_float(G) for G in seq]),
                 theory_corr=np.array([G[0, 1] for G in seq]),
                 theory_norm_dev=norm_deviation(act, width, depth), chain=norm_chain(act),
                 beta=float(isometry_strength(act)))
        for key, kw in (("offset_scale", dict(centering="mean_field", normalization="mean_field")),
                        ("layer_norm", dict(centering="layer", normalization="layer"))):
            d[key] = _summary(_grams(act, X, width, depth, seeds, weights, **kw), seq)
        out[name] = d
    out["params"] = dict(n=n, width=width, depth=depth, seeds=seeds, rho0=rho0, weights=weights)
    return out


def figure8b_data(activations=("relu", "tanh"), *, n=10, width=300, depth=15, seeds=range(4),
                  rho0=0.5, weights="gram", full_size=False):
    """Figure 8(b): per activation, ``'act_norm'`` (eq. (1)) and ``'norm_act'`` (layer norm, then
    the activation) runs summarized per layer, each with its mean-field Gram sequence
    (``theory_isometry``, ``theory_corr``): the centered map :math:`\\bar\\sigma/\\bar\\sigma(1)`
    for ``act_norm``, the kernel map :math:`\\kappa = \\hat\\sigma/\\hat\\sigma(1)` for ``norm_act``."""
    if full_size:
        width, seeds = 1000, range(10)
    seeds = _seeds(seeds)
    out = {}
    for name in activations:
        act, G0, X = _setup(name, n, width, rho0)
        d = dict(beta=float(isometry_strength(act)))
        for key, order, centered in (("act_norm", "act_norm", True), ("norm_act", "norm_act", False)):
            seq = gram_sequence(G0, act, depth, centering=centered)
            d[key] = _summary(_grams(act, X, width, depth, seeds, weights, order=order), seq)
            d[key]["theory_isometry"] = _isometries(np.array(seq))
            d[key]["theory_corr"] = np.array([G[0, 1] for G in seq])
        out[name] = d
    return out


# ---------------------------------------------------------------- Figure 9
def figure9_data(act="relu", *, n=10, width=1000, depth=10, seeds=range(16), rho0=0.5,
                 weights="gram", full_size=False):
    """Figure 9: the mean-field error per layer for ``'mean_field'`` normalization
    (:math:`(\\sigma - c_0)/\\sqrt{\\bar\\sigma(1)}`) and ``'layer_norm'``: ``error_mean`` (the
    normalized Gram against the mean-field Gram, :math:`\\lVert\\tilde G_\\ell - G^*_\\ell\\rVert_F/n`),
    ``norm_dev_mean`` (:math:`\\overline{(G_{ii}-1)^2}`, the norms' error) with ``_stderr``, and
    ``theory_norm_dev`` (:func:`~symkernel.theory.normalization.norm_deviation`; 0 for layer norm),
    and the least-squares slope through 0 of the norms' error against the layer, per seed
    (``norm_slope_mean``, ``norm_slope_stderr``) and of the theory (``theory_norm_slope``:
    :math:`v/d` for ReLU)."""
    if full_size:
        width, seeds = 1000, range(10)
    seeds = _seeds(seeds)
    act, G0, X = _setup(act, n, width, rho0)
    seq = gram_sequence(G0, act, depth)
    out = dict(theory_isometry=np.array([isometry_float(G) for G in seq]),
               theory_norm_dev=norm_deviation(act, width, depth), chain=norm_chain(act),
               activation=str(act.expr), params=dict(n=n, width=width, depth=depth, seeds=seeds,
                                                     rho0=rho0, weights=weights))
    ells = np.arange(depth + 1)
    out["theory_norm_slope"] = float(ells @ out["theory_norm_dev"] / (ells @ ells))
    for key, kw in (("mean_field", dict(centering="mean_field", normalization="mean_field")),
                    ("layer_norm", dict(centering="mean_field", normalization="layer"))):
        grams = _grams(act, X, width, depth, seeds, weights, **kw)
        out[key] = _summary(grams, seq)
        dev = ((np.diagonal(grams, axis1=2, axis2=3) - 1.0) ** 2).mean(axis=2)
        out[key]["norm_slope_mean"], out[key]["norm_slope_stderr"] = _stats(dev @ ells / (ells @ ells))
    return out


# ---------------------------------------------------------------- Figure B.2
FIG_B2_CASES = (("relu", (0.5, 2.0)), ("tanh", (0.5, 1.0, 2.0)), ("sin", (0.5, 1.0, 1.5)))


def _log_odds(r):
    return np.log(r / (1.0 - r))


def figure_b2_data(cases=FIG_B2_CASES, *, n=8, width=1000, depth=10, seeds=range(16), rho0=0.6,
                   rho_min=0.1, weights="gram", full_size=False):
    """Figure B.2: for each ``(activation, gains)`` and gain, ``beta``, ``log_beta`` (Corollary
    A.3's rate), ``asymptotic`` (:math:`-\\log(2-\\beta)`), ``rate_mf`` (the mean-field decay of the
    log-odds of the correlation per layer, over the ``layers`` layers during which the mean-field
    correlation stays above ``rho_min``, well above the finite-width noise :math:`\\sim d^{-1/2}`)
    and the simulated ``rate_mean``, ``rate_stderr`` (over seeds) over the same layers, with the
    per-layer correlations.  Layer-normalized MLP of eq. (1)."""
    if full_size:
        n, width, seeds = 10, 1000, range(20)
        cases = tuple((name, tuple(sorted(set(gains) | {0.25, 0.75, 1.25, 1.75}))) for name, gains in cases)
    seeds = _seeds(seeds)
    G0 = equicorrelated(n, float(rho0))
    X = inputs_with_gram(G0, width, seed=0)
    off = ~np.eye(n, dtype=bool)
    rows = []
    for name, gains in cases:
        for g in gains:
            act = as_activation(name, g)
            beta = float(isometry_strength(act))
            theory = np.array([G[0, 1] for G in gram_sequence(G0, act, depth)])
            last = int(np.flatnonzero(theory >= rho_min)[-1])
            if last == 0:
                raise InvalidInputError(f"{name} with gain {g}: the correlation drops below rho_min = {rho_min} in one layer")
            corr = _correlations(_grams(act, X, width, last, seeds, weights))[..., off].mean(axis=-1)
            rates = (_log_odds(corr[:, 0]) - _log_odds(corr[:, -1])) / last
            rows.append(dict(activation=name, gain=g, beta=beta, log_beta=math.log(beta),
                             asymptotic=-math.log(2.0 - beta), layers=last,
                             rate_mf=float(_log_odds(theory[0]) - _log_odds(theory[last])) / last,
                             rate_mean=float(rates.mean()),
                             rate_stderr=float(rates.std(ddof=1) / math.sqrt(len(seeds))),
                             corr_theory=theory[:last + 1], corr_mean=corr.mean(axis=0)))
    return dict(rows=rows, params=dict(n=n, width=width, depth=depth, seeds=seeds, rho0=rho0,
                                       rho_min=rho_min, weights=weights))


# ---------------------------------------------------------------- drawing
def _figure(nrows, ncols, w=3.6, h=3.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(w * ncols, h * nrows), layout="constrained")


def _band(ax, layers, mean, stderr, color, label, marker="o"):
    ax.errorbar(layers, mean, yerr=2 * stderr, fmt=f"{marker}-", ms=3, color=color, capsize=2,
                label=label)


def draw_figure8a(data):
    """Figure 8(a): isometry per layer, offset/scale only vs layer norm, with the mean field."""
    acts = [a for a in data if a != "params"]
    fig = _figure(1, len(acts))
    for i, name in enumerate(acts):
        d = data[name]
        ax = fig.add_subplot(1, len(acts), i + 1)
        layers = np.arange(len(d["theory_isometry"]))
        _band(ax, layers, d["offset_scale"]["isometry_mean"], d["offset_scale"]["isometry_stderr"],
              "C0", "offset & scale only")
        _band(ax, layers, d["layer_norm"]["isometry_mean"], d["layer_norm"]["isometry_stderr"],
              "C1", "layer norm", "s")
        ax.plot(layers, d["theory_isometry"], "k:", label="mean field")
        ax.set_title(rf"{name}: $m'(1)$ = {d['chain'].slope:.3f}", fontsize=9)
        ax.set_xlabel("layer")
        ax.set_ylabel("isometry")
        ax.legend(fontsize=7)
    return fig


def draw_figure8b(data):
    """Figure 8(b): isometry per layer, activation-then-norm vs norm-then-activation."""
    fig = _figure(1, len(data))
    for i, (name, d) in enumerate(data.items()):
        ax = fig.add_subplot(1, len(data), i + 1)
        for j, (key, label) in enumerate((("act_norm", "act → norm (eq. 1)"),
                                          ("norm_act", "norm → act"))):
            layers = np.arange(len(d[key]["theory_isometry"]))
            _band(ax, layers, d[key]["isometry_mean"], d[key]["isometry_stderr"], f"C{j}", label,
                  "os"[j])
            ax.plot(layers, d[key]["theory_isometry"], ":", color=f"C{j}", label=f"mean field ({label})")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("layer")
        ax.set_ylabel("isometry")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    return fig


def draw_figure9(data):
    """Figure 9: the mean-field error per layer (correlations, left; norms with theory, right)."""
    fig = _figure(1, 2, 4.4, 3.2)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for j, (key, label) in enumerate((("mean_field", "mean-field normalization"),
                                      ("layer_norm", "layer normalization"))):
        d = data[key]
        layers = np.arange(len(d["error_mean"]))
        _band(left, layers, d["error_mean"], d["error_stderr"], f"C{j}", label, "os"[j])
        _band(right, layers, d["norm_dev_mean"], d["norm_dev_stderr"], f"C{j}", label, "os"[j])
    right.plot(layers, data["theory_norm_dev"], "k:", label=r"theory $\ell v/d$")
    left.set_ylabel(r"$\|\tilde G_\ell - G^*_\ell\|_F / n$")
    right.set_ylabel(r"mean of $(G_{ii} - 1)^2$")
    p = data["params"]
    for ax in (left, right):
        ax.set_xlabel("layer")
        ax.set_title(f"{data['activation']}, n = {p['n']}, d = {p['width']}", fontsize=9)
        ax.legend(fontsize=7)
    return fig


def draw_figure_b2(data):
    """Figure B.2: simulated and mean-field rate per layer against log beta(alpha)."""
    fig = _figure(1, 1, 5.0, 3.8)
    ax = fig.add_subplot()
    rows = data["rows"]
    names = list(dict.fromkeys(r["activation"] for r in rows))
    for j, name in enumerate(names):
        rs = [r for r in rows if r["activation"] == name]
        lb = [r["log_beta"] for r in rs]
        ax.errorbar(lb, [r["rate_mean"] for r in rs], yerr=[2 * r["rate_stderr"] for r in rs],
                    fmt="o", color=f"C{j}", capsize=2, label=f"{name}: simulated (gains "
                    + ", ".join(f"{r['gain']:g}" for r in rs) + ")")
        ax.plot(lb, [r["rate_mf"] for r in rs], "x", color=f"C{j}", ms=7, label=f"{name}: mean field")
    top = max(max(r["rate_mean"] + 2 * r["rate_stderr"] for r in rows), max(r["log_beta"] for r in rows))
    grid = np.linspace(0, max(r["log_beta"] for r in rows) * 1.05, 50)
    ax.plot(grid, grid, "k--", lw=1, label=r"$\log\beta_\sigma$ (Cor. A.3 rate)")
    ax.plot(grid, -np.log(2 - np.exp(grid)), "k:", lw=1, label=r"$-\log(2-\beta_\sigma)$")
    ax.set_xlabel(r"$\log\beta_\sigma(\alpha)$")
    ax.set_ylabel(r"rate per layer of $\log\,\rho_\ell/(1-\rho_\ell)$")
    ax.set_ylim(0, top * 1.1)
    ax.legend(fontsize=6.5)
    return fig


__all__ = ["figure8a_data", "figure8b_data", "figure9_data", "figure_b2_data", "FIG_B2_CASES",
           "draw_figure8a", "draw_figure8b", "draw_figure9", "draw_figure_b2"]
