"""PyTorch submissions end to end: run, check in a child process, package, export to ONNX."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from bench.checks import check_model  # noqa: E402
from bench.cli import main  # noqa: E402
from tests import submissions  # noqa: E402
from tests.test_run import make_project, random_images  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 20.0  # a child loads torch in a few seconds on this machine; a hang is stopped here


@pytest.fixture
def project(tmp_path, mean_model):
    data = {"r": ("real", random_images(6, 1, 20, 140)), "s": ("synthetic", random_images(6, 2, 110, 250))}
    return make_project(tmp_path, data, mean_model, cache=False, batch_size=4)


def records(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "records.parquet")


@pytest.mark.parametrize("num_classes", [2, 3])
def test_a_submission_scores_like_its_onnx_export(tmp_path, project, num_classes):
    sub = submissions.write(tmp_path / f"sub{num_classes}", num_classes=num_classes)
    onnx_path = tmp_path / "exported.onnx"
    assert main(["export-onnx", str(sub), "--output", str(onnx_path)]) == 0
    assert main(["run", str(project), "--model", str(sub), "--model", str(onnx_path), "--output", str(tmp_path / "o")]) == 0
    a, b = records(tmp_path / "o" / sub.name), records(tmp_path / "o" / "exported")
    la, lb = np.stack(a["logits"]), np.stack(b["logits"])
    assert la.shape == (12, num_classes)
    np.testing.assert_allclose(la, lb, rtol=1e-4, atol=1e-5)
    doc = json.loads((tmp_path / "o" / sub.name / "results.json").read_text())
    assert doc["environment"]["runtime"] == "torch" and doc["environment"]["format"] == "safetensors submission" and doc["environment"]["dtype"] == "float32"
    assert doc["environment"]["torch"]
    overall = doc["metrics"]["overall"]
    assert (overall["accuracy_3class"] is None) == (num_classes == 2) and overall["accuracy"] is not None


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_weights_run_on_cpu(tmp_path, project, dtype):
    sub = submissions.write(tmp_path / "half", dtype=dtype)
    assert main(["run", str(project), "--model", str(sub), "--output", str(tmp_path / "o")]) == 0
    rec = records(tmp_path / "o")
    assert (rec["status"] == "ok").all() and np.isfinite(np.stack(rec["logits"])).all()
    assert json.loads((tmp_path / "o" / "results.json").read_text())["environment"]["dtype"] == dtype


def test_the_example_submission_scores_the_sample_as_the_onnx_demo_model(tmp_path):
    assert main(["run", "--model", "examples/submission_image", "--no-progress", "--output", str(tmp_path / "sub")]) == 0
    assert main(["run", "--no-progress", "--output", str(tmp_path / "onnx")]) == 0
    a, b = records(tmp_path / "sub"), records(tmp_path / "onnx")
    np.testing.assert_allclose(np.stack(a["logits"]), np.stack(b["logits"]), rtol=1e-4, atol=1e-4)
    assert (a["pred"] == b["pred"]).mean() > 0.99


def test_a_zip_of_the_submission_scores_the_same(tmp_path, project):
    sub = submissions.write(tmp_path / "zipped")
    assert main(["package", str(sub), "--output", str(tmp_path / "dist")]) == 0
    archive = tmp_path / "dist" / "zipped.zip"
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["model.py", "model.safetensors", "model_config.yaml"]
    assert main(["run", str(project), "--model", str(archive), "--output", str(tmp_path / "z")]) == 0
    assert main(["run", str(project), "--model", str(sub), "--output", str(tmp_path / "f")]) == 0
    np.testing.assert_array_equal(np.stack(records(tmp_path / "z")["logits"]), np.stack(records(tmp_path / "f")["logits"]))


def test_run_refuses_a_static_rule_failure_before_running_any_code(tmp_path, project, capsys):
    marker = tmp_path / "ran.txt"
    code = f"import os\nopen({str(marker)!r}, 'w').write('ran')\n" + submissions.MEANS
    sub = submissions.write(tmp_path / "bad", model_py=code)
    assert main(["run", str(project), "--model", str(sub)]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and "os" in err and "Traceback" not in err
    assert not marker.exists()


HOSTILE = {
    "loops-in-load": submissions.MEANS.replace("    model = Means(num_classes)", "    while True:\n        pass"),
    "exits-at-import": "raise SystemExit(3)\n" + submissions.MEANS,
    "forward-raises": submissions.MEANS.replace("        dims = tuple", "        raise RuntimeError('boom')\n        dims = tuple"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_model_code_is_reported_within_the_time_limit(tmp_path, kind):
    sub = submissions.write(tmp_path / kind, model_py=HOSTILE[kind])
    start = time.perf_counter()
    report = check_model(sub, timeout=TIMEOUT if kind != "loops-in-load" else 6.0)
    elapsed = time.perf_counter() - start
    assert not report.ok and elapsed < TIMEOUT + 10
    failed = [f for f in report.findings if f.verdict == "fail"]
    rule, words = {"loops-in-load": ("load", "did not finish within 6 s"), "exits-at-import": ("load", "SystemExit"), "forward-raises": ("runs", "boom")}[kind]
    assert failed[0].rule == rule and words in failed[0].message, failed[0]


def test_check_of_a_good_submission_passes_every_rule(tmp_path):
    sub = submissions.write(tmp_path / "good", num_classes=2)
    report = check_model(sub, timeout=TIMEOUT)
    assert report.ok, report.text()
    rules = {f.rule for f in report.findings}
    assert {"files", "static", "load", "runs", "batch-independence", "determinism", "extremes", "latency"} <= rules
    assert next(f for f in report.findings if f.rule == "output").verdict == "pass"  # 2 classes: the submission standard


def test_video_submission_uses_its_num_frames_and_the_command_line_overrides_with_a_warning(tmp_path, capsys):
    from tests.test_video import video_project, write_clip

    clip = tmp_path / "c.mp4"
    write_clip(clip, 12)
    sub = submissions.write(tmp_path / "vid", modality="video", resize=(16, 16), num_frames=4, num_classes=2)
    cfg = video_project(tmp_path, {"c": ("real", {"a.mp4": clip, "b.mp4": clip})}, sub)
    assert main(["run", str(cfg), "--output", str(tmp_path / "o")]) == 0
    assert {len(f) for f in records(tmp_path / "o")["frames"]} == {4}
    capsys.readouterr()
    assert main(["run", str(cfg), "--frames", "6", "--output", str(tmp_path / "p")]) == 0
    assert "overrides 4 from the model's config" in capsys.readouterr().err
    assert {len(f) for f in records(tmp_path / "p")["frames"]} == {6}


def test_without_torch_a_submission_names_the_extra(tmp_path):
    sub = submissions.write(tmp_path / "s")
    code = f"import sys; sys.modules['torch'] = None; from bench.cli import main; sys.exit(main(['run', '--model', {str(sub)!r}, '--limit', '2']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 2 and 'pip install -e ".[torch]"' in out.stderr and "Traceback" not in out.stderr
