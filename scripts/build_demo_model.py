"""Train and export the demo image detector ``data/models/demo_image.onnx``.

A multinomial logistic regression on 12 hand-made image statistics, trained with numpy on part of
``data/sample/`` and written with ``onnx.helper``. The features are computed inside the graph from the
raw ``uint8`` pixels, so the model meets the contract of SPEC section 1 with no preprocessing beyond the
harness's resize/crop:

- input ``image``: uint8 ``(batch, 3, 224, 224)``, RGB, 0..255
- output ``logits``: float32 ``(batch, 3)`` in the order ``[real, synthetic, semisynthetic]``

    PYTHONPATH=. python scripts/build_demo_model.py

Writes ``data/models/demo_image.onnx``, ``data/models/split.json`` and ``data/models/README.md``.
Needs numpy, opencv, onnx and onnxruntime (CPU is enough); ``bench.transforms.fit`` gives the exact
geometry the harness uses.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from bench.transforms import fit

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
MODELS = ROOT / "data" / "models"
MODEL_PATH = MODELS / "demo_image.onnx"

CLASSES = ("real", "synthetic", "semisynthetic")  # folder name -> label 0, 1, 2
SIZE = 224
HELD_OUT_FRACTION = 0.4
SPLIT_SALT = "bench-demo-split-v1"
L2 = 1e-2
STEPS = 4000
LR = 0.5
EPS = 1e-4  # inside the logs of the high-frequency energies

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
        ranked = sorted(
            (g for g in groups if g.startswith(kind)),
            key=lambda g: hashlib.sha256((SPLIT_SALT + g).encode()).hexdigest(),
        )
        held.update(ranked[: round(HELD_OUT_FRACTION * len(ranked))])
    train = [p for p in relpaths if group_of(p) not in held]
    test = [p for p in relpaths if group_of(p) in held]
    return train, test


def load(relpath: str) -> np.ndarray:
    """Exactly the harness's default route: decode -> RGB -> crop-resize to 224x224 -> CHW uint8."""
    data = (SAMPLE / relpath).read_bytes()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
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


