"""The Ray engine: the same planned batches as the local engine, prepared and scored on Ray Data.

The driver plans the batches exactly as a local run does (bench/plan.py) and makes each one a
row of a Ray dataset: one whole batch of sample references. Decode and preprocessing run as a
CPU map stage (``cpus_per_decoder`` CPUs and as many threads per task); inference runs in a pool
of actors, each loading every model of the run once in its constructor (from the model's files,
sent by the driver: no node needs them on its disk), one GPU per actor when the cluster has
GPUs (loaded with provider ``cuda``, which fails when CUDA does not really run, so an actor
never scores on a CPU it was not asked for). Rows come back in batch order
(``preserve_order``), and the driver writes records with the same writer as a local run; only
the ``worker`` column (which actor scored the batch) and timings differ from a local run.

Faults: a decode task that dies is retried (``max_retries``); an inference actor that dies is
restarted and its batch retried on the pool (``max_restarts``, ``max_task_retries``); a batch
returns once, so every sample is recorded exactly once. Sources must be readable from every
node (a shared path or a URL); the sample cache is per node.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import time
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.executors import Inference, Job, infer
from bench.plan import Batch, Planned

RETRIES = 3  # decode task retries, inference actor restarts and task retries on a restarted actor
CONNECT_TIMEOUT_S = 5.0


def import_ray():
    try:
        import ray
    except ImportError:
        raise BenchError("--engine ray needs Ray Data: pip install -e '.[ray]' (the pinned ray[data]), or run with --engine local") from None
    return ray


def connect(address: str | None):
    """Join the cluster at ``address`` (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``), or start
    Ray on this machine; a Ray already initialised in this process (a test's, a notebook's) is
    used as it is. An address that cannot be reached fails in one line before any work."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address and address != "auto":
        _reachable(address)
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, include_dashboard=False, configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if address == "auto":
            raise BenchError("--ray-address auto found no Ray cluster running on this machine; start one with `ray start --head`, or leave out --ray-address to start Ray for this run") from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot join the Ray cluster at {address!r}: {first}; check the address (HOST:PORT of the head node, default port 6379) and that `ray start --head` runs there") from None
    return ray


def _reachable(address: str) -> None:
    host_port = address.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise BenchError(f"--ray-address {address!r} is not HOST:PORT (or auto); e.g. --ray-address 10.0.0.5:6379 or --ray-address auto")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise BenchError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}; check that `ray start --head` runs there and the port is open") from None


def _prepare(row: dict, views, batch_size: int, threads: int) -> dict:
    """The CPU stage: one planned batch's samples into batch buffers, in ``threads`` threads.
    The cache counts made here go back to the driver in the row."""
    refs = pickle.loads(row["refs"])
    before = [v.cache.stats.counts() if v.cache is not None else None for v in views.views]
    buffers = [np.zeros(shape, dtype=dtype) for shape, dtype in zip(views.shapes(batch_size), views.dtypes())]
    with ThreadPoolExecutor(max(1, threads)) as pool:
        outcomes = list(pool.map(lambda item: views(item[1], [b[item[0]] for b in buffers]), enumerate(refs)))
    cache = [None if b is None else ({k: n - b[k] for k, n in v.cache.stats.counts().items()}, v.cache.stats.disabled) for v, b in zip(views.views, before)]
    out = {"index": row["index"], "outcomes": pickle.dumps((outcomes, cache))}
    for i, buffer in enumerate(buffers):
        out[f"view{i}"] = buffer
    return out


