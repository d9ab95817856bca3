"""``bench profile``: a batch-size sweep with throughput, latency percentiles and memory.

Model-only by default: several distinct pre-generated ``uint8`` input sets of the model's shape
(never zeros) are rotated through the session; warm-up batches are excluded; each batch size runs
until both a minimum duration and a minimum number of batches are met. With ``--data CONFIG`` the
same sweep goes through the full pipeline on real samples and also reports how long the session
waited for data.

``auto`` doubles the batch size until throughput stops improving by more than ``PLATEAU``, the
p95 latency exceeds the budget, or memory runs out. An out-of-memory batch size is a row with its
error and the sweep stops going up; any other error is reported, not retried.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
import time
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.runtimes import Runtime, load_runtime, warmup
from bench.runtimes.errors import is_oom, runtime_message
from bench.throughput import latency_ms

PLATEAU = 0.03  # auto stops when a doubling gains less than 3% throughput
AUTO_MAX = 4096
INPUT_SETS = 4
MAX_THREADS = 256  # as the run config's threads (bench/config.py)
PROVIDERS = ("auto", "cpu", "cuda")


def _limit(flag: str, check: str, high: float | None = None) -> dict:
    """Field metadata: the command-line flag named in errors, and the range (bench.config.CHECKS)."""
    return {"flag": flag, "check": check, "high": high}


@dataclass
class ProfileConfig:
    model: str
    batch_sizes: list[int] | None = None  # None: auto
    provider: str = "auto"
    duration: float = field(default=3.0, metadata=_limit("--duration", "positive", 3600))
    min_iters: int = field(default=10, metadata=_limit("--min-iters", "positive", 1_000_000))
    latency_budget_ms: float | None = field(default=None, metadata=_limit("--latency-budget", "positive", 3_600_000))
    data: str | None = None  # a run config whose datasets feed the pipeline
    output: str | None = None
    threads: int = field(default=0, metadata=_limit("--threads", "non_negative", MAX_THREADS))
    warmup: int = field(default=3, metadata=_limit("warmup", "non_negative", 1000))

    def validate(self) -> ProfileConfig:
        """Every number finite and in its range (a boolean is no number), or ``BenchError``
        naming the flag, the value and the range; a float field's integer becomes a float."""
        from bench.config import check_number

        if self.batch_sizes is not None:
            if not isinstance(self.batch_sizes, list) or not self.batch_sizes:
                raise BenchError(f"--batch-sizes must be positive integers like 1,2,4,8 or 'auto', got {self.batch_sizes!r}")
            self.batch_sizes = [check_number("--batch-sizes", b, int, "positive", high=AUTO_MAX) for b in self.batch_sizes]
        if self.provider not in PROVIDERS:
            raise BenchError(f"--provider must be one of {', '.join(PROVIDERS)}, got {self.provider!r}")
        hints = typing.get_type_hints(ProfileConfig)
        for f in fields(self):
            if "check" not in f.metadata or (getattr(self, f.name) is None and f.default is None):
                continue
            kind = float if float in (hints[f.name], *typing.get_args(hints[f.name])) else int
            value = check_number(f.metadata["flag"], getattr(self, f.name), kind, f.metadata["check"], high=f.metadata["high"])
            setattr(self, f.name, value)
        return self


@dataclass
class Row:
    batch_size: int
    status: str  # ok | oom | error
    error: str | None = None
    batches: int = 0
    samples_per_s: float | None = None
    latency_ms: dict = field(default_factory=dict)
    per_sample_ms: float | None = None
    peak_device_mb: float | None = None
    peak_process_mb: float | None = None
    end_to_end_samples_per_s: float | None = None
    data_wait_ms_per_batch: float | None = None
    remeasured: bool = False  # auto measured this size twice to confirm a drop, and kept the better


def parse_batch_sizes(text: str) -> list[int] | None:
    if text.strip().lower() == "auto":
        return None
    try:
        sizes = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise BenchError(f"--batch-sizes must be 'auto' or integers like 1,2,4,8, got {text!r}") from None
    return sorted(set(sizes))


