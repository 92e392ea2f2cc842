"""Fixed-noise sample grids."""

from __future__ import annotations

import torch
from torchvision.io import read_image

from biogans.core.samples import fixed_noise, sample_sheet, to_rgb, write_png


def test_fixed_noise_is_fixed_by_seed():
    assert torch.equal(fixed_noise(64, 100, 0, seed=3), fixed_noise(64, 100, 0, seed=3))
    assert not torch.equal(fixed_noise(64, 100, 0, seed=3), fixed_noise(64, 100, 0, seed=4))


def test_separable_noise_comes_in_groups_of_eight_sharing_red():
    z = fixed_noise(64, 100, red_nz=50, seed=0)
    red, green = z[:, :50].view(8, 8, 50), z[:, 50:].view(8, 8, 50)
    assert (red == red[:, :1]).all()  # one red noise per group
    assert len({tuple(r[0].tolist()) for r in red}) == 8  # different between groups
    assert len({tuple(g.tolist()) for g in green.reshape(64, 50)}) == 64  # every green noise differs


def test_joint_model_noise_has_no_groups():
    z = fixed_noise(64, 100, red_nz=0, seed=0)
    assert len({tuple(v.tolist()) for v in z[:, :50]}) == 64


def test_rgb_puts_red_in_r_green_in_g_and_zero_blue():
    images = torch.stack([torch.full((4, 6), -1.0), torch.full((4, 6), 1.0)])[None]
    rgb = to_rgb(images)
    assert rgb.shape == (1, 3, 4, 6)
    assert rgb[0, 0].max() == 0 and rgb[0, 1].min() == 1 and rgb[0, 2].max() == 0


def test_sheet_png_layout(tmp_path):
    joint = torch.rand(64, 2, 48, 80) * 2 - 1
    grid = sample_sheet(joint)
    assert grid.shape == (3, 8 * 50 + 2, 8 * 82 + 2)
    write_png(grid, tmp_path / "s.png")
    png = read_image(str(tmp_path / "s.png"))
    assert png.shape == grid.shape and png.dtype == torch.uint8
    conditional = torch.rand(6, 64, 2, 48, 80) * 2 - 1
    grid = sample_sheet(conditional)  # 8 rows (latent vectors) x 6 columns (classes)
    assert grid.shape == (3, 8 * 50 + 2, 6 * 82 + 2)
    # row r, column c shows class c of latent vector 8 r (one per group of shared red noise)
    cell = grid[:, 2 + 3 * 50 : 2 + 3 * 50 + 48, 2 + 4 * 82 : 2 + 4 * 82 + 80]
    assert torch.allclose(cell, to_rgb(conditional[4, 24]), atol=1e-6)
