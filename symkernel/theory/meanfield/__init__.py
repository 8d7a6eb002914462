"""Mean-field signal propagation: length/correlation maps, depth scales, edge of chaos.

Pabari & Zhou, *A Mean-Field Theory of Training Deep Neural Networks*, after Poole et al. (2016)
and Schoenholz et al. (2017).
"""
from .cnn import cnn_eigenvalues, cnn_mode_depth_scales, window_operator
from .criticality import critical_curve, critical_minimum, edge_of_chaos
from .fixed_points import FixedPoint, LengthMap, Outcome, length_map
from .maps import MeanField, NoFixedPointError, depth_scales, float_state, mean_field
from .moments import Moments, moments
from .trajectory import pair_expectation, trajectory
from .jacobian import mean_squared_singular_value, spectrum_moments

__all__ = ["MeanField", "NoFixedPointError", "depth_scales", "float_state", "mean_field",
           "Moments", "moments", "edge_of_chaos", "critical_curve", "critical_minimum",
           "cnn_eigenvalues", "cnn_mode_depth_scales", "window_operator",
           "pair_expectation", "trajectory", "mean_squared_singular_value",
           "spectrum_moments", "FixedPoint", "LengthMap", "Outcome", "length_map"]
