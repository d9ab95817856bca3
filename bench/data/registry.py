"""The dataset registry: YAML files under ``configs/datasets/`` -> typed ``DatasetSpec``.

A registry file holds ``datasets: [ {name, modality, media_type, source, max_samples, weight}, ...]``.
Relative ``source.path`` values resolve against the YAML file's folder.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import INT64_MAX, check_number, read_yaml, suggest
from bench.data.refs import SampleRef
from bench.data.remote import is_url
from bench.data.sources import REQUIRED_SOURCE_KEYS, SOURCE_KEYS, SOURCES
from bench.errors import BenchError
from bench.modalities import names as modality_names

LABELS = {"real": 0, "synthetic": 1, "semisynthetic": 2}
MIXED = "mixed"  # a dataset whose rows carry their own class (source.label_column)
MODALITIES = tuple(modality_names())  # the modality seam's registry: one list
ENTRY_KEYS = {"name", "modality", "media_type", "source", "max_samples", "weight", "description", "tags"}


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    modality: str
    media_type: str
    source: dict[str, Any]
    max_samples: int | None = None
    weight: float = 1.0
    description: str = ""
    declared_in: str = ""
    tags: dict = field(default_factory=dict)  # free keys for breakdowns (`bench run --by KEY`): generator, generator_family, ...

    @property
    def label(self) -> int:
        """The dataset's class (-1 for a mixed dataset: each row has its own)."""
        return LABELS.get(self.media_type, -1)

    @property
    def location(self) -> str:
        return str(self.source.get("path") or self.source.get("id") or self.source.get("repo") or "")


@dataclass
class Registry:
    specs: dict[str, DatasetSpec] = field(default_factory=dict)

    @classmethod
    def load(cls, dirs: list[str]) -> Registry:
        reg = cls()
        for d in dirs:
            folder = Path(d)
            if not folder.is_dir():
                raise BenchError(f"dataset registry folder not found: {folder}; set `dataset_dirs` to folders of dataset YAML files")
            for file in sorted(folder.glob("*.y*ml")):
                for spec in parse_registry_file(file):
                    if spec.name in reg.specs:
                        raise BenchError(f"dataset {spec.name!r} is declared twice: in {reg.specs[spec.name].declared_in} and {file}; rename one")
                    reg.specs[spec.name] = spec
        return reg

    def get(self, name: str) -> DatasetSpec:
        if name not in self.specs:
            raise BenchError(f"unknown dataset {name!r}.{suggest(name, list(self.specs))}")
        return self.specs[name]


def parse_registry_file(path: Path) -> list[DatasetSpec]:
    data = read_yaml(path, "dataset registry file")
    unknown = sorted(set(data) - {"datasets"})
    if unknown:
        raise BenchError(f"{path}: unknown top-level key {unknown[0]!r}.{suggest(unknown[0], ['datasets'])}")
    entries = data.get("datasets")
    if not isinstance(entries, list):
        raise BenchError(f"{path} must hold `datasets:` with a list of dataset entries")
    return [parse_entry(entry, path, i) for i, entry in enumerate(entries)]


def parse_entry(entry: Any, path: Path, index: int) -> DatasetSpec:
    where = f"{path} (entry {index + 1})"
    if not isinstance(entry, dict):
        raise BenchError(f"{where}: a dataset entry must be a mapping, got {type(entry).__name__}")
    unknown = sorted(set(entry) - ENTRY_KEYS, key=str)
    if unknown:
        key = unknown[0]
        raise BenchError(f"{where}: unknown key {key!r}.{suggest(key, sorted(ENTRY_KEYS))}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BenchError(f"{where}: `name` is required (a short unique string), got {name!r}")
    where = f"{path} (entry {index + 1}, {name!r})"
    modality = entry.get("modality", "image")
    if not isinstance(modality, str) or modality not in MODALITIES:
        raise BenchError(f"{where}: modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    media_type = entry.get("media_type")
    labelled = isinstance(entry.get("source"), dict) and entry["source"].get("label_column")
    if labelled and media_type in (None, MIXED):
        media_type = MIXED  # each row's class comes from its label_column
    elif not isinstance(media_type, str) or media_type not in LABELS:
        raise BenchError(f"{where}: media_type must be one of {', '.join(LABELS)} (or omitted with `source.label_column`), got {media_type!r}")
    source = entry.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("type"), str) or source.get("type") not in SOURCES:
        raise BenchError(f"{where}: `source.type` must be one of {', '.join(SOURCES)}, got {source!r}")
    source = check_source(dict(source), where)
    if isinstance(source.get("path"), str) and not is_url(source["path"]):  # a URL is read as it is
        p = Path(source["path"]).expanduser()
        source["path"] = str(p if p.is_absolute() else (path.parent / p).resolve())
    max_samples = entry.get("max_samples")
    if max_samples is not None:
        max_samples = check_number(f"{where}: max_samples", max_samples, int, "positive", high=INT64_MAX)
    weight = check_number(f"{where}: weight", entry.get("weight", 1.0), float, "positive")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise BenchError(f"{where}: description must be a string, got {description!r}; quote it")
    tags = entry.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool) for k, v in tags.items()):
        raise BenchError(f"{where}: tags must be a mapping of names to values, like {{generator_family: diffusion}}, got {tags!r}")
    return DatasetSpec(name, modality, media_type, source, max_samples, weight, description, str(path), {k: str(v) for k, v in tags.items()})


