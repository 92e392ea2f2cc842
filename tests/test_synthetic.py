"""Tests of the synthetic LIN-like data generator (biogans.core.data.synthetic).

They check what the rest of the project relies on: the on-disk layout read back through
real PNG decoding, determinism, that the red channel is a rod-shaped cell whose geometry
follows the cell-cycle stage, that the green channel follows the red cell in a
class-specific way (so a GAN has a red-green dependency to learn), the cache, and the
argument checks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.io import ImageReadMode, decode_png, read_file

from biogans.core.data import synthetic
from biogans.core.data.synthetic import (
    GENERATOR_VERSION,
    PAPER_CLASSES,
    class_pattern,
    ensure_synthetic,
    render_cells,
    render_cells_with_info,
    write_synthetic_lin,
)
from biogans.core.errors import DataError

H, W = 48, 80


def _read_png(path: Path) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29 codec notice
        return decode_png(read_file(str(path)), ImageReadMode.UNCHANGED)


def _footprint(red: torch.Tensor, threshold: float = 40.0, grow: int = 2) -> torch.Tensor:
    """Filled cell mask from the red channel ``(n, H, W)``: the bright wall, the dim
    interior between wall pixels of a row, then grown by ``grow`` pixels for the blur."""
    wall = red.float() > threshold
    filled = wall.int().cummax(-1).values.bool() & wall.int().flip(-1).cummax(-1).values.flip(-1).bool()
    k = 2 * grow + 1
    return F.max_pool2d(filled.float()[:, None], k, 1, grow)[:, 0] > 0


# ----------------------------------------------------------------------------------------
# render_cells
# ----------------------------------------------------------------------------------------


def test_render_shape_dtype_and_blue_is_zero() -> None:
    images = render_cells("Tea1", 10, seed=0)
    assert images.shape == (10, 3, H, W)
    assert images.dtype == torch.uint8
    assert int(images[:, 2].max()) == 0
    assert images[:, 0].float().mean() > 5 and images[:, 1].float().mean() > 1


@pytest.mark.parametrize(("height", "width"), [(16, 16), (32, 64), (96, 160)])
def test_render_other_sizes(height: int, width: int) -> None:
    images = render_cells("Sid2", 20, seed=0, height=height, width=width)
    assert images.shape == (20, 3, height, width)
    assert int(images[:, 2].max()) == 0
    # the cell scales with the crop: centred, and not taller than wide
    mx, my, cxx, cyy, _ = _moments(images[:, 0])
    assert ((mx - (width - 1) / 2).abs() < 0.15 * width).all()
    assert ((my - (height - 1) / 2).abs() < 0.15 * height).all()
    assert (cxx >= 0.9 * cyy).all()


def test_render_is_deterministic_and_seed_dependent() -> None:
    a = render_cells("Arp3", 70, seed=7)
    b = render_cells("Arp3", 70, seed=7)
    assert torch.equal(a, b)
    c = render_cells("Arp3", 70, seed=8)
    assert not torch.equal(a, c)
    # the class name is part of the seed: same seed, other class, other cells
    d = render_cells("Fim1", 70, seed=7)
    assert not torch.equal(a[:, 0], d[:, 0])


def test_output_does_not_depend_on_the_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 5 * synthetic._chunk_size(H, W) + 3  # several chunks, the last one partial
    threaded = render_cells_with_info("Sid2", n, seed=11)
    monkeypatch.setattr(synthetic, "_MAX_THREADS", 1)
    serial = render_cells_with_info("Sid2", n, seed=11)
    assert torch.equal(threaded[0], serial[0])
    assert torch.equal(threaded[1].stage, serial[1].stage)


# Pixels of version GENERATOR_VERSION == 1.  If a change to the generator alters them on
# purpose, bump GENERATOR_VERSION (so cached datasets are regenerated) and update these.
_GOLDEN_SHA256 = {
    "Tea1": "b60b298f3311b2dad5c7e276ae20b6103b0db6225d669073f5c0e2cf6c3cc89d",
    "Alp14": "e8dd749fdc03a03eff3485e700f64f04d1f97c414eed4de5021448ecb9f41cc0",
}


@pytest.mark.parametrize("name", sorted(_GOLDEN_SHA256))
def test_output_matches_the_recorded_version(name: str) -> None:
    assert GENERATOR_VERSION == 1, "update _GOLDEN_SHA256 together with GENERATOR_VERSION"
    digest = hashlib.sha256(render_cells(name, 40, seed=0).numpy().tobytes()).hexdigest()
    assert digest == _GOLDEN_SHA256[name], "the pixels changed: bump GENERATOR_VERSION and update the hashes"


def test_whole_chunks_do_not_depend_on_n() -> None:
    # Every chunk of cells has its own random stream, so a larger n only appends cells.
    chunk = synthetic._chunk_size(H, W)
    first = render_cells("Cki2", chunk, seed=3)
    large = render_cells("Cki2", chunk + 10, seed=3)
    assert torch.equal(large[:chunk], first)


def test_intensity_histogram_dark_background_bright_cells_little_saturation() -> None:
    images = render_cells("Mkh1", 300, seed=2)
    red, green = images[:, 0].float(), images[:, 1].float()
    assert red.median() < 15, "background must be near zero"
    assert green.median() < 15
    inside = _footprint(images[:, 0], grow=0)
    assert 0.1 < inside.float().mean() < 0.5, "cells fill a minority of the crop"
    assert torch.quantile(red[inside], 0.95) > 80, "cells are bright"
    assert (images[:, :2] == 255).float().mean() < 1e-3, "almost nothing saturates"


# ----------------------------------------------------------------------------------------
# Red channel: a centred, horizontal rod whose length follows the stage
# ----------------------------------------------------------------------------------------


def _moments(red: torch.Tensor) -> tuple[torch.Tensor, ...]:
    img = (red.float() - 10.0).clamp(min=0.0)
    ys, xs = torch.meshgrid(torch.arange(float(red.shape[-2])), torch.arange(float(red.shape[-1])), indexing="ij")
    m = img.sum((1, 2))
    mx = (img * xs).sum((1, 2)) / m
    my = (img * ys).sum((1, 2)) / m
    dx, dy = xs - mx.view(-1, 1, 1), ys - my.view(-1, 1, 1)
    cxx = (img * dx * dx).sum((1, 2)) / m
    cyy = (img * dy * dy).sum((1, 2)) / m
    cxy = (img * dx * dy).sum((1, 2)) / m
    return mx, my, cxx, cyy, cxy


def test_red_is_a_centred_horizontal_elongated_cell() -> None:
    images = render_cells("Alp14", 200, seed=1)
    mx, my, cxx, cyy, cxy = _moments(images[:, 0])
    assert ((mx - (W - 1) / 2).abs() < 8).all(), "cells are roughly centred in x"
    assert ((my - (H - 1) / 2).abs() < 5).all(), "cells are roughly centred in y"
    angle = torch.rad2deg(0.5 * torch.atan2(2 * cxy, cxx - cyy))
    assert angle.abs().max() < 12, "the principal axis is near horizontal"
    assert (cxx > 2.0 * cyy).all(), "the cell is longer than wide"
    cols = (images[:, 0] > 40).any(1).sum(1)
    rows = (images[:, 0] > 40).any(2).sum(1)
    assert (cols > rows).all()


def test_cell_length_grows_with_stage_and_septum_appears_late() -> None:
    images, info = render_cells_with_info("Cki2", 300, seed=4)
    assert info.stage.shape == (300,)
    assert ((info.stage >= 0) & (info.stage <= 1)).all()
    extent = (images[:, 0] > 40).any(1).sum(1).float()
    r_ext, r_stage = (t.argsort().argsort().float() for t in (extent, info.stage))
    spearman = float(torch.corrcoef(torch.stack([r_ext, r_stage]))[0, 1])
    assert spearman > 0.8, f"measured cell length should follow the stage (spearman {spearman:.2f})"
    young, old = info.stage < 0.2, info.stage > 0.8
    assert extent[young].mean() < 0.65 * W < extent[old].mean()
    # Septum: a bright line across the middle of late cells only.
    cx = info.centre_x.round().long()
    band = slice(H // 2 - 6, H // 2 + 6)
    mid = torch.stack([images[i, 0, band, cx[i]].float().mean() for i in range(300)])
    side = torch.stack([images[i, 0, band, cx[i] - 6].float().mean() for i in range(300)])
    ratio = mid / side.clamp(min=1.0)
    assert ratio[info.stage > 0.92].mean() > 2.0
    assert ratio[info.stage < 0.6].mean() < 1.3


# ----------------------------------------------------------------------------------------
# Green channel: follows the red cell, differs by class
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAPER_CLASSES)
def test_green_lies_inside_the_red_cell(name: str) -> None:
    images = render_cells(name, 150, seed=6)
    cell = _footprint(images[:, 0])
    green = images[:, 1].float()
    signal = green > 40  # clearly above the background noise
    assert signal.sum() > 100, f"{name}: green signal expected"
    inside = (signal & cell).sum() / signal.sum()
    assert inside > 0.97, f"{name}: only {float(inside):.3f} of the bright green pixels are inside the cell"
    # and background green stays dark
    assert green[~cell].mean() < 8


def _axial_fractions(name: str, n: int = 300, seed: int = 9) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per cell: share of green mass near the tips, share near the middle, and the stage."""
    images, info = render_cells_with_info(name, n, seed=seed)
    green = (images[:, 1].float() - 8.0).clamp(min=0.0)
    x = torch.arange(float(W)).view(1, 1, W)
    rel = (x - info.centre_x.view(-1, 1, 1)).abs() / (info.length.view(-1, 1, 1) / 2)
    total = green.sum((1, 2)).clamp(min=1.0)
    tips = (green * (rel > 0.7)).sum((1, 2)) / total
    middle = (green * (rel < 0.2)).sum((1, 2)) / total
    return tips, middle, info.stage


