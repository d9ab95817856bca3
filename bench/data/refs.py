"""What a sample is (``SampleRef``) and the small helpers every source shares: the media
extensions, and how encoded media is found in and read from a table's cells.

Sources (``bench.data.sources``) and the Hub pull (``bench.data.hub``) both build on this
module; it imports nothing of bench but ``bench.errors``, so the dependency goes one way.
"""

from __future__ import annotations

import os
import stat
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from bench.errors import BenchError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".jp2", ".ppm", ".pgm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".webm")
EXTENSIONS = {"image": IMAGE_EXTENSIONS, "video": VIDEO_EXTENSIONS, "audio": AUDIO_EXTENSIONS}  # a folder source's files, by modality
BYTES_COLUMN_HINTS = ("image", "img", "bytes", "image_bytes", "content", "data", "audio", "video")


@dataclass(frozen=True)
class SampleRef:
    """One sample to score: where its bytes are (``path``) or the bytes themselves (``data``).

    ``problem``: set by the source when the sample must not be read at all (a FIFO, device or
    socket under a folder, a table cell's path outside the source's folder); the decode side
    records it as a data error at stage ``read`` without opening anything. ``sample_id`` is
    always valid UTF-8 (``escape_name``); ``path`` is the real path, the one that opens the file."""

    dataset: str
    media_type: str
    label: int
    sample_id: str
    weight: float = 1.0
    path: str | None = None
    data: bytes | None = None
    problem: str | None = None

    @property
    def shown_path(self) -> str | None:
        """``path`` as valid UTF-8 text (``escape_name``): for records and messages."""
        return None if self.path is None else escape_name(self.path)


# --------------------------------------------------------------------------- names that are not UTF-8

_HEX = set(string.hexdigits)


def escape_name(name: str) -> str:
    """A file name or path as valid UTF-8 text that maps back to its exact bytes (``unescape_name``).

    POSIX names are bytes; ``os.walk`` hands a byte that is not UTF-8 over as a lone surrogate
    (PEP 383), which Parquet, JSON and the terminal refuse. Each such byte becomes ``%XX`` (upper
    case hex), and a ``%`` that is already followed by two hex digits becomes ``%25`` so that the
    mapping stays one to one. Every other name, valid UTF-8 without such a ``%``, is unchanged.
    ``urllib.parse.unquote_to_bytes`` reverses it: ``b"caf\xe9.jpg"`` <-> ``"caf%E9.jpg"``."""
    if name.isascii() and "%" not in name:
        return name
    out = []
    for i, c in enumerate(name):
        code = ord(c)
        if 0xD800 <= code <= 0xDFFF:  # an undecodable byte (surrogateescape) or a stray surrogate
            raw = bytes([code - 0xDC00]) if code >= 0xDC80 else c.encode("utf-8", "surrogatepass")
            out.append("".join(f"%{b:02X}" for b in raw))
        elif c == "%" and name[i + 1 : i + 2] in _HEX and name[i + 2 : i + 3] in _HEX:
            out.append("%25")
        else:
            out.append(c)
    return "".join(out)


def unescape_name(text: str) -> bytes:
    """The exact bytes of a name written by ``escape_name`` (``os.fsdecode`` of them opens the file)."""
    return unquote_to_bytes(text)


def unescape_path(text: str) -> str:
    """The path (as ``os`` functions take it) of a name written by ``escape_name``."""
    return os.fsdecode(unescape_name(text))


# --------------------------------------------------------------------------- files that must not be opened

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


class NotRegularFile(OSError):
    """A path that is a FIFO, device, socket or folder: reading it could block forever or never end."""


