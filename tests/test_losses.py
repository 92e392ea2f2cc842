"""The three losses: values against hand-written formulas, the critic schedule, one step each."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import typed

from biogans.core.losses import GANLoss, WGANGPLoss, WGANLoss, critic_step, gradient_penalty
from biogans.core.models.critic import Critic
from biogans.tasks.common import loss_from


def paper_loss(name: str):
    """The loss ``loss=<name>`` gives (conf/loss/<name>.yaml)."""
    return loss_from(typed("train", [f"loss={name}"]).loss)


class Linear(torch.nn.Module):
    """A critic whose scores are known in closed form: w . x per image."""

    def __init__(self, shape):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(shape, dtype=torch.float64))

    def forward(self, x):
        return (x * self.w).flatten(-3).sum(-1)


def test_configs_build_the_right_losses():
    assert isinstance(paper_loss("gan"), GANLoss)
    wgan, gp = paper_loss("wgan"), paper_loss("wgangp")
    assert isinstance(wgan, WGANLoss) and wgan.clip == 0.01 and wgan.gp_weight == 0
    assert isinstance(gp, WGANGPLoss) and gp.gp_weight == 10 and gp.clip is None


def test_wgan_critic_schedule_of_the_paper():
    wgan = paper_loss("wgan")
    steps = [wgan.critic_steps(i) for i in range(1200)]
    assert steps[:25] == [100] * 25
    assert steps[25:500] == [5] * 475
    assert steps[500] == 100 and steps[1000] == 100
    assert steps[501] == 5 and steps[999] == 5
    assert sum(s == 100 for s in steps) == 27
    assert all(paper_loss("wgangp").critic_steps(i) == 5 for i in (0, 10, 500))
    assert all(paper_loss("gan").critic_steps(i) == 1 for i in (0, 10, 500))


def test_gan_loss_matches_bce_formula():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 2, 4, 4, dtype=torch.float64), torch.randn(6, 2, 4, 4, dtype=torch.float64)
    critic = Linear((2, 4, 4))
    stats = GANLoss().critic_loss(critic, real, fake)
    sr, sf = critic(real), critic(fake)
    expected = -torch.log(torch.sigmoid(sr)).mean() - torch.log(1 - torch.sigmoid(sf)).mean()
    assert torch.allclose(stats.loss, expected)
    assert torch.allclose(GANLoss().generator_loss(sf), -torch.log(torch.sigmoid(sf)).mean())


def test_wgan_sign_convention():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 2, 4, 4, dtype=torch.float64), torch.randn(6, 2, 4, 4, dtype=torch.float64)
    critic = Linear((2, 4, 4))
    stats = WGANLoss().critic_loss(critic, real, fake)
    assert torch.allclose(stats.loss, critic(real).mean() - critic(fake).mean())
    assert torch.allclose(stats.wasserstein, -stats.loss)
    assert torch.allclose(WGANLoss().generator_loss(critic(fake)), critic(fake).mean())


def test_gradient_penalty_of_a_linear_critic_is_known():
    # grad_x (w . x) = w for every x_hat, so the penalty is (||w|| - 1)^2 exactly
    torch.manual_seed(0)
    critic = Linear((2, 4, 4))
    real, fake = torch.randn(5, 2, 4, 4, dtype=torch.float64), torch.randn(5, 2, 4, 4, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(1))
    assert math.isclose(gp.item(), (critic.w.norm().item() - 1) ** 2, rel_tol=1e-12)


def test_gradient_penalty_is_per_image_and_per_class():
    # a quadratic critic: the gradient at x_hat is 2 x_hat, so the penalty depends on e per image
    class Quadratic(torch.nn.Module):
        def forward(self, x):
            return (x**2).flatten(-3).sum(-1)

    torch.manual_seed(0)
    real = torch.randn(3, 4, 2, 4, 4, dtype=torch.float64)
    fake = torch.randn(3, 4, 2, 4, 4, dtype=torch.float64)
    gp = gradient_penalty(Quadratic(), real, fake, torch.Generator().manual_seed(7))
    e = torch.rand((3, 4), generator=torch.Generator().manual_seed(7), dtype=torch.float64).view(3, 4, 1, 1, 1)
    x_hat = e * real + (1 - e) * fake
    expected = (((2 * x_hat).flatten(-3).norm(dim=-1) - 1) ** 2).mean(-1)
    assert gp.shape == (3,)
    assert torch.allclose(gp, expected)


@pytest.mark.parametrize("name", ["gan", "wgan", "wgangp"])
def test_one_critic_step_on_tiny_data(name):
    torch.manual_seed(0)
    loss = paper_loss(name)
    critic = Critic(ndf=8, batchnorm=name != "wgangp")
    opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
    real = torch.rand(8, 2, 48, 80) * 2 - 1
    fake = torch.zeros(8, 2, 48, 80, requires_grad=True)
    before = [p.detach().clone() for p in critic.parameters()]
    stats = critic_step(critic, opt, loss, real, fake, torch.Generator().manual_seed(0))
    assert torch.isfinite(stats.loss).all() and not stats.loss.requires_grad
    assert fake.grad is None  # the fake batch is detached for the critic
    assert any(not torch.equal(a, b) for a, b in zip(before, critic.parameters()))
    if name == "wgan":
        assert all(p.abs().max() <= 0.01 for p in critic.parameters())
    if name == "wgangp":
        assert stats.gradient_penalty is not None and stats.gradient_penalty.item() >= 0


def test_repeated_critic_steps_separate_real_from_fake():
    torch.manual_seed(0)
    loss = paper_loss("gan")
    critic = Critic(ndf=8)
    opt = torch.optim.Adam(critic.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real = torch.full((16, 2, 48, 80), 0.5)
    fake = torch.full((16, 2, 48, 80), -0.5)
    first = critic_step(critic, opt, loss, real, fake).loss.item()
    for _ in range(20):
        last = critic_step(critic, opt, loss, real, fake).loss.item()
    assert last < first / 2


def test_conditional_losses_are_means_of_per_class_terms():
    torch.manual_seed(0)
    star = Critic(nc=2, ndf=4, n_towers=3, conditional=True, batchnorm=False).double()
    real = torch.randn(3, 5, 2, 48, 80, dtype=torch.float64)
    fake = torch.randn(3, 5, 2, 48, 80, dtype=torch.float64)
    stats = WGANLoss().critic_loss(star, real, fake)
    assert stats.loss.shape == (3,)
    for c in range(3):
        sr, sf = star(real)[c], star(fake)[c]
        assert torch.allclose(stats.loss[c], sr.mean() - sf.mean())
