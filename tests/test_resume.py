"""Killed and interrupted runs resume to the records of an uninterrupted run; result paths are
checked before any work; an --output holding a run is not replaced without --overwrite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import bench.journal
from bench.cli import main
from bench.runtimes.onnx import OnnxRuntime
from tests import models
from tests.test_run import make_project, random_images

ROOT = Path(__file__).resolve().parent.parent
DATA = {"r": ("real", random_images(9, 1, 20, 150)), "s": ("synthetic", random_images(7, 2, 100, 250))}


@pytest.fixture
def project(tmp_path):
    model = models.save(models.batch_mean_shift(), tmp_path / "m.onnx")  # batch-dependent: grouping must be kept
    return make_project(tmp_path, DATA, model, cache=False, batch_size=2)


def records(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "records.parquet")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.name == ".journal")


@pytest.fixture
def clean(tmp_path, project):
    assert main(["run", str(project), "--output", str(tmp_path / "clean")]) == 0
    return records(tmp_path / "clean")


def test_an_interrupted_run_resumes_to_the_same_records(tmp_path, project, clean, monkeypatch, capsys):
    monkeypatch.setattr(bench.journal, "FLUSH_ROWS", 1)  # every batch reaches the journal
    real_run, calls = OnnxRuntime.run, []

    def interrupt(self, batch):
        calls.append(1)
        if len(calls) == 5 + 4:  # the probes, then the 4th batch
            raise KeyboardInterrupt
        return real_run(self, batch)

    monkeypatch.setattr(OnnxRuntime, "run", interrupt)
    out = tmp_path / "out"
    assert main(["run", str(project), "--output", str(out)]) == 130
    assert f"bench run --resume {out}" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["status"] == "running" and not (out / "records.parquet").exists()
    monkeypatch.setattr(OnnxRuntime, "run", real_run)
    assert main(["run", "--resume", str(out)]) == 0
    pd.testing.assert_frame_equal(records(out), clean)
    assert json.loads((out / "run.json").read_text())["status"] == "complete" and leftovers(out) == []


def test_a_run_killed_with_sigkill_resumes_to_the_same_records(tmp_path, project, clean):
    out = tmp_path / "killed"
    code = (
        "import time, bench.journal as j, bench.runtimes.onnx as o; j.FLUSH_ROWS = 1; real = o.OnnxRuntime.run\n"
        "o.OnnxRuntime.run = lambda self, b: (time.sleep(0.15), real(self, b))[1]\n"
        f"from bench.cli import main; main(['run', {str(project)!r}, '--output', {str(out)!r}, '--no-progress'])"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / ".journal").glob("part-*.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert not (out / "records.parquet").exists()
    assert main(["run", "--resume", str(out)]) == 0
    pd.testing.assert_frame_equal(records(out), clean)
    assert leftovers(out) == []


def test_sigterm_is_handled_like_ctrl_c(tmp_path, project):
    out = tmp_path / "term"
    code = (
        "import time, bench.journal as j, bench.runtimes.onnx as o; j.FLUSH_ROWS = 1; real = o.OnnxRuntime.run\n"
        "o.OnnxRuntime.run = lambda self, b: (time.sleep(0.15), real(self, b))[1]\n"
        f"import sys; from bench.cli import main; sys.exit(main(['run', {str(project)!r}, '--output', {str(out)!r}, '--no-progress']))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((out / ".journal").glob("part-*.parquet")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "terminated" in err and "--resume" in err and "Traceback" not in err
    assert main(["run", "--resume", str(out)]) == 0


def test_a_run_stopped_during_its_metrics_is_finished_by_resume(tmp_path, project, clean, monkeypatch):
    import bench.scoring

    real = bench.scoring.summarise_model

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench.scoring, "summarise_model", stop)
    out = tmp_path / "metrics"
    assert main(["run", str(project), "--output", str(out)]) == 130
    assert (out / "records.parquet").exists() and not (out / "results.json").exists()
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    monkeypatch.setattr(bench.scoring, "summarise_model", real)
    assert main(["run", "--resume", str(out)]) == 0
    pd.testing.assert_frame_equal(records(out), clean)
    assert (out / "results.json").exists()


def test_a_complete_run_is_not_resumed_and_an_output_holding_a_run_is_kept(tmp_path, project, clean, capsys):
    out = tmp_path / "clean"
    assert main(["run", "--resume", str(out)]) == 2
    assert "complete" in capsys.readouterr().err
    before = (out / "records.parquet").read_bytes()
    assert main(["run", str(project), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--overwrite" in err
    assert (out / "records.parquet").read_bytes() == before
    assert main(["run", str(project), "--output", str(out), "--overwrite"]) == 0


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_unusable_output_is_refused_before_any_work(tmp_path, project, where, capsys, monkeypatch):
    loaded = []
    monkeypatch.setattr(OnnxRuntime, "load", classmethod(lambda cls, *a, **k: loaded.append(1)))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "out" if where == "under-a-file" else Path("/proc/bench-out")
    assert main(["run", str(project), "--output", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--output" in err and len(err.splitlines()) == 1 and not loaded


def test_unusable_cache_dir_given_is_refused(tmp_path, capsys):
    project = make_project(tmp_path, DATA, models.save(models.linear_logits(3), tmp_path / "m.onnx"))  # cache on
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", str(project), "--cache-dir", str(blocker), "--output", str(tmp_path / "o")]) == 2
    assert "--cache-dir" in capsys.readouterr().err


def test_no_hidden_files_remain_after_a_run(tmp_path, project):
    out = tmp_path / "plain"
    assert main(["run", str(project), "--output", str(out)]) == 0
    assert leftovers(out) == [] and sorted(set(os.listdir(out)) - {"thumbs"}) == ["records.parquet", "report.html", "results.json", "run.json", "summary.md"]
