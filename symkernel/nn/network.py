r"""Compose layers and compute the infinite-width NNGP and NTK of the network on data.

``serial(*layers)`` chains layers (consecutive activations fuse into one function of a Gaussian);
``repeat(block, L)`` stacks a block ``L`` times; ``Residual(block, weight)`` adds a skip.  On inputs
``x1`` (n1 x d), ``x2`` (n2 x d) the input kernel is ``x1 x2^T / d`` (NTK zero), as in
neural-tangents (Novak et al., ICLR 2020), and :meth:`Network.kernel` returns the output kernels.

>>> import numpy as np, symkernel as sk
>>> net = sk.nn.serial(sk.nn.Dense(2.0, 0.1), sk.nn.Activation("relu"), sk.nn.Dense(2.0, 0.1))
>>> x = np.array([[1.0, 0.0], [0.6, 0.8]])
>>> k = net.kernel(x)
>>> k.nngp.round(6)
array([[1.2     , 0.873788],
       [0.873788, 1.2     ]])
>>> k.ntk.round(6)
array([[2.3     , 1.377482],
       [1.377482, 2.3     ]])

Exact, in ``q_1 = |x_1|^2/d``, ``q_2`` and ``c = x_1.x_2/d`` (the arc-cosine kernel of Cho & Saul,
NeurIPS 2009):

>>> import sympy as sp
>>> sw2 = sp.Symbol("sigma_w2", positive=True)
>>> sym = sk.nn.serial(sk.nn.Dense(sw2, 0), sk.nn.Activation("relu"), sk.nn.Dense(1, 0)).symbolic()
>>> sp.simplify(sym.nngp)
sigma_w2*(2*c*asin(c/(sqrt(q_1)*sqrt(q_2))) + pi*c + 2*sqrt(q_1)*sqrt(q_2)*sqrt((-c**2 + q_1*q_2)/(q_1*q_2)))/(4*pi)
"""
import math
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError, NoClosedFormError, PrecisionError
from symkernel.numerics import check_dps, decimal_value, working
from symkernel.core.parsing import to_sympy
from symkernel.core.symbols import rho
from symkernel.theory.meanfield import mean_field
from .differentiable import layers_of, torch_kernel, wants_torch
from .angles import NoAngles, dense_angles, input_angles, naive_angles, sum_angles
from .fused import MEHLER, fused_kernels, plan
from .mehler_fused import mehler_kernels
from .layers import Activation, Dense, Layer, State
from .pair import a, b, pair_kernel

#: symbols of the symbolic kernel: squared norms and inner product of the inputs over d
q1, q2, c = sp.symbols("q_1 q_2 c", real=True)
_Q1, _Q2 = sp.symbols("q_1 q_2", positive=True)

#: most entries of the dps path (each entry is a nested quadrature where no closed form exists)
MAX_DPS_ENTRIES = 400
_EPS = np.finfo(float).eps


class Residual(Layer):
    """``h -> h + weight * block(h)``; the block must end in a Dense layer (fresh weights make
    skip and branch uncorrelated: ``K' = K + w^2 K_block``, ``Theta' = Theta + w^2 Theta_block``)."""

    def __init__(self, *block, weight=1.0):
        self.block = serial(*block)
        last = self.block.flat[-1] if self.block.flat else None
        if not isinstance(last, Dense):
            raise InvalidInputError("a Residual block must end in a Dense layer (its fresh weights "
                                    "make the branch uncorrelated with the skip)")
        # a float as typed (0.3 is 3/10), as Dense reads its variances
        self.weight = decimal_value(weight, "weight") if isinstance(weight, float) else to_sympy(weight)
        if self.weight.is_number and not np.isfinite(float(self.weight)):
            raise InvalidInputError(f"the branch weight must be finite, got {weight}")

    def __repr__(self):
        return f"Residual({self.block!r}, weight={self.weight})"

    def transform(self, st, ev):
        w2 = ev.number(self.weight) ** 2
        out = self.block.propagate(st, ev)
        ntk = t1 = t2 = None
        if st.ntk is not None:
            ntk, t1, t2 = st.ntk + out.ntk * w2, st.t1 + out.t1 * w2, st.t2 + out.t2 * w2
        nngp = st.nngp + out.nngp * w2
        err = None if st.err is None else ev.rounded(st.err + out.err * w2, nngp)
        err_ntk = None if st.err_ntk is None else ev.rounded(st.err_ntk + out.err_ntk * w2, ntk)
        th, dth = ev.sum_angles(st, out, w2, nngp, err)
        return State(nngp, ntk, st.q1 + out.q1 * w2, st.q2 + out.q2 * w2, t1, t2,
                     st.m1, st.m2, st.gaussian and out.gaussian, err, err_ntk, th, dth)

    def init(self, backend, d_in, d_out):
        params, d = self.block.init_params(backend, d_in, d_out)
        if d != d_in:
            raise InvalidInputError(f"the residual branch maps width {d_in} to {d}: they must match")
        return params, d_in

    def forward(self, params, h, backend):
        out, caches = self.block.forward_params(params, h, backend)
        return h + out * float(self.weight), caches

    def backward(self, params, cache, g, backend):
        w = float(self.weight)
        g_in, parts = self.block.backward_params(params, cache, g * w, backend)
        return g + g_in, parts


