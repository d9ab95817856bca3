"""The files of a PyTorch submission, a folder or a zip of one, judged before anything runs.

Decisions (each a rule ``files`` finding, so ``bench check`` shows them and ``open_submission``
refuses with the first FAIL):

* Allowed files: ``model_config.yaml``, ``model.py``, ``*.safetensors``, ``config.json``, all at
  the top. Anything else FAILs by name (the network rejects other files), including subfolders.
* A local folder often holds what running or browsing it left behind: ``__pycache__`` and hidden
  entries (``.DS_Store``, ``.git``, ``.ipynb_checkpoints``) are ignored with one WARN, because
  packaging the folder leaves them out. In a zip the same entries FAIL: the zip is what is
  uploaded. Links inside a folder are followed (a weights file linked from a download cache works).
* A zip holds the files at its top (``cd my_model && zip ../my_model.zip *``, as documented) OR
  all of them under one top folder (``zip -r my_model.zip my_model/``): the folder holding
  ``model_config.yaml`` is taken as the root, with a WARN, since the documented packaging is
  flat. Members outside it FAIL (``__MACOSX/`` metadata included).
* A zip is judged from its directory before anything is extracted: no absolute or ``..`` paths,
  no backslashes, no links, no encryption, at most ``MAX_MEMBERS`` entries, sizes within
  ``MAX_SUBMISSION_BYTES`` and no zip-bomb compression ratio; any of these stops the judging.
  ``model_config.yaml`` and the first bytes of the weights are read straight from the archive.
  Only a zip with no FAIL is extracted, member by member with the declared size as a hard cap,
  into ``<cache>/submissions/<sha256 of the zip>/model`` (a temporary folder renamed into place,
  with a ``complete`` marker written last); a complete extraction is reused.
* The weights file the config names must exist and start like a safetensors file (an 8-byte
  header length, then JSON): a Git LFS pointer or a truncated download FAILs here, not at load.
  Other ``.safetensors`` files WARN (never loaded, yet uploaded).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.cache import default_cache_dir
from bench.contract import FAIL, PASS, WARN, Finding, first_failure
from bench.errors import BenchError
from bench.model import sha256_file
from bench.report import human_bytes
from bench.submission.config import DEFAULT_WEIGHTS, SubmissionConfig, _plain_safetensors, config_findings

RULE = "files"
CONFIG_NAME, MODEL_PY, CONFIG_JSON = "model_config.yaml", "model.py", "config.json"
ALLOWED = "model_config.yaml, model.py, *.safetensors, config.json"
NAMED = (CONFIG_NAME, MODEL_PY, CONFIG_JSON)
MAX_SUBMISSION_BYTES = 16 << 30  # all files, uncompressed: weights of a ~8B-parameter fp16 model
MAX_CONFIG_BYTES = 1 << 20  # a model_config.yaml is a few lines
MAX_MEMBERS = 256  # a submission is a handful of files; refuse before listing thousands
MAX_NAMED = 5  # extra files named one by one; the rest in one finding
EXTRA_FIX = "remove it; the network rejects other files"
SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


@dataclass(frozen=True)
class Submission:
    source: Path  # what the user gave: the folder or the zip
    root: Path  # the folder holding the files: the folder itself, or where the zip was extracted
    config: SubmissionConfig
    model_py: Path
    weights: Path
    config_json: Path | None
    sha256: str  # of the zip; for a folder, over its files' sorted names and bytes


def is_submission(path: str | Path) -> bool:
    """A folder holding ``model_config.yaml``, or a zip with a ``model_config.yaml`` member at its
    top or under one top folder. Reads no more than a zip's directory; never raises."""
    try:
        p = Path(path)
        if p.is_dir():
            return (p / CONFIG_NAME).is_file()
        if p.is_file() and zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as zf:
                return any(n == CONFIG_NAME or (n.count("/") == 1 and n.endswith("/" + CONFIG_NAME)) for n in zf.namelist())
    except Exception:
        return False
    return False


