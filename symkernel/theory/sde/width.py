r"""General width: the dynamics of ``‖φ(X_t)‖`` and ``log‖φ(X_t)‖`` for ``dX = n^{-1/2}‖φ(X)‖ dB``.

Derivation (Hayou (TMLR 2023) §4; docs/theory.md §6), for symbolic width ``n``.  Write ``h = φ²`` and
``S = ‖φ(X)‖² = Σ_i h(X_i)``.  Every coordinate has ``dX_i = (S/n)^{1/2} dB_i``, so Itô's lemma
gives

.. math::  dS = \tfrac{S}{2n} \textstyle\sum_i h''(X_i)\,dt
           + (S/n)^{1/2}\big(\sum_i h'(X_i)^2\big)^{1/2} dW

(``W`` a one-dimensional Brownian motion, Lévy).  This needs ``h`` to be C¹ with a piecewise-C²
derivative (no local-time term at the breakpoints): true for ReLU, leaky ReLU, the identity
(:func:`norm_dynamics` checks it).  On each smooth piece ``j`` of φ the sums become ``Σ q(X_i)``
over the ``k_j`` coordinates in that piece; when ``h''`` is constant and ``h'^2 = c h`` there
(φ linear through 0 on the piece) they reduce to counts ``k_j`` and partial norms ``S_j``.
Then Itô for ``F(S) = log S / 2`` (or ``S^{1/2}``) gives the drift and volatility.  Results:

* identity: ``d log‖X‖ = (1/2 − 1/n) dt + n^{-1/2} dW``;
* ReLU: ``d log‖φ(X)‖ = (k − 2)/(2n) dt + n^{-1/2} dW``, ``k`` the number of active coordinates.

The *logarithmic growth factor* is the mean drift.  :func:`growth_factor` evaluates it for
coordinates whose signs are i.i.d. symmetric (``X_0 ~ N(0, σ² I)``), conditioned on ``φ(X_0) ≠ 0``;
for ReLU this is ``1/(4(1 − 2^{-n})) − 1/n``: negative for ``n ≤ 3``, positive for ``n ≥ 4``.

>>> import sympy as sp
>>> from symkernel.core.symbols import n
>>> norm_dynamics("identity").drift
1/2 - 1/n
>>> d = norm_dynamics("relu")
>>> d.drift, d.vol
((k - 2)/(2*n), 1/sqrt(n))
>>> q = growth_factor("relu")
>>> sp.simplify(q.expr - (1 / (4 * (1 - 2**-n)) - 1 / n)), q.expr.subs(n, 3), q.expr.subs(n, 4)
(0, -1/21, 1/60)
>>> sign_change("relu")
4
"""

from dataclasses import dataclass, field

import sympy as sp

from symkernel.core.display import wrap_math
from symkernel.core.parsing import to_sympy

from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.gaussian.exact import Phi
from symkernel.core.quantity import Quantity
from symkernel.core.symbols import n as n_sym
from symkernel.core.symbols import x
from .ito import Diffusion, check_width, sde_activation, sde_latex, tidy
from .laws import solve_law

#: number of coordinates where φ is not identically 0 (when exactly one piece of φ is nonzero)
k_active = sp.Symbol("k", integer=True, nonnegative=True)


