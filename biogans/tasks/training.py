"""Adversarial training of one model: the loop, checkpoints, samples, metrics, resume.

A run directory is the unit of record::

    DIR/checkpoints/last.pt        resumable state (G, D, both optimizers, RNG, sampler, iteration)
    DIR/checkpoints/iter_<N>.pt    snapshots on the paper's schedule (``train.checkpoint_at``) and at the end
    DIR/samples/iter_<N>.png       fixed-noise sample grids (red in R, green in G)
    DIR/tb/                        TensorBoard scalars and image grids
    DIR/metrics.json               {"status": "running"|"done"|"failed"|"interrupted", "iteration": N, ...}

Running again on the same directory continues from ``last.pt``.  SIGTERM, SIGUSR1 and SIGUSR2
make the run write ``last.pt`` at the end of the current iteration and exit cleanly (or
hand the signal on to a handler installed before, such as submitit's requeue).
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from biogans.config import ModelKind, TrainConfig, as_plain
from biogans.core.checkpoint import load_checkpoint, require_biogans_checkpoint, save_checkpoint
from biogans.core.data.batches import Batches
from biogans.core.data.splits import folder_fingerprint
from biogans.core.errors import CheckpointError, ConfigError, TrainingError
from biogans.core.losses import AdversarialLoss, critic_step
from biogans.core.models import build_critic, build_generator, make_spec
from biogans.core.records import TrainRecord, write_record
from biogans.core.samples import fixed_noise, sample_sheet, write_png
from biogans.tasks.common import loss_from, optimizer_from, read_set

log = logging.getLogger(__name__)

#: SIGUSR2 is what SLURM sends (through submitit's --signal) before a time limit or a preemption
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else CPU; an explicit CUDA device must exist on this machine.

    The spelling (auto, cpu, cuda, cuda:N) was checked at start-up (biogans.config); what
    this machine has is checked here.  On CUDA, cuDNN then picks its convolution algorithms by
    timing them for each shape (``torch.backends.cudnn.benchmark``; every tool runs fixed
    shapes): measured on an H200, 1.2-1.6x faster on the conditional and multi-channel models
    and needed for grouped towers to beat the loop there (BENCHMARKS.md).
    """
    name = str(name)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device={name} was asked for but this machine has no usable CUDA GPU; use device=auto or cpu"
        )
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(
            f"device={name} was asked for but this machine has {torch.cuda.device_count()} CUDA device(s) "
            f"(cuda:0..cuda:{torch.cuda.device_count() - 1})"
        )
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return device


@dataclass
class TrainData:
    """The training view of a data set: batches plus what the model spec needs."""

    batches: Batches
    class_names: list[str]
    fingerprint: str


def make_train_data(cfg: TrainConfig, device: torch.device, rng: torch.Generator) -> TrainData:
    """Read the training folder onto ``device`` and build the view the model kind needs."""
    folder = read_set(cfg.dataset, "train")
    kind = as_plain(cfg.model.kind)
    if kind != ModelKind.joint.value and len(folder.class_names) < 2:
        raise ConfigError(
            f"model={cfg.model.name} renders one image per class and needs at least 2 classes, but "
            f"{folder.root} gives {folder.class_names}; use model=dcgan or sep, or more dataset.classes"
        )
    images = folder.images.to(device)
    batch_size = int(cfg.train.batch_size)
    if kind == ModelKind.joint.value:
        pools = [torch.arange(len(folder.files))]
        names = [f"the training set ({', '.join(folder.class_names)})"]
        batches = Batches(images, pools, batch_size, rng, stacked=False, pool_names=names)
    elif kind in (ModelKind.star.value, ModelKind.independent.value):
        pools = [folder.indices_of(name) for name in folder.class_names]
        names = [f"class {name!r} ({folder.root / name})" for name in folder.class_names]
        batches = Batches(images, pools, batch_size, rng, stacked=True, pool_names=names)
    else:
        from biogans.core.data.multichannel import multichannel_batches

        batches = multichannel_batches(
            folder, images, rng, batch_size=cfg.train.batch_size, cache_dir=cfg.dataset.cache_dir
        )
    return TrainData(batches, list(folder.class_names), folder_fingerprint(folder.class_names, folder.files))


