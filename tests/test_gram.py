"""Isometry, potential and bounds of Joudaki, Daneshmand & Bach (NeurIPS 2023) (Def. 1, Def. 4, Theorem 1, Lemma A.4, Theorem A.2,
Corollary A.3, Theorem 4); the mean-field Gram map, exact and in floats."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

import symkernel as sk
from symkernel import gram
from symkernel.errors import InvalidInputError

seeds = st.integers(0, 2**32 - 1)


def random_gram(seed, n, m=None):
    """Gram of n random vectors in R^m with random norms (m < n: degenerate)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m or n + 3)) * rng.uniform(0.2, 3.0, size=(n, 1))
    return X @ X.T


def random_correlation(seed, n, spread=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n + 2)) + spread * rng.standard_normal((1, n + 2))
    return gram.normalized_gram(X @ X.T)


@given(seeds, st.integers(2, 9))
def test_isometry_in_unit_interval_and_scale_invariant(seed, n):
    G = random_gram(seed, n)
    value = float(sk.isometry(G))
    assert 0 < value < 1
    for c in (1e-6, 3.0, 1e5):
        assert float(sk.isometry(c * G)) == pytest.approx(value, rel=1e-10)
    assert float(sk.isometry_gap(G)) == pytest.approx(-math.log(value), rel=1e-12)


@given(seeds, st.integers(2, 9))
def test_certified_isometry_agrees_with_float64_eigenvalues(seed, n):
    """Two paths that share no code: Arb on the exact integer determinant of the stored entries
    (the Quantity) and LAPACK eigenvalues in float64 (the float twin), to the float64 error."""
    G = random_gram(seed, n)
    q, gap = sk.isometry(G), sk.isometry_gap(G)
    assert q.kind == gap.kind == "certified" and isinstance(q, sk.Quantity)
    cond = np.linalg.cond(G)
    assert float(q) == pytest.approx(gram.isometry_float(G), rel=50 * n * cond * 2.2e-16)
    assert float(gap) == pytest.approx(gram.isometry_gap_float(G), abs=50 * n * cond * 2.2e-16)
    with mpmath.workdps(40):
        assert abs(gap.value(30) + mpmath.log(q.value(30))) < mpmath.mpf(10) ** -28 * gap.value(30)


@given(seeds, st.integers(2, 9), st.floats(1e-3, 1e3))
def test_isometry_is_one_exactly_for_multiples_of_identity(seed, n, c):
    assert sk.isometry(c * np.eye(n)).expr == 1 and sk.isometry_gap(c * np.eye(n)).expr == 0
    assert gram.isometry_float(c * np.eye(n)) == pytest.approx(1.0, abs=1e-14)
    assert gram.isometry_gap_float(c * np.eye(n)) == pytest.approx(0.0, abs=1e-14)
    G = c * np.eye(n)
    i, j = np.random.default_rng(seed).choice(n, 2, replace=False)
    G[i, i] *= 1.1  # any departure from c*I lowers the isometry
    assert float(sk.isometry(G)) < 1 - 1e-4
    G = c * np.eye(n)
    G[i, j] = G[j, i] = 0.05 * c
    assert float(sk.isometry(G)) < 1 - 1e-4
    assert gram.isometry_float(G) < 1 - 1e-4


def test_gap_of_a_nearly_scalar_matrix_keeps_its_digits():
    """G = I + e (E_01 + E_10): gap = -log(1 - e^2)/3 = e^2/3 + ..., which float64 loses entirely
    (log of 1 - 3e-25); the exact determinant of the stored entries keeps every digit."""
    e = 1e-12
    G = np.eye(3)
    G[0, 1] = G[1, 0] = e
    assert gram.isometry_gap_float(G) == 0.0
    with mpmath.workdps(60):
        ref = -mpmath.log(1 - mpmath.mpf(e) ** 2) / 3
        assert abs(sk.isometry_gap(G).value(30) - ref) < mpmath.mpf(10) ** -29 * ref


