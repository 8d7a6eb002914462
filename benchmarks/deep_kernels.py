"""Benchmark: deep NNGP/NTK on data, beside neural-tangents (Novak et al., ICLR 2020).

Network: ``(Dense(1.5, 0.05) -> phi) x L -> Dense(1.5, 0.05)`` in the NTK parameterization, on the
same random inputs for both libraries.  Prints, in one run:

1. ReLU and erf (closed forms), 500 x 500 pairs, L = 10 and 100: symkernel's time, neural-tangents'
   time (jit-compiled ``kernel_fn``, compile excluded) and the max relative difference;
1b. one hidden layer on 1000 x 1000 pairs (10^6 correlations), ReLU, erf, GELU, sin, ELU, tanh:
   symkernel (wall and CPU) beside neural-tangents pinned to one core (``taskset -c 0``, one XLA
   thread; ELU and tanh by its ``ElementwiseNumerical`` quadrature, degree 25), and for the closed
   forms (ReLU, erf, GELU, sin) the largest relative error of both on a 4 x 4 subsample against a
   30-digit reference (entries small by cancellation in the last Dense have larger relative errors:
   the rounding of the inputs' Gram matrix, ~1e-16 of the entry's scale sqrt(K11 K22));
2. tanh, softplus (no closed form: float64 Mehler series) and ELU (closed form through the bivariate
   normal CDF, docs/theory.md §25, §28): symkernel's time and its largest
   error estimate (``errors=True``, the NumPy path), the compiled path's time at ``tol=1e-12`` and
   its largest difference from the NumPy path in units of that path's estimate; a few entries at
   L = 2 against an independent nested QUADPACK quadrature (scipy) of ``E[phi(u) phi(v)]`` and
   ``E[phi'(u) phi'(v)]`` layer by layer (shares no code with
   the package); and a finite-width Monte-Carlo network (mean over seeds, z-scores against the
   standard error);
3. the targets: float64 NNGP+NTK of 1000 x 1000 pairs at L = 100 in < 1 s (closed forms) and
   < 5 s (others), met or missed, with x1 != x2 and with x2 omitted (one triangle), wall and CPU
   seconds (``--before`` adds the NumPy path, ``fused=False``), and for ReLU and erf the largest
   relative difference from the dps=30 path on a 4 x 4 subsample (tanh and softplus at
   ``tol=1e-12``, on a 2 x 2 subsample: the proven coefficients take minutes; ELU, which has no
   dps=30 path, against a 30-digit recursion of its closed form with each Phi_2 by quadrature);
4. precision deep in the ordered phase (L = 100, 1 - rho ~ 1e-13): the float64 kernels (which
   carry the angle, symkernel.nn.angles) against the dps=30 path, entry by entry, with the largest
   relative error estimate.

neural-tangents is optional and never a dependency: give its interpreter in ``NT_PYTHON``, from a
separate venv made with

    python -m venv /tmp/ntvenv && /tmp/ntvenv/bin/pip install neural-tangents "jax[cpu]" \
        "numpy<2" "scipy<1.13" "ml-dtypes==0.3.2"

    NT_PYTHON=/tmp/ntvenv/bin/python python benchmarks/deep_kernels.py [--quick]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.integrate import quad

import symkernel as sk
from symkernel.nn import fused
from symkernel.simulate.networks import empirical_kernels

SW2, SB2 = 1.5, 0.05
D_IN = 10

NT_SCRIPT = r"""
import sys, time, types
sys.modules["neural_tangents.experimental"] = types.ModuleType("neural_tangents.experimental")
import jax
jax.config.update("jax_enable_x64", True)
import numpy as onp
from neural_tangents import stax
d = onp.load(sys.argv[1])
x1, x2 = d["x1"], d["x2"]
sw, sb = float(d["sw2"]) ** 0.5, float(d["sb2"]) ** 0.5
out = {}
for name in d["acts"]:
    A = {"relu": stax.Relu, "erf": stax.Erf}[str(name)]()
    for L in d["depths"]:
        layers = []
        for _ in range(int(L)):
            layers += [stax.Dense(1, W_std=sw, b_std=sb), A]
        _, _, kf = stax.serial(*layers, stax.Dense(1, W_std=sw, b_std=sb))
        kf = jax.jit(kf, static_argnames="get")
        k = kf(x1, x2, get=("nngp", "ntk")); k.nngp.block_until_ready()     # compile
        t = time.perf_counter()
        k = kf(x1, x2, get=("nngp", "ntk")); k.ntk.block_until_ready()
        out[f"{name}_{L}_time"] = time.perf_counter() - t
        out[f"{name}_{L}_nngp"], out[f"{name}_{L}_ntk"] = onp.asarray(k.nngp), onp.asarray(k.ntk)
