"""Folder sources at a URL, through fsspec: ``hf://``, ``s3://``, ``gs://``, ``file://`` ... (the
protocol's fsspec package installed: huggingface_hub, s3fs, gcsfs). The driver lists the files;
whoever prepares a sample (a worker thread, a Ray decode task on another node) reads its bytes
by URL, so every node reads the source itself."""

from __future__ import annotations

import re

from bench.errors import BenchError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str | None) -> bool:
    return isinstance(path, str) and bool(_URL.match(path))


def filesystem(url: str):
    """``(fs, path inside it)``; a one-line error when the protocol's package is missing."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise BenchError(f"cannot open {url}: {exc}") from None
    except ValueError as exc:  # an unknown protocol
        raise BenchError(f"cannot open {url}: {exc}; use a local path or a URL fsspec knows (hf://, s3://, gs://, file://)") from None


def list_files(url: str, extensions: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(relative path, URL)`` of the files under ``url`` with one of the extensions, sorted by
    relative path; hidden files and folders skipped."""
    fs, root = filesystem(url)
    try:
        if not fs.isdir(root):
            raise BenchError(f"dataset folder not found: {url}; fix `source.path` in the dataset's YAML")
        found = fs.find(root, detail=False)
    except BenchError:
        raise
    except Exception as exc:  # the file system's own errors: permissions, network, credentials
        raise BenchError(f"cannot list {url}: {type(exc).__name__}: {exc}; check the URL and the credentials for its storage") from None
    prefix = root.rstrip("/") + "/"
    out = []
    for path in found:
        rel = path[len(prefix):] if path.startswith(prefix) else path
        if any(part.startswith(".") for part in rel.split("/")) or not rel.lower().endswith(extensions):
            continue
        out.append((rel, fs.unstrip_protocol(path)))
    return sorted(out)


def read_url(url: str) -> bytes:
    from bench.data.decode import DataError

    fs, path = filesystem(url)
    try:
        with fs.open(path, "rb") as f:
            return f.read()
    except Exception as exc:  # the file system's own errors, as a data error of this sample
        raise DataError("read", f"cannot read {url}: {type(exc).__name__}: {exc}") from None


def identity(url: str) -> str | None:
    """What the cache keys a URL's bytes by: the URL and the file system's unique key (size,
    modification time or ETag); None when the file system cannot say."""
    try:
        fs, path = filesystem(url)
        return f"url:{url}:{fs.ukey(path)}"
    except Exception:  # no identity: the sample is decoded, not cached
        return None
