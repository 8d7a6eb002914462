r"""The kernel ODE ``d rho/dt = kappa(rho) - rho``: worst-case bounds for centered activations and
the residual correspondence (Joudaki & Hofmann (AISTATS 2025) §6.2 and Remark S.1;
docs/theory.md §7).

**Worst case (§6.2).**  For a centered activation (``kappa(0) = 0``, Theorem 1 case 1) scaled to
``E sigma^2 = 1``, ``kappa(rho) = sum_{k>=1} c_k^2 rho^k`` with ``sum c_k^2 = 1``, so with
``a = 1 - kappa'(0) = sum_{k>=2} c_k^2``::

    kappa(rho) - rho = -a rho + sum_{k>=2} c_k^2 rho^k.

* positive range, ``0 <= rho < 1``: ``rho^k <= rho^2`` for ``k >= 2`` (all weight on ``k = 2``),
  so ``kappa(rho) - rho <= -a rho (1 - rho)``, solved by
  ``rho/(1 - rho) = rho0/(1 - rho0) e^{-a t}``;
* negative range, ``-1 < rho <= 0``: ``rho^k >= rho^3`` for ``k >= 2`` (all weight on ``k = 3``),
  so ``kappa(rho) - rho >= -a rho (1 - rho^2)``, solved by
  ``rho^2/(1 - rho^2) = rho0^2/(1 - rho0^2) e^{-2 a t}``.

The solution of the kernel ODE keeps the sign of ``rho0`` and, by comparison of scalar ODEs,
``|rho(t)| <= |rho_w(t)|`` (``rho_w`` the worst case).  Both give the joint bound
``|rho(t)|/(1 - |rho(t)|) <= |rho0|/(1 - |rho0|) e^{-a t}`` (negative range:
``u/(1-u) = u/sqrt(1-u^2) * sqrt((1+u)/(1-u))`` and ``|rho(t)| <= |rho0|``): Theorem 1's case-1
potential with the per-layer factor ``e^{-a}`` in place of ``alpha = 1/(2 - kappa'(0)) = 1/(1 + a)``.
Since ``e^a >= 1 + a``, the ODE rate is the faster one (the paper's "slight discrepancy").

**Residual (Remark S.1).**  ``kappa_res = (1 - r^2) kappa + r^2 rho`` makes one layer the explicit
Euler step ``rho_{l+1} = rho_l + h (kappa(rho_l) - rho_l)`` with ``h = 1 - r^2``: ``l`` layers
are ODE time ``t = h l``, and the gap is ``O(h)`` on a fixed time interval.

>>> import sympy as sp
>>> w = worst_case_kernel_ode("he", n=2)        # kappa = rho^2: the positive worst case exactly
>>> w.a.expr, w.solution(1)
(1, rho_0*exp(-t)/(-rho_0 + rho_0*exp(-t) + 1))
>>> float(w.worst_case(1.0, 0.5)) == 0.5 * float(sp.exp(-1)) / (0.5 * float(sp.exp(-1)) + 0.5)
True
"""
import math

import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError
from symkernel.core.parsing import to_sympy
from symkernel.numerics import decimal_value
from symkernel.core.quantity import Quantity, combined
from symkernel.core.symbols import rho
from symkernel.kernels import Kernel, kernel_map
from symkernel.theory.dynamics import KernelDynamics, kernel_dynamics

#: ODE time, initial value and the worst-case rate a = 1 - kappa'(0), as SymPy symbols
t = sp.Symbol("t", nonnegative=True)
rho_0 = sp.Symbol("rho_0", real=True)
a = sp.Symbol("a", positive=True)

#: the worst-case right-hand sides (kernel ODE d rho/dt = rhs) by the sign of the range
WORST_CASE_RHS = {1: -a * rho * (1 - rho), -1: -a * rho * (1 - rho**2)}
#: their solutions with rho(0) = rho_0 (separation of variables: logistic, and Bernoulli in rho^2)
WORST_CASE_SOLUTION = {
    1: rho_0 * sp.exp(-a * t) / (1 - rho_0 + rho_0 * sp.exp(-a * t)),
    -1: rho_0 * sp.exp(-a * t) / sp.sqrt(1 - rho_0**2 + rho_0**2 * sp.exp(-2 * a * t)),
}


