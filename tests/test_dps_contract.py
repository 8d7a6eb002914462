"""The dps contract of every public function that takes ``dps``.

(Inputs are floats or exact numbers: an mpf built by the test would itself depend on the ambient
precision.)  A value requested at ``dps`` agrees with the same value requested at ``dps + 20`` to ``dps``
significant digits; the call leaves ``mpmath.mp.dps`` as it found it; and the caller's ambient
precision (15 or 50) does not change the result.  A discovery test keeps the table complete: a
new public function with a ``dps`` parameter must be added here (or to the documented list of
internal helpers, which the numerics tests cover).
"""
import importlib
import inspect
import pkgutil

import mpmath
import pytest
import sympy as sp

import symkernel as sk
from symkernel.meanfield import moments
from symkernel.nn import pwl_kernels
from symkernel.papers import joudaki_hofmann_2025, joudaki_hofmann_2025_case3, joudaki_daneshmand_bach_2023_figures, pabari_zhou


def _values(obj):
    """The mpf values in a (nested) result: an mpf, a list, a dict of mpf/Quantity values."""
    if isinstance(obj, mpmath.mpf):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [v for o in obj for v in _values(o)]
    if isinstance(obj, dict):
        return [v for o in obj.values() for v in _values(o)]
    return []


def _mf():
    return sk.mean_field("tanh", 1.5, 0.05)


CALLS = {
    "symkernel.nn.pwl_kernels.pwl_kernels_mp": lambda d: list(pwl_kernels.pwl_kernels_mp(
        "hardtanh", 1.0, 30.0, 0.999 * 30.0 ** 0.5, dps=d)),
    "symkernel.nn.pwl_kernels.pwl_mean_mp": lambda d: pwl_kernels.pwl_mean_mp(sp.Min(sp.Max(sk.x, 0), 6), 30, dps=d),
    "symkernel.core.quantity.Quantity.value": lambda d: sk.hermite_coefficient("softplus", 3).value(d),
    "symkernel.core.quantity.Quantity.result": lambda d: sk.isometry_strength("tanh").result(d).value,
    "symkernel.core.quantity.Quantity.error": lambda d: [sk.second_moment("elu").value(d),
                                                    sk.kernel_dynamics("tanh").rate.value(d),
                                                    sk.kernel_dynamics("tanh").rate.error(d) * 0],
    "symkernel.kernels.kernel.Kernel.__call__": lambda d: [
        sk.kernel_map("tanh")(0.3, dps=d), sk.kernel_map("selu")(sp.Rational(1, 4), dps=d),
        sk.derivative_kernel("gelu_tanh")(0.5, dps=d), sk.mean_reduced_dual("softplus")(-0.4, dps=d)],
    "symkernel.kernels.kernel.Kernel.result": lambda d: sk.kernel_map("elu").result(0.7, d).value,
    "symkernel.theory.dynamics.KernelDynamics.sequence": lambda d: sk.kernel_dynamics("tanh").sequence(
        0.5, 3, dps=d),
    "symkernel.theory.meanfield.maps.MeanField.length_map_value": lambda d: _mf().length_map_value(0.7, d),
    "symkernel.theory.meanfield.moments.Moments.result": lambda d: moments("erf").result("D1", 0.3, d).value,
    "symkernel.theory.meanfield.moments.Moments.mp": lambda d: moments("tanh").mp("V", 2, d),
    "symkernel.coefficients.hermite.parseval_partial_sums": lambda d: sk.coefficients.hermite.parseval_partial_sums("tanh", 4, d),
    "symkernel.papers.joudaki_hofmann_2025.table_s1_rows": lambda d: [
        r["values"] for r in joudaki_hofmann_2025.table_s1_rows(d, names=["tanh", "elu"])],
    "symkernel.papers.pabari_zhou.theorem1": lambda d: [pabari_zhou.theorem1(d)[k] for k in ("sigma_w2", "sigma_w")],
    "symkernel.papers.pabari_zhou.slips": lambda d: pabari_zhou.slips(d),
    "symkernel.papers.joudaki_daneshmand_bach_2023_figures.figure_b1_data": lambda d: [
        mpmath.mpf(v) for v in joudaki_daneshmand_bach_2023_figures.figure_b1_data(("tanh",), [0.5], dps=d)["tanh"]["beta"]],
    "symkernel.coefficients.strength.strength_against_gain": lambda d: [
        mpmath.mpf(v) for v in sk.coefficients.strength.strength_against_gain(("tanh",), [0.5], dps=d)["tanh"]["beta"]],
    "symkernel.validate.engines.engines": lambda d: [
        c.numeric for c in sk.validate.engines("softplus", 2, d)],
    "symkernel.gaussian.numeric.estimate_expectation": lambda d: sk.gaussian.numeric.estimate_expectation(
        sp.tanh(sk.x) ** 2, d)[0],
    "symkernel.nn.network.Network.kernel": lambda d: list(sk.nn.serial(
        sk.nn.Dense(2.0, 0.1), sk.nn.Activation("erf"), sk.nn.Dense(1.5, 0.0), sk.nn.Activation("relu"),
        sk.nn.Dense(1.0, 0.2)).kernel([[1.0, 0.5], [0.3, -2.0]], dps=d).ntk.ravel()),
    "symkernel.papers.joudaki_hofmann_2025_case3.iterate_exact": lambda d: joudaki_hofmann_2025_case3.iterate_exact(
        "relu", 0.25, 4, dps=d),
    "symkernel.gaussian.numeric.expectation_of_pieces": lambda d: sk.gaussian.numeric.expectation_of_pieces(
        sk.activation("softsign").pieces, d, absolute=mpmath.mpf(10) ** -60)[0],
}

