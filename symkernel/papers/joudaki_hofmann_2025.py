r"""Joudaki & Hofmann (AISTATS 2025), Table S.1: Theorem-1 quantities of eight activations, published vs derived.

The published numbers (two decimals) are stored as *expected* values.  :func:`table_s1_rows`
recomputes every entry with :func:`symkernel.kernel_dynamics` (exact where a closed form exists,
else to ``dps`` digits, certified or estimated as each Quantity's provenance says) for the activation scaled to ``E sigma^2 = 1`` (the table's column ``C`` is
``sqrt(E sigma^2)``), and marks every entry that differs from the published one by more than the
published rounding (0.005).  The paper computed its table from a truncated Hermite series, which
is why, e.g., ReLU's exact ``kappa'(1) = 1`` (case 3, polynomial convergence) appears as 0.95
(case 2) there: the paper's exponential decay for ReLU fails, ``1 - rho_l ~ (9 pi^2/2)/l^2``
(:mod:`.joudaki_hofmann_2025_case3` derives the constant and measures it; the notes say so).

>>> TABLE_S1_COLUMNS[:4]
('C', 'alpha', 'rho*', 'kappa(rho*)')
"""
import mpmath
import sympy as sp

from symkernel.theory.dynamics import kernel_dynamics
from symkernel.core.progress import progress_bar
from symkernel.core.quantity import combined
from symkernel.gaussian.expectation import second_moment
from symkernel.core.quantity import Quantity
from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.numerics import meets
from symkernel.present.tables import Label, Table, Value
from .forked_rows import forked_map
from .joudaki_hofmann_2025_case3 import case3_asymptotics

#: Columns of Table S.1 (docs/theory.md §4), after the activation name.
TABLE_S1_COLUMNS = ("C", "alpha", "rho*", "kappa(rho*)", "kappa(0)", "kappa'(0)", "kappa'(1)",
                    "kappa'(rho*)", "case")

#: Joudaki & Hofmann (AISTATS 2025), Table S.1 as printed: (label, registry name, published values in TABLE_S1_COLUMNS order).
TABLE_S1 = (
    ("tanh", "tanh", (0.63, 0.93, 0.00, 0.00, 0.00, 0.93, 1.18, 0.93, 1)),
    ("SeLU", "selu", (1.00, 0.97, 0.00, 0.00, 0.00, 0.97, 1.06, 0.97, 1)),
    ("ReLU", "relu", (0.71, 0.95, 1.00, 1.00, 0.32, 0.50, 0.95, 0.95, 2)),
    ("sigmoid", "sigmoid", (0.54, 0.15, 1.00, 1.00, 0.85, 0.15, 0.15, 0.15, 2)),
    ("exp", "exp", (2.72, 0.74, 1.00, 1.00, 0.37, 0.37, 1.00, 1.00, 3)),
    ("GELU", "gelu", (0.65, 0.93, 0.76, 0.76, 0.19, 0.59, 1.07, 0.93, 4)),
    ("CELU", "celu", (0.80, 0.97, 0.60, 0.60, 0.04, 0.90, 1.04, 0.97, 4)),
    ("ELU", "elu", (0.80, 0.97, 0.60, 0.60, 0.04, 0.90, 1.04, 0.97, 4)),
)

REASON = ("the published table was computed from a truncated Hermite series (Joudaki & Hofmann (AISTATS 2025), Appendix B); "
          "symkernel's values are exact, certified (proven error bounds) or estimated (case-4 "
          "rho* and what depends on it), as each entry's provenance says, to the requested digits")
ROUNDING = 0.005


def p_alpha(published):
    return published[1]


def _derived(name, dps):
    dyn = kernel_dynamics(name)
    m2 = second_moment(name)
    if m2.exact:
        c = Quantity(sp.sqrt(m2.expr), "C", m2.provenance)
    else:
        c = combined(lambda m: m.sqrt(), [m2], "C", "C = sqrt(E sigma^2)")
    return dyn, [c, dyn.rate, dyn.fixed_point, dyn.kappa_star, dyn.kappa_0, dyn.kappa_prime_0,
                 dyn.kappa_prime_1, dyn.kappa_prime_star, dyn.case]


