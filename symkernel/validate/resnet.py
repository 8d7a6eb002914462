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
from symkernel.numerics import decimal_value

from symkernel.errors import InvalidInputError
from symkernel.core.numpy_eval import numpy_lambdify
from symkernel.core.symbols import x
from symkernel.theory.sde.ito import sde_activation
from symkernel.theory.sde.laws import ou_activation, width1_law
from symkernel.theory.sde.meanfield_limit import (
    linear_kurtosis, linear_log_norm_moments, meanfield_limit,
)
from symkernel.theory.sde.rate import ks_edgeworth, strong_error_constant
from symkernel.simulate.resnet import (
    backprop_norms, check_positive_int, euler_maruyama, simulate_resnet, simulate_resnet_inputs,
    vectorized,
)
from symkernel.theory.sde.collapse import feller_collapse_probability, piecewise_linear_growth
from symkernel.theory.sde.correlation import c as corr_symbol
from symkernel.theory.sde.correlation import correlation_dynamics
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


def coordinate_moments(phi, width, depth, n_paths, q0=1.0, seed=0, method="law", horizon=1.0):
    """Second moment and kurtosis of one coordinate of ``Y_L`` (``Y_0 ~ N(0, q0 I_n)``), with
    standard errors over the independent paths (the ``n`` coordinates of one path are exchangeable
    but dependent: each path contributes its coordinate averages ``m2``, ``m4``; the kurtosis
    ``E m4/(E m2)²`` gets its error by the delta method)."""
    rng = np.random.default_rng([seed, 7])
    y0 = np.sqrt(float(q0)) * rng.standard_normal((n_paths, width))
    run = simulate_resnet(phi, width, depth, n_paths, x0=y0, seed=seed, method=method,
                          horizon=horizon)
    y2 = run.final**2
    m2, m4 = y2.mean(axis=1), (y2**2).mean(axis=1)
    a, b = m2.mean(), m4.mean()
    cov = np.cov(np.vstack([m2, m4])) / n_paths
    grad = np.array([-2 * b / a**3, 1 / a**2])
    return dict(width=width, depth=depth, n_paths=n_paths, seed=seed, method=method,
                second_moment=float(a), second_moment_se=float(np.sqrt(cov[0, 0])),
                kurtosis=float(b / a**2), kurtosis_se=float(np.sqrt(grad @ cov @ grad)))


def limits_check(phi="identity", widths=(1, 4, 16, 64), depths=(4, 16, 64), n_paths=2000,
                 q0=1.0, seed=0, method="law"):
    r"""The two sequential limits of Hayou (TMLR 2023) Thms 2–3 on an ``(n, L)`` grid.

    One :func:`coordinate_moments` row per width and depth, beside the width-then-depth NNGP
    variance ``q_L`` and the mean-field ``q_1``
    (:func:`~symkernel.theory.sde.meanfield_limit.meanfield_limit`) and, for linear φ, the exact
    kurtosis ``κ(n, L)`` and its limits ``3 e^{4/n}`` (depth first) and 3 (width first)
    (:func:`~symkernel.theory.sde.meanfield_limit.linear_kurtosis`).
    """
    lim = meanfield_limit(phi, q0=decimal_value(q0, "q0") if isinstance(q0, float) else q0)
    linear = sde_activation(phi).expr == x
    rows = []
    for a, n in enumerate(widths):
        for b, depth in enumerate(depths):
            row = coordinate_moments(phi, n, depth, n_paths, q0, [seed, a, b], method)
            row["nngp_variance"] = float(lim.nngp(depth)[-1])
            row["meanfield_variance"] = lim.variance(1.0)
            if linear:
                row["kurtosis_exact"] = float(linear_kurtosis(n, depth))
                row["kurtosis_depth_limit"] = float(linear_kurtosis(n, None))
            rows.append(row)
    return dict(rows=rows, widths=tuple(widths), depths=tuple(depths), n_paths=n_paths,
                q0=q0, seed=seed, phi=phi, meanfield_variance=lim.variance(1.0))


