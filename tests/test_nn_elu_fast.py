"""The vectorized ELU kernels (symkernel/nn/bivariate.py ``elu_block``, symkernel/nn/fastmath.py;
docs/theory.md §28), each checked against a reference written here that shares none of their code:
30-digit mpmath quadrature of the bivariate normal CDF, mpmath's erfc/atan2, ``math.exp``/``math.sin``,
the 1-D quadrature of test_nn_elu_closed_form (F, D), and a 30-digit recursion of a depth-20 network."""
import math

import mpmath as mp
import numpy as np
import pytest

import symkernel as sk
from symkernel.nn import bivariate, fastmath
from _elu_refs import phi2
from test_nn_elu_closed_form import elu_ref

numba = pytest.importorskip("numba")
EPS = np.finfo(float).eps


@numba.njit(error_model="numpy", fastmath={"contract"})
def _apply(fn_id, x, y):
    out = np.empty((2, x.size))
    for k in range(x.size):
        if fn_id == 0:
            out[0, k] = fastmath.exp_fast(x[k])
            out[1, k] = 0.0
        elif fn_id == 1:
            out[0, k], out[1, k] = fastmath.erfc_pair(x[k])
        elif fn_id == 4:
            out[0, k], out[1, k] = fastmath.erfc_pair_le4(x[k])
        elif fn_id == 5:
            out[0, k], out[1, k] = fastmath.erfc_pair_mid(x[k])
        elif fn_id == 6:
            out[0, k], out[1, k] = fastmath.erfc_pair_small(x[k])
        elif fn_id == 2:
            out[0, k] = fastmath.atan2_fast(x[k], y[k])
            out[1, k] = 0.0
        else:
            out[0, k] = fastmath.sin_small(x[k])
            out[1, k] = 0.0
    return out


def _ulps(got, ref):
    return np.abs(got - ref) / np.spacing(np.abs(ref))


def test_exp_against_math_exp():
    x = np.concatenate([np.linspace(-708, 709, 100001), np.linspace(-1, 1, 20001), [0.0, -708.0, -750.0]])
    got = _apply(0, x, x)[0]
    ref = np.array([math.exp(v) for v in x])
    fin = x >= -708
    assert _ulps(got[fin], ref[fin]).max() <= 2
    assert got[-1] == 0.0                              # below -708: 0 (the true value < 3.3e-308)


def test_erfc_pair_against_mpmath():
    """Cody's approximations, branch-free: erfcx and erfc within 4 ulp of mpmath on [0, 27] (measured:
    2 ulp on [0, 0.47] and above 4, 4 ulp between, the rounding of the degree-8 rational), the
    breakpoints 0.46875 and 4 included from both sides."""
    y = np.concatenate([np.linspace(0, 6, 2401), np.linspace(6, 27, 300),
                        [np.nextafter(0.46875, 0), 0.46875, np.nextafter(0.46875, 1), np.nextafter(4.0, 0), 4.0,
                         np.nextafter(4.0, 5)]])
    got = _apply(1, y, y)
    with mp.workdps(30):
        ecx = np.array([float(mp.erfc(mp.mpf(v)) * mp.exp(mp.mpf(v) ** 2)) for v in y])
        ec = np.array([float(mp.erfc(mp.mpf(v))) for v in y])
    assert _ulps(got[0], ecx).max() <= 4
    normal = ec > 1e-300
    assert _ulps(got[1][normal], ec[normal]).max() <= 4


def test_erfc_pieces_are_erfc_pair():
    """The one- and two-piece forms (used where a row's arguments lie in their range) give erfc_pair's
    bits there (itself tested against mpmath above); the one-piece forms are wrong outside."""
    y = np.concatenate([np.linspace(0, 4, 4001), [np.nextafter(0.46875, 0), 0.46875, np.nextafter(0.46875, 1)]])
    full = _apply(1, y, y)
    small, mid = y <= 0.46875, y > 0.46875
    assert np.array_equal(_apply(4, y, y), full)
    assert np.array_equal(_apply(6, y[small], y[small]), full[:, small])
    assert np.array_equal(_apply(5, y[mid], y[mid]), full[:, mid])
    assert np.abs(_apply(5, y[small], y[small]) - full[:, small]).max() > 1e-12


