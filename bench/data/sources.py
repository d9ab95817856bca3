"""Sources: a dataset spec -> a stream of ``SampleRef`` (lazy, so memory does not grow with size)
and, when a source knows it without reading its media, how many samples it holds.

Sample ids are stable and unique within a dataset: the relative path for folders,
``<file>#<row>`` for parquet, ``<split>#<row>`` for Hugging Face datasets. A name that is not
valid UTF-8 is percent-escaped in its id (``bench.data.refs.escape_name``; ``unescape_name``
gives its exact bytes back); the ``SampleRef.path`` stays the real one.

Nothing here opens a file that is not a regular file: a FIFO, device or socket under a folder is
listed with ``SampleRef.problem`` set (a data error, never read), and a table cell's ``path`` is
read only inside the source's own folder unless the source sets ``allow_external_paths: true``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.data.refs import (
    BYTES_COLUMN_HINTS,
    EXTENSIONS,
    SampleRef,
    detect_bytes_column,
    escape_name,
    file_problem,
    read_cell,
)
from bench.data.remote import is_url, list_files
from bench.errors import BenchError


def folder_files(root: Path, extensions: tuple[str, ...]) -> list[Path]:
    """Files under ``root`` (recursive, following symlinked folders once) with one of the
    extensions, sorted by relative path; hidden files and folders are skipped."""
    if not root.is_dir():
        raise BenchError(f"dataset folder not found: {root}; fix `source.path` in the dataset's YAML")
    found = []
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:  # a symlink loop, or a folder linked twice: take it once
            dirnames[:] = []
            continue
        visited.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(extensions):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


Opened = tuple[Iterator[SampleRef], "int | None"]  # the stream, and its length when known


def open_folder(spec) -> Opened:
    """The folder is listed once: the listing gives both the stream and its length."""
    root = Path(spec.source["path"])
    default = EXTENSIONS[spec.modality]
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in spec.source.get("extensions", default))
    if is_url(spec.source["path"]):
        listed = list_files(spec.source["path"], exts)
        return (SampleRef(spec.name, spec.media_type, spec.label, escape_name(rel), spec.weight, path=url) for rel, url in listed), len(listed)
    files = folder_files(root, exts)
    refs = (SampleRef(spec.name, spec.media_type, spec.label, escape_name(p.relative_to(root).as_posix()), spec.weight, path=str(p), problem=file_problem(p))
            for p in files)
    return refs, len(files)


def _parquet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted((p for p in path.rglob("*.parquet") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())
        if files:
            return files
        raise BenchError(f"no .parquet files under {path}; fix `source.path` in the dataset's YAML")
    if path.exists():
        raise BenchError(f"parquet source {path} is {file_problem(path) or 'not a regular file'}; point `source.path` at a .parquet file or a folder of them")
    raise BenchError(f"parquet source not found: {path}; fix `source.path` in the dataset's YAML")


def _parquet_error(file: Path, exc: Exception) -> BenchError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return BenchError(f"{escape_name(str(file))} is not a readable parquet file ({first}); replace it or fix `source.path` in the dataset's YAML")


def _open_parquet_file(file: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(file)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _parquet_error(file, exc) from None


def open_parquet(spec) -> Opened:
    """Row counts come from the files' metadata; rows are read in batches as the run goes."""
    root = Path(spec.source["path"])
    files = _parquet_files(root)
    return _parquet_refs(spec, root, files), sum(_open_parquet_file(f).metadata.num_rows for f in files)


