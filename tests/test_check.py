"""`bench check` and `bench package`: every rule, each on a small model built to break exactly it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from bench import model as model_module
from bench.checks import check_model
from bench.cli import main
from tests import models

U8, F32 = T.UINT8, T.FLOAT


def build(path: Path, in_shape, nodes, out_shape=("batch", 3), in_type=U8, inits=(), extra_inputs=(), out_type=F32, ir=10, opset=18) -> Path:
    """A model whose input is ``image`` and whose output is ``logits``; ``nodes`` map ``image`` to
    ``logits`` (a leading Cast to float ``f`` is added for convenience)."""
    inputs = [helper.make_tensor_value_info("image", in_type, list(in_shape)), *extra_inputs]
    outputs = [helper.make_tensor_value_info("logits", out_type, list(out_shape))]
    graph = helper.make_graph([helper.make_node("Cast", ["image"], ["f"], to=F32), *nodes], "m", inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    onnx.save(m, str(path))
    return path


def axes(*values, name="axes"):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def means(out="logits", keep_axes=(2, 3)):
    """Per-channel mean over the spatial axes: (B, 3, H, W) -> (B, 3)."""
    return [helper.make_node("ReduceMean", ["f", "axes"], [out], keepdims=0)], [axes(*keep_axes)]


def good_image(path: Path, h=32, w=32, **kw) -> Path:
    nodes, inits = means()
    return build(path, ["batch", 3, h, w], nodes, inits=inits, **kw)


def verdicts(report) -> dict[str, str]:
    return {f.rule: f.verdict for f in report.findings}


def finding(report, rule):
    return next(f for f in report.findings if f.rule == rule)


# ------------------------------------------------------------------ good models


def test_good_image_model_passes_every_rule(tmp_path, capsys):
    path = good_image(tmp_path / "good.onnx")
    report = check_model(path)
    assert report.ok, report.text()
    assert set(verdicts(report).values()) == {"pass"}
    for rule in ("file", "onnx", "rank", "layout", "size", "batch", "dtype", "output", "runs", "batch-independence", "determinism", "extremes", "latency"):
        assert verdicts(report)[rule] == "pass"
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "PASS  batch-independence" in out and "0 of 8 decisions flip" in out
    assert "ms at batch 1" in out and "ms at batch 16" in out


def test_good_video_model_with_dynamic_frames(tmp_path):
    nodes, inits = means(keep_axes=(1, 3, 4))
    path = build(tmp_path / "v.onnx", ["batch", "frames", 3, 16, 16], nodes, inits=inits)
    report = check_model(path, "video")
    assert report.ok, report.text()
    assert "8, 16 frames" in finding(report, "runs").message
    assert verdicts(report)["frames"] == "pass"
    assert not check_model(path, "image").ok  # rank 5 is not an image model


def test_json_output(tmp_path, capsys):
    path = good_image(tmp_path / "good.onnx")
    assert main(["check", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["info"]["height"] == 32
    assert {f["rule"] for f in doc["findings"]} >= {"runs", "batch-independence"}
    assert {f["status"] for f in doc["findings"]} == {"pass"}  # the JSON key stays "status"


# ------------------------------------------------------------------ one broken rule each


def test_missing_file(tmp_path):
    report = check_model(tmp_path / "nope.onnx")
    assert verdicts(report)["file"] == "fail" and verdicts(report)["runs"] == "skip"


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"this is not protobuf at all" * 10)
    report = check_model(path)
    assert verdicts(report)["onnx"] == "fail" and not report.ok


def test_checker_refuses_a_broken_graph(tmp_path):
    path = tmp_path / "broken.onnx"
    x = helper.make_tensor_value_info("image", U8, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("logits", F32, ["batch", 3])
    graph = helper.make_graph([helper.make_node("Relu", ["not_defined"], ["logits"])], "g", [x], [y])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 10
    onnx.save(m, str(path))
    report = check_model(path)
    assert verdicts(report)["onnx"] == "fail" and "checker" in finding(report, "onnx").message


def _external_model(tmp_path: Path, location: str) -> Path:
    """A model whose weight lives in an external file at ``location`` (relative to the model)."""
    weight = numpy_helper.from_array(np.ones((3, 3), np.float32), "W")
    nodes, inits = means("m")
    path = build(tmp_path / "ext.onnx", ["batch", 3, 8, 8], nodes + [helper.make_node("MatMul", ["m", "W"], ["logits"])], inits=[*inits, weight])
    m = onnx.load(str(path))
    t = next(t for t in m.graph.initializer if t.name == "W")
    (path.parent / "weights.bin").write_bytes(numpy_helper.to_array(t).tobytes())
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = T.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "36")):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    onnx.save(m, str(path))
    return path


def test_external_data_inside_the_folder_is_accepted_with_a_warning(tmp_path):
    report = check_model(_external_model(tmp_path, "weights.bin"))
    assert verdicts(report)["external-data"] == "warn" and report.ok, report.text()


def test_external_data_outside_the_folder_is_refused(tmp_path):
    path = _external_model(tmp_path, "../secret.bin")
    report = check_model(path)
    assert verdicts(report)["external-data"] == "fail"
    assert "outside the model's folder" in finding(report, "external-data").message


def test_two_inputs(tmp_path):
    nodes, inits = means()
    extra = [helper.make_tensor_value_info("scale", F32, [1])]
    report = check_model(build(tmp_path / "two.onnx", ["batch", 3, 8, 8], nodes, inits=inits, extra_inputs=extra))
    assert verdicts(report)["inputs"] == "fail" and "2 inputs" in finding(report, "inputs").message


def test_wrong_rank(tmp_path):
    nodes, inits = means(keep_axes=(2,))
    report = check_model(build(tmp_path / "r3.onnx", ["batch", 3, 8], nodes, inits=inits))
    assert verdicts(report)["rank"] == "fail" and "rank 3" in finding(report, "rank").message


def test_channels_last_is_a_failure_with_the_fix(tmp_path):
    nodes, inits = means(keep_axes=(1, 2))
    report = check_model(build(tmp_path / "nhwc.onnx", ["batch", 32, 32, 3], nodes, inits=inits))
    f = finding(report, "layout")
    assert f.verdict == "fail" and "channels last" in f.message and "channels first" in f.fix


def test_dynamic_hw_warns_224(tmp_path):
    report = check_model(good_image(tmp_path / "dyn.onnx", "h", "w"))
    f = finding(report, "size")
    assert f.verdict == "warn" and "224x224" in f.message and report.ok


def test_fixed_batch_fails(tmp_path):
    nodes, inits = means()
    report = check_model(build(tmp_path / "b1.onnx", [1, 3, 8, 8], nodes, inits=inits, out_shape=(1, 3)))
    assert verdicts(report)["batch"] == "fail" and not report.ok


def test_video_with_too_many_fixed_frames_fails(tmp_path):
    """The harness cannot feed more than 64 frames: a fixed T above it fails here as in `bench run`."""
    nodes, inits = means(keep_axes=(1, 3, 4))
    report = check_model(build(tmp_path / "v.onnx", ["batch", 80, 3, 4, 4], nodes, inits=inits), "video")
    f = finding(report, "frames")
    assert f.verdict == "fail" and "64" in f.message and "dynamic frames axis" in f.fix
    assert verdicts(report)["runs"] == "skip" and not report.ok


def test_float32_input_warns(tmp_path):
    report = check_model(good_image(tmp_path / "f.onnx", in_type=F32))
    assert verdicts(report)["dtype"] == "warn" and report.ok


@pytest.mark.parametrize("dtype", [T.INT64, T.DOUBLE, T.FLOAT16, T.INT8])
def test_other_input_dtypes_fail(tmp_path, dtype):
    report = check_model(good_image(tmp_path / "d.onnx", in_type=dtype))
    f = finding(report, "dtype")
    assert f.verdict == "fail" and f.fix == "declare the input uint8 (or float32 holding 0..255)"


@pytest.mark.parametrize("width,verdict", [(2, "warn"), (1, "warn"), (4, "fail")])
def test_output_width(tmp_path, width, verdict):
    nodes, inits = means("m")
    w = numpy_helper.from_array(np.ones((3, width), np.float32), "W")
    path = build(tmp_path / "o.onnx", ["batch", 3, 8, 8], nodes + [helper.make_node("MatMul", ["m", "W"], ["logits"])], out_shape=("batch", width), inits=[*inits, w])
    report = check_model(path)
    assert verdicts(report)["output"] == verdict


def test_output_of_wrong_rank_fails(tmp_path):
    nodes, inits = means(keep_axes=(2,))
    path = build(tmp_path / "o3.onnx", ["batch", 3, 8, 8], [helper.make_node("ReduceMean", ["f", "axes"], ["logits"], keepdims=0)], out_shape=("batch", 3, 8), inits=inits)
    assert verdicts(check_model(path))["output"] == "fail"


def test_model_that_only_runs_at_batch_one_fails_runs(tmp_path):
    nodes, inits = means("m")
    shape = numpy_helper.from_array(np.array([1, 3], dtype=np.int64), "shape")
    path = build(tmp_path / "rs.onnx", ["batch", 3, 8, 8], nodes + [helper.make_node("Reshape", ["m", "shape"], ["logits"])], inits=[*inits, shape])
    report = check_model(path)
    f = finding(report, "runs")
    assert f.verdict == "fail" and "batch 5" in f.message
    assert verdicts(report)["batch-independence"] == "skip"


def test_non_finite_on_random_input_fails_runs(tmp_path):
    nodes, inits = means("m")
    zero = numpy_helper.from_array(np.zeros(3, np.float32), "zero")
    path = build(tmp_path / "inf.onnx", ["batch", 3, 8, 8], nodes + [helper.make_node("Div", ["m", "zero"], ["logits"])], inits=[*inits, zero])
    f = finding(check_model(path), "runs")
    assert f.verdict == "fail" and "non-finite" in f.message


def test_batch_statistics_leak_fails_with_flips(tmp_path):
    """Logits = per-sample means minus the batch mean: a sample's verdict depends on its batch."""
    nodes, inits = means("m")
    nodes += [
        helper.make_node("ReduceMean", ["m", "bax"], ["bm"], keepdims=1),
        helper.make_node("Sub", ["m", "bm"], ["logits"]),
    ]
    report = check_model(build(tmp_path / "leak.onnx", ["batch", 3, 8, 8], nodes, inits=[*inits, axes(0, name="bax")]))
    f = finding(report, "batch-independence")
    assert f.verdict == "fail" and f.value["flips"] > 0 and "depends on its batch-mates" in f.message


