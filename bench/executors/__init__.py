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
    "ray": "bench.executors.ray:RayExecutor",
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
    """One job's answer for one batch: a row of logits per sample of the batch (NaN for samples
    that were not fed: data errors), or the error; ``fed`` is how many rows the model saw."""

    logits: np.ndarray | None
    seconds: float | None
    error: str | None = None
    fed: int = 0


class Executor(Protocol):
    def run(self, batches: Iterable[Planned], views: Views, jobs: list[Job]) -> Iterator[tuple[Batch, list[Inference]]]: ...
    def describe(self) -> dict: ...  # written into results.json: the engine and what ran where


def get(name: str, **options) -> Executor:
    module, _, attr = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), attr)(**options)


def feed(buffer: np.ndarray, ok: list[bool], pad: bool) -> tuple[np.ndarray, np.ndarray]:
    """What the model is fed from a batch buffer of ``len(ok)`` samples, and which samples those
    rows are: the decoded samples only, at their true number (a contiguous view when all are);
    with ``pad``, the whole fixed-size buffer (failed and missing rows are zeros)."""
    rows = np.flatnonzero(ok)
    if pad:
        return buffer, np.arange(len(ok))
    if len(rows) == len(ok):
        return buffer[: len(ok)], rows
    return buffer[rows], rows


def infer(runtime, buffer: np.ndarray, ok: list[bool], pad: bool = False) -> Inference:
    """Run one batch; a failing batch is a model error for its samples, not a crash."""
    import time

    from bench.runtimes.errors import runtime_message

    if not any(ok):  # nothing decoded: nothing to run
        return Inference(None, None)
    batch, rows = feed(buffer, ok, pad)
    start = time.perf_counter()
    try:
        logits = np.asarray(runtime.run(batch))
    except Exception as exc:  # any runtime failure: recorded per sample, classified by callers
        return Inference(None, None, f"inference failed: {runtime_message(exc)}", len(batch))
    seconds = time.perf_counter() - start
    if logits.ndim != 2 or logits.shape[0] != len(batch):
        return Inference(None, None, f"inference failed: output shape {list(logits.shape)} for a batch of {len(batch)}; the contract needs (batch, classes) logits", len(batch))
    full = np.full((len(ok), logits.shape[1]), np.nan, dtype=np.float64)
    full[rows] = logits[rows] if pad else logits
    return Inference(full, seconds, None, len(batch))
