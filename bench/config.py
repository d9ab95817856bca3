"""The typed run config, in sections, with one precedence: command line > config file > defaults.

Every field carries its metadata (help text, flag, the check its value must pass), so the
command-line flags, the config keys, the defaults, the help text and the README's flag list all
come from here and cannot drift. Each field has one flat key (``batch_size``, ``cache_dir``),
unique across sections: a YAML file may give keys flat (as round-1 files do) or by section
(``runtime: {batch_size: 32}``). Allowed values are ``Literal`` types; validation reads them.

Relative paths inside a YAML file are resolved against that file's folder, so a config works
from any working directory; paths given on the command line or as overrides are relative to the
working directory. Loading a config imports no media library.
"""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import math
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bench.errors import BenchError

Provider = Literal["auto", "cpu", "cuda"]
Geometry = Literal["crop-resize", "resize-crop"]
Interpolation = Literal["nearest", "linear", "area", "cubic", "lanczos"]
FrameRuleName = Literal["first", "fps", "uniform"]
AugmentLevel = Literal[0, 1, 2, 3]
BatchOrder = Literal["source", "shuffle"]
AudioCrop = Literal["center", "random"]
Engine = Literal["local", "ray"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_REGISTRY = PROJECT_ROOT / "configs" / "datasets"


def opt(default: Any = None, help: str = "", *, key: str | None = None, flag: str | None = None, cli: bool = True,
        check: str | None = None, low: float | None = None, high: float | None = None, path: bool = False,
        metavar: str | None = None, factory=None) -> Any:
    """A config field with its metadata. ``key``: its flat name (default: the field name);
    ``flag``: its command-line flag (default ``--key``; ``--no-key`` for a switch that is on by
    default); ``check``: a range from ``CHECKS`` (``positive``, ``non_negative``, ``fraction``,
    ``seed``), narrowed by ``low`` / ``high`` (inclusive); ``path``: resolved against the file
    (or working directory) it came from. Numbers are always finite; a boolean is never a number."""
    meta = {"help": help, "key": key, "flag": flag, "cli": cli, "check": check, "low": low, "high": high, "path": path, "metavar": metavar}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


INT64_MAX = 2**63 - 1  # seeds, limits: what numpy and parquet's int64 columns hold
MAX_THREADS = 256  # threads and workers: more only thrashes (and 10,000 threads take minutes to start)
MAX_BATCH = 4096
MAX_BOOTSTRAP = 100_000

@dataclass(frozen=True)
class DataConfig:
    datasets: list[str] = opt(factory=list, help="dataset names from the registry (see `bench datasets`)", metavar="NAME")
    dataset_dirs: list[str] = opt(factory=list, help="a folder of dataset registry YAML files (repeatable; default: the bundled registry)", flag="--dataset-dir", path=True, metavar="DIR")
    by: list[str] = opt(factory=list, help="also break the metrics down by this dataset tag (repeatable), e.g. --by generator_family", metavar="TAG")
    folder: str | None = opt(None, "score a folder whose real/, synthetic/ and semisynthetic/ subfolders (any of them) are its datasets: no registry file needed", path=True, metavar="DIR")
    limit: int | None = opt(None, "at most N samples per dataset", check="positive", high=INT64_MAX, metavar="N")
    batch_order: BatchOrder = opt("source", "order of a dataset's samples in its batches: the source's order, or a shuffle seeded by --seed")


@dataclass(frozen=True)
class PreprocessingConfig:
    geometry: Geometry = opt("crop-resize", "shortest-edge route: crop-resize (the leaderboard's) or resize-crop (the guide's two steps)")
    interpolation: Interpolation = opt("linear", "resize interpolation")
    fast_decode: bool = opt(False, "decode JPEGs at reduced DCT scale (never below the model size): for quick iteration, not for predicting the pushed score (other pixels: see the README); recorded in the results")
    max_pixels: int = opt(178_956_970, "refuse an image or video frame larger than this many pixels (read from its header, before decoding) as a data error", check="positive", high=INT64_MAX, cli=False)
    augment_level: AugmentLevel = opt(0, "0 none (scoring), 1 flips, 2 + mild colour, 3 + noise and blur")
    augment_pipeline: str | None = opt(None, "a saved albumentations pipeline (.json or .yaml) instead of a level", path=True, metavar="FILE")
    seed: int = opt(0, "run seed: per-sample augmentation seeds derive from it and the sample id", check="seed", metavar="S")
    frames: int = opt(16, "video: frames per clip when the model's frames axis is dynamic (cap 64)", check="positive", metavar="T")
    frame_rule: FrameRuleName = opt("first", "video: which frames to take: the first T, every round(fps / target_fps)-th, or spread over the clip")
    target_fps: float | None = opt(None, "video: frame rate for --frame-rule fps", check="positive", low=0.001, high=1000, metavar="F")
    sample_rate: int = opt(16000, "audio: decode to this rate in Hz (a submission's sample_rate wins unless this is given; the leaderboard uses 16000)", check="positive", low=1000, high=384000, metavar="HZ")
    audio_crop: AudioCrop = opt("center", "audio: window of a longer clip: the centre (the leaderboard's) or a random one seeded per sample")
    robustness: bool = opt(False, "also score every sample after the redistribution chain; report robust and blended scores")
    robust_weight: float = opt(0.2, "blended = (1 - w) * base + w * robust", check="fraction", cli=False)


@dataclass(frozen=True)
class RuntimeConfig:
    provider: Provider = opt("auto", "auto: CUDA when it really initialises, else CPU; cpu; cuda (an error when CUDA does not run)")
    batch_size: int = opt(16, "samples per batch", check="positive", high=MAX_BATCH, metavar="N")
    workers: int = opt(0, "preprocessing threads (0: the machine's cores, at most 8)", check="non_negative", high=MAX_THREADS, metavar="N")
    threads: int = opt(0, "ONNX Runtime intra-op threads (0: ONNX Runtime's choice)", check="non_negative", high=MAX_THREADS, metavar="N")
    warmup: int = opt(3, "at most this many first batches are left out of the latency statistics while latency settles (all are scored and kept)", check="non_negative", high=1000, cli=False)
    pad_batches: bool = opt(False, "pad each dataset's short last batch to the full batch size (for runtimes that need one shape); recorded; the leaderboard runs it at its true size")
    batch_trials: int = opt(0, "re-score under K seeded groupings of the leaderboard's kind and report the range of each metric (inference only is repeated)", check="non_negative", high=1000, metavar="K")
    prefetch: int = opt(2, "batches prepared ahead of the model", check="non_negative", high=64, cli=False)
    engine: Engine = opt("local", "where batches are prepared and scored: local threads, or Ray Data on this machine's GPUs or a cluster (`pip install -e .[ray]`)")
    ray_address: str | None = opt(None, "Ray: the cluster to join (auto: the one `ray start --head` started here; HOST:PORT); default: start Ray on this machine", metavar="ADDR")
    gpus_per_worker: float | None = opt(None, "Ray: GPUs per inference actor (default: 1 when the cluster has GPUs, else 0)", check="non_negative", high=64, metavar="N")
    inference_workers: int = opt(0, "Ray: inference actors, one runtime each (0: one per GPU, or 1 without GPUs)", check="non_negative", high=MAX_THREADS, metavar="N")
    cpus_per_decoder: float = opt(1.0, "Ray: CPUs per decode task (its preprocessing threads)", check="positive", high=MAX_THREADS, metavar="N")


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool = opt(True, "decode everything; neither read nor write the sample cache", key="cache", flag="--no-cache")
    dir: str | None = opt(None, "sample cache folder (default: ~/.cache/bench/samples)", key="cache_dir", path=True, metavar="DIR")
    max_gb: float = opt(20.0, "sample cache size cap in GB (least recently used evicted)", key="cache_max_gb", check="positive", cli=False)


@dataclass(frozen=True)
class OutputConfig:
    folder: str | None = opt(None, "result folder (default: results/<model>-<modality>-<timestamp>)", key="output", path=True, metavar="DIR")
    results_dir: str = opt("results", "where run folders go when --output is not given", path=True, cli=False)
    progress: bool = opt(True, "no progress bar", flag="--no-progress")
    overwrite: bool = opt(False, "write into an --output folder that already holds a run")
    max_model_error_rate: float = opt(0.5, "exit 4 when more than this share of the samples the model ran on are model errors", check="fraction", metavar="R")
    bootstrap: int = opt(1000, "bootstrap resamples for the 95% intervals", check="non_negative", high=MAX_BOOTSTRAP, cli=False)
    bootstrap_seed: int = opt(0, "seed of the bootstrap resamples", check="seed", cli=False)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "preprocessing": PreprocessingConfig,
    "runtime": RuntimeConfig,
    "cache": CacheConfig,
    "output": OutputConfig,
}


