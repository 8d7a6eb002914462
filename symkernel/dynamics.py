r"""Global kernel dynamics ``rho_{l+1} = kappa(rho_l)`` (seed 000, Theorem 1; MATH.md §4).

For the normalized kernel map (``kappa(1) = 1``) the four cases of Theorem 1 are decided exactly
whenever ``kappa(0)`` and ``kappa'(1)`` are exact (``kappa'(1)`` is compared with 1 by
``sympy.simplify``, then by a certified high-precision sign):

1. ``kappa(0) = 0``: ``rho* = 0``, ``|rho_l|/(1-|rho_l|) <= |rho_0|/(1-|rho_0|) alpha^l``,
   ``alpha = 1/(2 - kappa'(0))``;
2. ``kappa(0) > 0, kappa'(1) < 1``: ``rho* = 1``, ``|rho_l - 1| <= |rho_0 - 1| alpha^l``, ``alpha = kappa'(1)``;
3. ``kappa(0) > 0, kappa'(1) = 1``: ``rho* = 1``,
   ``|rho_l - 1| <= |rho_0 - 1|/(l alpha |rho_0 - 1| + 1)``, ``alpha = 1 - kappa(0) - kappa'(0)``;
4. ``kappa(0) > 0, kappa'(1) > 1``: ``rho*`` in (0, 1) with ``kappa(rho*) = rho*``,
   ``|rho_l - rho*| <= |rho_0 - rho*|/(1 - |rho_0|) alpha^l``,
   ``alpha = max{1 - kappa(0), kappa'(rho*), (1 - rho*)/(2 - kappa'(rho*))}``.

Also: Proposition 2 (residual), Proposition 3 (normalization), Corollary 2 (depth of numerical
indistinguishability), the kernel ODE ``d rho/dt = kappa(rho) - rho`` and the Hermite-order
corollary ``|rho_l| <= |rho_0|^(m^l)``.

>>> import symkernel as sk
>>> dyn = sk.kernel_dynamics("relu")
>>> dyn.case, dyn.fixed_point.expr, dyn.kappa_prime_1.expr, dyn.rate.expr
(3, 1, 1, 1/2 - 1/pi)
>>> sk.kernel_dynamics("tanh").case
1
"""
import math

import mpmath
import numpy as np
import sympy as sp

from .parsing import to_sympy

from .errors import InvalidInputError, PrecisionError
from .expectations import as_activation, second_moment
from .kernels import Kernel, _q, _qadd, _qmul, _rho_value, kernel_map, weak_derivative
from .quantity import Quantity, evaluate_exact
from .symbols import rho

_ZERO_DIGITS = 40   # a numeric kappa(0) or kappa'(1) - 1 below 10^-40 counts as zero (said in .notes)


def _as_kernel_map(obj):
    if isinstance(obj, Kernel):
        return obj
    return kernel_map(as_activation(obj))


def residual_kernel_map(kmap, r):
    r"""Proposition 2: ``kappa_res(rho) = (1 - r^2) kappa(rho) + r^2 rho`` for residual strength r.

    >>> kres = residual_kernel_map("exp", sp.Rational(1, 2))
    >>> kres.expr
    rho/4 + 3*exp(rho - 1)/4
    """
    kmap = _as_kernel_map(kmap)
    r = to_sympy(r)
    if r.is_number and not (0 <= r <= 1):
        raise InvalidInputError(f"the residual strength r must lie in [0, 1], got {r}")
    return kmap.affine(1 - r**2, 0, r**2, symbol=r"\kappa_{\mathrm{res}}", name=f"residual kernel map (r={r})")


