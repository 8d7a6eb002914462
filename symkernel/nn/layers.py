r"""Layers: each carries its infinite-width kernel transform and its finite-width forward.

NTK parameterization, as neural-tangents' default (Jacot et al., NeurIPS 2018; Novak et al., ICLR
2020): ``Dense`` maps ``h -> sqrt(sigma_w^2 / n_in) W h + sqrt(sigma_b^2) b`` with ``W, b`` standard
normal, so on the kernels of its input (``K`` the NNGP, ``Theta`` the NTK, both over pairs of data
points):

* ``Dense``: ``K' = sigma_w^2 K + sigma_b^2``, ``Theta' = K' + sigma_w^2 Theta``;
* ``Activation(phi)``: ``K' = F(q_1, q_2, K)``, ``Theta' = Theta D(q_1, q_2, K)``
  (:mod:`symkernel.nn.pair`; ``q`` the diagonal), valid for Gaussian input (after a Dense);
* ``LayerNorm``: ``K' = (K - m_1 m_2) / sqrt(v_1 v_2)``, ``Theta' = Theta / sqrt(v_1 v_2)`` with
  ``m`` the feature mean and ``v = q - m^2`` (``RMSNorm``: no centring, ``v = q``);
* ``Residual(block, weight)``: ``K' = K + w^2 K_block``, ``Theta' = Theta + w^2 Theta_block`` (the
  block ends in a Dense with fresh weights, so skip and branch are uncorrelated).

A state's ``nngp``/``ntk`` are arrays of float64, of mpf (``dps=``) or of SymPy expressions; one
transform serves the three (``ev`` supplies the activation step and the square root).
"""
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError
from symkernel.core.activations import Activation as _ActivationClass, as_activation
from symkernel.numerics import decimal_value
from symkernel.core.symbols import x
from symkernel.kernels.closed_forms import weak_derivative
from .pair import pair_kernel


@dataclass(frozen=True)
class State:
    """The kernels of the features between two layers, for the rows of ``x1`` and of ``x2``.

    ``q1, q2``: the NNGP diagonals; ``t1, t2``: the NTK diagonals; ``m1, m2``: feature means
    (None: zero); ``gaussian``: the features are jointly Gaussian (an activation may follow);
    ``err``/``err_ntk``: first-order error estimates of the float64 entries (or None);
    ``theta``/``dtheta``: the float64 angles ``arccos rho`` carried without cancellation and their
    error bounds (:mod:`symkernel.nn.angles`; None in the dps= and symbolic paths)."""

    nngp: object
    ntk: object
    q1: object
    q2: object
    t1: object
    t2: object
    m1: object = None
    m2: object = None
    gaussian: bool = True
    err: object = None
    err_ntk: object = None
    theta: object = None
    dtheta: object = None


def is_tensor(value):
    """Whether ``value`` is a torch tensor (torch is optional: no import)."""
    return type(value).__module__.startswith("torch") and hasattr(value, "requires_grad")


def _number(value, name):
    if is_tensor(value):
        if value.numel() != 1:
            raise InvalidInputError(f"{name} must be a scalar tensor, got shape {tuple(value.shape)}")
        value = float(value.detach())
    if isinstance(value, float):
        value = decimal_value(value, name)       # 0.1 as typed: 1/10 in the exact kernels
    v = sp.sympify(value) if isinstance(value, (int, sp.Basic, np.number)) else None
    if v is None or isinstance(value, bool):
        raise InvalidInputError(f"{name} must be a number or a SymPy expression, not {type(value).__name__}")
    if v.is_number:
        f = float(v)
        if not np.isfinite(f) or f < 0:
            raise InvalidInputError(f"{name} must be a finite nonnegative number, got {value}")
    elif v.is_nonnegative is not True:
        raise InvalidInputError(f"{name} = {v}: declare its symbols positive (sympy.Symbol(..., positive=True))")
    return v


class Layer:
    """A layer: ``transform`` (infinite width) and ``init``/``forward``/``backward`` (finite width)."""

    def layers(self):
        return [self]


