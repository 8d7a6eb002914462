r"""Hayou (TMLR 2023) (infinite-depth limit of finite-width ResNets) figures, reproduced as data + plots.

* Figure 1: width-1 ReLU ResNets at depths 5, 50, 500 against the log-normal law of Prop. 3
  (:func:`figure1_data`, :func:`draw_figure1`).
* Figures 2–3: the inverse-erfi activation (derived for an OU target) and the law of ``Y_L``
  against the transformed-Gaussian law of Prop. 4 (:func:`figure3_data`, :func:`draw_figure3`).
* Figure 4: collapse probability of ReLU ResNets against depth and width (:func:`figure4_data`).
* Growth factor of ``log‖φ(Y)‖`` against width 1…8: simulation, Itô drift along paths and the
  derived mean drift (:func:`growth_data`, :func:`draw_growth`); :func:`regime_change` puts the
  derived sign change beside the published one.

* Thms 2–3, the two sequential limits (:func:`limits_data`, :func:`draw_limits`); Prop. 1's rate
  (:func:`rate_data`, :func:`draw_rate`); Eq. 5 and Fig. 7, two inputs (:func:`figure7_data`,
  :func:`draw_figure7`); Fig. 8, back-propagated gradients (:func:`figure8_data`,
  :func:`draw_figure8`); Lemma 2's counterexample and Prop. 10 (:func:`collapse_growth_data`).

``PUBLISHED`` holds what the paper states (its text lost the formulas; only these claims survive).
Defaults are CI sizes; ``full_size=True`` uses larger runs.

>>> regime_change()["derived_first_positive_width"], PUBLISHED["regime_change_widths"]
(4, (3, 4))
"""

import numpy as np
import sympy as sp

from symkernel.validate import resnet as checks
from symkernel.theory.sde.collapse import lemma2_conditions, piecewise_linear_growth
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
    # Prop. 1: sup_t E|Y_{[tL]} - X_t| = O(L^{-1/2}) (a bound; exponent of L)
    "prop1_rate_exponent": -0.5,
    # Thms 2-3: "the order of the sequential limit ... does not affect the limiting distribution,
    # which is a Gaussian" (same variance both ways)
    "limits_same_gaussian": True,
    # Fig. 7: "no degeneracy can be observed" of the correlation paths
    "figure7_degenerate": False,
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


def limits_data(full_size=False, seed=0):
    """Kurtosis and variance of one coordinate of linear ResNets on an ``(n, L)`` grid (Thms 2–3:
    both iterated limits Gaussian; finite width not)."""
    if full_size:
        return checks.limits_check("identity", widths=(1, 2, 4, 8, 16, 32, 64),
                                   depths=(4, 16, 64, 256), n_paths=20000, seed=seed)
    return checks.limits_check("identity", widths=(2, 4, 8, 32), depths=(4, 32), n_paths=2000,
                               seed=seed)


def draw_limits(data):
    return checks.plot_limits(data)


def rate_data(full_size=False, seed=0):
    """Prop. 1's rate: KS distance and strong error against depth (width-1 ReLU, ``x0 = 1``)."""
    if full_size:
        return checks.rate_check(depths=(16, 32, 64, 128), n_paths=2000000,
                                 coupled_paths=200000, seed=seed)
    return checks.rate_check(depths=(16, 32, 64), n_paths=200000, coupled_paths=20000, seed=seed)


def draw_rate(data):
    return checks.plot_rate(data)


def figure7_data(full_size=False, seed=0):
    """Correlation paths of a ReLU ResNet (width 10, depth 200: our choice, the paper's sizes
    did not survive) and the linear network's ``c_1`` against the derived SDE (Eq. 5)."""
    paths = checks.correlation_paths("relu", width=10, depth=1000 if full_size else 200,
                                     n_paths=2000 if full_size else 200, seed=seed)
    check = checks.correlation_check(width=4, c0=0.6, depth=400 if full_size else 100,
                                     n_paths=20000 if full_size else 2000, seed=seed)
    return dict(paths=paths, check=check)


def draw_figure7(data):
    return checks.plot_correlation(data["paths"], data["check"])


def figure8_data(full_size=False, seed=0):
    """Gradient norms back-propagated through ReLU and linear ResNets of widths 2, 4, 16."""
    depth, n_paths = (400, 4000) if full_size else (100, 400)
    return checks.gradient_check(widths=(2, 4, 16), depth=depth, n_paths=n_paths, seed=seed)


def draw_figure8(data):
    return checks.plot_gradients(data)


def collapse_growth_data(full_size=False, seed=0):
    """Lemma 2's conditions for standard activations, the collapsing counterexample
    ``√(max(x, 0))`` against ``e^{−2x0}``, and Prop. 10's growth factor for ``a = 1``,
    ``b ∈ {0, 1/2, 1}`` (only ``b²`` enters) at widths 2–8 with a simulation check at
    ``b = 1/2``."""
    conditions = {name: lemma2_conditions(name)["holds"] for name in ("tanh", "gelu", "relu")}
    feller = checks.feller_check(x0=0.5, depth=800 if full_size else 200,
                                 n_paths=200000 if full_size else 20000, seed=seed)
    bs = (0, sp.Rational(1, 2), 1)
    table = {(b, n): float(piecewise_linear_growth(1, b, n)) for b in bs for n in range(2, 9)}
    check = checks.piecewise_growth_check(a=1.0, b=0.5, width=4, seed=seed,
                                          n_paths=20000 if full_size else 2000)
    return dict(conditions=conditions, feller=feller, growth=table, growth_check=check)


__all__ = [
    "PUBLISHED",
    "limits_data",
    "draw_limits",
    "rate_data",
    "draw_rate",
    "figure7_data",
    "draw_figure7",
    "figure8_data",
    "draw_figure8",
    "collapse_growth_data",
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
