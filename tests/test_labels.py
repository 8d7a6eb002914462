"""Every exported symbol names the quantity it labels (golden names), for exact and numeric
results alike: Quantity.symbol, sk.latex.latex(q), and the CLI's JSON "symbol" fields.  (The
κ'(1) of an activation without a closed form was once exported as 1/E[σ²].)"""
import json

import pytest

import symkernel as sk
from symkernel.cli import main
from symkernel.present.latex import latex

DYNAMICS = {"fixed_point": r"\rho^*", "rate": r"\alpha", "kappa_0": r"\kappa(0)",
            "kappa_prime_0": r"\kappa'(0)", "kappa_prime_1": r"\kappa'(1)"}
MEANFIELD = {"q_star": "q^{*}", "chi_1": r"\chi_{1}", "xi_q": r"\xi_{q}", "xi_c": r"\xi_{c}",
             "c_star": "c^{*}"}


def _check(q, symbol):
    assert q.symbol == symbol
    assert latex(q).startswith(symbol + " = "), latex(q)


@pytest.mark.parametrize("act", ["relu", "tanh", "softplus"])   # exact, certified, estimated
def test_kernel_dynamics_labels(act):
    dyn = sk.kernel_dynamics(act)
    for name, symbol in DYNAMICS.items():
        _check(getattr(dyn, name), symbol)


@pytest.mark.parametrize("act, sw2, sb2", [("relu", 1.5, 0.1), ("tanh", 1.5, 0.05), ("erf", 3, 0.1)])
def test_mean_field_labels(act, sw2, sb2):
    mf = sk.mean_field(act, sw2, sb2)
    for name, symbol in MEANFIELD.items():
        _check(getattr(mf, name), symbol)
    w, q = sk.edge_of_chaos("tanh" if act == "relu" else act, 0.05)
    _check(w, r"\sigma_w^{2}")
    _check(q, "q^{*}")


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_coefficient_strength_moment_labels(act):
    _check(sk.hermite_coefficient(act, 3), "c_{3}")
    _check(sk.isometry_strength(act), r"\beta_{\sigma}")
    _check(sk.second_moment(act), r"\mathbb{E}[\sigma^2]")


@pytest.mark.parametrize("act", ["relu", "tanh", "softplus"])
def test_cli_json_symbols(act, capsys):
    assert main(["dynamics", act, "--json"]) == 0
    symbols = [q["symbol"] for q in json.loads(capsys.readouterr().out)["quantities"]]
    assert symbols == [DYNAMICS[n] for n in ("fixed_point", "rate", "kappa_0", "kappa_prime_0",
                                             "kappa_prime_1")]
    assert main(["meanfield", act, "--sigma-w2", "1.5", "--sigma-b2", "0.1", "--json"]) == 0
    symbols = [q["symbol"] for q in json.loads(capsys.readouterr().out)["quantities"]]
    assert symbols == [MEANFIELD[n] for n in ("q_star", "chi_1", "xi_q", "xi_c")]
