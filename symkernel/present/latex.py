r"""LaTeX export: one expression, one number, or a whole document (tables: :mod:`.tables`).

* :func:`latex` renders a Quantity, Kernel, Activation, SymPy expression or number, with a
  :class:`Notation` (kernel symbol ``\kappa``, correlation symbol ``\rho``, normalized Hermite
  ``\mathrm{he}_k`` or Joudaki, Daneshmand & Bach (NeurIPS 2023)'s ``\mathrm{He}_k``) and a ``mode``: ``"math"`` (bare),
  ``"inline"`` (``$...$``), ``"display"`` (``\[...\]``) or ``"equation"``.
* :func:`format_number` never prints more digits than are correct: a Quantity is evaluated to
  ``digits + 5`` correct digits and rounded to ``digits`` (when it has fewer, to the digits
  it has: :meth:`~symkernel.Quantity.digits_available`); a float64 gives at most 15 digits; a value
  with a standard error stops at the error's first digit (``0.4372 \pm 0.0031``).
* :func:`document` wraps snippets in a compilable article (portrait, ``booktabs``, ``amsmath``,
  ``amssymb``).

>>> import symkernel as sk
>>> latex(sk.hermite_coefficient("relu", 2), mode="inline")
'$c_{2} = \\frac{1}{2 \\sqrt{\\pi}}$'
>>> latex(sk.kernel_map("exp"), notation="poole")
'\\kappa(c) = e^{c - 1}'
>>> latex(sk.isometry_strength("tanh"), digits=8)
'\\beta_{\\sigma} = 1.0695301'
>>> format_number(0.43716, error=0.0031)
'0.437 \\pm 0.003'
>>> hermite_label("He_2(x)", notation="default"), hermite_label("He_2(x)", notation="joudaki_daneshmand_bach_2023")
('\\mathrm{he}_{2}(x)', '\\mathrm{He}_{2}(x)')
"""

import math
import re
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from symkernel.core.activations import Activation
from symkernel.core.display import MODES, wrap_math
from symkernel.core.quantity import Quantity
from symkernel.core.symbols import alpha, rho
from symkernel.errors import InvalidInputError, PrecisionError


@dataclass(frozen=True)
class Notation:
    r"""LaTeX names: correlation variable, kernel-map symbol, Hermite convention, activation name.

    ``hermite="he"`` writes the normalized Hermite polynomials ``\mathrm{he}_k`` (docs/theory.md §1);
    ``"He"`` writes ``\mathrm{He}_k`` for the same normalized polynomials, as Joudaki, Daneshmand & Bach (NeurIPS 2023) does.
    """

    rho: str = r"\rho"
    kernel: str = r"\kappa"
    dual: str = r"\hat{\sigma}"
    hermite: str = "he"
    activation: str = r"\sigma"
    gain: str = r"\alpha"

    def __post_init__(self):
        if self.hermite not in ("he", "He"):
            raise InvalidInputError(f"hermite notation must be 'he' or 'He', got {self.hermite!r}")


#: Named notations: ``default`` (docs/theory.md §1), ``joudaki_hofmann_2025`` (kappa, rho), ``joudaki_daneshmand_bach_2023`` (He_k normalized),
#: ``poole`` (correlation ``c``, as in Poole et al. 2016 and Pabari & Zhou).
NOTATIONS = {
    "default": Notation(),
    "joudaki_hofmann_2025": Notation(),
    "joudaki_daneshmand_bach_2023": Notation(hermite="He"),
    "poole": Notation(rho="c"),
}


def notation_of(notation):
    """A :class:`Notation` from ``None`` (default), a name in :data:`NOTATIONS`, or a Notation."""
    if notation is None:
        return NOTATIONS["default"]
    if isinstance(notation, Notation):
        return notation
    if isinstance(notation, str) and notation in NOTATIONS:
        return NOTATIONS[notation]
    raise InvalidInputError(f"unknown notation {notation!r}; known: {', '.join(sorted(NOTATIONS))}")


def _check_digits(digits):
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise InvalidInputError(f"digits must be a positive integer, got {digits!r}")
    if digits > 10000:
        raise InvalidInputError(f"digits={digits} is beyond what symkernel supports (10000)")


def _sci(text):
    """``1.5e-7`` -> ``1.5 \\times 10^{-7}``."""
    if "e" not in text:
        return text
    mant, exp = text.split("e")
    return rf"{mant} \times 10^{{{int(exp)}}}"


