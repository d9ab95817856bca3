"""Train and export the demo audio detector ``data/models/demo_audio.onnx``.

A logistic regression on 9 hand-made statistics of the waveform (loudness, dynamics, zero crossings and
the shape of the clip's average spectrum), trained with numpy on part of ``data/sample/audio/`` and
written with ``onnx.helper``. The features are computed inside the graph from the raw waveform (the
spectrum by a fixed Hann-windowed DFT as two ``MatMul``), so the model meets the audio contract with no
preprocessing beyond the harness's decode:

- input ``audio``: float32 ``(batch, 96000)``: mono, 16 kHz, 6.0 s, roughly [-1, 1]; batch dynamic
- output ``logits``: float32 ``(batch, 2)`` in the order ``[real, synthetic]``

    PYTHONPATH=. python scripts/build_demo_audio_model.py

Writes ``data/models/demo_audio.onnx``, ``data/models/audio_split.json`` and (re)writes the section
"## `demo_audio.onnx`" of ``data/models/README.md`` (after the video model's), leaving the rest of that
file alone. Needs numpy, PyAV, onnx and onnxruntime (CPU is enough). Clips are decoded as the harness
decodes them: ``bench.data.audio`` (mono float32 at 16 kHz by FFmpeg's resampler, centre crop or right
zero padding to 96000 samples).
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

try:
    from . import common  # imported as scripts.build_demo_audio_model
except ImportError:  # run as python scripts/build_demo_audio_model.py: scripts/ is on sys.path
    import common

if str(common.ROOT) not in sys.path:
    sys.path.insert(0, str(common.ROOT))

from bench.data.audio import RATE, SAMPLES, decode_clip, fit_length  # noqa: E402  (16 kHz, 96000 samples: 6.0 s)

SAMPLE = common.ROOT / "data" / "sample" / "audio"
MODELS = common.MODELS
MODEL_PATH = MODELS / "demo_audio.onnx"
SPLIT_PATH = MODELS / "audio_split.json"
SECTION = "## `demo_audio.onnx`"

CLASSES = ("real", "synthetic")  # folder name -> label 0, 1
EXTS = ("wav", "flac", "mp3", "ogg", "opus", "m4a")
FRAME = 256  # samples per frame (16 ms), no overlap: 375 frames
BINS = FRAME // 2 + 1  # 62.5 Hz apart
HELD_OUT_PROMPTS = 0.4
SPLIT_SALT = "bench-demo-audio-split-v1"
L2, STEPS, LR = common.L2, common.STEPS, common.LR
REL = 1e-6  # floor of the relative powers inside the logs
OPSET = 17

FEATURES = [
    "log_rms",  # 0.5 * log(1e-10 + mean x^2) over the whole window
    "active",  # mean over frames of e / (e + 1e-3 * max e): soft share of frames within 30 dB of the loudest
    "log_energy_std",  # std over frames of log(1e-4 + e / max e)
    "zcr",  # share of neighbouring samples of opposite sign
    "centroid_khz",  # centroid of the average power spectrum, kHz
    "log_lf",  # log(1e-6 + share of the average power below 300 Hz)
    "log_hf",  # log(1e-6 + share of the average power in 4-8 kHz)
    "log_top",  # log(1e-6 + power in 7-8 kHz / power in 4-7 kHz)
    "flatness",  # mean over bins of log(1e-6 + p) - log(1e-6 + mean p), p: average spectrum / its sum
]


def band(lo_hz: float, hi_hz: float) -> np.ndarray:
    """0/1 mask of the DFT bins whose centre frequency is in [lo_hz, hi_hz)."""
    f = np.arange(BINS) * RATE / FRAME
    return ((f >= lo_hz) & (f < hi_hz)).astype(np.float64)


def dft_matrices() -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed real DFT of one frame: ``frames @ cos`` and ``frames @ sin``, (FRAME, BINS)."""
    n = np.arange(FRAME)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / FRAME)  # periodic Hann
    ang = 2 * np.pi * np.outer(n, np.arange(BINS)) / FRAME
    return window[:, None] * np.cos(ang), window[:, None] * np.sin(ang)


