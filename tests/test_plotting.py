"""sk.plot: each function returns a Figure drawn from the other modules' data (small sizes)."""

import numpy as np
import pytest

import symkernel as sk
from symkernel.errors import InvalidInputError

matplotlib = pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def agg():
    matplotlib.use("Agg")


def _lines(fig):
    return [line for ax in fig.axes for line in ax.get_lines()]


def test_cobweb_draws_the_kernel_map_and_its_iterates():
    fig = sk.plot.cobweb("relu", rho0=[0.2], depth=3)
    assert isinstance(fig, matplotlib.figure.Figure)
    kappa, _, web, star = _lines(fig)[:4]
    r, k = kappa.get_data()
    assert np.allclose(k, sk.kernel_map("relu").numpy(r))
    seq = sk.kernel_dynamics("relu").sequence(0.2, 3)
    assert np.allclose(web.get_xdata()[::2], seq)  # the cobweb visits rho_0..rho_3
    assert star.get_xdata()[0] == 1.0  # ReLU: case 3, rho* = 1


def test_beta_vs_gain_matches_the_exact_form():
    fig = sk.plot.beta_vs_gain(("relu", "exp"), gains=[0.5, 1.0, 2.0])
    relu, exp = _lines(fig)[:2]
    assert np.allclose(relu.get_ydata(), float(sk.isometry_strength("relu")))
    assert np.isclose(exp.get_ydata()[1], float(sk.isometry_strength("exp")), rtol=1e-12)


def test_isometry_depth_bounds_hold_along_the_sequence():
    fig = sk.plot.isometry_depth("relu", 10, n=3, rho0=0.5)
    gap_ax, gamma_ax = fig.axes
    gap, bound = gap_ax.get_lines()[:2]
    ell = bound.get_xdata().astype(int)
    assert np.all(gap.get_ydata()[ell] <= bound.get_ydata())
    gamma, cor = gamma_ax.get_lines()[:2]
    assert np.all(gamma.get_ydata() <= cor.get_ydata() * (1 + 1e-12))


def test_isometry_depth_overlays_a_simulation():
    v = sk.validate.isometry("relu", n=3, width=64, depth=3, seeds=range(2), statistic="gap")
    fig = sk.plot.isometry_depth("relu", 3, n=3, validation=v)
    assert any("width 64" in t.get_text() for t in fig.axes[0].get_legend().get_texts())


def test_edge_of_chaos_curve():
    fig = sk.plot.edge_of_chaos(("tanh",), sigma_b2=[0.0, 0.05])
    w = _lines(fig)[0].get_xdata()
    assert np.allclose(w, sk.critical_curve("tanh", [0.0, 0.05])[0])


def test_bad_input():
    with pytest.raises(InvalidInputError):
        sk.plot.cobweb("relu", rho0=2)
    with pytest.raises(InvalidInputError):
        sk.plot.isometry_depth("relu", 0)
