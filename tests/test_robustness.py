"""The redistribution chain: pinned parameters, and an independent PIL + OpenCV re-implementation."""

from __future__ import annotations

import io

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from bench import robustness as rb

TOLERANCE = 0.5  # mean |difference| per pixel against the PIL re-implementation (measured: 0.0)


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth picture with edges and texture (JPEG and WebP behave as on photos)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([128 + 100 * np.sin(7 * xx + 3 * yy), 128 + 90 * np.cos(5 * yy), 255 * xx * yy], axis=2)
    img[h // 3 : h // 2, w // 4 : w // 2] = (250, 20, 20)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def pil_chain(rgb: np.ndarray) -> np.ndarray:
    """The chain written independently: OpenCV for the resampling, PIL for every codec."""
    h, w = rgb.shape[:2]
    s = max(0.5, 256 / min(h, w))
    if s < 1:
        small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        rgb = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    im = Image.fromarray(rgb)
    for fmt, q in (("JPEG", 55), ("WEBP", 75), ("JPEG", 80)):
        buf = io.BytesIO()
        im.save(buf, fmt, quality=q, **({"subsampling": 2} if fmt == "JPEG" else {}))  # 2: 4:2:0
        im = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return np.asarray(im)


@pytest.mark.parametrize("shape", [(300, 451), (768, 1024), (1200, 900), (200, 300)])
def test_image_chain_matches_pil_reimplementation(shape):
    img = photo(*shape)
    ours, ref = rb.image_chain(img), pil_chain(img)
    assert ours.shape == img.shape and ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - ref).mean() <= TOLERANCE
    assert np.abs(ours.astype(int) - img).mean() > 1.0  # it does degrade the picture


def test_chain_is_deterministic():
    img = photo(400, 500, seed=3)
    np.testing.assert_array_equal(rb.image_chain(img), rb.image_chain(img))


def test_pinned_parameters():
    assert (rb.SCALE, rb.FLOOR, rb.JPEG_FIRST, rb.WEBP_QUALITY, rb.JPEG_LAST, rb.CRF, rb.BLEND_WEIGHT) == (0.5, 256, 55, 75, 80, 23, 0.2)


@pytest.mark.parametrize(
    "hw,expected",
    [
        ((1000, 800), (500, 400)),  # plain halving
        ((600, 300), (512, 256)),  # the 256 floor on the short side sets the factor
        ((400, 1000), (256, 640)),
        ((256, 700), None),  # would not shrink: skipped
        ((200, 200), None),
    ],
)
def test_downscale_floor_and_skip(hw, expected):
    assert rb.downscale_size(*hw) == expected


def test_small_image_skips_the_downscale_but_not_the_codecs(monkeypatch):
    img = photo(200, 240)
    calls = []
    real = cv2.resize
    monkeypatch.setattr(rb.cv2, "resize", lambda *a, **k: calls.append(1) or real(*a, **k))
    out = rb.image_chain(img)
    assert not calls and out.shape == img.shape and not np.array_equal(out, img)


def test_jpeg_uses_420_subsampling():
    img = photo(64, 64)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rb.jpeg(img, 55), cv2.COLOR_RGB2BGR))
    # re-encode our first step with PIL at 4:2:0 and 4:4:4: ours is the 4:2:0 one
    def pil(sub):
        b = io.BytesIO()
        Image.fromarray(img).save(b, "JPEG", quality=55, subsampling=sub)
        return np.asarray(Image.open(io.BytesIO(b.getvalue())).convert("RGB")).astype(int)
    ours = rb.jpeg(img, 55).astype(int)
    assert np.abs(ours - pil(2)).mean() < np.abs(ours - pil(0)).mean()


@pytest.mark.parametrize("hw,expected", [((480, 640), (256, 340)), ((720, 1280), (360, 640)), ((201, 301), (200, 300)), ((100, 150), (100, 150))])
def test_video_size_even_with_floor(hw, expected):
    assert rb.video_size(*hw) == expected


def test_video_chain_roundtrip_h264():
    frames = np.stack([np.roll(photo(480, 640), 4 * t, axis=1) for t in range(6)])
    out = rb.video_chain(frames, 25)
    assert out.shape == (6, 256, 340, 3)
    again = rb.video_chain(frames, 25)
    np.testing.assert_array_equal(out, again)  # deterministic (one encoder thread)
    # the round trip is real H.264 at CRF 23: close to the downscaled input, not equal
    small = np.stack([cv2.resize(f, (340, 256), interpolation=cv2.INTER_AREA) for f in frames])
    err = np.abs(out.astype(int) - small).mean()
    assert 0.2 < err < 8
    assert "libx264" in av.codecs_available
