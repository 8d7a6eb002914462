"""sk.validate.mean_field: the q, c maps against finite-width networks, with the power to reject
a wrong theory (a check that cannot fail is no check)."""

import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.meanfield import float_state, trajectory
from symkernel.validate.meanfield import length_depth_scale, plan


@pytest.mark.parametrize("sw2, sb2", [(1.5, 0.3), (2.5, 0.05)])   # ordered, chaotic
def test_the_maps_agree_and_a_wrong_theory_is_rejected(sw2, sb2):
    depth = 12
    v = sk.validate.mean_field("tanh", sw2, sb2, depth=depth, resolution=0.01)
    assert v.all_agree, v.z_scores()
    assert v.resolution < 0.015                          # what was asked, about
    pilot = v.params["pilot"]                            # the size comes from a pilot's variance
    assert pilot["width"] == 400 and pilot["seeds"] == 16 and 1.5 < pilot["variance"] < 10
    assert (v.params["width"], v.params["seeds"]) == plan(0.01, pilot["variance"])
    for wrong in (dict(sigma_w2=1.03 * sw2), dict(act="erf")):   # 3% off; another activation
        q, c = trajectory(wrong.get("act", "tanh"), wrong.get("sigma_w2", sw2), sb2, 1.0, 0.5, depth)
        assert v.rejects(q, c), wrong


def test_c_over_thirty_chaotic_layers_is_sized_by_its_own_variance():
    """In the chaotic phase the variance of c^l (and its finite-width bias) grows with depth:
    N Var(c^l) reaches ~4.4 by layer 15 for tanh at (2.5, 0.05), where the rule for one mean of
    squares assumed 2 (width 4/r, 2/(N r^2) seeds: |z| up to 4.1 for the right theory at
    r = 0.02).  The pilot measures it, the run is sized from it: the right theory passes at the
    resolution asked and a theory 3% off in sigma_w2, or erf's, is rejected."""
    sw2, sb2, depth, r = 2.5, 0.05, 30, 0.02
    v = sk.validate.mean_field("tanh", sw2, sb2, depth=depth, resolution=r)
    assert v.params["pilot"]["variance"] > 3                  # above the old rule's 2
    zq, zc = v.z_scores()
    assert v.all_agree, (zq, zc)
    assert v.resolution < 1.3 * r and v.params["seeds"] >= 24
    c_se = v.c_samples.std(axis=0, ddof=1) / np.sqrt(v.params["seeds"])
    assert c_se[20:].max() > 1.5 * c_se[1]                     # the variance grows with depth
    for wrong in (dict(sigma_w2=1.03 * sw2), dict(act="erf")):
        q, c = trajectory(wrong.get("act", "tanh"), wrong.get("sigma_w2", sw2), sb2, 1.0, 0.5, depth)
        assert v.rejects(q, c), wrong


def test_a_coarse_check_reports_its_coarse_resolution():
    """Width 64 and 4 seeds resolve q and c only to ~0.15: the result says so."""
    v = sk.validate.mean_field("tanh", 1.5, 0.3, depth=12, width=64, seeds=4)
    assert v.resolution > 0.05 and v.params["width"] == 64


def test_xi_c_from_the_decay_of_one_minus_c():
    sw2, sb2 = 1.5, 0.3
    st = float_state(sk.activation("tanh"), sw2, sb2)
    v = sk.validate.mean_field("tanh", sw2, sb2, q0=st["q_star"], c0=0.5, depth=25, resolution=0.01)
    assert v.xi_c["theory"] == pytest.approx(float(sk.depth_scales("tanh", sw2, sb2)[1]), rel=1e-9)
    assert v.xi_c["fitted"] == pytest.approx(v.xi_c["theory"], rel=0.10)


