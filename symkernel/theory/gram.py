r"""Isometry of Gram matrices and the mean-field Gram map (Joudaki, Daneshmand & Bach (NeurIPS 2023)).

* Isometry (Def. 1) :math:`\mathcal I(G) = \det(G)^{1/n} / (\operatorname{tr} G / n) \in [0, 1]`
  and the isometry gap :math:`-\log \mathcal I(G)` (0 for ``G`` proportional to the identity,
  :math:`\infty` for a degenerate ``G``).  SymPy matrices and small rational ones give exact
  values; float matrices certified ones, from the exact integer determinant of their stored
  entries (float64 eigenvalues, a sum of logarithms with no underflow at n = 100, check them and
  give the float64 twins; where they cannot tell G from a singular matrix, the exact inertia of
  the stored entries decides: exact 0 only when those are singular, or indefinite within the PSD
  tolerance; docs/theory.md §31).
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

Every function of a Gram matrix returns a :class:`~symkernel.Quantity` (a tuple of them for
several depths) for every input type: exact, certified from the exact values of the stored
floats (symmetrized, ``(G + G^T)/2``), or estimated for very large float matrices.  Each has a
float64 twin named ``*_float`` (:func:`isometry_float`, :func:`potential_float`,
:func:`lemma_a4_bounds_float`, ...) returning floats, for the simulators and plots.

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

from symkernel.numerics import GUARD, Result, binary_value, meets, serialized, settle
from symkernel.numerics.combine import from_ball
from symkernel.core.parsing import to_sympy

from symkernel.core.activations import Activation, as_activation
from symkernel.errors import InvalidInputError, NoClosedFormError, PrecisionError
from symkernel.core.quantity import Quantity, combined
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
    """``(M, bits, E)``: an object array of Python ints with ``arr == M * 2**E`` exactly (one ``E``
    for every entry; it cancels in the isometry), the bit length of its largest entry, and ``E``."""
    m, e = np.frexp(arr)
    mant = (m * 2.0**53).astype(np.int64)  # exact: |m| < 1 carries at most 53 bits
    e = e.astype(np.int64) - 53
    nonzero = mant != 0
    shift = np.where(nonzero, e - int(e[nonzero].min()), 0)
    return mant.astype(object) << shift.astype(object), int(shift.max()) + 54, int(e[nonzero].min())


def _exact_parts(arr, lam):
    """``(D, S)`` with ``I(G) = n D^{1/n} / S`` exactly for the float64 entries as stored
    (``D = det M``, ``S = tr M``, :func:`_stored_integers`), as a function computing them once;
    ``None`` when the determinant is beyond :data:`EXACT_DET_BUDGET`."""
    n = arr.shape[0]
    diagonal = not (arr - np.diag(np.diag(arr))).any()
    if not diagonal and n**4 * 64 > EXACT_DET_BUDGET:
        return None
    M, bits, _ = _stored_integers(arr)
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


def _inertia(arr):
    """``(positive, zero, negative, D, S)``: the inertia of the float64 entries as stored (the
    numbers of positive, zero and negative eigenvalues, exactly: Descartes' rule of signs is exact
    for the characteristic polynomial of a symmetric matrix, whose roots are all real), with
    ``D = det M`` and ``S = tr M`` of :func:`_stored_integers`; ``None`` beyond
    :data:`EXACT_DET_BUDGET`.  A diagonal matrix's are read off its diagonal."""
    n = arr.shape[0]
    if not (arr - np.diag(np.diag(arr))).any():
        d = np.diag(arr)
        pos, zero = int(np.sum(d > 0)), int(np.sum(d == 0))
        if pos < n:
            return pos, zero, n - pos - zero, 0, None
        M, _, _ = _stored_integers(arr)
        return n, 0, 0, math.prod(M[i, i] for i in range(n)), sum(M[i, i] for i in range(n))
    if n**4 * 64 > EXACT_DET_BUDGET:
        return None
    M, bits, _ = _stored_integers(arr)
    if n**4 * bits > EXACT_DET_BUDGET:
        return None
    coeffs = [int(c) for c in fmpz_mat(M.tolist()).charpoly().coeffs()]  # det(xI - M), low to high
    zero = next(i for i, c in enumerate(coeffs) if c != 0)
    signs = [c > 0 for c in coeffs if c != 0]
    pos = sum(a != b for a, b in zip(signs, signs[1:]))
    return pos, zero, n - pos - zero, (-1) ** n * coeffs[0], sum(M[i, i] for i in range(n))


