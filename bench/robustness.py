"""The redistribution-robustness chain (SPEC section 2): what happens to media passed around the
internet, applied at native resolution before geometry. Deterministic: no random parameters.

Image: downscale by 0.5 with area interpolation (never below 256 px on either side; skipped when
it would not shrink) and back up bilinearly to the original size; JPEG quality 55 with 4:2:0
chroma subsampling; WebP quality 75; JPEG quality 80 (4:2:0).

Video: every frame downscaled by 0.5 (same 256 px floor), to even dimensions, then an H.264
round trip at CRF 23, yuv420p (single-threaded x264 with mbtree off, so it is deterministic).
"""

from __future__ import annotations

import io

import cv2
import numpy as np

from bench.data.decode import DataError

SCALE = 0.5
FLOOR = 256
JPEG_FIRST = 55
WEBP_QUALITY = 75
WEBP_MAX_SIDE = 16383  # the format's limit: a longer side cannot be encoded
JPEG_LAST = 80
CRF = 23
BLEND_WEIGHT = 0.2  # blended = (1 - w) * base + w * robust


def downscale_size(h: int, w: int, scale: float = SCALE, floor: int = FLOOR) -> tuple[int, int] | None:
    """The shrunk ``(h, w)``: one factor ``max(scale, floor / min(h, w))`` for both sides, so
    neither side goes below ``floor``; None when that factor would not shrink the image."""
    factor = max(scale, floor / min(h, w))
    if factor >= 1:
        return None
    return max(1, round(h * factor)), max(1, round(w * factor))


def _roundtrip(rgb: np.ndarray, ext: str, params: list[int]) -> np.ndarray:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise DataError("robustness", f"OpenCV could not encode {ext}")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    return _roundtrip(rgb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])


def webp(rgb: np.ndarray, quality: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) > WEBP_MAX_SIDE:
        raise DataError("robustness", f"a {w}x{h} image has a side beyond WebP's {WEBP_MAX_SIDE}-pixel limit, so the chain's WebP step cannot encode it")
    return _roundtrip(rgb, ".webp", [cv2.IMWRITE_WEBP_QUALITY, quality])


def image_chain(rgb: np.ndarray) -> np.ndarray:
    """The image chain on an RGB ``uint8`` image; the output has the input's size."""
    h, w = rgb.shape[:2]
    small = downscale_size(h, w)
    out = rgb
    if small is not None:
        down = cv2.resize(rgb, (small[1], small[0]), interpolation=cv2.INTER_AREA)
        out = cv2.resize(down, (w, h), interpolation=cv2.INTER_LINEAR)
    out = jpeg(out, JPEG_FIRST)
    out = webp(out, WEBP_QUALITY)
    return jpeg(out, JPEG_LAST)


def video_size(h: int, w: int) -> tuple[int, int]:
    """Frame size after the video downscale: the image rule, then rounded down to even sides."""
    small = downscale_size(h, w) or (h, w)
    return max(2, small[0] - small[0] % 2), max(2, small[1] - small[1] % 2)


def video_chain(frames: np.ndarray, fps: float | None = None) -> np.ndarray:
    """The video chain on ``(T, h, w, 3)`` RGB frames; returns the round-tripped, smaller frames."""
    import av

    t, h, w = frames.shape[:3]
    nh, nw = video_size(h, w)
    small = np.stack([cv2.resize(f, (nw, nh), interpolation=cv2.INTER_AREA) if (nh, nw) != (h, w) else f for f in frames])
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=round(fps or 25))
        stream.width, stream.height, stream.pix_fmt = nw, nh, "yuv420p"
        # one thread and no macroblock-tree rate control: with mbtree on, x264 gives different
        # bytes for the same frames from run to run (measured at widths that are not multiples
        # of 16); reproducible records matter more than that refinement of rate control
        stream.options = {"crf": str(CRF), "x264-params": "mbtree=0"}
        stream.codec_context.thread_count = 1
        for f in small:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buf.seek(0)
    with av.open(buf) as container:
        out = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if len(out) != t:
        raise DataError("robustness", f"H.264 round trip returned {len(out)} frames for {t}")
    return np.stack(out)


# --------------------------------------------------------------------------- audio (ours)
#
# The leaderboard has no audio robustness pass; this one is the harness's own: what a voice clip
# meets when it is shared, an MP3 upload at 64 kbit/s then a platform's Opus transcode at
# 32 kbit/s, each a full encode and decode through FFmpeg (libmp3lame, libopus in Ogg).
# Deterministic: no random parameters.

AUDIO_CHAIN = (("mp3", "libmp3lame", 64_000), ("ogg", "libopus", 32_000))


def codec_roundtrip(wave: np.ndarray, rate: int, container: str, codec: str, bit_rate: int) -> np.ndarray:
    """``wave`` (mono float32 at ``rate``) encoded with ``codec`` in ``container`` and decoded
    back at ``rate`` through the leaderboard's decode; the same length (the decoders drop the
    encoder's delay from the stream's header; a short end is padded). An encoder that does not
    take ``rate`` gets the wave at 48 kHz."""
    import av

    from bench.data.audio import decode_waveform, fit_length

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        rates = av.codec.Codec(codec, "w").audio_rates
        encode_rate = rate if not rates or rate in rates else 48000
        stream = out.add_stream(codec, rate=encode_rate, layout="mono")
        stream.bit_rate = bit_rate
        ctx = stream.codec_context
        resampler = av.AudioResampler(format=ctx.codec.audio_formats[0].name, layout="mono", rate=encode_rate, frame_size=ctx.frame_size or None)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave, dtype=np.float32)[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for chunk in resampler.resample(frame) + resampler.resample(None):
            out.mux(stream.encode(chunk))
        out.mux(stream.encode(None))
    return fit_length(decode_waveform(buffer.getvalue(), rate), len(wave))


def audio_chain(wave: np.ndarray, rate: int) -> np.ndarray:
    """The audio redistribution chain: MP3 64 kbit/s, then Opus 32 kbit/s, round trips."""
    for container, codec, bit_rate in AUDIO_CHAIN:
        wave = codec_roundtrip(wave, rate, container, codec, bit_rate)
    return wave
