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
    wall_s: float = 0.0  # the scoring loop's wall clock, shared by every model of the run
    others_inference_s: float = 0.0  # the other models' inference time inside that wall clock
    workers: int = 1
    models: int = 1

    def alone_s(self) -> float:
        """This model's wall time as if it had run alone: the shared wall clock less the other
        models' inference, never below the time the workers needed to prepare the data, nor
        below this model's own inference."""
        if self.models == 1:
            return self.wall_s
        prepare = (self.decode_s + self.preprocess_s) / max(1, self.workers)
        return max(self.wall_s - self.others_inference_s, prepare, sum(self.inference_s))

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
        alone = self.alone_s()
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
