"""Result folders and what is written into them: folders created exclusively (a clash takes the
next free suffix, so concurrent runs never share one), every file written atomically (temporary
file, then rename), and ``ModelResult``, the one typed result of scoring a model."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from bench.errors import BenchError

SCHEMA_VERSION = 2


def _file_mode() -> int:
    """0o666 less the process umask: what ``open(path, "w")`` would give (mkstemp gives 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, doc: dict) -> None:
    write_text(path, json.dumps(_clean(doc), indent=2, default=str) + "\n")


def _clean(value):
    """JSON without NaN/inf (``null`` instead)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def new_folder(parent: Path, name: str) -> Path:
    """Create ``parent/name`` exclusively; when it exists, ``name-2``, ``name-3``, ... The
    creation itself is the test, so two processes can never get the same folder."""
    parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        folder = parent / (name if n == 1 else f"{name}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1


RUN_FILES = ("records.parquet", "results.json", "summary.md", "report.html", "run.json", ".journal", "thumbs")


def holds_run(folder: Path) -> bool:
    """A folder that already holds a bench run (its own files, or model sub-folders of one)."""
    if not folder.is_dir():
        return False
    return any((folder / n).exists() for n in RUN_FILES) or any((sub / "run.json").is_file() for sub in folder.iterdir() if sub.is_dir())


def _writable(folder: Path, what: str) -> None:
    """Prove ``folder`` can be created and written to (a file written and removed there), and
    leave nothing behind: folders created for the test are removed again. One-line error if not."""
    if folder.exists() and not folder.is_dir():
        raise BenchError(f"{what} {folder} is a file, not a folder; give a folder path")
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".bench-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BenchError(f"{what} {folder} is not usable ({exc.strerror or exc}); give a folder you can write to") from None
    finally:
        for path in created:  # deepest first
            try:
                path.rmdir()
            except OSError:
                break


def check_paths(cfg, resuming: bool = False) -> None:
    """Before any work: the result and cache folders are usable, and an --output that holds a run
    is not replaced without --overwrite."""
    out = cfg.output
    if resuming:
        if cfg.runtime.batch_trials:
            raise BenchError("--batch-trials needs every sample's prepared input, which a resumed run does not have; resume without it, then run again with --batch-trials")
        return
    if out.folder:
        folder = Path(out.folder)
        if holds_run(folder) and not out.overwrite:
            raise BenchError(f"--output {folder} already holds a run; pass --overwrite to replace it, `bench run --resume {folder}` to finish it, or give another folder")
        _writable(folder, "--output")
    else:
        _writable(Path(out.results_dir), "results_dir")
    if cfg.cache.enabled and cfg.cache.dir:
        _writable(Path(cfg.cache.dir), "--cache-dir")


def _cleared(folder: Path) -> Path:
    """``folder`` without the files of an earlier run (``--overwrite``)."""
    for name in RUN_FILES:
        target = folder / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    return folder


def run_folders(results_dir: str, output: str | None, model_paths: list[str], modality: str) -> list[Path]:
    """One folder per model: ``output`` itself for one model, else ``output/<model>`` for several
    (files of an earlier run in them removed: ``check_paths`` let them through only with
    ``--overwrite``); without ``output``, new ``results_dir/<model>-<modality>-<time>``."""
    stems = [Path(p).stem for p in model_paths]
    if output:
        if len(model_paths) == 1:
            folders = [Path(output)]
        else:  # a second model of the same name gets the next free suffix
            folders = [Path(output) / stem if stems.index(stem) == i else new_folder(Path(output), stem) for i, stem in enumerate(stems)]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        return [_cleared(f) for f in folders]
    when = stamp()
    return [new_folder(Path(results_dir), f"{stem}-{modality}-{when}") for stem in stems]


@dataclass(frozen=True)
class ModelResult:
    """One model's run: what ran (model, environment, resolved config and preprocessing, the
    datasets), what it scored (metrics, robustness), how fast (throughput), and where its files
    are (``folder``: records.parquet, results.json, summary.md)."""

    model: dict
    environment: dict
    config: dict
    preprocessing: dict
    datasets: list
    metrics: dict
    robustness: dict | None
    throughput: dict
    folder: Path
    created: str
    batch_dependence: dict | None = None  # the probe at load: alone vs in a batch
    pipeline: dict | None = None  # how batches were formed
    batch_trials: dict | None = None  # --batch-trials: the range of the pushed score
    thumbnails: dict | None = None  # "dataset/sample_id" -> thumbs/<file>.png: the most confidently wrong, as the model saw them

    @property
    def records(self) -> pd.DataFrame:
        """Every record of the run, every column of records.parquet."""
        return pd.read_parquet(self.folder / "records.parquet")

    @property
    def name(self) -> str:
        return Path(self.model["path"]).stem

    def to_json(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "created": self.created,
            "model": self.model,
            "environment": self.environment,
            "config": self.config,
            "preprocessing": self.preprocessing,
            "datasets": self.datasets,
            "metrics": self.metrics,
            "robustness": self.robustness,
            "throughput": self.throughput,
            "batch_dependence": self.batch_dependence,
            "pipeline": self.pipeline,
            "batch_trials": self.batch_trials,
            "thumbnails": self.thumbnails,
        }

    def save(self, folder: str | Path | None = None) -> Path:
        """Write results.json, summary.md and report.html (into ``folder``, copying
        records.parquet there, or beside the run's records). Returns the folder."""
        from bench.report.markdown import summary_markdown

        target = Path(folder) if folder is not None else self.folder
        target.mkdir(parents=True, exist_ok=True)
        records = self.folder / "records.parquet"
        if target.resolve() != self.folder.resolve():
            atomic_write(target / "records.parquet", lambda tmp: shutil.copyfile(records, tmp))
        doc = self.to_json()
        write_json(target / "results.json", doc)
        errors = pd.read_parquet(records, columns=["status", "dataset", "sample_id", "error_stage", "error"])
        write_text(target / "summary.md", summary_markdown(doc, errors))
        from bench.report.html import run_html

        write_text(target / "report.html", run_html(doc, pd.read_parquet(records), self.folder))
        return target

    @classmethod
    def load(cls, folder: str | Path) -> ModelResult:
        """A result from the folder ``bench run`` wrote."""
        folder = Path(folder)
        missing = [n for n in ("results.json", "records.parquet") if not (folder / n).is_file()]
        if missing:
            raise BenchError(f"{folder} is not a run folder: {', '.join(missing)} missing; give folders written by `bench run`")
        doc = json.loads((folder / "results.json").read_text())
        fields = ("model", "environment", "config", "preprocessing", "datasets", "metrics", "robustness", "throughput", "batch_dependence", "pipeline", "batch_trials", "thumbnails")
        return cls(**{k: doc.get(k) for k in fields}, folder=folder, created=doc.get("created", ""))
