"""Geometry bit-exact against direct implementations of SPEC section 2; seeded augmentation."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from bench.errors import BenchError
from bench.transforms import Augmenter, fit, sample_seed

SHAPES = [(480, 640), (640, 480), (224, 224), (100, 1000), (333, 517), (50, 60), (1, 1), (7, 300), (1080, 1920)]
TARGETS = [(224, 224), (256, 192), (32, 48)]


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def direct_crop_resize(img, H, W, flag=cv2.INTER_LINEAR):
    """SPEC: s = min(h/H, w/W); crop ch = min(round(s*H), h), cw = min(round(s*W), w) at
    ((h-ch)//2, (w-cw)//2); one resize to WxH."""
    h, w = img.shape[:2]
    s = min(h / H, w / W)
    ch, cw = min(round(s * H), h), min(round(s * W), w)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return cv2.resize(img[y0 : y0 + ch, x0 : x0 + cw], (W, H), interpolation=flag)


def direct_resize_crop(img, H, W, flag=cv2.INTER_LINEAR):
    h, w = img.shape[:2]
    s = max(H / h, W / w)
    nh, nw = max(round(h * s), H), max(round(w * s), W)
    big = cv2.resize(img, (nw, nh), interpolation=flag)
    y0, x0 = (nh - H) // 2, (nw - W) // 2
    return big[y0 : y0 + H, x0 : x0 + W]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("target", TARGETS)
def test_crop_resize_bit_exact(shape, target):
    img = _image(*shape)
    got = fit(img, *target)
    assert got.shape == (*target, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, direct_crop_resize(img, *target))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("target", TARGETS)
def test_resize_crop_bit_exact(shape, target):
    img = _image(*shape)
    got = fit(img, *target, geometry="resize-crop")
    assert got.shape == (*target, 3)
    np.testing.assert_array_equal(got, direct_resize_crop(img, *target))


@pytest.mark.parametrize("name,flag", [("nearest", cv2.INTER_NEAREST), ("area", cv2.INTER_AREA), ("cubic", cv2.INTER_CUBIC)])
def test_interpolation_is_configurable(name, flag):
    img = _image(400, 300)
    np.testing.assert_array_equal(fit(img, 64, 64, interpolation=name), direct_crop_resize(img, 64, 64, flag))


def test_routes_differ_but_agree_roughly():
    """Same picture, not the same pixels (why both routes exist and are recorded)."""
    yy, xx = np.mgrid[0:1200, 0:1600]
    img = np.stack([(xx * 255 // 1600), (yy * 255 // 1200), ((xx + yy) % 256)], axis=2).astype(np.uint8)
    a = fit(img, 224, 224).astype(int)
    b = fit(img, 224, 224, geometry="resize-crop").astype(int)
    assert (a != b).any()
    assert np.abs(a[..., :2] - b[..., :2]).mean() < 3


def test_unknown_names_are_user_errors():
    with pytest.raises(BenchError, match="geometry"):
        fit(_image(10, 10), 4, 4, geometry="stretch")
    with pytest.raises(BenchError, match="interpolation"):
        fit(_image(10, 10), 4, 4, interpolation="fancy")
    with pytest.raises(BenchError, match="augment level"):
        Augmenter(7)


def test_sample_seed_is_stable_and_keyed():
    assert sample_seed(0, "ds", "a.jpg") == sample_seed(0, "ds", "a.jpg")
    assert sample_seed(0, "ds", "a.jpg") != sample_seed(1, "ds", "a.jpg")
    assert sample_seed(0, "ds", "a.jpg") != sample_seed(0, "other", "a.jpg")
    assert sample_seed(0, "ds", "a.jpg") == 1386876809  # fixed across processes and versions


@pytest.mark.parametrize(
    "args,seed",
    [
        ((0, "ds", "a.jpg"), 1386876809),
        ((7, "real", "P001_studio_portrait.jpg"), 2119256504),
        ((123, "vidéo", "clip ü 日本.mp4"), 619910340),
        ((2**31, "d", ""), 3951866316),
    ],
)
def test_sample_seeds_of_existing_runs_do_not_change(args, seed):
    """Records of earlier runs hold these seeds (valid UTF-8 names, as they were computed then)."""
    assert sample_seed(*args) == seed


def test_sample_seed_of_names_that_are_not_utf8():
    """os.walk gives such names as surrogate-escaped str (b"\\xff.png" -> "\\udcff.png")."""
    names = [os.fsdecode(raw) for raw in (b"\xff.png", b"\xfe.png", b"caf\xe9.jpg")] + ["\ud800 lone.png"]
    seeds = {sample_seed(0, "ds", name) for name in names}
    assert len(seeds) == len(names)
    assert sample_seed(0, "ds", names[0]) == sample_seed(0, "ds", names[0])


@pytest.mark.parametrize("level", [1, 2, 3])
def test_augmentation_is_seeded_per_sample_whatever_the_thread(level):
    aug = Augmenter(level)
    imgs = [_image(64, 64, seed=i) for i in range(24)]
    seeds = [sample_seed(5, "d", str(i)) for i in range(24)]
    serial = [aug(img, s) for img, s in zip(imgs, seeds)]
    # a fresh augmenter, several threads, reversed order: identical outputs per sample
    other = Augmenter(level)
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(other, imgs[::-1], seeds[::-1]))[::-1]
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)
    assert any((a != img).any() for a, img in zip(serial, imgs))  # it does augment


def test_level_zero_is_identity_and_clip_gets_one_parameter_set():
    img = _image(32, 32)
    assert Augmenter(0)(img, 1) is img
    clip = np.repeat(_image(32, 32)[None], 4, axis=0)
    out = Augmenter(1).frames(clip, 3)
    for t in range(1, 4):
        np.testing.assert_array_equal(out[0], out[t])


def test_level_one_flips_are_exact_flips():
    img = _image(16, 16)
    aug = Augmenter(1)
    variants = {aug(img, s).tobytes() for s in range(40)}
    allowed = {img.tobytes(), img[:, ::-1].tobytes(), img[::-1].tobytes(), img[::-1, ::-1].tobytes()}
    assert variants == allowed
