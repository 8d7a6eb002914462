"""sk.validate.mean_field: the q, c maps against finite-width networks, with the power to reject
a wrong theory (a check that cannot fail is no check)."""

import numpy as np
import pytest

import symkernel as sk
from symkernel.meanfield import float_state, trajectory
from symkernel.validate.meanfield import plan


@pytest.mark.parametrize("sw2, sb2", [(1.5, 0.3), (2.5, 0.05)])   # ordered, chaotic
def test_the_maps_agree_and_a_wrong_theory_is_rejected(sw2, sb2):
    depth = 12
    v = sk.validate.mean_field("tanh", sw2, sb2, depth=depth, resolution=0.01)
    assert v.all_agree, v.z_scores()
    assert v.resolution < 0.02                           # what was asked, about
    assert v.params["width"] == 400 and v.params["seeds"] == 50
    for wrong in (dict(sigma_w2=1.03 * sw2), dict(act="erf")):   # 3% off; another activation
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
    for bad in (dict(resolution=0), dict(resolution=2), dict(seeds=1), dict(depth=0),
                dict(sigma_b2=-1), dict(q0=0.1, sigma_b2=0.3)):
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
