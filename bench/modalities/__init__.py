"""The modality seam: what one kind of media means to the harness, in one module per modality.

A modality defines the layout of the model input it takes (named axes, from which the contract
rules and the batch shape follow), the file extensions of its folder sources, and how a sample
becomes the slot of a batch buffer (a *view*: decode, geometry, augmentation, layout). ``check``
takes its probe inputs from it too. Modalities are registered by name with lazy
``"module:attribute"`` targets, so naming one imports nothing heavy; a modality module imports
its media libraries inside the functions that decode.

Adding a modality is one new module and one line in ``REGISTRY``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bench.errors import BenchError

if TYPE_CHECKING:
    import numpy as np

    from bench.config import RunConfig
    from bench.spec import ModelSpec

REGISTRY: dict[str, str] = {
    "image": "bench.modalities.image:IMAGE",
    "video": "bench.modalities.video:VIDEO",
    "audio": "bench.modalities.audio:AUDIO",
}

MAX_FRAMES = 64  # SPEC section 1: T is capped at 64


@dataclass(frozen=True)
class Axis:
    """One axis of a model input: its name, the size it must have (None: any), whether the
    contract wants it fixed in the graph, and the size used when the graph leaves it dynamic."""

    name: str
    size: int | None = None  # required size (channels: 3)
    fixed: bool = False  # the contract wants a fixed integer here (H, W)
    dynamic: bool = False  # the contract wants it dynamic (batch)
    default: int | None = None  # used when dynamic in the graph (224 for H/W)
    cap: int | None = None  # largest size the harness feeds (frames: 64)
    config_key: str | None = None  # a dynamic axis sized by this run-config key (frames)
    expected: int | None = None  # the size the leaderboard always feeds (audio samples: 96000); another fixed size warns


@dataclass(frozen=True)
class Layout:
    axes: tuple[Axis, ...]
    dtypes: tuple[str, ...] = ("uint8", "float32")  # input dtypes the harness can feed (first: the norm)

    @property
    def rank(self) -> int:
        return len(self.axes)

    def axis(self, name: str) -> int | None:
        return next((i for i, a in enumerate(self.axes) if a.name == name), None)

    def describe(self) -> str:
        return "(" + ", ".join(a.name for a in self.axes) + ")"


class View(Protocol):
    """One preprocessing of a sample into a batch slot (a model's input size, the robustness
    pass). Frozen; written into every result by ``describe``."""

    robust: bool
    cache: Any
    dtype: Any  # of the batch buffer: np.uint8 pixels, np.float32 waveforms
    min_size: tuple[int, int] | None  # the decode size every view needs (None: no picture)

    def batch_shape(self, batch: int) -> tuple[int, ...]: ...
    def seed_for(self, ref) -> int: ...
    def decode(self, ref, min_size: tuple[int, int] | None = None) -> tuple[np.ndarray, list[int] | None, float | None]: ...
    def degrade(self, media: np.ndarray, fps: float | None) -> np.ndarray: ...
    def geometry(self, media: np.ndarray) -> np.ndarray: ...
    def finish(self, fitted: np.ndarray, seed: int) -> np.ndarray: ...
    def describe(self) -> dict: ...
    def cache_params(self) -> dict: ...
    def share_key(self) -> tuple: ...


@dataclass(frozen=True)
class Modality:
    """A registered modality: its input layout, source extensions, and view and probe factories."""

    name: str
    layout: Layout
    extensions: tuple[str, ...]
    view_factory: str  # "module:function(spec, cfg, robust) -> View"
    probe_factory: str  # "module:function(spec, n, frames, seed) -> np.ndarray"
    notes: dict = field(default_factory=dict)
    extremes: tuple[tuple[str, float], ...] = (("all-black", 0), ("all-white", 255))  # constant inputs check feeds: (name, value)
    classes: tuple[str, ...] = ("real", "synthetic", "semisynthetic")  # the standard logits, in order (audio: real, synthetic)

    def view(self, spec: ModelSpec, cfg: RunConfig, robust: bool = False) -> View:
        return _target(self.view_factory)(spec, cfg, robust)

    def probes(self, spec: ModelSpec, n: int, frames: int | None = None, seed: int = 0) -> np.ndarray:
        return _target(self.probe_factory)(spec, n, frames, seed)


def preprocessing(spec: ModelSpec, cfg: RunConfig, key: str) -> Any:
    """A preprocessing value for this model: what the model's own config asks for (a submission's
    num_frames, frame_rate), unless the user set the key explicitly, which wins with a warning;
    else the run config's value."""
    value = getattr(cfg.preprocessing, key)
    hint = spec.hints.get(key)
    if hint is None:
        return value
    if key in cfg.overridden and value != hint:
        from bench.messages import warn

        warn(f"{spec.path}: {key} {value!r} from the command line overrides {hint!r} from the model's config; the leaderboard uses {hint!r}", once=True)
        return value
    return hint


def _target(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> Modality:
    """The modality registered as ``name``; a one-line error naming the known ones otherwise."""
    if name not in REGISTRY:
        from bench.config import suggest

        raise BenchError(f"unknown modality {name!r}.{suggest(name, names())}")
    return _target(REGISTRY[name])


def by_rank(rank: int) -> Modality | None:
    """The modality whose input has this rank (rank 2: audio, 4: image, 5: video), if exactly one does."""
    found = [get(n) for n in REGISTRY if get(n).layout.rank == rank]
    return found[0] if len(found) == 1 else None
