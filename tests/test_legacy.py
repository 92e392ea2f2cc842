"""State dicts of the original 2017 code load into our modules and give the original's images.

The point is equality with the *original architecture*, not with our own code.  So this
file re-builds the 2017 networks from PAPER.md the plain way (one module per class and
per part, Python loops over classes, no grouped convolutions), gives them random weights
and random BatchNorm statistics, writes their weights under the 2017 key names (built
from the layer widths, as the 2017 block names were), saves that as a plain OrderedDict
without ``num_batches_tracked`` (as PyTorch 0.2 did), loads it with
``biogans.load_generator(path, model=FAMILY)`` and compares outputs in eval mode.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import biogans
from biogans.core.errors import CheckpointError, ConfigError
from biogans.core.models.legacy import (
    FAMILIES,
    convert_critic_state,
    convert_generator_state,
    guess_legacy_family,
    legacy_spec,
    load_legacy_critic,
    load_legacy_generator,
)

BN_ENTRIES = ("weight", "bias", "running_mean", "running_var")
STAGES = ("initial", "pyramid", "pyramid", "pyramid", "final")
#: (kernel, stride, padding) of the five generator layers for 48 x 80 images (PAPER.md)
G_GEOMETRY = (((3, 5), 1, 0), (4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 2, 1))


def g_widths(nz: int, ngf: int, nc: int) -> list[int]:
    """nz -> 512 -> 256 -> 128 -> 64 -> nc for ngf = 64: the first width is (ngf / 2) * 2^4."""
    return [nz, 8 * ngf, 4 * ngf, 2 * ngf, ngf, nc]


def bn_state(prefix: str, bn: nn.BatchNorm2d) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{name}": getattr(bn, name).detach().clone() for name in BN_ENTRIES}


# ---------------------------------------------------------------------------------------
# the 2017 networks, written plainly from PAPER.md


class RefSepConvT(nn.Module):
    """Separable transposed convolution: red part on the first int(in*r) inputs, green part on all."""

    def __init__(self, c_in: int, c_out: int, r: float, kernel, stride: int, pad: int) -> None:
        super().__init__()
        self.red_in, self.red_out = int(c_in * r), int(c_out * r)
        self.convt_half = nn.ConvTranspose2d(self.red_in, self.red_out, kernel, stride, pad, bias=False)
        self.convt_all = nn.ConvTranspose2d(c_in, c_out - self.red_out, kernel, stride, pad, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.convt_half(x[:, : self.red_in]), self.convt_all(x)], dim=1)


class RefG(nn.Module):
    """DCGAN generator of PAPER.md (separable when ``r`` is given); BN over all channels of a layer."""

    def __init__(self, nz: int, ngf: int, nc: int, r: float | None = None) -> None:
        super().__init__()
        self.widths, self.r = g_widths(nz, ngf, nc), r
        self.convs, self.bns = nn.ModuleList(), nn.ModuleList()
        for i, (kernel, stride, pad) in enumerate(G_GEOMETRY):
            c_in, c_out = self.widths[i], self.widths[i + 1]
            if r is None:
                self.convs.append(nn.ConvTranspose2d(c_in, c_out, kernel, stride, pad, bias=False))
            else:
                self.convs.append(RefSepConvT(c_in, c_out, r, kernel, stride, pad))
            if i < 4:
                self.bns.append(nn.BatchNorm2d(c_out))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.shape[0], -1, 1, 1)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            x = F.relu(self.bns[i](x)) if i < 4 else torch.tanh(x)
        return x

    def legacy_state(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for i, conv in enumerate(self.convs):
            block = f"main.{STAGES[i]}.{self.widths[i]}-{self.widths[i + 1]}"
            if self.r is None:
                out[f"{block}.convt.weight"] = conv.weight.detach().clone()
            else:
                out[f"{block}.convt-sep.convt_half.weight"] = conv.convt_half.weight.detach().clone()
                out[f"{block}.convt-sep.convt_all.weight"] = conv.convt_all.weight.detach().clone()
            if i < 4:
                out.update(bn_state(f"main.{STAGES[i]}.{self.widths[i + 1]}.batchnorm", self.bns[i]))
        return out


class RefStarLayer(nn.Module):
    """One layer of the star-shaped G: a red convolution, one green convolution per class on [red, green_c]."""

    def __init__(self, c_in: int, c_out: int, n: int, r: float, kernel, stride: int, pad: int, final: bool) -> None:
        super().__init__()
        red_in, red_out = int(c_in * r), int(c_out * r)
        self.final = final
        self.convt_red = nn.ConvTranspose2d(red_in, red_out, kernel, stride, pad, bias=False)
        self.convt_green = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out - red_out, kernel, stride, pad, bias=False) for _ in range(n)
        )
        if not final:
            self.batchnorm_red = nn.BatchNorm2d(red_out)
            self.batchnorm_green = nn.ModuleList(nn.BatchNorm2d(c_out - red_out) for _ in range(n))

    def forward(self, red: torch.Tensor, greens: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        new_red = self.convt_red(red)
        new_greens = [conv(torch.cat([red, g], dim=1)) for conv, g in zip(self.convt_green, greens)]
        if self.final:
            return torch.tanh(new_red), [torch.tanh(g) for g in new_greens]
        return F.relu(self.batchnorm_red(new_red)), [F.relu(bn(g)) for bn, g in zip(self.batchnorm_green, new_greens)]


class RefStarG(nn.Module):
    """Star-shaped G: shared red tower, one green tower per class, the same green z for all."""

    def __init__(self, nz: int, ngf: int, n: int, r: float = 0.5) -> None:
        super().__init__()
        self.red_nz = int(nz * r)
        w = g_widths(nz, ngf, 2)
        self.layers = nn.ModuleList(
            RefStarLayer(w[i], w[i + 1], n, r, k, s, p, final=i == 4) for i, (k, s, p) in enumerate(G_GEOMETRY)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(z.shape[0], -1, 1, 1)
        red, green = z[:, : self.red_nz], z[:, self.red_nz :]
        greens = [green] * len(self.layers[0].convt_green)
        for layer in self.layers:
            red, greens = layer(red, greens)
        return torch.stack([torch.cat([red, g], dim=1) for g in greens])

    def legacy_state(self) -> dict[str, torch.Tensor]:
        # the 2017 module tree is this one with "main" in place of "layers"
        return {
            "main." + key.removeprefix("layers."): value.clone()
            for key, value in self.state_dict().items()
            if not key.endswith("num_batches_tracked")
        }


class RefIndependentG(nn.Module):
    """One full (optionally separable) DCGAN G per class, all fed the same z."""

    def __init__(self, nz: int, ngf: int, n: int, r: float | None = None) -> None:
        super().__init__()
        self.towers = nn.ModuleList(RefG(nz, ngf, 2, r) for _ in range(n))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.stack([g(z) for g in self.towers])

    def legacy_state(self) -> dict[str, torch.Tensor]:
        return {f"main.{c}.{key}": v for c, g in enumerate(self.towers) for key, v in g.legacy_state().items()}


class RefD(nn.Module):
    """DCGAN discriminator of PAPER.md, with or without BN, one score per image."""

    def __init__(self, nc: int, ndf: int, batchnorm: bool) -> None:
        super().__init__()
        self.widths = [nc, ndf, 2 * ndf, 4 * ndf, 8 * ndf]
        self.convs = nn.ModuleList(nn.Conv2d(self.widths[j], self.widths[j + 1], 4, 2, 1, bias=False) for j in range(4))
        self.final = nn.Conv2d(8 * ndf, 1, (3, 5), 1, 0, bias=False)
        self.bns = nn.ModuleList(nn.BatchNorm2d(self.widths[j + 1]) for j in range(1, 4)) if batchnorm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.convs[0](x), 0.2)
        for j in range(1, 4):
            x = self.convs[j](x)
            if self.bns is not None:
                x = self.bns[j - 1](x)
            x = F.leaky_relu(x, 0.2)
        return self.final(x).reshape(-1)

    def legacy_state(self) -> dict[str, torch.Tensor]:
        w = self.widths
        out = {f"main.initial.{w[0]}-{w[1]}.conv.weight": self.convs[0].weight.detach().clone()}
        for j in range(1, 4):
            out[f"main.pyramid.{w[j]}-{w[j + 1]}.conv.weight"] = self.convs[j].weight.detach().clone()
            if self.bns is not None:
                out.update(bn_state(f"main.pyramid.{w[j + 1]}.batchnorm", self.bns[j - 1]))
        out[f"main.final.{w[4]}-1.conv.weight"] = self.final.weight.detach().clone()
        return out


class RefStarD(nn.Module):
    """One DCGAN D per class; D_c scores image c."""

    def __init__(self, n: int, ndf: int, batchnorm: bool) -> None:
        super().__init__()
        self.critics = nn.ModuleList(RefD(2, ndf, batchnorm) for _ in range(n))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([d(x) for d, x in zip(self.critics, images)])

    def legacy_state(self) -> dict[str, torch.Tensor]:
        return {f"main.{c}.{key}": v for c, d in enumerate(self.critics) for key, v in d.legacy_state().items()}


# ---------------------------------------------------------------------------------------
# helpers


def randomise(module: nn.Module, example: torch.Tensor) -> nn.Module:
    """Random weights and random, non-default BatchNorm statistics; eval mode.

    Running statistics start as the statistics of one batch (momentum 1), so eval-mode
    activations stay well scaled, then get random offsets and scales, so that a mix-up of
    channels, of running mean and variance, or of train and eval mode changes the output.
    """
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.normal_(bn.bias, 0.0, 0.3)
        bn.momentum = 1.0
    module.train()
    with torch.no_grad():
        module(example)
    for bn in bns:
        bn.momentum = 0.1
        bn.running_mean += 0.3 * torch.randn_like(bn.running_mean) * bn.running_var.sqrt()
        bn.running_var *= torch.empty_like(bn.running_var).uniform_(0.5, 2.0)
    return module.eval()


def save_legacy(path: Path, state: dict[str, torch.Tensor]) -> Path:
    """A file as PyTorch 0.2 wrote it: a plain OrderedDict of tensors, no num_batches_tracked."""
    assert not any(k.endswith("num_batches_tracked") for k in state)
    torch.save(OrderedDict(state), path)
    return path


def assert_same(ours: nn.Module, ref: nn.Module, x: torch.Tensor, float32: bool = False) -> torch.Tensor:
    """Outputs agree in float64 to 1e-10 (the mapping is exact) and, if asked, in float32 to 1e-5."""
    with torch.no_grad():
        if float32:
            assert torch.allclose(ours(x), ref(x), atol=1e-5, rtol=0)
        expected = ref.double()(x.double())
        got = ours.double()(x.double())
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-10, rtol=0), (got - expected).abs().max()
    return expected


def assert_not_saturated(images: torch.Tensor) -> None:
    """Outputs in tanh's linear range, so that the comparison sees differences."""
    assert images.std() > 0.05
    assert (images.abs() < 0.95).double().mean() > 0.5


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------------------
# the references are the paper's networks


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: RefG(100, 64, 2), 3_524_480),
        (lambda: RefG(100, 64, 2, 0.5), 2_643_840),
        (lambda: RefStarG(100, 64, 6), 11_455_040),
        (lambda: RefIndependentG(100, 64, 6), 21_146_880),
        (lambda: RefIndependentG(100, 64, 6, 0.5), 15_863_040),
        (lambda: RefG(350, 224, 7), 43_158_080),
        (lambda: RefG(350, 224, 7, 0.143), 37_874_240),
        (lambda: RefD(2, 64, True), 2_764_032),
        (lambda: RefD(2, 64, False), 2_762_240),
        (lambda: RefStarD(6, 64, False), 16_573_440),
        (lambda: RefD(7, 224, False), 33_770_240),
    ],
)
def test_references_have_the_papers_parameter_counts(build: Callable[[], nn.Module], expected: int) -> None:
    with torch.device("meta"):
        assert n_params(build()) == expected


