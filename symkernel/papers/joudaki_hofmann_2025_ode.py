r"""Joudaki & Hofmann (AISTATS 2025): the kernel ODE of §6.2 and Remarks S.1 and S.2, as data and
figures (formulas in :mod:`symkernel.theory.kernel_ode`; docs/theory.md §7).

* §6.2 (:func:`section62_data`, :func:`rates_table`): for centered activations, the kernel ODE
  solved numerically against the closed-form worst-case ODE solutions and their joint bound, and
  the discrete sequence against Theorem 1's rate ``alpha = 1/(2 - kappa'(0))`` and the ODE's
  ``e^{-(1 - kappa'(0))}``;
* Remark S.1 (:func:`remark_s1_data`): the residual kernel sequence at ``r^2 = 1 - h`` against the
  kernel ODE at ``t = h l``; the gap is first order in ``h = 1 - r^2``;
  :func:`remark_s1_network` checks it on finite-width residual networks;
* Remark S.2 (:func:`remark_s2_witness`, :func:`remark_s2_demo`): a globally attracting fixed
  point ``rho* < 0`` would make the limit Gram matrix of ``n > 1 - 1/rho*`` inputs indefinite.

>>> w = remark_s2_witness(sp.Rational(-1, 2))
>>> w["n"], w["eigenvalues"]
(4, {-1/2: 1, 3/2: 3})
"""
import math

import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError
from symkernel.core.parsing import to_sympy
from symkernel.numerics import decimal_value
from symkernel.kernels import kernel_map
from symkernel.theory.kernel_ode import residual_ode_gap, solve_kernel_ode, worst_case_kernel_ode
from symkernel.validate import networks as validate

#: centered activations of the registry used for §6.2 (name, registry parameters)
CENTERED = (("tanh", {}), ("sin", {}), ("erf", {}), ("he", {"n": 3}), ("he", {"n": 2}))


def _label(name, params):
    return name + "".join(f"_{v}" for v in params.values())


def section62_data(activations=CENTERED, rho0s=(-0.9, -0.3, 0.3, 0.9), t_max=30.0, num=121,
                   depth=30):
    r"""Per activation (``(name, params)`` pairs): ``a = 1 - kappa'(0)``, the :meth:`rates`, and
    per ``rho0``: ``times``, the kernel ODE solution ``ode`` (:func:`solve_kernel_ode`), the
    worst-case solution ``worst``, ``within`` (``|ode| <= |worst|`` at every time, up to the solver's
    tolerance ``1e-8 |worst| + 1e-12``: the worst case is attained by ``he_2`` for ``rho0 > 0`` and
    by ``he_3``),
    the potentials ``|rho|/(1-|rho|)`` of the ODE and of the discrete sequence (``layers``,
    ``discrete``) with the joint ODE bound ``x0 e^{-a t}`` and Theorem 1's ``x0 alpha^l``."""
    times = np.linspace(0.0, float(t_max), int(num))
    layers = np.arange(int(depth) + 1)
    out = {}
    for name, params in activations:
        w = worst_case_kernel_ode(name, **params)
        runs = {}
        odes = solve_kernel_ode(w.dyn.kmap, np.array(rho0s, dtype=float), times, rtol=1e-10)
        for r0, ode in zip(rho0s, odes.T):
            worst = w.worst_case(times, r0)
            seq = w.dyn.sequence(r0, int(depth))
            runs[r0] = dict(ode=ode, worst=worst,
                            within=bool(np.all(np.abs(ode) <= np.abs(worst) * (1 + 1e-8) + 1e-12)),
                            ode_potential=np.abs(ode) / (1 - np.abs(ode)),
                            joint_bound=w.joint_bound(times, r0),
                            discrete=np.abs(seq) / (1 - np.abs(seq)),
                            theorem1=w.dyn.bound(layers, r0),
                            ode_rate_bound=w.joint_bound(layers, r0))
        out[_label(name, params)] = dict(a=float(w.a.value(15)), rates=w.rates(), times=times,
                                         layers=layers, runs=runs)
    return out


