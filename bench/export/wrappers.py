"""Wrappers that give a float backbone the model contract's interface: raw uint8 pixels in, 3 logits out.

``ImageDetector`` takes ``(B, 3, H, W)``; ``VideoDetector`` takes ``(B, T, 3, H, W)``, runs a
per-frame backbone on all frames at once and pools over time. Both normalise inside the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLASSES = ("real", "synthetic", "semisynthetic")


class _Normalise(nn.Module):
    """``(x / 255 - mean) / std`` on a uint8 (or 0..255 float) ``(N, 3, H, W)`` tensor."""

    def __init__(self, mean: Sequence[float] | None, std: Sequence[float] | None):
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither (then pixels are only divided by 255)")
        self.enabled = mean is not None
        if self.enabled:
            mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
            std_t = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
            if mean_t.shape[1] != 3 or std_t.shape[1] != 3:
                raise ValueError("mean and std need 3 values (R, G, B)")
            if bool((std_t <= 0).any()):
                raise ValueError("std values must be > 0")
            # Not persistent: the wrapper's state_dict stays the backbone's own.
            self.register_buffer("mean", mean_t, persistent=False)
            self.register_buffer("std", std_t, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float32) / 255.0
        if self.enabled:
            x = (x - self.mean) / self.std
        return x


class ImageDetector(nn.Module):
    """Wrap a float backbone so the model takes raw ``uint8`` pixels, as the contract asks.

    ``backbone`` receives normalised float32 ``(B, 3, H, W)`` and must return ``(B, 3)``
    logits ordered ``[real, synthetic, semisynthetic]``. ``mean``/``std`` default to ImageNet;
    pass ``mean=None, std=None`` for a backbone trained on plain ``x / 255``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        mean: Sequence[float] | None = IMAGENET_MEAN,
        std: Sequence[float] | None = IMAGENET_STD,
    ):
        super().__init__()
        self.normalise = _Normalise(mean, std)
        self.backbone = backbone

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalise(image))


class VideoDetector(nn.Module):
    """Wrap a per-frame backbone into a video detector: ``uint8 (B, T, 3, H, W) -> (B, 3)``.

    All ``B*T`` frames go through ``frame_backbone`` as one batch (no Python loop, so the
    frames axis stays dynamic in the exported graph). The per-frame features ``(B*T, F)``
    are pooled over time (``pool="mean"`` or ``"max"``) and ``head`` maps ``F`` to the 3
    logits; leave ``head=None`` when the backbone already returns 3 values per frame
    (then the frame logits are pooled).
    """

    def __init__(
        self,
        frame_backbone: nn.Module,
        head: nn.Module | None = None,
        mean: Sequence[float] | None = IMAGENET_MEAN,
        std: Sequence[float] | None = IMAGENET_STD,
        pool: str = "mean",
    ):
        super().__init__()
        if pool not in ("mean", "max"):
            raise ValueError(f"pool must be 'mean' or 'max', not {pool!r}")
        self.normalise = _Normalise(mean, std)
        self.frame_backbone = frame_backbone
        self.head = head if head is not None else nn.Identity()
        self.pool = pool

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        b, t = video.shape[0], video.shape[1]
        frames = self.normalise(video.flatten(0, 1))  # (B*T, 3, H, W)
        feats = self.frame_backbone(frames)  # (B*T, F) (or (B*T, F, 1, 1): flattened below)
        feats = feats.reshape(b, t, -1)
        pooled = feats.mean(dim=1) if self.pool == "mean" else feats.amax(dim=1)
        return self.head(pooled)
