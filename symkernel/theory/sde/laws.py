r"""Closed-form laws of width-1 infinite-depth ResNets, derived with Itô's lemma (Hayou (TMLR 2023) §3).

* :func:`solve_law` — the law of ``X_t`` for a scalar diffusion that is, or that a transform
  ``Z = g(X)`` (``log x``, ``log(-x)``, or one you give) turns into, a linear Gaussian SDE
  ``dZ = (a + bZ) dt + s dB``: mean and variance of ``Z_t`` solve the moment ODEs
  ``m' = a + b m``, ``v' = 2 b v + s^2`` (``sympy.dsolve``), and ``X_t = g^{-1}(Z_t)``.
  Linear ``phi`` gives the log-normal law of geometric Brownian motion.
* :func:`width1_law` — the law of ``X_t`` for ``dX = phi(X) dB`` piece by piece of ``phi``:
  a constant process where ``phi(x_0) = 0``, otherwise :func:`solve_law` on the piece of ``x_0``,
  accepted only when the law stays inside that piece (ReLU: GBM for ``x_0 > 0``, constant for
  ``x_0 <= 0``, Hayou (TMLR 2023) Prop. 3).
* :func:`solve_activation` — the inverse problem: a target ``dZ = mu(Z) dt + s(Z) dB`` for
  ``Z = g(X)``.  Itô's lemma gives ``g' phi = s(g)`` and ``g'' phi^2 / 2 = mu(g)``; eliminating
  ``phi`` gives ``g'' s(g)^2 = 2 mu(g) g'^2``, which the inverse ``G = g^{-1}`` turns into the
  linear ``s(z)^2 G'' + 2 mu(z) G' = 0`` (``G`` is the scale function of ``Z``);
  ``phi(x) = s(g) G'(g)``.
  ``u = G'`` is found by ``sympy.dsolve`` (separable), ``G = ∫u`` by SymPy's manual integration;
  when either has no closed form the solver raises :class:`NoClosedFormError` saying which.
  The OU target ``mu = -theta z``, ``s = sqrt(theta)`` gives ``g = erfiinv(k x)`` and
  ``phi(x) = 2 sqrt(theta)/(k sqrt(pi)) exp(erfiinv(k x)^2)`` (Hayou (TMLR 2023) Prop. 4).

>>> import sympy as sp
>>> from symkernel.core.symbols import x, t
>>> law = width1_law("identity", x0=2)
>>> law.kind, law.z_mean == sp.log(2) - t/2, law.z_var     # log X_t ~ N(log 2 - t/2, t)
('lognormal', True, t)
>>> width1_law("relu", x0=-1).kind
'constant'
"""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import sympy as sp

from symkernel.core.display import wrap_math
from symkernel.core.parsing import to_sympy
from symkernel.core.quantity import evaluate_exact

from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.core.numpy_eval import numpy_lambdify
from symkernel.gaussian.exact import closed_form as expectation_closed_form
from symkernel.core.symbols import t, x
from .ito import Diffusion, _sym, invert, sde_activation, tidy

z = sp.Symbol("z", real=True)
#: symbol of the one-dimensional Brownian motion in pathwise solutions
B = sp.Symbol("B_t", real=True)


def _gaussian_cdf(u):
    from scipy import special

    return special.ndtr(u)


