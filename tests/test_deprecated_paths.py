"""The import paths the README documented before the layout by pipeline keep working for one
release, each with a DeprecationWarning that names the new place."""
import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("old, new, name", [
    ("symkernel.latex", "symkernel.present.latex", "latex"),
    ("symkernel.tables", "symkernel.present.tables", "Table"),
])
def test_old_module_paths_warn_and_work(old, new, name):
    # a fresh interpreter: the warning is raised when the shim is first imported
    code = (f"import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
            f"try:\n    import {old}\nexcept DeprecationWarning as w:\n    print('warned:', w)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"warned: {old} is now {new}" in out.stdout
    with pytest.warns(DeprecationWarning):
        module = importlib.reload(importlib.import_module(old))
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_old_table_function_names_still_build_the_tables():
    with pytest.warns(DeprecationWarning):
        tables = importlib.reload(importlib.import_module("symkernel.tables"))
    assert tables.seed001_table2().title.startswith("Joudaki, Daneshmand & Bach (NeurIPS 2023), Table 2")


def test_sk_seed000_is_the_joudaki_hofmann_module():
    import symkernel as sk

    with pytest.warns(DeprecationWarning, match="renamed symkernel.joudaki_hofmann_2025"):
        module = sk.seed000
    assert module is sk.joudaki_hofmann_2025
    with pytest.raises(AttributeError):
        sk.seed999
