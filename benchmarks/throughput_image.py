"""End-to-end vs model-only vs preprocessing-only samples/s, measured side by side in one process.

The bundled image sample is repeated (file copies under a temporary folder) to at least
``--samples`` samples, then:

1. preprocessing only: the run's pipeline (read, decode, crop-resize, CHW into batch buffers, worker
   threads) with no model;
2. model only: the session on those same prepared batches, already in memory;
3. end to end: ``bench.scoring.run_all`` (pipeline and session overlapped), whose own model-only
   figure on the same batches is printed too.

Usage: python benchmarks/throughput_image.py [--samples 1000] [--batch-size 16] [--workers 0]
                                             [--model data/models/demo_image.onnx]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import yaml  # noqa: E402

from bench import modalities  # noqa: E402
from bench.config import load_config  # noqa: E402
from bench.data.registry import Registry, iter_samples  # noqa: E402
from bench.executors.local import Prepared  # noqa: E402
from bench.plan import plan_batches  # noqa: E402
from bench.preprocess import Views  # noqa: E402
from bench.report import table  # noqa: E402
from bench.runtimes import load_runtime, warmup  # noqa: E402
from bench.scoring import run_all  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def build_corpus(folder: Path, n: int) -> Path:
    """``n`` files: the bundled sample's images, copied round-robin under distinct names."""
    sources = sorted(p for p in (ROOT / "data" / "sample").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    media = folder / "media"
    media.mkdir(parents=True)
    for i, src in zip(range(n), itertools.cycle(sources)):
        shutil.copyfile(src, media / f"{i:06d}{src.suffix}")
    reg = folder / "registry"
    reg.mkdir()
    entry = {"name": "corpus", "modality": "image", "media_type": "real", "source": {"type": "folder", "path": str(media)}}
    (reg / "corpus.yaml").write_text(yaml.safe_dump({"datasets": [entry]}))
    return reg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--model", default=str(ROOT / "data" / "models" / "demo_image.onnx"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        reg = build_corpus(Path(tmp), args.samples)
        overrides = {
            "model": args.model, "datasets": ["corpus"], "dataset_dirs": [str(reg)], "batch_size": args.batch_size,
            "workers": args.workers, "threads": args.threads, "progress": False, "bootstrap": 0,
            "results_dir": str(Path(tmp) / "results"),
        }
        cfg = load_config(None, overrides)
        batch_size = cfg.runtime.batch_size
        runtime = load_runtime(cfg.model[0], "cpu", cfg.runtime.threads)
        spec = runtime.spec
        view = modalities.get(spec.modality).view(spec, cfg)  # the run's view, without the sample cache
        shape = view.batch_shape(batch_size)
        corpus = Registry.load(cfg.data.dataset_dirs).get("corpus")

        # 1. preprocessing only (batches kept for step 2)
        kept = []
        start = time.perf_counter()
        planned = plan_batches([iter_samples(corpus)], batch_size)
        with Prepared(planned, Views([view]), [shape], cfg.resolved_workers(), cfg.runtime.prefetch) as prepared:
            for batch in prepared:
                kept.append(batch.buffers[0].copy())
        prep_s = time.perf_counter() - start

        # 2. model only, on the same batches
        warmup(runtime, shape, cfg.runtime.warmup)
        start = time.perf_counter()
        for buffer in kept:
            runtime.run(buffer)
        model_s = time.perf_counter() - start

        # 3. end to end, the real run
        tp = run_all(cfg)[0].throughput

    n = args.samples
    pre_rate, model_rate, e2e = n / prep_s, n / model_s, tp["samples_per_s"]
    slower = min(pre_rate, model_rate)
    shared = 1 / (1 / pre_rate + 1 / model_rate)  # both stages on the same cores, one after the other
    rows = [
        ["preprocessing only", pre_rate, pre_rate / slower],
        ["model only (same batches)", model_rate, model_rate / slower],
        ["both, sharing the CPU: 1 / (1/pre + 1/model)", shared, shared / slower],
        ["model only, inside the end-to-end run", tp["model_only_samples_per_s"], tp["model_only_samples_per_s"] / slower],
        ["end to end", e2e, e2e / slower],
    ]
    print(f"{n} samples of {Path(args.model).name} at {spec.height}x{spec.width}, batch {batch_size}, "
          f"{cfg.resolved_workers()} workers, {runtime.environment['provider']}, {os.cpu_count()} cores")
    print(table(["stage", "samples/s", "ratio to the slower of model-only and preprocessing-only"], rows))
    print(f"\nend-to-end / slower stage = {e2e / slower:.2f}; end-to-end / both-sharing-the-CPU = {e2e / shared:.2f} "
          f"(on a CPU-only machine both stages compete for the same cores); the session waited "
          f"{tp['stages_ms']['data_wait']:.0f} ms for data and computed {tp['stages_ms']['inference']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
