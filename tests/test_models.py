"""Architectures: the paper's parameter counts, shapes, and the separable (green-on-red) property."""

from __future__ import annotations

import pytest
import torch

from biogans.core.errors import ConfigError
from biogans.core.models import build_critic, build_generator
from biogans.core.models.critic import Critic
from biogans.core.models.generator import Generator, spatial_plan


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def spec(name, kind, separable=False, n_classes=6, nz=100, ngf=64, ndf=64, red_portion=0.5, bn=False):
    return {
        "name": name, "kind": kind, "separable": separable, "red_portion": red_portion, "nz": nz, "ngf": ngf,
        "ndf": ndf, "n_classes": n_classes, "class_names": [f"c{i}" for i in range(n_classes)],
        "image_size": [48, 80], "critic_batchnorm": bn,
    }  # fmt: skip


# PAPER.md, "Networks": every count the paper gives
@pytest.mark.parametrize(
    ("model_spec", "expected"),
    [
        (spec("dcgan", "joint"), 3_524_480),
        (spec("sep", "joint", separable=True), 2_643_840),
        (spec("star", "star", separable=True), 11_455_040),
        (spec("independent", "independent"), 21_146_880),
        (spec("independent_sep", "independent", separable=True), 15_863_040),
        (spec("multichannel", "multichannel", nz=350, ngf=224, ndf=224), 43_158_080),
        (spec("multichannel_sep", "multichannel", True, nz=350, ngf=224, ndf=224, red_portion=0.143), 37_874_240),
    ],
)
def test_generator_parameter_counts(model_spec, expected):
    assert n_params(build_generator(model_spec)) == expected


@pytest.mark.parametrize(
    ("model_spec", "expected"),
    [
        (spec("dcgan", "joint", bn=True), 2_764_032),
        (spec("dcgan", "joint", bn=False), 2_762_240),
        (spec("star", "star", separable=True, bn=False), 16_573_440),
        (spec("multichannel", "multichannel", nz=350, ngf=224, ndf=224, bn=False), 33_770_240),
    ],
)
def test_critic_parameter_counts(model_spec, expected):
    assert n_params(build_critic(model_spec)) == expected


def test_spatial_plan_of_the_paper():
    assert spatial_plan(48, 80) == (4, (3, 5))
    assert spatial_plan(64, 64) == (4, (4, 4))
    with pytest.raises(ConfigError, match="50x80"):
        spatial_plan(50, 80)


def test_dcgan_layer_widths_follow_the_paper():
    g = Generator()
    widths = [(layer.green.in_channels, layer.green.out_channels) for layer in g.layers]
    assert widths == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 2)]
    assert g.layers[0].green.kernel_size == (3, 5)
    assert not any(m.bias is not None for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d))


@pytest.mark.parametrize("separable", [False, True])
def test_generator_output_shape_and_range(separable):
    g = Generator(separable=separable)
    for z in (torch.randn(5, 100), torch.randn(5, 100, 1, 1)):
        x = g(z)
        assert x.shape == (5, 2, 48, 80)
        assert x.abs().max() <= 1.0


def test_critic_gives_one_score_per_image():
    d = Critic()
    assert d(torch.randn(7, 2, 48, 80)).shape == (7,)
    star = Critic(n_towers=3, conditional=True, batchnorm=False)
    assert star(torch.randn(3, 7, 2, 48, 80)).shape == (3, 7)


def test_separable_red_never_depends_on_green_noise():
    torch.manual_seed(0)
    g = Generator(separable=True).eval()
    z = torch.randn(4, 100)
    z2 = z.clone()
    z2[:, 50:] = torch.randn(4, 50)  # new green noise, same red noise
    a, b = g(z), g(z2)
    assert torch.equal(a[:, 0], b[:, 0])  # red identical
    assert not torch.allclose(a[:, 1], b[:, 1])  # green changed
    z3 = z.clone()
    z3[:, :50] = torch.randn(4, 50)  # new red noise changes both
    c = g(z3)
    assert not torch.allclose(a[:, 0], c[:, 0]) and not torch.allclose(a[:, 1], c[:, 1])


def test_paper_init_statistics():
    torch.manual_seed(0)
    g = Generator()
    conv = g.layers[1].green.weight
    assert abs(conv.mean().item()) < 1e-3 and abs(conv.std().item() - 0.02) < 1e-3
    bn = g.layers[1].green_bn
    assert abs(bn.weight.mean().item() - 1) < 5e-3 and torch.equal(bn.bias, torch.zeros_like(bn.bias))


def test_bad_red_portion_is_a_config_error():
    with pytest.raises(ConfigError, match="red_portion"):
        Generator(separable=True, red_portion=1.5)
    with pytest.raises(ConfigError, match="red_portion=0.001"):
        Generator(separable=True, red_portion=0.001)