def test_atan2_and_sin_against_references():
    rng = np.random.default_rng(27)
    y, x = rng.uniform(0, 2, 20000), rng.uniform(-2, 2, 20000)
    got = _apply(2, y, x)[0]
    with mp.workdps(30):
        ref = np.array([float(mp.atan2(mp.mpf(a), mp.mpf(b))) for a, b in zip(y[:3000], x[:3000])])
    assert _ulps(got[:3000], ref).max() <= 3
    t = np.linspace(-1.4, 1.4, 100001)
    assert _ulps(_apply(3, t, t)[0], np.sin(t))[np.abs(t) > 1e-300].max() <= 2


def scaled_refs(a, b, r):
    """E_a, E_b, T_ab of elu_block by 30-digit quadrature (docs/theory.md §25, §28)."""
    with mp.workdps(30):
        A, B, R = mp.mpf(a), mp.mpf(b), mp.mpf(r)
        return [mp.exp(A * A / 2) * phi2(-A, -R * A, R), mp.exp(B * B / 2) * phi2(-R * B, -B, R),
                mp.exp((A * A + B * B) / 2 + R * A * B) * phi2(-(A + R * B), -(B + R * A), R)]


R_GRID = (0.0, 0.2, -0.2, 0.5, -0.5, 0.8, -0.8, 0.93, -0.93, 0.99, -0.99, 0.999999, -0.999999, 1.0, -1.0)
PAIRS = ((0.3, 0.7), (1.0, 1.4), (2.5, 1.2), (4.0, 3.5), (3.8, 0.5))


def _grid():
    """Every r of R_GRID with one of PAIRS in turn (shifts |h|, |k| up to 7.5, scales up to e^{15}),
    and the cells a deep network's entries mostly fall in (a, b ~ 0.85, 0.9 < r < 0.98)."""
    return [(*PAIRS[(n + 2) % 5], r) for n, r in enumerate(R_GRID)] + [(0.85, 0.8, 0.9), (0.9, 0.85, 0.96),
                                                                         (0.8, 0.9, 0.975)]


@pytest.fixture(scope="module")
def phi2_grid():
    pts = _grid()
    a, b, r = (np.array(v) for v in zip(*pts))
    return pts, bivariate.elu_phi2_many(a, b, r), [scaled_refs(*p) for p in pts]


def test_scaled_phi2_against_quadrature(phi2_grid):
    """E_a + E_b (all that F and D need) and T_ab within 2.5e-16 absolute (the values are at most 1)
    where max(a, b) <= 2.5, and 1e-15 at scales up to e^{15} (kappa^2 q up to 16: rounding of node terms up to e^{ab}, docs/theory.md §28)."""
    pts, got, refs = phi2_grid
    for n, ((a, b, r), ref) in enumerate(zip(pts, refs)):
        tol = 2.5e-16 if max(a, b) <= 2.5 else 1e-15
        for t, want in enumerate((ref[0] + ref[1], ref[2])):
            assert abs(got[t, n] - float(want)) <= tol, (a, b, r, t, float(got[t, n] - want))


def test_fewer_nodes_are_rejected(phi2_grid):
    """The same comparison rejects Genz's fixed rule at the top of the range (6 nodes for |r| < 0.3,
    as the scalar ``bvn``): T_ab at a = 4, b = 3.5, r = 0.2 is off by more than its tolerance."""
    pts, _, refs = phi2_grid
    n = pts.index((4.0, 3.5, 0.2))
    a, b, r = pts[n]
    old = bivariate.bvn(-(a + r * b), -(b + r * a), r, 0.5 * (a * a + b * b) + r * a * b)
    assert abs(old - float(refs[n][2])) > 1e-15          # the tolerance of the comparison above


