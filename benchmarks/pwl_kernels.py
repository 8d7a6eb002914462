"""Time the closed form of piecewise-linear activations (symkernel.nn.pwl_kernels, docs/theory.md §34)
against the float64 Mehler series that PairKernel uses for them without it, in the same run.

One activation step of hardtanh on an n x n grid of entries (variances in [0.5, 2], correlations in
[-0.999, 0.999]): ``pwl_kernels`` (F, D and their estimates) against ``PairKernel.float_step``
(Mehler's series, F and D with its tail bounds), each after one warm-up call; prints seconds per
call, the ratio, and both largest error estimates.

    python benchmarks/pwl_kernels.py [--n 200] [--repeat 3]
"""
import argparse
import time

import numpy as np

from symkernel.nn.pair import pair_kernel
from symkernel.nn.pwl_kernels import pwl_kernels


def best_of(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    q1, q2 = rng.uniform(0.5, 2.0, args.n), rng.uniform(0.5, 2.0, args.n)
    r = rng.uniform(-0.999, 0.999, (args.n, args.n))
    c = r * np.sqrt(np.multiply.outer(q1, q2))
    Q1, Q2 = q1[:, None], q2[None, :]
    pk = pair_kernel("hardtanh")
    closed = best_of(lambda: pwl_kernels("hardtanh", Q1, Q2, c), args.repeat)
    series = best_of(lambda: pk.float_step(Q1, Q2, c), args.repeat)
    _, _, eF, eD = pwl_kernels("hardtanh", Q1, Q2, c)
    _, _, (sF, sD) = pk.float_step(Q1, Q2, c)
    print(f"hardtanh, {args.n} x {args.n} entries: closed form {closed:.4f} s, Mehler series {series:.4f} s, "
          f"ratio {series / closed:.1f}")
    print(f"largest estimates: closed form F {eF.max():.1e} D {eD.max():.1e}; series F {np.max(sF):.1e} "
          f"D {np.max(sD):.1e}")


if __name__ == "__main__":
    main()
