r"""A small symbolic Itô calculus on SymPy: diffusions, generators and Itô's lemma.

A scalar diffusion ``dX = mu(X, t) dt + s(X, t) dB`` is a :class:`Diffusion`; a vector one
``dX = mu dt + S dB`` (``S`` an ``n x m`` matrix, ``B`` an m-dimensional Brownian motion) is a
:class:`VectorDiffusion`.  Itô's lemma (e.g. Øksendal, *Stochastic Differential Equations*,
Thm 4.2.1)
for ``Z = g(X, t)``:

.. math::  dZ = \big(\partial_t g + \nabla g\cdot\mu
           + \tfrac12 \operatorname{tr}(S S^\top \nabla^2 g)\big)dt
           + \nabla g^\top S\, dB .

The volatility of a scalar ``Z`` driven by several Brownian motions is reported as the norm of the
row ``\nabla g^\top S`` (Lévy's characterization:
``\nabla g^\top S\,dB = \|\nabla g^\top S\|\,dW`` with
``W`` a one-dimensional Brownian motion).  The infinite-depth limit of a width-``n`` ResNet is
``dX = n^{-1/2}\|\phi(X)\| dB`` (Hayou (TMLR 2023), Thm 1; docs/theory.md §6): :func:`resnet_sde`.

>>> import sympy as sp
>>> from symkernel.core.symbols import x, t
>>> mu, s = sp.symbols("mu sigma", positive=True)
>>> gbm = Diffusion(mu * x, s * x)
>>> gbm.ito(sp.log(x))                        # d log X for geometric Brownian motion
Ito(drift=mu - sigma**2/2, vol=sigma)
>>> Diffusion(0, 1).ito(x**2)                 # X = B: d(B^2) = dt + 2B dB
Ito(drift=1, vol=2*x)
"""

from typing import NamedTuple

import sympy as sp

from symkernel.core.activations import Activation, as_activation
from symkernel.core.display import wrap_math
from symkernel.core.parsing import to_sympy

from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.core.symbols import t, x
from .special import erfiinv


class Ito(NamedTuple):
    """Drift and volatility of a transformed process, as expressions in the old variable(s)."""

    drift: sp.Expr
    vol: sp.Expr


def tidy(expr):
    """Simplify a drift or volatility (``simplify`` then ``powsimp``); Piecewise kept as it is."""
    expr = to_sympy(expr)
    if expr.has(sp.Piecewise, sp.Max, sp.Min, sp.Heaviside, sp.Abs):
        return sp.piecewise_fold(expr)
    return sp.powsimp(sp.simplify(expr))


def _sym(value, name):
    if isinstance(value, str):
        raise InvalidInputError(f"the {name} must be a SymPy expression or a number, not a string")
    try:
        out = to_sympy(value)
    except (sp.SympifyError, InvalidInputError):
        raise InvalidInputError(
            f"the {name} must be a SymPy expression or a number, got {type(value).__name__}"
        ) from None
    if not isinstance(out, sp.Expr):
        raise InvalidInputError(f"the {name} must be a SymPy expression, got {out!r}")
    if out.has(sp.I, sp.zoo, sp.nan):
        raise InvalidInputError(f"the {name} {out} is not real")
    return out


def _term(coeff, differential, names):
    """``(negative, body)`` of ``coeff * differential`` in LaTeX, or None when ``coeff`` is 0."""
    if isinstance(coeff, sp.MatrixBase):
        if coeff.is_zero_matrix:
            return None
        return False, rf"{sp.latex(coeff, symbol_names=names)} \, {differential}"
    coeff = to_sympy(coeff)
    if coeff == 0:
        return None
    neg = coeff.could_extract_minus_sign() and not coeff.is_Add
    body = -coeff if neg else coeff
    if body == 1:
        return neg, differential
    text = sp.latex(body, symbol_names=names)
    if body.is_Add:
        text = rf"\left({text}\right)"
    return neg, rf"{text} \, {differential}"


