r"""The kernel an activation layer applies to two inputs of different variances.

For ``(u, v)`` centred Gaussian with ``E u^2 = q_1``, ``E v^2 = q_2``, ``E uv = c`` and
``rho = c / sqrt(q_1 q_2)``:

* ``F(q_1, q_2, c) = E[phi(u) phi(v)] = sum_k a_k(q_1) a_k(q_2) rho^k`` (the NNGP step; Mehler's
  formula with ``a_k(q) = E[phi(sqrt(q) X) He_k(X)] / sqrt(k!)``);
* ``D(q_1, q_2, c) = E[phi'(u) phi'(v)] = dF/dc`` (Price's theorem; the NTK step, Jacot et al.,
  NeurIPS 2018), the same series for ``phi'``;
* the feature mean ``E phi(sqrt(q) X)`` and the diagonal ``E phi(sqrt(q) X)^2``.

The evaluators, each checked against another (``tests/test_nn_kernels.py``, ``test_nn_pair_*``):

* **exact**: ``F`` and ``D`` derived in closed form with two gains ``a = sqrt(q_1)``,
  ``b = sqrt(q_2)`` (:func:`symkernel.kernels.closed_forms.cross_closed_form`), used symbolically,
  in float64 (lambdified) and at any ``dps`` (mpmath);
* **ELU, CELU and SELU** (:attr:`PairKernel._elu_params`) in float64 by the scaled bivariate
  normal CDF of :mod:`symkernel.nn.bivariate` where every ``kappa^2 q`` lies in its tested range
  (docs/theory.md §25, §27); SELU and ELU with alpha != 1 in the angle
  (:mod:`symkernel.nn.elu_gap`, §33);
* **Mehler series in float64** where no closed form exists: the ``a_k(q)`` of every input at once
  by composite Gauss-Legendre quadrature of the orthonormal Hermite functions, summed by Horner in
  ``rho``; its per-entry error estimate is the Parseval tail bound
  ``|rho|^{K+1} sqrt(R_K(q_1) R_K(q_2))``, ``R_K = E phi^2 - sum_{k<=K} a_k^2`` (estimated: the
  ``a_k`` come from a quadrature);
* at ``dps`` digits: the closed forms evaluated with mpmath, else Mehler's series with proven
  coefficients and a Parseval tail bound (:mod:`symkernel.nn.series_mp`).

Where the exact engine has ``F`` but not ``D`` (GELU, the Gaussian bump), ``D = (1/(ab)) dF/drho``
(Price's theorem).  The float64 and torch paths evaluate the closed forms in forms that do not
overflow or cancel (:func:`~symkernel.kernels.closed_forms.float_form`: exponentials merged,
``asin`` near 1 as ``atan2``), and a non-finite value raises an error naming the variances
(docs/theory.md §22).

>>> import numpy as np
>>> pk = PairKernel("relu")
>>> pk.exact_nngp
a*b*(2*rho*asin(rho) + pi*rho + 2*sqrt(1 - rho**2))/(4*pi)
>>> F, D, err = pk.float_step(np.array([[1.0]]), np.array([[4.0]]), np.array([[0.0]]))
>>> float(F[0, 0]) == 2 / (2 * np.pi)          # E[relu(u) relu(v)] = sqrt(q1 q2)/(2 pi) at c = 0
True
"""
import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, lru_cache

import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.core.activations import Activation, as_activation
from symkernel.core.mp_eval import mp_lambdify
from symkernel.core.numpy_eval import numpy_lambdify, numpy_modules, torch_lambdify
from symkernel.core.symbols import rho, x
from symkernel.gaussian.expectation import check_square_integrable, expectation
from symkernel.kernels.closed_forms import cross_closed_form, float_form, price_derivative, weak_derivative
from .angles import gap_angles
from .bivariate import ELU_RANGE, elu_kernels_many, log_ncdf_neg
from .elu_gap import elu_theta_step
from .pwl_kernels import pwl_d_bound, pwl_form, pwl_kernels, pwl_kernels_mp, pwl_mean, pwl_mean_mp
from .series_mp import SeriesStep

#: the two gains ``a = sqrt(q_1)``, ``b = sqrt(q_2)`` of the closed forms
a, b = sp.symbols("a b", positive=True)
#: the angle ``theta = arccos(rho)`` of the closed forms in the angle (:func:`theta_form`)
theta = sp.Symbol("theta", nonnegative=True)
#: Gauss-Legendre nodes per panel and most panels of the integral of the gap (:func:`_gap_integral`)
GL_NODES, MAX_PANELS = 8, 64

