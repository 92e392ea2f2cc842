"""The one generator family of the paper.

Every generator of the paper is a DCGAN tower with two knobs:

* ``separable``: green-on-red.  Each transposed convolution is split into a *red* part
  that sees only the red channels of its input and a *green* part that sees all of them,
  so red never depends on green.  The first ``int(nz * red_portion)`` latent dimensions
  are the red noise.
* ``n_towers`` and ``shared_red``: how many towers run side by side.  One tower is the
  plain DCGAN (or the separable "sep" model, or the multi-channel model with
  ``nc = n_classes + 1``).  Several towers with one shared red tower is the star-shaped
  generator; several towers each with their own red part (or no red part at all) are the
  independent generators.

Towers have two implementations of the same maths, chosen per device (:data:`TOWER_IMPLS`,
:func:`tower_impl_for`), with the same parameters (so checkpoints do not depend on it):

* ``grouped``: all towers as *one* grouped convolution.  Group ``c`` is exactly tower
  ``c``'s convolution and a BatchNorm over the stacked channels is exactly a BatchNorm per
  tower.  On a GPU one big kernel beats many small ones (1.9x on an H100).
* ``loop``: a Python loop over towers, each convolving with its own slice of the same
  grouped weight tensor (``weight.split``: one view per tower, one gradient concatenation
  in backward).  On a CPU grouped convolutions are 1.4-1.9x *slower* than a loop of plain
  ones (measured on 2 cores; ``python -m biogans.bench`` times both), because the CPU
  kernels are tuned for dense convolutions.

``auto`` (the default) takes ``grouped`` on CUDA and ``loop`` elsewhere.  Tests check both
against a per-class reference built from separate modules, outputs and gradients in float64.

Shapes: ``z`` is ``(B, nz)`` or ``(B, nz, 1, 1)``.  A non-conditional generator returns
``(B, nc, H, W)``; a conditional one returns ``(n_towers, B, nc, H, W)`` where image ``c``
is ``[red of tower c (or the shared red), green of tower c]``, or ``(B, nc, H, W)`` for a
single tower when called with ``tower=c``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from biogans.core.errors import ConfigError

#: The implementations of per-class towers (see the module docstring); ``auto`` picks one per device.
TOWER_IMPLS = ("auto", "grouped", "loop")


def tower_impl_for(device: torch.device, impl: str = "auto") -> str:
    """The tower implementation to run on ``device``: ``impl``, or for ``auto`` the one that
    measured faster there (grouped on CUDA, a per-tower loop on CPUs and anything else)."""
    if impl not in TOWER_IMPLS:
        raise ConfigError(f"tower implementation {impl!r} is not one of {list(TOWER_IMPLS)}")
    if impl != "auto":
        return impl
    return "grouped" if device.type == "cuda" else "loop"


def set_tower_impl(module: nn.Module, impl: str) -> nn.Module:
    """Make every generator and critic inside ``module`` run its towers with ``impl``; returns ``module``."""
    tower_impl_for(torch.device("cpu"), impl)  # validates the name
    for m in module.modules():
        if hasattr(m, "tower_impl"):
            m.tower_impl = impl
    return module


def batch_norm_part(bn: nn.BatchNorm2d, x: torch.Tensor, part: slice) -> torch.Tensor:
    """``bn`` applied to ``x``, which holds only the channels ``part`` of ``bn``'s input.

    The same as running ``bn`` on the full input and keeping ``part`` (BatchNorm acts per
    channel): the affine parameters are sliced, and the running statistics of those
    channels are updated in place (a contiguous slice of a buffer is a view of it).
    ``num_batches_tracked`` is left to the caller, which counts one batch per full pass.
    """
    use_batch_stats = bn.training or bn.running_mean is None
    if bn.momentum is None:  # cumulative average, as nn.BatchNorm2d computes it
        factor = 1.0 / max(int(bn.num_batches_tracked) + 1, 1) if bn.num_batches_tracked is not None else 0.0
    else:
        factor = bn.momentum
    return F.batch_norm(
        x,
        bn.running_mean[part] if bn.running_mean is not None else None,
        bn.running_var[part] if bn.running_var is not None else None,
        bn.weight[part] if bn.weight is not None else None,
        bn.bias[part] if bn.bias is not None else None,
        use_batch_stats,
        factor,
        bn.eps,
    )


def count_batch(bn: nn.BatchNorm2d | None) -> None:
    """Advance ``num_batches_tracked`` once, as one call of ``bn`` in training mode would."""
    if bn is not None and bn.training and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)


def spatial_plan(height: int, width: int, min_side: int = 4) -> tuple[int, tuple[int, int]]:
    """Halve ``(height, width)`` until a side is at most ``min_side``.

    Returns the number of halvings and the first feature-map size, ``(3, 5)`` after four
    halvings for the paper's 48 x 80 crops.
    """
    if height < 8 or width < 8:
        raise ConfigError(f"image size {height}x{width} (HxW) is too small; both sides must be >= 8")
    h, w, n = height, width, 0
    while min(h, w) > min_side:
        if h % 2 or w % 2:
            raise ConfigError(
                f"image size {height}x{width} (HxW) cannot be halved down to a side <= {min_side}: "
                f"{h}x{w} is odd; use sizes divisible by a power of two, like 48x80"
            )
        h, w, n = h // 2, w // 2, n + 1
    return n, (h, w)


def split_red(channels: int, red_portion: float | None) -> int:
    """Red channels of a separable layer with ``channels`` channels (the paper's ``int(c * r)``)."""
    return int(channels * red_portion) if red_portion is not None else 0


@dataclass(frozen=True)
class LayerPlan:
    """Channel bookkeeping of one generator layer, per tower."""

    c_in: int
    c_out: int
    red_in: int
    red_out: int

    @property
    def green_in(self) -> int:
        return self.c_in - self.red_in

    @property
    def green_out(self) -> int:
        return self.c_out - self.red_out


class GeneratorLayer(nn.Module):
    """One transposed convolution of every tower (red and green parts), BN, activation.

    ``red`` input has ``n_red * red_in`` channels (``n_red`` is 1 when the red tower is
    shared, else ``n_towers``); ``green`` input has ``n_towers * green_in`` channels.  The
    green part of tower ``c`` sees ``[red of tower c, green of tower c]``.
    """

    def __init__(
        self,
        plan: LayerPlan,
        n_towers: int,
        n_red: int,
        kernel: int | tuple[int, int],
        stride: int,
        padding: int,
        final: bool,
    ) -> None:
        super().__init__()
        self.plan, self.n_towers, self.n_red, self.final = plan, n_towers, n_red, final
        self.stride, self.padding = stride, padding
        if plan.red_out:
            self.red = nn.ConvTranspose2d(
                n_red * plan.red_in, n_red * plan.red_out, kernel, stride, padding, bias=False, groups=n_red
            )
            self.red_bn = None if final else nn.BatchNorm2d(n_red * plan.red_out)
        self.green = nn.ConvTranspose2d(
            n_towers * plan.c_in, n_towers * plan.green_out, kernel, stride, padding, bias=False, groups=n_towers
        )
        self.green_bn = None if final else nn.BatchNorm2d(n_towers * plan.green_out)

    def _activate(self, x: torch.Tensor, bn: nn.BatchNorm2d | None, channels: slice | None) -> torch.Tensor:
        if self.final:
            return torch.tanh(x)
        assert bn is not None
        x = bn(x) if channels is None else batch_norm_part(bn, x, channels)
        return F.relu(x, inplace=True)  # x is a fresh BN output, which BN's backward does not need

    def forward_loop(
        self, reds: list[torch.Tensor] | None, greens: list[torch.Tensor]
    ) -> tuple[list[torch.Tensor] | None, list[torch.Tensor]]:
        """All towers, one at a time (the ``loop`` implementation).

        ``reds`` holds one tensor per red tower (one when shared), ``greens`` one per tower;
        each is ``(B, channels of one tower, h, w)``.  Returns the same for the next layer.
        """
        p, n = self.plan, self.n_towers
        # one view per tower of the grouped weights; backward concatenates their gradients once
        green_w = self.green.weight.split(p.c_in)
        greens_out = []
        for c in range(n):
            x = greens[c]
            if p.red_in:
                assert reds is not None
                x = torch.cat([reds[0 if self.n_red == 1 else c], x], dim=1)
            out = F.conv_transpose2d(x, green_w[c], None, self.stride, self.padding)
            greens_out.append(self._activate(out, self.green_bn, slice(c * p.green_out, (c + 1) * p.green_out)))
        count_batch(self.green_bn)
        if not p.red_out:
            return None, greens_out
        assert reds is not None
        if self.n_red == 1:
            return [self._activate(self.red(reds[0]), self.red_bn, None)], greens_out
        red_w = self.red.weight.split(p.red_in)
        reds_out = []
        for c in range(self.n_red):
            out = F.conv_transpose2d(reds[c], red_w[c], None, self.stride, self.padding)
            reds_out.append(self._activate(out, self.red_bn, slice(c * p.red_out, (c + 1) * p.red_out)))
        count_batch(self.red_bn)
        return reds_out, greens_out

    def forward(self, red: Any, green: Any, towers: slice | None = None, loop: bool = False) -> tuple[Any, Any]:
        """Run the towers in ``towers`` (all when ``None``); inputs hold only those towers.

        With ``loop=True`` the inputs and outputs are per-tower lists (:meth:`forward_loop`).
        """
        if loop:
            return self.forward_loop(red, green)
        p = self.plan
        n = self.n_towers if towers is None else towers.stop - towers.start
        n_red = self.n_red if (towers is None or self.n_red == 1) else n
        batch, _, h, w = green.shape
        if p.red_in:
            assert red is not None
            red_per_tower = red.reshape(batch, n_red, p.red_in, h, w).expand(batch, n, p.red_in, h, w)
            green_in = torch.cat([red_per_tower, green.reshape(batch, n, p.green_in, h, w)], dim=2)
            green_in = green_in.reshape(batch, n * p.c_in, h, w)
        else:
            green_in = green
        if towers is None:
            green_out = self._activate(self.green(green_in), self.green_bn, None)
        else:
            weight = self.green.weight[towers.start * p.c_in : towers.stop * p.c_in]
            out = F.conv_transpose2d(green_in, weight, None, self.stride, self.padding, groups=n)
            green_out = self._activate(out, self.green_bn, slice(towers.start * p.green_out, towers.stop * p.green_out))
        if not p.red_out:
            return None, green_out
        if towers is None or self.n_red == 1:
            red_out = self._activate(self.red(red), self.red_bn, None)
        else:
            weight = self.red.weight[towers.start * p.red_in : towers.stop * p.red_in]
            out = F.conv_transpose2d(red, weight, None, self.stride, self.padding, groups=n)
            red_out = self._activate(out, self.red_bn, slice(towers.start * p.red_out, towers.stop * p.red_out))
        return red_out, green_out


class Generator(nn.Module):
    """DCGAN generator family (see the module docstring)."""

    def __init__(
        self,
        nz: int = 100,
        ngf: int = 64,
        nc: int = 2,
        image_size: tuple[int, int] = (48, 80),
        separable: bool = False,
        red_portion: float = 0.5,
        n_towers: int = 1,
        shared_red: bool = True,
        conditional: bool = False,
    ) -> None:
        super().__init__()
        if n_towers < 1:
            raise ConfigError(f"a generator needs at least one tower, got n_towers={n_towers}")
        self.nz, self.ngf, self.nc = nz, ngf, nc
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.separable, self.red_portion = separable, red_portion
        self.n_towers, self.conditional = n_towers, conditional
        self.shared_red = shared_red and separable
        #: how the towers run (see the module docstring); not part of the state dict
        self.tower_impl = "auto"
        n_halvings, first = spatial_plan(*self.image_size)
        r = red_portion if separable else None
        if separable and not 0.0 < red_portion < 1.0:
            raise ConfigError(f"model.red_portion must be in (0, 1), got {red_portion}")
        first_width = ngf // 2 * 2**n_halvings
        widths = [nz] + [first_width // 2**i for i in range(n_halvings)] + [nc]
        n_red = 1 if self.shared_red else n_towers
        layers = []
        for i, (c_in, c_out) in enumerate(itertools.pairwise(widths)):
            plan = LayerPlan(c_in, c_out, split_red(c_in, r), split_red(c_out, r))
            if separable and (plan.red_out < 1 or plan.green_out < 1 or plan.red_in < 1 or plan.green_in < 1):
                raise ConfigError(
                    f"separable generator layer {i} ({c_in} -> {c_out} channels) gets an empty red or green part "
                    f"with red_portion={red_portion}; choose a red_portion that leaves both parts >= 1 channel"
                )
            if i == 0:
                layers.append(GeneratorLayer(plan, n_towers, n_red, first, 1, 0, final=False))
            else:
                layers.append(GeneratorLayer(plan, n_towers, n_red, 4, 2, 1, final=i == len(widths) - 2))
        self.layers = nn.ModuleList(layers)
        self.red_nz = layers[0].plan.red_in
        init_weights(self)

    @property
    def red_channels(self) -> int:
        """Output channels (per image) that come from the red part; 0 if not separable."""
        return self.layers[-1].plan.red_out

    def forward(self, z: torch.Tensor, tower: int | None = None) -> torch.Tensor:
        if z.dim() == 4:
            z = z.flatten(1)
        if z.dim() != 2 or z.shape[1] != self.nz:
            raise ValueError(f"expected z of shape (B, {self.nz}) or (B, {self.nz}, 1, 1), got {tuple(z.shape)}")
        if tower is not None and not 0 <= tower < self.n_towers:
            raise ValueError(f"tower {tower} out of range 0..{self.n_towers - 1}")
        loop = tower is None and self.conditional and self.n_towers > 1
        if loop and tower_impl_for(z.device, self.tower_impl) == "loop":
            return self._forward_loop(z)
        towers = None if tower is None else slice(tower, tower + 1)
        n = self.n_towers if tower is None else 1
        batch = z.shape[0]
        z = z[:, :, None, None]
        red: torch.Tensor | None = z[:, : self.red_nz] if self.red_nz else None
        green = z[:, self.red_nz :]
        # the latent vector enters every tower; per-tower red copies only for unshared red parts
        if red is not None and not self.shared_red and n > 1:
            red = red.repeat(1, n, 1, 1)
        if n > 1:
            green = green.repeat(1, n, 1, 1)
        for layer in self.layers:
            red, green = layer(red, green, towers)
        h, w = self.image_size
        green = green.reshape(batch, n, -1, h, w)
        if red is not None:
            n_red = 1 if self.shared_red else n
            red = red.reshape(batch, n_red, -1, h, w).expand(batch, n, -1, h, w)
            images = torch.cat([red, green], dim=2)
        else:
            images = green
        if self.conditional and tower is None:
            return images.transpose(0, 1)
        return images[:, 0]

    def _forward_loop(self, z: torch.Tensor) -> torch.Tensor:
        """Every tower of a conditional generator, one after the other: ``(n_towers, B, nc, H, W)``."""
        n = self.n_towers
        z = z[:, :, None, None]
        reds: list[torch.Tensor] | None = None
        if self.red_nz:
            reds = [z[:, : self.red_nz]] * (1 if self.shared_red else n)
        greens = [z[:, self.red_nz :]] * n
        for layer in self.layers:
            reds, greens = layer(reds, greens, loop=True)
        if reds is None:
            return torch.stack(greens)
        return torch.stack([torch.cat([reds[0 if self.shared_red else c], greens[c]], dim=1) for c in range(n)])


def init_weights(module: nn.Module) -> None:
    """The paper's init: conv weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
