"""Hostile files: entries that are not regular files (FIFO, socket, device) are never opened,
names that are not UTF-8 are scored with reversible ids, model zips with encryption or a method
zipfile cannot read are refused in one line, and a table cell's path never reads outside the
source's folder unless the dataset allows it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from bench.data.refs import escape_name, read_cell, read_regular_file, unescape_name, unescape_path
from bench.data.registry import iter_samples
from bench.errors import BenchError
from tests.test_sources import assert_one_line_error, colour_of, png, run_cli, spec

ROOT = Path(__file__).resolve().parent.parent
posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


def within(seconds: float, fn, *unblock: Path):
    """``fn()`` in a thread; a failure (not a hang of the suite) when it takes longer. A FIFO in
    ``unblock`` is opened for writing afterwards, so a reader blocked on it wakes up."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the test
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        for fifo in unblock:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        t.join(5)
        pytest.fail(f"still running after {seconds} s: it blocked on a FIFO")
    if "error" in out:
        raise out["error"]
    return out.get("value")


# =========================================================================== not regular files


@pytest.fixture
def odd_folder(tmp_path) -> Path:
    root = tmp_path / "imgs"
    root.mkdir()
    (root / "a.png").write_bytes(png(1))
    os.mkfifo(root / "fifo.png")
    os.symlink("/dev/zero", root / "zero.png")
    return root


@posix_only
def test_a_fifo_device_or_socket_is_listed_with_a_problem_and_never_opened(odd_folder):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(odd_folder / "sock.png"))
    except OSError:  # a path too long for AF_UNIX
        server = None
    refs = within(20, lambda: list(iter_samples(spec({"type": "folder", "path": odd_folder}))), odd_folder / "fifo.png")
    problems = {r.sample_id: r.problem for r in refs}
    assert problems["a.png"] is None
    assert "not a regular file (a FIFO)" in problems["fifo.png"]
    assert "not a regular file (a character device)" in problems["zero.png"]
    if server is not None:
        assert "not a regular file (a socket)" in problems["sock.png"]
        server.close()


@posix_only
def test_read_regular_file_refuses_a_fifo_without_blocking(odd_folder):
    with pytest.raises(OSError, match="not a regular file"):
        within(10, lambda: read_regular_file(odd_folder / "fifo.png"), odd_folder / "fifo.png")
    with pytest.raises(OSError, match="not a regular file"):
        read_regular_file(odd_folder / "zero.png")
    assert read_regular_file(odd_folder / "a.png") == png(1)


def write_project(tmp_path: Path, model: Path, source: dict, name: str = "odd", cache: bool = False) -> Path:
    reg = tmp_path / "registry"
    reg.mkdir(exist_ok=True)
    (reg / "r.yaml").write_text(yaml.safe_dump({"datasets": [{"name": name, "media_type": "real", "source": source}]}))
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"dataset_dirs": [str(reg)], "model": str(model), "datasets": [name], "provider": "cpu", "warmup": 0,
                                   "bootstrap": 0, "batch_size": 2, "workers": 2, "cache": cache, "cache_dir": str(tmp_path / "cache")}))
    return cfg


@posix_only
def test_a_run_over_a_fifo_finishes_with_a_data_error(tmp_path, mean_model):
    root = tmp_path / "imgs"
    root.mkdir()
    (root / "a.png").write_bytes(png(1))
    os.mkfifo(root / "fifo.png")  # (no /dev/zero here: a read of it that was not refused would fill the memory)
    cfg = write_project(tmp_path, mean_model, {"type": "folder", "path": str(root)}, cache=True)
    out = tmp_path / "out"
    try:
        done = subprocess.run([sys.executable, "-m", "bench", "run", str(cfg), "--output", str(out), "--no-progress"],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)
    except subprocess.TimeoutExpired:  # the child is killed
        pytest.fail("bench run hung on a FIFO")
    assert done.returncode == 0, done.stderr
    records = pd.read_parquet(out / "records.parquet").set_index("sample_id")
    assert records.loc["a.png", "status"] == "ok"
    assert records.loc["fifo.png", "status"] == "data_error" and "not a regular file (a FIFO)" in records.loc["fifo.png", "error"]


# =========================================================================== names that are not UTF-8


@pytest.mark.parametrize("raw", [b"caf\xe9.png", b"\xff\xfe.png", b"100%.png", b"a%41.png", b"%\xe9.png", b"caf\xc3\xa9.png", b"x%2.png"])
def test_escape_name_is_valid_utf8_and_reversible(raw):
    name = os.fsdecode(raw)
    escaped = escape_name(name)
    escaped.encode("utf-8")  # valid UTF-8: parquet, JSON and terminals take it
    assert unescape_name(escaped) == raw and unescape_path(escaped) == name


def test_valid_names_keep_their_ids():
    for name in ("a.png", "sub/b c.png", "café.png", "100%.png", "日本.png"):
        assert escape_name(name) == name