#: most Hermite terms of the float64 Mehler series
MAX_TERMS = 400
#: with one variance per side and at least this many entries the series is interpolated on a
#: grid of GRID_POINTS intervals in theta = arccos(rho)
GRID_ENTRIES, GRID_POINTS = 4096, 16384
_EPS = np.finfo(float).eps


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
        """``E[phi'(aX) phi'(bY)]`` in ``a, b, rho``, or None (no closed form or no phi').  Where the
        exact engine has no closed form for it but has ``F`` (GELU, the Gaussian bump), Price's
        theorem gives it: ``(1/(a b)) dF/drho`` (phi has no jump, so phi' has no Dirac delta;
        :func:`~symkernel.kernels.closed_forms.price_derivative`, docs/theory.md §22)."""
        d = self.derivative
        if d is None:
            return None
        direct = cross_closed_form(d.expr.subs(x, a * x), d.expr.subs(x, b * x))
        if direct is None and self.exact_nngp is not None:
            return price_derivative(self.exact_nngp, a, b)
        return direct

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
            return None if expr is None else numpy_lambdify(args, float_form(expr))
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
        return sp.lambdify((a, b, rho), (float_form(F), float_form(D)), modules=numpy_modules(), cse=True)

    # -- the ELU family in closed form (symkernel.nn.bivariate) ------------------------------------
    @cached_property
    def _elu_params(self):
        """``(p, v, kappa)`` when phi = u x (x > 0), v (e^{kappa x} - 1) (x <= 0) with
        u, v, kappa > 0 (``p = u / kappa``; ELU, CELU, SELU, with gains): read off phi at -1, -2
        and 1, then checked at 12 points; else None."""
        expr = self.act.expr
        if not expr.has(sp.Piecewise) or not expr.has(sp.exp):
            return None
        f = self.act.numpy()
        with np.errstate(all="ignore"):
            y1, y2, u = (float(np.asarray(f(np.array([t])), float).ravel()[0])
                         for t in (-1.0, -2.0, 1.0))
        if not np.isfinite([y1, y2, u]).all() or y1 == 0 or not 1 < y2 / y1 < 2 or u <= 0:
            return None
        kappa = -math.log(y2 / y1 - 1)
        v = y1 / math.expm1(-kappa)
        if not (kappa > 0 and v > 0):
            return None
        t = np.array([1e-3, 0.37, 1.0, 2.5, 41.0, 1e3])
        with np.errstate(all="ignore"):
            pos, neg = (np.broadcast_to(np.asarray(f(s * t), float), t.shape) for s in (1.0, -1.0))
        if not (np.allclose(pos, u * t, rtol=1e-14, atol=0)
                and np.allclose(neg, v * np.expm1(-kappa * t), rtol=1e-13, atol=0)):
            return None
        return u / kappa, v, kappa

    @cached_property
    def elu_form(self):
        """``(p, v, kappa)`` of :attr:`_elu_params` when moreover phi' is continuous (``p = v``:
        ELU with alpha = 1, CELU, with gains), so that ``phi(x) = psi(kappa x)``,
        ``psi(t) = p t`` (t > 0), ``v (e^t - 1)`` has the closed-form kernel of
        :mod:`symkernel.nn.bivariate` (docs/theory.md §25); else None (SELU and ELU with
        alpha != 1: phi' jumps at 0, and the closed form in rho loses digits near rho = 1; the float64
        path carries their angle instead, :attr:`elu_split`).

        >>> pair_kernel("elu").elu_form
        (1.0, 1.0, 1.0)
        >>> pair_kernel("selu").elu_form is None
        True
        """
        params = self._elu_params
        if params is None or abs(params[0] - params[1]) > 1e-13 * params[1]:
            return None
        return params

    @cached_property
    def elu_split(self):
        """``(p, v, kappa)`` of :attr:`_elu_params` when ``p != v`` (SELU, ELU with alpha != 1): phi'
        jumps at 0, and the float64 path carries the angle through its closed form
        (:mod:`symkernel.nn.elu_gap`, docs/theory.md §33); else None.

        >>> pair_kernel("selu").elu_split is not None, pair_kernel("elu").elu_split
        (True, None)
        """
        params = self._elu_params
        if params is None or abs(params[0] - params[1]) <= 1e-13 * params[1]:
            return None
        return params

    @cached_property
    def pwl_form(self):
        """The :class:`~symkernel.nn.pwl_kernels.PWLForm` of a piecewise-linear phi with a corner and
        no closed form of its own (hardtanh, ReLU6, hard sigmoid, with gains and shifts; ReLU and leaky
        ReLU keep their closed forms in the angle); else None.  ``F``, ``D`` and the mean through the
        bivariate normal CDF (docs/theory.md §34).

        >>> pair_kernel("hardtanh").pwl_form.breaks, pair_kernel("relu").pwl_form
        ((-1, 1), None)
        """
        if self.exact_nngp is not None and (self.derivative is None or self.exact_ntk_factor is not None):
            return None
        form = pwl_form(self.act)
        return form if form is not None and form.breaks else None

    def _pwl_applies(self, *qs):
        """:attr:`pwl_form` where every variance of ``qs`` is positive, else None."""
        form = self.pwl_form
        if form is None or not all((np.asarray(q) > 0).all() for q in qs):
            return None
        return form

    def _elu_applies(self, *qs):
        """``(p, v, kappa)`` when the activation is of the ELU family (any ``p, v``) and every ``kappa^2 q`` of
        ``qs`` lies in :data:`~symkernel.nn.bivariate.ELU_RANGE` (where the closed form is tested),
        else None."""
        form = self._elu_params
        if form is None:
            return None
        k2 = form[2] * form[2]
        for q in qs:
            z = k2 * np.asarray(q, float)
            if z.size and not (ELU_RANGE[0] <= z.min() and z.max() <= ELU_RANGE[1]):
                return None
        return form

    def _elu_step(self, form, q1, q2, r, ntk):
        """``(F, D, (eF, eD))`` of the ELU family by the bivariate normal CDF
        (:func:`~symkernel.nn.bivariate.elu_kernels_many` at ``a = kappa sqrt(q_1)``,
        ``b = kappa sqrt(q_2)``; ``D`` gains ``kappa^2``), with per-entry error estimates
        ``8 eps S_F``, ``32 eps kappa^2 S_D`` (``S_F = p^2 ab + pv (a + b) + v^2``,
        ``S_D = (p + v)^2``: bounds on the sizes of the terms; measured against mpmath quadrature,
        the errors stay below ``1.3 eps S_F`` and ``1.25 eps S_D``, docs/theory.md §27)."""
        p, v, kappa = form
        A, B, R = np.broadcast_arrays(kappa * np.sqrt(q1), kappa * np.sqrt(q2), r)
        shape = R.shape
        flat = [np.ascontiguousarray(z, float).ravel() for z in (A, B, R)]
        F, D = elu_kernels_many(*flat, float(p), float(v))
        F, D = F.reshape(shape), D.reshape(shape) * (kappa * kappa)
        eF = 8 * _EPS * (p * p * A * B + p * v * (A + B) + v * v)
        eD = np.full(shape, 32 * _EPS * kappa * kappa * (p + v) ** 2)
        return F, (D if ntk else None), (eF, eD if ntk else None)

    def float_step(self, q1, q2, c, ntk=True):
        """``(F, D, err)`` on broadcast arrays: ``err`` = (error estimate of F, of D) (zeros for
        closed forms, which are exact up to float64 rounding).  ``D`` is None when ``ntk=False``.
        The ELU family (:attr:`_elu_params`: SELU and ELU with alpha != 1 too) takes its closed form
        where every ``kappa^2 q`` lies in ``ELU_RANGE``, else the Mehler series."""
        sa, sb = np.sqrt(q1), np.sqrt(q2)
        r = _correlation(q1, q2, c)
        fF, fD, _ = self._float_exact
        zero = np.zeros(r.shape)
        if ntk:
            self.require_derivative()
        elu = self._elu_applies(q1, q2)
        if elu is not None:
            F, D, errs = self._elu_step(elu, q1, q2, r, ntk)
            return _finite(self, q1, q2, F, D) + (errs,)
        pwl = self._pwl_applies(q1, q2)
        if pwl is not None:     # hardtanh, ReLU6, ...: Phi_2 closed form with per-entry estimates (§34)
            F, D, eF, eD = pwl_kernels(pwl, q1, q2, c, ntk=ntk)
            return _finite(self, q1, q2, F, D) + ((eF, eD),)
        if ntk:
            joint = self._float_joint
            if joint is not None:
                F, D = _blocked(joint, sa, sb, r)
                return _finite(self, q1, q2, F, D) + ((zero, zero),)
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
        return _finite(self, q1, q2, F, D) + ((eF, eD),)

    def uses_series(self, q1, q2, ntk=True):
        """Whether :meth:`float_step` at these variances takes F (or D, with ``ntk``) from the
        float64 Mehler series (no closed form applies), so that its error estimate includes a
        series tail; used to say what a PrecisionError comes from."""
        if self._elu_applies(q1, q2) is not None or self._pwl_applies(q1, q2) is not None:
            return False
        fF, fD, _ = self._float_exact
        if ntk and self._float_joint is not None:
            return False
        return fF is None or (ntk and fD is None)

    def float_d_error(self, q1, q2, c, dc, D):
        """A bound on the change of the NTK step ``D`` when the covariances ``c`` (outer grid
        ``q1`` (n1,) x ``q2`` (n2,)) are off by ``dc``: closed forms by evaluating ``D`` at
        ``rho +- drho`` (which sees the infinite slope of ``asin`` at ``rho = 1``), the ELU family's
        closed form by ``|dD/dc| = |E phi''(u) phi''(v)| <= kappa^4 v^2 sqrt(g(a) g(b))``,
        ``g(a) = e^{2a^2} Phi(-2a)`` (Price's theorem and Cauchy-Schwarz) where ``p = v``; where
        ``p != v`` (SELU) ``psi''`` holds ``w delta(t)``, ``w = p - v``: plus the cross terms
        ``kappa^2 |v w| (a + b) / (2 sqrt(2 pi)) drho`` and ``D``'s ReLU-ReLU part
        ``kappa^2 w^2 (1/2 - arccos(rho)/(2 pi))`` evaluated at ``rho +- drho`` (docs/theory.md §33),
        the Mehler series by
        ``drho sqrt(sum_k k a_k(q1)^2) sqrt(sum_k k a_k(q2)^2)`` (Cauchy-Schwarz on the
        derivative of the truncated series)."""
        pwl = self._pwl_applies(q1, q2)
        if pwl is not None:     # D moves with c only through its Phi_2 terms: sum |da da| |d asin r|/(2 pi)
            P = np.sqrt(np.multiply.outer(q1, q2))
            return pwl_d_bound(pwl, q1[:, None], q2[None, :], np.clip(c, -P, P), dc)
        P = np.sqrt(np.multiply.outer(q1, q2))
        elu = self._elu_applies(q1, q2)
        if elu is not None:     # |dD/dc| = |E phi''(u) phi''(v)| (Price), bounded as above
            p, v, kappa = elu
            sa, sb = (kappa * np.sqrt(np.asarray(q, float)) for q in (q1, q2))
            g1, g2 = (_elu_curvature(s) for s in (sa, sb))
            out = (dc + 4 * _EPS * P) * (kappa ** 4 * v * v) * np.sqrt(np.multiply.outer(g1, g2))
            if self.elu_split is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    dr = np.divide(dc, P, out=np.zeros(P.shape), where=P > 0) + 4 * _EPS
                cross = abs(v * (p - v)) * np.add.outer(sa, sb) / (2 * math.sqrt(2 * math.pi))
                r = _correlation(q1[:, None], q2[None, :], c)
                th = np.arccos(r)
                jump = np.fmax(np.arccos(np.maximum(r - dr, -1.0)) - th, th - np.arccos(np.minimum(r + dr, 1.0)))
                out = out + kappa ** 2 * (cross * dr + (p - v) ** 2 * jump / (2 * math.pi))
            return out
        with np.errstate(divide="ignore", invalid="ignore"):
            dr = np.divide(dc, P, out=np.zeros(P.shape), where=P > 0) + 4 * _EPS
        fD = self._float_exact[1]
        if fD is None:
            return dr * self._mehler_derivative.slope_bound(q1, q2)
        r = _correlation(q1[:, None], q2[None, :], c)
        sa, sb = np.sqrt(q1)[:, None], np.sqrt(q2)[None, :]
        with np.errstate(all="ignore"):
            up = np.abs(_broadcast(fD(sa, sb, np.minimum(r + dr, 1.0)), r.shape) - D)
            down = np.abs(_broadcast(fD(sa, sb, np.maximum(r - dr, -1.0)), r.shape) - D)
        return np.fmax(up, down)

    def float_diag(self, q, ntk=True):
        """``(E phi^2, E phi'^2, E phi)`` at the variances ``q`` (1-D arrays)."""
        F, D, _ = self.float_step(q, q, q, ntk=ntk)
        return F, D, self.float_mean(q)

    def float_mean(self, q):
        """``E phi(sqrt(q) X)``: closed forms lambdified, the ELU family (SELU too) by
        :func:`_elu_mean` (its generated form ``e^{a^2/2} (1 - erf(a/sqrt 2))/2`` cancels, and is
        inf - inf beyond ``a ~ 37``), else
        the Mehler series' ``a_0``."""
        if self._elu_params is not None:
            p, v, kappa = self._elu_params
            return _elu_mean(kappa * np.sqrt(np.asarray(q, float)), p, v)
        if self._pwl_applies(q) is not None:
            return pwl_mean(self.pwl_form, q)
        fm = self._float_exact[2]
        if fm is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                return _finite(self, q, q, _broadcast(fm(np.sqrt(q)), np.shape(q)))[0]
        return self._mehler.mean(q)

    # -- float64 in the angle (symkernel.nn.angles) -------------------------------------------------
    @cached_property
    def _float_theta(self):
        """``(F, D, dD/dtheta, CS)`` lambdified in ``(a, b, theta)`` (CS: the Cauchy-Schwarz gap
        ``sqrt(F(a,a,0) F(b,b,0)) - F(a,b,0)`` in ``(a, b)``, None when it is identically 0), or
        None without closed forms of both steps or when the rewriting in theta fails its check."""
        F, D = self.exact_nngp, (self.exact_ntk_factor if self.derivative is not None else None)
        if F is None or D is None:
            return None
        Ft, Dt = theta_form(float_form(F)), theta_form(float_form(D))
        if Ft is None or Dt is None:
            return None
        lam = sp.lambdify((a, b, theta), (Ft, Dt, sp.diff(Dt, theta)), modules=numpy_modules(), cse=True)
        lam_d = sp.lambdify((a, b, theta), Dt, modules=numpy_modules(), cse=True)
        with np.errstate(all="ignore"):       # the forms must be finite at theta = 0 (rho = 1)
            probes = [lam(1.3, 0.7, 0.0), lam(0.4, 2.0, 0.0), lam(1.1, 1.1, 0.0)]
        if not all(np.isfinite(float(v)) for p in probes for v in p):
            return None
        F0 = Ft.subs(theta, 0)
        cs = sp.sqrt(F0.subs(b, a) * F0.subs(a, b)) - F0
        points = ({a: sp.Rational(13, 10), b: sp.Rational(7, 10)}, {a: sp.Rational(1, 3), b: 3})
        values = [sp.N(cs.subs(p), 60) for p in points]
        if not all(v.is_real for v in values):
            return None
        if all(abs(v) < 1e-50 for v in values):
            cs = 0          # identically 0 (positively homogeneous activations: ReLU, abs, leaky)
        out = {"lam": lam, "lam_d": lam_d, "cs": None if cs == 0 else numpy_lambdify((a, b), cs)}
        # how the output angle is found: "direct" P' - F where D is smooth at rho = 1 (dD/dtheta = 0
        # at theta = 0: a loss of digits in theta' moves D by |dD/dtheta| dtheta, which the estimate
        # shows and which stays at rounding level); "table" for positively homogeneous activations
        # (theta' a function of theta alone); else "quad" (the gap integral per entry)
        if all(abs(float(v[2])) <= 1e-13 * abs(float(v[1])) for v in probes):
            out["mode"] = "direct"
        elif cs == 0 and Dt.free_symbols <= {theta} and _homogeneous(lam):
            out["mode"] = "table"
            out["table"] = _AngleTable(lam)
        else:
            out["mode"] = "quad"
        return out

    @property
    def has_theta_form(self):
        return self.elu_split is not None or self._float_theta is not None

    @property
    def theta_mode(self):
        """How the float64 path finds the output angle: "direct", "table" or "quad" (see
        :attr:`_float_theta`), "elu" for :attr:`elu_split` (:mod:`symkernel.nn.elu_gap`), None
        without closed forms in the angle."""
        if self.elu_split is not None:
            return "elu"
        forms = self._float_theta
        return None if forms is None else forms["mode"]

    def theta_applies(self, q1, q2):
        """Whether :meth:`float_theta_step` runs at these variances (the ELU family's closed form
        only where every ``kappa^2 q`` lies in ``ELU_RANGE``; else the caller's step in rho)."""
        if self.elu_split is not None:
            return self._elu_applies(q1, q2) is not None
        return self.has_theta_form

    def float_theta_step(self, q1, q2, th, dth):
        """``(F, D, eF, eD, theta', dtheta')`` on the outer grid ``q1`` (n1,) x ``q2`` (n2,) at the
        input angles ``th`` with error bound ``dth``: the closed forms evaluated in the angle and the
        output angle from the gap ``Gamma = P' (1 - cos theta')``, ``P' = sqrt(F_11 F_22)``:
        ``Gamma = CS + a b int_0^theta D(a, b, t) sin t dt`` where the direct ``P' - F`` would
        lose digits (``Gamma < P'/20``; adaptive Gauss-Legendre, :func:`_gap_integral`), else
        ``P' - F``.  SELU and ELU with alpha != 1 (:attr:`elu_split`): their closed form in the
        angle, :func:`symkernel.nn.elu_gap.elu_theta_step` (docs/theory.md §33)."""
        if self.elu_split is not None:
            F, D, eF, eD, th2, dth2 = elu_theta_step(*self.elu_split, q1, q2, th, dth)
            _finite(self, np.asarray(q1)[:, None], np.asarray(q2)[None, :], F, D)
            return F, D, eF, eD, th2, dth2
        forms = self._float_theta
        lam, lam_d, cs = forms["lam"], forms["lam_d"], forms["cs"]
        s1, s2 = np.sqrt(q1), np.sqrt(q2)
        sa, sb = s1[:, None], s2[None, :]
        shape = th.shape
        with np.errstate(over="ignore", invalid="ignore"):
            F, D, dD = (_broadcast(v, shape) for v in lam(sa, sb, th))
        _finite(self, sa * sa, sb * sb, F, D)
        sin_t = np.sin(th)
        absD = np.abs(D)
        slope = absD * sin_t
        slope *= sa
        slope *= sb                             # |dF/dtheta| = a b |D| sin(theta) (Price)
        eF = slope * dth
        eF += 8 * _EPS * np.abs(F)
        eD = np.abs(dD)
        eD *= dth
        eD += 8 * _EPS * absD
        if forms["mode"] == "table":
            th2, dth2 = forms["table"](th, dth, absD, sin_t)
            return F, D, eF, eD, th2, dth2
        f1 = _broadcast(lam(s1, s1, 0.0)[0], s1.shape)
        f2 = _broadcast(lam(s2, s2, 0.0)[0], s2.shape)
        P = np.sqrt(np.multiply.outer(f1, f2))
        gap = P - F
        dgap = 4 * _EPS * (P + np.abs(F)) + slope * dth
        i, j = np.nonzero(gap < 0.05 * P) if forms["mode"] == "quad" else ((), ())
        if len(i):     # P' - F would lose more than a digit: integrate
            ai, bi = s1[i], s2[j]
            integral, quad_err = _gap_integral(lambda t, k: lam_d(ai[k], bi[k], t), th[i, j])
            integral *= ai * bi
            # the Cauchy-Schwarz gap: 0 for equal variances, else its float64 value (>= 0)
            c0 = 0.0 if cs is None else np.where(ai == bi, 0.0, np.maximum(_broadcast(cs(ai, bi), ai.shape), 0))
            gap[i, j] = c0 + integral
            dgap[i, j] = slope[i, j] * dth[i, j] + 16 * _EPS * np.abs(integral) + ai * bi * quad_err \
                + (0.0 if cs is None else 8 * _EPS * P[i, j] * (ai != bi))
        th2, dth2 = gap_angles(gap, dgap, P)
        return F, D, eF, eD, th2, dth2

    # -- torch (autograd; symkernel.nn.differentiable) ----------------------------------------------
    @cached_property
    def _torch_exact(self):
        """(F, D, F at rho = 1, D at rho = 1, mean) lambdified to torch, None where no closed form."""
        def lam(expr, args):
            return None if expr is None else torch_lambdify(args, float_form(expr))
        F = self.exact_nngp
        D = self.exact_ntk_factor if self.derivative is not None else None
        return (lam(F, (a, b, rho)), lam(D, (a, b, rho)), lam(None if F is None else F.subs(rho, 1), (a, b)),
                lam(None if D is None else D.subs(rho, 1), (a, b)), lam(self.exact_mean, (a,)))

    def torch_step(self, q1, q2, c, same, ntk=True):
        """``(F, D)`` as torch tensors on the outer grid ``q1`` (n1,) x ``q2`` (n2,), covariances
        ``c``; ``same`` marks the entries of one input with itself (rho = 1: evaluated at rho = 1
        exactly, so no infinite derivative of asin(rho) there reaches the gradient)."""
        import torch

        fF, fD, fF1, fD1, _ = self._torch_exact
        sa, sb = torch.sqrt(q1)[:, None], torch.sqrt(q2)[None, :]
        den = sa * sb
        r = torch.clamp(c / torch.where(den > 0, den, torch.ones_like(den)), -1.0, 1.0)
        r = torch.where(same, torch.full_like(r, 0.5), r)
        shape = r.shape

        def closed(fn, fn1):
            return torch.where(same, torch.broadcast_to(torch.as_tensor(fn1(sa, sb)), shape),
                               torch.broadcast_to(torch.as_tensor(fn(sa, sb, r)), shape))
        F = closed(fF, fF1) if fF is not None else self._mehler.torch_kernel(q1, q2, r, same)
        D = None
        if ntk:
            self.require_derivative()
            D = closed(fD, fD1) if fD is not None else self._mehler_derivative.torch_kernel(q1, q2, r, same)
        return F, D

    def torch_diag(self, q, ntk=True):
        """``(E phi^2, E phi'^2, E phi)`` at the variances ``q`` (a 1-D tensor)."""
        import torch

        fF, fD, fF1, fD1, fm = self._torch_exact
        s = torch.sqrt(q)
        F = torch.broadcast_to(torch.as_tensor(fF1(s, s)), q.shape) if fF is not None \
            else self._mehler.torch_coefficients(q)[1]
        D = None
        if ntk:
            self.require_derivative()
            D = torch.broadcast_to(torch.as_tensor(fD1(s, s)), q.shape) if fD is not None \
                else self._mehler_derivative.torch_coefficients(q)[1]
        m = torch.broadcast_to(torch.as_tensor(fm(s)), q.shape) if fm is not None \
            else self._mehler.torch_coefficients(q)[0][:, 0]
        return F, D, m

    # -- mpmath ------------------------------------------------------------------------------------
    @cached_property
    def _mp_exact(self):
        def lam(expr, args):
            return None if expr is None else mp_lambdify(args, expr)
        return (lam(self.exact_nngp, (a, b, rho)), lam(self.exact_ntk_factor, (a, b, rho)),
                lam(self.exact_mean, (a,)))

    def mp_step(self, q1, q2, c, ntk=True, dps=None):
        """``(F, D)`` at one entry, mpf inputs, at the ambient (caller-scoped) mpmath precision:
        closed forms evaluated, else Mehler's series with proven coefficients (:mod:`.series_mp`)
        to ``dps`` digits."""
        sa, sb = mpmath.sqrt(q1), mpmath.sqrt(q2)
        r = c / (sa * sb) if q1 * q2 != 0 else mpmath.mpf(0)
        if q1 == q2 == c:          # the diagonal: rho = 1 exactly (sqrt(q)^2 may round off q)
            r = mpmath.mpf(1)
        r = max(min(r, mpmath.mpf(1)), mpmath.mpf(-1))
        fF, fD, _ = self._mp_exact
        dps = dps or mpmath.mp.dps - 10
        if self.pwl_form is not None and q1 > 0 and q2 > 0:
            F, D = pwl_kernels_mp(self.pwl_form, q1, q2, c, ntk=ntk, dps=dps)
            return +F, (+D if ntk else None)
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
        if self.pwl_form is not None and q > 0:
            return +pwl_mean_mp(self.pwl_form, q, dps or mpmath.mp.dps - 10)
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