def file_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` must never be opened as a sample (a FIFO, device, socket or folder), or None.
    A missing or unreadable file is not judged here: the read reports it."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"not a regular file ({kind}); never opened"


def read_regular_file(path: str | os.PathLike) -> bytes:
    """A regular file's bytes. Opened without blocking (a FIFO swapped in after the listing does
    not hang the open) and checked with ``fstat`` before any read; ``NotRegularFile`` (an
    ``OSError``) for anything else, other ``OSError`` for missing or unreadable files."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "a special file")
            raise NotRegularFile(f"not a regular file ({kind}); never read")
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            return f.read()
    finally:
        if fd >= 0:
            os.close(fd)


def detect_bytes_column(schema: Any, wanted: str | None, where: str) -> str:
    """The column of a ``pyarrow`` schema holding encoded media: the named one, else the only
    binary (or ``{bytes, path}`` struct) column, preferring common names when there are several."""
    import pyarrow as pa

    def is_media(field: Any) -> bool:
        t = field.type
        if pa.types.is_binary(t) or pa.types.is_large_binary(t):
            return True
        return pa.types.is_struct(t) and any(t.field(i).name in ("bytes", "array") for i in range(t.num_fields))

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


def media_bytes(value: Any, base: str | os.PathLike | None = None, allow_external: bool = False) -> bytes | None:
    """Bytes from a binary cell or a ``{bytes, path}`` cell (a path is read as ``read_cell`` reads it)."""
    return read_cell(value, base, allow_external)[0]


def read_cell(value: Any, base: str | os.PathLike | None, allow_external: bool = False) -> tuple[bytes | None, str | None]:
    """``(bytes, problem)`` of a table cell: a binary cell, a ``{bytes, path}`` cell, or a decoded
    audio cell ``{array, sampling_rate}`` (Hugging Face's ``Audio`` feature decoded), which becomes
    the WAV the leaderboard writes of it (``wav_from_array``).

    A cell's ``path`` is read only when its ``bytes`` are empty; it resolves against ``base``,
    the source's own folder, and is refused (``problem`` says why; nothing is opened) when it
    leads outside it, symlinks included, unless ``allow_external`` (the dataset's
    ``allow_external_paths: true``), or when it is not a regular file. A table from elsewhere
    must not make the harness read ``/etc/passwd`` into its records."""
    if value is None:
        return None, None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), None
    if not isinstance(value, dict):
        return None, None
    if value.get("array") is not None and not value.get("bytes"):
        return wav_from_array(value["array"], value.get("sampling_rate") or value.get("sample_rate"))
    if value.get("bytes"):
        return bytes(value["bytes"]), None
    path = value.get("path")
    if not path:
        return None, None
    if not isinstance(path, str) or "\x00" in path:
        return None, f"the cell's path {path!r} is not a file path"
    if not os.path.isabs(path) and base is None:
        return None, f"the cell's path {path!r} is relative and the source has no folder to resolve it against"
    target = os.path.realpath(os.path.join(base, path) if base is not None else path)
    if not allow_external:
        folder = os.path.realpath(base) if base is not None else None
        if folder is None or os.path.commonpath([folder, target]) != folder:
            inside = f"the source's folder {escape_name(folder)}" if folder else "the source (it has no folder)"
            return None, f"the cell's path {escape_name(path)!r} is outside {inside}; set `allow_external_paths: true` in the dataset's source to read it"
    problem = file_problem(target)
    if problem:
        return None, f"the cell's path {escape_name(path)!r}: {problem}"
    try:
        return read_regular_file(target), None
    except OSError as exc:
        return None, f"cannot read the cell's path {escape_name(path)!r}: {exc.strerror or exc}"


def wav_from_array(array: Any, sampling_rate: Any) -> tuple[bytes | None, str | None]:
    """``(bytes, problem)``: a decoded audio array as the leaderboard turns it back into a file:
    ``soundfile.write(buffer, float32 array, rate, format="WAV")``, whose default is 16-bit PCM
    (libsndfile: ``lrintf(x * 32767)``, wrapping outside [-1, 1] as its unclipped conversion
    does); rate 16000 when the cell has none. ``(samples,)`` is mono, ``(samples, channels)``
    interleaved. The harness then decodes that file like any other, through the same resampler."""
    import struct

    import numpy as np

    try:
        x = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError):
        return None, "the cell's audio array is not numeric"
    rate = sampling_rate if isinstance(sampling_rate, int) and not isinstance(sampling_rate, bool) else 16000
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or not 1 <= x.shape[1] <= 8 or rate <= 0:
        return None, f"the cell's audio array has shape {list(x.shape)} at {rate} Hz; expected (samples,) or (samples, channels) at a positive rate"
    scaled = np.clip(np.rint(np.nan_to_num(x.astype(np.float64) * 32767.0, nan=0.0, posinf=0.0, neginf=0.0)), -(2**31), 2**31 - 1)
    pcm = (scaled.astype(np.int64) & 0xFFFF).astype(np.uint16).view("<i2")
    channels = x.shape[1]
    data = pcm.tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data, None
