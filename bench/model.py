"""Read an ``.onnx`` file or an upload ``.zip`` holding one (its spec comes from bench/contract.py)."""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from pathlib import Path

from bench.errors import BenchError

MAX_UNCOMPRESSED = 2 << 30  # a single-file ONNX model cannot exceed protobuf's 2 GiB anyway


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
