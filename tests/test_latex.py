"""LaTeX export: golden strings, notation options, digit honesty, and a real pdflatex compile."""

import shutil
import subprocess

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.present.latex import Notation, document, format_number, hermite_label, latex
from symkernel.papers import joudaki_daneshmand_bach_2023_table2, joudaki_daneshmand_bach_2023_table_b1


GOLDEN = [
    (lambda: sk.hermite_coefficient("relu", 2), {}, r"c_{2} = \frac{1}{2 \sqrt{\pi}}"),
    (
        lambda: sk.isometry_strength("relu"),
        {},
        r"\beta_{\sigma} = \frac{-4 + 3 \pi}{2 \left(-1 + \pi\right)}",
    ),
    (lambda: sk.activation("relu"), {"mode": "inline"}, r"$\sigma(x) = \max\left(0, x\right)$"),
    (lambda: sk.kernel_map("exp"), {}, r"\kappa(\rho) = e^{\rho - 1}"),
    (lambda: sk.kernel_map("exp"), {"notation": "poole"}, r"\kappa(c) = e^{c - 1}"),
    (
        lambda: sk.kernel_map("exp"),
        {"notation": Notation(kernel=r"\mathcal{K}", rho="t")},
        r"\mathcal{K}(t) = e^{t - 1}",
    ),
    (
        lambda: sk.dual_kernel("erf"),
        {"mode": "display"},
        r"\[ \hat{\sigma}(\rho) = \frac{2 \operatorname{asin}{\left(\frac{2 \rho}{3} \right)}}"
        r"{\pi} \]",
    ),
    (
        lambda: sk.isometry_strength("sin", gain=sk.alpha),
        {"lhs": False, "mode": "equation"},
        "\\begin{equation}\n  - \\frac{2 \\alpha^{2} e^{\\alpha^{2}} - 2 e^{2 \\alpha^{2}} + 2}"
        "{e^{2 \\alpha^{2}} - 1}\n\\end{equation}",
    ),
    (lambda: sk.isometry_strength("tanh"), {"digits": 12}, r"\beta_{\sigma} = 1.06953007638"),
    (lambda: sk.rho**2, {"lhs": False}, r"\rho^{2}"),
]


@pytest.mark.parametrize("make, options, expected", GOLDEN, ids=range(len(GOLDEN)))
def test_golden_strings(make, options, expected):
    assert latex(make(), **options) == expected


def test_sympy_latex_and_jupyter_agree_with_export():
    q = sk.hermite_coefficient("relu", 0)
    assert sp.latex(q) == latex(q, lhs=False)
    assert q._repr_latex_() == latex(q, mode="inline")


def test_hermite_notation_in_labels():
    assert hermite_label("He_3(x)") == r"\mathrm{he}_{3}(x)"
    assert hermite_label("He_3(x)", "joudaki_daneshmand_bach_2023") == r"\mathrm{He}_{3}(x)"
    assert hermite_label("exp(alpha x)") == r"\exp(\alpha x)"
    # the indicator: amssymb's \mathbb has no digits (\mathbb{1} printed a wrong glyph)
    assert hermite_label("1[x>0]") == r"\mathbf{1}[x>0]"
    # names upright, not a product of italic variables (SeLU was S e L U)
    assert [hermite_label(n) for n in ("tanh", "SeLU", "sigmoid", "x*erf(x)")] == [
        r"\tanh", r"\mathrm{SeLU}", r"\mathrm{sigmoid}", r"x*\operatorname{erf}(x)"]
    with pytest.raises(InvalidInputError):
        Notation(hermite="H")


def test_numeric_digits_are_correct_digits():
    beta = sk.isometry_strength("tanh")  # numeric only
    with mpmath.workdps(60):
        reference = beta.value(50)
    for digits in (3, 8, 20, 40):
        shown = format_number(beta, digits, latex=False)
        assert len(shown.replace(".", "").lstrip("0")) <= digits
        with mpmath.workdps(60):
            assert (
                abs(mpmath.mpf(shown) - reference)
                <= mpmath.mpf(10) ** (-digits + 1) / 2 * reference
            )


