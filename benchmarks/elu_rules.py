"""Regenerate the node-count tables ``RULES_POS`` (``r >= 0``) and ``RULES`` (``r < 0``) of
symkernel/nn/bivariate.py (docs/theory.md §28).

For every cell of ``(|r|, max(a, b))`` (edges ``R_EDGES``, ``A_EDGES``): ``--points`` random points
(``|r|`` uniform in the cell, either sign; ``max(a, b)`` uniform in its cell, the other of ``a, b``
uniform in ``[0.1, max]``: ``kappa^2 q`` in ``ELU_RANGE``) plus the cell's corners; for each rule
(Genz's Gauss-Legendre sum in ``asin r`` with n nodes, ``l n``, or the Drezner-Wesolowsky expansion
about ``|r| = 1`` plus n nodes, ``h n``) the largest error of the two outputs of the block code
(``E_a + E_b`` and ``T_ab``), relative to ``max(1, |value|)``, against the same code with 96 nodes
(Genz's sum for ``|r| < 0.98``, else the expansion).  That error stops falling at the rounding
floor (~2-4e-16 for values of order one, ~1e-15 at large ``a, b``: node terms up to e^{ab}), so
the truncation error below the floor is extrapolated geometrically (:func:`truncation`).  The
cell's rule: the cheapest with truncation error below ``--tol / 2`` (tol 2.5e-16) and measured
error within ``max(tol, 2 floor)``, cost = nodes (``l``) or 2 x nodes (``h``: two exponentials
per node and Phi_2 instead of one), ties to fewer nodes.

``--table pos`` (the default) derives ``RULES_POS``: points with ``r >= 0`` only, and a third kind
of rule, Owen's T (``o n``: ``n`` nonnegative nodes of an odd Gauss-Legendre rule on an even
integrand, one exponential per node for all three ``Phi_2``), .  On cells of ``r >= 0.3`` the reference
of every rule is Owen's form in 128-bit Arb arithmetic with 80 nodes (Genz's 96-node float sums are
off by up to 3e-15 near ``r = 1``, where Owen's float form stays within ~1e-16; below ``r ~ 0.9`` at
large ``a, b`` Owen's float form cancels, up to 1e-13, and Genz's rules win those cells).
Costs are nanoseconds per entry of each rule's node loop, timed in the same run (256 entries of
converged variances at ``r ~ 0.9``): fixed plus per node, fitted to 4 and 24 nodes.

    python benchmarks/elu_rules.py [--table pos|neg] [--points 6000] [--seed 0]

prints the table as Python (paste it over ``RULES_POS`` or ``RULES``) and, for each cell, the error
reached.  It
calls the block code's private node loops (``_low_regime``, ``_high_regime``) with other node
sets: a script of the package's maintainers, not an API.  The reference shares that code: this
table is only a choice of node counts; the accuracy itself is tested against 30-digit quadrature
(tests/test_nn_elu_fast.py).
"""
import argparse
import time

import flint
import numpy as np

from symkernel.nn import bivariate as bv

CANDIDATES = tuple(range(2, 33))
REF_NODES = 96


def _outputs(a, b, r, rule):
    """``E_a + E_b`` and ``T_ab`` of points ``(a, b, r)`` by the node loop of ``rule`` (``("l", n)`` or
    ``("h", n)``), in chunks of 256."""
    kind, n = rule
    X, WT = bv._rule_nodes(f"{kind}{n}")
    out = np.empty((2, a.size))
    W = np.zeros((max(bv.NWORK, 100 + 3 * REF_NODES), 256))
    GA, GB = bv.scaled_tails(a), bv.scaled_tails(b)
    for s in range(0, a.size, 256):
        m = min(256, a.size - s)
        sl = slice(s, s + m)
        sq = np.sqrt((1 - r[sl]) * (1 + r[sl]))
        W[7, :m] = np.arctan2(sq, r[sl])
        W[8, :m], W[9, :m], W[10, :m], W[11, :m] = a[sl], b[sl], r[sl], sq
        W[12, :m], W[13, :m] = GA[sl], GB[sl]
        {"h": bv._high_regime, "l": bv._low_regime, "o": bv._owen_regime}[kind](m, X, WT, W)
        out[0, sl], out[1, sl] = W[14, :m], W[16, :m]
    return out