def rates_table(activations=CENTERED, grid=2000):
    r"""Rows ``(label, kappa'(0), -log alpha, a, -log kappa'(0), sup_ratio)``: Theorem 1's
    per-layer exponent ``log(2 - kappa'(0))``, the worst-case ODE's ``a = 1 - kappa'(0)``, the
    linearized discrete one, and ``sup_ratio``: the largest one-layer factor
    ``x(kappa(rho))/x(rho)``, ``x = |rho|/(1-|rho|)``, over a grid of ``rho`` in (-1, 1) (dense
    near 0 and near +-1); Theorem 1 says it is at most ``alpha``."""
    u = np.concatenate([np.logspace(-8, -1, grid // 2), 1 - np.logspace(-8, -0.05, grid // 2)])
    r = np.concatenate([-u, u])
    x = np.abs(r) / (1 - np.abs(r))
    rows = []
    for name, params in activations:
        w = worst_case_kernel_ode(name, **params)
        k = w.dyn.kmap.numpy(r)
        rates = w.rates()
        rows.append((_label(name, params), float(w.dyn.kappa_prime_0.value(15)), rates["theorem1"],
                     rates["ode"], rates["linearized"],
                     float(np.max(np.abs(k) / (1 - np.abs(k)) / x))))
    return rows


def format_rates_table(rows):
    """The :func:`rates_table` rows as a plain-text table."""
    head = (f"{'activation':10s} {'kappa_0p':>9s} {'-log alpha':>11s} {'ODE a':>9s} "
            f"{'-log k0p':>9s} {'sup x+/x':>9s} {'alpha':>8s} {'e^-a':>8s}")
    lines = [head]
    for label, k0p, th, ode, lin, sup in rows:
        lines.append(f"{label:10s} {k0p:9.6f} {th:11.6f} {ode:9.6f} {lin:9.6f} {sup:9.6f} "
                     f"{math.exp(-th):8.6f} {math.exp(-ode):8.6f}")
    return "\n".join(lines)


def remark_s1_data(act="sin", steps=(sp.Rational(1, 10), sp.Rational(1, 20), sp.Rational(1, 40),
                                     sp.Rational(1, 80)), rho0=0.9, t_max=4.0):
    r"""Remark S.1: :func:`residual_ode_gap` for each step ``h = 1 - r^2``, and the order
    ``p`` of ``gap_end ~ C h^p`` (least-squares slope in log-log) and ``gap_end/h`` per step."""
    kmap = kernel_map(act) if isinstance(act, str) else act
    runs = [residual_ode_gap(kmap, h, rho0, t_max) for h in steps]
    hs = np.array([g["h"] for g in runs])
    gaps = np.array([g["gap_end"] for g in runs])
    order = float(np.polyfit(np.log(hs), np.log(gaps), 1)[0])
    return dict(activation=str(act), rho0=rho0, t_max=t_max, runs=runs, h=hs, gap=gaps,
                gap_max=np.array([g["gap"] for g in runs]), order=order, gap_over_h=gaps / hs)


def remark_s1_network(act="sin", h=sp.Rational(1, 10), rho0=0.9, t_max=3.0, *, width=4096,
                      seeds=range(8), n_sigma=4.0):
    r"""Remark S.1 in a finite-width network: two inputs through residual layers
    ``y <- sqrt(1-r^2) RMS(sigma(W y)) + r y`` with ``r^2 = 1 - h`` (:func:`symkernel.validate.
    networks.kernel_sequence`, Gram-law weights, no centering), ``t_max/h`` layers, against the
    kernel ODE at ``t = h l``.  ``z_ode``: the largest ``|mean - rho(h l)|/stderr`` over layers
    ``l >= 1``; ``agree``: ``|mean - rho(h l)| <= n_sigma stderr + |rho_l^{mf} - rho(h l)|`` (the
    O(h) Euler gap of the mean-field sequence); ``z_wrong``: the same z against the wrong time
    change ``t = (1 - r) l``, which the data must reject."""
    h = decimal_value(h, "h") if isinstance(h, float) else to_sympy(h)   # as typed
    r = float(sp.sqrt(1 - h))
    depth = int(round(float(t_max) / float(h)))
    v = validate.kernel_sequence(act, rho0, width=width, depth=depth, seeds=seeds, centering=None,
                                 normalization="rms", residual=r, weights="gram", n_sigma=n_sigma)
    kmap = kernel_map(act)
    ode = solve_kernel_ode(kmap, rho0, float(h) * v.layers)
    wrong = solve_kernel_ode(kmap, rho0, (1 - r) * v.layers)
    se = v.stderr[1:]
    return dict(layers=v.layers, times=float(h) * v.layers, mean=v.mean, stderr=v.stderr,
                mean_field=v.theory, ode=ode, wrong=wrong, h=float(h), r=r, width=width,
                z_ode=float(np.max(np.abs(v.mean - ode)[1:] / se)),
                z_wrong=float(np.max(np.abs(v.mean - wrong)[1:] / se)),
                agree=bool(np.all(np.abs(v.mean - ode)[1:] <= n_sigma * se
                                  + np.abs(v.theory - ode)[1:] + 1e-12)))


def remark_s2_witness(rho_star):
    r"""Remark S.2: for ``rho* < 0``, the smallest ``n`` with ``1 + (n - 1) rho* < 0``
    (``n = floor(1 - 1/rho*) + 1``), the Gram matrix ``G = (1 - rho*) I + rho* J`` of ``n`` inputs
    whose pairwise correlations all converged to ``rho*`` (exact SymPy matrix) and its eigenvalues
    ``{1 + (n-1) rho*: 1, 1 - rho*: n - 1}`` (SymPy), the first negative: ``G`` is not PSD, so no
    network has such a globally attracting fixed point."""
    rs = decimal_value(rho_star, "rho_star") if isinstance(rho_star, float) else to_sympy(rho_star)
    if not (rs.is_number and rs.is_real and -1 <= rs < 0):
        raise InvalidInputError(f"Remark S.2 is about a fixed point rho* in [-1, 0), got {rho_star}")
    n = int(sp.floor(1 - 1 / rs)) + 1
    G = (1 - rs) * sp.eye(n) + rs * sp.ones(n, n)
    return dict(rho_star=rs, n=n, gram=G, eigenvalues=G.eigenvals(),
                top=sp.simplify(1 + (n - 1) * rs))


def remark_s2_demo(activations=("tanh", "gelu", "relu"), n=4, depth=12, fake_slope=sp.Rational(1, 3),
                   fake_star=sp.Rational(-1, 2)):
    r"""Remark S.2 in the mean field: ``n`` inputs at the most negative equal correlation
    ``-1/(n-1)`` (the simplex), their Gram matrix iterated entrywise ``G_ij <- kappa(G_ij)``
    (``i != j``) for each activation, against a made-up map ``g(rho) = rho* + s (rho - rho*)``
    with an attracting fixed point ``rho* < 0`` (not a kernel map).  Per map: the off-diagonal
    value per layer and the smallest Gram eigenvalue per layer; the kernel maps keep it >= 0
    (Schur's product theorem: nonnegative Taylor coefficients), ``g`` drives it to
    ``1 + (n - 1) rho* < 0`` once ``n > 1 - 1/rho*``."""
    if n < 2:
        raise InvalidInputError(f"n must be >= 2, got {n}")
    star, s = float(fake_star), float(fake_slope)
    maps = {name: kernel_map(name).numpy for name in activations}
    maps[f"g: rho* = {fake_star}"] = lambda r: star + s * (r - star)
    out = {}
    for name, f in maps.items():
        c = -1.0 / (n - 1)
        offd, lam = [], []
        for _ in range(int(depth) + 1):
            G = np.full((n, n), c) + (1 - c) * np.eye(n)
            offd.append(c)
            lam.append(float(np.linalg.eigvalsh(G)[0]))
            c = float(f(c))
        out[name] = dict(off_diagonal=np.array(offd), min_eigenvalue=np.array(lam))
    return out


# ---------------------------------------------------------------- drawing
def _figure(nrows, ncols, width=3.4, height=2.7):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    return fig, [[fig.add_subplot(nrows, ncols, r * ncols + c + 1) for c in range(ncols)]
                 for r in range(nrows)]


def draw_section62(data):
    """Per activation: ``rho(t)`` of the kernel ODE against the worst-case solutions (left), and
    the potential ``|rho|/(1-|rho|)`` of the ODE and of the discrete sequence against the joint
    ODE bound and Theorem 1's bound (right, log scale).  Returns the Figure."""
    fig, rows = _figure(len(data), 2)
    for (left, right), (label, d) in zip(rows, data.items()):
        for i, (r0, run) in enumerate(d["runs"].items()):
            left.plot(d["times"], run["ode"], "-", color=f"C{i}", lw=1.2,
                      label=rf"$\rho_0={r0:g}$")
            left.plot(d["times"], run["worst"], "--", color=f"C{i}", lw=0.9)
        left.set_title(f"{label}: kernel ODE (solid), worst case (dashed)", fontsize=8)
        left.set_xlabel("t")
        left.set_ylabel(r"$\rho(t)$")
        left.legend(fontsize=6, ncol=2)
        r0 = max(d["runs"])
        run = d["runs"][r0]
        right.semilogy(d["times"], run["ode_potential"], "-", color="C0", label="kernel ODE")
        right.semilogy(d["times"], run["joint_bound"], "--", color="C0", label=r"$x_0 e^{-at}$")
        right.semilogy(d["layers"], run["discrete"], "o", ms=3, color="C3", label="kernel sequence")
        right.semilogy(d["layers"], run["theorem1"], ":", color="C3", label=r"$x_0\alpha^\ell$ (Thm 1)")
        low = min(run["ode_potential"].min(), run["theorem1"].min())
        right.set_ylim(max(low / 10, 1e-16), 10 * run["theorem1"].max())
        right.set_title(rf"{label}: $x = |\rho|/(1-|\rho|)$, $\rho_0={r0:g}$", fontsize=8)
        right.set_xlabel(r"$t$ / layer $\ell$")
        right.legend(fontsize=6, loc="lower left")
    return fig


def draw_remark_s1(data):
    """The gap ``|rho_l - rho(h l)|`` at ``t_max`` against ``h = 1 - r^2`` (log-log), with the
    fitted order; and ``gap/h`` against ``t = h l`` for each ``h`` (one curve when first order)."""
    fig, ((a0, a1),) = _figure(1, 2)
    a0.loglog(data["h"], data["gap"], "o-", color="C0",
              label=f"gap at t = {data['t_max']:g} (order {data['order']:.3f})")
    a0.loglog(data["h"], data["gap"][0] * data["h"] / data["h"][0], ":", color="k", label=r"$\propto h$")
    a0.set_xticks(data["h"], [f"1/{round(1 / h)}" if round(1 / h) * h == 1 else f"{h:.3g}"
                              for h in data["h"]])
    a0.minorticks_off()
    a0.set_xlabel(r"$h = 1 - r^2$")
    a0.set_ylabel("gap")
    a0.set_title(f"Remark S.1, {data['activation']}", fontsize=9)
    a0.legend(fontsize=7)
    for i, g in enumerate(data["runs"]):
        a1.plot(g["times"], np.abs(g["sequence"] - g["ode"]) / g["h"], "-", color=f"C{i}", lw=1,
                label=rf"$h = {g['h']:.3g}$")
    a1.set_xlabel(r"$t = h\ell$")
    a1.set_ylabel(r"$|\rho_\ell - \rho(h\ell)|\,/\,h$")
    a1.set_title("gap / h: one curve as h -> 0 (first order)", fontsize=9)
    a1.legend(fontsize=7)
    return fig


__all__ = ["CENTERED", "section62_data", "rates_table", "format_rates_table", "remark_s1_data",
           "remark_s1_network",
           "remark_s2_witness", "remark_s2_demo", "draw_section62", "draw_remark_s1"]