onp.savez(sys.argv[2], **out)
"""


NT_ONE_LAYER = r"""
import sys, time, types
sys.modules["neural_tangents.experimental"] = types.ModuleType("neural_tangents.experimental")
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as onp
from neural_tangents import stax
d = onp.load(sys.argv[1])
x1, x2 = d["x1"], d["x2"]
sw, sb = float(d["sw2"]) ** 0.5, float(d["sb2"]) ** 0.5
elu = lambda t: jnp.where(t > 0, t, jnp.expm1(t))
acts = {"relu": stax.Relu(), "erf": stax.Erf(), "gelu": stax.Gelu(), "sin": stax.Sin(),
        "elu": stax.ElementwiseNumerical(elu, deg=25), "tanh": stax.ElementwiseNumerical(jnp.tanh, deg=25)}
out = {}
for name in d["acts"]:
    _, _, kf = stax.serial(stax.Dense(1, W_std=sw, b_std=sb), acts[str(name)], stax.Dense(1, W_std=sw, b_std=sb))
    kf = jax.jit(kf, static_argnames="get")
    k = kf(x1, x2, get=("nngp", "ntk")); k.ntk.block_until_ready()
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        k = kf(x1, x2, get=("nngp", "ntk")); k.ntk.block_until_ready()
        best = min(best, time.perf_counter() - t)
    out[f"{name}_time"] = best
    out[f"{name}_nngp"], out[f"{name}_ntk"] = onp.asarray(k.nngp), onp.asarray(k.ntk)
onp.savez(sys.argv[2], **out)
"""
ONE_LAYER_ACTS = ["relu", "erf", "gelu", "sin", "elu", "tanh"]


def one_layer(x1, x2):
    """One hidden layer, 10^6 correlations: symkernel (best of 5, CPU-time too) beside
    neural-tangents' jit-compiled kernel_fn pinned to one core (``taskset -c 0``, one XLA thread);
    for the closed forms, the largest relative error of both on a 4 x 4 subsample against a
    30-digit reference (:func:`one_layer_reference`)."""
    print("\n== one layer, Dense -> phi -> Dense, 1000 x 1000 pairs (10^6 correlations): best of 5 ==")
    nt = run_nt(x1, x2, ONE_LAYER_ACTS, [1], script=NT_ONE_LAYER, one_core=True)
    print(f"{'act':6s} {'symkernel s':>12s} {'(CPU s)':>8s} {'NT 1 core s':>12s} {'NT/sk':>7s} {'max rel diff nngp':>18s} "
          f"{'ntk':>9s} {'err sk':>8s} {'err NT':>8s}  path")
    for act in ONE_LAYER_ACTS:
        net = network(act, 1)
        best = (1e9, 0.0)
        for _ in range(5):
            k, t, cpu = timed(net, x1, x2)
            best = min(best, (t, cpu))
        row = f"{act:6s} {best[0]:12.4f} {best[1]:8.3f}"
        ref = one_layer_reference(act, net, x1[:4], x2[:4])
        if nt is not None:
            tn = float(nt[f"{act}_time"])
            row += (f" {tn:12.4f} {tn / best[0]:7.2f} {rel_diff(k.nngp, nt[f'{act}_nngp']):18.1e} "
                    f"{rel_diff(k.ntk, nt[f'{act}_ntk']):9.1e}")
        if ref is not None:
            row += f" {max(mp_rel_diff(getattr(k, w)[:4, :4], r) for w, r in zip(('nngp', 'ntk'), ref)):8.1e}"
            if nt is not None:
                row += f" {max(mp_rel_diff(nt[f'{act}_{w}'][:4, :4], r) for w, r in zip(('nngp', 'ntk'), ref)):8.1e}"
        print(row + f"  {k.method}", flush=True)


def one_layer_reference(act, net, x1, x2):
    """30-digit NNGP and NTK of one layer (mpf arrays): the dps=30 path for ReLU, erf and sin; for
    GELU (whose dps path integrates numerically) the exact engine's closed-form NNGP in mpmath and
    its NTK factor by Price's theorem as a 30-digit numerical derivative; None without a closed form."""
    if act in ("relu", "erf", "sin"):
        ref = net.kernel(x1, x2, dps=30)
        return ref.nngp, ref.ntk
    if act != "gelu":
        return None
    import mpmath
    import sympy
    from symkernel.core.symbols import rho
    from symkernel.nn.pair import a, b, pair_kernel

    F = sympy.lambdify((a, b, rho), pair_kernel("gelu").exact_nngp, modules="mpmath")
    d = x1.shape[1]
    nngp, ntk = np.empty((len(x1), len(x2)), dtype=object), np.empty((len(x1), len(x2)), dtype=object)
    with mpmath.workdps(30):
        M1 = [[mpmath.mpf(float(v)) for v in row] for row in x1]
        M2 = [[mpmath.mpf(float(v)) for v in row] for row in x2]
        for i, u in enumerate(M1):
            for j, v in enumerate(M2):
                q1, q2, c = (SW2 * mpmath.fdot(p, r) / d + SB2 for p, r in ((u, u), (v, v), (u, v)))
                s1, s2 = mpmath.sqrt(q1), mpmath.sqrt(q2)
                f = F(s1, s2, c / (s1 * s2))
                D = mpmath.diff(lambda cc: F(s1, s2, cc / (s1 * s2)), c)
                nngp[i, j] = SW2 * f + SB2
                ntk[i, j] = nngp[i, j] + SW2 * c * D
    return nngp, ntk


