"""Batches planned from the datasets, before any media is read, as the leaderboard forms them:
each dataset is batched on its own (a batch never mixes datasets), and a dataset's last batch
runs at its true size. The order within a dataset is the source's (default) or a shuffle seeded
by the run seed, never the order in which workers finish, so every grouping is one the
leaderboard can produce and a batch-dependent model scores the same in every run.

``pad`` (``pad_batches``) keeps round 1's fixed shape for runtimes that need one: the executor
then fills a short batch up to ``B`` with zero rows, whose outputs are discarded."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from bench.data.refs import SampleRef


@dataclass(frozen=True)
class Planned:
    """One batch to prepare and score: its index in the run and its samples, in slot order."""

    index: int
    refs: tuple[SampleRef, ...]

    @property
    def size(self) -> int:
        return len(self.refs)


@dataclass
class Batch:
    """A prepared batch: the planned samples, how preparing each went, and (local engine) the
    buffers, one ``(B, ...)`` array per view; rows past ``size`` are never fed unless padded."""

    index: int
    refs: tuple[SampleRef, ...]
    outcomes: list = field(default_factory=list)  # bench.preprocess.Outcome per sample
    buffers: list[np.ndarray] | None = None
    wait_s: float = 0.0  # how long the scoring loop waited for this batch's data
    worker: str = "local"  # what scored it: the local engine, or a Ray actor (node and process)

    @property
    def size(self) -> int:
        return len(self.refs)


def dataset_order(refs: Iterable[SampleRef], order: str, seed: int, dataset_index: int) -> Iterable[SampleRef]:
    """A dataset's samples in the run's order: as the source lists them, or shuffled by a
    generator seeded from (run seed, dataset position). Shuffling holds the dataset's sample
    references (for table sources, their bytes) in memory."""
    if order == "source":
        return refs
    items = list(refs)
    rng = np.random.default_rng([seed, dataset_index])
    return [items[i] for i in rng.permutation(len(items))]


def plan_batches(streams: Iterable[Iterable[SampleRef]], batch_size: int, order: str = "source", seed: int = 0) -> Iterator[Planned]:
    """Each dataset's samples in order, cut into batches of ``batch_size``; a dataset's last
    batch holds what is left."""
    index = 0
    for d, stream in enumerate(streams):
        samples = iter(dataset_order(stream, order, seed, d))
        while refs := tuple(itertools.islice(samples, batch_size)):
            yield Planned(index, refs)
            index += 1
