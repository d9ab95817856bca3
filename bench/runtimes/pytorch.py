"""PyTorch submissions (``model_config.yaml`` + ``model.py`` + ``*.safetensors``, a folder or a zip
of it), loaded as the leaderboard loads them: ``load_model(weights_path, **model_keys)`` (falling
back to ``load_model(weights_path, num_classes=...)`` on a TypeError), then
``model.to(device, dtype).eval()``; ``uint8`` batches moved to the device (pinned memory on
CUDA), ``torch.inference_mode``, logits to float32.

Loading a submission runs its code. The static rules applied first (bench/submission/static.py)
are the leaderboard's, not a sandbox: a submission that breaks them is refused before any of its
code runs."""

from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

import numpy as np

from bench.contract import FAIL, first_failure, io_findings, resolve_spec
from bench.errors import BenchError
from bench.messages import notice
from bench.runtimes import cpu_name
from bench.spec import TensorInfo

DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}
INSTALL = 'pip install -e ".[torch]"'
SUBMISSION_WIDTHS = (2, 3)  # 2 classes [real, synthetic] is the submission standard, 3 accepted


def import_torch():
    try:
        import torch
    except ImportError:
        raise BenchError(f"scoring a PyTorch submission needs torch, which is not installed; install the extra: {INSTALL}") from None
    return torch


def submission_io(config) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """The submission's input and output as the contract sees them, from its model_config.yaml:
    ``uint8`` pixels of the resize (dynamic when absent: 224 used), a dynamic frames axis for
    video (its num_frames is a preprocessing hint, overridable), float32 audio of
    ``sample_rate * duration_seconds`` samples, ``num_classes`` logits."""
    from bench import modalities

    h, w = (config.height, config.width) if config.height else ("height", "width")
    layout = modalities.get(config.modality).layout
    sizes = {"batch": "batch", "channels": 3, "height": h, "width": w, "samples": config.num_samples or "samples"}
    shape = tuple(sizes.get(axis.name, axis.name) for axis in layout.axes)
    return [TensorInfo("input", shape, layout.dtypes[0])], [TensorInfo("logits", ("batch", config.num_classes), "float32")]


def hints(config) -> dict:
    """The preprocessing the submission asks for, as run-config keys (bench/config.py)."""
    out = {}
    if config.sample_rate:
        out["sample_rate"] = int(config.sample_rate)
    if config.num_frames:
        out["frames"] = config.num_frames
    if config.frame_rate:
        out["target_fps"] = float(config.frame_rate)
        out["frame_rule"] = "fps"
    return out


def refuse_static(submission) -> None:
    """The leaderboard's static rules over model.py, before any of its code runs."""
    from bench.submission.static import static_findings

    failing = first_failure(static_findings(submission.model_py.read_text(errors="replace"), "model.py"))
    if failing is not None:
        raise BenchError(f"{failing.message}; {failing.fix} (the network rejects it; `bench check {submission.source}` lists every rule)")


def load_module(submission, torch):
    """Import model.py under a name of its own and return ``load_model``'s model."""
    name = f"bench_submission_{submission.sha256[:12]}"
    spec = importlib.util.spec_from_file_location(name, submission.model_py)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the submission's own code failed: its author's fix
        raise BenchError(f"model.py of {submission.source} fails at import: {type(exc).__name__}: {exc}; run it with `python model.py` and fix it") from None
    if not callable(getattr(module, "load_model", None)):
        raise BenchError(f"model.py of {submission.source} defines no load_model(weights_path, num_classes=2, **keys); add it")
    keys = dict(submission.config.model_keys)
    try:
        try:
            model = module.load_model(str(submission.weights), **keys)
        except TypeError:  # the leaderboard retries with the minimal signature
            model = module.load_model(str(submission.weights), num_classes=submission.config.num_classes)
    except (Exception, SystemExit) as exc:
        raise BenchError(f"load_model of {submission.source} fails: {type(exc).__name__}: {exc}; fix model.py or the weights") from None
    if not isinstance(model, torch.nn.Module):
        raise BenchError(f"load_model of {submission.source} returned {type(model).__name__}, not a torch.nn.Module; return the network")
    return model


