r"""The kernel an activation layer applies to two inputs of different variances.

For ``(u, v)`` centred Gaussian with ``E u^2 = q_1``, ``E v^2 = q_2``, ``E uv = c`` and
``rho = c / sqrt(q_1 q_2)``:

* ``F(q_1, q_2, c) = E[phi(u) phi(v)] = sum_k a_k(q_1) a_k(q_2) rho^k`` (the NNGP step; Mehler's
  formula with ``a_k(q) = E[phi(sqrt(q) X) He_k(X)] / sqrt(k!)``);
* ``D(q_1, q_2, c) = E[phi'(u) phi'(v)] = dF/dc`` (Price's theorem; the NTK step, Jacot et al.,
  NeurIPS 2018), the same series for ``phi'``;
* the feature mean ``E phi(sqrt(q) X)`` and the diagonal ``E phi(sqrt(q) X)^2``.

Three evaluators, each checked against another in ``tests/test_nn_kernels.py``:

* **exact**: ``F`` and ``D`` derived in closed form with two gains ``a = sqrt(q_1)``,
  ``b = sqrt(q_2)`` (:func:`symkernel.kernels.closed_forms.cross_closed_form`), used symbolically,
  in float64 (lambdified) and at any ``dps`` (mpmath);
* **Mehler series in float64** where no closed form exists: the ``a_k(q)`` of every input at once
  by composite Gauss-Legendre quadrature of the orthonormal Hermite functions, summed by Horner in
  ``rho``; its per-entry error estimate is the Parseval tail bound
  ``|rho|^{K+1} sqrt(R_K(q_1) R_K(q_2))``, ``R_K = E phi^2 - sum_{k<=K} a_k^2`` (estimated: the
  ``a_k`` come from a quadrature);
* at ``dps`` digits: the closed forms evaluated with mpmath, else Mehler's series with proven
  coefficients and a Parseval tail bound (:mod:`symkernel.nn.series_mp`).

>>> import numpy as np
>>> pk = PairKernel("relu")
>>> pk.exact_nngp
a*b*(2*rho*asin(rho) + pi*rho + 2*sqrt(1 - rho**2))/(4*pi)
>>> F, D, err = pk.float_step(np.array([[1.0]]), np.array([[4.0]]), np.array([[0.0]]))
>>> float(F[0, 0]) == 2 / (2 * np.pi)          # E[relu(u) relu(v)] = sqrt(q1 q2)/(2 pi) at c = 0
True
"""
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, lru_cache

import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.core.activations import Activation, as_activation
from symkernel.core.numpy_eval import numpy_lambdify, numpy_modules
from symkernel.core.symbols import rho, x
from symkernel.gaussian.expectation import check_square_integrable, expectation
from symkernel.kernels.closed_forms import cross_closed_form, weak_derivative
from .series_mp import SeriesStep

#: the two gains ``a = sqrt(q_1)``, ``b = sqrt(q_2)`` of the closed forms
a, b = sp.symbols("a b", positive=True)

#: most Hermite terms of the float64 Mehler series
MAX_TERMS = 400
#: with one variance per side and at least this many entries the series is interpolated on a
#: grid of GRID_POINTS intervals in theta = arccos(rho)
GRID_ENTRIES, GRID_POINTS = 4096, 16384
_EPS = np.finfo(float).eps


def _mpmath_lambdify(args, expr):
    return sp.lambdify(args, expr, modules="mpmath")


