"""A scoring run, top to bottom: load the models, open the datasets, plan the views (one per
distinct model input, and the robustness pass), prepare batches in worker threads from one decode
per sample, run every model on its view, turn logits into records, summarise per model."""

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
from bench.data.video import FrameRule
from bench.errors import BenchError
from bench.metrics import robustness_summary, summarise
from bench.model import MAX_FRAMES, warn
from bench.pipeline import Batch, Pipeline
from bench.preprocess import Preprocessor, Views
from bench.records import RecordWriter, batch_records
from bench.report import run_folder
from bench.runtime import Runtime, ort_message
from bench.throughput import Throughput
from bench.transforms import Augmenter

PASSES = ("base", "robust")


@dataclass
class Job:
    """One model on one view of every batch: its base pass, or its robustness pass."""

    runtime: Runtime
    view: int
    pass_name: str
    tracker: Throughput


@dataclass
class RunResult:
    """One model's run: its records (in ``folder``) and what the result files need."""

    config: RunConfig
    runtime: Runtime
    preprocessor: Preprocessor  # the base view
    datasets: list[DatasetSpec]
    table: pd.DataFrame  # the records' label, decision, status and pass columns (records.parquet has all)
    folder: Path
    output_width: int
    throughput: Throughput  # the base pass

    @property
    def three_class(self) -> bool:
        return self.output_width == 3

    def metrics(self) -> dict:
        base = self.table[self.table["pass"] == "base"]
        return summarise(base, self.three_class, self.config.bootstrap, self.config.bootstrap_seed)

    def robustness(self, base_metrics: dict) -> dict | None:
        """The robustness section, given this run's ``metrics()`` (None without the pass)."""
        if not self.config.robustness:
            return None
        return robustness_summary(self.table, base_metrics, self.three_class, self.config.robust_weight, self.config.bootstrap, self.config.bootstrap_seed)


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
    counts = [stream.count for stream in streams]
    total = None if any(c is None for c in counts) else sum(counts)
    return specs, streams, total


def build_preprocessor(cfg: RunConfig, spec, robust: bool = False) -> Preprocessor:
    """Resolve the preprocessing in one place: size from the model, frames from the model when
    fixed (else the config's, capped at 64), the rest from the config."""
    rule = None
    if spec.modality == "video":
        t = min(spec.frames or cfg.frames, MAX_FRAMES)
        rule = FrameRule(cfg.frame_rule, t, cfg.target_fps)
    augmenter = Augmenter(cfg.augment_level, cfg.augment_pipeline)
    prep = Preprocessor(spec.height, spec.width, cfg.geometry, cfg.interpolation, cfg.seed, augmenter, rule, robust, cfg.fast_decode and spec.modality == "image")
    if not cfg.cache:
        return prep
    cache = SampleCache(cfg.cache_dir or default_cache_dir(), int(cfg.cache_max_gb * 1e9), prep.cache_params())
    return dataclasses.replace(prep, cache=cache)


def plan(cfg: RunConfig, runtimes: list[Runtime]) -> tuple[list[Preprocessor], list[list[Job]]]:
    """The distinct views and, per model, its jobs (models with the same input share a view)."""
    views: list[Preprocessor] = []
    index: dict[tuple, int] = {}
    jobs: list[list[Job]] = []
    for runtime in runtimes:
        mine = []
        for pass_name in PASSES[: 2 if cfg.robustness else 1]:
            prep = build_preprocessor(cfg, runtime.spec, robust=pass_name == "robust")
            key = (prep.height, prep.width, prep.frame_rule, prep.robust)
            if key not in index:
                index[key] = len(views)
                views.append(prep)
            mine.append(Job(runtime, index[key], pass_name, Throughput(cfg.batch_size)))
        jobs.append(mine)
    return views, jobs


def load_models(cfg: RunConfig) -> list[Runtime]:
    paths = cfg.model_paths()
    if not paths:
        raise BenchError("no model given; pass --model PATH (an .onnx file or an upload .zip) or set `model:` in the config")
    runtimes = []
    for path in paths:
        runtime = Runtime.load(path, cfg.provider, cfg.threads)
        spec = runtime.spec
        if not spec.size_declared:
            warn(f"{Path(path).name}: input H/W are dynamic {list(spec.input_shape)}; using {spec.height}x{spec.width}. Export with fixed H/W to choose the size yourself")
        if spec.input_dtype != "uint8":
            warn(f"{Path(path).name}: input dtype is {spec.input_dtype}; feeding 0..255 as {spec.input_dtype} ({np.dtype(spec.input_dtype).itemsize}x the bytes of uint8)")
        runtimes.append(runtime)
    modalities = {r.spec.modality for r in runtimes}
    if len(modalities) > 1:
        raise BenchError("the models take different media (image and video); score them in separate runs")
    return runtimes