def _near_singular(arr, lam, top, tol, gap, symbol):
    """The isometry (or gap) of a float G whose float64 eigenvalues cannot tell it from a singular
    one (smallest within ``tol`` x largest of 0): decided by the exact inertia of the entries as
    stored (:func:`_inertia`).  Positive definite: certified from the exact determinant, however
    small; a zero eigenvalue: exact 0; a negative one (within the PSD tolerance): 0, the isometry
    of its nearest PSD matrix (eigenvalues clipped at 0), which is singular.  Beyond
    :data:`EXACT_DET_BUDGET`: estimated, and only a bound from the float64 eigenvalues."""
    n = arr.shape[0]
    degenerate = Quantity(sp.oo if gap else sp.Integer(0), symbol, "exact: G is 0")
    if top == 0:
        return degenerate
    inertia = _inertia(arr)
    if inertia is None:
        clipped = np.maximum(lam, 0.0) + tol * top
        bound = float(np.exp(np.mean(np.log(clipped / top))) / np.mean(clipped / top))
        text = (f"estimated: a {n}x{n} Gram matrix too large for an exact determinant whose float64 "
                f"eigenvalues cannot tell it from a singular one (smallest {lam[0]:.3g} <= {tol:.3g}"
                f" x largest {top:.3g}): the isometry is at most about {bound:.3g}")

        def unknown(dps):
            raise PrecisionError(f"{text[len('estimated: '):]}, possibly 0; no digit is known")
        return Quantity(None, symbol, text, unknown)
    pos, zero, neg, D, S = inertia
    if neg:
        return Quantity(sp.oo if gap else sp.Integer(0), symbol,
                        f"exact: the float64 entries as stored have {neg} negative eigenvalue(s), "
                        f"within the PSD tolerance ({lam[0]:.3g} >= -{tol:.3g} x {top:.3g}); its "
                        "nearest PSD matrix (eigenvalues clipped at 0) is singular, isometry 0")
    if zero:
        return Quantity(sp.oo if gap else sp.Integer(0), symbol,
                        f"exact: the float64 entries as stored are singular ({zero} zero "
                        "eigenvalue(s), exact inertia from the characteristic polynomial)")
    method = ("certified: Arb ball arithmetic on the exact determinant of the float64 entries as "
              f"stored, positive definite by their exact inertia (smallest float64 eigenvalue "
              f"{lam[0]:.3g}, within {tol:.3g} x largest of 0)")

    def run(wp):
        d, s = arb(D), arb(S)
        ball = (s / n).log() - d.log() / n if gap else n * (d.log() / n).exp() / s
        return from_ball(ball, True, method)
    return Quantity(None, symbol, method, lambda dps: settle(run, dps, method, _STEPS))


#: settle's extra working digits for the isometry from exact integers (the gap of a nearly
#: scalar G cancels: -log10(gap) digits)
_STEPS = (GUARD, 3 * GUARD, 8 * GUARD, 32 * GUARD)


def _numeric_quantity(G, tol, gap):
    """The Quantity :func:`isometry` (``gap=False``) or :func:`isometry_gap` of a non-SymPy ``G``."""
    arr, tol = _check_numeric(G, tol)
    lam, top = _eigenvalues(arr, tol)
    n = arr.shape[0]
    symbol = r"-\log \mathcal{I}(G)" if gap else r"\mathcal{I}(G)"
    diag = np.diag(arr)
    if top > 0 and not (arr - np.diag(diag)).any() and np.all(diag == diag[0]):
        return Quantity(sp.Integer(0 if gap else 1), symbol, "exact: G is a multiple of the identity")
    if top == 0 or lam[0] <= tol * top:
        return _near_singular(arr, lam, top, tol, gap, symbol)
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
    * Float arrays (NumPy any real dtype, nested lists, torch; checked in float64): the isometry
      of the entries as stored (floats are exact binary rationals).  Exact 1 for a multiple of the
      identity, else *certified* from the exact integer determinant of the entries (Arb, any
      digits).  When an eigenvalue is within ``tol`` times the largest of 0 (default ``100 n eps``
      of float64, plus ``n eps`` of the input type when it is float16/float32) the exact inertia
      of the entries decides: positive definite, certified (however small: ``diag(1e-20, 1)``
      gives ``2e-10``); singular, exact 0; a negative eigenvalue within ``tol``, exact 0 (the
      isometry of its nearest PSD matrix).  Beyond :data:`EXACT_DET_BUDGET`: *estimated* from
      float64 eigenvalues (no digit when they cannot tell G from singular).
      :func:`isometry_float` is the float64 twin (0.0 within ``tol`` of singular).

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