def normalized_kernel_map(kmap, layers="LN*phi"):
    r"""Proposition 3: the kernel map with a normalization layer.

    ``layers="LN*phi"`` (layer norm after the activation) gives ``(kappa - kappa(0))/(1 - kappa(0))``;
    ``"phi*LN"``, ``"phi*RMS"``, ``"RMS*phi"`` leave ``kappa`` unchanged.
    """
    kmap = _as_kernel_map(kmap)
    key = layers.replace(" ", "").replace("∘", "*").lower()
    if key in ("phi*ln", "phi*rms", "rms*phi"):
        return kmap
    if key != "ln*phi":
        raise InvalidInputError(f"unknown layer order {layers!r}; use 'LN*phi', 'phi*LN', 'phi*RMS' or 'RMS*phi'")
    k0 = kmap.coefficient(0)
    one_minus = _qadd(_q(1), _qmul(_q(-1), k0))
    if one_minus.exact and sp.simplify(one_minus.expr) == 0:
        raise InvalidInputError("kappa(0) = 1: the activation is constant after centering")
    if one_minus.exact:
        inv = Quantity(sp.simplify(1 / one_minus.expr), "1/(1-kappa(0))")
    else:
        inv = Quantity(None, "1/(1-kappa(0))", "numeric", lambda dps: 1 / one_minus.value(dps + 5))
    minus_k0 = _qmul(_q(-1), _qmul(inv, k0))
    return kmap.affine(inv, minus_k0, 0, symbol=r"\kappa_{\mathrm{LN}}", name="kernel map with LN after the activation")


def _kappa_prime_one(kmap):
    """kappa'(1) = scale E[(sigma^(m+1))^2] + sum i poly_i as a Quantity (exact when possible)."""
    act = kmap.act
    for _ in range(kmap.order + 1):
        act, why = weak_derivative(act)
        if act is None:
            return Quantity(sp.oo, r"\kappa'(1)", f"exact: infinite ({why})")
    m2 = second_moment(act)
    m2 = Quantity(m2.expr, m2.symbol, m2.provenance, m2.numeric)
    value = _qmul(kmap.scale, m2)
    for i, c in enumerate(kmap.poly):
        if i >= 1:
            value = _qadd(value, _qmul(_q(i), c))
    if value.exact:
        value = Quantity(_nice(value.expr), r"\kappa'(1)", value.provenance)
    return value


def _nice(expr):
    if sp.count_ops(expr) > 150:
        return expr
    return min([expr, sp.simplify(expr), sp.nsimplify(expr) if expr.is_Rational else expr], key=sp.count_ops)


def _sign(q, dps=60):
    """-1, 0, 1 for a Quantity: exact simplify first, then a high-precision value."""
    if q.exact:
        if q.expr in (sp.oo, -sp.oo):
            return 1 if q.expr == sp.oo else -1
        if sp.simplify(q.expr) == 0:
            return 0
        v = evaluate_exact(q.expr, dps)
        if abs(v) < mpmath.mpf(10) ** (-(dps - 10)):
            return 0   # an identity SymPy cannot simplify: zero to dps - 10 digits
        return 1 if v > 0 else -1
    v = q.value(dps)
    if abs(v) < mpmath.mpf(10) ** (-_ZERO_DIGITS):
        return 0
    return 1 if v > 0 else -1


