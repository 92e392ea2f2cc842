"""The benchmark's reference: the paper's maths in the structure of the 2017 code, on today's PyTorch.

``python -m biogans.bench`` times every operation twice in one run: through this project's
code and through this module, and prints the ratio.  A speed claim is only as good as its
reference, so this one is meant to be *fair*: it is how the 2017 release organised the
work, written with the current PyTorch API (no ``Variable``, ``set_to_none`` gradients,
modern kernels), not slowed down on purpose.  Its timings are meant to be checked
against the original code's.  What it keeps from 2017 (PAPER.md describes the maths):

* **Models as separate modules per class.**  A DCGAN generator is an ``nn.Sequential``
  (separable layers as a red ``convt_half`` and a green ``convt_all`` transposed
  convolution); the star-shaped generator holds one red transposed convolution and a
  ``ModuleList`` of green ones per layer and loops over classes; the independent
  generator and the star-shaped critic are a ``ModuleList`` of whole DCGAN networks, run
  one after the other in a Python loop.
* **Per-image data loading.**  The images sit in memory as one numpy array per image (the
  2017 "image cache"); a ``torch.utils.data.Dataset`` flips each image at random with
  numpy (``random.random() < 0.5`` per axis), converts it to float and normalises it, and a
  ``DataLoader`` (shuffle, whole batches only) collates batches.  Conditional data is one
  loader per class whose batches are stacked, an epoch ending with the smallest class.
  Fake multi-channel images are composed per image from the neighbour table.
* **The 2017 training step.**  Every critic step draws a fresh fake batch *with* the
  generator's autograd graph (the 2017 fake-data iterator), detaches it for the critic,
  and the generator step reuses the last one; losses are computed per class in Python
  loops where the 2017 code did (the GAN loss of a star-shaped critic), the gradient
  penalty as one batched double backward (as it was); critic parameters are frozen for the
  generator step by setting ``requires_grad`` on each.  The two-sample critic step draws
  its fake batch the same way (the 2017 evaluation did not wrap it in ``no_grad``), and
  the reconstruction's L-BFGS step leaves the generator's weights trainable (2017 did not
  freeze them), so its backward also computes weight gradients that are thrown away.

Where the maths of this project differs from the 2017 code's, the reference follows this
project, so that both compute the same numbers and the tests can compare them: the
reconstruction minimises the *sum* of squared errors (see
:mod:`biogans.tasks.reconstruction` for why), and a fake multi-channel channel is the
neighbour's green times the neighbour's own mask (:mod:`biogans.core.data.multichannel`).

Equality with this project's code is tested in ``tests/test_bench.py``: with the same
weights (:func:`copy_into_reference`) and the same inputs, losses, gradients, updated
weights and batches agree in float64.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from biogans.core.models.critic import Critic
from biogans.core.models.generator import Generator

__all__ = [
    "Pair",
    "RefCompositeDataset",
    "RefCritic",
    "RefGenerator",
    "RefImageDataset",
    "RefIndependentG",
    "RefLoss",
    "RefStarCritic",
    "RefStarG",
    "conditional_batches",
    "copy_into_reference",
    "endless",
    "lbfgs_step",
    "max_grad_error",
    "reference_critic",
    "reference_generator",
    "reference_loss",
    "train_critic_step",
    "train_iteration",
]


# --------------------------------------------------------------------------- data (2017 style)
def image_cache(images_u8: torch.Tensor) -> list[np.ndarray]:
    """One numpy ``(C, H, W)`` uint8 array per image, as the 2017 loader kept its images."""
    return [image.numpy() for image in images_u8.cpu()]


def _to_tensor(img: np.ndarray, rng: random.Random, flips: bool) -> torch.Tensor:
    """Flip one image at random (numpy, per axis), then float in [-1, 1]."""
    if flips:
        if rng.random() < 0.5:
            img = img[:, ::-1, :]
        if rng.random() < 0.5:
            img = img[:, :, ::-1]
        img = img.copy()
    tensor = torch.from_numpy(img.astype(np.float32)) / 255.0
    return (tensor - 0.5) / 0.5


class RefImageDataset(Dataset):
    """Images of one pool (one class, or all) from the image cache, flipped per image."""

    def __init__(self, cache: Sequence[np.ndarray], indices: Sequence[int], seed: int = 0, flips: bool = True) -> None:
        self.cache, self.indices, self.flips = cache, [int(i) for i in indices], flips
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return _to_tensor(self.cache[self.indices[index]], self.rng, self.flips), 0


class RefCompositeDataset(Dataset):
    """Fake multi-channel images, composed per image (the 2017 ``CompositeImageFolder``).

    Channel 0: the image's red times its mask (``red > 0``); channel ``label + 1``: its own
    green times that mask; every other class ``c``: the green of a neighbour drawn from
    ``table[i, c]`` times the neighbour's own mask (this project's choice, see the module
    docstring).  Flipped and normalised like :class:`RefImageDataset`.
    """

    def __init__(
        self,
        cache: Sequence[np.ndarray],
        labels: Sequence[int],
        table: np.ndarray,
        seed: int = 0,
        flips: bool = True,
    ) -> None:
        self.cache, self.labels, self.table, self.flips = cache, [int(v) for v in labels], table, flips
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.cache)

    def compose(self, index: int, choices: Sequence[int] | None = None) -> np.ndarray:
        """The uint8 multi-channel image of ``index``; ``choices[c]`` picks the neighbour of class c."""
        img = self.cache[index]
        n_classes = self.table.shape[1]
        mask = img[0] > 0
        out = np.zeros((n_classes + 1,) + img.shape[1:], dtype=np.uint8)
        out[0] = img[0] * mask
        for c in range(n_classes):
            if c == self.labels[index]:
                out[c + 1] = img[1] * mask
                continue
            pick = self.np_rng.integers(self.table.shape[2]) if choices is None else choices[c]
            other = self.cache[int(self.table[index, c, pick])]
            out[c + 1] = other[1] * (other[0] > 0)
        return out

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return _to_tensor(self.compose(index), self.rng, self.flips), self.labels[index]


def endless(loader: DataLoader) -> Iterator[torch.Tensor]:
    """Batches of ``loader`` epoch after epoch (the 2017 ``GanImageloader`` without labels)."""
    while True:
        for images, _ in loader:
            yield images


def conditional_batches(loaders: Sequence[DataLoader]) -> Iterator[torch.Tensor]:
    """One batch per class loader, stacked to ``(n_classes, B, C, H, W)``; an epoch ends with
    the shortest loader (the 2017 ``DataLoaderConditionalCached``)."""
    while True:
        iterators = [iter(loader) for loader in loaders]
        for _ in range(min(len(loader) for loader in loaders)):
            yield torch.stack([next(it)[0] for it in iterators])


def _seed_worker(worker_id: int) -> None:
    """Each DataLoader worker process flips (and picks neighbours) with a stream of its own."""
    info = torch.utils.data.get_worker_info()
    assert info is not None
    info.dataset.rng.seed(info.seed)
    if hasattr(info.dataset, "np_rng"):
        info.dataset.np_rng = np.random.default_rng(info.seed % 2**32)


def loader(dataset: Dataset, batch_size: int, seed: int, workers: int = 0) -> DataLoader:
    """The 2017 loader settings: shuffled, whole batches only (``workers`` worker processes)."""
    g = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=workers, generator=g,
        worker_init_fn=_seed_worker if workers else None, persistent_workers=workers > 0,
    )  # fmt: skip


# --------------------------------------------------------------------------- models (2017 structure)
class RefSepConvT(nn.Module):
    """A separable transposed convolution: red from the first ``int(c_in * r)`` inputs, green from all."""

    def __init__(self, c_in: int, c_out: int, r: float, kernel: int | tuple[int, int], stride: int, pad: int) -> None:
        super().__init__()
        self.red_in, self.red_out = int(c_in * r), int(c_out * r)
        self.convt_half = nn.ConvTranspose2d(self.red_in, self.red_out, kernel, stride, pad, bias=False)
        self.convt_all = nn.ConvTranspose2d(c_in, c_out - self.red_out, kernel, stride, pad, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.convt_half(x[:, : self.red_in]), self.convt_all(x)], 1)


def _geometry(g: Generator) -> list[tuple[int, int, int | tuple[int, int], int, int]]:
    """``(c_in, c_out, kernel, stride, padding)`` of each layer of ``g`` (per tower)."""
    out = []
    for layer in g.layers:
        conv = layer.green
        out.append((layer.plan.c_in, layer.plan.c_out, conv.kernel_size, conv.stride[0], conv.padding[0]))
    return out


class RefGenerator(nn.Module):
    """A DCGAN generator as the 2017 code built it: one ``nn.Sequential``, BN over all channels."""

    def __init__(self, geometry: Sequence[tuple], red_portion: float | None) -> None:
        super().__init__()
        self.main = nn.Sequential()
        self.convs: list[str] = []
        self.bns: list[str] = []
        last = len(geometry) - 1
        for i, (c_in, c_out, kernel, stride, pad) in enumerate(geometry):
            stage = "initial" if i == 0 else "final" if i == last else f"pyramid{i}"
            if red_portion is None:
                conv: nn.Module = nn.ConvTranspose2d(c_in, c_out, kernel, stride, pad, bias=False)
            else:
                conv = RefSepConvT(c_in, c_out, red_portion, kernel, stride, pad)
            self.main.add_module(f"{stage}_{c_in}-{c_out}_convt", conv)
            self.convs.append(f"{stage}_{c_in}-{c_out}_convt")
            if i == last:
                self.main.add_module(f"{stage}_{c_out}_tanh", nn.Tanh())
            else:
                self.main.add_module(f"{stage}_{c_out}_batchnorm", nn.BatchNorm2d(c_out))
                self.bns.append(f"{stage}_{c_out}_batchnorm")
                self.main.add_module(f"{stage}_{c_out}_relu", nn.ReLU(True))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class RefIndependentG(nn.Module):
    """One whole generator per class, all fed the same noise, run in a loop."""

    def __init__(self, geometry: Sequence[tuple], red_portion: float | None, n_classes: int) -> None:
        super().__init__()
        self.main = nn.ModuleList(RefGenerator(geometry, red_portion) for _ in range(n_classes))

    def forward(self, z: torch.Tensor, i_class: int | None = None) -> torch.Tensor:
        if i_class is not None:
            return self.main[i_class](z)
        return torch.stack([g(z) for g in self.main], 0)


class RefStarLayer(nn.Module):
    """One layer of the star-shaped generator: a red transposed convolution and one green per class."""

    def __init__(self, c_in, c_out, red_in, red_out, kernel, stride, pad, n_classes: int, final: bool) -> None:
        super().__init__()
        self.final = final
        self.convt_red = nn.ConvTranspose2d(red_in, red_out, kernel, stride, pad, bias=False)
        self.convt_green = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out - red_out, kernel, stride, pad, bias=False) for _ in range(n_classes)
        )
        if not final:
            self.batchnorm_red = nn.BatchNorm2d(red_out)
            self.batchnorm_green = nn.ModuleList(nn.BatchNorm2d(c_out - red_out) for _ in range(n_classes))

    def _act(self, x: torch.Tensor, bn: nn.Module | None) -> torch.Tensor:
        return torch.tanh(x) if bn is None else F.relu(bn(x), inplace=True)

    def forward(self, red: torch.Tensor, greens: list[torch.Tensor], i_class: int | None = None):
        red_out = self._act(self.convt_red(red), None if self.final else self.batchnorm_red)
        classes = range(len(self.convt_green)) if i_class is None else [i_class]
        out = []
        for k, c in enumerate(classes):
            x = self.convt_green[c](torch.cat([red, greens[k]], 1))
            out.append(self._act(x, None if self.final else self.batchnorm_green[c]))
        return red_out, out


class RefStarG(nn.Module):
    """The star-shaped generator: shared red tower, a loop over the classes' green towers."""

    def __init__(self, g: Generator) -> None:
        super().__init__()
        self.nz_red, self.n_classes = g.red_nz, g.n_towers
        self.main = nn.ModuleList()
        for layer, (c_in, c_out, kernel, stride, pad) in zip(g.layers, _geometry(g)):
            p = layer.plan
            self.main.append(
                RefStarLayer(c_in, c_out, p.red_in, p.red_out, kernel, stride, pad, g.n_towers, layer.final)
            )

    def forward(self, z: torch.Tensor, i_class: int | None = None) -> torch.Tensor:
        red = z[:, : self.nz_red]
        greens = [z[:, self.nz_red :]] * (self.n_classes if i_class is None else 1)
        for layer in self.main:
            red, greens = layer(red, greens, i_class)
        images = [torch.cat([red, green], 1) for green in greens]
        return images[0] if i_class is not None else torch.stack(images, 0)