#: a rational of the stored floats with more bits than this is a certified Quantity (rounded on
#: demand) rather than an exact one, so that printing it does not show thousands of digits
_SHOWN_BITS = 128


def _stored_quantity(value, symbol, what):
    """An exact SymPy number computed from float64 entries as stored: an exact Quantity when it
    is short (``1/4``), else a certified one whose value is the rational rounded at the working
    precision (error below two units in the last place)."""
    if not value.is_Rational or max(abs(int(value.p)).bit_length(), int(value.q).bit_length()) <= _SHOWN_BITS:
        return Quantity(value, symbol, f"exact: {what}")
    p, q = int(value.p), int(value.q)
    method = f"certified: {what} (an exact rational, rounded)"

    def numeric(dps):
        v = mpmath.mpf(p) / q
        return Result(v, abs(v) * mpmath.mpf(2) ** (3 - mpmath.mp.prec), True, method)
    return Quantity(None, symbol, method, numeric)


def potential_float(G, *, tol=None):
    r"""The float64 twin of :func:`potential`: a float, ``inf`` when two vectors are parallel.

    >>> potential_float([[1.0, 0.5], [0.5, 1.0]])
    1.0
    """
    C = normalized_gram(G, tol=tol)
    if _is_sympy(C):
        return float(potential(G, tol=tol))
    m = _offdiagonal_abs_max(C)
    return math.inf if m >= 1.0 else m / (1.0 - m)


def potential(G, *, tol=None):
    r"""Potential :math:`\gamma(G) = \max_{i\ne j}|\tilde G_{ij}|/(1-|\tilde G_{ij}|)` (Joudaki, Daneshmand & Bach (NeurIPS 2023),
    Def. 4), a Quantity for every input: exact for a SymPy matrix and for float entries as
    stored (the pairs within ``1e-12`` of the float64 maximum are compared exactly); ``oo`` when
    two vectors are parallel (to the tolerance).  :func:`potential_float` is the float64 twin.

    >>> potential([[1.0, 0.5], [0.5, 1.0]]).expr
    1
    """
    C = normalized_gram(G, tol=tol)
    symbol = r"\gamma(G)"
    if _is_sympy(C):
        ratios = [abs(C[i, j]) / (1 - abs(C[i, j])) if abs(C[i, j]) != 1 else sp.oo
                  for i in range(C.rows) for j in range(C.cols) if i != j]
        return _quantity(sp.Max(*ratios), symbol)
    m = _offdiagonal_abs_max(C)
    if m >= 1.0:
        return Quantity(sp.oo, symbol, "exact: two vectors are parallel (to the tolerance)")
    arr, _ = _check_numeric(G, tol)
    rows, cols = np.nonzero(np.triu(np.abs(C) >= m * (1 - 1e-12), 1))
    stored = {(abs(float(arr[i, j])), float(arr[i, i]), float(arr[j, j])) for i, j in zip(rows, cols)}
    top = sp.Max(*[binary_value(g) / sp.sqrt(binary_value(a) * binary_value(b)) for g, a, b in stored])
    return _stored_quantity(sp.simplify(top / (1 - top)), symbol,
                            "Def. 4 on the float64 entries as stored")


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


