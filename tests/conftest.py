"""Shared fixtures: offline environment, tiny ONNX models built in the test, tiny media."""

from __future__ import annotations

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["NO_ALBUMENTATIONS_UPDATE"] = "1"
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="bench-test-cache-")  # never the user's cache

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests import models  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def mean_model(tmp_path) -> Path:
    """Probe: logits = per-channel means of the uint8 input, (batch, 3, 32, 32)."""
    return models.save(models.channel_means(32, 32), tmp_path / "means.onnx")


@pytest.fixture
def registry_dir(tmp_path) -> Path:
    d = tmp_path / "datasets"
    d.mkdir()
    return d


@pytest.fixture
def count_decodes(monkeypatch):
    """Image decodes of the scoring pass (the report's thumbnails re-read a few samples after it
    and are not counted)."""
    import bench.data.decode
    import bench.scoring

    calls, thumbnailing = [], []
    real_decode, real_thumbnails = bench.data.decode.decode_image, bench.scoring.write_thumbnails

    def decode(*args):
        if not thumbnailing:
            calls.append(1)
        return real_decode(*args)

    def thumbnails(*args, **kwargs):
        thumbnailing.append(1)
        try:
            return real_thumbnails(*args, **kwargs)
        finally:
            thumbnailing.pop()

    monkeypatch.setattr(bench.data.decode, "decode_image", decode)
    monkeypatch.setattr(bench.scoring, "write_thumbnails", thumbnails)
    return calls


@pytest.fixture
def interrupt_scoring(monkeypatch):
    """``interrupt_scoring(n)``: the next run is stopped (KeyboardInterrupt, as Ctrl-C) when its
    n-th batch's records are made, each batch committed to the journal first; returns ``restore``,
    which puts the real record maker back for the resume."""
    import bench.journal
    import bench.scoring

    real = bench.scoring.batch_records

    def arm(n: int):
        calls = []

        def interrupt(*args, **kwargs):
            calls.append(1)
            if len(calls) == n:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(bench.journal, "FLUSH_ROWS", 1)
        monkeypatch.setattr(bench.scoring, "batch_records", interrupt)
        return lambda: monkeypatch.setattr(bench.scoring, "batch_records", real)

    return arm
