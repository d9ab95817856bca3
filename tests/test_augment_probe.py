"""A custom augmentation pipeline is tried on a probe image before scoring: one that changes the
shape or the dtype of the pixels is refused with one line naming the transform and the fix."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.transforms import Augmenter
from tests import models
from tests.test_run import make_project, random_images

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402


def saved(tmp_path, *transforms, name: str = "pipeline.json") -> str:
    path = str(tmp_path / name)
    A.save(A.Compose(list(transforms)), path, data_format="yaml" if name.endswith(".yaml") else "json")
    return path


@pytest.mark.parametrize(
    "transform",
    [A.Resize(32, 32), A.Normalize(), A.ToFloat(), A.PadIfNeeded(100, 100), A.RandomCrop(100, 100), A.ToGray(num_output_channels=1)],
    ids=lambda t: type(t).__name__,
)
def test_shape_or_dtype_changes_are_refused_naming_the_transform(tmp_path, transform):
    name = type(transform).__name__
    with pytest.raises(BenchError) as caught:
        Augmenter(0, saved(tmp_path, A.HorizontalFlip(p=0.5), transform))
    message = str(caught.value)
    assert "\n" not in message and name in message and f"remove {name}" in message
    assert "model resolution on uint8 pixels" in message


def test_rare_and_nested_transforms_are_probed_too(tmp_path):
    """A transform that fires one time in a hundred, inside a OneOf inside a Sequential."""
    nested = A.Sequential([A.OneOf([A.Blur(p=1.0), A.Normalize(p=1.0)], p=0.01)], p=0.01)
    with pytest.raises(BenchError, match="Normalize"):
        Augmenter(0, saved(tmp_path, nested, name="p.yaml"))


def test_transforms_that_keep_shape_and_dtype_are_accepted(tmp_path):
    keeps = [A.HorizontalFlip(), A.ColorJitter(), A.GaussNoise(), A.ImageCompression(quality_range=(50, 90)), A.Rotate(limit=10), A.RandomResizedCrop(size=(64, 64))]
    aug = Augmenter(0, saved(tmp_path, *keeps))
    image = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert aug(image, 3).shape == image.shape and aug.frames(np.stack([image] * 3), 3).shape == (3, 64, 64, 3)


def test_the_probe_has_the_models_resolution(tmp_path):
    """A crop that ends at exactly the model's size is right for that model, wrong for another."""
    pipeline = saved(tmp_path, A.RandomResizedCrop(size=(48, 40), p=0.5))
    Augmenter(0, pipeline, size=(48, 40))
    with pytest.raises(BenchError, match="RandomResizedCrop"):
        Augmenter(0, pipeline, size=(32, 32))


def test_run_with_a_normalising_pipeline_is_a_user_error(tmp_path, capsys):
    """Before: the model was fed floats wrapped to uint8 and the run exited 0."""
    model = models.save(models.linear_logits(3), tmp_path / "m.onnx")
    pipeline = saved(tmp_path, A.Normalize())
    cfg = make_project(tmp_path, {"a": ("real", random_images(3, 1))}, model, augment_pipeline=pipeline)
    assert main(["run", str(cfg), "--output", str(tmp_path / "r"), "--no-cache"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "remove Normalize" in err[-1]
