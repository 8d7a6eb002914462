r"""An opt-in on-disk cache of expensive numeric values (kernel values, Gaussian expectations).

Off by default.  Turn it on for a process with the environment variable ``SYMKERNEL_CACHE`` (a
directory), or in code with :func:`enable` / the :func:`disk_cache` context manager.  Values are
stored in one SQLite file, ``values.sqlite`` in that directory, safe to share between the
processes of a parameter sweep.

What is stored is what the evaluator returned: the value and its error bound, bit for bit (mpf
mantissa and exponent, never a decimal rounding), whether the bound is proven, and the method.  A
value stored at ``d`` digits serves every request for ``d`` or fewer; a request for more digits
computes anew and stores the result.  The key of a value is the SHA-256 of what it is the value
*of* (the evaluator's name and its exact inputs as SymPy ``srepr`` strings) together with a hash
of the package's source code: any change to symkernel's code starts a fresh cache, so a fixed
bug never serves its old numbers.  The cache reads nothing but integers and short strings back
(no pickle, no eval).

>>> import tempfile, symkernel as sk, mpmath
>>> with tempfile.TemporaryDirectory() as d, disk_cache(d) as cache:
...     v1 = sk.kernel_map("tanh")(0.3, dps=20)            # computed and stored
...     v2 = sk.kernel_map("tanh")(0.3, dps=20)            # read back
...     (v1 == v2, cache.stats()["hits"] >= 1, cache.stats()["stored"] >= 1)
(True, True, True)
"""
import hashlib
import os
import pathlib
import sqlite3
import threading
from contextlib import contextmanager

import mpmath

from symkernel.errors import InvalidInputError
from .precision import Result

#: Bump when the stored format changes.
FORMAT = 1
#: The environment variable that turns the cache on (a directory).
ENV = "SYMKERNEL_CACHE"

_STATE = {"cache": None, "env_checked": False}
_LOCK = threading.RLock()
_SOURCE_HASH = []


def source_hash():
    """SHA-256 of every ``.py`` file of the installed symkernel package (computed once)."""
    if not _SOURCE_HASH:
        root = pathlib.Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _SOURCE_HASH.append(h.hexdigest())
    return _SOURCE_HASH[0]


def cache_key(*parts):
    """The key of a value: SHA-256 over the format, the source hash and ``parts`` (strings, ints
    and tuples of them: what the value is the value of)."""
    def check(p):
        if isinstance(p, tuple):
            for q in p:
                check(q)
        elif isinstance(p, bool) or not isinstance(p, (str, int)):
            raise InvalidInputError(f"cache key parts must be strings, ints or tuples, got {p!r}")
    check(parts)
    return hashlib.sha256(repr((FORMAT, source_hash(), parts)).encode()).hexdigest()


def mpf_key(v):
    """An mpf as exact text: ``'m e'`` (mantissa, exponent), or ``inf``/``-inf``/``nan``."""
    v = mpmath.mpf(v) if not isinstance(v, mpmath.mpf) else v
    if mpmath.isinf(v) or mpmath.isnan(v):
        return str(v)
    sign, man, exp, _ = v._mpf_          # (mpf.man_exp drops the sign)
    return f"{-int(man) if sign else int(man)} {int(exp)}"


def _mpf_read(text):
    if text in ("+inf", "inf", "-inf", "nan"):
        return mpmath.mpf(text)
    man, exp = text.split()
    man, exp = int(man), int(exp)
    return mpmath.mp.make_mpf(mpmath.libmp.from_man_exp(man, exp))   # exact: no rounding


