r"""Theory against simulation for Hayou (TMLR 2023): statistics (dicts) and matplotlib figures.

* :func:`law_check` — width-1 ResNet output ``Y_L`` against the derived law of ``X_1``
  (Kolmogorov–Smirnov distance and p-value, mean and variance of ``g(Y_L)`` with ``g`` the
  law's Gaussianizing transform, e.g. ``log``), for several depths (Hayou (TMLR 2023) Fig. 1).
* :func:`ou_check` — the inverse-erfi activation: ``erfiinv(k Y_L)`` against the OU law (Fig. 3).
* :func:`collapse_check` — probability that a ReLU ResNet collapses (``φ(Y_ℓ) = 0``) by depth
  ``L``, against width and depth (Fig. 4); width 1 has the exact value ``1 − Φ(√L)^L``.
* :func:`growth_check` — mean of ``log(‖φ(Y_L)‖/‖φ(Y_0)‖)`` against width, beside the time average
  of the Itô drift ``(k_ℓ − 2)/(2n)`` along the same paths and the ``t = 0`` prediction of
  :func:`~symkernel.theory.sde.width.growth_factor`.

>>> res = law_check("relu", x0=1.0, depths=(50,), n_paths=2000, seed=0)
>>> res[0]["depth"], res[0]["ks_pvalue"] > 0.01
(50, True)
"""

import numpy as np
import sympy as sp

from symkernel.core.parsing import to_sympy

from symkernel.errors import InvalidInputError
from symkernel.core.numpy_eval import numpy_lambdify
from symkernel.core.symbols import x
from symkernel.theory.sde.laws import ou_activation, width1_law
from symkernel.simulate.resnet import check_positive_int, simulate_resnet
from symkernel.theory.sde.width import growth_factor, k_active, norm_dynamics


def _ks(samples, cdf):
    from scipy import stats

    res = stats.kstest(samples, cdf)
    return float(res.statistic), float(res.pvalue)


def _g_moments(law, samples):
    gfun = numpy_lambdify(x, law.g)
    with np.errstate(all="ignore"):
        gz = np.asarray(gfun(samples), float)
    gz = gz[np.isfinite(gz)]
    return float(gz.mean()), float(gz.var(ddof=1)), int(gz.size)


def law_check(
    phi="relu", x0=1.0, depths=(5, 50, 500), n_paths=20000, seed=0, method="law", progress=False
):
    """Width-1 ResNets of each depth against the infinite-depth law of ``X_1`` (``X_0 = x0``).

    Returns one dict per depth: ``depth``, ``ks_stat``, ``ks_pvalue``, ``g_mean``/``g_var``
    (sample mean and variance of ``g(Y_L)`` over finite values), ``g_mean_theory``/``g_var_theory``,
    ``n_paths``, ``seed`` and ``samples`` (the ``Y_L`` values).
    """
    law = width1_law(phi, x0).at(1)
    if law.kind == "constant":
        raise InvalidInputError(f"x0 = {x0}: the limit is the constant {x0}, nothing to test")
    cdf = law.cdf()
    out = []
    for i, depth in enumerate(depths):
        run = simulate_resnet(
            phi, 1, depth, n_paths, x0=[float(x0)], seed=seed + i, method=method, progress=progress
        )
        y = run.final[:, 0]
        stat, p = _ks(y, cdf)
        gm, gv, used = _g_moments(law, y)
        out.append(
            dict(
                depth=int(depth),
                ks_stat=stat,
                ks_pvalue=p,
                g_mean=gm,
                g_var=gv,
                g_used=used,
                g_mean_theory=float(law.z_mean),
                g_var_theory=float(law.z_var),
                n_paths=n_paths,
                seed=seed + i,
                samples=y,
                law=law,
            )
        )
    return out


