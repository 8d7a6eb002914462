"""The bivariate normal CDF by 1-D mpmath quadrature, shared by the ELU tests (no Phi_2 code of the
package: the inner probability is the 1-D Phi)."""
import mpmath as mp


def phi2(h, k, r):
    """P(X < h, Y < k), corr r, at the caller's precision:
    int_{-inf}^h phi(t) Phi((k - r t)/sqrt(1 - r^2)) dt, split where the inner argument is 0."""
    h, k, r = mp.mpf(h), mp.mpf(k), mp.mpf(r)
    if abs(r) == 1:
        return mp.ncdf(min(h, k)) if r > 0 else max(mp.ncdf(h) - mp.ncdf(-k), 0)
    s = mp.sqrt((1 - r) * (1 + r))
    pts = sorted({p for p in (mp.mpf(0), k / r if r else mp.mpf(0)) if p < h})
    return mp.quad(lambda t: mp.npdf(t) * mp.ncdf((k - r * t) / s), [-mp.inf, *pts, h])
