"""Trustworthy digits of the Theorem-1 quantities (Joudaki & Hofmann (AISTATS 2025)), Propositions 2-3 and Table S.1.

Every value asked at ``dps`` digits must (1) agree with the same value asked at ``dps + 20``
digits to ``dps`` digits, (2) agree at 30 digits with an independent path computed here (mpmath
tanh-sinh quadrature of Gaussian expectations at 60 digits, published constants, closed forms,
``mpmath.findroot``), and (3) neither depend on nor change the caller's mpmath precision.
"""
import json
import subprocess
import sys

import mpmath
import numpy as np
import pytest
import sympy as sp

import symkernel as sk
from symkernel.errors import PrecisionError
from symkernel.papers import joudaki_hofmann_2025

DPS = 30
REF_DPS = 60
QUANTITIES = ("fixed_point", "rate", "kappa_0", "kappa_prime_0", "kappa_prime_1")


def close(a, b, dps):
    """|a - b| <= 10^-dps |b| (both zero counts as agreement)."""
    with mpmath.workdps(dps + 20):
        return abs(mpmath.mpf(a) - mpmath.mpf(b)) <= mpmath.mpf(10) ** (-dps) * abs(mpmath.mpf(b))


def gauss(f, cuts=(0,)):
    """E[f(Z)], Z ~ N(0, 1), by mpmath tanh-sinh quadrature at REF_DPS digits."""
    with mpmath.workdps(REF_DPS):
        pts = [-mpmath.inf, *[mpmath.mpf(c) for c in cuts], mpmath.inf]
        return mpmath.quad(lambda x: f(x) * mpmath.npdf(x), pts)


# Klambauer et al. (2017), eq. (14) and the digits printed there (32 significant digits).
SELU_ALPHA = "1.6732632423543772848170429916717"
SELU_LAMBDA = "1.0507009873554804934193349852946"


def _selu(x):
    a, l_ = mpmath.mpf(SELU_ALPHA), mpmath.mpf(SELU_LAMBDA)
    return l_ * x if x > 0 else l_ * a * (mpmath.exp(x) - 1)


def _selu_prime(x):
    a, l_ = mpmath.mpf(SELU_ALPHA), mpmath.mpf(SELU_LAMBDA)
    return l_ if x > 0 else l_ * a * mpmath.exp(x)


def _softplus(x):
    return mpmath.log1p(mpmath.exp(-abs(x))) + max(x, 0)


# name -> (sigma, sigma'): the independent reference path
ACTS = {
    "tanh": (mpmath.tanh, lambda x: mpmath.sech(x) ** 2),
    "softplus": (_softplus, lambda x: 1 / (1 + mpmath.exp(-x))),
    "selu": (_selu, _selu_prime),
    "relu": (lambda x: max(x, 0), lambda x: mpmath.mpf(1) if x > 0 else mpmath.mpf(0)),
}
CASES = {"tanh": 1, "softplus": 2, "selu": 1, "relu": 3}

_REF = {}


def reference(name):
    """Theorem-1 quantities from Gaussian moments: kappa(0) = c_0^2/m2, kappa'(0) = c_1^2/m2
    (c_1 = E[sigma'] = E[Z sigma]), kappa'(1) = E[sigma'^2]/m2, m2 = E[sigma^2]."""
    if name not in _REF:
        f, fp = ACTS[name]
        m2, c0 = gauss(lambda x: f(x) ** 2), gauss(f)
        c1, d2 = gauss(fp), gauss(lambda x: fp(x) ** 2)
        with mpmath.workdps(REF_DPS):
            k0, k0p, k1p = c0**2 / m2, c1**2 / m2, d2 / m2
            case = CASES[name]
            fixed = {1: 0, 2: 1, 3: 1}[case]
            rate = {1: lambda: 1 / (2 - k0p), 2: lambda: k1p, 3: lambda: 1 - k0 - k0p}[case]()
        _REF[name] = {"m2": m2, "c0": c0, "fixed_point": mpmath.mpf(fixed), "rate": rate,
                      "kappa_0": k0, "kappa_prime_0": k0p, "kappa_prime_1": k1p}
    return _REF[name]


def values(q, dps):
    """q.value(dps), checking that mpmath's precision is left as it was."""
    before = mpmath.mp.prec
    v = q.value(dps)
    assert mpmath.mp.prec == before
    return v