@given(seeds, st.integers(3, 8))
def test_degenerate_gram_gives_zero_isometry_and_infinite_gap(seed, n):
    """X X^T of rank n - 1 in exact arithmetic; its rounded float64 entries, as stored, are
    singular, indefinite (isometry 0 by the nearest-PSD convention) or positive definite with a
    tiny determinant (a certified tiny isometry): checked against mpmath's eigenvalues and
    determinant of the stored entries at 60 digits (eigsy/LU, no code shared)."""
    G = random_gram(seed, n, m=n - 1)  # rank n - 1
    G = 0.5 * (G + G.T)
    q, g = sk.isometry(G), sk.isometry_gap(G)
    with mpmath.workdps(60):
        A = mpmath.matrix(G.tolist())
        smallest = min(mpmath.eigsy(A)[0])
        if smallest <= 0:
            assert q.expr == 0 and float(q) == 0.0 and g.expr == sp.oo and float(g) == math.inf
            assert ("negative eigenvalue" if smallest < 0 else "singular") in q.provenance
        else:
            ref = mpmath.det(A) ** (mpmath.mpf(1) / n) / (sum(A[i, i] for i in range(n)) / n)
            assert q.kind == g.kind == "certified" and 0 < ref < 0.1   # det ~ eps: ref ~ eps^(1/n)
            assert abs(q.value(20) - ref) < mpmath.mpf(10) ** -20 * ref
            assert abs(g.value(20) + mpmath.log(ref)) < mpmath.mpf(10) ** -20 * abs(mpmath.log(ref))
    assert gram.isometry_float(G) == 0.0 and gram.isometry_gap_float(G) == math.inf
    assert gram.potential(np.ones((n, n))).expr == sp.oo and gram.potential_float(np.ones((n, n))) == math.inf


def test_no_underflow_and_agreement_with_mpmath_determinant():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((60, 240)) * 1e-4
    G = X @ X.T  # det ~ 1e-340 underflows in float64
    assert np.linalg.det(G) == 0.0
    value, q = gram.isometry_float(G), sk.isometry(G)
    with mpmath.workdps(40):
        M = mpmath.matrix(G.tolist())
        ref = mpmath.det(M) ** (mpmath.mpf(1) / 60) / (sum(M[i, i] for i in range(60)) / 60)
        assert abs(value - ref) < 1e-11 * ref
        assert q.kind == "certified" and abs(q.value(30) - ref) < mpmath.mpf(10) ** -29 * ref


def test_exact_isometry_for_sympy_matrices():
    a, b, c = sp.symbols("a c b", positive=True)
    q = sk.isometry(sp.Matrix([[a, b], [b, c]]))
    assert q.exact
    assert sp.simplify(q.expr - sp.sqrt(a * c - b**2) / ((a + c) / 2)) == 0
    G = sp.Matrix([[2, 1, 0], [1, 2, 1], [0, 1, 2]])
    q = sk.isometry(G)
    assert sp.simplify(q.expr - sp.root(4, 3) / 2) == 0
    assert float(q) == pytest.approx(float(sk.isometry(np.array(G, dtype=float))), rel=1e-14)
    assert sk.isometry(np.array(G, dtype=int)).expr == q.expr            # integers: exact
    assert sk.isometry([[2, 1, 0], [1, 2, 1], [0, 1, 2]]).expr == q.expr
    gap = sk.isometry_gap(G)
    with mpmath.workdps(30):
        assert abs(gap.value(30) + mpmath.log(q.value(30))) < mpmath.mpf(10) ** -28
    assert sk.isometry(sp.ones(3, 3)).expr == 0
    assert sk.isometry_gap(sp.ones(3, 3)).expr == sp.oo
    half = sp.Rational(1, 2)
    assert gram.potential(sp.Matrix([[1, half], [half, 1]])).expr == 1


