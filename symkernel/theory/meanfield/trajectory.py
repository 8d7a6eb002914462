r"""Layer-by-layer mean-field trajectories ``(q^l, c^l)`` in float64 (Poole et al. 2016, eqs. 3–5).

For two inputs with pre-activation variances ``q_1, q_2`` and correlation ``c``:

.. math::  q_i^{l+1} = \sigma_w^2 E[\phi(\sqrt{q_i^l} Z)^2] + \sigma_b^2, \qquad
           c^{l+1} = \frac{\sigma_w^2 E[\phi(u_1)\phi(u_2)] + \sigma_b^2}{\sqrt{q_1^{l+1} q_2^{l+1}}},

``u_1 = sqrt(q_1) z_1``, ``u_2 = sqrt(q_2) (c z_1 + sqrt(1-c^2) z_2)``.  The pair expectation is,
for ``q_1 = q_2 = q``, Mehler's series ``sum_{j<K} a_j(q)^2 c^j`` (``K = 160`` Hermite
coefficients by the rule of :meth:`.Moments.hermite`, docs/theory.md §5) where Parseval bounds its
tail, ``|c|^K (V(q) - sum_{j<K} a_j^2)``, below ``1e-15 V(q)`` (docs/theory.md §15.2); otherwise
a tensor Gauss–Legendre rule (panels of width 1/2 in ``z_1`` and in ``sqrt(q_2(1-c^2)) z_2``, as in
:meth:`.Moments.nodes`): about 14 digits for analytic ``phi``, fewer (about 6) across kinks.

>>> import numpy as np
>>> q, c = trajectory("tanh", 1.5, 0.05, q0=1.0, c0=0.5, depth=2)
>>> np.round(q, 6), np.round(c, 6)
(array([1.      , 0.641442, 0.523058]), array([0.5     , 0.513666, 0.543569]))
"""
import numpy as np

from symkernel.errors import InvalidInputError
from symkernel.core.activations import as_activation
from .moments import moments


#: Hermite terms of the Mehler path, and its tolerance relative to V(q)
MEHLER_TERMS, MEHLER_TOL = 160, 1e-15


def pair_expectation(act, q1, q2, c, gain=None, **params):
    """``E[phi(u_1) phi(u_2)]`` (float64) for variances ``q1, q2`` and correlation ``c`` (Mehler's
    series where its Parseval tail bound allows, else a tensor rule; module docstring).

    >>> e = pair_expectation("erf", 0.8, 0.8, 0.5)       # closed form: (2/pi) asin(2 q c/(1 + 2 q))
    >>> bool(abs(e - 2 / np.pi * np.arcsin(0.8 / 2.6)) < 1e-14)
    True
    """
    m = moments(as_activation(act, gain, **params))
    if not (q1 >= 0 and q2 >= 0 and -1 <= c <= 1):
        raise InvalidInputError(f"need q1, q2 >= 0 and c in [-1, 1], got {q1}, {q2}, {c}")
    if q1 == q2 and q1 > 0 and abs(c) < 0.95:
        mehler = _mehler(m, q1, c)
        if mehler is not None:
            return mehler
    return _tensor(m, q1, q2, c)


def _mehler(m, q, c):
    """``sum_j a_j(q)^2 c^j`` when its Parseval tail bound is below ``MEHLER_TOL V(q)``, else None."""
    a2 = m.hermite(q, MEHLER_TERMS) ** 2
    v = m.np_one("V", q)
    if not (np.isfinite(v) and v > 0 and np.all(np.isfinite(a2))):
        return None
    rest = max(v - a2.sum(), 1e-12 * v)      # the float sum's own rounding, at least
    if abs(c) ** MEHLER_TERMS * rest > MEHLER_TOL * v:
        return None
    return float(np.polyval(a2[::-1], c))


def _tensor(m, q1, q2, c):
    """The tensor Gauss-Legendre rule (module docstring)."""
    s = np.sqrt(max(1.0 - c * c, 0.0))
    z1, w1 = m.nodes(q1)
    z2, w2 = m.nodes(q2 * s * s)
    f = m.act.numpy()
    a = f(np.sqrt(q1) * z1)
    inner = f(np.sqrt(q2) * (c * z1[:, None] + s * z2[None, :])) @ w2
    return float(np.dot(w1, a * inner))


def trajectory(act, sigma_w2, sigma_b2, q0, c0, depth, q0_second=None, gain=None, **params):
    r"""Arrays ``q^0..q^depth`` and ``c^0..c^depth`` of the mean-field maps (float64).

    ``q0`` (and ``q0_second`` for the second input, default ``q0``) are the *pre-activation*
    variances of the first layer and ``c0`` their correlation.  Returns ``(q, c)``; with two
    different input lengths ``q`` is the first input's.
    """
    act = as_activation(act, gain, **params)
    m = moments(act)
    sw2, sb2 = float(sigma_w2), float(sigma_b2)
    if not (sw2 > 0 and sb2 >= 0):
        raise InvalidInputError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2}, {sigma_b2}")
    if not isinstance(depth, (int, np.integer)) or isinstance(depth, bool) or depth < 0:
        raise InvalidInputError(f"depth must be an integer >= 0, got {depth!r}")
    q1, q2, c = float(q0), float(q0 if q0_second is None else q0_second), float(c0)
    qs, cs = [q1], [c]
    for _ in range(depth):
        e12 = pair_expectation(act, q1, q2, c)
        q1n = sw2 * m.np_one("V", q1) + sb2
        q2n = q1n if q0_second is None else sw2 * m.np_one("V", q2) + sb2
        c = min(max((sw2 * e12 + sb2) / np.sqrt(q1n * q2n), -1.0), 1.0)
        q1, q2 = q1n, q2n
        qs.append(q1)
        cs.append(c)
    return np.array(qs), np.array(cs)
