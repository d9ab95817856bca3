"""The model contract (bench/contract.py): pure rules on hand-built I/O, and one answer for `bench
check`, `bench run` (OnnxRuntime.load) and export verification on the cases where they disagreed."""

from __future__ import annotations

import pytest
from onnx import TensorProto

from bench import modalities
from bench.checks import check_model
from bench.contract import FAIL, PASS, SKIP, WARN, io_findings, resolve_spec
from bench.errors import BenchError
from bench.modalities import Axis, Layout, Modality
from bench.runtimes.onnx import OnnxRuntime
from bench.spec import TensorInfo
from tests import models

LOGITS = TensorInfo("logits", ("batch", 3), "float32")


def image(shape=("batch", 3, 224, 224), dtype="uint8") -> TensorInfo:
    return TensorInfo("image", tuple(shape), dtype)


def video(frames="frames", dtype="uint8", hw=(224, 224)) -> TensorInfo:
    return TensorInfo("video", ("batch", frames, 3, *hw), dtype)


def verdicts(inputs, outputs=(LOGITS,), modality=None) -> dict[str, str]:
    return {f.rule: f.verdict for f in io_findings(list(inputs), list(outputs), modality)}


def finding(rule, inputs, outputs=(LOGITS,), modality=None):
    return next(f for f in io_findings(list(inputs), list(outputs), modality) if f.rule == rule)


# ------------------------------------------------------------------ pure rules


def test_compliant_image_passes_every_rule_and_resolves():
    assert set(verdicts([image()]).values()) == {PASS}
    spec = resolve_spec("m.onnx", "abc", [image()], [LOGITS])
    assert (spec.modality, spec.height, spec.width, spec.frames) == ("image", 224, 224, None)
    assert spec.size_declared and spec.output_width == 3 and spec.input_dtype == "uint8"
    assert (spec.path, spec.sha256, spec.input_name, spec.output_name) == ("m.onnx", "abc", "image", "logits")


@pytest.mark.parametrize("dtype,verdict", [("uint8", PASS), ("float32", WARN), ("float16", FAIL), ("float64", FAIL), ("int8", FAIL), ("int32", FAIL), ("tensor(bfloat16)", FAIL)])
def test_input_dtype(dtype, verdict):
    f = finding("dtype", [image(dtype=dtype)])
    assert f.verdict == verdict and f.value == dtype
    if verdict == WARN:
        assert "4x the host-to-device bytes" in f.message and "0..255" in f.message
    if verdict == FAIL:
        assert dtype in f.message and f.fix == "declare the input uint8 (or float32 holding 0..255)"


@pytest.mark.parametrize("frames,verdict", [("frames", PASS), (None, PASS), (1, PASS), (64, PASS), (65, FAIL), (80, FAIL)])
def test_frames_axis(frames, verdict):
    f = finding("frames", [video(frames)])
    assert f.verdict == verdict
    if verdict == FAIL:
        assert "64" in f.message and f.fix == "export with at most 64 frames or a dynamic frames axis"
    elif not isinstance(frames, int):
        assert "default 16" in f.message  # the run config's default, read from bench/config.py


def test_frames_resolve_to_the_fixed_t_or_none():
    assert resolve_spec("m", "", [video(16)], [LOGITS]).frames == 16
    assert resolve_spec("m", "", [video()], [LOGITS]).frames is None


def test_dynamic_hw_warns_and_resolves_to_224():
    f = finding("size", [image(("batch", 3, "h", None))])
    assert f.verdict == WARN and "224x224" in f.message
    spec = resolve_spec("m", "", [image(("batch", 3, "h", "w"))], [LOGITS])
    assert (spec.height, spec.width, spec.size_declared) == (224, 224, False)


def test_channels_last_fails_and_skips_the_size_rule():
    v = verdicts([image(("batch", 224, 224, 3))])
    assert v["layout"] == FAIL and v["size"] == SKIP
    assert "channels first" in finding("layout", [image(("batch", 224, 224, 3))]).fix


def test_wrong_channel_count_fails():
    f = finding("layout", [image(("batch", 1, 224, 224))])
    assert f.verdict == FAIL and "expected 3 channels" in f.message


def test_fixed_batch_fails():
    f = finding("batch", [image((8, 3, 224, 224))])
    assert f.verdict == FAIL and "dynamic batch axis" in f.fix


def test_inputs_count():
    assert verdicts([])["inputs"] == FAIL
    assert verdicts([image(), TensorInfo("scale", (1,), "float32")])["inputs"] == FAIL


