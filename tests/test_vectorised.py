"""Both tower implementations (grouped convolutions, a loop over weight slices) equal a plain
per-class loop built from the same weights.

The reference below is written the obvious way: one ConvTranspose2d / Conv2d / BatchNorm2d
module per class, copied from the slices of the grouped modules, run in a Python loop.
Outputs, gradients and BatchNorm running statistics must agree to float64 rounding, in
train and eval mode, for every conditional family and the star-shaped critic, whichever
implementation (``tower_impl``) the model runs; the choice never changes the state dict.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from biogans.core.errors import ConfigError
from biogans.core.models.critic import Critic
from biogans.core.models.generator import Generator, set_tower_impl, tower_impl_for

#: the implementations a model can be told to use ("auto" resolves to one of them)
IMPLS = ["grouped", "loop"]


@pytest.fixture(autouse=True)
def float64():
    """Compare in float64 so that only real differences exceed 1e-10."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def conv_t_slice(module: nn.ConvTranspose2d, group: int, n_groups: int) -> nn.ConvTranspose2d:
    """The group-th convolution of a grouped ConvTranspose2d, as a module of its own."""
    per_in, per_out = module.in_channels // n_groups, module.out_channels // n_groups
    conv = nn.ConvTranspose2d(per_in, per_out, module.kernel_size, module.stride, module.padding, bias=False)
    conv.weight = nn.Parameter(module.weight.detach()[group * per_in : (group + 1) * per_in].clone())
    return conv


def conv_slice(module: nn.Conv2d, group: int, n_groups: int) -> nn.Conv2d:
    per_in, per_out = module.in_channels // n_groups, module.out_channels // n_groups
    conv = nn.Conv2d(per_in, per_out, module.kernel_size, module.stride, module.padding, bias=False)
    conv.weight = nn.Parameter(module.weight.detach()[group * per_out : (group + 1) * per_out].clone())
    return conv


def bn_slice(module: nn.BatchNorm2d, group: int, n_groups: int) -> nn.BatchNorm2d:
    per = module.num_features // n_groups
    bn = nn.BatchNorm2d(per)
    sl = slice(group * per, (group + 1) * per)
    bn.weight = nn.Parameter(module.weight.detach()[sl].clone())
    bn.bias = nn.Parameter(module.bias.detach()[sl].clone())
    bn.running_mean.copy_(module.running_mean[sl])
    bn.running_var.copy_(module.running_var[sl])
    return bn


class LoopGenerator(nn.Module):
    """Per-class reference of a Generator: towers as separate modules, a loop over classes."""

    def __init__(self, g: Generator) -> None:
        super().__init__()
        self.g, n = g, g.n_towers
        n_red = 1 if g.shared_red else n
        self.red = nn.ModuleList()  # [layer][red tower]
        self.red_bn = nn.ModuleList()
        self.green = nn.ModuleList()  # [layer][class]
        self.green_bn = nn.ModuleList()
        for layer in g.layers:
            self.green.append(nn.ModuleList(conv_t_slice(layer.green, c, n) for c in range(n)))
            self.green_bn.append(
                nn.ModuleList(bn_slice(layer.green_bn, c, n) for c in range(n)) if layer.green_bn else nn.ModuleList()
            )
            if layer.plan.red_out:
                self.red.append(nn.ModuleList(conv_t_slice(layer.red, c, n_red) for c in range(n_red)))
                self.red_bn.append(
                    nn.ModuleList(bn_slice(layer.red_bn, c, n_red) for c in range(n_red))
                    if layer.red_bn
                    else nn.ModuleList()
                )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        g = self.g
        n_layers = len(g.layers)
        z = z[:, :, None, None]

        def act(x, bn, i):
            return torch.tanh(x) if i == n_layers - 1 else F.relu(bn(x))

        reds = None
        if g.red_nz:  # red towers first (the shared one once), layer by layer
            n_red = len(self.red[0])
            reds = []
            for t in range(n_red):
                x, per_layer = z[:, : g.red_nz], [z[:, : g.red_nz]]
                for i in range(n_layers):
                    bn = self.red_bn[i][t] if i < n_layers - 1 else None
                    x = act(self.red[i][t](x), bn, i)
                    per_layer.append(x)
                reds.append(per_layer)
        images = []
        for c in range(g.n_towers):
            green = z[:, g.red_nz :]
            red_path = reds[0 if g.shared_red else c] if reds else None
            for i in range(n_layers):
                inp = torch.cat([red_path[i], green], 1) if red_path else green
                bn = self.green_bn[i][c] if i < n_layers - 1 else None
                green = act(self.green[i][c](inp), bn, i)
            images.append(torch.cat([red_path[-1], green], 1) if red_path else green)
        return torch.stack(images)


