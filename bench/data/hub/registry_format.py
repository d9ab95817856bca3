"""The public benchmark's dataset registry format: ``datasets: [{name, path, modality, media_type,
source_format, include_paths, exclude_paths, data_columns, media_per_archive,
archives_per_dataset, ...}]`` where ``path`` is a Hub dataset repository. Each entry is read,
validated and normalised into a ``HubEntry``, with an account of what became of it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.data.hub.layout import cache_root_of
from bench.data.refs import EXTENSIONS
from bench.errors import BenchError
from bench.modalities import names as modality_names

MODALITIES = tuple(modality_names())  # the modality seam's registry: one list
MEDIA_TYPES = ("real", "synthetic", "semisynthetic")
# fields of a public registry entry that this module reads; anything else is kept and ignored
KNOWN_FIELDS = {
    "name", "path", "modality", "media_type", "source_format", "include_paths", "exclude_paths",
    "data_columns", "media_per_archive", "archives_per_dataset", "source", "notes",
    "filter_column", "filter_value", "image_columns",
}
DEFAULT_MEDIA_PER_ARCHIVE = 100  # the public benchmark's defaults when an entry leaves them out
DEFAULT_ARCHIVES_PER_DATASET = 5
TAR_FORMATS = ("tar", "tar.gz", "tgz", "tar.bz2", "tbz2", "tar.xz", "txz")


TAGGED_FIELDS = ("generator", "generator_family", "generator_variant", "content_category")  # kept as dataset tags by `datasets import` (for `bench run --by`)


@dataclass
class HubEntry:
    """One dataset of a public registry, validated and normalised."""

    name: str
    repo: str
    modality: str
    media_type: str
    source_format: list[str] = field(default_factory=list)  # lower case, no dot; [] = auto-detect
    include_paths: list[str] = field(default_factory=list)
    exclude_paths: list[str] = field(default_factory=list)
    data_columns: list[str] = field(default_factory=list)
    media_per_archive: int = DEFAULT_MEDIA_PER_ARCHIVE  # -1: all
    archives_per_dataset: int = DEFAULT_ARCHIVES_PER_DATASET  # -1: all
    filter_column: str | None = None
    filter_value: Any = None
    description: str = ""
    cache_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    unsupported: str | None = None  # why this entry cannot be pulled, when it cannot

    def source(self, cache_dir: str | os.PathLike) -> dict[str, Any]:
        """The ``source:`` mapping of bench's registry entry for this dataset."""
        src: dict[str, Any] = {
            "type": "hub",
            "repo": self.repo,
            "cache_dir": str(cache_dir),
            "source_format": list(self.source_format),
            "include_paths": list(self.include_paths),
            "exclude_paths": list(self.exclude_paths),
            "data_columns": list(self.data_columns),
            "media_per_archive": self.media_per_archive,
            "archives_per_dataset": self.archives_per_dataset,
        }
        if self.filter_column is not None:
            src["filter_column"] = self.filter_column
            src["filter_value"] = self.filter_value
        if self.extra:
            src["extra"] = dict(self.extra)
        return src

    @classmethod
    def from_spec(cls, spec) -> HubEntry:
        """The entry behind a bench ``DatasetSpec`` whose ``source.type`` is ``hub``."""
        src = dict(spec.source)
        if src.get("type") != "hub":
            raise BenchError(f"dataset {spec.name!r} is not a Hub dataset (source.type {src.get('type')!r}); only `type: hub` datasets can be pulled")
        raw = {k: v for k, v in src.items() if k not in ("type", "repo", "cache_dir", "extra")}
        raw.update(name=spec.name, path=src.get("repo"), modality=spec.modality, media_type=spec.media_type)
        notes: list[str] = []
        try:
            entry = _validate(raw, notes)
        except _Invalid as exc:
            raise BenchError(f"dataset {spec.name!r} in {spec.declared_in or 'the registry'}: {exc}; fix its `source:`") from None
        entry.extra = dict(src.get("extra") or {})
        entry.description = spec.description
        entry.cache_dir = str(cache_root_of(src, spec.declared_in))
        return entry


@dataclass
class EntryAccount:
    """What became of one entry of a public registry file."""

    index: int  # 1-based position in the file
    name: str
    status: str  # imported | unsupported | skipped
    reason: str = ""
    notices: list[str] = field(default_factory=list)
    entry: HubEntry | None = None


class _Invalid(Exception):
    """An entry that cannot be used (the message says why)."""


def parse_hub_registry(path: str | os.PathLike) -> tuple[list[HubEntry], list[str]]:
    """The usable entries of a public registry file (supported or not: see ``HubEntry.unsupported``)
    and one notice per remark: unknown fields, defaults filled in, entries skipped and why.

    A file that is not a registry at all raises ``BenchError``; a bad entry never does."""
    accounts, notices = parse_accounts(Path(path))
    entries = [a.entry for a in accounts if a.entry is not None]
    for a in accounts:
        where = f"entry {a.index} ({a.name})" if a.name else f"entry {a.index}"
        notices += [f"{where}: {n}" for n in a.notices]
        if a.status == "skipped":
            notices.append(f"{where}: skipped: {a.reason}")
        elif a.status == "unsupported":
            notices.append(f"{where}: unsupported: {a.reason}")
    return entries, notices


