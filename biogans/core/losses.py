"""The three adversarial losses, and the critic step that training and the two-sample test share.

A loss is a small object: the critic's loss, the generator's loss and the critic-step
schedule (PAPER.md, "Losses and training").  Critic scores are ``(B,)`` for a single
critic or ``(n_classes, B)`` for a star-shaped one; every loss term is a mean over the
last axis, so losses come back per class (shape ``()`` or ``(n_classes,)``) and the
optimised quantity is their mean over classes, as the paper computes conditional losses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from biogans.core.names import LossName, OptimizerName


@dataclass
class CriticStats:
    """What one critic step measured, per class (detached)."""

    loss: torch.Tensor
    gradient_penalty: torch.Tensor | None = None
    wasserstein: torch.Tensor | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)


class AdversarialLoss:
    """Base class: per-class critic and generator losses plus the critic schedule."""

    name = "base"

    def __init__(
        self,
        n_critic: int = 1,
        clip: float | None = None,
        gp_weight: float = 0.0,
        warmup_critic_steps: int = 0,
        warmup_iterations: int = 0,
        warmup_every: int = 0,
    ) -> None:
        self.n_critic, self.gp_weight = int(n_critic), float(gp_weight)
        self.clip = None if clip is None else float(clip)
        self.warmup_critic_steps = int(warmup_critic_steps)
        self.warmup_iterations, self.warmup_every = int(warmup_iterations), int(warmup_every)

    def critic_steps(self, iteration: int) -> int:
        """Critic steps before generator iteration ``iteration`` (0-based).

        WGAN warms its critic up: ``warmup_critic_steps`` for the first ``warmup_iterations``
        generator iterations and at every ``warmup_every``-th one.
        """
        if self.warmup_critic_steps and (
            iteration < self.warmup_iterations or (self.warmup_every and iteration % self.warmup_every == 0)
        ):
            return self.warmup_critic_steps
        return self.n_critic

    def critic_loss(
        self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator | None = None
    ) -> CriticStats:
        raise NotImplementedError

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        """WGAN's weight clipping: every critic parameter clamped to [-clip, clip]."""
        if self.clip is not None:
            for p in critic.parameters():
                p.clamp_(-self.clip, self.clip)


class GANLoss(AdversarialLoss):
    """BCE with logits: D(real) -> 1, D(fake) -> 0; the generator wants D(fake) -> 1."""

    name = "gan"

    def critic_loss(self, critic, real, fake, rng=None):
        real_scores, fake_scores = score_both(critic, real, fake)
        loss = _bce(real_scores, 1.0) + _bce(fake_scores, 0.0)
        return CriticStats(loss=loss)

    def generator_loss(self, fake_scores):
        return _bce(fake_scores, 1.0)


class WGANLoss(AdversarialLoss):
    """Wasserstein critic: pushes real scores down and fake scores up (PAPER.md's sign)."""

    name = "wgan"

    def critic_loss(self, critic, real, fake, rng=None):
        real_scores, fake_scores = score_both(critic, real, fake)
        real_mean, fake_mean = real_scores.mean(-1), fake_scores.mean(-1)
        loss = real_mean - fake_mean
        stats = CriticStats(loss=loss, wasserstein=(fake_mean - real_mean).detach())
        if self.gp_weight:
            gp = self.gp_weight * gradient_penalty(critic, real, fake, rng)
            stats.loss = loss + gp
            stats.gradient_penalty = gp.detach()
        return stats

    def generator_loss(self, fake_scores):
        return fake_scores.mean(-1)


class WGANGPLoss(WGANLoss):
    """WGAN with the gradient penalty instead of clipping."""

    name = "wgangp"


def score_both(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's scores of the real and of the fake batch.

    With BatchNorm using batch statistics (the GAN and WGAN critics in training) an image's
    score depends on its batch, so real and fake go through the critic in separate passes,
    as in the paper.  Otherwise (WGAN-GP's critic, or any critic in eval mode) each score
    depends on its own image only, and one pass over both batches gives the same scores
    with half the operations (about 5% of a star-shaped WGAN-GP iteration on a CPU;
    ``python -m biogans.bench``).
    """
    if _batch_coupled(critic):
        return critic(real), critic(fake)
    scores = critic(torch.cat([real, fake], dim=-4))
    return scores.split([real.shape[-4], fake.shape[-4]], dim=-1)


def _batch_coupled(critic: nn.Module) -> bool:
    """Whether some layer mixes the images of a batch: BatchNorm on batch statistics."""
    return any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) and (m.training or not m.track_running_stats)
        for m in critic.modules()
    )


def _bce(scores: torch.Tensor, target: float) -> torch.Tensor:
    labels = torch.full_like(scores, target)
    return F.binary_cross_entropy_with_logits(scores, labels, reduction="none").mean(-1)


def gradient_penalty(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator | None = None
) -> torch.Tensor:
    """Mean over images of ``(||grad_x D(x_hat)||_2 - 1)^2``, per class.

    ``x_hat = e * real + (1 - e) * fake`` with one ``e ~ U[0, 1]`` per image.  The scores
    of different images do not interact (BN is off with this loss), so the gradient of
    their sum gives every image's own gradient in one backward pass.
    """
    lead = real.shape[:-3]
    e = torch.rand(lead, generator=rng, device=real.device, dtype=real.dtype).view(lead + (1, 1, 1))
    x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.flatten(start_dim=-3).norm(2, dim=-1)
    return ((norms - 1) ** 2).mean(-1)


def critic_step(
    critic: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss: AdversarialLoss,
    real: torch.Tensor,
    fake: torch.Tensor,
    rng: torch.Generator | None = None,
) -> CriticStats:
    """One update of the critic on a real and a (detached) fake batch.

    Used by the trainer and by the two-sample test, so both train critics identically.
    """
    optimizer.zero_grad(set_to_none=True)
    stats = loss.critic_loss(critic, real, fake.detach(), rng)
    stats.loss.mean().backward()
    optimizer.step()
    loss.after_critic_step(critic)
    stats.loss = stats.loss.detach()
    return stats


def make_loss(name: str | LossName, **schedule: Any) -> AdversarialLoss:
    """The loss object of ``name`` (``gan``, ``wgan``, ``wgangp``) with its critic schedule.

    ``schedule`` holds the keyword arguments of :class:`AdversarialLoss` (``n_critic``, ``clip``,
    ``gp_weight``, ``warmup_*``): the ``loss.*`` settings of PAPER.md (``conf/loss/<name>.yaml``
    holds the paper's values; the command line checks their ranges before this is called).
    """
    kinds = {LossName.gan: GANLoss, LossName.wgan: WGANLoss, LossName.wgangp: WGANGPLoss}
    return kinds[LossName(name)](**schedule)


def make_optimizer(
    name: str | OptimizerName,
    params,
    *,
    lr: float,
    betas: tuple[float, float] | list[float] | None = None,
    alpha: float | None = None,
    eps: float | None = None,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """Adam or RMSprop over ``params``; a setting left ``None`` is PyTorch's default.

    ``betas`` is Adam's, ``alpha`` (the smoothing constant) RMSprop's; the other one's is ignored.
    """
    extra = {"eps": float(eps)} if eps is not None else {}
    if OptimizerName(name) == OptimizerName.adam:
        if betas is not None:
            extra["betas"] = (float(betas[0]), float(betas[1]))
        return torch.optim.Adam(params, lr=float(lr), weight_decay=float(weight_decay), **extra)
    if alpha is not None:
        extra["alpha"] = float(alpha)
    return torch.optim.RMSprop(params, lr=float(lr), weight_decay=float(weight_decay), **extra)
