"""The Ray engine on a local Ray instance this module starts (2 CPUs, no network): records
identical to the local engine's (images, video, augmentation, robustness, two models), a killed
inference actor, --resume, an unreachable cluster, and Ray missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ray = pytest.importorskip("ray")

import bench.scoring  # noqa: E402
from bench.cli import main  # noqa: E402
from tests import models, submissions  # noqa: E402
from tests.test_run import make_project, random_images  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = {"r": ("real", random_images(9, 1, 20, 150)), "s": ("synthetic", random_images(7, 2, 100, 250))}


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def records(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "records.parquet")


def same_records(ray_folder: Path, local_folder: Path) -> None:
    a, b = records(ray_folder), records(local_folder)
    assert set(a["worker"]) != {"local"} and all(w.startswith("ray:") for w in a["worker"]) and set(b["worker"]) == {"local"}
    pd.testing.assert_frame_equal(a.drop(columns="worker"), b.drop(columns="worker"))


def test_two_models_augmentation_and_robustness_give_the_local_records(tmp_path):
    a = models.save(models.channel_means(32, 32), tmp_path / "a.onnx")
    b = models.save(models.batch_mean_shift(24, 24), tmp_path / "b.onnx")  # another size, and batch-dependent
    cfg = make_project(tmp_path, DATA, a, augment_level=2, batch_size=3, robustness=True, cache=False)
    args = ["run", str(cfg), "--model", str(a), "--model", str(b)]
    assert main([*args, "--output", str(tmp_path / "local")]) == 0
    assert main([*args, "--engine", "ray", "--output", str(tmp_path / "ray")]) == 0
    for name in ("a", "b"):
        same_records(tmp_path / "ray" / name, tmp_path / "local" / name)
        rec = records(tmp_path / "ray" / name)
        assert sorted(rec["pass"].unique()) == ["base", "robust"] and len(rec) == 32
    doc = json.loads((tmp_path / "ray" / "a" / "results.json").read_text())
    engine = doc["throughput"]["engine"]
    assert engine["engine"] == "ray" and engine["resources"]["CPU"] == 2.0 and engine["inference_workers"] == 1
    (actor,) = engine["actors"].values()
    assert actor["samples"] == 16 and actor["batches"] == 6 and actor["provider"] == "CPUExecutionProvider" and actor["samples_per_s"] > 0
    local = json.loads((tmp_path / "local" / "a" / "results.json").read_text())
    assert local["throughput"]["engine"]["engine"] == "local"
    assert doc["metrics"] == local["metrics"]


def test_video_gives_the_local_records(tmp_path):
    args = ["run", str(ROOT / "configs" / "video.yaml"), "--limit", "3", "--no-cache", "--no-progress"]
    assert main([*args, "--output", str(tmp_path / "local")]) == 0
    assert main([*args, "--engine", "ray", "--output", str(tmp_path / "ray")]) == 0
    same_records(tmp_path / "ray", tmp_path / "local")
    assert records(tmp_path / "ray")["frames"].map(len).min() > 0


def test_audio_with_augmentation_and_robustness_gives_the_local_records(tmp_path):
    args = ["run", str(ROOT / "configs" / "audio.yaml"), "--limit", "5", "--augment-level", "3", "--robustness", "--no-cache", "--no-progress", "--batch-size", "4"]
    assert main([*args, "--output", str(tmp_path / "local")]) == 0
    assert main([*args, "--engine", "ray", "--output", str(tmp_path / "ray")]) == 0
    same_records(tmp_path / "ray", tmp_path / "local")
    assert len(records(tmp_path / "ray")) == 20


def test_the_cache_is_used_and_counted_by_ray_decode_tasks(tmp_path):
    model = models.save(models.channel_means(32, 32), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, DATA, model, batch_size=4, cache_dir=str(tmp_path / "cache"))
    for run in ("cold", "warm"):
        assert main(["run", str(cfg), "--engine", "ray", "--output", str(tmp_path / run)]) == 0
    cold, warm = (json.loads((tmp_path / run / "results.json").read_text())["throughput"]["cache"] for run in ("cold", "warm"))
    assert (cold["hits"], cold["misses"]) == (0, 16) and (warm["hits"], warm["misses"]) == (16, 0)
    pd.testing.assert_frame_equal(records(tmp_path / "cold").drop(columns="worker"), records(tmp_path / "warm").drop(columns="worker"))


SLOW = submissions.MEANS.replace("    def forward(self, x):\n", (  # about 0.3 s of matrix products per batch, outputs unchanged
    "    def forward(self, x):\n        w = torch.ones(1000, 1000)\n        for _ in range(8):\n            w = (w @ w) * 1e-3\n"
    "        x = x + 0.0 * w[0, 0]\n"))


def ray_processes(marker: str) -> list[int]:
    """Pids of Ray worker processes whose title (``ray::...``) contains ``marker``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("ray::") and marker in title:
                found.append(int(entry.name))
    return found


