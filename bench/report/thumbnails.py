"""Thumbnails in reports: which samples a report shows (the most confidently wrong per dataset:
``pick_confidently_wrong``), their keys in results.json's ``thumbnails`` mapping
(``thumbnail_key(dataset, sample_id) -> "thumbs/....png"``), and inlining them into a page.
bench/thumbnails.py writes them (it reads the samples again)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd

THUMBS = "thumbs"


def thumbnail_key(dataset: str, sample_id: str) -> str:
    """The key of a sample in results.json's ``thumbnails`` mapping: ``"dataset/sample_id"``."""
    return f"{dataset}/{sample_id}"


def thumbnails_json(mapping: dict[tuple[str, str], str]) -> dict[str, str]:
    """``write_thumbnails``' mapping as results.json holds it (string keys)."""
    return {thumbnail_key(d, s): path for (d, s), path in mapping.items()}


def base_ok(records: pd.DataFrame) -> pd.DataFrame:
    """The records the headline counts: the base pass, status ok."""
    rows = records[records["status"] == "ok"]
    if "pass" in rows:
        rows = rows[rows["pass"] == "base"]
    return rows


def confidently_wrong(records: pd.DataFrame, per_dataset: int = 6) -> pd.DataFrame:
    """Base-pass ok records whose binary decision is wrong, per dataset the ``per_dataset`` with
    the highest ``|p_ai - 0.5|`` first (datasets in their order in the records)."""
    rows = base_ok(records)
    wrong = rows[rows["pred_binary"].to_numpy() != (rows["label"].to_numpy() != 0).astype(int)]
    wrong = wrong.assign(_confidence=(wrong["p_ai"] - 0.5).abs())
    parts = [g.sort_values("_confidence", ascending=False, kind="stable").head(per_dataset) for _, g in wrong.groupby("dataset", sort=False)]
    if not parts:
        return wrong.drop(columns="_confidence").iloc[0:0]
    return pd.concat(parts).drop(columns="_confidence")


def pick_confidently_wrong(records_df: pd.DataFrame, per_dataset: int = 6) -> list[tuple[str, str]]:
    """``(dataset, sample_id)`` of ``confidently_wrong``: the samples to thumbnail."""
    rows = confidently_wrong(records_df, per_dataset)
    return list(zip(rows["dataset"].tolist(), rows["sample_id"].tolist()))


def inline_thumbnails(mapping: dict[str, str], folder: Path | None) -> dict[str, str]:
    """results.json's ``thumbnails`` as ``{"dataset/sample_id": PNG data URI}``, read from the
    run ``folder``; a file that is missing, not a PNG, or outside ``folder/thumbs`` is left out."""
    if folder is None:
        return {}
    root = (Path(folder) / THUMBS).resolve()
    out = {}
    for key, rel in mapping.items():
        try:
            path = (Path(folder) / rel).resolve()
            data = path.read_bytes() if path.is_relative_to(root) else b""
        except (OSError, TypeError, ValueError):
            continue
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            out[key] = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return out


def runs_thumbnails(folders: list[Path]) -> dict[str, str]:
    """The thumbnails of several run folders (their results.json's), the first run's first."""
    out: dict[str, str] = {}
    for folder in folders:
        try:
            mapping = json.loads((Path(folder) / "results.json").read_text()).get("thumbnails") or {}
        except (OSError, ValueError, AttributeError):
            continue
        found = inline_thumbnails({k: v for k, v in mapping.items() if k not in out}, folder) if isinstance(mapping, dict) else {}
        out.update(found)
    return out
