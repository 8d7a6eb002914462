r"""Joudaki, Daneshmand & Bach (NeurIPS 2023) (Joudaki, Daneshmand, Bach): Table 2 and Table B.1, published vs derived.

The published closed forms are stored here as *expected* values.  :func:`table2` and
:func:`table_b1` derive every entry with :func:`symkernel.isometry_strength` and prove it equal to
the published form: ``sympy.simplify(derived - published) == 0``, or, when simplify cannot decide,
agreement to 50 digits at the stored value (and at three gains for Table B.1).

>>> rows = table2()
>>> [(r.label, r.agrees, r.method) for r in rows][:2]
[('He_1(x)', True, 'simplify'), ('He_2(x)', True, 'simplify')]
"""
from dataclasses import dataclass

import mpmath
import sympy as sp

from symkernel.core.activations import activation
from symkernel.numerics import GUARD, working
from symkernel.core.quantity import evaluate_exact
from symkernel.coefficients.strength import isometry_strength
from symkernel.core.symbols import alpha, x
from symkernel.present.tables import Label, Table, Value

E = sp.E
pi = sp.pi

#: Joudaki, Daneshmand & Bach (NeurIPS 2023), Table 2: (column label, activation spec, published beta).
TABLE_2 = (
    ("He_1(x)", ("he", {"n": 1}), sp.Integer(1)),
    ("He_2(x)", ("he", {"n": 2}), sp.Integer(2)),
    ("sin(x)", ("sin", {}), 2 - 2 * E / (E**2 - 1)),
    ("exp(x-2)", ("exp", {"shift": -2}), 2 - 1 / (E - 1)),
    ("1[x>0]", ("step", {}), 2 - 2 / pi),
    ("max(x,0)", ("relu", {}), (3 * pi - 4) / (2 * pi - 2)),
)

#: Joudaki, Daneshmand & Bach (NeurIPS 2023), Table B.1: beta as a function of the gain alpha.
TABLE_B1 = (
    ("exp(alpha x)", "exp",
     (2 - 2 * sp.exp(alpha**2) + alpha**2) / (1 - sp.exp(alpha**2))),
    ("sin(alpha x)", "sin",
     2 * (-1 + sp.exp(2 * alpha**2) - sp.exp(alpha**2) * alpha**2) / (-1 + sp.exp(2 * alpha**2))),
    ("max(alpha x, 0)", "relu", (4 - 3 * pi) / (2 - 2 * pi)),
)


@dataclass(frozen=True)
class Row:
    """One table entry: the derived and the published form, and how their equality was shown."""

    label: str
    activation: str
    derived: sp.Expr
    published: sp.Expr
    agrees: bool
    method: str
    value: str

    def as_dict(self):
        return {"label": self.label, "activation": self.activation, "derived": str(self.derived),
                "published": str(self.published), "agrees": self.agrees, "method": self.method,
                "value": self.value}


def prove_equal(derived, published, dps=50, samples=(sp.Rational(1, 3), 1, sp.Rational(5, 2))):
    """``(agrees, method)``: symbolic when simplify decides, else agreement to ``dps - 2`` digits
    of strict ``dps``-digit evaluations at the sample points (evidence, not a proof: said so)."""
    difference = sp.simplify(derived - published)
    if difference == 0:
        return True, "simplify"
    free = sorted(difference.free_symbols, key=str)
    points = [dict(zip(free, [s] * len(free))) for s in samples] if free else [{}]
    for point in points:
        d = evaluate_exact(derived.subs(point), dps)      # strict evalf: dps correct digits or an error
        p = evaluate_exact(published.subs(point), dps)
        with working(dps + GUARD):
            if abs(d - p) > mpmath.mpf(10) ** (-dps + 2) * max(abs(p), 1):
                return False, f"differs at {point or 'the value'}: {mpmath.nstr(d, dps)} vs {mpmath.nstr(p, dps)}"
    return True, f"numeric identity at {dps} digits"


def table2():
    """Derive Joudaki, Daneshmand & Bach (NeurIPS 2023) Table 2 and compare with the published entries (list of :class:`Row`)."""
    rows = []
    for label, (name, params), published in TABLE_2:
        beta = isometry_strength(activation(name, **params))
        agrees, method = prove_equal(beta.expr, published)
        rows.append(Row(label, str(activation(name, **params).expr), beta.expr, published, agrees,
                        method, mpmath.nstr(beta.value(20), 20)))
    return rows


def table_b1():
    """Derive Joudaki, Daneshmand & Bach (NeurIPS 2023) Table B.1 with a symbolic gain (list of :class:`Row`)."""
    rows = []
    for label, name, published in TABLE_B1:
        act = activation(name, gain=alpha)
        beta = isometry_strength(act)
        agrees, method = prove_equal(beta.expr, published)
        at_one = mpmath.nstr(beta.subs(alpha, 1).value(20), 20)
        rows.append(Row(label, str(act.expr), beta.expr, published, agrees, method,
                        f"{at_one} at alpha=1"))
    return rows


def _table(title, rows, value_column, at):
    cols = ["activation", "beta (derived)", "beta (published)", value_column, "agrees", "shown by"]
    cells = [[Label(r.label), r.derived, r.published, Value(r.derived.subs(at) if at else r.derived),
              r.agrees, r.method] for r in rows]
    return Table(title, cols, cells, agrees=[r.agrees for r in rows],
                 reasons=[r.method for r in rows],
                 source="Joudaki, Daneshmand & Bach (NeurIPS 2023) (Joudaki, Daneshmand, Bach)")


def table2_table():
    """Table 2 (isometry strength of six activations), derived and published, as a
    :class:`symkernel.present.tables.Table` (for ``symkernel tables``).

    >>> t = table2_table()
    >>> t.columns[:3], len(t.rows), t.disagreements
    (['activation', 'beta (derived)', 'beta (published)'], 6, [])
    """
    return _table("Joudaki, Daneshmand & Bach (NeurIPS 2023), Table 2: isometry strength beta",
                  table2(), "value", None)


def table_b1_table():
    """Table B.1 (beta against the gain alpha), derived and published, with the value at
    ``alpha = 1``, as a :class:`symkernel.present.tables.Table`."""
    return _table("Joudaki, Daneshmand & Bach (NeurIPS 2023), Table B.1: isometry strength against "
                  "the gain alpha", table_b1(), "value at alpha = 1", {alpha: 1})


def format_rows(title, rows):
    """Plain-text rendering used by ``symkernel tables``."""
    lines = [title, "=" * len(title)]
    for r in rows:
        mark = "OK " if r.agrees else "DIFF"
        lines.append(f"[{mark}] {r.label:<16} beta = {sp.sstr(r.derived)}")
        lines.append(f"       {'':<16} published {sp.sstr(r.published)}   ({r.method}); value {r.value}")
    return "\n".join(lines)


__all__ = ["TABLE_2", "TABLE_B1", "Row", "table2", "table_b1", "table2_table", "table_b1_table",
           "prove_equal", "format_rows", "x"]