@pytest.fixture
def latin1_folder(tmp_path) -> Path:
    root = tmp_path / "imgs"
    root.mkdir()
    (root / "ok.png").write_bytes(png(1))
    raw = os.fsencode(root) + b"/caf\xe9.png"
    try:
        with open(raw, "wb") as f:
            f.write(png(2))
    except (OSError, UnicodeError):
        pytest.skip("the file system refuses names that are not UTF-8")
    return root


def test_a_name_that_is_not_utf8_is_listed_with_an_escaped_id_and_its_real_path(latin1_folder):
    refs = list(iter_samples(spec({"type": "folder", "path": latin1_folder})))
    by_id = {r.sample_id: r for r in refs}
    assert set(by_id) == {"caf%E9.png", "ok.png"}
    ref = by_id["caf%E9.png"]
    assert unescape_name(ref.sample_id) == b"caf\xe9.png"
    assert colour_of(Path(ref.path).read_bytes()) == 2  # the real path opens the real file
    assert os.fsencode(ref.path).endswith(b"caf\xe9.png")
    ref.sample_id.encode("utf-8")
    ref.shown_path.encode("utf-8")


@pytest.mark.parametrize("cache", [False, True])
def test_a_run_scores_a_name_that_is_not_utf8(tmp_path, latin1_folder, mean_model, capsys, cache):
    cfg = write_project(tmp_path, mean_model, {"type": "folder", "path": str(latin1_folder)}, cache=cache)
    out = tmp_path / "out"
    code, err = run_cli(["run", str(cfg), "--output", str(out), "--no-progress"], capsys)
    assert code == 0, err
    records = pd.read_parquet(out / "records.parquet").set_index("sample_id")
    assert records.loc["caf%E9.png", "status"] == "ok" and records.loc["ok.png", "status"] == "ok"
    assert unescape_name("caf%E9.png") == b"caf\xe9.png"


# =========================================================================== model zips


def patched_zip(path: Path, flags: int = 0, method: int | None = None) -> Path:
    """A one-member zip whose headers say encrypted (flag bit 0) or another compression method:
    Python's zipfile writes neither, so the header bytes are patched."""
    from tests import models

    onnx_bytes = models.save(models.channel_means(32, 32), path.with_suffix(".onnx")).read_bytes()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("image_detector.onnx", onnx_bytes)
    data = bytearray(path.read_bytes())
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.index(signature)
        data[at + flag_at] |= flags
        if method is not None:
            data[at + method_at : at + method_at + 2] = method.to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path


BAD_ZIPS = [({"flags": 1}, "is encrypted"), ({"method": 93}, "compressed with zstd"), ({"method": 98}, "compressed with ppmd")]


@pytest.mark.parametrize("patch,words", BAD_ZIPS)
def test_check_fails_the_zip_rule_with_the_fix(tmp_path, patch, words):
    from bench.checks import check_model

    report = check_model(patched_zip(tmp_path / "image_detector.zip", **patch))
    zip_findings = [f for f in report.findings if f.rule == "zip"]
    assert not report.ok and zip_findings and zip_findings[0].verdict == "fail"
    assert words in zip_findings[0].message
    assert "without encryption, with deflate or store" in zip_findings[0].fix


@pytest.mark.parametrize("patch,words", BAD_ZIPS)
def test_run_refuses_such_a_zip_in_one_line(tmp_path, patch, words, capsys):
    z = patched_zip(tmp_path / "image_detector.zip", **patch)
    code, err = run_cli(["run", "--model", str(z), "--provider", "cpu", "--output", str(tmp_path / "out"), "--no-progress"], capsys)
    assert_one_line_error(code, err, "image_detector.zip", words, "without encryption, with deflate or store")


def test_lzma_and_bzip2_zips_still_read(tmp_path):
    from bench.model import read_zip_model
    from tests import models

    data = models.save(models.channel_means(32, 32), tmp_path / "m.onnx").read_bytes()
    for method in (zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2, zipfile.ZIP_DEFLATED):
        z = tmp_path / f"m{method}.zip"
        with zipfile.ZipFile(z, "w", method) as zf:
            zf.writestr("m.onnx", data)
        assert read_zip_model(z) == data


@posix_only
def test_a_fifo_as_the_model_is_refused_not_opened(tmp_path, capsys):
    from bench.checks import check_model

    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    report = within(20, lambda: check_model(fifo), fifo)
    assert not report.ok and "not a regular file (a FIFO)" in report.findings[0].message
    code, err = within(20, lambda: run_cli(["run", "--model", str(fifo), "--provider", "cpu", "--no-progress"], capsys), fifo)
    assert_one_line_error(code, err, "model.onnx")
    with pytest.raises(BenchError, match=r"not a regular file \(a FIFO\)"):
        from bench.model import model_source

        within(20, lambda: model_source(fifo), fifo)


