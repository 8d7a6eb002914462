r"""Hayou (TMLR 2023) (infinite-depth limit of finite-width ResNets) figures, reproduced as data + plots.

* Figure 1: width-1 ReLU ResNets at depths 5, 50, 500 against the log-normal law of Prop. 3
  (:func:`figure1_data`, :func:`draw_figure1`).
* Figures 2–3: the inverse-erfi activation (derived for an OU target) and the law of ``Y_L``
  against the transformed-Gaussian law of Prop. 4 (:func:`figure3_data`, :func:`draw_figure3`).
* Figure 4: collapse probability of ReLU ResNets against depth and width (:func:`figure4_data`).
* Growth factor of ``log‖φ(Y)‖`` against width 1…8: simulation, Itô drift along paths and the
  derived mean drift (:func:`growth_data`, :func:`draw_growth`); :func:`regime_change` puts the
  derived sign change beside the published one.

``PUBLISHED`` holds what the paper states (its text lost the formulas; only these claims survive).
Defaults are CI sizes; ``full_size=True`` uses larger runs.

>>> regime_change()["derived_first_positive_width"], PUBLISHED["regime_change_widths"]
(4, (3, 4))
"""

import numpy as np
import sympy as sp

from symkernel.validate import resnet as checks
from symkernel.theory.sde.width import growth_factor, sign_change
from symkernel.core.numpy_eval import numpy_lambdify
from symkernel.core.symbols import x

PUBLISHED = {
    # Fig. 1: "excellent match ... for depths 50 and 500"; depth 5 does not fit
    "figure1_depths": (5, 50, 500),
    # §4: "For width n <= 3, resp. n >= 4, the logarithmic growth factor ... is negative,
    # resp. positive"
    "regime_change_widths": (3, 4),
    # Fig. 4: collapse probability decreases with depth and with width
    "figure4_trend": "decreasing in depth and width",
}


def figure1_data(full_size=False, seed=0):
    """Law check of width-1 ReLU ResNets (``X_0 = 1``) at the published depths."""
    n_paths = 50000 if full_size else 5000
    return checks.law_check(
        "relu", x0=1.0, depths=PUBLISHED["figure1_depths"], n_paths=n_paths, seed=seed
    )


def draw_figure1(data):
    """Histograms of ``log Y_L`` with the ``N(-1/2, 1)`` density, one panel per depth."""
    return checks.plot_law_check(data)


def figure3_data(full_size=False, seed=0, theta=1, k=1, x0=0.5):
    """The inverse-erfi ResNet at depth 500 (CI) or 1000 (full) against its OU-derived law."""
    depth, n_paths = (1000, 50000) if full_size else (500, 5000)
    return checks.ou_check(theta=theta, k=k, x0=x0, depth=depth, n_paths=n_paths, seed=seed)


def draw_figure3(data, bins=80):
    """Left: the activation (Hayou (TMLR 2023) Fig. 2). Right: histogram of ``Y_L``, density of X_1."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4), layout="tight")
    a1, a2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    phi = numpy_lambdify(x, data["activation"])
    u = np.linspace(-3, 3, 400)
    a1.plot(u, phi(u))
    a1.set_title(f"phi(x) = {data['activation']}", fontsize=9)
    y = data["samples"]
    lo, hi = np.quantile(y, [0.002, 0.998])
    a2.hist(
        y, bins=bins, range=(lo, hi), density=True, alpha=0.5, label=f"ResNet, L={data['depth']}"
    )
    pdf = numpy_lambdify(x, data["law"].pdf())
    v = np.linspace(lo, hi, 400)
    a2.plot(v, pdf(v), "k", label="law of $X_1$ (OU)")
    a2.set_title(f"KS={data['ks_stat']:.3f}, p={data['ks_pvalue']:.2g}")
    a2.legend(fontsize=7)
    return fig


def figure4_data(full_size=False, seed=0):
    """Collapse probability for widths 1–4 (1–6 full) and depths 1…100 (…1000 full)."""
    if full_size:
        return checks.collapse_check(
            widths=(1, 2, 3, 4, 5, 6),
            depths=(1, 2, 5, 10, 20, 50, 100, 1000),
            n_paths=100000,
            seed=seed,
        )
    return checks.collapse_check(
        widths=(1, 2, 3, 4), depths=(1, 2, 5, 10, 50, 100), n_paths=5000, seed=seed
    )


def draw_figure4(data):
    return checks.plot_collapse(data)


def growth_data(full_size=False, seed=0):
    """Growth factor of ``log‖relu(Y)‖`` for widths 1…8."""
    depth, n_paths = (1000, 40000) if full_size else (100, 2000)
    return checks.growth_check(widths=tuple(range(1, 9)), depth=depth, n_paths=n_paths, seed=seed)


def draw_growth(data):
    return checks.plot_growth(data)


def regime_change():
    """Derived growth factors and sign changes beside the published regime change."""
    q = growth_factor("relu")
    uncond = growth_factor("relu", condition=False)
    return dict(
        formula=q.expr,
        formula_unconditioned=uncond.expr,
        values={
            m: q.expr.subs(sp.Symbol("n", integer=True, positive=True), m) for m in range(1, 9)
        },
        derived_first_positive_width=sign_change("relu"),
        unconditioned_first_positive_width=sign_change("relu", condition=False),
        linear_first_positive_width=sign_change("identity"),
        published=PUBLISHED["regime_change_widths"],
    )


__all__ = [
    "PUBLISHED",
    "figure1_data",
    "draw_figure1",
    "figure3_data",
    "draw_figure3",
    "figure4_data",
    "draw_figure4",
    "growth_data",
    "draw_growth",
    "regime_change",
]