def _case3(dyn):
    """The derived case-3 asymptotics, or None (other cases, or no closed form to expand)."""
    if dyn.case != 3:
        return None
    try:
        return case3_asymptotics(dyn.kmap)
    except (NoClosedFormError, InvalidInputError):
        return None


def case3_note(rows):
    """The table note on the case-3 rows whose published convergence is exponential."""
    bad = [r for r in rows if r["case3"] is not None and r["published"][-1] != 3]
    return " ".join(f"{r['label']} is case 3 (kappa'(1) = 1 exactly): 1 - rho_l ~ C/l^"
                    f"{r['case3'].exponent}, C = {r['case3'].C_text}, so the exponential decay the paper "
                    f"lists for it (case {r['published'][-1]}) fails." for r in bad)


#: the rows from the slowest (kernels without a closed form: Arb quadrature for rho*) to the
#: fastest, measured: the order two processes take them in (the last rows taken are quick)
_SLOWEST_FIRST = ("celu", "elu", "gelu", "selu", "relu", "sigmoid", "exp", "tanh")


def _row(entry, dps, digits=None):
    """The row dict of one Table S.1 entry ``(label, name, published)`` (see :func:`table_s1_rows`);
    with ``digits``, every numeric entry is also evaluated to the ``digits + 5`` digits a table
    shown at ``digits`` asks for (so a row computed in another process carries them)."""
    label, name, published = entry
    dyn, derived = _derived(name, dps)
    values = [q.value(dps) if isinstance(q, Quantity) else q for q in derived]
    if digits is not None and digits + 5 > dps:
        for q in derived:
            if isinstance(q, Quantity) and not q.exact:
                q.result(digits + 5)
    differs = []
    for col, v, p in zip(TABLE_S1_COLUMNS, values, published):
        if col == "case":
            if v != p:
                differs.append(col)
        elif abs(float(v) - p) > ROUNDING + 1e-12:
            differs.append(col)
    reason = ""
    if differs:
        convention = ("alpha" in differs and dyn.case == 3
                      and abs(float(values[1]) + p_alpha(published) - 1) < ROUNDING)
        why = REASON if set(differs) - ({"alpha"} if convention else set()) else ""
        reason = f"{label}: {', '.join(differs)} differ" + (f"; {why}" if why else "")
        if convention:
            reason += ("; the published alpha equals 1 - alpha = kappa(0) + kappa'(0): the table "
                       "used the complementary convention for case 3")
        if "case" in differs and dyn.case == 3:
            reason += f"; kappa'(1) = {dyn.kappa_prime_1.expr} exactly, so Theorem 1 gives case 3"
    asym = _case3(dyn)
    if asym is not None:
        decay = (f"1 - rho_l ~ C/l^{asym.exponent} with C = {asym.C_text} "
                 "(derived from kappa's expansion at 1; joudaki_hofmann_2025_case3)")
        if published[-1] != 3:
            decay = (f"the paper's exponential decay for {label} (case {published[-1]}) fails: "
                     f"it is polynomial, {decay}")
        reason = f"{reason}; {decay}" if reason else f"{label}: {decay}"
    return {"label": label, "name": name, "derived": derived, "values": values,
            "case3": asym,
            "published": published, "differs": differs, "agrees": not differs,
            "reason": reason, "exact": [isinstance(q, Quantity) and q.exact for q in derived]}


def _slowest_first(entries):
    """Indices of ``entries`` in :data:`_SLOWEST_FIRST` order (unknown names last)."""
    rank = {name: j for j, name in enumerate(_SLOWEST_FIRST)}
    return sorted(range(len(entries)), key=lambda i: rank.get(entries[i][1], len(rank)))


def table_s1_rows(dps=30, names=None, workers=1, digits=None):
    """One dict per activation: ``label``, ``derived`` (Quantities and the case), ``values``
    (mpf to ``dps`` digits), ``published``, ``differs`` (column names off by more than the
    rounding), ``agrees`` and ``reason``.

    ``workers=2`` shares the rows between this process and a forked one (:mod:`.forked_rows`;
    the same values, about half the wall time on two cores); ``digits``: the digits the rows
    will be shown at (:func:`_row`)."""
    entries = [e for e in TABLE_S1 if names is None or e[1] in names]
    slow_first = _slowest_first(entries)
    bar = progress_bar(len(entries), desc="Table S.1 rows")
    try:
        return forked_map(lambda e: _row(e, dps, digits), entries, workers,
                          on_result=lambda i, r: bar.update(1), order=slow_first)
    finally:
        bar.close()