def network(act, depth):
    block = sk.nn.serial(sk.nn.Dense(SW2, SB2), sk.nn.Activation(act))
    return sk.nn.serial(sk.nn.repeat(block, depth), sk.nn.Dense(SW2, SB2))


def timed(net, x1, x2, errors=False, fused=True):
    """The kernels, their wall time and their CPU time (all threads); ``tol=1`` so that a slowly
    converging series (ELU near |rho| = 1) is timed and its error estimate printed instead of
    refused.  ``fused=False``: the NumPy path (the state before the fused loops)."""
    net.kernel(x1[:3], None if x2 is None else x2[:3], errors=errors, tol=1.0, fused=fused)   # derivations, JIT
    c, t = time.process_time(), time.perf_counter()
    k = net.kernel(x1, x2, errors=errors, tol=1.0, fused=fused)
    return k, time.perf_counter() - t, time.process_time() - c


def timed_tol(net, x1, x2, tol=1e-12):
    """As :func:`timed` at ``tol`` (the compiled Mehler path runs only when its worst-case bound
    meets it, else the NumPy path): the kernels (None where refused), wall and CPU seconds."""
    try:
        net.kernel(x1[:3], None if x2 is None else x2[:3], tol=tol)
    except sk.PrecisionError:
        pass
    c, t = time.process_time(), time.perf_counter()
    try:
        k = net.kernel(x1, x2, tol=tol)
    except sk.PrecisionError:
        k = None
    return k, time.perf_counter() - t, time.process_time() - c


def rel_diff(u, v):
    u, v = np.asarray(u), np.asarray(v)
    return float(np.max(np.abs(u - v) / np.maximum(np.abs(v), 1e-300)))


def mp_rel_diff(values, reference):
    """Max relative difference of float64 entries from an mpf reference (in mpmath: no rounding)."""
    import mpmath

    return max(float(abs(mpmath.mpf(float(values[i, j])) - reference[i, j]) / abs(reference[i, j]))
               for i in range(values.shape[0]) for j in range(values.shape[1]))


