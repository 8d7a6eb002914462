"""Joudaki & Hofmann (AISTATS 2025), Table S.1: every entry recomputed exactly / to 30 digits against the published one."""
import mpmath
import pytest
import sympy as sp

import symkernel as sk
from symkernel.papers import joudaki_hofmann_2025

FAST = ["tanh", "selu", "relu", "sigmoid", "exp", "gelu"]


@pytest.fixture(scope="module")
def rows():
    return {r["name"]: r for r in joudaki_hofmann_2025.table_s1_rows(dps=30, names=FAST)}


def test_agreeing_rows(rows):
    for name in ("tanh", "sigmoid", "gelu"):
        assert rows[name]["agrees"], rows[name]["reason"]


def test_disagreements_are_marked_with_reasons(rows):
    relu = rows["relu"]
    assert not relu["agrees"] and "case" in relu["differs"] and "kappa'(1)" in relu["differs"]
    assert "truncated Hermite series" in relu["reason"] and "case 3" in relu["reason"]
    dyn = sk.kernel_dynamics("relu")
    assert dyn.kappa_prime_1.expr == 1 and dyn.case == 3     # exact, not a float comparison
    assert rows["selu"]["differs"] == ["kappa'(1)"]           # 1.0716 vs the published 1.06
    assert rows["exp"]["differs"] == ["alpha"] and "1 - alpha" in rows["exp"]["reason"]


def test_exact_entries(rows):
    relu = rows["relu"]["derived"]
    assert sp.simplify(relu[0].expr - 1 / sp.sqrt(2)) == 0             # C = sqrt(E relu^2)
    assert sp.simplify(relu[4].expr - 1 / sp.pi) == 0                  # kappa(0)
    exp = rows["exp"]["derived"]
    assert sp.simplify(exp[0].expr - sp.E) == 0 and sp.simplify(exp[4].expr - sp.exp(-1)) == 0
    assert rows["tanh"]["exact"][4]                                    # kappa(0) = 0 by parity


def test_values_to_30_digits(rows):
    gelu = rows["gelu"]
    star, kstar = gelu["values"][2], gelu["values"][3]
    with mpmath.workdps(30):
        assert abs(star - kstar) < mpmath.mpf(10) ** -28


@pytest.mark.slow
def test_elu_row_and_celu_identity():
    assert sk.activation("celu").expr == sk.activation("elu").expr   # CELU(alpha=1) is ELU
    (row,) = joudaki_hofmann_2025.table_s1_rows(dps=12, names=["elu"])
    assert row["agrees"], row["reason"]
    assert row["derived"][-1] == 4


def test_format(rows):
    text = joudaki_hofmann_2025.format_table_s1(rows=list(rows.values()), digits=6)
    assert "| ReLU |" in text and "**≠**" in text and text.count("\n|") >= 7