# =========================================================================== paths inside tables


@pytest.fixture
def secret(tmp_path) -> Path:
    s = tmp_path / "secret.txt"
    s.write_bytes(b"SECRET-PASSWORD-0123456789")
    return s


def struct_table(path: Path, cells: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    pq.write_table(pa.table({"image": pa.array(cells, type=t)}), path)
    return path


def test_a_cell_path_outside_the_source_folder_is_refused(tmp_path, secret):
    table = struct_table(tmp_path / "data" / "t.parquet", [{"bytes": None, "path": str(secret)}, {"bytes": None, "path": "../secret.txt"}])
    refs = list(iter_samples(spec({"type": "parquet", "path": table})))
    for ref in refs:
        assert not ref.data and b"SECRET" not in (ref.data or b"")
        assert "outside the source's folder" in ref.problem and "allow_external_paths: true" in ref.problem


def test_a_cell_path_inside_the_folder_is_read_and_external_ones_when_allowed(tmp_path, secret):
    (tmp_path / "data" / "imgs").mkdir(parents=True)
    (tmp_path / "data" / "imgs" / "a.png").write_bytes(png(3))
    table = struct_table(tmp_path / "data" / "t.parquet", [{"bytes": None, "path": "imgs/a.png"}, {"bytes": None, "path": str(secret)}])
    inside, outside = iter_samples(spec({"type": "parquet", "path": table}))
    assert colour_of(inside.data) == 3 and inside.problem is None and outside.problem
    inside, outside = iter_samples(spec({"type": "parquet", "path": table, "allow_external_paths": True}))
    assert colour_of(inside.data) == 3 and outside.data == secret.read_bytes() and outside.problem is None


def test_a_symlink_inside_the_folder_that_leads_outside_is_refused(tmp_path, secret):
    (tmp_path / "data").mkdir()
    os.symlink(secret, tmp_path / "data" / "link.png")
    table = struct_table(tmp_path / "data" / "t.parquet", [{"bytes": None, "path": "link.png"}])
    (ref,) = iter_samples(spec({"type": "parquet", "path": table}))
    assert not ref.data and "outside" in ref.problem


@posix_only
def test_a_cell_path_to_a_fifo_or_device_is_never_opened(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    data, problem = within(10, lambda: read_cell({"bytes": None, "path": str(tmp_path / "fifo")}, str(tmp_path)), tmp_path / "fifo")
    assert data is None and "not a regular file (a FIFO)" in problem
    data, problem = read_cell({"bytes": None, "path": "/dev/zero"}, "/dev", allow_external=True)
    assert data is None and "character device" in problem


def test_a_huggingface_row_path_is_held_to_the_dataset_folder(tmp_path, secret, monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    (tmp_path / "hf" / "imgs").mkdir(parents=True)
    (tmp_path / "hf" / "imgs" / "a.png").write_bytes(png(4))
    struct_table(tmp_path / "hf" / "train.parquet", [{"bytes": None, "path": str(secret)}, {"bytes": None, "path": "imgs/a.png"}])
    outside, inside = iter_samples(spec({"type": "huggingface", "path": tmp_path / "hf"}))
    assert not outside.data and "outside the source's folder" in outside.problem
    assert colour_of(inside.data) == 4 and inside.problem is None
    outside, _ = iter_samples(spec({"type": "huggingface", "path": tmp_path / "hf", "allow_external_paths": True}))
    assert outside.data == secret.read_bytes()


def test_a_run_never_puts_outside_bytes_in_the_records(tmp_path, secret, mean_model, capsys):
    table = struct_table(tmp_path / "data" / "t.parquet", [{"bytes": None, "path": str(secret)}, {"bytes": png(1), "path": None}])
    cfg = write_project(tmp_path, mean_model, {"type": "parquet", "path": str(table)})
    code, err = run_cli(["run", str(cfg), "--output", str(tmp_path / "out"), "--no-progress"], capsys)
    assert code == 0, err
    records = pd.read_parquet(tmp_path / "out" / "records.parquet")
    text = records.astype(str).to_string()
    assert "SECRET" not in text and b"SECRET".hex() not in text and b"SECRET-PA".hex()[:8] not in text
    assert list(records["status"]) == ["data_error", "ok"]


def test_allow_external_paths_is_a_known_typed_source_key(tmp_path):
    from bench.data.registry import parse_entry

    good = parse_entry({"name": "t", "media_type": "real", "source": {"type": "parquet", "path": "t.parquet", "allow_external_paths": True}}, tmp_path / "r.yaml", 0)
    assert good.source["allow_external_paths"] is True
    with pytest.raises(BenchError, match="allow_external_paths must be true or false"):
        parse_entry({"name": "t", "media_type": "real", "source": {"type": "parquet", "path": "t.parquet", "allow_external_paths": "yes"}}, tmp_path / "r.yaml", 0)
