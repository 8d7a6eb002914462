r"""The probabilists' Hermite polynomials, written once.

* Exact: the integer coefficients of ``He_k`` by ``He_{j+1} = x He_j - j He_{j-1}``
  (:func:`he_coefficients`) and the normalized polynomial ``he_k = He_k/sqrt(k!)``
  (:func:`he_polynomial`), orthonormal under the Gaussian weight.
* Numeric: ``he_j(z) h`` for ``j = 0, 1, ...`` on an array of points by the normalized
  recurrence ``he_{j+1} = (z he_j - sqrt(j) he_{j-1})/sqrt(j+1)`` (:func:`normalized_hermite`),
  one algorithm against two arithmetics (as mpmath writes its algorithms once against several
  contexts): float64 NumPy arrays (:data:`FLOAT64`), or Python integers scaled by ``2^bits`` in
  NumPy object arrays (:class:`FixedPoint`: exact products, one rounding a step, any precision).
  With ``h = sqrt(phi)`` the sequence is the normalized Hermite functions ``psi_j``.

>>> he_coefficients(3)
[0, -3, 0, 1]
>>> he_polynomial(2)
sqrt(2)*x**2/2 - sqrt(2)/2
>>> import numpy as np
>>> [float(np.round(v[0], 12)) for v in normalized_hermite(np.array([2.0]), 4)]
[1.0, 2.0, 2.12132034356, 0.816496580928]
"""
import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError
from .symbols import x


def _check_order(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer, sp.Integer)) or int(k) < 0:
        raise InvalidInputError(f"a Hermite order must be a nonnegative integer, got {k!r}")
    return int(k)


def he_coefficients(k):
    """Integer coefficients ``[a_0, ..., a_k]`` of ``He_k(x) = sum_i a_i x^i`` (probabilists')."""
    k = _check_order(k)
    prev, cur = [1], [0, 1]
    if k == 0:
        return prev
    for j in range(1, k):
        nxt = [0] + cur  # x * He_j
        for i, a in enumerate(prev):
            nxt[i] -= j * a
        prev, cur = cur, nxt
    return cur


def he_polynomial(k, var=x):
    """The normalized Hermite polynomial ``he_k = He_k/sqrt(k!)`` as an expanded SymPy expression."""
    k = _check_order(k)
    poly = sum(a * var**i for i, a in enumerate(he_coefficients(k)) if a)
    return sp.expand(poly / sp.sqrt(sp.factorial(k)))


class _Float64:
    """float64 NumPy arrays."""

    @staticmethod
    def step(z, cur, prev, j):
        return (z * cur - np.sqrt(j) * prev) / np.sqrt(j + 1)

    @staticmethod
    def one_like(z):
        return np.ones_like(z)


#: The float64 arithmetic of :func:`normalized_hermite` (the default).
FLOAT64 = _Float64()


class FixedPoint:
    """Python integers scaled by ``2^bits`` (NumPy object arrays): products are exact and each
    recurrence step rounds once (``>> bits``); the constants ``sqrt(j)`` and ``1/sqrt(j+1)`` are
    rounded to nearest from ``bits + 30``-bit values, whatever mpmath's precision."""

    def __init__(self, bits):
        self.bits = int(bits)
        self.one = 1 << self.bits
        self._sqrt, self._inv = [], []

    def fixed(self, value):
        """The fixed-point integer nearest to ``value`` (a number or mpf)."""
        with mpmath.workprec(self.bits + 30):
            return int(mpmath.nint(mpmath.mpf(value) * self.one))

    def array(self, values):
        """A NumPy object array of the fixed-point integers of ``values``."""
        return np.array([self.fixed(v) for v in values], dtype=object)

    def one_like(self, z):
        return np.array([self.one] * len(z), dtype=object)

    def _constants(self, j):
        while len(self._sqrt) <= j:
            i = len(self._sqrt)
            with mpmath.workprec(self.bits + 30):
                self._sqrt.append(self.fixed(mpmath.sqrt(i)))
                self._inv.append(self.fixed(1 / mpmath.sqrt(i + 1)))
        return self._sqrt[j], self._inv[j]

    def step(self, z, cur, prev, j):
        b = self.bits
        sqrt_j, inv = self._constants(j)
        return ((((z * cur) >> b) - ((sqrt_j * prev) >> b)) * inv) >> b


def normalized_hermite(z, count, first=None, arithmetic=FLOAT64):
    r"""Yield ``he_j(z) * first`` for ``j = 0, ..., count - 1`` on the array ``z``
    (``first`` defaults to ones; ``first = sqrt(phi(z))`` gives the Hermite functions).

    ``arithmetic``: :data:`FLOAT64`, or a :class:`FixedPoint` (then ``z`` and ``first`` are its
    fixed-point object arrays, e.g. from :meth:`FixedPoint.array`).  A caller may stop early.
    """
    prev = None
    cur = arithmetic.one_like(z) if first is None else first
    for j in range(int(count)):
        yield cur
        if j + 1 < count:
            nxt = arithmetic.step(z, cur, 0 * cur if prev is None else prev, j)
            prev, cur = cur, nxt


__all__ = ["he_coefficients", "he_polynomial", "normalized_hermite", "FixedPoint", "FLOAT64"]
