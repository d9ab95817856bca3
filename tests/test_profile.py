"""`bench profile`: sweeps, the auto rule, out-of-memory and error rows, files, the pipeline mode."""

from __future__ import annotations

import csv
import json

import pytest

from bench import profiling as prof
from bench.cli import main
from bench.runtimes.onnx import OnnxRuntime as Runtime
from tests import models
from tests.test_run import make_project, random_images


@pytest.fixture
def model(tmp_path):
    return models.save(models.linear_logits(3, 16, 16), tmp_path / "m.onnx")


def quick(model, **kw) -> prof.ProfileConfig:
    return prof.ProfileConfig(model=str(model), duration=0.05, min_iters=3, warmup=1, **kw)


def test_explicit_sizes_files_and_best(tmp_path, model, capsys):
    out = tmp_path / "p"
    assert main(["profile", str(model), "--batch-sizes", "1,4,2", "--duration", "0.05", "--min-iters", "3", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.strip().splitlines()[-1].startswith("best throughput: batch ")
    rows = list(csv.DictReader((out / "profile.csv").open()))
    assert [r["batch_size"] for r in rows] == ["1", "2", "4"] and {r["status"] for r in rows} == {"ok"}
    assert all(float(r["p50_ms"]) <= float(r["p95_ms"]) <= float(r["p99_ms"]) for r in rows)
    assert all(int(r["batches"]) >= 3 and float(r["peak_process_mb"]) > 10 for r in rows)
    doc = json.loads((out / "profile.json").read_text())
    assert doc["best_batch_size"] == max(doc["rows"], key=lambda r: r["samples_per_s"])["batch_size"]
    assert (out / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_auto_doubles_until_the_plateau(model, monkeypatch):
    # a session whose throughput saturates at batch 8: time per batch = max(1, b / 8) ms
    def fake_run(self, batch):
        import time

        time.sleep(max(1, batch.shape[0] / 8) * 4e-3)  # long enough that scheduling jitter is small
        return batch[:, :3, 0, 0].astype("float32")

    monkeypatch.setattr(Runtime, "run", fake_run)
    profile = prof.sweep(quick(model))
    sizes = [r.batch_size for r in profile.rows]
    assert sizes[:4] == [1, 2, 4, 8] and 8 <= sizes[-1] <= 32  # stops once doubling gains < 3%
    assert profile.best().batch_size >= 8


def test_out_of_memory_is_a_row_and_the_sweep_stops(model, monkeypatch):
    real = Runtime.run

    def run(self, batch):
        if batch.shape[0] >= 8:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer of size 99999999999")
        return real(self, batch)

    monkeypatch.setattr(Runtime, "run", run)
    profile = prof.sweep(quick(model, batch_sizes=[1, 2, 8, 16, 32]))
    assert [(r.batch_size, r.status) for r in profile.rows] == [(1, "ok"), (2, "ok"), (8, "oom")]
    assert "allocate" in profile.rows[-1].error and profile.best().batch_size in (1, 2)


def test_other_errors_are_reported_not_retried(model, monkeypatch):
    calls = []
    real = Runtime.run

    def run(self, batch):
        calls.append(batch.shape[0])
        if batch.shape[0] == 4:
            raise RuntimeError("Non-zero status code returned while running Conv node")
        return real(self, batch)

    monkeypatch.setattr(Runtime, "run", run)
    profile = prof.sweep(quick(model, batch_sizes=[1, 2, 4, 8]))
    assert [(r.batch_size, r.status) for r in profile.rows] == [(1, "ok"), (2, "ok"), (4, "error")]
    assert calls.count(4) == 1


def test_latency_budget(model, capsys, tmp_path):
    profile = prof.sweep(quick(model, latency_budget_ms=1e-6))
    assert len(profile.rows) == 1 and profile.best_under_budget() is None
    assert main(["profile", str(model), "--batch-sizes", "1,2", "--duration", "0.05", "--latency-budget", "100000", "--output", str(tmp_path / "b")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("best under the 100000 ms p95 budget: batch ")


def test_distinct_inputs_never_zero():
    sets = prof.input_sets((2, 3, 4, 4))
    assert len({s.tobytes() for s in sets}) == len(sets) == prof.INPUT_SETS
    assert all(s.any() for s in sets)


def test_pipeline_mode_reports_data_wait(tmp_path, model):
    cfg = make_project(tmp_path, {"a": ("real", random_images(10, 1))}, model)
    profile = prof.sweep(quick(model, batch_sizes=[2, 4], data=str(cfg)))
    assert profile.mode == "pipeline"
    for row in profile.rows:
        assert row.status == "ok" and row.end_to_end_samples_per_s > 0 and row.data_wait_ms_per_batch is not None
        assert row.batches >= 3


def test_bad_batch_sizes_is_a_user_error(model, capsys):
    assert main(["profile", str(model), "--batch-sizes", "1,x"]) == 2
    assert "--batch-sizes" in capsys.readouterr().err


def test_pipeline_mode_out_of_memory_is_an_oom_row(tmp_path, model, monkeypatch):
    """An inference that runs out of memory inside the pipeline (after warm-up passed) is an
    oom row and stops the sweep, as in the model-only sweep (it used to be an ordinary row)."""
    cfg = make_project(tmp_path, {"a": ("real", random_images(10, 1))}, model)
    real = Runtime.run
    seen = {}

    def run(self, batch):
        seen[batch.shape[0]] = seen.get(batch.shape[0], 0) + 1
        if batch.shape[0] == 4 and seen[4] > 3:  # warm-up passes, real batches do not fit
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer of size 99999999999")
        return real(self, batch)

    monkeypatch.setattr(Runtime, "run", run)
    profile = prof.sweep(quick(model, batch_sizes=[2, 4, 8], data=str(cfg)))
    assert [(r.batch_size, r.status) for r in profile.rows] == [(2, "ok"), (4, "oom")]
    assert "allocate" in profile.rows[-1].error


def test_auto_confirms_a_dip_before_stopping(model, monkeypatch):
    """One noisy dip (a slow measurement at batch 4) is measured again; the sweep goes on."""
    real = prof.measure_model_only
    calls = []

    def noisy(runtime, batch, cfg):
        calls.append(batch)
        row = real(runtime, batch, cfg)
        rates = {1: 100.0, 2: 200.0, 4: 150.0 if calls.count(4) == 1 else 400.0, 8: 800.0, 16: 810.0}
        return prof.Row(batch, "ok", batches=3, samples_per_s=rates[batch], latency_ms=row.latency_ms, peak_process_mb=row.peak_process_mb)

    monkeypatch.setattr(prof, "measure_model_only", noisy)
    profile = prof.sweep(quick(model))
    assert calls.count(4) == 2 and [r.batch_size for r in profile.rows] == [1, 2, 4, 8, 16]
    assert profile.rows[2].remeasured and profile.best().batch_size == 16


def test_pipeline_mode_ranks_by_end_to_end(tmp_path, model):
    cfg = make_project(tmp_path, {"a": ("real", random_images(10, 1))}, model)
    profile = prof.sweep(quick(model, batch_sizes=[2, 4], data=str(cfg)))
    best = profile.best()
    assert best.end_to_end_samples_per_s == max(r.end_to_end_samples_per_s for r in profile.rows)
