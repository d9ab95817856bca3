"""Read an ``.onnx`` file or an upload ``.zip`` holding one (its spec comes from bench/contract.py)."""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
import zlib
from pathlib import Path

from bench.errors import BenchError

MAX_UNCOMPRESSED = 2 << 30  # a single-file ONNX model cannot exceed protobuf's 2 GiB anyway
ZIP_FIX = "re-create the zip without encryption, with deflate or store (`bench package` does)"
PACKAGE_FIX = "re-create it with `bench package`"
_ENCODING_PROBLEMS = ("is encrypted", "is compressed with")


def zip_fix(problem: str) -> str:
    """The fix of one of ``zip_problems``."""
    return ZIP_FIX if any(w in problem for w in _ENCODING_PROBLEMS) else PACKAGE_FIX


def _methods() -> dict[int, str]:
    """Compression methods this Python's ``zipfile`` can read, by number."""
    methods = {zipfile.ZIP_STORED: "store", zipfile.ZIP_DEFLATED: "deflate"}
    for number, name, module in ((zipfile.ZIP_BZIP2, "bzip2", "bz2"), (zipfile.ZIP_LZMA, "lzma", "lzma"), (getattr(zipfile, "ZIP_ZSTANDARD", None), "zstd", "compression.zstd")):
        if number is None:
            continue
        try:
            __import__(module)
        except ImportError:
            continue
        methods[number] = name
    return methods


READABLE_METHODS = _methods()
METHOD_NAMES = {0: "store", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz", 96: "jpeg", 97: "wavpack", 98: "ppmd", 99: "AES encryption"}


def not_regular(path: Path) -> str | None:
    """Why ``path`` cannot be a model file (a FIFO, device or socket: reading it could block
    forever), or None for a regular file, a folder or a missing path."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file"
    return f"{path} is not a regular file ({kind})"


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
    problem = not_regular(path)
    if problem:
        raise BenchError(f"model {problem}; give the path to an .onnx file or an upload .zip")
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
        if m.flag_bits & 0x1:
            problems.append(f"member {name!r} is encrypted (the harness and the network read no passwords)")
        elif m.compress_type not in READABLE_METHODS:
            method = METHOD_NAMES.get(m.compress_type, f"method {m.compress_type}")
            problems.append(f"member {name!r} is compressed with {method}, which Python's zipfile cannot read (use deflate or store)")
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
                raise BenchError(f"model zip {path}: {problems[0]}; {zip_fix(problems[0])}")
            member = zf.infolist()[0]
            data = bytearray()
            with zf.open(member) as f:  # stop at the cap even if the header lies about the size
                while chunk := f.read(1 << 20):
                    data += chunk
                    if len(data) > MAX_UNCOMPRESSED:
                        raise BenchError(f"model zip {path}: member {member.filename!r} expands past {MAX_UNCOMPRESSED:,} bytes; refused")
            return bytes(data)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError, _lzma_error()) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: a method zipfile lacks;
        # OSError / LZMAError / ValueError: a corrupt bzip2 or lzma stream
        raise BenchError(f"model zip {path} cannot be read ({type(exc).__name__}: {exc}); {ZIP_FIX}") from None


def _lzma_error() -> type[Exception]:
    try:
        import lzma
    except ImportError:
        return zlib.error
    return lzma.LZMAError
