"""Rows shared between two processes (symkernel.papers.forked_rows, ``symkernel tables``): the
same results in the same order as in series, errors raised here, a dead child's rows redone."""
import os
import time

import mpmath
import pytest

from symkernel.errors import InvalidInputError
from symkernel.papers import joudaki_hofmann_2025
from symkernel.papers.forked_rows import _fork_context, forked_map

pytestmark = pytest.mark.skipif(_fork_context() is None, reason="no fork on this platform")


def _wait_for(marker, timeout=60.0):
    """Block until ``marker`` exists (the child has begun an item): no timing assumption."""
    end = time.monotonic() + timeout
    while not marker.exists() and time.monotonic() < end:
        time.sleep(0.01)


def _square_with_pid(parent, marker):
    def fn(item):
        if os.getpid() == parent:
            _wait_for(marker)       # leave the child some items, however slowly it starts
        else:
            marker.touch()
        return item * item, os.getpid()
    return fn


def test_same_results_in_order_from_two_processes(tmp_path):
    parent = os.getpid()
    out = forked_map(_square_with_pid(parent, tmp_path / "child"), range(12), workers=2)
    assert [v for v, _ in out] == [i * i for i in range(12)]
    assert any(pid != parent for _, pid in out)       # the child did (part of) the work
    series = forked_map(_square_with_pid(parent, tmp_path / "child"), range(5), workers=1)
    assert series == [(i * i, parent) for i in range(5)]


def test_an_error_in_the_child_is_raised_here(tmp_path):
    parent = os.getpid()
    marker = tmp_path / "child"

    def fn(item):
        if os.getpid() != parent:
            marker.touch()
            raise InvalidInputError(f"bad item {item}")
        _wait_for(marker)
        return item
    with pytest.raises(InvalidInputError, match="bad item"):
        forked_map(fn, range(8), workers=2)


def test_a_child_that_dies_leaves_its_rows_to_this_process():
    parent = os.getpid()
    seen = []

    def fn(item):
        if os.getpid() != parent:
            os._exit(3)                 # dies without a word
        time.sleep(0.02)
        return -item
    out = forked_map(fn, range(6), workers=2, on_result=lambda i, r: seen.append(i))
    assert out == [-i for i in range(6)] and sorted(seen) == list(range(6))


def test_table_s1_rows_in_two_processes_match_the_series_rows():
    names = ["tanh", "sigmoid", "exp"]
    series = joudaki_hofmann_2025.table_s1_rows(dps=30, names=names)
    forked = joudaki_hofmann_2025.table_s1_rows(dps=30, names=names, workers=2, digits=15)
    assert [r["name"] for r in forked] == ["tanh", "sigmoid", "exp"]
    for a, b in zip(series, forked):
        assert a["differs"] == b["differs"] and a["reason"] == b["reason"]
        with mpmath.workdps(30):
            assert all(u == v for u, v in zip(a["values"], b["values"]))
        for qa, qb in zip(a["derived"][:-1], b["derived"][:-1]):   # a table at 15 digits asks 20
            assert mpmath.almosteq(qa.value(20), qb.value(20), 1e-19)


def test_a_result_that_does_not_pickle_is_computed_here():
    parent = os.getpid()

    def fn(item):
        if os.getpid() == parent:
            time.sleep(0.05)
            return item, parent
        return item, (lambda: item)          # a closure: cannot be sent back
    out = forked_map(fn, range(6), workers=2)
    assert out == [(i, parent) for i in range(6)]


def test_cli_tables_stay_clean_when_a_row_fails(monkeypatch, capsys):
    """A row that raises (here or in the forked process) is one error line, exit status 2."""
    from symkernel.cli import main

    def broken(name, dps):
        raise InvalidInputError(f"row {name} cannot be computed")
    monkeypatch.setattr(joudaki_hofmann_2025, "_derived", broken)
    assert main(["tables", "--only", "S.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symkernel: error: row ") and err.count("\n") == 1 and "Traceback" not in err
