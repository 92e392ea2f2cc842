"""``python -m biogans.bench``: how fast this project trains and evaluates, beside a 2017-style reference.

Every row times one operation of the paper's experiments through the code the tools run:

* ``train``: one training iteration (``k`` critic steps of
  :func:`biogans.core.losses.critic_step`, then the generator step) by
  :func:`biogans.tasks.training.train_iteration`, the function the trainer calls, on
  batches of :class:`biogans.core.data.batches.Batches` (or the multi-channel batches);
  one row per training configuration of the paper (PAPER.md, the 14 runs).
* ``c2st``: one critic step of the two-sample test (:func:`~biogans.core.losses.critic_step`
  on a real batch and a fresh fake batch drawn without gradients), for the DCGAN critic
  of the joint models and the star-shaped critic of the conditional ones, each loss.
* ``lbfgs``: one L-BFGS step (up to ``max_iter`` evaluations) of the reconstruction of a
  batch of one class by the star-shaped generator
  (:func:`biogans.tasks.reconstruction.fit_latent`).

In the same run it times the **reference** (:mod:`biogans.tasks.benchmark_reference`: the
same maths in the structure of the 2017 code: one module per class, Python loops,
per-image data loading) started from the same weights, and, for the conditional rows,
this project's *other* tower implementation (grouped convolutions vs a per-tower loop;
:mod:`biogans.core.models.generator`), so that the choice made per device is a
measurement.  Runs of the implementations alternate (fast, reference, other, fast, ...)
so that a shared, noisy machine slows all of them alike; only ratios measured in one run
are worth comparing.

Timing: ``warmup`` untimed runs (the last one measures FLOPs and memory), then the median
of ``repeats`` timed runs, with CUDA events on a GPU (and a synchronisation before and
after) and ``time.perf_counter`` on a CPU.  A speedup is the median over rounds of the
ratio of the two runs of that round (:func:`paired_ratio`).  FLOPs per run come from
PyTorch's ``FlopCounterMode`` (convolutions and matrix products, forward and backward);
achieved FLOP/s is that over the median time.  Peak memory: on a GPU the most memory
PyTorch allocated during one run beyond what was allocated before it; on a CPU the
process's peak resident set size during one run (Linux ``VmHWM`` after a reset; it
includes the process's baseline, the data and the models).

Settings (``preset``): ``paper`` is the paper's batch 64 and widths (the default on a
GPU); ``cpu`` is smaller (batch 16, width 24) so that a 2-core CPU finishes the default
run in minutes; ``quick`` is tiny, for tests.  Widths scale every family's ``ngf`` and
``ndf`` from its YAML by ``width / 64`` (the multi-channel family's 224 becomes 3.5 x
width).  From the per-row times it costs the paper's whole grid of runs (:func:`paper_grid`)
in device-hours at both rates; at settings other than the paper's the times are scaled by
the ratio of FLOPs at the paper's settings (counted on PyTorch's ``meta`` device, without
computing) to FLOPs at the measured ones, assuming the measured FLOP/s hold.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from biogans.config import BenchConfig, LossConfig, ModelConfig, OptimizerConfig, ReconstructConfig, as_plain
from biogans.core.data.batches import Batches
from biogans.core.data.lin import LinFolder
from biogans.core.errors import ConfigError
from biogans.core.losses import critic_step
from biogans.core.models import build_critic, build_generator, make_spec
from biogans.core.models.generator import set_tower_impl, tower_impl_for
from biogans.core.names import ModelKind
from biogans.core.records import BenchGrid, BenchRecord, BenchRow, GridPart
from biogans.core.resources import config_dir
from biogans.tasks import benchmark_reference as ref
from biogans.tasks.common import fresh_critic, loss_from, optimizer_from, read_set
from biogans.tasks.reconstruction import fit_latent
from biogans.tasks.training import resolve_device, train_iteration

log = logging.getLogger(__name__)

__all__ = ["PRESETS", "ROWS", "Settings", "build_case", "paper_grid", "run", "summary_line"]


# --------------------------------------------------------------------------- what is timed
@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions of one benchmark run."""

    batch_size: int
    width: int
    warmup: int
    repeats: int


#: ``preset`` -> its settings (``batch_size``, ``width``, ``warmup``, ``repeats`` override them)
PRESETS: dict[str, Settings] = {
    "paper": Settings(batch_size=64, width=64, warmup=3, repeats=10),
    "cpu": Settings(batch_size=16, width=24, warmup=1, repeats=5),
    "quick": Settings(batch_size=4, width=8, warmup=1, repeats=2),
}
#: the paper's batch size and base width (ngf = ndf = 64)
PAPER_BATCH, PAPER_WIDTH = 64, 64


