"""Audio decoding as the leaderboard does it (SPEC section 1c): any file FFmpeg reads, its best
audio stream (a video's sound track too: the leaderboard's command has ``-vn``), mixed down to one
channel and resampled to the target rate by FFmpeg's own resampler, as float32; no loudness
normalisation. Then the length rule: longer clips are centre-cropped (start ``(n - target) // 2``),
shorter ones zero-padded on the right; a seeded random crop is an option.

The leaderboard pipes the bytes through ``ffmpeg -vn -ac 1 -ar 16000 -f f32le``. That command's
``-ac 1 -ar 16000`` become an ``aformat`` filter in front of the encoder, and FFmpeg inserts the
``aresample`` (libswresample) conversion before it; PyAV's ``AudioResampler(format="flt",
layout="mono", rate=...)`` builds exactly that graph, so the same code downmixes and resamples.
Measured against the Debian ``ffmpeg`` command (tests/test_audio_decode.py,
benchmarks/audio_parity.py): bit-identical for PCM, FLAC and MP3 at every rate and layout tried;
AAC and Opus within about 1e-7 (their float decoders differ slightly between FFmpeg versions).
Packets the decoder refuses are skipped and the demuxer's read error ends the stream, as the
command does; no audio at all is a data error.

Bounded in time and memory. A file whose header says it is longer than ``SEEK_AFTER_S`` is not
decoded whole: its length at the target rate follows from the header (``ceil(n_in * rate /
rate_in)``, what the resampler gives for a whole stream), the crop window from the length rule,
and decoding starts at a seek point before the window. The resampler is started on an input
sample where its phase grid meets the full decode's (a multiple of ``rate_in / gcd``) at least
``PREROLL_S`` before the window, so the window is bit-identical to the whole decode for formats
whose header states the exact length (WAV, FLAC); for others (MP3, AAC, Opus) it is placed from
the header's duration estimate. Shorter files, and files without a duration, are decoded as a
stream of which only what the crop can still need is kept, up to ``MAX_KEEP_S`` of audio. A
decode that runs past ``timeout`` seconds (the leaderboard's 30) is a data error.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from bench.data.decode import DataError

RATE = 16000  # Hz: what the leaderboard decodes to
SAMPLES = 96000  # 6.0 s at 16 kHz
TIMEOUT_S = 30.0  # the leaderboard's per-sample decode limit
SEEK_AFTER_S = 600.0  # longer files (by their header) are decoded around the crop window only
PREROLL_S = 1.0  # of input decoded and resampled before the window after a seek
SEEK_BACKOFFS_S = (0.5, 5.0, 30.0)  # how far before the preroll to seek, retried when a seek lands late
MAX_KEEP_S = 3600.0  # decoded audio held at most while streaming a file of unknown length
CROPS = ("center", "random")


@dataclass(frozen=True)
class AudioClip:
    """A decoded crop window: ``wave`` (at most ``samples`` float32 values; shorter when the
    clip is), the clip's whole length at the target rate, where the window starts in it, and
    whether it was found by seeking."""

    wave: np.ndarray
    length: int
    start: int
    seeked: bool


def decode_clip(source: bytes | str, rate: int = RATE, samples: int = SAMPLES, crop: str = "center", seed: int = 0,
                timeout: float = TIMEOUT_S, seek_after: float = SEEK_AFTER_S) -> AudioClip:
    """The crop window of ``source`` (bytes, or a path) decoded as the leaderboard decodes it:
    mono float32 at ``rate``; ``crop`` ``center`` (the leaderboard's) or ``random`` (seeded by
    ``seed``). ``DataError`` with the reason for anything that gives no audio."""
    run = _Decode(rate, timeout)
    with _open(source) as container:
        stream = best_audio_stream(container)
        length = _header_length(stream, rate)
        if length is not None and length / rate > seek_after:
            start = crop_start(length, samples, crop, seed)
            wave = _seek_window(container, stream, run, start, samples)
            if wave is not None:
                return AudioClip(wave, length, start, True)
            container.seek(0)  # the header promised more than the file holds: decode what it has
        keep = _Kept(samples, crop, MAX_KEEP_S, rate)
        for chunk in _pcm(_frames(container, stream, run), stream, rate):
            keep.add(chunk)
    run.require(keep.total)
    start = crop_start(keep.total, samples, crop, seed)
    return AudioClip(keep.window(start, samples), keep.total, start, False)


def decode_waveform(source: bytes | str, rate: int = RATE, timeout: float = TIMEOUT_S, max_seconds: float = MAX_KEEP_S) -> np.ndarray:
    """The whole clip, as ``ffmpeg -vn -ac 1 -ar RATE -f f32le`` prints it (at most
    ``max_seconds``: a longer one is a ``DataError``)."""
    run = _Decode(rate, timeout)
    keep = _Kept(None, "all", max_seconds, rate)
    with _open(source) as container:
        stream = best_audio_stream(container)
        for chunk in _pcm(_frames(container, stream, run), stream, rate):
            keep.add(chunk)
    run.require(keep.total)
    return keep.window(0, keep.total)


def crop_start(length: int, samples: int, crop: str = "center", seed: int = 0) -> int:
    """Where the window of ``samples`` starts in a clip of ``length``: ``(length - samples) // 2``
    (centre), or uniform over ``[0, length - samples]`` seeded by ``seed`` (random); 0 when the
    clip is not longer than the window (it is padded on the right)."""
    if length <= samples:
        return 0
    if crop == "center":
        return (length - samples) // 2
    return int(np.random.default_rng(seed).integers(0, length - samples + 1))


def fit_length(wave: np.ndarray, samples: int) -> np.ndarray:
    """Exactly ``samples`` float32 values: zero padding on the right (a longer wave is cut)."""
    out = np.zeros(samples, dtype=np.float32)
    n = min(samples, len(wave))
    out[:n] = wave[:n]
    return out


# --------------------------------------------------------------------------- opening and streams


def _open(source: bytes | str):
    import av

    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise DataError("decode", "empty file (0 bytes)")
        target = io.BytesIO(bytes(source))
    else:
        try:
            if os.path.getsize(source) == 0:
                raise DataError("decode", "empty file (0 bytes)")
        except OSError as exc:
            raise DataError("read", f"cannot read {source}: {exc.strerror or exc}") from None
        target = source
    try:
        return av.open(target, mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise DataError("decode", f"not a media file FFmpeg can read ({_ffmpeg_reason(exc)})") from None


def best_audio_stream(container):
    """The stream ``ffmpeg`` maps by default: among audio streams, a default-disposition one
    first, then the most channels, then the first; ``DataError`` when there is none."""
    import av

    audio = [s for s in container.streams.audio if s.codec_context is not None and s.codec_context.sample_rate]
    if not audio:
        kinds = sorted({s.type for s in container.streams} - {"audio"})
        if "video" in kinds:
            what = f"{container.format.name} holds video only: an image or a video without a sound track"
        else:
            what = f"{container.format.name} holds {', '.join(kinds) or 'no streams'}"
        raise DataError("decode", f"no audio stream ({what})")

    def score(s) -> int:
        return 5_000_000 * bool(s.disposition & av.stream.Disposition.default) + s.codec_context.channels

    return max(audio, key=score)  # max keeps the first of equal scores


def _header_length(stream, rate: int) -> int | None:
    """The clip's length at ``rate`` from the header: ``ceil(n_in * rate / rate_in)``, the
    resampler's output for the whole stream; None when the header gives no duration."""
    rin = stream.codec_context.sample_rate
    seconds = None
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif stream.container.duration is not None:
        seconds = stream.container.duration / 1_000_000
    if seconds is None or seconds <= 0:
        return None
    n_in = round(seconds * rin)
    return -(-n_in * rate // rin)


# --------------------------------------------------------------------------- decoding


class _Decode:
    """One decode's deadline, and what went wrong on the way (for the reason when nothing came out)."""

    def __init__(self, rate: int, timeout: float):
        self.rate, self.timeout = rate, timeout
        self.deadline = time.monotonic() + timeout
        self.refused = 0  # packets the decoder refused
        self.read_error: str | None = None  # why the demuxer stopped early

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise DataError("decode", f"decoding took more than {self.timeout:g} s (the leaderboard's limit per sample)")

    def require(self, total: int) -> None:
        """``DataError`` when the stream gave no samples: truncated or corrupt, or zero-length."""
        if total:
            return
        if self.refused or self.read_error:
            why = ", ".join(filter(None, [f"{self.refused} packets refused by the decoder" if self.refused else "", f"read error: {self.read_error}" if self.read_error else ""]))
            raise DataError("decode", f"truncated or corrupt: no audio decoded ({why})")
        raise DataError("decode", "zero-length audio: the stream decodes to no samples")


def _frames(container, stream, run: _Decode) -> Iterator:
    """Decoded frames; a packet the decoder refuses is skipped, a read error ends the stream
    (both as the ``ffmpeg`` command does); past the deadline a ``DataError``."""
    import av

    packets = container.demux(stream)
    while True:
        run.check_time()
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            run.read_error = _ffmpeg_reason(exc)
            packet = None  # truncated or unreadable from here: flush what the decoder holds
        try:
            yield from stream.codec_context.decode(packet)
        except av.error.FFmpegError:
            run.refused += 1
        if packet is None:
            return


class _Resampler:
    """FFmpeg's conversion to mono float32 at ``rate``; rebuilt (after a flush) when the input's
    format, layout or rate changes mid-stream, as the ``ffmpeg`` command reconfigures its filters."""

    def __init__(self, rate: int):
        self.rate = rate
        self.inner = None
        self.key = None

    def push(self, frame) -> list[np.ndarray]:
        import av

        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        out = []
        if key != self.key:
            out = self.flush()
            self.inner, self.key = av.AudioResampler(format="flt", layout="mono", rate=self.rate), key
        return out + [f.to_ndarray().reshape(-1) for f in self.inner.resample(frame)]

    def flush(self) -> list[np.ndarray]:
        if self.inner is None:
            return []
        out = [f.to_ndarray().reshape(-1) for f in self.inner.resample(None)]
        self.inner, self.key = None, None
        return out


def _pcm(frames: Iterator, stream, rate: int, first: int = 0) -> Iterator[np.ndarray]:
    """Mono float32 chunks at ``rate`` of decoded ``frames``; with ``first`` (a sample index of
    the input), the samples before it are dropped before resampling."""
    resampler = _Resampler(rate)
    try:
        for frame in frames:
            if first:
                frame = _from_sample(frame, stream, first)
                if frame is None:
                    continue
                first = 0
            yield from resampler.push(frame)
        yield from resampler.flush()
    except ValueError as exc:  # a frame the resampler cannot convert (an unknown channel layout)
        raise DataError("decode", f"FFmpeg cannot convert this audio to mono ({_ffmpeg_reason(exc)})") from None


def _index(frame, stream) -> int | None:
    """The input sample index where ``frame`` starts (its pts from the stream's start)."""
    if frame.pts is None or frame.time_base is None:
        return None
    start = stream.start_time or 0
    return round((frame.pts - start) * frame.time_base * frame.sample_rate)


def _from_sample(frame, stream, first: int):
    """``frame`` less the samples before input sample ``first``; None when it ends before it."""
    import av

    at = _index(frame, stream)
    if at is None or at + frame.samples <= first:
        return None
    if at >= first:
        return frame
    cut = first - at
    array = frame.to_ndarray()
    array = array[:, cut:] if frame.format.is_planar else array[:, cut * frame.layout.nb_channels :]
    trimmed = av.AudioFrame.from_ndarray(np.ascontiguousarray(array), format=frame.format.name, layout=frame.layout.name)
    trimmed.sample_rate = frame.sample_rate
    return trimmed


def _seek_window(container, stream, run: _Decode, start: int, samples: int) -> np.ndarray | None:
    """``samples`` of output from ``start``, decoded from a seek point before them; None when
    the file ends before the window (its header was wrong) or no seek lands early enough."""
    rate, rin = run.rate, stream.codec_context.sample_rate
    g = math.gcd(rin, rate)
    period_in, period_out = rin // g, rate // g
    k = max(0, math.floor((start * rin / rate - PREROLL_S * rin) / period_in))
    first, out_first = k * period_in, k * period_out  # input sample k*period_in is output k*period_out
    need = start - out_first + samples
    for back in SEEK_BACKOFFS_S:
        target = max(0.0, first / rin - back)
        container.seek(int(target / stream.time_base) + (stream.start_time or 0), stream=stream, backward=True)
        frames = _frames(container, stream, run)
        head = next(frames, None)
        at = None if head is None else _index(head, stream)
        if at is None:
            return None
        if at > first and target > 0:
            continue  # landed after the preroll: seek further back
        chunks, have = [], 0
        for chunk in _pcm(itertools.chain([head], frames), stream, rate, first):
            chunks.append(chunk)
            have += len(chunk)
            if have >= need:
                return np.ascontiguousarray(np.concatenate(chunks)[start - out_first : need], dtype=np.float32)
        return None
    return None


class _Kept:
    """The decoded stream, keeping only what the crop window can still need: with a centre crop
    of ``samples`` the window of the final length ``n`` starts at ``(n - samples) // 2``, never
    before ``(total - samples) // 2`` of what has been decoded so far, so everything before that
    is dropped. A random crop (and the whole waveform, ``samples`` None) keeps everything. More
    than ``limit`` samples held is a ``DataError`` (a file of unknown length that does not end)."""

    def __init__(self, samples: int | None, crop: str, limit_s: float, rate: int):
        self.samples, self.crop, self.limit_s, self.limit = samples, crop, limit_s, int(limit_s * rate)
        self.chunks: deque[np.ndarray] = deque()
        self.offset = 0  # the stream index of the first kept sample
        self.total = 0
        self.held = 0

    def add(self, chunk: np.ndarray) -> None:
        self.chunks.append(chunk)
        self.total += len(chunk)
        self.held += len(chunk)
        if self.crop == "center" and self.samples is not None:
            floor = max(0, (self.total - self.samples) // 2)
            while self.chunks and self.offset + len(self.chunks[0]) <= floor:
                dropped = self.chunks.popleft()
                self.offset += len(dropped)
                self.held -= len(dropped)
        if self.held > self.limit:
            raise DataError("decode", f"longer than {self.limit_s / 3600:g} h of audio and no usable duration in its header to seek with: more than the harness holds for one sample")

    def window(self, start: int, samples: int) -> np.ndarray:
        kept = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)
        return np.ascontiguousarray(kept[start - self.offset : start - self.offset + samples], dtype=np.float32)


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())[:200]
