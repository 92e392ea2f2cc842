"""The classifier two-sample test (C2ST) of PAPER.md, "Evaluation 1": one test over two sides.

Why a critic: the adversarial losses are themselves two-sample statistics.  A *fresh*
critic is trained to tell side ``a`` from side ``b`` on one half of the real images and is
then scored on the other, held-out half; the more the two sides differ, the lower its
held-out loss.  The score is minus that loss, so **a lower score means the sides are
harder to tell apart** (for fake vs real: a better generator).

Sides: each side is either real images (:class:`RealSide`: some classes of the train or
test set, both halves of one evaluation split) or a generator (:class:`GeneratorSide`:
fresh samples, as many as asked).  ``mode=fake_vs_real`` is side ``a`` = the split of the
``real_set``, side ``b`` = the generator; ``mode=real_vs_real`` is two real sides
(``classes``, ``sets``).  Both modes are the same code below (:func:`compare`); they differ
only in how the sides are built (:func:`sides_of`).  A conditional or multi-channel
generator is judged per class: its side and the real side are stacked per class and the
critic is star-shaped (one DCGAN critic per class).

The critic is built from what it judges (:func:`biogans.tasks.common.two_sample_critic`):
the sides' channels and image size, one tower per class when the sides are stacked per
class, batch norm as the loss wants (off for WGAN-GP) and ``ndf``.

Roles: side ``a`` takes the loss's "real" argument and side ``b`` its "fake" one.  The
critic trains with :func:`biogans.core.losses.critic_step`, the very step the trainer uses
(WGAN clipping included), with the loss's optimizer and no WGAN warm-up schedule: only
the critic trains, so the number of critic steps per generator step is meaningless here.

Where a score lands when the sides cannot be told apart (the "floor"):

* GAN: about ``-2 ln 2 = -1.386`` (the BCE of a critic that guesses); an overfitted
  critic lands *below* it (the paper's real-vs-real baseline is -3.71).
* WGAN: about 0 (clipping keeps the critic's range tiny).
* WGAN-GP: a little below 0 (the penalty term counts too; the paper's baseline: -0.73).

Beside the score, statistics that do not depend on the loss's scale (issue 11; see
:mod:`biogans.core.two_sample_stats`): the ROC AUC of the critic's held-out scores
oriented the way it was trained (GAN: side ``a`` high; WGAN, whose critic loss is
``mean D(a) - mean D(b)``: side ``a`` low, so its scores are negated), a one-sided
Mann-Whitney p-value for "no difference", and the balanced accuracy of the sign of the GAN
critic's logits, or, for WGAN and WGAN-GP, of a threshold chosen on the training half
(one more pass over it after training).  Each distinct held-out image counts once: a real
image's scores are averaged over the passes and flips that drew it; generated images are
fresh, one score each.  Per class for a star-shaped critic, and overall.

Scoring: the critic is put in eval mode (BatchNorm uses its running statistics) and never
updated again.  One pass is one epoch of whole batches of the test half of the real side
(of the smaller real side when both are real: the larger one keeps drawing without
replacement and reshuffles when it runs out).  Random flips stay on, as the paper applies
them in evaluation too.  For WGAN-GP the penalty needs input gradients, so gradients are
enabled for it while the critic's parameters are frozen.

Halves smaller than one batch: the batch shrinks to the smallest half of that phase
(training or scoring) with a warning, rather than failing, because small classes are
common in user data and every image still counts; both sides and every class always
share one batch size (the gradient penalty mixes a-images with b-images one to one).  An
empty half is an error.  The batch sizes used are recorded in ``c2st.json``.

Randomness: every stream (critic init, batches of each half and side, latent vectors,
penalty mixing) has its own seeded ``torch.Generator`` on the device, all derived from
``seed``; two generators judged with the same seed and split see the same real batches.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from biogans.config import C2STConfig, C2STMode, as_plain, class_groups
from biogans.core import two_sample_stats as stats
from biogans.core.checkpoint import load_generator
from biogans.core.data.batches import Batches
from biogans.core.data.lin import LinFolder
from biogans.core.errors import ConfigError, DataError, TrainingError
from biogans.core.losses import AdversarialLoss, GANLoss, critic_step
from biogans.core.records import C2STRecord, GeneratorInfo, Separation, SetClasses
from biogans.tasks.common import (
    check_generator_classes,
    check_image_size,
    class_view,
    generator_info,
    is_class_conditional,
    loss_from,
    optimizer_from,
    read_set,
    split_pools,
    two_sample_critic,
)
from biogans.tasks.training import resolve_device

log = logging.getLogger(__name__)

#: At most about this many points in the recorded training curve.
CURVE_POINTS = 200
#: One batch per call: images, or images and which image of their set each row is
#: (``None``: fresh images, each its own).
Draw = Callable[[], torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]]

# One seeded stream per source of randomness (see the module docstring).
_STREAMS = ("train_a", "train_b", "test_a", "test_b", "loss")


# --------------------------------------------------------------------------- the test itself


@dataclass
class SideScores:
    """The critic's raw scores of one side's scored rows, and which image each row was.

    ``scores`` is ``(towers, N)`` (one row of towers for a single critic) on the CPU;
    ``ids`` has the same shape, or is ``None`` when every row was a fresh image.
    """

    scores: torch.Tensor
    ids: torch.Tensor | None = None

    def per_image(self, tower: int, sign: float = 1.0) -> np.ndarray:
        """Tower ``tower``'s scores times ``sign``, one per distinct image (its rows averaged)."""
        ids = None if self.ids is None else self.ids[tower].numpy()
        return stats.per_image(sign * self.scores[tower].double().numpy(), ids)