def ou_check(theta=1, k=1, x0=0.5, depth=500, n_paths=20000, seed=0, progress=False):
    """ResNet with the inverse-erfi activation (derived for the OU target) against the law of X_1.

    Returns ``ks_stat``/``ks_pvalue`` of ``Y_L`` against the transformed-Gaussian CDF and the
    sample mean and variance of ``Z = erfiinv(k Y_L)`` against ``z0 e^{-θ}`` and
    ``(1 − e^{-2θ})/2``.
    """
    sol = ou_activation(theta, k)
    z0 = sol.g.subs(x, to_sympy(x0))
    law = sol.law(z0).at(1)
    run = simulate_resnet(sol.phi, 1, depth, n_paths, x0=[float(x0)], seed=seed, progress=progress)
    y = run.final[:, 0]
    stat, p = _ks(y, law.cdf())
    gm, gv, used = _g_moments(law, y)
    return dict(
        depth=depth,
        ks_stat=stat,
        ks_pvalue=p,
        z_mean=gm,
        z_var=gv,
        n_used=used,
        z_mean_theory=float(law.z_mean),
        z_var_theory=float(law.z_var),
        samples=y,
        law=law,
        activation=sol.phi,
        theta=theta,
        k=k,
        x0=x0,
        seed=seed,
    )


def _non_collapsed_gaussian(n_paths, width, rng):
    y = rng.standard_normal((n_paths, width))
    bad = ~(y > 0).any(axis=1)
    while bad.any():
        y[bad] = rng.standard_normal((int(bad.sum()), width))
        bad = ~(y > 0).any(axis=1)
    return y


def collapse_check(widths=(1, 2, 3, 4), depths=(1, 2, 5, 10, 50, 100), n_paths=20000, seed=0):
    """P(ReLU ResNet collapsed at depth L), ``Y_0 ~ N(0, I_n)`` conditioned on ``φ(Y_0) ≠ 0``.

    ReLU collapse is absorbing and ``{φ(Y_L) = 0}`` is the event "collapsed at some layer", so the
    final state decides it.  Returns ``prob`` and ``se`` arrays ``[width, depth]`` and, for width 1,
    ``exact_width1[depth] = 1 − Φ(√L)^L`` (each layer multiplies ``Y > 0`` by ``1 + W/√L``).
    """
    from scipy import special

    prob = np.zeros((len(widths), len(depths)))
    for a, n in enumerate(widths):
        for b, depth in enumerate(depths):
            rng = np.random.default_rng([seed, a, b])
            y0 = _non_collapsed_gaussian(n_paths, n, rng)
            run = simulate_resnet("relu", n, depth, n_paths, x0=y0, seed=[seed, a, b, 1])
            prob[a, b] = float(np.mean(~(run.final > 0).any(axis=1)))
    se = np.sqrt(prob * (1 - prob) / n_paths)
    exact = np.array([1 - special.ndtr(np.sqrt(d)) ** d for d in depths])
    return dict(
        widths=tuple(widths),
        depths=tuple(depths),
        prob=prob,
        se=se,
        exact_width1=exact,
        n_paths=n_paths,
        seed=seed,
    )


def growth_check(widths=tuple(range(1, 9)), depth=200, n_paths=4000, seed=0, phi="relu"):
    r"""Logarithmic growth of ``‖φ(Y_ℓ)‖`` against width, three ways.

    For each width ``n``: ``simulated`` = mean of ``log(‖φ(Y_L)‖/‖φ(Y_0)‖)`` over paths that do
    not collapse (``t = 1``; ``Y_0 ~ N(0, I_n)`` conditioned on ``φ(Y_0) ≠ 0``) with its standard
    error; ``ito`` = mean over the same paths of ``(1/L) Σ_ℓ drift(Y_ℓ)``, the Itô drift of
    :func:`~symkernel.theory.sde.width.norm_dynamics` evaluated along the simulated path; ``t0`` = the
    exact :func:`~symkernel.theory.sde.width.growth_factor` (the drift's mean at ``t = 0``).
    """
    depth = check_positive_int(depth, "depth")
    if phi not in ("relu", "identity"):
        raise InvalidInputError(
            "growth_check supports phi = 'relu' or 'identity' (drifts that "
            "depend only on the number of positive coordinates)"
        )
    rows = []
    for a, n in enumerate(widths):
        dyn = norm_dynamics(phi, n)
        if not dyn.depends_only_on_counts():
            raise InvalidInputError("growth_check needs a drift that depends only on counts")
        kfun = numpy_lambdify(k_active, dyn.drift + 0 * k_active)
        rng = np.random.default_rng([seed, a])
        y0 = _non_collapsed_gaussian(n_paths, n, rng)
        acc = np.zeros(n_paths)

        def observe(ell, y, acc=acc, kfun=kfun):
            if ell < depth:
                acc += kfun((y > 0).sum(axis=1))
            return None

        run = simulate_resnet(phi, n, depth, n_paths, x0=y0, seed=[seed, a, 1], observe=observe)
        f = (lambda a: np.maximum(a, 0.0)) if phi == "relu" else (lambda a: a)
        f0, f1 = np.linalg.norm(f(y0), axis=1), np.linalg.norm(f(run.final), axis=1)
        ok = f1 > 0
        logr = np.log(f1[ok] / f0[ok])
        ito = acc[ok] / depth
        q = growth_factor(phi, n)
        rows.append(
            dict(
                width=n,
                simulated=float(logr.mean()),
                se=float(logr.std(ddof=1) / np.sqrt(ok.sum())),
                ito=float(ito.mean()),
                ito_se=float(ito.std(ddof=1) / np.sqrt(ok.sum())),
                diff_se=float((logr - ito).std(ddof=1) / np.sqrt(ok.sum())),
                t0=float(q),
                t0_exact=q.expr,
                collapsed=float(1 - ok.mean()),
            )
        )
    return dict(rows=rows, depth=depth, n_paths=n_paths, seed=seed, phi=phi)


