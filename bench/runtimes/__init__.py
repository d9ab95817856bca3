"""The runtime seam: a backend loads a model file or folder, resolves its ``ModelSpec`` through
the contract, warms up, runs batches, and says which environment really ran it.

Backends are registered by name with lazy ``"module:Class"`` targets; the first whose
``accepts(path)`` says yes loads the model. Adding a backend is one new module and one line in
``REGISTRY``: scoring, the pipeline, records and reports see only this protocol.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.spec import ModelSpec

REGISTRY: dict[str, str] = {  # asked in order: a submission zip is a zip too, so it goes first
    "pytorch": "bench.runtimes.pytorch:TorchRuntime",
    "onnx": "bench.runtimes.onnx:OnnxRuntime",
}


class Runtime(Protocol):
    spec: ModelSpec
    environment: dict  # captured at load: provider/device that really run, library versions
    findings: list  # the contract's findings on the model's inputs and outputs (none failing)

    @classmethod
    def accepts(cls, path: Path) -> bool: ...

    @classmethod
    def load(cls, path: str, provider: str = "auto", threads: int = 0, modality: str | None = None) -> Runtime: ...

    def run(self, batch: np.ndarray) -> np.ndarray: ...


def backend(name: str) -> type:
    module, _, attr = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def load_runtime(path: str, provider: str = "auto", threads: int = 0, modality: str | None = None) -> Runtime:
    """Load ``path`` with the first registered backend that accepts it."""
    p = Path(path)
    if not p.exists():
        raise BenchError(f"model not found: {p}; give the path to an .onnx file or an image_detector.zip / video_detector.zip")
    for name in REGISTRY:
        cls = backend(name)
        if cls.accepts(p):
            return cls.load(str(path), provider, threads, modality)
    raise BenchError(f"no runtime can load {p}; give an .onnx file, an upload .zip holding one, or a submission folder (model_config.yaml, model.py, *.safetensors) or its zip")


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), else what the platform says."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def warmup(runtime: Runtime, batch_shape: tuple[int, ...], count: int, seed: int = 0, dtype=np.uint8) -> int:
    """Run ``count`` batches of random inputs (at least one) of the batch buffer's ``dtype``:
    pixels 0..255, or float32 waveforms in [-1, 1]; return the model's output width.

    The output shape is checked here, before any data is touched."""
    from bench.runtimes.errors import runtime_message

    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.uint8:
        batch = rng.integers(0, 256, size=batch_shape, dtype=np.uint8)
    else:
        batch = rng.uniform(-1.0, 1.0, size=batch_shape).astype(dtype)
    for _ in range(max(1, count)):
        try:
            logits = np.asarray(runtime.run(batch))
        except Exception as exc:  # a model that cannot run at all is refused before scoring
            raise BenchError(f"model fails on a batch of shape {list(batch_shape)}: {runtime_message(exc)}; check it with `bench check`") from None
    if logits.ndim != 2 or logits.shape[0] != batch_shape[0] or logits.shape[1] not in (1, 2, 3):
        raise BenchError(f"model output has shape {list(logits.shape)} for a batch of {batch_shape[0]}; the contract needs (batch, 3) logits [real, synthetic, semisynthetic]")
    return int(logits.shape[1])