def plot_limits(res):
    """Kurtosis of one coordinate against width, one line per depth (±2 SE), with the exact
    finite-(n, L) values and the depth-first limit ``3 e^{4/n}`` when φ is linear; Gaussian 3."""
    fig, (ax,) = _figure(1, (5.5, 3.8))
    rows = res["rows"]
    for depth in res["depths"]:
        sel = [r for r in rows if r["depth"] == depth]
        w = [r["width"] for r in sel]
        ax.errorbar(w, [r["kurtosis"] for r in sel], yerr=[2 * r["kurtosis_se"] for r in sel],
                    marker="o", ls="none", capsize=3, label=f"ResNet, L={depth}")
        if "kurtosis_exact" in sel[0]:
            ax.plot(w, [r["kurtosis_exact"] for r in sel], "k:", lw=0.8,
                    label="exact $\\kappa(n, L)$" if depth == res["depths"][0] else None)
    if "kurtosis_depth_limit" in rows[0]:
        ws = np.geomspace(min(res["widths"]), max(res["widths"]), 100)
        ax.plot(ws, 3 * np.exp(4 / ws), "k-", lw=1, label=r"$L\to\infty$: $3e^{4/n}$")
    ax.axhline(3, color="grey", ls="--", lw=1, label=r"$n\to\infty$: Gaussian, 3")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xticks(res["widths"], [str(w) for w in res["widths"]])
    ax.xaxis.set_minor_formatter(NullFormatter())
    top = max(max(r["kurtosis"] + 2 * r["kurtosis_se"] for r in rows),
              3 * np.exp(4 / min(res["widths"])) if "kurtosis_depth_limit" in rows[0] else 3)
    ax.set_yticks([v for v in (3, 4, 5, 7, 10, 20, 50, 100, 200) if v <= top])
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("width n")
    ax.set_ylabel("kurtosis of one coordinate of $Y_L$")
    ax.legend(fontsize=7)
    return fig


def _loglog_fit(depths, values, ses):
    """Weighted least squares of ``log value = a + slope log L`` (weights from the standard
    errors, ``sd(log v) ≈ se/v``): slope, its standard error, intercept."""
    X = np.column_stack([np.ones(len(depths)), np.log(depths)])
    w = (np.asarray(values) / np.asarray(ses)) ** 2
    A = X.T @ (w[:, None] * X)
    coef = np.linalg.solve(A, X.T @ (w * np.log(values)))
    cov = np.linalg.inv(A)
    return float(coef[1]), float(np.sqrt(cov[1, 1])), float(coef[0])


def rate_check(depths=(16, 32, 64), n_paths=200000, coupled_paths=20000, seed=0):
    r"""Hayou (TMLR 2023) Prop. 1's rate, measured for the width-1 ReLU ResNet with ``x0 = 1``.

    For each depth: ``ks`` = KS distance of ``Y_L`` (``n_paths`` networks) to the log-normal limit,
    with ``ks_se = √(F(1−F)/N)`` at the maximizing point; ``strong`` = ``E|Y_L − X_1|`` with ``X_1
    = e^{B_1 − 1/2}`` the exact SDE solution on the same Brownian path (``W_ℓ = √L ΔB_ℓ``), with its
    standard error.  Log–log fits of both against depth, beside the derived ``C/L``
    and ``1/√(πL)`` (:mod:`~symkernel.theory.sde.rate`).
    """
    from scipy import special

    edge = ks_edgeworth()
    C, c_strong = float(edge["C"]), float(strong_error_constant())
    rows = []
    for i, depth in enumerate(depths):
        depth = check_positive_int(depth, "depth")
        run = simulate_resnet("relu", 1, depth, n_paths, x0=[1.0], seed=[seed, i])
        y = np.sort(run.final[:, 0])
        with np.errstate(divide="ignore"):
            F = np.where(y > 0, special.ndtr(np.log(np.where(y > 0, y, 1.0)) + 0.5), 0.0)
        k = np.arange(1, n_paths + 1) / n_paths
        gaps = np.maximum(k - F, F - (k - 1 / n_paths))
        j = int(np.argmax(gaps))
        ks = float(gaps[j])
        ks_se = float(np.sqrt(F[j] * (1 - F[j]) / n_paths))
        rng = np.random.default_rng([seed, i, 1])
        yc, b = np.ones(coupled_paths), np.zeros(coupled_paths)
        for _ in range(depth):
            db = rng.standard_normal(coupled_paths) / np.sqrt(depth)
            yc = yc + np.maximum(yc, 0.0) * db
            b += db
        err = np.abs(yc - np.exp(b - 0.5))
        rows.append(dict(depth=depth, ks=ks, ks_se=ks_se, ks_theory=C / depth,
                         strong=float(err.mean()),
                         strong_se=float(err.std(ddof=1) / np.sqrt(coupled_paths)),
                         strong_theory=c_strong / np.sqrt(depth)))
    d = [r["depth"] for r in rows]
    ks_fit = _loglog_fit(d, [r["ks"] for r in rows], [r["ks_se"] for r in rows])
    st_fit = _loglog_fit(d, [r["strong"] for r in rows], [r["strong_se"] for r in rows])
    return dict(rows=rows, ks_slope=ks_fit[0], ks_slope_se=ks_fit[1], ks_intercept=ks_fit[2],
                strong_slope=st_fit[0], strong_slope_se=st_fit[1], strong_intercept=st_fit[2],
                C=C, strong_constant=c_strong, n_paths=n_paths, coupled_paths=coupled_paths,
                seed=seed, ks_floor=0.8687 / np.sqrt(n_paths))


