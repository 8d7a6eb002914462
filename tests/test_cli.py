"""The command line: output, JSON schema, and one-line errors."""
import json
import subprocess
import sys

import pytest

from symkernel.cli import main


def test_tables_reproduce_seed001(capsys):
    assert main(["tables"]) == 0
    out = capsys.readouterr().out
    assert "Table 2" in out and "Table B.1" in out
    assert "[DIFF]" not in out.split("Table S.1")[0]


def test_coeffs_json_schema(capsys):
    assert main(["coeffs", "relu", "-K", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["activation"] == "relu" and data["dps"] == 15
    first = data["quantities"][1]
    assert first == {"symbol": "c_{1}", "exact": True, "provenance": first["provenance"], "value": "0.5",
                     "expr": "1/2", "latex": r"\frac{1}{2}"}


def test_beta_numeric_with_digits(capsys):
    assert main(["beta", "tanh", "--dps", "25"]) == 0
    assert "1.069530076384705071353816" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["beta", "exp(x**2)"], ["coeffs", "softmax"], ["beta", "x +"]])
def test_bad_input_is_one_line_and_exit_code_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symkernel: error:") and err.count("\n") == 1


def test_console_entry_point_runs_as_module():
    done = subprocess.run([sys.executable, "-m", "symkernel", "beta", "relu"], capture_output=True, text=True)
    assert done.returncode == 0 and "1.26652889653787" in done.stdout
