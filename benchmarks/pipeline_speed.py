"""Data pipeline speed on photo-sized JPEGs: preprocessing against a plain PIL loop, end to end
against model only (cold and warm sample cache, a light and a heavy model), and peak memory at two
dataset sizes, measured side by side in one run.

A corpus of ``--samples`` JPEGs of 1-3 megapixels is generated from the bundled sample (each source
image randomly cropped and flipped, upscaled with bicubic interpolation to a random size and aspect
ratio, a little Gaussian noise added so the JPEG is not trivially compressible, re-encoded at
quality 85-95; deterministic for a given ``--seed``) in a temporary folder with a dataset registry
YAML. Two models are built with the ``onnx`` helper API (``uint8 (batch, 3, 224, 224)`` in,
``(batch, 3)`` logits out, IR version 10, opset 18): ``light`` (two convolutions and a pooled
linear head; about as fast as preprocessing on a 2-core machine) and ``heavy`` (20 ResNet-style
blocks of 3x3 convolutions at 56x56; several times slower than preprocessing). Then:

1. preprocessing samples/s: the run's view (cache off) in the local executor's worker threads
   (decode, crop-resize to 224x224, CHW into batch buffers) against a straightforward baseline, one
   sample at a time in one thread: PIL decode, PIL crop to the centred window of the target's aspect
   ratio, PIL resize to 224x224 (bilinear), numpy CHW; and, for reference, ours in one worker (the
   per-core cost). They alternate over ``--rounds`` slices of the corpus, so a change of background
   load hits all alike;
2. for each model, ``bench.scoring.run_all`` twice on a fresh cache folder (cold: the cache is empty and
   gets filled; warm: every sample is a cache hit): end-to-end samples/s against the same run's
   model-only samples/s (inference time on the same batches), and the model alone on a random batch.
   The heavy model's runs take the first ``--heavy-samples`` samples, to bound the run time;
3. peak resident memory (VmHWM: the max RSS of the process's own address space) of a full
   ``bench run --no-cache`` (default config otherwise) with the light model on datasets of 1,000 and
   20,000 samples (folders of hard links to the corpus files under distinct names, no extra disk),
   each in its own subprocess.

Every step also reports the CPU that other processes used meanwhile (``other load``, in cores, from
``/proc/stat``): on a shared machine, a busy neighbour halves a 2-core measurement. A final table
lists each target with the measured value and PASS / MISS. Progress goes to stderr. The JPEGs stay
in the page cache (they were just written), so "cold" means an empty sample cache, not a cold disk.
About 5 minutes on an idle 2-core machine, 10 when another process keeps one core busy.

Usage: python benchmarks/pipeline_speed.py [--samples 2000] [--memory-samples 1000,20000] [--skip-memory]
                                           [--workers 0] [--threads 0] [--batch-size 16] [--heavy-samples 800]
                                           [--rounds 4] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import yaml  # noqa: E402
from load_meter import Load  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from onnx import TensorProto, helper  # noqa: E402
from PIL import Image  # noqa: E402
from resnet import GraphBuilder  # noqa: E402

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
SIZE = 224
NOISE_TILE = 256
CORPUS_VERSION = 2  # bump when the generator changes what a seed produces
TARGETS = {"preprocess_ratio": 3.0, "warm_ratio": 0.90, "memory_mb": 200.0}
_T0 = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# corpus


def sample_sources() -> list[Path]:
    found = sorted(p for kind in ("real", "synthetic", "semisynthetic") for p in (ROOT / "data" / "sample" / kind).glob("*.jpg"))
    if not found:
        raise SystemExit(f"no bundled sample images under {ROOT / 'data' / 'sample'}; run scripts/build_sample.py")
    return found


def make_photo(source: np.ndarray, seed: int, index: int) -> tuple[bytes, tuple[int, int]]:
    """One 1-3 megapixel JPEG from a small BGR image: random crop, flips, bicubic upscale to a random
    size and aspect ratio, Gaussian noise, quality 85-95. Deterministic in ``(seed, index)``."""
    rng = np.random.default_rng([seed, index])
    h, w = source.shape[:2]
    ch, cw = max(16, int(h * rng.uniform(0.55, 1.0))), max(16, int(w * rng.uniform(0.55, 1.0)))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    image = source[top : top + ch, left : left + cw]
    if rng.random() < 0.5:
        image = image[:, ::-1]
    if rng.random() < 0.25:
        image = image[::-1]
    pixels = rng.uniform(1.0e6, 3.0e6)
    aspect = math.exp(rng.uniform(math.log(0.6), math.log(1.8)))  # width / height
    out_w = int(round(math.sqrt(pixels * aspect)))
    out_h = int(round(pixels / out_w))
    big = cv2.resize(np.ascontiguousarray(image), (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    # Gaussian noise from a 256x256 tile repeated over the picture: JPEG codes 8x8 blocks
    # independently, so a repeated tile costs the encoder and decoder the same as fresh noise
    tile = np.empty((NOISE_TILE, NOISE_TILE, 3), dtype=np.int16)
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))  # OpenCV's generator is per thread: seeded right before use
    sigma = float(rng.uniform(1.5, 3.5))
    cv2.randn(tile, (0.0, 0.0, 0.0), (sigma, sigma, sigma))
    noise = cv2.repeat(tile, -(-out_h // NOISE_TILE), -(-out_w // NOISE_TILE))[:out_h, :out_w]
    big = cv2.add(big, noise, dtype=cv2.CV_8U)  # saturating
    ok, encoded = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(85, 96))])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes(), (out_h, out_w)


def build_corpus(folder: Path, n: int, seed: int) -> dict:
    """``n`` JPEGs under ``folder/media`` and a registry ``folder/registry/corpus.yaml`` (dataset
    ``corpus``); reused when ``folder`` already holds the same corpus (``corpus.json``)."""
    manifest = folder / "corpus.json"
    wanted = {"version": CORPUS_VERSION, "samples": n, "seed": seed}
    if manifest.is_file():
        info = json.loads(manifest.read_text())
        if {k: info.get(k) for k in wanted} == wanted:
            log(f"reusing the corpus in {folder} ({info['samples']} JPEGs, {info['bytes'] / 1e6:.0f} MB)")
            return info
        log(f"{folder} holds another corpus ({ {k: info.get(k) for k in wanted} }); rebuilding it")
    for sub in ("media", "registry"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    manifest.unlink(missing_ok=True)
    media = folder / "media"
    media.mkdir(parents=True)
    sources = sample_sources()
    images = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in sources]
    log(f"building {n} JPEGs of 1-3 MP from {len(sources)} sample images in {media}")

    def one(i: int) -> tuple[int, int]:
        data, (h, w) = make_photo(images[i % len(images)], seed, i)
        src = sources[i % len(sources)]
        (media / f"{i:06d}-{src.parent.name}-{src.stem}.jpg").write_bytes(data)
        return len(data), h * w

    total_bytes = total_pixels = 0
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for done, (size, pixels) in enumerate(pool.map(one, range(n)), 1):
            total_bytes += size
            total_pixels += pixels
            if done % 500 == 0 or done == n:
                log(f"  {done}/{n} JPEGs ({time.perf_counter() - start:.0f} s)")
    registry = folder / "registry"
    registry.mkdir()
    entry = {"name": "corpus", "modality": "image", "media_type": "real", "source": {"type": "folder", "path": str(media)}}
    (registry / "corpus.yaml").write_text(yaml.safe_dump({"datasets": [entry]}))
    info = wanted | {"bytes": total_bytes, "megapixels_mean": total_pixels / n / 1e6}
    manifest.write_text(json.dumps(info))
    return info


def link_dataset(folder: Path, name: str, files: list[Path], n: int) -> None:
    """A dataset ``name`` of ``n`` distinct names, hard links to ``files`` round-robin (symlinks
    when the folders are on different file systems), declared in ``folder/registry``."""
    media = folder / name
    media.mkdir(parents=True)
    for i in range(n):
        src, dst = files[i % len(files)], media / f"{i:06d}.jpg"
        try:
            os.link(src, dst)
        except OSError:
            os.symlink(src, dst)
    registry = folder / "registry"
    registry.mkdir(exist_ok=True)
    entry = {"name": name, "modality": "image", "media_type": "real", "source": {"type": "folder", "path": str(media)}}
    (registry / f"{name}.yaml").write_text(yaml.safe_dump({"datasets": [entry]}))


# --------------------------------------------------------------------------------------------
# models


def build_model(kind: str, path: Path, seed: int = 0) -> Path:
    """``light``: conv 4x4/4 (3->64) + ReLU, conv 3x3 (64->144) + ReLU at 56x56, global average
    pool, linear. ``heavy``: conv 4x4/4 (3->32), conv 3x3 (32->64), 20 residual blocks of two 3x3
    convolutions (64 channels) at 56x56, global average pool, linear. Both scale ``uint8`` pixels
    to [-0.5, 0.5] inside the graph; He-initialised random weights (benchmarks/resnet.py)."""
    g = GraphBuilder(seed)
    g.nodes += [
        helper.make_node("Cast", ["pixels"], ["x.float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x.float", g.const(np.array(1 / 255.0, np.float32), "scale")], ["x.scaled"]),
        helper.make_node("Add", ["x.scaled", g.const(np.array(-0.5, np.float32), "shift")], ["x0"]),
    ]
    if kind == "light":
        x = g.conv("x0", 3, 64, 4, 4, pad=0)  # 56x56
        x = g.conv(x, 64, 144, 3)
        width = 144
    elif kind == "heavy":
        x = g.conv("x0", 3, 32, 4, 4, pad=0)  # 56x56
        x = g.conv(x, 32, 64, 3)
        for _ in range(20):
            x = g.residual(x, g.conv(g.conv(x, 64, 64, 3), 64, 64, 3, relu=False))
        width = 64
    else:
        raise ValueError(kind)
    fc = (g.rng.standard_normal((3, width)) * 0.1).astype(np.float32)
    g.nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"]),
        helper.make_node("Gemm", ["features", g.const(fc, "fc.w"), g.const(np.zeros(3, np.float32), "fc.b")], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        g.nodes, f"{kind}_detector",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10, producer_name="benchmarks/pipeline_speed.py")
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def model_alone(path: Path, batch_size: int, threads: int, seconds: float = 3.0) -> float:
    """Samples/s of the session alone on one random batch (nothing else running)."""
    runtime = load_runtime(str(path), "cpu", threads)
    shape = (batch_size, 3, SIZE, SIZE)  # the input of both models built here
    warmup(runtime, shape, 3)
    batch = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        runtime.run(batch)
        done += batch_size
    return done / (time.perf_counter() - start)


# --------------------------------------------------------------------------------------------
# 1. preprocessing


def pil_baseline(path: str, height: int, width: int) -> np.ndarray:
    """Decode with PIL, crop the centred window of the target's aspect ratio, bilinear resize, CHW."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    s = min(h / height, w / width)
    rows, cols = min(round(s * height), h), min(round(s * width), w)
    top, left = (h - rows) // 2, (w - cols) // 2
    image = image.crop((left, top, left + cols, top + rows)).resize((width, height), Image.BILINEAR)
    return np.asarray(image).transpose(2, 0, 1)


