"""``bench export-onnx SUBMISSION``: a PyTorch submission as a contract ONNX model, verified.

The submission is loaded as ``bench run`` loads it (static rules first), in float32, and exported
with the round-1 helpers: fixed H/W from its resize, a dynamic batch, and for video a fixed T
when the config gives num_frames (so the ONNX model is fed the frames the submission asks for).
ONNX Runtime's logits are compared with PyTorch's on seeded uint8 batches (the largest
difference is reported and bounded), then the contract check runs on the file."""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError
from bench.messages import warn


def export_submission(path: str | Path, output: str | Path | None = None, atol: float = 1e-4, rtol: float = 1e-4):
    """Write the ONNX model (default ``<submission>.onnx`` in the working directory); return
    ``(onnx path, VerifyReport)``. Raises ``ExportVerificationError`` when they disagree."""
    import torch

    from bench.export.onnx_export import export_image, export_video
    from bench.export.verification import verify
    from bench.runtimes.pytorch import TorchRuntime

    runtime = TorchRuntime.load(str(path), provider="cpu")
    config_dtype = runtime.environment["dtype"]
    module = runtime.module.to(torch.float32)
    if config_dtype != "float32":
        warn(f"{path} runs in {config_dtype} on the leaderboard; the ONNX model is exported and verified in float32, so scores may differ slightly")
    spec = runtime.spec
    name = Path(path).resolve().name.removesuffix(".zip")
    target = Path(output) if output else Path.cwd() / f"{name}.onnx"
    if spec.height is None or not spec.size_declared:
        raise BenchError(f"{path}: model_config.yaml gives no preprocessing.resize; add resize: [H, W] so the ONNX model gets a fixed size")
    frames = spec.hints.get("frames")
    if spec.modality == "image":
        export_image(module, target, spec.height, spec.width)
        report = verify(module, target, "image", raise_on_failure=False, atol=atol, rtol=rtol)
    elif spec.modality == "video":
        export_video(module, target, spec.height, spec.width, frames or 8, dynamic_frames=frames is None)
        report = verify(module, target, "video", frames=[frames] if frames else (8, 16), raise_on_failure=False, atol=atol, rtol=rtol)
    else:
        raise BenchError(f"{path}: exporting a {spec.modality} submission to ONNX is not supported; score it with `bench run` as it is")
    return target, report
