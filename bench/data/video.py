"""Clip bytes or path -> the frames the sampling rule picks, as RGB ``uint8`` ``(T, h, w, 3)``.

Decoding goes through PyAV (FFmpeg): it reads from memory as well as from files (parquet and
Hugging Face sources hold bytes; OpenCV's ``VideoCapture`` needs a path), decodes only as far as
the rule needs, and seeks instead of decoding everything when the frames it needs are far
apart. ``benchmarks/video_decode.py`` measures it against OpenCV.

Sampling rules (SPEC section 2), over the clip's frames counted in presentation order:
- ``first``: the first T consecutive decoded frames (the default);
- ``fps``: every ``step = max(1, round(fps / target_fps))``-th frame from the start;
- ``uniform``: T frames spread evenly over the whole clip.
A clip with too few frames repeats its last frame; the indices actually used are returned.

Frame numbers are counted, never computed from timestamps times the frame rate (wrong for a
variable frame rate). When a rule needs the clip's length or seeks, the packets are demuxed once
without decoding: their count is the length, their sorted timestamps place every decoded frame.
At most one converted array per wanted frame is alive at a time, whatever the clip's length.
Frames are turned upright by the stream's display matrix (phone clips), as images are by EXIF.
"""

from __future__ import annotations

import bisect
import io
import struct
from dataclasses import dataclass

import numpy as np

from bench.data.decode import DEFAULT_MAX_PIXELS, DataError, apply_orientation, check_pixels

FRAME_RULES = ("first", "fps", "uniform")
IMAGE_FORMATS = {"image2", "gif", "apng"}  # and every image pipe demuxer (``*_pipe``): stills, not clips
SEEK_MIN_GAP = 48  # frames: a wider gap between wanted frames is crossed by seeking, not decoding
# display matrix (a, b, c, d), rounded, -> the EXIF orientation that turns the stored frame upright
DISPLAY_ORIENTATION = {(1, 0, 0, 1): 1, (-1, 0, 0, 1): 2, (-1, 0, 0, -1): 3, (1, 0, 0, -1): 4, (0, 1, 1, 0): 5, (0, 1, -1, 0): 6, (0, -1, -1, 0): 7, (0, -1, 1, 0): 8}


@dataclass(frozen=True)
class FrameRule:
    rule: str = "first"
    frames: int = 16
    target_fps: float | None = None

    def describe(self) -> dict:
        return {"frame_rule": self.rule, "frames": self.frames, "target_fps": self.target_fps}


@dataclass
class Clip:
    frames: np.ndarray  # (T, h, w, 3) uint8 RGB, upright
    indices: list[int]  # frame index used for each of the T frames (repeats at the end when short)
    fps: float | None
    total: int | None  # frames in the clip, when known
    orientation: int = 1  # EXIF-style code (1..8) of the display matrix the frames were turned upright by; 1: none


@dataclass(frozen=True)
class FrameIndex:
    """What demuxing without decoding tells: the frame count and, when every packet has a
    timestamp, the sorted timestamps (frame ``i`` has ``pts[i]``) and the keyframes' indices."""

    count: int
    pts: list[int] | None
    keyframes: list[int]


def _open(source: bytes | str):
    import av

    try:
        return av.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source, mode="r", metadata_errors="replace")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise DataError("decode", f"not a readable video container ({_av_reason(exc)})") from None


def _av_reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


def decode_clip(source: bytes | str, rule: FrameRule, max_pixels: int = DEFAULT_MAX_PIXELS) -> Clip:
    """The frames ``rule`` picks from a clip, or a ``DataError`` naming what is wrong with it.
    Frames larger than ``max_pixels`` are refused from the stream's header, before decoding."""
    import av

    if isinstance(source, (bytes, bytearray)) and not source:
        raise DataError("decode", "empty file (0 bytes)")
    container = _open(source)
    try:
        stream = _video_stream(container)
        if stream.width and stream.height:
            check_pixels(stream.width, stream.height, max_pixels, "video frame")
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate) if stream.average_rate else None
        try:
            index = _index(source) if _needs_index(rule, fps) else None
            total = index.count if index is not None else _frame_count(container, stream, fps)
            wanted = _wanted_indices(rule, fps, total)
            got, orientation = _decode_indices(container, stream, wanted, index, max_pixels)
        except av.FFmpegError as exc:
            raise DataError("decode", f"corrupt or truncated video ({_av_reason(exc)})") from None
        if not got:
            raise DataError("decode", "no decodable frames")
        return _assemble(got, wanted, fps, total, orientation)
    finally:
        container.close()


