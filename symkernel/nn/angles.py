r"""The angle ``theta = arccos rho`` between the features of two inputs, carried through the layers
without cancellation (docs/theory.md §13).

In the ordered phase ``rho -> 1``: at depth 100 of ``Dense(1.5, 0.05) -> ReLU``, ``1 - rho ~ 1e-13``,
and ``rho`` in float64 keeps three digits of it.  The NTK step of a kinked activation depends on
``theta`` itself (ReLU: ``D = (pi - theta) / (2 pi)``, Cho & Saul, NeurIPS 2009), so computing in
``rho`` lost ~1e-10 of the NTK.  The float64 path therefore carries ``theta`` (and a first-order bound
``dtheta`` of its error) beside the kernels, and maps it through each layer by formulas in which
every term is nonnegative:

* input: ``theta = 2 atan2(|u - v|, |u + v|)`` for unit rows ``u, v`` (Kahan) where ``|rho| > 0.9``;
* ``Dense(w, b)``: ``q_1' q_2' - c'^2 = w^2 q_1 q_2 sin^2 theta + w b ((sqrt q_1 - sqrt q_2)^2
  + 4 sqrt(q_1 q_2) sin^2(theta/2))`` and ``theta' = atan2(sqrt(q_1' q_2' - c'^2), c')``;
* ``Residual``: ``P'^2 - C'^2`` of a sum of two kernels, from ``sin^2 theta``, ``sin^2 theta_b`` and
  ``1 - cos(theta) cos(theta_b) = 2 sin^2((theta - theta_b)/2) + sin(theta) sin(theta_b)``
  (an input with itself keeps ``theta = 0`` with no error, docs/theory.md §32);
* an activation with closed forms: ``sqrt(F_11 F_22) (1 - cos theta') = Gamma`` with
  ``Gamma = [sqrt(F_11 F_22) - F(a, b, 0)] + a b int_0^theta D(a, b, t) sin t dt`` (Price's theorem
  ``dF/dc = D``; the integral by Gauss-Legendre, :mod:`symkernel.nn.pair`).

>>> import numpy as np
>>> th, dth = input_angles(np.array([[1.0, 0.0]]), np.array([[1.0, 1e-9]]), same=False)
>>> float(th[0, 0])
1e-09
"""
import numpy as np

_EPS = np.finfo(float).eps


