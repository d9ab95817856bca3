"""Helpers shared by the scripts that rebuild the bundled data.

- ``build_sample.py``, ``build_video_sample.py`` (and ``build_audio_sample.py``, for the wheel helpers): pinned wheels (download, open, the ``--wheels``
  command line), seeded random numbers, image decoding, the feathered paste mask, openpeople members
  and the attribution boilerplate.
- ``build_demo_model.py``, ``build_demo_video_model.py`` and ``build_demo_audio_model.py``: the sample listing, the numpy logistic
  regression, the ONNX helpers and checks (graph against the numpy reference, batch independence),
  accuracy and confusion figures, ``split.json`` files and the sections of ``data/models/README.md``.

The scripts run as ``python scripts/<name>.py`` (``scripts/`` is then on ``sys.path``) and import this
module as ``common``; imported as ``scripts.<name>`` (repository root on ``sys.path``) they use
``from . import common``. onnx and onnxruntime are imported only by the functions that need them, so the
sample scripts need neither.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import onnx
    import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "data" / "models"
MODELS_README = MODELS / "README.md"

# ====================================================================== sample scripts

# ---------------------------------------------------------------- seeded random numbers


def stable_seed(seed: int, *parts: object) -> int:
    """A 64-bit seed from ``seed`` and ``parts``, stable across runs and platforms."""
    digest = hashlib.sha256("\x1f".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng(stable_seed(seed, *parts))


# ---------------------------------------------------------------- wheels


def download_wheels(dest: Path, pins: dict[str, str]) -> dict[str, Path]:
    """The wheel of each pinned ``package: version`` in ``dest``, fetched with ``pip download`` when missing."""
    wheels = {}
    for package, version in pins.items():
        prefix = f"{package.replace('-', '_')}-{version}-"  # wheel names use the normalised distribution name
        found = sorted(dest.glob(prefix + "*.whl"))
        if not found:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--quiet",
                    "-d",
                    str(dest),
                    f"{package}=={version}",
                ],
                check=True,
            )
            found = sorted(dest.glob(prefix + "*.whl"))
        if not found:
            raise SystemExit(f"pip did not produce a wheel for {package}=={version} in {dest}")
        wheels[package] = found[0]
    return wheels


def open_wheels(dest: Path, pins: dict[str, str]) -> tuple[dict[str, str], dict[str, zipfile.ZipFile]]:
    """Download (if needed) and open the pinned wheels: ``(package -> wheel file name, package -> zip)``."""
    wheels = download_wheels(dest, pins)
    names = {package: path.name for package, path in wheels.items()}
    return names, {package: zipfile.ZipFile(path) for package, path in wheels.items()}


def build_with_wheels(doc: str, tmp_prefix: str, build: Callable[[Path], dict]) -> dict:
    """The sample scripts' command line: ``--wheels DIR`` (kept), or a temporary folder."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--wheels", type=Path, help="folder for the downloaded wheels (kept); default: a temp folder"
    )
    args = parser.parse_args()
    if args.wheels:
        args.wheels.mkdir(parents=True, exist_ok=True)
        return build(args.wheels)
    with tempfile.TemporaryDirectory(prefix=tmp_prefix) as tmp:
        return build(Path(tmp))


def pinned(pins: dict[str, str]) -> str:
    return ", ".join(f"{k}=={v}" for k, v in pins.items())


def wheels_header(title: str, noun: str, wheels: dict[str, str], pins: dict[str, str]) -> list[str]:
    """Start of an ATTRIBUTION.md: the title and the list of wheels everything comes from."""
    lines = [
        title,
        "",
        f"Every {noun} in this folder is derived from media shipped inside these PyPI wheels (downloaded with",
        "`pip download --no-deps --only-binary=:all:`, read with `zipfile`, not installed):",
        "",
    ]
    return lines + [f"- `{name}` ({package}=={pins[package]})" for package, name in wheels.items()]


CHECKSUMS_HEADER = ["## Source file checksums (sha256 of the file inside the wheel)", ""]


# ---------------------------------------------------------------- openpeople (AI-generated people)

OPENPEOPLE_CURATED = "openpeople/data/curated"
# The face of a studio_portrait (a centred head shot), as fractions (x0, y0, x1, y1) of the image.
OPENPEOPLE_FACE_BOX = (0.27, 0.14, 0.73, 0.68)


