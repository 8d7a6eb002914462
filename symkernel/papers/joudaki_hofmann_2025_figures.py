r"""Joudaki & Hofmann (AISTATS 2025), reproduced against finite-width networks: data functions
plus matplotlib drawing.

* Figures S.1/S.2 (:func:`figures_s1_s2_data`, :func:`draw_figures_s1_s2`): per activation of
  Table S.1 (scaled to ``E sigma^2 = 1``, Remark S.3), the activation, its kernel map with the
  fixed-point iteration, and the kernel sequence of a simulated MLP against the mean-field
  sequence and the Theorem-1 bound (as a band around ``rho*`` and as a distance on a log scale).
* Proposition 1 with non-Gaussian weights (:func:`proposition1_data`): Gaussian, Rademacher,
  uniform and orthogonal weights of variance 1 give the same kernel sequence.
* Corollary 2 in floating point (:func:`corollary2_data`, :func:`draw_corollary2`).
* Theorem 1 case 3 (:func:`draw_case3`): ``l^p (1 - rho_l)`` against the derived constant
  (:mod:`.joudaki_hofmann_2025_case3`).

The network: ``y^+ = N(sigma(W y/sqrt d))`` with no centering and ``N`` the RMS normalization
(``normalization='rms'``, default), which keeps the kernel map (the paper's Proposition 3) and
removes the finite-width drift of the norms; ``normalization='mean_field'`` divides by
``C = sqrt(E sigma^2)`` instead (the paper's plain network with the activation scaled).  Defaults
are CI-sized; ``full_size=True`` takes wider networks and more layers.  The two inputs have
correlation ``rho0``; the mean over seeds carries its standard error, and "within the bound"
means ``|mean - rho*| <= band + n_sigma * stderr``.

>>> d = figures_s1_s2_data(("relu",), width=64, depth=3, seeds=range(3))
>>> d["relu"]["case"], bool(d["relu"]["within_bound"].all())
(3, True)
"""
import math

import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError
from symkernel.core.activations import as_activation
from symkernel.gaussian.expectation import second_moment
from symkernel.present.plotting import cobweb
from symkernel.simulate import inputs_with_gram, simulate_mlp
from symkernel.theory.dynamics import kernel_dynamics
from symkernel.validate import networks as validate
from .joudaki_hofmann_2025 import TABLE_S1
from .joudaki_hofmann_2025_case3 import case3_asymptotics, iterate_exact

#: the activations of Table S.1 (Figures S.1 and S.2 show the same eight)
FIGURE_ACTIVATIONS = tuple(name for _, name, _ in TABLE_S1)
#: the weight ensembles of Proposition 1's check (simulate_mlp's ``weights``)
WEIGHT_LAWS = ("gaussian", "rademacher", "uniform", "orthogonal")


def _band(dyn, layers, rho0):
    """Theorem 1's bound on ``|rho_l - rho*|`` (case 1: ``B/(1 + B)`` from ``|rho|/(1-|rho|) <= B``)."""
    b = dyn.bound(layers, rho0)
    return b / (1 + b) if dyn.case == 1 else b


def _kernel_run(name, rho0, width, depth, seeds, normalization, weights, n_sigma):
    dyn = kernel_dynamics(name)
    v = validate.kernel_sequence(name, rho0, width=width, depth=depth, seeds=seeds, centering=None,
                                 normalization=normalization, weights=weights, n_sigma=n_sigma)
    star = float(dyn.fixed_point.value(17))
    half = _band(dyn, v.layers, rho0)
    gap = np.abs(v.mean - star)
    return dict(layers=v.layers, mean=v.mean, stderr=v.stderr, samples=v.samples,
                mean_field=v.theory, agree=v.agree, case=dyn.case, rho_star=star,
                rate=float(dyn.rate.value(17)), bound=dyn.bound(v.layers, rho0), band=half,
                lower=np.clip(star - half, -1, 1), upper=np.clip(star + half, -1, 1),
                distance=dyn.distance(v.mean), mean_field_distance=dyn.distance(v.theory),
                within_bound=gap <= half + n_sigma * v.stderr + v.atol, params=v.params)


