"""Sources (folder, parquet, Hugging Face), the dataset registry and the CLI's one-line errors."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from bench.cli import main
from bench.data.decode import decode_image
from bench.data.refs import detect_bytes_column
from bench.data.registry import DatasetSpec, Registry, count_samples, iter_samples, parse_registry_file
from bench.errors import BenchError
from tests import models


def png(value: int, h: int = 4, w: int = 5) -> bytes:
    """A small PNG whose every pixel is (value, 255 - value, 7)."""
    img = np.empty((h, w, 3), np.uint8)
    img[...] = (value, 255 - value, 7)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def colour_of(data: bytes) -> int:
    img = decode_image(data)
    assert (img == img[0, 0]).all()
    r, g, b = img[0, 0].tolist()
    assert (g, b) == (255 - r, 7)
    return r


def spec(source: dict, name: str = "ds", max_samples: int | None = None) -> DatasetSpec:
    return DatasetSpec(name, "image", "synthetic", {k: str(v) if isinstance(v, Path) else v for k, v in source.items()}, max_samples, declared_in="test.yaml")


def ids(s: DatasetSpec, limit: int | None = None) -> list[str]:
    return [r.sample_id for r in iter_samples(s, limit)]


# =========================================================================== folder


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "tree"
    files = {
        "b.png": png(1),
        "a.jpg": png(2),  # content does not matter to the source, only the name
        "UPPER.PNG": png(3),
        "mixed.JpEg": png(4),
        "sub/c.webp": png(5),
        "sub/deeper/d.bmp": png(6),
        "sub/deeper/e.TIF": png(7),
        "a/z.gif": png(8),
        # ignored:
        ".hidden.png": png(9),
        ".hidden_dir/x.png": png(10),
        "sub/.secret/y.png": png(11),
        "notes.txt": b"text",
        "data.csv": b"a,b",
        "model.onnx": b"x",
        "noext": png(12),
        "png": png(13),
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (root / "folder.png").mkdir()  # a folder with an image-like name is not a sample
    return root


TREE_IDS = ["UPPER.PNG", "a.jpg", "a/z.gif", "b.png", "mixed.JpEg", "sub/c.webp", "sub/deeper/d.bmp", "sub/deeper/e.TIF"]


def test_folder_recursive_case_insensitive_sorted(tree):
    s = spec({"type": "folder", "path": tree})
    refs = list(iter_samples(s))
    assert [r.sample_id for r in refs] == TREE_IDS
    assert [r.sample_id for r in refs] == sorted(r.sample_id for r in refs)
    for r in refs:
        assert r.data is None and Path(r.path) == tree / r.sample_id
        assert (r.dataset, r.media_type, r.label, r.weight) == ("ds", "synthetic", 1, 1.0)
    assert ids(s) == TREE_IDS  # via the registry entry point too
    assert ids(s) == ids(s)  # stable
    assert count_samples(s) == len(TREE_IDS)


def test_folder_ids_are_relative_posix_and_unique(tree):
    refs = list(iter_samples(spec({"type": "folder", "path": tree})))
    sample_ids = [r.sample_id for r in refs]
    assert len(set(sample_ids)) == len(sample_ids)
    assert all("\\" not in i and not i.startswith("/") for i in sample_ids)


def test_folder_custom_extensions(tree):
    s = spec({"type": "folder", "path": tree, "extensions": ["PNG", ".bmp"]})
    assert ids(s) == ["UPPER.PNG", "b.png", "sub/deeper/d.bmp"]
    assert count_samples(s) == 3


@pytest.mark.parametrize("max_samples,limit,expected", [(3, None, 3), (None, 2, 2), (5, 2, 2), (2, 5, 2), (100, None, 8), (None, 100, 8)])
def test_folder_caps(tree, max_samples, limit, expected):
    s = spec({"type": "folder", "path": tree}, max_samples=max_samples)
    assert ids(s, limit) == TREE_IDS[:expected]
    assert count_samples(s, limit) == expected


def test_folder_empty(tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "readme.txt").write_text("no images here")
    (empty / ".hidden.png").write_bytes(png(1))
    s = spec({"type": "folder", "path": empty}, name="nothing")
    with pytest.raises(BenchError, match="empty") as info:
        iter_samples(s)
    assert "nothing" in str(info.value)


def test_folder_missing(tmp_path):
    s = spec({"type": "folder", "path": tmp_path / "does-not-exist"})
    with pytest.raises(BenchError, match="not found"):
        iter_samples(s)
    with pytest.raises(BenchError, match="not found"):
        count_samples(s)


# =========================================================================== parquet


def write_table(path: Path, columns: dict, schema: pa.Schema | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), path, row_group_size=2)  # several row groups
    return path


def test_parquet_binary_column_detected(tmp_path):
    f = write_table(tmp_path / "one.parquet", {"blob": pa.array([png(v) for v in (10, 20, 30)], pa.binary()), "label": [0, 1, 2], "caption": ["a", "b", "c"]})
    s = spec({"type": "parquet", "path": f})
    refs = list(iter_samples(s))
    assert [r.sample_id for r in refs] == ["one.parquet#0", "one.parquet#1", "one.parquet#2"]
    assert [colour_of(r.data) for r in refs] == [10, 20, 30]
    assert all(r.path is None for r in refs)
    assert count_samples(s) == 3


def test_parquet_large_binary_column(tmp_path):
    f = write_table(tmp_path / "big.parquet", {"payload": pa.array([png(40)], pa.large_binary())})
    assert [colour_of(r.data) for r in iter_samples(spec({"type": "parquet", "path": f}))] == [40]


def test_parquet_hf_struct_column(tmp_path):
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    cells = [{"bytes": png(v), "path": f"img{v}.png"} for v in (50, 60, 70, 80, 90)]
    f = write_table(tmp_path / "hf.parquet", {"picture": pa.array(cells, struct), "label": [0] * 5})
    s = spec({"type": "parquet", "path": f})
    refs = list(iter_samples(s))
    assert [colour_of(r.data) for r in refs] == [50, 60, 70, 80, 90]
    assert [r.sample_id for r in refs] == [f"hf.parquet#{i}" for i in range(5)]
    assert count_samples(s) == 5


def test_parquet_explicit_column(tmp_path):
    f = write_table(tmp_path / "two.parquet", {"thumb": pa.array([png(1), png(2)], pa.binary()), "full": pa.array([png(100), png(200)], pa.binary())})
    refs = list(iter_samples(spec({"type": "parquet", "path": f, "column": "full"})))
    assert [colour_of(r.data) for r in refs] == [100, 200]
    refs = list(iter_samples(spec({"type": "parquet", "path": f, "column": "thumb"})))
    assert [colour_of(r.data) for r in refs] == [1, 2]


def test_parquet_several_binary_columns_need_a_name(tmp_path):
    f = write_table(tmp_path / "two.parquet", {"thumb": pa.array([png(1)], pa.binary()), "full": pa.array([png(100)], pa.binary()), "n": [1]})
    with pytest.raises(BenchError) as info:
        iter_samples(spec({"type": "parquet", "path": f}))
    message = str(info.value)
    assert "thumb" in message and "full" in message and "source.column" in message


def test_parquet_common_name_preferred_among_several(tmp_path):
    f = write_table(tmp_path / "two.parquet", {"thumb": pa.array([png(1)], pa.binary()), "image": pa.array([png(100)], pa.binary())})
    assert detect_bytes_column(pq.read_schema(f), None, str(f)) == "image"
    assert [colour_of(r.data) for r in iter_samples(spec({"type": "parquet", "path": f}))] == [100]


def test_parquet_no_binary_column_or_unknown_column(tmp_path):
    f = write_table(tmp_path / "text.parquet", {"caption": ["a", "b"]})
    with pytest.raises(BenchError, match="no column of encoded bytes"):
        iter_samples(spec({"type": "parquet", "path": f}))
    g = write_table(tmp_path / "bin.parquet", {"image": pa.array([png(1)], pa.binary())})
    with pytest.raises(BenchError, match="'picture' not in"):
        iter_samples(spec({"type": "parquet", "path": g, "column": "picture"}))


def test_parquet_id_column(tmp_path):
    f = write_table(tmp_path / "ids.parquet", {"image": pa.array([png(v) for v in (5, 6, 7)], pa.binary()), "key": ["cat-1", "dog-2", 'x"3']})
    refs = list(iter_samples(spec({"type": "parquet", "path": f, "id_column": "key"})))
    assert [r.sample_id for r in refs] == ["cat-1", "dog-2", 'x"3']
    assert [colour_of(r.data) for r in refs] == [5, 6, 7]

    with pytest.raises(BenchError, match="'nokey'"):
        iter_samples(spec({"type": "parquet", "path": f, "id_column": "nokey"}))


def test_parquet_integer_id_column(tmp_path):
    f = write_table(tmp_path / "ids.parquet", {"image": pa.array([png(5), png(6)], pa.binary()), "n": [1001, 1002]})
    assert ids(spec({"type": "parquet", "path": f, "id_column": "n"})) == ["1001", "1002"]


def test_parquet_duplicate_ids(tmp_path):
    f = write_table(tmp_path / "dup.parquet", {"image": pa.array([png(v) for v in (5, 6, 7)], pa.binary()), "key": ["a", "b", "a"]})
    with pytest.raises(BenchError, match="repeats the id 'a'"):
        list(iter_samples(spec({"type": "parquet", "path": f, "id_column": "key"})))


def test_parquet_duplicate_ids_across_files(tmp_path):
    root = tmp_path / "shards"
    write_table(root / "0.parquet", {"image": pa.array([png(1)], pa.binary()), "key": ["same"]})
    write_table(root / "1.parquet", {"image": pa.array([png(2)], pa.binary()), "key": ["same"]})
    with pytest.raises(BenchError, match="repeats"):
        list(iter_samples(spec({"type": "parquet", "path": root, "id_column": "key"})))


def test_parquet_folder_of_files(tmp_path):
    root = tmp_path / "shards"
    write_table(root / "train-00001.parquet", {"image": pa.array([png(v) for v in (11, 12)], pa.binary())})
    write_table(root / "train-00000.parquet", {"image": pa.array([png(v) for v in (1, 2, 3)], pa.binary())})
    write_table(root / "more" / "extra.parquet", {"image": pa.array([png(21)], pa.binary())})
    (root / "notes.txt").write_text("not parquet")
    s = spec({"type": "parquet", "path": root})
    refs = list(iter_samples(s))
    expected = ["more/extra.parquet#0", "train-00000.parquet#0", "train-00000.parquet#1", "train-00000.parquet#2", "train-00001.parquet#0", "train-00001.parquet#1"]
    assert [r.sample_id for r in refs] == expected
    assert [colour_of(r.data) for r in refs] == [21, 1, 2, 3, 11, 12]
    assert ids(s) == expected  # stable
    assert count_samples(s) == 6
    assert count_samples(spec({"type": "parquet", "path": root}, max_samples=4)) == 4
    assert ids(spec({"type": "parquet", "path": root}, max_samples=4), limit=2) == expected[:2]


def test_parquet_missing_or_empty_folder(tmp_path):
    with pytest.raises(BenchError, match="not found"):
        iter_samples(spec({"type": "parquet", "path": tmp_path / "nope.parquet"}))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no .parquet files"):
        iter_samples(spec({"type": "parquet", "path": tmp_path / "empty"}))


def test_parquet_zero_rows_is_empty(tmp_path):
    f = write_table(tmp_path / "zero.parquet", {"image": pa.array([], pa.binary())})
    with pytest.raises(BenchError, match="empty"):
        iter_samples(spec({"type": "parquet", "path": f}))


def test_parquet_null_cell_becomes_a_data_error_row(tmp_path):
    f = write_table(tmp_path / "nulls.parquet", {"image": pa.array([png(1), None], pa.binary())})
    refs = list(iter_samples(spec({"type": "parquet", "path": f})))
    assert [r.sample_id for r in refs] == ["nulls.parquet#0", "nulls.parquet#1"]
    assert refs[1].data == b""  # kept as a sample, so it is reported (decode error), never dropped


# =========================================================================== Hugging Face


datasets = pytest.importorskip("datasets")


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """Keep ``datasets``' cache (lock files of the packaged builders) inside the test folder."""
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