class DiskCache:
    """One SQLite file of values keyed by :func:`cache_key` and digits."""

    def __init__(self, directory):
        try:
            path = pathlib.Path(os.fspath(directory)).expanduser()
        except TypeError:
            raise InvalidInputError(f"the cache directory must be a path, got {directory!r}") from None
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInputError(f"cannot use {str(path)!r} as the cache directory: {exc}") from None
        self.path = path / "values.sqlite"
        self._local = threading.local()
        self._stats = {"hits": 0, "misses": 0, "stored": 0}
        with self._connection() as con:
            con.execute("CREATE TABLE IF NOT EXISTS value (key TEXT, dps INTEGER, value TEXT, "
                        "error TEXT, certified INTEGER, method TEXT, PRIMARY KEY (key, dps))")

    def _connection(self):
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=60)
            con.execute("PRAGMA journal_mode=WAL")
            self._local.con = con
        return con

    def get(self, key, dps):
        """The stored Result meeting ``dps`` digits (the fewest digits that do), or None."""
        row = self._connection().execute(
            "SELECT value, error, certified, method FROM value WHERE key = ? AND dps >= ? "
            "ORDER BY dps LIMIT 1", (key, int(dps))).fetchone()
        if row is None:
            self._stats["misses"] += 1
            return None
        self._stats["hits"] += 1
        return Result(_mpf_read(row[0]), _mpf_read(row[1]), bool(row[2]), str(row[3]))

    def put(self, key, dps, result):
        with self._connection() as con:
            con.execute("INSERT OR REPLACE INTO value VALUES (?, ?, ?, ?, ?, ?)",
                        (key, int(dps), mpf_key(result.value), mpf_key(result.error),
                         int(bool(result.certified)), str(result.method)))
        self._stats["stored"] += 1

    def clear(self):
        """Remove every stored value."""
        with self._connection() as con:
            con.execute("DELETE FROM value")

    def stats(self):
        """Counts of this process: ``hits``, ``misses``, ``stored``."""
        return dict(self._stats)

    def __len__(self):
        return self._connection().execute("SELECT COUNT(*) FROM value").fetchone()[0]


def enable(directory=None):
    """Turn the cache on (``directory`` default: ``$SYMKERNEL_CACHE`` or ``~/.cache/symkernel``);
    returns the :class:`DiskCache`."""
    if directory is None:
        directory = os.environ.get(ENV) or pathlib.Path.home() / ".cache" / "symkernel"
    with _LOCK:
        _STATE["cache"] = DiskCache(directory)
        _STATE["env_checked"] = True
        return _STATE["cache"]


def disable():
    """Turn the cache off (stored values stay on disk)."""
    with _LOCK:
        _STATE["cache"] = None
        _STATE["env_checked"] = True


def active():
    """The cache in use, or None (``$SYMKERNEL_CACHE`` is read on first use)."""
    with _LOCK:
        if not _STATE["env_checked"]:
            _STATE["env_checked"] = True
            if os.environ.get(ENV):
                _STATE["cache"] = DiskCache(os.environ[ENV])
        return _STATE["cache"]


@contextmanager
def disk_cache(directory):
    """Use a cache in ``directory`` inside the block; the previous setting is restored after."""
    with _LOCK:
        before = (_STATE["cache"], _STATE["env_checked"])
        cache = enable(directory)
    try:
        yield cache
    finally:
        with _LOCK:
            _STATE["cache"], _STATE["env_checked"] = before


def cached(parts, compute, dps):
    """``compute(dps)`` (a :class:`~symkernel.numerics.Result`), served from and stored in the
    active cache under :func:`cache_key` ``(*parts)``; no cache, no change.  ``parts`` may be a
    function returning them (built only when a cache is on); ``None`` means the value has no key
    (it is computed every time)."""
    cache = active()
    if cache is None:
        return compute(dps)
    if callable(parts):
        parts = parts()
    if parts is None:
        return compute(dps)
    key = cache_key(*parts)
    hit = cache.get(key, dps)
    if hit is not None:
        return hit
    result = compute(dps)
    if isinstance(result, Result):
        cache.put(key, dps, result)
    return result


__all__ = ["DiskCache", "cache_key", "cached", "mpf_key", "active", "enable", "disable", "disk_cache",
           "source_hash", "ENV", "FORMAT"]
