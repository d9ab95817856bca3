"""Images: ``(batch, 3, H, W)`` uint8 RGB. Decode (EXIF orientation, strict JPEG), optional
redistribution chain, shortest-edge geometry, seeded augmentation, CHW layout (SPEC section 2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.config import PreprocessingConfig
from bench.data.refs import IMAGE_EXTENSIONS
from bench.modalities import Axis, Layout, Modality

LAYOUT = Layout((Axis("batch", dynamic=True), Axis("channels", size=3), Axis("height", fixed=True, default=224), Axis("width", fixed=True, default=224)))

IMAGE = Modality(
    name="image",
    layout=LAYOUT,
    extensions=IMAGE_EXTENSIONS,
    view_factory="bench.modalities.image:build_view",
    probe_factory="bench.modalities.image:probes",
)


@dataclass(frozen=True)
class ImageView:
    """One view of an image: everything that decides the pixels a model sees; written into every
    result. ``robust`` applies the redistribution chain (bench/robustness.py) before geometry."""

    height: int
    width: int
    geometry_name: str
    interpolation: str
    seed: int
    augmenter: object  # bench.transforms.Augmenter
    robust: bool = False
    fast_decode: bool = False  # JPEG decoded at reduced DCT scale, never below H x W (opt-in)
    cache: object = None  # bench.cache.SampleCache
    max_pixels: int = PreprocessingConfig.max_pixels  # larger images (read from the header) are data errors
    dtype = np.uint8  # of the batch buffer (class attribute: not a field)

    @property
    def min_size(self) -> tuple[int, int]:
        return (self.height, self.width)

    def batch_shape(self, batch: int) -> tuple[int, ...]:
        return (batch, 3, self.height, self.width)

    def decode_key(self) -> tuple:
        """What decoding depends on: views that share a decode must agree on it."""
        return ("image", self.fast_decode, self.max_pixels)

    def seed_for(self, ref) -> int:
        from bench.transforms import sample_seed

        return sample_seed(self.seed, ref.dataset, ref.sample_id)

    def decode(self, ref, min_size: tuple[int, int] | None = None) -> tuple[np.ndarray, list[int] | None, float | None]:
        """RGB ``(h, w, 3)``; with ``fast_decode`` a JPEG is decoded at reduced scale, never below
        ``min_size`` (default: this view's H x W); more than ``max_pixels`` pixels is a data error."""
        from bench.data.decode import decode_image, read_bytes

        data = ref.data if ref.data is not None else read_bytes(ref.path)
        return decode_image(data, (min_size or self.min_size) if self.fast_decode else None, self.max_pixels), None, None

    def degrade(self, pixels: np.ndarray, fps: float | None) -> np.ndarray:
        """The robustness chain, at native resolution (identity for the base view)."""
        if not self.robust:
            return pixels
        from bench.robustness import image_chain

        return _chain(image_chain, pixels)

    def fit_one(self, image: np.ndarray) -> np.ndarray:
        import cv2

        from bench.data.decode import DataError
        from bench.transforms import fit

        try:
            return fit(image, self.height, self.width, self.geometry_name, self.interpolation)
        except cv2.error as exc:
            h, w = image.shape[:2]
            raise DataError("preprocess", f"OpenCV failed on a {w}x{h} image: {str(exc).strip().splitlines()[-1][:200]}") from None

    def geometry(self, pixels: np.ndarray) -> np.ndarray:
        return self.fit_one(pixels)

    def finish(self, fitted: np.ndarray, seed: int) -> np.ndarray:
        """Augment and lay out as CHW."""
        return self.augmenter(fitted, seed).transpose(2, 0, 1)

    def describe(self) -> dict:
        return {
            "height": self.height,
            "width": self.width,
            "geometry": self.geometry_name,
            "interpolation": self.interpolation,
            "augmentation": self.augmenter.describe(),
            "seed": self.seed,
            "fast_decode": self.fast_decode,
            "max_pixels": self.max_pixels,
            "layout": "NCHW uint8 RGB",
        }

    def cache_params(self) -> dict:
        """What shapes the cached pixels (augmentation and seed do not: they come after)."""
        return {"height": self.height, "width": self.width, "geometry": self.geometry_name, "interpolation": self.interpolation, "robust": self.robust, "fast_decode": self.fast_decode, "max_pixels": self.max_pixels}

    def share_key(self) -> tuple:
        """Models whose views have the same key share one buffer."""
        return ("image", self.height, self.width, self.robust)


def _chain(chain, pixels: np.ndarray, *args) -> np.ndarray:
    import cv2

    from bench.data.decode import DataError

    try:
        return chain(pixels, *args)
    except (cv2.error, ValueError, OSError) as exc:
        raise DataError("robustness", f"the redistribution chain failed: {str(exc).strip().splitlines()[-1][:200]}") from None


def build_view(spec, cfg, robust: bool = False) -> ImageView:
    from bench.transforms import Augmenter

    p = cfg.preprocessing
    return ImageView(spec.height, spec.width, p.geometry, p.interpolation, p.seed, Augmenter(p.augment_level, p.augment_pipeline, size=(spec.height, spec.width)), robust, p.fast_decode, max_pixels=p.max_pixels)


def probe_images(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """``n`` varied uint8 CHW images: dark, bright, textured, noise, gradients, edges, colour
    blocks. Unlike uniform noise, their per-sample statistics differ, which exposes leaks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    kinds = [
        lambda: rng.integers(0, 40, (h, w, 3)),  # dark
        lambda: rng.integers(215, 256, (h, w, 3)),  # bright
        lambda: np.repeat((((xx // 4 + yy // 4) % 2) * 255)[..., None], 3, 2),  # checkerboard
        lambda: rng.integers(0, 256, (h, w, 3)),  # noise
        lambda: np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), np.full_like(xx, 128)], 2),  # gradient
        lambda: np.where((xx > w // 2)[..., None], [250, 30, 30], [20, 60, 220]),  # two colour halves
        lambda: (np.sin(xx / 1.5) * np.cos(yy / 2.5) * 127 + 128)[..., None].repeat(3, 2),  # fine texture
        lambda: np.full((h, w, 3), 128) + rng.normal(0, 5, (h, w, 3)),  # flat grey
    ]
    imgs = [np.clip(kinds[i % len(kinds)](), 0, 255).astype(np.uint8).transpose(2, 0, 1) for i in range(n)]
    return np.stack(imgs)


def probes(spec, n: int, frames: int | None = None, seed: int = 0) -> np.ndarray:
    return probe_images(n, spec.height, spec.width, seed)