def theta_form(expr):
    """``expr`` in ``rho`` rewritten in ``theta = arccos(rho)`` (``asin(rho) -> pi/2 - theta``,
    ``sqrt(1 - rho^2) -> sin(theta)``, ``rho -> cos(theta)``), or None when ``rho`` remains or the
    rewriting differs from ``expr`` at two test points (50 digits).

    >>> theta_form(sp.asin(rho) / (2 * sp.pi) + sp.Rational(1, 4))
    (-theta + pi/2)/(2*pi) + 1/4
    """
    gap = sp.Mul(1 - rho, 1 + rho)             # 1 - rho^2 as float_form writes it: sin(theta)^2
    out = expr.subs(sp.sqrt(gap), sp.sin(theta)).subs(gap, sp.sin(theta) ** 2)
    out = out.subs({sp.asin(rho): sp.pi / 2 - theta, sp.acos(rho): theta,
                    sp.sqrt(1 - rho ** 2): sp.sin(theta)}).subs(rho, sp.cos(theta))
    if rho in out.free_symbols:
        return None
    for t in (sp.Rational(2, 5), sp.Rational(11, 5)):
        point = {a: sp.Rational(13, 10), b: sp.Rational(7, 10)}
        want = sp.N(expr.subs(point).subs(rho, sp.cos(t)), 50)
        got = sp.N(out.subs(point).subs(theta, t), 50)
        if not (want.is_real and got.is_real) or abs(want - got) > 1e-40 * (1 + abs(want)):
            return None
    return out


