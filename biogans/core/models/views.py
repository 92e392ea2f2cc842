"""Views of one generator as another: the multi-channel generator seen as a star-shaped one.

The multi-channel generator renders ``(B, n_classes + 1, H, W)``: channel 0 is red and
channel ``c + 1`` the green of class ``c``.  For evaluation (two-sample tests, movies) it
is viewed as a star-shaped generator: image ``c = [channel 0, channel c + 1]``, stacked to
``(n_classes, B, 2, H, W)``.
"""

from __future__ import annotations

import torch
from torch import nn


def star_view(images: torch.Tensor) -> torch.Tensor:
    """``(B, n + 1, H, W)`` multi-channel images as ``(n, B, 2, H, W)`` star-shaped ones."""
    if images.dim() != 4 or images.shape[1] < 2:
        raise ValueError(f"expected multi-channel images (B, n_classes + 1, H, W), got {tuple(images.shape)}")
    batch, channels, h, w = images.shape
    n = channels - 1
    red = images[:, :1].expand(batch, n, h, w)
    return torch.stack([red, images[:, 1:]], dim=2).transpose(0, 1)


class StarView(nn.Module):
    """Wraps a multi-channel generator so that it renders like a star-shaped one."""

    conditional = True

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        self.nz = generator.nz
        self.red_nz = generator.red_nz
        self.n_towers = generator.nc - 1

    def forward(self, z: torch.Tensor, tower: int | None = None) -> torch.Tensor:
        images = star_view(self.generator(z))
        return images if tower is None else images[tower]