def test_class_patterns_differ_along_the_cell_axis() -> None:
    tea1_tips, tea1_mid, tea1_s = _axial_fractions("Tea1")
    cki2_tips, _, _ = _axial_fractions("Cki2")
    sid2_tips, _, _ = _axial_fractions("Sid2")
    _, arp3_mid, arp3_s = _axial_fractions("Arp3")
    # Tea1 is a tip marker; Cki2 (cytoplasm) and Sid2 (dots and ring near the middle) are not.
    assert tea1_tips.mean() > 0.5
    assert tea1_tips.mean() > cki2_tips.mean() + 0.2
    assert tea1_tips.mean() > sid2_tips.mean() + 0.3
    # Arp3 patches move to the division site late; Tea1 stays at the tips.
    late_arp3, late_tea1 = arp3_mid[arp3_s > 0.9].mean(), tea1_mid[tea1_s > 0.9].mean()
    assert late_arp3 > late_tea1 + 0.25
    early_arp3 = arp3_mid[arp3_s < 0.5].mean()
    assert late_arp3 > early_arp3 + 0.25, "the stage drives where Arp3 is"


def test_tea1_is_monopolar_in_young_cells() -> None:
    images, info = render_cells_with_info("Tea1", 400, seed=12)
    green = (images[:, 1].float() - 8.0).clamp(min=0.0)
    x = torch.arange(float(W)).view(1, 1, W)
    right = (green * (x > info.centre_x.view(-1, 1, 1))).sum((1, 2))
    left = (green * (x < info.centre_x.view(-1, 1, 1))).sum((1, 2))
    old_share = torch.where(info.old_end > 0, right, left) / (left + right).clamp(min=1.0)
    assert old_share[info.stage < 0.25].mean() > 0.7, "young cells: signal at the old end"
    assert (old_share[info.stage > 0.6].mean() - 0.5).abs() < 0.12, "older cells: both tips"


