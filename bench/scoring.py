"""A scoring run, top to bottom: load the models (runtime seam, contract), open the datasets,
resolve the views (modality seam: one per distinct model input, and the robustness pass), plan
the batches, let the executor prepare and infer them (executor seam), turn logits into records,
and summarise each model into a ``ModelResult`` (metrics, robustness, throughput), saved into
its result folder."""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench import executors, modalities
from bench.checks.dynamic import batch_dependence
from bench.config import RunConfig, flat_values
from bench.contract import WARN
from bench.data.registry import DatasetSpec, Registry, folder_datasets, iter_samples
from bench.errors import BenchError
from bench.executors import Job
from bench.journal import open_writers, skip_done, write_run_file
from bench.messages import warn
from bench.metrics import by_tags, robustness_summary, summarise
from bench.plan import plan_batches
from bench.preprocess import Views, with_cache
from bench.records import batch_records
from bench.report.thumbnails import pick_confidently_wrong, thumbnails_json
from bench.results import ModelResult, check_paths, run_folders
from bench.runtimes import Runtime, load_runtime
from bench.runtimes.errors import runtime_message
from bench.throughput import Throughput, process_start
from bench.thumbnails import write_thumbnails
from bench.trials import TrialInputs, run_trials

PASSES = ("base", "robust")
PROBES = 4  # probe inputs scored alone and together at load (8 model calls' worth of samples: cheap even for a heavy model)


@dataclass(frozen=True)
class Datasets:
    specs: list[DatasetSpec]
    streams: list  # one lazy stream of SampleRefs per dataset
    total: int | None  # samples in all, when the sources know without reading media


@dataclass
class Scored:
    """What the scoring loop leaves: per model its records' decision columns, per job its
    throughput, the loop's wall clock, and (with batch trials) every sample's prepared inputs."""

    tables: list
    trackers: list[Throughput]
    wall: float
    inputs: TrialInputs | None
    engine: dict  # the executor's description: engine, cluster resources, per-actor throughput


def run_all(cfg: RunConfig, started: float | None = None, resume: list[Path] | None = None) -> list[ModelResult]:
    """Score every model of ``cfg`` on the same samples with the same augmentation, decoding each
    sample once; one ``ModelResult`` per model, each saved into its own result folder.
    ``started``: when the "from start" throughput counts from (default: process start);
    ``resume``: the folders of a killed run of this config, whose finished batches are kept."""
    check_paths(cfg, resuming=resume is not None)
    executor = make_executor(cfg)  # a Ray cluster that cannot be reached fails here, before any work
    runtimes = load_models(cfg)
    modality = modalities.get(runtimes[0].spec.modality)
    data = open_datasets(cfg, modality.name)
    views, jobs = resolve_views(cfg, modality, runtimes)
    base = [next(j for j in jobs if j.model == m and j.pass_name == "base") for m in range(len(runtimes))]
    probes = [probe(cfg, runtime, views[job.view]) for runtime, job in zip(runtimes, base)]
    folders = resume or run_folders(cfg.output.results_dir, cfg.output.folder, [r.spec.path for r in runtimes], modality.name)
    for folder in folders:
        write_run_file(folder, flat_values(cfg), list(cfg.overridden), folders, "running")
    try:
        return _scored_results(cfg, executor, runtimes, views, jobs, base, probes, data, folders, started, resume is not None)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the finished batches are in the journal
        exc.run_folder = folders[0]
        raise


