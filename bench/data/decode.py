"""Bytes -> RGB ``uint8`` HWC, or a ``DataError`` naming the stage and the reason.

OpenCV's ``IMREAD_COLOR`` applies EXIF orientation, turns grey into three channels, drops alpha
and scales 16-bit images to 8 bits; what it cannot decode is reported, never replaced.
"""

from __future__ import annotations

import cv2
import numpy as np

JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"


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


def decode_image(data: bytes) -> np.ndarray:
    """Decode image bytes to RGB ``uint8`` of shape ``(h, w, 3)``."""
    if not data:
        raise DataError("decode", "empty file (0 bytes)")
    if data[:2] == JPEG_SOI and JPEG_EOI not in data[-1024:]:
        raise DataError("decode", "truncated JPEG: no end-of-image marker")
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise DataError("decode", f"OpenCV could not decode it: {str(exc).strip().splitlines()[-1][:200]}") from None
    if bgr is None:
        raise DataError("decode", f"not a decodable image ({_sniff(data)}); the file is corrupt or in an unsupported format")
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise DataError("decode", f"unexpected decoded layout {bgr.shape} {bgr.dtype}")
    if bgr.shape[0] == 0 or bgr.shape[1] == 0:
        raise DataError("decode", "image has zero width or height")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


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
