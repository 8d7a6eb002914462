r"""The mean-field maps against finite-width networks: ``q^ℓ``, ``c^ℓ`` and the depth scale
``ξ_c`` (Poole et al. 2016; Schoenholz et al. 2017; Pabari & Zhou).

Two inputs whose first-layer pre-activations have variance ``q0`` and correlation ``c0`` go
through ``seeds`` independent random networks of width ``width`` (no normalization, no
centering: the network of the maps).  The networks draw their pre-activations with
``weights="gram"``: given a layer's input ``y``, the ``N`` neurons' pre-activations are i.i.d.
``N(0, σ_w² y yᵀ/N)`` plus a bias ``N(0, σ_b²)`` — exactly the law of ``W y + b`` with Gaussian
``W``, at ``2N`` normals a layer instead of ``N²``.

A check must be able to fail, and must not fail a right theory.  The width and the number of
seeds are chosen from the requested ``resolution`` ``r`` (the standard error of the mean of
``q^ℓ/q^ℓ_theory`` and of ``c^ℓ``) and from a pilot run: ``PILOT_SEEDS`` networks (seeds
disjoint from the run's) measure ``v = N max_ℓ Var`` of one network's ``q^ℓ/q^ℓ_theory`` and
``c^ℓ``.  ``v`` is about 2 for ``q`` (a mean of ``N`` squares) but grows with depth for ``c`` in
the chaotic phase (measured for tanh at ``σ_w² = 2.5, σ_b² = 0.05``: 1.1 at layer 1, 4.4 from
layer 15 on), and so does the finite-width bias of ``c^ℓ``, ``O(1/N)`` per layer but carried on
by the map: measured ``N |bias| <= 1.65 v`` (tanh and erf, ordered and chaotic, 30 and 60 layers,
``c0`` = 0.5 and 0.99).  With ``N |bias| <= 2 v`` (``BIAS_RATIO``), width ``N = 4 v/r`` keeps the
bias below half the standard error in every layer, and ``S = v/(N r²)`` seeds give resolution
``r`` (:func:`plan`; 24 at least, so that the estimated standard error is itself good to ~15%;
docs/theory.md §15.3).  The result reports the resolution reached (the largest standard error of
the run itself), and :meth:`MeanFieldValidation.rejects` says whether a (wrong) theory would have
been rejected.

The length depth scale ``ξ_q`` (:func:`length_depth_scale`, docs/theory.md §11.1): two inputs
along one direction, with first-layer variances ``q*(1 ± δ)``, go through the same network; the
half difference ``d^ℓ = (q_+^ℓ - q_-^ℓ)/2`` of their lengths decays as ``χ_q*^ℓ`` (the central
difference cancels the map's curvature, so the transient is ``O(δ²)``; shared weights make the
noise of ``d^ℓ`` proportional to ``d^ℓ``).  ``ξ_q`` is fitted to ``log mean_s d^ℓ`` over the layers
where the mean stands 5 standard errors above zero, with a jackknife standard error over seeds.

>>> import symkernel as sk
>>> v = sk.validate.mean_field("tanh", 1.5, 0.3, depth=6, resolution=0.02)
>>> bool(v.all_agree), v.resolution < 0.03
(True, True)
"""
import math
from dataclasses import dataclass, field

import numpy as np

from symkernel.core.activations import as_activation
from symkernel.core.progress import progress
from symkernel.errors import InvalidInputError
from symkernel.simulate.mlp import inputs_with_gram, simulate_mlp
from symkernel.theory.meanfield import MeanField, float_state, trajectory

#: smallest width and the range of seeds a resolution may choose (ten seeds at least, so that
#: the standard error itself is estimated to about 25%)
MIN_WIDTH, MIN_SEEDS, MAX_SEEDS = 64, 10, 2000
#: networks of the pilot run that measures the variance; bound on ``N |bias| / (N Var)`` assumed;
#: fewest networks of a run sized by a pilot (a 4-standard-error test on an estimated standard
#: error is a Student t test: 24 networks fail a right layer with probability 6e-4, 13 with 2e-3)
PILOT_SEEDS, BIAS_RATIO, RUN_MIN_SEEDS = 16, 2.0, 24