@dataclass
class HeldOut:
    """What scoring measured: the mean critic loss per class (or a scalar) and both sides' scores."""

    losses: torch.Tensor
    a: SideScores
    b: SideScores
    #: whether the critic was star-shaped (one tower per class), so its statistics are per class
    per_class: bool = False


@dataclass
class TwoSampleResult:
    """What :func:`two_sample_test` measured.

    ``losses`` is the mean held-out critic loss, per class (``(n_classes,)``) for a
    star-shaped critic and a scalar otherwise; ``score`` is minus its mean over classes;
    ``held_out`` keeps the critic's scores of every held-out row (for the statistics).
    """

    score: float
    losses: torch.Tensor
    train_curve: list[tuple[int, float]] = field(default_factory=list)
    eval_batches: int = 0
    held_out: HeldOut | None = None

    @property
    def per_class_scores(self) -> list[float] | None:
        """Minus the held-out loss of each class, or None for a single critic."""
        if self.losses.dim() == 0:
            return None
        return [-float(v) for v in self.losses]


def two_sample_test(
    critic: nn.Module,
    loss: AdversarialLoss,
    optimizer: torch.optim.Optimizer,
    train_a: Draw,
    train_b: Draw,
    test_a: Draw,
    test_b: Draw,
    iterations: int,
    eval_batches: int,
    rng: torch.Generator | None = None,
    progress: bool = False,
    desc: str = "c2st",
) -> TwoSampleResult:
    """Train ``critic`` to separate side a from side b, then score it on held-out batches.

    ``train_*``/``test_*`` return one batch per call: ``(B, C, H, W)``, or
    ``(n_classes, B, C, H, W)`` for a star-shaped critic, the two sides of one call pair
    having the same shape; a test draw may also return ``(batch, image_ids)`` (see
    :data:`Draw`).  The critic makes ``iterations`` steps, then is scored on
    ``eval_batches`` pairs of test batches without being updated; ``rng`` drives the
    gradient penalty's mixing.  See the module docstring for the sign of the score.
    """
    if iterations < 1:
        raise ConfigError(f"iterations must be >= 1, got {iterations}")
    if eval_batches < 1:
        raise ConfigError(f"the scoring needs at least one batch, got eval_batches={eval_batches}")
    every = max(1, math.ceil(iterations / CURVE_POINTS))
    log_every = max(1, math.ceil(iterations / 10))
    curve: list[tuple[int, float]] = []
    window: torch.Tensor | None = None
    window_steps = 0
    critic.train()
    with (
        logging_redirect_tqdm(),
        tqdm(total=iterations, desc=desc, unit="step", dynamic_ncols=True, disable=not progress) as bar,
    ):
        for step in range(1, iterations + 1):
            a, _ = _with_ids(train_a())
            b, _ = _with_ids(train_b())
            value = critic_step(critic, optimizer, loss, a, b, rng).loss.mean()
            window = value if window is None else window + value
            window_steps += 1
            bar.update(1)
            if step % every == 0 or step == iterations:
                mean = float(window) / window_steps  # one device sync per curve point
                if not math.isfinite(mean):
                    raise TrainingError(
                        f"the two-sample critic's loss became {mean} by step {step}; "
                        "try a lower optimizer.lr or another loss"
                    )
                curve.append((step, mean))
                window, window_steps = None, 0
                bar.set_postfix({"D": f"{mean:.3f}"})
                if step % log_every == 0 or step == iterations:
                    log.info("%s: critic step %d/%d, loss %.4f", desc, step, iterations, mean)
    held_out = score_critic(critic, loss, test_a, test_b, eval_batches, rng)
    return TwoSampleResult(
        score=-float(held_out.losses.mean()),
        losses=held_out.losses,
        train_curve=curve,
        eval_batches=eval_batches,
        held_out=held_out,
    )


