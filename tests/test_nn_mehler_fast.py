"""The compiled Mehler series of symkernel.nn.mehler_fused (tanh, softplus: no closed form) against
paths that share none of its code: the NumPy Mehler path (one quadrature per input, its own term
count, per-entry error bounds; symkernel.nn.pair), the dps=30 path (Mehler's series with proven
Hermite coefficients in mpmath; symkernel.nn.series_mp), and the proven coefficients themselves
for the number of terms the compiled path keeps.  Each check is also shown to reject a slightly
wrong network (sigma_w^2 off by 1e-9), so that it can fail."""
import mpmath
import numpy as np
import pytest

import symkernel as sk
from symkernel.core.activations import as_activation
from symkernel.nn import mehler_fused
from symkernel.nn.pair import pair_kernel
from symkernel.nn.series_mp import SeriesStep

pytest.importorskip("numba")
EPS = np.finfo(float).eps


def _stack(act, depth, sw2=1.5, sb2=0.05):
    block = sk.nn.serial(sk.nn.Dense(sw2, sb2), sk.nn.Activation(act))
    return sk.nn.serial(sk.nn.repeat(block, depth), sk.nn.Dense(sw2, sb2))


@pytest.fixture
def paths(monkeypatch):
    """The names of the compiled loops that ran (the table loop or the grouped one)."""
    ran = []
    real = mehler_fused.compile_loop

    def spy(fn):
        loop = real(fn)

        def run(*args):
            ran.append(fn.__name__)
            return loop(*args)
        return run
    monkeypatch.setattr(mehler_fused, "compile_loop", spy)
    return ran


def _against_numpy_path(net, x1, x2, rel=1e-13):
    k = net.kernel(x1, x2, tol=1e-12)
    assert "fused Mehler" in k.method          # its worst-case bound met tol = 1e-12
    ref = net.kernel(x1, x2, errors=True, fused=False, tol=1.0)
    for what in ("nngp", "ntk"):
        got, want, err = getattr(k, what), getattr(ref, what), getattr(ref, what + "_error")
        assert (np.abs(got - want) <= err).all(), (what, np.max(np.abs(got - want) / err))
        worst = np.max(np.abs(got - want) / np.abs(want))
        assert worst <= rel, (what, worst)
    return k, ref


def test_depth_100_many_variances_against_the_numpy_path(paths):
    """Ten inputs of different norms (more distinct variances than EXACT_BELOW: the table loop
    with the stop per row and block; fewer than DIRECT_BELOW: one quadrature per value, the
    interpolants are checked below) at depth 100 in the ordered phase (x2 omitted: the triangle;
    the full matrix in the grouped test below)."""
    x = np.random.default_rng(17).standard_normal((10, 6))
    _against_numpy_path(_stack("tanh", 100), x, None)
    assert "_mehler_rows" in paths


@pytest.mark.parametrize("act, depth", [("tanh", 30), ("softplus", 12)])
def test_few_variances_take_the_grouped_loop(act, depth, paths):
    """Inputs that are sign flips of two vectors have exactly two variances at every layer: each
    entry's series is then a polynomial in rho with coefficients shared by its pair of groups
    (_grouped_rows), against the NumPy path."""
    rng = np.random.default_rng(18)
    v = 0.5 * rng.standard_normal(6)          # variances whose series converge within MAX_TERMS
    signs = np.where(rng.random((9, 6)) < 0.5, -1.0, 1.0)
    x = signs * v
    x[5:] *= 2.0                                    # a second variance, exactly 4 times the first
    y = x[[1, 6, 3]] * np.array([[1.0], [-1.0], [1.0]])
    k, ref = _against_numpy_path(_stack(act, depth), x, None)
    _against_numpy_path(_stack(act, depth), x, y)
    assert set(paths) == {"_grouped_rows"}
    wrong = _stack(act, depth, sw2=1.5 + 1e-9).kernel(x, tol=1e-12)
    assert np.max(np.abs(wrong.ntk - ref.ntk) / np.abs(ref.ntk)) > 1e-11


def test_against_the_dps30_path_on_a_subsample():
    """Seventy inputs (more than DIRECT_BELOW: interpolated coefficients; table loop) at depth 3;
    the 2 x 2 subsample against the dps=30 path (proven coefficients), entry by entry; the
    off-by-1e-9 network fails."""
    # variances whose series converge within MAX_TERMS
    x = 0.6 * np.random.default_rng(19).standard_normal((70, 6))
    net = _stack("tanh", 3)
    k = net.kernel(x, tol=1e-12)
    assert "fused Mehler" in k.method
    ref = net.kernel(x[:2], dps=30)
    wrong = _stack("tanh", 3, sw2=1.5 + 1e-9).kernel(x[:2], tol=1e-12)
    for what in ("nngp", "ntk"):
        got, want = getattr(k, what)[:2, :2], getattr(ref, what)
        rel = max(float(abs(mpmath.mpf(float(got[i, j])) - want[i, j]) / abs(want[i, j]))
                  for i in range(2) for j in range(2))
        assert rel <= 1e-14, (what, rel)
        bad = getattr(wrong, what)
        off = max(float(abs(mpmath.mpf(float(bad[i, j])) - want[i, j]) / abs(want[i, j]))
                  for i in range(2) for j in range(2))
        assert off > 1e-11, (what, off)


def test_terms_kept_against_proven_coefficients():
    """The coefficients the compiled path interpolates (and the number of terms K it keeps)
    against Hermite coefficients enclosed in mpmath (symkernel.kernels.hermite_panels): every
    kept coefficient within the interpolation estimate, and the proven tail after K below
    2 eps E phi^2, so the truncation is as small as the path assumes."""
    mehler = pair_kernel("tanh")._mehler
    s = np.linspace(0.45, 0.6, 70)              # more than DIRECT_BELOW: interpolated
    got = mehler_fused.coefficients_and_terms(mehler, s)
    A, m2, err, K = got[:4]
    assert got.nodes > 0
    step = SeriesStep(as_activation("tanh"))
    for i in (0, 17, 69):
        with mpmath.workdps(40):
            exact, _ = step.coefficients(float(s[i]) ** 2, K + 60, 20)
            tail = float(sum(c * c for c in exact[K + 1:]))
        proven = np.array([float(c) for c in exact[:K + 1]])
        assert np.max(np.abs(A[i] - proven)) <= 4 * err + 8 * EPS
        assert tail <= 2 * EPS * m2[i], (tail, m2[i])