def plot_rate(res):
    """Log–log plot of the KS distance and the strong error against depth, fitted slopes in the
    legend, derived ``C/L`` and ``1/√(πL)`` as lines, the KS Monte-Carlo floor ``0.87/√N``."""
    fig, (ax,) = _figure(1, (5.5, 3.8))
    rows = res["rows"]
    d = np.array([r["depth"] for r in rows], float)
    dd = np.geomspace(d.min() / 1.3, d.max() * 1.3, 50)
    ax.errorbar(d, [r["ks"] for r in rows], yerr=[2 * r["ks_se"] for r in rows], fmt="o",
                capsize=3, label=f"KS(law of $Y_L$, limit): slope {res['ks_slope']:.2f}"
                                 f" ± {res['ks_slope_se']:.2f}")
    ax.plot(dd, res["C"] / dd, "C0-", lw=1, label=f"derived {res['C']:.3f}/L")
    ax.errorbar(d, [r["strong"] for r in rows], yerr=[2 * r["strong_se"] for r in rows],
                fmt="s", color="C1", capsize=3,
                label=f"E|Y_L - X_1| (same path): slope {res['strong_slope']:.2f}"
                      f" ± {res['strong_slope_se']:.2f}")
    ax.plot(dd, res["strong_constant"] / np.sqrt(dd), "C1-", lw=1,
            label=r"derived $1/\sqrt{\pi L}$")
    ax.axhline(res["ks_floor"], color="grey", ls=":", lw=1, label="KS Monte-Carlo floor")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(d, [str(int(v)) for v in d])
    ax.minorticks_off()
    ax.set_xlabel("depth L")
    ax.set_ylabel("distance to the infinite-depth limit")
    ax.legend(fontsize=7)
    return fig


def _two_inputs(width, c0):
    """Inputs ``(e_1, c0 e_1 + √(1 − c0²) e_2)·√n``: correlation ``c0``, unit variance per
    coordinate."""
    x0 = np.zeros((2, width))
    x0[0, 0] = 1.0
    x0[1, 0], x0[1, 1] = c0, np.sqrt(1 - c0**2)
    return x0 * np.sqrt(width)