def lemma_a4_bounds_float(G, *, tol=None):
    """The float64 twin of :func:`lemma_a4_bounds`: ``(lower, det, upper)`` as floats
    (``det`` by LAPACK ``slogdet``).

    >>> lemma_a4_bounds_float([[1.0, 0.5], [0.5, 1.0]])
    LemmaA4Bounds(lower=0.25, det=0.75, upper=0.75)
    """
    G, tol = _unit_diagonal(G, tol)
    if _is_sympy(G):
        return LemmaA4Bounds(*(float(q) for q in lemma_a4_bounds(G, tol=tol)))
    n = G.shape[0]
    m = _offdiagonal_abs_max(G)
    sign, logdet = np.linalg.slogdet(G)
    det = float(sign * np.exp(logdet)) if sign > 0 else 0.0
    low = (1.0 - (n - 1) * m) ** n if (n - 1) * m <= 1 else 0.0
    return LemmaA4Bounds(low, det, 1.0 - m * m)


def lemma_a4_bounds(G, *, tol=None):
    r"""``(lower, det, upper)`` of Joudaki, Daneshmand & Bach (NeurIPS 2023) Lemma A.4 for a unit-diagonal PSD ``G``:
    :math:`(1-(n-1)m)^n \le \det G \le 1 - m_+^2`, :math:`m = \max_{i\ne j}|G_{ij}|`
    (:math:`m_+^2 = \max G_{ij}^2 = m^2`), as Quantities.  The lower bound needs
    :math:`(n-1)m \le 1`; otherwise the trivial bound 0 is returned.  Float entries are taken as
    stored: all three are exact (the determinant is FLINT's exact integer determinant; beyond
    :data:`EXACT_DET_BUDGET` it is estimated from float64 eigenvalues).
    :func:`lemma_a4_bounds_float` is the float64 twin.

    >>> [q.expr for q in lemma_a4_bounds([[1.0, 0.5], [0.5, 1.0]])]
    [1/4, 3/4, 3/4]
    """
    G, tol = _unit_diagonal(G, tol)
    n = G.shape[0]
    if _is_sympy(G):
        m = sp.Max(*[abs(G[i, j]) for i in range(n) for j in range(n) if i != j])
        low = (1 - (n - 1) * m) ** n if ((n - 1) * m - 1).is_nonpositive else sp.Integer(0)
        return LemmaA4Bounds(_quantity(low, "L"), _quantity(G.det(method="berkowitz"), r"\det G"),
                             _quantity(1 - m**2, "U"))
    m = binary_value(_offdiagonal_abs_max(G))
    low = (1 - (n - 1) * m) ** n if (n - 1) * m <= 1 else sp.Integer(0)
    what = "Lemma A.4 on the float64 entries as stored"
    return LemmaA4Bounds(_stored_quantity(low, "L", what), _stored_det(G, tol),
                         _stored_quantity(1 - m**2, "U", what))


def _stored_det(arr, tol):
    """``det G`` of the float64 entries as stored: exact (FLINT) within :data:`EXACT_DET_BUDGET`,
    else estimated from float64 eigenvalues."""
    n = arr.shape[0]
    diagonal = not (arr - np.diag(np.diag(arr))).any()
    M, bits, E = _stored_integers(arr)
    if diagonal or n**4 * max(bits, 64) <= EXACT_DET_BUDGET:
        D = math.prod(M[i, i] for i in range(n)) if diagonal else int(fmpz_mat(M.tolist()).det())
        det = sp.Integer(D) * sp.Integer(2) ** (n * E)
        return _stored_quantity(det, r"\det G", "the exact determinant of the float64 entries as stored")
    lam, top = _eigenvalues(arr, tol)
    value = float(np.prod(lam)) if lam[0] > 0 else 0.0
    err = n * float(np.finfo(np.float64).eps) * top * float(np.sum(np.abs(value / lam))) if value else \
        n * float(np.finfo(np.float64).eps) * top
    return _estimated(value, err, r"\det G", f"estimated: float64 eigenvalues (a {n}x{n} matrix is "
                      "beyond the exact determinant's budget), first-order rounding error")


def _estimated(value, err, symbol, method):
    """A float64 value with an error estimate as a Quantity; more digits than it has: PrecisionError."""
    def numeric(dps):
        res = Result(mpmath.mpf(value), mpmath.mpf(err), False, method)
        if not meets(res, dps):
            raise PrecisionError(f"{method}: about {res.digits()} digits, short of {dps} (+2 guard)")
        return res
    return Quantity(None, symbol, method, numeric)


