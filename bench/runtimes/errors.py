"""Runtime failures as one line, and the classification the sweep and the scoring loop need."""

from __future__ import annotations

import re

OOM_MARKERS = ("out of memory", "failed to allocate", "bad_alloc", "cudaerrormemoryallocation", "cuda failure 2", "memory allocation")


def runtime_message(exc: BaseException) -> str:
    """The runtime's message without source locations and C++ signatures, on one line."""
    if isinstance(exc, MemoryError):
        return "host out of memory"
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"\S+\.(?:cc|h|cpp):\d+ \S+?\(.*?\)(?: const)? ", "", text)
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    return text[:300]


def is_oom(message: str) -> bool:
    low = message.lower()
    return any(m in low for m in OOM_MARKERS)
