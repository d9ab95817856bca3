"""A cache of preprocessed samples: the pixels after decode and geometry (before augmentation),
so a second run, another checkpoint of the same size or another batch size skips decoding.

One file per sample, read back as a memory-mapped ``uint8`` array (``float32`` for audio). The key covers the source's
identity (path, inode, size, modification and change times; or a hash of the bytes for parquet
and Hugging Face rows) and everything that shapes the pixels (H, W, geometry, interpolation, frame
rule and T, the decoder version). Each file carries its key and a CRC32 of its header and pixels;
an entry that is truncated, corrupted, forged, written for another key, or not a regular file at
all (a FIFO, a folder, a symlink) is a miss: deleted and rebuilt, never used, a FIFO never opened
for a blocking read.

The folder is kept under a size cap by evicting the least recently used files. Its size is kept
in a ledger file (``.size``) updated under an exclusive lock by every process using the folder,
so concurrent runs keep it within the cap together; eviction rescans the folder and rewrites the
ledger, tolerating files that vanish under it. A folder that cannot hold a cache (read-only, full,
not creatable) disables the cache with one notice: the run goes on, decoding every sample.

File layout: ``MAGIC``, a little-endian ``uint32`` header length and ``uint32`` CRC32 of the
header then the pixels, the JSON header ``{key, shape, frames}`` (and ``dtype: float32`` for a waveform), zero padding to 64 bytes, then
the raw pixels.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import stat
import struct
import tempfile
import threading
import zlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from bench.messages import notice

try:
    import fcntl
except ImportError:  # Windows: the folder's lock holds between this process's threads only
    fcntl = None

MAGIC = b"BENCHCACHE2\n"
PREFIX = struct.Struct("<II")  # header length, CRC32 of header + pixels
FORMAT = "pixels-v1"  # bump when decoding or geometry changes what a key's pixels are
ALIGN = 64
MAX_HEADER = 4096
LEDGER = ".size"
# never follow a symlink, never block opening a FIFO
READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
_told: set[str] = set()  # folders whose being unusable was said (one notice however many views use them)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bench" / "samples"


def source_identity(ref) -> str | None:
    """What makes a sample's bytes what they are: (path, inode, size, mtime, ctime) for files (an
    image replaced by another of the same size with its mtime kept, as ``cp -p`` or ``rsync -t``
    leave it, has another inode or change time), a hash of the bytes when they came from a table.
    None when the file cannot be stat'ed (no caching)."""
    if ref.data is not None:
        return "bytes:" + hashlib.blake2b(ref.data, digest_size=16).hexdigest()
    from bench.data.remote import identity, is_url

    if is_url(ref.path):
        return identity(ref.path)
    try:
        st = os.stat(ref.path)
    except OSError:
        return None
    return f"file:{os.path.realpath(ref.path)}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    rebuilt: int = 0  # entries found corrupt or stale, deleted and rebuilt
    evicted: int = 0
    disabled: str | None = None  # why the folder could not hold a cache (the run went on without it)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "rebuilt": self.rebuilt, "evicted": self.evicted}

    def absorb(self, counts: dict[str, int], disabled: str | None = None) -> None:
        """Add counts made elsewhere (another process's use of the same cache: a Ray decode task)."""
        with self.lock:
            for what, n in counts.items():
                setattr(self, what, getattr(self, what) + n)
            self.disabled = self.disabled or disabled

    def to_json(self) -> dict:
        counts = self.counts()
        return counts if self.disabled is None else counts | {"enabled": False, "disabled": self.disabled}