def hf_dataset(values: list[int]):
    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    return datasets.Dataset.from_dict({"image": [{"bytes": png(v), "path": None} for v in values], "label": [1] * len(values)}, features=features)


def hf_read(source: dict, **kw) -> list[tuple[str, int]]:
    return [(r.sample_id, colour_of(r.data)) for r in iter_samples(spec({"type": "huggingface", **source}), **kw)]


def test_hf_saved_dataset(tmp_path, hf_cache):
    hf_dataset([10, 20, 30]).save_to_disk(str(tmp_path / "saved"))
    assert hf_read({"path": tmp_path / "saved"}) == [("train#0", 10), ("train#1", 20), ("train#2", 30)]
    assert hf_read({"path": tmp_path / "saved"}, limit=2) == [("train#0", 10), ("train#1", 20)]
    assert count_samples(spec({"type": "huggingface", "path": tmp_path / "saved"})) is None


def test_hf_saved_dataset_dict_with_splits(tmp_path, hf_cache):
    dd = datasets.DatasetDict({"train": hf_dataset([1, 2, 3]), "validation": hf_dataset([100, 110])})
    dd.save_to_disk(str(tmp_path / "dd"))
    assert hf_read({"path": tmp_path / "dd"}) == [("train#0", 1), ("train#1", 2), ("train#2", 3)]
    assert hf_read({"path": tmp_path / "dd", "split": "validation"}) == [("validation#0", 100), ("validation#1", 110)]
    with pytest.raises(BenchError, match="split 'test' not in") as info:
        hf_read({"path": tmp_path / "dd", "split": "test"})
    assert "train" in str(info.value) and "validation" in str(info.value)