@pytest.mark.parametrize("bad, words", [
    (np.ones((2, 3)), "square"), (np.ones((1, 1)), "n >= 2"), (np.ones((2, 2, 2)), "square"),
    (np.array([[1.0, 0.5], [0.2, 1.0]]), "symmetric"), (np.array([[1.0, 2.0], [2.0, 1.0]]), "semidefinite"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN"), (np.array([[np.inf, 0], [0, 1.0]]), "NaN"),
    ([["a", "b"], ["c", "d"]], "string entries"), (sp.Matrix([[1, 2], [2, 1]]), "semidefinite"),
    (sp.Matrix([[1, 0], [1, 1]]), "symmetric"), (sp.Matrix([[1, 2, 3]]), "square"),
])
def test_bad_input_raises_a_clear_error(bad, words):
    for fn in (sk.isometry, sk.isometry_gap, gram.potential):
        with pytest.raises(InvalidInputError, match=words):
            fn(bad)


def test_tolerance_is_stated_and_used():
    G = np.eye(3)
    G[2, 2] = -1e-15  # within 100 n eps of the largest eigenvalue: treated as 0
    assert sk.isometry(G).expr == 0 and gram.isometry_float(G) == 0.0
    with pytest.raises(InvalidInputError, match="semidefinite"):
        sk.isometry(G, tol=1e-17)


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    G = random_gram(3, 5)
    assert float(sk.isometry(torch.tensor(G))) == float(sk.isometry(G))
    assert float(sk.isometry(torch.tensor(G, dtype=torch.float32))) == pytest.approx(float(sk.isometry(G)), rel=1e-5)


@given(seeds, st.integers(2, 8))
def test_theorem_1_normalizing_never_lowers_isometry(seed, n):
    G = random_gram(seed, n)
    bound = gram.normalization_lower_bound_float(G)
    assert bound >= gram.isometry_float(G)
    assert float(sk.isometry(gram.normalized_gram(G))) >= bound * (1 - 1e-12)


@given(seeds, st.integers(2, 8), st.floats(0.0, 3.0))
def test_lemma_a4_bounds(seed, n, spread):
    C = random_correlation(seed, n, spread)
    low, det, up = gram.lemma_a4_bounds_float(C)
    assert det == pytest.approx(np.linalg.det(C), rel=1e-9, abs=1e-300)
    assert low <= det * (1 + 1e-9) + 1e-15
    assert det <= up * (1 + 1e-9) + 1e-15


def test_lemma_a4_requires_unit_diagonal_and_is_exact_for_sympy():
    with pytest.raises(InvalidInputError, match="unit-diagonal"):
        gram.lemma_a4_bounds(2 * np.eye(3))
    r = sp.Rational(1, 3)
    low, det, up = gram.lemma_a4_bounds(sp.Matrix([[1, r, 0], [r, 1, 0], [0, 0, 1]]))
    assert (low.expr, det.expr, up.expr) == (sp.Rational(1, 27), sp.Rational(8, 9), sp.Rational(8, 9))


# ---------------------------------------------------------------- mean-field map
def hermite_sigma_bar(act, K):
    """sigma_bar(rho) = sum_{1<=k<K} c_k^2 rho^k from exact Hermite coefficients (a second path)."""
    cs = [float(c) ** 2 for c in sk.hermite_coefficients(act, K)]
    return lambda r: sum(c * np.asarray(r) ** k for k, c in enumerate(cs) if k >= 1)


@pytest.mark.parametrize("name", ["sin", "exp"])
def test_gram_map_activation_path_matches_hermite_series(name):
    C = random_correlation(11, 5)
    ours = gram.gram_map(C, name)
    series = gram.gram_map(C, hermite_sigma_bar(name, 30))
    assert np.max(np.abs(ours - series)) < 1e-12


def test_gram_map_exact_for_symbolic_matrices():
    r = sp.Symbol("r")
    G = sp.Matrix([[1, r], [r, 1]])
    out = gram.gram_map(G, sk.x**2 + sk.x)  # sigma_bar = rho + 2 rho^2, sigma_bar(1) = 3
    assert sp.simplify(out[0, 1] - (r + 2 * r**2) / 3) == 0
    out = gram.gram_map(G, sk.x**2 + sk.x, centering=False)  # sigma_hat = 1 + rho + 2 rho^2
    assert sp.simplify(out[0, 1] - (1 + r + 2 * r**2) / 4) == 0
    third = sp.Rational(1, 3)
    out = gram.gram_map(sp.Matrix([[1, third], [third, 1]]), "sin", residual=sp.Rational(1, 2))
    expected = sp.Rational(3, 4) * sp.sinh(third) / sp.sinh(1) + third / 4
    assert abs(sp.N((out[0, 1] - expected).rewrite(sp.exp), 60)) < 1e-55  # simplify cannot decide
    num = gram.gram_map(np.array([[1, 1 / 3], [1 / 3, 1]]), "sin", residual=0.5)
    assert num[0, 1] == pytest.approx(float(expected), rel=1e-13)


def test_gram_map_bad_input():
    with pytest.raises(InvalidInputError, match="residual"):
        gram.gram_map(np.eye(2), "tanh", residual=1.0)
    with pytest.raises(InvalidInputError, match="depth"):
        gram.gram_sequence(np.eye(2), "tanh", -1)
    with pytest.raises(InvalidInputError, match="callable"):
        gram.gram_map(np.eye(2), 3)


ACTS = ["sin", "exp", sk.x**3 + sk.x, sk.x**2 + sk.x, "tanh"]


@pytest.fixture(scope="module")
def betas():
    return {str(a): float(sk.isometry_strength(a)) for a in ACTS}


@given(seeds, st.integers(2, 7), st.floats(0.0, 2.0), st.sampled_from(ACTS))
def test_theorem_a2_map_contracts_gamma_by_beta(betas, seed, n, spread, act):
    C = random_correlation(seed, n, spread)
    beta = betas[str(act)]
    g0, g1 = gram.potential_float(C), gram.potential_float(gram.gram_map(C, act))
    assert g1 <= g0 / beta * (1 + 1e-9) + 1e-15


@pytest.mark.parametrize("act", ACTS[:4])
def test_corollary_a3_and_theorem_4_along_the_mean_field_sequence(betas, act):
    C = random_correlation(5, 6, 1.0)
    beta = betas[str(act)]
    seq = gram.gram_sequence(C, act, 40)
    gammas = np.array([gram.potential_float(G) for G in seq])
    assert np.all(gammas <= gram.potential_bound_float(gammas[0], beta, np.arange(41)) * (1 + 1e-9) + 1e-300)
    gaps = np.array([gram.isometry_gap_float(G) for G in seq])
    bound = gram.isometry_gap_bound_float(C, beta, np.arange(41))
    start = gram.isometry_gap_bound_depth_float(C, beta)
    assert start < 40
    assert np.all(gaps[start:] <= bound[start:])
    assert gaps[-1] < 1e-3 * gaps[0]  # the map drives the Gram matrix to isometry


def test_bounds_as_symbolic_functions_of_depth():
    beta = sk.isometry_strength("relu")
    b = gram.isometry_gap_bound(np.eye(3), beta, sk.core.symbols.ell)
    assert sp.simplify(b.expr - 12 * beta.expr ** (-sk.core.symbols.ell)) == 0
    assert gram.potential_bound(2, 2, sk.core.symbols.ell).expr == 2 * 2 ** (-sk.core.symbols.ell)
    for fn in (gram.potential_bound, gram.potential_bound_float):
        with pytest.raises(InvalidInputError, match=r"\[1, 2\], got 0.5"):
            fn(1.0, 0.5, 3)
    assert gram.isometry_gap_bound_depth(np.array([[1.0, 0.5], [0.5, 1.0]]), 1.0).expr == sp.oo
    assert gram.isometry_gap_bound_depth_float(np.array([[1.0, 0.5], [0.5, 1.0]]), 1.0) == math.inf


# ---------------------------------------------------------------- input types and digits
def test_isometry_computes_in_float64_whatever_the_input_type():
    """float16 input once gave 0.0 (its 100 n eps tolerance called lambda_min = 0.1 zero)."""
    M = [[1, 0.9], [0.9, 1]]
    exact = math.sqrt(1 - 0.81)                       # sqrt(det) / (tr/2) for the decimal entries
    h = np.array(M, dtype=np.float16)
    stored = float(h[0, 1])                           # 0.89990234375, the float16 number given
    assert float(sk.isometry(h)) == pytest.approx(math.sqrt(1 - stored**2), rel=1e-14)
    assert float(sk.isometry(h)) == pytest.approx(exact, rel=1e-3)          # float16 rounding of 0.9
    f = np.array(M, dtype=np.float32)
    assert float(sk.isometry(f)) == pytest.approx(math.sqrt(1 - float(f[0, 1]) ** 2), rel=1e-14)
    assert float(sk.isometry(f)) == pytest.approx(exact, rel=1e-6)
    with mpmath.workdps(30):
        objects = np.array([[mpmath.mpf(1), mpmath.mpf("0.9")], [mpmath.mpf("0.9"), mpmath.mpf(1)]],
                           dtype=object)
    assert float(sk.isometry(objects)) == pytest.approx(exact, rel=1e-14)
    assert float(sk.isometry(np.array(M, dtype=object))) == pytest.approx(exact, rel=1e-14)
    ints = np.array([[2, 1], [1, 2]], dtype=np.int8)
    assert sk.isometry(ints).expr == sp.sqrt(3) / 2                     # exact integers: exact
    assert float(sk.isometry_gap(h)) == pytest.approx(-math.log(math.sqrt(1 - stored**2)), rel=1e-13)
    assert float(gram.potential(h)) == pytest.approx(stored / (1 - stored), rel=1e-14)
    with pytest.raises(InvalidInputError, match="real"):
        sk.isometry(np.array(M, dtype=complex))


def test_low_precision_gram_of_degenerate_vectors_is_degenerate():
    """A float32 Gram of 4 vectors in R^2 has eigenvalues of size eps32, of either sign: the
    default tolerance (100 n eps64 + n eps32) calls them zero instead of rejecting the input."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 2)).astype(np.float32)
    G = X @ X.T
    assert sk.isometry(G).expr == 0 and sk.isometry_gap(G).expr == sp.oo
    assert gram.isometry_float(G) == 0.0 and gram.isometry_gap_float(G) == math.inf
    assert float(sk.isometry(G.astype(np.float64) + 0.5 * np.eye(4))) > 0


def test_mean_reduced_value_at_one_is_an_enclosure():
    """sigma_bar(1) = E sigma^2 - c_0^2 for softplus (no closed form) to 30 digits, against
    mpmath quadrature at 50 digits (the Gram map divides by it: its layer kernel map is
    sigma_bar/sigma_bar(1))."""
    with mpmath.workdps(50):
        sp_ = lambda x: mpmath.log1p(mpmath.exp(-abs(x))) + max(x, 0)
        e = lambda g: mpmath.quad(lambda x: g(x) * mpmath.npdf(x), [-mpmath.inf, 0, mpmath.inf])
        ref = e(lambda x: sp_(x) ** 2) - e(sp_) ** 2
    before = mpmath.mp.prec
    res = sk.mean_reduced_dual("softplus").result(1, 30)
    assert mpmath.mp.prec == before and res.certified
    with mpmath.workdps(40):
        assert abs(res.value - ref) <= abs(ref) * mpmath.mpf(10) ** -30 + res.error
    f, f1 = gram._kernel_for("softplus", True)
    assert f1 == 1 and f.name == "kernel map with LN after the activation"


# ---------------------------------------------------------------- one result protocol
@pytest.mark.parametrize("seed, n", [(1, 2), (2, 5), (3, 9)])
def test_gram_functions_give_quantities_that_match_mpmath_on_the_stored_entries(seed, n):
    """Def. 4, Lemma A.4, Theorems 1 and 4 and Corollary A.3 return Quantities for float input
    (their float64 twins floats).  Each to 30 digits against its formula evaluated here by mpmath
    at 50 digits on the stored (symmetrized) entries (mpmath's LU determinant and sqrt: no code shared with the
    SymPy / FLINT / Arb paths), each twin to float64 accuracy."""
    G = random_gram(seed, n)
    C = gram.normalized_gram(G)
    beta, ells = 1.37, np.arange(3)
    off = [(i, j) for i in range(n) for j in range(n) if i != j]
    with mpmath.workdps(50):   # the entries as the package takes them: symmetrized, (G + G^T)/2
        M, K = (mpmath.matrix((0.5 * (A + A.T)).tolist()) for A in (G, C))   # exact: 53-bit entries
        r = max(abs(M[i, j]) / mpmath.sqrt(M[i, i] * M[j, j]) for i, j in off)
        gamma = r / (1 - r)
        m = max(abs(K[i, j]) for i, j in off)
        lemma = [(1 - (n - 1) * m) ** n if (n - 1) * m <= 1 else mpmath.mpf(0), mpmath.det(K), 1 - m**2]
        iso = mpmath.det(M) ** (mpmath.mpf(1) / n) / (sum(M[i, i] for i in range(n)) / n)
        a = [mpmath.sqrt(M[i, i]) for i in range(n)]
        abar = sum(a) / n
        theorem1 = iso * (1 + sum((x - abar) ** 2 for x in a) / n / abar**2)
        b = mpmath.mpf(beta)
        theorem4 = [4 * n * b ** -int(ell) / iso**n for ell in ells]
        corollary = [gamma * b ** -int(ell) for ell in ells]
        depth = max(0, int(mpmath.ceil(mpmath.log(2 * (n - 1) * gamma) / mpmath.log(b))))
    g0 = gram.potential(G)
    cases = [(g0, gamma, gram.potential_float(G)),
             (gram.normalization_lower_bound(G), theorem1, gram.normalization_lower_bound_float(G))]
    cases += list(zip(gram.lemma_a4_bounds(C), lemma, gram.lemma_a4_bounds_float(C)))
    cases += list(zip(gram.isometry_gap_bound(G, beta, ells), theorem4, gram.isometry_gap_bound_float(G, beta, ells)))
    cases += list(zip(gram.potential_bound(g0, beta, ells), corollary, gram.potential_bound_float(float(g0), beta, ells)))
    for q, ref, twin in cases:
        assert isinstance(q, sk.Quantity) and q.kind in ("exact", "certified"), q
        with mpmath.workdps(50):
            assert abs(q.value(30) - ref) <= mpmath.mpf(10) ** -29 * abs(ref) + mpmath.mpf(10) ** -60, (q, ref)
        assert isinstance(float(twin), float) and float(twin) == pytest.approx(float(ref), rel=1e-9, abs=1e-15)
    d = gram.isometry_gap_bound_depth(G, beta)
    assert d.expr == depth == gram.isometry_gap_bound_depth_float(G, beta)


def test_depth_on_an_exact_integer_is_that_integer():
    """log(2 gamma)/log(beta) = log 2/log 2 = 1 exactly for gamma = 1, beta = 2: the exact
    potential of the stored entries lets SymPy decide the ceiling (1, not 2)."""
    G = np.array([[1.0, 0.5], [0.5, 1.0]])
    assert gram.potential(G).expr == 1
    assert gram.isometry_gap_bound_depth(G, 2.0).expr == 1 == gram.isometry_gap_bound_depth_float(G, 2.0)
    assert [q.expr for q in gram.lemma_a4_bounds(G)] == [sp.Rational(1, 4), sp.Rational(3, 4), sp.Rational(3, 4)]
