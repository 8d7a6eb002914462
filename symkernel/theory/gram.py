r"""Isometry of Gram matrices and the mean-field Gram map (Joudaki, Daneshmand & Bach (NeurIPS 2023), Joudaki, Daneshmand, Bach).

* Isometry (Def. 1) :math:`\mathcal I(G) = \det(G)^{1/n} / (\operatorname{tr} G / n) \in [0, 1]`
  and the isometry gap :math:`-\log \mathcal I(G)` (0 for ``G`` proportional to the identity,
  :math:`\infty` for a degenerate ``G``).  Floats come from the eigenvalues (a sum of logarithms,
  no underflow at n = 100); SymPy matrices give exact :class:`~symkernel.Quantity` objects.
* Potential (Def. 4) :math:`\gamma(G) = \max_{i\ne j} |\tilde G_{ij}|/(1-|\tilde G_{ij}|)`,
  :math:`\tilde G_{ij} = G_{ij}/\sqrt{G_{ii}G_{jj}}`.
* Theorem 1: :math:`\mathcal I(\tilde G) \ge \mathcal I(G)(1 + \operatorname{var}(a)/\bar a^2)`,
  :math:`a_i = \sqrt{G_{ii}}` (:func:`normalization_lower_bound`).
* Lemma A.4: :math:`(1-(n-1)\max|G_{ij}|)^n \le \det G \le 1-\max G_{ij}^2` for unit diagonal.
* Corollary A.3: :math:`\gamma(G_\ell) \le \gamma(G_0)\beta_\sigma^{-\ell}`; Theorem 4:
  :math:`-\log\mathcal I(G_\ell) \le \exp(-\ell\log\beta_\sigma - n\log\mathcal I(G_0) + \log 4n)`.
* The mean-field Gram map :math:`G^+_{ij} = \bar\sigma(G_{ij})/\bar\sigma(1)` (centering and layer
  normalization; Theorem A.2), its variant without centering (:math:`\hat\sigma` in place of
  :math:`\bar\sigma`), and the residual mixing :math:`(1-r^2)G^+ + r^2 G` (Joudaki & Hofmann (AISTATS 2025), Prop. 2).

>>> import numpy as np, sympy as sp, symkernel as sk
>>> round(sk.isometry(np.array([[2.0, 1.0], [1.0, 2.0]])), 12)
0.866025403784
>>> sk.isometry(sp.Matrix([[2, 1], [1, 2]])).expr
sqrt(3)/2
>>> sk.isometry_gap(np.ones((3, 3)))
inf
"""
import math
from collections import namedtuple

import numpy as np
import sympy as sp

from symkernel.numerics import serialized
from symkernel.core.parsing import to_sympy

from symkernel.core.activations import Activation, as_activation
from symkernel.errors import InvalidInputError, NoClosedFormError
from symkernel.core.quantity import Quantity
from symkernel.core.symbols import rho as rho_symbol
from .dynamics import layer_kernel_map

EXACT = "exact: SymPy linear algebra"

LemmaA4Bounds = namedtuple("LemmaA4Bounds", "lower det upper")


# ---------------------------------------------------------------- input handling
def _is_sympy(G):
    return isinstance(G, sp.MatrixBase)


def _to_numpy(G):
    """``(arr, eps_in)``: a float64 ndarray from a NumPy array (any real dtype: float16/32/64,
    integers, object arrays of Python/mpmath/SymPy numbers), nested lists or a torch tensor, and
    the unit roundoff of the input's floating type when it is coarser than float64 (else 0).
    Entries are taken as the numbers they store (rounded to float64 when finer); all arithmetic
    is float64."""
    eps_in = 0.0
    if type(G).__module__.startswith("torch"):
        import torch

        G = G.detach().cpu()
        if G.is_complex():
            raise InvalidInputError("a Gram matrix must be real, got a complex tensor")
        if G.is_floating_point():
            eps_in = float(torch.finfo(G.dtype).eps)
        G = G.double().numpy()
    probe = G if isinstance(G, np.ndarray) else None
    if probe is not None and np.issubdtype(probe.dtype, np.complexfloating):
        raise InvalidInputError("a Gram matrix must be real, got a complex array")
    if probe is not None and np.issubdtype(probe.dtype, np.floating):
        eps_in = float(np.finfo(probe.dtype).eps)
    try:
        arr = np.asarray(G, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"a Gram matrix must be a numeric square array: {exc}") from None
    return arr, (eps_in if eps_in > np.finfo(np.float64).eps else 0.0)


