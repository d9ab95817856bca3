"""The executor seam: planned batches in, ``(batch, one Inference per job)`` out, in batch order.

An executor prepares every planned batch (decode, views, batch buffers) and runs each job's
runtime on its view. Executors are registered by name with lazy targets; adding one (Ray Data,
for a cluster) is one new module and one line in ``REGISTRY``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from bench.plan import Batch, Planned
    from bench.preprocess import Views

REGISTRY: dict[str, str] = {
    "local": "bench.executors.local:LocalExecutor",
}


@dataclass(frozen=True)
class Job:
    """One model on one view of every batch: its base pass, or its robustness pass."""

    model: int  # index of the model in the run
    runtime: object  # bench.runtimes.Runtime
    view: int
    pass_name: str  # base | robust


@dataclass(frozen=True)
class Inference:
    """One job's answer for one batch: logits (with padding rows), or the error."""

    logits: np.ndarray | None
    seconds: float | None
    error: str | None = None


class Executor(Protocol):
    def run(self, batches: Iterable[Planned], views: Views, jobs: list[Job]) -> Iterator[tuple[Batch, list[Inference]]]: ...


def get(name: str, **options) -> Executor:
    module, _, attr = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), attr)(**options)


def infer(runtime, buffer: np.ndarray) -> Inference:
    """Run one batch; a failing batch is a model error for its samples, not a crash."""
    import time

    from bench.runtimes.errors import runtime_message

    start = time.perf_counter()
    try:
        logits = runtime.run(buffer)
    except Exception as exc:  # any runtime failure: recorded per sample, classified by callers
        return Inference(None, None, f"inference failed: {runtime_message(exc)}")
    return Inference(logits, time.perf_counter() - start)
