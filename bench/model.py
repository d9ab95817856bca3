"""Read an ``.onnx`` file or an upload ``.zip`` holding one, and derive its ``ModelSpec``."""

from __future__ import annotations

import hashlib
import sys
import zipfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError

DEFAULT_SIZE = 224
MAX_FRAMES = 64
MAX_UNCOMPRESSED = 2 << 30  # a single-file ONNX model cannot exceed protobuf's 2 GiB anyway
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


def model_source(path: str | Path) -> str | bytes:
    """What ONNX Runtime should load: the path of an ``.onnx`` file (so external-data files
    beside it resolve), or the bytes of the single ``.onnx`` member of an upload ``.zip``."""
    path = Path(path)
    if not path.exists():
        raise BenchError(f"model not found: {path}; give the path to an .onnx file or an image_detector.zip / video_detector.zip")
    if path.is_dir():
        raise BenchError(f"model path {path} is a folder; give the .onnx file or the .zip inside it")
    if zipfile.is_zipfile(path):
        return read_zip_model(path)
    if path.suffix.lower() == ".zip":
        raise BenchError(f"model {path} has a .zip extension but is not a valid zip archive; re-create it with `bench package`")
    return str(path)


def zip_problems(zf: zipfile.ZipFile) -> list[str]:
    """Every way an upload archive breaks the packaging rule (exactly one ``.onnx`` file, a plain
    name, a bounded size); empty when it is fine. Judged from the directory, before extraction."""
    members = zf.infolist()
    problems = []
    if len(members) != 1:
        names = ", ".join(m.filename for m in members) or "nothing"
        problems.append(f"it holds {len(members)} entries ({names}), but must hold exactly one .onnx file")
    for m in members:
        name = m.filename
        if m.is_dir():
            problems.append(f"it holds a directory entry {name!r}")
        elif not name.lower().endswith(".onnx"):
            problems.append(f"member {name!r} is not an .onnx file")
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in Path(name.replace("\\", "/")).parts:
            problems.append(f"member path {name!r} is absolute or climbs out with '..'")
        elif "/" in name.rstrip("/") or "\\" in name:
            problems.append(f"member {name!r} sits in a folder; it must be at the top of the archive")
        if m.file_size > MAX_UNCOMPRESSED:
            problems.append(f"member {name!r} declares {m.file_size:,} bytes uncompressed (limit {MAX_UNCOMPRESSED:,}): refused before extraction")
        elif m.compress_size and m.file_size > (64 << 20) and m.file_size / m.compress_size > 200:
            problems.append(f"member {name!r} expands {m.file_size / m.compress_size:.0f}x ({m.compress_size:,} -> {m.file_size:,} bytes), like a zip bomb: refused before extraction")
    return problems


def read_zip_model(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as zf:
            problems = zip_problems(zf)
            if problems:
                raise BenchError(f"model zip {path}: {problems[0]}; re-create it with `bench package`")
            member = zf.infolist()[0]
            data = bytearray()
            with zf.open(member) as f:  # stop at the cap even if the header lies about the size
                while chunk := f.read(1 << 20):
                    data += chunk
                    if len(data) > MAX_UNCOMPRESSED:
                        raise BenchError(f"model zip {path}: member {member.filename!r} expands past {MAX_UNCOMPRESSED:,} bytes; refused")
            return bytes(data)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise BenchError(f"model zip {path} is corrupt ({exc}); re-create it with `bench package`") from None


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
