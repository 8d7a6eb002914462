r"""Joudaki & Hofmann (AISTATS 2025), Theorem 1 case 3 (``kappa(0) > 0``, ``kappa'(1) = 1``): the
exact rate at which ``1 - rho_l`` falls to 0, derived from the kernel map's expansion at 1 and
measured by iterating the exact map.

With ``s = sqrt(1 - rho)`` and ``1 - kappa(1 - s^2) = s^2 - a s^{2 + 2 gamma} + c s^{2 + 4 gamma} + ...``
(``a > 0``), ``eps_l = 1 - rho_l`` obeys ``eps_{l+1} = eps_l - a eps_l^{1 + gamma} + ...``, so
``u_l = eps_l^{-gamma}`` grows as ``u_{l+1} - u_l = a gamma + b/u_l + ...`` with
``b = gamma (gamma + 1) a^2/2 - gamma c``.  Hence

.. math:: 1 - \rho_\ell \sim C \ell^{-1/\gamma}, \qquad C = (a\gamma)^{-1/\gamma}, \qquad
          u_\ell = a\gamma\,\ell + B \ln \ell + O(1), \quad B = b/(a\gamma).

ReLU: ``kappa(rho) = rho + (2 sqrt 2/(3 pi)) (1 - rho)^{3/2} + O((1 - rho)^{5/2})`` (note the linear
term: ``kappa'(1) = 1``), ``gamma = 1/2``, so ``1 - rho_l ~ (9 pi^2/2)/l^2``: polynomial, not the
exponential decay (case 2) that the paper's Table S.1 lists.  exp: ``gamma = 1``, ``1 - rho_l ~ 2/l``.
Theorem 1's case-3 bound ``|rho_0 - 1|/(l alpha |rho_0 - 1| + 1)`` falls as ``1/(alpha l)``.

>>> asym = case3_asymptotics("exp")
>>> asym.C, asym.exponent, asym.B
(2, 1, 1/6)
"""
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.numerics import check_dps, working
from symkernel.core.mp_eval import mp_lambdify
from symkernel.core.symbols import rho
from symkernel.theory.dynamics import kernel_dynamics

_S = sp.Symbol("s", positive=True)
#: terms of the expansion in s = sqrt(1 - rho) that are derived (up to s**(_ORDER - 1))
_ORDER = 8


@dataclass(frozen=True)
class Case3Asymptotics:
    """``1 - rho_l ~ C l^(-exponent)`` and ``(1 - rho_l)^(-gamma) = a gamma l + B ln l + O(1)``
    (module docstring); every field exact SymPy (``B`` None when the expansion has a term between
    ``s^(2 + 2 gamma)`` and ``s^(2 + 4 gamma)``)."""

    activation: str
    expansion: sp.Expr   # 1 - kappa(1 - s^2), truncated, in s = sqrt(1 - rho)
    a: sp.Expr
    gamma: sp.Expr
    exponent: sp.Expr
    C: sp.Expr
    B: sp.Expr

    @property
    def C_text(self):
        """``C`` as SymPy prints it, with its value when it is not a plain number."""
        return str(self.C) if self.C.is_Number else f"{self.C} = {float(self.C):.6g}"

    def __str__(self):
        return f"{self.activation}: 1 - rho_l ~ C/l^{self.exponent}, C = {self.C_text}"


def _near_one(expr):
    """``expr`` at ``rho = 1 - s^2`` with ``asin(1 - s^2) = pi/2 - 2 asin(s/sqrt 2)``,
    ``acos(1 - s^2) = 2 asin(s/sqrt 2)`` and square roots of factored arguments (``s > 0``): the
    branch point moved out of the functions, so SymPy's series is quick."""
    e = expr.subs(rho, 1 - _S**2)
    half = 2 * sp.asin(_S / sp.sqrt(2))

    def asin_(arg):
        for sign in (1, -1):
            if sp.expand(arg - sign * (1 - _S**2)) == 0:
                return sign * (sp.pi / 2 - half)
        return sp.asin(arg)

    def acos_(arg):
        for sign in (1, -1):
            if sp.expand(arg - sign * (1 - _S**2)) == 0:
                return half if sign == 1 else sp.pi - half
        return sp.acos(arg)

    e = e.replace(sp.asin, asin_).replace(sp.acos, acos_)
    return e.replace(lambda z: isinstance(z, sp.Pow) and z.exp.is_Rational and z.exp.q == 2,
                     lambda z: sp.factor(z.base) ** z.exp)


def _terms(expansion):
    terms = {}
    for t in sp.Add.make_args(sp.expand(expansion)):
        c, p = t.as_coeff_exponent(_S)
        terms[p] = terms.get(p, 0) + c
    terms = {p: sp.simplify(c) for p, c in terms.items()}
    return {p: c for p, c in terms.items() if c != 0}


