r"""``python -m compare``; Ctrl-C (SIGINT) or SIGTERM stops it with one line, ``interrupted by
SIGINT`` or ``interrupted by SIGTERM``, and exit status 128 + the signal number (130, 143), leaving
no temporary file behind (``compare.files.write_atomic`` removes its own as the exception passes).
"""
import os
import signal
import sys


class Stopped(BaseException):
    r"""A stop signal arrived; ``args[0]`` is its number. Not an ``Exception``, so nothing swallows it."""


def stop(signum, frame):
    # a second signal would interrupt the cleanup this one starts: the first one is enough
    for ignored in (signal.SIGINT, signal.SIGTERM):
        signal.signal(ignored, signal.SIG_IGN)
    raise Stopped(signum)


for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, stop)
try:
    from .cli import main
    sys.exit(main())
except BrokenPipeError:
    # the reader went away (`python -m compare | head`): stop quietly, as the Python docs advise,
    # pointing stdout at devnull so that the interpreter's final flush cannot fail again
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
except Stopped as exc:
    print(f"interrupted by {signal.Signals(exc.args[0]).name}", file=sys.stderr)
    sys.exit(128 + exc.args[0])