def run_nt(x1, x2, acts, depths, script=NT_SCRIPT, one_core=False):
    py = os.environ.get("NT_PYTHON")
    if not py or not os.path.exists(py):
        print("  neural-tangents: skipped (set NT_PYTHON to an interpreter with neural-tangents; a "
              "separate venv:\n    pip install neural-tangents 'jax[cpu]' 'numpy<2' 'scipy<1.13' "
              "'ml-dtypes==0.3.2')")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(src, x1=x1, x2=x2, sw2=SW2, sb2=SB2, acts=np.array(acts), depths=np.array(depths))
        flags = "--xla_force_host_platform_device_count=1"
        if one_core:
            flags += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env = dict(os.environ, XLA_FLAGS=flags)
        cmd = (["taskset", "-c", "0"] if one_core and shutil.which("taskset") else []) + [py, "-c", script, src, dst]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print("  neural-tangents failed:\n" + proc.stderr[-2000:])
            return None
        return dict(np.load(dst))


# -- the independent path: nested QUADPACK quadrature, layer by layer ---------------------------------
def functions(name):
    """phi and phi' written out by hand in NumPy (no symkernel code), and their kinks."""
    if name == "tanh":
        return np.tanh, lambda t: 1 / np.cosh(t) ** 2, []
    if name == "elu":
        return (lambda t: t if t > 0 else np.expm1(t)), (lambda t: 1.0 if t > 0 else np.exp(t)), [0.0]
    if name == "softplus":
        return (lambda t: np.logaddexp(0.0, t)), (lambda t: 0.5 * (1 + np.tanh(t / 2))), []
    raise ValueError(name)


def _quad(fn, kinks):
    """Integral of fn over R (the Gaussian factor makes |t| > 40 negligible), split at kinks."""
    pts = [-40.0] + sorted(k for k in kinks if -40 < k < 40) + [40.0]
    return sum(quad(fn, lo, hi, epsabs=1e-300, epsrel=1e-13, limit=200)[0] for lo, hi in zip(pts, pts[1:]))


def gauss2(f, g, q1, q2, c, kinks):
    """E[f(u) g(v)], (u, v) centred Gaussian with variances q1, q2 and covariance c."""
    s1, s2 = np.sqrt(q1), np.sqrt(q2)
    r = c / (s1 * s2)
    s = np.sqrt(1 - r * r)

    def inner(X):
        return _quad(lambda Y: g(s2 * (r * X + s * Y)) * np.exp(-Y * Y / 2), [(k / s2 - r * X) / s for k in kinks])
    return _quad(lambda X: f(s1 * X) * np.exp(-X * X / 2) * inner(X), [k / s1 for k in kinks]) / (2 * np.pi)


def gauss1(f, q, kinks):
    s = np.sqrt(q)
    return _quad(lambda X: f(s * X) ** 2 * np.exp(-X * X / 2), [k / s for k in kinks]) / np.sqrt(2 * np.pi)


def quad_kernel(name, u, v, depth):
    """NNGP and NTK of (Dense -> phi) x depth -> Dense for two inputs, by nested quadrature."""
    f, df, kinks = functions(name)
    d = len(u)
    q1, q2, c = u @ u / d, v @ v / d, u @ v / d
    th = t1 = t2 = 0.0
    w, bb = SW2, SB2
    for _ in range(depth):
        q1, q2, c = w * q1 + bb, w * q2 + bb, w * c + bb
        th, t1, t2 = c + w * th, q1 + w * t1, q2 + w * t2
        Dc, D1, D2 = gauss2(df, df, q1, q2, c, kinks), gauss1(df, q1, kinks), gauss1(df, q2, kinks)
        c, q1, q2 = gauss2(f, f, q1, q2, c, kinks), gauss1(f, q1, kinks), gauss1(f, q2, kinks)
        th, t1, t2 = th * Dc, t1 * D1, t2 * D2
    c = w * c + bb
    return c, c + w * th


