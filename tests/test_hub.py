"""Public registry import and Hub pulls, offline: a folder laid out like Hub dataset repositories
(``datasets/<org>/<name>/...``) is read through fsspec's ``DirFileSystem`` over the local file
system, so ``pull`` runs the same code (find, info, open, seek, read) it runs on ``HfFileSystem``;
and ``HfFileSystem`` itself is run against a local endpoint that answers the Hub's HTTP API
(repository info, tree listing with LFS hashes, ranged downloads) from the same folder."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import av
import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem

from bench.cli import build_parser, main
from bench.data import hub, registry, sources
from bench.data.hub import (
    HubEntry,
    count_pulled,
    fetch,
    import_registry,
    iter_pulled,
    parse_hub_registry,
    pull,
    puller,
)
from bench.errors import BenchError
from tests import models


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def png(colour) -> bytes:
    rgb = np.zeros((24, 40, 3), np.uint8)
    rgb[:] = colour
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def mp4(level: int, n: int = 4) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=8)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(n):
            for p in s.encode(av.VideoFrame.from_ndarray(np.full((32, 32, 3), (level + 10 * i) % 256, np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


class Hub:
    """The fake Hub: ``root/datasets/<org>/<name>/...`` and what each sample must be."""

    def __init__(self, root: Path):
        self.root = root
        self.colours: dict[tuple[str, str], tuple] = {}  # (repo, sample id) -> RGB of the original image
        self.members: dict[tuple[str, str], bytes] = {}  # (repo, sample id) -> original bytes
        self.rng = np.random.default_rng(7)

    def repo(self, name: str) -> Path:
        p = self.root / "datasets" / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def image(self, repo: str, sid: str) -> bytes:
        colour = tuple(int(c) for c in self.rng.integers(0, 256, 3))
        data = png(colour)
        self.colours[(repo, sid)] = colour
        self.members[(repo, sid)] = data
        return data

    def fs(self):
        return DirFileSystem(path=str(self.root), fs=LocalFileSystem())


@pytest.fixture(scope="module")
def fake_hub(tmp_path_factory) -> Hub:
    h = Hub(tmp_path_factory.mktemp("hub"))
    # parquet shards, HF-style {bytes, path} image column, several row groups, a label column
    r = "org/pq-struct"
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    for s in range(3):
        rel = f"data/train-0000{s}-of-00003.parquet"
        cells = [{"bytes": h.image(r, f"{rel}#{i}"), "path": f"{s}_{i}.png"} for i in range(6)]
        table = pa.table({"image": pa.array(cells, type=struct), "label": ["fake" if i % 2 else "real" for i in range(6)], "caption": [f"c{i}" for i in range(6)]})
        (h.repo(r) / "data").mkdir(exist_ok=True)
        pq.write_table(table, h.repo(r) / rel, row_group_size=2)
    (h.repo(r) / "README.md").write_text("# card\n")
    # one parquet shard with two plain binary columns (data_columns)
    r = "org/pq-binary"
    src = [h.image(r, f"pairs.parquet#{i}:src_img") for i in range(4)]
    tgt = [h.image(r, f"pairs.parquet#{i}:tgt_img") for i in range(4)]
    pq.write_table(pa.table({"src_img": pa.array(src, pa.binary()), "tgt_img": pa.array(tgt, pa.binary()), "n": list(range(4))}), h.repo(r) / "pairs.parquet")
    # zips: media, a text file, an unsafe path, macOS debris, a nested folder; one zip excluded by a glob
    r = "org/zips"
    (h.repo(r) / "images").mkdir(exist_ok=True)
    (h.repo(r) / "other").mkdir(exist_ok=True)
    for rel, n in (("images/part-a.zip", 8), ("images/part-b.zip", 5), ("other/ignored.zip", 3)):
        with zipfile.ZipFile(h.repo(r) / rel, "w") as z:
            for i in range(n):
                member = f"sub/dir/img_{i}.png" if i == 0 else f"img_{i}.png"
                z.writestr(member, h.image(r, f"{rel}/{member}"))
            z.writestr("readme.txt", b"not media")
            z.writestr("../evil.png", png((1, 2, 3)))
            z.writestr("__MACOSX/._img_1.png", b"resource fork")
    # tars: plain and gzipped, with an unsafe member and a symlink; one excluded by substring
    r = "org/tars"
    for rel, mode in (("a.tar", "w"), ("b.tar.gz", "w:gz"), ("models.tar.gz", "w:gz")):
        with tarfile.open(h.repo(r) / rel, mode) as t:
            for i in range(4):
                data = h.image(r, f"{rel}/x{i}.png")
                info = tarfile.TarInfo(f"./x{i}.png")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            bad = tarfile.TarInfo("../escape.png")
            bad.size = 3
            t.addfile(bad, io.BytesIO(b"bad"))
            link = tarfile.TarInfo("link.png")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            t.addfile(link)
    # loose mp4 files in two folders
    r = "org/videos"
    for folder, n, level in (("clips/real", 4, 40), ("clips/fake", 3, 150)):
        (h.repo(r) / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            data = mp4(level + 20 * i)
            (h.repo(r) / folder / f"c{i}.mp4").write_bytes(data)
            h.members[(r, f"{folder}/c{i}.mp4")] = data
    return h


def entry(name: str, repo: str, fmt, mpa: int = -1, apd: int = -1, modality: str = "image", media_type: str = "real", **kw) -> HubEntry:
    e = HubEntry(name, repo, modality, media_type, source_format=[fmt] if isinstance(fmt, str) else list(fmt), media_per_archive=mpa, archives_per_dataset=apd)
    for k, v in kw.items():
        setattr(e, k, v)
    return e


def manifest(cache: Path, name: str) -> dict:
    return json.loads((hub.dataset_dir(cache, name) / "manifest.json").read_text())


def ids(cache: Path, name: str) -> list[str]:
    return [s["id"] for s in manifest(cache, name)["samples"]]


@pytest.fixture
def hub_source(monkeypatch):
    """``type: hub`` is a registered source, shared by the registry."""
    assert "hub" in sources.SOURCES and registry.SOURCES is sources.SOURCES


@pytest.fixture(autouse=True)
def no_retry_wait(monkeypatch):
    monkeypatch.setattr(fetch, "RETRY_WAIT_S", 0.0)


# ---------------------------------------------------------------------------------------------
# import


PUBLIC = """
benchmark_size: 52000
datasets:
  - name: zips
    path: org/zips
    modality: image
    media_type: synthetic
    source_format: zip
    media_per_archive: 3
    archives_per_dataset: 1
    exclude_paths: ["other/*"]
    generator_family: sdxl          # unknown: kept, ignored, one notice
    notes: "zip archives of PNGs"
  - name: pq-struct
    path: org/pq-struct
    modality: image
    media_type: Real
    source_format: .PARQUET
    media_per_archive: 2
    archives_per_dataset: 2
  - name: no-media-type
    path: org/zips
    modality: image
  - name: sounds
    path: org/audio
    modality: text
    media_type: real
  - name: frames-video
    path: org/frames
    modality: video
    media_type: synthetic
    source_format: frames
  - name: modelscope-one
    path: org/ms
    modality: image
    media_type: real
    source: modelscope
  - name: zips
    path: org/other
    modality: image
    media_type: real
  - "not a mapping"
  - name: zero
    path: org/zips
    modality: image
    media_type: real
    media_per_archive: 0
  - name: tars
    path: org/tars
    modality: image
    media_type: semisynthetic
    source_format: [tar.gz, tar, frames]
    exclude_paths: models
    content_category: faces
