"""The DCGAN critic, alone or one per class (the star-shaped critic).

A star-shaped critic is ``n_towers`` DCGAN critics, critic ``c`` scoring image ``c`` of a
conditional batch.  The parameters are stored as grouped convolutions (group ``c`` is
critic ``c``; BN over the stacked channels is BN per tower), and, as in the generator, the
towers run either as those grouped convolutions or as a loop over critics on their own
slices of the weights (``tower_impl``: ``auto`` takes grouped on CUDA, the loop elsewhere;
see :mod:`biogans.core.models.generator`).  Both are the per-class maths.

Shapes: a single critic takes ``(B, nc, H, W)`` and returns ``(B,)``; a conditional one
takes ``(n_towers, B, nc, H, W)`` and returns ``(n_towers, B)``.  No sigmoid: the losses
work on raw scores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from biogans.core.models.generator import batch_norm_part, count_batch, init_weights, spatial_plan, tower_impl_for


class Critic(nn.Module):
    """DCGAN discriminator / critic family (see the module docstring)."""

    def __init__(
        self,
        nc: int = 2,
        ndf: int = 64,
        image_size: tuple[int, int] = (48, 80),
        batchnorm: bool = True,
        n_towers: int = 1,
        conditional: bool = False,
    ) -> None:
        super().__init__()
        self.nc, self.ndf, self.n_towers, self.conditional = nc, ndf, n_towers, conditional
        self.batchnorm = batchnorm
        self.image_size = (int(image_size[0]), int(image_size[1]))
        n_halvings, last = spatial_plan(*self.image_size)
        n = n_towers
        layers: list[nn.Module] = [
            nn.Conv2d(n * nc, n * ndf, 4, 2, 1, bias=False, groups=n),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        width = ndf
        for _ in range(n_halvings - 1):
            layers.append(nn.Conv2d(n * width, n * width * 2, 4, 2, 1, bias=False, groups=n))
            width *= 2
            if batchnorm:
                layers.append(nn.BatchNorm2d(n * width))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        layers.append(nn.Conv2d(n * width, n, last, 1, 0, bias=False, groups=n))
        self.main = nn.Sequential(*layers)
        #: how the towers run (see the module docstring); not part of the state dict
        self.tower_impl = "auto"
        init_weights(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h, w = self.image_size
        if self.conditional:
            if images.dim() != 5 or images.shape[0] != self.n_towers or images.shape[2] != self.nc:
                raise ValueError(
                    f"expected images of shape ({self.n_towers}, B, {self.nc}, {h}, {w}), got {tuple(images.shape)}"
                )
            n, batch = images.shape[:2]
            if n > 1 and tower_impl_for(images.device, self.tower_impl) == "loop":
                return self._forward_loop(images)
            x = images.transpose(0, 1).reshape(batch, n * self.nc, h, w)
            return self.main(x).reshape(batch, n).transpose(0, 1)
        if images.dim() != 4 or images.shape[1] != self.nc:
            raise ValueError(f"expected images of shape (B, {self.nc}, {h}, {w}), got {tuple(images.shape)}")
        return self.main(images).reshape(images.shape[0])

    def _forward_loop(self, images: torch.Tensor) -> torch.Tensor:
        """Critic ``c`` on ``images[c]``, one critic after the other: ``(n_towers, B)``."""
        n, batch = images.shape[:2]
        # one view per tower of every grouped weight; backward concatenates their gradients once
        weights = [m.weight.split(m.out_channels // n) if isinstance(m, nn.Conv2d) else None for m in self.main]
        scores = []
        for c in range(n):
            x = images[c]
            for m, w in zip(self.main, weights):
                if w is not None:
                    x = F.conv2d(x, w[c], None, m.stride, m.padding)
                elif isinstance(m, nn.BatchNorm2d):
                    per = m.num_features // n
                    x = batch_norm_part(m, x, slice(c * per, (c + 1) * per))
                else:
                    x = m(x)
            scores.append(x.reshape(batch))
        for m in self.main:
            if isinstance(m, nn.BatchNorm2d):
                count_batch(m)
        return torch.stack(scores)