def main(quick, before=False):
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((500, D_IN)), rng.standard_normal((500, D_IN))
    depths = [10, 100]

    print("== closed forms, 500 x 500 pairs, beside neural-tangents (jit, compile excluded) ==")
    nt = run_nt(x1, x2, ["relu", "erf"], depths)
    print(f"{'act':6s} {'L':>4s} {'symkernel s':>12s} {'NT s':>9s} {'NT/sk':>7s} {'max rel diff nngp':>18s} {'ntk':>10s}")
    for act in ["relu", "erf"]:
        for L in depths:
            k, t, _ = timed(network(act, L), x1, x2)
            if nt is None:
                print(f"{act:6s} {L:4d} {t:12.3f} {'-':>9s}")
                continue
            tn = float(nt[f"{act}_{L}_time"])
            print(f"{act:6s} {L:4d} {t:12.3f} {tn:9.3f} {tn / t:7.2f} "
                  f"{rel_diff(k.nngp, nt[f'{act}_{L}_nngp']):18.2e} {rel_diff(k.ntk, nt[f'{act}_{L}_ntk']):10.2e}")

    one_layer(rng.standard_normal((1000, D_IN)), rng.standard_normal((1000, D_IN)))

    print("\n== no elementary closed form (tanh, softplus: Mehler series; ELU: through Phi_2), 500 x 500 pairs: "
          "the NumPy path (errors=True, per-entry estimates) and the compiled path at tol=1e-12 (its worst-case "
          "bound must meet it) ==")
    print(f"{'act':9s} {'L':>4s} {'NumPy s':>8s} {'max err est nngp':>17s} {'ntk':>10s} {'(relative)':>11s} "
          f"{'compiled s':>11s} {'(CPU s)':>8s}  max |compiled - NumPy| / estimate")
    for act in ["tanh", "elu", "softplus"]:
        for L in depths:
            net = network(act, L)
            k, t, _ = timed(net, x1, x2, errors=True)
            row = (f"{act:9s} {L:4d} {t:8.3f} {np.max(k.nngp_error):17.2e} {np.max(k.ntk_error):10.2e} "
                   f"{np.max(k.ntk_error / np.abs(k.ntk)):11.2e}")
            if np.max(k.ntk_error / np.abs(k.ntk)) > 1e-12:       # the compiled bound cannot meet 1e-12 either
                print(row + "  compiled: not tried (the NumPy path's estimate does not reach 1e-12 here)")
                continue
            f, tf, cf = timed_tol(net, x1, x2)
            if f is None or "fused" not in f.method:
                print(row + f"  compiled: bound above tol after {tf:.2f} s", flush=True)
                continue
            ratio = max(float(np.max(np.abs(f.nngp - k.nngp) / k.nngp_error)),
                        float(np.max(np.abs(f.ntk - k.ntk) / k.ntk_error)))
            print(row + f" {tf:11.3f} {cf:8.2f}  {ratio:.2f}", flush=True)

    print("\n== L = 2, three input pairs: float64 vs nested QUADPACK quadrature (independent, rel 1e-13) ==")
    pairs = [(0, 0), (0, 1), (2, 3)]
    for act in ["tanh", "elu", "softplus"]:
        k = network(act, 2).kernel(x1[:4], x2[:4], errors=True, tol=1.0)
        worst = [0.0, 0.0]
        for i, j in pairs:
            ref = quad_kernel(act, x1[i], x2[j], 2)
            for m, (got, want) in enumerate(zip((k.nngp[i, j], k.ntk[i, j]), ref)):
                worst[m] = max(worst[m], abs((got - want) / want))
        est = max(np.max(k.nngp_error / np.abs(k.nngp)), np.max(k.ntk_error / np.abs(k.ntk)))
        print(f"{act:9s} max rel diff nngp {worst[0]:.2e} ntk {worst[1]:.2e} (largest relative error "
              f"estimate {est:.1e})")

    width, seeds = (1024, range(4)) if quick else (4096, range(8))
    print(f"\n== L = 2, 4 x 4 pairs: float64 vs Monte-Carlo network, width {width}, {len(seeds)} seeds ==")
    for act in ["tanh", "elu", "softplus"]:
        net = network(act, 2)
        k = net.kernel(x1[:4], x2[:4], tol=1.0)
        t = time.perf_counter()
        e = empirical_kernels(net, x1[:4], x2[:4], width=width, seeds=seeds)
        t = time.perf_counter() - t
        zn = np.max(np.abs(e.nngp - k.nngp) / e.nngp_se)
        zt = np.max(np.abs(e.ntk - k.ntk) / e.ntk_se)
        print(f"{act:9s} max |emp - theory| / se: nngp {zn:.1f}, ntk {zt:.1f} (O(1/width) bias included; "
              f"{t:.1f} s)")

    print("\n== targets: float64 NNGP + NTK, 1000 x 1000 pairs, L = 100 (wall s; CPU s over all threads "
          "in brackets: on a loaded machine CPU / 2 is the wall time of 2 idle cores) ==")
    print(f"  path: {'fused loops (numba)' if fused.available() else 'NumPy (numba not installed)'} where the "
          "network fuses; 'NumPy' = fused=False, the path before the fused loops (--before)")
    X = rng.standard_normal((1000, D_IN))
    for act, target in [("relu", 1.0), ("erf", 1.0), ("tanh", 5.0), ("elu", 5.0), ("softplus", 5.0)]:
        if quick and target > 1:
            continue
        net = network(act, 100)
        if act in ("tanh", "softplus"):      # Mehler series: at tol=1e-12, the bound met (else refused)
            k, t, cpu = timed_tol(net, X, X.copy())
            _, ts, cpus = timed_tol(net, X, None)
        else:                                # closed forms (ELU: through Phi_2, any tol)
            k, t, cpu = timed(net, X, X.copy())
            _, ts, cpus = timed(net, X, None)
        if k is None:
            print(f"{act:9s} refused at tol=1e-12 after {t:.1f} s", flush=True)
            continue
        line = (f"{act:9s} x1 != x2 {t:7.3f} s [{cpu:6.2f}]  x2 omitted (triangle) {ts:7.3f} s [{cpus:6.2f}]  "
                f"target < {target:.0f} s (wall, 2 cores): {'met' if t < target else 'missed'}; "
                f"CPU / 2 = {cpu / 2:.2f} s ({k.method})")
        if before:
            _, tb, cpub = timed(net, X, X.copy(), fused=False)
            line += f"\n{'':9s} NumPy path x1 != x2 {tb:7.3f} s [{cpub:6.2f}]"
        if act in ("relu", "erf"):
            sub = X[:4]
            ref = net.kernel(sub, dps=30)
            worst = max(mp_rel_diff(getattr(k, name)[:4, :4], getattr(ref, name)) for name in ("nngp", "ntk"))
            line += f"\n{'':9s} max rel diff from dps=30 on the 4 x 4 subsample: {worst:.1e}"
        elif act in ("tanh", "softplus"):    # proven Hermite coefficients: minutes per input at depth 100
            ref = net.kernel(X[:2], dps=30)
            worst = [mp_rel_diff(getattr(k, name)[:2, :2], getattr(ref, name)) for name in ("nngp", "ntk")]
            line += (f"\n{'':9s} tol=1e-12; max rel diff from dps=30 on the 2 x 2 subsample: nngp {worst[0]:.1e}, "
                     f"ntk {worst[1]:.1e}")
        elif act == "elu":                   # closed form through Phi_2, vectorized (docs/theory.md §25, §28)
            worst = elu_against_30_digits(net, X[:3], 100)
            line += (f"\n{'':9s} closed form through the bivariate normal CDF, vectorized (docs/theory.md §28); no dps=30 "
                     f"path for ELU: max rel diff from a 30-digit recursion (each Phi_2 by quadrature) on the 3 "
                     f"off-diagonal entries of a 3 x 3 subsample: nngp {worst[0]:.1e}, ntk {worst[1]:.1e}")
        print(line, flush=True)

    precision_in_the_ordered_phase(x1[:5])