def time_baseline(paths: list[str], batch_size: int) -> float:
    buffer = np.zeros((batch_size, 3, SIZE, SIZE), dtype=np.uint8)
    start = time.perf_counter()
    for i, path in enumerate(paths):
        buffer[i % batch_size] = pil_baseline(path, SIZE, SIZE)
    return time.perf_counter() - start


def time_pipeline(refs: list, view, batch_shape: tuple[int, ...], workers: int, prefetch: int) -> float:
    start = time.perf_counter()
    with Prepared(plan_batches([refs], batch_shape[0]), Views([view]), [batch_shape], workers, prefetch) as prepared:
        for batch in prepared:
            bad = [o for o in batch.outcomes if not o.ok]
            if bad:
                raise SystemExit(f"data error in the corpus: {bad[0].error_stage}: {bad[0].error}")
    return time.perf_counter() - start


def compare_preprocessing(cfg, spec, rounds: int) -> tuple[dict[str, float], int]:
    """Seconds over the whole corpus of ours (the run's workers), ours in one worker (the per-core
    cost, for reference) and the PIL baseline, alternating over ``rounds`` slices (the order
    rotating) so that a change of background load during the run hits all three alike."""
    view = modalities.get(spec.modality).view(spec, cfg)  # the run's view; cfg has the cache off
    fast = dataclasses.replace(view, fast_decode=True)  # the opt-in reduced-scale JPEG decode
    refs = list(iter_samples(Registry.load(cfg.data.dataset_dirs).get("corpus")))
    batch_size, workers, prefetch = cfg.runtime.batch_size, cfg.resolved_workers(), cfg.runtime.prefetch
    shape = view.batch_shape(batch_size)
    steps = {
        "ours": lambda part: time_pipeline(part, view, shape, workers, prefetch),
        "ours1": lambda part: time_pipeline(part, view, shape, 1, prefetch),
        "pil": lambda part: time_baseline([ref.path for ref in part], batch_size),
        "fast": lambda part: time_pipeline(part, fast, shape, workers, prefetch),
    }
    seconds = dict.fromkeys(steps, 0.0)
    rounds = max(1, min(rounds, len(refs)))
    for r in range(rounds):
        part = refs[r * len(refs) // rounds : (r + 1) * len(refs) // rounds]
        names = list(steps)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            seconds[name] += steps[name](part)
        done = len(refs) * (r + 1) / rounds
        log(f"   round {r + 1}/{rounds}: ours {done / seconds['ours']:.0f}, ours in 1 worker {done / seconds['ours1']:.0f}, PIL {done / seconds['pil']:.0f} samples/s so far")
    return seconds, len(refs)


# --------------------------------------------------------------------------------------------
# 3. memory

# The peak is read from VmHWM (this address space's high-water mark). ``ru_maxrss`` is no good in a
# child process on Linux: it starts from the parent's resident size at fork (measured: a child of
# an 800 MB parent reports 794 MB while its VmHWM is 11 MB), so it would report this benchmark's
# own footprint for every dataset size.
MEMORY_CODE = """
import resource, sys
from bench.cli import main
rc = main(["run", sys.argv[1], "--no-cache", "--no-progress", "--output", sys.argv[2], *sys.argv[3:]])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
except (OSError, StopIteration, ValueError):
    pass
sys.stdout.flush()
print("PEAK_RSS_KB", peak, "RC", rc)
"""


def peak_memory(config: Path, output: Path, extra: list[str]) -> tuple[float, float, dict]:
    """(peak RSS in MB, wall seconds, the run's throughput) of ``bench run`` in a fresh interpreter."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", MEMORY_CODE, str(config), str(output), *extra], capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - start
    last = proc.stdout.strip().splitlines()[-1:] or [""]
    parts = last[0].split()
    if proc.returncode != 0 or len(parts) != 4 or parts[0] != "PEAK_RSS_KB" or parts[3] != "0":
        raise RuntimeError(f"bench run failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    throughput = json.loads((output / "results.json").read_text())["throughput"]
    return int(parts[1]) / 1024.0, wall, throughput


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000, help="corpus size (default 2000)")
    ap.add_argument("--memory-samples", default="1000,20000", help="comma-separated dataset sizes for the peak-memory runs")
    ap.add_argument("--skip-memory", action="store_true", help="skip the peak-memory runs (3.)")
    ap.add_argument("--workers", type=int, default=0, help="preprocessing threads (default 0: the run's default for this machine)")
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (default 0: ONNX Runtime's default)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--heavy-samples", type=int, default=800, help="2.: the heavy model's runs take the first N samples (0: all; default 800)")
    ap.add_argument("--rounds", type=int, default=4, help="1.: ours, ours in 1 worker and PIL alternate over this many slices of the corpus")
    ap.add_argument("--seed", type=int, default=0, help="corpus generator seed")
    ap.add_argument("--keep", metavar="DIR", help="build the corpus in DIR and keep it (reused when DIR already holds the same corpus)")
    args = ap.parse_args()
    memory_sizes = sorted({int(x) for x in args.memory_samples.split(",") if x.strip()})

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-speed-") as tmp_name:
        tmp = Path(tmp_name)
        corpus_dir = Path(args.keep).resolve() if args.keep else tmp / "corpus"
        corpus_dir.mkdir(parents=True, exist_ok=True)
        info = build_corpus(corpus_dir, args.samples, args.seed)
        files = sorted((corpus_dir / "media").glob("*.jpg"))
        models = {kind: build_model(kind, tmp / f"{kind}.onnx") for kind in ("light", "heavy")}

        def config(model: Path, **extra):
            overrides = {
                "model": str(model), "datasets": ["corpus"], "dataset_dirs": [str(corpus_dir / "registry")],
                "batch_size": args.batch_size, "workers": args.workers, "threads": args.threads, "provider": "cpu",
                "progress": False, "bootstrap": 0, "results_dir": str(tmp / "results"),
            }
            return load_config(None, overrides | extra)

        # 1. preprocessing: ours (worker threads, cache off) against PIL, one sample at a time
        cfg = config(models["light"], cache=False)
        spec = load_runtime(cfg.model[0], "cpu", 1).spec
        workers = cfg.resolved_workers()
        log(f"1. preprocessing of {len(files)} JPEGs: ours ({workers} worker threads, cache off) against PIL (1 thread), {args.rounds} rounds")
        with Load() as load1:
            seconds, n = compare_preprocessing(cfg, spec, args.rounds)
        ours_rate, one_rate, base_rate = n / seconds["ours"], n / seconds["ours1"], n / seconds["pil"]

        # 2. end to end against model only, cold then warm cache, per model
        runs = {}
        for kind, path in models.items():
            with Load() as load:
                alone = model_alone(path, args.batch_size, args.threads)
            runs[kind, "alone"] = {"samples_per_s": alone, "load": load}
            log(f"2. {kind} model alone: {alone:.0f} samples/s; end to end, cold cache")
            cache_dir = tmp / f"cache-{kind}"
            for state in ("cold", "warm"):
                if state == "warm":
                    log(f"   {kind}: end to end, warm cache")
                limit = args.heavy_samples if kind == "heavy" and args.heavy_samples else None
                with Load() as load:
                    (result,) = run_all(config(path, cache=True, cache_dir=str(cache_dir), limit=limit, output=str(tmp / "results" / f"{kind}-{state}")))
                records = result.records
                bad = records[records["status"] != "ok"]
                if len(bad):
                    raise SystemExit(f"{len(bad)} records of the {kind} run are not ok, e.g. {bad.iloc[0]['status']}: {bad.iloc[0]['error']}")
                tp = result.throughput  # its "cache" entry holds the hits and misses
                runs[kind, state] = tp | {"load": load}
                log(f"   {tp['samples_per_s']:.0f} samples/s end to end, {tp['model_only_samples_per_s']:.0f} model only")
            shutil.rmtree(cache_dir, ignore_errors=True)

        # 3. peak memory of a full `bench run --no-cache` at two dataset sizes
        memory = {}
        if not args.skip_memory:
            links = tmp / "links"
            extra = (["--workers", str(args.workers)] if args.workers else []) + (["--threads", str(args.threads)] if args.threads else [])
            for size in memory_sizes:
                name = f"links-{size}"
                link_dataset(links, name, files, size)
                run_config = links / f"{name}.yaml"
                run_config.write_text(yaml.safe_dump({
                    "model": str(models["light"]), "datasets": [name], "dataset_dirs": [str(links / "registry")],
                    "batch_size": args.batch_size, "provider": "cpu",
                }))
                log(f"3. peak memory: bench run --no-cache, light model, {size} samples (subprocess)")
                with Load() as load:
                    rss, wall, tp = peak_memory(run_config, tmp / "results" / name, extra)
                memory[size] = {"rss": rss, "wall": wall, "tp": tp, "load": load}
                log(f"   peak RSS {rss:.0f} MB, {tp['samples_per_s']:.0f} samples/s, {wall:.0f} s")
                shutil.rmtree(links / name)

    # ---------------------------------------------------------------- report
    print(f"{n} JPEGs, mean {info['megapixels_mean']:.2f} MP, {info['bytes'] / n / 1e3:.0f} kB; model input {SIZE}x{SIZE}, "
          f"batch {args.batch_size}, {workers} preprocessing workers, ONNX Runtime threads {args.threads or 'default'}, {os.cpu_count()} cores")
    print("'other load': cores busy with other processes meanwhile (from /proc/stat), to judge the numbers by")
    print("\n1. Preprocessing (decode + crop-resize to 224x224 + CHW into batch buffers)\n")
    print(table(["pipeline", "samples/s", "ms/sample"], [
        [f"ours: the run's view in the local executor, {workers} threads, cache off", f"{ours_rate:.1f}", f"{1000 / ours_rate:.2f}"],
        ["(reference) ours in 1 worker thread", f"{one_rate:.1f}", f"{1000 / one_rate:.2f}"],
        ["PIL decode + crop + resize (bilinear), 1 thread", f"{base_rate:.1f}", f"{1000 / base_rate:.2f}"],
        [f"(opt-in) ours with --fast-decode, {workers} threads", f"{n / seconds['fast']:.1f}", f"{1000 * seconds['fast'] / n:.2f}"],
    ]))
    print(f"\nours / PIL = {ours_rate / base_rate:.2f}x; per core {one_rate / base_rate:.2f}x, {workers} workers / 1 = {ours_rate / one_rate:.2f}x "
          f"(alternating over {args.rounds} slices; other load {load1.text()} cores)")

    print("\n2. End to end against model only (bench.scoring.run_all; model only = inference time on the same run's batches)\n")
    rows = []
    for kind in models:
        alone = runs[kind, "alone"]
        rows.append([kind, "model alone, random batch", "-", "-", f"{alone['samples_per_s']:.1f}", "-", "-", "-", "-", "-", alone["load"].text()])
        for state in ("cold", "warm"):
            tp = runs[kind, state]
            st = tp["stages_ms"]
            rows.append([
                kind, f"{state} cache", tp["samples"], f"{tp['samples_per_s']:.1f}", f"{tp['model_only_samples_per_s']:.1f}",
                f"{tp['samples_per_s'] / tp['model_only_samples_per_s']:.3f}", f"{st['data_wait'] / 1000:.1f}", f"{st['inference'] / 1000:.1f}",
                f"{tp['wall_s']:.1f}", f"{tp['cache']['hits']}/{tp['cache']['misses']}", tp["load"].text(),
            ])
    print(table(["model", "run", "samples", "end to end/s", "model only/s", "e2e / model only", "data wait s", "inference s", "wall s", "cache hits/misses", "other load"], rows))

    if memory:
        print("\n3. Peak memory of `bench run --no-cache` (light model, one process each)\n")
        print(table(["samples", "peak RSS MB", "end to end/s", "wall s", "other load"],
                    [[size, f"{m['rss']:.0f}", f"{m['tp']['samples_per_s']:.1f}", f"{m['wall']:.0f}", m["load"].text()] for size, m in memory.items()]))

    verdict = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    ratio = ours_rate / base_rate
    summary = [["1. preprocessing: ours / PIL", f">= {TARGETS['preprocess_ratio']:.1f}x", f"{ratio:.2f}x", verdict(ratio >= TARGETS["preprocess_ratio"])]]
    for kind in models:
        tp = runs[kind, "warm"]
        ratio = tp["samples_per_s"] / tp["model_only_samples_per_s"]
        summary.append([f"2. {kind}, warm cache: end to end / model only", f">= {TARGETS['warm_ratio']:.2f}", f"{ratio:.3f}", verdict(ratio >= TARGETS["warm_ratio"])])
    if len(memory) >= 2:
        low, high = memory_sizes[0], memory_sizes[-1]
        growth = memory[high]["rss"] - memory[low]["rss"]
        summary.append([f"3. peak RSS at {high} - at {low} samples", f"<= {TARGETS['memory_mb']:.0f} MB", f"{growth:.0f} MB", verdict(growth <= TARGETS["memory_mb"])])
    light, heavy = (runs[kind, "warm"]["model_only_samples_per_s"] for kind in ("light", "heavy"))  # longer than "alone"
    in_range = lambda ok: "ok" if ok else "off"  # noqa: E731
    summary.append(["(setup) light model only (warm run) / our preprocessing", "0.5 - 2", f"{light / ours_rate:.2f}", in_range(0.5 <= light / ours_rate <= 2)])
    summary.append(["(setup) our preprocessing / heavy model only (warm run)", "5 - 20", f"{ours_rate / heavy:.1f}", in_range(5 <= ours_rate / heavy <= 20)])
    print("\nSummary\n")
    print(table(["target", "wanted", "measured", "verdict"], summary))
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
