"""PyTorch -> ONNX export under the model contract: fixed H and W, dynamic batch (and frames).

``export_image``/``export_video`` trace the module with a uint8 example, export it (dynamo or
legacy TorchScript exporter), check the graph's input and output against the contract and write
the file atomically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from bench.modalities import MAX_FRAMES

DEFAULT_OPSET = 18  # the dynamo exporter's native opset; ONNX Runtime 1.20+ runs it
MAX_IR_VERSION = 10  # what current ONNX Runtime releases (1.20 .. 1.31) load
SINGLE_FILE_LIMIT = 2 << 30  # protobuf's hard limit for a single .onnx file
EXAMPLE_BATCH = 2  # torch.export specialises dimensions of size 0 and 1; never trace with them
INPUT_NAMES = {"image": "image", "video": "video"}
OUTPUT_NAME = "logits"


def export_image(
    module: nn.Module,
    path: str | Path,
    height: int = 224,
    width: int = 224,
    *,
    opset: int = DEFAULT_OPSET,
    exporter: str = "dynamo",
    external_data: bool = False,
) -> Path:
    """Export an image detector (uint8 ``(B, 3, H, W)`` -> ``(B, 3)``) to ``path``.

    ``module`` must already take raw uint8 pixels (wrap your backbone in ``ImageDetector``).
    The graph gets input ``image`` (uint8, dims ``[batch, 3, height, width]``) and output
    ``logits`` (``[batch, 3]``). Returns the path.
    """
    example = _example_input((EXAMPLE_BATCH, 3, height, width))
    return _export(module, path, "image", example, {0: "batch"}, opset, exporter, external_data)


def export_video(
    module: nn.Module,
    path: str | Path,
    height: int = 224,
    width: int = 224,
    frames: int = 8,
    *,
    dynamic_frames: bool = True,
    opset: int = DEFAULT_OPSET,
    exporter: str = "dynamo",
    external_data: bool = False,
) -> Path:
    """Export a video detector (uint8 ``(B, T, 3, H, W)`` -> ``(B, 3)``) to ``path``.

    ``frames`` is only the T used for tracing: the exported graph keeps both batch and frames
    dynamic (input ``video``, dims ``[batch, frames, 3, height, width]``), so the harness can
    feed its configured T (default 16). Wrap a per-frame backbone in ``VideoDetector``.
    A model that only works at one T (e.g. learned temporal position embeddings) can pass
    ``dynamic_frames=False``: the graph then declares T = ``frames`` and the harness uses it.
    """
    if frames < 2:
        raise ValueError("trace with frames >= 2: torch.export fixes dimensions of size 1")
    if not dynamic_frames and frames > MAX_FRAMES:
        raise ValueError(f"a fixed T must be at most {MAX_FRAMES} frames (the harness's cap)")
    example = _example_input((EXAMPLE_BATCH, frames, 3, height, width))
    axes = {0: "batch", 1: "frames"} if dynamic_frames else {0: "batch"}
    return _export(module, path, "video", example, axes, opset, exporter, external_data)


def _example_input(shape: tuple[int, ...]) -> torch.Tensor:
    for d in shape[-2:]:
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"height and width must be positive integers, got {shape[-2:]}")
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen)


def _check_outputs(module: nn.Module, example: torch.Tensor, modality: str) -> None:
    """Run the module once so contract problems surface before a slow export does."""
    with torch.no_grad():
        out = module(example)
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"the {modality} model must return one tensor of logits, got {type(out).__name__}")
    batch = example.shape[0]
    if out.ndim != 2 or out.shape[0] != batch:
        raise ValueError(
            f"the {modality} model must return logits of shape (batch, 3), got {tuple(out.shape)} "
            f"for a batch of {batch}"
            + (" (add a head=nn.Linear(F, 3) to VideoDetector)" if modality == "video" else "")
        )
    width = out.shape[1]
    if width in (1, 2):
        warnings.warn(
            f"the model returns {width} logit(s) per sample; bench accepts this but reports no "
            "3-class metrics. The contract is 3 logits [real, synthetic, semisynthetic].",
            stacklevel=3,
        )
    elif width != 3:
        hint = " (add a head=nn.Linear(F, 3) to VideoDetector)" if modality == "video" else ""
        raise ValueError(
            f"the {modality} model returns {width} values per sample; the contract is 3 logits "
            f"[real, synthetic, semisynthetic]{hint}"
        )
    if out.dtype != torch.float32:
        warnings.warn(f"logits are {out.dtype}; float32 is expected", stacklevel=3)


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's noise that is not about the user's model."""
    reg_logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = reg_logger.level
    reg_logger.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
            warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export.*")
            warnings.filterwarnings(
                "ignore", message=r"The feature will be removed", category=DeprecationWarning
            )
            yield
    finally:
        reg_logger.setLevel(level)


