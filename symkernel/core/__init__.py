"""The language of the package: SymPy symbols, the restricted parser (no ``eval``), piecewise
pieces, :class:`Activation` with its registry, and :class:`Quantity` (exact | certified |
estimated, with provenance).  Imports only :mod:`symkernel.errors` and :mod:`symkernel.numerics`."""