def _homogeneous(lam):
    """Whether ``F(a, b, theta) = a b F(1, 1, theta)`` (numerically, at three points)."""
    for av, bv, t in ((1.3, 0.7, 0.4), (0.4, 2.0, 1.9), (3.0, 0.2, 0.01)):
        f, f1 = float(lam(av, bv, t)[0]), float(lam(1.0, 1.0, t)[0])
        if abs(f - av * bv * f1) > 1e-13 * abs(f):
            return False
    return True


class _AngleTable:
    """``theta' = theta m(theta)`` of a positively homogeneous activation (the output angle is a
    function of the input angle alone): ``m`` tabulated on ``theta_j = j pi / N`` from the gap
    integral (:func:`_gap_integral`), cubic Lagrange interpolation; the interpolation error on each
    interval is estimated by the exact value at its midpoint."""

    N = 1 << 14

    def __init__(self, lam):
        self.lam = lam
        n = self.N
        self.h = np.pi / n
        grid = np.linspace(0.0, np.pi, 2 * n + 1)
        F0 = float(lam(1.0, 1.0, 0.0)[0])
        self.F0 = F0
        gap, err = _gap_integral(lambda t, k: np.broadcast_to(lam(1.0, 1.0, t)[1], t.shape), grid)
        out = 2 * np.arcsin(np.sqrt(np.clip(gap / (2 * F0), 0.0, 1.0)))
        m = np.empty_like(grid)
        m[1:] = out[1:] / grid[1:]
        m[0] = np.sqrt(float(lam(1.0, 1.0, 0.0)[1]) / F0)
        self.m = m[::2].copy()
        # the cubic through m[j-1..j+2] on interval j (j clamped to 1..N-2 at the ends) as a
        # polynomial in s = t - j: one gather of four coefficients per entry
        j = np.clip(np.arange(n), 1, n - 2)
        y0, y1, y2, y3 = (self.m[j + k] for k in (-1, 0, 1, 2))
        self.shift = (np.arange(n) - j).astype(float)        # s = t - j0 + shift for clamped ends
        self.coef = np.stack([y1, (-2 * y0 - 3 * y1 + 6 * y2 - y3) / 6, (y0 - 2 * y1 + y2) / 2,
                              (-y0 + 3 * y1 - 3 * y2 + y3) / 6], axis=-1)
        mid = self._interp(grid[1::2])
        quad = np.abs(err[1::2]) / (F0 * np.maximum(np.sin(out[1::2]), 1e-300) * grid[1::2])
        self.local = 2 * np.abs(mid - m[1::2]) + np.minimum(quad, 1.0) + 4 * _EPS * m[1::2]
        self.columns = [np.ascontiguousarray(self.coef[:, k]) for k in range(4)] + [self.local]

    def _interp(self, th, j0=None):
        t = th / self.h
        j0 = np.minimum(t.astype(np.intp), self.N - 1) if j0 is None else j0
        s = t - j0
        s += self.shift[j0]
        c = self.coef[j0]
        out = c[..., 3] * s
        out += c[..., 2]
        out *= s
        out += c[..., 1]
        out *= s
        out += c[..., 0]
        return out

    def __call__(self, th, dth, absD, sin_t):
        """``(theta', dtheta')`` (``absD = |D|`` the NTK step at ``th``, ``sin_t = sin(th)``):
        ``dtheta'/dtheta = D(theta) sin(theta) / (F(0) sin(theta'))``."""
        t = th / self.h
        j0 = np.minimum(t.astype(np.intp), self.N - 1)
        s = t
        s -= j0
        c0, c1, c2, c3, local = self.columns
        s += np.take(self.shift, j0)
        th2 = np.take(c3, j0)
        th2 *= s
        th2 += np.take(c2, j0)
        th2 *= s
        th2 += np.take(c1, j0)
        th2 *= s
        th2 += np.take(c0, j0)
        th2 *= th                               # theta' = theta m(theta)
        s2 = np.sin(th2)
        s2 *= self.F0
        slope = absD * sin_t
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(slope, s2, out=slope, where=s2 > 0)
        slope[s2 <= 0] = self.m[0]
        slope *= dth
        loc = np.take(local, j0)
        loc *= th
        slope += loc
        slope += 4 * _EPS * th2
        return th2, slope