def _video_stream(container):
    """The first video stream; a still image (an image demuxer) or a stream-less file refused."""
    import av

    name = container.format.name
    if name in IMAGE_FORMATS or name.endswith("_pipe"):
        raise DataError("decode", f"a still image ({name}), not a video clip; move it out of the video dataset")
    if not container.streams.video:
        raise DataError("decode", f"no video stream ({name}), not a video clip; move it out of the video dataset")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise DataError("decode", f"unsupported codec: FFmpeg {av.ffmpeg_version_info} has no decoder for this clip's video stream; re-encode it (H.264, VP9, AV1, MPEG-4)")
    return stream


def _needs_index(rule: FrameRule, fps: float | None) -> bool:
    """Uniform needs the exact length; a frame-rate step wider than the seek gap needs to seek."""
    return rule.rule == "uniform" or (rule.rule == "fps" and _step(rule, fps) > SEEK_MIN_GAP)


def _index(source: bytes | str) -> FrameIndex:
    """Count the clip's frames by demuxing its packets (nothing decoded) and note their timestamps."""
    container = _open(source)
    try:
        count, pts, keys, complete = 0, [], [], True
        for packet in container.demux(container.streams.video[0]):
            if packet.size == 0 or packet.is_discard:  # the flush packet; frames the edit list drops
                continue
            count += 1
            if packet.pts is None:
                complete = False
            elif complete:
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
    finally:
        container.close()
    if not complete:
        return FrameIndex(count, None, [])
    pts.sort()
    return FrameIndex(count, pts, sorted(bisect.bisect_left(pts, k) for k in keys))


def _frame_count(container, stream, fps: float | None) -> int | None:
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base and fps:
        return max(1, round(float(stream.duration * stream.time_base) * fps))
    if container.duration and fps:
        return max(1, round(container.duration / 1_000_000 * fps))
    return None


def _step(rule: FrameRule, fps: float | None) -> int:
    return max(1, round(fps / rule.target_fps)) if fps and rule.target_fps else 1


def _wanted_indices(rule: FrameRule, fps: float | None, total: int | None) -> list[int]:
    t = rule.frames
    if rule.rule == "first":
        return list(range(t))
    if rule.rule == "fps":
        return [i * _step(rule, fps) for i in range(t)]
    return [int(round(x)) for x in np.linspace(0, max(0, (total or 1) - 1), t)]


def _decode_indices(container, stream, wanted: list[int], index: FrameIndex | None, max_pixels: int) -> tuple[dict[int, np.ndarray], int]:
    """Decode forward, converting only the wanted frames; with timestamps, seek across wide gaps.
    Returns the frames by index and the display orientation applied."""
    targets = sorted(set(wanted))
    if index is not None:
        targets = [i for i in targets if i < index.count] or targets[:1]
    timed = index is not None and index.pts is not None
    got: dict[int, np.ndarray] = {}
    orientation = 1
    frames = container.decode(stream)
    position = 0  # index of the next decoded frame
    pos = 0  # next target
    while pos < len(targets):
        target = targets[pos]
        key = _keyframe_before(index, target) if timed else 0
        if key - position > SEEK_MIN_GAP:  # to the keyframe's own timestamp: decoding restarts there
            container.seek(index.pts[key], stream=stream, backward=True, any_frame=False)
            frames, position = container.decode(stream), key  # corrected by the next frame's timestamp
        frame = next(frames, None)
        if frame is None:
            break
        if timed and frame.pts is not None:
            position = min(bisect.bisect_left(index.pts, frame.pts), index.count - 1)
        if position >= target:
            image, orientation = _upright(frame, max_pixels)
            while pos < len(targets) and targets[pos] <= position:
                got[targets[pos]] = image
                pos += 1
        position += 1
    return got, orientation


def _keyframe_before(index: FrameIndex, target: int) -> int:
    """The index of the last keyframe at or before ``target`` (where a seek to it lands)."""
    k = bisect.bisect_right(index.keyframes, target)
    return index.keyframes[k - 1] if k else 0


def _upright(frame, max_pixels: int) -> tuple[np.ndarray, int]:
    """The frame as upright RGB, and the orientation its display matrix asked for."""
    check_pixels(frame.width, frame.height, max_pixels, "video frame")
    orientation = 1
    for side in frame.side_data:
        if side.type.name == "DISPLAYMATRIX":
            m = struct.unpack("=9i", bytes(side))
            orientation = DISPLAY_ORIENTATION.get(tuple(round(v / 65536) for v in (m[0], m[1], m[3], m[4])), 1)
    return apply_orientation(frame.to_ndarray(format="rgb24"), orientation), orientation


def _assemble(got: dict[int, np.ndarray], wanted: list[int], fps: float | None, total: int | None, orientation: int) -> Clip:
    frames, used = [], []
    last = min(got)
    for i in wanted:
        if i in got:
            last = i
        frames.append(got[last])
        used.append(last)
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise DataError("decode", f"frames change size within the clip ({sorted(shapes)})")
    return Clip(np.stack(frames), used, fps, total, orientation)