class Network(Layer):
    """A chain of layers (built by :func:`serial`)."""

    def __init__(self, layers):
        flat = []
        for layer in layers:
            if not isinstance(layer, Layer):
                raise InvalidInputError(f"serial() takes layers (sk.nn.Dense, sk.nn.Activation, ...), "
                                        f"not {type(layer).__name__}")
            for part in (layer.flat if isinstance(layer, Network) else [layer]):
                if flat and isinstance(part, Activation) and isinstance(flat[-1], Activation):
                    flat[-1] = flat[-1].then(part)    # phi_2(phi_1(h)): one function of a Gaussian
                else:
                    flat.append(part)
        self.flat = flat

    def __repr__(self):
        return "serial(" + ", ".join(map(repr, self.flat)) + ")"

    def __len__(self):
        return len(self.flat)

    # -- infinite width ----------------------------------------------------------------------------
    def propagate(self, st, ev):
        for layer in self.flat:
            st = layer.transform(st, ev)
        return st

    transform = propagate

    def kernel(self, x1, x2=None, dps=None, ntk=True, errors=False, batch_size=None, tol=1e-10, fused=True):
        """The NNGP and NTK of the network's output on the rows of ``x1`` and ``x2`` (default x1;
        (n, d) arrays, one input per row: a 1-D array is ambiguous and refused): float64 arrays
        (n1, n2), or mpf arrays when ``dps`` is given (small inputs only).

        Float64: every entry carries a first-order error estimate (the rounding of each step and,
        where no closed form exists, a Mehler series' tail: :mod:`symkernel.nn.pair`); an input
        with itself keeps ``theta = 0`` exactly (docs/theory.md §32).  When the largest estimate exceeds ``tol`` times
        the largest kernel entry a PrecisionError says where it comes from and which ``tol``
        accepts it (a series converges slowly near ``|rho| = 1`` when a derivative of the
        activation jumps: SELU, hardtanh).  ``errors=True`` returns the per-entry estimates.
        ``batch_size`` splits the rows of ``x1`` (and ``x2``) into blocks to bound memory.

        A stack of ``Dense`` layers and one activation runs fused (every layer of an entry in one
        compiled loop: :mod:`symkernel.nn.fused`; Mehler series: :mod:`symkernel.nn.mehler_fused`)
        when numba is installed and ``errors=False``; ``fused=False`` forces the NumPy path (which
        carries per-entry error bounds).  The closed-form loops compute no bounds and so do not
        apply ``tol`` (their accuracy, <= 1e-13 against the dps=30 path at depth 100, is
        established by tests); the Mehler loop carries a worst-case bound and hands over to the
        NumPy path above ``tol``.  A stack whose variances reach 0 runs on the NumPy path.

        Torch tensors (an input, or a ``Dense`` variance given as a tensor) select the
        differentiable path: float64 tensors with autograd, no error estimates
        (:mod:`symkernel.nn.differentiable`)."""
        for xs, name in ((x1, "x1"), (x2, "x2")):
            if xs is not None and _ndim(xs) == 1:
                raise InvalidInputError(_ONE_D.format(name=name, shape=tuple(getattr(xs, "shape", (len(xs),)))))
        if wants_torch(self, x1, x2):
            if dps is not None or errors or batch_size is not None:
                raise InvalidInputError("the torch path (tensor inputs or variances) takes no dps=, "
                                        "errors= or batch_size=")
            K, T = torch_kernel(self, x1, x2, ntk)
            return Kernels(K, T, None, None, "torch float64 (autograd)")
        X1 = _data(x1, "x1")
        X2 = X1 if x2 is None else _data(x2, "x2")
        if X1.shape[1] != X2.shape[1]:
            raise InvalidInputError(f"x1 has {X1.shape[1]} features and x2 has {X2.shape[1]}")
        if dps is not None:
            dps = check_dps(dps)
            if X1.shape[0] * X2.shape[0] > MAX_DPS_ENTRIES:
                raise InvalidInputError(f"the dps= path evaluates each of the {X1.shape[0] * X2.shape[0]} "
                                        f"entries at {dps} digits; give at most {MAX_DPS_ENTRIES} pairs "
                                        "(or use the float64 default)")
            return self._kernel_mp(X1, X2, dps, ntk)
        tol = float(tol)
        if not tol > 0:
            raise InvalidInputError(f"tol must be a positive number, got {tol}")
        for X, name in ((X1, "x1"), (X2, "x2")):
            big = float(np.max(np.abs(X)))
            if big > _FLOAT_INPUT_MAX:      # squared norms and products of variances overflow
                raise InvalidInputError(
                    f"{name} has an entry of size {big:.1e}: the float64 kernels square the inputs "
                    f"and multiply two variances, so entries up to {_FLOAT_INPUT_MAX:.0e} are "
                    "accepted; rescale the inputs (or use dps= for a few inputs)")
        if batch_size is not None:
            return self._batched(X1, X2, int(batch_size), ntk, errors, tol, fused)
        planned = plan(self) if fused and not errors else None
        same = x2 is None or x2 is x1          # one triangle of the matrix
        out = method = None
        if planned is not None and planned[0] == MEHLER:
            act = next(layer.act for layer in self.flat if isinstance(layer, Activation))
            out = mehler_kernels(pair_kernel(act), planned[1], X1, X2, same, tol)
            method = "float64 (fused Mehler series, numba)"
        elif planned is not None:
            out = fused_kernels(planned, X1, X2, same=same)
            method = "float64 (fused loops, numba)"
        if out is not None:
            return Kernels(out[0], out[1] if ntk else None, None, None, method)
        d = X1.shape[1]
        K0 = X1 @ X2.T / d
        n1, n2 = (X1 * X1).sum(1) / d, (X2 * X2).sum(1) / d
        if same:           # the same point twice: the covariance equals the variance bit for bit
            np.fill_diagonal(K0, n1)     # (else rho = 1 - 1e-16, and arccos(rho) ~ 1e-8 in the NTK)
        zeros = np.zeros_like(K0)
        th = dth = None
        if self.needs_angles():
            th, dth = input_angles(X1, X2, same=same)
        # the rounding of x1.x2/d: (d + 2) eps sum_k |x1k x2k| / d <= (d + 2) eps sqrt(q1 q2)
        # (Cauchy-Schwarz); not (d + 2) eps |K0|, which is ~0 where the inner product cancels
        err0 = (d + 2) * _EPS * np.sqrt(np.multiply.outer(n1, n2))
        st = State(K0, zeros if ntk else None, n1, n2, np.zeros_like(n1) if ntk else None,
                   np.zeros_like(n2) if ntk else None, err=err0,
                   err_ntk=zeros if ntk else None, theta=th, dtheta=dth)
        ev = _Float(True, same=same)
        out = self.propagate(st, ev)
        worst = {name: float(np.max(err)) / max(float(np.max(np.abs(value))), 1e-300)
                 for name, value, err in (("NNGP", out.nngp, out.err), ("NTK", out.ntk, out.err_ntk))
                 if value is not None and err is not None}
        if any(v > tol for v in worst.values()):
            said = " and ".join(f"the {n} {v:.1e}" for n, v in worst.items())
            up = 10.0 ** math.ceil(math.log10(max(worst.values())))
            raise PrecisionError(f"the float64 kernels have estimated relative errors {said} (tol={tol:g}): "
                                 f"{_why(ev.series)}; pass tol={up:.0e} to accept these digits, or "
                                 "errors=True for per-entry estimates")
        if errors:
            return Kernels(out.nngp, out.ntk, out.err, out.err_ntk, "float64")
        return Kernels(out.nngp, out.ntk, None, None, "float64")

    def needs_angles(self):
        """Whether an activation's NTK step depends on ``theta = arccos rho`` with a nonzero slope
        at ``rho = 1`` (a kink: ReLU, abs, ...), so the float64 path carries the angles
        (:mod:`symkernel.nn.angles`); smooth steps keep their digits in ``rho``."""
        return any(isinstance(layer, Activation) and layer.pair.has_theta_form
                   and layer.pair.theta_mode != "direct" for layer in layers_of(self))

    def _batched(self, X1, X2, size, ntk, errors, tol, fused):
        if size < 1:
            raise InvalidInputError("batch_size must be a positive integer")
        def block(i, j):     # a diagonal block of x1 with itself is one input set (x2=None)
            x2 = None if (X2 is X1 and i == j) else X2[j:j + size]
            return self.kernel(X1[i:i + size], x2, ntk=ntk, errors=errors, tol=tol, fused=fused)
        parts = [[block(i, j) for j in range(0, X2.shape[0], size)] for i in range(0, X1.shape[0], size)]

        def join(attr):
            if getattr(parts[0][0], attr) is None:
                return None
            return np.block([[getattr(p, attr) for p in row] for row in parts])
        return Kernels(join("nngp"), join("ntk"), join("nngp_error"), join("ntk_error"), "float64")

    def _kernel_mp(self, X1, X2, dps, ntk):
        with working(dps + 10):
            M1 = _mp_matrix(X1)
            M2 = _mp_matrix(X2)
            d = mpmath.mpf(X1.shape[1])
            K0 = np.array([[mpmath.fdot(M1[i], M2[j]) / d for j in range(M2.shape[0])]
                           for i in range(M1.shape[0])], dtype=object)
            n1 = np.array([mpmath.fdot(r, r) / d for r in M1], dtype=object)
            n2 = np.array([mpmath.fdot(r, r) / d for r in M2], dtype=object)
            zero = mpmath.mpf(0)
            st = State(K0, (K0 * 0 + zero) if ntk else None, n1, n2,
                       (n1 * 0 + zero) if ntk else None, (n2 * 0 + zero) if ntk else None)
            out = self.propagate(st, _Mp())
        with working(dps):
            rnd = np.vectorize(lambda v: +v, otypes=[object])
            return Kernels(rnd(out.nngp), None if out.ntk is None else rnd(out.ntk), None, None,
                           f"mpmath at {dps} digits (closed forms evaluated, or nested quadrature: estimated)")

    def symbolic(self, ntk=True):
        """Exact NNGP and NTK of two inputs as SymPy expressions in ``q_1 = |x_1|^2/d``,
        ``q_2 = |x_2|^2/d`` and ``c = x_1.x_2/d`` (and any symbolic sigma_w2, sigma_b2)."""
        st = State(np.array([[c]], dtype=object), np.array([[sp.Integer(0)]], dtype=object) if ntk else None,
                   np.array([_Q1], dtype=object), np.array([_Q2], dtype=object),
                   np.array([sp.Integer(0)], dtype=object) if ntk else None,
                   np.array([sp.Integer(0)], dtype=object) if ntk else None)
        out = self.propagate(st, _Sym())
        back = {_Q1: q1, _Q2: q2}
        nngp = out.nngp[0, 0].subs(back)
        theta = None if out.ntk is None else out.ntk[0, 0].subs(back)
        return SymbolicKernels(nngp, theta)

    # -- finite width -----------------------------------------------------------------------------
    def init_params(self, backend, d_in, width, d_out=None):
        """Random parameters for width ``width`` (the last Dense maps to ``d_out``, default width)."""
        params, d = [], d_in
        last = max((i for i, layer in enumerate(self.flat) if isinstance(layer, Dense)), default=-1)
        for i, layer in enumerate(self.flat):
            p, d = layer.init(backend, d, d_out if (i == last and d_out is not None) else width)
            params.append(p)
        return params, d

    def forward_params(self, params, h, backend):
        caches = []
        for layer, p in zip(self.flat, params):
            h, cache = layer.forward(p, h, backend)
            caches.append(cache)
        return h, caches

    def backward_params(self, params, caches, g, backend):
        parts = []
        for layer, p, cache in zip(reversed(self.flat), reversed(params), reversed(caches)):
            g, more = layer.backward(p, cache, g, backend)
            parts.extend(more)
        return g, parts

    # -- mean field ---------------------------------------------------------------------------------
    def mean_field_block(self):
        """``(phi, sigma_w2, sigma_b2)`` when the network is a repetition of Dense -> Activation
        (the setting of the mean-field theory), else an InvalidInputError saying why."""
        pairs = [(self.flat[i], self.flat[i + 1]) for i in range(0, len(self.flat) - 1, 2)]
        ok = pairs and all(isinstance(dn, Dense) and isinstance(ac, Activation) for dn, ac in pairs)
        tail = self.flat[2 * len(pairs):]
        if not ok or any(not isinstance(t, Dense) for t in tail) or len(tail) > 1:
            raise InvalidInputError("mean-field diagnostics need Dense -> Activation blocks repeated "
                                    "(optionally a final Dense readout)")
        first = pairs[0]
        for dn, ac in pairs[1:]:
            if (dn.sigma_w2, dn.sigma_b2, ac.act.expr) != (first[0].sigma_w2, first[0].sigma_b2, first[1].act.expr):
                raise InvalidInputError("mean-field diagnostics need the same Dense -> Activation block at "
                                        "every layer")
        return first[1].act, first[0].sigma_w2, first[0].sigma_b2

    def mean_field(self, q0=1):
        """Mean-field diagnostics of the repeated block (q*, chi_1, depth scales: Poole et al.,
        NeurIPS 2016; Schoenholz et al., ICLR 2017) through :func:`symkernel.mean_field`."""
        act, sw2, sb2 = self.mean_field_block()
        return mean_field(act, sw2, sb2, q0=q0)