def _phi2_30(h, k, r):
    """P(X < h, Y < k), corr r (mpf arguments, the caller's precision): 1-D quadrature over X."""
    import mpmath as mp

    if abs(r) == 1:
        return mp.ncdf(min(h, k)) if r > 0 else max(mp.ncdf(h) - mp.ncdf(-k), 0)
    s = mp.sqrt((1 - r) * (1 + r))
    pts = sorted({p for p in (mp.mpf(0), k / r if r else mp.mpf(0)) if p < h})
    return mp.quad(lambda t: mp.npdf(t) * mp.ncdf((k - r * t) / s), [-mp.inf, *pts, h])


def elu_against_30_digits(net, x, depth):
    """Max relative difference (NNGP, NTK) of ``net.kernel`` (ELU, ``(Dense(SW2, SB2) -> elu) x depth
    -> Dense``) from the same recursion at 30 digits, on the off-diagonal entries of ``x``: the
    closed form of docs/theory.md §25 with each Phi_2 by quadrature, the variances by
    ``E[elu(u)^2] = q/2 + e^{2q} Phi(-2 sqrt q) - 2 e^{q/2} Phi(-sqrt q) + 1/2`` (about 30 s an entry at
    depth 100)."""
    import mpmath as mp

    k = net.kernel(x, x.copy())
    worst = [0.0, 0.0]
    half = mp.mpf(1) / 2
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            with mp.workdps(30):
                rows = [[mp.mpf(float(z)) for z in x[m]] for m in (i, j)]
                d = len(rows[0])
                q = [mp.fsum(v * v for v in row) / d for row in rows]
                c, t = mp.fsum(u * v for u, v in zip(*rows)) / d, mp.mpf(0)
                for _ in range(depth):
                    q, c = [SW2 * v + SB2 for v in q], SW2 * c + SB2
                    t = c + SW2 * t
                    a, b = mp.sqrt(q[0]), mp.sqrt(q[1])
                    r = c / (a * b)
                    s, th = mp.sqrt((1 - r) * (1 + r)), mp.acos(r)
                    P = half - th / (2 * mp.pi)
                    Ea = mp.exp(a * a / 2) * _phi2_30(-a, -r * a, r)
                    Eb = mp.exp(b * b / 2) * _phi2_30(-r * b, -b, r)
                    Tab = mp.exp((a * a + b * b) / 2 + r * a * b) * _phi2_30(-(a + r * b), -(b + r * a), r)
                    Ta, Tb = mp.exp(a * a / 2) * mp.ncdf(-a) - Ea, mp.exp(b * b / 2) * mp.ncdf(-b) - Eb
                    Ma = (mp.exp(a * a * s * s / 2) * mp.ncdf(-a * s) - half) / mp.sqrt(2 * mp.pi)
                    Mb = (mp.exp(b * b * s * s / 2) * mp.ncdf(-b * s) - half) / mp.sqrt(2 * mp.pi)
                    t *= P + Ta + Tb + Tab
                    c = (a * b * (s + (mp.pi - th) * r) / (2 * mp.pi) + a * (r * b * Tb + Mb) + b * (r * a * Ta + Ma)
                         + (Tab - Ea - Eb) + P)
                    q = [v / 2 + mp.exp(2 * v) * mp.ncdf(-2 * mp.sqrt(v)) - 2 * mp.exp(v / 2) * mp.ncdf(-mp.sqrt(v))
                         + half for v in q]
                c = SW2 * c + SB2
                t = c + SW2 * t
                worst[0] = max(worst[0], float(abs(k.nngp[i, j] - c) / abs(c)))
                worst[1] = max(worst[1], float(abs(k.ntk[i, j] - t) / abs(t)))
    return worst


