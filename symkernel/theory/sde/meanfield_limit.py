r"""The two sequential limits of a ResNet's pre-activations and where finite width departs from
them (Hayou (TMLR 2023) Thms 2 and 3; docs/theory.md §10.2).

ResNet ``Y_ℓ = Y_{ℓ−1} + L^{−1/2} W_ℓ φ(Y_{ℓ−1})``, ``W_ℓ`` i.i.d. ``N(0, 1/n)``, ``Y_0 ~ N(0, q0 I_n)``,
and ``V(q) = E[φ(√q Z)²]``.

* **Depth, then width** (Thm 2): ``L → ∞`` gives ``dX = n^{−1/2}‖φ(X)‖ dB``; as ``n → ∞`` the
  coordinates decouple into the McKean–Vlasov SDE ``dX_t = (E φ(X_t)²)^{1/2} dB_t``.  Its volatility
  is deterministic, so ``X_t ~ N(0, q_t)`` with ``q' = V(q)``, ``q(0) = q0``.
* **Width, then depth** (Thm 3): ``n → ∞`` gives the NNGP recursion ``q_ℓ = q_{ℓ−1} + V(q_{ℓ−1})/L``,
  the Euler scheme of the same ODE, so ``q_{⌊tL⌋} → q_t``: both orders give ``N(0, q_t)``.
  ReLU: ``V = q/2``, ``q_t = q0 e^{t/2}``, ``q_L = q0 (1 + 1/(2L))^L``.
* **Finite width** (where the orders are not interchangeable with fixing ``n``): for linear φ the
  law of ``Y_L`` is rotation invariant and ``‖Y_ℓ‖`` a product of independent factors, which gives
  the kurtosis of one coordinate exactly on the whole ``(n, L)`` grid,
  ``κ(n, L) = 3 [m/(1 + 1/L)²]^L``, ``m = (1 + 1/L)² + 4/(nL) + 2/(nL²)``; ``L → ∞``:
  ``3 e^{4t/n}`` (a Gaussian scale mixture, ``X_t = G·N(0, q0 I)``,
  ``log G ~ N((1/2 − 1/n)t, t/n)``); ``n → ∞``: 3.  Width 1, ReLU: ``E X_t² = q0 (1 + e^t)/2``
  (Prop. 3's mixture) against the mean-field ``q0 e^{t/2}``.

>>> import sympy as sp
>>> lim = meanfield_limit("relu")
>>> lim.rate, lim.q
(q/2, exp(t/2))
>>> lim.nngp(4)[-1], linear_kurtosis(1, None, t=1)
(6561/4096, 3*exp(4))
>>> width1_second_moment("relu")
exp(t)/2 + 1/2
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
import sympy as sp

from symkernel.core.numpy_eval import numpy_lambdify
from symkernel.core.parsing import to_sympy
from symkernel.core.symbols import t, x
from symkernel.errors import InvalidInputError, NoClosedFormError, PrecisionError
from symkernel.gaussian.exact import closed_form
from symkernel.gaussian.expectation import second_moment
from .ito import check_width, sde_activation, tidy
from .laws import width1_law

#: the variance variable of the mean-field ODE
q = sp.Symbol("q", positive=True)


@lru_cache(maxsize=1)
def _legendre():
    return np.polynomial.legendre.leggauss(200)


def _check_q0(q0):
    q0 = to_sympy(q0)
    if not (q0.is_number and q0.is_positive):
        raise InvalidInputError(f"the initial variance q0 must be a positive number, got {q0}")
    return q0


def variance_rate(phi, gain=None, **params):
    """``V(q) = E[φ(√q Z)²]`` as a SymPy expression in ``q`` (exact Gaussian engine), or None when
    it has no closed form (then :meth:`MeanFieldLimit.rate_numeric` integrates numerically)."""
    act = sde_activation(phi, gain, **params)
    s = sp.Symbol("s", positive=True)
    val = second_moment(act, gain=s)
    if val.expr is None:
        return None
    return tidy(val.expr.subs(s, sp.sqrt(q)))


@lru_cache(maxsize=64)
def _rate_function(rate):
    return numpy_lambdify(q, rate)


def _real_float(value, expr):
    """A float64 value of the real closed form ``expr``: a complex value (a form SymPy left with
    ``i``) keeps its real part only when the imaginary part is below ``1e-12 (1 + |re|)``, an
    estimate of float64 rounding of complex intermediates; a larger one raises
    (docs/theory.md §35)."""
    val = complex(value)
    if abs(val.imag) > 1e-12 * (1 + abs(val.real)):
        raise PrecisionError(f"the variance rate {expr} is not real: it evaluates to {val}")
    return val.real


@dataclass(frozen=True)
class MeanFieldLimit:
    """The variance ``q_t`` of the Gaussian marginals of both sequential limits (module docstring).

    ``rate``: ``V(q)`` (None: no closed form); ``q``: ``q_t`` in ``sk.t`` (None: no closed form,
    :meth:`variance` solves the ODE numerically).
    """

    activation: object
    q0: sp.Expr
    rate: Optional[sp.Expr]
    q: Optional[sp.Expr]

    def rate_numeric(self, qv):
        """``V(qv)`` in float64: the closed form (lambdified, real part checked by
        :func:`_real_float`), or Gauss–Legendre quadrature (200 nodes per piece) of
        ``φ(√qv z)² e^{−z²/2}/√(2π)`` on ``|z| ≤ 12``, split at the breakpoints (estimated; the
        truncated tail is below ``1e-30`` for polynomially bounded φ)."""
        if self.rate is not None:
            return _real_float(_rate_function(self.rate)(float(qv)), self.rate)
        f = self.activation.numpy()
        s = float(np.sqrt(qv))
        cuts = sorted({float(p.lo) / s for p in self.activation.pieces[1:]
                       if abs(float(p.lo) / s) < 12})
        edges = [-12.0, *cuts, 12.0]
        u, w = _legendre()
        tot = 0.0
        for a, b in zip(edges, edges[1:]):
            z = (a + b) / 2 + (b - a) / 2 * u
            vals = np.asarray(f(s * z), float) ** 2 * np.exp(-z * z / 2)
            tot += (b - a) / 2 * float(vals @ w)
        return tot / np.sqrt(2 * np.pi)

    def variance(self, time=1.0):
        """``q_t`` at ``time`` (float): the closed form, else the ODE by scipy's ``solve_ivp``
        (RK45, ``rtol = 1e-10``; estimated).  Where the solver cannot reach ``time`` (``q_t``
        blows up in finite time, ``t* = int_{q0}^oo dq/V(q)``: 2.3827 for ``e^{x/2} sin x``,
        ``q0 = 1``), InvalidInputError says where it stopped (docs/theory.md §35)."""
        if self.q is not None:
            return float(self.q.subs(t, time))
        from scipy.integrate import solve_ivp

        sol = solve_ivp(lambda _t, y: [self.rate_numeric(y[0])], (0.0, float(time)),
                        [float(self.q0)], rtol=1e-10, atol=1e-12)
        if sol.status != 0 or not np.isfinite(sol.y[0, -1]):
            raise InvalidInputError(
                f"the mean-field variance q_t of {self.activation.expr} cannot be followed to "
                f"time = {time}: the ODE q' = V(q) stopped at t = {sol.t[-1]:.10g} with "
                f"q = {sol.y[0, -1]:.6g} ({sol.message}); q_t blows up in finite time when "
                "int dq/V(q) converges")
        return float(sol.y[0, -1])

    def nngp(self, depth, time=1):
        """Width-then-depth variances ``[q_0, ..., q_{⌊tL⌋}]`` of the NNGP recursion
        ``q_ℓ = q_{ℓ−1} + V(q_{ℓ−1})/L`` (exact SymPy numbers when ``V`` is exact)."""
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
            raise InvalidInputError(f"depth must be a positive integer, got {depth!r}")
        steps = int(np.floor(float(time) * depth))
        out = [self.q0 if self.rate is not None else float(self.q0)]
        for _ in range(steps):
            prev = out[-1]
            if self.rate is not None:
                step = prev + self.rate.subs(q, prev) / depth
                out.append(step if step.is_Rational else tidy(step))
            else:
                out.append(prev + self.rate_numeric(prev) / depth)
        return out

    def growth(self, time=1):
        """Theorem 2's limit of ``log(‖φ(X_t)‖/‖φ(X_0)‖)``: ``log(V(q_t)/V(q_0))/2`` (exact when
        ``V`` and ``q_t`` are; ReLU: ``t/4``)."""
        if self.rate is not None and self.q is not None:
            return tidy(sp.log(self.rate.subs(q, self.q.subs(t, time))
                               / self.rate.subs(q, self.q0)) / 2)
        return 0.5 * float(np.log(self.rate_numeric(self.variance(time))
                                  / self.rate_numeric(float(self.q0))))


def meanfield_limit(phi, q0=1, gain=None, **params):
    """The mean-field (McKean–Vlasov) variance of both sequential limits, :class:`MeanFieldLimit`.

    ``q_t`` is solved in closed form when ``V(q) = a q + b`` (``sympy.dsolve``), numerically
    otherwise.
    """
    act = sde_activation(phi, gain, **params)
    if act.free_parameters:
        raise InvalidInputError(
            f"give numeric values to {sorted(map(str, act.free_parameters))} first")
    q0 = _check_q0(q0)
    rate = variance_rate(act)
    qt = None
    if rate is not None and rate.is_polynomial(q) and sp.Poly(rate, q).degree() <= 1:
        Q = sp.Function("Q")
        qt = tidy(sp.dsolve(sp.Eq(Q(t).diff(t), rate.subs(q, Q(t))), Q(t),
                            ics={Q(0): q0}).rhs)
    return MeanFieldLimit(act, q0, rate, qt)


def linear_kurtosis(n, depth=None, t=1):
    r"""Exact kurtosis ``E Y_1⁴/(E Y_1²)²`` of one coordinate of the linear ResNet at width ``n``
    (``sp.oo``: infinite width) and depth ``depth`` (None: the SDE limit) at time ``t``; the input
    ``Y_0 ~ N(0, q0 I)`` (any ``q0``).

    Derivation: ``‖(I + W/√L) y‖²/‖y‖² = (1 + a)² + b`` with ``a ~ N(0, 1/(nL))``,
    ``b ~ χ²_{n−1}/(nL)`` independent, mean ``(1 + 1/L)``, second moment
    ``m = (1 + 1/L)² + 4/(nL) + 2/(nL²)``; the layers are independent, the law rotation invariant,
    so ``E Y_1⁴ = 3 E‖Y‖⁴/(n(n+2))``.
    """
    if n != sp.oo:
        n = check_width(n)
    n = sp.S(n)
    if depth is None:
        return sp.Integer(3) if n == sp.oo else 3 * sp.exp(4 * to_sympy(t) / n)
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise InvalidInputError(f"depth must be a positive integer, got {depth!r}")
    L = sp.Integer(depth)
    steps = int(np.floor(float(t) * depth))
    inv_n = 0 if n == sp.oo else 1 / n
    m = (1 + 1 / L) ** 2 + 4 * inv_n / L + 2 * inv_n / L**2
    return 3 * (m / (1 + 1 / L) ** 2) ** steps          # a rational number


def linear_coordinate_cdf(n, t=1, q0=1, nodes=80):
    """CDF of one coordinate of the width-``n`` linear SDE at ``t`` (``X_0 ~ N(0, q0 I)``): the
    scale mixture ``E Φ(u/(√q0 G))``, ``log G ~ N((1/2 − 1/n)t, t/n)``, by ``nodes``-point
    Gauss–Hermite (float64; estimated).  Returns a vectorized callable."""
    from scipy import special

    n = check_width(n)
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    g = np.exp((0.5 - 1 / n) * t + np.sqrt(t / n) * z)
    scale = np.sqrt(float(q0)) * g

    def cdf(u):
        u = np.asarray(u, float)
        return (special.ndtr(u[..., None] / scale) * w).sum(axis=-1)

    return cdf


def linear_log_norm_moments(n, depth=None, t=1, nodes=64):
    """Mean and variance of ``log(‖Y_L‖/‖Y_0‖)`` for the width-``n`` linear ResNet (any fixed
    ``Y_0 ≠ 0``; also ``log(‖g_0‖/‖g_L‖)`` of a back-propagated gradient, Fig. 8).

    ``depth=None``: the SDE limit ``((1/2 − 1/n)t, t/n)`` (exact, :func:`~symkernel.theory.sde.width.
    norm_law`).  Finite depth: ``⌊tL⌋`` i.i.d. layers, each ``½ log((1 + a)² + b)`` with
    ``a ~ N(0, 1/(nL))``, ``b ~ χ²_{n−1}/(nL)``, integrated by a Gauss–Hermite × generalized
    Gauss–Laguerre rule (``nodes`` each; float64, estimated).
    """
    n = check_width(n)
    if depth is None:
        t = to_sympy(t)
        return (sp.Rational(1, 2) - sp.Rational(1, n)) * t, t / n
    from scipy import special

    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise InvalidInputError(f"depth must be a positive integer, got {depth!r}")
    z, wz = np.polynomial.hermite_e.hermegauss(nodes)
    wz = wz / wz.sum()
    a = z / np.sqrt(n * depth)
    if n > 1:
        u, wu = special.roots_genlaguerre(nodes, (n - 1) / 2 - 1)
        wu = wu / wu.sum()
        b = 2 * u / (n * depth)
    else:
        b, wu = np.zeros(1), np.ones(1)
    with np.errstate(divide="ignore"):
        f = 0.5 * np.log((1 + a[:, None]) ** 2 + b[None, :])
    w = wz[:, None] * wu[None, :]
    m1 = float((w * f).sum())
    m2 = float((w * f * f).sum())
    steps = int(np.floor(float(t) * depth))
    return steps * m1, steps * (m2 - m1 * m1)


def width1_second_moment(phi, q0=1, gain=None, **params):
    """``E X_t²`` of the width-1 limit ``dX = φ(X) dB``, ``X_0 ~ N(0, q0)``, for φ whose pieces
    are linear through 0 or identically 0 (ReLU, identity, leaky ReLU): the law of each piece
    (:func:`~symkernel.theory.sde.laws.width1_law`, a GBM or a constant) averaged over ``X_0``."""
    act = sde_activation(phi, gain, **params)
    q0 = _check_q0(q0)
    total = 0
    for p in act.pieces:
        if not (p.lo == 0 or p.hi == 0 or (p.lo == -sp.oo and p.hi == sp.oo)):
            raise NoClosedFormError(f"the piece {p.lo} < x < {p.hi} of {act.expr} does not end at "
                                    "0: the process may leave it")
        sign = 1 if p.lo >= 0 else -1
        x0 = sp.Symbol("x0", positive=True)
        if p.lo == -sp.oo and p.hi == sp.oo:
            parts = [(width1_law(act, x0).moment(x**2), 0, sp.oo),
                     (width1_law(act, -x0).moment(x**2), -sp.oo, 0)]
        else:
            parts = [(width1_law(act, sign * x0).moment(x**2), p.lo, p.hi)]
        for m2, lo, hi in parts:
            # E[m2(X_0); lo < X_0 < hi], X_0 = sqrt(q0) Z: the exact Gaussian engine on a piece
            expr = m2.subs(x0, sp.Abs(sp.sqrt(q0) * x))
            piece = sp.Piecewise((expr, (x > lo) & (x < hi)), (0, True))
            total += closed_form(sp.piecewise_fold(piece))
    return tidy(total)


__all__ = ["MeanFieldLimit", "meanfield_limit", "variance_rate", "linear_kurtosis",
           "linear_coordinate_cdf", "linear_log_norm_moments", "width1_second_moment", "q"]