def test_rank_that_matches_no_modality_fails_and_dtype_is_not_judged():
    v = verdicts([TensorInfo("x", ("batch", 3, 8), "uint8")])
    assert v["rank"] == FAIL and v["dtype"] == SKIP and "layout" not in v


def test_modality_asked_for_disagrees_with_the_rank():
    f = finding("rank", [image()], modality="video")
    assert f.verdict == FAIL and "rank 5 for video" in f.message and "drop --modality" in f.fix
    with pytest.raises(BenchError, match="drop --modality"):
        resolve_spec("m", "", [image()], [LOGITS], "video")


@pytest.mark.parametrize(
    "shape,verdict,width",
    [(("batch", 3), PASS, 3), (("batch", 2), WARN, 2), (("batch", 1), WARN, 1), (("batch", "n"), WARN, None), (("batch", 4), FAIL, None), (("batch", 3, 8), FAIL, None)],
)
def test_output(shape, verdict, width):
    out = TensorInfo("logits", shape, "float32")
    assert verdicts([image()], [out])["output"] == verdict
    if verdict != FAIL:
        assert resolve_spec("m", "", [image()], [out]).output_width == width


def test_no_output_fails():
    assert verdicts([image()], [])["output"] == FAIL


def test_every_broken_rule_is_reported_and_run_refuses_with_the_first():
    bad = [image((2, 3, 224, 224), "float64")]
    out = [TensorInfo("logits", (2, 4), "float32")]
    v = verdicts(bad, out)
    assert v["batch"] == v["dtype"] == v["output"] == FAIL
    first = next(f for f in io_findings(bad, out) if f.verdict == FAIL)
    with pytest.raises(BenchError) as exc:
        resolve_spec("m", "", bad, out)
    assert str(exc.value) == f"{first.message}; {first.fix}"


def test_resolve_spec_does_not_warn(capsys, caplog):
    resolve_spec("m", "", [image(("batch", 3, "h", "w"), "float32")], [TensorInfo("logits", ("batch", 2), "float32")])
    assert capsys.readouterr() == ("", "") and not caplog.records


# ------------------------------------------------------------------ generic over the layout

AUDIO = Modality(
    name="audio",
    layout=Layout((Axis("batch", dynamic=True), Axis("samples", fixed=True, default=96000)), dtypes=("float32",)),
    extensions=(".wav",),
    view_factory="tests.test_contract:none",
    probe_factory="tests.test_contract:none",
)


def test_a_new_modality_plugs_in_with_its_layout_only(monkeypatch):
    monkeypatch.setitem(modalities.REGISTRY, "audio", "tests.test_contract:AUDIO")
    pcm = TensorInfo("pcm", ("batch", 96000), "float32")
    assert set(verdicts([pcm]).values()) == {PASS}
    spec = resolve_spec("a.onnx", "", [pcm], [LOGITS])
    assert spec.modality == "audio" and spec.sizes == {"samples": 96000}
    assert verdicts([TensorInfo("pcm", ("batch", 96000), "uint8")])["dtype"] == FAIL
    assert verdicts([TensorInfo("pcm", ("batch", "n"), "float32")])["size"] == WARN
    assert resolve_spec("a", "", [TensorInfo("pcm", ("batch", None), "float32")], [LOGITS]).sizes == {"samples": 96000}


# ------------------------------------------------------------------ one answer: check and run agree


def test_float16_input_fails_check_and_run(tmp_path):
    path = models.save(models.channel_means(16, 16, dtype=TensorProto.FLOAT16), tmp_path / "f16.onnx")
    report = check_model(path)
    f = next(f for f in report.findings if f.rule == "dtype")
    assert f.verdict == FAIL and "float16" in f.message and not report.ok
    with pytest.raises(BenchError, match="float16"):
        OnnxRuntime.load(str(path), provider="cpu")


def test_video_with_80_fixed_frames_fails_check_and_run(tmp_path):
    path = models.save(models.frame_spread(8, 8, frames=80), tmp_path / "t80.onnx")
    report = check_model(path, "video")
    f = next(f for f in report.findings if f.rule == "frames")
    assert f.verdict == FAIL and "64" in f.message and not report.ok
    with pytest.raises(BenchError, match="64"):
        OnnxRuntime.load(str(path), provider="cpu")


def test_compliant_models_load_with_the_spec_check_reports(tmp_path):
    path = models.save(models.frame_spread(8, 8, frames=12), tmp_path / "t12.onnx")
    report = check_model(path)
    assert report.ok, report.text()
    spec = OnnxRuntime.load(str(path), provider="cpu").spec
    assert (spec.modality, spec.frames, spec.height, spec.width) == ("video", 12, 8, 8)
    assert report.info["frames"] == 12 and report.info["modality"] == "video"
