import os
import sys

from .cli import main

try:
    sys.exit(main())
except BrokenPipeError:
    # the reader went away (`python -m compare | head`): stop quietly, as the Python docs advise,
    # pointing stdout at devnull so that the interpreter's final flush cannot fail again
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
