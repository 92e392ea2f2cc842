"""Config schemas: dataclasses registered in Hydra's ConfigStore.

Each entry point's primary YAML (``conf/<entry>.yaml``) starts its defaults list with the
schema of that entry point, so every YAML of a group (``conf/model/*.yaml`` ...) is merged
into a typed node: an unknown key (``model.ngff=64``) or a wrong type
(``train.iterations=many``) fails at start-up with the key's name, before any data is read.
Names that select code paths are enums, so a misspelt choice fails the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import II, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from biogans.core.errors import ConfigError

#: The paper's checkpoint schedule (PAPER.md, "Losses and training").
PAPER_CHECKPOINTS = [10, 100, 1000, 2000, 3000, 5000, 10000, 30000, 50000, 100000, 300000, 500000]
#: The paper's six classes (the "6class" views) and the two more of its real-vs-real table.
PAPER_6_CLASSES = ["Alp14", "Arp3", "Cki2", "Mkh1", "Sid2", "Tea1"]
PAPER_8_CLASSES = PAPER_6_CLASSES + ["Fim1", "Tea4"]


class ModelKind(Enum):
    """How many towers a generator has and how they share the red part."""

    joint = "joint"  # one tower, two channels (dcgan, sep)
    star = "star"  # shared red tower, one green tower per class
    independent = "independent"  # one full generator per class
    multichannel = "multichannel"  # one tower with n_classes + 1 channels


class LossName(Enum):
    gan = "gan"
    wgan = "wgan"
    wgangp = "wgangp"


class OptimizerName(Enum):
    adam = "adam"
    rmsprop = "rmsprop"


class DataSource(Enum):
    synthetic = "synthetic"  # generated LIN-layout folders in a cache
    lin = "lin"  # a user's LIN-layout folders


@dataclass
class ModelConfig:
    name: str = "dcgan"
    kind: ModelKind = ModelKind.joint
    separable: bool = False
    red_portion: float = 0.5
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    #: the paper's training length for this family (``train.iterations`` defaults to it)
    iterations: int = 500000


@dataclass
class LossConfig:
    name: LossName = LossName.wgangp
    #: critic steps per generator step
    n_critic: int = 5
    #: BatchNorm in the critic (the paper: with GAN and WGAN, not with WGAN-GP)
    critic_batchnorm: bool = False
    #: WGAN weight clipping bound (null: no clipping)
    clip: Optional[float] = None
    #: WGAN-GP gradient-penalty weight (0: no penalty)
    gp_weight: float = 0.0
    #: WGAN warm-up: ``warmup_critic_steps`` critic steps for the first
    #: ``warmup_iterations`` generator iterations and at every ``warmup_every``-th
    warmup_critic_steps: int = 0
    warmup_iterations: int = 0
    warmup_every: int = 0


@dataclass
class OptimizerConfig:
    name: OptimizerName = OptimizerName.adam
    lr: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.0, 0.9])
    #: RMSprop smoothing constant (PyTorch's default, as the original used)
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0


@dataclass
class SyntheticConfig:
    """The built-in synthetic LIN-like data set, generated once into ``dataset.cache_dir``."""

    classes: list[str] = field(default_factory=lambda: list(PAPER_8_CLASSES))
    n_train: int = 1000
    n_test: int = 250
    seed: int = 0


@dataclass
class DatasetConfig:
    name: str = "synthetic"
    source: DataSource = DataSource.synthetic
    #: the LIN ``..._train`` folder (class folders of PNGs); synthetic: made in the cache
    root: Optional[str] = None
    #: the matching ``..._test`` folder, where one is needed
    test_root: Optional[str] = None
    #: classes to use, in this order; null: every class folder found
    classes: Optional[list[str]] = None
    #: (height, width) every image must have
    image_size: list[int] = field(default_factory=lambda: [48, 80])
    cache_dir: str = "${oc.env:BIOGANS_CACHE,'~/.cache/biogans'}"
    #: where ``biogans.prepare`` writes the evaluation split index files
    splits_dir: Optional[str] = None
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class TrainSettings:
    iterations: int = II("model.iterations")
    batch_size: int = 64
    #: write the resumable checkpoint (checkpoints/last.pt) every this many iterations
    checkpoint_every: int = 1000
    #: also keep a snapshot checkpoints/iter_<N>.pt at these iterations (the paper's schedule)
    checkpoint_at: list[int] = field(default_factory=lambda: list(PAPER_CHECKPOINTS))
    #: sample grid from the fixed noise batch every this many iterations
    sample_every: int = 500
    n_samples: int = 64
    #: TensorBoard scalars and a log line every this many iterations
    log_every: int = 50
    #: show a progress bar (off in batch jobs if you prefer plain log lines)
    progress: bool = True


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    train: TrainSettings = field(default_factory=TrainSettings)
    seed: int = 0
    #: auto (CUDA when present), cpu, cuda or cuda:N
    device: str = "auto"


@dataclass
class InterpolateConfig:
    """``python -m biogans.interpolate``: a cell-cycle movie from a trained generator."""

    #: the checkpoint to render (a biogans ``.pt`` file, or a 2017 file with ``model=FAMILY``)
    generator: str = "???"  # OmegaConf's MISSING: the entry point says how to give it
    #: null, or a model family (``model=star``) naming what a 2017 checkpoint holds
    model: Optional[ModelConfig] = None
    #: seed of the fixed batch of latent vectors (the trainer's sample-grid noise for this seed)
    seed: int = 0
    #: size of that batch; ``points`` index into it
    batch_size: int = 64
    #: null (three vectors picked with ``seed``) or [start, middle, end] indices into the batch
    points: Optional[list[int]] = None
    #: slerp frames per leg; the movie has 2 * steps - 1 frames
    steps: int = 64
    #: upscaling factor of the GIF and the strip (bicubic)
    scale: int = 2
    #: length of one loop of the GIF, in seconds
    duration_s: float = 5.0
    #: frames (evenly spaced) in the PNG strip
    strip_frames: int = 8
    #: a row of channel names above the GIF frames and the strip
    caption: bool = True
    #: auto (CUDA when present), cpu, cuda or cuda:N
    device: str = "auto"


class C2STMode(Enum):
    fake_vs_real = "fake_vs_real"  # a trained generator against real images
    real_vs_real = "real_vs_real"  # two sets of real images (the paper's Table 1 and baseline)


class DataSet(Enum):
    """Which set of a data set: its training folder (``dataset.root``) or its test folder."""

    train = "train"
    test = "test"


@dataclass
class PrepareConfig:
    """``python -m biogans.prepare``: the paper's evaluation splits as index files."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    n_splits: int = 10


