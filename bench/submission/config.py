"""``model_config.yaml`` of a PyTorch submission: the schema the leaderboard's loader reads, as
findings (one per problem) and a typed ``SubmissionConfig``.

What the leaderboard does with the file, and so what is judged here: ``yaml.safe_load``; the
``model`` section is copied, ``weights_file`` popped (default ``model.safetensors``) and the rest
passed to ``load_model(weights_path, **rest)``; ``dtype`` (default float32) is one of float32/fp32,
float16/fp16, bfloat16/bf16, case-insensitive; preprocessing is audio when ``sample_rate`` and
``duration_seconds`` are both given, otherwise ``resize: [H, W]`` (default 224x224) and for video
``num_frames`` (fallback ``max_frames``, default 16) and an optional ``frame_rate``.

A problem the leaderboard would refuse (or crash on) is a FAIL; what it accepts but is unusual
(no name, a one-logit head, an unknown key it ignores) is a WARN. The typed config holds the
*effective* values, the leaderboard's defaults filled in; ``raw`` holds what was written.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from bench.config import suggest
from bench.contract import FAIL, PASS, WARN, Finding
from bench.modalities import MAX_FRAMES
from bench.modalities import names as modality_names

RULE = "config"
MODALITIES = tuple(modality_names())  # the modality seam's registry: one list
DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16"}
DEFAULT_WEIGHTS = "model.safetensors"
DEFAULT_SIZE = 224  # the leaderboard's resize when none is given
DEFAULT_FRAMES = 16  # the leaderboard's num_frames when neither num_frames nor max_frames is given
TOP_KEYS = ("name", "version", "modality", "dtype", "preprocessing", "model")
# preprocessing keys each modality reads; ``normalize`` is documented for every modality (the
# leaderboard hands it to the model, the harness does not normalise)
PRE_KEYS = {
    "image": ("resize", "normalize"),
    "video": ("resize", "num_frames", "max_frames", "frame_rate", "normalize"),
    "audio": ("sample_rate", "duration_seconds", "normalize"),
}
ALL_PRE_KEYS = tuple(dict.fromkeys(k for keys in PRE_KEYS.values() for k in keys))


@dataclass(frozen=True)
class SubmissionConfig:
    name: str
    version: str
    modality: str  # image | video | audio
    dtype: str  # float32 | float16 | bfloat16
    height: int | None  # image/video: resize[0], or 224 when not given; audio: None
    width: int | None
    num_frames: int | None  # video: num_frames (or max_frames, or 16); else None
    frame_rate: float | None  # video: sample at this fps; None: consecutive frames
    sample_rate: int | None  # audio only
    duration_seconds: float | None  # audio only
    num_classes: int  # as given, or 2 (what the leaderboard assumes) when not given
    weights_file: str
    model_keys: dict = field(default_factory=dict)  # exactly the kwargs load_model gets (num_classes included when given)
    raw: dict = field(default_factory=dict)

    @property
    def num_samples(self) -> int | None:
        """Audio: the samples per clip the leaderboard feeds, ``int(sample_rate * duration)``."""
        if self.sample_rate is None or self.duration_seconds is None:
            return None
        return int(self.sample_rate * self.duration_seconds)


def config_findings(data: object, where: str = "model_config.yaml") -> tuple[list[Finding], SubmissionConfig | None]:
    """Every finding on a parsed ``model_config.yaml`` (one per problem, rule ``config``), then a
    PASS summary when nothing failed; the typed config when nothing failed, else None."""
    if data is None:
        return [Finding(RULE, FAIL, f"{where} is empty", "write name, version, modality, preprocessing and model (see `bench.submission`)")], None
    if not isinstance(data, dict):
        return [Finding(RULE, FAIL, f"{where} must hold a mapping of keys to values, got {type(data).__name__}", "write `key: value` lines: name, version, modality, preprocessing, model")], None
    j = _Judge(where)
    for key in data:
        if key not in TOP_KEYS:
            j.unknown(key, TOP_KEYS, "top-level ", _misplaced(key))
    name = j.label(data, "name")
    version = j.label(data, "version")
    modality = j.modality(data.get("modality"))
    dtype = j.dtype(data.get("dtype", "float32"))
    pre = j.section(data, "preprocessing")
    model = j.section(data, "model")
    sizes = j.preprocessing(pre, modality) if pre is not None and modality else {}
    weights, num_classes, model_keys = j.model(model) if model is not None else (DEFAULT_WEIGHTS, 2, {})
    if any(f.verdict == FAIL for f in j.findings):
        return j.findings, None
    assert modality is not None and dtype is not None
    cfg = SubmissionConfig(name=name, version=version, modality=modality, dtype=dtype, num_classes=num_classes,
                           weights_file=weights, model_keys=model_keys, raw=data, **sizes)
    j.findings.append(Finding(RULE, PASS, f"{where}: {_describe(cfg)}", value=cfg.modality))
    return j.findings, cfg


# --------------------------------------------------------------------------- the judge


class _Judge:
    def __init__(self, where: str):
        self.where = where
        self.findings: list[Finding] = []

    def fail(self, message: str, fix: str, value: object = None) -> None:
        self.findings.append(Finding(RULE, FAIL, message, fix, value))

    def warn(self, message: str, fix: str, value: object = None) -> None:
        self.findings.append(Finding(RULE, WARN, message, fix, value))

    def unknown(self, key: object, known: tuple[str, ...], what: str, hint: str = "") -> None:
        close = difflib.get_close_matches(str(key), known, n=1)
        fix = hint or (f"rename it to {close[0]!r}" if close else "remove it")
        self.warn(f"unknown {what}key {key!r} is ignored by the leaderboard.{suggest(str(key), list(known))}", fix, key)

    def label(self, data: dict, key: str) -> str:
        value = data.get(key)
        if value is None or value == "":
            self.warn(f"no {key}", f"add `{key}: ...` (the leaderboard shows it)")
            return ""
        if not isinstance(value, str):
            self.warn(f"{key} {value!r} is read as a {type(value).__name__}, not text", f'quote it: {key}: "{value}"', value)
        return str(value)

    def modality(self, value: object) -> str | None:
        fix = "set modality: image, video or audio"
        if value is None:
            self.fail("no modality", fix)
            return None
        if isinstance(value, str) and value.lower() in MODALITIES:
            if value != value.lower():
                self.warn(f"modality {value!r} is not lowercase", f"write modality: {value.lower()}", value)
            return value.lower()
        self.fail(f"modality {value!r} is not image, video or audio.{suggest(str(value), list(MODALITIES))}", fix, value)
        return None

    def dtype(self, value: object) -> str | None:
        if isinstance(value, str) and value.lower() in DTYPES:
            return DTYPES[value.lower()]
        self.fail(f"dtype {value!r} is not one the leaderboard loads weights in", "use float32 (default), float16/fp16 or bfloat16/bf16", value)
        return None

    def section(self, data: dict, key: str) -> dict | None:
        if key not in data:
            if key == "model":
                self.warn("no model section: num_classes 2 and weights model.safetensors are assumed", "add model: {num_classes: 2, weights_file: model.safetensors}")
                return {}
            return {}
        value = data[key]
        if not isinstance(value, dict):
            got = "empty" if value is None else f"a {type(value).__name__}"
            self.fail(f"{key} must be a mapping, got {got}", f"write {key}: followed by indented `key: value` lines, or remove it", value)
            return None
        return value

    def preprocessing(self, pre: dict, modality: str) -> dict[str, Any]:
        reads = PRE_KEYS[modality]
        for key in pre:
            if key not in ALL_PRE_KEYS:
                self.unknown(key, ALL_PRE_KEYS, "preprocessing ")
            elif key not in reads:
                self.warn(f"preprocessing key {key!r} is ignored for {modality} models", "remove it", key)
        out: dict[str, Any] = {"height": None, "width": None, "num_frames": None, "frame_rate": None, "sample_rate": None, "duration_seconds": None}
        if modality == "audio":
            out["sample_rate"] = self.number(pre, "sample_rate", integer=True, required="audio needs it, e.g. 16000")
            out["duration_seconds"] = self.number(pre, "duration_seconds", required="audio needs it, e.g. 6.0")
            if out["sample_rate"] and out["duration_seconds"] and int(out["sample_rate"] * out["duration_seconds"]) < 1:
                self.fail("sample_rate x duration_seconds is under one sample", "give a duration of at least one sample")
            return out
        if "sample_rate" in pre and "duration_seconds" in pre:
            self.warn(f"sample_rate and duration_seconds make the leaderboard read the preprocessing as audio, not {modality}", "remove them", modality)
        out["height"], out["width"] = self.resize(pre)
        if modality == "video":
            key = "num_frames" if "num_frames" in pre or "max_frames" not in pre else "max_frames"
            if key not in pre:
                self.warn(f"no num_frames: {DEFAULT_FRAMES} frames will be used", "set preprocessing.num_frames to the clip length the model was trained on")
                out["num_frames"] = DEFAULT_FRAMES
            else:
                frames = self.number(pre, key, integer=True, required="the clip length, at most 64")
                if frames is not None and frames > MAX_FRAMES:
                    self.fail(f"{key} {frames} is above the cap of {MAX_FRAMES} frames (the harness and the leaderboard feed at most {MAX_FRAMES})", f"set num_frames to at most {MAX_FRAMES}", frames)
                out["num_frames"] = frames
            if pre.get("frame_rate") is not None:
                rate = self.number(pre, "frame_rate")
                out["frame_rate"] = float(rate) if rate is not None else None
        return out

    def resize(self, pre: dict) -> tuple[int | None, int | None]:
        if "resize" not in pre:
            self.warn(f"no preprocessing.resize: {DEFAULT_SIZE}x{DEFAULT_SIZE} will be used", "set resize: [H, W] to the size the model was trained at")
            return DEFAULT_SIZE, DEFAULT_SIZE
        value = pre["resize"]
        if isinstance(value, (list, tuple)) and len(value) == 2 and all(_int(v) and v > 0 for v in value):
            return int(value[0]), int(value[1])
        self.fail(f"preprocessing.resize {value!r} is not a list of two positive integers [H, W]", "write resize: [224, 224] (height, width)", value)
        return None, None

    def number(self, pre: dict, key: str, integer: bool = False, required: str = "") -> Any:
        """A positive number (an integer when ``integer``) under ``preprocessing.key``; None (and
        a FAIL) when missing and ``required``, or when invalid."""
        if key not in pre or pre[key] is None:
            if required:
                what = "is empty" if key in pre else "is missing"
                self.fail(f"preprocessing.{key} {what}", f"set preprocessing.{key} ({required})")
            return None
        value = pre[key]
        ok = _int(value) if integer else (_int(value) or isinstance(value, float))
        if not ok or not value > 0:
            kind = "positive integer" if integer else "positive number"
            self.fail(f"preprocessing.{key} {value!r} is not a {kind}", f"set {key} to a {kind}", value)
            return None
        return value

    def model(self, model: dict) -> tuple[str, int, dict]:
        keys = {k: v for k, v in model.items() if k != "weights_file"}
        for key in keys:
            if not isinstance(key, str) or not key.isidentifier():
                self.fail(f"model key {key!r} cannot be passed to load_model as a keyword", "use Python identifiers (letters, digits, _) as model keys", key)
        weights = model.get("weights_file", DEFAULT_WEIGHTS)
        if not isinstance(weights, str) or not _plain_safetensors(weights):
            self.fail(f"model.weights_file {weights!r} is not a plain .safetensors file name", "name a file beside model_config.yaml, e.g. weights_file: model.safetensors (no folders, no '..')", weights)
        num_classes = keys.get("num_classes", 2)
        if "num_classes" not in keys:
            self.warn("no model.num_classes: load_model's default is used (the leaderboard assumes 2)", "add model.num_classes: 2")
        elif not _int(num_classes) or num_classes not in (1, 2, 3):
            self.fail(f"model.num_classes {num_classes!r} is not 2 ([real, synthetic]) or 3 ([real, synthetic, semisynthetic])", "set num_classes: 2", num_classes)
        elif num_classes == 1:
            self.warn("model.num_classes 1: read as one AI logit (sigmoid)", "return 2 logits [real, synthetic], the leaderboard's standard", 1)
        return weights, num_classes if _int(num_classes) else 2, keys


# --------------------------------------------------------------------------- helpers


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain_safetensors(name: str) -> bool:
    return name.endswith(".safetensors") and len(name) > len(".safetensors") and "/" not in name and "\\" not in name \
        and not name.startswith(".") and ":" not in name and name.strip() == name


def _misplaced(key: object) -> str:
    """A fix for a known section key written at the top level."""
    if key in ALL_PRE_KEYS:
        return f"move {key} under preprocessing:"
    if key in ("weights_file", "num_classes"):
        return f"move {key} under model:"
    return ""


def _describe(cfg: SubmissionConfig) -> str:
    parts = [f"{cfg.modality} model {cfg.name or '(unnamed)'} {cfg.version}".rstrip(), cfg.dtype]
    if cfg.modality == "audio":
        parts.append(f"{cfg.sample_rate} Hz x {cfg.duration_seconds} s ({cfg.num_samples} samples)")
    else:
        parts.append(f"{cfg.height}x{cfg.width}")
    if cfg.modality == "video":
        parts.append(f"{cfg.num_frames} frames" + (f" at {cfg.frame_rate:g} fps" if cfg.frame_rate else " (consecutive)"))
    parts += [f"{cfg.num_classes} classes", f"weights {cfg.weights_file}"]
    return ", ".join(parts)
