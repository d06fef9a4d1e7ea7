r"""Train manual and torch_impl in lockstep, the study tools, and ``check``, for a backprop of your own."""
from .checker import check

__all__ = ["check"]
