r"""Pabari & Zhou §3.3 and §4.4-4.5 (after Xiao et al., ICML 2018): the convolutional part,
derived (docs/theory.md §9).

The paper's CNN figures are CIFAR-10 training curves (Figure 3, right: Gaussian vs orthogonal
initialization, tanh, depth 40, ``sigma_w^2 = 2``, ``sigma_b^2 = 0.05``) and a trainability
heatmap with ``4.5 xi_c`` overlaid (Figure 4).  Without the training part this module gives the
theory behind them:

* :func:`mode_depth_scale_data`: for a ``sigma_w^2`` grid, ``chi_1``, ``chi_c*``, ``xi_c``
  (eq. 22: the same as the fully connected network, so Figure 4's line is Figure 2's) and the
  depth scale of every Fourier mode ``xi_m^{-1} = -log(chi_c* |lambda_m|)`` (eq. 21) on the
  paper's 8x8 CIFAR grid (``n = 8`` positions per axis, 3x3 filters: ``k = 1``);
* :func:`isometry_data`: squared singular values of the input-output Jacobian of Gaussian and
  delta-orthogonal CNNs at the edge of chaos (simulated), with ``chi_1^L`` and the free-probability
  spread (:func:`symkernel.validate.cnn.isometry_check`);
* :func:`figure3_setting`: the phase of Figure 3's setting.  The paper calls
  ``(sigma_w^2, sigma_b^2) = (2, 0.05)`` for tanh "squarely in the ordered phase"; its ``chi_1``
  is 1.048 > 1 (the edge of chaos is at ``sigma_w^2 = 1.761``): it is in the chaotic phase,
  with ``xi_c = 25.2`` so that depth 40 is within ``4.5 xi_c`` (trainable all the same).

>>> s = figure3_setting()
>>> s["phase"], PUBLISHED["figure3_phase"], round(s["chi_1"], 4)
('chaotic', 'ordered', 1.0477)
"""
import math

import numpy as np

from symkernel.core.activations import as_activation
from symkernel.errors import InvalidInputError
from symkernel.theory.meanfield.cnn import cnn_eigenvalues
from symkernel.theory.meanfield.criticality import edge_of_chaos
from symkernel.theory.meanfield.maps import NoFixedPointError, float_state
from symkernel.validate.cnn import isometry_check

# The published settings (the expected side of comparisons only).
PUBLISHED = {
    "figure3_sigma_w2": 2.0,        # Figure 3: tanh, depth 40, sigma_w^2 = 2, sigma_b^2 = 0.05
    "figure3_sigma_b2": 0.05,
    "figure3_depth": 40,
    "figure3_phase": "ordered",     # "which is squarely in the ordered phase"
    "cifar_positions": 8,           # downsampled to 8x8 for CIFAR-10
    "kernel_size": 3,               # 3x3 convolutions: k = 1
    "channels": 256,
    "depth_multiple": 4.5,          # Figure 4: 4.5 xi_c
}


def figure3_setting(act="tanh", sigma_w2=None, sigma_b2=None, depth=None):
    """``chi_1``, the phase, ``q*``, ``c*``, ``xi_c`` and ``depth / xi_c`` at Figure 3's setting
    (defaults from :data:`PUBLISHED`), and the critical ``sigma_w^2`` at its ``sigma_b^2``."""
    act = as_activation(act)
    sw2 = PUBLISHED["figure3_sigma_w2"] if sigma_w2 is None else float(sigma_w2)
    sb2 = PUBLISHED["figure3_sigma_b2"] if sigma_b2 is None else float(sigma_b2)
    depth = PUBLISHED["figure3_depth"] if depth is None else int(depth)
    st = float_state(act, sw2, sb2)
    chi1 = float(st["chi_1"])
    return {"sigma_w2": sw2, "sigma_b2": sb2, "depth": depth, "chi_1": chi1,
            "phase": "ordered" if chi1 < 1 else ("critical" if chi1 == 1 else "chaotic"),
            "q_star": float(st["q_star"]), "c_star": float(st["c_star"]),
            "xi_c": float(st["xi_c"]), "depth_over_xi_c": depth / float(st["xi_c"]),
            "critical_sigma_w2": float(edge_of_chaos(act, sigma_b2=sb2)[0])}


