"""Finite-width simulator: shapes, records, reproducibility, variants, and agreement with the
mean-field maps within O(1/sqrt(d)); NumPy vs torch on seed-independent statistics."""
import math

import numpy as np
import pytest

import symkernel as sk
from symkernel import gram
from symkernel.errors import InvalidInputError
from symkernel.simulate import inputs_with_gram


def test_shapes_records_and_layer_norm():
    res = sk.simulate_mlp("tanh", n=5, width=128, depth=4, seed=3, record=("pre_gram", "activations"))
    assert res.gram.shape == (5, 5, 5) and res.pre_gram.shape == (4, 5, 5)
    assert res.activations.shape == (5, 5, 128) and res.output.shape == (5, 128)
    assert np.allclose(np.diagonal(res.gram, axis1=1, axis2=2), 1, atol=1e-5)  # LN: unit norms
    assert np.allclose(res.norms, 1, atol=1e-5)
    assert res.isometry.shape == res.isometry_gap.shape == res.potential.shape == (5,)
    assert np.allclose(res.isometry_gap, -np.log(res.isometry))
    assert np.allclose(res.activations[-1], res.output, atol=1e-6)
    assert res.correlations.shape == (5, 5, 5)
    lean = sk.simulate_mlp("tanh", n=5, width=128, depth=4, seed=3)
    assert lean.activations is None and lean.pre_gram is None  # nothing per layer but n x n Grams
    assert np.array_equal(lean.gram, res.gram)


def test_seeded_and_reproducible():
    a = sk.simulate_mlp("relu", n=4, width=64, depth=3, seed=1, dtype="float64")
    b = sk.simulate_mlp("relu", n=4, width=64, depth=3, seed=1, dtype="float64")
    c = sk.simulate_mlp("relu", n=4, width=64, depth=3, seed=2, dtype="float64")
    assert np.array_equal(a.gram, b.gram) and not np.allclose(a.gram[1:], c.gram[1:])
    assert a.params["seed"] == 1 and a.params["dtype"] == "float64"


def test_inputs_with_exact_gram():
    C = gram.normalized_gram(np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 1.5]]))
    res = sk.simulate_mlp("relu", inputs_with_gram(C, 40), width=40, depth=0, dtype="float64")
    assert np.allclose(res.gram[0], C, atol=1e-12)  # centering and LN leave it unchanged


@pytest.mark.parametrize("name", ["relu", "tanh", "sin"])
@pytest.mark.parametrize("centering, normalization", [("layer", "layer"), ("mean_field", "mean_field")])
def test_one_layer_matches_mean_field_map_within_width_error(name, centering, normalization):
    C = gram.normalized_gram(np.array([[1.0, 0.6, -0.3, 0.2], [0.6, 1.0, 0.1, 0.0],
                                       [-0.3, 0.1, 1.0, 0.4], [0.2, 0.0, 0.4, 1.0]]))
    d = 4000
    theory = gram.gram_map(C, name)
    res = sk.simulate_mlp(name, inputs_with_gram(C, d), width=d, depth=1, seed=0, dtype="float64",
                          centering=centering, normalization=normalization)
    err = np.max(np.abs(res.correlations[1] - theory))
    assert err < 6 / math.sqrt(d)  # entries of a d-sample correlation have sd <= sqrt(2/d)


def test_gram_weights_sample_the_same_law_as_explicit_weights():
    C = np.array([[1.0, 0.5], [0.5, 1.0]])
    X = inputs_with_gram(C, 300)
    stats = {}
    for w in ("explicit", "gram"):
        vals = [sk.simulate_mlp("relu", X, width=300, depth=2, seed=s, weights=w, dtype="float64")
                .correlations[2, 0, 1] for s in range(12)]
        stats[w] = (np.mean(vals), np.std(vals, ddof=1) / math.sqrt(len(vals)))
    (m1, s1), (m2, s2) = stats.values()
    assert abs(m1 - m2) < 4 * math.hypot(s1, s2)


def test_bias_and_weight_variance_follow_the_length_map():
    # Pabari & Zhou: q^1 = sigma_w^2 q^0 + sigma_b^2, q^{l+1} = sigma_w^2 E[relu(sqrt(q^l) Z)^2] + sigma_b^2
    d, sw2, sb2 = 4000, 2.0, 0.3
    X = inputs_with_gram(np.eye(3) * 1.0, d) * math.sqrt(0.7)  # q^0 = 0.7
    res = sk.simulate_mlp("relu", X, width=d, depth=3, centering=None, normalization=None,
                          normalize_inputs=False, sigma_w2=sw2, sigma_b2=sb2, record="pre_gram",
                          dtype="float64", seed=4)
    q = [sw2 * 0.7 + sb2]
    for _ in range(2):
        q.append(sw2 * q[-1] / 2 + sb2)
    observed = np.diagonal(res.pre_gram, axis1=1, axis2=2).mean(axis=1)
    assert np.allclose(observed, q, rtol=8 / math.sqrt(3 * d))