def serial(*layers):
    """Chain layers into a :class:`Network` (``serial(Dense(...), Activation("tanh"), Dense(...))``)."""
    return Network(layers)


def repeat(block, depth):
    """``block`` stacked ``depth`` times: a positive integer, or a SymPy symbol (positive integer)
    for :meth:`Network.symbolic` when the block is affine in the kernels (Dense layers, residual
    Dense branches): then ``v_L = M^L v_0`` in closed form (Jordan form of the block's matrix)."""
    block = block if isinstance(block, Network) else serial(block)
    if isinstance(depth, sp.Basic) and not depth.is_number:
        if not (depth.is_integer and depth.is_positive):
            raise InvalidInputError(f"a symbolic depth must be declared a positive integer "
                                    f"(sympy.Symbol('{depth}', integer=True, positive=True))")
        return Network([SymbolicRepeat(block, depth)])
    if isinstance(depth, sp.Basic):
        depth = int(depth) if depth.is_Integer else depth
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise InvalidInputError(f"depth must be a positive integer, got {depth!r}")
    if depth > 10_000:
        raise InvalidInputError(f"depth {depth} exceeds 10000 layers")
    return Network([block] * int(depth))


class SymbolicRepeat(Layer):
    """A block repeated a symbolic number of times (closed form for affine blocks only)."""

    def __init__(self, block, depth):
        self.block, self.depth = block, depth

    def __repr__(self):
        return f"repeat({self.block!r}, {self.depth})"

    def transform(self, st, ev):
        if not isinstance(ev, _Sym):
            raise InvalidInputError(f"the depth {self.depth} is symbolic: use net.symbolic(), or give "
                                    "an integer depth")
        names = ("K", "T", "Q_1", "Q_2", "T_1", "T_2")
        syms = sp.symbols(" ".join(f"{n}_in" for n in names))
        wrap = [np.array([[syms[0]]], dtype=object), np.array([[syms[1]]], dtype=object)] + \
            [np.array([v], dtype=object) for v in syms[2:]]
        probe = State(wrap[0], wrap[1], wrap[2], wrap[3], wrap[4], wrap[5])
        out = self.block.propagate(probe, ev)
        if out.m1 is not None or not out.gaussian:
            raise NoClosedFormError("a symbolic depth needs a block that ends with Gaussian, zero-mean "
                                    "features (ending in a Dense layer)")
        new = [out.nngp[0, 0], out.ntk[0, 0], out.q1[0], out.q2[0], out.t1[0], out.t2[0]]
        rows = []
        for e in new:
            e = sp.expand(e)
            try:
                poly = sp.Poly(e, *syms)
            except sp.PolynomialError:
                poly = None
            if poly is None or poly.total_degree() > 1:
                raise NoClosedFormError(
                    f"the block's kernel recursion is not affine ({e} in the input kernels), so "
                    f"depth {self.depth} has no closed form here: give an integer depth")
            rows.append([e.coeff(v) for v in syms] + [e.subs({v: 0 for v in syms})])
        M = sp.Matrix(rows + [[0] * len(syms) + [1]])
        power = sp.simplify(M ** self.depth)
        v0 = [st.nngp[0, 0], st.ntk[0, 0], st.q1[0], st.q2[0], st.t1[0], st.t2[0]]
        vL = power * sp.Matrix(v0 + [1])
        a2 = [sp.simplify(v) for v in vL[:6]]
        return State(np.array([[a2[0]]], dtype=object), np.array([[a2[1]]], dtype=object),
                     np.array([a2[2]], dtype=object), np.array([a2[3]], dtype=object),
                     np.array([a2[4]], dtype=object), np.array([a2[5]], dtype=object))


