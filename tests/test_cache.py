"""The opt-in disk cache (issue 11 item 6): off by default, values served bit for bit, more digits
recomputed, any change of the package's code a fresh cache, shared between processes."""
import os
import subprocess
import sys
import textwrap

import mpmath
import pytest
from hypothesis import given, strategies as st

import symkernel as sk
from symkernel.errors import InvalidInputError
from symkernel.numerics import cache
from symkernel.numerics.precision import Result


@pytest.fixture(autouse=True)
def _no_cache_left_on():
    before = (cache._STATE["cache"], cache._STATE["env_checked"])
    yield
    cache._STATE["cache"], cache._STATE["env_checked"] = before


def test_off_by_default_in_a_fresh_process():
    env = {k: v for k, v in os.environ.items() if k != cache.ENV}
    out = subprocess.run([sys.executable, "-c", "from symkernel.numerics import cache; "
                          "print(cache.active())"], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "None"


def test_kernel_values_served_bit_for_bit_and_more_digits_recomputed(tmp_path):
    plain = sk.kernel_map("tanh").result(0.3, dps=20)          # no cache: the reference
    with cache.disk_cache(tmp_path) as c:
        first = sk.kernel_map("tanh").result(0.3, dps=20)
        stored = c.stats()["stored"]
        assert stored >= 1 and len(c) == stored
        again = sk.kernel_map("tanh").result(0.3, dps=20)       # a new Kernel object: from disk
        assert c.stats()["hits"] >= 1 and c.stats()["stored"] == stored
        fewer = sk.kernel_map("tanh")(0.3, dps=12)                # fewer digits: from the same row
        assert c.stats()["stored"] == stored
        more = sk.kernel_map("tanh")(0.3, dps=25)                 # more digits: computed, stored
        assert c.stats()["stored"] > stored
    assert (again.value, again.error, again.certified, again.method) == \
        (first.value, first.error, first.certified, first.method)
    # the reference was computed before anything was memoized: the same value, and a bound
    # equal up to the rounding of its own bookkeeping
    assert first.value == plain.value and first.certified == plain.certified
    assert abs(first.error - plain.error) <= plain.error * mpmath.mpf(10) ** -10
    assert fewer == mpmath.mpf(plain.rounded(12))
    assert abs(more - plain.value) <= plain.error + abs(more) * mpmath.mpf(10) ** -25
    assert cache.active() is None


def test_a_different_rho_or_activation_is_a_different_value(tmp_path):
    with cache.disk_cache(tmp_path):
        a = sk.dual_kernel("tanh")(0.3, dps=15)
        b = sk.dual_kernel("tanh")(0.31, dps=15)     # shares E sigma^2 and c_k rows with a
        d = sk.dual_kernel("tanh", gain=2)(0.3, dps=15)
        e = sk.dual_kernel("tanh")(mpmath.mpf(1) / 3, dps=15)
        f = sk.dual_kernel("tanh")("1/3", dps=15)      # the exact 1/3, not the binary one
    assert len({a, b, d, e}) == 4
    for got, act, r in ((a, "tanh", 0.3), (b, "tanh", 0.31), (e, "tanh", mpmath.mpf(1) / 3)):
        assert got == sk.dual_kernel(act)(r, dps=15)
    assert d == sk.dual_kernel("tanh", gain=2)(0.3, dps=15)
    assert f == sk.dual_kernel("tanh")("1/3", dps=15)


def test_expectations_are_cached_too(tmp_path):
    plain = sk.second_moment("softplus").result(30)
    with cache.disk_cache(tmp_path) as c:
        sk.second_moment("softplus").result(30)
        hits = c.stats()["hits"]
        got = sk.second_moment("softplus").result(30)
        assert c.stats()["hits"] == hits + 1
    assert got.value == plain.value and got.certified == plain.certified


def test_a_change_of_the_package_code_starts_a_fresh_cache(tmp_path, monkeypatch):
    with cache.disk_cache(tmp_path) as c:
        sk.dual_kernel("tanh")(0.4, dps=15)
        before = dict(c.stats())
        assert before["stored"] >= 1
        monkeypatch.setattr(cache, "_SOURCE_HASH", ["a different source tree"])
        sk.dual_kernel("tanh")(0.4, dps=15)
        assert c.stats()["hits"] == before["hits"]        # nothing served from the old code's rows
        assert c.stats()["stored"] > before["stored"]


def test_shared_between_processes_through_the_environment(tmp_path):
    script = textwrap.dedent("""
        import symkernel as sk, mpmath
        from symkernel.numerics import cache
        v = sk.kernel_map("softplus")(0.5, dps=20)
        print(mpmath.nstr(v, 20), cache.active().stats()["hits"], cache.active().stats()["stored"])
    """)
    env = dict(os.environ, **{cache.ENV: str(tmp_path)})
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(2)]
    assert runs[0][0] == runs[1][0]
    assert int(runs[0][2]) >= 1 and int(runs[1][1]) >= 1 and int(runs[1][2]) == 0


@given(st.integers(-10**40, 10**40), st.integers(-4000, 4000))
def test_stored_numbers_read_back_exactly(man, exp):
    v = mpmath.mp.make_mpf(mpmath.libmp.from_man_exp(man, exp))
    assert cache._mpf_read(cache.mpf_key(v)) == v
    for special in (mpmath.inf, -mpmath.inf):
        assert cache._mpf_read(cache.mpf_key(special)) == special


def test_rows_round_trip_with_their_bound_and_kind(tmp_path):
    c = cache.DiskCache(tmp_path)
    res = Result(mpmath.mpf(-2) / 3, mpmath.mpf(10) ** -40, True, "certified: test")
    c.put("k", 30, res)
    assert c.get("k", 31) is None
    got = c.get("k", 20)
    assert (got.value, got.error, got.certified, got.method) == (res.value, res.error, True,
                                                                 "certified: test")


def test_bad_keys_and_directories_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="strings, ints or tuples"):
        cache.cache_key("x", 1.5)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InvalidInputError, match="cache directory"):
        cache.DiskCache(blocker / "sub")
    with pytest.raises(InvalidInputError, match="must be a path"):
        cache.DiskCache(3)
