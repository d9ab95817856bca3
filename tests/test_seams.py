"""The seams and the public API: a runtime plugs in by registration, config loading stays light,
the README's flag table and Python example hold, result folders never clash, and a model's
throughput in a multi-model run is its own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bench
import bench.api
from bench import results as results_module
from bench.cli import flag_reference, main
from bench.contract import io_findings, resolve_spec
from bench.spec import TensorInfo
from bench.throughput import Throughput
from tests import models
from tests.test_run import make_project, random_images

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_loading_a_config_imports_no_media_library():
    code = (
        "import sys; from bench.config import load_config, default_config_path; "
        "cfg = load_config(default_config_path(), {'batch_size': 4}); "
        "heavy = [m for m in ('cv2', 'av', 'albumentations', 'onnxruntime', 'simplejpeg', 'torch') if m in sys.modules]; "
        "assert not heavy, heavy; print(cfg.runtime.batch_size)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "4"


def test_readme_lists_every_config_key_and_flag_as_the_config_declares_them():
    table = re.search(r"<!-- config-keys:start -->\n(.*?)\n<!-- config-keys:end -->", README, re.S)
    assert table, "README lost its config-keys block"
    assert table.group(1).strip() == flag_reference(), "regenerate the README table: python -c 'from bench.cli import flag_reference; print(flag_reference())'"


def test_every_flag_reaches_its_config_key(tmp_path, mean_model):
    from bench.cli import build_parser, config_overrides

    args = build_parser().parse_args(["run", "--model", str(mean_model), "--batch-size", "3", "--no-cache", "--fast-decode", "--frame-rule", "uniform", "--output", str(tmp_path)])
    cfg = bench.api.config(None, **config_overrides(args))
    assert cfg.runtime.batch_size == 3 and cfg.cache.enabled is False and cfg.preprocessing.fast_decode is True
    assert cfg.preprocessing.frame_rule == "uniform" and cfg.output.folder == str(tmp_path) and cfg.model == [str(mean_model)]


def test_sectioned_and_flat_yaml_give_the_same_config(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text("batch_size: 8\ngeometry: resize-crop\ncache: false\n")
    sections = tmp_path / "sections.yaml"
    sections.write_text("runtime: {batch_size: 8}\npreprocessing: {geometry: resize-crop}\ncache: {enabled: false}\n")
    assert bench.api.config(flat) == bench.api.config(sections)


def test_a_registry_file_given_as_run_config_says_so(tmp_path, capsys):
    reg = tmp_path / "mine.yaml"
    reg.write_text("datasets:\n  - {name: x, media_type: real, source: {type: folder, path: .}}\n")
    assert main(["run", str(reg)]) == 2
    err = capsys.readouterr().err
    assert "is a dataset registry file" in err and "dataset_dirs" in err and len(err.strip().splitlines()) == 1


def test_readme_python_example_matches_bench_run(tmp_path):
    code = re.search(r"## From Python\n\n```python\n(.*?)```", README, re.S).group(1)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "example.py").write_text(code + "\nimport json, sys\njson.dump(result.metrics, open('metrics.json', 'w'))\n")
    out = subprocess.run([sys.executable, "example.py"], capture_output=True, text=True, cwd=empty, check=False)
    assert out.returncode == 0, out.stderr
    assert list((empty / "results").iterdir()), "the example writes its run folder where it runs"
    assert main(["run", "--no-progress", "--output", str(tmp_path / "cli")]) == 0
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())["metrics"]
    assert json.loads((empty / "metrics.json").read_text()) == json.loads(json.dumps(cli))


def test_api_verbs(tmp_path, mean_model):
    cfg = make_project(tmp_path, {"r": ("real", random_images(6, 1)), "s": ("synthetic", random_images(6, 2))}, mean_model, cache=False)
    first = bench.run(cfg, output=str(tmp_path / "a"))
    second = bench.run(cfg, output=str(tmp_path / "b"))
    assert isinstance(first, bench.ModelResult) and len(first.records) == 12
    assert set(first.records.columns) >= {"dataset", "sample_id", "logits", "p_ai", "status", "aug_seed", "batch_index"}
    doc = bench.compare([first, tmp_path / "b"])
    assert doc["samples"] == 12 and doc["paired"][0]["mcnemar"]["p_value"] == 1.0
    assert bench.check(mean_model).ok
    profile = bench.profile(mean_model, batch_sizes=[1, 2], duration=0.02, min_iters=2)
    assert [r.status for r in profile.rows] == ["ok", "ok"]
    copy = second.save(tmp_path / "copy")
    assert json.loads((copy / "results.json").read_text())["metrics"] == json.loads((tmp_path / "b" / "results.json").read_text())["metrics"]
    assert (copy / "records.parquet").read_bytes() == (tmp_path / "b" / "records.parquet").read_bytes()


class NumpyMeans:
    """A second backend, registered by a test only: '.means' files hold a JSON of H and W; logits
    are the channel means. Scoring, the pipeline, records and reports are not edited for it."""

    def __init__(self, spec):
        self.spec = spec
        self.environment = {"runtime": "numpy", "numpy": np.__version__, "provider": "numpy", "device": "cpu"}
        self.findings = []

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.suffix == ".means"

    @classmethod
    def load(cls, path: str, provider: str = "auto", threads: int = 0, modality: str | None = None):
        size = json.loads(Path(path).read_text())
        inputs = [TensorInfo("image", ("batch", 3, size["h"], size["w"]), "uint8")]
        outputs = [TensorInfo("logits", ("batch", 3), "float32")]
        runtime = cls(resolve_spec(str(path), "0" * 64, inputs, outputs, modality))
        runtime.findings = io_findings(inputs, outputs, modality)
        return runtime

    def run(self, batch: np.ndarray) -> np.ndarray:
        return batch.astype(np.float32).mean(axis=(2, 3))


def test_a_second_runtime_plugs_in_by_registration(tmp_path, mean_model, monkeypatch):
    import bench.runtimes

    monkeypatch.setitem(bench.runtimes.REGISTRY, "numpy-means", f"{__name__}:NumpyMeans")
    fake = tmp_path / "m.means"
    fake.write_text(json.dumps({"h": 32, "w": 32}))
    cfg = make_project(tmp_path, {"r": ("real", random_images(5, 1))}, mean_model, cache=False)
    numpy_run = bench.run(cfg, model=str(fake), output=str(tmp_path / "np"))
    onnx_run = bench.run(cfg, output=str(tmp_path / "onnx"))
    assert numpy_run.environment["runtime"] == "numpy"
    np.testing.assert_allclose(np.stack(numpy_run.records["logits"]), np.stack(onnx_run.records["logits"]), atol=1e-4)


def test_runs_started_at_the_same_moment_get_distinct_folders(tmp_path, monkeypatch):
    """Ten runs in the same second racing for their folder (threads released together: the
    folder's creation itself is the test, so the race is the kernel's, as between processes)."""
    import threading

    monkeypatch.setattr(results_module, "stamp", lambda: "20260101-000000")  # the same second for all
    barrier, folders, lock = threading.Barrier(10), [], threading.Lock()

    def make() -> None:
        barrier.wait()
        folder = results_module.run_folders(str(tmp_path), None, ["/x/model.onnx"], "image")[0]
        with lock:
            folders.append(folder)

    threads = [threading.Thread(target=make) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(set(folders)) == 10
    assert sorted(f.name for f in folders) == sorted(["model-image-20260101-000000", *(f"model-image-20260101-000000-{n}" for n in range(2, 11))])


def test_multi_model_throughput_is_each_models_own():
    """Model A's own rate excludes B's inference; it never exceeds what the data pipeline allowed."""
    class B:
        size, wait_s = 10, 0.0
        outcomes = []

    a, b = Throughput(10, workers=2, models=2), Throughput(10, workers=2, models=2)
    for _ in range(10):
        a.add(B, 0.01)
        b.add(B, 0.09)
    a.wall_s = b.wall_s = 1.0
    a.others_inference_s, b.others_inference_s = 0.9, 0.1
    assert a.to_json()["samples_per_s"] == pytest.approx(100 / 0.1)
    assert b.to_json()["samples_per_s"] == pytest.approx(100 / 0.9)
    assert a.to_json()["shared_samples_per_s"] == pytest.approx(100.0)
    a.decode_s = 0.6  # the workers needed 0.3 s: A alone could not have been faster than that
    assert a.to_json()["samples_per_s"] == pytest.approx(100 / 0.3)
    single = Throughput(10)
    single.add(B, 0.01)
    single.wall_s = 0.5
    assert single.to_json()["samples_per_s"] == pytest.approx(20.0)


def test_a_multi_model_run_reports_each_models_own_inference(tmp_path):
    light = models.save(models.channel_means(32, 32), tmp_path / "light.onnx")
    heavy = models.save(models.linear_logits(3, 32, 32), tmp_path / "heavy.onnx")
    cfg = make_project(tmp_path, {"r": ("real", random_images(8, 1))}, light, cache=False, batch_size=4)
    assert main(["run", str(cfg), "--model", str(light), "--model", str(heavy), "--output", str(tmp_path / "o")]) == 0
    docs = {name: json.loads((tmp_path / "o" / name / "results.json").read_text())["throughput"] for name in ("light", "heavy")}
    for name, other in (("light", "heavy"), ("heavy", "light")):
        tp = docs[name]
        assert tp["models"] == 2 and tp["shared_wall_s"] >= tp["wall_s"]
        assert tp["wall_s"] >= tp["shared_wall_s"] - docs[other]["stages_ms"]["inference"] / 1000 - 1e-9