def _correlation(ell, y):
    a, b = y[:, 0], y[:, 1]
    return np.einsum("pi,pi->p", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def correlation_check(width=4, c0=0.6, depth=100, n_paths=3000, sde_paths=20000, seed=0,
                      method="weights"):
    r"""Correlation ``c_1`` of two inputs through a linear ResNet (shared weights, Prop. 5)
    against the derived scalar SDE ``dc = −c(1 − c²)/n dt + √(2/n)(1 − c²) dW`` (Eq. 5;
    :func:`~symkernel.theory.sde.correlation.correlation_dynamics`) run by Euler–Maruyama.

    Returns the two samples, their means and standard errors, the two-sample KS statistic and
    p-value, and ``z_constant`` = ``(mean − c0)/se``, the test of the infinite-width answer
    ``c_t = c0``.
    """
    from scipy import stats

    if not -1 < c0 < 1:
        raise InvalidInputError(f"c0 must be in (-1, 1), got {c0!r}")
    run = simulate_resnet_inputs("identity", _two_inputs(width, c0), depth, n_paths, seed=seed,
                                 method=method)
    net = _correlation(depth, run.final)
    # Euler–Maruyama in y = artanh(c) (Itô: dy = tanh(y)/n dt + sqrt(2/n) dW, Lipschitz), so the
    # scheme cannot leave (-1, 1)
    y = sp.Symbol("y", real=True)
    diff = correlation_dynamics("identity").diffusion(width).change_variable(
        sp.atanh(corr_symbol), y, inverse=sp.tanh(y))
    sde = np.tanh(euler_maruyama(diff, float(np.arctanh(c0)), steps=4 * depth,
                                 n_paths=sde_paths, seed=[seed, 1]))
    ks = stats.ks_2samp(net, sde)
    se_net = net.std(ddof=1) / np.sqrt(n_paths)
    se_sde = sde.std(ddof=1) / np.sqrt(sde_paths)
    return dict(width=width, c0=c0, depth=depth, network=net, sde=sde,
                mean_network=float(net.mean()), se_network=float(se_net),
                mean_sde=float(sde.mean()), se_sde=float(se_sde),
                sd_network=float(net.std(ddof=1)), sd_sde=float(sde.std(ddof=1)),
                z_mean=float((net.mean() - sde.mean()) / np.hypot(se_net, se_sde)),
                z_constant=float((net.mean() - c0) / se_net),
                ks_stat=float(ks.statistic), ks_pvalue=float(ks.pvalue), seed=seed)


def correlation_paths(phi="relu", width=10, depth=200, n_paths=400, c0=0.5, seed=0):
    """Correlation ``c_ℓ`` of two inputs along depth for ``n_paths`` networks (Hayou (TMLR 2023)
    Fig. 7): an array ``(depth + 1, n_paths)``."""
    run = simulate_resnet_inputs(phi, _two_inputs(width, c0), depth, n_paths, seed=seed,
                                 method="weights", observe=_correlation)
    return dict(paths=np.array(run.observed), phi=phi, width=width, depth=depth, c0=c0,
                seed=seed)


def plot_correlation(paths_data, check=None, shown=6):
    """Left: correlation paths along depth (a few paths, 10–90% band).  Right (with ``check``):
    histogram of the linear network's ``c_1`` against the derived SDE's."""
    fig, axes = _figure(2 if check else 1, (10, 3.6) if check else (5.5, 3.6))
    ax = axes[0]
    p = paths_data["paths"]
    ell = np.arange(p.shape[0]) / (p.shape[0] - 1)
    lo, hi = np.quantile(p, [0.1, 0.9], axis=1)
    ax.fill_between(ell, lo, hi, color="C0", alpha=0.2, label="10–90% of paths")
    ax.plot(ell, p[:, :shown], lw=0.8)
    ax.set_xlabel("layer / depth  ($t = \\ell/L$)")
    ax.set_ylabel("correlation $c_t$")
    ax.set_title(f"{paths_data['phi']}, n={paths_data['width']}, L={paths_data['depth']}",
                 fontsize=9)
    ax.legend(fontsize=7)
    if check:
        ax = axes[1]
        bins = np.linspace(-1, 1, 60)
        ax.hist(check["network"], bins=bins, density=True, alpha=0.5,
                label=f"linear ResNet, n={check['width']}, L={check['depth']}")
        ax.hist(check["sde"], bins=bins, density=True, histtype="step", color="k",
                label="derived SDE for $c_t$ (Euler)")
        ax.axvline(check["c0"], color="grey", ls="--", lw=1, label="$c_0$ (infinite width)")
        ax.set_xlabel("$c_1$")
        ax.set_title(f"KS p={check['ks_pvalue']:.2f}", fontsize=9)
        ax.legend(fontsize=7)
    return fig


def feller_check(x0=0.5, depth=200, n_paths=20000, seed=0):
    r"""``φ(x) = √(max(x, 0))`` (Lemma 2's conditions fail at 0): fraction of width-1 ResNets
    with ``φ(Y_L) = 0`` against ``P(X_1 = 0) = e^{−2x0}``
    (:func:`~symkernel.theory.sde.collapse.feller_collapse_probability`), with its standard
    error."""
    phi = sp.sqrt(sp.Max(0, x))
    run = simulate_resnet(phi, 1, depth, n_paths, x0=[float(x0)], seed=seed)
    p = float(np.mean(run.final[:, 0] <= 0))
    theory = float(feller_collapse_probability(decimal_value(x0, "x0"), 1))
    se = float(np.sqrt(theory * (1 - theory) / n_paths))
    return dict(x0=x0, depth=depth, n_paths=n_paths, collapsed=p, theory=theory, se=se,
                z=(p - theory) / se, seed=seed)


def piecewise_growth_check(a=1.0, b=0.5, width=4, n_samples=200000, depth=100, n_paths=3000,
                           seed=0):
    r"""Prop. 10 for ``φ = a x 1[x>0] + b x 1[x<0]``: the derived mean drift at ``t = 0``
    (:func:`~symkernel.theory.sde.collapse.piecewise_linear_growth`) against the Monte Carlo mean
    of the drift formula over ``X_0 ~ N(0, I_n)`` (``mc``), and the drift formula itself against
    the simulated ``log(‖φ(Y_L)‖/‖φ(Y_0)‖)`` minus its time-averaged drift along the same paths
    (``ito_residual``, mean 0 when the Itô drift is right)."""
    phi = sp.Piecewise((b * x, x < 0), (a * x, True))

    def drift(y):
        pos = y > 0
        k = pos.sum(axis=-1)
        U, V = (y**2 * pos).sum(axis=-1), (y**2 * ~pos).sum(axis=-1)
        return ((a * a * k + b * b * (width - k)) / (2 * width)
                - (a**4 * U + b**4 * V) / (width * (a * a * U + b * b * V)))

    rng = np.random.default_rng([seed, 3])
    d0 = drift(rng.standard_normal((n_samples, width)))
    theory = float(piecewise_linear_growth(decimal_value(a, "a"), decimal_value(b, "b"), width))
    acc = np.zeros(n_paths)

    def observe(ell, y):
        if ell < depth:
            acc[:] += drift(y)
        return None

    run = simulate_resnet(phi, width, depth, n_paths, seed=[seed, 4], observe=observe)
    f = vectorized(phi)
    resid = (np.log(np.linalg.norm(f(run.final), axis=1) / np.linalg.norm(f(run.initial), axis=1))
             - acc / depth)
    return dict(a=a, b=b, width=width, theory=theory, mc=float(d0.mean()),
                mc_se=float(d0.std(ddof=1) / np.sqrt(n_samples)),
                ito_residual=float(resid.mean()),
                ito_residual_se=float(resid.std(ddof=1) / np.sqrt(n_paths)), seed=seed)


def gradient_check(widths=(2, 4, 16), depth=100, n_paths=1000, seed=0):
    r"""Gradient norms back-propagated through ReLU and linear ResNets (Hayou (TMLR 2023) Fig. 8).

    Linear φ: ``g_0 = ∏(I + W_ℓ^T/√L) g_L`` has the law of the forward linear network, so
    ``log(‖g_0‖/‖g_L‖) → N(1/2 − 1/n, 1/n)`` (:func:`~symkernel.theory.sde.width.norm_law`);
    identity rows give the simulated mean and variance with standard errors beside the exact
    finite-depth values (``mean_theory``, ``var_theory``:
    :func:`~symkernel.theory.sde.meanfield_limit.linear_log_norm_moments`) and the limit ones.
    ``relu`` rows give the same statistics of the ReLU network (no closed form at finite width).
    """
    rows = []
    for i, n in enumerate(widths):
        for phi in ("identity", "relu"):
            norms = backprop_norms(phi, n, depth, n_paths, seed=[seed, i])
            lr = np.log(norms[-1] / norms[0])
            exact = linear_log_norm_moments(n, depth) if phi == "identity" else (None, None)
            rows.append(dict(phi=phi, width=n, mean=float(lr.mean()),
                             mean_se=float(lr.std(ddof=1) / np.sqrt(n_paths)),
                             var=float(lr.var(ddof=1)),
                             var_se=float(lr.var(ddof=1) * np.sqrt(2 / (n_paths - 1))),
                             mean_theory=exact[0], var_theory=exact[1],
                             mean_limit=(0.5 - 1 / n) if phi == "identity" else None,
                             var_limit=(1 / n) if phi == "identity" else None,
                             layers=np.median(np.log(norms / norms[0]), axis=1)))
    return dict(rows=rows, depth=depth, n_paths=n_paths, seed=seed)


def plot_gradients(res):
    """Median of ``log(‖g_ℓ‖/‖g_L‖)`` from the last layer back to the first, per width and
    activation; the linear network's derived mean ``(1/2 − 1/n)t`` dashed."""
    fig, (ax,) = _figure(1, (5.5, 3.8))
    L = res["depth"]
    s = np.arange(L + 1) / L
    for i, r in enumerate(res["rows"]):
        style = "-" if r["phi"] == "relu" else ":"
        ax.plot(s, r["layers"], style, color=f"C{i // 2}", label=f"{r['phi']}, n={r['width']}")
        if r["mean_limit"] is not None:
            ax.plot(s, r["mean_limit"] * s, "--", color=f"C{i // 2}", lw=0.8,
                    label="derived mean, linear" if i == 0 else None)
    ax.set_xlabel("fraction of layers back-propagated, $(L - \\ell)/L$")
    ax.set_ylabel(r"median $\log(\|g_\ell\| / \|g_L\|)$")
    ax.legend(fontsize=7, ncol=2)
    return fig


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
    "coordinate_moments",
    "limits_check",
    "plot_limits",
    "rate_check",
    "plot_rate",
    "correlation_check",
    "correlation_paths",
    "plot_correlation",
    "feller_check",
    "piecewise_growth_check",
    "gradient_check",
    "plot_gradients",
    "law_check",
    "ou_check",
    "collapse_check",
    "growth_check",
    "plot_law_check",
    "plot_collapse",
    "plot_growth",
]