@dataclass(frozen=True)
class Law:
    r"""The law of ``X_t``: ``X_t = h(Z_t)`` with ``Z_t ~ N(z_mean, z_var)`` and ``h`` strictly
    monotone (``kind`` 'gaussian', 'lognormal' or 'transformed-gaussian'), or the constant
    ``x0`` (``kind`` 'constant').  Expressions are in ``sk.t`` and the law's parameters.
    """

    kind: str
    x0: sp.Expr
    z_mean: sp.Expr = sp.S.Zero
    z_var: sp.Expr = sp.S.Zero
    h: sp.Expr = z  # X = h(Z), an expression in z
    g: sp.Expr = x  # Z = g(X), an expression in x (the inverse of h)
    support: sp.Set = sp.S.Reals
    solution: Optional[sp.Expr] = (
        None  # pathwise X_t in terms of B_t when Z has constant coefficients
    )
    diffusion: Optional[Diffusion] = field(default=None, compare=False)

    def at(self, time):
        """The same law with ``sk.t`` replaced by ``time``."""
        s = {t: to_sympy(time)}
        return Law(
            self.kind,
            self.x0,
            self.z_mean.subs(s),
            self.z_var.subs(s),
            self.h,
            self.g,
            self.support,
            None if self.solution is None else self.solution.subs(s),
            self.diffusion,
        )

    def pdf(self, var=x):
        """Density of ``X_t`` at ``var``: ``p_Z(g(var)) |g'(var)|`` (``None`` for a constant)."""
        if self.kind == "constant":
            return None
        gx = self.g.subs(x, var)
        if (
            self.support.is_subset(sp.Interval.open(0, sp.oo))
            and isinstance(var, sp.Symbol)
            and not var.is_positive
        ):
            pos = sp.Dummy("y", positive=True)
            return self.pdf(pos).subs(pos, var)
        dens = sp.exp(-((gx - self.z_mean) ** 2) / (2 * self.z_var)) / sp.sqrt(
            2 * sp.pi * self.z_var
        )
        return (
            tidy(dens * sp.Abs(sp.diff(gx, var)))
            if not sp.diff(gx, var).is_positive
            else tidy(dens * sp.diff(gx, var))
        )

    def moment(self, fn):
        """``E[fn(X_t)]`` for an expression ``fn`` in ``x``, by the exact Gaussian engine."""

        if self.kind == "constant":
            return tidy(to_sympy(fn).subs(x, self.x0))
        std = sp.sqrt(self.z_var)
        expr = to_sympy(fn).subs(x, self.h).subs(z, self.z_mean + std * x)
        return tidy(expectation_closed_form(sp.expand(expr)))

    def _numeric(self):
        free = (self.z_mean.free_symbols | self.z_var.free_symbols | self.x0.free_symbols) - {t}
        if free or self.z_mean.has(t) or self.z_var.has(t):
            raise InvalidInputError(
                f"give numeric values to {sorted(map(str, free | {t}))} first "
                "(law.at(1), law.subs(...))"
            )
        return float(self.z_mean), float(sp.sqrt(self.z_var))

    def increasing(self):
        """Whether ``h`` increases (its derivative at the mean, ``t = 1``: exact sign, else a
        strict SymPy evaluation, which raises PrecisionError rather than guess)."""

        d = sp.diff(self.h, z)
        val = d.subs(z, self.z_mean).subs(t, 1)
        if not val.is_number:
            return True
        if val.is_positive or val.is_negative:
            return bool(val.is_positive)
        return bool(evaluate_exact(val, 30) > 0)

    def cdf(self):
        """A vectorized NumPy CDF of ``X_t`` (numeric parameters, ``t`` substituted)."""
        if self.kind == "constant":
            c = float(self.x0)
            return lambda y: (np.asarray(y, float) >= c).astype(float)
        m, s = self._numeric()
        gfun = numpy_lambdify(x, self.g)
        inc = self.increasing()
        lo, hi = float(self.support.inf), float(self.support.sup)

        def cdf(y):
            y = np.asarray(y, float)
            inside = (y > lo) & (y < hi)
            with np.errstate(all="ignore"):
                u = (
                    np.asarray(
                        gfun(
                            np.where(
                                inside,
                                y,
                                (lo + hi) / 2
                                if np.isfinite(lo + hi)
                                else (
                                    max(lo, -1e300) + 1 if np.isfinite(lo) else min(hi, 1e300) - 1
                                ),
                            )
                        ),
                        float,
                    )
                    - m
                ) / s
            p = _gaussian_cdf(u) if inc else 1 - _gaussian_cdf(u)
            return np.where(inside, p, np.where(y >= hi, 1.0, 0.0))

        return cdf

    def sample(self, size, seed=0):
        """``size`` exact samples of ``X_t`` (NumPy, seeded)."""
        if self.kind == "constant":
            return np.full(size, float(self.x0))
        m, s = self._numeric()
        hfun = numpy_lambdify(z, self.h)
        return np.asarray(hfun(m + s * np.random.default_rng(seed).standard_normal(size)), float)

    # -- display --------------------------------------------------------------------------------
    def _gaussian_side(self, names):
        """``(g(X_t) text, g(X_t) LaTeX)`` for the Gaussian variable ``Z_t = g(X_t)``."""
        state = sp.Symbol("X_t")
        return sp.sstr(self.g.subs(x, state)), sp.latex(self.g, symbol_names=names)

    def __repr__(self):
        """``Law(lognormal: log(X_t) ~ N(-t/2 + log(2), t), X_0 = 2, X_t = 2*exp(B_t - t/2))``."""
        if self.kind == "constant":
            return f"Law(constant: X_t = {self.x0})"
        text, _ = self._gaussian_side({})
        out = f"Law({self.kind}: {text} ~ N({self.z_mean}, {self.z_var}), X_0 = {self.x0}"
        if self.solution is not None:
            out += f", X_t = {self.solution}"
        return out + ")"

    def latex(self, mode="math"):
        r"""``\log{\left(X_{t} \right)} \sim \mathcal{N}\left(m, v\right)`` (and the pathwise
        solution when known), or ``X_{t} = x_0`` for a constant law.

        >>> print(Law("constant", sp.Integer(-1)).latex())
        X_{t} = -1
        """
        names = {x: "X_{t}"}
        if self.kind == "constant":
            return wrap_math(f"X_{{t}} = {sp.latex(self.x0)}", mode)
        _, g = self._gaussian_side(names)
        body = (
            rf"{g} \sim \mathcal{{N}}\left({sp.latex(self.z_mean)}, "
            rf"{sp.latex(self.z_var)}\right)"
        )
        if self.solution is not None:
            body += rf",\quad X_{{t}} = {sp.latex(self.solution)}"
        return wrap_math(body, mode)

    def _latex(self, printer=None):
        return self.latex()

    def _repr_latex_(self):
        return f"${self.latex()}$"

    def subs(self, *args, **kwargs):
        """Substitute parameter values (``x0`` included)."""
        f = lambda e: None if e is None else to_sympy(e).subs(*args, **kwargs)
        return Law(
            self.kind,
            f(self.x0),
            f(self.z_mean),
            f(self.z_var),
            f(self.h),
            f(self.g),
            self.support,
            f(self.solution),
            self.diffusion,
        )