FREQS_KHZ = np.arange(BINS) * RATE / FRAME / 1000
MASK_LF, MASK_HF = band(0, 300), band(4000, 8001)
MASK_MID, MASK_TOP = band(4000, 7000), band(7000, 8001)


# ---------------------------------------------------------------- data and split


def describe(relpath: str) -> str:
    """The split unit of a clip: its prompt ``<lang>_<prompt>`` (a real recording and its synthetic
    version share it), or ``birds`` for the three segments of the one birdsong recording."""
    kind, name = relpath.split("/")
    stem = name.rsplit(".", 1)[0]
    if stem.startswith("birds_"):
        return "birds"
    return stem.rsplit("_espeak-", 1)[0] if kind == "synthetic" else stem


def split(relpaths: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Held out: per language, round(0.4 * prompts) prompts ranked by sha256(salt + prompt), each with
    its real recording and its synthetic version. The birdsong stays in training. No prompt (no
    sentence) is on both sides."""
    groups = sorted({describe(p) for p in relpaths} - {"birds"})
    held: list[str] = []
    for lang in sorted({g.split("_", 1)[0] for g in groups}):
        mine = [g for g in groups if g.startswith(lang + "_")]
        held += common.salted_rank(SPLIT_SALT, mine)[: round(HELD_OUT_PROMPTS * len(mine))]
    held.sort()
    test = [p for p in relpaths if describe(p) in held]
    train = [p for p in relpaths if describe(p) not in held]
    return train, test, held


def sample_files() -> tuple[list[str], dict[str, int]]:
    relpaths = sorted(f"{c}/{p.name}" for c in CLASSES for e in EXTS for p in (SAMPLE / c).glob(f"*.{e}"))
    if not relpaths:
        raise SystemExit(f"no clips under {SAMPLE}; run scripts/build_audio_sample.py first")
    return relpaths, {p: CLASSES.index(p.split("/")[0]) for p in relpaths}


def load(path: str) -> np.ndarray:
    """A clip as the harness feeds it: ``(96000,)`` float32 (``bench.data.audio``)."""
    return fit_length(decode_clip(path, rate=RATE, samples=SAMPLES).wave, SAMPLES)


# ---------------------------------------------------------------- features (numpy reference)


def features_numpy(batch: np.ndarray) -> np.ndarray:
    """(B, 96000) float32 -> (B, 9) float64, the same formulas as the graph."""
    x = batch.astype(np.float64)
    b = len(x)
    frames = x.reshape(b, -1, FRAME)
    e = (frames**2).mean(axis=2)  # (B, T)
    e_max = e.max(axis=1, keepdims=True)
    cos, sin = dft_matrices()
    power = (frames @ cos) ** 2 + (frames @ sin) ** 2  # (B, T, BINS)
    avg = power.mean(axis=1)  # (B, BINS)
    total = avg.sum(axis=1, keepdims=True) + 1e-12
    p = avg / total
    signs = np.sign(x)
    feats = {
        "log_rms": 0.5 * np.log(1e-10 + (x**2).mean(axis=1)),
        "active": (e / (e + 1e-3 * e_max + 1e-12)).mean(axis=1),
        "log_energy_std": np.log(1e-4 + e / (e_max + 1e-12)).std(axis=1),
        "zcr": (signs[:, 1:] * signs[:, :-1] < 0).mean(axis=1),
        "centroid_khz": (p * FREQS_KHZ).sum(axis=1),
        "log_lf": np.log(REL + (p * MASK_LF).sum(axis=1)),
        "log_hf": np.log(REL + (p * MASK_HF).sum(axis=1)),
        "log_top": np.log(REL + (avg * MASK_TOP).sum(axis=1) / ((avg * MASK_MID).sum(axis=1) + 1e-12)),
        "flatness": np.log(REL + p).mean(axis=1) - np.log(REL + p.mean(axis=1)),
    }
    return np.stack([feats[name] for name in FEATURES], axis=1)


# ---------------------------------------------------------------- graph


const = common.const


def build_graph(mu: np.ndarray, sd: np.ndarray, w: np.ndarray, b: np.ndarray) -> onnx.ModelProto:
    f32, i64 = np.float32, np.int64
    cos, sin = dft_matrices()
    inits = [
        const("frame_shape", np.array([0, -1, FRAME], i64)),
        const("dft_cos", cos.astype(f32)),
        const("dft_sin", sin.astype(f32)),
        const("freqs_khz", FREQS_KHZ.astype(f32)),
        const("mask_lf", MASK_LF.astype(f32)),
        const("mask_hf", MASK_HF.astype(f32)),
        const("mask_mid", MASK_MID.astype(f32)),
        const("mask_top", MASK_TOP.astype(f32)),
        const("half", np.array(0.5, f32)),
        const("zero", np.array(0.0, f32)),
        const("e_rms", np.array(1e-10, f32)),
        const("e_tiny", np.array(1e-12, f32)),
        const("e_rel", np.array(REL, f32)),
        const("e_db30", np.array(1e-3, f32)),
        const("e_log", np.array(1e-4, f32)),
        const("i0", np.array([0], i64)),
        const("i1", np.array([1], i64)),
        const("im1", np.array([-1], i64)),
        const("big", np.array([np.iinfo(np.int64).max], i64)),
        const("ax1", np.array([1], i64)),
        *common.head_inits(mu, sd, w, b),
    ]
    n = helper.make_node
    nodes = [
        # loudness of the whole window
        n("Mul", ["audio", "audio"], ["x2"]),
        n("ReduceMean", ["x2"], ["ms"], axes=[1], keepdims=0),
        n("Add", ["ms", "e_rms"], ["ms_eps"]),
        n("Log", ["ms_eps"], ["log_ms"]),
        n("Mul", ["log_ms", "half"], ["log_rms"]),  # (B,)
        # frames and their energies
        n("Reshape", ["audio", "frame_shape"], ["frames"]),  # (B, T, FRAME)
        n("Mul", ["frames", "frames"], ["frames2"]),
        n("ReduceMean", ["frames2"], ["e"], axes=[2], keepdims=0),  # (B, T)
        n("ReduceMax", ["e"], ["e_max"], axes=[1], keepdims=1),  # (B, 1)
        n("Mul", ["e_max", "e_db30"], ["e_floor"]),
        n("Add", ["e", "e_floor"], ["e_plus"]),
        n("Add", ["e_plus", "e_tiny"], ["e_den"]),
        n("Div", ["e", "e_den"], ["e_share"]),
        n("ReduceMean", ["e_share"], ["active"], axes=[1], keepdims=0),
        n("Add", ["e_max", "e_tiny"], ["e_max_eps"]),
        n("Div", ["e", "e_max_eps"], ["e_rel_max"]),
        n("Add", ["e_rel_max", "e_log"], ["e_rel_eps"]),
        n("Log", ["e_rel_eps"], ["log_e"]),
        *common.mean_std_nodes("log_e", [1], "le"),  # le_s: (B,)
        # zero crossings: neighbours of opposite sign
        n("Sign", ["audio"], ["sgn"]),
        n("Slice", ["sgn", "i1", "big", "ax1"], ["sgn_next"]),
        n("Slice", ["sgn", "i0", "im1", "ax1"], ["sgn_prev"]),
        n("Mul", ["sgn_next", "sgn_prev"], ["sgn_prod"]),
        n("Less", ["sgn_prod", "zero"], ["crossing"]),
        n("Cast", ["crossing"], ["crossing_f"], to=TensorProto.FLOAT),
        n("ReduceMean", ["crossing_f"], ["zcr"], axes=[1], keepdims=0),
        # the average power spectrum, normalised
        n("MatMul", ["frames", "dft_cos"], ["re"]),  # (B, T, BINS)
        n("MatMul", ["frames", "dft_sin"], ["im"]),
        n("Mul", ["re", "re"], ["re2"]),
        n("Mul", ["im", "im"], ["im2"]),
        n("Add", ["re2", "im2"], ["power"]),
        n("ReduceMean", ["power"], ["avg"], axes=[1], keepdims=0),  # (B, BINS)
        n("ReduceSum", ["avg", "ax1"], ["avg_sum"], keepdims=1),
        n("Add", ["avg_sum", "e_tiny"], ["total"]),
        n("Div", ["avg", "total"], ["p"]),
        n("Mul", ["p", "freqs_khz"], ["p_f"]),
        n("ReduceSum", ["p_f", "ax1"], ["centroid_khz"], keepdims=0),
    ]
    for name, src, mask in (("lf", "p", "mask_lf"), ("hf", "p", "mask_hf"), ("mid", "avg", "mask_mid"), ("top", "avg", "mask_top")):
        nodes += [
            n("Mul", [src, mask], [f"{name}_m"]),
            n("ReduceSum", [f"{name}_m", "ax1"], [f"{name}_sum"], keepdims=0),
        ]
    nodes += [
        n("Add", ["lf_sum", "e_rel"], ["lf_eps"]),
        n("Log", ["lf_eps"], ["log_lf"]),
        n("Add", ["hf_sum", "e_rel"], ["hf_eps"]),
        n("Log", ["hf_eps"], ["log_hf"]),
        n("Add", ["mid_sum", "e_tiny"], ["mid_eps"]),
        n("Div", ["top_sum", "mid_eps"], ["top_ratio"]),
        n("Add", ["top_ratio", "e_rel"], ["top_eps"]),
        n("Log", ["top_eps"], ["log_top"]),
        n("Add", ["p", "e_rel"], ["p_eps"]),
        n("Log", ["p_eps"], ["log_p"]),
        n("ReduceMean", ["log_p"], ["mean_log_p"], axes=[1], keepdims=0),
        n("ReduceMean", ["p"], ["mean_p"], axes=[1], keepdims=0),
        n("Add", ["mean_p", "e_rel"], ["mean_p_eps"]),
        n("Log", ["mean_p_eps"], ["log_mean_p"]),
        n("Sub", ["mean_log_p", "log_mean_p"], ["flatness"]),
    ]
    names = {
        "log_rms": "log_rms",
        "active": "active",
        "log_energy_std": "le_s",
        "zcr": "zcr",
        "centroid_khz": "centroid_khz",
        "log_lf": "log_lf",
        "log_hf": "log_hf",
        "log_top": "log_top",
        "flatness": "flatness",
    }
    for name in FEATURES:
        nodes.append(n("Unsqueeze", [names[name], "ax1"], [f"{name}_u"]))  # (B, 1)
    nodes += [n("Concat", [f"{name}_u" for name in FEATURES], ["features"], axis=1), *common.head_nodes()]
    return common.finish_model(
        nodes,
        inits,
        "demo_audio_detector",
        ("audio", ["batch", SAMPLES]),
        producer="bench/scripts/build_demo_audio_model.py",
        opset=OPSET,
        ir_version=10,  # the newest IR version the ONNX Runtime builds used here accept
        doc="Demo audio detector for the bench harness: logistic regression on loudness, dynamics, zero "
        "crossings and spectral-shape statistics of a 6 s, 16 kHz mono window. Output logits [real, synthetic]. "
        "Not a real detector.",
        input_type=TensorProto.FLOAT,
        classes=len(CLASSES),
    )


# ---------------------------------------------------------------- evaluation (two classes)


def scores(logits: np.ndarray, y: np.ndarray) -> dict:
    pred = logits.argmax(axis=1)
    cm = np.zeros((2, 2), int)
    for t, p in zip(y, pred, strict=True):
        cm[t, p] += 1
    tn, fp, fn, tp = int(cm[0, 0]), int(cm[0, 1]), int(cm[1, 0]), int(cm[1, 1])
    denom = float(np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))))
    return {
        "n": len(y),
        "acc": float((pred == y).mean()),
        "majority": float(max((y == 0).mean(), (y == 1).mean())),
        "balanced": 0.5 * (tp / max(1, tp + fn) + tn / max(1, tn + fp)),
        "mcc": (tp * tn - fp * fn) / denom if denom else 0.0,
        "cm": cm,
    }


def single_feature_accuracy(f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray, y_test: np.ndarray) -> list[float]:
    """Held-out accuracy of the same trainer on each feature alone (for the README: what carries it)."""
    out = []
    for i in range(f_train.shape[1]):
        a, t = f_train[:, i : i + 1], f_test[:, i : i + 1]
        mu, sd = a.mean(axis=0), a.std(axis=0) + 1e-6
        w, b = common.train((a - mu) / sd, y_train, 2)
        out.append(float(((((t - mu) / sd) @ w + b).argmax(axis=1) == y_test).mean()))
    return out


# ---------------------------------------------------------------- main


def main() -> None:
    relpaths, labels = sample_files()
    train_paths, test_paths, held = split(relpaths)

    def load_rel(p: str) -> np.ndarray:
        return load(str(SAMPLE / p))

    x_train, y_train = common.load_arrays(train_paths, load_rel, labels)
    x_test, y_test = common.load_arrays(test_paths, load_rel, labels)
    assert x_train.dtype == np.float32 and x_train.shape[1] == SAMPLES
    fm = common.train_and_export(
        x_train, y_train, x_test, features_numpy, build_graph, MODEL_PATH, "audio", label="audio: ", k=len(CLASSES)
    )

    plain = common.load_saved(MODEL_PATH)
    inp, out = plain.get_inputs()[0], plain.get_outputs()[0]
    assert len(plain.get_inputs()) == 1 and len(plain.get_outputs()) == 1
    assert inp.name == "audio" and inp.type == "tensor(float)" and inp.shape == ["batch", SAMPLES]
    assert out.name == "logits" and out.type == "tensor(float)" and out.shape == ["batch", 2]
    batch_diff = common.batch_independence(plain, "audio", x_test[:4])
    probes = {
        "silence": np.zeros((1, SAMPLES), np.float32),
        "full-scale noise": np.random.default_rng(0).uniform(-1, 1, (1, SAMPLES)).astype(np.float32),
        "1 kHz sine": (0.5 * np.sin(2 * np.pi * 1000 * np.arange(SAMPLES) / RATE)).astype(np.float32)[None],
    }
    for name, wave in probes.items():
        got = plain.run(["logits"], {"audio": wave})[0]
        assert got.shape == (1, 2) and np.isfinite(got).all(), (name, got)
    print("probes (silence, noise, sine): finite logits")

    lg_train = plain.run(["logits"], {"audio": x_train})[0]
    lg_test = plain.run(["logits"], {"audio": x_test})[0]
    s_train, s_test = scores(lg_train, y_train), scores(lg_test, y_test)
    print(f"train: n={s_train['n']} acc={s_train['acc']:.3f}")
    print(
        f"held-out: n={s_test['n']} acc={s_test['acc']:.3f} (majority {s_test['majority']:.3f}); "
        f"MCC={s_test['mcc']:.3f}, balanced={s_test['balanced']:.3f}"
    )
    print(s_test["cm"])
    singles = single_feature_accuracy(features_numpy(x_train), y_train, features_numpy(x_test), y_test)
    for name, acc in zip(FEATURES, singles, strict=True):
        print(f"  {name:16s} alone: held-out acc {acc:.3f}")
    mistakes = [
        f"`{p}` -> {CLASSES[int(lg.argmax())]}"
        for p, lg in zip(test_paths, lg_test, strict=True)
        if int(lg.argmax()) != labels[p]
    ]
    size = MODEL_PATH.stat().st_size
    print(f"wrote {MODEL_PATH} ({size} bytes)")

    common.write_split(
        SPLIT_PATH,
        (
            "units: prompts (<lang>_<prompt>: the real recording and its eSpeak NG version), and the birdsong "
            f"recording. Held out: per language, round({HELD_OUT_PROMPTS} * prompts) prompts ranked by "
            f"sha256('{SPLIT_SALT}' + prompt); the birdsong stays in training. No sentence is on both sides."
        ),
        "data/sample/audio",
        held,
        train_paths,
        test_paths,
        audio={"rate": RATE, "samples": SAMPLES, "crop": "center", "pad": "right", "channels": 1},
        held_out_accuracy=round(s_test["acc"], 4),
    )
    f_train = features_numpy(x_train)
    higher = [
        "real" if f_train[y_train == 0, i].mean() > f_train[y_train == 1, i].mean() else "synthetic"
        for i in range(len(FEATURES))
    ]
    write_readme(fm, s_train, s_test, size, batch_diff, held, y_train, y_test, singles, mistakes, higher)


def write_readme(
    fm: common.Fit,
    s_train: dict,
    s_test: dict,
    size: int,
    batch_diff: float,
    held: list[str],
    y_train: np.ndarray,
    y_test: np.ndarray,
    singles: list[float],
    mistakes: list[str],
    higher: list[str],
) -> None:
    rows = "\n".join(
        f"| `{name}` | {fm.mu[i]:.4g} | {fm.sd[i]:.4g} | {higher[i]} | {fm.w[i, 1] - fm.w[i, 0]:+.2f} | {singles[i]:.3f} |"
        for i, name in enumerate(FEATURES)
    )
    ranked = sorted(range(len(FEATURES)), key=lambda i: -singles[i])
    carriers = ", ".join(
        f"`{FEATURES[i]}` {singles[i]:.3f} (higher in {higher[i]} clips)" for i in ranked[:3]
    )
    order = np.argsort(-np.abs(fm.w[:, 1] - fm.w[:, 0]))
    top = [FEATURES[i] for i in order[:3]]

    def n_by(y: np.ndarray) -> str:
        return f"real {int((y == 0).sum())}, synthetic {int((y == 1).sum())}"

    section = f"""{SECTION}

A tiny audio "detector" ({size} bytes) that satisfies the audio model contract (SPEC section 1c), for
smoke tests, examples and `bench check`. It is **not** a real detector of AI-generated audio.

- input `audio`: `float32`, shape `(batch, 96000)` (batch symbolic): mono PCM at 16 kHz, 6.0 s
- output `logits`: `float32`, shape `(batch, 2)`, order `[real, synthetic]`
- opset {OPSET}, IR version 10, plain ONNX operators (Mul, Reduce*, Reshape, MatMul, Sign, Less, Log,
  Concat, ...); every clip is processed independently (a batch of 4 gives the same logits as four
  single runs, max difference {batch_diff:.1e}); silence, full-scale noise and a sine give finite logits.

Rebuild (after `python scripts/build_audio_sample.py`): `PYTHONPATH=. python scripts/build_demo_audio_model.py`
(deterministic: fixed split, zero initialisation, full-batch gradient descent). It rewrites only this
section of the README.

### What it computes

Inside the graph, from the waveform `x` (96000 samples), its 375 frames of 256 samples (16 ms, no
overlap), their energies `e` (mean of `x^2`) and their power spectra (a periodic Hann window and a
real DFT as two `MatMul` with fixed 256 x 129 matrices; bins 62.5 Hz apart), averaged over the frames
into the clip's spectrum `avg` and normalised to `p = avg / sum(avg)`, 9 statistics per clip:

| feature | definition |
|---|---|
| `log_rms` | `0.5 * log(1e-10 + mean x^2)` |
| `active` | mean over frames of `e / (e + 1e-3 * max e)`: a soft share of frames within 30 dB of the loudest |
| `log_energy_std` | std over frames of `log(1e-4 + e / max e)`: dynamics |
| `zcr` | share of neighbouring samples of opposite sign |
| `centroid_khz` | `sum(p * f)`, f in kHz |
| `log_lf` | `log(1e-6 + share of p below 300 Hz)` |
| `log_hf` | `log(1e-6 + share of p in 4-8 kHz)` |
| `log_top` | `log(1e-6 + power in 7-8 kHz / power in 4-7 kHz)` |
| `flatness` | `mean log(1e-6 + p) - log(1e-6 + mean p)` over the 129 bins |

They are standardised with the training mean and std baked into the graph, then a linear layer gives
the logits: a logistic regression (two-class softmax), class-balanced cross-entropy, L2 {L2} on the weights,
{STEPS} steps of full-batch gradient descent (rate {LR}) from zeros, in numpy (the recipe of the image and
video models). The script checks that the graph's features and logits match its numpy reference on all
clips (max abs difference {fm.feat_diff:.1e} for features, {fm.logit_diff:.1e} for logits, float32 graph
against float64 numpy).

| feature | train mean | train std | higher in (train means) | w synthetic - w real | held-out accuracy of this feature alone |
|---|---|---|---|---|---|
{rows}

Bias (synthetic - real): {fm.b[1] - fm.b[0]:+.2f}.

### Training data and split

Clips from `data/sample/audio/`, decoded as the harness decodes them, by `bench.data.audio.decode_clip` + `fit_length`: mono float32 at
16 kHz by FFmpeg's resampler, centre crop (start `(n - 96000) // 2`) or zero padding on the right to
96000 samples.

Split rule: no sentence on both sides. Units are prompts: an Asterisk prompt's real recording and its
eSpeak NG version travel together. Per language (Italian, Russian), 40% of the prompts, ranked by
`sha256("{SPLIT_SALT}" + prompt)`, are held out; the three birdsong segments (one recording) stay in
training. File lists: [`audio_split.json`](audio_split.json) (paths relative to `data/sample/audio/`).
Held-out prompts: {", ".join(f"`{g}`" for g in held)}.

- train: {len(y_train)} clips ({n_by(y_train)})
- held-out: {len(y_test)} clips ({n_by(y_test)})

### Accuracy

| | n | accuracy | balanced accuracy | MCC |
|---|---|---|---|---|
| train | {s_train['n']} | {s_train['acc']:.3f} | {s_train['balanced']:.3f} | {s_train['mcc']:.3f} |
| held-out | {s_test['n']} | {s_test['acc']:.3f} | {s_test['balanced']:.3f} | {s_test['mcc']:.3f} |
| held-out, majority-class baseline | {s_test['n']} | {s_test['majority']:.3f} | 0.500 | 0.000 |

Held-out confusion matrix (rows: truth real / synthetic; columns: prediction):

```
{s_test['cm']}
```

Held-out mistakes: {"; ".join(mistakes) if mistakes else "none"}.

What it learned, honestly: a toy problem. The real class is two professional speakers recorded for a
telephone system (G.722: nothing above 7 kHz) plus some birdsong; the synthetic class is one formant
synthesiser (eSpeak NG) whose output is robotic to any listener. The classes share formats, rates and
(randomised) peak levels by construction of the sample, and every held-out prompt is a new sentence, but
the same two real voices and the same engine: {s_test['acc']:.0%} on {s_test['n']} held-out clips says
nothing about unseen speakers, other synthesisers or neural TTS. What carries it, from the single-feature
column above: {carriers}. The features one might expect to matter (the 7 kHz edge of the real recordings
in `log_top`, the 4-8 kHz share `log_hf`) do not separate the classes alone ({singles[FEATURES.index("log_top")]:.3f}
and {singles[FEATURES.index("log_hf")]:.3f}); note that the clips stored at 8 and 11.025 kHz (two encoding
plans in twelve, in both classes) have no power above 4 or 5.5 kHz at all. `log_rms` is not loudness here (peaks are normalised per clip): it is the
crest factor plus how much of the 6 s window is zero padding. Largest weights: {", ".join(f"`{t}`" for t in top)}.
The feature set was written once and not tuned on the held-out figures. Use it to exercise the harness's
audio path, never to judge a dataset.
"""
    common.write_readme_section(section)


if __name__ == "__main__":
    main()
