r"""Proven enclosures of ``sigma_hat(rho)`` from the exact inner expectation (Arb, docs/theory.md §2).

``sigma_hat(rho) = int sigma(x) g_rho(x) phi(x) dx`` with ``g_rho(x) = E_W[sigma(rho x + s W)]``,
``s = sqrt(1 - rho^2)``, in closed form (:func:`.closed_forms._inner_form`: erf and exp for
ELU, CELU, SELU, hardtanh).  With ``rho`` an exact rational (every bit of the float or mpf asked
for) and ``s`` the exact algebraic number ``sqrt(1 - rho^2)``, the integrand is compiled to Arb
(:func:`symkernel.numerics.arb.compile_expr`) and integrated by ``acb.integral`` (rigorous) on
each piece of sigma within ``[-R, R]``, cut at the breakpoints ``b`` and at ``b / rho`` (where
``g_rho`` turns, on the scale ``s/|rho|``).  The two tails are bounded by Cauchy-Schwarz,

.. math:: \Bigl|E\bigl[\sigma(X)\sigma(Y)\,1\{\pm X > R\}\bigr]\Bigr|
          \le \sqrt{E[\sigma(X)^2 1\{\pm X > R\}]}\;\sqrt{E\sigma^2},

with the envelope ``sigma(x)^2 <= C (1+|x|)^m e^{a|x|}`` of
:func:`symkernel.numerics.arb.envelope` and the log-concavity bound of the Gaussian tail, and
``E sigma^2`` by its certified value.  The result is a ball that contains the true value.

>>> import mpmath, symkernel as sk
>>> res = inner_result(sk.activation("elu"), mpmath.mpf(3) / 10, 30)
>>> mpmath.nstr(res.value, 30), res.certified, res.error < 1e-31 * res.value
('0.202939120489886189652727080635', True, True)
"""
import mpmath
import sympy as sp

from symkernel.errors import PrecisionError
from symkernel.gaussian.expectation import second_moment
from symkernel.numerics import Result
from symkernel.numerics.arb import (
    NotCertifiable, compile_expr, enclose, envelope, radius_ball, tail_bound,
)
from symkernel.core.symbols import rho, x
from .arguments import exact_rational
from .closed_forms import _S, _inner_form

try:
    from flint import acb, arb, ctx as _ctx
except ImportError:  # pragma: no cover - python-flint is a core dependency
    acb = arb = _ctx = None

METHOD = ("Arb acb.integral over X of the exact inner expectation E_W[sigma(rho X + s W)], "
          "cut at the breakpoints b and b/rho, Cauchy-Schwarz Gaussian tail bound")