@dataclass(frozen=True)
class Kernels:
    """The output kernels: ``nngp`` and ``ntk`` (arrays n1 x n2), error estimates, and how."""

    nngp: object
    ntk: object
    nngp_error: object = None
    ntk_error: object = None
    method: str = "float64"


@dataclass(frozen=True)
class SymbolicKernels:
    """Exact NNGP and NTK as SymPy expressions in ``q_1, q_2, c`` (:data:`q1`, :data:`q2`, :data:`c`)."""

    nngp: sp.Expr
    ntk: sp.Expr

    def latex(self):
        out = r"K(x_1, x_2) = " + sp.latex(self.nngp)
        if self.ntk is not None:
            out += r", \quad \Theta(x_1, x_2) = " + sp.latex(self.ntk)
        return out

    def _repr_latex_(self):
        return f"${self.latex()}$"


# -- evaluators: one transform, three arithmetics ------------------------------------------------------
class _Float:
    def __init__(self, errors=False, same=False):
        self.errors = errors
        # x2 is x1: an input with itself has theta = 0 exactly at every layer (its two features are
        # the same function of the same input), so the diagonal's angle is pinned to 0, error 0
        # (else a rule that finds theta' from a gap, P' - F ~ 1 ulp, bounds it by ~sqrt(eps))
        self.same = same
        # the activations whose step took the float64 Mehler series (name -> pair kernel), so
        # that a PrecisionError can say where its estimate comes from
        self.series = {}

    @staticmethod
    def number(v):
        if not v.is_number:
            raise InvalidInputError(f"{v} is symbolic: give numbers for the float64 kernel, or use "
                                    "net.symbolic()")
        return float(v)

    def pin(self, th, dth):
        """The angles with the diagonal of an input with itself set to 0 exactly (``same``)."""
        if self.same and th is not None and th.ndim == 2 and th.shape[0] == th.shape[1]:
            np.fill_diagonal(th, 0.0)
            np.fill_diagonal(dth, 0.0)
        return th, dth

    def step(self, pk, st, ntk, d1, d2):
        """``(F, D, (eF, eD), (theta', dtheta'))``: in the angle where closed forms exist
        (:meth:`PairKernel.float_theta_step`), else in rho with the output angle from F.  ``eF``
        bounds the error of F including the carried input error (through theta, or ``|D| err``)."""
        if pk.has_theta_form and st.theta is not None and pk.theta_applies(st.q1, st.q2):
            F, D, eF, eD, th, dth = pk.float_theta_step(st.q1, st.q2, st.theta, st.dtheta)
            return F, D, (eF, eD), self.pin(th, dth)
        F, D, (eF, eD) = pk.float_step(st.q1[:, None], st.q2[None, :], st.nngp, ntk=ntk)
        if pk.uses_series(st.q1[:, None], st.q2[None, :], ntk):
            self.series.setdefault(pk.act.name, pk)
        eF = eF + 8 * _EPS * np.abs(F)
        if D is not None:      # rounding, and the error of the covariances carried through D(rho)
            eD = eD + 8 * _EPS * np.abs(D)
            if st.err is not None:
                moved = pk.float_d_error(st.q1, st.q2, st.nngp, st.err, D)
                if self.same and moved.ndim == 2 and moved.shape[0] == moved.shape[1]:
                    np.fill_diagonal(moved, 0.0)    # an input with itself: rho = 1 exactly at every layer
                eD = eD + moved
        prev = 0 if st.err is None else st.err
        eF = eF + (0 if D is None else np.abs(D) * prev)     # |dF/dc| carries the input error
        th = dth = None
        if st.theta is not None:
            th, dth = self.pin(*naive_angles(F, eF, np.sqrt(np.multiply.outer(d1, d2))))
        return F, D, (eF, eD), (th, dth)

    @staticmethod
    def diag(pk, q, ntk):
        return pk.float_diag(q, ntk=ntk)

    @staticmethod
    def rounded(err, value, k=2):
        """An error bound plus the rounding of the new entries (``k`` ulps)."""
        return err + k * _EPS * np.abs(value)

    def dense_angles(self, st, nngp, err, w, b):
        if st.theta is None:
            return None, None
        return self.pin(*dense_angles(st.q1, st.q2, st.theta, st.dtheta, nngp, err, w, b))

    def sum_angles(self, st, out, w2, nngp, err):
        if st.theta is None:
            return None, None
        return self.pin(*sum_angles(st.q1, st.q2, st.theta, st.dtheta, out.q1, out.q2, out.theta,
                                    out.dtheta, w2, nngp, err))

    def naive_angles(self, nngp, err, q1, q2):
        if err is None:
            return None, None
        return self.pin(*naive_angles(nngp, err, np.sqrt(np.multiply.outer(q1, q2))))

    sqrt = staticmethod(np.sqrt)
    outer = staticmethod(np.multiply.outer)

    @staticmethod
    def check_positive(v1, v2, name):
        if (v1 <= 0).any() or (v2 <= 0).any():
            raise InvalidInputError(f"{name} of features with zero variance (an input maps to a constant)")


