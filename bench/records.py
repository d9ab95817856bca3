"""``records.parquet``, written as the run goes (in row groups), so memory does not grow with the
dataset; only the few columns the metrics need stay in memory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("media_type", pa.string()),
        ("sample_id", pa.string()),
        ("label", pa.int64()),
        ("logits", pa.list_(pa.float64())),
        ("p_ai", pa.float64()),
        ("pred", pa.int64()),
        ("pred_binary", pa.int64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("error_stage", pa.string()),
        ("aug_seed", pa.int64()),
        ("batch_index", pa.int64()),
        ("weight", pa.float64()),
        ("source", pa.string()),
        ("frames", pa.list_(pa.int64())),
    ]
)
COLUMNS = SCHEMA.names
KEPT = ["dataset", "media_type", "sample_id", "label", "p_ai", "pred", "pred_binary", "status", "error", "error_stage", "weight"]


class RecordWriter:
    """Append rows; ``close()`` renames the finished file into place (atomic for readers)."""

    def __init__(self, path: str | Path, chunk: int = 4096):
        self.path = Path(path)
        self.chunk = chunk
        self._pending: list[dict] = []
        self._kept: dict[str, list] = {c: [] for c in KEPT}
        self._writer: pq.ParquetWriter | None = None
        self._tmp: str | None = None

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def add(self, rows: list[dict]) -> None:
        self._pending.extend(rows)
        for row in rows:
            for c in KEPT:
                self._kept[c].append(row[c])
        if len(self._pending) >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            os.close(fd)
            self._writer = pq.ParquetWriter(self._tmp, SCHEMA)
        if self._pending:
            self._writer.write_table(pa.Table.from_pylist(self._pending, schema=SCHEMA))
            self._pending = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            Path(self._tmp).unlink(missing_ok=True)

    def table(self) -> pd.DataFrame:
        """The kept columns of every record, for metrics and the error table."""
        return pd.DataFrame(self._kept, columns=KEPT)
