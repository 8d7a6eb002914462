"""Regenerate the node-count table ``RULES`` of symkernel/nn/bivariate.py (docs/theory.md §28).

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

    python benchmarks/elu_rules.py [--points 6000] [--seed 0]

prints the table as Python (paste it over ``RULES``) and, for each cell, the error reached.  It
calls the block code's private node loops (``_low_regime``, ``_high_regime``) with other node
sets: a script of the package's maintainers, not an API.  The reference shares that code: this
table is only a choice of node counts; the accuracy itself is tested against 30-digit quadrature
(tests/test_nn_elu_fast.py).
"""
import argparse

import numpy as np

from symkernel.nn import bivariate as bv

CANDIDATES = tuple(range(2, 33))
REF_NODES = 96


def _outputs(a, b, r, rule):
    """``E_a + E_b`` and ``T_ab`` of points ``(a, b, r)`` by the node loop of ``rule`` (``("l", n)`` or
    ``("h", n)``), in chunks of 256."""
    kind, n = rule
    X, WT = np.polynomial.legendre.leggauss(n)
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
        (bv._high_regime if kind == "h" else bv._low_regime)(m, X, WT, W)
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
    if not above:
        return dict(errs), floor
    n0 = max(above)
    q = min(errs[n0] / errs[n0 - 1], 1.0) if errs[n0 - 1] > 0 else 1.0
    return {n: (errs[n] if n <= n0 else errs[n0] * q ** (n - n0)) for n in ns}, floor


def best_rule(a, b, r, r_hi, tol):
    """The cheapest rule whose truncation error (:func:`truncation`) is below ``tol / 2`` and whose
    measured error is within ``max(tol, 2 floor)``; its measured error."""
    ref = _outputs(a, b, r, ("l" if r_hi <= 0.98 else "h", REF_NODES))
    scale = np.maximum(1.0, np.abs(ref))
    ok, measured = [], {}
    for kind in ("l", "h"):
        if kind == "l" and r_hi > 0.999:           # Genz's sum in asin r: not near |r| = 1
            continue
        errs = {n: float(np.max(np.abs(_outputs(a, b, r, (kind, n)) - ref) / scale)) for n in CANDIDATES}
        trunc, floor = truncation(errs)
        for n in CANDIDATES:
            measured[(kind, n)] = errs[n]
            if trunc[n] <= tol / 2 and errs[n] <= max(tol, 2 * floor):
                ok.append((n * (2 if kind == "h" else 1), n, kind))
    _, n, kind = min(ok)
    return f"{kind}{n}", measured[(kind, n)]


def table(r_edges, a_edges, npts, seed, tol):
    rng = np.random.default_rng(seed)
    rb = (0.0, *r_edges, 1.0)
    ab = (0.1, *a_edges, 4.0)                      # max(a, b) <= sqrt(ELU_RANGE[1]) = 4
    rows, errs = [], []
    for i in range(len(rb) - 1):
        row, erow = [], []
        for j in range(len(ab) - 1):
            a, b, r = cell_points(rb[i], rb[i + 1], ab[j], ab[j + 1], npts, rng)
            name, e = best_rule(a, b, r, rb[i + 1], tol)
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
    args = p.parse_args()
    r_edges = tuple(args.r_edges) if args.r_edges else bv.R_EDGES
    rules, _ = table(r_edges, bv.A_EDGES, args.points, args.seed, args.tol)
    print(f"R_EDGES = {r_edges}")
    print("RULES = (" + ",\n         ".join("(" + ", ".join(f'"{c}"' for c in row) + ")" for row in rules) + ")")
    if r_edges == bv.R_EDGES:
        same = sum(x == y for r1, r2 in zip(rules, bv.RULES) for x, y in zip(r1, r2))
        print(f"{same} of {sum(len(r) for r in rules)} cells as in symkernel.nn.bivariate.RULES")


if __name__ == "__main__":
    main()