def open_submission(path: str | Path) -> Submission:
    """The ``Submission`` at ``path`` (a zip extracted into the cache); ``BenchError`` with the
    first failing finding ("<message>; <fix>") otherwise. Warns about nothing: callers report
    ``layout_findings``."""
    findings, submission = layout_findings(path)
    failed = first_failure(findings)
    if failed is not None or submission is None:
        failed = failed or Finding(RULE, FAIL, "not a submission", "give a folder with model_config.yaml, model.py and *.safetensors")
        message = f"submission {path}: {failed.message}" + (f"; {failed.fix}" if failed.fix else "")
        raise BenchError(" ".join(message.split()))  # one line, whatever a name held
    return submission


def layout_findings(path: str | Path) -> tuple[list[Finding], Submission | None]:
    """Every finding on a submission's files (rule ``layout``) and its config (rule ``config``),
    then a PASS summary; the ``Submission`` when nothing failed (a zip is extracted then)."""
    path = Path(path)
    fix = "give a folder with model_config.yaml, model.py and *.safetensors, or a .zip of it"
    if not path.exists():
        return [Finding(RULE, FAIL, f"{path} not found", fix)], None
    if path.is_dir():
        return _judge_folder(path)
    if zipfile.is_zipfile(path):
        return _judge_zip(path)
    if path.suffix.lower() == ".zip":
        return [Finding(RULE, FAIL, f"{path.name} has a .zip extension but is not a valid zip archive", "re-create the zip of the submission folder")], None
    if path.name == CONFIG_NAME:
        fix = f"give the folder that holds it ({path.parent})"
    return [Finding(RULE, FAIL, f"{path.name} is neither a folder nor a .zip", fix)], None


# --------------------------------------------------------------------------- a folder


def _judge_folder(path: Path) -> tuple[list[Finding], Submission | None]:
    findings: list[Finding] = []
    files: dict[str, Path] = {}
    junk: list[str] = []
    extras: list[tuple[str, str]] = []
    try:
        entries = sorted(path.iterdir(), key=lambda e: e.name)
    except OSError as exc:
        return [Finding(RULE, FAIL, f"cannot read the folder ({exc.strerror or exc})", "check its permissions")], None
    for entry in entries:
        name = entry.name
        if name == "__pycache__" or name.startswith("."):
            junk.append(name + "/" if entry.is_dir() else name)
        elif entry.is_dir():
            extras.append((name + "/", "a subfolder"))
        elif not entry.is_file():
            extras.append((name, "not a regular file (a broken link?)"))
        elif _allowed(name):
            files[name] = entry
        else:
            extras.append((name, ""))
    if junk:
        findings.append(Finding(RULE, WARN, f"ignored {', '.join(junk)}: not part of a submission", "packaging leaves them out; keep them out of a zip you build by hand", junk))
    findings += _extra_findings(extras)

    def read(name: str, limit: int) -> bytes:
        with open(files[name], "rb") as f:
            return f.read(limit)

    sizes = {name: p.stat().st_size for name, p in files.items()}
    findings_files, cfg = _judge_files(sizes, read)
    findings += findings_files
    if first_failure(findings) is not None:
        return findings, None
    assert cfg is not None
    root = path.resolve()
    findings.append(Finding(RULE, PASS, f"folder {path.name}: {_listing(sizes)}", value=sorted(sizes)))
    return findings, _submission(path, root, cfg, sizes, _folder_sha256(files))