# --------------------------------------------------------------------------- memory


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _device_bytes() -> int | None:
    """GPU memory this process holds (NVML); None without a GPU or NVML."""
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(int(os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] or 0))
        mine = [p.usedGpuMemory for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle) if p.pid == os.getpid() and p.usedGpuMemory]
        return int(sum(mine)) if mine else int(pynvml.nvmlDeviceGetMemoryInfo(handle).used)
    except Exception:  # no driver, no GPU, no pynvml: device memory is simply not reported
        return None


class PeakMemory:
    """Samples process (and on CUDA, device) memory every few milliseconds while active."""

    def __init__(self, device: bool, interval: float = 0.005):
        self.device = device
        self.interval = interval
        self.peak_rss = 0
        self.peak_device: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        self.peak_rss = max(self.peak_rss, _rss_bytes())
        if self.device:
            used = _device_bytes()
            if used is not None:
                self.peak_device = max(self.peak_device or 0, used)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval if not self.device else self.interval * 10):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# --------------------------------------------------------------------------- measuring


def input_sets(shape: tuple[int, ...], n: int = INPUT_SETS, seed: int = 0) -> list[np.ndarray]:
    """``n`` distinct uint8 batches (noise of varied ranges, never all zeros)."""
    rng = np.random.default_rng(seed)
    sets = []
    for i in range(n):
        lo = (i * 37) % 128
        sets.append(rng.integers(lo, 256, size=shape, dtype=np.uint8))
    return sets


def _on_device(runtime: Runtime) -> bool:
    return runtime.environment.get("provider") == "CUDAExecutionProvider"


def model_shape(runtime: Runtime, batch: int) -> tuple[int, ...]:
    """The batch shape ``bench run`` would feed with default settings."""
    from bench import modalities
    from bench.config import build

    return modalities.get(runtime.spec.modality).view(runtime.spec, build({"cache": False})).batch_shape(batch)


def measure_model_only(runtime: Runtime, batch: int, cfg: ProfileConfig) -> Row:
    shape = model_shape(runtime, batch)
    try:
        sets = input_sets(shape)
    except MemoryError:
        return Row(batch, "oom", f"host memory: cannot allocate input batches of shape {list(shape)}")
    times: list[float] = []
    with PeakMemory(_on_device(runtime)) as memory:
        try:
            for i in range(cfg.warmup):
                runtime.run(sets[i % len(sets)])
            start = time.perf_counter()
            for i in itertools.count():
                t0 = time.perf_counter()
                runtime.run(sets[i % len(sets)])
                times.append(time.perf_counter() - t0)
                if len(times) >= cfg.min_iters and time.perf_counter() - start >= cfg.duration:
                    break
        except Exception as exc:  # classify, record, let the sweep decide
            message = runtime_message(exc)
            return Row(batch, "oom" if isinstance(exc, MemoryError) or is_oom(message) else "error", message, len(times))
    return _row(batch, times, memory)


def _row(batch: int, times: list[float], memory: PeakMemory, **extra) -> Row:
    total = sum(times)
    return Row(
        batch_size=batch,
        status="ok",
        batches=len(times),
        samples_per_s=batch * len(times) / total if total else None,
        latency_ms=latency_ms(times),
        per_sample_ms=total / (batch * len(times)) * 1000 if times else None,
        peak_device_mb=memory.peak_device / 2**20 if memory.peak_device else None,
        peak_process_mb=memory.peak_rss / 2**20,
        **extra,
    )


