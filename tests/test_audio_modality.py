"""The audio modality through the seams: contract rules, the view (length rule, augmentation,
robustness chain), probes, the float32 cache, parquet and Hugging Face sources, `bench check` and
`bench run` end to end on generated clips with a tiny ONNX model and a tiny submission."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench import modalities
from bench.checks import check_model
from bench.cli import main
from bench.config import load_config
from bench.contract import FAIL, PASS, WARN, io_findings, resolve_spec
from bench.data.audio import decode_waveform, fit_length
from bench.data.refs import wav_from_array
from bench.spec import TensorInfo
from bench.transforms import AudioAugmenter
from tests import audio_clips as ac
from tests import models
from tests.audio_clips import needs_ffmpeg

OUT = [TensorInfo("logits", ("batch", 2), "float32")]


def _findings(shape, dtype="float32"):
    return {f.rule: f for f in io_findings([TensorInfo("audio", shape, dtype)], OUT, None, (2, 3))}


# --------------------------------------------------------------------------- the contract


def test_rank_two_is_audio():
    assert modalities.by_rank(2).name == "audio"
    assert modalities.get("audio").layout.dtypes == ("float32",)


def test_contract_rules_for_audio_inputs():
    ok = _findings(("batch", 96000))
    assert ok["rank"].verdict == PASS and ok["size"].verdict == PASS and ok["dtype"].verdict == PASS and ok["batch"].verdict == PASS
    assert _findings(("batch", 96000), "uint8")["dtype"].verdict == FAIL
    dynamic = _findings(("batch", "samples"))["size"]
    assert dynamic.verdict == WARN and "96000 will be used" in dynamic.message
    other = _findings(("batch", 48000))["size"]
    assert other.verdict == WARN and "leaderboard always feeds samples 96000" in other.message
    assert _findings((4, 96000))["batch"].verdict == FAIL
    assert _findings(("batch", 1, 96000))["rank"].verdict == FAIL


def test_resolved_spec_sizes_the_view():
    spec = resolve_spec("m.onnx", "", [TensorInfo("audio", ("batch", 48000), "float32")], [TensorInfo("logits", ("batch", 3), "float32")])
    assert spec.modality == "audio" and spec.samples == 48000
    view = modalities.get("audio").view(spec, load_config(None))
    assert view.batch_shape(4) == (4, 48000) and np.dtype(view.dtype) == np.float32
    dynamic = resolve_spec("m.onnx", "", [TensorInfo("audio", ("batch", "n"), "float32")], [TensorInfo("logits", ("batch", 3), "float32")])
    assert modalities.get("audio").view(dynamic, load_config(None)).samples == 96000


# --------------------------------------------------------------------------- augmentation, robustness, probes


def test_augmentation_is_seeded_and_adds_gain_and_noise_at_the_snr():
    wave = (0.01 * np.sin(np.arange(96000) / 7.0)).astype(np.float32)  # quiet: nothing clips
    aug = AudioAugmenter(3)
    assert np.array_equal(aug(wave, 5), aug(wave, 5))
    assert not np.array_equal(aug(wave, 5), aug(wave, 6))
    assert AudioAugmenter(0)(wave, 5) is wave
    snrs = []
    for seed in range(40):
        out = aug(wave, seed).astype(np.float64)
        gain = float(np.dot(out, wave) / np.dot(wave, wave))  # least squares: out = gain * wave + noise
        noise = out - gain * wave
        assert 10 ** (-10 / 20) - 0.01 <= gain <= 10 ** (10 / 20) + 0.01
        if np.abs(noise).max() > 1e-6:
            snrs.append(10 * np.log10(np.mean((gain * wave) ** 2) / np.mean(noise**2)))
    assert snrs and all(9.5 <= s <= 30.5 for s in snrs)
    loud = AudioAugmenter(3)(np.full(1000, 0.9, np.float32), 1)
    assert loud.dtype == np.float32 and np.abs(loud).max() <= 1.0


def test_augmentation_refuses_a_pixel_pipeline(tmp_path):
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="for images and video"):
        AudioAugmenter(0, str(tmp_path / "pipe.json"))


def test_robustness_chain_keeps_length_alignment_and_is_deterministic():
    from bench.robustness import audio_chain

    rng = np.random.default_rng(0)
    wave = (0.2 * rng.standard_normal(32000) * np.sin(np.arange(32000) / 900.0) ** 2).astype(np.float32)
    out = audio_chain(wave, 16000)
    assert out.shape == wave.shape and out.dtype == np.float32
    assert np.array_equal(out, audio_chain(wave, 16000))
    lags = range(-300, 301)
    corr = [np.dot(wave[400:-400], np.roll(out, -k)[400:-400]) for k in lags]
    assert list(lags)[int(np.argmax(corr))] == 0
    snr = 10 * np.log10(np.mean(wave**2) / np.mean((out - wave) ** 2))
    assert snr > 3, snr


def test_probes_are_varied_float_waveforms():
    spec = resolve_spec("m.onnx", "", [TensorInfo("audio", ("batch", 8000), "float32")], OUT)
    batch = modalities.get("audio").probes(spec, 9)
    assert batch.shape == (9, 8000) and batch.dtype == np.float32
    assert np.abs(batch).max() <= 1.0 and (batch[0] == 0).all() and np.abs(batch[1]).max() > 0.99
    assert len({round(float(np.std(b)), 4) for b in batch[:8]}) == 8


def test_float_waveforms_round_trip_through_the_sample_cache(tmp_path):
    from bench.cache import SampleCache

    cache = SampleCache(tmp_path / "c", 10**8, {"modality": "audio"})
    wave = np.random.default_rng(1).standard_normal(96000).astype(np.float32)
    cache.put("k", wave)
    got, frames = cache.get("k")
    assert got.dtype == np.float32 and np.array_equal(got, wave) and frames is None


# --------------------------------------------------------------------------- end to end


def _folder(tmp_path: Path) -> Path:
    """real/ quiet clips and synthetic/ loud ones in several formats, rates and layouts, plus
    hostile files: an empty one, a PNG named .wav, text named .mp3."""
    import cv2

    root = tmp_path / "clips"
    for kind, level in (("real", 0.02), ("synthetic", 0.8)):
        (root / kind).mkdir(parents=True)
        for i, (ext, rate, layout) in enumerate([("wav", 44100, "stereo"), ("flac", 48000, "5.1"), ("mp3", 22050, "mono"), ("ogg", 48000, "stereo"), ("m4a", 8000, "mono")]):
            ac.clip(root / kind, ext, rate, layout, seconds=7.0 if i % 2 else 4.0, seed=i, name=f"{kind}{i}.{ext}", level=level)
    (root / "synthetic" / "empty.wav").write_bytes(b"")
    (root / "synthetic" / "image.wav").write_bytes(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    (root / "real" / "text.mp3").write_text("not audio")
    return root


def _records(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "records.parquet")


def test_bench_run_scores_an_onnx_audio_model(tmp_path):
    root = _folder(tmp_path)
    model = models.save(models.audio_loudness(), tmp_path / "loud.onnx")
    out = tmp_path / "out"
    assert main(["run", "--model", str(model), "--folder", str(root), "--output", str(out), "--no-progress", "--no-cache", "--batch-size", "4"]) == 0
    recs = _records(out)
    ok = recs[recs.status == "ok"]
    assert len(ok) == 10 and (ok.pred_binary == (ok.label != 0)).all()
    errors = dict(zip(recs[recs.status != "ok"].sample_id, recs[recs.status != "ok"].error))
    assert "empty file" in errors["empty.wav"] and "no audio stream" in errors["image.wav"] and "not a media file" in errors["text.mp3"]
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["input_dtype"] == "float32" and results["preprocessing"]["sample_rate"] == 16000
    assert "16000 Hz mono, 96000 samples" in (out / "summary.md").read_text()


@needs_ffmpeg
@pytest.mark.parametrize("robust", [False, True])
def test_the_model_is_fed_the_leaderboards_window(tmp_path, robust):
    root = tmp_path / "clips"
    (root / "real").mkdir(parents=True)
    path = ac.clip(root / "real", "wav", 44100, "stereo", seconds=8.0)
    at = (1, 50000, 95999)
    model = models.save(models.audio_window(96000, at), tmp_path / "window.onnx")
    out = tmp_path / "out"
    args = ["run", "--model", str(model), "--folder", str(root), "--output", str(out), "--no-progress", "--no-cache"] + (["--robustness"] if robust else [])
    assert main(args) == 0
    recs = _records(out)
    window = ac.leaderboard_window(ac.ffmpeg_decode(path))
    base = recs[recs["pass"] == "base"].iloc[0]
    assert np.array_equal(np.asarray(base.logits, np.float32), window[list(at)])
    if robust:
        degraded = np.asarray(recs[recs["pass"] == "robust"].iloc[0].logits)
        assert not np.array_equal(degraded, base.logits) and np.abs(degraded - window[list(at)]).max() < 0.3


def test_bench_check_passes_an_audio_onnx_model_and_fails_a_uint8_one(tmp_path):
    good = check_model(models.save(models.audio_loudness(), tmp_path / "good.onnx"))
    assert good.ok, good.text()
    verdicts = {f.rule: f.verdict for f in good.findings}
    assert verdicts["extremes"] == PASS and verdicts["batch-independence"] == PASS and verdicts["runs"] == PASS
    assert "silent, full-scale positive and full-scale negative inputs give finite logits" in good.text()
    dynamic = check_model(models.save(models.audio_loudness(samples="n"), tmp_path / "dyn.onnx"))
    assert dynamic.ok and {f.rule: f.verdict for f in dynamic.findings}["size"] == WARN
    from onnx import TensorProto

    bad = check_model(models.save(models.audio_loudness(dtype=TensorProto.UINT8), tmp_path / "bad.onnx"))
    assert not bad.ok and {f.rule: f.verdict for f in bad.findings}["dtype"] == FAIL


# --------------------------------------------------------------------------- submissions


@pytest.fixture
def audio_submission(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from tests import submissions

    return submissions.write(tmp_path / "sub", submissions.AUDIO_LOUDNESS, num_classes=2, modality="audio", resize=None,
                             weights=submissions.loudness_weights(), sample_rate=16000, duration_seconds=3.0)


def test_bench_check_runs_an_audio_submission(audio_submission):
    report = check_model(audio_submission, timeout=60)
    assert report.ok, report.text()
    verdicts = {f.rule: f.verdict for f in report.findings}
    assert verdicts["size"] == WARN and report.info["samples"] == 48000  # 16000 Hz x 3.0 s; the leaderboard feeds 96000


def test_bench_run_scores_an_audio_submission(tmp_path, audio_submission):
    root = _folder(tmp_path)
    out = tmp_path / "out"
    assert main(["run", "--model", str(audio_submission), "--folder", str(root), "--output", str(out), "--no-progress", "--no-cache"]) == 0
    recs = _records(out)
    ok = recs[recs.status == "ok"]
    assert len(ok) == 10 and (ok.pred_binary == (ok.label != 0)).all()
    assert json.loads((out / "results.json").read_text())["preprocessing"]["samples"] == 48000


# --------------------------------------------------------------------------- parquet and Hugging Face sources


def _registry(tmp_path: Path, source: dict) -> Path:
    reg = tmp_path / "registry"
    reg.mkdir(exist_ok=True)
    (reg / "a.yaml").write_text(yaml.safe_dump({"datasets": [{"name": "t", "modality": "audio", "media_type": "real", "source": source}]}))
    return reg


def _run_window(tmp_path: Path, reg: Path, at=(7, 20000, 40000)) -> np.ndarray:
    model = models.save(models.audio_window(96000, at), tmp_path / "w.onnx")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"model": str(model), "datasets": ["t"], "dataset_dirs": [str(reg)], "progress": False, "cache": False}))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--output", str(out)]) == 0
    recs = _records(out)
    assert (recs.status == "ok").all(), recs.error.tolist()
    return np.stack([np.asarray(v, np.float32) for v in recs.logits])


@needs_ffmpeg
def test_parquet_bytes_and_decoded_array_cells(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = ac.clip(tmp_path, "flac", 22050, "stereo", seconds=3.0)
    x = ac.signal(44100, 1, 2.0, seed=4)[0]
    (tmp_path / "x.wav").write_bytes(wav_from_array(x, 44100)[0])  # the file the leaderboard makes of the cell
    table = pa.table({"audio": [{"bytes": path.read_bytes(), "path": None}, {"bytes": None, "path": None}]})
    arrays = pa.table({"audio": [{"array": x.tolist(), "sampling_rate": 44100}]})
    pq.write_table(table, tmp_path / "bytes.parquet")
    pq.write_table(arrays, tmp_path / "arrays.parquet")
    at = (7, 20000, 40000)
    reg = _registry(tmp_path, {"type": "parquet", "path": str(tmp_path / "arrays.parquet")})
    got = _run_window(tmp_path, reg, at)
    assert np.array_equal(got[0], ac.leaderboard_window(ac.ffmpeg_decode(tmp_path / "x.wav"))[list(at)])
    from bench.data.registry import DatasetSpec
    from bench.data.sources import open_parquet

    refs, n = open_parquet(DatasetSpec("b", "audio", "real", {"type": "parquet", "path": str(tmp_path / "bytes.parquet")}))
    refs = list(refs)
    assert n == 2 and refs[0].data == path.read_bytes() and refs[1].data == b""


def test_hugging_face_audio_feature_is_read_as_bytes(tmp_path):
    datasets = pytest.importorskip("datasets")
    path = ac.clip(tmp_path, "mp3", 44100, "stereo", seconds=2.0)
    ds = datasets.Dataset.from_dict({"audio": [{"bytes": path.read_bytes(), "path": None}]}).cast(datasets.Features({"audio": datasets.Audio()}))
    ds.save_to_disk(str(tmp_path / "hf"))
    from bench.data.registry import DatasetSpec
    from bench.data.sources import open_huggingface

    refs, _ = open_huggingface(DatasetSpec("h", "audio", "real", {"type": "huggingface", "path": str(tmp_path / "hf")}))
    (ref,) = list(refs)
    assert ref.data == path.read_bytes()
    view = modalities.get("audio").view(resolve_spec("m.onnx", "", [TensorInfo("a", ("batch", 96000), "float32")], OUT), load_config(None))
    wave, _, _ = view.decode(ref)
    assert np.array_equal(view.geometry(wave), fit_length(decode_waveform(str(path)), 96000))
