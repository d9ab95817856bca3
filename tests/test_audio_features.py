"""What was built for images and video works for audio too, on the bundled audio sample and demo
model: batch trials, resume, compare, profile with data, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main

ROOT = Path(__file__).resolve().parent.parent
AUDIO = str(ROOT / "configs" / "audio.yaml")
QUICK = ["--limit", "6", "--no-progress", "--batch-size", "4"]


def test_batch_trials_of_a_batch_independent_audio_model_equal_the_run(tmp_path):
    # the trials re-score the stored inputs: float32 waveforms, which were once stored as uint8
    assert main(["run", AUDIO, *QUICK, "--batch-trials", "3", "--output", str(tmp_path / "o")]) == 0
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    trials = doc["batch_trials"]
    assert trials["decisions_flipped"]["max"] == 0
    for key in ("accuracy", "sn34", "brier"):
        for end in ("min", "max"):  # float32 sums over other batch sizes: equal to rounding
            assert trials["metrics"][key][end] == pytest.approx(doc["metrics"]["overall"][key], rel=1e-4)


def test_an_interrupted_audio_run_resumes_to_the_same_records(tmp_path, interrupt_scoring):
    assert main(["run", AUDIO, *QUICK, "--output", str(tmp_path / "clean")]) == 0
    restore = interrupt_scoring(2)
    out = tmp_path / "out"
    assert main(["run", AUDIO, *QUICK, "--output", str(out)]) == 130
    restore()
    assert main(["run", "--resume", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "records.parquet"), pd.read_parquet(tmp_path / "clean" / "records.parquet"))


def test_compare_two_audio_runs_and_refuse_another_crop(tmp_path, capsys):
    for name, extra in (("a", []), ("b", ["--augment-level", "0"]), ("c", ["--audio-crop", "random"])):
        assert main(["run", AUDIO, *QUICK, *extra, "--output", str(tmp_path / name)]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(tmp_path / "cmp")]) == 0
    assert "12 samples scored by every run" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "c")]) == 2
    assert "crop" in capsys.readouterr().err


def test_profile_an_audio_model_on_audio_data(tmp_path):
    out = tmp_path / "prof"
    assert main(["profile", str(ROOT / "data" / "models" / "demo_audio.onnx"), "--data", AUDIO, "--batch-sizes", "1,4", "--output", str(out)]) == 0
    doc = json.loads((out / "profile.json").read_text())
    rows = [r for r in doc["rows"] if r["status"] == "ok"]
    assert [r["batch_size"] for r in rows] == [1, 4] and all(r["end_to_end_samples_per_s"] > 0 for r in rows)


def test_the_report_describes_the_audio_preprocessing(tmp_path):
    assert main(["run", AUDIO, *QUICK, "--output", str(tmp_path / "o")]) == 0
    summary = (tmp_path / "o" / "summary.md").read_text()
    html = (tmp_path / "o" / "report.html").read_text()
    for text in (summary, html):
        assert "16000" in text and "96000" in text
    assert json.loads((tmp_path / "o" / "results.json").read_text())["preprocessing"]["crop"] == "center"