def train_iteration(
    generator: torch.nn.Module,
    critic: torch.nn.Module,
    loss: AdversarialLoss,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    batches: Any,
    batch_size: int,
    iteration: int,
    rng: torch.Generator | None,
) -> tuple[dict[str, torch.Tensor], int]:
    """Training iteration ``iteration`` (0-based) of PAPER.md: ``loss.critic_steps(iteration)``
    critic steps, then one generator step on the last critic step's fake batch.

    Each critic step takes a fresh real batch (``batches.next()``) and a fresh fake batch of
    ``batch_size``; only the last fake batch is drawn with gradients, because only it feeds
    the generator step.  ``rng`` (on the generator's device, or None) draws the latent
    vectors and the gradient penalty's mixing.  The trainer runs this, and so does
    ``python -m biogans.bench``, so the benchmark times exactly the training code.
    Returns the values to log (tensors on the device; no host sync) and the critic steps made.
    """
    steps = loss.critic_steps(iteration)
    device = next(generator.parameters()).device
    fake = stats = None
    for step in range(steps):
        real = batches.next()
        z = torch.randn(batch_size, generator.nz, generator=rng, device=device)
        with torch.set_grad_enabled(step == steps - 1):
            fake = generator(z)
        stats = critic_step(critic, opt_d, loss, real, fake, rng)
    assert fake is not None and stats is not None
    critic.requires_grad_(False)
    opt_g.zero_grad(set_to_none=True)
    g_loss = loss.generator_loss(critic(fake))
    g_loss.mean().backward()
    opt_g.step()
    critic.requires_grad_(True)
    out = {"loss_critic": stats.loss.mean(), "loss_generator": g_loss.detach().mean()}
    if stats.gradient_penalty is not None:
        out["gradient_penalty"] = stats.gradient_penalty.mean()
    if stats.wasserstein is not None:
        out["wasserstein"] = stats.wasserstein.mean()
    return out, steps


