r"""How the objects of the computing layers are shown: terminal text, LaTeX and tables (HTML in
Jupyter), registered on the generic functions of :mod:`symkernel.core.display`, to which the
classes delegate their ``__repr__``, ``latex`` and ``_repr_html_``.

* :class:`~symkernel.theory.dynamics.KernelDynamics`: the quantities of Theorem 1 of Joudaki &
  Hofmann (AISTATS 2025) (``rho*``, ``alpha``, ``kappa(0)``, ``kappa'(0)``, ``kappa'(1)``);
* :class:`~symkernel.theory.meanfield.maps.MeanField`: ``q*``, ``chi_1``, ``c*``, ``xi_q``,
  ``xi_c`` and the phase (Pabari & Zhou; Schoenholz et al. 2017), an unavailable entry shown with
  its reason;
* :class:`~symkernel.simulate.result.SimulationResult`, :class:`~symkernel.simulate.resnet.ResNetRun`
  and :class:`~symkernel.validate.networks.Validation`: per-layer tables.

Exact values are shown exactly, numeric ones with no more digits than are correct
(:func:`symkernel.present.latex.format_number`).

>>> import symkernel as sk
>>> quantity_text(sk.hermite_coefficient("relu", 2), digits=6)
'1/(2*sqrt(pi)) ≈ 0.282095'
"""
import math

import numpy as np
import sympy as sp

from symkernel.core import display
from symkernel.core.display import wrap_math
from symkernel.core.quantity import Quantity
from symkernel.errors import SymkernelError
from symkernel.simulate.resnet import ResNetRun
from symkernel.simulate.result import SimulationResult
from symkernel.theory.dynamics import KernelDynamics
from symkernel.theory.meanfield.maps import MeanField
from symkernel.validate.networks import Validation
from .latex import format_number, latex
from .tables import Math, Table, Value


def quantity_text(q, digits=15):
    """``1/2 - 1/pi ≈ 0.181690113816209`` (exact) or ``≈ 0.93...`` (numeric); errors are shown."""
    try:
        if q.exact:
            text = sp.sstr(q.expr)
            if q.expr.is_number and not q.expr.is_Rational and q.expr.is_finite:
                text += f" ≈ {format_number(q, digits, latex=False)}"
            return text
        return f"≈ {format_number(q, digits, latex=False)}"
    except SymkernelError as exc:
        return f"<{exc}>"


def quantity_cells(q):
    """Table cells ``(exact, value)`` of a Quantity: the exact expression (if any), its value."""
    exact = q if q.exact else None
    if q.exact and q.expr in (sp.oo, -sp.oo):
        return exact, Math(sp.latex(q.expr), str(q.expr))
    if q.exact and not q.expr.is_number:
        return exact, None
    try:
        q.value(20)
    except SymkernelError as exc:
        return exact, f"unavailable: {exc}"
    return exact, Value(q)


# -- KernelDynamics (Joudaki & Hofmann, AISTATS 2025, Theorem 1) -------------------------------
def theorem1_quantities(dyn):
    """``[(label, latex label, Quantity)]`` of Theorem 1 for a KernelDynamics; in case 4 also the
    rate with which its bound is proved (the printed alpha does not make it true in general,
    docs/theory.md §36)."""
    out = [
        ("rho*", r"\rho^*", dyn.fixed_point),
        ("alpha", r"\alpha", dyn.rate),
        ("kappa(0)", r"\kappa(0)", dyn.kappa_0),
        ("kappa'(0)", r"\kappa'(0)", dyn.kappa_prime_0),
        ("kappa'(1)", r"\kappa'(1)", dyn.kappa_prime_1),
    ]
    if dyn.case == 4:
        out.append(("alpha_val", r"\alpha_{\mathrm{valid}}", dyn.valid_rate))
    return out


@display.to_text.register(KernelDynamics)
def dynamics_text(dyn):
    lines = [f"KernelDynamics(case={dyn.case}, kernel={dyn.kmap!r})"]
    for label, _, q in theorem1_quantities(dyn):
        text = quantity_text(q)
        sep = "" if text.startswith("≈") else "= "
        lines.append(f"  {label:<9} {sep}{text}")
    lines += [f"  note: {n}" for n in dyn.notes]
    return "\n".join(lines)


@display.to_latex.register(KernelDynamics)
def dynamics_latex(dyn, digits=15, mode="math"):
    parts = [f"{sym} = {latex(q, lhs=False, digits=digits)}"
             for _, sym, q in theorem1_quantities(dyn)]
    body = rf"\text{{Theorem 1, case {dyn.case}:}}\quad " + r",\quad ".join(parts)
    return wrap_math(body, mode)


@display.to_table.register(KernelDynamics)
def dynamics_table(dyn, digits=15):
    rows = [["case", str(dyn.case), None]]
    for label, sym, q in theorem1_quantities(dyn):
        rows.append([Math(sym, label), *quantity_cells(q)])
    title = f"Theorem 1 (Joudaki & Hofmann (AISTATS 2025)): {dyn.kmap.name} of {dyn.kmap.act.name}"
    return Table(title, ["quantity", "exact", "value"], rows, notes=list(dyn.notes))


# -- MeanField (Pabari & Zhou; Schoenholz et al. 2017) -----------------------------------------
def mean_field_entries(mf):
    """``[(label, latex label, Quantity, phase string or the SymkernelError raised)]``."""
    out = []
    for label, sym, attr in (("q*", "q^{*}", "q_star"), ("chi_1", r"\chi_{1}", "chi_1"),
                             ("c*", "c^{*}", "c_star"), ("xi_q", r"\xi_{q}", "xi_q"),
                             ("xi_c", r"\xi_{c}", "xi_c"), ("phase", "", "phase")):
        try:
            value = getattr(mf, attr)
        except SymkernelError as exc:
            value = exc
        out.append((label, sym, value))
    return out


