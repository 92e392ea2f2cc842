"""Config schemas (dataclasses and enums) and the one gate that checks every value.

No Hydra here: :mod:`biogans.cli` registers these dataclasses in Hydra's ConfigStore, and
each entry point's primary YAML (``conf/<tool>.yaml``) names its schema first in its
defaults list, so every YAML of a group (``conf/model/*.yaml`` ...) is merged into a typed
node: an unknown key (``model.ngff=64``) or a wrong type (``train.iterations=many``) fails
at start-up with the key's name.  Names that select code paths are enums, so a misspelt
choice fails the same way.  The entry point then turns the composed config into these
dataclasses once (``OmegaConf.to_object``) and calls :func:`check_config`, the one place
where ranges and value combinations are checked, before any data is read; the tasks and
the core library trust what passed it.

**One home for each default.**  A value that depends on a group's choice (``model=star``,
``loss=wgan``, ``optimizer=paper_wgan``, ``dataset=lin``) lives in that group's YAMLs and
is :data:`MISSING` (``???``) here; every other value lives here as the dataclass default
and in no YAML.  So the tool YAMLs (``conf/train.yaml``, ``conf/c2st.yaml`` ...) carry
only their defaults list, comments and ``hydra:`` block.  ``tests/test_config.py`` checks
that no key is given a value in both places.  (Experiment files, ``conf/experiment/``,
are named runs: overriding defaults is their purpose.)  ``python -m biogans.<tool> --cfg
job`` prints the composed values.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NoReturn, Optional

from biogans.core.errors import ConfigError
from biogans.core.names import PAPER_6_CLASSES, PAPER_8_CLASSES, DataSource, LossName, ModelKind, OptimizerName

__all__ = [
    "MISSING",
    "PAPER_6_CLASSES",
    "PAPER_8_CLASSES",
    "PAPER_CHECKPOINTS",
    "SCHEMAS",
    "BenchConfig",
    "BenchPreset",
    "C2STConfig",
    "C2STMode",
    "DataSet",
    "DataSource",
    "DatasetConfig",
    "InterpolateConfig",
    "LossConfig",
    "LossName",
    "ModelConfig",
    "ModelKind",
    "Optimise",
    "OptimizerConfig",
    "OptimizerName",
    "PrepareConfig",
    "ReconstructConfig",
    "SyntheticConfig",
    "TrainConfig",
    "TrainSettings",
    "as_plain",
    "check_class_list",
    "check_config",
    "check_points",
    "class_groups",
]

#: OmegaConf's mark for "no value yet": here, a value the YAMLs of the key's group give.
MISSING: Any = "???"

#: The paper's checkpoint schedule (PAPER.md, "Losses and training").
PAPER_CHECKPOINTS = [10, 100, 1000, 2000, 3000, 5000, 10000, 30000, 50000, 100000, 300000, 500000]


class C2STMode(Enum):
    fake_vs_real = "fake_vs_real"  # a trained generator against real images
    real_vs_real = "real_vs_real"  # two sets of real images (the paper's Table 1 and baseline)


class DataSet(Enum):
    """Which set of a data set: its training folder (``dataset.root``) or its test folder."""

    train = "train"
    test = "test"


class Optimise(Enum):
    joint = "joint"  # all of z on both channels
    separable = "separable"  # red noise on red, then green noise on green (green-on-red models)


# ----------------------------------------------------------------------------- groups
# Group nodes: the values are in conf/<group>/<choice>.yaml (MISSING here), except the few
# that no choice sets, which are defaults here.


@dataclass
class ModelConfig:
    """``model=``: a generator family (``conf/model/<name>.yaml``, also the 2017 loader's source)."""

    name: str = MISSING
    kind: ModelKind = MISSING
    #: green-on-red: the red output depends on the red noise only
    separable: bool = MISSING
    #: the red share of every separable layer's channels, and of the latent vector (0 < r < 1)
    red_portion: float = MISSING
    nz: int = MISSING
    ngf: int = MISSING
    ndf: int = MISSING
    #: the paper's training length for this family (``train.iterations`` defaults to it)
    iterations: int = MISSING


@dataclass
class LossConfig:
    """``loss=``: an adversarial loss with the paper's critic settings (``conf/loss/<name>.yaml``)."""

    name: LossName = MISSING
    #: critic steps per generator step
    n_critic: int = MISSING
    #: BatchNorm in the critic (the paper: with GAN and WGAN, not with WGAN-GP)
    critic_batchnorm: bool = MISSING
    #: WGAN weight clipping bound (null: no clipping)
    clip: Optional[float] = MISSING
    #: WGAN-GP gradient-penalty weight (0: no penalty)
    gp_weight: float = MISSING
    #: WGAN warm-up: ``warmup_critic_steps`` critic steps for the first
    #: ``warmup_iterations`` generator iterations and at every ``warmup_every``-th (0: none)
    warmup_critic_steps: int = MISSING
    warmup_iterations: int = MISSING
    warmup_every: int = MISSING


@dataclass
class OptimizerConfig:
    """``optimizer=``: Adam or RMSprop (``conf/optimizer/<name>.yaml``; ``paper_<loss>`` are the paper's)."""

    name: OptimizerName = MISSING
    lr: float = MISSING
    #: Adam's (beta1, beta2); null for RMSprop
    betas: Optional[list[float]] = MISSING
    #: RMSprop's smoothing constant (PyTorch's default, as the original used)
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0


@dataclass
class SyntheticConfig:
    """The built-in synthetic LIN-like data set, generated once into ``dataset.cache_dir``."""

    #: the classes generated (the paper's eight); ``dataset.classes`` picks among them
    classes: list[str] = field(default_factory=lambda: list(PAPER_8_CLASSES))
    #: images per class in the training and the test folder
    n_train: int = 1000
    n_test: int = 250
    seed: int = 0


@dataclass
class DatasetConfig:
    """``dataset=``: where the images come from (``conf/dataset/<name>.yaml``)."""

    name: str = MISSING
    source: DataSource = MISSING
    #: dataset=lin: the LIN ``..._train`` folder (class folders of PNGs); synthetic: made in the cache
    root: Optional[str] = None
    #: dataset=lin: the matching ``..._test`` folder, where one is needed
    test_root: Optional[str] = None
    #: classes to use, in this order; null: every class folder found
    classes: Optional[list[str]] = MISSING
    #: (height, width) every image must have; both sides halve down to 4 or less
    image_size: list[int] = MISSING
    cache_dir: str = "${oc.env:BIOGANS_CACHE,'~/.cache/biogans'}"
    #: where ``biogans.prepare`` writes the evaluation split index files (null: in the cache)
    splits_dir: Optional[str] = None
    #: dataset=synthetic: what is generated
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


# ----------------------------------------------------------------------------- tools


@dataclass
class TrainSettings:
    #: generator iterations (default: the model family's ``model.iterations``)
    iterations: int = "${model.iterations}"  # type: ignore[assignment]  # resolved at start-up
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
    """``python -m biogans.train``: train one GAN of the paper."""

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

    #: the checkpoint to render (a biogans ``.pt`` file, or a 2017 file with ``model=FAMILY``); required
    generator: Optional[str] = None
    #: null, or a model family (``model=star``) naming what a 2017 checkpoint holds
    model: Optional[ModelConfig] = None
    #: seed of the fixed batch of latent vectors (the trainer's sample-grid noise for this seed)
    seed: int = 0
    #: size of that batch; ``points`` index into it
    batch_size: int = 64
    #: null (three vectors picked with ``seed``) or [start, middle, end] indices into the batch,
    #: e.g. points=[3,17,42] (index i is the i-th image of the training sample grid of the same seed)
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


@dataclass
class PrepareConfig:
    """``python -m biogans.prepare``: the paper's evaluation splits as index files."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    #: random halvings of each class of each set (the paper: 10)
    n_splits: int = 10


@dataclass
class C2STConfig:
    """``python -m biogans.c2st``: the classifier two-sample test of PAPER.md."""

    #: fake_vs_real: a generator against real images; real_vs_real: two sets of real images
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
    #: also be lists of classes pooled together ([[Alp14,Tea1],Cki2]); null compares all
    #: dataset.classes together (the paper's 6-class baseline, with sets=[test,train])
    classes: Optional[list[Any]] = None
    #: real_vs_real: the sets giving images a and b (Table 1: [train, test]; baseline: [test, train])
    sets: list[DataSet] = field(default_factory=lambda: [DataSet.train, DataSet.test])
    #: critic training steps (the paper: 5000)
    iterations: int = 5000
    batch_size: int = 64
    #: width of the fresh critic (its architecture follows what it judges)
    ndf: int = 64
    #: passes over the split's test half when scoring
    eval_passes: int = 5
    seed: int = 0
    device: str = "auto"
    progress: bool = True


@dataclass
class ReconstructConfig:
    """``python -m biogans.reconstruct``: test images reconstructed through the latent space."""

    #: the checkpoint to judge (required)
    generator: Optional[str] = None
    #: null, or the model family of a 2017 checkpoint (model=star)
    model: Optional[ModelConfig] = None
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    #: joint: all of z on both channels; separable: red noise on red, then green noise on green
    #: (green-on-red models only: sep, star, independent_sep, multichannel_sep)
    optimise: Optimise = Optimise.joint
    #: the set whose images are reconstructed (the paper: the test set)
    set: DataSet = DataSet.test
    #: classes to reconstruct; null: the generator's classes
    classes: Optional[list[str]] = None
    #: at most this many images per class, the first in file order (null: all of them)
    max_images_per_class: Optional[int] = None
    #: images of one class optimised together (the paper: 64)
    batch_size: int = 64
    #: random restarts per image; the best by L2 is kept
    trials: int = 5
    #: L-BFGS steps (per stage for separable), step size and inner iterations
    steps: int = 50
    lr: float = 0.05
    max_iter: int = 20
    #: panel rows ([target | reconstruction | initial | nearest neighbour]) saved per class (0: none)
    panels: int = 16
    seed: int = 0
    device: str = "auto"
    progress: bool = True


#: the schema of each tool's primary YAML (``conf/<tool>.yaml``), as ``biogans.cli`` registers it
class BenchPreset(Enum):
    """Sizes of ``python -m biogans.bench`` (see :data:`biogans.tasks.benchmark.PRESETS`)."""

    auto = "auto"  # paper on a GPU, cpu elsewhere
    paper = "paper"  # batch 64, the paper's widths
    cpu = "cpu"  # batch 16, width 24 (3/8 of the paper's): minutes on a 2-core CPU
    quick = "quick"  # tiny, for tests


@dataclass
class BenchConfig:
    """``python -m biogans.bench``: training, two-sample and reconstruction steps timed beside
    a reference in the structure of the 2017 code (:mod:`biogans.tasks.benchmark`)."""

    preset: BenchPreset = BenchPreset.auto
    #: images per batch (per class for conditional models); null: the preset's
    batch_size: Optional[int] = None
    #: ngf = ndf of the 64-wide families and of the two-sample critics (others scale alike:
    #: multi-channel 224 -> 3.5 x width); null: the preset's
    width: Optional[int] = None
    #: untimed runs before timing, and timed runs (the median is reported); null: the preset's
    warmup: Optional[int] = None
    repeats: Optional[int] = None
    #: rows to time (names as in the table, e.g. [dcgan_gan,star_wgangp,lbfgs_star]); null: all
    rows: Optional[list[str]] = None
    #: time the 2017-style reference beside every row
    reference: bool = True
    #: conditional rows: also time the tower implementation not chosen for this device
    compare_towers: bool = True
    #: DataLoader worker processes of the reference (the 2017 joint loader used 4)
    reference_workers: int = 0
    #: count FLOPs (in the last warm-up run, and at the paper's sizes on the meta device)
    flops: bool = True
    #: CPU threads for PyTorch (null: its default)
    threads: Optional[int] = None
    #: on CUDA: cuDNN times its convolution algorithms per shape (torch.backends.cudnn.benchmark),
    #: as every tool does on CUDA; false measures cuDNN's heuristic choice instead
    cudnn_benchmark: bool = True
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    seed: int = 0
    #: auto (CUDA when present), cpu, cuda or cuda:N
    device: str = "auto"
    #: a line per row as it finishes
    progress: bool = True


SCHEMAS: dict[str, type] = {
    "train": TrainConfig,
    "prepare": PrepareConfig,
    "c2st": C2STConfig,
    "reconstruct": ReconstructConfig,
    "interpolate": InterpolateConfig,
    "bench": BenchConfig,
}


# ----------------------------------------------------------------------------- plain data


def as_plain(cfg: Any) -> Any:
    """A config (a dataclass of this module, or any part of one) as plain JSON-able data.

    Dataclasses become dicts, enums their ``.value``, tuples lists; what result records and
    checkpoints store as "the resolved config".  Mappings and sequences of other kinds (an
    OmegaConf node, say) are converted the same way.
    """
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: as_plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, Enum):
        return cfg.value
    if isinstance(cfg, Mapping):
        return {str(key): as_plain(value) for key, value in cfg.items()}
    if isinstance(cfg, Sequence) and not isinstance(cfg, (str, bytes)):
        return [as_plain(value) for value in cfg]
    return cfg


# ----------------------------------------------------------------------------- the gate


def _show(value: Any) -> str:
    plain = as_plain(value)
    return repr(plain) if isinstance(plain, str) else str(plain)


def _fail(key: str, value: Any, rule: str) -> NoReturn:
    raise ConfigError(f"{key} must be {rule}, got {_show(value)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_at_least(key: str, value: Any, low: int, why: str = "") -> None:
    if not _is_int(value) or value < low:
        _fail(key, value, f">= {low}{why}")


def _positive_number(key: str, value: Any, why: str = "") -> None:
    # "not value > 0" also refuses NaN
    if not _is_number(value) or not value > 0:
        _fail(key, value, f"> 0{why}")


def _non_negative_number(key: str, value: Any) -> None:
    if not _is_number(value) or not (value >= 0 and math.isfinite(value)):
        _fail(key, value, ">= 0 (and finite)")


def _text(key: str, value: Any, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        _fail(key, value, what)


def _check_missing(cfg: Any, prefix: str = "") -> None:
    """A value still ``???`` (a group YAML left it out, or a dataclass built in Python without it)."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        if isinstance(value, str) and value == MISSING:
            raise ConfigError(f"{key} has no value: give {key}=... (the YAMLs of its group set it)")
        if dataclasses.is_dataclass(value):
            _check_missing(value, f"{key}.")


_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def _check_device(key: str, value: Any) -> None:
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        _fail(key, value, "one of auto, cpu, cuda, cuda:N")


def _check_seed(key: str, value: Any) -> None:
    if not _is_int(value) or not 0 <= value < 2**32:
        _fail(key, value, "an integer in [0, 2**32)")


def check_class_list(names: Any, key: str, *, allow_none: bool = True) -> list[str] | None:
    """The one check of a list of class names: a list (not a string) of distinct non-empty names.

    ``None`` (where allowed) means "every class" or "the generator's classes"; returns the
    names as strings.  Whether the classes exist is a question for the data, asked where it
    is read (:func:`biogans.core.data.lin.read_lin_folder`).
    """
    if names is None:
        if allow_none:
            return None
        _fail(key, names, "a list of class names")
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise ConfigError(
            f"{key} must be a list of class names, got {_show(names)}"
            + (f" (write {key}=[{names}] for a single class)" if isinstance(names, str) else "")
        )
    if not names:
        raise ConfigError(f"{key}=[] names no class; give null or some names")
    if not all(isinstance(n, str) and n.strip() for n in names):
        _fail(key, names, "a list of class names (non-empty strings)")
    doubles = sorted({n for n in names if list(names).count(n) > 1})
    if doubles:
        raise ConfigError(f"{key} lists {doubles} more than once")
    return [str(n) for n in names]


def class_groups(classes: Any, key: str = "classes") -> list[list[str]] | None:
    """``classes`` of the real-vs-real test as the class lists of sides a and b (None: all classes).

    Each of the two entries is a class name or a list of class names: ``[Alp14,Tea1]`` is
    one class against another (Table 1), ``[[Alp14,Tea1],Cki2]`` two classes pooled
    against a third.
    """
    if classes is None:
        return None
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence) or len(classes) != 2:
        raise ConfigError(
            "mode=real_vs_real compares two classes or class sets: classes=[A,B] or classes=[[A1,A2],B] "
            f"(or classes=null for all of dataset.classes), got {_show(classes)}"
        )
    groups = []
    for side, item in enumerate(classes):
        group = list(item) if isinstance(item, Sequence) and not isinstance(item, (str, bytes)) else [item]
        groups.append(check_class_list(group, f"{key}[{side}]", allow_none=False))
    return groups


