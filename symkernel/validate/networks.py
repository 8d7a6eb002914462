r"""Theory against finite-width simulation: per layer, the mean-field prediction, the empirical mean
over seeds, its standard error, and whether they agree within ``n_sigma`` standard errors.

* :func:`kernel_sequence`: the correlation of two inputs, :math:`\rho_{\ell+1} = \bar\sigma(\rho_\ell)/\bar\sigma(1)`
  (Joudaki, Daneshmand & Bach (NeurIPS 2023) eq. (10) for n = 2; without centering :math:`\hat\sigma` replaces :math:`\bar\sigma`;
  residual strength ``r`` mixes in :math:`r^2\rho_\ell`, Joudaki & Hofmann (AISTATS 2025) Prop. 2).
* :func:`isometry`: the isometry (or its gap, or the potential gamma) of an ``n x n`` Gram matrix,
  with the Theorem 4 / Corollary A.3 bounds alongside.

A finite width adds fluctuations of order :math:`1/\sqrt d` per layer: near an isotropic Gram the
empirical isometry gap stalls at a floor of about :math:`(n-1)/(2d)` (the gap of a Gram of random
vectors) while the mean-field gap keeps decaying, and the agreement flag reports that honestly.

>>> import symkernel as sk
>>> v = sk.validate.kernel_sequence("relu", 0.5, width=256, depth=2, seeds=range(3))
>>> v.theory.shape, v.mean.shape, bool(v.agree[0])
((3,), (3,), True)
"""
import inspect
import math
from dataclasses import dataclass, field

import numpy as np

from symkernel.core import display
from symkernel.core.activations import as_activation
from symkernel.core.progress import progress
from symkernel.errors import InvalidInputError
from symkernel.theory.gram import (
    gram_sequence, isometry_float as _isometry, isometry_gap_float as _gap,
    isometry_gap_bound_float, potential_float as _potential, potential_bound_float,
)
from symkernel.coefficients.strength import isometry_strength
from symkernel.simulate import inputs_with_gram, simulate_mlp

_ATOL = {"float32": 1e-5, "float64": 1e-10}
_STATISTICS = {"isometry": _isometry, "gap": _gap, "potential": _potential}


@dataclass(frozen=True, eq=False)
class Validation:
    """Per-layer comparison; arrays are indexed by layer ``0..depth``.

    ``samples[s, l]`` is seed ``s``'s value; ``agree[l]`` is
    ``|mean - theory| <= n_sigma * stderr + atol`` (``atol`` only absorbs rounding of the dtype).
    ``bounds`` maps a label to an upper-bound curve (Theorem 4, Corollary A.3) when one applies.
    """

    statistic: str
    theory: np.ndarray
    samples: np.ndarray
    n_sigma: float
    atol: float
    params: dict
    bounds: dict = field(default_factory=dict)

    @property
    def layers(self):
        return np.arange(self.theory.shape[0])

    @property
    def mean(self):
        return self.samples.mean(axis=0)

    @property
    def stderr(self):
        s = self.samples.shape[0]
        return self.samples.std(axis=0, ddof=1) / math.sqrt(s) if s > 1 else np.full(self.mean.shape, np.inf)

    @property
    def agree(self):
        with np.errstate(invalid="ignore"):
            diff = np.abs(self.mean - self.theory)
            both_inf = np.isinf(self.mean) & np.isinf(self.theory)
            return both_inf | (diff <= self.n_sigma * self.stderr + self.atol)

    @property
    def all_agree(self):
        return bool(np.all(self.agree))

    def table(self):
        """Rows ``(layer, theory, mean, stderr, agree)``."""
        return [(int(l), float(t), float(m), float(s), bool(a)) for l, t, m, s, a in
                zip(self.layers, self.theory, self.mean, self.stderr, self.agree)]

    def plot(self, ax=None, log=None):
        """Theory (line), empirical mean with ``n_sigma`` standard-error bars, bounds (dashed).
        Returns the matplotlib Figure."""
        from matplotlib.figure import Figure

        if ax is None:
            fig = Figure(figsize=(5, 3.5), layout="constrained")
            ax = fig.add_subplot()
        else:
            fig = ax.figure
        ax.plot(self.layers, self.theory, "-", color="C0", label="mean field")
        ax.errorbar(self.layers, self.mean, yerr=self.n_sigma * self.stderr, fmt="o", ms=3,
                    color="C1", capsize=2, label=f"width {self.params.get('width')} "
                    f"(mean ± {self.n_sigma:g} s.e., {self.samples.shape[0]} seeds)")
        for i, (label, curve) in enumerate(self.bounds.items()):
            ax.plot(self.layers, curve, "--", color=f"C{i + 2}", label=label)
        if log if log is not None else self.statistic in ("gap", "potential"):
            ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_ylabel(self.statistic)
        ax.set_title(str(self.params.get("activation")))
        ax.legend(fontsize=7)
        return fig

    def __repr__(self):
        bad = [int(l) for l in self.layers[~self.agree]]
        return (f"Validation({self.statistic}, {self.params.get('activation')}, layers 0..{self.layers[-1]}, "
                f"agree={self.all_agree}{'' if not bad else f', disagree at layers {bad}'})")

    def _repr_html_(self, digits=8):
        r"""A table (layer, theory, mean, standard error, agree) with LaTeX in the cells; the mean
        is rounded at its standard error's first digit, rows that disagree are shaded
        (:mod:`symkernel.present.display`)."""
        return display.to_html(self, digits=digits)


#: the keywords that go on to simulate_mlp; every other keyword is an activation parameter
_SIMULATE_KEYWORDS = frozenset(
    name for name, p in inspect.signature(simulate_mlp).parameters.items()
    if p.kind is inspect.Parameter.KEYWORD_ONLY) - {"gain"}


