"""Hostile and unusual media: size bombs refused from their headers, clips decoded in bounded
memory, variable frame rates, long GOPs, rotated and one-frame clips, and a robustness pass that
never changes the base pass. Every file is generated here; nothing is shipped."""

from __future__ import annotations

import fractions
import io
import json
import resource
import shutil
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest
import simplejpeg
from PIL import Image

from bench.cli import main
from bench.data.decode import DataError, decode_image, image_size
from bench.data.refs import SampleRef
from bench.data.video import FrameRule, decode_clip
from bench.modalities.image import ImageView
from bench.preprocess import Views
from bench.transforms import Augmenter
from tests import models
from tests.test_run import make_project, random_images
from tests.test_video import coded_frame, numbers, video_project, write_clip

W, H = 53, 37
PICTURE = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
ROOT = Path(__file__).resolve().parent.parent


def pil(fmt: str, mode: str = "RGB", **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(PICTURE).convert(mode).save(buf, fmt, **kwargs)
    return buf.getvalue()


def cv(ext: str, image: np.ndarray = PICTURE) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        pytest.skip(f"this OpenCV cannot encode {ext}")
    return buf.tobytes()


def big_endian_tiff() -> bytes:
    """An uncompressed 8-bit grey TIFF in Motorola byte order (Pillow writes Intel order)."""
    pixels = PICTURE[..., 0].tobytes()
    tags = [(256, 3, W), (257, 3, H), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 0), (277, 3, 1), (278, 3, H), (279, 4, len(pixels))]
    start = 8 + 2 + 12 * len(tags) + 4
    ifd = struct.pack(">H", len(tags))
    for tag, kind, value in tags:
        value = start if tag == 273 else value
        ifd += struct.pack(">HHI", tag, kind, 1) + (struct.pack(">HH", value, 0) if kind == 3 else struct.pack(">I", value))
    return b"MM\x00*" + struct.pack(">I", 8) + ifd + b"\x00\x00\x00\x00" + pixels


def webp_extended() -> bytes:
    rgba = np.dstack([PICTURE, np.full((H, W), 128, np.uint8)])  # translucent: VP8X with ALPH
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "WEBP", quality=80)
    assert buf.getvalue()[12:16] == b"VP8X"
    return buf.getvalue()


def jpeg2000(codestream: bool) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(PICTURE).save(buf, "JPEG2000", no_jp2=codestream)
    return buf.getvalue()


