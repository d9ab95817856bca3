"""``--batch-trials K``: the range the pushed score of a batch-dependent model will fall in.

The leaderboard shuffles each dataset's files without a seed and fills batches in that order, so
a model whose outputs depend on its batch-mates (dynamically quantised models do) gets a
different score on every push. Here the run's prepared inputs are kept (one memory-mapped file
per view, written as the run goes), and the model is re-scored under K groupings of that kind:
per dataset, a shuffle seeded by ``(run seed, trial)``, batches of ``B`` filled in that order,
the last at its true size. Decoding and preprocessing are never repeated; only inference is.
Per metric: the value under the run's own grouping, min, median, max and the 90% interval
across trials. Records keep the run's grouping.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.metrics import METRIC_KEYS, _scored, compute
from bench.records import decide

TRIAL_KEYS = ("accuracy", "mcc", "brier", "cross_entropy", "sn34", "accuracy_3class")


class SlotStore:
    """Every sample's prepared input of one view, in run order, appended to a temporary file and
    read back memory-mapped in the buffers' dtype (uint8 pixels, float32 waveforms): memory stays
    bounded; the disk holds N x one input."""

    def __init__(self, folder: Path, name: str):
        self.path = folder / f"{name}.slots"
        self._file = open(self.path, "wb")  # closed by finish
        self.rows = 0
        self.slot_shape: tuple[int, ...] | None = None
        self.dtype = np.dtype(np.uint8)

    def add(self, buffer: np.ndarray, size: int) -> None:
        self.slot_shape = tuple(buffer.shape[1:])
        self.dtype = buffer.dtype
        self._file.write(np.ascontiguousarray(buffer[:size]).tobytes())
        self.rows += size

    def finish(self) -> np.ndarray:
        self._file.close()
        if not self.rows:
            return np.zeros((0,), self.dtype)
        return np.memmap(self.path, dtype=self.dtype, mode="r", shape=(self.rows, *self.slot_shape))


class TrialInputs:
    """The stores of a run's views, in a temporary folder removed by ``close``."""

    def __init__(self, views: int):
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-trials-")
        self.stores = [SlotStore(Path(self._tmp.name), f"view{v}") for v in range(views)]

    def add(self, batch) -> None:
        for store, buffer in zip(self.stores, batch.buffers):
            store.add(buffer, batch.size)

    def close(self) -> None:
        self._tmp.cleanup()


def groupings(table: pd.DataFrame, batch_size: int, seed: int, trial: int) -> list[np.ndarray]:
    """Batches of row positions of one trial: per dataset (in run order), the decoded samples
    shuffled by a generator seeded from (seed, trial, dataset position), cut into ``batch_size``."""
    batches = []
    for d, (_, group) in enumerate(table.groupby("dataset", sort=False)):
        positions = group.index[group["status"] != "data_error"].to_numpy()
        order = np.random.default_rng([seed, 1 + trial, d]).permutation(positions)
        batches += [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return batches


def score_trial(runtime, inputs: np.ndarray, table: pd.DataFrame, batches: list[np.ndarray]) -> tuple[pd.DataFrame, float]:
    """The base records' decision columns under one grouping, and the inference seconds."""
    out = table.copy()
    out.loc[out["status"] != "data_error", "status"] = "ok"
    seconds = 0.0
    for rows in batches:
        start = time.perf_counter()
        try:
            logits = np.asarray(runtime.run(inputs[rows]), dtype=np.float64)
        except Exception:  # the model fails on this grouping: model errors, as in a run
            out.loc[rows, "status"] = "model_error"
            continue
        seconds += time.perf_counter() - start
        p_ai, pred, pred_binary = decide(logits)
        finite = np.isfinite(logits).all(axis=1)
        out.loc[rows, "p_ai"], out.loc[rows, "pred"], out.loc[rows, "pred_binary"] = p_ai, pred, pred_binary
        out.loc[rows[~finite], "status"] = "model_error"
    return out, seconds


def run_trials(runtime, inputs: np.ndarray, table: pd.DataFrame, default: dict, trials: int, batch_size: int, seed: int, three_class: bool) -> dict:
    """The ``batch_trials`` section of a model's result (see the module docstring)."""
    table = table.reset_index(drop=True)
    values: dict[str, list[float]] = {k: [] for k in TRIAL_KEYS}
    flips, seconds = [], 0.0
    base_decisions = table["pred_binary"].to_numpy()
    for k in range(trials):
        scored, s = score_trial(runtime, inputs, table, groupings(table, batch_size, seed, k))
        seconds += s
        ok = scored[scored["status"] == "ok"]
        metrics = compute(_scored(ok))
        for key in TRIAL_KEYS:
            values[key].append(metrics[key] if key != "accuracy_3class" or three_class else None)
        both = (scored["status"] == "ok") & (table["status"] == "ok")
        flips.append(int((scored["pred_binary"].to_numpy() != base_decisions)[both.to_numpy()].sum()))
    summary = {key: _spread(default.get(key), v) for key, v in values.items() if key in METRIC_KEYS and not (key == "accuracy_3class" and not three_class)}
    return {
        "trials": trials,
        "seed": seed,
        "grouping": f"per dataset: a seeded shuffle, batches of {batch_size} filled in that order, the last at its true size",
        "metrics": summary,
        "decisions_flipped": _spread(0, flips) | {"samples": int((table["status"] == "ok").sum())},
        "inference_s": seconds,
    }


def _spread(default, values: list) -> dict:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if not v.size:
        return {"default": default, "min": None, "median": None, "max": None, "p05": None, "p95": None}
    return {"default": default, "min": float(v.min()), "median": float(np.median(v)), "max": float(v.max()), "p05": float(np.percentile(v, 5)), "p95": float(np.percentile(v, 95))}