# ---------------------------------------------------------------- training


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train(f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch gradient descent on class-balanced cross-entropy + L2 (weights only), from zeros."""
    n, d = f.shape
    k = len(CLASSES)
    counts = np.bincount(y, minlength=k)
    sample_w = (n / (k * counts))[y]
    onehot = np.eye(k)[y]
    w = np.zeros((d, k))
    b = np.zeros(k)
    for _ in range(STEPS):
        p = softmax(f @ w + b)
        g = (p - onehot) * sample_w[:, None] / n
        w -= LR * (f.T @ g + L2 * w)
        b -= LR * g.sum(axis=0)
    return w, b


# ---------------------------------------------------------------- graph


def const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name=name)


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
        const("feat_mean", mu.astype(f32).reshape(1, -1)),
        const("feat_std", sd.astype(f32).reshape(1, -1)),
        const("W", w.astype(f32)),
        const("B", b.astype(f32).reshape(1, -1)),
    ]
    n = helper.make_node
    nodes = [
        n("Cast", ["image"], ["x_raw"], to=TensorProto.FLOAT),
        n("Div", ["x_raw", "k255"], ["x"]),
        # per-channel mean and std
        n("ReduceMean", ["x"], ["mean_keep"], axes=[2, 3], keepdims=1),
        n("ReduceMean", ["x"], ["mean_c"], axes=[2, 3], keepdims=0),
        n("Sub", ["x", "mean_keep"], ["xc"]),
        n("Mul", ["xc", "xc"], ["xc2"]),
        n("ReduceMean", ["xc2"], ["var_c"], axes=[2, 3], keepdims=0),
        n("Sqrt", ["var_c"], ["std_c"]),
        # chroma = max - min over channels
        n("ReduceMax", ["x"], ["cmax"], axes=[1], keepdims=1),
        n("ReduceMin", ["x"], ["cmin"], axes=[1], keepdims=1),
        n("Sub", ["cmax", "cmin"], ["chroma"]),
        n("ReduceMean", ["chroma"], ["chroma_mean_keep"], axes=[2, 3], keepdims=1),
        n("ReduceMean", ["chroma"], ["chroma_mean"], axes=[2, 3], keepdims=0),
        n("Sub", ["chroma", "chroma_mean_keep"], ["chroma_c"]),
        n("Mul", ["chroma_c", "chroma_c"], ["chroma_c2"]),
        n("ReduceMean", ["chroma_c2"], ["chroma_var"], axes=[2, 3], keepdims=0),
        n("Sqrt", ["chroma_var"], ["chroma_std"]),
        # grey and its high-frequency energies
        n("ReduceMean", ["x"], ["grey"], axes=[1], keepdims=1),
        n("Slice", ["grey", "s1", "end", "ax3"], ["gx_r"]),
        n("Slice", ["grey", "s0", "e_m1", "ax3"], ["gx_l"]),
        n("Sub", ["gx_r", "gx_l"], ["dx"]),
        n("Slice", ["grey", "s1", "end", "ax2"], ["gy_d"]),
        n("Slice", ["grey", "s0", "e_m1", "ax2"], ["gy_u"]),
        n("Sub", ["gy_d", "gy_u"], ["dy"]),
        n("Slice", ["grey", "s2", "end", "ax3"], ["gx2_r"]),
        n("Slice", ["grey", "s0", "e_m2", "ax3"], ["gx2_l"]),
        n("Sub", ["gx2_r", "gx2_l"], ["dx2"]),
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
        n("Sub", ["features", "feat_mean"], ["features_c"]),
        n("Div", ["features_c", "feat_std"], ["features_z"]),
        n("MatMul", ["features_z", "W"], ["scores"]),
        n("Add", ["scores", "B"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "demo_image_detector",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="bench/scripts/build_demo_model.py"
    )
    model.ir_version = 8  # readable by any onnxruntime >= 1.10
    model.doc_string = (
        "Demo detector for the bench harness: logistic regression on colour and sharpness "
        "statistics. Output logits [real, synthetic, semisynthetic]. Not a real detector."
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def session(model: onnx.ModelProto, extra_outputs: tuple[str, ...] = ()) -> ort.InferenceSession:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for name in extra_outputs:
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------- main


def accuracies(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    pred = logits.argmax(axis=1)
    return float(((pred != 0) == (y != 0)).mean()), float((pred == y).mean())


def confusion(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    m = np.zeros((3, 3), int)
    for t, p in zip(y, logits.argmax(axis=1), strict=True):
        m[t, p] += 1
    return m


def main() -> None:
    relpaths = sorted(f"{c}/{p.name}" for c in CLASSES for p in (SAMPLE / c).glob("*.jpg"))
    if not relpaths:
        raise SystemExit(f"no images under {SAMPLE}; run scripts/build_sample.py first")
    labels = {p: CLASSES.index(p.split("/")[0]) for p in relpaths}
    train_paths, test_paths = split(relpaths)

    def arrays(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return np.stack([load(p) for p in paths]), np.array([labels[p] for p in paths])

    x_train, y_train = arrays(train_paths)
    x_test, y_test = arrays(test_paths)
    f_train = features_numpy(x_train)
    f_test = features_numpy(x_test)
    mu = f_train.mean(axis=0)
    sd = f_train.std(axis=0) + 1e-6
    w, b = train((f_train - mu) / sd, y_train)

    model = build_graph(mu, sd, w, b)
    MODELS.mkdir(parents=True, exist_ok=True)
    onnx.save(model, MODEL_PATH)

    # ---- verification: graph features and logits against numpy, on every sample
    sess = session(model, extra_outputs=("features",))
    x_all = np.concatenate([x_train, x_test])
    f_all = np.concatenate([f_train, f_test])
    onnx_logits, onnx_feats = sess.run(["logits", "features"], {"image": x_all})
    np_logits = ((f_all - mu) / sd) @ w + b
    feat_diff = float(np.abs(onnx_feats - f_all).max())
    logit_diff = float(np.abs(onnx_logits - np_logits).max())
    print(f"max |features onnx - numpy| = {feat_diff:.2e}, max |logits onnx - numpy| = {logit_diff:.2e}")
    assert feat_diff < 1e-4 and logit_diff < 1e-3, "ONNX graph disagrees with the numpy reference"

    # ---- batch independence: a batch of 5 against one at a time, on the saved file
    plain = ort.InferenceSession(str(MODEL_PATH), providers=["CPUExecutionProvider"])
    five = x_test[:5]
    together = plain.run(["logits"], {"image": five})[0]
    alone = np.concatenate([plain.run(["logits"], {"image": five[i : i + 1]})[0] for i in range(5)])
    batch_diff = float(np.abs(together - alone).max())
    print(f"batch of 5 vs one at a time: max |diff| = {batch_diff:.2e}")
    assert batch_diff <= 1e-5
    inp, out = plain.get_inputs()[0], plain.get_outputs()[0]
    print(f"input {inp.name} {inp.type} {inp.shape}; output {out.name} {out.type} {out.shape}")

    logits_train = plain.run(["logits"], {"image": x_train})[0]
    logits_test = plain.run(["logits"], {"image": x_test})[0]
    tr_bin, tr_3 = accuracies(logits_train, y_train)
    te_bin, te_3 = accuracies(logits_test, y_test)
    cm = confusion(logits_test, y_test)
    majority_bin = max(float((y_test != 0).mean()), float((y_test == 0).mean()))
    majority_3 = float(np.bincount(y_test, minlength=3).max() / len(y_test))
    tp, fn = int(cm[1:, 1:].sum()), int(cm[1:, 0].sum())
    fp, tn = int(cm[0, 1:].sum()), int(cm[0, 0])
    denom = float(np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))))
    mcc = (tp * tn - fp * fn) / denom if denom else 0.0
    balanced = 0.5 * (tp / (tp + fn) + tn / (tn + fp))
    size = MODEL_PATH.stat().st_size
    print(f"train: n={len(y_train)} binary acc={tr_bin:.3f} 3-class acc={tr_3:.3f}")
    print(
        f"held-out: n={len(y_test)} binary acc={te_bin:.3f} 3-class acc={te_3:.3f} "
        f"(majority baselines {majority_bin:.3f} / {majority_3:.3f}); binary MCC={mcc:.3f}, "
        f"balanced binary acc={balanced:.3f}"
    )
    print("held-out confusion (rows truth real/synthetic/semisynthetic, cols prediction):")
    print(cm)
    print(f"wrote {MODEL_PATH} ({size} bytes)")

    held_groups = sorted({group_of(p) for p in test_paths})
    (MODELS / "split.json").write_text(
        json.dumps(
            {
                "rule": (
                    f"groups = photograph (real and semisynthetic crops of one photo; motorcycle_left/right are one "
                    f"photo) or openpeople person (synthetic); within each kind, groups sorted by "
                    f"sha256('{SPLIT_SALT}' + group) and the first round({HELD_OUT_FRACTION} * n) held out"
                ),
                "relative_to": "data/sample",
                "held_out_groups": held_groups,
                "train": train_paths,
                "held_out": test_paths,
            },
            indent=1,
        )
        + "\n"
    )

    coef_rows = "\n".join(
        f"| `{name}` | {mu[i]:.4g} | {sd[i]:.4g} | " + " | ".join(f"{w[i, j]:+.2f}" for j in range(3)) + " |"
        for i, name in enumerate(FEATURES)
    )
    n_by_class = lambda y: ", ".join(f"{CLASSES[c]} {int((y == c).sum())}" for c in range(3))  # noqa: E731
    readme = f"""# Demo models

## `demo_image.onnx`

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
difference {feat_diff:.1e} for features, {logit_diff:.1e} for logits, float32 graph against float64
numpy).

