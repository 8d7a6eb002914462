"""The command line: output, the JSON schema, and one-line errors (exit 2, never a traceback)."""

import json
import subprocess
import sys

import pytest

from symkernel.cli import SCHEMA, main


def test_tables_reproduce_joudaki_daneshmand_bach_2023(capsys):
    assert main(["tables", "--only", "Joudaki, Daneshmand & Bach (NeurIPS 2023)"]) == 0
    out = capsys.readouterr().out
    assert "Table 2" in out and "Table B.1" in out and "Table S.1" not in out
    assert "[DIFF]" not in out and out.count("[OK]") == 9
    assert out.strip().endswith("0 of 9 rows in 2 tables disagree with the published values.")


def test_tables_json_and_markdown(capsys):
    assert main(["tables", "--json", "--only", "Joudaki, Daneshmand & Bach (NeurIPS 2023)"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == SCHEMA and data["command"] == "tables"
    t2 = data["tables"][0]
    assert t2["columns"][:3] == ["activation", "beta (derived)", "beta (published)"]
    relu = [r for r in t2["rows"] if r[0] == "max(x,0)"][0]
    assert relu[3] == "1.26652889653787"
    assert main(["tables", "--markdown", "--only", "table 2"]) == 0
    assert r"| $\max(x,0)$ |" in capsys.readouterr().out


def test_tables_latex_standalone(capsys):
    assert (
        main(["tables", "--latex", "--standalone", "--notation", "joudaki_daneshmand_bach_2023", "--only", "Joudaki, Daneshmand & Bach (NeurIPS 2023)"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(r"\documentclass") and r"\toprule" in out and r"\mathrm{He}_{2}(x)" in out


def test_coeffs_json_schema(capsys):
    assert main(["coeffs", "relu", "-K", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == SCHEMA and data["command"] == "coeffs"
    assert data["activation"] == "relu" and data["sigma"] == "Max(0, x)" and data["dps"] == 15
    first = data["quantities"][1]
    assert first == {
        "name": "c_1",
        "symbol": "c_{1}",
        "exact": True,
        "kind": "exact",
        "provenance": first["provenance"],
        "value": "0.5",
        "expr": "1/2",
        "latex": r"\frac{1}{2}",
    }


def test_numeric_json_records_say_kind_and_error(capsys):
    assert main(["beta", "tanh", "--dps", "30", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)["quantities"][0]
    assert record["kind"] == "certified" and record["provenance"].startswith("certified")
    assert not record["exact"] and float(record["error"]) < 1e-30


def test_beta_numeric_with_digits(capsys):
    assert main(["beta", "tanh", "--dps", "25"]) == 0
    assert "1.069530076384705071353816" in capsys.readouterr().out


def test_symbolic_gain_prints_table_b1_form_in_latex(capsys):
    assert main(["beta", "exp", "--gain", "alpha", "--latex"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == (
        r"\beta_{\sigma} = - \frac{\alpha^{2} - 2 e^{\alpha^{2}} + 2}{e^{\alpha^{2}} - 1}"
    )


def test_kernel_values_exact_and_numeric_paths(capsys):
    assert main(["kernel", "relu", "--rho", "0.5", "--dps", "25", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kernel"]["exact"] and data["values"][0]["value"] == "0.6089977810442293580889966"
    # tanh has no closed form: the numeric path must give kappa(1/2), not kappa(0) = 0
    assert main(["kernel", "tanh", "--rho", "1/2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert not data["kernel"]["exact"]
    assert abs(float(data["values"][0]["value"]) - 0.472551399375243) < 1e-14


def test_dynamics_case_and_sequence(capsys):
    assert main(["dynamics", "relu", "--rho0", "0.2", "--depth", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["case"] == 3
    by_name = {q["name"]: q for q in data["quantities"]}
    assert by_name["rate"]["expr"] == "1/2 - 1/pi" and by_name["rho*"]["expr"] == "1"
    assert len(data["sequence"]) == 3 and data["sequence"][0] == 0.2


def test_meanfield_and_eoc(capsys):
    assert main(["meanfield", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "1.68282838870" in out and "15.790994034" in out
    assert main(["eoc", "relu", "--sigma-b2", "0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["quantities"][0]["expr"] == "2"


def test_check_two_paths_and_simulation(capsys):
    assert (
        main(
            [
                "check",
                "relu",
                "-K",
                "3",
                "--dps",
                "20",
                "--simulate",
                "--width",
                "128",
                "--depth",
                "2",
                "--seeds",
                "3",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and all(c["digits"] >= 19 for c in data["checks"])
    assert [c["name"] for c in data["checks"]] == ["c_0", "c_1", "c_2", "E[sigma^2]", "beta"]
    assert data["simulation"]["ok"] and len(data["simulation"]["theory"]) == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["beta", "exp(x**2)"],
        ["coeffs", "softmax"],
        ["beta", "x +"],
        ["coeffs", "relu", "-K", "0"],
        ["beta", "relu", "--gain", "-1"],
        ["beta", "relu", "--gain", "two"],
        ["kernel", "relu", "--rho", "2"],
        ["kernel", "step", "--which", "derivative"],
        ["eoc", "relu"],
        ["beta", "relu", "--dps", "0"],
        ["nonsense"],
        [],
        ["beta", "relu", "--notation", "klingon"],
        ["beta", "relu", "--json", "--latex"],
        ["tables", "--only", "seed 999"],
        # numbers that are no numbers, or whose size alone would hang (issue: bad input)
        ["kernel", "tanh", "--rho", "1/0"],
        ["beta", "relu", "--gain", "1/0"],
        ["meanfield", "tanh", "--sigma-w2", "1/0"],
        ["beta", "relu", "--gain", "1e999999999"],
        ["beta", "relu", "--gain", "1e-999999999"],
        ["kernel", "tanh", "--rho", "1e-999999999"],
        ["meanfield", "tanh", "--sigma-w2", "1e999999999"],
        ["meanfield", "tanh", "--sigma-w2", "0"],
        ["coeffs", "relu", "-K", "1000000"],
        ["dynamics", "relu", "--depth", "1000000000", "--rho0", "0.5"],
        ["check", "relu", "--simulate", "--width", "100000000"],
        ["check", "relu", "--simulate", "--depth", "10000000"],
        ["beta", "relu", "--dps", "1001"],
        # a mistyped registry parameter, a malformed one, a symbolic check
        ["beta", "leaky_relu", "--param", "slop=0.2"],
        ["beta", "leaky_relu", "--param", "slope"],
        ["check", "x**2", "--gain", "alpha"],
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse-level errors exit through parser.exit
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("symkernel: error:") and err.count("\n") == 1
    assert "Traceback" not in err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["kernel", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--dps" in out and "--json" in out and "--latex" in out


#: what --help and an argument error must not import (issue 11.5: they took seconds)
HEAVY = ("sympy", "mpmath", "numpy", "scipy", "flint", "matplotlib", "torch")
_PROBE = """
import sys
from symkernel.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1].split(',')))
layers = sorted(m for m in sys.modules if m.startswith('symkernel.') and m not in
                ('symkernel.cli', 'symkernel.errors'))
print(heavy, layers)
"""


@pytest.mark.parametrize("argv", [["--help"], ["kernel", "--help"], ["beta", "relu", "--dps", "0"],
                                  ["beta"], ["beta", "relu", "--notation", "klingon"],
                                  ["meanfield", "tanh", "--sigma-w2", "two"]])
def test_help_and_argument_errors_import_no_heavy_module(argv):
    """``symkernel --help`` and a bad option answer before SymPy, NumPy or any layer is imported
    (checked on sys.modules in a fresh interpreter; the time is in benchmarks/startup.py)."""
    done = subprocess.run([sys.executable, "-c", _PROBE, ",".join(HEAVY), *argv],
                          capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "[] []", done.stdout + done.stderr
    answered = "usage: symkernel" in done.stdout or done.stderr.startswith("symkernel: error:")
    assert answered, done.stdout + done.stderr   # it answered, not failed on the way


def test_first_use_of_a_public_name_loads_the_package():
    done = subprocess.run(
        [sys.executable, "-c", "import sys, symkernel as sk; a = 'sympy' in sys.modules; "
         "sk.x; print(a, 'sympy' in sys.modules, 'symkernel.present.display' in sys.modules, "
         "sorted(set(sk.__all__) - set(dir(sk))))"], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True", "True", "[]"], done.stdout + done.stderr


def test_every_lazy_public_name_resolves():
    """The table behind ``symkernel.__getattr__`` (PEP 562) names public objects only, each one
    importable; tests/test_layers.py cannot see through ``importlib``, so this checks it."""
    import importlib

    import symkernel as sk

    assert set(sk.__all__) <= set(sk._API) and not [n for n in sk._API if n.startswith("_")]
    for name, (module, attribute) in sk._API.items():
        found = importlib.import_module(module)
        assert module.startswith("symkernel.") and not (attribute or "").startswith("_")
        # (through __getattr__ itself: importing the deprecated shim symkernel/latex.py binds
        # sk.latex to the shim, as it always did)
        expected = found if attribute is None else getattr(found, attribute)
        assert sk.__getattr__(name) is expected


def test_cli_notation_names_are_the_latex_notations():
    from symkernel.cli import NOTATIONS
    from symkernel.present.latex import NOTATIONS as KNOWN

    assert NOTATIONS == tuple(sorted(KNOWN))


def test_console_entry_point_runs_as_module():
    done = subprocess.run(
        [sys.executable, "-m", "symkernel", "beta", "relu"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "1.26652889653787" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "symkernel", "beta", "softmax"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


def _readme_console_examples():
    """``(command, expected lines)`` for each ``$ symkernel ...`` line of the README."""
    import pathlib
    import shlex

    text = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    examples = []
    for block in text.split("```console")[1:]:
        for chunk in block.split("```")[0].split("\n$ ")[0:]:
            lines = [line for line in chunk.strip("\n").lstrip("$ ").splitlines()]
            if lines and lines[0].startswith("symkernel "):
                examples.append((shlex.split(lines[0])[1:], lines[1:]))
    return examples


README_EXAMPLES = _readme_console_examples()


def test_readme_has_console_examples():
    assert len(README_EXAMPLES) >= 6


@pytest.mark.parametrize(
    "argv, expected", README_EXAMPLES, ids=[" ".join(a) for a, _ in README_EXAMPLES]
)
def test_readme_console_example(argv, expected, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    got = (captured.out + captured.err).rstrip("\n").splitlines()
    assert status == (2 if captured.err else 0)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        if e.endswith("..."):
            assert g.startswith(e[:-3])
        else:
            assert g.rstrip() == e.rstrip()


def test_registry_parameter_and_gain_in_the_expression(capsys):
    """--param reaches the registry (slope was silently 0.01); 'tanh(alpha*x)' is --gain alpha."""
    import sympy as sp

    import symkernel as sk

    assert main(["beta", "leaky_relu", "--param", "slope=1/5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = sk.isometry_strength("leaky_relu", slope=sp.Rational(1, 5))
    assert data["quantities"][0]["expr"] == sp.sstr(expected.expr)
    assert main(["beta", "exp(alpha*x)", "--json"]) == 0
    written = json.loads(capsys.readouterr().out)["quantities"][0]["expr"]
    assert main(["beta", "exp", "--gain", "alpha", "--json"]) == 0
    gained = json.loads(capsys.readouterr().out)["quantities"][0]["expr"]
    assert sp.simplify(sp.sympify(written) - sp.sympify(gained)) == 0  # test side: trusted text


def test_meanfield_q0_selects_the_starting_length(capsys):
    assert main(["meanfield", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05", "--q0", "0.1",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["q0"] == "1/10"


def test_internal_error_is_one_line_with_status_3(monkeypatch, capsys):
    """An exception that is not a package error is a bug: said so, in one line, status 3."""
    import symkernel.cli as cli

    def broken(args):
        raise ZeroDivisionError("boom")

    monkeypatch.delenv("SYMKERNEL_TRACEBACK", raising=False)
    monkeypatch.setitem(cli.COMMANDS, "beta", ("beta", broken) + cli.COMMANDS["beta"][2:])
    assert main(["beta", "relu"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("symkernel: internal error") and "ZeroDivisionError: boom" in err
    assert err.count("\n") == 1


def test_meanfield_at_the_edge_of_chaos_prints_an_infinite_depth_scale(capsys):
    assert main(["meanfield", "relu", "--sigma-w2", "2"]) == 0
    out = capsys.readouterr().out
    assert "xi_c         oo   [exact]" in out
    assert main(["meanfield", "relu", "--sigma-w2", "2", "--json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)["quantities"]}
    assert records["xi_c"]["expr"] == "oo" and records["xi_c"]["value"] == "+inf"


def test_a_reader_that_goes_away_stops_the_command_quietly():
    """``symkernel tables | head -1`` once ended with 'internal error (a bug...): BrokenPipeError'
    and status 3; a closed pipe is the reader's choice: no message, status 141 (128 + SIGPIPE)."""
    run = subprocess.run(["bash", "-c", f"'{sys.executable}' -m symkernel tables --only Daneshmand "
                          "| head -1; echo \"status ${PIPESTATUS[0]}\" >&2"],
                         capture_output=True, text=True, timeout=300)
    assert run.stdout.count("\n") == 1
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert "status 141" in run.stderr or "status 0" in run.stderr, run.stderr
