r"""Piecewise-linear activations in closed form through the bivariate normal CDF (docs/theory.md §34).

``phi(x) = alpha_i x + beta_i`` on ``(t_i, t_{i+1})`` (hardtanh, ReLU6 = ``min(max(x, 0), 6)``, hard
sigmoid, leaky ReLU, with gains and shifts; jumps allowed for ``F``).  Around the piece ``c`` that
holds 0 (the *centre*),

``phi(x) = alpha_c x + beta_c + sum_p g_p(x)``,
``g_p(x) = dalpha_p (sigma_p (x - t_p))^+ + J_p 1{sigma_p (x - t_p) > 0}``

(``sigma_p = +1`` right of the centre, ``-1`` left, ``dalpha_p`` the change of slope and ``J_p`` the
jump at ``t_p``, ``-J_p`` on the left).  For ``u = a X``, ``v = b Y``, ``X, Y`` standard normals with
correlation ``rho``, every term is an orthant moment of ``(X', Y') = (sigma_p X, sigma_q Y)``,
correlation ``r = sigma_p sigma_q rho``, ``s = sqrt(1 - r^2)``, corner ``h = sigma_p t_p / a``,
``k = sigma_q t_q / b``:

* ``L = P(X' > h, Y' > k) = Phi_2(-h, -k; r)``;
* ``R = E[(X' - h)^+ (Y' - k)^+] = (r + h k) L - k phi(h) Phi(z_h) - h phi(k) Phi(z_k) + s phi(h) phi(z_h)``,
  ``z_h = (r h - k)/s``, ``z_k = (r k - h)/s`` (truncated bivariate normal moments, Rosenbaum,
  J. R. Stat. Soc. B 1961; ``dR/dr = L``, Price's theorem);
* ``S = E[(X' - h)^+ 1{Y' > k}] = phi(h) Phi(z_h) + r phi(k) Phi(z_k) - h L``,

so ``F = E[phi(u) phi(v)]`` and ``D = E[phi'(u) phi'(v)] = dF/dc`` are finite sums of them (``D``:
``alpha_c^2 + alpha_c sum_p dalpha_p sigma_p Phi(-h_p) + (same for q) + sum_{p,q} dalpha_p dalpha_q
sigma_p sigma_q L``).  ``z_h`` and ``z_k`` are formed from one difference ``d = sgn(r) h - k`` and
``1 - |rho|`` (exact in float64), so that their rounding moves the corner consistently and the
``1/s`` sensitivities of the terms cancel as in the sum (near ``|rho| = 1``).

* :func:`pwl_form` reads ``(t, alpha, beta)`` off a SymPy expression (:mod:`symkernel.core.pieces`);
* :func:`pwl_kernels`: float64, vectorized over arrays ``(q1, q2, c)``, with ``Phi_2`` by
  :func:`symkernel.nn.bivariate.bvn` (Genz's fixed rule, ~1e-16 absolute), and a per-entry error
  estimate ``8 eps`` times the sum of the terms' sizes (measured errors: docs/theory.md §34);
* :func:`pwl_kernels_mp`: the same sums in mpmath at ``dps`` digits, ``Phi_2`` by the 1-D integral
  ``Phi(-h) Phi(-k) + (1/(2 pi)) int_0^{asin r} exp(-(h^2 + k^2 - 2 h k sin t)/(2 cos^2 t)) dt``
  (Genz 2004; tanh-sinh quadrature, estimated by mpmath's error estimate);
* :func:`pwl_d_bound`: ``|D(c') - D(c)| <= sum |dalpha_p dalpha_q| |asin r' - asin r|/(2 pi)``
  over ``|c' - c| <= dc`` (``dL/dr = phi_2 <= 1/(2 pi sqrt(1 - r^2))``).

>>> import numpy as np
>>> form = pwl_form("relu")
>>> F, D, eF, eD = pwl_kernels(form, 1.0, 1.0, 0.5)
>>> r = 0.5; ref = (np.sqrt(1 - r * r) + (np.pi - np.arccos(r)) * r) / (2 * np.pi)   # Cho & Saul
>>> bool(abs(F - ref) < 1e-16), bool(abs(D - (np.pi - np.arccos(r)) / (2 * np.pi)) < 1e-16)
(True, True)
"""
import math
from typing import NamedTuple

