"""``bench datasets pull``: a seeded, bounded pull of each Hub dataset's files into the local
cache, the manifest that ``bench run`` reads offline, and the report of each pull."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.hub.choose import choose_files, match_files
from bench.data.hub.extract import take_from_container
from bench.data.hub.failures import FileError, PullError, exc_reason
from bench.report import human_bytes
from bench.data.hub.fetch import Stats, fetch_file, list_repo
from bench.data.hub.layout import dataset_dir, default_hub_cache_dir
from bench.data.hub.pulled import write_manifest
from bench.data.hub.registry_format import HubEntry
from bench.errors import BenchError

DOWNLOAD_WORKERS = 8  # parallel downloads of loose media files


@dataclass
class PullResult:
    name: str
    status: str  # ok | partial (some files failed) | failed (nothing pulled)
    reason: str = ""
    samples: int = 0
    files: int = 0
    bytes_downloaded: int = 0  # transferred in this pull (resumed and cached bytes excluded)
    resumed: int = 0  # files continued from a .part left by an earlier pull
    refetched: int = 0  # files fetched again after a size or hash mismatch
    source_format: str = ""
    cache: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.name}: FAILED: {self.reason}"
        extra = [f"{self.resumed} resumed"] * bool(self.resumed) + [f"{self.refetched} re-fetched"] * bool(self.refetched)
        tail = f" ({', '.join(extra)})" if extra else ""
        head = f"{self.name}: {self.samples} samples from {self.files} {self.source_format} file(s), {human_bytes(self.bytes_downloaded)} downloaded{tail}"
        return head + (f"; PARTIAL: {self.reason}" if self.status == "partial" else "")


def pull_report(results: list[PullResult]) -> str:
    lines = [r.line() for r in results]
    for r in results:
        lines += [f"  {r.name}: {w}" for w in r.warnings[:10]]
        if len(r.warnings) > 10:
            lines.append(f"  {r.name}: ... and {len(r.warnings) - 10} more")
    failed = [r.name for r in results if not r.ok]
    lines.append(f"{len(results) - len(failed)} of {len(results)} dataset(s) pulled" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)


def pull(entries: Iterable, cache_dir: str | os.PathLike | None = None, per_dataset: int | None = None, seed: int = 0,
         fs=None, progress: bool = True) -> list[PullResult]:
    """Pull each entry (``HubEntry`` or a bench ``DatasetSpec`` of type hub) into the cache.

    ``cache_dir`` overrides each entry's own; ``per_dataset`` caps the samples of each dataset
    (archives and shards past the cap are not downloaded); ``fs`` is the fsspec file system to
    read ``datasets/<repo>/...`` from (default ``huggingface_hub.HfFileSystem()``). A dataset
    that fails is reported in its ``PullResult`` and the others go on."""
    if per_dataset is not None and (not isinstance(per_dataset, int) or isinstance(per_dataset, bool) or per_dataset < 1):
        raise BenchError(f"--per-dataset must be a positive integer, got {per_dataset!r}")
    if fs is None:
        from huggingface_hub import HfFileSystem

        fs = HfFileSystem()
    results = []
    for item in entries:
        try:
            entry = item if isinstance(item, HubEntry) else HubEntry.from_spec(item)
        except BenchError as exc:  # a malformed registry entry: reported like any other failure
            results.append(PullResult(getattr(item, "name", "?"), "failed", str(exc)))
            continue
        try:
            results.append(_pull_one(entry, fs, cache_dir, per_dataset, seed, progress))
        except KeyboardInterrupt:
            raise
        except PullError as exc:
            results.append(PullResult(entry.name, "failed", str(exc)))
        except Exception as exc:  # one dataset's failure (network, disk, a library's error) must not stop the others
            results.append(PullResult(entry.name, "failed", exc_reason(exc)))
    return results


def _pull_one(entry: HubEntry, fs, cache_dir, per_dataset: int | None, seed: int, progress: bool) -> PullResult:
    if entry.unsupported:
        return PullResult(entry.name, "failed", f"unsupported: {entry.unsupported}")
    root_dir = Path(cache_dir).expanduser().resolve() if cache_dir else Path(entry.cache_dir or default_hub_cache_dir())
    base = dataset_dir(root_dir, entry.name)
    result = PullResult(entry.name, "ok", cache=str(base))
    if cache_dir and entry.cache_dir and Path(entry.cache_dir).resolve() != root_dir:
        result.warnings.append(f"pulled into {root_dir}, but the registry reads {entry.cache_dir}: re-import with --cache-dir {root_dir} so that `bench run` finds it")
    root = f"datasets/{entry.repo}"
    listing = list_repo(fs, root, entry.repo)
    kinds, formats = match_files(listing, entry)
    result.source_format = "+".join(formats)
    containers, loose = choose_files(entry, kinds, seed, per_dataset)

    stats = Stats()
    samples: list[dict] = []
    files: list[dict] = []
    failed: list[str] = []
    total = sum(int(listing[rel].get("size") or 0) for rel in containers + loose)
    from tqdm import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=entry.name, file=sys.stderr, disable=not progress or None, dynamic_ncols=True) as bar:
        for rel in containers:
            need = None if per_dataset is None else per_dataset - len(samples)
            if need is not None and need <= 0:
                break
            try:
                local, meta = fetch_file(fs, f"{root}/{rel}", rel, listing[rel], base / "files", bar, stats)
                got, notes = take_from_container(local, rel, kinds[rel], entry, seed, need, base)
            except FileError as exc:
                failed.append(str(exc))
                stats.add(failed=1)
                continue
            files.append(meta)
            samples += got
            result.warnings += notes
        if per_dataset is not None:
            loose = loose[: max(0, per_dataset - len(samples))]
        if loose:
            def fetch(rel: str):
                try:
                    return fetch_file(fs, f"{root}/{rel}", rel, listing[rel], base / "files", bar, stats)
                except FileError as exc:
                    stats.add(failed=1)
                    return exc

            with ThreadPoolExecutor(max_workers=min(DOWNLOAD_WORKERS, len(loose))) as pool:
                for rel, got in zip(loose, pool.map(fetch, loose)):
                    if isinstance(got, FileError):
                        failed.append(str(got))
                        continue
                    files.append(got[1])
                    samples.append({"id": rel, "path": f"files/{rel}", "sha256": got[1]["sha256"], "size": got[1]["size"]})
        bar.total = bar.n  # archives past the per-dataset cap were never fetched
        bar.refresh()

    result.files, result.samples = len(files), len(samples)
    result.bytes_downloaded, result.resumed, result.refetched = stats.downloaded, stats.resumed, stats.refetched
    result.warnings += failed
    if not samples:
        result.status = "failed"
        result.reason = f"no samples: {failed[0]}" if failed else "no media found in the chosen files (check source_format, data_columns, include_paths)"
        return result
    if failed:
        result.status, result.reason = "partial", f"{len(failed)} file(s) failed; see the warnings"
    write_manifest(base, entry, formats, seed, per_dataset, files, samples, result.warnings)
    _prune_media(base, samples)
    return result


def _prune_media(base: Path, samples: list[dict]) -> None:
    """Remove extracted media that the new manifest no longer lists (an earlier seed's)."""
    media = base / "media"
    if not media.is_dir():
        return
    keep = {str((base / s["path"]).resolve()) for s in samples if "path" in s}
    for dirpath, _dirs, filenames in os.walk(media, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if str(Path(path).resolve()) not in keep:
                os.unlink(path)
        if dirpath != str(media) and not os.listdir(dirpath):
            os.rmdir(dirpath)


def select_hub_specs(registry, names: list[str] | None, all_: bool) -> list:
    """The registry's ``type: hub`` datasets named (or all of them), with clear errors."""
    hub = [s for s in registry.specs.values() if s.source.get("type") == "hub"]
    if all_:
        if not hub:
            raise BenchError("no Hub datasets in the registry; import a registry file first: `bench datasets import FILE.yaml`")
        return hub
    if not names:
        raise BenchError("name the datasets to pull, or give --all")
    specs = [registry.get(n) for n in names]
    for s in specs:
        if s.source.get("type") != "hub":
            raise BenchError(f"dataset {s.name!r} is a {s.source.get('type')} source, not a Hub dataset; only `type: hub` datasets are pulled")
    return specs