def precision_in_the_ordered_phase(x):
    """Max relative difference of the float64 NNGP and NTK from the dps=30 path at L = 100."""
    import mpmath

    print("\n== ordered phase, L = 100, 5 x 5 pairs: float64 vs the dps=30 path (mpmath) ==")
    for act in ["relu", "erf"]:
        net = network(act, 100)
        ref = net.kernel(x, dps=30)
        k = net.kernel(x, errors=True)
        gap = min(float(1 - ref.nngp[i, j] / mpmath.sqrt(ref.nngp[i, i] * ref.nngp[j, j]))
                  for i in range(len(x)) for j in range(len(x)) if i != j)
        out = []
        for name in ("nngp", "ntk"):
            val, want = getattr(k, name), getattr(ref, name)
            rel = max(float(abs(mpmath.mpf(float(val[i, j])) - want[i, j]) / abs(want[i, j]))
                      for i in range(len(x)) for j in range(len(x)))
            est = float(np.max(getattr(k, name + "_error") / np.abs(val)))
            out.append(f"{name} {rel:.1e} (estimate {est:.1e})")
        print(f"{act:6s} min 1 - rho {gap:.1e}: " + ", ".join(out))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller Monte-Carlo, skip the slow targets")
    p.add_argument("--before", action="store_true", help="also time the NumPy path (fused=False) at 1000 x 1000")
    args = p.parse_args()
    main(args.quick, args.before)
