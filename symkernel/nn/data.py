r"""A small synthetic regression set shipped with the package (no scikit-learn, no download).

:func:`toy_regression` draws angles ``theta`` uniformly on ``[-pi, pi)`` and embeds them on the
circle of radius ``sqrt(2)`` in the plane, ``x = sqrt(2) (cos theta, sin theta)``, so every input has
``|x|^2 / d = 1`` (the input NNGP diagonal of :meth:`symkernel.nn.Network.kernel`, whose input
kernel is ``x1 x2^T / d``) and the kernels depend on the angle between inputs only.  The target
is the smooth periodic function

``y(theta) = sin(2 theta) + cos(3 theta) / 2``

plus Gaussian noise of standard deviation ``noise`` on the training set; the test set is a
uniform grid of ``n_test`` angles with the noiseless target (for plots of the fit).  The
1-D-on-the-circle construction is the standard setting for plotting NNGP/NTK regression (e.g.
Lee et al., NeurIPS 2019, Fig. 1).

>>> from symkernel.nn.data import toy_regression
>>> x_train, y_train, x_test, y_test = toy_regression(n=8, n_test=5, seed=0)
>>> x_train.shape, y_train.shape, x_test.shape, y_test.shape
((8, 2), (8,), (5, 2), (5,))
>>> bool(abs((x_train ** 2).sum(1) / 2 - 1).max() < 1e-15)
True
"""
import numpy as np

from symkernel.errors import InvalidInputError

#: most points of either set
MAX_POINTS = 100_000


def target(theta):
    """The noiseless target ``sin(2 theta) + cos(3 theta) / 2``."""
    theta = np.asarray(theta, dtype=np.float64)
    return np.sin(2.0 * theta) + 0.5 * np.cos(3.0 * theta)


def embed(theta):
    """Angles -> points ``sqrt(2) (cos theta, sin theta)`` (rows), so that ``|x|^2 / d = 1``."""
    theta = np.asarray(theta, dtype=np.float64)
    return np.sqrt(2.0) * np.stack([np.cos(theta), np.sin(theta)], axis=-1)


def angle(x):
    """The angle of each row of ``x`` (the inverse of :func:`embed`), in ``(-pi, pi]``."""
    x = np.asarray(x, dtype=np.float64)
    return np.arctan2(x[..., 1], x[..., 0])


def _count(name, n, least):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not least <= n <= MAX_POINTS:
        raise InvalidInputError(f"{name} must be an integer in [{least}, {MAX_POINTS}], got {n!r}")
    return int(n)


def toy_regression(n=64, n_test=200, noise=0.1, seed=0):
    """``(x_train, y_train, x_test, y_test)``: ``n`` noisy training points (random angles, seeded)
    and ``n_test`` noiseless test points on a uniform grid of angles, float64, inputs ``(., 2)``
    and targets ``(.,)``.  The training angles are sorted (the set does not depend on their order).
    """
    n = _count("n", n, 1)
    n_test = _count("n_test", n_test, 1)
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise InvalidInputError(f"noise must be a number, got {noise!r}") from None
    if not np.isfinite(noise) or noise < 0:
        raise InvalidInputError(f"noise must be finite and >= 0, got {noise!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError(f"seed must be a nonnegative integer, got {seed!r}")
    rng = np.random.default_rng([int(seed), 14])
    theta = np.sort(rng.uniform(-np.pi, np.pi, n))
    y_train = target(theta) + noise * rng.standard_normal(n)
    grid = np.linspace(-np.pi, np.pi, n_test, endpoint=False)
    return embed(theta), y_train, embed(grid), target(grid)


__all__ = ["MAX_POINTS", "angle", "embed", "target", "toy_regression"]
