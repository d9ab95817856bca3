"""A pulled dataset's manifest (written at the end of a pull) and, offline, the samples it lists:
media files by path, parquet rows as bytes."""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from bench.data.hub.layout import cache_root_of, dataset_dir
from bench.data.hub.registry_format import HubEntry
from bench.data.refs import SampleRef, media_bytes
from bench.errors import BenchError

MANIFEST_FORMAT = 1


def write_manifest(base: Path, entry: HubEntry, formats: list[str], seed: int, per_dataset: int | None,
                   files: list[dict], samples: list[dict], warnings: list[str]) -> None:
    """``<base>/manifest.json``: what was pulled (files, samples) and how it was chosen."""
    from bench.results import atomic_write  # here: bench.results imports pandas

    manifest = {
        "format": MANIFEST_FORMAT,
        "name": entry.name,
        "repo": entry.repo,
        "modality": entry.modality,
        "media_type": entry.media_type,
        "source_format": formats,
        "selection": {
            "seed": seed, "per_dataset": per_dataset, "media_per_archive": entry.media_per_archive,
            "archives_per_dataset": entry.archives_per_dataset, "include_paths": entry.include_paths,
            "exclude_paths": entry.exclude_paths, "data_columns": entry.data_columns,
            "filter": None if entry.filter_column is None else {"column": entry.filter_column, "value": entry.filter_value},
        },
        "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": files,
        "samples": samples,
        "warnings": warnings,
    }
    data = json.dumps(manifest, indent=1, default=str).encode()
    atomic_write(base / "manifest.json", lambda tmp: tmp.write_bytes(data))


def _load_manifest(spec) -> tuple[Path, dict]:
    base = dataset_dir(cache_root_of(spec.source, spec.declared_in), spec.name)
    path = base / "manifest.json"
    if not path.is_file():
        raise BenchError(f"dataset {spec.name!r} has not been pulled (no {path}); run `bench datasets pull {spec.name}` first (it needs the network once)")
    try:
        doc = json.loads(path.read_text())
        samples = doc["samples"]
        if doc.get("format") != MANIFEST_FORMAT or not isinstance(samples, list):
            raise ValueError("unknown manifest format")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"the pulled manifest of {spec.name!r} ({path}) is unreadable ({exc}); run `bench datasets pull {spec.name}` again") from None
    repo = spec.source.get("repo")
    if repo and doc.get("repo") != repo:
        raise BenchError(f"{path} was pulled from {doc.get('repo')!r}, but the registry says {repo!r}; run `bench datasets pull {spec.name}` again")
    return base, doc


def count_pulled(spec) -> int:
    """How many samples the pulled manifest lists (``BenchError`` when not pulled)."""
    return len(_load_manifest(spec)[1]["samples"])


def iter_pulled(spec) -> Iterator[SampleRef]:
    """The pulled samples of a ``type: hub`` dataset, in manifest order, offline: media files
    by path, parquet rows as bytes read batch by batch from the row groups that hold them."""
    base, doc = _load_manifest(spec)
    samples = doc["samples"]
    i = 0
    while i < len(samples):
        s = samples[i]
        if "parquet" in s:
            j = i
            while j < len(samples) and samples[j].get("parquet") == s["parquet"]:
                j += 1
            yield from _parquet_samples(spec, base, samples[i:j])
            i = j
        else:
            yield SampleRef(spec.name, spec.media_type, spec.label, s["id"], spec.weight, path=str(base / s["path"]))
            i += 1


def _parquet_samples(spec, base: Path, run: list[dict]) -> Iterator[SampleRef]:
    import pyarrow.parquet as pq

    path = base / run[0]["parquet"]
    if not path.is_file():
        raise BenchError(f"the pulled data of {spec.name!r} is incomplete: {path} is missing; run `bench datasets pull {spec.name}` again")
    pf = pq.ParquetFile(path)
    wanted: dict[int, list[tuple[str, str]]] = {}
    for s in run:
        wanted.setdefault(int(s["row"]), []).append((s["column"], s["id"]))
    columns = list(dict.fromkeys(c for pairs in wanted.values() for c, _ in pairs))
    missing = [c for c in columns if c not in pf.schema_arrow.names]
    if missing:
        raise BenchError(f"{path} has no column {missing[0]!r}; run `bench datasets pull {spec.name}` again")
    starts = [0]
    for g in range(pf.num_row_groups):
        starts.append(starts[-1] + pf.metadata.row_group(g).num_rows)
    groups = sorted({bisect.bisect_right(starts, r) - 1 for r in wanted if 0 <= r < starts[-1]})
    for r in sorted(r for r in wanted if not 0 <= r < starts[-1]):
        for _col, sid in wanted[r]:  # a row the file does not have: an empty sample, reported as a data error
            yield SampleRef(spec.name, spec.media_type, spec.label, sid, spec.weight, data=b"")
    for g in groups:
        row = starts[g]
        for batch in pf.iter_batches(batch_size=64, row_groups=[g], columns=columns):
            for k in range(batch.num_rows):
                for col, sid in wanted.get(row + k, ()):
                    value = batch.column(col)[k].as_py()
                    yield SampleRef(spec.name, spec.media_type, spec.label, sid, spec.weight, data=media_bytes(value) or b"")
            row += batch.num_rows

