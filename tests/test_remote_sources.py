"""Folder sources at a URL (fsspec): listed by the driver, read by whoever prepares a sample;
file:// and memory:// stand in for hf://, s3://, gs:// (no network in tests)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import fsspec
import pandas as pd
import pytest
import yaml

from bench.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


def registry(tmp_path: Path, entries: list[tuple[str, str, str, str]]) -> Path:
    folder = tmp_path / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    datasets = [{"name": n, "modality": m, "media_type": t, "source": {"type": "folder", "path": p}} for n, m, t, p in entries]
    (folder / "r.yaml").write_text(yaml.safe_dump({"datasets": datasets}))
    return folder


def run(folder: Path, out: Path, *names: str, model: Path | None = None, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    args = ["run", "--dataset-dir", str(folder), "--datasets", *names, "--output", str(out), "--no-progress", "--limit", "4", "--batch-size", "3", *extra]
    assert main([*args, *(["--model", str(model)] if model else [])]) == 0
    return pd.read_parquet(out / "records.parquet")


def test_a_file_url_scores_as_its_path_does(tmp_path):
    paths = registry(tmp_path, [("real", "image", "real", str(SAMPLE / "real")), ("ai", "image", "synthetic", str(SAMPLE / "synthetic"))])
    urls = registry(tmp_path / "u", [("real", "image", "real", (SAMPLE / "real").as_uri()), ("ai", "image", "synthetic", (SAMPLE / "synthetic").as_uri())])
    a, b = run(paths, tmp_path / "a", "real", "ai"), run(urls, tmp_path / "b", "real", "ai")
    assert all(s.startswith("file://") for s in b["source"])
    pd.testing.assert_frame_equal(a.drop(columns="source"), b.drop(columns="source"))


@pytest.fixture
def memory_fs():
    fs = fsspec.filesystem("memory")
    yield fs
    fs.rm("/bench-test", recursive=True) if fs.exists("/bench-test") else None


@pytest.mark.parametrize("modality, config, folder", [
    ("video", "video.yaml", SAMPLE / "video" / "real"),
    ("audio", "audio.yaml", SAMPLE / "audio" / "real"),
])
def test_video_and_audio_are_read_from_another_file_system(tmp_path, memory_fs, modality, config, folder):
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".md"))[:4]
    local = tmp_path / "local"
    local.mkdir()
    for p in files:
        shutil.copy(p, local / p.name)
        memory_fs.pipe(f"/bench-test/{modality}/{p.name}", p.read_bytes())
    memory_fs.pipe(f"/bench-test/{modality}/.hidden{files[0].suffix}", b"skipped")
    model = yaml.safe_load((ROOT / "configs" / config).read_text())["model"]
    model = (ROOT / "configs" / model).resolve()
    a = run(registry(tmp_path, [("d", modality, "real", str(local))]), tmp_path / "a", "d", model=model, extra=("--no-cache",))
    b = run(registry(tmp_path / "m", [("d", modality, "real", f"memory:///bench-test/{modality}")]), tmp_path / "b", "d", model=model)
    assert len(b) == 4 and (b["status"] == "ok").all()
    pd.testing.assert_frame_equal(a.drop(columns="source"), b.drop(columns="source"))
    again = run(registry(tmp_path / "m", [("d", modality, "real", f"memory:///bench-test/{modality}")]), tmp_path / "c", "d", model=model)
    pd.testing.assert_frame_equal(b, again)  # the cache keys a URL by the file system's own key


def test_a_missing_url_folder_and_an_unknown_protocol_are_one_line_errors(tmp_path, capsys):
    for url, message in ((f"file://{tmp_path}/nowhere", "dataset folder not found"), ("nosuchproto://x/y", "cannot open nosuchproto://x/y")):
        folder = registry(tmp_path / url.split(":")[0], [("d", "image", "real", url)])
        assert main(["run", "--dataset-dir", str(folder), "--datasets", "d", "--output", str(tmp_path / "o"), "--no-progress"]) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("notice")]
        assert len(err) == 1 and message in err[0], err


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed: the URL would be tried")
def test_a_protocol_without_its_package_names_the_package(tmp_path, capsys):
    folder = registry(tmp_path, [("d", "image", "real", "s3://bucket/images")])
    assert main(["run", "--dataset-dir", str(folder), "--datasets", "d", "--output", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "s3fs" in capsys.readouterr().err


def test_repeated_datasets_flags_add_up(tmp_path):
    folder = registry(tmp_path, [("real", "image", "real", str(SAMPLE / "real")), ("ai", "image", "synthetic", str(SAMPLE / "synthetic"))])
    out = tmp_path / "o"
    assert main(["run", "--dataset-dir", str(folder), "--datasets", "real", "--datasets", "ai", "--output", str(out), "--no-progress", "--limit", "2"]) == 0
    assert sorted(pd.read_parquet(out / "records.parquet")["dataset"].unique()) == ["ai", "real"]