def figures_s1_s2_data(activations=FIGURE_ACTIVATIONS, *, rho0=0.5, width=256, depth=12,
                       seeds=range(16), normalization="rms", weights="explicit", n_sigma=4.0,
                       full_size=False):
    """Per activation: the simulated kernel sequence (``mean``, ``stderr``, ``samples``), the
    mean-field sequence, Theorem 1's ``case``, ``rho_star``, ``rate``, ``bound`` (on its distance,
    ``|rho|/(1-|rho|)`` in case 1, else ``|rho - rho*|``), the ``band`` on ``|rho_l - rho*|`` with
    its ``lower``/``upper`` curves, ``distance`` of the mean, ``agree`` (mean field within
    ``n_sigma`` standard errors) and ``within_bound`` (module docstring), per layer; plus the
    activation scaled by ``1/C`` on ``[-3, 3]`` (``x``, ``sigma``)."""
    if full_size:
        width, depth, seeds = 2048, 30, range(10)
    out = {}
    for name in activations:
        run = _kernel_run(name, rho0, width, depth, list(seeds), normalization, weights, n_sigma)
        act = as_activation(name)
        xs = np.linspace(-3, 3, 241)
        run.update(x=xs, sigma=act.numpy()(xs) / math.sqrt(float(second_moment(act))), rho0=rho0)
        out[name] = run
    return out


def proposition1_data(activations=("tanh", "relu"), laws=WEIGHT_LAWS, *, rho0=0.5, width=256,
                      depth=8, seeds=range(16), normalization="rms", n_sigma=4.0):
    """Proposition 1: ``{activation: {law: Validation}}``, the kernel sequence simulated with each
    weight law (variance 1; :func:`~symkernel.simulate.simulate_mlp`'s ``weights``) against the
    one mean-field sequence of the kernel map (Gaussian pre-activations)."""
    return {name: {law: validate.kernel_sequence(name, rho0, width=width, depth=depth, seeds=seeds,
                                                 centering=None, normalization=normalization,
                                                 weights=law, n_sigma=n_sigma)
                   for law in laws}
            for name in activations}


def _one_minus_rho(x, y):
    """``1 - <x,y>/(|x||y|)`` in float64 without cancellation: ``(|x-y|^2 - (|x|-|y|)^2)/(2|x||y|)``."""
    nx, ny = np.linalg.norm(x, axis=-1), np.linalg.norm(y, axis=-1)
    dn = (nx**2 - ny**2) / (nx + ny)
    return (np.sum((x - y) ** 2, axis=-1) - dn**2) / (2 * nx * ny)


def _depth(dyn, power_of_two):
    """Corollary 2's depth for ``eps`` an exact power of two (machine epsilon, smallest normal)."""
    return float(dyn.indistinguishable_depth(sp.Rational(2) ** int(math.log2(power_of_two))).value(15))


def one_minus_rho_sequence(act, rho0, depth, nodes=20):
    r"""``[1 - rho_0, ..., 1 - rho_depth]`` of the mean-field sequence in float64 without
    cancellation near 1: :math:`1 - \kappa(1 - \epsilon) = \int_{1-\epsilon}^1 \kappa'(t)\,dt`
    by ``nodes``-point Gauss-Legendre on the float64 twin of ``kappa'`` (``act``: an activation or
    its :class:`~symkernel.theory.dynamics.KernelDynamics`), so values far below float64's
    epsilon keep their relative accuracy."""
    dyn = act if hasattr(act, "kmap") else kernel_dynamics(act)
    if not -1 < float(rho0) < 1:
        raise InvalidInputError(f"rho0 must lie in (-1, 1), got {rho0}")
    t, w = np.polynomial.legendre.leggauss(int(nodes))
    slope = dyn.kmap.derivative()
    out = [1.0 - float(rho0)]
    for _ in range(int(depth)):
        e = out[-1]
        out.append(min(0.5 * e * float(np.dot(w, slope.numpy(1 - 0.5 * e * (1 - t)))), 2.0))
    return np.array(out)


