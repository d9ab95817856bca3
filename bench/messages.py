"""Warnings and notices for users, through the ``bench`` logger (never bare prints).

With no logging configured, Python's last-resort handler prints them to stderr as they are
(``warning: ...``); an application that configures logging routes them like any other."""

from __future__ import annotations

import logging

log = logging.getLogger("bench")
_said: set[str] = set()


def warn(message: str, once: bool = False) -> None:
    """``once``: say it the first time only (a rule resolved for every view of a run)."""
    if once:
        if message in _said:
            return
        _said.add(message)
    log.warning("warning: %s", message)


def notice(message: str) -> None:
    log.warning("notice: %s", message)