@dataclass(frozen=True)
class Row:
    """One line of the table: an operation (``train``, ``c2st``, ``lbfgs``) of a model family
    (``conf/model/<model>.yaml``) with a loss (``conf/loss/<loss>.yaml``, optimizer ``paper_<loss>``)."""

    name: str
    kind: str
    model: str
    loss: str
    label: str


_MODEL_LABELS = {
    "dcgan": "DCGAN",
    "sep": "DCGAN-sep",
    "star": "star-shaped",
    "independent": "independent",
    "independent_sep": "independent-sep",
    "multichannel": "multi-channel",
    "multichannel_sep": "multi-channel-sep",
}
_LOSS_LABELS = {"gan": "GAN", "wgan": "WGAN", "wgangp": "WGAN-GP"}
#: the paper's 14 training runs (PAPER.md), joint first
PAPER_RUNS = (
    ("dcgan", "gan"), ("sep", "gan"), ("dcgan", "wgan"), ("sep", "wgan"), ("dcgan", "wgangp"), ("sep", "wgangp"),
    ("star", "wgangp"), ("independent", "wgangp"), ("independent_sep", "wgangp"), ("multichannel", "wgangp"),
    ("multichannel_sep", "wgangp"), ("star", "gan"), ("independent", "gan"), ("independent_sep", "gan"),
)  # fmt: skip


def _rows() -> dict[str, Row]:
    rows = [Row(f"{m}_{lo}", "train", m, lo, f"train {_MODEL_LABELS[m]} + {_LOSS_LABELS[lo]}") for m, lo in PAPER_RUNS]
    for model, critic in (("dcgan", "DCGAN"), ("star", "star-shaped")):
        for loss in ("gan", "wgan", "wgangp"):
            label = f"C2ST step, {critic} critic, {_LOSS_LABELS[loss]}"
            rows.append(Row(f"c2st_{model}_{loss}", "c2st", model, loss, label))
    rows.append(Row("lbfgs_star", "lbfgs", "star", "wgangp", "reconstruction L-BFGS step, star-shaped G"))
    return {row.name: row for row in rows}


#: every row, by name, in table order
ROWS: dict[str, Row] = _rows()


# --------------------------------------------------------------------------- the paper's settings, read from conf/
def _group_yaml(group: str, name: str) -> dict[str, Any]:
    """``conf/<group>/<name>.yaml`` as plain data (the one home of a family's or a loss's settings)."""
    path = config_dir() / group / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds no settings (a mapping of {group}.* keys)")
    return data


def family(name: str, width: int) -> dict[str, Any]:
    """The model family ``name`` with ``ngf``/``ndf`` scaled by ``width / 64`` (plain data)."""
    model = as_plain(ModelConfig(**_group_yaml("model", name)))
    for key in ("ngf", "ndf"):
        model[key] = max(2, round(int(model[key]) * width / PAPER_WIDTH))
    return model


def loss_settings(name: str) -> tuple[LossConfig, OptimizerConfig]:
    """The loss ``name`` and its paper optimizer (``conf/loss/<name>.yaml``, ``conf/optimizer/paper_<name>.yaml``)."""
    return LossConfig(**_group_yaml("loss", name)), OptimizerConfig(**_group_yaml("optimizer", f"paper_{name}"))


def regular_iteration(loss) -> int:
    """The first iteration with the loss's usual ``n_critic`` critic steps (WGAN warms up with 100)."""
    return next(i for i in range(10**6) if loss.critic_steps(i) == loss.n_critic)


def mean_critic_steps(loss, iterations: int) -> float:
    """Critic steps per iteration over a run of ``iterations`` (the WGAN warm-up counted)."""
    return sum(loss.critic_steps(i) for i in range(iterations)) / iterations


# --------------------------------------------------------------------------- data
class ShapeBatches:
    """Batches of the right shape and no content, for counting FLOPs on the meta device."""

    def __init__(self, shape: Sequence[int], device: torch.device) -> None:
        self.shape, self.device = tuple(shape), device

    def next(self) -> torch.Tensor:
        return torch.zeros(self.shape, device=self.device)