# ---------------------------------------------------------------------------------------
# generators: every family gives the original's images


GENERATOR_CASES = [
    # family, reference, overrides passed to load_generator, batch
    ("dcgan", lambda: RefG(100, 64, 2), {}, 3),
    ("sep", lambda: RefG(100, 64, 2, 0.5), {}, 3),
    ("star", lambda: RefStarG(100, 64, 6), {}, 2),
    ("independent", lambda: RefIndependentG(100, 16, 3), {"ngf": 16, "n_classes": 3}, 3),
    ("independent_sep", lambda: RefIndependentG(100, 16, 3, 0.5), {"class_names": ["a", "b", "c"]}, 3),
    ("multichannel", lambda: RefG(350, 16, 5), {"nz": 350, "ngf": 16}, 3),
    ("multichannel_sep", lambda: RefG(350, 16, 7, 0.143), {}, 3),
    ("star", lambda: RefStarG(40, 8, 3), {"n_classes": 3}, 3),
]


@pytest.mark.parametrize(("family", "build", "overrides", "batch"), GENERATOR_CASES)
def test_2017_generator_gives_the_originals_images(tmp_path, family, build, overrides, batch) -> None:
    torch.manual_seed(0)
    ref = build()
    nz = ref.towers[0].widths[0] if isinstance(ref, RefIndependentG) else getattr(ref, "widths", [100])[0]
    if isinstance(ref, RefStarG):
        nz = ref.layers[0].convt_green[0].in_channels
    z = torch.randn(batch, nz)
    randomise(ref, torch.randn(16, nz))
    path = save_legacy(tmp_path / "netG_iter_50000.pth", ref.legacy_state())

    ours = biogans.load_generator(path, model=family, **overrides)
    assert not ours.training
    assert ours.spec["name"] == family and ours.trained == {"iteration": None, "loss": None}
    full_size = family in ("dcgan", "star") and n_params(ref) > 3_000_000
    images = assert_same(ours, ref, z, float32=full_size)
    assert_not_saturated(images)
    kind = FAMILIES[family]["kind"]
    if kind in ("star", "independent"):
        assert images.shape == (ours.n_towers, batch, 2, 48, 80)
    elif kind == "multichannel":
        assert images.shape == (batch, ours.nc, 48, 80)
    else:
        assert images.shape == (batch, 2, 48, 80)


