"""Read an ``.onnx`` file or an upload ``.zip`` holding one, and derive its ``ModelSpec``."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError

DEFAULT_SIZE = 224
MAX_FRAMES = 64
MAX_UNCOMPRESSED = 4 << 30  # a zip member larger than this is refused before extraction
ONNX_DTYPES = {
    "tensor(uint8)": np.uint8,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(double)": np.float64,
}


@dataclass(frozen=True)
class ModelSpec:
    """What the harness needs to know about a model, derived from its graph."""

    path: str
    sha256: str
    input_name: str
    input_shape: tuple  # as declared: ints, or strings / None for dynamic axes
    input_dtype: str  # numpy dtype name
    output_name: str
    output_shape: tuple
    modality: str  # image | video
    height: int
    width: int
    frames: int | None  # fixed T for video, None when dynamic (or image)
    size_declared: bool  # False when H/W were dynamic and 224 is used
    output_width: int | None

    def batch_shape(self, batch: int, frames: int | None = None) -> tuple[int, ...]:
        if self.modality == "video":
            return (batch, frames or self.frames or 16, 3, self.height, self.width)
        return (batch, 3, self.height, self.width)

    def to_json(self) -> dict:
        out = asdict(self)
        out["input_shape"] = list(self.input_shape)
        out["output_shape"] = list(self.output_shape)
        return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_model_bytes(path: str | Path) -> bytes:
    """The ONNX bytes of a ``.onnx`` file or of the single ``.onnx`` member of a ``.zip``."""
    path = Path(path)
    if not path.exists():
        raise BenchError(f"model not found: {path}; give the path to an .onnx file or an image_detector.zip / video_detector.zip")
    if path.is_dir():
        raise BenchError(f"model path {path} is a folder; give the .onnx file or the .zip inside it")
    if zipfile.is_zipfile(path):
        return _read_zip_member(path)
    if path.suffix.lower() == ".zip":
        raise BenchError(f"model {path} has a .zip extension but is not a valid zip archive; re-create it with `bench package`")
    return path.read_bytes()


def _read_zip_member(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        members = zf.infolist()
        onnx_members = [m for m in members if m.filename.lower().endswith(".onnx") and not m.is_dir()]
        if len(members) != 1 or len(onnx_members) != 1:
            names = ", ".join(m.filename for m in members) or "(empty)"
            raise BenchError(f"model zip {path} must hold exactly one .onnx file and nothing else, found: {names}; re-create it with `bench package`")
        member = onnx_members[0]
        if member.filename.startswith(("/", "\\")) or ".." in Path(member.filename).parts:
            raise BenchError(f"model zip {path} holds an unsafe member path {member.filename!r}; use a plain file name")
        if member.file_size > MAX_UNCOMPRESSED:
            raise BenchError(f"model zip {path} member {member.filename} would uncompress to {member.file_size} bytes (limit {MAX_UNCOMPRESSED}); refusing it")
        return zf.read(member)


def _dim(value) -> int | str | None:
    return value if isinstance(value, int) else (value if isinstance(value, str) else None)


def inspect_model(path: str | Path, session_inputs, session_outputs, modality: str | None = None) -> ModelSpec:
    """Derive the spec from ONNX Runtime's view of the graph's inputs and outputs."""
    path = Path(path)
    if len(session_inputs) != 1:
        raise BenchError(f"model {path.name} has {len(session_inputs)} inputs; the contract needs exactly one (batch, 3, H, W) or (batch, frames, 3, H, W) tensor")
    inp = session_inputs[0]
    shape = tuple(_dim(d) for d in inp.shape)
    rank = len(shape)
    if rank not in (4, 5):
        raise BenchError(f"model input {inp.name!r} has rank {rank} {list(shape)}; the contract needs (batch, 3, H, W) for images or (batch, frames, 3, H, W) for video")
    detected = "image" if rank == 4 else "video"
    if modality and modality != detected:
        raise BenchError(f"model input has rank {rank} ({detected}), but modality {modality!r} was asked for; export a {modality} model or drop --modality")
    channel_axis = 1 if rank == 4 else 2
    if shape[channel_axis] != 3:
        hint = " (it looks channels-last: export with channels first, NCHW)" if shape[-1] == 3 else ""
        raise BenchError(f"model input {inp.name!r} has {shape[channel_axis]} channels at axis {channel_axis}, expected 3{hint}")
    if inp.type not in ONNX_DTYPES:
        raise BenchError(f"model input dtype {inp.type} is not supported; export the input as uint8 (or float32 holding 0..255)")
    h, w = shape[-2], shape[-1]
    declared = isinstance(h, int) and isinstance(w, int)
    height, width = (h, w) if declared else (DEFAULT_SIZE, DEFAULT_SIZE)
    frames = None
    if detected == "video" and isinstance(shape[1], int):
        frames = min(shape[1], MAX_FRAMES)
    out = session_outputs[0]
    out_shape = tuple(_dim(d) for d in out.shape)
    width_out = out_shape[-1] if len(out_shape) == 2 and isinstance(out_shape[-1], int) else None
    return ModelSpec(
        path=str(path.resolve()),
        sha256=sha256_file(path),
        input_name=inp.name,
        input_shape=shape,
        input_dtype=np.dtype(ONNX_DTYPES[inp.type]).name,
        output_name=out.name,
        output_shape=out_shape,
        modality=detected,
        height=height,
        width=width,
        frames=frames,
        size_declared=declared,
        output_width=width_out,
    )


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