def plan(resolution, variance=None):
    """``(width, seeds)`` that resolve ``q^ℓ/q`` and ``c^ℓ`` to about ``resolution`` ``r``.

    With ``variance`` ``v`` (``N`` times one network's largest variance over the layers, measured
    by a pilot run): width ``2 BIAS_RATIO v/r`` and ``v/(N r²)`` seeds, ``RUN_MIN_SEEDS`` at
    least (module docstring).
    Without: ``v = 2`` (one layer's mean of ``N`` squares) and width ``4/r``, the rule of the
    kernel-sequence check (``symkernel check --simulate``).

    >>> plan(0.01), plan(0.02, variance=4.4)
    ((400, 50), (880, 24))
    """
    r = float(resolution)
    if not 1e-4 <= r <= 0.5:
        raise InvalidInputError(f"resolution must lie in [1e-4, 0.5], got {resolution!r}")
    if variance is None:
        width = max(MIN_WIDTH, math.ceil(4 / r))
        return width, _seeds(2.0, width, r)
    v = float(variance)
    if not (math.isfinite(v) and v > 0):
        raise InvalidInputError(f"variance must be a positive number, got {variance!r}")
    width = max(MIN_WIDTH, math.ceil(2 * BIAS_RATIO * v / r))
    return width, _seeds(v, width, r, RUN_MIN_SEEDS)


def _seeds(variance, width, r, least=MIN_SEEDS):
    """Seeds for a standard error ``r`` of the mean when one network's variance is ``v/width``."""
    return min(MAX_SEEDS, max(least, math.ceil(variance / (width * r * r))))


@dataclass(frozen=True, eq=False)
class MeanFieldValidation:
    """Per layer ``0..depth``: ``q_theory``, ``c_theory`` and the simulated ``q``, ``c`` of each
    seed (``q_samples[s, ℓ]``).  ``agree`` holds where every layer is within ``n_sigma``
    standard errors; ``resolution`` is the largest standard error reached (relative for q)."""

    q_theory: np.ndarray
    c_theory: np.ndarray
    q_samples: np.ndarray
    c_samples: np.ndarray
    n_sigma: float
    params: dict
    xi_c: dict = field(default_factory=dict)

    def _stats(self, samples):
        mean = samples.mean(axis=0)
        se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
        return mean, se

    @property
    def q_mean(self):
        return self._stats(self.q_samples)[0]

    @property
    def c_mean(self):
        return self._stats(self.c_samples)[0]

    def z_scores(self, q_theory=None, c_theory=None):
        """``(mean - theory)/stderr`` per layer for q and c (layer 0 is the input, skipped)."""
        q_theory = self.q_theory if q_theory is None else np.asarray(q_theory, dtype=float)
        c_theory = self.c_theory if c_theory is None else np.asarray(c_theory, dtype=float)
        zs = []
        for samples, theory in ((self.q_samples, q_theory), (self.c_samples, c_theory)):
            mean, se = self._stats(samples)
            zs.append((mean[1:] - theory[1:]) / np.maximum(se[1:], 1e-15 * np.abs(theory[1:])))
        return zs

    @property
    def agree(self):
        zq, zc = self.z_scores()
        return (np.abs(zq) <= self.n_sigma) & (np.abs(zc) <= self.n_sigma)

    @property
    def all_agree(self):
        return bool(np.all(self.agree))

    @property
    def resolution(self):
        """The largest standard error over layers: of ``q^ℓ`` relative to the theory, and of
        ``c^ℓ``."""
        se_q = self._stats(self.q_samples)[1][1:] / np.abs(self.q_theory[1:])
        se_c = self._stats(self.c_samples)[1][1:]
        return float(max(se_q.max(), se_c.max()))

    def rejects(self, q_theory=None, c_theory=None):
        """Whether another theory (arrays of the same shape) would fail this check."""
        zq, zc = self.z_scores(q_theory, c_theory)
        return bool(np.any(np.abs(zq) > self.n_sigma) or np.any(np.abs(zc) > self.n_sigma))


