r"""``python -m compare.check FILE.py:NAME``: check a backprop you wrote yourself (``compare/checker.py``)."""
from . import options
from .checker import main

if __name__ == "__main__":
    options.run(main)