def case3_asymptotics(act, gain=None, **params):
    """The derived asymptotics of a case-3 kernel sequence (module docstring); the kernel map must
    have a closed form whose expansion at 1 SymPy finds."""
    dyn = kernel_dynamics(act, gain, **params)
    if dyn.case != 3:
        raise InvalidInputError(f"this is case {dyn.case} of Theorem 1, not case 3 "
                                "(kappa(0) > 0, kappa'(1) = 1)")
    expr = dyn.kmap.expr
    if expr is None:
        raise NoClosedFormError("the asymptotics are derived from the kernel map's closed form; "
                                "this activation has none")
    expansion = sp.series(1 - _near_one(expr), _S, 0, _ORDER).removeO()
    terms = _terms(expansion)
    if terms.get(2) != 1 or any(p < 2 for p in terms):
        raise InvalidInputError(f"1 - kappa(1 - s^2) = {expansion} + ...: expected s^2 + higher terms")
    higher = sorted(p for p in terms if p > 2)
    if not higher or not terms[higher[0]] < 0:
        raise InvalidInputError(f"1 - kappa(1 - s^2) = {expansion} + ...: no negative correction "
                                f"below s^{_ORDER} to derive the rate from")
    q = higher[0]
    a, gamma = -terms[q], sp.Rational(q - 2, 2)
    between = [p for p in higher if q < p < 2 + 4 * gamma]
    if between or 2 + 4 * gamma >= _ORDER:
        B = None
    else:
        c = terms.get(2 + 4 * gamma, 0)
        b = gamma * (gamma + 1) * a**2 / 2 - gamma * c
        B = sp.simplify(b / (a * gamma))
    name = getattr(getattr(act, "act", act), "name", None) or str(act)
    return Case3Asymptotics(name, expansion, a, gamma, 1 / gamma,
                            sp.simplify((a * gamma) ** (-1 / gamma)), B)


def iterate_exact(act, rho0, depth, dps=30, gain=None, **params):
    """``[1 - rho_0, ..., 1 - rho_depth]`` (mpf) by iterating the closed-form kernel map with
    ``dps`` digits (mpmath)."""
    kmap = kernel_dynamics(act, gain, **params).kmap
    if kmap.expr is None:
        raise NoClosedFormError("iterate_exact iterates the closed-form kernel map; this activation has none")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 10**6:
        raise InvalidInputError(f"depth must be an integer in 1..10**6, got {depth!r}")
    f = mp_lambdify(rho, kmap.expr)
    with working(check_dps(dps)):
        r = mpmath.mpf(rho0)
        if not -1 < r < 1:
            raise InvalidInputError(f"rho0 must lie in (-1, 1), got {rho0}")
        eps = [1 - r]
        for _ in range(depth):
            r = min(mpmath.re(f(r)), mpmath.mpf(1))
            eps.append(1 - r)
    return eps


def fit_rate(eps, gamma, window):
    """Least squares ``eps_l^(-gamma) = A l + B ln l + D + E ln(l)/l + F/l`` over ``window =
    (lo, hi)``: ``(A, B)`` as floats."""
    lo, hi = window
    ls = np.arange(lo, hi + 1, dtype=float)
    u = np.array([float(eps[int(l)] ** (-mpmath.mpf(gamma))) for l in ls])
    X = np.stack([ls, np.log(ls), np.ones_like(ls), np.log(ls) / ls, 1 / ls], axis=1)
    coef = np.linalg.lstsq(X, u, rcond=None)[0]
    return float(coef[0]), float(coef[1])


def measure_case3_constant(act, rho0=0.0, depth=2000, *, window=None, dps=30, gain=None, **params):
    """Measured ``C`` of ``1 - rho_l ~ C l^(-p)`` (estimated: iterate the exact map with
    :func:`iterate_exact`, fit :func:`fit_rate` over ``window``, default ``(depth//10, depth)``,
    ``C = A^(-p)``) beside the derived one; also the raw ``l^p (1 - rho_l)`` at ``l = depth`` and
    the local log-log slope there.  A dict of floats."""
    asym = case3_asymptotics(act, gain, **params)
    eps = iterate_exact(act, rho0, depth, dps, gain, **params)
    lo, hi = window or (max(depth // 10, 2), depth)
    if not 2 <= lo < hi <= depth or hi - lo < 10:
        raise InvalidInputError(f"window must satisfy 2 <= lo < hi <= depth, hi - lo >= 10; got {window}")
    A, B = fit_rate(eps, asym.gamma, (lo, hi))
    p = float(asym.exponent)
    C = A ** (-p)
    slope = float(mpmath.log(eps[depth] / eps[depth // 2]) / mpmath.log(mpmath.mpf(depth) / (depth // 2)))
    derived = float(asym.C)
    return {"C": C, "B": B, "derived_C": derived, "derived_B": None if asym.B is None else float(asym.B),
            "relative_error": abs(C - derived) / derived, "exponent": p, "slope": slope,
            "raw": float(depth**p * eps[depth]), "depth": depth, "window": (lo, hi),
            "rho0": float(rho0)}


__all__ = ["Case3Asymptotics", "case3_asymptotics", "iterate_exact", "fit_rate",
           "measure_case3_constant"]
