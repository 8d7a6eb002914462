r"""Joudaki, Daneshmand & Bach (NeurIPS 2023) (Joudaki, Daneshmand, Bach) figures, reproduced: data functions plus matplotlib drawing.

* Figure 3: isometry gap vs depth of a simulated MLP (layer centering + layer norm) against
  Theorem 4 (:func:`figure3_data`, :func:`draw_figure3`).
* Figure A.1: the potential gamma vs depth against Corollary A.3 (:func:`figure_a1_data`).
* Figures 4-6: layer vs mean-field centering, no normalization vs layer norm, layer norm vs
  mean-field normalization (:func:`figures4to6_data`, :func:`draw_figures4to6`).
* Figure B.1: the isometry strength beta as a function of the gain (:func:`figure_b1_data`),
  exact where symkernel derives a closed form in alpha, numeric (mpmath) otherwise.
* Figures 8, 9 and B.2: :mod:`symkernel.papers.joudaki_daneshmand_bach_2023_figures_8_9_b2`;
  Corollaries 2 and 3 on simulated networks: :mod:`symkernel.papers.joudaki_daneshmand_bach_2023_corollaries`.

Defaults are small enough for CI; ``full_size=True`` uses the paper's sizes (n = 100, d = 5000 for
Figure 3; n = 10, d = 10000 for Figure A.1; n = 10, d = 1000 for Figures 4-6; 10 seeds).  The
paper's inputs are CIFAR-10 images or unspecified; here the inputs are seeded, with an
equicorrelated Gram matrix (``rho0``) so that the decay from a far-from-isometric start is visible.

>>> data = figure_b1_data(("relu", "exp"), gains=[0.5, 1.0])
>>> [round(b, 6) for b in data["relu"]["beta"]], data["exp"]["method"]
([1.266529, 1.266529], 'exact')
"""
import math

import numpy as np

from symkernel.validate import networks as validate
from symkernel.errors import InvalidInputError
from symkernel.coefficients.strength import isometry_strength, strength_against_gain
from symkernel.simulate import simulate_mlp
from symkernel.theory.gram import isometry_float

FIG3_ACTIVATIONS = ("relu", "tanh", "sigmoid")
FIG_B1_ACTIVATIONS = ("relu", "tanh", "sigmoid", "exp", "sin", "gelu")


def _isometry_runs(act, statistic, n, width, depth, seeds, rho0, weights):
    v = validate.isometry(act, n, width, depth, seeds=seeds, rho0=rho0, statistic=statistic,
                          weights=weights)
    beta = float(isometry_strength(act))
    ells = v.layers.astype(float)
    out = dict(layers=v.layers, mean=v.mean, stderr=v.stderr, mean_field=v.theory, beta=beta,
               bounds=dict(v.bounds), params=v.params)
    out["rate"] = v.mean[0] * beta ** -ells  # the paper's dashed "bound with constant C = 1"
    return out


def figure3_data(activations=FIG3_ACTIVATIONS, *, n=20, width=500, depth=20, seeds=range(3),
                 rho0=0.5, full_size=False, weights="explicit"):
    """Isometry gap per layer (mean, standard error over seeds), the mean-field gap, the rigorous
    Theorem 4 bound ``4n beta^-l / I(G_0)^n`` and the rate curve ``gap_0 beta^-l``."""
    if full_size:
        n, width, seeds = 100, 5000, range(10)
    return {a: _isometry_runs(a, "gap", n, width, depth, seeds, rho0, weights) for a in activations}


def figure_a1_data(activations=("tanh", "relu", "sigmoid"), *, n=10, width=1000, depth=20,
                   seeds=range(3), rho0=0.5, full_size=False, weights="explicit"):
    """gamma per layer against Corollary A.3, ``gamma(G_0) beta^-l``."""
    if full_size:
        width, seeds = 10000, range(10)
    return {a: _isometry_runs(a, "potential", n, width, depth, seeds, rho0, weights) for a in activations}


#: Figures 4-6: (figure, label, centering, normalization) of the compared networks.
VARIANTS = (
    ("Figure 4", "layer centering", "layer", "layer"),
    ("Figure 4", "mean-field centering", "mean_field", "layer"),
    ("Figure 5", "no normalization", "mean_field", None),
    ("Figure 5", "layer normalization", "mean_field", "layer"),
    ("Figure 6", "layer normalization", "mean_field", "layer"),
    ("Figure 6", "mean-field normalization", "mean_field", "mean_field"),
)


