"""The Table object and the reproduced paper tables: every output format from the same cells."""

import json

import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.papers import (
    joudaki_daneshmand_bach_2023_table2, joudaki_daneshmand_bach_2023_table_b1, table_builders,
)
from symkernel.present.tables import Label, Math, Table, Value


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
            r"\begin{tabular}{llll}",
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
