"""The remote side of a pull, through one fsspec file system: listing a repository and
resumable, verified downloads of its files into the cache.

``huggingface_hub.HfFileSystem`` by default (paths ``datasets/<repo>/<file>``). Any fsspec file
system that answers the same paths works the same way, e.g. ``DirFileSystem(path=<folder holding
datasets/<org>/<name>/...>, fs=LocalFileSystem())``: that is how the tests pull from a Hub-like
folder through this code.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.hub.failures import FileError, PullError, exc_reason

CHUNK = 8 << 20  # bytes per read while downloading (one ranged request on the Hub)
RETRIES = 3  # tries per file (each resumes from what the previous one left)
RETRY_WAIT_S = 2.0
MAX_FILE_FAILURES = 10  # a dataset stops trying new files after this many failed (network down, say)


@dataclass
class Stats:
    downloaded: int = 0
    resumed: int = 0
    refetched: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for key, n in counts.items():
                setattr(self, key, getattr(self, key) + n)



def list_repo(fs, root: str, repo: str) -> dict[str, dict]:
    """{path inside the repository: info} for every file of the repository."""
    missing = f"dataset repository {repo!r} not found on the Hub (a private or gated one needs `hf auth login` and accepted terms)"
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        raise PullError(missing) from None
    except Exception as exc:  # network, offline mode, authentication: the library's own message says which
        raise PullError(f"cannot list {repo!r}: {exc_reason(exc)}") from None
    prefix = root.rstrip("/") + "/"
    listing = {}
    for name, info in found.items():
        name = name.lstrip("/")
        if info.get("type", "file") == "file" and name.startswith(prefix):
            listing[name[len(prefix):]] = info
    if not listing:
        try:
            exists = fs.exists(root)
        except Exception:
            exists = False
        raise PullError(f"dataset repository {repo!r} has no files" if exists else missing)
    return listing


def fetch_file(fs, rpath: str, rel: str, info: dict, dest_dir: Path, bar, stats: Stats) -> tuple[Path, dict]:
    """Download ``rpath`` to ``dest_dir/rel`` (through ``.part``, resumable) and verify its size
    and hash; reuse a verified earlier download. Returns the path and the file's manifest row."""
    if stats.failed >= MAX_FILE_FAILURES:
        raise FileError(f"{rel}: not tried: {MAX_FILE_FAILURES} files of this dataset failed already")
    safe = safe_relpath(rel)
    if safe is None:
        raise FileError(f"{rel}: unsafe path, not downloaded")
    dest = dest_dir / safe
    size = info.get("size")
    size = int(size) if size is not None else None
    try:
        expected = _expected_digest(fs, rpath, info)
    except Exception as exc:
        raise FileError(f"{rel}: cannot read it: {exc_reason(exc)}") from None
    if dest.is_file():
        if size is None or dest.stat().st_size == size:
            digests = _digests(dest)
            if expected is None or digests[expected[0]] == expected[1]:
                bar.update(dest.stat().st_size)
                return dest, _file_row(rel, dest, digests, expected)
        dest.unlink()  # stale or damaged: fetch again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last = "no attempt"
    for attempt in range(RETRIES):
        if attempt:
            time.sleep(RETRY_WAIT_S * attempt)
        try:
            _download(fs, rpath, part, size, bar, stats)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # the connection dropped, the server refused: try again from the .part
            last = exc_reason(exc)
            continue
        got = part.stat().st_size
        if size is not None and got != size:
            last = f"size mismatch: {got} bytes, the listing says {size}"
            part.unlink()
            stats.add(refetched=1)
            continue
        digests = _digests(part)
        if expected is not None and digests[expected[0]] != expected[1]:
            last = f"{expected[0]} mismatch: got {digests[expected[0]][:12]}..., the listing says {expected[1][:12]}..."
            part.unlink()
            stats.add(refetched=1)
            continue
        os.replace(part, dest)
        return dest, _file_row(rel, dest, digests, expected)
    raise FileError(f"{rel}: {last} (after {RETRIES} tries)")


def _download(fs, rpath: str, part: Path, size: int | None, bar, stats: Stats) -> None:
    """Append the missing bytes of ``rpath`` to ``part``: continue from its size with a ranged
    read when the file system can seek, else start over."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        offset = 0
    if size is not None and offset == size:
        bar.update(offset)
        return  # complete already; the hash check decides
    with fs.open(rpath, "rb", block_size=CHUNK, cache_type="none") as src:
        if offset:
            try:
                src.seek(offset)
                if src.tell() != offset:
                    raise OSError("seek did not move")
            except (OSError, ValueError, io.UnsupportedOperation):
                offset = 0
            else:
                stats.add(resumed=1)
                bar.update(offset)
        with open(part, "r+b" if offset else "wb") as dst:
            dst.seek(offset)
            dst.truncate()
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                dst.write(chunk)
                bar.update(len(chunk))
                stats.add(downloaded=len(chunk))
                if size is not None and dst.tell() > size:
                    break  # longer than listed: the size check rejects it


def _expected_digest(fs, rpath: str, info: dict) -> tuple[str, str] | None:
    """What the listing says the file hashes to: the LFS sha256 on the Hub, the git blob sha1 of
    a small non-LFS file; for a local file system, the source file's own sha256."""
    lfs = info.get("lfs")
    if isinstance(lfs, dict) and lfs.get("sha256"):
        return "sha256", str(lfs["sha256"]).lower()
    if info.get("blob_id") and not lfs:
        return "git-sha1", str(info["blob_id"]).lower()
    if _is_local(fs):
        h = hashlib.sha256()
        with fs.open(rpath, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        return "sha256", h.hexdigest()
    return None


def _is_local(fs) -> bool:
    while fs is not None:
        protocol = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
        if "file" in protocol or "local" in protocol:
            return True
        fs = getattr(fs, "fs", None)  # wrappers (DirFileSystem and the like)
    return False


def _digests(path: Path) -> dict[str, str]:
    """sha256 and git blob sha1 of a file, in one pass."""
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha256.update(chunk)
            sha1.update(chunk)
    return {"sha256": sha256.hexdigest(), "git-sha1": sha1.hexdigest()}


def _file_row(rel: str, path: Path, digests: dict[str, str], expected) -> dict:
    return {"path": rel, "size": path.stat().st_size, "sha256": digests["sha256"], "verified": expected[0] if expected else "size"}


def safe_relpath(name: str) -> str | None:
    """A relative POSIX path with no ``..``, no root, no drive; None when it is not safe."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or any(ord(c) < 32 for c in name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)