def cell_points(r_lo, r_hi, a_lo, a_hi, npts, rng):
    """Random points of a cell and its corners (``r_hi`` just below the edge)."""
    top = np.nextafter(r_hi, 0.0)
    ar = np.concatenate([rng.uniform(r_lo, r_hi, npts), [r_lo, r_lo, top, top]])
    am = np.concatenate([rng.uniform(a_lo, a_hi, npts), [a_hi, a_hi, a_hi, a_hi]])
    other = np.concatenate([rng.uniform(0.1, 1.0, npts) * am[:npts], [a_hi, 0.1, a_hi, 0.1]])
    swap = rng.random(ar.size) < 0.5
    a, b = np.where(swap, other, am), np.where(swap, am, other)
    sign = np.where(rng.random(ar.size) < 0.5, -1.0, 1.0)
    sign[-4:] = (1.0, -1.0, 1.0, -1.0)
    return a, b, np.minimum(ar, top) * sign


def truncation(errs):
    """The truncation error of each node count from the errors against the 96-node sum, whose
    maximum over the points stops falling at the rounding floor: below it, extrapolated
    geometrically from the last two counts clearly above it (Gauss-Legendre on an analytic
    integrand converges geometrically in the number of nodes)."""
    ns = sorted(errs)
    floor = min(errs.values())
    above = [n for n in ns if errs[n] >= 30 * max(floor, 1e-16) and n - 1 in errs]
    if not above:                                  # every count at the floor: the fewest may be
        return {n: (errs[n] if n == ns[0] else 0.0) for n in ns}, floor   # just there, more are below
    n0 = max(above)
    q = min(errs[n0] / errs[n0 - 1], 1.0) if errs[n0 - 1] > 0 else 1.0
    return {n: (errs[n] if n <= n0 else errs[n0] * q ** (n - n0)) for n in ns}, floor


def costs():
    """``{kind: (fixed, per node)}`` in ns of CPU per entry: each node loop timed on 256 entries (converged
    variances, ``r`` near 0.9) with 4 and 24 nodes."""
    m = 256
    a = np.full(m, 1.06)
    r = np.linspace(0.9, 0.92, m)
    sq = np.sqrt((1 - r) * (1 + r))
    W = np.zeros((bv.NWORK, m))
    W[7], W[8], W[9], W[10], W[11] = np.arctan2(sq, r), a, a, r, sq
    W[12] = W[13] = bv.scaled_tails(a)
    out = {}
    for kind, fn in (("l", bv._low_regime), ("h", bv._high_regime), ("o", bv._owen_regime)):
        t = []
        for n in (4, 24):
            X, WT = bv._rule_nodes(f"{kind}{n}")
            fn(m, X, WT, W)
            reps, t0 = 2000, time.process_time()
            for _ in range(reps):
                fn(m, X, WT, W)
            t.append((time.process_time() - t0) / reps / m * 1e9)
        per = (t[1] - t[0]) / 20
        out[kind] = (t[0] - 4 * per, per)
    return out


def _arb_nodes(n):
    """The ``n`` nonnegative nodes (``t = 0`` first, at half weight) of the (2n - 1)-node
    Gauss-Legendre rule, as Arb balls at the current precision."""
    m = 2 * n - 1
    out = [(flint.arb(0), flint.arb.legendre_p_root(m, n - 1, weight=True)[1] / 2)]
    out += [flint.arb.legendre_p_root(m, k, weight=True) for k in range(n, m)]
    return out


def owen_reference(a, b, r, nodes=80, prec=128):
    """``E_a + E_b`` and ``T_ab`` of points with ``r >= 0.3`` by Owen's form (``_owen_regime``'s
    formulas) in 128-bit Arb arithmetic with 80 nodes (truncation below 1e-40 there: the poles
    ``t = +-i r/s`` lie outside the ellipse ``rho = 1.36``), rounded to float64; the rounding floor of the
    float64 rules does not enter."""
    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        X = _arb_nodes(nodes)
        sq2, pi2 = flint.arb(2).sqrt(), 2 * flint.arb.pi()

        def ncx(y):                                  # e^{y^2/2} Phi(-y)
            return (y * y / 2).exp() * (y / sq2).erfc() / 2

        out = np.empty((2, a.size))
        for k in range(a.size):
            A, B, R = flint.arb(float(a[k])), flint.arb(float(b[k])), flint.arb(float(r[k]))
            s2 = (1 - R) * (1 + R)
            s = s2.sqrt()
            c, h1, h2 = s / R, A + R * B, B + R * A
            al1, al2 = B * s / h1, A * s / h2
            ie = it = flint.arb(0)
            for t, w in X:
                tt = t * t
                u = s2 * (1 - tt) / 2
                ea, eb = (A * A * u).exp(), (B * B * u).exp()
                ie += w * (ea + eb) / (1 + c * c * tt)
                it += w * (al1 * eb / (1 + al1 * al1 * tt) + al2 * ea / (1 + al2 * al2 * tt))
            ea0, eb0 = (A * A * s2 / 2).exp(), (B * B * s2 / 2).exp()
            out[0, k] = float(((ncx(A) + ncx(B)) / 2 + (ea0 * ncx(R * A) + eb0 * ncx(R * B)) / 2 - c * ie / pi2).mid())
            out[1, k] = float(((eb0 * ncx(h1) + ea0 * ncx(h2)) / 2 - it / pi2).mid())
        return out
    finally:
        flint.ctx.prec = old


