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

from bench.data.refs import SampleRef  # noqa: E402
from bench.data.video import FrameRule  # noqa: E402
from bench.modalities.video import VideoView  # noqa: E402
from bench.preprocess import Views  # noqa: E402
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
    ap.add_argument("--long-frames", type=int, default=500, help="also time clips this long (0: skip)")
    args = ap.parse_args()
    workers = args.workers or max(1, min(8, os.cpu_count() or 1))
    sources = sorted(str(p) for p in (ROOT / "data" / "sample" / "video").rglob("*.mp4"))
    if not sources:
        print("no clips under data/sample/video; run scripts/build_video_sample.py", file=sys.stderr)
        return 1
    paths = list(itertools.islice(itertools.cycle(sources), args.clips))
    t, size = args.frames, args.size
    prep = VideoView(size, size, "crop-resize", "linear", 0, Augmenter(0), frame_rule=FrameRule("first", t))
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
    if args.long_frames:
        long_clips(sources, args.long_frames, t, size, workers)
    return 0


def long_clips(sources: list[str], n_frames: int, t: int, size: int, workers: int) -> None:
    """Clips of ``n_frames`` (the bundled clips played back to back, 2-second keyframe interval):
    where decoding only what the rule needs, and seeking, pay off."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-long-clips-") as tmp:
        paths = []
        for k in range(4):
            frames = []
            for src in itertools.islice(itertools.cycle(sources[k::4]), 64):
                with av.open(src) as c:
                    frames += [cv2.resize(f.to_ndarray(format="rgb24"), (256, 192)) for f in c.decode(video=0)]
                if len(frames) >= n_frames:
                    break
            path = Path(tmp) / f"long{k}.mp4"
            with av.open(str(path), "w") as c:
                stream = c.add_stream("libx264", rate=25)
                stream.width, stream.height, stream.pix_fmt, stream.options = 256, 192, "yuv420p", {"g": "50"}
                for f in frames[:n_frames]:
                    for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                        c.mux(packet)
                for packet in stream.encode():
                    c.mux(packet)
            paths.append(str(path))
        paths = paths * 5
        rows = []
        for rule in ("first", "uniform"):
            views = Views([VideoView(size, size, "crop-resize", "linear", 0, Augmenter(0), frame_rule=FrameRule(rule, t))])

            def ours(path, views=views):
                slot = np.empty((t, 3, size, size), np.uint8)
                if not views(SampleRef("bench", "real", 0, path, path=path), [slot]).ok:
                    raise RuntimeError(path)

            rows.append([f"ours: {rule} {t} frames", timed(ours, paths, workers)])

        def naive(path):
            with av.open(path) as c:
                frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
            picks = np.linspace(0, len(frames) - 1, t).round().astype(int)
            np.stack([fit(frames[i], size, size) for i in picks])

        rows.append([f"decode every frame, then {t} spread frames", timed(naive, paths, workers)])
        base = rows[-1][1]
        print(f"\n{len(paths)} long clips of {n_frames} frames (256x192, keyframe every 50), T={t}, {workers} threads")
        print(table(["method", "clips/s", "frames used/s", "speed-up vs decode-every-frame"], [[name, len(paths) / s, len(paths) * t / s, base / s] for name, s in rows]))


if __name__ == "__main__":
    sys.exit(main())
