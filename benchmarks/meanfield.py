"""Benchmark: the tanh critical curve chi_1 = 1 (Pabari & Zhou; issue 5), symkernel against a
straightforward approach in the same run.

    python benchmarks/meanfield.py [--points 200] [--dps 30] [--sigma-b2 0.3]

1. The curve sigma_w^2(sigma_b^2) at ``--points`` values of sigma_b^2 in [0, 0.5]:
   ``sk.critical_curve`` (float64 Gauss-Legendre moments, continuation) against
   scipy.optimize.brentq on g(q) = q - V(q)/D1(q) - sigma_b^2 with scipy.integrate.quad moments.
   Digits are checked against the mpmath path (``sk.edge_of_chaos`` at 20 digits) at 5 points.
2. One point to ``--dps`` digits: ``sk.edge_of_chaos(...).value(dps)`` against mpmath.findroot on
   mpmath.quad moments (working precision dps + 10).
Target (issue 5): the 200-point curve under 5 s.
"""
import argparse
import time

import mpmath
import numpy as np
import sympy
from scipy import integrate, optimize

import symkernel as sk


def _fresh():
    return sk.activation("tanh", gain=1)   # a new Activation: no cached moments


def baseline_curve(sb2_values):
    def V(q):
        s = np.sqrt(q)
        return integrate.quad(lambda z: np.tanh(s * z) ** 2 * np.exp(-z * z / 2), -np.inf, np.inf,
                              epsabs=0, epsrel=2e-14, limit=200)[0] / np.sqrt(2 * np.pi)

    def D1(q):
        s = np.sqrt(q)
        return integrate.quad(lambda z: (1 - np.tanh(s * z) ** 2) ** 2 * np.exp(-z * z / 2),
                              -np.inf, np.inf, epsabs=0, epsrel=2e-14, limit=200)[0] / np.sqrt(2 * np.pi)

    w = np.empty(len(sb2_values))
    for i, sb2 in enumerate(sb2_values):
        q = 0.0 if sb2 == 0 else optimize.brentq(lambda t: t - V(t) / D1(t) - sb2, 1e-12, 100.0,
                                                 xtol=1e-15, rtol=1e-15)
        w[i] = 1 / D1(q) if q > 0 else 1.0
    return w


def baseline_point(sb2, dps):
    with mpmath.workdps(dps + 10):
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)
        # finite panels: tanh-sinh on [-inf, 0, inf] alone gives only ~17 digits here
        zmax = int(mpmath.sqrt(2 * (dps + 12) * mpmath.log(10))) + 1
        panels = mpmath.linspace(-zmax, zmax, 2 * zmax + 1)

        def V(q):
            s = mpmath.sqrt(q)
            return norm * mpmath.quad(lambda z: mpmath.tanh(s * z) ** 2 * mpmath.exp(-z * z / 2),
                                      panels)

        def D1(q):
            s = mpmath.sqrt(q)
            return norm * mpmath.quad(lambda z: mpmath.sech(s * z) ** 4 * mpmath.exp(-z * z / 2),
                                      panels)

        sb2 = mpmath.mpf(sb2)   # a string, parsed at the working precision
        q = mpmath.findroot(lambda t: t - V(t) / D1(t) - sb2, mpmath.mpf("0.5"))
        return +(1 / D1(q))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--dps", type=int, default=30)
    ap.add_argument("--sigma-b2", type=str, default="0.3")
    args = ap.parse_args()
    sb = np.linspace(0.0, 0.5, args.points)

    t0 = time.perf_counter()
    w_ours, _ = sk.critical_curve(_fresh(), sb)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    w_base = baseline_curve(sb)
    t_base = time.perf_counter() - t0
    rel = np.max(np.abs(w_ours - w_base) / w_base)
    check = []
    for i in np.linspace(1, args.points - 1, 5).astype(int):
        exact = sk.edge_of_chaos("tanh", sigma_b2=float(sb[i]))[0].value(20)
        check.append(float(abs(mpmath.mpf(w_ours[i]) - exact) / exact))
    print(f"critical curve, {args.points} points: symkernel {t_ours:.3f} s, scipy quad+brentq "
          f"{t_base:.3f} s, ratio {t_base / t_ours:.1f}x (target: symkernel < 5 s)")
    print(f"  max relative difference symkernel vs scipy: {rel:.2e}; symkernel vs mpmath "
          f"(20 digits) at 5 points: {max(check):.2e} (~{-np.log10(max(max(check), 1e-17)):.1f} digits)")

    t0 = time.perf_counter()
    w30 = sk.edge_of_chaos(_fresh(), sigma_b2=sympy.Rational(args.sigma_b2))[0].value(args.dps)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    wb = baseline_point(args.sigma_b2, args.dps)
    t_base = time.perf_counter() - t0
    with mpmath.workdps(args.dps + 5):
        diff = abs(w30 - wb) / wb
        digits = -float(mpmath.log10(diff)) if diff else float("inf")
    print(f"one point sigma_b2 = {args.sigma_b2} to {args.dps} digits: sigma_w2 = "
          f"{mpmath.nstr(w30, args.dps)}")
    print(f"  symkernel {t_ours:.3f} s, mpmath findroot+quad {t_base:.3f} s, ratio "
          f"{t_base / t_ours:.1f}x; agreement {digits:.1f} digits")


if __name__ == "__main__":
    main()
