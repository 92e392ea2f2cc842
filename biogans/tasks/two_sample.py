"""The classifier two-sample test (C2ST) of PAPER.md, "Evaluation 1".

Why a critic: the adversarial losses are themselves two-sample statistics.  A *fresh*
critic is trained to tell set ``a`` from set ``b`` on one half of the real images and is
then scored on the other, held-out half; the more the two sets differ, the lower its
held-out loss.  The score is minus that loss, so **a lower score means the sets are
harder to tell apart** (for fake vs real: a better generator).

Roles: side ``a`` takes the loss's "real" argument and side ``b`` its "fake" one.  In
fake vs real, ``a`` is the split of real images and ``b`` fresh samples of the generator;
in real vs real both are real.  The critic trains with :func:`biogans.core.losses.critic_step`,
the very step the trainer uses (WGAN clipping included), with the loss's optimizer and
no WGAN warm-up schedule: only the critic trains, so the number of critic steps per
generator step is meaningless here.

Where a score lands when the sets cannot be told apart (the "floor"):

* GAN: about ``-2 ln 2 = -1.386`` (the BCE of a critic that guesses); an overfitted
  critic lands *below* it (the paper's real-vs-real baseline is -3.71).
* WGAN: about 0 (clipping keeps the critic's range tiny).
* WGAN-GP: a little below 0 (the penalty term counts too; the paper's baseline: -0.73).

Scoring: the critic is put in eval mode (BatchNorm uses its running statistics) and never
updated again.  One pass is one epoch of whole batches of the test half: for two real
sides the epoch of the smaller half (the larger one keeps drawing without replacement
and reshuffles when it runs out).  Random flips stay on, as the paper applies them in
evaluation too.  For WGAN-GP the penalty needs input gradients, so gradients are
enabled for it while the critic's parameters are frozen.

Halves smaller than one batch: the batch shrinks to the smallest half of that phase
(training or scoring) with a warning, rather than failing, because small classes are
common in user data and every image still counts; both sides and every class always
share one batch size (the gradient penalty mixes a-images with b-images one to one).  An
empty half is an error.  The batch sizes used are recorded in ``c2st.json``.

Randomness: every stream (critic init, real batches of each half and side, latent
vectors, penalty mixing) has its own seeded ``torch.Generator`` on the device, all
derived from ``seed``; two generators judged with the same seed and split see the same
real batches.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from biogans.core.checkpoint import load_generator
from biogans.config import C2STConfig, C2STMode, ModelKind, as_plain, class_groups
from biogans.core.data.batches import Batches
from biogans.core.data.lin import LinFolder
from biogans.core.errors import ConfigError, DataError, TrainingError
from biogans.tasks.common import (
    check_generator_classes,
    check_image_size,
    class_view,
    fresh_critic,
    generator_info,
    is_class_conditional,
    loss_from,
    optimizer_from,
    read_set,
    split_pools,
)
from biogans.core.records import C2STRecord, GeneratorInfo, SetClasses
from biogans.core.losses import AdversarialLoss, critic_step
from biogans.tasks.training import resolve_device

log = logging.getLogger(__name__)

#: At most about this many points in the recorded training curve.
CURVE_POINTS = 200
Draw = Callable[[], torch.Tensor]

# One seeded stream per source of randomness (see the module docstring).
_STREAMS = ("train_a", "train_b", "test_a", "test_b", "loss")


@dataclass
class TwoSampleResult:
    """What :func:`two_sample_test` measured.

    ``losses`` is the mean held-out critic loss, per class (``(n_classes,)``) for a
    star-shaped critic and a scalar otherwise; ``score`` is minus its mean over classes.
    """

    score: float
    losses: torch.Tensor
    train_curve: list[tuple[int, float]] = field(default_factory=list)
    eval_batches: int = 0

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
    having the same shape.  The critic makes ``iterations`` steps, then is scored on
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
            stats = critic_step(critic, optimizer, loss, train_a(), train_b(), rng)
            value = stats.loss.mean()
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
    losses = score_critic(critic, loss, test_a, test_b, eval_batches, rng)
    return TwoSampleResult(score=-float(losses.mean()), losses=losses, train_curve=curve, eval_batches=eval_batches)


def score_critic(
    critic: nn.Module,
    loss: AdversarialLoss,
    draw_a: Draw,
    draw_b: Draw,
    n_batches: int,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean critic loss (penalty included) over ``n_batches`` pairs, per class; the critic is not changed.

    The critic goes to eval mode and its parameters are frozen for the duration (so the
    gradient penalty's input gradients cost no parameter gradients); both are restored.
    """
    was_training = critic.training
    flags = [p.requires_grad for p in critic.parameters()]
    critic.eval()
    critic.requires_grad_(False)
    total: torch.Tensor | None = None
    try:
        for _ in range(n_batches):
            a, b = draw_a(), draw_b()
            with torch.set_grad_enabled(bool(loss.gp_weight)):
                value = loss.critic_loss(critic, a, b, rng).loss.detach()
            total = value if total is None else total + value
    finally:
        for p, flag in zip(critic.parameters(), flags):
            p.requires_grad_(flag)
        critic.train(was_training)
    assert total is not None
    return total / n_batches