def gaussian_moments(diffusion, z0):
    """Mean and variance of ``Z_t`` for ``dZ = (a + b Z) dt + s dB`` (a, b, s may depend on t).

    They solve ``m' = a + b m``, ``m(0) = z0`` and ``v' = 2 b v + s^2``, ``v(0) = 0`` (Itô's lemma
    on ``Z`` and ``Z^2``); solved by ``sympy.dsolve``.

    >>> th, s = sp.symbols("theta sigma", positive=True)
    >>> m, v = gaussian_moments(Diffusion(-th * z, s, z), sp.Symbol("z0"))
    >>> m, sp.simplify(v - s**2 * (1 - sp.exp(-2 * th * t)) / (2 * th))
    (z0*exp(-t*theta), 0)
    """
    if not diffusion.is_linear_gaussian():
        raise NoClosedFormError(
            f"{diffusion} is not linear Gaussian (drift a + bZ, volatility free of Z)"
        )
    v_ = diffusion.var
    drift = sp.expand(diffusion.drift)
    b = drift.coeff(v_, 1)
    a = drift.coeff(v_, 0)
    M, V = sp.Function("M"), sp.Function("V")
    # generator applied to z and z^2 gives the moment equations
    gen1 = diffusion.generator(v_)  # a + b z
    gen2 = diffusion.generator(v_**2)  # 2 z (a + b z) + s^2
    if tidy(gen1 - (a + b * v_)) != 0:
        raise NoClosedFormError(f"the generator of {diffusion} applied to z is {gen1}, not "
                                "a + b z: no closed-form moment equations")
    ode_m = sp.Eq(M(t).diff(t), gen1.subs(v_, M(t)))
    m = sp.dsolve(ode_m, M(t), ics={M(0): z0}).rhs
    # E[Z^2]' = E[gen2(Z)] is linear in E[Z], E[Z^2]; write it for V = E[Z^2] - m^2
    s2 = tidy(gen2 - 2 * v_ * (a + b * v_))
    ode_v = sp.Eq(V(t).diff(t), 2 * b * V(t) + s2)
    v = sp.dsolve(ode_v, V(t), ics={V(0): 0}).rhs
    return tidy(m), tidy(v)


