"""Which files of a Hub repository a pull takes: path filters, ``source_format`` (or the
auto-detected family), and a seeded choice of containers and loose media files.

Selection is seeded per dataset and file, ``(seed, dataset name, file path)``, so it does not
depend on listing order, on other datasets or on threads: same seed, same samples.
"""

from __future__ import annotations

import fnmatch
import hashlib
import random
from typing import Any

from bench.data.hub.failures import PullError
from bench.data.hub.registry_format import TAR_FORMATS, HubEntry, format_kind, media_extensions

AUTO_ORDER = ("parquet", "zip", "tar", "media")  # what an empty source_format looks for, in order
CONTAINER_KINDS = ("parquet", "zip", "tar")


def _path_matches(rel: str, pattern: str) -> bool:
    """A pattern with ``* ? [`` is a glob over the whole path; otherwise a substring."""
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(rel, pattern)
    return pattern in rel


def _file_kind(rel: str, fmt: str, modality: str) -> str | None:
    low = rel.lower()
    kind = format_kind(fmt, modality)
    if kind == "tar":
        return kind if low.endswith(tuple(f".{t}" for t in TAR_FORMATS)) else None
    if kind == "media" and fmt in ("jpg", "jpeg"):  # one format, two spellings
        return kind if low.endswith((".jpg", ".jpeg")) else None
    return kind if kind and low.endswith(f".{fmt}") else None


def match_files(listing: dict[str, dict], entry: HubEntry) -> tuple[dict[str, str], list[str]]:
    """{repo path: kind} of the files to choose from, and the formats they were matched by."""
    candidates = [rel for rel in sorted(listing)
                  if (not entry.include_paths or any(_path_matches(rel, p) for p in entry.include_paths))
                  and not any(_path_matches(rel, p) for p in entry.exclude_paths)]
    if entry.source_format:
        formats = entry.source_format
    else:  # auto-detect: the first family with files, in the public benchmark's order
        formats = []
        for family in AUTO_ORDER:
            options = {"parquet": ["parquet"], "zip": ["zip"], "tar": ["tar"]}.get(family) or [e.lstrip(".") for e in media_extensions(entry.modality)]
            if any(_file_kind(rel, f, entry.modality) for rel in candidates for f in options):
                formats = options if family != "media" else sorted({rel.lower().rsplit(".", 1)[-1] for rel in candidates if any(_file_kind(rel, f, entry.modality) for f in options)})
                break
    kinds = {}
    for rel in candidates:
        for fmt in formats:
            kind = _file_kind(rel, fmt, entry.modality)
            if kind:
                kinds[rel] = kind
                break
    if not kinds:
        wanted = ", ".join(entry.source_format) or f"any of parquet, zip, tar, {entry.modality} files (auto-detect)"
        filters = "".join([f"; include_paths {entry.include_paths}" * bool(entry.include_paths), f"; exclude_paths {entry.exclude_paths}" * bool(entry.exclude_paths)])
        raise PullError(f"no file of {entry.repo!r} matches source_format {wanted}{filters} ({len(listing)} files in the repository, {len(candidates)} after the path filters)")
    return kinds, list(formats)


def seeded_rng(seed: int, *keys: Any) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(k) for k in (seed, *keys)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def choose_files(entry: HubEntry, kinds: dict[str, str], seed: int, per_dataset: int | None) -> tuple[list[str], list[str]]:
    """Containers (archives, shards) and loose media files to fetch, in a seeded order.

    ``archives_per_dataset`` containers; loose files count as media: ``media_per_archive *
    archives_per_dataset`` of them (all when either is -1), as the public benchmark counts them."""
    containers = sorted(rel for rel, k in kinds.items() if k in CONTAINER_KINDS)
    loose = sorted(rel for rel, k in kinds.items() if k == "media")
    containers = seeded_rng(seed, entry.name, "files").sample(containers, len(containers))
    if entry.archives_per_dataset != -1:
        containers = containers[: entry.archives_per_dataset]
    loose = seeded_rng(seed, entry.name, "media").sample(loose, len(loose))
    if entry.media_per_archive != -1 and entry.archives_per_dataset != -1:
        loose = loose[: entry.media_per_archive * entry.archives_per_dataset]
    if per_dataset is not None:
        loose = loose[:per_dataset]
    return containers, loose
