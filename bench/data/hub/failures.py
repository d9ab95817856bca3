"""How a pull fails: a whole dataset (``PullError``) or one of its files (``FileError``), and
the one-line reason given for any other exception."""

from __future__ import annotations


class PullError(Exception):
    """The whole dataset cannot be pulled (the message says why)."""


class FileError(Exception):
    """One file cannot be fetched or read (the dataset goes on without it)."""


def exc_reason(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__

