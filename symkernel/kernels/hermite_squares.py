"""Hermite coefficients ``c_k = E[sigma(Z) he_k(Z)]`` for many ``k`` at once, for the series path.

``c_k = int sigma(x) psi_k(x) sqrt(phi(x)) dx`` with the normalized Hermite functions
``psi_k = he_k sqrt(phi)`` run by their three-term recurrence
``psi_{k+1} = (x psi_k - sqrt(k) psi_{k-1}) / sqrt(k+1)`` (:func:`symkernel.core.hermite.normalized_hermite`): by the trapezoidal rule in fixed-point
integers (mpmath precision, analytic sigma), or by composite Gauss-Legendre in float64.

>>> from symkernel.gaussian.expectation import as_activation
>>> squares, m2 = _float_hermite_squares(as_activation("identity"))
>>> round(float(squares[1]), 12), m2
(1.0, 1.0)
"""
import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import PrecisionError
from symkernel.gaussian.expectation import second_moment
from symkernel.core.hermite import FixedPoint, normalized_hermite
from symkernel.core.symbols import x
from symkernel.core.mp_eval import mp_lambdify


SERIES_K_MAX = 1600


def _trapezoid_coefficients(act, K, wp):
    """c_0..c_K to ~wp digits for a smooth (analytic) activation, by the trapezoidal rule.

    The trapezoidal rule is exponentially accurate for analytic integrands decaying like a
    Gaussian; the normalized Hermite functions ``he_k sqrt(phi)`` are run by their three-term
    recurrence in fixed-point integer arithmetic.  Two step sizes must agree (else PrecisionError).
    """
    fn = mp_lambdify(x, act.expr)
    runs = []
    for h_scale in (1, 0.8):
        arith = FixedPoint(int((wp + 10) * 3.33) + 20)
        bits, one = arith.bits, arith.one
        h = mpmath.mpf(2 * mpmath.pi) / (mpmath.sqrt(K) * 2 + 2.3 * (wp + 10)) * h_scale
        with mpmath.workdps(wp + 15):
            L = 2 * mpmath.sqrt(2.31 * (wp + 12)) + 2
            n = int(L / h) + 1
            xs = [h * i for i in range(-n, n + 1)]
            norm = (2 * mpmath.pi) ** mpmath.mpf(-0.25)
            root_phi = [norm * mpmath.exp(-t * t / 4) for t in xs]
            weights = []
            for t, rp in zip(xs, root_phi):
                v = fn(t)
                if isinstance(v, mpmath.mpc):
                    v = v.real
                weights.append(arith.fixed(v * rp * h))
            xfix, first = arith.array(xs), arith.array(root_phi)
        wts = np.array(weights, dtype=object)
        coeffs = [int(np.dot(wts, psi)) >> bits
                  for psi in normalized_hermite(xfix, K + 1, first, arith)]
        with mpmath.workdps(wp + 10):
            runs.append([mpmath.mpf(c) / one for c in coeffs])
    with mpmath.workdps(wp + 10):
        size = mpmath.sqrt(sum(c * c for c in runs[0])) + mpmath.mpf(10) ** (-wp)
        worst = max(abs(a - b) for a, b in zip(*runs))
        if worst > size * mpmath.mpf(10) ** (-(wp - 2)):
            raise PrecisionError(f"trapezoidal Hermite coefficients agree only to {mpmath.nstr(worst, 3)}")
    return runs[1]


def _gl_pieces(act, per_piece, half_width=45.0, panel=0.5):
    """Composite Gauss-Legendre nodes/weights on the pieces of act, truncated to [-L, L]."""
    key = ("gl", per_piece, half_width)
    cache = act.memo("kernels", dict)
    if key in cache:
        return cache[key]
    edges = [-half_width] + [float(sp.N(p.lo)) for p in act.pieces[1:]] + [half_width]
    t, w = np.polynomial.legendre.leggauss(20)
    nodes, weights = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        panels = max(1, int(np.ceil((b - a) / panel)))
        cuts = np.linspace(a, b, panels + 1)
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            nodes.append((hi - lo) / 2 * t + (hi + lo) / 2)
            weights.append((hi - lo) / 2 * w)
    out = (np.concatenate(nodes), np.concatenate(weights))
    cache[key] = out
    return out


K_MAX = 700


def _float_hermite_squares(act):
    """c_k^2 (k <= K_MAX) in float64 via normalized Hermite functions on Gauss-Legendre nodes."""
    nodes, weights = _gl_pieces(act, 20)
    root_phi = np.exp(-nodes**2 / 4) / (2 * np.pi) ** 0.25
    with np.errstate(over="ignore", invalid="ignore"):
        f = act.numpy()(nodes)
    f = np.nan_to_num(f * root_phi * weights, posinf=0.0, neginf=0.0)
    coeffs = np.array([f @ psi for psi in normalized_hermite(nodes, K_MAX + 1, root_phi)])
    m2 = float(second_moment(act).value(20))
    return coeffs**2, m2