def _scored_results(cfg, executor, runtimes, views, jobs, base, probes, data, folders, started, resume) -> list[ModelResult]:
    scored = score(cfg, executor, data, views, jobs, folders, started or process_start(), resume)
    try:
        results = []
        for m, runtime in enumerate(runtimes):
            result = summarise_model(cfg, runtime, views[base[m].view], data.specs, scored.tables[m], folders[m], probes[m], _finish(scored, jobs, m))
            if scored.inputs is not None:
                inputs = scored.inputs.stores[base[m].view].finish()
                table = scored.tables[m][scored.tables[m]["pass"] == "base"]
                trials = run_trials(runtime, inputs, table, result.metrics["overall"], cfg.runtime.batch_trials, cfg.runtime.batch_size, cfg.preprocessing.seed, probes[m]["width"] == 3)
                result = dataclasses.replace(result, batch_trials=trials)
            picks = pick_confidently_wrong(scored.tables[m])
            result = dataclasses.replace(result, thumbnails=thumbnails_json(write_thumbnails(cfg, views[base[m].view], data.specs, picks, folders[m])))
            result.save()
            results.append(result)
    finally:
        if scored.inputs is not None:
            scored.inputs.close()
    for folder in folders:
        write_run_file(folder, flat_values(cfg), list(cfg.overridden), folders, "complete")
    return results


def score(cfg: RunConfig, executor, data: Datasets, views: Views, jobs: list[Job], folders: list[Path], started: float, resume: bool) -> Scored:
    """The scoring loop: planned batches (less those a resumed run finished) through the
    executor; records committed batch by batch into each model's journal, in batch order."""
    trackers = [Throughput(cfg.runtime.batch_size, workers=cfg.resolved_workers(), models=len(folders), warmup=cfg.runtime.warmup, started=started) for _ in jobs]
    writers, done = open_writers(folders, resume)
    inputs = TrialInputs(len(views)) if cfg.runtime.batch_trials else None
    planned = skip_done(plan_batches(data.streams, cfg.runtime.batch_size, cfg.data.batch_order, cfg.preprocessing.seed), done)
    bar = _progress(data.total, cfg.output.progress)
    bar.update(sum(len(ids) for ids in done.values()))
    start = time.perf_counter()
    try:
        for batch, inferences in executor.run(planned, views, jobs):
            for job, inference, tracker in zip(jobs, inferences, trackers):
                writers[job.model].add(batch_records(batch, inference, views[job.view].seed_for, job.pass_name, job.view))
                tracker.add(batch, inference.seconds, inference.fed)
            for writer in writers:
                writer.commit()
            if any(w.due() for w in writers):
                for writer in writers:
                    writer.flush()
            if inputs is not None:
                inputs.add(batch)
            bar.update(batch.size)
    except BaseException:
        for writer in writers:
            writer.abort()
        if inputs is not None:
            inputs.close()
        raise
    finally:
        bar.close()
    wall, finished = time.perf_counter() - start, time.time()
    for writer in writers:
        writer.close()
    for tracker in trackers:
        tracker.finished = finished
    return Scored([w.table() for w in writers], trackers, wall, inputs, executor.describe())


def make_executor(cfg: RunConfig):
    """The run's engine (``--engine``): local threads, or Ray Data (joined or started here)."""
    r = cfg.runtime
    if r.engine == "ray":
        return executors.get("ray", batch_size=r.batch_size, pad=r.pad_batches, address=r.ray_address, gpus_per_worker=r.gpus_per_worker,
                             inference_workers=r.inference_workers, cpus_per_decoder=r.cpus_per_decoder, provider=r.provider, threads=r.threads,
                             keep_buffers=r.batch_trials > 0)
    return executors.get("local", workers=cfg.resolved_workers(), prefetch=r.prefetch, batch_size=r.batch_size, pad=r.pad_batches)


def load_models(cfg: RunConfig) -> list[Runtime]:
    """Every model of the run, through the first runtime that accepts it; the contract refuses a
    model before any data is touched, and its warnings are printed once here."""
    if not cfg.model:
        raise BenchError("no model given; pass --model PATH (an .onnx file or an upload .zip) or set `model:` in the config")
    runtimes = [load_runtime(path, cfg.runtime.provider, cfg.runtime.threads) for path in cfg.model]
    for runtime in runtimes:
        _warn_contract(runtime)
    kinds = {r.spec.modality for r in runtimes}
    if len(kinds) > 1:
        raise BenchError(f"the models take different media ({' and '.join(sorted(kinds))}); score them in separate runs")
    return runtimes


