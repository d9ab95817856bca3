"""Video: frame sampling, clip decoding errors, and probes through the whole pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from bench.cli import main
from bench.data.decode import DataError
from bench.data.refs import SampleRef
from bench.data.video import FrameRule, decode_clip
from bench.modalities.video import VideoView
from bench.preprocess import Views
from bench.transforms import Augmenter
from tests import models

H, W = 48, 64


def coded_frame(i: int, h: int = H, w: int = W) -> np.ndarray:
    """Frame ``i``: solid R = 4 + 8*(i % 30), G = 240 - 8*(i % 30), B = 60 + 40*((i // 30) % 5): distinct for i < 150."""
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = 4 + 8 * (i % 30)
    img[..., 1] = 240 - 8 * (i % 30)
    img[..., 2] = 60 + 40 * ((i // 30) % 5)
    return img


def frame_number(rgb_mean) -> int:
    r, _, b = rgb_mean
    return int(round((r - 4) / 8)) + 30 * int(round((b - 60) / 40))


def write_clip(path: Path, n: int, fps: int = 25, codec: str = "libx264", frame=coded_frame, gop: int | None = None) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if gop:
            stream.options = {"g": str(gop)}
        for i in range(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame(i), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def numbers(clip) -> list[int]:
    return [frame_number(f.reshape(-1, 3).mean(0)) for f in clip.frames]


@pytest.fixture(scope="module")
def clip60(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("v") / "c60.mp4", 60)


# ---------------------------------------------------------------- sampling rules


def test_first_frames_in_order_rgb(clip60):
    clip = decode_clip(str(clip60), FrameRule("first", 16))
    assert clip.frames.shape == (16, H, W, 3) and clip.frames.dtype == np.uint8
    assert clip.indices == list(range(16)) and numbers(clip) == list(range(16))
    r, g, b = clip.frames[3].reshape(-1, 3).mean(0)
    assert abs(r - 28) < 3 and abs(g - 216) < 3 and abs(b - 60) < 3  # RGB, not BGR
    assert clip.total == 60 and clip.fps == 25


def test_target_fps_rule(clip60):
    clip = decode_clip(str(clip60), FrameRule("fps", 6, target_fps=5))  # 25 fps -> every 5th
    assert clip.indices == [0, 5, 10, 15, 20, 25] and numbers(clip) == clip.indices


def test_uniform_rule(clip60):
    clip = decode_clip(str(clip60), FrameRule("uniform", 5))
    assert clip.indices == [0, 15, 30, 44, 59] and numbers(clip) == clip.indices


def test_short_clip_repeats_the_last_frame(tmp_path):
    path = write_clip(tmp_path / "short.mp4", 5)
    clip = decode_clip(str(path), FrameRule("first", 8))
    assert clip.indices == [0, 1, 2, 3, 4, 4, 4, 4] and numbers(clip) == clip.indices
    clip = decode_clip(str(path), FrameRule("fps", 4, target_fps=12.5))  # step 2: 0 2 4 then 4
    assert clip.indices == [0, 2, 4, 4]


def test_bytes_and_path_decode_alike(clip60):
    a = decode_clip(str(clip60), FrameRule("uniform", 7))
    b = decode_clip(clip60.read_bytes(), FrameRule("uniform", 7))
    assert a.indices == b.indices and np.array_equal(a.frames, b.frames)


def test_long_clip_seeks_to_the_same_frames_as_a_full_decode(tmp_path):
    path = write_clip(tmp_path / "long.mp4", 450, gop=25)
    with av.open(str(path)) as container:
        every = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    clip = decode_clip(str(path), FrameRule("uniform", 6))
    assert clip.indices == [0, 90, 180, 269, 359, 449]
    for i, frame in zip(clip.indices, clip.frames):
        np.testing.assert_array_equal(frame, every[i])  # the seek landed exactly
    clip = decode_clip(str(path), FrameRule("fps", 4, target_fps=0.25))  # step 100
    assert clip.indices == [0, 100, 200, 300]
    for i, frame in zip(clip.indices, clip.frames):
        np.testing.assert_array_equal(frame, every[i])


@pytest.mark.parametrize("ext,codec", [("avi", "mpeg4"), ("mkv", "libx264"), ("webm", "libvpx-vp9"), ("mov", "libx264")])
def test_other_containers(tmp_path, ext, codec):
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    path = write_clip(tmp_path / f"c.{ext}", 12, codec=codec)
    clip = decode_clip(str(path), FrameRule("first", 4))
    assert numbers(clip) == [0, 1, 2, 3]


# ---------------------------------------------------------------- errors


def assert_clip_error(source, *words) -> DataError:
    with pytest.raises(DataError) as info:
        decode_clip(source, FrameRule("first", 4))
    for w in words:
        assert w in info.value.reason.lower(), info.value.reason
    assert info.value.stage == "decode"
    return info.value


def test_truncated_clip(clip60):
    data = clip60.read_bytes()
    assert_clip_error(data[: len(data) // 2])


def test_corrupt_bytes_and_empty_file():
    assert_clip_error(np.random.default_rng(0).bytes(5000), "not a readable video")
    assert_clip_error(b"", "empty")


def test_still_image_in_a_video_dataset(tmp_path):
    ok, jpg = cv2.imencode(".jpg", coded_frame(0))
    assert_clip_error(jpg.tobytes(), "still image")
    ok, png = cv2.imencode(".png", coded_frame(0))
    assert_clip_error(png.tobytes(), "still image")


def test_unsupported_codec(tmp_path):
    path = write_clip(tmp_path / "c.avi", 6, codec="mpeg4")
    data = path.read_bytes().replace(b"FMP4", b"QQQQ").replace(b"fmp4", b"qqqq")
    assert b"QQQQ" in data
    err = assert_clip_error(data)
    assert "codec" in err.reason.lower() or "no decodable frames" in err.reason.lower()


def test_zero_decodable_frames(tmp_path):
    path = write_clip(tmp_path / "c.mp4", 20)
    data = bytearray(path.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 4 :] = bytes(len(data) - mdat - 4)  # keep the header, zero every frame's data
    with pytest.raises(DataError) as info:
        decode_clip(bytes(data), FrameRule("first", 4))
    assert info.value.stage == "decode"


# ---------------------------------------------------------------- preprocessor


def test_one_augmentation_for_all_frames_of_a_clip():
    frames = np.repeat(coded_frame(3)[None], 6, axis=0)
    frames[:, :, : W // 2] //= 2  # an asymmetric picture, so flips show
    prep = VideoView(32, 32, "crop-resize", "linear", 5, Augmenter(3), frame_rule=FrameRule("first", 6))
    for seed in range(12):
        out = prep.finish(prep.geometry(frames), seed)
        assert out.shape == (6, 3, 32, 32)
        for t in range(1, 6):
            np.testing.assert_array_equal(out[0], out[t])


# ---------------------------------------------------------------- through the whole pipeline


def video_project(tmp_path: Path, clips: dict[str, tuple[str, dict[str, Path]]], model: Path, **config) -> Path:
    reg = tmp_path / "registry"
    reg.mkdir(exist_ok=True)
    entries = []
    for name, (media_type, files) in clips.items():
        folder = tmp_path / "media" / name
        folder.mkdir(parents=True, exist_ok=True)
        for fname, src in files.items():
            (folder / fname).write_bytes(src.read_bytes() if isinstance(src, Path) else src)
        entries.append({"name": name, "modality": "video", "media_type": media_type, "source": {"type": "folder", "path": str(folder)}})
    (reg / "v.yaml").write_text(yaml.safe_dump({"datasets": entries}))
    cfg = {"model": str(model), "datasets": list(clips), "dataset_dirs": [str(reg)], "progress": False, "bootstrap": 50} | config
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(
    "rule,extra,expected",
    [
        ("first", {}, [0, 1, 2, 3, 4, 5]),
        ("fps", {"target_fps": 5}, [0, 5, 10, 15, 20, 25]),
        ("uniform", {}, [0, 12, 24, 35, 47, 59]),
    ],
)
def test_probe_sees_frames_in_order_rgb_by_rule(tmp_path, clip60, rule, extra, expected):
    """One probe model per frame position: the per-frame RGB means coming out of the model name
    the frame numbers the rule must pick, in order."""
    seen = []
    for k in range(6):
        model = models.save(models.frame_probe(k, 24, 24), tmp_path / f"probe{k}.onnx")
        cfg = video_project(tmp_path, {"clips": ("real", {"a.mp4": clip60, "b.mp4": clip60})}, model, frames=6, frame_rule=rule, batch_size=3, **extra)
        out = tmp_path / f"out{k}"
        assert main(["run", str(cfg), "--output", str(out)]) == 0
        rec = pd.read_parquet(out / "records.parquet")
        assert (rec["status"] == "ok").all() and len(rec) == 2
        seen.append(frame_number(rec["logits"][0]))
        r, g, b = rec["logits"][0]
        assert r < g or frame_number((r, g, b)) > 14  # G high early on: channel order is RGB
    assert seen == expected
    assert list(rec["frames"][0]) == expected  # the records say which frames were used
    doc = json.loads((out / "results.json").read_text())
    assert doc["preprocessing"]["frame_rule"] == rule and doc["preprocessing"]["frames"] == 6


def test_augmentation_is_identical_across_frames_through_the_pipeline(tmp_path):
    still = write_clip(tmp_path / "still.mp4", 10, frame=lambda i: coded_frame(7))
    model = models.save(models.frame_spread(24, 24), tmp_path / "spread.onnx")
    cfg = video_project(tmp_path, {"c": ("synthetic", {f"{i}.mp4": still for i in range(5)})}, model, frames=8, augment_level=3, batch_size=2)
    assert main(["run", str(cfg), "--output", str(tmp_path / "out")]) == 0
    rec = pd.read_parquet(tmp_path / "out" / "records.parquet")
    logits = np.stack(rec["logits"])
    assert len(rec) == 5 and (rec["status"] == "ok").all()
    assert logits[:, 0].max() <= 2  # frames of a clip stay alike after augmentation (codec noise only)
    assert logits[:, 2].tolist() == [8.0] * 5  # (B, T=8, 3, H, W) batches
    assert len(set(np.round(logits[:, 1], 3))) > 1  # yet clips were augmented differently


def test_fixed_frames_in_the_model_win_over_the_config(tmp_path, clip60):
    model = models.save(models.frame_spread(24, 24, frames=4), tmp_path / "t4.onnx")
    cfg = video_project(tmp_path, {"c": ("real", {"a.mp4": clip60})}, model, frames=12)
    assert main(["run", str(cfg), "--output", str(tmp_path / "out")]) == 0
    rec = pd.read_parquet(tmp_path / "out" / "records.parquet")
    assert rec["logits"][0][2] == 4.0 and list(rec["frames"][0]) == [0, 1, 2, 3]


def test_bad_clips_are_data_error_rows(tmp_path, clip60):
    ok, jpg = cv2.imencode(".jpg", coded_frame(0))
    data = clip60.read_bytes()
    files = {"good.mp4": clip60, "half.mp4": data[: len(data) // 3], "noise.mp4": np.random.default_rng(1).bytes(3000), "photo.mp4": jpg.tobytes()}
    model = models.save(models.frame_probe(0, 24, 24), tmp_path / "p.onnx")
    cfg = video_project(tmp_path, {"c": ("real", files)}, model, frames=4)
    assert main(["run", str(cfg), "--output", str(tmp_path / "out")]) == 0
    rec = pd.read_parquet(tmp_path / "out" / "records.parquet").set_index("sample_id")
    assert rec.loc["good.mp4", "status"] == "ok"
    for name in ("half.mp4", "noise.mp4", "photo.mp4"):
        assert rec.loc[name, "status"] == "data_error" and rec.loc[name, "error"], name
    assert "still image" in rec.loc["photo.mp4", "error"]
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["metrics"]["overall"]["data_errors"] == 3


def test_image_model_refuses_video_dataset(tmp_path, clip60, mean_model, capsys):
    cfg = video_project(tmp_path, {"c": ("real", {"a.mp4": clip60})}, mean_model)
    assert main(["run", str(cfg)]) == 2
    assert "is video, but the model takes image" in capsys.readouterr().err


def test_missing_clip_file_is_a_read_error(tmp_path):
    views = Views([VideoView(16, 16, "crop-resize", "linear", 0, Augmenter(0), frame_rule=FrameRule("first", 4))])
    slot = np.ones((4, 3, 16, 16), np.uint8)
    outcome = views(SampleRef("d", "real", 0, "x.mp4", path=str(tmp_path / "x.mp4")), [slot])
    assert outcome.error_stage == "read" and not slot.any()
