r"""CNN mean field (Xiao et al. 2018; Pabari & Zhou §3.3): Fourier modes of the window average.

``[A * B]_{a,a'} = (2k+1)^{-1} sum_{|beta| <= k} B_{a+beta, a'+beta}`` on a ring of ``n`` positions
acts on each diagonal of ``B`` as a circulant average, so its eigenvectors are the Fourier modes
``e^{2 pi i m a/n}``, ``m = 0..n-1``, with eigenvalues (a Dirichlet kernel)

.. math::  \lambda_m = \frac{1}{2k+1}\sum_{\beta=-k}^{k} e^{2\pi i m\beta/n}
           = \frac{\sin((2k+1)\pi m/n)}{(2k+1)\sin(\pi m/n)}, \qquad \lambda_0 = 1.

Near ``Sigma*`` the off-diagonal perturbation in mode ``m`` is multiplied by ``chi_c* lambda_m``
per layer: ``xi_m^{-1} = -log(chi_c* |lambda_m|)`` (Pabari & Zhou eq. 21; ``xi_m = 0`` when
``lambda_m = 0``).  A mode survives (does not decay) when ``chi_c* |lambda_m| >= 1``.

>>> cnn_eigenvalues(1, 4)
[1, 1/3, -1/3, 1/3]
"""
import mpmath
import numpy as np
import sympy as sp

from symkernel.errors import InvalidInputError


#: the largest ring the exact eigenvalues are listed for (n SymPy expressions)
MAX_POSITIONS = 1024


def _check(k, n):
    for name, v, least in (("k", k, 0), ("n", n, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, sp.Integer)) or v < least:
            raise InvalidInputError(f"{name} must be an integer >= {least}, got {v!r}")
    if n > MAX_POSITIONS:
        raise InvalidInputError(f"n = {n} positions is beyond {MAX_POSITIONS}: the eigenvalues "
                                "are lambda_m = sin((2k+1) pi m/n)/((2k+1) sin(pi m/n)); "
                                "evaluate that formula at the modes you need")


def cnn_eigenvalues(k, n):
    """Exact eigenvalues ``lambda_m`` (m = 0..n-1) of the width-(2k+1) window average on a ring of
    n positions, as ``(1 + 2 sum_{beta=1..k} cos(2 pi m beta/n))/(2k+1)`` (k = 0 is the 1x1
    filter: every eigenvalue is 1).

    >>> cnn_eigenvalues(0, 3)
    [1, 1, 1]
    """
    _check(k, n)
    w = 2 * k + 1
    cosines = {}   # cos(2 pi r/n) depends only on r = m beta mod n

    def cos(r):
        if r not in cosines:
            cosines[r] = sp.cos(2 * sp.pi * sp.Rational(r, n))
        return cosines[r]
    out = []
    for m in range(n):
        total = sp.Integer(1) + 2 * sp.Add(*[cos(m * beta % n) for beta in range(1, k + 1)])
        out.append(total / w)
    return out


def window_operator(k, n):
    """The circulant matrix of the window average along one diagonal (for checks)."""
    _check(k, n)
    a = np.zeros((n, n))
    for i in range(n):
        for beta in range(-k, k + 1):
            a[i, (i + beta) % n] += 1 / (2 * k + 1)
    return a


def cnn_mode_depth_scales(chi_c, k, n):
    """``[(m, lambda_m, xi_m, survives)]`` for ``chi_c`` (a number or a Quantity)."""
    chi = float(chi_c)
    if chi <= 0:
        raise InvalidInputError(f"chi_c* must be positive, got {chi}")
    rows = []
    for m, lam in enumerate(cnn_eigenvalues(k, n)):
        r = chi * abs(float(lam))
        xi = 0.0 if r == 0 else (mpmath.inf if r == 1 else float(-1 / mpmath.log(r)))
        rows.append((m, lam, xi, r >= 1 - 1e-12))
    return rows
