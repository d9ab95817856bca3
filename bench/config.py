"""The typed run config. One precedence: command line > config file > defaults.

Relative paths inside a YAML file are resolved against that file's folder, so a config works
from any working directory; paths given on the command line are relative to the working directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.data.video import FRAME_RULES
from bench.errors import BenchError
from bench.transforms import AUGMENT_LEVELS, GEOMETRIES, INTERPOLATIONS

PROVIDERS = ("auto", "cpu", "cuda")
PATH_KEYS = ("model", "dataset_dirs", "augment_pipeline", "results_dir", "output", "cache_dir")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunConfig:
    model: str | list[str] | None = None  # one model, or several scored on the same samples
    datasets: list[str] = field(default_factory=list)
    dataset_dirs: list[str] = field(default_factory=list)
    batch_size: int = 16
    augment_level: int = 0
    augment_pipeline: str | None = None
    seed: int = 0
    limit: int | None = None
    provider: str = "auto"
    workers: int = 0  # 0: chosen for the machine
    threads: int = 0  # ONNX Runtime intra-op threads; 0: ONNX Runtime's default
    geometry: str = "crop-resize"
    interpolation: str = "linear"
    fast_decode: bool = False  # opt-in: JPEGs decoded at reduced DCT scale (never below H x W); other pixels
    frames: int = 16  # video: T when the model's frames axis is dynamic (capped at 64)
    frame_rule: str = "first"  # first | fps | uniform
    target_fps: float | None = None  # for frame_rule fps
    warmup: int = 3
    prefetch: int = 2
    robustness: bool = False  # score every sample twice: as is, and after the redistribution chain
    robust_weight: float = 0.2  # blended = (1 - w) * base + w * robust
    bootstrap: int = 1000
    bootstrap_seed: int = 0
    cache: bool = True  # reuse decoded and resized pixels across runs (see bench/cache.py)
    cache_dir: str | None = None  # default: $XDG_CACHE_HOME/bench/samples (~/.cache/bench/samples)
    cache_max_gb: float = 20.0
    results_dir: str = "results"
    output: str | None = None
    progress: bool = True

    def validate(self) -> RunConfig:
        """Check every value; raise one ``BenchError`` naming the key, the value and the fix."""
        _positive(self, "batch_size")
        _positive(self, "frames")
        _non_negative(self, "warmup", "prefetch", "bootstrap", "workers", "threads")
        if self.limit is not None:
            _positive(self, "limit")
        if self.model is not None and not (isinstance(self.model, str) or (isinstance(self.model, list) and all(isinstance(m, str) for m in self.model))):
            raise BenchError(f"model must be a path or a list of paths, got {self.model!r}")
        if not isinstance(self.robust_weight, (int, float)) or not 0 <= self.robust_weight <= 1:
            raise BenchError(f"robust_weight must be a number between 0 and 1, got {self.robust_weight!r}")
        if not isinstance(self.cache_max_gb, (int, float)) or self.cache_max_gb <= 0:
            raise BenchError(f"cache_max_gb must be a positive number of gigabytes, got {self.cache_max_gb!r}")
        if self.augment_level not in AUGMENT_LEVELS:
            raise BenchError(f"augment_level must be one of 0, 1, 2, 3, got {self.augment_level!r}")
        _choice(self, "provider", PROVIDERS)
        _choice(self, "frame_rule", FRAME_RULES)
        if self.frame_rule == "fps" and not (isinstance(self.target_fps, (int, float)) and self.target_fps > 0):
            raise BenchError(f"frame_rule fps needs target_fps, a positive number of frames per second, got {self.target_fps!r}")
        _choice(self, "geometry", GEOMETRIES)
        _choice(self, "interpolation", tuple(INTERPOLATIONS))
        if not isinstance(self.datasets, list) or not all(isinstance(d, str) for d in self.datasets):
            raise BenchError(f"datasets must be a list of dataset names, got {self.datasets!r}")
        return self

    def model_paths(self) -> list[str]:
        if self.model is None:
            return []
        return [self.model] if isinstance(self.model, str) else list(self.model)

    def resolved_workers(self) -> int:
        return self.workers or max(1, min(8, os.cpu_count() or 1))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _positive(cfg: RunConfig, key: str) -> None:
    value = getattr(cfg, key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BenchError(f"{key} must be a positive integer, got {value!r}")


def _non_negative(cfg: RunConfig, *keys: str) -> None:
    for key in keys:
        value = getattr(cfg, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BenchError(f"{key} must be a non-negative integer, got {value!r}")


def _choice(cfg: RunConfig, key: str, choices: tuple[str, ...]) -> None:
    value = getattr(cfg, key)
    if value not in choices:
        raise BenchError(f"{key} must be one of {', '.join(choices)}, got {value!r}")


def suggest(name: str, known: list[str]) -> str:
    """'Did you mean ...? Available: ...' for an unknown name."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{hint} Available: {', '.join(sorted(known)) or '(none)'}"


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BenchError(f"config file not found: {path}; give the path to a YAML file (see configs/)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise BenchError(f"config file {path} is not valid YAML{where}; fix the syntax") from None
    if not isinstance(data, dict):
        raise BenchError(f"config file {path} must hold a mapping of keys to values, got {type(data).__name__}")
    return data


def _resolve(value: Any, base: Path) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    p = Path(os.path.expanduser(str(value)))
    return str(p if p.is_absolute() else (base / p).resolve())


def default_config_path() -> Path | None:
    """``configs/default.yaml`` in the working directory, else the one shipped with the project."""
    for candidate in (Path.cwd() / "configs" / "default.yaml", PROJECT_ROOT / "configs" / "default.yaml"):
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Defaults, then the file (if any), then ``overrides`` (values that are ``None`` are unset)."""
    known = [f.name for f in dataclasses.fields(RunConfig)]
    values: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        data = read_yaml(path)
        base = path.resolve().parent
        for key, value in data.items():
            if key not in known:
                raise BenchError(f"unknown key {key!r} in {path}.{suggest(key, known)}")
            values[key] = _resolve(value, base) if key in PATH_KEYS else value
        values.setdefault("dataset_dirs", [str(base / "datasets")])
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _resolve(value, Path.cwd()) if key in PATH_KEYS else value
    if not values.get("dataset_dirs"):
        values["dataset_dirs"] = [str(PROJECT_ROOT / "configs" / "datasets")]
    try:
        cfg = RunConfig(**values)
    except TypeError as exc:
        raise BenchError(f"bad run config: {exc}") from None
    return cfg.validate()
