"""The Ray engine against the local engine on one machine, measured side by side in one run.

The same ``--samples`` photo-sized JPEGs (the corpus of ``pipeline_speed.py``: 1-3 MP, generated
from the bundled sample, deterministic for ``--seed``) are scored by ``bench.scoring.run_all`` with
``--engine local`` and ``--engine ray`` in turn (local, ray, local, ray ... for ``--rounds``), for
the ``light`` and the ``heavy`` model of ``pipeline_speed.py``, cache off (every sample decoded).
Ray is started once in this process (``ray.init(num_cpus=<cores>)``) before the first Ray run; its
fixed cost is measured on its own, in a fresh subprocess: ``import ray``, ``ray.init()``, and a
first one-row dataset through one actor (what a run pays before its first batch).

Printed: per model and engine the scoring loop's samples/s (the same figure as the run's throughput
table: from the first batch requested to the last record written; for Ray it includes the pipeline's
start: actor creation and model load), the ratio ray / local per round, per-actor inference
samples/s, the decode CPU-seconds per sample; and a PASS / MISS line for the target: the Ray engine
at >= 0.70 of the local engine's throughput for the heavy model. The records of the two engines are
compared too (identical apart from the worker column).

Usage: python benchmarks/ray_engine.py [--samples 1000] [--heavy-samples 1000] [--rounds 1]
                                       [--batch-size 16] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
from pipeline_speed import build_corpus, build_model, log  # noqa: E402

from bench.config import load_config  # noqa: E402
from bench.report import table  # noqa: E402
from bench.scoring import run_all  # noqa: E402

TARGET = 0.70
START_CODE = """
import time
t0 = time.perf_counter()
import ray
t1 = time.perf_counter()
ray.init(logging_level="ERROR", log_to_driver=False, include_dashboard=False)
t2 = time.perf_counter()
ctx = ray.data.DataContext.get_current(); ctx.enable_progress_bars = False; ctx.print_on_execution_start = False
class Echo:
    def __call__(self, row):
        return row
ray.data.from_items([{"x": 1}]).map(Echo, concurrency=1).take_all()
t3 = time.perf_counter()
print({"import_s": t1 - t0, "init_s": t2 - t1, "first_actor_dataset_s": t3 - t2})
"""


def ray_start_cost() -> dict:
    out = subprocess.run([sys.executable, "-c", START_CODE], capture_output=True, text=True, timeout=300, check=True)
    return eval(out.stdout.strip().splitlines()[-1])  # a dict literal printed by the child above


def one_run(registry: Path, model: Path, engine: str, samples: int, batch_size: int, out: Path) -> dict:
    cfg = load_config(None, {"model": [str(model)], "datasets": ["corpus"], "dataset_dirs": [str(registry)], "limit": samples, "cache": False,
                             "batch_size": batch_size, "engine": engine, "progress": False, "bootstrap": 0, "output": str(out), "overwrite": True, "provider": "cpu"})
    (result,) = run_all(cfg)
    tp = result.throughput
    return {"samples_per_s": tp["samples_per_s"], "model_only": tp["model_only_samples_per_s"], "decode_ms": tp["stages_ms"]["decode"] + tp["stages_ms"]["preprocess"],
            "samples": tp["samples"], "engine": tp["engine"], "records": out / "records.parquet"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--heavy-samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the corpus here (reused when it matches)")
    args = parser.parse_args()

    import ray

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-ray-"))
    folder.mkdir(parents=True, exist_ok=True)
    build_corpus(folder, args.samples, args.seed)
    log("measuring Ray's fixed start cost in a subprocess")
    start = ray_start_cost()
    ray.init(num_cpus=os.cpu_count(), logging_level="ERROR", log_to_driver=False, include_dashboard=False)
    rows, ratios, same = [], {}, {}
    for kind, n in (("light", args.samples), ("heavy", args.heavy_samples)):
        model = build_model(kind, folder / f"{kind}.onnx")
        for r in range(args.rounds):
            got = {}
            for engine in ("local", "ray"):
                log(f"{kind} model, round {r + 1}: --engine {engine}, {n} samples")
                got[engine] = one_run(folder / "registry", model, engine, n, args.batch_size, folder / f"out-{kind}-{engine}")
            ratios.setdefault(kind, []).append(got["ray"]["samples_per_s"] / got["local"]["samples_per_s"])
            a, b = (pd.read_parquet(got[e]["records"]).drop(columns="worker") for e in ("local", "ray"))
            same.setdefault(kind, []).append(a.equals(b))
            for engine, g in got.items():
                actors = g["engine"].get("actors", {})
                per_actor = ", ".join(f"{a['samples_per_s']:.1f}" for a in actors.values()) or "-"
                rows.append([kind, r + 1, engine, g["samples"], f"{g['samples_per_s']:.2f}", f"{g['model_only']:.2f}", per_actor, f"{g['decode_ms'] / g['samples']:.2f}"])
    print(table(["model", "round", "engine", "samples", "end-to-end samples/s", "model-only samples/s", "per-actor inference samples/s", "decode+preprocess CPU ms/sample"], rows))
    print()
    print(table(["model", "ray / local samples/s, per round", "records identical (less worker)"],
                [[k, ", ".join(f"{x:.3f}" for x in v), ", ".join(str(s) for s in same[k])] for k, v in ratios.items()]))
    print()
    print(f"Ray's fixed start cost (fresh process): import {start['import_s']:.2f} s, ray.init {start['init_s']:.2f} s, "
          f"first one-actor dataset {start['first_actor_dataset_s']:.2f} s; total {sum(start.values()):.2f} s")
    heavy = min(ratios["heavy"])
    print(f"target: ray >= {TARGET:.2f} x local throughput for the heavy model (worst round): {heavy:.3f} {'PASS' if heavy >= TARGET else 'MISS'}")
    print(json.dumps({"ratios": ratios, "start": start, "records_identical": same}))
    ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
