"""Cell-cycle movies: slerp, the latent path, rendering of every generator kind, the entry point."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from conftest import run_in_process
from PIL import Image, ImageSequence

from biogans.config import PAPER_6_CLASSES
from biogans.core.checkpoint import save_checkpoint
from biogans.core.errors import BiogansError, CheckpointError, ConfigError
from biogans.core.models import build_generator
from biogans.core.samples import fixed_noise
from biogans.tasks.movie import (
    check_points,
    choose_points,
    frames_to_rgb_panels,
    latent_path,
    render_frames,
    render_images,
    slerp,
    strip_indices,
)

H, W = 48, 80
CLASSES = ["Alp14", "Arp3", "Cki2"]


def spec(kind: str, separable: bool = True, n_classes: int = 3, nz: int = 20) -> dict:
    return {
        "name": f"test_{kind}",
        "kind": kind,
        "separable": separable,
        "red_portion": 0.5,
        "nz": nz,
        "ngf": 8,
        "ndf": 8,
        "n_classes": n_classes,
        "class_names": CLASSES[:n_classes],
        "image_size": [H, W],
        "critic_batchnorm": False,
    }


def angle(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return math.acos(max(-1.0, min(1.0, float(a @ b / (a.norm() * b.norm())))))


# --------------------------------------------------------------------------- slerp and paths


def test_slerp_endpoints_are_exact():
    a, b = torch.randn(2, 100, generator=torch.Generator().manual_seed(1))
    out = slerp(a, b, torch.tensor([0.0, 0.3, 1.0]))
    assert out.shape == (3, 100) and out.dtype == a.dtype
    assert torch.equal(out[0], a) and torch.equal(out[-1], b)


def test_slerp_keeps_unit_vectors_on_the_sphere_and_halves_the_angle():
    a, b = torch.nn.functional.normalize(torch.randn(2, 50, generator=torch.Generator().manual_seed(2)), dim=1)
    out = slerp(a, b, torch.linspace(0, 1, 11))
    assert torch.allclose(out.norm(dim=1), torch.ones(11), atol=1e-6)
    mid = slerp(a, b, torch.tensor([0.5]))[0]
    assert angle(a, mid) == pytest.approx(angle(a, b) / 2, abs=1e-6)
    assert angle(mid, b) == pytest.approx(angle(a, b) / 2, abs=1e-6)
    # the angle to a grows linearly in t
    assert [angle(a, v) for v in out] == pytest.approx([angle(a, b) * t / 10 for t in range(11)], abs=1e-5)


def test_slerp_of_parallel_vectors_falls_back_to_linear():
    a = torch.randn(30, generator=torch.Generator().manual_seed(3))
    t = torch.linspace(0, 1, 5)
    out = slerp(a, 3 * a, t)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, (1 - t)[:, None] * a + t[:, None] * 3 * a, atol=1e-6)
    assert torch.allclose(slerp(a, a, t), a.expand(5, -1))


def test_latent_path_has_2_steps_minus_1_frames_through_the_three_points():
    start, middle, end = torch.randn(3, 100, generator=torch.Generator().manual_seed(4))
    path = latent_path(start, middle, end, 64)
    assert path.shape == (127, 100)
    assert torch.equal(path[0], start) and torch.equal(path[63], middle) and torch.equal(path[-1], end)
    assert len({tuple(v.tolist()) for v in path}) == 127  # the middle frame is not repeated
    with pytest.raises(ConfigError, match="steps"):
        latent_path(start, middle, end, 1)


def test_points_are_checked_and_default_ones_come_from_three_groups():
    assert check_points([3, 17, 42], 64) == [3, 17, 42]
    for bad, words in [([1, 2], "three ints"), ([1, 1, 2], "different"), ([0, 5, 64], "64"), ([-1, 2, 3], "-1")]:
        with pytest.raises(ConfigError, match="points=") as info:
            check_points(bad, 64)
        assert words in str(info.value)
    points = choose_points(64, seed=0)
    assert points == choose_points(64, seed=0) and len({p // 8 for p in points}) == 3
    assert len(set(choose_points(5, seed=1))) == 3


def test_strip_indices_are_evenly_spaced_from_first_to_last():
    assert strip_indices(127, 8) == [0, 18, 36, 54, 72, 90, 108, 126]
    assert strip_indices(9, 20) == list(range(9))
    assert strip_indices(9, 1) == [0]


# --------------------------------------------------------------------------- rendering


@pytest.mark.parametrize(
    ("kind", "separable", "n_columns"),
    [("star", True, 3), ("independent", False, 3), ("independent", True, 3), ("multichannel", True, 3),
     ("joint", True, 1), ("joint", False, 1)],
)  # fmt: skip
def test_render_frames_of_every_kind(kind, separable, n_columns):
    torch.manual_seed(0)
    g = build_generator(spec(kind, separable))
    g.train()
    z = fixed_noise(7, g.nz, g.red_nz, seed=0)
    frames = render_frames(g, z, chunk=3)  # several forward passes
    assert frames.shape == (7, 1 + n_columns, H, W)
    assert frames.min() >= 0 and frames.max() <= 1
    assert g.training  # the caller's mode is restored
    # eval mode: a frame does not depend on the rest of its batch
    assert torch.allclose(render_frames(g, z[2:3]), frames[2:3], atol=1e-6)
    images = render_images(g, z)
    assert images.shape == (7, n_columns, 2, H, W)
    assert torch.allclose(frames[:, 0], images[:, 0, 0], atol=1e-6)  # red alone: (class 0's) red
    if kind != "independent":  # one red for every class
        assert torch.equal(images[:, :, 0], images[:, :1, 0].expand_as(images[:, :, 0]))


def test_rgb_panels_put_red_alone_first_then_each_class():
    frames = torch.rand(4, 3, H, W)
    panels = frames_to_rgb_panels(frames, scale=1)
    assert panels.shape == (4, 3, H, 3 * W)
    assert torch.equal(panels[:, 0, :, :W], frames[:, 0]) and not panels[:, 1:, :, :W].any()
    assert torch.equal(panels[:, 1, :, 2 * W :], frames[:, 2]) and torch.equal(panels[:, 0, :, 2 * W :], frames[:, 0])
    big = frames_to_rgb_panels(frames, scale=2)
    assert big.shape == (4, 3, 2 * H, 6 * W) and big.min() >= 0 and big.max() <= 1


# --------------------------------------------------------------------------- the entry point


def test_movie_of_a_2017_star_file_names_the_paper_classes(tmp_path):
    from test_legacy import RefStarG, randomise, save_legacy

    torch.manual_seed(0)
    ref = randomise(RefStarG(100, 8, 6), torch.randn(16, 100))
    path = save_legacy(tmp_path / "netG_iter_50000.pth", ref.legacy_state())
    out = tmp_path / "movie"
    run_in_process("interpolate", f"generator={path}", "model=star", "steps=3", run_dir=out)
    info = json.loads((out / "interpolation.json").read_text())
    assert info["kind"] == "star" and info["model"] == "star" and info["frames"] == 5
    assert info["classes"] == list(PAPER_6_CLASSES) and info["channels"] == ["red", *PAPER_6_CLASSES]


def read_gif(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(im)]


def test_movie_of_a_star_generator(star_checkpoint, tmp_path):
    """(``star_checkpoint``: a real, briefly trained star-shaped generator from the trainer, see conftest.)"""
    out = tmp_path / "movie"
    proc = run_in_process("interpolate", f"generator={star_checkpoint}", "steps=5", "points=[3,17,42]", run_dir=out)
    assert "9 frames" in proc.stdout
    info = json.loads((out / "interpolation.json").read_text())
    classes = info["classes"]
    n, t, s, cap = len(classes), 9, info["scale"], info["caption_height"]
    assert n >= 2 and info["kind"] == "star" and s == 2 and cap > 0
    assert info["channels"] == ["red", *classes] and info["points"] == [3, 17, 42]
    assert info["frames"] == t and info["steps"] == 5 and info["seed"] == 0
    assert info["generator"] == str(star_checkpoint.resolve())
    assert len(info["strip_frames"]) == 8 and info["strip_frames"][0] == 0 and info["strip_frames"][-1] == t - 1
    assert all((out / name).is_file() for name in info["files"].values())

    gif = read_gif(out / info["files"]["gif"])
    assert len(gif) == t
    assert gif[0].shape == (s * H + cap, s * W * (1 + n), 3)
    # shared red: the red-alone column equals the red of every class column
    body = gif[0][cap:].astype(int)
    red_alone = body[:, : s * W, 0]
    assert not body[:, : s * W, 1:].any()
    for c in range(1, 1 + n):
        assert np.abs(body[:, c * s * W : (c + 1) * s * W, 0] - red_alone).max() <= 8  # GIF palette rounding

    strip = Image.open(out / info["files"]["strip"])
    assert strip.size == (s * W * (1 + n), len(info["strip_frames"]) * s * H + cap)

    with tifffile.TiffFile(out / info["files"]["tiff"]) as tif:
        series = tif.series[0]
        assert tif.is_ome and series.axes == "TCYX" and series.shape == (t, 1 + n, H, W)
        assert series.dtype == np.uint8
        channels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]["Channel"]
        assert [str(c["Name"]) for c in channels] == ["red", *classes]
        stack = series.asarray()
    # the TIFF's red channel is the GIF's red column before upscaling and palette: compare roughly
    assert stack[0, 0].mean() == pytest.approx(red_alone.mean(), abs=4)


def test_movie_of_a_joint_generator_built_directly(tmp_path):
    torch.manual_seed(0)
    model_spec = spec("joint", separable=True, n_classes=2)
    g = build_generator(model_spec)
    ckpt = tmp_path / "sep.pt"
    save_checkpoint(ckpt, {"iteration": 0, "config": model_spec, "generator": g.state_dict(), "critic": {}})
    out = tmp_path / "movie"
    run_in_process(
        "interpolate", f"generator={ckpt}", "steps=3", "scale=1", "caption=false", "strip_frames=2",
        "batch_size=16", run_dir=out,
    )  # fmt: skip
    info = json.loads((out / "interpolation.json").read_text())
    assert info["classes"] == ["green"] and info["frames"] == 5 and info["caption_height"] == 0
    assert all(0 <= p < 16 for p in info["points"])
    gif = read_gif(out / "cell_cycle.gif")
    assert len(gif) == 5 and gif[0].shape == (H, 2 * W, 3)
    assert Image.open(out / "cell_cycle_strip.png").size == (2 * W, 2 * H)
    assert tifffile.imread(out / "cell_cycle.ome.tif").shape == (5, 2, H, W)


def assert_clean_failure(run_dir: Path, overrides: list[str], error: type[BiogansError], *words: str) -> None:
    """The movie fails with ``error`` naming ``words``: a user error, which the command line shows
    as one line with exit status 1 (tests/test_cli_errors.py checks that turning)."""
    with pytest.raises(error) as info:
        run_in_process("interpolate", *overrides, run_dir=run_dir)
    assert isinstance(info.value, BiogansError)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_bad_points_are_named(star_checkpoint, tmp_path):
    overrides = [f"generator={star_checkpoint}", "points=[0,8,64]"]
    assert_clean_failure(tmp_path, overrides, ConfigError, "points=[0, 8, 64]", "batch_size=64")


def test_missing_and_foreign_generator_files_are_named(tmp_path):
    missing = tmp_path / "nowhere" / "last.pt"
    assert_clean_failure(tmp_path / "a", [f"generator={missing}"], CheckpointError, str(missing), "does not exist")

    foreign = tmp_path / "notes.pt"
    foreign.write_text("not a checkpoint\n")
    assert_clean_failure(
        tmp_path / "b", [f"generator={foreign}"], CheckpointError, str(foreign), "not a readable PyTorch checkpoint"
    )

    state_dict = tmp_path / "netG_iter_50000.pth"
    torch.save({"main.final.64-2.convt.weight": torch.zeros(1)}, state_dict)
    assert_clean_failure(
        tmp_path / "c", [f"generator={state_dict}"], CheckpointError,
        str(state_dict), "not a biogans checkpoint", "model=FAMILY", "try model='dcgan'",
    )  # fmt: skip

    assert_clean_failure(tmp_path / "d", [], ConfigError, "generator=PATH is required")