def run(cfg: RunConfig) -> RunResult:
    """Score the config's one model (see ``run_all`` for several)."""
    if len(cfg.model_paths()) > 1:
        raise BenchError("several models given; use run_all (or `bench run --model A --model B`)")
    return run_all(cfg)[0]


def run_all(cfg: RunConfig) -> list[RunResult]:
    """Score every model on the same samples with the same augmentation, decoding each sample
    once; records stream into each model's run folder (``cfg.output``, else
    ``results/<model>-<modality>-<timestamp>``; several models: one sub-folder each)."""
    runtimes = load_models(cfg)
    modality = runtimes[0].spec.modality
    specs, streams, total = open_datasets(cfg, modality)
    views, jobs = plan(cfg, runtimes)
    shapes = [v.batch_shape(cfg.batch_size) for v in views]
    widths = []
    for runtime, mine in zip(runtimes, jobs):
        widths.append(runtime.warmup(shapes[mine[0].view], cfg.warmup, cfg.seed))
        if widths[-1] != 3:
            kind = "[real, ai] softmax" if widths[-1] == 2 else "one AI logit, sigmoid"
            warn(f"{Path(runtime.spec.path).name} outputs {widths[-1]} logit(s), not 3: {kind}; 3-class metrics are not reported")
    folders = run_folders(cfg, runtimes)
    writers = [RecordWriter(folder / "records.parquet") for folder in folders]
    bar = _progress(total, cfg.progress)
    owner = {id(job): m for m, mine in enumerate(jobs) for job in mine}

    def keep(job: Job, batch: Batch, logits, error) -> None:
        writers[owner[id(job)]].add(batch_records(batch, logits, error, views[job.view].seed_for, job.pass_name))

    try:
        execute([job for mine in jobs for job in mine], Views(views), itertools.chain(*streams), shapes, cfg, keep, bar)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    for writer in writers:
        writer.close()
    bar.close()
    return [
        RunResult(cfg, runtime, views[mine[0].view], specs, writer.table(), folder, width, mine[0].tracker)
        for runtime, mine, writer, folder, width in zip(runtimes, jobs, writers, folders, widths)
    ]


def execute(jobs: list[Job], views: Views, samples, shapes: list[tuple[int, ...]], cfg: RunConfig, on_batch, bar=None) -> float:
    """The scoring loop: worker threads prepare batch ``k+1`` while the sessions run batch ``k``;
    ``on_batch(job, batch, logits, error)`` sees every batch of every job, in order. Fills each
    job's tracker; returns the wall time."""
    start = time.perf_counter()
    with Pipeline(samples, views, shapes, cfg.resolved_workers(), cfg.prefetch) as pipe:
        for batch in pipe:
            for job in jobs:
                logits, seconds, error = _infer(job.runtime, batch.buffers[job.view])
                on_batch(job, batch, logits, error)
                job.tracker.add(batch, seconds)
            if bar is not None:
                bar.update(batch.size)
    wall = time.perf_counter() - start
    for job in jobs:
        job.tracker.wall_s = wall
    return wall


def run_folders(cfg: RunConfig, runtimes: list[Runtime]) -> list[Path]:
    paths = [r.spec.path for r in runtimes]
    modality = runtimes[0].spec.modality
    if len(paths) == 1:
        return [run_folder(cfg.results_dir, paths[0], modality, cfg.output)]
    folders, seen = [], set()
    for path in paths:
        folder = Path(cfg.output) / Path(path).stem if cfg.output else run_folder(cfg.results_dir, path, modality, None)
        while folder in seen or (not cfg.output and folder.exists()):
            folder = folder.with_name(folder.name + "-b")
        seen.add(folder)
        folders.append(folder)
    return folders


def _progress(total: int | None, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="sample", desc="scoring", disable=not enabled or None, file=sys.stderr, dynamic_ncols=True)
