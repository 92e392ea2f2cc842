"""The task contract (biogans.tasks.contract): every tool runs, skips and resumes the same way.

Each tool is run in-process on tiny settings through :func:`run_task`, then run again:
done with the same config, the record comes back at once and no file in the run
directory changes; another config is refused naming the keys; a failure leaves a
``failed`` record with its error; a non-train tool starts again cleanly; a training run
resumes or is extended.  :func:`job_state` says the same without computing anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY, TINY_DATA, typed

from biogans.core.errors import BiogansError, ConfigError
from biogans.core.records import C2STRecord, TrainRecord, read_record, write_record
from biogans.tasks.contract import NEVER_MATTER, config_changes, job_state, plain_config, run_task

C2ST = ["mode=real_vs_real", "classes=[Alp14,Tea1]", "iterations=3", "batch_size=8", "ndf=16", "eval_passes=1",
        "progress=false", "device=cpu", *TINY_DATA]  # fmt: skip
TRAIN = [*TINY, "train.iterations=2", "train.checkpoint_at=[1]"]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # torch's default two threads crawl when the other core is busy
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_checkpoint(dcgan_run) -> Path:
    """A generator to evaluate (the session's 2-iteration DCGAN): its numbers do not matter, only that the tools run."""
    return dcgan_run / "checkpoints" / "last.pt"


def mtimes(run_dir: Path) -> dict[str, int]:
    return {str(p.relative_to(run_dir)): p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}


def rerun_is_free(tool: str, cfg, run_dir: Path, first) -> None:
    """Run again: the same record at once, and not one file of the run directory touched."""
    before = mtimes(run_dir)
    started = time.perf_counter()
    again = run_task(tool, cfg, run_dir)
    assert time.perf_counter() - started < 1.0
    assert again == first and again.status == "done" and mtimes(run_dir) == before
    assert job_state(tool, cfg, run_dir).state == "done"


# --------------------------------------------------------------------------- each tool: done means done
def test_c2st_rerun_refusal_and_keys_that_never_matter(prepared_splits, tmp_path):
    cfg = typed("c2st", C2ST)
    assert job_state("c2st", cfg, tmp_path).state == "missing"
    first = run_task("c2st", cfg, tmp_path)
    assert isinstance(first, C2STRecord) and first.status == "done" and first.config == plain_config(cfg)
    assert read_record(tmp_path / "c2st.json") == first
    rerun_is_free("c2st", cfg, tmp_path, first)
    # where it runs and how progress shows change nothing: the same run
    rerun_is_free("c2st", typed("c2st", [*C2ST, "progress=true", "device=auto"]), tmp_path, first)
    other = typed("c2st", [*C2ST, "split=1", "loss=gan"])
    with pytest.raises(ConfigError) as exc:
        run_task("c2st", other, tmp_path)
    message = str(exc.value)
    assert str(tmp_path) in message and "split: 0 -> 1" in message and "loss.name: 'wgangp' -> 'gan'" in message
    state = job_state("c2st", other, tmp_path)
    assert state.state == "conflict" and "split: 0 -> 1" in state.detail
    assert read_record(tmp_path / "c2st.json") == first  # refused: nothing written


def test_failed_run_records_its_error_then_restarts_cleanly(prepared_splits, tmp_path):
    bad = typed("c2st", [*C2ST, "classes=[Alp14,Nope]"])
    with pytest.raises(BiogansError, match="Nope"):
        run_task("c2st", bad, tmp_path)
    record = read_record(tmp_path / "c2st.json")
    assert record.status == "failed" and "Nope" in record.error and record.config == plain_config(bad)
    state = job_state("c2st", bad, tmp_path)
    assert state.state == "failed" and "Nope" in state.detail
    # a failed (or interrupted) run of the same config is simply run again, its record replaced
    good = typed("c2st", C2ST)
    write_record(tmp_path, C2STRecord(status="interrupted", config=plain_config(good), error="KeyboardInterrupt"))
    assert job_state("c2st", good, tmp_path).state == "interrupted"
    done = run_task("c2st", good, tmp_path)
    assert done.status == "done" and done.error is None and read_record(tmp_path / "c2st.json") == done


def test_reconstruct_and_interpolate_reruns_return_the_record(tiny_checkpoint, prepared_splits, tmp_path):
    ckpt = tiny_checkpoint
    rec_cfg = typed("reconstruct", [f"generator={ckpt}", "max_images_per_class=1", "trials=1", "steps=1",
                                    "max_iter=2", "classes=[Tea1]", "progress=false", "device=cpu", *TINY_DATA])  # fmt: skip
    first = run_task("reconstruct", rec_cfg, tmp_path / "rec")
    assert first.status == "done" and first.classes == ["Tea1"] and (tmp_path / "rec" / "panels" / "Tea1.png").is_file()
    rerun_is_free("reconstruct", rec_cfg, tmp_path / "rec", first)
    movie_cfg = typed("interpolate", [f"generator={ckpt}", "steps=3", "device=cpu"])
    movie = run_task("interpolate", movie_cfg, tmp_path / "movie")
    assert movie.status == "done" and movie.frames == 5 and (tmp_path / "movie" / "cell_cycle.gif").is_file()
    rerun_is_free("interpolate", movie_cfg, tmp_path / "movie", movie)
    with pytest.raises(ConfigError, match="steps: 3 -> 4"):
        run_task(
            "interpolate", typed("interpolate", [f"generator={ckpt}", "steps=4", "device=cpu"]), tmp_path / "movie"
        )


def test_prepare_rerun_returns_the_record(tmp_path):
    cfg = typed("prepare", [*TINY_DATA, "n_splits=2", f"dataset.splits_dir={tmp_path / 'splits'}"])
    first = run_task("prepare", cfg, tmp_path / "run")
    assert first.status == "done" and first.n_splits == 2 and sorted(first.sets) == ["test", "train"]
    assert sorted(p.name for p in (tmp_path / "splits" / "train").iterdir()) == ["split_0.json", "split_1.json"]
    rerun_is_free("prepare", cfg, tmp_path / "run", first)


def test_train_rerun_extension_resume_and_refusal(tmp_path):
    cfg = typed("train", TRAIN)
    first = run_task("train", cfg, tmp_path)
    assert isinstance(first, TrainRecord) and (first.status, first.iteration) == ("done", 2)
    rerun_is_free("train", cfg, tmp_path, first)
    rerun_is_free("train", typed("train", [*TRAIN, "train.log_every=1", "train.progress=true"]), tmp_path, first)
    # another model or loss: refused, naming the keys
    with pytest.raises(ConfigError) as exc:
        run_task("train", typed("train", [*TRAIN, "model.ngf=32"]), tmp_path)
    assert "model.ngf: 16 -> 32" in str(exc.value)
    with pytest.raises(ConfigError, match=r"train.iterations: 2 -> 1 \(a run can only be extended\)"):
        run_task("train", typed("train", [*TRAIN, "train.iterations=1"]), tmp_path)
    # more iterations continue the run from its checkpoint
    longer = typed("train", [*TRAIN, "train.iterations=3"])
    state = job_state("train", longer, tmp_path)
    assert state.state == "interrupted" and "train.iterations raised to 3" in state.detail
    snapshot = (tmp_path / "checkpoints" / "iter_0000001.pt").stat().st_mtime_ns
    extended = run_task("train", longer, tmp_path)
    assert (extended.status, extended.iteration, extended.iterations) == ("done", 3, 3)
    assert (tmp_path / "checkpoints" / "iter_0000001.pt").stat().st_mtime_ns == snapshot  # resumed, not redone
    assert extended.config == plain_config(longer)
    # a run killed mid-way (its record still says running) resumes from last.pt
    write_record(tmp_path, TrainRecord(**{**vars(extended), "status": "running"}))
    assert job_state("train", longer, tmp_path).state == "running"
    assert run_task("train", longer, tmp_path).status == "done"


def test_job_state_reads_one_file_and_no_torch(tmp_path):
    """A launcher asks for hundreds of jobs: no torch, no computation, one small file each."""
    code = f"""
import sys, time
from biogans.config import C2STConfig, C2STMode
from biogans.tasks.contract import job_state
cfg = C2STConfig(mode=C2STMode.real_vs_real)
started = time.perf_counter()
states = [job_state("c2st", cfg, {str(tmp_path)!r} + f"/job{{i}}").state for i in range(200)]
print(sorted(set(states)), "torch" in sys.modules, f"{{time.perf_counter() - started:.3f}}")
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ}).stdout.split()  # fmt: skip
    assert out[:2] == ["['missing']", "False"], out
    assert float(out[2]) < 2.0  # 200 jobs (measured: a few ms)


def test_an_older_record_without_its_config_is_not_overwritten(prepared_splits, tmp_path):
    v1 = {"format": "biogans-c2st-v1", "mode": "real_vs_real", "score": -1.0, "loss": "wgangp", "split": 0,
          "a": {"set": "train", "classes": ["Alp14"]}, "b": {"set": "test", "classes": ["Tea1"]}}  # fmt: skip
    (tmp_path / "c2st.json").write_text(json.dumps(v1))
    cfg = typed("c2st", C2ST)
    with pytest.raises(ConfigError, match="written by an older biogans .* does not record its config"):
        run_task("c2st", cfg, tmp_path)
    assert job_state("c2st", cfg, tmp_path).state == "conflict"


def test_config_changes_ignore_only_the_listed_keys():
    old = {"train": {"iterations": 5, "log_every": 10, "batch_size": 8}, "device": "cpu", "model": {"ngf": 16}}
    new = {"train": {"iterations": 9, "log_every": 1, "batch_size": 8}, "device": "cuda", "model": {"ngf": 16}}
    assert config_changes("train", old, new) == ([], True)  # extended; log_every and device never matter
    assert config_changes("c2st", old, new) == (["train.iterations: 5 -> 9"], False)  # only train extends
    assert config_changes("c2st", {"a": 1}, {"b": 1}) == (["a: 1 -> '<absent>'", "b: '<absent>' -> 1"], False)
    assert {"progress", "device", "train.log_every"} <= NEVER_MATTER


def test_an_unfinished_training_run_may_be_given_a_lower_target_but_a_finished_one_may_not():
    old, new = {"train": {"iterations": 400}}, {"train": {"iterations": 14}}
    assert config_changes("train", old, new, finished=False) == ([], False)
    changes, extends = config_changes("train", old, new, finished=True)
    assert changes == ["train.iterations: 400 -> 14 (a run can only be extended)"] and not extends
