"""A video submission in the leaderboard's PyTorch format: per-clip colour and motion statistics
and a linear layer. Input: uint8 (B, T, 3, 112, 112) RGB with any T; output: (B, 2) logits
[real, synthetic]. Its weights are seeded, not trained: it shows the format, not detection."""

import torch
from safetensors.torch import load_file
from torch import nn


class MotionStats(nn.Module):
    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.linear = nn.Linear(8, num_classes)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = clip.to(self.linear.weight.dtype) / 255.0  # (B, T, 3, H, W)
        mean = x.mean(dim=(1, 3, 4))
        std = ((x - mean[:, None, :, None, None]) ** 2).mean(dim=(1, 3, 4)).sqrt()
        grey = x.mean(dim=2)  # (B, T, H, W)
        motion = (grey[:, 1:] - grey[:, :-1]).abs().mean(dim=(1, 2, 3)) if grey.shape[1] > 1 else grey.new_zeros(grey.shape[0])
        edges = (grey[:, :, :, 1:] - grey[:, :, :, :-1]).abs().mean(dim=(1, 2, 3))
        return self.linear(torch.cat([mean, std, motion[:, None], edges[:, None]], dim=1))


def load_model(weights_path: str, num_classes: int = 2, **kwargs) -> nn.Module:
    model = MotionStats(num_classes)
    model.load_state_dict(load_file(weights_path))
    return model