def _folder_sha256(files: dict[str, Path]) -> str:
    """Stable over the submission files only: each name, its length and its bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(files):
        data = name.encode()
        h.update(len(data).to_bytes(8, "little") + data + files[name].stat().st_size.to_bytes(8, "little"))
        with open(files[name], "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- a zip


def _judge_zip(path: Path) -> tuple[list[Finding], Submission | None]:
    try:
        with zipfile.ZipFile(path) as zf:
            return _judge_open_zip(path, zf)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        return [Finding(RULE, FAIL, f"{path.name} is a corrupt zip ({exc})", "re-create the zip of the submission folder")], None
    except OSError as exc:
        return [Finding(RULE, FAIL, f"cannot read {path.name} ({exc.strerror or exc})", "check the file and its permissions")], None


def _judge_open_zip(path: Path, zf: zipfile.ZipFile) -> tuple[list[Finding], Submission | None]:
    findings = _zip_safety(zf)
    if findings:  # an archive that breaks these is not read any further
        return findings, None
    files, extras, prefix = _zip_members(zf)
    if prefix:
        findings.append(Finding(RULE, WARN, f"all files sit under one top folder {prefix!r}: taken as the submission; the documented packaging puts them at the top",
                                f"zip from inside the folder: cd {prefix.rstrip('/')} && zip ../{path.name} {' '.join(sorted(files))}", prefix))
    findings += _extra_findings(extras, zipped=True)

    def read(name: str, limit: int) -> bytes:
        with zf.open(files[name]) as f:
            return f.read(limit)

    sizes = {name: info.file_size for name, info in files.items()}
    findings_files, cfg = _judge_files(sizes, read)
    findings += findings_files
    if first_failure(findings) is not None:
        return findings, None
    assert cfg is not None
    sha = sha256_file(path)
    try:
        root = _extract(zf, files, sha)
    except _Refused as exc:
        return findings + [Finding(RULE, FAIL, str(exc), "re-create the zip of the submission folder")], None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        return findings + [Finding(RULE, FAIL, f"{path.name} is a corrupt zip ({exc})", "re-create the zip of the submission folder")], None
    except OSError as exc:
        where = default_cache_dir().parent / "submissions"
        return findings + [Finding(RULE, FAIL, f"cannot extract into {where} ({exc.strerror or exc})", "free disk space there, or set XDG_CACHE_HOME to a folder with room")], None
    findings.append(Finding(RULE, PASS, f"zip {path.name}: {_listing(sizes)}; extracted to {root}", value=sorted(sizes)))
    return findings, _submission(path, root, cfg, sizes, sha)


def _zip_safety(zf: zipfile.ZipFile) -> list[Finding]:
    """The archive-level rules, judged from the directory alone; empty when all hold."""
    members = zf.infolist()
    fix = "re-create the zip of the submission folder with a standard zip tool"
    if len(members) > MAX_MEMBERS:
        return [Finding(RULE, FAIL, f"the zip holds {len(members):,} entries (limit {MAX_MEMBERS}); a submission is a few files", "zip only model_config.yaml, model.py, the weights and config.json", len(members))]
    out, seen, total, too_big = [], set(), 0, False
    for m in members:
        name = m.filename
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in Path(name.replace("\\", "/")).parts:
            out.append(Finding(RULE, FAIL, f"member path {name!r} is absolute or climbs out with '..'", fix, name))
        elif "\\" in name:
            out.append(Finding(RULE, FAIL, f"member {name!r} has a backslash in its name", fix, name))
        if (m.external_attr >> 16) & 0o170000 == 0o120000:
            out.append(Finding(RULE, FAIL, f"member {name!r} is a symbolic link", "zip the files themselves, not links to them", name))
        if m.flag_bits & 0x1:
            out.append(Finding(RULE, FAIL, f"member {name!r} is encrypted", "zip without a password", name))
        if m.compress_type not in SUPPORTED_COMPRESSION:
            out.append(Finding(RULE, FAIL, f"member {name!r} uses compression method {m.compress_type}, which Python's zipfile cannot read", "zip with deflate (the default) or no compression", name))
        if name in seen:
            out.append(Finding(RULE, FAIL, f"member {name!r} appears twice", fix, name))
        seen.add(name)
        total += m.file_size
        if m.file_size > MAX_SUBMISSION_BYTES:
            too_big = True
            out.append(Finding(RULE, FAIL, f"member {name!r} declares {m.file_size:,} bytes uncompressed (limit {MAX_SUBMISSION_BYTES:,}): refused before extraction", "ship smaller weights", m.file_size))
        elif m.compress_size and m.file_size > (64 << 20) and m.file_size / m.compress_size > 200:
            out.append(Finding(RULE, FAIL, f"member {name!r} expands {m.file_size / m.compress_size:.0f}x ({m.compress_size:,} -> {m.file_size:,} bytes), like a zip bomb: refused before extraction", fix, name))
    if total > MAX_SUBMISSION_BYTES and not too_big:
        out.append(Finding(RULE, FAIL, f"the zip declares {total:,} bytes uncompressed (limit {MAX_SUBMISSION_BYTES:,}): refused before extraction", "ship smaller weights", total))
    return out


def _zip_members(zf: zipfile.ZipFile) -> tuple[dict[str, zipfile.ZipInfo], list[tuple[str, str]], str]:
    """The submission files by name relative to the root (the top, or the one top folder holding
    model_config.yaml), the members that are not submission files, and that folder ('' or 'x/')."""
    members = zf.infolist()
    names = [m.filename for m in members if not m.is_dir()]
    prefix = ""
    if CONFIG_NAME not in names:
        tops = sorted({n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith("/" + CONFIG_NAME)})
        if len(tops) == 1:
            prefix = tops[0] + "/"
    files: dict[str, zipfile.ZipInfo] = {}
    extras: list[tuple[str, str]] = []
    for m in members:
        name = m.filename
        if m.is_dir():
            if name != prefix:
                extras.append((name, "a folder"))
            continue
        if not name.startswith(prefix):
            extras.append((name, f"outside the top folder {prefix!r}"))
            continue
        rel = name[len(prefix):]
        if "/" in rel:
            extras.append((name, "in a subfolder"))
        elif _allowed(rel):
            files[rel] = m
        else:
            extras.append((name, ""))
    return files, extras, prefix


class _Refused(Exception):
    """A member that breaks its declared size while being extracted."""


def _extract(zf: zipfile.ZipFile, files: dict[str, zipfile.ZipInfo], sha: str) -> Path:
    """``<cache>/submissions/<sha>/model``, holding exactly ``files``; reused when complete."""
    base = default_cache_dir().parent / "submissions"
    final = base / sha
    if _complete(final, files):
        return final / "model"
    base.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = Path(tempfile.mkdtemp(prefix=f".{sha[:16]}-", dir=base))
    try:
        (tmp / "model").mkdir()
        for rel, info in files.items():
            _copy_member(zf, info, tmp / "model" / rel)
        (tmp / "complete").write_text(json.dumps({rel: info.file_size for rel, info in sorted(files.items())}))  # last
        if final.exists():
            if _complete(final, files):  # another process finished first
                return final / "model"
            shutil.rmtree(final, ignore_errors=True)  # an interrupted or altered extraction
        try:
            os.rename(tmp, final)
            tmp = None
        except OSError:
            if not _complete(final, files):
                raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return final / "model"


def _complete(final: Path, files: dict[str, zipfile.ZipInfo]) -> bool:
    try:
        if not (final / "complete").is_file():
            return False
        found = {p.name: p.stat().st_size for p in (final / "model").iterdir()}
    except OSError:
        return False
    return found == {rel: info.file_size for rel, info in files.items()}


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> None:
    written = 0
    with zf.open(info) as src, open(dest, "xb") as out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > info.file_size:  # the header lied: stop at the declared size
                raise _Refused(f"member {info.filename!r} expands past its declared {info.file_size:,} bytes; refused")
            out.write(chunk)


# --------------------------------------------------------------------------- the files


def _judge_files(sizes: dict[str, int], read: Callable[[str, int], bytes]) -> tuple[list[Finding], SubmissionConfig | None]:
    """The rules on the submission files, wherever they lie: the config (then its own rules),
    model.py, the weights it names, unreferenced weights, config.json."""
    findings: list[Finding] = []
    cfg, data = None, None
    if CONFIG_NAME not in sizes:
        findings.append(Finding(RULE, FAIL, "no model_config.yaml", "add model_config.yaml (name, version, modality, preprocessing, model) beside model.py"))
    elif sizes[CONFIG_NAME] > MAX_CONFIG_BYTES:
        findings.append(Finding(RULE, FAIL, f"model_config.yaml is {sizes[CONFIG_NAME]:,} bytes (limit {MAX_CONFIG_BYTES:,})", "keep it to the keys of the format", sizes[CONFIG_NAME]))
    else:
        try:
            data = yaml.safe_load(read(CONFIG_NAME, MAX_CONFIG_BYTES))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            findings.append(Finding(RULE, FAIL, f"model_config.yaml is not valid YAML{where}", "fix the syntax: `key: value` lines, nested keys indented with spaces"))
        else:
            config_list, cfg = config_findings(data, CONFIG_NAME)
            findings += config_list
    if MODEL_PY not in sizes:
        findings.append(Finding(RULE, FAIL, "no model.py", "add model.py defining load_model(weights_path, num_classes=2, **model_keys)"))
    weights = cfg.weights_file if cfg is not None else _weights_named(data)
    others = sorted(n for n in sizes if n.endswith(".safetensors") and n != weights)
    if weights is not None:
        given = "model.weights_file names" if isinstance(data, dict) and isinstance(data.get("model"), dict) and "weights_file" in data["model"] else "the default weights file is"
        if weights not in sizes:
            fix = f"set model.weights_file: {others[0]}" if len(others) == 1 else f"add {weights} beside model.py"
            findings.append(Finding(RULE, FAIL, f"{given} {weights!r}, which is missing", fix, weights))
        else:
            problem = _safetensors_problem(read(weights, 64), sizes[weights])
            if problem:
                findings.append(Finding(RULE, FAIL, f"{weights!r} {problem}", "save the weights with safetensors' save_file (and `git lfs pull` real files)", weights))
    if others and weights in sizes:
        findings.append(Finding(RULE, WARN, f"{', '.join(others)} not referenced by model.weights_file: never loaded, yet uploaded", f"remove them, or point weights_file at the one to load (now {weights})", others))
    if CONFIG_JSON in sizes:
        try:
            json.loads(read(CONFIG_JSON, MAX_CONFIG_BYTES + 1))
        except ValueError:
            findings.append(Finding(RULE, WARN, "config.json is not valid JSON: from_pretrained would fail on it", "fix it, or remove it if model.py does not read it"))
    return findings, cfg


def _weights_named(data: object) -> str | None:
    """The weights file a config that failed its rules would still load; None when unknowable."""
    if not isinstance(data, dict):
        return DEFAULT_WEIGHTS if data is None else None
    model = data.get("model", {})
    if not isinstance(model, dict):
        return None
    name = model.get("weights_file", DEFAULT_WEIGHTS)
    return name if isinstance(name, str) and _plain_safetensors(name) else None


def _safetensors_problem(head: bytes, size: int) -> str:
    """'' when ``head`` (the first bytes) starts like a safetensors file: a little-endian u64
    header length that fits the file, then a JSON object; else what it looks like instead."""
    if head.startswith(b"version https://git-lfs"):
        return "is a Git LFS pointer, not the weights"
    if size < 10:
        return f"is {size} bytes: too short for a safetensors file"
    n = int.from_bytes(head[:8], "little")
    if n < 2 or n > 100 << 20 or 8 + n > size or head[8:9] != b"{":
        return "is not a safetensors file (no header)"
    return ""


# --------------------------------------------------------------------------- helpers


def _allowed(name: str) -> bool:
    return name in NAMED or (name.endswith(".safetensors") and not name.startswith("."))


def _extra_findings(extras: list[tuple[str, str]], zipped: bool = False) -> list[Finding]:
    out = []
    for name, why in extras[:MAX_NAMED]:
        base = name.rstrip("/").rsplit("/", 1)[-1]
        close = difflib.get_close_matches(base, NAMED, n=1, cutoff=0.75)
        if zipped and (name.startswith("__MACOSX/") or base in (".DS_Store", "Thumbs.db") or base.startswith("._")):
            fix = "re-create the zip without system metadata (e.g. zip -X, leaving out __MACOSX and .DS_Store)"
        elif close and base != close[0]:
            fix = f"rename it to {close[0]!r}, or {EXTRA_FIX}"
        else:
            fix = EXTRA_FIX
        what = f" ({why})" if why else ""
        out.append(Finding(RULE, FAIL, f"{name!r}{what} is not a submission file; allowed: {ALLOWED} at the top", fix, name))
    if len(extras) > MAX_NAMED:
        rest = [n for n, _ in extras[MAX_NAMED:]]
        out.append(Finding(RULE, FAIL, f"{len(rest)} more files that are not submission files ({', '.join(rest[:3])}, ...)", EXTRA_FIX, rest))
    return out


def _listing(sizes: dict[str, int]) -> str:
    return ", ".join(f"{n} ({human_bytes(s)})" for n, s in sorted(sizes.items()))


def _submission(source: Path, root: Path, cfg: SubmissionConfig, sizes: dict[str, int], sha: str) -> Submission:
    return Submission(source=source, root=root, config=cfg, model_py=root / MODEL_PY, weights=root / cfg.weights_file,
                      config_json=root / CONFIG_JSON if CONFIG_JSON in sizes else None, sha256=sha)