class Dense(Layer):
    """``h -> sqrt(sigma_w2 / n_in) W h + sqrt(sigma_b2) b`` (NTK parameterization)."""

    def __init__(self, sigma_w2=1.0, sigma_b2=0.0):
        self.sigma_w2 = _number(sigma_w2, "sigma_w2")
        self.sigma_b2 = _number(sigma_b2, "sigma_b2")
        # torch tensors given for the variances: the torch path differentiates through them (the
        # other paths use their values, read when the layer was made)
        self.tensors = {k: v for k, v in (("w", sigma_w2), ("b", sigma_b2)) if is_tensor(v)}

    def __repr__(self):
        return f"Dense(sigma_w2={self.sigma_w2}, sigma_b2={self.sigma_b2})"

    def values(self, ev):
        t = self.tensors if getattr(ev, "torch", False) else {}
        return (ev.tensor(t["w"]) if "w" in t else ev.number(self.sigma_w2),
                ev.tensor(t["b"]) if "b" in t else ev.number(self.sigma_b2))

    def transform(self, st, ev):
        w, b = self.values(ev)
        nngp = st.nngp * w + b
        q1, q2 = st.q1 * w + b, st.q2 * w + b
        ntk = t1 = t2 = None
        if st.ntk is not None:
            ntk, t1, t2 = nngp + st.ntk * w, q1 + st.t1 * w, q2 + st.t2 * w
        err = None if st.err is None else ev.rounded(st.err * w, nngp)
        err_ntk = None if st.err_ntk is None else ev.rounded((st.err_ntk + st.err) * w, ntk)
        th, dth = ev.dense_angles(st, nngp, err, w, b)
        return State(nngp, ntk, q1, q2, t1, t2, None, None, True, err, err_ntk, th, dth)

    # finite width
    def init(self, backend, d_in, d_out):
        return {"W": backend.randn(d_out, d_in), "b": backend.randn(d_out)}, d_out

    def scales(self, d_in):
        return float(np.sqrt(float(self.sigma_w2) / d_in)), float(np.sqrt(float(self.sigma_b2)))

    def forward(self, params, h, backend):
        sw, sb = self.scales(h.shape[-1])
        return (h @ params["W"].T) * sw + params["b"] * sb, h

    def backward(self, params, cache, g, backend):
        """``(dL/dh, [(P, g)])``: the NTK gets ``(g_1 g_2^T) * (P_1 P_2^T)`` from each pair."""
        h = cache
        sw, sb = self.scales(h.shape[-1])
        ones = h[:, :1] * 0 + sb
        return (g @ params["W"]) * sw, [(h * sw, g), (ones, g)]


class Activation(Layer):
    """An activation ``phi`` applied to each feature: a registry name, an expression in ``sk.x``, a
    string, an :class:`~symkernel.core.activations.Activation`, or several of them, applied left to
    right (``Activation("relu", "tanh")`` is ``tanh(relu(x))``: one function of a Gaussian, so
    its kernel exists)."""

    def __init__(self, *acts, gain=None, **params):
        if not acts:
            raise InvalidInputError("Activation needs an activation (a registry name or an expression)")
        parts = [as_activation(a, gain, **params) for a in acts]
        self.parts = parts
        self.act = compose(parts)

    def __repr__(self):
        return f"Activation({self.act.name})"

    @property
    def pair(self):
        pk = getattr(self, "_pair", None)
        if pk is None:
            pk = self._pair = pair_kernel(self.act)
        return pk

    def then(self, other):
        """The composition of this activation with a later one (consecutive layers fuse)."""
        fused = Activation.__new__(Activation)
        fused.parts = self.parts + other.parts
        fused.act = compose(fused.parts)
        return fused

    def transform(self, st, ev):
        if not st.gaussian:
            raise InvalidInputError(
                f"Activation({self.act.name}) needs Gaussian input features (after a Dense layer): its "
                "input here is the output of a nonlinearity or a normalization of one")
        want_ntk = st.ntk is not None
        # D = dF/dc also carries the input error of the NNGP to the output (when phi' exists)
        want_d = want_ntk or (ev.errors and self.pair.derivative is not None)
        d1, dd1, m1 = ev.diag(self.pair, st.q1, want_ntk)
        d2, dd2, m2 = ev.diag(self.pair, st.q2, want_ntk)
        F, D, (eF, eD), (th, dth) = ev.step(self.pair, st, want_d, d1, d2)
        ntk = t1 = t2 = err_ntk = None
        if want_ntk:
            ntk, t1, t2 = st.ntk * D, st.t1 * dd1, st.t2 * dd2
        err = None
        if ev.errors:
            err = eF          # the step's error bound, the input's error carried (ev.step) included
            if want_ntk:
                prev_t = 0 if st.err_ntk is None else st.err_ntk
                err_ntk = np.abs(D) * prev_t + np.abs(st.ntk) * eD
        return State(F, ntk, d1, d2, t1, t2, m1, m2, False, err, err_ntk, th, dth)

    # finite width
    def init(self, backend, d_in, d_out):
        return {}, d_in

    def functions(self, backend):
        key = ("nn-forward", backend.name, str(getattr(backend, "dtype", "")))
        cache = self.act.memo(key, dict)
        if not cache:
            d, why = weak_derivative(self.act)
            cache["f"] = backend.activation(self.act)
            cache["df"] = None if d is None else backend.activation(d)
            cache["why"] = why
        return cache

    def forward(self, params, h, backend):
        return self.functions(backend)["f"](h), h

    def backward(self, params, cache, g, backend):
        fns = self.functions(backend)
        if fns["df"] is None:
            raise InvalidInputError(f"no empirical NTK through {self.act.name}: {fns['why']}")
        return g * fns["df"](cache), []


