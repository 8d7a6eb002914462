"""Deprecated path: this module is now :mod:`symkernel.present.latex` (also ``sk.latex``).

The old import path keeps working for one release and warns.
"""
import warnings

from symkernel.present.latex import *  # noqa: F401,F403

warnings.warn("symkernel.latex is now symkernel.present.latex (or sk.latex); the old path goes away in "
              "the next release", DeprecationWarning, stacklevel=2)