class PairKernel:
    """``F``, ``D``, the mean and the diagonal of one activation (see the module docstring)."""

    def __init__(self, act):
        self.act = as_activation(act)
        if self.act.free_parameters:
            raise InvalidInputError(f"give the parameters {sorted(map(str, self.act.free_parameters))} "
                                    "of the activation numeric values first")
        check_square_integrable(self.act)

    def __repr__(self):
        return f"PairKernel({self.act.name})"

    # -- exact ---------------------------------------------------------------------------------
    @cached_property
    def derivative(self):
        """phi' as an Activation, or None when phi jumps (phi' holds a Dirac delta: no NTK)."""
        d, why = weak_derivative(self.act)
        self.derivative_reason = why
        return d

    @cached_property
    def exact_nngp(self):
        """``E[phi(aX) phi(bY)]`` in ``a, b, rho``, or None."""
        e = self.act.expr
        return cross_closed_form(e.subs(x, a * x), e.subs(x, b * x))

    @cached_property
    def exact_ntk_factor(self):
        """``E[phi'(aX) phi'(bY)]`` in ``a, b, rho``, or None (no closed form or no phi')."""
        d = self.derivative
        if d is None:
            return None
        return cross_closed_form(d.expr.subs(x, a * x), d.expr.subs(x, b * x))

    @cached_property
    def exact_mean(self):
        """``E[phi(aX)]`` in ``a``, or None."""
        q = expectation(self.act.expr.subs(x, a * x))
        return q.expr

    def require_derivative(self):
        if self.derivative is None:
            raise NoClosedFormError(f"the NTK of {self.act.name} does not exist: {self.derivative_reason}")
        return self.derivative

    # -- float64 ----------------------------------------------------------------------------------
    @cached_property
    def _float_exact(self):
        """Lambdified (F, D, mean) where closed forms exist, else None entries."""
        def lam(expr, args):
            return None if expr is None else numpy_lambdify(args, expr)
        return (lam(self.exact_nngp, (a, b, rho)), lam(self.exact_ntk_factor, (a, b, rho)),
                lam(self.exact_mean, (a,)))

    @cached_property
    def _mehler(self):
        return _Mehler(self.act)

    @cached_property
    def _mehler_derivative(self):
        return _Mehler(self.require_derivative())

    @cached_property
    def _float_joint(self):
        """``(F, D)`` lambdified together with common subexpressions shared (``cse=True``), or None."""
        F, D = self.exact_nngp, self.exact_ntk_factor
        if F is None or D is None:
            return None
        return sp.lambdify((a, b, rho), (F, D), modules=numpy_modules(), cse=True)

    def float_step(self, q1, q2, c, ntk=True):
        """``(F, D, err)`` on broadcast arrays: ``err`` = (error estimate of F, of D) (zeros for
        closed forms, which are exact up to float64 rounding).  ``D`` is None when ``ntk=False``."""
        sa, sb = np.sqrt(q1), np.sqrt(q2)
        r = _correlation(q1, q2, c)
        fF, fD, _ = self._float_exact
        zero = np.zeros(r.shape)
        if ntk:
            self.require_derivative()
            joint = self._float_joint
            if joint is not None:
                F, D = _blocked(joint, sa, sb, r)
                return F, D, (zero, zero)
        if fF is not None:
            F, eF = _blocked(lambda *v: (fF(*v),), sa, sb, r)[0], zero
        else:
            F, eF = self._mehler.kernel(q1, q2, r)
        D = eD = None
        if ntk:
            if fD is not None:
                D, eD = _blocked(lambda *v: (fD(*v),), sa, sb, r)[0], zero
            else:
                D, eD = self._mehler_derivative.kernel(q1, q2, r)
        return F, D, (eF, eD)

    def float_diag(self, q, ntk=True):
        """``(E phi^2, E phi'^2, E phi)`` at the variances ``q`` (1-D arrays)."""
        F, D, _ = self.float_step(q, q, q, ntk=ntk)
        return F, D, self.float_mean(q)

    def float_mean(self, q):
        fm = self._float_exact[2]
        if fm is not None:
            return _broadcast(fm(np.sqrt(q)), np.shape(q))
        return self._mehler.mean(q)

    # -- mpmath ------------------------------------------------------------------------------------
    @cached_property
    def _mp_exact(self):
        def lam(expr, args):
            return None if expr is None else _mpmath_lambdify(args, expr)
        return (lam(self.exact_nngp, (a, b, rho)), lam(self.exact_ntk_factor, (a, b, rho)),
                lam(self.exact_mean, (a,)))

    def mp_step(self, q1, q2, c, ntk=True, dps=None):
        """``(F, D)`` at one entry, mpf inputs, at the ambient (caller-scoped) mpmath precision:
        closed forms evaluated, else Mehler's series with proven coefficients (:mod:`.series_mp`)
        to ``dps`` digits."""
        sa, sb = mpmath.sqrt(q1), mpmath.sqrt(q2)
        r = c / (sa * sb) if q1 * q2 != 0 else mpmath.mpf(0)
        r = max(min(r, mpmath.mpf(1)), mpmath.mpf(-1))
        fF, fD, _ = self._mp_exact
        dps = dps or mpmath.mp.dps - 10
        F = fF(sa, sb, r) if fF is not None else self._series("F").value(q1, q2, r, dps)
        D = None
        if ntk:
            self.require_derivative()
            D = fD(sa, sb, r) if fD is not None else self._series("D").value(q1, q2, r, dps)
        return F, D

    def mp_mean(self, q, dps=None):
        fm = self._mp_exact[2]
        if fm is not None:
            return fm(mpmath.sqrt(q))
        return self._series("F").mean(q, dps or mpmath.mp.dps - 10)

    def _series(self, which):
        key = "_series_" + which
        if key not in self.__dict__:
            act = self.act
            if which == "D":   # sigma' as differentiated (1 - tanh^2, not cosh^-2: Arb encloses it)
                self.require_derivative()
                act = Activation(f"{self.act.name}'", sp.diff(self.act.expr, x)) \
                    if len(self.act.pieces) == 1 else self.derivative
            self.__dict__[key] = SeriesStep(act)
        return self.__dict__[key]