def check_points(points: Any, batch_size: int, key: str = "points") -> list[int]:
    """``points`` of the cell-cycle movie: three distinct indices into the fixed batch of ``batch_size``."""
    shown = _show(points)
    if (
        isinstance(points, (str, bytes))
        or not isinstance(points, Sequence)
        or len(points) != 3
        or not all(_is_int(p) for p in points)
    ):
        raise ConfigError(f"{key}={shown} must be three ints [start, middle, end], like {key}=[0,8,16]")
    if len(set(points)) != 3:
        raise ConfigError(f"{key}={shown} must be three different indices")
    bad = [p for p in points if not 0 <= p < batch_size]
    if bad:
        raise ConfigError(
            f"{key}={shown}: {bad} outside the fixed batch of batch_size={batch_size} latent vectors "
            f"(indices 0..{batch_size - 1})"
        )
    return [int(p) for p in points]


def _check_model(m: ModelConfig, key: str = "model") -> None:
    _text(f"{key}.name", m.name, "a family name")
    for name in ("nz", "ngf", "ndf"):
        _int_at_least(f"{key}.{name}", getattr(m, name), 2)
    if not _is_number(m.red_portion) or not 0 < m.red_portion < 1:
        _fail(f"{key}.red_portion", m.red_portion, "in (0, 1)")
    _int_at_least(f"{key}.iterations", m.iterations, 1)
    if m.kind == ModelKind.star and not m.separable:
        raise ConfigError(f"{key}.separable must be true for {key}.kind=star: its red tower is shared by every class")


