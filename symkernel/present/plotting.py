r"""Plots for the theory, exposed as ``sk.plot``; every function returns a matplotlib ``Figure``.

The data come from the modules that derive them (no theory is recomputed here):

* :func:`cobweb` — the kernel map ``kappa`` and the cobweb of ``rho_{l+1} = kappa(rho_l)``
  (:meth:`symkernel.theory.dynamics.KernelDynamics.cobweb`, Joudaki & Hofmann (AISTATS 2025) Theorem 1);
* :func:`beta_vs_gain` — ``beta_sigma`` against the gain (Joudaki, Daneshmand & Bach (NeurIPS 2023) Figure B.1;
  :func:`symkernel.coefficients.strength.strength_against_gain`);
* :func:`isometry_depth` — the isometry gap and the potential ``gamma`` along the mean-field Gram
  sequence with the Theorem 4 and Corollary A.3 bounds (:mod:`symkernel.theory.gram`), and optionally a
  finite-width :class:`symkernel.validate.Validation` on top;
* :func:`edge_of_chaos` — the phase diagram ``chi_1 = 1`` in the ``(sigma_w^2, sigma_b^2)`` plane
  (:func:`symkernel.meanfield.critical_curve`).

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state, no backend is chosen here);
Jupyter displays a returned Figure, ``fig.savefig("f.pdf")`` writes it.

>>> fig = cobweb("relu", rho0=0.1, depth=4)
>>> [ax.get_xlabel() for ax in fig.axes]
['$\\rho_\\ell$']
"""

import numpy as np

from symkernel.coefficients.strength import isometry_strength, strength_against_gain
from symkernel.core.activations import Activation
from symkernel.errors import InvalidInputError
from symkernel.theory import gram
from symkernel.theory.dynamics import kernel_dynamics
from symkernel.theory.meanfield.criticality import critical_curve
from symkernel.theory.meanfield.maps import NoFixedPointError
from symkernel.validate.networks import equicorrelated


def _figure(ncols=1, width=4.2, height=3.4):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def _name(act):
    return act.name if isinstance(act, Activation) else str(act)


def cobweb(act, rho0=(-0.6, 0.1, 0.9), depth=12, *, ax=None, grid=401):
    r"""Kernel map ``kappa`` on ``[-1, 1]``, the diagonal, and the cobweb from each ``rho0``.

    ``act``: an activation spec or a kernel map (a :class:`~symkernel.kernels.Kernel` with
    ``kappa(1) = 1``, e.g. a residual or normalized one).  The fixed point ``rho*`` of Theorem 1
    is marked.
    """
    dyn = kernel_dynamics(act)
    starts = np.atleast_1d(np.asarray(rho0, dtype=float))
    if starts.ndim != 1 or np.any(np.abs(starts) > 1):
        raise InvalidInputError("rho0 must be numbers in [-1, 1]")
    if ax is None:
        fig, (ax,) = _figure()
    else:
        fig = ax.figure
    r = np.linspace(-1, 1, grid)
    ax.plot(r, dyn.kmap.numpy(r), "-", color="C0", lw=2, label=r"$\kappa(\rho)$")
    ax.plot(r, r, ":", color="k", lw=1, label=r"$\rho$")
    for i, s in enumerate(starts):
        xs, ys = dyn.cobweb(float(s), depth)
        ax.plot(xs, ys, "-", color=f"C{i + 1}", lw=0.9, label=rf"$\rho_0 = {s:g}$")
    star = float(dyn.fixed_point.value(15))
    ax.plot(
        [star], [star], "o", color="C3", ms=6, label=rf"$\rho^* = {star:.4g}$ (case {dyn.case})"
    )
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1.02)
    ax.set_xlabel(r"$\rho_\ell$")
    ax.set_ylabel(r"$\rho_{\ell+1}$")
    ax.set_title(f"kernel map of {dyn.kmap.act.name}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def beta_vs_gain(activations=("tanh", "relu", "sin", "exp"), gains=None, *, ax=None, dps=15,
                 progress=None):
    r"""``beta_sigma(alpha)`` for each activation (exact where a closed form in the gain exists,
    numeric otherwise; data from :func:`symkernel.coefficients.strength.strength_against_gain`;
    ``progress``: a bar, :func:`symkernel.core.progress.progress`)."""
    data = strength_against_gain(tuple(activations), gains, dps=dps, progress=progress)
    if ax is None:
        fig, (ax,) = _figure()
    else:
        fig = ax.figure
    for name, d in data.items():
        ax.plot(d["gains"], d["beta"], "-o", ms=3, label=f"{name} ({d['method']})")
    ax.axhline(1, color="k", lw=0.5)
    ax.axhline(2, color="k", lw=0.5)
    ax.set_xlabel(r"gain $\alpha$")
    ax.set_ylabel(r"$\beta_\sigma$")
    ax.legend(fontsize=7)
    return fig


