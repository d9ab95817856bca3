"""Train and export the demo video detector ``data/models/demo_video.onnx``.

A multinomial logistic regression on 10 hand-made clip statistics (6 per-frame colour and sharpness
statistics averaged over the frames, 4 temporal ones), trained with numpy on part of
``data/sample/video/`` and written with ``onnx.helper``. The features are computed inside the graph
from the raw ``uint8`` pixels, so the model meets the contract of SPEC section 1 with no preprocessing
beyond the harness's frame sampling and resize/crop:

- input ``video``: uint8 ``(batch, frames, 3, 112, 112)``, RGB, 0..255; batch and frames dynamic
- output ``logits``: float32 ``(batch, 3)`` in the order ``[real, synthetic, semisynthetic]``

    PYTHONPATH=. python scripts/build_demo_video_model.py

Writes ``data/models/demo_video.onnx``, ``data/models/video_split.json`` and (re)writes the section
"## `demo_video.onnx`" of ``data/models/README.md`` (after the image model's), leaving the rest of that
file alone.
Needs numpy, opencv, PyAV, onnx and onnxruntime (CPU is enough); clips are decoded with
``bench.data.video.decode_clip`` (first 16 frames) and fitted with ``bench.transforms.fit``, exactly
as the harness does by default.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

try:
    from . import common  # imported as scripts.build_demo_video_model
except ImportError:  # run as python scripts/build_demo_video_model.py: scripts/ is on sys.path
    import common

if str(common.ROOT) not in sys.path:
    sys.path.insert(0, str(common.ROOT))

from bench.data.video import FrameRule, decode_clip  # noqa: E402
from bench.transforms import fit  # noqa: E402

SAMPLE = common.ROOT / "data" / "sample" / "video"
MODELS = common.MODELS
MODEL_PATH = MODELS / "demo_video.onnx"
SPLIT_PATH = MODELS / "video_split.json"
SECTION = "## `demo_video.onnx`"

CLASSES = common.CLASSES  # folder name -> label 0, 1, 2
SIZE = 112
FRAMES = 16  # the harness's default for a dynamic frames axis, "first" rule
HELD_OUT_PEOPLE = 0.4
SPLIT_SALT = "bench-demo-video-split-v1"
# the trainer's settings (the same as the image model's), for the README
L2, STEPS, LR = common.L2, common.STEPS, common.LR
EPS = common.EPS
OPSET = 17
BLOCKS = 4  # motion_cv: a 4 x 4 grid of 28 x 28 blocks

FEATURES = [
    # per frame, then averaged over the frames (grey = mean of r, g, b; x = pixels / 255)
    "grey_std",  # standard deviation of grey over the frame
    "chroma_mean",  # chroma = max(r, g, b) - min(r, g, b): mean over the frame
    "chroma_std",  # and its standard deviation
    "log_dx",  # log(eps + mean |grey[y, x+1] - grey[y, x]|)
    "log_dy",  # log(eps + mean |grey[y+1, x] - grey[y, x]|)
    "log_lap",  # log(eps + mean |4-neighbour Laplacian of grey|), valid 110 x 110 window
    # temporal: over the T-1 pairs (T-2 triples) of consecutive frames
    "log_motion",  # log(eps + mean over pairs of mean |grey[t+1] - grey[t]|)
    "log_accel",  # log(eps + mean over triples of mean |grey[t+1] - 2 grey[t] + grey[t-1]|)
    "log_lap_motion",  # log(eps + mean over pairs of mean |lap[t+1] - lap[t]|)
    "motion_cv",  # mean over pairs of std / (eps + mean) of |grey[t+1] - grey[t]| over 16 blocks
]
PER_FRAME = 6


# ---------------------------------------------------------------- data and split


def describe(relpath: str) -> dict:
    """Kind, label, source and people of a clip, from its file name (see data/sample/video/README.md):
    ``real/<source>_s<shot>_f...``, ``semisynthetic/<source>_s<shot>_f..._<person>``,
    ``synthetic/<person>_<asset>_<motion>``."""
    kind, name = relpath.split("/")
    stem = name.rsplit(".", 1)[0]
    parts = stem.split("_")
    if kind == "synthetic":
        return {"kind": kind, "label": CLASSES.index(kind), "nodes": [f"person:{parts[0]}"]}
    nodes = [f"source:{parts[0]}"]
    if kind == "semisynthetic":
        nodes.append(f"person:{parts[-1]}")
    return {"kind": kind, "label": CLASSES.index(kind), "nodes": nodes, "source": parts[0]}


def components(relpaths: list[str]) -> dict[str, str]:
    """Union-find over sources and people: a semisynthetic clip joins its source video and its donor
    person. Returns node -> representative (the smallest node name of its component)."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for p in relpaths:
        nodes = describe(p)["nodes"]
        for other in nodes[1:]:
            ra, rb = find(nodes[0]), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        find(nodes[0])
    return {node: find(node) for node in list(parent)}