def normalization_lower_bound_float(G, *, tol=None):
    """The float64 twin of :func:`normalization_lower_bound`, a float.

    >>> round(normalization_lower_bound_float([[4.0, 0.0], [0.0, 1.0]]), 12)
    0.888888888889
    """
    if _is_sympy(G):
        return float(normalization_lower_bound(G, tol=tol))
    base = isometry_float(G, tol=tol)
    a = np.sqrt(np.clip(np.diag(_to_numpy(G)[0]), 0.0, None))
    if np.mean(a) == 0:
        raise InvalidInputError("Theorem 1 needs nonzero vectors")
    return float(base * (1.0 + np.var(a) / np.mean(a) ** 2))


def normalization_lower_bound(G, *, tol=None):
    r"""Theorem 1 of Joudaki, Daneshmand & Bach (NeurIPS 2023): :math:`\mathcal I(G)\,(1 + \operatorname{var}(a)/\bar a^2)`,
    :math:`a_i = \|x_i\| = \sqrt{G_{ii}}` (population variance), a lower bound of
    :math:`\mathcal I(\tilde G)`, the isometry after projecting every vector on the unit sphere.
    A Quantity: exact for SymPy input; for floats :func:`isometry` times
    :math:`1 + \operatorname{var}(a)/\bar a^2 = n\sum G_{ii}/(\sum_i\sqrt{G_{ii}})^2` in Arb ball
    arithmetic on the stored diagonal (certified when the isometry is).
    :func:`normalization_lower_bound_float` is the float64 twin.

    >>> G = [[4.0, 0.0], [0.0, 1.0]]
    >>> q = normalization_lower_bound(G); q.kind, round(float(q), 12), isometry(normalized_gram(G)).expr
    ('certified', 0.888888888889, 1)
    """
    symbol = r"\mathcal{I}(G)(1+\mathrm{var}(a)/\bar a^2)"
    if _is_sympy(G):
        base = isometry(G, tol=tol)
        a = [sp.sqrt(G[i, i]) for i in range(G.rows)]
        mean = sum(a) / len(a)
        var = sum((ai - mean) ** 2 for ai in a) / len(a)
        return _quantity(sp.simplify(base.expr * (1 + var / mean**2)), symbol)
    base = isometry(G, tol=tol)
    diag = [float(d) for d in np.diag(_check_numeric(G, tol)[0])]
    n = len(diag)
    if max(diag) <= 0:
        raise InvalidInputError("Theorem 1 needs nonzero vectors")
    if base.expr == 0:
        return Quantity(sp.Integer(0), symbol, "exact: G is singular (to the tolerance)")
    method = "certified: n sum G_ii/(sum sqrt G_ii)^2 in Arb ball arithmetic on the stored diagonal"

    def run(wp):
        d = [arb(v) for v in diag]          # a float64 is exact as an Arb number
        return from_ball(n * sum(d) / sum(v.sqrt() for v in d) ** 2, True, method)
    factor = Quantity(None, "f", method, lambda dps: settle(run, dps, method))
    return combined(lambda i, f: i * f, [base, factor], symbol,
                    "Theorem 1: the isometry times 1 + var(a)/mean(a)^2")


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


def _as_number_quantity(value, symbol):
    """A number (a float: its binary value) or a Quantity as a Quantity."""
    if isinstance(value, Quantity):
        return value
    if isinstance(value, sp.Basic):
        return Quantity(value, symbol, "exact: as given")
    return Quantity(binary_value(value), symbol, "exact: the number given")


def _beta_quantity(beta):
    """beta (checked to lie in [1, 2]) as a Quantity: a Quantity given is kept."""
    checked = _beta_value(beta)
    return beta if isinstance(beta, Quantity) else _as_number_quantity(checked, r"\beta_\sigma")


def _per_depth(ell, one):
    """``one(ell)`` for a SymPy or scalar depth, a tuple of them for an array of depths."""
    if isinstance(ell, sp.Basic) or np.ndim(ell) == 0:
        return one(ell if isinstance(ell, sp.Basic) else _depth(ell))
    return tuple(one(_depth(e)) for e in np.asarray(ell).ravel())


