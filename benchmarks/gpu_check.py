"""The GPU path, checked end to end on a host with an NVIDIA GPU (run by ``gpu_check.sh``).

1. the session really runs on CUDAExecutionProvider (ONNX Runtime falls back to CPU silently);
2. I/O binding (what ``OnnxRuntime.run`` does on CUDA) gives the same logits as a plain ``run``;
3. a model-only batch-size sweep of a ResNet-50-class graph: throughput, latency percentiles,
   device memory, and a batch size too big to fit (recorded as an out-of-memory row);
4. end to end through the pipeline against model-only on the same batches and against
   preprocessing only, on the bundled sample repeated to ``--samples``.

Writes ``gpu_check.json`` and the profile files under ``--out``; prints a summary table last.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from resnet import save_resnet50  # noqa: E402

from bench import executors, modalities  # noqa: E402
from bench import profiling as prof  # noqa: E402
from bench.config import load_config  # noqa: E402
from bench.data.registry import Registry, iter_samples  # noqa: E402
from bench.executors.local import Prepared  # noqa: E402
from bench.plan import plan_batches  # noqa: E402
from bench.report import table  # noqa: E402
from bench.runtimes import load_runtime, warmup  # noqa: E402
from bench.runtimes.onnx import CUDA  # noqa: E402
from bench.scoring import resolve_views  # noqa: E402
from bench.throughput import Throughput  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def sample_stream(cfg, n: int):
    registry = Registry.load(cfg.data.dataset_dirs)
    specs = [registry.get(name) for name in cfg.data.datasets]
    return itertools.islice(itertools.cycle(itertools.chain.from_iterable(list(iter_samples(s)) for s in specs)), n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "gpu-check"))
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--provider", default="cuda", help="cuda (the point); cpu to dry-run this script anywhere")
    ap.add_argument("--batch-sizes", default="1,2,4,8,16,32,64,128,256,512,16384")
    ap.add_argument("--e2e-batch-sizes", default="32,64,128")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    summary: list[list] = []

    model = save_resnet50(Path("/tmp") / "bench-gpu-check" / "resnet50.onnx")
    runtime = load_runtime(str(model), args.provider)
    provider = runtime.environment["provider"]
    report["providers"] = runtime.environment["providers"]
    report["environment"] = runtime.environment
    summary.append(["provider really running", provider, "PASS" if provider == CUDA or args.provider == "cpu" else "FAIL"])

    # 2. I/O binding against a plain run, same inputs
    batch = np.random.default_rng(0).integers(0, 256, (16, 3, 224, 224), dtype=np.uint8)
    bound = runtime.run(batch)
    plain = runtime.session.run(None, {runtime.spec.input_name: batch})[0]  # the ONNX Runtime session itself
    diff = float(np.abs(bound - plain).max())
    report["iobinding_max_abs_diff"] = diff
    scale = float(np.abs(plain).max())
    summary.append(["I/O binding vs plain run, max |diff|", f"{diff:.3g} (logit scale {scale:.3g})", "PASS" if diff <= 1e-5 * max(1, scale) else "FAIL"])

    # 3. model-only sweep, including a batch that cannot fit
    sizes = prof.parse_batch_sizes(args.batch_sizes)
    cfg = prof.ProfileConfig(model=str(model), batch_sizes=sizes, provider=args.provider, duration=args.duration, min_iters=10)
    sweep = prof.sweep(cfg, progress=prof.print_progress)
    prof.write_files(sweep, out / "profile-model-only")
    report["model_only"] = sweep.to_json()
    best = sweep.best()
    summary.append(["model-only best batch", f"{best.batch_size} ({best.samples_per_s:.0f} samples/s)" if best else "-", "PASS" if best else "FAIL"])
    last = sweep.rows[-1]
    summary.append(["too-big batch recorded, not a crash", f"batch {last.batch_size}: {last.status}", "PASS" if last.status in ("oom", "ok") else "CHECK"])

    # 4. end to end vs model-only (same batches) vs preprocessing only
    run_cfg = load_config(ROOT / "configs" / "default.yaml", {"model": str(model), "provider": args.provider, "progress": False, "cache": False})
    views, jobs = resolve_views(run_cfg, modalities.get(runtime.spec.modality), [runtime])
    workers, prefetch = run_cfg.resolved_workers(), run_cfg.runtime.prefetch
    rows = []
    for b in [int(x) for x in args.e2e_batch_sizes.split(",")]:
        shape = views[0].batch_shape(b)
        start = time.perf_counter()
        with Prepared(plan_batches([sample_stream(run_cfg, args.samples)], b), views, [shape], workers, prefetch) as prepared:
            for _ in prepared:
                pass
        pre = args.samples / (time.perf_counter() - start)
        warmup(runtime, shape, 3)
        tracker = Throughput(b)
        executor = executors.get("local", workers=workers, prefetch=prefetch, batch_size=b)
        start = time.perf_counter()
        for batch, (inference,) in executor.run(plan_batches([sample_stream(run_cfg, args.samples)], b), views, jobs):
            tracker.add(batch, inference.seconds)
        tracker.wall_s = time.perf_counter() - start
        tp = tracker.to_json()
        e2e, model_only = tp["samples_per_s"], tp["model_only_samples_per_s"]
        slower = min(pre, model_only)
        rows.append({"batch_size": b, "preprocess_only": pre, "model_only": model_only, "end_to_end": e2e, "ratio_to_slower": e2e / slower, "data_wait_ms": tp["stages_ms"]["data_wait"]})
        summary.append([f"batch {b}: end-to-end / slower of model-only and preprocessing", f"{e2e:.0f} / min({model_only:.0f}, {pre:.0f}) = {e2e / slower:.2f}", "PASS" if e2e / slower >= 0.9 else "MISS"])
    report["end_to_end"] = rows
    report["workers"] = workers
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(table(["e2e batch", "preprocess only/s", "model only/s", "end to end/s", "e2e / slower", "data wait ms"], [[r["batch_size"], r["preprocess_only"], r["model_only"], r["end_to_end"], r["ratio_to_slower"], r["data_wait_ms"]] for r in rows]))
    print()
    print(table(["check", "value", "verdict"], summary))
    return 0 if all(v != "FAIL" for *_, v in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
