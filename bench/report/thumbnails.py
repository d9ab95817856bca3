"""Thumbnails of the exact pixels a model saw, for the samples a report shows: the most
confidently wrong per dataset (``pick_confidently_wrong``), written by ``write_thumbnails``
into ``<run folder>/thumbs/`` and named in results.json under ``thumbnails``
(``thumbnail_key(dataset, sample_id) -> "thumbs/....png"``)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import numpy as np
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


def write_thumbnails(cfg, view, specs, picks: list[tuple[str, str]], folder: Path, size: int = 128) -> dict[tuple[str, str], str]:
    """A PNG of each picked sample exactly as the model saw it (decode, geometry, augmentation
    with the sample's seed: the run's ``view`` through ``bench.preprocess.Views``), the first
    frame for a video, under ``folder/thumbs/``; at most ``size`` pixels on its longer side
    (a smaller input keeps its own pixels). Returns ``{(dataset, sample_id): "thumbs/<name>.png"}``
    relative to ``folder``; a sample that cannot be read again or fails to prepare is left out."""
    from bench.data.registry import iter_samples
    from bench.preprocess import Views

    wanted: dict[str, set[str]] = {}
    for dataset, sample_id in picks:
        wanted.setdefault(dataset, set()).add(sample_id)
    if not wanted:
        return {}
    views = Views([view])
    out: dict[tuple[str, str], str] = {}
    (Path(folder) / THUMBS).mkdir(parents=True, exist_ok=True)
    for spec in specs:
        ids = wanted.get(spec.name)
        if not ids:
            continue
        left = set(ids)
        for ref in iter_samples(spec, cfg.data.limit):
            if ref.sample_id not in left:
                continue
            left.discard(ref.sample_id)
            slot = np.zeros(view.batch_shape(1)[1:], dtype=np.uint8)
            if views(ref, [slot]).error_for(0) is None:
                out[(spec.name, ref.sample_id)] = _write_png(slot, Path(folder), spec.name, ref.sample_id, size)
            if not left:
                break
    return out


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


def to_hwc(pixels: np.ndarray) -> np.ndarray:
    """CHW (or the first frame of TCHW) as HWC uint8 RGB."""
    if pixels.ndim == 4:
        pixels = pixels[0]
    return np.ascontiguousarray(np.clip(pixels, 0, 255).astype(np.uint8).transpose(1, 2, 0))


def _write_png(pixels: np.ndarray, folder: Path, dataset: str, sample_id: str, size: int) -> str:
    import cv2

    from bench.results import atomic_write

    rgb = to_hwc(pixels)
    h, w = rgb.shape[:2]
    if max(h, w) > size:
        scale = size / max(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {w}x{h} thumbnail")
    rel = f"{THUMBS}/{_file_name(dataset, sample_id)}"
    atomic_write(folder / rel, lambda tmp: tmp.write_bytes(png.tobytes()))
    return rel


def _file_name(dataset: str, sample_id: str) -> str:
    """A safe, unique, readable file name: slugs of both names and a hash of the pair."""
    digest = hashlib.sha1(f"{dataset}\0{sample_id}".encode("utf-8", "surrogatepass")).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{dataset}__{Path(sample_id).stem}")[:60]
    return f"{slug}-{digest}.png"