FORMATS = {
    "jpeg": lambda: pil("JPEG"),
    "jpeg-progressive": lambda: pil("JPEG", progressive=True),
    "jpeg-grey": lambda: pil("JPEG", "L"),
    "png": lambda: pil("PNG"),
    "png-1bit": lambda: pil("PNG", "1"),
    "gif": lambda: pil("GIF"),
    "bmp": lambda: pil("BMP"),
    "webp-lossy": lambda: pil("WEBP", quality=80),
    "webp-lossless": lambda: pil("WEBP", lossless=True),
    "webp-extended": webp_extended,
    "tiff": lambda: pil("TIFF"),
    "tiff-big-endian": big_endian_tiff,
    "bigtiff": lambda: pil("TIFF", big_tiff=True),
    "ppm": lambda: pil("PPM"),
    "pgm": lambda: cv(".pgm", PICTURE[..., 0]),
    "pbm": lambda: pil("PPM", "1"),
    "pbm-ascii-comment": lambda: b"P1\n# a comment\n53 37\n" + b"0 1 " * (W * H // 2) + b"0\n",
    "pam": lambda: cv(".pam"),
    "pfm": lambda: cv(".pfm", PICTURE.astype(np.float32) / 255),
    "sun-raster": lambda: cv(".ras"),
    "radiance-hdr": lambda: cv(".hdr", PICTURE.astype(np.float32) / 255),
    "jp2": lambda: jpeg2000(False),
    "j2k-codestream": lambda: jpeg2000(True),
    "avif": lambda: cv(".avif"),
}


@pytest.fixture
def no_decoding(monkeypatch):
    """Both decoders fail the test if called: a refusal must come from the header alone."""

    def boom(*args, **kwargs):
        raise AssertionError("decoded although the header already refused it")

    monkeypatch.setattr(cv2, "imdecode", boom)
    monkeypatch.setattr(simplejpeg, "decode_jpeg", boom)


# ------------------------------------------------------------------ 1. bounds before decoding


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_still_format_has_its_size_read_from_the_header(fmt):
    data = FORMATS[fmt]()
    assert image_size(data) == (W, H)
    assert decode_image(data, max_pixels=W * H).shape == (H, W, 3)  # at the bound: decoded


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_still_format_is_refused_above_max_pixels_before_decoding(fmt, no_decoding):
    data = FORMATS[fmt]()
    with pytest.raises(DataError) as info:
        decode_image(data, max_pixels=W * H - 1)
    assert info.value.stage == "decode"
    assert info.value.reason == f"image 53x37 = 1.96e3 pixels exceeds max_pixels {W * H - 1} (set preprocessing.max_pixels to allow it)"


def jpeg_claiming(width: int, height: int, progressive: bool) -> bytes:
    """A real tiny JPEG whose SOF0 (baseline) or SOF2 (progressive) header claims another size."""
    buf = io.BytesIO()
    Image.fromarray(PICTURE[:8, :8]).save(buf, "JPEG", quality=90, progressive=progressive)
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc2" if progressive else b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def refused_quickly(data: bytes) -> DataError:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        decode_image(data)
    assert time.perf_counter() - start < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 100_000  # KiB: nothing allocated for the claimed size
    assert info.value.stage == "decode"
    return info.value


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_claiming_65500_square_is_refused_without_allocating(progressive):
    data = jpeg_claiming(65500, 65500, progressive)
    assert len(data) < 1000
    err = refused_quickly(data)
    assert err.reason == "image 65500x65500 = 4.29e9 pixels exceeds max_pixels 178956970 (set preprocessing.max_pixels to allow it)"


def test_real_one_bit_png_of_30000_square_is_refused(monkeypatch):
    w = h = 30000
    z = zlib.compressobj(9)
    row = bytes(1 + (w + 7) // 8)  # filter byte, then black pixels
    idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    assert len(data) < 200_000
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert Image.open(io.BytesIO(data)).size == (w, h)  # a real, valid PNG
    assert "30000x30000 = 9.00e8 pixels exceeds max_pixels 178956970" in refused_quickly(data).reason


def test_gif_frame_larger_than_its_screen_counts():
    data = bytearray(pil("GIF"))
    data[6:10] = struct.pack("<HH", 1, 1)  # the logical screen claims 1x1; the frame is 53x37
    assert image_size(bytes(data)) == (W, H)


def test_max_pixels_from_the_config_reaches_image_rows(tmp_path, mean_model):
    images = {"small.png": PICTURE[:20, :20], "large.png": np.zeros((40, 40, 3), np.uint8)}
    cfg = make_project(tmp_path, {"d": ("real", images)}, mean_model, max_pixels=1000, cache=False)
    assert main(["run", str(cfg), "--output", str(tmp_path / "out")]) == 0
    rec = pd.read_parquet(tmp_path / "out" / "records.parquet").set_index("sample_id")
    assert rec.loc["small.png", "status"] == "ok"
    assert rec.loc["large.png", "status"] == "data_error" and rec.loc["large.png", "error_stage"] == "decode"
    assert "40x40 = 1.60e3 pixels exceeds max_pixels 1000" in rec.loc["large.png", "error"]


def test_video_frames_are_bounded_from_the_stream_header(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", 6)  # 64x48 = 3072 pixels
    assert decode_clip(str(clip), FrameRule("first", 2), max_pixels=3072).frames.shape == (2, 48, 64, 3)
    with pytest.raises(DataError) as info:
        decode_clip(str(clip), FrameRule("first", 2), max_pixels=3071)
    assert info.value.stage == "decode" and "video frame 64x48 = 3.07e3 pixels exceeds max_pixels 3071" in info.value.reason
    model = models.save(models.frame_probe(0, 24, 24), tmp_path / "p.onnx")
    cfg = video_project(tmp_path, {"c": ("real", {"a.mp4": clip})}, model, frames=2, max_pixels=3000, cache=False)
    assert main(["run", str(cfg), "--output", str(tmp_path / "out")]) == 0
    rec = pd.read_parquet(tmp_path / "out" / "records.parquet")
    assert rec["status"][0] == "data_error" and "max_pixels 3000" in rec["error"][0]


# ------------------------------------------------------------------ 2. uniform in bounded memory

UNIFORM_PEAK = """
import sys
from bench.data.video import FrameRule, decode_clip

def peak_kib():  # this process's own peak (ru_maxrss would include the parent's, inherited across exec)
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])

decode_clip(sys.argv[1], FrameRule("first", 1))  # warm: imports, codec initialisation
before = peak_kib()
clip = decode_clip(sys.argv[1], FrameRule("uniform", 8))
print(clip.indices, peak_kib() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from Linux's /proc")
def test_uniform_on_a_clip_of_unknown_length_keeps_only_t_frames(tmp_path):
    path = tmp_path / "raw.h264"
    n, h, w = 1000, 240, 320  # every frame converted: 230 MB
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(coded_frame(i, h, w), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:  # the container does not know the clip's length
        s = container.streams.video[0]
        assert not s.frames and not s.duration and not container.duration
    out = subprocess.run([sys.executable, "-c", UNIFORM_PEAK, str(path)], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    indices, grown_kib = out.rsplit(" ", 1)
    assert json.loads(indices) == [0, 143, 285, 428, 571, 714, 856, 999]
    assert int(grown_kib) < 80_000, f"peak memory grew {int(grown_kib) // 1024} MB decoding 8 frames"
    clip = decode_clip(str(path), FrameRule("uniform", 8))
    assert numbers(clip) == [i % 150 for i in clip.indices] and clip.total == n  # frame numbers repeat every 150


def test_long_gop_clip_seeks_without_looping(tmp_path):
    """x264's default keyframe interval is 250 frames: a seek towards a frame 100 in lands on
    frame 0 again; the decoder must go on from there, not seek back for ever."""
    path = write_clip(tmp_path / "gop250.mp4", 300, gop=250)
    with av.open(str(path)) as container:
        every = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    results = {}

    def run():
        results["uniform"] = decode_clip(str(path), FrameRule("uniform", 4))
        results["fps"] = decode_clip(str(path), FrameRule("fps", 3, target_fps=0.25))  # step 100

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "decoding a long-GOP clip did not finish"
    assert results["uniform"].indices == [0, 100, 199, 299] and results["fps"].indices == [0, 100, 200]
    for clip in results.values():
        for i, frame in zip(clip.indices, clip.frames):
            np.testing.assert_array_equal(frame, every[i])


# ------------------------------------------------------------------ 3. variable frame rate

VFR_MS = [0, 40, 50, 60, 200, 210, 400, 440, 480, 900, 910, 920, 1500, 1540, 1580, 1620, 1660, 1700, 1800, 1900]


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    ms = fractions.Fraction(1, 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = ms
        for i, pts in enumerate(VFR_MS):
            frame = av.VideoFrame.from_ndarray(coded_frame(i), format="rgb24")
            frame.pts, frame.time_base = pts, ms
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:
        assert [f.pts for f in container.decode(video=0)] == [16 * t for t in VFR_MS]  # irregular, as written
    return path


@pytest.mark.parametrize("rule,expected", [("first", list(range(8))), ("uniform", [0, 3, 5, 8, 11, 14, 16, 19]), ("fps", [0, 2, 4, 6, 8, 10, 12, 14])])
def test_variable_frame_rate_records_the_frames_really_fed(vfr_clip, rule, expected):
    clip = decode_clip(str(vfr_clip), FrameRule(rule, 8, target_fps=5.5))
    assert clip.indices == expected
    assert numbers(clip) == expected  # the frames fed are the frames recorded


# ------------------------------------------------------------------ 4. display-matrix rotation


def quadrant_frame(i: int) -> np.ndarray:
    img = np.zeros((48, 64, 3), np.uint8)
    img[:24, :32] = (250, 20, 20)  # red top-left
    img[:24, 32:] = (20, 250, 20)  # green top-right
    img[24:, :32] = (20, 20, 250)  # blue bottom-left
    img[24:, 32:] = (250, 250, 250)
    return img


def rotated_clip(path: Path, degrees: int) -> Path:
    """A clip whose display matrix rotates it ``degrees`` counter-clockwise (PyAV, else the ffmpeg CLI)."""
    if hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            stream.set_display_rotation(degrees)
            for i in range(4):
                for packet in stream.encode(av.VideoFrame.from_ndarray(quadrant_frame(i), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    elif shutil.which("ffmpeg"):
        plain = write_clip(path.with_suffix(".plain.mp4"), 4, frame=quadrant_frame)
        subprocess.run(["ffmpeg", "-y", "-v", "error", "-display_rotation", str(degrees), "-i", str(plain), "-c", "copy", str(path)], check=True)
    else:
        pytest.skip("neither this PyAV nor an ffmpeg CLI can write a display matrix")
    return path


def quadrant_colours(frame: np.ndarray) -> list[int]:
    """Which channel dominates each corner (top-left, top-right, bottom-left, bottom-right); 3: white."""
    h, w = frame.shape[:2]
    corners = [frame[: h // 4, : w // 4], frame[: h // 4, -w // 4 :], frame[-h // 4 :, : w // 4], frame[-h // 4 :, -w // 4 :]]
    return [3 if c.mean() > 200 else int(c.reshape(-1, 3).mean(0).argmax()) for c in corners]


@pytest.mark.parametrize("degrees,turns,orientation", [(90, 1, 8), (-90, -1, 6), (180, 2, 3)])
def test_display_matrix_rotation_is_applied_and_recorded(tmp_path, degrees, turns, orientation):
    path = rotated_clip(tmp_path / "rot.mp4", degrees)
    clip = decode_clip(str(path), FrameRule("first", 3))
    upright = np.rot90(quadrant_frame(0), turns)
    assert clip.frames.shape == (3, *upright.shape)
    assert quadrant_colours(clip.frames[0]) == quadrant_colours(upright)
    assert clip.orientation == orientation


# ------------------------------------------------------------------ 5. one-frame clips


@pytest.mark.parametrize("source", ["path", "bytes"])
def test_one_frame_mjpeg_clip_is_a_clip(tmp_path, source):
    path = tmp_path / "one.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for packet in stream.encode(av.VideoFrame.from_ndarray(coded_frame(5), format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    for rule in ("first", "uniform"):
        clip = decode_clip(str(path) if source == "path" else path.read_bytes(), FrameRule(rule, 4))
        assert clip.indices == [0, 0, 0, 0] and clip.frames.shape == (4, 48, 64, 3)  # the short-clip rule
        assert numbers(clip) == [5] * 4


# ------------------------------------------------------------------ 6. --robustness never changes the base pass

TOO_WIDE_FOR_WEBP = np.full((1, 16400, 3), 120, np.uint8)  # decodes and fits; the chain's WebP step cannot hold it


def test_robust_chain_failure_is_the_robust_views_only():
    base = ImageView(16, 16, "crop-resize", "linear", 0, Augmenter(0))
    robust = ImageView(16, 16, "crop-resize", "linear", 0, Augmenter(0), robust=True)
    ok, png = cv2.imencode(".png", TOO_WIDE_FOR_WEBP)
    slots = [np.full((3, 16, 16), 7, np.uint8), np.full((3, 16, 16), 7, np.uint8)]
    outcome = Views([base, robust])(SampleRef("d", "real", 0, "wide.png", data=png.tobytes()), slots)
    assert outcome.ok and outcome.error is None and outcome.error_for(0) is None
    stage, reason = outcome.error_for(1)
    assert stage == "robustness" and "16400x1" in reason and "WebP" in reason
    assert (slots[0] == 120).all() and not slots[1].any()


def test_base_rows_are_the_same_with_and_without_robustness(tmp_path, mean_model):
    images = random_images(5, 3) | {"wide.png": TOO_WIDE_FOR_WEBP}
    cfg = make_project(tmp_path, {"d": ("real", images)}, mean_model, cache=False)
    assert main(["run", str(cfg), "--output", str(tmp_path / "plain")]) == 0
    assert main(["run", str(cfg), "--robustness", "--output", str(tmp_path / "robust")]) == 0
    plain = pd.read_parquet(tmp_path / "plain" / "records.parquet")
    robust = pd.read_parquet(tmp_path / "robust" / "records.parquet")
    base = robust[robust["pass"] == "base"].reset_index(drop=True)
    columns = ["sample_id", "status", "error", "error_stage", "p_ai", "pred"]
    pd.testing.assert_frame_equal(plain[columns], base[columns])
    assert (base["status"] == "ok").all()
    np.testing.assert_array_equal(np.stack(plain["logits"]), np.stack(base["logits"]))
    n = [json.loads((tmp_path / name / "results.json").read_text())["metrics"]["overall"]["n"] for name in ("plain", "robust")]
    assert n[0] == n[1] == 6
    failed = robust[robust["pass"] == "robust"].set_index("sample_id").loc["wide.png"]
    assert failed["status"] == "data_error" and failed["error_stage"] == "robustness"  # recorded on the robust row only


@pytest.mark.parametrize("case", [760, 86, 540, 694])  # found by benchmarks/fuzz_decoders.py
def test_fuzzed_inputs_that_used_to_crash_a_run_are_handled(case):
    import importlib.util

    spec = importlib.util.spec_from_file_location("fuzz_decoders", Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz_decoders.py")
    fuzz = sys.modules.setdefault("fuzz_decoders", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(fuzz)
    verdict, detail = fuzz.decode_in_child(fuzz.make_case(case, fuzz.load_seeds()))
    assert verdict == "handled", detail
