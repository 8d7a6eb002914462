"""Each number two ways: the exact engine against the numeric engine (:mod:`.engines`), and theory
against finite-width simulation — kernel sequences and isometry of MLPs (:mod:`.networks`), the
mean-field q, c maps and depth scale (:mod:`.meanfield`), ResNet laws and norm dynamics
(:mod:`symkernel.validate.resnet`).

>>> import symkernel as sk
>>> v = sk.validate.kernel_sequence("relu", 0.5, width=64, depth=3, seeds=range(2))
>>> v.theory.shape
(4,)
"""
from .engines import EngineCheck, engines
from .meanfield import MeanFieldValidation, mean_field
from .networks import Validation, equicorrelated, isometry, kernel_sequence

__all__ = ["EngineCheck", "engines", "MeanFieldValidation", "mean_field", "Validation", "equicorrelated", "isometry", "kernel_sequence"]