class BenchData:
    """The training set, read once: batches for our code, per-image loaders for the reference."""

    def __init__(self, folder: LinFolder, device: torch.device, cache_dir: str) -> None:
        self.folder, self.device, self.cache_dir = folder, device, cache_dir
        self.class_names = list(folder.class_names)
        self.image_size = [int(folder.images.shape[-2]), int(folder.images.shape[-1])]
        self.images = folder.images.to(device)
        self._table: torch.Tensor | None = None
        self._cache: list[np.ndarray] | None = None

    @property
    def cache(self) -> list[np.ndarray]:
        """One numpy array per image (the reference's image cache)."""
        if self._cache is None:
            self._cache = ref.image_cache(self.folder.images)
        return self._cache

    def table(self) -> torch.Tensor:
        """The red nearest-neighbour table of the multi-channel data (computed once, cached on disk)."""
        if self._table is None:
            from biogans.core.data.multichannel import N_NEIGHBOURS, cached_red_neighbour_table

            self._table = cached_red_neighbour_table(
                self.folder, Path(self.cache_dir).expanduser(), k=N_NEIGHBOURS, device=self.device
            )
        return self._table

    def batches(self, kind: str, batch_size: int, rng: torch.Generator):
        """This project's batches for a model kind, as the trainer makes them."""
        if kind == ModelKind.multichannel.value:
            from biogans.core.data.multichannel import MultichannelBatches

            return MultichannelBatches(
                self.images, self.folder.labels, self.table(), batch_size, rng, class_names=self.class_names
            )
        if kind == ModelKind.joint.value:
            return Batches(self.images, [torch.arange(len(self.folder.files))], batch_size, rng)
        pools = [self.folder.indices_of(name) for name in self.class_names]
        return Batches(self.images, pools, batch_size, rng, stacked=True)

    def reference_batches(self, kind: str, batch_size: int, seed: int, workers: int) -> Iterator[torch.Tensor]:
        """The reference's endless batches for a model kind (per-image datasets and DataLoaders)."""
        if kind == ModelKind.multichannel.value:
            table = self.table().cpu().numpy()
            dataset = ref.RefCompositeDataset(self.cache, self.folder.labels.tolist(), table, seed=seed)
            return ref.endless(ref.loader(dataset, batch_size, seed, workers))
        if kind == ModelKind.joint.value:
            dataset = ref.RefImageDataset(self.cache, range(len(self.cache)), seed=seed)
            return ref.endless(ref.loader(dataset, batch_size, seed, workers))
        loaders = [
            ref.loader(ref.RefImageDataset(self.cache, self.folder.indices_of(name).tolist(), seed=seed + c), batch_size,
                       seed + c, workers)
            for c, name in enumerate(self.class_names)
        ]  # fmt: skip
        return ref.conditional_batches(loaders)


def batch_shape(kind: str, batch_size: int, n_classes: int, image_size: Sequence[int]) -> tuple[int, ...]:
    """The shape of a real batch for a model kind."""
    h, w = image_size
    if kind == ModelKind.multichannel.value:
        return (batch_size, n_classes + 1, h, w)
    if kind == ModelKind.joint.value:
        return (batch_size, 2, h, w)
    return (n_classes, batch_size, 2, h, w)


# --------------------------------------------------------------------------- cases: what one row runs
@dataclass
class Case:
    """The callables of one row: ``fast`` (this project), ``reference`` (2017 style) and
    ``other`` (this project with the other tower implementation), each one timed unit."""

    fast: Callable[[], Any]
    reference: Callable[[], Any] | None = None
    other: Callable[[], Any] | None = None
    #: the tower implementation ``fast`` runs, and ``other``'s
    towers: str | None = None
    other_towers: str | None = None
    #: what one run is ("iteration" or "step") and extra facts for the record
    unit: str = "iteration"
    facts: dict[str, Any] = field(default_factory=dict)
    #: the networks each side updates or renders with, and how the reference's tensors
    #: map onto ours (``"generator"``/``"critic"`` -> (ours, reference's, pairs)); for tests
    models: dict[str, tuple[nn.Module, nn.Module | None, list[ref.Pair]]] = field(default_factory=dict)


@contextlib.contextmanager
def _towers(impl: str, *modules: nn.Module):
    """Run ``modules`` with tower implementation ``impl`` inside the block."""
    before = [m.tower_impl for module in modules for m in module.modules() if hasattr(m, "tower_impl")]
    for module in modules:
        set_tower_impl(module, impl)
    try:
        yield
    finally:
        holders = [m for module in modules for m in module.modules() if hasattr(m, "tower_impl")]
        for m, value in zip(holders, before):
            m.tower_impl = value


def _other_towers(device: torch.device) -> tuple[str, str]:
    chosen = tower_impl_for(device)
    return chosen, "grouped" if chosen == "loop" else "loop"


def _build(spec: dict[str, Any], device: torch.device, critic: bool = True) -> tuple[nn.Module, nn.Module | None]:
    """Generator (and critic) of ``spec`` on ``device``; on ``meta`` nothing is initialised."""
    where = torch.device("meta") if device.type == "meta" else torch.device("cpu")
    with where:
        g = build_generator(spec)
        d = build_critic(spec) if critic else None
    return g.to(device), (d.to(device) if d is not None else None)


def _reference_models(case: Case, g: nn.Module, d: nn.Module | None) -> tuple[nn.Module, nn.Module | None]:
    """The reference's networks with our weights; recorded in ``case.models``."""
    ref_g, pairs = ref.reference_generator(g)
    ref.copy_into_reference(g, ref_g, pairs)
    case.models["generator"] = (g, ref_g, pairs)
    ref_d = None
    if d is not None:
        ref_d, pairs = ref.reference_critic(d)
        ref.copy_into_reference(d, ref_d, pairs)
        case.models["critic"] = (d, ref_d, pairs)
    return ref_g, ref_d


