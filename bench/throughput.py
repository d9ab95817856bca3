"""Throughput and latency as plain values (SPEC section 5)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PERCENTILES = (50, 90, 95, 99)


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
    data_wait_s: float = 0.0
    decode_s: float = 0.0  # summed over worker threads
    preprocess_s: float = 0.0  # summed over worker threads
    wall_s: float = 0.0

    def add(self, batch, seconds: float | None) -> None:
        self.samples += batch.size
        self.data_wait_s += batch.wait_s
        self.decode_s += sum(o.decode_s for o in batch.outcomes)
        self.preprocess_s += sum(o.preprocess_s for o in batch.outcomes)
        if seconds is not None:
            self.inference_s.append(seconds)
            self.inferred += batch.size

    def to_json(self) -> dict:
        inference = sum(self.inference_s)
        per_sample = (inference / self.inferred * 1000.0) if self.inferred else None
        return {
            "batch_size": self.batch_size,
            "batches": len(self.inference_s),
            "samples": self.samples,
            "wall_s": self.wall_s,
            "samples_per_s": self.samples / self.wall_s if self.wall_s > 0 else None,
            "model_only_samples_per_s": self.inferred / inference if inference > 0 else None,
            "latency_ms": latency_ms(self.inference_s),
            "per_sample_ms": per_sample,
            "stages_ms": {
                "decode": self.decode_s * 1000.0,
                "preprocess": self.preprocess_s * 1000.0,
                "data_wait": self.data_wait_s * 1000.0,
                "inference": inference * 1000.0,
            },
            "stages_note": "decode and preprocess are summed over worker threads; data_wait and inference are time on the scoring thread",
        }
