"""The training loop reads loss values back to the host only where it needs them."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import TINY, typed

from biogans.core.errors import TrainingError
from biogans.tasks.training import LossWatch, Trainer

ARGS = ["model=dcgan", "loss=gan", *TINY, "train.checkpoint_at=[]", "train.sample_every=1000"]


def test_losses_are_read_only_at_log_sample_and_checkpoint_iterations(tmp_path, monkeypatch):
    reads: list[int] = []
    trainer = Trainer(
        typed("train", [*ARGS, "train.iterations=12", "train.log_every=4", "train.checkpoint_every=6"]),
        tmp_path / "run",
    )
    original = LossWatch.read

    def counted(self):
        reads.append(trainer.iteration)
        return original(self)

    monkeypatch.setattr(LossWatch, "read", counted)
    trainer.run()
    # log at 4, 8, 12; checkpoint at 6, 12 (12 is also the end): one read per such iteration
    assert reads == [4, 6, 8, 12]
    assert set(trainer.latest) >= {"loss_critic", "loss_generator", "critic_steps"}


def test_loss_watch_reports_the_first_non_finite_value_and_its_iteration():
    watch = LossWatch()
    watch.update({"a": torch.tensor(1.0), "b": torch.tensor(2.0)}, 1)
    assert watch.read() == ({"a": 1.0, "b": 2.0}, None)
    watch.update({"a": torch.tensor(3.0), "b": torch.tensor(math.inf)}, 2)
    watch.update({"a": torch.tensor(math.nan), "b": torch.tensor(math.nan)}, 3)
    scalars, bad = watch.read()
    assert bad == ("b", 2, math.inf)
    assert math.isnan(scalars["a"]) and math.isnan(scalars["b"])


def test_a_nan_between_reads_is_caught_at_the_next_read_with_its_first_iteration(tmp_path):
    """The NaN appears at iteration 3, the first read is at iteration 5: no checkpoint of broken weights."""
    run = tmp_path / "run"
    trainer = Trainer(
        typed("train", [*ARGS, "train.iterations=8", "train.log_every=5", "train.checkpoint_every=5"]), run
    )
    step = trainer.train_iteration

    def poisoned() -> dict[str, torch.Tensor]:
        if trainer.iteration == 2:  # the third iteration
            with torch.no_grad():
                next(trainer.generator.parameters()).fill_(float("nan"))
        return step()

    trainer.train_iteration = poisoned
    with pytest.raises(TrainingError, match=r"became nan at iteration 3\b"):
        trainer.run()
    assert trainer.iteration == 5
    assert not (run / "checkpoints" / "last.pt").exists()
