"""Corollaries 2 and 3 of Joudaki, Daneshmand & Bach (NeurIPS 2023): the bound functions against
isometries computed here from log-determinants (numpy slogdet, not the package's eigenvalue path),
the exact identity behind the proof, and the bounds on every layer of simulated networks."""
import math

import numpy as np
import pytest

from symkernel.errors import InvalidInputError
from symkernel.papers.joudaki_daneshmand_bach_2023_corollaries import corollary_data
from symkernel.simulate.mlp import normalization_steps
from symkernel.theory.normalization import batch_norm, batch_norm_bound, layer_norm, layer_norm_bound


def iso(G):
    """Isometry det(G)^(1/n)/(tr G/n) by slogdet (an independent path)."""
    n = G.shape[0]
    sign, logdet = np.linalg.slogdet(G)
    return math.exp(logdet / n) / (np.trace(G) / n) if sign > 0 else 0.0


def by_hand(vectors):
    """(before, after, bound) of Theorem 1 for the rows of ``vectors``, written out here."""
    a = np.sqrt((vectors**2).sum(axis=1))
    unit = vectors / a[:, None]
    before, after = iso(vectors @ vectors.T), iso(unit @ unit.T)
    return before, after, before * (1 + ((a - a.mean()) ** 2).mean() / a.mean() ** 2), a


@pytest.mark.parametrize("seed", range(6))
def test_layer_norm_bound_against_slogdet_and_the_proof_identity(seed):
    rng = np.random.default_rng(seed)
    n, d = rng.integers(2, 12), rng.integers(12, 40)
    X = rng.standard_normal((n, d)) * rng.uniform(0.2, 3.0, size=(n, 1)) + rng.normal(size=d) * 0.5
    b = layer_norm_bound(X)
    before, after, bound, a = by_hand(X)
    assert (b.before, b.after, b.bound) == pytest.approx((before, after, bound), rel=1e-9)
    assert b.after >= b.bound
    # eqs. (5)-(7): I(G~)/I(G) = mean(a^2)/(prod a)^(2/n) exactly; the slack is AM/GM squared
    gm = math.exp(np.log(a).mean())
    assert after / before == pytest.approx((a**2).mean() / gm**2, rel=1e-9)
    assert b.slack == pytest.approx((a.mean() / gm) ** 2, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_batch_norm_bound_on_feature_covariances(seed):
    rng = np.random.default_rng(100 + seed)
    d = int(rng.integers(2, 10))
    n = d + int(rng.integers(0, 20))  # n >= d: the d x d covariance can be nonsingular
    X = rng.standard_normal((n, d)) * rng.uniform(0.2, 3.0, size=(1, d))
    b = batch_norm_bound(X)
    before, after, bound, _ = by_hand(X.T)
    assert (b.before, b.after, b.bound) == pytest.approx((before, after, bound), rel=1e-9)
    assert b.after >= b.bound > 0
    # the corrected BN of Table 1: each feature has mean square 1 over the n samples
    assert np.allclose((batch_norm(X) ** 2).mean(axis=0), 1.0)


def test_batch_norm_bound_is_empty_for_a_batch_smaller_than_the_width():
    X = np.random.default_rng(0).standard_normal((5, 8))
    b = batch_norm_bound(X)
    assert b.before == b.after == b.bound == 0.0 and math.isnan(b.slack)


def test_bad_batches_are_refused_with_the_bad_value_named():
    with pytest.raises(InvalidInputError, match="sample \\(row\\) 1 is all zero"):
        layer_norm([[1.0, 2.0], [0.0, 0.0]])
    with pytest.raises(InvalidInputError, match="feature \\(column\\) 0"):
        batch_norm([[0.0, 2.0], [0.0, 1.0]])
    with pytest.raises(InvalidInputError, match="NaN"):
        layer_norm_bound([[1.0, np.nan], [1.0, 2.0]])
    with pytest.raises(InvalidInputError, match="shape"):
        layer_norm_bound([1.0, 2.0])
    with pytest.raises(InvalidInputError, match="n >= 2"):
        layer_norm_bound([[1.0, 2.0]])


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_corollaries_hold_on_every_simulated_layer_and_are_not_vacuous(act):
    ln = corollary_data(act, "layer", n=8, width=128, depth=6, seeds=range(3))
    bn = corollary_data(act, "batch", n=48, width=24, depth=6, seeds=range(3))
    for d in (ln, bn):
        assert d["holds"] and d["informative"]
        assert np.all(d["factor"] > 1)  # the norms do vary: every layer's bound improves on I(G)
        # the bound captures about half of the gain in log-isometry (to leading order in the norm
        # spread, log(after/before) = 2 var/a^2 while log(factor) = var/a^2)
        share = np.log(d["factor"]) / np.log(d["after"] / d["before"])
        assert np.all((share > 0.4) & (share < 0.6))
    # a batch smaller than the width: both sides 0, said so
    small = corollary_data(act, "batch", n=8, width=24, depth=2, seeds=range(1))
    assert small["holds"] and not small["informative"]


def test_batch_norm_network_steps_are_batch_normalization():
    _, steps = normalization_steps("relu", n=16, width=12, depth=3, seed=1, dtype="float64",
                                   centering="batch", normalization="batch")
    for before, after in steps:
        assert np.allclose(before.mean(axis=0), 0, atol=1e-12)           # centered over the batch
        ms = (before**2).mean(axis=0)
        assert np.allclose(after, before / np.sqrt(ms)[None, :], rtol=1e-12)
    _, steps = normalization_steps("tanh", n=4, width=12, depth=2, seed=1, dtype="float64")
    for before, after in steps:                                          # eq. (1): per sample
        assert np.allclose(before.mean(axis=1), 0, atol=1e-12)
        assert np.allclose(after, before / np.sqrt((before**2).mean(axis=1))[:, None], rtol=1e-12)


def test_observe_must_be_callable():
    import symkernel as sk

    with pytest.raises(InvalidInputError, match="observe"):
        sk.simulate_mlp("relu", n=2, width=4, depth=1, observe=3)
