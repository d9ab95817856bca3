"""What a real ``bench run`` costs beyond the model, and what ``--batch-trials`` costs, side by side.

Two parts, each measured side by side in one run, repeats interleaved (the order flips every
repeat), each pair printed and then the median:

(a) warm-up that costs nothing / start-up: a heavy model (the ResNet-50-class graph of
    ``resnet.py`` at 224; ``--blocks`` makes it smaller) on ``--samples`` images (the bundled
    sample's images repeated via symlinks). ``python -m bench run CONFIG --no-progress --no-cache``
    as a subprocess, timed from process start to exit, against model load + model only measured in
    this process (``load_runtime(path, "cpu")`` timed, then the same number of samples in batches
    of ``--batch-size`` through ``runtime.run`` on pre-generated uint8 batches, no warm-up).
    Target: (load + model only) / process wall >= 0.95. A 10-image ``bench run --limit 4`` gives
    the start-up cost on its own line.
(b) batch trials cost: the light demo model on the same images, ``bench run`` plain against
    ``bench run --batch-trials 10`` (each with a fresh ``--cache-dir``, so each decodes every
    sample once). Expected = plain wall + 10 x one inference pass (the plain run's
    ``throughput.stages_ms.inference``). Target: trials wall / expected <= 1.10, and no sample
    prepared twice: in both runs cache hits + misses = samples, misses = the distinct files (the
    cache keys a file by its real path, so the symlinks to one image share one entry).

Usage: python benchmarks/pushed_score.py [--samples 500] [--blocks 3,4,6,3] [--repeats 2]
                                         [--trials 10] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from load_meter import BUSY, Load  # noqa: E402  (benchmarks/ is on sys.path)
from resnet import save_resnet50  # noqa: E402

from bench.report import table  # noqa: E402
from bench.runtimes import load_runtime  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LIGHT = ROOT / "data" / "models" / "demo_image.onnx"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def distinct_files(n: int) -> int:
    return min(n, len([p for p in (ROOT / "data" / "sample").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")]))


def build_corpus(folder: Path, n: int) -> Path:
    """A registry with one dataset ``corpus`` of ``n`` symlinks to the bundled sample's images
    (round-robin, distinct names, so each is its own sample; the sample cache keys a file by its
    real path, so the links to one file share one cache entry: one decode per distinct file)."""
    sources = sorted(p.resolve() for p in (ROOT / "data" / "sample").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    media = folder / "media"
    media.mkdir(parents=True)
    for i, src in zip(range(n), itertools.cycle(sources)):
        (media / f"{i:06d}{src.suffix}").symlink_to(src)
    reg = folder / "registry"
    reg.mkdir()
    entry = {"name": "corpus", "modality": "image", "media_type": "real", "source": {"type": "folder", "path": str(media)}}
    (reg / "corpus.yaml").write_text(yaml.safe_dump({"datasets": [entry]}))
    return reg


def write_config(path: Path, model: Path, registry: Path, batch_size: int) -> Path:
    path.write_text(yaml.safe_dump({"model": str(model), "datasets": ["corpus"], "dataset_dirs": [str(registry)], "batch_size": batch_size}))
    return path


class Runs:
    """``python -m bench run`` subprocesses, each into a fresh output folder under ``tmp``."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.count = 0

    def folder(self, name: str) -> Path:
        self.count += 1
        return self.tmp / f"{self.count:02d}-{name}"

    def run(self, config: Path, name: str, *flags: str) -> tuple[float, dict, Load]:
        """Process wall (start to exit, seconds), its results.json, and the other load meanwhile."""
        out = self.folder(name)
        cmd = [sys.executable, "-m", "bench", "run", str(config), "--no-progress", "--output", str(out), *flags]
        with Load() as load:
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        found = sorted(out.rglob("results.json"))
        if not found:
            raise SystemExit(f"no results.json under {out}")
        return wall, json.loads(found[0].read_text()), load


