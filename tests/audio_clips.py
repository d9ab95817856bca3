"""Tiny audio clips for tests, made in the test: numpy signals encoded with PyAV, sparse WAV
files of hours written by a header and a seek, and the leaderboard's decode (the ``ffmpeg``
command) as the reference."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="the ffmpeg command is not installed (apt-get install ffmpeg)")

# extension -> (container format, encoder, rates it takes, layouts it takes)
ALL_RATES = (8000, 22050, 44100, 48000, 96000)
ALL_LAYOUTS = ("mono", "stereo", "5.1")
FORMATS = {
    "wav": ("wav", "pcm_s16le", ALL_RATES, ALL_LAYOUTS),
    "flac": ("flac", "flac", ALL_RATES, ALL_LAYOUTS),
    "mp3": ("mp3", "libmp3lame", (8000, 22050, 44100, 48000), ("mono", "stereo")),
    "ogg": ("ogg", "libopus", (8000, 48000), ALL_LAYOUTS),
    "m4a": ("mp4", "aac", ALL_RATES, ALL_LAYOUTS),
    "webm": ("webm", "libopus", (8000, 48000), ("mono", "stereo")),
}
MATRIX = [(ext, rate, layout) for ext, (_, _, rates, layouts) in FORMATS.items() for rate in rates for layout in layouts]


def signal(rate: int, channels: int, seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """``(channels, n)`` float32: a different tone per channel plus a little noise."""
    n = int(round(rate * seconds))
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    tones = [level * np.sin(2 * np.pi * (110.0 * (c + 1) + 13.0 * seed) * t) + 0.02 * rng.standard_normal(n) for c in range(channels)]
    return np.clip(np.stack(tones), -1, 1).astype(np.float32)


def encode(path: Path, data: np.ndarray, rate: int, layout: str, fmt: str, codec: str) -> Path:
    """``data`` ``(channels, n)`` float32 encoded with PyAV (the encoder's own frame size)."""
    import av

    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        ctx = stream.codec_context
        resampler = av.AudioResampler(format=ctx.codec.audio_formats[0].name, layout=layout, rate=rate, frame_size=ctx.frame_size or 1024)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="fltp", layout=layout)
        frame.sample_rate, frame.pts = rate, 0
        for chunk in resampler.resample(frame) + resampler.resample(None):
            out.mux(stream.encode(chunk))
        out.mux(stream.encode(None))
    return path


def clip(folder: Path, ext: str, rate: int, layout: str, seconds: float = 1.0, seed: int = 0, name: str | None = None, level: float = 0.3) -> Path:
    import av

    fmt, codec, _, _ = FORMATS[ext]
    channels = av.AudioLayout(layout).nb_channels
    path = Path(folder) / (name or f"{ext}-{rate}-{layout.replace('.', '')}.{ext}")
    return encode(path, signal(rate, channels, seconds, seed, level), rate, layout, fmt, codec)


def ffmpeg_decode(path: Path, rate: int = 16000) -> np.ndarray:
    """The leaderboard's decode: ``ffmpeg -vn -ac 1 -ar RATE -f f32le`` of the file."""
    cmd = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(rate), "-f", "f32le", "pipe:1"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout, dtype=np.float32)


def leaderboard_window(wave: np.ndarray, samples: int = 96000) -> np.ndarray:
    """The leaderboard's length rule on a whole decode, written out directly."""
    if len(wave) > samples:
        start = (len(wave) - samples) // 2
        return wave[start : start + samples]
    return np.concatenate([wave, np.zeros(samples - len(wave), np.float32)])


def sparse_wav(path: Path, rate: int, channels: int, seconds: float, regions: dict[int, np.ndarray] | None = None) -> Path:
    """A 16-bit PCM WAV of ``seconds`` that costs no disk: the header, then a seek to its end
    (the rest reads as zeros: silence); ``regions`` ``{first sample: int16 (n, channels)}``
    written where they belong."""
    n = int(rate * seconds)
    size = n * channels * 2
    header = b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    header += b"data" + struct.pack("<I", size)
    with open(path, "wb") as f:
        f.write(header)
        for first, block in (regions or {}).items():
            f.seek(len(header) + first * channels * 2)
            f.write(np.ascontiguousarray(block, dtype="<i2").tobytes())
        f.truncate(len(header) + size)
    return path