def measure_pipeline(runtime: Runtime, batch: int, cfg: ProfileConfig, run_cfg, specs) -> Row:
    """The full pipeline (decode, preprocess, batch, infer) over the data config's samples, cycled
    until the duration and minimum batch count are met. A batch whose inference fails ends the
    size with its error (out of memory classified as such), as in the model-only sweep."""
    from contextlib import closing

    from bench import executors, modalities
    from bench.data.registry import iter_samples
    from bench.plan import plan_batches
    from bench.scoring import resolve_views
    from bench.throughput import Throughput

    run_cfg = run_cfg.replace(batch_size=batch, robustness=False)
    views, jobs = resolve_views(run_cfg, modalities.get(runtime.spec.modality), [runtime])

    def cycle():  # the datasets, over and over, until enough batches were timed
        while True:
            for spec in specs:
                yield from iter_samples(spec, run_cfg.data.limit)

    stream = _enough(cycle(), cfg.min_iters * batch, cfg.duration)
    executor = executors.get("local", workers=run_cfg.resolved_workers(), prefetch=run_cfg.runtime.prefetch, batch_size=batch)
    tracker = Throughput(batch)
    try:
        warmup(runtime, views[0].batch_shape(batch), cfg.warmup, dtype=views[0].dtype)
    except BenchError as exc:
        return Row(batch, "oom" if is_oom(str(exc)) else "error", str(exc))
    with PeakMemory(_on_device(runtime)) as memory, closing(executor.run(plan_batches([stream], batch), views, jobs)) as batches:
        start = time.perf_counter()
        for prepared, (inference,) in batches:
            if inference.error is not None:
                return Row(batch, "oom" if is_oom(inference.error) else "error", inference.error, len(tracker.inference_s))
            tracker.add(prepared, inference.seconds)
        tracker.wall_s = time.perf_counter() - start
    if not tracker.inference_s:
        return Row(batch, "error", "no batch ran")
    tp = tracker.to_json()
    return _row(batch, tracker.inference_s, memory, end_to_end_samples_per_s=tp["samples_per_s"], data_wait_ms_per_batch=tp["stages_ms"]["data_wait"] / max(1, len(tracker.inference_s)))


def _enough(stream, needed: int, duration: float):
    """Take from ``stream`` until ``needed`` samples were taken and ``duration`` has passed."""
    start = time.perf_counter()
    for i, ref in enumerate(stream):
        if i >= needed and time.perf_counter() - start >= duration:
            return
        yield ref


# --------------------------------------------------------------------------- the sweep


@dataclass
class Profile:
    config: ProfileConfig
    environment: dict
    model: dict
    rows: list[Row]
    mode: str  # model-only | pipeline

    def ok_rows(self) -> list[Row]:
        return [r for r in self.rows if r.status == "ok" and r.samples_per_s]

    def rate(self, row: Row) -> float:
        """What the best batch is ranked by: end-to-end samples/s through the pipeline (``--data``),
        else model-only samples/s."""
        return (row.end_to_end_samples_per_s if self.mode == "pipeline" else row.samples_per_s) or 0.0

    def best(self) -> Row | None:
        rows = self.ok_rows()
        return max(rows, key=self.rate) if rows else None

    def best_under_budget(self) -> Row | None:
        if self.config.latency_budget_ms is None:
            return None
        rows = [r for r in self.ok_rows() if r.latency_ms["p95"] <= self.config.latency_budget_ms]
        return max(rows, key=self.rate) if rows else None

    def to_json(self) -> dict:
        best, budget = self.best(), self.best_under_budget()
        return {
            "mode": self.mode,
            "model": self.model,
            "environment": self.environment,
            "config": asdict(self.config),
            "rows": [asdict(r) for r in self.rows],
            "best_batch_size": best.batch_size if best else None,
            "best_under_budget": budget.batch_size if budget else None,
        }


def _next_sizes(cfg: ProfileConfig):
    if cfg.batch_sizes is not None:
        yield from cfg.batch_sizes
        return
    b = 1
    while b <= AUTO_MAX:
        yield b
        b *= 2