def figures4to6_data(activations=("relu", "tanh", "sigmoid", "exp"), *, n=10, width=300,
                     depth=15, seeds=range(3), full_size=False, weights="explicit"):
    """Isometry per layer (mean and standard error over seeds) for every variant of
    :data:`VARIANTS`, on seeded Gaussian inputs.  A run whose representations overflow (``exp``
    without normalization) gives NaN from that layer on."""
    if full_size:
        width, seeds = 1000, range(10)
    seeds = list(seeds)
    inputs = np.random.default_rng(0).standard_normal((n, width))
    out = {}
    for act in activations:
        for fig, label, centering, normalization in VARIANTS:
            key = (fig, label)
            if key in out.get(act, {}):
                continue
            runs = []
            for s in seeds:
                with np.errstate(over="ignore", invalid="ignore"):
                    res = simulate_mlp(act, inputs, width=width, depth=depth, centering=centering,
                                       normalization=normalization, seed=s, weights=weights,
                                       dtype="float64")
                runs.append([_safe_isometry(G) for G in res.gram])
            runs = np.array(runs)
            out.setdefault(act, {})[key] = dict(mean=runs.mean(axis=0),
                                                stderr=runs.std(axis=0, ddof=1) / math.sqrt(len(seeds)))
    return out


def _safe_isometry(G):
    try:
        return isometry_float(G, tol=1e-9)
    except InvalidInputError:
        return np.nan


def figure_b1_data(activations=FIG_B1_ACTIVATIONS, gains=None, *, dps=15):
    """beta(alpha) on a grid of gains: ``method`` is ``'exact'`` (a closed form in alpha, evaluated)
    or ``'numeric'`` (mpmath quadrature at each gain, ``dps`` digits); see
    :func:`symkernel.coefficients.strength.strength_against_gain`."""
    return strength_against_gain(activations, gains, dps=dps)


# ---------------------------------------------------------------- drawing
def _figure(ncols, width=4.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, 3.3), layout="constrained")
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def _draw_runs(data, ylabel):
    fig, axes = _figure(len(data))
    for ax, (act, d) in zip(axes, data.items()):
        ax.errorbar(d["layers"], d["mean"], yerr=2 * d["stderr"], fmt="-", color="C0",
                    label="simulated (mean ± 2 s.e.)")
        ax.plot(d["layers"], d["mean_field"], ":", color="k", label="mean field")
        for i, (label, curve) in enumerate(d["bounds"].items()):
            ax.plot(d["layers"], curve, "--", color="C3", label=label)
        ax.plot(d["layers"], d["rate"], "--", color="C1", label=r"$C\beta^{-\ell}$ ($C$ = layer 0)")
        ax.set_yscale("log")
        ax.set_ylim(max(np.nanmin(d["mean"]) / 10, 1e-6), max(np.nanmax(d["mean"]) * 10, 1))
        ax.set_title(rf"{act}, $\beta_\sigma$ = {d['beta']:.4f}")
        ax.set_xlabel("layer")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=7)
    params = next(iter(data.values())).get("params") or {}
    if "width" in params:    # say why the simulation may sit above a mean-field bound
        fig.suptitle(f"simulated at width d = {params['width']}, n = {params.get('n', '?')}: the bounds "
                     "hold in the mean-field limit; at finite width the ~1/sqrt(d) noise of every "
                     "layer accumulates", fontsize=8)
    return fig


def draw_figure3(data):
    """Figure 3: isometry gap vs depth with Theorem 4; returns the Figure."""
    return _draw_runs(data, "isometry gap")


def draw_figure_a1(data):
    """Figure A.1: gamma vs depth with Corollary A.3; returns the Figure."""
    return _draw_runs(data, r"$\gamma(G^\ell)$")


def draw_figures4to6(data):
    """One row per activation, one column per figure (4, 5, 6); returns the Figure."""
    from matplotlib.figure import Figure

    figs = ("Figure 4", "Figure 5", "Figure 6")
    fig = Figure(figsize=(12, 3 * len(data)), layout="constrained")
    for r, (act, runs) in enumerate(data.items()):
        for c, name in enumerate(figs):
            ax = fig.add_subplot(len(data), 3, 3 * r + c + 1)
            for i, ((f, label), d) in enumerate((k, v) for k, v in runs.items() if k[0] == name):
                layers = np.arange(len(d["mean"]))
                ax.errorbar(layers, d["mean"], yerr=2 * d["stderr"], color=f"C{i}", label=label)
            ax.set_title(f"{name}: {act}", fontsize=9)
            ax.set_ylim(0, 1.05)
            ax.set_xlabel("layer")
            ax.set_ylabel("isometry")
            ax.legend(fontsize=7)
    return fig


def draw_figure_b1(data):
    """Figure B.1: beta_sigma vs gain; returns the Figure."""
    fig, (ax,) = _figure(1, 5.0)
    for name, d in data.items():
        ax.plot(d["gains"], d["beta"], "-o", ms=3, label=f"{name} ({d['method']})")
    ax.set_xlabel(r"gain $\alpha$")
    ax.set_ylabel(r"$\beta_\sigma$")
    ax.legend(fontsize=7)
    return fig
