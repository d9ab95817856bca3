"""Fuzz the harness's decoders with mutated media (not run by CI).

For ``--seconds``, each case takes a seed file (the bundled sample's JPEGs, the same pictures
re-encoded by OpenCV in its other formats, the bundled video clips), mutates it (bit flips,
truncation, byte insertion, header fields scrambled: JPEG SOF, PNG IHDR, MP4 boxes, or the first
bytes of other formats) and runs it through ``bench.data.decode.decode_image`` or
``bench.data.video.decode_clip`` under a ``FrameRule``, in a child process of its own (forked,
so the imports are paid once) with a time limit and an address-space cap (``RLIMIT_AS``).

Outcomes: handled (a ``DataError``, or pixels of the right layout), crash (any other exception,
including ``MemoryError`` under the cap, pixels of a wrong layout, or a dead process), hang (past
the time limit). It prints the counts, the peak memory of a case, and the first crashes and hangs
with their case seeds; ``--case N`` replays one (same seed files, same mutations) and ``--out DIR``
saves every crashing or hanging input beside a note of what happened.

Usage: python benchmarks/fuzz_decoders.py [--seconds 60] [--seed 0] [--out DIR] [--case N]
                                          [--timeout 5] [--memory-gb 2] [--show 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data.decode import DataError, decode_image  # noqa: E402
from bench.data.video import FrameRule, decode_clip  # noqa: E402

REENCODED = (".png", ".webp", ".bmp", ".tiff", ".ppm", ".jp2", ".gif", ".hdr", ".ras", ".avif")
DECODERS: dict[str, Callable[[bytes], object]] = {
    "image": lambda data: decode_image(data),
    "image-fast": lambda data: decode_image(data, min_size=(64, 64)),
    "clip-first": lambda data: decode_clip(data, FrameRule("first", 8)),
    "clip-fps": lambda data: decode_clip(data, FrameRule("fps", 8, target_fps=6.0)),
    "clip-uniform": lambda data: decode_clip(data, FrameRule("uniform", 8)),
}
MP4_BOXES = (b"ftyp", b"moov", b"mvhd", b"trak", b"tkhd", b"edts", b"elst", b"mdia", b"mdhd", b"hdlr", b"minf", b"stbl", b"stsd", b"avc1", b"avcC", b"stts", b"stss", b"stsc", b"stsz", b"stco", b"co64", b"mdat")


@dataclass(frozen=True)
class Seed:
    name: str
    kind: str  # "image" | "clip"
    data: bytes


@dataclass(frozen=True)
class Case:
    seed: int
    source: Seed
    decoder: str
    mutations: tuple[str, ...]
    data: bytes


@dataclass(frozen=True)
class Outcome:
    status: str  # "handled" | "crash" | "hang"
    detail: str
    maxrss_mb: float
    seconds: float


# -- seeds ---------------------------------------------------------------------------------------


def load_seeds() -> list[Seed]:
    images = sorted((ROOT / "data" / "sample").glob("[rs]*/*.jpg"))
    clips = sorted((ROOT / "data" / "sample" / "video").rglob("*.mp4"))
    if not images or not clips:
        sys.exit("no seed media: data/sample/{real,synthetic,semisynthetic}/*.jpg and data/sample/video/**/*.mp4 are needed")
    seeds = [Seed(str(p.relative_to(ROOT)), "image", p.read_bytes()) for p in images]
    seeds += [Seed(str(p.relative_to(ROOT)), "clip", p.read_bytes()) for p in clips]
    for p in images[:4]:  # OpenCV's other decoders: the same pictures, small, in its other formats
        bgr = cv2.imdecode(np.frombuffer(p.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        small = cv2.resize(bgr, (96, 128), interpolation=cv2.INTER_AREA)
        variants = {ext: small for ext in REENCODED}
        variants |= {"-grey.pgm": cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), "-16bit.png": small.astype(np.uint16) * 257}
        variants["-alpha.png"] = cv2.cvtColor(small, cv2.COLOR_BGR2BGRA)
        for suffix, pixels in variants.items():
            ok, buf = cv2.imencode(suffix[suffix.rfind(".") :], pixels)
            if ok:
                seeds.append(Seed(f"{p.relative_to(ROOT)}{suffix}", "image", buf.tobytes()))
    return seeds


# -- mutations -----------------------------------------------------------------------------------


def flip_bits(rng: random.Random, data: bytearray) -> str:
    n = rng.randint(1, 32)
    for _ in range(n):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return f"flip {n} bits"


def truncate(rng: random.Random, data: bytearray) -> str:
    at = rng.randrange(len(data))
    del data[at:]
    return f"truncate at {at}"


def insert(rng: random.Random, data: bytearray) -> str:
    at, n = rng.randrange(len(data) + 1), rng.randint(1, 64)
    data[at:at] = bytes([rng.randrange(256)]) * n if rng.random() < 0.5 else rng.randbytes(n)
    return f"insert {n} bytes at {at}"


def header_fields(data: bytes) -> list[tuple[int, int]]:
    """``(offset, width)`` of the fields that say how big the picture or the boxes are."""
    fields: list[tuple[int, int]] = []
    if data[:2] == b"\xff\xd8":
        for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2", b"\xff\xdb", b"\xff\xc4", b"\xff\xda", b"\xff\xe1"):
            at = data.find(marker)
            if at >= 0:
                fields += [(at + 2, 2), (at + 4, 1), (at + 5, 2), (at + 7, 2), (at + 9, 1)]
    elif data[:4] == b"\x89PNG":
        fields += [(8, 4), (16, 4), (20, 4), (24, 1), (25, 1), (28, 1)]
    elif data[4:8] == b"ftyp":
        for box in MP4_BOXES:
            at = data.find(box)
            if at >= 4:
                fields += [(at - 4, 4), (at + 4, 4), (at + 8, 4), (at + 12, 4), (at + 20, 4)]
    fields = [(o, w) for o, w in fields if o + w <= len(data)]
    return fields or [(o, 4) for o in range(0, min(len(data) - 4, 512), 2)]


def scramble_header(rng: random.Random, data: bytearray) -> str:
    offset, width = rng.choice(header_fields(bytes(data)))
    top = (1 << (8 * width)) - 1
    old = int.from_bytes(data[offset : offset + width], "big")
    value = rng.choice([0, 1, top, top >> 1, (top >> 1) + 1, min(top, old * 2 + 1), max(0, old - 1), rng.randrange(top + 1)])
    data[offset : offset + width] = value.to_bytes(width, "big")
    return f"field at {offset} ({width} B) {old} -> {value}"


MUTATIONS = (flip_bits, truncate, insert, scramble_header)


def make_case(case_seed: int, seeds: list[Seed]) -> Case:
    """Everything about a case follows from its seed (and the seed files)."""
    rng = random.Random(case_seed)
    kind = rng.choice(("image", "clip"))  # as many clips as images, though the seeds are mostly images
    source = rng.choice([s for s in seeds if s.kind == kind])
    images, clips = [d for d in DECODERS if d.startswith("image")], [d for d in DECODERS if d.startswith("clip")]
    own, other = (images, clips) if source.kind == "image" else (clips, images)
    decoder = rng.choice(own if rng.random() < 0.9 else other)  # a file in the wrong dataset, now and then
    data = bytearray(source.data)
    done = []
    for _ in range(rng.randint(1, 3)):
        if not data:
            break
        done.append(rng.choice(MUTATIONS)(rng, data))
    return Case(case_seed, source, decoder, tuple(done), bytes(data))


# -- one case in a child process -----------------------------------------------------------------


def decode_in_child(case: Case) -> tuple[str, str]:
    try:
        out = DECODERS[case.decoder](case.data)
    except DataError as exc:
        return "handled", f"DataError: {exc}"
    except Exception as exc:  # everything else is a bug: MemoryError under the cap too
        return "crash", f"{type(exc).__name__}: {exc} | {where(exc)}"
    pixels = out if isinstance(out, np.ndarray) else out.frames
    ok = isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.shape[-1:] == (3,) and 0 not in pixels.shape
    ok = ok and pixels.ndim == (3 if isinstance(out, np.ndarray) else 4)
    return ("handled", "decoded") if ok else ("crash", f"wrong layout: {getattr(pixels, 'shape', None)} {getattr(pixels, 'dtype', None)}")


def where(exc: Exception) -> str:
    """The harness's innermost line the exception came through, and the line that raised it."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/bench/" in f.filename]
    picked = ([ours[-1]] if ours else []) + ([frames[-1]] if not ours or frames[-1] is not ours[-1] else [])
    return " -> ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}: {(f.line or '').strip()[:120]}" for f in picked)


