r"""Seeded, path-vectorized simulation of finite-depth ResNets and of scalar SDEs.

* :func:`simulate_resnet`: ``Y_ℓ = Y_{ℓ−1} + L^{−1/2} W_ℓ φ(Y_{ℓ−1})``, ``W_ℓ`` i.i.d. ``N(0, 1/n)``
  entries (Hayou (TMLR 2023), Eq. 1), for many independent networks at once.  ``method="weights"`` draws
  each ``W_ℓ`` (an ``n x n`` matrix per path and layer); ``method="law"`` (default) draws
  ``W_ℓ φ(Y_{ℓ−1})`` directly from its exact conditional law ``N(0, ‖φ(Y_{ℓ−1})‖²/n · I_n)``
  (``W_ℓ``
  is independent of ``Y_{ℓ−1}``), which gives the same law of the path of one input at ``n``
  normals per layer instead of ``n²``.  That recursion is also the Euler–Maruyama scheme with step
  ``1/L`` for ``dX = n^{−1/2}‖φ(X)‖ dB`` (Hayou (TMLR 2023), Thm 1).
* :func:`euler_maruyama`: a scalar :class:`~symkernel.theory.sde.ito.Diffusion` on ``[0, t1]``.

NumPy float64 by default; ``backend="torch"`` (optional, imported lazily) runs the same recursion
with a seeded ``torch.Generator``.  ``progress=True`` shows a tqdm bar.

>>> run = simulate_resnet("relu", width=1, depth=50, n_paths=4, x0=[1.0], seed=1)
>>> run.final.shape, run.params["method"]
((4, 1), 'law')
"""

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from symkernel.core import display
from symkernel.errors import InvalidInputError
from symkernel.core.numpy_eval import numpy_lambdify
from symkernel.core.progress import progress
from symkernel.core.symbols import t as t_sym
from symkernel.core.symbols import x
from symkernel.theory.sde.ito import Diffusion, check_width, sde_activation
from .backends import check_memory, check_seed, torch_activation


def check_positive_int(value, name):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer, sp.Integer))
        or int(value) < 1
    ):
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def vectorized(phi, backend="numpy"):
    """A vectorized callable for φ (NumPy arrays or torch tensors): the activation's own float64
    vectorizer (:meth:`~symkernel.core.activations.Activation.numpy`, cast back to the input's
    dtype) or the simulator's torch one (:func:`~symkernel.simulate.backends.torch_activation`)."""
    act = sde_activation(phi)
    if act.free_parameters:
        raise InvalidInputError(
            f"give numeric values to {sorted(map(str, act.free_parameters))} before simulating"
        )
    if backend not in ("numpy", "torch"):
        raise InvalidInputError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if act.expr == sp.Max(0, x):  # ReLU fast path
        if backend == "numpy":
            return lambda y: np.maximum(y, 0.0)
        import torch

        return lambda y: torch.clamp_min(y, 0.0)
    if act.expr == x:
        return lambda y: y
    if backend == "torch":
        import torch

        return torch_activation(act, torch)
    f = act.numpy()
    return lambda y: f(y).astype(np.asarray(y).dtype, copy=False)


def _progress(iterable, show, desc):
    """A tqdm progress bar when ``show`` (:func:`symkernel.core.progress.progress`; ``None``: when visible)."""
    return progress(iterable, desc=desc, enabled=show)


@dataclass
class ResNetRun:
    """Result of :func:`simulate_resnet`: final states ``(n_paths, width)``, initial states,
    the values returned by ``observe`` (a list, one per observed layer) and the parameters."""

    final: np.ndarray
    initial: np.ndarray
    observed: list = field(default_factory=list)
    observed_layers: list = field(default_factory=list)
    params: dict = field(default_factory=dict)

    def __repr__(self):
        p = self.params
        shown = ", ".join(
            f"{k}={p[k]}"
            for k in ("width", "depth", "n_paths", "horizon", "method", "backend", "dtype", "seed")
            if k in p
        )
        return f"ResNetRun({shown}, observed layers={len(self.observed_layers)})"

    def _repr_html_(self):
        """The parameters of the run as a small table (:mod:`symkernel.present.display`)."""
        return display.to_html(self)


def _initial(x0, n_paths, width, rng):
    if x0 is None or (isinstance(x0, str) and x0 == "gaussian"):
        return rng.standard_normal((n_paths, width))
    arr = np.asarray(x0, dtype=float)
    if arr.ndim == 1 and arr.shape[0] == width:
        return np.broadcast_to(arr, (n_paths, width)).copy()
    if arr.shape == (n_paths, width):
        return arr.copy()
    raise InvalidInputError(
        f"x0 must have shape ({width},) or ({n_paths}, {width}), got {arr.shape}"
    )


