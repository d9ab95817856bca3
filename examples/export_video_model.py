"""Export a video detector to the bench ONNX contract, verify it, and show how to score it.

Run from the repository root (needs the export extra: pip install -e '.[export]'):

    python examples/export_video_model.py                      # -> models/video_detector.onnx
    python examples/export_video_model.py --output /tmp/vid.onnx --size 224

The network here is a small, randomly initialised (seeded) per-frame CNN, so the script runs
in seconds with no downloads. ``VideoDetector`` runs it on all ``batch * frames`` frames at
once, averages the per-frame features over time and applies a linear head to 3 logits
``[real, synthetic, semisynthetic]``. The frames axis stays dynamic in the exported graph:
traced with ``--frames`` (8), the model runs at the harness's T (default 16) as well.
To export your own detector, replace ``build_frame_backbone`` / the head with your model.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from bench.export import IMAGENET_MEAN, IMAGENET_STD, VideoDetector, export_and_verify

FEATURES = 64


def build_frame_backbone() -> nn.Module:
    """Per-frame features: strided convolutions and global average pooling -> (N, FEATURES)."""

    def block(c_in: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )

    return nn.Sequential(
        block(3, 16),  # 112 -> 56
        block(16, 32),  # -> 28
        block(32, FEATURES),  # -> 14
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", default="models/video_detector.onnx", help="where to write the .onnx file"
    )
    parser.add_argument("--size", type=int, default=112, help="frame height and width (fixed in the graph)")
    parser.add_argument(
        "--frames", type=int, default=8, help="frames used for tracing (the graph stays dynamic)"
    )
    parser.add_argument("--pool", choices=("mean", "max"), default="mean", help="temporal pooling")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random weights")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = VideoDetector(
        build_frame_backbone(),
        head=nn.Linear(FEATURES, 3),  # [real, synthetic, semisynthetic]
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        pool=args.pool,
    ).eval()

    # Verified at the traced T and at 16 (the harness default), at batch 1 and 4.
    verify_frames = sorted({args.frames, 16})
    path = export_and_verify(
        model,
        args.output,
        "video",
        height=args.size,
        width=args.size,
        frames=args.frames,
        verify_frames=verify_frames,
    )

    print()
    print("next steps:")
    print(f"  bench check {path}                       # the model contract, rule by rule")
    print(f"  bench package {path} --modality video    # -> video_detector.zip for upload")
    print(f"  bench run configs/video.yaml --model {path}   # score it on the video datasets")


if __name__ == "__main__":
    main()