class LoopCritic(nn.Module):
    """Per-class reference of a star-shaped Critic."""

    def __init__(self, d: Critic) -> None:
        super().__init__()
        n = d.n_towers
        self.towers = nn.ModuleList()
        for c in range(n):
            layers = []
            for m in d.main:
                if isinstance(m, nn.Conv2d):
                    layers.append(conv_slice(m, c, n))
                elif isinstance(m, nn.BatchNorm2d):
                    layers.append(bn_slice(m, c, n))
                else:
                    layers.append(copy.deepcopy(m))
            self.towers.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([tower(x[c]).flatten() for c, tower in enumerate(self.towers)])


def randomise_bn(module: nn.Module) -> None:
    """Non-trivial running statistics, so eval mode is really compared."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)


GENERATORS = {
    "star": {"separable": True, "shared_red": True},
    "independent": {"separable": False, "shared_red": False},
    "independent_sep": {"separable": True, "shared_red": False},
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("family", list(GENERATORS))
def test_generator_equals_per_class_loop(family, mode, impl):
    torch.manual_seed(0)
    g = set_tower_impl(Generator(ngf=16, n_towers=3, conditional=True, **GENERATORS[family]), impl)
    randomise_bn(g)
    ref = LoopGenerator(g)
    g.train(mode == "train")
    ref.train(mode == "train")
    z = torch.randn(5, 100)
    out, expected = g(z), ref(z)
    assert out.shape == expected.shape == (3, 5, 2, 48, 80)
    assert rel_err(out, expected) < 1e-10

    weights = torch.randn_like(out)  # an arbitrary scalar function of the outputs
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    for i, layer in enumerate(g.layers):
        grads = torch.cat([m.weight.grad for m in ref.green[i]])
        assert rel_err(layer.green.weight.grad, grads) < 1e-10
        if layer.plan.red_out:
            assert rel_err(layer.red.weight.grad, torch.cat([m.weight.grad for m in ref.red[i]])) < 1e-10
        if layer.green_bn is not None:
            assert rel_err(layer.green_bn.weight.grad, torch.cat([m.weight.grad for m in ref.green_bn[i]])) < 1e-10
            running = torch.cat([m.running_mean for m in ref.green_bn[i]])
            assert rel_err(layer.green_bn.running_mean, running) < 1e-10
            running = torch.cat([m.running_var for m in ref.green_bn[i]])
            assert rel_err(layer.green_bn.running_var, running) < 1e-10
            assert int(layer.green_bn.num_batches_tracked) == int(ref.green_bn[i][0].num_batches_tracked)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_star_generator_at_paper_size_equals_per_class_loop(mode, impl):
    torch.manual_seed(1)
    g = set_tower_impl(Generator(separable=True, n_towers=6, conditional=True), impl)
    randomise_bn(g)
    ref = LoopGenerator(g)
    g.train(mode == "train")
    ref.train(mode == "train")
    z = torch.randn(3, 100)
    assert rel_err(g(z), ref(z)) < 1e-10


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_star_critic_equals_per_class_loop(batchnorm, mode, impl):
    torch.manual_seed(0)
    d = set_tower_impl(Critic(ndf=16, n_towers=4, conditional=True, batchnorm=batchnorm), impl)
    randomise_bn(d)
    ref = LoopCritic(d)
    d.train(mode == "train")
    ref.train(mode == "train")
    x = torch.randn(4, 6, 2, 48, 80, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, expected = d(x), ref(x_ref)
    assert out.shape == (4, 6)
    assert rel_err(out, expected) < 1e-10
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    assert rel_err(x.grad, x_ref.grad) < 1e-10  # input gradients: what the gradient penalty uses
    convs = [m for m in d.main if isinstance(m, nn.Conv2d)]
    for i, conv in enumerate(convs):
        ref_convs = [[m for m in tower if isinstance(m, nn.Conv2d)][i] for tower in ref.towers]
        assert rel_err(conv.weight.grad, torch.cat([m.weight.grad for m in ref_convs])) < 1e-10
    for i, bn in enumerate(m for m in d.main if isinstance(m, nn.BatchNorm2d)):
        ref_bns = [[m for m in tower if isinstance(m, nn.BatchNorm2d)][i] for tower in ref.towers]
        assert rel_err(bn.weight.grad, torch.cat([m.weight.grad for m in ref_bns])) < 1e-10
        assert rel_err(bn.running_mean, torch.cat([m.running_mean for m in ref_bns])) < 1e-10
        assert rel_err(bn.running_var, torch.cat([m.running_var for m in ref_bns])) < 1e-10
        assert int(bn.num_batches_tracked) == int(ref_bns[0].num_batches_tracked)


@pytest.mark.parametrize("impl", IMPLS)
def test_star_critic_gradient_penalty_equals_per_class_loop(impl):
    """The double backward of WGAN-GP through both implementations (no BN, as WGAN-GP uses)."""
    from biogans.core.losses import gradient_penalty

    torch.manual_seed(0)
    d = set_tower_impl(Critic(ndf=8, n_towers=3, conditional=True, batchnorm=False), impl)
    ref = LoopCritic(d)
    real, fake = torch.randn(3, 4, 2, 48, 80), torch.randn(3, 4, 2, 48, 80)
    gp = gradient_penalty(d, real, fake, torch.Generator().manual_seed(5))
    gp_ref = gradient_penalty(ref, real, fake, torch.Generator().manual_seed(5))
    assert rel_err(gp, gp_ref) < 1e-10
    gp.sum().backward()
    gp_ref.sum().backward()
    convs = [m for m in d.main if isinstance(m, nn.Conv2d)]
    for i, conv in enumerate(convs):
        ref_convs = [[m for m in tower if isinstance(m, nn.Conv2d)][i] for tower in ref.towers]
        assert rel_err(conv.weight.grad, torch.cat([m.weight.grad for m in ref_convs])) < 1e-10


def test_implementation_is_chosen_per_device_and_never_enters_the_state_dict():
    assert tower_impl_for(torch.device("cuda")) == "grouped"
    assert tower_impl_for(torch.device("cpu")) == "loop"
    assert tower_impl_for(torch.device("cpu"), "grouped") == "grouped"
    with pytest.raises(ConfigError, match="fastest"):
        tower_impl_for(torch.device("cpu"), "fastest")
    g = Generator(ngf=8, n_towers=2, separable=True, conditional=True)
    d = Critic(ndf=8, n_towers=2, conditional=True)
    keys = (list(g.state_dict()), list(d.state_dict()))
    for impl in IMPLS:
        set_tower_impl(g, impl)
        set_tower_impl(d, impl)
        assert (list(g.state_dict()), list(d.state_dict())) == keys


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_single_class_rendering_equals_the_full_render(mode, impl):
    torch.manual_seed(0)
    for kwargs in GENERATORS.values():
        g = Generator(ngf=16, n_towers=3, conditional=True, **kwargs).train(mode == "train")
        set_tower_impl(g, impl)
        randomise_bn(g)
        z = torch.randn(4, 100)
        full = g(z)
        for c in range(3):
            assert rel_err(g(z, tower=c), full[c]) < 1e-12