def _parquet_refs(spec, root: Path, files: list[Path]) -> Iterator[SampleRef]:
    import pyarrow as pa

    id_column = spec.source.get("id_column")
    base = str(root if root.is_dir() else root.parent)  # a cell's `path` resolves against the source's own folder
    allow = bool(spec.source.get("allow_external_paths", False))
    seen: set[str] = set()
    for file in files:
        rel = file.name if root.is_file() else file.relative_to(root).as_posix()
        pf = _open_parquet_file(file)
        column = detect_bytes_column(pf.schema_arrow, spec.source.get("column"), str(file))
        label_column = spec.source.get("label_column")
        columns = [column] + ([id_column] if id_column else []) + ([label_column] if label_column else [])
        for key, name in (("id_column", id_column), ("label_column", label_column)):
            if name and name not in pf.schema_arrow.names:
                raise BenchError(f"{key} {name!r} not in {file}; fix `source.{key}` (columns: {', '.join(pf.schema_arrow.names)})")
        row = 0
        batches = pf.iter_batches(batch_size=64, columns=columns)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise _parquet_error(file, exc) from None
            cells = batch.column(0).to_pylist()
            ids = batch.column(1).to_pylist() if id_column else [None] * len(cells)
            values = batch.column(columns.index(label_column)).to_pylist() if label_column else [None] * len(cells)
            for cell, given, value in zip(cells, ids, values):
                sample_id = escape_name(f"{rel}#{row}") if given is None else str(given)
                if given is not None:
                    if sample_id in seen:
                        raise BenchError(f"id column {id_column!r} repeats the id {sample_id!r} in {file}; ids must be unique")
                    seen.add(sample_id)
                data, problem = read_cell(cell, base, allow)
                media_type, label, bad = sample_label(spec, value) if label_column else (spec.media_type, spec.label, None)
                yield SampleRef(spec.name, media_type, label, sample_id, spec.weight, data=data or b"", problem=problem or bad)
                row += 1


def open_huggingface(spec) -> Opened:
    """A Hub dataset id or a local dataset folder, streamed through ``datasets`` (length unknown)."""
    return _huggingface_refs(spec), None


def _huggingface_refs(spec) -> Iterator[SampleRef]:
    src = spec.source
    split = src.get("split", "train")
    ds = _open_hf(src, split)
    features = ds.features or {}
    column = src.get("column") or _hf_media_column(features, spec.name)
    if features and column not in features:
        raise BenchError(f"column {column!r} not in dataset {spec.name}; columns: {', '.join(features)}")
    kind = type(features[column]) if features else None
    if kind in _media_features():
        ds = ds.cast_column(column, kind(decode=False))  # the original bytes (an Audio cell too), decoded by us
    label_column = src.get("label_column")
    if label_column and features and label_column not in features:
        raise BenchError(f"label_column {label_column!r} not in dataset {spec.name}; columns: {', '.join(features)}")
    names = getattr(features.get(label_column), "names", None) if label_column and features else None  # a ClassLabel's names
    ds = ds.select_columns([column] + ([label_column] if label_column else []))
    path = src.get("path")
    base = path if path and Path(path).is_dir() else None  # a cell's `path` resolves against the local dataset's folder
    allow = bool(src.get("allow_external_paths", False))
    for row, item in enumerate(ds):
        data, problem = read_cell(item[column], base, allow)
        if label_column:
            value = item[label_column]
            media_type, label, bad = sample_label(spec, names[value] if names and isinstance(value, int) and 0 <= value < len(names) else value)
        else:
            media_type, label, bad = spec.media_type, spec.label, None
        yield SampleRef(spec.name, media_type, label, f"{split}#{row}", spec.weight, data=data or b"", problem=problem or bad)


def _open_hf(src: dict, split: str):
    import datasets

    path = src.get("path")
    try:
        if path and _saved_to_disk(Path(path)):
            loaded = datasets.load_from_disk(path)
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise BenchError(f"split {split!r} not in {path}; splits: {', '.join(loaded)}")
                loaded = loaded[split]
            elif "split" in src and loaded.split is not None and str(loaded.split) != split:
                raise BenchError(f"{path} holds the {str(loaded.split)!r} split, not {split!r}; set `split: {loaded.split}` or drop `split`")
            return loaded.to_iterable_dataset()
        target = path or src.get("id")
        if not target:
            raise BenchError("a huggingface source needs `id` (a Hub dataset id) or `path` (a local dataset folder)")
        if path and not Path(path).exists():
            raise BenchError(f"dataset folder not found: {path}; fix `source.path` in the dataset's YAML")
        kwargs = {"name": src["config"]} if src.get("config") else {}
        return datasets.load_dataset(target, split=split, streaming=True, **kwargs)
    except BenchError:
        raise
    except Exception as exc:  # datasets raises many types (network, missing split, bad files)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BenchError(f"cannot open Hugging Face dataset {path or src.get('id')!r} (split {split!r}): {first[:300]}") from None