def format_table_s1(dps=30, digits=8, rows=None):
    """Markdown: for every entry the derived value (``digits`` shown) and the published one."""
    rows = table_s1_rows(dps) if rows is None else rows
    head = "| activation | " + " | ".join(TABLE_S1_COLUMNS) + " | agrees |"
    lines = ["Joudaki & Hofmann (AISTATS 2025), Table S.1: derived (published)", "", head,
             "|" + "---|" * (len(TABLE_S1_COLUMNS) + 2)]
    for r in rows:
        cells = []
        for col, v, p in zip(TABLE_S1_COLUMNS, r["values"], r["published"]):
            shown = str(v) if col == "case" else mpmath.nstr(v, digits)
            flag = " **≠**" if col in r["differs"] else ""
            cells.append(f"{shown} ({p}){flag}")
        lines.append(f"| {r['label']} | " + " | ".join(cells) + f" | {'yes' if r['agrees'] else 'NO'} |")
    lines.append("")
    lines += [f"- {r['reason']}" for r in rows if r["reason"]]
    return "\n".join(lines)


class _Computed:
    """Evaluator of a shown entry: the value computed with the row (to ``dps`` digits) serves any
    request its error bound meets (a table shown at 15 digits asks for 20), else it computes."""

    def __init__(self, q, dps):
        self.q, self.dps = q, dps

    def __call__(self, want):
        res = self.q.result(self.dps)
        return res if want <= self.dps and meets(res, want) else self.q.result(want)


def _shown(q, dps):
    """``q`` as a table cell: numeric entries served from the values computed with the row."""
    if not isinstance(q, Quantity):
        return q
    if q.exact:
        return Value(q)
    return Value(Quantity(None, q.symbol, q.provenance, _Computed(q, dps), q.params))


def table_s1_table(dps=30, workers=1, digits=None):
    """Table S.1 as a :class:`symkernel.present.tables.Table` (for ``symkernel tables``;
    ``workers``, ``digits``: as :func:`table_s1_rows`)."""
    return _table_of_rows(table_s1_rows(dps, workers=workers, digits=digits), dps)


def table_s1_parts(dps=30, digits=None):
    """Table S.1 in independent parts, for a caller that shares the work of several tables
    between processes (``symkernel tables``): ``(entries, row, assemble, order)``, ``row(entry)``
    a row dict (:func:`table_s1_rows`), ``assemble(rows)`` the Table, ``order`` the entries'
    indices from the slowest.

    >>> entries, row, assemble, order = table_s1_parts()
    >>> len(entries), [entries[i][1] for i in order[:2]]
    (8, ['celu', 'elu'])
    """
    entries = list(TABLE_S1)
    return (entries, lambda e: _row(e, dps, digits), lambda rows: _table_of_rows(rows, dps),
            _slowest_first(entries))


def _table_of_rows(rows, dps):
    cols = ["activation"] + [f"{c}" for c in TABLE_S1_COLUMNS] + ["published"]
    cells = []
    for r in rows:
        derived = [_shown(q, dps) for q in r["derived"][:-1]]
        cells.append([Label(r["label"]), *derived, r["derived"][-1],
                      " ".join(f"{p:g}" for p in r["published"])])
    return Table("Joudaki & Hofmann (AISTATS 2025), Table S.1: kernel dynamics (Theorem 1) of normalized activations", cols, cells,
                 agrees=[r["agrees"] for r in rows], reasons=[r["reason"] or "agrees" for r in rows],
                 notes=[REASON] + ([case3_note(rows)] if case3_note(rows) else []),
                 source="Joudaki & Hofmann (AISTATS 2025)")


#: ``symkernel tables`` finds the parts of a table builder here (rows shared between processes)
table_s1_table.parts = table_s1_parts


__all__ = ["TABLE_S1", "TABLE_S1_COLUMNS", "table_s1_rows", "format_table_s1", "table_s1_table",
           "table_s1_parts"]