class RefCritic(nn.Module):
    """A DCGAN critic as the 2017 code built it: one ``nn.Sequential``."""

    def __init__(self, d: Critic) -> None:
        super().__init__()
        n = d.n_towers
        self.main = nn.Sequential()
        self.layers: list[tuple[str, nn.Module]] = []  # (our name, the 2017 module's name) pairs
        for i, m in enumerate(d.main):
            if isinstance(m, nn.Conv2d):
                ref: nn.Module = nn.Conv2d(
                    m.in_channels // n, m.out_channels // n, m.kernel_size, m.stride, m.padding, bias=False
                )
                name = f"conv{i}_{ref.in_channels}-{ref.out_channels}"
            elif isinstance(m, nn.BatchNorm2d):
                ref, name = nn.BatchNorm2d(m.num_features // n), f"batchnorm{i}_{m.num_features // n}"
            else:
                ref, name = nn.LeakyReLU(0.2, inplace=True), f"leakyrelu{i}"
            self.main.add_module(name, ref)
            self.layers.append((str(i), name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


class RefStarCritic(nn.Module):
    """One critic per class, critic ``c`` scoring image ``c``, in a loop."""

    def __init__(self, d: Critic) -> None:
        super().__init__()
        self.main = nn.ModuleList(RefCritic(d) for _ in range(d.n_towers))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([critic(images[c]) for c, critic in enumerate(self.main)], 0)


# --------------------------------------------------------------------------- weights: ours <-> reference
@dataclass(frozen=True)
class Pair:
    """Rows ``[ours_start, ours_start + rows)`` of our tensor ``ours`` are rows
    ``[ref_start, ...)`` of the reference's tensor ``ref`` (first dimension)."""

    ours: str
    ours_start: int
    ref: str
    ref_start: int
    rows: int


_BN = ("weight", "bias", "running_mean", "running_var")


def _conv_pairs(ours: str, ref: str, ours_start: int, rows: int) -> list[Pair]:
    return [Pair(f"{ours}.weight", ours_start, f"{ref}.weight", 0, rows)]


def _bn_pairs(ours: str, ours_start: int, ref: str, ref_start: int, rows: int) -> list[Pair]:
    return [Pair(f"{ours}.{k}", ours_start, f"{ref}.{k}", ref_start, rows) for k in _BN]


def _tower_pairs(g: Generator, tower: int, red_tower: int, prefix: str, ref: RefGenerator) -> list[Pair]:
    """Our tower ``tower`` (red part ``red_tower``) against one reference DCGAN generator."""
    pairs: list[Pair] = []
    for i, layer in enumerate(g.layers):
        p, conv = layer.plan, f"{prefix}main.{ref.convs[i]}"
        if p.red_out:
            pairs += _conv_pairs(f"layers.{i}.red", f"{conv}.convt_half", red_tower * p.red_in, p.red_in)
            pairs += _conv_pairs(f"layers.{i}.green", f"{conv}.convt_all", tower * p.c_in, p.c_in)
        else:
            pairs += _conv_pairs(f"layers.{i}.green", conv, tower * p.c_in, p.c_in)
        if not layer.final:
            bn = f"{prefix}main.{ref.bns[i]}"
            if p.red_out:
                pairs += _bn_pairs(f"layers.{i}.red_bn", red_tower * p.red_out, bn, 0, p.red_out)
            pairs += _bn_pairs(f"layers.{i}.green_bn", tower * p.green_out, bn, p.red_out, p.green_out)
    return pairs


def reference_generator(g: Generator) -> tuple[nn.Module, list[Pair]]:
    """The 2017-structured generator of our ``g`` and how their tensors correspond (weights not copied)."""
    r = g.red_portion if g.separable else None
    if g.n_towers == 1:
        ref = RefGenerator(_geometry(g), r)
        return ref, _tower_pairs(g, 0, 0, "", ref)
    if not g.shared_red:
        ind = RefIndependentG(_geometry(g), r, g.n_towers)
        pairs = [p for c, t in enumerate(ind.main) for p in _tower_pairs(g, c, c, f"main.{c}.", t)]
        return ind, pairs
    star = RefStarG(g)
    pairs = []
    for i, layer in enumerate(g.layers):
        p = layer.plan
        pairs += _conv_pairs(f"layers.{i}.red", f"main.{i}.convt_red", 0, p.red_in)
        if not layer.final:
            pairs += _bn_pairs(f"layers.{i}.red_bn", 0, f"main.{i}.batchnorm_red", 0, p.red_out)
        for c in range(g.n_towers):
            pairs += _conv_pairs(f"layers.{i}.green", f"main.{i}.convt_green.{c}", c * p.c_in, p.c_in)
            if not layer.final:
                pairs += _bn_pairs(
                    f"layers.{i}.green_bn", c * p.green_out, f"main.{i}.batchnorm_green.{c}", 0, p.green_out
                )
    return star, pairs


def reference_critic(d: Critic) -> tuple[nn.Module, list[Pair]]:
    """The 2017-structured critic of our ``d`` (one critic per class when conditional) and the
    correspondence of their tensors (weights not copied)."""
    n = d.n_towers
    if not d.conditional:
        ref: nn.Module = RefCritic(d)
        critics, prefix = [ref], [""]
    else:
        ref = RefStarCritic(d)
        critics, prefix = list(ref.main), [f"main.{c}." for c in range(n)]
    pairs: list[Pair] = []
    for c, (critic, pre) in enumerate(zip(critics, prefix)):
        for (ours, name), m in zip(critic.layers, d.main):
            if isinstance(m, nn.Conv2d):
                rows = m.out_channels // n
                pairs.append(Pair(f"main.{ours}.weight", c * rows, f"{pre}main.{name}.weight", 0, rows))
            elif isinstance(m, nn.BatchNorm2d):
                rows = m.num_features // n
                pairs += _bn_pairs(f"main.{ours}", c * rows, f"{pre}main.{name}", 0, rows)
    return ref, pairs


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(module.named_parameters()), **dict(module.named_buffers())}


def copy_into_reference(ours: nn.Module, ref: nn.Module, pairs: Sequence[Pair]) -> nn.Module:
    """Give ``ref`` our weights and BatchNorm statistics; checks every reference tensor is covered."""
    like = next(ours.parameters())
    ref.to(device=like.device, dtype=like.dtype)
    a, b = _tensors(ours), _tensors(ref)
    covered = {name: 0 for name, t in b.items() if t.dim() > 0}
    with torch.no_grad():
        for p in pairs:
            b[p.ref][p.ref_start : p.ref_start + p.rows].copy_(a[p.ours][p.ours_start : p.ours_start + p.rows])
            covered[p.ref] += p.rows
    missing = [name for name, rows in covered.items() if rows != b[name].shape[0]]
    if missing:
        raise AssertionError(f"reference tensors not (or twice) covered by the weight map: {missing}")
    return ref


def max_grad_error(ours: nn.Module, ref: nn.Module, pairs: Sequence[Pair], what: str = "grad") -> float:
    """Largest relative difference between our and the reference's gradients (``what="grad"``)
    or values (``what="data"``) over every corresponding tensor."""
    a, b = _tensors(ours), _tensors(ref)
    worst = 0.0
    for p in pairs:
        x, y = a[p.ours], b[p.ref]
        if what == "grad":
            if x.grad is None and y.grad is None:
                continue
            if x.grad is None or y.grad is None:
                return float("inf")
            x, y = x.grad, y.grad
        x = x.detach()[p.ours_start : p.ours_start + p.rows].double()
        y = y.detach()[p.ref_start : p.ref_start + p.rows].double()
        scale = max(float(y.norm()), 1e-30)
        worst = max(worst, float((x - y).norm()) / scale)
    return worst


# --------------------------------------------------------------------------- losses (2017 style)
class RefLoss:
    """The 2017 GAN / WGAN / WGAN-GP classes' scores, for a critic ``netD``."""

    def __init__(self, name: str, clip: float | None = None, gp_weight: float = 0.0) -> None:
        self.name, self.clip, self.gp_weight = name, clip, gp_weight

    def disc_score(
        self, netD: nn.Module, a: torch.Tensor, b: torch.Tensor, rng: torch.Generator | None = None
    ) -> torch.Tensor:
        """The critic loss: a scalar, or one per class for a star-shaped critic."""
        scores_a, scores_b = netD(a), netD(b)
        if self.name == "gan":
            if scores_a.dim() == 1:
                return _bce(scores_a, 1.0) + _bce(scores_b, 0.0)
            per_class = [_bce(scores_a[i], 1.0) + _bce(scores_b[i], 0.0) for i in range(scores_a.shape[0])]
            return torch.stack(per_class, 0)
        dim = 0 if scores_a.dim() == 1 else 1
        err = scores_a.mean(dim) - scores_b.mean(dim)
        if self.gp_weight:
            err = err + self.gp_weight * self.gradient_penalties(netD, a.detach(), b.detach(), rng).mean(dim)
        return err

    @staticmethod
    def gradient_penalties(
        netD: nn.Module, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator | None
    ) -> torch.Tensor:
        """``(||grad D(x_hat)|| - 1)^2`` per image (per class and image for a star-shaped critic)."""
        lead = real.shape[:-3]
        eps = torch.rand(lead, generator=rng, device=real.device, dtype=real.dtype)
        eps = eps.view(lead + (1, 1, 1))
        interpolates = (eps * real + (1 - eps) * fake).requires_grad_(True)
        scores = netD(interpolates)
        (grads,) = torch.autograd.grad(scores, interpolates, torch.ones_like(scores), create_graph=True)
        return (grads.reshape(lead.numel(), -1).norm(2, dim=1) - 1).pow(2).view(lead)

    def gen_score(self, netD: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        scores = netD(fake)
        return _bce(scores.reshape(-1), 1.0) if self.name == "gan" else scores.mean()

    @torch.no_grad()
    def after_critic_step(self, netD: nn.Module) -> None:
        if self.clip is not None:
            for p in netD.parameters():
                p.clamp_(-self.clip, self.clip)


def _bce(scores: torch.Tensor, label: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(scores, torch.full_like(scores, label))


def reference_loss(cfg) -> RefLoss:
    """The reference loss for a ``LossConfig``."""
    name = cfg.name.value if hasattr(cfg.name, "value") else str(cfg.name)
    return RefLoss(name, None if cfg.clip is None else float(cfg.clip), float(cfg.gp_weight))


# --------------------------------------------------------------------------- steps (2017 style)
def _noise(batch: int, nz: int, rng: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return torch.randn(batch, nz, 1, 1, generator=rng, device=device)


def train_critic_step(
    netD: nn.Module,
    netG: nn.Module,
    optD: torch.optim.Optimizer,
    loss: RefLoss,
    real: Iterator[torch.Tensor],
    batch: int,
    nz: int,
    rng: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    noise_rng: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One critic update (the 2017 ``train_D_one_step``): returns the loss and the fake batch,
    which still carries the generator's graph.  ``rng`` draws the latent vectors (unless
    ``noise_rng`` is given) and the gradient penalty's mixing."""
    device = torch.device(device)
    netD.zero_grad()
    for p in netD.parameters():
        p.requires_grad = True
    data_a = next(real).to(device, non_blocking=True)
    data_b = netG(_noise(batch, nz, noise_rng if noise_rng is not None else rng, device))
    err = loss.disc_score(netD, data_a.detach(), data_b.detach(), rng).mean()
    err.backward()
    optD.step()
    loss.after_critic_step(netD)
    return err.detach(), data_b


def train_iteration(
    netG: nn.Module,
    netD: nn.Module,
    optG: torch.optim.Optimizer,
    optD: torch.optim.Optimizer,
    loss: RefLoss,
    real: Iterator[torch.Tensor],
    batch: int,
    nz: int,
    critic_steps: int,
    rng: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One training iteration (the 2017 ``train_one_step``): ``critic_steps`` critic updates,
    then a generator update on the last fake batch; returns the two losses."""
    fake = err_d = None
    for _ in range(critic_steps):
        err_d, fake = train_critic_step(netD, netG, optD, loss, real, batch, nz, rng, device)
    assert fake is not None and err_d is not None
    netG.zero_grad()
    for p in netD.parameters():
        p.requires_grad = False
    err_g = loss.gen_score(netD, fake)
    err_g.backward()
    optG.step()
    return err_d, err_g.detach()


def lbfgs_step(
    render: Callable[[torch.Tensor], torch.Tensor],
    targets: torch.Tensor,
    noise: torch.Tensor,
    lr: float,
    max_iter: int,
) -> torch.Tensor:
    """One L-BFGS step on ``noise`` (``(B, nz, 1, 1)``, the 2017 shape) to fit ``targets``
    (the 2017 ``reconstruct_cells`` with one step; the sum objective, see the module
    docstring); returns the new noise."""
    noise = noise.detach().clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([noise], lr=lr, max_iter=max_iter)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        err = ((targets - render(noise)) ** 2).sum()
        err.backward()
        return err

    optimizer.step(closure)
    return noise.detach()
