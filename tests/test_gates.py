"""CI gates: --fail-under (exit 3), compare --fail-on worse (exit 3), too many model errors (exit 4)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.cli import main
from tests import models
from tests.test_run import make_project, random_images

DATA = {"r": ("real", random_images(6, 1, 20, 120)), "s": ("synthetic", random_images(6, 2, 140, 250))}


@pytest.fixture
def good(tmp_path):
    return models.save(models.linear_logits(3, 32, 32), tmp_path / "good.onnx")


def test_fail_under_exits_3_with_a_line_per_failed_gate(tmp_path, good, capsys):
    cfg = make_project(tmp_path, DATA, good, cache=False)
    assert main(["run", str(cfg), "--output", str(tmp_path / "a"), "--fail-under", "accuracy=0.5"]) == 0
    capsys.readouterr()
    assert main(["run", str(cfg), "--output", str(tmp_path / "b"), "--fail-under", "sn34=1.01", "--fail-under", "accuracy=1.01", "--fail-under", "mcc=-1"]) == 3
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("gate failed")]
    assert len(err) == 2 and any("sn34" in line for line in err) and any("accuracy" in line for line in err)
    assert main(["run", str(cfg), "--output", str(tmp_path / "c"), "--fail-under", "brier=0.2"]) == 2  # lower is better: not a fail-under metric


def test_compare_fail_on_worse(tmp_path, good, capsys):
    bad = models.save(models.linear_logits(3, 32, 32, weight=-np.array([[-4.0, 4.0, 2.0]] * 3) / 3, bias=[-2.0, 2.0, 1.0]), tmp_path / "bad.onnx")
    cfg = make_project(tmp_path, DATA, good, cache=False)
    assert main(["run", str(cfg), "--model", str(good), "--model", str(bad), "--output", str(tmp_path / "ab")]) == 0
    a, b = tmp_path / "ab" / "good", tmp_path / "ab" / "bad"
    assert main(["compare", str(a), str(b), "--output", str(tmp_path / "c1")]) == 0
    assert main(["compare", str(a), str(b), "--fail-on", "worse", "--output", str(tmp_path / "c2")]) == 3
    assert "gate failed: bad is worse than good" in capsys.readouterr().err
    assert main(["compare", str(b), str(a), "--fail-on", "worse", "--output", str(tmp_path / "c3")]) == 0


def test_too_many_model_errors_exit_4(tmp_path, capsys):
    model = models.save(models.nan_when_dark(), tmp_path / "m.onnx")
    dark = {f"d{i}.png": np.zeros((20, 20, 3), np.uint8) for i in range(3)}
    cfg = make_project(tmp_path, {"d": ("synthetic", dark | {"g.png": np.full((20, 20, 3), 90, np.uint8)})}, model, cache=False)
    assert main(["run", str(cfg), "--output", str(tmp_path / "o")]) == 4
    assert "model errors" in capsys.readouterr().err
    assert main(["run", str(cfg), "--output", str(tmp_path / "p"), "--max-model-error-rate", "0.9"]) == 0


def test_a_folder_with_class_subfolders_is_scored_in_one_step(tmp_path, good, capsys):
    from tests.test_run import write_images

    root = tmp_path / "mine"
    write_images(root / "real", random_images(3, 1, 20, 120))
    write_images(root / "synthetic", random_images(4, 2, 140, 250))
    out = tmp_path / "o"
    assert main(["run", "--model", str(good), "--folder", str(root), "--output", str(out), "--no-progress"]) == 0
    import pandas as pd

    rec = pd.read_parquet(out / "records.parquet")
    assert rec.groupby("dataset")["label"].agg(["first", "size"]).to_dict() == {"first": {"mine-real": 0, "mine-synthetic": 1}, "size": {"mine-real": 3, "mine-synthetic": 4}}
    (root / "fakes").mkdir()
    assert main(["run", "--model", str(good), "--folder", str(root), "--output", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "'fakes'" in err and "real, synthetic, semisynthetic" in err


def test_datasets_import_writes_into_the_working_directory(tmp_path, monkeypatch, capsys):
    registry = tmp_path / "theirs.yaml"
    registry.write_text("datasets:\n  - {name: fakes, path: someorg/fakes, modality: image, media_type: synthetic, generator_family: diffusion}\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["datasets", "import", str(registry)]) == 0
    import yaml

    written = yaml.safe_load((work / "configs" / "datasets" / "theirs.yaml").read_text())
    assert written["datasets"][0]["tags"] == {"generator_family": "diffusion"}  # kept for --by
    assert "--dataset-dir" in capsys.readouterr().out


def test_breakdown_by_a_dataset_tag(tmp_path, good):
    import json

    import yaml

    cfg = make_project(tmp_path, {"a": ("real", random_images(4, 1)), "b": ("synthetic", random_images(4, 2, 140, 250)), "c": ("synthetic", random_images(4, 3, 150, 250))}, good, cache=False)
    reg = tmp_path / "registry" / "test.yaml"
    doc = yaml.safe_load(reg.read_text())
    doc["datasets"][1]["tags"] = {"generator_family": "diffusion"}
    doc["datasets"][2]["tags"] = {"generator_family": "gan"}
    reg.write_text(yaml.safe_dump(doc))
    assert main(["run", str(cfg), "--by", "generator_family", "--output", str(tmp_path / "o")]) == 0
    groups = json.loads((tmp_path / "o" / "results.json").read_text())["metrics"]["per_group"]["generator_family"]
    assert [(g["group"], g["n"]) for g in groups] == [("(untagged)", 4), ("diffusion", 4), ("gan", 4)]
    assert "generator_family gan" in (tmp_path / "o" / "summary.md").read_text()
