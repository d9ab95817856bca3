"""Tiny PyTorch submissions for tests: model.py text, model_config.yaml and real safetensors."""

from __future__ import annotations

from pathlib import Path

import yaml

MEANS = '''
import torch
from safetensors.torch import load_file
from torch import nn


class Means(nn.Module):
    """logits = scale * per-channel means + bias (so a submission can be checked against ONNX)."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.head = nn.Linear(3, num_classes)

    def forward(self, x):
        dims = tuple(range(2, x.dim())) if x.dim() == 4 else (1, 3, 4)
        return self.head(x.to(self.head.weight.dtype).mean(dim=dims) / 255.0)


def load_model(weights_path, num_classes=3, **kwargs):
    model = Means(num_classes)
    model.load_state_dict(load_file(weights_path))
    return model
'''


AUDIO_LOUDNESS = '''
import torch
from safetensors.torch import load_file
from torch import nn


class Loudness(nn.Module):
    """logits = head(mean |x|) of a (batch, samples) float32 waveform."""

    def __init__(self, num_classes=2):
        super().__init__()
        self.head = nn.Linear(1, num_classes)

    def forward(self, x):
        return self.head(x.abs().mean(dim=1, keepdim=True).to(self.head.weight.dtype))


def load_model(weights_path, num_classes=2, **kwargs):
    model = Loudness(num_classes)
    model.load_state_dict(load_file(weights_path))
    return model
'''


def loudness_weights() -> dict:
    """``AUDIO_LOUDNESS`` weights: logits ``[1 - 8 m, 8 m - 1]`` (loud clips called AI), as
    ``tests.models.audio_loudness``."""
    import torch

    return {"head.weight": torch.tensor([[-8.0], [8.0]]), "head.bias": torch.tensor([1.0, -1.0])}


def means_weights(num_classes: int) -> dict:
    import torch

    generator = torch.Generator().manual_seed(num_classes)
    return {"head.weight": torch.randn(num_classes, 3, generator=generator) * 4, "head.bias": torch.randn(num_classes, generator=generator)}


def write(folder: Path, model_py: str = MEANS, num_classes: int = 3, modality: str = "image", dtype: str = "float32", resize=(32, 32), weights=None, **preprocessing) -> Path:
    """A submission folder: model.py, model_config.yaml and model.safetensors (weights of the
    ``Means`` network unless given)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(model_py)
    config = {"name": folder.name, "version": "1", "modality": modality, "dtype": dtype, "preprocessing": ({"resize": list(resize)} if resize else {}) | preprocessing, "model": {"num_classes": num_classes}}
    (folder / "model_config.yaml").write_text(yaml.safe_dump(config))
    save_file(weights if weights is not None else means_weights(num_classes), str(folder / "model.safetensors"))
    return folder
