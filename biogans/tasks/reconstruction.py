"""Reconstructing real images through a generator's latent space (PAPER.md, "Evaluation 2").

Why: a generator that covers the data distribution should be able to produce (almost)
every real cell, including cells it never saw in training.  So for each test image ``x``
we search for a latent vector ``z`` with ``G(z) ~ x`` and report how close it gets (L2
error) and how typical the found ``z`` is under the prior (its negative log-likelihood; a
reconstruction bought with an absurd ``z`` means little).  The nearest *training* image
is reported too, so a small error can be told apart from memorisation.

How, per class (one tower of a conditional generator, or the one generator of a joint
model) and per batch of up to ``batch_size`` images of that class:

* ``trials`` restarts; each draws ``z ~ N(0, I)`` and runs L-BFGS on it (``steps`` calls
  of ``LBFGS.step``, each up to ``max_iter`` inner iterations, step size ``lr``) to
  minimise the squared error ``(G(z) - x) ** 2`` in the network's [-1, 1] space over the
  whole batch.  The images of a batch share one ``(B, nz)`` tensor and one optimiser (as
  in the paper), but with the generator in eval mode (BatchNorm on running statistics)
  each image's pixels depend on its own ``z`` only, so the batch is B independent
  problems solved together for speed.
* The objective is the *sum* of squared errors, not their mean.  Both have the same
  minimiser (the paper states the mean), but PyTorch's L-BFGS has absolute thresholds
  (it stops a step when the loss changes by less than ``tolerance_change = 1e-9`` and
  keeps a curvature pair only when ``y.s > 1e-10``).  Averaged over ``B x 2 x 48 x 80``
  pixels the gradients are about 1e-5, the first step already falls below both, and
  the optimiser stalls without moving ``z`` (measured on a trained DCGAN: 40 function
  evaluations in 20 steps, the L2 error unchanged in its 6th digit; with the sum, 291
  evaluations and the error down 15x to the 8-bit rounding floor).  The sum also keeps
  each image's gradient at the scale it has alone, whatever the batch size.
* The error of an image is ``sqrt(sum((a - b) ** 2) / numel)`` in [0, 1] pixel space; for
  each image *separately* the trial with the smallest error is kept, because a restart
  that is lucky for one image says nothing about its neighbours in the batch.
* ``optimise="separable"`` (green-on-red models, whose red output depends on the first
  ``red_nz`` latent dimensions only): first the red noise is fitted to the red channel,
  then the green noise to the green channel with the red noise fixed, ``steps`` L-BFGS
  steps each.  Shape first, then protein, as the model factorises them.

Reproducibility: every initial ``z`` is drawn on the CPU from a ``torch.Generator``
seeded from ``seed``, the class name and the batch's index (:func:`batch_seed`), then
moved to the device: the same command starts from the same vectors on any device, and a
class's starting points do not depend on which other classes are reconstructed.

Nearest neighbours are searched exhaustively and exactly, on the device, in chunks
(:func:`biogans.core.data.neighbours.nearest`, shared with the multi-channel data's red
neighbour table); ties go to the first file.

Outputs of :func:`run_reconstruction`: ``reconstruction.json`` (per image, per class and
overall; see :class:`biogans.core.records.ReconstructionRecord`) and ``panels/<Class>.png`` (rows of target,
reconstruction, initial reconstruction, nearest training image; red in R, green in G).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.utils import make_grid
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from biogans.config import Optimise, ReconstructConfig, as_plain
from biogans.core.checkpoint import load_generator
from biogans.core.data.batches import normalise
from biogans.core.data.lin import LinFolder
from biogans.core.data.neighbours import nearest
from biogans.core.errors import ConfigError
from biogans.core.records import (
    GeneratorInfo,
    ImageReconstruction,
    ReconstructionRecord,
    ReconstructionSummary,
    median_mad,
)
from biogans.core.samples import to_rgb, write_png
from biogans.tasks.common import (
    check_generator_classes,
    check_image_size,
    class_view,
    generator_info,
    is_class_conditional,
    read_set,
)
from biogans.tasks.training import resolve_device

__all__ = [
    "batch_seed",
    "fit_latent",
    "gaussian_nll",
    "image_l2",
    "median_mad",
    "nearest_neighbours",
    "optimise_latent",
    "panel_grid",
    "reconstruct_batch",
    "run",
    "run_reconstruction",
    "summarise",
    "summary_line",
]

log = logging.getLogger(__name__)

#: Padding (pixels, white) between the images of a panel.
PANEL_PADDING = 2

#: ``render(z)`` maps ``(B, nz)`` latent vectors to ``(B, 2, H, W)`` images in [-1, 1].
Render = Callable[[torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------- measures


def image_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image L2 error ``sqrt(sum((a - b)^2) / numel)`` in [0, 1] space of [-1, 1] images.

    ``(B, C, H, W)`` each; returns ``(B,)``.  Halving the difference maps [-1, 1] to [0, 1].
    """
    diff = (a.detach().float() - b.detach().float()) / 2
    return diff.flatten(1).pow(2).mean(1).sqrt()