def test_normalization_variants():
    kw = dict(n=6, width=256, depth=3, seed=0, dtype="float64")
    bn = sk.simulate_mlp("relu", centering="batch", normalization="batch", record="activations", **kw)
    y = bn.activations[-1]
    ms = (y**2).mean(axis=0)  # 1 per feature, 0 for a feature that relu zeroed on the whole batch
    assert np.allclose(ms[ms > 0], 1) and np.all(np.isin(ms[ms < 0.5], 0)) and (ms > 0).mean() > 0.9
    assert np.allclose(y.mean(axis=0), 0, atol=1e-12)
    mf = sk.simulate_mlp("relu", centering="mean_field", normalization="mean_field", **kw)
    assert np.all(np.abs(mf.norms[1:] - 1) < 0.2)  # only on average: no per-sample rescaling
    none = sk.simulate_mlp("exp", centering=None, normalization=None, **dict(kw, depth=1))
    assert np.all(none.norms[-1] > 2)  # E exp(Z)^2 = e^2: norms grow without normalization
    swapped = sk.simulate_mlp("relu", order="norm_act", **kw)
    assert np.all(swapped.isometry > 0)
    rms = sk.simulate_mlp("tanh", normalization="rms", **kw)
    lay = sk.simulate_mlp("tanh", normalization="layer", **kw)
    assert np.array_equal(rms.gram, lay.gram)


def test_residual_branch_slows_the_correlation_map():
    C = np.array([[1.0, 0.8], [0.8, 1.0]])
    X = inputs_with_gram(C, 2000)
    plain = sk.simulate_mlp("relu", X, width=2000, depth=6, seed=0, weights="gram", dtype="float64")
    res = sk.simulate_mlp("relu", X, width=2000, depth=6, seed=0, residual=0.9, weights="gram",
                          dtype="float64")
    assert res.correlations[-1, 0, 1] > plain.correlations[-1, 0, 1] + 0.2


@pytest.mark.parametrize("kwargs, words", [
    (dict(width=0), "width"), (dict(depth=-1), "depth"), (dict(centering="group"), "centering"),
    (dict(normalization="weight"), "normalization"), (dict(residual=1.0), "residual"),
    (dict(sigma_w2=-1.0), "sigma_w2"), (dict(sigma_b2=float("nan")), "sigma_b2"),
    (dict(dtype="float16"), "dtype"), (dict(backend="jax"), "backend"), (dict(record="all"), "record"),
    (dict(order="sideways"), "order"), (dict(weights="cauchy"), "weights"),
    (dict(order="norm_act", centering="mean_field"), "mean-field"), (dict(n=3, inputs=np.ones((2, 4))), "rows"),
])
def test_bad_arguments(kwargs, words):
    base = dict(n=3, width=16, depth=2)
    base.update(kwargs)
    inputs = base.pop("inputs", None)
    with pytest.raises(InvalidInputError, match=words):
        sk.simulate_mlp("relu", inputs, **base)


def test_bad_inputs():
    with pytest.raises(InvalidInputError, match="finite"):
        sk.simulate_mlp("relu", np.array([[np.nan, 1.0]]), width=4, depth=1)
    with pytest.raises(InvalidInputError, match="residual"):
        sk.simulate_mlp("relu", np.ones((2, 3)), width=4, depth=1, residual=0.5)


def test_progress_bar_can_be_shown_and_hidden(capsys):
    sk.simulate_mlp("relu", n=2, width=8, depth=3, progress=True)
    assert "layers" in capsys.readouterr().err
    sk.simulate_mlp("relu", n=2, width=8, depth=3, progress=False)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- torch
@pytest.mark.parametrize("name", ["relu", "tanh", "gelu", "selu", "sigmoid", "step", "softplus", "erf"])
def test_torch_activation_equals_numpy(name):
    torch = pytest.importorskip("torch")
    from symkernel.simulate.backends import torch_activation

    act = sk.activation(name)
    grid = np.linspace(-6, 6, 1001)
    ours = torch_activation(act, torch)(torch.tensor(grid)).numpy()
    assert np.allclose(ours, act.numpy()(grid), rtol=1e-12, atol=1e-14)


def test_numpy_and_torch_agree_on_seed_independent_statistics():
    pytest.importorskip("torch")
    X = inputs_with_gram(np.array([[1.0, 0.7], [0.7, 1.0]]), 500)
    stats = {}
    for be in ("numpy", "torch"):
        vals = [sk.simulate_mlp("tanh", X, width=500, depth=3, seed=s, backend=be, dtype="float64")
                .correlations[3, 0, 1] for s in range(10)]
        stats[be] = (np.mean(vals), np.std(vals, ddof=1) / math.sqrt(len(vals)))
    (m1, s1), (m2, s2) = stats.values()
    assert abs(m1 - m2) < 4 * math.hypot(s1, s2)
    theory = gram.gram_sequence(np.array([[1.0, 0.7], [0.7, 1.0]]), "tanh", 3)[3][0, 1]
    assert abs(m2 - theory) < 4 * s2 + 1e-3


def test_torch_float32_gram_sampler_runs():
    pytest.importorskip("torch")
    res = sk.simulate_mlp("relu", n=4, width=64, depth=2, backend="torch", weights="gram",
                          sigma_b2=0.1, seed=0)
    assert res.params["backend"] == "torch" and np.allclose(res.norms, 1, atol=1e-5)