def build_case(
    row: Row,
    settings: Settings,
    device: torch.device,
    data: BenchData | None,
    *,
    class_names: Sequence[str],
    image_size: Sequence[int],
    seed: int = 0,
    reference: bool = True,
    compare_towers: bool = True,
    reference_workers: int = 0,
    lbfgs: tuple[float, int] = (0.05, 20),
) -> Case:
    """The callables of ``row`` at ``settings`` on ``device``.

    Both sides start from the same weights and draw their latent vectors and penalty
    mixing from generators seeded alike, so given the same real batches (``data`` may be
    any object with ``batches`` and ``reference_batches`` methods) they compute the same
    numbers; ``tests/test_bench.py`` checks this on the callables returned here.
    With ``device`` ``meta`` (for counting FLOPs at other settings without computing) no
    data is needed (``data=None``), nothing is random and only ``fast`` is built.
    """
    meta = device.type == "meta"
    batch = settings.batch_size
    loss_cfg, opt_cfg = loss_settings(row.loss)
    model = family(row.model, settings.width)
    spec = make_spec(model, list(class_names), list(image_size), bool(loss_cfg.critic_batchnorm))
    kind = spec["kind"]
    conditional = kind in (ModelKind.star.value, ModelKind.independent.value)
    torch.manual_seed(seed)

    def generator(tag: int) -> torch.Generator | None:
        return None if meta else torch.Generator(device).manual_seed(seed * 16 + tag)

    def real_batches(kind_: str, rng: torch.Generator | None):
        if meta:
            return ShapeBatches(batch_shape(kind_, batch, len(class_names), image_size), device)
        assert data is not None and rng is not None
        return data.batches(kind_, batch, rng)

    if row.kind == "train":
        g, d = _build(spec, device)
        assert d is not None
        loss = loss_from(loss_cfg)
        opt_g, opt_d = optimizer_from(opt_cfg, g.parameters()), optimizer_from(opt_cfg, d.parameters())
        rng = generator(0)
        batches = real_batches(kind, rng)
        iteration = regular_iteration(loss)
        steps = loss.critic_steps(iteration)

        def fast() -> Any:
            return train_iteration(g, d, loss, opt_g, opt_d, batches, batch, iteration, rng)

        case = Case(fast, unit="iteration", facts={"critic_steps": steps, "nz": g.nz})
        if reference and not meta:
            assert data is not None
            ref_g, ref_d = _reference_models(case, g, d)
            assert ref_d is not None
            ref_opt_g, ref_opt_d = (
                optimizer_from(opt_cfg, ref_g.parameters()),
                optimizer_from(opt_cfg, ref_d.parameters()),
            )
            ref_loss, ref_rng = ref.reference_loss(loss_cfg), generator(0)
            real = data.reference_batches(kind, batch, seed, reference_workers)

            def reference_run() -> Any:
                return ref.train_iteration(
                    ref_g, ref_d, ref_opt_g, ref_opt_d, ref_loss, real, batch, g.nz, steps, ref_rng, device
                )

            case.reference = reference_run
        modules: tuple[nn.Module, ...] = (g, d)
    elif row.kind == "c2st":
        g, _ = _build(spec, device, critic=False)
        g.eval()
        with torch.device("meta") if meta else contextlib.nullcontext():
            critic = fresh_critic(spec, batchnorm=bool(loss_cfg.critic_batchnorm), ndf=settings.width)
        critic = critic.to(device)
        loss = loss_from(loss_cfg)
        opt = optimizer_from(opt_cfg, critic.parameters())
        rng_real, rng_fake, rng_loss = generator(2), generator(3), generator(4)
        real_side = real_batches(ModelKind.star.value if conditional else ModelKind.joint.value, rng_real)

        def draw_fake() -> torch.Tensor:  # as the two-sample test draws its fake side
            z = torch.randn(batch, g.nz, generator=rng_fake, device=device)
            with torch.no_grad():
                return g(z)

        def fast() -> Any:
            return critic_step(critic, opt, loss, real_side.next(), draw_fake(), rng_loss)

        case = Case(fast, unit="critic step", facts={"critic": "star-shaped" if conditional else "DCGAN"})
        if reference and not meta:
            assert data is not None
            ref_g, ref_d = _reference_models(case, g, critic)
            assert ref_d is not None
            ref_g.eval()
            ref_opt = optimizer_from(opt_cfg, ref_d.parameters())
            ref_loss, ref_noise, ref_rng = ref.reference_loss(loss_cfg), generator(3), generator(4)
            kind_real = ModelKind.star.value if conditional else ModelKind.joint.value
            real = data.reference_batches(kind_real, batch, seed, reference_workers)

            def reference_run() -> Any:
                return ref.train_critic_step(
                    ref_d, ref_g, ref_opt, ref_loss, real, batch, g.nz, ref_rng, device, noise_rng=ref_noise
                )

            case.reference = reference_run
        modules = (g, critic)
    elif row.kind == "lbfgs":
        g, _ = _build(spec, device, critic=False)
        g.eval().requires_grad_(False)  # as the reconstruction tool: gradients flow to z only
        lr, max_iter = lbfgs
        rng = generator(6)
        targets = real_batches(ModelKind.star.value, rng).next()[0]
        z0 = torch.randn(batch, g.nz, generator=rng, device=device)
        evaluations = [0]

        def render(z: torch.Tensor) -> torch.Tensor:
            evaluations[0] += 1
            return g(z, tower=0)

        if meta:  # L-BFGS branches on values: count one evaluation (render, backward to z)

            def fast() -> Any:
                z = z0.clone().requires_grad_(True)
                (render(z) - targets).pow(2).sum().backward()

        else:

            def fast() -> Any:
                return fit_latent(render, targets, z0, 1, lr, max_iter)

        case = Case(fast, unit="L-BFGS step", facts={"evaluations": evaluations, "max_iter": max_iter, "lr": lr})
        if reference and not meta:
            ref_g, _ = _reference_models(case, g, None)
            ref_g.eval()  # trainable weights: the 2017 reconstruction did not freeze them
            noise = z0.view(batch, g.nz, 1, 1)

            def reference_run() -> Any:
                return ref.lbfgs_step(lambda z: ref_g(z, 0), targets, noise, lr, max_iter)

            case.reference = reference_run
        modules = (g,)
        conditional = False  # one class rendered: both tower implementations run the same code
    else:
        raise ConfigError(f"unknown row kind {row.kind!r}")
    if conditional and not meta:
        chosen, other = _other_towers(device)
        case.towers = chosen
        if compare_towers:
            fast_run = case.fast

            def other_run() -> Any:
                with _towers(other, *modules):
                    return fast_run()

            case.other, case.other_towers = other_run, other
    return case


