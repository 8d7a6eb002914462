r"""How an object is shown, decided apart from the object: terminal text, LaTeX, a table (and the
table as HTML for Jupyter).

The computing layers (theory, simulate, validate) never import :mod:`symkernel.present`; their
``__repr__``, ``latex`` and ``_repr_html_`` are one-line delegations to the generic functions
here (:func:`functools.singledispatch`), and :mod:`symkernel.present.display` registers how each
class is shown (lcapy's printers, apart from the expressions they print).  ``import symkernel``
imports :mod:`symkernel.present`, so the registrations always exist.

:func:`wrap_math` is the one piece of pure formatting the lower layers use themselves.

>>> wrap_math("x^{2}", "inline"), wrap_math("x^{2}", "display")
('$x^{2}$', '\\[ x^{2} \\]')
>>> to_latex(object())
Traceback (most recent call last):
...
symkernel.errors.InvalidInputError: no LaTeX export for object
"""
from functools import singledispatch

from symkernel.errors import InvalidInputError

#: How LaTeX math is wrapped: bare, ``$...$``, ``\[...\]`` or an ``equation`` environment.
MODES = ("math", "inline", "display", "equation")


def wrap_math(body, mode="math"):
    r"""LaTeX math ``body`` in ``mode``: ``"math"`` (bare), ``"inline"`` (``$...$``), ``"display"``
    (``\[...\]``) or ``"equation"`` (an ``equation`` environment)."""
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "inline":
        return f"${body}$"
    if mode == "display":
        return f"\\[ {body} \\]"
    if mode == "equation":
        return f"\\begin{{equation}}\n  {body}\n\\end{{equation}}"
    return body


@singledispatch
def to_text(obj):
    """Terminal text of ``obj`` (its ``__repr__``); unregistered objects get Python's default."""
    return object.__repr__(obj)


@singledispatch
def to_latex(obj, **options):
    """LaTeX of ``obj`` (``digits``, ``mode`` and the like as ``options``)."""
    raise InvalidInputError(f"no LaTeX export for {type(obj).__name__}")


@singledispatch
def to_table(obj, **options):
    """``obj`` as a :class:`symkernel.present.tables.Table` (``digits`` as an option)."""
    raise InvalidInputError(f"no table for {type(obj).__name__}")


@singledispatch
def to_html(obj, digits=15):
    """HTML of ``obj`` for Jupyter (``_repr_html_``): by default its :func:`to_table`, rendered."""
    return to_table(obj, digits=digits)._repr_html_(digits)


__all__ = ["MODES", "wrap_math", "to_text", "to_latex", "to_table", "to_html"]
