"""Bad config and bad data end a run at start-up with a clear message naming the culprit.

The cases run in-process (:func:`conftest.run_in_process`): each raises the error the entry
point turns into its message.  What the user then sees on the command line (that message on
stderr, exit status 1, no traceback) is checked once per entry point, in a subprocess, by
:func:`test_the_command_line_shows_one_clear_line_and_exits_1`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY, run_in_process, run_module
from hydra.errors import ConfigCompositionException
from torchvision.io import write_png

from biogans.core.errors import ConfigError, DataError


@pytest.mark.parametrize(
    ("override", "error", "expected"),
    [
        ("model.ngff=32", ConfigCompositionException, "ngff"),
        ("train.iterations=many", ConfigCompositionException, "train.iterations"),
        ("loss=wgam", ConfigCompositionException, "loss/wgam"),
        ("model.kind=starr", ConfigCompositionException, "model.kind"),
        ("optimizer.betas=0.5", ConfigCompositionException, "optimizer.betas"),
        ("+train.checkpoint_evry=5", ConfigError, "checkpoint_evry"),
    ],
)
def test_config_typos_fail_at_start_up_naming_the_key(tmp_path, monkeypatch, override, error, expected):
    cache = tmp_path / "cache"
    monkeypatch.setenv("BIOGANS_CACHE", str(cache))
    with pytest.raises(error) as exc:
        run_in_process("train", override, run_dir=tmp_path / "run")
    assert expected in str(exc.value)
    assert not cache.exists()  # failed before any data was made or read


def test_lin_without_root_says_what_to_give(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset\.root=PATH"):
        run_in_process("train", "dataset=lin", run_dir=tmp_path / "run")


def test_missing_data_root_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "LIN_train"
    with pytest.raises(DataError) as exc:
        run_in_process("train", "dataset=lin", f"dataset.root={missing}", run_dir=tmp_path / "run")
    assert str(missing) in str(exc.value)


def test_wrong_image_size_is_named(tmp_path):
    root = tmp_path / "lin"
    for cls in ("A", "B"):
        os.makedirs(root / cls)
        for i in range(10):
            write_png(torch.zeros(3, 48, 80, dtype=torch.uint8), str(root / cls / f"{i}.png"))
    bad = root / "B" / "7.png"
    write_png(torch.zeros(3, 40, 80, dtype=torch.uint8), str(bad))
    with pytest.raises(DataError) as exc:
        run_in_process("train", "dataset=lin", f"dataset.root={root}", run_dir=tmp_path / "run")
    assert str(bad) in str(exc.value) and "80x48" in str(exc.value)


def test_absent_class_lists_the_available_ones(tmp_path):
    with pytest.raises(ConfigError) as exc:
        run_in_process("train", *TINY, "dataset.classes=[Alp14,Tea5]", run_dir=tmp_path / "run")
    assert "Tea5" in str(exc.value) and "Tea4" in str(exc.value)


def test_batch_larger_than_the_data_is_named(tmp_path):
    with pytest.raises(DataError, match="batch of 1000"):
        run_in_process("train", *TINY, "train.batch_size=1000", run_dir=tmp_path / "run")


def test_cuda_asked_for_without_a_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="device=cuda"):
        run_in_process("train", *TINY[:-1], "device=cuda", run_dir=tmp_path / "run")


# --------------------------------------------------------------------------- the command line, once per tool

#: one bad input per entry point ({name} stands for a path of the test) and what stderr must say;
#: ``None`` as the prefix: Hydra's own composition error, printed by Hydra itself.  The error
#: policy is one function (biogans.cli.run_entry) whether the error comes from the check gate
#: or from deep in a task (the in-process tests assert that those are BiogansErrors), so each
#: tool gets a cheap check-gate case, one that fails before any check imports torch.
COMMAND_LINE_ERRORS = {
    "train": ("train", ["model.ngff=32"], None, ["ngff"]),
    "prepare": ("prepare", ["dataset=lin"], "prepare", ["dataset.root=PATH"]),
    "c2st": ("c2st", ["optimizer.lr=-1"], "c2st", ["optimizer.lr"]),
    "reconstruct": ("reconstruct", [], "reconstruct", ["generator=PATH is required"]),
    "interpolate": ("interpolate", [], "interpolate", ["generator=PATH is required"]),
    "bench": ("bench", ["repeats=0"], "bench", ["repeats"]),
}


@pytest.mark.parametrize("case", list(COMMAND_LINE_ERRORS))
def test_the_command_line_shows_one_clear_line_and_exits_1(case, tmp_path):
    """``python -m biogans.<tool>`` with a bad input: the message, exit status 1, no traceback.

    (``python -m biogans.report``, not a Hydra app, is checked the same way in tests/test_report.py.)
    """
    tool, overrides, prefix, expected = COMMAND_LINE_ERRORS[case]
    if not (ROOT / "biogans" / f"{tool}.py").is_file():
        pytest.skip(f"no biogans/{tool}.py in this checkout")
    paths: dict[str, Path] = {}
    cache = tmp_path / "cache"
    args = [o.format(**paths) for o in overrides]
    proc = run_module(tool, *args, f"hydra.run.dir={tmp_path / 'run'}", check=False, env={"BIOGANS_CACHE": str(cache)})
    assert proc.returncode == 1, (case, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, (case, proc.stderr[-2000:])
    for word in expected:
        assert word.format(**paths) in proc.stderr, (case, word, proc.stderr[-2000:])
    if prefix is not None:
        assert f"biogans.{prefix}: error: " in proc.stderr, (case, proc.stderr[-2000:])
    assert not cache.exists() or not any(Path(cache).rglob("*.png"))  # no data set was made for it
