"""An image submission in the leaderboard's PyTorch format: the demo detector of
data/models/demo_image.onnx (a logistic regression on 12 colour and sharpness statistics) as a
torch module. Input: uint8 (B, 3, 224, 224) RGB; output: (B, 3) logits [real, synthetic,
semisynthetic]. The model casts inside forward, to the dtype its weights were given."""

import torch
from safetensors.torch import load_file
from torch import nn

EPS = 1e-4


class StatsDetector(nn.Module):
    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.register_buffer("feat_mean", torch.zeros(1, 12))
        self.register_buffer("feat_std", torch.ones(1, 12))
        self.linear = nn.Linear(12, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3))
        std = ((x - mean[:, :, None, None]) ** 2).mean(dim=(2, 3)).sqrt()
        chroma = x.amax(dim=1) - x.amin(dim=1)
        chroma_mean = chroma.mean(dim=(1, 2))
        chroma_std = ((chroma - chroma_mean[:, None, None]) ** 2).mean(dim=(1, 2)).sqrt()
        grey = x.mean(dim=1)
        dx = (grey[:, :, 1:] - grey[:, :, :-1]).abs().mean(dim=(1, 2))
        dy = (grey[:, 1:, :] - grey[:, :-1, :]).abs().mean(dim=(1, 2))
        dx2 = (grey[:, :, 2:] - grey[:, :, :-2]).abs().mean(dim=(1, 2))
        lap = grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1] + grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:] - 4 * grey[:, 1:-1, 1:-1]
        lap = lap.abs().mean(dim=(1, 2))
        logs = torch.stack([dx, dy, dx2, lap], dim=1).add(EPS).log()
        return torch.cat([mean, std, chroma_mean[:, None], chroma_std[:, None], logs], dim=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image.to(self.linear.weight.dtype) / 255.0
        z = (self.features(x) - self.feat_mean) / self.feat_std
        return self.linear(z)


def load_model(weights_path: str, num_classes: int = 3, **kwargs) -> nn.Module:
    model = StatsDetector(num_classes)
    model.load_state_dict(load_file(weights_path))
    return model