def test_small_batch_dependence_warns(tmp_path):
    """A 0.2% nudge from the batch mean (like per-batch quantisation scales): no flip, a warning."""
    nodes, inits = means("m")
    big = numpy_helper.from_array(np.array([1.0, -1.0, -2.0], np.float32) * 50, "sep")
    tiny = numpy_helper.from_array(np.array([2e-3], np.float32), "tiny")
    nodes += [
        helper.make_node("ReduceMean", ["m", "bax"], ["bm"], keepdims=1),
        helper.make_node("Mul", ["bm", "tiny"], ["nudge"]),
        helper.make_node("Add", ["nudge", "sep"], ["z"]),
        helper.make_node("Add", ["m", "z"], ["logits"]),
    ]
    report = check_model(build(tmp_path / "q.onnx", ["batch", 3, 8, 8], nodes, inits=[*inits, axes(0, name="bax"), big, tiny]))
    f = finding(report, "batch-independence")
    assert f.verdict == "warn", report.text()
    assert f.value["flips"] == 0 and report.ok


def test_random_op_fails_determinism(tmp_path):
    nodes, inits = means("m")
    nodes += [helper.make_node("RandomNormalLike", ["m"], ["noise"], scale=1e-3), helper.make_node("Add", ["m", "noise"], ["logits"])]
    report = check_model(build(tmp_path / "rnd.onnx", ["batch", 3, 8, 8], nodes, inits=inits))
    assert verdicts(report)["determinism"] == "fail"