def _first_layer_inputs(sigma_w2, sigma_b2, q0, c0, width, seed):
    """Two inputs whose first pre-activations have variance ``q0`` and correlation ``c0``."""
    a = (q0 - sigma_b2) / sigma_w2            # |y^0|^2 / N
    if a <= 0:
        raise InvalidInputError(f"q0 = {q0} must exceed sigma_b2 = {sigma_b2}: the first "
                                "pre-activation variance is sigma_w2 |y|^2/N + sigma_b2")
    g = (c0 * q0 - sigma_b2) / (q0 - sigma_b2)
    if not -1 <= g <= 1:
        raise InvalidInputError(f"no inputs give correlation c0 = {c0} at q0 = {q0} with "
                                f"sigma_b2 = {sigma_b2}")
    return inputs_with_gram(a * np.array([[1.0, g], [g, 1.0]]), width, seed=seed)


def _xi_c_fit(c_mean, c_se, c_star):
    """The decay rate of ``|c^ℓ - c*|`` fitted where it stands above the noise (5 standard errors)
    and below its start (past the nonlinear transient): ``{"fitted", "layers"}`` or ``{}``."""
    dev = np.abs(c_mean - c_star)
    layers = [ell for ell in range(2, len(dev)) if dev[ell] > 5 * c_se[ell] and dev[ell] < 0.2]
    if len(layers) < 4:
        return {}
    slope = np.polyfit(layers, np.log(dev[layers]), 1)[0]
    return {"fitted": float(-1 / slope) if slope < 0 else math.inf, "layers": layers}


def _simulate(act, inputs, sw2, sb2, width, depth, seeds, first):
    """``q^ℓ`` and ``c^ℓ`` of ``seeds`` networks (seeds ``first, first + 1, ...``): arrays
    ``[seed, layer]``."""
    qs, cs = [], []
    for s in progress(range(seeds), desc="seeds"):
        P = simulate_mlp(act, inputs, width=width, depth=depth + 1, centering=None,
                         normalization=None, sigma_w2=sw2, sigma_b2=sb2, dtype="float64",
                         seed=first + s, weights="gram", record=("pre_gram",),
                         normalize_inputs=False).pre_gram
        qs.append(P[:, 0, 0])
        cs.append(P[:, 0, 1] / np.sqrt(P[:, 0, 0] * P[:, 1, 1]))
    return np.array(qs), np.array(cs)


def _pilot(act, sw2, sb2, q0, c0, depth, resolution, q_theory, seed, run_seeds):
    """``N`` times one network's largest variance of ``q^ℓ/q^ℓ_theory`` and ``c^ℓ`` over the
    layers, from ``PILOT_SEEDS`` networks of width ``plan(resolution)[0]`` (seeds after the
    run's, so the run's data are not the data that chose its size), and that width."""
    width = plan(resolution)[0]
    inputs = _first_layer_inputs(sw2, sb2, q0, c0, width, seed)
    q, c = _simulate(act, inputs, sw2, sb2, width, depth, PILOT_SEEDS,
                     seed + 1 + max(MAX_SEEDS, run_seeds or 0))
    var = max(np.var(q[:, 1:] / q_theory[1:], axis=0, ddof=1).max(),
              np.var(c[:, 1:], axis=0, ddof=1).max())
    return width * float(var), width