def _reasons(entries):
    """The distinct messages of the errors among display entries, in order."""
    out = []
    for _, _, q in entries:
        if isinstance(q, Exception) and str(q) not in out:
            out.append(str(q))
    return out


def _parameters_latex(mf, digits=15):
    def one(v):
        return latex(v, lhs=False, digits=digits) if isinstance(v, Quantity) else sp.latex(v)
    return rf"\sigma_w^2 = {one(mf.sigma_w2)},\ \sigma_b^2 = {one(mf.sigma_b2)}"


@display.to_text.register(MeanField)
def mean_field_text(mf):
    lines = [f"MeanField({mf.act.name}, sigma_w2={mf.sigma_w2}, sigma_b2={mf.sigma_b2})"]
    entries = mean_field_entries(mf)
    for label, _, q in entries:
        if isinstance(q, Exception):
            text = "unavailable (see below)"
        elif isinstance(q, str):
            text = f"= {q}"
        else:
            text = quantity_text(q)
            text = text if text.startswith("≈") else f"= {text}"
        lines.append(f"  {label:<6} {text}")
    lines += [f"  unavailable: {why}" for why in _reasons(entries)]
    return "\n".join(lines)


@display.to_latex.register(MeanField)
def mean_field_latex(mf, digits=15, mode="math"):
    parts = []
    for label, sym, q in mean_field_entries(mf):
        if isinstance(q, Exception):
            continue  # said in the text and the table
        if isinstance(q, str):
            parts.append(rf"\text{{{q}}}")
        else:
            parts.append(f"{sym} = {latex(q, lhs=False, digits=digits)}")
    body = _parameters_latex(mf, digits)
    if parts:
        body += ":\\quad " + ",\\quad ".join(parts)
    return wrap_math(body, mode)


@display.to_table.register(MeanField)
def mean_field_table(mf, digits=15):
    rows, entries = [], mean_field_entries(mf)
    for label, sym, q in entries:
        if isinstance(q, Exception):
            rows.append([Math(sym, label) if sym else label, None, "unavailable"])
        elif isinstance(q, str):
            rows.append([label, q, None])
        else:
            rows.append([Math(sym, label), *quantity_cells(q)])
    return Table(f"Mean field of {mf.act.name}", ["quantity", "exact", "value"], rows,
                 notes=[f"${_parameters_latex(mf, digits)}$"]
                 + [f"unavailable: {why}" for why in _reasons(entries)])


# -- simulations and validations ----------------------------------------------------------------
#: The digits a Gram matrix of each dtype carries, about (float64: as asked).
_DTYPE_DIGITS = {"float32": 5, "float16": 2}


@display.to_table.register(SimulationResult)
def simulation_table(res, digits=8):
    p = res.params
    rows = [[int(layer), i, g, gamma] for layer, (i, g, gamma) in
            enumerate(zip(res.isometry, res.isometry_gap, res.potential))]
    notes = [", ".join(f"{key} = {p[key]}" for key in ("backend", "dtype", "seed", "centering",
                                                      "normalization", "residual") if key in p)]
    title = (f"Simulation of {p.get('activation')}: n = {res.gram.shape[1]}, "
             f"width = {p.get('width')}, depth = {res.depth}")
    cols = ["layer", "isometry", "isometry gap", r"potential $\gamma$"]
    return Table(title, cols, rows, notes=notes)


@display.to_html.register(SimulationResult)
def simulation_html(res, digits=8):
    """A float32 (float16) run shows at most 5 (2) digits, about what its Gram matrices carry."""
    digits = min(digits, _DTYPE_DIGITS.get(str(res.params.get("dtype", "float64")), digits))
    return simulation_table(res, digits)._repr_html_(digits)


@display.to_table.register(ResNetRun)
def resnet_run_table(run, digits=15):
    rows = [[k, str(v)] for k, v in run.params.items()]
    rows.append(["final states", f"array of shape {tuple(np.shape(run.final))}"])
    rows.append(["observed layers", str(len(run.observed_layers))])
    return Table("ResNet run (finite depth)", ["parameter", "value"], rows)


@display.to_table.register(Validation)
def validation_table(v, digits=8):
    """The mean is rounded at its standard error's first digit; disagreeing rows are flagged."""
    rows = []
    for layer, t, m, s, a in v.table():
        shown = format_number(m, digits, error=s) if math.isfinite(s) and s > 0 else None
        mean = Math(shown.split(r" \pm ")[0], format_number(m, digits, error=s, latex=False)
                    .split(" +- ")[0]) if shown else m
        err = Math(format_number(s, 2), format_number(s, 2, latex=False))
        rows.append([layer, t, mean, err, a])
    p = v.params
    keys = ("width", "depth", "dtype", "centering", "normalization", "residual")
    notes = [", ".join(f"{key} = {p[key]}" for key in keys if key in p)]
    notes.append(f"{v.samples.shape[0]} seeds; agree: |mean - theory| <= "
                 f"{v.n_sigma:g} standard errors + {v.atol:g}")
    notes += [f"bound: {label}" for label in v.bounds]
    title = f"{v.statistic} of {p.get('activation')}: mean field against simulation"
    return Table(title, ["layer", "theory", "mean", "standard error", "agree"], rows,
                 notes=notes, agrees=[bool(a) for a in v.agree])


__all__ = ["quantity_text", "quantity_cells", "theorem1_quantities", "mean_field_entries"]