def test_hf_parquet_data_files_streamed(tmp_path, hf_cache):
    root = tmp_path / "hub-layout"
    (root / "data").mkdir(parents=True)
    hf_dataset([5, 15]).to_parquet(str(root / "data" / "train-00000-of-00002.parquet"))
    hf_dataset([25]).to_parquet(str(root / "data" / "train-00001-of-00002.parquet"))
    hf_dataset([200]).to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    assert hf_read({"path": root}) == [("train#0", 5), ("train#1", 15), ("train#2", 25)]
    assert hf_read({"path": root, "split": "test"}) == [("test#0", 200)]
    with pytest.raises(BenchError, match="split 'nope'") as info:
        hf_read({"path": root, "split": "nope"})
    assert "\n" not in str(info.value)


def test_hf_plain_struct_parquet_found_by_column_name(tmp_path, hf_cache):
    """Parquet written without ``datasets`` metadata: the struct column is found by its name."""
    root = tmp_path / "plain"
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    write_table(root / "train.parquet", {"image": pa.array([{"bytes": png(v), "path": None} for v in (3, 4)], struct), "label": [0, 1]})
    assert hf_read({"path": root}) == [("train#0", 3), ("train#1", 4)]


def test_hf_explicit_and_unknown_column(tmp_path, hf_cache):
    features = datasets.Features({"a": datasets.Image(), "b": datasets.Image()})
    ds = datasets.Dataset.from_dict({"a": [{"bytes": png(1), "path": None}], "b": [{"bytes": png(2), "path": None}]}, features=features)
    ds.save_to_disk(str(tmp_path / "two"))
    assert hf_read({"path": tmp_path / "two", "column": "b"}) == [("train#0", 2)]
    with pytest.raises(BenchError, match="set `source.column`"):
        hf_read({"path": tmp_path / "two"})
    with pytest.raises(BenchError, match="'c' not in"):
        hf_read({"path": tmp_path / "two", "column": "c"})