def test_converted_state_fills_num_batches_tracked_and_copies(tmp_path) -> None:
    torch.manual_seed(1)
    ref = randomise(RefG(100, 16, 2, 0.5), torch.randn(8, 100))
    state = ref.legacy_state()
    spec = legacy_spec("sep", ngf=16)
    converted = convert_generator_state(state, spec)
    counters = [v for k, v in converted.items() if k.endswith("num_batches_tracked")]
    assert counters and all(v.dtype == torch.int64 and v.item() == 0 for v in counters)
    # the red BatchNorm is the first int(out * r) channels of the 2017 one, green the rest
    bn = state["main.initial.128.batchnorm.running_var"]
    assert torch.equal(converted["layers.0.red_bn.running_var"], bn[:64])
    assert torch.equal(converted["layers.0.green_bn.running_var"], bn[64:])
    converted["layers.0.red_bn.running_var"].zero_()
    assert bn.abs().min() > 0  # not a view into the caller's tensors
    # a modern re-save with num_batches_tracked loads too
    state["main.initial.128.batchnorm.num_batches_tracked"] = torch.tensor(7)
    again = convert_generator_state(state, spec)
    assert again["layers.0.red_bn.num_batches_tracked"].item() == 7


def test_tolerated_spellings_give_the_same_generator(tmp_path) -> None:
    """':' for '.', a DataParallel 'module.' prefix, another name for the separable BN, no inner main."""
    torch.manual_seed(2)
    ref = randomise(RefIndependentG(100, 16, 2, 0.5), torch.randn(8, 100))
    respelled = {}
    for key, value in ref.legacy_state().items():
        key = key.replace(".main.", ".", 1)  # main.0.main.initial... -> main.0.initial...
        key = key.replace(".batchnorm.", ".batchnorm-sep.")
        key = key.replace("initial.", "initial:").replace(".convt-sep", ":convt-sep")
        respelled["module." + key] = value
    ours = load_legacy_generator(respelled, "independent_sep")
    assert_same(ours, ref, torch.randn(3, 100))