class KernelDynamics:
    """Theorem 1 of seed 000 for a normalized kernel map; see the module docstring."""

    def __init__(self, kmap):
        self.kmap = kmap
        self.notes = []
        self.kappa_0 = _rename(kmap.coefficient(0), r"\kappa(0)")
        self.kappa_prime_0 = _rename(kmap.coefficient(1), r"\kappa'(0)")
        self.kappa_prime_1 = _kappa_prime_one(kmap)
        s0 = _sign(self.kappa_0)
        if s0 < 0:
            raise InvalidInputError("kappa(0) < 0 is impossible for a kernel map")
        if s0 == 0:
            self.case = 1
            if not self.kappa_0.exact:
                self.notes.append(f"kappa(0) = 0 to {_ZERO_DIGITS} digits (numeric)")
        else:
            d = _qadd(self.kappa_prime_1, _q(-1)) if self.kappa_prime_1.expr != sp.oo else _q(sp.oo)
            s1 = _sign(d)
            if s1 == 0 and not d.exact:
                self.notes.append(f"kappa'(1) = 1 to {_ZERO_DIGITS} digits (numeric)")
            self.case = {-1: 2, 0: 3, 1: 4}[s1]

    # -- fixed point and rate -------------------------------------------------------------------
    @property
    def fixed_point(self):
        """The globally attracting fixed point rho* (exact 0 or 1; numeric root in case 4)."""
        if "fp" not in self.__dict__:
            if self.case == 1:
                fp = Quantity(sp.Integer(0), r"\rho^*", "exact: Theorem 1, case 1")
            elif self.case in (2, 3):
                fp = Quantity(sp.Integer(1), r"\rho^*", f"exact: Theorem 1, case {self.case}")
            else:
                fp = Quantity(None, r"\rho^*", "numeric: bracketed root of kappa(rho) - rho in (0, 1), "
                              "refined by mpmath.findroot and certified by a sign change", self._root)
            self.__dict__["fp"] = fp
        return self.__dict__["fp"]

    def _root(self, dps):
        cached = self.__dict__.get("_root_cache")
        if cached is not None and cached[0] >= dps:
            with mpmath.workdps(dps):
                return +cached[1]
        value = self._find_root(dps + 8)          # accurate to dps + 8 digits: serves later requests
        self.__dict__["_root_cache"] = (dps + 8, value)
        with mpmath.workdps(dps):
            return +value

    def _find_root(self, dps):
        grid = np.linspace(0, 1, 4097)[:-1]
        f = self.kmap.numpy(grid) - grid
        neg = np.nonzero(f < 0)[0]
        if neg.size == 0:
            lo, hi = 1 - 2.0**-12, 1.0
        else:
            i = neg[0]
            lo, hi = grid[i - 1], grid[i]
        # float64 bisection, then Newton steps with kappa' at doubling precision, then a certified
        # sign change of kappa(rho) - rho around the root
        a, b = lo, hi
        for _ in range(60):
            mid = (a + b) / 2
            if self.kmap.numpy(np.array([mid]))[0] - mid > 0:
                a = mid
            else:
                b = mid
        deriv = self.kmap.derivative()
        root = mpmath.mpf((a + b) / 2)
        prec = 12
        while True:
            prec = min(2 * prec, dps + 10)
            with mpmath.workdps(prec + 5):
                step = (self.kmap(root, dps=prec + 5) - root) / (deriv(root, dps=prec) - 1)
                root = root - step
            if prec >= dps + 10 and abs(step) < abs(root) * mpmath.mpf(10) ** (-(dps + 3)):
                break
            if prec >= dps + 10 and abs(step) >= abs(root) * mpmath.mpf(10) ** (-(dps + 3)):
                prec = dps + 9   # one more full-precision step
        with mpmath.workdps(dps + 10):
            eps = abs(root) * mpmath.mpf(10) ** (-(dps + 1))
            left = self.kmap(root - eps, dps=dps + 10) - (root - eps)
            right = self.kmap(root + eps, dps=dps + 10) - (root + eps)
            if not (left > 0 > right):
                raise PrecisionError(f"could not certify rho* to {dps} digits")
        with mpmath.workdps(dps + 5):
            return +root

    @property
    def kappa_prime_star(self):
        """kappa'(rho*) as a Quantity."""
        if self.case == 1:
            return _rename(self.kappa_prime_0, r"\kappa'(\rho^*)")
        if self.case in (2, 3):
            return _rename(self.kappa_prime_1, r"\kappa'(\rho^*)")
        deriv = self.kmap.derivative()
        return Quantity(None, r"\kappa'(\rho^*)", "numeric: kappa' at the numeric rho*",
                        lambda dps: deriv(self.fixed_point.value(dps + 3), dps=dps))

    @property
    def kappa_star(self):
        """kappa(rho*) (= rho*)."""
        fp = self.fixed_point
        if fp.exact:
            return _rename(fp, r"\kappa(\rho^*)")
        return Quantity(None, r"\kappa(\rho^*)", "numeric: kappa at rho*",
                        lambda dps: self.kmap(fp.value(dps + 3), dps=dps))

    @property
    def rate(self):
        """The rate alpha of Theorem 1's bound (a Quantity)."""
        if "rate_q" in self.__dict__:
            return self.__dict__["rate_q"]
        k0, k0p, k1p = self.kappa_0, self.kappa_prime_0, self.kappa_prime_1
        if self.case == 1:
            rate = _combine(lambda a: 1 / (2 - a), [k0p], "Theorem 1 case 1: 1/(2 - kappa'(0))")
        elif self.case == 2:
            rate = _rename(k1p, r"\alpha")
        elif self.case == 3:
            rate = _combine(lambda a, b: 1 - a - b, [k0, k0p], "Theorem 1 case 3: 1 - kappa(0) - kappa'(0)")
        else:
            fp, kps = self.fixed_point, self.kappa_prime_star

            def value(dps):
                wp = dps + 3
                with mpmath.workdps(wp):
                    r, d = fp.value(wp), kps.value(wp)
                    v = max(1 - k0.value(wp), d, (1 - r) / (2 - d))
                with mpmath.workdps(dps):
                    return +v
            rate = Quantity(None, r"\alpha", "numeric: Theorem 1 case 4, max{1-kappa(0), kappa'(rho*), "
                            "(1-rho*)/(2-kappa'(rho*))}", value)
        self.__dict__["rate_q"] = rate
        return rate

    # -- bound, sequence, cobweb, ODE -----------------------------------------------------------
    def bound(self, ell, rho0):
        """Theorem 1's bound on ``|rho_l - rho*|`` (case 1: on ``|rho_l|/(1-|rho_l|)``), float64.

        ``ell`` and ``rho0`` may be arrays (broadcast).
        """
        ell = np.asarray(ell, dtype=float)
        r0 = np.asarray(rho0, dtype=float)
        if (np.abs(r0) >= 1).any() or np.isnan(r0).any():
            raise InvalidInputError("rho_0 must lie in (-1, 1)")
        a = float(self.rate.value(17))
        star = float(self.fixed_point.value(17))
        if self.case == 1:
            return np.abs(r0) / (1 - np.abs(r0)) * a**ell
        if self.case == 2:
            return np.abs(r0 - 1) * a**ell
        if self.case == 3:
            d = np.abs(r0 - 1)
            return d / (ell * a * d + 1)
        return np.abs(r0 - star) / (1 - np.abs(r0)) * a**ell

    def distance(self, rho_l):
        """The quantity Theorem 1 bounds: ``|rho|/(1-|rho|)`` in case 1, ``|rho - rho*|`` otherwise."""
        rho_l = np.asarray(rho_l, dtype=float)
        if self.case == 1:
            with np.errstate(divide="ignore"):
                return np.abs(rho_l) / (1 - np.abs(rho_l))
        return np.abs(rho_l - float(self.fixed_point.value(17)))

    def sequence(self, rho0, depth, dps=None, exact=False):
        """``[rho_0, ..., rho_depth]``: float64 (default), mpmath (``dps``) or SymPy (``exact=True``).

        In float64, ``rho0`` may be an array: the result then has shape ``(depth + 1,) + shape``.
        """
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise InvalidInputError(f"depth must be a nonnegative integer, got {depth!r}")
        if exact:
            if self.kmap.expr is None:
                raise InvalidInputError("no closed form: use dps=... for a numeric sequence")
            out = [to_sympy(rho0)]
            for _ in range(depth):
                out.append(self.kmap.expr.subs(rho, out[-1]))
            return out
        if dps is not None:
            out = [_rho_value(rho0)[0](dps + 5)]
            for _ in range(depth):
                nxt = self.kmap(out[-1], dps=dps)
                out.append(max(min(nxt, mpmath.mpf(1)), mpmath.mpf(-1)))
            return out
        r0 = np.asarray(rho0, dtype=float)
        if np.isnan(r0).any() or (np.abs(r0) > 1).any():
            raise InvalidInputError("rho_0 must lie in [-1, 1]")
        out = np.empty((depth + 1,) + r0.shape)
        out[0] = r0
        for i in range(depth):
            out[i + 1] = np.clip(self.kmap.numpy(out[i]), -1.0, 1.0)
        return out

    def cobweb(self, rho0, depth):
        """Cobweb polyline ``(xs, ys)``: (rho_0, rho_0) -> (rho_0, rho_1) -> (rho_1, rho_1) -> ..."""
        seq = self.sequence(rho0, depth)
        xs = np.repeat(seq, 2)[:-1]
        ys = np.concatenate([[seq[0]], np.repeat(seq[1:], 2)])[: xs.size]
        return xs, ys

    def ode(self, rho0, t_max, num=200):
        """Kernel ODE ``d rho/dt = kappa(rho) - rho`` solved numerically: ``(t, rho(t))``."""
        from scipy.integrate import solve_ivp
        if not -1 <= float(rho0) <= 1:
            raise InvalidInputError("rho_0 must lie in [-1, 1]")
        t_eval = np.linspace(0, float(t_max), num)
        sol = solve_ivp(lambda t, y: np.clip(self.kmap.numpy(np.clip(y, -1, 1)), -1, 1) - y,
                        (0, float(t_max)), [float(rho0)], t_eval=t_eval, rtol=1e-10, atol=1e-12)
        return sol.t, sol.y[0]

    def ode_closed_form(self):
        """``rho(t)`` from SymPy's dsolve when kappa is a polynomial (else None)."""
        expr = self.kmap.expr
        if expr is None or not expr.is_polynomial(rho):
            return None
        t = sp.Symbol("t", nonnegative=True)
        f = sp.Function("rho")
        try:
            return sp.dsolve(sp.Eq(f(t).diff(t), expr.subs(rho, f(t)) - f(t)), f(t))
        except (NotImplementedError, ValueError):
            return None

    def indistinguishable_depth(self, eps):
        """Corollary 2: ``L = ln(1/eps)/ln(1/kappa'(1))`` layers (case 2 only), a Quantity."""
        if self.case != 2:
            raise InvalidInputError(f"Corollary 2 needs kappa(0) > 0 and kappa'(1) < 1 (case 2); this is case {self.case}")
        eps = sp.nsimplify(eps) if isinstance(eps, float) else to_sympy(eps)
        if not (eps.is_positive and eps < 1):
            raise InvalidInputError(f"eps must lie in (0, 1), got {eps}")
        k1 = self.kappa_prime_1
        if k1.exact:
            return Quantity(sp.log(1 / eps) / sp.log(1 / k1.expr), "L", "exact: Corollary 2")
        return Quantity(None, "L", "numeric: Corollary 2",
                        lambda dps: _div_logs(eps, k1, dps))

    def indistinguishable_depths(self):
        """Corollary 2 for float16/32/64 machine epsilon and smallest normal: {name: float}."""
        out = {}
        for name, dtype in (("float16", np.float16), ("float32", np.float32), ("float64", np.float64)):
            info = np.finfo(dtype)
            out[f"{name} eps"] = float(self.indistinguishable_depth(sp.Rational(2) ** int(np.log2(info.eps))).value(15))
            out[f"{name} tiny"] = float(self.indistinguishable_depth(sp.Rational(2) ** int(np.log2(info.tiny))).value(15))
        return out

    def hermite_order(self, kmax=50):
        """m = the first k with c_k != 0 (needs kappa(0) = 0); Corollary S.1 uses it."""
        for k in range(kmax):
            c = self.kmap.coefficient(k)
            if _sign(c) != 0:
                return k
        raise InvalidInputError(f"all of the first {kmax} coefficients vanish")

    def hermite_order_bound(self, ell, rho0):
        """``|rho_l| <= |rho_0|^(m^l)`` when ``c_k = 0`` for every ``k < m``."""
        m = self.hermite_order()
        if m < 1:
            raise InvalidInputError("c_0 != 0: the Hermite-order corollary needs m >= 1")
        return np.abs(np.asarray(rho0, float)) ** (float(m) ** np.asarray(ell, float))

    def summary(self):
        """A dict of the Theorem-1 quantities (floats) for display."""
        return {"case": self.case, "rho*": float(self.fixed_point.value(15)),
                "alpha": float(self.rate.value(15)), "kappa(0)": float(self.kappa_0.value(15)),
                "kappa'(0)": float(self.kappa_prime_0.value(15)),
                "kappa'(1)": float(self.kappa_prime_1.value(15)) if self.kappa_prime_1.expr != sp.oo else math.inf}

    # -- display (terminal, LaTeX, Jupyter) ----------------------------------------------------
    def _display_quantities(self):
        """``[(label, latex label, Quantity)]`` of Theorem 1, for the displays below."""
        return [
            ("rho*", r"\rho^*", self.fixed_point),
            ("alpha", r"\alpha", self.rate),
            ("kappa(0)", r"\kappa(0)", self.kappa_0),
            ("kappa'(0)", r"\kappa'(0)", self.kappa_prime_0),
            ("kappa'(1)", r"\kappa'(1)", self.kappa_prime_1),
        ]

    def __repr__(self):
        """``KernelDynamics(case=..., kernel=...)`` then one line per Theorem-1 quantity."""
        head = f"KernelDynamics(case={self.case}, kernel={self.kmap!r})"
        lines = [head]
        for label, _, q in self._display_quantities():
            text = _quantity_text(q)
            sep = "" if text.startswith("≈") else "= "
            lines.append(f"  {label:<9} {sep}{text}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def latex(self, digits=15, mode="math"):
        r"""``\text{case } 3:\ \rho^* = 1,\ \alpha = ...``: exact LaTeX where exact, else ``digits``
        correct digits; ``mode`` as in :func:`symkernel.latex.latex`.

        >>> print(kernel_dynamics("relu").latex().split(r",\quad ")[1])
        \alpha = \frac{1}{2} - \frac{1}{\pi}
        """
        from .latex import _wrap, latex as to_latex

        parts = [f"{sym} = {to_latex(q, lhs=False, digits=digits)}"
                 for _, sym, q in self._display_quantities()]
        body = rf"\text{{Theorem 1, case {self.case}:}}\quad " + r",\quad ".join(parts)
        return _wrap(body, mode)

    def _latex(self, printer=None):
        return self.latex()

    def _repr_html_(self, digits=15):
        """A table (case, rho*, alpha, kappa(0), kappa'(0), kappa'(1)) with LaTeX cells."""
        from .tables import Math, Table

        rows = [["case", str(self.case), None]]
        for label, sym, q in self._display_quantities():
            rows.append([Math(sym, label), *_quantity_cells(q)])
        title = f"Theorem 1 (seed 000): {self.kmap.name} of {self.kmap.act.name}"
        table = Table(title, ["quantity", "exact", "value"], rows, notes=list(self.notes))
        return table._repr_html_(digits)


def _quantity_text(q, digits=15):
    """``1/2 - 1/pi ≈ 0.181690113816209`` (exact) or ``≈ 0.93...`` (numeric); errors are shown."""
    from .errors import SymkernelError
    from .latex import format_number

    try:
        if q.exact:
            text = sp.sstr(q.expr)
            if q.expr.is_number and not q.expr.is_Rational and q.expr.is_finite:
                text += f" ≈ {format_number(q, digits, latex=False)}"
            return text
        return f"≈ {format_number(q, digits, latex=False)}"
    except SymkernelError as exc:
        return f"<{exc}>"


def _quantity_cells(q):
    """Table cells ``(exact, value)`` of a Quantity: the exact expression (if any), its value."""
    from .errors import SymkernelError
    from .tables import Math, Value

    exact = q if q.exact else None
    if q.exact and q.expr in (sp.oo, -sp.oo):
        return exact, Math(sp.latex(q.expr), str(q.expr))
    if q.exact and not q.expr.is_number:
        return exact, None
    try:
        q.value(20)
    except SymkernelError as exc:
        return exact, f"unavailable: {exc}"
    return exact, Value(q)


def _div_logs(eps, k1, dps):
    v = k1.value(dps + 10)
    with mpmath.workdps(dps + 10):
        r = mpmath.log(1 / mpmath.mpf(sp.N(eps, dps + 10))) / mpmath.log(1 / v)
    with mpmath.workdps(dps):
        return +r


def _rename(q, symbol):
    return Quantity(q.expr, symbol, q.provenance, q.numeric, q.params)


def _combine(fn, qs, provenance):
    if all(q.exact for q in qs):
        return Quantity(_nice(to_sympy(fn(*[q.expr for q in qs]))), r"\alpha", "exact: " + provenance)

    def value(dps):
        vals = [q.value(dps + 10) for q in qs]
        with mpmath.workdps(dps + 10):
            v = fn(*vals)
        with mpmath.workdps(dps):
            return +v
    return Quantity(None, r"\alpha", "numeric: " + provenance, value)


def kernel_dynamics(act, **params):
    """Theorem 1 of seed 000 for an activation (normalized to E sigma^2 = 1) or a kernel map.

    Accepts an activation spec, or a :class:`~symkernel.kernels.Kernel` with kappa(1) = 1 (e.g.
    :func:`residual_kernel_map` or :func:`normalized_kernel_map` of a kernel map).
    """
    if isinstance(act, Kernel):
        return KernelDynamics(act)
    return KernelDynamics(kernel_map(act, **params))


__all__ = ["KernelDynamics", "kernel_dynamics", "residual_kernel_map", "normalized_kernel_map"]
