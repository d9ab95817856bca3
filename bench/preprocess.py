"""Several views of each sample from one decode: one per distinct model input, and the
robustness pass. ``Views(ref, slots)`` fills one batch slot per view and says how it went; the
modality's view (bench/modalities/) does the decoding, geometry and layout."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from bench.cache import SampleCache, default_cache_dir, source_identity
from bench.data.decode import DataError
from bench.errors import BenchError


@dataclass
class Outcome:
    """What preparing one sample gave: timings, and how it failed if it did.

    ``error_stage``/``error`` (and ``ok``) are the sample's own failure -- reading or decoding --
    which every view shares. A view can also fail on its own after the shared decode (the
    robustness chain of the robust view, one model's geometry): ``view_errors[i]`` then holds
    ``(stage, reason)`` for view ``i`` while the other views stay good. ``error_for(i)`` is the
    one question a record asks: how did view ``i`` fail, if it did."""

    decode_s: float = 0.0
    preprocess_s: float = 0.0
    error_stage: str | None = None
    error: str | None = None
    frames: list[int] | None = None  # the clip's frame indices used (video)
    view_errors: list[tuple[str, str] | None] = field(default_factory=list)  # per view, after a good decode

    @property
    def ok(self) -> bool:
        """The sample was read and decoded (each view may still have failed: ``error_for``)."""
        return self.error is None

    def error_for(self, view_index: int) -> tuple[str, str] | None:
        """``(stage, reason)`` when view ``view_index`` has no good slot for this sample, else None."""
        if self.error is not None:
            return (self.error_stage or "decode", self.error)
        return self.view_errors[view_index] if view_index < len(self.view_errors) else None


def with_cache(view, cfg):
    """``view`` reading and writing the run's sample cache (unchanged when the cache is off)."""
    if not cfg.cache.enabled:
        return view
    cache = SampleCache(cfg.cache.dir or default_cache_dir(), int(cfg.cache.max_gb * 1e9), view.cache_params())
    return dataclasses.replace(view, cache=cache)


class Views:
    """``views(ref, slots)`` fills one slot per view: zeros and a data error for all of them when
    the sample cannot be read or decoded, zeros and that view's error for a view that fails on its
    own (``Outcome.error_for``). Views must share how samples are decoded (``decode_key``)."""

    def __init__(self, views: list):
        if len({v.decode_key() for v in views}) != 1:
            rules = sorted({str(v.decode_key()) for v in views})
            raise BenchError(f"these models need different decoding ({'; '.join(rules)}); score them in separate runs and `bench compare` the results")
        self.views = views
        sizes = [v.min_size for v in views if v.min_size is not None]  # None: a view without a picture (audio)
        self.min_size = (max(s[0] for s in sizes), max(s[1] for s in sizes)) if sizes else None  # one decode serves every view

    def __len__(self) -> int:
        return len(self.views)

    def __getitem__(self, i: int):
        return self.views[i]

    def shapes(self, batch: int) -> list[tuple[int, ...]]:
        return [v.batch_shape(batch) for v in self.views]

    def dtypes(self) -> list[np.dtype]:
        """Each view's batch buffer dtype (``View.dtype``: uint8 pixels, float32 waveforms)."""
        return [np.dtype(v.dtype) for v in self.views]

    def fitted(self, ref) -> tuple[list[np.ndarray | None], list[int] | None, list[tuple[str, str] | None]]:
        """Every view's media after geometry, the frames used, and each view's own failure: from
        the cache where it has them, else from one decode. A decode failure raises ``DataError``
        (it is every view's); a view that fails after it (the robustness chain, its geometry)
        gets ``None`` media and its ``(stage, reason)``, and the others are unaffected. A sample
        its source marked (``ref.problem``: a FIFO, a path outside the source) is never opened."""
        if ref.problem is not None:
            raise DataError("read", ref.problem)
        cached = any(v.cache is not None for v in self.views)
        identity = source_identity(ref) if cached else None  # one stat or hash for every view
        keys = [v.cache.key(identity) if v.cache is not None and identity is not None else None for v in self.views]
        fitted: list[np.ndarray | None] = [None] * len(self.views)
        errors: list[tuple[str, str] | None] = [None] * len(self.views)
        frames = None
        for i, (view, key) in enumerate(zip(self.views, keys)):
            hit = view.cache.get(key) if key is not None else None
            if hit is not None:
                fitted[i], frames = hit
        missing = [i for i, f in enumerate(fitted) if f is None]
        if missing:
            media, frames, fps = self.views[0].decode(ref, self.min_size)
            degraded = None  # the robust views share one run of the chain: its output or its failure
            for i in missing:
                view = self.views[i]
                if view.robust and degraded is None:
                    degraded = _attempt(view.degrade, media, fps)
                source = degraded if view.robust else media
                result = source if isinstance(source, tuple) else _attempt(view.geometry, source)
                if isinstance(result, tuple):
                    errors[i] = result
                    continue
                fitted[i] = result
                if keys[i] is not None:
                    view.cache.put(keys[i], result, frames)
        return fitted, frames, errors

    def __call__(self, ref, slots: list[np.ndarray]) -> Outcome:
        """``decode_s`` covers reading, decoding, the robustness chain and geometry (or the cache
        reads that replace them); ``preprocess_s`` covers augmentation and the copy into the batch.
        A slot without media (its view failed) is zeros."""
        start = time.perf_counter()
        try:
            fitted, frames, errors = self.fitted(ref)
        except DataError as exc:
            for slot in slots:
                slot[...] = 0
            return Outcome(decode_s=time.perf_counter() - start, error_stage=exc.stage, error=exc.reason)
        decoded = time.perf_counter()
        seed = self.views[0].seed_for(ref)
        for view, slot, media in zip(self.views, slots, fitted):
            if media is None:
                slot[...] = 0
            else:
                slot[...] = view.finish(media, seed)
        return Outcome(decoded - start, time.perf_counter() - decoded, frames=frames, view_errors=errors)


def _attempt(step, *args) -> np.ndarray | tuple[str, str]:
    """``step(*args)``, or the ``(stage, reason)`` of the ``DataError`` it raised."""
    try:
        return step(*args)
    except DataError as exc:
        return (exc.stage, exc.reason)
