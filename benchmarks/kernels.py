"""Benchmark: float64 kernel-map evaluation vs Gauss-Hermite quadrature of degree 25 per point.

Prints throughput (evaluations/s) and the max error against a 40-digit mpmath reference at a
sample of points, for closed-form kernels and for tanh (no closed form), in one run.
Targets: >= 1e6 evals/s for closed forms; tanh >= 1e5 evals/s with max error <= 1e-13.

    python benchmarks/kernels.py [--n 1000000]
"""
import argparse
import time

import numpy as np

import symkernel as sk


def gauss_hermite_kmap(act, r, degree=25, chunk=20000):
    """The common practice: 2D Gauss-Hermite (degree^2 nodes per point), normalized by E sigma^2."""
    f = act.numpy()
    x, w = np.polynomial.hermite_e.hermegauss(degree)
    w = w / np.sqrt(2 * np.pi)
    m2 = (f(x) ** 2) @ w
    out = np.empty_like(r)
    fx = f(x) * w
    for s in range(0, r.size, chunk):
        rr = r[s:s + chunk, None, None]
        y = rr * x[None, :, None] + np.sqrt(1 - rr**2) * x[None, None, :]
        out[s:s + chunk] = np.einsum("i,nij,j->n", fx, f(y), w) / m2
    return out


def main(n):
    rng = np.random.default_rng(0)
    r = rng.uniform(-1, 1, n)
    sample = np.concatenate([r[:40], [-1.0, -0.999, 0.0, 0.999, 1.0]])
    print(f"{'activation':10s} {'method':22s} {'evals/s':>12s} {'max err':>10s} {'speedup':>8s}")
    for name in ["relu", "gelu", "erf", "exp", "tanh", "sigmoid"]:
        kmap = sk.kernel_map(name)
        ref = np.array([float(kmap(float(p), dps=40)) for p in sample])
        kmap.numpy(sample[:2])                      # build the evaluator once (not timed)
        t = time.perf_counter()
        kmap.numpy(r)
        ours_t = time.perf_counter() - t
        ours_err = np.max(np.abs(kmap.numpy(sample) - ref))
        m = min(n, 200000)
        t = time.perf_counter()
        gauss_hermite_kmap(kmap.act, r[:m])
        gh_t = (time.perf_counter() - t) * n / m
        gh_err = np.max(np.abs(gauss_hermite_kmap(kmap.act, sample) - ref))
        method = "closed form" if kmap.exact else "Hermite series (Horner)"
        print(f"{name:10s} {method:22s} {n / ours_t:12.3e} {ours_err:10.1e} {gh_t / ours_t:8.1f}x")
        print(f"{'':10s} {'Gauss-Hermite deg 25':22s} {n / gh_t:12.3e} {gh_err:10.1e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    main(parser.parse_args().n)
