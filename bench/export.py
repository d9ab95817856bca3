"""Export PyTorch detectors to the bench model contract (SPEC section 1) and verify the result.

The contract: one ``uint8`` input of raw pixels, ``(batch, 3, H, W)`` for images or
``(batch, frames, 3, H, W)`` for video, with fixed H and W and dynamic batch (and frames);
one output ``logits`` of shape ``(batch, 3)`` ordered ``[real, synthetic, semisynthetic]``.
The model does its own normalisation and, for video, its own temporal aggregation.

Typical use::

    from bench.export import ImageDetector, export_and_verify

    model = ImageDetector(my_backbone)            # backbone: float (B,3,H,W) -> (B,3) logits
    export_and_verify(model, "models/image_detector.onnx", "image", height=224, width=224)

This module needs PyTorch (``pip install 'bench[export]'``); the rest of ``bench`` does not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import BenchError

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "bench.export needs PyTorch: install the export extra, e.g. pip install 'bench[export]'"
    ) from exc

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

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLASSES = ("real", "synthetic", "semisynthetic")

DEFAULT_OPSET = 18  # the dynamo exporter's native opset; ONNX Runtime 1.20+ runs it
MAX_IR_VERSION = 10  # what current ONNX Runtime releases (1.20 .. 1.31) load
SINGLE_FILE_LIMIT = 2 << 30  # protobuf's hard limit for a single .onnx file
MAX_FRAMES = 64  # the harness caps T here (SPEC section 1)
EXAMPLE_BATCH = 2  # torch.export specialises dimensions of size 0 and 1; never trace with them
INPUT_NAMES = {"image": "image", "video": "video"}
OUTPUT_NAME = "logits"


class ExportVerificationError(BenchError):
    """The exported ONNX model disagrees with PyTorch, or fails the bench contract check."""


# ----------------------------------------------------------------------------------------------
# Wrappers: raw uint8 pixels in, 3 logits out
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Verification
# ----------------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    """One comparison of PyTorch and ONNX Runtime logits on the same random uint8 batch."""

    batch: int
    frames: int | None
    max_abs_diff: float
    bound: float
    ok: bool

    def label(self) -> str:
        return f"batch={self.batch}" + (f" frames={self.frames}" if self.frames is not None else "")


@dataclass
class VerifyReport:
    path: str
    modality: str
    cases: list[CaseResult] = field(default_factory=list)
    check_ok: bool | None = None  # None when the contract check was not run
    check_findings: list = field(default_factory=list)
    check_note: str = ""

    @property
    def numerics_ok(self) -> bool:
        return bool(self.cases) and all(c.ok for c in self.cases)

    @property
    def max_abs_diff(self) -> float:
        return max((c.max_abs_diff for c in self.cases), default=float("nan"))

    @property
    def ok(self) -> bool:
        return self.numerics_ok and self.check_ok is not False

    def summary(self) -> str:
        lines = [f"verify {self.path} ({self.modality}): PyTorch vs ONNX Runtime (CPU)"]
        for c in self.cases:
            verdict = "ok" if c.ok else "MISMATCH"
            lines.append(
                f"  {c.label():<22} max |diff| {c.max_abs_diff:.2e} (bound {c.bound:.1e})  {verdict}"
            )
        if self.check_ok is None:
            lines.append(f"  contract check: not run ({self.check_note})")
        else:
            lines.append(f"  contract check: {'pass' if self.check_ok else 'FAIL'}")
            for f in self.check_findings:
                status = getattr(f, "status", "?")
                if status != "pass":
                    lines.append(f"    [{status}] {getattr(f, 'rule', '?')}: {getattr(f, 'message', '')}")
        lines.append(f"  verdict: {'OK' if self.ok else 'FAILED'}")
        return "\n".join(lines)

    __str__ = summary


def verify(
    module: nn.Module,
    path: str | Path,
    modality: str,
    batch_sizes: Sequence[int] = (1, 4),
    frames: Sequence[int] = (8, 16),
    atol: float = 1e-4,
    rtol: float = 1e-4,
    *,
    seed: int = 0,
    check: bool = True,
    check_batch_size: int | None = None,
    raise_on_failure: bool = True,
) -> VerifyReport:
    """Compare the exported model with ``module`` and run bench's contract check on it.

    For each batch size (and, for video, each frame count) one random uint8 batch (fixed
    ``seed``) goes through PyTorch (eval, no_grad) and ONNX Runtime (CPUExecutionProvider).
    A case passes when ``max |torch - ort| <= atol + rtol * max |torch|``: float32 kernels
    differ in summation order, so the error grows with the logits' magnitude; the defaults
    are ~100x the differences seen on small CNNs (about 1e-6). Raises
    ``ExportVerificationError`` (with the report) on a mismatch or a failed contract check
    unless ``raise_on_failure=False``.
    """
    import onnxruntime as ort

    if modality not in ("image", "video"):
        raise ValueError(f"modality must be 'image' or 'video', not {modality!r}")
    path = Path(path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = list(inp.shape)
    rank = 5 if modality == "video" else 4
    if len(shape) != rank:
        raise ValueError(f"{path.name} has a rank-{len(shape)} input; a {modality} model has rank {rank}")
    h, w = shape[-2], shape[-1]
    if not (isinstance(h, int) and isinstance(w, int)):
        raise ValueError(f"{path.name} declares dynamic H/W {shape[-2:]}; export with fixed sizes")
    dtype = {"tensor(uint8)": np.uint8, "tensor(float)": np.float32}.get(inp.type)
    if dtype is None:
        raise ValueError(f"{path.name} has input type {inp.type}; expected uint8")
    if modality == "video":
        t_fixed = shape[1] if isinstance(shape[1], int) else None
        t_values: list[int | None] = [t_fixed] if t_fixed else list(frames)
    else:
        t_values = [None]

    report = VerifyReport(path=str(path), modality=modality)
    rng = np.random.default_rng(seed)
    module.eval()
    for b in batch_sizes:
        for t in t_values:
            x_shape = (b, t, 3, h, w) if t is not None else (b, 3, h, w)
            x = rng.integers(0, 256, size=x_shape, dtype=np.uint8)
            with torch.no_grad():
                ref = module(torch.from_numpy(x)).detach().cpu().to(torch.float32).numpy()
            got = sess.run(None, {inp.name: x.astype(dtype)})[0]
            if got.shape != ref.shape:
                diff = float("inf")
            else:
                diff = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
            scale = float(np.max(np.abs(ref))) if ref.size else 0.0
            bound = atol + rtol * scale
            ok = bool(np.isfinite(diff) and np.all(np.isfinite(got)) and diff <= bound)
            report.cases.append(CaseResult(batch=b, frames=t, max_abs_diff=diff, bound=bound, ok=ok))

    if check:
        _run_contract_check(report, path, modality, check_batch_size)
    else:
        report.check_note = "disabled"

    if raise_on_failure and not report.ok:
        raise ExportVerificationError(
            "the exported model does not match PyTorch or fails the contract:\n" + report.summary()
        )
    return report


def _run_contract_check(report: VerifyReport, path: Path, modality: str, batch_size: int | None) -> None:
    try:
        from bench.check import check_model
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench.check",):
            raise
        report.check_note = "bench.check is not available in this version of bench"
        warnings.warn("bench.check is not available: the contract check was skipped", stacklevel=3)
        return
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    result = check_model(str(path), modality=modality, **kwargs)
    report.check_ok = bool(result.ok)
    report.check_findings = list(getattr(result, "findings", []))


def export_and_verify(
    module: nn.Module,
    path: str | Path,
    modality: str,
    height: int = 224,
    width: int = 224,
    *,
    frames: int = 8,
    dynamic_frames: bool = True,
    opset: int = DEFAULT_OPSET,
    exporter: str = "dynamo",
    batch_sizes: Sequence[int] = (1, 4),
    verify_frames: Sequence[int] = (8, 16),
    atol: float = 1e-4,
    rtol: float = 1e-4,
    check_batch_size: int | None = None,
    quiet: bool = False,
) -> Path:
    """Export ``module`` to ``path``, verify it against PyTorch, run the contract check and
    print a short report (max |diff| per case, the check's verdict). Returns the path.

    ``frames`` is the T used for tracing a video model; ``verify_frames`` the T values the
    exported graph is compared at (a graph with a fixed T is compared at that T only).
    Raises ``ExportVerificationError`` when verification fails; the file is left in place
    so it can be inspected with ``bench check``."""
    if modality == "image":
        out = export_image(module, path, height, width, opset=opset, exporter=exporter)
    elif modality == "video":
        out = export_video(
            module, path, height, width, frames, dynamic_frames=dynamic_frames, opset=opset, exporter=exporter
        )
    else:
        raise ValueError(f"modality must be 'image' or 'video', not {modality!r}")
    report = verify(
        module,
        out,
        modality,
        batch_sizes=batch_sizes,
        frames=verify_frames,
        atol=atol,
        rtol=rtol,
        check_batch_size=check_batch_size,
        raise_on_failure=False,
    )
    if not quiet:
        size_kb = out.stat().st_size / 1024
        print(f"exported {out} ({size_kb:.0f} KB)")
        print(report.summary())
    if not report.ok:
        raise ExportVerificationError(
            "the exported model does not match PyTorch or fails the contract:\n" + report.summary()
        )
    return out
