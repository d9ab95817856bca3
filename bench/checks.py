"""``bench check``: the contract rules of SPEC section 1, each a small function returning findings.

Static rules read the graph; dynamic rules run the model on CPU with varied probe inputs. A rule
whose prerequisite failed is reported as ``skip``. The verdict fails when any rule fails.

Batch independence, the rule we apply and why. Each probe sample is scored alone and inside a
batch of all probes. With ``scale = max(1, max |logit|)``:
- pass: ``max |alone - batched| <= 1e-4 * scale``. Batched kernels only reorder float32
  sums; that moves logits by about 1e-6 relative, far below this bound.
- warn: larger differences but no decision flips and at most 5% of the scale. That is what
  dynamic quantisation (int8 with per-batch scales) does: a sample's score depends a little on
  its batch-mates, so the benchmark score moves slightly with batch composition.
- fail: any decision flips (binary or 3-class), or differences above 5% of the scale. The
  verdict on a sample then depends on what else is in its batch: cross-sample leakage
  (BatchNorm left in training mode, normalisation over the batch axis) or quantisation coarse
  enough to change answers. A real int8 ViT-B/16 detector flipped 23 of 128 decisions this way.
"""

from __future__ import annotations

import dataclasses
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import modalities
from bench.contract import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    Finding,
    first_failure,
    io_findings,
    resolve_spec,
)
from bench.errors import BenchError
from bench.model import zip_problems
from bench.report import human_bytes
from bench.spec import ModelSpec, TensorInfo

PASS_TOL = 1e-4
WARN_TOL = 0.05
DYNAMIC_FRAMES = (8, 16)
DEFAULT_BATCH = 16


@dataclass
class CheckReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return first_failure(self.findings) is None

    def add(self, rule: str, verdict: str, message: str, fix: str = "", value=None) -> Finding:
        finding = Finding(rule, verdict, message, fix, value)
        self.findings.append(finding)
        return finding

    def to_json(self) -> dict:
        findings = [{"rule": f.rule, "status": f.verdict, "message": f.message, "fix": f.fix, "value": f.value} for f in self.findings]
        return {"path": self.path, "ok": self.ok, "info": self.info, "findings": findings}

    def text(self) -> str:
        lines = [f"bench check {self.path}"]
        for f in self.findings:
            fix = f" -> fix: {f.fix}" if f.fix and f.verdict in (WARN, FAIL) else ""
            lines.append(f"  {f.verdict.upper():4}  {f.rule}: {f.message}{fix}")
        counts = {s: sum(f.verdict == s for f in self.findings) for s in (PASS, WARN, FAIL, SKIP)}
        verdict = "PASS" if self.ok else "FAIL"
        lines.append(f"{verdict}: {counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed, {counts[SKIP]} skipped")
        return "\n".join(lines)


# --------------------------------------------------------------------------- static rules


def check_file(report: CheckReport, path: Path) -> bytes | None:
    """The file exists; a zip holds exactly one plain-named ``.onnx`` of bounded size. Returns the
    ONNX bytes, or None when the model cannot be read."""
    if not path.exists():
        report.add("file", FAIL, f"{path} does not exist", "give the path to an .onnx file or an image_detector.zip / video_detector.zip")
        return None
    if path.is_dir():
        report.add("file", FAIL, f"{path} is a folder", "give the .onnx file inside it")
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
    except zipfile.BadZipFile as exc:
        report.add("zip", FAIL, f"corrupt archive ({exc})", "re-create it with `bench package`")
        return None
    if problems:
        for problem in problems:
            report.add("zip", FAIL, problem, "re-create the archive with `bench package MODEL.onnx --modality image|video`")
        return None
    try:
        data = read_zip_model(path)
    except BenchError as exc:
        report.add("zip", FAIL, str(exc), "re-create it with `bench package`")
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


def check_io(report: CheckReport, inputs: list[TensorInfo], outputs: list[TensorInfo], modality: str | None) -> ModelSpec | None:
    """The contract's static rules (bench/contract.py), every one that can be judged; the
    resolved spec, or None when any failed."""
    findings = io_findings(inputs, outputs, modality)
    report.findings += findings
    if first_failure(findings) is not None:
        return None
    return resolve_spec(report.path, "", inputs, outputs, modality)