class SampleCache:
    """``get`` and ``put`` by key; safe across threads and across processes sharing the folder.
    Never raises for the folder's sake: an unusable folder disables the cache (``disabled``)."""

    def __init__(self, root: str | Path, max_bytes: int, params: dict):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.params = json.dumps({"format": FORMAT} | params, sort_keys=True)
        self.stats = CacheStats()
        self._lock = threading.Lock()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._locked(lambda: 0, rescan=True)  # what earlier runs left; trimmed to a smaller cap than theirs
        except OSError as exc:
            self._disable(exc)

    def __getstate__(self) -> dict:
        """Sent to another process (a Ray decode task): the same folder and params, with its own
        lock and counters there (returned to the driver with ``absorb``)."""
        state = self.__dict__.copy()
        del state["_lock"]
        state["stats"] = CacheStats(disabled=self.stats.disabled)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        try:  # another node: its own cache in the same place (the cache is per node)
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._disable(exc)

    @property
    def disabled(self) -> str | None:
        return self.stats.disabled

    def key(self, identity: str) -> str:
        """The entry name for a source identity (``source_identity``) under this cache's params.
        Paths that are not UTF-8 (surrogates in the str) are encoded losslessly, never refused."""
        text = f"{self.params}\x1f{identity}".encode("utf-8", "surrogatepass")
        return hashlib.blake2b(text, digest_size=20).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.px"

    def get(self, key: str) -> tuple[np.ndarray, list[int] | None] | None:
        """The cached pixels (memory-mapped, verified) and frame indices, or None. An entry another
        run evicts while it is read is still served: the open file keeps the bytes verified."""
        if self.disabled:
            return None
        path = self._path(key)
        try:
            fd = os.open(path, READ_FLAGS)
        except FileNotFoundError:
            self.stats.count("misses")
            return None
        except OSError:  # a symlink (not followed), or unreadable
            return self._rebuild(path)
        try:
            with os.fdopen(fd, "rb") as f:
                pixels, frames = _read_entry(f, key)
                with suppress(OSError):  # recently used: evicted last (best effort)
                    os.utime(f.fileno() if os.utime in os.supports_fd else path)
        except (OSError, ValueError, RecursionError):
            return self._rebuild(path)
        self.stats.count("hits")
        return pixels, frames

    def put(self, key: str, pixels: np.ndarray, frames: list[int] | None = None) -> None:
        if self.disabled:
            return
        pixels = np.ascontiguousarray(pixels, dtype=np.float32 if pixels.dtype == np.float32 else np.uint8)
        entry = {"key": key, "shape": list(pixels.shape), "frames": frames} | ({"dtype": "float32"} if pixels.dtype == np.float32 else {})
        header = json.dumps(entry).encode()
        head = MAGIC + PREFIX.pack(len(header), zlib.crc32(pixels, zlib.crc32(header))) + header
        offset = _data_offset(len(header))
        path = self._path(key)
        try:
            path.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        except OSError as exc:
            self._disable(exc)
            return
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(head.ljust(offset, b"\0"))
                f.write(pixels.data)
            self._locked(lambda: _replace(tmp, path, offset + pixels.nbytes))
        except OSError as exc:
            with suppress(OSError):
                os.unlink(tmp)
            self._disable(exc)

    def _rebuild(self, path: Path) -> None:
        """A malformed entry: a miss, deleted (whatever it is) so that the next ``put`` replaces it."""

        def remove() -> int:
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path)
                return 0
            os.unlink(path)
            return -st.st_size if stat.S_ISREG(st.st_mode) else 0

        with suppress(OSError):
            self._locked(remove)
        self.stats.count("rebuilt")
        self.stats.count("misses")

    def _locked(self, change: Callable[[], int], rescan: bool = False) -> None:
        """Run ``change`` (it returns the bytes it added to the folder, negative when it freed some)
        under the folder's lock, held by threads and processes alike; keep the ledger; evict over
        the cap. The ledger is rebuilt from a scan when asked or when it is unreadable."""
        with self._lock, os.fdopen(os.open(self.root / LEDGER, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644), "r+b") as ledger:
            if fcntl is not None:
                fcntl.flock(ledger, fcntl.LOCK_EX)  # released when the ledger is closed
            delta = change()
            recorded = ledger.read(32).strip()
            total = int(recorded) + delta if recorded.isdigit() and not rescan else _folder_size(self.root)
            if total > self.max_bytes:
                total = self._evict()
            ledger.seek(0)
            ledger.truncate()
            ledger.write(b"%d" % total)

    def _evict(self) -> int:
        """Delete least recently used files until the folder is at 90% of the cap; its new size.
        Runs under the folder's lock; files deleted meanwhile by others are simply gone."""
        entries = sorted(_entries(self.root))
        total = sum(size for _, size, _ in entries)
        target = int(self.max_bytes * 0.9)
        for _, size, path in entries:
            if total <= target:
                break
            try:
                os.unlink(path)
                self.stats.count("evicted")
            except FileNotFoundError:
                pass  # deleted meanwhile: gone all the same
            except OSError:
                continue
            total -= size
        return total

    def _disable(self, exc: OSError) -> None:
        """The folder cannot hold a cache: go on without one, and say so once."""
        reason = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc.strerror or exc)
        with self._lock:
            if self.stats.disabled is not None:
                return
            self.stats.disabled = reason
        if str(self.root) not in _told:
            _told.add(str(self.root))
            notice(f"sample cache {self.root} is unusable ({reason}); running without it, decoding every sample (free space or make it writable, set cache_dir, or pass --no-cache)")


