r"""A small :class:`Table` for reproduced paper tables: terminal text, HTML (Jupyter), booktabs,
Markdown and JSON from the same cells (the tables themselves are built in :mod:`symkernel.papers`,
with the papers).

Cells are plain strings, :class:`Label` (an activation label such as ``He_2(x)``, rendered with the
notation's Hermite convention), SymPy expressions, :class:`~symkernel.Quantity` objects (exact:
the expression; numeric: ``digits`` correct digits), :class:`Value` (the numeric value of a
Quantity), numbers, booleans (agreement marks) or ``None`` (empty).

>>> t = Table("Demo", ["activation", "beta", "value", "agrees"],
...           [[Label("He_2(x)"), sp.Integer(2), Value(sp.Integer(2)), True]])
>>> print(t.to_markdown())
**Demo**
<BLANKLINE>
| activation | beta | value | agrees |
|---|---|---|---|
| $\mathrm{he}_{2}(x)$ | $2$ | $2$ | yes |
>>> t.disagreements
[]
"""

import html
import json
import re
from dataclasses import dataclass, field

import mpmath
import sympy as sp

from symkernel.core.parsing import to_sympy

from symkernel.errors import InvalidInputError
from .latex import format_number, hermite_label, latex as _latex, notation_of
from symkernel.core.quantity import Quantity


@dataclass(frozen=True)
class Label:
    """An activation label in plain text (``He_2(x)``, ``max(alpha x, 0)``)."""

    text: str


@dataclass(frozen=True)
class Value:
    """The numeric value of a Quantity (or exact SymPy number), shown with the table's digits."""

    quantity: object

    def as_quantity(self):
        q = self.quantity
        return q if isinstance(q, Quantity) else Quantity(to_sympy(q))


@dataclass(frozen=True)
class Math:
    """A cell already written in LaTeX (``latex``) with its plain-text form (``text``)."""

    latex: str
    text: str


def _cell_text(cell, digits):
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "yes" if cell else "NO"
    if isinstance(cell, Label):
        return cell.text
    if isinstance(cell, Math):
        return cell.text
    if isinstance(cell, Value):
        return format_number(cell.as_quantity(), digits, latex=False)
    if isinstance(cell, Quantity):
        return sp.sstr(cell.expr) if cell.exact else format_number(cell, digits, latex=False)
    if isinstance(cell, sp.Basic):
        return sp.sstr(cell)
    if isinstance(cell, (int, float, mpmath.mpf)):
        return format_number(cell, digits, latex=False)
    return str(cell)


def _cell_math(cell, digits, nota):
    """LaTeX math body of a cell, or None for a text cell."""
    if isinstance(cell, Label):
        return hermite_label(cell.text, nota)
    if isinstance(cell, Math):
        return cell.latex
    if isinstance(cell, Value):
        return format_number(cell.as_quantity(), digits)
    if isinstance(cell, (Quantity, sp.Basic)):
        return _latex(cell, lhs=False, digits=digits, notation=nota)
    if isinstance(cell, (int, float, mpmath.mpf)) and not isinstance(cell, bool):
        return format_number(cell, digits)
    return None


_TEX_ESCAPES = {
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def _tex_escape(text):
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(text))


#: ``$...$`` with something inside, neither dollar escaped
_MATH_SPAN = re.compile(r"(?<!\\)\$(?!\$)(.+?)(?<!\\)\$")


def tex_text(text):
    r"""Text for LaTeX: each ``$...$`` span kept as math, the rest escaped (``&``, ``%``, ``_``,
    ``<`` and the like print as themselves); a lone ``$`` is escaped.

    >>> tex_text("ReLU$^2$ & 1% of x_0 < 2")
    'ReLU$^2$ \\& 1\\% of x\\_0 \\textless{} 2'
    """
    text, out, end = str(text), [], 0
    for m in _MATH_SPAN.finditer(text):
        out += [_tex_escape(text[end:m.start()]), m.group(0)]
        end = m.end()
    return "".join(out + [_tex_escape(text[end:])])


def _head_text(h):
    return h.text if isinstance(h, Math) else str(h)


def _head_latex(h):
    return f"${h.latex}$" if isinstance(h, Math) else tex_text(h)


