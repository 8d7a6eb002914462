r"""Elementary functions written out branch-free, so that numba's loops over them vectorize
(docs/theory.md §21, §28).

numba without Intel's SVML calls the scalar ``libm`` for ``exp``, ``erfc``, ``atan2`` and ``sin``,
and LLVM does not vectorize a loop with such a call.  These helpers are plain arithmetic and
selects (``x if c else y``), inlined into the caller (``inline='always'``):

* :func:`exp_parts` / :func:`exp_fast`: ``e^x = 2^n (1 + expm1 r)``, ``n = round(x / ln 2)``
  (adding and subtracting ``1.5 * 2^52``), ``r`` by Cody-Waite, ``expm1 r = 2 r P(r^2) /
  (Q(r^2) - r P(r^2))`` (Cephes), ``2^n`` from the bits of ``x / ln 2 + 1.5 * 2^52``
  (``(bits + 1023) << 52``, one integer add and shift); ``x < -708``: 0 (the true value is below
  ``3.3e-308``).
* :func:`erfc_pair`: ``(erfcx y, erfc y)`` for ``y >= 0`` by W. J. Cody's rational Chebyshev
  approximations (Math. Comp. 1969; the coefficients of Netlib's CALERF): all three pieces
  computed, the right one selected, one exponential (``e^{+-y^2}``, with ``y^2`` split into two
  floats so that its rounding does not reach the result); :func:`erfc_pair_small`, :func:`erfc_pair_mid`
  and :func:`erfc_pair_le4` give the same bits with only the pieces that arguments known to lie
  lower need (docs/theory.md §28).
* :func:`atan2_fast` (``y >= 0``): Cephes' ``atan`` on ``[0, 0.66]`` and ``pi/4 + atan((n - d)/(n + d))``
  above, as the loops of §21.  :func:`sin_small`: Taylor to ``t^19`` on ``|t| <= 1.4``.

Without numba they are plain Python (:func:`pow2_of_shifted` by ``math.ldexp``).

>>> p2, er = exp_parts(1.0)
>>> abs(p2 + p2 * er - math.e) <= 4.5e-16
True
>>> abs(erfc_pair(1.0)[1] - math.erfc(1.0)) <= 2e-17
True
"""
import math

try:                                    # optional accelerator (pip install symkernel[fast])
    import numba as _numba
    from llvmlite import ir as _ir
    from numba.core import types as _types
    from numba.extending import intrinsic as _intrinsic

    def _inline(f):
        return _numba.njit(inline="always", cache=True, nogil=True, error_model="numpy")(f)

    @_intrinsic
    def pow2_of_shifted(typingctx, kd):
        """``2^n`` from ``kd = n + 1.5 * 2^52`` (``-1022 <= n <= 1023``): its bits plus 1023, shifted
        52 places, are the float64 ``2^n`` (an LLVM bitcast, integer add and shift: vectorizes)."""
        sig = _types.float64(_types.float64)

        def codegen(context, builder, signature, args):
            i64 = _ir.IntType(64)
            bits = builder.bitcast(args[0], i64)
            e = builder.shl(builder.add(bits, _ir.Constant(i64, 1023)), _ir.Constant(i64, 52))
            return builder.bitcast(e, _ir.DoubleType())
        return sig, codegen
except ImportError:                     # pragma: no cover
    def _inline(f):
        return f

    def pow2_of_shifted(kd):
        """``2^n`` from ``kd = n + 1.5 * 2^52``."""
        return math.ldexp(1.0, int(kd - _SHIFT))

_SHIFT = 6755399441055744.0             # 1.5 * 2^52: adding it rounds to an integer
_LOG2E = 1.4426950408889634
_LN2HI, _LN2LO = 6.93145751953125e-1, 1.42860682030941723212e-6
_SQRPI = 5.6418958354775628695e-1       # 1/sqrt(pi)
_SPLIT = 134217729.0                    # 2^27 + 1 (Veltkamp)
_PIO2, _PI, _MB = 1.5707963267948966, 3.141592653589793, 6.123233995736766e-17