def _check_loss(loss: LossConfig, key: str = "loss") -> None:
    _int_at_least(f"{key}.n_critic", loss.n_critic, 1)
    if loss.clip is not None and (not _is_number(loss.clip) or not (loss.clip > 0 and math.isfinite(loss.clip))):
        _fail(f"{key}.clip", loss.clip, "> 0 (and finite), or null for no clipping")
    _non_negative_number(f"{key}.gp_weight", loss.gp_weight)
    for name in ("warmup_critic_steps", "warmup_iterations", "warmup_every"):
        _int_at_least(f"{key}.{name}", getattr(loss, name), 0)
    if loss.gp_weight > 0 and loss.critic_batchnorm:
        raise ConfigError(
            f"{key}.gp_weight={loss.gp_weight} needs {key}.critic_batchnorm=false: the gradient penalty is "
            "taken per image, and BatchNorm makes each image's score depend on the whole batch"
        )


def _check_optimizer(opt: OptimizerConfig, key: str = "optimizer") -> None:
    _positive_number(f"{key}.lr", opt.lr)
    if opt.name == OptimizerName.adam:
        betas = opt.betas
        if not isinstance(betas, Sequence) or len(betas) != 2 or not all(_is_number(b) and 0 <= b < 1 for b in betas):
            _fail(f"{key}.betas", betas, "two values in [0, 1) for Adam, like optimizer.betas=[0.5,0.999]")
    elif opt.betas is not None:
        raise ConfigError(
            f"{key}.betas={_show(opt.betas)} is Adam's; {key}.name={opt.name.value} has none "
            f"(its smoothing constant is {key}.alpha): set {key}.betas=null"
        )
    if not _is_number(opt.alpha) or not 0 <= opt.alpha < 1:
        _fail(f"{key}.alpha", opt.alpha, "in [0, 1)")
    _non_negative_number(f"{key}.eps", opt.eps)
    _non_negative_number(f"{key}.weight_decay", opt.weight_decay)


