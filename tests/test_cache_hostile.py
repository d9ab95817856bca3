"""The sample cache against a hostile folder: replaced sources, forged or malformed entries, races
with eviction, unusable folders, concurrent processes, names that are not UTF-8."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from bench.cache import MAGIC, SampleCache, default_cache_dir, source_identity
from bench.data.refs import SampleRef
from tests import models, test_cache
from tests.conftest import ROOT
from tests.test_cache import cache_files, run
from tests.test_run import make_project, random_images

project = test_cache.project  # the same fixture: a project of 21 images with a cache folder

PIXELS = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)


def entry(tmp_path: Path, frames: list[int] | None = None) -> tuple[SampleCache, str, Path]:
    """A cache holding one good entry: (cache, its key, its file)."""
    cache = SampleCache(tmp_path / "cache", 10**9, {"h": 8})
    key = cache.key("source")
    cache.put(key, PIXELS, frames)
    return cache, key, cache._path(key)


def entry_size(tmp_path: Path) -> int:
    _, _, path = entry(tmp_path / "probe")
    return path.stat().st_size


@pytest.fixture
def said():
    """The notices about the cache that the ``bench`` logger gives, as their lines."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    log = logging.getLogger("bench")
    log.addHandler(handler)
    yield lambda: [line for line in lines if line.startswith("notice:") and "cache" in line]
    log.removeHandler(handler)


# -- the source's identity ---------------------------------------------------------------------


def test_replaced_bytes_with_mtime_restored_is_a_miss(project):
    """`cp -p`, `rsync -t`, `tar x`: another image of the same size, the old mtime kept."""
    cfg, tmp = project
    victim = tmp / "media" / "a" / "img_003.png"
    uncompressed = [cv2.IMWRITE_PNG_COMPRESSION, 0]  # the file's size depends on its dimensions only
    cv2.imwrite(str(victim), np.zeros((40, 40, 3), np.uint8), uncompressed)
    before, _ = run(cfg, tmp / "r1")
    old = victim.stat()
    cv2.imwrite(str(victim), np.full((40, 40, 3), 200, np.uint8), uncompressed)
    os.utime(victim, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert (victim.stat().st_size, victim.stat().st_mtime_ns) == (old.st_size, old.st_mtime_ns)
    records, doc = run(cfg, tmp / "r2")
    assert doc["throughput"]["cache"]["misses"] == 1 and doc["throughput"]["cache"]["hits"] == 20
    changed = records["sample_id"] == "img_003.png"
    assert not np.allclose(records[changed]["logits"].iloc[0], before[changed]["logits"].iloc[0])


def test_identity_holds_inode_size_mtime_and_ctime(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"abc")
    st = path.stat()
    identity = source_identity(SampleRef("d", "real", 0, "a.png", path=str(path)))
    assert identity.endswith(f":{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}")


def test_names_that_are_not_utf8(tmp_path):
    """os.walk hands out surrogate-escaped str for such names: identity and key must not raise,
    and two such names get two keys."""
    cache = SampleCache(tmp_path / "cache", 10**9, {"h": 8})
    keys = set()
    for raw in (b"\xff.png", b"\xfe.png"):
        path = os.path.join(os.fsencode(tmp_path), raw)
        with open(path, "wb") as f:
            f.write(b"abc")
        ref = SampleRef("d", "real", 0, os.fsdecode(raw), path=os.fsdecode(path))
        keys.add(cache.key(source_identity(ref)))
    assert len(keys) == 2


# -- forged and malformed entries ----------------------------------------------------------------


def rewrite_header(path: Path, change) -> None:
    """Replace the entry's JSON header by ``change(header)``, its length field to match; the rest
    of the fixed prefix (checksum) and the pixels stay."""
    data = path.read_bytes()
    start = data.index(b'{"')
    (n,) = struct.unpack("<I", data[len(MAGIC) : len(MAGIC) + 4])
    new = json.dumps(change(json.loads(data[start : start + n]))).encode()
    prefix = MAGIC + struct.pack("<I", len(new)) + data[len(MAGIC) + 4 : start] + new
    padding = b"\0" * (-len(prefix) % 64)
    path.write_bytes(prefix + padding + data[-PIXELS.nbytes :])


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda h: h | {"shape": [-1, 8, 3]}, id="negative"),
        pytest.param(lambda h: h | {"shape": [2**40, 2**40, 3]}, id="absurd"),
        pytest.param(lambda h: h | {"shape": [10**30, 1, 1]}, id="overflowing"),
        pytest.param(lambda h: h | {"shape": [4, 8, 3]}, id="shorter"),
        pytest.param(lambda h: h | {"shape": "8x8"}, id="not-a-list"),
        pytest.param(lambda h: [h], id="not-a-dict"),
    ],
)
def test_forged_header_is_a_miss_and_rebuilt(tmp_path, forge):
    cache, key, path = entry(tmp_path)
    rewrite_header(path, forge)
    assert cache.get(key) is None and cache.stats.rebuilt == 1
    cache.put(key, PIXELS)
    pixels, _ = cache.get(key)
    np.testing.assert_array_equal(pixels, PIXELS)