_KIND_WORDS = {"str": "a string", "bool": "true or false", "int": "an integer", "str_list": "a list of strings",
               "str_or_list": "a string or a list of strings", "mapping": "a mapping", "any": "a finite value"}


def check_source(source: dict[str, Any], where: str) -> dict[str, Any]:
    """A ``source:`` mapping checked against its type's keys (``SOURCE_KEYS``): no unknown key,
    each value of its kind, the required keys present."""
    kind = source["type"]
    schema = SOURCE_KEYS[kind]
    for key, value in source.items():
        if key not in schema:
            raise BenchError(f"{where}: unknown key {key!r} in its {kind} source.{suggest(key, sorted(schema))}")
        problem = _kind_problem(schema[key], value)
        if problem is not None:
            raise BenchError(f"{where}: source.{key} must be {_KIND_WORDS[schema[key]]}, got {_value_text(value)}{problem}")
    for key in REQUIRED_SOURCE_KEYS.get(kind, ()):
        if not source.get(key):
            raise BenchError(f"{where}: a {kind} source needs `{key}`; add it to `source:`")
    if kind == "huggingface" and not (source.get("id") or source.get("path")):
        raise BenchError(f"{where}: a huggingface source needs `id` (a Hub dataset id) or `path` (a local dataset folder); add one")
    return source


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    return f"the string {value!r}" if isinstance(value, str) else repr(value)


def _kind_problem(kind: str, value: Any) -> str | None:
    """None when ``value`` is of ``kind``; else the fix to append to the message (maybe '')."""
    if kind == "str":
        return None if isinstance(value, str) and "\x00" not in value else ""
    if kind == "bool":
        if isinstance(value, bool):
            return None
        return "; write true or false without quotes" if isinstance(value, str) else ""
    if kind == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else ""
    if kind in ("str_list", "str_or_list"):
        if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
            return None
        if isinstance(value, str):
            return None if kind == "str_or_list" else f"; write [{value}]"
        return ""
    if kind == "mapping":
        return None if isinstance(value, dict) else ""
    if kind == "any":
        return "; write a finite number" if isinstance(value, float) and not math.isfinite(value) else None
    return ""


class Samples:
    """A dataset's samples in their stable order (iterate once), and ``count``: how many the run
    takes, when the source knows without reading its media (None otherwise)."""

    def __init__(self, stream: Iterator[SampleRef], count: int | None):
        self._stream = stream
        self.count = count

    def __iter__(self) -> Iterator[SampleRef]:
        return self._stream


def iter_samples(spec: DatasetSpec, limit: int | None = None) -> Samples:
    """The dataset's samples, at most ``min(max_samples, limit)`` of them.

    Raises ``BenchError`` up front when the dataset has no samples at all."""
    caps = [c for c in (spec.max_samples, limit) if c]
    cap = min(caps) if caps else None
    stream, total = SOURCES[spec.source["type"]](spec)
    try:
        first = next(stream)
    except StopIteration:
        raise BenchError(f"dataset {spec.name!r} is empty: no samples found at {spec.location}; add media there or fix `source` in {spec.declared_in}") from None
    chained = itertools.chain([first], stream)
    count = None if total is None else min([total, *caps])
    return Samples(itertools.islice(chained, cap) if cap else chained, count)


def count_samples(spec: DatasetSpec, limit: int | None = None) -> int | None:
    """How many samples a run takes from the dataset, when that is known without reading media."""
    return iter_samples(spec, limit).count


def folder_datasets(root: Path, modality: str) -> list[DatasetSpec]:
    """``--folder DIR``: one folder dataset per class subfolder (``real/``, ``synthetic/``,
    ``semisynthetic/``, any of them), named ``<DIR name>-<class>``; any other entry is refused
    with the names allowed."""
    from bench.data.refs import escape_name

    if not root.is_dir():
        raise BenchError(f"--folder {root} is not a folder; give a folder holding real/ and synthetic/ (and semisynthetic/) subfolders")
    entries = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    unknown = [e for e in entries if e not in LABELS or not (root / e).is_dir()]
    if unknown:
        raise BenchError(f"--folder {root} holds {escape_name(unknown[0])!r}; it may hold only the subfolders {', '.join(LABELS)} (one per class): move other files into one of them")
    if not entries:
        raise BenchError(f"--folder {root} holds no real/, synthetic/ or semisynthetic/ subfolder; make one per class and put the media there")
    base = escape_name(root.resolve().name)
    return [DatasetSpec(f"{base}-{c}", modality, c, {"type": "folder", "path": str((root / c).resolve())}, declared_in=f"--folder {root}") for c in LABELS if c in entries]