def _check_image_size(key: str, size: Any) -> None:
    if isinstance(size, (str, bytes)) or not isinstance(size, Sequence) or len(size) != 2:
        _fail(key, size, "[height, width]")
    if not all(_is_int(s) and s > 0 for s in size):
        _fail(key, size, "two positive integers [height, width]")
    # the networks' rule, from its one home (imported here: it needs torch)
    from biogans.core.models.generator import spatial_plan

    try:
        spatial_plan(int(size[0]), int(size[1]))
    except ConfigError as exc:
        raise ConfigError(f"{key}={_show(size)}: {exc}") from exc


def _check_dataset(d: DatasetConfig, key: str = "dataset") -> None:
    _text(f"{key}.name", d.name, "a data set name")
    for name in ("root", "test_root", "splits_dir"):
        value = getattr(d, name)
        if value is not None:
            _text(f"{key}.{name}", value, "a path or null")
    _text(f"{key}.cache_dir", d.cache_dir, "a path")
    if d.source == DataSource.synthetic:
        if d.root is not None or d.test_root is not None:
            raise ConfigError(
                f"{key}={d.name} makes its own folders; to read folders of your own use "
                f"dataset=lin dataset.root=PATH (got {key}.root={d.root}, {key}.test_root={d.test_root})"
            )
    elif d.root is None:
        raise ConfigError(
            f"{key}={d.name} reads LIN-layout folders: give {key}.root=PATH (the ..._train folder of class folders)"
        )
    classes = check_class_list(d.classes, f"{key}.classes")
    _check_image_size(f"{key}.image_size", d.image_size)
    syn = d.synthetic
    made = check_class_list(syn.classes, f"{key}.synthetic.classes", allow_none=False)
    _int_at_least(f"{key}.synthetic.n_train", syn.n_train, 1)
    _int_at_least(f"{key}.synthetic.n_test", syn.n_test, 1)
    _check_seed(f"{key}.synthetic.seed", syn.seed)
    if d.source == DataSource.synthetic and classes is not None:
        absent = [c for c in classes if c not in (made or [])]
        if absent:
            raise ConfigError(
                f"{key}.classes names {absent}, which the synthetic data set does not make "
                f"({key}.synthetic.classes: {', '.join(made or [])})"
            )