# --------------------------------------------------------------------------- measuring
class _NoModuleTracking:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks break
    ``torch.autograd.grad`` inside the gradient penalty (PyTorch refuses leaf nodes there);
    the totals do not need the per-module breakdown."""

    parents = frozenset({"Global"})

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` (PyTorch's FlopCounterMode: convolutions and matrix products)."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _NoModuleTracking()  # type: ignore[assignment]
    with counter:
        fn()
    return int(counter.get_total_flops())


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_once(fn: Callable[[], Any], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes (CUDA events on a GPU)."""
    if device.type == "cuda":
        _synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000.0
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _rss_peak_kib() -> int | None:
    try:
        match = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
    except OSError:
        return None
    return int(match.group(1)) if match else None


def peak_memory(fn: Callable[[], Any], device: torch.device) -> float | None:
    """MiB: on CUDA the most allocated during one call beyond what was allocated before it;
    elsewhere the process's peak resident set during one call (None where unknown)."""
    if device.type == "cuda":
        _synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        _synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux)
    except OSError:
        fn()
        return None
    fn()
    peak = _rss_peak_kib()
    return peak / 1024 if peak is not None else None


def _warm_up(
    case: Case, fns: dict[str, Callable[[], Any]], device: torch.device, warmup: int, flops: bool
) -> tuple[dict[str, int], dict[str, float | None], int | None]:
    """``warmup`` untimed runs of each implementation; the last one of ours and of the
    reference (an extra one when ``warmup`` is 0) measures peak memory, and ours also
    counts FLOPs and, for L-BFGS, generator evaluations.  Returns (FLOPs, memory, evaluations)."""
    counted: dict[str, int] = {}
    memory: dict[str, float | None] = {}
    evaluations = case.facts.get("evaluations")  # a one-element list the L-BFGS render counts into
    per_step: int | None = None
    for name, fn in fns.items():
        for _ in range(max(warmup - 1, 0) if name != "other" else warmup):
            fn()
        if name == "other":
            continue
        if evaluations is not None:
            evaluations[0] = 0
        if name == "fast" and flops:

            def run(fn: Callable[[], Any] = fn) -> None:
                counted["fast"] = count_flops(fn)

        else:
            run = fn
        memory[name] = peak_memory(run, device)
        if name == "fast" and evaluations is not None:
            per_step = evaluations[0]
    _synchronize(device)
    return counted, memory, per_step


