"""Deprecated path: this module is now :mod:`symkernel.present.tables` (also ``sk.tables``); the
reproduced paper tables are in :mod:`symkernel.papers`.

The old import path keeps working for one release and warns.
"""
import warnings

from symkernel.papers import (  # noqa: F401  (the paper tables moved to symkernel.papers)
    joudaki_daneshmand_bach_2023_table2, joudaki_daneshmand_bach_2023_table_b1, paper_tables,
)
from symkernel.present.tables import *  # noqa: F401,F403

warnings.warn("symkernel.tables is now symkernel.present.tables (or sk.tables); the old path goes away in "
              "the next release", DeprecationWarning, stacklevel=2)

# the old names of the Joudaki, Daneshmand & Bach (NeurIPS 2023) tables
seed001_table2 = joudaki_daneshmand_bach_2023_table2
seed001_table_b1 = joudaki_daneshmand_bach_2023_table_b1
