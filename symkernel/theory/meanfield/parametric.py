r"""Mean-field moments of an activation with free symbolic parameters: closed forms only.

``sk.mean_field(sk.activation("leaky_relu", slope=a), sigma_w2, sigma_b2)`` with a SymPy symbol
``a``: the moments ``V(q) = E[phi(sqrt q Z)^2]``, ``D1``, ``D2``, ``M`` come from the exact Gaussian
engine with ``a`` kept as a symbol.  For leaky ReLU ``V(q) = q (1 + a^2)/2`` and
``D1 = (1 + a^2)/2``, so the length map is linear, ``q* = sigma_b^2/(1 - sigma_w^2 (1+a^2)/2)``,
``chi_1 = sigma_w^2 (1 + a^2)/2`` and ``xi_q = xi_c = -1/log chi_1`` (docs/theory.md §12;
Poole et al. (NeurIPS 2016), Schoenholz et al. (ICLR 2017)).
There is no numeric path: a value needs numbers for the parameters (``SymbolicValueError``).

>>> import symkernel as sk, sympy as sp
>>> a = sp.Symbol("a", positive=True)
>>> parametric_moments(sk.activation("leaky_relu", slope=a)).exact("V")
q*(a**2 + 1)/2
"""
import sympy as sp

from symkernel.core.activations import as_activation
from symkernel.core.symbols import x
from symkernel.errors import SymbolicValueError
from symkernel.gaussian.expectation import check_square_integrable
from .moments import Moments


class ParametricMoments(Moments):
    """:class:`.moments.Moments` for an activation with free parameters: the exact methods
    (``exact``, ``exact_limit``, ``breaks``, ``require_continuous``) work; every numeric one
    raises :class:`~symkernel.errors.SymbolicValueError` naming the parameters."""

    def __init__(self, act):     # Moments.__init__ without its refusal of free parameters
        act = as_activation(act)
        check_square_integrable(act)
        self.act = act
        self.pieces = act.pieces
        self.d1 = tuple(sp.diff(p.expr, x) for p in self.pieces)
        self.d2 = tuple(sp.diff(p.expr, x, 2) for p in self.pieces)
        self.breaks = []
        for left, right, dl, dr in zip(self.pieces[:-1], self.pieces[1:], self.d1[:-1], self.d1[1:]):
            b = right.lo
            if sp.simplify(right.expr.subs(x, b) - left.expr.subs(x, b)) != 0:
                self.jump_at = b
            else:
                self.breaks.append((b, sp.simplify(dr.subs(x, b) - dl.subs(x, b)),
                                    sp.simplify(right.expr.subs(x, b))))
        self.continuous = not hasattr(self, "jump_at")
        self._exact, self._mp_fns, self._np_fns, self._np_exact, self._plans = {}, {}, None, {}, {}

    def _numeric(self, *args, **kwargs):
        names = sorted(map(str, self.act.free_parameters))
        raise SymbolicValueError(f"{self.act.name} has the free parameters {names}: only closed "
                                 "forms exist; substitute numbers for a numeric value")

    raw = result = mp = np = np_one = hermite = quantity = plan = values = nodes = _numeric


def parametric_moments(act):
    """The :class:`ParametricMoments` of an activation with free parameters, cached on it."""
    act = as_activation(act)
    return act.memo("meanfield_parametric_moments", lambda: ParametricMoments(act))


__all__ = ["ParametricMoments", "parametric_moments"]
