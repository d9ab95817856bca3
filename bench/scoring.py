"""A scoring run, top to bottom: load the model, open the datasets, prepare batches in worker
threads, run the session, turn logits into records, summarise, write the results."""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.cache import SampleCache, default_cache_dir
from bench.config import RunConfig
from bench.data.registry import DatasetSpec, Registry, iter_samples
from bench.data.sources import count_samples
from bench.data.video import FrameRule
from bench.errors import BenchError
from bench.metrics import summarise
from bench.model import MAX_FRAMES, warn
from bench.pipeline import Batch, Pipeline
from bench.preprocess import Preprocessor
from bench.records import RecordWriter
from bench.report import run_folder
from bench.runtime import Runtime, ort_message
from bench.throughput import Throughput
from bench.transforms import Augmenter


@dataclass
class RunResult:
    config: RunConfig
    runtime: Runtime
    preprocessor: Preprocessor
    datasets: list[DatasetSpec]
    table: pd.DataFrame  # the records' label, decision and status columns (records.parquet has all)
    folder: Path
    output_width: int
    throughput: Throughput

    @property
    def three_class(self) -> bool:
        return self.output_width == 3

    def metrics(self) -> dict:
        return summarise(self.table, self.three_class, self.config.bootstrap, self.config.bootstrap_seed)