def measure(
    fns: dict[str, Callable[[], Any]],
    device: torch.device,
    warmup: int,
    repeats: int,
    at_most: dict[str, int] | None = None,
) -> dict[str, list[float]]:
    """``warmup`` untimed calls of each, then ``repeats`` timed rounds, the implementations
    alternating; ``at_most[name]`` limits the rounds ``name`` takes part in (the first ones)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
        _synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(repeats):
        for name, fn in fns.items():
            if round_ < (at_most or {}).get(name, repeats):
                times[name].append(time_once(fn, device))
    return times


#: timed rounds of the tower implementation not chosen (it only has to show which one wins)
OTHER_ROUNDS = 3


# --------------------------------------------------------------------------- the paper's grid
#: PAPER.md: iterations of the joint and conditional runs, C2ST critic steps, checkpoints of Figure 8
JOINT_ITERATIONS, CONDITIONAL_ITERATIONS, C2ST_STEPS, FIGURE8_CHECKPOINTS, SPLITS = 500_000, 50_000, 5_000, 11, 10
EVAL_LOSSES = ("gan", "wgan", "wgangp")
#: Table 3: (GAN, WGAN-GP) x (star-shaped, independent-sep) x (regular, separable) reconstructions
RECONSTRUCTION_RUNS, TRIALS, LBFGS_STEPS = 8, 5, 50


def paper_grid(seconds: dict[str, float], test_images_per_class: int, n_classes: int, batch: int) -> list[GridPart]:
    """The paper's grid of runs costed from per-row ``seconds`` (one implementation's rates).

    Returns one entry per part (what, how many units, the rows used, hours); parts whose
    rows were not measured have ``hours=None``.  The assumptions are in each entry's ``note``.
    """

    def cost(units: float, rows: Sequence[tuple[str, float]], what: str, note: str = "") -> GridPart:
        missing = [r for r, _ in rows if r not in seconds]
        hours = None if missing else sum(seconds[r] * share for r, share in rows) * units / 3600
        return GridPart(what=what, units=float(units), rows=[r for r, _ in rows], hours=hours, note=note)

    parts = []
    wgan_factor = {
        n: mean_critic_steps(loss_from(loss_settings("wgan")[0]), n) / loss_settings("wgan")[0].n_critic
        for n in (JOINT_ITERATIONS, CONDITIONAL_ITERATIONS)
    }
    for model, loss in PAPER_RUNS:
        joint = model in ("dcgan", "sep")
        iterations = JOINT_ITERATIONS if joint else CONDITIONAL_ITERATIONS
        factor = wgan_factor[iterations] if loss == "wgan" else 1.0
        note = (
            f"x {factor:.3f} for the WGAN warm-up (100 critic steps at 25 + every 500th iteration)"
            if loss == "wgan"
            else ""
        )
        parts.append(
            cost(iterations * factor, [(f"{model}_{loss}", 1.0)], f"train {model} + {loss}, {iterations:,} it", note)
        )
    checkpoint_runs = 6 * FIGURE8_CHECKPOINTS * SPLITS
    for loss in EVAL_LOSSES:
        parts.append(
            cost(
                checkpoint_runs * C2ST_STEPS,
                [(f"c2st_dcgan_{loss}", 1.0)],
                f"Figure 8 C2ST {loss}: 6 joint models x {FIGURE8_CHECKPOINTS} checkpoints x {SPLITS} splits",
            )
        )
        parts.append(
            cost(
                8 * SPLITS * C2ST_STEPS,
                [(f"c2st_star_{loss}", 1.0)],
                f"Table 2 C2ST {loss}: 8 conditional models x {SPLITS} splits",
                "multi-channel models are judged as star-shaped ones (their larger generator is not costed)",
            )
        )
        parts.append(
            cost(
                SPLITS * C2ST_STEPS,
                [(f"c2st_dcgan_{loss}", 1.0)],
                f"baseline C2ST {loss}: 6 classes real vs real x {SPLITS} splits",
                "costed as fake vs real (a real batch instead of the generator's)",
            )
        )
    parts.append(
        cost(
            64 * SPLITS * C2ST_STEPS,
            [("c2st_dcgan_wgangp", 1.0)],
            f"Table 1 C2ST wgangp: 64 class pairs x {SPLITS} splits",
            "costed as fake vs real",
        )
    )
    batches = math.ceil(test_images_per_class / batch)
    steps = RECONSTRUCTION_RUNS * n_classes * batches * TRIALS * LBFGS_STEPS * 1.5  # half the runs separable: 2 stages
    parts.append(cost(steps, [("lbfgs_star", 1.0)],
                      f"Table 3: {RECONSTRUCTION_RUNS} runs x {n_classes} classes x {batches} batches of {batch} "
                      f"x {TRIALS} trials x {LBFGS_STEPS} steps (x2 separable)",
                      f"{test_images_per_class} test images per class; independent-sep costed as star-shaped"))  # fmt: skip
    return parts


# --------------------------------------------------------------------------- the task
def _settings(cfg: BenchConfig, device: torch.device) -> tuple[str, Settings]:
    preset = as_plain(cfg.preset)
    if preset == "auto":
        preset = "paper" if device.type == "cuda" else "cpu"
    base = PRESETS[preset]
    return preset, Settings(
        batch_size=cfg.batch_size if cfg.batch_size is not None else base.batch_size,
        width=cfg.width if cfg.width is not None else base.width,
        warmup=cfg.warmup if cfg.warmup is not None else base.warmup,
        repeats=cfg.repeats if cfg.repeats is not None else base.repeats,
    )


def _environment(device: torch.device) -> dict[str, Any]:
    env = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
        env["cudnn_benchmark"] = torch.backends.cudnn.benchmark
    return env


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def paired_ratio(slow: list[float] | None, fast: list[float]) -> float | None:
    """The median over rounds of ``slow[i] / fast[i]``: runs of one round follow each other,
    so a load that comes and goes on a shared machine cancels out of each ratio."""
    if not slow or not fast:
        return None
    return statistics.median(a / b for a, b in zip(slow, fast) if b > 0)


def _test_images_per_class(cfg: BenchConfig, class_names: Sequence[str]) -> int:
    """Images per class of the data set's test folder (what Table 3 reconstructs)."""
    folder = read_set(cfg.dataset, "test", list(class_names))
    counts = folder.class_counts()
    return round(sum(counts.values()) / max(len(counts), 1))


