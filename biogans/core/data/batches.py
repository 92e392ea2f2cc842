"""Batches drawn on the training device from one uint8 tensor.

The whole data set (48 x 80 crops, a few hundred MB at most) lives on the device as
uint8; a batch is an index gather, random flips and the paper's normalisation, all on the
device.  No DataLoader workers, no per-image Python.

Sampling is by epochs without replacement: every pool (the whole set, or one class) is
reshuffled at the start of an epoch and cut into whole batches; an epoch ends when the
smallest pool runs out.  All randomness comes from one ``torch.Generator`` passed in, and
the sampler's position is part of its ``state_dict``, so a resumed run draws exactly the
batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from biogans.core.errors import DataError


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 in [0, 255] to float in [-1, 1]: ``x / 255``, then ``(x - 0.5) / 0.5``."""
    return (images.float() / 255.0 - 0.5) / 0.5


def random_flips(images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Flip each image horizontally and, independently, vertically, each with p = 0.5.

    ``images`` is ``(..., C, H, W)``; every leading index is one image.
    """
    lead = images.shape[:-3]
    flip_w = torch.rand(lead, generator=rng, device=images.device) < 0.5
    flip_h = torch.rand(lead, generator=rng, device=images.device) < 0.5
    view = flip_w.shape + (1, 1, 1)
    images = torch.where(flip_w.view(view), images.flip(-1), images)
    return torch.where(flip_h.view(view), images.flip(-2), images)


class Batches:
    """Endless batches from ``pools`` of indices into ``images`` (see the module docstring).

    With one pool, a batch is ``(B, C, H, W)``; with ``stacked=True`` it is
    ``(n_pools, B, C, H, W)``, one batch per pool (the conditional view: one per class).
    """

    def __init__(
        self,
        images: torch.Tensor,
        pools: Sequence[torch.Tensor],
        batch_size: int,
        rng: torch.Generator,
        stacked: bool = False,
        pool_names: Sequence[str] | None = None,
        augment: bool = True,
    ) -> None:
        if batch_size < 1:
            raise DataError(f"batch size must be >= 1, got {batch_size}")
        names = list(pool_names) if pool_names is not None else [f"pool {i}" for i in range(len(pools))]
        for name, pool in zip(names, pools):
            if len(pool) < batch_size:
                raise DataError(
                    f"{name} has {len(pool)} images, fewer than one batch of {batch_size}; "
                    f"lower train.batch_size or add images"
                )
        if not stacked and len(pools) != 1:
            raise ValueError("an unstacked sampler takes exactly one pool")
        self.images, self.batch_size, self.rng = images, batch_size, rng
        self.stacked, self.augment = stacked, augment
        self.pools = [p.to(images.device) for p in pools]
        self.batches_per_epoch = min(len(p) for p in self.pools) // batch_size
        self.epoch = 0
        self.cursor = self.batches_per_epoch  # forces a shuffle on the first draw
        self.orders: list[torch.Tensor] = []

    def _shuffle(self) -> None:
        device = self.images.device
        self.orders = [p[torch.randperm(len(p), generator=self.rng, device=device)] for p in self.pools]
        self.cursor = 0

    def next_indices(self) -> torch.Tensor:
        """Indices of the next batch: ``(B,)``, or ``(n_pools, B)`` when stacked."""
        if self.cursor >= self.batches_per_epoch:
            if self.orders:
                self.epoch += 1
            self._shuffle()
        start = self.cursor * self.batch_size
        self.cursor += 1
        idx = torch.stack([order[start : start + self.batch_size] for order in self.orders])
        return idx if self.stacked else idx[0]

    def next(self) -> torch.Tensor:
        """The next batch as floats in [-1, 1], flipped at random (the paper's augmentation)."""
        return self.next_with_indices()[0]

    def next_with_indices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch (as :meth:`next`) and which image of ``images`` each of its rows is.

        The two-sample test's statistics count each held-out image once, so they need to
        know which image a scored row was (:func:`biogans.core.two_sample_stats.per_image`).
        """
        indices = self.next_indices()
        batch = self.images[indices]
        if self.augment:
            batch = random_flips(batch, self.rng)
        return normalise(batch), indices

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "cursor": self.cursor, "orders": [o.cpu() for o in self.orders]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        orders = [o.to(self.images.device) for o in state["orders"]]
        if orders and [len(o) for o in orders] != [len(p) for p in self.pools]:
            raise DataError(
                "the data set changed since the checkpoint was written "
                f"(pool sizes {[len(o) for o in orders]} then, {[len(p) for p in self.pools]} now)"
            )
        self.epoch, self.cursor, self.orders = int(state["epoch"]), int(state["cursor"]), orders