@pytest.mark.parametrize("a, b, r", [(4.0, 4.0, 0.29), (0.85, 0.9, 0.96), (1.2, 0.7, 0.985)])
def test_elu_kernels_block_against_quadrature(a, b, r):
    """F and D of the block code against the 1-D quadrature of test_nn_elu_closed_form (8 ulp of
    the value, times 1 + 1/(ab)); v off by 1e-9 rejected."""
    Fr, Dr = elu_ref(a, b, r)
    tol = 8 * EPS * (1 + 1 / (a * b))
    for v, ok in ((1.0, True), (1 + 1e-9, False)):
        F, D = bivariate.elu_kernels_many(np.array([a]), np.array([b]), np.array([r]), 1.0, v)
        good = abs(F[0] - Fr) <= tol * abs(Fr) and abs(D[0] - Dr) <= tol * abs(Dr)
        assert good == ok, (a, b, r, v, float(F[0] - Fr), float(D[0] - Dr))


def test_scalar_form_is_the_block_code():
    """``elu_kernels`` (scalar) is one entry of the block code: it agrees with a block of 300 entries to
    the rounding of the node terms (a block-wide choice, the form of E_a + E_b's node sum, changes
    the last bits: measured 1.2e-15 at a, b up to 4, node terms up to e^{ab}); and at the top of
    ELU_RANGE, where Genz's fixed rule (the former scalar code) left D 1e-12 off, it is within the
    1-D quadrature's tolerance."""
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0.1, 4, 300), rng.uniform(0.1, 4, 300)
    r = np.concatenate([rng.uniform(-1, 1, 200), 1 - 10 ** rng.uniform(-14, -1, 50),
                        -1 + 10 ** rng.uniform(-14, -1, 50)])
    F, D = bivariate.elu_kernels_many(a, b, r, 1.0, 1.0)
    ref = np.array([bivariate.elu_kernels(*z, 1.0, 1.0) for z in zip(a, b, r)])
    assert np.max(np.abs(F - ref[:, 0]) / np.maximum(1, np.abs(F))) <= 4e-15
    assert np.max(np.abs(D - ref[:, 1]) / np.maximum(1, np.abs(D))) <= 4e-15
    F, D = bivariate.elu_kernels(4.0, 4.0, 0.29, 1.0, 1.0)
    Fr, Dr = elu_ref(4.0, 4.0, 0.29)
    assert abs(D - Dr) <= 8 * EPS * abs(Dr) and abs(F - Fr) <= 8 * EPS * abs(Fr)


@pytest.mark.parametrize("r", [0.45, 0.78, 0.88, 0.93, -0.93, 0.965])
def test_converged_variances_against_quadrature(r):
    """Entries whose variances have converged (|b^2 - a^2| <= 1e-2 in a whole cell: the short
    cosh series of the E_a + E_b node loop) within 2.5e-16 of the 30-digit quadrature."""
    a, b = 0.85, 0.853
    E = bivariate.elu_phi2_many(np.array([a]), np.array([b]), np.array([r]))
    ref = scaled_refs(a, b, r)
    assert abs(E[0, 0] - float(ref[0] + ref[1])) <= 2.5e-16 and abs(E[1, 0] - float(ref[2])) <= 2.5e-16


@pytest.mark.parametrize("a, b, r", [(2.6, 3.6, 0.979), (3.9, 3.2, 0.955), (1.06, 1.2, 0.95), (0.3, 2.2, 0.9),
                                     (1.1, 1.05, 0.78), (3.5, 0.4, 0.999), (0.2, 0.15, 0.99995)])
def test_owen_cells_against_quadrature(a, b, r):
    """Where ``RULES_POS`` takes Owen's T (``r >= 0``, docs/theory.md §28) E_a + E_b and T_ab are within
    2.5e-16 of ``max(1, value)`` of the 30-digit quadrature, also at a, b up to 4 (where Owen's form,
    whose terms are up to ~e^{ab (1 + r)/2}, rounds to ~1e-16 of them)."""
    E = bivariate.elu_phi2_many(np.array([a]), np.array([b]), np.array([r]))
    ref = scaled_refs(a, b, r)
    for got, want in ((E[0, 0], ref[0] + ref[1]), (E[1, 0], ref[2])):
        assert abs(got - float(want)) <= 2.5e-16 * max(1.0, abs(float(want))), (a, b, r, float(got - want))