def _warn_contract(runtime: Runtime) -> None:
    """The contract's warnings about a model that passes it (dynamic H/W, a float32 input, 2 or 1
    logits), one line each."""
    for finding in runtime.findings:
        if finding.verdict == WARN:
            warn(f"{Path(runtime.spec.path).name}: {finding.message}" + (f"; {finding.fix}" if finding.fix else ""))


def open_datasets(cfg: RunConfig, modality: str) -> Datasets:
    """The run's datasets: ``--folder``'s class subfolders, and the registry's named datasets
    (a config file's list is replaced by ``--folder`` unless ``--datasets`` is given too)."""
    names = cfg.data.datasets if not cfg.data.folder or "datasets" in cfg.overridden else []
    specs = folder_datasets(Path(cfg.data.folder), modality) if cfg.data.folder else []
    if not names and not specs:
        raise BenchError("no datasets to score; list them under `datasets:` in the config, pass --datasets NAME (see `bench datasets`), or --folder DIR with real/ and synthetic/ subfolders")
    registry = Registry.load(cfg.data.dataset_dirs) if names else None
    specs += [registry.get(name) for name in names]
    for spec in specs:
        if spec.modality != modality:
            raise BenchError(f"dataset {spec.name!r} is {spec.modality}, but the model takes {modality}; score {modality} datasets with this model")
    streams = [iter_samples(spec, cfg.data.limit) for spec in specs]
    counts = [stream.count for stream in streams]
    return Datasets(specs, streams, None if any(c is None for c in counts) else sum(counts))


def resolve_views(cfg: RunConfig, modality, runtimes: list[Runtime]) -> tuple[Views, list[Job]]:
    """The distinct views and the jobs: per model, its base pass (and robustness pass), models
    with the same input sharing a view."""
    views: list = []
    index: dict[tuple, int] = {}
    jobs: list[Job] = []
    for m, runtime in enumerate(runtimes):
        for pass_name in PASSES if cfg.preprocessing.robustness else PASSES[:1]:
            view = modality.view(runtime.spec, cfg, robust=pass_name == "robust")
            key = view.share_key()
            if key not in index:
                index[key] = len(views)
                views.append(with_cache(view, cfg))
            jobs.append(Job(m, runtime, index[key], pass_name))
    return Views(views), jobs


def probe(cfg: RunConfig, runtime: Runtime, view) -> dict:
    """Before any data: the model's output width (warned about when the graph did not declare
    it and it is not 3), and whether its scores depend on its batch-mates (the check's rule, on
    8 probe inputs of the view's shape); a batch-dependent model is named with how much."""
    spec = runtime.spec
    axes = dict(zip((a.name for a in modalities.get(spec.modality).layout.axes), view.batch_shape(PROBES)))
    batch = modalities.get(spec.modality).probes(spec, PROBES, axes.get("frames"), cfg.preprocessing.seed)
    name = Path(spec.path).name
    try:
        found = batch_dependence(runtime.run, batch)
    except Exception as exc:  # a model that cannot run at all is refused before scoring
        raise BenchError(f"{name} fails on probe batches of shape {list(batch.shape)}: {runtime_message(exc)}; check it with `bench check`") from None
    width = found["width"]
    standard = len(modalities.get(spec.modality).classes)
    if width not in (3, standard) and spec.output_width is None:
        kind = "[real, ai] softmax" if width == 2 else "one AI logit, sigmoid"
        warn(f"{name} outputs {width} logit(s), not {standard}: {kind}" + ("; 3-class metrics are not reported" if standard == 3 else ""))
    if found["verdict"] != "pass":
        warn(f"{name} is batch-dependent: scored alone and in a batch of {PROBES}, probe logits differ by up to {found['max_abs_diff']:.3g} "
             f"(scale {found['scale']:.3g}) and {found['flips']} of {PROBES} decisions flip; the leaderboard groups samples at random, "
             f"so its pushed score is a range: --batch-trials K measures it")
    return {"width": width, "batch_dependence": {k: v for k, v in found.items() if k != "width"}}


