"""Bytes -> RGB ``uint8`` HWC, or a ``DataError`` naming the stage and the reason.

JPEG (most of every benchmark) is decoded by libjpeg-turbo through ``simplejpeg`` in strict
mode: the pixels are bit-identical to OpenCV's, but corrupt entropy-coded data raises instead of
being decoded silently into a wrong picture (libjpeg only prints a warning, and OpenCV returns the
damaged image). EXIF orientation is applied here. Everything else, and the JPEG colour spaces
libjpeg-turbo cannot convert to RGB (CMYK, YCCK), goes through OpenCV's ``IMREAD_COLOR``, which
applies EXIF orientation, turns grey into three channels, drops alpha and scales 16 bits to 8.

Before anything is decoded the image's size is read from its header (``image_size``: every still
format the two decoders take) and an image above ``max_pixels`` is refused: a 600-byte file can
claim 65500x65500 pixels, and libjpeg-turbo, unlike OpenCV, has no bound of its own.
"""

from __future__ import annotations

import os

import re
import struct

import cv2
import numpy as np
import simplejpeg

from bench.config import PreprocessingConfig

DEFAULT_MAX_PIXELS: int = PreprocessingConfig.max_pixels  # one default: the config's (Pillow's threshold)
JPEG_SOI = b"\xff\xd8"
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}  # baseline, progressive, lossless, arithmetic
# libjpeg warnings after which the picture is still complete and right
BENIGN_JPEG_WARNINGS = ("extraneous bytes before marker",)


class DataError(Exception):
    """A sample that cannot be read, decoded or preprocessed (recorded as a ``data_error`` row)."""

    def __init__(self, stage: str, reason: str):
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


def media_source(ref) -> bytes | str:
    """What a decoder opens for a sample: its bytes (a table cell; a file at a URL, read here) or
    its local path (checked to exist)."""
    if ref.data is not None:
        return ref.data
    from bench.data.remote import is_url, read_url

    if is_url(ref.path):
        return read_url(ref.path)
    if not os.path.isfile(ref.path):
        raise DataError("read", f"cannot read {ref.shown_path}: no such file")
    return ref.path


def read_bytes(path: str) -> bytes:
    from bench.data.remote import is_url, read_url

    if is_url(path):
        return read_url(path)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise DataError("read", f"cannot read {path}: {exc.strerror or exc}") from None