@pytest.mark.parametrize("name", sorted(ACTS))
def test_kernel_dynamics_digits(name):
    dyn = sk.kernel_dynamics(name)
    assert dyn.case == CASES[name]
    ref = reference(name)
    for attr in QUANTITIES:
        q = getattr(dyn, attr)
        a, b = values(q, DPS), values(q, DPS + 20)
        assert close(a, b, DPS), (name, attr, a, b)
        if a == 0:   # exact zeros (tanh by parity, SELU by its constants): the reference is ~0
            assert q.exact and abs(ref[attr]) < mpmath.mpf(10) ** -(2 * DPS), (name, attr)
        else:
            assert close(a, ref[attr], DPS), (name, attr, a, ref[attr])
        assert q.provenance.split(":")[0] in ("exact", "certified", "estimated")


def test_selu_kappa0_is_an_exact_zero():
    """E selu(Z) = 0 by the definition of alpha_01: proved by exact simplification, not a threshold."""
    dyn = sk.kernel_dynamics("selu")
    assert dyn.kappa_0.exact and dyn.kappa_0.expr == 0 and dyn.case == 1
    assert abs(reference("selu")["c0"]) < mpmath.mpf(10) ** -30     # the published constants agree


def test_undecidable_sign_raises_instead_of_rounding_to_zero():
    from symkernel.theory.dynamics import _sign
    from symkernel.core.quantity import Quantity

    tiny = Quantity(None, "t", "estimated: a tiny positive value", lambda dps: mpmath.mpf(10) ** -300)
    with pytest.raises(PrecisionError, match="sign"):
        _sign(Quantity(None, "z", "estimated: zero", lambda dps: mpmath.mpf(0)), "z")
    assert _sign(tiny, "t")[0] == 1          # a positive estimate is positive, however small
    assert _sign(Quantity(sp.exp(-sp.Integer(400)), "e"), "e") == (1, None)


def test_case4_fixed_point_against_the_closed_form_of_step():
    """kappa_step(rho) = 1/2 + asin(rho)/pi: rho*, kappa'(rho*), rate by mpmath.findroot."""
    dyn = sk.kernel_dynamics("step")
    assert dyn.case == 4 and dyn.fixed_point.kind == "certified"
    with mpmath.workdps(REF_DPS):
        star = mpmath.findroot(lambda r: mpmath.mpf(1) / 2 + mpmath.asin(r) / mpmath.pi - r,
                               (mpmath.mpf("0.7"), mpmath.mpf("0.9")), solver="anderson")
        kps = 1 / (mpmath.pi * mpmath.sqrt(1 - star**2))
        rate = max(mpmath.mpf(1) / 2, kps, (1 - star) / (2 - kps))
    for q, ref in ((dyn.fixed_point, star), (dyn.kappa_prime_star, kps), (dyn.rate, rate),
                   (dyn.kappa_star, star)):
        a, b = values(q, DPS), values(q, DPS + 20)
        assert close(a, b, DPS) and close(a, ref, DPS), (q.symbol, a, b, ref)


def test_case4_fixed_point_of_gelu_solves_the_closed_form():
    """The GELU rho* at 30 and 50 digits; its residual in the closed form by SymPy's evalf."""
    dyn = sk.kernel_dynamics("gelu")
    assert dyn.case == 4
    a, b = values(dyn.fixed_point, DPS), values(dyn.fixed_point, DPS + 20)
    assert close(a, b, DPS)
    expr = dyn.kmap.expr
    star = sp.Float(b, DPS + 20)
    resid = sp.N(expr.subs(sk.rho, star) - star, 10)
    assert abs(resid) < sp.Float(10) ** (-(DPS + 15))
    assert close(values(dyn.rate, DPS), values(dyn.rate, DPS + 20), DPS)


def test_normalized_kernel_map_digits():
    """Proposition 3 (LN after the activation): scale 1/(m2 (1 - kappa(0))), constant term
    -kappa(0)/(1 - kappa(0)); softplus at 40 digits (once off by 3e-18) and tanh (kappa(0) = 0)."""
    ref = reference("softplus")
    ln = sk.normalized_kernel_map(sk.kernel_map("softplus"))
    with mpmath.workdps(REF_DPS):
        k0 = ref["kappa_0"]
        scale, const = 1 / (ref["m2"] * (1 - k0)), -k0 / (1 - k0)
    for q, r in ((ln.scale, scale), (ln.poly[0], const)):
        a, b = values(q, 40), values(q, 60)
        assert close(a, b, 40) and close(a, r, 40), (a, b, r)
        assert q.kind == "certified"
    dyn = sk.kernel_dynamics(ln)
    assert dyn.case == 1 and dyn.kappa_0.exact and dyn.kappa_0.expr == 0   # kappa_LN(0) = 0
    with mpmath.workdps(REF_DPS):
        k0p = ref["kappa_prime_0"] / (1 - k0)
        rate, tanh_scale = 1 / (2 - k0p), 1 / reference("tanh")["m2"]
    assert close(values(dyn.rate, DPS), rate, DPS)
    tanh = sk.normalized_kernel_map(sk.kernel_map("tanh"))
    assert close(values(tanh.scale, DPS), tanh_scale, DPS) and tanh.poly == ()


