"""PyTorch submissions (bench/submission): the folder and zip layout rules and the
model_config.yaml schema, on submissions built in tmp_path (numpy weights: no torch needed)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from bench.contract import FAIL, PASS, WARN
from bench.errors import BenchError
from bench.submission import (
    Submission,
    SubmissionConfig,
    config_findings,
    is_submission,
    layout_findings,
    open_submission,
)

MODEL_PY = '''import torch
from safetensors.torch import load_file


class Tiny(torch.nn.Module):
    def __init__(self, num_classes=2):
        super().__init__()
        self.head = torch.nn.Linear(3, num_classes)

    def forward(self, x):
        return self.head(x.float().mean(dim=(2, 3)) / 255.0)


def load_model(weights_path, num_classes=2, **model_keys):
    model = Tiny(num_classes)
    model.load_state_dict(load_file(weights_path))
    return model.train(False)
'''

CONFIG = {
    "name": "tiny-detector",
    "version": "1.0.0",
    "modality": "image",
    "dtype": "fp16",
    "preprocessing": {"resize": [192, 160]},
    "model": {"num_classes": 2, "weights_file": "model.safetensors", "hidden": 8},
}


def config(**changes) -> dict:
    """CONFIG with top-level keys replaced (None removes one); a dict for 'pre' or 'model'
    updates that section, anything else replaces it."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in CONFIG.items()}
    for short, section in (("pre", "preprocessing"), ("model", "model")):
        value = changes.pop(short, {})
        if isinstance(value, dict):
            data[section].update(value)
        else:
            data[section] = value
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def weights(path: Path) -> Path:
    save_file({"head.weight": np.zeros((2, 3), np.float32), "head.bias": np.zeros(2, np.float32)}, str(path))
    return path


