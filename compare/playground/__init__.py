r"""TensorFlow Playground: its URLs as settings, its own run replayed exactly, and a URL's set-up as a script.

- url.py: ``parse_url``, a Playground link's settings, read from one table of keys as Playground's
  ``state.ts`` reads them.
- exact.py: ``PlaygroundRun``, the page's own run as a ``Source`` (``--exact``).
- export.py: the set-up of a URL as a standalone PyTorch script (``--export-torch``).
"""
from .exact import PlaygroundRun, Stream
from .url import parse_url

__all__ = ["PlaygroundRun", "Stream", "parse_url"]