def _support(h, var_set=sp.S.Reals):
    from sympy.calculus.util import function_range

    try:
        return function_range(h, z, var_set)
    except (NotImplementedError, ValueError, TypeError):
        return sp.S.Reals


def _affine_log_transforms(vol, v_, x0):
    """``[log(±(a x + b))]`` when the volatility is ``a x + b`` with ``b != 0`` and the sign of
    ``a x0 + b`` is known: Itô gives ``d(aX + b) = a (aX + b) dB`` for ``dX = (aX + b) dB``, a GBM
    (Hayou (TMLR 2023) Prop. 2; docs/theory.md §10.1)."""
    vol = sp.expand(vol)
    if not vol.is_polynomial(v_) or sp.Poly(vol, v_).degree() != 1 or vol.coeff(v_, 0) == 0:
        return []
    at = tidy(vol.subs(v_, x0))
    if at.is_positive:
        return [sp.log(vol)]
    if at.is_negative:
        return [sp.log(-vol)]
    return []


def solve_law(diffusion, x0, transforms=None):
    """The law of ``X_t`` for a scalar diffusion started at ``x0`` (see the module docstring).

    Tries ``Z = X`` and then each transform ``g`` (default ``log(x)`` for ``x0 > 0`` and
    ``log(-x)`` for ``x0 < 0``) until the diffusion of ``Z`` is linear Gaussian; raises
    :class:`NoClosedFormError` when none works.
    """
    x0 = to_sympy(x0)
    v_ = diffusion.var
    if diffusion.vol.subs(v_, x0) == 0 and tidy(diffusion.drift.subs(v_, x0)) == 0:
        return Law("constant", x0, diffusion=diffusion, solution=x0)
    candidates = [v_] + list(transforms or [])
    if transforms is None:
        if x0.is_positive:
            candidates.append(sp.log(v_))
        if x0.is_negative:
            candidates.append(sp.log(-v_))
        candidates += _affine_log_transforms(diffusion.vol, v_, x0)
    for g in candidates:
        try:
            zdiff = (
                diffusion.change_variable(g, z)
                if g != v_
                else Diffusion(
                    diffusion.drift.subs(v_, z), diffusion.vol.subs(v_, z), z, diffusion.time
                )
            )
        except NoClosedFormError:
            continue
        if not zdiff.is_linear_gaussian():
            continue
        z0 = tidy(g.subs(v_, x0))
        mean, var = gaussian_moments(zdiff, z0)
        h = invert(g, v_, z) if g != v_ else z
        gx = g.subs(v_, x)
        kind = (
            "gaussian"
            if g == v_
            else ("lognormal" if g in (sp.log(v_), sp.log(-v_)) else "transformed-gaussian")
        )
        solution = None
        if not zdiff.drift.has(z) and not zdiff.drift.has(t) and not zdiff.vol.has(t):
            solution = tidy(h.subs(z, z0 + zdiff.drift * t + zdiff.vol * B))
        return Law(kind, x0, mean, var, h, gx, _support(h), solution, diffusion)
    raise NoClosedFormError(
        f"no transform among {candidates} makes {diffusion} linear Gaussian; "
        "pass transforms=[g(x)] to try another"
    )


