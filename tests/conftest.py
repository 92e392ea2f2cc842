"""Shared test helpers: a private data cache, tiny settings, and ways to run the entry points.

Tests run the real entry points, either in a subprocess (``python -m biogans.train ...``,
exactly what a user types) or in-process through Hydra's compose API, always on the
built-in synthetic data made small, on CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"

#: small data and networks: every test run takes seconds on 2 cores
TINY_DATA = ["dataset.synthetic.n_train=48", "dataset.synthetic.n_test=24"]
TINY = [*TINY_DATA, "model.ngf=16", "model.ndf=16", "train.batch_size=8", "train.progress=false", "device=cpu"]


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


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


#: the run of the `trained_run` fixture: DCGAN + GAN, 150 iterations of batch 32 at half width
TRAINED = [*TINY_DATA, "model=dcgan", "loss=gan", "model.ngf=32", "model.ndf=32", "train.batch_size=32"]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A DCGAN trained for 150 GAN iterations on the tiny synthetic data (about 30 s on 2 cores).

    Its samples already look like cells (see test_train); snapshots at iterations 1 and 150
    give an almost untrained and a trained generator of the same run.
    """
    run = tmp_path_factory.mktemp("trained") / "run"
    run_module(
        "train", *TRAINED, "train.iterations=150", "train.checkpoint_at=[1,150]", "train.progress=false",
        "device=cpu", f"hydra.run.dir={run}",
    )  # fmt: skip
    return run


@pytest.fixture(scope="session")
def prepared_splits(tmp_path_factory) -> Path:
    """The 10 evaluation splits of the tiny synthetic data (train and test sets)."""
    run = tmp_path_factory.mktemp("prepare")
    run_module("prepare", *TINY_DATA, f"hydra.run.dir={run}")
    return Path(json.loads((run / "prepare.json").read_text())["splits_dir"])


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    """Files that are not generator checkpoints: a .pt of random tensors, a text file, a missing path."""
    folder = tmp_path_factory.mktemp("bad")
    torch.save({"weights": torch.zeros(3), "note": 1}, folder / "random.pt")
    (folder / "notes.txt").write_text("not a checkpoint\n")
    return {"random": folder / "random.pt", "text": folder / "notes.txt", "missing": folder / "nowhere.pt"}