def simulate_resnet(
    phi,
    width,
    depth,
    n_paths,
    x0=None,
    seed=0,
    method="law",
    backend="numpy",
    observe=None,
    observe_every=1,
    progress=False,
    dtype="float64",
    threads=None,
    horizon=1.0,
    gain=None,
    **params,
):
    r"""Simulate ``n_paths`` independent ResNets ``Y_ℓ = Y_{ℓ−1} + L^{−1/2} W_ℓ φ(Y_{ℓ−1})``.

    ``x0``: one starting point of shape ``(width,)``, one per path ``(n_paths, width)``, or
    ``None``/``"gaussian"`` for ``N(0, I)`` draws (seeded).  ``observe(ell, Y)`` (``Y`` a NumPy
    array) is called at ``ell = 0`` and every ``observe_every`` layers; its values are returned.
    ``threads`` sets torch's intra-op thread count for this call only (restored afterwards).
    ``horizon`` ``T`` scales the residual branch by ``(T/L)^{1/2}`` instead of ``L^{-1/2}``: the
    Euler–Maruyama scheme of the limit SDE on ``[0, T]`` (``T = 1`` is the ResNet).
    ``phi``, ``gain`` and registry ``params``: as :func:`~symkernel.theory.sde.ito.sde_activation`.
    """
    phi = sde_activation(phi, gain, **params)
    if not (isinstance(horizon, (int, float)) and not isinstance(horizon, bool)
            and math.isfinite(horizon) and horizon > 0):
        raise InvalidInputError(f"horizon must be a finite positive number, got {horizon!r}")
    seed = check_seed(seed, sequence=backend != "torch")
    if backend == "torch" and threads is not None:
        threads = check_positive_int(threads, "threads")
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(int(threads))
        try:
            return simulate_resnet(
                phi,
                width,
                depth,
                n_paths,
                x0,
                seed,
                method,
                backend,
                observe,
                observe_every,
                progress,
                dtype,
                None,
                horizon,
            )
        finally:
            torch.set_num_threads(before)
    width = check_width(width)
    depth = check_positive_int(depth, "depth")
    n_paths = check_positive_int(n_paths, "n_paths")
    if method not in ("law", "weights"):
        raise InvalidInputError(f"method must be 'law' or 'weights', got {method!r}")
    check_memory(8 * n_paths * width * (4 + (width if method == "weights" else 0)),
                 f"{n_paths} ResNet paths of width {width}")
    f = vectorized(phi, backend)
    rng = np.random.default_rng(seed)
    y0 = _initial(x0, n_paths, width, rng)
    observed, layers = [], []
    scale = float(np.sqrt(horizon / depth))
    params = dict(
        width=width,
        depth=depth,
        n_paths=n_paths,
        seed=seed,
        method=method,
        backend=backend,
        dtype=str(dtype),
        horizon=horizon,
    )
    if backend == "torch":
        import torch

        tdtype = getattr(torch, str(dtype))
        gen = torch.Generator().manual_seed(int(seed))
        y = torch.as_tensor(y0, dtype=tdtype)
        to_np = lambda a: a.numpy()
    else:
        y = y0.astype(dtype)
        to_np = lambda a: a
    if observe is not None:
        observed.append(observe(0, to_np(y)))
        layers.append(0)
    for ell in _progress(range(1, depth + 1), progress, "ResNet layers"):
        fy = f(y)
        if backend == "torch":
            if method == "law":
                norm = torch.sqrt(torch.einsum("ij,ij->i", fy, fy) / width).unsqueeze(1)
                y = y + (scale * norm) * torch.randn(y.shape, generator=gen, dtype=tdtype)
            else:
                w = torch.randn((n_paths, width, width), generator=gen, dtype=tdtype) / np.sqrt(
                    width
                )
                y = y + scale * torch.bmm(w, fy.unsqueeze(2)).squeeze(2)
        else:
            if method == "law":
                norm = np.sqrt(np.einsum("ij,ij->i", fy, fy) / width) * scale
                noise = rng.standard_normal((n_paths, width), dtype=dtype)
                noise *= norm[:, None]
                y += noise
            else:
                w = rng.standard_normal((n_paths, width, width), dtype=dtype) / np.sqrt(width)
                y += scale * np.einsum("pij,pj->pi", w, fy)
        if observe is not None and (ell % observe_every == 0 or ell == depth):
            observed.append(observe(ell, to_np(y)))
            layers.append(ell)
    final = np.asarray(to_np(y), dtype=float)
    if not np.all(np.isfinite(final)):
        raise InvalidInputError(f"the simulated ResNet overflowed ({np.count_nonzero(~np.isfinite(final))} "
                                f"of {final.size} entries are not finite): phi = {getattr(phi, 'expr', phi)} grows too fast "
                                f"for width {width}, depth {depth}, horizon {horizon}")
    return ResNetRun(final, y0, observed, layers, params)


