"""Clip decode + preprocessing throughput, measured side by side in one run.

For the clips of the bundled video sample (repeated to ``--clips``), each at the model size:
- ours: the run's preprocessor (PyAV, the default rule: the first T frames only, crop-resize,
  TCHW), in ``--workers`` threads;
- decode every frame: the same clips decoded to the end with PyAV, then the first T frames
  taken and preprocessed alike (what a naive loader does), same threads;
- the decoder choice: PyAV against OpenCV's VideoCapture for the first T frames, one thread.

Usage: python benchmarks/video_decode.py [--clips 200] [--frames 16] [--size 112] [--workers 0]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench.data.sources import SampleRef  # noqa: E402
from bench.data.video import FrameRule  # noqa: E402
from bench.preprocess import Preprocessor, Views  # noqa: E402
from bench.report import table  # noqa: E402
from bench.transforms import Augmenter, fit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def decode_all_then_first(path: str, t: int) -> np.ndarray:
    with av.open(path) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    frames = (frames + frames[-1:] * t)[:t]
    return np.stack(frames)


def opencv_first(path: str, t: int) -> np.ndarray:
    cap = cv2.VideoCapture(path)
    frames = []
    while len(frames) < t:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    frames = (frames + frames[-1:] * t)[:t]
    return np.stack(frames)


def timed(fn, items, workers: int) -> float:
    start = time.perf_counter()
    if workers == 1:
        for item in items:
            fn(item)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fn, items))
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    workers = args.workers or max(1, min(8, os.cpu_count() or 1))
    sources = sorted(str(p) for p in (ROOT / "data" / "sample" / "video").rglob("*.mp4"))
    if not sources:
        print("no clips under data/sample/video; run scripts/build_video_sample.py", file=sys.stderr)
        return 1
    paths = list(itertools.islice(itertools.cycle(sources), args.clips))
    t, size = args.frames, args.size
    prep = Preprocessor(size, size, "crop-resize", "linear", 0, Augmenter(0), FrameRule("first", t))
    views = Views([prep])
    with av.open(sources[0]) as c:
        per_clip = c.streams.video[0].frames
    total_frames = sum(av.open(p).streams.video[0].frames for p in sources) / len(sources)

    def ours(path):
        slot = np.empty((t, 3, size, size), np.uint8)
        outcome = views(SampleRef("bench", "real", 0, path, path=path), [slot])
        if not outcome.ok:
            raise RuntimeError(outcome.error)

    def naive(path):
        np.stack([fit(f, size, size) for f in decode_all_then_first(path, t)]).transpose(0, 3, 1, 2)

    def ours_one(path):
        prep.decode(SampleRef("bench", "real", 0, path, path=path))

    def cv_one(path):
        opencv_first(path, t)

    ours(paths[0]), naive(paths[0]), cv_one(paths[0])  # warm caches and libraries
    results = [
        (f"ours: first {t} frames, {workers} threads", timed(ours, paths, workers), t),
        (f"decode every frame, then first {t}, {workers} threads", timed(naive, paths, workers), total_frames),
        (f"decoder only, PyAV first {t}, 1 thread", timed(ours_one, paths, 1), t),
        (f"decoder only, OpenCV first {t}, 1 thread", timed(cv_one, paths, 1), t),
    ]
    base = results[1][1]
    rows = [[name, len(paths) / s, len(paths) * t / s, len(paths) * decoded / s, base / s] for name, s, decoded in results]
    print(f"{len(paths)} clips ({len(sources)} distinct, ~{total_frames:.0f} frames each, first clip {per_clip}), T={t}, {size}x{size}, {os.cpu_count()} cores")
    print(table(["method", "clips/s", "frames used/s", "frames decoded/s", "speed-up vs decode-every-frame"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
