"""Benchmark: the compiled Mehler path (symkernel.nn.mehler_fused) at large variances, beside the
NumPy path (``fused=False``) measured in the same run (docs/theory.md §20, §24, §28).

Networks whose variances reach 1e5 to 1e7 (inputs of size ~1e3, or a Dense with sigma_w^2 = 1e6 or
1e7), tanh, softplus and SiLU (no closed form: Mehler's series).  For each case it prints the
path the default call took, its time and the NumPy path's (best of ``--repeat``, wall and CPU
seconds; every call on inputs scaled by a new factor 1 + k 2^-40, so that no coefficient table
remembered from an earlier call is reused), their ratio (default / NumPy: below 1 is faster), and
on one call with the same inputs the largest difference between the two, relative to the largest
entry and in units of the NumPy path's own per-entry error estimate (``errors=True``).

BLAS runs single-threaded (set before NumPy loads; an OpenBLAS pool spinning beside the compiled
loop's threads moves the times with the machine's load).

    python benchmarks/mehler_large_q.py [--repeat 3] [--quick]
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse       # noqa: E402
import time           # noqa: E402

import numpy as np    # noqa: E402

import symkernel as sk  # noqa: E402
from symkernel.nn import fused  # noqa: E402


def _stack(act, depth, sw2=1.5, sb2=0.05):
    block = sk.nn.serial(sk.nn.Dense(sw2, sb2), sk.nn.Activation(act))
    return sk.nn.serial(sk.nn.repeat(block, depth), sk.nn.Dense(sw2, sb2))


def _middle(act, w):
    """``Dense(1.5, 0.1) -> phi -> Dense(w, 0) -> phi -> Dense(1.5, 0.05) -> phi -> Dense``."""
    D, A = sk.nn.Dense, sk.nn.Activation
    return sk.nn.serial(D(1.5, 0.1), A(act), D(w, 0.0), A(act), D(1.5, 0.05), A(act), D(1.0, 0.0))


def _first(act):
    """``Dense(1e6, 0) -> phi -> Dense(1.5, 0.05) -> phi -> Dense(1, 0)``."""
    D, A = sk.nn.Dense, sk.nn.Activation
    return sk.nn.serial(D(1e6, 0.0), A(act), D(1.5, 0.05), A(act), D(1.0, 0.0))


def cases(quick):
    """``(label, net, X, tol)``: tol at or above where the NumPy path's own estimate passes; the
    last case sits between the NumPy path's estimate (5e-8) and what the compiled path's scalar
    bound meets: the default call tries it, refuses, and runs the NumPy path."""
    rng = np.random.default_rng(0)
    n = 100 if quick else 200
    out = []
    for act in ("tanh", "softplus"):
        out.append((f"{act}, inputs x 1e3, depth 10, {n} inputs", _stack(act, 10),
                    1e3 * rng.standard_normal((n, 8)), 1e-6))
    for act in ("tanh", "softplus", "silu"):
        w = 1e7 if act == "tanh" else 1e6
        out.append((f"{act}, Dense({w:.0e}, 0) in the middle, 30 inputs", _middle(act, w),
                    rng.standard_normal((30, 3)), 1.0))
    for act, tol in (("tanh", 1e-10), ("softplus", 1e-11)):
        X = rng.standard_normal((70, 50)) * rng.uniform(0.5, 2.0, 70)[:, None]
        out.append((f"{act}, Dense(1e6, 0) first, 70 inputs", _first(act), X, tol))
    out.append((f"tanh, inputs x 1e3, depth 10, {n} inputs, tol 1e-7", out[0][1], out[0][2], 1e-7))
    return out


def _timed(fn, X, repeat, counter):
    """Best wall and CPU seconds of ``fn(X')`` over ``repeat`` calls, ``X'`` a fresh scaling."""
    wall = cpu = np.inf
    out = None
    for _ in range(repeat):
        counter[0] += 1
        Xs = X * (1 + counter[0] * 2.0 ** -40)
        t, c = time.perf_counter(), time.process_time()
        out = fn(Xs)
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return out, wall, cpu


def main(repeat, quick):
    if not fused.available():
        print("numba is not installed: no compiled path to measure")
        return
    counter = [0]
    print(f"{'case':52s} {'path':6s} {'default':>15s} {'NumPy path':>15s} {'ratio':>6s} "
          f"{'max diff':>9s} {'/ est':>6s}")
    for label, net, X, tol in cases(quick):
        net.kernel(X[:12], tol=1.0)                     # compile, lambdify, first tables
        k, w1, c1 = _timed(lambda Z: net.kernel(Z, tol=tol), X, repeat, counter)
        _, w0, c0 = _timed(lambda Z: net.kernel(Z, tol=tol, fused=False), X, repeat, counter)
        got = net.kernel(X, tol=tol)
        ref = net.kernel(X, tol=tol, fused=False, errors=True)
        rel = max(np.max(np.abs(got.nngp - ref.nngp)) / np.max(np.abs(ref.nngp)),
                  np.max(np.abs(got.ntk - ref.ntk)) / np.max(np.abs(ref.ntk)))
        units = max(np.max(np.abs(got.nngp - ref.nngp) / ref.nngp_error),
                    np.max(np.abs(got.ntk - ref.ntk) / ref.ntk_error))
        path = "fused" if "fused" in k.method else "NumPy"
        print(f"{label:52s} {path:6s} {w1:6.3f} s ({c1:5.2f}) {w0:6.3f} s ({c0:5.2f}) "
              f"{w1 / w0:6.2f} {rel:9.1e} {units:6.2f}", flush=True)
    print("times: wall seconds (CPU seconds); ratio: default / NumPy path (wall); max diff: "
          "relative to the largest entry; / est: in units of the NumPy path's per-entry estimate")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="100 inputs instead of 200")
    a = p.parse_args()
    main(a.repeat, a.quick)
