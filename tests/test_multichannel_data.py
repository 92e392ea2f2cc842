"""Fake multi-channel training data: the red nearest-neighbour table, its cache, the composite
images and the batch sampler built on them, and one training run of the multi-channel model."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch
from conftest import TINY, read_metrics, run_in_process

from biogans.core.data.batches import normalise
from biogans.core.data.lin import LinFolder
from biogans.core.data.multichannel import (
    MultichannelBatches,
    cached_red_neighbour_table,
    composite,
    multichannel_batches,
    red_neighbour_table,
)
from biogans.core.errors import DataError

H, W = 6, 10


def make_folder(counts: list[int], seed: int = 0, levels: int = 256, background: float = 0.4) -> LinFolder:
    """Random two-channel images, grouped by class; about ``background`` of the red pixels are 0.

    ``levels`` limits the red values (a small value makes many exactly tied distances).
    """
    g = torch.Generator().manual_seed(seed)
    n = sum(counts)
    red = torch.randint(1, levels, (n, H, W), generator=g)
    red = red * (torch.rand(n, H, W, generator=g) >= background)
    green = torch.randint(0, 256, (n, H, W), generator=g)
    images = torch.stack([red, green], dim=1).to(torch.uint8)
    labels = torch.cat([torch.full((c,), i, dtype=torch.int64) for i, c in enumerate(counts)])
    names = [f"Class{i}" for i in range(len(counts))]
    files = [f"{names[int(label)]}/cell{i:04d}.png" for i, label in enumerate(labels)]
    return LinFolder(root=Path("/nowhere"), images=images, labels=labels, class_names=names, files=files)


def brute_force_table(folder: LinFolder, k: int = 5) -> torch.Tensor:
    """The table one pair at a time: L2 on red in [0, 1] (float64), nearest first.

    Equal distances (equal up to float rounding: every true squared distance is a
    multiple of 1/255^2) go to the smaller index.
    """
    red = folder.images[:, 0].double() / 255.0
    n, n_classes = len(folder.images), len(folder.class_names)
    out = torch.empty(n, n_classes, k, dtype=torch.int64)
    for i in range(n):
        for c in range(n_classes):
            candidates = []
            for j in range(n):
                if int(folder.labels[j]) != c or j == i:
                    continue
                dist = float(torch.sqrt(((red[i] - red[j]) ** 2).sum()))
                candidates.append((round(dist * dist * 255**2), j))
            out[i, c] = torch.tensor([j for _, j in sorted(candidates)[:k]])
    return out


# ----------------------------------------------------------------------------- the table
def test_table_matches_brute_force_and_never_lists_the_image_itself():
    folder = make_folder([20, 20, 20], seed=1)
    table = red_neighbour_table(folder)
    assert table.dtype == torch.int64 and table.shape == (60, 3, 5)
    assert torch.equal(table, brute_force_table(folder))
    own = table[torch.arange(60), folder.labels]
    assert not (own == torch.arange(60)[:, None]).any()
    assert (folder.labels[table] == torch.arange(3)[None, :, None]).all()


def test_ties_go_to_the_smaller_index_and_a_duplicate_is_the_nearest():
    folder = make_folder([12, 9, 15], seed=2, levels=3, background=0.3)  # red values 0..2: many ties
    folder.images[5, 0] = folder.images[30, 0]  # a copy of image 30's red in class 0
    table = red_neighbour_table(folder, chunk=4)
    assert torch.equal(table, brute_force_table(folder))
    assert table[30, 0, 0] == 5 and table[5, 2, 0] == 30


def test_chunked_equals_unchunked_and_k_is_honoured():
    folder = make_folder([14, 9, 11, 8], seed=3)
    whole = red_neighbour_table(folder, chunk=10_000)
    for chunk in (3, 8, 13):
        assert torch.equal(red_neighbour_table(folder, chunk=chunk), whole)
    small = make_folder([6, 7], seed=3)
    assert torch.equal(red_neighbour_table(small, chunk=1), red_neighbour_table(small))
    assert torch.equal(red_neighbour_table(folder, k=2), whole[..., :2])
    assert torch.equal(red_neighbour_table(folder, k=7), brute_force_table(folder, k=7))


def test_a_class_too_small_for_five_neighbours_is_a_data_error_naming_it():
    red_neighbour_table(make_folder([6, 7]))  # 5 neighbours besides itself: enough
    with pytest.raises(DataError, match=r"'Class1' has 5") as info:
        red_neighbour_table(make_folder([8, 5, 9]))
    assert "at least 6 images per class" in str(info.value)
    with pytest.raises(DataError, match="Class0"):
        cached_red_neighbour_table(make_folder([3, 8]), "/nonexistent-cache-never-written")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_table_is_the_same_on_the_gpu():
    folder = make_folder([40, 30, 50], seed=4)
    assert torch.equal(red_neighbour_table(folder, device="cuda", chunk=16).cpu(), red_neighbour_table(folder))


# ----------------------------------------------------------------------------- the cache
def test_cache_is_reused_then_rebuilt_when_a_red_pixel_changes(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="biogans.core.data.multichannel")
    folder = make_folder([10, 12, 8], seed=5)
    first = cached_red_neighbour_table(folder, tmp_path)
    files = list((tmp_path / "red_nn").glob("*.pt"))
    assert len(files) == 1 and "built the red nearest-neighbour table" in caplog.text
    assert torch.equal(first, red_neighbour_table(folder))
    stamp = files[0].stat().st_mtime_ns

    caplog.clear()
    again = cached_red_neighbour_table(folder, tmp_path)
    assert torch.equal(again, first)
    assert files[0].stat().st_mtime_ns == stamp
    assert "reusing" in caplog.text and "built" not in caplog.text

    caplog.clear()
    folder.images[3, 1, 2, 2] ^= 0xFF  # a green pixel: the table does not depend on green
    cached_red_neighbour_table(folder, tmp_path)
    assert "reusing" in caplog.text

    caplog.clear()
    folder.images[3, 0, 2, 2] = 255 - folder.images[3, 0, 2, 2]  # one red pixel, same file names
    changed = cached_red_neighbour_table(folder, tmp_path)
    assert "built" in caplog.text
    assert len(list((tmp_path / "red_nn").glob("*.pt"))) == 2
    assert torch.equal(changed, brute_force_table(folder))


def test_the_key_covers_labels_and_k(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="biogans.core.data.multichannel")
    folder = make_folder([10, 10], seed=6)
    cached_red_neighbour_table(folder, tmp_path)
    relabelled = make_folder([10, 10], seed=6)
    relabelled.labels[[0, 19]] = relabelled.labels[[19, 0]]
    caplog.clear()
    assert torch.equal(cached_red_neighbour_table(relabelled, tmp_path), brute_force_table(relabelled))
    assert "built" in caplog.text
    caplog.clear()
    assert cached_red_neighbour_table(folder, tmp_path, k=3).shape == (20, 2, 3)
    assert "built" in caplog.text


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_shape", "out_of_range", "self_listed"])
def test_a_corrupt_cache_file_is_rebuilt_with_a_warning(tmp_path, caplog, damage):
    caplog.set_level(logging.INFO, logger="biogans.core.data.multichannel")
    folder = make_folder([9, 7, 8], seed=7)
    good = cached_red_neighbour_table(folder, tmp_path)
    (path,) = (tmp_path / "red_nn").glob("*.pt")
    if damage == "garbage":
        path.write_bytes(b"not a torch file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    else:
        payload = torch.load(path, weights_only=True)
        if damage == "wrong_shape":
            payload["table"] = payload["table"][:, :, :4]
        elif damage == "out_of_range":
            payload["table"][0, 0, 0] = 24
        else:
            payload["table"][0, 0, 0] = 0  # image 0 (class 0) as its own neighbour
        torch.save(payload, path)
    caplog.clear()
    rebuilt = cached_red_neighbour_table(folder, tmp_path)
    assert torch.equal(rebuilt, good)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()
    assert "built" in caplog.text
    assert torch.equal(torch.load(path, weights_only=True)["table"], good)  # the file was repaired


# ------------------------------------------------------------------------- the composite
def _expected_channels(folder: LinFolder, i: int, mask_from: str) -> list[list[torch.Tensor]]:
    """For image ``i``: channel 0, then for each class the channels a draw may give."""
    images, table = folder.images, red_neighbour_table(folder)
    red, green = images[:, 0], images[:, 1]
    own_mask = red[i] > 0
    out = [[red[i] * own_mask]]
    for c in range(len(folder.class_names)):
        if c == int(folder.labels[i]):
            out.append([green[i] * own_mask])
        else:
            out.append([green[j] * ((red[j] > 0) if mask_from == "neighbour" else own_mask) for j in table[i, c]])
    return out


@pytest.mark.parametrize("mask_from", ["neighbour", "target"])
def test_composite_takes_own_channels_and_one_listed_neighbour_per_other_class(mask_from):
    folder = make_folder([10, 12, 9, 11], seed=8)
    table = red_neighbour_table(folder)
    idx = torch.tensor([0, 3, 10, 21, 22, 41, 33, 3])
    out = composite(folder.images, folder.labels, table, idx, torch.Generator().manual_seed(0), mask_from)
    assert out.dtype == torch.uint8 and out.shape == (8, 5, H, W)
    for b, i in enumerate(idx.tolist()):
        expected = _expected_channels(folder, i, mask_from)
        assert torch.equal(out[b, 0], folder.images[i, 0])  # red * (red > 0) is the red itself
        for channel, candidates in enumerate(expected):
            matches = [torch.equal(out[b, channel], cand) for cand in candidates]
            assert sum(matches) == 1, (b, channel)  # exactly one candidate, whole image
            # and pixel by pixel each value is one of the candidates' values at that pixel
            stacked = torch.stack(candidates)
            assert (stacked == out[b, channel]).any(0).all()


def test_the_default_mask_is_the_neighbours_own():
    folder = make_folder([7, 7], seed=9)
    table = red_neighbour_table(folder)
    folder.images[:, 1] = 200  # flat green: the channel shows the mask alone
    out = composite(folder.images, folder.labels, table, torch.tensor([0]), torch.Generator().manual_seed(1))
    neighbour_masks = [(folder.images[j, 0] > 0).to(torch.uint8) * 200 for j in table[0, 1]]
    assert any(torch.equal(out[0, 2], m) for m in neighbour_masks)
    assert not torch.equal(out[0, 2], (folder.images[0, 0] > 0).to(torch.uint8) * 200)


def test_draws_vary_across_calls_cover_all_five_and_follow_the_rng():
    folder = make_folder([10, 10], seed=10)
    table = red_neighbour_table(folder)
    idx = torch.arange(20)
    rng = torch.Generator().manual_seed(3)
    state = rng.get_state()
    greens = folder.images[:, 1] * (folder.images[:, 0] > 0)
    seen: set[int] = set()
    outs = []
    for _ in range(30):
        out = composite(folder.images, folder.labels, table, idx, rng)
        outs.append(out)
        # image 0 is of class 0: its class-1 channel is the masked green of one of table[0, 1]
        (pos,) = [p for p, j in enumerate(table[0, 1].tolist()) if torch.equal(out[0, 2], greens[j])]
        seen.add(pos)
    assert seen == {0, 1, 2, 3, 4}
    assert not torch.equal(outs[0], outs[1])
    rng.set_state(state)
    assert torch.equal(composite(folder.images, folder.labels, table, idx, rng), outs[0])


# ----------------------------------------------------------------------------- batches
def _flip_of(out: torch.Tensor, plain: torch.Tensor) -> tuple[bool, bool]:
    """The (vertical, horizontal) flip that maps ``plain`` (C, H, W) onto ``out``, checked on all channels."""
    for flip_h in (False, True):
        for flip_w in (False, True):
            cand = plain.flip(-1) if flip_w else plain
            cand = cand.flip(-2) if flip_h else cand
            if torch.equal(cand, out):
                return flip_h, flip_w
    raise AssertionError("the output is no flip of the composite (channels flipped differently?)")


def test_batches_are_flipped_composites_in_minus_one_one():
    folder = make_folder([16, 16, 16], seed=11)
    table = red_neighbour_table(folder)
    flips = set()
    for seed in range(6):
        flipped = MultichannelBatches(folder.images, folder.labels, table, 8, torch.Generator().manual_seed(seed))
        plain = MultichannelBatches(
            folder.images, folder.labels, table, 8, torch.Generator().manual_seed(seed), augment=False
        )
        out, ref = flipped.next(), plain.next()  # same indices and draws; flips come after
        assert out.shape == (8, 4, H, W) and out.dtype == torch.float32
        assert out.min() >= -1 and out.max() <= 1
        assert torch.equal(ref, normalise(composite_of(plain, seed)))
        flips |= {_flip_of(out[b], ref[b]) for b in range(8)}
    assert len(flips) == 4


def composite_of(batches: MultichannelBatches, seed: int) -> torch.Tensor:
    """The first batch of a sampler seeded ``seed``, rebuilt by hand from its indices."""
    rng = torch.Generator().manual_seed(seed)
    twin = MultichannelBatches(batches.images, batches.labels, batches.table, batches.batch_size, rng, augment=False)
    idx = twin.next_indices()
    return composite(batches.images, batches.labels, batches.table, idx, rng)


def test_epochs_cover_every_image_of_every_class():
    folder = make_folder([8, 10, 6], seed=12)
    batches = MultichannelBatches(folder.images, folder.labels, red_neighbour_table(folder), 6, torch.Generator())
    assert batches.batches_per_epoch == 4
    seen = torch.cat([batches.next_indices() for _ in range(4)])
    assert sorted(seen.tolist()) == list(range(24))


def test_resume_reproduces_the_batches():
    folder = make_folder([12, 12, 12], seed=13)
    table = red_neighbour_table(folder)
    rng = torch.Generator().manual_seed(5)
    first = MultichannelBatches(folder.images, folder.labels, table, 8, rng)
    for _ in range(6):  # past an epoch boundary (4 batches per epoch)
        first.next()
    state, rng_state = first.state_dict(), rng.get_state()
    expected = [first.next() for _ in range(5)]

    rng2 = torch.Generator().manual_seed(999)
    second = MultichannelBatches(folder.images, folder.labels, table, 8, rng2)
    second.load_state_dict(state)
    rng2.set_state(rng_state)
    assert all(torch.equal(a, second.next()) for a in expected)
    with pytest.raises(DataError, match="changed"):
        MultichannelBatches(folder.images[:30], folder.labels[:30], table[:30], 8, rng2).load_state_dict(state)


def test_mismatched_inputs_are_refused():
    folder = make_folder([8, 8], seed=14)
    table = red_neighbour_table(folder)
    with pytest.raises(DataError, match="do not match"):
        MultichannelBatches(folder.images[:10], folder.labels[:10], table, 4, torch.Generator())
    with pytest.raises(DataError, match="fewer than one batch"):
        MultichannelBatches(folder.images, folder.labels, table, 17, torch.Generator())


def test_multichannel_batches_use_the_batch_size_and_cache(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="biogans.core.data.multichannel")
    folder = make_folder([6, 7, 8], seed=15)
    batches = multichannel_batches(
        folder, folder.images, torch.Generator().manual_seed(0), batch_size=4, cache_dir=tmp_path
    )
    assert batches.next().shape == (4, 4, H, W)
    assert len(list((tmp_path / "red_nn").glob("*.pt"))) == 1
    assert batches.class_names == folder.class_names


# ------------------------------------------------------------------------ end to end
def test_the_multichannel_model_trains_on_it(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="biogans")
    run = tmp_path / "run"
    overrides = ["model=multichannel", "loss=wgangp", *TINY, "model.nz=350", "train.iterations=3"]
    proc = run_in_process("train", *overrides, run_dir=run)
    metrics = read_metrics(run)
    assert metrics["status"] == "done" and metrics["iteration"] == 3 and metrics["model"] == "multichannel"
    log_text = proc.stdout + caplog.text
    assert "red nearest-neighbour table" in log_text
    cache = Path(os.environ["BIOGANS_CACHE"]) / "red_nn"
    assert len(list(cache.glob("*.pt"))) >= 1
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["config"]["kind"] == "multichannel" and ckpt["config"]["n_classes"] == 6