class _Mp(NoAngles):
    errors = False

    @staticmethod
    def number(v):
        if not v.is_number:
            raise InvalidInputError(f"{v} is symbolic: give numbers, or use net.symbolic()")
        return mpmath.mpf(sp.Float(v, mpmath.mp.dps + 5)) if not v.is_Rational else \
            mpmath.mpf(int(v.p)) / int(v.q)

    @staticmethod
    def step(pk, st, ntk, d1, d2):
        q1, q2, K = st.q1, st.q2, st.nngp
        F = np.empty(K.shape, dtype=object)
        D = np.empty(K.shape, dtype=object) if ntk else None
        for i in range(K.shape[0]):
            for j in range(K.shape[1]):
                f, d = pk.mp_step(q1[i], q2[j], K[i, j], ntk)
                F[i, j] = f
                if ntk:
                    D[i, j] = d
        return F, D, (None, None), (None, None)

    @classmethod
    def diag(cls, pk, q, ntk):
        pairs = [pk.mp_step(v, v, v, ntk) for v in q]
        F = np.array([p[0] for p in pairs], dtype=object)
        D = np.array([p[1] for p in pairs], dtype=object) if ntk else None
        return F, D, np.array([pk.mp_mean(v) for v in q], dtype=object)

    sqrt = staticmethod(np.vectorize(mpmath.sqrt, otypes=[object]))
    outer = staticmethod(np.multiply.outer)

    @staticmethod
    def check_positive(v1, v2, name):
        if any(v <= 0 for v in list(v1) + list(v2)):
            raise InvalidInputError(f"{name} of features with zero variance (an input maps to a constant)")