def _check_rho0(rho0):
    r0 = np.asarray(rho0, dtype=float)
    if np.isnan(r0).any() or (np.abs(r0) >= 1).any():
        raise InvalidInputError(f"rho0 must lie in (-1, 1), got {rho0}")
    return r0


def _check_times(times):
    tt = np.asarray(times, dtype=float)
    if np.isnan(tt).any() or (tt < 0).any():
        raise InvalidInputError(f"the ODE time must be >= 0, got {times}")
    return tt


class WorstCaseKernelODE:
    """§6.2 of Joudaki & Hofmann (AISTATS 2025) for one centered activation (module docstring).

    ``a`` (Quantity): ``1 - kappa'(0)``; ``ode_factor``: ``e^{-a}``, the worst-case ODE's
    per-unit-time factor on ``|rho|/(1-|rho|)``; ``theorem1_rate``: Theorem 1's
    ``alpha = 1/(2 - kappa'(0))``.
    """

    def __init__(self, dyn):
        if dyn.case != 1:
            raise InvalidInputError(f"§6.2's worst-case kernel ODE needs a centered activation "
                                    f"(kappa(0) = 0, Theorem 1 case 1); this is case {dyn.case}")
        self.dyn = dyn
        k0p = dyn.kappa_prime_0
        if k0p.exact:
            self.a = Quantity(sp.simplify(1 - k0p.expr), "a", "exact: a = 1 - kappa'(0)")
            self.ode_factor = Quantity(sp.exp(-self.a.expr), "e^{-a}", "exact: e^{-(1 - kappa'(0))}")
        else:
            self.a = combined(lambda c: 1 - c, [k0p], "a", "a = 1 - kappa'(0)")
            self.ode_factor = combined(lambda c: (c - 1).exp(), [k0p], "e^{-a}",
                                       "e^{-(1 - kappa'(0))}")
        if (self.a.exact and self.a.expr == 0) or float(self.a.value(17)) <= 0:
            raise InvalidInputError("kappa'(0) = 1: the activation is linear, nothing converges")
        self.theorem1_rate = dyn.rate

    def rhs(self, sign):
        """The worst-case right-hand side in ``rho`` for the range of ``sign`` (+1 or -1)."""
        return self._subs(WORST_CASE_RHS[self._sign(sign)])

    def solution(self, sign):
        """Its closed-form solution in ``t`` and ``rho_0`` (module symbols; ``a`` substituted
        when exact, else left as the symbol ``a``)."""
        return self._subs(WORST_CASE_SOLUTION[self._sign(sign)])

    def worst_case(self, times, rho0):
        """``rho_w(t)``, the worst-case solution from ``rho0`` (its range picked by the sign of
        ``rho0``), float64; ``times`` and ``rho0`` broadcast.  ``|rho(t)| <= |rho_w(t)|``."""
        tt, r0 = _check_times(times), _check_rho0(rho0)
        e = np.exp(-float(self.a.value(17)) * tt)
        pos = r0 * e / (1 - r0 + r0 * e)
        neg = r0 * e / np.sqrt(1 - r0**2 + r0**2 * e**2)
        return np.where(r0 >= 0, pos, neg)

    def joint_bound(self, times, rho0):
        """``|rho0|/(1 - |rho0|) e^{-a t}``, the bound on ``|rho(t)|/(1 - |rho(t)|)`` for both signs."""
        tt, r0 = _check_times(times), _check_rho0(rho0)
        return np.abs(r0) / (1 - np.abs(r0)) * np.exp(-float(self.a.value(17)) * tt)

    def rates(self):
        """Per-layer exponents ``-log(factor)``: ``theorem1`` ``log(2 - kappa'(0))``, ``ode``
        ``a = 1 - kappa'(0)`` and ``linearized`` ``-log kappa'(0)`` (the discrete sequence near
        0; ``inf`` when ``kappa'(0) = 0``), as floats; ``theorem1 <= ode <= linearized``.  (The
        Quantities ``a``, ``theorem1_rate`` and ``dyn.kappa_prime_0`` give any digits.)"""
        k0p = float(self.dyn.kappa_prime_0)
        return {"theorem1": -math.log(float(self.theorem1_rate)),
                "ode": float(self.a),
                "linearized": math.inf if k0p == 0 else -math.log(k0p)}

    def _subs(self, expr):
        return expr.subs(a, self.a.expr) if self.a.exact else expr

    @staticmethod
    def _sign(sign):
        if sign not in (1, -1):
            raise InvalidInputError(f"sign must be +1 (positive range) or -1 (negative range), got {sign!r}")
        return sign

    def __repr__(self):
        return f"WorstCaseKernelODE(a = {self.a}, kernel = {self.dyn.kmap.name})"