| feature | train mean | train std | w real | w synthetic | w semisynthetic |
|---|---|---|---|---|---|
{coef_rows}

Bias: {", ".join(f"{v:+.2f}" for v in b)}.

### Training data and split

Inputs are prepared as the harness does by default: `cv2.imdecode` -> RGB -> `bench.transforms.fit(rgb,
224, 224)` (crop-resize, bilinear) -> CHW.

Split rule: the unit is a *group*, so that no photograph or person is on both sides: all crops of one
photograph (its real and its semisynthetic crops together; the stereo pair `motorcycle_left/right`
counts as one photograph), or all six images of one openpeople person. Within each kind, groups are
sorted by `sha256("{SPLIT_SALT}" + group)` and the first 40% (rounded) are held out. The file
lists are in [`split.json`](split.json) (paths relative to `data/sample/`).

Held-out groups: {", ".join(f"`{g}`" for g in held_groups)}.

- train: {len(y_train)} images ({n_by_class(y_train)})
- held-out: {len(y_test)} images ({n_by_class(y_test)})

### Accuracy

| | n | binary accuracy (AI = label != 0) | 3-class accuracy |
|---|---|---|---|
| train | {len(y_train)} | {tr_bin:.3f} | {tr_3:.3f} |
| held-out | {len(y_test)} | {te_bin:.3f} | {te_3:.3f} |
| held-out, majority-class baseline | {len(y_test)} | {majority_bin:.3f} | {majority_3:.3f} |

Held-out binary MCC {mcc:.3f}, balanced binary accuracy {balanced:.3f} (a coin flip: 0 and 0.5).

Held-out confusion matrix (rows: truth real / synthetic / semisynthetic; columns: prediction):

```
{cm}
```

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
    (MODELS / "README.md").write_text(readme)


if __name__ == "__main__":
    main()
