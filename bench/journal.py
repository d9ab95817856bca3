"""Records written as the run goes, so a killed run can be resumed.

Rows are committed batch by batch into a journal inside the run folder (``.journal/``): each
flush writes one small parquet part atomically (temporary name, then rename), so whatever kills
the process (Ctrl-C, SIGTERM, kill -9, power loss) leaves only whole, readable parts. When the
run ends, the parts are merged into ``records.parquet`` (atomically) and the journal is removed.
``bench run --resume DIR`` reopens the journal, keeps the batches every model finished, and
scores only the rest. Only the few columns the metrics need stay in memory.

Each run folder also holds ``run.json``: the resolved config and the run's folders, written at
the start with ``"status": "running"`` and set to ``"complete"`` once results.json is written,
so a run stopped during its metrics is known to be unfinished.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import BenchError
from bench.records import KEPT, SCHEMA
from bench.results import atomic_write, write_json

JOURNAL = ".journal"
RUN_FILE = "run.json"
FLUSH_ROWS = 4096
FLUSH_S = 5.0


class RecordWriter:
    """One model's records. ``add`` rows, ``commit`` after each batch (every job's rows of it),
    ``flush`` when ``due``; ``close`` merges into records.parquet; ``abort`` keeps what was
    committed for ``--resume``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.journal = self.folder / JOURNAL
        self.journal.mkdir(parents=True, exist_ok=True)
        for stale in self.journal.glob(".*"):  # a part cut off mid-write by a kill
            stale.unlink(missing_ok=True)
        self._parts = sorted(self.journal.glob("part-*.parquet"))
        self._pending: list[dict] = []
        self._committed = 0  # rows of _pending that belong to finished batches
        self._kept: dict[str, list] = {c: [] for c in KEPT}
        self._last_flush = time.monotonic()

    def done_batches(self) -> set[int]:
        """Batch indices whose rows are in the journal (or in a finished records.parquet)."""
        tables = [pq.read_table(p, columns=["batch_index"]) for p in self._parts]
        if not tables and (self.folder / "records.parquet").is_file():
            tables = [pq.read_table(self.folder / "records.parquet", columns=["batch_index"])]
        return {int(b) for t in tables for b in t.column("batch_index").to_pylist()}

    def keep_only(self, batches: set[int]) -> pd.DataFrame:
        """Reduce the journal to ``batches`` (the ones every model finished), as one part;
        returns those records (to check them against the plan)."""
        sources = self._parts or ([self.folder / "records.parquet"] if (self.folder / "records.parquet").is_file() else [])
        if not sources:
            return pd.DataFrame(columns=SCHEMA.names)
        table = pa.concat_tables([pq.read_table(p, schema=SCHEMA) for p in sources])
        frame = table.to_pandas()
        frame = frame[frame["batch_index"].isin(batches)].reset_index(drop=True)
        part = self.journal / "part-000000.parquet"
        atomic_write(part, lambda tmp: pq.write_table(pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False), tmp))
        for old in self._parts:
            if old != part:
                old.unlink()
        self._parts = [part]
        for c in KEPT:
            self._kept[c] = frame[c].tolist()
        return frame

    def add(self, rows: list[dict]) -> None:
        self._pending.extend(rows)
        for row in rows:
            for c in KEPT:
                self._kept[c].append(row[c])

    def commit(self) -> None:
        self._committed = len(self._pending)

    def due(self) -> bool:
        return self._committed >= FLUSH_ROWS or (self._committed and time.monotonic() - self._last_flush >= FLUSH_S)

    def flush(self) -> None:
        if not self._committed:
            return
        rows, self._pending = self._pending[: self._committed], self._pending[self._committed :]
        self._committed = 0
        part = self.journal / f"part-{len(self._parts) + 1:06d}.parquet"
        atomic_write(part, lambda tmp: pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp))
        self._parts.append(part)
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Merge the journal into records.parquet (atomically) and remove it."""
        self.commit()
        self.flush()
        target = self.folder / "records.parquet"

        def merge(tmp: Path) -> None:
            with pq.ParquetWriter(tmp, SCHEMA) as writer:
                for part in self._parts:
                    writer.write_table(pq.read_table(part, schema=SCHEMA))
                if not self._parts:
                    writer.write_table(pa.Table.from_pylist([], schema=SCHEMA))

        if self._parts or not target.is_file():
            atomic_write(target, merge)
        shutil.rmtree(self.journal, ignore_errors=True)

    def abort(self) -> None:
        """Keep the finished batches in the journal for ``--resume``; drop the rest."""
        self.flush()

    def table(self) -> pd.DataFrame:
        """The kept columns of every record, for metrics and the error table."""
        return pd.DataFrame(self._kept, columns=KEPT)


def write_run_file(folder: Path, config: dict, overridden: list[str], folders: list[Path], status: str) -> None:
    write_json(folder / RUN_FILE, {"schema_version": 1, "status": status, "config": config, "overridden": overridden, "folders": [str(f) for f in folders]})


def read_run_file(folder: Path) -> dict:
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        raise BenchError(f"{folder} holds no {RUN_FILE}: it is not a run folder bench can resume; give the --output folder of a run")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path} is unreadable ({exc}); start a new run") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
        raise BenchError(f"{path} is not a run file of bench; start a new run")
    return doc


def open_writers(folders: list[Path], resume: bool) -> tuple[list[RecordWriter], dict[int, tuple[str, ...]]]:
    """One writer per model folder. Resuming: the batches every model finished, each with its
    samples' ids (base pass, in slot order), so the plan can skip them and check they are the
    same samples; the journals are cut back to those batches."""
    writers = [RecordWriter(folder) for folder in folders]
    if not resume:
        return writers, {}
    done = set.intersection(*(w.done_batches() for w in writers))
    frames = [w.keep_only(done) for w in writers]
    base = frames[0][frames[0]["pass"] == "base"]
    return writers, {int(b): tuple(g["sample_id"]) for b, g in base.groupby("batch_index", sort=True)}


def skip_done(planned, done: dict[int, tuple[str, ...]]):
    """The planned batches still to score; a finished batch must hold the same samples now."""
    for batch in planned:
        ids = done.get(batch.index)
        if ids is None:
            yield batch
        elif ids != tuple(r.sample_id for r in batch.refs):
            raise BenchError(f"batch {batch.index} of the run held other samples than the datasets give now (they changed since the run started); start a new run instead of --resume")
