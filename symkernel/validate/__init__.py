"""Theory against finite-width simulation: kernel sequences and isometry of MLPs
(:mod:`.networks`), ResNet laws and norm dynamics (:mod:`.resnet`).

>>> import symkernel as sk
>>> v = sk.validate.kernel_sequence("relu", 0.5, width=64, depth=3, seeds=range(2))
>>> v.theory.shape
(4,)
"""
from .networks import Validation, equicorrelated, isometry, kernel_sequence

__all__ = ["Validation", "equicorrelated", "isometry", "kernel_sequence"]