def _export(
    module: nn.Module,
    path: str | Path,
    modality: str,
    example: torch.Tensor,
    dyn_axes: dict[int, str],
    opset: int,
    exporter: str,
    external_data: bool,
) -> Path:
    import onnx

    if exporter not in ("dynamo", "torchscript"):
        raise ValueError(f"exporter must be 'dynamo' or 'torchscript', not {exporter!r}")
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"the output file must end in .onnx, got {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)

    module.eval()
    n_bytes = sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))
    if n_bytes >= SINGLE_FILE_LIMIT - (64 << 20) and not external_data:
        raise ValueError(
            f"the weights take {n_bytes / 2**30:.2f} GiB: too large for a single .onnx file (2 GiB "
            "limit). Shrink or quantise the model, or pass external_data=True for local use "
            "(the upload zip holds one .onnx file, so such a model cannot be packaged)."
        )
    _check_outputs(module, example, modality)

    input_name = INPUT_NAMES[modality]
    # A single file is written next to the target and renamed into place once it is valid, so a
    # failed export never leaves a half-valid model (nor destroys an earlier one). External data
    # files are named after the .onnx file, so those exports write in place.
    target = path if external_data else path.with_name(f".{path.stem}.{os.getpid()}.tmp.onnx")
    try:
        _run_exporter(module, target, example, input_name, dyn_axes, opset, exporter, external_data)
        model = onnx.load(str(target), load_external_data=False)
        _check_graph_io(model, modality, example, dyn_axes)
        if model.ir_version > MAX_IR_VERSION:
            model.ir_version = MAX_IR_VERSION
            onnx.save(model, str(target))  # external tensors (if any) keep their references
        onnx.checker.check_model(str(target))
        if target != path:
            os.replace(target, path)
    finally:
        if target != path:
            target.unlink(missing_ok=True)
    return path


def _run_exporter(module, path, example, input_name, dyn_axes, opset, exporter, external_data) -> None:
    with _quiet_exporter(), torch.no_grad():
        if exporter == "dynamo":
            try:
                import onnxscript  # noqa: F401  (the dynamo exporter needs it)
            except ImportError as exc:
                raise ImportError(
                    "the dynamo ONNX exporter needs onnxscript: pip install 'bench[export]' "
                    "(or pass exporter='torchscript' for the legacy exporter)"
                ) from exc
            from torch.export import Dim

            dims = {axis: Dim(name) for axis, name in dyn_axes.items()}
            options = {"dynamo": True, "dynamic_shapes": (dims,), "external_data": external_data, "verbose": False}
        else:
            options = {"dynamo": False, "dynamic_axes": {input_name: dyn_axes, OUTPUT_NAME: {0: "batch"}}, "do_constant_folding": True}
        torch.onnx.export(module, (example,), str(path), input_names=[input_name], output_names=[OUTPUT_NAME], opset_version=opset, **options)


def _check_graph_io(model, modality: str, example: torch.Tensor, dyn_axes: dict[int, str]) -> None:
    """The exported graph must declare exactly the contract's input and output."""
    from onnx import TensorProto

    inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise ValueError(
            f"exported graph has {len(inputs)} inputs and {len(model.graph.output)} outputs; "
            "the contract is exactly one of each"
        )
    inp, out = inputs[0], model.graph.output[0]
    if inp.name != INPUT_NAMES[modality] or out.name != OUTPUT_NAME:
        raise ValueError(f"exported graph names its input {inp.name!r} and output {out.name!r}")
    if inp.type.tensor_type.elem_type != TensorProto.UINT8:
        raise ValueError("exported input is not uint8: the module must accept raw uint8 pixels")
    dims = inp.type.tensor_type.shape.dim
    if len(dims) != example.ndim:
        raise ValueError(f"exported input has rank {len(dims)}, expected {example.ndim}")
    for i, d in enumerate(dims):
        if i in dyn_axes and not d.dim_param:
            hint = (
                "pass dynamic_frames=False if the model only works at this T"
                if dyn_axes[i] == "frames"
                else "look for reshapes or loops with a hard-coded batch size"
            )
            raise ValueError(
                f"input axis {i} ({dyn_axes[i]}) was fixed to {d.dim_value} by the export: the model "
                f"depends on a fixed {dyn_axes[i]} size ({hint})"
            )
        if i not in dyn_axes and d.dim_value != example.shape[i]:
            raise ValueError(f"input axis {i} is not the fixed size {example.shape[i]}")
