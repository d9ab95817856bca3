"""One sample, from its source to its slot in a batch buffer (SPEC section 2):
read -> decode (image, or the clip's sampled frames) -> geometry -> augment -> CHW / TCHW.
Runs in worker threads; OpenCV and FFmpeg release the GIL."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import cv2
import numpy as np

from bench.cache import SampleCache
from bench.data.decode import DataError, decode_image, read_bytes
from bench.data.sources import SampleRef
from bench.data.video import FrameRule, decode_clip
from bench.pipeline import Outcome
from bench.transforms import Augmenter, fit, sample_seed


@dataclass(frozen=True)
class Preprocessor:
    """Everything that decides the pixels a model sees; written into every result.

    ``frame_rule`` is set for video models (slots ``(T, 3, H, W)``), None for images (``(3, H, W)``)."""

    height: int
    width: int
    geometry_name: str
    interpolation: str
    seed: int
    augmenter: Augmenter
    frame_rule: FrameRule | None = None
    cache: SampleCache | None = None

    def seed_for(self, ref: SampleRef) -> int:
        return sample_seed(self.seed, ref.dataset, ref.sample_id)

    def decode(self, ref: SampleRef) -> tuple[np.ndarray, list[int] | None]:
        """RGB ``(h, w, 3)`` for an image, ``(T, h, w, 3)`` and the frame indices for a clip."""
        if self.frame_rule is None:
            return decode_image(ref.data if ref.data is not None else read_bytes(ref.path)), None
        if ref.data is None and not os.path.isfile(ref.path):
            raise DataError("read", f"cannot read {ref.path}: no such file")
        clip = decode_clip(ref.data if ref.data is not None else ref.path, self.frame_rule)
        return clip.frames, clip.indices

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

    def transform(self, pixels: np.ndarray, seed: int) -> np.ndarray:
        return self.finish(self.geometry(pixels), seed)

    def fitted(self, ref: SampleRef) -> tuple[np.ndarray, list[int] | None]:
        """Decode and geometry, through the cache when there is one (raises ``DataError``)."""
        key = self.cache.key(ref) if self.cache is not None else None
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        pixels, frames = self.decode(ref)
        fitted = self.geometry(pixels)
        if key is not None:
            self.cache.put(key, fitted, frames)
        return fitted, frames

    def __call__(self, ref: SampleRef, slot: np.ndarray) -> Outcome:
        """Fill ``slot`` (a view of the batch buffer); zeros and an error on failure.

        ``decode_s`` covers reading, decoding and geometry (or the cache read that replaces
        them); ``preprocess_s`` covers augmentation and the copy into the batch."""
        start = time.perf_counter()
        try:
            fitted, frames = self.fitted(ref)
        except DataError as exc:
            slot[...] = 0
            return Outcome(decode_s=time.perf_counter() - start, error_stage=exc.stage, error=exc.reason)
        decoded = time.perf_counter()
        slot[...] = self.finish(fitted, self.seed_for(ref))
        return Outcome(decoded - start, time.perf_counter() - decoded, frames=frames)

    def describe(self) -> dict:
        out = {
            "height": self.height,
            "width": self.width,
            "geometry": self.geometry_name,
            "interpolation": self.interpolation,
            "augmentation": self.augmenter.describe(),
            "seed": self.seed,
            "layout": "NCHW uint8 RGB" if self.frame_rule is None else "NTCHW uint8 RGB",
        }
        if self.frame_rule is not None:
            out |= self.frame_rule.describe()
        return out

    def cache_params(self) -> dict:
        """What shapes the cached pixels (augmentation and seed do not: they come after)."""
        params = {"height": self.height, "width": self.width, "geometry": self.geometry_name, "interpolation": self.interpolation}
        return params | (self.frame_rule.describe() if self.frame_rule else {})
