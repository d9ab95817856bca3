"""A cache of preprocessed samples: the pixels after decode and geometry (before augmentation),
so a second run, another checkpoint of the same size or another batch size skips decoding.

One file per sample, read back as a memory-mapped ``uint8`` array. The key covers the source's
identity (path, size and change time; or a hash of the bytes for parquet and Hugging Face rows)
and everything that shapes the pixels (H, W, geometry, interpolation, frame rule and T, the
decoder version). Each file carries its key and a CRC32 of its pixels: a file that is truncated,
corrupted, or written for another key is detected, deleted and rebuilt, never used. The folder
is kept under a size cap by evicting the least recently used files.

File layout: ``MAGIC``, a 4-byte little-endian header length, a JSON header
``{key, shape, crc32, frames}``, padding to 64 bytes, then the raw pixels.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"BENCHCACHE1\n"
FORMAT = "pixels-v1"  # bump when decoding or geometry changes what a key's pixels are
ALIGN = 64


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bench" / "samples"


def source_identity(ref) -> str | None:
    """What makes a sample's bytes what they are: (path, size, mtime) for files, a hash of the
    bytes when they came from a table. None when the file cannot be stat'ed (no caching)."""
    if ref.data is not None:
        return "bytes:" + hashlib.blake2b(ref.data, digest_size=16).hexdigest()
    try:
        st = os.stat(ref.path)
    except OSError:
        return None
    return f"file:{os.path.realpath(ref.path)}:{st.st_size}:{st.st_mtime_ns}"


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    rebuilt: int = 0  # entries found corrupt or stale, deleted and rebuilt
    evicted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)

    def to_json(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "rebuilt": self.rebuilt, "evicted": self.evicted}


class SampleCache:
    def __init__(self, root: str | Path, max_bytes: int, params: dict):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.params = json.dumps({"format": FORMAT} | params, sort_keys=True)
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)
        self._size = sum(size for _, size, _ in _entries(self.root))  # what earlier runs left
        if self._size > self.max_bytes:  # a smaller cap than theirs
            self._evict()

    def key(self, identity: str) -> str:
        """The entry name for a source identity (``source_identity``) under this cache's params."""
        return hashlib.blake2b(f"{self.params}\x1f{identity}".encode(), digest_size=20).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.px"

    def get(self, key: str) -> tuple[np.ndarray, list[int] | None] | None:
        """The cached pixels (memory-mapped, verified) and frame indices, or None."""
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                head = f.read(len(MAGIC) + 4)
                if head[: len(MAGIC)] != MAGIC:
                    raise ValueError("bad magic")
                (n,) = struct.unpack("<I", head[len(MAGIC) :])
                header = json.loads(f.read(n))
            offset = _data_offset(n)
            shape = tuple(header["shape"])
            pixels = np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=shape)
            if header["key"] != key or zlib.crc32(pixels) != header["crc32"]:
                raise ValueError("key or checksum mismatch")
        except FileNotFoundError:
            self.stats.count("misses")
            return None
        except (OSError, ValueError, KeyError, TypeError, struct.error, json.JSONDecodeError):
            self._drop(path)
            self.stats.count("rebuilt")
            self.stats.count("misses")
            return None
        os.utime(path)  # recently used: evicted last
        self.stats.count("hits")
        return pixels, header.get("frames")

    def put(self, key: str, pixels: np.ndarray, frames: list[int] | None = None) -> None:
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        header = json.dumps({"key": key, "shape": list(pixels.shape), "crc32": zlib.crc32(pixels), "frames": frames}).encode()
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        offset = _data_offset(len(header))
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + struct.pack("<I", len(header)) + header)
                f.write(b"\0" * (offset - f.tell()))
                f.write(pixels.data)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            return  # a full disk or a read-only folder: run on without caching this sample
        with self._lock:
            self._size += offset + pixels.nbytes  # the file's size, without a stat another run's eviction could race
            over = self._size > self.max_bytes
        if over:
            self._evict()

    def _drop(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError:
            return
        with self._lock:
            self._size -= size

    def _evict(self) -> None:
        """Delete least recently used files until the folder is at 90% of the cap."""
        with self._lock:
            entries = sorted(_entries(self.root))
            total = sum(size for _, size, _ in entries)
            target = int(self.max_bytes * 0.9)
            for _, size, path in entries:
                if total <= target:
                    break
                try:
                    os.unlink(path)
                except OSError:
                    continue
                total -= size
                self.stats.count("evicted")
            self._size = total


def _entries(root: Path) -> list[tuple[int, int, str]]:
    """``(mtime_ns, size, path)`` of every entry (``root/ab/<key>.px``): one scandir pass over the
    subfolders; an entry deleted meanwhile (another run evicting) is skipped."""
    found = []
    with os.scandir(root) as subs:
        for sub in subs:
            if not sub.is_dir():
                continue
            with os.scandir(sub.path) as files:
                for e in files:
                    if not e.name.endswith(".px"):
                        continue
                    try:
                        st = e.stat()
                    except FileNotFoundError:
                        continue
                    found.append((st.st_mtime_ns, st.st_size, e.path))
    return found


def _data_offset(header_len: int) -> int:
    start = len(MAGIC) + 4 + header_len
    return (start + ALIGN - 1) // ALIGN * ALIGN