def test_checksum_covers_the_frames(tmp_path):
    cache, key, path = entry(tmp_path, [0, 2, 4, 4, 4])
    data = path.read_bytes()
    path.write_bytes(data.replace(b"[0, 2, 4, 4, 4]", b"[0, 2, 4, 4, 5]"))
    assert path.read_bytes() != data
    assert cache.get(key) is None and cache.stats.rebuilt == 1


def test_length_not_matching_the_shape_is_a_miss(tmp_path):
    cache, key, path = entry(tmp_path)
    with open(path, "ab") as f:
        f.write(b"\0" * 64)
    assert cache.get(key) is None and cache.stats.rebuilt == 1


def test_huge_header_length_is_a_miss(tmp_path):
    cache, key, path = entry(tmp_path)
    data = path.read_bytes()
    path.write_bytes(MAGIC + struct.pack("<I", 2**32 - 1) + data[len(MAGIC) + 4 :])
    assert cache.get(key) is None and cache.stats.rebuilt == 1


def fifo(path: Path) -> None:
    os.mkfifo(path)


def folder(path: Path) -> None:
    path.mkdir()
    (path / "inside").write_bytes(b"x")


def symlink_to_good_copy(path: Path) -> None:
    target = path.with_name("elsewhere")
    shutil.copyfile(path.with_suffix(".good"), target)
    path.symlink_to(target)


@pytest.mark.parametrize("make", [fifo, folder, symlink_to_good_copy], ids=["fifo", "folder", "symlink"])
def test_non_regular_entry_is_never_opened_and_is_rebuilt(tmp_path, make):
    cache, key, path = entry(tmp_path)
    path.rename(path.with_suffix(".good"))
    make(path)
    result: list = []
    reader = threading.Thread(target=lambda: result.append(cache.get(key)), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # blocked opening a FIFO: release it, then fail
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("get() blocked on a FIFO in place of an entry")
    assert result == [None] and cache.stats.rebuilt == 1
    cache.put(key, PIXELS)
    assert path.is_file() and not path.is_symlink()
    pixels, _ = cache.get(key)
    np.testing.assert_array_equal(pixels, PIXELS)


# -- races with eviction -------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["before-touch", "touch-fails"])
def test_hit_racing_an_eviction_does_not_raise(tmp_path, monkeypatch, when):
    """Another run evicts the entry while it is read: the read ends as a verified hit (the open
    file keeps its bytes) or a miss, never an exception."""
    cache, key, path = entry(tmp_path)
    if when == "before-touch":
        real = zlib.crc32

        def evicting_crc32(*args):
            path.unlink(missing_ok=True)
            return real(*args)

        monkeypatch.setattr(zlib, "crc32", evicting_crc32)
    else:

        def utime(*args, **kwargs):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))

        monkeypatch.setattr(os, "utime", utime)
    hit = cache.get(key)
    assert hit is None or np.array_equal(hit[0], PIXELS)


def test_eviction_tolerates_entries_and_folders_vanishing(tmp_path, monkeypatch):
    """A user (or another run) deletes entries and a whole subfolder while eviction scans."""
    one = entry_size(tmp_path)
    cache = SampleCache(tmp_path / "cache", 10 * one, {"h": 8})
    for i in range(9):
        cache.put(cache.key(f"s{i}"), PIXELS)
    real = os.scandir

    def vanishing_scandir(path="."):
        if not isinstance(path, int) and Path(path).parent == cache.root:  # a subfolder: gone before it is listed
            with real(path) as files:
                for f in files:
                    os.unlink(f.path)
            os.rmdir(path)
        return real(path)

    monkeypatch.setattr(os, "scandir", vanishing_scandir)
    for i in range(9, 20):
        cache.put(cache.key(f"s{i}"), PIXELS)
    monkeypatch.undo()
    assert sum(f.stat().st_size for f in cache_files(tmp_path)) <= 10 * one


# -- folders that cannot hold a cache --------------------------------------------------------------


