"""The typos listed in joudaki_daneshmand_bach_2023.CORRECTIONS: printed vs corrected form, each
evaluated here on random batches in the paper's convention (X is d x n, columns are samples)."""
import math

import numpy as np
import pytest

from symkernel.papers.joudaki_daneshmand_bach_2023 import CORRECTIONS
from symkernel.papers.joudaki_daneshmand_bach_2023_corollaries import corollary3_as_printed


def iso(G):
    n = G.shape[0]
    sign, logdet = np.linalg.slogdet(G)
    return math.exp(logdet / n) / (np.trace(G) / n) if sign > 0 else 0.0


def batch(seed, d, n):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((d, n)) * rng.uniform(0.3, 3.0, size=(d, 1))   # d x n, rows = features


def test_every_correction_is_stated_with_a_check():
    assert len(CORRECTIONS) >= 4
    for c in CORRECTIONS:
        assert set(c) == {"where", "printed", "corrected", "check"} and c["printed"] != c["corrected"]


@pytest.mark.parametrize("seed", range(4))
def test_table1_batch_norm_sum_runs_over_the_n_samples(seed):
    d, n = 6, 15
    X = batch(seed, d, n)
    corrected = X / np.sqrt((X**2).sum(axis=1, keepdims=True) / n)
    printed = X / np.sqrt((X[:, :d] ** 2).sum(axis=1, keepdims=True) / n)   # sum_{k}^{d}
    assert np.allclose((corrected**2).mean(axis=1), 1)
    assert not np.allclose((printed**2).mean(axis=1), 1)
    perm = np.random.default_rng(seed).permutation(n)
    bn = lambda M, upto: M / np.sqrt((M[:, :upto] ** 2).sum(axis=1, keepdims=True) / n)
    assert np.allclose(bn(X[:, perm], n), bn(X, n)[:, perm])            # equivariant
    assert not np.allclose(bn(X[:, perm], d), bn(X, d)[:, perm])        # depends on the order


@pytest.mark.parametrize("seed", range(4))
def test_corollary3_as_printed_fails_and_corrected_holds(seed):
    d, n = 8, 20
    X = batch(seed, d, n)
    a = np.linalg.norm(X, axis=1)
    Xt = X / np.sqrt((X**2).mean(axis=1, keepdims=True))
    C, Ct = X @ X.T, Xt @ Xt.T
    corrected_rhs = iso(C) * (1 + np.mean((a - a.mean()) ** 2) / a.mean() ** 2)
    assert iso(Ct) >= corrected_rhs > iso(C) > 0
    # C~ := X X^T: the claim I(C) >= I(C)(1 + var/a_bar^2) is false as soon as the norms differ
    assert not iso(C) >= corrected_rhs
    # normalizer 1/n instead of 1/d (d < n): the claimed bound even exceeds 1 >= I(C~)
    a_bar = a.sum() / n
    printed_rhs = iso(C) * (1 + np.mean((a - a_bar) ** 2) / a_bar**2)
    assert printed_rhs > 1 >= iso(Ct)
    # the package's literal reading (rows-as-samples) computes the same two sides
    lhs, rhs = corollary3_as_printed(X.T)
    assert (lhs, rhs) == pytest.approx((iso(C), printed_rhs), rel=1e-9)


def test_theorem1_proof_det_of_d():
    rng = np.random.default_rng(3)
    V = rng.standard_normal((5, 9)) * rng.uniform(0.5, 2.0, size=(5, 1))
    G = V @ V.T
    a = np.sqrt(np.diag(G))
    D = np.diag(a)
    Gt = G / np.outer(a, a)
    assert np.allclose(D @ Gt @ D, G)
    assert np.linalg.det(G) == pytest.approx(np.linalg.det(Gt) * np.prod(a) ** 2, rel=1e-10)
    assert np.linalg.det(D) == pytest.approx(np.prod(a), rel=1e-12)                 # corrected
    assert np.linalg.det(D) != pytest.approx(np.prod(a**2), rel=1e-3)               # as printed
