"""The ONNX Runtime session: providers, threads, I/O binding on CUDA, warm-up, and the provider
that really runs (ONNX Runtime falls back from CUDA to CPU silently, so we check)."""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from bench.errors import BenchError
from bench.model import ModelSpec, inspect_model, model_source

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def _options(threads: int) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # errors only: a failed CUDA probe is reported by us, in one line
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def ort_message(exc: BaseException) -> str:
    """ONNX Runtime's message without its source locations and C++ signatures, on one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"\S+\.(?:cc|h|cpp):\d+ \S+?\(.*?\)(?: const)? ", "", text)
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    return text[:300]


def _create(model: str | bytes, providers: list[str], threads: int, name: str) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(model, sess_options=_options(threads), providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception classes for a bad model
        raise BenchError(f"ONNX Runtime cannot load model {name}: {ort_message(exc)}; check the file with `bench check`") from None


def device_name(provider: str) -> str:
    if provider == CUDA:
        try:
            import subprocess

            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "-i", "0"],
                capture_output=True, text=True, timeout=10, check=False,
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError):
            pass
        return "CUDA device 0"
    return _cpu_model() or platform.processor() or platform.machine() or "cpu"


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


@dataclass
class Runtime:
    """A loaded model: its spec, the session, and the provider that really runs it."""

    spec: ModelSpec
    session: ort.InferenceSession
    provider: str
    threads: int

    @classmethod
    def load(cls, path: str, provider: str = "auto", threads: int = 0, modality: str | None = None) -> Runtime:
        data = model_source(path)
        name = str(path)
        if provider == "cpu":
            session = _create(data, [CPU], threads, name)
        else:
            wanted = CUDA in ort.get_available_providers()
            ort.set_default_logger_severity(4)  # a failed CUDA probe is reported by our one-line notice
            try:
                session = _create(data, [CUDA, CPU] if wanted else [CPU], threads, name)
            finally:
                ort.set_default_logger_severity(2)
            running = session.get_providers()[0]
            if running != CUDA:
                why = "this onnxruntime build has no CUDA provider" if not wanted else "CUDA did not initialise (no GPU or CUDA libraries found)"
                if provider == "cuda":
                    raise BenchError(f"--provider cuda asked for, but {why}; install onnxruntime-gpu with a matching CUDA, or use --provider cpu")
                print(f"notice: running on CPU: {why}", file=sys.stderr)
        spec = inspect_model(path, session.get_inputs(), session.get_outputs(), modality)
        return cls(spec=spec, session=session, provider=session.get_providers()[0], threads=threads)

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.spec.input_dtype)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits for one batch (uint8 buffer, cast when the graph declares another dtype).

        On CUDA the batch goes through I/O binding: one host-to-device copy of the bytes, the
        outputs copied back before this returns (so timing covers copy in, compute, copy out)."""
        if batch.dtype != self.input_dtype:
            batch = batch.astype(self.input_dtype)
        if self.provider == CUDA:
            binding = self.session.io_binding()
            binding.bind_cpu_input(self.spec.input_name, batch)
            binding.bind_output(self.spec.output_name, "cpu")
            self.session.run_with_iobinding(binding)
            return binding.copy_outputs_to_cpu()[0]
        return self.session.run([self.spec.output_name], {self.spec.input_name: batch})[0]

    def warmup(self, batch_shape: tuple[int, ...], count: int, seed: int = 0) -> int:
        """Run ``count`` untimed batches of random pixels; return the output width the model gives.

        The output shape is checked here, before any data is touched."""
        rng = np.random.default_rng(seed)
        batch = rng.integers(0, 256, size=batch_shape, dtype=np.uint8)
        for _ in range(max(1, count)):
            try:
                logits = np.asarray(self.run(batch))
            except Exception as exc:  # a model that cannot run at all is refused before scoring
                raise BenchError(f"model fails on a batch of shape {list(batch_shape)}: {ort_message(exc)}; check it with `bench check`") from None
        if logits.ndim != 2 or logits.shape[0] != batch_shape[0] or logits.shape[1] not in (1, 2, 3):
            raise BenchError(
                f"model output has shape {list(logits.shape)} for a batch of {batch_shape[0]}; the contract needs (batch, 3) logits [real, synthetic, semisynthetic]"
            )
        return int(logits.shape[1])

    def environment(self) -> dict:
        return {
            "provider": self.provider,
            "providers": self.session.get_providers(),
            "device": device_name(self.provider),
            "onnxruntime": ort.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "threads": self.threads,
        }