"""


def test_parse_accounts_for_every_entry(tmp_path):
    src = tmp_path / "public.yaml"
    src.write_text(PUBLIC)
    entries, notices = parse_hub_registry(src)
    assert [e.name for e in entries] == ["zips", "pq-struct", "frames-video", "modelscope-one", "tars"]
    by = {e.name: e for e in entries}
    assert by["zips"].extra == {"generator_family": "sdxl"} and by["zips"].description == "zip archives of PNGs"
    assert by["pq-struct"].source_format == ["parquet"] and by["pq-struct"].media_type == "real"
    assert by["tars"].source_format == ["tar.gz", "tar"] and by["tars"].exclude_paths == ["models"]
    assert "frames" in by["frames-video"].unsupported and "modelscope" in by["modelscope-one"].unsupported
    text = "\n".join(notices)
    for expected in ("top-level key 'benchmark_size' ignored",
                     "entry 1 (zips): unknown field 'generator_family' kept",
                     "entry 3 (no-media-type): skipped: media_type must be one of",
                     "entry 4 (sounds): skipped: modality must be one of image, video, audio",
                     "entry 5 (frames-video): unsupported: source_format frames is not supported",
                     "entry 6 (modelscope-one): unsupported: source 'modelscope'",
                     "entry 7 (zips): skipped: duplicate name 'zips' (first used by entry 1)",
                     "entry 8: skipped: an entry must be a mapping",
                     "entry 9 (zero): skipped: media_per_archive must be -1 (all) or a positive integer",
                     "entry 10 (tars): source_format frames not supported; pulling only tar.gz, tar",
                     "entry 10 (tars): unknown field 'content_category'",
                     "entry 6 (modelscope-one): media_per_archive not given: 100"):
        assert expected in text, expected


def test_import_writes_a_registry_bench_loads(tmp_path, hub_source, capsys):
    src = tmp_path / "public.yaml"
    src.write_text(PUBLIC)
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "mine.yaml").write_text(yaml.safe_dump({"datasets": [{"name": "tars", "modality": "image", "media_type": "real", "source": {"type": "folder", "path": "."}}]}))
    report = import_registry(src, reg / "hub.yaml", tmp_path / "cache")
    status = {a.index: (a.status, a.reason) for a in report.accounts}
    assert [status[i][0] for i in range(1, 11)] == ["imported", "imported", "skipped", "skipped", "unsupported", "unsupported", "skipped", "skipped", "skipped", "skipped"]
    assert "already declared in" in status[10][1]  # a name another registry file of the folder uses
    text = report.text()
    print(text)
    assert "10 entries: 2 imported, 2 unsupported (not written), 6 skipped" in text and "note: unknown field 'generator_family'" in text
    json.dumps(report.to_json())

    written = yaml.safe_load((reg / "hub.yaml").read_text())["datasets"]
    assert [d["name"] for d in written] == ["zips", "pq-struct"]
    z = written[0]
    assert set(z) <= registry.ENTRY_KEYS
    assert z["source"] == {
        "type": "hub", "repo": "org/zips", "cache_dir": str((tmp_path / "cache").resolve()), "source_format": ["zip"],
        "include_paths": [], "exclude_paths": ["other/*"], "data_columns": [], "media_per_archive": 3,
        "archives_per_dataset": 1, "extra": {"generator_family": "sdxl"},
    }
    (reg / "mine.yaml").unlink()
    specs = registry.Registry.load([str(reg)]).specs
    assert specs["pq-struct"].media_type == "real" and specs["zips"].description == "zip archives of PNGs"
    assert HubEntry.from_spec(specs["zips"]).exclude_paths == ["other/*"]

    # re-import overwrites its own file, never someone else's
    import_registry(src, reg / "hub.yaml", tmp_path / "cache")
    (reg / "hand.yaml").write_text("datasets: []\n")
    with pytest.raises(BenchError, match="was not written by `bench datasets import`"):
        import_registry(src, reg / "hand.yaml", tmp_path / "cache")


def test_not_a_registry_is_one_clear_error(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("models: []\n")
    with pytest.raises(BenchError, match="must hold `datasets:`"):
        parse_hub_registry(bad)
    with pytest.raises(BenchError, match="not found"):
        parse_hub_registry(tmp_path / "missing.yaml")


# ---------------------------------------------------------------------------------------------
# pull


def test_pull_each_source_format_keeps_original_bytes(tmp_path, fake_hub):
    cache = tmp_path / "cache"
    entries = [
        entry("zips", "org/zips", "zip", 3, 1, exclude_paths=["other/*"]),
        entry("tars", "org/tars", ["tar.gz", "tar"], -1, 2, exclude_paths=["models"]),
        entry("pq", "org/pq-struct", "parquet", 2, 2),
        entry("pairs", "org/pq-binary", "parquet", -1, -1, data_columns=["src_img", "tgt_img"]),
        entry("clips", "org/videos", "mp4", -1, -1, modality="video", include_paths=["clips/real/"]),
    ]
    results = pull(entries, cache, fs=fake_hub.fs(), progress=False)
    assert [r.status for r in results] == ["ok"] * 5, [r.line() for r in results]

    z = manifest(cache, "zips")
    assert len(z["samples"]) == 3 and len(z["files"]) == 1 and z["files"][0]["path"].startswith("images/")
    assert z["files"][0]["verified"] == "sha256"
    for s in z["samples"]:
        data = (hub.dataset_dir(cache, "zips") / s["path"]).read_bytes()
        assert sha(data) == s["sha256"] == sha(fake_hub.members[("org/zips", s["id"])])  # the member's bytes, not re-encoded
    assert any("unsafe paths skipped" in w and "../evil.png" in w for w in results[0].warnings)
    assert not list(tmp_path.rglob("evil.png")) and not list(tmp_path.rglob("readme.txt")) and not list(tmp_path.rglob("._img_1.png"))

    t = manifest(cache, "tars")
    assert sorted(f["path"] for f in t["files"]) == ["a.tar", "b.tar.gz"]
    assert {s["id"] for s in t["samples"]} == {f"{a}/x{i}.png" for a in ("a.tar", "b.tar.gz") for i in range(4)}
    for s in t["samples"]:
        assert sha((hub.dataset_dir(cache, "tars") / s["path"]).read_bytes()) == sha(fake_hub.members[("org/tars", s["id"])])
    assert not list(tmp_path.rglob("escape.png")) and not list(tmp_path.rglob("link.png"))

    p = manifest(cache, "pq")
    assert len(p["files"]) == 2 and len(p["samples"]) == 4
    per_shard = {}
    for s in p["samples"]:
        per_shard.setdefault(s["parquet"], []).append(s["row"])
        assert s["column"] == "image"
    assert all(len(rows) == 2 and rows == sorted(rows) for rows in per_shard.values())
    assert all((hub.dataset_dir(cache, "pq") / f"files/{f['path']}").is_file() for f in p["files"])

    assert len(manifest(cache, "pairs")["samples"]) == 8
    clips = manifest(cache, "clips")
    assert sorted(ids(cache, "clips")) == [f"clips/real/c{i}.mp4" for i in range(4)]
    for s in clips["samples"]:
        assert (hub.dataset_dir(cache, "clips") / s["path"]).read_bytes() == fake_hub.members[("org/videos", s["id"])]

    # read back offline: the bytes behind every SampleRef are the original image
    for name, repo in (("zips", "org/zips"), ("tars", "org/tars"), ("pq", "org/pq-struct"), ("pairs", "org/pq-binary")):
        spec = registry.DatasetSpec(name, "image", "real", {"type": "hub", "repo": repo, "cache_dir": str(cache)})
        refs = list(iter_pulled(spec))
        assert [r.sample_id for r in refs] == ids(cache, name) and count_pulled(spec) == len(refs)
        for ref in refs:
            data = ref.data if ref.data is not None else Path(ref.path).read_bytes()
            assert data == fake_hub.members[(repo, ref.sample_id)]


def test_same_seed_same_selection_other_seed_other(tmp_path, fake_hub):
    fs = fake_hub.fs()
    e = [entry("zips", "org/zips", "zip", 3, 1), entry("pq", "org/pq-struct", "parquet", 2, 2)]
    pull(e, tmp_path / "a", seed=0, fs=fs, progress=False)
    pull(e, tmp_path / "b", seed=0, fs=fs, progress=False)
    pull(e, tmp_path / "c", seed=1, fs=fs, progress=False)
    for name in ("zips", "pq"):
        assert ids(tmp_path / "a", name) == ids(tmp_path / "b", name)
        assert ids(tmp_path / "a", name) != ids(tmp_path / "c", name)
    # a re-pull with another seed reuses the downloads and drops the media of the old selection
    (r,) = pull([e[0]], tmp_path / "a", seed=1, fs=fs, progress=False)
    assert ids(tmp_path / "a", "zips") == ids(tmp_path / "c", "zips")
    media = sorted(p.relative_to(hub.dataset_dir(tmp_path / "a", "zips")).as_posix() for p in (hub.dataset_dir(tmp_path / "a", "zips") / "media").rglob("*") if p.is_file())
    assert media == sorted(s["path"] for s in manifest(tmp_path / "a", "zips")["samples"])


def test_caps(tmp_path, fake_hub):
    fs = fake_hub.fs()
    # per_dataset stops before archives it does not need
    (r,) = pull([entry("tars", "org/tars", "tar", -1, -1, exclude_paths=["models"])], tmp_path, per_dataset=5, fs=fs, progress=False)
    assert r.samples == 5 and r.files == 2
    (r,) = pull([entry("tars1", "org/tars", "tar", -1, -1, exclude_paths=["models"])], tmp_path, per_dataset=3, fs=fs, progress=False)
    assert r.samples == 3 and r.files == 1 and len(list((hub.dataset_dir(tmp_path, "tars1") / "files").rglob("*.tar*"))) == 1
    # archives_per_dataset and media_per_archive
    (r,) = pull([entry("zips", "org/zips", "zip", 2, 2)], tmp_path, fs=fs, progress=False)
    assert r.samples == 4 and r.files == 2
    # loose files: media_per_archive * archives_per_dataset of them, then per_dataset
    (r,) = pull([entry("clips", "org/videos", "mp4", 1, 5, modality="video")], tmp_path, fs=fs, progress=False)
    assert r.samples == 5
    (r,) = pull([entry("clips2", "org/videos", "mp4", -1, -1, modality="video")], tmp_path, per_dataset=2, fs=fs, progress=False)
    assert r.samples == r.files == 2
    # two media columns: per_dataset counts samples, not rows
    (r,) = pull([entry("pairs", "org/pq-binary", "parquet", -1, -1, data_columns=["src_img", "tgt_img"])], tmp_path, per_dataset=3, fs=fs, progress=False)
    assert r.samples == 3 and [s["id"].split(":")[1] for s in manifest(tmp_path, "pairs")["samples"]] == ["src_img", "tgt_img", "src_img"]


def test_auto_format_globs_and_row_filter(tmp_path, fake_hub):
    fs = fake_hub.fs()
    results = pull([
        entry("auto-zip", "org/zips", [], -1, -1, include_paths=["images/*.zip"]),
        entry("auto-mp4", "org/videos", [], -1, -1, modality="video", exclude_paths=["clips/real/"]),
        entry("fakes", "org/pq-struct", "parquet", -1, -1, filter_column="label", filter_value="fake"),
    ], tmp_path, fs=fs, progress=False)
    assert [r.source_format for r in results] == ["zip", "mp4", "parquet"]
    assert {s.split("/")[0] + "/" + s.split("/")[1] for s in ids(tmp_path, "auto-zip")} == {"images/part-a.zip", "images/part-b.zip"}
    assert sorted(ids(tmp_path, "auto-mp4")) == [f"clips/fake/c{i}.mp4" for i in range(3)]
    rows = manifest(tmp_path, "fakes")["samples"]
    assert len(rows) == 9 and all(s["row"] % 2 == 1 for s in rows)  # odd rows are labelled fake


def test_resume_continues_a_partial_download(tmp_path, fake_hub):
    src = fake_hub.root / "datasets/org/zips/images/part-a.zip"
    data = src.read_bytes()
    e = entry("zips", "org/zips", "zip", -1, -1, include_paths=["part-a"])
    part = hub.dataset_dir(tmp_path, "zips") / "files/images/part-a.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])
    (r,) = pull([e], tmp_path, fs=fake_hub.fs(), progress=False)
    assert r.status == "ok" and r.resumed == 1 and r.refetched == 0
    assert r.bytes_downloaded == len(data) - 1000  # continued, not restarted
    assert (part.parent / "part-a.zip").read_bytes() == data and not part.exists()
    # a second pull finds the verified file and downloads nothing
    (r,) = pull([e], tmp_path, fs=fake_hub.fs(), progress=False)
    assert r.bytes_downloaded == 0 and r.samples == 8


def test_corrupt_downloads_are_detected_and_fetched_again(tmp_path, fake_hub):
    src = fake_hub.root / "datasets/org/zips/images/part-a.zip"
    data = src.read_bytes()
    e = entry("zips", "org/zips", "zip", -1, -1, include_paths=["part-a"])
    files = hub.dataset_dir(tmp_path, "zips") / "files/images"
    files.mkdir(parents=True)
    damaged = bytearray(data)
    damaged[500] ^= 0xFF
    # a complete-looking .part with one wrong byte: resumed (nothing left to read), rejected, fetched again
    (files / "part-a.zip.part").write_bytes(damaged)
    (r,) = pull([e], tmp_path, fs=fake_hub.fs(), progress=False)
    assert r.status == "ok" and r.refetched == 1 and r.bytes_downloaded == len(data)
    assert (files / "part-a.zip").read_bytes() == data
    # a finished file damaged later (same size) and one too long: not trusted, fetched again
    for bad in (bytes(damaged), data + b"x"):
        (files / "part-a.zip").write_bytes(bad)
        (r,) = pull([e], tmp_path, fs=fake_hub.fs(), progress=False)
        assert r.status == "ok" and r.bytes_downloaded == len(data) and (files / "part-a.zip").read_bytes() == data


class FlippingFS(DirFileSystem):
    """A file system whose reads come back with one byte flipped (a broken mirror or proxy)."""

    def open(self, path, mode="rb", **kwargs):
        f = super().open(path, mode, **kwargs)
        if "block_size" not in kwargs:  # the hash of the source is computed from the good bytes
            return f
        data = bytearray(f.read())
        f.close()
        data[len(data) // 2] ^= 1
        return io.BytesIO(bytes(data))


class TruncatingFS(DirFileSystem):
    def open(self, path, mode="rb", **kwargs):
        f = super().open(path, mode, **kwargs)
        if "block_size" not in kwargs:
            return f
        data = f.read()
        f.close()
        return io.BytesIO(data[:-10])


@pytest.mark.parametrize("cls,reason", [(FlippingFS, "sha256 mismatch"), (TruncatingFS, "size mismatch")])
def test_a_file_that_never_verifies_is_reported(tmp_path, fake_hub, cls, reason):
    fs = cls(path=str(fake_hub.root), fs=LocalFileSystem())
    (r,) = pull([entry("zips", "org/zips", "zip", -1, -1, include_paths=["part-a"])], tmp_path, fs=fs, progress=False)
    assert r.status == "failed" and reason in r.reason and "after 3 tries" in r.reason and r.refetched == 3
    assert not (hub.dataset_dir(tmp_path, "zips") / "manifest.json").exists()
    assert not list(tmp_path.rglob("part-a.zip"))


def test_a_dataset_stops_trying_after_too_many_failed_files(tmp_path, fake_hub, monkeypatch):
    monkeypatch.setattr(fetch, "MAX_FILE_FAILURES", 2)
    monkeypatch.setattr(puller, "DOWNLOAD_WORKERS", 1)
    fs = FlippingFS(path=str(fake_hub.root), fs=LocalFileSystem())
    (r,) = pull([entry("clips", "org/videos", "mp4", -1, -1, modality="video")], tmp_path, fs=fs, progress=False)
    assert r.status == "failed" and r.refetched == 2 * 3 and len(r.warnings) == 7
    assert sum("not tried: 2 files of this dataset failed already" in w for w in r.warnings) == 5
    assert "... and" not in hub.pull_report([r])


def test_a_failing_dataset_is_reported_and_the_others_go_on(tmp_path, fake_hub):
    results = pull([
        entry("missing", "org/does-not-exist", "zip"),
        entry("no-match", "org/zips", "parquet"),
        entry("wrong-column", "org/pq-binary", "parquet", data_columns=["nope"]),
        entry("unsupported", "org/zips", "zip", unsupported="source 'modelscope': only Hugging Face repositories can be pulled"),
        entry("good", "org/zips", "zip", 1, 1),
    ], tmp_path, fs=fake_hub.fs(), progress=False)
    assert [r.status for r in results] == ["failed", "failed", "failed", "failed", "ok"]
    assert "not found on the Hub" in results[0].reason
    assert "no file of 'org/zips' matches source_format parquet" in results[1].reason
    assert "column(s) nope not found" in results[2].reason
    assert "modelscope" in results[3].reason
    assert results[4].samples == 1
    report = hub.pull_report(results)
    assert "1 of 5 dataset(s) pulled; failed: missing, no-match, wrong-column, unsupported" in report


def test_default_file_system_is_the_hub_and_offline_is_a_reported_failure(tmp_path):
    (r,) = pull([entry("x", "org/name", "zip")], tmp_path, progress=False)  # HF_HUB_OFFLINE=1 (conftest)
    assert r.status == "failed" and "cannot list 'org/name'" in r.reason and "offline" in r.reason.lower()


def test_not_pulled_names_the_fix(tmp_path):
    spec = registry.DatasetSpec("zips", "image", "real", {"type": "hub", "repo": "org/zips", "cache_dir": str(tmp_path)})
    with pytest.raises(BenchError, match="bench datasets pull zips"):
        next(iter_pulled(spec))
    with pytest.raises(BenchError, match="bench datasets pull zips"):
        count_pulled(spec)


# ---------------------------------------------------------------------------------------------
# import -> pull -> score, offline


def test_import_pull_and_score_offline(tmp_path, fake_hub, hub_source):
    public = tmp_path / "public.yaml"
    public.write_text(yaml.safe_dump({"benchmark_size": 100, "datasets": [
        {"name": "zips", "path": "org/zips", "modality": "image", "media_type": "synthetic", "source_format": "zip",
         "media_per_archive": 4, "archives_per_dataset": 2, "exclude_paths": ["other/"], "generator_family": "x"},
        {"name": "tars", "path": "org/tars", "modality": "image", "media_type": "semisynthetic", "source_format": "tar.gz",
         "media_per_archive": 3, "archives_per_dataset": -1, "exclude_paths": ["models.tar.gz"]},
        {"name": "pq", "path": "org/pq-struct", "modality": "image", "media_type": "real", "source_format": "parquet",
         "media_per_archive": 3, "archives_per_dataset": 2},
        {"name": "clips", "path": "org/videos", "modality": "video", "media_type": "real", "source_format": "mp4",
         "media_per_archive": -1, "archives_per_dataset": -1},
        {"name": "gone", "path": "org/gone", "modality": "image", "media_type": "real", "source_format": "zip"},
    ]}))
    reg = tmp_path / "registry"
    report = import_registry(public, reg / "public.yaml", tmp_path / "hubcache")
    assert [a.status for a in report.accounts] == ["imported"] * 5
    loaded = registry.Registry.load([str(reg)])
    results = pull(hub.select_hub_specs(loaded, None, True), fs=fake_hub.fs(), seed=3, progress=False)  # cache_dir: the registry's
    assert {r.name: r.status for r in results} == {"zips": "ok", "tars": "ok", "pq": "ok", "clips": "ok", "gone": "failed"}

    model = models.save(models.channel_means(32, 32), tmp_path / "means.onnx")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"datasets": ["zips", "tars", "pq"], "dataset_dirs": ["registry"], "progress": False, "bootstrap": 50, "cache": False}))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--model", str(model), "--output", str(out)]) == 0
    rec = pd.read_parquet(out / "records.parquet")
    assert len(rec) == 8 + 6 + 6 and (rec["status"] == "ok").all()
    repos = {"zips": "org/zips", "tars": "org/tars", "pq": "org/pq-struct"}
    labels = {"zips": 1, "tars": 2, "pq": 0}
    for row in rec.itertuples():
        assert row.label == labels[row.dataset]
        np.testing.assert_allclose(row.logits, fake_hub.colours[(repos[row.dataset], row.sample_id)], atol=1e-3)
    assert list(rec[rec["dataset"] == "pq"]["sample_id"]) == [s["id"] for s in manifest(tmp_path / "hubcache", "pq")["samples"]]

    video_model = models.save(models.frame_probe(0, 16, 16), tmp_path / "probe.onnx")
    cfg.write_text(yaml.safe_dump({"datasets": ["clips"], "dataset_dirs": ["registry"], "progress": False, "bootstrap": 50, "cache": False, "frames": 4}))
    assert main(["run", str(cfg), "--model", str(video_model), "--output", str(tmp_path / "vout")]) == 0
    vrec = pd.read_parquet(tmp_path / "vout" / "records.parquet")
    assert len(vrec) == 7 and (vrec["status"] == "ok").all()

    # a dataset that failed to pull stops the run with the fix, not a traceback
    cfg.write_text(yaml.safe_dump({"datasets": ["gone"], "dataset_dirs": ["registry"], "progress": False}))
    assert main(["run", str(cfg), "--model", str(model), "--output", str(tmp_path / "o2")]) == 2


def cli_wired() -> bool:
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            build_parser().parse_args(["datasets", "import", "x.yaml"])
        except SystemExit:
            return False
    return "hub" in sources.SOURCES


@pytest.mark.skipif(not cli_wired(), reason="`bench datasets import/pull` and the hub source are not wired into bench yet")
def test_cli_import_pull_list(tmp_path, fake_hub, monkeypatch, capsys):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfFileSystem", fake_hub.fs)  # the CLI's default file system, pointed at the fake Hub
    public = tmp_path / "public.yaml"
    public.write_text(yaml.safe_dump({"datasets": [
        {"name": "zips", "path": "org/zips", "modality": "image", "media_type": "synthetic", "source_format": "zip", "media_per_archive": 2, "archives_per_dataset": 1},
        {"name": "gone", "path": "org/gone", "modality": "image", "media_type": "real", "source_format": "zip", "media_per_archive": 2, "archives_per_dataset": 1},
        {"name": "sounds", "path": "org/s", "modality": "text", "media_type": "real"},
    ]}))
    reg = tmp_path / "reg"
    assert main(["datasets", "import", str(public), "--output", str(reg / "public.yaml"), "--cache-dir", str(tmp_path / "c")]) == 0
    assert "3 entries: 2 imported, 0 unsupported (not written), 1 skipped" in capsys.readouterr().out
    assert main(["datasets", "pull", "zips", "--registry", str(reg), "--no-progress", "--seed", "2"]) == 0
    assert "zips: 2 samples from 1 zip file(s)" in capsys.readouterr().out
    assert main(["datasets", "pull", "--all", "--registry", str(reg), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "gone: FAILED: dataset repository 'org/gone' not found" in out and "1 of 2 dataset(s) pulled" in out
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"dataset_dirs": ["reg"]}))
    assert main(["datasets", "--config", str(cfg)]) == 0
    assert "org/zips" in capsys.readouterr().out
    assert main(["datasets", "pull", "--registry", str(reg)]) == 2
    assert "name the datasets to pull, or give --all" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# huggingface_hub's own HfFileSystem, against a local endpoint serving the same folder


LFS_SUFFIXES = (".zip", ".parquet", ".tar", ".gz")  # the rest is stored in git: verified by blob sha1


def mock_hub_handler(root: Path, log: list):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code: int, body: bytes = b"", headers: dict | None = None, head: bool = False):
            self.send_response(code)
            for k, v in {"Content-Length": str(len(body)), **(headers or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def do_HEAD(self):
            self.do_GET(head=True)

        def do_GET(self, head: bool = False):
            url = urlparse(self.path)
            path, query = unquote(url.path), parse_qs(url.query)
            log.append((path, self.headers.get("range")))
            if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)(?:/revision/[^/]+)?", path):
                if not (root / "datasets" / m[1]).is_dir():
                    return self.reply(404, b"{}", {"X-Error-Code": "RepoNotFound"})
                return self.reply(200, json.dumps({"id": m[1], "sha": "0" * 40, "private": False, "siblings": []}).encode(), {"Content-Type": "application/json"})
            if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/tree/[^/]+/?(.*)", path):
                repo = root / "datasets" / m[1]
                recursive = query.get("recursive", ["false"])[0].lower() == "true"
                items = sorted(repo.joinpath(m[2]).rglob("*") if recursive else repo.joinpath(m[2]).iterdir())
                out = []
                for p in items:
                    rel = p.relative_to(repo).as_posix()
                    if p.is_dir():
                        out.append({"type": "directory", "oid": "1" * 40, "size": 0, "path": rel})
                        continue
                    data = p.read_bytes()
                    item = {"type": "file", "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), "size": len(data), "path": rel}
                    if p.name.endswith(LFS_SUFFIXES):
                        item["lfs"] = {"oid": sha(data), "size": len(data), "pointerSize": 134}
                    out.append(item)
                return self.reply(200, json.dumps(out).encode(), {"Content-Type": "application/json"})
            if m := re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/[^/]+/(.*)", path):
                data = (root / "datasets" / m[1] / m[2]).read_bytes()
                if rng := self.headers.get("range"):
                    a, b = rng.split("=")[1].split("-")
                    part = data[int(a): int(b) + 1 if b else None]
                    return self.reply(206, part, {"Content-Range": f"bytes {a}-{int(a) + len(part) - 1}/{len(data)}", "ETag": '"x"'}, head)
                return self.reply(200, data, {"ETag": '"x"', "X-Repo-Commit": "0" * 40}, head)
            return self.reply(404)

    return Handler


@pytest.fixture
def hub_endpoint(fake_hub, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # only 127.0.0.1 is reached
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    log: list = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), mock_hub_handler(fake_hub.root, log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", log
    server.shutdown()
    server.server_close()


def test_hf_file_system_against_a_local_endpoint(tmp_path, fake_hub, hub_endpoint):
    from huggingface_hub import HfFileSystem

    url, log = hub_endpoint
    fs = HfFileSystem(endpoint=url, token=False)
    data = (fake_hub.root / "datasets/org/zips/images/part-a.zip").read_bytes()
    part = hub.dataset_dir(tmp_path, "zips") / "files/images/part-a.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])
    results = pull([
        entry("zips", "org/zips", "zip", -1, -1, include_paths=["part-a"]),
        entry("clips", "org/videos", "mp4", 2, 1, modality="video"),
        entry("pq", "org/pq-struct", "parquet", 2, 2),
        entry("missing", "org/does-not-exist", "zip"),
    ], tmp_path, fs=fs, progress=False)
    assert [r.status for r in results] == ["ok", "ok", "ok", "failed"], hub.pull_report(results)
    assert results[0].resumed == 1 and results[0].bytes_downloaded == len(data) - 1000
    reads = [r for p, r in log if p == "/datasets/org/zips/resolve/main/images/part-a.zip"]
    assert reads and reads[0].startswith("bytes=1000-")  # ranged reads from the .part's end, not from 0
    assert (part.parent / "part-a.zip").read_bytes() == data
    assert [f["verified"] for f in manifest(tmp_path, "zips")["files"]] == ["sha256"]  # the LFS sha256 of the listing
    assert [f["verified"] for f in manifest(tmp_path, "clips")["files"]] == ["git-sha1"] * 2  # git blob ids
    assert "not found on the Hub" in results[3].reason
    for s in manifest(tmp_path, "clips")["samples"]:
        assert (hub.dataset_dir(tmp_path, "clips") / s["path"]).read_bytes() == fake_hub.members[("org/videos", s["id"])]
    spec = registry.DatasetSpec("pq", "image", "real", {"type": "hub", "repo": "org/pq-struct", "cache_dir": str(tmp_path)})
    assert [r.data for r in iter_pulled(spec)] == [fake_hub.members[("org/pq-struct", i)] for i in ids(tmp_path, "pq")]
