"""ONNX Runtime: the one session factory (used by run, check, profile and export verification),
providers, threads, I/O binding on CUDA, and the provider that really runs (ONNX Runtime falls
back from CUDA to CPU silently, so we check after creating the session)."""

from __future__ import annotations

import platform
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench.contract import Finding, io_findings, resolve_spec
from bench.errors import BenchError
from bench.messages import notice
from bench.model import model_source, sha256_file
from bench.runtimes import cpu_name
from bench.runtimes.errors import runtime_message
from bench.spec import ModelSpec, TensorInfo

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
ONNX_DTYPES = {
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
}



def session_options(threads: int = 0) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # errors only: a failed CUDA probe is reported by us, in one line
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def create_session(model: str | bytes, providers: list[str], threads: int = 0) -> ort.InferenceSession:
    """An ONNX Runtime session (raises ONNX Runtime's own exceptions; callers word them)."""
    ort.set_default_logger_severity(4)  # a failed CUDA probe is reported by our one-line notice
    try:
        return ort.InferenceSession(model, sess_options=session_options(threads), providers=providers)
    finally:
        ort.set_default_logger_severity(2)


def tensor_infos(values) -> list[TensorInfo]:
    """ONNX Runtime's view of graph inputs or outputs as contract ``TensorInfo``s."""
    return [TensorInfo(v.name, tuple(d if isinstance(d, (int, str)) else None for d in v.shape), ONNX_DTYPES.get(v.type, v.type)) for v in values]


def device_name(provider: str) -> str:
    if provider == CUDA:
        try:
            import subprocess

            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "-i", "0"], capture_output=True, text=True, timeout=10, check=False)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError):
            pass
        return "CUDA device 0"
    return cpu_name()


def open_session(path: str, provider: str = "auto", threads: int = 0) -> ort.InferenceSession:
    """A session on the provider asked for: ``cpu``; ``cuda`` (an error when CUDA does not
    really run); ``auto`` (CUDA when it really initialises, else CPU with a one-line notice)."""
    data = model_source(path)
    wanted = provider != "cpu" and CUDA in ort.get_available_providers()
    try:
        session = create_session(data, [CUDA, CPU] if wanted else [CPU], threads)
    except Exception as exc:  # onnxruntime raises its own exception classes for a bad model
        raise BenchError(f"ONNX Runtime cannot load model {path}: {runtime_message(exc)}; check the file with `bench check`") from None
    if provider != "cpu" and session.get_providers()[0] != CUDA:
        why = "this onnxruntime build has no CUDA provider" if CUDA not in ort.get_available_providers() else "CUDA did not initialise (no GPU or CUDA libraries found)"
        if provider == "cuda":
            raise BenchError(f"--provider cuda asked for, but {why}; install onnxruntime-gpu with a matching CUDA, or use --provider cpu")
        notice(f"running on CPU: {why}")
    return session


class OnnxRuntime:
    """A loaded ONNX model: its spec, the session, and the provider that really runs it."""

    def __init__(self, spec: ModelSpec, session: ort.InferenceSession, threads: int, findings: list[Finding]):
        self.spec = spec
        self.findings = findings
        self.session = session
        self.provider = session.get_providers()[0]
        self.threads = threads
        self._dtype = np.dtype(spec.input_dtype)
        self.environment = {
            "runtime": "onnxruntime",
            "provider": self.provider,
            "providers": session.get_providers(),
            "device": device_name(self.provider),
            "onnxruntime": ort.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "threads": threads,
        }

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.is_file() and (path.suffix.lower() in (".onnx", ".zip") or zipfile.is_zipfile(path))

    @classmethod
    def load(cls, path: str, provider: str = "auto", threads: int = 0, modality: str | None = None) -> OnnxRuntime:
        session = open_session(path, provider, threads)
        inputs, outputs = tensor_infos(session.get_inputs()), tensor_infos(session.get_outputs())
        spec = resolve_spec(str(Path(path).resolve()), sha256_file(Path(path)), inputs, outputs, modality)
        return cls(spec, session, threads, io_findings(inputs, outputs, spec.modality))

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits for one batch (uint8 buffer, cast when the graph declares another dtype).

        On CUDA the batch goes through I/O binding: one host-to-device copy of the bytes, the
        outputs copied back before this returns (so timing covers copy in, compute, copy out)."""
        if batch.dtype != self._dtype:
            batch = batch.astype(self._dtype)
        if self.provider == CUDA:
            binding = self.session.io_binding()
            binding.bind_cpu_input(self.spec.input_name, batch)
            binding.bind_output(self.spec.output_name, "cpu")
            self.session.run_with_iobinding(binding)
            return binding.copy_outputs_to_cpu()[0]
        return self.session.run([self.spec.output_name], {self.spec.input_name: batch})[0]