@dataclass(frozen=True)
class RunConfig:
    model: list[str] = opt(factory=list, help="an .onnx file or an upload .zip; repeat to score several on the same samples", path=True, metavar="PATH")
    data: DataConfig = field(default_factory=DataConfig)
    preprocessing: PreprocessingConfig = field(default_factory=PreprocessingConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    overridden: tuple[str, ...] = ()  # flat keys set on the command line or as API overrides (they win over a model's own preprocessing, with a warning)

    def resolved_workers(self) -> int:
        return self.runtime.workers or max(1, min(8, os.cpu_count() or 1))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **flat: Any) -> RunConfig:
        """A copy with flat keys changed (validated; they count as overridden)."""
        return build(flat_values(self) | flat, tuple(dict.fromkeys((*self.overridden, *flat))))


@dataclass(frozen=True)
class Key:
    """One flat config key: its section (None for ``model``), field and metadata."""

    name: str
    section: str | None
    field: str
    type: Any
    default: Any
    meta: dict

    @property
    def flag(self) -> str:
        if self.meta["flag"]:
            return self.meta["flag"]
        return "--" + self.name.replace("_", "-")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(sys.modules[__name__]))


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def keys() -> dict[str, Key]:
    """Every flat key, in declaration order."""
    out: dict[str, Key] = {}
    top = {f.name: f for f in dataclasses.fields(RunConfig)}
    hints = _hints(RunConfig)
    out["model"] = Key("model", None, "model", hints["model"], [], dict(top["model"].metadata))
    for section, cls in SECTIONS.items():
        section_hints = _hints(cls)
        for f in dataclasses.fields(cls):
            name = f.metadata["key"] or f.name
            out[name] = Key(name, section, f.name, section_hints[f.name], _default(f), dict(f.metadata))
    return out


