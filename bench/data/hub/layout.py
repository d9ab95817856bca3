"""Where the pulled Hub datasets live: the cache root and each dataset's folder in it.

Per dataset: ``<cache_dir>/<name>/files/<repo path>`` (downloaded files, as published: archives,
parquet shards, loose media), ``<cache_dir>/<name>/media/<archive path>/<member>`` (the original
bytes of the chosen archive members) and ``<cache_dir>/<name>/manifest.json`` (the samples: a
media file, or a parquet file + row + column). Nothing is re-encoded.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path


def default_hub_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/bench/hub`` (``~/.cache/bench/hub``): beside bench's sample cache."""
    from bench.cache import default_cache_dir  # here: bench.cache imports numpy, which parsing does not need

    return default_cache_dir().parent / "hub"


def cache_root_of(src: dict, declared_in: str = "") -> Path:
    """The cache root a registry entry's ``source:`` names; a relative ``cache_dir`` is relative
    to the registry file that declares it."""
    value = src.get("cache_dir")
    if not value:
        return default_hub_cache_dir()
    p = Path(str(value)).expanduser()
    if not p.is_absolute() and declared_in:
        p = Path(declared_in).resolve().parent / p
    return p.resolve()


def dataset_dir(cache_root: str | os.PathLike, name: str) -> Path:
    """``<cache_root>/<name>``, with a name that is safe as a folder name."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    if safe != name or safe.startswith("."):
        safe = f"{safe.lstrip('.')}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return Path(cache_root) / safe
