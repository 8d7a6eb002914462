r"""Pabari & Zhou (mean-field signal propagation for tanh, arctan, softsign, ReLU, sigmoid): the theory
panels of Figures 1-2 and the Theorem 1 number, derived.

The published figures are MNIST/CIFAR trainability heatmaps over ``(sigma_w^2, depth)`` with the
line ``4.5 xi_c`` overlaid.  Without the training part, :func:`phase_diagram_data` gives for each
``sigma_w^2`` of a grid: ``chi_1``, the phase (ordered ``chi_1 < 1`` / chaotic ``chi_1 > 1``), ``q*``,
``c*``, ``xi_c`` and the lines ``4.5 xi_c`` (Pabari & Zhou) and ``6 xi_c`` (Schoenholz et al. 2017), plus
a heatmap ``exp(-L/xi_c)``: the fraction of a correlation perturbation that survives ``L`` layers
(the signal the trainability cliff follows).  ReLU with ``sigma_b^2 > 0`` has no finite ``q*`` for
``sigma_w^2 >= 2`` (the length map is ``q -> sigma_w^2 q/2 + sigma_b^2``): those columns are NaN.

Theorem 1 (sigmoid): on the critical line ``chi_1 = 1``, ``sigma_w^2`` is smallest at
``sigma_b^2 = 0`` (:func:`theorem1`).  The paper's text mixes ``sigma_w`` and ``sigma_w^2``: it
prints "sigma_w ~ 103.05" and "sigma_w^2 >~ 100"; the computed minimum is of ``sigma_w^2`` (about
103.0076, so ``sigma_w`` about 10.149), and its eq. (27) "1/sigma_w = 1/16, sigma_w = 16" is
``1/sigma_w^2 = phi'(0)^2 = 1/16``, i.e. ``sigma_w^2 = 16`` (``sigma_w = 4``), the unattainable
``q* = 0`` bound.

>>> d = phase_diagram_data("tanh", sigma_w2=[1.0, 1.5, 2.5], depths=[10, 20])
>>> d["phase"], [round(v, 6) for v in d["xi_c"]]
(['ordered', 'ordered', 'chaotic'], [3.626976, 15.790994, 11.795598])
"""
import math

import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError
from symkernel.theory.meanfield.maps import NoFixedPointError, float_state
from symkernel.theory.meanfield.criticality import critical_curve, critical_minimum
from symkernel.theory.meanfield.moments import moments
from symkernel.numerics import GUARD, check_dps, round_to, working

# The published settings and numbers (the expected side of comparisons only).
FIGURE_SETTINGS = {           # activation: (sigma_b^2 used in the paper, sigma_w^2 range drawn here)
    "tanh": (0.05, (1.0, 4.0)),          # Figure 2 (Schoenholz et al.'s setting)
    "arctan": (0.05, (1.0, 4.0)),        # Figure 1 top left
    "softsign": (0.05, (1.0, 5.0)),      # Figure 1 top right
    "relu": (2.01e-5, (1.0, 3.0)),       # Figure 1 bottom left
    "sigmoid": (0.09, (60.0, 160.0)),    # Figure 1 bottom right
}
PUBLISHED = {
    "theorem1_sigma_w": 103.05,          # "sigma_w ~ 103.05" (appendix; a sigma_w^2 value)
    "theorem1_bound_sigma_w2": 100,      # "sigma_w^2 >~ 100"
    "eq27_sigma_w": 16,                  # "1/sigma_w = 1/16 => sigma_w = 16" (a sigma_w^2 value)
    "depth_multiple": 4.5,               # Pabari & Zhou's trainable depth 4.5 xi_c
}
MULTIPLES = (4.5, 6)