def _features(name: str, n: int, seed: int) -> np.ndarray:
    g = F.avg_pool2d(render_cells(name, n, seed=seed)[:, 1:2].float(), 4)[:, 0].flatten(1)
    return (g / g.amax(1, keepdim=True).clamp(min=1.0)).numpy()


def test_a_simple_classifier_separates_classes() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestCentroid

    def accuracy(model: object, names: tuple[str, ...], n: int) -> float:
        # train and test cells come from different seeds
        xtr = np.concatenate([_features(c, n, 20) for c in names])
        xte = np.concatenate([_features(c, n, 21) for c in names])
        y = np.repeat(np.arange(len(names)), n)
        return float((model.fit(xtr, y).predict(xte) == y).mean())

    two = accuracy(LogisticRegression(max_iter=500), ("Tea1", "Cki2"), 150)
    assert two > 0.95, f"Tea1 vs Cki2 accuracy {two:.2f}"
    six = accuracy(NearestCentroid(), ("Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1"), 120)
    print(f"6-class nearest-centroid accuracy on 12x20 green: {six:.2f}")
    assert six > 0.6, f"6-class accuracy {six:.2f} (chance 0.17)"
    # Arp3 and Fim1 are meant to be nearly indistinguishable, as in the real data.
    close = accuracy(LogisticRegression(max_iter=500), ("Arp3", "Fim1"), 150)
    assert close < 0.8, f"Arp3 vs Fim1 accuracy {close:.2f}"