def sweep(cfg: ProfileConfig, progress=None) -> Profile:
    cfg.validate()
    runtime = load_runtime(cfg.model, cfg.provider, cfg.threads)
    run_cfg = specs = None
    if cfg.data:
        from bench.config import load_config
        from bench.scoring import open_datasets

        run_cfg = load_config(cfg.data, {"model": cfg.model, "progress": False})
        specs = open_datasets(run_cfg, runtime.spec.modality).specs
    spec = runtime.spec
    model = {"path": spec.path, "sha256": spec.sha256, "input_shape": list(spec.input_shape), "input_dtype": spec.input_dtype}
    profile = Profile(cfg, runtime.environment, model, [], "pipeline" if cfg.data else "model-only")

    def measure(b: int) -> Row:
        row = measure_pipeline(runtime, b, cfg, run_cfg, specs) if cfg.data else measure_model_only(runtime, b, cfg)
        if progress:
            progress(row)
        return row

    best = 0.0
    for b in _next_sizes(cfg):
        row = measure(b)
        profile.rows.append(row)
        if row.status != "ok":
            break  # out of memory: nothing bigger fits; any other error: reported, not retried
        if cfg.batch_sizes is None:
            over_budget = cfg.latency_budget_ms is not None and row.latency_ms["p95"] > cfg.latency_budget_ms
            if not over_budget and best and profile.rate(row) < best * (1 + PLATEAU):
                again = measure(b)  # one noisy dip must not end the sweep: measure it again
                if again.status == "ok" and profile.rate(again) > profile.rate(row):
                    profile.rows[-1] = row = dataclasses.replace(again, remeasured=True)
            if over_budget or (best and profile.rate(row) < best * (1 + PLATEAU)):
                break
        best = max(best, profile.rate(row))
    return profile


# --------------------------------------------------------------------------- files


CSV_COLUMNS = ["batch_size", "status", "samples_per_s", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "per_sample_ms", "peak_device_mb", "peak_process_mb", "end_to_end_samples_per_s", "data_wait_ms_per_batch", "batches", "error"]


def table_rows(profile: Profile) -> list[list]:
    out = []
    for r in profile.rows:
        lat = r.latency_ms or {}
        out.append([r.batch_size, r.status, r.samples_per_s, lat.get("p50"), lat.get("p90"), lat.get("p95"), lat.get("p99"), r.per_sample_ms, r.peak_device_mb, r.peak_process_mb, r.end_to_end_samples_per_s, r.data_wait_ms_per_batch, r.batches, r.error])
    return out


def write_files(profile: Profile, folder: Path) -> list[Path]:
    import csv
    import io
    import json

    from bench.results import atomic_write, write_text

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(table_rows(profile))
    write_text(folder / "profile.csv", buf.getvalue())
    write_text(folder / "profile.json", json.dumps(profile.to_json(), indent=2) + "\n")
    atomic_write(folder / "profile.png", lambda tmp: plot(profile, tmp))
    return [folder / "profile.csv", folder / "profile.json", folder / "profile.png"]


def plot(profile: Profile, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = profile.ok_rows()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    sizes = [r.batch_size for r in rows]
    ax.plot(sizes, [r.samples_per_s for r in rows], "o-", color="tab:blue", label="samples/s (model only)")
    if profile.mode == "pipeline":
        ax.plot(sizes, [r.end_to_end_samples_per_s for r in rows], "s--", color="tab:green", label="samples/s (end to end)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("samples / s")
    ax2 = ax.twinx()
    ax2.plot(sizes, [r.latency_ms["p95"] for r in rows], "^:", color="tab:red", label="p95 batch latency (ms)")
    ax2.set_ylabel("p95 latency (ms)")
    if profile.config.latency_budget_ms:
        ax2.axhline(profile.config.latency_budget_ms, color="tab:red", alpha=0.3, label="latency budget")
    best = profile.best()
    if best:
        ax.axvline(best.batch_size, color="grey", alpha=0.3)
        ax.annotate(f"best batch {best.batch_size}\n{profile.rate(best):.0f} samples/s" + (" end to end" if profile.mode == "pipeline" else ""),
                    (best.batch_size, profile.rate(best)), textcoords="offset points", xytext=(6, -28), fontsize=8, color="0.25")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title(f"{Path(profile.model['path']).name} on {profile.environment['device']} ({profile.environment['provider'].replace('ExecutionProvider', '')})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