def openpeople_people(op: zipfile.ZipFile) -> list[str]:
    return sorted({n.split("/")[3] for n in op.namelist() if n.startswith(f"{OPENPEOPLE_CURATED}/P")})


def openpeople_generator(op: zipfile.ZipFile, person: str) -> str:
    meta = json.loads(op.read(f"{OPENPEOPLE_CURATED}/{person}/metadata.json"))
    return meta.get("generated_with", "unknown")


def openpeople_asset(person: str, asset: str) -> str:
    """The wheel member of one of a person's images."""
    return f"{OPENPEOPLE_CURATED}/{person}/assets/{asset}.jpg"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- images


def decode_bgr(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # BGR, 3 channels
    if image is None:
        raise SystemExit("cannot decode an image from a wheel")
    return image


def decode_rgb(data: bytes) -> np.ndarray:
    return cv2.cvtColor(decode_bgr(data), cv2.COLOR_BGR2RGB)


def feathered_ellipse(h: int, w: int) -> np.ndarray:
    """Alpha in [0, 1], shape (h, w): an ellipse filling ~84% of the box, edges blurred."""
    mask = np.zeros((h, w), np.float32)
    centre = (w // 2, h // 2)
    axes = (max(1, int(w * 0.42)), max(1, int(h * 0.42)))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, thickness=-1)
    sigma = max(1.0, 0.06 * min(h, w))
    return cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma)


def paste_patch(
    donor: np.ndarray, region: tuple[float, float, float, float], bh: int, bw: int, frac: float
) -> np.ndarray:
    """``region`` (fractions x0, y0, x1, y1) of ``donor``, resized (INTER_AREA) to ``frac`` of the shorter
    side of a ``bh`` x ``bw`` background (at least 16 px, at most the background)."""
    dh, dw = donor.shape[:2]
    x0, y0, x1, y1 = region
    piece = donor[round(y0 * dh) : round(y1 * dh), round(x0 * dw) : round(x1 * dw)]
    ph = max(16, round(min(bh, bw) * frac))
    pw = max(16, round(ph * piece.shape[1] / piece.shape[0]))
    pw, ph = min(pw, bw), min(ph, bh)
    return cv2.resize(piece, (pw, ph), interpolation=cv2.INTER_AREA)


# ====================================================================== demo model scripts

CLASSES = ("real", "synthetic", "semisynthetic")  # folder name -> label 0, 1, 2
L2 = 1e-2
STEPS = 4000
LR = 0.5
EPS = 1e-4  # inside the logs of the features


def sample_files(sample: Path, ext: str, hint: str) -> tuple[list[str], dict[str, int]]:
    """Sorted ``<class>/<file>`` paths under ``sample`` and their labels; stop with ``hint`` if none."""
    relpaths = sorted(f"{c}/{p.name}" for c in CLASSES for p in (sample / c).glob(f"*.{ext}"))
    if not relpaths:
        raise SystemExit(hint)
    return relpaths, {p: CLASSES.index(p.split("/")[0]) for p in relpaths}


def salted_rank(salt: str, groups: Iterable[str]) -> list[str]:
    """``groups`` sorted by sha256(salt + group): a fixed, arbitrary order."""
    return sorted(groups, key=lambda g: hashlib.sha256((salt + g).encode()).hexdigest())


