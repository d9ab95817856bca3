"""Video: ``(batch, frames, 3, H, W)`` uint8 RGB. The frames the rule picks (PyAV), optional
H.264 redistribution round trip, the image geometry per frame, one augmentation parameter set
per clip, TCHW layout (SPEC section 2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.refs import VIDEO_EXTENSIONS
from bench.modalities import MAX_FRAMES, Axis, Layout, Modality, preprocessing
from bench.modalities.image import ImageView, _chain, probe_images

LAYOUT = Layout((
    Axis("batch", dynamic=True),
    Axis("frames", cap=MAX_FRAMES, config_key="frames"),
    Axis("channels", size=3),
    Axis("height", fixed=True, default=224),
    Axis("width", fixed=True, default=224),
))

VIDEO = Modality(
    name="video",
    layout=LAYOUT,
    extensions=VIDEO_EXTENSIONS,
    view_factory="bench.modalities.video:build_view",
    probe_factory="bench.modalities.video:probes",
)


@dataclass(frozen=True)
class VideoView(ImageView):
    """A view of a clip: the image view's geometry on every frame, plus the frame rule."""

    frame_rule: object = None  # bench.data.video.FrameRule

    def batch_shape(self, batch: int) -> tuple[int, ...]:
        return (batch, self.frame_rule.frames, 3, self.height, self.width)

    def decode_key(self) -> tuple:
        return ("video", self.frame_rule, self.max_pixels)

    def decode(self, ref, min_size: tuple[int, int] | None = None) -> tuple[np.ndarray, list[int] | None, float | None]:
        """``(T, h, w, 3)`` upright, the frame indices used, and the clip's frame rate; frames of
        more than ``max_pixels`` pixels are a data error."""
        from bench.data.decode import media_source
        from bench.data.video import decode_clip

        clip = decode_clip(media_source(ref), self.frame_rule, self.max_pixels)
        return clip.frames, clip.indices, clip.fps

    def degrade(self, frames: np.ndarray, fps: float | None) -> np.ndarray:
        if not self.robust:
            return frames
        from bench.robustness import video_chain

        return _chain(video_chain, frames, fps)

    def geometry(self, frames: np.ndarray) -> np.ndarray:
        return np.stack([self.fit_one(f) for f in frames])

    def finish(self, fitted: np.ndarray, seed: int) -> np.ndarray:
        """Augment (one parameter set for all frames of the clip) and lay out as TCHW."""
        return self.augmenter.frames(fitted, seed).transpose(0, 3, 1, 2)

    def describe(self) -> dict:
        return super().describe() | {"layout": "NTCHW uint8 RGB"} | self.frame_rule.describe()

    def cache_params(self) -> dict:
        return super().cache_params() | self.frame_rule.describe()

    def share_key(self) -> tuple:
        return ("video", self.height, self.width, self.robust, self.frame_rule)


def build_view(spec, cfg, robust: bool = False) -> VideoView:
    from bench.data.video import FrameRule
    from bench.transforms import Augmenter

    p = cfg.preprocessing
    rule = FrameRule(preprocessing(spec, cfg, "frame_rule"), min(spec.frames or preprocessing(spec, cfg, "frames"), MAX_FRAMES), preprocessing(spec, cfg, "target_fps"))
    return VideoView(spec.height, spec.width, p.geometry, p.interpolation, p.seed, Augmenter(p.augment_level, p.augment_pipeline, size=(spec.height, spec.width)), robust, max_pixels=p.max_pixels, frame_rule=rule)


def probes(spec, n: int, frames: int | None = None, seed: int = 0) -> np.ndarray:
    """``n`` clips of ``frames`` (default: the model's T, else 8): a slow pan over a probe image."""
    images = probe_images(n, spec.height, spec.width, seed)
    t = frames or spec.frames or 8
    return np.stack([np.roll(images, k, axis=-1) for k in range(t)], axis=1)
