"""Mean-field maps against finite-width tanh networks (issue 5, Pabari & Zhou §3.1).

The networks use ``weights="gram"``: given the layer input ``y`` (n x N), the pre-activations of
the N neurons are i.i.d. ``N(0, sigma_w^2 y y^T / N)`` plus a bias ``N(0, sigma_b^2)`` shared by the
inputs -- exactly the law of ``W y + b`` with Gaussian ``W``.  So every recorded pre-activation
Gram matrix has the law of the literal width-N network (only the cost changes: n N normals a
layer instead of N^2), and many independent networks give honest standard errors.
"""
import numpy as np
import pytest

import symkernel as sk
from symkernel.meanfield import float_state
from symkernel.theory.meanfield.trajectory import trajectory
from symkernel.simulate.mlp import inputs_with_gram

WIDTH, DEPTH = 2000, 30


def _inputs(sw2, sb2, q1, c1):
    """Two inputs whose first-layer pre-activations have variance q1 and correlation c1."""
    a = (q1 - sb2) / sw2                      # |y^0|^2 / N
    c0 = (c1 * q1 - sb2) / (q1 - sb2)         # input correlation giving c1 after W y + b
    return inputs_with_gram(a * np.array([[1.0, c0], [c0, 1.0]]), WIDTH, seed=0)


def _networks(sw2, sb2, q1, c1, runs, seed0=0):
    """(q^l, c^l) of the first pre-activations of ``runs`` independent networks: (runs, DEPTH)."""
    Y = _inputs(sw2, sb2, q1, c1)
    qs, cs = [], []
    for s in range(runs):
        P = sk.simulate_mlp("tanh", Y, width=WIDTH, depth=DEPTH, centering=None,
                            normalization=None, sigma_w2=sw2, sigma_b2=sb2, dtype="float64",
                            seed=seed0 + s, weights="gram", record=("pre_gram",),
                            normalize_inputs=False).pre_gram
        qs.append(P[:, 0, 0])
        cs.append(P[:, 0, 1] / np.sqrt(P[:, 0, 0] * P[:, 1, 1]))
    return np.array(qs), np.array(cs)


@pytest.mark.slow
@pytest.mark.parametrize("sw2, sb2", [(2.5, 0.05), (1.5, 0.3)])   # chaotic, ordered
def test_q_and_c_track_the_maps_over_30_layers(sw2, sb2):
    runs = 50
    qs, cs = _networks(sw2, sb2, 1.0, 0.5, runs)
    qt, ct = trajectory("tanh", sw2, sb2, 1.0, 0.5, DEPTH - 1)
    for sim, theory in ((qs, qt), (cs, ct)):
        se = sim.std(0, ddof=1) / np.sqrt(runs)
        z = (sim.mean(0) - theory) / se
        assert np.all(np.abs(z[1:]) < 4), z     # layer 0 is the input layer (c exact by design)
        assert abs(sim.mean(0)[0] - theory[0]) < 4 * se[0] + 1e-12
    # and a wrong theory is flagged: the maps with sigma_w^2 off by 5% leave the band
    q_wrong, _ = trajectory("tanh", 1.05 * sw2, sb2, 1.0, 0.5, DEPTH - 1)
    se = qs.std(0, ddof=1) / np.sqrt(runs)
    assert np.max(np.abs(qs.mean(0) - q_wrong) / se) > 6


def test_ordered_phase_decay_of_1_minus_c_gives_xi_c():
    sw2, sb2 = 1.5, 0.3
    st = float_state("tanh", sw2, sb2)
    assert st["c_star"] == 1.0 and st["chi_1"] < 0.8     # ordered, away from the critical line
    _, cs = _networks(sw2, sb2, st["q_star"], 0.5, 20)
    layers = np.arange(10, DEPTH)                         # past the nonlinear transient
    slope = np.polyfit(layers, np.log(1 - cs[:, 10:]).mean(0), 1)[0]
    xi_sim, xi = -1 / slope, float(sk.depth_scales("tanh", sw2, sb2)[1])
    assert xi == pytest.approx(st["xi_c"], rel=1e-10)
    assert xi_sim == pytest.approx(xi, rel=0.10)


@pytest.mark.slow
def test_chaotic_phase_decay_of_c_minus_c_star_gives_xi_c():
    """Start at c* + 0.1 and at c* - 0.1: the convexity of the c-map makes the decay slower above
    c* and faster below, and the mean rate of the two cancels that to first order."""
    sw2, sb2 = 4.0, 0.05
    st = float_state("tanh", sw2, sb2)
    assert 0.1 < st["c_star"] < 0.3 and st["chi_1"] > 1.3
    rates = []
    for sign in (1, -1):
        _, cs = _networks(sw2, sb2, st["q_star"], st["c_star"] + 0.1 * sign, 200, seed0=1000)
        dev = sign * (cs.mean(0) - st["c_star"])
        layers = np.arange(0, 8)
        rates.append(-np.polyfit(layers, np.log(dev[:8]), 1)[0])
    xi_sim = 2 / sum(rates)
    assert xi_sim == pytest.approx(st["xi_c"], rel=0.10)
    assert float(sk.mean_field("tanh", sw2, sb2).xi_c) == pytest.approx(st["xi_c"], rel=1e-10)


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_jacobian_mean_squared_singular_value_is_chi1_to_the_depth(weights):
    from symkernel.meanfield import (
        mean_squared_singular_value, simulate_jacobian, spectrum_moments,
    )
    depth, width, runs = 6, 80, 24
    w_crit = float(sk.edge_of_chaos("tanh", 0.05)[0])
    for label, sw2, sb2 in (("ordered", 1.5, 0.3), ("critical", w_crit, 0.05)):
        theory = float(mean_squared_singular_value("tanh", sw2, sb2, depth))
        q1 = float_state("tanh", sw2, sb2)["q_star"]
        mom = np.array([spectrum_moments(simulate_jacobian("tanh", sw2, sb2, width=width, depth=depth,
                                                           q1=q1, weights=weights, seed=s))
                        for s in range(runs)])
        se = mom[:, 0].std(ddof=1) / np.sqrt(runs)
        assert abs(mom[:, 0].mean() - theory) < 4 * se, (label, mom[:, 0].mean(), theory, se)
        # same mean, different spread (m2/m1^2 = 1 is isometry): orthogonal weights give a
        # better conditioned Jacobian (measured ~3-4 vs ~9-10 for Gaussian at this size)
        assert (mom[:, 1].mean() < 6) == (weights == "orthogonal"), mom[:, 1].mean()
    assert float(mean_squared_singular_value("tanh", w_crit, 0.05, depth)) == pytest.approx(1, abs=1e-12)
