r"""Isometry of Gram matrices and the mean-field Gram map (Joudaki, Daneshmand & Bach (NeurIPS 2023)).

* Isometry (Def. 1) :math:`\mathcal I(G) = \det(G)^{1/n} / (\operatorname{tr} G / n) \in [0, 1]`
  and the isometry gap :math:`-\log \mathcal I(G)` (0 for ``G`` proportional to the identity,
  :math:`\infty` for a degenerate ``G``).  SymPy matrices and small rational ones give exact
  values; float matrices certified ones, from the exact integer determinant of their stored
  entries (float64 eigenvalues, a sum of logarithms with no underflow at n = 100, check them,
  call near-zero eigenvalues zero and give the float64 twins).
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

Both return a :class:`~symkernel.Quantity` for every input type (exact, certified from the
exact determinant of the stored floats, or estimated for very large float matrices); the float64
twins :func:`isometry_float` and :func:`isometry_gap_float` return floats.

>>> import numpy as np, sympy as sp, symkernel as sk
>>> q = sk.isometry(np.array([[2.0, 1.0], [1.0, 2.0]]))
>>> round(float(q), 12), q.kind
(0.866025403784, 'certified')
>>> sk.isometry(sp.Matrix([[2, 1], [1, 2]])).expr
sqrt(3)/2
>>> sk.isometry_gap(np.ones((3, 3))).expr
oo
"""
import math
import numbers
from collections import namedtuple
from fractions import Fraction

import mpmath
import numpy as np
import sympy as sp
from flint import arb, fmpz_mat

from symkernel.numerics import GUARD, Result, meets, serialized, settle
from symkernel.numerics.combine import from_ball
from symkernel.core.parsing import to_sympy

from symkernel.core.activations import Activation, as_activation
from symkernel.errors import InvalidInputError, NoClosedFormError, PrecisionError
from symkernel.core.quantity import Quantity
from symkernel.core.symbols import rho as rho_symbol
from .dynamics import layer_kernel_map

EXACT = "exact: SymPy linear algebra"

LemmaA4Bounds = namedtuple("LemmaA4Bounds", "lower det upper")


# ---------------------------------------------------------------- input handling
def _is_sympy(G):
    return isinstance(G, sp.MatrixBase)


_ALLOWED = "an n x n array of real numbers (NumPy array, nested lists, torch tensor) or a SymPy Matrix"


def _refuse(what):
    raise InvalidInputError(f"not a Gram matrix: {what} (allowed: {_ALLOWED})")


def _short(obj):
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_exact_rational(e):
    return (isinstance(e, (int, np.integer, Fraction)) and not isinstance(e, (bool, np.bool_))) or \
        (isinstance(e, sp.Basic) and e.is_Rational)


def _real_entry(e):
    """``e`` as a float64; InvalidInputError naming what it is when it is not a real number."""
    if isinstance(e, (bool, np.bool_)):
        _refuse(f"a boolean entry {e!r}")
    if e is None or isinstance(e, (str, bytes)):
        _refuse(f"the entry {_short(e)}")
    if isinstance(e, (list, tuple, np.ndarray)) or (hasattr(e, "__len__") and not isinstance(e, sp.Basic)):
        _refuse(f"a nested sequence {_short(e)} as an entry (ragged rows?)")
    if isinstance(e, (complex, np.complexfloating, mpmath.mpc)):
        _refuse(f"the complex entry {e!r}: a Gram matrix is real")
    if isinstance(e, sp.Basic):
        if not isinstance(e, sp.Expr) or e.free_symbols:
            _refuse(f"the symbolic entry {_short(e)}: pass a sympy.Matrix for symbolic entries")
        if e.is_extended_real is False:
            _refuse(f"the complex entry {_short(e)}: a Gram matrix is real")
    elif not isinstance(e, (numbers.Real, mpmath.mpf)):
        _refuse(f"an entry of type {type(e).__name__} ({_short(e)})")
    try:
        return float(e)
    except OverflowError:
        raise InvalidInputError(f"the entry {_short(e)} is beyond float64's range: scale the matrix "
                                "(the isometry is scale invariant) or pass a sympy.Matrix") from None
    except (TypeError, ValueError) as exc:
        _refuse(f"the entry {_short(e)} ({exc})")


