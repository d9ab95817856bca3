"""One sample, from its source to its slots in the batch buffers (SPEC section 2):
read -> decode (image, or the clip's sampled frames) -> [robustness chain] -> geometry ->
augment -> CHW / TCHW. Runs in worker threads; OpenCV and FFmpeg release the GIL."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import cv2
import numpy as np

from bench.cache import SampleCache, source_identity
from bench.data.decode import DataError, decode_image, read_bytes
from bench.data.sources import SampleRef
from bench.data.video import FrameRule, decode_clip
from bench.errors import BenchError
from bench.pipeline import Outcome
from bench.robustness import image_chain, video_chain
from bench.transforms import Augmenter, fit, sample_seed


@dataclass(frozen=True)
class Preprocessor:
    """One view: everything that decides the pixels a model sees; written into every result.

    ``frame_rule`` is set for video models (slots ``(T, 3, H, W)``), None for images (``(3, H, W)``).
    ``robust`` applies the redistribution chain (bench/robustness.py) before geometry."""

    height: int
    width: int
    geometry_name: str
    interpolation: str
    seed: int
    augmenter: Augmenter
    frame_rule: FrameRule | None = None
    robust: bool = False
    fast_decode: bool = False  # JPEG decoded at reduced DCT scale, never below H x W (opt-in)
    cache: SampleCache | None = None

    def batch_shape(self, batch: int) -> tuple[int, ...]:
        if self.frame_rule is None:
            return (batch, 3, self.height, self.width)
        return (batch, self.frame_rule.frames, 3, self.height, self.width)

    def seed_for(self, ref: SampleRef) -> int:
        return sample_seed(self.seed, ref.dataset, ref.sample_id)

    def decode(self, ref: SampleRef, min_size: tuple[int, int] | None = None) -> tuple[np.ndarray, list[int] | None, float | None]:
        """RGB ``(h, w, 3)`` for an image; ``(T, h, w, 3)``, the frame indices and fps for a clip.

        With ``fast_decode``, a JPEG is decoded at reduced scale, never below ``min_size``
        (default: this view's H x W)."""
        if self.frame_rule is None:
            data = ref.data if ref.data is not None else read_bytes(ref.path)
            return decode_image(data, (min_size or (self.height, self.width)) if self.fast_decode else None), None, None
        if ref.data is None and not os.path.isfile(ref.path):
            raise DataError("read", f"cannot read {ref.path}: no such file")
        clip = decode_clip(ref.data if ref.data is not None else ref.path, self.frame_rule)
        return clip.frames, clip.indices, clip.fps

    def degrade(self, pixels: np.ndarray, fps: float | None) -> np.ndarray:
        """The robustness chain, at native resolution (identity for the base view)."""
        if not self.robust:
            return pixels
        try:
            return image_chain(pixels) if pixels.ndim == 3 else video_chain(pixels, fps)
        except (cv2.error, ValueError, OSError) as exc:
            raise DataError("robustness", f"the redistribution chain failed: {str(exc).strip().splitlines()[-1][:200]}") from None

    def geometry(self, pixels: np.ndarray) -> np.ndarray:
        """Resize and centre crop an image ``(h, w, 3)`` or each frame of a clip ``(T, h, w, 3)``."""
        try:
            if pixels.ndim == 3:
                return fit(pixels, self.height, self.width, self.geometry_name, self.interpolation)
            return np.stack([fit(f, self.height, self.width, self.geometry_name, self.interpolation) for f in pixels])
        except cv2.error as exc:
            h, w = pixels.shape[-3:-1]
            raise DataError("preprocess", f"OpenCV failed on a {w}x{h} image: {str(exc).strip().splitlines()[-1][:200]}") from None

    def finish(self, fitted: np.ndarray, seed: int) -> np.ndarray:
        """Augment (one parameter set for all frames of a clip) and lay out as CHW / TCHW."""
        if fitted.ndim == 3:
            return self.augmenter(fitted, seed).transpose(2, 0, 1)
        return self.augmenter.frames(fitted, seed).transpose(0, 3, 1, 2)

    def describe(self) -> dict:
        out = {
            "height": self.height,
            "width": self.width,
            "geometry": self.geometry_name,
            "interpolation": self.interpolation,
            "augmentation": self.augmenter.describe(),
            "seed": self.seed,
            "fast_decode": self.fast_decode,
            "layout": "NCHW uint8 RGB" if self.frame_rule is None else "NTCHW uint8 RGB",
        }
        if self.frame_rule is not None:
            out |= self.frame_rule.describe()
        return out

    def cache_params(self) -> dict:
        """What shapes the cached pixels (augmentation and seed do not: they come after)."""
        params = {"height": self.height, "width": self.width, "geometry": self.geometry_name, "interpolation": self.interpolation, "robust": self.robust, "fast_decode": self.fast_decode}
        return params | (self.frame_rule.describe() if self.frame_rule else {})


class Views:
    """Several views of each sample from one decode: one per distinct model input, and the
    robustness pass. ``views(ref, slots)`` fills one slot per view (zeros and a data error for
    all of them when the sample cannot be read). Views must share how clips are sampled."""

    def __init__(self, views: list[Preprocessor]):
        if len({(v.frame_rule, v.fast_decode) for v in views}) != 1:
            rules = sorted({str(v.frame_rule) for v in views})
            raise BenchError(f"these models need different frame sampling ({'; '.join(rules)}); score them in separate runs and `bench compare` the results")
        self.views = views
        self.min_size = (max(v.height for v in views), max(v.width for v in views))  # one decode serves every view

    def __len__(self) -> int:
        return len(self.views)

    def fitted(self, ref: SampleRef) -> tuple[list[np.ndarray], list[int] | None]:
        """Every view's pixels after geometry: from the cache where it has them, else from one
        decode (raises ``DataError``)."""
        cached = any(v.cache is not None for v in self.views)
        identity = source_identity(ref) if cached else None  # one stat or hash for every view
        keys = [v.cache.key(identity) if v.cache is not None and identity is not None else None for v in self.views]
        fitted: list[np.ndarray | None] = [None] * len(self.views)
        frames = None
        for i, (view, key) in enumerate(zip(self.views, keys)):
            hit = view.cache.get(key) if key is not None else None
            if hit is not None:
                fitted[i], frames = hit
        missing = [i for i, f in enumerate(fitted) if f is None]
        if missing:
            pixels, frames, fps = self.views[0].decode(ref, self.min_size)
            degraded = None
            for i in missing:
                view = self.views[i]
                if view.robust and degraded is None:
                    degraded = view.degrade(pixels, fps)
                fitted[i] = view.geometry(degraded if view.robust else pixels)
                if keys[i] is not None:
                    view.cache.put(keys[i], fitted[i], frames)
        return fitted, frames

    def __call__(self, ref: SampleRef, slots: list[np.ndarray]) -> Outcome:
        """``decode_s`` covers reading, decoding, the robustness chain and geometry (or the cache
        reads that replace them); ``preprocess_s`` covers augmentation and the copy into the batch."""
        start = time.perf_counter()
        try:
            fitted, frames = self.fitted(ref)
        except DataError as exc:
            for slot in slots:
                slot[...] = 0
            return Outcome(decode_s=time.perf_counter() - start, error_stage=exc.stage, error=exc.reason)
        decoded = time.perf_counter()
        seed = self.views[0].seed_for(ref)
        for view, slot, pixels in zip(self.views, slots, fitted):
            slot[...] = view.finish(pixels, seed)
        return Outcome(decoded - start, time.perf_counter() - decoded, frames=frames)
