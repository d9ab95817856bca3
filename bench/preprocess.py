"""One sample, from its bytes to its slot in a batch buffer: read -> decode -> geometry ->
augment -> CHW (SPEC section 2). Runs in worker threads; OpenCV releases the GIL."""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from bench.data.decode import DataError, decode_image, read_bytes
from bench.data.sources import SampleRef
from bench.pipeline import Outcome
from bench.transforms import Augmenter, fit, sample_seed, to_chw


@dataclass(frozen=True)
class Preprocessor:
    """Everything that decides the pixels a model sees; written into every result."""

    height: int
    width: int
    geometry: str
    interpolation: str
    seed: int
    augmenter: Augmenter

    def seed_for(self, ref: SampleRef) -> int:
        return sample_seed(self.seed, ref.dataset, ref.sample_id)

    def transform(self, rgb: np.ndarray, seed: int) -> np.ndarray:
        try:
            out = fit(rgb, self.height, self.width, self.geometry, self.interpolation)
            return self.augmenter(out, seed)
        except cv2.error as exc:
            raise DataError("preprocess", f"OpenCV failed on a {rgb.shape[1]}x{rgb.shape[0]} image: {str(exc).strip().splitlines()[-1][:200]}") from None

    def __call__(self, ref: SampleRef, slot: np.ndarray) -> Outcome:
        """Fill ``slot`` (a ``(3, H, W)`` view of the batch buffer); zeros and an error on failure."""
        start = time.perf_counter()
        try:
            data = ref.data if ref.data is not None else read_bytes(ref.path)
            rgb = decode_image(data)
        except DataError as exc:
            slot[...] = 0
            return Outcome(decode_s=time.perf_counter() - start, error_stage=exc.stage, error=exc.reason)
        decoded = time.perf_counter()
        try:
            to_chw(self.transform(rgb, self.seed_for(ref)), out=slot)
        except DataError as exc:
            slot[...] = 0
            return Outcome(decoded - start, time.perf_counter() - decoded, exc.stage, exc.reason)
        return Outcome(decode_s=decoded - start, preprocess_s=time.perf_counter() - decoded)

    def describe(self) -> dict:
        return {
            "height": self.height,
            "width": self.width,
            "geometry": self.geometry,
            "interpolation": self.interpolation,
            "augmentation": self.augmenter.describe(),
            "seed": self.seed,
            "layout": "NCHW uint8 RGB",
        }
