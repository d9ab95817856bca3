"""The pushed score predicted: batches as the leaderboard forms them, the probe for batch
dependence, --batch-trials, the error rule's warning, warm-up that throws nothing away, and
throughput from process start."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.runtimes.onnx import OnnxRuntime
from tests import models
from tests.test_run import make_project, random_images

DATA = {"r": ("real", random_images(11, 1, 20, 150)), "s": ("synthetic", random_images(6, 2, 100, 250)), "t": ("semisynthetic", random_images(5, 3))}


@pytest.fixture
def dependent(tmp_path):
    return models.save(models.batch_mean_shift(), tmp_path / "dependent.onnx")


@pytest.fixture
def independent(tmp_path):
    return models.save(models.linear_logits(3), tmp_path / "independent.onnx")


def run(tmp_path, model, name, *flags, **config):
    cfg = make_project(tmp_path, DATA, model, cache=False, batch_size=4, **config)
    assert main(["run", str(cfg), "--output", str(tmp_path / name), *flags]) == 0
    return pd.read_parquet(tmp_path / name / "records.parquet"), json.loads((tmp_path / name / "results.json").read_text())


def test_batches_never_mix_datasets_and_the_last_batch_has_its_true_size(tmp_path, dependent, monkeypatch):
    seen = []
    real_run = OnnxRuntime.run
    monkeypatch.setattr(OnnxRuntime, "run", lambda self, batch: seen.append(len(batch)) or real_run(self, batch))
    rec, doc = run(tmp_path, dependent, "a")
    for _, batch in rec.groupby("batch_index"):
        assert batch["dataset"].nunique() == 1
    sizes = rec.groupby("batch_index").size().tolist()
    assert sizes == [4, 4, 3, 4, 2, 4, 1]  # 11 = 4+4+3, 6 = 4+2, 5 = 4+1
    assert seen[-len(sizes):] == sizes  # the model saw each batch at its true size
    assert len(seen) == 5 + len(sizes)  # 4 probes alone + 1 together, then every batch once: nothing thrown away
    assert doc["pipeline"]["pad_batches"] is False and doc["throughput"]["batches"] == len(sizes)
    again, _ = run(tmp_path, dependent, "b")
    pd.testing.assert_frame_equal(rec.drop(columns="source"), again.drop(columns="source"))


def test_a_batch_dependent_model_is_named_at_load(tmp_path, dependent, independent, capsys):
    _, doc = run(tmp_path, dependent, "a")
    err = capsys.readouterr().err
    assert "is batch-dependent" in err and "--batch-trials" in err
    assert doc["batch_dependence"]["verdict"] != "pass" and doc["batch_dependence"]["max_abs_diff"] > 0
    _, doc = run(tmp_path, independent, "b")
    assert "batch-dependent" not in capsys.readouterr().err and doc["batch_dependence"]["verdict"] == "pass"


def test_a_batch_independent_model_scores_the_same_under_any_grouping(tmp_path, independent):
    a, _ = run(tmp_path, independent, "source")
    b, _ = run(tmp_path, independent, "shuffle", "--batch-order", "shuffle", "--seed", "3")
    c, _ = run(tmp_path, independent, "padded", pad_batches=True)
    key = ["dataset", "sample_id"]
    for other in (b, c):
        merged = a.merge(other, on=key, suffixes=("", "_o"))
        assert len(merged) == len(a)
        np.testing.assert_allclose(merged["p_ai"], merged["p_ai_o"], atol=1e-6)
    assert not a["sample_id"].equals(b["sample_id"])  # the shuffle changed the order


def test_padding_is_a_recorded_choice(tmp_path, dependent, monkeypatch):
    seen = []
    real_run = OnnxRuntime.run
    monkeypatch.setattr(OnnxRuntime, "run", lambda self, batch: seen.append(len(batch)) or real_run(self, batch))
    rec, doc = run(tmp_path, dependent, "p", pad_batches=True)
    assert set(seen[5:]) == {4} and doc["pipeline"]["pad_batches"] is True
    assert len(rec) == 22  # padding rows are not records


def test_batch_trials_give_the_range_and_decode_once(tmp_path, dependent, independent, count_decodes):
    rec, doc = run(tmp_path, dependent, "d", "--batch-trials", "6")
    assert len(count_decodes) == 22  # each sample decoded once, whatever the number of trials
    trials = doc["batch_trials"]
    assert trials["trials"] == 6
    sn34 = trials["metrics"]["sn34"]
    assert sn34["default"] == doc["metrics"]["overall"]["sn34"]
    assert sn34["min"] <= sn34["median"] <= sn34["max"] and sn34["p05"] <= sn34["p95"]
    spreads = [m["max"] - m["min"] for m in trials["metrics"].values() if m["min"] is not None]
    assert max(spreads) > 0  # the grouping moves a batch-dependent model's score
    assert rec["batch_index"].max() == 6  # the records keep the run's own grouping
    _, doc = run(tmp_path, independent, "i", "--batch-trials", "3")
    for m in doc["batch_trials"]["metrics"].values():
        if m["min"] is not None:
            assert m["max"] - m["min"] < 1e-9 and m["default"] == pytest.approx(m["median"], abs=1e-9)
    assert doc["batch_trials"]["decisions_flipped"]["max"] == 0


def test_latency_leaves_out_slow_first_batches_but_scores_them(tmp_path, independent, monkeypatch):
    import time

    real_run = OnnxRuntime.run
    calls = []

    def slow_first(self, batch):
        calls.append(1)
        if len(calls) == 6:  # the first data batch, after the 5 probe calls
            time.sleep(0.3)
        return real_run(self, batch)

    monkeypatch.setattr(OnnxRuntime, "run", slow_first)
    rec, doc = run(tmp_path, independent, "w")
    tp = doc["throughput"]
    assert tp["warmup_batches_excluded"] >= 1 and tp["latency_ms"]["p99"] < 300  # the slow first batch (and any noise after it)
    assert (rec["batch_index"] == 0).sum() == 4 and (rec["status"] == "ok").all()  # scored and kept
    assert tp["from_start_s"] >= tp["wall_s"] > 0 and tp["from_start_samples_per_s"] <= tp["samples_per_s"]