def _numeric_depth(e):
    if e.free_symbols:
        raise InvalidInputError(f"a symbolic depth {e} needs exact inputs (an exact beta and Gram "
                                "matrix); pass numbers of layers, or a sympy.Matrix and a SymPy beta")


def _depth(e):
    e = float(e)
    if not math.isfinite(e) or e < 0:
        raise InvalidInputError(f"a depth must be a finite number >= 0, got {e}")
    return sp.Integer(int(e)) if e == int(e) else binary_value(e)


def potential_bound_float(gamma0, beta, ell):
    r"""The float64 twin of :func:`potential_bound`: a float or an array (one per depth).

    >>> potential_bound_float(1.0, 2.0, np.arange(3))
    array([1.  , 0.5 , 0.25])
    """
    beta = _beta_value(beta)
    return float(gamma0) * np.power(float(beta), -np.asarray(ell, dtype=float))


def potential_bound(gamma0, beta, ell):
    r"""Corollary A.3: :math:`\gamma(G_\ell) \le \gamma(G_0)\,\beta_\sigma^{-\ell}` (mean-field),
    a Quantity: exact from numbers (a float as its binary value) or exact Quantities, else in
    Arb ball arithmetic on the inputs' enclosures.  ``ell`` an int, a SymPy symbol (an exact
    expression in it), or an array of depths (a tuple of Quantities).
    :func:`potential_bound_float` is the float64 twin.

    >>> [q.expr for q in potential_bound(1.0, 2.0, np.arange(3))]
    [1, 1/2, 1/4]
    """
    b = _beta_quantity(beta)
    g = _as_number_quantity(gamma0, r"\gamma(G_0)")
    symbol = r"\gamma(G_0)\beta_\sigma^{-\ell}"

    def one(e):
        if g.exact and b.exact:
            return Quantity(g.expr * b.expr ** (-e), symbol, "exact: Corollary A.3")
        _numeric_depth(e)
        return combined(lambda x, y: x * y ** (-int(e)) if e.is_Integer else x * (-arb(e) * y.log()).exp(),
                        [g, b], symbol, "Corollary A.3")
    return _per_depth(ell, one)


def isometry_gap_bound_float(G0, beta, ell, *, tol=None):
    r"""The float64 twin of :func:`isometry_gap_bound`: a float or an array (one per depth).

    >>> round(float(isometry_gap_bound_float(np.eye(3), 2.0, 3)), 12)
    1.5
    """
    n = G0.shape[0] if hasattr(G0, "shape") else len(G0)
    i0, beta = isometry_float(G0, tol=tol), float(_beta_value(beta))
    ell = np.asarray(ell, dtype=float)
    if i0 == 0:
        return np.full(ell.shape, np.inf)[()]
    return np.exp(-ell * math.log(beta) - n * math.log(i0) + math.log(4 * n))


def isometry_gap_bound(G0, beta, ell, *, tol=None):
    r"""Theorem 4 of Joudaki, Daneshmand & Bach (NeurIPS 2023): :math:`\exp(-\ell\log\beta_\sigma - n\log\mathcal I(G_0) + \log 4n)
    = 4n\,\beta_\sigma^{-\ell}/\mathcal I(G_0)^n`, an upper bound of the mean-field isometry gap
    :math:`-\log\mathcal I(G_\ell)` once ``ell`` is large enough (:func:`isometry_gap_bound_depth`).
    A Quantity (a tuple for an array of depths; an exact expression for a SymPy ``ell``): exact
    from exact inputs, else in Arb ball arithmetic on :func:`isometry` (certified for float
    entries as stored).  :func:`isometry_gap_bound_float` is the float64 twin.

    >>> isometry_gap_bound(np.eye(3), 2.0, 3).expr
    3/2
    """
    n = G0.shape[0] if hasattr(G0, "shape") else len(G0)
    b = _beta_quantity(beta)
    if isinstance(ell, sp.Basic) and not _is_sympy(G0):   # a symbolic depth: the stored entries, exactly
        G0 = sp.Matrix(_check_numeric(G0, tol)[0].tolist()).applyfunc(binary_value)
    i0 = isometry(G0, tol=tol)
    symbol = r"4n\beta_\sigma^{-\ell}/\mathcal{I}(G_0)^n"

    def one(e):
        if i0.expr == 0:
            return Quantity(sp.oo, symbol, "exact: G_0 is singular")
        if i0.exact and b.exact:
            return Quantity(4 * n * b.expr ** (-e) / i0.expr**n, symbol, "exact: Theorem 4")
        _numeric_depth(e)
        return combined(lambda i, y: 4 * n * (-arb(e) * y.log()).exp() / i**n if not e.is_Integer
                        else 4 * n * y ** (-int(e)) / i**n, [i0, b], symbol, "Theorem 4")
    return _per_depth(ell, one)


