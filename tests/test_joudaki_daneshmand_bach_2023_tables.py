"""Joudaki, Daneshmand & Bach (NeurIPS 2023) Table 2 and Table B.1: every entry derived and proved equal to the published form."""
import sympy as sp

from symkernel.papers import joudaki_daneshmand_bach_2023
from symkernel.core.symbols import alpha


def test_table2_is_reproduced_exactly():
    rows = joudaki_daneshmand_bach_2023.table2()
    assert len(rows) == len(joudaki_daneshmand_bach_2023.TABLE_2)
    for row in rows:
        assert row.agrees, row
        assert row.method == "simplify"
        assert sp.simplify(row.derived - row.published) == 0


def test_table_b1_is_reproduced_exactly_with_symbolic_gain():
    rows = joudaki_daneshmand_bach_2023.table_b1()
    for row in rows:
        assert row.agrees, row
        assert sp.simplify(row.derived - row.published) == 0
    relu = rows[-1]
    assert not relu.derived.has(alpha)  # ReLU's beta does not depend on the gain


def test_prove_equal_detects_a_wrong_published_value():
    agrees, method = joudaki_daneshmand_bach_2023.prove_equal(2 - 2 / sp.pi, 2 - 1 / sp.pi)
    assert not agrees and "differs" in method


def test_prove_equal_falls_back_to_a_numeric_identity():
    # simplify cannot always close arcsin/arctan identities; the 50-digit check still decides
    agrees, method = joudaki_daneshmand_bach_2023.prove_equal(sp.asin(sp.Rational(2, 3)),
                                         sp.atan(2 / sp.sqrt(5)))
    assert agrees