# --------------------------------------------------------------------------- data sides


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


def _fresh_test(cfg: C2STConfig, spec: Mapping[str, Any], device: torch.device):
    """The test's critic (seeded by ``cfg.seed``), its loss and optimizer, and the loss's name."""
    torch.manual_seed(int(cfg.seed))
    critic = fresh_critic(spec, batchnorm=bool(cfg.loss.critic_batchnorm), ndf=int(cfg.ndf)).to(device)
    return critic, loss_from(cfg.loss), optimizer_from(cfg.optimizer, critic.parameters()), as_plain(cfg.loss.name)


# --------------------------------------------------------------------------- the two modes


def fake_vs_real(cfg: C2STConfig) -> C2STRecord:
    """A trained generator against split ``cfg.split`` of the ``real_set``: the ``c2st.json`` record."""

    started = time.time()
    device = resolve_device(cfg.device)
    seed = int(cfg.seed)
    path = Path(str(cfg.generator)).expanduser().absolute()
    model = cfg.model.name if cfg.model is not None else None
    generator = load_generator(path, model=model, device=device)
    spec = generator.spec
    info = generator_info(path, generator)
    check_image_size(spec, cfg.dataset, str(path))
    real_set = as_plain(cfg.real_set)
    folder = read_set(cfg.dataset, real_set)
    check_generator_classes(spec, folder.class_names, str(path))
    conditional = is_class_conditional(spec)
    # per class in the generator's order (checked equal to the data's); a joint model: merged
    classes = list(spec["class_names"]) if conditional else list(folder.class_names)
    real = load_side(cfg.dataset, folder, real_set, int(cfg.split), classes, conditional, device)

    rngs = _streams(seed, device)
    requested = int(cfg.batch_size)
    b_train = batch_size_for(requested, real.pool_sizes("train"), "training")
    b_test = batch_size_for(requested, real.pool_sizes("test"), "scoring")
    real_train, real_test = (
        real.batches("train", b_train, rngs["train_a"]),
        real.batches("test", b_test, rngs["test_a"]),
    )
    view = class_view(generator)
    eval_batches = int(cfg.eval_passes) * real_test.batches_per_epoch

    def fakes(batch_size: int, rng: torch.Generator) -> Draw:
        def draw() -> torch.Tensor:
            z = torch.randn(batch_size, view.nz, generator=rng, device=device)
            with torch.no_grad():
                return view(z)

        return draw

    critic, loss, optimizer, loss_name = _fresh_test(cfg, spec, device)
    log.info(
        "c2st fake_vs_real: %s generator %s (%s) vs split %d of the %s set (%s); %s critic ndf %d, "
        "%d steps of batch %d, then %d scoring batches of %d on %s",
        spec.get("name"),
        path,
        "per class" if conditional else "joint",
        int(cfg.split),
        real_set,
        ", ".join(classes),
        loss_name,
        int(cfg.ndf),
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
        real_train.next,
        fakes(b_train, rngs["train_b"]),
        real_test.next,
        fakes(b_test, rngs["test_b"]),
        iterations=int(cfg.iterations),
        eval_batches=eval_batches,
        rng=rngs["loss"],
        progress=bool(cfg.progress),
        desc=f"c2st {spec.get('name')}/{loss_name}",
    )
    per_class = result.per_class_scores
    return _result_dict(
        cfg,
        result,
        device,
        started,
        per_class=dict(zip(classes, per_class)) if per_class is not None else None,
        generator=info,
        sides={"real": {"set": real_set, "classes": classes}},
        batch_sizes=(b_train, b_test),
    )