def test_a_nucleus_pattern_exists() -> None:
    # Cki2's cytoplasm is dimmer at the nucleus near the middle of young cells.
    images, info = render_cells_with_info("Cki2", 300, seed=13)
    young = info.stage < 0.6
    green = images[young, 1].float()
    cx = info.centre_x[young].round().long()
    rows = slice(H // 2 - 3, H // 2 + 3)
    centre = torch.stack([green[i, rows, cx[i] - 2 : cx[i] + 3].mean() for i in range(len(cx))])
    flank = torch.stack([green[i, rows, cx[i] + 7 : cx[i] + 12].mean() for i in range(len(cx))])
    assert (centre / flank.clamp(min=1.0)).median() < 0.85


def test_unknown_class_names_work_and_are_deterministic() -> None:
    a = render_cells("MyProtein", 20, seed=1)
    assert a.shape == (20, 3, H, W) and int(a[:, 2].max()) == 0
    assert torch.equal(a, render_cells("MyProtein", 20, seed=1))
    assert class_pattern("MyProtein") in {"filaments", "patches", "diffuse", "spb_ring", "tips"}
    assert class_pattern("MyProtein") == class_pattern("MyProtein")
    # the green of an unknown class still sits inside its cell
    cell = _footprint(a[:, 0])
    signal = a[:, 1] > 40
    assert (signal & cell).sum() / signal.sum().clamp(min=1) > 0.95
    # different unknown names give different patterns or parameters
    b = render_cells("OtherProtein", 20, seed=1)
    assert not torch.equal(a[:, 1], b[:, 1])


# ----------------------------------------------------------------------------------------
# On disk
# ----------------------------------------------------------------------------------------


def test_write_synthetic_lin_layout_and_png_content(tmp_path: Path) -> None:
    classes = ["Tea1", "Cki2", "Custom_1"]
    train, test = write_synthetic_lin(tmp_path, classes, n_train=6, n_test=4, seed=3)
    assert train == tmp_path / "LIN_Synthetic_size-48-80_train"
    assert test == tmp_path / "LIN_Synthetic_size-48-80_test"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([train.name, test.name]), "no temp leftovers"
    for split, n in ((train, 6), (test, 4)):
        assert sorted(p.name for p in split.iterdir()) == sorted(classes)
        for name in classes:
            files = sorted((split / name).iterdir())
            assert [p.name for p in files] == [f"cell_{i:05d}.png" for i in range(n)]
            for f in files:
                image = _read_png(f)
                assert image.shape == (3, H, W) and image.dtype == torch.uint8
                assert int(image[2].max()) == 0
    # train and test images of a class differ; re-writing elsewhere gives the same pixels
    a = _read_png(train / "Tea1" / "cell_00000.png")
    b = _read_png(test / "Tea1" / "cell_00000.png")
    assert not torch.equal(a, b)
    again, _ = write_synthetic_lin(tmp_path / "again", classes, n_train=6, n_test=4, seed=3)
    assert torch.equal(a, _read_png(again / "Tea1" / "cell_00000.png"))


def test_written_data_reads_through_the_lin_reader(tmp_path: Path) -> None:
    from biogans.core.data.lin import read_lin_folder

    train, _ = write_synthetic_lin(tmp_path, ["Sid2", "Arp3"], n_train=5, n_test=2, seed=0)
    folder = read_lin_folder(train)
    assert folder.class_names == ["Arp3", "Sid2"]
    assert folder.images.shape == (10, 2, H, W)
    pngs = torch.stack([_read_png(train / f)[:2] for f in folder.files])
    assert torch.equal(folder.images, pngs)


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "LIN_Synthetic_size-48-80_test").mkdir()
    with pytest.raises(DataError, match="LIN_Synthetic_size-48-80_test"):
        write_synthetic_lin(tmp_path, ["Tea1"], 2, 2, seed=0)