class _Sym(NoAngles):
    errors = False

    @staticmethod
    def number(v):
        return v

    @staticmethod
    def _closed(pk, which):
        expr = pk.exact_nngp if which == "F" else pk.exact_ntk_factor
        if expr is None:
            if which == "D":
                pk.require_derivative()
            raise NoClosedFormError(f"no closed form of the {'NNGP' if which == 'F' else 'NTK'} step of "
                                    f"{pk.act.name} for two inputs; use the float64 or dps= kernel")
        return expr

    @classmethod
    def _subs(cls, expr, u, v, cov):
        return expr.subs({a: sp.sqrt(u), b: sp.sqrt(v)}).subs(rho, cov / sp.sqrt(u * v))

    @classmethod
    def step(cls, pk, st, ntk, d1, d2):
        q1, q2, K = st.q1, st.q2, st.nngp
        F = np.array([[cls._subs(cls._closed(pk, "F"), q1[0], q2[0], K[0, 0])]], dtype=object)
        D = np.array([[cls._subs(cls._closed(pk, "D"), q1[0], q2[0], K[0, 0])]], dtype=object) if ntk else None
        return F, D, (None, None), (None, None)

    @classmethod
    def diag(cls, pk, q, ntk):
        F = np.array([sp.simplify(cls._closed(pk, "F").subs({a: sp.sqrt(v), b: sp.sqrt(v), rho: 1})) for v in q],
                     dtype=object)
        D = np.array([sp.simplify(cls._closed(pk, "D").subs({a: sp.sqrt(v), b: sp.sqrt(v), rho: 1})) for v in q],
                     dtype=object) if ntk else None
        if pk.exact_mean is None:
            raise NoClosedFormError(f"no closed form of the mean of {pk.act.name}")
        return F, D, np.array([pk.exact_mean.subs(a, sp.sqrt(v)) for v in q], dtype=object)

    sqrt = staticmethod(np.vectorize(sp.sqrt, otypes=[object]))
    outer = staticmethod(np.multiply.outer)

    @staticmethod
    def check_positive(v1, v2, name):
        return None


