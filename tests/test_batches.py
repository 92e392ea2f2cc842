"""On-device batches: normalisation, flips, epochs, the conditional view, resumable position."""

from __future__ import annotations

import pytest
import torch

from biogans.core.data.batches import Batches, normalise, random_flips
from biogans.core.errors import DataError


def numbered_images(n: int) -> torch.Tensor:
    """uint8 images whose pixel (0, 0, 0) holds the image index, and a marked corner to see flips."""
    images = torch.zeros(n, 2, 6, 10, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.arange(n, dtype=torch.uint8)
    images[:, 1, 0, 0] = 255
    return images


def test_normalise_maps_to_minus_one_one():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert torch.allclose(normalise(x), torch.tensor([-1.0, 51 / 255 * 2 - 1, 1.0]))


def test_flips_are_per_image_and_about_half():
    images = numbered_images(2000)[:, 1:].float()  # green channel: one bright corner pixel at (0, 0)
    out = random_flips(images, torch.Generator().manual_seed(0))
    corners = out[:, 0].flatten(1).argmax(1)
    w, h = 10, 6
    top_left, top_right = corners == 0, corners == w - 1
    bottom_left, bottom_right = corners == (h - 1) * w, corners == h * w - 1
    for quarter in (top_left, top_right, bottom_left, bottom_right):
        assert 400 < quarter.sum() < 600
    assert (top_left | top_right | bottom_left | bottom_right).all()


def test_an_epoch_visits_every_image_once():
    images = numbered_images(40)
    batches = Batches(images, [torch.arange(40)], 8, torch.Generator().manual_seed(0), augment=False)
    seen = torch.cat([batches.next_indices() for _ in range(5)])
    assert sorted(seen.tolist()) == list(range(40))
    assert batches.epoch == 0
    batches.next_indices()
    assert batches.epoch == 1


def test_incomplete_batches_are_dropped():
    batches = Batches(numbered_images(20), [torch.arange(20)], 8, torch.Generator().manual_seed(0))
    assert batches.batches_per_epoch == 2


def test_conditional_view_stacks_one_batch_per_class_and_ends_with_the_smallest():
    images = numbered_images(50)
    pools = [torch.arange(0, 30), torch.arange(30, 50)]  # 30 and 20 images
    batches = Batches(images, pools, 5, torch.Generator().manual_seed(0), stacked=True)
    assert batches.batches_per_epoch == 4
    idx = torch.stack([batches.next_indices() for _ in range(4)])  # (4 steps, 2 classes, 5)
    assert (idx[:, 0] < 30).all() and (idx[:, 1] >= 30).all()
    assert len(set(idx[:, 1].flatten().tolist())) == 20  # the smallest class ran out exactly
    batch = batches.next()
    assert batch.shape == (2, 5, 2, 6, 10) and batch.dtype == torch.float32
    assert batch.min() >= -1 and batch.max() <= 1


def test_a_class_smaller_than_a_batch_is_an_error_naming_it():
    pools = [torch.arange(0, 30), torch.arange(30, 33)]
    with pytest.raises(DataError, match=r"class 'Tea1'.*3 images.*batch of 8"):
        Batches(numbered_images(33), pools, 8, torch.Generator(), stacked=True, pool_names=["x", "class 'Tea1'"])


def test_state_dict_resumes_the_same_sequence():
    images = numbered_images(40)
    a = Batches(images, [torch.arange(40)], 8, torch.Generator().manual_seed(3))
    for _ in range(7):
        a.next()
    state, rng_state = a.state_dict(), a.rng.get_state()
    expected = [a.next() for _ in range(6)]
    b = Batches(images, [torch.arange(40)], 8, torch.Generator().manual_seed(99))
    b.load_state_dict(state)
    b.rng.set_state(rng_state)
    got = [b.next() for _ in range(6)]
    assert all(torch.equal(x, y) for x, y in zip(expected, got))


def test_state_from_another_dataset_is_refused():
    a = Batches(numbered_images(40), [torch.arange(40)], 8, torch.Generator().manual_seed(3))
    a.next()
    b = Batches(numbered_images(48), [torch.arange(48)], 8, torch.Generator())
    with pytest.raises(DataError, match="changed"):
        b.load_state_dict(a.state_dict())
