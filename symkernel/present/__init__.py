"""Presentation: LaTeX (with notations), tables (text, Markdown, HTML, LaTeX, JSON) and plots."""