def _broadcast(v, shape):
    return np.broadcast_to(np.asarray(v, dtype=float), shape).copy()


#: rows of one block of the closed-form evaluation (a block of temporaries stays in cache)
_BLOCK = 1 << 15


def _blocked(fn, sa, sb, r):
    """``fn(sa, sb, r)`` (a tuple of arrays) evaluated on blocks of rows of the 2-D ``r``, in
    threads (NumPy releases the GIL in its loops); 1-D or small inputs in one call."""
    shape = r.shape
    if r.ndim != 2 or r.size <= 2 * _BLOCK:
        return tuple(_broadcast(v, shape) for v in fn(sa, sb, r))
    sa = np.broadcast_to(sa, (shape[0], 1)) if np.ndim(sa) == 2 and np.shape(sa)[1] == 1 else None
    if sa is None or np.ndim(sb) != 2 or np.shape(sb)[0] != 1:
        return tuple(_broadcast(v, shape) for v in fn(*np.broadcast_arrays(sa, sb, r)))
    rows = max(1, _BLOCK // shape[1])
    first = fn(sa[:1], sb, r[:1])
    outs = tuple(np.empty(shape) for _ in first)

    def work(i):
        vals = fn(sa[i:i + rows], sb, r[i:i + rows])
        for o, v in zip(outs, vals):
            o[i:i + rows] = v
    with ThreadPoolExecutor(_THREADS) as pool:
        list(pool.map(work, range(0, shape[0], rows)))
    return outs


_THREADS = max(1, min(4, os.cpu_count() or 1))


def _correlation(q1, q2, c):
    """``rho = c / sqrt(q1 q2)`` (0 where an input has zero variance), rounding beyond +-1 removed."""
    q1, q2, c = np.asarray(q1, float), np.asarray(q2, float), np.asarray(c, float)
    den = np.sqrt(q1 * q2)                 # sqrt(q q) == q exactly: rho = 1 on the diagonal
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.divide(c, den, out=np.zeros(np.broadcast_shapes(c.shape, den.shape)), where=den > 0)
    if r.size and (r.max() > 1 + 1e-10 or r.min() < -1 - 1e-10):
        raise InvalidInputError("a covariance exceeds the geometric mean of its variances "
                                "(|rho| > 1): the input kernel is not positive semidefinite")
    return np.clip(r, -1.0, 1.0, out=r)


# -- the float64 Mehler series -------------------------------------------------------------------------
def _gl_nodes(edges, per_panel=24):
    """Composite Gauss-Legendre nodes and weights on consecutive panels ``edges``."""
    t, w = np.polynomial.legendre.leggauss(per_panel)
    lo, hi = edges[:-1, None], edges[1:, None]
    half = (hi - lo) / 2
    return ((lo + hi) / 2 + half * t).ravel(), (half * w).ravel()


class _Mehler:
    """Hermite coefficients ``a_k(q)`` of ``f(sqrt(q) x)`` for many ``q`` and their Mehler sums."""

    def __init__(self, act):
        self.act = act
        self.f = act.numpy()
        self.breaks = [float(p) for p in act.breakpoints]
        self.K = MAX_TERMS
        half = np.sqrt(4 * self.K + 2) + 12          # beyond the turning point of every g_k, k <= K
        self.L = half

    def _nodes(self, q):
        """Nodes in x for variance q: panels of width <= 1/2 on [-L, L], split at b/sqrt(q)."""
        cuts = [b / np.sqrt(q) for b in self.breaks if abs(b / np.sqrt(q)) < self.L]
        edges = np.unique(np.concatenate([np.linspace(-self.L, self.L, int(4 * self.L) + 1), cuts]))
        return _gl_nodes(edges)

    def _hermite_functions(self, t, w):
        """``w_m g_k(t_m) e^{-t^2/4} / (2 pi)^{1/4}`` for k <= K: the quadrature of
        ``E[f He_k]/sqrt(k!)`` as a dot product, with ``g_k`` the orthonormal Hermite functions
        (recurrence ``g_{k+1} = (t g_k - sqrt(k) g_{k-1}) / sqrt(k+1)``; bounded, no overflow)."""
        g = np.empty((self.K + 1, t.size))
        g[0] = np.exp(-t * t / 4) / (2 * np.pi) ** 0.25
        g[1] = t * g[0]
        for k in range(1, self.K):
            g[k + 1] = (t * g[k] - np.sqrt(k) * g[k - 1]) / np.sqrt(k + 1)
        return g * (w * g[0])

    @cached_property
    def _shared(self):
        """Nodes independent of q (every breakpoint at 0): computed once."""
        if any(b != 0 for b in self.breaks):
            return None
        t, w = self._nodes(1.0)
        return t, w, self._hermite_functions(t, w), w * np.exp(-t * t / 2) / np.sqrt(2 * np.pi)

    def coefficients(self, q):
        """``(A, m2)``: ``A[i, k] = a_k(q_i)``, ``m2[i] = E f(sqrt(q_i) X)^2`` for unique ``q``."""
        q = np.asarray(q, float)
        shared = self._shared
        if shared is not None:
            t, w, H, wg = shared
            with np.errstate(over="ignore", invalid="ignore"):
                vals = self.f(np.sqrt(q)[:, None] * t[None, :])
            vals = np.where(np.isfinite(vals), vals, 0.0) if not np.isfinite(vals).all() else vals
            return vals @ H.T, (vals * vals) @ wg
        A = np.empty((q.size, self.K + 1))
        m2 = np.empty(q.size)
        for i, qi in enumerate(q):
            t, w = self._nodes(qi)
            vals = self.f(np.sqrt(qi) * t)
            A[i] = self._hermite_functions(t, w) @ vals
            m2[i] = (vals * vals) @ (w * np.exp(-t * t / 2)) / np.sqrt(2 * np.pi)
        return A, m2

    def mean(self, q):
        A, _ = self._table(np.ravel(q))
        return A[:, 0].reshape(np.shape(q))

    def _table(self, qs):
        """``coefficients`` at the unique values of ``qs``, remembered for the last few arrays (a
        layer asks for the same variances in its matrix step, its diagonal and its mean)."""
        qs = np.ascontiguousarray(qs, dtype=float)
        key = (qs.shape, qs.tobytes())
        memo = self.__dict__.setdefault("_memo", {})
        hit = memo.get(key)
        if hit is None:
            u, inv = np.unique(qs, return_inverse=True)
            A, m2 = self.coefficients(u)
            hit = (A[inv], m2[inv])
            if len(memo) >= 8:
                memo.pop(next(iter(memo)))
            memo[key] = hit
        return hit

    def kernel(self, q1, q2, r):
        """``(sum_k a_k(q1) a_k(q2) r^k, error estimate)`` on arrays q1 (n1,1), q2 (1,n2), r."""
        q1b, q2b, r = np.broadcast_arrays(np.asarray(q1, float), np.asarray(q2, float), r)
        shape = r.shape
        rows, cols = np.asarray(q1, float).ravel(), np.asarray(q2, float).ravel()
        outer = rows.size * cols.size == r.size and np.ndim(q1) == 2 and np.ndim(q2) == 2 \
            and np.shape(q1)[1] == 1 and np.shape(q2)[0] == 1
        if not outer:   # elementwise (the diagonal): pair each entry with itself
            A1, m1 = self._table(q1b.ravel())
            A2, m2 = self._table(q2b.ravel())
            rr = r.ravel()
            K = self._terms(m1, A1, m2, A2)
            S = A1[:, K] * A2[:, K]
            for k in range(K - 1, -1, -1):
                S = S * rr + A1[:, k] * A2[:, k]
            err = self._tail(A1, m1, A2, m2, K, rr, elementwise=True)
            same = (rr == 1) & (q1b.ravel() == q2b.ravel())     # E f^2 directly on the diagonal
            S = np.where(same, m1, S)
            err = np.where(same, 4 * _EPS * m1, err)
            return S.reshape(shape), err.reshape(shape)
        A1, m1 = self._table(rows)
        A2, m2 = self._table(cols)
        K = self._terms(m1, A1, m2, A2)
        if r.size >= GRID_ENTRIES and np.ptp(rows) == 0 and np.ptp(cols) == 0:
            return self._on_grid(A1[0, :K + 1], A2[0, :K + 1], m1[:1], m2[:1], A1[:1], A2[:1], K, r)
        S = np.multiply.outer(A1[:, K], A2[:, K])
        for k in range(K - 1, -1, -1):
            S *= r
            S += np.multiply.outer(A1[:, k], A2[:, k])
        err = self._tail(A1, m1, A2, m2, K, r, elementwise=False)
        same = (r == 1) & np.equal.outer(rows, cols)    # the same point twice: E f^2 directly
        if same.any():
            i, j = np.nonzero(same)
            S[i, j] = m1[i]
            err[i, j] = 4 * _EPS * m1[i]
        return S, err

    def _on_grid(self, a, b, m1, m2, A1, A2, K, r):
        """One variance on each side: the series is a function of rho alone.  Evaluate it and its
        theta-derivative on the grid theta_j = j pi / N (rho = cos theta: dense near +-1), then
        cubic Hermite interpolation in theta; the interpolation error is estimated on each
        interval by the exact series at its midpoint (added to the tail bound)."""
        coef = a * b
        n = GRID_POINTS
        theta = np.linspace(0.0, np.pi, 2 * n + 1)
        g = np.cos(theta)
        F = np.polynomial.polynomial.polyval(g, coef)
        dF = -np.sin(theta) * np.polynomial.polynomial.polyval(g, coef[1:] * np.arange(1, coef.size))
        nodes, mids = slice(0, None, 2), slice(1, None, 2)
        h = np.pi / n
        Fn, dFn = F[nodes], dF[nodes] * h
        interp_mid = (Fn[:-1] + Fn[1:]) / 2 + (dFn[:-1] - dFn[1:]) / 8
        local = np.abs(interp_mid - F[mids]) * 2 + 4 * _EPS * np.abs(F[mids])
        t = np.arccos(np.clip(r, -1.0, 1.0)) / h
        j = np.minimum(t.astype(np.intp), n - 1)
        s = t - j
        s2, s3 = s * s, s * s * s
        out = (2 * s3 - 3 * s2 + 1) * Fn[j] + (s3 - 2 * s2 + s) * dFn[j] \
            + (3 * s2 - 2 * s3) * Fn[j + 1] + (s3 - s2) * dFn[j + 1]
        tail = self._tail(A1, m1, A2, m2, K, np.abs(r), elementwise=False)
        return out, tail.reshape(r.shape) + local[j]

    def _residuals(self, A, m2, K):
        """``R_K = m2 - sum_{k<=K} a_k^2``, floored at the float64 noise of the sum."""
        s = (A[:, :K + 1] ** 2).sum(axis=1)
        return np.maximum(m2 - s, 4 * (K + 1) * _EPS * m2)

    def _terms(self, m1, A1, m2, A2):
        """Fewest terms after which every residual is at its float64 floor (at most K)."""
        cum = np.cumsum(np.concatenate([A1, A2]) ** 2, axis=1)
        m = np.concatenate([m1, m2])
        ok = (m[:, None] - cum) <= 8 * _EPS * m[:, None] + 1e-300
        done = ok.all(axis=0)
        return int(np.argmax(done)) + 8 if done.any() and np.argmax(done) + 8 <= self.K else self.K

    def _tail(self, A1, m1, A2, m2, K, r, elementwise):
        R1, R2 = self._residuals(A1, m1, K), self._residuals(A2, m2, K)
        scale = np.sqrt(R1 * R2) if elementwise else np.sqrt(np.multiply.outer(R1, R2))
        mag = np.sqrt(m1 * m2) if elementwise else np.sqrt(np.multiply.outer(m1, m2))
        with np.errstate(under="ignore"):
            return np.abs(r) ** (K + 1) * scale + 4 * (K + 1) * _EPS * mag


# -- mpmath paths ----------------------------------------------------------------------------------
def pair_kernel(act):
    """The :class:`PairKernel` of an activation, one per expression (its derivations are cached)."""
    act = as_activation(act)
    return _pair_kernel(act.expr, act.name)


@lru_cache(maxsize=128)
def _pair_kernel(expr, name):
    return PairKernel(Activation(name, expr))


__all__ = ["MAX_TERMS", "PairKernel", "a", "b", "pair_kernel"]
