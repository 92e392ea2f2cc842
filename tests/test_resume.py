"""Resume: SIGKILL then rerun equals an uninterrupted run; SIGTERM/SIGUSR1 checkpoint and exit; NaN stops.

The signals go to a real ``python -m biogans.train`` process; every other run is in-process.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from conftest import TINY, read_metrics, run_in_process, start_module, typed

from biogans.core.checkpoint import load_checkpoint
from biogans.core.errors import ConfigError, TrainingError
from biogans.core.files import atomic_write
from biogans.tasks.training import Trainer

ARGS = ["model=sep", "loss=wgangp", *TINY, "train.checkpoint_every=10", "train.checkpoint_at=[]", "seed=5"]


def wait_for(predicate, timeout: float = 120.0, what: str = "condition") -> None:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


#: the SIGKILL test checkpoints every 5 iterations of 30: killed soon after its first checkpoint, the
#: process is far from the end (it would need 25 iterations before the test's next 20 ms poll)
EVERY, TOTAL = 5, 30
KILL_ARGS = [a.replace("checkpoint_every=10", f"checkpoint_every={EVERY}") for a in ARGS]


def kill_at_first_checkpoint(proc: subprocess.Popen, last: Path) -> None:
    wait_for(last.exists, what="the first checkpoint")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


@pytest.mark.slow  # a straight run, a killed process and its resume (about 15 s of CPU)
def test_sigkill_then_resume_ends_with_identical_weights(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="biogans")
    total = TOTAL
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    proc = start_module("train", *KILL_ARGS, f"train.iterations={total}", f"hydra.run.dir={killed}")
    last = killed / "checkpoints" / "last.pt"
    # a thread watches for the process's first checkpoint and kills it, while the straight
    # run trains here (the process and this run use one core each)
    with ThreadPoolExecutor(1) as watcher:
        killing = watcher.submit(kill_at_first_checkpoint, proc, last)
        try:
            run_in_process("train", *KILL_ARGS, f"train.iterations={total}", run_dir=straight)
        finally:
            killing.result()
    assert proc.returncode == -signal.SIGKILL
    interrupted_at = load_checkpoint(last)["iteration"]
    assert EVERY <= interrupted_at < total  # it really was killed mid-run
    assert read_metrics(killed)["status"] == "running"  # SIGKILL leaves no chance to say otherwise

    run_in_process("train", *KILL_ARGS, f"train.iterations={total}", run_dir=killed)
    assert f"from iteration {interrupted_at}" in caplog.text
    a, b = load_checkpoint(straight / "checkpoints" / "last.pt"), load_checkpoint(last)
    assert a["iteration"] == b["iteration"] == total
    assert state_equal(a["generator"], b["generator"])
    assert state_equal(a["critic"], b["critic"])
    assert torch.equal(a["rng"], b["rng"])
    assert read_metrics(killed)["status"] == "done"


STOP_SIGNALS = [signal.SIGTERM, signal.SIGUSR1]


@pytest.fixture(scope="module")
def stop_runs(tmp_path_factory) -> Iterator[dict[signal.Signals, tuple[subprocess.Popen, Path]]]:
    """One training process per stop signal, all started at once (each starts up on a core of its
    own while the other's test runs); whatever is still running at the end is killed."""
    runs = {}
    for sig in STOP_SIGNALS:
        run = tmp_path_factory.mktemp(sig.name) / "run"
        runs[sig] = (start_module("train", *ARGS, "train.iterations=400", f"hydra.run.dir={run}"), run)
    yield runs
    for proc, _ in runs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("sig", STOP_SIGNALS)
def test_stop_signal_writes_a_checkpoint_and_exits_cleanly(stop_runs, sig):
    proc, run = stop_runs[sig]
    wait_for((run / "checkpoints" / "last.pt").exists, what="the first checkpoint")
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    metrics = read_metrics(run)
    assert metrics["status"] == "interrupted"
    stopped_at = metrics["iteration"]
    assert 10 <= stopped_at < 400
    assert load_checkpoint(run / "checkpoints" / "last.pt")["iteration"] == stopped_at  # saved at the stop
    assert sig.name in (run / "train.log").read_text()
    # and the same command carries on from there
    run_in_process("train", *ARGS, f"train.iterations={stopped_at + 3}", run_dir=run)
    assert read_metrics(run)["iteration"] == stopped_at + 3


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    run = tmp_path / "run"
    cfg = typed("train", [*ARGS, "train.iterations=10"])
    Trainer(cfg, run).run()
    good = load_checkpoint(run / "checkpoints" / "last.pt")

    cfg = typed("train", [*ARGS, "train.iterations=20"])
    trainer = Trainer(cfg, run)
    resume = trainer.resume_if_possible

    def resume_then_poison() -> bool:  # a weight turns NaN right after the resume
        resumed = resume()
        with torch.no_grad():
            next(trainer.generator.parameters()).fill_(float("nan"))
        return resumed

    trainer.resume_if_possible = resume_then_poison
    with pytest.raises(TrainingError, match=r"became nan at iteration 11.*iteration 10"):
        trainer.run()
    metrics = read_metrics(run)
    assert metrics["status"] == "failed" and "nan" in metrics["error"]
    kept = load_checkpoint(run / "checkpoints" / "last.pt")
    assert kept["iteration"] == 10
    assert state_equal(kept["generator"], good["generator"])


def test_nan_run_fails_with_a_clear_message(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(TrainingError) as exc:
        run_in_process("train", *ARGS, "train.iterations=30", "optimizer.lr=inf", run_dir=run)
    assert "became nan" in str(exc.value)
    assert read_metrics(run)["status"] == "failed"
    assert not (run / "checkpoints" / "last.pt").exists()  # never a checkpoint of broken weights


def test_resuming_with_another_model_is_refused(tmp_path):
    run = tmp_path / "run"
    run_in_process("train", *ARGS, "train.iterations=2", run_dir=run)
    with pytest.raises(ConfigError) as exc:
        run_in_process("train", *ARGS, "model=dcgan", "train.iterations=4", run_dir=run)
    assert "another config" in str(exc.value) and "model.separable" in str(exc.value)
    with pytest.raises(ConfigError, match="loss=wgangp"):
        Trainer(typed("train", [*ARGS, "loss=gan", "train.iterations=4"]), run).run()


def test_a_finished_run_is_not_trained_again(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="biogans")
    run = tmp_path / "run"
    run_in_process("train", *ARGS, "train.iterations=2", run_dir=run)
    before = (run / "checkpoints" / "last.pt").stat().st_mtime_ns
    proc = run_in_process("train", *ARGS, "train.iterations=2", run_dir=run)
    assert proc.record.status == "done" and proc.record.iteration == 2
    assert "nothing recomputed" in proc.stdout + caplog.text
    assert (run / "checkpoints" / "last.pt").stat().st_mtime_ns == before


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path):
    target = tmp_path / "last.pt"
    atomic_write(target, lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary left behind