def _saved_to_disk(path: Path) -> bool:
    """A folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def _media_features() -> tuple[type, ...]:
    import datasets

    return tuple(getattr(datasets, name) for name in ("Image", "Video", "Audio") if hasattr(datasets, name))


def _hf_media_column(features, name: str) -> str:
    media = [k for k, v in (features or {}).items() if isinstance(v, _media_features())]
    if len(media) == 1:
        return media[0]
    for hint in BYTES_COLUMN_HINTS:
        if hint in (features or {}):
            return hint
    raise BenchError(f"cannot tell which column of dataset {name} holds the media; set `source.column`")


def open_hub(spec) -> Opened:
    """A Hub dataset fetched by `bench datasets pull`, read offline from its manifest (bench/data/hub/).
    Imported here, on first use: bench.data.hub builds on bench.data.refs, never on this module."""
    from bench.data.hub import count_pulled, iter_pulled

    return iter_pulled(spec), count_pulled(spec)


# source type -> how to open it; each imports what it needs (pyarrow, datasets, bench.data.hub)
# when called, so importing this module stays cheap and free of cycles
SOURCES: dict[str, Callable[[Any], Opened]] = {"folder": open_folder, "parquet": open_parquet, "huggingface": open_huggingface, "hub": open_hub}

# source type -> the keys of its `source:` mapping and what each holds (the registry refuses any
# other key, with a suggestion). `hub` holds what `bench datasets import` writes
# (bench/data/hub/registry_format.py, HubEntry.source); its lists may be one string, as in the
# public registry format.
SOURCE_KEYS: dict[str, dict[str, str]] = {
    "folder": {"type": "str", "path": "str", "extensions": "str_list"},
    "parquet": {"type": "str", "path": "str", "column": "str", "id_column": "str", "allow_external_paths": "bool", "label_column": "str", "labels": "mapping"},
    "huggingface": {"type": "str", "id": "str", "path": "str", "split": "str", "config": "str", "column": "str", "allow_external_paths": "bool", "label_column": "str", "labels": "mapping"},
    "hub": {
        "type": "str", "repo": "str", "cache_dir": "str", "source_format": "str_or_list", "include_paths": "str_or_list",
        "exclude_paths": "str_or_list", "data_columns": "str_or_list", "media_per_archive": "int", "archives_per_dataset": "int",
        "filter_column": "str", "filter_value": "any", "extra": "mapping",
    },
}
REQUIRED_SOURCE_KEYS: dict[str, tuple[str, ...]] = {"folder": ("path",), "parquet": ("path",), "hub": ("repo",)}


DEFAULT_LABELS = {"real": "real", "synthetic": "synthetic", "semisynthetic": "semisynthetic", 0: "real", 1: "synthetic", 2: "semisynthetic", False: "real", True: "synthetic"}


def sample_label(spec, value) -> tuple[str, int, str | None]:
    """``(media_type, label, problem)`` of a row from its ``label_column`` value: through the
    source's ``labels`` mapping (value -> real | synthetic | semisynthetic), else the default
    (0/1/2, false/true, or the class names). An unmapped value is a data error of that row."""
    from bench.data.registry import LABELS

    mapping = {**DEFAULT_LABELS, **(spec.source.get("labels") or {})}
    media_type = mapping.get(value, mapping.get(str(value)))
    if media_type not in LABELS:
        known = ", ".join(sorted(map(str, spec.source.get("labels") or {}))) or "0/1/2, false/true, real/synthetic/semisynthetic"
        return "unlabelled", -1, f"label {value!r} in column {spec.source.get('label_column')!r} maps to no class (known: {known}); add it to `source.labels`"
    return media_type, LABELS[media_type], None