def real_vs_real(cfg: C2STConfig) -> C2STRecord:
    """Two sets of real images (``classes``/``sets``) against each other: the ``c2st.json`` record."""

    started = time.time()
    # the sets, classes and generator were checked at start-up (biogans.config.check_config)
    sets = [as_plain(s) for s in cfg.sets]
    groups = class_groups(cfg.classes)
    device = resolve_device(cfg.device)
    seed = int(cfg.seed)
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

    rngs = _streams(seed, device)
    requested = int(cfg.batch_size)
    b_train = batch_size_for(requested, {**a.pool_sizes("train"), **b.pool_sizes("train")}, "training")
    b_test = batch_size_for(requested, {**a.pool_sizes("test"), **b.pool_sizes("test")}, "scoring")
    a_test, b_test_batches = a.batches("test", b_test, rngs["test_a"]), b.batches("test", b_test, rngs["test_b"])
    # one pass: an epoch of the smaller test half (module docstring)
    eval_batches = int(cfg.eval_passes) * min(a_test.batches_per_epoch, b_test_batches.batches_per_epoch)
    image_size = [int(s) for s in cfg.dataset.image_size]
    spec = {
        "name": "dcgan",
        "kind": ModelKind.joint.value,
        "separable": False,
        "red_portion": 0.5,
        "nz": 100,
        "ngf": 64,
        "ndf": int(cfg.ndf),
        "n_classes": len(a.classes),
        "class_names": a.classes,
        "image_size": image_size,
        "critic_batchnorm": bool(cfg.loss.critic_batchnorm),
    }
    critic, loss, optimizer, loss_name = _fresh_test(cfg, spec, device)
    log.info(
        "c2st real_vs_real: a = %s of the %s set vs b = %s of the %s set, split %d; %s critic ndf %d, "
        "%d steps of batch %d, then %d scoring batches of %d on %s",
        ", ".join(a.classes),
        a.set_name,
        ", ".join(b.classes),
        b.set_name,
        int(cfg.split),
        loss_name,
        int(cfg.ndf),
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
        a.batches("train", b_train, rngs["train_a"]).next,
        b.batches("train", b_train, rngs["train_b"]).next,
        a_test.next,
        b_test_batches.next,
        iterations=int(cfg.iterations),
        eval_batches=eval_batches,
        rng=rngs["loss"],
        progress=bool(cfg.progress),
        desc=f"c2st real_vs_real/{loss_name}",
    )
    return _result_dict(
        cfg,
        result,
        device,
        started,
        per_class=None,
        generator=None,
        sides={"a": {"set": a.set_name, "classes": a.classes}, "b": {"set": b.set_name, "classes": b.classes}},
        batch_sizes=(b_train, b_test),
    )


def run(cfg: C2STConfig, run_dir: Path) -> C2STRecord:
    """The task (``python -m biogans.c2st``): the test ``cfg.mode`` asks for, as the ``c2st.json`` record.

    The record is written by the task contract (:func:`biogans.tasks.contract.run_task`).
    """
    return run_c2st(cfg)


def run_c2st(cfg: C2STConfig) -> C2STRecord:
    """The test ``cfg.mode`` asks for."""
    mode = as_plain(cfg.mode)
    if mode == C2STMode.real_vs_real.value:
        return real_vs_real(cfg)
    return fake_vs_real(cfg)


def _result_dict(
    cfg: C2STConfig,
    result: TwoSampleResult,
    device: torch.device,
    started: float,
    per_class: dict[str, float] | None,
    generator: dict[str, Any] | None,
    sides: dict[str, Any],
    batch_sizes: tuple[int, int],
) -> C2STRecord:
    """The ``c2st.json`` record of one test (status and config are the task contract's to set)."""
    return C2STRecord(
        status="done",
        mode=as_plain(cfg.mode),
        score=result.score,
        per_class=per_class,
        loss=as_plain(cfg.loss.name),
        split=int(cfg.split),
        iterations=int(cfg.iterations),
        batch_size=int(cfg.batch_size),
        ndf=int(cfg.ndf),
        eval_passes=int(cfg.eval_passes),
        seed=int(cfg.seed),
        device=str(device),
        dataset=str(cfg.dataset.name),
        generator=GeneratorInfo(**generator) if generator is not None else None,
        **{side: SetClasses(info["set"], list(info["classes"])) for side, info in sides.items()},
        # the batch sizes actually used (smaller than batch_size where a half is small)
        batch_size_used={"train": batch_sizes[0], "test": batch_sizes[1]},
        eval_batches=result.eval_batches,
        train_curve=[[step, value] for step, value in result.train_curve],
        elapsed_s=round(time.time() - started, 3),
    )


def summary_line(result: C2STRecord, run_dir: str | Path | None = None) -> str:
    """The one-line summary the entry point prints (with where ``c2st.json`` is, given ``run_dir``)."""
    where = f" -> {Path(run_dir) / 'c2st.json'}" if run_dir is not None else ""
    head = f"biogans.c2st: {result.mode} {result.loss} split {result.split}: score {result.score:.3f}"
    if result.per_class:
        head += " (" + ", ".join(f"{name} {value:.3f}" for name, value in result.per_class.items()) + ")"
    gen = result.generator
    if gen is not None:
        iteration = "iteration ?" if gen.iteration is None else f"iteration {gen.iteration}"
        return f"{head} [generator {gen.path}, {iteration}]{where}"
    a, b = result.a, result.b
    assert a is not None and b is not None
    return f"{head} [a: {','.join(a.classes)} ({a.set}), b: {','.join(b.classes)} ({b.set})]{where}"
