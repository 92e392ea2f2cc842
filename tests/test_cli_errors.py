"""Bad config and bad data end a run at start-up with a clear message naming the culprit."""

from __future__ import annotations

import os

import pytest
import torch
from conftest import TINY, run_module
from torchvision.io import write_png


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.ngff=32", "ngff"),
        ("train.iterations=many", "train.iterations"),
        ("loss=wgam", "loss/wgam"),
        ("model.kind=starr", "model.kind"),
        ("optimizer.betas=0.5", "optimizer.betas"),
        ("+train.checkpoint_evry=5", "checkpoint_evry"),
    ],
)
def test_config_typos_fail_at_start_up_naming_the_key(tmp_path, override, expected):
    cache = tmp_path / "cache"
    proc = run_module(
        "train", override, f"hydra.run.dir={tmp_path / 'run'}", check=False, env={"BIOGANS_CACHE": str(cache)}
    )
    assert proc.returncode != 0
    assert expected in proc.stderr
    assert not cache.exists()  # failed before any data was made or read


def test_lin_without_root_says_what_to_give(tmp_path):
    proc = run_module("train", "dataset=lin", f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert proc.returncode == 1 and "dataset.root=PATH" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_data_root_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "LIN_train"
    proc = run_module(
        "train", "dataset=lin", f"dataset.root={missing}", f"hydra.run.dir={tmp_path / 'run'}", check=False
    )
    assert proc.returncode == 1 and str(missing) in proc.stderr and "Traceback" not in proc.stderr


def test_wrong_image_size_is_named(tmp_path):
    root = tmp_path / "lin"
    for cls in ("A", "B"):
        os.makedirs(root / cls)
        for i in range(10):
            write_png(torch.zeros(3, 48, 80, dtype=torch.uint8), str(root / cls / f"{i}.png"))
    bad = root / "B" / "7.png"
    write_png(torch.zeros(3, 40, 80, dtype=torch.uint8), str(bad))
    proc = run_module("train", "dataset=lin", f"dataset.root={root}", f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert proc.returncode == 1 and str(bad) in proc.stderr and "80x48" in proc.stderr


def test_absent_class_lists_the_available_ones(tmp_path):
    proc = run_module("train", *TINY, "dataset.classes=[Alp14,Tea5]", f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert proc.returncode == 1 and "Tea5" in proc.stderr and "Tea4" in proc.stderr


def test_batch_larger_than_the_data_is_named(tmp_path):
    proc = run_module("train", *TINY, "train.batch_size=1000", f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert proc.returncode == 1 and "batch of 1000" in proc.stderr


def test_cuda_asked_for_without_a_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    proc = run_module("train", *TINY[:-1], "device=cuda", f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert proc.returncode == 1 and "device=cuda" in proc.stderr
