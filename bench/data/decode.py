"""Bytes -> RGB ``uint8`` HWC, or a ``DataError`` naming the stage and the reason.

JPEG (most of every benchmark) is decoded by libjpeg-turbo through ``simplejpeg`` in strict
mode: the pixels are bit-identical to OpenCV's, but corrupt entropy-coded data raises instead of
being decoded silently into a wrong picture (libjpeg only prints a warning, and OpenCV returns the
damaged image). EXIF orientation is applied here. Everything else, and the JPEG colour spaces
libjpeg-turbo cannot convert to RGB (CMYK, YCCK), goes through OpenCV's ``IMREAD_COLOR``, which
applies EXIF orientation, turns grey into three channels, drops alpha and scales 16 bits to 8.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np
import simplejpeg

JPEG_SOI = b"\xff\xd8"
# libjpeg warnings after which the picture is still complete and right
BENIGN_JPEG_WARNINGS = ("extraneous bytes before marker",)


class DataError(Exception):
    """A sample that cannot be read, decoded or preprocessed (recorded as a ``data_error`` row)."""

    def __init__(self, stage: str, reason: str):
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise DataError("read", f"cannot read {path}: {exc.strerror or exc}") from None


def decode_image(data: bytes, min_size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode image bytes to RGB ``uint8`` of shape ``(h, w, 3)``.

    ``min_size=(H, W)`` is the opt-in fast mode: a JPEG is decoded at 1/2, 1/4 or 1/8 scale in
    the DCT domain, the smallest that keeps it at least ``H x W`` (upright), several times
    faster; the pixels then differ slightly from a full decode and resize."""
    if not data:
        raise DataError("decode", "empty file (0 bytes)")
    if data[:2] == JPEG_SOI:
        rgb = _decode_jpeg(data, min_size)
        if rgb is not None:
            return rgb
    return _decode_opencv(data)


def _decode_jpeg(data: bytes, min_size: tuple[int, int] | None = None) -> np.ndarray | None:
    """Strict libjpeg-turbo decode with EXIF orientation; ``None`` to hand over to OpenCV."""
    orientation = exif_orientation(data)
    scale = {}
    if min_size is not None:
        h, w = min_size if orientation < 5 else min_size[::-1]  # stored sideways: swap the bounds
        scale = {"min_height": h, "min_width": w}
    try:
        rgb = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True, **scale)
    except ValueError as exc:
        message = str(exc)
        if "color conversion" in message or "colorspace" in message.lower():
            return None  # CMYK / YCCK: OpenCV converts those
        if any(w in message for w in BENIGN_JPEG_WARNINGS):
            rgb = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=False, **scale)
        elif "Premature end of JPEG file" in message:
            raise DataError("decode", "truncated JPEG: the file ends before the image data does") from None
        else:
            raise DataError("decode", f"corrupt or truncated JPEG (libjpeg: {message})") from None
    return apply_orientation(rgb, orientation)


def _decode_opencv(data: bytes) -> np.ndarray:
    try:
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise DataError("decode", f"OpenCV could not decode it: {str(exc).strip().splitlines()[-1][:200]}") from None
    if bgr is None:
        raise DataError("decode", f"not a decodable image ({_sniff(data)}); the file is corrupt or in an unsupported format")
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise DataError("decode", f"unexpected decoded layout {bgr.shape} {bgr.dtype}")
    if bgr.shape[0] == 0 or bgr.shape[1] == 0:
        raise DataError("decode", "image has zero width or height")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def exif_orientation(data: bytes) -> int:
    """The EXIF Orientation tag (1..8) of a JPEG, 1 when absent or unreadable.

    Walks the marker segments before the first scan; reads IFD0 of an ``Exif`` APP1 segment."""
    pos = 2
    n = len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            break
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker == 0xE1 and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
            return _tiff_orientation(data[pos + 10 : pos + 2 + length])
        pos += 2 + length
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    try:
        endian = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (ifd,) = struct.unpack(endian + "I", tiff[4:8])
        (count,) = struct.unpack(endian + "H", tiff[ifd : ifd + 2])
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, kind, _ = struct.unpack(endian + "HHI", tiff[entry : entry + 8])
            if tag == 0x0112 and kind == 3:  # SHORT
                (value,) = struct.unpack(endian + "H", tiff[entry + 8 : entry + 10])
                return value if 1 <= value <= 8 else 1
    except (KeyError, struct.error):
        pass
    return 1


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a stored image upright by its EXIF orientation (1: as stored ... 8: rotated 90 CCW)."""
    if orientation == 2:
        image = image[:, ::-1]
    elif orientation == 3:
        image = image[::-1, ::-1]
    elif orientation == 4:
        image = image[::-1]
    elif orientation == 5:
        image = image.transpose(1, 0, 2)
    elif orientation == 6:
        image = image.transpose(1, 0, 2)[:, ::-1]
    elif orientation == 7:
        image = image.transpose(1, 0, 2)[::-1, ::-1]
    elif orientation == 8:
        image = image.transpose(1, 0, 2)[::-1]
    else:
        return image
    return np.ascontiguousarray(image)


def _sniff(data: bytes) -> str:
    head = data[:16]
    kinds = {
        b"\xff\xd8": "JPEG header",
        b"\x89PNG": "PNG header",
        b"GIF8": "GIF header",
        b"RIFF": "RIFF/WebP header",
        b"BM": "BMP header",
        b"II*\x00": "TIFF header",
        b"MM\x00*": "TIFF header",
    }
    for magic, name in kinds.items():
        if head.startswith(magic):
            return f"{name}, {len(data)} bytes"
    return f"unrecognised header {head[:8].hex()}, {len(data)} bytes"