def test_a_killed_inference_actor_is_restarted_and_every_sample_scored_once(tmp_path, monkeypatch):
    model = submissions.write(tmp_path / "slow", SLOW)
    cfg = make_project(tmp_path, DATA, model, batch_size=2, cache=False)
    assert main(["run", str(cfg), "--output", str(tmp_path / "local")]) == 0
    killed: list[int] = []
    seen = {"batches": 0}

    def kill_one_actor_mid_run():
        deadline = time.monotonic() + 120
        journal = tmp_path / "ray" / ".journal"
        while time.monotonic() < deadline and not killed:
            actors = ray_processes("MapWorker")
            if actors and journal.is_dir() and seen["batches"] >= 2:
                os.kill(actors[0], signal.SIGKILL)
                killed.append(actors[0])
            time.sleep(0.05)

    real = bench.scoring.batch_records

    def counting(*args, **kwargs):
        seen["batches"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(bench.scoring, "batch_records", counting)
    killer = threading.Thread(target=kill_one_actor_mid_run, daemon=True)
    killer.start()
    assert main(["run", str(cfg), "--engine", "ray", "--output", str(tmp_path / "ray")]) == 0
    killer.join(5)
    assert killed, "no inference actor was found to kill"
    rec = records(tmp_path / "ray")
    assert not rec.duplicated(["dataset", "sample_id", "pass"]).any() and len(rec) == 16
    same_records(tmp_path / "ray", tmp_path / "local")
    assert len(set(rec["worker"])) == 2  # the restarted actor is another process


def test_a_killed_decode_task_is_retried_and_every_sample_scored_once(tmp_path):
    import cv2
    import numpy as np

    media = tmp_path / "media" / "big"
    media.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(24):  # photo-sized noise: each decode task runs long enough to be caught
        cv2.imwrite(str(media / f"{i:02d}.jpg"), rng.integers(0, 256, (1400, 1400, 3), dtype=np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
    model = models.save(models.channel_means(32, 32), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, {}, model, batch_size=2, cache=False)
    (tmp_path / "registry" / "big.yaml").write_text(yaml.safe_dump({"datasets": [{"name": "big", "modality": "image", "media_type": "real", "source": {"type": "folder", "path": "../media/big"}}]}))
    args = ["run", str(cfg), "--datasets", "big"]
    assert main([*args, "--output", str(tmp_path / "local")]) == 0
    killed: list[int] = []

    def kill_one_decode_task():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            tasks = ray_processes("Map(_prepare)")
            if tasks and not ray_processes("MapWorker(Map(_Infer)).__init__"):  # past the actor's start: mid-run
                os.kill(tasks[0], signal.SIGKILL)
                killed.append(tasks[0])
            time.sleep(0.005)

    killer = threading.Thread(target=kill_one_decode_task, daemon=True)
    killer.start()
    assert main([*args, "--engine", "ray", "--output", str(tmp_path / "ray")]) == 0
    killer.join(5)
    assert killed, "no decode task was found to kill"
    rec = records(tmp_path / "ray")
    assert len(rec) == 24 and not rec.duplicated(["dataset", "sample_id"]).any() and (rec["status"] == "ok").all()
    same_records(tmp_path / "ray", tmp_path / "local")


def test_an_interrupted_ray_run_resumes_to_the_same_records(tmp_path, interrupt_scoring, capsys):
    model = models.save(models.batch_mean_shift(), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, DATA, model, batch_size=2, cache=False)
    assert main(["run", str(cfg), "--output", str(tmp_path / "local")]) == 0
    restore = interrupt_scoring(4)
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--engine", "ray", "--output", str(out)]) == 130
    assert f"bench run --resume {out}" in capsys.readouterr().err
    restore()
    assert main(["run", "--resume", str(out)]) == 0
    same_records(out, tmp_path / "local")
    assert json.loads((out / "results.json").read_text())["throughput"]["engine"]["engine"] == "ray"


def test_an_unreachable_cluster_fails_in_one_line_before_any_work(tmp_path):
    model = models.save(models.channel_means(32, 32), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, DATA, model)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "bench", "run", str(cfg), "--engine", "ray", "--ray-address", "127.0.0.1:9", "--output", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the Ray cluster at 127.0.0.1:9" in lines[0] and "ray start --head" in lines[0]
    assert time.monotonic() - started < 60 and not (tmp_path / "o").exists()


def test_a_malformed_address_is_named(tmp_path, capsys):
    from bench.errors import BenchError
    from bench.executors.ray import _reachable

    with pytest.raises(BenchError, match="not HOST:PORT"):
        _reachable("somewhere")


def test_without_ray_the_extra_to_install_is_named(monkeypatch):
    import builtins

    from bench.errors import BenchError
    from bench.executors.ray import import_ray

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(BenchError, match=r"pip install -e '\.\[ray\]'"):
        import_ray()


@pytest.mark.parametrize("flags, message", [
    (["--gpus-per-worker", "1"], "--gpus-per-worker 1 but the Ray cluster has 0 GPU"),
    (["--provider", "cuda"], "--provider cuda with --engine ray needs GPUs"),
])
def test_gpus_the_cluster_lacks_are_refused_before_any_work(tmp_path, capsys, flags, message):
    model = models.save(models.channel_means(32, 32), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, DATA, model)
    assert main(["run", str(cfg), "--engine", "ray", *flags, "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and not (tmp_path / "o").exists()


def test_a_url_source_is_read_by_the_decode_tasks(tmp_path):
    sample = ROOT / "data" / "sample"
    folder = tmp_path / "registry"
    folder.mkdir()
    entries = [{"name": n, "modality": "image", "media_type": t, "source": {"type": "folder", "path": (sample / t).as_uri()}} for n, t in (("r", "real"), ("s", "synthetic"))]
    (folder / "r.yaml").write_text(yaml.safe_dump({"datasets": entries}))
    args = ["run", "--dataset-dir", str(folder), "--datasets", "r", "s", "--limit", "5", "--no-cache", "--no-progress"]
    assert main([*args, "--output", str(tmp_path / "local")]) == 0
    assert main([*args, "--engine", "ray", "--output", str(tmp_path / "ray")]) == 0
    same_records(tmp_path / "ray", tmp_path / "local")
    assert records(tmp_path / "ray")["source"].str.startswith("file://").all()


def test_a_pool_the_cluster_cannot_hold_is_refused_instead_of_waiting(tmp_path, capsys):
    model = models.save(models.channel_means(32, 32), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, DATA, model)
    started = time.monotonic()
    assert main(["run", str(cfg), "--engine", "ray", "--inference-workers", "3", "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--inference-workers 3 does not fit the Ray cluster: 2 actor(s) of 1 CPU each" in err[0]
    assert time.monotonic() - started < 60 and not (tmp_path / "o").exists()


@pytest.mark.parametrize("workers, gpus_each, fits", [(2, 1.0, True), (1, 2.0, False), (3, 1.0, False), (4, 0.5, True)])
def test_actors_are_placed_node_by_node(workers, gpus_each, fits):
    from bench.errors import BenchError
    from bench.executors.ray import RayExecutor

    executor = object.__new__(RayExecutor)  # the placement rule alone, on two 8-CPU nodes with one GPU each
    executor.inference_workers, executor.gpus_per_worker, executor.actor_cpus, executor.cpus_per_decoder = workers, gpus_each, 0.0, 1.0
    nodes = [{"CPU": 8.0, "GPU": 1.0}, {"CPU": 8.0, "GPU": 1.0}]
    if fits:
        executor._check_fit(nodes)
    else:
        with pytest.raises(BenchError, match="does not fit the Ray cluster"):
            executor._check_fit(nodes)


def test_models_travel_to_the_actors_as_bytes(tmp_path):
    from bench.executors.ray import pack_model, unpack_model
    from bench.runtimes import load_runtime

    onnx_model = models.save(models.channel_means(32, 32), tmp_path / "m.onnx")
    folder = submissions.write(tmp_path / "sub")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"stale")
    for path in (onnx_model, folder):
        packed = pack_model(str(path))
        assert not any("__pycache__" in name for name in packed[1])
        copy = unpack_model(packed, tmp_path / "elsewhere")
        a, b = load_runtime(str(path), "cpu"), load_runtime(copy, "cpu")
        assert a.spec.sha256 == b.spec.sha256 and Path(copy).name == path.name


def test_batch_trials_under_ray_equal_the_local_ones(tmp_path):
    model = models.save(models.batch_mean_shift(), tmp_path / "m.onnx")  # batch-dependent: the trials differ from the run
    cfg = make_project(tmp_path, DATA, model, batch_size=3, cache=False)
    for engine in ("local", "ray"):
        assert main(["run", str(cfg), "--engine", engine, "--batch-trials", "3", "--output", str(tmp_path / engine)]) == 0
    a, b = (json.loads((tmp_path / e / "results.json").read_text())["batch_trials"] for e in ("local", "ray"))
    assert a["metrics"] == b["metrics"] and a["decisions_flipped"] == b["decisions_flipped"]
