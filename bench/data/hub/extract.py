"""Samples from a downloaded container: a seeded choice of an archive's media members (their
original bytes, extracted) or of a parquet shard's rows (read later, from the shard itself)."""

from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from bench.data.hub.choose import seeded_rng
from bench.data.hub.failures import FileError, exc_reason
from bench.data.hub.fetch import CHUNK, safe_relpath
from bench.data.hub.registry_format import HubEntry, media_extensions
from bench.data.refs import detect_bytes_column
from bench.errors import BenchError

MAX_MEMBER_BYTES = 8 << 30  # archive members larger than this are not extracted


def take_from_container(local: Path, rel: str, kind: str, entry: HubEntry, seed: int, need: int | None, base: Path) -> tuple[list[dict], list[str]]:
    try:
        if kind == "parquet":
            return _choose_rows(local, rel, entry, seed, need), []
        return _extract(local, rel, kind, entry, seed, need, base)
    except FileError:
        raise
    except Exception as exc:  # a damaged archive or shard: zipfile, tarfile and pyarrow raise their own types
        raise FileError(f"{rel}: cannot read it: {exc_reason(exc)}") from None


def _extract(local: Path, rel: str, kind: str, entry: HubEntry, seed: int, need: int | None, base: Path) -> tuple[list[dict], list[str]]:
    """Write the original bytes of a seeded choice of the archive's media members to
    ``media/<rel>/<member>``. Unsafe member paths, links and non-media members are never written."""
    exts = media_extensions(entry.modality)
    unsafe: list[str] = []
    with (zipfile.ZipFile(local) if kind == "zip" else tarfile.open(local, mode="r:*")) as archive:
        members: dict[str, tuple[int, Any]] = {}  # safe name -> (position in the archive, member)
        listed = archive.infolist() if kind == "zip" else archive.getmembers()
        for pos, m in enumerate(listed):
            raw = m.filename if kind == "zip" else m.name
            regular = (not m.is_dir() and not m.flag_bits & 0x1) if kind == "zip" else m.isreg()
            size = m.file_size if kind == "zip" else m.size
            name = safe_relpath(raw)
            if name is None:
                unsafe.append(raw)
                continue
            base_name = name.rsplit("/", 1)[-1]
            if (not regular or not base_name.lower().endswith(exts) or "__MACOSX" in name.split("/")
                    or base_name.startswith(".") or size > MAX_MEMBER_BYTES or name in members):
                continue
            members[name] = (pos, m)
        names = sorted(members)
        chosen = seeded_rng(seed, entry.name, "members", rel).sample(names, len(names))
        if entry.media_per_archive != -1:
            chosen = chosen[: entry.media_per_archive]
        if need is not None:
            chosen = chosen[:need]
        chosen.sort(key=lambda n: members[n][0])  # archive order: one forward pass through a compressed tar
        media_root = (base / "media").resolve()
        samples = []
        notes = []
        for name in chosen:
            out = base / "media" / rel / name
            if not out.resolve().is_relative_to(media_root):
                unsafe.append(name)
                continue
            tmp = out.with_name(out.name + ".tmp")
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                src = archive.open(members[name][1]) if kind == "zip" else archive.extractfile(members[name][1])
                h = hashlib.sha256()
                with src, open(tmp, "wb") as dst:
                    while chunk := src.read(CHUNK):
                        h.update(chunk)
                        dst.write(chunk)
                os.replace(tmp, out)
            except Exception as exc:  # one damaged member (bad CRC, truncated stream): the others still count
                tmp.unlink(missing_ok=True)
                notes.append(f"{rel}: member {name!r} not extracted: {exc_reason(exc)}")
                continue
            samples.append({"id": f"{rel}/{name}", "path": f"media/{rel}/{name}", "sha256": h.hexdigest(), "size": out.stat().st_size})
    if unsafe:
        notes.append(f"{rel}: {len(unsafe)} member(s) with unsafe paths skipped (e.g. {unsafe[0]!r})")
    if not members:
        notes.append(f"{rel}: no {entry.modality} members ({', '.join(exts[:4])}, ...)")
    return samples, notes


def _choose_rows(local: Path, rel: str, entry: HubEntry, seed: int, need: int | None) -> list[dict]:
    """A seeded choice of ``media_per_archive`` rows of a parquet shard (those matching the
    row filter, when there is one); one sample per row and media column."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(local)
    schema = pf.schema_arrow
    if entry.data_columns:
        missing = [c for c in entry.data_columns if c not in schema.names]
        if missing:
            raise FileError(f"{rel}: column(s) {', '.join(missing)} not found; columns: {', '.join(schema.names)}; fix data_columns")
        columns = list(entry.data_columns)
    else:
        try:
            columns = [detect_bytes_column(schema, None, rel)]
        except BenchError as exc:
            raise FileError(str(exc).replace("`source.column`", "`data_columns`")) from None
    n = pf.metadata.num_rows
    if entry.filter_column is not None:
        if entry.filter_column not in schema.names:
            raise FileError(f"{rel}: filter_column {entry.filter_column!r} not found; columns: {', '.join(schema.names)}")
        rows, row = [], 0
        for batch in pf.iter_batches(batch_size=4096, columns=[entry.filter_column]):
            for value in batch.column(0).to_pylist():
                if value == entry.filter_value or (value is not None and str(value) == str(entry.filter_value)):
                    rows.append(row)
                row += 1
    else:
        rows = range(n)
    k = len(rows) if entry.media_per_archive == -1 else min(entry.media_per_archive, len(rows))
    chosen = seeded_rng(seed, entry.name, "rows", rel).sample(rows, k)
    if need is not None:
        chosen = chosen[: -(-need // len(columns))]
    chosen.sort()
    samples = []
    for row in chosen:
        for col in columns:
            sid = f"{rel}#{row}" if len(columns) == 1 else f"{rel}#{row}:{col}"
            samples.append({"id": sid, "parquet": f"files/{rel}", "row": row, "column": col})
    return samples[:need] if need is not None else samples

