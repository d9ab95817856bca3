"""Verify an exported model: compare ONNX Runtime with PyTorch and run bench's contract check.

``verify`` returns a ``VerifyReport`` of ``CaseResult`` comparisons (and raises
``ExportVerificationError`` on failure); ``export_and_verify`` exports, verifies and prints it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.contract import resolve_spec
from bench.errors import BenchError
from bench.export.onnx_export import DEFAULT_OPSET, export_image, export_video
from bench.modalities import get
from bench.runtimes.onnx import CPU, create_session, tensor_infos


class ExportVerificationError(BenchError):
    """The exported ONNX model disagrees with PyTorch, or fails the bench contract check."""


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
                if f.verdict != "pass":
                    lines.append(f"    [{f.verdict}] {f.rule}: {f.message}")
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
    unless ``raise_on_failure=False``; always when the graph's I/O breaks the contract's static
    rules (bench/contract.py: the same answer as ``bench run``), since nothing can be compared.
    """
    path = Path(path)
    sess = create_session(str(path), [CPU])
    try:  # the contract's rules (bench/contract.py), the same answer as `bench run` and `bench check`
        spec = resolve_spec(str(path), "", tensor_infos(sess.get_inputs()), tensor_infos(sess.get_outputs()), modality)
    except BenchError as exc:
        raise ExportVerificationError(f"{path.name} breaks the bench contract: {exc}") from None
    layout = get(spec.modality).layout
    t_values: list[int | None] = list(frames) if "frames" in spec.sizes and spec.frames is None else [spec.frames]

    report = VerifyReport(path=str(path), modality=modality)
    rng = np.random.default_rng(seed)
    module.eval()
    for b in batch_sizes:
        for t in t_values:
            x_shape = tuple(b if axis.dynamic else spec.sizes[axis.name] or t for axis in layout.axes)
            x = rng.integers(0, 256, size=x_shape, dtype=np.uint8)
            with torch.no_grad():
                ref = module(torch.from_numpy(x)).detach().cpu().to(torch.float32).numpy()
            got = sess.run([spec.output_name], {spec.input_name: x.astype(spec.input_dtype)})[0]
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
    from bench.checks import check_model

    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    result = check_model(str(path), modality=modality, **kwargs)
    report.check_ok = result.ok
    report.check_findings = list(result.findings)


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