def sde_latex(lhs, drift, vol, dt="dt", noise="dB_{t}", names=None):
    r"""``lhs = drift \, dt + vol \, dB_t`` in LaTeX (zero terms dropped, signs folded);
    ``names`` maps symbols to their LaTeX (as ``sympy.latex``'s ``symbol_names``).

    >>> sde_latex("dX_{t}", -x, 1)
    'dX_{t} = - x \\, dt + dB_{t}'
    """
    names = names or {}
    terms = [tm for tm in (_term(drift, dt, names), _term(vol, noise, names)) if tm is not None]
    if not terms:
        return f"{lhs} = 0"
    out = ""
    for i, (neg, body) in enumerate(terms):
        out += ("- " if neg else "") + body if i == 0 else (" - " if neg else " + ") + body
    return f"{lhs} = {out}"


def process_symbol(var):
    """The symbol shown for the process of a state variable: ``x -> X_t``, ``z -> Z_t``; a longer
    name (``x_1``) is kept as it is."""
    name = var.name
    return sp.Symbol(f"{name.upper()}_t") if len(name) == 1 else var


class Diffusion:
    """The scalar diffusion ``dX = drift dt + vol dB`` in the variable ``var`` (default ``sk.x``).

    ``drift`` and ``vol`` are SymPy expressions in ``var`` and possibly the time ``sk.t``.
    Only ``vol**2`` enters the law (``-B`` is again a Brownian motion).
    """

    def __init__(self, drift, vol, var=x, time=t):
        if not isinstance(var, sp.Symbol):
            raise InvalidInputError(f"the state variable must be a SymPy Symbol, got {var!r}")
        self.drift, self.vol = _sym(drift, "drift"), _sym(vol, "volatility")
        self.var, self.time = var, time

    def __repr__(self):
        return f"Diffusion(drift={self.drift}, vol={self.vol}, var={self.var})"

    def latex(self, mode="math"):
        r"""``dX_t = \mu \, dt + s \, dB_t`` with the state written ``X_t`` (``mode`` as in
        :func:`symkernel.present.latex.latex`).

        >>> mu, s = sp.symbols("mu sigma", positive=True)
        >>> print(Diffusion(mu * x, s * x).latex())
        dX_{t} = \mu X_{t} \, dt + \sigma X_{t} \, dB_{t}
        """
        state = sp.latex(process_symbol(self.var))
        body = sde_latex(f"d{state}", self.drift, self.vol, names={self.var: state})
        return wrap_math(body, mode)

    def _latex(self, printer=None):
        return self.latex()

    def _repr_latex_(self):
        return f"${self.latex()}$"

    def __eq__(self, other):
        return (
            isinstance(other, Diffusion)
            and self.var == other.var
            and tidy(self.drift - other.drift) == 0
            and tidy(self.vol**2 - other.vol**2) == 0
        )

    __hash__ = None

    def generator(self, g):
        r"""``(\partial_t + L) g = \partial_t g + mu g' + (1/2) s^2 g''`` for ``g(var, t)``."""
        g = _sym(g, "function g")
        v = self.var
        return tidy(g.diff(self.time) + self.drift * g.diff(v) + self.vol**2 * g.diff(v, 2) / 2)

    def ito(self, g):
        """Itô's lemma for ``Z = g(X, t)``: its drift and volatility as expressions in ``var``."""
        g = _sym(g, "function g")
        return Ito(self.generator(g), tidy(g.diff(self.var) * self.vol))

    def change_variable(self, g, new_var, inverse=None):
        """The diffusion of ``Z = g(X)`` written in ``new_var`` (needs ``X = inverse(Z)``).

        ``inverse`` is an expression in ``new_var``; without it, ``g`` is inverted by
        :func:`invert` (raises :class:`NoClosedFormError` when that fails).
        """
        g = _sym(g, "function g")
        if inverse is None:
            inverse = invert(g, self.var, new_var)
        drift, vol = self.ito(g)
        back = {self.var: inverse}
        return Diffusion(tidy(drift.subs(back)), tidy(vol.subs(back)), new_var, self.time)

    def is_linear_gaussian(self):
        """True when ``drift = a(t) + b(t) X`` and ``vol`` does not depend on ``X`` (OU-type)."""
        v = self.var
        return (
            not self.vol.has(v) and sp.Poly(self.drift, v).degree() <= 1
            if self.drift.is_polynomial(v)
            else False
        )