@_inline
def exp_parts(x):
    """``(p2, er)`` with ``e^x = p2 (1 + er)``: ``p2 = 2^n`` exact, ``er = expm1(r)``, ``|r| <= ln2/2``;
    ``e^x = p2 + p2 er`` and ``e^x - 1 = p2 er + (p2 - 1)`` without cancellation.  ``x < -708``:
    ``p2 = 0``; ``x > 709`` is taken as 709 (callers stay far below)."""
    xc = min(max(x, -708.0), 709.0)
    kd = xc * _LOG2E + _SHIFT
    n = kd - _SHIFT
    r = (xc - n * _LN2HI) - n * _LN2LO
    rr = r * r
    px = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr + 9.99999999999999999910e-1)
    qx = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr
          + 2.27265548208155028766e-1) * rr + 2.00000000000000000009e0
    er = 2.0 * px / (qx - px)
    p2 = pow2_of_shifted(kd)
    return (p2 if x >= -708.0 else 0.0), er


@_inline
def exp_fast(x):
    """``e^x`` within 2 ulp (:func:`exp_parts`)."""
    p2, er = exp_parts(x)
    return p2 + p2 * er


@_inline
def _cody_small(y, t):
    """``erfc y = 1 - y A(y^2)/B(y^2)`` (``y <= 0.46875``) as ``(numerator, denominator)``."""
    sa = (((1.85777706184603153e-1 * t + 3.16112374387056560e00) * t + 1.13864154151050156e02) * t
          + 3.77485237685302021e02) * t + 3.20937758913846947e03
    sb = (((t + 2.36012909523441209e01) * t + 2.44024637934444173e02) * t + 1.28261652607737228e03) * t \
        + 2.84423683343917062e03
    return sb - y * sa, sb


@_inline
def _cody_mid(y):
    """``erfcx y = C(y)/D(y)`` (``0.46875 < y <= 4``; ``y`` clamped there) as ``(numerator, denominator)``."""
    ym = min(max(y, 0.46875), 4.0)
    sc = (((((((2.15311535474403846e-8 * ym + 5.64188496988670089e-1) * ym + 8.88314979438837594e00) * ym
               + 6.61191906371416295e01) * ym + 2.98635138197400131e02) * ym + 8.81952221241769090e02) * ym
            + 1.71204761263407058e03) * ym + 2.05107837782607147e03) * ym + 1.23033935479799725e03
    sd = (((((((ym + 1.57449261107098347e01) * ym + 1.17693950891312499e02) * ym + 5.37181101862009858e02) * ym
             + 1.62138957456669019e03) * ym + 3.29079923573345963e03) * ym + 4.36261909014324716e03) * ym
          + 3.43936767414372164e03) * ym + 1.23033935480374942e03
    return sc, sd


@_inline
def _cody_large(y):
    """``erfcx y = (1/sqrt(pi) - z P(z)/Q(z))/y``, ``z = 1/y^2`` (``y > 4``; ``y`` clamped there)."""
    yb = max(y, 4.0)
    z = 1.0 / (yb * yb)
    sp = ((((1.63153871373020978e-2 * z + 3.05326634961232344e-1) * z + 3.60344899949804439e-1) * z
           + 1.25781726111229246e-1) * z + 1.60837851487422766e-2) * z + 6.58749161529837803e-4
    sq = ((((z + 2.56852019228982242e00) * z + 1.87295284992346047e00) * z + 5.27905102951428412e-1) * z
          + 6.05183413124413191e-2) * z + 2.33520497626869185e-3
    return _SQRPI * sq - z * sp, sq * yb


@_inline
def _cody_pair(y, t, v, small):
    """``(erfcx y, erfc y)`` from ``v`` (erfc where ``small``, else erfcx) and one exponential
    ``e^{+-y^2}``, ``y^2 = hi + lo`` exactly (Veltkamp), ``e^{hi + lo} = e^{hi}(1 + lo)``."""
    c = y * _SPLIT                      # y = yh + yl, yh with 26 bits: y^2 = hi + lo exactly
    yh = c - (c - y)
    yl = y - yh
    lo = ((yh * yh - t) + 2.0 * yh * yl) + yl * yl
    sgn = 1.0 if small else -1.0
    p2, er = exp_parts(sgn * t)
    e = (p2 + p2 * er) * (1.0 + sgn * lo)
    return (v * e if small else v), (v if small else v * e)


