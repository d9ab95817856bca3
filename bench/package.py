"""``bench package``: check a model, then write the upload archive holding just that model."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bench.checks import CheckReport, check_model
from bench.errors import BenchError
from bench.results import atomic_write

MODALITIES = ("image", "video")


def package(model: str | Path, modality: str, output: str | Path = ".") -> tuple[Path, CheckReport]:
    """Write ``<output>/<modality>_detector.zip`` holding ``<modality>_detector.onnx``; refuse
    (``BenchError``) when the check fails. Returns the archive path and the check report."""
    if modality not in MODALITIES:
        raise BenchError(f"--modality must be image or video, got {modality!r}")
    model = Path(model)
    if model.suffix.lower() != ".onnx":
        raise BenchError(f"package an .onnx file, got {model.name}; `bench run` and `bench check` take the zip directly")
    report = check_model(model, modality)
    if not report.ok:
        failed = [f for f in report.findings if f.verdict == "fail"]
        raise BenchError(f"{model.name} fails {len(failed)} contract rule(s), first: {failed[0].rule}: {failed[0].message}; run `bench check {model}` for all, fix, then package")
    if any(f.rule == "external-data" for f in report.findings):
        raise BenchError(f"{model.name} keeps tensors in external files; the upload zip holds one .onnx: re-save with onnx.save(model, path, save_as_external_data=False)")
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"{modality}_detector.zip"

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.write(model, arcname=f"{modality}_detector.onnx")

    atomic_write(archive, write)
    return archive, report
