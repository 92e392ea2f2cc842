"""Fixed-noise sample grids: two-channel images shown as RGB (red in R, green in G)."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.io import encode_png
from torchvision.utils import make_grid

from biogans.core.files import atomic_write


def fixed_noise(n: int, nz: int, red_nz: int, seed: int, group: int = 8) -> torch.Tensor:
    """``n`` latent vectors, the same for every run with this seed.

    For a separable generator (``red_nz > 0``) the vectors come in groups of ``group``
    that share their red noise, so a grid row shows one cell shape with several green
    patterns.
    """
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, nz, generator=rng)
    if red_nz:
        n_groups = -(-n // group)
        red = torch.randn(n_groups, red_nz, generator=rng)
        z[:, :red_nz] = red.repeat_interleave(group, dim=0)[:n]
    return z


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """``(..., 2, H, W)`` in [-1, 1] to ``(..., 3, H, W)`` in [0, 1]: R = red, G = green, B = 0."""
    unit = (images.detach().float().clamp(-1, 1) + 1) / 2
    return torch.cat([unit, torch.zeros_like(unit[..., :1, :, :])], dim=-3)


def sample_sheet(images: torch.Tensor, nrow: int = 8, max_rows: int = 8) -> torch.Tensor:
    """A grid (3, H', W') in [0, 1] of generated images.

    ``(B, 2, H, W)``: ``nrow`` images a row.  ``(n_classes, B, 2, H, W)``: one row per
    latent vector, one column per class; the ``max_rows`` vectors are spread evenly over
    the batch (every 8th of 64), so with separable models' groups of 8 each row is a
    different cell.
    """
    if images.dim() == 5:
        n_classes, batch = images.shape[:2]
        stride = max(1, batch // max_rows)
        picked = images[:, ::stride][:, :max_rows]
        rows = picked.transpose(0, 1).reshape(-1, *images.shape[2:])
        return make_grid(to_rgb(rows), nrow=n_classes, padding=2, pad_value=1.0)
    return make_grid(to_rgb(images), nrow=nrow, padding=2, pad_value=1.0)


def write_png(grid: torch.Tensor, path: str | Path) -> None:
    """Write a (3, H, W) float grid in [0, 1] as an 8-bit PNG, atomically."""
    data = encode_png((grid.clamp(0, 1) * 255).round().to(torch.uint8).cpu())
    atomic_write(path, lambda f: f.write(data.numpy().tobytes()))