def test_load_legacy_generator_reads_settings_off_the_file(tmp_path) -> None:
    torch.manual_seed(3)
    ref = randomise(RefStarG(60, 8, 4), torch.randn(8, 60))
    ours = load_legacy_generator(ref.legacy_state(), "star")
    assert (ours.nz, ours.ngf, ours.n_towers, ours.image_size) == (60, 8, 4, (48, 80))
    assert_same(ours, ref, torch.randn(2, 60))


# ---------------------------------------------------------------------------------------
# critics


CRITIC_CASES = [
    ("dcgan", lambda: RefD(2, 64, True), (4, 2, 48, 80)),
    ("sep", lambda: RefD(2, 64, False), (4, 2, 48, 80)),
    ("star", lambda: RefStarD(3, 16, False), (3, 4, 2, 48, 80)),
    ("independent", lambda: RefStarD(2, 16, True), (2, 4, 2, 48, 80)),
    ("multichannel", lambda: RefD(7, 16, False), (4, 7, 48, 80)),
]


@pytest.mark.parametrize(("family", "build", "shape"), CRITIC_CASES)
def test_2017_critic_gives_the_originals_scores(tmp_path, family, build, shape) -> None:
    torch.manual_seed(4)
    ref = build()
    randomise(ref, torch.randn(16, *shape[1:]) if len(shape) == 4 else torch.randn(shape[0], 16, *shape[2:]))
    path = save_legacy(tmp_path / "netD_iter_50000.pth", ref.legacy_state())
    ours = load_legacy_critic(path, family)
    assert not ours.training
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in ref.modules())
    assert ours.batchnorm == has_bn
    scores = assert_same(ours, ref, torch.rand(shape) * 2 - 1)
    assert scores.shape == shape[: len(shape) - 3]
    assert scores.std() > 0