@_inline
def erfc_pair(y):
    """``(erfcx(y), erfc(y))`` for ``y >= 0`` (Cody 1969): ``y <= 0.46875``: ``erfc = 1 - y A(y^2)/B(y^2)``;
    ``y <= 4``: ``erfcx = C(y)/D(y)``; above, ``erfcx = (1/sqrt(pi) - z P(z)/Q(z))/y``, ``z = 1/y^2``;
    the other one by ``e^{+-y^2}``, ``y^2 = hi + lo`` exactly (Veltkamp), ``e^{hi + lo} = e^{hi}(1 + lo)``.
    All three pieces computed, the right one selected (branch-free); :func:`erfc_pair_le4` and
    :func:`erfc_pair_mid` give the same bits with fewer pieces where ``y`` is known to lie lower."""
    small = y <= 0.46875
    mid = y <= 4.0
    t = y * y
    ns, ds = _cody_small(y, t)
    nm, dm = _cody_mid(y)
    nl, dl = _cody_large(y)
    v = ((ns if small else (nm if mid else nl))
         / (ds if small else (dm if mid else dl)))            # erfc (small) or erfcx (else)
    return _cody_pair(y, t, v, small)


@_inline
def erfc_pair_le4(y):
    """:func:`erfc_pair` for ``0 <= y <= 4`` (the same bits; two pieces instead of three)."""
    small = y <= 0.46875
    t = y * y
    ns, ds = _cody_small(y, t)
    nm, dm = _cody_mid(y)
    return _cody_pair(y, t, (ns if small else nm) / (ds if small else dm), small)


@_inline
def erfc_pair_mid(y):
    """:func:`erfc_pair` for ``0.46875 < y <= 4`` (the same bits; one piece)."""
    t = y * y
    nm, dm = _cody_mid(y)
    return _cody_pair(y, t, nm / dm, False)


@_inline
def erfc_pair_small(y):
    """:func:`erfc_pair` for ``0 <= y <= 0.46875`` (the same bits; one piece)."""
    t = y * y
    ns, ds = _cody_small(y, t)
    return _cody_pair(y, t, ns / ds, True)


@_inline
def atan_ratio(num, den):
    """``atan(num/den)`` for ``0 <= num <= den`` (``den > 0``): Cephes' rational approximation on
    ``[0, 0.66]``, else ``pi/4 + atan((num - den)/(num + den))`` (``num - den`` exact)."""
    red = num > 0.66 * den
    t = (num - den if red else num) / (num + den if red else den)
    z = t * t
    pz = ((((-8.750608600031904122785e-1 * z - 1.615753718733365076637e1) * z - 7.500855792314704667340e1) * z
           - 1.228866684490136173410e2) * z - 6.485021904942025371773e1)
    qz = ((((z + 2.485846490142306297962e1) * z + 1.650270098316988542046e2) * z + 4.328810604912902668951e2) * z
          + 4.853903996359136964868e2) * z + 1.945506571482613964425e2
    a = t + t * (z * pz / qz)
    return 0.7853981633974483 + (a + 3.061616997868383e-17) if red else a


@_inline
def atan2_fast(y, x):
    """``atan2(y, x)`` for ``y >= 0`` (in ``[0, pi]``), within 3 ulp (Cephes' ``atan``, as §21's loops)."""
    ax = abs(x)
    big = y > ax
    a = atan_ratio(ax if big else y, y if big else ax)
    neg = x < 0.0
    hi = _PIO2 if big else (_PI if neg else 0.0)
    lo = _MB if big else (2.0 * _MB if neg else 0.0)
    return hi + (lo + (a if big == neg else -a))


@_inline
def sin_small(t):
    """``sin t`` for ``|t| <= 1.4`` (``asin 0.98``: Genz's sum runs to ``|r| < 0.98``): Taylor to ``t^19``
    (remainder ``t^21/21!`` below ``2.3e-17``), Horner in ``t^2``."""
    z = t * t
    return t + t * z * (-1.0 / 6 + z * (1.0 / 120 + z * (-1.0 / 5040 + z * (1.0 / 362880 + z * (
        -1.0 / 39916800 + z * (1.0 / 6227020800 + z * (-1.0 / 1307674368000 + z * (
            1.0 / 355687428096000 + z * (-1.0 / 121645100408832000)))))))))


__all__ = ["atan2_fast", "atan_ratio", "erfc_pair", "erfc_pair_le4", "erfc_pair_mid", "erfc_pair_small", "exp_fast", "exp_parts",
           "pow2_of_shifted", "sin_small"]
