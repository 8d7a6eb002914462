"""Benchmark of the finite-width simulator (issue 4): n = 100 inputs, width d = 5000, depth L = 50,
ReLU MLP with layer centering + layer norm (Joudaki, Daneshmand & Bach (NeurIPS 2023) eq. (1)).

Each configuration runs in a fresh subprocess so that its peak resident memory is its own.
Printed: wall time, peak RSS, and ratios against the NumPy float32 run of the same invocation, and
against a straightforward per-sample loop (one matrix-vector product per input and layer, the
same layer).  The loop is timed over a few layers and scaled to L layers (stated in the output).

    python benchmarks/simulate.py            # full size (about a minute or two on 2 cores)
    python benchmarks/simulate.py --quick    # n = 20, d = 1000, L = 10

On a loaded 2-core machine OpenBLAS's spinning threads can make the small n x n products 300x
slower; run with ``OPENBLAS_NUM_THREADS=1`` to measure the simulator rather than the contention.
The explicit-weights run is dominated by drawing L d^2 = 1.25e9 normals; ``weights='gram'``
samples the same law from n d normals per layer.
"""
import argparse
import json
import resource
import subprocess
import sys
import time

CONFIGS = ["numpy-float32", "numpy-float64", "torch-float32", "torch-float64",
           "numpy-float32-gram", "loop-float32"]


def run_one(name, n, d, depth, loop_layers):
    import numpy as np

    import symkernel as sk

    parts = name.split("-")
    if parts[0] == "loop":
        act = sk.activation("relu").numpy()
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, d)).astype(np.float32)
        X = [x - x.mean() for x in X]
        X = [x / np.sqrt(np.mean(x * x)) for x in X]
        t0 = time.perf_counter()
        for _ in range(loop_layers):
            W = rng.standard_normal((d, d), dtype=np.float32)
            new = []
            for x in X:  # one input at a time
                h = act(W @ x / np.sqrt(d)).astype(np.float32)
                h = h - h.mean()
                new.append(h / np.sqrt(np.mean(h * h)))
            X = new
            G = np.array([[xi @ xj / d for xj in X] for xi in X])
        per_layer = (time.perf_counter() - t0) / loop_layers
        return dict(time=per_layer * depth, measured_layers=loop_layers, gap=float(sk.isometry_gap(G)))
    backend, dtype = parts[0], parts[1]
    weights = "gram" if len(parts) > 2 else "explicit"
    if backend == "torch":
        import torch  # noqa: F401  (import time is not simulation time)
    t0 = time.perf_counter()
    res = sk.simulate_mlp("relu", n=n, width=d, depth=depth, backend=backend, dtype=dtype,
                          weights=weights, seed=0, progress=False)
    elapsed = time.perf_counter() - t0
    return dict(time=elapsed, measured_layers=depth, gap=float(res.isometry_gap[-1]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--loop-layers", type=int, default=2)
    args = parser.parse_args()
    n, d, depth = (20, 1000, 10) if args.quick else (100, 5000, 50)
    if args.one:
        out = run_one(args.one, n, d, depth, args.loop_layers)
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return
    print(f"MLP relu + layer centering + layer norm: n={n}, d={d}, L={depth}")
    results = {}
    for name in CONFIGS:
        cmd = [sys.executable, __file__, "--one", name, "--loop-layers", str(args.loop_layers)]
        cmd += ["--quick"] if args.quick else []
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{name:>20}: skipped ({last})")
            continue
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    base = results["numpy-float32"]["time"]
    loop = results.get("loop-float32", {}).get("time")
    print(f"{'config':>20} {'time [s]':>9} {'peak RSS [MB]':>14} {'vs numpy-f32':>13} {'loop / this':>12} {'final gap':>10}")
    for name, r in results.items():
        note = f"  (timed {r['measured_layers']} layers, scaled to {depth})" if r["measured_layers"] != depth else ""
        speedup = f"{loop / r['time']:12.1f}" if loop else f"{'-':>12}"
        print(f"{name:>20} {r['time']:9.2f} {r['peak_rss_mb']:14.0f} {r['time'] / base:13.2f} {speedup} "
              f"{r['gap']:10.4f}{note}")
    target = "met" if base < 30 else "NOT met"
    print(f"target: numpy float32 full run under 30 s -> {base:.1f} s ({target}" +
          (", quick size)" if args.quick else ")"))


if __name__ == "__main__":
    main()