# internal helpers with a dps parameter: the numerics core (tests/test_numerics.py), evaluators
# that the public calls above go through, and display/formatting functions whose numbers come
# from the calls above
INTERNAL = {
    # the kernel's end points (one Gaussian expectation); a count of agreeing digits
    "symkernel.kernels.nested.end_result", "symkernel.validate.engines.agreement_digits",
    "symkernel.gaussian.numeric.estimate", "symkernel.kernels.certified.InnerPlan.result",
    "symkernel.kernels.certified.inner_result", "symkernel.kernels.nested.Nested.value",
    # the softsign's certified angle integral and small-rho series, under Kernel.__call__
    "symkernel.kernels.polar_certified.softsign_result",
    "symkernel.kernels.polar_certified.softsign_series_result",
    "symkernel.kernels.precision.closed_result", "symkernel.theory.meanfield.maps.refine_root",
    "symkernel.papers.joudaki_hofmann_2025.format_table_s1", "symkernel.papers.joudaki_hofmann_2025.table_s1_table",
    "symkernel.papers.joudaki_daneshmand_bach_2023.prove_equal", "symkernel.present.plotting.beta_vs_gain",
    "symkernel.papers.pabari_zhou.slips_table",    # a table of slips(dps)
    "symkernel.core.quantity.evaluate_exact", "symkernel.core.quantity.exact_result",
    "symkernel.core.quantity.Quantity.text",      # text of Quantity.result(dps), rounded once (test_quantity)
    # serialization: the digits stored of values the calls above compute (tests/test_persistence.py)
    "symkernel.core.quantity.Quantity.to_dict", "symkernel.core.quantity.StoredValues.__call__",
    "symkernel.kernels.kernel.Kernel.to_dict", "symkernel.theory.dynamics.KernelDynamics.to_dict",
    "symkernel.theory.meanfield.maps.MeanField.to_dict",
    # evaluators under Kernel.__call__ and Network.kernel (proven coefficients, the nn dps steps)
    "symkernel.kernels.hermite_panels.certified_coefficients", "symkernel.nn.pair.PairKernel.mp_mean",
    "symkernel.nn.pair.PairKernel.mp_step", "symkernel.nn.series_mp.SeriesStep.coefficients",
    "symkernel.nn.series_mp.SeriesStep.mean", "symkernel.nn.series_mp.SeriesStep.moment",
    "symkernel.nn.series_mp.SeriesStep.value",
    # an Arb enclosure of a moment under MeanField's proven roots (q*, c*); Table S.1's rows in
    # parts for the forked CLI (each part is table_s1_rows' own computation)
    "symkernel.theory.meanfield.moments.Moments.ball", "symkernel.papers.joudaki_hofmann_2025.table_s1_parts",
    # a float fit of the sequence iterate_exact gives, and its figure
    "symkernel.papers.joudaki_hofmann_2025_case3.measure_case3_constant",
    "symkernel.papers.joudaki_hofmann_2025_figures.draw_case3",
}


# old import paths kept for one release (they warn on import; their names live elsewhere)
DEPRECATED_PATHS = {"symkernel.latex", "symkernel.tables"}


def _dps_callables():
    found = set()
    for info in pkgutil.walk_packages(sk.__path__, "symkernel."):
        if info.name.endswith("__main__") or info.name in DEPRECATED_PATHS:
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            members = [(name, obj)] if inspect.isfunction(obj) else []
            if inspect.isclass(obj):
                members = [(f"{name}.{a}", getattr(v, "fget", None) or getattr(v, "func", None) or v)
                           for a, v in vars(obj).items() if not a.startswith("_") or a == "__call__"]
            for qual, fn in members:
                try:
                    if callable(fn) and "dps" in inspect.signature(fn).parameters:
                        found.add(f"{mod.__name__}.{qual}")
                except (TypeError, ValueError):
                    pass
    return {f for f in found if not f.startswith("symkernel.numerics.")}


def test_every_public_dps_function_is_in_the_contract_table():
    missing = _dps_callables() - set(CALLS) - INTERNAL
    assert not missing, f"add these to CALLS (or INTERNAL, with a reason): {sorted(missing)}"


# the contract is the same at any dps; the costly searches (a minimum over the critical line)
# are checked at 10 against 30 digits instead of 20 against 40
LOW_DPS = {"symkernel.papers.pabari_zhou.theorem1": 10}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_dps_then_dps_plus_20_and_ambient_precision(name):
    call = CALLS[name]
    dps = LOW_DPS.get(name, 20)
    low = _values(call(dps))
    assert low and mpmath.mp.dps == 15
    high = _values(call(dps + 20))
    assert mpmath.mp.dps == 15 and len(low) == len(high)
    with mpmath.workdps(dps + 30):
        for a, b in zip(low, high):
            assert abs(a - b) <= abs(b) * mpmath.mpf(10) ** (-dps) + (0 if b else mpmath.mpf(10) ** -60), \
                (name, a, b)
    mpmath.mp.dps = 50
    try:
        ambient = _values(call(dps))
        assert mpmath.mp.dps == 50
    finally:
        mpmath.mp.dps = 15
    with mpmath.workdps(dps + 30):
        for a, b in zip(low, ambient):
            assert abs(a - b) <= abs(a) * mpmath.mpf(10) ** (-dps), (name, "ambient", a, b)