def mean_field(act, sigma_w2, sigma_b2=0.0, *, q0=1.0, c0=0.5, depth=20, resolution=0.01,
               width=None, seeds=None, n_sigma=4.0, seed=0, gain=None, **params):
    """``q^ℓ``, ``c^ℓ`` (and ``ξ_c`` where the simulation resolves the decay) of the mean-field
    maps against simulated networks; see the module docstring.  ``width``/``seeds`` override the
    choice made from ``resolution`` and a pilot run (which runs when either is not given)."""
    act = as_activation(act, gain, **params)
    sw2, sb2 = float(sigma_w2), float(sigma_b2)
    if not (math.isfinite(sw2) and sw2 > 0 and math.isfinite(sb2) and sb2 >= 0):
        raise InvalidInputError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2}, {sigma_b2}")
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 1000:
        raise InvalidInputError(f"depth must be an integer in 1..1000, got {depth!r}")
    plan(resolution)                                   # checks the resolution
    for name, v, why in (("width", width, ""), ("seeds", seeds, " (a standard error needs two)")):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 2):
            raise InvalidInputError(f"{name} must be an integer >= 2{why}, got {v!r}")
    q_theory, c_theory = trajectory(act, sw2, sb2, float(q0), float(c0), depth)
    pilot = {}
    if width is None or seeds is None:
        variance, pilot_width = _pilot(act, sw2, sb2, float(q0), float(c0), depth, resolution,
                                       q_theory, seed, seeds)
        pilot = dict(width=pilot_width, seeds=PILOT_SEEDS, variance=variance)
        chosen_width, chosen_seeds = plan(resolution, variance)
        if width is None:
            width, seeds = chosen_width, chosen_seeds if seeds is None else seeds
        else:
            seeds = _seeds(variance, width, float(resolution), RUN_MIN_SEEDS)
    inputs = _first_layer_inputs(sw2, sb2, float(q0), float(c0), width, seed)
    q_samples, c_samples = _simulate(act, inputs, sw2, sb2, width, depth, seeds, seed + 1)
    run_params = dict(activation=str(act.expr), sigma_w2=sw2, sigma_b2=sb2, q0=float(q0),
                      c0=float(c0), depth=depth, width=width, seeds=seeds,
                      requested_resolution=float(resolution), pilot=pilot)
    state = float_state(act, sw2, sb2, float(q0))
    c_se = c_samples.std(axis=0, ddof=1) / math.sqrt(seeds)
    fit = _xi_c_fit(c_samples.mean(axis=0), c_se, state["c_star"])
    xi_c = dict(theory=float(state["xi_c"]), **fit) if fit else {"theory": float(state["xi_c"])}
    return MeanFieldValidation(q_theory, c_theory, q_samples, c_samples, float(n_sigma),
                               run_params, xi_c)


@dataclass(frozen=True, eq=False)
class LengthDepthScale:
    """``ξ_q`` fitted from simulated networks (``fitted ± stderr``, jackknife over seeds) beside
    the theory ``-1/log χ_q*``; ``deviation[s, ℓ]`` is network ``s``'s ``(q_+^ℓ - q_-^ℓ)/2`` and
    ``layers`` the layers fitted."""

    theory: float
    fitted: float
    stderr: float
    layers: list
    deviation: np.ndarray
    n_sigma: float
    params: dict

    @property
    def z(self):
        """``(fitted - theory)/stderr``."""
        return (self.fitted - self.theory) / self.stderr

    @property
    def agrees(self):
        return bool(abs(self.z) <= self.n_sigma)

    def rejects(self, xi_q):
        """Whether another value of ``ξ_q`` lies more than ``n_sigma`` standard errors away."""
        return bool(abs(self.fitted - float(xi_q)) > self.n_sigma * self.stderr)


def _decay_fit(dev, layers):
    """``-1/slope`` of ``log mean(dev)`` against the layer (least squares)."""
    slope = np.polyfit(layers, np.log(dev.mean(axis=0)[layers]), 1)[0]
    return -1 / slope if slope < 0 else math.inf


