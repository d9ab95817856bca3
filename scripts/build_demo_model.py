"""Train and export the demo image detector ``data/models/demo_image.onnx``.

A multinomial logistic regression on 12 hand-made image statistics, trained with numpy on part of
``data/sample/`` and written with ``onnx.helper``. The features are computed inside the graph from the
raw ``uint8`` pixels, so the model meets the contract of SPEC section 1 with no preprocessing beyond the
harness's resize/crop:

- input ``image``: uint8 ``(batch, 3, 224, 224)``, RGB, 0..255
- output ``logits``: float32 ``(batch, 3)`` in the order ``[real, synthetic, semisynthetic]``

    PYTHONPATH=. python scripts/build_demo_model.py

Writes ``data/models/demo_image.onnx``, ``data/models/split.json`` and the section "## `demo_image.onnx`"
of ``data/models/README.md`` (the file's other sections, such as the video model's, are kept).
Needs numpy, opencv, onnx and onnxruntime (CPU is enough); ``bench.transforms.fit`` gives the exact
geometry the harness uses.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from bench.transforms import fit

try:
    from . import common  # imported as scripts.build_demo_model
except ImportError:  # run as python scripts/build_demo_model.py: scripts/ is on sys.path
    import common

SAMPLE = common.ROOT / "data" / "sample"
MODELS = common.MODELS
MODEL_PATH = MODELS / "demo_image.onnx"

CLASSES = common.CLASSES  # folder name -> label 0, 1, 2
SIZE = 224
HELD_OUT_FRACTION = 0.4
SPLIT_SALT = "bench-demo-split-v1"
# the trainer's settings, for the README
L2, STEPS, LR = common.L2, common.STEPS, common.LR
EPS = common.EPS  # inside the logs of the high-frequency energies

FEATURES = [
    "mean_r",
    "mean_g",
    "mean_b",  # per-channel mean of x = pixels / 255
    "std_r",
    "std_g",
    "std_b",  # per-channel standard deviation (population)
    "chroma_mean",
    "chroma_std",  # chroma = max(r, g, b) - min(r, g, b) per pixel: mean and std
    "log_dx",
    "log_dy",  # log(eps + mean |grey[y, x+1] - grey[y, x]|), same vertically; grey = mean of r, g, b
    "log_dx2",  # log(eps + mean |grey[y, x+2] - grey[y, x]|): the same energy at twice the step
    "log_lap",  # log(eps + mean |4-neighbour Laplacian of grey|) over the valid 222x222 window
]
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)


# ---------------------------------------------------------------- data


def group_of(relpath: str) -> str:
    """Split unit: all crops of one photograph (real and semisynthetic alike; the stereo pair
    motorcycle_left/right counts as one photograph), or all assets of one openpeople person."""
    folder, name = relpath.split("/")
    stem = name.rsplit(".", 1)[0]
    if folder == "synthetic":
        return "person:" + stem.split("_", 1)[0]
    photo = stem.rsplit("_", 1)[0]
    return "photo:" + photo.replace("_left", "").replace("_right", "")


def split(relpaths: list[str]) -> tuple[list[str], list[str]]:
    """Rank the groups of each kind (photos, people) by sha256(salt + group); the first 40% (rounded)
    are held out. Deterministic, and no photograph or person is on both sides."""
    held: set[str] = set()
    groups = sorted({group_of(p) for p in relpaths})
    for kind in ("photo:", "person:"):
        ranked = common.salted_rank(SPLIT_SALT, (g for g in groups if g.startswith(kind)))
        held.update(ranked[: round(HELD_OUT_FRACTION * len(ranked))])
    train = [p for p in relpaths if group_of(p) not in held]
    test = [p for p in relpaths if group_of(p) in held]
    return train, test


def load(relpath: str) -> np.ndarray:
    """Exactly the harness's default route: decode -> RGB -> crop-resize to 224x224 -> CHW uint8."""
    rgb = common.decode_rgb((SAMPLE / relpath).read_bytes())
    return np.ascontiguousarray(fit(rgb, SIZE, SIZE).transpose(2, 0, 1))


# ---------------------------------------------------------------- features (numpy reference)


def features_numpy(batch: np.ndarray) -> np.ndarray:
    """(B, 3, H, W) uint8 -> (B, 12) float64, the same formulas as the graph."""
    x = batch.astype(np.float64) / 255.0
    mean = x.mean(axis=(2, 3))
    std = np.sqrt(((x - mean[:, :, None, None]) ** 2).mean(axis=(2, 3)))
    chroma = x.max(axis=1) - x.min(axis=1)
    grey = x.mean(axis=1)
    dx = np.abs(grey[:, :, 1:] - grey[:, :, :-1]).mean(axis=(1, 2))
    dy = np.abs(grey[:, 1:, :] - grey[:, :-1, :]).mean(axis=(1, 2))
    dx2 = np.abs(grey[:, :, 2:] - grey[:, :, :-2]).mean(axis=(1, 2))
    lap = (
        grey[:, :-2, 1:-1]
        + grey[:, 2:, 1:-1]
        + grey[:, 1:-1, :-2]
        + grey[:, 1:-1, 2:]
        - 4 * grey[:, 1:-1, 1:-1]
    )
    lap = np.abs(lap).mean(axis=(1, 2))
    cols = [
        mean,
        std,
        chroma.mean(axis=(1, 2))[:, None],
        chroma.std(axis=(1, 2))[:, None],
        np.log(EPS + dx)[:, None],
        np.log(EPS + dy)[:, None],
        np.log(EPS + dx2)[:, None],
        np.log(EPS + lap)[:, None],
    ]
    return np.concatenate(cols, axis=1)


