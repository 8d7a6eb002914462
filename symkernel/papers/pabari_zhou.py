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

The paper's slips, each with the printed form and value beside the package's derived one
(:data:`SLIPS`, :func:`slips`, :func:`slips_table`; docs/theory.md §11.3).  Figures 3-4 (their
theory side): :mod:`symkernel.papers.pabari_zhou_figures`.

>>> d = phase_diagram_data("tanh", sigma_w2=[1.0, 1.5, 2.5], depths=[10, 20])
>>> d["phase"], [round(v, 6) for v in d["xi_c"]]
(['ordered', 'ordered', 'chaotic'], [3.626976, 15.790994, 11.795598])
"""
import math

import mpmath
import numpy as np
import sympy as sp

from symkernel.core.symbols import x as X
from symkernel.errors import InvalidInputError
from symkernel.present.tables import Table
from symkernel.theory.meanfield.maps import MeanField, NoFixedPointError, float_state
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
    from matplotlib.figure import Figure

    fig = ax.figure if ax is not None else Figure(figsize=(5, 4))
    ax = ax if ax is not None else fig.add_subplot(1, 1, 1)
    w, L = data["sigma_w2"], data["depths"]
    mesh = ax.pcolormesh(w, L, data["heat"], shading="nearest", cmap="viridis", vmin=0, vmax=1)
    for (m, line), style in zip(data["lines"].items(), ("w-", "w--", "w:")):
        ax.plot(w, line, style, lw=1.5, label=f"{m:g} $\\xi_c$")
    if np.isfinite(data["critical_sigma_w2"]):
        ax.axvline(data["critical_sigma_w2"], color="r", lw=1, label=r"$\chi_1 = 1$")
    missing = ~np.isfinite(np.asarray(data["q_star"], dtype=float))
    if missing.any():     # columns without a finite q* are left blank: say so where they are
        ax.text(float(np.mean(np.asarray(w)[missing])), float(np.mean(L)), "no finite $q^*$\n(q diverges)",
                ha="center", va="center", fontsize=8, rotation=90)
    ax.set_ylim(L.min(), L.max())
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel("depth L")
    ax.set_title(f"{data['activation']}, $\\sigma_b^2$ = {data['sigma_b2']:g}")
    ax.legend(loc="upper right", fontsize=7)
    fig.colorbar(mesh, ax=ax, label=r"$e^{-L/\xi_c}$")
    return fig


def draw_figures(activations=("tanh", "arctan", "softsign", "relu", "sigmoid"), points=41):
    """All theory panels side by side (Figures 1-2 without training); returns the Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(activations), 3.6))
    axes = fig.subplots(1, len(activations))
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


#: Where Pabari & Zhou print a formula or a number that the package derives differently: the
#: printed text (the expected side of a comparison only) and the derived form.  :func:`slips`
#: puts numbers on both.
SLIPS = (
    dict(where="eq. (3)", printed="q^l = sigma_w^2 int Dz phi(sqrt(q^{l-1}) z) + sigma_b^2",
         correct="q^l = sigma_w^2 int Dz phi(sqrt(q^{l-1}) z)^2 + sigma_b^2 (the square is lost)",
         example="tanh, sigma_w^2 = 1.5, sigma_b^2 = 0.05: q^1 from q^0 = 1"),
    dict(where="eq. (10)", printed="xi_c^{-1} = -log(sigma_w^2 int Dz1 Dz2 phi''(u1*) phi(u2*))",
         correct="xi_c^{-1} = -log(sigma_w^2 int Dz1 Dz2 phi'(u1*) phi'(u2*)) = -log chi_c*",
         example="tanh, sigma_w^2 = 1.5, sigma_b^2 = 0.05 (c* = 1): the logged quantity"),
    dict(where="eq. (27)", printed="1/sigma_w = 1/16 => sigma_w = 16",
         correct="1/sigma_w^2 = phi'(0)^2 = 1/16 => sigma_w^2 = 16 (sigma_w = 4)",
         example="sigmoid at q* = 0: sigma_w"),
    dict(where="appendix, proof of Theorem 1", printed="Phi''(0) = -1",
         correct="Phi(x) = phi'(x)^2: Phi''(0) = -1/16 (-1 is d^2 Phi/d phi^2; the printed "
                 "Phi'(x) = 2phi - 6phi^2 + 4phi^3 is d Phi/d phi, lacking the factor phi'(x))",
         example="sigmoid: Phi''(0)"),
    dict(where="Theorem 1 (appendix)", printed="sigma_w ~ 103.05, so sigma_w^2 >~ 100",
         correct="the minimum on the critical line is sigma_w^2 = 103.0076 (sigma_w = 10.149)",
         example="sigmoid, sigma_b^2 = 0: sigma_w^2 at chi_1 = 1"),
    dict(where="Section 4.4 (Figure 3)",
         printed="tanh, sigma_w^2 = 2, sigma_b^2 = 0.05 is squarely in the ordered phase",
         correct="chi_1 = 1.0477 > 1: chaotic (edge of chaos at sigma_w^2 = 1.7610), c* = 0.744",
         example="tanh, sigma_w^2 = 2, sigma_b^2 = 0.05: chi_1"),
)


