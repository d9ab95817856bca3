"""The model contract (SPEC section 1) as pure rules over a model's inputs and outputs.

Each rule returns findings (rule, verdict, value seen, fix). ``bench run`` refuses a model with
the first failing finding, ``bench check`` reports all of them, export verification reuses them:
one rule, one answer everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output as a runtime declares it."""

    name: str
    shape: tuple  # ints for fixed axes; strings or None for dynamic ones
    dtype: str  # numpy dtype name ("uint8", "float32", ...), or the runtime's own name when numpy has none


@dataclass(frozen=True)
class Finding:
    rule: str
    verdict: str  # pass | warn | fail | skip
    message: str
    fix: str = ""
    value: object = None


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

    @property
    def height(self) -> int | None:
        return self.sizes.get("height")

    @property
    def width(self) -> int | None:
        return self.sizes.get("width")

    @property
    def frames(self) -> int | None:
        return self.sizes.get("frames")

    def to_json(self) -> dict:
        out = asdict(self)
        out["input_shape"] = list(self.input_shape)
        out["output_shape"] = list(self.output_shape)
        return out
