"""References shared by tests/test_nn_pair_overflow.py and tests/test_nn_pair_tiny.py: sin's and
cos's kernels written out in mpmath, and the comparison of a float64 pair kernel with its
registry closed form evaluated in mpmath (none of the float64 path's code)."""
import mpmath
import numpy as np


def sin_cos_exact(name, q1, q2, c):
    """``(F, D)`` of sin or cos at 40 digits (floats or mpf in): ``E[sin u sin v] =
    e^{-(q1+q2)/2} sinh c``, ``E[cos u cos v] = e^{-(q1+q2)/2} cosh c`` (phi' = cos, -sin: D swaps
    the two)."""
    with mpmath.workdps(40):
        q1, q2, c = mpmath.mpf(q1), mpmath.mpf(q2), mpmath.mpf(c)
        e = mpmath.exp(-(q1 + q2) / 2)
        sh, ch = e * mpmath.sinh(c), e * mpmath.cosh(c)
        return (sh, ch) if name == "sin" else (ch, sh)


def assert_matches_closed_form(pk, q1, q2, rhos, F, D, tol):
    """Every entry ``F[0, k]``, ``D[0, k]`` (``D`` None: no NTK) finite and within ``tol`` times
    the Cauchy-Schwarz scale ``sqrt(f(q1, q1, 1) f(q2, q2, 1))`` of the closed form ``f`` of
    ``pk`` evaluated in mpmath at 40 digits at ``(q1, q2, rhos[k])``."""
    fF, fD, _ = pk._mp_exact
    with mpmath.workdps(40):
        sa, sb = mpmath.sqrt(q1), mpmath.sqrt(q2)
        for got, f in ((F, fF), (D, fD if D is not None else None)):
            if f is None:
                continue
            assert np.isfinite(got).all()
            scale = mpmath.sqrt(abs(f(sa, sa, 1) * f(sb, sb, 1)))
            for k, r in enumerate(rhos):
                want = f(sa, sb, mpmath.mpf(r))
                assert abs(got[0, k] - want) <= tol * scale + 1e-300, (q1, q2, r, got[0, k], want)