def _gap_integral(D, th):
    """``(int_0^theta D(t) sin t dt, error estimate)`` for each entry of the 1-D ``th``: Gauss-
    Legendre with 4 and with ``GL_NODES`` nodes on [0, theta]; where they differ by more than 4
    ulps, ``GL_NODES`` nodes on 2, 4, ... equal panels until two successive rules agree (at most
    MAX_PANELS).  The estimate is the difference of the last two rules.  ``D`` maps an array of
    angles (nodes x entries) and the entries' indices to the NTK step at them."""
    def rule(nodes, panels, t_end, idx):
        x, w = np.polynomial.legendre.leggauss(nodes)
        u = ((np.arange(panels)[:, None] + (x[None, :] + 1) / 2) / panels).ravel()
        wu = np.tile(w / (2 * panels), panels)
        t = t_end[None, :] * u[:, None]
        Dn = np.broadcast_to(D(t, idx), t.shape)
        return t_end * (wu @ (Dn * np.sin(t)))

    every = np.arange(th.size)
    old = rule(4, 1, th, every)
    new = rule(GL_NODES, 1, th, every)
    err = np.abs(new - old)
    todo = np.nonzero(err > 4 * _EPS * np.abs(new))[0]
    panels = 1
    while todo.size and panels < MAX_PANELS:
        panels *= 2
        finer = rule(GL_NODES, panels, th[todo], todo)
        err[todo] = np.abs(finer - new[todo])
        new[todo] = finer
        todo = todo[err[todo] > 4 * _EPS * np.abs(finer)]
    return new, err


def _elu_mean(a, p, v):
    """``E psi(aX) = p a / sqrt(2 pi) + v (h(a) - 1/2)``, ``h(a) = e^{a^2/2} Phi(-a)`` (by
    ``log Phi``, no overflow); for ``a < 1``, where the terms cancel to ``~a^2``,
    ``E psi(aX) = (p - v) a / sqrt(2 pi) + v sum_{n >= 2} t_n a^n`` with ``t_0 = 1/2``,
    ``t_1 = -1/sqrt(2 pi)``, ``t_n = t_{n-2}/n`` (the Taylor series of ``h``, from
    ``h' = a h - 1/sqrt(2 pi)``)."""
    a = np.asarray(a, float)
    c = 1 / np.sqrt(2 * np.pi)
    h = np.exp(np.array([z * z / 2 + log_ncdf_neg(z) for z in a.ravel()])).reshape(a.shape)
    out = p * a * c + v * (h - 0.5)
    small = a < 1
    if small.any():
        z = a[small]
        t, term, total = [0.5, -c], z * z, np.zeros(z.shape)
        for n in range(2, 44):
            t.append(t[n - 2] / n)
            total += t[n] * term
            term = term * z
        out[small] = (p - v) * c * z + v * total
    return out