def run(cfg: BenchConfig, run_dir: Path) -> BenchRecord:
    """Time every row of ``cfg.rows`` (all by default); writes nothing itself but the record
    the contract writes (``bench.json``) and prints the table."""
    started = time.time()
    device = resolve_device(cfg.device)
    if cfg.threads is not None:
        torch.set_num_threads(int(cfg.threads))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = bool(cfg.cudnn_benchmark)
    names = list(cfg.rows) if cfg.rows is not None else list(ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise ConfigError(f"rows: unknown row(s) {unknown}; the rows are {', '.join(ROWS)}")
    preset, settings = _settings(cfg, device)
    folder = read_set(cfg.dataset, "train")
    data = BenchData(folder, device, str(cfg.dataset.cache_dir))
    paper = Settings(PAPER_BATCH, PAPER_WIDTH, 0, 0)
    at_paper = settings.batch_size == PAPER_BATCH and settings.width == PAPER_WIDTH
    recon = ReconstructConfig()
    log.info(
        "bench: %d rows on %s, preset %s (batch %d, width %d), %d warm-up + %d timed runs, %d threads",
        len(names), device, preset, settings.batch_size, settings.width, settings.warmup, settings.repeats,
        torch.get_num_threads(),
    )  # fmt: skip
    results = []
    for i, name in enumerate(names, 1):
        row = ROWS[name]
        common = {"class_names": data.class_names, "image_size": data.image_size, "seed": int(cfg.seed)}
        case = build_case(
            row, settings, device, data, reference=cfg.reference, compare_towers=cfg.compare_towers,
            reference_workers=cfg.reference_workers, lbfgs=(recon.lr, recon.max_iter), **common,
        )  # fmt: skip
        fns = {"fast": case.fast}
        if case.reference is not None:
            fns["reference"] = case.reference
        if case.other is not None:
            fns["other"] = case.other
        flops, memory, per_call_evaluations = _warm_up(case, fns, device, settings.warmup, cfg.flops)
        times = measure(fns, device, 0, settings.repeats, at_most={"other": OTHER_ROUNDS})
        medians = {k: _median(v) for k, v in times.items()}
        fast_s, ref_s, other_s = medians["fast"], medians.get("reference"), medians.get("other")
        paper_flops = None
        if cfg.flops and not at_paper:
            meta = build_case(row, paper, torch.device("meta"), None, reference=False, **common)
            paper_flops = count_flops(meta.fast) * (per_call_evaluations or 1 if row.kind == "lbfgs" else 1)
        result = BenchRow(
            row=name,
            label=row.label,
            kind=row.kind,
            unit=case.unit,
            towers=case.towers,
            seconds=fast_s,
            it_per_s=1.0 / fast_s if fast_s else None,
            reference_seconds=ref_s,
            speedup=paired_ratio(times.get("reference"), times["fast"]),
            other_towers=case.other_towers,
            other_seconds=other_s,
            other_ratio=paired_ratio(times.get("other"), times["fast"]),
            flops=flops.get("fast"),
            flop_per_s=(flops["fast"] / fast_s) if flops.get("fast") and fast_s else None,
            peak_memory_mib=memory.get("fast"),
            reference_peak_memory_mib=memory.get("reference"),
            paper_flops=flops.get("fast") if at_paper else paper_flops,
            times=times,
            critic_steps=case.facts.get("critic_steps"),
            evaluations=per_call_evaluations,
        )
        results.append(result)
        log.info("bench %d/%d %s", i, len(names), _row_line(result))
        if cfg.progress:
            print(f"[{i}/{len(names)}] {_row_line(result)}", flush=True)
    grid = _grid(results, cfg, data, settings, at_paper)
    record = BenchRecord(
        status="done",
        device=str(device),
        rows=results,
        preset=preset,
        settings=as_plain(settings.__dict__),
        environment=_environment(device),
        grid=grid,
        elapsed_s=round(time.time() - started, 3),
    )
    print(format_table(record))
    return record


def _grid(results: list[BenchRow], cfg: BenchConfig, data: BenchData, settings: Settings, at_paper: bool) -> BenchGrid:
    """The paper's grid at both rates; scaled to the paper's settings by FLOPs where measured elsewhere."""
    fast, reference = {}, {}
    for r in results:
        scale = 1.0
        if not at_paper:
            if not (r.paper_flops and r.flops):
                continue
            scale = r.paper_flops / r.flops
        if r.seconds:
            fast[r.row] = r.seconds * scale
        if r.reference_seconds:
            reference[r.row] = r.reference_seconds * scale
    n_test = _test_images_per_class(cfg, data.class_names)
    parts = paper_grid(fast, n_test, len(data.class_names), PAPER_BATCH)
    for part, other in zip(parts, paper_grid(reference, n_test, len(data.class_names), PAPER_BATCH)):
        part.reference_hours = other.hours
    hours = [p.hours for p in parts]
    reference_hours = [p.reference_hours for p in parts]
    basis = (
        "measured at the paper's settings"
        if at_paper
        else f"measured at batch {settings.batch_size}, width {settings.width}, scaled by FLOPs at the paper's "
        "settings over FLOPs measured"
    )
    return BenchGrid(
        basis=basis,
        test_images_per_class=n_test,
        parts=parts,
        hours=sum(hours) if None not in hours else None,  # type: ignore[arg-type]
        reference_hours=sum(reference_hours) if None not in reference_hours else None,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- printing
def _si(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.1f} {prefix}{unit}"
    return f"{value:.3g} {unit}".strip()


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _row_line(r: BenchRow) -> str:
    line = f"{r.row}: {_fmt(r.seconds, '.4g')} s/{r.unit}"
    if r.reference_seconds:
        line += f", reference {_fmt(r.reference_seconds, '.4g')} s ({_fmt(r.speedup, '.2f')}x)"
    if r.other_seconds:
        line += f", {r.other_towers} towers {_fmt(r.other_seconds, '.4g')} s"
    return line


def format_table(record: BenchRecord) -> str:
    """The table ``python -m biogans.bench`` prints (also what BENCHMARKS.md shows)."""
    env, s = record.environment or {}, record.settings or {}
    head = (
        f"biogans.bench on {record.device} ({env.get('gpu') or env.get('cpu')}), torch {env.get('torch')}, "
        f"{env.get('threads')} threads{'; cudnn.benchmark' if env.get('cudnn_benchmark') else ''}; "
        f"preset {record.preset}: batch {s.get('batch_size')}, width {s.get('width')}, "
        f"median of {s.get('repeats')} after {s.get('warmup')} warm-up"
    )
    lines = [
        head,
        "",
        "| row | towers | s / unit | it/s | reference s | speedup | other towers s (x) | FLOP / unit | FLOP/s | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record.rows or []:
        other = (
            "-" if not r.other_seconds else f"{r.other_towers} {r.other_seconds:.4g} ({_fmt(r.other_ratio, '.2f')}x)"
        )
        speedup = f"{r.speedup:.2f}x" if r.speedup else "-"
        lines.append(
            f"| {r.label} | {r.towers or '-'} | {_fmt(r.seconds, '.4g')} | {_fmt(r.it_per_s, '.3g')} | "
            f"{_fmt(r.reference_seconds, '.4g')} | {speedup} | {other} | {_si(r.flops)} | "
            f"{_si(r.flop_per_s)} | {_fmt(r.peak_memory_mib, '.0f')} |"
        )
    grid = record.grid
    if grid is not None:
        lines += ["", f"The paper's grid in device-hours ({grid.basis}):", "",
                  "| part | units | hours | reference hours |", "|---|---|---|---|"]  # fmt: skip
        for p in grid.parts:
            lines.append(f"| {p.what} | {p.units:,.0f} | {_fmt(p.hours, ',.1f')} | {_fmt(p.reference_hours, ',.1f')} |")
        lines.append(f"| **total** | | {_fmt(grid.hours, ',.0f')} | {_fmt(grid.reference_hours, ',.0f')} |")
    return "\n".join(lines)


def summary_line(record: BenchRecord, run_dir: str | Path) -> str:
    """The one line the entry point prints last."""
    rows = record.rows or []
    ratios = [r.speedup for r in rows if r.speedup]
    low = f", speedup over the reference {min(ratios):.2f}x to {max(ratios):.2f}x" if ratios else ""
    return f"biogans.bench: {len(rows)} rows on {record.device}{low} -> {Path(run_dir) / 'bench.json'}"