def test_hf_missing_folder(tmp_path, hf_cache):
    with pytest.raises(BenchError, match="not found"):
        hf_read({"path": tmp_path / "absent"})


# =========================================================================== registry


def write_registry(folder: Path, name: str, entries: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump({"datasets": entries}))
    return path


def entry(name: str = "cats", **extra) -> dict:
    return {"name": name, "media_type": "real", "source": {"type": "folder", "path": "images"}} | extra


def test_registry_unknown_key_suggests(registry_dir):
    f = write_registry(registry_dir, "a.yaml", [entry(max_sample=3)])
    with pytest.raises(BenchError) as info:
        parse_registry_file(f)
    message = str(info.value)
    assert "'max_sample'" in message and "Did you mean 'max_samples'" in message and "entry 1" in message


@pytest.mark.parametrize("media_type", ["fake", None, "Real", 1])
def test_registry_bad_media_type(registry_dir, media_type):
    write_registry(registry_dir, "a.yaml", [entry(), entry("dogs", media_type=media_type)])
    with pytest.raises(BenchError, match="media_type must be one of real, synthetic, semisynthetic") as info:
        Registry.load([str(registry_dir)])
    assert "entry 2" in str(info.value)


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"modality": "text"}, "modality"),
        ({"source": {"type": "s3", "path": "x"}}, "source.type"),
        ({"source": "images/"}, "source.type"),
        ({"max_samples": 0}, "max_samples"),
        ({"weight": -1}, "weight"),
        ({"name": ""}, "name"),
    ],
)
def test_registry_bad_values(registry_dir, bad, match):
    f = write_registry(registry_dir, "a.yaml", [entry() | bad])
    with pytest.raises(BenchError, match=match):
        parse_registry_file(f)