def test_write_keeps_a_destination_that_appeared_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = synthetic._write_class
    dest = tmp_path / "LIN_Synthetic_size-48-80_train"

    def racing_write(folder: Path, images: torch.Tensor) -> None:
        real(folder, images)
        if not dest.exists():  # another process finishes first
            (dest / "Tea1").mkdir(parents=True)
            (dest / "Tea1" / "theirs.txt").write_text("theirs")

    monkeypatch.setattr(synthetic, "_write_class", racing_write)
    train, test = write_synthetic_lin(tmp_path, ["Tea1"], 3, 2, seed=0)
    assert (train / "Tea1" / "theirs.txt").read_text() == "theirs"
    assert not (train / "Tea1" / "cell_00000.png").exists()
    assert len(list((test / "Tea1").iterdir())) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp folder removed"


def test_crash_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = synthetic._write_class
    calls = []

    def failing_write(folder: Path, images: torch.Tensor) -> None:
        calls.append(folder)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real(folder, images)

    monkeypatch.setattr(synthetic, "_write_class", failing_write)
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_synthetic(tmp_path, ["Tea1", "Cki2"], 3, 2, seed=0)
    assert list(tmp_path.iterdir()) == [], "no dataset and no temp folder after a crash"


# ----------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------


def test_ensure_synthetic_generates_once_and_reuses(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="biogans.core.data.synthetic")
    train, test = ensure_synthetic(tmp_path, ["Tea1", "Alp14"], 4, 3, seed=1)
    assert train.parent == test.parent and train.parent.parent == tmp_path
    assert len(list((train / "Alp14").glob("*.png"))) == 4
    assert len(list((test / "Tea1").glob("*.png"))) == 3
    generated = [r for r in caplog.records if "generated" in r.getMessage()]
    assert len(generated) == 1 and " s " in generated[0].getMessage()

    manifest = json.loads((train.parent / "manifest.json").read_text())
    assert manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["classes"] == ["Tea1", "Alp14"] and manifest["n_train"] == 4 and manifest["seed"] == 1

    files = sorted(train.parent.rglob("*"))
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    time.sleep(0.02)
    caplog.clear()
    assert ensure_synthetic(tmp_path, ["Tea1", "Alp14"], 4, 3, seed=1) == (train, test)
    assert sorted(train.parent.rglob("*")) == files
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes, "a cache hit must not rewrite anything"
    assert not [r for r in caplog.records if "generated" in r.getMessage()]

    other, _ = ensure_synthetic(tmp_path, ["Tea1", "Alp14"], 5, 3, seed=1)
    assert other.parent != train.parent
    other_seed, _ = ensure_synthetic(tmp_path, ["Tea1", "Alp14"], 4, 3, seed=2)
    assert other_seed.parent not in (train.parent, other.parent)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_ensure_synthetic_replaces_an_incomplete_folder(tmp_path: Path) -> None:
    train, _ = ensure_synthetic(tmp_path, ["Tea1"], 2, 2, seed=0)
    key_dir = train.parent
    (key_dir / "manifest.json").unlink()  # as if someone broke it
    (train / "Tea1" / "cell_00000.png").unlink()
    train2, _ = ensure_synthetic(tmp_path, ["Tea1"], 2, 2, seed=0)
    assert train2 == train
    assert (key_dir / "manifest.json").exists()
    assert (train / "Tea1" / "cell_00000.png").exists()


