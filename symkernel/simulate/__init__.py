"""Finite-width random networks that check the mean-field theory (NumPy; PyTorch optional).

>>> import symkernel as sk
>>> res = sk.simulate_mlp("tanh", n=3, width=32, depth=2, seed=1)
>>> res.isometry.shape
(3,)
"""
from .jacobian import simulate_jacobian
from .mlp import inputs_with_gram, simulate_mlp
from .result import SimulationResult

__all__ = ["simulate_mlp", "inputs_with_gram", "SimulationResult", "simulate_jacobian"]
