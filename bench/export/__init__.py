"""Export PyTorch detectors to the bench model contract (SPEC section 1) and verify the result.

The contract: one ``uint8`` input of raw pixels, ``(batch, 3, H, W)`` for images or
``(batch, frames, 3, H, W)`` for video, with fixed H and W and dynamic batch (and frames);
one output ``logits`` of shape ``(batch, 3)`` ordered ``[real, synthetic, semisynthetic]``.
The model does its own normalisation and, for video, its own temporal aggregation.

Typical use::

    from bench.export import ImageDetector, export_and_verify

    model = ImageDetector(my_backbone)            # backbone: float (B,3,H,W) -> (B,3) logits
    export_and_verify(model, "models/image_detector.onnx", "image", height=224, width=224)

This package needs PyTorch (``pip install 'bench[export]'``); the rest of ``bench`` does not.
Layout: ``wrappers`` (uint8 -> logits modules), ``onnx_export`` (``export_image``/``export_video``),
``verification`` (``verify``, its reports, ``export_and_verify``).
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "bench.export needs PyTorch: install the export extra, e.g. pip install 'bench[export]'"
    ) from exc

from bench.export.onnx_export import export_image, export_video
from bench.export.verification import (
    CaseResult,
    ExportVerificationError,
    VerifyReport,
    export_and_verify,
    verify,
)
from bench.export.wrappers import IMAGENET_MEAN, IMAGENET_STD, ImageDetector, VideoDetector

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageDetector",
    "VideoDetector",
    "CaseResult",
    "VerifyReport",
    "ExportVerificationError",
    "export_image",
    "export_video",
    "verify",
    "export_and_verify",
]
