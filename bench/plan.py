"""Batches planned from the sample stream, before any media is read: which samples go together,
in a fixed order. Sample ``i`` of the run always lands in batch ``i // B``, slot ``i % B``,
whatever the number of workers or the engine; a short last batch is padded to ``B`` by the
executor (the padding is discarded after inference)."""

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
    buffers, one ``(B, ...)`` array per view; rows past ``size`` are padding."""

    index: int
    refs: tuple[SampleRef, ...]
    outcomes: list = field(default_factory=list)  # bench.preprocess.Outcome per sample
    buffers: list[np.ndarray] | None = None
    wait_s: float = 0.0  # how long the scoring loop waited for this batch's data

    @property
    def size(self) -> int:
        return len(self.refs)


def plan_batches(streams: Iterable[Iterable[SampleRef]], batch_size: int) -> Iterator[Planned]:
    """The datasets' samples in order, cut into batches of ``batch_size``."""
    samples = itertools.chain.from_iterable(streams)
    for index in itertools.count():
        refs = tuple(itertools.islice(samples, batch_size))
        if not refs:
            return
        yield Planned(index, refs)
