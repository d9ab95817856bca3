"""Writing the thumbnails a report shows: the exact pixels the model saw (decode, geometry,
augmentation with the sample's seed), re-read after the run for the few samples picked
(bench/report/thumbnails.py: ``pick_confidently_wrong``), as PNGs in ``<run folder>/thumbs/``."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from bench.report.thumbnails import THUMBS


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
    if not wanted or view.min_size is None:  # a view without a picture (audio) has nothing to show
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
