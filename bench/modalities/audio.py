"""Audio: ``(batch, samples)`` float32 mono PCM in about [-1, 1] (SPEC section 1c). Decoded by
FFmpeg's resampler to one channel at the sample rate (bench/data/audio.py), the crop window of
the length rule, optional redistribution chain (an MP3 and Opus round trip: ours, the leaderboard
has none), zero padding on the right, seeded gain and noise augmentation.

The length is the model's: an ONNX input's fixed length (96000 when dynamic, with the contract's
warning), a submission's ``sample_rate * duration_seconds``; the rate is 16 kHz unless a
submission's ``sample_rate`` (or ``--sample-rate``) says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.audio import RATE, SAMPLES, TIMEOUT_S
from bench.data.refs import AUDIO_EXTENSIONS
from bench.modalities import Axis, Layout, Modality, preprocessing

LAYOUT = Layout((Axis("batch", dynamic=True), Axis("samples", fixed=True, default=SAMPLES, expected=SAMPLES)), dtypes=("float32",))

AUDIO = Modality(
    name="audio",
    layout=LAYOUT,
    extensions=AUDIO_EXTENSIONS,
    view_factory="bench.modalities.audio:build_view",
    probe_factory="bench.modalities.audio:probes",
    extremes=(("silent", 0.0), ("full-scale positive", 1.0), ("full-scale negative", -1.0)),
    classes=("real", "synthetic"),
)


@dataclass(frozen=True)
class AudioView:
    """One view of a clip: everything that decides the waveform a model sees; written into every
    result. ``robust`` applies the audio redistribution chain (bench/robustness.py) to the window."""

    rate: int
    samples: int
    crop: str  # center (the leaderboard's) | random (seeded per sample)
    seed: int
    augmenter: object  # bench.transforms.AudioAugmenter
    robust: bool = False
    cache: object = None  # bench.cache.SampleCache
    timeout_s: float = TIMEOUT_S
    dtype = np.float32  # of the batch buffer (class attributes: not fields)
    min_size = None  # no picture: nothing for a shared decode to size

    def batch_shape(self, batch: int) -> tuple[int, ...]:
        return (batch, self.samples)

    def decode_key(self) -> tuple:
        return ("audio", self.rate, self.samples, self.crop, self.seed if self.crop == "random" else None)

    def seed_for(self, ref) -> int:
        from bench.transforms import sample_seed

        return sample_seed(self.seed, ref.dataset, ref.sample_id)

    def decode(self, ref, min_size=None) -> tuple[np.ndarray, list[int] | None, float | None]:
        """The crop window (at most ``samples`` float32 values), no frames, the rate."""
        from bench.data.audio import decode_clip
        from bench.data.decode import media_source

        clip = decode_clip(media_source(ref), self.rate, self.samples, self.crop, self.seed_for(ref), self.timeout_s)
        return clip.wave, None, float(self.rate)

    def degrade(self, wave: np.ndarray, rate: float | None) -> np.ndarray:
        """The audio redistribution chain on the window (identity for the base view)."""
        if not self.robust:
            return wave
        import av

        from bench.data.decode import DataError
        from bench.robustness import audio_chain

        try:
            return audio_chain(wave, self.rate)
        except av.error.FFmpegError as exc:
            raise DataError("robustness", f"the audio redistribution chain failed: {' '.join(str(exc).split())[:200]}") from None

    def geometry(self, wave: np.ndarray) -> np.ndarray:
        """The length rule's padding: exactly ``samples``, zeros on the right."""
        from bench.data.audio import fit_length

        return fit_length(wave, self.samples)

    def finish(self, fitted: np.ndarray, seed: int) -> np.ndarray:
        return self.augmenter(fitted, seed)

    def describe(self) -> dict:
        return {
            "sample_rate": self.rate,
            "samples": self.samples,
            "seconds": self.samples / self.rate,
            "crop": self.crop,
            "augmentation": self.augmenter.describe(),
            "seed": self.seed,
            "decode_timeout_s": self.timeout_s,
            "decoder": "FFmpeg (PyAV): best audio stream, libswresample to mono float32",
            "layout": "NS float32 mono PCM",
        }

    def cache_params(self) -> dict:
        """What shapes the cached window (augmentation does not; a random crop's seed does)."""
        return {"modality": "audio", "sample_rate": self.rate, "samples": self.samples, "crop": self.crop, "robust": self.robust,
                "crop_seed": self.seed if self.crop == "random" else None}

    def share_key(self) -> tuple:
        """Models whose views have the same key share one buffer."""
        return ("audio", self.rate, self.samples, self.crop, self.robust)


def build_view(spec, cfg, robust: bool = False) -> AudioView:
    from bench.messages import warn
    from bench.transforms import AudioAugmenter

    p = cfg.preprocessing
    rate = int(preprocessing(spec, cfg, "sample_rate"))
    samples = spec.samples or SAMPLES
    if rate != RATE:
        warn(f"{spec.path}: audio decoded at {rate} Hz; the leaderboard's audio benchmark decodes every clip at {RATE} Hz, {SAMPLES} samples", once=True)
    return AudioView(rate, samples, p.audio_crop, p.seed, AudioAugmenter(p.augment_level, p.augment_pipeline), robust)


def probe_waves(n: int, samples: int, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """``n`` varied float32 clips: silence, full-scale noise, a sine sweep, a clipped sine, speech
    -like modulated noise, a quiet hiss, an impulse train, a DC offset. Their statistics differ
    from one another, which exposes cross-sample leaks."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    sweep_hz = np.geomspace(50.0, 0.45 * rate, samples)
    kinds = [
        lambda: np.zeros(samples),  # silence
        lambda: rng.uniform(-1.0, 1.0, samples),  # full-scale white noise
        lambda: 0.5 * np.sin(2 * np.pi * np.cumsum(sweep_hz) / rate),  # log sine sweep, 50 Hz .. 0.45 fs
        lambda: np.clip(3.0 * np.sin(2 * np.pi * 220.0 * t), -1.0, 1.0),  # a sine clipped at full scale
        lambda: 0.3 * rng.standard_normal(samples) * (0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t)) ** 2,  # syllable-rate modulated noise
        lambda: 1e-3 * rng.standard_normal(samples),  # quiet hiss
        lambda: (np.arange(samples) % max(1, rate // 100) == 0) * 0.9,  # 100 Hz impulse train
        lambda: np.full(samples, 0.5) + 0.01 * rng.standard_normal(samples),  # DC offset
    ]
    return np.stack([np.clip(kinds[i % len(kinds)](), -1.0, 1.0).astype(np.float32) for i in range(n)])


def probes(spec, n: int, frames: int | None = None, seed: int = 0) -> np.ndarray:
    return probe_waves(n, spec.samples or SAMPLES, int(spec.hints.get("sample_rate") or RATE), seed)