def _check_train(cfg: TrainConfig) -> None:
    _check_model(cfg.model)
    _check_loss(cfg.loss)
    _check_optimizer(cfg.optimizer)
    _check_dataset(cfg.dataset)
    t = cfg.train
    for name in ("iterations", "batch_size", "checkpoint_every", "sample_every", "log_every", "n_samples"):
        _int_at_least(f"train.{name}", getattr(t, name), 1)
    if isinstance(t.checkpoint_at, (str, bytes)) or not isinstance(t.checkpoint_at, Sequence):
        _fail("train.checkpoint_at", t.checkpoint_at, "a list of iterations")
    bad = [i for i in t.checkpoint_at if not _is_int(i) or i < 1]
    if bad:
        _fail("train.checkpoint_at", t.checkpoint_at, f"a list of iterations >= 1 ({bad} is not)")
    _check_seed("seed", cfg.seed)
    _check_device("device", cfg.device)


def _check_generator_path(generator: Any, needed: str) -> None:
    if generator is None or not str(generator).strip():
        raise ConfigError(needed)


def _check_prepare(cfg: PrepareConfig) -> None:
    _check_dataset(cfg.dataset)
    _int_at_least("n_splits", cfg.n_splits, 1)


def _check_c2st(cfg: C2STConfig) -> None:
    if cfg.model is not None:
        _check_model(cfg.model)
    _check_loss(cfg.loss)
    _check_optimizer(cfg.optimizer)
    _check_dataset(cfg.dataset)
    for name in ("iterations", "batch_size", "eval_passes"):
        _int_at_least(name, getattr(cfg, name), 1)
    _int_at_least("ndf", cfg.ndf, 2)
    _int_at_least("split", cfg.split, 0, " (one of the split files of `python -m biogans.prepare`)")
    _check_seed("seed", cfg.seed)
    _check_device("device", cfg.device)
    if cfg.mode == C2STMode.fake_vs_real:
        _check_generator_path(
            cfg.generator,
            "mode=fake_vs_real needs generator=PATH (a checkpoint, e.g. outputs/train/RUN/checkpoints/last.pt); "
            "or use mode=real_vs_real",
        )
        if cfg.classes is not None:
            raise ConfigError(
                f"classes={_show(cfg.classes)} is for mode=real_vs_real; a generator is judged on its own classes "
                "(choose the data's classes with dataset.classes=[...])"
            )
        return
    if cfg.generator is not None:
        raise ConfigError(f"generator={cfg.generator} is only used with mode=fake_vs_real; drop it or change mode")
    sets = [as_plain(s) for s in cfg.sets]
    if len(sets) != 2:
        raise ConfigError(f"sets must name two sets [set_a, set_b], e.g. sets=[train,test]; got {sets}")
    groups = class_groups(cfg.classes)
    if sets[0] == sets[1]:
        shared = None if groups is None else [c for c in groups[0] if c in groups[1]]
        if shared is None or shared:
            what = "all classes" if shared is None else f"class(es) {shared}"
            raise ConfigError(
                f"sets={sets} with {what} on both sides compares images with themselves; "
                "use two different sets (sets=[train,test]) or classes that do not overlap"
            )