def test_all_black_gives_non_finite_fails_extremes(tmp_path):
    path = models.save(models.nan_when_dark(), tmp_path / "dark.onnx")
    report = check_model(path)
    assert verdicts(report)["runs"] == "pass"  # probes are never all black
    f = finding(report, "extremes")
    assert f.verdict == "fail" and "all-black" in f.message


def test_unloadable_ir_version_names_the_fix(tmp_path):
    report = check_model(good_image(tmp_path / "ir.onnx", ir=onnx.IR_VERSION + 5))
    f = finding(report, "session") if "session" in verdicts(report) else finding(report, "onnx")
    assert f.verdict == "fail"


def test_combined_breakage_reports_every_static_rule(tmp_path):
    """Fixed batch + float64 input + 4 outputs: all three are named, nothing runs."""
    nodes, inits = means("m")
    w = numpy_helper.from_array(np.ones((3, 4), np.float32), "W")
    path = build(tmp_path / "bad.onnx", [2, 3, 8, 8], nodes + [helper.make_node("MatMul", ["m", "W"], ["logits"])], out_shape=(2, 4), inits=[*inits, w], in_type=T.DOUBLE)
    s = verdicts(check_model(path))
    assert s["batch"] == s["dtype"] == s["output"] == "fail"
    assert s["runs"] == "skip"