def check_locally_lipschitz(phi, gain=None, **params):
    """Raise InvalidInputError unless ``phi`` is locally Lipschitz on R (SDE well posed).

    Checks that ``phi`` has no jump at its breakpoints and that ``phi'`` stays finite on each
    smooth piece (at its ends and at the singularities SymPy finds).
    """

    act = sde_activation(phi, gain, **params)
    pieces = act.pieces
    for left, right in zip(pieces, pieces[1:]):
        a, b = sp.limit(left.expr, x, right.lo, "-"), sp.limit(right.expr, x, right.lo, "+")
        if tidy(a - b) != 0:
            raise InvalidInputError(
                f"{act.expr} jumps at x = {right.lo} ({a} -> {b}): the "
                "volatility is not locally Lipschitz there and the SDE "
                "dX = phi(X) dB has no unique solution theory"
            )
    from sympy.calculus.util import continuous_domain

    for p in pieces:
        d = sp.diff(p.expr, x)
        interval = sp.Interval.open(p.lo, p.hi)
        try:
            dom = continuous_domain(d, x, interval)
        except (NotImplementedError, ValueError, TypeError):
            dom = interval
        if dom != interval:
            raise InvalidInputError(
                f"phi'(x) = {d} is singular in {interval - dom}: phi is not locally Lipschitz there"
            )
        for end, side in ((p.lo, "+"), (p.hi, "-")):
            if end.is_finite:
                lim = sp.limit(d, x, end, side)
                if lim.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
                    raise InvalidInputError(
                        f"phi'(x) = {d} is unbounded near x = {end}: phi is not "
                        "locally Lipschitz there"
                    )
    return act


def width1_law(phi, x0, gain=None, **params):
    """Law of ``X_t`` for the width-1 limit ``dX = phi(X) dB``, ``X_0 = x0`` (a number or symbol
    assumed inside one piece of ``phi``); see the module docstring.

    >>> law = width1_law("relu", x0=sp.Symbol("x0", positive=True))
    >>> law.solution                      # Hayou (TMLR 2023) Prop. 3: GBM on {X_0 > 0}
    x0*exp(B_t - t/2)
    """
    act = check_locally_lipschitz(phi, gain, **params)
    x0 = _sym(x0, "initial value x0")
    pieces = act.pieces
    num = x0.is_number
    home = None
    for p in pieces:
        inside = ((p.lo < x0) if p.lo.is_finite else sp.true) & (
            (x0 < p.hi) if p.hi.is_finite else sp.true
        )
        if inside == sp.true:
            home = p
            break
    if home is None:
        at_break = [p for p in pieces[1:] if (p.lo - x0) == 0]
        if at_break and tidy(act.expr.subs(x, x0)) == 0:
            return Law("constant", x0, solution=x0)
        raise InvalidInputError(
            f"cannot place x0 = {x0} inside one smooth piece of {act.expr} "
            "(give a number, or a symbol with a sign assumption)"
        )
    vol = home.expr
    if tidy(vol.subs(x, x0)) == 0 and (num or not vol.has(x)):
        return Law("constant", x0, solution=x0)
    law = solve_law(Diffusion(0, vol), x0)
    inside = sp.Interval.open(home.lo, home.hi)
    if law.kind != "constant" and not law.support.is_subset(inside):
        raise NoClosedFormError(
            f"the law on the piece {inside} has support {law.support}: the "
            "process leaves the piece and the piecewise solution does not apply"
        )
    return law


def relu_mixture(x0=None):
    """Hayou (TMLR 2023) Prop. 3 as data: ``{X_0 > 0}``: GBM law; ``{X_0 <= 0}``: constant ``X_0``.

    >>> pos, neg = relu_mixture()
    >>> pos.kind, neg.kind, neg.solution
    ('lognormal', 'constant', x0)
    """
    pos = sp.Symbol("x0", positive=True)
    neg = sp.Symbol("x0", nonpositive=True)
    return width1_law("relu", pos), Law("constant", neg, solution=neg)


