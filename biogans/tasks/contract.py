"""The task contract: how every tool runs, skips and resumes in a run directory.

A sweep (issue 10) launches the same tool over hundreds of run directories, again and
again as jobs die, time out or get preempted.  It relies on exactly this:

* :func:`run_task` reads the run directory's record first.  Done, with the same config:
  the recorded result comes back at once, nothing is recomputed.  Another config's
  result: refused, naming every key that differs (``loss.name: 'gan' -> 'wgangp'``).
  Otherwise the record is written ``running`` (with the config), the task's
  ``run(cfg, run_dir)`` does the work, and the record it returns is written ``done``; an
  error writes ``failed`` with its message (and is raised again), a stop signal or Ctrl-C
  ``interrupted``.  Training resumes from ``checkpoints/last.pt`` (the trainer does that);
  the other tools simply start again and overwrite their partial files.
* :func:`job_state` answers "what would run_task do here?" from the record file alone, with
  no torch import and no computation, so a launcher can ask it for every job of a grid.

What "the same config" means: the resolved configs (``biogans.config.as_plain``) are
compared key by key, except the keys of :data:`NEVER_MATTER`; and a training run may be
continued by raising ``train.iterations`` (:data:`EXTENDABLE`).
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from biogans.config import as_plain
from biogans.core.errors import BiogansError, ConfigError
from biogans.core.records import RECORD_CLASSES, Record, read_record, record_path, write_record

log = logging.getLogger(__name__)

#: tool -> the module whose ``run(cfg, run_dir)`` does its work
TASKS = {
    "train": "biogans.tasks.training",
    "prepare": "biogans.tasks.splitting",
    "c2st": "biogans.tasks.two_sample",
    "reconstruct": "biogans.tasks.reconstruction",
    "interpolate": "biogans.tasks.movie",
    "report": "biogans.tasks.reporting",
    "bench": "biogans.tasks.benchmark",
}

#: Config keys (dotted, as in an override) that never change what a task computes, so a
#: rerun that differs only in them is the same run: how progress is shown (``progress``),
#: where the work runs (``device``: a job requeued on another node or on a CPU is the same
#: experiment; the numbers agree up to float rounding), and how often a run logs, writes
#: ``last.pt`` or sample grids along the way (resume is exact at any iteration, and the
#: final iteration always gets a checkpoint and a grid).
NEVER_MATTER = frozenset(
    {
        "progress",
        "train.progress",
        "device",
        "train.log_every",
        "train.checkpoint_every",
        "train.sample_every",
    }
)

#: tool -> the one key that may be raised to continue a finished run (a longer training)
EXTENDABLE = {"train": "train.iterations"}

#: tools rebuilt on every call: their inputs are other runs' records, not their config
ALWAYS_RUN = frozenset({"report"})

#: What :func:`job_state` may say about a job.
STATES = ("done", "running", "interrupted", "failed", "missing", "conflict")

_ABSENT = "<absent>"


@dataclass(frozen=True)
class JobState:
    """The state of one job: ``state`` (one of :data:`STATES`), a line of detail, the record's path."""

    state: str
    detail: str
    record_path: Path


def plain_config(cfg: Any) -> dict[str, Any]:
    """The resolved config as plain data, the form records keep (enums as their values)."""
    return as_plain(cfg)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"iterations": 5}}`` -> ``{"train.iterations": 5}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def config_changes(
    tool: str, old: dict[str, Any], new: dict[str, Any], finished: bool = True
) -> tuple[list[str], bool]:
    """The keys that matter and differ (as ``"key: old -> new"``), and whether ``new``
    extends a run of ``old`` (raises its :data:`EXTENDABLE` key).

    A run that has not finished (interrupted, failed, running) may also be given a lower
    target: it has produced no final result yet, and the trainer stops at (or reports
    having passed) whatever target it is given."""
    a, b = flatten(old), flatten(new)
    changes, extends = [], False
    for key in sorted(set(a) | set(b)):
        before, after = a.get(key, _ABSENT), b.get(key, _ABSENT)
        if key in NEVER_MATTER or before == after:
            continue
        if EXTENDABLE.get(tool) == key and isinstance(before, int) and isinstance(after, int):
            if after > before:
                extends = True
                continue
            if not finished:
                continue
        hint = " (a run can only be extended)" if EXTENDABLE.get(tool) == key else ""
        changes.append(f"{key}: {before!r} -> {after!r}{hint}")
    return changes, extends


