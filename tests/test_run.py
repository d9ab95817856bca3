"""End-to-end runs on tiny generated media and tiny generated models."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, matthews_corrcoef

from bench.cli import main
from bench.config import load_config
from bench.records import decide
from bench.scoring import run_all
from tests import models


def write_images(folder: Path, images: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rgb in images.items():
        assert cv2.imwrite(str(folder / name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


def make_project(tmp_path: Path, datasets: dict[str, tuple[str, dict]], model: Path, **config) -> Path:
    """A registry of folder datasets {name: (media_type, {file: rgb})} and a run config; returns the config path."""
    reg = tmp_path / "registry"
    reg.mkdir(exist_ok=True)
    entries = []
    for name, (media_type, images) in datasets.items():
        write_images(tmp_path / "media" / name, images)
        entries.append({"name": name, "modality": "image", "media_type": media_type, "source": {"type": "folder", "path": f"../media/{name}"}})
    (reg / "test.yaml").write_text(yaml.safe_dump({"datasets": entries}))
    cfg = {"model": str(model), "datasets": list(datasets), "dataset_dirs": ["registry"], "progress": False, "bootstrap": 200} | config
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def random_images(n: int, seed: int, lo: int = 0, hi: int = 256) -> dict[str, np.ndarray]:
    """Noisy images of random sizes whose brightness is drawn from [lo, hi)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n):
        h, w = rng.integers(20, 90, 2)
        level = rng.uniform(lo, hi)
        out[f"img_{i:03d}.png"] = np.clip(level + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    return out


def stripes(h: int, w: int, colours, vertical: bool = True) -> np.ndarray:
    """Three equal bands (left/centre/right, or top/centre/bottom) of the given RGB colours."""
    img = np.zeros((h, w, 3), np.uint8)
    n = w if vertical else h
    for k, colour in enumerate(colours):
        sl = slice(k * n // 3, (k + 1) * n // 3)
        if vertical:
            img[:, sl] = colour
        else:
            img[sl, :] = colour
    return img


@pytest.mark.parametrize("geometry", ["crop-resize", "resize-crop"])
def test_probe_sees_rgb_and_centred_crop(tmp_path, mean_model, geometry):
    """A wide and a tall image whose centre square is orange (255, 128, 0) between blue and white
    bands: the channel-means probe must see exactly orange: RGB order, centred crop."""
    orange, blue, white = (255, 128, 0), (0, 0, 255), (255, 255, 255)
    images = {"wide.png": stripes(96, 288, [blue, orange, white]), "tall.png": stripes(288, 96, [white, orange, blue], vertical=False)}
    cfg = make_project(tmp_path, {"probe": ("real", images)}, mean_model, geometry=geometry)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--output", str(out)]) == 0
    rec = pd.read_parquet(out / "records.parquet")
    assert rec["status"].tolist() == ["ok", "ok"]
    for logits in rec["logits"]:
        np.testing.assert_allclose(logits, orange, atol=1e-4)
    doc = json.loads((out / "results.json").read_text())
    assert doc["preprocessing"]["geometry"] == geometry and doc["config"]["preprocessing"]["geometry"] == geometry


def test_results_files_and_metrics_equal_sklearn(tmp_path):
    # a detector whose "AI" logit grows with the green channel: decent but imperfect
    model = models.save(models.linear_logits(3), tmp_path / "m.onnx")
    data = {
        "reals": ("real", random_images(23, 1, 20, 170)),
        "fakes": ("synthetic", random_images(19, 2, 90, 240)),
        "semis": ("semisynthetic", random_images(11, 3, 70, 220)),
    }
    cfg = make_project(tmp_path, data, model, batch_size=8)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--output", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text())
    rec = pd.read_parquet(out / "records.parquet")
    assert (out / "summary.md").read_text().startswith("# m.onnx")

    for key in ("schema_version", "model", "environment", "config", "metrics", "throughput"):
        assert key in doc
    assert set(doc["model"]) >= {"path", "sha256", "input_shape", "input_dtype", "output_shape"}
    assert set(doc["environment"]) >= {"provider", "device", "onnxruntime", "python", "platform"}
    assert set(doc["throughput"]) >= {"batch_size", "samples_per_s", "model_only_samples_per_s", "latency_ms", "stages_ms"}
    assert set(doc["throughput"]["latency_ms"]) >= {"p50", "p90", "p95", "p99"}
    assert set(doc["throughput"]["stages_ms"]) == {"decode", "preprocess", "data_wait", "inference"}
    assert set(rec.columns) >= {"dataset", "media_type", "sample_id", "label", "logits", "p_ai", "pred", "pred_binary", "status", "error", "aug_seed", "batch_index"}

    overall = doc["metrics"]["overall"]
    y = (rec["label"] != 0).astype(int)
    q = rec["p_ai"].clip(1e-7, 1 - 1e-7)
    assert 0.5 < overall["accuracy"] < 1.0  # the test means something
    assert overall["n"] == len(rec) == 53
    assert overall["accuracy"] == pytest.approx(accuracy_score(y, rec["pred_binary"]), abs=1e-9)
    assert overall["accuracy_3class"] == pytest.approx(accuracy_score(rec["label"], rec["pred"]), abs=1e-9)
    assert overall["mcc"] == pytest.approx(matthews_corrcoef(y, rec["pred_binary"]), abs=1e-9)
    assert overall["brier"] == pytest.approx(brier_score_loss(y, q), abs=1e-9)
    assert overall["cross_entropy"] == pytest.approx(log_loss(y, q, labels=[0, 1]), abs=1e-9)
    for entry in doc["metrics"]["per_dataset"]:
        part = rec[rec["dataset"] == entry["dataset"]]
        assert entry["n"] == len(part)
        assert entry["accuracy"] == pytest.approx(accuracy_score((part["label"] != 0).astype(int), part["pred_binary"]), abs=1e-9)
    assert [m["media_type"] for m in doc["metrics"]["per_media_type"]] == ["real", "synthetic", "semisynthetic"]
    assert np.asarray(doc["metrics"]["confusion"]["matrix"]).sum() == 53
    lo, hi = overall["ci"]["accuracy"]
    assert lo <= overall["accuracy"] <= hi

    # probabilities follow SPEC section 3 from the recorded logits
    p_ai, pred, _ = decide(np.stack(rec["logits"].to_numpy()))
    np.testing.assert_allclose(rec["p_ai"], p_ai)
    np.testing.assert_array_equal(rec["pred"], pred)

    # fixed batch composition: dataset order, then sample order, 8 per batch, each dataset on its
    # own, its last batch short (23 = 8 + 8 + 7, 19 = 8 + 8 + 3, 11 = 8 + 3)
    assert rec["dataset"].tolist() == ["reals"] * 23 + ["fakes"] * 19 + ["semis"] * 11
    sizes = [8, 8, 7, 8, 8, 3, 8, 3]
    assert rec["batch_index"].tolist() == [b for b, n in enumerate(sizes) for _ in range(n)]
    assert rec["sample_id"].tolist()[:3] == ["img_000.png", "img_001.png", "img_002.png"]


def test_same_seed_any_workers_identical_records(tmp_path):
    model = models.save(models.linear_logits(3), tmp_path / "m.onnx")
    data = {"a": ("real", random_images(30, 4)), "b": ("synthetic", random_images(21, 5))}
    cfg = make_project(tmp_path, data, model, batch_size=4, augment_level=3, seed=7)
    frames = []
    for workers in (1, 3, 8):
        out = tmp_path / f"out{workers}"
        assert main(["run", str(cfg), "--workers", str(workers), "--output", str(out)]) == 0
        frames.append(pd.read_parquet(out / "records.parquet"))
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other)
    # and augmentation really ran: level 0 gives other logits
    out0 = tmp_path / "plain"
    assert main(["run", str(cfg), "--augment-level", "0", "--output", str(out0)]) == 0
    plain = pd.read_parquet(out0 / "records.parquet")
    assert not np.allclose(np.stack(plain["logits"]), np.stack(frames[0]["logits"]))
    # another seed, other augmentation
    out9 = tmp_path / "seed9"
    assert main(["run", str(cfg), "--seed", "9", "--output", str(out9)]) == 0
    assert not pd.read_parquet(out9 / "records.parquet")["aug_seed"].equals(frames[0]["aug_seed"])


def test_model_errors_escape_the_headline_and_count_wrong_in_the_strict_metrics(tmp_path, capsys):
    model = models.save(models.nan_when_dark(), tmp_path / "m.onnx")
    images = {"black.png": np.zeros((20, 20, 3), np.uint8), "grey.png": np.full((20, 20, 3), 90, np.uint8)}
    cfg = make_project(tmp_path, {"d": ("synthetic", images), "r": ("real", random_images(4, 3, 60, 200))}, model)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--output", str(out)]) == 0
    rec = pd.read_parquet(out / "records.parquet").set_index("sample_id")
    assert rec.loc["black.png", "status"] == "model_error"
    assert "non-finite" in rec.loc["black.png", "error"]
    assert rec.loc["black.png", "p_ai"] == 0.5 and rec.loc["black.png", "pred_binary"] == 0  # wrong for an AI sample
    assert rec.loc["grey.png", "status"] == "ok"
    overall = json.loads((out / "results.json").read_text())["metrics"]["overall"]
    assert overall["model_errors"] == 1 and overall["n"] == 5 and overall["strict"]["n"] == 6
    ok = pd.read_parquet(out / "records.parquet").query("status == 'ok'")  # the leaderboard's rule, recomputed
    y = (ok["label"] != 0).astype(int)
    assert overall["accuracy"] == pytest.approx(accuracy_score(y, ok["pred_binary"]))
    assert overall["brier"] == pytest.approx(brier_score_loss(y, ok["p_ai"]))
    everything = pd.read_parquet(out / "records.parquet")
    assert overall["strict"]["accuracy"] == pytest.approx(accuracy_score((everything["label"] != 0).astype(int), everything["pred_binary"]))
    assert "failed on 1 sample" in capsys.readouterr().err


@pytest.mark.parametrize("width", [2, 1])
def test_two_and_one_logit_models_score_without_3class(tmp_path, width, capsys):
    model = models.save(models.linear_logits(width), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, {"a": ("real", random_images(6, 1)), "b": ("synthetic", random_images(6, 2))}, model)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--output", str(out)]) == 0
    assert ("read as [real, ai] logits" if width == 2 else "read as one AI logit") in capsys.readouterr().err  # the contract's warning
    doc = json.loads((out / "results.json").read_text())
    assert doc["metrics"]["overall"]["accuracy_3class"] is None and doc["metrics"]["confusion"] is None
    rec = pd.read_parquet(out / "records.parquet")
    logits = np.stack(rec["logits"])
    if width == 1:
        np.testing.assert_allclose(rec["p_ai"], 1 / (1 + np.exp(-logits[:, 0])))
    else:
        np.testing.assert_allclose(rec["p_ai"], np.exp(logits[:, 1]) / np.exp(logits).sum(1))


def test_dynamic_hw_uses_224_and_warns(tmp_path, capsys):
    model = models.save(models.channel_means("h", "w"), tmp_path / "dyn.onnx")
    cfg = make_project(tmp_path, {"a": ("real", random_images(3, 1))}, model)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--output", str(out)]) == 0
    assert "224x224" in capsys.readouterr().err
    doc = json.loads((out / "results.json").read_text())
    assert doc["preprocessing"]["height"] == 224 and doc["preprocessing"]["size_declared"] is False


def test_float_input_model_gets_same_pixels(tmp_path, mean_model):
    from onnx import TensorProto

    fmodel = models.save(models.channel_means(32, 32, dtype=TensorProto.FLOAT), tmp_path / "f.onnx")
    images = random_images(5, 8)
    outs = []
    for m in (mean_model, fmodel):
        cfg = make_project(tmp_path, {"a": ("real", images)}, m)
        out = tmp_path / m.stem
        assert main(["run", str(cfg), "--output", str(out)]) == 0
        outs.append(np.stack(pd.read_parquet(out / "records.parquet")["logits"]))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)


