r"""The activation step of the ``dps=`` path where no closed form exists: Mehler's series with
proven Hermite coefficients.

``E[phi(u) phi(v)] = sum_{k<=K} a_k(q_1) a_k(q_2) rho^k + T_K`` with ``a_k(q)`` the normalized
Hermite coefficients of ``phi(sqrt(q) x)``, enclosed by
:func:`symkernel.kernels.hermite_panels.certified_coefficients` (one analytic piece: tanh, sigmoid,
softplus, SiLU, ...), and the tail by Cauchy-Schwarz and Parseval
``|T_K| <= |rho|^{K+1} sqrt(R_K(q_1) R_K(q_2))``, ``R_K = E phi(sqrt(q) X)^2 - sum_{k<=K} a_k^2``
(the second moment certified by :func:`symkernel.gaussian.expectation.second_moment`).  ``K``
doubles from 100 to 800 until the bound is below the requested digits; otherwise PrecisionError
(``|rho|`` too near 1 for the series at that precision).
"""
import mpmath
import sympy as sp

from symkernel.errors import NoClosedFormError, PrecisionError
from symkernel.numerics import binary_value
from symkernel.numerics.arb import NotCertifiable
from symkernel.core.activations import activation
from symkernel.gaussian.expectation import expectation, second_moment
from symkernel.kernels.hermite_panels import certified_coefficients

#: most Hermite terms of the series
MAX_TERMS = 800


class SeriesStep:
    """Coefficients of ``f(sqrt(q) x)`` per variance ``q`` (cached) and their Mehler sums."""

    def __init__(self, act):
        self.act = act
        self._coefficients = {}
        self._moments = {}

    def _scaled(self, q):
        gain = sp.sqrt(binary_value(q))
        return activation(self.act, gain=gain) if gain != 1 else self.act

    def moment(self, q, dps):
        key = (q, dps)
        if key not in self._moments:
            self._moments[key] = second_moment(self._scaled(q)).value(dps + 5)
        return self._moments[key]

    def mean(self, q, dps):
        return expectation(self._scaled(q).expr).value(dps + 5)

    def coefficients(self, q, K, dps):
        key = (q, K, dps)
        if key not in self._coefficients:
            try:
                self._coefficients[key] = certified_coefficients(self._scaled(q), K, dps + 5)
            except NotCertifiable as exc:
                raise NoClosedFormError(
                    f"the dps= path of {self.act.name} needs a closed form or one analytic piece "
                    f"(Mehler series with proven coefficients): {exc}") from None
        return self._coefficients[key]

    def value(self, q1, q2, r, dps):
        """``E[f(sqrt(q1) X) f(sqrt(q2) Y)]`` at correlation ``r`` to ``dps`` digits (ambient
        precision is the caller's working precision)."""
        if r == 1 and q1 == q2:
            return self.moment(q1, dps)
        K = 100
        while True:
            a, ea = self.coefficients(q1, K, dps)
            b, eb = self.coefficients(q2, K, dps)
            total = err = mpmath.mpf(0)
            power = mpmath.mpf(1)
            sa = sb = mpmath.mpf(0)
            for k in range(K + 1):
                total += a[k] * b[k] * power
                err += (ea[k] * abs(b[k]) + eb[k] * abs(a[k]) + ea[k] * eb[k]) * abs(power)
                sa += a[k] * a[k]
                sb += b[k] * b[k]
                power *= r
            Ra = max(self.moment(q1, dps) - sa, mpmath.mpf(0))
            Rb = max(self.moment(q2, dps) - sb, mpmath.mpf(0))
            slack = mpmath.mpf(10) ** (-(dps + 5)) * (self.moment(q1, dps) + self.moment(q2, dps))
            err += abs(power) * mpmath.sqrt((Ra + slack) * (Rb + slack))
            if err <= abs(total) * mpmath.mpf(10) ** (-(dps + 1)) + mpmath.mpf(10) ** (-2 * dps):
                return total
            if K >= MAX_TERMS:
                raise PrecisionError(
                    f"the Mehler series of {self.act.name} at |rho| = {mpmath.nstr(abs(r), 8)} does not "
                    f"reach {dps} digits with {MAX_TERMS} proven terms (error bound "
                    f"{mpmath.nstr(err, 3)}); ask for fewer digits or use the float64 kernel")
            K *= 2


__all__ = ["MAX_TERMS", "SeriesStep"]