@pytest.fixture
def read_only(monkeypatch):
    """Make a folder read-only. Root ignores file modes, so for root the writes the OS would
    refuse are refused here (EACCES, as for another user)."""

    def make(root: Path) -> None:
        for p in [root, *root.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        if os.geteuid() != 0:
            return
        inside = str(root) + os.sep

        def denied(path) -> bool:
            where = os.path.abspath(os.fsdecode(path))
            return where == str(root) or where.startswith(inside)

        def refuse(real, writes=lambda *a, **k: True):
            def wrapped(path, *args, **kwargs):
                if not isinstance(path, int) and denied(path) and writes(*args, **kwargs):
                    raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
                return real(path, *args, **kwargs)

            return wrapped

        write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT
        monkeypatch.setattr(os, "open", refuse(os.open, lambda flags, *a, **k: bool(flags & write_flags)))
        for name in ("mkdir", "unlink", "rmdir", "utime"):
            monkeypatch.setattr(os, name, refuse(getattr(os, name)))
        monkeypatch.setattr(os, "replace", refuse(os.replace))
        monkeypatch.setattr(os, "rename", refuse(os.rename))

    yield make
    monkeypatch.undo()


def unusable(kind: str, tmp_path: Path, read_only, monkeypatch) -> None:
    """Point the default cache folder at one of the named kind; the read-only one holds the
    entries of a first run. (A cache_dir the user names is refused before the run if it cannot
    be written, by ``results.check_paths``; the default folder and a disk that fills up during a
    run are the cache's to survive.)"""
    if kind == "under-a-file":
        (tmp_path / "file").write_bytes(b"x")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
        return
    if kind == "read-only":
        read_only(default_cache_dir())
        return
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    root = str(default_cache_dir())  # full: every write of an entry reports ENOSPC (it goes to /dev/full)
    real = tempfile.mkstemp

    def mkstemp(**kwargs):
        if str(kwargs.get("dir", "")).startswith(root):
            return os.open("/dev/full", os.O_WRONLY), os.path.join(kwargs["dir"], ".tmp-full")
        return real(**kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("kind", ["read-only", "full", "under-a-file"])
def test_unusable_default_folder_runs_uncached_with_one_notice(tmp_path, kind, read_only, monkeypatch, said):
    model = models.save(models.linear_logits(3), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, {"a": ("real", random_images(6, 1)), "b": ("synthetic", random_images(5, 2))}, model, batch_size=4)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    run(cfg, tmp_path / "r1")  # fills the cache: hits must not touch a read-only folder either
    plain, _ = run(cfg, tmp_path / "plain", "--no-cache")
    unusable(kind, tmp_path, read_only, monkeypatch)
    records, doc = run(cfg, tmp_path / "r2")
    monkeypatch.undo()
    pd.testing.assert_frame_equal(plain, records)
    assert len(said()) == 1, said()
    assert doc["throughput"]["cache"]["enabled"] is False and doc["throughput"]["cache"]["hits"] == 0


def test_disabled_cache_misses_and_stores_nothing(tmp_path, said):
    (tmp_path / "file").write_bytes(b"x")
    cache = SampleCache(tmp_path / "file" / "cache", 10**9, {"h": 8})
    cache.put(cache.key("s"), PIXELS)
    assert cache.get(cache.key("s")) is None
    assert cache.disabled and len(said()) == 1


# -- the cap across processes --------------------------------------------------------------------


def test_cap_holds_for_two_runs_filling_one_folder_at_once(tmp_path):
    """Two runs (each its own SampleCache, as two processes have) alternate puts: each must see
    what the other added, so the folder stays within the cap plus the entry in flight."""
    one = entry_size(tmp_path)
    cap = 20 * one
    runs = [SampleCache(tmp_path / "cache", cap, {"h": 8}) for _ in range(2)]
    for i in range(30):
        for r, cache in enumerate(runs):
            cache.put(cache.key(f"run{r}-{i}"), PIXELS)
            size = sum(f.stat().st_size for f in cache_files(tmp_path))
            assert size <= cap + one, f"{size // one} entries after put {i} of run {r}, cap {cap // one}"


FILL = """
import sys
import numpy as np
from bench.cache import SampleCache
root, cap, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cache = SampleCache(root, cap, {"h": 8})
for i in range(150):
    cache.put(cache.key(f"{name}-{i}"), np.full((8, 8, 3), i % 256, np.uint8))
    cache.get(cache.key(f"{name}-{i // 2}"))
"""


def test_cap_holds_across_concurrent_processes(tmp_path):
    one = entry_size(tmp_path)
    cap = 20 * one
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", FILL, str(tmp_path / "cache"), str(cap), f"p{k}"], env=env, stderr=subprocess.PIPE) for k in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert sum(f.stat().st_size for f in cache_files(tmp_path)) <= cap + 2 * one