def _raw_array(G):
    """``(raw, eps_in, rational)``: ``G`` as an ndarray (no conversion yet), the unit roundoff of
    its floating type when coarser than float64 (else 0), and whether every entry is an exact
    rational (Python/NumPy integers, ``fractions.Fraction``, SymPy rationals).  Strings, booleans,
    dates, structured or masked arrays, ragged rows, complex or symbolic entries: InvalidInputError."""
    if isinstance(G, (str, bytes, bytearray)):
        _refuse(f"a string {_short(G)}")
    if G is None or isinstance(G, (dict, set, frozenset)) or (
            hasattr(G, "__next__") and not isinstance(G, np.ndarray)):
        _refuse(f"{type(G).__name__} {_short(G)}")
    eps_in = 0.0
    if type(G).__module__.startswith("torch"):
        import torch

        G = G.detach().cpu()
        if G.is_complex():
            _refuse("a complex tensor: a Gram matrix is real")
        if G.dtype == torch.bool:
            _refuse("a boolean tensor")
        if G.is_floating_point():
            eps_in = float(torch.finfo(G.dtype).eps)
        G = G.double().numpy()
    if isinstance(G, np.ma.MaskedArray):
        if np.ma.getmaskarray(G).any():
            _refuse("a masked array with masked entries")
        G = G.data
    try:
        raw = np.asarray(G)
    except ValueError:  # NumPy refuses ragged nested sequences
        lengths = [len(r) if hasattr(r, "__len__") else "a number" for r in G] \
            if isinstance(G, (list, tuple)) else "uneven"
        _refuse(f"ragged rows or nested entries (row lengths {lengths})")
    kind = raw.dtype.kind
    if kind == "O" and raw.ndim == 0 and not isinstance(raw[()], (numbers.Real, sp.Basic, mpmath.mpf)):
        _refuse(f"{type(raw[()]).__name__} {_short(raw[()])}")
    refused = {"b": "boolean entries", "U": "string entries", "S": "byte-string entries",
               "M": "dates (datetime64)", "m": "time spans (timedelta64)", "V": "a structured array",
               "c": "a complex array: a Gram matrix is real"}
    if kind in refused:
        _refuse(f"{refused[kind]} (dtype {raw.dtype})")
    if kind == "f" and raw.dtype.itemsize < 8:
        eps_in = float(np.finfo(raw.dtype).eps)
    rational = kind in "iu"
    if kind == "O":
        if raw.ndim == 2 and raw.shape[0] != raw.shape[1]:
            raise InvalidInputError(f"a Gram matrix must be a square 2-D array (n x n), got shape {raw.shape}")
        values = [_real_entry(e) for e in raw.flat]
        rational = all(_is_exact_rational(e) for e in raw.flat)
        raw = np.array(values, dtype=np.float64).reshape(raw.shape) if not rational else raw
    return raw, eps_in, rational