def _elu_curvature(a):
    """``E[psi''(aX)^2] / v^2 = E[e^{2aX}; X < 0] = e^{2a^2} Phi(-2a)`` (``psi(t) = v (e^t - 1)``,
    ``t <= 0``; ``psi'' = 0`` for ``t > 0``)."""
    logs = np.array([2 * z * z + log_ncdf_neg(2 * z) for z in np.ravel(a)])
    return np.exp(logs).reshape(np.shape(a))


def _finite(pk, q1, q2, *values):
    """``values`` (None entries skipped) when every entry is finite, else InvalidInputError naming
    the variances: the kernel of such inputs is not representable in float64 (e^{(q_1+q_2)/2}
    of exp's kernel), or an evaluation failed; never a silent inf or NaN."""
    for v in values:
        if v is not None and not np.isfinite(v).all():
            bad = ~np.isfinite(np.broadcast_to(v, np.broadcast_shapes(np.shape(v), np.shape(q1), np.shape(q2))))
            v1 = np.broadcast_to(q1, bad.shape)[bad]
            v2 = np.broadcast_to(q2, bad.shape)[bad]
            raise InvalidInputError(
                f"the kernel of {pk.act.name} is not finite in float64 at the variances q1 = {float(v1[0]):.6g}, "
                f"q2 = {float(v2[0]):.6g} ({int(bad.sum())} entries; largest variance "
                f"{float(max(np.max(q1), np.max(q2))):.6g}): the value exceeds float64's range (or its "
                "closed form overflows on the way); rescale "
                "sigma_w2 / the inputs, or use dps= for a few inputs")
    return values


def _broadcast(v, shape):
    return np.broadcast_to(np.asarray(v, dtype=float), shape).copy()


#: rows of one block of the closed-form evaluation (a block of temporaries stays in cache)
_BLOCK = 1 << 15


def _blocked(fn, sa, sb, r):
    """``fn(sa, sb, r)`` (a tuple of arrays) evaluated on blocks of rows of the 2-D ``r``, in
    threads (NumPy releases the GIL in its loops); 1-D or small inputs in one call.  Overflow is
    not warned about here: :func:`_finite` turns a non-finite result into an error."""
    def call(*v):
        with np.errstate(over="ignore", invalid="ignore"):
            return fn(*v)
    shape = r.shape
    if r.ndim != 2 or r.size <= 2 * _BLOCK:
        return tuple(_broadcast(v, shape) for v in call(sa, sb, r))
    sa = np.broadcast_to(sa, (shape[0], 1)) if np.ndim(sa) == 2 and np.shape(sa)[1] == 1 else None
    if sa is None or np.ndim(sb) != 2 or np.shape(sb)[0] != 1:
        return tuple(_broadcast(v, shape) for v in call(*np.broadcast_arrays(sa, sb, r)))
    rows = max(1, _BLOCK // shape[1])
    first = call(sa[:1], sb, r[:1])
    outs = tuple(np.empty(shape) for _ in first)

    def work(i):
        vals = call(sa[i:i + rows], sb, r[i:i + rows])
        for o, v in zip(outs, vals):
            o[i:i + rows] = v
    with ThreadPoolExecutor(_THREADS) as pool:
        list(pool.map(work, range(0, shape[0], rows)))
    return outs


_THREADS = max(1, min(4, os.cpu_count() or 1))


#: nonzero variances whose products stay in float64's normal range
_Q_RANGE = (float(np.sqrt(np.finfo(float).tiny)), float(np.sqrt(np.finfo(float).max)))


def _correlation(q1, q2, c):
    """``rho = c / sqrt(q1 q2)`` (0 where an input has zero variance), rounding beyond +-1 removed."""
    q1, q2, c = np.asarray(q1, float), np.asarray(q2, float), np.asarray(c, float)
    for q in (q1, q2):      # q1 q2 must stay normal: an underflow to 0 would read as rho = 0
        v = q[q != 0]
        if v.size and not ((v >= _Q_RANGE[0]) & (v <= _Q_RANGE[1])).all():
            raise InvalidInputError(
                f"a variance left the range where float64 holds the product of two "
                f"({_Q_RANGE[0]:.1e} to {_Q_RANGE[1]:.1e}; found {float(np.min(np.abs(v))):.1e} to "
                f"{float(np.max(np.abs(v))):.1e}): the network's kernel underflows or overflows in "
                "float64; rescale sigma_w2 / the inputs, or use dps= for a few inputs")
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


#: most levels of the geometric grading of :class:`_Mehler`'s panels toward a transition
#: (``sqrt(q) <= 2^(MAX_LEVELS - 1)``, about ``q <= 4e59``; 48 nodes a level)
MAX_LEVELS = 100


#: a transition of the activation (:func:`transition_points`) within this many of its widths of
#: ``u = 0`` lies in the panels graded toward 0 (measured: tanh(x - 4) within 2e-15 of a reference
#: at q = 1e4 .. 1e8 without its own grading, tanh(x - 6) 5e-13 off, tanh(x - 10) 4e-8 off)
NEAR_ZERO = 2.0


def transition_points(expr):
    """``[(u0, s)]``: where ``expr`` (in ``x``) changes on a short scale -- the real zeros ``u0`` of
    the argument ``g`` of each function applied to ``x`` (tanh, erf, exp, log, atan, Abs, Max, a
    power with a non-integer exponent, ...; ``g`` a polynomial of degree <= 4 with numeric
    coefficients), with the steepness ``s = max(|g'(u0)|, sqrt(|g''(u0)|/2), 1)`` (the transition
    is ``~1/s`` wide); other arguments are skipped.

    >>> transition_points(sp.tanh(x - 100) + 1 / (1 + sp.exp(-3 * x - 50)))
    [(-16.666666666666668, 3.0), (100.0, 1.0)]
    """
    found = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow):
            args = [node.base] if node.base.has(x) and not node.exp.is_Integer else []
        elif isinstance(node, sp.core.function.Application):
            args = [arg for arg in node.args if isinstance(arg, sp.Expr) and arg.has(x)]
        else:
            continue
        for g in args:
            try:
                poly = sp.Poly(g, x)
            except sp.PolynomialError:
                continue
            if not 1 <= poly.degree() <= 4 or not all(cf.is_number for cf in poly.all_coeffs()):
                continue
            cf = np.array([complex(cf) for cf in poly.all_coeffs()])
            if np.any(cf.imag != 0):
                continue
            cf = cf.real
            d1, d2 = np.polyder(cf), np.polyder(cf, 2)
            if all(c.is_Rational for c in poly.all_coeffs()):     # exact (double roots stay real)
                roots = [float(r) for r in poly.real_roots()]
            else:
                roots = [float(r.real) for r in np.roots(cf) if abs(r.imag) <= 1e-6 * (1 + abs(r))]
            for u0 in roots:
                u0 += 0.0
                s = float(max(abs(np.polyval(d1, u0)), np.sqrt(abs(np.polyval(d2, u0)) / 2), 1.0))
                key = round(u0, 6)
                found[key] = (u0, max(s, found.get(key, (u0, 1.0))[1]))
    return sorted(found.values())