import mpmath
import numpy as np
import sympy as sp
from scipy.special import ndtr

from symkernel.errors import InvalidInputError, NoClosedFormError, PrecisionError
from symkernel.core.activations import as_activation
from symkernel.core.symbols import x
from .bivariate import bvn

try:                                    # optional accelerator, as in symkernel.nn.bivariate
    import numba as _numba

    def _jit(f):
        return _numba.njit(cache=True, nogil=True, error_model="numpy")(f)
except ImportError:                     # pragma: no cover
    def _jit(f):
        return f

_EPS = float(np.finfo(float).eps)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


class PWLForm(NamedTuple):
    """A piecewise-linear activation: breakpoints ``t_1 < ... < t_m`` and, per piece ``i = 0..m``
    (piece ``i`` on ``(t_i, t_{i+1})``), slope ``alpha_i`` and intercept ``beta_i`` (SymPy numbers)."""

    breaks: tuple
    slopes: tuple
    intercepts: tuple

    @property
    def jumps(self):
        """``phi(t_p+) - phi(t_p-)`` at each breakpoint (SymPy numbers; 0 where a jump of Floats is
        within 1e-13 of the sizes that make it: the rounding of ``hardtanh(2x + 0.3)``'s corners)."""
        out = []
        for p, t in enumerate(self.breaks):
            hi, lo = self.slopes[p + 1] * t + self.intercepts[p + 1], self.slopes[p] * t + self.intercepts[p]
            j = sp.sympify(hi - lo)
            if j.has(sp.Float) and abs(float(j)) <= 1e-13 * (abs(float(hi)) + abs(float(lo)) + abs(float(t))):
                j = sp.Integer(0)
            out.append(j)
        return tuple(out)

    @property
    def continuous(self):
        return all(j == 0 for j in self.jumps)

    @property
    def centre(self):
        """The piece that holds 0 (the right one when 0 is a breakpoint)."""
        return sum(1 for t in self.breaks if float(t) <= 0)

    def ramps(self, convert=float):
        """``(alpha_c, beta_c, [(sigma_p, t_p, dalpha_p, J_p)])``, numbers through ``convert``."""
        c = self.centre
        out = []
        for p, (t, j) in enumerate(zip(self.breaks, self.jumps)):
            sig = 1 if p >= c else -1
            out.append((sig, convert(t), convert(self.slopes[p + 1] - self.slopes[p]), convert(sig * j)))
        return convert(self.slopes[c]), convert(self.intercepts[c]), out


def pwl_form(act):
    """The :class:`PWLForm` of an activation (a registry name, SymPy expression or Activation) that is
    piecewise linear with numeric breakpoints and coefficients, else None.

    >>> pwl_form("hardtanh")
    PWLForm(breaks=(-1, 1), slopes=(0, 1, 0), intercepts=(-1, 0, 1))
    >>> pwl_form("tanh") is None, pwl_form(sp.Min(sp.Max(x, 0), 6)).breaks
    (True, (0, 6))
    """
    act = as_activation(act)
    if act.free_parameters:
        return None
    try:
        pieces = act.pieces
    except InvalidInputError:
        return None
    slopes, intercepts = [], []
    for piece in pieces:
        e = sp.expand(piece.expr)
        if not e.is_polynomial(x):
            return None
        poly = sp.Poly(e, x)
        if poly.degree() > 1:
            return None
        a1, a0 = poly.coeff_monomial(x), poly.coeff_monomial(1)
        if not all(v.is_number and v.is_real for v in (a1, a0)):
            return None
        slopes.append(a1)
        intercepts.append(a0)
    breaks = tuple(p.lo for p in pieces[1:])
    if not all(t.is_number and t.is_real and t.is_finite for t in breaks):
        return None
    return PWLForm(breaks, tuple(slopes), tuple(intercepts))


