"""Records: logits -> decisions (SPEC section 3) -> one row per sample, in the schema of
``records.parquet`` (written as the run goes by bench/journal.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from bench.data.refs import escape_name

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
        ("pass", pa.string()),
        ("worker", pa.string()),
    ]
)
KEPT = ["dataset", "media_type", "sample_id", "label", "p_ai", "pred", "pred_binary", "status", "error", "error_stage", "weight", "pass"]


def decide(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SPEC section 3: ``(p_ai, pred, pred_binary)`` from logits of width 3, 2 or 1.

    3 logits: softmax, ``p_ai = 1 - p[real]``, AI iff argmax != 0, 3-class decision argmax.
    2 logits: softmax, ``p_ai = p[1]``, decision argmax. 1 logit: ``p_ai = sigmoid``, AI iff > 0.5.
    Widths 2 and 1 have no 3-class decision (``pred = -1``)."""
    logits = np.asarray(logits, dtype=np.float64)
    n, k = logits.shape
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite rows become model errors
        return _decide(logits, n, k)


def _decide(logits: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if k == 1:
        p_ai = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return p_ai, np.full(n, -1), (p_ai > 0.5).astype(np.int64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    pred = p.argmax(axis=1)
    if k == 2:
        return p[:, 1], np.full(n, -1), pred.astype(np.int64)
    p_ai = e[:, 1:].sum(axis=1) / e.sum(axis=1)
    return p_ai, pred.astype(np.int64), (pred != 0).astype(np.int64)


def batch_records(batch, inference, seed_for, pass_name: str = "base", view: int = 0) -> list[dict]:
    """One record per real sample of the batch (padding discarded) from one job's ``Inference``
    on view ``view``; ``seed_for(ref)`` gives the augmentation seed, ``pass_name`` is ``base`` or
    ``robust``. A sample whose view could not be prepared is a data error on that view's row."""
    rows = []
    logits, error = inference.logits, inference.error
    if logits is not None:
        logits = np.asarray(logits)[: batch.size]
        p_ai, pred, pred_binary = decide(logits)
    for i, (ref, outcome) in enumerate(zip(batch.refs, batch.outcomes)):
        row = {
            "dataset": ref.dataset,
            "media_type": ref.media_type,
            "sample_id": ref.sample_id,
            "label": ref.label,
            "logits": None,
            "p_ai": float("nan"),
            "pred": -1,
            "pred_binary": -1,
            "status": "ok",
            "error": None,
            "error_stage": None,
            "aug_seed": seed_for(ref),
            "batch_index": batch.index,
            "weight": ref.weight,
            "source": escape_name(ref.path) if ref.path is not None else None,
            "frames": outcome.frames,
            "pass": pass_name,
            "worker": batch.worker,
        }
        failed = outcome.error_for(view)
        if failed is not None:
            row.update(status="data_error", error_stage=failed[0], error=failed[1])
        elif logits is None or not np.isfinite(logits[i]).all():
            reason = error or f"non-finite logits {np.asarray(logits[i]).tolist()}"
            wrong = 0 if ref.label != 0 else 1  # a model error counts as a wrong, undecided answer
            row.update(status="model_error", error=reason, error_stage="inference", p_ai=0.5, pred_binary=wrong)
            if logits is not None:
                row["logits"] = [float(x) for x in logits[i]]
        else:
            row.update(logits=[float(x) for x in logits[i]], p_ai=float(p_ai[i]), pred=int(pred[i]), pred_binary=int(pred_binary[i]))
        rows.append(row)
    return rows