def pick_device(torch, provider: str):
    if provider == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    why = "this torch build has no CUDA" if not torch.backends.cuda.is_built() else "CUDA did not initialise (no GPU or CUDA libraries found)"
    if provider == "cuda":
        raise BenchError(f"--provider cuda asked for, but {why}; install a CUDA build of torch, or use --provider cpu")
    notice(f"running on CPU: {why}")
    return torch.device("cpu")


def logits_of(output, torch):
    """The logits tensor of what forward returned (a tensor, ``.logits``, a dict with ``logits``
    or ``output``, or a one-element tuple), as the leaderboard reads it."""
    if hasattr(output, "logits"):
        output = output.logits
    elif isinstance(output, dict):
        key = "logits" if "logits" in output else "output" if "output" in output else next(iter(output)) if len(output) == 1 else None
        if key is None:
            raise ValueError(f"forward returned a dict without 'logits' or 'output' ({sorted(output)}); return the logits tensor")
        output = output[key]
    elif isinstance(output, (tuple, list)):
        if len(output) != 1:
            raise ValueError(f"forward returned a {type(output).__name__} of {len(output)} items; return the logits tensor")
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ValueError(f"forward returned {type(output).__name__}, not a tensor of logits")
    return output


class TorchRuntime:
    """A loaded submission: its spec (through the contract), the module on its device and dtype."""

    def __init__(self, spec, model, device, dtype, torch, findings, submission):
        self.spec = spec
        self.findings = findings
        self._model = model
        self._device = device
        self._torch = torch
        self.environment = {
            "runtime": "torch",
            "torch": torch.__version__,
            "format": "safetensors submission",
            "dtype": str(dtype).removeprefix("torch."),
            "provider": "cuda" if device.type == "cuda" else "cpu",
            "device": torch.cuda.get_device_name(0) if device.type == "cuda" else cpu_name(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "threads": torch.get_num_threads(),
            "submission": {"name": submission.config.name, "version": submission.config.version, "sha256": submission.sha256},
        }

    @classmethod
    def accepts(cls, path: Path) -> bool:
        from bench.submission import is_submission

        return is_submission(path)

    @classmethod
    def load(cls, path: str, provider: str = "auto", threads: int = 0, modality: str | None = None) -> TorchRuntime:
        from bench.submission import open_submission

        submission = open_submission(path)
        refuse_static(submission)
        config = submission.config
        if modality and modality != config.modality:
            raise BenchError(f"submission {path} is a {config.modality} model (model_config.yaml), but {modality} was asked for; drop --modality or fix the config")
        inputs, outputs = submission_io(config)
        findings = io_findings(inputs, outputs, config.modality, SUBMISSION_WIDTHS)
        spec = resolve_spec(str(submission.source.resolve()), submission.sha256, inputs, outputs, config.modality)
        spec = spec.with_hints(hints(config))
        torch = import_torch()
        if threads:
            torch.set_num_threads(threads)
        device = pick_device(torch, provider)
        dtype = getattr(torch, DTYPES[config.dtype])
        model = load_module(submission, torch).to(device=device, dtype=dtype).eval()
        return cls(spec, model, device, dtype, torch, [f for f in findings if f.verdict != FAIL], submission)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits (float32) for one ``uint8`` batch; on CUDA the copy in is pinned and the device
        synchronised before the logits come back."""
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(batch))
        if self._device.type == "cuda":
            x = x.pin_memory().to(self._device, non_blocking=True)
        with torch.inference_mode():
            out = logits_of(self._model(x), torch)
            out = out.to(torch.float32).cpu()
        return out.numpy()

    @property
    def module(self):
        """The loaded network (for export)."""
        return self._model
