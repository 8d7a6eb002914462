"""Validation API: mean-field theory vs finite-width simulation, per layer, with standard errors."""
import numpy as np
import pytest

import symkernel as sk
from symkernel.errors import InvalidInputError


@pytest.mark.parametrize("name, kwargs", [
    ("relu", {}), ("tanh", dict(centering=None)), ("sin", dict(residual=0.6)),
    ("relu", dict(centering="mean_field", normalization="mean_field")),
])
def test_kernel_sequence_agrees_within_standard_errors(name, kwargs):
    v = sk.validate.kernel_sequence(name, 0.6, width=800, depth=5, seeds=range(8), weights="gram", **kwargs)
    assert v.all_agree, v.table()
    assert np.all(v.stderr[1:] > 0) and v.stderr[1] < 0.05
    assert v.theory[0] == 0.6


def test_kernel_sequence_detects_a_wrong_theory():
    # no centering in the network, but the theory told to center: the flag must catch it
    v = sk.validate.kernel_sequence("relu", 0.3, width=800, depth=3, seeds=range(6), weights="gram")
    wrong = sk.validate.Validation("correlation", v.theory, np.array([
        sk.simulate_mlp("relu", sk.simulate.inputs_with_gram(np.array([[1, 0.3], [0.3, 1.0]]), 800),
                        width=800, depth=3, seed=s, centering=None, weights="gram", dtype="float64")
        .correlations[:, 0, 1] for s in range(6)]), 4.0, 1e-10, {})
    assert v.all_agree and not wrong.all_agree


def test_isometry_gap_and_potential_with_bounds():
    v = sk.validate.isometry("tanh", 6, 1500, 6, seeds=range(6), statistic="potential", weights="gram")
    assert set(v.bounds) == {"Corollary A.3 bound"}
    assert np.all(v.theory <= v.bounds["Corollary A.3 bound"] * (1 + 1e-9))
    # gamma is a max over pairs: at finite width it is biased up by the largest of n(n-1)/2 noisy
    # entries (an extreme-value effect of order sqrt(log n^2 / d)), so only O(1/sqrt(d)) agreement
    assert np.all(np.abs(v.mean - v.theory)[:4] < 5 / np.sqrt(1500) * (1 + v.theory[:4]) ** 2)
    g = sk.validate.isometry("relu", 8, 1500, 8, seeds=range(6), statistic="gap", weights="gram")
    bound = g.bounds["Theorem 4 bound"]
    start = sk.gram.isometry_gap_bound_depth_float(sk.validate.equicorrelated(8, 0.5), float(sk.isometry_strength("relu")))
    assert np.all(g.mean[start:] <= bound[start:])
    # the empirical gap decays at least at the rate beta^-l of the bound while it is well above the
    # finite-width floor (n-1)/(2d)
    beta = float(sk.isometry_strength("relu"))
    floor = 7 / (2 * 1500)
    above = g.mean > 10 * floor
    ells = np.arange(9)[above]
    assert len(ells) >= 4
    assert np.all(g.mean[above] <= g.mean[0] * beta ** -ells.astype(float) + 4 * g.stderr[above])


def test_plot_and_repr():
    import matplotlib
    matplotlib.use("Agg")
    v = sk.validate.isometry("relu", 4, 200, 3, seeds=range(3), statistic="gap", weights="gram")
    fig = v.plot()
    assert fig.axes and fig.axes[0].get_yscale() == "log"
    assert "Validation(gap" in repr(v) and len(v.table()) == 4


def test_bad_arguments():
    with pytest.raises(InvalidInputError, match="rho0"):
        sk.validate.kernel_sequence("relu", 1.0, width=10, depth=1)
    with pytest.raises(InvalidInputError, match="two seeds"):
        sk.validate.kernel_sequence("relu", 0.5, width=10, depth=1, seeds=[0])
    with pytest.raises(InvalidInputError, match="normalization"):
        sk.validate.kernel_sequence("relu", 0.5, width=10, depth=1, normalization=None)
    with pytest.raises(InvalidInputError, match="statistic"):
        sk.validate.isometry("relu", 3, 10, 1, statistic="volume")