class _Infer:
    """An inference actor: every model loaded once; each row's jobs run as the local engine runs
    them (``bench.executors.infer``)."""

    def __init__(self, models: list[tuple[str, dict[str, bytes]]], digests: list[str], jobs: list[tuple[int, int]], provider: str, threads: int, pad: bool, keep_buffers: bool, views: int):
        import tempfile

        from bench.runtimes import load_runtime

        self._files = tempfile.TemporaryDirectory(prefix="bench-models-")  # removed with the actor
        self.runtimes = [load_runtime(unpack_model(packed, Path(self._files.name) / str(i)), provider, threads) for i, packed in enumerate(models)]
        for (name, _), runtime, sha in zip(models, self.runtimes, digests):
            if runtime.spec.sha256 != sha:
                raise BenchError(f"{name} changed while the run started (sha256 {sha[:12]} on the driver, {runtime.spec.sha256[:12]} in a Ray actor); rerun once it is written")
        self.jobs = jobs
        self.pad = pad
        self.keep_buffers = keep_buffers
        self.views = views
        ray = import_ray()
        context = ray.get_runtime_context()
        self.worker = f"ray:{context.get_node_id()[:8]}:{os.getpid()}"
        self.provider = str(self.runtimes[0].environment.get("provider", ""))  # what really runs (checked at load)

    def __call__(self, row: dict) -> dict:
        outcomes, _ = pickle.loads(row["outcomes"])
        inferences = [infer(self.runtimes[m], row[f"view{v}"], [o.error_for(v) is None for o in outcomes], self.pad) for m, v in self.jobs]
        out = {"index": row["index"], "outcomes": row["outcomes"], "inferences": pickle.dumps(inferences), "worker": self.worker, "provider": self.provider}
        if self.keep_buffers:
            for v in range(self.views):
                out[f"view{v}"] = row[f"view{v}"]
        return out