class Trainer:
    """Builds everything a run needs from a composed ``TrainConfig`` and runs the loop."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.sample_dir = self.run_dir / "samples"
        self.total = int(cfg.train.iterations)  # train.* were checked at start-up (biogans.config)
        self.device = resolve_device(cfg.device)
        self.seed = int(cfg.seed)
        torch.manual_seed(self.seed)
        self.rng = torch.Generator(self.device).manual_seed(self.seed)
        self.data = make_train_data(cfg, self.device, self.rng)
        self.spec = make_spec(
            as_plain(cfg.model), self.data.class_names, list(cfg.dataset.image_size), bool(cfg.loss.critic_batchnorm)
        )
        self.generator = build_generator(self.spec).to(self.device)
        self.critic = build_critic(self.spec).to(self.device)
        self.loss = loss_from(cfg.loss)
        self.opt_g = optimizer_from(cfg.optimizer, self.generator.parameters())
        self.opt_d = optimizer_from(cfg.optimizer, self.critic.parameters())
        self.z_fixed = fixed_noise(int(cfg.train.n_samples), self.generator.nz, self.generator.red_nz, self.seed).to(
            self.device
        )
        self.iteration = 0
        self.last_saved = 0
        self.snapshots: list[str] = []
        self.latest: dict[str, float] = {}
        self.watch = LossWatch()
        self.critic_steps = 0
        self.started = time.time()
        self._signal: int | None = None
        self._previous_handlers: dict[int, Any] = {}
        self.writer: Any = None
        self.rate: float | None = None
        self.checkpoint_at = {int(i) for i in cfg.train.checkpoint_at}

    # ----------------------------------------------------------------------------- state
    def state(self, full: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "iteration": self.iteration,
            "config": self.spec,
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "loss": as_plain(self.cfg.loss.name),
        }
        if full:
            payload.update(
                optimizer_generator=self.opt_g.state_dict(),
                optimizer_critic=self.opt_d.state_dict(),
                rng=self.rng.get_state(),
                cpu_rng=torch.get_rng_state(),
                batches=self.data.batches.state_dict(),
                data_fingerprint=self.data.fingerprint,
                snapshots=list(self.snapshots),
                run_config=as_plain(self.cfg),
            )
        return payload

    def resume_if_possible(self) -> bool:
        """Continue from ``checkpoints/last.pt`` if the run directory has one."""
        path = self.ckpt_dir / "last.pt"
        if not path.exists():
            stray = sorted(self.ckpt_dir.glob("iter_*.pt")) if self.ckpt_dir.exists() else []
            if stray:
                raise CheckpointError(
                    f"{self.ckpt_dir} has snapshots ({stray[-1].name} ...) but no last.pt to resume from; "
                    "use a fresh hydra.run.dir rather than overwrite them"
                )
            return False
        data = load_checkpoint(path, map_location=self.device)
        require_biogans_checkpoint(data, path)
        if "optimizer_critic" not in data:
            raise CheckpointError(f"{path} has no training state (optimizers, RNG); it cannot be resumed")
        if data.get("loss") != as_plain(self.cfg.loss.name):
            raise ConfigError(
                f"{self.run_dir} was trained with loss={data.get('loss')}, now loss={as_plain(self.cfg.loss.name)}; "
                "give a fresh hydra.run.dir"
            )
        if data["config"] != self.spec:
            diff = sorted(k for k in set(data["config"]) | set(self.spec) if data["config"].get(k) != self.spec.get(k))
            detail = "; ".join(f"{k}: {data['config'].get(k)!r} then, {self.spec.get(k)!r} now" for k in diff)
            raise ConfigError(
                f"{self.run_dir} holds a run of another model ({detail}); "
                "give a fresh hydra.run.dir or the overrides of that run"
            )
        if data.get("data_fingerprint") != self.data.fingerprint:
            raise ConfigError(
                f"the training images differ from those of the run in {self.run_dir} "
                "(another dataset.root, class list or changed files); give a fresh hydra.run.dir"
            )
        self.generator.load_state_dict(data["generator"])
        self.critic.load_state_dict(data["critic"])
        self.opt_g.load_state_dict(data["optimizer_generator"])
        self.opt_d.load_state_dict(data["optimizer_critic"])
        self.rng.set_state(data["rng"].cpu())
        torch.set_rng_state(data["cpu_rng"].cpu())
        self.data.batches.load_state_dict(data["batches"])
        self.iteration = self.last_saved = int(data["iteration"])
        self.snapshots = list(data.get("snapshots", []))
        log.info("resuming %s from iteration %d (%s)", self.run_dir, self.iteration, path)
        return True

    def save(self) -> None:
        """Write last.pt (and a snapshot if this iteration is on the schedule)."""
        it = self.iteration
        for name, net in (("generator", self.generator), ("critic", self.critic)):
            if not all(torch.isfinite(p).all() for p in net.parameters()):
                raise TrainingError(
                    f"the {name} weights are not finite at iteration {it}; not overwriting the last good "
                    f"checkpoint {self.ckpt_dir / 'last.pt'} (iteration {self.last_saved})"
                )
        if it in self.checkpoint_at or it == self.total:
            name = f"iter_{it:07d}.pt"
            save_checkpoint(self.ckpt_dir / name, self.state(full=False))
            if name not in self.snapshots:
                self.snapshots.append(name)
        save_checkpoint(self.ckpt_dir / "last.pt", self.state(full=True))
        self.last_saved = it

    def write_metrics(self, status: str, error: str | None = None, rate: float | None = None) -> TrainRecord:
        """Write (and return) ``metrics.json``, the run's record, with its progress so far."""
        remaining = self.total - self.iteration
        record = TrainRecord(
            status=status,
            config=as_plain(self.cfg),
            error=error,
            iteration=self.iteration,
            iterations=self.total,
            model=self.spec["name"],
            loss=as_plain(self.cfg.loss.name),
            dataset=str(self.cfg.dataset.name),
            classes=list(self.spec["class_names"]),
            device=str(self.device),
            seed=self.seed,
            it_per_s=rate,
            eta_s=(remaining / rate) if rate else None,
            elapsed_s=round(time.time() - self.started, 3),
            last=dict(self.latest),
            checkpoint="checkpoints/last.pt" if self.last_saved else None,
            checkpoint_iteration=self.last_saved,
            snapshots=[f"checkpoints/{s}" for s in self.snapshots],
        )
        write_record(self.run_dir, record)
        return record

    # ------------------------------------------------------------------------ signals
    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signal = signum

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in STOP_SIGNALS:
            self._previous_handlers[sig] = signal.signal(sig, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        self._previous_handlers.clear()

    def _handle_stop_signal(self) -> bool:
        """Checkpoint after a SIGTERM/SIGUSR1/SIGUSR2; True if the run should stop now."""
        signum, self._signal = self._signal, None
        assert signum is not None
        name = signal.Signals(signum).name
        self.save()
        log.warning("%s received: wrote %s at iteration %d", name, self.ckpt_dir / "last.pt", self.iteration)
        previous = self._previous_handlers.get(signum)
        if callable(previous):
            # someone (e.g. submitit) wanted this signal before us: let it act (it may requeue and exit)
            previous(signum, None)
            return False
        return True

    # --------------------------------------------------------------------------- loop
    def samples(self) -> None:
        self.generator.eval()
        with torch.no_grad():
            images = self.generator(self.z_fixed)
        self.generator.train()
        if images.dim() == 4 and images.shape[1] != 2:
            from biogans.core.models.views import star_view

            images = star_view(images)
        grid = sample_sheet(images)
        write_png(grid, self.sample_dir / f"iter_{self.iteration:07d}.png")
        if self.writer is not None:
            self.writer.add_image("samples", grid, self.iteration)

    def train_iteration(self) -> dict[str, torch.Tensor]:
        """k critic steps, then one generator step on the last critic step's fake batch."""
        out, self.critic_steps = train_iteration(
            self.generator,
            self.critic,
            self.loss,
            self.opt_g,
            self.opt_d,
            self.data.batches,
            int(self.cfg.train.batch_size),
            self.iteration,
            self.rng,
        )
        return out

    def run(self) -> TrainRecord:
        """Train to ``train.iterations``; returns the final ``metrics.json`` record."""
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir.mkdir(parents=True, exist_ok=True)
        resumed = self.resume_if_possible()
        if self.iteration >= self.total:
            log.info("%s is already at iteration %d of %d: nothing to do", self.run_dir, self.iteration, self.total)
            return self.write_metrics("done")
        self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=self.iteration if resumed else None)
        log.info(
            "training %s with %s on %s (%s), %d classes, iterations %d..%d, run dir %s",
            self.spec["name"],
            as_plain(self.cfg.loss.name),
            self.cfg.dataset.name,
            self.device,
            len(self.data.class_names),
            self.iteration,
            self.total,
            self.run_dir,
        )
        self.write_metrics("running")
        self._install_signal_handlers()
        status, error = "failed", None
        try:
            status = self._loop()
        except TrainingError as exc:
            error = str(exc)
            raise
        except (KeyboardInterrupt, SystemExit) as exc:
            # Ctrl-C, or submitit's requeue (it exits after a stop signal handed on to it)
            status, error = "interrupted", type(exc).__name__
            raise
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._restore_signal_handlers()
            self.writer.close()
            record = self.write_metrics(status, error=error, rate=self.rate)
        log.info("%s at iteration %d; run dir %s", status, self.iteration, self.run_dir)
        return record

    def _loop(self) -> str:
        """Iterate until done or stopped by a signal; returns the final status."""
        cfg = self.cfg.train
        desc = f"train {self.spec['name']}/{as_plain(self.cfg.loss.name)}"
        window_start, window_iters = time.time(), 0
        with (
            logging_redirect_tqdm(),
            tqdm(
                total=self.total,
                initial=self.iteration,
                desc=desc,
                unit="it",
                dynamic_ncols=True,
                disable=not cfg.progress,
                smoothing=0.1,
            ) as bar,
        ):
            while self.iteration < self.total:
                values = self.train_iteration()
                self.iteration += 1
                self.watch.update(values, self.iteration)
                window_iters += 1
                bar.update(1)
                it = self.iteration
                log_now = it % int(cfg.log_every) == 0 or it == self.total
                sample_now = it % int(cfg.sample_every) == 0 or it == self.total
                save_now = it % int(cfg.checkpoint_every) == 0 or it in self.checkpoint_at or it == self.total
                if not (log_now or sample_now or save_now or self._signal is not None):
                    continue  # no host sync: the loss values stay on the device
                scalars = self.read_losses()
                if log_now:
                    now = time.time()
                    self.rate = window_iters / max(now - window_start, 1e-9)
                    window_start, window_iters = now, 0
                    self.log_scalars(scalars)
                    bar.set_postfix({"D": f"{scalars['loss_critic']:.3f}", "G": f"{scalars['loss_generator']:.3f}"})
                if sample_now:
                    self.samples()
                if save_now:
                    self.save()
                if it % int(cfg.log_every) == 0:
                    self.write_metrics("running", rate=self.rate)
                if self._signal is not None and self._handle_stop_signal():
                    return "interrupted"
        return "done"

    def read_losses(self) -> dict[str, float]:
        """The latest loss values on the host (one device sync); stops the run if any went non-finite.

        Called only where the loop needs the values anyway (logging, samples, checkpoints, a
        stop signal), so that a GPU is never made to wait for the host every iteration.  A
        value that turned NaN or infinite since the last read is still caught, with the
        iteration where it first happened, before any checkpoint is written.
        """
        scalars, bad = self.watch.read()
        if bad is not None:
            key, iteration, value = bad
            raise TrainingError(
                f"{key} became {value} at iteration {iteration}; stopped. "
                f"The last good checkpoint is {self.ckpt_dir / 'last.pt'} (iteration {self.last_saved}). "
                "Try a lower optimizer.lr or another loss."
            )
        scalars["critic_steps"] = float(self.critic_steps)
        self.latest = scalars
        return scalars

    def log_scalars(self, scalars: dict[str, float]) -> None:
        """TensorBoard scalars and one log line (iteration, losses, it/s, ETA)."""
        it = self.iteration
        for k, v in scalars.items():
            self.writer.add_scalar(f"train/{k}", v, it)
        self.writer.add_scalar("train/it_per_s", self.rate, it)
        eta = (self.total - it) / self.rate if self.rate else float("nan")
        losses = "  ".join(f"{k} {v:.4f}" for k, v in scalars.items() if k != "critic_steps")
        log.info("iter %d/%d  %s  %.2f it/s  ETA %s", it, self.total, losses, self.rate, _format_seconds(eta))