# ---------------------------------------------------------------- training


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train(f: np.ndarray, y: np.ndarray, k: int = len(CLASSES)) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch gradient descent on class-balanced cross-entropy + L2 (weights only), from zeros;
    ``k`` classes (labels 0..k-1)."""
    n, d = f.shape
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


@dataclass
class Fit:
    """A trained model: standardisation, weights, and how far its graph is from the numpy reference."""

    mu: np.ndarray
    sd: np.ndarray
    w: np.ndarray
    b: np.ndarray
    feat_diff: float = 0.0  # max |graph - numpy| of the features, all samples
    logit_diff: float = 0.0  # and of the logits

    def logits(self, f: np.ndarray) -> np.ndarray:
        """The numpy reference logits of features ``f``."""
        return ((f - self.mu) / self.sd) @ self.w + self.b


def load_arrays(
    paths: list[str], load: Callable[[str], np.ndarray], labels: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    return np.stack([load(p) for p in paths]), np.array([labels[p] for p in paths])


def train_and_export(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    features: Callable[[np.ndarray], np.ndarray],
    build_graph: Callable[..., onnx.ModelProto],
    path: Path,
    input_name: str,
    label: str = "",
    k: int = len(CLASSES),
) -> Fit:
    """Compute the numpy ``features``, standardise, train, build the graph with
    ``build_graph(mu, sd, w, b)``, save it to ``path``, and check that the graph's features and logits
    match the numpy reference on every sample, train and held-out."""
    import onnx

    f_train = features(x_train)
    f_all = np.concatenate([f_train, features(x_test)])
    mu = f_train.mean(axis=0)
    sd = f_train.std(axis=0) + 1e-6
    w, b = train((f_train - mu) / sd, y_train, k)
    model = build_graph(mu, sd, w, b)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)

    sess = session(model, extra_outputs=("features",))
    onnx_logits, onnx_feats = sess.run(
        ["logits", "features"], {input_name: np.concatenate([x_train, x_test])}
    )
    fit = Fit(mu, sd, w, b)
    fit.feat_diff = float(np.abs(onnx_feats - f_all).max())
    fit.logit_diff = float(np.abs(onnx_logits - fit.logits(f_all)).max())
    print(
        f"{label}max |features onnx - numpy| = {fit.feat_diff:.2e}, "
        f"max |logits onnx - numpy| = {fit.logit_diff:.2e}"
    )
    assert fit.feat_diff < 1e-4 and fit.logit_diff < 1e-3, "ONNX graph disagrees with the numpy reference"
    return fit


# ---------------------------------------------------------------- ONNX


def const(name: str, value: object) -> onnx.TensorProto:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value), name=name)


def mean_std_nodes(src: str, axes: list[int], names: str | tuple[str, ...]) -> list[onnx.NodeProto]:
    """Nodes for the mean and (population) standard deviation of ``src`` over ``axes``. ``names``: the six
    outputs (mean kept, mean, centred, squared, variance, std), or a prefix ``p`` for ``p_mkeep``, ``p_m``,
    ``p_c``, ``p_c2``, ``p_var``, ``p_s``."""
    from onnx import helper

    if isinstance(names, str):
        names = tuple(f"{names}_{s}" for s in ("mkeep", "m", "c", "c2", "var", "s"))
    mean_keep, mean, centred, squared, var, std = names
    n = helper.make_node
    return [
        n("ReduceMean", [src], [mean_keep], axes=axes, keepdims=1),
        n("ReduceMean", [src], [mean], axes=axes, keepdims=0),
        n("Sub", [src, mean_keep], [centred]),
        n("Mul", [centred, centred], [squared]),
        n("ReduceMean", [squared], [var], axes=axes, keepdims=0),
        n("Sqrt", [var], [std]),
    ]


def diff_nodes(
    src: str, axis: str, hi: tuple[str, str, str], lo: tuple[str, str, str], out: str
) -> list[onnx.NodeProto]:
    """Nodes for ``out = hi - lo``, where ``hi`` and ``lo`` are ``(name, start, end)``: slices of ``src``
    along ``axis`` (start, end and axis name int64 initializers), e.g. ``x[1:] - x[:-1]``."""
    from onnx import helper

    n = helper.make_node
    return [
        n("Slice", [src, hi[1], hi[2], axis], [hi[0]]),
        n("Slice", [src, lo[1], lo[2], axis], [lo[0]]),
        n("Sub", [hi[0], lo[0]], [out]),
    ]


def head_inits(mu: np.ndarray, sd: np.ndarray, w: np.ndarray, b: np.ndarray) -> list[onnx.TensorProto]:
    """The standardisation and linear layer, as float32 initializers."""
    f32 = np.float32
    return [
        const("feat_mean", mu.astype(f32).reshape(1, -1)),
        const("feat_std", sd.astype(f32).reshape(1, -1)),
        const("W", w.astype(f32)),
        const("B", b.astype(f32).reshape(1, -1)),
    ]


def head_nodes() -> list[onnx.NodeProto]:
    """``features`` -> standardised -> ``logits`` (uses the initializers of ``head_inits``)."""
    from onnx import helper

    n = helper.make_node
    return [
        n("Sub", ["features", "feat_mean"], ["features_c"]),
        n("Div", ["features_c", "feat_std"], ["features_z"]),
        n("MatMul", ["features_z", "W"], ["scores"]),
        n("Add", ["scores", "B"], ["logits"]),
    ]


def finish_model(
    nodes: list[onnx.NodeProto],
    inits: list[onnx.TensorProto],
    name: str,
    input_: tuple[str, list[str | int]],
    producer: str,
    opset: int,
    ir_version: int,
    doc: str,
    input_type: int | None = None,
    classes: int = 3,
) -> onnx.ModelProto:
    """The checked model: one input ``(name, shape)`` of ``input_type`` (a ``TensorProto`` type; uint8 by
    default), output ``logits`` float32 ``(batch, classes)``."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(input_[0], TensorProto.UINT8 if input_type is None else input_type, input_[1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=producer)
    model.ir_version = ir_version
    model.doc_string = doc
    onnx.checker.check_model(model, full_check=True)
    return model