def _float_digits(value):
    """Digits a binary float can carry: 15 for float64, 6 for float32, 3 for float16."""
    if isinstance(value, np.floating):
        return {2: 3, 4: 6}.get(value.dtype.itemsize, 15)
    return 15


def format_number(value, digits=15, *, error=None, latex=True):
    r"""A number as text with no more digits than are correct.

    ``value``: a Quantity (evaluated to ``digits + 5`` correct digits, then rounded), an
    ``mpmath.mpf`` (taken as correct to the working precision), an int/Rational (exact), or a float
    (at most 15 significant digits; 6 for float32).  ``error``: a standard error or bound; the
    value is then rounded at the error's first significant digit and shown as ``v \pm e``.

    >>> format_number(1/3, digits=40)
    '0.333333333333333'
    >>> format_number(2.5e-9, digits=3)
    '2.5 \\times 10^{-9}'
    >>> format_number(12345.678, error=21.0, latex=False)
    '12350 +- 20'
    """
    _check_digits(digits)
    pm = r" \pm " if latex else " +- "
    if error is not None:
        err = abs(float(error))
        val = float(value.value(17)) if isinstance(value, Quantity) else float(value)
        if not math.isfinite(err) or err == 0:
            return format_number(val, digits, latex=latex)
        lead = math.floor(math.log10(err))
        quantum = 10.0**lead
        e = round(err / quantum) * quantum
        if e >= 10 * quantum:
            lead, quantum = lead + 1, quantum * 10
        v = round(val / quantum) * quantum
        places = max(0, -lead)
        vs, es = f"{v:.{places}f}", f"{e:.{places}f}"
        return f"{vs}{pm}{es}"
    if isinstance(value, Quantity):
        if value.exact and value.expr.is_Integer:
            return str(int(value.expr))
        try:
            with mpmath.workdps(digits + 5):
                text = mpmath.nstr(value.value(digits + 5), digits)
        except PrecisionError:  # fewer digits: value(d) is correct to d (2 guard digits), d <= digits
            val, d = value.digits_available(digits)
            if val is None:
                return r"\text{(no correct digit)}" if latex else "(no correct digit)"
            text = value.text(d)
    elif isinstance(value, (int, np.integer, sp.Integer)) and not isinstance(value, bool):
        text = str(int(value))
    elif isinstance(value, sp.Rational):
        return sp.latex(value) if latex else str(value)
    elif isinstance(value, mpmath.mpf):
        # the digits the number itself carries (its mantissa), not the ambient mpmath precision
        carried = max(1, int(value._mpf_[3] * 0.30103) + 1) if value else 1
        with mpmath.workdps(digits + 5):
            text = mpmath.nstr(value, min(digits, max(carried, 15)))
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            return (
                {math.inf: r"\infty", -math.inf: r"-\infty"}.get(float(value), "NaN")
                if latex
                else str(float(value))
            )
        text = mpmath.nstr(mpmath.mpf(float(value)), min(digits, _float_digits(value)))
    else:
        raise InvalidInputError(f"cannot format {type(value).__name__} as a number")
    return _sci(text) if latex else text


def _expr_latex(expr, nota):
    names = {rho: nota.rho, alpha: nota.gain}
    return sp.latex(expr, symbol_names=names)


#: words of a label written as LaTeX operators (``tanh`` -> ``\tanh``); ``erf`` has no command
_OPERATORS = {"sin", "cos", "exp", "max", "min", "tanh", "log", "sinh", "cosh", "arctan"}
_LABEL_TOKEN = re.compile(r"(?<![A-Za-z0-9_])He_(\d+)|(?<![\w.])1\[|[A-Za-z]+")


def hermite_label(label, notation=None):
    r"""A plain-text table label (``He_2(x)``, ``max(x,0)``, ``1[x>0]``, ``sin(alpha x)``,
    ``ReLU``) as LaTeX math: Hermite polynomials in the notation's convention, ``alpha`` as the
    gain symbol, function names as operators (``\tanh``, ``\operatorname{erf}``), other words
    upright (``\mathrm{ReLU}``: a name, not a product of variables), single letters as variables,
    and the indicator ``1[...]`` as a bold one, ``\mathbf{1}[...]`` (``\mathbb{1}`` needs a font
    package beyond ``amssymb``, whose blackboard bold has no digits).

    >>> hermite_label("max(alpha x, 0)")
    '\\max(\\alpha x, 0)'
    >>> hermite_label("1[x>0]")
    '\\mathbf{1}[x>0]'
    >>> hermite_label("SeLU"), hermite_label("x*erf(x)")
    ('\\mathrm{SeLU}', 'x*\\operatorname{erf}(x)')
    """
    nota = notation_of(notation)

    def token(m):
        word = m.group(0)
        if m.group(1) is not None:
            return rf"\mathrm{{{nota.hermite}}}_{{{m.group(1)}}}"
        if word == "1[":
            return r"\mathbf{1}["
        if word == "alpha":
            return nota.gain
        if word in _OPERATORS:
            return "\\" + word
        if word == "erf":
            return r"\operatorname{erf}"
        return word if len(word) == 1 else rf"\mathrm{{{word}}}"

    return _LABEL_TOKEN.sub(token, label)


