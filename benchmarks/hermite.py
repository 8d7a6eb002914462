"""Benchmark: Hermite coefficients c_0..c_30 through the exact engine, against sympy.integrate on
the same integrals and against the numeric engine at 30 digits, in one run.

    python benchmarks/hermite.py [--K 31] [--integrate-timeout 5] [--numeric-K 8]

Prints per-activation times and ratios.  Targets (issue 2): the whole exact run under 10 s on the
2-core CI machine; >= 50x faster than sympy.integrate where that finishes; numeric beta of tanh to
30 digits under 1 s.
"""
import argparse
import multiprocessing as mp
import time

import sympy as sp

import symkernel as sk
from symkernel.gaussian.expectation import pieces_times
from symkernel.gaussian import exact, numeric
from symkernel.coefficients.hermite import _he_coefficients

ACTIVATIONS = ["relu", "step", "elu", "gelu", "erf", "exp", "sin"]


def _clear_caches():
    exact._base.cache_clear()
    exact._moments.cache_clear()


def time_exact(name, K):
    _clear_caches()
    act = sk.activation(name)  # a fresh activation: no cached moments
    start = time.perf_counter()
    coeffs = sk.hermite_coefficients(act, K)
    elapsed = time.perf_counter() - start
    assert all(c.exact for c in coeffs)
    return elapsed, coeffs


def _integrate_worker(expr, queue):
    x = sk.x
    start = time.perf_counter()
    value = sp.integrate(expr * sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi), (x, -sp.oo, sp.oo))
    queue.put((time.perf_counter() - start, str(value)))


def time_integrate(expr, timeout):
    queue = mp.Queue()
    proc = mp.Process(target=_integrate_worker, args=(expr, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return None
    return queue.get()[0] if not queue.empty() else None


def he(k):
    return sp.Poly(_he_coefficients(k)[::-1], sk.x).as_expr() / sp.sqrt(sp.factorial(k))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--K", type=int, default=31)
    parser.add_argument("--integrate-timeout", type=float, default=5.0)
    parser.add_argument("--integrate-ks", type=int, nargs="*", default=[0, 1, 2, 5, 10])
    parser.add_argument("--numeric-K", type=int, default=6)
    args = parser.parse_args()

    print(f"{'activation':<10} {'exact c_0..c_' + str(args.K - 1):>18} {'per coeff':>10} "
          f"{'integrate (k done)':>20} {'ratio':>8} {'numeric 30d/coeff':>18} {'ratio':>8}")
    total_exact = 0.0
    for name in ACTIVATIONS:
        t_exact, coeffs = time_exact(name, args.K)
        total_exact += t_exact
        per_coeff = t_exact / args.K
        # sympy.integrate against the exact engine on the same integrals E[sigma he_k] (fresh caches)
        done, t_int, t_same = 0, 0.0, 0.0
        for k in args.integrate_ks:
            t = time_integrate(sk.activation(name).expr * he(k), args.integrate_timeout)
            if t is not None:
                done += 1
                t_int += t
                _clear_caches()
                start = time.perf_counter()
                sk.hermite_coefficient(sk.activation(name), k)
                t_same += time.perf_counter() - start
        ratio_int = f"{t_int / t_same:8.0f}x" if done else "   (n/a)"
        shown_int = f"{t_int / done:8.3f}s ({done}/{len(args.integrate_ks)})" if done else f"timeout ({args.integrate_timeout:g}s)"
        # numeric engine at 30 digits on the first coefficients
        act = sk.activation(name)
        start = time.perf_counter()
        for k in range(args.numeric_K):
            numeric.expectation_of_pieces(pieces_times(act, he(k)), dps=30)
        t_num = (time.perf_counter() - start) / args.numeric_K
        print(f"{name:<10} {t_exact:17.3f}s {per_coeff:9.4f}s {shown_int:>20} {ratio_int} "
              f"{t_num:17.3f}s {t_num / per_coeff:7.0f}x")
    print(f"whole exact run: {total_exact:.2f} s (target < 10 s)")
    start = time.perf_counter()
    sk.isometry_strength("tanh").value(30)
    print(f"numeric beta of tanh to 30 digits: {time.perf_counter() - start:.3f} s (target < 1 s)")
    start = time.perf_counter()
    sk.hermite_coefficient(sk.activation("relu"), 100)
    print(f"exact c_100 of relu: {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
