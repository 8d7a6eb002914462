"""Benchmark: SELU and ELU(alpha = 2) on the fused path (issue 14; docs/theory.md §33).

Network: ``(Dense(1.5, 0.05) -> phi) x L -> Dense(1.5, 0.05)`` (chaotic, chi_1 = 1.13), random
inputs (``d = 10``, seeded).  Prints, in one run, wall and CPU seconds and ns of CPU per entry and
layer of:

1. SELU on 1000 x 1000 pairs at L = 100, fused, with ``x1 != x2`` and with ``x2`` omitted (the
   triangle), beside ELU (alpha = 1, :func:`symkernel.nn.fused._elu_rows`) on the same pairs;
2. the NumPy path (``fused=False``, which carries the angle too) on 200 x 200 pairs, extrapolated
   to 1000 x 1000 by the number of entries, and the largest relative difference fused - NumPy there;
3. the ordered phase ``Dense(0.6, 0.1) -> SELU`` (chi_1 = 0.76: every pair's ``1 - rho`` falls
   below 1/20, so every entry takes the gap integral), 200 x 200 at L = 100, fused and NumPy.

    python benchmarks/selu_fused.py [--quick]      (--quick: 400 x 400 instead of 1000 x 1000)
"""
import argparse
import time

import numpy as np

import symkernel as sk
from symkernel.nn import fused


def _net(act, depth, w=1.5, b=0.05):
    return sk.nn.serial(sk.nn.repeat(sk.nn.serial(sk.nn.Dense(w, b), sk.nn.Activation(act)), depth),
                        sk.nn.Dense(w, b))


def _time(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def _line(label, wall, cpu, entries, depth):
    print(f"{label:44s} wall {wall:7.2f} s  CPU {cpu:7.2f} s  {1e9 * cpu / (entries * depth):7.1f} ns/entry/layer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, depth = (400 if args.quick else 1000), 100
    rng = np.random.default_rng(0)
    X1, X2 = rng.standard_normal((n, 10)), rng.standard_normal((n, 10))
    selu, elu = _net("selu", depth), _net("elu", depth)
    assert fused.plan(selu)[0] == fused._ELUS and fused.plan(elu)[0] == fused._ELU
    selu.kernel(X1[:2], X2[:2])                        # compile (cached on disk) outside the timings
    elu.kernel(X1[:2], X2[:2])
    print(f"threads {fused.THREADS}; {n} x {n} pairs, L = {depth}")
    for label, net in (("SELU fused, x1 != x2", selu), ("ELU fused, x1 != x2", elu)):
        k, wall, cpu = _time(lambda: net.kernel(X1, X2))
        _line(label, wall, cpu, n * n, depth)
    for label, net in (("SELU fused, triangle (x2 omitted)", selu), ("ELU fused, triangle", elu)):
        k, wall, cpu = _time(lambda: net.kernel(X1))
        _line(label, wall, cpu, n * (n + 1) / 2, depth)
    m = 200
    kf, wall, cpu = _time(lambda: selu.kernel(X1[:m], X2[:m]))
    _line(f"SELU fused, {m} x {m}", wall, cpu, m * m, depth)
    kn, wall, cpu = _time(lambda: selu.kernel(X1[:m], X2[:m], fused=False))
    _line(f"SELU NumPy path, {m} x {m}", wall, cpu, m * m, depth)
    print(f"  NumPy path extrapolated to {n} x {n}: CPU {cpu * n * n / (m * m):.0f} s")
    print(f"  fused - NumPy: NNGP {np.max(np.abs(kf.nngp / kn.nngp - 1)):.1e}, "
          f"NTK {np.max(np.abs(kf.ntk / kn.ntk - 1)):.1e} (largest relative difference)")
    ordered = _net("selu", depth, 0.6, 0.1)
    Xo = X1[:m]
    kf, wall, cpu = _time(lambda: ordered.kernel(Xo, X2[:m]))
    _line(f"ordered SELU fused, {m} x {m} (all gaps integrated)", wall, cpu, m * m, depth)
    kn, wall, cpu = _time(lambda: ordered.kernel(Xo, X2[:m], fused=False))
    _line(f"ordered SELU NumPy path, {m} x {m}", wall, cpu, m * m, depth)
    print(f"  fused - NumPy: NNGP {np.max(np.abs(kf.nngp / kn.nngp - 1)):.1e}, "
          f"NTK {np.max(np.abs(kf.ntk / kn.ntk - 1)):.1e}")


if __name__ == "__main__":
    main()
