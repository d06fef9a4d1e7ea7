r"""Train manual and torch_impl in lockstep, and the study tools built on the comparison's core.

``compare.core`` is the comparison itself (``Config``, ``Source``, ``Pair``, ``run``); the modules
beside it are the commands (``python -m compare``, ``compare.trace``, ``compare.walkthrough``,
``compare.gradcheck``, ``compare.check``, ``compare.bench``), the figures, and ``compare.playground``.
"""
from .core import Config, Pair, Source, run

__all__ = ["Config", "Pair", "Source", "run"]
