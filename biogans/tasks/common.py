"""What the tasks share: a data set's folders, where split files live, which images a split
gives, the loss and optimizer a config names, and whether a generator fits the data it is
judged on.

The config-reading side of the core library: these take the typed configs of
:mod:`biogans.config` and call the core with plain values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biogans.config import DatasetConfig, LossConfig, ModelKind, OptimizerConfig, as_plain
from biogans.core.data.lin import LinFolder, read_lin_folder
from biogans.core.data.sources import dataset_roots
from biogans.core.data.splits import HALVES, load_split
from biogans.core.errors import ConfigError
from biogans.core.losses import AdversarialLoss, make_loss, make_optimizer
from biogans.core.models import Critic, is_conditional
from biogans.core.models.views import StarView


def data_roots(dataset: DatasetConfig) -> tuple[Path, Path | None]:
    """``(train_root, test_root)`` of ``dataset=``; a synthetic data set is generated on first use."""
    return dataset_roots(
        as_plain(dataset.source),
        root=dataset.root,
        test_root=dataset.test_root,
        cache_dir=str(dataset.cache_dir),
        image_size=list(dataset.image_size),
        synthetic=as_plain(dataset.synthetic),
    )


def loss_from(loss: LossConfig) -> AdversarialLoss:
    """The loss object ``loss=`` names, with its critic schedule (``loss.critic_batchnorm`` is the critic's)."""
    return make_loss(
        as_plain(loss.name),
        n_critic=loss.n_critic,
        clip=loss.clip,
        gp_weight=loss.gp_weight,
        warmup_critic_steps=loss.warmup_critic_steps,
        warmup_iterations=loss.warmup_iterations,
        warmup_every=loss.warmup_every,
    )


def optimizer_from(optimizer: OptimizerConfig, params) -> torch.optim.Optimizer:
    """The optimizer ``optimizer=`` names, over ``params``."""
    return make_optimizer(
        as_plain(optimizer.name),
        params,
        lr=optimizer.lr,
        betas=list(optimizer.betas) if optimizer.betas is not None else None,
        alpha=optimizer.alpha,
        eps=optimizer.eps,
        weight_decay=optimizer.weight_decay,
    )


def splits_dir(dataset_cfg: DatasetConfig) -> Path:
    """Where ``biogans.prepare`` writes (and the tools read) the split files of a data set.

    ``dataset.splits_dir`` when given; otherwise a folder in the cache named after the data
    set and its resolved folders, so every tool finds the splits of the same folders.
    """
    if dataset_cfg.splits_dir is not None:
        return Path(str(dataset_cfg.splits_dir)).expanduser()
    train_root, test_root = data_roots(dataset_cfg)
    key = f"{train_root.resolve()}|{test_root.resolve() if test_root is not None else ''}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(str(dataset_cfg.cache_dir)).expanduser() / "splits" / f"{dataset_cfg.name}-{digest}"


def read_set(dataset_cfg: DatasetConfig, which: str, classes: Sequence[str] | None = None) -> LinFolder:
    """The ``train`` (``dataset.root``) or ``test`` (``dataset.test_root``) folder, with ``classes``
    (default: ``dataset.classes``, or every class folder)."""
    train_root, test_root = data_roots(dataset_cfg)
    which = as_plain(which)
    if which == "test" and test_root is None:
        raise ConfigError(f"this needs the test folder of dataset={dataset_cfg.name}: give dataset.test_root=PATH")
    root = train_root if which == "train" else test_root
    if classes is None and dataset_cfg.classes is not None:
        classes = list(dataset_cfg.classes)
    size = [int(s) for s in dataset_cfg.image_size]
    return read_lin_folder(root, classes=classes, image_size=(size[0], size[1]))


def split_pools(
    dataset_cfg: Any, folder: LinFolder, which: str, index: int, classes: Sequence[str]
) -> dict[str, list[torch.Tensor]]:
    """Split ``index`` of set ``which`` (one file, checked against ``folder``): for each half
    (``"train"``, ``"test"``), one index tensor per class of that class's images."""
    split = load_split(splits_dir(dataset_cfg), as_plain(which), int(index), folder)
    return {half: [split.indices(folder, half, [name]) for name in classes] for half in HALVES}


def check_generator_classes(spec: Mapping[str, Any], class_names: Sequence[str], source: str) -> None:
    """A generator is judged on the classes it was trained on, in its order.

    A conditional or multi-channel generator renders one image per class: the data must
    have exactly its classes.  A joint model learnt its classes merged: the data must be
    those classes (in any order).
    """
    trained = list(spec["class_names"])
    data = list(class_names)
    if spec["kind"] == ModelKind.joint.value:
        if sorted(trained) != sorted(data):
            raise ConfigError(
                f"{source} was trained on classes {trained}, but the data has {data}; "
                f"set dataset.classes={_as_override(trained)}"
            )
    elif trained != data:
        raise ConfigError(
            f"{source} renders {len(trained)} classes {trained}, but the data gives {len(data)} classes {data}; "
            f"set dataset.classes={_as_override(trained)}"
        )


def _as_override(names: Sequence[str]) -> str:
    return "[" + ",".join(names) + "]"


def class_view(generator: nn.Module) -> nn.Module:
    """A generator that renders ``(n_classes, B, 2, H, W)`` (conditional) or ``(B, 2, H, W)`` (joint):
    multi-channel generators are seen through their star-shaped view."""
    if generator.spec["kind"] == ModelKind.multichannel.value:
        return StarView(generator)
    return generator


def is_class_conditional(spec: Mapping[str, Any]) -> bool:
    """Whether evaluation is per class: conditional and multi-channel generators."""
    return is_conditional(spec) or spec["kind"] == ModelKind.multichannel.value


def two_sample_critic(
    channels: int, image_size: Sequence[int], towers: int | None, batchnorm: bool, ndf: int
) -> Critic:
    """A fresh critic for the two-sample test, built from what it judges.

    Images of ``channels`` x ``image_size``; ``towers=None``: one DCGAN critic on
    ``(B, C, H, W)``; ``towers=n``: a star-shaped critic, one DCGAN critic per class on
    ``(n, B, C, H, W)`` (the sides are stacked per class).  Batch norm as the loss wants it
    (``loss.critic_batchnorm``: off for WGAN-GP, whose penalty treats images one by one);
    ``ndf`` is its width.  No generator is involved: real-vs-real tests have none.
    """
    if towers is not None and towers < 1:
        raise ConfigError(f"a star-shaped critic needs at least one class, got {towers}")
    if ndf < 2:
        raise ConfigError(f"ndf must be >= 2, got {ndf}")
    return Critic(
        nc=int(channels),
        ndf=int(ndf),
        image_size=(int(image_size[0]), int(image_size[1])),
        batchnorm=bool(batchnorm),
        n_towers=towers or 1,
        conditional=towers is not None,
    )


def fresh_critic(spec: Mapping[str, Any], batchnorm: bool, ndf: int) -> Critic:
    """The two-sample test's critic for a generator's images (:func:`two_sample_critic`): one
    DCGAN critic for joint models, one per class for conditional and multi-channel ones
    (whose images are seen per class, red and green: :func:`class_view`)."""
    towers = int(spec["n_classes"]) if is_class_conditional(spec) else None
    return two_sample_critic(2, spec["image_size"], towers, batchnorm=batchnorm, ndf=ndf)


def check_image_size(spec: Mapping[str, Any], dataset_cfg: Any, source: str) -> None:
    """Refuse a generator whose image size is not the data's, naming the override that fits."""
    data = [int(s) for s in dataset_cfg.image_size]
    made = [int(s) for s in spec["image_size"]]
    if made != data:
        raise ConfigError(
            f"{source} renders {made[0]} x {made[1]} images but dataset.image_size is {data}; "
            f"set dataset.image_size=[{made[0]},{made[1]}]"
        )


def generator_info(path: Path, generator: nn.Module) -> dict[str, Any]:
    """What a result file records about the judged generator (from :func:`biogans.load_generator`):
    its file, family, the training iteration and loss of its checkpoint (None for a 2017
    file), and its run directory."""
    run = path.parent.parent
    return {
        "path": str(path),
        "model": generator.spec.get("name"),
        "kind": generator.spec.get("kind"),
        "iteration": generator.trained["iteration"],
        "train_loss": generator.trained["loss"],
        "run_dir": str(run) if (run / "metrics.json").is_file() else None,
    }