def make_batches(n: int, batch_size: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` samples of random uint8 pixels in batches of ``batch_size``, the last at its true size."""
    rng = np.random.default_rng(seed)
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    return [rng.integers(0, 256, size=(b, 3, size, size), dtype=np.uint8) for b in sizes]


def model_only(path: Path, batches: list[np.ndarray]) -> tuple[float, float, float, float, Load]:
    """Load (timed), then every batch through ``runtime.run`` (no warm-up): load s, model-only s,
    first batch s, median batch s, and the other load meanwhile."""
    with Load() as load:
        start = time.perf_counter()
        runtime = load_runtime(str(path), "cpu")
        load_s = time.perf_counter() - start
        seconds = []
        for batch in batches:
            t = time.perf_counter()
            runtime.run(batch)
            seconds.append(time.perf_counter() - t)
    del runtime
    return load_s, sum(seconds), seconds[0], statistics.median(seconds), load


def btime_rounding() -> float | None:
    """How much later the machine booted than ``/proc/stat``'s ``btime`` says (whole seconds):
    the amount by which a ``from_start_s`` computed from ``btime`` + the process's start ticks
    overstates the process's age (the same for every process of this boot)."""
    try:
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        with open("/proc/stat") as f:
            btime = next(int(line.split()[1]) for line in f if line.startswith("btime"))
    except (OSError, ValueError, StopIteration):
        return None
    return (time.time() - uptime) - btime


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def part_a(args, tmp: Path, runs: Runs, reg: Path, small_reg: Path) -> list[list]:
    blocks = tuple(int(b) for b in args.blocks.split(","))
    heavy = save_resnet50(tmp / "models" / "resnet.onnx", size=224, blocks=blocks)
    log(f"(a) heavy model: ResNet-50-class graph at 224, blocks {blocks}, {heavy.stat().st_size / 1e6:.0f} MB")
    config = write_config(tmp / "heavy.yaml", heavy, reg, args.batch_size)
    small = write_config(tmp / "heavy-small.yaml", heavy, small_reg, args.batch_size)
    batches = make_batches(args.samples, args.batch_size, 224)
    load_runtime(str(LIGHT), "cpu")  # imports ONNX Runtime and the backend here, outside the timed load

    rows, parts, ratios, steady_ratios, startups, busy = [], [], [], [], [], 0
    skew = btime_rounding() or 0.0
    for r in range(args.repeats):
        order = ("model", "run") if r % 2 == 0 else ("run", "model")
        got = {}
        for what in order:
            if what == "model":
                log(f"(a) repeat {r + 1}: load + model only, in this process")
                got["model"] = model_only(heavy, batches)
            else:
                log(f"(a) repeat {r + 1}: bench run --no-cache, subprocess")
                got["run"] = runs.run(config, "heavy", "--no-cache")
        log(f"(a) repeat {r + 1}: start-up: bench run --limit 4 on 10 images, subprocess")
        startups.append(runs.run(small, "startup", "--no-cache", "--limit", "4"))
        load_s, model_s, first_s, median_s, mload = got["model"]
        wall, doc, rload = got["run"]
        tp = doc["throughput"]
        ratio = (load_s + model_s) / wall
        ratios.append(ratio)
        steady_ratios.append((load_s + model_s - first_s + median_s) / wall)  # the cold first batch at the median's cost
        st = {k: v / 1000 for k, v in tp["stages_ms"].items()}
        from_start = tp["from_start_s"] - skew
        busy += mload.busy() or rload.busy()
        rows.append([f"{r + 1} ({order[0]} first)", wall, load_s, model_s, load_s + model_s, ratio, tp["from_start_s"], f"{mload.text()} / {rload.text()}"])
        parts.append([f"{r + 1}", st["inference"], st["inference"] / model_s, wall - st["inference"], st["data_wait"], st["decode"] + st["preprocess"],
                      from_start, wall - from_start, first_s, median_s])
    rows.append(["median", *(median([row[i] for row in rows]) for i in range(1, 7)), "-"])
    parts.append(["median", *(median([row[i] for row in parts]) for i in range(1, 10))])
    print(f"\n(a) warm-up that costs nothing: {args.samples} images, ResNet-50-class at 224 (blocks {','.join(map(str, blocks))}), "
          f"batch {args.batch_size}, CPU, {os.cpu_count()} cores")
    print(table(["repeat", "bench run process wall s", "model load s", "model only s", "load + model only s", "(load + model only) / wall",
                 "run's from_start_s", "other load (model / run)"], rows))
    print("\nwhere the run's wall goes (from its results.json)")
    print(table(["repeat", "run's inference s", "run's inference / model only", "wall - run's inference s", "run's data wait s",
                 "decode + preprocess s (all workers)", "from_start_s less btime rounding", "after scoring s", "model only: first batch s", "median batch s"], parts))
    print(f"btime rounding: /proc/stat btime is whole seconds; this boot really began {skew:.3f} s after it, so every "
          f"from_start_s (process start read as btime + start ticks) reads {skew:.3f} s long; the corrected column subtracts it")

    srows = []
    for i, (wall, doc, load) in enumerate(startups):
        tp = doc["throughput"]
        srows.append([i + 1, wall, tp["from_start_s"], tp["samples"], tp["stages_ms"]["inference"] / 1000, wall - tp["stages_ms"]["inference"] / 1000, load.text()])
    srows.append(["median", *(median([row[i] for row in srows]) for i in range(1, 6)), "-"])
    print("\nstart-up: bench run --limit 4 --no-cache on a 10-image corpus, same heavy model")
    print(table(["repeat", "process wall s", "run's from_start_s", "samples", "inference s", "start-up s (wall - inference)", "other load"], srows))
    startup = srows[-1][5]
    note = f" ({busy} of {args.repeats} pairs busy)" if busy else ""
    return [["(a) (load + model only) / bench run process wall", ">= 0.95", f"{median(ratios):.3f}{note}", "PASS" if median(ratios) >= 0.95 else "MISS"],
            ["(a) same, model only with its cold first batch at the median's cost", ">= 0.95", f"{median(steady_ratios):.3f}", "PASS" if median(steady_ratios) >= 0.95 else "MISS"],
            ["(a) start-up: 10-image bench run --limit 4, wall less inference", "info", f"{startup:.2f} s", "-"]]


def part_b(args, tmp: Path, runs: Runs, reg: Path) -> list[list]:
    config = write_config(tmp / "light.yaml", LIGHT, reg, args.batch_size)
    k = str(args.trials)
    rows, ratios, ratios_own, decodes_ok, busy = [], [], [], True, 0
    for r in range(args.repeats):
        order = ("plain", "trials") if r % 2 == 0 else ("trials", "plain")
        got = {}
        for what in order:
            log(f"(b) repeat {r + 1}: bench run {'--batch-trials ' + k if what == 'trials' else '(plain)'}, fresh --cache-dir")
            cache = runs.folder(f"cache-{what}")
            extra = ("--batch-trials", k) if what == "trials" else ()
            got[what] = runs.run(config, what, "--cache-dir", str(cache), *extra)
        (plain_wall, plain_doc, pload), (trials_wall, trials_doc, tload) = got["plain"], got["trials"]
        pass_s = plain_doc["throughput"]["stages_ms"]["inference"] / 1000
        own_pass_s = trials_doc["batch_trials"]["inference_s"] / args.trials
        expected = plain_wall + args.trials * pass_s
        ratio, ratio_own = trials_wall / expected, trials_wall / (plain_wall + args.trials * own_pass_s)
        ratios.append(ratio)
        ratios_own.append(ratio_own)
        pc, tc = plain_doc["throughput"]["cache"], trials_doc["throughput"]["cache"]
        # every sample prepared once in each run: lookups (hits + misses) = samples, misses = the distinct files
        decodes_ok &= pc["misses"] == tc["misses"] == distinct_files(args.samples) and pc["hits"] + pc["misses"] == tc["hits"] + tc["misses"] == args.samples
        busy += pload.busy() or tload.busy()
        extra_s = trials_wall - plain_wall - trials_doc["batch_trials"]["inference_s"]  # the trials' cost beyond their inference
        rows.append([f"{r + 1} ({order[0]} first)", plain_wall, trials_wall, pass_s, own_pass_s, expected, ratio, ratio_own, extra_s / args.trials,
                     f"{pc['misses']} / {pc['hits']}", f"{tc['misses']} / {tc['hits']}",
                     plain_doc["throughput"]["stages_ms"]["decode"] / 1000, trials_doc["throughput"]["stages_ms"]["decode"] / 1000, f"{pload.text()} / {tload.text()}"])
    rows.append(["median", *(median([row[i] for row in rows]) for i in range(1, 9)), "-", "-", median([row[11] for row in rows]), median([row[12] for row in rows]), "-"])
    print(f"\n(b) batch trials cost: {args.samples} images, {LIGHT.name}, batch {args.batch_size}, plain against --batch-trials {k}")
    print(table(["repeat", "plain wall s", "trials wall s", "one pass s (plain stages_ms.inference)", "one pass s (trials inference_s / K)",
                 f"expected s = plain + {k} x pass", "trials / expected", "trials / (plain + trials inference_s)",
                 "rest per trial s (trials - plain - inference_s) / K", "plain decodes (misses / hits)", "trials decodes (misses / hits)", "plain decode s", "trials decode s", "other load (plain / trials)"], rows))
    note = f" ({busy} of {args.repeats} pairs busy)" if busy else ""
    return [[f"(b) trials wall / (plain wall + {k} x inference pass)", "<= 1.10", f"{median(ratios):.3f}{note}", "PASS" if median(ratios) <= 1.10 else "MISS"],
            ["(b) same, the pass from the trials run's inference_s / K", "<= 1.10", f"{median(ratios_own):.3f}", "PASS" if median(ratios_own) <= 1.10 else "MISS"],
            ["(b) trials run: decodes (misses) = plain's = distinct files, hits + misses = samples",
             f"{distinct_files(args.samples)} / {args.samples}", "yes" if decodes_ok else "no", "PASS" if decodes_ok else "MISS"]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=500, help="images in the corpus (the bundled sample repeated via symlinks)")
    ap.add_argument("--blocks", default="3,4,6,3", help="bottleneck blocks per stage of the heavy model (3,4,6,3: ResNet-50; smaller for quick runs)")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats of each pair")
    ap.add_argument("--trials", type=int, default=10, help="K of --batch-trials in (b)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--skip-a", action="store_true", help="part (b) only")
    ap.add_argument("--skip-b", action="store_true", help="part (a) only")
    args = ap.parse_args()

    started = time.perf_counter()
    summary = []
    with tempfile.TemporaryDirectory(prefix="bench-pushed-") as name:
        tmp = Path(name)
        reg = build_corpus(tmp / "corpus", args.samples)
        small_reg = build_corpus(tmp / "small", 10)
        runs = Runs(tmp / "runs")
        if not args.skip_a:
            summary += part_a(args, tmp, runs, reg, small_reg)
        if not args.skip_b:
            summary += part_b(args, tmp, runs, reg)
    print(f"\nsummary ({args.repeats} interleaved repeats, medians; {time.perf_counter() - started:.0f} s in all)")
    print(table(["target", "wanted", "measured", "result"], summary))
    print(f"'other load': cores busy with other processes meanwhile (from /proc/stat), to judge each pair by; "
          f"'busy': a pair where it passed {BUSY} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
