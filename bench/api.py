"""The public Python interface (``bench.run``, ``bench.check``, ``bench.compare``,
``bench.profile``); the command line calls these too.

    import bench
    result = bench.run(limit=20)          # the demo model on the bundled sample
    result.metrics["overall"]["sn34"], result.records.head()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.config import RunConfig, default_config_path, load_config
from bench.results import ModelResult


def config(path: str | Path | None = None, **overrides: Any) -> RunConfig:
    """A validated run config: defaults < the file (``configs/default.yaml`` when none is given:
    the demo model on the bundled sample) < ``overrides`` (flat keys: ``batch_size=32``,
    ``model="my.onnx"``)."""
    if path is None:
        path = default_config_path()
    return load_config(path, overrides)


def run(config: RunConfig | str | Path | None = None, **overrides: Any) -> ModelResult | list[ModelResult]:
    """Score the model(s) of ``config`` (a ``RunConfig``, a YAML path, or None for the default
    config) with ``overrides``; each model's result folder is written as by ``bench run``.
    Returns one ``ModelResult``, or a list when several models were given."""
    from bench.scoring import run_all

    cfg = _config(config, overrides)
    results = run_all(cfg)
    return results[0] if len(results) == 1 else results


def resume(folder: str | Path, progress: bool | None = None) -> ModelResult | list[ModelResult]:
    """Finish a run that was killed or interrupted (``folder``: one of its result folders): its
    config is read back from run.json, the batches every model finished are kept, the rest are
    scored; the records equal an uninterrupted run's."""
    from bench.config import build
    from bench.errors import BenchError
    from bench.journal import read_run_file
    from bench.scoring import run_all

    doc = read_run_file(Path(folder))
    if doc.get("status") == "complete":
        raise BenchError(f"the run in {folder} is complete; nothing to resume (start a new run with another --output)")
    flat = dict(doc["config"]) | ({"progress": progress} if progress is not None else {})
    results = run_all(build(flat, tuple(doc.get("overridden", ()))), resume=[Path(f) for f in doc["folders"]])
    return results[0] if len(results) == 1 else results


def _config(value: RunConfig | str | Path | None, overrides: dict[str, Any]) -> RunConfig:
    if isinstance(value, RunConfig):
        return value.replace(**overrides) if overrides else value
    return config(value, **overrides)


def check(path: str | Path, modality: str | None = None, batch_size: int = 16, timeout: float = 60.0):
    """The contract check of ``bench check``: a ``CheckReport`` (``.ok``, ``.findings``, ``.text()``)."""
    from bench.checks import check_model

    return check_model(path, modality, batch_size, timeout)


def compare(runs: list[ModelResult | str | Path], allow_mismatch: bool = False, bootstrap: int = 1000, top: int = 20, output: str | Path | None = None) -> dict:
    """Paired comparison of runs on the same samples (the first is the baseline): results or
    their folders. Writes compare.md and compare.json into ``output`` when given."""
    from bench.comparison import compare as build
    from bench.comparison import load_run, write_compare

    loaded = [load_run(r.folder if isinstance(r, ModelResult) else r) for r in runs]
    doc = build(loaded, allow_mismatch=allow_mismatch, n_boot=bootstrap, top=top)
    if output is not None:
        write_compare(doc, Path(output))
    return doc


def profile(path: str | Path, batch_sizes: list[int] | None = None, **options: Any):
    """The batch-size sweep of ``bench profile``: a ``Profile`` (``.rows``, ``.best()``)."""
    from bench.profiling import ProfileConfig, sweep

    return sweep(ProfileConfig(model=str(path), batch_sizes=batch_sizes, **options))
