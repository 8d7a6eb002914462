r"""Isometry strength ``beta_sigma`` (Joudaki, Daneshmand & Bach (NeurIPS 2023), Definition 3).

.. math:: \beta_\sigma = 2 - \frac{c_1^2}{\sum_{k \ge 1} c_k^2} = 2 - \frac{c_1^2}{E[\sigma^2] - c_0^2}
          \in [1, 2],

equal to 1 exactly for affine sigma.  Exact whenever ``c_0``, ``c_1`` and ``E sigma^2`` are (also
with a symbolic gain); otherwise computed in Arb ball arithmetic from the enclosures of ``c_0``,
``c_1`` and ``E sigma^2`` (certified when all three are), with more working digits where
``E sigma^2 - c_0^2`` cancels.

>>> import symkernel as sk
>>> sk.isometry_strength("relu").expr
(-4 + 3*pi)/(2*(-1 + pi))
>>> sk.isometry_strength("exp", gain=sk.alpha).expr
-(alpha**2 - 2*exp(alpha**2) + 2)/(exp(alpha**2) - 1)
"""
from functools import lru_cache

import numpy as np
import sympy as sp

from symkernel.numerics import decimal_value, serialized
from symkernel.core.activations import as_activation
from symkernel.core.mp_eval import mp_lambdify
from symkernel.core.progress import progress as show_progress
from symkernel.errors import InvalidInputError
from symkernel.gaussian.expectation import (
    EXACT_PROVENANCE, check_square_integrable, pieces_map, quantity_of_pieces,
)
from .hermite import hermite_coefficient
from symkernel.numerics.combine import combine
from symkernel.core.quantity import Quantity
from symkernel.core.symbols import alpha


@lru_cache(maxsize=512)
def _beta_form(expr):
    """A compact form of beta: simplify, then prefer the form with fewer operations (cached per
    expression: simplify of beta can take a second)."""
    if sp.count_ops(expr) >= 200:
        return expr
    candidates = [sp.simplify(expr), sp.factor(sp.together(expr))]
    return min(candidates, key=sp.count_ops)


def beta_from_moments(c0, c1, m2, act=None):
    """``2 - c_1^2/(E sigma^2 - c_0^2)`` for numbers or Arb balls (InvalidInputError when the
    variance is not positive: a constant activation)."""
    variance = m2 - c0 * c0
    if not variance > 0:
        what = f" {act.expr}" if act is not None else ""
        raise InvalidInputError(f"beta is undefined for the constant activation{what} "
                                "(E[sigma^2] - c_0^2 is not positive)")
    return 2 - c1 * c1 / variance


@serialized
def isometry_strength(act, gain=None, **params):
    r"""``beta_sigma`` of an activation as a :class:`~symkernel.Quantity` (see module docstring);
    ``act``, ``gain`` and registry ``params`` as :func:`~symkernel.core.activations.as_activation`."""
    act = as_activation(act, gain, **params)
    check_square_integrable(act)
    c0 = hermite_coefficient(act, 0)
    c1 = hermite_coefficient(act, 1)
    m2 = quantity_of_pieces(pieces_map(act, lambda e: e**2), r"\mathbb{E}[\sigma^2]")
    params = (("sigma", act.expr),)
    if c0.exact and c1.exact and m2.exact:
        variance = sp.expand(m2.expr - c0.expr**2)
        if variance == 0 or (variance.is_number and sp.N(variance, 50) == 0):
            raise InvalidInputError(f"beta is undefined for the constant activation {act.expr}")
        beta = _beta_form(2 - c1.expr**2 / variance)
        return Quantity(beta, r"\beta_{\sigma}", EXACT_PROVENANCE, params=params)

    def beta_of(b0, b1, b2):
        return beta_from_moments(b0, b1, b2, act)

    sources = [c0.result, c1.result, m2.result]
    kinds = {q.kind for q in (c0, c1, m2)}
    kind = "certified" if kinds <= {"exact", "certified"} else "estimated"
    return Quantity(None, r"\beta_{\sigma}",
                    f"{kind}: 2 - c_1^2/(E sigma^2 - c_0^2) in Arb ball arithmetic from "
                    f"c_0 ({c0.kind}), c_1 ({c1.kind}), E sigma^2 ({m2.kind})",
                    lambda dps: combine(beta_of, sources, dps, "isometry strength"), params)


def strength_against_gain(activations, gains=None, *, dps=15, progress=None):
    """``beta_sigma(alpha)`` of each activation on a grid of gains (default 12 gains in
    [0.25, 3]; Joudaki, Daneshmand & Bach (NeurIPS 2023), Figure B.1):
    ``{name: dict(gains, beta, method, expr)}``, ``method`` ``'exact'`` (the closed form in
    alpha, evaluated) or ``'numeric'`` (the Quantity at each gain, ``dps`` digits).
    ``progress``: a bar over the activations (:func:`symkernel.core.progress.progress`).

    >>> d = strength_against_gain(("relu",), gains=[0.5, 2.0])["relu"]
    >>> [round(b, 6) for b in d["beta"]], d["method"]
    ([1.266529, 1.266529], 'exact')
    """
    gains = np.linspace(0.25, 3.0, 12) if gains is None else np.asarray(gains, dtype=float)
    if np.any(gains <= 0):
        raise InvalidInputError("gains must be positive")
    out = {}
    for name in show_progress(list(activations), desc="beta against gain", enabled=progress):
        q = isometry_strength(name, gain=alpha)
        if q.exact:
            f = mp_lambdify(alpha, q.expr)
            betas = [float(f(sp.Float(g, 30))) for g in gains]
            out[name] = dict(gains=gains, beta=betas, method="exact", expr=q.expr)
        else:
            betas = [float(isometry_strength(name, gain=decimal_value(g, "gain")).value(dps)) for g in gains]
            out[name] = dict(gains=gains, beta=betas, method="numeric", expr=None)
    return out
