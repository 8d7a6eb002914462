"""Hayou (TMLR 2023) Prop. 10: the mean logarithmic growth factor of ReLU at width n = 3 with the
collapse event counted 0 (``condition=False``), against a hand derivation and a seeded Monte Carlo
of the generator of ``log‖relu(X)‖`` under ``dX = n^{-1/2}‖relu(X)‖ dB``, by finite differences
(no code shared with the package's Itô derivation)."""
from fractions import Fraction
from math import comb

import numpy as np
import sympy as sp

import symkernel as sk

N_WIDTH = 3


def _hand(n):
    """sum over k >= 1 active coordinates (k ~ Bin(n, 1/2)) of the drift (k - 2)/(2n)."""
    return sum(Fraction(comb(n, k), 2**n) * Fraction(k - 2, 2 * n) for k in range(1, n + 1))


def test_growth_factor_unconditioned_counts_the_collapse_event_zero():
    assert _hand(3) == Fraction(-1, 24)
    for n in (1, 2, 3, 4, 7):
        hand = sp.Rational(_hand(n).numerator, _hand(n).denominator)
        assert sk.sde.growth_factor("relu", n, condition=False).expr == hand
        assert sk.sde.piecewise_linear_growth(1, 0, n).expr == hand
        # conditioned on A = {relu(X_0) != 0}: the same divided by P(A) = 1 - 2^-n
        assert sk.sde.growth_factor("relu", n).expr == hand / (1 - sp.Rational(1, 2**n))
    assert sk.sde.sign_change("relu", condition=False) == sk.sde.sign_change("relu") == 4


def _generator_samples(n, samples, seed, s=1e-6):
    """L f(X_0) for f = log‖relu(x)‖, L = (‖relu(x)‖²/(2n)) Δ (the generator of
    dX = n^{-1/2}‖relu(X)‖ dB), Δ by central second differences along each axis; NaN where
    relu(X_0) = 0 (collapse: f = -inf)."""
    x = np.random.default_rng(seed).standard_normal((samples, n))
    r = np.maximum(x, 0.0)
    S = np.sum(r**2, axis=1)
    lap = np.zeros(samples)
    for i in range(n):
        for sign in (1.0, -1.0):
            y = x[:, i] + sign * s
            dS = np.maximum(y, 0.0) ** 2 - r[:, i] ** 2          # S(x ± s e_i) - S(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                lap += 0.5 * np.log1p(dS / S)                      # f(x ± s e_i) - f(x)
    with np.errstate(invalid="ignore"):
        out = S / (2 * n) * lap / s**2
    out[S == 0] = np.nan
    return out


def test_growth_factor_against_monte_carlo():
    gen = _generator_samples(N_WIDTH, 40_000, seed=11)
    collapsed = np.isnan(gen)
    unconditioned = np.where(collapsed, 0.0, gen)          # the collapse event counts 0
    mean, se = unconditioned.mean(), unconditioned.std(ddof=1) / np.sqrt(unconditioned.size)
    theory = float(sk.sde.growth_factor("relu", N_WIDTH, condition=False))
    assert abs(mean - theory) < 4 * se, (mean, theory, se)
    # the drift formula applied at k = 0 (the value before the fix, -1/12) is rejected
    assert abs(mean - (-1 / 12)) > 10 * se
    conditioned = gen[~collapsed]
    mean_c, se_c = conditioned.mean(), conditioned.std(ddof=1) / np.sqrt(conditioned.size)
    assert abs(mean_c - float(sk.sde.growth_factor("relu", N_WIDTH))) < 4 * se_c   # -1/21
