"""``SimulationResult``: per-layer records of a finite-width simulation (float64 NumPy arrays)."""
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from symkernel.core import display
from symkernel.theory.gram import (
    default_tolerance, isometry_float, isometry_gap_float, normalized_gram, potential_float,
)


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Records of one run.

    ``gram[l]`` is the Gram matrix :math:`G^\\ell_{ij} = \\langle y_i, y_j\\rangle/d` of the
    representations after layer ``l`` (``l = 0``: the preprocessed inputs), shape ``(L+1, n, n)``.
    ``pre_gram[l]`` (when recorded) is that of the pre-activations of layer ``l+1``;
    ``activations`` (when recorded) holds every layer's representations ``(L+1, n, d)``.
    The isometry, its gap, the potential gamma, the correlations and the norms are derived from
    ``gram`` on demand.
    """

    gram: np.ndarray
    params: dict
    pre_gram: np.ndarray = None
    activations: np.ndarray = None
    output: np.ndarray = field(default=None, repr=False)

    @property
    def depth(self):
        return self.gram.shape[0] - 1

    @property
    def _tol(self):
        return default_tolerance(self.gram.shape[1], np.dtype(self.params.get("dtype", "float64")))

    def _per_layer(self, fn):
        """``fn(G, tol=...)`` of every layer's Gram matrix, stacked (the float64 twins of
        :mod:`symkernel.theory.gram`)."""
        return np.array([fn(G, tol=self._tol) for G in self.gram])

    @cached_property
    def isometry(self):
        """Isometry of every layer's Gram matrix, shape ``(L+1,)``."""
        return self._per_layer(isometry_float)

    @cached_property
    def isometry_gap(self):
        return self._per_layer(isometry_gap_float)

    @cached_property
    def potential(self):
        """gamma of every layer (Joudaki, Daneshmand & Bach (NeurIPS 2023) Def. 4)."""
        return self._per_layer(potential_float)

    @cached_property
    def correlations(self):
        """Normalized Gram matrices (pairwise cosines), shape ``(L+1, n, n)``."""
        return self._per_layer(normalized_gram)

    @property
    def norms(self):
        """``||x_i||`` with the seed's scaling ``x = y/sqrt(d)``: ``sqrt(G_ii)``, shape ``(L+1, n)``."""
        return np.sqrt(np.clip(np.diagonal(self.gram, axis1=1, axis2=2), 0.0, None))

    def __repr__(self):
        p = self.params
        return (f"SimulationResult({p.get('activation')}, n={self.gram.shape[1]}, width={p.get('width')}, "
                f"depth={self.depth}, backend={p.get('backend')}, dtype={p.get('dtype')}, seed={p.get('seed')})")

    def _repr_html_(self, digits=8):
        """A table of the isometry, its gap and the potential gamma at every layer (LaTeX cells);
        a float32 (float16) run shows at most 5 (2) digits, about what its Gram matrices carry
        (:mod:`symkernel.present.display`)."""
        return display.to_html(self, digits=digits)