def test_registry_duplicate_names_across_files(registry_dir):
    write_registry(registry_dir, "a.yaml", [entry("cats")])
    write_registry(registry_dir, "b.yml", [entry("dogs"), entry("cats")])
    with pytest.raises(BenchError, match="'cats' is declared twice") as info:
        Registry.load([str(registry_dir)])
    assert "a.yaml" in str(info.value) and "b.yml" in str(info.value)


def test_registry_duplicate_names_across_dirs(tmp_path):
    write_registry(tmp_path / "one", "a.yaml", [entry("cats")])
    write_registry(tmp_path / "two", "a.yaml", [entry("cats")])
    with pytest.raises(BenchError, match="declared twice"):
        Registry.load([str(tmp_path / "one"), str(tmp_path / "two")])


def test_registry_get_unknown_suggests(registry_dir):
    write_registry(registry_dir, "a.yaml", [entry("sample-real"), entry("sample-synthetic")])
    reg = Registry.load([str(registry_dir)])
    with pytest.raises(BenchError) as info:
        reg.get("sample-reall")
    message = str(info.value)
    assert "unknown dataset 'sample-reall'" in message and "Did you mean 'sample-real'" in message
    assert "sample-synthetic" in message  # the list of available names


def test_registry_relative_paths_resolve_against_yaml_folder(tmp_path, monkeypatch):
    reg_dir = tmp_path / "configs" / "datasets"
    (tmp_path / "data" / "imgs").mkdir(parents=True)
    (tmp_path / "data" / "imgs" / "x.png").write_bytes(png(1))
    write_registry(reg_dir, "a.yaml", [{"name": "rel", "media_type": "synthetic", "source": {"type": "folder", "path": "../../data/imgs"}}, entry("abs", source={"type": "folder", "path": str(tmp_path / "data")})])
    monkeypatch.chdir(tmp_path / "data")  # the working directory must not matter
    reg = Registry.load([str(reg_dir)])
    rel = reg.get("rel")
    assert rel.source["path"] == str((tmp_path / "data" / "imgs").resolve())
    assert rel.label == 1 and rel.declared_in.endswith("a.yaml")
    assert reg.get("abs").source["path"] == str(tmp_path / "data")
    assert ids(rel) == ["x.png"]


def test_registry_missing_dir_and_bad_file(tmp_path):
    with pytest.raises(BenchError, match="registry folder not found"):
        Registry.load([str(tmp_path / "nope")])
    (tmp_path / "bad.yaml").write_text("datasets: {name: x}\n")
    with pytest.raises(BenchError, match="list of dataset entries"):
        parse_registry_file(tmp_path / "bad.yaml")
    (tmp_path / "broken.yaml").write_text("datasets: [\n")
    with pytest.raises(BenchError, match="not valid YAML"):
        parse_registry_file(tmp_path / "broken.yaml")


