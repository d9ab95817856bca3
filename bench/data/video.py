"""Clip bytes or path -> the frames the sampling rule picks, as RGB ``uint8`` ``(T, h, w, 3)``.

Decoding goes through PyAV (FFmpeg): it reads from memory as well as from files (parquet and
Hugging Face sources hold bytes; OpenCV's ``VideoCapture`` needs a path), decodes only as far as
the rule needs, and seeks instead of decoding everything when the frames it needs are far
apart. ``benchmarks/video_decode.py`` measures it against OpenCV.

Sampling rules (SPEC section 2):
- ``first``: the first T consecutive frames (the default);
- ``fps``: every ``step = max(1, round(fps / target_fps))``-th frame from the start;
- ``uniform``: T frames spread evenly over the whole clip.
A clip with too few frames repeats its last frame; the indices actually used are returned.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from bench.data.decode import DataError

FRAME_RULES = ("first", "fps", "uniform")
IMAGE_FORMATS = {"image2", "jpeg_pipe", "png_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif", "gif_pipe", "pgm_pipe", "ppm_pipe", "j2k_pipe", "qoi_pipe"}
SEEK_MIN_GAP = 48  # frames: a wider gap between wanted frames is crossed by seeking, not decoding


@dataclass(frozen=True)
class FrameRule:
    rule: str = "first"
    frames: int = 16
    target_fps: float | None = None

    def describe(self) -> dict:
        return {"frame_rule": self.rule, "frames": self.frames, "target_fps": self.target_fps}


@dataclass
class Clip:
    frames: np.ndarray  # (T, h, w, 3) uint8 RGB
    indices: list[int]  # frame index used for each of the T frames (repeats at the end when short)
    fps: float | None
    total: int | None  # frames in the clip, when known


def _open(source: bytes | str):
    import av

    try:
        return av.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source, mode="r")
    except av.FFmpegError as exc:
        raise DataError("decode", f"not a readable video container ({_av_reason(exc)})") from None


def _av_reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


def decode_clip(source: bytes | str, rule: FrameRule) -> Clip:
    """The frames ``rule`` picks from a clip, or a ``DataError`` naming what is wrong with it."""
    import av

    if isinstance(source, (bytes, bytearray)) and not source:
        raise DataError("decode", "empty file (0 bytes)")
    container = _open(source)
    try:
        if container.format.name in IMAGE_FORMATS or not container.streams.video:
            kind = "a still image" if container.format.name in IMAGE_FORMATS else "no video stream"
            raise DataError("decode", f"{kind} ({container.format.name}), not a video clip; move it out of the video dataset")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise DataError("decode", f"unsupported codec: FFmpeg {av.ffmpeg_version_info} has no decoder for this clip's video stream; re-encode it (H.264, VP9, AV1, MPEG-4)")
        if stream.codec_context.name in ("mjpeg", "png", "bmp", "webp", "gif") and (stream.frames or 0) <= 1:
            raise DataError("decode", f"a still image ({stream.codec_context.name}), not a video clip; move it out of the video dataset")
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate) if stream.average_rate else None
        total = _frame_count(container, stream, fps)
        wanted = _wanted_indices(rule, fps, total)
        try:
            got = _decode_indices(container, stream, wanted, fps, total)
        except av.FFmpegError as exc:
            raise DataError("decode", f"corrupt or truncated video ({_av_reason(exc)})") from None
        if not got:
            raise DataError("decode", "no decodable frames")
        return _assemble(got, wanted, rule.frames, fps, total)
    finally:
        container.close()


def _frame_count(container, stream, fps: float | None) -> int | None:
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base and fps:
        return max(1, round(float(stream.duration * stream.time_base) * fps))
    if container.duration and fps:
        return max(1, round(container.duration / 1_000_000 * fps))
    return None


def _wanted_indices(rule: FrameRule, fps: float | None, total: int | None) -> list[int] | None:
    """The frame indices to pick, or None for 'uniform' over a clip of unknown length."""
    t = rule.frames
    if rule.rule == "first":
        return list(range(t))
    if rule.rule == "fps":
        step = max(1, round(fps / rule.target_fps)) if fps and rule.target_fps else 1
        return [i * step for i in range(t)]
    if total is None:
        return None
    return [int(round(x)) for x in np.linspace(0, max(0, total - 1), t)]


def _decode_indices(container, stream, wanted: list[int] | None, fps: float | None, total: int | None) -> dict[int, np.ndarray]:
    """Decode forward from the start, converting only the wanted frames; seek across wide gaps.

    ``wanted`` None: decode every frame (a clip of unknown length under the uniform rule)."""
    got: dict[int, np.ndarray] = {}
    if wanted is None:
        for i, frame in enumerate(container.decode(stream)):
            got[i] = frame.to_ndarray(format="rgb24")
        return got
    targets = sorted(set(wanted))
    if total is not None:
        targets = [i for i in targets if i < total] or targets[:1]
    can_seek = bool(fps and stream.time_base)
    index = 0
    pos = 0  # next target
    frames = container.decode(stream)
    while pos < len(targets):
        target = targets[pos]
        if can_seek and target - index > SEEK_MIN_GAP:
            frames, index = _seek(container, stream, target, fps)
        frame = next(frames, None)
        if frame is None:
            break
        if can_seek and frame.pts is not None:
            index = _index_of(frame, stream, fps)
        if index >= target:
            image = frame.to_ndarray(format="rgb24")
            while pos < len(targets) and targets[pos] <= index:
                got[targets[pos]] = image
                pos += 1
        index += 1
    return got


def _index_of(frame, stream, fps: float) -> int:
    start = stream.start_time or 0
    return int(round(float((frame.pts - start) * stream.time_base) * fps))


def _seek(container, stream, target: int, fps: float):
    """Seek to the keyframe at or before ``target``; decoding resumes from there."""
    start = stream.start_time or 0
    pts = start + int(target / fps / stream.time_base)
    container.seek(pts, stream=stream, backward=True, any_frame=False)
    return container.decode(stream), 0


def _assemble(got: dict[int, np.ndarray], wanted: list[int] | None, t: int, fps, total) -> Clip:
    if wanted is None:  # uniform over a clip whose length we learnt by decoding it
        n = len(got)
        wanted = [int(round(x)) for x in np.linspace(0, n - 1, t)]
        total = n
    frames, used = [], []
    last = None
    for i in wanted:
        if i in got:
            last = i
        elif last is None:
            last = min(got)
        frames.append(got[last] if i not in got else got[i])
        used.append(i if i in got else last)
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise DataError("decode", f"frames change size within the clip ({sorted(shapes)})")
    return Clip(np.stack(frames), used, fps, total)
