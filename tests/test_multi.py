"""Several models in one run, and the robustness pass: one decode per sample, shared seeds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from tests import models
from tests.test_run import make_project, random_images


def test_two_models_same_samples_one_decode(tmp_path, count_decodes, capsys):
    a = models.save(models.channel_means(32, 32), tmp_path / "big.onnx")
    b = models.save(models.channel_means(16, 24), tmp_path / "small.onnx")  # another size: its own geometry
    cfg = make_project(tmp_path, {"r": ("real", random_images(9, 1)), "s": ("synthetic", random_images(7, 2))}, a, augment_level=2, batch_size=4, cache=False)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--model", str(a), "--model", str(b), "--output", str(out)]) == 0
    assert len(count_decodes) == 16  # each sample decoded once for both models
    ra, rb = (pd.read_parquet(out / name / "records.parquet") for name in ("big", "small"))
    pd.testing.assert_series_equal(ra["sample_id"], rb["sample_id"])
    pd.testing.assert_series_equal(ra["aug_seed"], rb["aug_seed"])  # the same augmentation per sample
    # same picture at two sizes: channel means agree closely
    np.testing.assert_allclose(np.stack(ra["logits"]), np.stack(rb["logits"]), atol=12)
    da, db = (json.loads((out / name / "results.json").read_text()) for name in ("big", "small"))
    assert (da["preprocessing"]["height"], db["preprocessing"]["height"]) == (32, 16)
    doc = json.loads((out / "compare" / "compare.json").read_text())
    assert [r["name"] for r in doc["runs"]] == ["big", "small"] and doc["samples"] == 16
    assert "## small against big" in capsys.readouterr().out


def test_models_sharing_an_input_share_a_view(tmp_path, count_decodes):
    a = models.save(models.channel_means(32, 32), tmp_path / "a.onnx")
    b = models.save(models.linear_logits(3, 32, 32), tmp_path / "b.onnx")
    cfg = make_project(tmp_path, {"r": ("real", random_images(5, 1))}, a, cache=False)
    assert main(["run", str(cfg), "--model", str(a), "--model", str(b), "--output", str(tmp_path / "o")]) == 0
    assert len(count_decodes) == 5
    from bench import modalities
    from bench.config import load_config
    from bench.runtimes import load_runtime
    from bench.scoring import resolve_views

    cfg2 = load_config(cfg, {"model": [str(a), str(b)]})
    views, jobs = resolve_views(cfg2, modalities.get("image"), [load_runtime(str(a), "cpu"), load_runtime(str(b), "cpu")])
    assert len(views) == 1 and [j.view for j in jobs] == [0, 0]


def test_robustness_pass(tmp_path, count_decodes):
    model = models.save(models.linear_logits(3, 32, 32), tmp_path / "m.onnx")
    data = {"r": ("real", random_images(6, 1, 20, 170)), "s": ("synthetic", random_images(6, 2, 90, 240))}
    cfg = make_project(tmp_path, data, model, cache=False)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--robustness", "--output", str(out)]) == 0
    assert len(count_decodes) == 12  # one decode feeds both passes
    rec = pd.read_parquet(out / "records.parquet")
    assert sorted(rec["pass"].unique()) == ["base", "robust"] and len(rec) == 24
    base, robust = rec[rec["pass"] == "base"], rec[rec["pass"] == "robust"]
    assert base["sample_id"].tolist() == robust["sample_id"].tolist()
    assert not np.allclose(np.stack(base["logits"]), np.stack(robust["logits"]))  # the chain changed the pixels
    doc = json.loads((out / "results.json").read_text())
    rb = doc["robustness"]
    assert rb["sn34_blended"] == pytest.approx(0.8 * rb["sn34_base"] + 0.2 * rb["sn34_robust"])
    assert rb["sn34_base"] == pytest.approx(doc["metrics"]["overall"]["sn34"])  # metrics stay the base pass
    assert doc["metrics"]["overall"]["n"] == 12
    # degradation = p(true class) as is minus after the chain, per sample
    merged = base.merge(robust, on=["dataset", "sample_id"], suffixes=("_b", "_r"))
    y = merged["label_b"] != 0
    drop = np.where(y, merged["p_ai_b"], 1 - merged["p_ai_b"]) - np.where(y, merged["p_ai_r"], 1 - merged["p_ai_r"])
    assert rb["degradation"]["mean"] == pytest.approx(drop.mean())
    assert rb["degradation"]["p95"] == pytest.approx(np.percentile(drop, 95))
    assert {d["dataset"] for d in rb["per_dataset"]} == {"r", "s"}
    assert "Robustness" in (out / "summary.md").read_text()


def test_robust_weight_is_configurable(tmp_path):
    model = models.save(models.linear_logits(3, 32, 32), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, {"r": ("real", random_images(4, 1)), "s": ("synthetic", random_images(4, 2, 120, 250))}, model, robustness=True, robust_weight=0.5)
    assert main(["run", str(cfg), "--output", str(tmp_path / "o")]) == 0
    rb = json.loads((tmp_path / "o" / "results.json").read_text())["robustness"]
    assert rb["weight"] == 0.5 and rb["sn34_blended"] == pytest.approx(0.5 * (rb["sn34_base"] + rb["sn34_robust"]))


def test_video_robustness_pass(tmp_path):
    from tests.test_video import video_project, write_clip

    clip = write_clip(tmp_path / "c.mp4", 12)
    model = models.save(models.frame_probe(0, 24, 24), tmp_path / "p.onnx")
    cfg = video_project(tmp_path, {"c": ("real", {"a.mp4": clip, "b.mp4": clip})}, model, frames=4, robustness=True)
    assert main(["run", str(cfg), "--output", str(tmp_path / "o")]) == 0
    rec = pd.read_parquet(tmp_path / "o" / "records.parquet")
    assert (rec["status"] == "ok").all() and sorted(rec["pass"].unique()) == ["base", "robust"]
    base, robust = np.stack(rec[rec["pass"] == "base"]["logits"]), np.stack(rec[rec["pass"] == "robust"]["logits"])
    assert np.abs(base - robust).max() < 6  # an H.264 round trip of a flat colour: close, RGB kept
