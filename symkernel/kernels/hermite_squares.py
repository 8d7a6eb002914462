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
        lo, hi = cuts[:-1, None], cuts[1:, None]
        nodes.append(((hi - lo) / 2 * t + (hi + lo) / 2).ravel())
        weights.append(((hi - lo) / 2 * w).ravel())
    out = (np.concatenate(nodes), np.concatenate(weights))
    cache[key] = out
    return out


class _Unsupported(Exception):
    """The expression is outside :func:`_numpy_tree` (internal signal: use lambdify)."""


def _numpy_functions():
    from scipy import special

    return {sp.tanh: np.tanh, sp.exp: np.exp, sp.log: np.log, sp.sin: np.sin, sp.cos: np.cos,
            sp.atan: np.arctan, sp.sinh: np.sinh, sp.cosh: np.cosh, sp.Abs: np.abs,
            sp.erf: special.erf, sp.erfc: special.erfc, sp.asinh: np.arcsinh}


def _numpy_tree(e, table):
    """A float64 NumPy function of ``x`` for an expression built from numbers, ``x``, sums,
    products, powers with a number exponent and the functions of ``table`` (no printing, no
    ``exec``: a closure per node of the tree); _Unsupported otherwise."""
    if e == x:
        return lambda v: v
    if e.is_number:
        c = complex(e)
        if c.imag != 0 or not np.isfinite(c.real):
            raise _Unsupported(e)
        return lambda v, c=c.real: c
    if e.is_Add or e.is_Mul:
        parts = [_numpy_tree(a, table) for a in e.args]
        combine = np.add if e.is_Add else np.multiply

        def fold(v):
            total = parts[0](v)
            for p in parts[1:]:
                total = combine(total, p(v))
            return total
        return fold
    if e.is_Pow and e.exp.is_number:
        base = _numpy_tree(e.base, table)
        ex = int(e.exp) if e.exp.is_Integer else float(e.exp)
        if ex == 0.5:
            return lambda v: np.sqrt(base(v))
        return lambda v: np.power(base(v), ex)
    fn = table.get(type(e))
    if fn is not None and len(e.args) == 1:
        inner = _numpy_tree(e.args[0], table)
        return lambda v: fn(inner(v))
    raise _Unsupported(type(e).__name__)


def _sigma_numpy(act):
    """sigma as a float64 NumPy function: :func:`_numpy_tree` for one piece (no SymPy printer,
    no import of its code generator: the first float coefficients of a fresh process), else
    :meth:`Activation.numpy`."""
    if len(act.pieces) == 1 and not act.free_parameters:
        try:
            return _numpy_tree(act.expr, _numpy_functions())
        except (_Unsupported, TypeError, ValueError):
            pass
    return act.numpy()


K_MAX = 700
#: the float64 coefficients stop once ``FLOAT_BLOCK`` consecutive squares add up to less than
#: ``FLOAT_NEGLIGIBLE E sigma^2`` (never before ``k = 64``; the callers' truncations need 1e-17)
FLOAT_BLOCK = 32
FLOAT_NEGLIGIBLE = 1e-19
#: digits of the certified E sigma^2 behind the float64 coefficients: 26, the digits at which the
#: certified Hermite series of a 15-digit kernel value asks it (18 working digits + 8) and the
#: kernel map's scale asks it for its float64 twin (``Kernel``): one Arb enclosure serves all three
FLOAT_M2_DPS = 26


def _float_hermite_squares(act):
    """``(c_k^2 for k <= K, E sigma^2)`` in float64, cached on the activation (read-only arrays).

    The c_k by normalized Hermite functions on Gauss-Legendre nodes, run until ``FLOAT_BLOCK``
    consecutive squares are below ``FLOAT_NEGLIGIBLE E sigma^2`` (the observed decay; at most
    ``K_MAX``); ``E sigma^2`` from its certified Arb enclosure (:data:`FLOAT_M2_DPS`), a
    reference that shares nothing with the nodes (the callers' Parseval checks
    ``E sigma^2 - sum c_k^2`` bound what the truncation left out).
    """
    cache = act.memo("kernels", dict)
    if "float_squares" not in cache:
        nodes, weights = _gl_pieces(act, 20)
        root_phi = np.exp(-nodes**2 / 4) / (2 * np.pi) ** 0.25
        with np.errstate(all="ignore"):
            f = np.broadcast_to(_sigma_numpy(act)(nodes), nodes.shape)
            f = np.nan_to_num(f * root_phi * weights, posinf=0.0, neginf=0.0)
        # nodes where |sigma sqrt(phi) w| < 1e-22 max add less than 1e-22 N max |psi_k| (|psi_k|
        # < 0.7) to any c_k: far below the float64 accuracy of the c_k; drop them
        keep = np.abs(f) >= 1e-22 * np.max(np.abs(f), initial=0.0)
        nodes, root_phi, f = nodes[keep], root_phi[keep], f[keep]
        m2 = float(second_moment(act).result(FLOAT_M2_DPS).value)
        # psi_{k+1} = (x psi_k - sqrt(k) psi_{k-1}) / sqrt(k+1) (the arithmetic of
        # :func:`~symkernel.core.hermite.normalized_hermite`, in place)
        coeffs = []
        prev, cur, tmp = np.zeros_like(nodes), root_phi.copy(), np.empty_like(nodes)
        roots = np.sqrt(np.arange(K_MAX + 2))
        for k in range(K_MAX + 1):
            coeffs.append(f @ cur)
            if k >= 64 and (k + 1) % FLOAT_BLOCK == 0:
                if np.square(coeffs[-FLOAT_BLOCK:]).sum() < FLOAT_NEGLIGIBLE * abs(m2):
                    break
            np.multiply(nodes, cur, out=tmp)
            np.multiply(prev, roots[k], out=prev)
            np.subtract(tmp, prev, out=tmp)
            np.divide(tmp, roots[k + 1], out=prev)
            prev, cur = cur, prev
        squares = np.square(np.array(coeffs))
        squares.setflags(write=False)
        cache["float_squares"] = (squares, m2)
    return cache["float_squares"]
