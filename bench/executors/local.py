"""The local executor: worker threads fill preallocated batch buffers while the scoring thread
runs the previous batch through each model.

Batches come planned (bench/plan.py): their composition never depends on which worker finishes
first. A bounded queue of ``prefetch`` batches and ``prefetch + 2`` buffer sets keep memory fixed
whatever the dataset size. OpenCV, libjpeg-turbo and FFmpeg release the GIL, so threads scale.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from bench.executors import Inference, Job, infer
from bench.plan import Batch, Planned

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Prepared:
    """Iterate over ready batches: each planned batch's samples prepared by ``prepare(ref,
    slots)`` in ``workers`` threads, one buffer per entry of ``shapes``. Use as a context
    manager (or call ``close``) so threads stop if the consumer does."""

    def __init__(self, batches: Iterable[Planned], prepare, shapes: list[tuple[int, ...]], workers: int = 2, prefetch: int = 2, dtypes: list | None = None):
        if len({shape[0] for shape in shapes}) != 1:
            raise ValueError(f"Expected one batch size for every view, but got shapes {shapes}")
        self.batches = batches
        self.prepare = prepare
        self.batch_size = shapes[0][0]
        self.prefetch = max(1, prefetch)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="bench-prep")
        self._free: queue.Queue[list[np.ndarray]] = queue.Queue()
        for _ in range(self.prefetch + 2):
            self._free.put([np.zeros(shape, dtype=dtype) for shape, dtype in zip(shapes, dtypes or [np.uint8] * len(shapes))])
        self._ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        self._stop = threading.Event()
        self._producer = threading.Thread(target=self._produce, name="bench-batcher", daemon=True)
        self._started = False

    def __enter__(self) -> Prepared:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _take_buffers(self) -> list[np.ndarray] | None:
        while not self._stop.is_set():
            try:
                return self._free.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _produce(self) -> None:
        try:
            for planned in self.batches:
                if not self._submit(planned):
                    return
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it in its thread
            self._put(_Failure(exc))

    def _submit(self, planned: Planned) -> bool:
        buffers = self._take_buffers()
        if buffers is None:
            return False
        if planned.size < self.batch_size:  # padding rows are zeros when a runtime is fed them
            for buffer in buffers:
                buffer[planned.size :] = 0
        futures: list[Future] = [self._pool.submit(self.prepare, ref, [b[slot] for b in buffers]) for slot, ref in enumerate(planned.refs)]
        return self._put((Batch(planned.index, planned.refs, buffers=buffers), futures))

    def __iter__(self) -> Iterator[Batch]:
        if self._started:
            raise RuntimeError("prepared batches can be iterated once")
        self._started = True
        self._producer.start()
        try:
            while True:
                start = time.perf_counter()
                item = self._ready.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                batch, futures = item
                batch.outcomes = [f.result() for f in futures]
                batch.wait_s = time.perf_counter() - start
                yield batch
                self._free.put(batch.buffers)
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._producer.is_alive():
            self._producer.join(timeout=5)


class LocalExecutor:
    """Threads on this machine; every job's runtime runs on the scoring thread, batch by batch."""

    def __init__(self, workers: int = 2, prefetch: int = 2, batch_size: int = 16, pad: bool = False):
        self.workers = workers
        self.prefetch = prefetch
        self.batch_size = batch_size
        self.pad = pad

    def describe(self) -> dict:
        return {"engine": "local", "workers": self.workers}

    def run(self, batches: Iterable[Planned], views, jobs: list[Job]) -> Iterator[tuple[Batch, list[Inference]]]:
        with Prepared(batches, views, views.shapes(self.batch_size), self.workers, self.prefetch, views.dtypes()) as prepared:
            for batch in prepared:
                yield batch, [infer(job.runtime, batch.buffers[job.view], [o.error_for(job.view) is None for o in batch.outcomes], self.pad) for job in jobs]
