"""Persistence: every result object pickles and round-trips through to_dict/from_dict (JSON)."""
import json
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import mpmath
import pytest
import sympy as sp

import symkernel as sk
from symkernel.core.activations import Activation
from symkernel.core.quantity import Quantity
from symkernel.core.serialize import read_srepr
from symkernel.errors import InvalidInputError, PrecisionError
from symkernel.kernels import Kernel
from symkernel.theory.dynamics import KernelDynamics
from symkernel.theory.meanfield import MeanField


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


def via_json(obj):
    return type(obj).from_dict(json.loads(json.dumps(obj.to_dict())))


def test_exact_quantity_pickles_and_round_trips_through_json():
    q = sk.hermite_coefficient("relu", 2)
    for back in (roundtrip(q), via_json(q)):
        assert back.exact and back.expr == 1 / (2 * sp.sqrt(sp.pi))
        assert back.symbol == q.symbol and back.provenance == q.provenance
        assert back.value(40) == q.value(40)


def test_numeric_quantity_pickles_its_evaluator_and_json_keeps_its_digits():
    q = sk.kernel_dynamics("erf").kappa_prime_1            # no closed form needed: erf is exact
    m2 = sk.second_moment("tanh")                           # numeric (certified quadrature)
    assert not m2.exact
    v20 = m2.value(20)
    d = m2.to_dict(dps=20)
    assert d["expr"] is None
    with mpmath.workdps(40):
        stored = mpmath.mpf(d["values"]["20"]["value"])
        assert abs(stored - v20) <= abs(v20) * mpmath.mpf(10) ** -19   # the digits are written
    back = Quantity.from_dict(json.loads(json.dumps(d)))
    assert back.kind == m2.kind and back.value(20) == v20 and back.value(10) == m2.value(10)
    with pytest.raises(PrecisionError, match="restored with values to 20 digits"):
        back.value(40)
    assert roundtrip(m2).value(20) == v20
    assert roundtrip(q).value(30) == q.value(30)


def test_activation_pickles_once_evaluated_and_rebuilds_its_caches():
    act = sk.activation("selu")
    f = act.numpy()
    _ = act.parity
    back = roundtrip(act)
    assert back.expr == act.expr and back.parity == act.parity
    assert back.numpy()(1.5) == f(1.5)
    leaky = sk.activation("leaky_relu", slope=0.2, gain=sk.alpha)
    for b in (roundtrip(leaky), via_json(leaky)):
        assert b.expr == leaky.expr and b.params == leaky.params and b.gain == sk.alpha


@pytest.mark.parametrize("name", ["relu", "erf"])
def test_kernel_map_pickles_after_evaluation(name):
    k = sk.kernel_map(name)
    v = k(sp.Rational(3, 10), dps=20)
    k.numpy([0.1, 0.5])
    back = roundtrip(k)
    assert back(sp.Rational(3, 10), dps=20) == v
    assert back.expr == k.expr and back.symbol == k.symbol
    assert (back.numpy([0.1, 0.5]) == k.numpy([0.1, 0.5])).all()
    d = back.derivative()
    assert d(sp.Rational(1, 2), dps=15) == k.derivative()(sp.Rational(1, 2), dps=15)


def test_kernel_to_dict_round_trip_exact_and_numeric():
    k = sk.kernel_map("relu")
    assert via_json(k).expr == k.expr
    kt = sk.kernel_map("tanh")
    d = kt.to_dict(dps=30)
    assert d["expr"] is None and "30" in d["scale"]["values"]
    back = Kernel.from_dict(json.loads(json.dumps(d)))
    assert back.scale.value(30) == kt.scale.value(30)


@pytest.mark.parametrize("name", ["relu", "erf"])
def test_kernel_dynamics_round_trips(name):
    dyn = sk.kernel_dynamics(name)
    for back in (roundtrip(dyn), via_json(dyn)):
        assert back.case == dyn.case
        for attr in ("kappa_0", "kappa_prime_0", "kappa_prime_1", "fixed_point", "rate"):
            a, b = getattr(dyn, attr), getattr(back, attr)
            assert a.expr == b.expr and a.value(15) == b.value(15), attr


