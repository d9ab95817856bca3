"""The sample cache: hits skip decoding, stale and corrupt entries are rebuilt, never used."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cache import SampleCache, source_identity
from bench.cli import main
from bench.data.refs import SampleRef
from tests import models
from tests.test_run import make_project, random_images


def run(cfg: Path, out: Path, *flags: str) -> tuple[pd.DataFrame, dict]:
    assert main(["run", str(cfg), "--output", str(out), *flags]) == 0
    return pd.read_parquet(out / "records.parquet"), json.loads((out / "results.json").read_text())


@pytest.fixture
def project(tmp_path):
    model = models.save(models.linear_logits(3), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, {"a": ("real", random_images(12, 1)), "b": ("synthetic", random_images(9, 2))}, model, batch_size=4, augment_level=2, cache_dir=str(tmp_path / "cache"))
    return cfg, tmp_path


def cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").rglob("*.px"))


def test_second_run_hits_and_gives_identical_records(project):
    cfg, tmp = project
    cold, doc1 = run(cfg, tmp / "r1")
    warm, doc2 = run(cfg, tmp / "r2")
    assert doc1["throughput"]["cache"] | {"dir": None} == {"enabled": True, "dir": None, "hits": 0, "misses": 21, "rebuilt": 0, "evicted": 0}
    assert doc2["throughput"]["cache"]["hits"] == 21 and doc2["throughput"]["cache"]["misses"] == 0
    pd.testing.assert_frame_equal(cold, warm)  # augmentation still runs after the cache
    plain, doc3 = run(cfg, tmp / "r3", "--no-cache")
    pd.testing.assert_frame_equal(cold, plain)
    assert doc3["throughput"]["cache"] == {"enabled": False}
    assert len(cache_files(tmp)) == 21


def test_changed_source_is_a_miss(project):
    cfg, tmp = project
    run(cfg, tmp / "r1")
    victim = tmp / "media" / "a" / "img_003.png"
    other = tmp / "media" / "a" / "img_004.png"
    victim.write_bytes(other.read_bytes())  # new content, new size and change time
    records, doc = run(cfg, tmp / "r2")
    assert doc["throughput"]["cache"]["misses"] == 1 and doc["throughput"]["cache"]["hits"] == 20
    before = pd.read_parquet(tmp / "r1" / "records.parquet")
    changed = records["sample_id"] == "img_003.png"
    assert not np.allclose(records[changed]["logits"].iloc[0], before[changed]["logits"].iloc[0])
    assert np.allclose(np.stack(records[~changed]["logits"]), np.stack(before[~changed]["logits"]))


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_corrupt_entries_are_rebuilt_not_used(project, damage):
    cfg, tmp = project
    clean, _ = run(cfg, tmp / "r1")
    for path in cache_files(tmp)[:5]:
        data = bytearray(path.read_bytes())
        if damage == "flip":
            data[-10] ^= 0xFF
        elif damage == "truncate":
            data = data[: len(data) // 2]
        elif damage == "garbage":
            data = bytearray(os.urandom(len(data)))
        else:
            data = bytearray()
        path.write_bytes(bytes(data))
    records, doc = run(cfg, tmp / "r2")
    assert doc["throughput"]["cache"]["rebuilt"] == 5 and doc["throughput"]["cache"]["hits"] == 16
    pd.testing.assert_frame_equal(clean, records)
    _, doc = run(cfg, tmp / "r3")
    assert doc["throughput"]["cache"]["hits"] == 21  # rebuilt entries are good again


def test_entry_for_another_key_is_refused(tmp_path):
    cache = SampleCache(tmp_path, 10**9, {"height": 8})
    a, b = (SampleRef("d", "real", 0, name, data=name.encode()) for name in ("a", "b"))
    ka, kb = cache.key(source_identity(a)), cache.key(source_identity(b))
    cache.put(ka, np.full((8, 8, 3), 7, np.uint8))
    cache._path(kb).parent.mkdir(exist_ok=True)
    cache._path(kb).write_bytes(cache._path(ka).read_bytes())  # a's file under b's name
    assert cache.get(kb) is None and cache.stats.rebuilt == 1
    pixels, frames = cache.get(ka)
    assert pixels.shape == (8, 8, 3) and int(pixels[0, 0, 0]) == 7 and frames is None


def test_key_covers_what_shapes_the_pixels(tmp_path):
    ref = SampleRef("d", "real", 0, "x", data=b"abc")
    keys = {SampleCache(tmp_path / str(i), 10**9, params).key(source_identity(ref)) for i, params in enumerate([{"height": 8}, {"height": 9}, {"height": 8, "geometry": "resize-crop"}])}
    assert len(keys) == 3
    assert SampleCache(tmp_path / "x", 10**9, {"height": 8}).key(source_identity(ref)) == SampleCache(tmp_path / "y", 10**9, {"height": 8}).key(source_identity(ref))


def test_size_cap_evicts_least_recently_used(tmp_path):
    refs = [SampleRef("d", "real", 0, str(i), data=bytes([i])) for i in range(30)]
    probe = SampleCache(tmp_path / "probe", 10**9, {"h": 8})
    probe.put(probe.key(source_identity(refs[0])), np.zeros((8, 8, 3), np.uint8))
    (one,) = [f.stat().st_size for f in (tmp_path / "probe").rglob("*.px")]
    cache = SampleCache(tmp_path / "capped", 10 * one, {"h": 8})
    for i, ref in enumerate(refs):
        cache.put(cache.key(source_identity(ref)), np.full((8, 8, 3), i, np.uint8))
    files = list((tmp_path / "capped").rglob("*.px"))
    assert 8 <= len(files) <= 10 and cache.stats.evicted == 30 - len(files)
    assert sum(f.stat().st_size for f in files) <= 10 * one
    assert cache.get(cache.key(source_identity(refs[-1]))) is not None  # the newest survive


def test_video_frames_survive_the_cache(tmp_path):
    cache = SampleCache(tmp_path, 10**9, {"h": 4})
    ref = SampleRef("d", "real", 0, "c", data=b"clip")
    cache.put(cache.key(source_identity(ref)), np.zeros((5, 4, 4, 3), np.uint8), [0, 2, 4, 4, 4])
    pixels, frames = cache.get(cache.key(source_identity(ref)))
    assert pixels.shape == (5, 4, 4, 3) and frames == [0, 2, 4, 4, 4]


def test_size_cap_holds_across_runs(tmp_path):
    """Each run is a new SampleCache over the same folder: it starts from the entries already
    there (in their subfolders), so four runs over different images stay within the cap."""
    probe = SampleCache(tmp_path / "probe", 10**9, {"h": 8})
    probe.put(probe.key("probe"), np.zeros((8, 8, 3), np.uint8))
    (one,) = [f.stat().st_size for f in (tmp_path / "probe").rglob("*.px")]
    cap = 50 * one
    root = tmp_path / "capped"
    for run_index in range(4):
        cache = SampleCache(root, cap, {"h": 8})
        for i in range(40):
            cache.put(cache.key(f"run{run_index}-image{i}"), np.full((8, 8, 3), i, np.uint8))
        size = sum(f.stat().st_size for f in root.rglob("*.px"))
        assert size <= cap + one, f"run {run_index + 1} left {size // one} entries, cap {cap // one}"
    assert cache.get(cache.key("run3-image39")) is not None  # the newest survive
    SampleCache(root, 20 * one, {"h": 8})  # a later run with a smaller cap trims at the start
    assert sum(f.stat().st_size for f in root.rglob("*.px")) <= 20 * one