def _first(mask):
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def corollary2_data(act="sigmoid", *, rho0=0.5, width=256, depth=50, seeds=range(3),
                    dtypes=("float32", "float64"), normalization="rms"):
    r"""Corollary 2 against networks computed in ``dtypes``: per dtype, its machine ``eps`` and
    smallest normal ``tiny``, Corollary 2's ``L_eps = ln(1/eps)/ln(1/kappa'(1))`` and ``L_tiny``,
    the mean-field first layers with ``1 - rho_l <= eps`` (``mean_field_corr``) and
    ``<= eps^2/2`` (``mean_field_floor``: ``|x - y|/|x| = sqrt(2(1 - rho))`` below ``eps``), and
    per seed from the simulated representations (stored exactly in float64): ``one_minus_rho``,
    ``rel_diff`` ``= |x - y|/|x|``, the first layer with ``1 - rho <= eps`` (``L_corr``), with
    ``rel_diff <= eps`` (``L_floor``), the ``floor`` (median ``rel_diff/eps`` over the last
    quarter of the layers) and the number of layers whose two representations are bitwise equal.
    Corollary 2 needs case 2 (``kappa(0) > 0``, ``kappa'(1) < 1``)."""
    dyn = kernel_dynamics(act)
    L = {name: _depth(dyn, np.finfo(name).eps) for name in dtypes}  # raises unless case 2
    G0 = np.array([[1.0, rho0], [rho0, 1.0]])
    inputs = inputs_with_gram(G0, width, seed=0)
    mf = one_minus_rho_sequence(dyn, rho0, depth)
    out = {}
    for name in dtypes:
        info = np.finfo(name)
        eps, tiny = float(info.eps), float(info.tiny)
        runs = []
        for s in seeds:
            res = simulate_mlp(act, inputs, width=width, depth=depth, centering=None,
                               normalization=normalization, dtype=name, seed=s,
                               record=("activations",))
            A = res.activations
            om = _one_minus_rho(A[:, 0], A[:, 1])
            rel = np.linalg.norm(A[:, 0] - A[:, 1], axis=1) / np.linalg.norm(A[:, 0], axis=1)
            runs.append(dict(one_minus_rho=om, rel_diff=rel, L_corr=_first(om <= eps),
                             L_floor=_first(rel <= eps),
                             floor=float(np.median(rel[-max(depth // 4, 1):]) / eps),
                             bitwise_equal=int(sum(np.array_equal(a[0], a[1]) for a in A))))
        out[name] = dict(eps=eps, tiny=tiny, L_eps=L[name],
                         L_tiny=_depth(dyn, tiny),
                         mean_field_corr=_first(mf <= eps), mean_field_floor=_first(mf <= eps**2 / 2),
                         runs=runs)
    return dict(activation=str(act), kappa_prime_1=float(dyn.kappa_prime_1.value(15)), rho0=rho0,
                width=width, depth=depth, mean_field=mf, dtypes=out)


# ---------------------------------------------------------------- drawing
def _figure(nrows, ncols, width=3.2, height=2.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    return fig, [[fig.add_subplot(nrows, ncols, r * ncols + c + 1) for c in range(ncols)]
                 for r in range(nrows)]


def draw_figures_s1_s2(data):
    """One row per activation: activation, kernel map with cobweb, kernel sequence with the
    Theorem-1 band, distance to ``rho*`` against the bound (log scale).  Returns the Figure."""
    fig, rows = _figure(len(data), 4)
    for axes, (name, d) in zip(rows, data.items()):
        a0, a1, a2, a3 = axes
        a0.plot(d["x"], d["sigma"], color="C0")
        a0.set_title(rf"{name} / $C$", fontsize=9)
        cobweb(name, rho0=(d["rho0"],), depth=len(d["layers"]) - 1, ax=a1)
        a1.legend(fontsize=6, loc="lower right")
        ls = d["layers"]
        a2.errorbar(ls, d["mean"], yerr=2 * d["stderr"], fmt="o", ms=3, color="C0",
                    label="simulated (± 2 s.e.)")
        a2.plot(ls, d["mean_field"], "-", color="k", lw=1, label="mean field")
        a2.fill_between(ls, d["lower"], d["upper"], color="C3", alpha=0.15, label="Theorem 1")
        a2.set_ylim(-1.02, 1.02)
        a2.set_title(f"case {d['case']}: " + r"$\rho_\ell$", fontsize=9)
        dist = np.where(d["distance"] > 0, d["distance"], np.nan)
        a3.semilogy(ls, dist, "o", ms=3, color="C0", label="simulated")
        a3.semilogy(ls, np.where(d["mean_field_distance"] > 0, d["mean_field_distance"], np.nan),
                    "-", color="k", lw=1, label="mean field")
        a3.semilogy(ls, d["bound"], "--", color="C3", label="Theorem 1 bound")
        a3.set_title("distance to " + r"$\rho^*$" + (" (|ρ|/(1-|ρ|))" if d["case"] == 1 else ""),
                     fontsize=9)
        for ax in (a2, a3):
            ax.set_xlabel("layer")
    rows[0][2].legend(fontsize=6)
    rows[0][3].legend(fontsize=6)
    return fig


def draw_proposition1(data):
    """One panel per activation: the kernel sequence for each weight law against the mean field."""
    fig, (axes,) = _figure(1, len(data), 4.0, 3.0)
    for ax, (name, runs) in zip(axes, data.items()):
        for i, (law, v) in enumerate(runs.items()):
            ax.errorbar(v.layers + 0.08 * (i - 1.5), v.mean, yerr=2 * v.stderr, fmt="o", ms=3,
                        color=f"C{i}", label=law)
        ax.plot(v.layers, v.theory, "-", color="k", lw=1, label="kernel map")
        ax.set_title(f"Proposition 1: {name}", fontsize=9)
        ax.set_xlabel("layer")
        ax.set_ylabel(r"$\rho_\ell$")
        ax.legend(fontsize=7)
    return fig


def draw_corollary2(data):
    """``1 - rho_l`` and ``|x - y|/|x|`` per layer for each dtype, with Corollary 2's depth."""
    fig, (axes,) = _figure(1, len(data["dtypes"]), 4.2, 3.2)
    for ax, (name, d) in zip(axes, data["dtypes"].items()):
        for i, r in enumerate(d["runs"]):
            om = np.where(r["one_minus_rho"] > 0, r["one_minus_rho"], np.nan)
            ax.semilogy(om, "-", color="C0", lw=0.8, label=r"$1-\rho_\ell$" if i == 0 else None)
            ax.semilogy(r["rel_diff"], "-", color="C1", lw=0.8,
                        label=r"$|x-y|/|x|$" if i == 0 else None)
        mf = np.where(data["mean_field"] > 0, data["mean_field"], np.nan)
        ax.semilogy(mf, ":", color="k", label="mean field " + r"$1-\rho_\ell$")
        ax.axhline(d["eps"], color="C3", lw=0.8, label=f"{name} eps")
        ax.axvline(d["L_eps"], color="C3", ls="--", lw=0.8, label="Corollary 2 (eps)")
        ax.set_ylim(d["eps"] ** 2 / 10, 2)
        ax.set_title(f"{data['activation']}, {name}", fontsize=9)
        ax.set_xlabel("layer")
        ax.legend(fontsize=6)
    return fig


def draw_case3(act="relu", rho0=0.0, depth=2000, dps=30):
    """``l^p (1 - rho_l)`` of the exact kernel sequence against the derived ``C`` and Theorem 1's
    case-3 bound times ``l^p`` (log-log).  Returns the Figure."""
    asym = case3_asymptotics(act)
    dyn = kernel_dynamics(act)
    eps = np.array([float(e) for e in iterate_exact(act, rho0, depth, dps)])
    p = float(asym.exponent)
    ls = np.arange(1, depth + 1)
    fig, ((ax,),) = _figure(1, 1, 4.5, 3.2)
    ax.loglog(ls, ls**p * eps[1:], "-", color="C0", label=rf"$\ell^{{{p:g}}}(1-\rho_\ell)$")
    ax.axhline(float(asym.C), color="k", ls=":", label=rf"$C = {float(asym.C):.6g}$ (derived)")
    ax.loglog(ls, ls**p * dyn.bound(ls, rho0), "--", color="C3",
              label=rf"Theorem 1 bound $\times\ \ell^{{{p:g}}}$")
    ax.set_xlabel("layer")
    ax.set_title(f"{act}: case 3", fontsize=9)
    ax.legend(fontsize=7)
    return fig


__all__ = ["FIGURE_ACTIVATIONS", "WEIGHT_LAWS", "figures_s1_s2_data", "proposition1_data",
           "corollary2_data", "one_minus_rho_sequence", "draw_figures_s1_s2", "draw_proposition1", "draw_corollary2",
           "draw_case3"]