def mode_depth_scale_data(act="tanh", sigma_b2=0.05, sigma_w2=None, k=1, n=8, points=41):
    """Depth scales of the Fourier modes of a width-``2k+1`` CNN on ``n`` positions over a
    ``sigma_w^2`` grid (default 41 points on [1, 4]).  Returns a dict: ``sigma_w2``, ``chi_1``,
    ``chi_c``, ``xi_c``, ``line`` (``4.5 xi_c``), ``modes`` (the distinct ``m = 0..n//2``),
    ``lambda`` (their eigenvalues), ``xi_modes`` (``len(modes) x len(sigma_w2)``; 0 where
    ``lambda_m = 0``, inf on the critical line for ``m = 0``) and ``critical_sigma_w2``.

    >>> d = mode_depth_scale_data(sigma_w2=[1.5, 2.5])
    >>> [round(float(v), 4) for v in d["xi_modes"][1]]   # m = 1: lambda_1 = (1 + sqrt 2)/3
    [3.5642, 3.3111]
    """
    act = as_activation(act)
    grid = np.linspace(1.0, 4.0, int(points)) if sigma_w2 is None else np.asarray(sigma_w2, float)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or grid.min() <= 0:
        raise InvalidInputError(f"sigma_w2 must be a nonempty list of positive numbers, "
                                f"got {sigma_w2!r}")
    lam = np.array([float(v) for v in cnn_eigenvalues(k, n)])
    modes = list(range(n // 2 + 1))
    chi1, chic, xic = (np.full(grid.size, np.nan) for _ in range(3))
    xim = np.full((len(modes), grid.size), np.nan)
    for j, w in enumerate(grid):
        try:
            st = float_state(act, float(w), float(sigma_b2))
        except NoFixedPointError:
            continue
        chi1[j], chic[j], xic[j] = st["chi_1"], st["chi_c"], st["xi_c"]
        for i, m in enumerate(modes):
            r = chic[j] * abs(lam[m])
            xim[i, j] = 0.0 if r == 0 else (math.inf if r == 1 else -1 / math.log(r))
    return {"activation": act.name, "sigma_b2": float(sigma_b2), "k": k, "n": n,
            "sigma_w2": grid, "chi_1": chi1, "chi_c": chic, "xi_c": xic,
            "line": PUBLISHED["depth_multiple"] * xic, "modes": modes, "lambda": lam[modes],
            "xi_modes": xim, "critical_sigma_w2": float(edge_of_chaos(act, sigma_b2=sigma_b2)[0])}


def draw_mode_depth_scales(data):
    """``xi_c`` and each mode's ``xi_m`` against ``sigma_w^2`` (log scale); a Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 3.8), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    w = data["sigma_w2"]
    ax.plot(w, data["xi_c"], "k-", lw=2.2, label=r"$\xi_c$ (eq. 22)")
    groups = {}                        # modes with the same |lambda| share a depth scale
    for m, lam, xi in zip(data["modes"], data["lambda"], data["xi_modes"]):
        if m > 0:
            groups.setdefault(round(abs(float(lam)), 12), ([], xi))[0].append(m)
    for lam, (ms, xi) in sorted(groups.items(), reverse=True):
        ok = xi > 0
        names = ", ".join(map(str, ms))
        ax.plot(w[ok], xi[ok], "--", lw=1.3,
                label=rf"$\xi_m$, m = {names}: $|\lambda_m|$ = {lam:.3f}")
    ax.axvline(data["critical_sigma_w2"], color="r", lw=1, label=r"$\chi_1 = 1$")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel("depth scale (layers)")
    ax.set_title(f"{data['activation']} CNN, k = {data['k']}, n = {data['n']}, "
                 f"$\\sigma_b^2$ = {data['sigma_b2']:g}", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    return fig


def isometry_data(act="tanh", sigma_b2=1e-4, channels=32, n=8, k=1, depths=(4, 8, 16, 32),
                  seeds=3, full_size=False, seed=0):
    """:func:`~symkernel.validate.cnn.isometry_check` with the spectra (``full_size=True``:
    ``channels = 256``, the paper's width, and depths up to 64)."""
    if full_size:
        channels, depths = 256, (4, 8, 16, 32, 64)
    res = isometry_check(act, sigma_b2, channels=channels, n=n, k=k, depths=tuple(depths),
                         seeds=seeds, spectra=True, seed=seed)
    res["depths"] = tuple(depths)
    res["channels"], res["n"], res["k"] = channels, n, k
    return res


def draw_isometry(data):
    """Left: histograms of the squared singular values at the largest depth; right:
    ``m_2/m_1^2`` against depth with the free-probability lines; a Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.5, 3.6), layout="constrained")
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    L = max(data["depths"])
    colors = {"gaussian": "tab:red", "delta_orthogonal": "tab:blue"}
    labels = {"gaussian": "Gaussian", "delta_orthogonal": "delta-orthogonal"}
    bins = np.logspace(-6, 2.5, 60)
    for w in colors:
        ev = data[(w, L)]["squared_singular_values"]
        ax1.hist(np.clip(ev, bins[0], bins[-1]), bins=bins, alpha=0.6, color=colors[w],
                 label=labels[w])
        depths = np.array(data["depths"])
        mean = np.array([data[(w, d)]["ratio"].mean() for d in depths])
        se = np.array([data[(w, d)]["ratio"].std(ddof=1) / math.sqrt(data[(w, d)]["ratio"].size)
                       for d in depths])
        th = np.array([data[(w, d)]["ratio_theory"] for d in depths])
        ax2.errorbar(depths, mean, yerr=2 * se, fmt="o", color=colors[w],
                     label=f"{labels[w]} (sim.)")
        ax2.plot(depths, th, "-", color=colors[w], lw=1, label=f"{labels[w]} (free prob.)")
    ax1.set_xscale("log")
    ax1.axvline(1.0, color="k", lw=0.8)
    ax1.set_xlabel(r"squared singular value of $J$ (first bin: all $\leq 10^{-6}$)")
    ax1.set_ylabel("count")
    ax1.set_title(f"depth {L}, c = {data['channels']}, n = {data['n']}", fontsize=10)
    ax1.legend(fontsize=8)
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("depth L")
    ax2.set_ylabel(r"$m_2/m_1^2$ of $JJ^\top$")
    ax2.set_title(rf"tanh at $\chi_1$ = 1, $\sigma_b^2$ = {data['sigma_b2']:g}", fontsize=10)
    ax2.legend(fontsize=7)
    return fig


__all__ = ["PUBLISHED", "figure3_setting", "mode_depth_scale_data", "draw_mode_depth_scales",
           "isometry_data", "draw_isometry"]