@dataclass(frozen=True)
class InverseSolution:
    """Result of :func:`solve_activation`: ``Z = g(X)``, ``X = G(Z)``, the activation ``phi``."""

    target: Diffusion
    ode_g: sp.Eq  # the ODE for g from Itô's lemma, phi eliminated
    ode_G: sp.Eq  # the linear ODE for the inverse G = g^{-1}
    G: sp.Expr  # x = G(z)
    g: sp.Expr  # z = g(x)
    phi: sp.Expr  # the activation, an expression in x

    def __repr__(self):
        return (
            f"InverseSolution(phi(x) = {self.phi}, z = g(x) = {self.g}, x = G(z) = {self.G}, "
            f"target {self.target!r})"
        )

    def latex(self, mode="math"):
        r"""The target SDE, ``g``, ``G`` and the activation ``\phi``, separated by ``\quad``.

        >>> print(ou_activation().latex().split(r",\quad ")[:2])
        ['dZ_{t} = - Z_{t} \\, dt + dB_{t}', 'g(x) = \\operatorname{erfi}^{-1}\\left(x\\right)']
        """
        parts = [
            self.target.latex(),
            f"g(x) = {sp.latex(self.g)}",
            f"G(z) = {sp.latex(self.G)}",
            rf"\phi(x) = {sp.latex(self.phi)}",
        ]
        return wrap_math(r",\quad ".join(parts), mode)

    def _latex(self, printer=None):
        return self.latex()

    def _repr_latex_(self):
        return f"${self.latex()}$"

    def law(self, z0):
        """Law of ``X_t = G(Z_t)`` when the target is linear Gaussian, ``Z_0 = z0``."""
        zlaw = solve_law(self.target, z0, transforms=[])
        return Law(
            "transformed-gaussian",
            tidy(self.G.subs(z, z0)),
            zlaw.z_mean,
            zlaw.z_var,
            self.G,
            self.g,
            _support(self.G),
            None,
            None,
        )