def input_angles(X1, X2, same):
    """``(theta, dtheta)`` between the rows of ``X1`` and ``X2`` (``pi/2`` where a row is zero)."""
    d = X1.shape[1]
    n1, n2 = np.sqrt((X1 * X1).sum(1)), np.sqrt((X2 * X2).sum(1))
    U = np.divide(X1, n1[:, None], out=np.zeros_like(X1), where=n1[:, None] > 0)
    V = np.divide(X2, n2[:, None], out=np.zeros_like(X2), where=n2[:, None] > 0)
    r = np.clip(U @ V.T, -1.0, 1.0)
    theta = np.arccos(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        dtheta = np.minimum((d + 4) * _EPS / np.sin(theta), np.sqrt(2 * (d + 4) * _EPS))
    i, j = np.nonzero(np.abs(r) > 0.9)
    if i.size:
        step = 1 << 16                            # blocks bound the memory of the differences
        for lo in range(0, i.size, step):
            ii, jj = i[lo:lo + step], j[lo:lo + step]
            du = np.sqrt(((U[ii] - V[jj]) ** 2).sum(1))
            su = np.sqrt(((U[ii] + V[jj]) ** 2).sum(1))
            theta[ii, jj] = 2 * np.arctan2(du, su)
            dtheta[ii, jj] = (d + 8) * _EPS * (1 + theta[ii, jj])
    zero = (n1[:, None] == 0) | (n2[None, :] == 0)
    theta[zero], dtheta[zero] = np.pi / 2, 0.0
    if same:
        np.fill_diagonal(theta, 0.0)
        np.fill_diagonal(dtheta, 0.0)
    return theta, dtheta


def angle(num, dnum, x, dx):
    """``theta = atan2(sqrt(num), x)`` and its error bound from those of ``num >= 0`` and ``x``
    (``num`` and ``dnum`` are overwritten)."""
    np.maximum(num, 0.0, out=num)
    y = np.sqrt(num)
    theta = np.arctan2(y, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        dy = np.divide(dnum, 2 * y, out=np.full(y.shape, np.inf), where=y > 0)
        np.minimum(dy, np.sqrt(dnum, out=dnum), out=dy)      # sqrt(n + d) - sqrt(n) <= sqrt(d)
        num += x * x                                          # x^2 + y^2
        dy *= np.abs(x)
        dy += y * dx
        dtheta = np.divide(dy, num, out=np.full(y.shape, np.pi), where=num > 0)
    np.minimum(dtheta, np.pi, out=dtheta)
    dtheta += 2 * _EPS * theta
    return theta, dtheta


def dense_angles(q1, q2, theta, dtheta, c_new, dc_new, w, b):
    """Angles after ``Dense(w, b)`` from the angles before it (``q1, q2`` the diagonals before,
    ``c_new`` the new covariances with error bound ``dc_new``)."""
    s1, s2 = np.sqrt(q1), np.sqrt(q2)
    P = np.multiply.outer(s1, s2)
    sh, ch = np.sin(theta * 0.5), np.cos(theta * 0.5)
    st = sh * ch
    st *= 2                                        # sin(theta)
    ct = ch * ch
    ct -= sh * sh                                  # cos(theta)
    A = P * st
    A *= w
    num = A * A                                    # w^2 P^2 sin^2(theta)
    dnum = np.abs(A * ct)
    dnum *= 2 * w * P                              # |d num / d theta|, first part
    if b:
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.subtract.outer(q1, q2) / np.add.outer(s1, s2)     # sqrt(q1) - sqrt(q2)
        diff[~np.isfinite(diff)] = 0.0
        sh *= sh                                   # sin^2(theta/2)
        sh *= 4 * P
        diff *= diff
        diff += sh
        num += (w * b) * diff
        st *= P
        dnum += (2 * w * b) * st
    dnum *= dtheta
    # second order (|d^2 sin^2 t| <= 2, |d^2 (4 sin^2(t/2))| <= 1): at theta = 0 the slope is 0
    # but theta' moves by ~dtheta
    dnum += (w * w * P * P + w * b * P) * (dtheta * dtheta)
    dnum += 8 * _EPS * num
    return angle(num, dnum, c_new, dc_new)


def sum_angles(q1, q2, theta, dtheta, Q1, Q2, theta_b, dtheta_b, w2, c_new, dc_new):
    """Angles of ``K + w2 K_b`` (a residual sum; ``q``/``Q`` the diagonals of the two parts).

    ``num = P'^2 - C'^2 = P^2 s^2 + w2^2 p^2 s_b^2 + w2 (cross^2 + 2 P p T)``, every term >= 0.
    Its bound: the slopes in ``theta``, ``theta_b`` times their errors, the second-order terms
    (``|d^2 sin^2| <= 2``, the Hessian of ``T`` <= 2: ``P^2 dtheta^2 + ...``), relative rounding,
    and the absolute rounding of the one difference, ``cross = sqrt(q1 Q2) - sqrt(Q1 q2)``: off by
    ``delta <= 2 eps (sqrt(q1 Q2) + sqrt(Q1 q2))``, so ``cross^2`` by ``2 |cross| delta + delta^2``
    (``delta = 0`` where ``q1 = q2`` and ``Q1 = Q2``: both products are the same float, and
    ``cross = 0`` exactly).  An input with itself (``theta = theta_b = 0`` exactly, no error) so
    keeps ``theta' = 0`` with no error through the sum (docs/theory.md §32)."""
    P = np.sqrt(np.multiply.outer(q1, q2))
    p = np.sqrt(np.multiply.outer(Q1, Q2))
    s, sb = np.sin(theta), np.sin(theta_b)
    T = 2 * np.sin((theta - theta_b) / 2) ** 2 + s * sb      # 1 - cos(theta) cos(theta_b) >= 0
    A, B = np.sqrt(np.multiply.outer(q1, Q2)), np.sqrt(np.multiply.outer(Q1, q2))
    cross = A - B
    num = P * P * s * s + w2 * w2 * p * p * sb * sb + w2 * (cross * cross + 2 * P * p * T)
    sd = np.abs(np.sin(theta - theta_b))
    delta = 2 * _EPS * (A + B)
    delta[np.equal.outer(q1, q2) & np.equal.outer(Q1, Q2)] = 0.0
    both = dtheta + dtheta_b
    dnum = (P * P * np.abs(np.sin(2 * theta)) + 2 * w2 * P * p * (sd + sb)) * dtheta \
        + (w2 * w2 * p * p * np.abs(np.sin(2 * theta_b)) + 2 * w2 * P * p * (sd + s)) * dtheta_b \
        + P * P * dtheta * dtheta + w2 * w2 * p * p * dtheta_b * dtheta_b + 2 * w2 * P * p * both * both \
        + 8 * _EPS * num + w2 * (2 * np.abs(cross) + delta) * delta
    return angle(num, dnum, c_new, dc_new)


def naive_angles(c, dc, P):
    """``arccos(c / P)`` with the error bound of a cosine known to ``dc`` (no cancellation-free
    form: normalization layers, activations without closed forms)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip(np.where(P > 0, c / P, 0.0), -1.0, 1.0)
        dr = np.where(P > 0, dc / P, 0.0) + 4 * _EPS
        theta = np.arccos(r)
        dtheta = np.minimum(np.where(np.sin(theta) > 0, dr / np.sin(theta), np.inf), 2 * np.sqrt(dr))
    return theta, np.minimum(dtheta, np.pi)


def gap_angles(gap, dgap, P):
    """``theta`` from ``gap = P (1 - cos theta)`` (``0 <= gap <= 2P``) and its error bound."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.clip(np.where(P > 0, gap / (2 * P), 0.5), 0.0, 1.0)
        theta = 2 * np.arcsin(np.sqrt(h))
        st = np.sin(theta)
        rel = np.where(P > 0, dgap / P, np.inf)
        dtheta = np.minimum(np.where(st > 0, rel / st, np.inf), np.sqrt(2 * rel))
    return theta, np.minimum(dtheta, np.pi) + 4 * _EPS * theta


class NoAngles:
    """The evaluator hooks of a path that carries no angles (the dps= and symbolic paths keep the
    digits of ``1 - rho`` exactly; the torch path computes in ``rho``): no rounding is tracked
    and no angle is propagated."""

    @staticmethod
    def rounded(err, value, k=2):
        return err

    @staticmethod
    def dense_angles(st, nngp, err, w, b):
        return None, None

    @staticmethod
    def sum_angles(st, out, w2, nngp, err):
        return None, None

    @staticmethod
    def naive_angles(nngp, err, q1, q2):
        return None, None


__all__ = ["NoAngles", "angle", "dense_angles", "gap_angles", "input_angles", "naive_angles", "sum_angles"]