def test_mean_field_round_trips_exact_and_numeric():
    mf = sk.mean_field("relu", 2, 0)
    assert roundtrip(mf).xi_c.expr == sp.oo
    d = json.loads(json.dumps(mf.to_dict()))
    assert d["quantities"]["xi_c"]["expr"] == "oo"
    assert MeanField.from_dict(d).chi_1.expr == 1
    num = sk.mean_field("erf", 1.5, 0.1)
    chi = num.chi_1.value(15)
    back = roundtrip(num)
    assert back.chi_1.value(15) == chi
    assert back.xi_c.value(15) == num.xi_c.value(15)       # computed afresh after loading
    restored = MeanField.from_dict(json.loads(json.dumps(num.to_dict(quantities=("q_star", "chi_1")))))
    assert restored.chi_1.value(15) == chi and restored.sigma_w2 == num.sigma_w2


def test_nn_kernels_pickle():
    net = sk.nn.serial(sk.nn.Dense(sigma_w2=2.0, sigma_b2=0.1), sk.nn.Activation("relu"),
                       sk.nn.Dense(sigma_w2=2.0, sigma_b2=0.1))
    import numpy as np
    x = np.array([[1.0, 0.0], [0.6, 0.8]])
    k = net.kernel(x)
    back = roundtrip(k)
    assert (back.nngp == k.nngp).all() and (back.ntk == k.ntk).all()


def test_process_pool_sweep():
    grid = [sp.Rational(1, 2), sp.Integer(1), sp.Rational(3, 2)]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        results = list(pool.map(sk.mean_field, ["relu"] * 3, grid, [sp.Rational(1, 10)] * 3))
    for sw2, mf in zip(grid, results):
        assert mf.chi_1.expr == sw2 / 2
        assert mf.q_star.expr == sk.mean_field("relu", sw2, sp.Rational(1, 10)).q_star.expr


def test_json_dumps_of_every_to_dict():
    for obj in (sk.hermite_coefficient("tanh", 1), sk.activation("gelu"), sk.kernel_map("sin"),
                sk.kernel_dynamics("relu"), sk.mean_field("relu", 1, sp.Rational(1, 10))):
        assert json.loads(json.dumps(obj.to_dict()))["type"] == type(obj).__name__


@pytest.mark.parametrize("bad", [
    None, [], {"type": "Kernel"}, {"type": "Quantity"},
    {"type": "Quantity", "symbol": "q", "provenance": "exact", "expr": "Integer(", "values": {}},
    {"type": "Quantity", "symbol": "q", "provenance": "", "expr": None, "values": {}},
    {"type": "Quantity", "symbol": "q", "provenance": "", "expr": None,
     "values": {"15": {"value": "1e", "error": "0"}}},
    {"type": "Quantity", "symbol": "q", "provenance": "", "expr": None,
     "values": {"x": {"value": "1", "error": "0"}}},
    {"type": "Quantity", "symbol": "q", "provenance": "exact",
     "expr": "__import__('os').system('echo hi')", "values": {}},
    {"type": "Quantity", "symbol": "q", "provenance": "exact", "expr": "Integer(1).evalf()", "values": {}},
    {"type": "Quantity", "symbol": "q", "provenance": "exact", "expr": "Symbol(Symbol('x'))", "values": {}},
])
def test_quantity_from_dict_refuses_malformed_input(bad):
    with pytest.raises(InvalidInputError):
        Quantity.from_dict(bad)


def test_other_from_dicts_refuse_malformed_input():
    d = sk.kernel_dynamics("relu").to_dict()
    with pytest.raises(InvalidInputError):
        KernelDynamics.from_dict({**d, "case": 7})
    with pytest.raises(InvalidInputError):
        Kernel.from_dict({**d["kernel"], "order": -1})
    a = sk.activation("relu").to_dict()
    with pytest.raises(InvalidInputError):
        Activation.from_dict({**a, "gain": "Integer(-2)"})
    with pytest.raises(InvalidInputError):
        MeanField.from_dict({**sk.mean_field("relu", 1).to_dict(), "quantities": {"nope": {}}})


def test_srepr_reader_round_trips_the_package_expressions():
    exprs = [sk.activation(n).expr for n in ("selu", "gelu_tanh", "hardtanh", "step", "leaky_relu")]
    exprs += [sk.kernel_map("relu").expr, sp.Float("0.1", 30) * sk.alpha + sk.k, sp.oo]
    for e in exprs:
        assert read_srepr(sp.srepr(e)) == e