def slips(dps=15):
    """:data:`SLIPS` with numbers: ``printed_value`` (the printed formula evaluated, or the printed
    number), ``derived_value`` (the package's: an exact SymPy number, an mpf to ``dps`` digits, or
    a float64 root) and ``how`` it was obtained.

    >>> [r["where"] for r in SLIPS][:3]
    ['eq. (3)', 'eq. (10)', 'eq. (27)']
    """
    check_dps(dps)
    tanh = moments("tanh")
    rows = [dict(r) for r in SLIPS]
    # eq. (3): the printed map without the square is constant for an odd phi
    mf = MeanField("tanh", sp.Rational(3, 2), sp.Rational(1, 20))
    rows[0].update(printed_value=1.5 * tanh.np_one("M", 1.0) + 0.05,
                   derived_value=mf.length_map_value(1, dps),
                   how="printed: float64 quadrature of E[tanh(Z)]; derived: the length map to dps digits")
    # eq. (10) at c* = 1: sigma_w^2 E[phi'' phi](q*) (negative for tanh: no logarithm) vs chi_c*
    q = float(mf.q_star)
    rows[1].update(printed_value=1.5 * tanh.np_one("D2", q), derived_value=mf.chi_c.value(dps),
                   how="printed: float64 quadrature of E[phi'' phi] at q*; derived: chi_c* to dps digits")
    # eq. (27): the q* = 0 bound sigma_w^2 = 1/phi'(0)^2, so sigma_w is its square root
    rows[2].update(printed_value=sp.Integer(PUBLISHED["eq27_sigma_w"]),
                   derived_value=sp.sqrt(sp.simplify(1 / moments("sigmoid").exact_limit("D1"))),
                   how="exact: 1/phi'(0)^2 = 16 is sigma_w^2")
    # Phi''(0) by differentiating phi'(x)^2 for the sigmoid exactly
    sig = 1 / (1 + sp.exp(-X))
    rows[3].update(printed_value=sp.Integer(-1),
                   derived_value=sp.simplify(sp.diff(sp.diff(sig, X) ** 2, X, 2).subs(X, 0)),
                   how="exact: SymPy second derivative of phi'(x)^2 at 0")
    # Theorem 1: the printed "sigma_w" is a sigma_w^2
    rows[4].update(printed_value=PUBLISHED["theorem1_sigma_w"],
                   derived_value=float(critical_curve("sigmoid", [0.0])[0][0]),
                   how="float64 root of chi_1 = 1 at sigma_b^2 = 0, where Theorem 1 puts the "
                       "minimum (theorem1() gives it to any digits)")
    # Section 4.4: chi_1 at the Figure 3 setting
    rows[5].update(printed_value="ordered (chi_1 < 1)",
                   derived_value=MeanField("tanh", 2, sp.Rational(1, 20)).chi_1.value(dps),
                   how="chi_1 at q* to dps digits")
    return rows


def slips_table(dps=15, rows=None):
    """:func:`slips` (or ``rows`` it returned) as a :class:`~symkernel.present.tables.Table`
    (every row a disagreement)."""
    rows = slips(dps) if rows is None else rows

    def cell(v):
        return v if isinstance(v, str) else (v if isinstance(v, sp.Basic) else mpmath.mpf(v))
    return Table("Pabari & Zhou: printed formulas and numbers against the derived ones",
                 ["where", "printed", "derived", "example", "printed value", "derived value"],
                 [[r["where"], r["printed"], r["correct"], r["example"], cell(r["printed_value"]),
                   cell(r["derived_value"])] for r in rows],
                 agrees=[False] * len(rows),
                 reasons=[f"{r['where']}: printed {r['printed']}" for r in rows],
                 source="Pabari & Zhou")
