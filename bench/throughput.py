"""Throughput and latency as plain values (SPEC section 5).

No batch is thrown away for warm-up: every batch is scored and kept; the first ones are left out
of the latency statistics (and model-only samples/s) while latency settles, at most ``warmup``.
Throughput is reported twice: the scoring loop, and from process start (imports, model load and
dataset listing included), each labelled."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

PERCENTILES = (50, 90, 95, 99)
SETTLED = 1.5  # a first batch slower than this many times the median of the rest is warm-up ...
SETTLED_S = 0.0005  # ... and slower by more than this (timer noise on sub-millisecond batches is not)
_IMPORTED = time.time()


def process_start() -> float:
    """When this process started (epoch seconds): now less its age, from /proc (its start in
    clock ticks after boot, and the uptime; /proc/stat's btime is whole seconds, too coarse);
    else when bench was imported."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return _IMPORTED


def settled(seconds: list[float], most: int) -> int:
    """How many first batches are warm-up: leading batches slower than ``SETTLED`` x the median
    of the batches after them (and by more than ``SETTLED_S``), at most ``most``, never all."""
    n = 0
    while n < min(most, len(seconds) - 1):
        median = float(np.median(seconds[n + 1 :]))
        if seconds[n] <= max(SETTLED * median, median + SETTLED_S):
            break
        n += 1
    return n


def latency_ms(seconds: list[float]) -> dict[str, float | None]:
    """p50/p90/p95/p99 and mean of per-batch latencies, in milliseconds."""
    if not seconds:
        return {f"p{p}": None for p in PERCENTILES} | {"mean": None}
    ms = np.asarray(seconds) * 1000.0
    return {f"p{p}": float(np.percentile(ms, p)) for p in PERCENTILES} | {"mean": float(ms.mean())}


@dataclass
class Throughput:
    """Accumulates per-batch measurements of one scoring pass (warm-up already excluded)."""

    batch_size: int
    inference_s: list[float] = field(default_factory=list)
    samples: int = 0  # real samples (padding excluded), data errors included
    inferred: int = 0  # real samples that went through the model
    fed: list[int] = field(default_factory=list)  # samples per timed batch
    data_wait_s: float = 0.0
    decode_s: float = 0.0  # summed over worker threads
    preprocess_s: float = 0.0  # summed over worker threads
    wall_s: float = 0.0  # the scoring loop's wall clock, shared by every model of the run
    others_inference_s: float = 0.0  # the other models' inference time inside that wall clock
    workers: int = 1
    models: int = 1
    warmup: int = 3  # at most this many first batches left out of the latency statistics
    started: float | None = None  # epoch seconds the "from start" figure counts from
    finished: float | None = None  # epoch seconds the scoring loop ended

    def alone_s(self) -> float:
        """This model's wall time as if it had run alone: the shared wall clock less the other
        models' inference, never below the time the workers needed to prepare the data, nor
        below this model's own inference."""
        if self.models == 1:
            return self.wall_s
        prepare = (self.decode_s + self.preprocess_s) / max(1, self.workers)
        return max(self.wall_s - self.others_inference_s, prepare, sum(self.inference_s))

    def add(self, batch, seconds: float | None, fed: int | None = None) -> None:
        """One batch: its data timings, and (when it ran) its inference time over ``fed`` samples
        (default: the batch's size)."""
        self.samples += batch.size
        self.data_wait_s += batch.wait_s
        self.decode_s += sum(o.decode_s for o in batch.outcomes)
        self.preprocess_s += sum(o.preprocess_s for o in batch.outcomes)
        if seconds is not None:
            self.inference_s.append(seconds)
            self.inferred += fed or batch.size
            self.fed.append(fed or batch.size)

    def to_json(self) -> dict:
        inference = sum(self.inference_s)
        skip = settled(self.inference_s, self.warmup)
        steady, steady_n = self.inference_s[skip:], sum(self.fed[skip:])
        per_sample = (sum(steady) / steady_n * 1000.0) if steady_n else None
        alone = self.alone_s()
        from_start = (self.finished - self.started) if self.started and self.finished else None
        return {
            "batch_size": self.batch_size,
            "batches": len(self.inference_s),
            "samples": self.samples,
            "wall_s": alone,
            "samples_per_s": self.samples / alone if alone > 0 else None,
            "models": self.models,
            "shared_wall_s": self.wall_s,
            "shared_samples_per_s": self.samples / self.wall_s if self.wall_s > 0 else None,
            "samples_per_s_note": "one model: samples / wall clock of the scoring loop; several models in one run: the shared wall clock less the other models' inference time (not below the data preparation time), i.e. as if run alone",
            "from_start_s": from_start,
            "from_start_samples_per_s": self.samples / from_start if from_start else None,
            "from_start_note": "samples / (end of scoring - process start): imports, model load, probes and dataset listing included",
            "model_only_samples_per_s": steady_n / sum(steady) if steady and sum(steady) > 0 else None,
            "latency_ms": latency_ms(steady),
            "warmup_batches_excluded": skip,
            "per_sample_ms": per_sample,
            "stages_ms": {
                "decode": self.decode_s * 1000.0,
                "preprocess": self.preprocess_s * 1000.0,
                "data_wait": self.data_wait_s * 1000.0,
                "inference": inference * 1000.0,
            },
            "stages_note": "decode and preprocess are summed over worker threads; data_wait and inference are time on the scoring thread; latency and model-only figures leave out the first batches while latency settles (all batches are scored)",
        }
