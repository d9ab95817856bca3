"""What a sample is (``SampleRef``) and the small helpers every source shares: the media
extensions, and how encoded media is found in and read from a table's cells.

Sources (``bench.data.sources``) and the Hub pull (``bench.data.hub``) both build on this
module; it imports nothing of bench but ``bench.errors``, so the dependency goes one way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jp2", ".ppm", ".pgm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")
BYTES_COLUMN_HINTS = ("image", "img", "bytes", "image_bytes", "content", "data")


@dataclass(frozen=True)
class SampleRef:
    """One sample to score: where its bytes are (``path``) or the bytes themselves (``data``)."""

    dataset: str
    media_type: str
    label: int
    sample_id: str
    weight: float = 1.0
    path: str | None = None
    data: bytes | None = None


def detect_bytes_column(schema: Any, wanted: str | None, where: str) -> str:
    """The column of a ``pyarrow`` schema holding encoded media: the named one, else the only
    binary (or ``{bytes, path}`` struct) column, preferring common names when there are several."""
    import pyarrow as pa

    def is_media(field: Any) -> bool:
        t = field.type
        if pa.types.is_binary(t) or pa.types.is_large_binary(t):
            return True
        return pa.types.is_struct(t) and any(t.field(i).name == "bytes" for i in range(t.num_fields))

    names = [f.name for f in schema]
    if wanted:
        if wanted not in names:
            raise BenchError(f"column {wanted!r} not in {where}; columns: {', '.join(names)}")
        return wanted
    media = [f.name for f in schema if is_media(f)]
    if len(media) == 1:
        return media[0]
    for hint in BYTES_COLUMN_HINTS:
        if hint in media:
            return hint
    if not media:
        raise BenchError(f"no column of encoded bytes in {where} (columns: {', '.join(names)}); store the media as binary or {{bytes, path}}")
    raise BenchError(f"several byte columns in {where} ({', '.join(media)}); name one with `source.column`")


def media_bytes(value: Any) -> bytes | None:
    """Bytes from a binary cell or a ``{bytes, path}`` cell (reading the path when bytes are empty)."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"])
        if value.get("path") and os.path.isfile(value["path"]):
            with open(value["path"], "rb") as f:
                return f.read()
    return None
