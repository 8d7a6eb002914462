"""The package is one layered house: imports go one way along the pipeline (DESIGN.md).

An AST scan of every module under ``symkernel/`` checks three rules:

(a) **one way**: a module imports only modules of its own layer or of the layers listed before it
    (errors < numerics < core < gaussian < coefficients < kernels < theory < simulate < validate
    < present < papers < the top-level modules ``symkernel``, ``cli``, ``__main__``,
    ``meanfield``, ``sde``, ``latex``, ``tables``), at module level or inside a function;
(b) **no hidden imports**: no symkernel module is imported inside a function or method, nor
    through ``__import__`` / ``importlib.import_module`` (optional third-party imports, such as
    matplotlib or torch, may stay inside functions);
(c) **no private names across packages**: a name starting with ``_`` (dunders aside) is imported,
    or read off an imported module (``checks._plt()``), only from a module of the importer's own
    top-level subpackage (``theory.meanfield.criticality`` may import ``theory.meanfield.maps._Root``;
    ``theory`` may not import ``kernels.arithmetic._q``).

Run ``python tests/test_layers.py`` to list every violation.
"""
import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "symkernel"

#: Layer of each top-level part of the package, in pipeline order.
LAYERS = ("errors", "numerics", "core", "gaussian", "coefficients", "kernels", "theory", "nn",
          "simulate", "validate", "present", "papers")
TOP = len(LAYERS)   # symkernel/__init__.py, __main__.py, cli.py, meanfield.py, sde.py, latex.py, tables.py

#: Exemptions: ``(module, rule) -> reason``; ``rule`` is "upward", "inner" or "private".  Each
#: entry must still be needed (the test fails on a stale one), so the list only shrinks.
EXEMPT = {}


def module_name(path, root=ROOT):
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def rank(module):
    """Layer rank of a ``symkernel`` module name (``TOP`` for the top-level modules)."""
    parts = module.split(".")
    if len(parts) == 1:
        return TOP
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else TOP


def subpackage(module):
    """``symkernel.theory.meanfield.maps`` -> ``theory``; a top-level module is its own part."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _resolve(node, module, is_package):
    """The absolute module an ImportFrom names (relative imports resolved)."""
    if not node.level:
        return node.module
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _dynamic_target(node):
    """``"symkernel.x"`` for ``__import__("symkernel.x")`` or ``importlib.import_module("symkernel.x")``."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    f = node.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    arg = node.args[0]
    if name in ("__import__", "import_module") and isinstance(arg, ast.Constant) \
            and isinstance(arg.value, str):
        return arg.value
    return None


