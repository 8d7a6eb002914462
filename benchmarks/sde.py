"""Benchmark: width-4 ReLU ResNets of depth 1000 (Hayou (TMLR 2023)), vectorized vs a plain Python loop.

Times, in one run, ``symkernel.sde.simulate_resnet`` on 100 000 paths (NumPy float64, exact
per-layer law; the explicit-weights method; torch when installed) against a baseline that loops
over paths in Python and draws each layer's weight matrix (a sample of paths, extrapolated as
paths per second).  Prints paths/s and the speed-up ratios.  Target: the 100 000 x 1000 NumPy
run under 30 s on a 2-core machine.

Also times two inputs sharing the weights (Hayou (TMLR 2023) Prop. 5): increments drawn from
their exact joint law against explicit weight matrices, width 16, depth 100.

    python benchmarks/sde.py [--paths 100000] [--depth 1000] [--width 4] [--baseline-paths 200]
"""

import argparse
import time

import numpy as np

from symkernel.sde import simulate_resnet, simulate_resnet_inputs


def baseline(width, depth, n_paths, seed=0):
    """Plain Python: one path at a time, one weight matrix per layer."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_paths, width))
    scale = 1 / np.sqrt(depth)
    for p in range(n_paths):
        y = np.ones(width)
        for _ in range(depth):
            w = rng.standard_normal((width, width)) / np.sqrt(width)
            y = y + scale * (w @ np.maximum(y, 0.0))
        out[p] = y
    return out


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--depth", type=int, default=1000)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--baseline-paths", type=int, default=200)
    ap.add_argument("--weights-paths", type=int, default=20_000)
    args = ap.parse_args()
    n, L, P = args.width, args.depth, args.paths
    x0 = np.ones(n)

    tb, yb = timed(lambda: baseline(n, L, args.baseline_paths))
    base_rate = args.baseline_paths / tb
    print(
        f"baseline  python loop  {args.baseline_paths:>7} paths  {tb:8.2f} s  "
        f"{base_rate:12.0f} paths/s"
    )

    rows = []
    t, y = timed(lambda: simulate_resnet("relu", n, L, P, x0=x0, seed=0, method="law"))
    rows.append(("numpy law", P, t))
    tw, yw = timed(
        lambda: simulate_resnet("relu", n, L, args.weights_paths, x0=x0, seed=0, method="weights")
    )
    rows.append(("numpy weights", args.weights_paths, tw))
    try:
        import torch  # noqa: F401

        tt, yt = timed(lambda: simulate_resnet("relu", n, L, P, x0=x0, seed=0, backend="torch"))
        rows.append(("torch law", P, tt))
        tt1, _ = timed(
            lambda: simulate_resnet("relu", n, L, P, x0=x0, seed=0, backend="torch", threads=1)
        )
        rows.append(("torch law 1 thread", P, tt1))
    except ImportError:
        print("torch not installed: skipped")
    for name, paths, secs in rows:
        rate = paths / secs
        print(
            f"{name:<20} {paths:>7} paths  {secs:8.2f} s  {rate:12.0f} paths/s  "
            f"x{rate / base_rate:8.1f} vs baseline"
        )
    x2 = np.eye(2, 16) * 4.0
    tl, _ = timed(lambda: simulate_resnet_inputs("relu", x2, 100, 2000, seed=0, method="law"))
    tw2, _ = timed(lambda: simulate_resnet_inputs("relu", x2, 100, 2000, seed=0,
                                                  method="weights"))
    print(f"two inputs, width 16, depth 100, 2000 paths: law {tl:.2f} s, weights {tw2:.2f} s "
          f"(x{tw2 / tl:.1f})")
    target = "MET" if rows[0][2] < 30 else "MISSED"
    print(f"target: {P} x {L} NumPy run under 30 s: {rows[0][2]:.1f} s ({target})")
    # the runs are different random streams; their laws must agree (sanity, not timing)
    lb, ly = np.log(np.linalg.norm(yb, axis=1)), np.log(np.linalg.norm(y.final, axis=1))
    print(
        f"sanity: mean log||Y_L|| baseline {lb.mean():.3f} +- {lb.std() / np.sqrt(lb.size):.3f}, "
        f"vectorized {ly.mean():.3f} +- {ly.std() / np.sqrt(ly.size):.3f}"
    )


if __name__ == "__main__":
    main()
