r"""Two inputs through the infinite-depth ResNet (Hayou (TMLR 2023) Prop. 5 and Eq. 5;
docs/theory.md §10.5).

Prop. 5: for inputs ``a, b`` sharing the weights, ``W_ℓ φ(Y^a)`` and ``W_ℓ φ(Y^b)`` are jointly
Gaussian with ``Cov = K ⊗ I_n``, ``K_{ab} = ⟨φ(Y^a), φ(Y^b)⟩/n``, so the limit is the
``2n``-dimensional SDE ``d(X^a, X^b) = (K ⊗ I_n)^{1/2} dB``.  With ``A = ‖X^a‖²``, ``B = ‖X^b‖²``,
``C = ⟨X^a, X^b⟩``: ``dA = 2⟨X^a, dX^a⟩ + nK_{aa} dt``, ``dC = ⟨X^a, dX^b⟩ + ⟨X^b, dX^a⟩ + nK_{ab} dt``
and covariations ``d⟨A⟩ = 4AK_{aa}``, ``d⟨A,B⟩ = 4CK_{ab}``, ``d⟨A,C⟩ = 2(CK_{aa} + AK_{ab})``,
``d⟨C⟩ = AK_{bb} + 2CK_{ab} + BK_{aa}``.  Itô's lemma for ``c = C/√(AB)`` gives Eq. 5,
``dc = μ dt + σ dW``, with ``μ, σ`` functions of ``(A, B, C, K)`` (:func:`correlation_dynamics`).
For linear φ, ``K = Gram/n`` and the dynamics close in ``c`` alone:

.. math::  dc_t = -\frac{c_t(1 - c_t^2)}{n}\,dt + \sqrt{\frac{2}{n}}\,(1 - c_t^2)\,dW_t,

equivalently ``y = artanh c`` solves ``dy = (tanh y)/n dt + √(2/n) dW``: no drift as ``n → ∞``
(the infinite-width correlation is constant), a diffusion of size ``n^{−1/2}`` at finite width.

>>> dyn = correlation_dynamics("identity")
>>> dyn.drift, dyn.vol
(c*(c - 1)*(c + 1)/n, sqrt(2)*(1 - c**2)/sqrt(n))
"""

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from symkernel.core.symbols import n as n_sym
from symkernel.core.symbols import x
from .ito import Diffusion, sde_activation, tidy

A, B = sp.symbols("A B", positive=True)
C = sp.Symbol("C", real=True)
K_aa, K_bb = sp.symbols("K_aa K_bb", nonnegative=True)
K_ab = sp.Symbol("K_ab", real=True)
c = sp.Symbol("c", real=True)


@dataclass(frozen=True)
class CorrelationDynamics:
    """``dc = drift dt + vol dW``: in ``c`` (and ``n``) when closed, else in ``A, B, C, K_*``."""

    drift: sp.Expr
    vol: sp.Expr
    closed: bool
    activation: object

    def diffusion(self, n):
        """The closed dynamics at width ``n`` as a scalar :class:`~symkernel.theory.sde.ito.Diffusion`
        in ``c`` (``euler_maruyama`` simulates it)."""
        if not self.closed:
            raise ValueError("the correlation dynamics depend on more than c for this activation")
        s = {n_sym: n}
        return Diffusion(self.drift.subs(s), self.vol.subs(s), c)


@lru_cache(maxsize=1)
def _general():
    mu = {A: n_sym * K_aa, B: n_sym * K_bb, C: n_sym * K_ab}
    Q = {(A, A): 4 * A * K_aa, (B, B): 4 * B * K_bb, (C, C): A * K_bb + 2 * C * K_ab + B * K_aa,
         (A, B): 4 * C * K_ab, (A, C): 2 * (C * K_aa + A * K_ab), (B, C): 2 * (C * K_bb + B * K_ab)}
    q = lambda u, v: Q.get((u, v), Q.get((v, u)))
    f = C / sp.sqrt(A * B)
    V = (A, B, C)
    drift = sum(f.diff(u) * mu[u] for u in V) + sum(
        f.diff(u, v) * q(u, v) for u in V for v in V) / 2
    var = sum(f.diff(u) * f.diff(v) * q(u, v) for u in V for v in V)
    return sp.factor(sp.together(sp.powsimp(drift))), sp.factor(sp.together(sp.powsimp(var)))


def correlation_dynamics(phi="identity", gain=None, **params):
    """Eq. 5 of Hayou (TMLR 2023) derived by Itô's lemma (module docstring): closed in ``c`` for
    linear φ (``φ = αx``: drift and squared volatility scale by ``α²``), otherwise in terms of the Gram
    entries ``A, B, C`` of the pre-activations and ``K_aa, K_bb, K_ab`` of the post-activations."""
    act = sde_activation(phi, gain, **params)
    drift, var = _general()
    e = act.expr
    if e.is_polynomial(x) and sp.Poly(e, x).degree() == 1 and e.subs(x, 0) == 0:
        alpha2 = sp.diff(e, x) ** 2
        lin = {K_aa: alpha2 * A / n_sym, K_bb: alpha2 * B / n_sym, K_ab: alpha2 * C / n_sym}
        to_c = {C: c * sp.sqrt(A * B)}
        d = sp.factor(tidy(drift.subs(lin).subs(to_c)))
        v = tidy(sp.sqrt(sp.factor(tidy(var.subs(lin).subs(to_c)))))
        v = sp.sqrt(2) * (1 - c**2) * sp.Abs(sp.diff(e, x)) / sp.sqrt(n_sym) \
            if sp.simplify(v**2 - 2 * alpha2 * (1 - c**2) ** 2 / n_sym) == 0 else v
        return CorrelationDynamics(d, v, True, act)
    return CorrelationDynamics(drift, sp.sqrt(var), False, act)


__all__ = ["CorrelationDynamics", "correlation_dynamics", "A", "B", "C", "K_aa", "K_bb", "K_ab",
           "c"]
