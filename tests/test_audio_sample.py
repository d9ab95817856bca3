"""The bundled audio sample (data/sample/audio/), its registry entries and the demo audio model: files,
licences, size, the split file, the model's contract and its held-out accuracy as the README states it.
Needs no network: clips are decoded as the harness does (``bench.data.audio``)."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import av
import numpy as np
import onnxruntime as ort
import pytest
import yaml

from scripts import build_audio_sample as builder
from scripts import build_demo_audio_model as demo

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample" / "audio"
MODELS = ROOT / "data" / "models"
EXTS = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"}


def clips(kind: str | None = None) -> list[Path]:
    kinds = (kind,) if kind else ("real", "synthetic")
    return sorted(p for k in kinds for p in (SAMPLE / k).iterdir() if p.suffix in EXTS)


def test_files_present_in_both_classes_and_formats():
    real, synthetic = clips("real"), clips("synthetic")
    assert len(real) >= 20 and len(synthetic) >= 20
    for kind in ("real", "synthetic"):
        assert {p.suffix for p in clips(kind)} == EXTS, kind  # every format in each class
        assert not [p for p in (SAMPLE / kind).iterdir() if p.suffix not in EXTS]  # nothing else there
    # every synthetic clip speaks the transcript of a real prompt, and the README lists every clip
    real_stems = {p.stem for p in real}
    assert all(p.stem.rsplit("_espeak-", 1)[0] in real_stems for p in synthetic)
    readme = (SAMPLE / "README.md").read_text()
    for p in clips():
        assert f"`{p.parent.name}/{p.name}`" in readme


def test_sample_is_under_5_mb():
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 5_000_000, total


def test_clips_decode_with_varied_rates_and_layouts():
    rates, layouts = set(), set()
    for p in clips():
        with av.open(str(p)) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            n = sum(f.samples for f in container.decode(stream))
        rates.add(rate)
        layouts.add(stream.channels)
        assert 2.0 <= n / rate <= 10.0, (p, n / rate)
    assert {8000, 16000, 44100, 48000} <= rates and layouts == {1, 2}


def test_attribution_names_sources_and_licences():
    text = (SAMPLE / "ATTRIBUTION.md").read_text()
    for needle in (
        "CC BY 3.0",
        "Carlo Flora",
        "ivrvoice.ru",
        "asterisk-core-sounds-it-g722",
        "asterisk-core-sounds-ru-g722",
        f"opensoundscape=={builder.PINS['opensoundscape']}",
        "MIT",
        "eSpeak NG",
        "GPL-3.0-or-later",
        "generated audio is our",
    ):
        assert needle in text, needle
    # a checksum for every source recording the real clips came from
    sums = dict(re.findall(r"- `([^`]+)`: `([0-9a-f]{64})`", text))
    prompts = {p.stem for p in clips("real") if not p.stem.startswith("birds_")}
    assert len([m for m in sums if m.endswith(".g722")]) == len(prompts)
    assert builder.BIRDS in sums


def test_registry_entries_point_at_the_sample():
    doc = yaml.safe_load((ROOT / "configs" / "datasets" / "sample_audio.yaml").read_text())
    entries = {d["name"]: d for d in doc["datasets"]}
    assert set(entries) == {"sample-audio-real", "sample-audio-synthetic"}
    for name, kind in (("sample-audio-real", "real"), ("sample-audio-synthetic", "synthetic")):
        e = entries[name]
        assert e["modality"] == "audio" and e["media_type"] == kind and e["source"]["type"] == "folder"
        assert (ROOT / "configs" / "datasets" / e["source"]["path"]).resolve() == (SAMPLE / kind).resolve()
    cfg = yaml.safe_load((ROOT / "configs" / "audio.yaml").read_text())
    assert cfg["datasets"] == ["sample-audio-real", "sample-audio-synthetic"]
    assert (ROOT / "configs" / cfg["model"]).resolve() == (MODELS / "demo_audio.onnx").resolve()


@pytest.fixture(scope="module")
def split() -> dict:
    return json.loads((MODELS / "audio_split.json").read_text())


def test_split_file_is_consistent(split):
    listed = split["train"] + split["held_out"]
    assert split["relative_to"] == "data/sample/audio"
    assert len(set(listed)) == len(listed)  # no clip on both sides, none twice
    assert sorted(listed) == sorted(f"{p.parent.name}/{p.name}" for p in clips())
    train_units = {demo.describe(p) for p in split["train"]}
    held_units = {demo.describe(p) for p in split["held_out"]}
    assert not train_units & held_units and held_units == set(split["held_out_groups"])
    assert (split["train"], split["held_out"], split["held_out_groups"]) == demo.split(sorted(listed))
    assert {p.split("/")[0] for p in split["held_out"]} == {"real", "synthetic"}


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(MODELS / "demo_audio.onnx"), providers=["CPUExecutionProvider"])


def test_model_contract(session):
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape) == ("audio", "tensor(float)", ["batch", 96000])
    assert (out.name, out.type, out.shape) == ("logits", "tensor(float)", ["batch", 2])
    probes = np.stack([np.zeros(96000), np.random.default_rng(0).uniform(-1, 1, 96000)]).astype(np.float32)
    logits = session.run(["logits"], {"audio": probes})[0]
    assert logits.shape == (2, 2) and np.isfinite(logits).all()


def test_held_out_accuracy_is_what_the_readme_states(session, split):
    x = np.stack([demo.load(str(SAMPLE / p)) for p in split["held_out"]])
    y = np.array([demo.CLASSES.index(p.split("/")[0]) for p in split["held_out"]])
    assert x.shape == (len(y), 96000) and x.dtype == np.float32
    acc = float((session.run(["logits"], {"audio": x})[0].argmax(axis=1) == y).mean())
    section = (MODELS / "README.md").read_text().split("## `demo_audio.onnx`", 1)[1]
    stated = re.search(rf"\| held-out \| {len(y)} \| ([0-9.]+) \|", section)
    assert stated, "no held-out row in the demo_audio.onnx section"
    assert acc == pytest.approx(float(stated.group(1)), abs=5e-4)
    assert acc == pytest.approx(split["held_out_accuracy"], abs=5e-4)
    assert acc > 0.5  # better than the majority baseline of a balanced held-out set


def test_deb_reader(tmp_path):
    """The build script's .deb reader on a hand-made package: an ar archive holding data.tar.xz."""
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:xz") as tar:
        data = b"hello"
        info = tarfile.TarInfo("./usr/share/doc/x/copyright")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    members = [(b"debian-binary", b"2.0\n"), (b"control.tar.xz", b"x"), (b"data.tar.xz", payload.getvalue())]
    raw = b"!<arch>\n"
    for name, body in members:
        raw += name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"100644".ljust(8)
        raw += str(len(body)).encode().ljust(10) + b"`\n" + body + (b"\n" if len(body) % 2 else b"")
    (tmp_path / "x.deb").write_bytes(raw)
    assert builder.Deb(tmp_path / "x.deb").read("usr/share/doc/x/copyright") == b"hello"
