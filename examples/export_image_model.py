"""Export an image detector to the bench ONNX contract, verify it, and show how to score it.

Run from the repository root (needs the export extra: pip install -e '.[export]'):

    python examples/export_image_model.py                      # -> models/image_detector.onnx
    python examples/export_image_model.py --output /tmp/img.onnx

The network here is a small, randomly initialised (seeded) CNN so the script runs in seconds
with no downloads. To export your own detector, replace ``build_backbone`` with your model
(loaded with its trained weights): it must take normalised float32 ``(B, 3, H, W)`` and return
``(B, 3)`` logits ordered ``[real, synthetic, semisynthetic]``. ``ImageDetector`` adds the
uint8 input, ``/255`` and the mean/std normalisation, so the exported model takes raw pixels.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from bench.export import IMAGENET_MEAN, IMAGENET_STD, ImageDetector, export_and_verify


def build_backbone() -> nn.Module:
    """A few strided convolutions, global average pooling and a linear layer to 3 logits."""

    def block(c_in: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )

    return nn.Sequential(
        block(3, 16),  # 224 -> 112
        block(16, 32),  # -> 56
        block(32, 64),  # -> 28
        block(64, 64),  # -> 14
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 3),  # [real, synthetic, semisynthetic]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", default="models/image_detector.onnx", help="where to write the .onnx file"
    )
    parser.add_argument("--size", type=int, default=224, help="input height and width (fixed in the graph)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random weights")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    backbone = build_backbone()
    # With a trained model: backbone.load_state_dict(torch.load("weights.pt", map_location="cpu"))
    model = ImageDetector(backbone, mean=IMAGENET_MEAN, std=IMAGENET_STD).eval()

    path = export_and_verify(model, args.output, "image", height=args.size, width=args.size)

    print()
    print("next steps:")
    print(f"  bench check {path}                       # the model contract, rule by rule")
    print(f"  bench package {path} --modality image    # -> image_detector.zip for upload")
    print(f"  bench run --model {path}                 # score it on the configured datasets")


if __name__ == "__main__":
    main()