def run(cfg: TrainConfig, run_dir: Path) -> TrainRecord:
    """The task (``python -m biogans.train``): train into ``run_dir``, resuming from its ``checkpoints/last.pt``."""
    return Trainer(cfg, run_dir).run()


def summary_line(record: TrainRecord, run_dir: str | Path) -> str:
    """The one line the entry point prints when training ends."""
    return (
        f"biogans.train: {record.model} {record.loss} {record.status} at iteration {record.iteration} "
        f"of {record.iterations} -> {run_dir}"
    )


class LossWatch:
    """The loop's loss values, kept on the device between host reads.

    Every iteration's values are stacked into one device tensor, and the first iteration
    (and value) at which each went non-finite is tracked on the device as well, so nothing
    is read back until :meth:`read`, where one transfer brings everything to the host.
    """

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.last: torch.Tensor | None = None
        self.first_bad_at: torch.Tensor | None = None
        self.first_bad_value: torch.Tensor | None = None

    def update(self, values: dict[str, torch.Tensor], iteration: int) -> None:
        if not self.keys:
            self.keys = list(values)
        stacked = torch.stack([values[k].detach().reshape(()).float() for k in self.keys])
        if self.first_bad_at is None or self.first_bad_value is None:
            self.first_bad_at = torch.zeros_like(stacked)
            self.first_bad_value = torch.zeros_like(stacked)
        new = ~torch.isfinite(stacked) & (self.first_bad_at == 0)
        self.first_bad_at = torch.where(new, float(iteration), self.first_bad_at)
        self.first_bad_value = torch.where(new, stacked, self.first_bad_value)
        self.last = stacked

    def read(self) -> tuple[dict[str, float], tuple[str, int, float] | None]:
        """The latest values, and (key, iteration, value) of the earliest non-finite one, if any."""
        assert self.last is not None and self.first_bad_at is not None and self.first_bad_value is not None
        last, at, value = torch.stack([self.last, self.first_bad_at, self.first_bad_value]).tolist()
        scalars = dict(zip(self.keys, last))
        bad = [(int(a), k, v) for k, a, v in zip(self.keys, at, value) if a > 0]
        if not bad:
            return scalars, None
        iteration, key, first = min(bad, key=lambda item: item[0])
        return scalars, (key, iteration, first)


def _format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:d}:{m:02d}:{s:02d}"