def _as_form(form):
    if isinstance(form, PWLForm):
        return form
    out = pwl_form(form)
    if out is None:
        raise InvalidInputError(f"{as_activation(form).name} is not piecewise linear with numeric "
                                "breakpoints and coefficients")
    return out


# -- float64 ---------------------------------------------------------------------------------------
@_jit
def _upper_many(h, k, r, out):
    for i in range(h.size):
        out[i] = bvn(-h[i], -k[i], r[i], 0.0)


def _upper(h, k, r):
    """``P(X > h, Y > k)`` for standard normals with correlation ``r`` (broadcast arrays)."""
    h, k, r = np.broadcast_arrays(h, k, r)
    out = np.empty(h.size)
    _upper_many(*(np.ascontiguousarray(v, dtype=float).ravel() for v in (h, k, r)), out)
    return out.reshape(h.shape)


def _ratio(num, s):
    """``num / s`` with the limit at ``s = 0``: ``+-inf``, or 0 where ``num = 0`` too."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = num / s
    if not np.any(s == 0):
        return z
    return np.where(s > 0, z, np.where(num > 0, np.inf, np.where(num < 0, -np.inf, 0.0)))


def _pdf(z):
    return np.exp(-0.5 * z * z) * _INV_SQRT2PI


def _orthant(h, k, sgn, om, s):
    """``(L, R, S_hk, S_kh, size of R's terms)`` at the corner ``(h, k)``, correlation
    ``sgn (1 - om)``."""
    r = sgn * (1.0 - om)
    d = sgn * h - k                       # one difference for both z (see the module docstring)
    zh = _ratio(d - sgn * om * h, s)
    zk = _ratio(-sgn * d - sgn * om * k, s)
    L = _upper(h, k, r)
    ph, pk = _pdf(h), _pdf(k)
    Ph, Pk = ndtr(zh), ndtr(zk)
    with np.errstate(invalid="ignore"):
        E = np.where(s > 0, s * ph * _pdf(zh), 0.0)
    a1, a2 = k * ph * Ph, h * pk * Pk
    R = (r + h * k) * L - a1 - a2 + E
    size = np.abs(r + h * k) * L + np.abs(a1) + np.abs(a2) + E
    return L, R, ph * Ph + r * pk * Pk - h * L, pk * Pk + r * ph * Ph - k * L, size


def _inputs(q1, q2, c):
    q1, q2, c = (np.asarray(v, dtype=float) for v in (q1, q2, c))
    for name, q in (("q1", q1), ("q2", q2)):
        bad = ~(np.isfinite(q) & (q > 0))
        if bad.any():
            raise InvalidInputError(f"{name} must be positive and finite, got {float(q[bad].ravel()[0])!r}")
    if not np.isfinite(c).all():
        raise InvalidInputError("the covariance c contains NaN or infinity")
    a, b = np.sqrt(q1), np.sqrt(q2)
    rho = c / np.sqrt(q1 * q2)
    if rho.size and (np.max(rho) > 1 + 1e-10 or np.min(rho) < -1 - 1e-10):
        raise InvalidInputError(f"|rho| > 1 (rho = {float(rho[np.abs(rho) > 1].ravel()[0])!r}): the "
                                "covariance exceeds the geometric mean of the variances")
    rho = np.clip(rho, -1.0, 1.0)
    return np.broadcast_arrays(a, b, rho)


def pwl_kernels(form, q1, q2, c, ntk=True):
    """``(F, D, eF, eD)`` float64 on broadcast arrays of variances ``q1, q2 > 0`` and covariances
    ``c``: ``F = E[phi(u) phi(v)]``, ``D = E[phi'(u) phi'(v)]`` (None when ``ntk=False``), with
    error estimates ``eF = 8 eps`` times the sum of the sizes of ``F``'s terms and
    ``eD = 8 eps sum |coefficients|`` (docs/theory.md §34).  ``form``: a :class:`PWLForm` or an
    activation.  A jump makes ``phi'`` hold a Dirac delta: ``D`` is then NoClosedFormError.

    >>> F, D, eF, eD = pwl_kernels("hardtanh", 1.0, 1.0, 1.0)      # E hardtanh(X)^2, P(|X| < 1)
    >>> from math import erf, exp, pi, sqrt
    >>> m2 = erf(1 / sqrt(2)) - 2 * exp(-0.5) / sqrt(2 * pi) + (1 - erf(1 / sqrt(2)))
    >>> bool(abs(F - m2) < 1e-15), bool(abs(D - erf(1 / sqrt(2))) < 1e-15)
    (True, True)
    """
    form = _as_form(form)
    if ntk and not form.continuous:
        raise NoClosedFormError("phi jumps: phi' holds a Dirac delta, and the NTK step does not exist")
    a, b, rho = _inputs(q1, q2, c)
    al_c, be_c, ramps = form.ramps()
    om = 1.0 - np.abs(rho)
    s = np.sqrt(om * (2.0 - om))
    sg = np.where(rho < 0, -1.0, 1.0)
    # the centre's affine part with itself
    F = al_c * al_c * a * b * rho + be_c * be_c
    size = np.abs(al_c * al_c * a * b * rho) + be_c * be_c
    D = np.full(rho.shape, al_c * al_c) if ntk else None
    sizeD = np.full(rho.shape, abs(al_c * al_c))
    hs = [sig * t / a for sig, t, _, _ in ramps]
    ks = [sig * t / b for sig, t, _, _ in ramps]
    for (sig, t, da, J), h, k in zip(ramps, hs, ks):
        for z, gain, other in ((h, a, b), (k, b, a)):     # g_p(u) against the centre of v, and vice versa
            Pz, pz = ndtr(-z), _pdf(z)
            mean = da * gain * (pz - z * Pz) + J * Pz
            slope = sig * (da * gain * Pz + J * pz)        # E[g'(X)] (Stein: E[Y g(X)] = rho E[g'(X)])
            term = al_c * other * rho * slope + be_c * mean
            F = F + term
            size = size + np.abs(al_c * other * rho * slope) + np.abs(be_c) * (np.abs(da * gain) * (pz + np.abs(z) * Pz)
                                                                         + abs(J) * Pz)
            if ntk:
                D = D + al_c * da * sig * Pz
                sizeD = sizeD + abs(al_c * da)
    seen = {}      # corners met twice (hardtanh: (1/a, 1/b) from both sides) are computed once
    for (sp_, tp, dap, Jp), h in zip(ramps, hs):
        for (sq, tq, daq, Jq), k in zip(ramps, ks):
            key = (sp_ * tp, sq * tq, sp_ * sq)
            if key not in seen:
                seen[key] = _orthant(h, k, sp_ * sq * sg, om, s)
            L, R, Shk, Skh, sR = seen[key]
            A, B = dap * a, daq * b
            F = F + A * B * R + A * Jq * Shk + Jp * B * Skh + Jp * Jq * L
            size = size + np.abs(A * B) * sR + (np.abs(A * Jq) + np.abs(Jp * B)) * (np.abs(h) + np.abs(k) + 2) \
                + abs(Jp * Jq)
            if ntk:
                D = D + dap * daq * sp_ * sq * L
                sizeD = sizeD + abs(dap * daq)
    # the rounding of rho = c / sqrt(q1 q2) (a few ulps): |dF/drho| = a b |D| <= a b max alpha^2, and
    # D moves by at most sum |dalpha_p dalpha_q| |asin r' - asin r| / (2 pi) (see pwl_d_bound)
    # (sqrt(fl(q q)) = q exactly: with q1 = q2 only the division rounds, and c = +-q gives rho = +-1 exactly)
    q1, q2, c = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (q1, q2, c)))
    dr = np.where(q1 == q2, np.where(np.abs(c) == q1, 0.0, _EPS * np.abs(rho)), 4 * _EPS * np.abs(rho))
    top = max(float(v) ** 2 for v in form.slopes)
    eF = 8 * _EPS * size + a * b * top * dr
    if not ntk:
        return F, None, eF, None
    w = sum(abs(p[2] * q[2]) for p in ramps for q in ramps)
    return F, D, eF, 8 * _EPS * sizeD + w * _asin_step(rho, dr) / (2 * math.pi)


def _asin_step(rho, dr):
    """``max |asin r' - asin rho|`` over ``|r' - rho| <= dr``, ``r'`` in [-1, 1]."""
    up = np.arcsin(np.minimum(rho + dr, 1.0)) - np.arcsin(rho)
    down = np.arcsin(rho) - np.arcsin(np.maximum(rho - dr, -1.0))
    return np.fmax(up, down)


def pwl_mean(form, q):
    """``E phi(sqrt(q) X)`` in float64 (arrays ``q > 0``).

    >>> bool(abs(pwl_mean("relu", 4.0) - 2 / np.sqrt(2 * np.pi)) < 1e-15)
    True
    """
    form = _as_form(form)
    q = np.asarray(q, dtype=float)
    if not (np.isfinite(q) & (q > 0)).all():
        raise InvalidInputError(f"q must be positive and finite, got {q!r}")
    a = np.sqrt(q)
    _, be_c, ramps = form.ramps()
    out = np.full(q.shape, be_c)
    for sig, t, da, J in ramps:
        z = sig * t / a
        Pz = ndtr(-z)
        out = out + da * a * (_pdf(z) - z * Pz) + J * Pz
    return out


def pwl_d_bound(form, q1, q2, c, dc):
    """A bound on ``|D(q1, q2, c') - D(q1, q2, c)|`` over ``|c' - c| <= dc``:
    ``sum_{p,q} |dalpha_p dalpha_q| max |asin r' - asin r| / (2 pi)`` (``D`` depends on ``c`` only
    through its ``L`` terms, and ``dL/dr = phi_2(h, k; r) <= 1/(2 pi sqrt(1 - r^2))``), plus 4 eps in
    ``r``.  Multiply by nothing: it is already in units of ``D``.

    >>> float(pwl_d_bound("relu", 1.0, 1.0, 0.0, 1e-3)) < 1e-3 / (2 * np.pi) * 1.001
    True
    """
    form = _as_form(form)
    _, _, ramps = form.ramps()
    w = sum(abs(p[2] * q[2]) for p in ramps for q in ramps)
    a, b, rho = _inputs(q1, q2, c)
    dr = np.asarray(dc, dtype=float) / (a * b) + 4 * _EPS
    return w * _asin_step(rho, dr) / (2 * math.pi)


# -- mpmath ----------------------------------------------------------------------------------------
def _mp(v, dps):
    if isinstance(v, sp.Basic):
        if v.is_Rational:
            return mpmath.mpf(int(v.p)) / int(v.q)
        return mpmath.mpf(sp.Float(v.evalf(dps + 5), dps + 5)._mpf_)
    return mpmath.mpf(v)


def _mp_upper(h, k, r, tol):
    """``P(X > h, Y > k)``, correlation ``r``: ``Phi(-h) Phi(-k) + (1/(2 pi)) int_0^{asin r} e^{-(h^2 + k^2 -
    2 h k sin t)/(2 cos^2 t)} dt`` (tanh-sinh; PrecisionError when mpmath's estimate exceeds ``tol``)."""
    if abs(r) == 1:
        if r > 0:
            return mpmath.ncdf(-max(h, k))
        return max(mpmath.ncdf(-h) - mpmath.ncdf(k), mpmath.mpf(0))      # P(h < X < -k)
    base = mpmath.ncdf(-h) * mpmath.ncdf(-k)
    if r == 0:
        return base
    hs, hk = h * h + k * k, 2 * h * k

    def f(t):
        c2 = mpmath.cos(t) ** 2
        return mpmath.exp(-(hs - hk * mpmath.sin(t)) / (2 * c2)) if c2 > 0 else mpmath.mpf(0)
    end = mpmath.asin(r)
    val, err = mpmath.quad(f, [0, end / 2, end], error=True, maxdegree=10)
    if err > tol * 2 * mpmath.pi:
        raise PrecisionError(f"Phi_2 at h = {mpmath.nstr(h, 8)}, k = {mpmath.nstr(k, 8)}, r = {mpmath.nstr(r, 12)}: "
                             f"quadrature error estimate {mpmath.nstr(err, 3)} above {mpmath.nstr(tol, 3)}")
    return base + val / (2 * mpmath.pi)


def _mp_terms(form, q1, q2, c, ntk, wdps, tol):
    al_c, be_c, ramps = form.ramps(lambda v: _mp(v, wdps))
    a, b = mpmath.sqrt(q1), mpmath.sqrt(q2)
    rho = c / (a * b)
    if q1 == q2 == c:
        rho = mpmath.mpf(1)
    if abs(rho) > 1 + mpmath.mpf(10) ** (-(wdps - 10) // 2):     # beyond rounding of the caller's c
        raise InvalidInputError(f"|rho| > 1 (rho = {mpmath.nstr(rho, 12)})")
    rho = max(min(rho, mpmath.mpf(1)), mpmath.mpf(-1))
    s = mpmath.sqrt((1 - rho) * (1 + rho))
    F = al_c * al_c * a * b * rho + be_c * be_c
    size = abs(F)
    D = al_c * al_c if ntk else None
    for sig, t, da, J in ramps:
        for z, gain, other in ((sig * t / a, a, b), (sig * t / b, b, a)):
            Pz, pz = mpmath.ncdf(-z), mpmath.npdf(z)
            mean = da * gain * (pz - z * Pz) + J * Pz
            slope = sig * (da * gain * Pz + J * pz)
            F += al_c * other * rho * slope + be_c * mean
            size += abs(al_c * other * rho * slope) + abs(be_c * mean)
            if ntk:
                D += al_c * da * sig * Pz

    def Phi(num):            # Phi(num / s), with the limit at s = 0
        if s == 0:
            return mpmath.mpf(1) if num > 0 else (mpmath.mpf(0) if num < 0 else mpmath.mpf(1) / 2)
        return mpmath.ncdf(num / s)
    for sp_, tp, dap, Jp in ramps:
        for sq, tq, daq, Jq in ramps:
            r = sp_ * sq * rho
            h, k = sp_ * tp / a, sq * tq / b
            L = _mp_upper(h, k, r, tol)
            ph, pk = mpmath.npdf(h), mpmath.npdf(k)
            Ph, Pk = Phi(r * h - k), Phi(r * k - h)
            E = s * ph * mpmath.npdf((k - r * h) / s) if s > 0 else mpmath.mpf(0)
            R = (r + h * k) * L - k * ph * Ph - h * pk * Pk + E
            A, B = dap * a, daq * b
            F += A * B * R + A * Jq * (ph * Ph + r * pk * Pk - h * L) + Jp * B * (pk * Pk + r * ph * Ph - k * L) \
                + Jp * Jq * L
            size += abs(A * B) * (abs(r + h * k) * L + abs(k * ph * Ph) + abs(h * pk * Pk) + E) \
                + (abs(A * Jq) + abs(Jp * B)) * (abs(h) + abs(k) + 2) + abs(Jp * Jq)
            if ntk:
                D += dap * daq * sp_ * sq * L
    return F, D, size, s


def pwl_kernels_mp(form, q1, q2, c, ntk=True, dps=None):
    """``(F, D)`` as mpf to ``dps`` significant digits (default: the ambient ``mpmath.mp.dps``):
    the sums of :func:`pwl_kernels` in mpmath, ``Phi_2`` by tanh-sinh quadrature in ``asin r``
    (estimated: mpmath's error estimate is held below the target).  Guard digits cover the
    ``1/s`` sensitivity of the terms near ``|rho| = 1`` and the cancellation of terms larger than
    the result (the working precision is raised until it covers both).  ``q1, q2, c``: numbers
    (floats, mpf, SymPy rationals).  ``D`` is None when ``ntk=False``.

    >>> F, D = pwl_kernels_mp("relu", 1, 1, sp.Rational(1, 2), dps=30)
    >>> r = mpmath.mpf(1) / 2
    >>> with mpmath.workdps(40):
    ...     ok = abs(F - (mpmath.sqrt(1 - r * r) + (mpmath.pi - mpmath.acos(r)) * r) / (2 * mpmath.pi)) < 1e-30
    >>> ok
    True
    """
    form = _as_form(form)
    if ntk and not form.continuous:
        raise NoClosedFormError("phi jumps: phi' holds a Dirac delta, and the NTK step does not exist")
    dps = int(dps or mpmath.mp.dps)
    if dps < 1:
        raise InvalidInputError(f"dps must be a positive integer, got {dps!r}")
    with mpmath.workdps(dps + 10):
        vals = [_mp(v, dps + 10) for v in (q1, q2, c)]
        if not (vals[0] > 0 and vals[1] > 0):
            raise InvalidInputError(f"the variances must be positive, got q1 = {q1!r}, q2 = {q2!r}")
        rho = vals[2] / mpmath.sqrt(vals[0] * vals[1])
        om = 1 - abs(rho)
        lost = 0 if om <= 0 else max(0, int(-mpmath.log10(om) / 2) + 1)
    guard = 10 + lost
    for _ in range(4):
        wdps = dps + guard
        with mpmath.workdps(wdps):
            vals = [_mp(v, wdps) for v in (q1, q2, c)]
            F, D, size, _ = _mp_terms(form, *vals, ntk, wdps, mpmath.mpf(10) ** (-wdps))
            scale = max(abs(F), mpmath.mpf(10) ** (-dps - 20))
            need = 10 + lost + max(0, int(mpmath.log10(size / scale)) + 1)
            if ntk and D != 0:
                need = max(need, 10 + lost + max(0, int(mpmath.log10(size / abs(D))) + 1))
        if need <= guard:
            return F, D
        guard = need
    raise PrecisionError(f"the piecewise-linear kernel lost more than {guard} digits to cancellation "
                         f"at q1 = {q1}, q2 = {q2}, c = {c}")


def pwl_mean_mp(form, q, dps=None):
    """``E phi(sqrt(q) X)`` as an mpf to ``dps`` digits (default: ambient).

    >>> m = pwl_mean_mp("relu", 4, dps=30)
    >>> with mpmath.workdps(40):
    ...     ok = abs(m - 2 / mpmath.sqrt(2 * mpmath.pi)) < mpmath.mpf(10) ** -30
    >>> ok
    True
    """
    form = _as_form(form)
    dps = int(dps or mpmath.mp.dps)
    with mpmath.workdps(dps + 15):
        q = _mp(q, dps + 15)
        if not q > 0:
            raise InvalidInputError(f"the variance must be positive, got q = {q}")
        _, be_c, ramps = form.ramps(lambda v: _mp(v, dps + 15))
        a = mpmath.sqrt(q)
        out = be_c
        for sig, t, da, J in ramps:
            z = sig * t / a
            Pz = mpmath.ncdf(-z)
            out += da * a * (mpmath.npdf(z) - z * Pz) + J * Pz
        return out


__all__ = ["PWLForm", "pwl_d_bound", "pwl_form", "pwl_kernels", "pwl_kernels_mp", "pwl_mean", "pwl_mean_mp"]