def _act(act, gain, kwargs):
    """``(activation, simulate_mlp keywords)``: ``kwargs`` split into simulator options and
    registry parameters (:func:`~symkernel.core.activations.as_activation` names an unknown one)."""
    simulate = {k: v for k, v in kwargs.items() if k in _SIMULATE_KEYWORDS}
    params = {k: v for k, v in kwargs.items() if k not in _SIMULATE_KEYWORDS}
    return as_activation(act, gain, **params), simulate


def _theory_options(centering, normalization):
    if normalization not in ("layer", "rms", "mean_field"):
        raise InvalidInputError("the mean-field Gram map (unit diagonal) covers normalization "
                                f"'layer', 'rms' or 'mean_field', not {normalization!r}")
    if centering not in ("layer", "mean_field", None):
        raise InvalidInputError(f"no mean-field map here for centering={centering!r}")
    return centering is not None


def _seeds(seeds):
    seeds = list(seeds)
    if len(seeds) < 2:
        raise InvalidInputError("a standard error needs at least two seeds")
    return seeds


def kernel_sequence(act, rho0, width, depth, seeds=range(5), *, centering="layer",
                    normalization="layer", residual=0.0, gain=None, n_sigma=4.0, dtype="float64",
                    **simulate_kwargs):
    r"""Correlation of two inputs with correlation ``rho0`` through ``depth`` layers: mean-field
    sequence vs simulations of width ``width`` over ``seeds``; see the module docstring.
    Other keywords are :func:`~symkernel.simulate.simulate_mlp` options or registry parameters of
    ``act`` (``gain`` too, as :func:`~symkernel.core.activations.as_activation`)."""
    rho0 = float(rho0)
    if not -1 < rho0 < 1:
        raise InvalidInputError(f"rho0 must lie in (-1, 1), got {rho0}")
    act, simulate_kwargs = _act(act, gain, simulate_kwargs)
    centered = _theory_options(centering, normalization)
    G0 = np.array([[1.0, rho0], [rho0, 1.0]])
    theory = np.array([G[0, 1] for G in gram_sequence(G0, act, depth, centering=centered,
                                                       residual=residual)])
    inputs = inputs_with_gram(G0, width, seed=0)
    samples = []
    for s in progress(_seeds(seeds), desc="seeds"):
        res = simulate_mlp(act, inputs, width=width, depth=depth, centering=centering,
                           normalization=normalization, residual=residual, dtype=dtype, seed=s,
                           **simulate_kwargs)
        samples.append(res.correlations[:, 0, 1])
    params = dict(activation=str(act.expr), rho0=rho0, width=width, depth=depth,
                  centering=centering, normalization=normalization, residual=residual,
                  dtype=dtype, seeds=list(seeds), **simulate_kwargs)
    return Validation("correlation", theory, np.array(samples), float(n_sigma), _ATOL[dtype], params)


def equicorrelated(n, rho0):
    """The ``n x n`` Gram matrix with unit diagonal and every off-diagonal entry ``rho0``."""
    return (1.0 - rho0) * np.eye(n) + rho0 * np.ones((n, n))


def isometry(act, n, width, depth, seeds=range(5), *, G0=None, rho0=0.5, statistic="isometry",
             centering="layer", normalization="layer", residual=0.0, gain=None, n_sigma=4.0,
             dtype="float64", **simulate_kwargs):
    r"""Isometry (``statistic='isometry'``), isometry gap (``'gap'``) or potential gamma
    (``'potential'``) of ``n`` inputs with Gram ``G0`` (default: equicorrelated with ``rho0``)
    through ``depth`` layers: mean-field Gram sequence vs simulations over ``seeds``.  For the
    gap and gamma, ``bounds`` holds Theorem 4 and Corollary A.3 with ``beta = isometry_strength``."""
    if statistic not in _STATISTICS:
        raise InvalidInputError(f"statistic must be one of {sorted(_STATISTICS)}, got {statistic!r}")
    act, simulate_kwargs = _act(act, gain, simulate_kwargs)
    centered = _theory_options(centering, normalization)
    G0 = equicorrelated(n, float(rho0)) if G0 is None else np.asarray(G0, dtype=float)
    if G0.shape != (n, n):
        raise InvalidInputError(f"G0 must be {n} x {n}, got shape {G0.shape}")
    stat = _STATISTICS[statistic]
    seq = gram_sequence(G0, act, depth, centering=centered, residual=residual)
    theory = np.array([stat(G) for G in seq])
    inputs = inputs_with_gram(seq[0], width, seed=0)
    samples = []
    for s in progress(_seeds(seeds), desc="seeds"):
        res = simulate_mlp(act, inputs, width=width, depth=depth, centering=centering,
                           normalization=normalization, residual=residual, dtype=dtype, seed=s,
                           **simulate_kwargs)
        samples.append({"isometry": res.isometry, "gap": res.isometry_gap,
                        "potential": res.potential}[statistic])
    bounds = {}
    if centered and residual == 0 and statistic in ("gap", "potential"):
        beta = float(isometry_strength(act))
        ells = np.arange(depth + 1)
        if statistic == "gap":
            bounds["Theorem 4 bound"] = isometry_gap_bound_float(seq[0], beta, ells)
        else:
            bounds["Corollary A.3 bound"] = potential_bound_float(_potential(seq[0]), beta, ells)
    params = dict(activation=str(act.expr), n=n, width=width, depth=depth, centering=centering,
                  normalization=normalization, residual=residual, dtype=dtype,
                  seeds=list(seeds), **simulate_kwargs)
    return Validation(statistic, theory, np.array(samples), float(n_sigma), _ATOL[dtype], params,
                      bounds)
