r"""The core of the comparison, to read after ``manual/``: a run's settings, its source, both sides, the lockstep.

- ``Config`` (config.py): every setting of a run, its default, help and check.
- ``Source`` (source.py): the points, the initial weights and the batch order of a run.
- ``Pair`` (pair.py): both models with identical weights, their losses and optimizers; one step of
  both, every intermediate quantity side by side (``Pair.trace``), and the tolerance.
- ``run`` (lockstep.py): both sides trained in lockstep, every step checked, the ``Result``;
  ``rounding.py`` tells float32 rounding from a bug.
- data.py: Playground's data sets, seeded.
- formulas.py: every formula and hint the tools print, written once.
"""
from .config import Config
from .data import load_data
from .lockstep import Result, run
from .pair import TOLERANCES, Pair, Row, first_difference
from .source import Source

__all__ = ["TOLERANCES", "Config", "Pair", "Result", "Row", "Source", "first_difference", "load_data", "run"]