def _check_reconstruct(cfg: ReconstructConfig) -> None:
    _check_generator_path(
        cfg.generator,
        "generator=PATH is required: the checkpoint whose latent space reconstructs the images, "
        "e.g. generator=outputs/train/RUN/checkpoints/last.pt",
    )
    if cfg.model is not None:
        _check_model(cfg.model)
    _check_dataset(cfg.dataset)
    check_class_list(cfg.classes, "classes")
    for name in ("batch_size", "trials", "steps", "max_iter"):
        _int_at_least(name, getattr(cfg, name), 1)
    _int_at_least("panels", cfg.panels, 0)
    if cfg.max_images_per_class is not None:
        _int_at_least("max_images_per_class", cfg.max_images_per_class, 1, " or null")
    _positive_number("lr", cfg.lr)
    _check_seed("seed", cfg.seed)
    _check_device("device", cfg.device)


def _check_interpolate(cfg: InterpolateConfig) -> None:
    _check_generator_path(
        cfg.generator,
        "generator=PATH is required: the checkpoint to render, e.g. generator=outputs/train/RUN/checkpoints/last.pt",
    )
    if cfg.model is not None:
        _check_model(cfg.model)
    _int_at_least("batch_size", cfg.batch_size, 3, " to hold start, middle and end")
    if cfg.points is not None:
        check_points(cfg.points, cfg.batch_size)
    _int_at_least("steps", cfg.steps, 2, " (a leg needs its two ends)")
    _int_at_least("scale", cfg.scale, 1)
    if not _is_number(cfg.duration_s) or not (cfg.duration_s > 0 and math.isfinite(cfg.duration_s)):
        _fail("duration_s", cfg.duration_s, "a positive number of seconds")
    _int_at_least("strip_frames", cfg.strip_frames, 1)
    _check_seed("seed", cfg.seed)
    _check_device("device", cfg.device)