def length_depth_scale(act, sigma_w2, sigma_b2=0.0, *, delta=0.1, depth=30, width=1000,
                       seeds=60, groups=20, n_sigma=4.0, seed=0, gain=None, **params):
    """The depth scale ``ξ_q`` of the length map fitted from seeded finite-width networks (see the
    module docstring), against :attr:`MeanField.xi_q` (Schoenholz et al. 2017; Pabari & Zhou
    §3.1: ``|q^ℓ - q*| ~ e^{-ℓ/ξ_q}``).

    Needs ``χ_q* < 1`` (a stable ``q*``).  ``groups``: jackknife blocks of seeds.
    """
    act = as_activation(act, gain, **params)
    sw2, sb2 = float(sigma_w2), float(sigma_b2)
    if not (math.isfinite(sw2) and sw2 > 0 and math.isfinite(sb2) and sb2 >= 0):
        raise InvalidInputError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2}, {sigma_b2}")
    if not (0 < float(delta) < 1):
        raise InvalidInputError(f"delta must lie in (0, 1), got {delta!r}")
    for name, v, least in (("depth", depth, 3), ("width", width, 2), ("seeds", seeds, 4),
                           ("groups", groups, 2)):
        if isinstance(v, bool) or not isinstance(v, int) or v < least:
            raise InvalidInputError(f"{name} must be an integer >= {least}, got {v!r}")
    groups = min(groups, seeds)
    theory = float(MeanField(act, sw2, sb2).xi_q)
    if not (math.isfinite(theory) and theory > 0):
        raise InvalidInputError(f"xi_q = {theory} at sigma_w2 = {sw2}, sigma_b2 = {sb2}: q* does not "
                                "attract at a finite rate (chi_q* < 1 is needed)")
    q_star = float_state(act, sw2, sb2)["q_star"]
    if not (q_star > sb2):
        raise InvalidInputError(f"q* = {q_star} does not exceed sigma_b2 = {sb2}: no input "
                                "length to perturb")
    # inputs along one direction with first-layer variances q*(1 +- delta)
    lengths = [(q_star * (1 + sgn * float(delta)) - sb2) / sw2 for sgn in (1, -1)]
    if min(lengths) <= 0:
        raise InvalidInputError(f"delta = {delta} takes the input length below zero "
                                f"(q* = {q_star}, sigma_b2 = {sb2}); take a smaller delta")
    y = np.random.default_rng([int(seed), 5]).standard_normal(width)
    y /= np.sqrt(np.mean(y * y))
    inputs = np.array([math.sqrt(a) * y for a in lengths])
    devs = []
    for s in range(seeds):
        P = simulate_mlp(act, inputs, width=width, depth=depth + 1, centering=None,
                         normalization=None, sigma_w2=sw2, sigma_b2=sb2, dtype="float64",
                         seed=seed + 1 + s, weights="gram", record=("pre_gram",),
                         normalize_inputs=False).pre_gram
        devs.append((P[:, 0, 0] - P[:, 1, 1]) / 2)
    dev = np.array(devs)
    mean, se = dev.mean(axis=0), dev.std(axis=0, ddof=1) / math.sqrt(seeds)
    layers = []
    for ell in range(1, depth + 1):          # layer 0 is the input layer
        if not mean[ell] > 5 * se[ell]:
            break
        layers.append(ell)
    if len(layers) < 3:
        raise InvalidInputError(f"the deviation is lost in the noise after {len(layers)} layers: "
                                "increase width or seeds, or delta")
    fitted = _decay_fit(dev, layers)
    blocks = np.array_split(np.arange(seeds), groups)
    jack = np.array([_decay_fit(np.delete(dev, b, axis=0), layers) for b in blocks])
    stderr = float(math.sqrt((groups - 1) / groups * np.sum((jack - jack.mean()) ** 2)))
    run_params = dict(activation=str(act.expr), sigma_w2=sw2, sigma_b2=sb2, q_star=q_star,
                      delta=float(delta), depth=depth, width=width, seeds=seeds, groups=groups)
    return LengthDepthScale(theory, float(fitted), stderr, layers, dev, float(n_sigma), run_params)