@dataclass(frozen=True)
class NormDynamics:
    """``d F(‖φ(X)‖) = drift dt + vol dW`` in terms of the width ``n``, counts and partial norms.

    ``counts[j]``/``norms[j]`` are the symbols of the number of coordinates in ``pieces[j]`` and
    of ``Σ φ(X_i)²`` over them; ``S`` is ``‖φ(X)‖²``.
    """

    activation: object
    quantity: str
    drift: sp.Expr
    vol: sp.Expr
    pieces: tuple
    counts: tuple
    norms: tuple
    S: sp.Symbol
    n: sp.Expr
    notes: tuple = field(default=())

    # -- display --------------------------------------------------------------------------------
    def _lhs(self, latex):
        if latex:
            return r"d \log\|\phi(X_{t})\|" if self.quantity == "log" else r"d \|\phi(X_{t})\|"
        return "d log‖φ(X_t)‖" if self.quantity == "log" else "d ‖φ(X_t)‖"

    def __repr__(self):
        """``NormDynamics(relu: d log‖φ(X_t)‖ = (k - 2)/(2*n) dt + 1/sqrt(n) dW_t; notes)``."""
        name = getattr(self.activation, "name", self.activation)
        notes = "".join(f"; {n}" for n in self.notes)
        return (
            f"NormDynamics({name}: {self._lhs(False)} = ({self.drift}) dt + ({self.vol}) dW_t"
            f"{notes})"
        )

    def latex(self, mode="math"):
        r"""``d \log\|\phi(X_t)\| = drift \, dt + vol \, dW_t`` (``W`` a 1-d Brownian motion).

        >>> print(norm_dynamics("identity").latex().split(" = ")[1])
        \left(\frac{1}{2} - \frac{1}{n}\right) \, dt + \frac{1}{\sqrt{n}} \, dW_{t}
        """

        return wrap_math(sde_latex(self._lhs(True), self.drift, self.vol, noise="dW_{t}"), mode)

    def _latex(self, printer=None):
        return self.latex()

    def _repr_latex_(self):
        return f"${self.latex()}$"

    def depends_only_on_counts(self):
        syms = self.drift.free_symbols | self.vol.free_symbols
        return not (syms & (set(self.norms) | {self.S}))


def _check_c1(act):
    """h = φ² must be C¹ across breakpoints (else Itô–Tanaka adds local-time terms)."""
    for left, right in zip(act.pieces, act.pieces[1:]):
        b = right.lo
        for order in (0, 1):
            a = sp.limit(sp.diff(left.expr**2, x, order), x, b, "-")
            c = sp.limit(sp.diff(right.expr**2, x, order), x, b, "+")
            if tidy(a - c) != 0:
                raise NoClosedFormError(
                    f"phi^2 for phi = {act.expr} is not C^1 at x = {b}: Itô's lemma for ‖phi(X)‖ "
                    "picks up local-time terms there (Itô–Tanaka); no drift formula in this form"
                )


