"""Geometry and augmentation: pure functions of (array, parameters, seed).

Geometry (SPEC section 2, steps 2-3) has two named routes that give the same picture but not the
same pixels; ``crop-resize`` is the default because it is what the public benchmark computes.
Augmentation goes through albumentations, kept behind this module so it can be replaced.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench.errors import BenchError

GEOMETRIES = ("crop-resize", "resize-crop")
INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "bilinear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
    "bicubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}
AUGMENT_LEVELS = (0, 1, 2, 3)
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # else importing albumentations asks PyPI for a newer version


def interpolation_flag(name: str) -> int:
    """OpenCV flag for an interpolation name (``linear`` is the default everywhere)."""
    try:
        return INTERPOLATIONS[name]
    except KeyError:
        raise BenchError(
            f"unknown interpolation {name!r}; use one of: {', '.join(sorted(INTERPOLATIONS))}"
        ) from None


def crop_box(h: int, w: int, height: int, width: int) -> tuple[int, int, int, int]:
    """The ``crop-resize`` window ``(top, left, rows, cols)`` of an ``h x w`` image.

    With ``s = min(h/H, w/W)``: ``rows = min(round(s*H), h)``, ``cols = min(round(s*W), w)``, at
    offsets ``((h-rows)//2, (w-cols)//2)``. The window has the target's aspect ratio.
    """
    s = min(h / height, w / width)
    rows = max(1, min(round(s * height), h))
    cols = max(1, min(round(s * width), w))
    return (h - rows) // 2, (w - cols) // 2, rows, cols


def crop_resize(image: np.ndarray, height: int, width: int, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Centre crop to the target aspect ratio, then one resize to ``width x height``."""
    top, left, rows, cols = crop_box(image.shape[0], image.shape[1], height, width)
    window = image[top : top + rows, left : left + cols]
    if window.shape[0] == height and window.shape[1] == width:
        return np.ascontiguousarray(window)
    return cv2.resize(window, (width, height), interpolation=interpolation)


def resize_crop(image: np.ndarray, height: int, width: int, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Scale the shortest edge (``s = max(H/h, W/w)``, rounded, never below H, W), then centre crop."""
    h, w = image.shape[:2]
    s = max(height / h, width / w)
    new_h = max(round(h * s), height)
    new_w = max(round(w * s), width)
    if (new_h, new_w) != (h, w):
        image = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    top = (new_h - height) // 2
    left = (new_w - width) // 2
    return np.ascontiguousarray(image[top : top + height, left : left + width])


def fit(image: np.ndarray, height: int, width: int, geometry: str = "crop-resize", interpolation: str = "linear") -> np.ndarray:
    """Resize and centre crop an HWC image to exactly ``height x width`` by the named geometry."""
    flag = interpolation_flag(interpolation)
    if geometry == "crop-resize":
        return crop_resize(image, height, width, flag)
    if geometry == "resize-crop":
        return resize_crop(image, height, width, flag)
    raise BenchError(f"unknown geometry {geometry!r}; use one of: {', '.join(GEOMETRIES)}")


def sample_seed(run_seed: int, dataset: str, sample_id: str) -> int:
    """Per-sample augmentation seed ``f(run_seed, dataset, sample_id)``: stable across runs,
    processes, thread schedules and models (a keyed hash, not Python's salted ``hash``)."""
    text = f"{run_seed}\x1f{dataset}\x1f{sample_id}".encode("utf-8", "surrogatepass")  # names that are not UTF-8 too
    digest = hashlib.blake2b(text, digest_size=4).digest()
    return int.from_bytes(digest, "little")


def _preset(level: int) -> list:
    import albumentations as A

    flips = [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
    if level == 1:
        return flips
    mild_colour = [
        A.ColorJitter(brightness=0.0, contrast=(0.8, 1.2), saturation=(0.8, 1.2), hue=0.0, p=0.5),
    ]
    if level == 2:
        return flips + mild_colour
    strong_colour = [
        A.ColorJitter(brightness=0.0, contrast=(0.7, 1.3), saturation=(0.7, 1.3), hue=0.0, p=0.6),
    ]
    noise_blur = [
        A.GaussNoise(std_range=(0.02, 0.08), p=0.5),
        A.GaussianBlur(blur_limit=(3, 7), sigma_limit=(0.3, 1.5), p=0.5),
    ]
    return flips + strong_colour + noise_blur


class Augmenter:
    """Seeded augmentation: ``augmenter(image, seed)`` gives the same output for the same seed,
    whichever thread calls it. Each thread holds its own albumentations pipeline, re-seeded per
    sample, so no random state is shared between threads.

    A pipeline file is tried first on a probe, a random ``uint8`` image of ``size`` (the model's
    H, W; a typical small size when not given) and a clip of it: a transform that changes the
    pixels' shape or dtype is refused."""

    def __init__(self, level: int = 0, pipeline_file: str | None = None, size: tuple[int, int] = (64, 64)):
        if level not in AUGMENT_LEVELS:
            raise BenchError(f"augment level must be one of 0, 1, 2, 3, got {level!r}")
        if pipeline_file is not None and not Path(pipeline_file).is_file():
            raise BenchError(f"augmentation pipeline file not found: {pipeline_file}; give a path to a saved albumentations pipeline (.json or .yaml)")
        self.level = level
        self.pipeline_file = pipeline_file
        self._local = threading.local()
        if pipeline_file is not None:
            self._probe(size)  # fail early, in the caller's thread, on a bad pipeline file
        elif self.enabled:
            self._compose()

    @property
    def enabled(self) -> bool:
        return self.level > 0 or self.pipeline_file is not None

    def describe(self) -> str:
        return f"pipeline file {self.pipeline_file}" if self.pipeline_file else f"level {self.level}"

    def _load(self):
        """A fresh copy of the pipeline file's transforms."""
        import albumentations as A

        path = str(self.pipeline_file)
        try:
            return A.load(path, data_format="yaml" if path.endswith((".yaml", ".yml")) else "json")
        except Exception as exc:  # albumentations raises many types for a bad file
            raise BenchError(f"cannot load augmentation pipeline {path}: {exc}; save it with albumentations.save()") from None

    def __getstate__(self) -> dict:
        """Sent to another process (a Ray decode task): each thread there builds its own pipeline."""
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def _compose(self) -> Callable:
        compose = getattr(self._local, "compose", None)
        if compose is None:
            import albumentations as A

            compose = A.Compose([self._load()] if self.pipeline_file else _preset(self.level), seed=0)
            self._local.compose = compose
        return compose

    def _probe(self, size: tuple[int, int]) -> None:
        """Every transform of the file alone, made to fire (p=1), then the whole pipeline, under
        a few seeds, on a probe image and a clip of it: each output must keep the input's shape and
        ``uint8``. A one-line ``BenchError`` names the first transform that does not."""
        image = np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)
        clip = np.stack([image] * 3)
        leaves = _leaves(self._load())
        for leaf in leaves:
            leaf.p = 1.0
        runs = [(type(t).__name__, _seeding(t)) for t in leaves] + [("the pipeline", self._seeded)]
        for name, seeded in runs:
            for seed in range(4):
                for sample, target in ((image, "image"), (clip, "images")):
                    try:
                        out = np.asarray(seeded(seed)(**{target: sample})[target])
                    except Exception as exc:  # whatever the transform raises on plain pixels
                        wrong = f"fails on a {_desc(sample)} probe ({' '.join(str(exc).split())[:200]})"
                    else:
                        if out.shape == sample.shape and out.dtype == np.uint8:
                            continue
                        wrong = f"turns a {_desc(sample)} probe into {_desc(out)}"
                    raise BenchError(
                        f"augmentation pipeline {self.pipeline_file}: {name} {wrong}; augmentation runs at model resolution on "
                        f"uint8 pixels: remove {name} (the harness resizes and crops, the model normalises itself)"
                    )

    def _seeded(self, seed: int) -> Callable:
        """The thread's pipeline, re-seeded: one generator shared by all its transforms.

        albumentations' own ``set_random_seed`` seeds each transform's generator alike, so every
        transform draws the same numbers (both flips fire together, or neither): correlated
        augmentation. ``set_random_state`` shares one stream, drawn in sequence, instead."""
        compose = self._compose()
        compose.set_random_state(np.random.default_rng(seed), random.Random(seed))
        return compose

    def __call__(self, image: np.ndarray, seed: int) -> np.ndarray:
        if not self.enabled:
            return image
        return np.ascontiguousarray(self._seeded(seed)(image=image)["image"])

    def frames(self, frames: np.ndarray, seed: int) -> np.ndarray:
        """Augment a clip ``(T, H, W, 3)`` with one set of parameters for all its frames."""
        if not self.enabled:
            return frames
        return np.ascontiguousarray(self._seeded(seed)(images=frames)["images"])


def _leaves(transform) -> list:
    """The transforms of a pipeline, inside every Compose, OneOf, Sequential..., in order."""
    from albumentations.core.composition import BaseCompose

    if not isinstance(transform, BaseCompose):
        return [transform]
    return [leaf for t in transform.transforms for leaf in _leaves(t)]


def _seeding(transform) -> Callable[[int], Callable]:
    """``seeded(seed)``: the transform with its random state set from ``seed``."""

    def seeded(seed: int) -> Callable:
        transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
        return transform

    return seeded


def _desc(pixels: np.ndarray) -> str:
    return f"{'x'.join(map(str, pixels.shape))} {pixels.dtype}"


# --------------------------------------------------------------------------- audio augmentation

# level -> ((gain range in dB, probability), (SNR range in dB of added white noise, probability))
AUDIO_PRESETS: dict[int, tuple[tuple[tuple[float, float], float], tuple[tuple[float, float], float] | None]] = {
    1: (((-6.0, 6.0), 0.5), None),
    2: (((-6.0, 6.0), 0.5), ((20.0, 40.0), 0.5)),
    3: (((-10.0, 10.0), 0.8), ((10.0, 30.0), 0.8)),
}


class AudioAugmenter:
    """Seeded waveform augmentation: ``augmenter(wave, seed)`` is a pure function of the wave and
    the sample's seed. Per level (``AUDIO_PRESETS``): a gain drawn uniformly in dB, and white
    Gaussian noise at an SNR drawn uniformly in dB against the window's mean power (a silent window
    gets none), each applied with its probability; the result is clipped to [-1, 1], as a
    recording chain would. The draws come in a fixed order whatever fires, so one seed always
    means the same parameters. Albumentations pipelines are for pixels: a file is refused."""

    def __init__(self, level: int = 0, pipeline_file: str | None = None):
        if level not in AUGMENT_LEVELS:
            raise BenchError(f"augment level must be one of 0, 1, 2, 3, got {level!r}")
        if pipeline_file is not None:
            raise BenchError(f"augment_pipeline {pipeline_file} is an albumentations pipeline, for images and video; audio takes --augment-level 1-3 (gain, noise at an SNR)")
        self.level = level

    @property
    def enabled(self) -> bool:
        return self.level > 0

    def describe(self) -> str:
        if not self.enabled:
            return "level 0"
        (gain, p_gain), noise = AUDIO_PRESETS[self.level]
        parts = [f"gain {gain[0]:+g}..{gain[1]:+g} dB p={p_gain:g}"]
        if noise is not None:
            parts.append(f"white noise SNR {noise[0][0]:g}..{noise[0][1]:g} dB p={noise[1]:g}")
        return f"level {self.level} ({', '.join(parts)})"

    def __call__(self, wave: np.ndarray, seed: int) -> np.ndarray:
        if not self.enabled:
            return wave
        (gain, p_gain), noise = AUDIO_PRESETS[self.level]
        rng = np.random.default_rng(seed)
        fire_gain, gain_db = rng.random() < p_gain, rng.uniform(*gain)
        fire_noise, snr_db = (rng.random() < noise[1], rng.uniform(*noise[0])) if noise else (False, 0.0)
        out = wave.astype(np.float64)
        if fire_gain:
            out *= 10.0 ** (gain_db / 20.0)
        power = float(np.mean(out**2)) if len(out) else 0.0
        if fire_noise and power > 0:
            out += rng.standard_normal(len(out)) * np.sqrt(power / 10.0 ** (snr_db / 10.0))
        return np.clip(out, -1.0, 1.0).astype(np.float32)