def score_critic(
    critic: nn.Module,
    loss: AdversarialLoss | None,
    draw_a: Draw,
    draw_b: Draw,
    n_batches: int,
    rng: torch.Generator | None = None,
) -> HeldOut:
    """The critic on ``n_batches`` pairs of batches, without changing it.

    Returns the mean critic loss (penalty included; per class) over the pairs, and the
    critic's score of every row of both sides with its image id; ``loss=None`` gives the
    scores only (the training half's pass of :func:`compare`).  The critic goes to eval
    mode and its parameters are frozen for the duration (so the gradient penalty's input
    gradients cost no parameter gradients); both are restored.
    """
    was_training = critic.training
    flags = [p.requires_grad for p in critic.parameters()]
    critic.eval()
    critic.requires_grad_(False)
    total: torch.Tensor | None = None
    rows: dict[str, list[torch.Tensor]] = {"a": [], "b": [], "a_ids": [], "b_ids": []}
    per_class = False
    try:
        for _ in range(n_batches):
            (a, a_ids), (b, b_ids) = _with_ids(draw_a()), _with_ids(draw_b())
            with torch.no_grad():
                score_a, score_b = critic(a), critic(b)
            per_class = score_a.dim() == 2  # (towers, B): a star-shaped critic
            rows["a"].append(_towers(score_a))
            rows["b"].append(_towers(score_b))
            for side, ids in (("a", a_ids), ("b", b_ids)):
                if ids is not None:
                    rows[f"{side}_ids"].append(_towers(ids))
            if loss is not None:
                with torch.set_grad_enabled(bool(loss.gp_weight)):
                    value = loss.critic_loss(critic, a, b, rng).loss.detach()
                total = value if total is None else total + value
    finally:
        for p, flag in zip(critic.parameters(), flags):
            p.requires_grad_(flag)
        critic.train(was_training)

    def side(name: str) -> SideScores:
        ids = rows[f"{name}_ids"]
        if ids and len(ids) != len(rows[name]):
            raise ValueError(f"side {name}'s draws gave image ids for some batches and not for others")
        return SideScores(torch.cat(rows[name], dim=-1).cpu(), torch.cat(ids, dim=-1).cpu() if ids else None)

    losses = total / n_batches if total is not None else torch.tensor(math.nan)
    return HeldOut(losses=losses, a=side("a"), b=side("b"), per_class=per_class)