def default_tolerance(n, dtype=np.float64):
    """Relative tolerance for symmetry/PSD checks and for calling an eigenvalue zero: 100 n eps."""
    return 100 * n * float(np.finfo(dtype).eps)


def _check_numeric(G, tol):
    """``(arr, tol)``: the symmetrized float64 array and the relative tolerance of the symmetry
    and PSD checks and of calling an eigenvalue zero.  Default: ``100 n eps`` of float64 plus
    ``n`` units of roundoff of a coarser input type (float16/float32: the eigenvalue shift its
    rounding can cause, ``|dlambda| <= n max|dG_ij|``), whatever the input type; all arithmetic
    is float64."""
    arr, eps_in = _to_numpy(G)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise InvalidInputError(f"a Gram matrix must be square, got shape {arr.shape}")
    n = arr.shape[0]
    if n < 2:
        raise InvalidInputError(f"isometry needs n >= 2 vectors, got n = {n}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError("the Gram matrix has NaN or infinite entries")
    tol = default_tolerance(n) + n * eps_in if tol is None else float(tol)
    scale = float(np.max(np.abs(arr)))
    if np.max(np.abs(arr - arr.T)) > tol * max(scale, np.finfo(float).tiny):
        raise InvalidInputError(f"the Gram matrix is not symmetric (beyond relative tolerance {tol:.3g})")
    return 0.5 * (arr + arr.T), tol


def _eigenvalues(arr, tol):
    """Eigenvalues (ascending) of a symmetric array; PSD checked to ``tol`` relative to the largest."""
    lam = np.linalg.eigvalsh(arr)
    top = max(lam[-1], 0.0)
    if lam[0] < -tol * top or (top == 0 and lam[0] < 0):
        raise InvalidInputError(f"the Gram matrix is not positive semidefinite: smallest eigenvalue "
                                f"{lam[0]:.3g} vs largest {lam[-1]:.3g} (relative tolerance {tol:.3g})")
    return lam, top


def checked_gram(G, tol=None):
    """``(arr, tol)``: a Gram matrix as a symmetrized float64 array, checked square, finite,
    symmetric and positive semidefinite to the relative tolerance ``tol`` (default as in
    :func:`isometry`); InvalidInputError otherwise.

    >>> checked_gram([[1.0, 0.5], [0.5, 1.0]])[0].tolist()
    [[1.0, 0.5], [0.5, 1.0]]
    """
    arr, tol = _check_numeric(G, tol)
    _eigenvalues(arr, tol)
    return arr, tol


#: the largest Gram matrix with free symbols whose determinant is expanded (6! = 720 terms,
#: seconds; 12x12 did not finish)
MAX_SYMBOLIC_SIZE = 6


def _check_sympy(G):
    if not G.is_square:
        raise InvalidInputError(f"a Gram matrix must be square, got shape {G.shape}")
    if G.rows < 2:
        raise InvalidInputError(f"isometry needs n >= 2 vectors, got n = {G.rows}")
    if any(e.has(sp.oo, -sp.oo, sp.zoo, sp.nan) for e in G):
        raise InvalidInputError("the Gram matrix has NaN or infinite entries")
    if G.free_symbols and G.rows > MAX_SYMBOLIC_SIZE:
        raise InvalidInputError(
            f"a {G.rows}x{G.rows} Gram matrix with free symbols is beyond {MAX_SYMBOLIC_SIZE}x"
            f"{MAX_SYMBOLIC_SIZE}: its determinant has up to n! terms; substitute numbers (exact "
            "rationals work at any size)")
    if any(sp.simplify(d) != 0 for d in (G - G.T)):
        raise InvalidInputError("the Gram matrix is not symmetric")
    if not G.free_symbols and G.is_positive_semidefinite is False:
        raise InvalidInputError("the Gram matrix is not positive semidefinite")
    return G


def _quantity(expr, symbol):
    return Quantity(to_sympy(expr), symbol, EXACT)


# ---------------------------------------------------------------- isometry, gap, potential
@serialized
def isometry(G, *, tol=None):
    r"""Isometry :math:`\det(G)^{1/n}/(\operatorname{tr}G/n)` (Joudaki, Daneshmand & Bach (NeurIPS 2023), Def. 1).

    NumPy/torch/list input (any real dtype; computed in float64): a float from the eigenvalues
    :math:`\lambda_i`, :math:`\exp(\overline{\log\lambda})/\bar\lambda`; eigenvalues below
    ``tol`` times the largest count as zero and give 0 (default ``100 n eps`` of float64, plus
    ``n eps`` of the input type when it is float16/float32: what its rounding can hide).
    SymPy matrix: an exact Quantity.
    Non-square, non-symmetric, non-PSD (beyond ``tol``), NaN/inf or n < 2: InvalidInputError.

    >>> import numpy as np
    >>> isometry(np.eye(4) * 3.0)
    1.0
    """
    if _is_sympy(G):
        G = _check_sympy(G)
        n = G.rows
        det = sp.factor(G.det(method="berkowitz"))
        if det == 0:
            return _quantity(0, r"\mathcal{I}(G)")
        return _quantity(sp.simplify(det ** sp.Rational(1, n) / (G.trace() / n)), r"\mathcal{I}(G)")
    arr, tol = _check_numeric(G, tol)
    lam, top = _eigenvalues(arr, tol)
    if top == 0 or lam[0] <= tol * top:
        return 0.0
    lam = lam / top
    return float(min(np.exp(np.mean(np.log(lam))) / np.mean(lam), 1.0))


@serialized
def isometry_gap(G, *, tol=None):
    r"""Isometry gap :math:`-\log\mathcal I(G) \in [0, \infty]` (``inf`` for degenerate ``G``).

    >>> import numpy as np
    >>> round(isometry_gap(np.array([[1.0, 0.5], [0.5, 1.0]])), 12)   # -log sqrt(3/4)
    0.143841036226
    """
    value = isometry(G, tol=tol)
    if isinstance(value, Quantity):
        gap = sp.oo if value.expr == 0 else sp.simplify(-sp.log(value.expr))
        return Quantity(gap, r"-\log \mathcal{I}(G)", EXACT)
    return math.inf if value == 0 else max(-math.log(value), 0.0)


def normalized_gram(G, *, tol=None):
    r""":math:`\tilde G_{ij} = G_{ij}/\sqrt{G_{ii}G_{jj}}` (the Gram of the vectors projected on the
    unit sphere); every diagonal entry must be positive.

    >>> normalized_gram([[4.0, 2.0], [2.0, 1.0]])
    array([[1., 1.],
           [1., 1.]])
    """
    if _is_sympy(G):
        G = _check_sympy(G)
        diag = [G[i, i] for i in range(G.rows)]
        if any(d.is_positive is False or d == 0 for d in diag):
            raise InvalidInputError("normalizing needs nonzero vectors: a diagonal entry is 0")
        return sp.Matrix(G.rows, G.cols, lambda i, j: 1 if i == j else
                         sp.simplify(G[i, j] / sp.sqrt(diag[i] * diag[j])))
    arr, tol = _check_numeric(G, tol)
    _eigenvalues(arr, tol)
    d = np.diag(arr)
    if np.any(d <= tol * np.max(d)):
        raise InvalidInputError("normalizing needs nonzero vectors: a diagonal entry is (numerically) 0")
    s = 1.0 / np.sqrt(d)
    out = np.clip(arr * s[:, None] * s[None, :], -1.0, 1.0)
    np.fill_diagonal(out, 1.0)
    return out


def _offdiagonal_abs_max(C):
    n = C.shape[0]
    mask = ~np.eye(n, dtype=bool)
    return float(np.max(np.abs(C[mask])))


def potential(G, *, tol=None):
    r"""Potential :math:`\gamma(G) = \max_{i\ne j}|\tilde G_{ij}|/(1-|\tilde G_{ij}|)` (Joudaki, Daneshmand & Bach (NeurIPS 2023),
    Def. 4); ``inf`` when two vectors are parallel.

    >>> potential([[1.0, 0.5], [0.5, 1.0]])
    1.0
    """
    C = normalized_gram(G, tol=tol)
    if _is_sympy(C):
        ratios = [abs(C[i, j]) / (1 - abs(C[i, j])) if abs(C[i, j]) != 1 else sp.oo
                  for i in range(C.rows) for j in range(C.cols) if i != j]
        return _quantity(sp.Max(*ratios), r"\gamma(G)")
    m = _offdiagonal_abs_max(C)
    return math.inf if m >= 1.0 else m / (1.0 - m)


def _unit_diagonal(G, tol):
    if _is_sympy(G):
        G = _check_sympy(G)
        if any(sp.simplify(G[i, i] - 1) != 0 for i in range(G.rows)):
            raise InvalidInputError("Lemma A.4 is stated for unit-diagonal G: use normalized_gram(G)")
        return G, None
    arr, tol = _check_numeric(G, tol)
    _eigenvalues(arr, tol)
    if np.max(np.abs(np.diag(arr) - 1.0)) > tol:
        raise InvalidInputError("Lemma A.4 is stated for unit-diagonal G: use normalized_gram(G)")
    return arr, tol


def lemma_a4_bounds(G, *, tol=None):
    r"""``(lower, det, upper)`` of Joudaki, Daneshmand & Bach (NeurIPS 2023) Lemma A.4 for a unit-diagonal PSD ``G``:
    :math:`(1-(n-1)m)^n \le \det G \le 1 - m_+^2`, :math:`m = \max_{i\ne j}|G_{ij}|`
    (:math:`m_+^2 = \max G_{ij}^2 = m^2`).  The lower bound needs :math:`(n-1)m \le 1`; otherwise
    the trivial bound 0 is returned.

    >>> lemma_a4_bounds([[1.0, 0.5], [0.5, 1.0]])
    LemmaA4Bounds(lower=0.25, det=0.75, upper=0.75)
    """
    G, tol = _unit_diagonal(G, tol)
    n = G.shape[0]
    if _is_sympy(G):
        m = sp.Max(*[abs(G[i, j]) for i in range(n) for j in range(n) if i != j])
        low = (1 - (n - 1) * m) ** n if ((n - 1) * m - 1).is_nonpositive else sp.Integer(0)
        return LemmaA4Bounds(_quantity(low, "L"), _quantity(G.det(method="berkowitz"), r"\det G"),
                             _quantity(1 - m**2, "U"))
    m = _offdiagonal_abs_max(G)
    sign, logdet = np.linalg.slogdet(G)
    det = float(sign * np.exp(logdet)) if sign > 0 else 0.0
    low = (1.0 - (n - 1) * m) ** n if (n - 1) * m <= 1 else 0.0
    return LemmaA4Bounds(low, det, 1.0 - m * m)


def normalization_lower_bound(G, *, tol=None):
    r"""Theorem 1 of Joudaki, Daneshmand & Bach (NeurIPS 2023): :math:`\mathcal I(G)\,(1 + \operatorname{var}(a)/\bar a^2)`,
    :math:`a_i = \|x_i\| = \sqrt{G_{ii}}` (population variance), a lower bound of
    :math:`\mathcal I(\tilde G)`, the isometry after projecting every vector on the unit sphere.

    >>> G = [[4.0, 0.0], [0.0, 1.0]]
    >>> round(normalization_lower_bound(G), 12), isometry(normalized_gram(G))
    (0.888888888889, 1.0)
    """
    base = isometry(G, tol=tol)
    if isinstance(base, Quantity):
        a = [sp.sqrt(G[i, i]) for i in range(G.rows)]
        mean = sum(a) / len(a)
        var = sum((ai - mean) ** 2 for ai in a) / len(a)
        return _quantity(sp.simplify(base.expr * (1 + var / mean**2)), r"\mathcal{I}(G)(1+\mathrm{var}(a)/\bar a^2)")
    a = np.sqrt(np.clip(np.diag(_to_numpy(G)[0]), 0.0, None))
    if np.mean(a) == 0:
        raise InvalidInputError("Theorem 1 needs nonzero vectors")
    return float(base * (1.0 + np.var(a) / np.mean(a) ** 2))


# ---------------------------------------------------------------- Corollary A.3 and Theorem 4
def _beta_value(beta):
    """beta as a float, or as an exact SymPy number/expression when given one."""
    if isinstance(beta, Quantity):
        beta = beta.expr if beta.exact else beta.value(20)
    if isinstance(beta, (int, np.integer)) and not isinstance(beta, bool):
        beta = sp.Integer(int(beta))
    if isinstance(beta, sp.Basic):
        if beta.free_symbols:
            return beta
        value = float(beta)
    else:
        value = beta = float(beta)
    if not 1.0 <= value <= 2.0 + 1e-12:
        raise InvalidInputError(f"an isometry strength lies in [1, 2], got {value}")
    return beta


def potential_bound(gamma0, beta, ell):
    r"""Corollary A.3: :math:`\gamma(G_\ell) \le \gamma(G_0)\,\beta_\sigma^{-\ell}` (mean-field).

    ``ell`` an int, an array of depths, or a SymPy symbol (then a SymPy expression is returned).

    >>> potential_bound(1.0, 2.0, np.arange(3))
    array([1.  , 0.5 , 0.25])
    """
    beta = _beta_value(beta)
    if isinstance(ell, sp.Basic):
        return to_sympy(gamma0) * to_sympy(beta) ** (-ell)
    return float(gamma0) * np.power(float(beta), -np.asarray(ell, dtype=float))


def isometry_gap_bound(G0, beta, ell, *, tol=None):
    r"""Theorem 4 of Joudaki, Daneshmand & Bach (NeurIPS 2023): :math:`\exp(-\ell\log\beta_\sigma - n\log\mathcal I(G_0) + \log 4n)
    = 4n\,\beta_\sigma^{-\ell}/\mathcal I(G_0)^n`, an upper bound of the mean-field isometry gap
    :math:`-\log\mathcal I(G_\ell)` once ``ell`` is large enough (:func:`isometry_gap_bound_depth`).

    >>> round(float(isometry_gap_bound(np.eye(3), 2.0, 3)), 12)
    1.5
    """
    n = G0.shape[0] if hasattr(G0, "shape") else len(G0)
    beta = _beta_value(beta)
    if isinstance(ell, sp.Basic) or _is_sympy(G0):
        i0 = isometry(sp.Matrix(G0), tol=tol).expr
        if i0 == 0:
            return sp.oo
        return 4 * n * to_sympy(beta) ** (-ell) / i0**n
    i0, beta = isometry(G0, tol=tol), float(beta)
    ell = np.asarray(ell, dtype=float)
    if i0 == 0:
        return np.full(ell.shape, np.inf)[()]
    return np.exp(-ell * math.log(beta) - n * math.log(i0) + math.log(4 * n))


def isometry_gap_bound_depth(G0, beta, *, tol=None):
    r"""A depth from which Theorem 4 provably holds along the mean-field sequence.

    The proof needs :math:`(n-1)\gamma(G_\ell) \le 1/2`; by Corollary A.3 that holds for
    :math:`\ell \ge \log(2(n-1)\gamma(G_0))/\log\beta_\sigma`.  (Joudaki, Daneshmand & Bach (NeurIPS 2023) prints the condition as
    :math:`\ell \gtrsim \beta^{-1}(-n\log\mathcal I(G_0)+\log 4n)`: the factor must be
    :math:`1/\log\beta`, not :math:`1/\beta`.)  ``inf`` for ``beta == 1`` or a degenerate ``G0``.

    >>> isometry_gap_bound_depth([[1.0, 0.5], [0.5, 1.0]], 2.0)
    1
    """
    beta = float(_beta_value(beta))
    g0 = potential(G0, tol=tol)
    g0 = float(g0) if isinstance(g0, Quantity) else g0
    n = len(G0) if not hasattr(G0, "shape") else G0.shape[0]
    if g0 == 0:
        return 0
    if math.isinf(g0) or beta == 1.0:
        return math.inf
    return max(0, math.ceil(math.log(2 * (n - 1) * g0) / math.log(beta)))


# ---------------------------------------------------------------- the mean-field Gram map
def _kernel_for(kernel, centering):
    """``(f, f1)``: an object with ``.numpy(array)`` and ``.expr`` (or a plain callable) and its
    value at 1 (``None``: evaluate ``f``).  For an activation ``f`` is the layer's normalized
    kernel map :func:`~symkernel.theory.dynamics.layer_kernel_map` (``sigma_bar/sigma_bar(1)``,
    or ``kappa`` without centering) and ``f1 = 1``."""
    if not isinstance(kernel, (Activation, str, sp.Basic)):
        if isinstance(kernel, tuple):
            return kernel
        if not callable(kernel):
            raise InvalidInputError("the Gram map needs an activation or a callable kernel rho -> f(rho)")
        return kernel, None
    act = as_activation(kernel)
    key = ("gram_kernel", bool(centering))
    return act.memo(key, lambda: (layer_kernel_map(act, centering), sp.Integer(1)))


def _apply_numpy(kernel, arr):
    f = getattr(kernel, "numpy", None)
    out = f(arr) if f is not None else kernel(arr)
    return np.asarray(out, dtype=np.float64).reshape(np.shape(arr))


def _apply_exact(kernel, value):
    expr = getattr(kernel, "expr", None)
    if expr is None:
        if isinstance(kernel, sp.Lambda) or not hasattr(kernel, "numpy"):
            return to_sympy(kernel(value))
        raise NoClosedFormError("this kernel has no closed form: use a float Gram matrix")
    return expr.subs(rho_symbol, value)


def gram_map(G, kernel, *, centering=True, residual=0, tol=None):
    r"""One layer of the mean-field Gram dynamics (Joudaki, Daneshmand & Bach (NeurIPS 2023) eq. (10), Theorem A.2):
    :math:`G^+_{ij} = f(\tilde G_{ij})/f(1)`, then :math:`(1-r^2)G^+ + r^2\tilde G` when
    ``residual = r``.

    ``kernel``: an activation (``f = σ̄``, the mean-reduced dual, with ``centering=True``;
    ``f = σ̂``, the dual, without) or any vectorized callable ``f`` (used as given).  ``G`` is first
    projected on unit diagonal (layer normalization).  SymPy ``G`` gives an exact matrix.

    >>> import sympy as sp, symkernel as sk
    >>> half = sp.Rational(1, 2)
    >>> gram_map(sp.Matrix([[1, half], [half, 1]]), sk.x**2 + sk.x)   # σ̄(ρ) = ρ + 2ρ²
    Matrix([
    [  1, 1/3],
    [1/3,   1]])
    """
    r = residual if isinstance(residual, sp.Basic) else float(residual)
    if not isinstance(r, sp.Basic) and not 0 <= r < 1:
        raise InvalidInputError(f"the residual strength r must lie in [0, 1), got {residual}")
    f, f1 = _kernel_for(kernel, centering)
    C = normalized_gram(G, tol=tol)
    if _is_sympy(C):
        f1 = sp.simplify(_apply_exact(f, sp.Integer(1))) if f1 is None else f1
        if isinstance(f1, Quantity):
            raise NoClosedFormError("the kernel has no closed form at 1: use a float Gram matrix")
        if f1 == 0:
            raise InvalidInputError("the kernel vanishes at 1 (a constant activation?)")
        out = sp.Matrix(C.rows, C.cols, lambda i, j: 1 if i == j else
                        sp.simplify(_apply_exact(f, C[i, j]) / f1))
        return out if r == 0 else sp.simplify((1 - r**2) * out + r**2 * C)
    f1 = float(_apply_numpy(f, np.array([1.0]))[0]) if f1 is None else float(f1)
    if not np.isfinite(f1) or f1 <= 0:
        raise InvalidInputError(f"the kernel must be positive at 1, got {f1} (a constant activation?)")
    out = _apply_numpy(f, C) / f1
    np.fill_diagonal(out, 1.0)
    out = 0.5 * (out + out.T)
    return out if r == 0 else (1 - r * r) * out + r * r * C


def gram_sequence(G0, kernel, depth, *, centering=True, residual=0, tol=None):
    r"""``[G_0~, G_1, ..., G_depth]``: the mean-field Gram map iterated ``depth`` times.

    >>> import numpy as np
    >>> seq = gram_sequence(np.array([[1.0, 0.5], [0.5, 1.0]]), lambda r: r + r**2, 2)
    >>> [round(float(s[0, 1]), 6) for s in seq]
    [0.5, 0.375, 0.257812]
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
        raise InvalidInputError(f"depth must be a nonnegative integer, got {depth!r}")
    f = _kernel_for(kernel, centering)
    seq = [normalized_gram(G0, tol=tol)]
    for _ in range(int(depth)):
        seq.append(gram_map(seq[-1], f, centering=centering, residual=residual, tol=tol))
    return seq


__all__ = ["isometry", "isometry_gap", "potential", "normalized_gram", "lemma_a4_bounds",
           "normalization_lower_bound", "potential_bound", "isometry_gap_bound",
           "isometry_gap_bound_depth", "gram_map", "gram_sequence", "default_tolerance",
           "checked_gram"]
