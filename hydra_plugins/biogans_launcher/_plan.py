"""What a sweep has to do: each job's directory and state, decided before anything is launched.

The launchers of this package call :func:`plan_sweep` with the job list Hydra's sweeper
made.  For every job it composes the job's config exactly as the job itself will
(``config_loader.load_sweep_config``), works out the job's run directory from
``hydra.sweep.dir``/``hydra.sweep.subdir``, and asks the task contract
(:func:`biogans.tasks.contract.job_state`) what is there.  The answer decides the action:

==============  ===============================================================  =========
state           meaning                                                          action
==============  ===============================================================  =========
done            the record says done, with this config                           skip
queued          its SLURM job (from an earlier launch) is still pending/running  skip
missing         never run                                                        run
interrupted     stopped by a signal (preempted, timed out, Ctrl-C): resumes      run
running         the record says running but nothing runs it any more             run
failed          failed before; listed with its log                               hold, or run
                                                                                 with
                                                                                 retry_failed
waiting         its input checkpoint (``generator=``) does not exist yet         wait
conflict        the directory holds a run of another config                      refuse
==============  ===============================================================  =========

Nothing here writes a file: a sweep refused for bad input (a job whose config does not
compose, two jobs sharing a directory) leaves no trace a rerun could misread.  The
launcher writes ``<sweep dir>/sweep.json`` (:class:`Manifest`) once jobs are launched: the
list of jobs with their overrides, logs and SLURM ids, which ``python -m
biogans.sweep_status`` and later launches read.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.errors import CompactHydraException, HydraException
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

log = logging.getLogger("biogans.sweep")

MANIFEST = "sweep.json"
#: manifest key prefix of a job that waits for its input and was not composed (no directory yet)
WAITING_KEY = "waiting: "
MANIFEST_FORMAT = "biogans-sweep-v1"

#: actions, in the order a summary lists them
ACTIONS = ("run", "skip", "hold", "wait", "refuse")
#: a summary lists at most this many jobs of one state (all the failed ones)
LIST_PER_STATE = 20
#: the states a finished launch can leave, in the order a summary lists them
STATE_ORDER = ("done", "queued", "running", "interrupted", "missing", "failed", "waiting", "conflict")


class SweepError(CompactHydraException):
    """The sweep cannot be launched as asked (bad input); nothing was submitted or written."""


class SweepIncomplete(CompactHydraException):
    """The sweep ran, but some jobs failed or were refused (listed in the message)."""


@dataclass
class Job:
    """One job of a sweep, as planned and then as finished."""

    num: int
    overrides: list[str]
    dir: Path
    sweep_dir: Path
    state: str = "missing"
    detail: str = ""
    action: str = "run"
    #: the checkpoint the job reads (``generator=``), if any
    input: str | None = None
    #: log files worth opening when the job failed
    logs: list[str] = field(default_factory=list)
    #: the SLURM job id of its latest submission (``123_4`` for array task 4)
    slurm_job: str | None = None
    #: the config handed to the contract (kept from planning to read the state again after the run)
    cfg: Any = field(default=None, repr=False, compare=False)
    #: a job waiting for its input, not composed (its directory is not known yet)
    uncomposed: bool = False

    @property
    def name(self) -> str:
        if self.uncomposed:
            return f"{WAITING_KEY}{' '.join(self.overrides)}"
        try:
            return str(self.dir.relative_to(self.sweep_dir))
        except ValueError:
            return str(self.dir)

    def line(self) -> str:
        """One line for the summary: state, directory, then what to know about it."""
        parts = [_one_line(self.detail)] if self.detail else []
        if self.slurm_job and self.state in ("queued", "running", "failed"):
            parts.insert(0, f"slurm job {self.slurm_job}")
        if self.state in ("failed", "conflict") and self.logs:
            parts.append(f"log: {', '.join(self.logs)}")
        where = f"{self.sweep_dir}: {' '.join(self.overrides)}" if self.uncomposed else str(self.dir)
        return f"  {self.state:<11} {where}" + (f"  ({'; '.join(parts)})" if parts else "")


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------- manifest
class Manifest:
    """``<sweep dir>/sweep.json``: every job a launch of this sweep has seen, by directory.

    Kept across launches (entries of jobs not in the current job list stay), so a status
    view lists waiting and failed jobs as well as those that left a record.
    """

    def __init__(self, sweep_dir: Path, tool: str, jobs: dict[str, dict[str, Any]] | None = None) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.tool = tool
        self.jobs: dict[str, dict[str, Any]] = jobs or {}

    @property
    def path(self) -> Path:
        return self.sweep_dir / MANIFEST

    @classmethod
    def load(cls, sweep_dir: str | Path, tool: str | None = None) -> Manifest:
        """The manifest of ``sweep_dir``; an empty one if there is none or it is unreadable."""
        path = Path(sweep_dir) / MANIFEST
        try:
            data = json.loads(path.read_text())
            if data.get("format") != MANIFEST_FORMAT or not isinstance(data.get("jobs"), dict):
                raise ValueError(f"not a {MANIFEST_FORMAT} file")
        except FileNotFoundError:
            return cls(Path(sweep_dir), tool or "")
        except (OSError, ValueError) as exc:
            log.warning("ignoring %s: %s", path, exc)
            return cls(Path(sweep_dir), tool or "")
        return cls(Path(sweep_dir), str(data.get("tool") or tool or ""), data["jobs"])

    def update(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            if not job.uncomposed:  # it has a directory now: forget it as a placeholder
                self.jobs.pop(f"{WAITING_KEY}{' '.join(job.overrides)}", None)
            self.jobs[job.name] = {
                "num": job.num,
                "overrides": list(job.overrides),
                "state": job.state,
                "detail": job.detail,
                "input": os.path.abspath(job.input) if job.input else None,
                "logs": list(job.logs),
                "slurm_job": job.slurm_job,
                "dir": None if job.uncomposed else str(job.dir),
                "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }

    def save(self) -> Path:
        from biogans.core.files import write_json

        data = {"format": MANIFEST_FORMAT, "tool": self.tool, "sweep_dir": str(self.sweep_dir), "jobs": self.jobs}
        write_json(self.path, data)
        return self.path


# ------------------------------------------------------------------------- composition
def job_input(task_cfg: DictConfig) -> str | None:
    """The checkpoint a job reads (``generator=``), or None for tools without one."""
    value = OmegaConf.select(task_cfg, "generator", default=None, throw_on_missing=False)
    if value is None or str(value) in ("", "???"):
        return None
    return str(value)


def typed_config(tool: str, task_cfg: DictConfig) -> Any:
    """The job's config as the entry point hands it to the contract (typed and checked).

    The entry points' own conversion (:func:`biogans.cli.typed_config`), so that the state
    asked about is the state the job will see, and a config the job would refuse (a value
    out of range, an unknown key) refuses the sweep before anything is launched.
    """
    from biogans import cli

    convert = getattr(cli, "typed_config", None)
    return convert(task_cfg) if convert is not None else task_cfg  # job_state takes a DictConfig too


@contextmanager
def job_config(
    loader: Any, master: DictConfig, overrides: Sequence[str], num: int
) -> Iterator[tuple[DictConfig, Path, Path]]:
    """(the job's task config, its run directory, its sweep directory), composed as the job will be.

    While the ``with`` block runs, Hydra's config is this job's (with its output directory),
    so ``${hydra:...}`` in the task config resolves as it will in the job.  One composition,
    no copy: a 2,000-job grid is planned in the time Hydra takes to compose it.
    """
    from hydra.core.hydra_config import HydraConfig

    config = loader.load_sweep_config(master, list(overrides))
    with open_dict(config):
        config.hydra.job.num = num
        config.hydra.job.id = f"plan_{num}"
    previous = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(config)
    try:
        sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir")))
        job_dir = sweep_dir / str(OmegaConf.select(config, "hydra.sweep.subdir"))
        current = HydraConfig.instance().cfg
        with read_write(current.hydra.runtime), open_dict(current.hydra.runtime):
            current.hydra.runtime.output_dir = os.path.abspath(job_dir)
        with read_write(config), open_dict(config):
            del config["hydra"]
        yield config, job_dir, sweep_dir
    finally:
        HydraConfig.instance().cfg = previous


# ------------------------------------------------------------------------------ planning
def plan_sweep(
    *,
    tool: str,
    loader: Any,
    master: DictConfig,
    job_overrides: Sequence[Sequence[str]],
    initial_job_idx: int,
    retry_failed: bool,
    log_files: Callable[[Job], list[str]],
    alive: Callable[[Sequence[str]], set[str]] | None = None,
) -> list[Job]:
    """Compose every job and decide what to do with it (see the module docstring).

    ``alive(slurm_ids)`` names the SLURM jobs still pending or running (SLURM launcher
    only); ``log_files(job)`` the logs of a job that ran here.  Raises :class:`SweepError`,
    with nothing written, when a job's config does not compose or two jobs would share a
    run directory.
    """
    from biogans.core.errors import BiogansError
    from biogans.tasks.contract import job_state

    jobs: list[Job] = []
    manifests: dict[Path, Manifest] = {}
    started = time.time()
    for offset, overrides in enumerate(job_overrides):
        num = initial_job_idx + offset
        overrides = list(overrides)
        what = f"job #{num} ({' '.join(overrides)})"
        missing = missing_input(overrides)
        if missing is not None:  # waits for a checkpoint: no need to compose it (figure 8 has 1,980 jobs)
            sweep_dir = Path(str(OmegaConf.select(master, "hydra.sweep.dir")))
            job = Job(num=num, overrides=overrides, dir=sweep_dir, sweep_dir=sweep_dir, input=missing, uncomposed=True)
            job.state, job.action, job.detail = "waiting", "wait", f"its input {missing} does not exist yet"
            jobs.append(job)
            continue
        try:
            with job_config(loader, master, overrides, num) as (task_cfg, job_dir, sweep_dir):
                job = Job(num=num, overrides=overrides, dir=job_dir, sweep_dir=sweep_dir, input=job_input(task_cfg))
                manifest = manifests.get(sweep_dir)
                if manifest is None:
                    manifest = manifests[sweep_dir] = Manifest.load(sweep_dir, tool)
                before = manifest.jobs.get(job.name, {})
                job.slurm_job = before.get("slurm_job")
                job.logs = list(before.get("logs") or [])
                if job.input is not None and not Path(job.input).exists():
                    job.state, job.action = "waiting", "wait"
                    job.detail = f"its input {job.input} does not exist yet"
                    jobs.append(job)
                    continue
                job.cfg = typed_config(tool, task_cfg)
                state = job_state(tool, job.cfg, job_dir)
        except (HydraException, OmegaConfBaseException) as exc:  # they name the config and the option
            raise SweepError(f"{what} cannot be composed: {exc}") from None
        except BiogansError as exc:
            raise SweepError(f"{what}: {exc}") from None
        job.state, job.detail = state.state, state.detail
        _decide(job, before, retry_failed)
        jobs.append(job)
    _refuse_shared_dirs(jobs)
    if alive is not None:
        _mark_queued(jobs, alive)
    for job in jobs:
        if job.action == "run" and not job.logs:
            job.logs = log_files(job)
    log.info("planned %d jobs in %.1f s", len(jobs), time.time() - started)
    return jobs


def missing_input(overrides: Sequence[str]) -> str | None:
    """The ``generator=`` path of a job's overrides if it plainly does not exist (else None).

    Only literal paths are judged here; one with an interpolation is left to the composed
    config (:func:`job_input`).
    """
    for line in overrides:
        key, sep, value = line.partition("=")
        if sep and key.lstrip("+") == "generator":
            value = value.strip().strip("'\"")
            if not value or "${" in value or value in ("null", "None"):
                return None
            return None if Path(value).exists() else value
    return None


def _decide(job: Job, before: dict[str, Any], retry_failed: bool) -> None:
    """Set ``job.action`` from ``job.state`` (and what an earlier launch learnt about the job)."""
    state = job.state
    if state == "running" and before.get("state") == "failed":
        # the record still says running because the job died without a word (SIGKILL, out of
        # memory, node failure); the launch that saw it die knew better
        job.state, state = "failed", "failed"
        job.detail = before.get("detail") or "died without writing its record"
    if state == "done":
        job.action = "skip"
    elif state == "conflict":
        job.action = "refuse"
    elif state == "failed":
        job.action = "run" if retry_failed else "hold"
    else:  # missing, interrupted, running (stale unless its SLURM job is alive: see _mark_queued)
        job.action = "run"


def _mark_queued(jobs: list[Job], alive: Callable[[Sequence[str]], set[str]]) -> None:
    """Jobs of an earlier launch whose SLURM job is still pending or running are left alone."""
    candidates = [j for j in jobs if j.slurm_job and j.action in ("run", "hold") and j.state != "done"]
    if not candidates:
        return
    living = alive([str(j.slurm_job) for j in candidates])
    for job in candidates:
        if job.slurm_job in living:
            job.state, job.action = "queued", "skip"
            job.detail = "pending or running in SLURM (submitted by an earlier launch)"


def _refuse_shared_dirs(jobs: list[Job]) -> None:
    seen: dict[Path, Job] = {}
    for job in jobs:
        if job.uncomposed:
            continue
        other = seen.setdefault(job.dir.resolve(), job)
        if other is not job:
            raise SweepError(
                f"jobs #{other.num} ({' '.join(other.overrides)}) and #{job.num} ({' '.join(job.overrides)}) "
                f"would both write into {job.dir}: hydra.sweep.subdir must tell them apart "
                "(add the swept key to it, e.g. 'hydra.sweep.subdir=${hydra.runtime.choices.experiment}/seed${seed}')"
            )


# ------------------------------------------------------------------------------- summary
def summary(jobs: Sequence[Job], title: str, retry_failed: bool = False) -> str:
    """A count per state, then one line per job that is not plainly done."""
    counts = Counter(j.state for j in jobs)
    order = [s for s in STATE_ORDER if counts[s]] + sorted(s for s in counts if s not in STATE_ORDER)
    parts = ", ".join(f"{counts[s]} {s}" for s in order)
    lines = [f"{title}: {len(jobs)} jobs: {parts}" if jobs else f"{title}: no jobs"]
    lines.extend(listing([(j.state, j.line()) for j in jobs if j.state != "done"]))
    held = [j for j in jobs if j.action == "hold"]
    if held and not retry_failed:
        lines.append(
            f"  {len(held)} failed job(s) not rerun: fix the cause, then add hydra.launcher.retry_failed=true to rerun them"
        )
    waiting = [j for j in jobs if j.state == "waiting"]
    if waiting:
        lines.append(f"  {len(waiting)} job(s) wait for checkpoints that do not exist yet: run this again once they do")
    return "\n".join(lines)


def listing(lines: Sequence[tuple[str, str]], per_state: int = LIST_PER_STATE) -> list[str]:
    """``(state, line)`` pairs, at most ``per_state`` lines of each state (failed ones all)."""
    shown: Counter = Counter()
    out, hidden = [], Counter()
    for state, line in lines:
        if state in ("failed", "conflict") or shown[state] < per_state:
            out.append(line)
            shown[state] += 1
        else:
            hidden[state] += 1
    out.extend(f"  ... and {n} more {state}" for state, n in hidden.items())
    return out


def finish(jobs: Sequence[Job], title: str, launched: bool = True) -> None:
    """Log the final summary (unless nothing was launched: the plan's said it all); raise
    :class:`SweepIncomplete` if any job failed or was refused."""
    text = summary(jobs, title)
    bad = [j for j in jobs if j.state in ("failed", "conflict")]
    if bad:
        if launched:
            log.error("%s", text)
        raise SweepIncomplete(
            f"{len(bad)} of {len(jobs)} jobs failed or were refused:\n"
            + "\n".join(j.line() for j in bad)
            + "\n(python -m biogans.sweep_status "
            + " ".join(sorted({str(j.sweep_dir) for j in jobs}))
            + " shows every job)"
        )
    if launched:
        log.info("%s", text)


def save_manifests(jobs: Sequence[Job], tool: str) -> list[Path]:
    """Record ``jobs`` in the manifest of each sweep directory they belong to."""
    by_dir: dict[Path, list[Job]] = {}
    for job in jobs:
        by_dir.setdefault(job.sweep_dir, []).append(job)
    paths = []
    for sweep_dir, group in by_dir.items():
        manifest = Manifest.load(sweep_dir, tool)
        manifest.tool = tool
        manifest.update(group)
        paths.append(manifest.save())
    return paths


def refresh(job: Job, tool: str) -> None:
    """Read a job's state again after it ran (its record is the truth, not its return value)."""
    from biogans.tasks.contract import job_state

    state = job_state(tool, job.cfg, job.dir)
    job.state, job.detail = state.state, state.detail


def states(jobs: Iterable[Job]) -> dict[str, int]:
    return dict(Counter(j.state for j in jobs))