def simulate_resnet_inputs(phi, x0, depth, n_paths, seed=0, method="weights", observe=None,
                           gain=None, **params):
    r"""``n_paths`` ResNets ``Y^a_ℓ = Y^a_{ℓ−1} + L^{−1/2} W_ℓ φ(Y^a_{ℓ−1})`` run on ``m`` inputs
    that share the weights (Hayou (TMLR 2023) Prop. 5).

    ``x0``: the inputs, shape ``(m, n)`` (the same for every path) or ``(n_paths, m, n)``.
    ``method="weights"`` draws every ``W_ℓ``; ``method="law"`` draws the increments from their
    exact joint law ``N(0, K ⊗ I_n)``, ``K = φ(Y)φ(Y)^T/n`` (a symmetric square root of ``K`` per
    path).  ``observe(ell, Y)`` as in :func:`simulate_resnet`.  Returns a :class:`ResNetRun` with
    ``final`` of shape ``(n_paths, m, n)``.
    """
    phi = sde_activation(phi, gain, **params)
    depth = check_positive_int(depth, "depth")
    n_paths = check_positive_int(n_paths, "n_paths")
    if method not in ("law", "weights"):
        raise InvalidInputError(f"method must be 'law' or 'weights', got {method!r}")
    arr = np.asarray(x0, dtype=float)
    if arr.ndim == 2:
        arr = np.broadcast_to(arr, (n_paths, *arr.shape))
    if arr.ndim != 3 or arr.shape[0] != n_paths:
        raise InvalidInputError(f"x0 must have shape (m, n) or ({n_paths}, m, n), got "
                                f"{np.shape(x0)}")
    _, m, width = arr.shape
    check_memory(8 * n_paths * width * (3 * m + (width if method == "weights" else 0)),
                 f"{n_paths} ResNet paths of width {width} on {m} inputs")
    f = vectorized(phi)
    rng = np.random.default_rng(check_seed(seed, sequence=True))
    y = arr.copy()
    scale = 1.0 / np.sqrt(depth)
    observed, layers = [], []
    if observe is not None:
        observed.append(observe(0, y))
        layers.append(0)
    for ell in range(1, depth + 1):
        fy = f(y)
        if method == "weights":
            w = rng.standard_normal((n_paths, width, width)) / np.sqrt(width)
            y = y + scale * np.einsum("pij,pmj->pmi", w, fy)
        else:
            K = np.einsum("pai,pbi->pab", fy, fy) / width
            vals, vecs = np.linalg.eigh(K)
            root = np.einsum("pab,pb,pcb->pac", vecs, np.sqrt(np.maximum(vals, 0.0)), vecs)
            y = y + scale * np.einsum("pab,pbi->pai", root,
                                      rng.standard_normal((n_paths, m, width)))
        if observe is not None:
            observed.append(observe(ell, y))
            layers.append(ell)
    params = dict(width=width, depth=depth, n_paths=n_paths, inputs=m, seed=seed, method=method)
    return ResNetRun(np.asarray(y, float), arr.copy(), observed, layers, params)