# =========================================================================== CLI errors


@pytest.fixture
def cli_setup(tmp_path, registry_dir, mean_model):
    """A registry with one good and one empty folder dataset, and a run config pointing at it."""
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "a.png").write_bytes(png(1))
    (tmp_path / "empty").mkdir()
    write_registry(
        registry_dir,
        "reg.yaml",
        [
            {"name": "good-set", "media_type": "real", "source": {"type": "folder", "path": "../good"}},
            {"name": "empty-set", "media_type": "real", "source": {"type": "folder", "path": "../empty"}},
        ],
    )

    def config(**values) -> str:
        doc = {"dataset_dirs": [str(registry_dir)], "model": str(mean_model), "datasets": ["good-set"], "provider": "cpu", "warmup": 0, "bootstrap": 0} | values
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    return config


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], lines[0]


def test_cli_ok_baseline(cli_setup, tmp_path, capsys):
    code, err = run_cli(["run", cli_setup(), "--output", str(tmp_path / "out"), "--no-progress"], capsys)
    assert code == 0, err
    assert (tmp_path / "out" / "results.json").is_file()


def test_cli_missing_model(cli_setup, tmp_path, capsys):
    missing = tmp_path / "no-such-model.onnx"
    code, err = run_cli(["run", cli_setup(), "--model", str(missing), "--output", str(tmp_path / "out"), "--no-progress"], capsys)
    assert_one_line_error(code, err, "model not found", "no-such-model.onnx")
    assert not (tmp_path / "out").exists()


def test_cli_missing_model_in_config(cli_setup, tmp_path, capsys):
    code, err = run_cli(["run", cli_setup(model="nowhere/m.onnx"), "--no-progress"], capsys)
    assert_one_line_error(code, err, "model not found", str(tmp_path / "nowhere" / "m.onnx"))


def test_cli_unknown_dataset(cli_setup, tmp_path, capsys):
    code, err = run_cli(["run", cli_setup(), "--datasets", "good-sett", "--output", str(tmp_path / "out"), "--no-progress"], capsys)
    assert_one_line_error(code, err, "unknown dataset 'good-sett'", "Did you mean 'good-set'")


def test_cli_empty_dataset(cli_setup, tmp_path, capsys):
    code, err = run_cli(["run", cli_setup(datasets=["good-set", "empty-set"]), "--output", str(tmp_path / "out"), "--no-progress"], capsys)
    assert_one_line_error(code, err, "'empty-set' is empty")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "values,words",
    [
        ({"batch_size": 0}, ["batch_size must be a positive integer", "0"]),
        ({"batch_size": "big"}, ["batch_size"]),
        ({"geometry": "stretch"}, ["geometry must be one of"]),
        ({"augment_level": 7}, ["augment_level"]),
        ({"datasets": "good-set"}, ["datasets must be a list"]),
    ],
)
def test_cli_bad_config_value(cli_setup, capsys, values, words):
    code, err = run_cli(["run", cli_setup(**values), "--no-progress"], capsys)
    assert_one_line_error(code, err, *words)


def test_cli_bad_value_on_command_line(cli_setup, capsys):
    code, err = run_cli(["run", cli_setup(), "--batch-size", "0", "--no-progress"], capsys)
    assert_one_line_error(code, err, "batch_size")


def test_cli_unknown_config_key(cli_setup, capsys):
    code, err = run_cli(["run", cli_setup(batchsize=4), "--no-progress"], capsys)
    assert_one_line_error(code, err, "unknown key 'batchsize'", "Did you mean 'batch_size'")


def test_cli_missing_config_file(tmp_path, capsys):
    code, err = run_cli(["run", str(tmp_path / "nope.yaml"), "--no-progress"], capsys)
    assert_one_line_error(code, err, "config file not found")