def flat_values(cfg: RunConfig) -> dict[str, Any]:
    return {k.name: getattr(cfg, k.field) if k.section is None else getattr(getattr(cfg, k.section), k.field) for k in keys().values()}


# --------------------------------------------------------------------------- validation


def _allowed(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp)


def _is_optional(tp: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return True, args[0]
    return False, tp


# check name -> (lowest allowed, whether the lowest itself is refused, highest allowed)
CHECKS: dict[str, tuple[float | None, bool, float | None]] = {
    "positive": (0, True, None),
    "non_negative": (0, False, None),
    "fraction": (0, False, 1),
    "seed": (0, False, INT64_MAX),
}


def _bounds(check: str | None, low: float | None, high: float | None) -> tuple[float | None, bool, float | None]:
    lo, exclusive, hi = CHECKS[check] if check else (None, False, None)
    if low is not None:
        lo, exclusive = low, False
    if high is not None:
        hi = high
    return lo, exclusive, hi


def _number_text(x: float) -> str:
    return "2**63-1" if x == INT64_MAX else f"{x:g}" if isinstance(x, float) else f"{x:,}" if x >= 10_000 else str(x)


def range_words(kind: type, check: str | None = None, low: float | None = None, high: float | None = None) -> str:
    """'a positive integer up to 4,096', 'a number from 0.001 to 1000', ...: what a value must be."""
    noun = "integer" if kind is int else "number"
    lo, exclusive, hi = _bounds(check, low, high)
    if lo is not None and hi is not None and not exclusive:
        return f"{'an integer' if kind is int else 'a number'} from {_number_text(lo)} to {_number_text(hi)}"
    if lo == 0 and exclusive:
        words = f"a positive {noun}"
    elif lo == 0:
        words = f"a non-negative {noun}"
    elif lo is not None:
        words = f"{'an integer' if kind is int else 'a number'} of at least {_number_text(lo)}"
    else:
        words = "an integer" if kind is int else "a finite number"
    return words + (f" up to {_number_text(hi)}" if hi is not None else "")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"the string {value!r}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unquote_hint(value: Any, kind: str) -> str:
    """'; write 8 without quotes' when a quoted string holds what was meant."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if kind == "bool" and text.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
        meant = "true" if text.lower() in ("true", "yes", "on", "1") else "false"
        return f"; write {meant} without quotes"
    if kind == "number":
        try:
            float(text)
        except ValueError:
            return ""
        return f"; write {text} without quotes"
    return ""


def check_number(name: str, value: Any, kind: type = int, check: str | None = None, low: float | None = None, high: float | None = None) -> int | float:
    """``value`` as an ``int`` (``kind=int``) or a finite ``float`` within the range of ``check``
    narrowed by ``low`` / ``high``; ``BenchError`` naming ``name``, the value and the range
    otherwise. Booleans are refused (``True`` is an ``int`` in Python, not a count)."""
    words = range_words(kind, check, low, high)
    allowed = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise BenchError(f"{name} must be {words}, got {_shown(value)}{_unquote_hint(value, 'number')}")
    if kind is float:
        try:
            value = float(value)
        except OverflowError:
            raise BenchError(f"{name} must be {words}, got {_shown(value)}") from None
        if not math.isfinite(value):
            raise BenchError(f"{name} must be {words}, got {value!r}; write a finite number")
    lo, exclusive, hi = _bounds(check, low, high)
    if (lo is not None and (value < lo or (exclusive and value == lo))) or (hi is not None and value > hi):
        raise BenchError(f"{name} must be {words}, got {_shown(value)}")
    return value


def _check_value(key: Key, value: Any) -> Any:
    """The value, checked against the key's type and range (and normalised: a float field's
    integer becomes a float); ``BenchError`` naming the key, the value and the fix."""
    optional, tp = _is_optional(key.type)
    if value is None:
        if optional:
            return None
        raise BenchError(f"{key.name} must be set, got null")
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = _allowed(tp)
        if not any(type(value) is type(c) and value == c for c in choices):
            hint = _unquote_hint(value, "number") if all(isinstance(c, int) for c in choices) else ""
            raise BenchError(f"{key.name} must be one of {', '.join(map(str, choices))}, got {_shown(value)}{hint}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise BenchError(f"{key.name} must be true or false, got {_shown(value)}{_unquote_hint(value, 'bool') or '; write true or false'}")
        return value
    if tp in (int, float):
        return check_number(key.name, value, tp, key.meta["check"], key.meta["low"], key.meta["high"])
    if tp is str:
        if not isinstance(value, str):
            raise BenchError(f"{key.name} must be a string, got {_shown(value)}")
        _check_text(key, value)
        return value
    if origin is list:
        what = "paths" if key.meta["path"] else "names"
        if isinstance(value, str):
            raise BenchError(f"{key.name} must be a list of {what}, got {_shown(value)}; write [{value}]")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BenchError(f"{key.name} must be a list of {what}, got {_shown(value)}")
        for v in value:
            _check_text(key, v)
        twice = [v for i, v in enumerate(value) if v in value[:i]]
        if twice and key.name != "model":
            raise BenchError(f"{key.name} lists {twice[0]!r} twice; name each once")
        return list(value)
    raise BenchError(f"{key.name}: no check for its type {tp!r}")  # a field declared with a new type


def _is_path_text(value: str) -> bool:
    """A string the operating system takes as a path: no NUL, encodable (PEP 383 escapes allowed)."""
    try:
        os.fsencode(value)
    except UnicodeError:
        return False
    return "\x00" not in value


def _check_text(key: Key, value: str) -> None:
    if key.meta["path"] and not _is_path_text(value):
        raise BenchError(f"{key.name} must be a path, got {value!r} (a NUL character or a lone surrogate); fix the path")
    if not key.meta["path"]:
        try:
            value.encode("utf-8")
        except UnicodeError:
            raise BenchError(f"{key.name} must be text, got {value!r} (a lone surrogate); fix the value") from None
    if not key.meta["path"] and key.name != "model" and typing.get_origin(_is_optional(key.type)[1]) is list and not value.strip():
        raise BenchError(f"{key.name} holds an empty name; remove it")


def build(flat: dict[str, Any], overridden: tuple[str, ...] = (), origins: dict[str, str] | None = None) -> RunConfig:
    """A validated ``RunConfig`` from flat keys (missing keys take their defaults); ``overridden``
    names the keys the user set on the command line or as API overrides; ``origins`` maps a key
    to the file it came from, named in its error."""
    known = keys()
    for name in flat:
        if name not in known:
            raise BenchError(f"unknown config key {name!r}.{suggest(name, list(known))}")
    values = {name: flat.get(name, key.default) for name, key in known.items()}
    if isinstance(values["model"], str):
        values["model"] = [values["model"]]
    for name, key in known.items():
        try:
            values[name] = _check_value(key, values[name])
        except BenchError as exc:
            where = (origins or {}).get(name)
            raise BenchError(f"{where}: {exc}" if where else str(exc)) from None
    if values["frame_rule"] == "fps" and values["target_fps"] is None:
        raise BenchError(f"frame_rule fps needs target_fps, a positive number of frames per second, got {values['target_fps']!r}")
    sections = {s: {} for s in SECTIONS}
    for name, key in known.items():
        if key.section is not None:
            sections[key.section][key.field] = values[name]
    return RunConfig(model=list(values["model"]), **{s: SECTIONS[s](**v) for s, v in sections.items()}, overridden=tuple(overridden))


# --------------------------------------------------------------------------- files


def suggest(name: Any, known: list[str]) -> str:
    """'Did you mean ...? Available: ...' for an unknown name."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{hint} Available: {', '.join(sorted(map(str, known))) or '(none)'}"


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A YAML mapping that gives the same key twice (PyYAML would keep the last one silently)."""

    def __init__(self, key: Any, first: yaml.Mark, second: yaml.Mark):
        super().__init__(None, None, f"duplicate key {key!r}", second)
        self.key, self.first, self.second = key, first, second


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys in any mapping (merge keys ``<<`` may still
    be overridden, as YAML intends). Run configs and registry files are both read with it."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class names it
                    continue
                if first is not None:
                    raise DuplicateKeyError(key, first, key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def _utf8_text(path: Path, data: bytes, what: str) -> str:
    """The file's text; ``BenchError`` naming the encoding problem when it is not UTF-8."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise BenchError(f"{what} {path} is {name} text; save it as UTF-8")
    if b"\x00" in data:
        raise BenchError(f"{what} {path} holds NUL bytes (UTF-16 or UTF-32 text without a byte-order mark, or not text at all); save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BenchError(f"{what} {path} is not UTF-8: byte 0x{data[exc.start]:02x} on line {line} (Latin-1 or another legacy encoding?); save it as UTF-8") from None


def load_yaml_text(text: str, path: Path, what: str = "config file") -> Any:
    """YAML text -> Python values with ``StrictLoader``; ``BenchError`` for bad syntax and
    duplicate keys."""
    try:
        return yaml.load(text, Loader=StrictLoader)
    except DuplicateKeyError as exc:
        raise BenchError(f"{what} {path} gives the key {exc.key!r} twice (lines {exc.first.line + 1} and {exc.second.line + 1}); keep one") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise BenchError(f"{what} {path} is not valid YAML{where}{f' ({problem})' if problem else ''}; fix the syntax") from None
    except RecursionError:
        raise BenchError(f"{what} {path} is nested too deeply to read; flatten it") from None


def read_yaml(path: Path, what: str = "config file") -> dict[str, Any]:
    """A YAML file holding a mapping: UTF-8 only, no duplicate keys, keys that are strings."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{what} not found: {path}; give the path to a YAML file (see configs/)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BenchError(f"cannot read {what} {path}: {exc.strerror or exc}; check its permissions") from None
    data = load_yaml_text(_utf8_text(path, data, what), path, what)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BenchError(f"{what} {path} must hold a mapping of keys to values, got {type(data).__name__}")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise BenchError(f"{what} {path} has the key {bad[0]!r}, which is not a name; keys are names like batch_size")
    return data


def _resolve(value: Any, base: Path) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    if not isinstance(value, str) or not _is_path_text(value):
        return value  # the type check names it
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else (base / p).resolve())


def _resolve_key(key: Key, value: Any, base: Path) -> Any:
    """A path key's value resolved against ``base``; a value of the wrong shape (a string where
    a list is expected) is left as given, for its type check to name."""
    if typing.get_origin(_is_optional(key.type)[1]) is list and not isinstance(value, list) and key.name != "model":
        return value
    return _resolve(value, base)


def _flatten(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """A file's keys as flat keys: sections (``runtime: {batch_size: 8}``) or flat keys."""
    known = keys()
    flat: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if name in flat:
            raise BenchError(f"{path} sets {name} twice (flat and in its section {known[name].section!r}); keep one")
        flat[name] = value

    for name, value in data.items():
        if name in SECTIONS and (isinstance(value, dict) or name not in known):  # `cache` and `output` are keys too
            if not isinstance(value, dict):
                raise BenchError(f"section {name!r} of {path} must be a mapping of its keys (like `{name}: {{...}}`), got {_shown(value)}")
            fields = {k.field: k for k in known.values() if k.section == name}
            for sub, v in value.items():
                if sub not in fields:
                    raise BenchError(f"unknown key {sub!r} in section {name!r} of {path}.{suggest(sub, list(fields))}")
                put(fields[sub].name, v)
        elif name in known:
            put(name, value)
        elif name == "name" and "datasets" in data and isinstance(data.get("datasets"), list) and data["datasets"] and isinstance(data["datasets"][0], dict):
            raise _registry_file(path)
        else:
            raise BenchError(f"unknown key {name!r} in {path}.{suggest(name, list(known))}")
    if isinstance(flat.get("datasets"), list) and any(isinstance(d, dict) for d in flat["datasets"]):
        raise _registry_file(path)
    return flat