def _with_ids(drawn: torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]) -> tuple[torch.Tensor, Any]:
    """A draw as ``(batch, ids)``: a bare batch is fresh images (no ids)."""
    return drawn if isinstance(drawn, tuple) else (drawn, None)


def _towers(values: torch.Tensor) -> torch.Tensor:
    """Scores or ids as ``(towers, B)``: a single critic's ``(B,)`` becomes one row."""
    return values.detach().unsqueeze(0) if values.dim() == 1 else values.detach()


def a_side_sign(loss: AdversarialLoss) -> float:
    """+1 where the critic was trained to score side a high (GAN's logits), -1 where low (WGAN's
    critic loss is ``mean D(a) - mean D(b)``): held-out scores times this are "oriented"."""
    return 1.0 if isinstance(loss, GANLoss) else -1.0


def accuracy_rule(loss: AdversarialLoss) -> str:
    """The sign of the GAN critic's logits; a threshold from the training half for the WGAN critics."""
    return stats.SIGN if isinstance(loss, GANLoss) else stats.TRAIN_THRESHOLD


def separations(
    held_out: HeldOut, sign: float, thresholds: Sequence[float]
) -> tuple[Separation, list[Separation] | None]:
    """The statistics of every tower (class) and overall (:mod:`biogans.core.two_sample_stats`):
    oriented scores, one per distinct held-out image, the accuracy at ``thresholds[tower]``."""
    towers = held_out.a.scores.shape[0]
    per_tower = [
        stats.separation(held_out.a.per_image(t, sign), held_out.b.per_image(t, sign), thresholds[t])
        for t in range(towers)
    ]
    if not held_out.per_class:
        return per_tower[0], None
    return stats.overall(per_tower), per_tower


def thresholds_from(train: HeldOut, sign: float) -> list[float]:
    """Per tower, the threshold that best separates the training half's oriented scores."""
    return [
        stats.train_threshold(train.a.per_image(t, sign), train.b.per_image(t, sign))
        for t in range(train.a.scores.shape[0])
    ]


# --------------------------------------------------------------------------- the two sides