@dataclass
class C2STConfig:
    """``python -m biogans.c2st``: the classifier two-sample test of PAPER.md."""

    mode: C2STMode = C2STMode.fake_vs_real
    #: fake_vs_real: the generator checkpoint (a biogans .pt file, or a 2017 file with model=FAMILY)
    generator: Optional[str] = None
    #: null, or the model family of a 2017 checkpoint (model=star)
    model: Optional[ModelConfig] = None
    #: the critic's loss (and, through optimizer=paper_<loss>, its optimizer); no WGAN warm-up
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    #: which of the evaluation splits (0..n_splits-1) of `python -m biogans.prepare`
    split: int = 0
    #: fake_vs_real: the set whose split gives the real images (the paper: the test set)
    real_set: DataSet = DataSet.test
    #: real_vs_real: [A, B] compares class A of sets[0] with class B of sets[1]; A and B may
    #: also be lists of classes ([[Alp14,Tea1],Cki2]); null compares all dataset.classes
    #: together (the paper's 6-class baseline)
    classes: Optional[list[Any]] = None
    #: real_vs_real: the sets giving images a and b (Table 1: [train, test]; baseline: [test, train])
    sets: list[DataSet] = field(default_factory=lambda: [DataSet.train, DataSet.test])
    #: critic training steps
    iterations: int = 5000
    batch_size: int = 64
    #: width of the fresh critic (its architecture follows the generator's family)
    ndf: int = 64
    #: passes over the split's test half when scoring
    eval_passes: int = 5
    seed: int = 0
    device: str = "auto"
    progress: bool = True


class Optimise(Enum):
    joint = "joint"  # all of z on both channels
    separable = "separable"  # red noise on red, then green noise on green (green-on-red models)


@dataclass
class ReconstructConfig:
    """``python -m biogans.reconstruct``: test images reconstructed through the latent space."""

    generator: Optional[str] = None
    model: Optional[ModelConfig] = None
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    optimise: Optimise = Optimise.joint
    #: the set whose images are reconstructed (the paper: the test set)
    set: DataSet = DataSet.test
    #: classes to reconstruct; null: the generator's classes
    classes: Optional[list[str]] = None
    #: at most this many images per class (null: all of them)
    max_images_per_class: Optional[int] = None
    #: images per class optimised together
    batch_size: int = 64
    #: random restarts per image; the best by L2 is kept
    trials: int = 5
    #: L-BFGS steps (per stage for separable) and its settings
    steps: int = 50
    lr: float = 0.05
    max_iter: int = 20
    #: panel rows ([target | reconstruction | initial | nearest neighbour]) saved per class
    panels: int = 16
    seed: int = 0
    device: str = "auto"
    progress: bool = True


def register_configs() -> None:
    """Register the schemas; the primary YAMLs name them first in their defaults lists."""
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="interpolate_schema", node=InterpolateConfig)
    cs.store(name="prepare_schema", node=PrepareConfig)
    cs.store(name="c2st_schema", node=C2STConfig)
    cs.store(name="reconstruct_schema", node=ReconstructConfig)


def check_schema(cfg: DictConfig, schema: type) -> None:
    """Refuse keys the schema does not know.

    Hydra's typed merge already rejects ``model.ngff=3``; this also catches keys added with
    a ``+`` override (``+train.checkpoint_evry=5``), which Hydra lets through.
    """
    try:
        OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.to_container(cfg, resolve=False))
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"config key {key!r} is not known here: {str(exc).splitlines()[0]}") from exc


def to_plain(cfg: Any) -> Any:
    """A DictConfig (or part of one) as plain Python data: enums as their names, resolved."""
    if isinstance(cfg, DictConfig) or OmegaConf.is_config(cfg):
        return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    if isinstance(cfg, Enum):
        return cfg.name
    return cfg


register_configs()