def _check_bench(cfg: BenchConfig) -> None:
    for name, low in (("batch_size", 1), ("width", 2), ("warmup", 0), ("repeats", 1), ("threads", 1)):
        value = getattr(cfg, name)
        if value is not None:
            _int_at_least(name, value, low, " or null")
    _int_at_least("reference_workers", cfg.reference_workers, 0)
    if cfg.rows is not None and (isinstance(cfg.rows, str) or not cfg.rows):
        _fail("rows", cfg.rows, "a non-empty list of row names, or null for all")
    _check_dataset(cfg.dataset)
    _check_seed("seed", cfg.seed)
    _check_device("device", cfg.device)


_CHECKS = {
    TrainConfig: _check_train,
    PrepareConfig: _check_prepare,
    C2STConfig: _check_c2st,
    ReconstructConfig: _check_reconstruct,
    InterpolateConfig: _check_interpolate,
    BenchConfig: _check_bench,
}


def check_config(cfg: Any) -> None:
    """Every range and value check of a tool's config; a :class:`ConfigError` naming the key.

    ``cfg`` is one of the tool dataclasses (:data:`SCHEMAS`), with typed values (as
    ``biogans.cli`` makes them).  Runs before any file is read, so a typo costs nothing.
    """
    check = _CHECKS.get(type(cfg))
    if check is None:
        raise TypeError(f"no checks for a {type(cfg).__name__}; expected one of {[s.__name__ for s in _CHECKS]}")
    _check_missing(cfg)
    check(cfg)