@dataclass
class RealSide:
    """Real images of one side: a set, its classes, and the index pools of both halves of a split."""

    set_name: str
    classes: list[str]
    images: torch.Tensor
    #: half ("train"/"test") -> one index tensor per class
    pools: dict[str, list[torch.Tensor]]
    #: stacked per class (conditional view) or merged into one pool
    stacked: bool
    split: int

    @property
    def towers(self) -> int | None:
        """Critic towers this side needs: one per class when stacked, else None (one critic)."""
        return len(self.classes) if self.stacked else None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one image as the critic sees it."""
        c, h, w = self.images.shape[-3:]
        return int(c), int(h), int(w)

    def pool_sizes(self, half: str) -> dict[str, int]:
        """Size of every pool this side draws ``half`` batches from, keyed by a description for messages."""
        where = f"the {self.set_name} set's split {self.split}, {half} half"
        if self.stacked:
            return {f"class {c!r} in {where}": len(p) for c, p in zip(self.classes, self.pools[half])}
        names = ", ".join(self.classes)
        return {f"classes {names} in {where}": sum(len(p) for p in self.pools[half])}

    def batches(self, half: str, batch_size: int, rng: torch.Generator) -> Batches:
        pools = self.pools[half] if self.stacked else [torch.cat(self.pools[half])]
        return Batches(self.images, pools, batch_size, rng, stacked=self.stacked)

    def describe(self) -> str:
        return f"{', '.join(self.classes)} of the {self.set_name} set"

    def record(self) -> SetClasses:
        return SetClasses(self.set_name, list(self.classes))


class Fakes:
    """Endless batches of fresh generated images (the generator's side of a test)."""

    #: a generator never runs out: passes are counted on the real side
    batches_per_epoch: int | None = None

    def __init__(self, view: nn.Module, batch_size: int, rng: torch.Generator, device: torch.device) -> None:
        self.view, self.batch_size, self.rng, self.device = view, batch_size, rng, device

    def next(self) -> torch.Tensor:
        z = torch.randn(self.batch_size, self.view.nz, generator=self.rng, device=self.device)
        with torch.no_grad():
            return self.view(z)


@dataclass
class GeneratorSide:
    """A trained generator as one side: fresh samples, per class for conditional models."""

    #: the generator seen as rendering ``(n_classes, B, 2, H, W)`` or ``(B, 2, H, W)``
    view: nn.Module
    spec: Mapping[str, Any]
    info: dict[str, Any]
    classes: list[str]
    stacked: bool
    device: torch.device

    @property
    def towers(self) -> int | None:
        return len(self.classes) if self.stacked else None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        h, w = (int(s) for s in self.spec["image_size"])
        return 2, h, w  # red and green: multi-channel generators are seen per class (class_view)

    def pool_sizes(self, half: str) -> dict[str, int]:
        return {}  # any batch size

    def batches(self, half: str, batch_size: int, rng: torch.Generator) -> Fakes:
        return Fakes(self.view, batch_size, rng, self.device)

    def describe(self) -> str:
        how = "per class" if self.stacked else "joint"
        return f"{self.spec.get('name')} generator {self.info['path']} ({how})"


Side = RealSide | GeneratorSide


def load_side(
    dataset_cfg: Any,
    folder: LinFolder,
    set_name: str,
    split: int,
    classes: Sequence[str],
    stacked: bool,
    device: torch.device,
) -> RealSide:
    """Both halves of split ``split`` of ``classes`` in ``folder`` (read from set ``set_name``)."""

    pools = split_pools(dataset_cfg, folder, set_name, split, classes)
    return RealSide(set_name, list(classes), folder.images.to(device), pools, stacked, split)


def generator_against_real(cfg: C2STConfig, device: torch.device) -> tuple[RealSide, GeneratorSide]:
    """``mode=fake_vs_real``: a = split ``cfg.split`` of the ``real_set``, b = the generator ``cfg.generator``."""
    path = Path(str(cfg.generator)).expanduser().absolute()
    model = cfg.model.name if cfg.model is not None else None
    generator = load_generator(path, model=model, device=device)
    spec = generator.spec
    check_image_size(spec, cfg.dataset, str(path))
    real_set = as_plain(cfg.real_set)
    folder = read_set(cfg.dataset, real_set)
    check_generator_classes(spec, folder.class_names, str(path))
    conditional = is_class_conditional(spec)
    # per class in the generator's order (checked equal to the data's); a joint model: merged
    classes = list(spec["class_names"]) if conditional else list(folder.class_names)
    real = load_side(cfg.dataset, folder, real_set, int(cfg.split), classes, conditional, device)
    fake = GeneratorSide(class_view(generator), spec, generator_info(path, generator), classes, conditional, device)
    return real, fake


def real_against_real(cfg: C2STConfig, device: torch.device) -> tuple[RealSide, RealSide]:
    """``mode=real_vs_real``: a = ``classes[0]`` of ``sets[0]``, b = ``classes[1]`` of ``sets[1]``."""
    # the sets, classes and generator were checked at start-up (biogans.config.check_config)
    sets = [as_plain(s) for s in cfg.sets]
    groups = class_groups(cfg.classes)
    # each set is read once, with every class either side needs from it
    if groups is None:
        folder_a = read_set(cfg.dataset, sets[0])
        groups = [list(folder_a.class_names), list(folder_a.class_names)]
        folders = {sets[0]: folder_a}
    else:
        folders = {}
    wanted: dict[str, list[str]] = {}
    for which, group in zip(sets, groups):
        wanted.setdefault(which, [])
        wanted[which] += [c for c in group if c not in wanted[which]]
    for which, classes in wanted.items():
        if which not in folders:
            folders[which] = read_set(cfg.dataset, which, classes)
    # on the device once, even when both sides come from one set
    folders = {which: replace(f, images=f.images.to(device)) for which, f in folders.items()}
    a, b = (load_side(cfg.dataset, folders[s], s, int(cfg.split), c, False, device) for s, c in zip(sets, groups))
    return a, b


def sides_of(cfg: C2STConfig, device: torch.device) -> tuple[Side, Side]:
    """The two sides ``cfg.mode`` asks for (side a takes the loss's "real" role)."""
    if as_plain(cfg.mode) == C2STMode.real_vs_real.value:
        return real_against_real(cfg, device)
    return generator_against_real(cfg, device)


def batch_size_for(requested: int, pools: Mapping[str, int], phase: str) -> int:
    """``requested``, or the smallest pool's size (with a warning) when a pool is smaller; empty pools fail."""
    name, smallest = min(pools.items(), key=lambda item: item[1])
    if smallest < 1:
        raise DataError(f"{name} holds no images: the two-sample test cannot use it (too few images in that class?)")
    if smallest < requested:
        log.warning(
            "%s has %d images, fewer than batch_size=%d: %s uses batches of %d",
            name,
            smallest,
            requested,
            phase,
            smallest,
        )
        return smallest
    return requested


def _streams(seed: int, device: torch.device) -> dict[str, torch.Generator]:
    # disjoint seeds per stream: seed * 16 + k never collides for k < 16
    return {name: torch.Generator(device).manual_seed(seed * 16 + k) for k, name in enumerate(_STREAMS)}


def _draws(batches: Batches | Fakes, with_ids: bool) -> Draw:
    """A draw function: real batches with the image id of every row (for scoring), or plain."""
    if with_ids and isinstance(batches, Batches):
        return batches.next_with_indices
    return batches.next


def _epochs(samplers: Sequence[Batches | Fakes]) -> int:
    """Batches in one pass: an epoch of the smallest real half (generators never run out)."""
    return min(s.batches_per_epoch for s in samplers if s.batches_per_epoch is not None)


# --------------------------------------------------------------------------- one test, two sides


def compare(cfg: C2STConfig, a: Side, b: Side, device: torch.device, started: float | None = None) -> C2STRecord:
    """The test of side ``a`` against side ``b`` with ``cfg``'s critic, loss and scoring: the ``c2st.json`` record."""
    started = time.time() if started is None else started
    if a.towers != b.towers or a.image_shape != b.image_shape:
        raise ValueError(
            f"the sides do not match: {a.describe()} gives {a.towers or 1} x {a.image_shape}, "
            f"{b.describe()} gives {b.towers or 1} x {b.image_shape}"
        )
    if isinstance(a, GeneratorSide) and isinstance(b, GeneratorSide):
        raise TypeError("a two-sample test needs at least one real side (passes are counted on it)")
    rngs = _streams(int(cfg.seed), device)
    requested = int(cfg.batch_size)
    b_train = batch_size_for(requested, {**a.pool_sizes("train"), **b.pool_sizes("train")}, "training")
    b_test = batch_size_for(requested, {**a.pool_sizes("test"), **b.pool_sizes("test")}, "scoring")
    train = (a.batches("train", b_train, rngs["train_a"]), b.batches("train", b_train, rngs["train_b"]))
    test = (a.batches("test", b_test, rngs["test_a"]), b.batches("test", b_test, rngs["test_b"]))
    eval_batches = int(cfg.eval_passes) * _epochs(test)

    torch.manual_seed(int(cfg.seed))  # the critic's initial weights
    channels, height, width = a.image_shape
    critic = two_sample_critic(
        channels, (height, width), a.towers, batchnorm=bool(cfg.loss.critic_batchnorm), ndf=int(cfg.ndf)
    ).to(device)
    loss, loss_name = loss_from(cfg.loss), as_plain(cfg.loss.name)
    optimizer = optimizer_from(cfg.optimizer, critic.parameters())
    log.info(
        "c2st %s: a = %s vs b = %s, split %d; %s critic ndf %d%s, %d steps of batch %d, then %d scoring batches "
        "of %d on %s",
        as_plain(cfg.mode),
        a.describe(),
        b.describe(),
        int(cfg.split),
        loss_name,
        int(cfg.ndf),
        f" ({a.towers} towers)" if a.towers else "",
        int(cfg.iterations),
        b_train,
        eval_batches,
        b_test,
        device,
    )
    result = two_sample_test(
        critic,
        loss,
        optimizer,
        _draws(train[0], False),
        _draws(train[1], False),
        _draws(test[0], True),
        _draws(test[1], True),
        iterations=int(cfg.iterations),
        eval_batches=eval_batches,
        rng=rngs["loss"],
        progress=bool(cfg.progress),
        desc=f"c2st {as_plain(cfg.mode)}/{loss_name}",
    )
    assert result.held_out is not None
    sign, rule = a_side_sign(loss), accuracy_rule(loss)
    towers = result.held_out.a.scores.shape[0]
    if rule == stats.SIGN:
        thresholds = [0.0] * towers
    else:  # one more pass, over the training half (its streams are not used for anything else)
        trained_on = score_critic(critic, None, _draws(train[0], True), _draws(train[1], True), _epochs(train))
        thresholds = thresholds_from(trained_on, sign)
    total, per_tower = separations(result.held_out, sign, thresholds)
    classes = a.classes if a.stacked else None
    return _record(
        cfg,
        a,
        b,
        result,
        device,
        started,
        separation=total,
        per_class_separation=dict(zip(classes, per_tower)) if classes and per_tower else None,
        accuracy_rule=rule,
        batch_sizes=(b_train, b_test),
    )


def run(cfg: C2STConfig, run_dir: Path) -> C2STRecord:
    """The task (``python -m biogans.c2st``): the test ``cfg.mode`` asks for, as the ``c2st.json`` record.

    The record is written by the task contract (:func:`biogans.tasks.contract.run_task`).
    """
    return run_c2st(cfg)


def run_c2st(cfg: C2STConfig) -> C2STRecord:
    """The test ``cfg.mode`` asks for: its two sides (:func:`sides_of`), then :func:`compare`."""
    started = time.time()
    device = resolve_device(cfg.device)
    a, b = sides_of(cfg, device)
    return compare(cfg, a, b, device, started)


def _record(
    cfg: C2STConfig,
    a: Side,
    b: Side,
    result: TwoSampleResult,
    device: torch.device,
    started: float,
    separation: Separation,
    per_class_separation: dict[str, Separation] | None,
    accuracy_rule: str,
    batch_sizes: tuple[int, int],
) -> C2STRecord:
    """The ``c2st.json`` record of one test (status and config are the task contract's to set).

    A generator side is recorded as ``generator`` and the real side as ``real``; two real
    sides as ``a`` and ``b``.
    """
    generator = next((s for s in (a, b) if isinstance(s, GeneratorSide)), None)
    if generator is not None:
        real = a if isinstance(a, RealSide) else b
        assert isinstance(real, RealSide)
        sides = {"real": real.record()}
    else:
        assert isinstance(a, RealSide) and isinstance(b, RealSide)
        sides = {"a": a.record(), "b": b.record()}
    per_class = result.per_class_scores
    return C2STRecord(
        status="done",
        mode=as_plain(cfg.mode),
        score=result.score,
        per_class=dict(zip(a.classes, per_class)) if per_class is not None else None,
        loss=as_plain(cfg.loss.name),
        split=int(cfg.split),
        iterations=int(cfg.iterations),
        batch_size=int(cfg.batch_size),
        ndf=int(cfg.ndf),
        eval_passes=int(cfg.eval_passes),
        seed=int(cfg.seed),
        device=str(device),
        dataset=str(cfg.dataset.name),
        generator=GeneratorInfo(**generator.info) if generator is not None else None,
        **sides,
        # the batch sizes actually used (smaller than batch_size where a half is small)
        batch_size_used={"train": batch_sizes[0], "test": batch_sizes[1]},
        eval_batches=result.eval_batches,
        separation=separation,
        per_class_separation=per_class_separation,
        accuracy_rule=accuracy_rule,
        p_value_test=stats.P_VALUE_TEST + (f"; overall: {stats.P_VALUE_COMBINED}" if per_class_separation else ""),
        train_curve=[[step, value] for step, value in result.train_curve],
        elapsed_s=round(time.time() - started, 3),
    )


# --------------------------------------------------------------------------- what a person reads


def readable_line(result: C2STRecord) -> str:
    """The test at a glance: ``Tea1 (train) vs Cki2 (test) (split 3, wgangp): score 15.4, AUC 0.97
    (p < 1e-30), accuracy 0.91 on 2 x 12 held-out images``; per class AUCs for a star-shaped critic."""
    gen = result.generator
    if gen is not None:
        assert result.real is not None
        iteration = "iteration ?" if gen.iteration is None else f"iteration {gen.iteration}"
        what = f"{gen.model} generator ({iteration}) vs {_set_label(result.real)}"
    else:
        assert result.a is not None and result.b is not None
        what = f"{_set_label(result.a)} vs {_set_label(result.b)}"
    assert result.score is not None
    line = f"{what} (split {result.split}, {result.loss}): score {result.score:.3g}"
    sep = result.separation
    if sep is None:  # a record from before the statistics were recorded
        return line
    if sep.n_a == sep.n_b:
        counted = f"2 x {sep.n_a}"
    elif gen is not None:
        counted = f"{sep.n_a} real + {sep.n_b} generated"
    else:
        counted = f"{sep.n_a} + {sep.n_b}"
    line += (
        f", AUC {sep.auc:.2f} ({stats.format_p(sep.p_value)}), accuracy {sep.accuracy:.2f} on {counted} held-out images"
    )
    if result.per_class_separation:
        line += "; AUC per class: " + ", ".join(f"{c} {s.auc:.2f}" for c, s in result.per_class_separation.items())
    return line


def _set_label(side: SetClasses) -> str:
    names = "+".join(side.classes) if len(side.classes) <= 3 else f"{len(side.classes)} classes"
    return f"{names} ({side.set})"


def summary_line(result: C2STRecord, run_dir: str | Path | None = None) -> str:
    """What the entry point prints: :func:`readable_line`, then the technical line (mode, the
    score to three decimals, per-class scores, what was judged, where ``c2st.json`` is)."""
    where = f" -> {Path(run_dir) / 'c2st.json'}" if run_dir is not None else ""
    head = f"biogans.c2st: {result.mode} {result.loss} split {result.split}: score {result.score:.3f}"
    if result.per_class:
        head += " (" + ", ".join(f"{name} {value:.3f}" for name, value in result.per_class.items()) + ")"
    gen = result.generator
    if gen is not None:
        iteration = "iteration ?" if gen.iteration is None else f"iteration {gen.iteration}"
        tail = f"{head} [generator {gen.path}, {iteration}]{where}"
    else:
        a, b = result.a, result.b
        assert a is not None and b is not None
        tail = f"{head} [a: {','.join(a.classes)} ({a.set}), b: {','.join(b.classes)} ({b.set})]{where}"
    return f"{readable_line(result)}\n{tail}"
