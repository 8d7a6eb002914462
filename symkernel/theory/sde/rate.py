r"""How fast a depth-``L`` ResNet approaches its infinite-depth limit (Hayou (TMLR 2023) Prop. 1;
docs/theory.md §10.4), derived for the width-1 linear (or ReLU, ``x0 > 0``) network, where
``Y_L = x0 ∏_ℓ (1 + ΔB_ℓ)`` is the Euler–Maruyama scheme of the GBM ``X_t = x0 e^{B_t − t/2}``.

* **Strong error** (Prop. 1's bound ``sup_t E|Y_{⌊tL⌋} − X_t| = O(L^{−1/2})``, same Brownian path):
  ``log Y_L − log X_1 = −½ Σ (ΔB_ℓ² − h) + O_P(1/L)`` with ``h = t/L``, asymptotically independent
  of ``X_t`` and ``N(0, t²/(2L))``, so ``E|Y_L − X_t| ≈ E[X_t] E|N(0, t²/(2L))| = x0 t/√(πL)``:
  the ``L^{−1/2}`` rate is sharp, with constant ``x0 t/√π``.
* **Law** (Kolmogorov–Smirnov distance of ``Y_L`` to the log-normal limit): ``log Y_L`` is a sum of
  ``L`` i.i.d. ``log(1 + ξ/√L)`` whose cumulants differ from the limit's at ``O(1/L)``
  (mean ``−½ − 3/(4L)``, variance ``1 + 5/(2L)``, third cumulant ``−3/L``), so the first Edgeworth
  term gives ``KS ≈ C/L`` with ``C = sup_u |ϕ(u) p(u)|``, ``p(u) = u²/2 − 5u/4 + 1/4`` at ``t = 1``:
  the law converges at rate ``1/L`` (weak order 1), faster than the ``L^{−1/2}`` bound.

>>> d = ks_edgeworth()
>>> d["mean"], d["variance"], d["kappa3"]
(-3/4, 5/2, -3)
>>> round(float(d["C"]), 6), strong_error_constant()
(0.486121, 1/sqrt(pi))
"""

import sympy as sp

from symkernel.core.parsing import to_sympy
from symkernel.errors import InvalidInputError

_eps, _xi = sp.symbols("epsilon xi", real=True)
u = sp.Symbol("u", real=True)


def _gaussian_moment(k):
    """``E ξ^k`` for ``ξ ~ N(0, 1)``: 0 for odd k, ``(k − 1)!!`` for even."""
    return sp.Integer(0) if k % 2 else sp.factorial2(k - 1)


def _expect(poly_in_xi):
    poly = sp.Poly(sp.expand(poly_in_xi), _xi)
    return sp.expand(sum(c * _gaussian_moment(m[0]) for m, c in zip(poly.monoms(), poly.coeffs())))


def ks_edgeworth():
    """First-order cumulant corrections of ``log Y_L`` (coefficients of ``1/L``) and the constant
    ``C`` of ``KS(Y_L, X_1) ≈ C/L``, for ``Y_L = ∏_{ℓ≤L} (1 + ξ_ℓ/√L)``, ``X_1 = e^{B_1 − 1/2}``.

    Derived: the series of ``log(1 + εξ)`` to ``ε⁴`` (``ε = L^{-1/2}``), its Gaussian moments, the
    cumulants of the sum times ``L``; then ``F_L(u) − Φ(u) ≈ −ϕ(u)[δμ + δσ² u/2 + κ₃(u² − 1)/6]/L``
    at the standardized ``u``; the sup of ``|ϕ p|`` is at a real root of ``p' − u p`` (exact).
    """
    v = sp.series(sp.log(1 + _eps * _xi), _eps, 0, 5).removeO()
    m1 = _expect(v)
    m2 = _expect(sp.expand(v**2))
    m3 = _expect(sp.expand(v**3))
    # cumulants of one term, then of the sum of L = eps^-2 terms, to order eps^2 (= 1/L)
    k1 = m1
    k2 = sp.expand(m2 - m1**2)
    k3 = sp.expand(m3 - 3 * m2 * m1 + 2 * m1**3)
    L_times = lambda e: sp.expand(e / _eps**2)
    mean = L_times(k1)          # -1/2 - 3 eps^2/4
    var = L_times(k2)           # 1 + 5 eps^2/2
    kap3 = L_times(k3)          # -3 eps^2
    dmu = mean.coeff(_eps, 2)
    dvar = var.coeff(_eps, 2)
    dk3 = sp.expand(sp.series(kap3, _eps, 0, 3).removeO()).coeff(_eps, 2)
    if mean.coeff(_eps, 0) != -sp.Rational(1, 2) or var.coeff(_eps, 0) != 1:
        raise InvalidInputError("the series does not reproduce the GBM limit N(-1/2, 1)")
    p = sp.expand(dmu + dvar * u / 2 + dk3 * (u**2 - 1) / 6)
    dens = sp.exp(-u**2 / 2) / sp.sqrt(2 * sp.pi)
    crit = [r for r in sp.Poly(sp.expand(p.diff(u) - u * p), u).real_roots()]
    values = [sp.Abs(dens * p).subs(u, r) for r in crit]
    C = max(values, key=lambda e: float(e))
    return dict(mean=dmu, variance=dvar, kappa3=dk3, p=p, C=C, argmax=crit[values.index(C)])


def strong_error_constant(x0=1, t=1):
    r"""``c`` in ``E|Y_L − X_t| ≈ c L^{−1/2}`` for the width-1 linear ResNet coupled to its GBM
    limit on one Brownian path: ``c = x0 t/√π`` (module docstring).

    ``−½ Σ(ΔB² − h)`` has variance ``L·2h²/4 = t²/(2L)``; ``E|N(0, s²)| = s√(2/π)``; ``E X_t = x0``.
    """
    x0, t = to_sympy(x0), to_sympy(t)
    L = sp.Symbol("L", positive=True)
    h = t / L
    s = sp.sqrt(L * 2 * h**2 / 4)
    return sp.simplify(x0 * s * sp.sqrt(2 / sp.pi) * sp.sqrt(L))


__all__ = ["ks_edgeworth", "strong_error_constant"]
