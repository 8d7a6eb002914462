"""The Table object and the reproduced paper tables: every output format from the same cells."""

import json

import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.papers import (
    joudaki_daneshmand_bach_2023_table2, joudaki_daneshmand_bach_2023_table_b1, table_builders,
)
from symkernel.present.tables import Label, Math, Table, Value, tex_text


@pytest.fixture(scope="module")
def demo():
    return Table(
        "Demo & test",
        ["activation", "beta", "value", "ok"],
        [
            [Label("He_2(x)"), sp.Integer(2), Value(sp.pi), True],
            [
                Label("max(x,0)"),
                sk.isometry_strength("relu"),
                Value(sk.isometry_strength("tanh")),
                False,
            ],
        ],
        agrees=[True, False],
        reasons=["simplify", "differs at the value"],
        notes=["a note"],
    )


def test_golden_booktabs(demo):
    assert demo.to_latex(digits=6) == "\n".join(
        [
            r"\begin{tabular}{llrl}",   # the column of numbers right-aligned
            r"\toprule",
            r"activation & beta & value & ok \\",
            r"\midrule",
            r"$\mathrm{he}_{2}(x)$ & $2$ & $3.14159$ & yes \\",
            r"$\max(x,0)$ & $\frac{-4 + 3 \pi}{2 \left(-1 + \pi\right)}$ & $1.06953$ & NO \\",
            r"\bottomrule",
            r"\end{tabular}",
        ]
    )
    wrapped = demo.to_latex(float_env=True, label="tab:demo")
    assert wrapped.startswith(
        "\\begin{table}[ht]\n\\centering\n\\caption{Demo \\& test}\n\\label{tab:demo}"
    )


def test_caption_headers_and_notes_hold_math():
    """A caption ``ReLU$^2$`` was escaped into literal text and headers could not hold math."""
    t = Table("ReLU$^2$ & 50% of $\\kappa$", ["activation", Math(r"\beta_\sigma", "beta"),
                                            r"$\kappa'(0)$", "x_0 < 1"],
              [[Label("1[x>0]"), sp.Integer(2), sp.Rational(1, 2), "a|b"]], notes=["$q^*$ & co"])
    assert t.to_latex(float_env=True) == "\n".join([
        r"\begin{table}[ht]",
        r"\centering",
        r"\caption{ReLU$^2$ \& 50\% of $\kappa$}",
        r"\renewcommand{\arraystretch}{1.3}",
        r"\begin{tabular}{lrrl}",
        r"\toprule",
        r"activation & $\beta_\sigma$ & $\kappa'(0)$ & x\_0 \textless{} 1 \\",
        r"\midrule",
        r"$\mathbf{1}[x>0]$ & $2$ & $\frac{1}{2}$ & a\textbar{}b \\",
        r"\bottomrule",
        r"\end{tabular}",
        "",
        r"\smallskip\footnotesize $q^*$ \& co",
        r"\end{table}",
    ])
    assert t.as_dict()["columns"] == ["activation", "beta", "$\\kappa'(0)$", "x_0 < 1"]
    assert "beta" in t.to_text().splitlines()[2]
    assert t.to_markdown().splitlines()[2] == r"| activation | $\beta_\sigma$ | $\kappa'(0)$ | x_0 < 1 |"
    assert "<th>$\\beta_\\sigma$</th>" in t._repr_html_()


def test_tex_text_keeps_math_and_escapes_the_rest():
    assert tex_text("ReLU$^2$") == "ReLU$^2$"
    assert tex_text("costs $5 & more") == r"costs \$5 \& more"   # a lone dollar is text
    assert tex_text(r"\$1 and $x$") == r"\textbackslash{}\$1 and $x$"
    assert tex_text("a_b ~ c^d") == r"a\_b \textasciitilde{} c\textasciicircum{}d"


def test_fit_scales_only_a_table_wider_than_the_text():
    t = Table("t", ["a"], [[1]])
    fitted = t.to_latex(float_env=True, fit=True)
    assert r"\sbox0{\begin{tabular}{r}" in fitted
    assert r"\ifdim\wd0>\linewidth\resizebox{\linewidth}{!}{\usebox0}\else\usebox0\fi" in fitted
    assert r"\resizebox" not in t.to_latex(float_env=True) and r"\resizebox" not in t.to_latex()


def test_golden_markdown(demo):
    assert demo.to_markdown(digits=4).splitlines()[:5] == [
        "**Demo & test**",
        "",
        "| activation | beta | value | ok |",
        "|---|---|---|---|",
        r"| $\mathrm{he}_{2}(x)$ | $2$ | $3.142$ | yes |",
    ]
    assert "Row 2 disagrees: differs at the value" in demo.to_markdown()


def test_text_html_and_json(demo):
    text = repr(demo)
    assert "[OK]" in text and "[DIFF]" in text and "row 2: differs at the value" in text
    page = demo._repr_html_()
    assert page.startswith("<table>") and "$\\mathrm{he}_{2}(x)$" in page and "#fdd" in page
    assert "&amp;" in page
    data = json.loads(demo.to_json(digits=5))
    assert data["rows"][0] == ["He_2(x)", "2", "3.1416", "yes"] and data["agrees"] == [True, False]
    assert demo.disagreements == [(1, "differs at the value")]


def test_bad_shapes():
    with pytest.raises(InvalidInputError):
        Table("t", ["a", "b"], [[1]])
    with pytest.raises(InvalidInputError):
        Table("t", ["a"], [[1]], agrees=[True, False])


def test_math_cell_and_empty_cell():
    t = Table("t", ["a", "b"], [[Math(r"\gamma", "gamma"), None]])
    assert "$\\gamma$ & " in t.to_latex() and t.as_dict()["rows"] == [["gamma", ""]]


def test_joudaki_daneshmand_bach_2023_tables_agree_with_the_publication():
    t2, b1 = joudaki_daneshmand_bach_2023_table2(), joudaki_daneshmand_bach_2023_table_b1()
    assert len(t2.rows) == 6 and len(b1.rows) == 3
    assert t2.disagreements == [] and b1.disagreements == []
    relu = [r for r in t2.rows if r[0].text == "max(x,0)"][0]
    assert sp.simplify(relu[1] - (3 * sp.pi - 4) / (2 * sp.pi - 2)) == 0
    assert "\\alpha" in b1.to_latex()


def test_paper_tables_lists_every_table():
    names = [name for name, _ in table_builders()]
    assert names[:2] == ["Joudaki, Daneshmand & Bach (NeurIPS 2023), Table 2", "Joudaki, Daneshmand & Bach (NeurIPS 2023), Table B.1"]
    assert "Joudaki & Hofmann (AISTATS 2025), Table S.1" in names  # built by symkernel.papers.joudaki_hofmann_2025
    assert names[-1] == "Pabari & Zhou, printed formulas and numbers against the derived ones"


def test_prose_columns_wrap_instead_of_shrinking_the_table():
    """A column of sentences (the Pabari & Zhou slips) is a paragraph column; short text stays
    left-aligned and numbers right-aligned."""
    from symkernel.present.tables import Table
    t = Table("t", ["where", "why", "value"], [["eq. (3)", "a sentence " * 6, 0.5],
                                               ["eq. (10)", "another sentence " * 4, 1.5]])
    spec = t.to_latex().splitlines()[0]
    assert spec.startswith(r"\begin{tabular}{lp{0.80\linewidth}r}"), spec