def test_ensure_synthetic_removes_stale_temporaries_only(tmp_path: Path) -> None:
    train, _ = ensure_synthetic(tmp_path, ["Tea1"], 2, 2, seed=0)
    key = train.parent.name
    shutil.rmtree(train.parent)
    stale = tmp_path / f".{key}.tmp-killed"
    live = tmp_path / f".{key}.tmp-running"
    stale.mkdir()
    live.mkdir()
    day_ago = time.time() - 24 * 3600
    os.utime(stale, (day_ago, day_ago))
    ensure_synthetic(tmp_path, ["Tea1"], 2, 2, seed=0)
    assert not stale.exists(), "a day-old temporary folder is removed"
    assert live.exists(), "a recent one may belong to a running process and is kept"


# ----------------------------------------------------------------------------------------
# Speed and argument checks
# ----------------------------------------------------------------------------------------


def test_rendering_is_fast() -> None:
    # A very generous bound (a few thousand images/s are expected): it catches an
    # accidental per-pixel Python loop, not a slow machine.
    start = time.perf_counter()
    images = render_cells("Alp14", 2000, seed=0)
    elapsed = time.perf_counter() - start
    print(f"render_cells: {2000 / elapsed:.0f} images/s")
    assert images.shape[0] == 2000
    assert elapsed < 20.0


@pytest.mark.parametrize(
    ("kwargs", "culprit"),
    [
        ({"n_train": 0}, "n_train"),
        ({"n_test": -3}, "-3"),
        ({"classes": []}, "empty"),
        ({"classes": ["Tea1", "Tea1"]}, "'Tea1'"),
        ({"classes": ["Tea1", "tea1"]}, "'tea1'"),
        ({"classes": "Tea1"}, "'Tea1'"),
        ({"classes": ["a/b"]}, "'a/b'"),
        ({"classes": [".hidden"]}, "'.hidden'"),
        ({"classes": [""]}, "''"),
        ({"height": 8}, "height=8"),
        ({"width": 12}, "width=12"),
        ({"seed": -1}, "-1"),
        ({"n_train": 2.5}, "2.5"),
    ],
)
def test_bad_arguments_raise_data_error(tmp_path: Path, kwargs: dict, culprit: str) -> None:
    args = {"classes": ["Tea1"], "n_train": 2, "n_test": 2, "seed": 0, "height": H, "width": W, **kwargs}
    with pytest.raises(DataError) as err:
        write_synthetic_lin(tmp_path, **args)
    assert culprit in str(err.value)
    with pytest.raises(DataError) as err2:
        ensure_synthetic(tmp_path / "cache", **args)
    assert culprit in str(err2.value)
    assert not os.path.exists(tmp_path / "cache"), "nothing is created for bad arguments"


@pytest.mark.parametrize(
    ("args", "culprit"),
    [(("Tea1", 0, 0), "n"), (("", 3, 0), "''"), (("Tea1", 3, -2), "-2")],
)
def test_render_bad_arguments(args: tuple, culprit: str) -> None:
    with pytest.raises(DataError) as err:
        render_cells(*args)
    assert culprit in str(err.value)
    with pytest.raises(DataError, match="height=10"):
        render_cells("Tea1", 1, 0, height=10)