class RayExecutor:
    """Ray Data on this machine or a cluster; records identical to the local engine's."""

    def __init__(self, batch_size: int = 16, pad: bool = False, address: str | None = None, gpus_per_worker: float | None = None,
                 inference_workers: int = 0, cpus_per_decoder: float = 1.0, provider: str = "auto", threads: int = 0, keep_buffers: bool = False):
        self.batch_size = batch_size
        self.pad = pad
        self.address = address
        self.provider = provider
        self.threads = threads
        self.keep_buffers = keep_buffers
        self.cpus_per_decoder = cpus_per_decoder
        self.ray = connect(address)
        resources = self.ray.cluster_resources()
        self.resources = {k: float(v) for k, v in resources.items() if k in ("CPU", "GPU", "memory", "object_store_memory")}
        nodes = [n.get("Resources", {}) for n in self.ray.nodes() if n.get("Alive")]
        self.nodes = len(nodes)
        gpus = self.resources.get("GPU", 0.0)
        self.gpus_per_worker = (1.0 if gpus >= 1 else 0.0) if gpus_per_worker is None else gpus_per_worker
        if self.gpus_per_worker > gpus:
            raise BenchError(f"--gpus-per-worker {self.gpus_per_worker:g} but the Ray cluster has {gpus:g} GPU(s); pass --gpus-per-worker 0 to score on CPUs")
        if provider == "cuda" and self.gpus_per_worker == 0:
            raise BenchError("--provider cuda with --engine ray needs GPUs for the inference actors; the cluster has none (or pass --gpus-per-worker N)")
        self.inference_workers = inference_workers or (max(1, int(gpus // self.gpus_per_worker)) if self.gpus_per_worker else 1)
        self.actor_cpus = 0.0 if self.gpus_per_worker else 1.0
        self._check_fit(nodes)
        self.actors: dict[str, dict] = {}

    def _check_fit(self, nodes: list[dict]) -> None:
        """Refuse, before any work, a pool that the cluster's nodes cannot hold (Ray would wait for
        resources for ever): the inference actors placed node by node, and room left for at
        least one decode task."""
        free = [{"CPU": float(n.get("CPU", 0)), "GPU": float(n.get("GPU", 0))} for n in nodes]
        for placed in range(self.inference_workers):
            node = next((f for f in free if f["CPU"] >= self.actor_cpus and f["GPU"] >= self.gpus_per_worker), None)
            if node is None:
                each = f"{self.actor_cpus:g} CPU" + (f" and {self.gpus_per_worker:g} GPU" if self.gpus_per_worker else "")
                raise BenchError(f"--inference-workers {self.inference_workers} does not fit the Ray cluster: {placed} actor(s) of {each} each fit on its nodes "
                                 f"({self._describe_nodes(nodes)}); lower --inference-workers or --gpus-per-worker, or add nodes")
            node["CPU"] -= self.actor_cpus
            node["GPU"] -= self.gpus_per_worker
        if not any(f["CPU"] >= self.cpus_per_decoder for f in free):
            raise BenchError(f"no Ray node has {self.cpus_per_decoder:g} CPU(s) left for a decode task beside {self.inference_workers} inference actor(s) "
                             f"({self._describe_nodes(nodes)}); lower --cpus-per-decoder or --inference-workers, or add nodes")

    @staticmethod
    def _describe_nodes(nodes: list[dict]) -> str:
        return "; ".join(f"node {i + 1}: {float(n.get('CPU', 0)):g} CPU, {float(n.get('GPU', 0)):g} GPU" for i, n in enumerate(nodes))

    def run(self, batches: Iterable[Planned], views, jobs: list[Job]) -> Iterator[tuple[Batch, list[Inference]]]:
        ray = self.ray
        planned = {p.index: p for p in batches}
        if not planned:
            return
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # batch order: records as a local run writes them
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # the run's own progress bar and tables say how it goes
        runtimes = list({job.runtime.spec.path: job.runtime for job in jobs}.values())  # each model once
        models = [r.spec.path for r in runtimes]
        rows = [{"index": index, "refs": pickle.dumps(p.refs)} for index, p in planned.items()]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        threads = max(1, int(self.cpus_per_decoder))
        provider = "cuda" if self.gpus_per_worker else ("cpu" if self.provider == "auto" else self.provider)
        job_pairs = [(models.index(job.runtime.spec.path), job.view) for job in jobs]
        packed = [pack_model(path) for path in models]  # actors load these bytes, not the driver's paths: a node need not see them
        with warnings.catch_warnings():  # retries and restarts have no named parameter in the pinned Ray: ray_remote_args it is
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset = dataset.map(_prepare, fn_args=(views, self.batch_size, threads), num_cpus=self.cpus_per_decoder, max_retries=RETRIES)
            dataset = dataset.map(_Infer, fn_constructor_args=(packed, [r.spec.sha256 for r in runtimes], job_pairs, provider, self.threads, self.pad, self.keep_buffers, len(views)),
                                  compute=ray.data.ActorPoolStrategy(size=self.inference_workers), num_gpus=self.gpus_per_worker or None, num_cpus=self.actor_cpus,
                                  max_restarts=RETRIES, max_task_retries=RETRIES)
        waited = time.perf_counter()
        try:
            for row in dataset.iter_rows():
                p = planned[int(row["index"])]
                outcomes, cache = pickle.loads(row["outcomes"])
                _absorb(views, cache)
                buffers = [np.asarray(row[f"view{v}"]) for v in range(len(views))] if self.keep_buffers else None
                batch = Batch(p.index, p.refs, outcomes, buffers, time.perf_counter() - waited, worker=str(row["worker"]))
                inferences = pickle.loads(row["inferences"])
                self._count(batch, inferences, str(row["provider"]))
                yield batch, inferences
                waited = time.perf_counter()
        except Exception as exc:
            raise _explained(exc) from None

    def _count(self, batch: Batch, inferences: list[Inference], provider: str) -> None:
        actor = self.actors.setdefault(batch.worker, {"batches": 0, "samples": 0, "inference_s": 0.0, "provider": provider})
        actor["batches"] += 1
        actor["samples"] += batch.size
        actor["inference_s"] += sum(i.seconds or 0.0 for i in inferences)

    def describe(self) -> dict:
        actors = {name: a | {"samples_per_s": a["samples"] / a["inference_s"] if a["inference_s"] else None} for name, a in sorted(self.actors.items())}
        return {"engine": "ray", "address": self.address or "local", "nodes": self.nodes, "resources": self.resources, "inference_workers": self.inference_workers,
                "gpus_per_worker": self.gpus_per_worker, "cpus_per_decoder": self.cpus_per_decoder, "actors": actors}


def pack_model(path: str) -> tuple[str, dict[str, bytes]]:
    """A model as the driver loaded it, for actors on any node: its name and its files' bytes (an
    .onnx or .zip file; a submission folder's files, hidden ones and caches left out)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in f.relative_to(p).parts))
        return p.name, {f.relative_to(p).as_posix(): f.read_bytes() for f in files}
    return p.name, {"": p.read_bytes()}


def unpack_model(packed: tuple[str, dict[str, bytes]], root: Path) -> str:
    """Write a packed model under ``root``; the path to load it from."""
    name, files = packed
    target = root / name
    for rel, data in files.items():
        out = target / rel if rel else target
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    return str(target)


def _absorb(views, cache: list) -> None:
    for view, counted in zip(views.views, cache):
        if counted is not None and view.cache is not None:
            view.cache.stats.absorb(*counted)


def _explained(exc: Exception) -> Exception:
    """A BenchError raised inside a task or actor (a model an actor cannot load, CUDA that does
    not run there) as the one-line error it is; anything else as it came."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BenchError):
            return BenchError(str(current))
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else (current.__cause__ or current.__context__)
    return exc
