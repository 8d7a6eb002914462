r"""The inverse imaginary error function ``erfiinv`` as a SymPy function (Hayou (TMLR 2023), Prop. 4).

``erfi(z) = 2/sqrt(pi) * int_0^z exp(u^2) du`` is a strictly increasing bijection of the real line,
so ``erfiinv`` is defined on all of R.  SymPy has ``erfinv`` but no ``erfiinv``; this class gives
it exact derivatives (``d/dy erfiinv(y) = sqrt(pi)/2 * exp(-erfiinv(y)^2)``), ``inverse() = erfi``,
mpmath evaluation to any precision (Newton on ``mpmath.erfi``) and a vectorized NumPy evaluator
(Newton in ``asinh`` coordinates, float64) that ``sympy.lambdify`` picks up through ``_imp_``.

>>> import sympy as sp
>>> y = sp.Symbol("y", real=True)
>>> erfiinv(y).diff(y)
sqrt(pi)*exp(-erfiinv(y)**2)/2
>>> erfiinv(sp.erfi(sp.Rational(1, 3)))
1/3
>>> sp.N(sp.erfi(erfiinv(sp.Integer(5))), 30)
5.00000000000000000000000000000
>>> float(numpy_erfiinv(np.array([-5.0, 0.0, 1e-3, 1e30]))[3]) ** 2 > 69
True
"""

import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import PrecisionError
from symkernel.numerics import locked

_SQRT_PI = float(np.sqrt(np.pi))


def numpy_erfiinv(y):
    """Vectorized float64 inverse of ``scipy.special.erfi`` on R (relative error ~1e-14).

    Newton on ``log erfi(z) = log(2/sqrt(pi)) + z^2 + log D(z)`` (``D`` = Dawson's function), whose
    derivative is ``1/D(z)``: no overflow for any finite float64 ``y``.
    """
    from scipy import special

    y = np.asarray(y, dtype=float)
    a = np.abs(y)
    pos = a > 0
    la = np.log(np.where(pos, a, 1.0))
    # initial guess: small-y series below 1, the asymptotic erfi(z) ~ e^{z^2}/(z sqrt(pi)) above
    big = np.sqrt(np.maximum(la + np.log(_SQRT_PI) + 0.5 * np.log(np.maximum(la, 1.0)), 0.25))
    z = np.where(a < 1.0, a * _SQRT_PI / 2, big)
    log_c = np.log(2 / _SQRT_PI)
    for _ in range(60):
        d = special.dawsn(z)
        step = np.where(pos, (log_c + z * z + np.log(np.where(pos, d, 1.0)) - la) * d, 0.0)
        z = np.where(z - step > 0, z - step, z / 2)
        if np.all(np.abs(step) <= 1e-13 * np.maximum(z, 1e-300)):
            break
    return np.where(pos, np.sign(y) * z, 0.0)


def _mp_erfiinv(y):
    """erfiinv at the working mpmath precision (callers scope it): Newton on log erfi(z) - log|y|.

    Start: the float64 inverse for ``1e-300 < |y| < 1e300``, ``sqrt(pi) y/2`` below (where
    ``erfi(z) = 2 z/sqrt(pi) (1 + O(z^2))``) and ``sqrt(log|y|)`` above.  At most 200 steps;
    raises :class:`~symkernel.errors.PrecisionError` when the steps do not settle.
    """
    y = mpmath.mpf(y)
    if y == 0:
        return mpmath.mpf(0)
    a, target = abs(y), mpmath.log(abs(y))
    if a < 1e-300:
        z = a * mpmath.sqrt(mpmath.pi) / 2
    elif a < 1e300:
        z = mpmath.mpf(float(numpy_erfiinv(float(a))))
    else:
        z = mpmath.sqrt(target)
    eps = mpmath.mpf(2) ** (-mpmath.mp.prec + 6)
    for _ in range(200):
        e = mpmath.erfi(z)
        step = (mpmath.log(e) - target) * e * mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-z * z)
        z -= step
        if abs(step) <= eps * abs(z):
            break
    else:
        raise PrecisionError(f"erfiinv({mpmath.nstr(y, 10)}): Newton did not settle in 200 steps")
    return z if y > 0 else -z


class erfiinv(sp.Function):
    """Inverse of the imaginary error function on the real line: ``erfi(erfiinv(y)) = y``."""

    nargs = 1
    _imp_ = staticmethod(numpy_erfiinv)

    @classmethod
    def eval(cls, y):
        if y.is_zero:
            return sp.S.Zero
        if isinstance(y, sp.erfi) and y.args[0].is_real:
            return y.args[0]
        if y.could_extract_minus_sign():
            return -cls(-y)
        return None

    def fdiff(self, argindex=1):
        return sp.sqrt(sp.pi) / 2 * sp.exp(-(self.func(self.args[0]) ** 2))

    def inverse(self, argindex=1):
        return sp.erfi

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_extended_positive(self):
        return self.args[0].is_extended_positive

    def _eval_evalf(self, prec):
        arg = self.args[0].evalf(prec)
        if not arg.is_Number:
            return None
        with locked(), mpmath.workprec(prec + 20):      # the numerics lock: no concurrent change
            value = _mp_erfiinv(mpmath.mpf(arg._as_mpf_val(prec + 20)))
        return sp.Float._new(value._mpf_, prec)

    def _latex(self, printer, exp=None):
        body = rf"\operatorname{{erfi}}^{{-1}}\left({printer._print(self.args[0])}\right)"
        return rf"\left({body}\right)^{{{exp}}}" if exp else body