# --------------------------------------------------------------------------- probe inputs


def probe_batch(spec: ModelSpec, n: int, frames: int | None = None, seed: int = 0) -> np.ndarray:
    """``n`` varied probe inputs from the model's modality (bench/modalities/): images, or clips
    of ``frames`` (default: the model's T, else the first of ``DYNAMIC_FRAMES``)."""
    return modalities.get(spec.modality).probes(spec, n, frames or spec.frames or DYNAMIC_FRAMES[0], seed)


# --------------------------------------------------------------------------- dynamic rules


def _run(session, spec: ModelSpec, batch: np.ndarray) -> np.ndarray:
    return np.asarray(session.run(None, {spec.input_name: batch.astype(spec.input_dtype)})[0])


def check_runs(report: CheckReport, session, spec: ModelSpec) -> ModelSpec | None:
    """The model runs on probe batches of 1 and 5 (each frame count of a dynamic frames axis)
    with finite logits of the declared width. Returns the spec with the width seen, or None."""
    clips = "frames" in spec.sizes
    frame_counts = list(DYNAMIC_FRAMES) if clips and spec.frames is None else [spec.frames]
    width = spec.output_width
    for t in frame_counts:
        for b in (1, 5):
            batch = probe_batch(spec, b, t)
            what = f"batch {b}" + (f", {t} frames" if clips else "")
            try:
                out = _run(session, spec, batch)
            except Exception as exc:  # any runtime failure is this rule's verdict
                from bench.runtimes.errors import runtime_message

                report.add("runs", FAIL, f"fails on {what} {list(batch.shape)}: {runtime_message(exc)}", "run the exported model in ONNX Runtime with these shapes and fix the failing node")
                return None
            if out.ndim != 2 or out.shape[0] != b or (width and out.shape[1] != width) or out.shape[1] not in (1, 2, 3):
                report.add("runs", FAIL, f"{what} gives output shape {list(out.shape)}; expected ({b}, {width or 3})", "return (batch, 3) logits")
                return None
            if not np.isfinite(out).all():
                report.add("runs", FAIL, f"{what} gives non-finite logits", "guard divisions and logs in the model")
                return None
            width = int(out.shape[1])
    at = f" at {', '.join(map(str, frame_counts))} frames" if clips else ""
    report.add("runs", PASS, f"runs on random batches of 1 and 5{at}; finite ({width} logits)")
    return dataclasses.replace(spec, output_width=width)


def _decisions(logits: np.ndarray) -> np.ndarray:
    from bench.records import decide

    _, pred, pred_binary = decide(logits)
    return np.stack([pred, pred_binary], 1)


def check_batch_independence(report: CheckReport, session, spec: ModelSpec, n: int = 8) -> None:
    batch = probe_batch(spec, n, seed=1)
    together = _run(session, spec, batch)
    alone = np.concatenate([_run(session, spec, batch[i : i + 1]) for i in range(n)])
    scale = max(1.0, float(np.abs(alone).max()))
    diff = float(np.abs(alone - together).max())
    flips = int((_decisions(alone) != _decisions(together)).any(axis=1).sum())
    value = {"max_abs_diff": diff, "scale": scale, "flips": flips, "samples": n}
    msg = f"max |alone - in batch of {n}| = {diff:.3g} (logit scale {scale:.3g}), {flips} of {n} decisions flip"
    if flips or diff > WARN_TOL * scale:
        report.add("batch-independence", FAIL, msg + ": a sample's verdict depends on its batch-mates", "export in eval mode; no statistics over the batch axis; prefer static over dynamic quantisation", value)
    elif diff > PASS_TOL * scale:
        report.add("batch-independence", WARN, msg + ": scores depend a little on the batch (dynamic quantisation does this)", "static quantisation or float weights make scores batch-independent", value)
    else:
        report.add("batch-independence", PASS, msg, value=value)