def _registry_file(path: Path) -> BenchError:
    return BenchError(f"{path} is a dataset registry file (datasets: [{{name, media_type, source}}, ...]), not a run config; "
                      f"put its folder in a run config's `dataset_dirs` and name its datasets under `datasets:`")


def default_config_path() -> Path | None:
    """``configs/default.yaml`` in the working directory, else the one shipped with the project."""
    for candidate in (Path.cwd() / "configs" / "default.yaml", PROJECT_ROOT / "configs" / "default.yaml"):
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Defaults, then the file (if any), then ``overrides`` (flat keys; ``None`` values are unset)."""
    known = keys()
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if path is not None:
        path = Path(path)
        base = path.resolve().parent
        for name, value in _flatten(read_yaml(path), path).items():
            values[name] = _resolve_key(known[name], value, base) if known[name].meta["path"] else value
            origins[name] = str(path)
        if (base / "datasets").is_dir():
            values.setdefault("dataset_dirs", [str(base / "datasets")])
    for name, value in (overrides or {}).items():
        if name not in known:
            raise BenchError(f"unknown config key {name!r}.{suggest(name, list(known))}")
        if value is not None:
            values[name] = _resolve_key(known[name], value, Path.cwd()) if known[name].meta["path"] else value
            origins.pop(name, None)
    if values.get("dataset_dirs") in (None, []):
        values["dataset_dirs"] = [str(BUNDLED_REGISTRY)]
    return build(values, tuple(k for k, v in (overrides or {}).items() if v is not None), origins)
