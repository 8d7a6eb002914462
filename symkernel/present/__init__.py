"""Presentation: LaTeX (with notations), tables (text, Markdown, HTML, LaTeX, JSON), plots, and how
the objects of the computing layers are shown (:mod:`.display`, registered on
:mod:`symkernel.core.display` when this package is imported)."""
from . import display  # noqa: F401  (registers the displays)
