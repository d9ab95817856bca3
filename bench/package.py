"""``bench package``: check a model, then write the upload archive holding just that model: an
ONNX model as ``<modality>_detector.zip``, a submission folder as ``<folder>.zip`` holding
model_config.yaml, model.py, its weights and config.json (when present), at the top level."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bench.checks import CheckReport, check_model
from bench.errors import BenchError
from bench.results import atomic_write


def package(model: str | Path, modality: str | None = None, output: str | Path = ".") -> tuple[Path, CheckReport]:
    """Write the upload archive into ``output``; refuse (``BenchError``) when the check fails.
    Returns the archive path and the check report."""
    from bench import modalities
    from bench.submission import is_submission

    if is_submission(Path(model)):
        return package_submission(Path(model), output)
    if modality not in modalities.names():
        raise BenchError(f"--modality must be one of {', '.join(modalities.names())}, got {modality!r}")
    model = Path(model)
    if model.suffix.lower() != ".onnx":
        raise BenchError(f"package an .onnx file, got {model.name}; `bench run` and `bench check` take the zip directly")
    report = _checked(model, modality)
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


def _checked(model: Path, modality: str | None) -> CheckReport:
    report = check_model(model, modality)
    if not report.ok:
        failed = [f for f in report.findings if f.verdict == "fail"]
        raise BenchError(f"{model.name} fails {len(failed)} rule(s), first: {failed[0].rule}: {failed[0].message}; run `bench check {model}` for all, fix, then package")
    return report


def package_submission(folder: Path, output: str | Path = ".") -> tuple[Path, CheckReport]:
    """``<output>/<folder name>.zip`` of a checked submission folder (a zip is already packaged)."""
    from bench.submission import open_submission

    if not folder.is_dir():
        raise BenchError(f"{folder} is already a submission zip; `bench check {folder}` checks it, and it uploads as it is")
    report = _checked(folder, None)
    submission = open_submission(folder)
    members = [submission.root / "model_config.yaml", submission.model_py, submission.weights]
    members += [submission.config_json] if submission.config_json else []
    target = Path(output)
    target.mkdir(parents=True, exist_ok=True)
    archive = target / f"{folder.resolve().name}.zip"

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for member in members:
                zf.write(member, arcname=member.name)

    atomic_write(archive, write)
    return archive, report
