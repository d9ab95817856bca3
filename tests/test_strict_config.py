"""Strict configs: unknown keys (run config, registry entries, each source type's keys), strict
types (no quoted booleans, no string for a list, no boolean for a number, no nan or inf), ranges,
duplicate YAML keys, duplicate dataset names, files that are not UTF-8, a parquet source that is
not parquet, a corrupt run folder given to compare, and the ranges of `check`, `profile` and
`compare`. Every error is one line naming the key (or file), the value and the fix; exit code 2."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.config import INT64_MAX, keys, load_config
from bench.data.registry import Registry, iter_samples, parse_registry_file
from bench.data.sources import SOURCE_KEYS
from bench.errors import BenchError
from tests.test_sources import assert_one_line_error, png, run_cli, spec

# =========================================================================== run configs


def load_text(tmp_path: Path, text: str):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return load_config(path)


def refused(tmp_path: Path, text: str, *words: str) -> str:
    with pytest.raises(BenchError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize(
    "text,words",
    [
        ("cache: 'false'", ["cache must be true or false", "'false'", "write false without quotes"]),
        ("fast_decode: 'no'", ["fast_decode must be true or false", "'no'", "write false without quotes"]),
        ("robustness: 'yes'", ["robustness", "write true without quotes"]),
        ("progress: 0", ["progress must be true or false", "got 0"]),
    ],
)
def test_quoted_booleans_are_refused_with_the_fix(tmp_path, text, words):
    refused(tmp_path, text, "run.yaml", *words)


@pytest.mark.parametrize(
    "text,words",
    [
        ("dataset_dirs: somedir", ["dataset_dirs must be a list of paths", "'somedir'", "write [somedir]"]),
        ("datasets: sample-real", ["datasets must be a list of names", "write [sample-real]"]),
    ],
)
def test_a_string_where_a_list_is_expected_is_refused(tmp_path, text, words):
    message = refused(tmp_path, text, *words)
    assert str(tmp_path / "somedir") not in message  # the value as written, not resolved


@pytest.mark.parametrize(
    "text,key",
    [
        ("batch_size: true", "batch_size"),
        ("bootstrap: false", "bootstrap"),
        ("limit: true", "limit"),
        ("cache_max_gb: true", "cache_max_gb"),
        ("robust_weight: true", "robust_weight"),
        ("augment_level: true", "augment_level"),
    ],
)
def test_a_boolean_is_never_a_number(tmp_path, text, key):
    refused(tmp_path, text, key, "(a boolean)")


@pytest.mark.parametrize("text", ["cache_max_gb: .nan", "cache_max_gb: .inf", "frame_rule: fps\ntarget_fps: .inf", "target_fps: -.inf", "robust_weight: .nan"])
def test_nan_and_inf_are_refused(tmp_path, text):
    refused(tmp_path, text, "finite")


@pytest.mark.parametrize(
    "text,words",
    [
        ("seed: -1", ["seed must be an integer from 0 to 2**63-1", "-1"]),
        (f"seed: {2**63}", ["seed", str(2**63)]),
        ("bootstrap_seed: -5", ["bootstrap_seed must be an integer from 0 to 2**63-1"]),
        (f"limit: {10**20}", ["limit must be a positive integer up to 2**63-1"]),
        ("threads: 10000", ["threads must be an integer from 0 to 256", "10000"]),
        ("workers: 257", ["workers must be an integer from 0 to 256"]),
        ("bootstrap: 100001", ["bootstrap must be an integer from 0 to 100,000"]),
        ("batch_size: 5000", ["batch_size must be a positive integer up to 4096"]),
        ("prefetch: 100000", ["prefetch"]),
        ("batch_trials: 1000000", ["batch_trials"]),
        ("target_fps: 0.0000001\nframe_rule: fps", ["target_fps must be a number from 0.001 to 1000"]),
    ],
)
def test_ranges(tmp_path, text, words):
    refused(tmp_path, text, *words)


def test_every_number_key_declares_its_range():
    for key in keys().values():
        tp = key.type
        if "int" in str(tp) or "float" in str(tp):
            assert key.meta["check"] or key.meta["high"] is not None, f"{key.name} has no range"


def test_in_range_values_still_load_and_integers_become_floats(tmp_path):
    cfg = load_text(tmp_path, f"seed: {INT64_MAX}\nthreads: 256\nbootstrap: 0\ncache_max_gb: 3\nlimit: {INT64_MAX}\ncache: no\n")
    assert cfg.preprocessing.seed == INT64_MAX and cfg.runtime.threads == 256 and cfg.data.limit == INT64_MAX
    assert cfg.cache.max_gb == 3.0 and isinstance(cfg.cache.max_gb, float) and cfg.cache.enabled is False


def test_duplicate_yaml_keys_are_refused(tmp_path):
    refused(tmp_path, "batch_size: 8\nseed: 1\nbatch_size: 16\n", "run.yaml", "'batch_size' twice", "lines 1 and 3", "keep one")
    refused(tmp_path, "runtime:\n  batch_size: 8\n  batch_size: 9\n", "'batch_size' twice")
    refused(tmp_path, "batch_size: 8\nruntime: {batch_size: 16}\n", "batch_size twice", "keep one")


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    from bench.config import StrictLoader

    assert yaml.load("base: &b {x: 1, y: 2}\nmine:\n  <<: *b\n  y: 3\n", Loader=StrictLoader)["mine"] == {"x": 1, "y": 3}


def test_duplicate_dataset_names_in_one_run_are_refused(tmp_path):
    refused(tmp_path, "datasets: [sample-real, sample-real]", "datasets lists 'sample-real' twice")


@pytest.mark.parametrize(
    "data,words",
    [
        ("batch_size: 8  # café\n".encode("latin-1"), ["not UTF-8", "0xe9", "line 1", "save it as UTF-8"]),
        ("batch_size: 8\n".encode("utf-16"), ["UTF-16", "save it as UTF-8"]),
        ("batch_size: 8\n".encode("utf-16-le"), ["NUL bytes", "save it as UTF-8"]),
        ("batch_size: 8\n".encode("utf-32"), ["UTF-32"]),
    ],
)
def test_a_run_config_that_is_not_utf8_is_refused(tmp_path, data, words):
    path = tmp_path / "run.yaml"
    path.write_bytes(data)
    with pytest.raises(BenchError) as info:
        load_config(path)
    assert "run.yaml" in str(info.value) and all(w in str(info.value) for w in words), str(info.value)


def test_utf8_with_a_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_bytes(b"\xef\xbb\xbfbatch_size: 8\n")
    assert load_config(path).runtime.batch_size == 8


def test_non_string_keys_and_bad_sections(tmp_path):
    refused(tmp_path, "1: 2", "key 1")
    refused(tmp_path, "runtime: 5", "section 'runtime'", "mapping")
    refused(tmp_path, "runtime: {1: 2}", "unknown key 1")


@pytest.mark.parametrize("overrides,words", [({"seed": -1}, ["seed"]), ({"threads": True}, ["threads", "(a boolean)"]), ({"cache": "false"}, ["without quotes"])])
def test_api_overrides_are_checked_the_same_way(overrides, words):
    import bench.api

    with pytest.raises(BenchError) as info:
        bench.api.config(None, **overrides)
    assert all(w in str(info.value) for w in words)


# =========================================================================== the command line


@pytest.mark.parametrize(
    "flags,words",
    [
        (["--seed", "-1"], ["seed must be an integer from 0 to 2**63-1", "-1"]),
        (["--limit", str(10**20)], ["limit", str(10**20)]),
        (["--threads", "10000"], ["threads", "10000"]),
        (["--workers", "10000"], ["workers", "10000"]),
        (["--batch-size", "100000"], ["batch_size", "100000"]),
        (["--target-fps", "nan", "--frame-rule", "fps"], ["target_fps", "nan"]),
    ],
)
def test_run_flags_out_of_range(tmp_path, capsys, flags, words):
    code, err = run_cli(["run", "--output", str(tmp_path / "out"), "--no-progress", *flags], capsys)
    assert_one_line_error(code, err, *words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags,words", [(["--batch-size", "0"], ["--batch-size", "0"]), (["--batch-size", "5000"], ["--batch-size", "4096"]), (["--timeout", "nan"], ["--timeout", "nan"]), (["--timeout", "-1"], ["--timeout"])])
def test_check_flags_out_of_range(mean_model, capsys, flags, words):
    code, err = run_cli(["check", str(mean_model), *flags], capsys)
    assert_one_line_error(code, err, *words)


@pytest.mark.parametrize(
    "flags,words",
    [
        (["--duration", "nan"], ["--duration", "nan"]),
        (["--duration", "inf"], ["--duration", "inf"]),
        (["--duration", "0"], ["--duration"]),
        (["--threads", "10000"], ["--threads", "256"]),
        (["--min-iters", "0"], ["--min-iters"]),
        (["--latency-budget", "nan"], ["--latency-budget"]),
        (["--batch-sizes", "1,0"], ["--batch-sizes"]),
        (["--batch-sizes", str(10**9)], ["--batch-sizes", "4096"]),
    ],
)
def test_profile_flags_out_of_range(mean_model, tmp_path, capsys, flags, words):
    code, err = run_cli(["profile", str(mean_model), "--output", str(tmp_path / "p"), *flags], capsys)
    assert_one_line_error(code, err, *words)
    assert not (tmp_path / "p").exists()


# =========================================================================== compare


def fake_run(folder: Path, model: str, p_ai: list[float]) -> Path:
    """A run folder as `bench run` writes it, with only what `bench compare` reads."""
    folder.mkdir(parents=True)
    labels = [0, 1] * (len(p_ai) // 2)
    pred = [int(p > 0.5) for p in p_ai]
    results = {"model": {"path": f"/m/{model}.onnx", "sha256": model, "output_width": 3}, "preprocessing": {"seed": 0}, "throughput": {}}
    (folder / "results.json").write_text(json.dumps(results))
    pd.DataFrame({
        "dataset": ["d"] * len(p_ai), "sample_id": [f"s{i}" for i in range(len(p_ai))], "label": labels, "p_ai": p_ai,
        "pred": pred, "pred_binary": pred, "status": ["ok"] * len(p_ai), "aug_seed": [0] * len(p_ai), "weight": [1.0] * len(p_ai),
    }).to_parquet(folder / "records.parquet")
    return folder


@pytest.fixture
def two_runs(tmp_path):
    a = fake_run(tmp_path / "a", "A", [0.1, 0.9, 0.2, 0.8, 0.6, 0.4])
    b = fake_run(tmp_path / "b", "B", [0.2, 0.7, 0.1, 0.9, 0.3, 0.6])
    return a, b


def test_compare_bootstrap_zero_means_no_intervals(two_runs, tmp_path, capsys):
    a, b = two_runs
    code, err = run_cli(["compare", str(a), str(b), "--bootstrap", "0", "--output", str(tmp_path / "cmp")], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert doc["paired"][0]["metrics"]["mcc"]["ci"] is None and doc["runs"][0]["metrics"]["ci"]["sn34"] is None


@pytest.mark.parametrize("flags,words", [(["--bootstrap", "-1"], ["--bootstrap", "-1"]), (["--bootstrap", "1000000"], ["--bootstrap", "100,000"]), (["--top", "-3"], ["--top"])])
def test_compare_flags_out_of_range(two_runs, tmp_path, capsys, flags, words):
    a, b = two_runs
    code, err = run_cli(["compare", str(a), str(b), "--output", str(tmp_path / "cmp"), *flags], capsys)
    assert_one_line_error(code, err, *words)


@pytest.mark.parametrize(
    "content,words",
    [
        (b'{"model": {"path": ', ["results.json is corrupt", "not valid JSON", "rerun `bench run`"]),
        (b"\xff\xfe\x00garbage", ["results.json is corrupt", "not UTF-8"]),
        (b"[1, 2]", ["results.json is corrupt", "list"]),
        (b'{"model": {}}', ["results.json is corrupt", "model.path"]),
        (b'{"model": {"path": "m.onnx"}}', ["results.json is corrupt", "preprocessing"]),
    ],
)
def test_compare_refuses_a_corrupt_results_json_in_one_line(two_runs, tmp_path, capsys, content, words):
    a, b = two_runs
    (b / "results.json").write_bytes(content)
    code, err = run_cli(["compare", str(a), str(b), "--output", str(tmp_path / "cmp")], capsys)
    assert_one_line_error(code, err, str(b / "results.json"), *words)


def test_compare_refuses_corrupt_or_incomplete_records(two_runs, tmp_path, capsys):
    a, b = two_runs
    (b / "records.parquet").write_bytes(b"PAR1 not really")
    code, err = run_cli(["compare", str(a), str(b), "--output", str(tmp_path / "cmp")], capsys)
    assert_one_line_error(code, err, "records.parquet is corrupt", "not a readable parquet file")
    pd.DataFrame({"dataset": ["d"], "sample_id": ["s0"]}).to_parquet(b / "records.parquet")
    code, err = run_cli(["compare", str(a), str(b), "--output", str(tmp_path / "cmp")], capsys)
    assert_one_line_error(code, err, "records.parquet is corrupt", "no column label")


# =========================================================================== registry files


def write_registry(folder: Path, text: str, name: str = "reg.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def registry_error(path: Path) -> str:
    with pytest.raises(BenchError) as info:
        parse_registry_file(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def one_entry(source: str, extra: str = "") -> str:
    return f"datasets:\n  - name: cats\n    media_type: real\n    source: {source}\n{extra}"


@pytest.mark.parametrize(
    "source,typo,meant",
    [
        ("{type: folder, path: imgs, extentions: [jpg]}", "extentions", "extensions"),
        ("{type: parquet, path: t.parquet, colum: image}", "colum", "column"),
        ("{type: parquet, path: t.parquet, id_colum: id}", "id_colum", "id_column"),
        ("{type: huggingface, id: org/x, splt: test}", "splt", "split"),
        ("{type: huggingface, path: hf, allow_external_path: true}", "allow_external_path", "allow_external_paths"),
        ("{type: hub, repo: org/x, media_per_archiv: 3}", "media_per_archiv", "media_per_archive"),
    ],
)
def test_unknown_source_keys_are_refused_with_a_suggestion(tmp_path, source, typo, meant):
    message = registry_error(write_registry(tmp_path, one_entry(source)))
    assert f"unknown key {typo!r}" in message and f"Did you mean {meant!r}" in message and "'cats'" in message, message


@pytest.mark.parametrize(
    "source,extra,words",
    [
        ("{type: folder, path: imgs, extensions: jpg}", "", ["source.extensions must be a list of strings", "'jpg'", "write [jpg]"]),
        ("{type: folder, path: imgs, extensions: [1]}", "", ["source.extensions"]),
        ("{type: parquet, path: t.parquet, allow_external_paths: 'true'}", "", ["allow_external_paths must be true or false", "without quotes"]),
        ("{type: folder, path: 3}", "", ["source.path must be a string"]),
        ("{type: folder}", "", ["needs `path`"]),
        ("{type: huggingface, split: test}", "", ["`id`", "`path`"]),
        ("{type: hub, media_per_archive: 2}", "", ["needs `repo`"]),
        ("{type: folder, path: imgs}", "    max_samples: true\n", ["max_samples must be a positive integer", "(a boolean)"]),
        ("{type: folder, path: imgs}", f"    max_samples: {10**20}\n", ["max_samples"]),
        ("{type: folder, path: imgs}", "    weight: .nan\n", ["weight must be a positive number", "finite"]),
        ("{type: folder, path: imgs}", "    weight: .inf\n", ["weight", "finite"]),
        ("{type: folder, path: imgs}", "    weight: true\n", ["weight", "(a boolean)"]),
        ("{type: folder, path: imgs}", "    description: [a, b]\n", ["description must be a string"]),
        ("{type: folder, path: imgs}", "    modality: [image]\n", ["modality must be one of"]),
    ],
)
def test_registry_values_are_typed(tmp_path, source, extra, words):
    message = registry_error(write_registry(tmp_path, one_entry(source, extra)))
    assert all(w in message for w in words), message


def test_registry_duplicate_keys_and_encodings(tmp_path):
    path = write_registry(tmp_path, "datasets:\n  - name: cats\n    media_type: real\n    media_type: synthetic\n    source: {type: folder, path: imgs}\n")
    assert "'media_type' twice" in registry_error(path) and "reg.yaml" in registry_error(path)
    path.write_text("datasets:\n  - {name: cats, media_type: real, source: {type: folder, path: a, path: b}}\n")
    assert "'path' twice" in registry_error(path)
    path.write_bytes(one_entry("{type: folder, path: caf\xe9}").encode("latin-1"))
    assert "not UTF-8" in registry_error(path)
    path.write_bytes(one_entry("{type: folder, path: imgs}").encode("utf-16"))
    assert "UTF-16" in registry_error(path)
    path.write_text(one_entry("{type: folder, path: imgs}") + "extra: 1\n")
    assert "unknown top-level key 'extra'" in registry_error(path)


def test_registry_duplicate_keys_reach_the_cli_in_one_line(tmp_path, registry_dir, mean_model, capsys):
    write_registry(registry_dir, "datasets:\n  - name: cats\n    name: dogs\n    media_type: real\n    source: {type: folder, path: imgs}\n")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"dataset_dirs": [str(registry_dir)], "model": str(mean_model), "datasets": ["cats"], "provider": "cpu"}))
    code, err = run_cli(["run", str(cfg), "--no-progress"], capsys)
    assert_one_line_error(code, err, "'name' twice", "reg.yaml")


def test_the_hub_importers_source_keys_are_known_source_keys():
    from bench.data.hub.registry_format import HubEntry

    entry = HubEntry("x", "org/x", "image", "real", ["parquet"], ["a"], ["b"], ["img"], filter_column="split", filter_value="test", extra={"k": 1})
    assert set(entry.source("/cache")) <= set(SOURCE_KEYS["hub"])


def test_known_source_keys_still_load(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.JPG").write_bytes(png(1))
    path = write_registry(tmp_path, one_entry("{type: folder, path: imgs, extensions: [jpg]}", "    max_samples: 3\n    weight: 2\n    description: cats\n"))
    (s,) = parse_registry_file(path)
    assert s.max_samples == 3 and s.weight == 2.0 and [r.sample_id for r in iter_samples(s)] == ["a.JPG"]
    hub = write_registry(tmp_path, one_entry("{type: hub, repo: org/x, source_format: parquet, filter_column: c, filter_value: 3, extra: {a: 1}}").replace("cats", "hub-cats"), "hub.yaml")
    assert parse_registry_file(hub)[0].source["repo"] == "org/x"
    Registry.load([str(tmp_path)])


# =========================================================================== parquet sources that are not parquet


def test_a_non_parquet_file_as_a_parquet_source_is_one_line(tmp_path, registry_dir, mean_model, capsys):
    (tmp_path / "table.parquet").write_bytes(b"this is a JPEG, honestly")
    with pytest.raises(BenchError, match="is not a readable parquet file"):
        list(iter_samples(spec({"type": "parquet", "path": tmp_path / "table.parquet"})))
    write_registry(registry_dir, "datasets:\n  - {name: pq, media_type: real, source: {type: parquet, path: ../table.parquet}}\n")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"dataset_dirs": [str(registry_dir)], "model": str(mean_model), "datasets": ["pq"], "provider": "cpu"}))
    code, err = run_cli(["run", str(cfg), "--no-progress", "--output", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, "table.parquet is not a readable parquet file", "replace it")


def test_a_folder_of_parquet_files_with_a_bad_one_is_one_line(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "t").mkdir()
    pq.write_table(pa.table({"image": [png(1)]}), tmp_path / "t" / "a.parquet")
    (tmp_path / "t" / "b.parquet").write_bytes(b"")
    with pytest.raises(BenchError, match="b.parquet is not a readable parquet file"):
        list(iter_samples(spec({"type": "parquet", "path": tmp_path / "t"})))


def test_finite_check_helper():
    from bench.config import check_number

    assert check_number("x", 3, float) == 3.0
    for bad in (math.nan, math.inf, True, "3", 10**400, None, [1]):
        with pytest.raises(BenchError):
            check_number("x", bad, float)