def isometry_depth(act, depth=20, *, n=4, rho0=0.5, G0=None, validation=None, residual=0.0):
    r"""Two panels along the mean-field Gram sequence ``G_l`` (centering + layer norm, Joudaki, Daneshmand & Bach (NeurIPS 2023)):
    the isometry gap ``-log I(G_l)`` with the Theorem 4 bound (drawn from the depth where its proof
    applies) and ``gamma(G_l)`` with the Corollary A.3 bound ``gamma(G_0) beta^{-l}``.

    ``G0`` defaults to the ``n x n`` equicorrelated Gram with off-diagonal ``rho0``.  A
    :class:`~symkernel.validate.Validation` of the same statistic (``"gap"`` or ``"potential"``)
    may be passed to overlay finite-width simulations (mean ± 2 s.e.).
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise InvalidInputError(f"depth must be a positive integer, got {depth!r}")
    G0 = equicorrelated(int(n), float(rho0)) if G0 is None else np.asarray(G0, dtype=float)
    beta = isometry_strength(act)
    seq = gram.gram_sequence(G0, act, int(depth), residual=residual)
    layers = np.arange(len(seq))
    gaps = np.array([gram.isometry_gap_float(G) for G in seq])
    gammas = np.array([gram.potential_float(G) for G in seq])
    b = float(beta.value(15))
    start = gram.isometry_gap_bound_depth_float(G0, b)
    fig, (ax1, ax2) = _figure(2)
    ax1.semilogy(layers, gaps, "-", color="k", label="mean field")
    if np.isfinite(start) and start <= depth and b > 1:
        ell = layers[layers >= start]
        ax1.semilogy(
            ell,
            gram.isometry_gap_bound_float(G0, b, ell),
            "--",
            color="C3",
            label=rf"Theorem 4 ($\ell \geq {int(start)}$)",
        )
    ax2.semilogy(layers, gammas, "-", color="k", label="mean field")
    ax2.semilogy(
        layers,
        gram.potential_bound_float(gammas[0], b, layers),
        "--",
        color="C3",
        label=r"Cor. A.3: $\gamma_0\beta_\sigma^{-\ell}$",
    )
    if validation is not None:
        target = {"gap": ax1, "potential": ax2}.get(validation.statistic)
        if target is None:
            raise InvalidInputError(
                "overlay a Validation of the 'gap' or the 'potential' statistic"
            )
        target.errorbar(
            validation.layers,
            validation.mean,
            yerr=2 * validation.stderr,
            fmt="o",
            ms=3,
            color="C0",
            label=f"width {validation.params.get('width')} (±2 s.e.)",
        )
    ax1.set_ylabel(r"isometry gap $-\log\mathcal{I}(G_\ell)$")
    ax2.set_ylabel(r"$\gamma(G_\ell)$")
    for ax in (ax1, ax2):
        ax.set_xlabel(r"layer $\ell$")
        ax.set_title(rf"{_name(act)}, $\beta_\sigma = {b:.5g}$, $n = {G0.shape[0]}$", fontsize=9)
        ax.legend(fontsize=7)
    return fig


def edge_of_chaos(activations=("tanh", "erf"), sigma_b2=None, *, ax=None, progress=None):
    r"""Phase diagram: the critical curve ``chi_1 = 1`` (``sigma_w^2`` against ``sigma_b^2``) for
    each activation; ordered phase (``chi_1 < 1``) to its left, chaotic phase to its right
    (Poole et al. 2016, Pabari & Zhou); ``progress``: a bar over each curve's grid."""
    if isinstance(activations, str):
        activations = (activations,)
    # denser near 0, where the critical curve rises like a square root (a linear grid drew a kink)
    sb2 = 0.3 * np.linspace(0.0, 1.0, 41) ** 2 if sigma_b2 is None else np.asarray(sigma_b2, dtype=float)
    if ax is None:
        fig, (ax,) = _figure()
    else:
        fig = ax.figure
    right, missing = 0.0, []
    for i, act in enumerate(activations):
        try:
            w, _ = critical_curve(act, sb2, progress=progress)
        except NoFixedPointError:
            w = np.full_like(sb2, np.nan)
        gaps = np.isnan(w)
        if gaps.all():
            missing.append(_name(act))
            continue
        note = (f" (none for $\\sigma_b^2 \\in$ [{sb2[gaps].min():.3g}, {sb2[gaps].max():.3g}])"
                if gaps.any() else "")
        ax.plot(w, sb2, "-", color=f"C{i}", lw=2, label=f"{_name(act)}: $\\chi_1 = 1${note}")
        right = max(right, float(np.nanmax(w)))
    ax.set_xlim(0, 1.6 * right if right else 1)
    ax.set_ylim(float(sb2.min()), float(sb2.max()))
    if right:   # the phases are those of the stable fixed point q* the lengths settle at
        ax.text(0.03, 0.93, r"ordered ($\chi_1 < 1$ at $q^*$)", transform=ax.transAxes, fontsize=8)
        ax.text(0.45, 0.05, r"chaotic ($\chi_1 > 1$ at $q^*$)", transform=ax.transAxes, fontsize=8)
    title = "edge of chaos"
    if missing:   # said, not silently dropped: no stable chi_1 = 1 point on this sigma_b^2 range
        title += "\nno stable edge of chaos here: " + ", ".join(missing)
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel(r"$\sigma_b^2$")
    ax.set_title(title, fontsize=8)
    if right:
        ax.legend(fontsize=7, loc="center right")
    return fig


__all__ = ["cobweb", "beta_vs_gain", "isometry_depth", "edge_of_chaos"]