def test_residual_kernel_map_digits():
    """Proposition 2 with r = 1/2 on the LN softplus map: kappa_res'(0) = 3/4 kappa_LN'(0) + 1/4,
    rate 1/(2 - kappa_res'(0)) (case 1)."""
    ref = reference("softplus")
    half = sp.Rational(1, 2)
    res = sk.residual_kernel_map(sk.kernel_map("softplus"), half)
    assert res.poly[1].expr == sp.Rational(1, 4)
    with mpmath.workdps(REF_DPS):
        scale = mpmath.mpf(3) / 4 / ref["m2"]
    assert close(values(res.scale, DPS), scale, DPS)
    both = sk.residual_kernel_map(sk.normalized_kernel_map(sk.kernel_map("softplus")), half)
    dyn = sk.kernel_dynamics(both)
    assert dyn.case == 1 and dyn.kappa_0.expr == 0
    with mpmath.workdps(REF_DPS):
        kp0 = mpmath.mpf(3) / 4 * ref["kappa_prime_0"] / (1 - ref["kappa_0"]) + mpmath.mpf(1) / 4
        rate = 1 / (2 - kp0)
    for q, r in ((dyn.kappa_prime_0, kp0), (dyn.rate, rate)):
        a, b = values(q, DPS), values(q, DPS + 20)
        assert close(a, b, DPS) and close(a, r, DPS), (q.symbol, a, b, r)


def test_table_s1_column_c_and_entries():
    """Column C = sqrt(E sigma^2): tanh at 30 digits (once off by 6e-17 relative)."""
    (row,) = joudaki_hofmann_2025.table_s1_rows(dps=DPS, names=["tanh"])
    c = row["derived"][0]
    with mpmath.workdps(REF_DPS):
        ref_c = mpmath.sqrt(reference("tanh")["m2"])
    assert close(row["values"][0], ref_c, DPS) and close(values(c, DPS + 20), ref_c, DPS + 20)
    assert c.kind == "certified"
    ref = reference("tanh")
    for col, attr in (("alpha", "rate"), ("kappa'(0)", "kappa_prime_0"), ("kappa'(1)", "kappa_prime_1")):
        v = row["values"][joudaki_hofmann_2025.TABLE_S1_COLUMNS.index(col)]
        assert close(v, ref[attr], DPS), col


SCRIPT = r"""
import json, sys, mpmath
mpmath.mp.dps = int(sys.argv[1])
import symkernel as sk
out = {}
for name in ("tanh", "softplus", "step"):
    d = sk.kernel_dynamics(name)
    for attr in ("fixed_point", "rate", "kappa_0", "kappa_prime_0", "kappa_prime_1"):
        if name == "step" and attr == "kappa_prime_1":
            continue
        out[name + "." + attr] = list(getattr(d, attr).value(30)._mpf_)
ln = sk.normalized_kernel_map(sk.kernel_map("softplus"))
out["ln.scale"] = list(ln.scale.value(40)._mpf_)
assert mpmath.mp.dps == int(sys.argv[1])
print(json.dumps(out))
"""


def _run(ambient):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ambient)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_results_do_not_depend_on_the_callers_precision():
    """A fresh process with mp.dps = 50 set first gives bit-identical values to one at 15."""
    high, low = _run(50), _run(15)
    assert high == low and len(high) == 15
    assert np.isclose(float(mpmath.mpf(tuple(high["tanh.rate"]))), float(reference("tanh")["rate"]), rtol=1e-15)


def test_erfiinv_digits_tiny_and_huge_arguments():
    """Hayou (TMLR 2023)'s erfiinv (sde.special) by its own Newton: erfi(erfiinv(y)) = y to 40 digits,
    also below float64's range (once a 0 start gave NaN) and above it; mp.dps left alone."""
    from symkernel.theory.sde.special import erfiinv

    before = mpmath.mp.prec
    for y in ("1e-400", "3e-7", "0.5", "-7", "1e300", "1e1000"):
        z = sp.N(erfiinv(sp.Float(y, 60)), 45)
        assert mpmath.mp.prec == before
        with mpmath.workdps(60):
            back, target = mpmath.erfi(mpmath.mpf(z._mpf_)), mpmath.mpf(y)
            # erfi's condition number at z is 2 z erfi'(z) / erfi(z) ~ 2 z^2 for large z
            cond = max(1, 2 * abs(mpmath.mpf(z._mpf_)) ** 2)
            assert abs(back - target) <= abs(target) * cond * mpmath.mpf(10) ** -43, y