def compose(parts):
    """``phi_n(...phi_1(x))`` as one Activation (names joined with ``∘``, outermost first)."""
    if len(parts) == 1:
        return parts[0]
    expr = parts[0].expr
    for p in parts[1:]:
        expr = p.expr.subs(x, expr)
    name = "∘".join(p.name for p in reversed(parts))
    return as_activation(_ActivationClass(name, expr))


class _Norm(Layer):
    centred = True

    def __init__(self, eps=0.0):
        self.eps = float(eps)
        if not np.isfinite(self.eps) or self.eps < 0:
            raise InvalidInputError(f"eps must be a finite nonnegative number, got {eps}")

    def transform(self, st, ev):
        zero = st.m1 is None or not self.centred
        v1 = st.q1 if zero else st.q1 - st.m1 * st.m1
        v2 = st.q2 if zero else st.q2 - st.m2 * st.m2
        v1, v2 = v1 + self.eps, v2 + self.eps
        ev.check_positive(v1, v2, type(self).__name__)
        s1, s2 = ev.sqrt(v1), ev.sqrt(v2)
        den = ev.outer(s1, s2)
        nngp = (st.nngp if zero else st.nngp - ev.outer(st.m1, st.m2)) / den
        q1 = (st.q1 if zero else st.q1 - st.m1 * st.m1) / (s1 * s1)
        q2 = (st.q2 if zero else st.q2 - st.m2 * st.m2) / (s2 * s2)
        ntk = t1 = t2 = None
        if st.ntk is not None:
            ntk, t1, t2 = st.ntk / den, st.t1 / (s1 * s1), st.t2 / (s2 * s2)
        m1 = m2 = None
        if not self.centred and st.m1 is not None:
            m1, m2 = st.m1 / s1, st.m2 / s2
        err = None if st.err is None else ev.rounded(st.err / den, nngp, 4)
        err_ntk = None if st.err_ntk is None else ev.rounded(st.err_ntk / den, ntk, 4)
        if (zero and self.eps == 0) or st.theta is None:   # a rescaling: rho and theta unchanged
            th, dth = st.theta, st.dtheta
        else:
            th, dth = ev.naive_angles(nngp, err, q1, q2)
        return State(nngp, ntk, q1, q2, t1, t2, m1, m2, st.gaussian, err, err_ntk, th, dth)

    def init(self, backend, d_in, d_out):
        return {}, d_in

    def forward(self, params, h, backend):
        c = h - backend.mean(h, -1) if self.centred else h
        r = backend.rsqrt(backend.mean(c * c, -1) + self.eps)
        y = c * r
        return y, (y, r)

    def backward(self, params, cache, g, backend):
        y, r = cache
        gy = g - y * backend.mean(g * y, -1)
        if self.centred:
            gy = gy - backend.mean(g, -1)
        return gy * r, []


class LayerNorm(_Norm):
    """``h -> (h - mean(h)) / std(h)`` over the features (Ba et al. 2016); no learned scale."""

    centred = True

    def __repr__(self):
        return "LayerNorm()"


class RMSNorm(_Norm):
    """``h -> h / sqrt(mean(h^2))`` over the features (Zhang & Sennrich, NeurIPS 2019)."""

    centred = False

    def __repr__(self):
        return "RMSNorm()"


__all__ = ["Activation", "Dense", "Layer", "LayerNorm", "RMSNorm", "State", "compose", "is_tensor"]