def _verdict(tool: str, record: Record, config: dict[str, Any], run_dir: Path) -> tuple[str, str]:
    """("conflict" | "done" | "extend" | "redo", detail) for a run directory holding ``record``."""
    if record.config is None:
        if tool != "train":  # the trainer checks its checkpoint against the config itself
            return "conflict", (
                f"{record_path(run_dir, tool)} was written by an older biogans ({record.V1_FORMAT or 'untagged v1'}) "
                "and does not record its config: remove it to run here again, or give a fresh run directory"
            )
        wanted = flatten(config).get(EXTENDABLE["train"])
        done = record.status == "done" and isinstance(wanted, int) and getattr(record, "iteration", 0) >= wanted
        return ("done" if done else "redo"), "an older biogans's record (config not recorded)"
    changes, extends = config_changes(tool, record.config, config, finished=record.status == "done")
    if changes:
        return "conflict", (
            f"{run_dir} holds a {tool} run of another config ({'; '.join(changes)}); "
            "give a fresh run directory (hydra.run.dir=...) or the settings of that run"
        )
    if record.status == "done" and extends:
        return "extend", f"{EXTENDABLE[tool]} raised to {flatten(config)[EXTENDABLE[tool]]}: continues"
    return ("done" if record.status == "done" else "redo"), ""


def _progress(record: Record) -> str:
    iteration = getattr(record, "iteration", None)
    iterations = getattr(record, "iterations", None)
    return f"at iteration {iteration} of {iterations}" if iteration is not None and iterations else ""


def job_state(tool: str, cfg: Any, run_dir: str | Path) -> JobState:
    """What :func:`run_task` would find in ``run_dir`` (no computation; reads one small file)."""
    _module_name(tool)
    run_dir = Path(run_dir)
    path = record_path(run_dir, tool)
    if not path.is_file():
        return JobState("missing", f"no {path.name} in {run_dir}", path)
    try:
        record = read_record(path, tool)
    except BiogansError as exc:
        return JobState("conflict", str(exc), path)
    verdict, detail = _verdict(tool, record, plain_config(cfg), run_dir)
    progress = _progress(record)
    if verdict == "conflict":
        return JobState("conflict", detail, path)
    if verdict == "done":
        return JobState("done", ", ".join(x for x in ("done", progress) if x), path)
    if verdict == "extend":
        return JobState("interrupted", f"done {progress}; {detail}", path)
    if record.status == "running":
        age = time.time() - path.stat().st_mtime
        return JobState("running", ", ".join(x for x in (progress, f"record written {age:.0f} s ago") if x), path)
    if record.status == "failed":
        return JobState("failed", record.error or "failed (no message recorded)", path)
    return JobState("interrupted", progress or "interrupted", path)


def run_task(tool: str, cfg: Any, run_dir: str | Path) -> Record:
    """Run ``tool`` with ``cfg`` in ``run_dir`` under the contract of the module docstring; the record."""
    module = importlib.import_module(_module_name(tool))
    run_dir = Path(run_dir)
    if tool in ALWAYS_RUN:
        return module.run(cfg, run_dir)
    config = plain_config(cfg)
    path = record_path(run_dir, tool)
    old = read_record(path, tool) if path.is_file() else None
    if old is not None:
        verdict, detail = _verdict(tool, old, config, run_dir)
        if verdict == "conflict":
            raise ConfigError(detail)
        if verdict == "done":
            log.info("%s: %s is done with this config; returning its record, nothing recomputed", tool, path)
            return old
        if detail:
            log.info("%s: %s", tool, detail)
    cls = RECORD_CLASSES[tool]
    # a training run keeps its progress in the record while it resumes; the others start afresh
    start = replace(old, status="running", config=config, error=None) if tool == "train" and old else cls()
    write_record(run_dir, replace(start, status="running", config=config, error=None))
    try:
        record = module.run(cfg, run_dir)
    except (KeyboardInterrupt, SystemExit) as exc:
        _finish(tool, run_dir, config, "interrupted", type(exc).__name__)
        raise
    except BaseException as exc:
        message = str(exc) if isinstance(exc, BiogansError) else f"{type(exc).__name__}: {exc}"
        _finish(tool, run_dir, config, "failed", message)
        raise
    if not isinstance(record, cls):
        raise TypeError(f"{module.__name__}.run returned {type(record).__name__}, not a {cls.__name__}")
    status = "interrupted" if record.status == "interrupted" else "done"
    record = replace(record, status=status, config=config, error=record.error if status != "done" else None)
    write_record(run_dir, record)
    return record


def _finish(tool: str, run_dir: Path, config: dict[str, Any], status: str, error: str) -> None:
    """Mark the record ``status`` with ``error``, keeping what the task wrote meanwhile (training
    progress, and its own account of the same ending, such as which signal stopped it)."""
    path = record_path(run_dir, tool)
    try:
        current = read_record(path, tool) if path.is_file() else RECORD_CLASSES[tool]()
    except BiogansError:
        current = RECORD_CLASSES[tool]()
    if current.status == status and current.error:
        error = current.error
    write_record(run_dir, replace(current, status=status, config=config, error=error))


def _module_name(tool: str) -> str:
    if tool not in TASKS:
        raise ConfigError(f"unknown tool {tool!r}; the tools are {', '.join(TASKS)}")
    return TASKS[tool]