class VectorDiffusion:
    """``dX = drift dt + vol dB``, ``X`` = ``variables`` (n symbols), ``vol`` an n x m Matrix."""

    def __init__(self, drift, vol, variables, time=t):
        self.variables = tuple(variables)
        n = len(self.variables)
        if n == 0:
            raise InvalidInputError("a vector diffusion needs at least one variable")
        self.drift = (
            sp.Matrix(drift)
            if not isinstance(drift, (int, sp.Integer)) or drift != 0
            else sp.zeros(n, 1)
        )
        self.vol = sp.Matrix(vol)
        if self.drift.shape != (n, 1) or self.vol.shape[0] != n:
            raise InvalidInputError(
                f"drift must be {n} x 1 and vol {n} x m; got {self.drift.shape} "
                f"and {self.vol.shape}"
            )
        self.time = time

    @property
    def dim(self):
        return len(self.variables)

    def __repr__(self):
        return f"VectorDiffusion(dim={self.dim}, drift={list(self.drift)}, vol={self.vol.tolist()})"

    def latex(self, mode="math"):
        r"""``d(x_1, ..., x_n)^T = \mu \, dt + S \, d\mathbf{B}_t`` with column matrices.

        >>> print(VectorDiffusion(0, sp.eye(2), sp.symbols("x_1 x_2")).latex().split(" = ")[0])
        d\left[\begin{matrix}x_{1}\\x_{2}\end{matrix}\right]
        """
        lhs = "d" + sp.latex(sp.Matrix(self.variables))
        return wrap_math(sde_latex(lhs, self.drift, self.vol, noise=r"d\mathbf{B}_{t}"), mode)

    def _latex(self, printer=None):
        return self.latex()

    def _repr_latex_(self):
        return f"${self.latex()}$"

    def generator(self, g):
        r"""``(\partial_t + L) g = \partial_t g + \nabla g\cdot\mu + tr(S S^T \nabla^2 g)/2``."""
        return self.ito(g).drift

    def ito(self, g, simplify=True):
        """Itô's lemma for scalar ``Z = g(X, t)``: (drift, volatility norm) in the variables."""
        g = _sym(g, "function g")
        grad = sp.Matrix([g.diff(v) for v in self.variables])
        hess = sp.hessian(g, self.variables)
        cov = self.vol * self.vol.T
        drift = (
            g.diff(self.time) + (grad.T * self.drift)[0] + sum(cov.multiply_elementwise(hess)) / 2
        )
        row = grad.T * self.vol
        vol = sp.sqrt(sum(e**2 for e in row))
        return Ito(tidy(drift), tidy(vol)) if simplify else Ito(drift, vol)


def sde_activation(phi, gain=None, **params):
    """The activation ``phi`` of an SDE as an Activation: a registry name, an Activation or an
    expression in ``sk.x`` (or a constant), with ``gain`` and registry ``params`` as
    :func:`~symkernel.core.activations.as_activation`."""
    if not isinstance(phi, (Activation, str)):
        phi = _sym(phi, "activation")
        if phi.free_symbols and x not in phi.free_symbols and not phi.is_constant():
            raise InvalidInputError(f"the activation {phi} must be an expression in sk.x")
    return as_activation(phi, gain, **params)


def activation_expr(phi, gain=None, **params):
    """:func:`sde_activation` as a SymPy expression in ``sk.x``."""
    return sde_activation(phi, gain, **params).expr


#: Largest width :func:`resnet_sde` builds symbolically (an n x n matrix of expressions).
MAX_SYMBOLIC_WIDTH = 128


def check_width(n):
    """A positive integer width, or InvalidInputError."""
    if isinstance(n, bool) or not isinstance(n, (int, sp.Integer)) or int(n) < 1:
        raise InvalidInputError(f"the width n must be a positive integer, got {n!r}")
    return int(n)