def session(model: onnx.ModelProto, extra_outputs: tuple[str, ...] = ()) -> ort.InferenceSession:
    """A single-threaded CPU session of ``model``, with the float tensors ``extra_outputs`` as outputs too."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    for name in extra_outputs:
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def load_saved(path: Path) -> ort.InferenceSession:
    """The saved model file as the harness opens it, with its contract printed."""
    import onnxruntime as ort

    plain = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp, out = plain.get_inputs()[0], plain.get_outputs()[0]
    print(f"input {inp.name} {inp.type} {inp.shape}; output {out.name} {out.type} {out.shape}")
    return plain


def batch_independence(plain: ort.InferenceSession, input_name: str, batch: np.ndarray) -> float:
    """Max |logits of ``batch`` in one run - logits of its samples one at a time|."""
    n = len(batch)
    together = plain.run(["logits"], {input_name: batch})[0]
    alone = np.concatenate([plain.run(["logits"], {input_name: batch[i : i + 1]})[0] for i in range(n)])
    diff = float(np.abs(together - alone).max())
    print(f"batch of {n} vs one at a time: max |diff| = {diff:.2e}")
    assert diff <= 1e-5
    return diff


# ---------------------------------------------------------------- evaluation


def accuracies(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    pred = logits.argmax(axis=1)
    return float(((pred != 0) == (y != 0)).mean()), float((pred == y).mean())


def confusion(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    m = np.zeros((3, 3), int)
    for t, p in zip(y, logits.argmax(axis=1), strict=True):
        m[t, p] += 1
    return m


def binary_stats(cm: np.ndarray) -> tuple[float, float]:
    """Binary (AI = label != 0) MCC and balanced accuracy of a 3-class confusion matrix."""
    tp, fn = int(cm[1:, 1:].sum()), int(cm[1:, 0].sum())
    fp, tn = int(cm[0, 1:].sum()), int(cm[0, 0])
    denom = float(np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))))
    mcc = (tp * tn - fp * fn) / denom if denom else 0.0
    balanced = 0.5 * (tp / max(1, tp + fn) + tn / max(1, tn + fp))
    return mcc, balanced


@dataclass
class Scores:
    tr: tuple[float, float]  # train (binary, 3-class) accuracy
    te: tuple[float, float]  # held-out
    majority: tuple[float, float]  # held-out majority-class baselines
    mcc: float
    balanced: float
    cm: np.ndarray  # held-out confusion matrix
    logits_train: np.ndarray
    logits_test: np.ndarray


def evaluate(
    plain: ort.InferenceSession,
    input_name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
) -> Scores:
    """Accuracy of the saved model on both sides of the split, printed."""
    logits_train = plain.run(["logits"], {input_name: x_train})[0]
    logits_test = plain.run(["logits"], {input_name: x_test})[0]
    cm = confusion(logits_test, y_test)
    majority_bin = max(float((y_test != 0).mean()), float((y_test == 0).mean()))
    majority_3 = float(np.bincount(y_test, minlength=3).max() / len(y_test))
    mcc, balanced = binary_stats(cm)
    s = Scores(
        accuracies(logits_train, y_train),
        accuracies(logits_test, y_test),
        (majority_bin, majority_3),
        mcc,
        balanced,
        cm,
        logits_train,
        logits_test,
    )
    print(f"train: n={len(y_train)} binary acc={s.tr[0]:.3f} 3-class acc={s.tr[1]:.3f}")
    print(
        f"held-out: n={len(y_test)} binary acc={s.te[0]:.3f} 3-class acc={s.te[1]:.3f} "
        f"(majority baselines {majority_bin:.3f} / {majority_3:.3f}); binary MCC={mcc:.3f}, "
        f"balanced binary acc={balanced:.3f}"
    )
    print("held-out confusion (rows truth real/synthetic/semisynthetic, cols prediction):")
    print(cm)
    return s


# ---------------------------------------------------------------- outputs


def write_split(
    path: Path, rule: str, relative_to: str, held: list[str], train: list[str], test: list[str], **extra
) -> None:
    """A ``split.json``: the rule, where the paths start, ``extra`` keys, the held-out groups, the lists."""
    doc = {
        "rule": rule,
        "relative_to": relative_to,
        **extra,
        "held_out_groups": held,
        "train": train,
        "held_out": test,
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")


def n_by_class(y: np.ndarray) -> str:
    return ", ".join(f"{CLASSES[c]} {int((y == c).sum())}" for c in range(3))


def coef_rows(features: list[str], fit: Fit) -> str:
    """Markdown rows: feature, train mean and std, one weight per class."""
    return "\n".join(
        f"| `{name}` | {fit.mu[i]:.4g} | {fit.sd[i]:.4g} | "
        + " | ".join(f"{fit.w[i, j]:+.2f}" for j in range(3))
        + " |"
        for i, name in enumerate(features)
    )


def results_markdown(held: list[str], y_train: np.ndarray, y_test: np.ndarray, s: Scores, noun: str) -> str:
    """README lines from the held-out groups to the confusion matrix (no final newline)."""
    return f"""Held-out groups: {", ".join(f"`{g}`" for g in held)}.