def decode_image(data: bytes, min_size: tuple[int, int] | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode image bytes to RGB ``uint8`` of shape ``(h, w, 3)``; an image of more than
    ``max_pixels`` pixels is refused from its header, before decoding.

    ``min_size=(H, W)`` is the opt-in fast mode: a JPEG is decoded at 1/2, 1/4 or 1/8 scale in
    the DCT domain, the smallest that keeps it at least ``H x W`` (upright), several times
    faster; the pixels then differ slightly from a full decode and resize."""
    if not data:
        raise DataError("decode", "empty file (0 bytes)")
    size = image_size(data)
    if size is not None:
        check_pixels(*size, max_pixels)
    rgb = _decode_jpeg(data, min_size) if data[:2] == JPEG_SOI else None
    if rgb is None:
        rgb = _decode_opencv(data)
    if size is None:  # a header we cannot read: bounded by OpenCV's own limit, then by ours
        check_pixels(rgb.shape[1], rgb.shape[0], max_pixels)
    return rgb


def check_pixels(width: int, height: int, max_pixels: int, what: str = "image") -> None:
    """A ``DataError`` when ``width * height`` exceeds ``max_pixels``."""
    pixels = width * height
    if pixels > max_pixels:
        mantissa, exponent = f"{pixels:.2e}".split("e")
        raise DataError("decode", f"{what} {width}x{height} = {mantissa}e{int(exponent)} pixels exceeds max_pixels {max_pixels} (set preprocessing.max_pixels to allow it)")


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
            try:
                rgb = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=False, **scale)
            except ValueError as again:  # the benign warning hid real corruption
                raise DataError("decode", f"corrupt JPEG (libjpeg: {again})") from None
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
    """The EXIF Orientation tag (1..8) of a JPEG, 1 when absent or unreadable (IFD0 of an
    ``Exif`` APP1 segment before the first scan)."""
    try:
        for marker, payload in _jpeg_segments(data):
            if marker == 0xE1 and payload[:6] == b"Exif\x00\x00":
                value = _tiff_tags(payload[6:]).get(0x0112, 1)
                return value if 1 <= value <= 8 else 1
    except (KeyError, struct.error):
        pass
    return 1


def _jpeg_segments(data: bytes):
    """``(marker, payload)`` of a JPEG's marker segments before the first scan."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:  # extraneous bytes before a marker: libjpeg skips them too
            pos = data.find(b"\xff", pos)
            if pos < 0:
                return
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more header
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        yield marker, data[pos + 4 : pos + 2 + length]
        pos += 2 + length


TIFF_INTEGERS = {3: "H", 4: "I", 16: "Q"}  # SHORT, LONG, LONG8 (BigTIFF)


def _tiff_tags(tiff: bytes) -> dict[int, int]:
    """The integer tags of a TIFF's first IFD (classic or BigTIFF): tag -> first value."""
    e = {b"II": "<", b"MM": ">"}[tiff[:2]]
    big = struct.unpack(e + "H", tiff[2:4])[0] == 43
    if big:
        (ifd,) = struct.unpack(e + "Q", tiff[8:16])
        (count,) = struct.unpack(e + "Q", tiff[ifd : ifd + 8])
        start, entry, value_at = ifd + 8, 20, 12
    else:
        (ifd,) = struct.unpack(e + "I", tiff[4:8])
        (count,) = struct.unpack(e + "H", tiff[ifd : ifd + 2])
        start, entry, value_at = ifd + 2, 12, 8
    tags = {}
    for i in range(min(count, (len(tiff) - start) // entry)):
        at = start + entry * i
        tag, kind = struct.unpack(e + "HH", tiff[at : at + 4])
        if kind in TIFF_INTEGERS:
            fmt = e + TIFF_INTEGERS[kind]
            tags[tag] = struct.unpack(fmt, tiff[at + value_at : at + value_at + struct.calcsize(fmt)])[0]
    return tags


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


# ------------------------------------------------------------------ sizes from headers


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the header of every still format the decoders take, read without
    decoding; None for another format or an unreadable header (the decoder then says why)."""
    reader = _size_reader(data[:16])
    if reader is None:
        return None
    try:
        size = reader(data)
    except (KeyError, IndexError, ValueError, struct.error):
        return None
    return (int(size[0]), int(size[1])) if size and size[0] > 0 and size[1] > 0 else None


def _size_reader(head: bytes):
    if head[4:8] == b"ftyp":
        return _isobmff_size  # AVIF, HEIF
    if head[:1] == b"P" and head[1:2] in b"1234567Ff":
        return _pnm_size
    for magic, reader in SIZE_READERS:
        if head.startswith(magic):
            return reader
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    for marker, payload in _jpeg_segments(data):
        if marker in JPEG_SOF:
            height, width = struct.unpack(">HH", payload[1:5])
            return width, height
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    return struct.unpack(">II", data[16:24]) if data[12:16] == b"IHDR" else None


def _gif_size(data: bytes) -> tuple[int, int]:
    """The logical screen, grown to the first frame (a frame may be larger than the screen)."""
    width, height, flags = struct.unpack("<HHB", data[6:11])
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # after the global colour table
    while pos < len(data) and data[pos] == 0x21:  # extensions: label, sub-blocks up to a zero length
        pos += 2
        while pos < len(data) and data[pos]:
            pos += data[pos] + 1
        pos += 1
    if data[pos : pos + 1] == b"\x2c" and len(data) >= pos + 9:
        left, top, w, h = struct.unpack("<HHHH", data[pos + 1 : pos + 9])
        return max(width, left + w), max(height, top + h)
    return width, height


def _bmp_size(data: bytes) -> tuple[int, int]:
    if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 core header
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # negative height: stored top-down


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk, body = data[12:16], data[20:30]
    if data[8:12] != b"WEBP":
        return None
    if chunk == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":  # lossy: 14-bit sizes after the start code
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and body[:1] == b"\x2f":  # lossless: 14-bit sizes minus one
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas sizes minus one
        return 1 + int.from_bytes(body[4:7], "little"), 1 + int.from_bytes(body[7:10], "little")
    return None


def _tiff_size(data: bytes) -> tuple[int, int]:
    tags = _tiff_tags(data)
    return tags.get(256, 0), tags.get(257, 0)  # ImageWidth, ImageLength of the first page


def _pnm_size(data: bytes) -> tuple[int, int]:
    """PBM/PGM/PPM (P1-P6), PFM (PF/Pf): width and height after the magic, comments skipped;
    PAM (P7): its WIDTH and HEIGHT lines."""
    head = data[:4096]
    if head[1:2] == b"7":
        tokens = head.split(b"ENDHDR")[0].split()
        return int(tokens[tokens.index(b"WIDTH") + 1]), int(tokens[tokens.index(b"HEIGHT") + 1])
    tokens = re.sub(rb"#[^\n]*", b" ", head[2:]).split()
    return int(tokens[0]), int(tokens[1])


def _sun_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[4:12])


def _hdr_size(data: bytes) -> tuple[int, int]:
    """Radiance HDR: the resolution line after the blank line ending the header (``-Y h +X w``)."""
    head = data[:65536]
    line = head[head.index(b"\n\n") + 2 :].split(b"\n", 1)[0].split()
    dims = {axis[1:2]: int(n) for axis, n in zip(line[0::2], line[1::2])}
    return dims[b"X"], dims[b"Y"]


def _j2k_size(data: bytes) -> tuple[int, int]:
    """A JPEG 2000 codestream: the image area of its SIZ segment."""
    xsiz, ysiz, x0, y0 = struct.unpack(">IIII", data[8:24])
    return xsiz - x0, ysiz - y0


def _jp2_size(data: bytes) -> tuple[int, int] | None:
    for start, _ in _box_payloads(data, (b"jp2h", b"ihdr")):
        height, width = struct.unpack(">II", data[start : start + 8])
        return width, height
    return None


def _isobmff_size(data: bytes) -> tuple[int, int] | None:
    """AVIF/HEIF: the largest image spatial extents (``ispe``) among the item properties."""
    sizes = [struct.unpack(">II", data[s + 4 : s + 12]) for s, _ in _box_payloads(data, (b"meta", b"iprp", b"ipco", b"ispe"))]
    return max(sizes, key=lambda s: s[0] * s[1], default=None)


def _box_payloads(data: bytes, path: tuple[bytes, ...], start: int = 0, end: int | None = None):
    """``(start, end)`` of the payload of every box at ``path`` (ISO base media / JP2 boxes)."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        head = 8
        if size == 1:  # 64-bit size
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            head = 16
        elif size == 0:  # to the end
            size = end - pos
        if size < head:
            return
        if kind == path[0]:
            payload = pos + head + (4 if kind == b"meta" else 0)  # meta: version and flags first
            if len(path) == 1:
                yield payload, min(pos + size, end)
            else:
                yield from _box_payloads(data, path[1:], payload, min(pos + size, end))
        pos += size


SIZE_READERS = (
    (JPEG_SOI, _jpeg_size),
    (b"\x89PNG\r\n\x1a\n", _png_size),
    (b"GIF8", _gif_size),
    (b"BM", _bmp_size),
    (b"RIFF", _webp_size),
    (b"II*\x00", _tiff_size),
    (b"MM\x00*", _tiff_size),
    (b"II+\x00", _tiff_size),
    (b"MM\x00+", _tiff_size),
    (b"\x59\xa6\x6a\x95", _sun_size),
    (b"#?RADIANCE", _hdr_size),
    (b"#?RGBE", _hdr_size),
    (b"\xff\x4f\xff\x51", _j2k_size),
    (b"\x00\x00\x00\x0cjP  ", _jp2_size),
)


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
