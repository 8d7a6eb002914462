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


#: Typos and misprints found in Joudaki, Daneshmand & Bach (NeurIPS 2023), each with its corrected
#: form and how symkernel checks the correction (tests/test_joudaki_daneshmand_bach_2023_corrections.py
#: evaluates the printed and the corrected form on random batches).
CORRECTIONS = (
    dict(where="Table 1, batch normalization",
         printed=r"BN(X)_ij = X_ij / sqrt((1/n) sum_{k}^{d} X_ik^2)",
         corrected=r"BN(X)_ij = X_ij / sqrt((1/n) sum_{k=1}^{n} X_ik^2)   (X is d x n: the sum runs over the n samples)",
         check="the corrected form gives every feature mean square 1 over the batch and commutes with "
               "permuting the samples; the printed sum (to d < n) does neither"),
    dict(where="Corollary 3, the normalized covariance",
         printed=r"C~ := X X^T",
         corrected=r"C~ := X~ X~^T with X~ = BN(X)",
         check="as printed the claim reads I(C) >= I(C)(1 + var(a)/a_bar^2), false whenever I(C) > 0 and "
               "the row norms differ; the corrected bound holds on every random batch and network layer"),
    dict(where="Corollary 3, the mean row norm",
         printed=r"a_bar := (1/n) sum_{i=1}^{d} a_i",
         corrected=r"a_bar := (1/d) sum_{i=1}^{d} a_i   (the mean of the d row norms)",
         check="with 1/n the claimed bound exceeds I(C~) on random batches with d < n (it can exceed 1)"),
    dict(where="Proof of Theorem 1, eq. (7), side remark",
         printed=r"det(D) = prod_i a_i^2",
         corrected=r"det(D)^2 = prod_i a_i^2, i.e. det(D) = prod_i a_i (D = diag(a_1, ..., a_n))",
         check="det(G) = det(G~) prod_i a_i^2 and I(G~)/I(G) = mean(a^2)/(prod_i a_i)^(2/n), checked to "
               "1e-10 on random Gram matrices"),
    dict(where="Theorem 4 (and Theorem A.5), the depth from which the bound holds",
         printed=r"l >~ beta^-1 (-n log I(G_0) + log(4n))",
         corrected=r"l >= log(2(n-1) gamma(G_0)) / log(beta)   (the proof needs (n-1) gamma(G_l) <= 1/2)",
         check="symkernel.theory.gram.isometry_gap_bound_depth; tests/test_gram.py checks the bound from "
               "that depth on along the mean-field sequence"),
    dict(where="Section 3, normalization layers",
         printed=r"Let LN and BN denote batch normalization and layer normalization respectively",
         corrected=r"LN denotes layer normalization and BN batch normalization",
         check="wording (Table 1 defines them the other way round)"),
    dict(where="Proof of Theorem A.2, the variance",
         printed=r"Var(a_i) = E a_i^2 - (E a_i)^2 = sum_{k>=0} c_k^2 = sum_{k>=1} c_k^2",
         corrected=r"Var(a_i) = sum_{k>=0} c_k^2 - c_0^2 = sum_{k>=1} c_k^2 = sigma_bar(1)",
         check="symkernel.kernels.mean_reduced_dual at 1 against E[sigma^2] - c_0^2 (tests/test_gram.py)"),
)


__all__ = ["TABLE_2", "TABLE_B1", "CORRECTIONS", "Row", "table2", "table_b1", "table2_table",
           "table_b1_table", "prove_equal", "format_rows", "x"]