def imports(source, module, is_package=False, known=frozenset()):
    """``[(line, target module, imported name or None, inside a function, dynamic)]`` of the
    symkernel imports in ``source``; ``from pkg import submodule`` targets the submodule."""
    tree = ast.parse(source)
    out = []

    def visit(node, inner):
        for child in ast.iter_child_nodes(node):
            nested = inner or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.split(".")[0] == "symkernel":
                        out.append((child.lineno, a.name, None, inner, False))
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(child, module, is_package)
                if target and target.split(".")[0] == "symkernel":
                    for a in child.names:
                        sub = f"{target}.{a.name}"
                        out.append((child.lineno, sub if sub in known else target, a.name, inner,
                                    False))
            else:
                dyn = _dynamic_target(child)
                if dyn and dyn.split(".")[0] == "symkernel":
                    out.append((child.lineno, dyn, None, inner, True))
            visit(child, nested)

    visit(tree, False)
    return out


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_attributes(source, module, is_package=False, known=frozenset()):
    """``[(line, module, name)]``: private names read off imported symkernel modules
    (``from symkernel.validate import resnet as checks`` ... ``checks._plt``)."""
    tree = ast.parse(source)
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, is_package)
            for a in node.names if target and target.split(".")[0] == "symkernel" else ():
                if f"{target}.{a.name}" in known:
                    bound[a.asname or a.name] = f"{target}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "symkernel" and a.asname:
                    bound[a.asname] = a.name
    return [(node.lineno, bound[node.value.id], node.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in bound and _private(node.attr)]


def violations(source, module, is_package=False, known=frozenset()):
    """``[(rule, message)]`` for one module's source."""
    found = []
    for line, target, name, inner, dynamic in imports(source, module, is_package, known):
        where = f"{module}:{line}"
        if rank(target) > rank(module):
            found.append(("upward", f"{where} imports {target} (a later layer)"))
        if inner or dynamic:
            how = "through __import__/import_module" if dynamic else "inside a function"
            found.append(("inner", f"{where} imports {target} {how}"))
        if name and _private(name) and subpackage(target) != subpackage(module):
            found.append(("private", f"{where} imports the private {target}.{name}"))
    for line, target, name in private_attributes(source, module, is_package, known):
        if subpackage(target) != subpackage(module):
            found.append(("private", f"{module}:{line} uses the private {target}.{name}"))
    return list(dict.fromkeys(found))   # one message per import statement and rule


def scan(root=ROOT):
    """``{(module, rule): [messages]}`` over the whole package."""
    paths = sorted(root.rglob("*.py"))
    known = frozenset(module_name(p, root) for p in paths)
    out = {}
    for p in paths:
        mod = module_name(p, root)
        for rule, msg in violations(p.read_text(), mod, p.name == "__init__.py", known):
            out.setdefault((mod, rule), []).append(msg)
    return out


def unexempted(found):
    return sorted(m for key, msgs in found.items() if key not in EXEMPT for m in msgs)


# ------------------------------------------------------------------------------------ the checker
def test_checker_flags_an_upward_import():
    src = "from symkernel.present.tables import Table\n"
    assert violations(src, "symkernel.theory.dynamics") == [
        ("upward", "symkernel.theory.dynamics:1 imports symkernel.present.tables (a later layer)")]
    assert violations(src, "symkernel.papers.joudaki_hofmann_2025") == []


def test_checker_flags_imports_inside_functions_and_dynamic_imports():
    src = ("import numpy\n"
           "def f():\n"
           "    import matplotlib\n"
           "    from symkernel.core import quantity\n"
           "    return __import__('symkernel').activation\n")
    known = {"symkernel.core.quantity"}
    rules = [r for r, _ in violations(src, "symkernel.kernels", is_package=True, known=known)]
    assert rules == ["inner", "upward", "inner"]   # quantity inside f; symkernel (top) via __import__


def test_checker_flags_private_names_of_another_subpackage_only():
    src = "from symkernel.kernels.arithmetic import _q\nfrom .maps import _Root, __all__\n"
    found = violations(src, "symkernel.theory.meanfield.criticality")
    assert found == [("private", "symkernel.theory.meanfield.criticality:1 imports the private "
                                 "symkernel.kernels.arithmetic._q")]


def test_checker_flags_private_names_read_off_a_module_of_another_subpackage():
    src = "from symkernel.validate import resnet as checks\nfig = checks._plt()\nchecks.law_check\n"
    known = {"symkernel.validate.resnet"}
    assert violations(src, "symkernel.papers.hayou_2023", known=known) == [
        ("private", "symkernel.papers.hayou_2023:2 uses the private symkernel.validate.resnet._plt")]
    assert violations(src, "symkernel.validate.networks", known=known) == []


def test_checker_resolves_relative_imports_and_submodules():
    assert rank("symkernel.errors") == 0 and rank("symkernel") == TOP
    assert rank("symkernel.numerics.arb") < rank("symkernel.core.quantity") < rank("symkernel.cli")
    src = "from .. import dynamics\nfrom ...present import latex\n"
    known = {"symkernel.theory.dynamics", "symkernel.present.latex"}
    found = violations(src, "symkernel.theory.meanfield.maps", known=known)
    assert [r for r, _ in found] == ["upward"] and "symkernel.present.latex" in found[0][1]


# ------------------------------------------------------------------------------------ the package
def test_scan_sees_the_whole_package():
    mods = {module_name(p) for p in ROOT.rglob("*.py")}
    assert {"symkernel", "symkernel.theory.dynamics", "symkernel.present.tables",
            "symkernel.papers"} <= mods
    for mod in mods:
        assert rank(mod) <= TOP


@pytest.mark.parametrize("rule", ["upward", "inner", "private"])
def test_package_imports_follow_the_layers(rule):
    found = {key: msgs for key, msgs in scan().items() if key[1] == rule}
    assert unexempted(found) == []


def test_every_exemption_is_still_needed():
    found = scan()
    assert [key for key in EXEMPT if key not in found] == []


if __name__ == "__main__":
    result = scan()
    bad = unexempted(result)
    print("\n".join(bad) if bad else "no violations")
    for key, why in EXEMPT.items():
        print(f"exempt {key[0]} ({key[1]}, {len(result.get(key, []))} imports): {why}")
    sys.exit(1 if bad else 0)