class _Mehler:
    """Hermite coefficients ``a_k(q)`` of ``f(sqrt(q) x)`` for many ``q`` and their Mehler sums.

    For ``s sqrt(q) > 1`` the panels are graded geometrically toward 0 (and toward each
    breakpoint ``b / sqrt(q)``): extra edges ``+-2^-j``, ``j = 2..J``,
    ``2^-J <= 1 / (2 s sqrt(q))``, so that in ``u = sqrt(q) x`` every panel ``[U, 2U]`` is as
    wide as its distance from the transition
    (f changes on a scale ``1/s`` in ``u``, ``s`` the steepness at 0 of :func:`transition_points`;
    panels of width 1/2 in ``x`` miss it at large ``q``).  A transition ``u0`` farther from 0
    (``|u0| s > NEAR_ZERO``: tanh(x - 100), sigmoid(3x + 50)) is graded toward in the same way at
    ``u0 / sqrt(q)``; its nodes then depend on ``q`` (no shared nodes: one quadrature per
    variance)."""

    def __init__(self, act):
        self.act = act
        self.f = act.numpy()
        self.breaks = [float(p) for p in act.breakpoints]
        self.K = MAX_TERMS
        half = np.sqrt(4 * self.K + 2) + 12          # beyond the turning point of every g_k, k <= K
        self.L = half
        points = transition_points(act.expr)
        #: steepness of the transitions at (or near) 0, and the transitions (u0, s) away from 0
        self.steep = max([s for u0, s in points if abs(u0) * s <= NEAR_ZERO] + [1.0])
        self.transitions = [(u0, s) for u0, s in points if abs(u0) * s > NEAR_ZERO]

    def values(self, u):
        """``f(u)`` in float64; where the lambdified form overflows (``inf``, or ``nan`` from
        ``inf/inf``: SiLU', softplus at ``|u| > 709``) the same expression in mpmath at 53 bits (no
        exponent range), rounded to float64; values still beyond float64 count as 0 there."""
        with np.errstate(over="ignore", invalid="ignore"):
            vals = np.broadcast_to(np.asarray(self.f(u), float), np.shape(u))
        bad = ~np.isfinite(vals)
        if bad.any():
            vals = np.array(vals)
            vals[bad] = self._overflowed(np.asarray(u, float)[bad])
            vals[~np.isfinite(vals)] = 0.0
        return vals

    def _overflowed(self, u, nodes=17):
        """``f(u)`` where the float64 form overflowed: on each octave ``sgn [2^m, 2^(m+1)]`` of
        ``u`` a Chebyshev interpolant of ``nodes`` values in mpmath at 53 bits (remembered per
        activation), accepted when within ``2 eps max|f|`` of the mpmath values at the ``nodes - 1``
        points between its nodes; else (and at ``u = 0``) every point in mpmath."""
        fm = self.__dict__.get("_mp_f")
        if fm is None:
            fm = self.__dict__["_mp_f"] = mp_lambdify(x, self.act.expr)

        def exact(v):
            with mpmath.workprec(53):
                return np.array([float(fm(mpmath.mpf(float(p)))) for p in v])
        k = np.arange(nodes)
        y = np.cos(np.pi * k / (nodes - 1))
        wts = (-1.0) ** k
        wts[[0, -1]] *= 0.5

        def interp(fy, z):
            diff = z[:, None] - y[None, :]
            hit = diff == 0
            with np.errstate(divide="ignore", invalid="ignore"):
                W = wts / diff
            rows = hit.any(axis=1)
            W[rows] = hit[rows]
            return (W @ fy) / W.sum(axis=1)
        memo = self.__dict__.setdefault("_octaves", {})
        out = np.empty(u.size)
        with np.errstate(divide="ignore"):
            octave = np.floor(np.log2(np.abs(u)))
        for sgn, m in set(zip(np.sign(u).tolist(), octave.tolist())):
            sel = (np.sign(u) == sgn) & (octave == m)
            if not np.isfinite(m):
                out[sel] = exact(u[sel])
                continue
            if (sgn, m) not in memo:
                at = (lambda z: sgn * 2.0 ** m * (1.5 + 0.5 * z))
                fy = exact(at(y))
                mids = np.cos(np.pi * (k[:-1] + 0.5) / (nodes - 1))
                fmid = exact(at(mids))
                scale = max(np.max(np.abs(fy)), np.max(np.abs(fmid)))
                ok = np.max(np.abs(interp(fy, mids) - fmid)) <= 2 * _EPS * scale
                memo[(sgn, m)] = fy if ok else None
            fy = memo[(sgn, m)]
            v = u[sel]
            out[sel] = exact(v) if fy is None else interp(fy, np.clip(2 * np.abs(v) / 2.0 ** m - 3, -1, 1))
        return out

    def levels(self, qmax, steep=None):
        """The grading ``J`` toward 0 for variances up to ``qmax`` (toward a transition of
        steepness ``steep``, default :attr:`steep`): 0 where ``s sqrt(qmax) <= 1`` (the plain
        panels), else the least ``J`` with ``2^-J <= 1 / (2 s sqrt(qmax))``; an error beyond
        MAX_LEVELS."""
        s = float(np.sqrt(qmax)) * (self.steep if steep is None else steep)
        if not np.isfinite(s) or s <= 1:
            return 0
        J = int(np.ceil(np.log2(2 * s)))
        if J > MAX_LEVELS:
            raise InvalidInputError(
                f"the float64 Mehler series of {self.act.name} cannot resolve the variance "
                f"{float(qmax):.3e} (above about {4.0 ** (MAX_LEVELS - 1):.1e}, its quadrature would "
                "need more than a few thousand extra nodes): rescale sigma_w2 / the inputs, or use dps=")
        return J

    def _nodes(self, q, levels=0):
        """Nodes in x for variance q: panels of width <= 1/2 on [-L, L], split at b/sqrt(q), and
        graded toward 0 and each b/sqrt(q) by the ``levels`` edges ``+-2^-j``, ``j = 2..levels``;
        toward each far transition ``u0/sqrt(q)`` (split there) by its own levels."""
        rq = np.sqrt(q)
        cuts = [b / rq for b in self.breaks if abs(b / rq) < self.L]
        grade = 2.0 ** -np.arange(2, levels + 1)
        near = [c + sgn * grade for c in [0.0] + cuts for sgn in (-1, 1)] if levels > 1 else []
        for u0, s in self.transitions:
            c = u0 / rq
            if abs(c) < self.L:
                cuts.append(c)
                J = self.levels(q, s)
                if J > 1:
                    near += [c + sgn * 2.0 ** -np.arange(2, J + 1) for sgn in (-1, 1)]
        edges = np.unique(np.concatenate([np.linspace(-self.L, self.L, int(4 * self.L) + 1), cuts]
                                         + [e[np.abs(e) < self.L] for e in near]))
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
        """Nodes independent of q (every breakpoint at 0, no far transition), ungraded
        (``s sqrt(q) <= 1``): computed once."""
        if any(b != 0 for b in self.breaks) or self.transitions:
            return None
        t, w = self._nodes(1.0)
        return t, w, self._hermite_functions(t, w), w * np.exp(-t * t / 2) / np.sqrt(2 * np.pi)

    def shared_nodes(self, levels):
        """:attr:`_shared` graded by ``levels`` (:meth:`levels`), the last few remembered."""
        if levels == 0 or self._shared is None:
            return self._shared
        memo = self.__dict__.setdefault("_graded", {})
        hit = memo.get(levels)
        if hit is None:
            t, w = self._nodes(1.0, levels)
            hit = t, w, self._hermite_functions(t, w), w * np.exp(-t * t / 2) / np.sqrt(2 * np.pi)
            if len(memo) >= 4:
                memo.pop(next(iter(memo)))
            memo[levels] = hit
        return hit

    def coefficients(self, q):
        """``(A, m2)``: ``A[i, k] = a_k(q_i)``, ``m2[i] = E f(sqrt(q_i) X)^2`` for unique ``q``."""
        q = np.asarray(q, float)
        shared = self.shared_nodes(self.levels(np.max(q))) if q.size else self._shared
        if shared is not None:
            t, w, H, wg = shared
            vals = self.values(np.sqrt(q)[:, None] * t[None, :])
            return (H @ vals.T).T, (vals * vals) @ wg     # (this orientation: OpenBLAS is slow on few q)
        A = np.empty((q.size, self.K + 1))
        m2 = np.empty(q.size)
        for i, qi in enumerate(q):
            t, w = self._nodes(qi, self.levels(qi))
            vals = self.values(np.sqrt(qi) * t)
            A[i] = self._hermite_functions(t, w) @ vals
            m2[i] = (vals * vals) @ (w * np.exp(-t * t / 2)) / np.sqrt(2 * np.pi)
        return A, m2

    def torch_coefficients(self, q):
        """``(A, m2)`` as torch tensors of the 1-D tensor ``q`` (autograd through ``q``): the same
        quadrature as :meth:`coefficients` (activations whose breakpoints are all at 0: a jump at
        ``b != 0`` moves with ``q``, which fixed nodes do not differentiate; with a far transition,
        nodes per variance), overflowing values as :meth:`torch_values`."""
        import torch

        if any(b != 0 for b in self.breaks):
            raise InvalidInputError(f"the torch path of {self.act.name} needs its breakpoints at 0 "
                                    f"(got {self.breaks})")
        if self._shared is not None:
            levels = self.levels(float(q.detach().max())) if q.numel() else 0
            t, w, H, wg = (torch.as_tensor(v, dtype=torch.float64)
                           for v in self.shared_nodes(levels))
            vals = self.torch_values(torch.sqrt(q)[:, None] * t[None, :])
            return vals @ H.T, (vals * vals) @ wg
        A, m2 = [], []
        for i in range(q.shape[0]):        # far transitions: the nodes depend on q (smooth there)
            qi = float(q[i].detach())
            t, w = self._nodes(qi, self.levels(qi))
            H = torch.as_tensor(self._hermite_functions(t, w), dtype=torch.float64)
            wg = torch.as_tensor(w * np.exp(-t * t / 2) / np.sqrt(2 * np.pi), dtype=torch.float64)
            vals = self.torch_values(torch.sqrt(q[i]) * torch.as_tensor(t, dtype=torch.float64))
            A.append(H @ vals)
            m2.append((vals * vals) @ wg)
        if not A:
            return (torch.zeros((0, self.K + 1), dtype=torch.float64),
                    torch.zeros(0, dtype=torch.float64))
        return torch.stack(A), torch.stack(m2)

    def torch_values(self, u):
        """``f(u)`` as a torch tensor with autograd; where the lambdified form overflows (inf, or
        nan from inf/inf) the value of :meth:`values` (mpmath at 53 bits, as the NumPy path) and
        the derivative ``f'(u)`` the same way (first derivatives only: ``create_graph=True``
        through such a value raises an InvalidInputError)."""
        import torch

        fn = self.__dict__.get("_torch_f")
        if fn is None:
            fn = self.__dict__["_torch_f"] = torch_lambdify(x, self.act.expr)
        with torch.no_grad():
            bad = ~torch.isfinite(torch.broadcast_to(torch.as_tensor(fn(u.detach())), u.shape))
        if not bool(bad.any()):
            return torch.broadcast_to(torch.as_tensor(fn(u)), u.shape)
        safe = torch.where(bad, torch.zeros_like(u), u)       # no inf/nan reaches the gradient
        vals = torch.broadcast_to(torch.as_tensor(fn(safe)), u.shape)
        fixed = torch.zeros_like(vals)
        fixed[bad] = _overflowed_function().apply(u[bad], self)
        return torch.where(bad, fixed, vals)

    @cached_property
    def _slope(self):
        """The series object of ``f'`` (its :meth:`values` give the derivative at overflowing
        nodes), or None when ``f`` jumps."""
        d, _ = weak_derivative(self.act)
        return None if d is None else _Mehler(d)

    def torch_kernel(self, q1, q2, r, same):
        """``sum_k a_k(q1) a_k(q2) r^k`` as a torch tensor (E f^2 where ``same``)."""
        import torch

        A1, m1 = self.torch_coefficients(q1)
        A2, m2 = self.torch_coefficients(q2)
        K = self._terms(m1.detach().numpy(), A1.detach().numpy(), m2.detach().numpy(), A2.detach().numpy())
        S = torch.outer(A1[:, K], A2[:, K])
        for k in range(K - 1, -1, -1):
            S = S * r + torch.outer(A1[:, k], A2[:, k])
        return torch.where(same, torch.broadcast_to(m1[:, None], S.shape), S)

    def slope_bound(self, q1, q2):
        """``sqrt(sum_k k a_k(q1)^2) sqrt(sum_k k a_k(q2)^2)`` on the outer grid: a bound on the
        rho-derivative of the truncated Mehler series (Cauchy-Schwarz, |rho| <= 1)."""
        k = np.arange(self.K + 1)
        s1 = np.sqrt((self._table(np.ravel(q1))[0] ** 2) @ k)
        s2 = np.sqrt((self._table(np.ravel(q2))[0] ** 2) @ k)
        return np.multiply.outer(s1, s2)

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