def solve_activation(drift, vol, var=z, at=0, scale=1):
    r"""Solve the inverse problem: the ``g`` and ``phi`` for which ``Z = g(X)``, ``dX = phi(X) dB``,
    has ``dZ = drift(Z) dt + vol(Z) dB``.  ``G = g^{-1}`` is normalized by ``G(at) = 0``,
    ``G'(at) = scale``.

    >>> th, k = sp.symbols("theta k", positive=True)
    >>> sol = solve_activation(-th * z, sp.sqrt(th), scale=2 / (k * sp.sqrt(sp.pi)))
    >>> sol.g
    erfiinv(k*x)
    >>> sol.phi
    2*sqrt(theta)*exp(erfiinv(k*x)**2)/(sqrt(pi)*k)
    """
    drift, vol = _sym(drift, "target drift"), _sym(vol, "target volatility")
    if drift.has(t) or vol.has(t):
        raise InvalidInputError(
            "the target must be time-homogeneous (no sk.t in drift or volatility)"
        )
    if vol == 0:
        raise InvalidInputError(
            "the target volatility is identically 0: dX = phi(X) dB cannot "
            "produce a deterministic Z"
        )
    if tidy(vol.subs(var, at)) == 0:
        raise InvalidInputError(
            f"the target volatility vanishes at the anchor z = {at}; choose "
            "another anchor (at=...) inside the state space"
        )
    target = Diffusion(drift.subs(var, z), vol.subs(var, z), z)
    # Itô's lemma with unknown g and phi:  dZ = (g'' phi^2 / 2) dt + g' phi dB
    gf, phif = sp.Function("g"), sp.Function("phi")
    ito = Diffusion(0, phif(x)).ito(gf(x))
    # match the volatility, g' phi = s(g)  =>  phi = s(g)/g'; substitute into the drift equation
    phi_sol = sp.solve(sp.Eq(ito.vol, target.vol.subs(z, gf(x))), phif(x))
    if not phi_sol:
        raise NoClosedFormError("cannot solve g' phi = s(g) for phi")
    ode_g = sp.Eq(tidy(ito.drift.subs(phif(x), phi_sol[0])), target.drift.subs(z, gf(x)))
    # hodograph: x = G(z), g' = 1/G', g'' = -G''/G'^3, g = z
    Gf = sp.Function("G")
    d1, d2 = gf(x).diff(x), gf(x).diff(x, 2)
    hodo = ode_g.lhs - ode_g.rhs
    hodo = hodo.subs(d2, -Gf(z).diff(z, 2) / Gf(z).diff(z) ** 3).subs(d1, 1 / Gf(z).diff(z))
    hodo = sp.numer(sp.together(hodo.subs(gf(x), z)))
    ode_G = sp.Eq(sp.collect(sp.expand(hodo), [Gf(z).diff(z, 2), Gf(z).diff(z)]), 0)
    # the ODE has no G term: u = G' solves a first-order linear (separable) ODE, then G = ∫ u
    uf = sp.Function("u")
    ode_u = ode_G.lhs.subs(Gf(z).diff(z, 2), uf(z).diff(z)).subs(Gf(z).diff(z), uf(z))
    try:
        u = sp.dsolve(sp.Eq(ode_u, 0), uf(z), hint="separable", simplify=False)
    except (NotImplementedError, ValueError) as exc:
        raise NoClosedFormError(f"SymPy cannot solve {ode_u} = 0 for u = G': {exc}") from None
    u = u[0] if isinstance(u, list) else u
    u = sp.solve(u, uf(z))[0] if not (u.lhs == uf(z)) else u.rhs
    c1 = [c for c in u.free_symbols if c.name.startswith("C")]
    u = tidy(u.subs({c: 1 for c in c1}))
    u0 = tidy(u.subs(z, at))
    if u0 != 0 and not u0.has(sp.zoo, sp.oo, sp.nan):
        u = tidy(sp.expand_power_exp(sp.expand(u / u0)))  # normalize u(at) = 1
    if u.has(sp.Integral):
        raise NoClosedFormError(
            f"SymPy leaves G' = {u} as an integral: no closed form for g or phi"
        )
    from sympy.integrals.manualintegrate import manualintegrate

    F = manualintegrate(u, z)
    if isinstance(F, sp.Piecewise):  # generic branch (e.g. exponent != -1)
        F = next(e for e, c in F.args if c != sp.false)
    if F.has(sp.Integral):
        raise NoClosedFormError(
            f"no closed-form antiderivative G = ∫ {u} dz found (SymPy's manual "
            "integration): no closed form for g or phi"
        )
    u_at = tidy(u.subs(z, at))
    if u_at == 0 or u_at.has(sp.zoo, sp.oo, sp.nan):
        raise InvalidInputError(f"G' is {u_at} at the anchor z = {at}; choose another anchor")
    G = tidy(scale / u_at * (F - F.subs(z, at)))
    g = invert(G, z, x)
    phi = tidy((target.vol * G.diff(z)).subs(z, g))
    return InverseSolution(target, ode_g, ode_G, G, g, phi)


def ou_activation(theta=1, k=1):
    r"""The inverse-erfi activation of Hayou (TMLR 2023) (Prop. 4), derived by :func:`solve_activation` for
    the OU target ``dZ = -theta Z dt + sqrt(theta) dB`` with ``Z = erfiinv(k X)``.

    >>> sol = ou_activation()
    >>> sol.phi
    2*exp(erfiinv(x)**2)/sqrt(pi)
    """
    theta, k = to_sympy(theta), to_sympy(k)
    if not (theta.is_positive and k.is_positive):
        raise InvalidInputError("theta and k must be positive")
    return solve_activation(-theta * z, sp.sqrt(theta), scale=2 / (k * sp.sqrt(sp.pi)))


__all__ = [
    "Law",
    "solve_law",
    "gaussian_moments",
    "width1_law",
    "relu_mixture",
    "solve_activation",
    "InverseSolution",
    "ou_activation",
    "check_locally_lipschitz",
    "z",
    "B",
]