def split(relpaths: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Held out: the component of the real source video with the fewest real clips (with its
    semisynthetic clips and their donor people), then whole components of people only, ranked by
    sha256(salt + component), until round(0.4 * people) people are held out. No source video and no
    person is on both sides."""
    comp = components(relpaths)
    infos = {p: describe(p) for p in relpaths}
    real_count: dict[str, int] = {}
    for info in infos.values():
        if info["kind"] == "real":
            real_count[info["source"]] = real_count.get(info["source"], 0) + 1
    held_source = min(real_count, key=lambda s: (real_count[s], s))
    held = {comp[f"source:{held_source}"]}
    people = sorted(n for n in comp if n.startswith("person:"))

    def held_people() -> int:
        return sum(comp[n] in held for n in people)

    free = common.salted_rank(
        SPLIT_SALT, sorted({comp[n] for n in people} - {comp[n] for n in comp if n.startswith("source:")})
    )
    target = round(HELD_OUT_PEOPLE * len(people))
    for c in free:
        if held_people() >= target:
            break
        held.add(c)
    test = [p for p in relpaths if comp[infos[p]["nodes"][0]] in held]
    train = [p for p in relpaths if comp[infos[p]["nodes"][0]] not in held]
    held_nodes = sorted(n for n in comp if comp[n] in held)
    return train, test, held_nodes


def load(relpath: str) -> np.ndarray:
    """Exactly the harness's default route: first 16 frames (PyAV, RGB) -> crop-resize each to
    112x112 (bilinear) -> (T, 3, H, W) uint8."""
    clip = decode_clip(str(SAMPLE / relpath), FrameRule("first", FRAMES))
    return np.ascontiguousarray(np.stack([fit(f, SIZE, SIZE) for f in clip.frames]).transpose(0, 3, 1, 2))


# ---------------------------------------------------------------- features (numpy reference)


def features_numpy(batch: np.ndarray) -> np.ndarray:
    """(B, T, 3, H, W) uint8 -> (B, 10) float64, the same formulas as the graph."""
    x = batch.astype(np.float64) / 255.0
    b, t = x.shape[:2]
    grey = x.mean(axis=2)  # (B, T, H, W)
    chroma = x.max(axis=2) - x.min(axis=2)
    lap = (
        grey[:, :, :-2, 1:-1]
        + grey[:, :, 2:, 1:-1]
        + grey[:, :, 1:-1, :-2]
        + grey[:, :, 1:-1, 2:]
        - 4 * grey[:, :, 1:-1, 1:-1]
    )
    per_frame = np.stack(
        [
            grey.std(axis=(2, 3)),
            chroma.mean(axis=(2, 3)),
            chroma.std(axis=(2, 3)),
            np.log(EPS + np.abs(np.diff(grey, axis=3)).mean(axis=(2, 3))),
            np.log(EPS + np.abs(np.diff(grey, axis=2)).mean(axis=(2, 3))),
            np.log(EPS + np.abs(lap).mean(axis=(2, 3))),
        ],
        axis=2,
    ).mean(axis=1)  # (B, 6): mean over the frames
    n1, n2 = max(t - 1, 1), max(t - 2, 1)  # guards: a 1- or 2-frame clip has no pairs / triples
    d = np.abs(np.diff(grey, axis=1))  # (B, T-1, H, W)
    accel = np.abs(np.diff(grey, n=2, axis=1)) if t >= 3 else np.zeros((b, 0) + grey.shape[2:])
    lap_d = np.abs(np.diff(lap, axis=1))
    k = SIZE // BLOCKS
    blocks = d.reshape(b, t - 1, BLOCKS, k, BLOCKS, k).mean(axis=(3, 5)).reshape(b, t - 1, BLOCKS * BLOCKS)
    cv = blocks.std(axis=2) / (blocks.mean(axis=2) + EPS)
    temporal = np.stack(
        [
            np.log(EPS + d.mean(axis=(2, 3)).sum(axis=1) / n1),
            np.log(EPS + accel.mean(axis=(2, 3)).sum(axis=1) / n2),
            np.log(EPS + lap_d.mean(axis=(2, 3)).sum(axis=1) / n1),
            cv.sum(axis=1) / n1,
        ],
        axis=1,
    )
    return np.concatenate([per_frame, temporal], axis=1)


# ---------------------------------------------------------------- graph

# Slice bounds (rows, cols) of the five Laplacian taps, as int64 initializers
_H = SIZE
_LAP = {
    "up": ((0, 1), (_H - 2, _H - 1)),
    "dn": ((2, 1), (_H, _H - 1)),
    "lf": ((1, 0), (_H - 1, _H - 2)),
    "rt": ((1, 2), (_H - 1, _H)),
    "ct": ((1, 1), (_H - 1, _H - 1)),
}
LAP_CONSTS = []
for _tap, (_s, _e) in _LAP.items():
    LAP_CONSTS.append(numpy_helper.from_array(np.array(_s, np.int64), name=f"lap_{_tap}_s"))
    LAP_CONSTS.append(numpy_helper.from_array(np.array(_e, np.int64), name=f"lap_{_tap}_e"))


const = common.const


def build_graph(mu: np.ndarray, sd: np.ndarray, w: np.ndarray, b: np.ndarray) -> onnx.ModelProto:
    f32, i64 = np.float32, np.int64
    k = SIZE // BLOCKS
    inits = [
        const("k255", np.array(255.0, f32)),
        const("eps", np.array(EPS, f32)),
        const("four", np.array(4.0, f32)),
        const("i0", np.array([0], i64)),
        const("i1", np.array([1], i64)),
        const("i2", np.array([2], i64)),
        const("im1", np.array([-1], i64)),
        const("big", np.array([np.iinfo(np.int64).max], i64)),
        const("ax1", np.array([1], i64)),
        const("ax2", np.array([2], i64)),
        const("ax3", np.array([3], i64)),
        const("ax_hw", np.array([2, 3], i64)),
        const("blocks_shape", np.array([0, 0, BLOCKS, k, BLOCKS, k], i64)),
        const("flat_shape", np.array([0, 0, BLOCKS * BLOCKS], i64)),
        *common.head_inits(mu, sd, w, b),
    ]
    n = helper.make_node
    nodes = [
        n("Cast", ["video"], ["x_raw"], to=TensorProto.FLOAT),
        n("Div", ["x_raw", "k255"], ["x"]),  # (B, T, 3, H, W)
        n("ReduceMean", ["x"], ["grey"], axes=[2], keepdims=0),  # (B, T, H, W)
        n("ReduceMax", ["x"], ["cmax"], axes=[2], keepdims=0),
        n("ReduceMin", ["x"], ["cmin"], axes=[2], keepdims=0),
        n("Sub", ["cmax", "cmin"], ["chroma"]),
        # frame counts for the temporal means: max(T-1, 1), max(T-2, 1) as floats
        n("Shape", ["video"], ["t_shape"], start=1, end=2),
        n("Sub", ["t_shape", "i1"], ["t_m1"]),
        n("Max", ["t_m1", "i1"], ["n1_i"]),
        n("Cast", ["n1_i"], ["n1"], to=TensorProto.FLOAT),
        n("Sub", ["t_shape", "i2"], ["t_m2"]),
        n("Max", ["t_m2", "i1"], ["n2_i"]),
        n("Cast", ["n2_i"], ["n2"], to=TensorProto.FLOAT),
    ]
    # ---- per-frame statistics, each (B, T)
    for src in ("grey", "chroma"):
        nodes += common.mean_std_nodes(src, [2, 3], src)  # {src}_m, {src}_s
    nodes += [
        *common.diff_nodes("grey", "ax3", ("gx_r", "i1", "big"), ("gx_l", "i0", "im1"), "dx"),
        *common.diff_nodes("grey", "ax2", ("gy_d", "i1", "big"), ("gy_u", "i0", "im1"), "dy"),
        # Laplacian over the valid window: up + down + left + right - 4 * centre
        n("Slice", ["grey", "lap_up_s", "lap_up_e", "ax_hw"], ["lap_up"]),
        n("Slice", ["grey", "lap_dn_s", "lap_dn_e", "ax_hw"], ["lap_dn"]),
        n("Slice", ["grey", "lap_lf_s", "lap_lf_e", "ax_hw"], ["lap_lf"]),
        n("Slice", ["grey", "lap_rt_s", "lap_rt_e", "ax_hw"], ["lap_rt"]),
        n("Slice", ["grey", "lap_ct_s", "lap_ct_e", "ax_hw"], ["lap_ct"]),
        n("Add", ["lap_up", "lap_dn"], ["lap_a"]),
        n("Add", ["lap_a", "lap_lf"], ["lap_b"]),
        n("Add", ["lap_b", "lap_rt"], ["lap_c"]),
        n("Mul", ["lap_ct", "four"], ["lap_ct4"]),
        n("Sub", ["lap_c", "lap_ct4"], ["lap"]),  # (B, T, H-2, W-2)
    ]
    for name in ("dx", "dy", "lap"):
        nodes += [
            n("Abs", [name], [f"{name}_abs"]),
            n("ReduceMean", [f"{name}_abs"], [f"{name}_e"], axes=[2, 3], keepdims=0),
            n("Add", [f"{name}_e", "eps"], [f"{name}_eps"]),
            n("Log", [f"{name}_eps"], [f"log_{name}_t"]),  # (B, T)
        ]
    per_frame = ["grey_s", "chroma_m", "chroma_s", "log_dx_t", "log_dy_t", "log_lap_t"]
    for name in per_frame:
        nodes.append(n("Unsqueeze", [name, "ax2"], [f"{name}_u"]))  # (B, T, 1)
    nodes += [
        n("Concat", [f"{name}_u" for name in per_frame], ["frame_feats"], axis=2),  # (B, T, 6)
        n("ReduceMean", ["frame_feats"], ["pooled"], axes=[1], keepdims=0),  # (B, 6): pooled over frames
    ]
    # ---- temporal statistics, each (B, 1)
    nodes += [
        # dt (B, T-1, H, W), acc (B, T-2, H, W), lapt (B, T-1, H-2, W-2)
        *common.diff_nodes("grey", "ax1", ("g_next", "i1", "big"), ("g_prev", "i0", "im1"), "dt"),
        *common.diff_nodes("dt", "ax1", ("dt_next", "i1", "big"), ("dt_prev", "i0", "im1"), "acc"),
        *common.diff_nodes("lap", "ax1", ("lap_next", "i1", "big"), ("lap_prev", "i0", "im1"), "lapt"),
    ]
    for name, count in (("dt", "n1"), ("acc", "n2"), ("lapt", "n1")):
        nodes += [
            n("Abs", [name], [f"{name}_abs"]),
            n("ReduceMean", [f"{name}_abs"], [f"{name}_e"], axes=[2, 3], keepdims=0),  # (B, pairs)
            n("ReduceSum", [f"{name}_e", "ax1"], [f"{name}_sum"], keepdims=1),  # (B, 1); 0 when no pairs
            n("Div", [f"{name}_sum", count], [f"{name}_mean"]),
            n("Add", [f"{name}_mean", "eps"], [f"{name}_eps"]),
            n("Log", [f"{name}_eps"], [f"log_{name}"]),
        ]
    nodes += [
        n("Reshape", ["dt_abs", "blocks_shape"], ["dt_grid"]),  # (B, T-1, 4, 28, 4, 28)
        n("ReduceMean", ["dt_grid"], ["dt_blocks4"], axes=[3, 5], keepdims=0),  # (B, T-1, 4, 4)
        n("Reshape", ["dt_blocks4", "flat_shape"], ["dt_blocks"]),  # (B, T-1, 16)
        *common.mean_std_nodes("dt_blocks", [2], "blk"),  # blk_m, blk_s
        n("Add", ["blk_m", "eps"], ["blk_m_eps"]),
        n("Div", ["blk_s", "blk_m_eps"], ["cv_t"]),  # (B, T-1)
        n("ReduceSum", ["cv_t", "ax1"], ["cv_sum"], keepdims=1),
        n("Div", ["cv_sum", "n1"], ["motion_cv"]),
        n(
            "Concat", ["pooled", "log_dt", "log_acc", "log_lapt", "motion_cv"], ["features"], axis=1
        ),  # (B, 10)
        *common.head_nodes(),
    ]
    inits += LAP_CONSTS
    return common.finish_model(
        nodes,
        inits,
        "demo_video_detector",
        ("video", ["batch", "frames", 3, SIZE, SIZE]),
        producer="bench/scripts/build_demo_video_model.py",
        opset=OPSET,
        ir_version=10,  # the newest IR version the ONNX Runtime builds used here accept
        doc="Demo video detector for the bench harness: logistic regression on colour, sharpness and motion "
        "statistics pooled over the frames. Output logits [real, synthetic, semisynthetic]. Not a real detector.",
    )


# ---------------------------------------------------------------- main


def main() -> None:
    relpaths, labels = common.sample_files(
        SAMPLE, "mp4", f"no clips under {SAMPLE}; run scripts/build_video_sample.py first"
    )
    train_paths, test_paths, held_nodes = split(relpaths)

    x_train, y_train = common.load_arrays(train_paths, load, labels)
    x_test, y_test = common.load_arrays(test_paths, load, labels)
    # train, save, and check the graph's features and logits against numpy
    fm = common.train_and_export(
        x_train, y_train, x_test, features_numpy, build_graph, MODEL_PATH, "video", label="16 frames: "
    )

    # ---- the saved file: contract, batch independence, other frame counts
    plain = common.load_saved(MODEL_PATH)
    inp, out = plain.get_inputs()[0], plain.get_outputs()[0]
    assert len(plain.get_inputs()) == 1 and len(plain.get_outputs()) == 1
    assert (
        inp.name == "video"
        and inp.type == "tensor(uint8)"
        and inp.shape == ["batch", "frames", 3, SIZE, SIZE]
    )
    assert out.name == "logits" and out.type == "tensor(float)" and out.shape == ["batch", 3]
    batch_diff = common.batch_independence(plain, "video", x_test[:3])
    frame_checks = {}
    for t in (1, 2, 3, 8, 16, 32):
        clip = np.concatenate([x_train[:4, :FRAMES]] * 2, axis=1)[:, :t]  # 32 frames: the 16 played twice
        got = plain.run(["logits"], {"video": clip})[0]
        diff = float(np.abs(got - fm.logits(features_numpy(clip))).max())
        assert got.shape == (4, 3) and np.isfinite(got).all() and diff < 1e-3, (t, got.shape, diff)
        frame_checks[t] = diff
    print("frames " + ", ".join(f"{t}: max |onnx - numpy| {d:.1e}" for t, d in frame_checks.items()))

    r = common.evaluate(plain, "video", x_train, y_train, x_test, y_test)
    for p, lg in zip(test_paths, r.logits_test, strict=True):
        print(f"  {p:48s} -> {CLASSES[int(lg.argmax())]}")
    size = MODEL_PATH.stat().st_size
    print(f"wrote {MODEL_PATH} ({size} bytes)")

    common.write_split(
        SPLIT_PATH,
        (
            "units: connected components of source videos and openpeople people (a semisynthetic clip links "
            "its source video and its donor person). Held out: the component of the real source video with "
            f"the fewest real clips, then people-only components ranked by sha256('{SPLIT_SALT}' + component) "
            f"until round({HELD_OUT_PEOPLE} * people) people are held out. No source video or person is on both sides."
        ),
        "data/sample/video",
        held_nodes,
        train_paths,
        test_paths,
        frames={"rule": "first", "count": FRAMES, "size": [SIZE, SIZE], "geometry": "crop-resize"},
    )
    write_readme(fm, r, size, batch_diff, held_nodes, y_train, y_test, test_paths)


def write_readme(
    fm: common.Fit,
    s: common.Scores,
    size: int,
    batch_diff: float,
    held_nodes: list[str],
    y_train: np.ndarray,
    y_test: np.ndarray,
    test_paths: list[str],
) -> None:
    cm = s.cm
    mistakes = [
        f"`{p}` -> {CLASSES[int(lg.argmax())]}"
        for p, lg in zip(test_paths, s.logits_test, strict=True)
        if CLASSES[int(lg.argmax())] != p.split("/")[0]
    ]
    section = f"""{SECTION}

A tiny video "detector" ({size} bytes) that satisfies the video model contract of `SPEC.md`
section 1, for smoke tests, examples and `bench check`. It is **not** a real detector of AI-generated
video.

- input `video`: `uint8`, shape `(batch, frames, 3, 112, 112)` (batch and frames symbolic), raw RGB 0..255
- output `logits`: `float32`, shape `(batch, 3)`, order `[real, synthetic, semisynthetic]`
- opset {OPSET}, IR version 10, plain ONNX operators (Cast, Div, Reduce*, Slice, Sub, Abs, Log, Reshape,
  Concat, MatMul, ...), no loop: the frames axis is truly dynamic (checked at 1, 2, 3, 8, 16 and 32
  frames against the numpy reference); every clip is processed independently (a batch of 3 gives the
  same logits as three single runs, max difference {batch_diff:.1e}).

Rebuild (after `python scripts/build_video_sample.py`): `PYTHONPATH=. python scripts/build_demo_video_model.py`
(deterministic: fixed split, zero initialisation, full-batch gradient descent). It rewrites only this
section of the README.

### What it computes

Inside the graph, from `x = video / 255` and `grey = mean(r, g, b)`, 10 statistics per clip:

| feature | definition |
|---|---|
| `grey_std` | per frame: standard deviation of `grey`; then averaged over the frames |
| `chroma_mean`, `chroma_std` | per frame: mean and std of `max(r,g,b) - min(r,g,b)`; averaged over the frames |
| `log_dx`, `log_dy` | per frame: `log(1e-4 + mean abs difference)` of horizontal / vertical neighbours of `grey`; averaged |
| `log_lap` | per frame: `log(1e-4 + mean abs 4-neighbour Laplacian of grey)` (valid 110x110 window); averaged |
| `log_motion` | `log(1e-4 + mean over consecutive pairs of mean abs(grey[t+1] - grey[t]))` |
| `log_accel` | `log(1e-4 + mean over triples of mean abs(grey[t+1] - 2 grey[t] + grey[t-1]))` |
| `log_lap_motion` | `log(1e-4 + mean over pairs of mean abs(lap[t+1] - lap[t]))`: how the fine detail changes |
| `motion_cv` | mean over pairs of std / (1e-4 + mean) of `abs(grey[t+1] - grey[t])` averaged in a 4x4 grid of 28x28 blocks: is the motion spread evenly or concentrated |

Per-frame statistics are pooled over the frames axis with `ReduceMean`; the temporal sums are divided
by `max(T-1, 1)` (`max(T-2, 1)` for triples), so a clip of 1 or 2 frames still gives finite logits.
They are standardised with the training mean and std baked into the graph, then a linear layer gives
the logits: a multinomial logistic regression, class-balanced cross-entropy, L2 {L2} on the weights,
{STEPS} steps of full-batch gradient descent (rate {LR}) from zeros, in numpy (the same recipe as
`demo_image.onnx`). The script checks that the graph's features and logits match its numpy reference
on all clips (max abs difference {fm.feat_diff:.1e} for features, {fm.logit_diff:.1e} for logits,
float32 graph against float64 numpy).

| feature | train mean | train std | w real | w synthetic | w semisynthetic |
|---|---|---|---|---|---|
{common.coef_rows(FEATURES, fm)}

Bias: {", ".join(f"{v:+.2f}" for v in fm.b)}.

### Training data and split

Clips from `data/sample/video/`, prepared as the harness does by default: the first {FRAMES} frames
(`bench.data.video.decode_clip`, PyAV, RGB) -> `bench.transforms.fit(frame, 112, 112)` per frame
(crop-resize, bilinear) -> `(T, 3, H, W)` uint8.

Split rule: no source video and no openpeople person on both sides. Units are connected components of
source videos and people (a semisynthetic clip links its source video to its donor person). The real
source with the fewest real clips (`carphone`) is held out with its semisynthetic clips and their donor
people; then people-only components, ranked by `sha256("{SPLIT_SALT}" + component)`, until 40% of the
10 people are held out. File lists: [`video_split.json`](video_split.json) (paths relative to
`data/sample/video/`).

{common.results_markdown(held_nodes, y_train, y_test, s, "clips")}

Held-out mistakes: {"; ".join(mistakes) if mistakes else "none"}.

What it learned, honestly: nothing that transfers to an unseen camera. On its training clips it is
right {s.tr[1]:.0%} of the time, but every real training clip comes from one short film (`bikes.mp4`),
so "real" was learned as "lots of camera motion, irregular from frame to frame (high `log_motion`,
`log_accel`), in muted, low-contrast frames (low `grey_std`, `chroma_std`)", and "synthetic" as the opposite:
the smooth, slower Ken Burns pans over colourful, studio-lit portraits. The held-out real source
(`carphone`, a talking head filmed from a car seat) moves less and is more colourful, so most of its
real and semisynthetic clips are called AI ({cm[0, 1:].sum()} of {cm[0].sum()} real clips called AI,
{cm[2, 1]} of {cm[2].sum()} semisynthetic clips called synthetic); {cm[1, 1]} of {cm[1].sum()} held-out
synthetic clips are recognised. Held-out accuracy {"equals" if max(abs(s.te[0] - s.majority[0]), abs(s.te[1] - s.majority[1])) < 1e-9 else "is close to"}
the majority baseline: this is chance level, on only {len(y_test)} clips. Modest changes were
tried and judged by leave-one-group-out cross-validation inside the training set (groups: bikes shots
and people), not by the held-out figures: scale-free temporal ratios (`log_accel - log_motion`,
`log_lap_motion - log_lap`), temporal features alone, colour plus ratios, each with L2 0.01, 0.1 and 1.0
(15 configurations). Among those that keep per-frame features, cross-validation picked the one above
(binary 0.77, 3-class 0.65; temporal features alone scored 0.81 / 0.69 but drop the per-frame
statistics). Measured afterwards, for the record only, held-out accuracy across the 15 ranged 0.57-0.86
binary and 0.21-0.64 3-class: on 14 clips from one unseen real video that is noise, and picking the best
of them by its held-out score would be fitting the test set. With two real source videos a
source-level split cannot show more. Use it to exercise the harness's video path,
never to judge a dataset.
"""
    common.write_readme_section(section)


if __name__ == "__main__":
    main()