class InnerPlan:
    """The certified inner-form evaluator of one activation (envelopes and E sigma^2 built once)."""

    def __init__(self, act):
        if acb is None:
            raise NotCertifiable("python-flint is not installed")
        inner = _inner_form(act)
        if inner is None or act.free_parameters:
            raise NotCertifiable("no exact inner expectation")
        self.act = act
        # exp(-(rho x - b)^2 / (2 s^2)) in factored form: the expanded quadratic loses every digit
        # to cancellation (and ball radius to dependency) when s is small
        self.inner = inner.replace(lambda e: isinstance(e, sp.exp),
                                   lambda e: sp.exp(sp.factor(e.args[0])))
        self.pieces = [(p.lo, p.hi, p.expr) for p in act.pieces if p.expr != 0]
        self.breaks = [p.lo for p in act.pieces[1:]]
        for b in self.breaks:
            if not b.is_number:
                raise NotCertifiable("symbolic breakpoint")
        m2 = second_moment(act)
        if m2.kind == "estimated":
            raise NotCertifiable("E sigma^2 has no proven enclosure")
        res = m2.result(20)
        self.m2_upper = mpmath.mpf(res.value) + res.error
        # tails: sigma^2 on the outermost pieces, x -> -oo and x -> +oo
        self.envs = {-1: envelope(act.pieces[0].expr ** 2, x, -1),
                     1: envelope(act.pieces[-1].expr ** 2, x, 1)}
        self.min_R = max([8.0, *[abs(float(b)) + 1 for b in self.breaks]])
        for piece in self.pieces:
            compile_expr(piece[2] * inner.subs({rho: sp.Rational(1, 2), _S: sp.sqrt(3) / 2}), x)

    @classmethod
    def of(cls, act):
        """The plan, cached on the activation; None when the path is not certifiable."""
        cache = act.memo("kernels", dict)
        if "inner_plan" not in cache:
            try:
                cache["inner_plan"] = cls(act)
            except NotCertifiable:
                cache["inner_plan"] = None
        return cache["inner_plan"]

    def _cutoff(self, tol):
        R = self.min_R
        while True:
            bounds = [tail_bound(*env, R) for env in self.envs.values()]
            if all(bd is not None for bd in bounds):
                total = sum(mpmath.sqrt(bd) for bd in bounds) * mpmath.sqrt(self.m2_upper)
                if total < tol / 4:
                    return R, total
            R = R * 1.1 + 0.5
            if R > 1e4:
                raise PrecisionError("the Gaussian tail bound needs an unreasonable cutoff")

    def _integrands(self, rq):
        s = sp.sqrt(1 - rq * rq)
        g = self.inner.xreplace({rho: rq, _S: s})
        cuts = sorted({b / rq for b in self.breaks}, key=float) if rq != 0 else []
        # g_rho turns at b/rho on the scale h = s/|rho|: grade the cuts geometrically towards it
        graded = []
        if cuts:
            h = float(s) / abs(float(rq))
            for c in cuts:
                step = h
                while step < 4:
                    graded += [float(c) - step, float(c) + step]
                    step *= 2
        out = []
        for lo, hi, expr in self.pieces:
            f = compile_expr(expr * g, x)
            inside = [c for c in [*cuts, *graded] if (lo == -sp.oo or float(c) > float(lo))
                      and (hi == sp.oo or float(c) < float(hi))]
            ends = [lo, *sorted(inside, key=float), hi]
            out.append((f, ends))
        return out

    def result(self, r, dps):
        """A certified Result of sigma_hat(r) (``|r| < 1``: an exact SymPy number, or an mpf taken
        exactly) with radius below ``|value| 10^-(dps+2)``
        (:func:`symkernel.numerics.arb.enclose`); PrecisionError when Arb cannot reach it."""
        rq = r if isinstance(r, sp.Basic) else exact_rational(r)
        integrands = self._integrands(rq)

        def ball_at(wp, bound):   # |sigma_hat(rho)| <= E sigma^2 (Cauchy-Schwarz) at first
            return self._ball(integrands, dps, self.m2_upper if bound is None else bound)
        res = enclose(ball_at, dps, what="the kernel value")
        return Result(res.value, res.error, True, METHOD)

    def _ball(self, integrands, dps, scale):
        """(mid, rad) at the working precision set by the caller; quadrature tolerance
        ``scale 10^-(dps+5)`` (the radius is judged against ``|mid| 10^-(dps+2)``)."""
        size = mpmath.mpf(1) if scale is None else scale
        tol = size * mpmath.mpf(10) ** (-(dps + 5))
        R, tail = self._cutoff(tol)
        abs_tol = arb(mpmath.nstr(tol, 20))
        total = arb(0)
        for f, ends in integrands:
            pts = [_clip(e, R) for e in ends]

            def integrand(z, analytic, f=f):
                return f(z, analytic) * (-(z * z) / 2).exp()
            for a, b in zip(pts[:-1], pts[1:]):
                if float(b[0]) <= float(a[0]):
                    continue
                val = acb.integral(integrand, a[1], b[1], abs_tol=abs_tol, rel_tol=abs_tol,
                                   eval_limit=10**7).real
                if not val.is_finite():
                    raise PrecisionError("Arb integration did not converge on a piece")
                total += val
        return total * (2 * arb.pi()).rsqrt() + radius_ball(tail)


def _clip(end, R):
    """``(float value, arb ball)`` of a piece end (SymPy number or float) clipped to [-R, R]."""
    if isinstance(end, float):
        return (end, arb(end)) if -R < end < R else (max(-R, min(R, end)), arb(max(-R, min(R, end))))
    if end == sp.oo or (end.is_number and float(end) > R):
        return (R, arb(R))
    if end == -sp.oo or float(end) < -R:
        return (-R, arb(-R))
    return (float(end), compile_expr(end)(acb(0), False).real)   # an exact SymPy number


def inner_result(act, r, dps):
    """Certified sigma_hat(r) by :class:`InnerPlan` (NotCertifiable when the path does not apply)."""
    plan = InnerPlan.of(act)
    if plan is None:
        raise NotCertifiable("no certified inner-form path for this activation")
    return plan.result(r, dps)


__all__ = ["InnerPlan", "inner_result", "exact_rational"]
