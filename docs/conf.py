"""Sphinx configuration of the symkernel documentation: the theory page and the API reference.

Build (from the repository root, warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The reference is generated from the docstrings (autodoc + autosummary, into ``docs/_api``); its
modules are listed in the order of the pipeline, see ``PIPELINE`` below.
"""
import importlib
import importlib.util
import inspect
import pathlib
import re

import symkernel

project = "symkernel"
author = "symkernel contributors"
release = version = symkernel.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
templates_path = ["_templates"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
html_theme = "alabaster"
html_static_path = []
# ``ref.python`` is only "more than one target found": the module table of the API page renders
# every module's one-line summary out of that module's context, where a relative name such as
# :mod:`.display` can match several modules (Sphinx then links the first).
suppress_warnings = ["ref.python"]

# The layers in the order of the pipeline (each imports only those before it), then the facades
# ``sk.meanfield`` and ``sk.sde`` and the command line.  ``symkernel.nn`` is listed when present.
# The deprecated shims ``symkernel.latex`` and ``symkernel.tables`` (they warn on import) are not.
PIPELINE = ["errors", "numerics", "core", "gaussian", "coefficients", "kernels", "theory", "nn",
            "simulate", "validate", "present", "papers", "meanfield", "sde", "cli"]
PIPELINE = [f"symkernel.{name}" for name in PIPELINE
            if importlib.util.find_spec(f"symkernel.{name}") is not None]
# Modules documented through their ``__all__`` (they gather names defined elsewhere); every other
# module documents what it defines itself, so each object is described once, where it lives.
FACADES = ["symkernel", "symkernel.meanfield", "symkernel.sde"]


def _module_names(modname):
    """Names in a facade's ``__all__`` that are modules (linked from the module table instead)."""
    module = importlib.import_module(modname)
    return [name for name in getattr(module, "__all__", ())
            if inspect.ismodule(getattr(module, name, None))]


def _shared_names(modname):
    """Names of a facade that ``symkernel`` itself exports (documented once, with the public API)."""
    module = importlib.import_module(modname)
    return [name for name in getattr(module, "__all__", ())
            if name in symkernel.__all__ and getattr(symkernel, name) is getattr(module, name)]


autosummary_generate = True
autosummary_ignore_module_all = True
autosummary_context = {
    "pipeline": PIPELINE,
    "facades": FACADES,
    "facade_modules": {name: _module_names(name) for name in FACADES},
    "facade_shared": {name: _shared_names(name) if name != "symkernel" else [] for name in FACADES},
}
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autoclass_content = "both"


def _locate(path):
    """The object a dotted path ``symkernel....`` names, by attribute first (no shim imported)."""
    parts = path.split(".")
    obj = symkernel
    for part in parts[1:]:
        found = getattr(obj, part, None)
        if found is None and inspect.ismodule(obj):
            try:
                found = importlib.import_module(f"{obj.__name__}.{part}")
            except ImportError:
                return None
        if found is None:
            return None
        obj = found
    return obj


def _resolve_reexport(app, env, node, contnode):
    """Link a name re-exported by a package (``symkernel.numerics.Result``) to where it is defined.

    Every object is documented once, in the module that defines it; docstrings often name it by
    its shorter public path, which Sphinx would otherwise leave unlinked.
    """
    if node.get("refdomain") != "py" or node.get("refspecific"):
        return None
    target = node["reftarget"]
    module = node.get("py:module")
    for path in ([target, f"{module}.{target}"] if module else [target]):
        if path.split(".")[0] != "symkernel":
            continue
        obj = _locate(path)
        if inspect.ismodule(obj):
            canonical = obj.__name__
        elif getattr(obj, "__module__", None) and getattr(obj, "__qualname__", None):
            canonical = f"{obj.__module__}.{obj.__qualname__}"
        else:
            continue
        if canonical != path and canonical.startswith("symkernel."):
            domain = env.domains["py"] if hasattr(env, "domains") else env.get_domain("py")
            found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                        canonical, node, contnode)
            if found is not None:
                return found
    return None


#: The sections of docs/theory.md, as its labels: docstrings cite "docs/theory.md §4".
#: Read off the page itself (each numbered section ``## N. ...`` is preceded by its label line
#: ``(theory-...)=``), so a new section needs no entry here.
THEORY_SECTIONS = dict(
    (number, label) for label, number in re.findall(
        r"^\((theory-[\w-]+)\)=\s*\n## (\d+)\.",
        (pathlib.Path(__file__).parent / "theory.md").read_text(encoding="utf-8"), re.M))
_THEORY_CITATION = re.compile(r"docs/theory\.md §(\d+)")


def _link_theory_citations(app, doctree, docname):
    """Turn "docs/theory.md §N" in rendered docstrings into a link to that section."""
    from docutils import nodes

    if not hasattr(app.builder, "get_relative_uri"):
        return
    theory = app.builder.get_relative_uri(docname, "theory")
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if isinstance(parent, (nodes.literal_block, nodes.raw, nodes.reference, nodes.doctest_block)):
            continue
        pieces, last = [], 0
        for match in _THEORY_CITATION.finditer(text):
            label = THEORY_SECTIONS.get(match.group(1))
            if label is None:
                continue
            pieces += [nodes.Text(text[last:match.start()]),
                       nodes.reference("", match.group(0), internal=True,
                                       refuri=f"{theory}#{label}")]
            last = match.end()
        if pieces:
            pieces.append(nodes.Text(text[last:]))
            parent.replace(text, pieces)


def setup(app):
    app.connect("missing-reference", _resolve_reexport)
    app.connect("doctree-resolved", _link_theory_citations)