def _numeric(cell):
    """A cell that shows a number (right-aligned in LaTeX)."""
    if isinstance(cell, bool):
        return False
    if isinstance(cell, Quantity):
        return not cell.exact or cell.expr.is_Number
    return isinstance(cell, (Value, int, float, mpmath.mpf)) or (
        isinstance(cell, sp.Basic) and cell.is_Number)


def _md_escape(text):
    return str(text).replace("|", r"\|")


@dataclass
class Table:
    """Rows of cells with a title, column headers, notes, and per-row agreement flags.

    The title, headers, notes and text cells are text in which ``$...$`` is LaTeX math (kept as
    math in LaTeX and Markdown, shown as typed in plain text); a header may also be a
    :class:`Math` (its LaTeX in LaTeX, Markdown and HTML, its text elsewhere).

    ``agrees[i]`` is True/False when row i compares a derived value with a published one (None
    otherwise); ``reasons[i]`` says how the comparison was decided or why it failed.
    """

    title: str
    columns: list
    rows: list
    notes: list = field(default_factory=list)
    agrees: list = None
    reasons: list = None
    source: str = ""

    def __post_init__(self):
        self.columns = list(self.columns)
        self.rows = [list(r) for r in self.rows]
        for r in self.rows:
            if len(r) != len(self.columns):
                raise InvalidInputError(
                    f"row {r!r} has {len(r)} cells for {len(self.columns)} columns"
                )
        n = len(self.rows)
        self.agrees = list(self.agrees) if self.agrees is not None else [None] * n
        self.reasons = list(self.reasons) if self.reasons is not None else [""] * n
        if len(self.agrees) != n or len(self.reasons) != n:
            raise InvalidInputError("agrees and reasons need one entry per row")

    # -- summary --------------------------------------------------------------------------------
    @property
    def disagreements(self):
        """``[(row index, reason)]`` for rows whose derived value differs from the published one."""
        return [(i, self.reasons[i]) for i, a in enumerate(self.agrees) if a is False]

    # -- text -----------------------------------------------------------------------------------
    def to_text(self, digits=15):
        """Aligned plain text; rows that disagree with the publication are marked ``[DIFF]``."""
        cells = [[_cell_text(c, digits) for c in r] for r in self.rows]
        heads = [_head_text(h) for h in self.columns]
        widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(heads)]
        mark = any(a is not None for a in self.agrees)

        def line(items, flag=""):
            body = "  ".join(s.ljust(w) for s, w in zip(items, widths)).rstrip()
            return (f"{flag:<7}" if mark else "") + body

        out = [
            self.title,
            "=" * len(self.title),
            line(heads),
            line(["-" * w for w in widths]),
        ]
        for r, a in zip(cells, self.agrees):
            out.append(line(r, {True: "[OK]", False: "[DIFF]", None: ""}[a]))
        for i, reason in self.disagreements:
            out.append(f"[DIFF] row {i + 1}: {reason}")
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def __repr__(self):
        return self.to_text()

    # -- LaTeX ----------------------------------------------------------------------------------
    def to_latex(self, digits=15, notation=None, float_env=False, label=None, fit=False):
        r"""A booktabs ``tabular`` (``\toprule``, ``\midrule``, ``\bottomrule``); math in ``$...$``;
        columns of numbers right-aligned, others left-aligned.

        ``float_env=True`` wraps it in a ``table`` environment with the title as caption (above
        the table, as papers place it) and the notes below in small type; ``fit=True`` (with
        ``float_env``) scales a tabular wider than the text width down to it (needs
        ``graphicx``; :func:`~symkernel.present.latex.document` uses it).
        """
        nota = notation_of(notation)
        spec = "".join(self._latex_column(j, digits) for j in range(len(self.columns)))
        lines = [
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(_head_latex(h) for h in self.columns) + r" \\",
            r"\midrule",
        ]
        for r in self.rows:
            out = []
            for c in r:
                m = _cell_math(c, digits, nota)
                out.append(f"${m}$" if m is not None else tex_text(_cell_text(c, digits)))
            lines.append(" & ".join(out) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        body = "\n".join(lines)
        if not float_env:
            return body
        if fit:   # box 0 is TeX's scratch box, local to the table environment
            body = (f"\\sbox0{{{body}}}%\n\\ifdim\\wd0>\\linewidth"
                    "\\resizebox{\\linewidth}{!}{\\usebox0}\\else\\usebox0\\fi")
        cap = tex_text(self.title)
        lab = f"\n\\label{{{label}}}" if label else ""
        notes = "".join(f"\n\n\\smallskip\\footnotesize {tex_text(n)}" for n in self.notes)
        # rows of fractions get room to breathe (local to the table environment)
        room = "\\renewcommand{\\arraystretch}{1.3}\n" if "\\frac" in body else ""
        head = f"\\begin{{table}}[ht]\n\\centering\n\\caption{{{cap}}}{lab}\n{room}"
        return f"{head}{body}{notes}\n\\end{{table}}"

    #: a text column whose longest cell has more characters than this is typeset as a paragraph
    PROSE = 32

    def _latex_column(self, j, digits):
        """``r`` for numbers, ``l`` for short text, a ragged-right paragraph column (its share
        of 0.8 of the text width, by its longest cell) for prose, so that it wraps instead of
        shrinking the whole table to an unreadable size."""
        if self.rows and all(_numeric(r[j]) for r in self.rows):
            return "r"
        longest = self._longest_text()
        if longest[j] <= self.PROSE:
            return "l"
        prose = sum(n for n in longest if n > self.PROSE)
        share = 0.8 * longest[j] / prose
        return "p{%.2f\\linewidth}" % share

    def _longest_text(self):
        return [max([len(_cell_text(r[j], 15)) for r in self.rows if not _numeric(r[j])] or [0])
                for j in range(len(self.columns))]

    def _latex(self, printer=None):
        return self.to_latex()

    def latex(self, **kwargs):
        """Same as :meth:`to_latex` (every public object has ``.latex()``)."""
        return self.to_latex(**kwargs)

    # -- Markdown / HTML ------------------------------------------------------------------------
    def to_markdown(self, digits=15, notation=None):
        """A GitHub-flavoured Markdown table; math cells in ``$...$``."""
        nota = notation_of(notation)
        out = [
            f"**{_md_escape(self.title)}**",
            "",
            "| " + " | ".join(f"${_md_escape(h.latex)}$" if isinstance(h, Math)
                              else _md_escape(h) for h in self.columns) + " |",
            "|" + "---|" * len(self.columns),
        ]
        for r in self.rows:
            cells = []
            for c in r:
                m = _cell_math(c, digits, nota)
                cells.append(
                    f"${_md_escape(m)}$" if m is not None else _md_escape(_cell_text(c, digits))
                )
            out.append("| " + " | ".join(cells) + " |")
        for i, reason in self.disagreements:
            out.append(f"\nRow {i + 1} disagrees: {_md_escape(reason)}")
        out += [f"\n{_md_escape(n)}" for n in self.notes]
        return "\n".join(out)

    def _repr_html_(self, digits=15):
        nota = notation_of(None)
        head = "".join(f"<th>{html.escape(f'${h.latex}$' if isinstance(h, Math) else h)}</th>"
                       for h in self.columns)
        body = []
        for r, a in zip(self.rows, self.agrees):
            cells = []
            for c in r:
                m = _cell_math(c, digits, nota)
                cells.append(
                    f"<td>{html.escape(f'${m}$' if m is not None else _cell_text(c, digits))}</td>"
                )
            style = ' style="background:#fdd"' if a is False else ""
            body.append(f"<tr{style}>{''.join(cells)}</tr>")
        notes = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in self.notes)
        return (
            f"<table><caption>{html.escape(self.title)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{notes}"
        )

    # -- JSON -----------------------------------------------------------------------------------
    def as_dict(self, digits=15):
        """``{"title", "columns", "rows": [[text]], "agrees", "reasons", "notes", "source"}``."""
        return {
            "title": self.title,
            "columns": [_head_text(h) for h in self.columns],
            "rows": [[_cell_text(c, digits) for c in r] for r in self.rows],
            "agrees": list(self.agrees),
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "source": self.source,
        }

    def to_json(self, digits=15):
        return json.dumps(self.as_dict(digits), indent=2)


# ------------------------------------------------------------------------------ published tables
__all__ = ["Table", "Label", "Value", "Math", "tex_text"]