def check_determinism(report: CheckReport, session, spec: ModelSpec) -> None:
    batch = probe_batch(spec, 4, seed=2)
    first, second = _run(session, spec, batch), _run(session, spec, batch)
    diff = float(np.abs(first - second).max())
    if diff == 0:
        report.add("determinism", PASS, "two identical calls give identical logits", value=diff)
    else:
        report.add("determinism", FAIL, f"two identical calls differ by up to {diff:.3g}", "remove random ops (dropout in training mode, random noise) from the exported graph", diff)


def check_extremes(report: CheckReport, session, spec: ModelSpec) -> None:
    base = probe_batch(spec, 2, seed=3)
    batch = np.stack([np.zeros_like(base[0]), np.full_like(base[0], 255)])
    out = _run(session, spec, batch)
    if np.isfinite(out).all():
        report.add("extremes", PASS, "all-black and all-white inputs give finite logits")
    else:
        bad = [name for name, row in zip(("all-black", "all-white"), out) if not np.isfinite(row).all()]
        report.add("extremes", FAIL, f"{' and '.join(bad)} input gives non-finite logits {out.tolist()}", "guard divisions by the image's std or mean (add an epsilon)")


def check_latency(report: CheckReport, session, spec: ModelSpec, batch_size: int) -> None:
    times = {}
    for b in (1, batch_size):
        batch = probe_batch(spec, b, seed=4)
        _run(session, spec, batch)  # warm-up
        runs = []
        deadline = time.perf_counter() + 1.0
        while len(runs) < 3 or (time.perf_counter() < deadline and len(runs) < 20):
            start = time.perf_counter()
            _run(session, spec, batch)
            runs.append(time.perf_counter() - start)
        times[b] = float(np.median(runs)) * 1000.0
    report.info["latency_ms"] = times
    report.add("latency", PASS, f"CPU estimate: {times[1]:.1f} ms at batch 1, {times[batch_size]:.1f} ms at batch {batch_size} ({times[batch_size] / batch_size:.2f} ms per sample)", value=times)


# --------------------------------------------------------------------------- the whole check


def check_model(path: str | Path, modality: str | None = None, batch_size: int = DEFAULT_BATCH) -> CheckReport:
    """Run every rule on ``path`` (an ``.onnx`` or upload ``.zip``); never raises for a bad model."""
    path = Path(path)
    report = CheckReport(str(path))
    data = check_file(report, path)
    if data is None:
        return _skip_rest(report)
    in_zip = zipfile.is_zipfile(path)
    if check_onnx(report, path, data, in_zip) is None:
        return _skip_rest(report)
    import onnxruntime as ort

    from bench.runtimes.errors import runtime_message
    from bench.runtimes.onnx import CPU, create_session, tensor_infos

    try:  # a plain .onnx by path, so external-data files beside it resolve
        session = create_session(data if in_zip else str(path), [CPU])
    except Exception as exc:  # ONNX Runtime's own exception classes
        message = runtime_message(exc)
        fix = f"set model.ir_version to at most {_max_ir(message)} before saving (or export with an older opset)" if "IR version" in message else "export with an opset and operators ONNX Runtime supports"
        report.add("session", FAIL, f"ONNX Runtime {ort.__version__} cannot load it: {message}", fix)
        return _skip_rest(report)
    spec = check_io(report, tensor_infos(session.get_inputs()), tensor_infos(session.get_outputs()), modality)
    if spec is not None:
        spec = check_runs(report, session, spec)
    if spec is None:
        return _skip_rest(report)
    report.info.update(modality=spec.modality, height=spec.height, width=spec.width, frames=spec.frames, output_width=spec.output_width)
    check_batch_independence(report, session, spec)
    check_determinism(report, session, spec)
    check_extremes(report, session, spec)
    check_latency(report, session, spec, batch_size)
    return report


def _max_ir(message: str) -> str:
    import re

    found = re.search(r"max supported IR version: (\d+)", message)
    return found.group(1) if found else "10"


DYNAMIC_RULES = ("runs", "batch-independence", "determinism", "extremes", "latency")


def _skip_rest(report: CheckReport) -> CheckReport:
    done = {f.rule for f in report.findings}
    for rule in DYNAMIC_RULES:
        if rule not in done:
            report.add(rule, SKIP, "not run: an earlier rule failed")
    return report