def test_plan_and_bad_input():
    assert plan(0.01) == (400, 50) and plan(0.05) == (80, 10) and plan(0.2) == (64, 10)
    assert plan(0.01, variance=2) == (800, 25) and plan(0.02, variance=4.4) == (880, 24)
    assert plan(0.01, variance=40) == (16000, 25) and plan(0.5, variance=1) == (64, 24)
    with pytest.raises(sk.InvalidInputError, match="-1"):
        plan(0.01, variance=-1)
    for bad in (dict(resolution=0), dict(resolution=2), dict(seeds=1), dict(depth=0),
                dict(width=1), dict(sigma_b2=-1), dict(q0=0.1, sigma_b2=0.3)):
        args = dict(act="tanh", sigma_w2=1.5, sigma_b2=0.3, depth=3)
        args.update(bad)
        with pytest.raises(sk.InvalidInputError):
            sk.validate.mean_field(args.pop("act"), args.pop("sigma_w2"), **args)


def test_check_simulate_has_the_power_to_reject_wrong_theories(capsys):
    """`symkernel check --simulate` chooses width and seeds from its resolution: a squared-ReLU
    network agrees with its own kernel sequence and rejects the ReLU, |x|, x^3 and sin ones (at
    the old defaults, width 256 and 4 seeds, all five "passed"; x^3's is only 0.017 away)."""
    import json

    from symkernel.cli import main

    assert main(["check", "max(x,0)**2", "--simulate", "--json"]) == 0
    sim = json.loads(capsys.readouterr().out)["simulation"]
    assert sim["ok"] and sim["resolution"] < 0.005 and (sim["width"], sim["seeds"]) == (2000, 250)
    mean, se = np.array(sim["mean"]), np.array(sim["stderr"])
    for wrong in ("relu", "abs(x)", "x**3", "sin(x)"):
        theory = sk.validate.kernel_sequence(wrong, sim["rho0"], width=8, depth=sim["depth"],
                                             seeds=range(2)).theory
        z = np.abs(mean[1:] - theory[1:]) / se[1:]
        assert z.max() > 4, (wrong, z)


@pytest.mark.parametrize("act, sw2, sb2, seeds", [("tanh", 1.2, 0.01, 80), ("relu", 1.5, 0.1, 80),
                                                 ("tanh", 2.5, 0.05, 160)])   # the last: chaotic
def test_xi_q_fitted_from_networks_agrees_and_rejects_wrong_depth_scales(act, sw2, sb2, seeds):
    """|q^l - q*| ~ exp(-l/xi_q) in networks of width 2000 (Pabari & Zhou §3.1): the fitted xi_q
    agrees with MeanField.xi_q within 4 jackknife standard errors (measured |z| < 1.3); a
    theory 15% off is rejected, and so is the tempting -1/log chi_1 (the depth scale of c, which
    drops the phi'' phi term of chi_q*) where it differs (tanh, ordered: 19.9 against 3.36)."""
    v = length_depth_scale(act, sw2, sb2, depth=25, width=2000, seeds=seeds)
    assert v.theory == pytest.approx(float(sk.depth_scales(act, sw2, sb2)[0]), rel=1e-12)
    assert v.agrees, (v.fitted, v.stderr, v.theory)
    assert len(v.layers) >= 4 and v.stderr < 0.04 * v.theory
    assert v.rejects(1.15 * v.theory) and v.rejects(0.85 * v.theory)
    if act == "relu":      # the length map is linear: xi_q = 1/log(2/sigma_w^2) exactly
        expr = sk.depth_scales(act, sw2, sb2)[0].expr
        assert abs(float(expr) - 1 / np.log(4 / 3)) < 1e-14 and not expr.has(sp.Float)
    st = float_state(sk.activation(act), sw2, sb2)
    if act == "tanh" and st["chi_1"] < 1:
        assert v.rejects(-1 / np.log(st["chi_1"]))


def test_xi_q_bad_input():
    for bad in (dict(delta=1.5), dict(depth=2), dict(seeds=3), dict(sigma_w2=-1.0)):
        args = dict(sigma_w2=1.2, sigma_b2=0.01)
        args.update(bad)
        with pytest.raises(sk.InvalidInputError):
            length_depth_scale("tanh", args.pop("sigma_w2"), **args)
    with pytest.raises(sk.InvalidInputError, match="chi_q"):    # ReLU at (2, 0): every q is fixed
        length_depth_scale("relu", 2.0, 0.0)
    with pytest.raises(sk.InvalidInputError, match="noise"):    # width 4: lost in the noise
        length_depth_scale("tanh", 1.2, 0.01, width=4, seeds=4, delta=0.01)
