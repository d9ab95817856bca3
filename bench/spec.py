"""What a model takes and gives: its graph's tensors as a runtime declares them
(``TensorInfo``), and the ``ModelSpec`` the contract (bench/contract.py) resolves from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output as a runtime declares it."""

    name: str
    shape: tuple  # ints for fixed axes; strings or None for dynamic ones
    dtype: str  # numpy dtype name ("uint8", "float32", ...), or the runtime's own name when numpy has none


@dataclass(frozen=True)
class ModelSpec:
    """What the harness needs to know about a model, resolved by the contract from its I/O."""

    path: str
    sha256: str
    input_name: str
    input_shape: tuple  # as declared: ints, or strings / None for dynamic axes
    input_dtype: str  # numpy dtype name
    output_name: str
    output_shape: tuple
    modality: str
    sizes: dict = field(default_factory=dict)  # resolved size per non-batch axis name; None: sized by the run config
    size_declared: bool = True  # False when H/W were dynamic and the default is used
    output_width: int | None = None
    hints: dict = field(default_factory=dict)  # preprocessing the model's own config asks for, as run-config keys (frames, target_fps, frame_rule, sample_rate)

    def with_hints(self, hints: dict) -> ModelSpec:
        return replace(self, hints=dict(hints))

    @property
    def height(self) -> int | None:
        return self.sizes.get("height")

    @property
    def width(self) -> int | None:
        return self.sizes.get("width")

    @property
    def frames(self) -> int | None:
        return self.sizes.get("frames")

    @property
    def samples(self) -> int | None:
        return self.sizes.get("samples")

    def to_json(self) -> dict:
        out = asdict(self)
        out["input_shape"] = list(self.input_shape)
        out["output_shape"] = list(self.output_shape)
        return out


# --------------------------------------------------------------------------- the rules
#
# Every rule is generic over the modality's ``Layout``: it loops over the axes and reads their
# attributes (size, fixed, dynamic, default, cap, config_key). A new modality brings its Layout,
# not new branches here.