def _why(series):
    """Where a float64 error estimate above ``tol`` comes from, and what the dps= path offers."""
    if not series:
        return ("no series is involved: the estimate is the float64 rounding carried through the "
                "layers' closed forms (steepest near |rho| = 1); dps= evaluates them with mpmath")
    names = ", ".join(sorted(series))
    proven = [n for n, pk in series.items() if pk.exact_nngp is None and len(pk.act.pieces) > 1]
    dps = (f"dps= has no proven path for {', '.join(sorted(proven))} (no closed form, and more than "
           "one analytic piece)" if proven else "dps= gives proven digits (Mehler series with proven "
           "coefficients)")
    return (f"the float64 Mehler series of {names} converges slowly here (a kink or jump in a "
            f"derivative makes its terms decay like a power of k, near |rho| = 1); {dps}")


#: largest input entry of the float64 path (its square norm times d stays below 1e154)
_FLOAT_INPUT_MAX = 1e70


_ONE_D = ("{name} must be an (n, d) array, one input per row; got a 1-D array of shape {shape}, "
          "which is ambiguous (one input of d features, or n inputs of one feature): pass "
          "x[None, :] for one input or x[:, None] for n scalar inputs")


def _ndim(xs):
    """The number of axes of an array, tensor or nested list (None if it has no shape)."""
    nd = getattr(xs, "ndim", None)
    if nd is not None:
        return nd
    try:
        return np.ndim(xs)
    except (TypeError, ValueError):
        return None


def _data(xs, name):
    try:
        arr = np.asarray(xs, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a numeric array (n x d)") from None
    if arr.ndim == 1:
        raise InvalidInputError(_ONE_D.format(name=name, shape=arr.shape))
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(f"{name} must be a nonempty 2-D array (n x d), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{name} contains NaN or infinity")
    return arr


def _mp_matrix(X):
    """Each float64 entry as the mpf of its exact binary value."""
    return np.array([[mpmath.mpf(float(v)) for v in row] for row in X], dtype=object)


__all__ = ["Kernels", "MAX_DPS_ENTRIES", "Network", "Residual", "SymbolicKernels", "c", "q1", "q2",
           "repeat", "serial"]
