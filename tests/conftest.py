"""Shared test helpers: a private data cache, tiny settings, ways to run the tools, trained runs.

Tasks run in-process (:func:`run_in_process`: the config composed with Hydra's compose API,
turned into typed values by the entry points' own check gate, run under the task contract),
always on the built-in synthetic data made small, on CPU.  A subprocess
(:func:`run_module`, exactly what a user types) is kept for what needs a process of its
own: the command line's error message, exit status and "no traceback"
(tests/test_cli_errors.py, one per entry point), stop signals and kills (tests/test_resume.py).

Trained generators and prepared splits that several test files use are built once per
session, in-process (:func:`trained_run`, :func:`star_run`, :func:`prepared_splits`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"

#: small data and networks: every test run takes seconds on 2 cores
TINY_DATA = ["dataset.synthetic.n_train=48", "dataset.synthetic.n_test=24"]
TINY = [*TINY_DATA, "model.ngf=16", "model.ndf=16", "train.batch_size=8", "train.progress=false", "device=cpu"]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> None:
    """One torch (OpenMP) thread here and in every process the tests start (``OMP_NUM_THREADS``).

    The networks of the tests are tiny; two threads on this 2-core machine gain little when it
    is idle and crawl as soon as anything else runs (an OpenMP thread spins waiting for its
    descheduled twin): the SIGKILL resume test took 120 s of CPU with two threads under load,
    15 s with one.  A value already in the environment is kept.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory) -> Path:
    """Every test (and every subprocess it starts) uses a cache folder of its own, not ~/.cache."""
    cache = tmp_path_factory.mktemp("biogans-cache")
    os.environ["BIOGANS_CACHE"] = str(cache)
    return cache


def run_module(
    module: str, *overrides: str, timeout: float = 300, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    """``python -m biogans.<module> overrides...`` as a user would run it."""
    proc = subprocess.run(
        [sys.executable, "-m", f"biogans.{module}", *overrides],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(
            f"biogans.{module} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def start_module(module: str, *overrides: str) -> subprocess.Popen:
    """Start an entry point in the background (for signal tests)."""
    return subprocess.Popen(
        [sys.executable, "-m", f"biogans.{module}", *overrides],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def compose(config_name: str, overrides: list[str]):
    """The config an entry point would get, composed in-process (a DictConfig)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import biogans.cli  # noqa: F401 - registers the schemas

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose(config_name, overrides=overrides)


def typed(config_name: str, overrides: list[str]):
    """What a task gets: the composed config as typed dataclasses, through the entry points' check gate."""
    from biogans.cli import typed_config

    return typed_config(compose(config_name, overrides))


@dataclass(frozen=True)
class Ran:
    """What an in-process run gives back: the task's record and the line the command prints."""

    record: Any
    stdout: str


def run_in_process(tool: str, *overrides: str, run_dir: Path) -> Ran:
    """``python -m biogans.<tool> overrides... hydra.run.dir=run_dir``, in this process.

    The same path as the entry point (:func:`biogans.cli.run_tool`) up to its error policy:
    compose, :func:`biogans.cli.typed_config` (schema, typed values, every check), then
    :func:`biogans.tasks.contract.run_task` on ``run_dir``.  A bad input raises here what the
    entry point turns into ``biogans.<tool>: error: ...`` and exit status 1: a
    :class:`biogans.core.errors.BiogansError` (or Hydra's own composition error), so a test
    asserts its type and message; tests/test_cli_errors.py checks that turning, once per tool.
    """
    import importlib

    from biogans.tasks.contract import TASKS, run_task

    record = run_task(tool, typed(tool, list(overrides)), run_dir)
    return Ran(record, importlib.import_module(TASKS[tool]).summary_line(record, run_dir))


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


#: the run of the `trained_run` fixture: DCGAN + GAN, 150 iterations of batch 32 at half width
TRAINED = [*TINY_DATA, "model=dcgan", "loss=gan", "model.ngf=32", "model.ndf=32", "train.batch_size=32"]

#: the run of the `star_run` fixture: a star-shaped conditional generator, barely trained (snapshots at 1 and 2)
STAR = ["model=star", "loss=gan", *TINY, "train.iterations=2", "train.checkpoint_at=[1,2]"]

#: the run of the `dcgan_run` fixture: the default model and loss (DCGAN, WGAN-GP), barely trained
DCGAN = [*TINY, "train.iterations=2", "train.checkpoint_at=[1]"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Tests that need :func:`trained_run` (150 iterations, the longest setup of the suite) are ``slow``.

    ``pytest -m "not slow and not slurm"`` then never trains it; tests that only need *a*
    generator take :func:`dcgan_run` or :func:`star_run` instead.
    """
    for item in items:
        if "trained_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A DCGAN trained for 150 GAN iterations on the tiny synthetic data (about 30 s on 2 cores).

    Its samples already look like cells (see test_train); snapshots at iterations 1 and 150
    give an almost untrained and a trained generator of the same run.
    """
    run = tmp_path_factory.mktemp("trained") / "run"
    run_in_process(
        "train", *TRAINED, "train.iterations=150", "train.checkpoint_at=[1,150]", "train.progress=false",
        "device=cpu", run_dir=run,
    )  # fmt: skip
    return run


@pytest.fixture(scope="session")
def dcgan_run(tmp_path_factory) -> Path:
    """A real DCGAN from the trainer (:data:`DCGAN`: 2 iterations, snapshots at 1 and 2).

    For tests where a generator's numbers do not matter (bad input, reruns); :func:`trained_run`
    is the one that has learned something.
    """
    run = tmp_path_factory.mktemp("dcgan") / "run"
    run_in_process("train", *DCGAN, run_dir=run)
    return run


@pytest.fixture(scope="session")
def star_run(tmp_path_factory) -> Path:
    """A real star-shaped generator from the trainer (:data:`STAR`: 2 iterations, six classes, snapshots at 1 and 2).

    For the tools that render or judge conditional generators; its numbers mean nothing.
    """
    run = tmp_path_factory.mktemp("star") / "run"
    run_in_process("train", *STAR, run_dir=run)
    return run


@pytest.fixture(scope="session")
def star_checkpoint(star_run) -> Path:
    """``checkpoints/last.pt`` of :func:`star_run`."""
    return star_run / "checkpoints" / "last.pt"


@pytest.fixture(scope="session")
def prepared_splits(tmp_path_factory) -> Path:
    """The 10 evaluation splits of the tiny synthetic data (train and test sets)."""
    run = tmp_path_factory.mktemp("prepare")
    return Path(run_in_process("prepare", *TINY_DATA, run_dir=run).record.splits_dir)


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    """Files that are not generator checkpoints: a .pt of random tensors, a text file, a missing path."""
    folder = tmp_path_factory.mktemp("bad")
    torch.save({"weights": torch.zeros(3), "note": 1}, folder / "random.pt")
    (folder / "notes.txt").write_text("not a checkpoint\n")
    return {"random": folder / "random.pt", "text": folder / "notes.txt", "missing": folder / "nowhere.pt"}