def _depth_float(n, g0, beta):
    if g0 == 0:
        return 0
    if math.isinf(g0) or beta == 1.0:
        return math.inf
    return max(0, math.ceil(math.log(2 * (n - 1) * g0) / math.log(beta)))


def isometry_gap_bound_depth_float(G0, beta, *, tol=None):
    """The float64 twin of :func:`isometry_gap_bound_depth`: an int, or ``inf``.

    >>> isometry_gap_bound_depth_float([[1.0, 0.5], [0.5, 1.0]], 2.0)
    1
    """
    n = len(G0) if not hasattr(G0, "shape") else G0.shape[0]
    return _depth_float(n, potential_float(G0, tol=tol), float(_beta_value(beta)))


def isometry_gap_bound_depth(G0, beta, *, tol=None):
    r"""A depth from which Theorem 4 provably holds along the mean-field sequence.

    The proof needs :math:`(n-1)\gamma(G_\ell) \le 1/2`; by Corollary A.3 that holds for
    :math:`\ell \ge \log(2(n-1)\gamma(G_0))/\log\beta_\sigma`.  (Joudaki, Daneshmand & Bach (NeurIPS 2023) prints the condition as
    :math:`\ell \gtrsim \beta^{-1}(-n\log\mathcal I(G_0)+\log 4n)`: the factor must be
    :math:`1/\log\beta`, not :math:`1/\beta`.)  An exact integer Quantity: the ceiling of that
    bound where SymPy decides it from the exact :func:`potential`, else the ceiling of its
    30-digit upper end (a valid depth too); ``oo`` for ``beta == 1`` or a degenerate ``G0``.
    :func:`isometry_gap_bound_depth_float` is the float64 twin.

    >>> isometry_gap_bound_depth([[1.0, 0.5], [0.5, 1.0]], 2.0).expr
    1
    """
    n = len(G0) if not hasattr(G0, "shape") else G0.shape[0]
    b = _beta_quantity(beta)
    g0 = potential(G0, tol=tol)
    symbol = r"\ell_0"
    what = "exact: ceil(log(2(n-1) gamma(G_0))/log beta), Corollary A.3"
    if g0.expr == 0:
        return Quantity(sp.Integer(0), symbol, what)
    if g0.expr == sp.oo or (b.exact and b.expr == 1):
        return Quantity(sp.oo, symbol, what)
    if g0.exact and b.exact:
        depth = sp.ceiling(sp.log(2 * (n - 1) * g0.expr) / sp.log(b.expr))
        if depth.is_Integer:
            return Quantity(max(depth, sp.Integer(0)), symbol, what)
    bound = combined(lambda g, y: (2 * (n - 1) * g).log() / y.log(), [g0, b], symbol, "the depth bound")
    res = bound.result(30)
    with mpmath.workdps(40):
        top = int(mpmath.ceil(res.value + res.error))
    return Quantity(sp.Integer(max(top, 0)), symbol,
                    "exact: ceil of the upper end of an enclosure of log(2(n-1) gamma(G_0))/log beta")


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


__all__ = ["isometry", "isometry_gap", "isometry_float", "isometry_gap_float", "potential",
           "potential_float", "normalized_gram", "lemma_a4_bounds", "lemma_a4_bounds_float",
           "normalization_lower_bound", "normalization_lower_bound_float", "potential_bound",
           "potential_bound_float", "isometry_gap_bound", "isometry_gap_bound_float",
           "isometry_gap_bound_depth", "isometry_gap_bound_depth_float", "gram_map", "gram_sequence",
           "default_tolerance", "checked_gram"]