def best_rule(a, b, r, r_lo, r_hi, tol, cost, kinds):
    """The cheapest rule (``cost[kind]``: fixed and per-node ns) whose truncation error
    (:func:`truncation`) is below ``tol / 2`` and whose measured error is within
    ``max(tol, 2 floor)`` (``floor``: the lowest rounding floor of the kinds); its measured error.
    The reference: :func:`owen_reference` where every ``r >= 0.3``, else Genz's 96-node sum."""
    if r_lo >= 0.3 and np.all(r >= 0):
        ref = owen_reference(a, b, r)
    else:
        ref = _outputs(a, b, r, ("l" if r_hi <= 0.98 else "h", REF_NODES))
    scale = np.maximum(1.0, np.abs(ref))
    found = {}
    for kind in kinds:
        if kind == "l" and r_hi > 0.999:           # Genz's sum in asin r: not near |r| = 1
            continue
        if kind == "o" and r_lo < 0.3:             # Owen's T: c = s/r, not near r = 0
            continue
        errs = {n: float(np.max(np.abs(_outputs(a, b, r, (kind, n)) - ref) / scale)) for n in CANDIDATES}
        found[kind] = (errs, *truncation(errs))
    floor = min(f for _, _, f in found.values())
    ok = [(cost[kind][0] + cost[kind][1] * n, n, kind, errs[n]) for kind, (errs, trunc, _) in found.items()
          for n in CANDIDATES if trunc[n] <= tol / 2 and errs[n] <= max(tol, 2 * floor)]
    _, n, kind, err = min(ok)
    return f"{kind}{n}", err


def table(r_edges, a_edges, npts, seed, tol, positive):
    rng = np.random.default_rng(seed)
    cost = costs()
    print("ns per entry (fixed + per node): " + ", ".join(f"{k} {c[0]:.0f} + {c[1]:.1f} n" for k, c in cost.items()))
    kinds = ("l", "h", "o") if positive else ("l", "h")
    rb = (0.0, *r_edges, 1.0)
    ab = (0.1, *a_edges, 4.0)                      # max(a, b) <= sqrt(ELU_RANGE[1]) = 4
    rows, errs = [], []
    for i in range(len(rb) - 1):
        row, erow = [], []
        for j in range(len(ab) - 1):
            a, b, r = cell_points(rb[i], rb[i + 1], ab[j], ab[j + 1], npts, rng)
            if positive:
                r = np.abs(r)
            name, e = best_rule(a, b, r, rb[i], rb[i + 1], tol, cost, kinds)
            row.append(name)
            erow.append(e)
        rows.append(tuple(row))
        errs.append(erow)
        print(f"  |r| in [{rb[i]}, {rb[i + 1]}): " + ", ".join(f"{n} ({e:.1e})" for n, e in zip(row, erow)), flush=True)
    return tuple(rows), errs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tol", type=float, default=2.5e-16)
    p.add_argument("--r-edges", type=float, nargs="*", help="edges of |r| (default: R_EDGES)")
    p.add_argument("--table", choices=("pos", "neg"), default="pos", help="RULES_POS (r >= 0) or RULES (r < 0)")
    args = p.parse_args()
    r_edges = tuple(args.r_edges) if args.r_edges else bv.R_EDGES
    positive = args.table == "pos"
    rules, _ = table(r_edges, bv.A_EDGES, args.points, args.seed, args.tol, positive)
    name = "RULES_POS" if positive else "RULES"
    print(f"R_EDGES = {r_edges}")
    print(f"{name} = (" + ",\n         ".join("(" + ", ".join(f'"{c}"' for c in row) + ")" for row in rules) + ")")
    if r_edges == bv.R_EDGES:
        old = getattr(bv, name)
        same = sum(x == y for r1, r2 in zip(rules, old) for x, y in zip(r1, r2))
        print(f"{same} of {sum(len(r) for r in rules)} cells as in symkernel.nn.bivariate.{name}")


if __name__ == "__main__":
    main()