def make_folder(folder: Path, data: dict | None = None, *, yaml_text: str | None = None, weights_name: str = "model.safetensors",
                extra: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_config.yaml").write_text(yaml_text if yaml_text is not None else yaml.safe_dump(data if data is not None else CONFIG))
    (folder / "model.py").write_text(MODEL_PY)
    if weights_name:
        weights(folder / weights_name)
    for name, content in (extra or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def make_zip(path: Path, folder: Path, top: str = "", extra: dict[str, bytes] | None = None) -> Path:
    """A zip of ``folder``'s files, at the top or under ``top/``, plus raw ``extra`` members."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        if top:
            zf.writestr(zipfile.ZipInfo(top), b"")  # the directory entry `zip -r` writes
        for f in sorted(folder.iterdir()):
            zf.write(f, top + f.name)
        for name, content in (extra or {}).items():
            zf.writestr(name, content)
    return path


def failures(findings, rule=None):
    return [f for f in findings if f.verdict == FAIL and (rule is None or f.rule == rule)]


def the_failure(path, rule, word):
    """The path's single FAIL: of ``rule``, naming ``word``; open_submission refuses it with a one-line message."""
    findings, sub = layout_findings(path)
    failed = failures(findings)
    assert sub is None
    assert len(failed) == 1, failed
    f = failed[0]
    assert f.rule == rule and f.verdict == FAIL and word in f.message, f
    assert f.fix
    with pytest.raises(BenchError) as exc:
        open_submission(path)
    message = str(exc.value)
    assert "\n" not in message and word in message and f.fix in message
    return f


# ------------------------------------------------------------------ good submissions


def assert_good(sub: Submission, source: Path) -> None:
    cfg = sub.config
    assert isinstance(cfg, SubmissionConfig)
    assert sub.source == source
    assert (cfg.modality, cfg.dtype, cfg.height, cfg.width, cfg.num_classes) == ("image", "float16", 192, 160, 2)
    assert (cfg.name, cfg.version, cfg.weights_file) == ("tiny-detector", "1.0.0", "model.safetensors")
    assert cfg.model_keys == {"num_classes": 2, "hidden": 8}  # what load_model gets: weights_file popped
    assert cfg.num_frames is None and cfg.sample_rate is None
    assert sub.model_py == sub.root / "model.py" and sub.model_py.read_text() == MODEL_PY
    assert sub.weights == sub.root / "model.safetensors" and sub.weights.is_file()
    assert sub.config_json is None
    assert len(sub.sha256) == 64


def test_good_folder_opens_with_the_typed_config(tmp_path):
    folder = make_folder(tmp_path / "sub")
    findings, sub = layout_findings(folder)
    assert not failures(findings) and not [f for f in findings if f.verdict == WARN], findings
    assert findings[-1].rule == "files" and findings[-1].verdict == PASS
    assert any(f.rule == "config" and f.verdict == PASS and "192x160" in f.message for f in findings)
    assert_good(sub, folder)
    assert sub.root == folder.resolve()
    assert open_submission(folder) == sub  # the folder hash is stable


def test_good_zip_opens_extracted_into_the_cache_and_is_reused(tmp_path):
    archive = make_zip(tmp_path / "sub.zip", make_folder(tmp_path / "sub"))
    sub = open_submission(archive)
    assert_good(sub, archive)
    assert sub.root.parent.name == sub.sha256 and sub.root.parent.parent.name == "submissions"
    assert (sub.root.parent / "complete").is_file()
    assert sorted(p.name for p in sub.root.iterdir()) == ["model.py", "model.safetensors", "model_config.yaml"]
    stamp = sub.weights.stat().st_mtime_ns
    assert open_submission(archive) == sub and sub.weights.stat().st_mtime_ns == stamp  # reused, not re-extracted
    (sub.root / "model.py").unlink()  # an altered extraction is redone
    assert open_submission(archive).model_py.read_text() == MODEL_PY


def test_zip_with_everything_under_one_top_folder_opens_with_a_warning(tmp_path):
    archive = make_zip(tmp_path / "sub.zip", make_folder(tmp_path / "sub"), top="my_model/")
    findings, sub = layout_findings(archive)
    assert not failures(findings)
    warned = [f for f in findings if f.verdict == WARN]
    assert len(warned) == 1 and warned[0].rule == "files" and "top folder" in warned[0].message
    assert_good(sub, archive)


def test_config_json_and_effective_video_values(tmp_path):
    data = config(modality="video", dtype="BF16", pre={"num_frames": 8, "frame_rate": 4})
    folder = make_folder(tmp_path / "sub", data, extra={"config.json": b'{"hidden_size": 8}'})
    sub = open_submission(folder)
    assert sub.config_json == folder.resolve() / "config.json"
    assert (sub.config.dtype, sub.config.num_frames, sub.config.frame_rate) == ("bfloat16", 8, 4.0)


def test_defaults_filled_in_with_warnings():
    data = config(dtype=None, name=None, modality="video", preprocessing={})
    data["model"] = {"hidden": 8}
    findings, cfg = config_findings(data, "model_config.yaml")
    assert cfg is not None
    assert (cfg.dtype, cfg.height, cfg.width, cfg.num_frames, cfg.num_classes, cfg.weights_file) == ("float32", 224, 224, 16, 2, "model.safetensors")
    assert cfg.model_keys == {"hidden": 8}  # num_classes not invented: load_model's default applies
    warned = " | ".join(f.message for f in findings if f.verdict == WARN)
    for word in ("no name", "224x224", "16 frames", "num_classes"):
        assert word in warned


def test_audio_config():
    data = config(modality="audio", preprocessing={"sample_rate": 16000, "duration_seconds": 6.0})
    findings, cfg = config_findings(data, "model_config.yaml")
    assert cfg is not None and not failures(findings)
    assert (cfg.sample_rate, cfg.duration_seconds, cfg.num_samples, cfg.height) == (16000, 6.0, 96000, None)
    findings, cfg = config_findings(config(modality="audio", preprocessing={"sample_rate": 16000}), "model_config.yaml")
    assert cfg is None and len(failures(findings)) == 1 and "duration_seconds" in failures(findings)[0].message


# ------------------------------------------------------------------ failing layouts


def test_zip_with_an_extra_file(tmp_path):
    archive = make_zip(tmp_path / "sub.zip", make_folder(tmp_path / "sub"), extra={"train.py": b"print(1)\n"})
    f = the_failure(archive, "files", "train.py")
    assert "remove it" in f.fix


def test_folder_with_an_extra_file_and_a_subfolder(tmp_path):
    folder = make_folder(tmp_path / "sub", extra={"README.md": b"hi", "utils/helpers.py": b""})
    findings, sub = layout_findings(folder)
    assert sub is None
    assert [f.value for f in failures(findings)] == ["README.md", "utils/"]


def test_folder_pycache_and_hidden_files_are_ignored_with_a_warning(tmp_path):
    folder = make_folder(tmp_path / "sub", extra={"__pycache__/model.cpython-311.pyc": b"\0", ".DS_Store": b"\0"})
    findings, sub = layout_findings(folder)
    assert sub is not None and not failures(findings)
    warned = [f for f in findings if f.verdict == WARN]
    assert len(warned) == 1 and "__pycache__/" in warned[0].message and ".DS_Store" in warned[0].message
    assert sub.sha256 == open_submission(make_folder(tmp_path / "clean")).sha256  # ignored: not hashed either


def test_zip_macos_metadata_fails(tmp_path):
    archive = make_zip(tmp_path / "sub.zip", make_folder(tmp_path / "sub"), top="m/", extra={"__MACOSX/m/._model.py": b"\0"})
    f = the_failure(archive, "files", "__MACOSX")
    assert "metadata" in f.fix


def test_missing_weights_file(tmp_path):
    folder = make_folder(tmp_path / "sub", config(model={"weights_file": "detector.safetensors"}))
    f = the_failure(folder, "files", "detector.safetensors")
    assert "missing" in f.message


def test_unreferenced_weights_warn(tmp_path):
    folder = make_folder(tmp_path / "sub")
    weights(folder / "old.safetensors")
    findings, sub = layout_findings(folder)
    assert sub is not None
    warned = [f for f in findings if f.verdict == WARN]
    assert len(warned) == 1 and warned[0].rule == "files" and "old.safetensors" in warned[0].message


def test_weights_that_are_not_safetensors(tmp_path):
    folder = make_folder(tmp_path / "sub", weights_name="")
    (folder / "model.safetensors").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n")
    the_failure(folder, "files", "LFS")


def test_missing_model_py_and_config(tmp_path):
    folder = make_folder(tmp_path / "sub")
    (folder / "model.py").unlink()
    the_failure(folder, "files", "model.py")
    (folder / "model_config.yaml").unlink()
    findings, _ = layout_findings(folder)
    assert [f.message for f in failures(findings)] == ["no model_config.yaml", "no model.py"]


def test_zip_member_climbing_out(tmp_path):
    archive = make_zip(tmp_path / "sub.zip", make_folder(tmp_path / "sub"), extra={"../evil.py": b"x"})
    the_failure(archive, "files", "'..'")
    assert not (tmp_path / "evil.py").exists()


def test_zip_symlink_member(tmp_path):
    archive = make_zip(tmp_path / "sub.zip", make_folder(tmp_path / "sub"))
    with zipfile.ZipFile(archive, "a") as zf:
        link = zipfile.ZipInfo("config.json")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    the_failure(archive, "files", "symbolic link")


def test_non_zip_with_zip_extension(tmp_path):
    bogus = tmp_path / "sub.zip"
    bogus.write_bytes(b"not a zip at all")
    the_failure(bogus, "files", "not a valid zip")


def test_missing_path_and_plain_file(tmp_path):
    the_failure(tmp_path / "nowhere", "files", "not found")
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x07")
    the_failure(onnx, "files", "neither a folder nor a .zip")


def test_yaml_syntax_error(tmp_path):
    folder = make_folder(tmp_path / "sub", yaml_text="name: x\nmodality: [image\nmodel: {num_classes: 2}\n")
    f = the_failure(folder, "files", "not valid YAML")
    assert "line" in f.message


# ------------------------------------------------------------------ failing configs


@pytest.mark.parametrize(("data", "word"), [
    (config(dtype="float64"), "dtype"),
    (config(modality="imgae"), "modality"),
    (config(modality="video", pre={"num_frames": 80}), "64"),
    (config(model={"num_classes": 5}), "num_classes"),
    (config(model={"weights_file": "../x.safetensors"}), "weights_file"),
    (config(model={"weights_file": "weights/model.safetensors"}), "weights_file"),
    (config(pre={"resize": [224]}), "resize"),
    (config(modality="video", pre={"frame_rate": -2}), "frame_rate"),
    (config(model="resnet"), "model must be a mapping"),
], ids=["dtype", "modality", "num_frames", "num_classes", "weights-dotdot", "weights-folder", "resize", "frame_rate", "model-section"])
def test_bad_config_value(tmp_path, data, word):
    folder = make_folder(tmp_path / "sub", data)
    the_failure(folder, "config", word)


def test_bad_modality_suggests_the_close_one():
    findings, cfg = config_findings(config(modality="imgae"), "model_config.yaml")
    assert cfg is None and "Did you mean 'image'?" in failures(findings)[0].message


def test_num_classes_one_and_three():
    findings, cfg = config_findings(config(model={"num_classes": 1}), "model_config.yaml")
    assert cfg is not None and cfg.num_classes == 1
    assert any(f.verdict == WARN and "sigmoid" in f.message for f in findings)
    findings, cfg = config_findings(config(model={"num_classes": 3}), "model_config.yaml")
    assert cfg is not None and cfg.num_classes == 3 and not [f for f in findings if f.verdict != PASS]


def test_unknown_keys_warn_with_a_suggestion():
    data = config(modalty="image", pre={"resise": [1, 2]})
    findings, cfg = config_findings(data, "model_config.yaml")
    assert cfg is not None
    warned = {f.value: f for f in findings if f.verdict == WARN}
    assert set(warned) == {"modalty", "resise"}
    assert "Did you mean 'modality'?" in warned["modalty"].message and warned["modalty"].fix == "rename it to 'modality'"
    assert "Did you mean 'resize'?" in warned["resise"].message and all(f.rule == "config" for f in warned.values())
    findings, _ = config_findings(config(weights_file="a.safetensors"), "model_config.yaml")  # misplaced: a precise fix
    assert any(f.fix == "move weights_file under model:" for f in findings)


def test_several_problems_one_finding_each(tmp_path):
    data = config(modality="video", dtype="int8", pre={"resize": [0, 224], "num_frames": 100}, model={"num_classes": 7, "weights_file": "w.bin"})
    findings, cfg = config_findings(data, "model_config.yaml")
    assert cfg is None
    failed = failures(findings)
    assert [f.value for f in failed] == ["int8", [0, 224], 100, "w.bin", 7]
    assert len(failed) == 5 and all(f.rule == "config" and f.fix for f in failed)
    assert not any(f.verdict == PASS for f in findings)  # no summary when something failed


def test_not_a_mapping_and_empty():
    for data, word in ((["image"], "mapping"), (None, "empty")):
        findings, cfg = config_findings(data, "model_config.yaml")
        assert cfg is None and len(findings) == 1 and findings[0].verdict == FAIL and word in findings[0].message


# ------------------------------------------------------------------ is_submission


def test_is_submission(tmp_path):
    folder = make_folder(tmp_path / "sub")
    assert is_submission(folder) and is_submission(str(folder))
    assert is_submission(make_zip(tmp_path / "flat.zip", folder))
    assert is_submission(make_zip(tmp_path / "top.zip", folder, top="m/"))
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x07")
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(0).bytes(256))
    (tmp_path / "fake.zip").write_bytes(b"PK\x03\x04 not really")
    with zipfile.ZipFile(tmp_path / "onnx.zip", "w") as zf:
        zf.writestr("image_detector.onnx", b"\x08\x07")
    with zipfile.ZipFile(tmp_path / "deep.zip", "w") as zf:
        zf.writestr("a/b/model_config.yaml", b"modality: image\n")
    for path in (onnx, empty, tmp_path / "random.bin", tmp_path / "fake.zip", tmp_path / "onnx.zip", tmp_path / "deep.zip", tmp_path / "nowhere", folder / "model_config.yaml"):
        assert not is_submission(path), path


def test_zip_size_bound_is_judged_before_extraction(tmp_path, monkeypatch):
    from bench.submission import layout

    archive = make_zip(tmp_path / "sub.zip", make_folder(tmp_path / "sub"))
    monkeypatch.setattr(layout, "MAX_SUBMISSION_BYTES", 200)
    monkeypatch.setattr(layout, "default_cache_dir", lambda: tmp_path / "cache" / "samples")
    f = the_failure(archive, "files", "refused before extraction")
    assert "model.py" in f.message  # the one member over the bound
    assert not (tmp_path / "cache").exists()


def test_zip_member_in_a_subfolder(tmp_path):
    archive = make_zip(tmp_path / "sub.zip", make_folder(tmp_path / "sub"), extra={"extra/model.safetensors": b"x"})
    f = the_failure(archive, "files", "subfolder")
    assert f.value == "extra/model.safetensors"