def test_cli_overrides_file_overrides_defaults(tmp_path, mean_model):
    cfg_path = make_project(tmp_path, {"a": ("real", random_images(2, 1))}, mean_model, batch_size=5, seed=3)
    cfg = load_config(cfg_path, {"batch_size": 2, "seed": None})
    assert cfg.runtime.batch_size == 2 and cfg.preprocessing.seed == 3 and cfg.runtime.warmup == 3
    assert Path(cfg.data.dataset_dirs[0]) == tmp_path / "registry"


def test_default_run_scores_the_bundled_sample(tmp_path, monkeypatch, capsys):
    """`bench run` with no arguments: the demo model on the bundled sample, from any folder."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--limit", "6", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "overall" in printed and "end-to-end samples/s" in printed
    (folder,) = (tmp_path / "results").iterdir()
    assert folder.name.startswith("demo_image-image-")
    assert {p.name for p in folder.iterdir()} - {"thumbs"} == {"results.json", "records.parquet", "summary.md", "report.html", "run.json"}
    rec = pd.read_parquet(folder / "records.parquet")
    assert len(rec) == 18 and (rec["status"] == "ok").all()


def test_run_returns_records_in_memory(tmp_path, mean_model):
    cfg = load_config(make_project(tmp_path, {"a": ("real", random_images(4, 1))}, mean_model), {"output": str(tmp_path / "out")})
    [result] = run_all(cfg)
    assert len(result.records) == 4 and result.environment["provider"] == "CPUExecutionProvider"
    assert len(pd.read_parquet(result.folder / "records.parquet")) == 4
    assert result.throughput["samples"] == 4 and result.throughput["batches"] == 1