def run_case(case: Case, timeout: float, limit_bytes: int) -> Outcome:
    read, write = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: cap, silence libjpeg / FFmpeg on stderr, decode, report, exit
        os.close(read)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            status, detail = decode_in_child(case)
            os.write(write, json.dumps([status, detail[:3000]]).encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        while True:
            done, wait_status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() - start > timeout:
                os.kill(pid, signal.SIGKILL)
                _, wait_status, usage = os.wait4(pid, 0)
                return Outcome("hang", f"no result after {timeout:g} s", usage.ru_maxrss / 1024, time.monotonic() - start)
            time.sleep(0.002)
        report = b""
        while chunk := os.read(read, 65536):
            report += chunk
    finally:
        os.close(read)
    seconds, rss = time.monotonic() - start, usage.ru_maxrss / 1024
    if os.WIFSIGNALED(wait_status):
        return Outcome("crash", f"killed by {signal.Signals(os.WTERMSIG(wait_status)).name}", rss, seconds)
    if not report:
        return Outcome("crash", f"exited with status {os.WEXITSTATUS(wait_status)} without a result", rss, seconds)
    status, detail = json.loads(report)
    return Outcome(status, detail, rss, seconds)


# -- the run -------------------------------------------------------------------------------------


def describe(case: Case, outcome: Outcome) -> str:
    return f"case {case.seed}: {case.source.name} -> {case.decoder}; {'; '.join(case.mutations) or 'unmutated'}\n    {outcome.status}: {outcome.detail[:400]}"


def save(out: Path, case: Case, outcome: Outcome) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ext = Path(case.source.name).suffix
    (out / f"case-{case.seed}-{outcome.status}{ext}").write_bytes(case.data)
    (out / f"case-{case.seed}-{outcome.status}.txt").write_text(describe(case, outcome) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="run seed: case i has seed SEED*1000000 + i")
    parser.add_argument("--case", type=int, help="replay one case by its seed (as printed) and print what happened")
    parser.add_argument("--out", type=Path, help="save every crashing or hanging input (and a note) here")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds a case may take before it counts as a hang")
    parser.add_argument("--memory-gb", type=float, default=2.0, help="address-space cap of each case's process (RLIMIT_AS)")
    parser.add_argument("--show", type=int, default=8, help="how many crashes and hangs to print")
    args = parser.parse_args()
    seeds = load_seeds()
    limit = int(args.memory_gb * 2**30)
    if args.case is not None:
        case = make_case(args.case, seeds)
        outcome = run_case(case, args.timeout, limit)
        print(describe(case, outcome))
        if args.out and outcome.status != "handled":
            save(args.out, case, outcome)
        return 0 if outcome.status == "handled" else 1
    for control in (next(s for s in seeds if s.kind == k) for k in ("image", "clip")):
        outcome = run_case(Case(-1, control, "image" if control.kind == "image" else "clip-first", (), control.data), args.timeout, limit)
        if outcome.status != "handled" or outcome.detail != "decoded":
            sys.exit(f"an unmutated seed ({control.name}) does not decode under these limits: {outcome.detail}; raise --memory-gb or --timeout")
    print(f"{len(seeds)} seeds ({sum(s.kind == 'clip' for s in seeds)} clips); {args.seconds:g} s, {args.timeout:g} s per case, address space {args.memory_gb:g} GB", file=sys.stderr)
    counts: Counter[str] = Counter()
    by_decoder: Counter[tuple[str, str]] = Counter()
    bad: list[tuple[Case, Outcome]] = []
    peak = (0.0, -1)
    deadline = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < deadline:
        case = make_case(args.seed * 1_000_000 + i, seeds)
        outcome = run_case(case, args.timeout, limit)
        i += 1
        counts[outcome.status] += 1
        by_decoder[case.decoder, outcome.status] += 1
        peak = max(peak, (outcome.maxrss_mb, case.seed))
        if outcome.status != "handled":
            bad.append((case, outcome))
            if args.out:
                save(args.out, case, outcome)
        if i % 100 == 0:
            print(f"  {i} cases: {dict(counts)}", file=sys.stderr)
    print(f"cases: {i} in {args.seconds:g} s (seed {args.seed})")
    print(f"handled: {counts['handled']}   crashes: {counts['crash']}   hangs: {counts['hang']}")
    print(f"peak memory of a case: {peak[0]:.0f} MB RSS (case {peak[1]}; a forked case starts from the fuzzer's own, ~{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    for decoder in DECODERS:
        row = {s: by_decoder[decoder, s] for s in ("handled", "crash", "hang")}
        print(f"  {decoder:13s} handled {row['handled']:5d}   crashes {row['crash']:4d}   hangs {row['hang']:4d}")
    kinds = Counter(o.detail.split(":")[0].split(" |")[0] for _, o in bad)
    if kinds:
        print("kinds: " + ", ".join(f"{k} x{n}" for k, n in kinds.most_common()))
    for case, outcome in bad[: args.show]:
        print(describe(case, outcome))
    if len(bad) > args.show:
        print(f"... and {len(bad) - args.show} more (replay one: --case N)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