def test_floats_never_show_more_than_they_carry():
    assert format_number(1 / 3, 40) == "0.333333333333333"
    assert format_number(np.float32(1 / 3), 40) == "0.333333"
    assert format_number(2.5e-9, 3) == r"2.5 \times 10^{-9}"
    assert format_number(float("inf")) == r"\infty"


def test_value_with_standard_error_stops_at_the_error():
    assert format_number(0.43716, error=0.0031) == r"0.437 \pm 0.003"
    assert format_number(0.43716, error=0.0096, latex=False) == "0.44 +- 0.01"
    assert format_number(5.0, error=0.0) == "5.0"


@pytest.mark.parametrize("bad", [dict(mode="inline!"), dict(digits=0), dict(notation="klingon")])
def test_bad_options(bad):
    with pytest.raises(InvalidInputError):
        latex(sk.rho, **bad)


def test_unknown_object():
    with pytest.raises(InvalidInputError):
        latex(object())


def test_standalone_document_is_a_portrait_article():
    """It was landscape with 1 cm margins; a Table goes in as a float scaled to the text width."""
    from symkernel.present.tables import Table

    doc = document(Table("ReLU$^2$", ["a"], [[1]]), "$x$")
    assert doc.splitlines()[:5] == [
        r"\documentclass{article}",
        r"\usepackage{amsmath,amssymb,booktabs,graphicx}",
        r"\usepackage[margin=2.5cm]{geometry}",
        r"\begin{document}",
        r"\begin{table}[ht]",
    ]
    assert r"\caption{ReLU$^2$}" in doc and r"\resizebox{\linewidth}" in doc


def _compile(tex, tmp_path, fits=False):
    """Compile ``tex`` with pdflatex; ``fits``: and nothing sticks out into the margin."""
    if shutil.which("pdflatex") is None:
        pytest.skip(
            "pdflatex is not installed (Debian: apt-get install texlive-latex-base "
            "texlive-latex-recommended); CI installs it in .ci/run"
        )
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "doc.tex").write_text(tex)
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert not fits or "Overfull \\hbox" not in log, log


def test_exported_tables_and_expressions_compile_with_pdflatex(tmp_path):
    objects = [
        sk.hermite_coefficient("relu", 2),
        sk.isometry_strength("tanh"),
        sk.isometry_strength("sin", gain=sk.alpha),
        sk.kernel_map("relu"),
        sk.dual_kernel("erf"),
        sk.activation("gelu"),
        sk.kernel_map("tanh"),
    ]
    snippets = [latex(o, mode=m) for o, m in zip(objects, ["inline", "display", "equation"] * 3)]
    from symkernel.papers.joudaki_hofmann_2025 import TABLE_S1, TABLE_S1_COLUMNS
    from symkernel.present.tables import Label, Math, Table

    s1_like = Table(  # Table S.1's headers and labels with its published numbers (fast to build)
        "Joudaki & Hofmann (AISTATS 2025), Table S.1 (published)",
        ["activation", *TABLE_S1_COLUMNS],
        [[Label(label), *published] for label, _, published in TABLE_S1],
        notes=["$\\kappa'(1) = 1/\\mathbb{E}[\\sigma'^2]$ & 50% of x_0 < 1"],
    )
    math_heads = Table("ReLU$^2$ and the indicator, with $\\beta_\\sigma$ in the header",
                       ["activation", Math(r"\beta_\sigma", "beta"), r"$\kappa'(0)$"],
                       [[Label("1[x>0]"), sk.isometry_strength("step"), 0.5],
                        [Label("SeLU"), sk.isometry_strength("relu"), 1 / 3]])
    wide = Table("Too wide for the page: scaled down", [f"$c_{{{k}}}$" for k in range(14)],
                 [[k + 1 / 3 for k in range(14)]])
    tables = [joudaki_daneshmand_bach_2023_table2(), joudaki_daneshmand_bach_2023_table_b1(), s1_like,
              math_heads]
    snippets += [t.to_latex(float_env=True) for t in tables]
    snippets += [t.to_latex(notation="joudaki_daneshmand_bach_2023", digits=6) for t in tables]
    _compile(document(*snippets), tmp_path / "snippets")
    # the standalone document (symkernel tables --latex --standalone): every table within the
    # text width of a portrait page, the too-wide one scaled down to it
    _compile(document(*tables, wide, digits=8), tmp_path / "standalone", fits=True)