def _rename_symbol(symbol, nota):
    if symbol == r"\kappa":
        return nota.kernel
    if symbol == r"\hat{\sigma}":
        return nota.dual
    return symbol.replace(r"\sigma", nota.activation) if nota.activation != r"\sigma" else symbol


def latex(obj, *, mode="math", lhs=True, digits=15, notation=None):
    r"""LaTeX for a Quantity, Kernel, Activation, Table, SymPy expression or number.

    ``lhs`` adds the object's symbol (``c_{2} = ...``, ``\kappa(\rho) = ...``); numeric entries get
    ``digits`` correct significant digits (never more); ``mode`` chooses inline/display/equation.

    >>> import symkernel as sk
    >>> latex(sk.activation("relu"), mode="display")
    '\\[ \\sigma(x) = \\max\\left(0, x\\right) \\]'
    >>> latex(sk.rho**2 / 2, mode="equation", notation="poole")
    '\\begin{equation}\n  \\frac{c^{2}}{2}\n\\end{equation}'
    """
    _check_digits(digits)
    nota = notation_of(notation)
    if hasattr(obj, "to_latex") and hasattr(obj, "rows"):  # a Table: already a full block
        return obj.to_latex(digits=digits, notation=nota)
    if isinstance(obj, Quantity):
        body = _expr_latex(obj.expr, nota) if obj.exact else format_number(obj, digits)
        head = _rename_symbol(obj.symbol, nota)
    elif isinstance(obj, Activation):
        body = _expr_latex(obj.expr, nota)
        head = f"{nota.activation}(x)"
    elif _is_kernel(obj):
        if obj.expr is not None:
            body = _expr_latex(obj.expr, nota)
        else:
            body = _expr_latex(obj.series(6).evalf(min(digits, 8)), nota) + r" + \dots"
        head = f"{_rename_symbol(obj.symbol, nota)}({nota.rho})"
    elif isinstance(obj, sp.Basic):
        body, head = _expr_latex(obj, nota), None
    elif isinstance(obj, (int, float, np.integer, np.floating, mpmath.mpf)) and not isinstance(
        obj, bool
    ):
        body, head = format_number(obj, digits), None
    else:
        raise InvalidInputError(f"no LaTeX export for {type(obj).__name__}")
    if lhs and head:
        body = f"{head} = {body}"
    return wrap_math(body, mode)


def _is_kernel(obj):
    return all(hasattr(obj, a) for a in ("expr", "series", "symbol", "derivative", "numpy"))


#: The standalone document: a portrait article with 2.5 cm margins, as a paper's appendix would
#: be (``graphicx`` for the tables too wide for the text width, scaled down to it).
PREAMBLE = r"""\documentclass{article}
\usepackage{amsmath,amssymb,booktabs,graphicx}
\usepackage[margin=2.5cm]{geometry}
\begin{document}
"""


def document(*snippets, digits=15, notation=None):
    r"""A complete LaTeX document (article, ``amsmath``, ``amssymb``, ``booktabs``, portrait,
    2.5 cm margins) holding ``snippets``: strings as they are, a Table as a ``table`` float with
    its caption (``digits``, ``notation``; scaled down to the text width when wider), any other
    object :func:`latex` accepts in display mode.

    >>> print(document("$x$").splitlines()[-1])
    \end{document}
    """
    parts = []
    for s in snippets:
        if hasattr(s, "rows") and hasattr(s, "to_latex"):
            s = s.to_latex(digits=digits, notation=notation, float_env=True, fit=True)
        elif not isinstance(s, str):
            s = latex(s, mode="display", digits=digits, notation=notation)
        parts.append(s)
    return PREAMBLE + "\n\n".join(parts) + "\n\\end{document}\n"


__all__ = [
    "Notation",
    "NOTATIONS",
    "notation_of",
    "format_number",
    "hermite_label",
    "latex",
    "document",
    "PREAMBLE",
    "MODES",
]