def state_symbols(n):
    """Real symbols ``x_1, ..., x_n`` for the coordinates of a width-n process."""
    return sp.symbols(f"x_1:{check_width(n) + 1}", real=True)


def resnet_sde(phi, n=1, gain=None, **params):
    r"""The infinite-depth limit ``dX = n^{-1/2}\|\phi(X)\| dB`` of a width-``n`` ResNet (Hayou (TMLR 2023)).

    Width 1 gives the scalar :class:`Diffusion` ``dX = \phi(X) dB`` (same law as ``|\phi(X)| dB``);
    width ``n > 1`` a :class:`VectorDiffusion` in :func:`state_symbols` ``(n)``.

    >>> resnet_sde("relu")
    Diffusion(drift=0, vol=Max(0, x), var=x)
    >>> X = resnet_sde("identity", 2)
    >>> x1, x2 = X.variables
    >>> X.ito(sp.log(x1**2 + x2**2) / 2)        # d log||X||, width 2: drift 1/2 - 1/n = 0
    Ito(drift=0, vol=sqrt(2)/2)
    """
    expr = activation_expr(phi, gain, **params)
    n = check_width(n)
    if n > MAX_SYMBOLIC_WIDTH:
        raise InvalidInputError(
            f"resnet_sde: width n={n} is too large for a symbolic SDE (its volatility is an n x n "
            f"matrix of expressions); n may be at most {MAX_SYMBOLIC_WIDTH}. For wide networks use "
            f"sk.sde.norm_dynamics (any n, symbolic) or sk.sde.simulate_resnet (numeric)")
    if n == 1:
        return Diffusion(0, expr)
    xs = state_symbols(n)
    norm = sp.sqrt(sum(expr.subs(x, xi) ** 2 for xi in xs))
    return VectorDiffusion(sp.zeros(n, 1), norm / sp.sqrt(n) * sp.eye(n), xs)


def invert(g, var, new_var):
    """Solve ``new_var = g(var)`` for ``var`` by peeling affine layers and invertible functions.

    Knows every SymPy function with an ``inverse()`` method (exp/log, erf, ...) plus ``erfi``
    (inverse :class:`~symkernel.theory.sde.special.erfiinv`), odd powers and non-integer powers (principal
    branch: the base is taken positive, as for a GBM state); raises
    :class:`NoClosedFormError` otherwise.

    >>> z = sp.Symbol("z", real=True)
    >>> invert(3 * sp.erfi(2 * x) + 1, x, z)
    erfiinv(z/3 - 1/3)/2
    """
    target = new_var
    expr = to_sympy(g)
    for _ in range(50):
        if expr == var:
            return tidy(target)
        if not expr.has(var):
            break
        if expr.is_Add:
            const, rest = expr.as_independent(var, as_Add=True)
            if const != 0:
                expr, target = rest, target - const
                continue
        if expr.is_Mul:
            const, rest = expr.as_independent(var, as_Add=False)
            if const != 1:
                if const == 0:
                    break
                expr, target = rest, target / const
                continue
        if expr.is_Pow and not expr.exp.has(var) and not expr.base.is_number:
            e = expr.exp
            if e.is_integer and e.is_odd:
                expr, target = expr.base, sp.real_root(target, e)
                continue
            if e.is_integer is not True:  # non-integer power: the base is positive on its domain
                expr, target = expr.base, target ** (1 / e)
                continue
            break
        if isinstance(expr, sp.erfi):
            expr, target = expr.args[0], erfiinv(target)
            continue
        if isinstance(expr, sp.Function) and len(expr.args) == 1:
            try:
                inv = expr.inverse()
            except (AttributeError, NotImplementedError, TypeError):
                break
            expr, target = expr.args[0], inv(target)
            continue
        break
    raise NoClosedFormError(f"cannot invert z = {g} for {var} in closed form")


__all__ = [
    "Diffusion",
    "VectorDiffusion",
    "Ito",
    "resnet_sde",
    "invert",
    "tidy",
    "state_symbols",
    "check_width",
    "MAX_SYMBOLIC_WIDTH",
    "sde_latex",
    "process_symbol",
]