def test_owen_rule_is_taken_where_a_deep_network_sits():
    """The cells of converged deep-network entries (a, b ~ 1, 0.8 < r < 0.999) use Owen's T; the same
    cells for r < 0 keep Genz's rules (Owen's form here assumes r > 0)."""
    for r in (0.82, 0.9, 0.96, 0.985, 0.998):
        ri = sum(r >= e for e in bivariate.R_EDGES)
        ai = sum(1.06 > e for e in bivariate.A_EDGES)
        assert bivariate.RULES_POS[ri][ai][0] == "o" and bivariate.RULES[ri][ai][0] in "lh", r


def _deep_mp(X, depth, w, bias):
    """NNGP and NTK of (Dense(w, bias) -> elu) x depth -> Dense(w, bias) for two inputs at 30 digits:
    variances by E[elu(u)^2] = a^2/2 + e^{2a^2} Phi(-2a) - 2 e^{a^2/2} Phi(-a) + 1/2 (a = sqrt q),
    the pair by the closed form of docs/theory.md §25 with each Phi_2 by quadrature (phi2)."""
    with mp.workdps(30):
        x = [[mp.mpf(float(z)) for z in row] for row in X]
        d = len(x[0])
        q = [mp.fsum(v * v for v in row) / d for row in x]
        c = mp.fsum(u * v for u, v in zip(*x)) / d
        t = mp.mpf(0)
        for _ in range(depth):
            q = [w * v + bias for v in q]
            c = w * c + bias
            t = c + w * t
            a, b = mp.sqrt(q[0]), mp.sqrt(q[1])
            r = c / (a * b)
            s = mp.sqrt((1 - r) * (1 + r))
            th = mp.acos(r)
            P = mp.mpf(1) / 2 - th / (2 * mp.pi)
            Ea, Eb, Tab = scaled_refs(a, b, r)
            Ga, Gb = mp.exp(a * a / 2) * mp.ncdf(-a), mp.exp(b * b / 2) * mp.ncdf(-b)
            Ta, Tb = Ga - Ea, Gb - Eb
            Ma = (mp.exp(a * a * s * s / 2) * mp.ncdf(-a * s) - mp.mpf(1) / 2) / mp.sqrt(2 * mp.pi)
            Mb = (mp.exp(b * b * s * s / 2) * mp.ncdf(-b * s) - mp.mpf(1) / 2) / mp.sqrt(2 * mp.pi)
            D = P + Ta + Tb + Tab
            c = (a * b * (s + (mp.pi - th) * r) / (2 * mp.pi) + a * (r * b * Tb + Mb) + b * (r * a * Ta + Ma)
                 + (Tab - Ea - Eb) + P)
            t = t * D
            q = [v / 2 + mp.exp(2 * v) * mp.ncdf(-2 * mp.sqrt(v)) - 2 * mp.exp(v / 2) * mp.ncdf(-mp.sqrt(v))
                 + mp.mpf(1) / 2 for v in q]
        c = w * c + bias
        return c, c + w * t


def test_deep_elu_network_against_30_digits():
    """Depth 20, two inputs: the fused float64 NNGP and NTK entry within 1e-12 of the 30-digit
    recursion (with the wrong slope v = 1 + 1e-9 the float64 entry is rejected)."""
    rng = np.random.default_rng(20)
    X = rng.standard_normal((2, 5))
    net = sk.nn.serial(sk.nn.repeat(sk.nn.serial(sk.nn.Dense(1.5, 0.05), sk.nn.Activation("elu")), 20),
                       sk.nn.Dense(1.5, 0.05))
    k = net.kernel(X[:1], X[1:])
    assert k.method.startswith("float64 (fused loops")
    N, T = _deep_mp(X, 20, 1.5, 0.05)
    assert abs(k.nngp[0, 0] - N) <= 1e-12 * abs(N) and abs(k.ntk[0, 0] - T) <= 1e-12 * abs(T)
    wrong = sk.nn.serial(sk.nn.repeat(sk.nn.serial(sk.nn.Dense(1.5, 0.05), sk.nn.Activation("celu", alpha=1 + 1e-9)),
                                      20), sk.nn.Dense(1.5, 0.05)).kernel(X[:1], X[1:])
    assert abs(wrong.nngp[0, 0] - N) > 1e-12 * abs(N)
