"""bench.export: PyTorch -> ONNX under the model contract, checked against PyTorch and bench.checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

torch = pytest.importorskip(
    "torch", reason="needs PyTorch: install the export extra (pip install -e '.[export]')"
)
pytest.importorskip(
    "onnxscript", reason="the dynamo ONNX exporter needs onnxscript: install the export extra"
)

from torch import nn  # noqa: E402

from bench.export import (  # noqa: E402
    IMAGENET_MEAN,
    IMAGENET_STD,
    ExportVerificationError,
    ImageDetector,
    VideoDetector,
    export_image,
    export_video,
    verify,
)

ROOT = Path(__file__).resolve().parent.parent
SIZE = 32
BOUND = 1e-4


class ChannelMean(nn.Module):
    """Identity-ish backbone: logits = per-channel spatial mean of what the wrapper feeds it."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


def tiny_cnn(features: int | None = None) -> nn.Module:
    """A small conv net; with ``features`` it stops at pooled features (a frame backbone)."""
    layers = [
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    ]
    if features is None:
        layers.append(nn.Linear(16, 3))
    else:
        layers.append(nn.Linear(16, features))
    return nn.Sequential(*layers)


def ort_session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def torch_logits(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module.eval()(torch.from_numpy(x)).numpy()


def input_dims(path: Path) -> list:
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


@pytest.fixture(scope="module")
def exported_image(tmp_path_factory):
    torch.manual_seed(0)
    module = ImageDetector(tiny_cnn()).eval()
    path = export_image(module, tmp_path_factory.mktemp("img") / "image.onnx", SIZE, SIZE)
    return module, path


@pytest.fixture(scope="module")
def exported_video(tmp_path_factory):
    torch.manual_seed(1)
    module = VideoDetector(tiny_cnn(features=12), head=nn.Linear(12, 3)).eval()
    path = export_video(module, tmp_path_factory.mktemp("vid") / "video.onnx", SIZE, SIZE, frames=8)
    return module, path


# ------------------------------------------------------------------------------------ image


def test_image_graph_follows_contract(exported_image):
    _, path = exported_image
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert model.ir_version <= 10
    assert [f.name for f in path.parent.iterdir()] == [path.name]  # one file, no external data
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "image" and out.name == "logits"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = input_dims(path)
    assert isinstance(dims[0], str) and dims[0]  # batch symbolic
    assert dims[1:] == [3, SIZE, SIZE]  # channels, H, W fixed
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert out_dims == [dims[0], 3]


def test_image_logits_match_torch_at_batch_1_and_5(exported_image):
    module, path = exported_image
    sess = ort_session(path)
    rng = np.random.default_rng(7)
    for batch in (1, 5):
        x = rng.integers(0, 256, (batch, 3, SIZE, SIZE), dtype=np.uint8)
        got = sess.run(None, {"image": x})[0]
        want = torch_logits(module, x)
        assert got.shape == (batch, 3)
        assert np.abs(got - want).max() <= BOUND

    report = verify(module, path, "image", batch_sizes=(1, 5), check=False)
    assert report.ok and [c.batch for c in report.cases] == [1, 5]
    assert report.max_abs_diff <= BOUND


def test_image_passes_contract_check(exported_image):
    from bench.checks import check_model

    _, path = exported_image
    report = check_model(str(path), modality="image", batch_size=2)
    assert report.ok, [(f.rule, f.verdict, f.message) for f in report.findings if f.verdict == "fail"]


def test_wrapper_divides_by_255_and_normalises(tmp_path):
    module = ImageDetector(ChannelMean()).eval()  # mean/std default: ImageNet
    x = np.zeros((2, 3, 8, 8), dtype=np.uint8)
    x[0] = np.array([0, 128, 255], dtype=np.uint8)[:, None, None]
    x[1] = np.array([255, 51, 7], dtype=np.uint8)[:, None, None]
    mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
    want = (x[:, :, 0, 0] / 255.0 - mean) / std
    np.testing.assert_allclose(torch_logits(module, x), want, atol=1e-5)

    plain = ImageDetector(ChannelMean(), mean=None, std=None).eval()
    np.testing.assert_allclose(torch_logits(plain, x), x[:, :, 0, 0] / 255.0, atol=1e-6)

    path = export_image(module, tmp_path / "means.onnx", 8, 8)  # the graph does the same
    np.testing.assert_allclose(ort_session(path).run(None, {"image": x})[0], want, atol=1e-5)


# ------------------------------------------------------------------------------------ video


def test_video_graph_has_dynamic_batch_and_frames(exported_video):
    _, path = exported_video
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert model.ir_version <= 10
    assert model.graph.input[0].name == "video" and model.graph.output[0].name == "logits"
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = input_dims(path)
    assert isinstance(dims[0], str) and isinstance(dims[1], str) and dims[0] != dims[1]
    assert dims[2:] == [3, SIZE, SIZE]


def test_video_exported_at_8_frames_matches_torch_at_8_and_16(exported_video):
    """The issue's acceptance: same logits as PyTorch at 8 and at 16 frames."""
    module, path = exported_video
    sess = ort_session(path)
    rng = np.random.default_rng(3)
    for batch in (1, 3):
        for frames in (8, 16):
            x = rng.integers(0, 256, (batch, frames, 3, SIZE, SIZE), dtype=np.uint8)
            got = sess.run(None, {"video": x})[0]
            want = torch_logits(module, x)
            assert got.shape == (batch, 3)
            assert np.abs(got - want).max() <= BOUND, (batch, frames)

    report = verify(module, path, "video", batch_sizes=(1, 4), frames=(8, 16), check=False)
    assert report.ok
    assert [(c.batch, c.frames) for c in report.cases] == [(1, 8), (1, 16), (4, 8), (4, 16)]


def test_video_passes_contract_check(exported_video):
    from bench.checks import check_model

    _, path = exported_video
    report = check_model(str(path), modality="video", batch_size=2)
    assert report.ok, [(f.rule, f.verdict, f.message) for f in report.findings if f.verdict == "fail"]


def test_video_wrapper_normalises_and_pools_over_time():
    x = np.zeros((1, 4, 3, 4, 4), dtype=np.uint8)
    for t, v in enumerate((0, 60, 200, 255)):
        x[0, t] = v
    per_frame = (np.array([0, 60, 200, 255])[:, None] / 255.0 - np.array(IMAGENET_MEAN)) / np.array(
        IMAGENET_STD
    )
    mean_pool = VideoDetector(ChannelMean(), pool="mean")
    max_pool = VideoDetector(ChannelMean(), pool="max")
    np.testing.assert_allclose(torch_logits(mean_pool, x)[0], per_frame.mean(0), atol=1e-5)
    np.testing.assert_allclose(torch_logits(max_pool, x)[0], per_frame.max(0), atol=1e-5)


def test_video_max_pool_exports_and_matches(tmp_path):
    torch.manual_seed(2)
    module = VideoDetector(tiny_cnn(features=6), head=nn.Linear(6, 3), pool="max").eval()
    path = export_video(module, tmp_path / "max.onnx", 16, 16, frames=8)
    report = verify(module, path, "video", batch_sizes=(2,), frames=(8, 16), check=False)
    assert report.ok, report.summary()


class FixedT(nn.Module):
    """A video model that only works at T=8: a learned per-frame weight, like position embeddings."""

    def __init__(self):
        super().__init__()
        self.pos = nn.Parameter(torch.linspace(0.5, 1.5, 8).reshape(1, 8, 1))

    def forward(self, video):
        per_frame = video.float().mean(dim=(3, 4)) / 255.0  # (B, T, 3)
        return (per_frame * self.pos).mean(dim=1)


def test_model_tied_to_one_t_is_refused_unless_frames_fixed(tmp_path):
    module = FixedT().eval()
    (tmp_path / "t.onnx").write_bytes(b"an earlier export")
    with pytest.raises(ValueError, match="dynamic_frames=False"):
        export_video(module, tmp_path / "t.onnx", 8, 8, frames=8)
    # a failed export leaves no half-valid file behind and keeps the earlier one
    assert [f.name for f in tmp_path.iterdir()] == ["t.onnx"]
    assert (tmp_path / "t.onnx").read_bytes() == b"an earlier export"

    path = export_video(module, tmp_path / "t.onnx", 8, 8, frames=8, dynamic_frames=False)
    dims = input_dims(path)
    assert isinstance(dims[0], str) and dims[1:] == [8, 3, 8, 8]
    report = verify(module, path, "video", batch_sizes=(1, 3), check=False)
    assert report.ok and {c.frames for c in report.cases} == {8}  # fixed T: compared at T only


# ------------------------------------------------------------------------------------ errors


def test_verify_reports_a_mismatch(exported_image):
    _, path = exported_image
    torch.manual_seed(99)
    other = ImageDetector(tiny_cnn()).eval()  # different weights than the exported ones
    report = verify(other, path, "image", batch_sizes=(2,), check=False, raise_on_failure=False)
    assert not report.ok and not report.cases[0].ok
    assert "MISMATCH" in report.summary()
    with pytest.raises(ExportVerificationError, match="MISMATCH"):
        verify(other, path, "image", batch_sizes=(2,), check=False)


def test_verify_refuses_a_graph_that_breaks_the_contract(tmp_path):
    """The same rules as `bench run`: a float16 input is refused before anything is compared."""
    from tests import models

    path = models.save(models.channel_means(SIZE, SIZE, dtype=onnx.TensorProto.FLOAT16), tmp_path / "f16.onnx")
    with pytest.raises(ExportVerificationError, match="float16"):
        verify(ChannelMean(), path, "image", check=False)


def test_backbone_without_head_must_give_3_logits(tmp_path):
    module = VideoDetector(tiny_cnn(features=8))  # 8 features, no head
    with pytest.raises(ValueError, match="head"):
        export_video(module, tmp_path / "bad.onnx", SIZE, SIZE)
    assert not (tmp_path / "bad.onnx").exists()


def test_torchscript_exporter_also_follows_contract(tmp_path):
    torch.manual_seed(0)
    module = VideoDetector(tiny_cnn(features=6), head=nn.Linear(6, 3)).eval()
    path = export_video(module, tmp_path / "ts.onnx", 16, 16, frames=4, exporter="torchscript", opset=17)
    assert onnx.load(str(path)).ir_version <= 10
    assert input_dims(path)[:2] == ["batch", "frames"]
    assert verify(module, path, "video", batch_sizes=(1,), frames=(4, 16), check=False).ok


def test_bench_imports_without_torch():
    code = "import sys; sys.modules['torch'] = None; import bench, bench.cli, bench.model; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# ------------------------------------------------------------------------------------ examples


def test_example_scripts_write_loadable_models(tmp_path):
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1", PYTHONPATH=str(ROOT))
    image_out, video_out = tmp_path / "out" / "image_detector.onnx", tmp_path / "out" / "video_detector.onnx"
    runs = {  # both at once: each is mostly interpreter and torch start-up
        "image": subprocess.Popen(
            [sys.executable, "examples/export_image_model.py", "--output", str(image_out)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
        "video": subprocess.Popen(
            [sys.executable, "examples/export_video_model.py", "--output", str(video_out)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    }
    outputs = {name: proc.communicate(timeout=180)[0] for name, proc in runs.items()}
    for name, proc in runs.items():
        assert proc.returncode == 0, outputs[name]
        assert "verdict: OK" in outputs[name] and "bench package" in outputs[name], outputs[name]

    sess = ort_session(image_out)
    assert sess.get_inputs()[0].shape[1:] == [3, 224, 224]
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 224, 224), dtype=np.uint8)
    assert sess.run(None, {"image": x})[0].shape == (2, 3)

    sess = ort_session(video_out)
    h, w = sess.get_inputs()[0].shape[-2:]
    for frames in (8, 16):
        x = np.random.default_rng(0).integers(0, 256, (1, frames, 3, h, w), dtype=np.uint8)
        assert sess.run(None, {"video": x})[0].shape == (1, 3)
