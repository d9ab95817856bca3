"""The rules of an ONNX model file: the file or upload zip, the ONNX checker, external data, the
ONNX Runtime session; then the contract's static rules and the dynamic rules on that session."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from bench.checks import FAIL, PASS, WARN, CheckReport
from bench.checks.dynamic import check_dynamic, check_io
from bench.errors import BenchError
from bench.model import ZIP_FIX, not_regular, zip_fix, zip_problems
from bench.report import human_bytes


def check_file(report: CheckReport, path: Path) -> bytes | None:
    """The file exists; a zip holds exactly one plain-named ``.onnx`` of bounded size. Returns the
    ONNX bytes, or None when the model cannot be read."""
    if not path.exists():
        report.add("file", FAIL, f"{path} does not exist", "give the path to an .onnx file or an image_detector.zip / video_detector.zip")
        return None
    if path.is_dir():
        report.add("file", FAIL, f"{path} is a folder", "give the .onnx file inside it")
        return None
    problem = not_regular(path)
    if problem:  # a FIFO or device: never opened (a read could block forever)
        report.add("file", FAIL, problem, "give the path to an .onnx file or an upload .zip")
        return None
    size = path.stat().st_size
    report.info["size_bytes"] = size
    if not zipfile.is_zipfile(path):
        if path.suffix.lower() == ".zip":
            report.add("zip", FAIL, "the file has a .zip extension but is not a zip archive", "re-create it with `bench package`")
            return None
        report.add("file", PASS, f"{path.name}, {human_bytes(size)} on disk", value=size)
        return path.read_bytes()
    from bench.model import read_zip_model

    try:
        with zipfile.ZipFile(path) as zf:
            problems = zip_problems(zf)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        report.add("zip", FAIL, f"corrupt archive ({exc})", "re-create it with `bench package`")
        return None
    if problems:
        for problem in problems:
            fix = zip_fix(problem)
            report.add("zip", FAIL, problem, fix if fix == ZIP_FIX else "re-create the archive with `bench package MODEL.onnx --modality image|video`")
        return None
    try:
        data = read_zip_model(path)
    except BenchError as exc:
        report.add("zip", FAIL, str(exc), ZIP_FIX if "cannot be read" in str(exc) else "re-create it with `bench package`")
        return None
    report.add("zip", PASS, f"one .onnx member, {human_bytes(len(data))} uncompressed ({human_bytes(size)} zipped)", value=len(data))
    return data


def check_onnx(report: CheckReport, path: Path, data: bytes, in_zip: bool):
    """The bytes parse, pass the ONNX checker, and any external data stays inside the model's folder."""
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises DecodeError and others for a bad file
        report.add("onnx", FAIL, f"not a loadable ONNX model ({type(exc).__name__}: {str(exc)[:200]})", "export it again; the file may be truncated")
        return None
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    report.info.update(opset=opsets.get("ai.onnx"), ir_version=model.ir_version, producer=f"{model.producer_name} {model.producer_version}".strip())
    if not check_external_data(report, path, model, in_zip):
        return None
    try:
        if any(_is_external(t) for t in model.graph.initializer):
            onnx.checker.check_model(str(path))
        else:
            onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and friends
        report.add("onnx", FAIL, f"the ONNX checker refuses it: {' '.join(str(exc).split())[:240]}", "fix the graph or re-export with a current exporter")
        return None
    report.add("onnx", PASS, f"passes the ONNX checker; opset {opsets.get('ai.onnx')}, IR version {model.ir_version}", value=opsets.get("ai.onnx"))
    return model


def _is_external(tensor) -> bool:
    import onnx

    return tensor.HasField("data_location") and tensor.data_location == onnx.TensorProto.EXTERNAL


def check_external_data(report: CheckReport, path: Path, model, in_zip: bool) -> bool:
    external = [t for t in model.graph.initializer if _is_external(t)]
    if not external:
        return True
    if in_zip:
        report.add("external-data", FAIL, f"{len(external)} tensors point to external files, which an upload zip cannot hold", "save the model as one file: onnx.save(model, path, save_as_external_data=False) (under 2 GB)")
        return False
    folder = path.resolve().parent
    for tensor in external:
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (folder / location).resolve()
        if not location or Path(location).is_absolute() or not target.is_relative_to(folder):
            report.add("external-data", FAIL, f"tensor {tensor.name!r} points outside the model's folder ({location!r})", "keep external-data files beside the .onnx, with relative names")
            return False
        if not target.is_file():
            report.add("external-data", FAIL, f"tensor {tensor.name!r} needs {location!r}, which is missing", f"put {location} beside {path.name}")
            return False
    report.add("external-data", WARN, f"{len(external)} tensors in external files beside the model, all present", "the upload zip holds one .onnx: save without external data to package it")
    return True


def check_onnx_model(report: CheckReport, path: Path, modality: str | None, batch_size: int) -> None:
    data = check_file(report, path)
    if data is None:
        return
    in_zip = zipfile.is_zipfile(path)
    if check_onnx(report, path, data, in_zip) is None:
        return
    import onnxruntime as ort

    from bench.runtimes.errors import runtime_message
    from bench.runtimes.onnx import CPU, create_session, tensor_infos

    try:  # a plain .onnx by path, so external-data files beside it resolve
        session = create_session(data if in_zip else str(path), [CPU])
    except Exception as exc:  # ONNX Runtime's own exception classes
        message = runtime_message(exc)
        fix = f"set model.ir_version to at most {_max_ir(message)} before saving (or export with an older opset)" if "IR version" in message else "export with an opset and operators ONNX Runtime supports"
        report.add("session", FAIL, f"ONNX Runtime {ort.__version__} cannot load it: {message}", fix)
        return
    spec = check_io(report, tensor_infos(session.get_inputs()), tensor_infos(session.get_outputs()), modality)
    if spec is None:
        return

    def run(batch: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {spec.input_name: batch.astype(spec.input_dtype)})[0])

    check_dynamic(report, spec, run, batch_size, "run the exported model in ONNX Runtime with these shapes and fix the failing node")


def _max_ir(message: str) -> str:
    import re

    found = re.search(r"max supported IR version: (\d+)", message)
    return found.group(1) if found else "10"