def _to_numpy(G):
    """``(arr, eps_in)``: a float64 ndarray from a NumPy array (any real dtype: float16/32/64,
    integers, object arrays of Python/mpmath/SymPy numbers), nested lists or a torch tensor, and
    the unit roundoff of the input's floating type when it is coarser than float64 (else 0).
    Entries are taken as the numbers they store (rounded to float64 when finer); all arithmetic
    is float64."""
    raw, eps_in, rational = _raw_array(G)
    if raw.dtype == object:
        arr = np.array([_real_entry(e) for e in raw.flat], dtype=np.float64).reshape(raw.shape)
    else:
        with np.errstate(over="ignore"):
            arr = raw.astype(np.float64)
    return arr, eps_in


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
        empty = "an empty array, " if arr.size == 0 else ""
        raise InvalidInputError(f"a Gram matrix must be a square 2-D array (n x n), got {empty}shape {arr.shape}")
    n = arr.shape[0]
    if n < 2:
        raise InvalidInputError(f"isometry needs n >= 2 vectors, got n = {n}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError("the Gram matrix has NaN or infinite entries")
    tol = default_tolerance(n) + n * (eps_in if eps_in > np.finfo(np.float64).eps else 0.0) \
        if tol is None else float(tol)
    scale = float(np.max(np.abs(arr)))
    if np.max(np.abs(arr - arr.T)) > tol * max(scale, np.finfo(float).tiny):
        raise InvalidInputError(f"the Gram matrix is not symmetric (beyond relative tolerance {tol:.3g})")
    return 0.5 * (arr + arr.T), tol


def _eigenvalues(arr, tol):
    """Eigenvalues (ascending) of a symmetric array and the largest (clipped at 0); PSD checked to
    ``tol`` relative to the largest.  A diagonal array's are its diagonal (no LAPACK call)."""
    diagonal = np.diag(arr)
    lam = np.sort(diagonal) if not (arr - np.diag(diagonal)).any() else np.linalg.eigvalsh(arr)
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
    for e in G:
        if not isinstance(e, sp.Expr):
            _refuse(f"the entry {_short(e)}, not a number or an expression")
        if e.is_extended_real is False:
            _refuse(f"the complex entry {_short(e)}: a Gram matrix is real")
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


#: the largest matrix of exact rationals (Python or NumPy integers, ``fractions.Fraction``, SymPy
#: rationals; not a SymPy Matrix) sent to the exact SymPy path (16x16: about 0.4 s); larger ones
#: are computed from their float64 values
MAX_RATIONAL_SIZE = 16

#: budget ``n^4 bits`` of the exact integer determinant of a float matrix (FLINT's multimodular
#: ``fmpz_mat.det``: about 1 s at n = 200 with 64-bit entries); beyond it float64 eigenvalues
EXACT_DET_BUDGET = 200**4 * 64


def _as_exact(G):
    """A SymPy Matrix for a SymPy matrix or a small matrix of exact rationals, else ``None``."""
    if _is_sympy(G):
        return G
    if type(G).__module__.startswith("torch"):
        return None
    raw, _, rational = _raw_array(G)
    if rational and raw.ndim == 2 and raw.shape[0] == raw.shape[1] and 2 <= raw.shape[0] <= MAX_RATIONAL_SIZE:
        return sp.Matrix(raw.tolist())
    return None


def _float_isometry(lam, top, tol):
    if top == 0 or lam[0] <= tol * top:
        return 0.0
    lam = lam / top
    return float(min(np.exp(np.mean(np.log(lam))) / np.mean(lam), 1.0))


def isometry_float(G, *, tol=None):
    r"""The float64 twin of :func:`isometry`: :math:`\exp(\overline{\log\lambda})/\bar\lambda` from
    the eigenvalues ``lambda`` of ``G`` (LAPACK ``eigvalsh``), a float; 0.0 when the smallest
    eigenvalue is below ``tol`` times the largest.  Any input :func:`isometry` takes.

    >>> round(isometry_float([[2.0, 1.0], [1.0, 2.0]]), 12)
    0.866025403784
    """
    arr, tol = _check_numeric(G, tol)
    return _float_isometry(*_eigenvalues(arr, tol), tol)


def isometry_gap_float(G, *, tol=None):
    r"""The float64 twin of :func:`isometry_gap`: :math:`-\log` of :func:`isometry_float`, in
    :math:`[0, \infty]`.

    >>> isometry_gap_float(np.ones((3, 3)))
    inf
    """
    value = isometry_float(G, tol=tol)
    return math.inf if value == 0 else max(-math.log(value), 0.0)


def _stored_integers(arr):
    """``(M, bits)``: an object array of Python ints with ``arr == M * 2**E`` exactly (one ``E`` for
    every entry; it cancels in the isometry) and the bit length of its largest entry."""
    m, e = np.frexp(arr)
    mant = (m * 2.0**53).astype(np.int64)  # exact: |m| < 1 carries at most 53 bits
    e = e.astype(np.int64) - 53
    nonzero = mant != 0
    shift = np.where(nonzero, e - int(e[nonzero].min()), 0)
    return mant.astype(object) << shift.astype(object), int(shift.max()) + 54


def _exact_parts(arr, lam):
    """``(D, S)`` with ``I(G) = n D^{1/n} / S`` exactly for the float64 entries as stored
    (``D = det M``, ``S = tr M``, :func:`_stored_integers`), as a function computing them once;
    ``None`` when the determinant is beyond :data:`EXACT_DET_BUDGET`."""
    n = arr.shape[0]
    diagonal = not (arr - np.diag(np.diag(arr))).any()
    if not diagonal and n**4 * 64 > EXACT_DET_BUDGET:
        return None
    M, bits = _stored_integers(arr)
    if not diagonal and n**4 * bits > EXACT_DET_BUDGET:
        return None
    cache = []

    def parts():
        if not cache:
            D = math.prod(M[i, i] for i in range(n)) if diagonal else int(fmpz_mat(M.tolist()).det())
            if D <= 0:  # lam[0] > tol * top >= 100 n eps top: the float64 eigenvalues say D > 0
                raise PrecisionError(f"the exact determinant ({'0' if D == 0 else 'negative'}) "
                                     f"contradicts the float64 eigenvalues (smallest {lam[0]:.3g})")
            cache.append((D, sum(M[i, i] for i in range(n))))
        return cache[0]
    return parts, ("the exact product of the diagonal entries as stored" if diagonal else
                   "the exact determinant (FLINT fmpz_mat) of the float64 entries as stored")


#: settle's extra working digits for the isometry from exact integers (the gap of a nearly
#: scalar G cancels: -log10(gap) digits)
_STEPS = (GUARD, 3 * GUARD, 8 * GUARD, 32 * GUARD)


def _numeric_quantity(G, tol, gap):
    """The Quantity :func:`isometry` (``gap=False``) or :func:`isometry_gap` of a non-SymPy ``G``."""
    arr, tol = _check_numeric(G, tol)
    lam, top = _eigenvalues(arr, tol)
    n = arr.shape[0]
    symbol = r"-\log \mathcal{I}(G)" if gap else r"\mathcal{I}(G)"
    if top == 0 or lam[0] <= tol * top:
        return Quantity(sp.oo if gap else sp.Integer(0), symbol,
                        f"exact: G is singular to the tolerance (smallest eigenvalue {lam[0]:.3g} "
                        f"<= {tol:.3g} x largest {top:.3g}), which counts as degenerate")
    diag = np.diag(arr)
    if not (arr - np.diag(diag)).any() and np.all(diag == diag[0]):
        return Quantity(sp.Integer(0 if gap else 1), symbol, "exact: G is a multiple of the identity")
    exact = _exact_parts(arr, lam)
    if exact is not None:
        parts, how = exact
        method = f"certified: Arb ball arithmetic on {how}"

        def run(wp):
            D, S = parts()
            d, s = arb(D), arb(S)
            ball = (s / n).log() - d.log() / n if gap else n * (d.log() / n).exp() / s
            return from_ball(ball, True, method)
        return Quantity(None, symbol, method, lambda dps: settle(run, dps, method, _STEPS))
    value = _float_isometry(lam, top, tol)
    lam = lam / top
    # |d lambda_i| <~ n eps lambda_max (backward stable eigvalsh, Weyl): d log I <~ n eps mean(lambda_max/lambda)
    rel = n * float(np.finfo(np.float64).eps) * (float(np.mean(1.0 / lam)) + 1.0)
    value, err = (max(-math.log(value), 0.0), rel) if gap else (value, value * rel)
    method = (f"estimated: float64 eigenvalues (LAPACK eigvalsh), error about {err:.1e} "
              f"(n eps lambda_max mean(1/lambda)); exact determinants only up to n^4 bits <= "
              f"{EXACT_DET_BUDGET:.2g}")

    def numeric(dps):
        res = Result(mpmath.mpf(value), mpmath.mpf(err), False, method)
        if not meets(res, dps):
            raise PrecisionError(f"a {n}x{n} Gram matrix is too large for an exact determinant; its "
                                 f"float64 eigenvalues give about {res.digits()} digits, short of {dps} "
                                 f"(+2 guard): use .value({max(res.digits() - 2, 1)}) or "
                                 "isometry_float / isometry_gap_float")
        return res
    return Quantity(None, symbol, method, numeric)


def _quantity(expr, symbol):
    return Quantity(to_sympy(expr), symbol, EXACT)


# ---------------------------------------------------------------- isometry, gap, potential
@serialized
def isometry(G, *, tol=None):
    r"""Isometry :math:`\det(G)^{1/n}/(\operatorname{tr}G/n)` (Joudaki, Daneshmand & Bach (NeurIPS 2023), Def. 1),
    a :class:`~symkernel.Quantity` whatever the input type.

    * SymPy matrix, or a matrix of exact rationals (Python/NumPy integers, ``Fraction``, SymPy
      rationals) up to :data:`MAX_RATIONAL_SIZE`: exact.
    * Float arrays (NumPy any real dtype, nested lists, torch; checked in float64): exact 0 when
      an eigenvalue is below ``tol`` times the largest (default ``100 n eps`` of float64, plus
      ``n eps`` of the input type when it is float16/float32: what its rounding can hide), exact 1
      for a multiple of the identity, else *certified* from the exact integer determinant of the
      entries as stored (Arb, any digits), or, beyond :data:`EXACT_DET_BUDGET`, *estimated* from
      float64 eigenvalues.  :func:`isometry_float` is the float64 twin.

    Not a square 2-D array of real numbers, non-symmetric, non-PSD (beyond ``tol``), NaN/inf or
    n < 2: InvalidInputError.

    >>> import numpy as np
    >>> isometry(np.eye(4) * 3.0).expr
    1
    >>> q = isometry(np.array([[2.0, 1.0], [1.0, 2.0]])); q.kind, float(q) == 3**0.5 / 2
    ('certified', True)
    """
    exact = _as_exact(G)
    if exact is None:
        return _numeric_quantity(G, tol, gap=False)
    G = _check_sympy(exact)
    n = G.rows
    det = sp.factor(G.det(method="berkowitz"))
    if det == 0:
        return _quantity(0, r"\mathcal{I}(G)")
    return _quantity(sp.simplify(det ** sp.Rational(1, n) / (G.trace() / n)), r"\mathcal{I}(G)")


@serialized
def isometry_gap(G, *, tol=None):
    r"""Isometry gap :math:`-\log\mathcal I(G) \in [0, \infty]` (``oo`` for degenerate ``G``), a
    Quantity as :func:`isometry` (:func:`isometry_gap_float`: the float64 twin).

    >>> import numpy as np, mpmath
    >>> mpmath.nstr(isometry_gap(np.array([[1.0, 0.5], [0.5, 1.0]])).value(20), 20)   # -log sqrt(3/4)
    '0.14384103622589046372'
    """
    exact = _as_exact(G)
    if exact is None:
        return _numeric_quantity(G, tol, gap=True)
    value = isometry(exact, tol=tol)
    gap = sp.oo if value.expr == 0 else sp.simplify(-sp.log(value.expr))
    return Quantity(gap, r"-\log \mathcal{I}(G)", EXACT)


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
    >>> round(normalization_lower_bound(G), 12), isometry(normalized_gram(G)).expr
    (0.888888888889, 1)
    """
    if _is_sympy(G):
        base = isometry(G, tol=tol)
        a = [sp.sqrt(G[i, i]) for i in range(G.rows)]
        mean = sum(a) / len(a)
        var = sum((ai - mean) ** 2 for ai in a) / len(a)
        return _quantity(sp.simplify(base.expr * (1 + var / mean**2)), r"\mathcal{I}(G)(1+\mathrm{var}(a)/\bar a^2)")
    base = isometry_float(G, tol=tol)
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
    i0, beta = isometry_float(G0, tol=tol), float(beta)
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


__all__ = ["isometry", "isometry_gap", "isometry_float", "isometry_gap_float", "potential", "normalized_gram", "lemma_a4_bounds",
           "normalization_lower_bound", "potential_bound", "isometry_gap_bound",
           "isometry_gap_bound_depth", "gram_map", "gram_sequence", "default_tolerance",
           "checked_gram"]