# ------------------------------------------------------------------ zips


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "members,words",
    [
        ({"a.onnx": b"x", "b.onnx": b"y"}, "2 entries"),
        ({"readme.txt": b"x"}, "not an .onnx"),
        ({"../evil.onnx": b"x"}, "climbs out"),
        ({"/abs.onnx": b"x"}, "absolute"),
        ({"sub/": b"", "sub/m.onnx": b"x"}, "directory entry"),
        ({"sub/m.onnx": b"x"}, "sits in a folder"),
        ({}, "0 entries"),
    ],
)
def test_bad_zips_are_refused(tmp_path, members, words):
    report = check_model(_zip(tmp_path / "m.zip", members))
    assert not report.ok
    assert any(words in f.message for f in report.findings if f.rule == "zip"), report.text()


def test_zip_bomb_refused_before_extraction(tmp_path, monkeypatch):
    good = good_image(tmp_path / "g.onnx").read_bytes()
    path = _zip(tmp_path / "bomb.zip", {"image_detector.onnx": good + b"\0" * (70 << 20)})
    assert path.stat().st_size < 1 << 20
    report = check_model(path)
    assert "zip bomb" in finding(report, "zip").message
    # and the absolute size bound, checked from the directory alone
    monkeypatch.setattr(model_module, "MAX_UNCOMPRESSED", 100)
    report = check_model(_zip(tmp_path / "big.zip", {"image_detector.onnx": good}))
    assert "refused before extraction" in finding(report, "zip").message


def test_not_a_zip_with_zip_extension(tmp_path):
    path = tmp_path / "m.zip"
    path.write_bytes(b"nope")
    assert verdicts(check_model(path))["zip"] == "fail"


# ------------------------------------------------------------------ package


def test_package_then_check_and_run_the_zip(tmp_path, capsys):
    src = good_image(tmp_path / "my_model.onnx")
    assert main(["package", str(src), "--modality", "image", "--output", str(tmp_path / "out")]) == 0
    archive = tmp_path / "out" / "image_detector.zip"
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == ["image_detector.onnx"]
        assert zf.read("image_detector.onnx") == src.read_bytes()
    assert main(["check", str(archive)]) == 0
    capsys.readouterr()
    run = ["run", "--model", str(archive), "--datasets", "sample-real", "sample-synthetic", "sample-semisynthetic", "--limit", "2"]
    assert main([*run, "--output", str(tmp_path / "run"), "--no-progress"]) == 0
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    assert doc["metrics"]["overall"]["n"] == 6


def test_package_refuses_a_failing_model(tmp_path, capsys):
    nodes, inits = means()
    bad = build(tmp_path / "fixed.onnx", [1, 3, 8, 8], nodes, inits=inits, out_shape=(1, 3))
    assert main(["package", str(bad), "--modality", "image", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "batch" in err and "bench check" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "image_detector.zip").exists()


def test_package_refuses_wrong_modality(tmp_path, capsys):
    assert main(["package", str(good_image(tmp_path / "g.onnx")), "--modality", "video", "--output", str(tmp_path)]) == 2
    assert "rank" in capsys.readouterr().err


def test_check_exit_status_is_one_on_failure(tmp_path, capsys):
    nodes, inits = means()
    bad = build(tmp_path / "fixed.onnx", [1, 3, 8, 8], nodes, inits=inits, out_shape=(1, 3))
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  batch" in out and "fix:" in out