def gaussian_nll(z: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of each row of ``z`` (``(B, nz)``) under N(0, I):
    ``0.5 * |z|^2 + nz / 2 * log(2 pi)``."""
    z = z.detach().flatten(1).double()
    return 0.5 * z.pow(2).sum(1) + z.shape[1] / 2 * math.log(2 * math.pi)


# --------------------------------------------------------------------------- optimisation


def fit_latent(
    render: Render,
    targets: torch.Tensor,
    z0: torch.Tensor,
    steps: int,
    lr: float,
    max_iter: int,
    dims: slice = slice(None),
    channels: slice = slice(None),
) -> torch.Tensor:
    """L-BFGS on the latent dimensions ``dims`` of ``z0`` to fit the image channels ``channels``.

    Minimises ``sum((render(z)[:, channels] - targets[:, channels]) ** 2)`` over the batch
    (the paper's mean times a constant; see the module docstring for why the sum); the
    other dimensions of ``z`` stay exactly as given.  Returns the new ``(B, nz)`` tensor
    (detached).  ``render`` should not need gradients for its own weights (freeze them).
    """
    z0 = z0.detach()
    if steps <= 0:
        return z0.clone()
    nz = z0.shape[1]
    lo, hi, _ = dims.indices(nz)
    before, after = z0[:, :lo], z0[:, hi:]
    part = z0[:, lo:hi].clone().requires_grad_(True)
    goal = targets[:, channels].detach()
    optimizer = torch.optim.LBFGS([part], lr=lr, max_iter=max_iter)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        images = render(torch.cat([before, part, after], dim=1))
        loss = (images[:, channels] - goal).pow(2).sum()
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    return torch.cat([before, part.detach(), after], dim=1)


def optimise_latent(
    render: Render,
    targets: torch.Tensor,
    z0: torch.Tensor,
    red_nz: int,
    optimise: str,
    steps: int,
    lr: float,
    max_iter: int,
) -> torch.Tensor:
    """One trial from ``z0``: ``joint`` fits all of ``z`` to both channels; ``separable`` fits the
    red noise ``z[:, :red_nz]`` to the red channel, then the green noise to the green channel."""
    if optimise == Optimise.joint.value:
        return fit_latent(render, targets, z0, steps, lr, max_iter)
    if optimise != Optimise.separable.value:
        raise ConfigError(f"optimise={optimise!r} is not one of {[o.value for o in Optimise]}")
    if not 0 < red_nz < z0.shape[1]:
        raise ConfigError(
            f"optimise=separable needs a green-on-red generator (red noise 0 < red_nz < nz); got red_nz={red_nz}"
        )
    red = slice(0, red_nz)
    z = fit_latent(render, targets, z0, steps, lr, max_iter, dims=red, channels=slice(0, 1))
    return fit_latent(render, targets, z, steps, lr, max_iter, dims=slice(red_nz, None), channels=slice(1, 2))


def reconstruct_batch(
    render: Render,
    targets: torch.Tensor,
    nz: int,
    red_nz: int = 0,
    optimise: str = "joint",
    trials: int = 5,
    steps: int = 50,
    lr: float = 0.05,
    max_iter: int = 20,
    rng: torch.Generator | None = None,
    on_trial: Callable[[int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """Reconstruct a batch of images ``targets`` (``(B, 2, H, W)`` in [-1, 1]) with ``render``.

    Each of ``trials`` restarts draws ``z0 ~ N(0, I)`` of shape ``(B, nz)`` from ``rng`` (on
    ``rng``'s device, then moved to the targets' device) and optimises it
    (:func:`optimise_latent`); per image the trial with the smallest :func:`image_l2` wins
    (the first on ties; a non-finite error never wins over a finite one).  ``on_trial(t)``
    is called after each trial (progress bars).

    Returns, per image (first dimension ``B``): ``z``, ``z_init`` (of the winning trial),
    ``l2``, ``l2_init``, ``nll``, ``nll_init`` (float64), ``trial`` (int64),
    ``reconstruction`` and ``initial`` (rendered images, [-1, 1]); and ``l2_trials``
    (``(trials, B)``, every trial's error).
    """
    if trials < 1:
        raise ConfigError(f"trials must be >= 1, got {trials}")
    device = targets.device
    batch = targets.shape[0]
    best: dict[str, torch.Tensor] = {}
    all_l2 = []
    for trial in range(trials):
        draw_device = rng.device if rng is not None else torch.device("cpu")
        z0 = torch.randn(batch, nz, generator=rng, device=draw_device).to(device)
        z = optimise_latent(render, targets, z0, red_nz, optimise, steps, lr, max_iter)
        with torch.no_grad():
            found = render(z).detach()
            initial = render(z0).detach()
        l2 = image_l2(found, targets)
        all_l2.append(l2)
        current = {
            "z": z,
            "z_init": z0,
            "l2": l2,
            "l2_init": image_l2(initial, targets),
            "trial": torch.full((batch,), trial, dtype=torch.int64, device=device),
            "reconstruction": found,
            "initial": initial,
        }
        if not best:
            best = current
        else:
            score = torch.nan_to_num(l2, nan=math.inf)
            better = score < torch.nan_to_num(best["l2"], nan=math.inf)
            if not torch.isfinite(best["l2"]).all():  # a finite error beats a non-finite one
                better |= torch.isfinite(l2) & ~torch.isfinite(best["l2"])
            for key, value in current.items():
                mask = better.view(-1, *([1] * (value.dim() - 1)))
                best[key] = torch.where(mask, value, best[key])
        if on_trial is not None:
            on_trial(trial)
    best["nll"] = gaussian_nll(best["z"])
    best["nll_init"] = gaussian_nll(best["z_init"])
    best["l2_trials"] = torch.stack(all_l2)
    return best


# --------------------------------------------------------------------------- neighbours


def nearest_neighbours(
    targets: torch.Tensor, pool: torch.Tensor, chunk: int = 512, exclude: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each target, the index of the closest pool image and its L2 ``sqrt(mean((a - b)^2))`` in [0, 1].

    ``targets`` ``(B, ...)`` and ``pool`` ``(N, ...)`` are 8-bit images of one shape; the
    search is exact, ties go to the first pool image, and runs ``chunk`` images at a time
    on the targets' device (:func:`biogans.core.data.neighbours.nearest`).  ``exclude``
    (``(B,)`` pool indices, -1 for none) keeps an image from matching itself when
    reconstructing the training set.
    """
    if pool.shape[0] == 0:
        raise ValueError("nearest_neighbours needs a non-empty pool")
    ids = torch.arange(pool.shape[0], device=targets.device) if exclude is not None else None
    index, d2 = nearest(targets, pool, 1, chunk, query_ids=exclude, pool_ids=ids)
    numel = targets[0].numel()
    return index[:, 0], (d2[:, 0].double() / numel).sqrt() / 255.0


# --------------------------------------------------------------------------- panels, summaries


def panel_grid(
    targets: torch.Tensor, reconstructions: torch.Tensor, initial: torch.Tensor, neighbours: torch.Tensor
) -> torch.Tensor:
    """Rows ``[target | reconstruction | initial reconstruction | nearest neighbour]`` as one RGB grid.

    Inputs ``(R, 2, H, W)`` in [-1, 1]; returns ``(3, H', W')`` in [0, 1] (red in R, green in G).
    """
    rows = torch.stack([targets, reconstructions, initial, neighbours], dim=1).flatten(0, 1)
    return make_grid(to_rgb(rows.cpu()), nrow=4, padding=PANEL_PADDING, pad_value=1.0)


def summarise(images: Sequence[ImageReconstruction]) -> ReconstructionSummary:
    """Median +- MAD of ``l2`` and ``nll``, medians of ``nll_init`` and ``neighbour_l2``.

    Non-finite values (a diverged trial that no restart rescued) are left out of the
    statistics; a statistic with no value left is ``None``.
    """

    def finite(key: str) -> list[float]:
        values = (getattr(im, key) for im in images)
        return [float(v) for v in values if v is not None and math.isfinite(float(v))]

    out: dict[str, Any] = {}
    for key in ("l2", "nll"):
        values = finite(key)
        out[f"{key}_median"], out[f"{key}_mad"] = median_mad(values) if values else (None, None)
    for key in ("nll_init", "neighbour_l2"):
        values = finite(key)
        out[f"{key}_median"] = median_mad(values)[0] if values else None
    return ReconstructionSummary(n=len(images), **out)


def summary_line(result: ReconstructionRecord, run_dir: str | Path | None = None) -> str:
    """The one line the entry point prints, e.g. ``star joint: L2 0.081 +- 0.012 over 384 images (6 classes)``
    (then ``-> RUN_DIR``, given ``run_dir``)."""
    overall, generator = result.overall, result.generator
    assert overall is not None and generator is not None

    def fmt(value: float | None) -> str:
        return "nan" if value is None else f"{value:.3f}"

    return (
        f"biogans.reconstruct: {generator.model} {result.optimise}: "
        f"L2 {fmt(overall.l2_median)} +- {fmt(overall.l2_mad)} over {overall.n} images "
        f"({len(result.classes)} classes)" + (f" -> {run_dir}" if run_dir is not None else "")
    )


def batch_seed(seed: int, class_name: str, batch_index: int) -> int:
    """A seed per (seed, class, batch): stable across runs, platforms and class subsets."""
    digest = hashlib.sha256(f"{int(seed)}/{class_name}/{int(batch_index)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- wiring


@dataclass
class Plan:
    """Everything a run needs, loaded and checked before any optimisation starts."""

    generator: nn.Module
    view: nn.Module
    spec: dict[str, Any]
    info: dict[str, Any]
    device: torch.device
    optimise: str
    which: str
    data: LinFolder
    train: LinFolder
    classes: list[str]
    #: per class: the tower to render (None: a joint generator), the target and pool indices
    towers: dict[str, int | None] = field(default_factory=dict)
    targets: dict[str, torch.Tensor] = field(default_factory=dict)
    pools: dict[str, torch.Tensor] = field(default_factory=dict)


def plan_reconstruction(cfg: ReconstructConfig) -> Plan:
    """Load the generator and both sets, pick the images, and check that it all fits.

    Every user error (no generator, not a generator, separable on a model without red
    noise, unknown class, generator and data disagreeing, no test folder) is raised here
    as a :class:`ConfigError`/``DataError``/``CheckpointError`` naming the value; the settings
    themselves were checked at start-up (:func:`biogans.config.check_config`).
    """
    device = resolve_device(cfg.device)
    path = Path(str(cfg.generator)).expanduser().absolute()
    model = cfg.model.name if cfg.model is not None else None
    generator = load_generator(path, model=model, device=device)
    generator.requires_grad_(False)  # gradients flow to z only
    spec = dict(generator.spec)
    view = class_view(generator)
    optimise = str(as_plain(cfg.optimise))
    red_nz = int(getattr(view, "red_nz", 0))
    if optimise == Optimise.separable.value and not (spec.get("separable") and 0 < red_nz < int(view.nz)):
        raise ConfigError(
            f"optimise=separable needs a green-on-red generator, but {path} holds a {spec.get('name')!r} "
            f"(kind {spec.get('kind')}, separable={spec.get('separable')}) generator; use optimise=joint"
        )
    check_image_size(spec, cfg.dataset, str(path))
    which = str(as_plain(cfg.set))
    data = read_set(cfg.dataset, which)
    conditional = is_class_conditional(spec)
    if conditional:
        check_generator_classes(spec, data.class_names, str(path))
    known = list(spec["class_names"])
    classes = [str(c) for c in cfg.classes] if cfg.classes is not None else known
    for name in classes:
        if name not in known:
            raise ConfigError(f"class {name!r} is not one the generator {path} knows (its classes: {known})")
        if name not in data.class_names:
            raise ConfigError(
                f"class {name!r} is not in the {which} set at {data.root} (it has {data.class_names}); "
                "check dataset.classes"
            )
    train = data if which == "train" else read_set(cfg.dataset, "train", classes)
    limit = int(cfg.max_images_per_class) if cfg.max_images_per_class is not None else None
    plan = Plan(generator, view, spec, generator_info(path, generator), device, optimise, which, data, train, classes)
    for name in classes:
        plan.towers[name] = known.index(name) if conditional else None
        plan.targets[name] = data.indices_of(name)[:limit]
        plan.pools[name] = train.indices_of(name)
    return plan


def _renderer(view: nn.Module, tower: int | None) -> Render:
    if tower is None:
        return view
    return lambda z: view(z, tower=tower)


def run(cfg: ReconstructConfig, run_dir: Path) -> ReconstructionRecord:
    """The task (``python -m biogans.reconstruct``): panels into ``run_dir``, the ``reconstruction.json`` record
    returned (the task contract, :func:`biogans.tasks.contract.run_task`, writes it)."""
    return run_reconstruction(cfg, run_dir)


def run_reconstruction(cfg: ReconstructConfig, out_dir: str | Path) -> ReconstructionRecord:
    """Reconstruct the images ``cfg`` selects; write the panels into ``out_dir``.

    Returns the ``reconstruction.json`` record (the task contract writes it).  ``cfg`` is a
    composed :class:`biogans.config.ReconstructConfig`.
    """
    started = time.time()
    plan = plan_reconstruction(cfg)
    out_dir = Path(out_dir)
    batch_size, trials = int(cfg.batch_size), int(cfg.trials)
    steps, lr, max_iter = int(cfg.steps), float(cfg.lr), int(cfg.max_iter)
    n_panels, seed = int(cfg.panels), int(cfg.seed)
    view, device = plan.view, plan.device
    nz, red_nz = int(view.nz), int(getattr(view, "red_nz", 0))
    n_images = sum(len(t) for t in plan.targets.values())
    total = sum(math.ceil(len(plan.targets[c]) / batch_size) for c in plan.classes) * trials
    log.info(
        "reconstructing %d %s images of %d classes (%s) with %s generator %s (%s), optimise=%s: "
        "%d trials x %d L-BFGS steps (lr %g, max_iter %d), batches of %d, on %s",
        n_images,
        plan.which,
        len(plan.classes),
        ", ".join(plan.classes),
        plan.spec.get("name"),
        plan.info["path"],
        plan.spec.get("kind"),
        plan.optimise,
        trials,
        steps,
        lr,
        max_iter,
        batch_size,
        device,
    )
    records: list[ImageReconstruction] = []
    per_class: dict[str, ReconstructionSummary] = {}
    panels: dict[str, str] = {}
    with (
        logging_redirect_tqdm(),
        tqdm(total=total, desc=f"reconstruct {plan.spec.get('name')}", unit="trial", disable=not cfg.progress) as bar,
    ):
        for name in plan.classes:
            render = _renderer(view, plan.towers[name])
            index = plan.targets[name]
            pool = plan.train.images[plan.pools[name]].to(device)
            class_records: list[ImageReconstruction] = []
            shown: dict[str, list[torch.Tensor]] = {"target": [], "reconstruction": [], "initial": [], "nn": []}
            for b, start in enumerate(range(0, len(index), batch_size)):
                bar.set_postfix({"class": name, "batch": b})
                chunk = index[start : start + batch_size]
                raw = plan.data.images[chunk].to(device)
                targets = normalise(raw)
                rng = torch.Generator().manual_seed(batch_seed(seed, name, b))
                result = reconstruct_batch(
                    render, targets, nz, red_nz, plan.optimise, trials, steps, lr, max_iter, rng,
                    on_trial=lambda _t: bar.update(1),
                )  # fmt: skip
                exclude = None
                if plan.which == "train":  # the pool is this class of the same folder: skip the image itself
                    exclude = torch.arange(start, start + len(chunk), device=device)
                nn_index, nn_l2 = nearest_neighbours(raw, pool, exclude=exclude)
                for k, i in enumerate(chunk.tolist()):
                    class_records.append(
                        ImageReconstruction(
                            class_=name,
                            file=plan.data.files[i],
                            l2=_json_float(result["l2"][k]),
                            l2_init=_json_float(result["l2_init"][k]),
                            nll=_json_float(result["nll"][k]),
                            nll_init=_json_float(result["nll_init"][k]),
                            trial=int(result["trial"][k]),
                            neighbour=plan.train.files[int(plan.pools[name][int(nn_index[k])])],
                            neighbour_l2=_json_float(nn_l2[k]),
                        )
                    )
                room = n_panels - sum(len(t) for t in shown["target"])
                if room > 0:
                    shown["target"].append(targets[:room].cpu())
                    shown["reconstruction"].append(result["reconstruction"][:room].cpu())
                    shown["initial"].append(result["initial"][:room].cpu())
                    shown["nn"].append(normalise(pool[nn_index[:room]]).cpu())
            if shown["target"]:
                rel = f"panels/{name}.png"
                parts = [torch.cat(shown[key]) for key in ("target", "reconstruction", "initial", "nn")]
                write_png(panel_grid(*parts), out_dir / rel)
                panels[name] = rel
            per_class[name] = summarise(class_records)
            records.extend(class_records)
            s = per_class[name]
            log.info(
                "%s: %d images, L2 %s +- %s, NLL %s +- %s (initial %s), nearest training image L2 %s",
                name,
                s.n,
                *map(_fmt, (s.l2_median, s.l2_mad, s.nll_median, s.nll_mad, s.nll_init_median)),
                _fmt(s.neighbour_l2_median),
            )
    limit = cfg.max_images_per_class
    return ReconstructionRecord(
        status="done",
        generator=GeneratorInfo(**plan.info),
        optimise=plan.optimise,
        set=plan.which,
        trials=trials,
        steps=steps,
        lr=lr,
        max_iter=max_iter,
        seed=seed,
        device=str(device),
        batch_size=batch_size,
        max_images_per_class=int(limit) if limit is not None else None,
        dataset={"name": str(cfg.dataset.name), "set_root": str(plan.data.root), "train_root": str(plan.train.root)},
        classes=list(plan.classes),
        images=records,
        per_class=per_class,
        overall=summarise(records),
        panels=panels,
        elapsed_s=round(time.time() - started, 3),
    )


def _fmt(value: float | None) -> str:
    return "nan" if value is None else f"{value:.4g}"