def _read_entry(f: BinaryIO, key: str) -> tuple[np.ndarray, list[int] | None]:
    """The verified pixels and frames of an open entry; ``ValueError`` for anything malformed.
    The header is checked before anything is mapped: a forged shape never reaches numpy."""
    st = os.fstat(f.fileno())
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("not a regular file")
    head = f.read(len(MAGIC) + PREFIX.size)
    if len(head) != len(MAGIC) + PREFIX.size or head[: len(MAGIC)] != MAGIC:
        raise ValueError("bad magic")
    n, crc = PREFIX.unpack(head[len(MAGIC) :])
    if n > MAX_HEADER:
        raise ValueError("header too long")
    raw = f.read(n)
    header = json.loads(raw)
    if not isinstance(header, dict) or header.get("key") != key:
        raise ValueError("written for another key")
    shape, frames = header.get("shape"), header.get("frames")
    if not isinstance(shape, list) or not shape or not all(type(d) is int and d > 0 for d in shape):
        raise ValueError("bad shape")
    if frames is not None and not (isinstance(frames, list) and all(type(i) is int and i >= 0 for i in frames)):
        raise ValueError("bad frames")
    if header.get("dtype", "uint8") not in ("uint8", "float32"):
        raise ValueError("bad dtype")
    dtype = np.dtype(header.get("dtype", "uint8"))  # uint8 pixels; float32 waveforms (audio)
    offset = _data_offset(n)
    if st.st_size != offset + math.prod(shape) * dtype.itemsize:
        raise ValueError("length does not match the shape")
    pixels = np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=tuple(shape))
    if zlib.crc32(pixels, zlib.crc32(raw)) != crc:
        raise ValueError("checksum mismatch")
    return pixels, frames


def _replace(tmp: str, path: Path, size: int) -> int:
    """Move a written entry into place; the bytes this adds to the folder (less what it replaced)."""
    try:
        st = os.lstat(path)
        old = st.st_size if stat.S_ISREG(st.st_mode) else 0
    except FileNotFoundError:
        old = 0
    os.replace(tmp, path)
    return size - old


def _folder_size(root: Path) -> int:
    return sum(size for _, size, _ in _entries(root))


def _entries(root: Path) -> list[tuple[int, int, str]]:
    """``(mtime_ns, size, path)`` of every entry (a regular file ``root/ab/<key>.px``): one
    scandir pass over the subfolders; an entry or a subfolder deleted meanwhile is skipped."""
    found = []
    with os.scandir(root) as subs:
        for sub in subs:
            if not sub.is_dir(follow_symlinks=False):
                continue
            try:
                with os.scandir(sub.path) as files:
                    for e in files:
                        if not e.name.endswith(".px") or not e.is_file(follow_symlinks=False):
                            continue
                        with suppress(FileNotFoundError):
                            st = e.stat(follow_symlinks=False)
                            found.append((st.st_mtime_ns, st.st_size, e.path))
            except (FileNotFoundError, NotADirectoryError):
                continue
    return found


def _data_offset(header_len: int) -> int:
    start = len(MAGIC) + PREFIX.size + header_len
    return (start + ALIGN - 1) // ALIGN * ALIGN
