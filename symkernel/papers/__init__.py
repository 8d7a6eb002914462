"""Published tables and figures of the papers symkernel reproduces, as data, and their
reproductions, one module per paper, named by citation:

* :mod:`.joudaki_daneshmand_bach_2023` (Joudaki, Daneshmand & Bach, NeurIPS 2023): Tables 2 and
  B.1; :mod:`.joudaki_daneshmand_bach_2023_figures`: Figures 3, 4-6, A.1 and B.1;
* :mod:`.joudaki_hofmann_2025` (Joudaki & Hofmann, AISTATS 2025): Table S.1;
* :mod:`.pabari_zhou` (Pabari & Zhou): mean-field depth scales and the edge of chaos, and the
  paper's printed formulas and numbers against the derived ones (its slips);
* :mod:`.hayou_2023` (Hayou, TMLR 2023): infinite-depth ResNets.

This package is the registry of the reproduced tables: :func:`table_builders` lists them
(``symkernel tables`` prints them) and :func:`paper_tables` builds them all.

>>> [name for name, _ in table_builders()]   # doctest: +NORMALIZE_WHITESPACE
['Joudaki, Daneshmand & Bach (NeurIPS 2023), Table 2',
 'Joudaki, Daneshmand & Bach (NeurIPS 2023), Table B.1',
 'Joudaki & Hofmann (AISTATS 2025), Table S.1',
 'Pabari & Zhou, printed formulas and numbers against the derived ones']
"""
from . import joudaki_daneshmand_bach_2023, joudaki_hofmann_2025, pabari_zhou
from .joudaki_daneshmand_bach_2023 import table2_table as joudaki_daneshmand_bach_2023_table2
from .joudaki_daneshmand_bach_2023 import table_b1_table as joudaki_daneshmand_bach_2023_table_b1
from .joudaki_hofmann_2025 import table_s1_table as joudaki_hofmann_2025_table_s1

#: the published tables the package reproduces, in the order ``symkernel tables`` prints them
TABLES = (
    ("Joudaki, Daneshmand & Bach (NeurIPS 2023), Table 2", joudaki_daneshmand_bach_2023_table2),
    ("Joudaki, Daneshmand & Bach (NeurIPS 2023), Table B.1", joudaki_daneshmand_bach_2023_table_b1),
    ("Joudaki & Hofmann (AISTATS 2025), Table S.1", joudaki_hofmann_2025_table_s1),
    ("Pabari & Zhou, printed formulas and numbers against the derived ones", pabari_zhou.slips_table),
)


def table_builders():
    """``[(name, function returning a Table)]`` for every published table the package
    reproduces."""
    return list(TABLES)


def paper_tables():
    """Every published table the package reproduces, as :class:`~symkernel.present.tables.Table`
    objects (Joudaki & Hofmann's Table S.1 takes about 20 seconds)."""
    return [build() for _, build in table_builders()]


__all__ = ["table_builders", "paper_tables", "joudaki_daneshmand_bach_2023_table2",
           "joudaki_daneshmand_bach_2023_table_b1", "joudaki_hofmann_2025_table_s1",
           "joudaki_daneshmand_bach_2023", "joudaki_hofmann_2025", "pabari_zhou"]