def norm_dynamics(phi, n=n_sym, of="log", gain=None, **params):
    r"""Drift and volatility of ``log‖φ(X_t)‖`` (``of="log"``) or ``‖φ(X_t)‖`` (``of="norm"``).

    ``n`` is the width (the symbol ``sk.n`` by default, or a positive integer); ``phi``,
    ``gain`` and registry ``params`` as :func:`~symkernel.theory.sde.ito.sde_activation`.
    """
    act = sde_activation(phi, gain, **params)
    if not (n == n_sym or isinstance(n, sp.Symbol)):
        n = check_width(n)
    if of not in ("log", "norm"):
        raise InvalidInputError(f"of must be 'log' or 'norm', got {of!r}")
    _check_c1(act)
    pieces = act.pieces
    m = len(pieces)
    counts = sp.symbols(f"k_1:{m + 1}", integer=True, nonnegative=True) if m > 1 else (n,)
    norms = sp.symbols(f"S_1:{m + 1}", nonnegative=True)
    S = sp.Symbol("S", positive=True)
    sum_q1, sum_q2, total, notes = 0, 0, 0, []
    for j, p in enumerate(pieces):
        h = p.expr**2
        if tidy(h) == 0:
            continue
        q1, q2 = tidy(sp.diff(h, x, 2)), tidy(sp.diff(h, x) ** 2)
        total += norms[j]
        if q1.has(x):
            raise NoClosedFormError(
                f"(phi^2)'' = {q1} on {p.lo} < x < {p.hi} is not constant: the "
                "drift depends on the positions, not only on counts and norms"
            )
        sum_q1 += q1 * counts[j]
        ratio = tidy(q2 / h)
        if ratio.has(x):
            raise NoClosedFormError(
                f"(phi^2)'^2 / phi^2 = {ratio} on {p.lo} < x < {p.hi} is not "
                "constant: no reduction to partial norms"
            )
        sum_q2 += ratio * norms[j]
    if total == 0:
        raise InvalidInputError(f"phi = {act.expr} is identically 0: the process is constant")
    nonzero = [j for j, p in enumerate(pieces) if tidy(p.expr**2) != 0]
    # S = sum of the partial norms; when one piece carries all of S, S_j = S
    subs = {norms[nonzero[0]]: S} if len(nonzero) == 1 else {}
    if len(nonzero) == 1 and m > 1:
        subs[counts[nonzero[0]]] = k_active
        notes.append(
            f"k = number of coordinates with {pieces[nonzero[0]].lo} < X_i < "
            f"{pieces[nonzero[0]].hi}"
        )
    sum_q1, sum_q2 = to_sympy(sum_q1).subs(subs), to_sympy(sum_q2).subs(subs)
    # dS = (S/(2n)) sum q1 dt + sqrt(S/n) sqrt(sum q2) dW, then Itô for F(S)
    dS = Diffusion(S / (2 * n) * sum_q1, sp.sqrt(S / n) * sp.sqrt(sum_q2), var=S)
    F = sp.log(S) / 2 if of == "log" else sp.sqrt(S)
    drift, vol = dS.ito(F)
    if len(nonzero) > 1:
        drift, vol = (
            drift.subs(S, sum(norms[j] for j in nonzero)),
            vol.subs(S, sum(norms[j] for j in nonzero)),
        )
    drift, vol = sp.factor(tidy(drift)), tidy(vol)
    drift = _nice(drift, n)
    return NormDynamics(
        act, of, drift, vol, pieces, tuple(counts), tuple(norms), S, n, tuple(notes)
    )


def _nice(expr, n):
    """Prefer ``1/2 - 1/n`` to ``(n - 2)/(2n)`` when the expression is free of counts."""
    if expr.free_symbols <= {n}:
        return sp.expand(expr)
    return expr


def norm_law(phi="identity", n=n_sym, r0=sp.Symbol("r0", positive=True), gain=None, **params):
    r"""Law of ``R_t = ‖φ(X_t)‖`` when its dynamics close (``dR = a R dt + b R dW``, a GBM).

    Identity: ``dR = (n−1)/(2n) R dt + n^{-1/2} R dW``, so
    ``log R_t ~ N(log r0 + (1/2 − 1/n) t, t/n)``
    and ``E R_t² = r0² e^t`` (Hayou (TMLR 2023) Prop. 9's setting; docs/theory.md §6).

    >>> from symkernel.core.symbols import x, t
    >>> norm_law().moment(x**2)
    r0**2*exp(t)
    """

    dyn = norm_dynamics(phi, n, of="norm", gain=gain, **params)
    r = sp.Symbol("r", positive=True)
    drift = tidy(dyn.drift.subs(dyn.S, r**2))
    vol = tidy(dyn.vol.subs(dyn.S, r**2))
    if drift.free_symbols - {r, dyn.n} or vol.free_symbols - {r, dyn.n}:
        raise NoClosedFormError(
            f"d‖phi(X)‖ = {drift} dt + {vol} dW depends on more than the norm: no closed-form law"
        )
    law = solve_law(Diffusion(drift.subs(r, x), vol.subs(r, x)), r0)
    return law


def _count_probabilities(act, scale=1):
    """P(X_0 coordinate in piece j) for X_0 ~ N(0, scale^2)."""

    return [tidy(Phi(p.hi / scale) - Phi(p.lo / scale)) for p in act.pieces]


