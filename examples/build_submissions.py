"""Write the weights of the two example submissions (examples/submission_image/ and
examples/submission_video/, whose model.py and model_config.yaml are in the repo):

    python examples/build_submissions.py

The image submission carries the demo detector's trained parameters, read from
data/models/demo_image.onnx, so `bench run --model examples/submission_image` scores the bundled
sample as the ONNX demo model does. The video submission's weights are seeded (format only).
Needs the torch extra (torch, safetensors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def image_weights() -> dict[str, torch.Tensor]:
    graph = onnx.load(str(ROOT / "data" / "models" / "demo_image.onnx")).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    return {
        "feat_mean": torch.from_numpy(init["feat_mean"].astype(np.float32)),
        "feat_std": torch.from_numpy(init["feat_std"].astype(np.float32)),
        "linear.weight": torch.from_numpy(np.ascontiguousarray(init["W"].T.astype(np.float32))),
        "linear.bias": torch.from_numpy(init["B"].reshape(-1).astype(np.float32)),
    }


def video_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {"linear.weight": torch.randn(2, 8, generator=generator) * 0.5, "linear.bias": torch.zeros(2)}


def main() -> None:
    for folder, weights in (("submission_image", image_weights()), ("submission_video", video_weights())):
        path = EXAMPLES / folder / "model.safetensors"
        save_file(weights, str(path))
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
