"""The one exception type users see: a one-line message naming the problem and the fix."""

from __future__ import annotations


class BenchError(Exception):
    """A problem with the user's input (model, config, path, dataset), not a bug.

    The CLI prints ``error: <message>`` and exits with status 2; no traceback.
    """
