"""Deep networks on data: the infinite-width NNGP and NTK of composed architectures.

``sk.nn.serial(sk.nn.Dense(sigma_w2, sigma_b2), sk.nn.Activation("tanh"), ...)`` describes a
network once; ``net.kernel(x1, x2)`` gives its NNGP and NTK on data (float64, or ``dps=`` digits),
``net.symbolic()`` the exact kernels of two inputs, and the same description builds the
finite-width network that checks them (:mod:`symkernel.simulate.networks`).  Inference on the
kernels: :func:`gp_posterior` (NNGP) and :func:`gradient_flow` (NTK).  Parameterization and input
kernel as neural-tangents' defaults (Novak et al., ICLR 2020), so numbers compare one to one.
"""
from . import data
from .inference import GPPosterior, GradientFlowPrediction, gp_posterior, gradient_flow
from .layers import Activation, Dense, LayerNorm, RMSNorm, compose
from .network import Kernels, Network, Residual, SymbolicKernels, c, q1, q2, repeat, serial
from .pair import PairKernel

__all__ = ["Activation", "Dense", "GPPosterior", "GradientFlowPrediction", "Kernels", "LayerNorm",
           "Network", "PairKernel", "RMSNorm", "Residual", "SymbolicKernels", "c", "compose", "data",
           "gp_posterior", "gradient_flow", "q1", "q2", "repeat", "serial"]