# ---------------------------------------------------------------- graph


const = common.const


def build_graph(mu: np.ndarray, sd: np.ndarray, w: np.ndarray, b: np.ndarray) -> onnx.ModelProto:
    f32 = np.float32
    i64 = np.int64
    inits = [
        const("k255", np.array(255.0, f32)),
        const("eps", np.array(EPS, f32)),
        const("lap_kernel", LAPLACIAN.reshape(1, 1, 3, 3)),
        const("s0", np.array([0], i64)),
        const("s1", np.array([1], i64)),
        const("s2", np.array([2], i64)),
        const("e_m1", np.array([-1], i64)),
        const("e_m2", np.array([-2], i64)),
        const("end", np.array([SIZE], i64)),
        const("ax2", np.array([2], i64)),
        const("ax3", np.array([3], i64)),
        *common.head_inits(mu, sd, w, b),
    ]
    n = helper.make_node
    nodes = [
        n("Cast", ["image"], ["x_raw"], to=TensorProto.FLOAT),
        n("Div", ["x_raw", "k255"], ["x"]),
        # per-channel mean and std
        *common.mean_std_nodes("x", [2, 3], ("mean_keep", "mean_c", "xc", "xc2", "var_c", "std_c")),
        # chroma = max - min over channels
        n("ReduceMax", ["x"], ["cmax"], axes=[1], keepdims=1),
        n("ReduceMin", ["x"], ["cmin"], axes=[1], keepdims=1),
        n("Sub", ["cmax", "cmin"], ["chroma"]),
        *common.mean_std_nodes(
            "chroma",
            [2, 3],
            ("chroma_mean_keep", "chroma_mean", "chroma_c", "chroma_c2", "chroma_var", "chroma_std"),
        ),
        # grey and its high-frequency energies
        n("ReduceMean", ["x"], ["grey"], axes=[1], keepdims=1),
        *common.diff_nodes("grey", "ax3", ("gx_r", "s1", "end"), ("gx_l", "s0", "e_m1"), "dx"),
        *common.diff_nodes("grey", "ax2", ("gy_d", "s1", "end"), ("gy_u", "s0", "e_m1"), "dy"),
        *common.diff_nodes("grey", "ax3", ("gx2_r", "s2", "end"), ("gx2_l", "s0", "e_m2"), "dx2"),
        n("Conv", ["grey", "lap_kernel"], ["lap"], kernel_shape=[3, 3]),
    ]
    for name in ("dx", "dy", "dx2", "lap"):
        nodes += [
            n("Abs", [name], [f"{name}_abs"]),
            n("ReduceMean", [f"{name}_abs"], [f"{name}_energy"], axes=[1, 2, 3], keepdims=1),
            n("Flatten", [f"{name}_energy"], [f"{name}_flat"], axis=1),  # (B, 1)
            n("Add", [f"{name}_flat", "eps"], [f"{name}_eps"]),
            n("Log", [f"{name}_eps"], [f"log_{name}"]),
        ]
    nodes += [
        n(
            "Concat",
            ["mean_c", "std_c", "chroma_mean", "chroma_std", "log_dx", "log_dy", "log_dx2", "log_lap"],
            ["features"],
            axis=1,
        ),
        *common.head_nodes(),
    ]
    return common.finish_model(
        nodes,
        inits,
        "demo_image_detector",
        ("image", ["batch", 3, SIZE, SIZE]),
        producer="bench/scripts/build_demo_model.py",
        opset=17,
        ir_version=8,  # readable by any onnxruntime >= 1.10
        doc="Demo detector for the bench harness: logistic regression on colour and sharpness "
        "statistics. Output logits [real, synthetic, semisynthetic]. Not a real detector.",
    )


# ---------------------------------------------------------------- main