def worst_case_kernel_ode(act, gain=None, **params):
    """:class:`WorstCaseKernelODE` of an activation, kernel map or :class:`KernelDynamics`."""
    if isinstance(act, KernelDynamics):
        return WorstCaseKernelODE(act)
    if isinstance(act, Kernel):
        return WorstCaseKernelODE(kernel_dynamics(act))
    return WorstCaseKernelODE(kernel_dynamics(act, gain, **params))


def solve_kernel_ode(kmap, rho0, times, rtol=1e-12, atol=1e-14):
    """The kernel ODE ``d rho/dt = kappa(rho) - rho`` from ``rho0`` (a number or a 1-d array of
    initial values, solved as one system) at ``times`` (increasing, from 0): SciPy's DOP853 on the
    float64 twin of ``kappa``, ``rtol``/``atol`` its tolerances.  Returns an array of shape
    ``times.shape + rho0.shape``."""
    from scipy.integrate import solve_ivp

    tt = _check_times(times)
    r0 = _check_rho0(rho0)
    if tt.ndim != 1 or tt.size == 0 or np.any(np.diff(tt) < 0) or r0.ndim > 1:
        raise InvalidInputError("times must be a nonempty increasing 1-d array, rho0 a number or 1-d")
    f = kmap.numpy
    sol = solve_ivp(lambda _, y: np.clip(f(np.clip(y, -1, 1)), -1, 1) - y, (0.0, float(tt[-1])),
                    np.atleast_1d(r0), method="DOP853", t_eval=tt, rtol=rtol, atol=atol)
    if not sol.success:
        raise InvalidInputError(f"the kernel ODE solver failed: {sol.message}")
    return sol.y.T.reshape(tt.shape + r0.shape)


def residual_ode_gap(act, h, rho0, t_max):
    """Remark S.1: the residual kernel sequence at ``r = sqrt(1 - h)`` against the kernel ODE at
    ``t = h l``, ``l = 0, ..., floor(t_max/h)``.  ``h`` in (0, 1] (a SymPy number keeps ``r``
    exact).  Returns a dict: ``h``, ``r``, ``layers``, ``times``, ``sequence`` (Proposition 2's
    ``(1 - r^2) kappa + r^2 rho`` iterated in float64 on the float64 twin of ``kappa``), ``ode`` (:func:`solve_kernel_ode`), ``gap`` (max over the layers of
    ``|rho_l - rho(h l)|``) and ``gap_end`` (at the last layer)."""
    h = decimal_value(h, "h") if isinstance(h, float) else to_sympy(h)   # as typed
    if not (h.is_number and h.is_real and 0 < h <= 1):
        raise InvalidInputError(f"the ODE step h = 1 - r^2 must be a number in (0, 1], got {h}")
    if not t_max > 0:
        raise InvalidInputError(f"t_max must be > 0, got {t_max}")
    kmap = act if isinstance(act, Kernel) else kernel_map(act)
    r = sp.sqrt(1 - h)
    hf = float(h)
    depth = int(math.floor(float(t_max) / hf + 1e-9))
    r2 = float(r**2)
    f = kmap.numpy
    seq = np.empty(depth + 1)
    seq[0] = float(_check_rho0(rho0))
    for i in range(depth):              # Proposition 2: kappa_res = (1 - r^2) kappa + r^2 rho
        seq[i + 1] = min(max((1 - r2) * f(seq[i]) + r2 * seq[i], -1.0), 1.0)
    times = hf * np.arange(depth + 1)
    ode = solve_kernel_ode(kmap, rho0, times)
    gap = np.abs(seq - ode)
    return dict(h=hf, r=r, layers=np.arange(depth + 1), times=times, sequence=seq, ode=ode,
                gap=float(gap.max()), gap_end=float(gap[-1]))


__all__ = ["WorstCaseKernelODE", "worst_case_kernel_ode", "solve_kernel_ode", "residual_ode_gap",
           "WORST_CASE_RHS", "WORST_CASE_SOLUTION"]