def phase_diagram_data(act, sigma_b2=None, sigma_w2=None, depths=None, multiples=MULTIPLES,
                       points=61):
    """Theory panel of Pabari & Zhou Figures 1-2 for one activation (float64 mean field).

    ``sigma_b2`` and the ``sigma_w2`` grid default to :data:`FIGURE_SETTINGS`; ``depths`` to
    ``1..100``.  Returns a dict of lists/arrays: ``sigma_w2``, ``chi_1``, ``phase``, ``q_star``,
    ``c_star``, ``xi_c``, ``lines`` ({multiple: multiple * xi_c}), ``heat`` (depth x sigma_w2
    array ``exp(-L/xi_c)``), and ``critical_sigma_w2`` (the edge of chaos at ``sigma_b2``).
    """
    name = act if isinstance(act, str) else getattr(act, "name", str(act))
    default_b, (lo, hi) = FIGURE_SETTINGS.get(name, (0.05, (0.5, 4.0)))
    sb2 = default_b if sigma_b2 is None else float(sigma_b2)
    grid = np.linspace(lo, hi, points) if sigma_w2 is None else np.asarray(sigma_w2, dtype=float)
    depths = np.arange(1, 101) if depths is None else np.asarray(depths)
    if grid.ndim != 1 or np.any(grid <= 0) or sb2 < 0:
        raise InvalidInputError("need a 1-d grid of sigma_w2 > 0 and sigma_b2 >= 0")
    rows = {k: [] for k in ("chi_1", "phase", "q_star", "c_star", "xi_c")}
    for w in grid:
        try:
            st = float_state(act, float(w), sb2)
        except NoFixedPointError:
            for k in rows:
                rows[k].append("no fixed point" if k == "phase" else math.nan)
            continue
        rows["chi_1"].append(st["chi_1"])
        rows["phase"].append("ordered" if st["chi_1"] < 1 else
                             ("critical" if st["chi_1"] == 1 else "chaotic"))
        for k in ("q_star", "c_star", "xi_c"):
            rows[k].append(float(st[k]))
    xi = np.array(rows["xi_c"])
    with np.errstate(divide="ignore", invalid="ignore"):
        heat = np.exp(-depths[:, None] / xi[None, :])
    try:
        crit = float(critical_curve(act, [sb2])[0][0])
    except NoFixedPointError:     # ReLU: an edge of chaos only at sigma_b^2 = 0
        crit = float(critical_curve(act, [0.0])[0][0])
    return {"activation": name, "sigma_b2": sb2, "sigma_w2": grid, "depths": depths, **rows,
            "lines": {m: m * xi for m in multiples}, "heat": heat, "critical_sigma_w2": crit}


def draw_phase_diagram(data, ax=None):
    """Heatmap ``exp(-L/xi_c)`` over (sigma_w^2, depth) with the ``m xi_c`` lines and the
    critical ``sigma_w^2``; returns the Figure."""
    import matplotlib.pyplot as plt

    fig = ax.figure if ax is not None else plt.figure(figsize=(5, 4))
    ax = ax if ax is not None else fig.add_subplot(1, 1, 1)
    w, L = data["sigma_w2"], data["depths"]
    mesh = ax.pcolormesh(w, L, data["heat"], shading="nearest", cmap="viridis", vmin=0, vmax=1)
    for (m, line), style in zip(data["lines"].items(), ("w-", "w--", "w:")):
        ax.plot(w, line, style, lw=1.5, label=f"{m:g} $\\xi_c$")
    if np.isfinite(data["critical_sigma_w2"]):
        ax.axvline(data["critical_sigma_w2"], color="r", lw=1, label=r"$\chi_1 = 1$")
    ax.set_ylim(L.min(), L.max())
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel("depth L")
    ax.set_title(f"{data['activation']}, $\\sigma_b^2$ = {data['sigma_b2']:g}")
    ax.legend(loc="upper right", fontsize=7)
    fig.colorbar(mesh, ax=ax, label=r"$e^{-L/\xi_c}$")
    return fig


def draw_figures(activations=("tanh", "arctan", "softsign", "relu", "sigmoid"), points=41):
    """All theory panels side by side (Figures 1-2 without training); returns the Figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(activations), figsize=(4.2 * len(activations), 3.6))
    for ax, name in zip(np.atleast_1d(axes), activations):
        draw_phase_diagram(phase_diagram_data(name, points=points), ax=ax)
    fig.tight_layout()
    return fig


def theorem1(dps=30):
    """Pabari & Zhou Theorem 1, computed: the minimum of ``sigma_w^2`` on the sigmoid critical line.

    Returns a dict with ``sigma_w2`` and ``sigma_w`` (mpf to ``dps`` digits), ``q_star``,
    ``sigma_b2`` where it is attained (0: on the boundary), ``D1_decreasing`` (``1/D1`` increases
    along the line, the proof's monotonicity), the ``q* = 0`` bound ``1/phi'(0)^2 = 16`` (exact) and
    the published numbers for comparison.
    """
    res = critical_minimum("sigmoid")
    bound = sp.simplify(1 / moments("sigmoid").exact_limit("D1"))
    check_dps(dps)
    w = res.sigma_w2.value(dps + 2)       # also fixes q* to dps + 8 digits (reused below)
    q = res.q_star.value(dps)
    with working(dps + GUARD):
        sigma_w = mpmath.sqrt(w)             # relative error of w halved, plus one rounding
    return {"sigma_w2": round_to(w, dps), "sigma_w": round_to(sigma_w, dps), "q_star": q,
            "sigma_b2": res.sigma_b2.value(dps), "at_boundary": res.at_boundary,
            "D1_decreasing": res.D1_decreasing, "q0_bound_sigma_w2": bound,
            "published": dict(PUBLISHED)}
