r"""Pabari & Zhou, Figures 3 and 4: their theory side (the training curves are experiments, not
formulas).

* Figure 3 compares Gaussian and orthogonal weights for a depth-40 tanh network at
  ``sigma_w^2 = 2``, ``sigma_b^2 = 0.05``.  The theory behind it (Pennington, Schoenholz & Ganguli,
  NeurIPS 2017) is the spectrum of ``J J^T``: :func:`figure3_data` gives, per depth, the mean
  squared singular value ``chi_1^L`` and the normalized second moment of each ensemble, and the
  densities at the last depth (:mod:`symkernel.theory.meanfield.spectrum`, docs/theory.md §11.2).
  The paper calls this setting "squarely in the ordered phase"; it is chaotic (``chi_1 = 1.048``,
  the edge of chaos is at ``sigma_w^2 = 1.761``), so ``chi_1^40 = 6.4``.
* Figure 4 is the CNN trainability heatmap of tanh with ``4.5 xi_c`` overlaid.  The CNN's
  ``chi_c*`` is the fully connected one (Xiao et al., ICML 2018; Pabari & Zhou eq. 22), so
  :func:`figure4_data` is :func:`~symkernel.papers.pabari_zhou.phase_diagram_data` plus the
  depth scales of the Fourier modes ``xi_m^{-1} = -log(chi_c* |lambda_m|)`` (eq. 21) for a
  3-wide window on the paper's 8 positions.  ``sigma_b^2`` is not printed for Figure 4: 0.05,
  the paper's tanh setting, by default.

>>> d = figure3_data(depth=4, points=0)
>>> d["phase"], round(d["chi_1"], 4), [round(float(r), 3) for r in d["ratio"]["orthogonal"]]
('chaotic', 1.0477, [1.432, 1.863, 2.295, 2.726])
"""
import math

import numpy as np

from symkernel.errors import InvalidInputError
from symkernel.simulate.jacobian import simulate_jacobian
from symkernel.theory.meanfield.cnn import cnn_mode_depth_scales
from symkernel.theory.meanfield.maps import float_state
from symkernel.theory.meanfield.spectrum import jacobian_spectrum_density, jacobian_spectrum_moments
from .pabari_zhou import phase_diagram_data

#: the settings printed for Figures 3 and 4 (Figure 4's sigma_b^2 is not printed)
FIGURE3 = dict(act="tanh", sigma_w2=2.0, sigma_b2=0.05, depth=40)
FIGURE4 = dict(act="tanh", sigma_b2=0.05, k=1, n=8, multiple=4.5)
WEIGHTS = ("gaussian", "orthogonal")


def figure3_data(act=FIGURE3["act"], sigma_w2=FIGURE3["sigma_w2"], sigma_b2=FIGURE3["sigma_b2"],
                 depth=FIGURE3["depth"], points=200):
    """Theory of Figure 3: ``chi_1``, the phase, and per depth ``1..depth`` the mean squared
    singular value ``chi_1^L`` (``m1``) and ``m2/m1^2`` (``ratio[weights]``) of ``J J^T``; with
    ``points > 0`` also the densities of the squared singular values at ``depth`` on a log grid
    (``lam``, ``density[weights]``, in units of ``m1``)."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise InvalidInputError(f"depth must be an integer >= 1, got {depth!r}")
    st = float_state(act, float(sigma_w2), float(sigma_b2))
    chi, q = st["chi_1"], st["q_star"]
    depths = np.arange(1, depth + 1)
    ratio = {}
    for w in WEIGHTS:
        rows = [jacobian_spectrum_moments(act, sigma_w2, sigma_b2, int(L), w, 2, q=q) for L in depths]
        ratio[w] = np.array([m2 / m1**2 for m1, m2 in rows])
    out = dict(act=act, sigma_w2=float(sigma_w2), sigma_b2=float(sigma_b2), q_star=q, chi_1=chi,
               c_star=st["c_star"], phase="ordered" if chi < 1 else ("critical" if chi == 1 else "chaotic"),
               depths=depths, m1=chi ** depths.astype(float), ratio=ratio)
    if points:
        m1 = chi ** depth
        lam = m1 * np.geomspace(1e-12, 10 * ratio["gaussian"][-1], points)
        out["lam"] = lam
        out["density"] = {w: jacobian_spectrum_density(act, sigma_w2, sigma_b2, depth, lam, w, q=q,
                                                       eps=1e-4) for w in WEIGHTS}
        # the probability the grid carries (the rest lies below it: near 0 the Gaussian product's
        # density behaves like lambda^(-L/(L+1)), so small singular values hold much mass)
        out["mass_shown"] = {w: float(np.trapezoid(np.nan_to_num(out["density"][w]), lam))
                             for w in WEIGHTS}
    return out


def figure3_simulation(data, width=300, networks=4, seed=0):
    """Squared singular values of ``networks`` seeded finite-width Jacobians per ensemble at the
    setting and depth of ``data`` (width 300 as in the paper), for :func:`draw_figure3`."""
    out = {}
    for w in WEIGHTS:
        vals = [np.linalg.svd(simulate_jacobian(data["act"], data["sigma_w2"], data["sigma_b2"],
                                                width=width, depth=int(data["depths"][-1]),
                                                q1=data["q_star"], weights=w, seed=seed + s),
                              compute_uv=False) ** 2 for s in range(networks)]
        out[w] = np.concatenate(vals)
    return out


def draw_figure3(data, simulated=None):
    """Left: ``m2/m1^2`` of ``J J^T`` against depth, Gaussian vs orthogonal; right: the densities
    of ``lambda/m1`` at the last depth (log axis, density of ``log10 lambda``), over histograms of
    ``simulated`` squared singular values (:func:`figure3_simulation`) if given.  Returns a Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6))
    a, b = fig.subplots(1, 2)
    colors = {"gaussian": "tab:red", "orthogonal": "tab:blue"}
    for w in WEIGHTS:
        a.plot(data["depths"], data["ratio"][w], color=colors[w], label=w)
    a.set_xlabel("depth L")
    a.set_ylabel(r"$m_2/m_1^2$ of $JJ^\top$")
    a.set_title(f"{data['act']}, $\\sigma_w^2$ = {data['sigma_w2']:g}, $\\sigma_b^2$ = "
                f"{data['sigma_b2']:g}: $\\chi_1$ = {data['chi_1']:.4f} ({data['phase']})", fontsize=9)
    a.legend(fontsize=8)
    if "density" in data:
        m1 = data["m1"][-1]
        for w in WEIGHTS:    # density of log10(lambda): rho(lambda) lambda ln 10
            if simulated is not None:
                lv = np.log10(simulated[w] / m1)
                edges = np.linspace(math.log10(data["lam"][0] / m1), math.log10(data["lam"][-1] / m1), 41)
                counts, _ = np.histogram(lv, edges)
                b.stairs(counts / (len(lv) * np.diff(edges)), 10.0 ** edges, color=colors[w],
                         alpha=0.3, fill=True, label=f"{w}, simulated")
            b.plot(data["lam"] / m1, data["density"][w] * data["lam"] * math.log(10),
                   color=colors[w], label=f"{w} (mass shown {data['mass_shown'][w]:.2f})")
        b.set_xscale("log")
        b.set_xlabel(r"$\lambda / m_1$ (squared singular value of $J$)")
        b.set_ylabel(r"density of $\log_{10}\lambda$")
        b.set_title(f"depth {data['depths'][-1]}: $m_1 = \\chi_1^L$ = {m1:.3g}", fontsize=9)
        b.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig


def figure4_data(act=FIGURE4["act"], sigma_b2=FIGURE4["sigma_b2"], k=FIGURE4["k"], n=FIGURE4["n"],
                 sigma_w2=None, depths=None, points=61):
    """Theory of Figure 4: :func:`~symkernel.papers.pabari_zhou.phase_diagram_data` (heatmap
    ``exp(-L/xi_c)``, lines ``4.5 xi_c``) plus ``modes``: for each distinct ``|lambda_m| < 1`` of
    the width-``(2k+1)`` window on ``n`` positions, ``xi_m`` on the ``sigma_w^2`` grid."""
    data = phase_diagram_data(act, sigma_b2=sigma_b2, sigma_w2=sigma_w2, depths=depths, points=points)
    xi = np.asarray(data["xi_c"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi_c = np.exp(-1 / xi)
    modes = {}
    for i, x in enumerate(chi_c):
        for m, lam, xi_m, _ in (cnn_mode_depth_scales(x, k, n) if np.isfinite(x) and x > 0 else []):
            key = round(abs(float(lam)), 12)
            if 0 < key < 1:
                modes.setdefault(key, np.full(len(chi_c), np.nan))[i] = xi_m
    data.update(k=k, n=n, chi_c=chi_c, modes=dict(sorted(modes.items(), reverse=True)))
    return data


def draw_figure4(data, multiple=FIGURE4["multiple"]):
    """The Figure 4 heatmap ``exp(-L/xi_c)`` with ``multiple * xi_c`` and ``multiple * xi_m`` of
    the slowest non-uniform Fourier mode; returns a Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.4, 4))
    ax = fig.add_subplot(1, 1, 1)
    w, L = data["sigma_w2"], data["depths"]
    mesh = ax.pcolormesh(w, L, data["heat"], shading="nearest", cmap="viridis", vmin=0, vmax=1)
    ax.plot(w, multiple * np.asarray(data["xi_c"], dtype=float), "w-", lw=1.5,
            label=f"{multiple:g} $\\xi_c$ (uniform mode)")
    if data["modes"]:
        lam, xi_m = next(iter(data["modes"].items()))
        ax.plot(w, multiple * xi_m, "w--", lw=1.5,
                label=f"{multiple:g} $\\xi_m$, $|\\lambda_m|$ = {lam:.3f}")
    ax.axvline(data["critical_sigma_w2"], color="r", lw=1, label=r"$\chi_1 = 1$")
    ax.set_ylim(L.min(), L.max())
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel("depth L")
    ax.set_title(f"CNN {data['activation']}, kernel {2 * data['k'] + 1}, {data['n']} positions, "
                 f"$\\sigma_b^2$ = {data['sigma_b2']:g}", fontsize=9)
    ax.legend(loc="upper right", fontsize=7)
    fig.colorbar(mesh, ax=ax, label=r"$e^{-L/\xi_c}$")
    fig.tight_layout()
    return fig


__all__ = ["FIGURE3", "FIGURE4", "figure3_data", "figure3_simulation", "draw_figure3",
           "figure4_data", "draw_figure4"]
