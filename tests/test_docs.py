"""The documentation builds: docs/ (theory page + API reference) with Sphinx, warnings as errors.

One test builds the site once, into a temporary directory, in a subprocess (the README's
command, with a copy of docs/ as the source so that the generated stubs stay out of the tree).
The last test needs no Sphinx: no file of the repository points to a notes file outside it.
"""
import html
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: the layers of the package in the order of the pipeline, then the facades and the command line
PIPELINE = ["errors", "numerics", "core", "gaussian", "coefficients", "kernels", "theory", "nn",
            "simulate", "validate", "present", "papers", "meanfield", "sde", "cli"]
PUBLIC = ["activation", "hermite_coefficient", "hermite_coefficients", "isometry_strength",
          "kernel_map", "dual_kernel", "kernel_dynamics", "mean_field", "depth_scales",
          "edge_of_chaos", "isometry", "Quantity", "Activation"]


def _present(name):
    return importlib.util.find_spec(f"symkernel.{name}") is not None


def _build(tmp):
    """Build docs/ (copied, so that the generated stubs stay out of the tree) into ``tmp/html``."""
    src, out = tmp / "src", tmp / "html"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_api", "_build", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp / "doctrees"), str(src), str(out)],
        cwd=tmp, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    assert "WARNING" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr[-8000:]
    return out


def _text(path):
    return path.read_text(encoding="utf-8")


def _check_public_names(site):
    page = _text(site / "_api" / "symkernel.html")
    for name in PUBLIC:
        assert f'id="symkernel.{name}"' in page, f"sk.{name} is not documented on the API page"
    # a docstring is rendered, not just the signature
    assert "normalized Hermite coefficient" in html.unescape(re.sub(r"<[^>]+>", "", page))


def _check_namespaces(site):
    for name in ["meanfield", "sde", "nn"]:
        if name == "nn" and not _present("nn"):
            continue
        page = site / "_api" / f"symkernel.{name}.html"
        assert page.is_file(), f"no page for sk.{name}"
        assert f'id="module-symkernel.{name}"' in _text(page)
    assert 'id="symkernel.meanfield.mean_squared_singular_value"' in _text(
        site / "_api" / "symkernel.meanfield.html")
    # the deprecated shims (they warn on import) are not documented
    assert not (site / "_api" / "symkernel.latex.html").exists()
    assert not (site / "_api" / "symkernel.tables.html").exists()


def _check_module_table(site):
    page = _text(site / "_api" / "symkernel.html")
    rows = re.findall(r'<tr class="row-(?:odd|even)"><td><p><a class="reference internal" '
                      r'href="([^"#]+)\.html#module-[^"]*".*?</td>\s*<td><p>(.*?)</p></td>', page, re.S)
    listed = [name for name, _ in rows if name.count(".") == 1]
    assert listed == [f"symkernel.{m}" for m in PIPELINE if _present(m)], "modules not in pipeline order"
    for name, summary in rows:
        assert re.sub(r"<[^>]+>", "", summary).strip(), f"{name} has no one-line module docstring"


def _check_theory(site):
    page = _text(site / "theory.html")
    for label in ["conventions", "kernels", "isometry", "dynamics", "meanfield", "sde"]:
        assert f'id="theory-{label}"' in page
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for citation in ["Joudaki & Hofmann, AISTATS 2025", "Joudaki, Daneshmand & Bach, NeurIPS 2023",
                     "Hayou, TMLR 2023", "Pabari & Zhou"]:
        assert citation in text
    # every cross-reference on the page resolves to the API reference
    xrefs = page.count('<code class="xref')
    linked = len(re.findall(r'<a class="reference internal" href="_api/[^"]*"[^>]*><code class="xref', page))
    assert xrefs > 10 and linked == xrefs, f"{xrefs - linked} unresolved cross-references on the theory page"
    # a docstring's "docs/theory.md §4" links to that section
    api = _text(site / "_api" / "symkernel.theory.dynamics.html")
    assert '<a class="reference internal" href="../theory.html#theory-dynamics">' in api


def test_docs_build(tmp_path):
    """One build (about 15 s): the API reference of every public name and the theory page."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    site = _build(tmp_path)
    _check_public_names(site)
    _check_namespaces(site)
    _check_module_table(site)
    _check_theory(site)


SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache",
             "build", "dist", "_build", "_api", "node_modules", ".ipynb_checkpoints"}
TEXT = {".py", ".md", ".rst", ".ipynb", ".toml", ".cfg", ".txt", ".json", ".tex", ".sh", ".yml",
        ".yaml", ".html", ""}


def test_nothing_points_to_notes_outside_the_repository():
    """The theory is docs/theory.md; the notes it was written from are not part of the repository."""
    needle = "MATH" + ".md"
    me = pathlib.Path(__file__).resolve()
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = pathlib.Path(folder, name)
            if path.suffix not in TEXT or path.resolve() == me:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            found += [f"{path.relative_to(ROOT)}:{i}" for i, line in enumerate(text.splitlines(), 1)
                      if needle in line]
    assert not found, f"cite docs/theory.md (by section) instead: {found}"


def test_every_theory_citation_names_a_labelled_section():
    """"docs/theory.md §N" in the package and notebooks names a section that exists and carries
    its label line ``(theory-...)=`` (the docs link citations by those labels)."""
    page = (DOCS / "theory.md").read_text(encoding="utf-8")
    numbered = set(re.findall(r"^## (\d+)\.", page, re.M))
    labelled = set(re.findall(r"^\(theory-[\w-]+\)=\s*\n## (\d+)\.", page, re.M))
    assert numbered == labelled, f"sections without a label line: {sorted(numbered - labelled)}"
    cited = {}
    for path in list((ROOT / "symkernel").rglob("*.py")) + list((ROOT / "notebooks").glob("*.ipynb")):
        for n in re.findall(r"docs/theory\.md §(\d+)", path.read_text(encoding="utf-8")):
            cited.setdefault(n, path.relative_to(ROOT))
    missing = {n: str(p) for n, p in cited.items() if n not in numbered}
    assert cited and not missing, f"citations of sections that do not exist: {missing}"