def _figure(ncols, figsize):
    """A ``matplotlib.figure.Figure`` with ``ncols`` axes in a row: no pyplot state, and the
    user's backend is left as it is (Jupyter displays a returned Figure, ``savefig`` writes it)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="tight")
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def plot_law_check(results, bins=80):
    """Histograms of ``g(Y_L)`` per depth with the limiting Gaussian density of ``g(X_1)``."""
    fig, axes = _figure(len(results), (4 * len(results), 3.2))
    for ax, res in zip(axes, results):
        law = res["law"]
        gfun = numpy_lambdify(x, law.g)
        with np.errstate(all="ignore"):
            gz = np.asarray(gfun(res["samples"]), float)
        gz = gz[np.isfinite(gz)]
        ax.hist(gz, bins=bins, density=True, alpha=0.5, label=f"ResNet, L={res['depth']}")
        m, v = res["g_mean_theory"], res["g_var_theory"]
        u = np.linspace(m - 4 * np.sqrt(v), m + 4 * np.sqrt(v), 300)
        ax.plot(u, np.exp(-((u - m) ** 2) / (2 * v)) / np.sqrt(2 * np.pi * v), "k", label="SDE law")
        ax.set_title(f"L={res['depth']}: KS={res['ks_stat']:.3f}, p={res['ks_pvalue']:.2g}")
        ax.set_xlabel(f"${sp.latex(law.g)}$ of $Y_L$")
        ax.legend(fontsize=7)
    return fig


def plot_collapse(res):
    """Collapse probability against depth, one line per width (log scale), width-1 exact."""
    fig, (ax,) = _figure(1, (5, 3.5))
    for a, n in enumerate(res["widths"]):
        ax.errorbar(
            res["depths"], res["prob"][a], yerr=2 * res["se"][a], marker="o", label=f"n={n}"
        )
    ax.plot(res["depths"], res["exact_width1"], "k--", label=r"$1-\Phi(\sqrt{L})^L$ (n=1)")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("depth L")
    ax.set_ylabel("P(collapse)")
    ax.legend(fontsize=7)
    return fig


def plot_growth(res):
    """Growth factor of ``log‖φ(Y)‖`` against width: simulation, Itô drift, t=0 prediction."""
    rows = res["rows"]
    w = [r["width"] for r in rows]
    fig, (ax,) = _figure(1, (5, 3.5))
    ax.errorbar(
        w,
        [r["simulated"] for r in rows],
        yerr=[2 * r["se"] for r in rows],
        marker="o",
        label="simulated log-growth (t=1)",
    )
    ax.plot(w, [r["ito"] for r in rows], "s--", label="Itô drift along paths")
    ax.plot(w, [r["t0"] for r in rows], "k^:", label="derived mean drift at t=0")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("width n")
    ax.set_ylabel(r"growth of $\log\|\phi(Y)\|$")
    ax.legend(fontsize=7)
    return fig


__all__ = [
    "law_check",
    "ou_check",
    "collapse_check",
    "growth_check",
    "plot_law_check",
    "plot_collapse",
    "plot_growth",
]