def test_convert_critic_state_detects_batchnorm() -> None:
    torch.manual_seed(5)
    spec = legacy_spec("dcgan", ndf=8)
    with_bn = convert_critic_state(RefD(2, 8, True).legacy_state(), spec)
    without = convert_critic_state(RefD(2, 8, False).legacy_state(), spec)
    assert any("running_var" in k for k in with_bn)
    assert not any("running_var" in k for k in without)


# ---------------------------------------------------------------------------------------
# mistakes get clear messages


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> dict[str, Path]:
    torch.manual_seed(6)
    folder = tmp_path_factory.mktemp("legacy")
    refs = {
        "dcgan": RefG(100, 8, 2),
        "sep": RefG(100, 8, 2, 0.5),
        "star": RefStarG(100, 8, 3),
        "independent": RefIndependentG(100, 8, 2),
        "multichannel": RefG(350, 8, 7),
        "netD": RefStarD(3, 8, False),
    }
    return {name: save_legacy(folder / f"{name}.pth", ref.legacy_state()) for name, ref in refs.items()}


@pytest.mark.parametrize(
    ("stored", "asked", "hint"),
    [
        ("sep", "dcgan", "looks like a 2017 'sep' generator: try model='sep'"),
        ("dcgan", "star", "looks like a 2017 'dcgan' generator"),
        ("star", "independent_sep", "looks like a 2017 'star' generator"),
        ("independent", "dcgan", "looks like a 2017 'independent' generator"),
        ("multichannel", "dcgan", "looks like a 2017 'multichannel' generator"),
        ("netD", "star", "discriminator"),
    ],
)
def test_wrong_family_is_named(small_files, stored, asked, hint) -> None:
    with pytest.raises(CheckpointError) as info:
        biogans.load_generator(small_files[stored], model=asked)
    message = str(info.value)
    assert f"does not look like a 2017 {asked!r} generator" in message
    assert "unexpected keys [" in message and "missing keys [" in message and "in all)" in message
    assert hint in message
    assert str(small_files[stored]) in message