def parse_accounts(path: Path) -> tuple[list[EntryAccount], list[str]]:
    """One ``EntryAccount`` per entry of a public registry file, and the notices about the file
    as a whole; ``BenchError`` when it is not a registry file at all."""
    if not path.is_file():
        raise BenchError(f"registry file not found: {path}; give the path to a YAML file with `datasets:`")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise BenchError(f"{path} is not valid YAML{where}; fix the syntax") from None
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), list):
        raise BenchError(f"{path} must hold `datasets:` with a list of dataset entries (the public benchmark's registry format)")
    file_notices = [f"top-level key {key!r} ignored" for key in data if key != "datasets"]
    accounts: list[EntryAccount] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data["datasets"], start=1):
        name = str(raw.get("name") or "").strip() if isinstance(raw, dict) else ""
        account = EntryAccount(i, name, "skipped")
        try:
            entry = _validate(raw, account.notices)
        except _Invalid as exc:
            account.reason = str(exc)
        else:
            if entry.name in seen:
                account.reason = f"duplicate name {entry.name!r} (first used by entry {seen[entry.name]})"
            else:
                seen[entry.name] = i
                account.entry = entry
                account.status = "unsupported" if entry.unsupported else "imported"
                account.reason = entry.unsupported or ""
        accounts.append(account)
    return accounts, file_notices


def _validate(raw: Any, notices: list[str]) -> HubEntry:
    """A mapping from a registry file -> ``HubEntry``, or ``_Invalid`` with the reason."""
    if not isinstance(raw, dict):
        raise _Invalid(f"an entry must be a mapping of fields, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Invalid("`name` is required (a short unique string)")
    name = name.strip()
    repo = raw.get("path")
    if not isinstance(repo, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", repo.strip()) or ".." in repo:
        raise _Invalid(f"`path` must be a Hugging Face dataset repository id like `org/name`, got {repo!r}")
    modality = raw.get("modality")
    modality = modality.strip().lower() if isinstance(modality, str) else modality
    if modality not in MODALITIES:
        raise _Invalid(f"modality must be one of {', '.join(MODALITIES)} (bench scores images, videos and audio), got {modality!r}")
    media_type = raw.get("media_type")
    media_type = media_type.strip().lower() if isinstance(media_type, str) else media_type
    if media_type not in MEDIA_TYPES:
        raise _Invalid(f"media_type must be one of {', '.join(MEDIA_TYPES)}, got {raw.get('media_type')!r}")
    entry = HubEntry(name, repo.strip(), modality, media_type)

    formats = _string_list(raw.get("source_format"), "source_format")
    normalised = list(dict.fromkeys(f.strip().lower().lstrip(".") for f in formats if f.strip()))
    bad = [f for f in normalised if format_kind(f, modality) is None]
    good = [f for f in normalised if f not in bad]
    if bad and good:
        notices.append(f"source_format {', '.join(bad)} not supported; pulling only {', '.join(good)}")
    elif bad:
        entry.unsupported = f"source_format {', '.join(bad)} is not supported (supported: parquet, zip, {', '.join(TAR_FORMATS)}, or loose {modality} files such as {', '.join(e.lstrip('.') for e in media_extensions(modality)[:4])})"
    entry.source_format = good

    entry.include_paths = _string_list(raw.get("include_paths"), "include_paths")
    entry.exclude_paths = _string_list(raw.get("exclude_paths"), "exclude_paths")
    entry.data_columns = _string_list(raw.get("data_columns"), "data_columns")
    if raw.get("image_columns") is not None:
        if entry.data_columns:
            notices.append("image_columns ignored: data_columns is given")
        else:
            entry.data_columns = _string_list(raw.get("image_columns"), "image_columns")
            notices.append("image_columns read as data_columns")
    for key, default in (("media_per_archive", DEFAULT_MEDIA_PER_ARCHIVE), ("archives_per_dataset", DEFAULT_ARCHIVES_PER_DATASET)):
        value = raw.get(key)
        if value is None:
            notices.append(f"{key} not given: {default} (the public benchmark's default)")
            value = default
        if not isinstance(value, int) or isinstance(value, bool) or (value < 1 and value != -1):
            raise _Invalid(f"{key} must be -1 (all) or a positive integer, got {value!r}")
        setattr(entry, key, value)

    source = raw.get("source", "huggingface")
    if source not in (None, "", "huggingface", "hf"):
        entry.unsupported = entry.unsupported or f"source {source!r}: only Hugging Face repositories can be pulled"
    if (raw.get("filter_column") is None) != (raw.get("filter_value") is None):
        raise _Invalid("filter_column and filter_value go together: give both or neither")
    if raw.get("filter_column") is not None:
        if not isinstance(raw["filter_column"], str):
            raise _Invalid(f"filter_column must be a column name, got {raw['filter_column']!r}")
        if entry.source_format and "parquet" not in entry.source_format:
            notices.append("filter_column/filter_value apply to parquet rows only; ignored for this source_format")
        entry.filter_column, entry.filter_value = raw["filter_column"], raw["filter_value"]
    notes = raw.get("notes")
    entry.description = str(notes).strip() if notes else f"Hugging Face dataset {entry.repo}"
    for key in raw:
        if key not in KNOWN_FIELDS:
            entry.extra[key] = raw[key]
            notices.append(f"unknown field {key!r} kept (under source.extra) and ignored")
    return entry


def _string_list(value: Any, key: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise _Invalid(f"{key} must be a string or a list of strings, got {value!r}")


def media_extensions(modality: str) -> tuple[str, ...]:
    return EXTENSIONS[modality]


def format_kind(fmt: str, modality: str) -> str | None:
    """``parquet``, ``zip``, ``tar`` or ``media`` (loose files of the modality); None: unsupported."""
    if fmt in ("parquet", "zip"):
        return fmt
    if fmt in TAR_FORMATS:
        return "tar"
    if f".{fmt}" in media_extensions(modality):
        return "media"
    return None