- train: {len(y_train)} {noun} ({n_by_class(y_train)})
- held-out: {len(y_test)} {noun} ({n_by_class(y_test)})

### Accuracy

| | n | binary accuracy (AI = label != 0) | 3-class accuracy |
|---|---|---|---|
| train | {len(y_train)} | {s.tr[0]:.3f} | {s.tr[1]:.3f} |
| held-out | {len(y_test)} | {s.te[0]:.3f} | {s.te[1]:.3f} |
| held-out, majority-class baseline | {len(y_test)} | {s.majority[0]:.3f} | {s.majority[1]:.3f} |

Held-out binary MCC {s.mcc:.3f}, balanced binary accuracy {s.balanced:.3f} (a coin flip: 0 and 0.5).

Held-out confusion matrix (rows: truth real / synthetic / semisynthetic; columns: prediction):

```
{s.cm}
```"""


README_TITLE = "# Demo models"
# Sections of data/models/README.md, in this order whichever script wrote last; other "## " sections
# found in the file are kept after them.
README_SECTIONS = ("## `demo_image.onnx`", "## `demo_video.onnx`", "## `demo_audio.onnx`")


def write_readme_section(section: str, path: Path = MODELS_README) -> None:
    """Put ``section`` (from its "## " heading line to its end) into ``path``, replacing the section of
    the same heading and keeping the others, so that the scripts can run in either order."""
    heading = section.split("\n", 1)[0]
    text = path.read_text() if path.exists() else README_TITLE + "\n"
    starts = [m.start() for m in re.finditer(r"^## ", text, flags=re.M)]
    preamble = text[: starts[0]] if starts else text
    sections = {}
    for a, b in zip(starts, [*starts, len(text)][1:], strict=True):
        sections[text[a:b].split("\n", 1)[0]] = text[a:b].rstrip("\n") + "\n"
    sections[heading] = section.rstrip("\n") + "\n"

    def rank(h: str) -> int:
        return README_SECTIONS.index(h) if h in README_SECTIONS else len(README_SECTIONS)

    ordered = sorted(sections, key=rank)  # stable: unknown sections keep their order
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(preamble.rstrip("\n") + "\n\n" + "\n".join(sections[h] for h in ordered))