def backprop_norms(phi, width, depth, n_paths, x0=None, g=None, seed=0, gain=None, **params):
    r"""Norms ``‖g_ℓ‖``, ``ℓ = L, ..., 0``, of a fixed last-layer gradient ``g_L`` back-propagated
    through ``n_paths`` ResNets: ``g_{ℓ−1} = g_ℓ + L^{−1/2} diag(φ'(Y_{ℓ−1})) W_ℓ^T g_ℓ``
    (Hayou (TMLR 2023) Fig. 8).  The forward pass draws and keeps every ``W_ℓ``.  ``x0``, ``g``:
    shape ``(width,)`` (default: ``N(0, I)`` draws per path and ``g = e_1``).  Returns an array
    ``(depth + 1, n_paths)`` whose row ``j`` is ``‖g_{L−j}‖``.
    """
    phi = sde_activation(phi, gain, **params)
    width = check_width(width)
    depth = check_positive_int(depth, "depth")
    n_paths = check_positive_int(n_paths, "n_paths")
    check_memory(8 * n_paths * width * width * (depth + 1), f"{depth} weight matrices")
    f = vectorized(phi)
    df = vectorized(sp.diff(phi.expr, x))
    rng = np.random.default_rng(check_seed(seed, sequence=True))
    y = _initial(x0, n_paths, width, rng)
    scale = 1.0 / np.sqrt(depth)
    ws, ys = [], []
    for _ in range(depth):
        w = rng.standard_normal((n_paths, width, width)) / np.sqrt(width)
        ws.append(w)
        ys.append(y)
        y = y + scale * np.einsum("pij,pj->pi", w, f(y))
    grad = np.zeros((n_paths, width))
    if g is None:
        grad[:, 0] = 1.0
    else:
        g = np.asarray(g, float)
        if g.shape != (width,) or not np.all(np.isfinite(g)):
            raise InvalidInputError(f"g must be a finite vector of shape ({width},), got shape "
                                    f"{g.shape}")
        grad[:] = g
    norms = [np.linalg.norm(grad, axis=1)]
    for w, yl in zip(reversed(ws), reversed(ys)):
        grad = grad + scale * np.asarray(df(yl), float) * np.einsum("pji,pj->pi", w, grad)
        norms.append(np.linalg.norm(grad, axis=1))
    return np.array(norms)


def euler_maruyama_limit(
    phi, width, steps, n_paths, t1=1.0, x0=None, seed=0, progress=False, backend="numpy",
    gain=None, **params,
):
    r"""Euler–Maruyama for ``dX = n^{-1/2}‖φ(X)‖ dB`` on ``[0, t1]``; returns ``X_{t1}``.

    ``X_{k+1} = X_k + (t1/steps)^{1/2} n^{-1/2}‖φ(X_k)‖ ξ_k``, ``ξ_k ~ N(0, I_n)``: in law the
    ResNet of depth ``steps`` when ``t1 = 1`` (:func:`simulate_resnet` with ``method="law"``).

    >>> xs = euler_maruyama_limit("identity", 1, steps=200, n_paths=20000, t1=0.5, x0=[1.0])
    >>> bool(abs((xs**2).mean() - np.exp(0.5)) < 0.05)          # E X_t^2 = x0^2 e^t
    True
    """
    return simulate_resnet(
        phi,
        width,
        steps,
        n_paths,
        x0=x0,
        seed=seed,
        method="law",
        backend=backend,
        progress=progress,
        horizon=float(t1),
        gain=gain,
        **params,
    ).final


def euler_maruyama(diffusion, x0, steps, n_paths, t1=1.0, seed=0, progress=False):
    """Euler–Maruyama for a scalar :class:`Diffusion` on ``[0, t1]``; returns ``X_{t1}`` samples.

    >>> from symkernel.core.symbols import x
    >>> out = euler_maruyama(Diffusion(-x, 1), x0=0.0, steps=100, n_paths=20000, seed=3)
    >>> bool(abs(out.var() - (1 - np.exp(-2.0)) / 2) < 0.02)    # OU: Var X_1 = (1 - e^{-2})/2
    True
    """
    if not isinstance(diffusion, Diffusion):
        raise InvalidInputError("euler_maruyama needs a Diffusion (sde.ito.Diffusion)")
    steps = check_positive_int(steps, "steps")
    n_paths = check_positive_int(n_paths, "n_paths")
    free = (diffusion.drift.free_symbols | diffusion.vol.free_symbols) - {diffusion.var, t_sym}
    if free:
        raise InvalidInputError(f"give numeric values to {sorted(map(str, free))} first")
    mu = numpy_lambdify((diffusion.var, t_sym), diffusion.drift)
    sg = numpy_lambdify((diffusion.var, t_sym), diffusion.vol)
    rng = np.random.default_rng(seed)
    h = float(t1) / steps
    xs = np.full(n_paths, float(x0)) if np.ndim(x0) == 0 else np.asarray(x0, float).copy()
    for i in _progress(range(steps), progress, "Euler-Maruyama"):
        tt = i * h
        xs = (
            xs
            + np.broadcast_to(mu(xs, tt), xs.shape) * h
            + np.broadcast_to(sg(xs, tt), xs.shape) * np.sqrt(h) * rng.standard_normal(n_paths)
        )
    return xs


__all__ = ["simulate_resnet", "simulate_resnet_inputs", "backprop_norms", "euler_maruyama",
           "euler_maruyama_limit", "ResNetRun", "vectorized"]