def growth_factor(phi, n=n_sym, scale=1, condition=True, gain=None, **params):
    r"""Mean logarithmic growth rate ``E[drift of log‖φ(X)‖]`` at ``X_0 ~ N(0, scale² I_n)``.

    The drift must be affine in the counts (ReLU, identity, any φ vanishing or linear through 0
    on each piece).  It is defined on the event ``A = {φ(X_0) ≠ 0}`` only (off it the network
    has collapsed and ``log‖φ‖ = −∞``).  ``condition=True``: ``E[drift | A]``;
    ``condition=False``: ``E[drift 1_A]``, the collapse event contributing 0 (Hayou (TMLR 2023)
    Prop. 10's convention, as :func:`~symkernel.theory.sde.collapse.piecewise_linear_growth`;
    docs/theory.md §31).  Returns a :class:`Quantity` in
    ``n`` (or a number for integer ``n``).  The counts follow a multinomial law, so
    ``E[k_j 1_A] = n p_j`` for a nonzero piece, ``n p_j (1 − p_0^{n−1})`` for a piece where φ
    vanishes, and ``E[1_A] = 1 − p_0^n`` (``p_0`` the mass of the pieces where φ vanishes).

    >>> growth_factor("relu", 3, condition=False).expr    # sum_k C(3,k)/8 (k-2)/6 over k >= 1
    -1/24
    """
    dyn = norm_dynamics(phi, n if n != n_sym else n_sym, gain=gain, **params)
    if not dyn.depends_only_on_counts():
        raise NoClosedFormError(
            f"the drift {dyn.drift} depends on partial norms, not only on counts: "
            "estimate its mean by simulation (sde.checks.growth_check)"
        )
    drift = sp.expand(dyn.drift)
    act = dyn.activation
    probs = _count_probabilities(act, to_sympy(scale))
    nn = dyn.n
    zero = [j for j, p in enumerate(act.pieces) if tidy(p.expr**2) == 0]
    p0 = sum(probs[j] for j in zero) if zero else sp.S.Zero
    pA = 1 - p0**nn   # P(A): the drift is defined on A only, and counted 0 off it
    count_syms = {c: j for j, c in enumerate(dyn.counts) if c != nn}
    if k_active in drift.free_symbols:
        nonzero = [j for j in range(len(act.pieces)) if j not in zero]
        count_syms = {k_active: nonzero[0]}
    poly = sp.Poly(drift, *count_syms) if count_syms else None
    if poly is not None and poly.total_degree() > 1:
        raise NoClosedFormError(f"the drift {drift} is not affine in the counts")
    const = drift.subs({c: 0 for c in count_syms})
    mean = const * pA
    for c, j in count_syms.items():
        coef = drift.coeff(c)
        # E[k_j 1_A]: off A every coordinate is in a zero piece, E[k_j 1_{A^c}] = n p_j p0^(n-1)
        e_k = nn * probs[j] if j not in zero else nn * probs[j] * (1 - p0 ** (nn - 1))
        mean += coef * e_k
    value = tidy(mean / pA if condition else mean)
    if value.is_rational_function(nn):
        value = sp.expand(value)
    cond = "conditioned on phi(X_0) != 0" if condition else "unconditioned"
    return Quantity(
        value,
        r"\bar\mu_{\log\|\phi\|}",
        f"exact: Itô drift of log‖phi(X)‖ averaged over X_0 ~ N(0, {scale}^2 I_n), {cond}",
        params=(("phi", act.expr), ("n", nn)),
    )


def sign_change(phi, n_max=64, condition=True, gain=None, **params):
    """The smallest width ``n ≤ n_max`` from which the growth factor stays positive (None if none).

    >>> sign_change("identity")          # 1/2 - 1/n > 0 from n = 3
    3
    """
    q = growth_factor(phi, condition=condition, gain=gain, **params)
    values = [q.expr.subs(n_sym, m) for m in range(1, n_max + 1)]
    for m in range(1, n_max + 1):
        if all(sp.N(v) > 0 for v in values[m - 1 :]):
            return m
    return None


__all__ = ["NormDynamics", "norm_dynamics", "norm_law", "growth_factor", "sign_change", "k_active"]