def decide(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SPEC section 3: ``(p_ai, pred, pred_binary)`` from logits of width 3, 2 or 1.

    3 logits: softmax, ``p_ai = 1 - p[real]``, AI iff argmax != 0, 3-class decision argmax.
    2 logits: softmax, ``p_ai = p[1]``, decision argmax. 1 logit: ``p_ai = sigmoid``, AI iff > 0.5.
    Widths 2 and 1 have no 3-class decision (``pred = -1``)."""
    logits = np.asarray(logits, dtype=np.float64)
    n, k = logits.shape
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite rows become model errors
        return _decide(logits, n, k)


def _decide(logits: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if k == 1:
        p_ai = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return p_ai, np.full(n, -1), (p_ai > 0.5).astype(np.int64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    pred = p.argmax(axis=1)
    if k == 2:
        return p[:, 1], np.full(n, -1), pred.astype(np.int64)
    p_ai = e[:, 1:].sum(axis=1) / e.sum(axis=1)
    return p_ai, pred.astype(np.int64), (pred != 0).astype(np.int64)


def batch_records(batch: Batch, logits: np.ndarray | None, error: str | None, prep: Preprocessor) -> list[dict]:
    """One record per real sample of the batch (padding discarded)."""
    rows = []
    if logits is not None:
        logits = np.asarray(logits)[: batch.size]
        p_ai, pred, pred_binary = decide(logits)
    for i, (ref, outcome) in enumerate(zip(batch.refs, batch.outcomes)):
        row = {
            "dataset": ref.dataset,
            "media_type": ref.media_type,
            "sample_id": ref.sample_id,
            "label": ref.label,
            "logits": None,
            "p_ai": float("nan"),
            "pred": -1,
            "pred_binary": -1,
            "status": "ok",
            "error": None,
            "error_stage": None,
            "aug_seed": prep.seed_for(ref),
            "batch_index": batch.index,
            "weight": ref.weight,
            "source": ref.path,
            "frames": outcome.frames,
        }
        if not outcome.ok:
            row.update(status="data_error", error=outcome.error, error_stage=outcome.error_stage)
        elif logits is None or not np.isfinite(logits[i]).all():
            reason = error or f"non-finite logits {np.asarray(logits[i]).tolist()}"
            wrong = 0 if ref.label != 0 else 1  # a model error counts as a wrong, undecided answer
            row.update(status="model_error", error=reason, error_stage="inference", p_ai=0.5, pred_binary=wrong)
            if logits is not None:
                row["logits"] = [float(x) for x in logits[i]]
        else:
            row.update(logits=[float(x) for x in logits[i]], p_ai=float(p_ai[i]), pred=int(pred[i]), pred_binary=int(pred_binary[i]))
        rows.append(row)
    return rows


def _infer(runtime: Runtime, buffer: np.ndarray) -> tuple[np.ndarray | None, float | None, str | None]:
    start = time.perf_counter()
    try:
        logits = runtime.run(buffer)
    except Exception as exc:  # a failing batch is a model error for its samples, not a crash
        return None, None, f"inference failed: {ort_message(exc)}"
    return logits, time.perf_counter() - start, None


def open_datasets(cfg: RunConfig, modality: str) -> tuple[list[DatasetSpec], list, int | None]:
    if not cfg.datasets:
        raise BenchError("no datasets to score; list them under `datasets:` in the config or pass --datasets NAME (see `bench datasets`)")
    registry = Registry.load(cfg.dataset_dirs)
    specs = [registry.get(name) for name in cfg.datasets]
    for spec in specs:
        if spec.modality != modality:
            raise BenchError(f"dataset {spec.name!r} is {spec.modality}, but the model takes {modality}; score {modality} datasets with this model")
    streams = [iter_samples(spec, cfg.limit) for spec in specs]
    counts = [count_samples(spec, cfg.limit) for spec in specs]
    total = None if any(c is None for c in counts) else sum(counts)
    return specs, streams, total


def build_preprocessor(cfg: RunConfig, spec) -> Preprocessor:
    """Resolve the preprocessing in one place: size from the model, frames from the model when
    fixed (else the config's, capped at 64), the rest from the config."""
    rule = None
    if spec.modality == "video":
        t = min(spec.frames or cfg.frames, MAX_FRAMES)
        rule = FrameRule(cfg.frame_rule, t, cfg.target_fps)
    augmenter = Augmenter(cfg.augment_level, cfg.augment_pipeline)
    prep = Preprocessor(spec.height, spec.width, cfg.geometry, cfg.interpolation, cfg.seed, augmenter, rule)
    if not cfg.cache:
        return prep
    cache = SampleCache(cfg.cache_dir or default_cache_dir(), int(cfg.cache_max_gb * 1e9), prep.cache_params())
    return dataclasses.replace(prep, cache=cache)


def run(cfg: RunConfig) -> RunResult:
    """Score ``cfg.model`` on ``cfg.datasets``; records stream into the run folder's
    ``records.parquet`` (``cfg.output``, else ``results/<model>-<modality>-<timestamp>``)."""
    if not cfg.model:
        raise BenchError("no model given; pass --model PATH (an .onnx file or an upload .zip) or set `model:` in the config")
    runtime = Runtime.load(cfg.model, cfg.provider, cfg.threads)
    spec = runtime.spec
    if not spec.size_declared:
        warn(f"model input H/W are dynamic {list(spec.input_shape)}; using {spec.height}x{spec.width}. Export with fixed H/W to choose the size yourself")
    if spec.input_dtype != "uint8":
        warn(f"model input dtype is {spec.input_dtype}; feeding 0..255 as {spec.input_dtype} ({np.dtype(spec.input_dtype).itemsize}x the bytes of uint8)")
    specs, streams, total = open_datasets(cfg, spec.modality)
    prep = build_preprocessor(cfg, spec)
    batch_shape = spec.batch_shape(cfg.batch_size, prep.frame_rule.frames if prep.frame_rule else None)
    width = runtime.warmup(batch_shape, cfg.warmup, cfg.seed)
    if width != 3:
        warn(f"model outputs {width} logit(s), not 3: " + ("[real, ai] softmax" if width == 2 else "one AI logit, sigmoid") + "; 3-class metrics are not reported")

    bar = _progress(total, cfg.progress)
    folder = run_folder(cfg.results_dir, cfg.model, spec.modality, cfg.output)
    with RecordWriter(folder / "records.parquet") as writer:

        def keep(batch: Batch, logits, error) -> None:
            writer.add(batch_records(batch, logits, error, prep))
            bar.update(batch.size)

        tracker = execute(runtime, prep, itertools.chain(*streams), batch_shape, cfg, keep)
    bar.close()
    return RunResult(cfg, runtime, prep, specs, writer.table(), folder, width, tracker)


def execute(runtime: Runtime, prep: Preprocessor, samples, batch_shape: tuple[int, ...], cfg: RunConfig, on_batch) -> Throughput:
    """The scoring loop: worker threads prepare batch ``k+1`` while the session runs batch ``k``;
    ``on_batch(batch, logits, error)`` sees every batch in order. Returns its measurements."""
    tracker = Throughput(batch_shape[0])
    start = time.perf_counter()
    with Pipeline(samples, prep, batch_shape, cfg.resolved_workers(), cfg.prefetch) as pipe:
        for batch in pipe:
            logits, seconds, error = _infer(runtime, batch.buffer)
            on_batch(batch, logits, error)
            tracker.add(batch, seconds)
    tracker.wall_s = time.perf_counter() - start
    return tracker


def _progress(total: int | None, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="sample", desc="scoring", disable=not enabled or None, file=sys.stderr, dynamic_ncols=True)