def _finish(scored: Scored, jobs: list[Job], model: int) -> dict:
    """The model's throughput (its base pass): its own inference, the shared wall clock named as
    such, and the other models' inference inside it."""
    mine = next(t for t, j in zip(scored.trackers, jobs) if j.model == model and j.pass_name == "base")
    mine.wall_s = scored.wall
    mine.others_inference_s = sum(sum(t.inference_s) for t, j in zip(scored.trackers, jobs) if j.model != model)
    return mine.to_json() | {"engine": scored.engine}


def summarise_model(cfg: RunConfig, runtime: Runtime, view, specs: list[DatasetSpec], table, folder: Path, probed: dict, throughput: dict) -> ModelResult:
    """Metrics (base pass, the leaderboard's rule, strict beside them), the robustness section,
    throughput: the model's ``ModelResult`` (saved by the caller)."""
    width = probed["width"]
    three_class = width == 3
    out = cfg.output
    metrics = summarise(table[table["pass"] == "base"], three_class, out.bootstrap, out.bootstrap_seed)
    if cfg.data.by:
        unknown = [k for k in cfg.data.by if not any(k in s.tags for s in specs)]
        if unknown:
            warn(f"no dataset of the run has the tag {unknown[0]!r} (--by); its table has one group, (untagged). Tags: {sorted({t for s in specs for t in s.tags}) or 'none'}")
        metrics["per_group"] = by_tags(table[table["pass"] == "base"], specs, cfg.data.by, three_class)
    robustness = robustness_summary(table, metrics, three_class, cfg.preprocessing.robust_weight, out.bootstrap, out.bootstrap_seed) if cfg.preprocessing.robustness else None
    spec = runtime.spec
    model = {
        "path": spec.path,
        "sha256": spec.sha256,
        "input_name": spec.input_name,
        "input_shape": list(spec.input_shape),
        "input_dtype": spec.input_dtype,
        "output_shape": list(spec.output_shape),
        "output_width": width,
        "modality": spec.modality,
    }
    cache = view.cache
    throughput |= {"workers": cfg.resolved_workers(), "cache": {"enabled": False} if cache is None else {"enabled": True, "dir": str(cache.root)} | cache.stats.to_json()}
    datasets = [{"name": d.name, "modality": d.modality, "media_type": d.media_type, "source": d.source, "weight": d.weight, "max_samples": d.max_samples, "tags": d.tags} for d in specs]
    result = ModelResult(
        model=model,
        environment=runtime.environment,
        config=cfg.to_dict(),
        preprocessing=view.describe() | {"size_declared": spec.size_declared},
        datasets=datasets,
        metrics=metrics,
        robustness=robustness,
        throughput=throughput,
        folder=folder,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        batch_dependence=probed["batch_dependence"],
        pipeline={"batch_order": cfg.data.batch_order, "pad_batches": cfg.runtime.pad_batches, "grouping": "per dataset, last batch at its true size" if not cfg.runtime.pad_batches else "per dataset, last batch padded to the batch size"},
    )
    _warn_errors(Path(runtime.spec.path).name, metrics["overall"])
    return result


def _warn_errors(name: str, overall: dict) -> None:
    if overall["model_errors"]:
        strict = overall["strict"]
        warn(f"{name} failed on {overall['model_errors']} sample(s): the headline metrics leave them out, as the leaderboard does "
             f"(accuracy {_num(overall['accuracy'])}, sn34 {_num(overall['sn34'])}); counted wrong (strict): accuracy {_num(strict['accuracy'])}, sn34 {_num(strict['sn34'])}")


def _num(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _progress(total: int | None, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="sample", desc="scoring", disable=not enabled or None, file=sys.stderr, dynamic_ncols=True)