def test_cli_bad_registry_entry(cli_setup, registry_dir, capsys):
    write_registry(registry_dir, "zz.yaml", [entry("other", sorce={"type": "folder"})])
    code, err = run_cli(["run", cli_setup(), "--no-progress"], capsys)
    assert_one_line_error(code, err, "unknown key 'sorce'", "Did you mean 'source'")


def test_cli_not_an_onnx_file(cli_setup, tmp_path, capsys):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"definitely not protobuf")
    code, err = run_cli(["run", cli_setup(model=str(junk)), "--no-progress"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ")


def test_models_helper_builds():
    # guard for the fixtures above: the probe model really is a 3-logit uint8 model
    model = models.channel_means(8, 8)
    assert model.graph.input[0].type.tensor_type.elem_type == 2  # UINT8


def test_folder_follows_symlinked_folders_once(tmp_path):
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.png").write_bytes(png(1))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "b.png").write_bytes(png(2))
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)  # a loop back to the top
    assert ids(spec({"type": "folder", "path": root})) == ["linked/b.png", "real/a.png"]


def test_hf_single_saved_dataset_refuses_another_split(tmp_path, hf_cache):
    import datasets

    ds = hf_dataset([10, 20])
    ds = datasets.Dataset.from_dict(ds.to_dict(), features=ds.features, split="test")
    ds.save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(BenchError, match="'test' split, not 'validation'"):
        ids(spec({"type": "huggingface", "path": tmp_path / "saved", "split": "validation"}))
    assert ids(spec({"type": "huggingface", "path": tmp_path / "saved", "split": "test"})) == ["test#0", "test#1"]


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_sources_does_not_import_the_hub_package():
    done = python("import bench.data.sources, sys; assert 'bench.data.hub' not in sys.modules")
    assert done.returncode == 0, done.stderr


def test_hub_imports_first_without_a_cycle_and_without_sources():
    done = python("import bench.data.hub, sys; assert 'bench.data.sources' not in sys.modules; import bench.data.sources")
    assert done.returncode == 0, done.stderr


def test_refs_imports_nothing_of_bench_but_errors():
    done = python("import bench.data.refs, sys; print(sorted(m for m in sys.modules if m.startswith('bench')))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(["bench", "bench.data", "bench.data.refs", "bench.errors"])


def test_one_parquet_dataset_holds_every_class_through_a_label_column(tmp_path, mean_model):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    from bench.cli import main

    table = pa.table({"image": [png(v) for v in (10, 20, 200, 210, 220)], "kind": ["real", "real", "fake", "fake", "who knows"]})
    pq.write_table(table, tmp_path / "mixed.parquet")
    reg = tmp_path / "registry"
    reg.mkdir()
    entry = {"name": "mixed", "modality": "image", "source": {"type": "parquet", "path": str(tmp_path / "mixed.parquet"), "label_column": "kind", "labels": {"fake": "synthetic"}}}
    (reg / "r.yaml").write_text(yaml.safe_dump({"datasets": [entry]}))
    out = tmp_path / "o"
    assert main(["run", "--model", str(mean_model), "--dataset-dir", str(reg), "--datasets", "mixed", "--output", str(out), "--no-progress"]) == 0
    rec = pd.read_parquet(out / "records.parquet")
    assert rec["label"].tolist() == [0, 0, 1, 1, -1] and rec["media_type"].tolist()[:4] == ["real", "real", "synthetic", "synthetic"]
    assert rec["status"].tolist()[-1] == "data_error" and "maps to no class" in rec["error"].tolist()[-1]


def test_a_hugging_face_dataset_with_a_class_label_is_scored_without_splitting(tmp_path, hf_cache):
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["real", "synthetic"])})
    ds = datasets.Dataset.from_dict({"image": [{"bytes": png(v), "path": None} for v in (10, 20, 30)], "label": [0, 1, 1]}, features=features)
    ds.save_to_disk(str(tmp_path / "saved"))
    refs = list(iter_samples(spec({"type": "huggingface", "path": tmp_path / "saved", "label_column": "label"})))
    assert [(r.media_type, r.label) for r in refs] == [("real", 0), ("synthetic", 1), ("synthetic", 1)]
