"""Worker threads fill preallocated ``uint8`` batch buffers while the sessions run the previous
batch.

Batches are composed in a fixed order (the order of the sample stream), never in the order
workers finish: sample ``i`` always lands in batch ``i // B``, slot ``i % B``. The last batch is
padded with zeros to the full size (the padding is discarded after inference). A bounded queue of
``prefetch`` batches and ``prefetch + 2`` buffer sets keep memory fixed whatever the dataset size.

A batch has one buffer per *view* (a preprocessing: a model's size, the robustness pass), all
filled from one decode of each sample; ``prepare(ref, slots)`` gets one slot per view.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bench.data.sources import SampleRef

_DONE = object()


@dataclass
class Outcome:
    """What preparing one sample gave: timings, and the data error if there was one."""

    decode_s: float = 0.0
    preprocess_s: float = 0.0
    error_stage: str | None = None
    error: str | None = None
    frames: list[int] | None = None  # the clip's frame indices used (video)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Batch:
    index: int
    buffers: list[np.ndarray]  # one (B, ...) uint8 array per view; rows past len(refs) are padding
    refs: list[SampleRef]
    outcomes: list[Outcome] = field(default_factory=list)
    wait_s: float = 0.0  # how long the consumer waited for this batch's data

    @property
    def size(self) -> int:
        return len(self.refs)


Prepare = Callable[[SampleRef, list[np.ndarray]], Outcome]


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Pipeline:
    """Iterate over ready batches of ``samples``, prepared by ``prepare(ref, slots)`` in ``workers``
    threads, one buffer per entry of ``batch_shapes`` (all with the same batch size). Use as a
    context manager (or call ``close``) so threads stop if the consumer does."""

    def __init__(self, samples: Iterable[SampleRef], prepare: Prepare, batch_shapes: list[tuple[int, ...]], workers: int = 2, prefetch: int = 2):
        if len({shape[0] for shape in batch_shapes}) != 1:
            raise ValueError(f"Expected one batch size for every view, but got shapes {batch_shapes}")
        self.samples = samples
        self.prepare = prepare
        self.batch_size = batch_shapes[0][0]
        self.prefetch = max(1, prefetch)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="bench-prep")
        self._free: queue.Queue[list[np.ndarray]] = queue.Queue()
        for _ in range(self.prefetch + 2):
            self._free.put([np.zeros(shape, dtype=np.uint8) for shape in batch_shapes])
        self._ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        self._stop = threading.Event()
        self._producer = threading.Thread(target=self._produce, name="bench-batcher", daemon=True)
        self._started = False

    def __enter__(self) -> Pipeline:
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
            index = 0
            refs: list[SampleRef] = []
            for ref in self.samples:
                refs.append(ref)
                if len(refs) == self.batch_size:
                    if not self._submit(index, refs):
                        return
                    index, refs = index + 1, []
            if refs:
                self._submit(index, refs)
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it in its thread
            self._put(_Failure(exc))

    def _submit(self, index: int, refs: list[SampleRef]) -> bool:
        buffers = self._take_buffers()
        if buffers is None:
            return False
        if len(refs) < self.batch_size:
            for buffer in buffers:
                buffer[len(refs) :] = 0
        futures: list[Future] = [self._pool.submit(self.prepare, ref, [b[slot] for b in buffers]) for slot, ref in enumerate(refs)]
        return self._put((Batch(index, buffers, refs), futures))

    def __iter__(self) -> Iterator[Batch]:
        if self._started:
            raise RuntimeError("a Pipeline can be iterated once")
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