def test_multichannel_asked_for_a_two_channel_file(small_files) -> None:
    with pytest.raises(CheckpointError, match="try model='dcgan'"):
        biogans.load_generator(small_files["dcgan"], model="multichannel")


def test_missing_and_unexpected_keys_are_listed(tmp_path, small_files) -> None:
    state = torch.load(small_files["star"], weights_only=True)
    del state["main.2.batchnorm_green.1.running_var"]
    state["main.9.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as info:
        load_legacy_generator(state, "star")
    message = str(info.value)
    assert "'main.9.extra.weight'" in message and "'main.2.batchnorm_green.1.running_var'" in message
    assert "follow the 'star' pattern" in message


def test_wrong_shapes_and_conflicting_settings(small_files) -> None:
    with pytest.raises(CheckpointError, match=r"convt_half\.weight' is \(50, 32, 3, 5\), expected \(60, 38, 3, 5\)"):
        biogans.load_generator(small_files["sep"], model="sep", red_portion=0.6)
    with pytest.raises(CheckpointError, match="ngf=8 .*but ngf=64 was asked for"):
        biogans.load_generator(small_files["dcgan"], model="dcgan", ngf=64)
    with pytest.raises(CheckpointError, match="n_classes=3 .*but n_classes=6"):
        biogans.load_generator(small_files["star"], model="star", class_names=list("abcdef"))


def test_2017_file_without_model_asks_for_it(small_files) -> None:
    with pytest.raises(CheckpointError) as info:
        biogans.load_generator(small_files["star"])
    message = str(info.value)
    assert "model=FAMILY" in message and "2017" in message and "try model='star'" in message
    for family in FAMILIES:
        assert family in message


def test_unreadable_files_are_checkpoint_errors(tmp_path, small_files) -> None:
    data = small_files["dcgan"].read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    for path in (truncated, text, tmp_path / "absent.pth"):
        with pytest.raises(CheckpointError):
            biogans.load_generator(path, model="dcgan")
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(CheckpointError, match="list"):
        biogans.load_generator(listing, model="dcgan")
    mixed = tmp_path / "mixed.pth"
    torch.save({"epoch": 3, "main.initial.100-512.convt.weight": torch.zeros(1)}, mixed)
    with pytest.raises(CheckpointError, match="not tensors"):
        biogans.load_generator(mixed, model="dcgan")


def test_unknown_family_and_setting(small_files) -> None:
    with pytest.raises(ConfigError, match="'stars'.*dcgan, sep, star, independent, independent_sep, multichannel"):
        biogans.load_generator(small_files["star"], model="stars")
    with pytest.raises(ConfigError, match="n_towers.*valid ones: nz, ngf"):
        legacy_spec("star", n_towers=3)


def test_legacy_spec_defaults() -> None:
    star = legacy_spec("star")
    assert star["class_names"] == ["Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1"]
    assert (star["kind"], star["separable"], star["red_portion"], star["image_size"]) == ("star", True, 0.5, [48, 80])
    mc = legacy_spec("multichannel_sep")
    assert (mc["nz"], mc["ngf"], mc["red_portion"], mc["n_classes"]) == (350, 224, 0.143, 6)
    assert legacy_spec("independent", n_classes=2)["class_names"] == ["class_0", "class_1"]
    assert math.isclose(legacy_spec("sep", red_portion=0.25)["red_portion"], 0.25)


def test_guess_legacy_family(small_files) -> None:
    guesses = {name: guess_legacy_family(torch.load(p, weights_only=True)) for name, p in small_files.items()}
    assert guesses == {
        "dcgan": ("generator", "dcgan"),
        "sep": ("generator", "sep"),
        "star": ("generator", "star"),
        "independent": ("generator", "independent"),
        "multichannel": ("generator", "multichannel"),
        "netD": ("critic", "star"),
    }
