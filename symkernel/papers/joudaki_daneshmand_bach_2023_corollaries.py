r"""Joudaki, Daneshmand & Bach (NeurIPS 2023), Corollaries 2 and 3 checked on simulated networks.

At every layer of a random MLP the matrix right before the normalization and the one right after
it (:func:`symkernel.simulate.mlp.normalization_steps`) give both sides of the bound
(:mod:`symkernel.theory.normalization`, docs/theory.md §8):

* Corollary 2 (layer normalization, the network of eq. (1)): the ``n x n`` sample Gram matrices.
* Corollary 3, corrected (batch normalization: each feature centered and scaled over the batch):
  the ``d x d`` feature covariances.  They have rank at most ``n``, so the check is informative
  only for a batch at least as large as the width (``n >= d``); for ``n < d`` both sides are 0
  (reported, not hidden).

``slack = after/bound >= 1`` says how tight the bound is; by the identity behind the proof it
equals :math:`(\bar a/(\prod a_i)^{1/n})^2`.

>>> d = corollary_data("relu", "layer", n=4, width=16, depth=2, seeds=range(1))
>>> bool(d["holds"]), d["slack"].shape
(True, (1, 2))
"""
import numpy as np

from symkernel.errors import InvalidInputError
from symkernel.simulate.mlp import normalization_steps
from symkernel.theory.gram import isometry_float
from symkernel.theory.normalization import batch_norm_bound, layer_norm_bound

#: normalization -> (centering, normalization of simulate_mlp, bound function, the paper's result)
NETWORKS = {
    "layer": ("layer", "layer", layer_norm_bound, "Corollary 2"),
    "batch": ("batch", "batch", batch_norm_bound, "Corollary 3 (corrected)"),
}


def corollary_data(act, normalization="layer", *, n=10, width=200, depth=10, seeds=range(3),
                   weights="explicit", full_size=False, **simulate_kwargs):
    """Both sides of Corollary 2 (``normalization='layer'``) or 3 (``'batch'``) at every layer and
    seed of a random MLP: arrays ``before``, ``after``, ``bound``, ``factor``, ``slack`` of shape
    ``(seeds, depth)``, and ``holds`` (``after >= bound`` up to 1e-12 relative, everywhere).
    ``full_size``: width 1000, 10 seeds (for ``'batch'`` the batch is then ``n = 2 width``)."""
    if normalization not in NETWORKS:
        raise InvalidInputError(f"normalization must be one of {sorted(NETWORKS)}, got {normalization!r}")
    if full_size:
        width, seeds = 1000, range(10)
        n = 2 * width if normalization == "batch" else n
    centering, norm, bound_fn, label = NETWORKS[normalization]
    out = {k: [] for k in ("before", "after", "bound", "factor", "slack")}
    for s in seeds:
        _, steps = normalization_steps(act, n=n, width=width, depth=depth, seed=s, weights=weights,
                                       centering=centering, normalization=norm, dtype="float64",
                                       **simulate_kwargs)
        rows = [bound_fn(before) for before, _ in steps]
        for k in out:
            out[k].append([getattr(r, k) for r in rows])
    out = {k: np.array(v, dtype=float) for k, v in out.items()}
    out["holds"] = bool(np.all(out["after"] >= out["bound"] * (1 - 1e-12)))
    out["informative"] = bool(np.any(out["bound"] > 0))
    out["label"] = label
    out["params"] = dict(activation=str(act), normalization=normalization, n=n, width=width,
                         depth=depth, seeds=list(seeds), weights=weights)
    return out


def corollary3_as_printed(X):
    r"""Corollary 3 exactly as printed, for the ``n x d`` batch ``X`` (rows are samples):
    ``(lhs, rhs)`` with :math:`\tilde C := XX^\top` taken literally (so the left side is
    :math:`\mathcal I(C)`, :math:`C = X^\top X` in the rows-as-samples convention) and the
    normalizer :math:`\bar a := \frac1n\sum_{i=1}^d a_i`.  The printed statement claims
    ``lhs >= rhs``; see :data:`~symkernel.papers.joudaki_daneshmand_bach_2023.CORRECTIONS`.

    >>> lhs, rhs = corollary3_as_printed(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]))
    >>> bool(lhs >= rhs)
    False
    """
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    a = np.linalg.norm(X, axis=0)
    a_bar = a.sum() / n
    lhs = isometry_float(X.T @ X)
    return lhs, lhs * (1 + np.mean((a - a_bar) ** 2) / a_bar**2)


# ---------------------------------------------------------------- drawing
def draw_corollaries(layer_data, batch_data):
    """Isometry before and after each normalization layer, and the bound, per layer (mean over
    seeds), for Corollary 2 (left) and Corollary 3 (right); returns the Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.4), layout="constrained")
    for i, d in enumerate((layer_data, batch_data)):
        ax = fig.add_subplot(1, 2, i + 1)
        layers = np.arange(1, d["after"].shape[1] + 1)
        ax.plot(layers, d["before"].mean(0), "o-", ms=3, color="C0", label="before normalization")
        ax.plot(layers, d["bound"].mean(0), "s--", ms=3, color="C3", label="bound")
        ax.plot(layers, d["after"].mean(0), "^-", ms=3, color="C2", label="after normalization")
        p = d["params"]
        ax.set_title(f"{d['label']}: {p['activation']}, n = {p['n']}, d = {p['width']}", fontsize=9)
        ax.set_xlabel("layer")
        ax.set_ylabel("isometry (mean over seeds)")
        ax.legend(fontsize=7)
    return fig


__all__ = ["NETWORKS", "corollary_data", "corollary3_as_printed", "draw_corollaries"]