def main() -> None:
    relpaths, labels = common.sample_files(
        SAMPLE, "jpg", f"no images under {SAMPLE}; run scripts/build_sample.py first"
    )
    train_paths, test_paths = split(relpaths)

    x_train, y_train = common.load_arrays(train_paths, load, labels)
    x_test, y_test = common.load_arrays(test_paths, load, labels)
    # train, save, and check the graph's features and logits against numpy
    fm = common.train_and_export(x_train, y_train, x_test, features_numpy, build_graph, MODEL_PATH, "image")

    # ---- batch independence: a batch of 5 against one at a time, on the saved file
    plain = common.load_saved(MODEL_PATH)
    batch_diff = common.batch_independence(plain, "image", x_test[:5])

    r = common.evaluate(plain, "image", x_train, y_train, x_test, y_test)
    cm = r.cm
    fp, tn = int(cm[0, 1:].sum()), int(cm[0, 0])
    size = MODEL_PATH.stat().st_size
    print(f"wrote {MODEL_PATH} ({size} bytes)")

    held_groups = sorted({group_of(p) for p in test_paths})
    common.write_split(
        MODELS / "split.json",
        (
            f"groups = photograph (real and semisynthetic crops of one photo; motorcycle_left/right are one "
            f"photo) or openpeople person (synthetic); within each kind, groups sorted by "
            f"sha256('{SPLIT_SALT}' + group) and the first round({HELD_OUT_FRACTION} * n) held out"
        ),
        "data/sample",
        held_groups,
        train_paths,
        test_paths,
    )

    section = f"""## `demo_image.onnx`

A tiny image "detector" ({size} bytes) that satisfies the model contract of `SPEC.md` section 1, for
smoke tests, examples and `bench check`. It is **not** a real detector of AI-generated images.

- input `image`: `uint8`, shape `(batch, 3, 224, 224)` (batch symbolic), raw RGB pixels 0..255
- output `logits`: `float32`, shape `(batch, 3)`, order `[real, synthetic, semisynthetic]`
- opset 17, IR version 8, plain ONNX operators (Cast, Div, Reduce*, Slice, Conv, Abs, Log, Concat,
  MatMul, ...); every sample is processed independently (a batch of 5 gives the same logits as five
  single runs, max difference {batch_diff:.1e}).

Rebuild (after `python scripts/build_sample.py`): `PYTHONPATH=. python scripts/build_demo_model.py`
(deterministic: fixed split, zero initialisation, full-batch gradient descent).

### What it computes

Inside the graph, from `x = image / 255`, 12 statistics per image:

| feature | definition |
|---|---|
| `mean_r`, `mean_g`, `mean_b` | per-channel mean of `x` |
| `std_r`, `std_g`, `std_b` | per-channel standard deviation |
| `chroma_mean`, `chroma_std` | mean and std of `max(r,g,b) - min(r,g,b)` (a saturation proxy) |
| `log_dx`, `log_dy` | `log(1e-4 + mean abs difference)` of horizontal / vertical neighbours of `grey = (r+g+b)/3` |
| `log_dx2` | the same for horizontal pixels two apart |
| `log_lap` | `log(1e-4 + mean abs 4-neighbour Laplacian of grey)` (a 3x3 `Conv`, valid window) |

They are standardised with the training mean and std baked into the graph, then a linear layer
gives the logits: a multinomial logistic regression, class-balanced cross-entropy, L2 {L2} on the
weights, {STEPS} steps of full-batch gradient descent (rate {LR}) from zeros, in numpy. The script checks
that the graph's features and logits match its numpy reference on all {len(relpaths)} samples (max abs
difference {fm.feat_diff:.1e} for features, {fm.logit_diff:.1e} for logits, float32 graph against float64
numpy).

| feature | train mean | train std | w real | w synthetic | w semisynthetic |
|---|---|---|---|---|---|
{common.coef_rows(FEATURES, fm)}

Bias: {", ".join(f"{v:+.2f}" for v in fm.b)}.

### Training data and split

Inputs are prepared as the harness does by default: `cv2.imdecode` -> RGB -> `bench.transforms.fit(rgb,
224, 224)` (crop-resize, bilinear) -> CHW.

Split rule: the unit is a *group*, so that no photograph or person is on both sides: all crops of one
photograph (its real and its semisynthetic crops together; the stereo pair `motorcycle_left/right`
counts as one photograph), or all six images of one openpeople person. Within each kind, groups are
sorted by `sha256("{SPLIT_SALT}" + group)` and the first 40% (rounded) are held out. The file
lists are in [`split.json`](split.json) (paths relative to `data/sample/`).

{common.results_markdown(held_groups, y_train, y_test, r, "images")}

What it learned, honestly: very little that transfers. The 3-class figure beats the majority
baseline mainly because the held-out synthetic portraits are recognised ({cm[1, 1]} of {cm[1].sum()}): studio
lighting, grey backgrounds and the crispness of images shrunk 3-5x give them distinctive colour and
sharpness statistics. Held-out real photographs are mostly called AI ({fp} of {fp + tn}): with only a
handful of training photographs, a portrait on a plain background or a smooth, defocused photo already
looks "synthetic" to these statistics. It does not look for generation artefacts, and it cannot really
tell a semisynthetic image from the real photograph it was made from (the pasted region covers 4-14% of
the frame and barely moves whole-image statistics), so its semisynthetic predictions fall on real and
semisynthetic crops alike. With {len(held_groups)} held-out groups these figures are noisy. Use it to
exercise the harness, never to judge a dataset.
"""
    common.write_readme_section(section)


if __name__ == "__main__":
    main()
