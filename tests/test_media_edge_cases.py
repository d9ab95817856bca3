"""Awkward media (SPEC sections 2 and 6): every case is either decoded right -- pixel values,
shape and orientation checked -- or a ``DataError`` naming the stage and a sensible reason.

Every file is generated here with OpenCV, PIL or numpy; nothing is shipped.
"""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image, ImageOps

from bench.cli import main
from bench.data.decode import DataError, decode_image, read_bytes
from bench.data.refs import SampleRef
from bench.modalities.image import ImageView
from bench.preprocess import Views
from bench.transforms import Augmenter
from tests import models

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


# --------------------------------------------------------------------------- helpers


def pil_bytes(image: Image.Image | np.ndarray, fmt: str, **kwargs) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def cv_bytes(array: np.ndarray, ext: str, params: tuple = ()) -> bytes:
    ok, buf = cv2.imencode(ext, array, list(params))
    assert ok
    return buf.tobytes()


def solid(h: int, w: int, rgb) -> np.ndarray:
    out = np.empty((h, w, 3), np.uint8)
    out[...] = rgb
    return out


def quadrants(h: int = 40, w: int = 60) -> np.ndarray:
    """Asymmetric picture: red top-left, green top-right, blue bottom-left, white bottom-right."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = RED
    img[: h // 2, w // 2 :] = GREEN
    img[h // 2 :, : w // 2] = BLUE
    img[h // 2 :, w // 2 :] = (255, 255, 255)
    return img


def gradient(h: int = 96, w: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), (xx + yy) * 255 // (h + w - 2)], -1).astype(np.uint8)


def prep(height: int = 32, width: int = 32, geometry: str = "crop-resize"):
    """The per-sample path of a run with one view: ``prep(...)(ref, slot) -> Outcome``."""
    views = Views([ImageView(height, width, geometry, "linear", 0, Augmenter(0))])
    return lambda ref, slot: views(ref, [slot])


def ref_for(data: bytes | None = None, path: str | None = None, sample_id: str = "s") -> SampleRef:
    return SampleRef("edge", "real", 0, sample_id, path=path, data=data)


def prepared(data: bytes, height: int = 32, width: int = 32, geometry: str = "crop-resize") -> np.ndarray:
    """Run the whole per-sample path (decode -> geometry -> CHW) and return the HWC result."""
    slot = np.full((3, height, width), 7, np.uint8)
    outcome = prep(height, width, geometry)(ref_for(data), slot)
    assert outcome.ok, (outcome.error_stage, outcome.error)
    return slot.transpose(1, 2, 0)


def assert_decode_error(data: bytes, *words: str) -> DataError:
    with pytest.raises(DataError) as info:
        decode_image(data)
    err = info.value
    assert err.stage == "decode"
    assert err.reason and "\n" not in err.reason
    for word in words:
        assert word.lower() in err.reason.lower(), err.reason
    return err


# --------------------------------------------------------------------------- colour layout


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_grey_becomes_three_equal_channels(fmt):
    grey = np.array([[0, 100, 200], [255, 50, 150]], np.uint8)
    kwargs = {"quality": 100} if fmt == "JPEG" else {}
    out = decode_image(pil_bytes(Image.fromarray(grey, "L"), fmt, **kwargs))
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    tol = 0 if fmt == "PNG" else 2
    assert np.abs(out[..., 0].astype(int) - grey).max() <= tol


def test_grey_with_alpha_png():
    la = Image.fromarray(np.full((3, 4), 77, np.uint8), "L").convert("LA")
    out = decode_image(pil_bytes(la, "PNG"))
    assert out.shape == (3, 4, 3)
    assert (out == 77).all()


@pytest.mark.parametrize("colour", [RED, GREEN, BLUE, (12, 34, 56)])
def test_rgba_png_drops_alpha_keeps_colour_in_rgb_order(colour):
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = 0  # fully transparent: the colour must survive, not turn black or white
    rgba[0, 0, 3] = 255
    out = decode_image(pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out.shape == (5, 6, 3)
    assert (out == np.array(colour, np.uint8)).all()


def test_pure_red_png_is_rgb_not_bgr():
    out = decode_image(pil_bytes(solid(4, 4, RED), "PNG"))
    assert out[0, 0].tolist() == [255, 0, 0]


def test_16bit_grey_png_scaled_to_8bit():
    grey16 = np.array([[65535, 32768, 0, 257, 65280]], np.uint16)
    out = decode_image(cv_bytes(grey16, ".png"))
    assert out.dtype == np.uint8 and out.shape == (1, 5, 3)
    assert out[0, :, 0].tolist() == [255, 128, 0, 1, 255]
    assert (out[..., 0] == out[..., 2]).all()


def test_16bit_colour_png_scaled_to_8bit_in_rgb_order():
    bgr16 = np.zeros((2, 2, 3), np.uint16)
    bgr16[0, 0] = (0, 0, 65535)  # red in BGR
    bgr16[0, 1] = (32768, 0, 0)  # half blue
    bgr16[1, :] = (0, 65535, 0)
    out = decode_image(cv_bytes(bgr16, ".png"))
    assert out.dtype == np.uint8
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 1].tolist() == [0, 0, 128]
    assert out[1, 1].tolist() == [0, 255, 0]


def test_16bit_rgba_png_drops_alpha():
    bgra16 = np.zeros((2, 3, 4), np.uint16)
    bgra16[..., 2] = 65535
    out = decode_image(cv_bytes(bgra16, ".png"))
    assert out.shape == (2, 3, 3) and (out == np.array(RED, np.uint8)).all()


def test_cmyk_jpeg_converted_to_rgb():
    colour = (200, 40, 10)
    cmyk = Image.fromarray(solid(8, 8, colour)).convert("CMYK")
    out = decode_image(pil_bytes(cmyk, "JPEG", quality=100))
    assert out.shape == (8, 8, 3)
    assert np.abs(out.astype(int) - colour).max() <= 3


# --------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("fmt,kwargs", [("JPEG", {"quality": 95}), ("PNG", {}), ("WEBP", {"lossless": True})])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_applied(orientation, fmt, kwargs):
    picture = quadrants(40, 60)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = pil_bytes(picture, fmt, exif=exif.tobytes(), **kwargs)
    stored = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert stored.shape == (40, 60, 3)  # the pixels are stored unrotated

    out = decode_image(data)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    expected_shape = (40, 60, 3) if orientation == 3 else (60, 40, 3)
    assert out.shape == upright.shape == expected_shape
    assert np.abs(out.astype(int) - upright.astype(int)).mean() < 2

    # and independently of PIL: where the red quadrant (stored top-left) ends up
    corner = {3: (-1, -1), 6: (0, -1), 8: (-1, 0)}[orientation]  # 6: 90 clockwise, 8: 90 counter-clockwise
    pixel = out[5 if corner[0] == 0 else -5, 5 if corner[1] == 0 else -5]
    assert np.abs(pixel.astype(int) - RED).max() < 30, (orientation, pixel)


def test_no_exif_stays_as_stored():
    picture = quadrants(40, 60)
    out = decode_image(pil_bytes(picture, "JPEG", quality=95))
    assert out.shape == (40, 60, 3)
    assert np.abs(out[5, 5].astype(int) - RED).max() < 30


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("geometry", ["crop-resize", "resize-crop"])
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (3, 2)])
def test_tiny_images_fill_the_target(shape, geometry):
    colour = (10, 200, 90)
    data = pil_bytes(solid(*shape, colour), "PNG")
    assert decode_image(data).shape == (*shape, 3)
    out = prepared(data, 32, 24, geometry)
    assert out.shape == (32, 24, 3)
    assert (out == np.array(colour, np.uint8)).all()


def test_tiny_two_colour_image_upscaled_keeps_layout():
    img = np.zeros((2, 2, 3), np.uint8)
    img[:, 0] = RED
    img[:, 1] = BLUE
    out = prepared(pil_bytes(img, "PNG"), 32, 32)
    assert out[:, 0].tolist() == [list(RED)] * 32
    assert out[:, -1].tolist() == [list(BLUE)] * 32


def test_very_large_jpeg(tmp_path):
    h, w = 4000, 6000
    img = np.empty((h, w, 3), np.uint8)
    img[:, : w // 2] = RED
    img[:, w // 2 :] = BLUE
    path = tmp_path / "huge.jpg"
    path.write_bytes(cv_bytes(cv2.cvtColor(img, cv2.COLOR_RGB2BGR), ".jpg", (cv2.IMWRITE_JPEG_QUALITY, 90)))

    slot = np.zeros((3, 32, 32), np.uint8)
    outcome = prep()(ref_for(path=str(path)), slot)
    assert outcome.ok, outcome.error
    out = slot.transpose(1, 2, 0).astype(int)
    # centre 4000x4000 crop: left half red, right half blue
    assert np.abs(out[:, :14] - RED).max() < 12
    assert np.abs(out[:, 18:] - BLUE).max() < 12


@pytest.mark.parametrize(
    "fmt,kwargs,tol",
    [("BMP", {}, 0), ("WEBP", {"lossless": True}, 0), ("WEBP", {"quality": 95}, 12), ("TIFF", {}, 0), ("TIFF", {"compression": "tiff_lzw"}, 0), ("GIF", {}, 0), ("PPM", {}, 0)],
)
def test_other_formats(fmt, kwargs, tol):
    picture = quadrants(40, 60)
    out = decode_image(pil_bytes(picture, fmt, **kwargs))
    assert out.shape == (40, 60, 3)
    # compare away from the quadrant edges (lossy WebP smears them)
    for y, x in ((5, 5), (5, 55), (35, 5), (35, 55)):
        assert np.abs(out[y, x].astype(int) - picture[y, x]).max() <= tol, (fmt, y, x, out[y, x])


def test_jpeg_decoded_like_pil():
    picture = gradient()
    data = pil_bytes(picture, "JPEG", quality=90)
    out = decode_image(data)
    reference = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    assert np.abs(out.astype(int) - reference).mean() < 1.0


def test_jpeg_with_trailing_data_after_eoi():
    picture = gradient()
    data = pil_bytes(picture, "JPEG", quality=95) + np.random.default_rng(0).bytes(4096)
    out = decode_image(data)
    assert np.abs(out.astype(int) - picture).mean() < 3


def test_jpeg_with_short_trailing_data_after_eoi():
    picture = gradient()
    data = pil_bytes(picture, "JPEG", quality=95) + b"\x00" * 100
    out = decode_image(data)
    assert np.abs(out.astype(int) - picture).mean() < 3


# --------------------------------------------------------------------------- corrupt input


def _jpeg() -> bytes:
    return pil_bytes(gradient(), "JPEG", quality=90)


def _png() -> bytes:
    rng = np.random.default_rng(0)
    return pil_bytes(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), "PNG")


CORRUPT = {
    "empty": (lambda: b"", ["empty"]),
    "random bytes": (lambda: np.random.default_rng(1).bytes(2000), ["not a decodable image", "unrecognised header"]),
    "text": (lambda: b"this is not a picture\n" * 5, ["not a decodable image"]),
    "truncated jpeg": (lambda: _jpeg()[: len(_jpeg()) // 2], ["truncated"]),
    "jpeg header only": (lambda: _jpeg()[:200], ["truncated"]),
    "truncated png": (lambda: _png()[: len(_png()) // 2], ["PNG header"]),
    "png without IEND": (lambda: _png()[:-12], ["PNG header"]),
    "png header only": (lambda: b"\x89PNG\r\n\x1a\n", ["PNG header"]),
    "gif header only": (lambda: b"GIF89a", ["GIF header"]),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_bytes_are_decode_errors(case):
    make, words = CORRUPT[case]
    assert_decode_error(make(), *words)


@pytest.mark.parametrize(
    "name,content",
    [
        ("empty.jpg", b""),
        ("random.jpg", np.random.default_rng(3).bytes(777)),
        ("notes.png", b"hello, I am a text file\n"),
        ("half.jpg", None),
    ],
)
def test_corrupt_files_through_preprocessor(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(_jpeg()[:1500] if content is None else content)
    slot = np.full((3, 16, 16), 9, np.uint8)
    outcome = prep(16, 16)(ref_for(path=str(path)), slot)
    assert not outcome.ok
    assert outcome.error_stage == "decode"
    assert outcome.error
    assert (slot == 0).all()  # the slot is zeroed, never left with stale pixels


@pytest.mark.parametrize("filler", ["random", "zeros"])
def test_jpeg_with_corrupted_middle(filler):
    """Either a decode error, or -- if a decoder genuinely recovers -- the right picture. A decode
    that returns different pixels (libjpeg's concealment of broken entropy data) is neither."""
    picture = gradient()
    data = pil_bytes(picture, "JPEG", quality=90)
    n = len(data)
    junk = np.random.default_rng(5).bytes(n // 3) if filler == "random" else bytes(n // 3)
    corrupted = data[: n // 3] + junk + data[n // 3 + len(junk) :]
    assert len(corrupted) == n and corrupted[-2:] == b"\xff\xd9"
    try:
        out = decode_image(corrupted)
    except DataError as err:
        assert err.stage == "decode"
        return
    assert np.abs(out.astype(int) - picture).mean() < 3, "corrupt JPEG decoded to different pixels without an error"


def test_missing_file_is_read_error(tmp_path):
    missing = tmp_path / "nope" / "gone.jpg"
    with pytest.raises(DataError) as info:
        read_bytes(str(missing))
    assert info.value.stage == "read"
    assert "gone.jpg" in info.value.reason and "No such file" in info.value.reason

    slot = np.full((3, 8, 8), 5, np.uint8)
    outcome = prep(8, 8)(ref_for(path=str(missing)), slot)
    assert (outcome.ok, outcome.error_stage) == (False, "read")
    assert (slot == 0).all()


def test_directory_instead_of_file_is_read_error(tmp_path):
    folder = tmp_path / "looks_like.jpg"
    folder.mkdir()
    outcome = prep(8, 8)(ref_for(path=str(folder)), np.zeros((3, 8, 8), np.uint8))
    assert (outcome.ok, outcome.error_stage) == (False, "read")


# --------------------------------------------------------------------------- end to end


def test_cli_run_over_mixed_folder(tmp_path, capsys):
    data = tmp_path / "media"
    (data / "sub").mkdir(parents=True)
    good = {
        "red.png": (pil_bytes(solid(20, 30, RED), "PNG"), RED),
        "sub/grey.jpg": (pil_bytes(Image.fromarray(np.full((40, 40), 128, np.uint8), "L"), "JPEG", quality=100), (128, 128, 128)),
        "blue_rgba.PNG": (pil_bytes(np.dstack([solid(8, 8, BLUE), np.zeros((8, 8), np.uint8)]), "PNG"), BLUE),
        "tiny.bmp": (pil_bytes(solid(1, 1, GREEN), "BMP"), GREEN),
        "deep16.png": (cv_bytes(np.full((6, 6), 65535, np.uint16), ".png"), (255, 255, 255)),
    }
    bad = {
        "empty.jpg": b"",
        "random.jpg": np.random.default_rng(7).bytes(1000),
        "text.png": b"not an image at all\n",
        "sub/truncated.jpg": _jpeg()[: len(_jpeg()) // 2],
        "truncated.png": _png()[:300],
    }
    for name, (content, _) in good.items():
        (data / name).write_bytes(content)
    for name, content in bad.items():
        (data / name).write_bytes(content)
    (data / "readme.txt").write_text("ignored: not an image extension")

    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "mixed.yaml").write_text(yaml.safe_dump({"datasets": [{"name": "mixed", "media_type": "real", "source": {"type": "folder", "path": "../media"}}]}))
    model = models.save(models.channel_means(32, 32), tmp_path / "means.onnx")
    config = tmp_path / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {"dataset_dirs": [str(registry)], "model": str(model), "datasets": ["mixed"], "provider": "cpu", "batch_size": 4, "workers": 2, "warmup": 0, "bootstrap": 0}
        )
    )
    out = tmp_path / "out"
    code = main(["run", str(config), "--output", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err

    records = pd.read_parquet(out / "records.parquet")
    assert len(records) == len(good) + len(bad)
    assert sorted(records["sample_id"]) == sorted([*good, *bad])
    assert records["sample_id"].is_unique
    assert (records["dataset"] == "mixed").all() and (records["label"] == 0).all()
    by_id = records.set_index("sample_id")
    for name, (_, colour) in good.items():
        row = by_id.loc[name]
        assert row["status"] == "ok", (name, row["error"])
        assert row["error"] is None or pd.isna(row["error"])
        assert np.allclose(list(row["logits"]), colour, atol=1.5), (name, row["logits"])  # channel means = pixels
        assert 0.0 <= row["p_ai"] <= 1.0
    for name in bad:
        row = by_id.loc[name]
        assert row["status"] == "data_error", name
        assert row["error_stage"] == "decode"
        assert isinstance(row["error"], str) and row["error"]
        assert np.isnan(row["p_ai"])

    doc = json.loads((out / "results.json").read_text())
    overall = doc["metrics"]["overall"]
    assert overall["data_errors"] == len(bad)
    assert overall["model_errors"] == 0
    assert overall["n"] == len(good)  # data errors are excluded from the metrics
    assert overall["errors"] == len(bad)

    summary = (out / "summary.md").read_text()
    assert "## Errors" in summary
    for name in bad:
        assert name in summary
    assert "data_error" in summary
    assert f"{len(bad)} data error(s)" in captured.out


# ---------------------------------------------------------------- the opt-in fast decode


@pytest.mark.parametrize("orientation", [1, 6])
def test_fast_decode_never_below_target_and_close_to_full(orientation):
    """A 1600x1200 JPEG at a 224 target decodes at 1/4 scale (400x300, not 1/8: 200x150 < 224),
    upright, and lands within a few levels of the full decode after geometry."""
    yy, xx = np.mgrid[0:1200, 0:1600]
    rgb = np.stack([(xx // 7) % 256, (yy // 5) % 256, ((xx + yy) // 11) % 256], axis=2).astype(np.uint8)
    rgb = cv2.GaussianBlur(rgb, (0, 0), 2)
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    data = buf.getvalue()
    full = decode_image(data)
    fast = decode_image(data, (224, 224))
    expected = (300, 400) if orientation == 1 else (400, 300)
    assert fast.shape[:2] == expected and full.shape[:2] == (expected[0] * 4, expected[1] * 4)
    a = ImageView(224, 224, "crop-resize", "linear", 0, Augmenter(0)).geometry(full).astype(int)
    b = ImageView(224, 224, "crop-resize", "linear", 0, Augmenter(0)).geometry(fast).astype(int)
    assert 0 < np.abs(a - b).mean() < 4  # other pixels (why it is opt-in), the same picture


def test_fast_decode_is_recorded_and_cached_apart(tmp_path):
    from tests.test_run import make_project, random_images

    model = models.save(models.channel_means(32, 32), tmp_path / "m.onnx")
    cfg = make_project(tmp_path, {"a": ("real", random_images(3, 1))}, model, cache_dir=str(tmp_path / "cache"))
    assert main(["run", str(cfg), "--output", str(tmp_path / "plain")]) == 0
    assert main(["run", str(cfg), "--fast-decode", "--output", str(tmp_path / "fast")]) == 0
    doc = json.loads((tmp_path / "fast" / "results.json").read_text())
    assert doc["preprocessing"]["fast_decode"] is True and doc["config"]["preprocessing"]["fast_decode"] is True
    assert doc["throughput"]["cache"]["misses"] == 3  # not served the full-decode pixels