@lru_cache(maxsize=1)
def _overflowed_function():
    """A torch autograd Function: ``f(u)`` at nodes where its float64 form overflows, by
    :meth:`_Mehler.values` (mpmath), with the gradient ``f'(u)`` the same way; a second derivative
    (``create_graph=True``) raises instead of silently dropping ``f''``."""
    import torch

    class Overflowed(torch.autograd.Function):
        @staticmethod
        def forward(ctx, u, series):
            ctx.series = series
            ctx.save_for_backward(u)
            return torch.as_tensor(series.values(u.detach().numpy()), dtype=torch.float64)

        @staticmethod
        def backward(ctx, grad):
            (u,) = ctx.saved_tensors
            top = float(u.detach().abs().max())
            if torch.is_grad_enabled():     # create_graph=True: a second derivative would miss f''
                raise InvalidInputError(
                    f"second derivatives of the torch kernel of {ctx.series.act.name} are not "
                    f"available where its float64 form overflows (at |u| = sqrt(q) |x| up to "
                    f"{top:.3e}); take first derivatives, or rescale sigma_w2 / the inputs")
            slope = ctx.series._slope
            if slope is None:
                raise InvalidInputError(f"no gradient of {ctx.series.act.name} at |u| up to "
                                        f"{top:.3e}: it has a jump")
            d = torch.as_tensor(slope.values(u.detach().numpy()), dtype=torch.float64)
            return grad * d, None

    return Overflowed


# -- mpmath paths ----------------------------------------------------------------------------------
def pair_kernel(act):
    """The :class:`PairKernel` of an activation, one per expression (its derivations are cached)."""
    act = as_activation(act)
    return _pair_kernel(act.expr, act.name)


@lru_cache(maxsize=128)
def _pair_kernel(expr, name):
    return PairKernel(Activation(name, expr))


__all__ = ["GL_NODES", "MAX_PANELS", "MAX_TERMS", "NEAR_ZERO", "PairKernel", "a", "b", "pair_kernel",
           "theta", "theta_form", "transition_points"]
